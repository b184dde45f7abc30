// sd_notify(3)'s protocol, written here rather than linking libsystemd: one
// datagram of "KEY=VALUE" lines to the unix socket named by $NOTIFY_SOCKET.
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "den/error.h"
#include "den/fs.h"
#include "den/log.h"
#include "den/runtime.h"
#include "den/systemd.h"

namespace den {

bool sd_notify(std::string_view msg) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path) return false;
  std::string p = path;
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  if (p.size() >= sizeof addr.sun_path || (p[0] != '/' && p[0] != '@')) {
    log::debug("sd_notify: unusable NOTIFY_SOCKET {}", p);
    return false;
  }
  std::memcpy(addr.sun_path, p.data(), p.size());
  socklen_t len = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + p.size());
  if (p[0] == '@') addr.sun_path[0] = 0;  // abstract
  else len += 1;
  UniqueFd s(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return false;
  ssize_t n = ::sendto(s.get(), msg.data(), msg.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), len);
  if (n < 0) {
    log::debug("sd_notify {}: {}", p, std::strerror(errno));
    return false;
  }
  log::debug("sd_notify: sent {}", msg);
  return true;
}

void add_notify_socket(RunPlan& plan, const ContainerConfig& c) {
  (void)c;
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path) return;
  if (path[0] != '/')
    throw Error(fmt::format("--sdnotify=container: NOTIFY_SOCKET {} is an abstract socket, which cannot be bound "
                            "into the container; use --sdnotify=conmon",
                            path),
                Errc::Unsupported);
  plan.mounts.push_back({path, "/run/notify/notify.sock", "", MS_BIND, "", true, false});
  plan.env.push_back("NOTIFY_SOCKET=/run/notify/notify.sock");
}

}  // namespace den
