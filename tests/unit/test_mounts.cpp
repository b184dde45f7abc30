// -v, --mount, --tmpfs, --volumes-from parsing (den/mount_spec.h), volume
// names, and the plan's mounts for volumes and binds.
#include <sys/mount.h>

#include <catch2/catch.hpp>
#include <functional>

#include "den/error.h"
#include "den/mount_spec.h"
#include "den/runtime.h"

using namespace den;

namespace {
bool invalid(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code() == Errc::Invalid || e.code() == Errc::Unsupported;
  }
  return false;
}
}  // namespace

TEST_CASE("-v: anonymous, named and bind forms") {
  MountSpec a = parse_volume_flag("/data");
  CHECK(a.type == "volume");
  CHECK(a.anonymous);
  CHECK(a.source.empty());
  CHECK(a.destination == "/data");

  MountSpec n = parse_volume_flag("nginx:/usr/share/nginx/html");
  CHECK(n.type == "volume");
  CHECK_FALSE(n.anonymous);
  CHECK(n.source == "nginx");
  CHECK(n.destination == "/usr/share/nginx/html");
  CHECK(mount_mode(n) == "z");
  CHECK_FALSE(mount_readonly(n));

  MountSpec b = parse_volume_flag("/tmp//host/:/x/:ro,Z,rslave");
  CHECK(b.type == "bind");
  CHECK(b.source == "/tmp/host");
  CHECK(b.destination == "/x");
  CHECK(mount_readonly(b));
  CHECK(mount_propagation(b) == "rslave");
  CHECK(mount_mode(b) == "ro,Z");

  CHECK(parse_volume_flag("/h:/c:U").options == std::vector<std::string>{"U"});
  CHECK(parse_volume_flag("/h:/c:O").options == std::vector<std::string>{"O"});
  CHECK(parse_volume_flag("v1:/c:nocopy").options == std::vector<std::string>{"nocopy"});
}

TEST_CASE("-v: bad forms are refused") {
  CHECK(invalid([] { parse_volume_flag("data"); }));           // relative destination
  CHECK(invalid([] { parse_volume_flag("./host:/x"); }));      // relative host path
  CHECK(invalid([] { parse_volume_flag("host/dir:/x"); }));    // relative host path
  CHECK(invalid([] { parse_volume_flag("/h:x"); }));           // relative destination
  CHECK(invalid([] { parse_volume_flag("/h:/"); }));           // over the root
  CHECK(invalid([] { parse_volume_flag("/h:/a/../b"); }));     // ..
  CHECK(invalid([] { parse_volume_flag("/h:/x:bogus"); }));    // unknown option
  CHECK(invalid([] { parse_volume_flag("/h:/x:ro,rw"); }));    // conflicting
  CHECK(invalid([] { parse_volume_flag("/h:/x:y:z"); }));      // too many parts
  CHECK(invalid([] { parse_volume_flag(":/x"); }));            // empty part
  CHECK(invalid([] { parse_volume_flag(""); }));
  CHECK(invalid([] { parse_volume_flag("v:/x:O"); }));         // overlay needs a host dir
  CHECK(invalid([] { parse_volume_flag("/h:/x:nocopy"); }));   // nocopy is for volumes
  CHECK(invalid([] { parse_volume_flag("-bad:/x"); }));        // volume name rule
}

TEST_CASE("--mount: docker's keys") {
  MountSpec b = parse_mount_flag("type=bind,src=/h,dst=/c,readonly,bind-propagation=rshared");
  CHECK(b.type == "bind");
  CHECK(b.source == "/h");
  CHECK(b.destination == "/c");
  CHECK(mount_readonly(b));
  CHECK(mount_propagation(b) == "rshared");

  MountSpec v = parse_mount_flag("type=volume,source=data,target=/d,volume-nocopy");
  CHECK(v.type == "volume");
  CHECK(v.source == "data");
  CHECK(v.options == std::vector<std::string>{"nocopy"});

  MountSpec anon = parse_mount_flag("dst=/d");
  CHECK(anon.type == "volume");
  CHECK(anon.anonymous);

  MountSpec t = parse_mount_flag("type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770");
  CHECK(t.type == "tmpfs");
  CHECK(t.options == std::vector<std::string>{"size=64m", "mode=1770"});

  CHECK(parse_mount_flag("type=bind,src=/h,dst=/c,ro=false").options.empty());
}

