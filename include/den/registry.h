// den's registry client: the OCI distribution protocol over HTTP (libcurl,
// see http.h), no skopeo or podman behind it. Pull resolves short names and
// mirrors (registries.conf), authenticates (anonymous, Bearer tokens per
// scope, Basic; credentials from auth.json), picks the platform out of an
// index, downloads layers in parallel while verifying each digest as it
// streams, and extracts each layer as soon as it is complete. Push uploads
// what the registry lacks (HEAD first, cross-repository mount when it can)
// and then the manifest.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "den/registries.h"
#include "den/store.h"

namespace den {

struct RegistryOptions {
  std::optional<bool> tls_verify;  // --tls-verify; unset: registries.conf decides
  std::string cert_dir;            // --cert-dir: extra CA certificates (*.crt)
  std::optional<Credentials> creds;  // --creds; else auth.json
  // Progress lines ("Copying blob 1a2b3c4d5e6f done"); none when empty.
  std::function<void(const std::string&)> progress;
};

// Bytes of one layer download so far (called from the download threads, at
// most every 64 KiB, and once with done == total when it completes).
struct LayerProgress {
  size_t index = 0;     // layer number, base first
  size_t count = 0;     // layers of the image
  std::string digest;
  uint64_t done = 0, total = 0;
  bool skipped = false; // already in the store
};

struct PullOptions : RegistryOptions {
  // Per-layer progress for bars on a terminal; when set, the per-blob lines
  // of `progress` are left out.
  std::function<void(const LayerProgress&)> layer_progress;
  std::string os = "linux";
  std::string arch;     // default: the host's
  std::string variant;
  int parallel = 0;     // layers downloaded at once; 0: den.conf image_parallel_copies
};

// Pulls a reference ("bb", "localhost:5000/tz/bb:1", "x@sha256:..") into the
// store and returns its record. Rootless callers are in den's user
// namespace (layers are extracted with their owners).
ImageRecord pull_image(Store& store, const std::string& ref, const PullOptions& opts);

// Pushes an image of the store to dest (a full reference). Returns the
// manifest digest.
std::string push_image(Store& store, const ImageRecord& img, const std::string& dest, const RegistryOptions& opts);

// The tags of a repository ("host/path"), from /v2/<path>/tags/list.
std::vector<std::string> list_tags(const Config& cfg, const std::string& name, const RegistryOptions& opts);

// The manifest (or index) a reference names, as the registry serves it.
std::string fetch_manifest(const Config& cfg, const std::string& ref, const RegistryOptions& opts);

// One hit of `den search`: name is "registry/repository".
struct SearchResult {
  std::string name, description;
  int stars = 0;
  bool official = false, automated = false;
};

// Searches a registry as podman does: its search API (GET /v1/search?q=,
// Docker Hub's and Quay's), else the repositories of /v2/_catalog whose name
// contains term (distribution's registry). Registries with neither answer
// with an error. At most limit results.
std::vector<SearchResult> search_registry(const Config& cfg, const std::string& registry, const std::string& term,
                                          int limit, const RegistryOptions& opts);

// Checks credentials against a registry (GET /v2/ and, for token auth, a
// token). Throws a clear error when they are refused.
void check_login(const Config& cfg, const std::string& registry, const Credentials& creds,
                 const RegistryOptions& opts);

}  // namespace den
