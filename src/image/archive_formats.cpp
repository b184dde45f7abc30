#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "den/error.h"
#include "den/fs.h"
#include "den/hash.h"
#include "den/image.h"
#include "den/image_archive.h"
#include "den/layer_tar.h"
#include "den/log.h"
#include "den/reference.h"
#include "den/strings.h"
#include "den/timefmt.h"

namespace den {

std::string host_arch() {
  struct utsname u;
  ::uname(&u);
  std::string m = u.machine;
  if (m == "x86_64") return "amd64";
  if (m == "aarch64") return "arm64";
  if (m == "i686" || m == "i386") return "386";
  if (m.rfind("armv", 0) == 0) return "arm";
  return m;
}

namespace {

constexpr size_t kBuf = 128 * 1024;

// A file in the staging area that is hashed while it is written.
class BlobWriter {
 public:
  explicit BlobWriter(std::string path) : path_(std::move(path)), fd_(open_file(path_, O_WRONLY | O_CREAT | O_EXCL, 0644)) {}
  void write(const void* data, size_t n) {
    hash_.update(data, n);
    write_all(fd_.get(), std::string_view(static_cast<const char*>(data), n), "write to staging area");
    size_ += n;
  }
  // Closes the file; returns its digest.
  std::string finish() {
    fd_.reset();
    return hash_.digest();
  }
  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }

 private:
  std::string path_;
  UniqueFd fd_;
  Sha256 hash_;
  uint64_t size_ = 0;
};

struct StagedFile {
  std::string path;
  std::string digest;
  uint64_t size = 0;
};

StagedFile stage_fd(int fd, const std::string& path) {
  BlobWriter w(path);
  std::string buf(kBuf, '\0');
  for (;;) {
    size_t n = read_some(fd, buf.data(), buf.size());
    if (n == 0) break;
    w.write(buf.data(), n);
  }
  uint64_t size = w.size();
  return {path, w.finish(), size};
}

Json parse_json(const std::string& text, const std::string& what) {
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded()) throw Error(fmt::format("{} is not valid JSON", what), Errc::Invalid);
  return j;
}

[[noreturn]] void archive_fail(struct archive* a, const std::string& what) {
  int e = archive_errno(a);
  std::string msg = archive_error_string(a) ? archive_error_string(a) : "unknown error";
  if (e == ENOSPC || e == EIO || e == EDQUOT) throw Error(fmt::format("{}: {}", what, msg), Errc::Generic, e);
  throw Error(fmt::format("{}: {}", what, msg), Errc::Invalid);
}

}  // namespace

// Stores the blobs of one image's layers and extracts them, in parallel.
void extract_layers_parallel(Store& store, const std::vector<LayerDescriptor>& layers) {
  std::vector<std::string> diff_ids;
  for (const auto& l : layers) diff_ids.push_back(l.diff_id);
  std::vector<std::string> chains = chain_ids(diff_ids);
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::optional<Error> first_error;
  auto worker = [&] {
    for (;;) {
      size_t i = next++;
      if (i >= layers.size()) return;
      try {
        store.ensure_layer(i == 0 ? "" : chains[i - 1], layers[i]);
      } catch (const Error& e) {
        std::lock_guard<std::mutex> g(mu);
        if (!first_error) first_error = e;
        next = layers.size();
      }
    }
  };
  size_t n = std::min<size_t>(layers.size(), std::max(1u, std::thread::hardware_concurrency()));
  if (n <= 1) {
    worker();
  } else {
    std::vector<std::thread> threads;
    for (size_t i = 0; i < n; i++) threads.emplace_back(worker);
    for (auto& t : threads) t.join();
  }
  if (first_error) throw *first_error;
}

