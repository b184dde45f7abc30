#include "den/log.h"

#include <unistd.h>

#include <cstdio>

namespace den::log {
namespace {
Level g_level = Level::Warn;
const auto g_start = std::chrono::steady_clock::now();
}  // namespace

void set_level(Level l) { g_level = l; }
Level level() { return g_level; }

bool parse_level(std::string_view s, Level* out) {
  if (s == "debug" || s == "trace") *out = Level::Debug;
  else if (s == "info") *out = Level::Info;
  else if (s == "warn" || s == "warning") *out = Level::Warn;
  else if (s == "error" || s == "fatal" || s == "panic") *out = Level::Error;
  else return false;
  return true;
}

double uptime_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - g_start).count();
}

void write(Level l, std::string_view msg) {
  static const char* names[] = {"DEBU", "INFO", "WARN", "ERRO"};
  std::string line;
  if (l == Level::Warn && g_level > Level::Debug)
    line = fmt::format("WARN[0000] {}\n", msg);
  else
    line = fmt::format("{}[{:8.3f}ms] {}\n", names[static_cast<int>(l)], uptime_ms(), msg);
  // One write(2) per line so lines of concurrent processes do not interleave.
  ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
  (void)n;
}

Phase::Phase(std::string name) : name_(std::move(name)), start_(std::chrono::steady_clock::now()) {}

Phase::~Phase() {
  if (level() > Level::Debug) return;
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
  write(Level::Debug, fmt::format("phase {}: {:.2f} ms", name_, ms));
}

}  // namespace den::log
