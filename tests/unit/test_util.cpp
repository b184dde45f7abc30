#include <catch2/catch.hpp>

#include "den/error.h"
#include "den/fs.h"
#include "den/strings.h"
#include "den/timefmt.h"

#include <ctime>
#include <string>
#include <vector>

namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kWeek = 7 * kDay;
constexpr int64_t kMonth = 30 * kDay;
constexpr int64_t kYear = 365 * kDay;

// 2024-05-01T10:20:30Z
constexpr int64_t kMay1Seconds = 1714558830;
constexpr den::UnixNanos kMay1 = kMay1Seconds * kSecond;
// 2024-05-01T00:00:00Z
constexpr den::UnixNanos kMay1Midnight = 1714521600 * kSecond;

// The local zone's offset at t, in nanoseconds east of UTC.
int64_t local_offset_nanos(den::UnixNanos t) {
  time_t secs = static_cast<time_t>(t / kSecond);
  struct tm tm {};
  localtime_r(&secs, &tm);
  return tm.tm_gmtoff * kSecond;
}

}  // namespace

TEST_CASE("RFC 3339 formatting drops trailing zeros of the fraction", "[timefmt]") {
  using den::format_rfc3339_nano;
  CHECK(format_rfc3339_nano(0) == "1970-01-01T00:00:00Z");
  CHECK(format_rfc3339_nano(kMay1) == "2024-05-01T10:20:30Z");
  CHECK(format_rfc3339_nano(kMay1 + 123456789) == "2024-05-01T10:20:30.123456789Z");
  CHECK(format_rfc3339_nano(kMay1 + 500000000) == "2024-05-01T10:20:30.5Z");
  CHECK(format_rfc3339_nano(kMay1 + 1000) == "2024-05-01T10:20:30.000001Z");
  CHECK(format_rfc3339_nano(951868799 * kSecond) == "2000-02-29T23:59:59Z");
  CHECK(format_rfc3339_nano(-1) == "1969-12-31T23:59:59.999999999Z");
  CHECK(format_rfc3339_nano(-14182940 * kSecond) == "1969-07-20T20:17:40Z");
  CHECK(format_rfc3339_nano(INT64_MAX) == "2262-04-11T23:47:16.854775807Z");
  CHECK(format_rfc3339_nano(INT64_MIN) == "1677-09-21T00:12:43.145224192Z");
}

TEST_CASE("RFC 3339 parsing", "[timefmt]") {
  using den::parse_rfc3339;
  CHECK(parse_rfc3339("2024-05-01T10:20:30Z") == kMay1);
  CHECK(parse_rfc3339("2024-05-01T10:20:30.123456789Z") == kMay1 + 123456789);
  CHECK(parse_rfc3339("2024-05-01T10:20:30.5Z") == kMay1 + 500000000);
  // Digits past nanoseconds are dropped, not rounded.
  CHECK(parse_rfc3339("2024-05-01T10:20:30.1234567899Z") == kMay1 + 123456789);
  CHECK(parse_rfc3339("2024-05-01T12:20:30+02:00") == kMay1);
  CHECK(parse_rfc3339("2024-05-01T03:20:30-07:00") == kMay1);
  CHECK(parse_rfc3339("2024-02-29T00:00:00Z").has_value());
  for (den::UnixNanos t : {int64_t{0}, kMay1 + 1, int64_t{-1}, kMay1 + 120 * kMonth}) {
    CHECK(parse_rfc3339(den::format_rfc3339_nano(t)) == t);
  }
  CHECK_FALSE(parse_rfc3339("2024-05-01T10:20:30").has_value());
  CHECK_FALSE(parse_rfc3339("2024-05-01").has_value());
  CHECK_FALSE(parse_rfc3339("2023-02-29T00:00:00Z").has_value());
  CHECK_FALSE(parse_rfc3339("2024-13-01T00:00:00Z").has_value());
  CHECK_FALSE(parse_rfc3339("2024-05-01T24:00:00Z").has_value());
  CHECK_FALSE(parse_rfc3339("2024-05-01T10:60:00Z").has_value());
  CHECK_FALSE(parse_rfc3339("2024-05-01 10:20:30Z").has_value());
  CHECK_FALSE(parse_rfc3339("2024-05-01T10:20:30.Z").has_value());
  CHECK_FALSE(parse_rfc3339("2024-05-01T10:20:30Zjunk").has_value());
  CHECK_FALSE(parse_rfc3339("24-05-01T10:20:30Z").has_value());
}

