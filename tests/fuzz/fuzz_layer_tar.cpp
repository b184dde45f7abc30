// Layer extraction (src/storage/layer_tar.cpp): the input is a layer blob
// (tar, possibly gzip/zstd/bzip2/xz compressed), extracted rootless-style
// into a fresh directory on a tmpfs; nothing may appear outside that
// directory (a sibling sentinel stays alone). Cleaned after every run.
#include <sys/mman.h>
#include <unistd.h>

#include <filesystem>

#include "common.h"
#include "den/fs.h"
#include "den/layer_tar.h"

namespace {

std::string g_box;  // <tmp>/den-fuzz-layer-XXXXXX, holds dest/ and nothing else
int g_memfd = -1;

void check_box_holds_only_dest() {
  for (const auto& name : den::list_dir(g_box)) {
    if (name != "dest") {
      std::fprintf(stderr, "fuzz: extraction wrote %s/%s, outside its destination\n", g_box.c_str(), name.c_str());
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  den::log::set_level(den::log::Level::Error);
  std::string base = den::is_dir("/dev/shm") ? "/dev/shm" : "/tmp";
  std::string tmpl = base + "/den-fuzz-layer-XXXXXX";
  if (!::mkdtemp(tmpl.data())) std::abort();
  g_box = tmpl;
  g_memfd = ::memfd_create("layer", 0);
  if (g_memfd < 0) std::abort();
  std::atexit([] { den::remove_all(g_box); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 256 * 1024) return -1;
  if (::ftruncate(g_memfd, 0) != 0 || ::pwrite(g_memfd, data, size, 0) != static_cast<ssize_t>(size)) std::abort();
  std::string dest = g_box + "/dest";
  den::mkdirs(dest, 0755);
  den::ExtractOptions opts;
  opts.rootless = true;
  opts.warn = [](const std::string&) {};
  fuzz::expect_den_errors([&] { den::extract_layer("/proc/self/fd/" + std::to_string(g_memfd), dest, opts); });
  check_box_holds_only_dest();
  den::remove_all(dest);
  return 0;
}
