// Whole-tree operations for the container child (between clone and exec):
// no exceptions, no allocation that matters, errno results. Used for
// docker's volume copy-up (the image's files at a volume's mount point are
// copied into an empty volume, owners and modes kept) and podman's :U.
#pragma once

#include <sys/types.h>

namespace den {

// True when dir exists and has no entries (a missing dir is not empty).
bool dir_is_empty(const char* dir);
// Copies the contents of directory `from` into the existing directory `to`
// (files, directories, symlinks, fifos; owners, modes, times; no hard links
// or device nodes), and gives `to` the owner and mode of `from`. Never
// follows symlinks. Returns 0 or an errno.
int copy_tree(const char* from, const char* to);
// chown -R (no symlink following). Returns 0 or an errno.
int chown_tree(const char* path, uid_t uid, gid_t gid);

}  // namespace den
