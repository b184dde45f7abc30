// Unit tests for den::PsFilter: docker's ps --filter keys and rules.
#include <catch2/catch.hpp>

#include "den/error.h"
#include "den/ps_filter.h"

using namespace den;

namespace {

ContainerConfig web() {
  ContainerConfig c;
  c.id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  c.name = "web";
  c.image_id = "feedfeed";
  c.image_name = "bb";
  c.created = 100;
  c.labels = {{"app", "web"}, {"tier", "front"}};
  c.exposed_ports = {"9000/tcp"};
  c.ports = {{"", 8080, 80, "tcp", 1}, {"127.0.0.1", 8000, 7000, "tcp", 11}, {"", 5353, 53, "udp", 1}};
  c.mounts = {{"volume", "data", "/var/lib/data", {}, false},
              {"bind", "/srv/www", "/www", {"ro"}, false},
              {"tmpfs", "", "/run", {}, false}};
  return c;
}

ContainerState running(std::string health = "") {
  ContainerState st;
  st.status = ContainerStatus::Running;
  st.started_at = 1;
  st.health = std::move(health);
  return st;
}

ContainerState exited(int code) {
  ContainerState st;
  st.status = ContainerStatus::Exited;
  st.started_at = 1;
  st.finished_at = 2;
  st.exit_code = code;
  return st;
}

bool match(const std::vector<std::string>& filters, const ContainerConfig& c, const ContainerState& st) {
  PsFilter f = PsFilter::parse(filters);
  f.resolve([](const std::string& ref) -> std::optional<std::string> {
              return ref == "bb:latest" ? std::optional<std::string>("feedfeed") : std::nullopt;
            },
            [](const std::string& ref) -> int64_t { return ref == "old" ? 50 : 150; });
  return f.matches(c, st);
}

std::string error_of(const std::vector<std::string>& filters) {
  try {
    PsFilter::parse(filters);
  } catch (const Error& e) {
    CHECK(e.code() == Errc::Invalid);
    return e.message();
  }
  return "";
}

}  // namespace

TEST_CASE("ps filter: publish matches host ports, protocol tcp by default", "[ps_filter]") {
  CHECK(match({"publish=8080"}, web(), running()));
  CHECK(match({"publish=8080/tcp"}, web(), running()));
  CHECK_FALSE(match({"publish=8080/udp"}, web(), running()));
  CHECK_FALSE(match({"publish=80"}, web(), running()));  // the container port is not published
  CHECK(match({"publish=5353/udp"}, web(), running()));
  CHECK_FALSE(match({"publish=5353"}, web(), running()));
  // A published range: each of its ports, and a filter range overlapping it.
  CHECK(match({"publish=8010"}, web(), running()));
  CHECK_FALSE(match({"publish=8011"}, web(), running()));
  CHECK(match({"publish=8009-8020/tcp"}, web(), running()));
  CHECK_FALSE(match({"publish=8011-8020"}, web(), running()));
  // Several values: any.
  CHECK(match({"publish=1", "publish=8080"}, web(), running()));
  // Only while the container runs: docker shows no ports for stopped ones.
  CHECK_FALSE(match({"publish=8080"}, web(), exited(0)));
  ContainerState paused = running();
  paused.status = ContainerStatus::Paused;
  CHECK(match({"publish=8080"}, web(), paused));
}

TEST_CASE("ps filter: expose matches exposed and published container ports", "[ps_filter]") {
  CHECK(match({"expose=9000"}, web(), running()));
  CHECK(match({"expose=80"}, web(), running()));
  CHECK(match({"expose=7005/tcp"}, web(), running()));
  CHECK(match({"expose=53/udp"}, web(), running()));
  CHECK_FALSE(match({"expose=53"}, web(), running()));
  CHECK_FALSE(match({"expose=8080"}, web(), running()));  // a host port
  // publish= and expose= together: either kind of port (docker's rule).
  CHECK(match({"publish=1", "expose=80"}, web(), running()));
  CHECK_FALSE(match({"publish=1", "expose=1"}, web(), running()));
  ContainerConfig bare = web();
  bare.ports.clear();
  bare.exposed_ports.clear();
  CHECK_FALSE(match({"expose=80"}, bare, running()));
  CHECK(match({}, bare, running()));
}

TEST_CASE("ps filter: port values are checked", "[ps_filter]") {
  CHECK(error_of({"publish=0.0.0.0:80"}).find("without a host IP") != std::string::npos);
  CHECK(error_of({"publish=80:80"}).find("invalid filter \"publish=80:80\"") != std::string::npos);
  CHECK(error_of({"publish=http"}).find("use PORT, PORT/PROTOCOL") != std::string::npos);
  CHECK(error_of({"expose=90-80"}).find("invalid filter \"expose=90-80\"") != std::string::npos);
  CHECK(error_of({"expose=80/icmp"}) != "");
  CHECK(error_of({"expose=70000"}) != "");
  CHECK(error_of({"expose=80/sctp"}) == "");
  CHECK(parse_port_filter("publish", "8000-8002/UDP") ==
        std::vector<std::string>{"8000/udp", "8001/udp", "8002/udp"});
  CHECK(parse_port_filter("publish", "80") == std::vector<std::string>{"80/tcp"});
}

