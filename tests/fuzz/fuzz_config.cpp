// den.conf, storage.conf (src/config/config.cpp) and registries.conf
// (src/image/registries.cpp): the input is applied as each kind of file over
// the defaults, and the registries result is used as a pull would.
#include "common.h"
#include "den/config.h"
#include "den/registries.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  den::log::set_level(den::log::Level::Error);
  return 0;
}

// toml++ 3.3.0 (Debian 12) reaches __builtin_unreachable() in
// is_non_ascii_horizontal_whitespace() for U+00A1..U+0499, U+2D6E..U+3167
// and U+FBA6..U+FEFE met outside a string or comment ("[storage\u0410ptions]"):
// its generated table's mask misses three ranges. Not fixable from den
// without patching the library (see README.md here: open findings); such
// inputs are skipped, roughly: any 2-byte sequence up to U+04BF, any 3-byte
// one of U+2000..U+3FFF or U+F000..U+FFFF.
bool hits_toml_unreachable(const uint8_t* data, size_t size) {
  for (size_t i = 0; i < size; i++)
    if ((data[i] >= 0xC2 && data[i] <= 0xD2) || data[i] == 0xE2 || data[i] == 0xE3 || data[i] == 0xEF) return true;
  return false;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024 || hits_toml_unreachable(data, size)) return -1;
  std::string text = fuzz::text(data, size);
  fuzz::expect_den_errors([&] {
    den::Config cfg;
    den::apply_toml(cfg, "den.conf", text, "fuzz/den.conf");
  });
  fuzz::expect_den_errors([&] {
    den::Config cfg;
    den::apply_toml(cfg, "storage.conf", text, "fuzz/storage.conf");
  });
  fuzz::expect_den_errors([&] {
    den::RegistriesConf conf;
    den::apply_registries_toml(conf, text, "fuzz/registries.conf");
    for (const char* name : {"docker.io/library/busybox", "quay.io/a/b", "localhost:5000/x", "example.com/ns/img"}) {
      fuzz::expect_den_errors([&] { den::pull_endpoints(conf, name); });
      fuzz::expect_den_errors([&] { den::push_endpoint(conf, name); });
    }
    fuzz::expect_den_errors([&] { den::short_name_candidates(conf, "busybox"); });
    fuzz::expect_den_errors([&] { den::short_name_candidates(conf, "ns/img"); });
  });
  return 0;
}
