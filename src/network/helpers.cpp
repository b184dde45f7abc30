// The network helpers: slirp4netns and pasta, behind NetworkHelper.
//
// Both run as children of the monitor, in den's user namespace (which owns
// the container's network namespace), and forward the published ports
// themselves. slirp4netns stops when its exit fd closes (also when the
// monitor is killed); pasta is stopped by pid.
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <spawn.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>


#include "den/error.h"
#include "den/fs.h"
#include "den/host_info.h"
#include "den/log.h"
#include "den/network.h"
#include "den/strings.h"
#include "den/timefmt.h"

namespace den {

namespace {

void reap_child(pid_t pid) {
  int st;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
}

// Starts a helper with fds[i] as its descriptor 3 + i, /dev/null as 0 and 1,
// err_fd (or /dev/null when -1) as 2, no blocked signals and default
// dispositions. posix_spawn (a vfork underneath) because a fork of the
// monitor took milliseconds here, and the helper's start is on the path of
// every `den run`.
pid_t spawn_helper(const std::vector<std::string>& args, std::vector<int> fds, int err_fd) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // A source that is itself one of the targets is moved out of the way first.
  std::vector<UniqueFd> moved;
  int last = 3 + static_cast<int>(fds.size());
  for (int& fd : fds)
    if (fd < last) {
      int m = ::fcntl(fd, F_DUPFD_CLOEXEC, last);
      if (m < 0) throw sys_error("dup a descriptor for " + args[0]);
      moved.emplace_back(m);
      fd = m;
    }
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&at);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDWR, 0);
  posix_spawn_file_actions_adddup2(&fa, 0, 1);
  if (err_fd >= 0) posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
  else posix_spawn_file_actions_adddup2(&fa, 0, 2);
  for (size_t i = 0; i < fds.size(); i++) posix_spawn_file_actions_adddup2(&fa, fds[i], 3 + static_cast<int>(i));
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGCHLD, SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &defaults);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int e = ::posix_spawn(&pid, argv[0], &fa, &at, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  if (e != 0) throw sys_error("start " + args[0], e);
  return pid;
}

class Slirp4netns : public NetworkHelper {
 public:
  Slirp4netns(const Config& cfg, const ContainerConfig& c, const NetworkMode& m, const std::string& run_dir)
      : cfg_(cfg), ports_(c.ports), mode_(m), run_dir_(run_dir), mac_(c.mac_address), rootless_(cfg.rootless) {}
  ~Slirp4netns() override {
    stop();
    reap();
  }

  void launch(int netns_fd) override {
    log::Phase phase("network: slirp4netns launch");
    check_host_ports(ports_, rootless_);
    std::string slirp = find_program(cfg_, "slirp4netns");
    if (slirp.empty())
      throw Error("slirp4netns not found: install the slirp4netns package, or use --network pasta|none|host");
    std::vector<std::string> args = {slirp, "--configure", "--ready-fd=3", "--exit-fd=4"};
    std::string mtu = "65520";
    bool loopback = false;
    for (const auto& o : mode_.options) {
      auto [k, v] = split_once(o, '=');
      if (k == "mtu") mtu = v;
      if (k == "allow_host_loopback") loopback = v == "true";
      if (k == "enable_ipv6" && v == "true") args.push_back("--enable-ipv6");
      if (k == "outbound_addr") args.push_back("--outbound-addr=" + v);
    }
    args.push_back("--mtu=" + mtu);
    if (!loopback) args.push_back("--disable-host-loopback");
    if (!mac_.empty()) args.push_back("--macaddress=" + mac_);
    api_ = run_dir_ + "/slirp.sock";
    ::unlink(api_.c_str());
    if (!ports_.empty()) args.push_back("--api-socket=" + api_);
    // The namespace is our descriptor, inherited as 5: slirp4netns opens
    // /proc/self/fd/5 in its own child.
    args.insert(args.end(), {"--netns-type=path", "/proc/self/fd/5", "tap0"});
    int ready[2], exitp[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) throw sys_error("pipe");
    if (::pipe2(exitp, O_CLOEXEC) != 0) {
      ::close(ready[0]);
      ::close(ready[1]);
      throw sys_error("pipe");
    }
    UniqueFd ready_w(ready[1]), exit_r(exitp[0]);
    exit_w_ = UniqueFd(exitp[1]);
    ready_r_ = UniqueFd(ready[0]);
    // slirp4netns chats on stderr ("sent tapfd=..."): only for debugging.
    pid_ = spawn_helper(args, {ready_w.get(), exit_r.get(), netns_fd}, log::level() > log::Level::Debug ? -1 : 2);
  }

