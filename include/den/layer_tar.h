// Layer tarballs: safe extraction into a layer directory (with OCI whiteouts
// translated for overlay), decompression, and creating tar streams from a
// directory. libarchive does the tar and compression work; den adds the path
// safety policy and whiteout translation, which no library does for us.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "den/error.h"

struct archive_entry;  // libarchive's

namespace den {

enum class Compression { None, Gzip, Zstd, Bzip2, Xz };

// Sniffs magic bytes at the start of a blob.
Compression detect_compression(const void* data, size_t n);
Compression detect_compression_of_file(const std::string& path);
std::string_view compression_name(Compression c);  // "none", "gzip", "zstd", ...

// OCI whiteout classification of one tar entry path (already sanitized).
enum class WhiteoutKind { None, Whiteout, Opaque };
struct WhiteoutInfo {
  WhiteoutKind kind = WhiteoutKind::None;
  // For Whiteout: the path of the hidden entry ("a/b/.wh.c" -> "a/b/c").
  // For Opaque: the directory made opaque ("a/b/.wh..wh..opq" -> "a/b", "" for the root).
  std::string target;
};
WhiteoutInfo classify_whiteout(std::string_view path);

// Normalizes a tar entry path to a clean relative path ("./a//b/" -> "a/b",
// "/etc/x" -> "etc/x", as tar and docker strip leading slashes). Returns
// nullopt when the path is unsafe: any ".." component or a NUL byte.
// "", "." and "./" denote the layer root and return "".
std::optional<std::string> sanitize_entry_path(std::string_view path);

// den's one rule for what a tar entry may be, shared by every extraction:
// load, pull and import (extract_layer) and volume import and cp
// (extract_tar, extract_copy in den/copy.h). As containers/storage and
// docker do rootless:
//  - regular files, directories, symlinks, hard links and FIFOs are extracted;
//  - character devices 0/0 (overlay whiteouts) are extracted;
//  - other character and block devices are skipped with a warning when
//    rootless (mknod needs CAP_MKNOD in the initial user namespace), and
//    created when den runs as root;
//  - sockets and unknown types are skipped with a warning;
//  - a hard link to a skipped entry is skipped with a warning;
//  - a hard link must point to an entry extracted before it (or, for cp and
//    volume import, a file already in the destination); anything else is
//    refused with hardlink_outside().
// Refusals are Errc::Invalid and name the entry; skipping never fails.
class EntryFilter {
 public:
  EntryFilter(bool rootless, std::function<void(const std::string&)> warn)
      : rootless_(rootless), warn_(std::move(warn)) {}
  // True when the entry (sanitized path rel) is skipped; warns once for it.
  // A hard link entry is checked against its sanitized target.
  bool skip(archive_entry* e, const std::string& rel, const std::string* link_target = nullptr);
  // The entry was written: a hard link to it is no longer to a skipped entry.
  void written(const std::string& rel) { skipped_.erase(rel); }

 private:
  bool rootless_;
  std::function<void(const std::string&)> warn_;
  std::unordered_set<std::string> skipped_;
};

// The refusal of a hard link whose target is not in the archive (or, for cp
// and volume import, the destination): `hardlink "hl" points to "/home/x",
// outside the archive`.
Error hardlink_outside(std::string_view entry, std::string_view target);

struct ExtractOptions {
  // Rootless: device nodes (other than whiteouts) are skipped (EntryFilter),
  // and ownership is applied as-is (we run as root inside the user namespace).
  bool rootless = true;
  // Called with one line per skipped entry (device nodes in rootless mode).
  std::function<void(const std::string&)> warn;
};

struct ExtractResult {
  std::string diff_id;        // "sha256:..." of the uncompressed tar stream
  uint64_t uncompressed_size = 0;
  uint64_t entries = 0;
};

// Extracts the (possibly gzip/zstd-compressed) tar at blob_path into dest
// (an existing empty directory). Keeps owners, modes (setuid too), times,
// xattrs, hard links, sparse files. Refuses entries with ".." components and
// entries or link targets that would resolve outside dest through symlinks.
// OCI whiteouts become overlay whiteouts: ".wh.NAME" -> character device 0/0
// NAME; ".wh..wh..opq" -> xattrs user.overlay.opaque=y and
// user.fuseoverlayfs.opaque=y on the directory. Throws den::Error
// (Errc::Invalid for bad archives, naming the offending entry).
ExtractResult extract_layer(const std::string& blob_path, const std::string& dest, const ExtractOptions& opts);

// The same, reading the blob from fd as it arrives (a socket fed by a
// download), whose compression is known from its media type. Reads to EOF.
ExtractResult extract_layer_stream(int fd, Compression c, const std::string& dest, const ExtractOptions& opts);

// Streams the uncompressed tar of a (possibly compressed) blob to out_fd and
// returns its diff_id. Used to write docker-archive layer.tar files.
ExtractResult decompress_to_fd(const std::string& blob_path, int out_fd);

// Computes the diff_id of a possibly compressed blob without extracting.
ExtractResult compute_diff_id(const std::string& blob_path);

}  // namespace den
