// kube play, kube down, kube generate (and podman's old spellings play kube,
// generate kube). The YAML is turned into a plan by libden (den/kube.h);
// this file carries the plan out through the commands' own paths (pods as
// `pod create` makes them, containers as `den create` makes them) and undoes
// what it made when a step fails.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <iterator>

#include "cli.h"
#include "den/error.h"
#include "den/events.h"
#include "den/fs.h"
#include "den/image.h"
#include "den/kube.h"
#include "den/log.h"
#include "den/monitor.h"
#include "den/mount_spec.h"
#include "den/network.h"
#include "den/pod.h"
#include "den/strings.h"
#include "den/timefmt.h"
#include "den/volume.h"

namespace den::cli {

namespace {

kube::Plan load_plan(const std::string& file) {
  std::string text;
  if (file == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    auto t = read_file_if_exists(file);
    if (!t) throw Error(fmt::format("{}: no such file", file), Errc::NotFound);
    text = *t;
  }
  log::Phase phase("kube: parse");
  kube::Plan plan = kube::parse_kube_yaml(text, file == "-" ? "stdin" : file);
  log::debug("kube plan:\n{}", kube::describe(plan));
  return plan;
}

// Stops and removes a container that this play made (SIGKILL: it never served).
void discard_container(ContainerStore& cs, const std::string& id) {
  try {
    ContainerState st = cs.state(id);
    if ((st.status == ContainerStatus::Running || st.status == ContainerStatus::Paused) && st.pid > 0) {
      ::kill(st.pid, SIGKILL);
      wait_for_exit(cs, id, 10000, &st);
    }
    FileLock l = cs.lock(id);
    if (is_dir(cs.dir(id))) remove_container(cs, id);
  } catch (const Error& e) {
    log::warn("kube play: removing container {}: {}", id.substr(0, 12), e.what());
  }
}

// Everything one play made, in order, so that a failure undoes it all.
struct Made {
  std::vector<std::string> volumes;     // volume names (PVCs, emptyDirs, claims created on first use)
  std::vector<std::string> pods;        // pod IDs
  std::vector<std::string> containers;  // container IDs (members and init containers)
};

void undo(Context& ctx, const Made& m) {
  ContainerStore cs(ctx.store());
  for (auto it = m.containers.rbegin(); it != m.containers.rend(); ++it) discard_container(cs, *it);
  for (auto it = m.pods.rbegin(); it != m.pods.rend(); ++it) {
    try {
      remove_pod(cs, *it, true, 0);
    } catch (const Error& e) {
      log::warn("kube play: removing pod {}: {}", it->substr(0, 12), e.what());
    }
  }
  if (m.volumes.empty()) return;
  VolumeStore vs(ctx.store());
  run_in_userns(ctx.config(), [&] {
    for (const auto& v : m.volumes) {
      try {
        vs.remove(v, true);
      } catch (const Error& e) {
        log::warn("kube play: removing volume {}: {}", v, e.what());
      }
    }
  });
}

// The checks that need the host, before anything is created: hostPath
// sources by their type (podman's rules), pods that exist.
void check_host(Context& ctx, const kube::Plan& plan, bool replace) {
  PodStore ps(ctx.store());
  for (const auto& pod : plan.pods) {
    if (!replace && ps.try_resolve(pod.name) && ps.get(*ps.try_resolve(pod.name)).name == pod.name)
      throw Error(fmt::format("pod \"{}\" already exists: remove it (den kube down, den pod rm -f) or use --replace",
                              pod.name),
                  Errc::Exists);
    for (const auto* list : {&pod.init_containers, &pod.containers})
      for (const auto& c : *list)
        for (const auto& m : c.mounts) {
          if (m.kind != kube::MountPlan::Kind::HostPath) continue;
          struct stat st;
          bool exists = ::stat(m.source.c_str(), &st) == 0;
          const std::string& t = m.host_path_type;
          auto bad = [&](const char* what) {
            throw Error(fmt::format("pod {}: container {}: hostPath {}: {}", pod.name, c.kube_name, m.source, what),
                        Errc::Invalid);
          };
          if (t == "DirectoryOrCreate" || t == "FileOrCreate") continue;  // made below
          if (!exists) bad("does not exist (create it, or use type DirectoryOrCreate)");
          if (t == "Directory" && !S_ISDIR(st.st_mode)) bad("is not a directory");
          if (t == "File" && !S_ISREG(st.st_mode)) bad("is not a file");
          if (t == "Socket" && !S_ISSOCK(st.st_mode)) bad("is not a socket");
          if (!t.empty() && t != "Directory" && t != "File" && t != "Socket")
            bad(("type " + t + " is not supported: use Directory, DirectoryOrCreate, File, FileOrCreate or Socket")
                    .c_str());
        }
  }
}

void make_host_paths(const kube::PodPlan& pod) {
  for (const auto* list : {&pod.init_containers, &pod.containers})
    for (const auto& c : *list)
      for (const auto& m : c.mounts) {
        if (m.kind != kube::MountPlan::Kind::HostPath || path_exists(m.source)) continue;
        if (m.host_path_type == "DirectoryOrCreate") mkdirs(m.source, 0755);
        if (m.host_path_type == "FileOrCreate") {
          mkdirs(dirname_of(m.source), 0755);
          write_file_atomic(m.source, "", 0644);
        }
      }
}

// Removes the pods the plan names (if they exist), with their containers and
// the anonymous (emptyDir) volumes of those; `out` gets their IDs.
std::vector<std::string> teardown_pods(Context& ctx, const kube::Plan& plan) {
  ContainerStore cs(ctx.store());
  PodStore ps(ctx.store());
  VolumeStore vs(ctx.store());
  std::vector<std::string> removed;
  for (const auto& pod : plan.pods) {
    auto id = ps.try_resolve(pod.name);
    if (!id || ps.get(*id).name != pod.name) continue;  // gone already: not an error
    std::vector<ContainerConfig> members;
    for (const auto& m : pod_members(cs, *id)) members.push_back(cs.config(m.id));
    remove_pod(cs, *id, true);
    run_in_userns(ctx.config(), [&] {
      for (const auto& c : members) remove_anonymous_volumes(vs, c);
    });
    removed.push_back(*id);
  }
  return removed;
}

int cmd_kube_down(Context& ctx, const Args& a) {
  kube::Plan plan = load_plan(a.positional[0]);
  std::vector<std::string> pods = teardown_pods(ctx, plan);
  std::string text = "Pods stopped:\n";
  for (const auto& id : pods) text += id + "\n";
  text += "Pods removed:\n";
  for (const auto& id : pods) text += id + "\n";
  text += "Volumes removed:\n";
  if (a.flag("force")) {
    VolumeStore vs(ctx.store());
    std::vector<std::string> names;
    for (const auto& v : plan.volumes)
      if (vs.find(v.name)) names.push_back(v.name);
    // run_in_userns forks: the child only removes.
    run_in_userns(ctx.config(), [&] {
      for (const auto& n : names) vs.remove(n, true);
    });
    for (const auto& n : names) text += n + "\n";
  }
  out(text);
  return 0;
}

struct PlayedPod {
  std::string id;
  std::vector<std::string> containers;
  pid_t infra_monitor = 0;
};

PlayedPod play_pod(Context& ctx, const kube::PodPlan& pod, const Args& a, Made& made) {
  ContainerStore cs(ctx.store());
  VolumeStore vs(ctx.store());
  PlayedPod out;
  make_host_paths(pod);
  PodSpec spec;
  spec.name = pod.name;
  spec.hostname = pod.hostname;
  spec.labels = pod.labels;
  if (pod.host_network) spec.network = "host";
  if (a.has("network")) spec.network = a.value("network");
  // --publish adds to the YAML's hostPorts and replaces those of the same
  // container port and protocol (podman's rule).
  std::vector<PortMapping> extra;
  for (const auto& p : a.list("publish")) extra.push_back(parse_port_spec(p));
  for (const auto& p : pod.ports) {
    bool replaced = std::any_of(extra.begin(), extra.end(), [&](const PortMapping& e) {
      return e.container_port == p.container_port && e.protocol == p.protocol;
    });
    if (!replaced)
      spec.publish.push_back(fmt::format("{}{}:{}/{}", p.host_ip.empty() ? "" : p.host_ip + ":", p.host_port,
                                         p.container_port, p.protocol));
  }
  for (const auto& p : a.list("publish")) spec.publish.push_back(p);
  spec.create_command = {"den", "kube", "play", a.positional[0]};
  {
    log::Phase phase("kube: pod " + pod.name);
    PodRecord rec = create_pod(cs, spec);
    out.id = rec.id;
    made.pods.push_back(rec.id);
  }
  // One anonymous volume per emptyDir, shared by the pod's containers.
  std::map<std::string, std::string> empty_dirs;
  for (const auto& name : pod.empty_dirs) {
    Volume v = vs.create(Volume{});
    made.volumes.push_back(v.name);
    empty_dirs[name] = v.name;
  }
  auto create = [&](const kube::ContainerPlan& c) {
    std::vector<std::string> args = kube::create_args(c, empty_dirs, out.id);
    if (a.flag("service-container")) args.insert(args.begin(), "--sdnotify=ignore");
    if (a.flag("quiet")) args.insert(args.begin(), "--quiet");
    log::Phase phase("kube: container " + c.name);
    CreatedContainer r = with_context(fmt::format("pod {}: container {}", pod.name, c.kube_name), [&] {
      return create_container_from_args(ctx, args, [&](ContainerConfig& cfg) {
        // emptyDir volumes go with the pod (rm -v, kube down).
        for (auto& m : cfg.mounts)
          for (const auto& [n, vol] : empty_dirs)
            if (m.type == "volume" && m.source == vol) m.anonymous = true;
        cfg.annotations["io.kubernetes.pod.name"] = pod.name;
        for (const auto& [k, v] : pod.annotations) cfg.annotations[k] = v;
      });
    });
    for (const auto& v : r.new_volumes) made.volumes.push_back(v);
    made.containers.push_back(r.config.id);
    return r.config;
  };
  bool start = a.value("start", "true") == "true";
  if (!start && !pod.init_containers.empty())
    log::warn("kube play --start=false: the init containers of pod {} run at its first start only with kube play",
              pod.name);
  // Init containers: in order, each to completion, then removed (podman's
  // default "once" init containers).
  if (start)
    for (const auto& ic : pod.init_containers) {
      ContainerConfig c = create(ic);
      StartResult r = start_container(cs, c.id, -1);
      if (!r.ok) throw Error(fmt::format("pod {}: init container {}: {}", pod.name, ic.kube_name, r.error));
      ContainerState st;
      wait_for_exit(cs, c.id, -1, &st);
      if (st.exit_code != 0)
        throw Error(fmt::format("pod {}: init container {} exited with code {}: see its output above or the YAML",
                                pod.name, ic.kube_name, st.exit_code));
      discard_container(cs, c.id);
      made.containers.erase(std::remove(made.containers.begin(), made.containers.end(), c.id), made.containers.end());
    }
  for (const auto& c : pod.containers) out.containers.push_back(create(c).id);
  return out;
}

int cmd_kube_play(Context& ctx, const Args& a) {
  log::Phase phase("kube play");
  if (a.flag("down")) return cmd_kube_down(ctx, a);
  if (a.flag("force")) throw Error("--force may be given only with --down", Errc::Invalid);
  kube::Plan plan = load_plan(a.positional[0]);
  for (const auto& w : plan.warnings) log::warn("{}", w);
  bool replace = a.flag("replace");
  for (const auto& p : a.list("publish")) parse_port_spec(p);  // bad input before --replace removes anything
  bool start = a.value("start", "true") == "true";
  if (a.flag("service-container") && !start) throw Error("--service-container needs --start=true", Errc::Invalid);
  check_host(ctx, plan, replace);
  if (replace) teardown_pods(ctx, plan);
  Made made;
  std::vector<PlayedPod> played;
  std::vector<std::string> volumes_out;
  ContainerStore cs(ctx.store());
  try {
    VolumeStore vs(ctx.store());
    for (const auto& v : plan.volumes) {
      if (vs.find(v.name)) {
        volumes_out.push_back(v.name);  // podman: an existing claim is used as it is
        continue;
      }
      Volume vol;
      vol.name = v.name;
      vol.labels = v.labels;
      vs.create(vol);
      made.volumes.push_back(v.name);
      volumes_out.push_back(v.name);
    }
    for (const auto& pod : plan.pods) played.push_back(play_pod(ctx, pod, a, made));
    // With --service-container the first pod starts last, through
    // start_pod_notify: its infra's monitor is MAINPID, and READY=1 goes out
    // once everything runs; the others start with NOTIFY_SOCKET hidden.
    bool notify = a.flag("service-container");
    std::string notify_socket = std::getenv("NOTIFY_SOCKET") ? std::getenv("NOTIFY_SOCKET") : "";
    if (start)
      for (size_t i = played.size(); i-- > 0;) {
        auto& p = played[notify ? i : played.size() - 1 - i];
        log::Phase sp("kube: start pod " + p.id.substr(0, 12));
        PodStartResult r;
        if (notify && &p == &played.front()) {
          if (!notify_socket.empty()) ::setenv("NOTIFY_SOCKET", notify_socket.c_str(), 1);
          r = start_pod_notify(cs, p.id);
        } else {
          if (notify) ::unsetenv("NOTIFY_SOCKET");
          r = start_pod(cs, p.id);
        }
        if (!r.errors.empty())
          throw Error(fmt::format("pod {}: starting containers: {}", PodStore(ctx.store()).get(p.id).name,
                                  join(r.errors, "; ")));
        p.infra_monitor = r.infra_monitor;
      }
  } catch (...) {
    undo(ctx, made);
    throw;
  }
  std::string text;
  if (!volumes_out.empty()) text += "Volumes:\n";
  for (const auto& v : volumes_out) text += v + "\n";
  for (const auto& p : played) {
    text += "Pod:\n" + p.id + "\n";
    if (!p.containers.empty()) text += p.containers.size() == 1 ? "Container:\n" : "Containers:\n";
    for (const auto& c : p.containers) text += c + "\n";
    text += "\n";
  }
  out(text);
  return 0;
}

// ---- generate ---------------------------------------------------------------------------

kube::GenerateContainer generate_input(Context& ctx, const ContainerConfig& c, const std::string& kube_name) {
  kube::GenerateContainer g;
  g.config = c;
  g.kube_name = kube_name;
  if (!c.image_id.empty())
    if (auto img = ctx.store().find_image(c.image_id)) {
      Json full = load_image_config(ctx.store(), *img);
      if (full.contains("config") && full["config"].is_object()) g.image_config = full["config"];
    }
  return g;
}

// The labels of a container that are its own (not the image's).
std::map<std::string, std::string> own_labels(const kube::GenerateContainer& g) {
  std::map<std::string, std::string> out;
  const Json& il = g.image_config.contains("Labels") && g.image_config["Labels"].is_object() ? g.image_config["Labels"]
                                                                                              : Json::object();
  for (const auto& [k, v] : g.config.labels)
    if (!(il.contains(k) && il[k].is_string() && il[k].get<std::string>() == v)) out[k] = v;
  return out;
}

int cmd_kube_generate(Context& ctx, const Args& a) {
  ContainerStore cs(ctx.store());
  PodStore ps(ctx.store());
  std::vector<kube::GeneratePod> pods;
  kube::GeneratePod loose;  // containers outside pods: one pod, podman's way
  for (const auto& arg : a.positional) {
    if (auto cid = cs.try_resolve(arg)) {
      ContainerConfig c = cs.config(*cid);
      if (!c.pod.empty())
        throw Error(fmt::format("container {} is in a pod: generate the pod instead (den kube generate {})", arg,
                                ps.get(c.pod).name),
                    Errc::Invalid);
      if (loose.containers.empty()) {
        loose.name = c.name + "-pod";
        loose.hostname = c.hostname;
        loose.host_network = c.network == "host";
      }
      loose.containers.push_back(generate_input(ctx, c, c.name));
      continue;
    }
    auto pid = ps.try_resolve(arg);
    if (!pid) throw Error(fmt::format("no such container or pod: {}", arg), Errc::NotFound);
    PodRecord rec = ps.get(*pid);
    kube::GeneratePod gp;
    gp.name = rec.name;
    gp.hostname = rec.hostname;
    gp.labels = rec.labels;
    std::vector<PortMapping> infra_ports;
    for (const auto& m : pod_members(cs, rec.id)) {
      ContainerConfig c = cs.config(m.id);
      if (m.infra) {
        infra_ports = c.ports;
        gp.host_network = c.network == "host";
        continue;
      }
      // Members are "<pod>-<name>" when kube play made them.
      std::string kn = c.name.rfind(rec.name + "-", 0) == 0 ? c.name.substr(rec.name.size() + 1) : c.name;
      gp.containers.push_back(generate_input(ctx, c, kn));
    }
    if (gp.containers.empty()) throw Error(fmt::format("pod {} has no containers to generate", arg), Errc::Invalid);
    // The pod's published ports: on the member that exposes the port, else the first.
    for (const auto& p : expand_ports(infra_ports)) {
      auto* target = &gp.containers.front();
      for (auto& g : gp.containers)
        if (std::find(g.config.exposed_ports.begin(), g.config.exposed_ports.end(),
                      fmt::format("{}/{}", p.container_port, p.protocol)) != g.config.exposed_ports.end())
          target = &g;
      auto& ep = target->config.exposed_ports;
      ep.erase(std::remove(ep.begin(), ep.end(), fmt::format("{}/{}", p.container_port, p.protocol)), ep.end());
      target->config.ports.push_back(p);
    }
    for (auto& g : gp.containers) {
      for (const auto& [k, v] : own_labels(g)) gp.labels.emplace(k, v);
      g.config.hostname.clear();
    }
    pods.push_back(gp);
  }
  if (!loose.containers.empty()) {
    for (const auto& g : loose.containers)
      for (const auto& [k, v] : own_labels(g)) loose.labels.emplace(k, v);
    pods.insert(pods.begin(), loose);
  }
  std::string yaml = kube::generate_kube_yaml(pods, a.flag("service"), now_nanos());
  if (a.has("filename")) {
    write_file_atomic(a.value("filename"), yaml, 0644);
    return 0;
  }
  out(yaml);
  return 0;
}

}  // namespace

void register_kube_commands(std::vector<Command>& t) {
  std::vector<Option> play_opts = {
      {"down", 0, OptKind::Bool, "", "Stop and remove the pods the file describes (kube down)", ""},
      {"force", 0, OptKind::Bool, "", "With --down: remove the PersistentVolumeClaim volumes too", ""},
      {"network", 0, OptKind::Value, "string", "The pods' network (instead of the default or hostNetwork)", ""},
      {"publish", 'p', OptKind::List, "list",
       "Publish a port of the pods (replaces a hostPort of the same container port and protocol)", ""},
      {"quiet", 'q', OptKind::Bool, "", "Suppress the pull output", ""},
      {"replace", 0, OptKind::Bool, "", "Remove existing pods of the file's names first", ""},
      {"service-container", 0, OptKind::Bool, "",
       "For a Type=notify unit: send MAINPID (the first pod's infra monitor) and READY=1 once all is started", ""},
      {"start", 0, OptKind::Bool, "", "Start the pods after creating them", "true"},
  };
  const char* play_example =
      "den kube play web.yaml\nden kube play --replace web.yaml\ncat web.yaml | den kube play -\n"
      "# kinds: Pod, Deployment (one replica), PersistentVolumeClaim (a volume), ConfigMap (env);\n"
      "# containers are named <pod>-<container>; hostPorts are published by the pod";
  t.push_back({{{"kube", "play"}},
               "[OPTIONS] FILE|-",
               "Create and start pods, containers and volumes from Kubernetes YAML",
               play_example, play_opts, false, 1, 1, cmd_kube_play});
  t.push_back({{{"play", "kube"}},
               "[OPTIONS] FILE|-",
               "Create and start pods, containers and volumes from Kubernetes YAML (old spelling of kube play)",
               play_example, play_opts, false, 1, 1, cmd_kube_play, true});
  std::vector<Option> down_opts = {
      {"force", 0, OptKind::Bool, "", "Remove the PersistentVolumeClaim volumes too", ""}};
  t.push_back({{{"kube", "down"}},
               "[OPTIONS] FILE|-",
               "Stop and remove the pods that a Kubernetes YAML file describes",
               "den kube down web.yaml\nden kube down --force web.yaml   # and its PersistentVolumeClaim volumes",
               down_opts, false, 1, 1, cmd_kube_down});
  std::vector<Option> gen_opts = {
      {"filename", 'f', OptKind::Value, "string", "Write the YAML to this file (default: standard output)", ""},
      {"service", 's', OptKind::Bool, "", "Also generate a Service with the published ports (NodePort)", ""},
  };
  const char* gen_example =
      "den kube generate web > web.yaml\nden kube generate -f web.yaml web db\nden kube generate -s mypod";
  t.push_back({{{"kube", "generate"}},
               "[OPTIONS] CONTAINER|POD...",
               "Generate Kubernetes YAML (kind: Pod) from containers or pods",
               gen_example, gen_opts, false, 1, -1, cmd_kube_generate});
  t.push_back({{{"generate", "kube"}},
               "[OPTIONS] CONTAINER|POD...",
               "Generate Kubernetes YAML from containers or pods (old spelling of kube generate)",
               gen_example, gen_opts, false, 1, -1, cmd_kube_generate, true});
}

}  // namespace den::cli
