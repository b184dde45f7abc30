// Published ports of containers on user networks (forwards of the rootless
// network namespace's slirp4netns, through its API socket), and the watcher
// that stops a helper when its owner dies (pasta, which has no exit fd).
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "den/error.h"
#include "den/fs.h"
#include "den/log.h"
#include "den/network.h"
#include "den/strings.h"

namespace den {

namespace {

// One request to slirp4netns' API socket; the parsed reply.
Json slirp_request(const std::string& sock, const Json& request) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw sys_error("socket");
  struct sockaddr_un sa {};
  sa.sun_family = AF_UNIX;
  if (sock.size() >= sizeof sa.sun_path) throw Error("slirp4netns API socket path too long: " + sock);
  std::memcpy(sa.sun_path, sock.c_str(), sock.size());
  // The socket may appear only just after slirp4netns said it is ready.
  for (int i = 0;; i++) {
    if (::connect(fd.get(), reinterpret_cast<struct sockaddr*>(&sa), sizeof sa) == 0) break;
    if (i >= 200) throw sys_error("connect to slirp4netns API " + sock);
    ::usleep(5000);
  }
  write_all(fd.get(), request.dump());
  ::shutdown(fd.get(), SHUT_WR);
  std::string reply;
  char buf[4096];
  size_t n;
  while ((n = read_some(fd.get(), buf, sizeof buf)) > 0) reply.append(buf, n);
  Json r = Json::parse(reply, nullptr, false);
  // {"return": {...}}, or (list_hostfwd of slirp4netns 1.2) the object itself.
  if (r.is_discarded() || !r.is_object() || r.contains("error"))
    throw Error(fmt::format("slirp4netns said {}", trim(reply)));
  return r.contains("return") ? r["return"] : r;
}

}  // namespace

std::vector<HostForward> slirp_list_forwards(const std::string& api_socket) {
  std::vector<HostForward> out;
  Json r = slirp_request(api_socket, {{"execute", "list_hostfwd"}});
  for (const auto& e : r.value("entries", Json::array())) {
    HostForward f;
    f.id = e.value("id", 0);
    f.protocol = e.value("proto", "tcp");
    f.host_ip = e.value("host_addr", "");
    f.host_port = e.value("host_port", 0);
    f.guest_ip = e.value("guest_addr", "");
    f.guest_port = e.value("guest_port", 0);
    out.push_back(f);
  }
  return out;
}

int slirp_add_forward(const std::string& api_socket, const PortMapping& p, const std::string& guest_ip) {
  std::string host_ip = p.host_ip.empty() ? "0.0.0.0" : p.host_ip;
  Json args = {{"proto", p.protocol}, {"host_addr", host_ip}, {"host_port", p.host_port},
               {"guest_port", p.container_port}};
  if (!guest_ip.empty()) args["guest_addr"] = guest_ip;  // else slirp4netns' own guest, 10.0.2.100
  Json req = {{"execute", "add_hostfwd"}, {"arguments", args}};
  try {
    Json r = slirp_request(api_socket, req);
    return r.value("id", -1);
  } catch (const Error& e) {
    throw Error(fmt::format("cannot publish {}:{}/{}: {}", host_ip, p.host_port, p.protocol, e.what()));
  }
}

void slirp_remove_forward(const std::string& api_socket, int id) {
  slirp_request(api_socket, {{"execute", "remove_hostfwd"}, {"arguments", {{"id", id}}}});
}

// ---- the watcher ----------------------------------------------------------------

HelperWatch::HelperWatch(pid_t helper) {
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, helper, 0)));
  if (!pidfd) throw sys_error(fmt::format("pidfd_open {}", helper));
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw sys_error("pipe");
  pid_t w = ::fork();
  if (w == 0) {
    // Only async-signal-safe calls from here: the caller may have threads.
    ::prctl(PR_SET_NAME, "den-netwatch");
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int s : {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD}) ::signal(s, SIG_DFL);
    // Nothing of the owner's (its locks, the container's stdio pipes).
    int keep_r = p[0], keep_pid = pidfd.get();
    for (int fd = 0; fd < 4096; fd++)
      if (fd != keep_r && fd != keep_pid) ::close(fd);
    char b = 0;
    while (::read(keep_r, &b, 1) < 0 && errno == EINTR) {
    }
    // EOF: the owner closed its end (release, after stopping the helper) or
    // died. A pidfd never names another process, so this is safe either way.
    ::syscall(SYS_pidfd_send_signal, keep_pid, SIGTERM, nullptr, 0);
    ::_exit(0);
  }
  ::close(p[0]);
  if (w < 0) {
    ::close(p[1]);
    throw sys_error("fork");
  }
  pid_ = w;
  fd_ = p[1];
}

HelperWatch::~HelperWatch() { release(); }

void HelperWatch::release() {
  if (pid_ <= 0) return;
  ::close(fd_);
  // Reaped here, or already by the owner's reaper loop (ECHILD).
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  fd_ = -1;
}

}  // namespace den
