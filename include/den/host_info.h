// What den finds on the host: kernel, cgroup layout and controllers, helper
// programs (fuse-overlayfs, slirp4netns, pasta) and their versions. Used by
// `den info`, and later by the runtime to pick backends.
#pragma once

#include <string>
#include <vector>

#include "den/config.h"

namespace den {

struct HelperProgram {
  std::string name;
  std::string path;     // "" when not found
  std::string version;  // first line of --version, "" when unknown
};

struct CgroupInfo {
  std::string layout;  // "v2" (unified), "hybrid" (v1 controllers + empty v2), "v1"
  std::string own_path;                  // this process's v2 cgroup ("/user.slice/...")
  std::vector<std::string> controllers;  // v2 controllers available in our cgroup
};

// Looks for a program in the configured helper directories, then $PATH.
std::string find_program(const Config& cfg, const std::string& name);
HelperProgram probe_program(const Config& cfg, const std::string& name, const char* version_flag = "--version");
CgroupInfo probe_cgroups();
std::string kernel_release();
std::string os_pretty_name();

}  // namespace den

namespace den {

// `den system check --host`: the host setup rootless containers need, each
// with the fix to apply. Most rootless failures are host setup.
struct PreflightItem {
  std::string level;  // "ok", "warn" (some features), "fail" (containers cannot run)
  std::string what;   // "subuid/subgid"
  std::string detail; // what was found, and the fix when not ok
};
std::vector<PreflightItem> host_preflight(const Config& cfg);

}  // namespace den
