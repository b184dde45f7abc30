// den's user namespace (rootless mode). The calling user becomes root inside;
// its whole subordinate range (from libsubid, i.e. /etc/subuid, /etc/subgid or
// whatever NSS module shadow is configured with) follows as ids 1..N. The maps
// are written by the setuid helpers newuidmap/newgidmap, as podman does.
//
// As in podman, one such namespace serves all of a user's containers: a tiny
// "den-pause" process (RUNROOT/pause.pid) holds it, and every den call joins
// it with setns(2) instead of mapping a new one (newuidmap and newgidmap cost
// ~10 ms a call here). It is not a daemon: it only sleeps. The first call
// that needs it starts it; `den system migrate` stops it (after a change of
// /etc/subuid, say), and the next call starts a new one.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "den/config.h"
#include "den/fs.h"

namespace den {

struct IdMap {
  uint32_t container_id = 0;
  uint32_t host_id = 0;
  uint32_t size = 0;
};

struct IdMappings {
  std::vector<IdMap> uids;
  std::vector<IdMap> gids;
};

// Minimum subordinate ids den asks for: a full 16-bit range, so image files
// owned by nobody (65534) are representable.
inline constexpr uint32_t kMinSubordinateIds = 65536;

// One subordinate range of /etc/subuid or /etc/subgid: ids start..start+count-1.
struct SubidRange {
  uint64_t start = 0;
  uint64_t count = 0;
};

// When two of the user's ranges overlap (Debian's useradd adds one range by
// itself, and a second one added by hand often overlaps it), newuidmap and
// newgidmap fail with "Invalid argument": the kernel refuses overlapping
// maps. Returns that problem with its fix in one line, naming the ranges
// and the file; "" when they do not overlap.
std::string subid_overlap_problem(const std::string& user, bool gid, const std::vector<SubidRange>& ranges);

// The user's subordinate uid (gid) ranges, from libsubid, in file order.
std::vector<SubidRange> subid_ranges(const std::string& user, bool gid);

// 0 -> the user's uid/gid, 1.. -> the subordinate ranges in order. Throws one
// clear error naming the file and the command to fix it when the user has no
// range, too small a one, or overlapping ones.
IdMappings rootless_id_mappings(const Config& cfg);

// "0 1000 1 1 100000 65536": the argument list newuidmap expects after the pid.
std::vector<std::string> idmap_args(const std::vector<IdMap>& maps);

// Absolute path of newuidmap/newgidmap; throws with the fix (install uidmap,
// restore its setuid bit or file capability) when unusable.
std::string find_idmap_helper(const char* name);

// Writes the maps of process `pid` (which must have unshared a user namespace)
// with newuidmap/newgidmap. Throws with the helper's own message on failure.
void write_id_maps(pid_t pid, const IdMappings& m);

// An fd (O_CLOEXEC) of den's user namespace, for setns(2); starts the pause
// process that holds it when none runs. Rootless only.
UniqueFd open_rootless_userns(const Config& cfg);

// Stops the pause process, if one runs. Containers that still run keep their
// namespace; new ones get a new namespace. Returns true when one was stopped.
bool stop_pause_process(const Config& cfg);

// Rootless: moves this process (must be single-threaded) into den's user
// namespace and becomes root in it. Real root or already inside den's
// namespace: nothing to do.
void enter_userns(const Config& cfg);

// True when this process is in a user namespace other than the initial one.
bool in_user_namespace();

}  // namespace den
