// What `system check` finds and repairs in the store, and the recovery paths
// it relies on: dangling container names, unreferenced blobs, volume import
// through the staging area, overlapping subordinate ranges.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "den/container.h"
#include "den/copy.h"
#include "den/error.h"
#include "den/fs.h"
#include "den/hash.h"
#include "den/lock.h"
#include "den/store.h"
#include "den/userns.h"
#include "den/volume.h"

using namespace den;

namespace {

Config store_config(const TempDir& dir) {
  Config cfg;
  cfg.graphroot = dir.path() + "/root";
  cfg.runroot = dir.path() + "/run";
  return cfg;
}

std::vector<std::string> whats(const std::vector<Store::Leftover>& v) {
  std::vector<std::string> out;
  for (const auto& l : v) out.push_back(l.what + " " + basename_of(l.path));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("overlapping subordinate ranges are named with the fix", "[userns][check]") {
  CHECK(subid_overlap_problem("u", false, {}) == "");
  CHECK(subid_overlap_problem("u", false, {{100000, 65536}}) == "");
  // Adjacent ranges do not overlap.
  CHECK(subid_overlap_problem("u", false, {{100000, 65536}, {165536, 65536}}) == "");
  CHECK(subid_overlap_problem("u", false, {{100000, 0}, {100000, 65536}}) == "");
  std::string p = subid_overlap_problem("dentest", false, {{100000, 65536}, {165536, 100}, {165000, 65536}});
  CHECK_THAT(p, Catch::Contains("/etc/subuid overlap (100000-165535 and 165000-230535)"));
  CHECK_THAT(p, Catch::Contains("newuidmap fails with \"Invalid argument\""));
  CHECK_THAT(p, Catch::Contains("usermod --del-subuids 100000-230535 dentest && usermod --add-subuids 100000-230535 dentest"));
  // Debian's useradd range and the same one added again by hand.
  std::string g = subid_overlap_problem("bob", true, {{165536, 65536}, {165536, 65536}});
  CHECK_THAT(g, Catch::Contains("/etc/subgid overlap (165536-231071 and 165536-231071)"));
  CHECK_THAT(g, Catch::Contains("newgidmap"));
  CHECK_THAT(g, Catch::Contains("--del-subgids 165536-231071 bob"));
  CHECK(g.find('\n') == std::string::npos);
}

TEST_CASE("a name whose container directory is missing is reclaimed, a busy one is not", "[containers][check]") {
  TempDir dir("/tmp", "den-unit-names-");
  Config cfg = store_config(dir);
  Store store(cfg);
  ContainerStore cs(store);
  ContainerConfig c;
  c.name = "web";
  c = cs.create(c);
  std::string names = cfg.graphroot + "/containers/names";
  CHECK(cs.dangling_names().empty());
  CHECK(!cs.reclaim_name("web"));  // it names a container
  CHECK(!cs.reclaim_name("nosuch"));

  // A den killed between reserving the name and creating the container.
  write_file_atomic(names + "/x", std::string(64, 'f'), 0600);
  write_file_atomic(names + "/empty", "", 0600);  // a power loss
  CHECK(cs.dangling_names() == std::vector<std::string>{"empty", "x"});
  {
    // Its creator is still at work: not dangling, and not taken.
    UniqueFd held = open_file(names + "/x", O_RDONLY);
    REQUIRE(::flock(held.get(), LOCK_EX) == 0);
    CHECK(cs.dangling_names() == std::vector<std::string>{"empty"});
    CHECK(!cs.reclaim_name("x"));
    ContainerConfig again;
    again.name = "x";
    CHECK_THROWS_AS(cs.create(again), Error);
    CHECK(path_exists(names + "/x"));
  }
  CHECK(cs.reclaim_name("empty"));
  CHECK(!path_exists(names + "/empty"));
  // create reclaims it by itself, at once.
  ContainerConfig x;
  x.name = "x";
  x = cs.create(x);
  CHECK(cs.resolve("x") == x.id);
  CHECK(cs.dangling_names().empty());
  // A name that names a container is never reclaimed.
  ContainerConfig dup;
  dup.name = "web";
  CHECK_THROWS_WITH(cs.create(dup), Catch::Contains("already in use"));
  // Removal frees the name.
  cs.remove(x.id);
  CHECK(!path_exists(names + "/x"));
}

TEST_CASE("unreferenced blobs, layers, partial downloads and temp files are found and collected",
          "[store][check]") {
  TempDir dir("/tmp", "den-unit-gc-");
  Config cfg = store_config(dir);
  Store s(cfg);
  s.prepare_for_write();
  bool busy = true;
  CHECK(s.unreferenced(&busy).empty());
  CHECK(!busy);
  std::string config_digest = s.put_blob("{\"config\":1}");
  std::string manifest_digest = s.put_blob("{\"manifest\":1}");
  ImageRecord rec;
  rec.id = digest_hex(config_digest);
  rec.manifest_digest = manifest_digest;
  rec.names = {"localhost/a:1"};
  s.add_image(rec);
  CHECK(s.unreferenced(&busy).empty());

  std::string orphan = s.put_blob("a blob of a load that ran out of space");
  write_file_atomic(cfg.graphroot + "/blobs/sha256/.tmp-x-1", "half", 0644);
  write_file_atomic(s.partial_path("sha256:" + std::string(64, '1')), "part", 0644);
  mkdirs(s.layer_dir("sha256:" + std::string(64, '2')) + "/diff", 0755);
  CHECK(whats(s.unreferenced(&busy)) ==
        std::vector<std::string>{"interrupted download " + std::string(64, '1'), "temporary blob file .tmp-x-1",
                                 "unreferenced blob " + digest_hex(orphan),
                                 "unreferenced layer " + std::string(64, '2')});
  {
    // A load in progress: its blobs are no leftovers, and GC keeps off.
    FileLock loading = s.hold_off_gc();
    CHECK(s.unreferenced(&busy).empty());
    CHECK(busy);
    CHECK(!s.garbage_collect());
  }
  CHECK(s.garbage_collect());
  CHECK(s.unreferenced(&busy).empty());
  CHECK(!busy);
  CHECK(s.has_blob(config_digest));
  CHECK(s.has_blob(manifest_digest));
  CHECK(!s.has_blob(orphan));
}

TEST_CASE("volume import goes through staging: all or nothing, contents kept", "[volumes][check]") {
  TempDir dir("/tmp", "den-unit-vol-");
  Config cfg = store_config(dir);
  Store store(cfg);
  VolumeStore vs(store);
  Volume v;
  v.name = "data";
  vs.create(v);
  std::string data = vs.data_dir("data");
  write_file_atomic(data + "/old", "kept", 0644);
  // An archive of new/f.
  mkdirs(dir.path() + "/src/new", 0755);
  write_file_atomic(dir.path() + "/src/new/f", "hello", 0644);
  std::string tar = dir.path() + "/in.tar";
  {
    UniqueFd out = open_file(tar, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    write_tar(out.get(), dir.path() + "/src", ".");
  }
  {
    UniqueFd in = open_file(tar, O_RDONLY);
    import_volume_tar(vs, "data", in.get());
  }
  CHECK(read_file(data + "/old") == "kept");
  CHECK(read_file(data + "/new/f") == "hello");
  CHECK(list_dir(cfg.graphroot + "/tmp").empty());

  // A broken archive changes nothing and leaves nothing.
  std::string whole = read_file(tar);
  std::string cut = dir.path() + "/cut.tar";
  write_file_atomic(cut, whole.substr(0, 700) + std::string(100, 'x'), 0644);
  write_file_atomic(dir.path() + "/src/new/f", "changed", 0644);
  {
    UniqueFd in = open_file(cut, O_RDONLY);
    CHECK_THROWS(import_volume_tar(vs, "data", in.get()));
  }
  CHECK(read_file(data + "/new/f") == "hello");
  CHECK(read_file(data + "/old") == "kept");
  CHECK(list_dir(cfg.graphroot + "/tmp").empty());
  CHECK_THROWS_WITH(import_volume_tar(vs, "nosuch", 0), Catch::Contains("no such volume"));
}
