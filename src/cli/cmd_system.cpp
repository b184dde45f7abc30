// version, info, unshare.
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "cli.h"
#include "den/cgroup.h"
#include "den/error.h"
#include "den/fs.h"
#include "den/host_info.h"
#include "den/network.h"
#include "den/image_archive.h"
#include "den/log.h"
#include "den/strings.h"
#include "den/template.h"
#include "den/registries.h"
#include "den/userns.h"

namespace den::cli {

namespace {

constexpr const char* kApiVersion = "1.41";

int cmd_version(Context& ctx, const Args& a) {
  (void)ctx;
  Json client = {{"Version", DEN_VERSION},      {"ApiVersion", kApiVersion}, {"GoVersion", "none (C++20)"},
                 {"GitCommit", ""},             {"Built", __DATE__ " " __TIME__},
                 {"Os", "linux"},               {"Arch", host_arch()},       {"OsArch", "linux/" + host_arch()}};
  Json v = {{"Client", client}, {"Server", client}};
  if (a.has("format")) {
    print_inspect(a.value("format"), {v});
    return 0;
  }
  out(fmt::format("Client:       den\nVersion:      {}\nAPI Version:  {}\nBuilt:        {}\nOS/Arch:      linux/{}\n",
                  DEN_VERSION, kApiVersion, client["Built"].get<std::string>(), host_arch()));
  return 0;
}

Json idmaps_json(const std::vector<IdMap>& maps) {
  Json arr = Json::array();
  for (const auto& m : maps) arr.push_back({{"ContainerID", m.container_id}, {"HostID", m.host_id}, {"Size", m.size}});
  return arr;
}

Json info_json(Context& ctx) {
  const Config& cfg = ctx.config();
  CgroupInfo cg = probe_cgroups();
  CgroupSupport cgs = probe_cgroup_support(cfg.cgroup_manager);
  HelperProgram fuse = probe_program(cfg, "fuse-overlayfs");
  HelperProgram slirp = probe_program(cfg, "slirp4netns");
  HelperProgram pasta = probe_program(cfg, "pasta");
  HelperProgram newuidmap{"newuidmap", find_program(cfg, "newuidmap"), ""};

  Json idmappings = Json::object();
  std::string idmap_error;
  if (cfg.rootless) {
    try {
      IdMappings m = rootless_id_mappings(cfg);
      idmappings = {{"UIDMap", idmaps_json(m.uids)}, {"GIDMap", idmaps_json(m.gids)}};
    } catch (const Error& e) {
      idmap_error = e.what();
    }
  }
  size_t nimages = ctx.store().images().size();
  Json host;
  host["Arch"] = host_arch();
  host["Hostname"] = [] {
    char h[256] = {0};
    ::gethostname(h, sizeof h - 1);
    return std::string(h);
  }();
  host["Kernel"] = kernel_release();
  host["OS"] = "linux";
  host["Distribution"] = os_pretty_name();
  host["Security"] = {{"Rootless", cfg.rootless}};
  host["CgroupsVersion"] = cg.layout == "v2" ? "v2" : "v1";
  host["CgroupLayout"] = cg.layout;
  host["CgroupManager"] = cgs.manager;
  // The controllers delegated to the user (where den's cgroups go), and
  // whether limits work here (with the fix when not).
  host["CgroupControllers"] = cgs.problem.empty() ? cgs.controllers : cg.controllers;
  host["CgroupLimits"] = cgs.problem.empty() ? "available" : cgs.problem + "; " + cgroup_fix_hint(cgs);
  host["IDMappings"] = idmappings;
  if (!idmap_error.empty()) host["IDMappingsError"] = idmap_error;
  host["NetworkBackend"] = cfg.network_cmd;
  host["Slirp4NetNS"] = {{"Executable", slirp.path}, {"Version", slirp.version}};
  host["Pasta"] = {{"Executable", pasta.path}, {"Version", pasta.version}};
  if (std::string ping = ping_group_problem(); !ping.empty()) host["PingWarning"] = ping;
  host["FuseOverlayFS"] = {{"Executable", fuse.path}, {"Version", fuse.version}};
  host["NewUIDMap"] = newuidmap.path;
  host["LogDriver"] = cfg.log_driver;
  // Scripts written for docker may set DOCKER_HOST to reach a daemon; den
  // has none, so it runs locally whatever the variable says. Saying so here
  // beats a silent surprise.
  if (const char* dh = std::getenv("DOCKER_HOST"); dh && *dh)
    host["DockerHostIgnored"] = fmt::format("DOCKER_HOST is set ({}) but den has no daemon; it is ignored", dh);

  std::string driver_note = cfg.storage_driver == "overlay"
                                ? (cfg.force_mount_program ? "fuse-overlayfs" : "native overlay, fuse-overlayfs fallback")
                                : "vfs";
  Json store;
  RegistriesConf registries = load_registries_conf(cfg);
  std::vector<std::string> files = cfg.files_read;
  for (const auto& f : registries.files_read)
    if (f.rfind("(built-in", 0) != 0) files.push_back(f);
  store["ConfigFiles"] = files;
  store["GraphRoot"] = cfg.graphroot;
  store["RunRoot"] = cfg.runroot;
  store["GraphDriverName"] = cfg.storage_driver;
  store["GraphOptions"] = {{"MountProgram", cfg.mount_program}, {"Mode", driver_note}};
  store["ImageStore"] = {{"Number", nimages}};

  Json j;
  j["Host"] = host;
  j["Store"] = store;
  j["Registries"] = {{"Search", registries.search}, {"ShortNameMode", registries.short_name_mode}};
  j["Version"] = {{"Version", DEN_VERSION}, {"APIVersion", kApiVersion}, {"OsArch", "linux/" + host_arch()}};
  // docker's top-level names, for scripts written against `docker info`.
  j["Driver"] = cfg.storage_driver;
  j["DockerRootDir"] = cfg.graphroot;
  j["Images"] = nimages;
  j["Containers"] = 0;
  j["ServerVersion"] = DEN_VERSION;
  j["OperatingSystem"] = host["Distribution"];
  j["OSType"] = "linux";
  j["Architecture"] = host_arch();
  j["KernelVersion"] = host["Kernel"];
  j["CgroupVersion"] = cg.layout == "v2" ? "2" : "1";
  j["CgroupDriver"] = cgs.manager;
  j["Name"] = host["Hostname"];
  return j;
}

// The key podman 4 prints in `podman info` for a Go field name.
std::string podman_key(const std::string& key) {
  static const std::pair<const char*, const char*> names[] = {
      {"CgroupsVersion", "cgroupVersion"}, {"IDMappings", "idMappings"}, {"UIDMap", "uidmap"},
      {"GIDMap", "gidmap"},               {"ContainerID", "container_id"}, {"HostID", "host_id"},
      {"Slirp4NetNS", "slirp4netns"},     {"OS", "os"},                 {"APIVersion", "APIVersion"},
      {"FuseOverlayFS", "fuseOverlayFS"}, {"NewUIDMap", "newuidmap"},   {"OsArch", "OsArch"}};
  for (const auto& [go, yamlkey] : names)
    if (key == go) return yamlkey;
  std::string k = key;
  if (!k.empty()) k[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(k[0])));
  return k;
}

// Podman-style YAML rendering for people, with podman's key names.
void yaml(const Json& j, int indent, std::string& outs) {
  std::string pad(static_cast<size_t>(indent), ' ');
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string key = podman_key(it.key());
    const Json& v = it.value();
    if (v.is_object()) {
      outs += pad + key + ":" + (v.empty() ? " {}\n" : "\n");
      yaml(v, indent + 2, outs);
    } else if (v.is_array()) {
      if (v.empty()) {
        outs += pad + key + ": []\n";
        continue;
      }
      outs += pad + key + ":\n";
      for (const auto& e : v) {
        if (e.is_object()) {
          std::string sub;
          yaml(e, indent + 4, sub);
          sub.replace(static_cast<size_t>(indent), 2, "- ");
          outs += sub;
        } else {
          outs += pad + "- " + (e.is_string() ? e.get<std::string>() : e.dump()) + "\n";
        }
      }
    } else {
      outs += pad + key + ": " + (v.is_string() ? v.get<std::string>() : v.dump()) + "\n";
    }
  }
}

