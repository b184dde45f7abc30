// Kubernetes YAML (src/kube/plan.cpp): parse into a plan, describe it, and
// turn every container into `den create` arguments as `kube play` does.
#include "common.h"
#include "den/kube.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  den::log::set_level(den::log::Level::Error);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return -1;
  std::string text = fuzz::text(data, size);
  fuzz::expect_den_errors([&] {
    den::kube::Plan plan = den::kube::parse_kube_yaml(text, "fuzz.yaml");
    den::kube::describe(plan);
    for (const auto& pod : plan.pods) {
      for (const auto& c : pod.init_containers) fuzz::expect_den_errors([&] { den::kube::create_args(c, {}, "pod"); });
      for (const auto& c : pod.containers) fuzz::expect_den_errors([&] { den::kube::create_args(c, {}, "pod"); });
    }
  });
  return 0;
}
