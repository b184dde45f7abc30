// Named and anonymous volumes (docker's "local" driver):
//
//   GRAPHROOT/volumes/<name>/volume.json   metadata, written atomically
//   GRAPHROOT/volumes/<name>/_data/        the contents (the Mountpoint)
//   GRAPHROOT/volumes/<name>.lock          per-volume flock
//
// A volume directory is built in the staging area and renamed into place, so
// it is complete or absent; removal renames it back into the staging area
// before deleting (inside den's user namespace: the files belong to
// subordinate ids). _data belongs to the user, i.e. to root in the container.
// Whether a volume is in use is derived from the containers' configs (their
// mounts of type "volume"), never stored.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "den/container.h"
#include "den/json.h"
#include "den/lock.h"
#include "den/store.h"

namespace den {

struct Volume {
  std::string name;
  std::string driver = "local";
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> options;  // -o type=tmpfs, o=uid=...
  int64_t created = 0;                          // ns since epoch
  bool anonymous = false;
};

Json to_json(const Volume& v);
Volume volume_from_json(const Json& j);

// docker's rule for volume names: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (at least two
// characters). Throws Errc::Invalid with the rule.
void check_volume_name(const std::string& name);

class VolumeStore {
 public:
  explicit VolumeStore(Store& store);

  std::string dir(const std::string& name) const;       // GRAPHROOT/volumes/<name>
  std::string data_dir(const std::string& name) const;  // .../_data
  FileLock lock(const std::string& name);

  // Creates the volume; an empty name makes an anonymous one (64 hex).
  // Throws Errc::Exists when it exists (unless exist_ok: then returns it),
  // Errc::Unsupported for a driver other than local or unknown options.
  Volume create(Volume v, bool exist_ok = false);
  std::optional<Volume> find(const std::string& name) const;
  // Throws Errc::NotFound ("no such volume: X").
  Volume get(const std::string& name) const;
  std::vector<Volume> list() const;
  // Names of the containers whose configs mount the volume.
  std::vector<std::string> users(const std::string& name) const;
  // Removes the volume. Refused with Errc::InUse naming the container(s)
  // unless force and no user runs (force removes the stopped users' claim by
  // docker's rule: their mount simply goes missing).
  void remove(const std::string& name, bool force = false);

  Store& store() { return store_; }

 private:
  Store& store_;
  std::string root_;
};

// What a container mounts for a volume: its _data directory (bind), or per
// its options a tmpfs (fstype "tmpfs", data the o= options) or a host
// directory (o=bind, device=). Throws Errc::NotFound when the volume is gone.
struct VolumeSource {
  std::string path;
  std::string fstype;  // "" for a bind
  std::string data;
};
VolumeSource volume_source(const std::string& graphroot, const std::string& name);

// Removes the container's anonymous volumes that no other container uses
// (rm -v, --rm). Caller is in den's user namespace; failures are warnings.
void remove_anonymous_volumes(VolumeStore& vs, const ContainerConfig& c);

// The volumes a container config mounts (type "volume"), in order.
std::vector<std::string> volumes_of(const ContainerConfig& c);

}  // namespace den