TEST_CASE("ps filter: volume matches names, bind sources and destinations", "[ps_filter]") {
  CHECK(match({"volume=data"}, web(), running()));
  CHECK(match({"volume=/var/lib/data"}, web(), running()));
  CHECK(match({"volume=/srv/www"}, web(), running()));
  CHECK(match({"volume=/www"}, web(), exited(0)));
  CHECK_FALSE(match({"volume=/run"}, web(), running()));  // --tmpfs is no mount in docker's list
  CHECK_FALSE(match({"volume=dat"}, web(), running()));   // exact, not a substring
  CHECK(match({"volume=nope", "volume=data"}, web(), running()));
}

TEST_CASE("ps filter: health", "[ps_filter]") {
  CHECK(match({"health=none"}, web(), running()));
  CHECK(match({"health=starting"}, web(), running("starting")));
  CHECK(match({"health=healthy"}, web(), running("healthy")));
  CHECK_FALSE(match({"health=healthy"}, web(), running("unhealthy")));
  CHECK(match({"health=healthy", "health=unhealthy"}, web(), running("unhealthy")));
  CHECK_FALSE(match({"health=none"}, web(), running("healthy")));
  CHECK(error_of({"health=sick"}) == "invalid filter \"health=sick\": use starting, healthy, unhealthy or none");
}

TEST_CASE("ps filter: values of one key are alternatives, labels must all match", "[ps_filter]") {
  CHECK(match({"status=exited", "status=running"}, web(), running()));
  CHECK_FALSE(match({"status=exited", "status=paused"}, web(), running()));
  CHECK(match({"name=nope", "name=^we"}, web(), running()));
  CHECK(match({"name=^/web$"}, web(), running()));
  CHECK(match({"name=[unclosed"}, web(), running()) == false);
  CHECK(match({"id=0123456789ab"}, web(), running()));
  CHECK(match({"label=app=web", "label=tier"}, web(), running()));
  CHECK_FALSE(match({"label=app=web", "label=tier=back"}, web(), running()));
  CHECK(match({"exited=3", "exited=0"}, web(), exited(0)));
  CHECK_FALSE(match({"exited=0"}, web(), running()));
  CHECK(match({"ancestor=bb:latest"}, web(), running()));
  CHECK(match({"ancestor=bb"}, web(), running()));  // as given at run
  CHECK_FALSE(match({"ancestor=other"}, web(), running()));
  CHECK(match({"since=old"}, web(), running()));
  CHECK_FALSE(match({"before=old"}, web(), running()));
  CHECK(match({"network=slirp4netns"}, web(), running()));
  // Different keys: all must match.
  CHECK_FALSE(match({"status=running", "publish=1"}, web(), running()));
}

TEST_CASE("ps filter: bad keys and values", "[ps_filter]") {
  CHECK(error_of({"nope=1"}).rfind("invalid filter \"nope\": use status, name, ", 0) == 0);
  CHECK(error_of({"status"}) == "bad format of filter \"status\" (expected name=value)");
  CHECK(error_of({"status=up"}).rfind("invalid filter \"status=up\"", 0) == 0);
  CHECK(error_of({"exited=x"}) == "invalid filter \"exited=x\": give an exit code (a number)");
  CHECK(PsFilter::parse({"exited=1"}).wants_stopped());
  CHECK_FALSE(PsFilter::parse({"publish=1"}).wants_stopped());
}

// ---- FilterArgs (volume ls, network ls) ------------------------------------------

#include "den/filter_args.h"

TEST_CASE("filter args: docker's Match, exact values, labels, booleans", "[ps_filter][filter_args]") {
  FilterArgs f = FilterArgs::parse({"name=^we", "name=db", "driver=local", "label=a", "label=b=2", "dangling=1"},
                                   {"name", "driver", "label", "dangling"});
  CHECK(f.match("name", "web"));
  CHECK(f.match("name", "mydb1"));
  CHECK_FALSE(f.match("name", "cache"));
  CHECK(f.match("id", "anything"));  // no values: everything matches
  CHECK(f.exact("driver", "local"));
  CHECK_FALSE(f.exact("driver", "loc"));
  CHECK(f.labels_match({{"a", "x"}, {"b", "2"}}));
  CHECK_FALSE(f.labels_match({{"a", "x"}, {"b", "3"}}));
  CHECK_FALSE(f.labels_match({{"b", "2"}}));
  CHECK(f.boolean("dangling") == std::optional<bool>(true));
  CHECK_FALSE(f.boolean("nope").has_value());
  // A value that is no regular expression matches as a substring.
  CHECK(FilterArgs::parse({"name=a[b"}, {"name"}).match("name", "xa[by"));

  auto error_of = [](const std::vector<std::string>& l, const std::vector<std::string>& known) -> std::string {
    try {
      FilterArgs::parse(l, known).boolean("dangling");
    } catch (const Error& e) {
      return e.message();
    }
    return "";
  };
  CHECK(error_of({"colour=red"}, {"dangling", "driver", "label", "name"}) ==
        "invalid filter \"colour\": use dangling, driver, label or name");
  CHECK(error_of({"name"}, {"name"}) == "bad format of filter \"name\" (expected name=value)");
  CHECK(error_of({"dangling=maybe"}, {"dangling"}) ==
        "invalid filter \"dangling=maybe\": use dangling=true or dangling=false");
}