int cmd_info(Context& ctx, const Args& a) {
  Json j = info_json(ctx);
  std::string format = a.value("format");
  if (format == "json" || format == "{{json .}}") {
    out(j.dump(4) + "\n");
    return 0;
  }
  if (!format.empty()) {
    print_inspect(format, {j});
    return 0;
  }
  Json human;
  human["Host"] = j["Host"];
  human["Registries"] = j["Registries"];
  human["Store"] = j["Store"];
  human["Version"] = j["Version"];
  std::string s;
  yaml(human, 0, s);
  out(s);
  return 0;
}

int cmd_unshare(Context& ctx, const Args& a) {
  const Config& cfg = ctx.config();
  ctx.enter_userns();
  // A private mount namespace, as podman unshare gives: mounts made inside
  // (e.g. of a layer) vanish with the command.
  if (::unshare(CLONE_NEWNS) != 0) throw sys_error("unshare(CLONE_NEWNS)");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) throw sys_error("make / a slave mount");
  ::setenv("DEN_GRAPHROOT", cfg.graphroot.c_str(), 1);
  ::setenv("DEN_RUNROOT", cfg.runroot.c_str(), 1);
  ::setenv("CONTAINERS_GRAPHROOT", cfg.graphroot.c_str(), 1);
  std::vector<std::string> cmd = a.positional;
  if (cmd.empty()) {
    const char* shell = std::getenv("SHELL");
    cmd.push_back(shell && *shell ? shell : "/bin/sh");
  }
  std::vector<char*> argv;
  for (auto& s : cmd) argv.push_back(s.data());
  argv.push_back(nullptr);
  log::debug("unshare: exec {} at {:.2f} ms", cmd[0], log::uptime_ms());
  ::execvp(argv[0], argv.data());
  int e = errno;
  throw sys_error(fmt::format("exec {}", cmd[0]), e)
      .with_exit_code(e == ENOENT ? kExitNotFound : kExitCannotInvoke);
}

