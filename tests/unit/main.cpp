#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
// TAP reporter (-r tap), used by tests/run to count the unit test cases.
#include <catch2/catch_reporter_tap.hpp>
