// Volumes of docker's local driver: see den/volume.h for the layout.
#include "den/volume.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "den/error.h"
#include "den/events.h"
#include "den/fs.h"
#include "den/hash.h"
#include "den/log.h"
#include "den/strings.h"
#include "den/timefmt.h"

namespace den {

Json to_json(const Volume& v) {
  return {{"name", v.name},       {"driver", v.driver},   {"labels", v.labels},
          {"options", v.options}, {"created", v.created}, {"anonymous", v.anonymous}};
}

Volume volume_from_json(const Json& j) {
  Volume v;
  v.name = j.value("name", "");
  v.driver = j.value("driver", "local");
  if (j.contains("labels") && j["labels"].is_object()) v.labels = j["labels"].get<std::map<std::string, std::string>>();
  if (j.contains("options") && j["options"].is_object())
    v.options = j["options"].get<std::map<std::string, std::string>>();
  v.created = j.value("created", int64_t{0});
  v.anonymous = j.value("anonymous", false);
  return v;
}

void check_volume_name(const std::string& name) {
  auto ok_first = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  auto ok_rest = [&](char c) { return ok_first(c) || c == '_' || c == '.' || c == '-'; };
  if (name.size() < 2 || !ok_first(name[0]) || !std::all_of(name.begin() + 1, name.end(), ok_rest))
    throw Error(fmt::format("invalid volume name \"{}\": use at least two characters of [a-zA-Z0-9][a-zA-Z0-9_.-], "
                            "or an absolute path for a bind mount",
                            name),
                Errc::Invalid);
}

std::vector<std::string> volumes_of(const ContainerConfig& c) {
  std::vector<std::string> out;
  for (const auto& m : c.mounts)
    if (m.type == "volume") out.push_back(m.source);
  return out;
}

VolumeSource volume_source(const std::string& graphroot, const std::string& name) {
  std::string dir = graphroot + "/volumes/" + name;
  auto text = read_file_if_exists(dir + "/volume.json");
  if (!text) throw Error(fmt::format("no such volume: {} (it was removed; recreate it or remove the container)", name),
                         Errc::NotFound);
  Volume v = volume_from_json(Json::parse(*text, nullptr, false).is_object() ? Json::parse(*text) : Json::object());
  VolumeSource s{dir + "/_data", "", ""};
  auto opt = [&](const char* k) {
    auto it = v.options.find(k);
    return it == v.options.end() ? std::string() : it->second;
  };
  if (opt("type") == "tmpfs") {
    s = {"tmpfs", "tmpfs", opt("o")};
  } else if (!opt("device").empty()) {
    s.path = opt("device");
  }
  return s;
}

void remove_anonymous_volumes(VolumeStore& vs, const ContainerConfig& c) {
  for (const auto& m : c.mounts) {
    if (m.type != "volume" || !m.anonymous) continue;
    try {
      if (vs.users(m.source).empty()) vs.remove(m.source);
    } catch (const Error& e) {
      log::warn("removing anonymous volume {}: {}", m.source, e.what());
    }
  }
}

VolumeStore::VolumeStore(Store& store) : store_(store), root_(store.root() + "/volumes") {}

std::string VolumeStore::dir(const std::string& name) const { return root_ + "/" + name; }
std::string VolumeStore::data_dir(const std::string& name) const { return dir(name) + "/_data"; }

FileLock VolumeStore::lock(const std::string& name) {
  mkdirs(root_, 0700);
  return FileLock::acquire(root_ + "/" + name + ".lock");
}

namespace {

// The local driver's options: docker's type/device/o. den supports a tmpfs
// volume (type=tmpfs, o=size=..,mode=..) and a bind of an existing host
// directory (o=bind, device=/path); plain volumes take no options.
void check_options(const std::map<std::string, std::string>& opts) {
  for (const auto& [k, v] : opts)
    if (k != "type" && k != "device" && k != "o")
      throw Error(fmt::format("invalid volume option \"{}\": the local driver knows type, device and o", k),
                  Errc::Invalid);
  auto get = [&](const char* k) {
    auto it = opts.find(k);
    return it == opts.end() ? std::string() : it->second;
  };
  std::string type = get("type"), device = get("device"), o = get("o");
  if (opts.empty()) return;
  if (type == "tmpfs") return;
  bool bind = false;
  for (const auto& part : split(o, ','))
    if (part == "bind" || part == "rbind") bind = true;
  if ((type.empty() || type == "none") && bind) {
    if (device.empty() || device[0] != '/' || !is_dir(device))
      throw Error(fmt::format("invalid volume option device=\"{}\": a bind volume needs an existing absolute host "
                              "directory",
                              device),
                  Errc::Invalid);
    return;
  }
  throw Error(fmt::format("unsupported volume options (type=\"{}\" o=\"{}\"): den's local driver supports "
                          "type=tmpfs and o=bind,device=/path",
                          type, o),
              Errc::Unsupported);
}

}  // namespace

Volume VolumeStore::create(Volume v, bool exist_ok) {
  if (v.driver.empty()) v.driver = "local";
  if (v.driver != "local")
    throw Error(fmt::format("unknown volume driver \"{}\": den has the local driver only", v.driver),
                Errc::Unsupported);
  if (v.name.empty()) {
    v.name = random_hex(64);
    v.anonymous = true;
  }
  check_volume_name(v.name);
  check_options(v.options);
  if (v.anonymous) v.labels["com.docker.volume.anonymous"] = "";
  store_.prepare_for_write();
  mkdirs(root_, 0700);
  FileLock l = lock(v.name);
  if (auto old = find(v.name)) {
    if (exist_ok) return *old;
    throw Error(fmt::format("volume with name {} already exists", v.name), Errc::Exists);
  }
  v.created = now_nanos();
  // Built in the staging area and renamed into place: complete or absent.
  Store::Staging st = store_.staging("volume");
  mkdirs(st.path() + "/_data", 0755);
  write_file_atomic(st.path() + "/volume.json", to_json(v).dump(), 0600, Sync::Data);
  fsync_dir(st.path());
  if (::rename(st.path().c_str(), dir(v.name).c_str()) != 0) throw sys_error("create volume " + v.name);
  fsync_dir(root_);
  emit_event(store_.config(), {0, "volume", "create", v.name, {{"driver", v.driver}}});
  return v;
}

std::optional<Volume> VolumeStore::find(const std::string& name) const {
  if (name.empty() || name.find('/') != std::string::npos || name[0] == '.') return std::nullopt;
  auto text = read_file_if_exists(dir(name) + "/volume.json");
  if (!text) return std::nullopt;
  Json j = Json::parse(*text, nullptr, false);
  if (j.is_discarded()) throw Error(fmt::format("volume {}: volume.json is corrupt", name), Errc::Invalid);
  Volume v = volume_from_json(j);
  v.name = name;
  return v;
}

Volume VolumeStore::get(const std::string& name) const {
  auto v = find(name);
  if (!v) throw Error(fmt::format("no such volume: {}", name), Errc::NotFound);
  return *v;
}

std::vector<Volume> VolumeStore::list() const {
  std::vector<Volume> out;
  if (!is_dir(root_)) return out;
  for (const auto& n : list_dir(root_)) {
    if (n.size() > 5 && n.compare(n.size() - 5, 5, ".lock") == 0) continue;
    try {
      if (auto v = find(n)) out.push_back(*v);
    } catch (const Error& e) {
      log::warn("{}", e.what());
    }
  }
  std::sort(out.begin(), out.end(), [](const Volume& a, const Volume& b) { return a.name < b.name; });
  return out;
}

std::vector<std::string> VolumeStore::users(const std::string& name) const {
  ContainerStore cs(store_);
  std::vector<std::string> out;
  for (const auto& id : cs.list_ids()) {
    try {
      ContainerConfig c = cs.config(id);
      auto vols = volumes_of(c);
      if (std::find(vols.begin(), vols.end(), name) != vols.end()) out.push_back(c.name.empty() ? id : c.name);
    } catch (const Error&) {
      // Removed meanwhile.
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

void VolumeStore::remove(const std::string& name, bool force) {
  FileLock l = lock(name);
  get(name);
  std::vector<std::string> used = users(name);
  if (!used.empty()) {
    ContainerStore cs(store_);
    bool running = false;
    for (const auto& u : used) {
      ContainerState st = cs.state(cs.resolve(u));
      if (st.status == ContainerStatus::Running || st.status == ContainerStatus::Paused) running = true;
    }
    if (!force || running)
      throw Error(fmt::format("volume {} is in use by container {}: remove the container first{}", name,
                              join(used, ", "), running ? "" : " (or use rm -f)"),
                  Errc::InUse);
  }
  store_.prepare_for_write();
  Store::Staging trash = store_.staging("rm-volume");
  if (::rename(dir(name).c_str(), (trash.path() + "/v").c_str()) != 0) throw sys_error("remove volume " + name);
  emit_event(store_.config(), {0, "volume", "destroy", name, {{"driver", "local"}}});
  // The lock file stays: unlinking it would let a waiter lock a dead inode.
}

}  // namespace den
