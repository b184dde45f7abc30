#include <catch2/catch.hpp>
#include <sched.h>
#include <sys/mount.h>

#include "den/error.h"
#include "den/runtime.h"

using namespace den;

namespace {
ContainerConfig base() {
  ContainerConfig c;
  c.id = std::string(64, 'a');
  c.cmd = {"sh"};
  return c;
}
bool has_mount(const RunPlan& p, const std::string& target, const std::string& type) {
  for (const auto& m : p.mounts)
    if (m.target == target && m.fstype == type) return true;
  return false;
}
}  // namespace

TEST_CASE("default plan: namespaces, mounts, masks, caps, hostname", "[plan]") {
  Config cfg;
  cfg.rootless = true;
  RunPlan p = build_plan(cfg, base(), Json::object(), {"/l/base", "/l/top"}, "/c", "/c/userdata");
  CHECK(p.rootless);
  CHECK(!(p.clone_flags & CLONE_NEWUSER));  // the monitor is in den's user namespace already
  CHECK((p.clone_flags & CLONE_NEWPID));
  CHECK((p.clone_flags & CLONE_NEWNET));
  CHECK(p.lowerdirs == "/l/top:/l/base");  // overlay wants the top layer first
  CHECK(p.upperdir == "/c/upper");
  CHECK(has_mount(p, "/proc", "proc"));
  CHECK(has_mount(p, "/dev", "tmpfs"));
  CHECK(has_mount(p, "/dev/pts", "devpts"));
  CHECK(has_mount(p, "/sys", "sysfs"));
  CHECK(has_mount(p, "/etc/hosts", ""));
  CHECK(std::find(p.masked_paths.begin(), p.masked_paths.end(), "/proc/kcore") != p.masked_paths.end());
  CHECK(std::find(p.readonly_paths.begin(), p.readonly_paths.end(), "/proc/sys") != p.readonly_paths.end());
  CHECK(p.capabilities == default_capabilities());
  CHECK(default_capabilities() == 0xa80425fbULL);
  CHECK(p.hostname == "aaaaaaaaaaaa");
  CHECK(describe(p).find("exec sh") != std::string::npos);
}

TEST_CASE("options change the plan", "[plan]") {
  Config cfg;
  ContainerConfig c = base();
  c.network = "host";
  c.pid = "host";
  c.init = true;
  c.cap_drop = {"all"};
  c.cap_add = {"net_admin"};
  c.privileged = false;
  c.read_only = true;
  c.mounts.push_back({"tmpfs", "tmpfs", "/scratch", {"size=1m", "ro"}});
  RunPlan p = build_plan(cfg, c, Json::object(), {}, "/c", "");
  CHECK(!(p.clone_flags & CLONE_NEWNET));
  CHECK(!(p.clone_flags & CLONE_NEWPID));
  CHECK(!has_mount(p, "/proc", "proc"));  // the host's /proc is bound instead
  CHECK(p.argv == std::vector<std::string>{"/run/den-init", "--", "sh"});
  CHECK(p.capabilities == (uint64_t{1} << capability_from_name("CAP_NET_ADMIN")));
  CHECK(p.readonly_root);
  bool found = false;
  for (const auto& m : p.mounts)
    if (m.target == "/scratch") {
      found = true;
      CHECK((m.flags & MS_RDONLY));
      CHECK(m.data.find("size=1m") != std::string::npos);
      CHECK(m.data.find("mode=1777") != std::string::npos);
    }
  CHECK(found);
}

TEST_CASE("bad plan input is refused", "[plan]") {
  Config cfg;
  ContainerConfig c = base();
  c.workdir = "relative";
  CHECK_THROWS_WITH(build_plan(cfg, c, Json::object(), {}, "/c", ""), Catch::Contains("not absolute"));
  c = base();
  c.cmd.clear();
  CHECK_THROWS_WITH(build_plan(cfg, c, Json::object(), {}, "/c", ""), Catch::Contains("no command"));
  c = base();
  c.cap_add = {"CAP_BOGUS"};
  CHECK_THROWS_WITH(build_plan(cfg, c, Json::object(), {}, "/c", ""), Catch::Contains("unknown capability"));
  c = base();
  c.ulimits.push_back({"bogus", 1, 1});
  CHECK_THROWS_WITH(build_plan(cfg, c, Json::object(), {}, "/c", ""), Catch::Contains("invalid ulimit"));
}
