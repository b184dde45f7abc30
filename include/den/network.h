// Rootless networking: published ports (-p/-P), the network helpers that
// connect a container's network namespace to the host (slirp4netns, pasta,
// behind one interface), the container's /etc/hosts and /etc/resolv.conf,
// and --network values.
//
// Published ports are forwarded by the helper itself, not by a proxy inside
// the container's namespace: slirp4netns through its API socket
// (add_hostfwd), pasta through -t/-u. Both hand the connection to the
// container with the client's address as source (a client on the host's
// loopback shows up as the host's address, 10.0.2.2 with slirp4netns), where
// a proxy (podman's rootlessport) shows its own.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "den/config.h"
#include "den/container.h"
#include "den/json.h"

namespace den {

// ---- port specs ------------------------------------------------------------

// Parses one -p value: [[IP:][HOSTPORT[-END]]:]CONTAINERPORT[-END][/PROTO].
// "8080:80", "127.0.0.1:8080:80", "127.0.0.1::80", "8080:80/udp",
// "8000-8010:8000-8010", "80" (random host port), "[::1]:8080:80".
// Throws Errc::Invalid naming the spec and the accepted form.
PortMapping parse_port_spec(const std::string& spec);
// "80/tcp" (an image's ExposedPorts key, or --expose) to a mapping with a
// random host port, for -P.
PortMapping exposed_port_mapping(const std::string& exposed);
// One mapping per port (ranges expanded).
std::vector<PortMapping> expand_ports(const std::vector<PortMapping>& ports);
// Rootless: refuses host ports below net.ipv4.ip_unprivileged_port_start
// (naming the sysctl); refuses host ports that are in use (or given twice);
// replaces port 0 by a free port. Done at create and again at start.
void reserve_host_ports(std::vector<PortMapping>& ports, bool rootless);
// Only the checks of reserve_host_ports (ports must be resolved).
void check_host_ports(const std::vector<PortMapping>& ports, bool rootless);
int unprivileged_port_start();

// docker's renderings.
std::string format_port_list(const std::vector<PortMapping>& ports);  // ps: "0.0.0.0:8080->80/tcp, ..."
Json inspect_ports(const std::vector<PortMapping>& ports, const std::vector<std::string>& exposed);
Json inspect_port_bindings(const std::vector<PortMapping>& ports);

// ---- --network values --------------------------------------------------------

struct NetworkMode {
  std::string kind;                  // none | host | slirp4netns | pasta | container | ns | user
  std::string arg;                   // container name, ns path or user network name
  std::vector<std::string> options;  // after "slirp4netns:" / "pasta:" (comma-separated)
};
// Parses a --network value; "default"/"bridge"/"private" and "" mean the
// configured default backend (den.conf default_rootless_network_cmd).
NetworkMode parse_network_mode(const std::string& value, const std::string& default_backend);
// True when the container gets its own network namespace with a helper.
bool uses_network_helper(const NetworkMode& m);
// --add-host NAME:IP (also NAME=IP, [IPv6], host-gateway) as "NAME:IP";
// Errc::Invalid naming the value.
std::string parse_add_host(const std::string& spec);
// --dns IP: the address; Errc::Invalid when it is not one.
std::string parse_dns_server(const std::string& ip);

// ---- /etc files --------------------------------------------------------------

// The addresses the container sees for itself, its gateway, the host and its
// DNS server (empty when unknown or not applicable).
struct NetAddresses {
  std::string ip, gateway, prefix_len, host, dns;
};
NetAddresses container_addresses(const ContainerConfig& c);
// With `user`, the addresses on a user network (from its endpoint) instead,
// and `extra` lines ("IP\tNAMES", for --link).
std::string hosts_file(const ContainerConfig& c, const std::string& hostname, const NetAddresses* user = nullptr,
                       const std::vector<std::string>& extra = {});
std::string resolv_conf(const ContainerConfig& c, const NetAddresses* user = nullptr);

// ---- network helpers -------------------------------------------------------

// A process that connects a network namespace to the host and forwards the
// published ports into it. Launched by the monitor into a namespace it made
// before the clone, waited for before the container execs, stopped when the
// container ends and reaped after the exit is reported.
class NetworkHelper {
 public:
  virtual ~NetworkHelper() = default;
  // Starts the helper for the network namespace netns_fd (inherited by the
  // helper) without waiting for it, so that it comes up while the container
  // is set up. Throws den::Error (port checks, fork) and leaves no process.
  virtual void launch(int netns_fd) = 0;
  // Waits until the namespace is configured and the ports are published.
  // Throws den::Error and stops the helper on failure.
  virtual void wait_ready() = 0;
  // Tells the helper to stop; does not wait (its network device's teardown
  // takes the kernel a while): reap() does. Idempotent.
  virtual void stop() = 0;
  virtual void reap() = 0;
  virtual pid_t pid() const = 0;
};

// The helper for a container (nullptr when it needs none). run_dir holds the
// helper's sockets and pid files.
std::unique_ptr<NetworkHelper> make_network_helper(const Config& cfg, const ContainerConfig& c,
                                                   const std::string& run_dir);

// ---- host checks -------------------------------------------------------------

// "" when unprivileged ICMP sockets are allowed for our gid, else why not.
std::string ping_group_problem();

}  // namespace den