// Records a finished image: config and manifest blobs, layers, record.
ImageRecord commit_image(Store& store, const std::string& config_text, std::vector<LayerDescriptor> layers,
                         const std::string& manifest_text, std::vector<std::string> names,
                         std::vector<std::string> digests) {
  Json config = parse_json(config_text, "image config");
  validate_config(config);
  std::vector<std::string> diff_ids = config_diff_ids(config);
  if (diff_ids.size() != layers.size())
    throw Error(fmt::format("image config lists {} layers, the manifest {}", diff_ids.size(), layers.size()),
                Errc::Invalid);
  for (size_t i = 0; i < layers.size(); i++) layers[i].diff_id = diff_ids[i];
  extract_layers_parallel(store, layers);
  for (size_t i = 0; i < layers.size(); i++)
    if (auto l = store.layer(chain_ids(std::vector<std::string>(diff_ids.begin(), diff_ids.begin() + i + 1)).back()))
      layers[i].size = l->size;

  ImageRecord rec;
  rec.id = digest_hex(store.put_blob(config_text));
  std::string manifest = manifest_text;
  if (manifest.empty()) manifest = make_oci_manifest(rec.config_digest(), config_text.size(), layers).dump();
  rec.manifest_digest = store.put_blob(manifest);
  Json mj = parse_json(manifest, "manifest");
  rec.manifest_media_type = mj.value("mediaType", std::string(media::kOciManifest));
  rec.layers = layers;
  rec.names = std::move(names);
  rec.digests = std::move(digests);
  rec.created = config_created(config);
  for (const auto& l : layers) rec.size += l.size;
  store.add_image(rec);
  return rec;
}


ImageRecord import_rootfs(Store& store, int in_fd, const ImportOptions& opts) {
  log::Phase phase("import");
  // Check the changes before reading a possibly large input.
  Json cfg_config = Json::object();
  for (const auto& c : opts.changes) apply_change(cfg_config, c);

  FileLock gc = store.hold_off_gc();
  Store::Staging st = store.staging("import");
  StagedFile blob = stage_fd(in_fd, st.path() + "/layer");
  if (blob.size == 0) throw Error("the input is empty: give a tar archive of a root file system", Errc::Invalid);
  Compression comp = detect_compression_of_file(blob.path);
  ExtractResult diff;
  try {
    diff = compute_diff_id(blob.path);
  } catch (Error& e) {
    throw e.context("not a valid tar archive");
  }
  store.commit_blob_file(blob.path, blob.digest);

  std::string now = format_rfc3339_nano(now_nanos());
  Json config;
  config["architecture"] = host_arch();
  config["config"] = cfg_config;
  config["created"] = now;
  Json hist = {{"created", now}, {"created_by", "den import"}};
  if (!opts.message.empty()) {
    hist["comment"] = opts.message;
    config["comment"] = opts.message;
  }
  config["history"] = Json::array({hist});
  config["os"] = "linux";
  config["rootfs"] = {{"type", "layers"}, {"diff_ids", Json::array({diff.diff_id})}};

  LayerDescriptor d;
  d.blob_digest = blob.digest;
  d.blob_size = blob.size;
  d.media_type = oci_layer_media_type(comp);
  d.size = diff.uncompressed_size;
  std::vector<std::string> names;
  if (!opts.name.empty()) names.push_back(opts.name);
  return commit_image(store, config.dump(), {d}, "", names);
}

