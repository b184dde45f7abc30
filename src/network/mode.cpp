// --network values and the container's /etc/hosts and /etc/resolv.conf.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

#include "den/error.h"
#include "den/fs.h"
#include "den/network.h"
#include "den/strings.h"

namespace den {

namespace {

const char* kModes = "use none, host, slirp4netns[:OPTS], pasta[:OPTS], container:NAME, ns:PATH or a network name";

bool valid_ip(const std::string& ip) {
  unsigned char buf[sizeof(struct in6_addr)];
  return ::inet_pton(AF_INET, ip.c_str(), buf) == 1 || ::inet_pton(AF_INET6, ip.c_str(), buf) == 1;
}

void check_slirp_options(const std::vector<std::string>& opts) {
  for (const auto& o : opts) {
    auto [k, v] = split_once(o, '=');
    bool boolean = v == "true" || v == "false";
    if ((k == "allow_host_loopback" || k == "enable_ipv6") && boolean) continue;
    if (k == "mtu" && !v.empty() && std::all_of(v.begin(), v.end(), ::isdigit)) continue;
    if (k == "port_handler" && v == "slirp4netns") continue;
    if (k == "outbound_addr" && valid_ip(v)) continue;
    throw Error(fmt::format("unsupported slirp4netns option \"{}\": den knows allow_host_loopback=true|false, "
                            "enable_ipv6=true|false, mtu=N, outbound_addr=IP, port_handler=slirp4netns",
                            o),
                Errc::Invalid);
  }
}

bool has_option(const std::vector<std::string>& opts, const std::string& o) {
  return std::find(opts.begin(), opts.end(), o) != opts.end();
}

// The host's first non-loopback IPv4 address ("" if none).
std::string host_primary_ipv4() {
  struct ifaddrs* ifs = nullptr;
  if (::getifaddrs(&ifs) != 0) return "";
  std::string out;
  for (struct ifaddrs* i = ifs; i && out.empty(); i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    auto* a = reinterpret_cast<struct sockaddr_in*>(i->ifa_addr);
    if ((ntohl(a->sin_addr.s_addr) >> 24) == 127) continue;
    char buf[INET_ADDRSTRLEN];
    if (::inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf)) out = buf;
  }
  ::freeifaddrs(ifs);
  return out;
}

struct HostResolv {
  std::vector<std::string> nameservers, search, options;
};

HostResolv host_resolv() {
  HostResolv r;
  auto text = read_file_if_exists("/etc/resolv.conf");
  if (!text) return r;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string key, v;
    ls >> key;
    if (key == "nameserver" && ls >> v) r.nameservers.push_back(v);
    if (key == "search" || key == "domain") {
      r.search.clear();
      while (ls >> v) r.search.push_back(v);
    }
    if (key == "options")
      while (ls >> v) r.options.push_back(v);
  }
  return r;
}

}  // namespace

