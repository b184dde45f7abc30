// Resource limits on the command line: the run/create limit flags, and
// update, stats, pause, unpause (den/cgroup.h does the work).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <map>

#include "cli.h"
#include "den/cgroup.h"
#include "den/container.h"
#include "den/error.h"
#include "den/fs.h"
#include "den/strings.h"
#include "den/timefmt.h"

namespace den::cli {

std::vector<Option> resource_options(bool for_update) {
  std::vector<Option> o = {
      {"blkio-weight", 0, OptKind::Value, "uint16", "Block IO (relative weight), between 10 and 1000", ""},
      {"cpu-period", 0, OptKind::Value, "int", "Limit CPU CFS (Completely Fair Scheduler) period", ""},
      {"cpu-quota", 0, OptKind::Value, "int", "Limit CPU CFS (Completely Fair Scheduler) quota", ""},
      {"cpu-shares", 'c', OptKind::Value, "int", "CPU shares (relative weight)", ""},
      {"cpus", 0, OptKind::Value, "decimal", "Number of CPUs", ""},
      {"cpuset-cpus", 0, OptKind::Value, "string", "CPUs in which to allow execution (0-3, 0,1)", ""},
      {"cpuset-mems", 0, OptKind::Value, "string", "MEMs in which to allow execution (0-3, 0,1)", ""},
      {"memory", 'm', OptKind::Value, "bytes", "Memory limit", ""},
      {"memory-reservation", 0, OptKind::Value, "bytes", "Memory soft limit", ""},
      {"memory-swap", 0, OptKind::Value, "bytes",
       "Swap limit equal to memory plus swap: '-1' to enable unlimited swap", ""},
      {"pids-limit", 0, OptKind::Value, "int", "Tune container pids limit (set -1 for unlimited)", ""},
  };
  if (for_update) return o;
  std::vector<Option> more = {
      {"cgroup-parent", 0, OptKind::Value, "string", "Optional parent cgroup for the container", ""},
      {"cgroups", 0, OptKind::Value, "string", "Cgroup mode: enabled, disabled or no-conmon", "\"enabled\""},
      {"device-read-bps", 0, OptKind::List, "list", "Limit read rate (bytes per second) from a device", ""},
      {"device-read-iops", 0, OptKind::List, "list", "Limit read rate (IO per second) from a device", ""},
      {"device-write-bps", 0, OptKind::List, "list", "Limit write rate (bytes per second) to a device", ""},
      {"device-write-iops", 0, OptKind::List, "list", "Limit write rate (IO per second) to a device", ""},
      {"oom-score-adj", 0, OptKind::Value, "int", "Tune host's OOM preferences (-1000 to 1000)", ""},
  };
  o.insert(o.end(), more.begin(), more.end());
  return o;
}

namespace {

int64_t int_flag(const Args& a, const char* name) {
  std::string v = a.value(name);
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || errno || !end || *end)
    throw Error(fmt::format("invalid --{} \"{}\": give a whole number", name, v), Errc::Invalid);
  return n;
}

int64_t bytes_flag(const Args& a, const char* name, const char* shown, bool allow_unlimited) {
  std::string v = a.value(name);
  if (allow_unlimited && v == "-1") return -1;
  auto b = parse_ram_bytes(v);
  if (!b || *b < 0)
    throw Error(fmt::format("invalid {} \"{}\": give a size such as 300m or 1g", shown, v), Errc::Invalid);
  return *b;
}

}  // namespace

