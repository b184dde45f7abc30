// Resource limits: parsing, checks against the host, the cgroup v2 files, the
// cgroupfs manager, stats. The systemd manager's D-Bus part is in
// cgroup_systemd.cpp.
#include "den/cgroup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <set>

#include "cgroup_systemd.h"
#include "den/error.h"
#include "den/fs.h"
#include "den/host_info.h"
#include "den/log.h"
#include "den/strings.h"
#include "den/timefmt.h"
#include "den/userns.h"

namespace den {

namespace {

constexpr int64_t kMinMemory = 6 * 1024 * 1024;  // docker's minimum
const char* const kCgroupRoot = "/sys/fs/cgroup";

std::string fmt_cpus(int64_t nano) {
  std::string s = fmt::format("{:.2f}", static_cast<double>(nano) / 1e9);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// "0-3,5" -> {0,1,2,3,5}; nullopt on bad syntax.
std::optional<std::set<int>> parse_cpu_list(const std::string& s) {
  std::set<int> out;
  if (trim(s).empty()) return out;
  for (const auto& part : split(trim(s), ',')) {
    auto [a, b] = split_once(part, '-');
    auto num = [](const std::string& x) -> std::optional<int> {
      if (x.empty() || x.size() > 5 || !std::all_of(x.begin(), x.end(), ::isdigit)) return std::nullopt;
      return std::stoi(x);
    };
    auto lo = num(a);
    auto hi = b.empty() ? lo : num(b);
    if (!lo || !hi || *hi < *lo) return std::nullopt;
    for (int i = *lo; i <= *hi; i++) out.insert(i);
  }
  return out;
}

std::string online_list(const char* file, const char* fallback) {
  auto t = read_file_if_exists(file);
  return t ? trim(*t) : fallback;
}

bool write_cgroup_file(const std::string& path, const std::string& value, int* err = nullptr) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    if (err) *err = errno;
    return false;
  }
  ssize_t n = ::write(fd, value.data(), value.size());
  int e = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(value.size())) {
    if (err) *err = n < 0 ? e : EIO;
    return false;
  }
  return true;
}

void set_file(const std::string& cgroup, const std::string& file, const std::string& value, const char* flag,
              bool optional = false) {
  int e = 0;
  if (write_cgroup_file(cgroup + "/" + file, value, &e)) return;
  if (optional && e == ENOENT) return;
  std::string why = e == ENOENT ? "the kernel has no such file (controller not enabled for the container?)"
                                : std::strerror(e);
  throw Error(fmt::format("{}: cannot set {} to \"{}\": {}", flag, file, value, why), Errc::Generic, e);
}

std::vector<std::string> words_of(const std::string& path) {
  std::vector<std::string> out;
  if (auto t = read_file_if_exists(path))
    for (const auto& w : split(trim(*t), ' '))
      if (!w.empty()) out.push_back(w);
  return out;
}

bool has(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// "key value" lines of a cgroup file (cpu.stat, memory.stat, memory.events).
int64_t keyed_value(const std::string& text, const std::string& key) {
  for (const auto& line : split(text, '\n')) {
    auto [k, v] = split_once(line, ' ');
    if (k == key) return std::atoll(v.c_str());
  }
  return -1;
}

std::string device_numbers(const std::string& path, const char* flag) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    throw Error(fmt::format("{} {}: no such device: give a block device of this machine (see lsblk)", flag, path),
                Errc::Invalid);
  if (!S_ISBLK(st.st_mode))
    throw Error(fmt::format("{} {}: not a block device: give a disk such as /dev/vda (see lsblk)", flag, path),
                Errc::Invalid);
  return fmt::format("{}:{}", major(st.st_rdev), minor(st.st_rdev));
}

// The cgroup den's process is in, absolute.
std::string own_cgroup() {
  if (auto text = read_file_if_exists("/proc/self/cgroup"))
    for (const auto& line : split(*text, '\n'))
      if (line.rfind("0::", 0) == 0) return std::string(kCgroupRoot) + (line.substr(3) == "/" ? "" : line.substr(3));
  return kCgroupRoot;
}

std::string link_of(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
}

// Where the monitor came from (cgroupfs), to go back there before its cgroup
// is removed.
std::string g_origin;

}  // namespace

// ---- Resources ---------------------------------------------------------------

bool Resources::any_limit() const {
  return memory || memory_swap || memory_reservation || nano_cpus || cpu_shares || cpu_period || cpu_quota ||
         !cpuset_cpus.empty() || !cpuset_mems.empty() || pids_limit || blkio_weight || !device_read_bps.empty() ||
         !device_write_bps.empty() || !device_read_iops.empty() || !device_write_iops.empty();
}

