// Pods (podman's model): a group of containers that share the network, IPC
// and UTS namespaces of an *infra* container, which den makes for the pod
// and which runs den-init in pause mode from a minimal directory root (no
// image). Published ports, --network, --add-host, --dns and the host name
// belong to the infra; members join its namespaces through the
// container:ID mechanism (ContainerConfig::network/ipc/uts) and get the
// pod's host name and /etc/hosts and resolv.conf.
//
// Store: GRAPHROOT/pods/<id>/pod.json (written atomically, built in the
// staging area and renamed into place), a per-pod flock
// GRAPHROOT/pods/<id>/lock, names reserved as files GRAPHROOT/pods/names/
// <name> (O_EXCL); pod names and container names are separate namespaces,
// as in podman. Membership is not stored in the pod: a container belongs to
// the pod its config names (ContainerConfig::pod), so a crash can never
// leave a member list that disagrees with the containers. A pod is created
// record first (with the infra's ID chosen), infra second, and removed
// members first, infra second, record last: a den killed half way leaves a
// pod whose infra may be missing, which `pod rm -f` removes and
// `system check` reports.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "den/container.h"
#include "den/json.h"
#include "den/lock.h"
#include "den/store.h"

namespace den {

struct PodRecord {
  std::string id;    // 64 hex
  std::string name;
  int64_t created = 0;  // unix nanos
  std::string hostname;  // the members' host name ("" = the pod's name)
  std::map<std::string, std::string> labels;
  std::string infra_id;               // "" for --infra=false
  std::vector<std::string> shared;    // namespaces the members share: "ipc", "net", "uts" (, "pid")
  std::string exit_policy = "continue";  // continue | stop (stop the infra when the last member exits)
  std::string infra_conmon_pidfile;   // the infra's monitor pid is written here at each start
  std::vector<std::string> create_command;

  bool shares(const std::string& ns) const;
  std::string effective_hostname() const { return hostname.empty() ? name : hostname; }
};

Json to_json(const PodRecord& p);
PodRecord pod_record_from_json(const Json& j);

// [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 128 characters (as container names).
bool valid_pod_name(const std::string& name);

// podman's pod status from the states of its containers (infra included):
// Created (no containers, or none ever started), Running (all running),
// Degraded (some running), Paused (all paused), Exited (all exited), Stopped
// (some exited, none running).
std::string pod_status(const std::vector<ContainerStatus>& states);

class PodStore {
 public:
  explicit PodStore(Store& store);

  std::string dir(const std::string& id) const;  // GRAPHROOT/pods/<id>
  // Reserves the name (Errc::Exists when taken, Errc::Invalid when bad; a
  // random one when empty) and writes the record. Sets id (when empty) and
  // created.
  PodRecord create(PodRecord p);
  void save(const PodRecord& p);
  std::vector<std::string> list_ids() const;
  // Every readable record (those being removed meanwhile are left out).
  std::vector<PodRecord> list() const;
  // Name, full ID or unique ID prefix.
  std::optional<std::string> try_resolve(const std::string& name_or_id) const;
  std::string resolve(const std::string& name_or_id) const;  // Errc::NotFound "no such pod: X"
  PodRecord get(const std::string& id) const;
  FileLock lock(const std::string& id);
  // Removes the record and frees the name (members must be gone).
  void remove(const std::string& id);

  Store& store() { return store_; }

 private:
  Store& store_;
  std::string root_;
};

// ---- life cycle (src/runtime/pod.cpp) -------------------------------------------

// What `pod create` (and `kube play`) asks for.
struct PodSpec {
  std::string name;  // "" = random
  std::string hostname;
  std::map<std::string, std::string> labels;
  bool infra = true;
  std::string infra_name;  // "" = "<id12>-infra"
  std::vector<std::string> share = {"ipc", "net", "uts"};
  std::string exit_policy = "continue";
  std::string infra_conmon_pidfile;
  bool replace = false;  // remove a pod of that name first (stopping it)
  // The infra's networking (as the run flags of the same names).
  std::string network;                // "" = the configured default
  std::vector<std::string> publish;   // -p specs
  std::vector<std::string> add_hosts, dns, dns_search, dns_options;
  std::vector<std::string> create_command;
};

struct PodMember {
  std::string id, name;
  bool infra = false;
  ContainerStatus status = ContainerStatus::Created;
  ContainerState state;
};

// Checks the spec, creates the record and the infra container (not started),
// emits the pod create event. Throws den::Error (bad input: Errc::Invalid,
// name taken: Errc::Exists) and leaves nothing behind.
PodRecord create_pod(ContainerStore& cs, const PodSpec& spec);

// The pod's containers (infra first, then members by creation time).
std::vector<PodMember> pod_members(ContainerStore& cs, const std::string& pod_id);
// pod_status() of them.
std::string pod_status_of(ContainerStore& cs, const std::string& pod_id);

// Makes a container config a member of the pod: sets c.pod and, when the
// pod has an infra, joins its shared namespaces (container:<infra id>) and
// takes the pod's host name. Refuses (Errc::Invalid, exit 125) a config that
// sets what belongs to the pod: ports, network, host name, etc files
// (`user_set` names the flags the user gave: "publish", "network",
// "hostname", "dns", "add-host", ...).
void join_pod(const PodRecord& pod, ContainerConfig& c, const std::vector<std::string>& user_set);

// Starts the infra (when it does not run) and then every member that does not
// run. Returns the errors of members that failed (the rest are started);
// throws when the infra cannot start. Emits the pod start event.
struct PodStartResult {
  pid_t infra_monitor = 0;  // the infra's monitor (MAINPID for systemd), 0 without infra
  std::vector<std::string> errors;
};
PodStartResult start_pod(ContainerStore& cs, const std::string& pod_id);
// start_pod for a Type=notify unit: the containers are started with
// NOTIFY_SOCKET hidden (they must not report themselves), then den sends
// MAINPID=<infra monitor> and READY=1 once all are started. Without
// NOTIFY_SOCKET it is start_pod.
PodStartResult start_pod_notify(ContainerStore& cs, const std::string& pod_id);
// Starts the infra of a member's pod if it is not running (the monitor of a
// member calls this before it joins the infra's namespaces). Takes the pod lock.
void ensure_pod_infra_running(ContainerStore& cs, const std::string& pod_id);

// Stops the members (stop signal to all at once; SIGKILL after `timeout`
// seconds, each container's own stop timeout when < 0), then the infra.
// Emits container stop events and the pod stop event.
void stop_pod(ContainerStore& cs, const std::string& pod_id, int timeout = -1);
// Sends `sig` to every running container of the pod; returns how many.
int kill_pod(ContainerStore& cs, const std::string& pod_id, int sig);
// Removes the pod: refused (Errc::InUse, naming them) while containers run,
// unless force, which stops them first. Removes members, infra, record.
void remove_pod(ContainerStore& cs, const std::string& pod_id, bool force, int timeout = -1);

// A member's monitor calls this when its container has exited for good: with
// exit_policy stop and no other member running, the infra is stopped.
void pod_member_exited(ContainerStore& cs, const ContainerConfig& member);

// The directory root of infra containers: GRAPHROOT/pods/infra-root.
std::string infra_rootfs(const Store& store);

}  // namespace den