  void wait_ready() override {
    log::Phase phase("network: slirp4netns ready");
    char b;
    size_t got = read_some(ready_r_.get(), &b, 1);
    ready_r_.reset();
    if (got != 1) {
      stop();
      reap();
      throw Error("slirp4netns failed to set up the container's network (see den info)");
    }
    try {
      for (const auto& p : expand_ports(ports_)) slirp_add_forward(api_, p, "");
    } catch (...) {
      stop();
      reap();
      throw;
    }
  }

  void stop() override {
    if (pid_ <= 0 || stopped_) return;
    stopped_ = true;
    exit_w_.reset();  // slirp4netns exits when its exit fd closes
    ::kill(pid_, SIGTERM);
  }

  void reap() override {
    if (pid_ <= 0) return;
    reap_child(pid_);
    pid_ = -1;
    if (!api_.empty()) ::unlink(api_.c_str());
  }
  pid_t pid() const override { return pid_; }

 private:
  const Config& cfg_;
  std::vector<PortMapping> ports_;
  NetworkMode mode_;
  std::string run_dir_, mac_, api_;
  bool rootless_;
  pid_t pid_ = -1;
  bool stopped_ = false;
  UniqueFd exit_w_, ready_r_;
};

class Pasta : public NetworkHelper {
 public:
  Pasta(const Config& cfg, const ContainerConfig& c, const NetworkMode& m, const std::string& run_dir)
      : cfg_(cfg), ports_(c.ports), mode_(m), run_dir_(run_dir), mac_(c.mac_address), rootless_(cfg.rootless) {}
  ~Pasta() override {
    stop();
    reap();
  }

  void launch(int netns_fd) override {
    log::Phase phase("network: pasta launch");
    check_host_ports(ports_, rootless_);
    std::string pasta = find_program(cfg_, "pasta");
    if (pasta.empty())
      throw Error("pasta not found: install the passt package, or use --network slirp4netns|none|host");
    pid_file_ = run_dir_ + "/pasta.pid";
    ::unlink(pid_file_.c_str());
    std::vector<std::string> args = {pasta, "--config-net", "--quiet", "--pid", pid_file_};
    bool tcp = false, udp = false;
    for (const auto& p : ports_) {
      std::string spec = p.host_ip.empty() ? "" : p.host_ip + "/";
      spec += p.range > 1 ? fmt::format("{}-{}:{}-{}", p.host_port, p.host_port + p.range - 1, p.container_port,
                                        p.container_port + p.range - 1)
                          : fmt::format("{}:{}", p.host_port, p.container_port);
      args.push_back(p.protocol == "udp" ? "-u" : "-t");
      args.push_back(spec);
      (p.protocol == "udp" ? udp : tcp) = true;
    }
    if (!tcp) args.insert(args.end(), {"-t", "none"});
    if (!udp) args.insert(args.end(), {"-u", "none"});
    // No automatic forwarding from the container to the host's ports, and
    // the gateway is not the host's loopback, unless the options ask.
    bool map_gw = false;
    for (const auto& o : mode_.options) map_gw = map_gw || o == "--map-gw";
    args.insert(args.end(), {"-T", "none", "-U", "none"});
    if (!map_gw) args.push_back("--no-map-gw");
    if (!mac_.empty()) args.insert(args.end(), {"--ns-mac-addr", mac_});
    for (const auto& o : mode_.options)
      if (o != "--map-gw") args.push_back(o);
    // pasta drops to an unprivileged uid before it opens the namespace, and
    // may then not open /proc/PID/ns/net of a root process: it gets the
    // namespace as an inherited descriptor.
    args.insert(args.end(), {"--netns", "/proc/self/fd/3"});
    log::debug("pasta: {}", join(args, " "));
    int errp[2];
    if (::pipe2(errp, O_CLOEXEC) != 0) throw sys_error("pipe");
    UniqueFd err_w(errp[1]);
    err_r_ = UniqueFd(errp[0]);
    child_ = spawn_helper(args, {netns_fd}, err_w.get());
  }

