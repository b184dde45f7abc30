// Times and sizes as docker prints and parses them. The behaviour follows, rule
// by rule, Go's time package (RFC3339Nano formatting, time.Parse of the
// layouts docker uses, time.ParseDuration), docker/go-units (HumanDuration,
// HumanSizeWithPrecision, BytesSize, RAMInBytes) and the docker CLI's
// GetTimestamp for --since/--until.
#include "den/timefmt.h"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iterator>

namespace den {

namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;
constexpr int64_t kSecondsPerDay = 86'400;
constexpr uint64_t kMaxMagnitude = uint64_t{1} << 63;  // |INT64_MIN|

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

bool contains_any(std::string_view s, std::string_view chars) {
  return s.find_first_of(chars) != std::string_view::npos;
}

size_t count_char(std::string_view s, char c) {
  size_t n = 0;
  for (char x : s) n += (x == c);
  return n;
}

// a*b+c in int64, nullopt on overflow.
std::optional<int64_t> checked_mul_add(int64_t a, int64_t b, int64_t c) {
  int64_t product = 0;
  int64_t sum = 0;
  if (__builtin_mul_overflow(a, b, &product) || __builtin_add_overflow(product, c, &sum)) {
    return std::nullopt;
  }
  return sum;
}

// --- calendar ----------------------------------------------------------------
// Days since 1970-01-01 <-> proleptic Gregorian dates (H. Hinnant's algorithms).

struct Date {
  int64_t year;
  int month;  // 1..12
  int day;    // 1..31
};

int64_t days_from_civil(Date d) {
  int64_t y = d.month <= 2 ? d.year - 1 : d.year;
  int64_t era = floor_div(y, 400);
  int64_t year_of_era = y - era * 400;
  int64_t month_from_march = (d.month + 9) % 12;
  int64_t day_of_year = (153 * month_from_march + 2) / 5 + d.day - 1;
  int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

Date civil_from_days(int64_t days) {
  days += 719468;
  int64_t era = floor_div(days, 146097);
  int64_t day_of_era = days - era * 146097;
  int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  int64_t month_from_march = (5 * day_of_year + 2) / 153;
  int day = static_cast<int>(day_of_year - (153 * month_from_march + 2) / 5 + 1);
  int month = static_cast<int>(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
  int64_t year = year_of_era + era * 400 + (month <= 2 ? 1 : 0);
  return {year, month, day};
}

bool is_leap(int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int days_in_month(int64_t year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && is_leap(year)) return 29;
  return kDays[month - 1];
}

// --- parsing time stamps -----------------------------------------------------

// Reads a string left to right, like Go's time.Parse walks its layout.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}

  bool done() const { return pos_ == s_.size(); }
  char peek(size_t ahead = 0) const { return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : '\0'; }

  bool eat(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }

  // Reads at least min_digits and at most max_digits decimal digits.
  std::optional<int> number(size_t min_digits, size_t max_digits) {
    size_t n = 0;
    int value = 0;
    while (n < max_digits && is_digit(peek())) {
      value = value * 10 + (peek() - '0');
      ++pos_;
      ++n;
    }
    if (n < min_digits) return std::nullopt;
    return value;
  }

  // Reads every following digit, returning them.
  std::string_view digit_run() {
    size_t start = pos_;
    while (is_digit(peek())) ++pos_;
    return s_.substr(start, pos_ - start);
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

// Which clock fields a layout has after the date.
enum class Clock { None, Hour, HourMinute, HourMinuteSecond };

struct Layout {
  Clock clock;
  bool zone;  // ends in Go's "Z07:00": "Z" or "+hh:mm"/"-hh:mm"
};

struct Fields {
  Date date{1970, 1, 1};
  int hour = 0;
  int minute = 0;
  int second = 0;
  int64_t nanos = 0;
  int64_t offset_seconds = 0;  // east of UTC
};

// "2006-01-02": a 4-digit year, 2-digit month and day.
bool parse_date(Cursor& c, Fields& f) {
  auto year = c.number(4, 4);
  if (!year || !c.eat('-')) return false;
  auto month = c.number(2, 2);
  if (!month || !c.eat('-')) return false;
  auto day = c.number(2, 2);
  if (!day) return false;
  if (*month < 1 || *month > 12) return false;
  if (*day < 1 || *day > days_in_month(*year, *month)) return false;
  f.date = {*year, *month, *day};
  return true;
}

// A fraction of a second after the seconds, "." or "," then digits; Go
// accepts one even when the layout has none. Digits past the ninth are
// dropped.
void parse_fraction(Cursor& c, Fields& f) {
  if (!((c.peek() == '.' || c.peek() == ',') && is_digit(c.peek(1)))) return;
  c.eat(c.peek());
  std::string_view digits = c.digit_run();
  int64_t nanos = 0;
  for (size_t i = 0; i < 9; ++i) {
    nanos = nanos * 10 + (i < digits.size() ? digits[i] - '0' : 0);
  }
  f.nanos = nanos;
}

// "T15", "T15:04" or "T15:04:05[.frac]"; the hour may have one digit.
bool parse_clock(Cursor& c, Clock clock, Fields& f) {
  if (clock == Clock::None) return true;
  auto hour = c.number(1, 2);
  if (!hour || *hour > 23) return false;
  f.hour = *hour;
  if (clock == Clock::Hour) return true;
  auto minute = c.eat(':') ? c.number(2, 2) : std::nullopt;
  if (!minute || *minute > 59) return false;
  f.minute = *minute;
  if (clock == Clock::HourMinute) return true;
  auto second = c.eat(':') ? c.number(2, 2) : std::nullopt;
  if (!second || *second > 59) return false;
  f.second = *second;
  parse_fraction(c, f);
  return true;
}

// Go's "Z07:00": "Z" for UTC or a "+hh:mm" / "-hh:mm" offset.
bool parse_zone(Cursor& c, Fields& f) {
  if (c.eat('Z')) return true;
  char sign = c.peek();
  if (sign != '+' && sign != '-') return false;
  c.eat(sign);
  auto hours = c.number(2, 2);
  auto minutes = (hours && c.eat(':')) ? c.number(2, 2) : std::nullopt;
  if (!minutes || *hours > 24 || *minutes > 60) return false;
  int64_t offset = *hours * 3600 + *minutes * 60;
  f.offset_seconds = sign == '-' ? -offset : offset;
  return true;
}

std::optional<UnixNanos> to_unix_nanos(const Fields& f) {
  int64_t seconds = days_from_civil(f.date) * kSecondsPerDay + f.hour * 3600 + f.minute * 60 +
                    f.second - f.offset_seconds;
  return checked_mul_add(seconds, kNanosPerSecond, f.nanos);
}

// Parses s in one layout. Without a zone in the layout, the time is read in
// the fixed offset local_offset (seconds east of UTC).
std::optional<UnixNanos> parse_layout(std::string_view s, Layout layout, int64_t local_offset) {
  Cursor c(s);
  Fields f;
  f.offset_seconds = local_offset;
  if (!parse_date(c, f)) return std::nullopt;
  if (layout.clock != Clock::None && !c.eat('T')) return std::nullopt;
  if (!parse_clock(c, layout.clock, f)) return std::nullopt;
  if (layout.zone && !parse_zone(c, f)) return std::nullopt;
  if (!c.done()) return std::nullopt;
  return to_unix_nanos(f);
}

// The local zone's offset from UTC at time t, as Go's time.Now().Zone() gives.
int64_t local_offset_at(UnixNanos t) {
  time_t secs = static_cast<time_t>(floor_div(t, kNanosPerSecond));
  struct tm tm {};
  if (localtime_r(&secs, &tm) == nullptr) return 0;
  return tm.tm_gmtoff;
}

// Picks the layout the docker CLI's GetTimestamp would use for value.
Layout docker_layout(std::string_view value, bool zone) {
  if (value.find('.') != std::string_view::npos) return {Clock::HourMinuteSecond, zone};
  if (value.find('T') == std::string_view::npos) return {Clock::None, zone};
  size_t colons = count_char(value, ':');
  // A "+hh:mm"/"-hh:mm" offset brings a colon of its own.
  if (zone && !contains_any(value, "zZ") && colons > 0) --colons;
  if (colons == 0) return {Clock::Hour, zone};
  if (colons == 1) return {Clock::HourMinute, zone};
  return {Clock::HourMinuteSecond, zone};
}

// strconv.ParseInt(s, 10, 64).
std::optional<int64_t> parse_int64(std::string_view s) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);  // from_chars takes only '-'
  int64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

// The docker daemon's parseTimestamp: "seconds[.fraction]".
std::optional<UnixNanos> parse_unix_timestamp(std::string_view s) {
  size_t dot = s.find('.');
  auto seconds = parse_int64(s.substr(0, dot));
  if (!seconds) return std::nullopt;
  if (dot == std::string_view::npos) return checked_mul_add(*seconds, kNanosPerSecond, 0);
  std::string_view fraction = s.substr(dot + 1);
  auto digits = parse_int64(fraction);
  if (!digits) return std::nullopt;
  // The fraction's digits scaled to nanoseconds, as docker does it (through
  // a float64).
  double scale = 1.0;
  for (size_t i = fraction.size(); i < 9; ++i) scale *= 10.0;
  for (size_t i = 9; i < fraction.size(); ++i) scale /= 10.0;
  auto nanos = static_cast<int64_t>(static_cast<double>(*digits) * scale);
  return checked_mul_add(*seconds, kNanosPerSecond, nanos);
}

// --- durations ---------------------------------------------------------------

std::optional<uint64_t> duration_unit(std::string_view unit) {
  if (unit == "ns") return 1;
  if (unit == "us" || unit == "\u00b5s" || unit == "\u03bcs") return 1'000;
  if (unit == "ms") return 1'000'000;
  if (unit == "s") return 1'000'000'000;
  if (unit == "m") return 60'000'000'000;
  if (unit == "h") return 3'600'000'000'000;
  return std::nullopt;
}

// Go's leadingInt: digits into a uint64, failing above 1<<63.
std::optional<uint64_t> leading_int(std::string_view& s) {
  uint64_t x = 0;
  size_t i = 0;
  for (; i < s.size() && is_digit(s[i]); ++i) {
    if (x > kMaxMagnitude / 10) return std::nullopt;
    x = x * 10 + static_cast<uint64_t>(s[i] - '0');
    if (x > kMaxMagnitude) return std::nullopt;
  }
  s.remove_prefix(i);
  return x;
}

struct Fraction {
  uint64_t digits = 0;
  double scale = 1;  // value = digits / scale
};

// Go's leadingFraction: digits that no longer fit are ignored.
Fraction leading_fraction(std::string_view& s) {
  Fraction f;
  bool overflow = false;
  size_t i = 0;
  for (; i < s.size() && is_digit(s[i]); ++i) {
    if (overflow) continue;
    if (f.digits > (kMaxMagnitude - 1) / 10) {
      overflow = true;
      continue;
    }
    uint64_t next = f.digits * 10 + static_cast<uint64_t>(s[i] - '0');
    if (next > kMaxMagnitude) {
      overflow = true;
      continue;
    }
    f.digits = next;
    f.scale *= 10;
  }
  s.remove_prefix(i);
  return f;
}

// One "<number><unit>" element of a duration, in nanoseconds; s advances.
std::optional<uint64_t> duration_element(std::string_view& s) {
  if (!(s[0] == '.' || is_digit(s[0]))) return std::nullopt;
  size_t before = s.size();
  auto whole = leading_int(s);
  if (!whole) return std::nullopt;
  bool has_whole = s.size() != before;
  Fraction frac;
  bool has_frac = false;
  if (!s.empty() && s[0] == '.') {
    s.remove_prefix(1);
    size_t at = s.size();
    frac = leading_fraction(s);
    has_frac = s.size() != at;
  }
  if (!has_whole && !has_frac) return std::nullopt;

  size_t unit_len = 0;
  while (unit_len < s.size() && s[unit_len] != '.' && !is_digit(s[unit_len])) ++unit_len;
  auto unit = duration_unit(s.substr(0, unit_len));
  if (!unit) return std::nullopt;  // missing or unknown unit
  s.remove_prefix(unit_len);

  if (*whole > kMaxMagnitude / *unit) return std::nullopt;
  uint64_t v = *whole * *unit;
  if (frac.digits > 0) {
    v += static_cast<uint64_t>(static_cast<double>(frac.digits) *
                               (static_cast<double>(*unit) / frac.scale));
    if (v > kMaxMagnitude) return std::nullopt;
  }
  return v;
}

// A duration in some unit as Go's Duration.Seconds/Minutes/Hours compute it:
// whole units plus the remainder's fraction.
double in_units(int64_t nanos, int64_t unit) {
  return static_cast<double>(nanos / unit) +
         static_cast<double>(nanos % unit) / static_cast<double>(unit);
}

// --- sizes -------------------------------------------------------------------

struct ScaledSize {
  double value;
  const char* unit;
};

// go-units getSizeAndUnit.
ScaledSize scale_size(double size, double base, const char* const* units, size_t count) {
  size_t i = 0;
  while (size >= base && i < count - 1) {
    size /= base;
    ++i;
  }
  return {size, units[i]};
}

// C's %g and Go's %g agree: same exponent threshold, correctly rounded.
std::string format_g(double value, int precision, const char* unit) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g%s", precision, value, unit);
  return buf;
}

// Go's strconv.ParseFloat for decimal numbers: [+-]digits[.digits][e[+-]digits].
std::optional<double> parse_go_float(std::string_view s) {
  std::string_view body = s;
  bool negative = false;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (body.empty() || !(is_digit(body[0]) || body[0] == '.')) return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), value,
                                   std::chars_format::general);
  if (ec != std::errc() || end != body.data() + body.size()) return std::nullopt;
  return negative ? -value : value;
}

