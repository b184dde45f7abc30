// Quadlet files (src/systemd/quadlet.cpp): the first byte picks the kind
// (.container, .volume, .network, .pod, .kube), the rest is the file.
#include "common.h"
#include "den/systemd.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  den::log::set_level(den::log::Level::Error);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 64 * 1024) return -1;
  static const char* const kinds[] = {"container", "volume", "network", "pod", "kube"};
  std::string file = std::string("/etc/containers/systemd/web.") + kinds[data[0] % 5];
  std::string text = fuzz::text(data + 1, size - 1);
  fuzz::expect_den_errors([&] { den::quadlet_convert(file, text, "/usr/bin/den"); });
  fuzz::expect_den_errors([&] {
    for (const auto& s : den::parse_unit_file(file, text))
      for (const auto& e : s.entries) den::split_unit_words(e.value);
  });
  return 0;
}
