// The container child: clone, id maps from the parent, then the plan's steps
// as plain system calls. Nothing here throws or returns to the caller's
// stack: every failure is written to the error pipe as (step, errno) and the
// child exits. The steps name the syscall that failed ("mount /proc: ...").
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "den/container.h"
#include "den/error.h"
#include "den/fs.h"
#include "den/log.h"
#include "den/runtime.h"
#include "den/strings.h"
#include "den/treecopy.h"

// Fixed buffers, no allocation between clone and exec: paths longer than
// PATH_MAX would fail at the syscall anyway, so truncation is acceptable.
#pragma GCC diagnostic ignored "-Wformat-truncation"

namespace den {

namespace {

struct ChildReport {
  int err;
  int exit_code;
  char step[480];
};

int g_err_fd = -1;

[[noreturn]] void child_fail(int exit_code, int err, const char* fmt_str, const char* arg = "") {
  ChildReport r{};
  r.err = err;
  r.exit_code = exit_code;
  std::snprintf(r.step, sizeof r.step, fmt_str, arg);
  ssize_t n = ::write(g_err_fd, &r, sizeof r);
  (void)n;
  ::_exit(exit_code);
}

// One byte carrying one file descriptor (SCM_RIGHTS): the container's
// terminal master, sent from the child to whoever started it.
struct FdMessage {
  FdMessage() {
    iov.iov_base = &byte;
    iov.iov_len = 1;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
  }
  FdMessage(const FdMessage&) = delete;
  char byte = 't';
  // Aligned for the cmsghdr written into it (after the one-byte `byte`, it
  // was not: UB that UBSan reports in the sanitized build).
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  struct iovec iov {};
  struct msghdr msg {};
};

// mkdir -p that tries the whole path first: its parents (the container's
// root, /dev) nearly always exist, so one syscall instead of one per level.
void mkdir_p(const char* path, mode_t mode) {
  if (::mkdir(path, mode) == 0 || errno != ENOENT) return;
  char buf[4096];
  std::snprintf(buf, sizeof buf, "%s", path);
  for (char* p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    ::mkdir(buf, mode);
    *p = '/';
  }
  ::mkdir(buf, mode);
}

// Creates the mount target (directory, or empty file) inside the new root.
void make_target(const char* full, bool is_file) {
  if (!is_file) {
    mkdir_p(full, 0755);
    return;
  }
  char dir[4096];
  std::snprintf(dir, sizeof dir, "%s", full);
  if (char* slash = std::strrchr(dir, '/')) {
    *slash = 0;
    mkdir_p(dir, 0755);
  }
  struct stat st;
  if (::lstat(full, &st) == 0) {
    // /etc/hosts may be a symlink in some images: replace it by a file.
    if (S_ISLNK(st.st_mode)) ::unlink(full);
    else return;
  }
  int fd = ::open(full, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd >= 0) ::close(fd);
}

void mount_root(const RunPlan& p) {
  if (p.root_kind == RunPlan::RootKind::Directory) {
    if (::mount(p.rootfs.c_str(), p.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
      child_fail(125, errno, "bind mount the root file system %s", p.rootfs.c_str());
    return;
  }
  char data[4096 * 2];
  if (p.root_kind == RunPlan::RootKind::NativeOverlay) {
    std::snprintf(data, sizeof data, "lowerdir=%s,upperdir=%s,workdir=%s%s", p.lowerdirs.c_str(), p.upperdir.c_str(),
                  p.workdir.c_str(), p.rootless ? ",userxattr" : "");
    if (::mount("overlay", p.rootfs.c_str(), "overlay", 0, data) == 0) return;
    if (p.mount_program.empty()) child_fail(125, errno, "mount overlay on %s", p.rootfs.c_str());
  }
  // fuse-overlayfs: it daemonizes once the mount is ready.
  std::snprintf(data, sizeof data, "lowerdir=%s,upperdir=%s,workdir=%s", p.lowerdirs.c_str(), p.upperdir.c_str(),
                p.workdir.c_str());
  pid_t pid = ::fork();
  if (pid < 0) child_fail(125, errno, "fork %s", p.mount_program.c_str());
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      ::dup2(devnull, 0);
      ::dup2(devnull, 1);
    }
    ::execl(p.mount_program.c_str(), p.mount_program.c_str(), "-o", data, p.rootfs.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    child_fail(125, 0, "mount the root file system with %s failed (is /dev/fuse usable? see den info)",
               p.mount_program.c_str());
}

// docker's copy-up: an empty volume gets the image's files at its mount
// point (a directory of the container's root, not yet covered).
void copy_up(const char* full, const char* volume) {
  struct stat st;
  if (::lstat(full, &st) != 0 || !S_ISDIR(st.st_mode) || !dir_is_empty(volume) || dir_is_empty(full)) return;
  if (int e = copy_tree(full, volume)) child_fail(125, e, "copy the image's files at %s into the volume", full);
}

// The upperdir= and workdir= of an overlay mount's data (podman's :O).
void make_overlay_dirs(const char* data) {
  for (const char* key : {"upperdir=", "workdir="}) {
    const char* v = std::strstr(data, key);
    if (!v) continue;
    v += std::strlen(key);
    char dir[4096];
    size_t n = std::strcspn(v, ",");
    std::snprintf(dir, sizeof dir, "%.*s", static_cast<int>(n), v);
    mkdir_p(dir, 0755);
  }
}

void do_mounts(const RunPlan& p) {
  char full[4096];
  for (const auto& m : p.mounts) {
    std::snprintf(full, sizeof full, "%s%s", p.rootfs.c_str(), m.target.c_str());
    if (m.copy_up) copy_up(full, m.source.c_str());
    if (m.fstype == "overlay") make_overlay_dirs(m.data.c_str());
    make_target(full, m.is_file);
    const char* src = m.source.c_str();
    const char* type = m.fstype.empty() ? nullptr : m.fstype.c_str();
    const char* data = m.data.empty() ? nullptr : m.data.c_str();
    if (::mount(src, full, type, m.flags, data) != 0) {
      int e = errno;
      // sysfs needs a network namespace we own; bind the host's instead.
      if (m.fstype == "sysfs" &&
          ::mount("/sys", full, nullptr, MS_BIND | MS_REC, nullptr) == 0) {
        ::mount(nullptr, full, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, nullptr);
        continue;
      }
      // Without an IPC namespace we own, mqueue cannot be mounted: skip.
      if (m.fstype == "mqueue") continue;
      child_fail(125, e, "mount %s in container", m.target.c_str());
    }
    if (m.propagation && ::mount(nullptr, full, nullptr, m.propagation, nullptr) != 0)
      child_fail(125, errno, "set the propagation of %s", m.target.c_str());
    if (m.make_readonly) {
      unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY;
      if (::mount(nullptr, full, nullptr, flags, nullptr) != 0) {
        // The source mount's locked flags (nosuid, nodev, ...) must be kept.
        if (::mount(nullptr, full, nullptr, flags | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0 &&
            ::mount(nullptr, full, nullptr, flags | MS_NOSUID | MS_NODEV, nullptr) != 0 &&
            ::mount(nullptr, full, nullptr, flags | MS_NOSUID, nullptr) != 0)
          child_fail(125, errno, "remount %s read-only", m.target.c_str());
      }
    }
  }
  // /dev links.
  std::snprintf(full, sizeof full, "%s/dev", p.rootfs.c_str());
  const char* links[][2] = {{"/proc/self/fd", "fd"},     {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
                            {"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"},       {"/proc/kcore", "core"}};
  for (const auto& l : links) {
    char path[4096];
    std::snprintf(path, sizeof path, "%s/%s", full, l[1]);
    ::symlink(l[0], path);
  }
}

void pivot(const RunPlan& p) {
  if (::chdir(p.rootfs.c_str()) != 0) child_fail(125, errno, "chdir %s", p.rootfs.c_str());
  if (::syscall(SYS_pivot_root, ".", ".") != 0) child_fail(125, errno, "pivot_root %s", p.rootfs.c_str());
  if (::umount2(".", MNT_DETACH) != 0) child_fail(125, errno, "detach the old root");
  if (::chdir("/") != 0) child_fail(125, errno, "chdir /");
}

void mask_and_protect(const RunPlan& p) {
  for (const auto& path : p.masked_paths) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) continue;
    int r = S_ISDIR(st.st_mode) ? ::mount("tmpfs", path.c_str(), "tmpfs", MS_RDONLY, "size=0k")
                                : ::mount("/dev/null", path.c_str(), nullptr, MS_BIND, nullptr);
    if (r != 0) child_fail(125, errno, "mask %s", path.c_str());
  }
  for (const auto& path : p.readonly_paths) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) continue;
    if (::mount(path.c_str(), path.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
      child_fail(125, errno, "bind %s", path.c_str());
    if (::mount(nullptr, path.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                nullptr) != 0 &&
        ::mount(nullptr, path.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0)
      child_fail(125, errno, "make %s read-only", path.c_str());
  }
  if (p.readonly_root) {
    if (::mount(nullptr, "/", nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0)
      child_fail(125, errno, "make the root file system read-only");
  }
}

void loopback_up() {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return;
  struct ifreq ifr {};
  std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
  if (::ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    ::ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  ::close(s);
}

// Looks `name` up in a passwd/group style file: fields separated by ':', the
// name in field 0, the id in field 2. Returns the line's fields via out.
bool lookup_db(const char* file, const char* name, long id, char fields[7][256]) {
  FILE* f = std::fopen(file, "re");
  if (!f) return false;
  char line[1024];
  bool found = false;
  while (std::fgets(line, sizeof line, f)) {
    line[std::strcspn(line, "\n")] = 0;
    int n = 0;
    char* save = line;
    for (char* tok = save; n < 7; n++) {
      char* colon = tok ? std::strchr(tok, ':') : nullptr;
      if (colon) *colon = 0;
      std::snprintf(fields[n], 256, "%s", tok ? tok : "");
      tok = colon ? colon + 1 : nullptr;
    }
    if ((name && std::strcmp(fields[0], name) == 0) || (!name && std::atol(fields[2]) == id)) {
      found = true;
      break;
    }
  }
  std::fclose(f);
  return found;
}

bool all_digits(const char* s) {
  if (!*s) return false;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return false;
  return true;
}

struct Identity {
  uid_t uid = 0;
  gid_t gid = 0;
  gid_t groups[64];
  int ngroups = 0;
  char home[256] = "/";
};

Identity resolve_user(const std::string& user) {
  Identity id;
  if (user.empty()) {
    id.ngroups = 0;
    char f[7][256];
    if (lookup_db("/etc/passwd", nullptr, 0, f)) std::snprintf(id.home, sizeof id.home, "%s", f[5]);
    return id;
  }
  char u[256], g[256] = "";
  std::snprintf(u, sizeof u, "%s", user.c_str());
  if (char* colon = std::strchr(u, ':')) {
    *colon = 0;
    std::snprintf(g, sizeof g, "%s", colon + 1);
  }
  char f[7][256];
  bool have_pw = false;
  if (all_digits(u)) {
    id.uid = static_cast<uid_t>(std::atol(u));
    have_pw = lookup_db("/etc/passwd", nullptr, id.uid, f);
  } else {
    have_pw = lookup_db("/etc/passwd", u, 0, f);
    if (!have_pw) child_fail(126, 0, "unable to find user %s: no matching entries in passwd file", u);
    id.uid = static_cast<uid_t>(std::atol(f[2]));
  }
  if (have_pw) {
    id.gid = static_cast<gid_t>(std::atol(f[3]));
    std::snprintf(id.home, sizeof id.home, "%s", f[5]);
  }
  if (g[0]) {
    if (all_digits(g)) {
      id.gid = static_cast<gid_t>(std::atol(g));
    } else {
      char gf[7][256];
      if (!lookup_db("/etc/group", g, 0, gf))
        child_fail(126, 0, "unable to find group %s: no matching entries in group file", g);
      id.gid = static_cast<gid_t>(std::atol(gf[2]));
    }
  }
  // Supplementary groups: every group in /etc/group listing the user.
  if (have_pw) {
    FILE* fp = std::fopen("/etc/group", "re");
    char line[4096];
    while (fp && std::fgets(line, sizeof line, fp) && id.ngroups < 64) {
      line[std::strcspn(line, "\n")] = 0;
      char* fields[4] = {line, nullptr, nullptr, nullptr};
      for (int i = 1; i < 4; i++) {
        char* c = fields[i - 1] ? std::strchr(fields[i - 1], ':') : nullptr;
        if (c) {
          *c = 0;
          fields[i] = c + 1;
        }
      }
      if (!fields[3]) continue;
      for (char* m = std::strtok(fields[3], ","); m; m = std::strtok(nullptr, ","))
        if (std::strcmp(m, f[0]) == 0) id.groups[id.ngroups++] = static_cast<gid_t>(std::atol(fields[2]));
    }
    if (fp) std::fclose(fp);
  }
  return id;
}

void drop_capabilities(uint64_t keep, bool to_nonroot) {
  for (int cap = 0; cap <= 63; cap++) {
    if (keep & (uint64_t{1} << cap)) continue;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
      child_fail(125, errno, "drop capability %s from the bounding set", "");
  }
  if (to_nonroot) return;  // setuid to non-root clears the rest
  struct __user_cap_header_struct hdr {
    _LINUX_CAPABILITY_VERSION_3, 0
  };
  struct __user_cap_data_struct data[2] {};
  for (int i = 0; i < 2; i++) {
    uint32_t word = static_cast<uint32_t>(keep >> (32 * i));
    data[i].effective = word;
    data[i].permitted = word;
    data[i].inheritable = 0;
  }
  if (::syscall(SYS_capset, &hdr, data) != 0) child_fail(125, errno, "set capabilities");
}

[[noreturn]] void exec_in_path(const RunPlan& p, char* const argv[], char* const envp[]) {
  const char* file = argv[0];
  if (std::strchr(file, '/')) {
    ::execve(file, argv, envp);
    int e = errno;
    child_fail(e == ENOENT ? 127 : 126, e, "exec %s", file);
  }
  const char* path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (int i = 0; envp[i]; i++)
    if (std::strncmp(envp[i], "PATH=", 5) == 0) path = envp[i] + 5;
  bool eacces = false;
  char buf[4096];
  const char* dir = path;
  while (true) {
    const char* end = std::strchr(dir, ':');
    size_t len = end ? static_cast<size_t>(end - dir) : std::strlen(dir);
    std::snprintf(buf, sizeof buf, "%.*s/%s", static_cast<int>(len), len ? dir : ".", file);
    ::execve(buf, argv, envp);
    if (errno == EACCES) eacces = true;
    if (!end) break;
    dir = end + 1;
  }
  (void)p;
  if (eacces) child_fail(126, EACCES, "exec %s", file);
  child_fail(127, 0, "exec %s: executable file not found in $PATH", file);
}

// The process part shared by a new container (spawn_container) and a process
// joining a running one (exec_in_container): rlimits, user from the
// container's /etc/passwd and /etc/group, working directory, standard streams,
// no_new_privs, capabilities, ids, HOME, a clean signal state, then the exec
// with 126/127 semantics. Runs in the container's mount namespace.
// `container_init`: a new container (creates a missing working directory, a
// chdir failure is 125, dies with its parent); else a process joining one
// (chdir failure is 126, and it may outlive den, e.g. `den exec -d`).
[[noreturn]] void setup_process_and_exec(const RunPlan& p, const ChildStdio& io, char* const argv[],
                                         char* const envp[], bool container_init) {
  for (const auto& r : p.rlimits) {
    struct rlimit rl {
      r.soft, r.hard
    };
    if (::setrlimit(r.resource, &rl) != 0) child_fail(125, errno, "setrlimit");
  }
  Identity id = resolve_user(p.user);
  if (::chdir(p.cwd.c_str()) != 0) {
    int e = errno;
    if (container_init) {
      mkdir_p(p.cwd.c_str(), 0755);
      if (::chdir(p.cwd.c_str()) != 0) e = errno;
      else e = 0;
    }
    if (e) child_fail(container_init ? 125 : 126, e, "chdir to the working directory %s", p.cwd.c_str());
  }
  // Standard streams.
  if (p.tty && io.console_socket >= 0) {
    ::setsid();
    // The terminal comes from the container's devpts instance, as with
    // runc's console socket: inside, /dev/pts/0 is this terminal.
    int master = ::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) child_fail(125, errno, "open /dev/ptmx in the container");
    int unlock = 0;
    if (::ioctl(master, TIOCSPTLCK, &unlock) != 0) child_fail(125, errno, "unlock the pseudo terminal");
    int slave = ::ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    if (slave < 0) child_fail(125, errno, "open the pseudo terminal's peer");
    FdMessage fm;
    struct msghdr& msg = fm.msg;
    struct cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cm), &master, sizeof(int));
    if (::sendmsg(io.console_socket, &msg, MSG_NOSIGNAL) != 1) child_fail(125, errno, "send the terminal to den");
    ::close(master);
    if (::ioctl(slave, TIOCSCTTY, 0) != 0) child_fail(125, errno, "set the controlling terminal");
    ::dup2(slave, 0);
    ::dup2(slave, 1);
    ::dup2(slave, 2);
  } else {
    ::setsid();
    if (io.in >= 0) ::dup2(io.in, 0);
    if (io.out >= 0) ::dup2(io.out, 1);
    if (io.err >= 0) ::dup2(io.err, 2);
  }
  // Everything else is closed on exec (O_CLOEXEC everywhere in den), but be
  // sure for inherited descriptors.
  ::syscall(SYS_close_range, 3, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);
  if (p.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    child_fail(125, errno, "set no_new_privs");
  drop_capabilities(p.capabilities, id.uid != 0);
  if (::setgroups(static_cast<size_t>(id.ngroups), id.groups) != 0 && errno != EPERM)
    child_fail(125, errno, "setgroups");
  if (::setresgid(id.gid, id.gid, id.gid) != 0) child_fail(125, errno, "setresgid %s", p.user.c_str());
  if (::setresuid(id.uid, id.uid, id.uid) != 0) child_fail(125, errno, "setresuid %s", p.user.c_str());
  // Default HOME from passwd unless set.
  bool has_home = false;
  for (int i = 0; envp[i]; i++)
    if (std::strncmp(envp[i], "HOME=", 5) == 0) has_home = true;
  if (!has_home) {
    static char home[300];
    std::snprintf(home, sizeof home, "HOME=%s", id.home);
    int n = 0;
    while (envp[n]) n++;
    // envp was allocated with one spare slot for HOME.
    const_cast<char**>(envp)[n] = home;
    const_cast<char**>(envp)[n + 1] = nullptr;
  }
  // A clean signal state: the monitor and the den CLI block the signals they
  // read from a signalfd, and a blocked mask survives exec (the container
  // would never see SIGTERM from `den stop` nor SIGINT from its terminal).
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  // Last: the credential changes above clear the parent-death signal. The
  // container dies with its monitor rather than run on unrecorded.
  if (container_init) ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  exec_in_path(p, argv, envp);
}

// The memory that /proc/PID/cmdline and /proc/PID/environ show: den's own
// command line and the caller's whole environment (fields 48-51 of
// /proc/self/stat). Read before the fork; the helper wipes its copy.
struct ProcAreas {
  uintptr_t arg_start = 0, arg_end = 0, env_start = 0, env_end = 0;
};

ProcAreas own_proc_areas() {
  ProcAreas a;
  std::string st;
  try {
    st = read_file("/proc/self/stat");
  } catch (const Error&) {
    return a;
  }
  // The command name (field 2) may hold spaces and parentheses: count the
  // fields after its last ')'.
  size_t rp = st.rfind(')');
  if (rp == std::string::npos) return a;
  std::vector<std::string> f = split(st.substr(rp + 2), ' ');
  // f[0] is field 3 (state): field N is f[N - 3].
  if (f.size() < 49) return a;
  try {
    a.arg_start = std::stoull(f[45]);
    a.arg_end = std::stoull(f[46]);
    a.env_start = std::stoull(f[47]);
    a.env_end = std::stoull(f[48]);
  } catch (...) {
    return ProcAreas{};
  }
  return a;
}

// Makes the process non-dumpable and wipes its copy of den's command line
// and of the caller's environment: what a process sharing its PID namespace
// could read through /proc/PID (environ, cmdline, mem, fd, exe, cwd, root)
// or take with ptrace. The exec'd command is dumpable again (execve resets
// it) and has only the environment it was given.
void seal_process(const ProcAreas& areas) {
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) child_fail(125, errno, "make the process non-dumpable");
  if (areas.arg_end > areas.arg_start)
    std::memset(reinterpret_cast<void*>(areas.arg_start), 0, areas.arg_end - areas.arg_start);
  if (areas.env_end > areas.env_start)
    std::memset(reinterpret_cast<void*>(areas.env_start), 0, areas.env_end - areas.env_start);
}

[[noreturn]] void child_main(const RunPlan& p, const ChildStdio& io, int sync_fd, const ProcAreas& areas,
                             char* const argv[], char* const envp[]) {
  char c;
  if (::read(sync_fd, &c, 1) != 1) ::_exit(125);  // parent gave up
  // After the parent's id maps (newuidmap wants a process it owns), before
  // anything is joined or mounted: a container joining another's PID
  // namespace (a pod's, --pid container:X) is seen there until its exec.
  seal_process(areas);
  // First, before sysfs is mounted: sysfs shows the mounter's network namespace.
  if (p.netns_fd >= 0 && ::setns(p.netns_fd, CLONE_NEWNET) != 0)
    child_fail(125, errno, "setns into the container's network namespace");
  if (p.unshare_cgroupns && ::unshare(CLONE_NEWCGROUP) != 0) child_fail(125, errno, "unshare the cgroup namespace");
  if (p.rootless) {
    if (::setresgid(0, 0, 0) != 0) child_fail(125, errno, "setresgid(0)");
    if (::setresuid(0, 0, 0) != 0) child_fail(125, errno, "setresuid(0)");
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    child_fail(125, errno, "make / private");
  mount_root(p);
  do_mounts(p);
  pivot(p);
  mask_and_protect(p);
  for (const auto& m : p.mounts) {
    if (!m.chown_to_user) continue;  // :U, to the user the process runs as
    Identity id = resolve_user(p.user);
    if (int e = chown_tree(m.target.c_str(), id.uid, id.gid)) child_fail(125, e, "chown %s (:U)", m.target.c_str());
  }
  if (!p.hostname.empty() && ::sethostname(p.hostname.c_str(), p.hostname.size()) != 0)
    child_fail(125, errno, "sethostname %s", p.hostname.c_str());
  if (p.bring_up_loopback && ((p.clone_flags & CLONE_NEWNET) || p.netns_fd >= 0)) loopback_up();
  // The parent's before_exec step (the network helper) has finished.
  if (::read(sync_fd, &c, 1) != 1) ::_exit(125);  // parent gave up
  ::close(sync_fd);
  setup_process_and_exec(p, io, argv, envp, true);
}

// argv and envp of the process, as the child needs them (prepared before
// the clone; envp has a spare slot for HOME).
struct ChildArgs {
  explicit ChildArgs(const RunPlan& plan) {
    for (const auto& a : plan.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : plan.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    envp.push_back(nullptr);
  }
  std::vector<char*> argv, envp;
};

}  // namespace

void console_socketpair(int sv[2]) {
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) throw sys_error("socketpair");
}

UniqueFd receive_console(int sock) {
  FdMessage fm;
  struct msghdr& msg = fm.msg;
  ssize_t n;
  do {
    n = ::recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) throw sys_error("receive the container's terminal");
  struct cmsghdr* cm = CMSG_FIRSTHDR(&msg);
  if (n != 1 || !cm || cm->cmsg_type != SCM_RIGHTS) throw Error("the container process sent no terminal");
  int fd;
  std::memcpy(&fd, CMSG_DATA(cm), sizeof fd);
  return UniqueFd(fd);
}

UniqueFd new_network_namespace() {
  log::Phase phase("runtime: new network namespace");
  // A thread unshares it and opens it: a network namespace is per thread,
  // and a thread costs a fraction of a fork. The caller's own threads stay
  // where they are.
  int fd = -1, err = 0;
  std::thread t([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      err = errno;
      return;
    }
    fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd < 0) err = errno;
  });
  t.join();
  if (fd < 0) throw sys_error("unshare a network namespace", err);
  return UniqueFd(fd);
}

pid_t spawn_container(const RunPlan& plan, const ChildStdio& stdio, SpawnError* error,
                      const std::function<void(pid_t)>& after_clone, const std::function<void()>& before_exec) {
  log::Phase phase("runtime: spawn");
  // Everything the child needs, prepared before the clone.
  ChildArgs args(plan);
  std::vector<char*>& argv = args.argv;
  std::vector<char*>& envp = args.envp;
  const ProcAreas areas = own_proc_areas();

  int sync[2], errp[2];
  if (::pipe2(sync, O_CLOEXEC) != 0 || ::pipe2(errp, O_CLOEXEC) != 0) throw sys_error("pipe");
  // Joining another container's namespaces (--network container:X, ...):
  // nothing may be created from the host's user namespace, so a plain child
  // joins X's user namespace first, unshares the rest there, and clones the
  // container process with CLONE_PARENT so that it is still our child.
  const bool joining = !plan.join_ns.empty();
  const bool joins_userns = joining && plan.join_ns.front().first == CLONE_NEWUSER;
  if (plan.rootless && !joins_userns && !in_user_namespace())
    throw Error("rootless containers are spawned from den's user namespace (a bug in den)");
  int pidpipe[2] = {-1, -1};
  if (joining && ::pipe2(pidpipe, O_CLOEXEC) != 0) throw sys_error("pipe");
  int flags = joining ? 0 : plan.clone_flags;
  pid_t pid = static_cast<pid_t>(::syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
  if (pid < 0) {
    int e = errno;
    ::close(sync[0]);
    ::close(sync[1]);
    ::close(errp[0]);
    ::close(errp[1]);
    throw sys_error("clone the container process (are unprivileged user namespaces enabled?)", e);
  }
  if (pid == 0) {
    ::close(sync[1]);
    ::close(errp[0]);
    g_err_fd = errp[1];
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (joining) {
      int joined = 0;
      for (const auto& [type, path] : plan.join_ns) {
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0 || ::setns(fd, type) != 0) child_fail(125, errno, "join namespace %s", path.c_str());
        ::close(fd);
        joined |= type;
      }
      int rest = plan.clone_flags & ~(CLONE_NEWUSER | CLONE_NEWPID | joined);
      if (rest && ::unshare(rest) != 0) child_fail(125, errno, "unshare namespaces");
      if ((plan.clone_flags & CLONE_NEWPID) && !(joined & CLONE_NEWPID) && ::unshare(CLONE_NEWPID) != 0)
        child_fail(125, errno, "unshare the PID namespace");
      pid_t g = static_cast<pid_t>(::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
      if (g < 0) child_fail(125, errno, "clone the container process");
      if (g == 0) {
        ::close(pidpipe[0]);
        ::close(pidpipe[1]);
        child_main(plan, stdio, sync[0], areas, argv.data(), envp.data());
      }
      ssize_t w = ::write(pidpipe[1], &g, sizeof g);
      (void)w;
      ::_exit(0);
    }
    child_main(plan, stdio, sync[0], areas, argv.data(), envp.data());
  }
  ::close(sync[0]);
  ::close(errp[1]);
  if (joining) {
    ::close(pidpipe[1]);
    pid_t g = -1;
    ssize_t got = ::read(pidpipe[0], &g, sizeof g);
    ::close(pidpipe[0]);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    if (got != static_cast<ssize_t>(sizeof g)) {
      // The intermediate failed and reported why on the error pipe.
      ::close(sync[1]);
      ChildReport r{};
      ssize_t n = ::read(errp[0], &r, sizeof r);
      ::close(errp[0]);
      if (error) {
        error->step = n == static_cast<ssize_t>(sizeof r) ? r.step : "join the namespaces of another container";
        error->err = n == static_cast<ssize_t>(sizeof r) ? r.err : 0;
        error->exit_code = 125;
      }
      return -1;
    }
    pid = g;
  }
  auto kill_child = [&] {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  };
  try {
    if (after_clone) after_clone(pid);
  } catch (...) {
    ::close(sync[1]);
    ::close(errp[0]);
    kill_child();
    throw;
  }
  char go = 'g';
  ssize_t n = ::write(sync[1], &go, 1);
  if (before_exec) {
    try {
      before_exec();
    } catch (...) {
      ::close(sync[1]);
      ::close(errp[0]);
      kill_child();
      throw;
    }
  }
  n = ::write(sync[1], &go, 1);  // a dead child: EPIPE, ignored; its report follows
  (void)n;
  ::close(sync[1]);
  ChildReport r{};
  ssize_t got;
  do {
    got = ::read(errp[0], &r, sizeof r);
  } while (got < 0 && errno == EINTR);
  ::close(errp[0]);
  if (got == 0) return pid;  // exec happened: the pipe closed on exec
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (error) {
    error->step = got == static_cast<ssize_t>(sizeof r) ? r.step : "container process died during setup";
    error->err = got == static_cast<ssize_t>(sizeof r) ? r.err : 0;
    error->exit_code = got == static_cast<ssize_t>(sizeof r) ? r.exit_code : 125;
  }
  return -1;
}

namespace {

struct NsKind {
  const char* name;
  int type;
};
// The user namespace first: joining it gives the capabilities needed to join
// the others (the rootless user owns it).
const NsKind kExecNamespaces[] = {{"user", CLONE_NEWUSER}, {"mnt", CLONE_NEWNS}, {"pid", CLONE_NEWPID},
                                  {"uts", CLONE_NEWUTS},   {"ipc", CLONE_NEWIPC}, {"net", CLONE_NEWNET},
                                  {"cgroup", CLONE_NEWCGROUP}};

struct JoinNs {
  int fd;
  int type;
  const char* name;
};

// Closes every descriptor but the sorted `keep` ones (close_range over the
// gaps): nothing of den's reaches the container, not even for the moment
// before the exec.
void close_all_but(const int* keep, size_t n) {
  unsigned from = 0;
  for (size_t i = 0; i < n; i++) {
    if (keep[i] < 0 || static_cast<unsigned>(keep[i]) < from) continue;
    if (static_cast<unsigned>(keep[i]) > from) ::syscall(SYS_close_range, from, static_cast<unsigned>(keep[i]) - 1, 0);
    from = static_cast<unsigned>(keep[i]) + 1;
  }
  ::syscall(SYS_close_range, from, ~0U, 0);
}

// The exec helper, between den's fork and the container's PID namespace.
// What a process in the container could reach through /proc/PID of the
// process that joins it (runc's CVE-2016-9962 and CVE-2019-5736) is shut
// off before anything is joined: the helper is not dumpable (so its
// /proc/PID/{environ,mem,fd,exe,cwd,root} are the kernel's, and ptrace is
// refused to the container's processes), its copy of den's command line and
// of the caller's environment is wiped, and every descriptor but the
// namespaces, the report pipes and the process's own stdio is closed (the
// host's /proc/PID directory among them).
[[noreturn]] void exec_child_main(const RunPlan& p, const ChildStdio& io, const JoinNs* ns, size_t n_ns, int pid_fd,
                                  const ProcAreas& areas, char* const argv[], char* const envp[]) {
  seal_process(areas);
  {
    int keep[16];
    size_t n = 0;
    for (int fd : {io.in, io.out, io.err, io.console_socket, pid_fd, g_err_fd})
      if (fd >= 0) keep[n++] = fd;
    for (size_t i = 0; i < n_ns && n < 16; i++) keep[n++] = ns[i].fd;
    std::sort(keep, keep + n);
    close_all_but(keep, n);
    // 0, 1 and 2 that are not the process's own (with a terminal, it opens
    // its own in the container) are /dev/null until then, never den's.
    for (int fd = 0; fd <= 2; fd++) {
      if (std::binary_search(keep, keep + n, fd)) continue;
      int null_fd = ::open("/dev/null", O_RDWR);
      if (null_fd < 0) child_fail(125, errno, "open /dev/null");
      if (null_fd != fd) {
        ::dup2(null_fd, fd);
        ::close(null_fd);
      }
    }
  }
  for (size_t i = 0; i < n_ns; i++) {
    if (::setns(ns[i].fd, ns[i].type) != 0) child_fail(125, errno, "join the container's %s namespace", ns[i].name);
    ::close(ns[i].fd);
  }
  // A joined PID namespace applies to children only: fork once more. With
  // CLONE_PARENT the process becomes a child of the caller (den), which can
  // wait for it and forward signals to it directly. It inherits the
  // non-dumpable state until its exec.
  pid_t pid = static_cast<pid_t>(::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
  if (pid < 0) child_fail(125, errno, "fork into the container's PID namespace");
  if (pid == 0) {
    ::close(pid_fd);
    setup_process_and_exec(p, io, argv, envp, false);
  }
  ssize_t w = ::write(pid_fd, &pid, sizeof pid);
  (void)w;
  ::_exit(0);
}

}  // namespace

pid_t exec_in_container(const RunPlan& plan, pid_t target, uint64_t target_start, const ChildStdio& stdio,
                        SpawnError* error) {
  log::Phase phase("runtime: exec");
  ChildArgs args(plan);
  std::vector<char*>& argv = args.argv;
  std::vector<char*>& envp = args.envp;

  // Open the namespaces before anything else, then check that the process is
  // still the container's (its pid may have been reused).
  std::string proc = "/proc/" + std::to_string(target);
  UniqueFd dir(::open(proc.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) throw Error("the container's process is gone", Errc::NotFound);
  std::vector<UniqueFd> fds;
  std::vector<JoinNs> join;
  for (const auto& k : kExecNamespaces) {
    std::string rel = std::string("ns/") + k.name;
    struct stat theirs, ours;
    if (::fstatat(dir.get(), rel.c_str(), &theirs, 0) != 0) {
      if (errno == ENOENT) continue;  // kernel without this namespace type
      throw sys_error(fmt::format("stat {}/{}", proc, rel));
    }
    if (::stat((std::string("/proc/self/") + rel).c_str(), &ours) == 0 && ours.st_dev == theirs.st_dev &&
        ours.st_ino == theirs.st_ino)
      continue;  // shared with den (host network, real root without a user namespace, ...)
    int fd = ::openat(dir.get(), rel.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw sys_error(fmt::format("open {}/{}", proc, rel));
    fds.emplace_back(fd);
    join.push_back({fd, k.type, k.name});
  }
  if (target_start != 0 && process_start_time(target) != target_start)
    throw Error("the container's process is gone", Errc::NotFound);
  log::debug("exec: joining {} namespace(s) of pid {}", join.size(), target);
  const ProcAreas areas = own_proc_areas();

  int errp[2], pidp[2];
  if (::pipe2(errp, O_CLOEXEC) != 0) throw sys_error("pipe");
  if (::pipe2(pidp, O_CLOEXEC) != 0) {
    int e = errno;
    ::close(errp[0]);
    ::close(errp[1]);
    throw sys_error("pipe", e);
  }
  pid_t helper = ::fork();
  if (helper < 0) {
    int e = errno;
    for (int fd : {errp[0], errp[1], pidp[0], pidp[1]}) ::close(fd);
    throw sys_error("fork", e);
  }
  if (helper == 0) {
    ::close(errp[0]);
    ::close(pidp[0]);
    g_err_fd = errp[1];
    exec_child_main(plan, stdio, join.data(), join.size(), pidp[1], areas, argv.data(), envp.data());
  }
  ::close(errp[1]);
  ::close(pidp[1]);
  fds.clear();
  int hst = 0;
  while (::waitpid(helper, &hst, 0) < 0 && errno == EINTR) {
  }
  pid_t pid = -1;
  ssize_t got;
  do {
    got = ::read(pidp[0], &pid, sizeof pid);
  } while (got < 0 && errno == EINTR);
  ::close(pidp[0]);
  if (got != static_cast<ssize_t>(sizeof pid)) pid = -1;
  // The report pipe closes when the process execs (or dies).
  ChildReport r{};
  do {
    got = ::read(errp[0], &r, sizeof r);
  } while (got < 0 && errno == EINTR);
  ::close(errp[0]);
  if (got == 0 && pid > 0) return pid;
  if (pid > 0) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  if (error) {
    bool full = got == static_cast<ssize_t>(sizeof r);
    error->step = full ? r.step : "the exec process died during setup";
    error->err = full ? r.err : 0;
    error->exit_code = full ? r.exit_code : 125;
  }
  return -1;
}

}  // namespace den
