// Containers in the store: one directory per container under
// GRAPHROOT/containers/<id>/ holding the immutable config.json, the mutable
// state.json (both written atomically) and the overlay's upper/ and work/;
// a per-container flock (GRAPHROOT/containers/<id>/lock); names reserved
// atomically as files GRAPHROOT/containers/names/<name> (O_EXCL).
// Runtime files (attach socket, pid files) live under RUNROOT/c/<short id>/.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "den/health.h"
#include "den/cgroup.h"
#include "den/json.h"
#include "den/lock.h"
#include "den/store.h"

namespace den {

struct MountSpec {
  std::string type;         // "bind", "tmpfs", "volume"
  std::string source;       // host path (bind), volume name
  std::string destination;  // in the container
  std::vector<std::string> options;  // "ro", "rw", "nosuid", "size=64m", "mode=1777", "rbind", ...
  bool anonymous = false;   // volume: made for this container (rm -v, --rm remove it)
};

struct Ulimit {
  std::string name;  // "nofile"
  int64_t soft = 0;
  int64_t hard = 0;
};

// One -p mapping; `range` consecutive ports from host_port/container_port.
// host_port 0 means "any free port", chosen when the container is created.
struct PortMapping {
  std::string host_ip;  // "" = all addresses
  int host_port = 0;
  int container_port = 0;
  std::string protocol = "tcp";  // tcp | udp
  int range = 1;
};

struct RestartPolicy {
  std::string name = "no";  // no | on-failure | always | unless-stopped
  int max_retries = 0;
};

struct ContainerConfig {
  std::string id;
  std::string name;
  std::string image_id;    // 64 hex, "" with --rootfs
  std::string image_name;  // as the user gave it
  std::string rootfs;      // --rootfs directory, else ""
  int64_t created = 0;

  // Process.
  std::vector<std::string> entrypoint;  // as resolved (image or --entrypoint)
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // KEY=VALUE
  std::string workdir;
  std::string user;  // "uid[:gid]" or names, resolved in the container
  bool tty = false;
  bool stdin_open = false;  // -i
  bool init = false;
  std::vector<Ulimit> ulimits;
  bool no_new_privileges = false;
  bool privileged = false;
  std::vector<std::string> cap_add, cap_drop;
  bool read_only = false;

  // Namespaces and identity.
  std::string hostname;
  std::string network = "slirp4netns";  // none | host | slirp4netns | container:X
  std::string ipc = "private";          // private | host | container:X
  std::string pid = "private";          // private | host | container:X
  std::string uts = "private";          // private | host
  std::vector<MountSpec> mounts;        // tmpfs, binds, volumes
  std::vector<std::string> image_volumes;  // the image's VOLUMEs: create time only, not stored
  int64_t shm_size = 64 * 1024 * 1024;

  // Life cycle.
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  RestartPolicy restart;
  std::string stop_signal = "SIGTERM";
  int stop_timeout = 10;
  bool auto_remove = false;  // --rm
  std::string log_driver = "k8s-file";
  std::vector<std::string> exposed_ports;  // "80/tcp"
  // Services (den/health.h, den/systemd.h).
  HealthConfig health;
  std::string sdnotify = "conmon";  // conmon | container | ignore (NOTIFY_SOCKET use)
  std::vector<std::string> create_command;  // den's argv that created it (generate systemd --new)

  // Networking (see network.h).
  std::vector<PortMapping> ports;          // -p, -P (host ports resolved at create)
  std::vector<std::string> add_hosts;      // "name:ip"
  std::vector<std::string> dns, dns_search, dns_options;
  std::string mac_address;
  std::vector<std::string> network_aliases;  // --network-alias
  std::vector<std::string> links;            // "name:alias"
  std::vector<std::string> networks;         // user networks (network connect), `network` first

  // Resource limits (den/cgroup.h).
  Resources resources;
  std::string cgroups = "enabled";  // enabled | disabled | no-conmon
  std::string cgroup_parent;        // --cgroup-parent
  std::string cgroup_manager;       // --cgroup-manager at create ("" = config/auto)

  // Pods (den/pod.h).
  std::string pod;             // the pod's ID, "" when not in a pod
  bool infra = false;          // the pod's infra container (runs den-init --pause)
  std::string conmon_pidfile;  // the monitor's pid is written here at each start

