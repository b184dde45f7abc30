// docker's ps filters (see den/ps_filter.h).
#include "den/ps_filter.h"

#include <algorithm>
#include <charconv>
#include <regex>

#include <fmt/format.h>

#include "den/error.h"
#include "den/network.h"
#include "den/strings.h"

namespace den {

namespace {

const std::vector<std::string>& known_keys() {
  static const std::vector<std::string> keys = {"status", "name",   "label",   "ancestor", "id",
                                                "exited", "before", "since",   "network",  "volume",
                                                "publish", "expose", "health"};
  return keys;
}

bool one_of(const std::string& v, std::initializer_list<const char*> allowed) {
  return std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return v == a; });
}

std::optional<unsigned> parse_port(const std::string& s) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v > 65535) return std::nullopt;
  return v;
}

}  // namespace

std::string ps_status_name(const ContainerState& st) {
  if (st.status == ContainerStatus::Exited) {
    if (st.finished_at == 0) return "created";
    if (st.restarting) return "restarting";
  }
  return std::string(status_name(st.status));
}

std::string ps_health_name(const ContainerState& st) { return st.health.empty() ? "none" : st.health; }

std::vector<std::string> parse_port_filter(const std::string& key, const std::string& value) {
  if (value.find(':') != std::string::npos)
    throw Error(fmt::format("invalid filter \"{}={}\": give a port, range or PORT/PROTOCOL, without a host IP", key,
                            value),
                Errc::Invalid);
  bool has_proto = false;
  auto [ports, proto] = split_once(value, '/', &has_proto);
  if (!has_proto) proto = "tcp";
  proto = to_lower(proto);
  bool is_range = false;
  auto [first, last] = split_once(ports, '-', &is_range);
  auto lo = parse_port(first);
  auto hi = is_range ? parse_port(last) : lo;
  if (!lo || !hi || *hi < *lo || !one_of(proto, {"tcp", "udp", "sctp"}))
    throw Error(fmt::format("invalid filter \"{}={}\": use PORT, PORT/PROTOCOL or START-END[/PROTOCOL] "
                            "(e.g. {}=80, {}=8080/udp, {}=8000-8010/tcp)",
                            key, value, key, key, key),
                Errc::Invalid);
  std::vector<std::string> out;
  for (unsigned p = *lo; p <= *hi; p++) out.push_back(fmt::format("{}/{}", p, proto));
  return out;
}

PsFilter PsFilter::parse(const std::vector<std::string>& filters) {
  PsFilter f;
  for (const auto& s : filters) {
    bool found = false;
    auto kv = split_once(s, '=', &found);
    if (!found) throw Error(fmt::format("bad format of filter \"{}\" (expected name=value)", s), Errc::Invalid);
    const auto& [k, v] = kv;
    const auto& keys = known_keys();
    if (std::find(keys.begin(), keys.end(), k) == keys.end())
      throw Error(fmt::format("invalid filter \"{}\": use {}", k, join(keys, ", ")), Errc::Invalid);
    if (k == "status" &&
        !one_of(v, {"created", "restarting", "running", "removing", "paused", "exited", "dead", "stopping"}))
      throw Error(fmt::format("invalid filter \"status={}\": use created, restarting, running, removing, paused, "
                              "exited or dead",
                              v),
                  Errc::Invalid);
    if (k == "health" && !one_of(v, {"starting", "healthy", "unhealthy", "none"}))
      throw Error(fmt::format("invalid filter \"health={}\": use starting, healthy, unhealthy or none", v),
                  Errc::Invalid);
    if (k == "exited") {
      int code = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), code);
      if (v.empty() || ec != std::errc() || p != v.data() + v.size())
        throw Error(fmt::format("invalid filter \"exited={}\": give an exit code (a number)", v), Errc::Invalid);
    }
    if (k == "publish" || k == "expose") {
      auto& set = k == "publish" ? f.publish_ : f.expose_;
      for (auto& p : parse_port_filter(k, v)) set.insert(std::move(p));
    }
    if ((k == "name" || k == "id") && !f.patterns_.count(v)) {
      try {
        f.patterns_[v] = std::regex(v);
      } catch (const std::regex_error&) {
        f.patterns_[v] = std::nullopt;
      }
    }
    f.values_.push_back(kv);
  }
  return f;
}

