// Networking flags of run/create, and the `network` commands.
#include <netinet/in.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <iostream>
#include <regex>

#include "cli.h"
#include "den/filter_args.h"
#include "den/container.h"
#include "den/error.h"
#include "den/events.h"
#include "den/monitor.h"
#include "den/fs.h"
#include "den/log.h"
#include "den/network.h"
#include "den/strings.h"
#include "den/timefmt.h"
#include "services.h"

namespace den::cli {

void apply_network_flags(Context& ctx, const Args& a, ContainerConfig& c) {
  const Config& cfg = ctx.config();
  std::string value = a.value("network", a.value("net", ""));
  NetworkMode m = parse_network_mode(value, cfg.network_cmd);
  // Recorded resolved, so that a later change of the default does not change
  // what an existing container gets.
  if (m.kind == "slirp4netns" || m.kind == "pasta")
    c.network = m.options.empty() ? m.kind : m.kind + ":" + join(m.options, ",");
  else if (m.kind == "container" || m.kind == "ns" || m.kind == "user")
    c.network = m.kind == "user" ? m.arg : m.kind + ":" + m.arg;
  else
    c.network = m.kind;
  if (m.kind == "container") ContainerStore(ctx.store()).resolve(m.arg);  // must exist
  if (m.kind == "ns" && !path_exists(m.arg))
    throw Error(fmt::format("invalid --network \"{}\": {} does not exist", value, m.arg), Errc::Invalid);
  if (m.kind == "user") {
    c.network = NetworkStore(cfg).require(m.arg).name;
    c.networks = {c.network};
  }

  // name:ip, also name=ip (docker 25+); the IP may be IPv6.
  for (const auto& h : a.list("add-host")) c.add_hosts.push_back(parse_add_host(h));
  for (const auto& d : a.list("dns")) c.dns.push_back(parse_dns_server(d));
  c.dns_search = a.list("dns-search");
  c.dns_options = a.list("dns-option");
  if (a.has("mac-address")) {
    std::string mac = to_lower(a.value("mac-address"));
    static const std::regex re("^([0-9a-f]{2}:){5}[0-9a-f]{2}$");
    if (!std::regex_match(mac, re))
      throw Error(fmt::format("invalid --mac-address \"{}\": use six hex bytes, as 92:d0:c6:0a:29:33", mac),
                  Errc::Invalid);
    if (std::stoi(mac.substr(0, 2), nullptr, 16) & 1)
      throw Error(fmt::format("invalid --mac-address \"{}\": a multicast address", mac), Errc::Invalid);
    c.mac_address = mac;
  }
  c.network_aliases = a.list("network-alias");
  c.links = a.list("link");
  if ((!c.network_aliases.empty() || !c.links.empty()) && m.kind != "user")
    throw Error(fmt::format("--network-alias and --link need a user network (den network create NET; --network NET), "
                            "not --network {}",
                            c.network),
                Errc::Invalid);
  if (m.kind == "host" || m.kind == "container" || m.kind == "ns") {
    if (!c.dns.empty() || !c.dns_search.empty() || !c.mac_address.empty())
      if (m.kind != "host")
        throw Error(fmt::format("conflicting options: --dns, --dns-search and --mac-address need the container's "
                                "own network, not --network {}",
                                c.network),
                    Errc::Invalid);
  }
}

void apply_publish_flags(Context& ctx, const Args& a, ContainerConfig& c) {
  std::vector<PortMapping> ports;
  for (const auto& p : a.list("publish")) ports.push_back(parse_port_spec(p));
  if (a.flag("publish-all")) {
    for (const auto& e : c.exposed_ports) {
      PortMapping m = exposed_port_mapping(e);
      bool published = false;
      for (const auto& q : expand_ports(ports))
        published = published || (q.container_port == m.container_port && q.protocol == m.protocol);
      if (!published) ports.push_back(m);
    }
  }
  if (ports.empty()) return;
  NetworkMode m = parse_network_mode(c.network, ctx.config().network_cmd);
  if (m.kind == "host") {
    log::warn("published ports are discarded when using host network mode");
    return;
  }
  if (m.kind == "none" || m.kind == "container" || m.kind == "ns")
    throw Error(fmt::format("conflicting options: port publishing and --network {}", c.network), Errc::Invalid);
  reserve_host_ports(ports, ctx.config().rootless);
  c.ports = ports;
  // Published ports count as exposed (docker shows them in Config.ExposedPorts).
  for (const auto& p : expand_ports(ports)) c.exposed_ports.push_back(fmt::format("{}/{}", p.container_port, p.protocol));
  std::sort(c.exposed_ports.begin(), c.exposed_ports.end());
  c.exposed_ports.erase(std::unique(c.exposed_ports.begin(), c.exposed_ports.end()), c.exposed_ports.end());
}

// ---- network commands ----------------------------------------------------------

namespace {

// Containers (any state) whose config names the network.
std::vector<ContainerConfig> containers_on(Context& ctx, const std::string& name) {
  std::vector<ContainerConfig> out;
  ContainerStore cs(ctx.store());
  for (const auto& id : cs.list_ids()) {
    try {
      ContainerConfig c = cs.config(id);
      if (std::find(c.networks.begin(), c.networks.end(), name) != c.networks.end() || c.network == name)
        out.push_back(c);
    } catch (const Error&) {
    }
  }
  return out;
}

Json network_inspect_json(Context& ctx, const UserNetwork& n) {
  Json containers = Json::object();
  int bits = std::stoi(split_once(n.subnet, '/').second);
  for (const auto& e : network_endpoints(ctx.config(), n))
    containers[e.container_id] = {{"Name", e.name},
                                  {"EndpointID", e.container_id.substr(0, 12) + e.ifname},
                                  {"MacAddress", e.mac},
                                  {"IPv4Address", fmt::format("{}/{}", e.ip, bits)},
                                  {"IPv6Address", ""}};
  return {{"Name", n.name},
          {"Id", n.id},
          {"Created", format_rfc3339_nano(n.created)},
          {"Scope", "local"},
          {"Driver", n.driver},
          {"EnableIPv6", false},
          {"IPAM",
           {{"Driver", "default"},
            {"Options", Json::object()},
            {"Config", Json::array({{{"Subnet", n.subnet}, {"Gateway", n.gateway}}})}}},
          {"Internal", n.internal},
          {"Attachable", false},
          {"Ingress", false},
          {"ConfigFrom", {{"Network", ""}}},
          {"ConfigOnly", false},
          {"Containers", containers},
          {"Options", Json::object()},
          {"Labels", n.labels}};
}

int cmd_network_create(Context& ctx, const Args& a) {
  UserNetwork n;
  n.name = a.positional[0];
  n.driver = a.value("driver", "bridge");
  n.subnet = a.value("subnet");
  n.gateway = a.value("gateway");
  n.internal = a.flag("internal");
  if (!n.gateway.empty() && n.subnet.empty())
    throw Error("--gateway needs --subnet", Errc::Invalid);
  for (const auto& l : a.list("label")) {
    auto [k, v] = split_once(l, '=');
    n.labels[k] = v;
  }
  n = NetworkStore(ctx.config()).create(n);
  out(n.id + "\n");
  return 0;
}

int cmd_network_ls(Context& ctx, const Args& a) {
  // docker's keys and rules (den/filter_args.h). den has no built-in
  // networks in this list: every network is type=custom.
  FilterArgs filters =
      FilterArgs::parse(a.list("filter"), {"dangling", "driver", "id", "label", "name", "scope", "type"});
  for (const auto& t : filters.values("type"))
    if (t != "custom" && t != "builtin")
      throw Error(fmt::format("invalid filter \"type={}\": use type=custom or type=builtin", t), Errc::Invalid);
  std::optional<bool> dangling = filters.boolean("dangling");
  std::vector<Json> rows;
  for (const auto& n : NetworkStore(ctx.config()).list()) {
    bool keep = filters.match("name", n.name) && filters.match("id", n.id) && filters.exact("driver", n.driver) &&
                filters.exact("scope", "local") && filters.exact("type", "custom") && filters.labels_match(n.labels);
    if (keep && dangling) keep = containers_on(ctx, n.name).empty() == *dangling;
    if (!keep) continue;
    std::vector<std::string> labels;
    for (const auto& [k, v] : n.labels) labels.push_back(k + "=" + v);
    rows.push_back({{"ID", a.flag("no-trunc") ? n.id : n.id.substr(0, 12)},
                    {"Name", n.name},
                    {"Driver", n.driver},
                    {"Scope", "local"},
                    {"IPv6", "false"},
                    {"Internal", n.internal ? "true" : "false"},
                    {"Labels", join(labels, ",")},
                    {"CreatedAt", go_time_string(n.created)}});
  }
  std::string format = a.value("format");
  if (a.flag("quiet")) format = "{{.ID}}";
  if (format.empty()) format = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";
  Json header = {{"ID", "NETWORK ID"}, {"Name", "NAME"},         {"Driver", "DRIVER"},      {"Scope", "SCOPE"},
                 {"IPv6", "IPV6"},     {"Internal", "INTERNAL"}, {"Labels", "LABELS"},      {"CreatedAt", "CREATED AT"}};
  print_formatted(format, header, rows, &label_method());
  return 0;
}

int cmd_network_inspect(Context& ctx, const Args& a) {
  NetworkStore ns(ctx.config());
  std::vector<Json> items;
  for (const auto& name : a.positional) items.push_back(network_inspect_json(ctx, ns.get(name)));
  print_inspect(a.value("format"), items);
  return 0;
}

// network rm -f: stops (stop signal, then SIGKILL after `timeout` seconds, or
// the container's stop timeout when < 0) and removes a container, as podman.
void force_remove_container(Context& ctx, const ContainerConfig& c, int timeout) {
  ContainerStore cs(ctx.store());
  ContainerState st = cs.state(c.id);
  if (st.status == ContainerStatus::Running || st.status == ContainerStatus::Paused) {
    {
      FileLock l = cs.lock(c.id);
      ContainerState s2 = cs.state(c.id);
      s2.stopped_by_user = true;
      s2.restarting = false;
      cs.save_state(c.id, s2);
    }
    if (st.pid > 0) ::kill(st.pid, parse_signal(c.stop_signal));
    int t = timeout >= 0 ? timeout : c.stop_timeout;
    if (!wait_for_exit(cs, c.id, t * 1000, &st)) {
      if (st.pid > 0) ::kill(st.pid, SIGKILL);
      wait_for_exit(cs, c.id, -1, &st);
    }
    wait_for_monitor_exit(st, 10000);
  }
  FileLock l = cs.lock(c.id);
  if (!is_dir(cs.dir(c.id))) return;  // an --rm container removed itself
  remove_container(cs, c.id);
  emit_container_event(ctx.config(), "destroy", c.id, c.name, c.image_name, c.labels);
}

int cmd_network_rm(Context& ctx, const Args& a) {
  NetworkStore ns(ctx.config());
  bool force = a.flag("force");
  int timeout = -1;
  if (a.has("time")) {
    std::string t = a.value("time");
    if (t.empty() || t.size() > 6 || !std::all_of(t.begin(), t.end(), ::isdigit))
      throw Error(fmt::format("invalid --time \"{}\": use a number of seconds", t), Errc::Invalid);
    timeout = std::stoi(t);
  }
  int rc = 0;
  for (const auto& name : a.positional) {
    try {
      // docker: -f does not complain about a network that does not exist.
      if (force && !ns.find(name)) continue;
      UserNetwork n = ns.get(name);
      std::vector<ContainerConfig> users = containers_on(ctx, n.name);
      if (!users.empty() && !force) {
        std::vector<std::string> names;
        for (const auto& c : users) names.push_back(c.name);
        std::sort(names.begin(), names.end());
        throw Error(fmt::format("network {} is in use by container{} {}: remove {} (den rm -f {}) or disconnect {} "
                                "first, or remove the network with {} (den network rm -f {})",
                                n.name, names.size() > 1 ? "s" : "", join(names, ", "),
                                names.size() > 1 ? "them" : "it", join(names, " "), names.size() > 1 ? "them" : "it",
                                names.size() > 1 ? "them" : "it", n.name),
                    Errc::InUse);
      }
      for (const auto& c : users) force_remove_container(ctx, c, timeout);
      ns.remove(n.name);
      out(name + "\n");
    } catch (const Error& e) {
      if (a.positional.size() == 1) throw;
      std::fprintf(stderr, "Error: %s\n", e.what());
      rc = 1;
    }
  }
  return rc;
}

int cmd_network_prune(Context& ctx, const Args& a) {
  if (!a.flag("force")) {
    out("WARNING! This will remove all custom networks not used by at least one container.\n"
        "Are you sure you want to continue? [y/N] ");
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "Y" && answer != "yes") return 0;
  }
  NetworkStore ns(ctx.config());
  std::string text;
  for (const auto& n : ns.list()) {
    if (!containers_on(ctx, n.name).empty()) continue;
    ns.remove(n.name);
    if (text.empty()) text = "Deleted Networks:\n";
    text += n.name + "\n";
  }
  out(text);
  return 0;
}

int cmd_network_connect(Context& ctx, const Args& a) {
  UserNetwork n = NetworkStore(ctx.config()).get(a.positional[0]);
  ContainerStore cs(ctx.store());
  std::string id = cs.resolve(a.positional[1]);
  ctx.enter_userns();
  FileLock l = cs.lock(id);
  ContainerConfig c = cs.config(id);
  NetworkMode m = parse_network_mode(c.network, ctx.config().network_cmd);
  if (m.kind != "user")
    throw Error(fmt::format("cannot connect container {} to {}: den connects containers on user networks only, and "
                            "{} uses --network {}",
                            a.positional[1], n.name, a.positional[1], c.network),
                Errc::Unsupported);
  if (std::find(c.networks.begin(), c.networks.end(), n.name) != c.networks.end())
    throw Error(fmt::format("container {} is already connected to network {}", a.positional[1], n.name),
                Errc::Exists);
  for (const auto& al : a.list("alias"))
    if (std::find(c.network_aliases.begin(), c.network_aliases.end(), al) == c.network_aliases.end())
      c.network_aliases.push_back(al);
  c.networks.push_back(n.name);
  ContainerState st = cs.state(id);
  if (st.status == ContainerStatus::Running) attach_user_networks(ctx.config(), c, st.pid, {n.name});
  cs.save_config(c);
  return 0;
}

int cmd_network_disconnect(Context& ctx, const Args& a) {
  UserNetwork n = NetworkStore(ctx.config()).get(a.positional[0]);
  ContainerStore cs(ctx.store());
  std::string id = cs.resolve(a.positional[1]);
  ctx.enter_userns();
  FileLock l = cs.lock(id);
  ContainerConfig c = cs.config(id);
  auto it = std::find(c.networks.begin(), c.networks.end(), n.name);
  if (it == c.networks.end())
    throw Error(fmt::format("container {} is not connected to network {}", a.positional[1], n.name), Errc::Invalid);
  c.networks.erase(it);
  // A container left with no network keeps a namespace with only lo.
  if (c.network == n.name) c.network = c.networks.empty() ? "none" : c.networks.front();
  detach_user_networks(ctx.config(), id, n.name);
  cs.save_config(c);
  return 0;
}

}  // namespace

