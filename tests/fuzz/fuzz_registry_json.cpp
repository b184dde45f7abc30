// Registry JSON (src/image/spec.cpp, as `den pull` reads it): the input is
// a manifest, an index or an image config, read the way pull_from reads
// each of them.
#include "common.h"
#include "den/image.h"

namespace {

const char* kConfig = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[)"
                      R"("sha256:0000000000000000000000000000000000000000000000000000000000000001",)"
                      R"("sha256:0000000000000000000000000000000000000000000000000000000000000002"]}})";

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  den::log::set_level(den::log::Level::Error);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 256 * 1024) return -1;
  den::Json j = den::Json::parse(data, data + size, nullptr, false);
  if (j.is_discarded()) return 0;
  static const std::vector<std::string> diff_ids = den::config_diff_ids(den::Json::parse(kConfig));
  // As an index (OCI index, docker manifest list).
  std::vector<std::string> offered;
  den::pick_from_index(j, "linux", "amd64", "", &offered);
  den::pick_from_index(j, "linux", "arm64", "v8");
  // As a manifest.
  fuzz::expect_den_errors([&] {
    den::manifest_config_digest(j, "registry.fuzz", "application/vnd.oci.image.manifest.v1+json", "fuzz/img");
    den::manifest_layers(j, diff_ids, "registry.fuzz");
  });
  // As an image config, then its layers against a manifest of as many.
  fuzz::expect_den_errors([&] {
    den::config_created(j);
    den::validate_config(j);
    std::vector<std::string> ids = den::config_diff_ids(j);
    den::Json man = {{"schemaVersion", 2}, {"config", {{"digest", "sha256:" + std::string(64, 'c')}}}, {"layers", den::Json::array()}};
    for (const auto& id : ids) man["layers"].push_back({{"digest", id}, {"size", 1}});
    den::manifest_layers(man, ids, "registry.fuzz");
  });
  return 0;
}
