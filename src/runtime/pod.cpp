// Pod life cycle (den/pod.h): create with an infra container, start, stop,
// kill, remove, the exit policy, and readiness for systemd.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "den/error.h"
#include "den/events.h"
#include "den/fs.h"
#include "den/hash.h"
#include "den/log.h"
#include "den/monitor.h"
#include "den/network.h"
#include "den/pod.h"
#include "den/strings.h"
#include "den/systemd.h"
#include "den/timefmt.h"

namespace den {

std::string infra_rootfs(const Store& store) { return store.root() + "/pods/infra-root"; }

namespace {

bool is_running(ContainerStatus s) {
  return s == ContainerStatus::Running || s == ContainerStatus::Paused || s == ContainerStatus::Stopping;
}

void emit_pod_event(const Config& cfg, const std::string& action, const PodRecord& p) {
  Event e;
  e.type = "pod";
  e.action = action;
  e.id = p.id;
  e.attributes = p.labels;
  e.attributes["name"] = p.name;
  emit_event(cfg, std::move(e));
}

// A lock held by this process only: fcntl record locks are not inherited by
// fork, so a container monitor forked while it is held does not keep it (a
// flock would stay held for as long as that monitor lives).
class ProcessLock {
 public:
  explicit ProcessLock(const std::string& path) {
    fd_ = UniqueFd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd_) throw sys_error("open " + path);
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    while (::fcntl(fd_.get(), F_SETLKW, &fl) != 0)
      if (errno != EINTR) throw sys_error("lock " + path);
  }

 private:
  UniqueFd fd_;
};

// The infra container's config for a new pod.
ContainerConfig infra_config(const Config& cfg, const PodSpec& spec, const PodRecord& p) {
  ContainerConfig c;
  c.id = p.infra_id;
  c.name = spec.infra_name.empty() ? p.id.substr(0, 12) + "-infra" : spec.infra_name;
  c.created = p.created;
  c.pod = p.id;
  c.infra = true;
  c.image_name = "den-pause";
  c.entrypoint = {"/run/den-init"};
  c.cmd = {"--pause"};
  c.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  c.hostname = p.effective_hostname();
  c.sdnotify = "ignore";  // den itself tells systemd about a pod (start_pod_notify)
  c.log_driver = "none";
  c.stop_timeout = 10;
  c.conmon_pidfile = spec.infra_conmon_pidfile;
  c.create_command = spec.create_command;
  // Networking: the pod's.
  NetworkMode m = parse_network_mode(spec.network, cfg.network_cmd);
  if (m.kind == "slirp4netns" || m.kind == "pasta")
    c.network = m.options.empty() ? m.kind : m.kind + ":" + join(m.options, ",");
  else if (m.kind == "container" || m.kind == "ns")
    throw Error(fmt::format("invalid --network \"{}\" for a pod: use none, host, slirp4netns, pasta or a network "
                            "name",
                            spec.network),
                Errc::Invalid);
  else
    c.network = m.kind == "user" ? m.arg : m.kind;
  if (m.kind == "user") {
    c.network = NetworkStore(cfg).require(m.arg).name;
    c.networks = {c.network};
  }
  for (const auto& h : spec.add_hosts) c.add_hosts.push_back(parse_add_host(h));
  for (const auto& d : spec.dns) c.dns.push_back(parse_dns_server(d));
  c.dns_search = spec.dns_search;
  c.dns_options = spec.dns_options;
  std::vector<PortMapping> ports;
  for (const auto& s : spec.publish) ports.push_back(parse_port_spec(s));
  if (!ports.empty()) {
    if (m.kind == "none")
      throw Error("conflicting options: port publishing and --network none", Errc::Invalid);
    if (m.kind == "host") {
      log::warn("published ports are discarded when using host network mode");
    } else {
      reserve_host_ports(ports, cfg.rootless);
      c.ports = ports;
      for (const auto& pm : expand_ports(ports))
        c.exposed_ports.push_back(fmt::format("{}/{}", pm.container_port, pm.protocol));
      std::sort(c.exposed_ports.begin(), c.exposed_ports.end());
      c.exposed_ports.erase(std::unique(c.exposed_ports.begin(), c.exposed_ports.end()), c.exposed_ports.end());
    }
  }
  return c;
}

// Signals all, then waits for each (SIGKILL at the deadline), then for each
// monitor. Returns the IDs that were running.
std::vector<std::string> stop_containers(ContainerStore& cs, const std::vector<std::string>& ids, int timeout) {
  struct Stopping {
    std::string id;
    int64_t deadline;
  };
  std::vector<Stopping> todo;
  for (const auto& id : ids) {
    ContainerConfig c = cs.config(id);
    ContainerState st;
    {
      FileLock l = cs.lock(id);
      st = cs.state(id);
      st.stopped_by_user = true;
      st.restarting = false;
      cs.save_state(id, st);
    }
    if (!is_running(st.status)) continue;
    int secs = timeout >= 0 ? timeout : c.stop_timeout;
    if (st.pid > 0) ::kill(st.pid, parse_signal(c.stop_signal));
    todo.push_back({id, now_nanos() + int64_t{secs} * 1000000000});
  }
  std::vector<std::string> stopped;
  for (const auto& s : todo) {
    ContainerState st;
    int64_t left_ms = std::max<int64_t>(0, (s.deadline - now_nanos()) / 1000000);
    if (!wait_for_exit(cs, s.id, static_cast<int>(left_ms), &st)) {
      log::debug("pod stop: {} did not exit in time, sending SIGKILL", s.id.substr(0, 12));
      if (st.pid > 0) ::kill(st.pid, SIGKILL);
      wait_for_exit(cs, s.id, -1, &st);
    }
    // Its monitor too: a systemd unit's stop expects the processes gone.
    int64_t end = now_nanos() + 10000000000LL;
    while (st.monitor_pid > 0 && st.monitor_start != 0 && process_start_time(st.monitor_pid) == st.monitor_start &&
           now_nanos() < end)
      ::usleep(10000);
    stopped.push_back(s.id);
  }
  return stopped;
}

}  // namespace

