#include "den/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "den/error.h"
#include "den/fs.h"
#include "den/hash.h"
#include "den/layer_tar.h"
#include "den/log.h"
#include "den/reference.h"
#include "den/timefmt.h"

namespace den {

std::vector<std::string> chain_ids(const std::vector<std::string>& diff_ids) {
  std::vector<std::string> out;
  for (const auto& d : diff_ids) {
    if (out.empty())
      out.push_back(d);
    else
      out.push_back(sha256_digest(out.back() + " " + d));
  }
  return out;
}

Json to_json(const ImageRecord& r) {
  Json layers = Json::array();
  for (const auto& l : r.layers)
    layers.push_back({{"diff_id", l.diff_id},
                      {"blob", l.blob_digest},
                      {"media_type", l.media_type},
                      {"blob_size", l.blob_size},
                      {"size", l.size}});
  return {{"id", r.id},
          {"names", r.names},
          {"digests", r.digests},
          {"manifest", r.manifest_digest},
          {"manifest_media_type", r.manifest_media_type},
          {"layers", layers},
          {"created", r.created},
          {"added", r.added},
          {"size", r.size}};
}

ImageRecord image_record_from_json(const Json& j) {
  ImageRecord r;
  r.id = j.at("id").get<std::string>();
  r.names = j.value("names", std::vector<std::string>{});
  r.digests = j.value("digests", std::vector<std::string>{});
  r.manifest_digest = j.value("manifest", "");
  r.manifest_media_type = j.value("manifest_media_type", "");
  for (const auto& l : j.value("layers", Json::array())) {
    LayerDescriptor d;
    d.diff_id = l.value("diff_id", "");
    d.blob_digest = l.value("blob", "");
    d.media_type = l.value("media_type", "");
    d.blob_size = l.value("blob_size", uint64_t{0});
    d.size = l.value("size", uint64_t{0});
    r.layers.push_back(std::move(d));
  }
  r.created = j.value("created", int64_t{0});
  r.added = j.value("added", int64_t{0});
  r.size = j.value("size", uint64_t{0});
  return r;
}

Store::Store(const Config& cfg) : cfg_(cfg), root_(cfg.graphroot) {}

std::string Store::blob_path(const std::string& digest) const {
  if (!is_sha256_digest(digest)) throw Error(fmt::format("invalid digest \"{}\"", digest), Errc::Invalid);
  return root_ + "/blobs/sha256/" + digest.substr(7);
}
std::string Store::layer_dir(const std::string& chain_id) const { return root_ + "/layers/" + digest_hex(chain_id); }
std::string Store::layer_diff(const std::string& chain_id) const { return layer_dir(chain_id) + "/diff"; }
std::string Store::partial_path(const std::string& digest) const { return root_ + "/partial/" + digest_hex(digest); }

void Store::prepare_for_write() {
  if (prepared_) return;
  log::Phase p("store: prepare");
  for (const char* d : {"", "/blobs/sha256", "/layers", "/locks", "/tmp", "/partial"}) mkdirs(root_ + d, 0700);
  clean_staging();
  prepared_ = true;
}

void Store::clean_staging() {
  const std::string tmp = root_ + "/tmp";
  for (const std::string& name : list_dir(tmp)) {
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".lock") == 0) {
      std::string entry = tmp + "/" + name.substr(0, name.size() - 5);
      auto lock = FileLock::try_acquire(tmp + "/" + name);
      if (!lock) continue;  // its owner is alive
      log::debug("store: removing leftover staging {}", entry);
      try {
        remove_all(entry);
        ::unlink((tmp + "/" + name).c_str());
      } catch (const Error& e) {
        // Files of subordinate ids can only be removed inside den's user
        // namespace; a later writer that runs there will do it.
        log::debug("store: leaving {} for now: {}", entry, e.what());
      }
      continue;
    }
    // A staging entry without a lock file: its creator died between mkdir
    // and lock creation is impossible (lock comes first), so this is a
    // temp file of write_file_atomic or similar; remove it if old.
    if (!path_exists(tmp + "/" + name + ".lock")) {
      struct stat st;
      if (::lstat((tmp + "/" + name).c_str(), &st) == 0 && st.st_mtime + 60 < ::time(nullptr)) remove_all(tmp + "/" + name);
    }
  }
}

