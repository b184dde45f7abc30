#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <thread>

#include "den/container.h"
#include "den/error.h"
#include "den/fs.h"
#include "den/hash.h"
#include "den/log.h"
#include "den/reference.h"
#include "den/strings.h"

namespace den {

std::vector<std::string> ContainerConfig::argv() const {
  std::vector<std::string> out = entrypoint;
  out.insert(out.end(), cmd.begin(), cmd.end());
  return out;
}

std::string_view status_name(ContainerStatus s) {
  switch (s) {
    case ContainerStatus::Created: return "created";
    case ContainerStatus::Running: return "running";
    case ContainerStatus::Paused: return "paused";
    case ContainerStatus::Stopping: return "stopping";
    case ContainerStatus::Exited: return "exited";
    case ContainerStatus::Removing: return "removing";
  }
  return "unknown";
}

namespace {
ContainerStatus status_from(const std::string& s) {
  if (s == "running") return ContainerStatus::Running;
  if (s == "paused") return ContainerStatus::Paused;
  if (s == "stopping") return ContainerStatus::Stopping;
  if (s == "exited") return ContainerStatus::Exited;
  if (s == "removing") return ContainerStatus::Removing;
  return ContainerStatus::Created;
}
}  // namespace

Json to_json(const ContainerConfig& c) {
  Json mounts = Json::array();
  for (const auto& m : c.mounts)
    mounts.push_back({{"type", m.type}, {"source", m.source}, {"destination", m.destination}, {"options", m.options},
                      {"anonymous", m.anonymous}});
  Json ulimits = Json::array();
  for (const auto& u : c.ulimits) ulimits.push_back({{"name", u.name}, {"soft", u.soft}, {"hard", u.hard}});
  Json ports = Json::array();
  for (const auto& p : c.ports)
    ports.push_back({{"host_ip", p.host_ip}, {"host_port", p.host_port}, {"container_port", p.container_port},
                     {"protocol", p.protocol}, {"range", p.range}});
  return {{"id", c.id},
          {"name", c.name},
          {"image_id", c.image_id},
          {"image_name", c.image_name},
          {"rootfs", c.rootfs},
          {"created", c.created},
          {"entrypoint", c.entrypoint},
          {"cmd", c.cmd},
          {"env", c.env},
          {"workdir", c.workdir},
          {"user", c.user},
          {"tty", c.tty},
          {"stdin_open", c.stdin_open},
          {"init", c.init},
          {"ulimits", ulimits},
          {"no_new_privileges", c.no_new_privileges},
          {"privileged", c.privileged},
          {"cap_add", c.cap_add},
          {"cap_drop", c.cap_drop},
          {"read_only", c.read_only},
          {"hostname", c.hostname},
          {"network", c.network},
          {"ipc", c.ipc},
          {"pid", c.pid},
          {"uts", c.uts},
          {"mounts", mounts},
          {"shm_size", c.shm_size},
          {"labels", c.labels},
          {"annotations", c.annotations},
          {"restart", {{"name", c.restart.name}, {"max_retries", c.restart.max_retries}}},
          {"stop_signal", c.stop_signal},
          {"stop_timeout", c.stop_timeout},
          {"auto_remove", c.auto_remove},
          {"health", to_json(c.health)},
          {"sdnotify", c.sdnotify},
          {"create_command", c.create_command},
          {"log_driver", c.log_driver},
          {"exposed_ports", c.exposed_ports},
          {"ports", ports},
          {"add_hosts", c.add_hosts},
          {"dns", c.dns},
          {"dns_search", c.dns_search},
          {"dns_options", c.dns_options},
          {"mac_address", c.mac_address},
          {"network_aliases", c.network_aliases},
          {"links", c.links},
          {"networks", c.networks},
          {"resources", to_json(c.resources)},
          {"cgroups", c.cgroups},
          {"cgroup_parent", c.cgroup_parent},
          {"cgroup_manager", c.cgroup_manager},
          {"pod", c.pod},
          {"infra", c.infra},
          {"conmon_pidfile", c.conmon_pidfile}};
}

Json config_summary(const ContainerConfig& c) {
  Json full = to_json(c);
  Json out = Json::object();
  for (const char* k : {"id", "name", "image_id", "image_name", "rootfs", "created", "entrypoint", "cmd", "network",
                        "labels", "exposed_ports", "mounts", "ports", "pod", "infra"})
    if (full.contains(k)) out[k] = full[k];
  return out;
}

ContainerConfig container_config_from_json(const Json& j) {
  ContainerConfig c;
  c.id = j.value("id", "");
  c.name = j.value("name", "");
  c.image_id = j.value("image_id", "");
  c.image_name = j.value("image_name", "");
  c.rootfs = j.value("rootfs", "");
  c.created = j.value("created", int64_t{0});
  c.entrypoint = j.value("entrypoint", std::vector<std::string>{});
  c.cmd = j.value("cmd", std::vector<std::string>{});
  c.env = j.value("env", std::vector<std::string>{});
  c.workdir = j.value("workdir", "");
  c.user = j.value("user", "");
  c.tty = j.value("tty", false);
  c.stdin_open = j.value("stdin_open", false);
  c.init = j.value("init", false);
  for (const auto& u : j.value("ulimits", Json::array()))
    c.ulimits.push_back({u.value("name", ""), u.value("soft", int64_t{0}), u.value("hard", int64_t{0})});
  c.no_new_privileges = j.value("no_new_privileges", false);
  c.privileged = j.value("privileged", false);
  c.cap_add = j.value("cap_add", std::vector<std::string>{});
  c.cap_drop = j.value("cap_drop", std::vector<std::string>{});
  c.read_only = j.value("read_only", false);
  c.hostname = j.value("hostname", "");
  c.network = j.value("network", "slirp4netns");
  c.ipc = j.value("ipc", "private");
  c.pid = j.value("pid", "private");
  c.uts = j.value("uts", "private");
  for (const auto& m : j.value("mounts", Json::array()))
    c.mounts.push_back({m.value("type", ""), m.value("source", ""), m.value("destination", ""),
                        m.value("options", std::vector<std::string>{}), m.value("anonymous", false)});
  c.shm_size = j.value("shm_size", int64_t{64 * 1024 * 1024});
  c.labels = j.value("labels", std::map<std::string, std::string>{});
  c.annotations = j.value("annotations", std::map<std::string, std::string>{});
  if (j.contains("restart")) {
    c.restart.name = j["restart"].value("name", "no");
    c.restart.max_retries = j["restart"].value("max_retries", 0);
  }
  c.stop_signal = j.value("stop_signal", "SIGTERM");
  c.stop_timeout = j.value("stop_timeout", 10);
  c.auto_remove = j.value("auto_remove", false);
  c.log_driver = j.value("log_driver", "k8s-file");
  c.exposed_ports = j.value("exposed_ports", std::vector<std::string>{});
  if (j.contains("health")) c.health = health_config_from_json(j["health"]);
  c.sdnotify = j.value("sdnotify", "conmon");
  c.create_command = j.value("create_command", std::vector<std::string>{});
  for (const auto& p : j.value("ports", Json::array()))
    c.ports.push_back({p.value("host_ip", ""), p.value("host_port", 0), p.value("container_port", 0),
                       p.value("protocol", "tcp"), p.value("range", 1)});
  c.add_hosts = j.value("add_hosts", std::vector<std::string>{});
  c.dns = j.value("dns", std::vector<std::string>{});
  c.dns_search = j.value("dns_search", std::vector<std::string>{});
  c.dns_options = j.value("dns_options", std::vector<std::string>{});
  c.mac_address = j.value("mac_address", "");
  c.network_aliases = j.value("network_aliases", std::vector<std::string>{});
  c.links = j.value("links", std::vector<std::string>{});
  c.networks = j.value("networks", std::vector<std::string>{});
  if (j.contains("resources")) c.resources = resources_from_json(j["resources"]);
  c.cgroups = j.value("cgroups", "enabled");
  c.cgroup_parent = j.value("cgroup_parent", "");
  c.cgroup_manager = j.value("cgroup_manager", "");
  c.pod = j.value("pod", "");
  c.infra = j.value("infra", false);
  c.conmon_pidfile = j.value("conmon_pidfile", "");
  return c;
}

Json to_json(const ContainerState& s) {
  return {{"status", status_name(s.status)},
          {"pid", s.pid},
          {"pid_start", s.pid_start},
          {"monitor_pid", s.monitor_pid},
          {"monitor_start", s.monitor_start},
          {"exit_code", s.exit_code},
          {"oom_killed", s.oom_killed},
          {"error", s.error},
          {"started_at", s.started_at},
          {"finished_at", s.finished_at},
          {"restart_count", s.restart_count},
          {"stopped_by_user", s.stopped_by_user},
          {"boot_id", s.boot_id},
          {"health", s.health},
          {"restarting", s.restarting},
          {"cgroup", s.cgroup},
          {"summary", s.summary.is_object() ? s.summary : Json::object()}};
}

ContainerState container_state_from_json(const Json& j) {
  ContainerState s;
  s.status = status_from(j.value("status", "created"));
  s.pid = j.value("pid", 0);
  s.pid_start = j.value("pid_start", uint64_t{0});
  s.monitor_pid = j.value("monitor_pid", 0);
  s.monitor_start = j.value("monitor_start", uint64_t{0});
  s.exit_code = j.value("exit_code", 0);
  s.oom_killed = j.value("oom_killed", false);
  s.error = j.value("error", "");
  s.started_at = j.value("started_at", int64_t{0});
  s.finished_at = j.value("finished_at", int64_t{0});
  s.restart_count = j.value("restart_count", 0);
  s.stopped_by_user = j.value("stopped_by_user", false);
  s.boot_id = j.value("boot_id", "");
  s.health = j.value("health", "");
  s.restarting = j.value("restarting", false);
  s.cgroup = j.value("cgroup", "");
  if (auto it = j.find("summary"); it != j.end() && it->is_object() && !it->empty()) s.summary = *it;
  return s;
}

uint64_t process_start_time(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[1024];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  // Fields after the command (which may contain spaces) start after ')'.
  const char* p = std::strrchr(buf, ')');
  if (!p) return 0;
  p += 2;
  // p is at field 3 (state). A zombie has exited already: not alive, even
  // if nobody has reaped it yet (an orphan waits for the host's init).
  if (*p == 'Z' || *p == 'X') return 0;
  // starttime is field 22.
  for (int field = 3; field < 22 && *p; field++) {
    p = std::strchr(p, ' ');
    if (!p) return 0;
    p++;
  }
  return std::strtoull(p, nullptr, 10);
}

std::string current_boot_id() {
  static std::string id = [] {
    auto t = read_file_if_exists("/proc/sys/kernel/random/boot_id");
    return t ? trim(*t) : std::string();
  }();
  return id;
}

std::string random_container_name() {
  static const char* adjectives[] = {"admiring", "bold", "brave", "busy", "calm", "clever", "cool", "eager",
                                     "elated", "epic", "fervent", "focused", "gallant", "happy", "jolly", "keen",
                                     "kind", "loving", "lucid", "modest", "nifty", "optimistic", "quirky", "relaxed",
                                     "serene", "sharp", "stoic", "sweet", "tender", "vibrant", "wizardly", "zen"};
  static const char* nouns[] = {"turing", "hopper", "lovelace", "knuth", "ritchie", "thompson", "torvalds", "curie",
                                "darwin", "euler", "gauss", "hamilton", "hypatia", "kepler", "lamport", "liskov",
                                "mccarthy", "noether", "pascal", "perlman", "shannon", "tesla", "wozniak", "yonath"};
  std::string r = random_hex(4);
  unsigned v = static_cast<unsigned>(std::stoul(r, nullptr, 16));
  return std::string(adjectives[v % std::size(adjectives)]) + "_" + nouns[(v / 64) % std::size(nouns)];
}

ContainerStore::ContainerStore(Store& store) : store_(store), root_(store.root() + "/containers") {}

std::string ContainerStore::dir(const std::string& id) const { return root_ + "/" + id; }
std::string ContainerStore::run_dir(const std::string& id) const {
  return store_.config().runroot + "/c/" + id.substr(0, 12);
}

namespace {
bool valid_name(const std::string& n) {
  if (n.empty() || n.size() > 128) return false;
  if (!std::isalnum(static_cast<unsigned char>(n[0]))) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

// A name is the file names/<name> holding its container's ID. Its creator
// holds a flock on it until the container's directory is in place (create,
// rename), so a name whose directory is missing and whose flock is free was
// left by a den killed in between: it names no container and is reclaimed at
// once, under that flock.

// Whether fd is still the file at path (not unlinked and replaced meanwhile).
bool same_file(int fd, const std::string& path) {
  struct stat a, b;
  return ::fstat(fd, &a) == 0 && ::stat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

std::string read_fd(int fd) {
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(out.size()))) > 0 && out.size() < 4096)
    out.append(buf, static_cast<size_t>(n));
  return trim(out);
}

enum class NameState { Free, Owned, Busy, Dangling };

// The state of names/<name>; with `reclaim`, a dangling name is removed
// (and reads as Free).
NameState name_state(const std::string& path, const std::string& containers_dir, bool reclaim) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return NameState::Free;
    throw sys_error("open " + path);
  }
  UniqueFd g(fd);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) return NameState::Busy;  // being created or renamed
  if (!same_file(fd, path)) return NameState::Busy;                 // replaced meanwhile: look again
  std::string owner = read_fd(fd);
  if (!owner.empty() && owner.find('/') == std::string::npos && is_dir(containers_dir + "/" + owner))
    return NameState::Owned;
  if (!reclaim) return NameState::Dangling;
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw sys_error("free the container name " + basename_of(path));
  log::debug("container name {}: reclaimed from {}, which does not exist", basename_of(path),
             owner.empty() ? "nobody" : owner.substr(0, 12));
  return NameState::Free;
}

