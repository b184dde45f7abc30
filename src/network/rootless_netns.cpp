// User networks at run time: the rootless network namespace shared by the
// containers on user networks, its holder process (den-netns: slirp4netns
// for outbound traffic, a DNS responder), and attaching containers to it.
//
// Files under RUNROOT/netns/:
//   lock          flock; held while the holder starts or decides to exit,
//                 and while addresses are allocated
//   holder.pid    "PID STARTTIME" of den-netns
//   ep/<net id>/<container id>.json   one NetEndpoint each (+ pid, pid_start)
//
// Interfaces are configured with iproute2 (`ip -batch -`), run in the right
// namespace by a forked child.
//
// Name resolution: a DNS responder rather than hosts files, because a hosts
// file is bind-mounted into each container and cannot be replaced (only
// rewritten in place) when a container joins or leaves, and because
// `nslookup`/`dig` ask DNS, not /etc/hosts. It answers A queries for the
// names, aliases and short IDs of the containers on the network the query
// came in on, from the endpoint files (so a disconnected container stops
// resolving at once), and forwards other names to slirp4netns' DNS (not on
// --internal networks).
#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <set>

#include "den/error.h"
#include "den/fs.h"
#include "den/host_info.h"
#include "den/lock.h"
#include "den/log.h"
#include "den/network.h"
#include "den/strings.h"
#include "den/timefmt.h"

