// Layer tarballs: safe extraction (with OCI whiteouts translated for overlay),
// decompression and diff_id computation.
//
// Data flow of extract_layer, in one pass over the blob:
//
//   blob fd -> [raw reader: gzip/zstd/bzip2/xz filter, format "raw"]
//           -> pipe_read() callback: sha256 + byte count of the uncompressed stream
//           -> [tar reader: format tar (ustar/pax/gnu), no filter]
//           -> den's policy (sanitize, whiteouts, devices) -> archive_write_disk
//
// After the tar reader reports the end of the archive, the raw reader is
// drained to EOF so the digest covers the whole uncompressed stream (the
// zero blocks and any padding after the end-of-archive marker), i.e. the
// diff_id equals `sha256sum` of the uncompressed file.
//
// Decisions:
//  - Root entry ("." / "./" / "/"): a directory entry applies its mode, owner,
//    times and xattrs to dest itself (like docker); a non-directory root entry
//    is refused as invalid.
//  - File types follow EntryFilter (den/layer_tar.h), the rule shared with
//    volume import and cp: FIFOs are kept (mkfifo needs no privilege).
//    Character and block devices are skipped with opts.warn in rootless
//    mode, except character devices 0/0, which are overlay whiteouts and may
//    be created in a user namespace (Linux >= 5.8). Hard links to skipped
//    entries are skipped too; a hard link whose target is not an entry
//    extracted before is refused (hardlink_outside).
//  - ARCHIVE_EXTRACT_FFLAGS is not used: immutable/append-only flags need
//    CAP_LINUX_IMMUTABLE in the initial namespace and would make layers
//    impossible to remove.
//  - ARCHIVE_EXTRACT_UNLINK is not used: with SECURE_SYMLINKS it would make
//    libarchive delete a symlink in the middle of an entry path instead of
//    refusing the entry. Without it libarchive still replaces an existing
//    non-directory (later tar entries win), and merges directories.
//  - ARCHIVE_EXTRACT_SPARSE is not used: it scans all data for zero blocks
//    and writes in 4 KiB pieces (three quarters of a pull's write(2)s).
//    Sparse entries of the archive still become holes: their data blocks
//    come with offsets, and libarchive seeks over the gaps.
//  - ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS is not used because den rewrites
//    every entry to an absolute path under realpath(dest); the leading-"/"
//    policy is applied by sanitize_entry_path before that.
//  - Entry xattrs in the overlay namespaces (trusted.overlay.*,
//    user.overlay.*, user.fuseoverlayfs.*) are dropped: only den's whiteout
//    translation may create overlay metadata.
//  - Names are numeric: no uname/gname lookup against the host's passwd.
//  - AUFS metadata (paths with a ".wh..wh.*" component other than the opaque
//    marker, e.g. ".wh..wh.plnk/") is skipped, like docker does.
//  - A whiteout for a name that already exists in this layer leaves the
//    existing entry (OCI: whiteouts only apply to lower layers). A directory
//    entry that replaces a whiteout of the same layer is made opaque, so the
//    lower directory's content stays hidden.
//  - On error dest may hold a partial extraction; the caller removes it.
#include "den/layer_tar.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "den/error.h"
#include "den/fs.h"
#include "den/hash.h"
#include "den/log.h"

