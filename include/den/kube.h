// Kubernetes YAML, both ways (`den kube play`, `den kube generate`).
//
// play: the YAML (one file, many documents) is parsed with yaml-cpp into a
// plain Plan — the volumes and pods to create, each pod with its containers —
// without touching the store. The plan is printable (`describe`) and
// unit-tested; each container becomes the argument vector of `den create`
// (`create_args`), so a played container goes through exactly the checks and
// the creation path of `den create`. The CLI (src/cli/cmd_kube.cpp) carries
// the plan out and removes what it made when a step fails.
//
// generate: den's containers (their ContainerConfig and image config) become
// a `kind: Pod` document, podman's way (entrypoint → command, cmd → args only
// where they differ from the image, env minus the image's defaults, binds →
// hostPath, named volumes → persistentVolumeClaim), so that playing it back
// recreates an equivalent pod.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "den/container.h"
#include "den/json.h"

namespace den::kube {

// ---- play: YAML → plan ------------------------------------------------------------

// One volume mount of a container, resolved from its volumeMounts entry and
// the pod's volumes.
struct MountPlan {
  enum class Kind { HostPath, Claim, EmptyDir, Tmpfs };
  Kind kind = Kind::HostPath;
  std::string source;       // host path (HostPath), claim name (Claim), pod volume name (EmptyDir)
  std::string destination;  // mountPath
  bool read_only = false;
  std::string host_path_type;  // HostPath: "", DirectoryOrCreate, Directory, FileOrCreate, File, Socket
};

struct ContainerPlan {
  std::string name;       // den's container name: <pod>-<container>, as podman
  std::string kube_name;  // the YAML's name
  std::string image;
  std::vector<std::string> command;  // → entrypoint (replaces the image's, and its Cmd)
  std::vector<std::string> args;     // → cmd
  bool has_command = false;          // command: given (even empty)
  std::vector<std::string> env;      // KEY=VALUE, ConfigMap references resolved
  std::string workdir;
  std::vector<PortMapping> ports;       // containerPort (exposed), hostPort (published by the pod)
  std::vector<MountPlan> mounts;
  std::string user;                     // runAsUser[:runAsGroup]
  bool privileged = false;
  bool read_only = false;               // readOnlyRootFilesystem
  bool no_new_privileges = false;       // allowPrivilegeEscalation: false
  std::vector<std::string> cap_add, cap_drop;
  int64_t memory = 0;                   // resources.limits.memory, bytes
  std::string cpus;                     // resources.limits.cpu, as --cpus ("0.5")
  bool stdin_open = false, tty = false;
  std::string restart = "always";       // no | always | on-failure (from the pod's restartPolicy)
  std::vector<std::string> health_cmd;  // livenessProbe.exec.command
  int health_interval = 0, health_timeout = 0, health_start = 0, health_retries = 0;  // seconds; 0: k8s default
  std::map<std::string, std::string> labels;  // the pod's labels
};

struct PodPlan {
  std::string name;
  std::string kind = "Pod";  // the document it came from (Pod, Deployment)
  std::map<std::string, std::string> labels, annotations;
  std::string hostname;
  bool host_network = false;
  std::string restart_policy = "Always";  // the YAML's (Always, OnFailure, Never)
  std::vector<PortMapping> ports;         // the containers' hostPorts: the pod publishes them
  std::vector<std::string> empty_dirs;    // pod volume names that are emptyDirs (one anonymous volume each)
  std::vector<ContainerPlan> init_containers;  // run to completion, in order, before the others start
  std::vector<ContainerPlan> containers;
};

struct VolumePlan {
  std::string name;  // PersistentVolumeClaim metadata.name
  std::map<std::string, std::string> labels, annotations;
};

struct Plan {
  std::vector<VolumePlan> volumes;  // PersistentVolumeClaim documents
  std::vector<PodPlan> pods;
  std::vector<std::string> warnings;  // printed by the CLI (replicas > 1, ignored fields)
};

// Parses all documents of `yaml`. `source` names the input in errors ("web.yaml",
// "stdin"). Throws Errc::Invalid: "SOURCE: line L, column C: ..." for YAML syntax,
// "SOURCE: document N (Pod \"web\"): FIELD: ..." for missing or bad fields,
// unknown kinds and unsupported volume types.
Plan parse_kube_yaml(const std::string& yaml, const std::string& source);

// The plan, one line per item, for --log-level=debug and tests.
std::string describe(const Plan& plan);

// `den create` arguments for a container (flags, then IMAGE and args).
// `empty_dir_volumes` maps the pod's emptyDir names to the anonymous volumes
// made for them; `pod` is passed as --pod when not empty.
std::vector<std::string> create_args(const ContainerPlan& c, const std::map<std::string, std::string>& empty_dir_volumes,
                                     const std::string& pod);

// k8s quantities: "128Mi" → 134217728, "1G" → 1e9, "500m" cpu → "0.5".
// Throw Errc::Invalid.
int64_t parse_memory_quantity(const std::string& q);
std::string cpu_quantity_to_cpus(const std::string& q);

// ---- generate: containers → YAML --------------------------------------------------------

struct GenerateContainer {
  ContainerConfig config;
  Json image_config = Json::object();  // the image's "config" (Entrypoint, Cmd, Env, WorkingDir, Labels)
  std::string kube_name;               // the container's name in the pod ("" = config.name)
};

struct GeneratePod {
  std::string name;  // metadata.name
  std::map<std::string, std::string> labels;
  std::string hostname;
  bool host_network = false;
  std::vector<PortMapping> ports;  // the pod's published ports (from the containers when empty)
  std::vector<GenerateContainer> containers;
};

// A `kind: Pod` document (and with `service`, a `kind: Service` with the
// published ports as NodePorts), with podman's header comment.
std::string generate_kube_yaml(const std::vector<GeneratePod>& pods, bool service, int64_t now_nanos);

}  // namespace den::kube
