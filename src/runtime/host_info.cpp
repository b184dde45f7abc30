#include "den/host_info.h"

#include <fcntl.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <linux/magic.h>

#include "den/fs.h"
#include "den/strings.h"

namespace den {

std::string find_program(const Config& cfg, const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  std::vector<std::string> dirs = cfg.helper_binaries_dir;
  const char* path = std::getenv("PATH");
  for (const auto& d : split(path ? path : "/usr/bin:/bin", ':')) dirs.push_back(d);
  for (const auto& d : {"/usr/bin", "/bin", "/usr/sbin", "/sbin"}) dirs.push_back(d);
  for (const auto& d : dirs) {
    if (d.empty()) continue;
    std::string p = d + "/" + name;
    if (::access(p.c_str(), X_OK) == 0 && !is_dir(p)) return p;
  }
  return "";
}

namespace {
std::string first_line_of(const std::string& prog, const char* flag) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return "";
  pid_t pid = ::fork();
  if (pid < 0) return "";
  if (pid == 0) {
    ::dup2(p[1], 1);
    int devnull = ::open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      ::dup2(devnull, 0);
      ::dup2(devnull, 2);
    }
    ::execl(prog.c_str(), prog.c_str(), flag, static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(p[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(p[0]);
  int st;
  ::waitpid(pid, &st, 0);
  auto nl = out.find('\n');
  return trim(out.substr(0, nl));
}
}  // namespace

HelperProgram probe_program(const Config& cfg, const std::string& name, const char* version_flag) {
  HelperProgram h;
  h.name = name;
  h.path = find_program(cfg, name);
  if (!h.path.empty()) h.version = first_line_of(h.path, version_flag);
  return h;
}

CgroupInfo probe_cgroups() {
  CgroupInfo c;
  struct statfs fs;
  std::string v2root;
  if (::statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) {
    c.layout = "v2";
    v2root = "/sys/fs/cgroup";
  } else if (::statfs("/sys/fs/cgroup/unified", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) {
    c.layout = "hybrid";
    v2root = "/sys/fs/cgroup/unified";
  } else {
    c.layout = "v1";
  }
  if (auto text = read_file_if_exists("/proc/self/cgroup")) {
    for (const auto& line : split(*text, '\n'))
      if (line.rfind("0::", 0) == 0) c.own_path = line.substr(3);
  }
  if (!v2root.empty()) {
    if (auto ctl = read_file_if_exists(v2root + c.own_path + "/cgroup.controllers"))
      for (const auto& w : split(trim(*ctl), ' '))
        if (!w.empty()) c.controllers.push_back(w);
  }
  return c;
}

std::string kernel_release() {
  struct utsname u;
  ::uname(&u);
  return u.release;
}

std::string os_pretty_name() {
  if (auto text = read_file_if_exists("/etc/os-release")) {
    for (const auto& line : split(*text, '\n')) {
      if (line.rfind("PRETTY_NAME=", 0) == 0) {
        std::string v = line.substr(12);
        if (v.size() >= 2 && v.front() == '"') v = v.substr(1, v.size() - 2);
        return v;
      }
    }
  }
  return "linux";
}

}  // namespace den
