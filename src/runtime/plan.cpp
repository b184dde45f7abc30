// From a container's configuration to a RunPlan: which namespaces, which
// mounts in which order, which process. No system state is touched here.
#include <linux/capability.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstring>

#include "den/error.h"
#include "den/fs.h"
#include "den/mount_spec.h"
#include "den/runtime.h"
#include "den/strings.h"

namespace den {

namespace {

struct CapName {
  const char* name;
  int value;
};

const CapName kCaps[] = {
    {"CHOWN", CAP_CHOWN}, {"DAC_OVERRIDE", CAP_DAC_OVERRIDE}, {"DAC_READ_SEARCH", CAP_DAC_READ_SEARCH},
    {"FOWNER", CAP_FOWNER}, {"FSETID", CAP_FSETID}, {"KILL", CAP_KILL}, {"SETGID", CAP_SETGID},
    {"SETUID", CAP_SETUID}, {"SETPCAP", CAP_SETPCAP}, {"LINUX_IMMUTABLE", CAP_LINUX_IMMUTABLE},
    {"NET_BIND_SERVICE", CAP_NET_BIND_SERVICE}, {"NET_BROADCAST", CAP_NET_BROADCAST}, {"NET_ADMIN", CAP_NET_ADMIN},
    {"NET_RAW", CAP_NET_RAW}, {"IPC_LOCK", CAP_IPC_LOCK}, {"IPC_OWNER", CAP_IPC_OWNER},
    {"SYS_MODULE", CAP_SYS_MODULE}, {"SYS_RAWIO", CAP_SYS_RAWIO}, {"SYS_CHROOT", CAP_SYS_CHROOT},
    {"SYS_PTRACE", CAP_SYS_PTRACE}, {"SYS_PACCT", CAP_SYS_PACCT}, {"SYS_ADMIN", CAP_SYS_ADMIN},
    {"SYS_BOOT", CAP_SYS_BOOT}, {"SYS_NICE", CAP_SYS_NICE}, {"SYS_RESOURCE", CAP_SYS_RESOURCE},
    {"SYS_TIME", CAP_SYS_TIME}, {"SYS_TTY_CONFIG", CAP_SYS_TTY_CONFIG}, {"MKNOD", CAP_MKNOD},
    {"LEASE", CAP_LEASE}, {"AUDIT_WRITE", CAP_AUDIT_WRITE}, {"AUDIT_CONTROL", CAP_AUDIT_CONTROL},
    {"SETFCAP", CAP_SETFCAP}, {"MAC_OVERRIDE", CAP_MAC_OVERRIDE}, {"MAC_ADMIN", CAP_MAC_ADMIN},
    {"SYSLOG", CAP_SYSLOG}, {"WAKE_ALARM", CAP_WAKE_ALARM}, {"BLOCK_SUSPEND", CAP_BLOCK_SUSPEND},
    {"AUDIT_READ", CAP_AUDIT_READ}, {"PERFMON", 38}, {"BPF", 39}, {"CHECKPOINT_RESTORE", 40},
};

uint64_t bit(int cap) { return uint64_t{1} << cap; }

const std::vector<std::string> kMaskedPaths = {
    "/proc/asound",      "/proc/acpi",         "/proc/kcore",       "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
    "/proc/scsi",        "/sys/firmware",      "/sys/devices/virtual/powercap",
};
const std::vector<std::string> kReadonlyPaths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                                  "/proc/sysrq-trigger"};

int rlimit_from_name(const std::string& n) {
  static const std::pair<const char*, int> names[] = {
      {"core", RLIMIT_CORE},       {"cpu", RLIMIT_CPU},         {"data", RLIMIT_DATA},
      {"fsize", RLIMIT_FSIZE},     {"locks", RLIMIT_LOCKS},     {"memlock", RLIMIT_MEMLOCK},
      {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},     {"nofile", RLIMIT_NOFILE},
      {"nproc", RLIMIT_NPROC},     {"rss", RLIMIT_RSS},         {"rtprio", RLIMIT_RTPRIO},
      {"rttime", RLIMIT_RTTIME},   {"sigpending", RLIMIT_SIGPENDING}, {"stack", RLIMIT_STACK},
      {"as", RLIMIT_AS}};
  for (const auto& [name, r] : names)
    if (n == name) return r;
  throw Error(fmt::format("invalid ulimit type \"{}\"", n), Errc::Invalid);
}

}  // namespace

