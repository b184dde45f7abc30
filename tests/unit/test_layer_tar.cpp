#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "den/error.h"
#include "den/fs.h"
#include "den/hash.h"
#include "den/copy.h"
#include "den/layer_tar.h"

using namespace den;

// Tar entries are written with designated initializers that name only what
// matters; meson builds with -Wno-missing-field-initializers as well.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace {

// One tar entry to write with libarchive.
struct TEntry {
  std::string path;
  unsigned type = AE_IFREG;
  unsigned perm = 0644;
  std::string data;
  std::string symlink;   // for AE_IFLNK
  std::string hardlink;  // hard link target (type ignored)
  int64_t uid = 0, gid = 0;
  time_t mtime = 1600000000;
  std::vector<std::pair<std::string, std::string>> xattrs;
  unsigned rmajor = 0, rminor = 0;
  // Sparse: the (offset, length) data regions of the file; the rest are holes.
  std::vector<std::pair<int64_t, int64_t>> sparse;
};

la_ssize_t append_cb(archive*, void* client, const void* buf, size_t n) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

std::string make_tar(const std::vector<TEntry>& entries) {
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_pax(a);
  archive_write_set_bytes_per_block(a, 10240);
  REQUIRE(archive_write_open(a, &out, nullptr, append_cb, nullptr) == ARCHIVE_OK);
  for (const auto& t : entries) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, t.path.c_str());
    archive_entry_set_filetype(e, t.type);
    archive_entry_set_perm(e, t.perm);
    archive_entry_set_uid(e, t.uid);
    archive_entry_set_gid(e, t.gid);
    archive_entry_set_mtime(e, t.mtime, 0);
    if (!t.symlink.empty()) archive_entry_set_symlink(e, t.symlink.c_str());
    if (!t.hardlink.empty()) archive_entry_set_hardlink(e, t.hardlink.c_str());
    if (t.type == AE_IFCHR || t.type == AE_IFBLK) {
      archive_entry_set_rdevmajor(e, t.rmajor);
      archive_entry_set_rdevminor(e, t.rminor);
    }
    for (const auto& [k, v] : t.xattrs) archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
    archive_entry_set_size(e, (t.type == AE_IFREG && t.hardlink.empty()) ? static_cast<int64_t>(t.data.size()) : 0);
    // After the size: libarchive ignores regions beyond it.
    for (const auto& [off, len] : t.sparse) archive_entry_sparse_add_entry(e, off, len);
    REQUIRE(archive_write_header(a, e) == ARCHIVE_OK);
    // For sparse entries data is the whole logical file; the pax writer
    // leaves the holes out of the archive.
    if (!t.data.empty())
      REQUIRE(archive_write_data(a, t.data.data(), t.data.size()) == static_cast<la_ssize_t>(t.data.size()));
    archive_entry_free(e);
  }
  REQUIRE(archive_write_close(a) == ARCHIVE_OK);
  archive_write_free(a);
  return out;
}

// Compresses bytes with a libarchive write filter ("raw" format).
std::string compress(const std::string& data, Compression c) {
  if (c == Compression::None) return data;
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_raw(a);
  switch (c) {
    case Compression::Gzip: archive_write_add_filter_gzip(a); break;
    case Compression::Zstd: archive_write_add_filter_zstd(a); break;
    case Compression::Bzip2: archive_write_add_filter_bzip2(a); break;
    case Compression::Xz: archive_write_add_filter_xz(a); break;
    case Compression::None: break;
  }
  archive_write_set_bytes_in_last_block(a, 1);
  REQUIRE(archive_write_open(a, &out, nullptr, append_cb, nullptr) == ARCHIVE_OK);
  archive_entry* e = archive_entry_new();
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_pathname(e, "data");
  REQUIRE(archive_write_header(a, e) == ARCHIVE_OK);
  if (!data.empty()) REQUIRE(archive_write_data(a, data.data(), data.size()) == static_cast<la_ssize_t>(data.size()));
  archive_entry_free(e);
  REQUIRE(archive_write_close(a) == ARCHIVE_OK);
  archive_write_free(a);
  return out;
}

std::string write_blob(const TempDir& td, const std::string& name, const std::string& bytes) {
  std::string p = td.path() + "/" + name;
  UniqueFd fd = open_file(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  write_all(fd.get(), bytes);
  return p;
}

std::string hash_of(const std::string& bytes) {
  Sha256 h;
  h.update(bytes);
  return h.digest();
}

struct stat lstat_of(const std::string& p) {
  struct stat st;
  std::memset(&st, 0, sizeof st);
  REQUIRE(::lstat(p.c_str(), &st) == 0);
  return st;
}

std::string xattr_of(const std::string& p, const char* name) {
  char buf[256];
  ssize_t n = ::lgetxattr(p.c_str(), name, buf, sizeof buf);
  return n < 0 ? std::string("<none>") : std::string(buf, static_cast<size_t>(n));
}

// Extracts `tar` (compressed with c) into a fresh dest; returns the result.
struct Fixture {
  TempDir td{"/tmp", "den-lt-"};
  std::string dest = td.path() + "/dest";
  std::vector<std::string> warnings;
  ExtractOptions opts;
  Fixture() {
    mkdirs(dest);
    opts.warn = [this](const std::string& w) { warnings.push_back(w); };
  }
  ExtractResult extract(const std::string& tar, Compression c = Compression::None) {
    std::string blob = write_blob(td, "blob", compress(tar, c));
    return extract_layer(blob, dest, opts);
  }
  std::string path(const std::string& rel) const { return dest + "/" + rel; }
};

template <typename F>
Error catch_error(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  FAIL("expected den::Error");
  return Error("unreachable");
}

}  // namespace

