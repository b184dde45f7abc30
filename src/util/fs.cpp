#include "den/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "den/error.h"

namespace den {

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

UniqueFd open_file(const std::string& path, int flags, mode_t mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) throw sys_error(fmt::format("open {}", path));
  return UniqueFd(fd);
}

size_t read_some(int fd, void* buf, size_t n) {
  for (;;) {
    ssize_t r = ::read(fd, buf, n);
    if (r >= 0) return static_cast<size_t>(r);
    if (errno != EINTR) throw sys_error("read");
  }
}

void write_all(int fd, std::string_view data, const char* what) {
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t w = ::write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw sys_error(what);
    }
    p += w;
    left -= static_cast<size_t>(w);
  }
}

namespace {
// Reads a whole open file. A regular file is read in one read(2) of its
// size plus one byte (a short read is its end), so reading a small file costs
// open, fstat, read and close: `ps` reads two per container.
std::string read_fd(int fd, const std::string& path) {
  std::string out;
  struct stat st;
  size_t want = 65536;
  bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
  if (regular) want = static_cast<size_t>(st.st_size) + 1;
  for (;;) {
    size_t old = out.size();
    out.resize(old + want);
    size_t n;
    try {
      n = read_some(fd, out.data() + old, want);
    } catch (Error& e) {
      throw e.context(path);
    }
    out.resize(old + n);
    if (n == 0 || (regular && n < want)) break;
    want = 65536;
  }
  return out;
}
}  // namespace

std::string read_file(const std::string& path) {
  UniqueFd fd = open_file(path, O_RDONLY);
  return read_fd(fd.get(), path);
}

std::string format_limit(uint64_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return fmt::format("{} MiB", bytes >> 20);
  if (bytes >= 1024 && bytes % 1024 == 0) return fmt::format("{} KiB", bytes >> 10);
  return fmt::format("{} bytes", bytes);
}

std::string read_file_bounded(const std::string& path, size_t max, const std::string& what) {
  UniqueFd fd = open_file(path, O_RDONLY);
  std::string out;
  for (;;) {
    // One byte past the limit tells a file of exactly `max` bytes from a larger one.
    size_t want = std::min<size_t>(65536, max + 1 - out.size());
    size_t old = out.size();
    out.resize(old + want);
    size_t n;
    try {
      n = read_some(fd.get(), out.data() + old, want);
    } catch (Error& e) {
      throw e.context(path);
    }
    out.resize(old + n);
    if (out.size() > max)
      throw Error(fmt::format("{} is larger than the limit of {}", what, format_limit(max)), Errc::Invalid);
    if (n == 0) break;
  }
  return out;
}

std::optional<std::string> read_file_if_exists(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw sys_error(fmt::format("open {}", path));
  }
  UniqueFd guard(fd);
  return read_fd(fd, path);
}

void fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw sys_error(fmt::format("open {}", dir));
  ::fsync(fd);
  ::close(fd);
}

void write_file_atomic(const std::string& path, std::string_view data, mode_t mode, Sync sync) {
  std::string dir = dirname_of(path);
  std::string tmp = fmt::format("{}/.tmp-{}-{}", dir, basename_of(path), ::getpid());
  {
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) throw sys_error(fmt::format("create {}", tmp));
    UniqueFd guard(fd);
    try {
      write_all(fd, data, "write");
      if (sync != Sync::None && ::fsync(fd) != 0) throw sys_error("fsync");
    } catch (Error& e) {
      ::unlink(tmp.c_str());
      throw e.context(fmt::format("write {}", path));
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw sys_error(fmt::format("rename {} to {}", tmp, path), err);
  }
  if (sync == Sync::Full) fsync_dir(dir);
}

bool path_exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

