#include <catch2/catch.hpp>

#include "den/error.h"
#include "den/reference.h"

#include <string>

using den::parse_reference;
using den::Reference;

namespace {

const std::string kHex = "86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";
const std::string kDigest = "sha256:" + kHex;

// The message parse_reference throws for s, or "" when it parses.
std::string parse_error(const std::string& s) {
  try {
    parse_reference(s);
    return "";
  } catch (const den::Error& e) {
    CHECK(e.code() == den::Errc::Invalid);
    return e.message();
  }
}

std::string canonical(const std::string& s) { return parse_reference(s).string(); }

}  // namespace

TEST_CASE("official images get docker.io and library/", "[reference]") {
  Reference r = parse_reference("busybox");
  CHECK(r.domain == "docker.io");
  CHECK(r.path == "library/busybox");
  CHECK(r.tag.empty());
  CHECK(r.digest.empty());
  CHECK(r.name() == "docker.io/library/busybox");
  CHECK(r.string() == "docker.io/library/busybox");
  CHECK(r.with_default_tag().string() == "docker.io/library/busybox:latest");
  CHECK(den::parse_named_tagged("busybox").string() == "docker.io/library/busybox:latest");

  CHECK(canonical("docker.io/busybox") == "docker.io/library/busybox");
  CHECK(canonical("index.docker.io/library/busybox") == "docker.io/library/busybox");
  CHECK(canonical("index.docker.io/busybox") == "docker.io/library/busybox");
  CHECK(canonical("library/busybox") == "docker.io/library/busybox");
  CHECK(canonical("busybox:1.36") == "docker.io/library/busybox:1.36");
}

TEST_CASE("user repositories and other registries", "[reference]") {
  Reference r = parse_reference("user/repo");
  CHECK(r.domain == "docker.io");
  CHECK(r.path == "user/repo");

  r = parse_reference("localhost/bb:1");
  CHECK(r.domain == "localhost");
  CHECK(r.path == "bb");
  CHECK(r.tag == "1");

  r = parse_reference("localhost:5000/tz/bb");
  CHECK(r.domain == "localhost:5000");
  CHECK(r.path == "tz/bb");
  CHECK(r.string() == "localhost:5000/tz/bb");

  r = parse_reference("quay.io/a/b/c:v1.2");
  CHECK(r.domain == "quay.io");
  CHECK(r.path == "a/b/c");
  CHECK(r.tag == "v1.2");

  CHECK(parse_reference("test-com:8080/foo").domain == "test-com:8080");
  CHECK(parse_reference("xn--n3h.com:18080/foo").domain == "xn--n3h.com:18080");
  CHECK(parse_reference("127.0.0.1:5000/debian").domain == "127.0.0.1:5000");
  // Without a '.', ':' or "localhost" the first component is a namespace.
  CHECK(parse_reference("test_com/foo").domain == "docker.io");
  CHECK(parse_reference("test_com/foo").path == "test_com/foo");
  // Upper case only fits a domain, so docker takes it as one.
  CHECK(parse_reference("Foo/bar").domain == "Foo");
  CHECK(parse_reference("Foo/bar").path == "bar");
  // A lone name is never a domain, even one that looks like it.
  CHECK(canonical("localhost") == "docker.io/library/localhost");
  CHECK(canonical("192.168.0.1") == "docker.io/library/192.168.0.1");
  CHECK(canonical("192.168.0.1:80") == "docker.io/library/192.168.0.1:80");
  CHECK(canonical("localhost:5000") == "docker.io/library/localhost:5000");
}

TEST_CASE("IPv6 registries", "[reference]") {
  Reference r = parse_reference("[fc00::1]:5000/docker/docker:v1");
  CHECK(r.domain == "[fc00::1]:5000");
  CHECK(r.path == "docker/docker");
  CHECK(r.tag == "v1");
  CHECK(parse_reference("[fc00:1:2:3:4:5:6:7]/debian").domain == "[fc00:1:2:3:4:5:6:7]");
  CHECK(parse_error("[fc00::1]") == "invalid reference format");
  CHECK(parse_error("[fc00::1]:5000") == "invalid reference format");
  CHECK(parse_error("fc00::1:5000/debian") == "invalid reference format");
  CHECK(parse_error("[fe80::1%eth0]:5000/debian") == "invalid reference format");
  CHECK(parse_error("[2001:db8:3:4::192.0.2.33]:5000/debian") == "invalid reference format");
}

