#include <stdlib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <optional>

#include "den/config.h"
#include "den/error.h"
#include "den/fs.h"
#include "den/registries.h"

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

TEST_CASE("registry transfer settings: parallel copies and push chunk size", "[config]") {
  Config c;
  CHECK(c.image_parallel_copies == 6);
  CHECK(c.push_chunk_size == 0);
  apply_toml(c, "den.conf", "[engine]\nimage_parallel_copies = 5\npush_chunk_size = 1048576\n", "test");
  CHECK(c.image_parallel_copies == 5);
  CHECK(c.push_chunk_size == 1048576);
  apply_toml(c, "den.conf", "[engine]\nimage_parallel_copies = 0\n", "test");
  CHECK(c.image_parallel_copies == 6);  // 0: the default, as in containers.conf
  CHECK_THROWS_WITH(apply_toml(c, "den.conf", "[engine]\npush_chunk_size = -1\n", "f.conf"),
                    Catch::Contains("push_chunk_size"));
  CHECK_THROWS_WITH(apply_toml(c, "den.conf", "[engine]\nimage_parallel_copies = 1000\n", "f.conf"),
                    Catch::Contains("image_parallel_copies"));
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

namespace {

// Sets an environment variable for one test and restores it afterwards.
class EnvVar {
 public:
  EnvVar(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~EnvVar() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }
  EnvVar(const EnvVar&) = delete;
  EnvVar& operator=(const EnvVar&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("CONTAINERS_CONF is read last, over the user's den.conf", "[config]") {
  TempDir tmp("/tmp", "den-test-config-");  // 0700: also the runtime dir
  const std::string& dir = tmp.path();
  EnvVar config_home("XDG_CONFIG_HOME", dir);
  EnvVar runtime("XDG_RUNTIME_DIR", dir);
  std::filesystem::create_directories(dir + "/den");
  write_file_atomic(dir + "/den/den.conf", "[containers]\nstop_timeout = 3\nlog_driver = \"none\"\n");
  write_file_atomic(dir + "/extra.conf", "[containers]\nstop_timeout = 42\n");
  {
    EnvVar extra("CONTAINERS_CONF", dir + "/extra.conf");
    Config c = load_config();
    CHECK(c.stop_timeout == 42);      // the extra file wins
    CHECK(c.log_driver == "none");    // the user's file still counts
    auto user = std::find(c.files_read.begin(), c.files_read.end(), dir + "/den/den.conf");
    auto extra_read = std::find(c.files_read.begin(), c.files_read.end(), dir + "/extra.conf");
    CHECK(user < extra_read);
    CHECK(extra_read != c.files_read.end());
  }
  {
    EnvVar extra("CONTAINERS_CONF", dir + "/missing.conf");
    CHECK_THROWS_WITH(load_config(), Catch::Contains("CONTAINERS_CONF") && Catch::Contains("missing.conf"));
  }
  ::unsetenv("CONTAINERS_CONF");
  CHECK(load_config().stop_timeout == 3);
}

TEST_CASE("registries.conf: the standard files, or only CONTAINERS_REGISTRIES_CONF", "[config]") {
  TempDir tmp("/tmp", "den-test-config-");  // 0700: also the runtime dir
  const std::string& dir = tmp.path();
  EnvVar config_home("XDG_CONFIG_HOME", dir);
  EnvVar runtime("XDG_RUNTIME_DIR", dir);
  ::unsetenv("CONTAINERS_REGISTRIES_CONF");
  Config cfg;
  cfg.home = dir;
  CHECK(load_registries_conf(cfg).search == std::vector<std::string>{"docker.io"});  // den's default

  std::filesystem::create_directories(dir + "/containers/registries.conf.d");
  write_file_atomic(dir + "/containers/registries.conf", "unqualified-search-registries = [\"user.example\"]\n");
  write_file_atomic(dir + "/containers/registries.conf.d/10-mirror.conf",
                    "[[registry]]\nprefix = \"user.example\"\n[[registry.mirror]]\nlocation = \"m.example\"\n");
  RegistriesConf user = load_registries_conf(cfg);
  CHECK(user.search == std::vector<std::string>{"user.example"});
  REQUIRE(user.registries.size() == 1);
  CHECK(user.registries[0].mirrors.at(0).location == "m.example");
  // The user's containers file replaces /etc/containers/registries.conf.
  CHECK(std::find(user.files_read.begin(), user.files_read.end(), "/etc/containers/registries.conf") ==
        user.files_read.end());

  write_file_atomic(dir + "/only.conf",
                    "unqualified-search-registries = [\"quay.io\", \"docker.io\"]\nshort-name-mode = \"enforcing\"\n");
  {
    EnvVar only("CONTAINERS_REGISTRIES_CONF", dir + "/only.conf");
    RegistriesConf c = load_registries_conf(cfg);
    // The user's files are not read at all: only the named one.
    CHECK(c.search == std::vector<std::string>{"quay.io", "docker.io"});
    CHECK(c.short_name_mode == "enforcing");
    CHECK(c.registries.empty());
  }
  {
    EnvVar only("CONTAINERS_REGISTRIES_CONF", dir + "/missing.conf");
    CHECK_THROWS_WITH(load_registries_conf(cfg), Catch::Contains("CONTAINERS_REGISTRIES_CONF"));
  }
  // den.conf and storage.conf are not affected by it.
  CHECK(config_search_path("den.conf", dir).back() == dir + "/den/den.conf");
}

TEST_CASE("registries.conf: mirrors, remapping, blocked, aliases, short names", "[config]") {
  RegistriesConf c;
  c.search = {"docker.io"};
  apply_registries_toml(c,
                        "unqualified-search-registries = [\"reg.example\", \"docker.io\"]\n"
                        "short-name-mode = \"disabled\"\n"
                        "[[registry]]\nprefix = \"example.com/ns\"\nlocation = \"127.0.0.1:5000/other\"\ninsecure = true\n"
                        "[[registry.mirror]]\nlocation = \"mirror.example/cache\"\n"
                        "[[registry]]\nprefix = \"*.blocked.example\"\nblocked = true\n"
                        "[aliases]\n\"bb\" = \"example.com/ns/busybox\"\n",
                        "r.conf");
  CHECK(c.short_name_mode == "disabled");
  auto eps = pull_endpoints(c, "example.com/ns/app");
  REQUIRE(eps.size() == 2);
  CHECK((eps[0].host == "mirror.example" && eps[0].path == "cache/app" && eps[0].mirror));
  CHECK((eps[1].host == "127.0.0.1:5000" && eps[1].path == "other/app" && eps[1].insecure && !eps[1].mirror));
  CHECK(pull_endpoints(c, "example.com/nsx/app").front().host == "example.com");  // whole components only
  CHECK(pull_endpoints(c, "docker.io/library/x").front().host == "registry-1.docker.io");
  CHECK_THROWS_WITH(pull_endpoints(c, "a.blocked.example/x"), Catch::Contains("blocked"));
  CHECK(short_name_candidates(c, "bb") == std::vector<std::string>{"example.com/ns/busybox"});
  CHECK(short_name_candidates(c, "alpine") ==
        std::vector<std::string>{"reg.example/alpine", "docker.io/library/alpine"});
  CHECK_THROWS_WITH(apply_registries_toml(c, "unqualified-search-registries = [", "bad.conf"),
                    Catch::Contains("bad.conf"));
}
