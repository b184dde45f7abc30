// See den/treecopy.h. nftw(3) walks; state lives in file-level statics
// because nftw's callback takes no user pointer (the child is single-threaded).
#include "den/treecopy.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#pragma GCC diagnostic ignored "-Wformat-truncation"

namespace den {

namespace {

size_t g_from_len = 0;
const char* g_to = nullptr;
uid_t g_uid = 0;
gid_t g_gid = 0;
int g_err = 0;

int copy_file(const char* src, const char* dst, const struct stat* st) {
  int in = ::open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (in < 0) return errno;
  int out = ::open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0) {
    int e = errno;
    ::close(in);
    return e;
  }
  int e = 0;
  char buf[65536];
  for (;;) {
    ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, 1 << 30, 0);
    if (n == 0) break;
    if (n > 0) continue;
    if (errno == EINTR) continue;
    // Not supported between these file systems: plain reads and writes.
    for (;;) {
      ssize_t r = ::read(in, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        e = errno;
        break;
      }
      if (r == 0) break;
      for (ssize_t done = 0; done < r;) {
        ssize_t w = ::write(out, buf + done, static_cast<size_t>(r - done));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
          e = errno;
          break;
        }
        done += w;
      }
      if (e) break;
    }
    break;
  }
  if (!e && ::fchown(out, st->st_uid, st->st_gid) != 0) e = errno;
  if (!e && ::fchmod(out, st->st_mode & 07777) != 0) e = errno;
  struct timespec ts[2] = {st->st_atim, st->st_mtim};
  if (!e) ::futimens(out, ts);
  ::close(in);
  ::close(out);
  return e;
}

int copy_one(const char* path, const struct stat* st, int type, struct FTW*) {
  char dst[4096];
  std::snprintf(dst, sizeof dst, "%s%s", g_to, path + g_from_len);
  if (path[g_from_len] == 0) {
    // The root: the volume takes the image directory's owner and mode.
    if (::lchown(dst, st->st_uid, st->st_gid) != 0 || ::chmod(dst, st->st_mode & 07777) != 0) g_err = errno;
    return g_err ? 1 : 0;
  }
  int e = 0;
  if (type == FTW_D || type == FTW_DNR) {
    if (::mkdir(dst, 0700) != 0) e = errno;
    else if (::lchown(dst, st->st_uid, st->st_gid) != 0 || ::chmod(dst, st->st_mode & 07777) != 0) e = errno;
  } else if (type == FTW_SL || type == FTW_SLN) {
    char target[4096];
    ssize_t n = ::readlink(path, target, sizeof target - 1);
    if (n < 0) e = errno;
    else {
      target[n] = 0;
      if (::symlink(target, dst) != 0 || ::lchown(dst, st->st_uid, st->st_gid) != 0) e = errno;
    }
  } else if (S_ISREG(st->st_mode)) {
    e = copy_file(path, dst, st);
  } else if (S_ISFIFO(st->st_mode)) {
    if (::mkfifo(dst, st->st_mode & 07777) != 0 || ::lchown(dst, st->st_uid, st->st_gid) != 0) e = errno;
  }
  // Device nodes and sockets are skipped (not creatable rootless).
  if (e) g_err = e;
  return e ? 1 : 0;
}

int chown_one(const char* path, const struct stat*, int, struct FTW*) {
  if (::lchown(path, g_uid, g_gid) != 0) {
    g_err = errno;
    return 1;
  }
  return 0;
}

}  // namespace

bool dir_is_empty(const char* dir) {
  DIR* d = ::opendir(dir);
  if (!d) return false;
  bool empty = true;
  while (struct dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  return empty;
}

int copy_tree(const char* from, const char* to) {
  g_from_len = std::strlen(from);
  g_to = to;
  g_err = 0;
  if (::nftw(from, copy_one, 64, FTW_PHYS | FTW_MOUNT) != 0 && !g_err) g_err = errno ? errno : EIO;
  return g_err;
}

int chown_tree(const char* path, uid_t uid, gid_t gid) {
  g_uid = uid;
  g_gid = gid;
  g_err = 0;
  if (::nftw(path, chown_one, 64, FTW_PHYS | FTW_MOUNT) != 0 && !g_err) g_err = errno ? errno : EIO;
  return g_err;
}

}  // namespace den