PodRecord create_pod(ContainerStore& cs, const PodSpec& spec) {
  log::Phase phase("pod create");
  Store& store = cs.store();
  const Config& cfg = store.config();
  PodStore ps(store);
  if (spec.exit_policy != "continue" && spec.exit_policy != "stop")
    throw Error(fmt::format("invalid --exit-policy \"{}\": use continue or stop", spec.exit_policy), Errc::Invalid);
  if (!spec.name.empty() && !valid_pod_name(spec.name))
    throw Error(fmt::format("invalid pod name \"{}\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", spec.name),
                Errc::Invalid);
  PodRecord p;
  p.name = spec.name;
  p.hostname = spec.hostname;
  p.labels = spec.labels;
  p.exit_policy = spec.exit_policy;
  p.infra_conmon_pidfile = spec.infra_conmon_pidfile;
  p.create_command = spec.create_command;
  for (const auto& ns : spec.share) {
    if (ns == "none" || ns.empty()) continue;
    if (ns != "net" && ns != "ipc" && ns != "uts" && ns != "pid")
      throw Error(fmt::format("invalid --share \"{}\": den pods share net, ipc, uts and pid (or none)", ns),
                  Errc::Invalid);
    if (std::find(p.shared.begin(), p.shared.end(), ns) == p.shared.end()) p.shared.push_back(ns);
  }
  std::sort(p.shared.begin(), p.shared.end());
  if (!spec.infra) {
    bool net = !spec.network.empty() || !spec.publish.empty() || !spec.add_hosts.empty() || !spec.dns.empty() ||
               !spec.dns_search.empty() || !spec.dns_options.empty() || !spec.infra_conmon_pidfile.empty() ||
               !spec.infra_name.empty();
    if (net)
      throw Error("a pod without infra container (--infra=false) has no network, ports or etc files of its own: drop "
                  "-p/--network/--add-host/--dns/--infra-name/--infra-conmon-pidfile or keep the infra",
                  Errc::Invalid);
    p.shared.clear();
  }
  if (spec.replace && !spec.name.empty())
    if (auto old = ps.try_resolve(spec.name)) remove_pod(cs, *old, true);
  p.id = random_hex(64);
  p.created = now_nanos();
  if (spec.infra) p.infra_id = random_hex(64);
  // Checked before anything is written: network, ports, etc files.
  std::optional<ContainerConfig> infra;
  if (spec.infra) {
    infra = infra_config(cfg, spec, p);
    if (cs.try_resolve(infra->name))
      throw Error(fmt::format("the container name \"{}\" is already in use: choose another --infra-name",
                              infra->name),
                  Errc::Exists);
  }
  // The record first (naming the infra), the infra second: a den killed in
  // between leaves a pod whose infra is missing, which pod rm -f removes.
  p = ps.create(p);
  if (infra) {
    try {
      mkdirs(infra_rootfs(store), 0755);
      infra->pod = p.id;
      infra->rootfs = infra_rootfs(store);
      infra->hostname = p.effective_hostname();
      if (spec.infra_name.empty()) infra->name = p.id.substr(0, 12) + "-infra";
      cs.create(*infra);
    } catch (...) {
      try {
        ps.remove(p.id);
      } catch (const std::exception& e) {
        log::warn("pod {}: {}", p.id.substr(0, 12), e.what());
      }
      throw;
    }
    emit_container_event(cfg, "create", infra->id, infra->name, infra->image_name, infra->labels);
  }
  emit_pod_event(cfg, "create", p);
  return p;
}

