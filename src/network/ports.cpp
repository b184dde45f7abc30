// Published ports: -p parsing, host port checks and docker's renderings.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "den/error.h"
#include "den/fs.h"
#include "den/network.h"
#include "den/strings.h"

namespace den {

namespace {

const char* kPortForm = "use [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp], ports in 1-65535, ranges as 8000-8010";

Error bad_spec(const std::string& spec, const std::string& why) {
  return Error(fmt::format("invalid port \"{}\": {}; {}", spec, why, kPortForm), Errc::Invalid);
}

// "8080" or "8000-8010" -> (first, count). Empty gives (0, 0).
std::pair<int, int> parse_range(const std::string& spec, const std::string& s) {
  if (s.empty()) return {0, 0};
  auto [a, b] = split_once(s, '-');
  auto num = [&](const std::string& t) {
    if (t.empty() || t.size() > 5 || !std::all_of(t.begin(), t.end(), ::isdigit))
      throw bad_spec(spec, fmt::format("\"{}\" is not a port number", t));
    int v = std::stoi(t);
    if (v < 1 || v > 65535) throw bad_spec(spec, fmt::format("port {} is out of range", v));
    return v;
  };
  int first = num(a);
  int last = s.find('-') == std::string::npos ? first : num(b);
  if (last < first) throw bad_spec(spec, fmt::format("range {} ends before it starts", s));
  return {first, last - first + 1};
}

bool valid_ip(const std::string& ip) {
  unsigned char buf[sizeof(struct in6_addr)];
  return ::inet_pton(AF_INET, ip.c_str(), buf) == 1 || ::inet_pton(AF_INET6, ip.c_str(), buf) == 1;
}

// Binds a socket like the helper will; returns the port (useful for 0) or -errno.
int try_bind(const std::string& ip, int port, const std::string& proto) {
  bool v6 = ip.find(':') != std::string::npos;
  int type = proto == "udp" ? SOCK_DGRAM : SOCK_STREAM;
  UniqueFd fd(::socket(v6 ? AF_INET6 : AF_INET, type | SOCK_CLOEXEC, 0));
  if (!fd) return -errno;
  int one = 1;
  if (type == SOCK_STREAM) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_storage ss {};
  socklen_t len;
  if (v6) {
    auto* s6 = reinterpret_cast<struct sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET6, ip.c_str(), &s6->sin6_addr);
    len = sizeof *s6;
  } else {
    auto* s4 = reinterpret_cast<struct sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(static_cast<uint16_t>(port));
    if (ip.empty())
      s4->sin_addr.s_addr = htonl(INADDR_ANY);
    else
      ::inet_pton(AF_INET, ip.c_str(), &s4->sin_addr);
    len = sizeof *s4;
  }
  if (::bind(fd.get(), reinterpret_cast<struct sockaddr*>(&ss), len) != 0) return -errno;
  if (::getsockname(fd.get(), reinterpret_cast<struct sockaddr*>(&ss), &len) != 0) return -errno;
  return ntohs(v6 ? reinterpret_cast<struct sockaddr_in6*>(&ss)->sin6_port
                  : reinterpret_cast<struct sockaddr_in*>(&ss)->sin_port);
}

std::string shown_ip(const PortMapping& m) { return m.host_ip.empty() ? "0.0.0.0" : m.host_ip; }

}  // namespace

PortMapping parse_port_spec(const std::string& spec) {
  PortMapping m;
  std::string s = spec;
  size_t slash = s.rfind('/');
  if (slash != std::string::npos) {
    m.protocol = to_lower(s.substr(slash + 1));
    s = s.substr(0, slash);
    if (m.protocol != "tcp" && m.protocol != "udp")
      throw bad_spec(spec, fmt::format("protocol \"{}\" is not supported", m.protocol));
  }
  if (s.empty()) throw bad_spec(spec, "no container port");
  // The IP: "[v6]:" or everything before the last two colons.
  std::string ip, host, ctr;
  if (s[0] == '[') {
    size_t close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':')
      throw bad_spec(spec, "an IPv6 address needs the form [ADDR]:HOSTPORT:CONTAINERPORT");
    ip = s.substr(1, close - 1);
    std::string rest = s.substr(close + 2);
    auto [h, c] = split_once(rest, ':');
    if (rest.find(':') == std::string::npos) throw bad_spec(spec, "no container port");
    host = h;
    ctr = c;
  } else {
    std::vector<std::string> parts = split(s, ':');
    if (parts.size() == 1) {
      ctr = parts[0];
    } else if (parts.size() == 2) {
      host = parts[0];
      ctr = parts[1];
    } else if (parts.size() == 3) {
      ip = parts[0];
      host = parts[1];
      ctr = parts[2];
    } else {
      throw bad_spec(spec, "too many colons");
    }
  }
  if (!ip.empty() && !valid_ip(ip)) throw bad_spec(spec, fmt::format("\"{}\" is not an IP address", ip));
  if (ip == "0.0.0.0") ip.clear();
  m.host_ip = ip;
  auto [cport, ccount] = parse_range(spec, ctr);
  if (ccount == 0) throw bad_spec(spec, "no container port");
  auto [hport, hcount] = parse_range(spec, host);
  if (hcount != 0 && hcount != ccount) {
    if (hcount > 1 || ccount > 1)
      throw bad_spec(spec, "the host and container port ranges must have the same length");
  }
  m.container_port = cport;
  m.host_port = hport;
  m.range = ccount;
  return m;
}

