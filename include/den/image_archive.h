// Moving images in and out of the store as files: `den import` (a root file
// system tarball), `den load` (docker-archive, oci-archive) and `den save`
// (docker-archive, oci-archive, oci-dir). Everything is streamed once: blobs
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

struct LoadedImage {
  std::string id;
  std::vector<std::string> names;  // canonical
};
// Reads a docker-archive or oci-archive (optionally gzip/zstd compressed as a
// whole) from in_fd.
std::vector<LoadedImage> load_archive(Store& store, int in_fd);

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