// docker's filters.Match: the value as a regular expression searched in s,
// or as a plain substring when it is not a valid one.
bool PsFilter::pattern_matches(const std::string& pattern, const std::string& s) const {
  if (s == pattern) return true;
  auto it = patterns_.find(pattern);
  if (it == patterns_.end() || !it->second) return s.find(pattern) != std::string::npos;
  return std::regex_search(s, *it->second);
}

bool PsFilter::wants_stopped() const {
  return std::any_of(values_.begin(), values_.end(),
                     [](const auto& kv) { return kv.first == "status" || kv.first == "exited"; });
}

std::vector<std::string> PsFilter::all(const std::string& key) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : values_)
    if (k == key) out.push_back(v);
  return out;
}

void PsFilter::resolve(const std::function<std::optional<std::string>(const std::string&)>& image_id,
                       const std::function<int64_t(const std::string&)>& created,
                       const std::function<std::optional<std::string>(const std::string&)>& network_name) {
  ancestor_ids_.clear();
  pivots_.clear();
  network_names_.clear();
  for (const auto& [k, v] : values_) {
    if (k == "ancestor") {
      if (auto id = image_id(v)) ancestor_ids_.push_back(*id);
    } else if (k == "before" || k == "since") {
      pivots_.emplace_back(k, created(v));
    } else if (k == "network" && network_name) {
      if (auto n = network_name(v)) network_names_.push_back(*n);
    }
  }
}

bool PsFilter::matches(const ContainerConfig& c, const ContainerState& st) const {
  if (values_.empty()) return true;
  auto any = [&](const std::string& key, const std::function<bool(const std::string&)>& pred) {
    std::vector<std::string> vals = all(key);
    return vals.empty() || std::any_of(vals.begin(), vals.end(), pred);
  };
  const std::string status = ps_status_name(st);
  if (!any("status", [&](const std::string& v) { return v == status; })) return false;
  if (!any("name", [&](const std::string& v) {
        return pattern_matches(v, c.name) || pattern_matches(v, "/" + c.name);
      }))
    return false;
  if (!any("id", [&](const std::string& v) { return pattern_matches(v, c.id); })) return false;
  // label: every one given must match.
  for (const auto& v : all("label")) {
    bool has_value = false;
    auto [lk, lv] = split_once(v, '=', &has_value);
    auto it = c.labels.find(lk);
    if (it == c.labels.end() || (has_value && it->second != lv)) return false;
  }
  if (!any("exited", [&](const std::string& v) {
        return status == "exited" && std::to_string(st.exit_code) == v;
      }))
    return false;
  if (!all("ancestor").empty()) {
    bool ok = std::find(ancestor_ids_.begin(), ancestor_ids_.end(), c.image_id) != ancestor_ids_.end() &&
              !c.image_id.empty();
    if (!ok && !any("ancestor", [&](const std::string& v) { return v == c.image_name; })) return false;
  }
  for (const auto& [k, pivot] : pivots_)
    if (k == "before" ? c.created >= pivot : c.created <= pivot) return false;
  auto on_network = [&](const std::string& n) {
    return c.network == n || std::find(c.networks.begin(), c.networks.end(), n) != c.networks.end();
  };
  if (!any("network", on_network) &&
      std::none_of(network_names_.begin(), network_names_.end(), on_network))
    return false;
  if (!any("volume", [&](const std::string& v) {
        for (const auto& m : c.mounts) {
          if (m.type == "tmpfs") continue;  // not in docker's Mounts
          if (m.destination == v || m.source == v) return true;
        }
        return false;
      }))
    return false;
  const std::string health = ps_health_name(st);
  if (!any("health", [&](const std::string& v) { return v == health; })) return false;
  if (!publish_.empty() || !expose_.empty()) {
    // docker matches publish= and expose= together: any port of either kind.
    bool running = st.status == ContainerStatus::Running || st.status == ContainerStatus::Paused;
    if (!running) return false;
    bool hit = false;
    for (const auto& m : expand_ports(c.ports)) {
      if (publish_.count(fmt::format("{}/{}", m.host_port, m.protocol)) ||
          expose_.count(fmt::format("{}/{}", m.container_port, m.protocol)))
        hit = true;
    }
    for (const auto& e : c.exposed_ports)
      if (expose_.count(e.find('/') == std::string::npos ? e + "/tcp" : e)) hit = true;
    if (!hit) return false;
  }
  return true;
}

}  // namespace den
