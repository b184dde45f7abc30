// den's effective configuration: the shipped TOML defaults (conf/*.conf,
// compiled in and installed to /usr/share/den), overridden key by key by
// /etc/den/<file> and then ~/.config/den/<file> ($XDG_CONFIG_HOME), then by
// $CONTAINERS_CONF (den.conf keys), then by command-line flags. `den info`
// prints the result and the files read. (registries.conf and auth.json are
// read by den/registries.h.)
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

namespace den {

struct Config {
  // [engine]
  std::string cgroup_manager = "auto";  // auto | systemd | cgroupfs
  std::string log_level = "warn";
  std::vector<std::string> helper_binaries_dir;
  int image_parallel_copies = 6;   // layers pulled at once (containers/image's default)
  uint64_t push_chunk_size = 0;    // bytes per PATCH of a blob upload; 0: one request per blob
  // [containers]
  std::string log_driver = "k8s-file";
  int stop_timeout = 10;
  // [network]
  std::string network_cmd = "slirp4netns";
  // storage.conf [storage]
  std::string storage_driver = "overlay";
  std::string graphroot;  // resolved (never empty after load_config)
  std::string runroot;    // resolved (never empty after load_config)
  // [storage.options.overlay]
  std::string mount_program = "/usr/bin/fuse-overlayfs";
  bool force_mount_program = false;

  bool rootless = true;  // geteuid() != 0
  uid_t uid = 0;
  gid_t gid = 0;
  std::string user_name;
  std::string home;
  // Files that were read, in order (for `den info`).
  std::vector<std::string> files_read;
};

// Applies one TOML document (text) of the given kind ("den.conf",
// "storage.conf") over cfg. Throws den::Error(Errc::Invalid) naming `origin`
// and the line on syntax errors or wrongly typed values.
void apply_toml(Config& cfg, std::string_view kind, std::string_view text, const std::string& origin);

// The files read, in this order, over the shipped defaults of `kind`
// (without $CONTAINERS_CONF, which load_config reads last).
std::vector<std::string> config_search_path(std::string_view kind, const std::string& config_home);

struct ConfigOverrides {
  std::string root;
  std::string runroot;
  std::string storage_driver;
  std::string cgroup_manager;
};

// Loads defaults + files, resolves paths (XDG rules, /tmp/den-UID fallback
// with ownership checks), applies overrides. Does not create the store.
Config load_config(const ConfigOverrides& o = {});

// Checks (and creates 0700 when missing) the rootless runtime directory base:
// it must be owned by the user and not accessible by others. Throws with an
// explanation otherwise.
void check_runtime_dir(const std::string& dir, uid_t uid);

}  // namespace den