// Reserves the name for `id`; returns the name file, flocked, to be held
// until the container's directory exists. Empty when another container (or
// a den creating one right now) has it.
UniqueFd reserve_name(const std::string& names_dir, const std::string& name, const std::string& id,
                      const std::string& containers_dir, bool durable) {
  std::string path = names_dir + "/" + name;
  for (int attempt = 0; attempt < 20; attempt++) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      UniqueFd g(fd);
      // Blocking: a reclaimer that saw the empty file may hold it for a
      // moment; it then unlinks it and we start again.
      while (::flock(fd, LOCK_EX) != 0)
        if (errno != EINTR) throw sys_error("lock the container name " + name);
      if (!same_file(fd, path)) continue;
      write_all(fd, id);
      if (durable) ::fsync(fd);
      return g;
    }
    if (errno != EEXIST) throw sys_error("reserve name " + name);
    NameState s = name_state(path, containers_dir, true);
    if (s == NameState::Owned) return UniqueFd();
    if (s == NameState::Busy) {
      // Its creator is at work (or it was replaced just now): look again,
      // briefly, and then report it as taken.
      ::usleep(10000);
      if (name_state(path, containers_dir, false) == NameState::Busy && attempt >= 2) return UniqueFd();
    }
  }
  return UniqueFd();
}