TEST_CASE("Go durations", "[timefmt]") {
  using den::parse_go_duration_nanos;
  CHECK(parse_go_duration_nanos("300ms") == 300'000'000);
  CHECK(parse_go_duration_nanos("1.5h") == 90 * kMinute);
  CHECK(parse_go_duration_nanos("2h45m") == 2 * kHour + 45 * kMinute);
  CHECK(parse_go_duration_nanos("-1s") == -kSecond);
  CHECK(parse_go_duration_nanos("+2.5s") == 2'500'000'000);
  CHECK(parse_go_duration_nanos(".5s") == 500'000'000);
  CHECK(parse_go_duration_nanos("1.s") == kSecond);
  CHECK(parse_go_duration_nanos("0") == 0);
  CHECK(parse_go_duration_nanos("-0") == 0);
  CHECK(parse_go_duration_nanos("0s") == 0);
  CHECK(parse_go_duration_nanos("1ns") == 1);
  CHECK(parse_go_duration_nanos("1us") == 1000);
  CHECK(parse_go_duration_nanos("1\u00b5s") == 1000);
  CHECK(parse_go_duration_nanos("1\u03bcs") == 1000);
  CHECK(parse_go_duration_nanos("1h1h") == 2 * kHour);
  CHECK(parse_go_duration_nanos("9223372036854775807ns") == INT64_MAX);
  CHECK(parse_go_duration_nanos("-9223372036854775808ns") == INT64_MIN);
  CHECK_FALSE(parse_go_duration_nanos("9223372036854775808ns").has_value());
  CHECK_FALSE(parse_go_duration_nanos("2562048h").has_value());
  CHECK_FALSE(parse_go_duration_nanos("").has_value());
  CHECK_FALSE(parse_go_duration_nanos("-").has_value());
  CHECK_FALSE(parse_go_duration_nanos("1").has_value());
  CHECK_FALSE(parse_go_duration_nanos("1x").has_value());
  CHECK_FALSE(parse_go_duration_nanos(".s").has_value());
  CHECK_FALSE(parse_go_duration_nanos("1d").has_value());
  CHECK_FALSE(parse_go_duration_nanos("1h 2m").has_value());
}

TEST_CASE("docker --since/--until values", "[timefmt]") {
  using den::parse_docker_time;
  const den::UnixNanos now = kMay1 + 123456789;

  // Durations count back from now and are cut to whole seconds.
  CHECK(parse_docker_time("10m", now) == kMay1 - 10 * kMinute);
  CHECK(parse_docker_time("1h30m", now) == kMay1 - 90 * kMinute);
  CHECK(parse_docker_time("2.5s", now) == kMay1 - 3 * kSecond);
  CHECK(parse_docker_time("-1m", now) == kMay1 + kMinute);

  // Unix seconds, with an optional fraction.
  CHECK(parse_docker_time("0", now) == 0);
  CHECK(parse_docker_time("1714558830", now) == kMay1);
  CHECK(parse_docker_time("1714558830.5", now) == kMay1 + 500'000'000);
  CHECK(parse_docker_time("1714558830.000000001", now) == kMay1 + 1);

  // Time stamps with a zone.
  CHECK(parse_docker_time("2024-05-01T10:20:30Z", now) == kMay1);
  CHECK(parse_docker_time("2024-05-01T10:20:30.25Z", now) == kMay1 + 250'000'000);
  CHECK(parse_docker_time("2024-05-01T12:20:30+02:00", now) == kMay1);
  CHECK(parse_docker_time("2024-05-01T03:20:30-07:00", now) == kMay1);
  CHECK(parse_docker_time("2024-05-01T10:20Z", now) == kMay1 - 30 * kSecond);
  CHECK(parse_docker_time("2024-05-01T10Z", now) == kMay1Midnight + 10 * kHour);
  CHECK(parse_docker_time("2024-05-01Z", now) == kMay1Midnight);
  CHECK(parse_docker_time("2024-05-01+02:00", now) == kMay1Midnight - 2 * kHour);

  // Without a zone, in the local zone.
  const int64_t offset = local_offset_nanos(now);
  CHECK(parse_docker_time("2024-05-01", now) == kMay1Midnight - offset);
  CHECK(parse_docker_time("2024-05-01T10:20:30", now) == kMay1 - offset);
  CHECK(parse_docker_time("2024-05-01T10:20", now) == kMay1 - 30 * kSecond - offset);
  CHECK(parse_docker_time("2024-05-01T10:20:30.5", now) == kMay1 + 500'000'000 - offset);

  CHECK_FALSE(parse_docker_time("", now).has_value());
  CHECK_FALSE(parse_docker_time("yesterday", now).has_value());
  CHECK_FALSE(parse_docker_time("2024-13-01", now).has_value());
  CHECK_FALSE(parse_docker_time("2024-05-01T25:00:00Z", now).has_value());
  CHECK_FALSE(parse_docker_time("-5", now).has_value());
  CHECK_FALSE(parse_docker_time("10.5.5", now).has_value());
  CHECK_FALSE(parse_docker_time("10.", now).has_value());
}

TEST_CASE("human durations match go-units", "[timefmt]") {
  using den::human_duration;
  CHECK(human_duration(-5 * kSecond) == "Less than a second");
  CHECK(human_duration(450'000'000) == "Less than a second");
  CHECK(human_duration(kSecond) == "1 second");
  CHECK(human_duration(45 * kSecond) == "45 seconds");
  CHECK(human_duration(59 * kSecond) == "59 seconds");
  CHECK(human_duration(60 * kSecond) == "About a minute");
  CHECK(human_duration(119 * kSecond) == "About a minute");
  CHECK(human_duration(3 * kMinute) == "3 minutes");
  CHECK(human_duration(35 * kMinute + 40 * kSecond) == "35 minutes");
  CHECK(human_duration(59 * kMinute + 59 * kSecond) == "59 minutes");
  CHECK(human_duration(kHour) == "About an hour");
  CHECK(human_duration(kHour + 29 * kMinute) == "About an hour");
  CHECK(human_duration(kHour + 31 * kMinute) == "2 hours");
  CHECK(human_duration(3 * kHour + 29 * kMinute) == "3 hours");
  CHECK(human_duration(3 * kHour + 31 * kMinute) == "4 hours");
  CHECK(human_duration(24 * kHour) == "24 hours");
  CHECK(human_duration(kDay + 12 * kHour) == "36 hours");
  CHECK(human_duration(2 * kDay) == "2 days");
  CHECK(human_duration(13 * kDay + 5 * kHour) == "13 days");
  CHECK(human_duration(2 * kWeek) == "2 weeks");
  CHECK(human_duration(4 * kWeek + 3 * kDay) == "4 weeks");
  CHECK(human_duration(kMonth + 2 * kWeek) == "6 weeks");
  CHECK(human_duration(2 * kMonth) == "2 months");
  CHECK(human_duration(5 * kMonth + 2 * kWeek) == "5 months");
  CHECK(human_duration(24 * kMonth) == "24 months");
  CHECK(human_duration(24 * kMonth + 2 * kWeek) == "2 years");
  CHECK(human_duration(3 * kYear + 2 * kMonth) == "3 years");
  CHECK(den::human_since(kMay1 - 3 * kMinute, kMay1) == "3 minutes ago");
  CHECK(den::human_since(kMay1, kMay1) == "Less than a second ago");
}

TEST_CASE("human sizes match go-units", "[timefmt]") {
  using den::human_size;
  CHECK(human_size(0) == "0B");
  CHECK(human_size(999) == "999B");
  CHECK(human_size(1000) == "1kB");
  CHECK(human_size(1024) == "1.02kB");
  CHECK(human_size(1234) == "1.23kB");
  CHECK(human_size(12345678) == "12.3MB");
  CHECK(human_size(123456789) == "123MB");
  CHECK(human_size(1.5e9) == "1.5GB");
  CHECK(human_size(999999) == "1e+03kB");  // as docker prints it
  CHECK(human_size(1e24) == "1YB");
  CHECK(human_size(1e27) == "1e+03YB");

  using den::bytes_size;
  CHECK(bytes_size(0) == "0B");
  CHECK(bytes_size(1023) == "1023B");
  CHECK(bytes_size(1024) == "1KiB");
  CHECK(bytes_size(5000) == "4.883KiB");
  CHECK(bytes_size(1.5 * 1024 * 1024) == "1.5MiB");
  CHECK(bytes_size(3.42 * 1024 * 1024 * 1024) == "3.42GiB");
  CHECK(bytes_size(5.372 * 1024 * 1024 * 1024 * 1024) == "5.372TiB");
}

TEST_CASE("RAM sizes match go-units RAMInBytes", "[timefmt]") {
  using den::parse_ram_bytes;
  constexpr int64_t kKiB = 1024;
  constexpr int64_t kMiB = 1024 * kKiB;
  constexpr int64_t kGiB = 1024 * kMiB;
  CHECK(parse_ram_bytes("1024") == 1024);
  CHECK(parse_ram_bytes("32b") == 32);
  CHECK(parse_ram_bytes("32B") == 32);
  CHECK(parse_ram_bytes("512k") == 512 * kKiB);
  CHECK(parse_ram_bytes("32Kb") == 32 * kKiB);
  CHECK(parse_ram_bytes("32KIB") == 32 * kKiB);
  CHECK(parse_ram_bytes("300M") == 300 * kMiB);
  CHECK(parse_ram_bytes("32 mb") == 32 * kMiB);
  CHECK(parse_ram_bytes("1g") == kGiB);
  CHECK(parse_ram_bytes("1.5GiB") == kGiB * 3 / 2);
  CHECK(parse_ram_bytes("32Tb") == 32 * 1024 * kGiB);
  CHECK(parse_ram_bytes("2p") == 2 * 1024 * 1024 * kGiB);
  CHECK(parse_ram_bytes("32.3") == 32);
  CHECK(parse_ram_bytes("0.3MB") == 314572);
  CHECK(parse_ram_bytes("1e3") == 1000);
  CHECK_FALSE(parse_ram_bytes("").has_value());
  CHECK_FALSE(parse_ram_bytes("hello").has_value());
  CHECK_FALSE(parse_ram_bytes("-32").has_value());
  CHECK_FALSE(parse_ram_bytes(" 32 ").has_value());
  CHECK_FALSE(parse_ram_bytes("32m b").has_value());
  CHECK_FALSE(parse_ram_bytes("32bm").has_value());
  CHECK_FALSE(parse_ram_bytes("32ki").has_value());
  CHECK_FALSE(parse_ram_bytes("32kbb").has_value());
  CHECK_FALSE(parse_ram_bytes("32x").has_value());
  CHECK_FALSE(parse_ram_bytes("1.2.3k").has_value());
  CHECK_FALSE(parse_ram_bytes("10000p").has_value());  // past int64
}

TEST_CASE("split, split_once and join", "[strings]") {
  using V = std::vector<std::string>;
  CHECK(den::split("a,b,,c", ',') == V{"a", "b", "", "c"});
  CHECK(den::split("abc", ',') == V{"abc"});
  CHECK(den::split("", ',') == V{""});
  CHECK(den::split(",", ',') == V{"", ""});

  bool found = false;
  auto kv = den::split_once("a=b=c", '=', &found);
  CHECK(found);
  CHECK(kv.first == "a");
  CHECK(kv.second == "b=c");
  kv = den::split_once("abc", '=', &found);
  CHECK_FALSE(found);
  CHECK(kv.first == "abc");
  CHECK(kv.second.empty());
  CHECK(den::split_once("a=", '=').second.empty());

  CHECK(den::join({"a", "b", "c"}, ", ") == "a, b, c");
  CHECK(den::join({"a"}, ",") == "a");
  CHECK(den::join({}, ",").empty());
  CHECK(den::join(den::split("x:y:z", ':'), ":") == "x:y:z");
}

TEST_CASE("trim, to_lower and contains", "[strings]") {
  CHECK(den::trim("  a b \n") == "a b");
  CHECK(den::trim("\t\r\n ") == "");
  CHECK(den::trim("x") == "x");
  CHECK(den::to_lower("AbC-1_Z") == "abc-1_z");
  CHECK(den::contains("hello", "ell"));
  CHECK(den::contains("hello", ""));
  CHECK_FALSE(den::contains("hello", "xyz"));
}

TEST_CASE("shell quoting", "[strings]") {
  CHECK(den::shell_quote("abc") == "abc");
  CHECK(den::shell_quote("/usr/bin/env") == "/usr/bin/env");
  CHECK(den::shell_quote("--opt=a,b:c@d%e+f") == "--opt=a,b:c@d%e+f");
  CHECK(den::shell_quote("") == "''");
  CHECK(den::shell_quote("a b") == "'a b'");
  CHECK(den::shell_quote("$HOME") == "'$HOME'");
  CHECK(den::shell_quote("say \"hi\"") == "'say \"hi\"'");
  CHECK(den::shell_quote("it's") == "'it'\"'\"'s'");
}

TEST_CASE("edit distance", "[strings]") {
  CHECK(den::levenshtein("kitten", "sitting") == 3);
  CHECK(den::levenshtein("flaw", "lawn") == 2);
  CHECK(den::levenshtein("", "abc") == 3);
  CHECK(den::levenshtein("abc", "") == 3);
  CHECK(den::levenshtein("abc", "abc") == 0);
  CHECK(den::levenshtein("ps", "pss") == 1);
  CHECK(den::levenshtein("images", "image") == 1);
}

TEST_CASE("read_file_bounded reads up to the limit and refuses more", "[fs]") {
  using namespace den;
  TempDir td("/tmp", "den-rb-");
  std::string p = td.path() + "/f";
  write_file_atomic(p, std::string(100, 'x'));
  CHECK(read_file_bounded(p, 100, "f").size() == 100);
  CHECK(read_file_bounded(p, 200000, "f").size() == 100);
  try {
    read_file_bounded(p, 99, "manifest.json in the archive");
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::Invalid);
    CHECK(std::string(e.what()) == "manifest.json in the archive is larger than the limit of 99 bytes");
  }
  CHECK(format_limit(4u << 20) == "4 MiB");
  CHECK(format_limit(64 * 1024) == "64 KiB");
}
