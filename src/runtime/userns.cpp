#include "den/userns.h"

#include <fcntl.h>
#include <sched.h>
#include <shadow/subid.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "den/container.h"
#include "den/error.h"
#include "den/fs.h"
#include "den/lock.h"
#include "den/log.h"
#include "den/strings.h"
#include "cgroup_systemd.h"

namespace den {

std::string subid_overlap_problem(const std::string& user, bool gid, const std::vector<SubidRange>& ranges) {
  for (size_t i = 0; i < ranges.size(); i++) {
    for (size_t j = i + 1; j < ranges.size(); j++) {
      const SubidRange& a = ranges[i];
      const SubidRange& b = ranges[j];
      if (a.count == 0 || b.count == 0) continue;
      if (a.start >= b.start + b.count || b.start >= a.start + a.count) continue;
      uint64_t first = std::min(a.start, b.start);
      uint64_t last = std::max(a.start + a.count, b.start + b.count) - 1;
      const char* file = gid ? "/etc/subgid" : "/etc/subuid";
      const char* what = gid ? "subgids" : "subuids";
      return fmt::format("the subordinate {} ranges of user \"{}\" in {} overlap ({}-{} and {}-{}), so {} fails with "
                         "\"Invalid argument\": as root, merge them with 'usermod --del-{} {}-{} {} && usermod "
                         "--add-{} {}-{} {}', then run 'den system migrate'",
                         gid ? "gid" : "uid", user, file, a.start, a.start + a.count - 1, b.start, b.start + b.count - 1,
                         gid ? "newgidmap" : "newuidmap", what, first, last, user, what, first, last, user);
    }
  }
  return "";
}

std::vector<SubidRange> subid_ranges(const std::string& user, bool gid) {
  struct subid_range* ranges = nullptr;
  int n = gid ? subid_get_gid_ranges(user.c_str(), &ranges) : subid_get_uid_ranges(user.c_str(), &ranges);
  std::vector<SubidRange> out;
  for (int i = 0; i < n; i++) out.push_back({static_cast<uint64_t>(ranges[i].start), static_cast<uint64_t>(ranges[i].count)});
  std::free(ranges);
  return out;
}

namespace {

std::vector<IdMap> ranges_for(const Config& cfg, bool gid) {
  const char* file = gid ? "/etc/subgid" : "/etc/subuid";
  const char* flag = gid ? "--add-subgids" : "--add-subuids";
  struct subid_range* ranges = nullptr;
  int n = gid ? subid_get_gid_ranges(cfg.user_name.c_str(), &ranges)
              : subid_get_uid_ranges(cfg.user_name.c_str(), &ranges);
  std::vector<SubidRange> all;
  for (int i = 0; i < n; i++) all.push_back({static_cast<uint64_t>(ranges[i].start), static_cast<uint64_t>(ranges[i].count)});
  if (std::string overlap = subid_overlap_problem(cfg.user_name, gid, all); !overlap.empty()) {
    std::free(ranges);
    throw Error(overlap);
  }
  std::vector<IdMap> maps;
  maps.push_back({0, gid ? static_cast<uint32_t>(cfg.gid) : static_cast<uint32_t>(cfg.uid), 1});
  uint64_t total = 0;
  uint32_t next = 1;
  for (int i = 0; i < n; i++) {
    if (ranges[i].count == 0) continue;
    maps.push_back({next, static_cast<uint32_t>(ranges[i].start), static_cast<uint32_t>(ranges[i].count)});
    next += static_cast<uint32_t>(ranges[i].count);
    total += ranges[i].count;
  }
  std::free(ranges);
  if (total == 0)
    throw Error(fmt::format("no subordinate {} range for user \"{}\" in {}: as root, run 'usermod {} 100000-165535 {}' "
                            "(any free range of 65536 ids)",
                            gid ? "gid" : "uid", cfg.user_name, file, flag, cfg.user_name));
  if (total < kMinSubordinateIds - 1)
    throw Error(fmt::format("the subordinate {} range of user \"{}\" in {} has {} ids, den needs {}: as root, run "
                            "'usermod {} 100000-165535 {}' (any free range of 65536 ids)",
                            gid ? "gid" : "uid", cfg.user_name, file, total, kMinSubordinateIds, flag, cfg.user_name));
  return maps;
}

}  // namespace

IdMappings rootless_id_mappings(const Config& cfg) {
  if (cfg.user_name.empty())
    throw Error(fmt::format("uid {} has no entry in /etc/passwd: den needs a user name to find its subordinate ids",
                            cfg.uid));
  return IdMappings{ranges_for(cfg, false), ranges_for(cfg, true)};
}

std::vector<std::string> idmap_args(const std::vector<IdMap>& maps) {
  std::vector<std::string> out;
  for (const auto& m : maps) {
    out.push_back(std::to_string(m.container_id));
    out.push_back(std::to_string(m.host_id));
    out.push_back(std::to_string(m.size));
  }
  return out;
}

std::string find_idmap_helper(const char* name) {
  std::string found;
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin";
  for (const auto& dir : split(path + ":/usr/bin:/bin:/usr/sbin", ':')) {
    if (dir.empty()) continue;
    std::string p = dir + "/" + name;
    if (::access(p.c_str(), X_OK) == 0) {
      found = p;
      break;
    }
  }
  if (found.empty())
    throw Error(fmt::format("{} not found: as root, install it with 'apt-get install uidmap' (or your "
                            "distribution's shadow-utils)",
                            name));
  struct stat st;
  if (::stat(found.c_str(), &st) != 0) throw sys_error("stat " + found);
  bool setuid_root = (st.st_mode & S_ISUID) && st.st_uid == 0;
  bool has_caps = ::getxattr(found.c_str(), "security.capability", nullptr, 0) > 0;
  if (!setuid_root && !has_caps)
    throw Error(fmt::format("{} has neither the setuid bit nor a file capability, so it cannot map ids: as root, run "
                            "'chmod u+s {}' (or 'setcap cap_set{}id+ep {}'), or reinstall the uidmap package",
                            found, found, name[3] == 'u' ? 'u' : 'g', found));
  return found;
}

namespace {

// A running newuidmap/newgidmap whose stderr we keep for the error message.
struct HelperRun {
  std::string helper;
  std::vector<std::string> args;
  pid_t pid = -1;
  int err_fd = -1;
};

HelperRun spawn_helper(const std::string& helper, std::vector<std::string> args) {
  int errpipe[2];
  if (::pipe2(errpipe, O_CLOEXEC) != 0) throw sys_error("pipe");
  std::vector<const char*> argv;
  argv.push_back(helper.c_str());
  for (const auto& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw sys_error("fork");
  if (pid == 0) {
    ::dup2(errpipe[1], STDERR_FILENO);
    ::execv(helper.c_str(), const_cast<char* const*>(argv.data()));
    ::_exit(127);
  }
  ::close(errpipe[1]);
  return HelperRun{helper, std::move(args), pid, errpipe[0]};
}

// Waits for the helper; returns "" on success, else the error text.
std::string wait_helper(HelperRun& r) {
  std::string err;
  char buf[1024];
  ssize_t n;
  while ((n = ::read(r.err_fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) err.append(buf, static_cast<size_t>(n));
  ::close(r.err_fd);
  int status = 0;
  while (::waitpid(r.pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  return fmt::format("{} {} failed: {} (check /etc/subuid and /etc/subgid)", r.helper, join(r.args, " "),
                     trim(err).empty() ? "exit status " + std::to_string(WEXITSTATUS(status)) : trim(err));
}

}  // namespace

void write_id_maps(pid_t pid, const IdMappings& m) {
  std::string newuidmap = find_idmap_helper("newuidmap");
  std::string newgidmap = find_idmap_helper("newgidmap");
  std::vector<std::string> uargs{std::to_string(pid)}, gargs{std::to_string(pid)};
  for (auto& a : idmap_args(m.uids)) uargs.push_back(a);
  for (auto& a : idmap_args(m.gids)) gargs.push_back(a);
  // Both at once: each is a setuid exec that costs tens of ms on slow hosts.
  HelperRun u = spawn_helper(newuidmap, uargs);
  HelperRun g = spawn_helper(newgidmap, gargs);
  std::string ue = wait_helper(u);
  std::string ge = wait_helper(g);
  if (!ue.empty()) throw Error(ue);
  if (!ge.empty()) throw Error(ge);
}

bool in_user_namespace() {
  // The initial user namespace maps the full 32-bit range from 0.
  auto text = read_file_if_exists("/proc/self/uid_map");
  if (!text) return false;
  unsigned long a = 0, b = 0, c = 0;
  if (std::sscanf(text->c_str(), "%lu %lu %lu", &a, &b, &c) != 3) return true;
  return !(a == 0 && b == 0 && c == 4294967295UL);
}

namespace {

std::string pause_pid_file(const Config& cfg) { return cfg.runroot + "/pause.pid"; }

// The pause process of pause.pid, when it still runs: its namespace.
UniqueFd open_pause_userns(const Config& cfg, pid_t* pid_out = nullptr) {
  auto text = read_file_if_exists(pause_pid_file(cfg));
  if (!text) return UniqueFd();
  long pid = 0;
  unsigned long long start = 0;
  if (std::sscanf(text->c_str(), "%ld %llu", &pid, &start) != 2 || pid <= 0) return UniqueFd();
  if (process_start_time(static_cast<pid_t>(pid)) != start) return UniqueFd();
  int fd = ::open(fmt::format("/proc/{}/ns/user", pid).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return UniqueFd();
  UniqueFd ns(fd);
  // The pid could have been reused between the check and the open.
  if (process_start_time(static_cast<pid_t>(pid)) != start) return UniqueFd();
  if (pid_out) *pid_out = static_cast<pid_t>(pid);
  return ns;
}

// The pause process itself: out of the caller's session and files, asleep.
// It wakes twice a minute to check that pause.pid still names it: once its
// run root is gone (`rm -rf`, a test's temp dir) or another den took over,
// nobody can find it any more, and it exits instead of lingering.
[[noreturn]] void pause_main(const std::string& pid_file) {
  ::prctl(PR_SET_NAME, "den-pause");
  if (::chdir("/") != 0) {
  }
  int devnull = ::open("/dev/null", O_RDWR);
  for (int fd = 0; fd < 3; fd++) ::dup2(devnull, fd);
  ::close_range(3, ~0U, 0);
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_UNBLOCK, &all, nullptr);
  for (int s : {SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGUSR1, SIGUSR2, SIGTSTP, SIGTTIN, SIGTTOU}) ::signal(s, SIG_IGN);
  ::signal(SIGTERM, SIG_DFL);
  const long self = static_cast<long>(::getpid());
  for (;;) {
    ::sleep(30);
    char buf[64] = {};
    int fd = ::open(pid_file.c_str(), O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? ::read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0) ::close(fd);
    if (n <= 0 || std::strtol(buf, nullptr, 10) != self) ::_exit(0);
  }
}

// Out of the caller's cgroup. Started from a systemd unit (a Quadlet
// service, den-restart.service), den-pause would live in that unit's cgroup
// and die when the unit stops, taking along the user namespace that every
// later den call and container join must share; podman moves its pause
// process into a scope for the same reason. Best effort: without systemd
// it stays where it is.
void move_pause_to_scope(pid_t pid) {
  if (!systemd_manager_reachable()) return;
  try {
    systemd_start_scope(fmt::format("den-pause-{}.scope", pid), "user.slice", pid,
                        "den's user namespace holder (den-pause)");
  } catch (const Error& e) {
    log::debug("den-pause stays in the caller's cgroup: {}", e.what());
  }
}

UniqueFd start_pause_process(const Config& cfg) {
  log::Phase phase("userns: start the pause process");
  const std::string pid_file = pause_pid_file(cfg);
  IdMappings maps = rootless_id_mappings(cfg);
  find_idmap_helper("newuidmap");
  find_idmap_helper("newgidmap");
  // Double fork, so that the pause process is nobody's child; the middle one
  // reports the pause process's pid and whether its unshare worked.
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) throw sys_error("pipe");
  pid_t mid = ::fork();
  if (mid < 0) throw sys_error("fork");
  if (mid == 0) {
    ::close(report[0]);
    ::setsid();
    pid_t p = ::fork();
    if (p != 0) ::_exit(p < 0 ? 1 : 0);
    int result[2] = {static_cast<int>(::getpid()), 0};
    if (::unshare(CLONE_NEWUSER) != 0) result[1] = errno;
    ssize_t w = ::write(report[1], result, sizeof result);
    (void)w;
    if (result[1] != 0) ::_exit(1);
    pause_main(pid_file);
  }
  ::close(report[1]);
  int result[2] = {0, 0};
  ssize_t got;
  do {
    got = ::read(report[0], result, sizeof result);
  } while (got < 0 && errno == EINTR);
  ::close(report[0]);
  while (::waitpid(mid, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (got != static_cast<ssize_t>(sizeof result)) throw Error("starting den's pause process failed");
  pid_t pid = result[0];
  if (result[1] != 0)
    throw sys_error("cannot create a user namespace (check that the sysctls user.max_user_namespaces > 0 and, on "
                    "Debian kernels, kernel.unprivileged_userns_clone = 1)",
                    result[1]);
  try {
    write_id_maps(pid, maps);
    uint64_t start = process_start_time(pid);
    write_file_atomic(pause_pid_file(cfg), fmt::format("{} {}\n", pid, start), 0600, Sync::None);
  } catch (...) {
    ::kill(pid, SIGKILL);
    throw;
  }
  move_pause_to_scope(pid);
  int fd = ::open(fmt::format("/proc/{}/ns/user", pid).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw sys_error("open the user namespace of den's pause process");
  log::debug("started den-pause (pid {})", pid);
  return UniqueFd(fd);
}

}  // namespace

UniqueFd open_rootless_userns(const Config& cfg) {
  if (UniqueFd ns = open_pause_userns(cfg); ns.get() >= 0) return ns;
  mkdirs(cfg.runroot, 0700);
  FileLock lock = FileLock::acquire(cfg.runroot + "/pause.lock");
  if (UniqueFd ns = open_pause_userns(cfg); ns.get() >= 0) return ns;
  return start_pause_process(cfg);
}

bool stop_pause_process(const Config& cfg) {
  if (!path_exists(pause_pid_file(cfg))) return false;
  mkdirs(cfg.runroot, 0700);
  FileLock lock = FileLock::acquire(cfg.runroot + "/pause.lock");
  pid_t pid = 0;
  UniqueFd ns = open_pause_userns(cfg, &pid);
  ::unlink(pause_pid_file(cfg).c_str());
  if (ns.get() < 0) return false;
  ::kill(pid, SIGKILL);
  return true;
}

void enter_userns(const Config& cfg) {
  if (!cfg.rootless) return;
  if (::geteuid() == 0 && in_user_namespace()) return;  // e.g. inside `den unshare`
  log::Phase phase("userns: enter");
  UniqueFd ns = open_rootless_userns(cfg);
  if (::setns(ns.get(), CLONE_NEWUSER) != 0) throw sys_error("setns into den's user namespace");
  if (::setresgid(0, 0, 0) != 0) throw sys_error("setresgid(0) in den's user namespace");
  if (::setresuid(0, 0, 0) != 0) throw sys_error("setresuid(0) in den's user namespace");
}

}  // namespace den