// Removes names/<name> if it still names `id`.
void release_name(const std::string& path, const std::string& id) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return;
  UniqueFd g(fd);
  while (::flock(fd, LOCK_EX) != 0)
    if (errno != EINTR) return;
  if (same_file(fd, path) && read_fd(fd) == id) ::unlink(path.c_str());
}
}  // namespace

ContainerConfig ContainerStore::create(ContainerConfig cfg) {
  // Durable unless --rm: such a container may vanish after a power loss,
  // which is what it was made to do anyway (a half-written one is skipped by
  // ps and removable with rm).
  const bool durable = !cfg.auto_remove;
  store_.prepare_for_write();
  mkdirs(root_ + "/names", 0700);
  if (cfg.id.empty()) cfg.id = random_hex(64);
  UniqueFd name_lock;  // held until the container's directory is in place
  if (!cfg.name.empty()) {
    if (!valid_name(cfg.name))
      throw Error(fmt::format("invalid container name \"{}\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", cfg.name),
                  Errc::Invalid);
    name_lock = reserve_name(root_ + "/names", cfg.name, cfg.id, root_, durable);
    if (!name_lock) {
      std::string other = trim(read_file_if_exists(root_ + "/names/" + cfg.name).value_or(""));
      throw Error(fmt::format("the container name \"{}\" is already in use by {}: remove (or rename) that container "
                              "to be able to reuse that name",
                              cfg.name, other.substr(0, 12)),
                  Errc::Exists);
    }
  } else {
    for (int i = 0;; i++) {
      cfg.name = random_container_name();
      if (i > 5) cfg.name += "_" + random_hex(4);
      name_lock = reserve_name(root_ + "/names", cfg.name, cfg.id, root_, durable);
      if (name_lock) break;
    }
  }
  // Build in the staging area, then rename: a container dir is complete or
  // absent, and a den killed meanwhile leaves only staging (cleaned later).
  try {
    Store::Staging st = store_.staging("ctr");
    const std::string& tmp = st.path();
    mkdirs(tmp + "/upper", 0755);
    mkdirs(tmp + "/work", 0700);
    mkdirs(tmp + "/merged", 0755);
    // File contents are synced one by one, the staging directory once.
    write_file_atomic(tmp + "/config.json", to_json(cfg).dump(), 0600, durable ? Sync::Data : Sync::None);
    ContainerState state;
    state.boot_id = current_boot_id();
    state.summary = config_summary(cfg);
    write_file_atomic(tmp + "/state.json", to_json(state).dump(), 0600, Sync::None);
    if (durable) fsync_dir(tmp);
    if (::rename(tmp.c_str(), dir(cfg.id).c_str()) != 0) throw sys_error("create container directory");
    if (durable) fsync_dir(root_);
  } catch (...) {
    ::unlink((root_ + "/names/" + cfg.name).c_str());
    throw;
  }
  return cfg;
}

