#include <stdlib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <optional>

#include "den/config.h"
#include "den/error.h"
#include "den/fs.h"

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
  auto search = config_search_path("registries.conf", dir);
  CHECK(search.front() == "/etc/containers/registries.conf");
  CHECK(search.back() == dir + "/den/registries.conf");
  CHECK(std::find(search.begin(), search.end(), dir + "/containers/registries.conf") != search.end());

  std::filesystem::create_directories(dir + "/containers");
  write_file_atomic(dir + "/containers/registries.conf", "unqualified-search-registries = [\"user.example\"]\n");
  CHECK(load_config().unqualified_search_registries == std::vector<std::string>{"user.example"});

  write_file_atomic(dir + "/only.conf",
                    "unqualified-search-registries = [\"quay.io\", \"docker.io\"]\nshort-name-mode = \"enforcing\"\n");
  {
    EnvVar only("CONTAINERS_REGISTRIES_CONF", dir + "/only.conf");
    CHECK(config_search_path("registries.conf", dir) == std::vector<std::string>{dir + "/only.conf"});
    Config c = load_config();
    // The user's file is not read at all: only the named one.
    CHECK(c.unqualified_search_registries == std::vector<std::string>{"quay.io", "docker.io"});
    CHECK(c.short_name_mode == "enforcing");
    CHECK(std::find(c.files_read.begin(), c.files_read.end(), dir + "/containers/registries.conf") ==
          c.files_read.end());
  }
  {
    EnvVar only("CONTAINERS_REGISTRIES_CONF", dir + "/missing.conf");
    CHECK_THROWS_WITH(load_config(), Catch::Contains("CONTAINERS_REGISTRIES_CONF"));
  }
  // den.conf and storage.conf are not affected by it.
  CHECK(config_search_path("den.conf", dir).back() == dir + "/den/den.conf");
}

TEST_CASE("registries.conf keys are top level and typed", "[config]") {
  Config c;
  CHECK(c.unqualified_search_registries == std::vector<std::string>{"docker.io"});
  apply_toml(c, "registries.conf", "short-name-mode = \"disabled\"\n[[registry]]\nlocation = \"x.example\"\n", "r");
  CHECK(c.short_name_mode == "disabled");
  CHECK(c.unqualified_search_registries == std::vector<std::string>{"docker.io"});
  CHECK_THROWS_WITH(apply_toml(c, "registries.conf", "unqualified-search-registries = \"quay.io\"\n", "r.conf"),
                    Catch::Contains("must be an array of strings"));
}
