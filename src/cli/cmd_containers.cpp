// Container commands: run, create, start, stop, kill, restart, rm, ps, logs,
// wait, rename, container prune, inspect.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <optional>
#include <cstdlib>
#include <iostream>
#include <regex>

#include "cli.h"
#include "den/container.h"
#include "den/ps_filter.h"
#include "den/inspect_nils.h"
#include "den/error.h"
#include "den/events.h"
#include "den/fs.h"
#include "den/image.h"
#include "den/log.h"
#include "den/monitor.h"
#include "den/network.h"
#include "den/pod.h"
#include "den/mount_spec.h"
#include "den/volume.h"
#include "den/reference.h"
#include "den/strings.h"
#include "den/timefmt.h"
#include "services.h"

namespace den::cli {

namespace {

const char* kDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::vector<Option> create_options() {
  std::vector<Option> o = {
      {"annotation", 0, OptKind::List, "list", "Add an annotation to the container", ""},
      {"cap-add", 0, OptKind::List, "list", "Add Linux capabilities", ""},
      {"cap-drop", 0, OptKind::List, "list", "Drop Linux capabilities", ""},
      {"cidfile", 0, OptKind::Value, "string", "Write the container ID to the file", ""},
      {"detach", 'd', OptKind::Bool, "", "Run container in background and print container ID", ""},
      {"entrypoint", 0, OptKind::Value, "string", "Overwrite the default ENTRYPOINT of the image", ""},
      {"env", 'e', OptKind::List, "list", "Set environment variables", ""},
      {"env-file", 0, OptKind::List, "list", "Read in a file of environment variables", ""},
      {"hostname", 'h', OptKind::Value, "string", "Container host name", ""},
      {"init", 0, OptKind::Bool, "", "Run an init inside the container that forwards signals and reaps processes", ""},
      {"interactive", 'i', OptKind::Bool, "", "Keep STDIN open even if not attached", ""},
      {"ipc", 0, OptKind::Value, "string", "IPC mode to use: private, host, container:NAME", ""},
      {"label", 'l', OptKind::List, "list", "Set meta data on a container", ""},
      {"log-driver", 0, OptKind::Value, "string", "Logging driver: k8s-file, none", "\"k8s-file\""},
      {"name", 0, OptKind::Value, "string", "Assign a name to the container", ""},
      {"add-host", 0, OptKind::List, "list", "Add a custom host-to-IP mapping (host:ip; ip may be host-gateway)", ""},
      {"dns", 0, OptKind::List, "list", "Set custom DNS servers", ""},
      {"dns-option", 0, OptKind::List, "list", "Set DNS options", ""},
      {"dns-search", 0, OptKind::List, "list", "Set custom DNS search domains", ""},
      {"expose", 0, OptKind::List, "list", "Expose a port or a range of ports", ""},
      {"link", 0, OptKind::List, "list", "Add link to another container (name[:alias]) on the same network", ""},
      {"mac-address", 0, OptKind::Value, "string", "Container MAC address (e.g., 92:d0:c6:0a:29:33)", ""},
      {"network", 0, OptKind::Value, "string",
       "Connect a container to a network: none, host, slirp4netns[:OPTS], pasta[:OPTS], container:NAME, ns:PATH, "
       "or a network created with den network create",
       "\"slirp4netns\""},
      {"network-alias", 0, OptKind::List, "list", "Add network-scoped alias for the container", ""},
      {"publish", 'p', OptKind::List, "list", "Publish a container's port(s) to the host: [IP:][HOSTPORT:]PORT[/PROTO]", ""},
      {"publish-all", 'P', OptKind::Bool, "", "Publish all exposed ports to random ports", ""},
      {"net", 0, OptKind::Value, "string", "Alias for --network", "", true},
      {"pid", 0, OptKind::Value, "string", "PID namespace to use: private, host, container:NAME", ""},
      {"pod", 0, OptKind::Value, "string", "Run the container in an existing pod (name or ID)", ""},
      {"pod-id-file", 0, OptKind::Value, "string", "Run the container in the pod whose ID the file holds", ""},
      {"privileged", 0, OptKind::Bool, "", "Give extended privileges to this container", ""},
      {"pull", 0, OptKind::Value, "string", "Pull image before running: always, missing, newer, never", "\"missing\""},
      {"quiet", 'q', OptKind::Bool, "", "Suppress the pull output", ""},
      {"read-only", 0, OptKind::Bool, "", "Mount the container's root filesystem as read only", ""},
      {"restart", 0, OptKind::Value, "string", "Restart policy: no, on-failure[:N], always, unless-stopped", "\"no\""},
      {"rm", 0, OptKind::Bool, "", "Automatically remove the container when it exits", ""},
      {"rootfs", 0, OptKind::Bool, "", "The first argument is a directory to use as the root file system", ""},
      {"security-opt", 0, OptKind::List, "list", "Security options: no-new-privileges", ""},
      {"shm-size", 0, OptKind::Value, "bytes", "Size of /dev/shm", "64m"},
      {"stop-signal", 0, OptKind::Value, "string", "Signal to stop the container", "\"SIGTERM\""},
      {"stop-timeout", 0, OptKind::Value, "int", "Timeout (in seconds) to stop a container", "10"},
      {"tmpfs", 0, OptKind::List, "list", "Mount a tmpfs directory: /path[:options]", ""},
      {"tty", 't', OptKind::Bool, "", "Allocate a pseudo-TTY", ""},
      {"ulimit", 0, OptKind::List, "ulimit", "Ulimit options: name=soft[:hard]", ""},
      {"volume", 'v', OptKind::List, "list", "Bind mount a volume: [SRC:]DST[:ro|rw|z|Z|U|O|nocopy|PROPAGATION]", ""},
      {"volumes-from", 0, OptKind::List, "list", "Mount volumes from the specified container(s): CONTAINER[:ro|rw]", ""},
      {"mount", 0, OptKind::List, "mount", "Attach a filesystem mount: type=bind|volume|tmpfs,src=..,dst=..[,ro]", ""},
      {"user", 'u', OptKind::Value, "string", "Username or UID (format: <name|uid>[:<group|gid>])", ""},
      {"uts", 0, OptKind::Value, "string", "UTS namespace to use: private, host", ""},
      {"workdir", 'w', OptKind::Value, "string", "Working directory inside the container", ""},
      {"sig-proxy", 0, OptKind::Bool, "", "Proxy received signals to the process", "true"},
      {"detach-keys", 0, OptKind::Value, "string", "Override the key sequence for detaching a container", ""},
  };
  for (auto& r : resource_options(false)) o.push_back(r);
  return o;
}

// --pod / --pod-id-file: the container joins the pod (den/pod.h), which
// refuses the flags that belong to the pod.
void apply_pod_flags(Context& ctx, const Args& a, ContainerConfig& c) {
  std::string ref = a.value("pod");
  if (a.has("pod-id-file")) {
    std::string f = a.value("pod-id-file");
    auto text = read_file_if_exists(f);
    if (!text || trim(*text).empty())
      throw Error(fmt::format("--pod-id-file {}: no such file (or it is empty)", f), Errc::NotFound);
    if (!ref.empty()) throw Error("--pod and --pod-id-file cannot be used together", Errc::Invalid);
    ref = trim(*text);
  }
  if (ref.empty()) return;
  PodStore ps(ctx.store());
  PodRecord pod = ps.get(ps.resolve(ref));
  std::vector<std::string> given;
  for (const auto& [k, v] : a.values) given.push_back(k);
  join_pod(pod, c, given);
}

// Builds the container config from run/create flags and the image (docker's
// override rules: --entrypoint resets the image's Cmd, arguments after the
// image replace Cmd, -e after --env-file after the image's Env).
ContainerConfig config_from_flags(Context& ctx, const Args& a, std::vector<std::string> rest) {
  Store& store = ctx.store();
  const Config& cfg = ctx.config();
  ContainerConfig c;
  c.created = now_nanos();
  Json image_cfg = Json::object();
  std::string first = rest.front();
  rest.erase(rest.begin());
  if (a.flag("rootfs")) {
    char real[4096];
    if (!::realpath(first.c_str(), real) || !is_dir(real))
      throw Error(fmt::format("--rootfs {}: not a directory", first), Errc::Invalid);
    c.rootfs = real;
    c.image_name = real;
  } else {
    std::string pull = a.value("pull", "missing");
    if (pull != "missing" && pull != "never" && pull != "always" && pull != "newer")
      throw Error(fmt::format("invalid --pull \"{}\": use always, missing, newer or never", pull), Errc::Invalid);
    parse_reference(first);  // a clear error for bad references
    std::optional<ImageRecord> img = store.find_image(first);
    if (!img || pull == "always") img = pull_if_needed(ctx, first, pull, a.flag("quiet"));
    c.image_id = img->id;
    c.image_name = first;
    Json full = load_image_config(store, *img);
    if (full.contains("config") && full["config"].is_object()) image_cfg = full["config"];
  }
  auto strings_of = [](const Json& j, const char* key) {
    std::vector<std::string> out;
    if (j.contains(key) && j[key].is_array())
      for (const auto& e : j[key])
        if (e.is_string()) out.push_back(e.get<std::string>());
    return out;
  };
  // Entrypoint and command.
  if (a.has("entrypoint")) {
    std::string ep = a.value("entrypoint");
    if (!ep.empty()) {
      Json j = Json::parse(ep, nullptr, false);
      if (!j.is_discarded() && j.is_array())
        for (const auto& e : j) c.entrypoint.push_back(e.get<std::string>());
      else
        c.entrypoint = {ep};
    }
  } else {
    c.entrypoint = strings_of(image_cfg, "Entrypoint");
  }
  if (!rest.empty())
    c.cmd = rest;
  else if (!a.has("entrypoint"))
    c.cmd = strings_of(image_cfg, "Cmd");
  if (c.entrypoint.empty() && c.cmd.empty())
    throw Error("no command specified: give one after the image name (the image has no Cmd or Entrypoint)",
                Errc::Invalid);

  // Environment.
  c.env = strings_of(image_cfg, "Env");
  bool has_path = std::any_of(c.env.begin(), c.env.end(), [](const std::string& e) { return e.rfind("PATH=", 0) == 0; });
  if (!has_path) c.env.insert(c.env.begin(), kDefaultPath);
  for (const auto& f : a.list("env-file"))
    for (const auto& kv : read_env_file(f)) add_env(c.env, kv);
  for (const auto& kv : a.list("env")) add_env(c.env, kv);

  c.workdir = a.value("workdir", image_cfg.value("WorkingDir", ""));
  c.user = a.value("user", image_cfg.value("User", ""));
  c.tty = a.flag("tty");
  c.stdin_open = a.flag("interactive");
  c.init = a.flag("init");
  c.name = a.value("name");
  c.hostname = a.value("hostname");
  if (c.tty) add_env(c.env, "TERM=xterm");
  apply_network_flags(ctx, a, c);
  for (const std::string& v : {c.network, a.value("ipc"), a.value("pid")})
    if (v.rfind("container:", 0) == 0) ContainerStore(ctx.store()).resolve(v.substr(10));  // must exist
  c.ipc = a.value("ipc", "private");
  c.pid = a.value("pid", "private");
  c.uts = a.value("uts", "private");
  for (const auto& [opt, val] : {std::pair{"ipc", c.ipc}, {"pid", c.pid}, {"uts", c.uts}})
    if (val != "private" && val != "host" && val != "" && !(std::string(opt) != "uts" && val.rfind("container:", 0) == 0))
      throw Error(fmt::format("invalid --{} \"{}\": use private or host", opt, val), Errc::Invalid);
  c.privileged = a.flag("privileged");
  c.cap_add = a.list("cap-add");
  c.cap_drop = a.list("cap-drop");
  c.read_only = a.flag("read-only");
  for (const auto& so : a.list("security-opt")) {
    if (so == "no-new-privileges" || so == "no-new-privileges:true" || so == "no-new-privileges=true")
      c.no_new_privileges = true;
    else if (so == "no-new-privileges:false" || so == "no-new-privileges=false")
      c.no_new_privileges = false;
    else
      throw Error(fmt::format("unsupported --security-opt \"{}\": den knows no-new-privileges", so), Errc::Unsupported);
  }
  // Mounts are checked here, before anything exists; prepare_mounts (in
  // cmd_create_or_run) creates volumes and bind sources.
  for (const auto& t : a.list("tmpfs")) c.mounts.push_back(parse_tmpfs_flag(t));
  for (const auto& v : a.list("volume")) c.mounts.push_back(parse_volume_flag(v));
  for (const auto& v : a.list("mount")) c.mounts.push_back(parse_mount_flag(v));
  check_duplicate_destinations(c.mounts);
  for (const auto& v : a.list("volumes-from"))
    ContainerStore(ctx.store()).resolve(parse_volumes_from(v).first);  // must exist
  if (image_cfg.contains("Volumes") && image_cfg["Volumes"].is_object())
    for (auto it = image_cfg["Volumes"].begin(); it != image_cfg["Volumes"].end(); ++it)
      c.image_volumes.push_back(it.key());
  for (const auto& u : a.list("ulimit")) {
    bool found = false;
    auto [name, vals] = split_once(u, '=', &found);
    auto [soft, hard] = split_once(vals, ':');
    auto num = [&](const std::string& s) -> int64_t {
      if (s == "-1" || s == "unlimited") return -1;
      if (s.empty() || !std::all_of(s.begin(), s.end(), ::isdigit))
        throw Error(fmt::format("invalid --ulimit \"{}\": use name=soft[:hard]", u), Errc::Invalid);
      return std::stoll(s);
    };
    if (!found) throw Error(fmt::format("invalid --ulimit \"{}\": use name=soft[:hard]", u), Errc::Invalid);
    int64_t s = num(soft), h = hard.empty() ? s : num(hard);
    c.ulimits.push_back({name, s, h});
  }
  if (a.has("shm-size")) {
    auto b = parse_ram_bytes(a.value("shm-size"));
    if (!b || *b <= 0) throw Error(fmt::format("invalid --shm-size \"{}\"", a.value("shm-size")), Errc::Invalid);
    c.shm_size = *b;
  }
  if (image_cfg.contains("Labels") && image_cfg["Labels"].is_object())
    for (auto it = image_cfg["Labels"].begin(); it != image_cfg["Labels"].end(); ++it)
      if (it.value().is_string()) c.labels[it.key()] = it.value().get<std::string>();
  for (const auto& l : a.list("label")) {
    auto [k, v] = split_once(l, '=');
    c.labels[k] = v;
  }
  for (const auto& l : a.list("annotation")) {
    auto [k, v] = split_once(l, '=');
    c.annotations[k] = v;
  }
  std::string restart = a.value("restart", "no");
  {
    auto [name, n] = split_once(restart, ':');
    if (name != "no" && name != "always" && name != "on-failure" && name != "unless-stopped")
      throw Error(fmt::format("invalid --restart \"{}\": use no, always, on-failure[:N] or unless-stopped", restart),
                  Errc::Invalid);
    c.restart.name = name;
    if (!n.empty()) {
      if (name != "on-failure" || !std::all_of(n.begin(), n.end(), ::isdigit))
        throw Error(fmt::format("invalid --restart \"{}\": only on-failure takes a retry count", restart),
                    Errc::Invalid);
      c.restart.max_retries = std::stoi(n);
    }
  }
  c.auto_remove = a.flag("rm");
  if (c.auto_remove && c.restart.name != "no")
    throw Error("--restart and --rm cannot be used together", Errc::Invalid);
  c.stop_signal = a.value("stop-signal", image_cfg.value("StopSignal", "SIGTERM"));
  parse_signal(c.stop_signal);
  c.stop_timeout = ctx.config().stop_timeout;
  if (a.has("stop-timeout")) {
    std::string t = a.value("stop-timeout");
    if (t.empty() || !std::all_of(t.begin(), t.end(), ::isdigit))
      throw Error(fmt::format("invalid --stop-timeout \"{}\"", t), Errc::Invalid);
    c.stop_timeout = std::stoi(t);
  }
  c.log_driver = a.value("log-driver", cfg.log_driver);
  if (c.log_driver == "json-file") c.log_driver = "k8s-file";
  if (c.log_driver != "k8s-file" && c.log_driver != "none")
    throw Error(fmt::format("unsupported --log-driver \"{}\": use k8s-file or none", c.log_driver), Errc::Unsupported);
  if (image_cfg.contains("ExposedPorts") && image_cfg["ExposedPorts"].is_object())
    for (auto it = image_cfg["ExposedPorts"].begin(); it != image_cfg["ExposedPorts"].end(); ++it)
      c.exposed_ports.push_back(it.key());
  for (const auto& e : a.list("expose"))
    for (const auto& p : expand_ports({parse_port_spec(e)}))
      c.exposed_ports.push_back(fmt::format("{}/{}", p.container_port, p.protocol));
  std::sort(c.exposed_ports.begin(), c.exposed_ports.end());
  apply_service_flags(c, a, image_cfg);
  c.exposed_ports.erase(std::unique(c.exposed_ports.begin(), c.exposed_ports.end()), c.exposed_ports.end());
  apply_publish_flags(ctx, a, c);
  resource_config_from_flags(cfg, a, c);
  apply_pod_flags(ctx, a, c);
  return c;
}

// ---- commands ----------------------------------------------------------------

ContainerStore containers(Context& ctx) { return ContainerStore(ctx.store()); }

void drop_volumes(VolumeStore& vs, const std::vector<std::string>& names) {
  for (const auto& v : names) {
    try {
      vs.remove(v, true);
    } catch (const Error&) {
    }
  }
}

// The creation part of run/create: config, mounts (volumes and bind sources
// created), the store record and the create event. `adjust` may change the
// config just before it is stored. Nothing is left when it fails.
CreatedContainer create_from_flags(Context& ctx, const Args& a, const std::function<void(ContainerConfig&)>& adjust) {
  std::optional<log::Phase> step(std::in_place, "create: config");
  CreatedContainer r;
  ContainerConfig& c = r.config;
  c = config_from_flags(ctx, a, a.positional);
  step.emplace("create: mounts");
  ContainerStore cs = containers(ctx);
  if (a.flag("replace") && !c.name.empty()) replace_container(ctx, c.name);
  VolumeStore vs(ctx.store());
  c.mounts = prepare_mounts(vs, cs,
                            {a.list("volume"), a.list("mount"), a.list("tmpfs"), a.list("volumes-from"), c.image_volumes},
                            &r.new_volumes);
  step.emplace("create: store");
  try {
    if (adjust) adjust(c);
    c = cs.create(c);
  } catch (...) {
    drop_volumes(vs, r.new_volumes);
    throw;
  }
  emit_container_event(ctx.config(), "create", c.id, c.name, c.image_name, c.labels);
  return r;
}

int cmd_create_or_run(Context& ctx, const Args& a, bool run) {
  log::Phase phase(run ? "run" : "create");
  CreatedContainer created = create_from_flags(ctx, a, {});
  const ContainerConfig& c = created.config;
  ContainerStore cs = containers(ctx);
  VolumeStore vs(ctx.store());
  auto drop_new_volumes = [&] { drop_volumes(vs, created.new_volumes); };
  if (a.has("cidfile")) {
    std::string f = a.value("cidfile");
    int fd = ::open(f.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
      int e = errno;
      remove_container(cs, c.id);
      drop_new_volumes();
      throw sys_error("--cidfile " + f, e);
    }
    UniqueFd g(fd);
    write_all(fd, c.id);
  }
  if (!run) {
    out(c.id + "\n");
    return 0;
  }
  bool detach = a.flag("detach");
  int sv[2] = {-1, -1};
  if (!detach && ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw sys_error("socketpair");
  StartResult r = start_container(cs, c.id, detach ? -1 : sv[1]);
  if (detach) {
    if (!r.ok) {
      if (c.auto_remove) {
        try {
          remove_container(cs, c.id);
          drop_new_volumes();
        } catch (...) {
        }
      }
      throw Error(r.error).with_exit_code(r.exit_code);
    }
    out(c.id + "\n");
    maybe_advise_linger(ctx);
    return 0;
  }
  int code = attach_session(sv[0], c.tty, c.stdin_open, true, r.pid, a.value("sig-proxy", "true") == "true",
                            a.value("detach-keys"));
  ::close(sv[0]);
  if (code == -1) return 0;  // detached
  if (code == -2) {
    ContainerState end;
    wait_for_exit(cs, c.id, 5000, &end);
    code = end.exit_code;
  }
  if (!r.ok && code == 0) code = r.exit_code;
  return code;
}

int cmd_start(Context& ctx, const Args& a) {
  ContainerStore cs = containers(ctx);
  bool attach = a.flag("attach");
  if (attach && a.positional.size() > 1)
    throw Error("you cannot start and attach multiple containers at once", Errc::Invalid);
  int rc = 0;
  std::vector<std::string> args = a.positional;
  if (a.flag("all")) {
    if (attach || !args.empty()) throw Error("--all takes no container names and cannot be used with --attach", Errc::Invalid);
    args = containers_for_start_all(cs, a.list("filter"));
  } else if (args.empty()) {
    throw Error("\"den start\" requires at least 1 argument (or --all)", Errc::Invalid);
  } else if (a.has("filter")) {
    throw Error("--filter needs --all", Errc::Invalid);
  }
  for (const auto& arg : args) {
    std::string id = cs.resolve(arg);
    ContainerState st = cs.state(id);
    if (st.status == ContainerStatus::Running || st.status == ContainerStatus::Paused) {
      if (!attach) out(arg + "\n");
      continue;
    }
    {
      FileLock l = cs.lock(id);
      st = cs.state(id);
      st.stopped_by_user = false;
      cs.save_state(id, st);
    }
    ContainerConfig c = cs.config(id);
    int sv[2] = {-1, -1};
    if (attach && ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw sys_error("socketpair");
    StartResult r = start_container(cs, id, attach ? sv[1] : -1);
    if (attach) {
      int code = attach_session(sv[0], c.tty, a.flag("interactive") && c.stdin_open, true, r.pid, true, "");
      ::close(sv[0]);
      if (code == -2) {
        ContainerState end;
        wait_for_exit(cs, id, 5000, &end);
        code = end.exit_code;
      }
      return code < 0 ? 0 : code;
    }
    if (!r.ok) throw Error(fmt::format("unable to start container \"{}\": {}", arg, r.error)).with_exit_code(r.exit_code);
    out(arg + "\n");
  }
  return rc;
}

// Stops one container: stop signal, wait, SIGKILL.
void stop_one(ContainerStore& cs, const std::string& id, int timeout, int sig) {
  {
    FileLock l = cs.lock(id);
    ContainerState st = cs.state(id);
    st.stopped_by_user = true;
    st.restarting = false;  // a monitor waiting to restart it gives up
    cs.save_state(id, st);
  }
  ContainerState st = cs.state(id);
  if (st.status != ContainerStatus::Running && st.status != ContainerStatus::Paused) return;
  if (st.pid > 0) ::kill(st.pid, sig);
  if (!wait_for_exit(cs, id, timeout * 1000, &st)) {
    log::debug("stop: {} did not exit after {} s, sending SIGKILL", id.substr(0, 12), timeout);
    if (st.pid > 0) ::kill(st.pid, SIGKILL);
    wait_for_exit(cs, id, -1, &st);
  }
  // Returns once the monitor is done too (--rm removal): a systemd unit's
  // ExecStop expects the service's processes gone when it returns.
  wait_for_monitor_exit(st, 10000);
}

int cmd_stop(Context& ctx, const Args& a) {
  ContainerStore cs = containers(ctx);
  int rc = 0;
  for (const auto& arg : a.positional) {
    try {
      std::string id = cs.resolve(arg);
      ContainerConfig c = cs.config(id);
      int timeout = a.has("time") ? std::stoi(a.value("time")) : c.stop_timeout;
      stop_one(cs, id, timeout, parse_signal(c.stop_signal));
      emit_container_event(ctx.config(), "stop", id, c.name, c.image_name, c.labels);
      out(arg + "\n");
    } catch (const Error& e) {
      std::string line = fmt::format("Error: {}\n", e.what());
      write_all(STDERR_FILENO, line);
      rc = kExitEngine;
    }
  }
  return rc;
}

int cmd_kill(Context& ctx, const Args& a) {
  ContainerStore cs = containers(ctx);
  int sig = parse_signal(a.value("signal", "SIGKILL"));
  int rc = 0;
  for (const auto& arg : a.positional) {
    try {
      std::string id = cs.resolve(arg);
      ContainerState st = cs.state(id);
      if (st.status != ContainerStatus::Running && st.status != ContainerStatus::Paused)
        throw Error(fmt::format("cannot kill container {}: it is not running", arg), Errc::Invalid);
      if (sig == SIGKILL || sig == SIGTERM || sig == SIGINT) {
        FileLock l = cs.lock(id);
        ContainerState s2 = cs.state(id);
        s2.stopped_by_user = true;
        cs.save_state(id, s2);
      }
      // Recorded before the signal, so that it comes before the monitor's "die".
      ContainerConfig c = cs.config(id);
      emit_container_event(ctx.config(), "kill", id, c.name, c.image_name, c.labels, {{"signal", std::to_string(sig)}});
      if (::kill(st.pid, sig) != 0) throw sys_error("kill " + arg);
      out(arg + "\n");
    } catch (const Error& e) {
      write_all(STDERR_FILENO, fmt::format("Error: {}\n", e.what()));
      rc = kExitEngine;
    }
  }
  return rc;
}

int cmd_restart(Context& ctx, const Args& a) {
  ContainerStore cs = containers(ctx);
  for (const auto& arg : a.positional) {
    std::string id = cs.resolve(arg);
    ContainerConfig c = cs.config(id);
    int timeout = a.has("time") ? std::stoi(a.value("time")) : c.stop_timeout;
    stop_one(cs, id, timeout, parse_signal(c.stop_signal));
    {
      FileLock l = cs.lock(id);
      ContainerState st = cs.state(id);
      st.stopped_by_user = false;
      cs.save_state(id, st);
    }
    StartResult r = start_container(cs, id, -1);
    if (!r.ok) throw Error(fmt::format("unable to restart \"{}\": {}", arg, r.error)).with_exit_code(r.exit_code);
    emit_container_event(ctx.config(), "restart", id, c.name, c.image_name, c.labels);
    out(arg + "\n");
  }
  return 0;
}

// A pod's infra container goes with its pod (podman): refused while the pod
// exists.
void refuse_infra_removal(Context& ctx, ContainerStore& cs, const std::string& id, const std::string& arg) {
  ContainerConfig c = cs.config(id);
  if (!c.infra || c.pod.empty()) return;
  PodStore ps(ctx.store());
  if (!is_dir(ps.dir(c.pod))) return;  // its pod is gone (a crash): removable
  std::string pod = ps.get(c.pod).name;
  throw Error(fmt::format("container {} is the infra container of pod {}: remove the pod instead (den pod rm {})", arg,
                          pod, pod),
              Errc::InUse);
}

int cmd_rm(Context& ctx, const Args& a) {
  ContainerStore cs = containers(ctx);
  int rc = 0;
  for (const auto& arg : a.positional) {
    try {
      auto idopt = cs.try_resolve(arg);
      if (!idopt) {
        // A name left by a den killed while creating its container.
        if (cs.reclaim_name(arg)) {
          out(arg + "\n");
          continue;
        }
        if (a.flag("force")) continue;  // docker: rm -f of a missing container is fine
        throw Error(fmt::format("no such container: {}", arg), Errc::NotFound);
      }
      std::string id = *idopt;
      refuse_infra_removal(ctx, cs, id, arg);
      ContainerState st = cs.state(id);
      if (st.status == ContainerStatus::Running || st.status == ContainerStatus::Paused) {
        if (!a.flag("force"))
          throw Error(fmt::format("cannot remove container {}: it is running: stop the container before removing or "
                                  "force remove (rm -f)",
                                  arg),
                      Errc::InUse);
        stop_one(cs, id, 0, SIGKILL);
      }
      // The monitor may still be finishing (e.g. removing for --rm).
      FileLock l = cs.lock(id);
      if (!is_dir(cs.dir(id))) {
        out(arg + "\n");
        continue;
      }
      ContainerConfig c = cs.config(id);
      remove_container(cs, id);
      emit_container_event(ctx.config(), "destroy", id, c.name, c.image_name, c.labels);
      if (a.flag("volumes") && !anonymous_volumes(c).empty()) {
        VolumeStore vs(ctx.store());
        run_in_userns(ctx.config(), [&] { remove_anonymous_volumes(vs, c); });
      }
      out(arg + "\n");
    } catch (const Error& e) {
      write_all(STDERR_FILENO, fmt::format("Error: {}\n", e.what()));
      rc = kExitEngine;
    }
  }
  return rc;
}

int cmd_wait(Context& ctx, const Args& a) {
  ContainerStore cs = containers(ctx);
  for (const auto& arg : a.positional) {
    std::string id = cs.resolve(arg);
    if (a.has("condition")) {
      out(wait_for_condition(cs, id, a.value("condition")) + "\n");
      continue;
    }
    ContainerState st;
    wait_for_exit(cs, id, -1, &st);
    out(std::to_string(st.exit_code) + "\n");
  }
  return 0;
}

int cmd_rename(Context& ctx, const Args& a) {
  ContainerStore cs = containers(ctx);
  std::string id = cs.resolve(a.positional[0]);
  FileLock l = cs.lock(id);
  cs.rename(id, a.positional[1]);
  return 0;
}

// docker's TruncateWithEllipsis: at most `n` runes, the last one "…".
std::string truncate_runes(const std::string& s, size_t n) {
  size_t runes = 0, i = 0;
  for (; i < s.size(); i++) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (++runes == n) break;
  }
  size_t total = 0;
  for (unsigned char ch : s) total += (ch & 0xC0) != 0x80;
  return total <= n ? s : s.substr(0, i) + "\xe2\x80\xa6";
}

std::string quote_command(const ContainerConfig& c, bool no_trunc) {
  std::string cmd = join(c.argv(), " ");
  if (!no_trunc && cmd.size() > 20) cmd = cmd.substr(0, 19) + "\xe2\x80\xa6";
  return "\"" + cmd + "\"";
}

std::string status_text(const ContainerState& st, int64_t now) {
  switch (st.status) {
    case ContainerStatus::Running:
      return "Up " + human_duration(now - st.started_at) + health_status_suffix(st);
    case ContainerStatus::Paused:
      return "Up " + human_duration(now - st.started_at) + " (Paused)";
    case ContainerStatus::Exited:
      if (st.finished_at == 0) return "Created";
      if (st.restarting) return fmt::format("Restarting ({}) {}", st.exit_code, human_since(st.finished_at, now));
      return fmt::format("Exited ({}) {}", st.exit_code, human_since(st.finished_at, now));
    case ContainerStatus::Stopping:
      return "Stopping";
    case ContainerStatus::Removing:
      return "Removal In Progress";
    default:
      return "Created";
  }
}

Json container_inspect_json(ContainerStore& cs, const std::string& id) {
  ContainerConfig c = cs.config(id);
  ContainerState st = cs.state(id);
  bool running = st.status == ContainerStatus::Running || st.status == ContainerStatus::Paused;
  Json state;
  state["Status"] = running && st.status == ContainerStatus::Paused ? "paused" : std::string(status_name(st.status));
  if (st.restarting && !running) state["Status"] = "restarting";
  state["Running"] = running;
  state["Paused"] = st.status == ContainerStatus::Paused;
  state["Restarting"] = st.restarting && !running;
  state["OOMKilled"] = st.oom_killed;
  state["Dead"] = false;
  state["Pid"] = running ? st.pid : 0;
  state["ExitCode"] = st.exit_code;
  state["Error"] = st.error;
  state["StartedAt"] = st.started_at ? format_rfc3339_nano(st.started_at) : "0001-01-01T00:00:00Z";
  state["FinishedAt"] = st.finished_at ? format_rfc3339_nano(st.finished_at) : "0001-01-01T00:00:00Z";
  if (c.health.enabled()) {
    state["Health"] = health_inspect_json(read_health_log(cs, id));
    if (!running) state["Health"]["Status"] = st.health.empty() ? "starting" : st.health;
  }
  std::vector<std::string> argv = c.argv();
  Json config;
  config["Hostname"] = c.hostname.empty() ? c.id.substr(0, 12) : c.hostname;
  config["Domainname"] = "";
  config["User"] = c.user;
  config["AttachStdin"] = false;
  config["AttachStdout"] = false;
  config["AttachStderr"] = false;
  if (!c.exposed_ports.empty()) {
    config["ExposedPorts"] = Json::object();
    for (const auto& p : c.exposed_ports) config["ExposedPorts"][p] = Json::object();
  }
  config["Tty"] = c.tty;
  config["OpenStdin"] = c.stdin_open;
  config["StdinOnce"] = false;
  config["Env"] = c.env;
  config["Cmd"] = c.cmd.empty() ? Json(nullptr) : Json(c.cmd);
  config["Image"] = c.image_name;
  config["Volumes"] = nullptr;
  config["WorkingDir"] = c.workdir;
  config["Entrypoint"] = c.entrypoint.empty() ? Json(nullptr) : Json(c.entrypoint);
  config["OnBuild"] = nullptr;
  config["Labels"] = c.labels;
  config["Annotations"] = c.annotations;
  config["StopSignal"] = c.stop_signal;
  config["StopTimeout"] = c.stop_timeout;
  if (!c.health.test.empty()) config["Healthcheck"] = health_config_inspect_json(c.health);
  Json host;
  host["NetworkMode"] = c.network;
  host["PortBindings"] = inspect_port_bindings(c.ports);
  host["PublishAllPorts"] = false;
  host["Dns"] = c.dns;
  host["DnsSearch"] = c.dns_search;
  host["DnsOptions"] = c.dns_options;
  host["ExtraHosts"] = c.add_hosts.empty() ? Json(nullptr) : Json(c.add_hosts);
  host["Links"] = c.links.empty() ? Json(nullptr) : Json(c.links);
  host["RestartPolicy"] = {{"Name", c.restart.name}, {"MaximumRetryCount", c.restart.max_retries}};
  host["AutoRemove"] = c.auto_remove;
  host["LogConfig"] = {{"Type", c.log_driver}, {"Config", Json::object()}};
  host["CapAdd"] = c.cap_add.empty() ? Json(nullptr) : Json(c.cap_add);  // docker: null when unset
  host["CapDrop"] = c.cap_drop.empty() ? Json(nullptr) : Json(c.cap_drop);
  host["IpcMode"] = c.ipc == "private" ? "private" : c.ipc;
  host["PidMode"] = c.pid == "private" ? "" : c.pid;
  host["UTSMode"] = c.uts == "private" ? "" : c.uts;
  host["Privileged"] = c.privileged;
  host["ReadonlyRootfs"] = c.read_only;
  host["ShmSize"] = c.shm_size;
  host["Init"] = c.init;
  host.update(to_json(c.resources));
  host["CgroupParent"] = c.cgroup_parent;
  host["Cgroups"] = c.cgroups;
  Json tmpfs = Json::object();
  for (const auto& m : c.mounts)
    if (m.type == "tmpfs") tmpfs[m.destination] = join(m.options, ",");
  if (!tmpfs.empty()) host["Tmpfs"] = tmpfs;  // omitempty in docker
  Json ulimits = Json::array();
  for (const auto& u : c.ulimits) ulimits.push_back({{"Name", u.name}, {"Soft", u.soft}, {"Hard", u.hard}});
  host["Ulimits"] = ulimits;
  host["SecurityOpt"] = c.no_new_privileges ? Json::array({"no-new-privileges"}) : Json(nullptr);
  Json networks = Json::object();
  {
    NetAddresses na = container_addresses(c);
    std::string kind = split_once(c.network, ':').first;
    if (kind == "slirp4netns" || kind == "pasta")
      networks[kind] = {{"IPAddress", running ? na.ip : ""},
                        {"Gateway", running ? na.gateway : ""},
                        {"IPPrefixLen", running && !na.prefix_len.empty() ? std::stoi(na.prefix_len) : 0},
                        {"MacAddress", c.mac_address},
                        {"Aliases", nullptr},
                        {"NetworkID", kind}};
    if (kind != "slirp4netns" && kind != "pasta" && !c.networks.empty()) {
      // User networks: the addresses of the running container's endpoints.
      std::vector<NetEndpoint> eps = running ? container_endpoints(cs.store().config(), c.id)
                                             : std::vector<NetEndpoint>{};
      for (const auto& name : c.networks) {
        Json n = {{"IPAddress", ""}, {"Gateway", ""}, {"IPPrefixLen", 0}, {"MacAddress", ""},
                  {"Aliases", c.network_aliases}, {"NetworkID", name}};
        for (const auto& e : eps)
          if (e.network == name) {
            auto un = NetworkStore(cs.store().config()).find(name);
            n["IPAddress"] = e.ip;
            n["MacAddress"] = e.mac;
            if (un) {
              n["Gateway"] = un->gateway;
              n["IPPrefixLen"] = std::stoi(split_once(un->subnet, '/').second);
              n["NetworkID"] = un->id;
            }
          }
        networks[name] = n;
      }
    }
  }
  Json out;
  out["Id"] = c.id;
  out["Created"] = format_rfc3339_nano(c.created);
  out["Path"] = argv.empty() ? "" : argv[0];
  out["Args"] = argv.size() > 1 ? Json(std::vector<std::string>(argv.begin() + 1, argv.end())) : Json::array();
  out["State"] = state;
  out["Image"] = c.image_id.empty() ? "" : "sha256:" + c.image_id;
  out["ResolvConfPath"] = cs.dir(id) + "/userdata/resolv.conf";
  out["HostnamePath"] = cs.dir(id) + "/userdata/hostname";
  out["HostsPath"] = cs.dir(id) + "/userdata/hosts";
  out["LogPath"] = cs.log_path(id);
  out["Name"] = "/" + c.name;
  if (!c.pod.empty()) out["Pod"] = c.pod;  // podman's; docker has no pods
  out["RestartCount"] = st.restart_count;
  out["Driver"] = cs.store().config().storage_driver;
  out["Platform"] = "linux";
  out["HostConfig"] = host;
  out["GraphDriver"] = {{"Name", cs.store().config().storage_driver},
                        {"Data", {{"UpperDir", cs.dir(id) + "/upper"}, {"WorkDir", cs.dir(id) + "/work"},
                                  {"MergedDir", cs.dir(id) + "/merged"}}}};
  out["Mounts"] = mounts_inspect_json(cs.store(), c);
  host["Binds"] = binds_inspect_json(c);
  out["HostConfig"] = host;
  config["Volumes"] = volumes_inspect_json(c);
  out["Config"] = config;
  out["NetworkSettings"] = {{"Ports", inspect_ports(running ? c.ports : std::vector<PortMapping>{}, c.exposed_ports)},
                            {"Networks", networks}};
  return out;
}

bool whole_row(const std::string& format) {
  return format == "json" || format == "table" || format.find("json") != std::string::npos ||
         format.find("{{.}}") != std::string::npos || format.find("{{ . }}") != std::string::npos;
}

int cmd_ps(Context& ctx, const Args& a) {
  log::Phase phase("ps");
  ContainerStore cs = containers(ctx);
  // Rows point into the loaded entries: a ContainerConfig is big to move.
  struct Row {
    const ContainerConfig* cp;
    const ContainerState* sp;
  };
  std::optional<log::Phase> step(std::in_place, "ps: load");
  const std::vector<ContainerStore::Entry> entries = cs.load_all();
  step.reset();
  std::vector<Row> rows;
  rows.reserve(entries.size());
  for (const auto& e : entries) rows.push_back({&e.config, &e.state});
  std::sort(rows.begin(), rows.end(), [](const Row& x, const Row& y) { return x.cp->created > y.cp->created; });
  bool all = a.flag("all");
  // pod= (podman's) is matched here; the rest are docker's (den/ps_filter.h).
  std::vector<std::string> filters, pod_filter;
  PodStore pods(ctx.store());
  for (const auto& f : a.list("filter")) {
    if (f.rfind("pod=", 0) != 0) {
      filters.push_back(f);
      continue;
    }
    auto id = pods.try_resolve(f.substr(4));
    pod_filter.push_back(id ? *id : "-");  // an unknown pod matches nothing
  }
  PsFilter filter = PsFilter::parse(filters);
  if (filter.wants_stopped()) all = true;
  if (a.flag("latest") || a.has("last")) all = true;
  filter.resolve(
      [&](const std::string& ref) -> std::optional<std::string> {
        auto img = ctx.store().find_image(ref);
        return img ? std::optional<std::string>(img->id) : std::nullopt;
      },
      [&](const std::string& ref) -> int64_t {
        std::string id = cs.resolve(ref);
        for (const auto& r : rows)
          if (r.cp->id == id) return r.cp->created;
        return cs.config(id).created;
      },
      [&](const std::string& ref) -> std::optional<std::string> {
        auto n = NetworkStore(ctx.config()).find(ref);
        return n ? std::optional<std::string>(n->name) : std::nullopt;
      });
  std::vector<Row> kept;
  for (auto& r : rows) {
    // docker's ps without -a: running, paused and restarting containers.
    bool running = r.sp->status == ContainerStatus::Running || r.sp->status == ContainerStatus::Paused ||
                   r.sp->status == ContainerStatus::Stopping ||
                   (r.sp->status == ContainerStatus::Exited && r.sp->restarting);
    if (!all && !running) continue;
    if (!pod_filter.empty() && std::find(pod_filter.begin(), pod_filter.end(), r.cp->pod) == pod_filter.end()) continue;
    if (filter.matches(*r.cp, *r.sp)) kept.push_back(r);
  }
  if (a.flag("latest") && kept.size() > 1) kept.resize(1);
  if (a.has("last")) {
    int n = std::stoi(a.value("last"));
    if (n >= 0 && kept.size() > static_cast<size_t>(n)) kept.resize(static_cast<size_t>(n));
  }
  std::optional<log::Phase> print_step(std::in_place, "ps: print");
  std::string format = a.value("format");
  if (a.flag("quiet")) format = "{{.ID}}";
  if (format.empty()) {
    format = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
    if (a.flag("size")) format += "\t{{.Size}}";
    if (a.flag("pod")) format += "\t{{.Pod}}\t{{.PodName}}";
  }
  std::map<std::string, std::string> pod_names;  // id -> name
  if (format.find(".PodName") != std::string::npos || whole_row(format))
    for (const auto& p : pods.list()) pod_names[p.id] = p.name;
  // Only the fields the format names are computed (all for json and for
  // templates that print the whole row): ps of 1000 containers is a budget.
  const bool whole = format == "json" || format == "table" || format.find("json") != std::string::npos ||
                     format.find("{{.}}") != std::string::npos || format.find("{{ . }}") != std::string::npos;
  auto want = [&](const char* field) { return whole || format.find(field) != std::string::npos; };
  const bool w_command = want(".Command"), w_created = want(".CreatedAt"), w_image = want(".Image"),
             w_labels = want(".Label"), w_running = want(".RunningFor"), w_size = want(".Size"),
             w_state = want(".State"), w_status = want(".Status");
  bool no_trunc = a.flag("no-trunc");
  int64_t now = now_nanos();
  std::vector<Json> out_rows;
  out_rows.reserve(kept.size());
  std::map<std::string, std::string> familiar_images;  // image name -> as docker shows it
  for (const auto& r : kept) {
    Json j = Json::object();
    j["Command"] = w_command ? quote_command(*r.cp, no_trunc) : "";
    j["CreatedAt"] = w_created ? go_time_string(r.cp->created) : "";
    j["ID"] = no_trunc ? r.cp->id : r.cp->id.substr(0, 12);
    if (w_image) {
      auto [cached, fresh] = familiar_images.try_emplace(r.cp->image_name, r.cp->image_name);
      if (fresh && !r.cp->image_id.empty()) {
        if (auto ref = try_parse_reference(r.cp->image_name); ref && !looks_like_id(r.cp->image_name))
          cached->second = ref->familiar_string();
      }
      j["Image"] = cached->second;
    } else {
      j["Image"] = "";
    }
    std::vector<std::string> labels;
    if (w_labels)
      for (const auto& [k, v] : r.cp->labels) labels.push_back(k + "=" + v);
    j["Labels"] = join(labels, ",");
    // docker: volume names or bind sources (15 runes, "…"), and the count of
    // local-driver volumes.
    std::vector<std::string> mounts;
    int local_volumes = 0;
    for (const auto& m : r.cp->mounts) {
      if (m.type == "tmpfs") continue;
      local_volumes += m.type == "volume";
      std::string n = m.source;
      if (!no_trunc && n.size() > 15) n = truncate_runes(n, 15);
      mounts.push_back(n);
    }
    j["LocalVolumes"] = std::to_string(local_volumes);
    j["Mounts"] = join(mounts, ",");
    j["Names"] = r.cp->name;
    j["Networks"] = r.cp->network;
    j["Pod"] = no_trunc ? r.cp->pod : r.cp->pod.substr(0, std::min<size_t>(12, r.cp->pod.size()));
    auto pn = pod_names.find(r.cp->pod);
    j["PodName"] = pn == pod_names.end() ? "" : pn->second;
    j["Ports"] = r.sp->status == ContainerStatus::Running ? format_port_list(r.cp->ports) : "";
    j["RunningFor"] = w_running ? human_since(r.cp->created, now) : "";
    j["Size"] = w_size && a.flag("size")
                    ? human_size(static_cast<double>(dir_size(cs.dir(r.cp->id) + "/upper"))) + " (virtual)"
                    : "";
    j["State"] = w_state ? std::string(status_name(r.sp->status)) : "";
    j["Status"] = w_status ? status_text(*r.sp, now) : "";
    out_rows.push_back(std::move(j));
  }
  Json header = {{"Command", "COMMAND"},   {"CreatedAt", "CREATED AT"}, {"ID", "CONTAINER ID"},
                 {"Image", "IMAGE"},       {"Labels", "LABELS"},        {"LocalVolumes", "LOCAL VOLUMES"},
                 {"Mounts", "MOUNTS"},     {"Names", "NAMES"},          {"Networks", "NETWORKS"},
                 {"Ports", "PORTS"},       {"RunningFor", "CREATED"},   {"Size", "SIZE"},
                 {"State", "STATE"},       {"Status", "STATUS"},
                 {"Pod", "POD ID"},        {"PodName", "PODNAME"}};
  print_formatted(format, header, out_rows, &label_method());
  return 0;
}

int cmd_logs(Context& ctx, const Args& a) {
  ContainerStore cs = containers(ctx);
  std::string id = cs.resolve(a.positional[0]);
  ContainerConfig c = cs.config(id);
  if (c.log_driver == "none")
    throw Error(fmt::format("container {} uses --log-driver none: it has no logs", a.positional[0]), Errc::Invalid);
  bool timestamps = a.flag("timestamps");
  int64_t since = 0, until = INT64_MAX;
  int64_t now = now_nanos();
  if (a.has("since")) {
    auto t = parse_docker_time(a.value("since"), now);
    if (!t) throw Error(fmt::format("invalid --since \"{}\"", a.value("since")), Errc::Invalid);
    since = *t;
  }
  if (a.has("until")) {
    auto t = parse_docker_time(a.value("until"), now);
    if (!t) throw Error(fmt::format("invalid --until \"{}\"", a.value("until")), Errc::Invalid);
    until = *t;
  }
  long tail = -1;
  if (a.has("tail") && a.value("tail") != "all") {
    std::string t = a.value("tail");
    if (t.empty() || !std::all_of(t.begin(), t.end(), ::isdigit))
      throw Error(fmt::format("invalid --tail \"{}\": use a number or all", t), Errc::Invalid);
    tail = std::stol(t);
  }
  std::string path = cs.log_path(id);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  std::string pending;
  // Emits complete records in `text`; keeps a partial record in `pending`.
  auto emit = [&](std::string text, bool apply_tail) {
    std::vector<std::string> lines = split(text, '\n');
    if (!lines.empty() && lines.back().empty()) lines.pop_back();
    size_t start = 0;
    if (apply_tail && tail >= 0 && lines.size() > static_cast<size_t>(tail)) start = lines.size() - static_cast<size_t>(tail);
    std::string so, se;
    for (size_t i = start; i < lines.size(); i++) {
      const std::string& l = lines[i];
      auto s1 = l.find(' ');
      auto s2 = s1 == std::string::npos ? s1 : l.find(' ', s1 + 1);
      auto s3 = s2 == std::string::npos ? s2 : l.find(' ', s2 + 1);
      if (s3 == std::string::npos) continue;
      std::string ts = l.substr(0, s1);
      std::string stream = l.substr(s1 + 1, s2 - s1 - 1);
      bool partial = l.substr(s2 + 1, s3 - s2 - 1) == "P";
      std::string msg = l.substr(s3 + 1);
      auto t = parse_rfc3339(ts).value_or(0);
      if (t < since || t > until) continue;
      std::string text_out = (timestamps ? ts + " " : "") + msg + (partial ? "" : "\n");
      (stream == "stderr" ? se : so) += text_out;
      if (stream == "stderr") {
        if (!so.empty()) write_all(STDOUT_FILENO, so), so.clear();
      } else if (!se.empty()) {
        write_all(STDERR_FILENO, se), se.clear();
      }
    }
    if (!so.empty()) write_all(STDOUT_FILENO, so);
    if (!se.empty()) write_all(STDERR_FILENO, se);
  };
  auto read_new = [&]() {
    std::string data;
    if (!fd) fd = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return data;
    char buf[65536];
    for (;;) {
      size_t n = read_some(fd.get(), buf, sizeof buf);
      if (n == 0) break;
      data.append(buf, n);
    }
    return data;
  };
  std::string data = read_new();
  auto cut = data.rfind('\n');
  pending = cut == std::string::npos ? data : data.substr(cut + 1);
  emit(cut == std::string::npos ? "" : data.substr(0, cut + 1), true);
  if (!a.flag("follow")) return 0;
  for (;;) {
    ContainerState st = cs.state(id);
    bool running = st.status == ContainerStatus::Running || st.status == ContainerStatus::Paused;
    std::string more = pending + read_new();
    cut = more.rfind('\n');
    pending = cut == std::string::npos ? more : more.substr(cut + 1);
    if (cut != std::string::npos) emit(more.substr(0, cut + 1), false);
    if (!running) {
      // One last read after the exit was recorded: the monitor flushed.
      std::string last = pending + read_new();
      if (!last.empty()) emit(last, false);
      return 0;
    }
    ::usleep(100000);
  }
}

int cmd_container_prune(Context& ctx, const Args& a) {
  if (!a.flag("force")) {
    out("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ");
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "Y" && answer != "yes") return 0;
  }
  ContainerStore cs = containers(ctx);
  std::string text;
  uint64_t reclaimed = 0;
  for (const auto& id : cs.list_ids()) {
    ContainerState st = cs.state(id);
    if (st.status == ContainerStatus::Running || st.status == ContainerStatus::Paused) continue;
    try {
      refuse_infra_removal(ctx, cs, id, id);
    } catch (const Error&) {
      continue;  // removed with its pod
    }
    FileLock l = cs.lock(id);
    reclaimed += dir_size(cs.dir(id) + "/upper");
    ContainerConfig c = cs.config(id);
    remove_container(cs, id);
    emit_container_event(ctx.config(), "destroy", id, c.name, c.image_name, c.labels);
    if (text.empty()) text = "Deleted Containers:\n";
    text += id + "\n";
  }
  if (!text.empty()) text += "\n";
  text += "Total reclaimed space: " + human_size(static_cast<double>(reclaimed)) + "\n";
  out(text);
  return 0;
}

int cmd_inspect(Context& ctx, const Args& a) {
  ContainerStore cs = containers(ctx);
  std::string type = a.value("type");
  std::vector<Json> items;
  std::vector<const GoShape*> shapes;
  for (const auto& arg : a.positional) {
    if (type.empty() || type == "container") {
      if (auto id = cs.try_resolve(arg)) {
        items.push_back(container_inspect_json(cs, *id));
        mark_go_nils(items.back(), container_inspect_nils());
        shapes.push_back(&container_inspect_shape());
        continue;
      }
      if (type == "container") throw Error(fmt::format("no such container: {}", arg), Errc::NotFound);
    }
    if (type.empty() || type == "image") {
      if (auto img = ctx.store().find_image(arg)) {
        items.push_back(image_inspect_json(ctx.store(), *img));
        mark_go_nils(items.back(), image_inspect_nils());
        shapes.push_back(&image_inspect_shape());
        continue;
      }
      if (type == "image") throw Error(fmt::format("No such image: {}", arg), Errc::NotFound);
    }
    if (!type.empty() && type != "container" && type != "image")
      throw Error(fmt::format("unknown --type \"{}\": use container or image", type), Errc::Invalid);
    throw Error(fmt::format("no such object: {}", arg), Errc::NotFound);
  }
  print_inspect(a.value("format"), items, shapes);
  return 0;
}

}  // namespace

CreatedContainer create_container_from_args(Context& ctx, const std::vector<std::string>& args,
                                            const std::function<void(ContainerConfig&)>& adjust) {
  const Command* create = nullptr;
  for (const auto& cmd : command_table())
    if (cmd.paths.front() == std::vector<std::string>{"create"}) create = &cmd;
  std::vector<std::string> argv = {"den", "create"};
  argv.insert(argv.end(), args.begin(), args.end());
  Args a = parse_args(*create, argv, 2, "create", ctx.prog);
  return create_from_flags(ctx, a, adjust);
}

void register_container_commands(std::vector<Command>& t) {
  std::vector<Option> run_opts = create_options();
  for (auto& o : service_create_options()) run_opts.push_back(o);
  std::vector<Option> create_opts;
  for (const auto& o : run_opts)
    if (o.name != "detach" && o.name != "rm" && o.name != "sig-proxy" && o.name != "detach-keys")
      create_opts.push_back(o);
  create_opts.push_back({"rm", 0, OptKind::Bool, "", "Automatically remove the container when it exits", ""});
  t.push_back({{{"run"}, {"container", "run"}},
               "[OPTIONS] IMAGE [COMMAND] [ARG...]",
               "Create and run a new container from an image",
               "den run --rm bb echo hello\nden run -it bb sh\nden run -d --name web bb httpd -f -p 8080",
               run_opts, true, 1, -1, [](Context& c, const Args& a) { return cmd_create_or_run(c, a, true); }});
  t.push_back({{{"create"}, {"container", "create"}},
               "[OPTIONS] IMAGE [COMMAND] [ARG...]",
               "Create a new container",
               "den create --name web bb httpd -f",
               create_opts, true, 1, -1, [](Context& c, const Args& a) { return cmd_create_or_run(c, a, false); }});
  t.push_back({{{"start"}, {"container", "start"}},
               "[OPTIONS] CONTAINER [CONTAINER...]",
               "Start one or more stopped containers",
               "den start web\nden start -a -i box",
               {{"attach", 'a', OptKind::Bool, "", "Attach STDOUT/STDERR and forward signals", ""},
                {"interactive", 'i', OptKind::Bool, "", "Attach container's STDIN", ""},
                {"all", 0, OptKind::Bool, "", "Start all containers (that match --filter)", ""},
                {"filter", 0, OptKind::List, "filter", "With --all: restart-policy=POLICY, name=NAME, label=KEY[=VALUE]", ""}},
               false, 0, -1, cmd_start});
  t.push_back({{{"stop"}, {"container", "stop"}},
               "[OPTIONS] CONTAINER [CONTAINER...]",
               "Stop one or more running containers",
               "den stop web\nden stop -t 2 web",
               {{"time", 't', OptKind::Value, "int", "Seconds to wait before killing the container", ""}},
               false, 1, -1, cmd_stop});
  t.push_back({{{"restart"}, {"container", "restart"}},
               "[OPTIONS] CONTAINER [CONTAINER...]",
               "Restart one or more containers",
               "den restart web",
               {{"time", 't', OptKind::Value, "int", "Seconds to wait before killing the container", ""}},
               false, 1, -1, cmd_restart});
  t.push_back({{{"kill"}, {"container", "kill"}},
               "[OPTIONS] CONTAINER [CONTAINER...]",
               "Kill one or more running containers",
               "den kill web\nden kill -s HUP web",
               {{"signal", 's', OptKind::Value, "string", "Signal to send to the container", "\"KILL\""}},
               false, 1, -1, cmd_kill});
  t.push_back({{{"rm"}, {"container", "rm"}, {"container", "remove"}},
               "[OPTIONS] CONTAINER [CONTAINER...]",
               "Remove one or more containers",
               "den rm web\nden rm -f $(den ps -aq)",
               {{"force", 'f', OptKind::Bool, "", "Force the removal of a running container (uses SIGKILL)", ""},
                {"volumes", 'v', OptKind::Bool, "", "Remove anonymous volumes associated with the container", ""}},
               false, 1, -1, cmd_rm});
  t.push_back({{{"ps"}, {"container", "ls"}, {"container", "list"}},
               "[OPTIONS]",
               "List containers",
               "den ps\nden ps -a --format '{{.Names}} {{.Status}}'\nden ps -aq -f status=exited\n"
               "den ps -f publish=8080 -f publish=8000-8010/udp -f expose=80\n"
               "den ps -a -f volume=data -f volume=/srv/www\nden ps -f health=unhealthy\n"
               "# filters: status name id label exited ancestor before since network volume publish expose health pod;\n"
               "# values of one key: any may match (label: all must); different keys: all must match",
               {{"all", 'a', OptKind::Bool, "", "Show all containers (default shows just running)", ""},
                {"filter", 'f', OptKind::List, "filter", "Filter output based on conditions provided", ""},
                {"format", 0, OptKind::Value, "string", "Format output using a Go template, 'table ...' or 'json'", ""},
                {"last", 'n', OptKind::Value, "int", "Show n last created containers (includes all states)", ""},
                {"latest", 'l', OptKind::Bool, "", "Show the latest created container (includes all states)", ""},
                {"no-trunc", 0, OptKind::Bool, "", "Don't truncate output", ""},
                {"quiet", 'q', OptKind::Bool, "", "Only display container IDs", ""},
                {"pod", 'p', OptKind::Bool, "", "Show the pod ID and name of each container (podman)", ""},
                {"size", 's', OptKind::Bool, "", "Display total file sizes", ""}},
               false, 0, 0, cmd_ps});
  t.push_back({{{"logs"}, {"container", "logs"}},
               "[OPTIONS] CONTAINER",
               "Fetch the logs of a container",
               "den logs web\nden logs -f --tail 10 web",
               {{"follow", 'f', OptKind::Bool, "", "Follow log output", ""},
                {"since", 0, OptKind::Value, "string", "Show logs since timestamp or relative (e.g. 42m)", ""},
                {"until", 0, OptKind::Value, "string", "Show logs before a timestamp or relative", ""},
                {"tail", 'n', OptKind::Value, "string", "Number of lines to show from the end of the logs", "\"all\""},
                {"timestamps", 't', OptKind::Bool, "", "Show timestamps", ""}},
               false, 1, 1, cmd_logs});
  t.push_back({{{"wait"}, {"container", "wait"}},
               "CONTAINER [CONTAINER...]",
               "Block until one or more containers stop, then print their exit codes",
               "den wait web\nden wait --condition healthy web",
               {{"condition", 0, OptKind::Value, "string",
                 "Condition to wait for: not-running, next-exit, removed, running, healthy, unhealthy, ...",
                 "\"not-running\""}},
               false, 1, -1, cmd_wait});
  t.push_back({{{"rename"}, {"container", "rename"}},
               "CONTAINER NEW_NAME",
               "Rename a container",
               "den rename web web2",
               {},
               false, 2, 2, cmd_rename});
  t.push_back({{{"container", "prune"}},
               "[OPTIONS]",
               "Remove all stopped containers",
               "den container prune -f",
               {{"force", 'f', OptKind::Bool, "", "Do not prompt for confirmation", ""},
                {"filter", 0, OptKind::List, "filter", "Provide filter values", ""}},
               false, 0, 0, cmd_container_prune});
  t.push_back({{{"inspect"}, {"container", "inspect"}},
               "[OPTIONS] NAME|ID [NAME|ID...]",
               "Return low-level information on den objects",
               "den inspect web\nden inspect -f '{{.State.Pid}}' web",
               {{"format", 'f', OptKind::Value, "string", "Format output using a Go template", ""},
                {"type", 0, OptKind::Value, "string", "Return JSON for specified type (container, image)", ""},
                {"size", 's', OptKind::Bool, "", "Display total file sizes if the type is container", ""}},
               false, 1, -1, cmd_inspect});
}

}  // namespace den::cli