std::optional<int64_t> binary_multiplier(char unit) {
  switch (unit) {
    case 'k': return int64_t{1} << 10;
    case 'm': return int64_t{1} << 20;
    case 'g': return int64_t{1} << 30;
    case 't': return int64_t{1} << 40;
    case 'p': return int64_t{1} << 50;
    default: return std::nullopt;
  }
}

// The multiplier of a RAMInBytes suffix: "", "b", or k/m/g/t/p with an
// optional "b" or "ib", any case.
std::optional<int64_t> ram_suffix_multiplier(std::string_view suffix) {
  if (suffix.empty()) return 1;
  if (suffix.size() > 3) return std::nullopt;
  std::string lower(suffix);
  for (char& ch : lower) {
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  }
  if (lower == "b") return 1;
  auto mult = binary_multiplier(lower[0]);
  if (!mult) return std::nullopt;
  std::string_view rest = std::string_view(lower).substr(1);
  if (rest.empty() || rest == "b" || rest == "ib") return mult;
  return std::nullopt;
}

std::optional<int64_t> float_to_int64(double v) {
  // Go's int64(float) truncates; values out of range are refused here.
  constexpr double kTwoTo63 = 9223372036854775808.0;
  if (!(v >= -kTwoTo63 && v < kTwoTo63)) return std::nullopt;
  return static_cast<int64_t>(v);
}

}  // namespace

