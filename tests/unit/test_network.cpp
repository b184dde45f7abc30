// Port specs, --network values and the container's etc files (network.h).
#include <catch2/catch.hpp>

#include "den/error.h"
#include "den/network.h"

using namespace den;

TEST_CASE("parse_port_spec: docker's -p forms") {
  PortMapping m = parse_port_spec("8080:80");
  CHECK(m.host_ip == "");
  CHECK(m.host_port == 8080);
  CHECK(m.container_port == 80);
  CHECK(m.protocol == "tcp");
  CHECK(m.range == 1);

  m = parse_port_spec("127.0.0.1:8080:80/udp");
  CHECK(m.host_ip == "127.0.0.1");
  CHECK(m.protocol == "udp");

  m = parse_port_spec("127.0.0.1::80");
  CHECK(m.host_ip == "127.0.0.1");
  CHECK(m.host_port == 0);

  m = parse_port_spec("80");
  CHECK(m.host_port == 0);
  CHECK(m.container_port == 80);

  m = parse_port_spec("8000-8010:9000-9010");
  CHECK(m.host_port == 8000);
  CHECK(m.container_port == 9000);
  CHECK(m.range == 11);

  m = parse_port_spec("[::1]:8080:80");
  CHECK(m.host_ip == "::1");
  CHECK(m.host_port == 8080);

  m = parse_port_spec("0.0.0.0:8080:80/TCP");
  CHECK(m.host_ip == "");
  CHECK(m.protocol == "tcp");
}

TEST_CASE("parse_port_spec: bad specs name themselves") {
  for (const char* bad : {"99999:80", "a:b", "80:0", "1-3:1-2", "8080:80/sctp", "1.2.3:8080:80", "", "/tcp",
                          "1:2:3:4", "10-5:10-5", "8080:", "[::1:8080:80"}) {
    INFO(bad);
    try {
      parse_port_spec(bad);
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.code() == Errc::Invalid);
      CHECK(std::string(e.what()).find("invalid port") != std::string::npos);
    }
  }
}

TEST_CASE("expand_ports and docker's renderings") {
  std::vector<PortMapping> ports = {parse_port_spec("127.0.0.1:8000-8001:80-81"), parse_port_spec("9090:90/udp")};
  auto e = expand_ports(ports);
  REQUIRE(e.size() == 3);
  CHECK(e[1].host_port == 8001);
  CHECK(e[1].container_port == 81);
  CHECK(format_port_list(ports) == "127.0.0.1:8000-8001->80-81/tcp, 0.0.0.0:9090->90/udp");
  Json j = inspect_ports(ports, {"443/tcp"});
  CHECK(j["81/tcp"][0]["HostPort"] == "8001");
  CHECK(j["90/udp"][0]["HostIp"] == "0.0.0.0");
  CHECK(j["443/tcp"].is_null());
  CHECK(inspect_port_bindings(ports)["90/udp"][0]["HostIp"] == "");
}

TEST_CASE("exposed_port_mapping") {
  PortMapping m = exposed_port_mapping("53/udp");
  CHECK(m.container_port == 53);
  CHECK(m.protocol == "udp");
  CHECK(m.host_port == 0);
}

TEST_CASE("parse_network_mode") {
  CHECK(parse_network_mode("", "slirp4netns").kind == "slirp4netns");
  CHECK(parse_network_mode("bridge", "pasta").kind == "pasta");
  NetworkMode m = parse_network_mode("slirp4netns:allow_host_loopback=true,mtu=1500", "pasta");
  CHECK(m.kind == "slirp4netns");
  CHECK(m.options.size() == 2);
  m = parse_network_mode("pasta:-a,10.0.2.0", "slirp4netns");
  CHECK(m.kind == "pasta");
  CHECK(m.options == std::vector<std::string>{"-a", "10.0.2.0"});
  CHECK(parse_network_mode("container:web", "x").arg == "web");
  CHECK(parse_network_mode("ns:/run/netns/x", "x").arg == "/run/netns/x");
  CHECK(parse_network_mode("appnet", "x").kind == "user");
  CHECK_THROWS_AS(parse_network_mode("slirp4netns:bogus=1", "x"), Error);
  CHECK_THROWS_AS(parse_network_mode("none:x", "x"), Error);
  CHECK_THROWS_AS(parse_network_mode("container:", "x"), Error);
  CHECK_THROWS_AS(parse_network_mode("a/b", "x"), Error);
  CHECK(uses_network_helper(parse_network_mode("pasta", "x")));
  CHECK(!uses_network_helper(parse_network_mode("none", "x")));
}

TEST_CASE("hosts_file and resolv_conf") {
  ContainerConfig c;
  c.id = "0123456789abcdef";
  c.name = "web";
  c.network = "slirp4netns:allow_host_loopback=true";
  c.add_hosts = {"db:10.1.2.3", "gw:host-gateway"};
  std::string h = hosts_file(c, "box");
  CHECK(h.find("10.1.2.3\tdb\n") != std::string::npos);
  CHECK(h.find("10.0.2.2\tgw\n") != std::string::npos);
  CHECK(h.find("10.0.2.100\tbox web\n") != std::string::npos);
  CHECK(h.find("10.0.2.2\thost.den.internal host.containers.internal\n") != std::string::npos);
  c.dns = {"1.1.1.1"};
  c.dns_search = {"example.com"};
  c.dns_options = {"ndots:2"};
  CHECK(resolv_conf(c) == "search example.com\nnameserver 1.1.1.1\noptions ndots:2\n");
  c.dns.clear();
  CHECK(resolv_conf(c).find("nameserver 10.0.2.3\n") != std::string::npos);
  c.network = "none";
  CHECK(hosts_file(c, "box").find("127.0.1.1\tbox web\n") != std::string::npos);
}