Resources resources_from_flags(const Args& a, Resources r) {
  if (a.has("memory")) r.memory = bytes_flag(a, "memory", "-m", false);
  if (a.has("memory-swap")) r.memory_swap = bytes_flag(a, "memory-swap", "--memory-swap", true);
  if (a.has("memory-reservation"))
    r.memory_reservation = bytes_flag(a, "memory-reservation", "--memory-reservation", false);
  if (a.has("cpus")) r.nano_cpus = parse_nano_cpus(a.value("cpus"));
  if (a.has("cpu-shares")) r.cpu_shares = int_flag(a, "cpu-shares");
  if (a.has("cpu-period")) r.cpu_period = int_flag(a, "cpu-period");
  if (a.has("cpu-quota")) r.cpu_quota = int_flag(a, "cpu-quota");
  if (a.has("cpuset-cpus")) r.cpuset_cpus = a.value("cpuset-cpus");
  if (a.has("cpuset-mems")) r.cpuset_mems = a.value("cpuset-mems");
  if (a.has("pids-limit")) {
    r.pids_limit = int_flag(a, "pids-limit");
    if (r.pids_limit == 0) r.pids_limit = -1;  // docker: 0 is unlimited too
  }
  if (a.has("blkio-weight")) r.blkio_weight = static_cast<int>(int_flag(a, "blkio-weight"));
  for (const auto& v : a.list("device-read-bps")) r.device_read_bps.push_back(parse_device_rate(v, false, "--device-read-bps"));
  for (const auto& v : a.list("device-write-bps"))
    r.device_write_bps.push_back(parse_device_rate(v, false, "--device-write-bps"));
  for (const auto& v : a.list("device-read-iops"))
    r.device_read_iops.push_back(parse_device_rate(v, true, "--device-read-iops"));
  for (const auto& v : a.list("device-write-iops"))
    r.device_write_iops.push_back(parse_device_rate(v, true, "--device-write-iops"));
  if (a.has("oom-score-adj")) {
    r.oom_score_adj = static_cast<int>(int_flag(a, "oom-score-adj"));
    r.has_oom_score_adj = true;
  }
  validate_resources(r);
  return r;
}

void resource_config_from_flags(const Config& cfg, const Args& a, ContainerConfig& c) {
  c.resources = resources_from_flags(a, Resources{});
  c.cgroups = a.value("cgroups", "enabled");
  if (c.cgroups != "enabled" && c.cgroups != "disabled" && c.cgroups != "no-conmon")
    throw Error(fmt::format("invalid --cgroups \"{}\": use enabled, disabled or no-conmon", c.cgroups),
                Errc::Invalid);
  c.cgroup_parent = a.value("cgroup-parent");
  c.cgroup_manager = cfg.cgroup_manager == "auto" ? "" : cfg.cgroup_manager;
  // Refused here, before anything is created, with the fix.
  check_limits_possible(c.resources, c.cgroups, cfg.cgroup_manager, c.cgroup_parent);
}