// Stops den's pause process (podman's `system migrate`): the next call maps
// a new user namespace, e.g. after /etc/subuid changed.
int cmd_system_migrate(Context& ctx, const Args&) {
  const Config& cfg = ctx.config();
  if (cfg.rootless && stop_pause_process(cfg)) log::debug("stopped den-pause");
  return 0;
}

// Writes den's man pages into a directory (used to refresh man/).
int cmd_generate_man(Context&, const Args& a) {
  for (const auto& [file, text] : man_pages()) write_file_atomic(a.positional[0] + "/" + file, text);
  return 0;
}

}  // namespace

void register_system_commands(std::vector<Command>& t) {
  t.push_back({{{"version"}},
               "[OPTIONS]",
               "Show the den version information",
               "den version\nden version --format '{{.Client.Version}}'",
               {{"format", 'f', OptKind::Value, "string", "Format output using a Go template", ""}},
               false, 0, 0, cmd_version});
  t.push_back({{{"info"}, {"system", "info"}},
               "[OPTIONS]",
               "Display system-wide information",
               "den info\nden info --format '{{.Store.GraphRoot}}'\nden info --format json",
               {{"format", 'f', OptKind::Value, "string", "Format output using a Go template or 'json'", ""}},
               false, 0, 0, cmd_info});
  t.push_back({{{"unshare"}},
               "[OPTIONS] [COMMAND [ARG...]]",
               "Run a command in den's user namespace (root inside, the store's files as containers see them)",
               "den unshare id -u\nden unshare ls -ln ~/.local/share/den/layers",
               {},
               true, 0, -1, cmd_unshare});
  t.push_back({{{"system", "migrate"}},
               "",
               "Stop den's pause process, so that the next command uses the current subordinate id ranges",
               "den system migrate",
               {},
               false, 0, 0, cmd_system_migrate});
  Command man{{{"generate-man-pages"}}, "DIR", "Write den's man pages into DIR", "", {}, false, 1, 1, cmd_generate_man};
  man.hidden = true;
  t.push_back(man);
}

}  // namespace den::cli