  void wait_ready() override {
    log::Phase phase("network: pasta ready");
    // pasta forks into the background once the namespace is configured and
    // the ports are bound; the first process then exits 0.
    std::string err;
    char buf[1024];
    size_t n;
    while ((n = read_some(err_r_.get(), buf, sizeof buf)) > 0 && err.size() < 8192) err.append(buf, n);
    err_r_.reset();
    int st = 0;
    while (::waitpid(child_, &st, 0) < 0 && errno == EINTR) {
    }
    child_ = -1;
    auto pid_text = read_file_if_exists(pid_file_);
    if (pid_text) pid_ = static_cast<pid_t>(std::atoi(pid_text->c_str()));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || pid_ <= 0) {
      stop();
      reap();
      // pasta also complains that it has no syslog: keep its real message.
      std::string first;
      for (const auto& line : split(err, '\n'))
        if (!line.empty() && line.find("to syslog") == std::string::npos) first = trim(line);
      throw Error(fmt::format("pasta failed to set up the container's network{}", first.empty() ? "" : ": " + first));
    }
    // pasta has no exit fd: a watcher stops it if the monitor is killed.
    try {
      watch_ = std::make_unique<HelperWatch>(pid_);
    } catch (...) {
      stop();
      throw;
    }
  }

  void stop() override {
    if (child_ > 0) ::kill(child_, SIGKILL);  // still starting
    if (pid_ > 0 && !stopped_) ::kill(pid_, SIGTERM);
    stopped_ = true;
  }

  void reap() override {
    if (child_ > 0) {
      reap_child(child_);
      child_ = -1;
    }
    if (pid_ <= 0) return;
    // pasta's daemon was reparented to us (the monitor is a subreaper); reap
    // it when it is our child, else wait for it to go.
    if (::waitpid(pid_, nullptr, 0) < 0) {
      for (int i = 0; i < 100 && ::kill(pid_, 0) == 0; i++) ::usleep(10000);
    }
    pid_ = -1;
    watch_.reset();
    ::unlink(pid_file_.c_str());
  }
  pid_t pid() const override { return pid_; }

 private:
  const Config& cfg_;
  std::vector<PortMapping> ports_;
  NetworkMode mode_;
  std::string run_dir_, mac_, pid_file_;
  bool rootless_;
  pid_t pid_ = -1, child_ = -1;
  bool stopped_ = false;
  UniqueFd err_r_;
  std::unique_ptr<HelperWatch> watch_;
};

}  // namespace

std::unique_ptr<NetworkHelper> make_network_helper(const Config& cfg, const ContainerConfig& c,
                                                   const std::string& run_dir) {
  NetworkMode m = parse_network_mode(c.network, cfg.network_cmd);
  if (m.kind == "slirp4netns") return std::make_unique<Slirp4netns>(cfg, c, m, run_dir);
  if (m.kind == "pasta") return std::make_unique<Pasta>(cfg, c, m, run_dir);
  return nullptr;
}

}  // namespace den