UnixNanos now_nanos() {
  auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch).count();
}

std::string format_rfc3339_nano(UnixNanos t) {
  int64_t seconds = floor_div(t, kNanosPerSecond);
  int64_t nanos = t % kNanosPerSecond;
  if (nanos < 0) nanos += kNanosPerSecond;
  int64_t days = floor_div(seconds, kSecondsPerDay);
  int64_t second_of_day = seconds - days * kSecondsPerDay;
  Date d = civil_from_days(days);

  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02lld:%02lld:%02lld",
                static_cast<long long>(d.year), d.month, d.day,
                static_cast<long long>(second_of_day / 3600),
                static_cast<long long>(second_of_day / 60 % 60),
                static_cast<long long>(second_of_day % 60));
  std::string out = buf;
  if (nanos != 0) {
    std::snprintf(buf, sizeof buf, ".%09lld", static_cast<long long>(nanos));
    std::string fraction = buf;
    fraction.erase(fraction.find_last_not_of('0') + 1);
    out += fraction;
  }
  return out + "Z";
}

std::optional<UnixNanos> parse_rfc3339(std::string_view s) {
  return parse_layout(s, {Clock::HourMinuteSecond, true}, 0);
}

std::optional<UnixNanos> parse_docker_time(std::string_view s, UnixNanos now) {
  // A duration means that long before now, in whole seconds.
  if (s != "0") {
    if (auto d = parse_go_duration_nanos(s)) {
      int64_t then = 0;
      if (__builtin_sub_overflow(now, *d, &then)) return std::nullopt;
      return checked_mul_add(floor_div(then, kNanosPerSecond), kNanosPerSecond, 0);
    }
  }
  // A zone is given by "Z", "+hh:mm" or a third '-' ("-hh:mm"); otherwise
  // the time is local.
  bool zone = contains_any(s, "zZ+") || count_char(s, '-') == 3;
  int64_t offset = zone ? 0 : local_offset_at(now);
  if (auto t = parse_layout(s, docker_layout(s, zone), offset)) return t;
  // With a '-' it was meant as a date; otherwise try Unix seconds.
  if (s.find('-') != std::string_view::npos) return std::nullopt;
  return parse_unix_timestamp(s);
}

