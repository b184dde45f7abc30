#include "den/config.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include "den/toml.h"

#include "den/error.h"
#include "den/fs.h"
#include "den/log.h"
#include "embedded_conf.h"

namespace den {

namespace {

template <typename T>
void get(const toml::table& t, std::string_view section, std::string_view key, T& out, const std::string& origin) {
  // Dotted sections ("storage.options.overlay") are nested tables; an empty
  // section is the top level (registries.conf has no sections).
  std::string path = section.empty() ? std::string(key) : std::string(section) + "." + std::string(key);
  const toml::node* n = t.at_path(path).node();
  if (!n) return;
  if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    const toml::array* arr = n->as_array();
    if (!arr) throw Error(fmt::format("{}: [{}] {} must be an array of strings", origin, section, key), Errc::Invalid);
    out.clear();
    for (const auto& e : *arr) {
      auto s = e.value<std::string>();
      if (!s) throw Error(fmt::format("{}: [{}] {} must be an array of strings", origin, section, key), Errc::Invalid);
      out.push_back(*s);
    }
  } else {
    auto v = n->value<T>();
    if (!v)
      throw Error(fmt::format("{}: [{}] {} has the wrong type", origin, section, key), Errc::Invalid);
    out = *v;
  }
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

}  // namespace

std::vector<std::string> config_search_path(std::string_view kind, const std::string& config_home) {
  std::string k(kind);
  return {std::string(DEN_SYSCONFDIR) + "/" + k, config_home + "/den/" + k};
}

void apply_toml(Config& cfg, std::string_view kind, std::string_view text, const std::string& origin) {
  toml::table t;
  try {
    t = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    throw Error(fmt::format("{}:{}:{}: {}", origin, e.source().begin.line, e.source().begin.column, e.description()),
                Errc::Invalid);
  }
  if (kind == "den.conf") {
    get(t, "engine", "cgroup_manager", cfg.cgroup_manager, origin);
    get(t, "engine", "log_level", cfg.log_level, origin);
    get(t, "engine", "helper_binaries_dir", cfg.helper_binaries_dir, origin);
    int64_t pc = cfg.image_parallel_copies;
    get(t, "engine", "image_parallel_copies", pc, origin);
    if (pc < 0 || pc > 64) throw Error(fmt::format("{}: image_parallel_copies must be 0..64", origin), Errc::Invalid);
    cfg.image_parallel_copies = pc == 0 ? 6 : static_cast<int>(pc);  // 0: containers/image's default
    int64_t cs = static_cast<int64_t>(cfg.push_chunk_size);
    get(t, "engine", "push_chunk_size", cs, origin);
    if (cs < 0) throw Error(fmt::format("{}: push_chunk_size must be 0 or a number of bytes", origin), Errc::Invalid);
    cfg.push_chunk_size = static_cast<uint64_t>(cs);
    get(t, "containers", "log_driver", cfg.log_driver, origin);
    int64_t st = cfg.stop_timeout;
    get(t, "containers", "stop_timeout", st, origin);
    cfg.stop_timeout = static_cast<int>(st);
    get(t, "network", "default_rootless_network_cmd", cfg.network_cmd, origin);
  } else if (kind == "storage.conf") {
    get(t, "storage", "driver", cfg.storage_driver, origin);
    get(t, "storage", "graphroot", cfg.graphroot, origin);
    get(t, "storage", "runroot", cfg.runroot, origin);
    get(t, "storage.options.overlay", "mount_program", cfg.mount_program, origin);
    get(t, "storage.options.overlay", "force_mount_program", cfg.force_mount_program, origin);
  }
}

void check_runtime_dir(const std::string& dir, uid_t uid) {
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) throw sys_error(fmt::format("runtime directory {}", dir));
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) throw sys_error(fmt::format("create runtime directory {}", dir));
    if (::lstat(dir.c_str(), &st) != 0) throw sys_error(fmt::format("runtime directory {}", dir));
  }
  if (!S_ISDIR(st.st_mode))
    throw Error(fmt::format("runtime directory {} is not a directory: remove it or set XDG_RUNTIME_DIR to a directory you own", dir));
  if (st.st_uid != uid)
    throw Error(fmt::format(
        "runtime directory {} is owned by uid {}, not by you (uid {}): set XDG_RUNTIME_DIR to a directory you own "
        "(e.g. log in with a fresh session, or unset it to use /tmp/den-{})",
        dir, st.st_uid, uid, uid));
  if ((st.st_mode & 077) != 0 && dir.rfind("/tmp/den-", 0) == 0)
    throw Error(fmt::format("runtime directory {} is accessible by other users (mode {:o}): run 'chmod 700 {}'", dir,
                            st.st_mode & 07777, dir));
}

