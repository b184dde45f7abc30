// `den system check --host`: is this host set up for rootless containers?
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "den/cgroup.h"
#include "den/error.h"
#include "den/fs.h"
#include "den/host_info.h"
#include "den/strings.h"
#include "den/userns.h"

namespace den {

namespace {

bool has_file_caps(const std::string& path) {
  return ::getxattr(path.c_str(), "security.capability", nullptr, 0) > 0;
}

bool setuid_root(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && (st.st_mode & S_ISUID) && st.st_uid == 0;
}

}  // namespace

std::vector<PreflightItem> host_preflight(const Config& cfg) {
  std::vector<PreflightItem> v;
  const std::string& user = cfg.user_name;
  uid_t uid = ::geteuid();
  if (!cfg.rootless) {
    v.push_back({"ok", "rootless", "den runs as root: no user namespace setup is needed"});
  } else {
    // Overlapping ranges first: each one is named with its own fix.
    bool overlap = false;
    for (bool gid : {false, true}) {
      std::string problem = user.empty() ? "" : subid_overlap_problem(user, gid, subid_ranges(user, gid));
      if (!problem.empty()) v.push_back({"fail", gid ? "subgid" : "subuid", problem});
      overlap = overlap || !problem.empty();
    }
    try {
      if (!overlap) {
        IdMappings m = rootless_id_mappings(cfg);
        uint64_t nu = 0, ng = 0;
        for (const auto& x : m.uids) nu += x.size;
        for (const auto& x : m.gids) ng += x.size;
        v.push_back(
            {"ok", "subuid/subgid", fmt::format("{} has {} subordinate uids and {} gids", user, nu - 1, ng - 1)});
      }
    } catch (const Error& e) {
      v.push_back({"fail", "subuid/subgid",
                   fmt::format("{}; fix: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {}", e.what(),
                               user)});
    }
    for (const char* helper : {"newuidmap", "newgidmap"}) {
      std::string p = find_program(cfg, helper);
      if (p.empty())
        v.push_back({"fail", helper, fmt::format("not found; fix: apt install uidmap")});
      else if (!setuid_root(p) && !has_file_caps(p))
        v.push_back({"fail", helper,
                     fmt::format("{} is neither setuid root nor has file capabilities; fix: chmod u+s {} (or "
                                 "setcap cap_set{}id+ep {})",
                                 p, p, helper[3] == 'u' ? "u" : "g", p)});
      else
        v.push_back({"ok", helper, p + (setuid_root(p) ? " (setuid root)" : " (file capabilities)")});
    }
  }
  auto device = [&](const char* dev, const char* what, const char* fix) {
    if (::access(dev, R_OK | W_OK) == 0)
      v.push_back({"ok", dev, std::string("usable (") + what + ")"});
    else
      v.push_back({"warn", dev, fmt::format("not usable: {} ({}); fix: {}", std::strerror(errno), what, fix)});
  };
  device("/dev/fuse", "fuse-overlayfs, where native overlay is refused", "modprobe fuse; apt install fuse3 fuse-overlayfs");
  device("/dev/net/tun", "slirp4netns and pasta networks", "modprobe tun");

  CgroupSupport cg = probe_cgroup_support(cfg.cgroup_manager);
  if (cg.problem.empty()) {
    std::vector<std::string> missing;
    for (const char* c : {"cpu", "cpuset", "io", "memory", "pids"})
      if (std::find(cg.controllers.begin(), cg.controllers.end(), c) == cg.controllers.end()) missing.push_back(c);
    if (missing.empty())
      v.push_back({"ok", "cgroup delegation", fmt::format("cgroup v2, {} manager, controllers: {}", cg.manager,
                                                          join(cg.controllers, " "))});
    else
      v.push_back({"warn", "cgroup delegation",
                   fmt::format("not delegated: {} (limits that need them are refused); {}", join(missing, " "),
                               cgroup_fix_hint(cg))});
  } else {
    v.push_back({"warn", "cgroup delegation",
                 fmt::format("{} (containers run, limits are refused); {}", cg.problem, cgroup_fix_hint(cg))});
  }
  if (cfg.rootless) {
    if (path_exists("/var/lib/systemd/linger/" + user))
      v.push_back({"ok", "linger", "enabled: containers keep running after you log out"});
    else
      v.push_back({"warn", "linger",
                   fmt::format("not enabled: systemd may stop your containers when you log out; fix: loginctl "
                               "enable-linger {}",
                               user)});
    const char* rt = std::getenv("XDG_RUNTIME_DIR");
    struct stat st;
    if (!rt || !*rt)
      v.push_back({"warn", "XDG_RUNTIME_DIR",
                   fmt::format("not set (den uses /tmp/den-{}); fix: log in through PAM (ssh, machinectl shell "
                               "{}@) or export XDG_RUNTIME_DIR=/run/user/{}",
                               uid, user, uid)});
    else if (::stat(rt, &st) != 0 || st.st_uid != uid)
      v.push_back({"fail", "XDG_RUNTIME_DIR",
                   fmt::format("{} is missing or not yours; fix: export XDG_RUNTIME_DIR=/run/user/{} (created at login "
                               "by pam_systemd)",
                               rt, uid)});
    else
      v.push_back({"ok", "XDG_RUNTIME_DIR", rt});
  }
  if (auto r = read_file_if_exists("/proc/sys/net/ipv4/ping_group_range")) {
    auto f = split(trim(*r), '\t');
    if (f.size() == 1) f = split(trim(*r), ' ');
    long lo = f.size() > 0 ? std::atol(f[0].c_str()) : 1, hi = f.size() > 1 ? std::atol(f.back().c_str()) : 0;
    if (lo <= 0 && hi >= 65535)
      v.push_back({"ok", "ping_group_range", trim(*r)});
    else
      v.push_back({"warn", "ping_group_range",
                   fmt::format("{}: ping without privileges fails in containers; fix: sysctl -w "
                               "net.ipv4.ping_group_range=\"0 2147483647\"",
                               trim(*r))});
  }
  if (auto r = read_file_if_exists("/proc/sys/net/ipv4/ip_unprivileged_port_start")) {
    int start = std::atoi(r->c_str());
    if (start <= 80 || !cfg.rootless)
      v.push_back({"ok", "ip_unprivileged_port_start", trim(*r)});
    else
      v.push_back({"warn", "ip_unprivileged_port_start",
                   fmt::format("{}: host ports below {} cannot be published rootless; fix: sysctl -w "
                               "net.ipv4.ip_unprivileged_port_start=80",
                               start, start)});
  }
  return v;
}

}  // namespace den
