// The command table and its docker-style argument parser (pflag semantics:
// combined short flags "-itd", "-p8080", "--flag=value", repeated flags,
// "--bool=false", "--" and, for commands like run/exec/unshare, everything
// after the first positional argument left untouched for the container).
// Hand written rather than CLI11: pflag's rules and docker's help layout are
// what scripts and users expect, and they are simpler to match directly.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "den/cgroup.h"
#include "den/config.h"
#include "den/fs.h"
#include "den/container.h"
#include "den/store.h"
#include "den/template.h"

namespace den::cli {

enum class OptKind { Bool, Value, List };

struct Option {
  std::string name;        // long name without dashes: "all"
  char short_name = 0;     // 'a'
  OptKind kind = OptKind::Bool;
  std::string value_type;  // shown in help: "string", "filter", "list"
  std::string help;
  std::string default_text;  // shown in help as (default ...)
  bool hidden = false;
};

struct Args {
  std::map<std::string, std::vector<std::string>> values;
  std::vector<std::string> positional;

  bool has(const std::string& name) const { return values.count(name) > 0; }
  bool flag(const std::string& name) const;
  std::string value(const std::string& name, const std::string& def = "") const;
  std::vector<std::string> list(const std::string& name) const;
};

struct GlobalOptions {
  ConfigOverrides overrides;
  std::string log_level;
};

class Context {
 public:
  std::string prog = "den";  // "docker" when invoked through a docker symlink
  GlobalOptions global;

  const Config& config();
  Store& store();
  // Rootless: enter den's user namespace (must happen before any thread).
  void enter_userns();

