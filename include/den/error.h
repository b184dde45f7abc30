// den's error type. Like crun's libcrun_error_t: an errno (0 when none), a
// message, and context added by each layer on the way up ("load image.tar:
// extract layer sha256:ab..: open etc/passwd: Permission denied").
//
// Errors never cross the clone/exec boundary of a container child: that code
// reports failures through a pipe as (step, errno) pairs instead.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace den {

// Exit codes that scripts written for docker rely on.
inline constexpr int kExitEngine = 125;      // den itself failed
inline constexpr int kExitCannotInvoke = 126; // command cannot be invoked
inline constexpr int kExitNotFound = 127;    // command not found

// What kind of failure, for callers that react to some of them (rm -f ignores
// NotFound, pull retries on Transient, ...).
enum class Errc {
  Generic,
  NotFound,   // no such image/container/volume/...
  Exists,     // name already in use
  InUse,      // object is used by another (image used by container, ...)
  Invalid,    // bad user input: reference, flag value, archive
  Unsupported,
  Corrupt,    // data failed verification (digest mismatch, bad JSON in store)
};

class Error : public std::exception {
 public:
  explicit Error(std::string message, Errc code = Errc::Generic, int err = 0)
      : message_(std::move(message)), code_(code), errno_(err) {
    rebuild();
  }

  const char* what() const noexcept override { return full_.c_str(); }
  const std::string& message() const { return message_; }
  Errc code() const { return code_; }
  int sys_errno() const { return errno_; }
  int exit_code() const { return exit_code_; }
  Error& with_exit_code(int c) { exit_code_ = c; return *this; }

  // Prepends "ctx: " — each layer names what it was doing.
  Error& context(std::string_view ctx);

 private:
  void rebuild();
  std::string message_;
  Errc code_;
  int errno_;
  int exit_code_ = kExitEngine;
  std::string full_;
};

// Error from a failed system call: message + ": " + strerror(err).
Error sys_error(std::string message, int err);
// Same, with the current errno.
Error sys_error(std::string message);

template <typename... Args>
Error make_error(Errc code, fmt::format_string<Args...> f, Args&&... args) {
  return Error(fmt::format(f, std::forward<Args>(args)...), code);
}

// Runs f; on den::Error adds context and rethrows.
template <typename F>
auto with_context(std::string_view ctx, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (Error& e) {
    e.context(ctx);
    throw;
  }
}

}  // namespace den