std::vector<PodMember> pod_members(ContainerStore& cs, const std::string& pod_id) {
  std::vector<PodMember> out;
  std::vector<std::pair<int64_t, PodMember>> sorted;
  for (auto& e : cs.load_all()) {
    if (e.config.pod != pod_id) continue;
    PodMember m;
    m.id = e.config.id;
    m.name = e.config.name;
    m.infra = e.config.infra;
    m.status = e.state.status;
    m.state = e.state;
    sorted.emplace_back(m.infra ? INT64_MIN : e.config.created, std::move(m));
  }
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [k, m] : sorted) out.push_back(std::move(m));
  return out;
}

std::string pod_status_of(ContainerStore& cs, const std::string& pod_id) {
  std::vector<ContainerStatus> states;
  for (const auto& m : pod_members(cs, pod_id)) states.push_back(m.status);
  return pod_status(states);
}

void join_pod(const PodRecord& pod, ContainerConfig& c, const std::vector<std::string>& user_set) {
  c.pod = pod.id;
  if (pod.infra_id.empty()) return;
  auto given = [&](const char* f) { return std::find(user_set.begin(), user_set.end(), f) != user_set.end(); };
  if (pod.shares("net")) {
    if (given("publish") || given("publish-all"))
      throw Error(fmt::format("published ports must be set on the pod, not on a container in it: den pod create -p "
                              "... (pod {} shares its network)",
                              pod.name),
                  Errc::Invalid);
    for (const char* f : {"network", "net", "add-host", "dns", "dns-search", "dns-option", "mac-address",
                          "network-alias", "link"})
      if (given(f))
        throw Error(fmt::format("--{} cannot be set on a container in pod {}, which shares the pod's network: set "
                                "it on the pod (den pod create --{} ...)",
                                f, pod.name, std::string(f) == "net" ? "network" : f),
                    Errc::Invalid);
    c.network = "container:" + pod.infra_id;
    c.networks.clear();
    c.ports.clear();
  }
  if (pod.shares("uts")) {
    if (given("hostname"))
      throw Error(fmt::format("--hostname cannot be set on a container in pod {}, which shares the pod's UTS "
                              "namespace: set it on the pod (den pod create --hostname ...)",
                              pod.name),
                  Errc::Invalid);
    c.uts = "container:" + pod.infra_id;
    c.hostname = pod.effective_hostname();
  }
  if (pod.shares("ipc")) {
    if (given("ipc"))
      throw Error(fmt::format("--ipc cannot be set on a container in pod {}, which shares the pod's IPC namespace",
                              pod.name),
                  Errc::Invalid);
    c.ipc = "container:" + pod.infra_id;
  }
  if (pod.shares("pid")) {
    if (given("pid"))
      throw Error(fmt::format("--pid cannot be set on a container in pod {}, which shares the pod's PID namespace",
                              pod.name),
                  Errc::Invalid);
    c.pid = "container:" + pod.infra_id;
  }
}

