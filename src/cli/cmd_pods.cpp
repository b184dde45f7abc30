// Pod commands (podman's `pod ...`): create, start, stop, restart, kill, rm,
// ps, inspect, exists, prune. Thin: the work is in den/pod.h.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <regex>

#include "cli.h"
#include "den/error.h"
#include "den/fs.h"
#include "den/inspect_nils.h"
#include "den/monitor.h"
#include "den/network.h"
#include "den/pod.h"
#include "den/strings.h"
#include "den/timefmt.h"

namespace den::cli {

namespace {

std::string absolute(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  char cwd[4096];
  if (!::getcwd(cwd, sizeof cwd)) throw sys_error("getcwd");
  return std::string(cwd) + "/" + path;
}

void print_error(const std::exception& e) { write_all(STDERR_FILENO, fmt::format("Error: {}\n", e.what())); }

// The pods a command acts on: its arguments, --pod-id-file files, or --all.
// Missing ones are errors unless `ignore` (--ignore): then they are skipped.
std::vector<std::string> target_pods(PodStore& ps, const Args& a, bool ignore, int* rc) {
  std::vector<std::string> ids;
  bool all = a.flag("all");
  std::vector<std::string> files = a.list("pod-id-file");
  if (all && (!a.positional.empty() || !files.empty()))
    throw Error("--all takes no pod names or --pod-id-file", Errc::Invalid);
  if (!all && a.positional.empty() && files.empty())
    throw Error("give at least one pod name or ID, --pod-id-file FILE or --all", Errc::Invalid);
  if (all) return ps.list_ids();
  std::vector<std::string> args = a.positional;
  for (const auto& f : files) {
    auto text = read_file_if_exists(f);
    if (!text || trim(*text).empty()) {
      if (ignore) continue;
      print_error(Error(fmt::format("--pod-id-file {}: no such file (or it is empty)", f), Errc::NotFound));
      *rc = kExitEngine;
      continue;
    }
    args.push_back(trim(*text));
  }
  for (const auto& arg : args) {
    try {
      auto id = ps.try_resolve(arg);
      if (!id) {
        if (ignore) continue;
        throw Error(fmt::format("no such pod: {}", arg), Errc::NotFound);
      }
      ids.push_back(*id);
    } catch (const Error& e) {
      print_error(e);
      *rc = kExitEngine;
    }
  }
  return ids;
}

int timeout_of(const Args& a) {
  if (!a.has("time")) return -1;
  std::string t = a.value("time");
  if (t.empty() || !std::all_of(t.begin(), t.end(), ::isdigit))
    throw Error(fmt::format("invalid --time \"{}\": give seconds", t), Errc::Invalid);
  return std::stoi(t);
}

int cmd_pod_create(Context& ctx, const Args& a) {
  ContainerStore cs(ctx.store());
  PodSpec spec;
  spec.name = a.value("name");
  if (!a.positional.empty()) {
    if (!spec.name.empty() && spec.name != a.positional[0])
      throw Error("give the pod's name once: as --name or as the argument", Errc::Invalid);
    spec.name = a.positional[0];
  }
  spec.hostname = a.value("hostname");
  for (const auto& l : a.list("label")) {
    auto [k, v] = split_once(l, '=');
    if (k.empty()) throw Error(fmt::format("invalid --label \"{}\": use KEY=VALUE", l), Errc::Invalid);
    spec.labels[k] = v;
  }
  spec.infra = !a.has("infra") || a.flag("infra");
  spec.infra_name = a.value("infra-name");
  if (a.has("share")) {
    std::string v = a.value("share");
    if (!v.empty() && v[0] == '+') {
      for (const auto& ns : split(v.substr(1), ','))
        if (std::find(spec.share.begin(), spec.share.end(), ns) == spec.share.end()) spec.share.push_back(ns);
    } else {
      spec.share = v.empty() ? std::vector<std::string>{} : split(v, ',');
    }
  }
  spec.exit_policy = a.value("exit-policy", "continue");
  spec.infra_conmon_pidfile = absolute(a.value("infra-conmon-pidfile"));
  spec.replace = a.flag("replace");
  spec.network = a.value("network", a.value("net"));
  spec.publish = a.list("publish");
  spec.add_hosts = a.list("add-host");
  spec.dns = a.list("dns");
  spec.dns_search = a.list("dns-search");
  spec.dns_options = a.list("dns-option");
  spec.create_command = {ctx.prog, "pod", "create"};
  // The ID file is claimed first (podman: refused when it exists), so that
  // a failure there leaves no pod.
  std::string id_file = a.value("pod-id-file");
  UniqueFd id_fd;
  if (!id_file.empty()) {
    id_fd = UniqueFd(::open(id_file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!id_fd) {
      int e = errno;
      throw sys_error(fmt::format("--pod-id-file {}{}", id_file,
                                  e == EEXIST ? ": the file exists (another pod may use it): remove it first" : ""),
                      e);
    }
  }
  PodRecord p;
  try {
    p = create_pod(cs, spec);
    if (id_fd) write_all(id_fd.get(), p.id, "write --pod-id-file");
  } catch (...) {
    if (id_fd) ::unlink(id_file.c_str());
    if (!p.id.empty()) {
      try {
        remove_pod(cs, p.id, true);
      } catch (...) {
      }
    }
    throw;
  }
  out(p.id + "\n");
  return 0;
}

int cmd_pod_start(Context& ctx, const Args& a) {
  ContainerStore cs(ctx.store());
  PodStore ps(ctx.store());
  int rc = 0;
  for (const auto& id : target_pods(ps, a, false, &rc)) {
    try {
      PodStartResult r = start_pod_notify(cs, id);
      for (const auto& e : r.errors) print_error(Error(e));
      if (!r.errors.empty()) {
        rc = kExitEngine;
        continue;
      }
      out(id + "\n");
    } catch (const Error& e) {
      print_error(e);
      rc = e.exit_code() ? e.exit_code() : kExitEngine;
    }
  }
  return rc;
}

int cmd_pod_stop(Context& ctx, const Args& a) {
  ContainerStore cs(ctx.store());
  PodStore ps(ctx.store());
  int rc = 0;
  int timeout = timeout_of(a);
  for (const auto& id : target_pods(ps, a, a.flag("ignore"), &rc)) {
    try {
      stop_pod(cs, id, timeout);
      out(id + "\n");
    } catch (const Error& e) {
      print_error(e);
      rc = kExitEngine;
    }
  }
  return rc;
}

int cmd_pod_restart(Context& ctx, const Args& a) {
  ContainerStore cs(ctx.store());
  PodStore ps(ctx.store());
  int rc = 0;
  for (const auto& id : target_pods(ps, a, false, &rc)) {
    try {
      stop_pod(cs, id, timeout_of(a));
      PodStartResult r = start_pod_notify(cs, id);
      for (const auto& e : r.errors) print_error(Error(e));
      if (!r.errors.empty()) {
        rc = kExitEngine;
        continue;
      }
      out(id + "\n");
    } catch (const Error& e) {
      print_error(e);
      rc = kExitEngine;
    }
  }
  return rc;
}

int cmd_pod_kill(Context& ctx, const Args& a) {
  ContainerStore cs(ctx.store());
  PodStore ps(ctx.store());
  int sig = parse_signal(a.value("signal", "KILL"));
  int rc = 0;
  for (const auto& id : target_pods(ps, a, false, &rc)) {
    try {
      if (kill_pod(cs, id, sig) == 0)
        throw Error(fmt::format("cannot kill pod {}: no container in it is running", ps.get(id).name), Errc::Invalid);
      out(id + "\n");
    } catch (const Error& e) {
      print_error(e);
      rc = kExitEngine;
    }
  }
  return rc;
}

int cmd_pod_rm(Context& ctx, const Args& a) {
  ContainerStore cs(ctx.store());
  PodStore ps(ctx.store());
  int rc = 0;
  int timeout = timeout_of(a);
  for (const auto& id : target_pods(ps, a, a.flag("ignore"), &rc)) {
    try {
      remove_pod(cs, id, a.flag("force"), timeout);
      out(id + "\n");
    } catch (const Error& e) {
      print_error(e);
      rc = kExitEngine;
    }
  }
  return rc;
}

// One row of `pod ps` (podman's field names).
Json pod_row(ContainerStore& cs, const PodRecord& p, bool no_trunc, int64_t now) {
  std::vector<PodMember> members = pod_members(cs, p.id);
  std::vector<ContainerStatus> states;
  std::vector<std::string> names, ids, statuses;
  for (const auto& m : members) {
    states.push_back(m.status);
    names.push_back(m.name);
    ids.push_back(no_trunc ? m.id : m.id.substr(0, 12));
    statuses.push_back(std::string(status_name(m.status)));
  }
  std::vector<std::string> labels;
  for (const auto& [k, v] : p.labels) labels.push_back(k + "=" + v);
  Json j;
  j["ID"] = no_trunc ? p.id : p.id.substr(0, 12);
  j["Name"] = p.name;
  j["Status"] = pod_status(states);
  j["Created"] = human_since(p.created, now);
  j["CreatedAt"] = go_time_string(p.created);
  j["InfraID"] = no_trunc ? p.infra_id : p.infra_id.substr(0, std::min<size_t>(12, p.infra_id.size()));
  j["NumberOfContainers"] = std::to_string(members.size());
  j["ContainerNames"] = join(names, ",");
  j["ContainerIds"] = join(ids, ",");
  j["ContainerStatuses"] = join(statuses, ",");
  j["Labels"] = join(labels, ",");
  j["Networks"] = "";
  if (!p.infra_id.empty()) {
    try {
      j["Networks"] = cs.config(p.infra_id).network;
    } catch (const Error&) {
    }
  }
  return j;
}

bool pod_filter_matches(const std::vector<std::string>& filters, const PodRecord& p, const Json& row) {
  std::map<std::string, std::vector<std::string>> by_key;
  for (const auto& f : filters) {
    auto [k, v] = split_once(f, '=');
    by_key[k].push_back(v);
  }
  for (const auto& [k, values] : by_key) {
    bool any = false;
    for (const auto& v : values) {
      if (k == "name") {
        try {
          any = std::regex_search(p.name, std::regex(v));
        } catch (const std::regex_error&) {
          any = p.name.find(v) != std::string::npos;
        }
      } else if (k == "id") {
        any = p.id.rfind(v, 0) == 0;
      } else if (k == "label") {
        auto [lk, lv] = split_once(v, '=');
        auto it = p.labels.find(lk);
        any = it != p.labels.end() && (v.find('=') == std::string::npos || it->second == lv);
      } else if (k == "status") {
        any = to_lower(row["Status"].get<std::string>()) == to_lower(v);
      }
      if (any) break;
    }
    if (!any) return false;
  }
  return true;
}

int cmd_pod_ps(Context& ctx, const Args& a) {
  ContainerStore cs(ctx.store());
  PodStore ps(ctx.store());
  std::vector<std::string> filters = a.list("filter");
  for (const auto& f : filters) {
    auto k = split_once(f, '=').first;
    if (f.find('=') == std::string::npos || (k != "name" && k != "id" && k != "label" && k != "status"))
      throw Error(fmt::format("invalid filter \"{}\": use name=, id=, label= or status=", f), Errc::Invalid);
    if (k == "status") {
      std::string v = to_lower(split_once(f, '=').second);
      static const char* ok[] = {"created", "running", "stopped", "exited", "degraded", "paused"};
      if (std::find(std::begin(ok), std::end(ok), v) == std::end(ok))
        throw Error(fmt::format("invalid filter \"{}\": status is created, running, degraded, stopped, exited or "
                                "paused",
                                f),
                    Errc::Invalid);
    }
  }
  std::vector<PodRecord> pods = ps.list();
  std::sort(pods.begin(), pods.end(), [](const PodRecord& x, const PodRecord& y) { return x.created > y.created; });
  bool no_trunc = a.flag("no-trunc");
  int64_t now = now_nanos();
  std::vector<Json> rows;
  for (const auto& p : pods) {
    Json row = pod_row(cs, p, no_trunc, now);
    if (pod_filter_matches(filters, p, row)) rows.push_back(std::move(row));
  }
  if (a.flag("latest") && rows.size() > 1) rows.resize(1);
  std::string format = a.value("format");
  if (a.flag("quiet")) format = "{{.ID}}";
  if (format.empty()) {
    format = "table {{.ID}}\t{{.Name}}\t{{.Status}}\t{{.Created}}\t{{.InfraID}}\t{{.NumberOfContainers}}";
    if (a.flag("ctr-names")) format += "\t{{.ContainerNames}}";
    if (a.flag("ctr-ids")) format += "\t{{.ContainerIds}}";
    if (a.flag("ctr-status")) format += "\t{{.ContainerStatuses}}";
  }
  Json header = {{"ID", "POD ID"},
                 {"Name", "NAME"},
                 {"Status", "STATUS"},
                 {"Created", "CREATED"},
                 {"CreatedAt", "CREATED AT"},
                 {"InfraID", "INFRA ID"},
                 {"NumberOfContainers", "# OF CONTAINERS"},
                 {"ContainerNames", "NAMES"},
                 {"ContainerIds", "IDS"},
                 {"ContainerStatuses", "STATUS"},
                 {"Labels", "LABELS"},
                 {"Networks", "NETWORKS"}};
  print_formatted(format, header, rows, &label_method());
  return 0;
}

Json pod_inspect_json(ContainerStore& cs, const PodRecord& p) {
  std::vector<PodMember> members = pod_members(cs, p.id);
  std::vector<ContainerStatus> states;
  Json containers = Json::array();
  for (const auto& m : members) {
    states.push_back(m.status);
    containers.push_back({{"Id", m.id}, {"Name", m.name}, {"State", std::string(status_name(m.status))}});
  }
  Json j;
  j["Id"] = p.id;
  j["Name"] = p.name;
  j["Created"] = format_rfc3339_nano(p.created);
  j["CreateCommand"] = p.create_command;
  j["ExitPolicy"] = p.exit_policy;
  j["State"] = pod_status(states);
  j["Hostname"] = p.effective_hostname();
  j["Labels"] = p.labels;
  j["CreateInfra"] = !p.infra_id.empty();
  j["InfraContainerID"] = p.infra_id;
  if (!p.infra_id.empty()) {
    Json infra = Json::object();
    try {
      ContainerConfig c = cs.config(p.infra_id);
      infra["PortBindings"] = inspect_port_bindings(c.ports);
      infra["HostNetwork"] = c.network == "host";
      infra["NetworkMode"] = c.network;
      infra["DNSServer"] = c.dns;
      infra["DNSSearch"] = c.dns_search;
      infra["DNSOption"] = c.dns_options;
      infra["HostAdd"] = c.add_hosts;
      infra["Networks"] = c.networks;
      infra["ConmonPidFile"] = c.conmon_pidfile;
      ContainerState st = cs.state(p.infra_id);
      infra["ConmonPid"] = st.status == ContainerStatus::Running ? st.monitor_pid : 0;
    } catch (const Error&) {
    }
    j["InfraConfig"] = infra;
  }
  j["SharedNamespaces"] = p.shared;
  j["NumContainers"] = members.size();
  j["Containers"] = containers;
  return j;
}

int cmd_pod_inspect(Context& ctx, const Args& a) {
  ContainerStore cs(ctx.store());
  PodStore ps(ctx.store());
  std::vector<Json> items;
  for (const auto& arg : a.positional) items.push_back(pod_inspect_json(cs, ps.get(ps.resolve(arg))));
  print_inspect(a.value("format"), items);
  return 0;
}

int cmd_pod_exists(Context& ctx, const Args& a) {
  PodStore ps(ctx.store());
  return ps.try_resolve(a.positional[0]) ? 0 : 1;
}

int cmd_pod_prune(Context& ctx, const Args& a) {
  if (!a.flag("force")) {
    out("WARNING! This will remove all stopped/exited pods..\nAre you sure you want to continue? [y/N] ");
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "Y" && answer != "yes") return 0;
  }
  ContainerStore cs(ctx.store());
  PodStore ps(ctx.store());
  int rc = 0;
  for (const auto& p : ps.list()) {
    std::string st = pod_status_of(cs, p.id);
    if (st == "Running" || st == "Degraded" || st == "Paused") continue;
    try {
      remove_pod(cs, p.id, false);
      out(p.id + "\n");
    } catch (const Error& e) {
      print_error(e);
      rc = kExitEngine;
    }
  }
  return rc;
}

std::vector<Option> selection_options(bool ignore) {
  std::vector<Option> o = {
      {"all", 'a', OptKind::Bool, "", "Act on all pods", ""},
      {"pod-id-file", 0, OptKind::List, "string", "Read the pod ID from the file", ""},
  };
  if (ignore)
    o.push_back({"ignore", 'i', OptKind::Bool, "", "Ignore errors when a pod (or --pod-id-file) does not exist", ""});
  return o;
}

}  // namespace

void register_pod_commands(std::vector<Command>& t) {
  t.push_back({{{"pod", "create"}},
               "[OPTIONS] [NAME]",
               "Create a new empty pod (with an infra container holding its network, IPC and UTS namespaces)",
               "den pod create --name web -p 8080:80\nden run -d --pod web --name app bb httpd -f -p 80\n"
               "den pod create --infra-conmon-pidfile %t/pod.pid --pod-id-file %t/pod.id --exit-policy stop --replace "
               "--name svc",
               {{"name", 0, OptKind::Value, "string", "Assign a name to the pod", ""},
                {"publish", 'p', OptKind::List, "list", "Publish a port of the pod to the host: [IP:][HOSTPORT:]PORT[/PROTO]", ""},
                {"network", 0, OptKind::Value, "string",
                 "The pod's network: none, host, slirp4netns[:OPTS], pasta[:OPTS] or a network name", "\"slirp4netns\""},
                {"net", 0, OptKind::Value, "string", "Alias for --network", "", true},
                {"label", 'l', OptKind::List, "list", "Set metadata on the pod (KEY=VALUE)", ""},
                {"hostname", 0, OptKind::Value, "string", "The host name of the pod's containers (default: the pod's name)", ""},
                {"share", 0, OptKind::Value, "string", "Namespaces the containers share: net, ipc, uts, pid (+NS adds)",
                 "\"ipc,net,uts\""},
                {"infra", 0, OptKind::Bool, "", "Create an infra container for the pod", "true"},
                {"infra-name", 0, OptKind::Value, "string", "The infra container's name (default: ID12-infra)", ""},
                {"replace", 0, OptKind::Bool, "", "Remove a pod of the same name first (stopping it)", ""},
                {"add-host", 0, OptKind::List, "list", "Add a custom host-to-IP mapping (host:ip) to the pod's /etc/hosts", ""},
                {"dns", 0, OptKind::List, "list", "Set custom DNS servers for the pod", ""},
                {"dns-search", 0, OptKind::List, "list", "Set custom DNS search domains for the pod", ""},
                {"dns-option", 0, OptKind::List, "list", "Set DNS options for the pod", ""},
                {"pod-id-file", 0, OptKind::Value, "string", "Write the pod ID to the file (which must not exist)", ""},
                {"infra-conmon-pidfile", 0, OptKind::Value, "string",
                 "Write the infra container's monitor pid to the file at each start (systemd PIDFile=)", ""},
                {"exit-policy", 0, OptKind::Value, "string",
                 "When the last container exits: continue, or stop the infra (and so the pod)", "\"continue\""}},
               false, 0, 1, cmd_pod_create});
  std::vector<Option> start_opts = selection_options(false);
  t.push_back({{{"pod", "start"}},
               "[OPTIONS] POD [POD...]",
               "Start one or more pods (the infra first); under a Type=notify unit, den reports READY once all run",
               "den pod start web\nden pod start --pod-id-file %t/pod.id",
               start_opts, false, 0, -1, cmd_pod_start});
  std::vector<Option> stop_opts = selection_options(true);
  stop_opts.push_back({"time", 't', OptKind::Value, "int", "Seconds to wait before killing the containers", ""});
  t.push_back({{{"pod", "stop"}},
               "[OPTIONS] POD [POD...]",
               "Stop one or more pods (the containers, then the infra)",
               "den pod stop web\nden pod stop -t 2 --ignore --pod-id-file %t/pod.id",
               stop_opts, false, 0, -1, cmd_pod_stop});
  std::vector<Option> restart_opts = selection_options(false);
  restart_opts.push_back({"time", 't', OptKind::Value, "int", "Seconds to wait before killing the containers", ""});
  t.push_back({{{"pod", "restart"}},
               "[OPTIONS] POD [POD...]",
               "Restart one or more pods",
               "den pod restart web",
               restart_opts, false, 0, -1, cmd_pod_restart});
  std::vector<Option> kill_opts = selection_options(false);
  kill_opts.push_back({"signal", 's', OptKind::Value, "string", "Signal to send to the containers of the pod", "\"KILL\""});
  t.push_back({{{"pod", "kill"}},
               "[OPTIONS] POD [POD...]",
               "Send a signal to the running containers of one or more pods",
               "den pod kill web\nden pod kill -s HUP web",
               kill_opts, false, 0, -1, cmd_pod_kill});
  std::vector<Option> rm_opts = selection_options(true);
  rm_opts.push_back({"force", 'f', OptKind::Bool, "", "Stop and remove running pods with their containers", ""});
  rm_opts.push_back({"time", 't', OptKind::Value, "int", "With -f: seconds to wait before killing the containers", ""});
  t.push_back({{{"pod", "rm"}, {"pod", "remove"}},
               "[OPTIONS] POD [POD...]",
               "Remove one or more pods with their containers",
               "den pod rm web\nden pod rm -f --ignore --pod-id-file %t/pod.id",
               rm_opts, false, 0, -1, cmd_pod_rm});
  t.push_back({{{"pod", "ps"}, {"pod", "ls"}, {"pod", "list"}},
               "[OPTIONS]",
               "List pods",
               "den pod ps\nden pod ps --ctr-names -f status=running\nden pod ps --format '{{.Name}} {{.Status}}'",
               {{"quiet", 'q', OptKind::Bool, "", "Only display pod IDs", ""},
                {"no-trunc", 0, OptKind::Bool, "", "Don't truncate output", ""},
                {"format", 0, OptKind::Value, "string", "Format output using a Go template, 'table ...' or 'json'", ""},
                {"filter", 'f', OptKind::List, "filter", "Filter output: name=, id=, label=, status=", ""},
                {"latest", 'l', OptKind::Bool, "", "Show the latest pod created", ""},
                {"ctr-names", 0, OptKind::Bool, "", "Display the container names", ""},
                {"ctr-ids", 0, OptKind::Bool, "", "Display the container IDs", ""},
                {"ctr-status", 0, OptKind::Bool, "", "Display the container statuses", ""}},
               false, 0, 0, cmd_pod_ps});
  t.push_back({{{"pod", "inspect"}},
               "[OPTIONS] POD [POD...]",
               "Display detailed information on one or more pods",
               "den pod inspect web\nden pod inspect -f '{{.State}} {{.NumContainers}}' web",
               {{"format", 'f', OptKind::Value, "string", "Format output using a Go template", ""}},
               false, 1, -1, cmd_pod_inspect});
  t.push_back({{{"pod", "exists"}},
               "POD",
               "Check if a pod exists (exit code 0 if it does, 1 if not)",
               "den pod exists web && echo yes",
               {}, false, 1, 1, cmd_pod_exists});
  t.push_back({{{"pod", "prune"}},
               "[OPTIONS]",
               "Remove all stopped pods and their containers",
               "den pod prune -f",
               {{"force", 'f', OptKind::Bool, "", "Do not prompt for confirmation", ""}},
               false, 0, 0, cmd_pod_prune});
}

}  // namespace den::cli