ImageRecord commit_layer(Store& store, const ImageRecord* base, const std::string& layer_path,
                         const std::string& layer_digest, uint64_t layer_size, const CommitOptions& opts) {
  log::Phase phase("commit");
  Json config = base ? load_image_config(store, *base) : Json::object();
  if (!config.is_object()) config = Json::object();
  Json cc = opts.config.is_object() ? opts.config : Json::object();
  for (const auto& c : opts.changes) apply_change(cc, c);

  std::string now = format_rfc3339_nano(now_nanos());
  if (!config.contains("architecture")) config["architecture"] = host_arch();
  if (!config.contains("os")) config["os"] = "linux";
  config["config"] = cc;
  config["created"] = now;
  if (!opts.container_id.empty()) config["container"] = opts.container_id;
  if (!opts.author.empty()) config["author"] = opts.author;
  else config.erase("author");
  if (!opts.message.empty()) config["comment"] = opts.message;
  else config.erase("comment");
  Json hist = {{"created", now}, {"created_by", opts.created_by}};
  if (!opts.author.empty()) hist["author"] = opts.author;
  if (!opts.message.empty()) hist["comment"] = opts.message;
  if (!config.contains("history") || !config["history"].is_array()) config["history"] = Json::array();
  config["history"].push_back(hist);
  std::vector<LayerDescriptor> layers = base ? base->layers : std::vector<LayerDescriptor>{};
  Json diff_ids = Json::array();
  for (const auto& l : layers) diff_ids.push_back(l.diff_id);
  diff_ids.push_back(layer_digest);
  config["rootfs"] = {{"type", "layers"}, {"diff_ids", diff_ids}};

  store.commit_blob_file(layer_path, layer_digest);
  LayerDescriptor d;
  d.diff_id = layer_digest;
  d.blob_digest = layer_digest;
  d.blob_size = layer_size;
  d.media_type = std::string(media::kOciLayer);
  d.size = layer_size;
  layers.push_back(d);
  std::vector<std::string> names;
  if (!opts.name.empty()) names.push_back(opts.name);
  return commit_image(store, config.dump(), layers, "", names);
}

namespace {

// What a streamed archive held: regular files staged by entry path, and
// links (symlinks and hard links) as entry path -> target entry path.
struct ArchiveContents {
  std::map<std::string, StagedFile> files;
  std::map<std::string, std::string> links;

  const StagedFile* find(std::string path) const {
    for (int hops = 0; hops < 16; hops++) {
      if (auto it = files.find(path); it != files.end()) return &it->second;
      auto l = links.find(path);
      if (l == links.end()) return nullptr;
      path = l->second;
    }
    return nullptr;
  }
  const StagedFile& need(const std::string& path, const std::string& what) const {
    auto p = sanitize_entry_path(path);
    const StagedFile* f = p ? find(*p) : nullptr;
    if (!f) throw Error(fmt::format("archive has no {} \"{}\"", what, path), Errc::Invalid);
    return *f;
  }
};

ArchiveContents read_archive(int fd, const std::string& staging) {
  log::Phase phase("load: read archive");
  ArchiveContents out;
  struct archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  archive_read_support_format_gnutar(a);
  struct Guard {
    struct archive* a;
    ~Guard() { archive_read_free(a); }
  } guard{a};
  if (archive_read_open_fd(a, fd, kBuf) != ARCHIVE_OK) archive_fail(a, "invalid archive");
  std::string buf(kBuf, '\0');
  int n = 0;
  for (;;) {
    struct archive_entry* e = nullptr;
    int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) break;
    if (r == ARCHIVE_WARN) log::debug("archive: {}", archive_error_string(a));
    else if (r != ARCHIVE_OK) archive_fail(a, "invalid archive");
    const char* raw = archive_entry_pathname(e);
    auto path = sanitize_entry_path(raw ? raw : "");
    if (!path) throw Error(fmt::format("invalid archive: unsafe entry name \"{}\"", raw ? raw : ""), Errc::Invalid);
    if (const char* hl = archive_entry_hardlink(e)) {
      auto target = sanitize_entry_path(hl);
      if (!target) throw Error(fmt::format("invalid archive: unsafe link target \"{}\"", hl), Errc::Invalid);
      out.links[*path] = *target;
      continue;
    }
    mode_t type = archive_entry_filetype(e);
    if (type == AE_IFLNK) {
      const char* t = archive_entry_symlink(e);
      std::string target = t ? t : "";
      std::string joined = target.size() && target[0] == '/' ? target : path_join(dirname_of("/" + *path), target);
      // Resolve "..": links in archives point at siblings ("../abc/layer.tar").
      std::vector<std::string> parts;
      for (const auto& c : split(joined, '/')) {
        if (c.empty() || c == ".") continue;
        if (c == "..") {
          if (!parts.empty()) parts.pop_back();
        } else {
          parts.push_back(c);
        }
      }
      out.links[*path] = join(parts, "/");
      continue;
    }
    if (type != AE_IFREG) continue;
    // Refused before a byte is staged (the bounded read refuses it again).
    if ((*path == "manifest.json" || *path == "index.json") && archive_entry_size_is_set(e) &&
        archive_entry_size(e) > static_cast<la_int64_t>(kMaxMetadataSize))
      throw Error(fmt::format("{} in the archive is larger than the limit of {}", *path, format_limit(kMaxMetadataSize)),
                  Errc::Invalid);
    std::string staged = fmt::format("{}/f{}", staging, n++);
    BlobWriter w(staged);
    for (;;) {
      la_ssize_t got = archive_read_data(a, buf.data(), buf.size());
      if (got < 0) archive_fail(a, fmt::format("invalid archive: reading \"{}\"", *path));
      if (got == 0) break;
      w.write(buf.data(), static_cast<size_t>(got));
    }
    uint64_t size = w.size();
    out.files[*path] = StagedFile{staged, w.finish(), size};
  }
  return out;
}