  // The argv the container runs: entrypoint + cmd.
  std::vector<std::string> argv() const;
};

enum class ContainerStatus { Created, Running, Paused, Stopping, Exited, Removing };
std::string_view status_name(ContainerStatus s);

struct ContainerState {
  ContainerStatus status = ContainerStatus::Created;
  pid_t pid = 0;              // container init, host pid
  uint64_t pid_start = 0;     // /proc/<pid>/stat starttime, for liveness
  pid_t monitor_pid = 0;
  uint64_t monitor_start = 0;
  int exit_code = 0;
  bool oom_killed = false;
  std::string error;          // why it could not start
  int64_t started_at = 0;
  int64_t finished_at = 0;
  int restart_count = 0;
  bool stopped_by_user = false;  // for unless-stopped / on-failure
  std::string boot_id;
  std::string health;       // "", starting, healthy, unhealthy (den/health.h)
  bool restarting = false;  // exited, waiting for its restart policy's next run
  std::string cgroup;  // the container's cgroup while it runs (absolute), "" for none
  // The config fields `ps` shows (config_summary), copied here at create and
  // rename, so that ps reads one small file per container, not two.
  Json summary;
};

// The subset of a config that state.json carries for ps.
Json config_summary(const ContainerConfig& c);

Json to_json(const ContainerConfig& c);
ContainerConfig container_config_from_json(const Json& j);
Json to_json(const ContainerState& s);
ContainerState container_state_from_json(const Json& j);

// /proc/<pid>/stat field 22 (start time in clock ticks since boot), 0 if the
// process is gone or a zombie.
uint64_t process_start_time(pid_t pid);
// Current boot id (/proc/sys/kernel/random/boot_id).
std::string current_boot_id();
// docker-style random names: "adjective_noun".
std::string random_container_name();

class ContainerStore {
 public:
  explicit ContainerStore(Store& store);

  std::string dir(const std::string& id) const;      // GRAPHROOT/containers/<id>
  std::string run_dir(const std::string& id) const;  // RUNROOT/c/<id12>
  std::string log_path(const std::string& id) const { return dir(id) + "/ctr.log"; }

  // Reserves the name (or a random one when empty) and writes config + state.
  // Throws Errc::Exists when the name is taken.
  ContainerConfig create(ContainerConfig cfg);
  // IDs of all containers (directory listing).
  std::vector<std::string> list_ids() const;
  // State of every container, with the config fields ps shows (from the
  // state's summary; config.json only for a container without one). Those
  // that cannot be read (removed meanwhile) are left out. Reads in parallel
  // for many containers.
  struct Entry {
    ContainerConfig config;
    ContainerState state;
  };
  std::vector<Entry> load_all() const;
  // Resolves a name, full ID or unique ID prefix. Throws Errc::NotFound
  // ("no such container: X").
  std::string resolve(const std::string& name_or_id) const;
  std::optional<std::string> try_resolve(const std::string& name_or_id) const;

  ContainerConfig config(const std::string& id) const;
  // Reads the state and corrects it when the recorded processes are gone
  // (monitor killed, host rebooted): such containers read as exited.
  ContainerState state(const std::string& id) const;
  void save_state(const std::string& id, const ContainerState& s);
  // A container that fills the disk must still get its exit status recorded.
  // The monitor keeps a reserve file (state.reserve, kReserve bytes of
  // allocated space) in the container's directory while the container runs;
  // save_exit_state writes state.json and, when the disk is full (ENOSPC,
  // EDQUOT), frees the reserve and writes it again. reserve_state_space
  // (re)creates the reserve, best effort.
  void reserve_state_space(const std::string& id);
  void save_exit_state(const std::string& id, const ContainerState& s);
  void save_config(const ContainerConfig& c);

  FileLock lock(const std::string& id);
  // A name file whose container directory is missing (a den killed between
  // reserving the name and creating the container) names no container.
  // Its creator holds a flock on it while it works, so such a name is
  // "dangling" only once that lock is free. reclaim_name frees it (and
  // returns true); create and rename reclaim one by themselves.
  bool reclaim_name(const std::string& name);
  std::vector<std::string> dangling_names() const;
  void rename(const std::string& id, const std::string& new_name);
  // Removes files and the name. Caller holds the lock and has stopped it.
  void remove(const std::string& id);
  // remove() in two steps: takes the container out of the store at once (its
  // directory renamed into tmp/, its name freed) and returns the trash, whose
  // files are deleted when it goes away (or by the next writer, after a crash).
  Store::Staging detach(const std::string& id);

  Store& store() { return store_; }

 private:
  Store& store_;
  std::string root_;
};

}  // namespace den
