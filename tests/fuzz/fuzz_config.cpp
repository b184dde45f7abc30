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

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return -1;
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
