// Health checks (docker's HEALTHCHECK / --health-*): the container's monitor
// runs the check on its schedule (no timer unit, no daemon) through
// exec_in_container in a forked runner, which records the result: the status
// (starting, healthy, unhealthy) in state.json, where ps reads it, and the
// failing streak and the last five results (times, exit code, output) in the
// container's health.json, which inspect shows as State.Health. A check that
// runs longer than its timeout is killed and counts as failed. When the
// container turns unhealthy the monitor applies --health-on-failure (none,
// kill, restart, stop).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "den/json.h"

namespace den {

class ContainerStore;
struct ContainerConfig;

struct HealthConfig {
  // docker's Test: {"CMD-SHELL", "cmd"}, {"CMD", "arg0", ...}, {"NONE"}; empty
  // when the container has no check.
  std::vector<std::string> test;
  int64_t interval = 30'000'000'000;  // nanoseconds
  int64_t timeout = 30'000'000'000;
  int64_t start_period = 0;
  int retries = 3;
  std::string on_failure = "none";  // none | kill | restart | stop

  bool enabled() const { return !test.empty() && test[0] != "NONE"; }
  // The argv the check runs.
  std::vector<std::string> argv() const;
};

Json to_json(const HealthConfig& h);
HealthConfig health_config_from_json(const Json& j);
// An image config's "Healthcheck" (docker's nanosecond fields; zero means
// the default).
HealthConfig health_config_from_image(const Json& healthcheck);
// docker's inspect form: {"Test", "Interval", "Timeout", "StartPeriod", "Retries"}.
Json health_config_inspect_json(const HealthConfig& h);

struct HealthResult {
  int64_t start = 0, end = 0;  // unix nanos
  int exit_code = 0;           // -1: timed out or could not run
  std::string output;          // first 4 KiB of stdout+stderr
};

struct HealthLog {
  std::string status;  // "", starting, healthy, unhealthy
  int failing_streak = 0;
  std::vector<HealthResult> log;  // the last five, oldest first
};

// GRAPHROOT/containers/<id>/health.json; an empty log when missing.
HealthLog read_health_log(ContainerStore& cs, const std::string& id);
// inspect's State.Health: {"Status", "FailingStreak", "Log": [...]}.
Json health_inspect_json(const HealthLog& h);

// Resets the health of a container that (re)starts: status "starting",
// streak 0 (the log is kept). Caller holds the container lock.
void reset_health(ContainerStore& cs, const std::string& id);

struct HealthOutcome {
  std::string status;   // after this check
  bool changed = false;  // the status changed
  HealthResult result;
};
// Runs the check once in the running container and records the result
// (state.json's health, health.json, a health_status event on a change).
// Call from a single-threaded process (it forks). Throws when the container
// does not run or has no health check.
HealthOutcome run_health_check(ContainerStore& cs, const std::string& id);

// Pure state transition, for tests: the new status and streak after a result.
// `in_start_period`: failures then do not count (docker's --health-start-period).
void apply_health_result(HealthLog& h, const HealthResult& r, int retries, bool in_start_period);

// The monitor's side: schedules checks (each in a forked runner process, so
// the monitor's loop never blocks) and applies --health-on-failure.
class HealthScheduler {
 public:
  HealthScheduler(ContainerStore& cs, const ContainerConfig& c, pid_t container_pid);
  // Milliseconds until the next thing to do (a check, a SIGKILL after stop).
  int poll_timeout_ms() const;
  // Starts a check when one is due; escalates a stop that timed out.
  void tick();
  // A child of the monitor exited: true when it was a check runner (then its
  // result is acted on).
  bool child_exited(pid_t pid, int wait_status);
  // The container exited: stops a running check.
  void container_exited();
  // --health-on-failure=restart fired: the monitor restarts the container
  // whatever its restart policy.
  bool restart_requested() const { return restart_requested_; }

 private:
  ContainerStore& cs_;
  std::string id_;
  std::string stop_signal_;
  int stop_timeout_;
  HealthConfig health_;
  pid_t container_pid_;
  pid_t runner_ = -1;
  int64_t next_check_ = 0;
  int64_t kill_at_ = 0;  // SIGKILL deadline after --health-on-failure=stop
  bool restart_requested_ = false;
};

}  // namespace den
