// The pod store (den/pod.h): records, names, locks.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "den/error.h"
#include "den/fs.h"
#include "den/hash.h"
#include "den/log.h"
#include "den/pod.h"
#include "den/reference.h"
#include "den/strings.h"
#include "den/timefmt.h"

namespace den {

bool PodRecord::shares(const std::string& ns) const {
  return !infra_id.empty() && std::find(shared.begin(), shared.end(), ns) != shared.end();
}

Json to_json(const PodRecord& p) {
  return {{"id", p.id},
          {"name", p.name},
          {"created", p.created},
          {"hostname", p.hostname},
          {"labels", p.labels},
          {"infra_id", p.infra_id},
          {"shared", p.shared},
          {"exit_policy", p.exit_policy},
          {"infra_conmon_pidfile", p.infra_conmon_pidfile},
          {"create_command", p.create_command}};
}

PodRecord pod_record_from_json(const Json& j) {
  PodRecord p;
  p.id = j.value("id", "");
  p.name = j.value("name", "");
  p.created = j.value("created", int64_t{0});
  p.hostname = j.value("hostname", "");
  p.labels = j.value("labels", std::map<std::string, std::string>{});
  p.infra_id = j.value("infra_id", "");
  p.shared = j.value("shared", std::vector<std::string>{});
  p.exit_policy = j.value("exit_policy", "continue");
  p.infra_conmon_pidfile = j.value("infra_conmon_pidfile", "");
  p.create_command = j.value("create_command", std::vector<std::string>{});
  return p;
}

bool valid_pod_name(const std::string& n) {
  if (n.empty() || n.size() > 128) return false;
  if (!std::isalnum(static_cast<unsigned char>(n[0]))) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

std::string pod_status(const std::vector<ContainerStatus>& states) {
  if (states.empty()) return "Created";
  size_t running = 0, paused = 0, stopped = 0, created = 0;
  for (ContainerStatus s : states) {
    switch (s) {
      case ContainerStatus::Running:
      case ContainerStatus::Stopping: running++; break;
      case ContainerStatus::Paused: paused++; break;
      case ContainerStatus::Exited: stopped++; break;
      default: created++; break;
    }
  }
  const size_t n = states.size();
  if (running > 0) return running == n ? "Running" : "Degraded";
  if (paused == n) return "Paused";
  if (stopped == n) return "Exited";
  if (stopped > 0) return "Stopped";
  return "Created";
}

PodStore::PodStore(Store& store) : store_(store), root_(store.root() + "/pods") {}

std::string PodStore::dir(const std::string& id) const { return root_ + "/" + id; }

namespace {

const char* kNameRule = "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed";

// O_EXCL name file; a name whose pod never appeared (den killed between the
// two steps) is reclaimed once it is clearly stale.
bool reserve_pod_name(const std::string& root, const std::string& name, const std::string& id) {
  std::string path = root + "/names/" + name;
  for (int attempt = 0; attempt < 2; attempt++) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      UniqueFd g(fd);
      write_all(fd, id);
      ::fsync(fd);
      return true;
    }
    if (errno != EEXIST) throw sys_error("reserve pod name " + name);
    std::string owner = trim(read_file_if_exists(path).value_or(""));
    struct stat st;
    bool stale = (owner.empty() || !is_dir(root + "/" + owner)) && ::stat(path.c_str(), &st) == 0 &&
                 st.st_mtime + 30 < ::time(nullptr);
    if (!stale) return false;
    ::unlink(path.c_str());
  }
  return false;
}

}  // namespace