namespace den {

namespace {

std::string netns_dir(const Config& cfg) { return cfg.runroot + "/netns"; }
std::string ep_dir(const Config& cfg, const UserNetwork& n) { return netns_dir(cfg) + "/ep/" + n.id; }
// The API socket of the namespace's slirp4netns (published ports).
std::string api_socket(const Config& cfg) { return netns_dir(cfg) + "/slirp.sock"; }

bool alive(pid_t pid, uint64_t start) { return pid > 0 && start != 0 && process_start_time(pid) == start; }

Json endpoint_json(const NetEndpoint& e, pid_t pid, const std::vector<int>& forwards = {}) {
  return {{"network", e.network}, {"container_id", e.container_id}, {"name", e.name}, {"hostname", e.hostname},
          {"aliases", e.aliases}, {"ip", e.ip},    {"mac", e.mac},   {"ifname", e.ifname},
          {"pid", pid},           {"pid_start", process_start_time(pid)}, {"forwards", forwards}};
}

NetEndpoint endpoint_from_json(const Json& j) {
  NetEndpoint e;
  e.network = j.value("network", "");
  e.container_id = j.value("container_id", "");
  e.name = j.value("name", "");
  e.hostname = j.value("hostname", "");
  e.aliases = j.value("aliases", std::vector<std::string>{});
  e.ip = j.value("ip", "");
  e.mac = j.value("mac", "");
  e.ifname = j.value("ifname", "");
  return e;
}

// Live endpoints in one ep/<net id> directory; stale ones (their container
// died without a monitor to clean up) are removed.
std::vector<NetEndpoint> read_endpoints(const std::string& dir) {
  std::vector<NetEndpoint> out;
  if (!is_dir(dir)) return out;
  for (const auto& f : list_dir(dir)) {
    if (f.size() < 6 || f.substr(f.size() - 5) != ".json") continue;
    auto text = read_file_if_exists(dir + "/" + f);
    if (!text) continue;
    Json j = Json::parse(*text, nullptr, false);
    if (!j.is_object()) continue;
    if (!alive(j.value("pid", 0), j.value("pid_start", uint64_t{0}))) {
      // Its published ports go too (dir is RUNROOT/netns/ep/<net id>).
      for (int id : j.value("forwards", std::vector<int>{})) {
        try {
          slirp_remove_forward(dir + "/../../slirp.sock", id);
        } catch (const Error&) {
        }
      }
      ::unlink((dir + "/" + f).c_str());
      continue;
    }
    out.push_back(endpoint_from_json(j));
  }
  return out;
}

int prefix_of(const UserNetwork& n) { return std::stoi(split_once(n.subnet, '/').second); }

// Runs `ip -batch -` with `commands` inside the network namespace `netns`.
void ip_batch(const std::string& netns, const std::string& commands) {
  static const std::string ip = [] {
    for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"})
      if (::access(p, X_OK) == 0) return std::string(p);
    return std::string();
  }();
  if (ip.empty()) throw Error("user networks need the ip command: install the iproute2 package");
  UniqueFd ns(::open(netns.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) throw sys_error("open " + netns);
  int in[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0) throw sys_error("pipe");
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    throw sys_error("pipe");
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setns(ns.get(), CLONE_NEWNET) != 0) ::_exit(126);
    ::dup2(in[0], 0);
    ::dup2(err[1], 1);
    ::dup2(err[1], 2);
    ::execl(ip.c_str(), ip.c_str(), "-batch", "-", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(err[1]);
  UniqueFd w(in[1]), r(err[0]);
  if (pid < 0) throw sys_error("fork");
  try {
    write_all(w.get(), commands);
  } catch (const Error&) {
  }
  w.reset();
  std::string msg;
  char buf[1024];
  size_t n;
  while ((n = read_some(r.get(), buf, sizeof buf)) > 0) msg.append(buf, n);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    if (WIFEXITED(st) && WEXITSTATUS(st) == 126) throw Error("cannot enter network namespace " + netns);
    std::string one;
    for (const auto& line : split(trim(msg), '\n'))
      if (!line.empty()) one += (one.empty() ? "" : "; ") + line;
    throw Error(fmt::format("configuring the network failed: {}", one));
  }
}

// ---- DNS ---------------------------------------------------------------------

// The name in a query (lower case, no trailing dot) and where the question ends.
bool parse_question(const unsigned char* p, size_t n, std::string* name, size_t* qend, uint16_t* qtype) {
  if (n < 12) return false;
  size_t i = 12;
  std::string out;
  while (i < n && p[i] != 0) {
    size_t len = p[i];
    if (len > 63 || i + 1 + len > n) return false;
    if (!out.empty()) out += '.';
    for (size_t k = 0; k < len; k++) out += static_cast<char>(std::tolower(p[i + 1 + k]));
    i += 1 + len;
  }
  if (i + 5 > n) return false;
  *qtype = static_cast<uint16_t>((p[i + 1] << 8) | p[i + 2]);
  *qend = i + 5;
  *name = out;
  return true;
}

std::string dns_reply(const unsigned char* q, size_t qend, int rcode, const std::string& ip) {
  std::string r(reinterpret_cast<const char*>(q), qend);
  r[2] = static_cast<char>(0x80 | (q[2] & 0x01) | 0x04);  // QR, RD copied, AA
  r[3] = static_cast<char>(0x80 | rcode);                  // RA
  r[4] = 0;
  r[5] = 1;  // one question
  r[6] = 0;
  r[7] = ip.empty() ? 0 : 1;
  for (int k = 8; k < 12; k++) r[k] = 0;
  if (!ip.empty()) {
    uint32_t a = htonl(parse_ip4(ip).value_or(0));
    const unsigned char rr[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 0 /* TTL 0 */, 0, 4};
    r.append(reinterpret_cast<const char*>(rr), sizeof rr);
    r.append(reinterpret_cast<const char*>(&a), 4);
  }
  return r;
}

class DnsResponder {
 public:
  explicit DnsResponder(const Config& cfg) : cfg_(cfg) {
    sock_ = UniqueFd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    int one = 1;
    ::setsockopt(sock_.get(), IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
    struct sockaddr_in sa {};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(53);
    if (::bind(sock_.get(), reinterpret_cast<struct sockaddr*>(&sa), sizeof sa) != 0) throw sys_error("bind DNS port");
    fwd_ = UniqueFd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  }
  int fd() const { return sock_.get(); }
  int fwd_fd() const { return fwd_.get(); }

  void on_query() {
    unsigned char buf[1500];
    alignas(struct cmsghdr) char ctrl[256];
    struct sockaddr_in from {};
    struct iovec iov {buf, sizeof buf};
    struct msghdr m {};
    m.msg_name = &from;
    m.msg_namelen = sizeof from;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctrl;
    m.msg_controllen = sizeof ctrl;
    ssize_t n = ::recvmsg(sock_.get(), &m, 0);
    if (n < 12) return;
    struct in_addr local {};
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
        local = reinterpret_cast<struct in_pktinfo*>(CMSG_DATA(c))->ipi_addr;
    std::string name;
    size_t qend;
    uint16_t qtype;
    if (!parse_question(buf, static_cast<size_t>(n), &name, &qend, &qtype)) return;
    std::string gw = format_ip4(ntohl(local.s_addr));
    std::optional<UserNetwork> net;
    for (const auto& u : NetworkStore(cfg_).list())
      if (u.gateway == gw) net = u;
    std::string bare = name;
    for (const char* suffix : {".dns.den", ".dns.podman"}) {
      std::string s = suffix;
      if (bare.size() > s.size() && bare.compare(bare.size() - s.size(), s.size(), s) == 0)
        bare = bare.substr(0, bare.size() - s.size());
    }
    if (net) {
      for (const auto& e : read_endpoints(ep_dir(cfg_, *net))) {
        std::vector<std::string> names = e.aliases;
        names.push_back(e.name);
        names.push_back(e.container_id.substr(0, 12));
        if (!e.hostname.empty()) names.push_back(e.hostname);
        for (auto& x : names) x = to_lower(x);
        if (std::find(names.begin(), names.end(), bare) == names.end()) continue;
        std::string reply = dns_reply(buf, qend, 0, qtype == 1 || qtype == 255 ? e.ip : "");
        send_from(local, from, reply);
        return;
      }
    }
    if (!net || net->internal || bare.find('.') == std::string::npos) {
      send_from(local, from, dns_reply(buf, qend, 3, ""));  // NXDOMAIN
      return;
    }
    // Forward to slirp4netns' resolver; remember who asked.
    uint16_t id = next_id_++;
    Pending p{from, local, static_cast<uint16_t>((buf[0] << 8) | buf[1]), now_nanos()};
    pending_[id] = p;
    buf[0] = static_cast<unsigned char>(id >> 8);
    buf[1] = static_cast<unsigned char>(id & 0xff);
    struct sockaddr_in up {};
    up.sin_family = AF_INET;
    up.sin_port = htons(53);
    up.sin_addr.s_addr = htonl(parse_ip4("10.0.2.3").value_or(0));
    ::sendto(fwd_.get(), buf, static_cast<size_t>(n), 0, reinterpret_cast<struct sockaddr*>(&up), sizeof up);
    // Forget queries that got no answer.
    int64_t old = now_nanos() - 10'000'000'000LL;
    for (auto it = pending_.begin(); it != pending_.end();) it = it->second.at < old ? pending_.erase(it) : std::next(it);
  }

  void on_answer() {
    unsigned char buf[4096];
    ssize_t n = ::recv(fwd_.get(), buf, sizeof buf, 0);
    if (n < 12) return;
    uint16_t id = static_cast<uint16_t>((buf[0] << 8) | buf[1]);
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    buf[0] = static_cast<unsigned char>(it->second.orig_id >> 8);
    buf[1] = static_cast<unsigned char>(it->second.orig_id & 0xff);
    send_from(it->second.local, it->second.client,
              std::string(reinterpret_cast<const char*>(buf), static_cast<size_t>(n)));
    pending_.erase(it);
  }

 private:
  struct Pending {
    struct sockaddr_in client;
    struct in_addr local;
    uint16_t orig_id;
    int64_t at;
  };

  void send_from(struct in_addr local, struct sockaddr_in to, const std::string& data) {
    alignas(struct cmsghdr) char ctrl[CMSG_SPACE(sizeof(struct in_pktinfo))] = {};
    struct iovec iov {const_cast<char*>(data.data()), data.size()};
    struct msghdr m {};
    m.msg_name = &to;
    m.msg_namelen = sizeof to;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctrl;
    m.msg_controllen = sizeof ctrl;
    struct cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
    struct in_pktinfo pi {};
    pi.ipi_spec_dst = local;
    std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
    ::sendmsg(sock_.get(), &m, 0);
  }

  const Config& cfg_;
  UniqueFd sock_, fwd_;
  uint16_t next_id_ = 1;
  std::map<uint16_t, Pending> pending_;
};

// ---- the holder ----------------------------------------------------------------

bool any_endpoint(const Config& cfg) {
  std::string base = netns_dir(cfg) + "/ep";
  if (!is_dir(base)) return false;
  for (const auto& d : list_dir(base))
    if (!read_endpoints(base + "/" + d).empty()) return true;
  return false;
}

// The holder: in a new network namespace (owned by den's user namespace),
// with slirp4netns for outbound traffic, serving DNS until no container is
// attached. Reports "ok" or an error on ready_w.
[[noreturn]] void holder_main(const Config& cfg, int ready_w) {
  ::prctl(PR_SET_NAME, "den-netns");
  // Nothing of the monitor's: its locks, sockets and the container's pipes.
  for (int fd = 0; fd < 4096; fd++)
    if (fd != ready_w) ::close(fd);
  int devnull = ::open("/dev/null", O_RDWR);
  if (devnull >= 0) {
    ::dup2(devnull, 0);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
  }
  auto fail = [&](const std::string& msg) {
    std::string m = "err " + msg;
    ssize_t w = ::write(ready_w, m.data(), m.size());
    (void)w;
    ::_exit(1);
  };
  try {
    std::string slirp = find_program(cfg, "slirp4netns");
    if (slirp.empty()) fail("slirp4netns not found: install the slirp4netns package");
    int go[2], ready[2], exitp[2];
    if (::pipe2(go, O_CLOEXEC) != 0 || ::pipe2(ready, O_CLOEXEC) != 0 || ::pipe2(exitp, O_CLOEXEC) != 0)
      fail("pipe failed");
    pid_t self = ::getpid();
    pid_t s = ::fork();
    if (s == 0) {
      // slirp4netns stays in the host's network namespace.
      char b;
      if (::read(go[0], &b, 1) != 1) ::_exit(1);
      ::dup2(ready[1], 3);
      ::dup2(exitp[0], 4);
      int devnull = ::open("/dev/null", O_RDWR);
      ::dup2(devnull, 0);
      ::dup2(devnull, 1);
      ::dup2(devnull, 2);
      std::string ns = fmt::format("/proc/{}/ns/net", self);
      std::string api = "--api-socket=" + api_socket(cfg);
      ::execl(slirp.c_str(), slirp.c_str(), "--configure", "--mtu=65520", "--disable-host-loopback", "--ready-fd=3",
              "--exit-fd=4", api.c_str(), "--netns-type=path", ns.c_str(), "tap0", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(go[0]);
    ::close(ready[1]);
    ::close(exitp[0]);
    ::unlink(api_socket(cfg).c_str());  // of a holder that was killed
    if (::unshare(CLONE_NEWNET) != 0) fail(fmt::format("unshare network namespace: {}", std::strerror(errno)));
    if (::write(go[1], "g", 1) != 1) fail("slirp4netns did not start");
    ::close(go[1]);
    char b;
    if (::read(ready[0], &b, 1) != 1) fail("slirp4netns failed to start for the rootless network namespace");
    ::close(ready[0]);
    ip_batch(fmt::format("/proc/{}/ns/net", self), "link set lo up\n");
    {
      UniqueFd fwd(::open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC));
      if (!fwd || ::write(fwd.get(), "1", 1) != 1) fail("cannot enable forwarding in the rootless network namespace");
      // slirp4netns answers the containers' addresses (their outbound
      // traffic and published ports) as neighbours on tap0: the namespace
      // answers its ARP requests for them and routes to the bridges. No NAT
      // (netfilter) needed.
      UniqueFd parp(::open("/proc/sys/net/ipv4/conf/tap0/proxy_arp", O_WRONLY | O_CLOEXEC));
      if (!parp || ::write(parp.get(), "1", 1) != 1) fail("cannot enable proxy ARP in the rootless network namespace");
    }
    DnsResponder dns(cfg);
    write_file_atomic(netns_dir(cfg) + "/holder.pid", fmt::format("{} {}\n", self, process_start_time(self)), 0600,
                      Sync::None);
    if (::write(ready_w, "ok", 2) != 2) ::_exit(1);
    ::close(ready_w);
    int64_t idle_since = 0;
    for (;;) {
      struct pollfd p[2] = {{dns.fd(), POLLIN, 0}, {dns.fwd_fd(), POLLIN, 0}};
      int r = ::poll(p, 2, 500);
      if (r > 0) {
        if (p[0].revents & POLLIN) dns.on_query();
        if (p[1].revents & POLLIN) dns.on_answer();
        continue;
      }
      // Idle tick: exit once no container has been attached for a second.
      while (::waitpid(-1, nullptr, WNOHANG) > 0) {
      }
      if (::kill(s, 0) != 0) break;  // slirp4netns died
      auto lock = FileLock::try_acquire(netns_dir(cfg) + "/lock");
      if (!lock) continue;
      if (any_endpoint(cfg)) {
        idle_since = 0;
        continue;
      }
      if (idle_since == 0) {
        idle_since = now_nanos();
        continue;
      }
      if (now_nanos() - idle_since < 1'000'000'000LL) continue;
      ::unlink((netns_dir(cfg) + "/holder.pid").c_str());
      break;
    }
    ::close(exitp[1]);
    ::kill(s, SIGTERM);
    ::waitpid(s, nullptr, 0);
    ::_exit(0);
  } catch (const std::exception& e) {
    fail(e.what());
  }
  ::_exit(1);
}

pid_t running_holder(const Config& cfg) {
  auto text = read_file_if_exists(netns_dir(cfg) + "/holder.pid");
  if (!text) return 0;
  long pid = 0;
  unsigned long long start = 0;
  if (std::sscanf(text->c_str(), "%ld %llu", &pid, &start) != 2) return 0;
  return alive(static_cast<pid_t>(pid), start) ? static_cast<pid_t>(pid) : 0;
}

// Starts the holder (caller holds the lock). Returns its pid.
pid_t start_holder(const Config& cfg) {
  log::Phase phase("network: start rootless netns");
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw sys_error("pipe");
  pid_t mid = ::fork();
  if (mid == 0) {
    ::close(p[0]);
    ::setsid();
    ::signal(SIGPIPE, SIG_IGN);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int s : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) ::signal(s, SIG_DFL);
    pid_t h = ::fork();
    if (h == 0) holder_main(cfg, p[1]);
    ::_exit(h < 0 ? 1 : 0);
  }
  ::close(p[1]);
  UniqueFd r(p[0]);
  if (mid < 0) throw sys_error("fork");
  while (::waitpid(mid, nullptr, 0) < 0 && errno == EINTR) {
  }
  std::string msg;
  char buf[512];
  size_t n;
  while ((n = read_some(r.get(), buf, sizeof buf)) > 0) msg.append(buf, n);
  if (msg != "ok")
    throw Error(fmt::format("cannot start the rootless network namespace: {}",
                            msg.rfind("err ", 0) == 0 ? msg.substr(4) : "its holder died"));
  pid_t pid = running_holder(cfg);
  if (pid == 0) throw Error("cannot start the rootless network namespace: its holder died");
  return pid;
}

}  // namespace

pid_t rootless_netns_pid(const Config& cfg) { return running_holder(cfg); }

namespace {

// The forward ids recorded in an endpoint file.
std::vector<int> recorded_forwards(const std::string& file) {
  auto text = read_file_if_exists(file);
  Json j = text ? Json::parse(*text, nullptr, false) : Json();
  if (!j.is_object()) return {};
  return j.value("forwards", std::vector<int>{});
}

// Forwards the container's published ports from the host to its address
// `e.ip` through the namespace's slirp4netns, and records their ids in its
// endpoint file. Forwards no live endpoint records (their container died
// with its monitor) are removed first, so that their host ports are free.
void publish_ports(const Config& cfg, const ContainerConfig& c, pid_t pid, const NetEndpoint& e,
                   const std::string& file) {
  log::Phase phase("network: publish ports");
  FileLock lock = FileLock::acquire(netns_dir(cfg) + "/lock");
  std::string api = api_socket(cfg);
  std::set<int> live;
  std::string base = netns_dir(cfg) + "/ep";
  for (const auto& d : list_dir(base)) {
    for (const auto& other : read_endpoints(base + "/" + d)) {
      for (int id : recorded_forwards(base + "/" + d + "/" + other.container_id + ".json")) live.insert(id);
    }
  }
  for (const auto& f : slirp_list_forwards(api)) {
    if (live.count(f.id)) continue;
    log::debug("network: removing stale forward {} ({}:{} -> {}:{})", f.id, f.host_ip, f.host_port, f.guest_ip,
               f.guest_port);
    try {
      slirp_remove_forward(api, f.id);
    } catch (const Error&) {
    }
  }
  check_host_ports(c.ports, cfg.rootless);
  std::vector<int> ids;
  try {
    for (const auto& p : expand_ports(c.ports)) ids.push_back(slirp_add_forward(api, p, e.ip));
    write_file_atomic(file, endpoint_json(e, pid, ids).dump() + "\n", 0600, Sync::None);
  } catch (...) {
    for (int id : ids) {
      try {
        slirp_remove_forward(api, id);
      } catch (const Error&) {
      }
    }
    throw;
  }
}

}  // namespace

std::vector<NetEndpoint> network_endpoints(const Config& cfg, const UserNetwork& n) {
  return read_endpoints(ep_dir(cfg, n));
}

std::vector<NetEndpoint> container_endpoints(const Config& cfg, const std::string& container_id) {
  std::vector<NetEndpoint> out;
  for (const auto& n : NetworkStore(cfg).list())
    for (const auto& e : read_endpoints(ep_dir(cfg, n)))
      if (e.container_id == container_id) out.push_back(e);
  return out;
}

std::vector<NetEndpoint> attach_user_networks(const Config& cfg, const ContainerConfig& c, pid_t pid,
                                           const std::vector<std::string>& networks) {
  log::Phase phase("network: attach");
  std::vector<NetEndpoint> done;
  std::vector<std::string> files;
  std::string ns = netns_dir(cfg);
  mkdirs(ns + "/ep", 0700);
  pid_t holder;
  std::vector<std::pair<UserNetwork, NetEndpoint>> plan;
  bool has_default = false;  // a container attached before has its route
  {
    FileLock lock = FileLock::acquire(ns + "/lock");
    holder = running_holder(cfg);
    if (holder == 0) holder = start_holder(cfg);
    int ifindex = static_cast<int>(container_endpoints(cfg, c.id).size());
    has_default = ifindex > 0;
    for (const auto& name : networks) {
      UserNetwork n = NetworkStore(cfg).get(name);
      std::vector<NetEndpoint> eps = read_endpoints(ep_dir(cfg, n));
      bool already = false;
      for (const auto& e : eps) already = already || e.container_id == c.id;
      if (already) continue;
      uint32_t base = parse_ip4(split_once(n.subnet, '/').first).value_or(0);
      uint32_t last = base | (~uint32_t{0} >> prefix_of(n));
      std::string ip;
      for (uint32_t a = base + 1; a < last && ip.empty(); a++) {
        std::string cand = format_ip4(a);
        if (cand == n.gateway) continue;
        bool used = std::any_of(eps.begin(), eps.end(), [&](const NetEndpoint& e) { return e.ip == cand; });
        if (!used) ip = cand;
      }
      if (ip.empty()) throw Error(fmt::format("network {} has no free address in {}", n.name, n.subnet));
      NetEndpoint e;
      e.network = n.name;
      e.container_id = c.id;
      e.name = c.name;
      e.hostname = c.hostname;
      e.aliases = c.network_aliases;
      e.ip = ip;
      e.mac = plan.empty() && done.empty() ? c.mac_address : "";
      e.ifname = fmt::format("eth{}", ifindex++);
      mkdirs(ep_dir(cfg, n), 0700);
      std::string f = ep_dir(cfg, n) + "/" + c.id + ".json";
      write_file_atomic(f, endpoint_json(e, pid).dump() + "\n", 0600, Sync::None);
      files.push_back(f);
      plan.emplace_back(n, e);
    }
  }
  try {
    std::string holder_ns = fmt::format("/proc/{}/ns/net", holder);
    std::string ctr_ns = fmt::format("/proc/{}/ns/net", pid);
    for (auto& [n, e] : plan) {
      std::string host_if = fmt::format("v{}{}", c.id.substr(0, 10), e.ifname.substr(3));
      std::string cmds;
      // The bridge, made when the first container joins the network.
      // And this container's interface of its last run, when the kernel has
      // not yet destroyed it with that run's network namespace (the cleanup
      // of a namespace is deferred): a restart right after a stop would
      // fail with "File exists".
      {
        pid_t chk = ::fork();
        if (chk == 0) {
          UniqueFd h(::open(holder_ns.c_str(), O_RDONLY | O_CLOEXEC));
          if (!h || ::setns(h.get(), CLONE_NEWNET) != 0) ::_exit(4);
          ::_exit((::if_nametoindex(n.bridge().c_str()) == 0 ? 1 : 0) | (::if_nametoindex(host_if.c_str()) != 0 ? 2 : 0));
        }
        int st = 0;
        while (::waitpid(chk, &st, 0) < 0 && errno == EINTR) {
        }
        int found = WIFEXITED(st) ? WEXITSTATUS(st) : 4;
        if (found < 4 && (found & 1))
          cmds += fmt::format("link add {} type bridge\naddr add {}/{} dev {}\nlink set {} up\n", n.bridge(),
                              n.gateway, prefix_of(n), n.bridge(), n.bridge());
        if (found < 4 && (found & 2)) cmds += fmt::format("link del {}\n", host_if);
      }
      cmds += fmt::format("link add {} mtu 65520 type veth peer name {} mtu 65520 netns {}\nlink set {} master {} up\n",
                          host_if, e.ifname, pid, host_if, n.bridge());
      ip_batch(holder_ns, cmds);
      std::string in = fmt::format("addr add {}/{} dev {}\n", e.ip, prefix_of(n), e.ifname);
      if (!e.mac.empty()) in += fmt::format("link set {} address {}\n", e.ifname, e.mac);
      in += fmt::format("link set {} up\n", e.ifname);
      if (!n.internal && !has_default) {
        in += fmt::format("route add default via {}\n", n.gateway);
        has_default = true;
      }
      ip_batch(ctr_ns, in);
      done.push_back(e);
    }
    // Published ports go to the address on the container's first network.
    std::string primary = c.networks.empty() ? c.network : c.networks.front();
    for (size_t i = 0; i < plan.size(); i++)
      if (plan[i].first.name == primary && !c.ports.empty()) publish_ports(cfg, c, pid, plan[i].second, files[i]);
  } catch (...) {
    for (const auto& f : files) ::unlink(f.c_str());
    throw;
  }
  return done;
}

void detach_user_networks(const Config& cfg, const std::string& container_id, const std::string& only_network) {
  try {
    for (const auto& n : NetworkStore(cfg).list()) {
      if (!only_network.empty() && n.name != only_network) continue;
      std::string f = ep_dir(cfg, n) + "/" + container_id + ".json";
      // Its published ports (ids are never reused by a slirp4netns).
      for (int id : recorded_forwards(f)) {
        try {
          slirp_remove_forward(api_socket(cfg), id);
        } catch (const Error&) {
        }
      }
      if (!only_network.empty()) {
        // A running container leaves the network: its interface goes too.
        auto text = read_file_if_exists(f);
        Json j = text ? Json::parse(*text, nullptr, false) : Json();
        if (j.is_object() && alive(j.value("pid", 0), j.value("pid_start", uint64_t{0}))) {
          try {
            ip_batch(fmt::format("/proc/{}/ns/net", j.value("pid", 0)),
                     fmt::format("link del {}\n", j.value("ifname", "eth0")));
          } catch (const Error&) {
          }
        }
      }
      ::unlink(f.c_str());
    }
  } catch (...) {
  }
}

}  // namespace den

namespace den {

std::string user_network_hosts(const Config& cfg, const ContainerConfig& c, const std::string& hostname,
                               const std::vector<NetEndpoint>& eps) {
  NetAddresses a;
  std::vector<std::string> extra;
  if (!eps.empty()) {
    UserNetwork n = NetworkStore(cfg).get(eps.front().network);
    a.ip = eps.front().ip;
    a.gateway = n.gateway;
    a.dns = n.gateway;
    // The host as the default network without allow_host_loopback sees it
    // (its first address), reached through the namespace's slirp4netns.
    ContainerConfig plain;
    plain.network = "slirp4netns";
    a.host = container_addresses(plain).host;
    // --link NAME[:ALIAS]: the linked container's address on a shared network.
    for (const auto& l : c.links) {
      auto [target, alias] = split_once(l, ':');
      for (const auto& e : eps) {
        UserNetwork en = NetworkStore(cfg).get(e.network);
        for (const auto& o : network_endpoints(cfg, en))
          if (o.name == target || o.container_id.rfind(target, 0) == 0) {
            extra.push_back(o.ip + "\t" + (alias.empty() || alias == o.name ? o.name : alias + " " + o.name));
            goto next_link;
          }
      }
    next_link:;
    }
  }
  return hosts_file(c, hostname, &a, extra);
}

std::string user_network_resolv(const Config& cfg, const ContainerConfig& c, const std::vector<NetEndpoint>& eps) {
  NetAddresses a;
  if (!eps.empty()) a.dns = NetworkStore(cfg).get(eps.front().network).gateway;
  return resolv_conf(c, &a);
}

}  // namespace den