Store::Staging::~Staging() {
  if (path_.empty()) return;
  try {
    remove_all(path_);
  } catch (const Error& e) {
    log::warn("removing {}: {}", path_, e.what());
  }
  ::unlink((path_ + ".lock").c_str());
}

Store::Staging Store::staging(std::string_view what) {
  prepare_for_write();
  std::string path = fmt::format("{}/tmp/{}-{}", root_, what, random_hex(12));
  FileLock lock = FileLock::acquire(path + ".lock");
  if (::mkdir(path.c_str(), 0700) != 0) throw sys_error(fmt::format("mkdir {}", path));
  return Staging(path, std::move(lock));
}

FileLock Store::hold_off_gc() {
  prepare_for_write();
  return FileLock::acquire(root_ + "/gc.lock", FileLock::Mode::Shared); }

bool Store::has_blob(const std::string& digest) const { return path_exists(blob_path(digest)); }

std::string Store::read_blob(const std::string& digest) const {
  try {
    return read_file(blob_path(digest));
  } catch (Error& e) {
    if (e.code() == Errc::NotFound)
      throw Error(fmt::format("blob {} is missing from the store {}: remove the image and load it again", digest, root_),
                  Errc::Corrupt);
    throw;
  }
}

void Store::commit_blob_file(const std::string& staged_path, const std::string& digest) {
  std::string dst = blob_path(digest);
  if (path_exists(dst)) return;
  // No fsync: the rename makes a verified blob appear whole to every later
  // call, including after a killed den. Like the layers extracted from it
  // (and like podman's and docker's stores), its bytes are not forced to the
  // disk: that doubled the time of a pull here. The metadata that names it
  // (images.json) is fsynced.
  if (::rename(staged_path.c_str(), dst.c_str()) != 0) throw sys_error(fmt::format("store blob {}", digest));
}

std::string Store::put_blob(std::string_view data) {
  std::string digest = sha256_digest(data);
  std::string dst = blob_path(digest);
  if (!path_exists(dst)) write_file_atomic(dst, data, 0644);
  return digest;
}

std::optional<LayerRecord> Store::layer(const std::string& chain_id) const {
  auto text = read_file_if_exists(layer_dir(chain_id) + "/layer.json");
  if (!text) return std::nullopt;
  Json j = Json::parse(*text, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  LayerRecord r;
  r.chain_id = j.value("chain_id", "");
  r.diff_id = j.value("diff_id", "");
  r.parent = j.value("parent", "");
  r.size = j.value("size", uint64_t{0});
  return r;
}

LayerRecord Store::ensure_layer(const std::string& parent_chain_id, const LayerDescriptor& d) {
  return ensure_layer_with(parent_chain_id, d, -1, 0);
}

LayerRecord Store::ensure_layer_streamed(const std::string& parent_chain_id, const LayerDescriptor& d, int stream_fd,
                                         int compression) {
  return ensure_layer_with(parent_chain_id, d, stream_fd, compression);
}

LayerRecord Store::ensure_layer_with(const std::string& parent_chain_id, const LayerDescriptor& d, int stream_fd,
                                     int compression) {
  // A stream is read to its end whatever happens, so its writer never blocks.
  auto drain = [&] {
    if (stream_fd < 0) return;
    char buf[65536];
    try {
      while (read_some(stream_fd, buf, sizeof buf) > 0) {
      }
    } catch (const Error&) {
    }
  };
  std::string chain_id = parent_chain_id.empty() ? d.diff_id : sha256_digest(parent_chain_id + " " + d.diff_id);
  if (auto l = layer(chain_id)) {
    drain();
    return *l;
  }
  FileLock lock = FileLock::acquire(root_ + "/locks/layer-" + digest_hex(chain_id) + ".lock");
  if (auto l = layer(chain_id)) {  // another den extracted it meanwhile
    drain();
    return *l;
  }
  log::Phase phase("store: extract layer " + chain_id.substr(0, 19));
  Staging st = staging("layer");
  std::string diff = st.path() + "/diff";
  mkdirs(diff, 0755);
  ExtractOptions opts;
  opts.rootless = cfg_.rootless;
  opts.warn = [](const std::string& w) { log::warn("{}", w); };
  ExtractResult res;
  try {
    res = stream_fd >= 0 ? extract_layer_stream(stream_fd, static_cast<Compression>(compression), diff, opts)
                         : extract_layer(blob_path(d.blob_digest), diff, opts);
    drain();  // bytes after the compressed stream's end
  } catch (Error& e) {
    drain();
    throw e.context(fmt::format("extract layer {}", d.blob_digest));
  }
  if (!d.diff_id.empty() && res.diff_id != d.diff_id)
    throw Error(fmt::format("layer {} does not match the image: its content has diff ID {}, the image config says {}",
                            d.blob_digest, res.diff_id, d.diff_id),
                Errc::Corrupt);
  LayerRecord rec{chain_id, res.diff_id, parent_chain_id, res.uncompressed_size};
  Json j = {{"chain_id", rec.chain_id}, {"diff_id", rec.diff_id}, {"parent", rec.parent}, {"size", rec.size}};
  write_file_atomic(st.path() + "/layer.json", j.dump());
  // The layer dir appears complete or not at all.
  std::string dst = layer_dir(chain_id);
  if (::rename(st.path().c_str(), dst.c_str()) != 0) {
    if (errno != ENOTEMPTY && errno != EEXIST) throw sys_error(fmt::format("store layer {}", chain_id));
  } else {
    fsync_dir(root_ + "/layers");
  }
  return rec;
}

std::vector<ImageRecord> Store::images() const {
  auto text = read_file_if_exists(root_ + "/images.json");
  std::vector<ImageRecord> out;
  if (!text) return out;
  Json j = Json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.contains("images"))
    throw Error(fmt::format("{}/images.json is corrupt: move it away to start with an empty image list", root_),
                Errc::Corrupt);
  for (const auto& e : j["images"]) out.push_back(image_record_from_json(e));
  return out;
}