TEST_CASE("tags and digests", "[reference]") {
  Reference r = parse_reference("busybox@" + kDigest);
  CHECK(r.tag.empty());
  CHECK(r.digest == kDigest);
  CHECK(r.with_default_tag().tag.empty());
  CHECK(r.string() == "docker.io/library/busybox@" + kDigest);

  r = parse_reference("busybox:latest@" + kDigest);
  CHECK(r.tag == "latest");
  CHECK(r.digest == kDigest);
  CHECK(r.string() == "docker.io/library/busybox:latest@" + kDigest);
  CHECK(r.familiar_string() == "busybox:latest@" + kDigest);
  // ParseDockerRef keeps only the digest.
  CHECK(den::parse_docker_ref("busybox:latest@" + kDigest).string() ==
        "docker.io/library/busybox@" + kDigest);
  CHECK(den::parse_docker_ref("busybox").string() == "docker.io/library/busybox:latest");
  CHECK(den::parse_docker_ref("busybox:1").string() == "docker.io/library/busybox:1");

  r = parse_reference("localhost:5000/a/b:tag@" + kDigest);
  CHECK(r.domain == "localhost:5000");
  CHECK(r.path == "a/b");
  CHECK(r.tag == "tag");

  CHECK(parse_reference("a:_under").tag == "_under");
  CHECK(parse_reference("a:V1.2-rc_3").tag == "V1.2-rc_3");
  CHECK(parse_reference("a:" + std::string(128, 'x')).tag.size() == 128);
  std::string sha512 = "sha512:" + std::string(128, 'a');
  CHECK(parse_reference("a@" + sha512).digest == sha512);
}

TEST_CASE("path component separators", "[reference]") {
  CHECK(parse_reference("a.b").path == "library/a.b");
  CHECK(parse_reference("a_b").path == "library/a_b");
  CHECK(parse_reference("dock__er/docker").path == "dock__er/docker");
  CHECK(parse_reference("docker---rules/docker").path == "docker---rules/docker");
  CHECK(parse_reference("d/docker").path == "d/docker");
  CHECK(parse_error("a___b") == "invalid reference format");
  CHECK(parse_error("dock..er/docker") == "invalid reference format");
  CHECK(parse_error("dock_.er/docker") == "invalid reference format");
  CHECK(parse_error("dock-.er/docker") == "invalid reference format");
  CHECK(parse_error("-docker") == "invalid reference format");
  CHECK(parse_error("docker-/docker") == "invalid reference format");
  CHECK(parse_error("_docker/_docker") == "invalid reference format");
  CHECK(parse_error("docker///docker") == "invalid reference format");
  CHECK(parse_error("docker/") == "invalid reference format");
  CHECK(parse_error("https://github.com/docker/docker") == "invalid reference format");
}

TEST_CASE("familiar names", "[reference]") {
  CHECK(parse_reference("docker.io/library/busybox").familiar_name() == "busybox");
  CHECK(parse_reference("busybox:1.36").familiar_string() == "busybox:1.36");
  CHECK(parse_reference("docker.io/tz/bb").familiar_name() == "tz/bb");
  CHECK(parse_reference("localhost:5000/tz/bb:v1").familiar_string() == "localhost:5000/tz/bb:v1");
  CHECK(parse_reference("localhost/bb").familiar_name() == "localhost/bb");
  // library/ is stripped only when nothing is nested under it.
  CHECK(parse_reference("library/foo/bar").familiar_name() == "library/foo/bar");
  CHECK(parse_reference("other/library").familiar_name() == "other/library");
  CHECK(parse_reference("quay.io/library/x").familiar_name() == "quay.io/library/x");
  CHECK(parse_reference("busybox@" + kDigest).familiar_string() == "busybox@" + kDigest);
}

TEST_CASE("round trips through the canonical and familiar forms", "[reference]") {
  const char* inputs[] = {
      "busybox",         "busybox:1.36",      "tz/bb:v2",
      "quay.io/a/b/c:v1", "localhost:5000/x", "[::1]:5000/a/b:c",
  };
  for (const char* in : inputs) {
    Reference r = parse_reference(in);
    CHECK(parse_reference(r.string()) == r);
    CHECK(parse_reference(r.familiar_string()) == r);
  }
  CHECK(parse_reference("tz/bb:v2").familiar_string() == "tz/bb:v2");
  CHECK(parse_reference("busybox:1.36").familiar_string() == "busybox:1.36");
}

