#include "den/health.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <cstdio>
#include <cstring>

#include "den/container.h"
#include "den/error.h"
#include "den/events.h"
#include "den/fs.h"
#include "den/lock.h"
#include "den/log.h"
#include "den/monitor.h"
#include "den/runtime.h"
#include "den/timefmt.h"

namespace den {

namespace {
constexpr int64_t kSecond = 1'000'000'000;
constexpr size_t kMaxOutput = 4096;
constexpr size_t kMaxLog = 5;
// A runner's exit code: the container just turned unhealthy.
constexpr int kRunnerUnhealthy = 10;
// Go's time.Duration.String() for the durations a health check takes:
// "500ms", "1s", "1m30s".
std::string go_duration(int64_t ns) {
  if (ns < kSecond) return ns % 1000000 == 0 ? fmt::format("{}ms", ns / 1000000) : fmt::format("{}us", ns / 1000);
  int64_t h = ns / (3600 * kSecond), m = ns / (60 * kSecond) % 60, s = ns / kSecond % 60, frac = ns % kSecond;
  std::string out;
  if (h) out += fmt::format("{}h", h);
  if (h || m) out += fmt::format("{}m", m);
  std::string sec = std::to_string(s);
  if (frac) {
    std::string f = fmt::format("{:09d}", frac);
    while (!f.empty() && f.back() == '0') f.pop_back();
    sec += "." + f;
  }
  return out + sec + "s";
}

}  // namespace

std::vector<std::string> HealthConfig::argv() const {
  if (test.empty() || test[0] == "NONE") return {};
  if (test[0] == "CMD-SHELL") return {"/bin/sh", "-c", test.size() > 1 ? test[1] : ""};
  if (test[0] == "CMD") return std::vector<std::string>(test.begin() + 1, test.end());
  return test;
}

Json to_json(const HealthConfig& h) {
  return {{"test", h.test},       {"interval", h.interval}, {"timeout", h.timeout},
          {"start_period", h.start_period}, {"retries", h.retries}, {"on_failure", h.on_failure}};
}

HealthConfig health_config_from_json(const Json& j) {
  HealthConfig h;
  if (!j.is_object()) return h;
  h.test = j.value("test", std::vector<std::string>{});
  h.interval = j.value("interval", h.interval);
  h.timeout = j.value("timeout", h.timeout);
  h.start_period = j.value("start_period", h.start_period);
  h.retries = j.value("retries", h.retries);
  h.on_failure = j.value("on_failure", h.on_failure);
  return h;
}

HealthConfig health_config_from_image(const Json& hc) {
  HealthConfig h;
  if (!hc.is_object()) return h;
  auto pos = [&](const char* k, int64_t def) {
    int64_t v = hc.contains(k) && hc[k].is_number_integer() ? hc[k].get<int64_t>() : 0;
    return v > 0 ? v : def;
  };
  if (hc.contains("Test") && hc["Test"].is_array())
    for (const auto& t : hc["Test"])
      if (t.is_string()) h.test.push_back(t.get<std::string>());
  h.interval = pos("Interval", h.interval);
  h.timeout = pos("Timeout", h.timeout);
  h.start_period = pos("StartPeriod", 0);
  h.retries = static_cast<int>(pos("Retries", h.retries));
  return h;
}

Json health_config_inspect_json(const HealthConfig& h) {
  return {{"Test", h.test}, {"Interval", h.interval}, {"Timeout", h.timeout},
          {"StartPeriod", h.start_period}, {"Retries", h.retries}};
}

namespace {

std::string health_path(ContainerStore& cs, const std::string& id) { return cs.dir(id) + "/health.json"; }

Json to_json(const HealthLog& h) {
  Json log = Json::array();
  for (const auto& r : h.log)
    log.push_back({{"start", r.start}, {"end", r.end}, {"exit_code", r.exit_code}, {"output", r.output}});
  return {{"status", h.status}, {"failing_streak", h.failing_streak}, {"log", log}};
}

void save_health_log(ContainerStore& cs, const std::string& id, const HealthLog& h) {
  write_file_atomic(health_path(cs, id), to_json(h).dump(), 0600, Sync::None);
}

}  // namespace

HealthLog read_health_log(ContainerStore& cs, const std::string& id) {
  HealthLog h;
  auto text = read_file_if_exists(health_path(cs, id));
  if (!text) return h;
  Json j = Json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return h;
  h.status = j.value("status", "");
  h.failing_streak = j.value("failing_streak", 0);
  for (const auto& r : j.value("log", Json::array()))
    h.log.push_back({r.value("start", int64_t{0}), r.value("end", int64_t{0}), r.value("exit_code", 0),
                     r.value("output", "")});
  return h;
}

Json health_inspect_json(const HealthLog& h) {
  Json log = Json::array();
  for (const auto& r : h.log)
    log.push_back({{"Start", format_rfc3339_nano(r.start)},
                   {"End", format_rfc3339_nano(r.end)},
                   {"ExitCode", r.exit_code},
                   {"Output", r.output}});
  return {{"Status", h.status.empty() ? "starting" : h.status}, {"FailingStreak", h.failing_streak}, {"Log", log}};
}

void reset_health(ContainerStore& cs, const std::string& id) {
  HealthLog h = read_health_log(cs, id);
  h.status = "starting";
  h.failing_streak = 0;
  save_health_log(cs, id, h);
  ContainerState st = cs.state(id);
  st.health = "starting";
  cs.save_state(id, st);
}

void apply_health_result(HealthLog& h, const HealthResult& r, int retries, bool in_start_period) {
  if (h.status.empty()) h.status = "starting";
  if (r.exit_code == 0) {
    h.failing_streak = 0;
    h.status = "healthy";
  } else if (!(in_start_period && h.status == "starting")) {
    // Failures in the start period do not count, until a check passed once.
    h.failing_streak++;
    if (h.failing_streak >= std::max(retries, 1)) h.status = "unhealthy";
  }
  h.log.push_back(r);
  while (h.log.size() > kMaxLog) h.log.erase(h.log.begin());
}

namespace {

// Kills pid and all its descendants (a shell's children would otherwise
// outlive a timed-out check).
void kill_tree(pid_t root) {
  std::vector<pid_t> tree = {root};
  for (size_t i = 0; i < tree.size(); i++) {
    for (const auto& name : list_dir("/proc")) {
      if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
      auto stat = read_file_if_exists("/proc/" + name + "/stat");
      if (!stat) continue;
      auto close = stat->rfind(')');
      if (close == std::string::npos) continue;
      int ppid = 0;
      char state = 0;
      if (std::sscanf(stat->c_str() + close + 1, " %c %d", &state, &ppid) == 2 && ppid == tree[i])
        tree.push_back(static_cast<pid_t>(std::stoi(name)));
    }
  }
  for (pid_t p : tree) ::kill(p, SIGKILL);
}

// Runs argv in the container with stdout+stderr captured, killing it at the
// timeout.
HealthResult exec_check(ContainerStore& cs, const ContainerConfig& c, const ContainerState& st) {
  HealthResult r;
  r.start = now_nanos();
  RunPlan plan = build_plan(cs.store().config(), c, Json::object(), {}, cs.dir(c.id), "");
  plan.argv = c.health.argv();
  plan.env = c.env;
  plan.tty = false;
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw sys_error("pipe");
  UniqueFd rd(p[0]), wr(p[1]);
  UniqueFd devnull = open_file("/dev/null", O_RDWR);
  ChildStdio io;
  io.in = devnull.get();
  io.out = wr.get();
  io.err = wr.get();
  SpawnError serr;
  pid_t pid = exec_in_container(plan, st.pid, st.pid_start, io, &serr);
  wr.reset();
  if (pid < 0) {
    r.end = now_nanos();
    r.exit_code = serr.exit_code;
    r.output = serr.message();
    return r;
  }
  int64_t deadline = r.start + c.health.timeout;
  bool timed_out = false;
  ::fcntl(rd.get(), F_SETFL, O_NONBLOCK);
  char buf[4096];
  int status = 0;
  for (;;) {
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    bool open = rd.get() >= 0;
    if (open) {
      ssize_t n;
      while ((n = ::read(rd.get(), buf, sizeof buf)) > 0)
        if (r.output.size() < kMaxOutput) r.output.append(buf, std::min<size_t>(static_cast<size_t>(n), kMaxOutput - r.output.size()));
      if (n == 0) rd.reset();
    }
    if (w == pid) break;
    int64_t now = now_nanos();
    if (now >= deadline) {
      kill_tree(pid);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      timed_out = true;
      break;
    }
    struct pollfd pf {
      rd.get(), POLLIN, 0
    };
    int wait_ms = static_cast<int>(std::min<int64_t>((deadline - now) / 1000000 + 1, 50));
    if (rd.get() >= 0)
      ::poll(&pf, 1, wait_ms);
    else
      ::usleep(static_cast<useconds_t>(wait_ms) * 1000);
  }
  r.end = now_nanos();
  if (timed_out) {
    r.exit_code = -1;
    r.output = fmt::format("Health check exceeded timeout ({})", go_duration(c.health.timeout));
    return r;
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

}  // namespace

HealthOutcome run_health_check(ContainerStore& cs, const std::string& id) {
  log::Phase phase("healthcheck");
  ContainerConfig c = cs.config(id);
  if (!c.health.enabled())
    throw Error(fmt::format("container {} has no defined healthcheck", c.name), Errc::Invalid);
  ContainerState st = cs.state(id);
  if (st.status != ContainerStatus::Running || st.pid <= 0)
    throw Error(fmt::format("container {} is not running", c.name), Errc::Invalid);
  HealthOutcome out;
  out.result = exec_check(cs, c, st);
  {
    FileLock l = cs.lock(id);
    ContainerState now = cs.state(id);
    // The container stopped (or restarted) meanwhile: the result is stale.
    if (now.status != ContainerStatus::Running || now.pid != st.pid) {
      out.status = now.health;
      return out;
    }
    HealthLog h = read_health_log(cs, id);
    std::string before = h.status.empty() ? "starting" : h.status;
    bool in_start = out.result.start < now.started_at + c.health.start_period;
    apply_health_result(h, out.result, c.health.retries, in_start);
    save_health_log(cs, id, h);
    out.status = h.status;
    out.changed = h.status != before;
    if (now.health != h.status) {
      now.health = h.status;
      cs.save_state(id, now);
    }
  }
  if (out.changed)
    emit_container_event(cs.store().config(), "health_status: " + out.status, id, c.name, c.image_name, c.labels);
  return out;
}

// ---- the monitor's scheduler -------------------------------------------------

HealthScheduler::HealthScheduler(ContainerStore& cs, const ContainerConfig& c, pid_t container_pid)
    : cs_(cs),
      id_(c.id),
      stop_signal_(c.stop_signal),
      stop_timeout_(c.stop_timeout),
      health_(c.health),
      container_pid_(container_pid) {
  {
    FileLock l = cs_.lock(id_);
    reset_health(cs_, id_);
  }
  // docker runs the first check one interval after the start.
  next_check_ = now_nanos() + health_.interval;
}

int HealthScheduler::poll_timeout_ms() const {
  int64_t now = now_nanos();
  int64_t next = runner_ > 0 ? INT64_MAX : next_check_;
  if (kill_at_ > 0) next = std::min(next, kill_at_);
  if (next == INT64_MAX) return -1;
  return static_cast<int>(std::clamp<int64_t>((next - now) / 1000000 + 1, 0, 3600 * 1000));
}

void HealthScheduler::tick() {
  int64_t now = now_nanos();
  if (kill_at_ > 0 && now >= kill_at_) {
    ::kill(container_pid_, SIGKILL);
    kill_at_ = 0;
  }
  if (runner_ > 0 || now < next_check_) return;
  pid_t pid = ::fork();
  if (pid < 0) {
    log::warn("healthcheck: fork: {}", std::strerror(errno));
    next_check_ = now + health_.interval;
    return;
  }
  if (pid == 0) {
    // The runner: a clean signal mask, and it dies with the monitor.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    int code = 0;
    try {
      HealthOutcome o = run_health_check(cs_, id_);
      if (o.changed && o.status == "unhealthy") code = kRunnerUnhealthy;
    } catch (const std::exception& e) {
      log::debug("healthcheck: {}", e.what());
      code = 1;
    }
    ::_exit(code);
  }
  runner_ = pid;
}

bool HealthScheduler::child_exited(pid_t pid, int wait_status) {
  if (pid != runner_) return false;
  runner_ = -1;
  // The next check one interval after this one ended, as docker does.
  next_check_ = now_nanos() + health_.interval;
  if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != kRunnerUnhealthy) return true;
  const std::string& action = health_.on_failure;
  log::debug("healthcheck: unhealthy, on-failure action {}", action);
  if (action == "kill") {
    ::kill(container_pid_, SIGKILL);
  } else if (action == "restart") {
    restart_requested_ = true;
    ::kill(container_pid_, SIGKILL);
  } else if (action == "stop") {
    try {
      FileLock l = cs_.lock(id_);
      ContainerState st = cs_.state(id_);
      st.stopped_by_user = true;
      cs_.save_state(id_, st);
    } catch (const std::exception& e) {
      log::warn("healthcheck: {}", e.what());
    }
    ::kill(container_pid_, parse_signal(stop_signal_));
    kill_at_ = now_nanos() + int64_t{stop_timeout_} * kSecond;
  }
  return true;
}

void HealthScheduler::container_exited() {
  kill_at_ = 0;
  if (runner_ > 0) {
    ::kill(runner_, SIGKILL);
    while (::waitpid(runner_, nullptr, 0) < 0 && errno == EINTR) {
    }
    runner_ = -1;
  }
}

}  // namespace den
