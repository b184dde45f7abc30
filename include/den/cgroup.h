// Resource limits through cgroup v2 delegation.
//
// A container's cgroup is a small tree: the container's own directory holds
// two leaves, `monitor` (den's monitor) and `container` (the container's
// processes, the root of its cgroup namespace, where the limits are written):
//
//   systemd:  <user@UID.service>/<slice>/den-<id12>.scope/{monitor,container}
//   cgroupfs: <parent>/den-<id12>/{monitor,container}
//
// Two managers create the top directory. `systemd` asks the user's systemd
// (D-Bus, StartTransientUnit) for a transient scope with Delegate=yes holding
// the monitor; `cgroupfs` makes the directory itself under the delegated
// subtree den runs in (from /proc/self/cgroup) or under --cgroup-parent. In
// both, den then owns everything below that directory: systemd never rewrites
// a delegated scope's children, so the limits in `container` stay as written.
//
// Without cgroup v2 delegation (cgroup v1 or hybrid hosts, or a controller not
// delegated to the user) a container that asks for no limit runs without a
// cgroup; one that asks for a limit is refused with the fix (never a silent
// no-op).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "den/config.h"
#include "den/json.h"

namespace den {

struct DeviceRate {
  std::string path;   // "/dev/vda"
  uint64_t rate = 0;  // bytes (or operations) per second
};

// docker's HostConfig resource fields; 0 (or empty) means "not set".
struct Resources {
  int64_t memory = 0;              // -m: memory.max
  int64_t memory_swap = 0;         // --memory-swap: memory + swap; -1 unlimited
  int64_t memory_reservation = 0;  // --memory-reservation: memory.low
  int64_t nano_cpus = 0;           // --cpus x 1e9: cpu.max
  int64_t cpu_shares = 0;          // -c: cpu.weight through docker's conversion
  int64_t cpu_period = 0;          // --cpu-period (us)
  int64_t cpu_quota = 0;           // --cpu-quota (us)
  std::string cpuset_cpus;         // cpuset.cpus
  std::string cpuset_mems;         // cpuset.mems
  int64_t pids_limit = 0;          // pids.max; -1 unlimited
  int blkio_weight = 0;            // io.weight (docker's 10..1000)
  std::vector<DeviceRate> device_read_bps, device_write_bps, device_read_iops, device_write_iops;
  bool has_oom_score_adj = false;  // --oom-score-adj (not a cgroup setting)
  int oom_score_adj = 0;

  // Whether any field needs a cgroup.
  bool any_limit() const;
  // The flags that are set, as the user spelled them ("-m", "--cpus"), for messages.
  std::vector<std::string> flags_set() const;
  // The cgroup v2 controllers the set fields need ("memory", "cpu", ...).
  std::vector<std::string> controllers() const;
};

// The HostConfig keys docker uses (Memory, NanoCpus, BlkioDeviceReadBps, ...).
Json to_json(const Resources& r);
Resources resources_from_json(const Json& j);

// ---- parsing and checks (before anything is created) ----------------------

// "1.5" -> 1500000000 nano CPUs. Throws Errc::Invalid.
int64_t parse_nano_cpus(const std::string& s);
// "/dev/vda:1mb" (bps, a size) or "/dev/vda:100" (iops). Throws Errc::Invalid.
DeviceRate parse_device_rate(const std::string& s, bool iops, const char* flag);
// Checks the values against docker's rules and this machine (CPUs online,
// devices that exist). Throws Errc::Invalid naming the flag and the fix.
void validate_resources(const Resources& r);
// docker's --cpu-shares (2..262144) -> cgroup v2 cpu.weight (1..10000).
uint64_t shares_to_weight(int64_t shares);
// docker's --blkio-weight (10..1000) -> io.weight (1..10000), as crun does.
uint64_t blkio_to_io_weight(int weight);

// ---- what the host offers ---------------------------------------------------

struct CgroupSupport {
  std::string layout;                     // "v2", "hybrid", "v1"
  std::string manager;                    // "systemd" or "cgroupfs" (chosen)
  std::string own;                        // den's cgroup, absolute under /sys/fs/cgroup
  std::string parent;                     // where containers' cgroups go (cgroupfs)
  std::vector<std::string> controllers;   // delegated to the user (available)
  bool writable = false;                  // the user can create cgroups there
  std::string problem;                    // "" when usable
};

// manager: "systemd", "cgroupfs", or "" / "auto" (systemd when the user's
// systemd instance is reachable, else cgroupfs). cgroup_parent as for
// --cgroup-parent ("" for the default).
CgroupSupport probe_cgroup_support(const std::string& manager, const std::string& cgroup_parent = "");

// The exact fix for a missing controller / layout, one line.
std::string cgroup_fix_hint(const CgroupSupport& s);

// For run/create/update: throws Errc::Unsupported with the fix when `r` asks
// for limits this host cannot apply with `cgroups` ("enabled", "disabled",
// "no-conmon").
void check_limits_possible(const Resources& r, const std::string& cgroups, const std::string& manager,
                           const std::string& cgroup_parent);

// ---- the container's cgroup (monitor side) ---------------------------------

struct ContainerCgroupSpec {
  std::string id;             // container id
  std::string cgroups = "enabled";  // enabled | disabled | no-conmon
  std::string manager;        // as for probe_cgroup_support
  std::string cgroup_parent;  // --cgroup-parent
  Resources resources;
};

// In the monitor, before it enters den's user namespace (D-Bus checks the
// caller's uid): creates the container's cgroup, moves the monitor into its
// `monitor` leaf (not with no-conmon), and writes the limits into the
// `container` leaf. Returns the leaf (absolute path), or "" when the container
// runs without a cgroup (none available and no limit asked, or disabled).
std::string create_container_cgroup(const ContainerCgroupSpec& spec);
// Moves a process into a cgroup (cgroup.procs).
void cgroup_add_process(const std::string& cgroup, pid_t pid);
// Writes the limits into a cgroup. Throws naming the file and the flag.
void apply_resources(const std::string& cgroup, const Resources& r);
// memory.events oom_kill count (0 without the file).
uint64_t cgroup_oom_kills(const std::string& cgroup);
// Removes the container's cgroup tree (leaves, then the directory) where it
// is empty. Never throws.
void remove_container_cgroup(const std::string& leaf);
// cgroup.freeze, waiting until cgroup.events says frozen/thawed.
void cgroup_freeze(const std::string& cgroup, bool frozen);
bool cgroup_exists(const std::string& cgroup);

// ---- stats -----------------------------------------------------------------

struct ResourceSample {
  bool have_cgroup = false;
  uint64_t cpu_usec = 0;  // total CPU time
  int64_t mem_usage = -1;  // bytes (-1: unknown)
  int64_t mem_limit = -1;
  int64_t pids = -1;
  int64_t blk_read = -1, blk_write = -1;
  int64_t net_rx = -1, net_tx = -1;
  int64_t taken_ns = 0;  // CLOCK_MONOTONIC
};

// From the cgroup when there is one, else from /proc for the processes of the
// container whose init is `pid`.
ResourceSample sample_resources(const std::string& cgroup, pid_t pid);
// Total memory of the machine, bytes.
int64_t host_memory_bytes();
// Number of CPUs online.
int online_cpus();

}  // namespace den
