// Moving images in and out of the store as files: `den import` (a root file
// system tarball), `den load` (docker-archive, oci-archive), `den save`
// (docker-archive, oci-archive, oci-dir) and `den commit` (a container's
// changes as a new layer). Everything is streamed once: blobs
// are hashed as they are written to the staging area and verified before they
// are committed; nothing reaches images.json before every blob and layer it
// names is in place.
#pragma once

#include <string>
#include <vector>

#include "den/store.h"

namespace den {

// "amd64", "arm64", ... for the machine den runs on (OCI/Go names).
std::string host_arch();

struct ImportOptions {
  std::vector<std::string> changes;  // Dockerfile instructions
  std::string message;               // history comment
  std::string name;                  // canonical reference, or "" for none
};
// Reads a (possibly compressed) root file system tar from in_fd.
ImageRecord import_rootfs(Store& store, int in_fd, const ImportOptions& opts);

struct CommitOptions {
  Json config = Json::object();      // the new image's "config" (the container's settings)
  std::vector<std::string> changes;  // Dockerfile instructions, applied after `config`
  std::string message;               // comment
  std::string author;
  std::string created_by;            // history entry (docker: the container's command)
  std::string container_id;
  std::string name;                  // canonical reference, or "" for none
};
// Records a new image made of `base` (nullptr for none) plus one layer: the
// uncompressed tar staged at layer_path whose sha256 is layer_digest. The
// staged file is moved into the blob store. Must run inside den's user
// namespace (the layer is extracted). Returns the new image.
ImageRecord commit_layer(Store& store, const ImageRecord* base, const std::string& layer_path,
                         const std::string& layer_digest, uint64_t layer_size, const CommitOptions& opts);

struct LoadedImage {
  std::string id;
  std::vector<std::string> names;  // canonical
};
// Reads a docker-archive or oci-archive (optionally gzip/zstd compressed as a
// whole) from in_fd.
std::vector<LoadedImage> load_archive(Store& store, int in_fd);

// Extracts the layers (their blobs already in the store), in parallel.
void extract_layers_parallel(Store& store, const std::vector<LayerDescriptor>& layers);
// Records a finished image whose layer blobs are in the store: extracts the
// layers, stores config and manifest (made when manifest_text is empty) and
// adds the record with its names and repo@digest references.
ImageRecord commit_image(Store& store, const std::string& config_text, std::vector<LayerDescriptor> layers,
                         const std::string& manifest_text, std::vector<std::string> names,
                         std::vector<std::string> digests = {});

enum class SaveFormat { DockerArchive, OciArchive, OciDir };
// Parses "docker-archive", "oci-archive", "oci-dir"; throws Errc::Invalid.
SaveFormat parse_save_format(const std::string& s);

struct SaveItem {
  ImageRecord image;
  std::string name;  // canonical name to record in the archive, "" for none
};
// Writes an archive to out_fd (DockerArchive, OciArchive) or a directory
// layout at out_dir (OciDir).
void save_images(Store& store, const std::vector<SaveItem>& items, SaveFormat format, int out_fd,
                 const std::string& out_dir);

}  // namespace den