std::vector<std::string> Resources::flags_set() const {
  std::vector<std::string> f;
  if (memory) f.push_back("-m");
  if (memory_swap) f.push_back("--memory-swap");
  if (memory_reservation) f.push_back("--memory-reservation");
  if (nano_cpus) f.push_back("--cpus");
  if (cpu_shares) f.push_back("--cpu-shares");
  if (cpu_period) f.push_back("--cpu-period");
  if (cpu_quota) f.push_back("--cpu-quota");
  if (!cpuset_cpus.empty()) f.push_back("--cpuset-cpus");
  if (!cpuset_mems.empty()) f.push_back("--cpuset-mems");
  if (pids_limit) f.push_back("--pids-limit");
  if (blkio_weight) f.push_back("--blkio-weight");
  if (!device_read_bps.empty()) f.push_back("--device-read-bps");
  if (!device_write_bps.empty()) f.push_back("--device-write-bps");
  if (!device_read_iops.empty()) f.push_back("--device-read-iops");
  if (!device_write_iops.empty()) f.push_back("--device-write-iops");
  return f;
}

std::vector<std::string> Resources::controllers() const {
  std::vector<std::string> c;
  if (!cpuset_cpus.empty() || !cpuset_mems.empty()) c.push_back("cpuset");
  if (nano_cpus || cpu_shares || cpu_period || cpu_quota) c.push_back("cpu");
  if (blkio_weight || !device_read_bps.empty() || !device_write_bps.empty() || !device_read_iops.empty() ||
      !device_write_iops.empty())
    c.push_back("io");
  if (memory || memory_swap || memory_reservation) c.push_back("memory");
  if (pids_limit) c.push_back("pids");
  return c;
}

namespace {
Json rates_json(const std::vector<DeviceRate>& v) {
  if (v.empty()) return Json::array();
  Json a = Json::array();
  for (const auto& d : v) a.push_back({{"Path", d.path}, {"Rate", d.rate}});
  return a;
}
std::vector<DeviceRate> rates_from(const Json& j, const char* key) {
  std::vector<DeviceRate> v;
  if (j.contains(key) && j[key].is_array())
    for (const auto& e : j[key]) v.push_back({e.value("Path", ""), e.value("Rate", uint64_t{0})});
  return v;
}
}  // namespace

Json to_json(const Resources& r) {
  Json j;
  j["Memory"] = r.memory;
  j["MemorySwap"] = r.memory_swap;
  j["MemoryReservation"] = r.memory_reservation;
  j["NanoCpus"] = r.nano_cpus;
  j["CpuShares"] = r.cpu_shares;
  j["CpuPeriod"] = r.cpu_period;
  j["CpuQuota"] = r.cpu_quota;
  j["CpusetCpus"] = r.cpuset_cpus;
  j["CpusetMems"] = r.cpuset_mems;
  j["PidsLimit"] = r.pids_limit ? Json(r.pids_limit) : Json(nullptr);
  j["BlkioWeight"] = r.blkio_weight;
  j["BlkioDeviceReadBps"] = rates_json(r.device_read_bps);
  j["BlkioDeviceWriteBps"] = rates_json(r.device_write_bps);
  j["BlkioDeviceReadIOps"] = rates_json(r.device_read_iops);
  j["BlkioDeviceWriteIOps"] = rates_json(r.device_write_iops);
  j["OomScoreAdj"] = r.oom_score_adj;
  return j;
}

Resources resources_from_json(const Json& j) {
  Resources r;
  if (!j.is_object()) return r;
  r.memory = j.value("Memory", int64_t{0});
  r.memory_swap = j.value("MemorySwap", int64_t{0});
  r.memory_reservation = j.value("MemoryReservation", int64_t{0});
  r.nano_cpus = j.value("NanoCpus", int64_t{0});
  r.cpu_shares = j.value("CpuShares", int64_t{0});
  r.cpu_period = j.value("CpuPeriod", int64_t{0});
  r.cpu_quota = j.value("CpuQuota", int64_t{0});
  r.cpuset_cpus = j.value("CpusetCpus", "");
  r.cpuset_mems = j.value("CpusetMems", "");
  if (j.contains("PidsLimit") && j["PidsLimit"].is_number()) r.pids_limit = j["PidsLimit"].get<int64_t>();
  r.blkio_weight = j.value("BlkioWeight", 0);
  r.device_read_bps = rates_from(j, "BlkioDeviceReadBps");
  r.device_write_bps = rates_from(j, "BlkioDeviceWriteBps");
  r.device_read_iops = rates_from(j, "BlkioDeviceReadIOps");
  r.device_write_iops = rates_from(j, "BlkioDeviceWriteIOps");
  r.oom_score_adj = j.value("OomScoreAdj", 0);
  r.has_oom_score_adj = r.oom_score_adj != 0;
  return r;
}