void register_network_commands(std::vector<Command>& t) {
  t.push_back({{{"network", "create"}},
               "[OPTIONS] NETWORK",
               "Create a network",
               "den network create --subnet 10.89.5.0/24 appnet\nden run -d --network appnet --name db bb httpd -f",
               {{"driver", 'd', OptKind::Value, "string", "Driver to manage the Network", "\"bridge\""},
                {"gateway", 0, OptKind::Value, "string", "IPv4 Gateway for the master subnet", ""},
                {"internal", 0, OptKind::Bool, "", "Restrict external access to the network", ""},
                {"label", 0, OptKind::List, "list", "Set metadata on a network", ""},
                {"subnet", 0, OptKind::Value, "string", "Subnet in CIDR format that represents a network segment", ""}},
               false, 1, 1, cmd_network_create});
  t.push_back({{{"network", "ls"}, {"network", "list"}},
               "[OPTIONS]",
               "List networks",
               "den network ls\nden network ls --format '{{.Name}} {{.Driver}}'\nden network ls -q -f dangling=true -f type=custom\n"
               "# filters: dangling driver id label name scope type",
               {{"filter", 'f', OptKind::List, "filter", "Provide filter values (e.g. 'driver=bridge')", ""},
                {"format", 0, OptKind::Value, "string", "Format output using a Go template, 'table ...' or 'json'", ""},
                {"no-trunc", 0, OptKind::Bool, "", "Do not truncate the output", ""},
                {"quiet", 'q', OptKind::Bool, "", "Only display network IDs", ""}},
               false, 0, 0, cmd_network_ls});
  t.push_back({{{"network", "inspect"}},
               "[OPTIONS] NETWORK [NETWORK...]",
               "Display detailed information on one or more networks",
               "den network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' appnet",
               {{"format", 'f', OptKind::Value, "string", "Format output using a Go template", ""}},
               false, 1, -1, cmd_network_inspect});
  t.push_back({{{"network", "rm"}, {"network", "remove"}},
               "[OPTIONS] NETWORK [NETWORK...]",
               "Remove one or more networks",
               "den network rm appnet\nden network rm -f -t 0 appnet",
               {{"force", 'f', OptKind::Bool, "",
                 "Remove the containers that use the network too, stopping running ones (as podman); no error if "
                 "the network does not exist (as docker)",
                 ""},
                {"time", 't', OptKind::Value, "int",
                 "Seconds to wait for a container to stop before killing it, with --force (default: its stop "
                 "timeout)",
                 ""}},
               false, 1, -1, cmd_network_rm});
  t.push_back({{{"network", "prune"}},
               "[OPTIONS]",
               "Remove all unused networks",
               "den network prune -f",
               {{"force", 'f', OptKind::Bool, "", "Do not prompt for confirmation", ""}},
               false, 0, 0, cmd_network_prune});
  t.push_back({{{"network", "connect"}},
               "[OPTIONS] NETWORK CONTAINER",
               "Connect a container to a network",
               "den network connect --alias cache appnet web",
               {{"alias", 0, OptKind::List, "list", "Add network-scoped alias for the container", ""}},
               false, 2, 2, cmd_network_connect});
  t.push_back({{{"network", "disconnect"}},
               "NETWORK CONTAINER",
               "Disconnect a container from a network",
               "den network disconnect appnet web",
               {},
               false, 2, 2, cmd_network_disconnect});
}

}  // namespace den::cli
