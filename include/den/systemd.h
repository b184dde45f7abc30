// den in systemd's world, without a daemon of its own:
// - sd_notify: the monitor tells systemd (Type=notify units) that the
//   container runs (--sdnotify=conmon: MAINPID=<monitor> and READY=1), or
//   hands NOTIFY_SOCKET to the container (--sdnotify=container);
// - unit files for `den generate systemd`;
// - Quadlet: ~/.config/containers/systemd/*.container|.volume|.network files
//   turned into .service units by `den quadlet generate`, which the systemd
//   generator shim in contrib/systemd/ runs on daemon-reload.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "den/container.h"

namespace den {

struct RunPlan;

// ---- sd_notify ------------------------------------------------------------------

// Sends `msg` ("READY=1\nMAINPID=42") to $NOTIFY_SOCKET (a path or an
// abstract "@name"). False when the variable is unset or the send failed.
bool sd_notify(std::string_view msg);
// --sdnotify=container: binds the host's notify socket into the container at
// /run/notify/notify.sock and sets NOTIFY_SOCKET there. No-op without
// $NOTIFY_SOCKET. Throws for an abstract socket (it cannot be bound).
void add_notify_socket(RunPlan& plan, const ContainerConfig& c);

// ---- systemd unit text --------------------------------------------------------------

// One word of an Exec= line, quoted as systemd parses it ($, quotes,
// backslashes and spaces escaped; % too unless `specifiers`: Quadlet values
// keep systemd's %N, %h, ... as podman's do).
std::string systemd_quote(std::string_view word, bool specifiers = false);
std::string systemd_command_line(const std::vector<std::string>& argv, bool specifiers = false);

struct GenerateOptions {
  bool new_container = false;    // --new: the unit creates (and removes) the container
  bool use_name = false;         // --name: unit named after the container name, not its ID
  std::string restart_policy = "on-failure";
  int restart_sec = -1;          // -1: systemd's default
  int stop_timeout = -1;         // -1: the container's
  std::string prefix = "container";
  std::string separator = "-";
  bool header = true;
  std::string den_path;          // absolute path of den for Exec lines
  // den's global options the container's store needs (--root=..., --runroot=...,
  // --storage-driver=..., --cgroup-manager=...), put after den_path on every
  // Exec line so the unit finds the same store.
  std::vector<std::string> global_args;
  // With new_container: `den run` arguments that recreate the container
  // (the original flags minus detach/rm/restart/name/..., then image and
  // command), computed by the CLI from the create command.
  std::vector<std::string> run_args;
};

struct UnitFile {
  std::string name;  // "container-web.service"
  std::string text;
};
// Throws Errc::Invalid for a bad restart policy.
UnitFile generate_systemd_unit(const ContainerConfig& c, const GenerateOptions& o);

// ---- Quadlet ----------------------------------------------------------------------------

// A parsed systemd-style INI file, sections and keys in file order.
struct IniEntry {
  std::string key, value;
  int line = 0;
};
struct IniSection {
  std::string name;
  int line = 0;
  std::vector<IniEntry> entries;
};
// Parses systemd unit syntax (comments, line continuations with '\').
// Throws Errc::Invalid "FILE:LINE: ...".
std::vector<IniSection> parse_unit_file(const std::string& file, const std::string& text);
// Splits a value into words as systemd does (quotes, backslash escapes).
std::vector<std::string> split_unit_words(const std::string& value);

struct QuadletFile {
  std::string name;  // "web.container"
  std::string path;
};

// Converts one Quadlet file (.container, .volume, .network, .pod, .kube) to
// a service unit. `file` is its path (used in errors as FILE:LINE and in
// SourcePath=). `all`, the Quadlet files found with it, resolves references
// (Network=x.network, Volume=x.volume:/d, Pod=x.pod) to the names their
// files give and finds a pod's member containers; without it the default
// names (systemd-x) are used. Throws Errc::Invalid naming the file and line
// for unknown keys, a missing Image=/Yaml= and other bad input.
UnitFile quadlet_convert(const std::string& file, const std::string& text, const std::string& den_path,
                         const std::vector<QuadletFile>* all = nullptr);

// Where Quadlet files are looked for: rootless ~/.config/containers/systemd
// ($XDG_CONFIG_HOME), /etc/containers/systemd/users/$UID,
// /etc/containers/systemd/users; as root /etc/containers/systemd,
// /usr/share/containers/systemd. The first file of a name wins.
std::vector<std::string> quadlet_dirs(bool user);
std::vector<QuadletFile> find_quadlet_files(bool user);
// The service unit name a Quadlet file becomes: web.container ->
// web.service, data.volume -> data-volume.service.
std::string quadlet_unit_name(const std::string& file_name);

}  // namespace den