// ---- parsing and checks ----------------------------------------------------------

int64_t parse_nano_cpus(const std::string& s) {
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || errno || !end || *end || !std::isfinite(v) || v < 0)
    throw Error(fmt::format("invalid --cpus \"{}\": give a number of CPUs such as 1.5", s), Errc::Invalid);
  return static_cast<int64_t>(std::llround(v * 1e9));
}

DeviceRate parse_device_rate(const std::string& s, bool iops, const char* flag) {
  auto pos = s.rfind(':');
  if (pos == std::string::npos || pos == 0 || pos + 1 == s.size())
    throw Error(fmt::format("invalid {} \"{}\": use DEVICE:RATE, e.g. /dev/vda:{}", flag, s, iops ? "100" : "1mb"),
                Errc::Invalid);
  DeviceRate d;
  d.path = s.substr(0, pos);
  std::string rate = s.substr(pos + 1);
  if (iops) {
    if (!std::all_of(rate.begin(), rate.end(), ::isdigit) || rate.size() > 18)
      throw Error(fmt::format("invalid {} \"{}\": the rate is a number of operations per second", flag, s),
                  Errc::Invalid);
    d.rate = std::stoull(rate);
  } else {
    auto b = parse_ram_bytes(rate);
    if (!b || *b < 0)
      throw Error(fmt::format("invalid {} \"{}\": the rate is a size per second such as 1mb", flag, s), Errc::Invalid);
    d.rate = static_cast<uint64_t>(*b);
  }
  if (d.rate == 0) throw Error(fmt::format("invalid {} \"{}\": the rate must be above 0", flag, s), Errc::Invalid);
  if (d.path.rfind("/dev/", 0) != 0)
    throw Error(fmt::format("invalid {} \"{}\": the device must be a path under /dev", flag, s), Errc::Invalid);
  return d;
}

int online_cpus() {
  auto cpus = parse_cpu_list(online_list("/sys/devices/system/cpu/online", "0"));
  int n = cpus ? static_cast<int>(cpus->size()) : 0;
  if (n <= 0) n = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
  return n > 0 ? n : 1;
}

int64_t host_memory_bytes() {
  if (auto t = read_file_if_exists("/proc/meminfo"))
    for (const auto& line : split(*t, '\n'))
      if (line.rfind("MemTotal:", 0) == 0) return std::atoll(line.c_str() + 9) * 1024;
  return 0;
}

