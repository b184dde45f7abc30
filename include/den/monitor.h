// den's container monitor (its conmon): a process forked from the `den` call
// that starts a container, stays its parent, holds its stdio (pipes or the
// pty master), writes the k8s-file log, serves attach clients over a unix
// socket, records the exit atomically in state.json, applies the restart
// policy, and cleans up (network helper, --rm) when the container ends.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>

#include "den/container.h"

namespace den {

// Attach stream frames: [type:1][length:4, big endian][payload].
enum class Frame : uint8_t {
  Stdin = 0,
  Stdout = 1,
  Stderr = 2,
  Exit = 3,       // payload: decimal exit code
  StdinEof = 4,
  Resize = 5,     // payload: "ROWS COLS"
  Error = 6,      // payload: message (the container could not start)
};
void write_frame(int fd, Frame type, std::string_view payload);
// Reads one frame; false at EOF.
bool read_frame(int fd, Frame* type, std::string* payload);

struct StartResult {
  bool ok = false;
  int exit_code = 0;  // when !ok: 125/126/127
  std::string error;
  pid_t pid = 0;
};

// Starts a created (or exited) container: forks the monitor, which clones the
// container. When attach_fd >= 0 the monitor streams to it from the first
// byte. Returns once the container runs (or failed to start).
StartResult start_container(ContainerStore& cs, const std::string& id, int attach_fd);

// Runs fn in a forked child that entered den's user namespace (to remove
// files owned by subordinate ids). Throws with fn's error.
void run_in_userns(const Config& cfg, const std::function<void()>& fn);

// Removes a stopped container: files (in the user namespace) and its name.
// `gone`, when given, runs as soon as the container is out of the store (name
// free, invisible to ps), while its files are still being deleted.
void remove_container(ContainerStore& cs, const std::string& id, const std::function<void()>& gone = {});

// Blocks until the container is not running; returns its state.
// timeout_ms < 0: forever. Returns false on timeout.
bool wait_for_exit(ContainerStore& cs, const std::string& id, int timeout_ms, ContainerState* out);

// Parses "SIGTERM", "TERM", "15"; throws Errc::Invalid.
int parse_signal(const std::string& s);

}  // namespace den
