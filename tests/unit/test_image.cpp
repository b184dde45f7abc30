#include <catch2/catch.hpp>

#include "den/error.h"
#include "den/fs.h"
#include "den/hash.h"
#include "den/image.h"
#include "den/store.h"

using namespace den;

TEST_CASE("--change instructions update the image config", "[image]") {
  Json c = Json::object();
  apply_change(c, "CMD [\"/bin/sh\", \"-c\", \"echo hi\"]");
  CHECK(c["Cmd"] == Json::array({"/bin/sh", "-c", "echo hi"}));
  apply_change(c, "CMD echo hello");
  CHECK(c["Cmd"] == Json::array({"/bin/sh", "-c", "echo hello"}));
  apply_change(c, "ENTRYPOINT [\"/init\"]");
  CHECK(c["Entrypoint"] == Json::array({"/init"}));
  apply_change(c, "ENV A=1 B=\"two words\"");
  apply_change(c, "ENV C legacy form");
  apply_change(c, "env A=3");
  CHECK(c["Env"] == Json::array({"A=3", "B=two words", "C=legacy form"}));
  apply_change(c, "EXPOSE 80 53/udp");
  CHECK(c["ExposedPorts"].contains("80/tcp"));
  CHECK(c["ExposedPorts"].contains("53/udp"));
  apply_change(c, "LABEL a=b c=\"d e\"");
  CHECK(c["Labels"]["c"] == "d e");
  apply_change(c, "USER 1000:1000");
  apply_change(c, "WORKDIR /srv");
  apply_change(c, "STOPSIGNAL SIGINT");
  apply_change(c, "VOLUME /data /logs");
  apply_change(c, "VOLUME [\"/x\"]");
  CHECK(c["User"] == "1000:1000");
  CHECK(c["WorkingDir"] == "/srv");
  CHECK(c["StopSignal"] == "SIGINT");
  CHECK(c["Volumes"].size() == 3);
}

TEST_CASE("bad --change is refused with the instruction named", "[image]") {
  Json c = Json::object();
  CHECK_THROWS_WITH(apply_change(c, "RUN rm -rf /"), Catch::Contains("unknown instruction \"RUN\""));
  CHECK_THROWS_WITH(apply_change(c, "EXPOSE http"), Catch::Contains("invalid port"));
  CHECK_THROWS_WITH(apply_change(c, "CMD"), Catch::Contains("missing arguments"));
  CHECK_THROWS_WITH(apply_change(c, "ENV"), Catch::Contains("invalid change"));
}

TEST_CASE("chain ids follow the OCI definition", "[image]") {
  std::string a = sha256_digest("a"), b = sha256_digest("b");
  auto c = chain_ids({a, b});
  REQUIRE(c.size() == 2);
  CHECK(c[0] == a);
  CHECK(c[1] == sha256_digest(a + " " + b));
}

TEST_CASE("config validation", "[image]") {
  CHECK_THROWS_WITH(validate_config(Json::parse(R"({"rootfs":{"type":"layers"}})")), Catch::Contains("diff_ids"));
  CHECK_THROWS_WITH(validate_config(Json::parse(R"({"rootfs":{"type":"x","diff_ids":[]}})")),
                    Catch::Contains("rootfs.type"));
  CHECK_NOTHROW(validate_config(Json::parse(R"({"rootfs":{"type":"layers","diff_ids":[]}})")));
  CHECK(config_created(Json::parse(R"({"created":"1970-01-01T00:00:01Z"})")) == 1000000000);
}

TEST_CASE("store records: names move, prefixes resolve, rmi semantics", "[image][store]") {
  TempDir dir("/tmp", "den-unit-store-");
  Config cfg;
  cfg.graphroot = dir.path();
  Store s(cfg);
  ImageRecord a, b;
  a.id = std::string(64, 'a');
  a.names = {"docker.io/library/bb:latest", "localhost/bb:1"};
  a.created = 2;
  b.id = "ab" + std::string(62, 'c');
  b.names = {"docker.io/library/other:latest"};
  b.created = 1;
  s.add_image(a);
  s.add_image(b);
  CHECK(s.lookup_image("bb").id == a.id);
  CHECK(s.lookup_image("docker.io/library/bb:latest").id == a.id);
  CHECK(s.lookup_image("localhost/bb:1").id == a.id);
  CHECK(s.lookup_image("ab").id == b.id);  // a unique prefix
  CHECK_THROWS_WITH(s.lookup_image("a"), Catch::Contains("ambiguous"));
  CHECK(s.lookup_image("sha256:" + a.id).id == a.id);
  CHECK_THROWS_WITH(s.lookup_image("nope"), Catch::Contains("No such image: nope"));
  CHECK_THROWS_WITH(s.lookup_image("upper/CASE"), Catch::Contains("invalid reference format"));

  // Tagging moves the name.
  s.tag_image(b.id, "docker.io/library/bb:latest");
  CHECK(s.lookup_image("bb").id == b.id);
  // rmi by ID of an image with several names needs force.
  s.tag_image(b.id, "docker.io/library/third:latest");
  CHECK_THROWS_WITH(s.remove_image(b.id, false), Catch::Contains("must be forced"));
  auto r = s.remove_image("third", false);
  CHECK(!r.deleted);
  CHECK(r.untagged == std::vector<std::string>{"docker.io/library/third:latest"});
  auto r2 = s.remove_image(b.id, true);
  CHECK(r2.deleted);
  CHECK(s.images().size() == 1);
  CHECK(s.images()[0].names == std::vector<std::string>{"localhost/bb:1"});
}
