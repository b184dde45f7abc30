#include <catch2/catch.hpp>

#include "den/config.h"
#include "den/error.h"

using namespace den;

TEST_CASE("TOML files override defaults key by key", "[config]") {
  Config c;
  apply_toml(c, "den.conf", "[engine]\ncgroup_manager = \"systemd\"\n[containers]\nstop_timeout = 3\n", "test");
  CHECK(c.cgroup_manager == "systemd");
  CHECK(c.stop_timeout == 3);
  CHECK(c.log_driver == "k8s-file");  // untouched
  apply_toml(c, "storage.conf",
             "[storage]\ndriver = \"vfs\"\n[storage.options.overlay]\nmount_program = \"/opt/fo\"\n"
             "force_mount_program = true\n",
             "test");
  CHECK(c.storage_driver == "vfs");
  CHECK(c.mount_program == "/opt/fo");
  CHECK(c.force_mount_program);
}

TEST_CASE("bad TOML names the file and line", "[config]") {
  Config c;
  CHECK_THROWS_WITH(apply_toml(c, "den.conf", "[engine]\ncgroup_manager = \n", "/etc/den/den.conf"),
                    Catch::StartsWith("/etc/den/den.conf:2:"));
  CHECK_THROWS_WITH(apply_toml(c, "den.conf", "[containers]\nstop_timeout = \"x\"\n", "f.conf"),
                    Catch::Contains("stop_timeout has the wrong type"));
}

TEST_CASE("the runtime dir must belong to the user", "[config]") {
  // /proc is owned by root: any non-root uid is refused with an explanation.
  CHECK_THROWS_WITH(check_runtime_dir("/proc", 4242), Catch::Contains("not by you"));
}
