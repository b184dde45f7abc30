#include "den/lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>

#include "den/error.h"
#include "den/log.h"

namespace den {

namespace {
UniqueFd open_lock(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw sys_error(fmt::format("open lock {}", path));
  return UniqueFd(fd);
}
int op_of(FileLock::Mode m) { return m == FileLock::Mode::Shared ? LOCK_SH : LOCK_EX; }
}  // namespace

FileLock FileLock::acquire(const std::string& path, Mode mode) {
  UniqueFd fd = open_lock(path);
  if (::flock(fd.get(), op_of(mode) | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) throw sys_error(fmt::format("lock {}", path));
    log::debug("waiting for lock {}", path);
    while (::flock(fd.get(), op_of(mode)) != 0) {
      if (errno != EINTR) throw sys_error(fmt::format("lock {}", path));
    }
  }
  return FileLock(std::move(fd));
}

std::optional<FileLock> FileLock::try_acquire(const std::string& path, Mode mode) {
  UniqueFd fd = open_lock(path);
  if (::flock(fd.get(), op_of(mode) | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return std::nullopt;
    throw sys_error(fmt::format("lock {}", path));
  }
  return FileLock(std::move(fd));
}

}  // namespace den