std::vector<std::string> ContainerStore::list_ids() const {
  std::vector<std::string> out;
  for (auto& n : list_dir(root_))
    if (n.size() == 64 && is_hex(n)) out.push_back(n);
  return out;
}

std::vector<ContainerStore::Entry> ContainerStore::load_all() const {
  std::vector<std::string> ids = list_ids();
  std::vector<Entry> entries(ids.size());
  std::vector<char> ok(ids.size(), 0);
  auto load = [&](size_t from, size_t step) {
    for (size_t i = from; i < ids.size(); i += step) {
      try {
        entries[i].state = state(ids[i]);
        Json& sum = entries[i].state.summary;
        entries[i].config = sum.is_object() ? container_config_from_json(sum) : config(ids[i]);
        entries[i].config.id = ids[i];
        sum = Json();  // no longer needed
        ok[i] = 1;
      } catch (const std::exception& e) {
        log::debug("skipping container {}: {}", ids[i].substr(0, 12), e.what());
      }
    }
  };
  // Reading and parsing two small JSON files per container is CPU-bound:
  // with hundreds of containers, spread it over the cores.
  size_t threads = ids.size() < 128 ? 1 : std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 4);
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; t++) pool.emplace_back(load, t, threads);
  load(0, threads);
  for (auto& t : pool) t.join();
  if (std::find(ok.begin(), ok.end(), 0) != ok.end()) {
    std::vector<Entry> kept;
    for (size_t i = 0; i < entries.size(); i++)
      if (ok[i]) kept.push_back(std::move(entries[i]));
    entries.swap(kept);
  }
  return entries;
}