void Store::write_images(const std::vector<ImageRecord>& imgs) {
  prepare_for_write();
  Json arr = Json::array();
  for (const auto& r : imgs) arr.push_back(to_json(r));
  Json doc = {{"version", 1}, {"images", arr}};
  write_file_atomic(root_ + "/images.json", doc.dump(), 0600);
}

namespace {

// Does canonical image name `name` match the user's `arg` reference?
bool name_matches(const std::string& name, const Reference& want, bool short_name) {
  auto have = try_parse_reference(name);
  if (!have) return false;
  if (want.digest.empty() && have->tag != (want.tag.empty() ? std::string(kDefaultTag) : want.tag)) return false;
  if (!want.digest.empty()) return false;  // digests are matched against ImageRecord::digests
  if (have->name() == want.name()) return true;
  // A short name ("bb", "tz/bb") also matches an image from any registry
  // whose path ends in it, as podman does for local lookups.
  if (short_name) {
    std::string p = want.path;
    if (p.rfind(kOfficialRepoPrefix, 0) == 0 && want.path.find('/') == want.path.rfind('/')) p = p.substr(8);
    const std::string& hp = have->path;
    return hp == p || (hp.size() > p.size() && hp.compare(hp.size() - p.size() - 1, p.size() + 1, "/" + p) == 0);
  }
  return false;
}

}  // namespace

std::optional<ImageRecord> Store::find_image(const std::string& arg) const {
  std::vector<ImageRecord> imgs = images();
  std::string id_arg = arg;
  if (id_arg.rfind("sha256:", 0) == 0) id_arg = id_arg.substr(7);
  // Full names first, then IDs (docker prefers a name over an ID prefix).
  if (auto ref = try_parse_reference(arg)) {
    bool short_name = is_short_name(arg);
    for (const auto& r : imgs) {
      if (!ref->digest.empty()) {
        for (const auto& d : r.digests)
          if (auto dr = try_parse_reference(d); dr && dr->digest == ref->digest && dr->name() == ref->name()) return r;
        if (r.manifest_digest == ref->digest && !short_name) {
          for (const auto& n : r.names)
            if (auto nr = try_parse_reference(n); nr && nr->name() == ref->name()) return r;
        }
        continue;
      }
      for (const auto& n : r.names)
        if (n == ref->with_default_tag().string()) return r;
    }
    for (const auto& r : imgs)
      for (const auto& n : r.names)
        if (name_matches(n, *ref, short_name)) return r;
  }
  if (looks_like_id(id_arg)) {
    const ImageRecord* found = nullptr;
    for (const auto& r : imgs) {
      if (r.id.compare(0, id_arg.size(), id_arg) == 0) {
        if (found && found->id != r.id)
          throw Error(fmt::format("image ID prefix \"{}\" is ambiguous: give more characters", arg), Errc::Invalid);
        found = &r;
      }
    }
    if (found) return *found;
  }
  return std::nullopt;
}

