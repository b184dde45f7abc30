// docker's `ps --filter KEY=VALUE` over den's containers, with docker's
// rules: several values of one key match if any matches (label: if all do),
// different keys must all match. Keys: status, name, id, label, exited,
// ancestor, before, since, network, volume, publish, expose, health.
//
//   publish=80, publish=8080/udp, publish=8000-8010/tcp: a host port the
//     running container publishes (protocol tcp unless given);
//   expose=...: the same forms, a container port it exposes or publishes;
//   volume=NAME|PATH: a volume name, a bind source or a mount destination;
//   health=starting|healthy|unhealthy|none (none: no health check running).
// As in docker, ports match only while the container runs (ps shows them
// only then).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "den/container.h"

namespace den {

class PsFilter {
 public:
  // Parses the --filter values; throws Errc::Invalid naming the bad one
  // ("invalid filter \"foo\": use status, name, ...").
  static PsFilter parse(const std::vector<std::string>& filters);

  bool empty() const { return values_.empty(); }
  // status= or exited= given: stopped containers are listed without -a.
  bool wants_stopped() const;

  // Resolves ancestor= images and before=/since= containers once, before
  // matching: image_id gives the image ID for a reference (nullopt if
  // none), created gives a container's creation time (throws if unknown).
  // network_name gives the name of a user network for a name, ID or ID
  // prefix (nullopt if none): network= matches either, as in docker.
  void resolve(const std::function<std::optional<std::string>(const std::string&)>& image_id,
               const std::function<int64_t(const std::string&)>& created,
               const std::function<std::optional<std::string>(const std::string&)>& network_name = {});

  bool matches(const ContainerConfig& c, const ContainerState& st) const;

 private:
  std::vector<std::pair<std::string, std::string>> values_;  // in order given
  std::vector<std::string> ancestor_ids_;                    // resolved ancestor= images
  std::vector<std::pair<std::string, int64_t>> pivots_;      // before/since -> created
  std::vector<std::string> network_names_;                   // resolved network= values
  std::set<std::string> publish_, expose_;                   // "80/tcp"
  // name= and id= values compiled once (nullopt: not a regex, a substring).
  std::map<std::string, std::optional<std::regex>> patterns_;

  bool pattern_matches(const std::string& pattern, const std::string& s) const;

  std::vector<std::string> all(const std::string& key) const;
};

// "80", "80/udp", "8000-8010/tcp" -> {"80/tcp"}, {"80/udp"}, {"8000/tcp", ...,
// "8010/tcp"}. Throws Errc::Invalid for ':' (docker: no host IP in these
// filters), bad numbers and protocols other than tcp, udp, sctp.
std::vector<std::string> parse_port_filter(const std::string& key, const std::string& value);

// The status= name of a container: created, running, paused, restarting,
// removing, exited, stopping.
std::string ps_status_name(const ContainerState& st);
// The health= name: starting, healthy, unhealthy, or none.
std::string ps_health_name(const ContainerState& st);

}  // namespace den