void validate_resources(const Resources& r) {
  if (r.memory < 0) throw Error("invalid -m: the memory limit must be positive", Errc::Invalid);
  if (r.memory && r.memory < kMinMemory)
    throw Error(fmt::format("-m {}: below the minimum memory limit of 6MiB; use -m 6m or more", bytes_size(static_cast<double>(r.memory))),
                Errc::Invalid);
  if (r.memory_swap > 0 && !r.memory)
    throw Error("--memory-swap needs -m as well: the swap limit is memory plus swap", Errc::Invalid);
  if (r.memory_swap > 0 && r.memory_swap < r.memory)
    throw Error("--memory-swap must be at least -m (it is the limit of memory plus swap); use -1 for unlimited swap",
                Errc::Invalid);
  if (r.memory_swap < -1) throw Error("invalid --memory-swap: use a size, or -1 for unlimited", Errc::Invalid);
  if (r.memory_reservation < 0) throw Error("invalid --memory-reservation: must be positive", Errc::Invalid);
  if (r.memory && r.memory_reservation > r.memory)
    throw Error("--memory-reservation must be below -m", Errc::Invalid);
  int ncpu = online_cpus();
  if (r.nano_cpus) {
    if (r.nano_cpus < 10000000 || r.nano_cpus > int64_t{ncpu} * 1000000000)
      throw Error(fmt::format("--cpus {}: the range of CPUs is from 0.01 to {}.00, as this machine has {} CPU{}",
                              fmt_cpus(r.nano_cpus), ncpu, ncpu, ncpu == 1 ? "" : "s"),
                  Errc::Invalid);
    if (r.cpu_period || r.cpu_quota)
      throw Error("--cpus cannot be combined with --cpu-period or --cpu-quota: use one or the other", Errc::Invalid);
  }
  if (r.cpu_shares < 0) throw Error("invalid --cpu-shares: must be positive", Errc::Invalid);
  if (r.cpu_period && (r.cpu_period < 1000 || r.cpu_period > 1000000))
    throw Error("--cpu-period must be between 1000 and 1000000 microseconds", Errc::Invalid);
  if (r.cpu_quota && r.cpu_quota != -1 && r.cpu_quota < 1000)
    throw Error("--cpu-quota must be at least 1000 microseconds (or -1)", Errc::Invalid);
  auto check_set = [](const std::string& value, const char* flag, const char* file, const char* fallback,
                      const char* what) {
    if (value.empty()) return;
    auto want = parse_cpu_list(value);
    if (!want || want->empty())
      throw Error(fmt::format("invalid {} \"{}\": use a list such as 0-2,4", flag, value), Errc::Invalid);
    std::string online = online_list(file, fallback);
    auto have = parse_cpu_list(online).value_or(std::set<int>{});
    for (int n : *want)
      if (!have.count(n))
        throw Error(fmt::format("{} {}: {} {} does not exist on this machine (online: {})", flag, value, what, n, online),
                    Errc::Invalid);
  };
  check_set(r.cpuset_cpus, "--cpuset-cpus", "/sys/devices/system/cpu/online", "0", "CPU");
  check_set(r.cpuset_mems, "--cpuset-mems", "/sys/devices/system/node/online", "0", "memory node");
  if (r.pids_limit < -1) throw Error("invalid --pids-limit: use a positive number, or -1 for unlimited", Errc::Invalid);
  if (r.blkio_weight && (r.blkio_weight < 10 || r.blkio_weight > 1000))
    throw Error(fmt::format("--blkio-weight {}: use a weight between 10 and 1000", r.blkio_weight), Errc::Invalid);
  for (const auto& [list, flag] : {std::pair{&r.device_read_bps, "--device-read-bps"},
                                   {&r.device_write_bps, "--device-write-bps"},
                                   {&r.device_read_iops, "--device-read-iops"},
                                   {&r.device_write_iops, "--device-write-iops"}})
    for (const auto& d : *list) device_numbers(d.path, flag);
  if (r.oom_score_adj < -1000 || r.oom_score_adj > 1000)
    throw Error(fmt::format("--oom-score-adj {}: use a value between -1000 and 1000", r.oom_score_adj), Errc::Invalid);
}

uint64_t shares_to_weight(int64_t shares) {
  // docker/runc/crun: shares 2..262144 map linearly onto weight 1..10000.
  shares = std::clamp<int64_t>(shares, 2, 262144);
  return 1 + static_cast<uint64_t>((shares - 2) * 9999 / 262142);
}

uint64_t blkio_to_io_weight(int weight) {
  // crun's conversion of blkio weight 10..1000 onto io.weight 1..10000.
  weight = std::clamp(weight, 10, 1000);
  return 1 + static_cast<uint64_t>((weight - 10) * 9999 / 990);
}

// ---- what the host offers ----------------------------------------------------------

CgroupSupport probe_cgroup_support(const std::string& manager_in, const std::string& cgroup_parent) {
  CgroupSupport s;
  CgroupInfo info = probe_cgroups();
  s.layout = info.layout;
  s.own = own_cgroup();
  std::string manager = manager_in;
  if (manager.empty() || manager == "auto") manager = systemd_manager_reachable() ? "systemd" : "cgroupfs";
  if (manager != "systemd" && manager != "cgroupfs") {
    s.manager = manager;
    s.problem = fmt::format("unknown cgroup manager \"{}\": use systemd or cgroupfs", manager);
    return s;
  }
  s.manager = manager;
  if (s.layout != "v2") {
    s.problem = fmt::format("this host has a {} cgroup layout (cgroup v1 controllers); den applies limits through "
                            "cgroup v2 only",
                            s.layout);
    return s;
  }
  std::string where;
  if (manager == "systemd") {
    if (!systemd_manager_reachable()) {
      s.problem = "the systemd cgroup manager needs the user's systemd instance ($XDG_RUNTIME_DIR/systemd/private), "
                  "which is not reachable";
      return s;
    }
    uid_t uid = ::geteuid();
    where = uid == 0 ? std::string(kCgroupRoot)
                     : fmt::format("{}/user.slice/user-{}.slice/user@{}.service", kCgroupRoot, uid, uid);
    s.parent = where;
    s.writable = ::access((where + "/cgroup.subtree_control").c_str(), W_OK) == 0;
  } else {
    if (!cgroup_parent.empty())
      where = cgroup_parent.rfind(kCgroupRoot, 0) == 0 ? cgroup_parent : path_join(kCgroupRoot, cgroup_parent);
    else if (basename_of(s.own) == "init" && path_exists(dirname_of(s.own) + "/cgroup.procs"))
      where = dirname_of(s.own);  // den moved the processes of its cgroup there (make_parent_ready)
    else
      where = s.own;
    s.parent = where;
    s.writable = ::access(where.c_str(), W_OK) == 0 && ::access((where + "/cgroup.procs").c_str(), W_OK) == 0;
  }
  s.controllers = words_of(where + "/cgroup.controllers");
  if (!is_dir(where))
    s.problem = fmt::format("the cgroup {} does not exist", where);
  else if (!s.writable)
    s.problem = fmt::format("the cgroup {} is not delegated to you (not writable)", where);
  return s;
}