std::vector<std::string> names_from_repo_tags(const Json& tags) {
  std::vector<std::string> names;
  if (!tags.is_array()) return names;
  if (tags.size() > kMaxImageNames)
    throw Error(fmt::format("invalid docker-archive: an image has {} RepoTags, more than the limit of {}", tags.size(),
                            kMaxImageNames),
                Errc::Invalid);
  for (const auto& t : tags) {
    if (!t.is_string()) continue;
    names.push_back(parse_named_tagged(t.get<std::string>()).string());
  }
  return names;
}

LayerDescriptor staged_layer(Store& store, const StagedFile& f) {
  LayerDescriptor d;
  d.blob_digest = f.digest;
  d.blob_size = f.size;
  d.media_type = oci_layer_media_type(detect_compression_of_file(path_exists(f.path) ? f.path : store.blob_path(f.digest)));
  store.commit_blob_file(f.path, f.digest);
  return d;
}

// A metadata file of the archive (a JSON document), at most kMaxMetadataSize.
std::string staged_text(Store& store, const StagedFile& f, const std::string& what) {
  return read_file_bounded(path_exists(f.path) ? f.path : store.blob_path(f.digest), kMaxMetadataSize,
                           what + " in the archive");
}

std::vector<LoadedImage> load_docker_archive(Store& store, const ArchiveContents& c) {
  Json manifest = parse_json(
      read_file_bounded(c.need("manifest.json", "file").path, kMaxMetadataSize, "manifest.json in the archive"),
      "manifest.json");
  if (!manifest.is_array() || manifest.empty())
    throw Error("invalid docker-archive: manifest.json is not a non-empty array", Errc::Invalid);
  std::vector<LoadedImage> out;
  for (const auto& m : manifest) {
    if (!m.is_object() || !m.contains("Config") || !m["Config"].is_string() || !m.contains("Layers") ||
        !m["Layers"].is_array())
      throw Error("invalid docker-archive: manifest.json entry needs Config and Layers", Errc::Invalid);
    const StagedFile& cf = c.need(m["Config"].get<std::string>(), "config");
    std::string config_text = staged_text(store, cf, "image config " + m["Config"].get<std::string>());
    // The names are checked before any blob is committed.
    std::vector<std::string> names = names_from_repo_tags(m.value("RepoTags", Json::array()));
    std::vector<LayerDescriptor> layers;
    for (const auto& l : m["Layers"]) {
      if (!l.is_string()) throw Error("invalid docker-archive: Layers must be strings", Errc::Invalid);
      layers.push_back(staged_layer(store, c.need(l.get<std::string>(), "layer")));
    }
    ImageRecord rec = commit_image(store, config_text, layers, "", names);
    out.push_back({rec.id, names});
  }
  return out;
}