 private:
  std::optional<Config> config_;
  std::unique_ptr<Store> store_;
};

struct Command {
  // Every spelling: {"images"}, {"image", "ls"}, {"image", "list"}.
  std::vector<std::vector<std::string>> paths;
  std::string usage;    // after the command path: "[OPTIONS] [REPOSITORY[:TAG]]"
  std::string summary;  // one line
  std::string example;
  std::vector<Option> options;
  bool stop_at_positional = false;
  int min_args = 0;
  int max_args = -1;  // -1: any
  std::function<int(Context&, const Args&)> run;
  bool hidden = false;  // not listed in help (internal commands)
  std::string notes;    // the man page's NOTES section (rules the summary cannot hold)
};

// NOTES shared by several commands' man pages (table.cpp).
extern const char* const kNotesTarEntries;    // device nodes, hard links: load, pull, import, volume import, cp
extern const char* const kNotesMetadataSize;  // the 4 MiB cap on manifests, indexes, configs: load, pull
extern const char* const kNotesFormat;        // streaming output, Go's printf width rules: --format

// Management command groups shown in help ("image", "container", "system").
struct Group {
  std::string name;
  std::string summary;
};

// Registered by each command family file.
void register_system_commands(std::vector<Command>& table);
void register_image_commands(std::vector<Command>& table);
void register_transfer_commands(std::vector<Command>& table);
void register_container_commands(std::vector<Command>& table);
void register_exec_commands(std::vector<Command>& table);
void register_container_fs_commands(std::vector<Command>& table);
void register_volume_commands(std::vector<Command>& table);  // volume ..., cp
void register_registry_commands(std::vector<Command>& table);
void register_completion_commands(std::vector<Command>& table);
void register_network_commands(std::vector<Command>& table);
void register_pod_commands(std::vector<Command>& table);  // cmd_pods.cpp
void register_kube_commands(std::vector<Command>& table);  // cmd_kube.cpp

// run/create networking flags (cmd_network.cpp): --network, --add-host,
// --dns*, --mac-address, --network-alias, --link; then -p/-P/--expose
// (host ports checked and random ones chosen).
void apply_network_flags(Context& ctx, const Args& a, ContainerConfig& c);
void apply_publish_flags(Context& ctx, const Args& a, ContainerConfig& c);
void register_resource_commands(std::vector<Command>& table);

// ---- resource limits (cmd_resources.cpp) -------------------------------------

// The limit flags of run/create (all) or update (for_update).
std::vector<Option> resource_options(bool for_update);
// The limit flags given in `a` over `base`, checked (validate_resources).
Resources resources_from_flags(const Args& a, Resources base);
// c.resources and the cgroup options from the flags; refuses limits the host
// cannot apply, with the fix, before anything is created.
void resource_config_from_flags(const Config& cfg, const Args& a, ContainerConfig& c);

// The image for run/create under a --pull policy (always, missing, newer,
// never): from the store, or pulled (rootless, this enters den's user
// namespace). Progress to stderr unless quiet.
ImageRecord pull_if_needed(Context& ctx, const std::string& image, const std::string& policy, bool quiet);

// `den create ARGS...` (flags, IMAGE, command) without printing: the same
// checks, image pull, volumes and bind sources as the command. `adjust` may
// change the config before it is stored. Nothing is left when it fails.
struct CreatedContainer {
  ContainerConfig config;
  std::vector<std::string> new_volumes;  // volumes made for it (named on first use, anonymous)
};
CreatedContainer create_container_from_args(Context& ctx, const std::vector<std::string>& args,
                                            const std::function<void(ContainerConfig&)>& adjust = {});

const std::vector<Command>& command_table();
const std::vector<Group>& groups();

// Parses argv[first..] for `cmd` (its options plus the global ones).
// Throws den::Error(Errc::Invalid) with docker's wording.
Args parse_args(const Command& cmd, const std::vector<std::string>& argv, size_t first, const std::string& cmd_name,
                const std::string& prog);
// The global options, accepted before the command and by every command.
const std::vector<Option>& global_options();
// --version/-v, accepted only before the command.
const Option& version_option();

// The "Options:" block of a help page.
std::string options_help(const std::vector<Option>& opts);
std::string command_help(const Command& cmd, const std::string& name, const std::string& prog);
std::string main_help(const std::string& prog);
std::string group_help(const std::string& group, const std::string& prog);
// roff man pages: den(1) and one per command (den-image-ls.1 ...), keyed by
// file name. man/ in the source tree holds their current output.
std::vector<std::pair<std::string, std::string>> man_pages();

// ---- environment (docker's -e / --env-file rules; cmd_exec.cpp) -------------

// Sets KEY=VALUE in env; "KEY" alone takes the host's value (or nothing).
void add_env(std::vector<std::string>& env, const std::string& kv);
// KEY=VALUE lines of an env file; '#' comments and blank lines skipped.
std::vector<std::string> read_env_file(const std::string& path);

// ---- attach (cmd_exec.cpp) ----------------------------------------------------

// Relays between den's stdio and a container monitor's attach stream (raw
// terminal with -t, detach keys, signal proxy, resize). Returns the
// container's exit code, -1 when the user detached, -2 when the monitor went
// away without an exit frame, 128+N when signal N ended the client.
int attach_session(int fd, bool tty, bool send_stdin, bool close_stdin_at_eof, pid_t container_pid, bool sig_proxy,
                   const std::string& detach_keys);

// ---- output helpers (output.cpp) -------------------------------------------

// Aligns tab-separated cells like Go's tabwriter with docker's settings
// (minwidth 10, padding 3).
std::string tabwrite(const std::vector<std::string>& lines);

// docker's --format handling for list commands: "table ..." with headers,
// "json" (one JSON object per line), or a Go template per row. `headers`
// maps field names to column titles.
void print_formatted(const std::string& format, const Json& header, const std::vector<Json>& rows,
                     const TemplateMethods* methods = nullptr);

// {{.Label "key"}} on list rows whose "Labels" is "k=v,k2=v2" (ps, volume
// ls, network ls); in a table header, docker's title for the column.
const TemplateMethods& label_method();

// For inspect-like commands: a JSON array (4-space indented, like docker), or
// the template applied to each item.
// `shapes`, when given, has one entry per item: the Go types of its
// objects (GoShape in den/template.h; null: all maps).
void print_inspect(const std::string& format, const std::vector<Json>& items,
                   const std::vector<const GoShape*>& shapes = {});

// Writes to stdout, throwing on EPIPE-free errors.
void out(std::string_view s);

// "2024-05-01 10:20:30 +0000 UTC", as Go prints a time.Time.
std::string go_time_string(int64_t unix_nanos);

// Fails unless stdout is not a terminal ("cowardly refusing ...").
bool stdout_is_terminal();
// Where an archive command (save, export, volume export) writes: stdout
// ("" or "-"; refused when it is a terminal), or the file -o names. That file
// is written as PATH.den-tmp-PID beside it and renamed over PATH by commit()
// (after fsync); destroyed without commit() (a failure), the temp file is
// removed, so a failed command leaves no file and an old PATH untouched.
class ArchiveOutput {
 public:
  explicit ArchiveOutput(const std::string& path);
  ~ArchiveOutput();
  ArchiveOutput(const ArchiveOutput&) = delete;
  ArchiveOutput& operator=(const ArchiveOutput&) = delete;
  int fd() const;
  void commit();

 private:
  std::string path_, tmp_;
  UniqueFd file_;
};

}  // namespace den::cli