// ---- user networks -------------------------------------------------------------
//
// `den network create` records a network in GRAPHROOT/networks/<name>.json.
// Containers on user networks share one rootless network namespace, held
// by a small process (`den-netns`, started on demand, gone when the last
// such container stops). In it: one bridge per network with the gateway
// address, a veth pair per container (eth0.. in the container), one
// slirp4netns for outbound traffic of all networks, and a DNS responder on
// the gateway addresses that answers the names and aliases of the
// containers on the same network and forwards other names.
namespace den {

// IPv4 addresses as host-order numbers: "10.89.0.1" <-> 0x0a590001.
std::optional<uint32_t> parse_ip4(const std::string& s);  // nullopt if not an address
std::string format_ip4(uint32_t v);

struct UserNetwork {
  std::string name;
  std::string id;  // 64 hex
  std::string driver = "bridge";
  std::string subnet;   // "10.89.0.0/24"
  std::string gateway;  // "10.89.0.1"
  bool internal = false;
  int64_t created = 0;
  std::map<std::string, std::string> labels;
  std::string bridge() const { return "den" + id.substr(0, 12); }
};

Json to_json(const UserNetwork& n);
UserNetwork user_network_from_json(const Json& j);

class NetworkStore {
 public:
  explicit NetworkStore(const Config& cfg);
  // Validates (name, subnet, gateway, no overlap), allocates a free
  // 10.89.N.0/24 when no subnet is given. Errc::Exists / Errc::Invalid.
  UserNetwork create(UserNetwork n);
  std::vector<UserNetwork> list() const;
  // By name, full ID or unique ID prefix; Errc::NotFound.
  UserNetwork get(const std::string& name_or_id) const;
  std::optional<UserNetwork> find(const std::string& name_or_id) const;
  // find() for --network NAME: Errc::NotFound with the fix (network create,
  // or a backend).
  UserNetwork require(const std::string& name_or_id) const;
  void remove(const std::string& name);

 private:
  const Config& cfg_;
  std::string dir_;
};

// A container's address on a user network (the runtime record, under
// RUNROOT/netns/ep/<network id>/<container id>).
struct NetEndpoint {
  std::string network;  // name
  std::string container_id;
  std::string name;
  std::string hostname;
  std::vector<std::string> aliases;
  std::string ip;
  std::string mac;
  std::string ifname;  // in the container: eth0, eth1, ...
};

// Endpoints of a network (all containers attached now).
std::vector<NetEndpoint> network_endpoints(const Config& cfg, const UserNetwork& n);
// The user networks a container is attached to now.
std::vector<NetEndpoint> container_endpoints(const Config& cfg, const std::string& container_id);

// Allocates addresses and attaches the container (process `pid`, its
// network namespace) to each of its user networks, starting the rootless
// namespace when needed. Throws; on failure what was done is undone.
std::vector<NetEndpoint> attach_user_networks(const Config& cfg, const ContainerConfig& c, pid_t pid,
                                           const std::vector<std::string>& networks);
// Removes the container's endpoints (all, or on one network) and, in the
// rootless namespace, its veth pairs. Never throws.
void detach_user_networks(const Config& cfg, const std::string& container_id, const std::string& only_network = "");
// The holder of the rootless network namespace, if running (pid), else 0.
pid_t rootless_netns_pid(const Config& cfg);

}  // namespace den

namespace den {
// The /etc/hosts and resolv.conf of a container on user networks: its
// address on the first, --link names, the network's DNS responder.
std::string user_network_hosts(const Config& cfg, const ContainerConfig& c, const std::string& hostname,
                               const std::vector<NetEndpoint>& eps);
std::string user_network_resolv(const Config& cfg, const ContainerConfig& c, const std::vector<NetEndpoint>& eps);
}  // namespace den

// ---- published ports on user networks, helper watch (src/network/hostfwd.cpp) --
namespace den {

// A forward of slirp4netns (its API: list_hostfwd, add_hostfwd, remove_hostfwd).
struct HostForward {
  int id = 0;
  std::string protocol, host_ip, guest_ip;
  int host_port = 0, guest_port = 0;
};
std::vector<HostForward> slirp_list_forwards(const std::string& api_socket);
// Forwards host_ip:host_port (one port, not a range) to guest_ip:container_port;
// returns the forward's id. Throws naming the port.
int slirp_add_forward(const std::string& api_socket, const PortMapping& p, const std::string& guest_ip);
void slirp_remove_forward(const std::string& api_socket, int id);

// Stops a helper process (SIGTERM, through a pidfd) when its owner dies
// without stopping it: a small forked process (den-netwatch) waits for EOF
// on a pipe only the owner holds. For helpers that cannot watch an exit fd
// themselves (pasta). release() (or the destructor) ends the watch.
class HelperWatch {
 public:
  explicit HelperWatch(pid_t helper);  // throws
  ~HelperWatch();
  HelperWatch(const HelperWatch&) = delete;
  HelperWatch& operator=(const HelperWatch&) = delete;
  void release();

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
};

}  // namespace den
