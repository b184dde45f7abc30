// File-system helpers. Every metadata write in den goes through
// write_file_atomic (temp file + fsync + rename + fsync of the directory), so a
// den killed at any point leaves either the old or the new file, never half.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace den {

// Owns a file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// open(2) that throws den::Error naming the path.
UniqueFd open_file(const std::string& path, int flags, mode_t mode = 0644);

std::string read_file(const std::string& path);
std::optional<std::string> read_file_if_exists(const std::string& path);
// Reads at most `max` bytes of a file: never more than max + 1 bytes are read
// into memory. A larger file throws Errc::Invalid "<what> is larger than the
// limit of N MiB" (what names the file for the user).
std::string read_file_bounded(const std::string& path, size_t max, const std::string& what);
// "4 MiB", "512 KiB", "100 bytes": a limit in a message.
std::string format_limit(uint64_t bytes);
// How much of write_file_atomic reaches the disk before it returns. Every
// kind is atomic against a killed den (the rename); they differ after a
// power loss only:
//   Full: file and directory entry are durable (images, configs);
//   Data: the content is durable, the rename may be lost (files inside a
//         staging directory that is synced and renamed as a whole);
//   None: neither (a container's state.json, which describes processes that
//         a power loss ends anyway, and files derived anew at each start).
enum class Sync { Full, Data, None };
void write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0644, Sync sync = Sync::Full);
// Writes all of data to fd, retrying on EINTR/short writes.
void write_all(int fd, std::string_view data, const char* what = "write");
// Reads up to n bytes, retrying on EINTR; returns bytes read (0 at EOF).
size_t read_some(int fd, void* buf, size_t n);
void fsync_dir(const std::string& dir);

bool path_exists(const std::string& path);
bool is_dir(const std::string& path);
// mkdir -p; existing directories are fine.
void mkdirs(const std::string& path, mode_t mode = 0755);
// rm -rf; a missing path is fine. Makes directories writable as it goes so
// read-only trees (chmod 0555 in an image) can be removed.
void remove_all(const std::string& path);
std::vector<std::string> list_dir(const std::string& path);
// Apparent size of the regular files and symlinks under path.
uint64_t dir_size(const std::string& path);

std::string path_join(std::string_view a, std::string_view b);
std::string dirname_of(std::string_view path);
std::string basename_of(std::string_view path);

// A temporary directory under `parent`, removed on destruction unless released.
class TempDir {
 public:
  TempDir(const std::string& parent, std::string_view prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  void release() { path_.clear(); }

 private:
  std::string path_;
};

}  // namespace den
