// Per-object file locks (flock(2)). A lock dies with its process, so a den
// killed with SIGKILL never leaves a stale lock behind.
#pragma once

#include <optional>
#include <string>

#include "den/fs.h"

namespace den {

class FileLock {
 public:
  enum class Mode { Shared, Exclusive };

  // Blocks until the lock is held. Creates the lock file if missing.
  static FileLock acquire(const std::string& path, Mode mode = Mode::Exclusive);
  // Returns nullopt if another process holds a conflicting lock.
  static std::optional<FileLock> try_acquire(const std::string& path, Mode mode = Mode::Exclusive);

  FileLock(FileLock&&) = default;
  FileLock& operator=(FileLock&&) = default;
  void release() { fd_.reset(); }
  bool held() const { return static_cast<bool>(fd_); }

 private:
  explicit FileLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace den
