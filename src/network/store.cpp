// User network records: GRAPHROOT/networks/<name>.json, written atomically
// under GRAPHROOT/networks/lock.
#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>

#include "den/error.h"
#include "den/events.h"
#include "den/fs.h"
#include "den/hash.h"
#include "den/lock.h"
#include "den/network.h"
#include "den/strings.h"
#include "den/timefmt.h"

namespace den {

namespace {

struct Cidr {
  uint32_t addr = 0;  // host order
  int bits = 0;
  uint32_t mask() const { return bits == 0 ? 0 : ~uint32_t{0} << (32 - bits); }
  uint32_t first() const { return addr & mask(); }
  uint32_t last() const { return first() | ~mask(); }
};

Cidr parse_cidr(const std::string& s) {
  auto [ip, bits] = split_once(s, '/');
  auto a = parse_ip4(ip);
  if (!a || bits.empty() || !std::all_of(bits.begin(), bits.end(), ::isdigit) || std::stoi(bits) < 8 ||
      std::stoi(bits) > 30)
    throw Error(fmt::format("invalid --subnet \"{}\": use an IPv4 network as 10.89.0.0/24 (prefix 8 to 30)", s),
                Errc::Invalid);
  return {*a, std::stoi(bits)};
}

bool valid_name(const std::string& n) {
  if (n.empty() || n.size() > 64 || !std::isalnum(static_cast<unsigned char>(n[0]))) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

}  // namespace

std::optional<uint32_t> parse_ip4(const std::string& s) {
  struct in_addr a {};
  if (::inet_pton(AF_INET, s.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

std::string format_ip4(uint32_t v) {
  struct in_addr a {};
  a.s_addr = htonl(v);
  char buf[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

Json to_json(const UserNetwork& n) {
  return {{"name", n.name},         {"id", n.id},           {"driver", n.driver},   {"subnet", n.subnet},
          {"gateway", n.gateway},   {"internal", n.internal}, {"created", n.created}, {"labels", n.labels}};
}

UserNetwork user_network_from_json(const Json& j) {
  UserNetwork n;
  n.name = j.value("name", "");
  n.id = j.value("id", "");
  n.driver = j.value("driver", "bridge");
  n.subnet = j.value("subnet", "");
  n.gateway = j.value("gateway", "");
  n.internal = j.value("internal", false);
  n.created = j.value("created", int64_t{0});
  n.labels = j.value("labels", std::map<std::string, std::string>{});
  return n;
}

NetworkStore::NetworkStore(const Config& cfg) : cfg_(cfg), dir_(cfg.graphroot + "/networks") {}

std::vector<UserNetwork> NetworkStore::list() const {
  std::vector<UserNetwork> out;
  if (!is_dir(dir_)) return out;
  for (const auto& f : list_dir(dir_)) {
    if (f.size() < 6 || f.substr(f.size() - 5) != ".json") continue;
    auto text = read_file_if_exists(dir_ + "/" + f);
    if (!text) continue;
    Json j = Json::parse(*text, nullptr, false);
    if (j.is_object()) out.push_back(user_network_from_json(j));
  }
  std::sort(out.begin(), out.end(), [](const UserNetwork& a, const UserNetwork& b) { return a.name < b.name; });
  return out;
}

UserNetwork NetworkStore::require(const std::string& name) const {
  auto n = find(name);
  if (!n)
    throw Error(fmt::format("network {} not found: create it with `den network create {}`, or use none, host, "
                            "slirp4netns or pasta",
                            name, name),
                Errc::NotFound);
  return *n;
}

std::optional<UserNetwork> NetworkStore::find(const std::string& key) const {
  std::vector<UserNetwork> all = list();
  for (const auto& n : all)
    if (n.name == key || n.id == key) return n;
  std::optional<UserNetwork> hit;
  for (const auto& n : all)
    if (key.size() >= 3 && n.id.rfind(key, 0) == 0) {
      if (hit) throw Error(fmt::format("network ID prefix {} is ambiguous", key), Errc::Invalid);
      hit = n;
    }
  return hit;
}

UserNetwork NetworkStore::get(const std::string& key) const {
  auto n = find(key);
  if (!n) throw Error(fmt::format("network {} not found", key), Errc::NotFound);
  return *n;
}

UserNetwork NetworkStore::create(UserNetwork n) {
  if (!valid_name(n.name))
    throw Error(fmt::format("invalid network name \"{}\": use letters, digits, '-', '_' and '.', starting with a "
                            "letter or digit",
                            n.name),
                Errc::Invalid);
  for (const char* reserved : {"none", "host", "bridge", "default", "slirp4netns", "pasta", "private"})
    if (n.name == reserved)
      throw Error(fmt::format("network name \"{}\" is reserved for --network {}", n.name, n.name), Errc::Invalid);
  if (n.driver != "bridge")
    throw Error(fmt::format("unsupported network driver \"{}\": den creates bridge networks", n.driver),
                Errc::Unsupported);
  mkdirs(dir_, 0700);
  FileLock lock = FileLock::acquire(dir_ + "/lock");
  std::vector<UserNetwork> all = list();
  for (const auto& o : all)
    if (o.name == n.name) throw Error(fmt::format("network {} already exists", n.name), Errc::Exists);
  auto overlapping = [&](const Cidr& c) -> const UserNetwork* {
    for (const auto& o : all) {
      Cidr oc = parse_cidr(o.subnet);
      if (c.first() <= oc.last() && oc.first() <= c.last()) return &o;
    }
    return nullptr;
  };
  Cidr c;
  if (n.subnet.empty()) {
    bool found = false;
    for (uint32_t i = 0; i < 256 && !found; i++) {
      c = {(10u << 24) | (89u << 16) | (i << 8), 24};
      found = overlapping(c) == nullptr;
    }
    if (!found) throw Error("no free subnet in 10.89.0.0/16: give one with --subnet");
  } else {
    c = parse_cidr(n.subnet);
    if (c.addr != c.first())
      throw Error(fmt::format("invalid --subnet \"{}\": host bits are set (did you mean {}/{}?)", n.subnet,
                              format_ip4(c.first()), c.bits),
                  Errc::Invalid);
    if (const UserNetwork* o = overlapping(c))
      throw Error(fmt::format("subnet {} overlaps with network {} ({}): choose another --subnet", n.subnet, o->name,
                              o->subnet),
                  Errc::InUse);
  }
  n.subnet = fmt::format("{}/{}", format_ip4(c.first()), c.bits);
  if (n.gateway.empty()) {
    n.gateway = format_ip4(c.first() + 1);
  } else {
    auto g = parse_ip4(n.gateway);
    if (!g || *g <= c.first() || *g >= c.last())
      throw Error(fmt::format("invalid --gateway \"{}\": not a host address in {}", n.gateway, n.subnet),
                  Errc::Invalid);
  }
  n.id = random_hex(64);
  n.created = now_nanos();
  write_file_atomic(dir_ + "/" + n.name + ".json", to_json(n).dump(2) + "\n", 0600);
  emit_event(cfg_, {0, "network", "create", n.id, {{"name", n.name}, {"type", n.driver}}});
  return n;
}

void NetworkStore::remove(const std::string& name) {
  FileLock lock = FileLock::acquire(dir_ + "/lock");
  std::optional<UserNetwork> n = find(name);
  if (::unlink((dir_ + "/" + name + ".json").c_str()) != 0) {
    if (errno == ENOENT) return;
    throw sys_error("remove network " + name);
  }
  // docker calls it "destroy".
  if (n) emit_event(cfg_, {0, "network", "destroy", n->id, {{"name", n->name}, {"type", n->driver}}});
}

}  // namespace den