const StagedFile& oci_blob(const ArchiveContents& c, const Json& desc) {
  std::string digest = desc.is_object() ? desc.value("digest", "") : "";
  if (!is_sha256_digest(digest)) throw Error(fmt::format("invalid oci-archive: bad digest \"{}\"", digest), Errc::Invalid);
  const StagedFile& f = c.need("blobs/sha256/" + digest.substr(7), "blob");
  if (f.digest != digest)
    throw Error(fmt::format("invalid oci-archive: blob {} has the wrong content (digest {})", digest, f.digest),
                Errc::Corrupt);
  return f;
}


// Picks the manifest for this machine from an index.
Json pick_platform(Store& store, const ArchiveContents& c, const Json& index) {
  std::string arch = host_arch();
  for (const auto& d : index.value("manifests", Json::array())) {
    const Json& p = d.value("platform", Json::object());
    if (p.value("os", "linux") == "linux" && p.value("architecture", arch) == arch)
      return parse_json(staged_text(store, oci_blob(c, d), "manifest " + d.value("digest", "")), "manifest");
  }
  throw Error(fmt::format("invalid oci-archive: no image for linux/{} in the index", arch), Errc::Invalid);
}

std::vector<LoadedImage> load_oci_archive(Store& store, const ArchiveContents& c) {
  Json index = parse_json(staged_text(store, c.need("index.json", "file"), "index.json"), "index.json");
  if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array())
    throw Error("invalid oci-archive: index.json has no manifests", Errc::Invalid);
  std::vector<LoadedImage> out;
  for (const auto& d : index["manifests"]) {
    const StagedFile& mf = oci_blob(c, d);
    std::string manifest_text = staged_text(store, mf, "manifest " + mf.digest);
    Json manifest = parse_json(manifest_text, "manifest");
    std::string mt = manifest.value("mediaType", d.value("mediaType", ""));
    if (mt == media::kOciIndex || mt == media::kDockerManifestList) {
      manifest = pick_platform(store, c, manifest);
      manifest_text = manifest.dump();
    }
    if (!manifest.contains("config") || !manifest.contains("layers"))
      throw Error("invalid oci-archive: manifest needs config and layers", Errc::Invalid);
    const StagedFile& cfg = oci_blob(c, manifest["config"]);
    std::string config_text = staged_text(store, cfg, "image config " + cfg.digest);
    std::vector<LayerDescriptor> layers;
    for (const auto& l : manifest["layers"]) {
      LayerDescriptor ld = staged_layer(store, oci_blob(c, l));
      ld.media_type = l.value("mediaType", ld.media_type);
      layers.push_back(ld);
    }
    std::vector<std::string> names;
    const Json ann = d.value("annotations", Json::object());
    std::string name = ann.value("io.containerd.image.name", "");
    if (name.empty()) name = ann.value("org.opencontainers.image.ref.name", "");
    // A bare tag ("1.0") names no repository; podman leaves such images unnamed.
    if (name.find('/') != std::string::npos || name.find(':') != std::string::npos)
      if (auto r = try_parse_reference(name)) names.push_back(r->with_default_tag().string());
    ImageRecord rec = commit_image(store, config_text, layers, manifest_text, names);
    out.push_back({rec.id, names});
  }
  return out;
}

}  // namespace

std::vector<LoadedImage> load_archive(Store& store, int in_fd) {
  log::Phase phase("load");
  FileLock gc = store.hold_off_gc();
  Store::Staging st = store.staging("load");
  ArchiveContents c = read_archive(in_fd, st.path());
  if (c.files.count("manifest.json")) return load_docker_archive(store, c);
  if (c.files.count("index.json")) return load_oci_archive(store, c);
  throw Error("not a docker-archive or oci-archive (it has no manifest.json or index.json): use 'den import' for a "
              "root file system tarball",
              Errc::Invalid);
}