TEST_CASE("detect_compression sniffs magic bytes", "[layer_tar]") {
  const unsigned char gz[] = {0x1f, 0x8b, 0x08, 0x00};
  const unsigned char zs[] = {0x28, 0xb5, 0x2f, 0xfd, 0x00};
  const unsigned char xz[] = {0xfd, '7', 'z', 'X', 'Z', 0x00};
  const unsigned char xz_short[] = {0xfd, '7', 'z', 'X', 'Z'};
  CHECK(detect_compression(gz, sizeof gz) == Compression::Gzip);
  CHECK(detect_compression(gz, 1) == Compression::None);
  CHECK(detect_compression(zs, sizeof zs) == Compression::Zstd);
  CHECK(detect_compression(zs, 3) == Compression::None);
  CHECK(detect_compression("BZh91AY", 7) == Compression::Bzip2);
  CHECK(detect_compression(xz, sizeof xz) == Compression::Xz);
  CHECK(detect_compression(xz_short, sizeof xz_short) == Compression::None);
  CHECK(detect_compression("etc/passwd", 10) == Compression::None);
  CHECK(detect_compression(nullptr, 0) == Compression::None);
  CHECK(compression_name(Compression::None) == "none");
  CHECK(compression_name(Compression::Gzip) == "gzip");
  CHECK(compression_name(Compression::Zstd) == "zstd");
  CHECK(compression_name(Compression::Bzip2) == "bzip2");
  CHECK(compression_name(Compression::Xz) == "xz");

  TempDir td("/tmp", "den-lt-");
  std::string tar = make_tar({{.path = "a", .data = "x"}});
  CHECK(detect_compression_of_file(write_blob(td, "p", tar)) == Compression::None);
  CHECK(detect_compression_of_file(write_blob(td, "g", compress(tar, Compression::Gzip))) == Compression::Gzip);
  CHECK(detect_compression_of_file(write_blob(td, "z", compress(tar, Compression::Zstd))) == Compression::Zstd);
  CHECK(detect_compression_of_file(write_blob(td, "b", compress(tar, Compression::Bzip2))) == Compression::Bzip2);
  CHECK(detect_compression_of_file(write_blob(td, "x", compress(tar, Compression::Xz))) == Compression::Xz);
  CHECK(detect_compression_of_file(write_blob(td, "e", "")) == Compression::None);
  CHECK_THROWS_AS(detect_compression_of_file(td.path() + "/missing"), Error);
}

TEST_CASE("sanitize_entry_path normalizes and refuses unsafe paths", "[layer_tar]") {
  CHECK(sanitize_entry_path("a/b") == std::optional<std::string>("a/b"));
  CHECK(sanitize_entry_path("./a//b/") == std::optional<std::string>("a/b"));
  CHECK(sanitize_entry_path("/etc/x") == std::optional<std::string>("etc/x"));
  CHECK(sanitize_entry_path("///etc//x") == std::optional<std::string>("etc/x"));
  CHECK(sanitize_entry_path("./././a") == std::optional<std::string>("a"));
  CHECK(sanitize_entry_path("a/./b") == std::optional<std::string>("a/b"));
  CHECK(sanitize_entry_path("") == std::optional<std::string>(""));
  CHECK(sanitize_entry_path(".") == std::optional<std::string>(""));
  CHECK(sanitize_entry_path("./") == std::optional<std::string>(""));
  CHECK(sanitize_entry_path("/") == std::optional<std::string>(""));
  CHECK(sanitize_entry_path("...") == std::optional<std::string>("..."));
  CHECK(sanitize_entry_path("..a/b..") == std::optional<std::string>("..a/b.."));
  CHECK(sanitize_entry_path(".wh..wh..opq") == std::optional<std::string>(".wh..wh..opq"));
  CHECK(sanitize_entry_path("a\\..\\b") == std::optional<std::string>("a\\..\\b"));
  CHECK_FALSE(sanitize_entry_path(".."));
  CHECK_FALSE(sanitize_entry_path("../x"));
  CHECK_FALSE(sanitize_entry_path("a/../b"));
  CHECK_FALSE(sanitize_entry_path("a/b/.."));
  CHECK_FALSE(sanitize_entry_path("/../etc/passwd"));
  CHECK_FALSE(sanitize_entry_path("./../x"));
  CHECK_FALSE(sanitize_entry_path(std::string_view("a\0b", 3)));
}

