// den's own OCI-style runtime. bubblewrap's shape: options become a RunPlan
// (namespaces, mounts, process) before any fork; the plan can be printed and
// unit-tested; the child between clone and exec only executes it, using data
// prepared beforehand, and reports a failure as (step, errno) through a pipe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "den/container.h"
#include "den/json.h"
#include "den/userns.h"

namespace den {

struct PlanMount {
  std::string source;
  std::string target;   // path inside the container, absolute
  std::string fstype;   // "" for bind mounts
  unsigned long flags = 0;
  std::string data;
  bool is_file = false;  // bind target is a file (create it as a file)
  bool make_readonly = false;  // remount the bind read-only
  // Volumes: when the source directory is empty, the image's files at the
  // target are copied into it first (docker's copy-up; owners kept).
  bool copy_up = false;
  bool chown_to_user = false;   // :U, chown -R to the container's user
  unsigned long propagation = 0;  // MS_SHARED/MS_SLAVE/MS_PRIVATE (| MS_REC)
};

struct PlanRlimit {
  int resource;
  uint64_t soft, hard;
};

struct RunPlan {
  // Namespaces to create (CLONE_NEW* flags) and ones to join (path to
  // /proc/PID/ns/X, with the matching CLONE_NEW* type).
  int clone_flags = 0;
  std::vector<std::pair<int, std::string>> join_ns;
  // A network namespace the caller made beforehand (new_network_namespace),
  // joined by the child first; clone_flags then lacks CLONE_NEWNET. Lets a
  // network helper start while the container is being set up.
  int netns_fd = -1;
  // Unshare the cgroup namespace after the parent has moved the process into
  // its cgroup (instead of CLONE_NEWCGROUP at clone time).
  bool unshare_cgroupns = false;
  // Rootless: the caller (the monitor) must be in den's user namespace.
  bool rootless = true;

  // Root file system.
  enum class RootKind { NativeOverlay, FuseOverlay, Directory };
  RootKind root_kind = RootKind::NativeOverlay;
  std::string lowerdirs;  // "top:...:base" for overlay
  std::string upperdir, workdir;
  std::string rootfs;     // mount point (overlay) or the directory itself
  std::string mount_program;  // fuse-overlayfs
  bool readonly_root = false;

  std::vector<PlanMount> mounts;  // in order, after the root is mounted
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  std::string hostname;  // "" to keep

  // Process.
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string cwd = "/";
  std::string user;  // "" = root; "uid[:gid]" or "name[:group]", resolved in the container
  uint64_t capabilities = 0;  // bit mask of the caps to keep for root
  bool no_new_privileges = false;
  std::vector<PlanRlimit> rlimits;
  bool tty = false;
  bool bring_up_loopback = true;  // in a new network namespace
  std::string init_path;  // bind-mounted init when --init ("" otherwise)
};

// docker's default capability set.
uint64_t default_capabilities();
// Parses "CAP_NET_ADMIN"/"net_admin"/"ALL"; throws Errc::Invalid.
int capability_from_name(const std::string& name);

// Builds the plan for a container of the store. Throws den::Error on bad
// options. `lowerdirs` are the image's layer diff dirs, base first.
RunPlan build_plan(const Config& cfg, const ContainerConfig& c, const Json& image_config,
                   const std::vector<std::string>& lower_diff_dirs, const std::string& container_dir,
                   const std::string& userdata_dir);

// A printable form of the plan (for --log-level=debug and tests).
std::string describe(const RunPlan& p);

struct ChildStdio {
  int in = -1, out = -1, err = -1;  // become 0,1,2 in the container
  // With plan.tty: the process opens its terminal in the container's own
  // /dev/pts (so that `tty` names it there) and sends the master side over
  // this unix socket (see receive_console); make it with console_socketpair.
  int console_socket = -1;
};

// A socketpair for ChildStdio::console_socket: [0] is ours, [1] the child's.
void console_socketpair(int sv[2]);
// Receives the terminal master the container process sent (it has been sent
// by the time spawn/exec returned a pid).
UniqueFd receive_console(int sock);

// Why a container could not start.
struct SpawnError {
  std::string step;  // "mount /proc", "exec /bin/foo", ...
  int err = 0;       // errno
  int exit_code = 125;  // 125, or 126/127 for exec failures
  std::string message() const;
};

// Clones the container process, writes its id maps, lets it run the plan.
// Returns its pid once it has exec'd (or failed: then *error is set and the
// child has been reaped; returns -1). Call from a single-threaded process.
// `after_clone` runs in the parent with the child's pid before it is released
// (cgroup, user networks). `before_exec` runs in the parent while the child
// sets itself up (mounts, pivot_root); the child waits for it to return
// before it execs (used to wait for the network helper). Either throwing
// kills the child.
pid_t spawn_container(const RunPlan& plan, const ChildStdio& stdio, SpawnError* error,
                      const std::function<void(pid_t)>& after_clone = {},
                      const std::function<void()>& before_exec = {});

// A new network namespace owned by the caller's user namespace, for
// RunPlan::netns_fd. The caller stays in its own (a short-lived child makes
// it: a rootless process could not setns back to the host's namespace).
UniqueFd new_network_namespace();

// den exec: runs plan.argv in the namespaces of the running container process
// `target` (whose /proc start time must be `target_start`, 0 to skip the
// check), with the plan's process settings (env, user, cwd, capabilities,
// rlimits, no_new_privileges, tty). A helper joins the namespaces
// (/proc/PID/ns/*: user first, skipping those den shares) and forks the
// process into the PID namespace as a child of the caller. Returns its pid once
// it has exec'd, or -1 with *error set (exit code 125, or 126/127 when the
// command cannot be invoked / is not found). Call from a single-threaded
// process. Throws den::Error when the container's process is gone.
pid_t exec_in_container(const RunPlan& plan, pid_t target, uint64_t target_start, const ChildStdio& stdio,
                        SpawnError* error);

}  // namespace den