std::string parse_add_host(const std::string& h) {
  size_t sep = h.find_first_of(":=");
  std::string name = sep == std::string::npos ? "" : h.substr(0, sep);
  std::string ip = sep == std::string::npos ? "" : h.substr(sep + 1);
  if (ip.size() > 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  if (name.empty() || (ip != "host-gateway" && !valid_ip(ip)))
    throw Error(fmt::format("invalid --add-host \"{}\": use HOST:IP (IP may be host-gateway)", h), Errc::Invalid);
  return name + ":" + ip;
}

std::string parse_dns_server(const std::string& ip) {
  if (!valid_ip(ip)) throw Error(fmt::format("invalid --dns \"{}\": not an IP address", ip), Errc::Invalid);
  return ip;
}

NetworkMode parse_network_mode(const std::string& value, const std::string& default_backend) {
  NetworkMode m;
  std::string v = value;
  if (v.empty() || v == "default" || v == "bridge" || v == "private") v = default_backend;
  auto [kind, rest] = split_once(v, ':');
  bool has_arg = v.find(':') != std::string::npos;
  if (kind == "none" || kind == "host") {
    if (has_arg) throw Error(fmt::format("invalid --network \"{}\": {} takes no options", value, kind), Errc::Invalid);
    m.kind = kind;
  } else if (kind == "slirp4netns" || kind == "pasta") {
    m.kind = kind;
    if (has_arg && !rest.empty()) m.options = split(rest, ',');
    if (kind == "slirp4netns") check_slirp_options(m.options);
  } else if (kind == "container" || kind == "ns") {
    if (rest.empty())
      throw Error(fmt::format("invalid --network \"{}\": {}", value,
                              kind == "ns" ? "ns: needs a path, as in ns:/run/netns/x" : "container: needs a name"),
                  Errc::Invalid);
    m.kind = kind;
    m.arg = rest;
  } else if (!has_arg && !kind.empty() &&
             std::all_of(kind.begin(), kind.end(),
                         [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.'; })) {
    m.kind = "user";
    m.arg = kind;
  } else {
    throw Error(fmt::format("invalid --network \"{}\": {}", value, kModes), Errc::Invalid);
  }
  return m;
}

bool uses_network_helper(const NetworkMode& m) { return m.kind == "slirp4netns" || m.kind == "pasta"; }

NetAddresses container_addresses(const ContainerConfig& c) {
  NetAddresses a;
  NetworkMode m;
  try {
    m = parse_network_mode(c.network, "slirp4netns");
  } catch (const Error&) {
    return a;
  }
  if (m.kind == "slirp4netns") {
    a.ip = "10.0.2.100";
    a.gateway = "10.0.2.2";
    a.prefix_len = "24";
    a.dns = "10.0.2.3";
    // 10.0.2.2 is the host's loopback: reachable only with allow_host_loopback.
    a.host = has_option(m.options, "allow_host_loopback=true") ? "10.0.2.2" : host_primary_ipv4();
    if (a.host.empty()) a.host = "10.0.2.2";
  } else if (m.kind == "pasta") {
    // pasta copies the host's address into the namespace.
    a.ip = host_primary_ipv4();
    a.host = a.ip;
  } else if (m.kind == "host") {
    a.host = "127.0.0.1";
  }
  return a;
}

std::string hosts_file(const ContainerConfig& c, const std::string& hostname, const NetAddresses* user,
                       const std::vector<std::string>& extra) {
  NetAddresses a = user ? *user : container_addresses(c);
  std::string out = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
  for (const auto& h : c.add_hosts) {
    auto [name, ip] = split_once(h, ':');
    if (ip == "host-gateway") ip = a.host.empty() ? "127.0.0.1" : a.host;
    out += ip + "\t" + name + "\n";
  }
  std::string self = c.name.empty() || c.name == hostname ? hostname : hostname + " " + c.name;
  out += (a.ip.empty() ? "127.0.1.1" : a.ip) + "\t" + self + "\n";
  if (!a.host.empty()) out += a.host + "\thost.den.internal host.containers.internal\n";
  for (const auto& l : extra) out += l + "\n";
  return out;
}

std::string resolv_conf(const ContainerConfig& c, const NetAddresses* user) {
  NetAddresses a = user ? *user : container_addresses(c);
  HostResolv h = host_resolv();
  if (user && c.dns_search.empty()) h.search.insert(h.search.begin(), "dns.den");
  std::vector<std::string> ns = c.dns;
  if (ns.empty()) {
    if (!a.dns.empty()) {
      ns.push_back(a.dns);
    } else {
      NetworkMode m = parse_network_mode(c.network, "slirp4netns");
      for (const auto& s : h.nameservers)
        // The host's loopback resolvers are not the container's (own netns).
        if (m.kind == "host" || (s.rfind("127.", 0) != 0 && s != "::1")) ns.push_back(s);
    }
  }
  std::vector<std::string> search = c.dns_search.empty() ? h.search : c.dns_search;
  if (search.size() == 1 && search[0] == ".") search.clear();
  std::vector<std::string> options = c.dns_options.empty() ? h.options : c.dns_options;
  std::string out;
  if (!search.empty()) out += "search " + join(search, " ") + "\n";
  for (const auto& s : ns) out += "nameserver " + s + "\n";
  if (!options.empty()) out += "options " + join(options, " ") + "\n";
  return out;
}

std::string ping_group_problem() {
  auto s = read_file_if_exists("/proc/sys/net/ipv4/ping_group_range");
  if (!s) return "";
  long lo = 1, hi = 0;
  if (std::sscanf(s->c_str(), "%ld %ld", &lo, &hi) != 2) return "";
  // The kernel checks the group as the host sees it: inside den's user
  // namespace, map it out.
  long gid = static_cast<long>(::getegid());
  if (auto map = read_file_if_exists("/proc/self/gid_map")) {
    for (const auto& line : split(*map, '\n')) {
      long in = 0, host = 0, count = 0;
      if (std::sscanf(line.c_str(), "%ld %ld %ld", &in, &host, &count) == 3 && gid >= in && gid < in + count) {
        gid = host + (gid - in);
        break;
      }
    }
  }
  if (gid >= lo && gid <= hi) return "";
  return fmt::format(
      "net.ipv4.ping_group_range is \"{} {}\", which excludes gid {}: ping from a container to the outside "
      "(slirp4netns, pasta) fails; allow it with sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"",
      lo, hi, gid);
}

}  // namespace den