TEST_CASE("classify_whiteout recognizes OCI whiteouts", "[layer_tar]") {
  auto w = classify_whiteout("a/b/.wh.c");
  CHECK(w.kind == WhiteoutKind::Whiteout);
  CHECK(w.target == "a/b/c");
  w = classify_whiteout(".wh.etc");
  CHECK(w.kind == WhiteoutKind::Whiteout);
  CHECK(w.target == "etc");
  w = classify_whiteout("a/b/.wh..wh..opq");
  CHECK(w.kind == WhiteoutKind::Opaque);
  CHECK(w.target == "a/b");
  w = classify_whiteout(".wh..wh..opq");
  CHECK(w.kind == WhiteoutKind::Opaque);
  CHECK(w.target == "");
  w = classify_whiteout("a/.wh..hidden");
  CHECK(w.kind == WhiteoutKind::Whiteout);
  CHECK(w.target == "a/.hidden");
  CHECK(classify_whiteout("a/b/c").kind == WhiteoutKind::None);
  CHECK(classify_whiteout("a/.wh.b/c").kind == WhiteoutKind::None);
  CHECK(classify_whiteout("a/x.wh.b").kind == WhiteoutKind::None);
  CHECK(classify_whiteout(".wh").kind == WhiteoutKind::None);
  CHECK(classify_whiteout("").kind == WhiteoutKind::None);
  CHECK(classify_whiteout("a/.wh..wh..opqx").kind == WhiteoutKind::Whiteout);
}

TEST_CASE("extract_layer keeps files, modes, owners, links, times and xattrs", "[layer_tar]") {
  Fixture f;
  std::string big(300000, '\0');
  for (size_t i = 0; i < big.size(); i++) big[i] = static_cast<char>(i * 7 + i / 1000);
  std::string tar = make_tar({
      {.path = "./etc/", .type = AE_IFDIR, .perm = 0755, .mtime = 1500000000},
      {.path = "./etc/passwd", .data = "root:x:0:0::/root:/bin/sh\n", .mtime = 1234567890},
      {.path = "usr/bin/su", .perm = 04755, .data = "#!/bin/sh\n"},
      {.path = "usr/bin/wall", .perm = 02755, .data = "w", .gid = 5},
      {.path = "tmp", .type = AE_IFDIR, .perm = 01777},
      {.path = "home/user/file", .perm = 0600, .data = "secret", .uid = 1000, .gid = 1001},
      {.path = "big.bin", .data = big},
      {.path = "etc/localtime", .type = AE_IFLNK, .perm = 0777, .symlink = "/usr/share/zoneinfo/UTC"},
      {.path = "etc/passwd-hl", .hardlink = "etc/passwd"},
      {.path = "attr", .data = "a", .xattrs = {{"user.test", "hello"}}},
      {.path = "fifo", .type = AE_IFIFO, .perm = 0600},
      {.path = "ro", .type = AE_IFDIR, .perm = 0555},
      {.path = "ro/inside", .data = "i"},
  });
  ExtractResult r = f.extract(tar);
  CHECK(r.diff_id == hash_of(tar));
  CHECK(r.uncompressed_size == tar.size());
  CHECK(r.entries == 13);
  CHECK(f.warnings.empty());

  CHECK(read_file(f.path("etc/passwd")) == "root:x:0:0::/root:/bin/sh\n");
  CHECK(lstat_of(f.path("etc/passwd")).st_mtim.tv_sec == 1234567890);
  CHECK(lstat_of(f.path("etc")).st_mtim.tv_sec == 1500000000);
  CHECK((lstat_of(f.path("usr/bin/su")).st_mode & 07777) == 04755);
  CHECK((lstat_of(f.path("usr/bin/wall")).st_mode & 07777) == 02755);
  CHECK(lstat_of(f.path("usr/bin/wall")).st_gid == 5);
  CHECK((lstat_of(f.path("tmp")).st_mode & 07777) == 01777);
  CHECK(S_ISDIR(lstat_of(f.path("tmp")).st_mode));
  struct stat home = lstat_of(f.path("home/user/file"));
  CHECK(home.st_uid == 1000);
  CHECK(home.st_gid == 1001);
  CHECK((home.st_mode & 07777) == 0600);
  CHECK(read_file(f.path("big.bin")) == big);
  struct stat ln = lstat_of(f.path("etc/localtime"));
  CHECK(S_ISLNK(ln.st_mode));
  char target[256] = {};
  CHECK(::readlink(f.path("etc/localtime").c_str(), target, sizeof target - 1) > 0);
  CHECK(std::string(target) == "/usr/share/zoneinfo/UTC");
  CHECK(lstat_of(f.path("etc/passwd-hl")).st_ino == lstat_of(f.path("etc/passwd")).st_ino);
  CHECK(lstat_of(f.path("etc/passwd")).st_nlink == 2);
  CHECK(xattr_of(f.path("attr"), "user.test") == "hello");
  CHECK(S_ISFIFO(lstat_of(f.path("fifo")).st_mode));
  CHECK((lstat_of(f.path("ro")).st_mode & 07777) == 0555);
  CHECK(read_file(f.path("ro/inside")) == "i");
}