TEST_CASE("--mount: bad input") {
  CHECK(invalid([] { parse_mount_flag("type=bind,dst=/c"); }));              // no source
  CHECK(invalid([] { parse_mount_flag("type=bind,src=rel,dst=/c"); }));      // relative source
  CHECK(invalid([] { parse_mount_flag("type=volume,src=v"); }));             // no target
  CHECK(invalid([] { parse_mount_flag("type=nfs,dst=/c"); }));               // unknown type
  CHECK(invalid([] { parse_mount_flag("type=bind,src=/h,dst=/c,what=1"); }));  // unknown key
  CHECK(invalid([] { parse_mount_flag("type=tmpfs,src=/h,dst=/c"); }));      // tmpfs takes no source
  CHECK(invalid([] { parse_mount_flag("type=volume,dst=/c,volume-driver=nfs"); }));
  CHECK(invalid([] { parse_mount_flag("type=volume,dst=/c,readonly=maybe"); }));
  CHECK(invalid([] { parse_mount_flag("type=volume,dst=/c,bind-propagation=shared"); }));
}

TEST_CASE("--tmpfs, --volumes-from, duplicates") {
  MountSpec t = parse_tmpfs_flag("/run:size=1m,noexec");
  CHECK(t.destination == "/run");
  CHECK(t.options == std::vector<std::string>{"size=1m", "noexec"});
  CHECK(invalid([] { parse_tmpfs_flag("run"); }));
  CHECK(parse_volumes_from("web") == std::pair<std::string, std::string>{"web", ""});
  CHECK(parse_volumes_from("web:ro") == std::pair<std::string, std::string>{"web", "ro"});
  CHECK(invalid([] { parse_volumes_from("web:z"); }));
  CHECK(invalid([] { check_duplicate_destinations({parse_tmpfs_flag("/d"), parse_volume_flag("/d")}); }));
  check_duplicate_destinations({parse_tmpfs_flag("/d"), parse_volume_flag("/e")});
}

TEST_CASE("volume names follow docker's rule") {
  check_volume_name("data");
  check_volume_name("a1_b.c-d");
  CHECK(invalid([] { check_volume_name("a"); }));
  CHECK(invalid([] { check_volume_name("_x"); }));
  CHECK(invalid([] { check_volume_name("a/b"); }));
  CHECK(invalid([] { check_volume_name(".."); }));
}

TEST_CASE("plan: binds and volumes become bind mounts with their options") {
  Config cfg;
  cfg.graphroot = "/store";
  ContainerConfig c;
  c.id = std::string(64, 'a');
  c.cmd = {"sh"};
  c.mounts = {parse_volume_flag("/tmp:/h:ro,rshared"), parse_volume_flag("/tmp:/o:O"),
              parse_volume_flag("/tmp:/u:U")};
  MountSpec v = parse_volume_flag("data:/d:nocopy");
  c.mounts.push_back(v);
  // A volume whose volume.json is missing is refused at plan time.
  CHECK_THROWS_AS(build_plan(cfg, c, Json::object(), {}, "/store/containers/x", ""), Error);
  c.mounts.pop_back();
  RunPlan p = build_plan(cfg, c, Json::object(), {}, "/store/containers/x", "");
  const PlanMount* h = nullptr;
  const PlanMount* o = nullptr;
  const PlanMount* u = nullptr;
  for (const auto& m : p.mounts) {
    if (m.target == "/h") h = &m;
    if (m.target == "/o") o = &m;
    if (m.target == "/u") u = &m;
  }
  REQUIRE(h);
  CHECK(h->source == "/tmp");
  CHECK(h->make_readonly);
  CHECK(h->propagation == (MS_REC | MS_SHARED));
  CHECK_FALSE(h->copy_up);
  REQUIRE(o);
  CHECK(o->fstype == "overlay");
  CHECK(o->data.find("lowerdir=/tmp,upperdir=/store/containers/x/overlay/") == 0);
  REQUIRE(u);
  CHECK(u->chown_to_user);
}