void ensure_pod_infra_running(ContainerStore& cs, const std::string& pod_id) {
  PodStore ps(cs.store());
  PodRecord p = ps.get(pod_id);
  if (p.infra_id.empty()) return;
  log::Phase phase("pod: infra");
  ProcessLock l(ps.dir(pod_id) + "/start.lock");
  if (!is_dir(cs.dir(p.infra_id)))
    throw Error(fmt::format("the infra container of pod {} is gone: remove the pod (den pod rm -f {}) and create it "
                            "again",
                            p.name, p.name),
                Errc::NotFound);
  if (is_running(cs.state(p.infra_id).status)) return;
  {
    FileLock cl = cs.lock(p.infra_id);
    ContainerState st = cs.state(p.infra_id);
    st.stopped_by_user = false;
    cs.save_state(p.infra_id, st);
  }
  StartResult r = start_container(cs, p.infra_id, -1);
  if (!r.ok)
    throw Error(fmt::format("unable to start the infra container of pod {}: {}", p.name, r.error))
        .with_exit_code(r.exit_code);
}

PodStartResult start_pod(ContainerStore& cs, const std::string& pod_id) {
  log::Phase phase("pod start");
  PodStore ps(cs.store());
  PodRecord p = ps.get(pod_id);
  PodStartResult r;
  ensure_pod_infra_running(cs, pod_id);
  for (const auto& m : pod_members(cs, pod_id)) {
    if (m.infra || is_running(m.status)) continue;
    {
      FileLock l = cs.lock(m.id);
      ContainerState st = cs.state(m.id);
      st.stopped_by_user = false;
      cs.save_state(m.id, st);
    }
    StartResult sr = start_container(cs, m.id, -1);
    if (!sr.ok) r.errors.push_back(fmt::format("unable to start container {}: {}", m.name, sr.error));
  }
  if (!p.infra_id.empty()) r.infra_monitor = cs.state(p.infra_id).monitor_pid;
  emit_pod_event(cs.store().config(), "start", p);
  return r;
}

PodStartResult start_pod_notify(ContainerStore& cs, const std::string& pod_id) {
  const char* env = std::getenv("NOTIFY_SOCKET");
  if (!env || !*env) return start_pod(cs, pod_id);
  std::string socket = env;
  ::unsetenv("NOTIFY_SOCKET");  // the containers' monitors must not report themselves
  PodStartResult r;
  try {
    r = start_pod(cs, pod_id);
  } catch (...) {
    ::setenv("NOTIFY_SOCKET", socket.c_str(), 1);
    throw;
  }
  ::setenv("NOTIFY_SOCKET", socket.c_str(), 1);
  if (r.infra_monitor > 0)
    sd_notify(fmt::format("MAINPID={}\nREADY=1", r.infra_monitor));
  else
    sd_notify("READY=1");
  return r;
}

void stop_pod(ContainerStore& cs, const std::string& pod_id, int timeout) {
  log::Phase phase("pod stop");
  PodStore ps(cs.store());
  PodRecord p = ps.get(pod_id);
  const Config& cfg = cs.store().config();
  std::vector<std::string> members, infra;
  for (const auto& m : pod_members(cs, pod_id)) (m.infra ? infra : members).push_back(m.id);
  std::vector<std::string> stopped = stop_containers(cs, members, timeout);
  for (const auto& id : stop_containers(cs, infra, timeout)) stopped.push_back(id);
  for (const auto& id : stopped) {
    try {
      ContainerConfig c = cs.config(id);
      emit_container_event(cfg, "stop", id, c.name, c.image_name, c.labels);
    } catch (const Error&) {  // an --rm member is gone
    }
  }
  emit_pod_event(cfg, "stop", p);
}