Config load_config(const ConfigOverrides& o) {
  Config cfg;
  cfg.uid = ::geteuid();
  cfg.gid = ::getegid();
  cfg.rootless = cfg.uid != 0;
  if (struct passwd* pw = ::getpwuid(cfg.uid)) {
    cfg.user_name = pw->pw_name;
    cfg.home = pw->pw_dir;
  }
  cfg.home = env_or("HOME", cfg.home);
  const std::string config_home = env_or("XDG_CONFIG_HOME", cfg.home + "/.config");

  struct Source {
    std::string_view kind;
    std::string_view embedded;
  };
  const Source sources[] = {{"den.conf", embedded::den_conf}, {"storage.conf", embedded::storage_conf}};
  for (const auto& s : sources) {
    std::string kind(s.kind);
    // The installed defaults win over the compiled-in copy when present.
    std::string shipped = std::string(DEN_DATADIR) + "/" + kind;
    if (auto text = read_file_if_exists(shipped)) {
      apply_toml(cfg, kind, *text, shipped);
      cfg.files_read.push_back(shipped);
    } else {
      apply_toml(cfg, kind, s.embedded, "(built-in " + kind + ")");
    }
    for (const std::string& path : config_search_path(kind, config_home)) {
      if (auto text = read_file_if_exists(path)) {
        apply_toml(cfg, kind, *text, path);
        cfg.files_read.push_back(path);
      }
    }
    // $CONTAINERS_CONF (as podman's, a containers.conf-style file) comes last:
    // a script can set one key for one command without touching the user's
    // files. A name that cannot be read is an error rather than silence.
    if (const char* extra = std::getenv("CONTAINERS_CONF"); kind == "den.conf" && extra && *extra) {
      auto text = read_file_if_exists(extra);
      if (!text) throw Error(fmt::format("CONTAINERS_CONF: {}: no such file", extra), Errc::Invalid);
      apply_toml(cfg, kind, *text, extra);
      cfg.files_read.push_back(extra);
    }
  }

  if (cfg.graphroot.empty()) {
    if (cfg.rootless)
      cfg.graphroot = env_or("XDG_DATA_HOME", cfg.home + "/.local/share") + "/den";
    else
      cfg.graphroot = "/var/lib/den";
  }
  if (cfg.runroot.empty()) {
    if (cfg.rootless) {
      const char* xdg = std::getenv("XDG_RUNTIME_DIR");
      if (xdg && *xdg) {
        check_runtime_dir(xdg, cfg.uid);
        cfg.runroot = std::string(xdg) + "/den";
      } else {
        std::string base = fmt::format("/tmp/den-{}", cfg.uid);
        check_runtime_dir(base, cfg.uid);
        cfg.runroot = base + "/den";
      }
    } else {
      cfg.runroot = "/run/den";
    }
  }
  if (!o.root.empty()) cfg.graphroot = o.root;
  if (!o.runroot.empty()) cfg.runroot = o.runroot;
  if (!o.storage_driver.empty()) cfg.storage_driver = o.storage_driver;
  if (!o.cgroup_manager.empty()) cfg.cgroup_manager = o.cgroup_manager;
  if (cfg.cgroup_manager != "auto" && cfg.cgroup_manager != "systemd" && cfg.cgroup_manager != "cgroupfs")
    throw Error(fmt::format("unknown cgroup manager \"{}\": use \"systemd\", \"cgroupfs\" or \"auto\"",
                            cfg.cgroup_manager),
                Errc::Invalid);
  if (cfg.storage_driver != "overlay" && cfg.storage_driver != "vfs")
    throw Error(fmt::format("unknown storage driver \"{}\": use \"overlay\" or \"vfs\"", cfg.storage_driver),
                Errc::Invalid);
  return cfg;
}

}  // namespace den
