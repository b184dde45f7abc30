#include "den/registries.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include "den/toml.h"

#include "den/error.h"
#include "embedded_conf.h"
#include "den/fs.h"
#include "den/http.h"
#include "den/json.h"
#include "den/strings.h"

namespace den {

namespace {

bool get_bool(const toml::table& t, const char* key, bool def) {
  if (auto v = t[key].value<bool>()) return *v;
  return def;
}

std::string get_str(const toml::table& t, const char* key, const std::string& def = "") {
  if (auto v = t[key].value<std::string>()) return *v;
  return def;
}

// Does `name` ("host/path") fall under `prefix`? "*.example.com" matches
// any subdomain's host; otherwise whole path components must match.
bool prefix_matches(const std::string& prefix, const std::string& name) {
  if (prefix.rfind("*.", 0) == 0) {
    std::string host = name.substr(0, name.find('/'));
    std::string suffix = prefix.substr(1);
    return host.size() > suffix.size() && host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0;
  }
  if (name.rfind(prefix, 0) != 0) return false;
  return name.size() == prefix.size() || name[prefix.size()] == '/' || name[prefix.size()] == ':' ||
         name[prefix.size()] == '@';
}

const RegistryEntry* match(const RegistriesConf& conf, const std::string& name) {
  const RegistryEntry* best = nullptr;
  for (const auto& r : conf.registries)
    if (prefix_matches(r.prefix, name) && (!best || r.prefix.size() > best->prefix.size())) best = &r;
  return best;
}

// docker.io is served by registry-1.docker.io.
std::string real_host(const std::string& host) { return host == "docker.io" ? "registry-1.docker.io" : host; }

Endpoint endpoint_for(const std::string& location_name, bool insecure, bool mirror) {
  Endpoint e;
  auto slash = location_name.find('/');
  e.host = real_host(location_name.substr(0, slash));
  e.path = slash == std::string::npos ? "" : location_name.substr(slash + 1);
  e.insecure = insecure;
  e.mirror = mirror;
  return e;
}

// Applies the [[registry]] remapping: the part of name under the prefix is
// replaced by the location.
std::string remap(const RegistryEntry& r, const std::string& base, const std::string& name) {
  if (r.prefix.rfind("*.", 0) == 0 || base.empty()) return name;
  return base + name.substr(r.prefix.size());
}

}  // namespace

void apply_registries_toml(RegistriesConf& conf, std::string_view text, const std::string& origin) {
  toml::table t;
  try {
    t = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    throw Error(fmt::format("{}:{}: {}", origin, e.source().begin.line, e.description()), Errc::Invalid);
  }
  if (auto* arr = t["unqualified-search-registries"].as_array()) {
    conf.search.clear();
    for (auto& v : *arr)
      if (auto s = v.value<std::string>()) conf.search.push_back(*s);
  }
  conf.short_name_mode = get_str(t, "short-name-mode", conf.short_name_mode);
  if (auto* regs = t["registry"].as_array()) {
    for (auto& node : *regs) {
      auto* r = node.as_table();
      if (!r) continue;
      RegistryEntry e;
      e.location = get_str(*r, "location");
      e.prefix = get_str(*r, "prefix", e.location);
      if (e.prefix.empty()) throw Error(origin + ": a [[registry]] has neither prefix nor location", Errc::Invalid);
      e.insecure = get_bool(*r, "insecure", false);
      e.blocked = get_bool(*r, "blocked", false);
      if (auto* ms = (*r)["mirror"].as_array()) {
        for (auto& mn : *ms) {
          auto* m = mn.as_table();
          if (!m) continue;
          RegistryMirror mirror{get_str(*m, "location"), get_bool(*m, "insecure", false)};
          if (!mirror.location.empty()) e.mirrors.push_back(mirror);
        }
      }
      conf.registries.erase(std::remove_if(conf.registries.begin(), conf.registries.end(),
                                           [&](const RegistryEntry& o) { return o.prefix == e.prefix; }),
                            conf.registries.end());
      conf.registries.push_back(e);
    }
  }
  if (auto* al = t["aliases"].as_table())
    for (auto& [k, v] : *al)
      if (auto s = v.value<std::string>()) conf.aliases[std::string(k.str())] = *s;
  conf.files_read.push_back(origin);
}

RegistriesConf load_registries_conf(const Config& cfg) {
  RegistriesConf conf;
  auto apply_file = [&](const std::string& path) {
    if (auto text = read_file_if_exists(path)) apply_registries_toml(conf, *text, path);
  };
  // den's shipped defaults: the installed copy, else the compiled-in one.
  if (auto text = read_file_if_exists(std::string(DEN_DATADIR) + "/registries.conf"))
    apply_registries_toml(conf, *text, std::string(DEN_DATADIR) + "/registries.conf");
  else
    apply_registries_toml(conf, embedded::registries_conf, "(built-in registries.conf)");
  // podman's rule: $CONTAINERS_REGISTRIES_CONF names the only file read.
  if (const char* env = std::getenv("CONTAINERS_REGISTRIES_CONF"); env && *env) {
    if (!path_exists(env))
      throw Error(fmt::format("CONTAINERS_REGISTRIES_CONF: {}: no such file", env), Errc::Invalid);
    apply_file(env);
    return conf;
  }
  std::string config_home = cfg.home.empty() ? "" : cfg.home + "/.config";
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) config_home = x;
  // The user's containers file replaces the system one (containers-
  // registries.conf(5)); drop-ins of both directories follow in name order;
  // den's own files (/etc/den, ~/.config/den) come last.
  std::string user = config_home.empty() ? "" : config_home + "/containers/registries.conf";
  if (!user.empty() && path_exists(user)) apply_file(user);
  else apply_file("/etc/containers/registries.conf");
  for (const auto& dir : {std::string("/etc/containers/registries.conf.d"),
                          user.empty() ? std::string() : user + ".d"}) {
    if (dir.empty()) continue;
    std::vector<std::string> names = list_dir(dir);
    std::sort(names.begin(), names.end());
    for (const auto& n : names)
      if (n.size() > 5 && n.substr(n.size() - 5) == ".conf") apply_file(dir + "/" + n);
  }
  apply_file(std::string(DEN_SYSCONFDIR) + "/registries.conf");
  if (!config_home.empty()) apply_file(config_home + "/den/registries.conf");
  return conf;
}