int kill_pod(ContainerStore& cs, const std::string& pod_id, int sig) {
  PodStore ps(cs.store());
  PodRecord p = ps.get(pod_id);
  int n = 0;
  for (const auto& m : pod_members(cs, pod_id)) {
    if (!is_running(m.status) || m.state.pid <= 0) continue;
    if (sig == SIGKILL || sig == SIGTERM || sig == SIGINT) {
      FileLock l = cs.lock(m.id);
      ContainerState st = cs.state(m.id);
      st.stopped_by_user = true;
      cs.save_state(m.id, st);
    }
    ContainerConfig c = cs.config(m.id);
    emit_container_event(cs.store().config(), "kill", m.id, c.name, c.image_name, c.labels,
                         {{"signal", std::to_string(sig)}});
    if (::kill(m.state.pid, sig) == 0) n++;
  }
  emit_pod_event(cs.store().config(), "kill", p);
  return n;
}

void remove_pod(ContainerStore& cs, const std::string& pod_id, bool force, int timeout) {
  log::Phase phase("pod rm");
  PodStore ps(cs.store());
  const Config& cfg = cs.store().config();
  PodRecord p = ps.get(pod_id);
  std::vector<PodMember> members = pod_members(cs, pod_id);
  std::vector<std::string> running;
  for (const auto& m : members)
    if (is_running(m.status)) running.push_back(m.name);
  if (!running.empty()) {
    if (!force)
      throw Error(fmt::format("pod {} has running containers ({}): stop the pod first (den pod stop {}) or remove it "
                              "with -f",
                              p.name, join(running, ", "), p.name),
                  Errc::InUse);
    stop_pod(cs, pod_id, timeout);
  }
  // Members first, the infra second, the record last.
  std::stable_sort(members.begin(), members.end(), [](const PodMember& a, const PodMember& b) {
    return !a.infra && b.infra;
  });
  for (const auto& m : members) {
    FileLock l = cs.lock(m.id);
    if (!is_dir(cs.dir(m.id))) continue;  // an --rm member removed itself
    ContainerConfig c = cs.config(m.id);
    remove_container(cs, m.id);
    emit_container_event(cfg, "destroy", m.id, c.name, c.image_name, c.labels);
  }
  // An infra whose directory is gone (a den killed during pod create) may
  // have left its name: free it (only if it names no container).
  if (!p.infra_id.empty() && !is_dir(cs.dir(p.infra_id))) cs.reclaim_name(p.id.substr(0, 12) + "-infra");
  ps.remove(pod_id);
  emit_pod_event(cfg, "remove", p);
}

void pod_member_exited(ContainerStore& cs, const ContainerConfig& member) {
  if (member.pod.empty() || member.infra) return;
  try {
    PodStore ps(cs.store());
    if (!is_dir(ps.dir(member.pod))) return;
    PodRecord p = ps.get(member.pod);
    if (p.exit_policy != "stop" || p.infra_id.empty() || !is_dir(cs.dir(p.infra_id))) return;
    for (const auto& m : pod_members(cs, member.pod))
      if (!m.infra && m.id != member.id && is_running(m.status)) return;
    ContainerState st;
    {
      FileLock l = cs.lock(p.infra_id);
      st = cs.state(p.infra_id);
      if (!is_running(st.status)) return;
      st.stopped_by_user = true;
      cs.save_state(p.infra_id, st);
    }
    log::debug("pod {}: last container exited, stopping the infra (--exit-policy=stop)", p.name);
    if (st.pid > 0) ::kill(st.pid, SIGTERM);
    emit_pod_event(cs.store().config(), "stop", p);
  } catch (const std::exception& e) {
    log::warn("pod exit policy: {}", e.what());
  }
}

}  // namespace den