SaveFormat parse_save_format(const std::string& s) {
  if (s == "docker-archive" || s.empty()) return SaveFormat::DockerArchive;
  if (s == "oci-archive") return SaveFormat::OciArchive;
  if (s == "oci-dir") return SaveFormat::OciDir;
  throw Error(fmt::format("unknown format \"{}\": use docker-archive, oci-archive or oci-dir", s), Errc::Invalid);
}

namespace {

// Output side: a tar stream (libarchive) or a directory.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void add_bytes(const std::string& path, std::string_view data) = 0;
  virtual void add_file(const std::string& path, const std::string& src) = 0;
  virtual void finish() {}
};

class TarSink : public Sink {
 public:
  TarSink(int fd, int64_t mtime) : mtime_(mtime) {
    a_ = archive_write_new();
    archive_write_set_format_pax_restricted(a_);
    archive_write_set_bytes_in_last_block(a_, 1);
    if (archive_write_open_fd(a_, fd) != ARCHIVE_OK) archive_fail(a_, "write archive");
  }
  ~TarSink() override { archive_write_free(a_); }
  void add_bytes(const std::string& path, std::string_view data) override {
    header(path, data.size());
    if (archive_write_data(a_, data.data(), data.size()) < 0) archive_fail(a_, "write archive");
  }
  void add_file(const std::string& path, const std::string& src) override {
    UniqueFd fd = open_file(src, O_RDONLY);
    struct stat st;
    ::fstat(fd.get(), &st);
    header(path, static_cast<uint64_t>(st.st_size));
    std::string buf(kBuf, '\0');
    for (;;) {
      size_t n = read_some(fd.get(), buf.data(), buf.size());
      if (n == 0) break;
      if (archive_write_data(a_, buf.data(), n) < 0) archive_fail(a_, "write archive");
    }
  }
  void finish() override {
    if (archive_write_close(a_) != ARCHIVE_OK) archive_fail(a_, "write archive");
  }

 private:
  void header(const std::string& path, uint64_t size) {
    // Parent directories first, once, as docker save writes them.
    std::string dir = dirname_of(path);
    if (dir != "." && !dirs_.count(dir)) {
      std::string acc;
      for (const auto& part : split(dir, '/')) {
        acc = acc.empty() ? part : acc + "/" + part;
        if (dirs_.insert(acc).second) entry(acc + "/", AE_IFDIR, 0755, 0);
      }
    }
    entry(path, AE_IFREG, 0644, size);
  }
  void entry(const std::string& path, mode_t type, mode_t perm, uint64_t size) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, path.c_str());
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, perm);
    archive_entry_set_size(e, static_cast<la_int64_t>(size));
    archive_entry_set_mtime(e, mtime_, 0);
    int r = archive_write_header(a_, e);
    archive_entry_free(e);
    if (r != ARCHIVE_OK) archive_fail(a_, "write archive");
  }
  struct archive* a_;
  int64_t mtime_;
  std::set<std::string> dirs_;
};