namespace den {

namespace {

constexpr size_t kBlockSize = 128 * 1024;
constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";
constexpr std::string_view kAufsMetaPrefix = ".wh..wh.";

struct ReadDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct WriteDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
using ReadArchive = std::unique_ptr<archive, ReadDeleter>;
using WriteArchive = std::unique_ptr<archive, WriteDeleter>;

std::string archive_message(archive* a) {
  const char* s = archive_error_string(a);
  return s && *s ? s : "unknown libarchive error";
}

// errno values that mean "the machine failed", not "the archive is bad".
bool is_io_errno(int e) {
  switch (e) {
    case ENOSPC:
    case EDQUOT:
    case EIO:
    case EROFS:
    case ENOMEM:
    case EMFILE:
    case ENFILE:
    case EFBIG:
    case EACCES:
    case EPERM:
      return true;
    default:
      return false;
  }
}

// libarchive's own "errno" codes for format problems carry no system error.
int meaningful_errno(int e) {
  if (e <= 0 || e == EINVAL || e == EILSEQ) return 0;  // libarchive: EILSEQ = file format, EINVAL = misuse, -1 = misc
  return e;
}

// ARCHIVE_OK and ARCHIVE_WARN go on; RETRY (e.g. a damaged tar header that
// libarchive would skip), FAILED and FATAL stop the extraction.
bool failed(int r) { return r != ARCHIVE_OK && r != ARCHIVE_WARN; }

std::string entry_label(std::string_view name) { return fmt::format("entry \"{}\"", name); }

Error invalid(std::string msg, int err = 0) { return Error("invalid layer: " + msg, Errc::Invalid, meaningful_errno(err)); }

// ---------------------------------------------------------------------------
// The decompressed byte stream of a blob.

class RawStream {
 public:
  explicit RawStream(const std::string& blob_path) {
    fd_ = open_file(blob_path, O_RDONLY);
    unsigned char magic[8];
    size_t n = 0;
    while (n < sizeof magic) {
      size_t r = read_some(fd_.get(), magic + n, sizeof magic - n);
      if (r == 0) break;
      n += r;
    }
    if (::lseek(fd_.get(), 0, SEEK_SET) != 0) throw sys_error(fmt::format("seek {}", blob_path));
    open(detect_compression(magic, n));
  }
  // A stream that cannot seek back (a socket fed by a download): its
  // compression is known beforehand (from the media type). fd is borrowed.
  RawStream(int fd, Compression c) {
    fd_.reset(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (!fd_) throw sys_error("dup layer stream");
    open(c);
  }

 private:
  void open(Compression c) {
    compression_ = c;
    a_.reset(archive_read_new());
    if (!a_) throw Error("libarchive: out of memory");
    // Only the filter the magic bytes name: no bidding by exotic filters
    // (uuencode, rpm, ...) on the first bytes of a plain tar.
    int r = ARCHIVE_OK;
    switch (compression_) {
      case Compression::None: break;
      case Compression::Gzip: r = archive_read_support_filter_gzip(a_.get()); break;
      case Compression::Zstd: r = archive_read_support_filter_zstd(a_.get()); break;
      case Compression::Bzip2: r = archive_read_support_filter_bzip2(a_.get()); break;
      case Compression::Xz: r = archive_read_support_filter_xz(a_.get()); break;
    }
    if (r < ARCHIVE_WARN)
      throw Error(fmt::format("{} decompression unavailable: {}", compression_name(compression_), archive_message(a_.get())),
                  Errc::Unsupported);
    archive_read_support_format_raw(a_.get());
    archive_read_support_format_empty(a_.get());
    if (archive_read_open_fd(a_.get(), fd_.get(), kBlockSize) != ARCHIVE_OK) fail();
    archive_entry* e = nullptr;
    r = archive_read_next_header(a_.get(), &e);
    if (r == ARCHIVE_EOF) {
      eof_ = true;  // empty stream (format "empty")
    } else if (failed(r)) {
      fail();
    }
  }

 public:
  // Next block of uncompressed bytes, hashed; false at EOF. Throws on errors.
  bool next(const void** buf, size_t* len) {
    while (!eof_) {
      la_int64_t off = 0;
      int r = archive_read_data_block(a_.get(), buf, len, &off);
      if (r == ARCHIVE_EOF) {
        eof_ = true;
        break;
      }
      if (failed(r)) fail();
      if (*len == 0) continue;
      hash_.update(*buf, *len);
      size_ += *len;
      return true;
    }
    *buf = nullptr;
    *len = 0;
    return false;
  }

  void drain() {
    const void* b;
    size_t n;
    while (next(&b, &n)) {
    }
  }

  std::string digest() { return hash_.digest(); }
  uint64_t size() const { return size_; }
  Compression compression() const { return compression_; }

 private:
  [[noreturn]] void fail() {
    int err = archive_errno(a_.get());
    std::string msg = archive_message(a_.get());
    if (compression_ != Compression::None) msg = fmt::format("{} stream: {}", compression_name(compression_), msg);
    if (is_io_errno(err)) throw Error("read layer: " + msg, Errc::Generic, err);
    throw invalid(msg, err);
  }

  UniqueFd fd_;
  ReadArchive a_;
  Compression compression_ = Compression::None;
  Sha256 hash_;
  uint64_t size_ = 0;
  bool eof_ = false;
};

// Read callback of the tar reader: hands over raw blocks, starting with one
// read ahead of time. Exceptions do not cross libarchive's C frames; they are
// parked here and rethrown.
struct Pipe {
  RawStream* raw = nullptr;
  const void* pending = nullptr;
  size_t pending_len = 0;
  std::exception_ptr error;
};

la_ssize_t pipe_read(archive* a, void* client, const void** buf) {
  auto* p = static_cast<Pipe*>(client);
  if (p->pending) {
    *buf = p->pending;
    p->pending = nullptr;
    return static_cast<la_ssize_t>(p->pending_len);
  }
  try {
    size_t n = 0;
    p->raw->next(buf, &n);
    return static_cast<la_ssize_t>(n);
  } catch (...) {
    p->error = std::current_exception();
    archive_set_error(a, -1, "decompression failed");
    return ARCHIVE_FATAL;
  }
}

// ---------------------------------------------------------------------------
// Directory walk below dest that never follows symlinks, for whiteouts.

class DirWalker {
 public:
  explicit DirWalker(const std::string& root) {
    int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw sys_error(fmt::format("open {}", root));
    root_.reset(fd);
  }