namespace {

ContainerStore containers(Context& ctx) { return ContainerStore(ctx.store()); }

// ---- update ------------------------------------------------------------------

int cmd_update(Context& ctx, const Args& a) {
  ContainerStore cs = containers(ctx);
  std::vector<std::string> ids;
  for (const auto& arg : a.positional) ids.push_back(cs.resolve(arg));
  bool any = false;
  for (const auto& o : resource_options(true))
    if (a.has(o.name)) any = true;
  if (!any) throw Error("you must provide one or more flags when using this command (see den update --help)", Errc::Invalid);
  for (size_t i = 0; i < ids.size(); i++) {
    const std::string& id = ids[i];
    FileLock l = cs.lock(id);
    ContainerConfig c = cs.config(id);
    ContainerState st = cs.state(id);
    Resources r = resources_from_flags(a, c.resources);
    bool live = st.status == ContainerStatus::Running || st.status == ContainerStatus::Paused;
    if (live) {
      if (!cgroup_exists(st.cgroup)) {
        check_limits_possible(r, c.cgroups, c.cgroup_manager.empty() ? ctx.config().cgroup_manager : c.cgroup_manager,
                              c.cgroup_parent);
        throw Error(fmt::format("cannot update {}: it runs without a cgroup; restart it to apply limits",
                                a.positional[i]),
                    Errc::Unsupported);
      }
      with_context(fmt::format("update {}", a.positional[i]), [&] { apply_resources(st.cgroup, r); });
    } else {
      check_limits_possible(r, c.cgroups, c.cgroup_manager.empty() ? ctx.config().cgroup_manager : c.cgroup_manager,
                            c.cgroup_parent);
    }
    c.resources = r;
    cs.save_config(c);
    out(a.positional[i] + "\n");
  }
  return 0;
}

// ---- pause / unpause -------------------------------------------------------------

int pause_or_unpause(Context& ctx, const Args& a, bool pause) {
  ContainerStore cs = containers(ctx);
  for (const auto& arg : a.positional) {
    std::string id = cs.resolve(arg);
    FileLock l = cs.lock(id);
    ContainerState st = cs.state(id);
    if (pause) {
      if (st.status == ContainerStatus::Paused)
        throw Error(fmt::format("container {} is already paused", arg), Errc::Invalid);
      if (st.status != ContainerStatus::Running)
        throw Error(fmt::format("container {} is not running", arg), Errc::Invalid);
      if (!cgroup_exists(st.cgroup)) {
        CgroupSupport s = probe_cgroup_support(ctx.config().cgroup_manager);
        throw Error(fmt::format("cannot pause {}: it runs without a cgroup, and den pauses through cgroup v2's "
                                "cgroup.freeze ({}; {})",
                                arg, s.problem.empty() ? "it was started with --cgroups=disabled" : s.problem,
                                s.problem.empty() ? "start it without --cgroups=disabled" : cgroup_fix_hint(s)),
                    Errc::Unsupported);
      }
    } else if (st.status != ContainerStatus::Paused) {
      throw Error(fmt::format("container {} is not paused", arg), Errc::Invalid);
    }
    with_context(fmt::format("{} {}", pause ? "pause" : "unpause", arg), [&] { cgroup_freeze(st.cgroup, pause); });
    st.status = pause ? ContainerStatus::Paused : ContainerStatus::Running;
    cs.save_state(id, st);
    out(arg + "\n");
  }
  return 0;
}

int cmd_pause(Context& ctx, const Args& a) { return pause_or_unpause(ctx, a, true); }
int cmd_unpause(Context& ctx, const Args& a) { return pause_or_unpause(ctx, a, false); }

// ---- stats -----------------------------------------------------------------------

struct StatTarget {
  std::string id, name, cgroup;
  pid_t pid = 0;
  bool running = false;
  ResourceSample prev;
  bool warned = false;
};

std::string pct(double v) { return fmt::format("{:.2f}%", v); }

Json stats_row(StatTarget& t, const ResourceSample& now, bool no_trunc) {
  Json j;
  j["ID"] = no_trunc ? t.id : t.id.substr(0, 12);
  j["Container"] = j["ID"];
  j["Name"] = t.name;
  if (!t.running) {
    j["CPUPerc"] = "0.00%";
    j["MemUsage"] = "0B / 0B";
    j["MemPerc"] = "0.00%";
    j["NetIO"] = "0B / 0B";
    j["BlockIO"] = "0B / 0B";
    j["PIDs"] = "0";
    return j;
  }
  double wall_us = static_cast<double>(now.taken_ns - t.prev.taken_ns) / 1000.0;
  double cpu = wall_us > 0 && now.cpu_usec >= t.prev.cpu_usec
                   ? static_cast<double>(now.cpu_usec - t.prev.cpu_usec) / wall_us * 100.0
                   : 0.0;
  j["CPUPerc"] = pct(cpu);
  if (now.mem_usage >= 0 && now.mem_limit > 0) {
    j["MemUsage"] = bytes_size(static_cast<double>(now.mem_usage)) + " / " + bytes_size(static_cast<double>(now.mem_limit));
    j["MemPerc"] = pct(static_cast<double>(now.mem_usage) * 100.0 / static_cast<double>(now.mem_limit));
  } else {
    j["MemUsage"] = "-- / --";
    j["MemPerc"] = "--";
  }
  j["NetIO"] = now.net_rx >= 0 ? human_size(static_cast<double>(now.net_rx)) + " / " +
                                     human_size(static_cast<double>(now.net_tx))
                               : "-- / --";
  j["BlockIO"] = now.blk_read >= 0 ? human_size(static_cast<double>(now.blk_read)) + " / " +
                                         human_size(static_cast<double>(now.blk_write))
                                   : "-- / --";
  j["PIDs"] = now.pids >= 0 ? std::to_string(now.pids) : "--";
  return j;
}

volatile std::sig_atomic_t g_stop = 0;

int cmd_stats(Context& ctx, const Args& a) {
  ContainerStore cs = containers(ctx);
  bool all = a.flag("all");
  bool stream = !a.flag("no-stream");
  bool no_trunc = a.flag("no-trunc");
  std::string format = a.value("format");
  if (format.empty())
    format = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";
  std::vector<StatTarget> targets;
  auto add = [&](const std::string& id) {
    ContainerConfig c = cs.config(id);
    ContainerState st = cs.state(id);
    StatTarget t;
    t.id = id;
    t.name = c.name;
    t.running = st.status == ContainerStatus::Running || st.status == ContainerStatus::Paused;
    t.pid = t.running ? st.pid : 0;
    t.cgroup = t.running ? st.cgroup : "";
    targets.push_back(t);
  };
  if (!a.positional.empty()) {
    for (const auto& arg : a.positional) add(cs.resolve(arg));
  } else {
    std::vector<ContainerStore::Entry> entries = cs.load_all();
    // Newest first, in docker ps order.
    std::sort(entries.begin(), entries.end(),
              [](const auto& x, const auto& y) { return x.config.created > y.config.created; });
    for (const auto& e : entries)
      if (all || e.state.status == ContainerStatus::Running || e.state.status == ContainerStatus::Paused)
        add(e.config.id);
  }
  Json header = {{"ID", "CONTAINER ID"}, {"Container", "CONTAINER"}, {"Name", "NAME"},
                 {"CPUPerc", "CPU %"},   {"MemUsage", "MEM USAGE / LIMIT"}, {"MemPerc", "MEM %"},
                 {"NetIO", "NET I/O"},   {"BlockIO", "BLOCK I/O"},          {"PIDs", "PIDS"}};
  for (auto& t : targets) {
    if (!t.running) continue;
    t.prev = sample_resources(t.cgroup, t.pid);
    if (!t.prev.have_cgroup && !t.warned) {
      t.warned = true;
      std::fprintf(stderr,
                   "WARNING: %s has no cgroup: CPU %%, MEM USAGE and PIDS are read from /proc; MEM LIMIT is the "
                   "machine's, BLOCK I/O is unavailable (--)\n",
                   t.name.c_str());
    }
  }
  std::signal(SIGINT, [](int) { g_stop = 1; });
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  bool first = true;
  for (;;) {
    ::usleep(first ? 500000 : 1000000);
    if (g_stop) break;
    std::vector<Json> rows;
    for (auto& t : targets) {
      ResourceSample now = t.running ? sample_resources(t.cgroup, t.pid) : ResourceSample{};
      rows.push_back(stats_row(t, now, no_trunc));
      if (t.running) t.prev = now;
    }
    if (stream && isatty(1)) out("\033[2J\033[H");
    print_formatted(format, header, rows);
    first = false;
    if (!stream) break;
    // Containers that exited drop out, as in docker.
    for (auto& t : targets)
      if (t.running && process_start_time(t.pid) == 0) t.running = false;
  }
  return 0;
}

}  // namespace

