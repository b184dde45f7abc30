// Image metadata: OCI/docker media types, manifests and configs, docker's
// inspect view, and Dockerfile-style --change instructions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "den/json.h"
#include "den/layer_tar.h"
#include "den/store.h"

namespace den {

namespace media {
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar";
}  // namespace media

// The largest metadata document den reads: a registry's manifest, index and
// image config, an archive's manifest.json and index.json and the manifests
// and configs in it (containers/image and the registry use 4 MiB too). Each is
// read through a bounded reader and a larger one is refused, so a hostile
// archive or registry cannot make den hold gigabytes.
inline constexpr size_t kMaxMetadataSize = 4u << 20;
// The most names (RepoTags) one image of an archive may carry; more is refused.
inline constexpr size_t kMaxImageNames = 1000;

// OCI layer media type for a blob's compression.
std::string_view oci_layer_media_type(Compression c);

// An OCI image manifest for a config blob and layer blobs.
Json make_oci_manifest(const std::string& config_digest, uint64_t config_size,
                       const std::vector<LayerDescriptor>& layers);

// Registry and archive JSON, checked as it is read (a wrong type is an
// error naming the document, never a JSON library exception).
// The digest of the manifest an image index (OCI index, docker manifest
// list) names for os/arch (and variant when not empty), "" when none;
// `offered` gets the platforms it lists ("linux/arm64/v8").
std::string pick_from_index(const Json& index, const std::string& os, const std::string& arch,
                            const std::string& variant, std::vector<std::string>* offered = nullptr);
// The config digest of an image manifest (docker v2 schema 2 or OCI). `who`
// (the registry) starts the errors; media_type and repo describe it in them.
std::string manifest_config_digest(const Json& manifest, const std::string& who, const std::string& media_type,
                                   const std::string& repo);
// The layers of an image manifest, paired with the config's diff_ids.
// Throws Errc::Invalid (counts, digests), Errc::Unsupported (foreign layers).
std::vector<LayerDescriptor> manifest_layers(const Json& manifest, const std::vector<std::string>& diff_ids,
                                             const std::string& who);
// The diff_ids of a config ("rootfs.diff_ids"); throws Errc::Invalid if absent.
std::vector<std::string> config_diff_ids(const Json& config);
// "created" of a config in ns since the epoch (0 when absent or unparsable).
int64_t config_created(const Json& config);
// Checks an image config (os, rootfs type, diff_ids) and throws Errc::Invalid
// with what is wrong.
void validate_config(const Json& config);

// docker's `image inspect` object for a stored image.
Json image_inspect_json(const Store& store, const ImageRecord& rec);
// The config blob of a stored image, parsed.
Json load_image_config(const Store& store, const ImageRecord& rec);

// Display names: "bb:latest" for docker.io/library/bb:latest (docker's
// familiar form).
std::string familiar(const std::string& canonical_name);

// Applies Dockerfile instructions given with --change/-c to an image config
// ("config" object of the image config JSON): CMD, ENTRYPOINT, ENV, EXPOSE,
// LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL, ONBUILD. Throws Errc::Invalid
// naming the instruction otherwise.
void apply_change(Json& container_config, std::string_view change);

}  // namespace den
