// Shared by the libFuzzer targets (see README.md here). A den::Error is the
// expected answer to bad input; anything else that escapes (another
// exception, a crash, an ASan or UBSan report) is a finding.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "den/error.h"
#include "den/log.h"

namespace fuzz {

inline std::string text(const uint8_t* data, size_t size) { return std::string(reinterpret_cast<const char*>(data), size); }

// Runs f; den::Error is fine (printed with DEN_FUZZ_VERBOSE set, to see
// where an input goes), any other exception aborts with its message.
template <class F>
void expect_den_errors(F&& f) {
  try {
    f();
  } catch (const den::Error& e) {
    static const bool verbose = std::getenv("DEN_FUZZ_VERBOSE") != nullptr;
    if (verbose) std::fprintf(stderr, "fuzz: den::Error: %s\n", e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: an exception other than den::Error escaped: %s\n", e.what());
    std::abort();
  }
}

}  // namespace fuzz