std::string cgroup_fix_hint(const CgroupSupport& s) {
  const char* dropin =
      "create /etc/systemd/system/user@.service.d/delegate.conf with the lines \"[Service]\" and "
      "\"Delegate=cpu cpuset io memory pids\", run \"systemctl daemon-reload\" and log in again";
  if (s.layout != "v2")
    return fmt::format("to use limits, boot with cgroup v2 (kernel command line systemd.unified_cgroup_hierarchy=1) "
                       "and {}; or run without the limit flags (--cgroups=disabled never uses cgroups)",
                       dropin);
  return fmt::format("to delegate the controllers, {}; or run without the limit flags (--cgroups=disabled never "
                     "uses cgroups)",
                     dropin);
}

void check_limits_possible(const Resources& r, const std::string& cgroups, const std::string& manager,
                           const std::string& cgroup_parent) {
  if (!r.any_limit()) return;
  std::string flags = join(r.flags_set(), ", ");
  if (cgroups == "disabled")
    throw Error(fmt::format("{} cannot be applied with --cgroups=disabled: drop the limits or --cgroups=disabled",
                            flags),
                Errc::Invalid);
  CgroupSupport s = probe_cgroup_support(cgroups == "no-conmon" ? "cgroupfs" : manager, cgroup_parent);
  if (!s.problem.empty())
    throw Error(fmt::format("cannot apply {}: {}; {}", flags, s.problem, cgroup_fix_hint(s)), Errc::Unsupported);
  std::vector<std::string> missing;
  for (const auto& c : r.controllers())
    if (!has(s.controllers, c)) missing.push_back(c);
  if (!missing.empty())
    throw Error(fmt::format("cannot apply {}: the cgroup v2 controller{} {} {} not delegated to you (available: {}); {}",
                            flags, missing.size() == 1 ? "" : "s", join(missing, ", "),
                            missing.size() == 1 ? "is" : "are", s.controllers.empty() ? "none" : join(s.controllers, " "),
                            cgroup_fix_hint(s)),
                Errc::Unsupported);
}

// ---- the container's cgroup ----------------------------------------------------------

bool cgroup_exists(const std::string& cgroup) {
  return !cgroup.empty() && path_exists(cgroup + "/cgroup.procs");
}

void cgroup_add_process(const std::string& cgroup, pid_t pid) {
  int e = 0;
  if (!write_cgroup_file(cgroup + "/cgroup.procs", std::to_string(pid), &e))
    throw sys_error(fmt::format("move process {} into the cgroup {}", pid, cgroup), e);
}

namespace {

void make_cgroup_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) throw sys_error("create the cgroup " + path);
}

// Enables `wanted` (those available) in dir's subtree_control; a needed one
// that cannot be enabled throws.
void enable_controllers(const std::string& dir, const std::vector<std::string>& needed) {
  std::vector<std::string> avail = words_of(dir + "/cgroup.controllers");
  std::vector<std::string> on = words_of(dir + "/cgroup.subtree_control");
  for (const char* c : {"cpuset", "cpu", "io", "memory", "pids"}) {
    if (has(on, c) || !has(avail, c)) {
      if (!has(avail, c) && has(needed, c))
        throw Error(fmt::format("the {} controller is not available in {}", c, dir), Errc::Unsupported);
      continue;
    }
    int e = 0;
    if (!write_cgroup_file(dir + "/cgroup.subtree_control", std::string("+") + c, &e) && has(needed, c))
      throw sys_error(fmt::format("enable the {} controller in {}", c, dir), e);
  }
}

