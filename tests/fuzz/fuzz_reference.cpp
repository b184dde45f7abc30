// Image references (src/image/reference.cpp): parse, normalize and print
// again; the printed forms must parse back to the same reference.
#include <algorithm>
#include <cstdlib>

#include "common.h"
#include "den/reference.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string s = fuzz::text(data, size);
  den::looks_like_id(s);
  fuzz::expect_den_errors([&] { den::is_short_name(s); });
  fuzz::expect_den_errors([&] { den::parse_docker_ref(s); });
  fuzz::expect_den_errors([&] { den::parse_named_tagged(s); });
  auto r = den::try_parse_reference(s);
  if (!r) return 0;
  // Round trips: the canonical and the familiar string name the same image.
  auto again = den::try_parse_reference(r->string());
  if (!again || !(*again == *r)) {
    std::fprintf(stderr, "fuzz: \"%s\" does not parse back to itself\n", r->string().c_str());
    std::abort();
  }
  // The familiar form drops "docker.io/", so a path whose first component
  // looks like a domain ("docker.io/a.b/c" -> "a.b/c") names another
  // registry: docker's format, not a bug. Every other one round-trips.
  std::string first = r->path.substr(0, r->path.find('/'));
  bool domain_like = first.find_first_of(".:") != std::string::npos || first == "localhost" ||
                     std::any_of(first.begin(), first.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
  auto fam = den::try_parse_reference(r->familiar_string());
  if (r->path.find('/') != std::string::npos && domain_like) return 0;
  if (!fam || !(*fam == *r)) {
    std::fprintf(stderr, "fuzz: familiar \"%s\" of \"%s\" does not parse back\n", r->familiar_string().c_str(),
                 r->string().c_str());
    std::abort();
  }
  r->with_default_tag();
  r->familiar_name();
  return 0;
}
