// Image references (src/image/reference.cpp): parse, normalize and print
// again; the printed forms must parse back to the same reference.
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
  auto fam = den::try_parse_reference(r->familiar_string());
  if (!fam || !(*fam == *r)) {
    std::fprintf(stderr, "fuzz: familiar \"%s\" of \"%s\" does not parse back\n", r->familiar_string().c_str(),
                 r->string().c_str());
    std::abort();
  }
  r->with_default_tag();
  r->familiar_name();
  return 0;
}