PortMapping exposed_port_mapping(const std::string& exposed) {
  PortMapping m = parse_port_spec(exposed);
  m.host_port = 0;
  return m;
}

std::vector<PortMapping> expand_ports(const std::vector<PortMapping>& ports) {
  std::vector<PortMapping> out;
  for (const auto& p : ports)
    for (int i = 0; i < std::max(1, p.range); i++) {
      PortMapping r = p;
      r.range = 1;
      r.container_port += i;
      if (r.host_port) r.host_port += i;
      out.push_back(r);
    }
  return out;
}

int unprivileged_port_start() {
  auto s = read_file_if_exists("/proc/sys/net/ipv4/ip_unprivileged_port_start");
  if (!s) return 1024;
  return std::atoi(s->c_str());
}

void check_host_ports(const std::vector<PortMapping>& ports, bool rootless) {
  int unpriv = rootless ? unprivileged_port_start() : 0;
  std::set<std::string> seen;
  for (const auto& m : expand_ports(ports)) {
    if (m.host_port <= 0) continue;
    if (m.host_port < unpriv)
      throw Error(fmt::format("cannot publish host port {}: rootless den can bind only ports from "
                              "net.ipv4.ip_unprivileged_port_start ({}) up; publish a higher host port "
                              "(-p {}:{}) or lower the sysctl (sysctl net.ipv4.ip_unprivileged_port_start={})",
                              m.host_port, unpriv, m.host_port + 8000 <= 65535 ? m.host_port + 8000 : 8080,
                              m.container_port, m.host_port),
                  Errc::Invalid);
    std::string key = fmt::format("{}/{}", m.host_port, m.protocol);
    if (!seen.insert(key).second)
      throw Error(fmt::format("host port {} is published twice", key), Errc::Invalid);
    int r = try_bind(m.host_ip, m.host_port, m.protocol);
    if (r == -EADDRINUSE)
      throw Error(fmt::format("cannot publish {}:{}/{}: the host port is already in use; stop what uses it or "
                              "choose another host port",
                              shown_ip(m), m.host_port, m.protocol),
                  Errc::InUse);
    if (r == -EADDRNOTAVAIL)
      throw Error(fmt::format("cannot publish on {}: the host has no such address", m.host_ip), Errc::Invalid);
    if (r < 0)
      throw Error(fmt::format("cannot publish {}:{}/{}: {}", shown_ip(m), m.host_port, m.protocol, std::strerror(-r)),
                  Errc::Invalid, -r);
  }
}

void reserve_host_ports(std::vector<PortMapping>& ports, bool rootless) {
  std::vector<PortMapping> out;
  for (const auto& p : ports) {
    if (p.host_port != 0) {
      out.push_back(p);
      continue;
    }
    // Random: a free port for each port of the range.
    for (const auto& single : expand_ports({p})) {
      PortMapping m = single;
      int r = try_bind(m.host_ip, 0, m.protocol);
      if (r <= 0) throw Error(fmt::format("no free host port for {}/{}", m.container_port, m.protocol), Errc::Generic, -r);
      m.host_port = r;
      out.push_back(m);
    }
  }
  check_host_ports(out, rootless);
  ports = out;
}

std::string format_port_list(const std::vector<PortMapping>& ports) {
  // docker collapses consecutive ports into ranges; one entry per mapping.
  std::vector<std::string> parts;
  for (const auto& p : ports) {
    std::string ip = shown_ip(p);
    if (ip.find(':') != std::string::npos) ip = "[" + ip + "]";
    if (p.range > 1)
      parts.push_back(fmt::format("{}:{}-{}->{}-{}/{}", ip, p.host_port, p.host_port + p.range - 1, p.container_port,
                                  p.container_port + p.range - 1, p.protocol));
    else
      parts.push_back(fmt::format("{}:{}->{}/{}", ip, p.host_port, p.container_port, p.protocol));
  }
  return join(parts, ", ");
}

Json inspect_ports(const std::vector<PortMapping>& ports, const std::vector<std::string>& exposed) {
  Json out = Json::object();
  for (const auto& e : exposed) out[e.find('/') == std::string::npos ? e + "/tcp" : e] = nullptr;
  for (const auto& m : expand_ports(ports)) {
    std::string key = fmt::format("{}/{}", m.container_port, m.protocol);
    if (!out[key].is_array()) out[key] = Json::array();
    out[key].push_back({{"HostIp", shown_ip(m)}, {"HostPort", std::to_string(m.host_port)}});
  }
  return out;
}

Json inspect_port_bindings(const std::vector<PortMapping>& ports) {
  Json out = Json::object();
  for (const auto& m : expand_ports(ports)) {
    std::string key = fmt::format("{}/{}", m.container_port, m.protocol);
    if (!out[key].is_array()) out[key] = Json::array();
    out[key].push_back({{"HostIp", m.host_ip}, {"HostPort", std::to_string(m.host_port)}});
  }
  return out;
}

}  // namespace den