std::optional<std::string> ContainerStore::try_resolve(const std::string& arg) const {
  if (arg.empty()) return std::nullopt;
  if (auto id = read_file_if_exists(root_ + "/names/" + arg); id && arg.find('/') == std::string::npos) {
    std::string i = trim(*id);
    if (is_dir(dir(i))) return i;
  }
  if (looks_like_id(arg)) {
    std::optional<std::string> found;
    for (const auto& id : list_ids()) {
      if (id.compare(0, arg.size(), arg) != 0) continue;
      if (found)
        throw Error(fmt::format("container ID prefix \"{}\" is ambiguous: give more characters", arg), Errc::Invalid);
      found = id;
    }
    return found;
  }
  return std::nullopt;
}

std::string ContainerStore::resolve(const std::string& arg) const {
  if (auto id = try_resolve(arg)) return *id;
  throw Error(fmt::format("no such container: {}", arg), Errc::NotFound);
}

ContainerConfig ContainerStore::config(const std::string& id) const {
  Json j = Json::parse(read_file(dir(id) + "/config.json"), nullptr, false);
  if (j.is_discarded()) throw Error(fmt::format("container {}: config.json is corrupt", id.substr(0, 12)), Errc::Corrupt);
  return container_config_from_json(j);
}

ContainerState ContainerStore::state(const std::string& id) const {
  // state.json is written without fsync (Sync::None): it describes processes,
  // which a power loss ends anyway. So a file lost or emptied by one reads as
  // a container that exited.
  auto text = read_file_if_exists(dir(id) + "/state.json");
  Json j = text ? Json::parse(*text, nullptr, false) : Json();
  if (!text || j.is_discarded() || !j.is_object()) {
    if (!is_dir(dir(id))) throw Error(fmt::format("no such container {}", id.substr(0, 12)), Errc::NotFound);
    ContainerState lost;
    lost.status = ContainerStatus::Exited;
    lost.exit_code = 255;
    lost.error = "state.json was lost (power failure?)";
    return lost;
  }
  ContainerState s = container_state_from_json(j);
  bool live = s.status == ContainerStatus::Running || s.status == ContainerStatus::Paused ||
              s.status == ContainerStatus::Stopping;
  if (live) {
    bool rebooted = !s.boot_id.empty() && s.boot_id != current_boot_id();
    bool container_gone = s.pid <= 0 || process_start_time(s.pid) != s.pid_start;
    bool monitor_gone = s.monitor_pid <= 0 || process_start_time(s.monitor_pid) != s.monitor_start;
    // The monitor records the exit itself; if it is gone too, nobody will.
    if (rebooted || (container_gone && monitor_gone)) {
      s.status = ContainerStatus::Exited;
      if (s.finished_at == 0) s.finished_at = s.started_at;
      if (s.exit_code == 0) s.exit_code = 137;
      s.pid = 0;
    }
  }
  return s;
}