  // Opens rel (a sanitized path, "" = root) as a directory, creating missing
  // components (0755) when create is set. Refuses symlinks and non-directories
  // on the way with Errc::Invalid naming `entry`.
  UniqueFd open_dir(std::string_view rel, bool create, std::string_view entry) const {
    return *open_dir_impl(rel, create, entry, false);
  }
  // The same without creating; nullopt when a component does not exist.
  std::optional<UniqueFd> open_dir_if_exists(std::string_view rel, std::string_view entry) const {
    return open_dir_impl(rel, false, entry, true);
  }

 private:
  std::optional<UniqueFd> open_dir_impl(std::string_view rel, bool create, std::string_view entry,
                                        bool missing_ok) const {
    UniqueFd cur(::dup(root_.get()));
    if (!cur) throw sys_error("dup");
    while (!rel.empty()) {
      size_t slash = rel.find('/');
      std::string comp(rel.substr(0, slash));
      rel = slash == std::string_view::npos ? std::string_view() : rel.substr(slash + 1);
      int fd = ::openat(cur.get(), comp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0 && errno == ENOENT && create) {
        if (::mkdirat(cur.get(), comp.c_str(), 0755) != 0 && errno != EEXIST)
          throw sys_error(fmt::format("create directory for {}", entry_label(entry)));
        fd = ::openat(cur.get(), comp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      }
      if (fd < 0) {
        int err = errno;
        if (err == ELOOP || err == ENOTDIR)
          throw invalid(fmt::format("{}: path component \"{}\" is a symlink or not a directory", entry_label(entry), comp));
        if (err == ENOENT && missing_ok) return std::nullopt;
        if (err == ENOENT) throw invalid(fmt::format("{}: \"{}\" does not exist", entry_label(entry), comp));
        throw sys_error(fmt::format("open {}", entry_label(entry)), err);
      }
      cur.reset(fd);
    }
    return cur;
  }

  UniqueFd root_;
};

void set_opaque(int dirfd, std::string_view entry) {
  for (const char* name : {"user.overlay.opaque", "user.fuseoverlayfs.opaque"}) {
    if (::fsetxattr(dirfd, name, "y", 1, 0) != 0)
      throw sys_error(fmt::format("set {} for {}", name, entry_label(entry)));
  }
}

bool is_overlay_xattr(const char* name) {
  return std::strncmp(name, "trusted.overlay.", 16) == 0 || std::strncmp(name, "user.overlay.", 13) == 0 ||
         std::strncmp(name, "user.fuseoverlayfs.", 19) == 0;
}

void strip_overlay_xattrs(archive_entry* e) {
  if (archive_entry_xattr_reset(e) == 0) return;
  struct X {
    std::string name;
    std::string value;
  };
  std::vector<X> keep;
  bool dropped = false;
  const char* name;
  const void* value;
  size_t size;
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    if (is_overlay_xattr(name)) {
      dropped = true;
      continue;
    }
    keep.push_back({name, std::string(static_cast<const char*>(value), size)});
  }
  if (!dropped) return;
  archive_entry_xattr_clear(e);
  for (auto& x : keep) archive_entry_xattr_add_entry(e, x.name.c_str(), x.value.data(), x.value.size());
}

bool has_aufs_meta_component(std::string_view path) {
  while (!path.empty()) {
    size_t slash = path.find('/');
    std::string_view comp = path.substr(0, slash);
    if (comp.substr(0, kAufsMetaPrefix.size()) == kAufsMetaPrefix && comp != kOpaqueMarker) return true;
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return false;
}

std::mutex& umask_mutex() {
  static std::mutex m;
  return m;
}

std::string_view base_of(std::string_view p) {
  size_t slash = p.rfind('/');
  return slash == std::string_view::npos ? p : p.substr(slash + 1);
}

class Extractor {
 public:
  Extractor(const std::string& dest, const ExtractOptions& opts)
      : opts_(opts), filter_(opts.rootless, [this](const std::string& w) { warn(w); }) {
    char* real = ::realpath(dest.c_str(), nullptr);
    if (!real) throw sys_error(fmt::format("resolve {}", dest));
    dest_ = real;
    std::free(real);
    if (!is_dir(dest_)) throw sys_error(fmt::format("extract to {}", dest), ENOTDIR);
    walker_.emplace(dest_);

    {
      std::lock_guard<std::mutex> lock(umask_mutex());  // reads the umask too
      disk_.reset(archive_write_disk_new());
    }
    if (!disk_) throw Error("libarchive: out of memory");
    int flags = ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR |
                ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT;
    archive_write_disk_set_options(disk_.get(), flags);
    // No archive_write_disk_set_standard_lookup: owners stay numeric.
  }

  ExtractResult run(RawStream& raw) {
    ExtractResult res;
    Pipe pipe;
    pipe.raw = &raw;
    // An empty stream is an empty layer; it needs no tar reader.
    if (!raw.next(&pipe.pending, &pipe.pending_len)) {
      finish_disk();
      res.diff_id = raw.digest();
      res.uncompressed_size = raw.size();
      return res;
    }
    ReadArchive tar(archive_read_new());
    if (!tar) throw Error("libarchive: out of memory");
    archive_read_support_format_tar(tar.get());  // ustar, pax, gnu; no filter
    archive_read_set_read_callback(tar.get(), pipe_read);
    archive_read_set_callback_data(tar.get(), &pipe);

    auto reader_error = [&](std::string_view where) -> Error {
      if (pipe.error) {
        // A decompression error: name the entry it hit.
        try {
          std::rethrow_exception(pipe.error);
        } catch (const Error& e) {
          constexpr std::string_view prefix = "invalid layer: ";
          if (where.empty() || e.code() != Errc::Invalid || e.message().rfind(prefix, 0) != 0) throw;
          return Error(fmt::format("{}{}: {}", prefix, where, e.message().substr(prefix.size())), Errc::Invalid,
                       e.sys_errno());
        }
      }
      int err = archive_errno(tar.get());
      std::string msg = archive_message(tar.get());
      if (!where.empty()) msg = fmt::format("{}: {}", where, msg);
      return invalid(msg, err);
    };

    if (failed(archive_read_open1(tar.get()))) throw reader_error("");
    std::string last;
    for (;;) {
      archive_entry* e = nullptr;
      int r = archive_read_next_header(tar.get(), &e);
      if (r == ARCHIVE_EOF) break;
      if (failed(r)) throw reader_error(last.empty() ? "" : fmt::format("after {}", entry_label(last)));
      if (r == ARCHIVE_WARN) log::debug("layer: {}", archive_message(tar.get()));
      res.entries++;
      const char* p = archive_entry_pathname(e);
      if (!p) p = archive_entry_pathname_utf8(e);
      if (!p) throw invalid("entry without a path name");
      last = p;
      if (write_entry(e, last)) copy_data(tar.get(), last, reader_error);
    }
    if (pipe.error) std::rethrow_exception(pipe.error);
    finish_disk();
    raw.drain();
    res.diff_id = raw.digest();
    res.uncompressed_size = raw.size();
    return res;
  }

 private:
  void warn(const std::string& msg) {
    if (opts_.warn) opts_.warn(msg);
    else log::warn("{}", msg);
  }

  std::string full_path(const std::string& rel) const { return rel.empty() ? dest_ : dest_ + "/" + rel; }

  // Returns true when the entry was written to disk and its data must follow.
  bool write_entry(archive_entry* e, const std::string& name) {
    auto rel_opt = sanitize_entry_path(name);
    if (!rel_opt) throw invalid(fmt::format("{} escapes the layer root", entry_label(name)));
    const std::string& rel = *rel_opt;

    if (has_aufs_meta_component(rel)) {
      log::debug("layer: skipping AUFS metadata {}", entry_label(name));
      return false;
    }

    WhiteoutInfo wo = classify_whiteout(rel);
    if (wo.kind == WhiteoutKind::Opaque) {
      UniqueFd dir = walker_->open_dir(wo.target, true, name);
      set_opaque(dir.get(), name);
      return false;
    }
    if (wo.kind == WhiteoutKind::Whiteout) {
      make_whiteout(wo.target, name);
      return false;
    }

    const char* hardlink = archive_entry_hardlink(e);
    auto type = archive_entry_filetype(e);
    if (rel.empty() && (hardlink || type != AE_IFDIR))
      throw invalid(fmt::format("{}: the layer root must be a directory", entry_label(name)));

    std::optional<std::string> target;
    if (hardlink) {
      target = sanitize_entry_path(hardlink);
      if (!target || target->empty()) throw hardlink_outside(name, hardlink);
    }
    if (filter_.skip(e, rel, target ? &*target : nullptr)) return false;
    if (hardlink) {
      // The target's directories must be real directories inside dest, and
      // the target an entry extracted before.
      std::string_view tdir = *target;
      size_t slash = tdir.rfind('/');
      std::optional<UniqueFd> dir = walker_->open_dir_if_exists(
          slash == std::string_view::npos ? std::string_view() : tdir.substr(0, slash), name);
      struct stat st;
      if (!dir || ::fstatat(dir->get(), std::string(base_of(*target)).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        throw hardlink_outside(name, hardlink);
      archive_entry_copy_hardlink(e, full_path(*target).c_str());
    }

    strip_overlay_xattrs(e);
    std::string full = full_path(rel);
    archive_entry_copy_pathname(e, full.c_str());
    int r;
    {
      // archive_write_header reads the umask with umask(0) + umask(old);
      // layers extracted in parallel threads must not read each other's 0.
      std::lock_guard<std::mutex> lock(umask_mutex());
      r = archive_write_header(disk_.get(), e);
    }
    if (failed(r)) throw write_error(name);
    if (r == ARCHIVE_WARN) warn(fmt::format("{}: {}", rel.empty() ? "/" : rel, archive_message(disk_.get())));
    filter_.written(rel);

    if (type == AE_IFDIR && !hardlink) {
      if (archive_entry_mtime_is_set(e)) {
        DirTimes& t = dir_times_[rel];
        t.ts[0].tv_nsec = UTIME_OMIT;
        if (archive_entry_atime_is_set(e)) {
          t.ts[0].tv_sec = archive_entry_atime(e);
          t.ts[0].tv_nsec = archive_entry_atime_nsec(e);
        }
        t.ts[1].tv_sec = archive_entry_mtime(e);
        t.ts[1].tv_nsec = archive_entry_mtime_nsec(e);
      }
      if (whiteouts_.count(rel)) {
        // A directory replacing a whiteout of this layer hides the lower one.
        UniqueFd dir = walker_->open_dir(rel, false, name);
        set_opaque(dir.get(), name);
      }
    }
    whiteouts_.erase(rel);
    return true;
  }

  void make_whiteout(const std::string& target, const std::string& name) {
    std::string_view base = base_of(target);
    if (base.empty() || base == "." || base == ".." || target.empty())
      throw invalid(fmt::format("{}: invalid whiteout name", entry_label(name)));
    std::string_view parent = target.size() > base.size() ? std::string_view(target).substr(0, target.size() - base.size() - 1)
                                                         : std::string_view();
    UniqueFd dir = walker_->open_dir(parent, true, name);
    std::string b(base);
    if (::mknodat(dir.get(), b.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0) {
      if (errno == EEXIST) {
        // Same-layer content is not hidden by a whiteout of the same layer.
        log::debug("layer: whiteout {} for an entry of the same layer, kept the entry", target);
        return;
      }
      throw sys_error(fmt::format("create whiteout for {}", entry_label(name)));
    }
    whiteouts_.insert(target);
    filter_.written(target);
  }

  template <typename ReaderError>
  void copy_data(archive* tar, const std::string& name, ReaderError& reader_error) {
    // The reader hands out blocks of a few KiB; written as they come, a
    // 30 MB file took 7500 write(2)s. Contiguous blocks are gathered into
    // writes of up to kWriteChunk (a hole in a sparse file flushes).
    constexpr size_t kWriteChunk = 1 << 20;
    la_int64_t pend_off = 0;
    size_t pend_len = 0;
    auto write_block = [&](const void* p, size_t n, la_int64_t o) {
      // libarchive 3.6 reports a failed write(2) (ENOSPC, EIO) as ARCHIVE_WARN.
      if (archive_write_data_block(disk_.get(), p, n, o) != ARCHIVE_OK) throw write_error(name);
    };
    auto flush = [&] {
      if (pend_len) write_block(write_buf_.data(), pend_len, pend_off);
      pend_len = 0;
    };
    for (;;) {
      const void* buf = nullptr;
      size_t len = 0;
      la_int64_t off = 0;
      int r = archive_read_data_block(tar, &buf, &len, &off);
      if (r == ARCHIVE_EOF) break;
      if (failed(r)) throw reader_error(entry_label(name));
      if (len == 0) continue;
      if (pend_len && (off != pend_off + static_cast<la_int64_t>(pend_len) || pend_len + len > kWriteChunk)) flush();
      if (len >= kWriteChunk) {
        write_block(buf, len, off);
        continue;
      }
      if (write_buf_.size() < kWriteChunk) write_buf_.resize(kWriteChunk);
      if (!pend_len) pend_off = off;
      std::memcpy(write_buf_.data() + pend_len, buf, len);
      pend_len += len;
    }
    flush();
    int r = archive_write_finish_entry(disk_.get());
    if (failed(r)) throw write_error(name);
    if (r == ARCHIVE_WARN) warn(fmt::format("{}: {}", name, archive_message(disk_.get())));
  }

  Error write_error(const std::string& name) {
    int err = archive_errno(disk_.get());
    std::string msg = archive_message(disk_.get());
    // Show paths relative to the layer root.
    std::string prefix = dest_ + "/";
    for (size_t pos; (pos = msg.find(prefix)) != std::string::npos;) msg.erase(pos, prefix.size());
    if (is_io_errno(err)) return Error(fmt::format("extract {}: {}", entry_label(name), msg), Errc::Generic, err);
    return invalid(fmt::format("{}: {}", entry_label(name), msg), err);
  }

  void finish_disk() {
    // Applies the deferred directory modes and times.
    int r = archive_write_close(disk_.get());
    if (failed(r)) {
      int err = archive_errno(disk_.get());
      throw Error(fmt::format("extract layer: finish: {}", archive_message(disk_.get())),
                  is_io_errno(err) ? Errc::Generic : Errc::Invalid, meaningful_errno(err));
    }
    if (r == ARCHIVE_WARN) warn(archive_message(disk_.get()));
    restore_dir_times();
  }

  // libarchive defers the times of the directories it creates, but sets those
  // of existing directories (dest itself, directories created for whiteouts,
  // repeated entries) right away, so later entries inside them bump their
  // mtime. Set all directory times once more, at the very end.
  void restore_dir_times() {
    for (const auto& [rel, t] : dir_times_) {
      UniqueFd fd;
      try {
        fd = walker_->open_dir(rel, false, rel);
      } catch (const Error&) {
        continue;  // replaced by a non-directory later in the layer
      }
      if (::futimens(fd.get(), t.ts) != 0) warn(fmt::format("{}: set times: {}", rel.empty() ? "/" : rel, std::strerror(errno)));
    }
  }

  const ExtractOptions& opts_;
  std::string dest_;
  std::optional<DirWalker> walker_;
  WriteArchive disk_;
  struct DirTimes {
    struct timespec ts[2] = {};
  };
  std::unordered_map<std::string, DirTimes> dir_times_;
  std::unordered_set<std::string> whiteouts_;  // created by this layer
  EntryFilter filter_;                          // den's rule for devices, sockets, hard links
  std::vector<char> write_buf_;                 // copy_data gathers small blocks here
};

}  // namespace

// ---------------------------------------------------------------------------

bool EntryFilter::skip(archive_entry* e, const std::string& rel, const std::string* link_target) {
  auto skip_with = [&](std::string msg) {
    if (warn_) warn_(msg);
    else log::warn("{}", msg);
    skipped_.insert(rel);
    return true;
  };
  std::string shown = rel.empty() ? "/" : rel;
  if (link_target) {
    if (skipped_.count(*link_target))
      return skip_with(fmt::format("skipping hard link {}: its target {} was skipped", shown, *link_target));
    return false;
  }
  auto type = archive_entry_filetype(e);
  if (type == AE_IFCHR || type == AE_IFBLK) {
    bool overlay_whiteout = type == AE_IFCHR && archive_entry_rdev(e) == 0;
    if (rootless_ && !overlay_whiteout)
      return skip_with(fmt::format("skipping device node {} ({} {}:{}): device nodes cannot be created rootless",
                                   shown, type == AE_IFCHR ? "char" : "block", archive_entry_rdevmajor(e),
                                   archive_entry_rdevminor(e)));
    return false;
  }
  if (type == AE_IFSOCK) return skip_with(fmt::format("skipping socket {}: sockets cannot be extracted", shown));
  if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK && type != AE_IFIFO)
    return skip_with(fmt::format("skipping {}: unsupported file type {:o}", shown, static_cast<unsigned>(type)));
  return false;
}

Error hardlink_outside(std::string_view entry, std::string_view target) {
  return Error(fmt::format("hardlink \"{}\" points to \"{}\", outside the archive", entry, target), Errc::Invalid);
}

Compression detect_compression(const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b) return Compression::Gzip;
  if (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd) return Compression::Zstd;
  if (n >= 3 && p[0] == 'B' && p[1] == 'Z' && p[2] == 'h') return Compression::Bzip2;
  if (n >= 6 && p[0] == 0xfd && p[1] == '7' && p[2] == 'z' && p[3] == 'X' && p[4] == 'Z' && p[5] == 0x00)
    return Compression::Xz;
  return Compression::None;
}

Compression detect_compression_of_file(const std::string& path) {
  UniqueFd fd = open_file(path, O_RDONLY);
  unsigned char magic[8];
  size_t n = 0;
  while (n < sizeof magic) {
    size_t r = read_some(fd.get(), magic + n, sizeof magic - n);
    if (r == 0) break;
    n += r;
  }
  return detect_compression(magic, n);
}

std::string_view compression_name(Compression c) {
  switch (c) {
    case Compression::None: return "none";
    case Compression::Gzip: return "gzip";
    case Compression::Zstd: return "zstd";
    case Compression::Bzip2: return "bzip2";
    case Compression::Xz: return "xz";
  }
  return "unknown";
}

WhiteoutInfo classify_whiteout(std::string_view path) {
  WhiteoutInfo info;
  size_t slash = path.rfind('/');
  std::string_view dir = slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
  std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  if (base == kOpaqueMarker) {
    info.kind = WhiteoutKind::Opaque;
    info.target = std::string(dir);
  } else if (base.substr(0, kWhiteoutPrefix.size()) == kWhiteoutPrefix) {
    info.kind = WhiteoutKind::Whiteout;
    std::string_view name = base.substr(kWhiteoutPrefix.size());
    info.target = dir.empty() ? std::string(name) : fmt::format("{}/{}", dir, name);
  }
  return info;
}

std::optional<std::string> sanitize_entry_path(std::string_view path) {
  if (path.find('\0') != std::string_view::npos) return std::nullopt;
  std::string out;
  out.reserve(path.size());
  while (!path.empty()) {
    size_t slash = path.find('/');
    std::string_view comp = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
    if (comp.empty() || comp == ".") continue;
    if (comp == "..") return std::nullopt;
    if (!out.empty()) out += '/';
    out.append(comp);
  }
  return out;
}

ExtractResult extract_layer(const std::string& blob_path, const std::string& dest, const ExtractOptions& opts) {
  log::Phase phase("extract layer " + blob_path);
  Extractor ex(dest, opts);
  RawStream raw(blob_path);
  return ex.run(raw);
}

ExtractResult extract_layer_stream(int fd, Compression c, const std::string& dest, const ExtractOptions& opts) {
  log::Phase phase("extract layer stream");
  Extractor ex(dest, opts);
  RawStream raw(fd, c);
  return ex.run(raw);
}

ExtractResult decompress_to_fd(const std::string& blob_path, int out_fd) {
  RawStream raw(blob_path);
  const void* buf;
  size_t n;
  while (raw.next(&buf, &n)) write_all(out_fd, std::string_view(static_cast<const char*>(buf), n), "write layer");
  ExtractResult res;
  res.diff_id = raw.digest();
  res.uncompressed_size = raw.size();
  return res;
}

ExtractResult compute_diff_id(const std::string& blob_path) {
  RawStream raw(blob_path);
  raw.drain();
  ExtractResult res;
  res.diff_id = raw.digest();
  res.uncompressed_size = raw.size();
  return res;
}

}  // namespace den