PodRecord PodStore::create(PodRecord p) {
  store_.prepare_for_write();
  mkdirs(root_ + "/names", 0700);
  if (p.id.empty()) p.id = random_hex(64);
  if (p.created == 0) p.created = now_nanos();
  if (!p.name.empty()) {
    if (!valid_pod_name(p.name))
      throw Error(fmt::format("invalid pod name \"{}\": {}", p.name, kNameRule), Errc::Invalid);
    if (!reserve_pod_name(root_, p.name, p.id)) {
      std::string other = trim(read_file_if_exists(root_ + "/names/" + p.name).value_or(""));
      throw Error(fmt::format("the pod name \"{}\" is already in use by pod {}: remove that pod (den pod rm {}) or "
                              "use --replace",
                              p.name, other.substr(0, 12), p.name),
                  Errc::Exists);
    }
  } else {
    for (int i = 0;; i++) {
      p.name = random_container_name();
      if (i > 5) p.name += "_" + random_hex(4);
      if (reserve_pod_name(root_, p.name, p.id)) break;
    }
  }
  try {
    Store::Staging st = store_.staging("pod");
    write_file_atomic(st.path() + "/pod.json", to_json(p).dump(), 0600);
    fsync_dir(st.path());
    if (::rename(st.path().c_str(), dir(p.id).c_str()) != 0) throw sys_error("create pod directory");
    fsync_dir(root_);
  } catch (...) {
    ::unlink((root_ + "/names/" + p.name).c_str());
    throw;
  }
  return p;
}

void PodStore::save(const PodRecord& p) { write_file_atomic(dir(p.id) + "/pod.json", to_json(p).dump(), 0600); }

std::vector<std::string> PodStore::list_ids() const {
  std::vector<std::string> out;
  if (!is_dir(root_)) return out;
  for (auto& n : list_dir(root_))
    if (n.size() == 64 && is_hex(n)) out.push_back(n);
  return out;
}

std::vector<PodRecord> PodStore::list() const {
  std::vector<PodRecord> out;
  for (const auto& id : list_ids()) {
    try {
      out.push_back(get(id));
    } catch (const std::exception& e) {
      log::debug("skipping pod {}: {}", id.substr(0, 12), e.what());
    }
  }
  return out;
}

std::optional<std::string> PodStore::try_resolve(const std::string& arg) const {
  if (arg.empty()) return std::nullopt;
  if (arg.find('/') == std::string::npos) {
    if (auto id = read_file_if_exists(root_ + "/names/" + arg)) {
      std::string i = trim(*id);
      if (!i.empty() && is_dir(dir(i))) return i;
    }
  }
  if (looks_like_id(arg)) {
    std::optional<std::string> found;
    for (const auto& id : list_ids()) {
      if (id.compare(0, arg.size(), arg) != 0) continue;
      if (found) throw Error(fmt::format("pod ID prefix \"{}\" is ambiguous: give more characters", arg), Errc::Invalid);
      found = id;
    }
    return found;
  }
  return std::nullopt;
}

std::string PodStore::resolve(const std::string& arg) const {
  if (auto id = try_resolve(arg)) return *id;
  throw Error(fmt::format("no such pod: {}", arg), Errc::NotFound);
}

PodRecord PodStore::get(const std::string& id) const {
  auto text = read_file_if_exists(dir(id) + "/pod.json");
  if (!text) throw Error(fmt::format("no such pod: {}", id.substr(0, 12)), Errc::NotFound);
  Json j = Json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw Error(fmt::format("pod {}: pod.json is corrupt", id.substr(0, 12)), Errc::Corrupt);
  PodRecord p = pod_record_from_json(j);
  p.id = id;
  return p;
}

FileLock PodStore::lock(const std::string& id) { return FileLock::acquire(dir(id) + "/lock"); }

void PodStore::remove(const std::string& id) {
  std::string name;
  try {
    name = get(id).name;
  } catch (const Error& e) {
    log::warn("pod {}: {}; removing it anyway", id.substr(0, 12), e.what());
  }
  Store::Staging trash = store_.staging("rm-pod");
  if (::rename(dir(id).c_str(), (trash.path() + "/p").c_str()) != 0) throw sys_error("remove pod " + id.substr(0, 12));
  std::string names = root_ + "/names/" + name;
  if (auto owner = read_file_if_exists(names); !name.empty() && owner && trim(*owner) == id) ::unlink(names.c_str());
}

}  // namespace den
