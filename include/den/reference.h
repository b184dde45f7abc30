// Image references, parsed and normalized exactly as docker does
// (github.com/distribution/reference): "busybox" is
// "docker.io/library/busybox:latest", "localhost:5000/a/b@sha256:..." keeps
// its registry. Invalid input throws den::Error(Errc::Invalid) with docker's
// wording ("invalid reference format: repository name (library/UPPER) must be
// lowercase").
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace den {

inline constexpr std::string_view kDefaultDomain = "docker.io";
inline constexpr std::string_view kOfficialRepoPrefix = "library/";
inline constexpr std::string_view kDefaultTag = "latest";

struct Reference {
  std::string domain;  // "docker.io", "localhost:5000", "quay.io", "localhost"
  std::string path;    // "library/busybox", "tz/bb"
  std::string tag;     // "" when none was given (see with_default_tag)
  std::string digest;  // "sha256:<hex>" or ""

  // domain/path: "docker.io/library/busybox".
  std::string name() const;
  // name[:tag][@digest]: the canonical full string.
  std::string string() const;
  // docker's short form for display: "busybox", "tz/bb", "localhost:5000/tz/bb".
  std::string familiar_name() const;
  // familiar_name()[:tag][@digest].
  std::string familiar_string() const;
  // Adds tag "latest" when neither tag nor digest is present.
  Reference with_default_tag() const;
  bool operator==(const Reference&) const = default;
};

// Parses and normalizes. Throws den::Error(Errc::Invalid) on bad input.
Reference parse_reference(std::string_view s);
// As parse_reference, nullopt instead of throwing.
std::optional<Reference> try_parse_reference(std::string_view s);
// parse_reference(s).with_default_tag().
Reference parse_named_tagged(std::string_view s);
// docker's ParseDockerRef, the form pull and run resolve: a reference with
// both a tag and a digest keeps only the digest; one with neither gets
// "latest".
Reference parse_docker_ref(std::string_view s);
// True when the user wrote no registry ("busybox", "tz/bb"), i.e. the domain
// was filled in by normalization. Used for short-name resolution.
bool is_short_name(std::string_view s);
// True if s could be (a prefix of) an image/container ID: 1..64 lowercase hex.
bool looks_like_id(std::string_view s);

}  // namespace den