void register_resource_commands(std::vector<Command>& t) {
  t.push_back({{{"update"}, {"container", "update"}},
               "[OPTIONS] CONTAINER [CONTAINER...]",
               "Update configuration of one or more containers",
               "den update -m 500m --cpus 2 web\nden update --pids-limit 200 web db",
               resource_options(true),
               false, 1, -1, cmd_update});
  t.push_back({{{"stats"}, {"container", "stats"}},
               "[OPTIONS] [CONTAINER...]",
               "Display a live stream of container(s) resource usage statistics",
               "den stats\nden stats --no-stream web\nden stats --no-stream --format '{{.Name}} {{.MemUsage}}'",
               {{"all", 'a', OptKind::Bool, "", "Show all containers (default shows just running)", ""},
                {"format", 0, OptKind::Value, "string", "Format output using a custom template", ""},
                {"no-stream", 0, OptKind::Bool, "", "Disable streaming stats and only pull the first result", ""},
                {"no-trunc", 0, OptKind::Bool, "", "Do not truncate output", ""}},
               false, 0, -1, cmd_stats});
  t.push_back({{{"pause"}, {"container", "pause"}},
               "CONTAINER [CONTAINER...]",
               "Pause all processes within one or more containers",
               "den pause web",
               {},
               false, 1, -1, cmd_pause});
  t.push_back({{{"unpause"}, {"container", "unpause"}},
               "CONTAINER [CONTAINER...]",
               "Unpause all processes within one or more containers",
               "den unpause web",
               {},
               false, 1, -1, cmd_unpause});
}

}  // namespace den::cli