// cgroup v2 allows no processes in a cgroup that hands controllers to its
// children. When den's own cgroup is the parent and holds processes (the
// user's shell, say), they move into its `init` leaf first, as podman does.
void make_parent_ready(const std::string& parent, const std::vector<std::string>& needed) {
  std::vector<std::string> on = words_of(parent + "/cgroup.subtree_control");
  std::vector<std::string> avail = words_of(parent + "/cgroup.controllers");
  bool missing = false;
  for (const char* c : {"cpu", "io", "memory", "pids", "cpuset"})
    if (has(avail, c) && !has(on, c)) missing = true;
  if (!missing) return;
  auto procs = read_file_if_exists(parent + "/cgroup.procs");
  if (procs && !trim(*procs).empty()) {
    std::string init = parent + "/init";
    make_cgroup_dir(init);
    for (int round = 0; round < 5; round++) {
      auto now = read_file_if_exists(parent + "/cgroup.procs");
      if (!now || trim(*now).empty()) break;
      for (const auto& p : split(trim(*now), '\n'))
        if (!p.empty()) write_cgroup_file(init + "/cgroup.procs", p);
    }
  }
  enable_controllers(parent, needed);
}

}  // namespace

void apply_resources(const std::string& cg, const Resources& r) {
  if (r.memory) {
    set_file(cg, "memory.max", std::to_string(r.memory), "-m");
    // docker: without --memory-swap the container may swap as much as its
    // memory limit; -1 is unlimited.
    std::string swap = r.memory_swap == -1 ? "max"
                       : r.memory_swap > 0 ? std::to_string(r.memory_swap - r.memory)
                                           : std::to_string(r.memory);
    set_file(cg, "memory.swap.max", swap, "--memory-swap", true);
  }
  if (r.memory_reservation) set_file(cg, "memory.low", std::to_string(r.memory_reservation), "--memory-reservation");
  if (r.nano_cpus) {
    int64_t period = 100000;
    set_file(cg, "cpu.max", fmt::format("{} {}", r.nano_cpus * period / 1000000000, period), "--cpus");
  } else if (r.cpu_quota || r.cpu_period) {
    int64_t period = r.cpu_period ? r.cpu_period : 100000;
    std::string quota = r.cpu_quota > 0 ? std::to_string(r.cpu_quota) : "max";
    set_file(cg, "cpu.max", fmt::format("{} {}", quota, period), "--cpu-quota");
  }
  if (r.cpu_shares) set_file(cg, "cpu.weight", std::to_string(shares_to_weight(r.cpu_shares)), "--cpu-shares");
  if (!r.cpuset_cpus.empty()) set_file(cg, "cpuset.cpus", r.cpuset_cpus, "--cpuset-cpus");
  if (!r.cpuset_mems.empty()) set_file(cg, "cpuset.mems", r.cpuset_mems, "--cpuset-mems");
  if (r.pids_limit) set_file(cg, "pids.max", r.pids_limit < 0 ? "max" : std::to_string(r.pids_limit), "--pids-limit");
  if (r.blkio_weight) {
    if (path_exists(cg + "/io.weight"))
      set_file(cg, "io.weight", fmt::format("default {}", blkio_to_io_weight(r.blkio_weight)), "--blkio-weight");
    else
      set_file(cg, "io.bfq.weight", std::to_string(r.blkio_weight), "--blkio-weight");
  }
  for (const auto& [list, flag, key] : {std::tuple{&r.device_read_bps, "--device-read-bps", "rbps"},
                                        {&r.device_write_bps, "--device-write-bps", "wbps"},
                                        {&r.device_read_iops, "--device-read-iops", "riops"},
                                        {&r.device_write_iops, "--device-write-iops", "wiops"}})
    for (const auto& d : *list)
      set_file(cg, "io.max", fmt::format("{} {}={}", device_numbers(d.path, flag), key, d.rate), flag);
}

