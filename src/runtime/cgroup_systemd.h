// The systemd cgroup manager: a transient scope on the user's systemd
// instance (the system instance for root) over D-Bus. Private to
// src/runtime (see den/cgroup.h).
#pragma once

#include <sys/types.h>

#include <string>

namespace den {

// Whether systemd runs and den can reach the user's instance
// ($XDG_RUNTIME_DIR/systemd/private or the session bus; root: the system bus).
bool systemd_manager_reachable();

// Starts the transient scope `unit` (Delegate=yes) in `slice` holding `pid`,
// waits until pid is in it, and returns the scope's cgroup directory
// (absolute). Throws den::Error with systemd's message. Call outside den's
// user namespace: D-Bus authenticates by the caller's uid.
std::string systemd_start_scope(const std::string& unit, const std::string& slice, pid_t pid,
                                const std::string& description);

}  // namespace den