class DirSink : public Sink {
 public:
  explicit DirSink(std::string root) : root_(std::move(root)) {}
  void add_bytes(const std::string& path, std::string_view data) override {
    std::string p = root_ + "/" + path;
    mkdirs(dirname_of(p));
    write_file_atomic(p, data);
  }
  void add_file(const std::string& path, const std::string& src) override {
    std::string p = root_ + "/" + path;
    mkdirs(dirname_of(p));
    UniqueFd in = open_file(src, O_RDONLY);
    UniqueFd out = open_file(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::string buf(kBuf, '\0');
    for (;;) {
      size_t n = read_some(in.get(), buf.data(), buf.size());
      if (n == 0) break;
      write_all(out.get(), std::string_view(buf.data(), n));
    }
  }

 private:
  std::string root_;
};

void save_docker(Store& store, const std::vector<SaveItem>& items, Sink& sink) {
  Json manifest = Json::array();
  Json repositories = Json::object();
  std::set<std::string> written;
  std::optional<Store::Staging> st;
  for (const auto& it : items) {
    const ImageRecord& rec = it.image;
    Json entry;
    entry["Config"] = rec.id + ".json";
    Json tags = Json::array();
    if (!it.name.empty()) tags.push_back(familiar(it.name));
    entry["RepoTags"] = tags;
    entry["Layers"] = Json::array();
    if (written.insert(rec.id).second) sink.add_bytes(rec.id + ".json", store.read_blob(rec.config_digest()));
    for (const auto& l : rec.layers) {
      std::string name = digest_hex(l.diff_id) + "/layer.tar";
      entry["Layers"].push_back(name);
      if (!written.insert(name).second) continue;
      std::string src = store.blob_path(l.blob_digest);
      if (detect_compression_of_file(src) != Compression::None) {
        // docker-archive layers are plain tars: decompress to a temp file.
        if (!st) st.emplace(store.staging("save"));
        std::string tmp = st->path() + "/layer";
        UniqueFd out = open_file(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        decompress_to_fd(src, out.get());
        out.reset();
        sink.add_file(name, tmp);
        ::unlink(tmp.c_str());
      } else {
        sink.add_file(name, src);
      }
    }
    manifest.push_back(entry);
    if (!it.name.empty() && !rec.layers.empty()) {
      auto ref = parse_reference(it.name);
      repositories[ref.familiar_name()][ref.tag] = digest_hex(rec.layers.back().diff_id);
    }
  }
  sink.add_bytes("manifest.json", manifest.dump());
  if (!repositories.empty()) sink.add_bytes("repositories", repositories.dump());
}

void save_oci(Store& store, const std::vector<SaveItem>& items, Sink& sink) {
  sink.add_bytes("oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  Json index = {{"schemaVersion", 2}, {"manifests", Json::array()}};
  std::set<std::string> written;
  auto add_blob = [&](const std::string& digest) {
    if (written.insert(digest).second) sink.add_file("blobs/sha256/" + digest_hex(digest), store.blob_path(digest));
  };
  for (const auto& it : items) {
    const ImageRecord& rec = it.image;
    std::string manifest_text = store.read_blob(rec.manifest_digest);
    add_blob(rec.config_digest());
    for (const auto& l : rec.layers) add_blob(l.blob_digest);
    add_blob(rec.manifest_digest);
    Json desc = {{"mediaType", rec.manifest_media_type.empty() ? std::string(media::kOciManifest) : rec.manifest_media_type},
                 {"digest", rec.manifest_digest},
                 {"size", manifest_text.size()}};
    if (!it.name.empty()) desc["annotations"] = {{"org.opencontainers.image.ref.name", it.name}};
    index["manifests"].push_back(desc);
  }
  sink.add_bytes("index.json", index.dump());
}

}  // namespace

void save_images(Store& store, const std::vector<SaveItem>& items, SaveFormat format, int out_fd,
                 const std::string& out_dir) {
  log::Phase phase("save");
  int64_t mtime = 0;
  for (const auto& it : items) mtime = std::max(mtime, it.image.created / 1000000000);
  if (format == SaveFormat::OciDir) {
    mkdirs(out_dir);
    if (!list_dir(out_dir).empty() && !path_exists(out_dir + "/oci-layout"))
      throw Error(fmt::format("{} is not empty and not an OCI layout: give an empty or new directory", out_dir),
                  Errc::Invalid);
    DirSink sink(out_dir);
    save_oci(store, items, sink);
    return;
  }
  TarSink sink(out_fd, mtime);
  if (format == SaveFormat::DockerArchive)
    save_docker(store, items, sink);
  else
    save_oci(store, items, sink);
  sink.finish();
}

}  // namespace den
