// Archive manifests (src/image/archive_formats.cpp, `den load`): the input
// is the manifest.json of a docker-archive (first byte even) or the
// index.json of an oci-archive (odd), put into a tar beside a valid config,
// layer and OCI manifest (and a nested index), and loaded into a fresh store
// on a tmpfs. Seeds name those blobs by digest: DEN_FUZZ_ARCHIVE_SEEDS=DIR
// writes a docker and an OCI seed to DIR and exits.
#include <archive.h>
#include <archive_entry.h>
#include <sys/mman.h>
#include <unistd.h>

#include <fstream>
#include <map>

#include "common.h"
#include "den/config.h"
#include "den/fs.h"
#include "den/hash.h"
#include "den/image_archive.h"
#include "den/store.h"

namespace {

std::string g_root;
int g_memfd = -1;
std::map<std::string, std::string> g_docker_files, g_oci_files;
std::string g_manifest_digest, g_index_digest;

const std::string kEmptyTar(1024, '\0');

void build_fixed_files() {
  std::string layer_digest = den::sha256_digest(kEmptyTar);
  std::string config = R"({"architecture":"amd64","os":"linux","created":"2026-11-28T10:00:00Z",)"
                       R"("config":{"Cmd":["sh"],"Env":["PATH=/bin"]},"rootfs":{"type":"layers","diff_ids":[")" +
                       layer_digest + R"("]},"history":[{"created_by":"fuzz"}]})";
  std::string config_digest = den::sha256_digest(config);
  g_docker_files["config.json"] = config;
  g_docker_files["abc/layer.tar"] = kEmptyTar;
  std::string manifest = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
                         R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                         config_digest + R"(","size":)" + std::to_string(config.size()) +
                         R"(},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" +
                         layer_digest + R"(","size":1024}]})";
  g_manifest_digest = den::sha256_digest(manifest);
  std::string index = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)"
                      R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
                      g_manifest_digest + R"(","size":)" + std::to_string(manifest.size()) +
                      R"(,"platform":{"architecture":"amd64","os":"linux"}}]})";
  g_index_digest = den::sha256_digest(index);
  for (const auto& blob : {config, kEmptyTar, manifest, index})
    g_oci_files["blobs/sha256/" + den::digest_hex(den::sha256_digest(blob))] = blob;
  g_oci_files["oci-layout"] = R"({"imageLayoutVersion":"1.0.0"})";
}

void add_entry(struct archive* a, const std::string& name, const std::string& content) {
  struct archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, name.c_str());
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
  if (archive_write_header(a, e) != ARCHIVE_OK) std::abort();
  if (!content.empty() && archive_write_data(a, content.data(), content.size()) < 0) std::abort();
  archive_entry_free(e);
}

void add_symlink(struct archive* a, const std::string& name, const std::string& target) {
  struct archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, name.c_str());
  archive_entry_set_filetype(e, AE_IFLNK);
  archive_entry_set_perm(e, 0777);
  archive_entry_set_symlink(e, target.c_str());
  if (archive_write_header(a, e) != ARCHIVE_OK) std::abort();
  archive_entry_free(e);
}

// The archive as `den save` writes it, with `json` as its manifest.json or index.json.
std::string make_archive(bool oci, const std::string& json) {
  std::string out;
  out.resize(json.size() + 64 * 1024);
  size_t used = 0;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_set_bytes_in_last_block(a, 1);
  if (archive_write_open_memory(a, out.data(), out.size(), &used) != ARCHIVE_OK) std::abort();
  for (const auto& [name, content] : oci ? g_oci_files : g_docker_files) add_entry(a, name, content);
  if (!oci) add_symlink(a, "def/layer.tar", "../abc/layer.tar");
  add_entry(a, oci ? "index.json" : "manifest.json", json);
  archive_write_close(a);
  archive_write_free(a);
  out.resize(used);
  return out;
}

void write_seeds(const std::string& dir) {
  den::mkdirs(dir);
  std::string docker = R"([{"Config":"config.json","RepoTags":["fuzz/img:1","localhost/x:latest"],)"
                       R"("Layers":["def/layer.tar"]}])";
  std::string oci = R"({"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
                    R"("digest":")" + g_manifest_digest + R"(","size":500,"annotations":)"
                    R"({"org.opencontainers.image.ref.name":"localhost/fuzz:1"}},)"
                    R"({"mediaType":"application/vnd.oci.image.index.v1+json","digest":")" +
                    g_index_digest + R"(","size":300}]})";
  std::ofstream(dir + "/docker-manifest.json", std::ios::binary) << '\0' << docker;
  std::ofstream(dir + "/oci-index.json", std::ios::binary) << '\1' << oci;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  den::log::set_level(den::log::Level::Error);
  build_fixed_files();
  if (const char* seeds = std::getenv("DEN_FUZZ_ARCHIVE_SEEDS")) {
    write_seeds(seeds);
    std::exit(0);
  }
  std::string base = den::is_dir("/dev/shm") ? "/dev/shm" : "/tmp";
  std::string tmpl = base + "/den-fuzz-archive-XXXXXX";
  if (!::mkdtemp(tmpl.data())) std::abort();
  g_root = tmpl;
  g_memfd = ::memfd_create("archive", 0);
  if (g_memfd < 0) std::abort();
  std::atexit([] { den::remove_all(g_root); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 64 * 1024) return -1;
  std::string tar = make_archive(data[0] & 1, fuzz::text(data + 1, size - 1));
  if (::ftruncate(g_memfd, 0) != 0 || ::pwrite(g_memfd, tar.data(), tar.size(), 0) != static_cast<ssize_t>(tar.size()) ||
      ::lseek(g_memfd, 0, SEEK_SET) != 0)
    std::abort();
  den::Config cfg;
  cfg.graphroot = g_root + "/store";
  cfg.runroot = g_root + "/run";
  {
    den::Store store(cfg);
    store.prepare_for_write();
    fuzz::expect_den_errors([&] { den::load_archive(store, g_memfd); });
  }
  den::remove_all(cfg.graphroot);
  return 0;
}