ImageRecord Store::lookup_image(const std::string& arg) const {
  if (auto r = find_image(arg)) return *r;
  if (!looks_like_id(arg) && arg.rfind("sha256:", 0) != 0) parse_reference(arg);  // throws on bad syntax
  throw Error(fmt::format("No such image: {}", arg), Errc::NotFound);
}

namespace {
void take_name(std::vector<ImageRecord>& imgs, const std::string& name, const std::string& except_id) {
  for (auto& r : imgs) {
    if (r.id == except_id) continue;
    r.names.erase(std::remove(r.names.begin(), r.names.end(), name), r.names.end());
  }
}
}  // namespace

void Store::add_image(ImageRecord rec) {
  if (rec.added == 0) rec.added = now_nanos();
  update_images([&](std::vector<ImageRecord>& imgs) {
    for (const auto& n : rec.names) take_name(imgs, n, rec.id);
    for (auto& r : imgs) {
      if (r.id != rec.id) continue;
      for (const auto& n : rec.names)
        if (std::find(r.names.begin(), r.names.end(), n) == r.names.end()) r.names.push_back(n);
      for (const auto& d : rec.digests)
        if (std::find(r.digests.begin(), r.digests.end(), d) == r.digests.end()) r.digests.push_back(d);
      return;
    }
    imgs.push_back(std::move(rec));
  });
}

void Store::tag_image(const std::string& id, const std::string& name) {
  update_images([&](std::vector<ImageRecord>& imgs) {
    bool found = false;
    for (auto& r : imgs) {
      if (r.id != id) continue;
      found = true;
      if (std::find(r.names.begin(), r.names.end(), name) == r.names.end()) r.names.push_back(name);
    }
    if (!found) throw Error(fmt::format("No such image: {}", id), Errc::NotFound);
    take_name(imgs, name, id);
  });
}

Store::RemoveResult Store::remove_image(const std::string& arg, bool force) {
  RemoveResult res;
  update_images([&](std::vector<ImageRecord>& imgs) {
    // Resolve against the list we hold the lock for.
    ImageRecord target = lookup_image(arg);
    auto it = std::find_if(imgs.begin(), imgs.end(), [&](const ImageRecord& r) { return r.id == target.id; });
    if (it == imgs.end()) throw Error(fmt::format("No such image: {}", arg), Errc::NotFound);
    res.id = it->id;
    std::string id_arg = arg.rfind("sha256:", 0) == 0 ? arg.substr(7) : arg;
    bool by_id = looks_like_id(id_arg) && it->id.compare(0, id_arg.size(), id_arg) == 0 &&
                 std::none_of(it->names.begin(), it->names.end(), [&](const std::string& n) {
                   auto r = try_parse_reference(arg);
                   return r && (n == r->with_default_tag().string());
                 });
    if (!by_id && it->names.size() > 1) {
      // Untag only the name the user gave.
      auto ref = parse_reference(arg).with_default_tag();
      std::string name = ref.string();
      auto pos = std::find(it->names.begin(), it->names.end(), name);
      if (pos == it->names.end()) {
        for (auto p = it->names.begin(); p != it->names.end(); ++p)
          if (name_matches(*p, ref, is_short_name(arg))) {
            pos = p;
            break;
          }
      }
      if (pos != it->names.end()) {
        res.untagged.push_back(*pos);
        it->names.erase(pos);
        return;
      }
    }
    if (by_id && it->names.size() > 1 && !force)
      throw Error(fmt::format("conflict: unable to delete {} (must be forced) - image is referenced in multiple "
                              "repositories",
                              it->id.substr(0, 12)),
                  Errc::InUse);
    res.untagged = it->names;
    res.deleted = true;
    imgs.erase(it);
  });
  return res;
}