std::string create_container_cgroup(const ContainerCgroupSpec& spec) {
  log::Phase phase("cgroup: create");
  if (spec.cgroups == "disabled") return "";
  bool no_conmon = spec.cgroups == "no-conmon";
  std::string manager = spec.manager;
  // Under a systemd unit that runs den (den generate systemd and Quadlet
  // units set DEN_SYSTEMD_UNIT; any Type=notify unit has NOTIFY_SOCKET) the
  // unit tracks den's monitor in its own cgroup (MAINPID=, PIDFile= of a
  // pod's infra, KillMode): with the automatic choice the container stays
  // there (no cgroup of its own without limits; with limits, cgroupfs below
  // the unit's cgroup), never in a scope outside the unit.
  auto set = [](const char* var) {
    const char* v = std::getenv(var);
    return v && *v;
  };
  bool in_unit = set("NOTIFY_SOCKET") || set("DEN_SYSTEMD_UNIT") || set("PODMAN_SYSTEMD_UNIT");
  if (in_unit && (manager.empty() || manager == "auto")) {
    if (!spec.resources.any_limit()) {
      log::debug("cgroup: in a systemd unit, the container stays in the unit's cgroup");
      return "";
    }
    manager = "cgroupfs";
  }
  CgroupSupport s = probe_cgroup_support(no_conmon ? "cgroupfs" : manager, spec.cgroup_parent);
  // In den's user namespace already (e.g. after a pull in this call), D-Bus
  // would see uid 0 with the user's credentials and refuse: use cgroupfs.
  if (s.problem.empty() && s.manager == "systemd" && in_user_namespace()) {
    log::debug("cgroup: in den's user namespace, using cgroupfs instead of systemd");
    s = probe_cgroup_support("cgroupfs", spec.cgroup_parent);
  }
  std::vector<std::string> needed = spec.resources.controllers();
  if (!s.problem.empty()) {
    if (spec.resources.any_limit())
      check_limits_possible(spec.resources, spec.cgroups, manager, spec.cgroup_parent);  // throws with the fix
    log::debug("cgroup: none for this container: {}", s.problem);
    return "";
  }
  if (spec.resources.any_limit()) check_limits_possible(spec.resources, spec.cgroups, s.manager, spec.cgroup_parent);
  std::string top;
  if (s.manager == "systemd") {
    std::string slice = spec.cgroup_parent.size() > 6 &&
                                spec.cgroup_parent.compare(spec.cgroup_parent.size() - 6, 6, ".slice") == 0
                            ? spec.cgroup_parent
                            : "user.slice";
    top = systemd_start_scope("den-" + spec.id + ".scope", slice, ::getpid(),
                              "den container " + spec.id.substr(0, 12));
  } else {
    g_origin = own_cgroup();
    make_parent_ready(s.parent, needed);
    g_origin = own_cgroup();  // may have moved into the parent's init leaf
    top = s.parent + "/den-" + spec.id;
    make_cgroup_dir(top);
  }
  log::debug("cgroup: {} ({})", top, s.manager);
  std::string leaf = top;
  try {
    if (!no_conmon) {
      make_cgroup_dir(top + "/monitor");
      cgroup_add_process(top + "/monitor", ::getpid());
      enable_controllers(top, needed);
      leaf = top + "/container";
      make_cgroup_dir(leaf);
    }
    apply_resources(leaf, spec.resources);
  } catch (Error& e) {
    remove_container_cgroup(leaf);
    e.context("set up the container's cgroup");
    throw;
  }
  return leaf;
}

uint64_t cgroup_oom_kills(const std::string& cgroup) {
  if (cgroup.empty()) return 0;
  auto t = read_file_if_exists(cgroup + "/memory.events");
  if (!t) return 0;
  int64_t v = keyed_value(*t, "oom_kill");
  return v > 0 ? static_cast<uint64_t>(v) : 0;
}

void remove_container_cgroup(const std::string& leaf) {
  if (leaf.empty()) return;
  std::string top = basename_of(leaf) == "container" ? dirname_of(leaf) : leaf;
  // The monitor itself may be in top/monitor: back to where it came from.
  if (!g_origin.empty() && own_cgroup() == top + "/monitor") write_cgroup_file(g_origin + "/cgroup.procs", std::to_string(::getpid()));
  ::rmdir((top + "/container").c_str());
  ::rmdir((top + "/monitor").c_str());
  // Only den's own directories (a systemd scope goes away with its processes).
  if (basename_of(top).rfind("den-", 0) == 0 && top.find(".scope") == std::string::npos) ::rmdir(top.c_str());
}

void cgroup_freeze(const std::string& cgroup, bool frozen) {
  int e = 0;
  if (!write_cgroup_file(cgroup + "/cgroup.freeze", frozen ? "1" : "0", &e))
    throw sys_error(fmt::format("{} the cgroup {}", frozen ? "freeze" : "thaw", cgroup), e);
  for (int i = 0; i < 1000; i++) {
    auto ev = read_file_if_exists(cgroup + "/cgroup.events");
    if (!ev || keyed_value(*ev, "frozen") == (frozen ? 1 : 0)) return;
    ::usleep(10000);
  }
  throw Error(fmt::format("the cgroup {} did not {} within 10 s", cgroup, frozen ? "freeze" : "thaw"));
}