TEST_CASE("upper case in the repository path", "[reference]") {
  CHECK(parse_error("UPPER") ==
        "invalid reference format: repository name (library/UPPER) must be lowercase");
  CHECK(parse_error("docker/Docker") ==
        "invalid reference format: repository name (docker/Docker) must be lowercase");
  CHECK(parse_error("docker.io/docker/Docker:tag") ==
        "invalid reference format: repository name (docker/Docker) must be lowercase");
  // Upper case is fine in tags.
  CHECK(parse_reference("busybox:LATEST").tag == "LATEST");
  // An upper-case first component that is not a valid domain either.
  CHECK(parse_error("Foo_x/bar") == "repository name must be lowercase");
}

TEST_CASE("malformed references", "[reference]") {
  CHECK(parse_error("") == "invalid reference format");
  CHECK(parse_error("a::b") == "invalid reference format");
  CHECK(parse_error(":tag") == "invalid reference format");
  CHECK(parse_error("busybox:") == "invalid reference format");
  CHECK(parse_error("@" + kDigest) == "invalid reference format");
  CHECK(parse_error("busybox@") == "invalid reference format");
  CHECK(parse_error("a@b@" + kDigest) == "invalid reference format");
  CHECK(parse_error("busybox:-tag") == "invalid reference format");
  CHECK(parse_error("busybox:" + std::string(129, 'x')) == "invalid reference format");
  CHECK(parse_error("busybox a") == "invalid reference format");
  CHECK_FALSE(den::try_parse_reference("a::b").has_value());
  CHECK(den::try_parse_reference("busybox").has_value());
  CHECK_THROWS_AS(parse_reference("a::b"), den::Error);
}

TEST_CASE("digest validation", "[reference]") {
  // Shorter than 32 hex digits: not a digest at all.
  CHECK(parse_error("busybox@sha256:abc") == "invalid reference format");
  CHECK(parse_error("busybox@sha256:" + kHex.substr(1)) == "invalid checksum digest format");
  CHECK(parse_error("busybox@sha256:" + kHex + "0") == "invalid checksum digest format");
  std::string upper = kHex;
  upper[0] = 'A';
  CHECK(parse_error("busybox@sha256:" + upper) == "invalid checksum digest format");
  CHECK(parse_error("busybox@md5:" + std::string(32, 'a')) == "unsupported digest algorithm");
  CHECK(parse_error("busybox:1@SHA256:" + kHex) == "invalid checksum digest format");
  // Without a tag, docker's lowercase check sees everything up to the first ':'.
  CHECK(parse_error("busybox@SHA256:" + kHex) ==
        "invalid reference format: repository name (library/busybox@SHA256) must be lowercase");
  CHECK(parse_error("busybox@sha256:" + std::string(63, 'a') + "g") == "invalid reference format");
}

TEST_CASE("64-hex strings and name length", "[reference]") {
  CHECK(parse_error(kHex) == "invalid repository name (" + kHex +
                                 "), cannot specify 64-byte hexadecimal strings");
  // One character short, or with a registry, it is a name.
  CHECK(canonical(kHex.substr(1)) == "docker.io/library/" + kHex.substr(1));
  CHECK(canonical("docker.io/" + kHex) == "docker.io/library/" + kHex);
  // The path, "library/" included, may have 255 characters.
  CHECK(parse_reference(std::string(247, 'a')).path.size() == 255);
  CHECK(parse_error(std::string(248, 'a')) ==
        "repository name must not be more than 255 characters");
}

TEST_CASE("short names", "[reference]") {
  CHECK(den::is_short_name("busybox"));
  CHECK(den::is_short_name("busybox:1.36"));
  CHECK(den::is_short_name("tz/bb"));
  CHECK(den::is_short_name("library/busybox@" + kDigest));
  CHECK_FALSE(den::is_short_name("docker.io/busybox"));
  CHECK_FALSE(den::is_short_name("index.docker.io/library/busybox"));
  CHECK_FALSE(den::is_short_name("localhost/bb"));
  CHECK_FALSE(den::is_short_name("localhost:5000/bb"));
  CHECK_FALSE(den::is_short_name("quay.io/a/b"));
  CHECK_FALSE(den::is_short_name("[::1]/a"));
}

TEST_CASE("ID prefixes", "[reference]") {
  CHECK(den::looks_like_id("a"));
  CHECK(den::looks_like_id("0123abcdef"));
  CHECK(den::looks_like_id(kHex));
  CHECK_FALSE(den::looks_like_id(""));
  CHECK_FALSE(den::looks_like_id(kHex + "a"));
  CHECK_FALSE(den::looks_like_id("ABCDEF"));
  CHECK_FALSE(den::looks_like_id("busybox"));
  CHECK_FALSE(den::looks_like_id("sha256:abc"));
}
