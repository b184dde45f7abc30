// den's containers → Kubernetes YAML (den/kube.h), podman's way.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <regex>

#include "den/error.h"
#include "den/fs.h"
#include "den/kube.h"
#include "den/network.h"
#include "den/strings.h"
#include "den/timefmt.h"

namespace den::kube {

namespace {

// A string that YAML would read as something else (a number, a boolean,
// null) or that is empty is quoted, so kubectl reads it as a string.
bool needs_quotes(const std::string& s) {
  static const std::regex numeric(R"([-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9]*)?)([eE][-+]?[0-9]+)?|0x[0-9a-fA-F]+|0o[0-7]+)");
  std::string l = to_lower(s);
  return s.empty() || std::regex_match(s, numeric) || l == "true" || l == "false" || l == "yes" || l == "no" ||
         l == "on" || l == "off" || l == "y" || l == "n" || l == "null" || l == "~" || l == ".inf" || l == ".nan";
}

void str(YAML::Emitter& e, const std::string& s) {
  if (needs_quotes(s)) e << YAML::DoubleQuoted << s;
  else e << s;
}

void kv(YAML::Emitter& e, const char* key, const std::string& value) {
  e << YAML::Key << key << YAML::Value;
  str(e, value);
}

void string_list(YAML::Emitter& e, const char* key, const std::vector<std::string>& v) {
  e << YAML::Key << key << YAML::Value << YAML::BeginSeq;
  for (const auto& s : v) str(e, s);
  e << YAML::EndSeq;
}

void string_map(YAML::Emitter& e, const char* key, const std::map<std::string, std::string>& m) {
  if (m.empty()) return;
  e << YAML::Key << key << YAML::Value << YAML::BeginMap;
  for (const auto& [k, v] : m) {
    e << YAML::Key << k << YAML::Value;
    str(e, v);
  }
  e << YAML::EndMap;
}

std::vector<std::string> image_strings(const Json& j, const char* key) {
  std::vector<std::string> out;
  if (j.contains(key) && j[key].is_array())
    for (const auto& s : j[key])
      if (s.is_string()) out.push_back(s.get<std::string>());
  return out;
}

struct PodVolume {
  std::string name;
  std::string kind;  // hostPath | persistentVolumeClaim | emptyDir
  std::string source;
  std::string host_type;  // Directory | File
  bool memory = false;    // emptyDir medium Memory (a tmpfs)
};

// podman's names: /srv/www → srv-www-host-0, volume data → data-pvc.
std::string host_volume_name(const std::string& path, size_t n) {
  std::string s;
  for (char ch : path) {
    char c = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    s += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') ? c : '-';
  }
  while (!s.empty() && (s.front() == '-' || s.front() == '.')) s.erase(s.begin());
  while (!s.empty() && (s.back() == '-' || s.back() == '.')) s.pop_back();
  if (s.empty()) s = "root";
  return fmt::format("{}-host-{}", s, n);
}

std::string volume_for_mount(std::vector<PodVolume>& vols, const MountSpec& m, const std::string& ctr_name) {
  PodVolume v;
  if (m.type == "bind") {
    v.kind = "hostPath";
    v.source = m.source;
    v.host_type = is_dir(m.source) ? "Directory" : "File";
  } else if (m.type == "volume" && m.anonymous) {
    v.kind = "emptyDir";
    v.source = m.source;
  } else if (m.type == "volume") {
    v.kind = "persistentVolumeClaim";
    v.source = m.source;
  } else {  // tmpfs
    v.kind = "emptyDir";
    v.memory = true;
    v.source = ctr_name + ":" + m.destination;
  }
  for (const auto& o : vols)
    if (o.kind == v.kind && o.source == v.source && o.memory == v.memory) return o.name;
  size_t hosts = static_cast<size_t>(std::count_if(vols.begin(), vols.end(), [](const PodVolume& x) { return x.kind == "hostPath"; }));
  size_t empties = static_cast<size_t>(std::count_if(vols.begin(), vols.end(), [](const PodVolume& x) { return x.kind == "emptyDir"; }));
  if (v.kind == "hostPath") v.name = host_volume_name(v.source, hosts);
  else if (v.kind == "persistentVolumeClaim") v.name = v.source + "-pvc";
  else v.name = fmt::format("{}-empty-{}", ctr_name, empties);
  vols.push_back(v);
  return v.name;
}

std::string restart_policy(const ContainerConfig& c) {
  if (c.restart.name == "always" || c.restart.name == "unless-stopped") return "Always";
  if (c.restart.name == "on-failure") return "OnFailure";
  return "Never";
}

std::string cpus_quantity(int64_t nano) {
  if (nano % 1'000'000'000 == 0) return std::to_string(nano / 1'000'000'000);
  return std::to_string(nano / 1'000'000) + "m";
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

void emit_container(YAML::Emitter& e, const GenerateContainer& g, std::vector<PodVolume>& vols) {
  const ContainerConfig& c = g.config;
  const Json& img = g.image_config;
  std::string name = g.kube_name.empty() ? c.name : g.kube_name;
  e << YAML::BeginMap;
  kv(e, "name", name);
  kv(e, "image", c.image_name);
  // podman: command only where the entrypoint differs from the image's; args
  // where the cmd does (and always with a command: it resets the image's Cmd).
  bool command = c.entrypoint != image_strings(img, "Entrypoint");
  if (command) string_list(e, "command", c.entrypoint);
  if ((command && !c.cmd.empty()) || (!command && c.cmd != image_strings(img, "Cmd"))) string_list(e, "args", c.cmd);
  // env: what the image does not set already (and not den's defaults).
  std::vector<std::string> image_env = image_strings(img, "Env");
  std::vector<std::pair<std::string, std::string>> env;
  for (const auto& kvs : c.env) {
    if (std::find(image_env.begin(), image_env.end(), kvs) != image_env.end()) continue;
    if (kvs == "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") continue;
    if (c.tty && kvs == "TERM=xterm") continue;
    env.push_back(split_once(kvs, '='));
  }
  if (!env.empty()) {
    e << YAML::Key << "env" << YAML::Value << YAML::BeginSeq;
    for (const auto& [k, v] : env) {
      e << YAML::BeginMap;
      kv(e, "name", k);
      kv(e, "value", v);
      e << YAML::EndMap;
    }
    e << YAML::EndSeq;
  }
  if (!c.workdir.empty() && c.workdir != img.value("WorkingDir", "")) kv(e, "workingDir", c.workdir);
  std::vector<PortMapping> ports = expand_ports(c.ports);
  // Exposed-only ports (no host port) are containerPorts too.
  for (const auto& x : c.exposed_ports) {
    auto [num, proto] = split_once(x, '/');
    if (!all_digits(num)) continue;
    int p = std::stoi(num);
    std::string pr = proto.empty() ? "tcp" : proto;
    bool published = std::any_of(ports.begin(), ports.end(),
                                 [&](const PortMapping& m) { return m.container_port == p && m.protocol == pr; });
    if (!published) ports.push_back({"", 0, p, pr, 1});
  }
  if (!ports.empty()) {
    e << YAML::Key << "ports" << YAML::Value << YAML::BeginSeq;
    for (const auto& p : ports) {
      e << YAML::BeginMap << YAML::Key << "containerPort" << YAML::Value << p.container_port;
      if (p.host_port > 0) e << YAML::Key << "hostPort" << YAML::Value << p.host_port;
      if (!p.host_ip.empty()) kv(e, "hostIP", p.host_ip);
      if (p.protocol != "tcp") kv(e, "protocol", p.protocol == "udp" ? "UDP" : p.protocol);
      e << YAML::EndMap;
    }
    e << YAML::EndSeq;
  }
  if (!c.mounts.empty()) {
    e << YAML::Key << "volumeMounts" << YAML::Value << YAML::BeginSeq;
    for (const auto& m : c.mounts) {
      bool ro = std::find(m.options.begin(), m.options.end(), "ro") != m.options.end();
      e << YAML::BeginMap;
      kv(e, "mountPath", m.destination);
      kv(e, "name", volume_for_mount(vols, m, name));
      if (ro) e << YAML::Key << "readOnly" << YAML::Value << true;
      e << YAML::EndMap;
    }
    e << YAML::EndSeq;
  }
  // securityContext
  bool user_numeric = false;
  auto [uid, gid] = split_once(c.user, ':');
  user_numeric = all_digits(uid) && (gid.empty() || all_digits(gid));
  if (c.privileged || c.read_only || c.no_new_privileges || !c.cap_add.empty() || !c.cap_drop.empty() ||
      (user_numeric && !c.user.empty() && c.user != img.value("User", ""))) {
    e << YAML::Key << "securityContext" << YAML::Value << YAML::BeginMap;
    if (c.no_new_privileges) e << YAML::Key << "allowPrivilegeEscalation" << YAML::Value << false;
    if (!c.cap_add.empty() || !c.cap_drop.empty()) {
      e << YAML::Key << "capabilities" << YAML::Value << YAML::BeginMap;
      if (!c.cap_add.empty()) string_list(e, "add", c.cap_add);
      if (!c.cap_drop.empty()) string_list(e, "drop", c.cap_drop);
      e << YAML::EndMap;
    }
    if (c.privileged) e << YAML::Key << "privileged" << YAML::Value << true;
    if (c.read_only) e << YAML::Key << "readOnlyRootFilesystem" << YAML::Value << true;
    if (user_numeric && !c.user.empty() && c.user != img.value("User", "")) {
      if (!gid.empty()) e << YAML::Key << "runAsGroup" << YAML::Value << std::stoll(gid);
      e << YAML::Key << "runAsUser" << YAML::Value << std::stoll(uid);
    }
    e << YAML::EndMap;
  }
  if (c.resources.memory > 0 || c.resources.nano_cpus > 0) {
    e << YAML::Key << "resources" << YAML::Value << YAML::BeginMap << YAML::Key << "limits" << YAML::Value
      << YAML::BeginMap;
    if (c.resources.nano_cpus > 0) kv(e, "cpu", cpus_quantity(c.resources.nano_cpus));
    if (c.resources.memory > 0) kv(e, "memory", std::to_string(c.resources.memory));
    e << YAML::EndMap << YAML::EndMap;
  }
  if (c.health.enabled()) {
    std::vector<std::string> cmd = c.health.test[0] == "CMD-SHELL" && c.health.test.size() > 1
                                       ? std::vector<std::string>{"/bin/sh", "-c", c.health.test[1]}
                                       : std::vector<std::string>(c.health.test.begin() + 1, c.health.test.end());
    e << YAML::Key << "livenessProbe" << YAML::Value << YAML::BeginMap;
    e << YAML::Key << "exec" << YAML::Value << YAML::BeginMap;
    string_list(e, "command", cmd);
    e << YAML::EndMap;
    e << YAML::Key << "failureThreshold" << YAML::Value << c.health.retries;
    if (c.health.start_period > 0)
      e << YAML::Key << "initialDelaySeconds" << YAML::Value << c.health.start_period / 1'000'000'000;
    e << YAML::Key << "periodSeconds" << YAML::Value << std::max<int64_t>(1, c.health.interval / 1'000'000'000);
    e << YAML::Key << "timeoutSeconds" << YAML::Value << std::max<int64_t>(1, c.health.timeout / 1'000'000'000);
    e << YAML::EndMap;
  }
  if (c.stdin_open) e << YAML::Key << "stdin" << YAML::Value << true;
  if (c.tty) e << YAML::Key << "tty" << YAML::Value << true;
  e << YAML::EndMap;
}

}  // namespace

std::string generate_kube_yaml(const std::vector<GeneratePod>& pods, bool service, int64_t now_nanos) {
  std::string out =
      "# Save the output of this file and use kubectl create -f to import\n"
      "# it into Kubernetes.\n#\n# Created with den-" DEN_VERSION "\n";
  bool first = true;
  for (const auto& pod : pods) {
    if (pod.containers.empty()) throw Error(fmt::format("pod {} has no containers to generate", pod.name), Errc::Invalid);
    std::map<std::string, std::string> labels = pod.labels;
    labels.emplace("app", pod.name);
    YAML::Emitter e;
    e << YAML::BeginMap;
    kv(e, "apiVersion", "v1");
    kv(e, "kind", "Pod");
    e << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap;
    e << YAML::Key << "creationTimestamp" << YAML::Value << YAML::DoubleQuoted
      << format_rfc3339_nano(now_nanos - now_nanos % 1'000'000'000);
    string_map(e, "labels", labels);
    kv(e, "name", pod.name);
    e << YAML::EndMap;
    e << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
    std::vector<PodVolume> vols;
    e << YAML::Key << "containers" << YAML::Value << YAML::BeginSeq;
    for (const auto& g : pod.containers) emit_container(e, g, vols);
    e << YAML::EndSeq;
    if (pod.host_network) e << YAML::Key << "hostNetwork" << YAML::Value << true;
    if (!pod.hostname.empty()) kv(e, "hostname", pod.hostname);
    kv(e, "restartPolicy", restart_policy(pod.containers.front().config));
    if (!vols.empty()) {
      e << YAML::Key << "volumes" << YAML::Value << YAML::BeginSeq;
      for (const auto& v : vols) {
        e << YAML::BeginMap;
        if (v.kind == "hostPath") {
          e << YAML::Key << "hostPath" << YAML::Value << YAML::BeginMap;
          kv(e, "path", v.source);
          kv(e, "type", v.host_type);
          e << YAML::EndMap;
        } else if (v.kind == "persistentVolumeClaim") {
          e << YAML::Key << "persistentVolumeClaim" << YAML::Value << YAML::BeginMap;
          kv(e, "claimName", v.source);
          e << YAML::EndMap;
        } else if (v.memory) {
          e << YAML::Key << "emptyDir" << YAML::Value << YAML::BeginMap;
          kv(e, "medium", "Memory");
          e << YAML::EndMap;
        } else {
          e << YAML::Key << "emptyDir" << YAML::Value << YAML::BeginMap << YAML::EndMap;
        }
        kv(e, "name", v.name);
        e << YAML::EndMap;
      }
      e << YAML::EndSeq;
    }
    e << YAML::EndMap << YAML::EndMap;
    if (!e.good()) throw Error(std::string("generate kube: ") + e.GetLastError());
    out += (first ? "" : "---\n") + std::string(e.c_str()) + "\n";
    first = false;
    if (service) {
      std::vector<PortMapping> ports;
      for (const auto& g : pod.containers)
        for (const auto& p : expand_ports(g.config.ports)) ports.push_back(p);
      YAML::Emitter s;
      s << YAML::BeginMap;
      kv(s, "apiVersion", "v1");
      kv(s, "kind", "Service");
      s << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap;
      s << YAML::Key << "creationTimestamp" << YAML::Value << YAML::DoubleQuoted
        << format_rfc3339_nano(now_nanos - now_nanos % 1'000'000'000);
      string_map(s, "labels", {{"app", pod.name}});
      kv(s, "name", pod.name);
      s << YAML::EndMap;
      s << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
      if (!ports.empty()) {
        s << YAML::Key << "ports" << YAML::Value << YAML::BeginSeq;
        for (const auto& p : ports) {
          s << YAML::BeginMap;
          kv(s, "name", fmt::format("{}-{}", p.host_port, p.protocol));
          s << YAML::Key << "port" << YAML::Value << p.host_port;
          kv(s, "protocol", p.protocol == "udp" ? "UDP" : "TCP");
          s << YAML::Key << "targetPort" << YAML::Value << p.container_port;
          s << YAML::EndMap;
        }
        s << YAML::EndSeq;
      }
      string_map(s, "selector", {{"app", pod.name}});
      kv(s, "type", "NodePort");
      s << YAML::EndMap << YAML::EndMap;
      out += "---\n" + std::string(s.c_str()) + "\n";
    }
  }
  return out;
}

}  // namespace den::kube