// ---- stats -------------------------------------------------------------------------

namespace {

int64_t now_mono() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

void net_of(pid_t pid, ResourceSample& s) {
  auto t = read_file_if_exists(fmt::format("/proc/{}/net/dev", pid));
  if (!t) return;
  s.net_rx = s.net_tx = 0;
  for (const auto& line : split(*t, '\n')) {
    auto [name, rest] = split_once(line, ':');
    if (rest.empty() || trim(name) == "lo") continue;
    std::vector<std::string> f;
    for (const auto& w : split(rest, ' '))
      if (!w.empty()) f.push_back(w);
    if (f.size() < 9) continue;
    s.net_rx += std::atoll(f[0].c_str());
    s.net_tx += std::atoll(f[8].c_str());
  }
}

}  // namespace

ResourceSample sample_resources(const std::string& cg, pid_t pid) {
  ResourceSample s;
  s.taken_ns = now_mono();
  if (pid > 0) net_of(pid, s);
  if (cgroup_exists(cg)) {
    s.have_cgroup = true;
    if (auto t = read_file_if_exists(cg + "/cpu.stat")) s.cpu_usec = static_cast<uint64_t>(std::max<int64_t>(0, keyed_value(*t, "usage_usec")));
    if (auto t = read_file_if_exists(cg + "/memory.current")) {
      s.mem_usage = std::atoll(t->c_str());
      // docker subtracts the inactive page cache.
      if (auto st = read_file_if_exists(cg + "/memory.stat")) {
        int64_t inactive = keyed_value(*st, "inactive_file");
        if (inactive > 0 && inactive < s.mem_usage) s.mem_usage -= inactive;
      }
    }
    if (auto t = read_file_if_exists(cg + "/memory.max"))
      s.mem_limit = trim(*t) == "max" ? host_memory_bytes() : std::atoll(t->c_str());
    if (auto t = read_file_if_exists(cg + "/pids.current")) s.pids = std::atoll(t->c_str());
    if (auto t = read_file_if_exists(cg + "/io.stat")) {
      s.blk_read = s.blk_write = 0;
      for (const auto& line : split(*t, '\n'))
        for (const auto& w : split(line, ' ')) {
          if (w.rfind("rbytes=", 0) == 0) s.blk_read += std::atoll(w.c_str() + 7);
          if (w.rfind("wbytes=", 0) == 0) s.blk_write += std::atoll(w.c_str() + 7);
        }
    }
    if (s.pids < 0) {
      if (auto t = read_file_if_exists(cg + "/cgroup.procs")) s.pids = static_cast<int64_t>(split(trim(*t), '\n').size());
    }
    return s;
  }
  if (pid <= 0) return s;
  // No cgroup: the processes in the container's PID namespace (or just its
  // init, when it shares ours).
  std::string ns = link_of(fmt::format("/proc/{}/ns/pid", pid));
  bool own_ns = !ns.empty() && ns != link_of("/proc/self/ns/pid");
  std::vector<pid_t> pids;
  if (own_ns) {
    for (const auto& e : list_dir("/proc")) {
      if (e.empty() || !std::all_of(e.begin(), e.end(), ::isdigit)) continue;
      if (link_of("/proc/" + e + "/ns/pid") == ns) pids.push_back(std::atoi(e.c_str()));
    }
  } else {
    pids.push_back(pid);
  }
  long tick = ::sysconf(_SC_CLK_TCK);
  long page = ::sysconf(_SC_PAGESIZE);
  s.mem_usage = 0;
  s.pids = 0;
  s.mem_limit = host_memory_bytes();
  for (pid_t p : pids) {
    auto st = read_file_if_exists(fmt::format("/proc/{}/stat", p));
    if (!st) continue;
    auto close = st->rfind(')');
    if (close == std::string::npos) continue;
    std::vector<std::string> f = split(st->substr(close + 2), ' ');
    if (f.size() < 13) continue;
    s.pids++;
    uint64_t ticks = std::strtoull(f[11].c_str(), nullptr, 10) + std::strtoull(f[12].c_str(), nullptr, 10);
    s.cpu_usec += ticks * 1000000 / static_cast<uint64_t>(tick);
    if (auto sm = read_file_if_exists(fmt::format("/proc/{}/statm", p))) {
      auto w = split(*sm, ' ');
      if (w.size() > 1) s.mem_usage += std::atoll(w[1].c_str()) * page;
    }
  }
  return s;
}

}  // namespace den
