// Moving files in and out of containers and volumes as tar streams: den cp,
// volume export/import.
//
// Safety: the container side runs in a helper process whose root is the
// container's (chroot into its file system, or setns into the mount namespace
// of a running one), so every symlink, absolute or relative, resolves inside
// the container. Extraction (either side) refuses entries with ".."
// components, entries that would pass through a symlink (libarchive's
// SECURE_SYMLINKS) and hard links that leave the destination, naming the
// entry. Symlinks themselves are data and are kept as they are.
#pragma once

#include <functional>
#include <string>

#include "den/container.h"

namespace den {

// Writes a tar of `path` (file, symlink or directory tree, never following
// symlinks) to fd. The entry for `path` itself is named `top`, the others
// top/rel; top "." writes a directory's contents ("./x"). Numeric owners,
// modes, times, xattrs, hard links.
void write_tar(int fd, const std::string& path, const std::string& top);

struct UntarOptions {
  bool keep_owners = true;  // false: files belong to whoever extracts (docker cp without -a)
  // Device nodes are skipped with a warning (den's one rule for tar entries,
  // EntryFilter in den/layer_tar.h); as root they are created.
  bool rootless = true;
};
// Extracts a tar stream (plain, gzip, zstd, ...) from fd into the existing
// directory dest, safely (see above). Throws Errc::Invalid naming the entry.
void extract_tar(int fd, const std::string& dest, const UntarOptions& opts);

// docker cp's destination rules for a tar whose first entry is the source
// (a directory, a file, or "." for a directory's contents): into an existing
// directory dest (dest/NAME); over an existing file (a file source only);
// else as dest itself, whose parent must exist (a trailing "/" on dest
// demands an existing directory). Throws Errc::Invalid/NotFound with the fix.
void extract_copy(int fd, const std::string& dest, const UntarOptions& opts);

// Runs child(fd) in a helper process whose root is the container's file
// system, as root of den's user namespace, and parent(fd) here, connected by
// a pipe: child_writes says which way the data flows. A stopped container's
// file system is mounted privately for the helper (its overlay and its
// volumes and bind mounts); a running one's mount namespace is joined.
// Throws with the child's error.
void with_container_root(ContainerStore& cs, const std::string& id, bool child_writes,
                         const std::function<void(int)>& child, const std::function<void(int)>& parent);

// volume import: extracts the tar on fd over a copy of the volume's
// contents in the store's staging area, then exchanges it with _data in one
// rename(2) (RENAME_EXCHANGE), under the volume's lock; a failure or a kill
// leaves the volume as it was. While a running container mounts the volume
// the archive is extracted whole into staging, then moved into _data by
// rename. Caller is in den's user namespace.
class VolumeStore;
void import_volume_tar(VolumeStore& vs, const std::string& name, int fd, const UntarOptions& opts = {});
// Splits "CONTAINER:PATH" (a local path has no ':' before its first '/', or
// starts with '/' or '.'). Returns false for a local path.
bool split_container_path(const std::string& arg, std::string* container, std::string* path);

}  // namespace den