bool is_dir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void mkdirs(const std::string& path, mode_t mode) {
  if (path.empty()) return;
  if (::mkdir(path.c_str(), mode) == 0) return;
  if (errno == EEXIST) {
    if (is_dir(path)) return;
    throw sys_error(fmt::format("mkdir {}", path), ENOTDIR);
  }
  if (errno != ENOENT) throw sys_error(fmt::format("mkdir {}", path));
  std::string parent = dirname_of(path);
  if (parent != path) mkdirs(parent, mode);
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) throw sys_error(fmt::format("mkdir {}", path));
}

namespace {
void remove_at(int dirfd, const char* name, const std::string& shown) {
  if (::unlinkat(dirfd, name, 0) == 0 || errno == ENOENT) return;
  if (errno != EISDIR && errno != EPERM) throw sys_error(fmt::format("remove {}", shown));
  int fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == EACCES) {
      ::fchmodat(dirfd, name, 0700, 0);
      fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) throw sys_error(fmt::format("open {}", shown));
  }
  struct stat st;
  if (::fstat(fd, &st) == 0 && (st.st_mode & 0700) != 0700) ::fchmod(fd, st.st_mode | 0700);
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    throw sys_error(fmt::format("opendir {}", shown));
  }
  while (struct dirent* ent = ::readdir(d)) {
    if (std::strcmp(ent->d_name, ".") == 0 || std::strcmp(ent->d_name, "..") == 0) continue;
    remove_at(::dirfd(d), ent->d_name, shown + "/" + ent->d_name);
  }
  ::closedir(d);
  if (::unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
    throw sys_error(fmt::format("remove {}", shown));
}
}  // namespace

void remove_all(const std::string& path) {
  if (path.empty() || path == "/") throw Error("refusing to remove " + path);
  remove_at(AT_FDCWD, path.c_str(), path);
}

std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> out;
  DIR* d = ::opendir(path.c_str());
  if (!d) {
    if (errno == ENOENT) return out;
    throw sys_error(fmt::format("opendir {}", path));
  }
  while (struct dirent* ent = ::readdir(d)) {
    if (std::strcmp(ent->d_name, ".") == 0 || std::strcmp(ent->d_name, "..") == 0) continue;
    out.emplace_back(ent->d_name);
  }
  ::closedir(d);
  return out;
}

namespace {
uint64_t size_at(int dirfd, const char* name) {
  struct stat st;
  if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return 0;
  if (!S_ISDIR(st.st_mode)) return S_ISREG(st.st_mode) || S_ISLNK(st.st_mode) ? static_cast<uint64_t>(st.st_size) : 0;
  int fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return 0;
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return 0;
  }
  uint64_t total = 0;
  while (struct dirent* ent = ::readdir(d)) {
    if (std::strcmp(ent->d_name, ".") == 0 || std::strcmp(ent->d_name, "..") == 0) continue;
    total += size_at(::dirfd(d), ent->d_name);
  }
  ::closedir(d);
  return total;
}
}  // namespace

uint64_t dir_size(const std::string& path) { return size_at(AT_FDCWD, path.c_str()); }

std::string path_join(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  std::string out(a);
  if (out.back() != '/') out += '/';
  while (!b.empty() && b.front() == '/') b.remove_prefix(1);
  out += b;
  return out;
}

std::string dirname_of(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  auto pos = path.rfind('/');
  if (pos == std::string_view::npos) return ".";
  if (pos == 0) return "/";
  return std::string(path.substr(0, pos));
}

std::string basename_of(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  auto pos = path.rfind('/');
  return std::string(pos == std::string_view::npos ? path : path.substr(pos + 1));
}

TempDir::TempDir(const std::string& parent, std::string_view prefix) {
  mkdirs(parent, 0700);
  std::string tmpl = fmt::format("{}/{}XXXXXX", parent, prefix);
  if (!::mkdtemp(tmpl.data())) throw sys_error(fmt::format("mkdtemp {}", tmpl));
  path_ = tmpl;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  try {
    remove_all(path_);
  } catch (...) {
  }
}

}  // namespace den