int capability_from_name(const std::string& raw) {
  std::string n;
  for (char c : raw) n += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (n.rfind("CAP_", 0) == 0) n = n.substr(4);
  for (const auto& c : kCaps)
    if (n == c.name) return c.value;
  throw Error(fmt::format("unknown capability \"{}\"", raw), Errc::Invalid);
}

uint64_t default_capabilities() {
  uint64_t m = 0;
  for (int c : {CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER, CAP_MKNOD, CAP_NET_RAW, CAP_SETGID,
                CAP_SETUID, CAP_SETFCAP, CAP_SETPCAP, CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_KILL,
                CAP_AUDIT_WRITE})
    m |= bit(c);
  return m;
}

RunPlan build_plan(const Config& cfg, const ContainerConfig& c, const Json& image_config,
                   const std::vector<std::string>& lower_diff_dirs, const std::string& container_dir,
                   const std::string& userdata_dir) {
  (void)image_config;
  RunPlan p;
  p.rootless = cfg.rootless;
  // Rootless, no new user namespace: the monitor that executes the plan is
  // already in den's (see userns.h), as podman's conmon is in podman's.
  p.clone_flags = CLONE_NEWNS | CLONE_NEWCGROUP;

  auto ns_option = [&](const std::string& value, int flag, const char* what) {
    if (value == "private" || value.empty() || value == "slirp4netns" || value == "none" || value == "pasta" ||
        value.rfind("slirp4netns:", 0) == 0) {
      p.clone_flags |= flag;
    } else if (value == "host") {
      // Share the host's: nothing to create.
    } else if (value.rfind("container:", 0) == 0 || value.rfind("ns:", 0) == 0) {
      // Resolved by the caller into a /proc/PID/ns path in join_ns.
    } else {
      throw Error(fmt::format("invalid --{} \"{}\": use private, host or container:NAME", what, value), Errc::Invalid);
    }
  };
  ns_option(c.pid, CLONE_NEWPID, "pid");
  ns_option(c.ipc, CLONE_NEWIPC, "ipc");
  ns_option(c.uts, CLONE_NEWUTS, "uts");
  // --network: none, slirp4netns, pasta and user networks get a new network
  // namespace; host shares den's; container:/ns: join one (join_ns).
  if (c.network != "host" && c.network.rfind("container:", 0) != 0 && c.network.rfind("ns:", 0) != 0)
    p.clone_flags |= CLONE_NEWNET;

  // Root file system.
  if (!c.rootfs.empty()) {
    p.root_kind = RunPlan::RootKind::Directory;
    p.rootfs = c.rootfs;
  } else {
    p.root_kind = cfg.force_mount_program ? RunPlan::RootKind::FuseOverlay : RunPlan::RootKind::NativeOverlay;
    std::vector<std::string> lowers(lower_diff_dirs.rbegin(), lower_diff_dirs.rend());
    if (lowers.empty()) lowers.push_back(container_dir + "/empty");
    p.lowerdirs = join(lowers, ":");
    p.upperdir = container_dir + "/upper";
    p.workdir = container_dir + "/work";
    p.rootfs = container_dir + "/merged";
    p.mount_program = cfg.mount_program;
  }
  p.readonly_root = c.read_only;

  const unsigned long nosuid_nodev_noexec = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  bool own_pidns = (p.clone_flags & CLONE_NEWPID) != 0 || c.pid.rfind("container:", 0) == 0;
  if (own_pidns) {
    p.mounts.push_back({"proc", "/proc", "proc", nosuid_nodev_noexec, "", false, false});
  } else {
    p.mounts.push_back({"/proc", "/proc", "", MS_BIND | MS_REC, "", false, false});
  }
  p.mounts.push_back({"tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k", false, false});
  p.mounts.push_back({"devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                      "newinstance,ptmxmode=0666,mode=0620" + std::string(cfg.rootless ? "" : ",gid=5"), false, false});
  p.mounts.push_back({"shm", "/dev/shm", "tmpfs", nosuid_nodev_noexec,
                      fmt::format("mode=1777,size={}", c.shm_size > 0 ? c.shm_size : 65536 * 1024), false, false});
  if (p.clone_flags & CLONE_NEWIPC)
    p.mounts.push_back({"mqueue", "/dev/mqueue", "mqueue", nosuid_nodev_noexec, "", false, false});
  if ((p.clone_flags & CLONE_NEWNET) || c.network.rfind("container:", 0) == 0)
    p.mounts.push_back({"sysfs", "/sys", "sysfs", nosuid_nodev_noexec | MS_RDONLY, "", false, false});
  else
    p.mounts.push_back({"/sys", "/sys", "", MS_BIND | MS_REC, "", false, true});
  for (const char* dev : {"null", "zero", "full", "tty", "random", "urandom"})
    p.mounts.push_back({std::string("/dev/") + dev, std::string("/dev/") + dev, "", MS_BIND, "", true, false});
  if (!userdata_dir.empty()) {
    for (const char* f : {"hosts", "hostname", "resolv.conf"})
      p.mounts.push_back({userdata_dir + "/" + f, std::string("/etc/") + f, "", MS_BIND, "", true, false});
  }
  for (const auto& m : c.mounts) {
    if (m.type == "tmpfs") {
      std::vector<std::string> data;
      unsigned long flags = MS_NOSUID | MS_NODEV;
      for (const auto& o : m.options) {
        if (o == "ro") flags |= MS_RDONLY;
        else if (o == "rw") {}
        else if (o == "noexec") flags |= MS_NOEXEC;
        else if (o == "exec") {}
        else if (o == "nosuid" || o == "nodev") {}
        else if (o == "suid") flags &= ~static_cast<unsigned long>(MS_NOSUID);
        else if (o == "dev") flags &= ~static_cast<unsigned long>(MS_NODEV);
        else data.push_back(o);
      }
      if (std::none_of(data.begin(), data.end(), [](const std::string& d) { return d.rfind("mode=", 0) == 0; }))
        data.push_back("mode=1777");
      p.mounts.push_back({"tmpfs", m.destination, "tmpfs", flags, join(data, ","), false, false});
    } else if (m.type == "bind" || m.type == "volume") {
      // Volumes and binds (den/mount_spec.h): -v, --mount, --volumes-from.
      PlanMount pm{m.source, m.destination, "", MS_BIND | MS_REC, "", false, mount_readonly(m)};
      const auto& o = m.options;
      if (m.type == "volume") {
        VolumeSource vsrc = volume_source(cfg.graphroot, m.source);
        pm.source = vsrc.path;
        pm.fstype = vsrc.fstype;
        pm.data = vsrc.data;
        if (!vsrc.fstype.empty()) pm.flags = MS_NOSUID | MS_NODEV;
        pm.copy_up = vsrc.fstype.empty() && std::find(o.begin(), o.end(), "nocopy") == o.end();
      } else {
        pm.is_file = !is_dir(m.source);
      }
      if (std::find(o.begin(), o.end(), "O") != o.end()) {
        // podman's :O: the host directory is the lower layer of an overlay
        // whose upper dir is the container's (kept until it is removed).
        std::string ov = fmt::format("{}/overlay/{}", container_dir, std::hash<std::string>{}(m.destination));
        pm = {"overlay", m.destination, "overlay", 0,
              fmt::format("lowerdir={},upperdir={}/upper,workdir={}/work{}", m.source, ov, ov,
                          cfg.rootless ? ",userxattr" : ""),
              false, false};
      }
      pm.chown_to_user = std::find(o.begin(), o.end(), "U") != o.end();
      std::string prop = mount_propagation(m);
      if (!prop.empty()) {
        pm.propagation = (prop[0] == 'r' ? MS_REC : 0) |
                         (contains(prop, "shared") ? MS_SHARED : contains(prop, "slave") ? MS_SLAVE : MS_PRIVATE);
      }
      p.mounts.push_back(pm);
    }
  }
  if (c.init || c.infra) {
    // den-init: --init's, or a pod's infra process (den-init --pause).
    p.mounts.push_back({"", "/run/den-init", "", MS_BIND, "", true, true});  // source filled by the caller
    if (c.init) p.init_path = "/run/den-init";
  }
  if (!c.privileged) {
    p.masked_paths = kMaskedPaths;
    p.readonly_paths = kReadonlyPaths;
  }
  // docker's default host name is the short container ID.
  if (p.clone_flags & CLONE_NEWUTS) p.hostname = c.hostname.empty() ? c.id.substr(0, 12) : c.hostname;

  // Process.
  p.argv = c.argv();
  if (p.argv.empty())
    throw Error("no command specified: give one after the image name, or use an image with Cmd or Entrypoint",
                Errc::Invalid);
  if (c.init) p.argv.insert(p.argv.begin(), {p.init_path, "--"});
  p.env = c.env;
  p.cwd = c.workdir.empty() ? "/" : c.workdir;
  if (p.cwd[0] != '/') throw Error(fmt::format("the working directory \"{}\" is not absolute", p.cwd), Errc::Invalid);
  p.user = c.user;
  p.tty = c.tty;

  // docker's order: --cap-drop ALL first, then the additions, then the
  // individual drops ("--cap-drop all --cap-add net_admin" keeps NET_ADMIN).
  uint64_t caps = c.privileged ? ~uint64_t{0} : default_capabilities();
  for (const auto& d : c.cap_drop)
    if (to_lower(d) == "all") caps = 0;
  for (const auto& a : c.cap_add) {
    if (to_lower(a) == "all") caps = ~uint64_t{0};
    else caps |= bit(capability_from_name(a));
  }
  for (const auto& d : c.cap_drop)
    if (to_lower(d) != "all") caps &= ~bit(capability_from_name(d));
  p.capabilities = caps;
  p.no_new_privileges = c.no_new_privileges;
  for (const auto& u : c.ulimits)
    p.rlimits.push_back({rlimit_from_name(u.name), static_cast<uint64_t>(u.soft), static_cast<uint64_t>(u.hard)});
  return p;
}

std::string describe(const RunPlan& p) {
  std::string s = fmt::format("clone flags 0x{:x}\n", p.clone_flags);
  if (p.netns_fd >= 0) s += fmt::format("join network namespace fd {}\n", p.netns_fd);
  const char* kinds[] = {"native overlay", "fuse-overlayfs", "directory"};
  s += fmt::format("root ({}) {} lower={} upper={}\n", kinds[static_cast<int>(p.root_kind)], p.rootfs, p.lowerdirs,
                   p.upperdir);
  for (const auto& m : p.mounts)
    s += fmt::format("mount {} -> {} type={} flags=0x{:x} data={}{}{}{}\n", m.source, m.target,
                     m.fstype.empty() ? "bind" : m.fstype, m.flags, m.data, m.make_readonly ? " ro" : "",
                     m.copy_up ? " copy-up" : "", m.chown_to_user ? " chown" : "");
  for (const auto& m : p.masked_paths) s += "mask " + m + "\n";
  for (const auto& r : p.readonly_paths) s += "readonly " + r + "\n";
  s += fmt::format("exec {} cwd={} user={} caps=0x{:x} tty={}\n", join(p.argv, " "), p.cwd,
                   p.user.empty() ? "0" : p.user, p.capabilities, p.tty);
  return s;
}

std::string SpawnError::message() const {
  std::string m = step;
  if (err) m += std::string(": ") + std::strerror(err);
  return m;
}

}  // namespace den
