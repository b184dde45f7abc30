// Mount options of run/create: -v/--volume, --mount, --tmpfs, --volumes-from
// and the image's VOLUMEs, turned into the container's MountSpecs.
//
// Parsing is pure (unit-tested); prepare_mounts then touches the host: it
// creates missing -v bind sources (docker -v does, --mount refuses), named
// volumes on first use and anonymous volumes.
//
// MountSpec.options keep what the user asked for, in docker/podman words:
// "ro"/"rw", "z"/"Z" (accepted, no SELinux here), "U" (chown to the
// container's user), "O" (overlay: writes go to a per-container upper dir),
// "nocopy" (no copy-up of the image's files), a propagation ("rprivate",
// "shared", "rslave", ...); tmpfs: "size=..", "mode=..".
#pragma once

#include <string>
#include <vector>

#include "den/container.h"
#include "den/volume.h"

namespace den {

// -v [SRC:]DST[:OPTS]. SRC is an absolute host path (bind) or a volume name;
// without SRC an anonymous volume. Throws Errc::Invalid naming the problem.
MountSpec parse_volume_flag(const std::string& arg);
// --mount type=bind|volume|tmpfs,src=..,dst=..,ro,bind-propagation=..,
// volume-nocopy,tmpfs-size=..,tmpfs-mode=.. (docker's keys).
MountSpec parse_mount_flag(const std::string& arg);
// --tmpfs /path[:opts].
MountSpec parse_tmpfs_flag(const std::string& arg);
// "C" or "C:ro" / "C:rw": the container and the mode override ("" = keep).
std::pair<std::string, std::string> parse_volumes_from(const std::string& arg);

// Throws Errc::Invalid on two mounts at the same destination.
void check_duplicate_destinations(const std::vector<MountSpec>& mounts);

bool mount_readonly(const MountSpec& m);
// "rprivate", "rshared", ... ("" when none was asked for).
std::string mount_propagation(const MountSpec& m);
// docker's Mode column of inspect's Mounts ("z", "ro", "ro,Z", ...).
std::string mount_mode(const MountSpec& m);

struct MountFlags {
  std::vector<std::string> volume;        // -v
  std::vector<std::string> mount;         // --mount
  std::vector<std::string> tmpfs;         // --tmpfs
  std::vector<std::string> volumes_from;  // --volumes-from
  std::vector<std::string> image_volumes;  // the image's Config.Volumes
};

// Resolves everything into the container's mounts: explicit mounts first,
// then --volumes-from (every mount of those containers, with :ro/:rw
// applied, unless an explicit one has the destination), then image VOLUMEs
// not otherwise covered (as anonymous volumes). Creates missing named
// volumes, anonymous ones (names filled in) and missing -v bind sources.
// *created gets the volumes it created, for the caller to remove when the
// container is not created after all.
std::vector<MountSpec> prepare_mounts(VolumeStore& vs, ContainerStore& cs, const MountFlags& f,
                                      std::vector<std::string>* created);

// docker inspect: Mounts (Type, Name, Source, Destination, Driver, Mode, RW,
// Propagation), HostConfig.Binds (every bind and named volume in -v form,
// --mount ones too) and Config.Volumes (the anonymous ones).
Json mounts_inspect_json(const Store& store, const ContainerConfig& c);
Json binds_inspect_json(const ContainerConfig& c);
Json volumes_inspect_json(const ContainerConfig& c);

// The anonymous volumes of a container (rm -v, --rm).
std::vector<std::string> anonymous_volumes(const ContainerConfig& c);

}  // namespace den
