#include "den/monitor.h"
#include "den/network.h"
#include "den/pod.h"
#include "den/volume.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <cerrno>
#include <cstring>

#include "den/cgroup.h"
#include "den/error.h"
#include "den/events.h"
#include "den/fs.h"
#include "den/hash.h"
#include "den/host_info.h"
#include "den/image.h"
#include "den/log.h"
#include "den/runtime.h"
#include "den/strings.h"
#include "den/systemd.h"
#include "den/timefmt.h"
#include "den/userns.h"

namespace den {

void write_frame(int fd, Frame type, std::string_view payload) {
  std::string buf;
  buf.reserve(payload.size() + 5);
  buf += static_cast<char>(type);
  uint32_t n = static_cast<uint32_t>(payload.size());
  buf += static_cast<char>(n >> 24);
  buf += static_cast<char>(n >> 16);
  buf += static_cast<char>(n >> 8);
  buf += static_cast<char>(n);
  buf.append(payload);
  write_all(fd, buf, "write to attach stream");
}

namespace {
bool read_exact(int fd, char* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, buf + got, n - got);
    if (r == 0) return false;
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    got += static_cast<size_t>(r);
  }
  return true;
}
}  // namespace

bool read_frame(int fd, Frame* type, std::string* payload) {
  char hdr[5];
  if (!read_exact(fd, hdr, 5)) return false;
  *type = static_cast<Frame>(hdr[0]);
  uint32_t n = (static_cast<uint32_t>(static_cast<uint8_t>(hdr[1])) << 24) |
               (static_cast<uint32_t>(static_cast<uint8_t>(hdr[2])) << 16) |
               (static_cast<uint32_t>(static_cast<uint8_t>(hdr[3])) << 8) | static_cast<uint8_t>(hdr[4]);
  payload->resize(n);
  return n == 0 || read_exact(fd, payload->data(), n);
}

int parse_signal(const std::string& raw) {
  static const std::pair<const char*, int> names[] = {
      {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"ILL", SIGILL},     {"TRAP", SIGTRAP},
      {"ABRT", SIGABRT}, {"BUS", SIGBUS},   {"FPE", SIGFPE},   {"KILL", SIGKILL},   {"USR1", SIGUSR1},
      {"SEGV", SIGSEGV}, {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},   {"TERM", SIGTERM},
      {"CHLD", SIGCHLD}, {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},
      {"TTOU", SIGTTOU}, {"URG", SIGURG},   {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},   {"VTALRM", SIGVTALRM},
      {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},   {"PWR", SIGPWR},     {"SYS", SIGSYS}};
  std::string s;
  for (char c : raw) s += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (s.rfind("SIG", 0) == 0) s = s.substr(3);
  if (!s.empty() && std::all_of(s.begin(), s.end(), ::isdigit)) {
    int n = std::stoi(s);
    if (n > 0 && n < 65) return n;
  }
  if (s.rfind("RTMIN+", 0) == 0) return SIGRTMIN + std::stoi(s.substr(6));
  for (const auto& [n, v] : names)
    if (s == n) return v;
  throw Error(fmt::format("invalid signal \"{}\"", raw), Errc::Invalid);
}