std::vector<Endpoint> pull_endpoints(const RegistriesConf& conf, const std::string& name) {
  const RegistryEntry* r = match(conf, name);
  if (!r) return {endpoint_for(name, false, false)};
  if (r->blocked)
    throw Error(fmt::format("registry {} is blocked in registries.conf ({})", r->prefix,
                            conf.files_read.empty() ? "registries.conf" : conf.files_read.back()),
                Errc::Invalid);
  std::vector<Endpoint> out;
  for (const auto& m : r->mirrors) out.push_back(endpoint_for(remap(*r, m.location, name), m.insecure, true));
  out.push_back(endpoint_for(remap(*r, r->location, name), r->insecure, false));
  return out;
}

Endpoint push_endpoint(const RegistriesConf& conf, const std::string& name) {
  const RegistryEntry* r = match(conf, name);
  if (!r) return endpoint_for(name, false, false);
  if (r->blocked) throw Error(fmt::format("registry {} is blocked in registries.conf", r->prefix), Errc::Invalid);
  return endpoint_for(remap(*r, r->location, name), r->insecure, false);
}

std::vector<std::string> short_name_candidates(const RegistriesConf& conf, const std::string& short_name) {
  std::string bare = short_name.substr(0, short_name.find_first_of(":@"));
  if (auto it = conf.aliases.find(bare); it != conf.aliases.end()) return {it->second};
  std::vector<std::string> out;
  for (const auto& reg : conf.search) {
    if (reg == "docker.io" && bare.find('/') == std::string::npos) out.push_back(reg + "/library/" + bare);
    else out.push_back(reg + "/" + bare);
  }
  return out;
}

