// Registry configuration in the standard formats shared with podman, skopeo
// and buildah, so an existing setup just works:
//   registries.conf (containers-registries.conf(5), v2 TOML): search
//     registries for short names, [[registry]] prefix/location/insecure/
//     blocked with [[registry.mirror]] tried first, [aliases];
//   auth.json (containers-auth.json(5)): credentials per registry.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "den/config.h"

namespace den {

struct RegistryMirror {
  std::string location;
  bool insecure = false;
};

struct RegistryEntry {
  std::string prefix;    // "example.com", "example.com/ns", "*.example.com"
  std::string location;  // where the prefix really lives ("" = the prefix)
  bool insecure = false; // plain HTTP or unverified TLS allowed
  bool blocked = false;
  std::vector<RegistryMirror> mirrors;
};

struct RegistriesConf {
  std::vector<std::string> search;  // unqualified-search-registries
  std::string short_name_mode = "permissive";
  std::vector<RegistryEntry> registries;
  std::map<std::string, std::string> aliases;  // short name -> full name
  std::vector<std::string> files_read;
};

// Applies one registries.conf text over conf (later files win, [[registry]]
// entries with the same prefix replace earlier ones). Throws Errc::Invalid
// naming origin.
void apply_registries_toml(RegistriesConf& conf, std::string_view text, const std::string& origin);

// den's shipped defaults, then either $CONTAINERS_REGISTRIES_CONF alone (an
// error when missing), or: /etc/containers/registries.conf (replaced by
// ~/.config/containers/registries.conf when that exists), the drop-ins of
// both registries.conf.d directories in name order, /etc/den/registries.conf
// and ~/.config/den/registries.conf.
RegistriesConf load_registries_conf(const Config& cfg);

// One place to fetch an image from: a mirror or the registry itself.
struct Endpoint {
  std::string host;    // "127.0.0.1:5000", "registry-1.docker.io"
  std::string path;    // repository path on that host
  bool insecure = false;
  bool mirror = false;
};

// Where name "domain/path" is pulled from: mirrors in order, then the
// registry (its location when remapped). Throws when the registry is blocked.
std::vector<Endpoint> pull_endpoints(const RegistriesConf& conf, const std::string& name);
// Where it is pushed to (no mirrors).
Endpoint push_endpoint(const RegistriesConf& conf, const std::string& name);

// Candidate full names for a short name ("bb", "tz/bb"): its alias, else one
// per search registry (docker.io adds "library/" to one-part names).
std::vector<std::string> short_name_candidates(const RegistriesConf& conf, const std::string& short_name);

// ---- credentials ------------------------------------------------------------

struct Credentials {
  std::string username, password;
  bool empty() const { return username.empty() && password.empty(); }
};

// The auth file den writes: $REGISTRY_AUTH_FILE, else
// $XDG_RUNTIME_DIR/containers/auth.json (rootless) or
// /run/containers/0/auth.json (root).
std::string auth_file_path(const Config& cfg);
// Looks up a registry's credentials in the auth file, then
// ~/.config/containers/auth.json, then ~/.docker/config.json.
std::optional<Credentials> find_credentials(const Config& cfg, const std::string& registry);
// Stores (login) or removes (logout; registry "" = all) credentials in the
// auth file, atomically, mode 0600. Returns false when logout found none.
void store_credentials(const Config& cfg, const std::string& registry, const Credentials& c);
bool remove_credentials(const Config& cfg, const std::string& registry);

}  // namespace den
