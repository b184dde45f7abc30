// Tar streams in and out of containers and volumes: see den/copy.h.
#include "den/copy.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <thread>

#include "den/error.h"
#include "den/fs.h"
#include "den/image.h"
#include "den/layer_tar.h"
#include "den/log.h"
#include "den/strings.h"
#include "den/treecopy.h"
#include "den/userns.h"
#include "den/volume.h"

namespace den {

namespace {

struct ArchiveFree {
  void operator()(archive* a) const {
    if (a) archive_free(a);
  }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveFree>;
struct EntryFree {
  void operator()(archive_entry* e) const {
    if (e) archive_entry_free(e);
  }
};

std::string archive_message(archive* a) {
  const char* m = archive_error_string(a);
  return m ? m : "unknown error";
}

// Where the entries of a stream go: into `dir`, the first path component
// `from` renamed to `to` (both "" for no renaming).
struct Target {
  std::string dir;
  std::string from, to;
};

std::string map_entry(const Target& t, const std::string& rel, const std::string& label) {
  if (t.from == t.to) return rel;
  if (rel == t.from) return t.to;
  if (rel.rfind(t.from + "/", 0) == 0) return t.to + rel.substr(t.from.size());
  throw Error(fmt::format("tar entry \"{}\" is outside the copied \"{}\"", label, t.from), Errc::Invalid);
}

void untar(int fd, const UntarOptions& opts,
           const std::function<Target(const std::string& first, bool first_is_dir)>& decide) {
  ArchivePtr in(archive_read_new());
  archive_read_support_filter_all(in.get());
  archive_read_support_format_tar(in.get());
  if (archive_read_open_fd(in.get(), fd, 65536) != ARCHIVE_OK)
    throw Error(fmt::format("read tar: {}", archive_message(in.get())), Errc::Invalid);
  ArchivePtr out(archive_write_disk_new());
  int flags = ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
              ARCHIVE_EXTRACT_SECURE_NODOTDOT;
  if (opts.keep_owners) flags |= ARCHIVE_EXTRACT_OWNER;
  archive_write_disk_set_options(out.get(), flags);
  Target target;
  std::string root;
  bool first = true;
  EntryFilter filter(opts.rootless, {});
  for (;;) {
    archive_entry* e = nullptr;
    int r = archive_read_next_header(in.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      if (first) throw Error(fmt::format("read tar: {}", archive_message(in.get())), Errc::Invalid);
      throw Error(fmt::format("read tar: {}", archive_message(in.get())), Errc::Invalid);
    }
    const char* p = archive_entry_pathname(e);
    std::string name = p ? p : "";
    auto rel = sanitize_entry_path(name);
    if (!rel) throw Error(fmt::format("tar entry \"{}\" escapes the destination: refused", name), Errc::Invalid);
    auto type = archive_entry_filetype(e);
    if (first) {
      target = decide(*rel, type == AE_IFDIR);
      char real[PATH_MAX];
      if (!::realpath(target.dir.c_str(), real)) throw sys_error("destination " + target.dir);
      root = real;
      if (root == "/") root.clear();
      first = false;
    }
    std::string dst = map_entry(target, *rel, name);
    const char* hl = archive_entry_hardlink(e);
    std::optional<std::string> link;
    if (hl) {
      link = sanitize_entry_path(hl);
      if (!link || link->empty()) throw hardlink_outside(name, hl);
    }
    if (filter.skip(e, *rel, link ? &*link : nullptr)) continue;
    if (hl) {
      // The target: an entry extracted before, or a file already in the
      // destination (as docker cp links it). Symlinks on its way are refused
      // by libarchive (SECURE_SYMLINKS checks link targets too).
      std::string tpath = root + "/" + map_entry(target, *link, hl);
      struct stat st;
      if (::lstat(tpath.c_str(), &st) != 0) throw hardlink_outside(name, hl);
      archive_entry_copy_hardlink(e, tpath.c_str());
    }
    if (!opts.keep_owners) {
      archive_entry_set_uid(e, ::geteuid());
      archive_entry_set_gid(e, ::getegid());
    }
    archive_entry_copy_pathname(e, dst.empty() ? (root.empty() ? "/" : root.c_str()) : (root + "/" + dst).c_str());
    r = archive_write_header(out.get(), e);
    if (r < ARCHIVE_WARN)
      throw Error(fmt::format("tar entry \"{}\": {}: refused", name, archive_message(out.get())), Errc::Invalid);
    filter.written(*rel);
    if (archive_entry_size(e) > 0 && type == AE_IFREG && !archive_entry_hardlink(e)) {
      for (;;) {
        const void* buf;
        size_t len;
        la_int64_t off;
        r = archive_read_data_block(in.get(), &buf, &len, &off);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) throw Error(fmt::format("read tar: {}: {}", name, archive_message(in.get())), Errc::Invalid);
        if (archive_write_data_block(out.get(), buf, len, off) < ARCHIVE_WARN)
          throw Error(fmt::format("write {}: {}", name, archive_message(out.get())));
      }
    }
    if (archive_write_finish_entry(out.get()) < ARCHIVE_WARN)
      throw Error(fmt::format("write {}: {}", name, archive_message(out.get())));
  }
  if (first) decide("", true);  // an empty stream still checks the destination
  if (archive_write_close(out.get()) < ARCHIVE_WARN) throw Error("extract: " + archive_message(out.get()));
}

// Runs at the destination with the tar's first entry: docker cp's rules.
Target copy_target(const std::string& dest_arg, const std::string& first, bool first_is_dir) {
  std::string dest = dest_arg;
  bool trailing = dest.size() > 1 && (dest.back() == '/' || (dest.size() > 2 && dest.compare(dest.size() - 2, 2, "/.") == 0));
  while (dest.size() > 1 && (dest.back() == '/' || (dest.size() > 2 && dest.compare(dest.size() - 2, 2, "/.") == 0)))
    dest.erase(dest.size() - (dest.back() == '/' ? 1 : 2));
  std::string top = first.substr(0, first.find('/'));
  struct stat st;
  bool exists = ::stat(dest.c_str(), &st) == 0;
  std::string parent = dirname_of(dest);
  if (parent.empty()) parent = dest[0] == '/' ? "/" : ".";
  if (top.empty()) {  // a directory's contents ("SRC/.")
    if (exists && S_ISDIR(st.st_mode)) return {dest, "", ""};
    if (exists) throw Error(fmt::format("cannot copy a directory onto the file {}", dest_arg), Errc::Invalid);
    if (!is_dir(parent))
      throw Error(fmt::format("the destination directory {} does not exist", parent), Errc::NotFound);
    if (::mkdir(dest.c_str(), 0755) != 0) throw sys_error("create " + dest);
    return {dest, "", ""};
  }
  if (exists && S_ISDIR(st.st_mode)) return {dest, top, top};
  if (exists) {
    if (first_is_dir) throw Error(fmt::format("cannot copy a directory onto the file {}", dest_arg), Errc::Invalid);
    return {parent, top, basename_of(dest)};
  }
  if (trailing && !first_is_dir)
    throw Error(fmt::format("the destination directory {} does not exist", dest_arg), Errc::NotFound);
  if (!is_dir(parent))
    throw Error(fmt::format("the destination directory {} does not exist (create it first)", parent), Errc::NotFound);
  return {parent, top, basename_of(dest)};
}

// A stopped container's file system, mounted in a private mount namespace
// (its overlay, then its volumes and bind mounts); returns the root.
std::string mount_stopped(ContainerStore& cs, const ContainerConfig& c) {
  const Config& cfg = cs.store().config();
  if (::unshare(CLONE_NEWNS) != 0) throw sys_error("unshare the mount namespace");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) throw sys_error("make mounts private");
  std::string cdir = cs.dir(c.id);
  std::string root = cdir + "/merged";
  if (!c.rootfs.empty()) {
    if (::mount(c.rootfs.c_str(), root.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
      throw sys_error("bind " + c.rootfs);
  } else {
    // Paths relative to the store keep the options within a page.
    std::string top = cs.store().root();
    auto rel = [&](const std::string& p) { return p.rfind(top + "/", 0) == 0 ? p.substr(top.size() + 1) : p; };
    std::vector<std::string> lowers;
    ImageRecord img = cs.store().lookup_image(c.image_id);
    std::vector<std::string> diff_ids;
    for (const auto& l : img.layers) diff_ids.push_back(l.diff_id);
    for (const auto& chain : chain_ids(diff_ids)) lowers.insert(lowers.begin(), rel(cs.store().layer_diff(chain)));
    if (lowers.empty()) {
      mkdirs(cdir + "/empty", 0755);
      lowers.push_back(rel(cdir + "/empty"));
    }
    std::string opts = "lowerdir=" + join(lowers, ":") + ",upperdir=" + rel(cdir + "/upper") +
                       ",workdir=" + rel(cdir + "/work") + (cfg.rootless ? ",userxattr" : "");
    if (::chdir(top.c_str()) != 0) throw sys_error("chdir " + top);
    if (::mount("overlay", root.c_str(), "overlay", 0, opts.c_str()) != 0)
      throw sys_error("mount the container's file system (native overlay)");
  }
  for (const auto& m : c.mounts) {
    if (m.type != "bind" && m.type != "volume") continue;
    if (std::find(m.options.begin(), m.options.end(), "O") != m.options.end()) continue;
    std::string src = m.source;
    if (m.type == "volume") {
      VolumeSource vsrc = volume_source(cfg.graphroot, m.source);
      if (!vsrc.fstype.empty()) continue;
      src = vsrc.path;
    }
    std::string dst = root + m.destination;
    if (is_dir(src)) {
      mkdirs(dst, 0755);
    } else if (!path_exists(dst)) {
      mkdirs(dirname_of(dst), 0755);
      UniqueFd f = open_file(dst, O_WRONLY | O_CREAT, 0644);
    }
    if (::mount(src.c_str(), dst.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) throw sys_error("bind " + src);
    if (std::find(m.options.begin(), m.options.end(), "ro") != m.options.end())
      ::mount(nullptr, dst.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr);
  }
  return root;
}

}  // namespace

void write_tar(int fd, const std::string& path, const std::string& top) {
  ArchivePtr disk(archive_read_disk_new());
  archive_read_disk_set_symlink_physical(disk.get());
  archive_read_disk_set_behavior(disk.get(), ARCHIVE_READDISK_NO_ACL | ARCHIVE_READDISK_NO_FFLAGS);
  if (archive_read_disk_open(disk.get(), path.c_str()) != ARCHIVE_OK)
    throw Error(fmt::format("{}: {}", path, archive_message(disk.get())), Errc::NotFound);
  ArchivePtr w(archive_write_new());
  archive_write_set_format_pax_restricted(w.get());
  archive_write_set_bytes_in_last_block(w.get(), 1);
  if (archive_write_open_fd(w.get(), fd) != ARCHIVE_OK) throw Error("write tar: " + archive_message(w.get()));
  archive_entry_linkresolver* lr = archive_entry_linkresolver_new();
  archive_entry_linkresolver_set_strategy(lr, archive_format(w.get()));
  struct LrFree {
    archive_entry_linkresolver* lr;
    ~LrFree() { archive_entry_linkresolver_free(lr); }
  } lr_guard{lr};
  std::string buf(128 * 1024, '\0');
  for (;;) {
    std::unique_ptr<archive_entry, EntryFree> owned(archive_entry_new());
    int r = archive_read_next_header2(disk.get(), owned.get());
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) throw Error(fmt::format("read {}: {}", path, archive_message(disk.get())));
    archive_read_disk_descend(disk.get());
    archive_entry* e = owned.get();
    std::string src = archive_entry_pathname(e);
    std::string rel = src.size() > path.size() ? src.substr(path.size() + (path.back() == '/' ? 0 : 1)) : "";
    std::string name = rel.empty() ? top : top == "." ? "./" + rel : top + "/" + rel;
    if (archive_entry_filetype(e) == AE_IFSOCK) continue;  // tar has no sockets
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_uname(e, nullptr);
    archive_entry_set_gname(e, nullptr);
    archive_entry* spare = nullptr;
    archive_entry* out = e;
    archive_entry_linkify(lr, &out, &spare);
    if (!out) continue;
    r = archive_write_header(w.get(), out);
    if (r < ARCHIVE_WARN) throw Error(fmt::format("write tar: {}: {}", name, archive_message(w.get())));
    if (archive_entry_filetype(out) == AE_IFREG && archive_entry_size(out) > 0) {
      for (;;) {
        la_ssize_t n = archive_read_data(disk.get(), buf.data(), buf.size());
        if (n < 0) throw Error(fmt::format("read {}: {}", src, archive_message(disk.get())));
        if (n == 0) break;
        if (archive_write_data(w.get(), buf.data(), static_cast<size_t>(n)) < 0)
          throw Error(fmt::format("write tar: {}", archive_message(w.get())));
      }
    }
  }
  if (archive_write_close(w.get()) != ARCHIVE_OK) throw Error("write tar: " + archive_message(w.get()));
}

void extract_tar(int fd, const std::string& dest, const UntarOptions& opts) {
  if (!is_dir(dest)) throw Error(fmt::format("the destination {} is not a directory", dest), Errc::NotFound);
  untar(fd, opts, [&](const std::string&, bool) { return Target{dest, "", ""}; });
}

void extract_copy(int fd, const std::string& dest, const UntarOptions& opts) {
  untar(fd, opts, [&](const std::string& first, bool is_dir) { return copy_target(dest, first, is_dir); });
}

namespace {

// Moves every entry of `src` into `dst`, replacing what is there; a
// directory meets a directory by merging (taking the archive's owner, mode
// and times, as an extraction over it would).
void move_into(const std::string& src, const std::string& dst) {
  for (const auto& name : list_dir(src)) {
    std::string s = src + "/" + name, t = dst + "/" + name;
    struct stat ss, ts;
    if (::lstat(s.c_str(), &ss) != 0) throw sys_error("stat " + s);
    bool have = ::lstat(t.c_str(), &ts) == 0;
    if (have && S_ISDIR(ss.st_mode) && S_ISDIR(ts.st_mode)) {
      move_into(s, t);
      if (::lchown(t.c_str(), ss.st_uid, ss.st_gid) != 0) throw sys_error("chown " + t);
      if (::chmod(t.c_str(), ss.st_mode & 07777) != 0) throw sys_error("chmod " + t);
      struct timespec times[2] = {ss.st_atim, ss.st_mtim};
      ::utimensat(AT_FDCWD, t.c_str(), times, AT_SYMLINK_NOFOLLOW);
      continue;
    }
    if (have && S_ISDIR(ts.st_mode)) remove_all(t);  // a file replaces a directory
    if (::rename(s.c_str(), t.c_str()) != 0) throw sys_error("move " + name + " into " + dst);
  }
}

}  // namespace

void import_volume_tar(VolumeStore& vs, const std::string& name, int fd, const UntarOptions& opts) {
  vs.get(name);
  FileLock l = vs.lock(name);
  ContainerStore cs(vs.store());
  bool mounted = false;
  for (const auto& user : vs.users(name)) {
    try {
      ContainerState st = cs.state(cs.resolve(user));
      if (st.status == ContainerStatus::Running || st.status == ContainerStatus::Paused ||
          st.status == ContainerStatus::Stopping)
        mounted = true;
    } catch (const Error&) {
    }
  }
  if (mounted) {
    // Running containers hold the volume's directory itself (a bind mount),
    // so it cannot be exchanged: as podman does, the archive goes into the
    // directory they see. It is extracted whole into the staging area first
    // (a bad or truncated archive changes nothing), then its entries are
    // moved in by rename: no data is copied, and only a den killed during
    // those renames leaves a volume with part of the archive (and a staging
    // entry that system check reports).
    std::string data = vs.data_dir(name);
    Store::Staging st = vs.store().staging("volume-import");
    std::string next = st.path() + "/_data";
    if (::mkdir(next.c_str(), 0755) != 0) throw sys_error("mkdir " + next);
    extract_tar(fd, next, opts);
    move_into(next, data);
    return;
  }
  // Otherwise built beside the volume in the store's staging area (same
  // file system), from a copy of the current contents plus the archive, then
  // exchanged with _data in one rename: a den killed meanwhile leaves the
  // volume as it was and a staging entry that the next writer (or system
  // check --repair) removes.
  std::string data = vs.data_dir(name);
  Store::Staging st = vs.store().staging("volume-import");
  std::string next = st.path() + "/_data";
  struct stat sd;
  if (::stat(data.c_str(), &sd) != 0) throw sys_error("stat " + data);
  if (::mkdir(next.c_str(), sd.st_mode & 07777) != 0) throw sys_error("mkdir " + next);
  if (::chown(next.c_str(), sd.st_uid, sd.st_gid) != 0) throw sys_error("chown " + next);
  if (::chmod(next.c_str(), sd.st_mode & 07777) != 0) throw sys_error("chmod " + next);
  if (!dir_is_empty(data.c_str())) {
    // The current contents, through the same tar code (owners, modes,
    // xattrs, hard links kept).
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw sys_error("pipe");
    UniqueFd r(p[0]), w(p[1]);
    std::exception_ptr werr;
    std::thread writer([&] {
      try {
        write_tar(w.get(), data, ".");
      } catch (...) {
        werr = std::current_exception();
      }
      w.reset();
    });
    try {
      extract_tar(r.get(), next, opts);
    } catch (...) {
      r.reset();  // the writer gets EPIPE
      writer.join();
      throw;
    }
    r.reset();
    writer.join();
    if (werr) std::rethrow_exception(werr);
  }
  extract_tar(fd, next, opts);
  if (::renameat2(AT_FDCWD, next.c_str(), AT_FDCWD, data.c_str(), RENAME_EXCHANGE) != 0) {
    if (errno != EINVAL && errno != ENOSYS) throw sys_error("replace " + data);
    // A file system without RENAME_EXCHANGE: two renames.
    if (::rename(data.c_str(), (st.path() + "/old").c_str()) != 0) throw sys_error("replace " + data);
    if (::rename(next.c_str(), data.c_str()) != 0) {
      int e = errno;
      ::rename((st.path() + "/old").c_str(), data.c_str());
      throw sys_error("replace " + data, e);
    }
  }
  // The old contents are in the staging entry, removed with it.
}

bool split_container_path(const std::string& arg, std::string* container, std::string* path) {
  if (arg.empty() || arg[0] == '/' || arg[0] == '.') return false;
  auto colon = arg.find(':');
  auto slash = arg.find('/');
  if (colon == std::string::npos || (slash != std::string::npos && slash < colon)) return false;
  *container = arg.substr(0, colon);
  *path = arg.substr(colon + 1);
  return true;
}

void with_container_root(ContainerStore& cs, const std::string& id, bool child_writes,
                         const std::function<void(int)>& child, const std::function<void(int)>& parent) {
  const Config& cfg = cs.store().config();
  ContainerConfig c = cs.config(id);
  ContainerState st = cs.state(id);
  bool running = st.status == ContainerStatus::Running || st.status == ContainerStatus::Paused;
  std::optional<FileLock> lock;
  if (!running) lock.emplace(cs.lock(id));  // not started while its file system is mounted here
  int data[2], errp[2];
  if (::pipe2(data, O_CLOEXEC) != 0 || ::pipe2(errp, O_CLOEXEC) != 0) throw sys_error("pipe");
  int mine = child_writes ? data[0] : data[1], theirs = child_writes ? data[1] : data[0];
  pid_t pid = ::fork();
  if (pid < 0) throw sys_error("fork");
  if (pid == 0) {
    ::close(mine);
    ::close(errp[0]);
    std::string msg;
    try {
      enter_userns(cfg);
      if (running) {
        UniqueFd ns = open_file(fmt::format("/proc/{}/ns/mnt", st.pid), O_RDONLY);
        if (::setns(ns.get(), CLONE_NEWNS) != 0) throw sys_error("join the container's mount namespace");
      } else {
        std::string root = mount_stopped(cs, c);
        if (::chroot(root.c_str()) != 0) throw sys_error("chroot " + root);
      }
      if (::chdir("/") != 0) throw sys_error("chdir /");
      child(theirs);
    } catch (const std::exception& e) {
      msg = e.what();
      if (msg.empty()) msg = "copy failed";
    }
    ::close(theirs);
    if (!msg.empty()) {
      ssize_t n = ::write(errp[1], msg.data(), msg.size());
      (void)n;
      ::_exit(1);
    }
    ::_exit(0);
  }
  ::close(theirs);
  ::close(errp[1]);
  // The helper's own message (empty when it wrote none), and its status.
  auto child_result = [&](int* status) {
    std::string msg;
    char buf[1024];
    ssize_t n;
    while ((n = ::read(errp[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
      if (n > 0) msg.append(buf, static_cast<size_t>(n));
    ::close(errp[0]);
    while (::waitpid(pid, status, 0) < 0 && errno == EINTR) {
    }
    return msg;
  };
  // A helper that fails early closes its end: our writes must fail, not kill us.
  struct sigaction ign {}, old {};
  ign.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ign, &old);
  int status = 0;
  try {
    parent(mine);
  } catch (...) {
    // The helper's error (a missing source or destination) explains a
    // broken stream best; without one, ours stands (the helper then dies of
    // the closed pipe).
    ::close(mine);
    std::string msg = child_result(&status);
    ::sigaction(SIGPIPE, &old, nullptr);
    if (!msg.empty()) throw Error(msg, Errc::Invalid);
    throw;
  }
  ::close(mine);
  std::string msg = child_result(&status);
  ::sigaction(SIGPIPE, &old, nullptr);
  if (!msg.empty()) throw Error(msg, Errc::Invalid);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw Error("the copy helper failed");
}

}  // namespace den