std::optional<int64_t> parse_go_duration_nanos(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return 0;
  if (s.empty()) return std::nullopt;
  uint64_t total = 0;
  while (!s.empty()) {
    auto element = duration_element(s);
    if (!element) return std::nullopt;
    total += *element;
    if (total > kMaxMagnitude) return std::nullopt;
  }
  if (negative) return static_cast<int64_t>(0 - total);  // two's complement; 1<<63 -> INT64_MIN
  if (total > kMaxMagnitude - 1) return std::nullopt;
  return static_cast<int64_t>(total);
}

std::string human_duration(int64_t nanos) {
  auto seconds = static_cast<int64_t>(in_units(nanos, kNanosPerSecond));
  if (seconds < 1) return "Less than a second";
  if (seconds == 1) return "1 second";
  if (seconds < 60) return std::to_string(seconds) + " seconds";
  auto minutes = static_cast<int64_t>(in_units(nanos, 60 * kNanosPerSecond));
  if (minutes == 1) return "About a minute";
  if (minutes < 60) return std::to_string(minutes) + " minutes";
  double hours_f = in_units(nanos, 3600 * kNanosPerSecond);
  auto hours = static_cast<int64_t>(hours_f + 0.5);  // rounded
  if (hours == 1) return "About an hour";
  if (hours < 48) return std::to_string(hours) + " hours";
  if (hours < 24 * 7 * 2) return std::to_string(hours / 24) + " days";
  if (hours < 24 * 30 * 2) return std::to_string(hours / 24 / 7) + " weeks";
  if (hours < 24 * 365 * 2) return std::to_string(hours / 24 / 30) + " months";
  return std::to_string(static_cast<int64_t>(hours_f) / 24 / 365) + " years";
}

std::string human_since(UnixNanos t, UnixNanos now) { return human_duration(now - t) + " ago"; }

std::string human_size(double bytes) {
  static const char* const kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  ScaledSize s = scale_size(bytes, 1000.0, kUnits, std::size(kUnits));
  return format_g(s.value, 3, s.unit);
}

std::string bytes_size(double bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
  ScaledSize s = scale_size(bytes, 1024.0, kUnits, std::size(kUnits));
  return format_g(s.value, 4, s.unit);
}

std::optional<int64_t> parse_ram_bytes(std::string_view s) {
  // The number ends at the last digit, '.' or space; one space may separate
  // it from the suffix.
  size_t sep = s.find_last_of("0123456789. ");
  if (sep == std::string_view::npos) return std::nullopt;
  std::string_view number = s[sep] == ' ' ? s.substr(0, sep) : s.substr(0, sep + 1);
  std::string_view suffix = s.substr(sep + 1);

  auto value = parse_go_float(number);
  if (!value || *value < 0) return std::nullopt;
  auto multiplier = ram_suffix_multiplier(suffix);
  if (!multiplier) return std::nullopt;
  return float_to_int64(*value * static_cast<double>(*multiplier));
}

}  // namespace den