void Store::referenced(std::set<std::string>* blobs, std::set<std::string>* layers) const {
  for (const auto& r : images()) {
    if (!r.manifest_digest.empty()) blobs->insert(digest_hex(r.manifest_digest));
    blobs->insert(r.id);
    std::vector<std::string> diff_ids;
    for (const auto& d : r.layers) {
      blobs->insert(digest_hex(d.blob_digest));
      diff_ids.push_back(d.diff_id);
    }
    for (const auto& c : chain_ids(diff_ids)) layers->insert(digest_hex(c));
  }
}

std::vector<Store::Leftover> Store::unreferenced(bool* busy) const {
  std::vector<Leftover> out;
  *busy = false;
  if (!is_dir(root_ + "/blobs")) return out;
  // Loaders (load, pull, import, commit) hold gc.lock shared while they add
  // what no image references yet: theirs are no leftovers.
  auto gc = FileLock::try_acquire(root_ + "/gc.lock", FileLock::Mode::Exclusive);
  if (!gc) {
    *busy = true;
    return out;
  }
  std::set<std::string> blobs, layers;
  referenced(&blobs, &layers);
  auto size_of = [](const std::string& p) {
    struct stat st;
    return ::lstat(p.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : uint64_t{0};
  };
  for (const auto& name : list_dir(root_ + "/blobs/sha256")) {
    if (blobs.count(name)) continue;
    std::string p = root_ + "/blobs/sha256/" + name;
    bool blob = name.size() == 64 && is_hex(name);
    out.push_back({p, blob ? "unreferenced blob" : "temporary blob file", size_of(p)});
  }
  for (const auto& name : list_dir(root_ + "/layers")) {
    if (layers.count(name)) continue;
    std::string p = root_ + "/layers/" + name;
    out.push_back({p, "unreferenced layer", dir_size(p)});
  }
  for (const auto& name : list_dir(root_ + "/partial")) {
    std::string p = root_ + "/partial/" + name;
    out.push_back({p, "interrupted download", size_of(p)});
  }
  return out;
}

bool Store::garbage_collect(uint64_t* reclaimed) {
  prepare_for_write();
  auto gc = FileLock::try_acquire(root_ + "/gc.lock", FileLock::Mode::Exclusive);
  if (!gc) {
    log::debug("store: gc skipped, a writer is active");
    return false;
  }
  log::Phase phase("store: gc");
  FileLock l = FileLock::acquire(root_ + "/images.lock");
  std::set<std::string> blobs, layers;
  referenced(&blobs, &layers);
  uint64_t freed = 0;
  for (const auto& name : list_dir(root_ + "/layers")) {
    if (layers.count(name)) continue;
    // Move it out of the way first: a crash mid-removal leaves trash in tmp/
    // (cleaned by the next writer), never a half layer in layers/.
    Staging trash = staging("rm-layer");
    std::string src = root_ + "/layers/" + name;
    freed += dir_size(src);
    if (::rename(src.c_str(), (trash.path() + "/layer").c_str()) != 0)
      throw sys_error(fmt::format("remove layer {}", name));
    ::unlink((root_ + "/locks/layer-" + name + ".lock").c_str());
  }
  // Unreferenced blobs, and temporary files of a den killed while it wrote
  // one (put_blob's .tmp-*).
  for (const auto& name : list_dir(root_ + "/blobs/sha256")) {
    if (blobs.count(name)) continue;
    std::string p = root_ + "/blobs/sha256/" + name;
    struct stat st;
    if (::lstat(p.c_str(), &st) == 0) freed += static_cast<uint64_t>(st.st_size);
    ::unlink(p.c_str());
  }
  // Interrupted downloads: no pull runs (they hold gc.lock shared).
  for (const auto& name : list_dir(root_ + "/partial")) {
    std::string p = root_ + "/partial/" + name;
    struct stat st;
    if (::lstat(p.c_str(), &st) == 0) freed += static_cast<uint64_t>(st.st_size);
    ::unlink(p.c_str());
  }
  if (reclaimed) *reclaimed = freed;
  return true;
}

}  // namespace den