TEST_CASE("extract_layer handles gzip, zstd, bzip2 and xz with the same diff_id", "[layer_tar]") {
  std::string payload;
  for (int i = 0; i < 200000; i++) payload += std::to_string(i * 31 % 977);
  std::string tar = make_tar({
      {.path = "d", .type = AE_IFDIR, .perm = 0755},
      {.path = "d/payload", .data = payload},
      {.path = "d/small", .data = "small"},
  });
  std::string want = hash_of(tar);
  for (Compression c : {Compression::None, Compression::Gzip, Compression::Zstd, Compression::Bzip2, Compression::Xz}) {
    INFO(compression_name(c));
    Fixture f;
    ExtractResult r = f.extract(tar, c);
    CHECK(r.diff_id == want);
    CHECK(r.uncompressed_size == tar.size());
    CHECK(r.entries == 3);
    CHECK(read_file(f.path("d/payload")) == payload);
    CHECK(read_file(f.path("d/small")) == "small");

    std::string blob = f.td.path() + "/blob";
    ExtractResult d = compute_diff_id(blob);
    CHECK(d.diff_id == want);
    CHECK(d.uncompressed_size == tar.size());

    std::string out_path = f.td.path() + "/layer.tar";
    {
      UniqueFd out = open_file(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ExtractResult s = decompress_to_fd(blob, out.get());
      CHECK(s.diff_id == want);
      CHECK(s.uncompressed_size == tar.size());
    }
    CHECK(read_file(out_path) == tar);
  }
}

TEST_CASE("extract_layer hashes bytes after the end-of-archive marker", "[layer_tar]") {
  std::string tar = make_tar({{.path = "f", .data = "x"}});
  tar += std::string(4096, '\0');
  tar += "trailing garbage after the tar";
  for (Compression c : {Compression::None, Compression::Gzip, Compression::Zstd}) {
    Fixture f;
    ExtractResult r = f.extract(tar, c);
    CHECK(r.diff_id == hash_of(tar));
    CHECK(r.uncompressed_size == tar.size());
    CHECK(read_file(f.path("f")) == "x");
  }
}

TEST_CASE("extract_layer accepts empty layers", "[layer_tar]") {
  std::string tar = make_tar({});
  CHECK(tar.size() == 10240);
  for (Compression c : {Compression::None, Compression::Gzip, Compression::Zstd}) {
    Fixture f;
    ExtractResult r = f.extract(tar, c);
    CHECK(r.diff_id == hash_of(tar));
    CHECK(r.entries == 0);
    CHECK(list_dir(f.dest).empty());
  }
  // Docker's canonical empty layer: two zero blocks.
  Fixture f2;
  std::string zeros(1024, '\0');
  CHECK(f2.extract(zeros).diff_id == hash_of(zeros));
  // A zero-byte blob is an empty stream.
  Fixture f3;
  ExtractResult r3 = f3.extract("");
  CHECK(r3.diff_id == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(r3.uncompressed_size == 0);
  Fixture f4;
  CHECK(f4.extract("", Compression::Gzip).diff_id == hash_of(""));
}

TEST_CASE("extract_layer translates OCI whiteouts to overlay whiteouts", "[layer_tar]") {
  Fixture f;
  std::string tar = make_tar({
      {.path = "etc", .type = AE_IFDIR, .perm = 0755},
      {.path = "etc/.wh.shadow", .perm = 0600},
      {.path = ".wh.tmp"},
      {.path = "opq/.wh..wh..opq"},  // marker before its directory entry
      {.path = "opq", .type = AE_IFDIR, .perm = 0710, .mtime = 1400000000},
      {.path = "opq/new", .data = "n"},
      {.path = "var/.wh..wh..opq"},  // directory has no entry at all
      {.path = "missing/parent/.wh.x"},
      {.path = ".wh.redo"},           // whiteout, then a directory of the same layer
      {.path = "redo", .type = AE_IFDIR, .perm = 0755},
      {.path = "keep", .data = "k"},  // entry, then a whiteout of the same layer
      {.path = ".wh.keep"},
      {.path = ".wh..wh.plnk", .type = AE_IFDIR},  // AUFS metadata: skipped
      {.path = ".wh..wh.plnk/1234.5678", .data = "aufs"},
  });
  ExtractResult r = f.extract(tar, Compression::Gzip);
  CHECK(r.diff_id == hash_of(tar));

  struct stat wo = lstat_of(f.path("etc/shadow"));
  CHECK(S_ISCHR(wo.st_mode));
  CHECK(major(wo.st_rdev) == 0);
  CHECK(minor(wo.st_rdev) == 0);
  CHECK_FALSE(path_exists(f.path("etc/.wh.shadow")));
  CHECK(S_ISCHR(lstat_of(f.path("tmp")).st_mode));
  CHECK_FALSE(path_exists(f.path(".wh.tmp")));

  CHECK(xattr_of(f.path("opq"), "user.overlay.opaque") == "y");
  CHECK(xattr_of(f.path("opq"), "user.fuseoverlayfs.opaque") == "y");
  CHECK((lstat_of(f.path("opq")).st_mode & 07777) == 0710);
  CHECK(lstat_of(f.path("opq")).st_mtim.tv_sec == 1400000000);
  CHECK(read_file(f.path("opq/new")) == "n");
  CHECK_FALSE(path_exists(f.path("opq/.wh..wh..opq")));
  CHECK(xattr_of(f.path("var"), "user.overlay.opaque") == "y");
  CHECK(xattr_of(f.path("etc"), "user.overlay.opaque") == "<none>");
  CHECK(S_ISCHR(lstat_of(f.path("missing/parent/x")).st_mode));

  CHECK(S_ISDIR(lstat_of(f.path("redo")).st_mode));
  CHECK(xattr_of(f.path("redo"), "user.overlay.opaque") == "y");
  CHECK(read_file(f.path("keep")) == "k");
  CHECK_FALSE(path_exists(f.path(".wh..wh.plnk")));
  CHECK_FALSE(path_exists(f.path(".wh.plnk")));
  CHECK(r.entries == 14);
}

TEST_CASE("extract_layer makes the root opaque and applies the root entry", "[layer_tar]") {
  Fixture f;
  std::string tar = make_tar({
      {.path = "./", .type = AE_IFDIR, .perm = 0751, .mtime = 1300000000},
      {.path = ".wh..wh..opq"},
      {.path = "a", .data = "a"},
  });
  f.extract(tar);
  CHECK((lstat_of(f.dest).st_mode & 07777) == 0751);
  CHECK(lstat_of(f.dest).st_mtim.tv_sec == 1300000000);
  CHECK(xattr_of(f.dest, "user.overlay.opaque") == "y");
  CHECK(read_file(f.path("a")) == "a");

  Fixture g;
  Error e = catch_error([&] { g.extract(make_tar({{.path = "./", .data = "file as root"}})); });
  CHECK(e.code() == Errc::Invalid);
  CHECK(is_dir(g.dest));
}

TEST_CASE("extract_layer refuses invalid whiteout names", "[layer_tar]") {
  for (const char* name : {".wh.", "a/.wh..", "a/.wh..."}) {
    INFO(name);
    Fixture f;
    Error e = catch_error([&] { f.extract(make_tar({{.path = "a", .type = AE_IFDIR}, {.path = name}})); });
    CHECK(e.code() == Errc::Invalid);
    CHECK(is_dir(f.path("a")));
  }
}

TEST_CASE("extract_layer strips leading slashes and refuses dot-dot", "[layer_tar]") {
  Fixture f;
  f.extract(make_tar({{.path = "/etc/x", .data = "abs"}, {.path = "//usr///lib/y", .data = "y"}}));
  CHECK(read_file(f.path("etc/x")) == "abs");
  CHECK(read_file(f.path("usr/lib/y")) == "y");

  Fixture g;
  Error e = catch_error([&] { g.extract(make_tar({{.path = "ok", .data = "1"}, {.path = "../x", .data = "evil"}})); });
  CHECK(e.code() == Errc::Invalid);
  CHECK(std::string(e.what()) == "invalid layer: entry \"../x\" escapes the layer root");
  CHECK_FALSE(path_exists(g.td.path() + "/x"));

  Fixture h;
  e = catch_error([&] { h.extract(make_tar({{.path = "a/../../x", .data = "evil"}}), Compression::Gzip); });
  CHECK(e.code() == Errc::Invalid);
  CHECK(std::string(e.what()).find("a/../../x") != std::string::npos);
  CHECK_FALSE(path_exists(h.td.path() + "/x"));

  Fixture k;
  e = catch_error([&] { k.extract(make_tar({{.path = "hl", .hardlink = "../../etc/passwd"}})); });
  CHECK(e.code() == Errc::Invalid);
  CHECK(std::string(e.what()) == "hardlink \"hl\" points to \"../../etc/passwd\", outside the archive");
  CHECK_FALSE(path_exists(k.path("hl")));

  Fixture m;
  e = catch_error([&] { m.extract(make_tar({{.path = "../.wh.x"}})); });
  CHECK(e.code() == Errc::Invalid);
}

TEST_CASE("extract_layer refuses paths through symlinks", "[layer_tar]") {
  // link -> /tmp, then link/evil: refused, nothing written to /tmp.
  Fixture f;
  std::string evil = "den-lt-evil-" + random_hex(12);
  Error e = catch_error([&] {
    f.extract(make_tar({{.path = "link", .type = AE_IFLNK, .perm = 0777, .symlink = "/tmp"},
                        {.path = "link/" + evil, .data = "evil"}}));
  });
  CHECK(e.code() == Errc::Invalid);
  CHECK(std::string(e.what()).find("link/" + evil) != std::string::npos);
  CHECK_FALSE(path_exists("/tmp/" + evil));
  CHECK(S_ISLNK(lstat_of(f.path("link")).st_mode));

  // Relative symlink to a directory outside dest, deeper path.
  Fixture g;
  std::string outside = g.td.path() + "/outside";
  mkdirs(outside);
  e = catch_error([&] {
    g.extract(make_tar({{.path = "d", .type = AE_IFDIR},
                        {.path = "d/up", .type = AE_IFLNK, .perm = 0777, .symlink = "../../outside"},
                        {.path = "d/up/sub/file", .data = "evil"}}),
              Compression::Zstd);
  });
  CHECK(e.code() == Errc::Invalid);
  CHECK(list_dir(outside).empty());

  // Whiteouts and opaque markers through a symlink.
  Fixture h;
  std::string out2 = h.td.path() + "/outside";
  mkdirs(out2);
  e = catch_error([&] {
    h.extract(make_tar({{.path = "l", .type = AE_IFLNK, .perm = 0777, .symlink = out2}, {.path = "l/.wh.x"}}));
  });
  CHECK(e.code() == Errc::Invalid);
  CHECK(list_dir(out2).empty());
  e = catch_error([&] {
    Fixture h2;
    h2.extract(make_tar({{.path = "l", .type = AE_IFLNK, .perm = 0777, .symlink = out2}, {.path = "l/.wh..wh..opq"}}));
  });
  CHECK(e.code() == Errc::Invalid);
  CHECK(xattr_of(out2, "user.overlay.opaque") == "<none>");

  // Hard link whose target goes through a symlink.
  Fixture k;
  std::string out3 = k.td.path() + "/outside";
  mkdirs(out3);
  write_file_atomic(out3 + "/secret", "s");
  e = catch_error([&] {
    k.extract(make_tar({{.path = "l", .type = AE_IFLNK, .perm = 0777, .symlink = out3},
                        {.path = "hl", .hardlink = "l/secret"}}));
  });
  CHECK(e.code() == Errc::Invalid);
  CHECK_FALSE(path_exists(k.path("hl")));
  CHECK(lstat_of(out3 + "/secret").st_nlink == 1);
}

TEST_CASE("extract_layer replaces a symlink instead of writing through it", "[layer_tar]") {
  Fixture f;
  std::string victim = f.td.path() + "/victim";
  write_file_atomic(victim, "original");
  f.extract(make_tar({{.path = "f", .type = AE_IFLNK, .perm = 0777, .symlink = victim},
                      {.path = "f", .data = "replaced"},
                      {.path = "dup", .data = "first"},
                      {.path = "dup", .data = "second"}}));
  CHECK(read_file(victim) == "original");
  CHECK(S_ISREG(lstat_of(f.path("f")).st_mode));
  CHECK(read_file(f.path("f")) == "replaced");
  CHECK(read_file(f.path("dup")) == "second");
}

TEST_CASE("extract_layer hard links a symlink itself, never its target", "[layer_tar]") {
  Fixture f;
  std::string victim = f.td.path() + "/victim";
  write_file_atomic(victim, "original");
  f.extract(make_tar({{.path = "link", .type = AE_IFLNK, .perm = 0777, .symlink = victim},
                      {.path = "hl", .hardlink = "link"}}));
  CHECK(S_ISLNK(lstat_of(f.path("hl")).st_mode));
  CHECK(lstat_of(f.path("hl")).st_ino == lstat_of(f.path("link")).st_ino);
  CHECK(lstat_of(victim).st_nlink == 1);

  Fixture g;
  Error e = catch_error([&] { g.extract(make_tar({{.path = "hl", .hardlink = "does/not/exist"}})); });
  CHECK(e.code() == Errc::Invalid);
  CHECK(std::string(e.what()) == "hardlink \"hl\" points to \"does/not/exist\", outside the archive");
}

TEST_CASE("a hard link to a host path is refused in one clear line, by every extraction", "[layer_tar]") {
  // An absolute target names a path of the archive ("/home/x" is "home/x"),
  // which is not there: the refusal names the entry and its target.
  std::string tar = make_tar({{.path = "a", .data = "1"}, {.path = "hl", .hardlink = "/home/x"}});
  Fixture f;
  Error e = catch_error([&] { f.extract(tar); });
  CHECK(e.code() == Errc::Invalid);
  CHECK(std::string(e.what()) == "hardlink \"hl\" points to \"/home/x\", outside the archive");
  CHECK_FALSE(path_exists(f.path("hl")));

  // volume import and cp (extract_tar, extract_copy) apply the same rule.
  Fixture g;
  std::string blob = write_blob(g.td, "blob", tar);
  UniqueFd fd = open_file(blob, O_RDONLY);
  e = catch_error([&] { extract_tar(fd.get(), g.dest, UntarOptions{}); });
  CHECK(e.code() == Errc::Invalid);
  CHECK(std::string(e.what()) == "hardlink \"hl\" points to \"/home/x\", outside the archive");
  CHECK_FALSE(path_exists(g.path("hl")));

  // A target extracted before is fine, absolute or not.
  Fixture h;
  std::string ok = write_blob(h.td, "ok", make_tar({{.path = "a", .data = "1"}, {.path = "hl", .hardlink = "/a"}}));
  UniqueFd okfd = open_file(ok, O_RDONLY);
  extract_tar(okfd.get(), h.dest, UntarOptions{});
  CHECK(lstat_of(h.path("hl")).st_ino == lstat_of(h.path("a")).st_ino);
}

TEST_CASE("volume import and cp skip device nodes rootless, as layers do", "[layer_tar]") {
  std::string tar = make_tar({
      {.path = "dev", .type = AE_IFDIR},
      {.path = "dev/null", .type = AE_IFCHR, .perm = 0666, .rmajor = 1, .rminor = 3},
      {.path = "dev/sda", .type = AE_IFBLK, .perm = 0660, .rmajor = 8, .rminor = 0},
      {.path = "dev/null-hl", .hardlink = "dev/null"},
      {.path = "dev/after", .data = "x"},
  });
  Fixture f;
  std::string blob = write_blob(f.td, "blob", tar);
  UniqueFd fd = open_file(blob, O_RDONLY);
  UntarOptions o;
  o.rootless = true;
  extract_tar(fd.get(), f.dest, o);  // no error, nothing half done
  CHECK_FALSE(path_exists(f.path("dev/null")));
  CHECK_FALSE(path_exists(f.path("dev/sda")));
  CHECK_FALSE(path_exists(f.path("dev/null-hl")));
  CHECK(read_file(f.path("dev/after")) == "x");

  Fixture g;
  UniqueFd fd2 = open_file(blob, O_RDONLY);
  o.rootless = false;
  extract_tar(fd2.get(), g.dest, o);
  CHECK(S_ISCHR(lstat_of(g.path("dev/null")).st_mode));
  CHECK(S_ISBLK(lstat_of(g.path("dev/sda")).st_mode));
  CHECK(lstat_of(g.path("dev/null-hl")).st_ino == lstat_of(g.path("dev/null")).st_ino);
}

TEST_CASE("extract_layer resolves a dest reached through a symlink", "[layer_tar]") {
  Fixture f;
  std::string alias = f.td.path() + "/alias";
  REQUIRE(::symlink(f.dest.c_str(), alias.c_str()) == 0);
  std::string blob = write_blob(f.td, "blob", make_tar({{.path = "a/b", .data = "ab"}}));
  extract_layer(blob, alias + "/", f.opts);
  CHECK(read_file(f.path("a/b")) == "ab");
  CHECK(S_ISLNK(lstat_of(alias).st_mode));
  CHECK_THROWS_AS(extract_layer(blob, f.td.path() + "/missing", f.opts), Error);
}

TEST_CASE("extract_layer skips device nodes rootless and keeps them as root", "[layer_tar]") {
  std::string tar = make_tar({
      {.path = "dev", .type = AE_IFDIR},
      {.path = "dev/null", .type = AE_IFCHR, .perm = 0666, .rmajor = 1, .rminor = 3},
      {.path = "dev/sda", .type = AE_IFBLK, .perm = 0660, .rmajor = 8, .rminor = 0},
      {.path = "dev/null-hl", .hardlink = "dev/null"},
      {.path = "wh", .type = AE_IFCHR, .perm = 0, .rmajor = 0, .rminor = 0},
      {.path = "dev/after", .data = "x"},
  });
  Fixture f;
  ExtractResult r = f.extract(tar);
  CHECK(r.entries == 6);
  CHECK_FALSE(path_exists(f.path("dev/null")));
  CHECK_FALSE(path_exists(f.path("dev/sda")));
  CHECK_FALSE(path_exists(f.path("dev/null-hl")));
  CHECK(S_ISCHR(lstat_of(f.path("wh")).st_mode));
  CHECK(read_file(f.path("dev/after")) == "x");
  REQUIRE(f.warnings.size() == 3);
  CHECK(f.warnings[0].find("dev/null") != std::string::npos);
  CHECK(f.warnings[1].find("dev/sda") != std::string::npos);

  Fixture g;
  g.opts.rootless = false;
  g.extract(tar);
  struct stat st = lstat_of(g.path("dev/null"));
  CHECK(S_ISCHR(st.st_mode));
  CHECK(major(st.st_rdev) == 1);
  CHECK(minor(st.st_rdev) == 3);
  CHECK(S_ISBLK(lstat_of(g.path("dev/sda")).st_mode));
  CHECK(g.warnings.empty());
}

TEST_CASE("extract_layer drops overlay xattrs from entries", "[layer_tar]") {
  Fixture f;
  f.extract(make_tar({{.path = "d",
                       .type = AE_IFDIR,
                       .xattrs = {{"user.overlay.opaque", "y"}, {"trusted.overlay.redirect", "/x"}, {"user.keep", "1"}}}}));
  CHECK(xattr_of(f.path("d"), "user.overlay.opaque") == "<none>");
  CHECK(xattr_of(f.path("d"), "trusted.overlay.redirect") == "<none>");
  CHECK(xattr_of(f.path("d"), "user.keep") == "1");
}

TEST_CASE("extract_layer keeps sparse files sparse", "[layer_tar]") {
  Fixture f;
  const size_t size = 8 << 20, at = 4 << 20;
  std::string content(size, '\0');
  for (size_t i = at; i < at + 4096; i++) content[i] = 'z';
  std::string tar = make_tar({{.path = "sparse", .data = content, .sparse = {{at, 4096}}}});
  CHECK(tar.size() < 64 * 1024);  // the hole is not in the archive
  f.extract(tar);
  struct stat st = lstat_of(f.path("sparse"));
  CHECK(st.st_size == static_cast<off_t>(size));
  CHECK(st.st_blocks * 512 < static_cast<blkcnt_t>(size / 2));
  CHECK((read_file(f.path("sparse")) == content));
}

TEST_CASE("extract_layer refuses corrupt and truncated archives", "[layer_tar]") {
  // Incompressible, so that half of the compressed blob ends inside "a".
  std::string payload(1 << 20, '\0');
  uint64_t x = 88172645463325252ull;
  for (auto& ch : payload) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    ch = static_cast<char>(x);
  }
  std::string tar = make_tar({{.path = "a", .data = payload}, {.path = "b", .data = "b"}});

  for (Compression c : {Compression::Gzip, Compression::Zstd, Compression::Xz}) {
    INFO(compression_name(c));
    Fixture f;
    std::string z = compress(tar, c);
    std::string blob = write_blob(f.td, "blob", z.substr(0, z.size() / 2));
    Error e = catch_error([&] { extract_layer(blob, f.dest, f.opts); });
    CHECK(e.code() == Errc::Invalid);
    INFO(e.what());
    CHECK(std::string(e.what()).rfind("invalid layer: entry \"a\": ", 0) == 0);
    CHECK(std::string(e.what()).find(std::string(compression_name(c)) + " stream") != std::string::npos);
    CHECK_THROWS_AS(compute_diff_id(blob), Error);
  }

  Fixture t;
  Error e = catch_error([&] { t.extract(tar.substr(0, 1000)); });
  CHECK(e.code() == Errc::Invalid);
  CHECK(std::string(e.what()).find("entry \"a\"") != std::string::npos);

  // A damaged header checksum is an error, not a silently skipped entry.
  Fixture d;
  std::string damaged = make_tar({{.path = "a", .data = "1"}, {.path = "b", .data = "2"}});
  size_t second = damaged.find(std::string("b\0", 2), 512);
  REQUIRE(second != std::string::npos);
  damaged[second + 148] = static_cast<char>(damaged[second + 148] ^ 1);
  e = catch_error([&] { d.extract(damaged); });
  CHECK(e.code() == Errc::Invalid);
  CHECK(std::string(e.what()).find("Damaged tar archive") != std::string::npos);

  Fixture g;
  std::string garbage(5000, 'x');
  e = catch_error([&] { g.extract(garbage); });
  CHECK(e.code() == Errc::Invalid);

  // libarchive 3.6 does not check the gzip CRC; corrupted content is caught
  // by the diff_id, which the caller compares with the image config.
  Fixture h;
  std::string z = compress(tar, Compression::Gzip);
  for (size_t i = z.size() / 2; i < z.size() / 2 + 8; i++) z[i] = static_cast<char>(z[i] ^ 0x55);
  std::string blob = write_blob(h.td, "blob", z);
  bool detected = false;
  try {
    detected = extract_layer(blob, h.dest, h.opts).diff_id != hash_of(tar);
  } catch (const Error& err) {
    detected = err.code() == Errc::Invalid;
  }
  CHECK(detected);

  Fixture m;
  e = catch_error([&] { extract_layer(m.td.path() + "/nope", m.dest, m.opts); });
  CHECK(e.code() == Errc::NotFound);
}

TEST_CASE("extract_layer reports ENOSPC with its errno", "[layer_tar]") {
  Fixture f;
  std::string mnt = f.td.path() + "/small";
  mkdirs(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=256k") != 0) {
    WARN("cannot mount tmpfs here; skipping ENOSPC test");
    return;
  }
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{mnt};
  std::string data(2 << 20, 'q');
  std::string blob = write_blob(f.td, "blob", compress(make_tar({{.path = "big", .data = data}}), Compression::Gzip));
  Error e = catch_error([&] { extract_layer(blob, mnt, f.opts); });
  CHECK(e.code() != Errc::Invalid);
  CHECK(e.sys_errno() == ENOSPC);
  CHECK(std::string(e.what()).find("big") != std::string::npos);
}