void run_in_userns(const Config& cfg, const std::function<void()>& fn) {
  if (!cfg.rootless || (::geteuid() == 0 && in_user_namespace())) {
    fn();
    return;
  }
  int errp[2];
  if (::pipe2(errp, O_CLOEXEC) != 0) throw sys_error("pipe");
  pid_t pid = ::fork();
  if (pid < 0) throw sys_error("fork");
  if (pid == 0) {
    ::close(errp[0]);
    std::string msg;
    try {
      enter_userns(cfg);
      fn();
    } catch (const std::exception& e) {
      msg = e.what();
    }
    if (!msg.empty()) {
      ssize_t n = ::write(errp[1], msg.data(), msg.size());
      (void)n;
      ::_exit(1);
    }
    ::_exit(0);
  }
  ::close(errp[1]);
  std::string msg;
  char buf[512];
  ssize_t n;
  while ((n = ::read(errp[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) msg.append(buf, static_cast<size_t>(n));
  ::close(errp[0]);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (!msg.empty()) throw Error(msg);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) throw Error("helper in the user namespace failed");
}

void remove_container(ContainerStore& cs, const std::string& id, const std::function<void()>& gone) {
  const Config& cfg = cs.store().config();
  if (gone && (!cfg.rootless || (::geteuid() == 0 && in_user_namespace()))) {
    // Root, or in den's user namespace already (the monitor): detach, report,
    // then delete.
    Store::Staging trash = cs.detach(id);
    gone();
    return;
  }
  try {
    remove_container_cgroup(cs.state(id).cgroup);
  } catch (...) {
  }
  run_in_userns(cfg, [&] { cs.remove(id); });
  if (gone) gone();
}

bool wait_for_exit(ContainerStore& cs, const std::string& id, int timeout_ms, ContainerState* out) {
  int64_t deadline = timeout_ms < 0 ? INT64_MAX : now_nanos() + int64_t{timeout_ms} * 1000000;
  ContainerState last;
  for (;;) {
    ContainerState s;
    try {
      s = cs.state(id);
    } catch (const Error& e) {
      // Removed meanwhile (its monitor removes an --rm container): it exited.
      if (e.code() != Errc::NotFound) throw;
      last.status = ContainerStatus::Exited;
      last.pid = 0;
      if (out) *out = last;
      return true;
    }
    last = s;
    if (s.status != ContainerStatus::Running && s.status != ContainerStatus::Paused &&
        s.status != ContainerStatus::Stopping) {
      if (out) *out = s;
      return true;
    }
    if (now_nanos() >= deadline) {
      if (out) *out = s;
      return false;
    }
    // Sleep on the container's pidfd (wakes at its exit), at most 100 ms so
    // that the monitor's write of state.json is picked up promptly.
    int pfd = s.pid > 0 ? static_cast<int>(::syscall(SYS_pidfd_open, s.pid, 0)) : -1;
    if (pfd >= 0) {
      struct pollfd p {
        pfd, POLLIN, 0
      };
      ::poll(&p, 1, 100);
      ::close(pfd);
      if (p.revents & POLLIN) ::usleep(2000);
    } else {
      ::usleep(20000);
    }
  }
}

namespace {

// ---- per-container files ---------------------------------------------------

void write_userdata(const std::string& dir, const ContainerConfig& c) {
  mkdirs(dir, 0755);
  std::string hostname = c.hostname.empty() ? c.id.substr(0, 12) : c.hostname;
  write_file_atomic(dir + "/hostname", hostname + "\n", 0644, Sync::None);
  write_file_atomic(dir + "/hosts", hosts_file(c, hostname), 0644, Sync::None);
  std::string resolv = resolv_conf(c);
  write_file_atomic(dir + "/resolv.conf", resolv, 0644, Sync::None);
}

std::string find_init(const Config& cfg) {
  // den-init is installed next to den (build tree or libexec).
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = 0;
    std::string dir = dirname_of(self);
    for (const std::string& p : {dir + "/den-init", dir + "/../libexec/den/den-init", dir + "/src/init/den-init"})
      if (::access(p.c_str(), X_OK) == 0) return p;
  }
  std::string p = find_program(cfg, "den-init");
  if (p.empty()) throw Error("--init needs den-init, which was not found next to den or in helper_binaries_dir");
  return p;
}

// A pod member that shares the infra's network gets the pod's /etc/hosts
// (plus a line for its own name) and resolv.conf, as the infra has them.
void copy_pod_etc_files(ContainerStore& cs, const ContainerConfig& c, const std::string& userdata) {
  std::string infra_dir = cs.dir(c.network.substr(10)) + "/userdata";
  auto hosts = read_file_if_exists(infra_dir + "/hosts");
  auto resolv = read_file_if_exists(infra_dir + "/resolv.conf");
  if (hosts) {
    std::string text = *hosts;
    if (!c.name.empty()) text += "127.0.0.1\t" + c.name + "\n";
    write_file_atomic(userdata + "/hosts", text, 0644, Sync::None);
  }
  if (resolv) write_file_atomic(userdata + "/resolv.conf", *resolv, 0644, Sync::None);
}

// With a cgroup of its own, the container unshares its cgroup namespace once
// it is in that cgroup (so that it is the namespace's root), and sees it at
// /sys/fs/cgroup.
void add_cgroup_to_plan(RunPlan& plan) {
  plan.clone_flags &= ~CLONE_NEWCGROUP;
  plan.unshare_cgroupns = true;
  auto sys = std::find_if(plan.mounts.begin(), plan.mounts.end(), [](const PlanMount& m) { return m.target == "/sys"; });
  if (sys != plan.mounts.end())
    plan.mounts.insert(sys + 1, PlanMount{"cgroup2", "/sys/fs/cgroup", "cgroup2",
                                          MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, "", false, false});
}

void set_oom_score_adj(pid_t pid, int value) {
  int e = 0;
  int fd = ::open(fmt::format("/proc/{}/oom_score_adj", pid).c_str(), O_WRONLY | O_CLOEXEC);
  std::string v = std::to_string(value);
  if (fd < 0 || ::write(fd, v.data(), v.size()) != static_cast<ssize_t>(v.size())) e = errno;
  if (fd >= 0) ::close(fd);
  if (e)
    throw sys_error(fmt::format("--oom-score-adj {}: {}", value,
                                e == EACCES || e == EPERM ? "rootless, den can only raise the OOM score (use a value "
                                                            "at or above the current one)"
                                                          : "cannot set it"),
                    e);
}

// ---- the k8s-file log --------------------------------------------------------

class LogWriter {
 public:
  explicit LogWriter(const std::string& path, bool enabled) {
    if (enabled) fd_ = UniqueFd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  }
  void write(const char* stream, std::string_view data) {
    if (!fd_) return;
    std::string& pending = std::strcmp(stream, "stdout") == 0 ? out_ : err_;
    pending.append(data);
    std::string lines;
    size_t pos;
    std::string ts = format_rfc3339_nano(now_nanos());
    while ((pos = pending.find('\n')) != std::string::npos) {
      lines += fmt::format("{} {} F {}\n", ts, stream, pending.substr(0, pos));
      pending.erase(0, pos + 1);
    }
    // Long partial lines are flushed as P records.
    if (pending.size() >= 16384) {
      lines += fmt::format("{} {} P {}\n", ts, stream, pending);
      pending.clear();
    }
    if (!lines.empty()) {
      ssize_t n = ::write(fd_.get(), lines.data(), lines.size());
      (void)n;
    }
  }
  void flush() {
    std::string ts = format_rfc3339_nano(now_nanos());
    std::string lines;
    if (!out_.empty()) lines += fmt::format("{} stdout P {}\n", ts, out_);
    if (!err_.empty()) lines += fmt::format("{} stderr P {}\n", ts, err_);
    out_.clear();
    err_.clear();
    if (fd_ && !lines.empty()) {
      ssize_t n = ::write(fd_.get(), lines.data(), lines.size());
      (void)n;
    }
  }

 private:
  UniqueFd fd_;
  std::string out_, err_;
};

// ---- the monitor -------------------------------------------------------------

struct Clients {
  std::vector<int> fds;
  void broadcast(Frame t, std::string_view data) {
    for (auto it = fds.begin(); it != fds.end();) {
      try {
        write_frame(*it, t, data);
        ++it;
      } catch (const Error&) {
        ::close(*it);
        it = fds.erase(it);
      }
    }
  }
};

int listen_attach_socket(const std::string& path) {
  int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    ::close(s);
    return -1;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  ::unlink(path.c_str());
  if (::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(s, 8) != 0) {
    ::close(s);
    return -1;
  }
  return s;
}

struct RunOutcome {
  bool started = false;
  int exit_code = 0;
  bool force_restart = false;  // --health-on-failure=restart
  // Stopped, not yet reaped: the caller reaps it after reporting the exit.
  std::unique_ptr<NetworkHelper> net;
};

// Set once systemd was told about us (--sdnotify under a Type=notify unit):
// the monitor's exit status is then the container's, for the unit's Restart=.
bool g_notified_systemd = false;

// One run of the container: spawn, relay, reap. Returns its exit code.
RunOutcome run_once(ContainerStore& cs, const ContainerConfig& c, int ready_fd, Clients& clients, int listen_fd,
                    int sigfd, bool is_restart, const std::string& cgroup) {
  const Config& cfg = cs.store().config();
  RunOutcome outcome;
  // The network helper (slirp4netns, pasta) first: it gets a namespace made
  // now and comes up while the rest is prepared and the container is set up.
  std::unique_ptr<NetworkHelper> net = make_network_helper(cfg, c, cs.run_dir(c.id));
  UniqueFd netns;
  if (net) {
    netns = new_network_namespace();
    net->launch(netns.get());
  }
  std::optional<log::Phase> prep(std::in_place, "monitor: prepare");
  std::string cdir = cs.dir(c.id);
  std::string userdata = cdir + "/userdata";
  write_userdata(userdata, c);
  if (!c.pod.empty() && !c.infra && c.network.rfind("container:", 0) == 0) copy_pod_etc_files(cs, c, userdata);

  std::vector<std::string> lowers;
  Json image_config = Json::object();
  if (c.rootfs.empty()) {
    ImageRecord img = cs.store().lookup_image(c.image_id);
    std::vector<std::string> diff_ids;
    for (const auto& l : img.layers) diff_ids.push_back(l.diff_id);
    for (const auto& chain : chain_ids(diff_ids)) lowers.push_back(cs.store().layer_diff(chain));
    mkdirs(cdir + "/empty", 0755);
  }
  RunPlan plan = build_plan(cfg, c, image_config, lowers, cdir, userdata);
  // container:NAME options join that container's namespaces (and, rootless,
  // its user namespace, which owns them).
  std::string target;
  std::vector<std::pair<int, std::string>> joins;
  for (const auto& [value, type] :
       {std::pair{c.network, CLONE_NEWNET}, {c.ipc, CLONE_NEWIPC}, {c.pid, CLONE_NEWPID}, {c.uts, CLONE_NEWUTS}}) {
    if (value.rfind("container:", 0) != 0) continue;
    std::string other = cs.resolve(value.substr(10));
    if (!target.empty() && other != target)
      throw Error("all container:NAME options must name the same container", Errc::Invalid);
    target = other;
    ContainerState ost = cs.state(other);
    if (ost.status != ContainerStatus::Running)
      throw Error(fmt::format("cannot join the namespaces of {}: it is not running", value.substr(10)), Errc::Invalid);
    joins.emplace_back(type, fmt::format("/proc/{}/ns/{}", ost.pid,
                                         type == CLONE_NEWNET   ? "net"
                                         : type == CLONE_NEWIPC ? "ipc"
                                         : type == CLONE_NEWUTS ? "uts"
                                                                : "pid"));
  }
  if (c.network.rfind("ns:", 0) == 0) joins.emplace_back(CLONE_NEWNET, c.network.substr(3));  // --network ns:PATH
  if (!joins.empty()) {
    // The monitor is in den's user namespace, which owns the target's
    // namespaces too, unless the target predates a `den system migrate`.
    if (cfg.rootless) {
      ContainerState ost = cs.state(target);
      struct stat mine, theirs;
      if (::stat("/proc/self/ns/user", &mine) == 0 &&
          ::stat(fmt::format("/proc/{}/ns/user", ost.pid).c_str(), &theirs) == 0 && mine.st_ino != theirs.st_ino)
        throw Error(fmt::format("cannot join the namespaces of {}: it runs in an older user namespace of den "
                                "(from before `den system migrate`); restart it first",
                                target.substr(0, 12)),
                    Errc::Invalid);
    }
    plan.join_ns = joins;
  }
  if (c.init || c.infra)
    for (auto& m : plan.mounts)
      if (m.target == "/run/den-init") m.source = find_init(cfg);
  if (c.sdnotify == "container") add_notify_socket(plan, c);
  if (!cgroup.empty()) add_cgroup_to_plan(plan);
  if (netns) {
    plan.netns_fd = netns.get();
    plan.clone_flags &= ~CLONE_NEWNET;
  }
  prep.reset();
  log::debug("plan:\n{}", describe(plan));

  // Standard streams.
  ChildStdio io;
  UniqueFd in_w, out_r, err_r, master;
  UniqueFd in_r, out_w, err_w, slave;
  UniqueFd console;  // ours: the container sends its terminal's master here
  if (c.tty) {
    int sv[2];
    console_socketpair(sv);
    console = UniqueFd(sv[0]);
    slave = UniqueFd(sv[1]);  // the child's end, closed once it runs
    io.console_socket = slave.get();
  } else {
    int p[2];
    if (c.stdin_open) {
      if (::pipe2(p, O_CLOEXEC) != 0) throw sys_error("pipe");
      in_r = UniqueFd(p[0]);
      in_w = UniqueFd(p[1]);
      io.in = in_r.get();
    } else {
      in_r = open_file("/dev/null", O_RDONLY);
      io.in = in_r.get();
    }
    if (::pipe2(p, O_CLOEXEC) != 0) throw sys_error("pipe");
    out_r = UniqueFd(p[0]);
    out_w = UniqueFd(p[1]);
    if (::pipe2(p, O_CLOEXEC) != 0) throw sys_error("pipe");
    err_r = UniqueFd(p[0]);
    err_w = UniqueFd(p[1]);
    io.out = out_w.get();
    io.err = err_w.get();
  }

  NetworkMode nmode = parse_network_mode(c.network, cfg.network_cmd);
  bool user_net = nmode.kind == "user";
  uint64_t ooms_before = cgroup_oom_kills(cgroup);
  auto after_clone = [&](pid_t child) {
    // Into its cgroup before it runs (it unshares its cgroup namespace then).
    if (!cgroup.empty()) cgroup_add_process(cgroup, child);
    if (c.resources.has_oom_score_adj) set_oom_score_adj(child, c.resources.oom_score_adj);
    if (user_net) {
      // Before the child runs (and bind-mounts them): the etc files get the
      // address on the network.
      std::vector<std::string> nets = c.networks.empty() ? std::vector<std::string>{c.network} : c.networks;
      std::vector<NetEndpoint> eps = attach_user_networks(cfg, c, child, nets);
      std::string hostname = c.hostname.empty() ? c.id.substr(0, 12) : c.hostname;
      write_file_atomic(userdata + "/hosts", user_network_hosts(cfg, c, hostname, eps), 0644, Sync::None);
      write_file_atomic(userdata + "/resolv.conf", user_network_resolv(cfg, c, eps), 0644, Sync::None);
    }
  };
  auto net_stop = [&] {
    if (net) net->stop();
    if (user_net) detach_user_networks(cfg, c.id);
  };
  auto before_exec = [&] {
    if (net) net->wait_ready();
  };

  SpawnError serr;
  pid_t pid = -1;
  std::string start_error;
  try {
    pid = spawn_container(plan, io, &serr, after_clone, before_exec);
  } catch (const Error& e) {
    start_error = e.what();
    serr.exit_code = 125;
  }
  slave.reset();
  in_r.reset();
  out_w.reset();
  err_w.reset();
  if (pid < 0) {
    if (start_error.empty()) start_error = serr.message();
    net_stop();
    {
      FileLock l = cs.lock(c.id);
      ContainerState st = cs.state(c.id);
      st.status = ContainerStatus::Exited;
      st.exit_code = serr.exit_code;
      st.error = start_error;
      st.pid = 0;
      st.finished_at = now_nanos();
      cs.save_state(c.id, st);
    }
    clients.broadcast(Frame::Error, start_error);
    clients.broadcast(Frame::Exit, std::to_string(serr.exit_code));
    if (ready_fd >= 0) {
      std::string msg = fmt::format("err {} {}", serr.exit_code, start_error);
      ssize_t n = ::write(ready_fd, msg.data(), msg.size());
      (void)n;
    }
    outcome.exit_code = serr.exit_code;
    return outcome;
  }
  if (c.tty) {
    try {
      master = receive_console(console.get());
    } catch (...) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
      net_stop();
      throw;
    }
    console.reset();
  }
  outcome.started = true;
  {
    FileLock l = cs.lock(c.id);
    ContainerState st = cs.state(c.id);
    st.status = ContainerStatus::Running;
    if (is_restart) st.restart_count++;  // counted when the new run starts, as docker does
    st.pid = pid;
    st.pid_start = process_start_time(pid);
    st.monitor_pid = ::getpid();
    st.monitor_start = process_start_time(::getpid());
    st.started_at = now_nanos();
    st.finished_at = 0;
    st.exit_code = 0;
    st.error.clear();
    st.boot_id = current_boot_id();
    st.restarting = false;
    st.cgroup = cgroup;
    st.oom_killed = false;
    cs.save_state(c.id, st);
  }
  cs.reserve_state_space(c.id);  // for the exit status, should the container fill the disk
  emit_container_event(cfg, "start", c.id, c.name, c.image_name, c.labels);
  if (!c.conmon_pidfile.empty()) {
    // --infra-conmon-pidfile (a Type=forking unit follows the monitor).
    try {
      write_file_atomic(c.conmon_pidfile, std::to_string(::getpid()), 0644, Sync::None);
    } catch (const std::exception& e) {
      log::warn("container {}: {}", c.id.substr(0, 12), e.what());
    }
  }
  std::optional<HealthScheduler> health;
  if (c.health.enabled()) {
    try {
      health.emplace(cs, c, pid);
    } catch (const std::exception& e) {  // the container runs on, unchecked
      log::warn("container {}: health checks not scheduled: {}", c.id.substr(0, 12), e.what());
    }
  }
  if (ready_fd >= 0 && c.sdnotify != "ignore") {
    // Before den's `run`/`start` returns: systemd then follows the monitor
    // (MAINPID) rather than the den that exits.
    g_notified_systemd = sd_notify(c.sdnotify == "conmon" ? fmt::format("MAINPID={}\nREADY=1", ::getpid())
                                                          : fmt::format("MAINPID={}", ::getpid()));
  }
  // --sdnotify=healthy: READY=1 once a health check has passed (podman's).
  bool ready_when_healthy = g_notified_systemd && c.sdnotify == "healthy" && health;
  if (ready_fd >= 0) {
    std::string msg = fmt::format("ok {}", pid);
    ssize_t n = ::write(ready_fd, msg.data(), msg.size());
    (void)n;
  }

  LogWriter logw(cs.log_path(c.id), c.log_driver != "none");
  int status = 0;
  bool exited = false;
  int out_fd = c.tty ? master.get() : out_r.get();
  int err_fd = c.tty ? -1 : err_r.get();
  bool out_open = true, err_open = err_fd >= 0;
  char buf[65536];
  int64_t exit_seen_at = 0;
  while (out_open || err_open || !exited) {
    std::vector<struct pollfd> pfds;
    pfds.push_back({sigfd, POLLIN, 0});
    if (listen_fd >= 0) pfds.push_back({listen_fd, POLLIN, 0});
    size_t first_stream = pfds.size();
    if (out_open) pfds.push_back({out_fd, POLLIN, 0});
    if (err_open) pfds.push_back({err_fd, POLLIN, 0});
    size_t first_client = pfds.size();
    for (int fd : clients.fds) pfds.push_back({fd, POLLIN, 0});
    // After the exit, a pty may stay open (inherited by daemons): drain briefly.
    int timeout = exited ? 100 : health ? health->poll_timeout_ms() : -1;
    int r = ::poll(pfds.data(), pfds.size(), timeout);
    if (r < 0 && errno != EINTR) break;
    if (exited && r == 0) break;
    if (exited && now_nanos() - exit_seen_at > 2000000000LL) break;
    if (pfds[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (::read(sigfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGCHLD) {
          int st;
          pid_t w;
          while ((w = ::waitpid(-1, &st, WNOHANG)) > 0) {
            if (w == pid) {
              status = st;
              exited = true;
              exit_seen_at = now_nanos();
              log::debug("container process exited");
            } else if (health && health->child_exited(w, st) && ready_when_healthy) {
              if (cs.state(c.id).health == "healthy") {
                log::debug("monitor: healthy, READY=1 to systemd");
                sd_notify("READY=1");
                ready_when_healthy = false;
              }
            }
          }
        } else if (!exited) {
          ::kill(pid, static_cast<int>(si.ssi_signo));  // forward SIGTERM/SIGINT/SIGHUP
        }
      }
    }
    if (health && !exited) health->tick();
    if (listen_fd >= 0 && (pfds[1].revents & POLLIN)) {
      int cfd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (cfd >= 0) clients.fds.push_back(cfd);
    }
    for (size_t i = first_stream; i < first_client; i++) {
      if (!(pfds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      bool is_out = pfds[i].fd == out_fd;
      ssize_t n = ::read(pfds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        (is_out ? out_open : err_open) = false;
        continue;
      }
      std::string_view data(buf, static_cast<size_t>(n));
      logw.write(is_out ? "stdout" : "stderr", data);
      clients.broadcast(is_out ? Frame::Stdout : Frame::Stderr, data);
    }
    for (size_t i = first_client; i < pfds.size(); i++) {
      if (!(pfds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      int cfd = pfds[i].fd;
      Frame t;
      std::string payload;
      if (!read_frame(cfd, &t, &payload)) {
        ::close(cfd);
        clients.fds.erase(std::remove(clients.fds.begin(), clients.fds.end(), cfd), clients.fds.end());
        continue;
      }
      if (t == Frame::Stdin) {
        int dst = c.tty ? master.get() : in_w.get();
        if (dst >= 0) {
          try {
            write_all(dst, payload);
          } catch (const Error&) {
          }
        }
      } else if (t == Frame::StdinEof) {
        if (c.tty) {
          // Ctrl-D at the line start is EOF for a tty.
        } else {
          in_w.reset();
        }
      } else if (t == Frame::Resize && c.tty) {
        struct winsize ws {};
        unsigned rows = 0, cols = 0;
        if (std::sscanf(payload.c_str(), "%u %u", &rows, &cols) == 2) {
          ws.ws_row = static_cast<unsigned short>(rows);
          ws.ws_col = static_cast<unsigned short>(cols);
          ::ioctl(master.get(), TIOCSWINSZ, &ws);
        }
      }
    }
  }
  logw.flush();
  log::debug("monitor: streams closed");
  if (health) {
    health->container_exited();
    outcome.force_restart = health->restart_requested();
  }
  if (!exited) {
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  net_stop();
  try {
    FileLock l = cs.lock(c.id);
    ContainerState st = cs.state(c.id);
    st.status = ContainerStatus::Exited;
    st.exit_code = code;
    st.finished_at = now_nanos();
    st.pid = 0;
    st.oom_killed = cgroup_oom_kills(cgroup) > ooms_before;
    cs.save_exit_state(c.id, st);
    log::debug("monitor: exit {} recorded", code);
  } catch (const std::exception& e) {
    // Even the reserve did not do: the waiting clients still get the
    // container's own status (ps reads the container as exited, its
    // processes being gone), and are told why it is not recorded.
    clients.broadcast(Frame::Error, fmt::format("recording the exit status {} of container {}: {}", code,
                                                c.id.substr(0, 12), e.what()));
  }
  emit_container_event(cfg, "die", c.id, c.name, c.image_name, c.labels, {{"exitCode", std::to_string(code)}});
  outcome.exit_code = code;
  outcome.net = std::move(net);
  return outcome;
}

bool should_restart(const ContainerConfig& c, const ContainerState& st, int exit_code, bool force) {
  if (st.stopped_by_user) return false;
  if (force) return true;
  if (c.restart.name == "always" || c.restart.name == "unless-stopped") return true;
  if (c.restart.name == "on-failure")
    return exit_code != 0 && (c.restart.max_retries <= 0 || st.restart_count < c.restart.max_retries);
  return false;
}

void set_restarting(ContainerStore& cs, const std::string& id, bool on) {
  try {
    FileLock l = cs.lock(id);
    ContainerState st = cs.state(id);
    st.restarting = on;
    cs.save_state(id, st);
  } catch (const std::exception& e) {
    log::debug("monitor: {}", e.what());
  }
}

// Closes every descriptor from 3 up but those in keep.
void close_all_but(std::vector<int> keep) {
  std::sort(keep.begin(), keep.end());
  unsigned from = 3;
  for (int fd : keep) {
    if (fd < static_cast<int>(from)) continue;
    if (static_cast<unsigned>(fd) > from) ::close_range(from, static_cast<unsigned>(fd) - 1, 0);
    from = static_cast<unsigned>(fd) + 1;
  }
  ::close_range(from, ~0U, 0);
}

[[noreturn]] void monitor_main(ContainerStore& cs, const std::string& id, int attach_fd, int ready_fd) {
  ::setsid();
  ::prctl(PR_SET_NAME, "den-monitor");
  // Nothing of the caller's but what the monitor is given: an inherited pipe
  // (a script's fd 3, bats' output) would stay open as long as the container
  // runs, and an inherited flock would stay held.
  close_all_but({attach_fd, ready_fd});
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull >= 0) {
    ::dup2(devnull, 0);
    ::dup2(devnull, 1);
    if (log::level() > log::Level::Debug) ::dup2(devnull, 2);
  }
  sigset_t mask;
  sigemptyset(&mask);
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) sigaddset(&mask, s);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  int sigfd = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  // Orphaned helpers (fuse-overlayfs forks) are reparented to us and reaped.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);

  Clients clients;
  if (attach_fd >= 0) clients.fds.push_back(attach_fd);
  std::string rdir = cs.run_dir(id);
  int listen_fd = -1;
  int code = 125;
  int exit_status = 0;
  std::string cgroup;
  try {
    // The container's cgroup first: the systemd manager talks D-Bus, which
    // must see the user's own uid, not den's user namespace.
    {
      const Config& cfg = cs.store().config();
      ContainerConfig c0 = cs.config(id);
      ContainerCgroupSpec spec{c0.id, c0.cgroups, c0.cgroup_manager.empty() ? cfg.cgroup_manager : c0.cgroup_manager,
                               c0.cgroup_parent, c0.resources};
      cgroup = create_container_cgroup(spec);
    }
    // Rootless, the monitor lives in den's user namespace, as podman's conmon
    // does in podman's: it clones containers straight into their namespaces
    // and removes their files (owned by subordinate ids) itself.
    enter_userns(cs.store().config());
    mkdirs(rdir, 0700);
    listen_fd = listen_attach_socket(rdir + "/attach");
    ContainerConfig c = cs.config(id);
    std::unique_ptr<NetworkHelper> last_net;  // stopped; reaped after the exit is reported
    for (bool restart = false;; restart = true) {
      last_net.reset();  // a restart: the last run's helper is reaped before the next starts
      RunOutcome o = run_once(cs, c, ready_fd, clients, listen_fd, sigfd, restart, cgroup);
      last_net = std::move(o.net);
      if (ready_fd >= 0) {
        ::close(ready_fd);
        ready_fd = -1;
      }
      code = o.exit_code;
      if (!o.started) break;
      ContainerState st = cs.state(id);
      if (!should_restart(c, st, code, o.force_restart)) break;
      set_restarting(cs, id, true);  // ps: "Restarting (CODE) ..."
      // docker's back-off starts at 100 ms and doubles; keep it short.
      ::usleep(static_cast<useconds_t>(std::min(100000 << std::min(st.restart_count, 6), 5000000)));
      if (cs.state(id).stopped_by_user) {
        set_restarting(cs, id, false);
        break;
      }
    }
    bool stopped_by_user = cs.state(id).stopped_by_user;
    if (g_notified_systemd && !stopped_by_user) exit_status = code & 0xff;
    pod_member_exited(cs, c);  // --exit-policy=stop
    remove_container_cgroup(cgroup);
    ContainerConfig c2 = cs.config(id);
    if (listen_fd >= 0) ::close(listen_fd);
    listen_fd = -1;
    ::unlink((rdir + "/attach").c_str());
    // --rm: removed before the exit is reported, as docker does, so that the
    // name is free again when `den run --rm` returns.
    auto report_exit = [&] {
      clients.broadcast(Frame::Exit, std::to_string(code));
      for (int fd : clients.fds) ::close(fd);
      clients.fds.clear();
    };
    if (c2.auto_remove) {
      log::Phase rm_phase("monitor: remove");
      try {
        FileLock l = cs.lock(id);
        VolumeStore vs(cs.store());  // --rm takes the anonymous volumes along (docker)
        remove_container(cs, id, [&] {
          remove_anonymous_volumes(vs, c2);
          report_exit();
        });
        emit_container_event(cs.store().config(), "destroy", id, c2.name, c2.image_name, c2.labels);
      } catch (const std::exception& e) {
        clients.broadcast(Frame::Error, fmt::format("removing container {}: {}", id.substr(0, 12), e.what()));
      }
    }
    report_exit();
    last_net.reset();
  } catch (const std::exception& e) {
    std::string msg = e.what();
    if (ready_fd >= 0) {
      std::string m = "err 125 " + msg;
      ssize_t n = ::write(ready_fd, m.data(), m.size());
      (void)n;
    }
    remove_container_cgroup(cgroup);
    clients.broadcast(Frame::Error, msg);
    clients.broadcast(Frame::Exit, "125");
    try {
      FileLock l = cs.lock(id);
      ContainerState st = cs.state(id);
      if (st.status != ContainerStatus::Exited) {
        st.status = ContainerStatus::Exited;
        st.exit_code = 125;
        st.error = msg;
        st.finished_at = now_nanos();
        cs.save_state(id, st);
      }
    } catch (...) {
    }
    if (g_notified_systemd) exit_status = 125;
  }
  ::_exit(exit_status);
}

}  // namespace

StartResult start_container(ContainerStore& cs, const std::string& id, int attach_fd) {
  log::Phase phase("start container");
  {
    // A pod member joins the infra's namespaces: the infra runs first.
    ContainerConfig c = cs.config(id);
    if (!c.pod.empty() && !c.infra) {
      try {
        ensure_pod_infra_running(cs, c.pod);
      } catch (const Error& e) {
        if (attach_fd >= 0) ::close(attach_fd);
        StartResult r;
        r.exit_code = 125;
        r.error = e.what();
        return r;
      }
    }
  }
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) throw sys_error("pipe");
  pid_t pid = ::fork();
  if (pid < 0) throw sys_error("fork the container monitor");
  if (pid == 0) {
    ::close(ready[0]);
    monitor_main(cs, id, attach_fd, ready[1]);
  }
  // One fork, not two: the monitor is our child until this short-lived den
  // exits, then init's (or the nearest subreaper's), which reaps it. A fork
  // costs more than a millisecond here, and nobody waits for the monitor.
  ::close(ready[1]);
  if (attach_fd >= 0) ::close(attach_fd);
  // The monitor writes one message ("ok PID" or "err CODE TEXT") in a single
  // write, and keeps the pipe open while the container runs.
  std::string msg;
  char buf[4096];
  ssize_t n;
  do {
    n = ::read(ready[0], buf, sizeof buf);
  } while (n < 0 && errno == EINTR);
  if (n > 0) msg.assign(buf, static_cast<size_t>(n));
  ::close(ready[0]);
  StartResult r;
  if (msg.rfind("ok ", 0) == 0) {
    r.ok = true;
    r.pid = std::atoi(msg.c_str() + 3);
    return r;
  }
  if (msg.rfind("err ", 0) == 0) {
    r.exit_code = std::atoi(msg.c_str() + 4);
    auto sp = msg.find(' ', 4);
    r.error = sp == std::string::npos ? "" : msg.substr(sp + 1);
    return r;
  }
  r.exit_code = 125;
  r.error = "the container monitor died before the container started";
  return r;
}

}  // namespace den