void ContainerStore::save_state(const std::string& id, const ContainerState& s) {
  write_file_atomic(dir(id) + "/state.json", to_json(s).dump(), 0600, Sync::None);
}

namespace {
constexpr off_t kStateReserve = 64 * 1024;
}

void ContainerStore::reserve_state_space(const std::string& id) {
  std::string path = dir(id) + "/state.reserve";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    log::debug("container {}: no state reserve: {}", id.substr(0, 12), std::strerror(errno));
    return;
  }
  UniqueFd guard(fd);
  // Real blocks, not a sparse file: freeing them must give space back.
  int err = ::posix_fallocate(fd, 0, kStateReserve);
  if (err != 0) {
    log::debug("container {}: no state reserve: {}", id.substr(0, 12), std::strerror(err));
    ::unlink(path.c_str());
  }
}

void ContainerStore::save_exit_state(const std::string& id, const ContainerState& s) {
  try {
    save_state(id, s);
  } catch (const Error& e) {
    std::string reserve = dir(id) + "/state.reserve";
    if ((e.sys_errno() != ENOSPC && e.sys_errno() != EDQUOT) || ::unlink(reserve.c_str()) != 0) throw;
    log::debug("container {}: disk full; writing state.json in the reserved space", id.substr(0, 12));
    save_state(id, s);
  }
}

void ContainerStore::save_config(const ContainerConfig& c) {
  write_file_atomic(dir(c.id) + "/config.json", to_json(c).dump(), 0600);
}

FileLock ContainerStore::lock(const std::string& id) { return FileLock::acquire(dir(id) + "/lock"); }

void ContainerStore::rename(const std::string& id, const std::string& new_name) {
  ContainerConfig c = config(id);
  if (!valid_name(new_name))
    throw Error(fmt::format("invalid container name \"{}\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", new_name),
                Errc::Invalid);
  UniqueFd name_lock = reserve_name(root_ + "/names", new_name, id, root_, true);
  if (!name_lock)
    throw Error(fmt::format("the container name \"{}\" is already in use", new_name), Errc::Exists);
  std::string old = c.name;
  c.name = new_name;
  save_config(c);
  ContainerState st = state(id);
  st.summary = config_summary(c);
  save_state(id, st);
  release_name(root_ + "/names/" + old, id);
}

bool ContainerStore::reclaim_name(const std::string& name) {
  if (!valid_name(name)) return false;
  std::string path = root_ + "/names/" + name;
  if (!path_exists(path)) return false;
  return name_state(path, root_, true) == NameState::Free;
}

std::vector<std::string> ContainerStore::dangling_names() const {
  std::vector<std::string> out;
  std::string dir = root_ + "/names";
  if (!is_dir(dir)) return out;
  for (const auto& n : list_dir(dir))
    if (name_state(dir + "/" + n, root_, false) == NameState::Dangling) out.push_back(n);
  std::sort(out.begin(), out.end());
  return out;
}

void ContainerStore::remove(const std::string& id) { Store::Staging trash = detach(id); }

Store::Staging ContainerStore::detach(const std::string& id) {
  ContainerConfig c;
  try {
    c = config(id);
  } catch (const Error& e) {
    if (!is_dir(dir(id))) throw;
    log::warn("container {}: {}; removing it anyway", id.substr(0, 12), e.what());
  }
  // Move into the staging area first: a crash mid-removal leaves trash that
  // the next writer removes, never a half container.
  Store::Staging trash = store_.staging("rm-ctr");
  if (::rename(dir(id).c_str(), (trash.path() + "/c").c_str()) != 0)
    throw sys_error("remove container " + id.substr(0, 12));
  if (!c.name.empty()) release_name(root_ + "/names/" + c.name, id);
  std::string rd = run_dir(id);
  if (is_dir(rd)) remove_all(rd);
  return trash;
}

}  // namespace den
