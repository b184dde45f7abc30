// Service commands: events, healthcheck run, generate systemd, quadlet
// (list, print, generate), auto-update; and the run/create flags for health
// checks and systemd (--health-*, --sdnotify, --replace).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <map>
#include <optional>

#include "cli.h"
#include "den/container.h"
#include "den/error.h"
#include "den/events.h"
#include "den/fs.h"
#include "den/health.h"
#include "den/image.h"
#include "den/log.h"
#include "den/monitor.h"
#include "den/strings.h"
#include "den/systemd.h"
#include "den/template.h"
#include "den/timefmt.h"
#include "services.h"

namespace den::cli {

// ---- run/create flags ------------------------------------------------------------

std::vector<Option> service_create_options() {
  return {
      {"health-cmd", 0, OptKind::Value, "string", "Command to run to check health", ""},
      {"health-interval", 0, OptKind::Value, "duration", "Time between running the check (ms|s|m|h)", "30s"},
      {"health-on-failure", 0, OptKind::Value, "string",
       "Action when the container turns unhealthy: none, kill, restart, stop", "\"none\""},
      {"health-retries", 0, OptKind::Value, "int", "Consecutive failures needed to report unhealthy", "3"},
      {"health-start-period", 0, OptKind::Value, "duration",
       "Start period for the container to initialize before failures count (ms|s|m|h)", "0s"},
      {"health-timeout", 0, OptKind::Value, "duration", "Maximum time to allow one check to run (ms|s|m|h)", "30s"},
      {"no-healthcheck", 0, OptKind::Bool, "", "Disable any container-specified HEALTHCHECK", ""},
      {"sdnotify", 0, OptKind::Value, "string",
       "systemd notification: conmon (den signals READY), container (the container does), healthy (den signals "
       "READY once the health check passes), ignore",
       "\"conmon\""},
      {"replace", 0, OptKind::Bool, "", "Replace an existing container of the same name", ""},
  };
}

namespace {

int64_t duration_flag(const Args& a, const char* name, int64_t def) {
  if (!a.has(name)) return def;
  std::string v = a.value(name);
  auto d = parse_go_duration_nanos(v);
  if (!d || *d < 0)
    throw Error(fmt::format("invalid --{} \"{}\": use a duration like 500ms, 5s or 1m", name, v), Errc::Invalid);
  return *d == 0 ? def : *d;
}

std::vector<std::string> self_cmdline() {
  auto text = read_file_if_exists("/proc/self/cmdline");
  std::vector<std::string> argv;
  if (!text) return argv;
  std::string cur;
  for (char ch : *text) {
    if (ch == 0) {
      argv.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  return argv;
}

}  // namespace

void apply_service_flags(ContainerConfig& c, const Args& a, const Json& image_config) {
  HealthConfig h;
  if (image_config.is_object() && image_config.contains("Healthcheck"))
    h = health_config_from_image(image_config["Healthcheck"]);
  bool any_health = false;
  for (const char* f : {"health-cmd", "health-interval", "health-retries", "health-start-period", "health-timeout",
                        "health-on-failure"})
    any_health = any_health || a.has(f);
  if (a.flag("no-healthcheck")) {
    if (any_health) throw Error("--no-healthcheck conflicts with the --health-* options", Errc::Invalid);
    h = HealthConfig{};
    h.test = {"NONE"};
  }
  if (a.has("health-cmd")) {
    std::string cmd = a.value("health-cmd");
    if (trim(cmd).empty()) throw Error("--health-cmd is empty: give the command that checks the container", Errc::Invalid);
    // docker's forms: a JSON array (["CMD", ...] or exec words) or a shell command.
    Json j = Json::parse(cmd, nullptr, false);
    if (!j.is_discarded() && j.is_array() && !j.empty() && std::all_of(j.begin(), j.end(), [](const Json& x) { return x.is_string(); })) {
      h.test = j.get<std::vector<std::string>>();
      if (h.test[0] != "CMD" && h.test[0] != "CMD-SHELL" && h.test[0] != "NONE") h.test.insert(h.test.begin(), "CMD");
    } else {
      h.test = {"CMD-SHELL", cmd};
    }
  }
  h.interval = duration_flag(a, "health-interval", h.interval);
  h.timeout = duration_flag(a, "health-timeout", h.timeout);
  if (a.has("health-start-period")) h.start_period = duration_flag(a, "health-start-period", 0);
  if (a.has("health-retries")) {
    std::string r = a.value("health-retries");
    if (r.empty() || !std::all_of(r.begin(), r.end(), ::isdigit) || r.size() > 6)
      throw Error(fmt::format("invalid --health-retries \"{}\": use a number of checks, e.g. 3", r), Errc::Invalid);
    int n = std::stoi(r);
    h.retries = n == 0 ? 3 : n;
  }
  if (a.has("health-on-failure")) {
    std::string v = a.value("health-on-failure");
    if (v != "none" && v != "kill" && v != "restart" && v != "stop")
      throw Error(fmt::format("invalid --health-on-failure \"{}\": use none, kill, restart or stop", v), Errc::Invalid);
    h.on_failure = v;
  }
  if (any_health && !h.enabled() && !a.flag("no-healthcheck"))
    throw Error("the --health-* options need a check: give --health-cmd (the image has no HEALTHCHECK)",
                Errc::Invalid);
  c.health = h;
  std::string sd = a.value("sdnotify", "conmon");
  if (sd != "conmon" && sd != "container" && sd != "healthy" && sd != "ignore")
    throw Error(fmt::format("invalid --sdnotify \"{}\": use conmon, container, healthy or ignore", sd),
                Errc::Invalid);
  if (sd == "healthy" && !h.enabled())
    throw Error("--sdnotify=healthy waits for the health check: give --health-cmd (the image has no HEALTHCHECK)",
                Errc::Invalid);
  c.sdnotify = sd;
  c.create_command = self_cmdline();
  // The unit that runs the container (for auto-update), as podman records it.
  for (const char* var : {"DEN_SYSTEMD_UNIT", "PODMAN_SYSTEMD_UNIT"})
    if (const char* u = std::getenv(var); u && *u && !c.labels.count("PODMAN_SYSTEMD_UNIT"))
      c.labels["PODMAN_SYSTEMD_UNIT"] = u;
}

void replace_container(Context& ctx, const std::string& name) {
  ContainerStore cs(ctx.store());
  auto id = cs.try_resolve(name);
  if (!id) return;
  ContainerConfig c = cs.config(*id);
  if (c.name != name) return;  // an ID prefix, not the name
  {
    FileLock l = cs.lock(*id);
    ContainerState st = cs.state(*id);
    st.stopped_by_user = true;
    st.restarting = false;
    cs.save_state(*id, st);
  }
  ContainerState st = cs.state(*id);
  if ((st.status == ContainerStatus::Running || st.status == ContainerStatus::Paused) && st.pid > 0) {
    ::kill(st.pid, SIGKILL);
    wait_for_exit(cs, *id, -1, &st);
  }
  FileLock l = cs.lock(*id);
  if (!is_dir(cs.dir(*id))) return;  // --rm removed it meanwhile
  remove_container(cs, *id);
  emit_container_event(ctx.config(), "destroy", *id, c.name, c.image_name, c.labels);
}

void maybe_advise_linger(Context& ctx) {
  const Config& cfg = ctx.config();
  if (!cfg.rootless) return;
  if (std::getenv("INVOCATION_ID")) return;  // started by systemd: a unit keeps it
  if (cfg.user_name.empty() || path_exists("/var/lib/systemd/linger/" + cfg.user_name)) return;
  // Once per boot (the run root is on a tmpfs).
  std::string marker = cfg.runroot + "/linger-advice";
  if (path_exists(marker)) return;
  try {
    write_file_atomic(marker, "", 0600, Sync::None);
  } catch (const Error&) {
  }
  log::warn("user {} has no linger: detached containers may be stopped when you log out, and their restart "
            "policies are not applied at boot; to keep them running, run `loginctl enable-linger {}`",
            cfg.user_name, cfg.user_name);
}

void wait_for_monitor_exit(const ContainerState& st, int timeout_ms) {
  if (st.monitor_pid <= 0 || st.monitor_pid == ::getpid()) return;
  int64_t deadline = now_nanos() + int64_t{timeout_ms} * 1000000;
  while (process_start_time(st.monitor_pid) == st.monitor_start && st.monitor_start != 0) {
    if (now_nanos() >= deadline) {
      log::debug("stop: monitor {} still runs after {} ms", st.monitor_pid, timeout_ms);
      return;
    }
    ::usleep(10000);
  }
}

std::string health_status_suffix(const ContainerState& st) {
  if (st.status != ContainerStatus::Running || st.health.empty()) return "";
  if (st.health == "starting") return " (health: starting)";
  return " (" + st.health + ")";
}

std::string wait_for_condition(ContainerStore& cs, const std::string& id, const std::string& cond) {
  static const char* known[] = {"not-running", "next-exit", "removed", "stopped", "exited", "running",
                                "healthy",     "unhealthy", "created", "paused"};
  if (std::find(std::begin(known), std::end(known), cond) == std::end(known))
    throw Error(fmt::format("invalid --condition \"{}\": use not-running, next-exit, removed, running, stopped, "
                            "exited, healthy, unhealthy, created or paused",
                            cond),
                Errc::Invalid);
  if (cond == "not-running" || cond == "stopped" || cond == "exited") {
    ContainerState st;
    wait_for_exit(cs, id, -1, &st);
    return std::to_string(st.exit_code);
  }
  bool seen_running = false;
  for (;;) {
    if (!is_dir(cs.dir(id))) {
      if (cond == "removed") return "0";
      throw Error(fmt::format("container {} was removed while waiting for it to be {}", id.substr(0, 12), cond),
                  Errc::NotFound);
    }
    ContainerState st = cs.state(id);
    bool running = st.status == ContainerStatus::Running;
    if (cond == "next-exit") {
      if (running) seen_running = true;
      if (seen_running && !running && !st.restarting) return std::to_string(st.exit_code);
    } else if (cond == "running" && running) {
      return "-1";
    } else if ((cond == "healthy" || cond == "unhealthy") && running && st.health == cond) {
      return "-1";
    } else if (cond == "created" && st.status == ContainerStatus::Created) {
      return "-1";
    } else if (cond == "paused" && st.status == ContainerStatus::Paused) {
      return "-1";
    }
    if ((cond == "healthy" || cond == "unhealthy") && !cs.config(id).health.enabled())
      throw Error(fmt::format("container {} has no healthcheck: it never becomes {}", id.substr(0, 12), cond),
                  Errc::Invalid);
    ::usleep(100000);
  }
}

std::vector<std::string> containers_for_start_all(ContainerStore& cs, const std::vector<std::string>& filters) {
  std::map<std::string, std::vector<std::string>> by_key;
  for (const auto& f : filters) {
    bool found = false;
    auto [k, v] = split_once(f, '=', &found);
    if (!found || (k != "restart-policy" && k != "name" && k != "label"))
      throw Error(fmt::format("invalid --filter \"{}\": use restart-policy=POLICY, name=NAME or label=KEY[=VALUE]", f),
                  Errc::Invalid);
    by_key[k].push_back(v);
  }
  std::vector<std::string> out;
  std::vector<ContainerStore::Entry> all = cs.load_all();
  std::sort(all.begin(), all.end(), [](const auto& x, const auto& y) { return x.config.created < y.config.created; });
  for (const auto& e : all) {
    if (e.state.status == ContainerStatus::Running || e.state.status == ContainerStatus::Paused) continue;
    ContainerConfig c = cs.config(e.config.id);
    bool ok = true;
    for (const auto& [k, values] : by_key) {
      bool any = false;
      for (const auto& v : values) {
        if (k == "restart-policy")
          any = any || (c.restart.name == v && !(v == "unless-stopped" && e.state.stopped_by_user));
        else if (k == "name")
          any = any || c.name == v;
        else {
          auto [lk, lv] = split_once(v, '=');
          auto it = c.labels.find(lk);
          any = any || (it != c.labels.end() && (v.find('=') == std::string::npos || it->second == lv));
        }
      }
      ok = ok && any;
    }
    if (ok) out.push_back(c.name);
  }
  return out;
}

namespace {

// ---- events ----------------------------------------------------------------------

int cmd_events(Context& ctx, const Args& a) {
  const Config& cfg = ctx.config();
  int64_t now = now_nanos();
  bool stream = a.value("stream", "true") == "true";
  EventQuery q;
  q.filter = EventFilter::parse(a.list("filter"));
  // As docker: without --since, only new events (or, not streaming, all stored).
  q.since = stream ? now : 0;
  if (a.has("since")) {
    auto t = parse_docker_time(a.value("since"), now);
    if (!t) throw Error(fmt::format("invalid --since \"{}\": use a time (2024-05-01T10:00:00) or a duration (10m)",
                                    a.value("since")),
                        Errc::Invalid);
    q.since = *t;
  }
  if (a.has("until")) {
    auto t = parse_docker_time(a.value("until"), now);
    if (!t) throw Error(fmt::format("invalid --until \"{}\": use a time (2024-05-01T10:00:00) or a duration (10m)",
                                    a.value("until")),
                        Errc::Invalid);
    q.until = *t;
  }
  q.follow = stream && q.until > now;
  std::string format = a.value("format");
  std::optional<Template> tmpl;
  if (!format.empty() && format != "json") tmpl = Template::parse(format);
  read_events(cfg, q, [&](const Event& e) {
    std::string line;
    if (format == "json")
      line = to_json(e).dump();
    else if (tmpl)
      line = tmpl->execute(to_json(e));
    else
      line = format_event_line(e);
    try {
      out(line + "\n");
    } catch (const Error&) {
      return false;  // the reader went away
    }
    return true;
  });
  return 0;
}

// ---- healthcheck run -----------------------------------------------------------------

int cmd_healthcheck_run(Context& ctx, const Args& a) {
  ContainerStore cs(ctx.store());
  std::string id = cs.resolve(a.positional[0]);
  HealthOutcome o = run_health_check(cs, id);
  out(o.status + "\n");
  return o.result.exit_code == 0 ? 0 : 1;
}

// ---- generate systemd -------------------------------------------------------------------

std::string self_exe() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "/usr/bin/den";
  buf[n] = 0;
  return buf;
}

// The `den run` arguments that recreate a container: its create command
// reparsed, without the options the unit sets itself.
std::vector<std::string> recreate_args(const ContainerConfig& c) {
  const std::vector<std::string>& argv = c.create_command;
  size_t i = 1;
  // Global options before the command (their values may be separate words).
  while (i < argv.size() && argv[i].size() > 1 && argv[i][0] == '-') {
    if (argv[i].rfind("--", 0) == 0 && argv[i].find('=') == std::string::npos)
      for (const auto& o : global_options())
        if ("--" + o.name == argv[i] && o.kind != OptKind::Bool) i++;
    i++;
  }
  if (i < argv.size() && argv[i] == "container") i++;
  if (i >= argv.size() || (argv[i] != "run" && argv[i] != "create"))
    throw Error(fmt::format("container {} has no recorded create command (it was created by an older den): "
                            "recreate it, or generate a unit without --new",
                            c.name),
                Errc::Invalid);
  const Command* run = nullptr;
  for (const auto& cmd : command_table())
    for (const auto& p : cmd.paths)
      if (p == std::vector<std::string>{"run"}) run = &cmd;
  if (!run) throw Error("internal: no run command");
  Args parsed = parse_args(*run, argv, i + 1, "run", "den");
  static const char* drop[] = {"detach", "rm", "restart", "name", "replace", "sdnotify", "cidfile", "help",
                               "log-level", "debug", "root", "runroot", "storage-driver"};
  std::vector<std::string> out;
  for (const auto& [name, values] : parsed.values) {
    if (std::find(std::begin(drop), std::end(drop), name) != std::end(drop)) continue;
    const Option* opt = nullptr;
    for (const auto& o : run->options)
      if (o.name == name) opt = &o;
    if (opt && opt->kind == OptKind::Bool) {
      out.push_back(parsed.flag(name) ? "--" + name : "--" + name + "=false");
    } else {
      for (const auto& v : values) out.push_back("--" + name + "=" + v);
    }
  }
  out.insert(out.end(), parsed.positional.begin(), parsed.positional.end());
  return out;
}

// The global options of this call that select the store (the container was
// found there), with absolute paths, for the unit's Exec lines.
std::vector<std::string> unit_global_args(const Context& ctx) {
  const ConfigOverrides& ov = ctx.global.overrides;
  auto absolute = [](const std::string& p) {
    char real[PATH_MAX];
    return ::realpath(p.c_str(), real) ? std::string(real) : p;
  };
  std::vector<std::string> g;
  if (!ov.root.empty()) g.push_back("--root=" + absolute(ov.root));
  if (!ov.runroot.empty()) g.push_back("--runroot=" + absolute(ov.runroot));
  if (!ov.storage_driver.empty()) g.push_back("--storage-driver=" + ov.storage_driver);
  if (!ov.cgroup_manager.empty()) g.push_back("--cgroup-manager=" + ov.cgroup_manager);
  return g;
}

int cmd_generate_systemd(Context& ctx, const Args& a) {
  ContainerStore cs(ctx.store());
  std::string id = cs.resolve(a.positional[0]);
  ContainerConfig c = cs.config(id);
  GenerateOptions o;
  o.new_container = a.flag("new");
  o.use_name = a.flag("name");
  o.restart_policy = a.value("restart-policy", "on-failure");
  auto int_flag = [&](const char* name) {
    std::string v = a.value(name);
    if (v.empty() || !std::all_of(v.begin(), v.end(), ::isdigit) || v.size() > 6)
      throw Error(fmt::format("invalid --{} \"{}\": use a number of seconds", name, v), Errc::Invalid);
    return std::stoi(v);
  };
  if (a.has("restart-sec")) o.restart_sec = int_flag("restart-sec");
  if (a.has("stop-timeout")) o.stop_timeout = int_flag("stop-timeout");
  o.prefix = a.value("container-prefix", "container");
  o.separator = a.value("separator", "-");
  o.header = !a.flag("no-header");
  o.den_path = self_exe();
  o.global_args = unit_global_args(ctx);
  if (o.new_container) o.run_args = recreate_args(c);
  UnitFile u = generate_systemd_unit(c, o);
  if (a.flag("files")) {
    char cwd[4096];
    if (!::getcwd(cwd, sizeof cwd)) throw sys_error("getcwd");
    std::string path = std::string(cwd) + "/" + u.name;
    write_file_atomic(path, u.text, 0644);
    out(path + "\n");
  } else {
    out(u.text);
  }
  return 0;
}

// ---- quadlet -------------------------------------------------------------------------------

bool quadlet_user(const Args& a) { return a.has("user") ? a.flag("user") : ::geteuid() != 0; }

int cmd_quadlet_list(Context&, const Args& a) {
  std::vector<Json> rows;
  for (const auto& f : find_quadlet_files(quadlet_user(a)))
    rows.push_back({{"Name", f.name}, {"UnitName", quadlet_unit_name(f.name)}, {"Path", f.path}});
  std::string format = a.value("format", "table {{.Name}}\t{{.UnitName}}\t{{.Path}}");
  print_formatted(format, {{"Name", "NAME"}, {"UnitName", "UNIT NAME"}, {"Path", "PATH ON DISK"}}, rows);
  return 0;
}

int cmd_quadlet_print(Context&, const Args& a) {
  const std::string& want = a.positional[0];
  for (const auto& f : find_quadlet_files(quadlet_user(a)))
    if (f.name == want || quadlet_unit_name(f.name) == want) {
      out(read_file(f.path));
      return 0;
    }
  throw Error(fmt::format("no Quadlet file {} in {}", want, join(quadlet_dirs(quadlet_user(a)), ", ")),
              Errc::NotFound);
}

// The systemd generator: `den quadlet generate --user OUTDIR [EARLY LATE]`
// (contrib/systemd/den-user-generator runs it). Every file that converts is
// written; the others are reported as FILE:LINE errors on stderr (the
// journal) and produce no unit.
int cmd_quadlet_generate(Context&, const Args& a) {
  bool user = quadlet_user(a);
  bool dry = a.flag("dry-run");
  if (!dry && a.positional.empty())
    throw Error("den quadlet generate needs the output directory (systemd passes it to generators), or --dry-run",
                Errc::Invalid);
  std::string outdir = a.positional.empty() ? "" : a.positional[0];
  std::string den = a.value("den-path", self_exe());
  int rc = 0;
  std::string printed;
  const std::vector<QuadletFile> files = find_quadlet_files(user);
  for (const auto& f : files) {
    try {
      UnitFile u = quadlet_convert(f.path, read_file(f.path), den, &files);
      if (dry) {
        printed += "---" + u.name + "---\n" + u.text + "\n";
        continue;
      }
      mkdirs(outdir, 0755);
      write_file_atomic(outdir + "/" + u.name, u.text, 0644, Sync::None);
      // [Install] WantedBy=/RequiredBy=: generated units cannot be enabled,
      // so the generator makes the .wants/.requires links itself.
      for (const auto& s : parse_unit_file(f.path, read_file(f.path))) {
        if (s.name != "Install") continue;
        for (const auto& e : s.entries) {
          if (e.key != "WantedBy" && e.key != "RequiredBy") continue;
          for (const auto& target : split_unit_words(e.value)) {
            std::string dir = outdir + "/" + target + (e.key == "WantedBy" ? ".wants" : ".requires");
            mkdirs(dir, 0755);
            std::string link = dir + "/" + u.name;
            ::unlink(link.c_str());
            if (::symlink(("../" + u.name).c_str(), link.c_str()) != 0) throw sys_error("symlink " + link);
          }
        }
      }
    } catch (const Error& e) {
      std::string line = fmt::format("den-quadlet: {}\n", e.what());
      ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
      (void)n;
      rc = 1;
    }
  }
  if (dry) out(printed);
  return rc;
}

// ---- auto-update -----------------------------------------------------------------------------

int cmd_auto_update(Context& ctx, const Args& a) {
  ContainerStore cs(ctx.store());
  bool dry = a.flag("dry-run");
  std::vector<Json> rows;
  int rc = 0;
  for (const auto& e : cs.load_all()) {
    ContainerConfig c = cs.config(e.config.id);
    auto pol = c.labels.find("io.containers.autoupdate");
    if (pol == c.labels.end() || e.state.status != ContainerStatus::Running) continue;
    std::string policy = pol->second;
    auto unit_it = c.labels.find("PODMAN_SYSTEMD_UNIT");
    std::string unit = unit_it == c.labels.end() ? "" : unit_it->second;
    std::string updated = "false";
    try {
      if (policy != "registry" && policy != "local")
        throw Error(fmt::format("container {}: unknown auto-update policy \"{}\" (use registry or local)", c.name,
                                policy),
                    Errc::Invalid);
      if (unit.empty())
        throw Error(fmt::format("container {} is not run by a systemd unit (no PODMAN_SYSTEMD_UNIT label)", c.name),
                    Errc::Invalid);
      std::optional<ImageRecord> img;
      if (policy == "local")
        img = ctx.store().find_image(c.image_name);
      else if (!dry)
        img = pull_if_needed(ctx, c.image_name, "always", true);
      bool newer = img && img->id != c.image_id;
      if (dry) {
        updated = policy == "registry" ? "pending" : newer ? "pending" : "false";
      } else if (newer) {
        std::string cmd = fmt::format("systemctl {}restart {}", ctx.config().rootless ? "--user " : "",
                                      shell_quote(unit));
        if (std::system(cmd.c_str()) != 0)
          throw Error(fmt::format("restarting unit {} failed (see journalctl {}-u {})", unit,
                                  ctx.config().rootless ? "--user " : "", unit));
        updated = "true";
      }
    } catch (const Error& err) {
      write_all(STDERR_FILENO, fmt::format("Error: {}\n", err.what()));
      updated = "failed";
      rc = kExitEngine;
    }
    rows.push_back({{"Unit", unit}, {"Container", c.id.substr(0, 12) + " (" + c.name + ")"},
                    {"Image", c.image_name}, {"Policy", policy}, {"Updated", updated}});
  }
  std::string format = a.value("format", "table {{.Unit}}\t{{.Container}}\t{{.Image}}\t{{.Policy}}\t{{.Updated}}");
  print_formatted(format,
                  {{"Unit", "UNIT"}, {"Container", "CONTAINER"}, {"Image", "IMAGE"}, {"Policy", "POLICY"},
                   {"Updated", "UPDATED"}},
                  rows);
  return rc;
}

}  // namespace

void register_service_commands(std::vector<Command>& t) {
  t.push_back({{{"events"}, {"system", "events"}},
               "[OPTIONS]",
               "Get real time events from den",
               "den events --since 10m --stream=false\nden events -f type=container -f event=die --format json",
               {{"filter", 'f', OptKind::List, "filter",
                 "Filter output based on conditions provided (type, event, container, image, label, volume, network)",
                 ""},
                {"format", 0, OptKind::Value, "string", "Format output using a Go template or 'json'", ""},
                {"since", 0, OptKind::Value, "string", "Show all events created since timestamp or relative (e.g. 10m)",
                 ""},
                {"until", 0, OptKind::Value, "string", "Stream events until this timestamp or relative", ""},
                {"stream", 0, OptKind::Bool, "", "Keep following new events (false: print stored events and exit)",
                 "true"}},
               false, 0, 0, cmd_events});
  t.push_back({{{"healthcheck", "run"}},
               "CONTAINER",
               "Run a container's health check now",
               "den healthcheck run web",
               {},
               false, 1, 1, cmd_healthcheck_run});
  t.push_back({{{"generate", "systemd"}},
               "[OPTIONS] CONTAINER",
               "Generate a systemd unit file that runs a container",
               "den generate systemd --new --name web > ~/.config/systemd/user/container-web.service\n"
               "den generate systemd --files --name web",
               {{"new", 0, OptKind::Bool, "", "The unit creates the container (and removes it when stopped)", ""},
                {"name", 'n', OptKind::Bool, "", "Use the container name instead of its ID in the unit name", ""},
                {"files", 'f', OptKind::Bool, "", "Write the unit file to the current directory and print its path", ""},
                {"restart-policy", 0, OptKind::Value, "string",
                 "systemd restart policy: no, on-success, on-failure, on-abnormal, on-watchdog, on-abort, always",
                 "\"on-failure\""},
                {"restart-sec", 0, OptKind::Value, "int", "Seconds systemd waits before restarting the container", ""},
                {"stop-timeout", 't', OptKind::Value, "int", "Stop timeout in seconds (default: the container's)", ""},
                {"container-prefix", 0, OptKind::Value, "string", "Unit name prefix", "\"container\""},
                {"separator", 0, OptKind::Value, "string", "Separator between prefix and name", "\"-\""},
                {"no-header", 0, OptKind::Bool, "", "Leave out the header comment", ""}},
               false, 1, 1, cmd_generate_systemd});
  std::vector<Option> user_opt = {
      {"user", 0, OptKind::Bool, "", "Use the rootless Quadlet directories (default when not root)", ""}};
  std::vector<Option> list_opts = user_opt;
  list_opts.push_back({"format", 0, OptKind::Value, "string", "Format output using a Go template, 'table ...' or 'json'", ""});
  t.push_back({{{"quadlet", "list"}, {"quadlet", "ls"}},
               "[OPTIONS]",
               "List Quadlet files (.container, .volume, .network)",
               "den quadlet list",
               list_opts, false, 0, 0, cmd_quadlet_list});
  t.push_back({{{"quadlet", "print"}, {"quadlet", "cat"}},
               "[OPTIONS] NAME",
               "Print a Quadlet file",
               "den quadlet print web.container",
               user_opt, false, 1, 1, cmd_quadlet_print});
  std::vector<Option> gen_opts = user_opt;
  gen_opts.push_back({"dry-run", 0, OptKind::Bool, "", "Print the units instead of writing them", ""});
  gen_opts.push_back({"den-path", 0, OptKind::Value, "string", "den binary named in the units (default: this one)", ""});
  t.push_back({{{"quadlet", "generate"}},
               "[OPTIONS] OUTPUT_DIR [EARLY_DIR LATE_DIR]",
               "Turn Quadlet files into systemd units (the systemd generator's work)",
               "den quadlet generate --dry-run\nden quadlet generate --user /run/user/1000/systemd/generator\n\n"
               "[Container] keys: Image (required), ContainerName (default systemd-%N), Exec, Entrypoint,\n"
               "Environment, EnvironmentFile, PublishPort, Volume, Mount, Network, Label, Annotation, User,\n"
               "WorkingDir, HostName, ReadOnly, RunInit, NoNewPrivileges, AddCapability, DropCapability, Tmpfs,\n"
               "Ulimit, HealthCmd, HealthInterval, HealthRetries, HealthStartPeriod, HealthTimeout,\n"
               "HealthOnFailure, LogDriver, ShmSize, StopSignal, StopTimeout, Pull, Notify, AutoUpdate,\n"
               "PodmanArgs/DenArgs. [Volume]: VolumeName, Label, Driver, Options, Type, Device.\n"
               "[Network]: NetworkName, Label, Subnet, Gateway, Driver, Internal, IPv6.\n"
               "[Unit], [Service], [Install] and X-* sections are copied into the unit.",
               gen_opts, false, 0, 3, cmd_quadlet_generate});
  t.push_back({{{"auto-update"}},
               "[OPTIONS]",
               "Update containers labelled io.containers.autoupdate by restarting their units",
               "den auto-update --dry-run",
               {{"dry-run", 0, OptKind::Bool, "", "Check for updates without applying them", ""},
                {"format", 0, OptKind::Value, "string", "Format output using a Go template, 'table ...' or 'json'", ""}},
               false, 0, 0, cmd_auto_update});
}

}  // namespace den::cli