// ---- credentials ------------------------------------------------------------

std::string auth_file_path(const Config& cfg) {
  if (const char* f = std::getenv("REGISTRY_AUTH_FILE"); f && *f) return f;
  if (!cfg.rootless) return "/run/containers/0/auth.json";
  if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x && *x) return std::string(x) + "/containers/auth.json";
  return dirname_of(cfg.runroot) + "/containers/auth.json";
}

namespace {

// Keys in auth files are registries, optionally with a scheme or path.
std::string normalize_key(std::string k) {
  for (const char* scheme : {"https://", "http://"})
    if (k.rfind(scheme, 0) == 0) k = k.substr(std::strlen(scheme));
  if (k == "index.docker.io/v1/" || k == "index.docker.io" || k == "registry-1.docker.io") return "docker.io";
  while (!k.empty() && k.back() == '/') k.pop_back();
  return k;
}

std::optional<Credentials> from_file(const std::string& path, const std::string& registry) {
  auto text = read_file_if_exists(path);
  if (!text) return std::nullopt;
  Json j = Json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.contains("auths") || !j["auths"].is_object()) return std::nullopt;
  for (auto it = j["auths"].begin(); it != j["auths"].end(); ++it) {
    if (normalize_key(it.key()) != registry || !it.value().is_object()) continue;
    std::string decoded = base64_decode(it.value().value("auth", ""));
    auto colon = decoded.find(':');
    if (colon == std::string::npos) continue;
    return Credentials{decoded.substr(0, colon), decoded.substr(colon + 1)};
  }
  return std::nullopt;
}

Json read_auth_json(const std::string& path) {
  auto text = read_file_if_exists(path);
  Json j = text ? Json::parse(*text, nullptr, false) : Json::object();
  if (j.is_discarded() || !j.is_object())
    throw Error(fmt::format("{} is not valid JSON: fix or remove it", path), Errc::Invalid);
  if (!j.contains("auths") || !j["auths"].is_object()) j["auths"] = Json::object();
  return j;
}

}  // namespace

std::optional<Credentials> find_credentials(const Config& cfg, const std::string& registry) {
  std::string key = normalize_key(registry);
  std::vector<std::string> files = {auth_file_path(cfg)};
  if (!cfg.home.empty()) {
    files.push_back(cfg.home + "/.config/containers/auth.json");
    files.push_back(cfg.home + "/.docker/config.json");
  }
  for (const auto& f : files)
    if (auto c = from_file(f, key)) return c;
  return std::nullopt;
}

void store_credentials(const Config& cfg, const std::string& registry, const Credentials& c) {
  std::string path = auth_file_path(cfg);
  mkdirs(dirname_of(path), 0700);
  Json j = read_auth_json(path);
  j["auths"][normalize_key(registry)] = {{"auth", base64_encode(c.username + ":" + c.password)}};
  write_file_atomic(path, j.dump(1, '\t') + "\n", 0600);
}

bool remove_credentials(const Config& cfg, const std::string& registry) {
  std::string path = auth_file_path(cfg);
  if (!path_exists(path)) return false;
  Json j = read_auth_json(path);
  bool found = false;
  if (registry.empty()) {
    found = !j["auths"].empty();
    j["auths"] = Json::object();
  } else {
    Json kept = Json::object();
    for (auto it = j["auths"].begin(); it != j["auths"].end(); ++it) {
      if (normalize_key(it.key()) == normalize_key(registry)) found = true;
      else kept[it.key()] = it.value();
    }
    j["auths"] = kept;
  }
  write_file_atomic(path, j.dump(1, '\t') + "\n", 0600);
  return found;
}

}  // namespace den
