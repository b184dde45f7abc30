// den's per-user store (containers/storage-like, much smaller):
//
//   GRAPHROOT/
//     images.json            all image records; written atomically
//     images.lock            held exclusively by every writer of images.json
//     gc.lock                shared by loaders while they add unreferenced
//                            blobs/layers; exclusive (non-blocking) for GC
//     blobs/sha256/<hex>     content-addressed blobs, verified on the way in
//     layers/<chainhex>/     an extracted layer: diff/ + layer.json; a layer
//                            directory exists only when complete (it is
//                            built in tmp/ and renamed into place)
//     partial/<hex>          an interrupted blob download, resumed by the next
//                            pull (flock while written; removed by GC)
//     locks/                 per-object lock files
//     tmp/<name>/ + <name>.lock   staging; whoever created it holds the lock.
//                            Entries whose lock is free belong to a dead den
//                            and are removed by the next writer.
//
// Readers (images, inspect, save) read images.json without locking: it is
// only ever replaced by rename(2). Writers take images.lock.
// Layer contents must be written and removed as root of den's user namespace
// (rootless) so owners are kept: callers enter it first (runtime/userns.h).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "den/config.h"
#include "den/json.h"
#include "den/lock.h"

namespace den {

struct LayerDescriptor {
  std::string diff_id;      // sha256:... of the uncompressed tar
  std::string blob_digest;  // sha256:... of the blob as stored (maybe compressed)
  std::string media_type;   // of the blob
  uint64_t blob_size = 0;
  uint64_t size = 0;        // uncompressed tar size
};

struct ImageRecord {
  std::string id;                  // 64 hex: sha256 of the config blob
  std::vector<std::string> names;  // canonical "docker.io/library/bb:latest"
  std::vector<std::string> digests;  // repo@sha256:... references (pulled images)
  std::string manifest_digest;     // sha256:... of the stored manifest blob
  std::string manifest_media_type;
  std::vector<LayerDescriptor> layers;  // base first
  int64_t created = 0;             // config "created", ns since epoch (0 if none)
  int64_t added = 0;               // when den stored it, ns since epoch
  uint64_t size = 0;               // sum of uncompressed layer sizes

  std::string config_digest() const { return "sha256:" + id; }
};

struct LayerRecord {
  std::string chain_id;
  std::string diff_id;
  std::string parent;  // chain id, "" for a base layer
  uint64_t size = 0;
};

// chain_id(L0) = diff_id(L0); chain_id(Ln) = sha256(chain_id(Ln-1) + " " + diff_id(Ln)).
std::vector<std::string> chain_ids(const std::vector<std::string>& diff_ids);

Json to_json(const ImageRecord& r);
ImageRecord image_record_from_json(const Json& j);

class Store {
 public:
  explicit Store(const Config& cfg);

  const Config& config() const { return cfg_; }
  const std::string& root() const { return root_; }
  std::string blob_path(const std::string& digest) const;
  std::string layer_dir(const std::string& chain_id) const;   // layers/<hex>
  std::string partial_path(const std::string& digest) const;  // partial/<hex>: an interrupted download
  std::string layer_diff(const std::string& chain_id) const;  // layers/<hex>/diff

  // Creates the directory layout (once) and removes staging leftovers of dead
  // dens. Called by every writer before it starts.
  void prepare_for_write();

  // ---- staging -------------------------------------------------------------
  class Staging {
   public:
    Staging(Staging&&) = default;
    ~Staging();
    const std::string& path() const { return path_; }

   private:
    friend class Store;
    Staging(std::string path, FileLock lock) : path_(std::move(path)), lock_(std::move(lock)) {}
    std::string path_;
    FileLock lock_;
  };
  // A fresh directory under tmp/, removed when the Staging goes away (and by
  // the next writer if this process dies).
  Staging staging(std::string_view what);

  // Holds gc.lock shared for as long as it lives: blobs and layers added
  // meanwhile survive a concurrent GC until an image references them.
  FileLock hold_off_gc();

  // ---- blobs ---------------------------------------------------------------
  bool has_blob(const std::string& digest) const;
  std::string read_blob(const std::string& digest) const;
  // Moves a staged file into blobs/ under `digest` (which the caller computed
  // while writing it). An existing blob of that digest is kept.
  void commit_blob_file(const std::string& staged_path, const std::string& digest);
  // Stores small content (configs, manifests); returns its digest.
  std::string put_blob(std::string_view data);

  // ---- layers --------------------------------------------------------------
  std::optional<LayerRecord> layer(const std::string& chain_id) const;
  // Extracts the blob as the layer with the given parent unless present;
  // verifies that the tar's diff_id equals `expected_diff_id` (when given).
  // Returns the record. Thread-safe for different chain ids.
  LayerRecord ensure_layer(const std::string& parent_chain_id, const LayerDescriptor& d);
  // The same, extracting from `stream_fd` while the blob still downloads
  // (see extract_layer_stream); the diff_id of what arrived is checked
  // against d.diff_id, which the verified config names. Reads stream_fd to
  // its end even when the layer is already present.
  LayerRecord ensure_layer_streamed(const std::string& parent_chain_id, const LayerDescriptor& d, int stream_fd,
                                    int compression);

  // ---- images --------------------------------------------------------------
  std::vector<ImageRecord> images() const;
  // Resolves a user's image argument: full/short name, full or unique-prefix
  // ID, "sha256:<id>". Throws Errc::NotFound ("No such image: X").
  ImageRecord lookup_image(const std::string& arg) const;
  std::optional<ImageRecord> find_image(const std::string& arg) const;

  // Under images.lock: adds the image (or merges names into the existing one
  // with the same ID); each name is moved away from any other image that has
  // it. Returns the names that were taken from other images.
  void add_image(ImageRecord rec);
  // Adds a name to an image (moving it from another image). canonical name.
  void tag_image(const std::string& id, const std::string& name);
  struct RemoveResult {
    std::vector<std::string> untagged;  // canonical names removed
    bool deleted = false;               // the image record is gone
    std::string id;                     // the image's ID
  };
  // docker rmi semantics for one argument.
  RemoveResult remove_image(const std::string& arg, bool force);
  // Removes blobs and layers no image references. Skips (returns false) if a
  // writer holds gc.lock. Returns bytes reclaimed via *reclaimed.
  bool garbage_collect(uint64_t* reclaimed = nullptr);

  // What garbage_collect removes, for `system check`: blobs and layers no
  // image references, interrupted downloads (partial/), temporary files of
  // a killed den in blobs/. Sets *busy (and returns nothing) when a loader
  // holds gc.lock: what it adds is not referenced yet, and no leftover.
  struct Leftover {
    std::string path;
    std::string what;  // "unreferenced blob", "unreferenced layer", "interrupted download", "temporary blob file"
    uint64_t bytes = 0;
  };
  std::vector<Leftover> unreferenced(bool* busy) const;

  // Image records with the given mutator applied under images.lock.
  template <typename F>
  void update_images(F&& f) {
    FileLock l = FileLock::acquire(root_ + "/images.lock");
    std::vector<ImageRecord> imgs = images();
    f(imgs);
    write_images(imgs);
  }

 private:
  void write_images(const std::vector<ImageRecord>& imgs);
  // The blobs (hex) and layers (chain id hex) that the image records name.
  void referenced(std::set<std::string>* blobs, std::set<std::string>* layers) const;
  LayerRecord ensure_layer_with(const std::string& parent_chain_id, const LayerDescriptor& d, int stream_fd,
                                int compression);
  void clean_staging();

  Config cfg_;
  std::string root_;
  bool prepared_ = false;
};

}  // namespace den
