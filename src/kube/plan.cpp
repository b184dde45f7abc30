// Kubernetes YAML → den's plan (den/kube.h): no side effects, every error
// names the document, the field and (where yaml-cpp knows it) the line.
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <sstream>

#include "den/error.h"
#include "den/kube.h"
#include "den/strings.h"

namespace den::kube {

static size_t utf8_length_at(std::string_view s, size_t i);
static size_t first_non_utf8_line(std::string_view s);

namespace {

// Where we are, for error messages: "web.yaml: document 2 (Pod \"web\")".
struct Where {
  std::string source;
  int doc = 0;
  std::string kind;
  std::string name;

  std::string prefix() const {
    std::string p = fmt::format("{}: document {}", source, doc);
    if (!kind.empty() && !name.empty()) p += fmt::format(" ({} \"{}\")", kind, name);
    else if (!kind.empty()) p += fmt::format(" ({})", kind);
    return p;
  }
  [[noreturn]] void fail(const YAML::Node& node, const std::string& field, const std::string& what) const {
    std::string line;
    if (node.IsDefined() && node.Mark().line >= 0) line = fmt::format(", line {}", node.Mark().line + 1);
    throw Error(fmt::format("{}{}: {}: {}", prefix(), line, field, what), Errc::Invalid);
  }
};

bool present(const YAML::Node& n) { return n.IsDefined() && !n.IsNull(); }

// n[key] for a map, else an undefined node (yaml-cpp throws for a subscript
// of a scalar or of a missing node).
// Never yaml-cpp's "zombie" node of a missing key: most calls on one throw,
// and assigning one to a Node does too.
YAML::Node at(const YAML::Node& n, const char* key) {
  if (!n.IsDefined() || !n.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  YAML::Node v = n[key];
  if (!v.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
  return v;
}

// yaml-cpp 0.7 decodes the escapes "\N" (U+0085) and "\_" (U+00A0) of
// double-quoted scalars to one raw byte each, not UTF-8 (found by
// fuzz_kube: such a string broke the JSON of the container's config). The
// file was checked to be UTF-8 before parsing, so a lone 0x85 or 0xA0 in a
// scalar is one of them: encoded here as the character it stands for.
std::string scalar_text(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  if (first_non_utf8_line(s) == 0) return s;
  std::string out;
  for (size_t i = 0; i < s.size();) {
    size_t len = utf8_length_at(s, i);
    auto c = static_cast<unsigned char>(s[i]);
    if (len == 0 && (c == 0x85 || c == 0xA0)) {
      out += static_cast<char>(0xC2);
      len = 1;
    }
    if (len == 0) len = 1;  // left as it is: str() refuses the string
    out.append(s, i, len);
    i += len;
  }
  return out;
}

std::string str(const Where& w, const YAML::Node& n, const std::string& field) {
  if (!present(n)) return "";
  if (!n.IsScalar()) w.fail(n, field, "must be a string");
  std::string s = scalar_text(n);
  if (first_non_utf8_line(s) != 0) w.fail(n, field, "is not UTF-8 text");
  return s;
}

std::string required_str(const Where& w, const YAML::Node& parent, const char* key, const std::string& field,
                         const std::string& why) {
  std::string s = str(w, at(parent, key), field);  // at: parent may be a scalar or a list
  if (s.empty()) w.fail(parent, field, "missing: " + why);
  return s;
}

bool boolean(const Where& w, const YAML::Node& n, const std::string& field) {
  if (!present(n)) return false;
  std::string s = n.IsScalar() ? to_lower(n.Scalar()) : "";
  if (s == "true" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "no" || s == "off") return false;
  w.fail(n, field, "must be true or false");
}

std::optional<int64_t> integer(const Where& w, const YAML::Node& n, const std::string& field) {
  if (!present(n)) return std::nullopt;
  std::string s = n.IsScalar() ? n.Scalar() : "";
  if (s.empty() || s.size() > 18 ||
      !std::all_of(s.begin() + (s[0] == '-' ? 1 : 0), s.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      s == "-")
    w.fail(n, field, "must be an integer");
  return std::stoll(s);
}

std::vector<std::string> strings(const Where& w, const YAML::Node& n, const std::string& field) {
  std::vector<std::string> out;
  if (!present(n)) return out;
  if (!n.IsSequence()) w.fail(n, field, "must be a list of strings");
  for (size_t i = 0; i < n.size(); i++) out.push_back(str(w, n[i], fmt::format("{}[{}]", field, i)));
  return out;
}

std::map<std::string, std::string> string_map(const Where& w, const YAML::Node& n, const std::string& field) {
  std::map<std::string, std::string> out;
  if (!present(n)) return out;
  if (!n.IsMap()) w.fail(n, field, "must be a map of strings");
  for (auto it = n.begin(); it != n.end(); ++it) {
    std::string k = str(w, it->first, field);
    out[k] = str(w, it->second, field + "." + k);
  }
  return out;
}

YAML::Node seq_or_empty(const Where& w, const YAML::Node& n, const std::string& field) {
  if (present(n) && !n.IsSequence()) w.fail(n, field, "must be a list");
  return n;
}

struct ConfigMap {
  std::map<std::string, std::string> data;
};
using ConfigMaps = std::map<std::string, ConfigMap>;

// The pod-level parts a container needs.
struct PodContext {
  std::string pod_name;
  std::map<std::string, YAML::Node> volumes;  // name → volume source node
  std::string restart;                        // den's policy for app containers
  YAML::Node pod_security;                    // spec.securityContext
  std::map<std::string, std::string> labels;
};

void add_env(std::vector<std::string>& env, const std::string& name, const std::string& value) {
  std::string prefix = name + "=";
  auto it = std::find_if(env.begin(), env.end(), [&](const std::string& e) { return e.rfind(prefix, 0) == 0; });
  if (it != env.end()) *it = prefix + value;
  else env.push_back(prefix + value);
}

void parse_env(const Where& w, const YAML::Node& ctr, const std::string& f, const ConfigMaps& cms,
               std::vector<std::string>& env) {
  // envFrom first: explicit env entries override what it brings (k8s).
  const YAML::Node& from = seq_or_empty(w, at(ctr, "envFrom"), f + ".envFrom");
  for (size_t i = 0; present(from) && i < from.size(); i++) {
    std::string ff = fmt::format("{}.envFrom[{}]", f, i);
    const YAML::Node& e = from[i];
    std::string prefix = str(w, at(e, "prefix"), ff + ".prefix");
    if (present(at(e, "configMapRef"))) {
      const YAML::Node& ref = at(e, "configMapRef");
      std::string name = required_str(w, ref, "name", ff + ".configMapRef.name", "name the ConfigMap");
      auto cm = cms.find(name);
      if (cm == cms.end()) {
        if (boolean(w, at(ref, "optional"), ff + ".configMapRef.optional")) continue;
        w.fail(ref, ff + ".configMapRef", fmt::format("no ConfigMap \"{}\" in this file", name));
      }
      for (const auto& [k, v] : cm->second.data) add_env(env, prefix + k, v);
    } else if (present(at(e, "secretRef"))) {
      w.fail(e, ff + ".secretRef", "secrets are not supported by den");
    }
  }
  const YAML::Node& list = seq_or_empty(w, at(ctr, "env"), f + ".env");
  for (size_t i = 0; present(list) && i < list.size(); i++) {
    std::string ff = fmt::format("{}.env[{}]", f, i);
    const YAML::Node& e = list[i];
    std::string name = required_str(w, e, "name", ff + ".name", "every env entry needs a name");
    const YAML::Node& vf = at(e, "valueFrom");
    if (!present(vf)) {
      add_env(env, name, str(w, at(e, "value"), ff + ".value"));
      continue;
    }
    if (present(at(vf, "configMapKeyRef"))) {
      const YAML::Node& ref = at(vf, "configMapKeyRef");
      std::string rf = ff + ".valueFrom.configMapKeyRef";
      std::string cm_name = required_str(w, ref, "name", rf + ".name", "name the ConfigMap");
      std::string key = required_str(w, ref, "key", rf + ".key", "name the ConfigMap key");
      bool optional = boolean(w, at(ref, "optional"), rf + ".optional");
      auto cm = cms.find(cm_name);
      if (cm == cms.end()) {
        if (optional) continue;
        w.fail(ref, rf, fmt::format("no ConfigMap \"{}\" in this file", cm_name));
      }
      auto kv = cm->second.data.find(key);
      if (kv == cm->second.data.end()) {
        if (optional) continue;
        w.fail(ref, rf, fmt::format("ConfigMap \"{}\" has no key \"{}\"", cm_name, key));
      }
      add_env(env, name, kv->second);
    } else if (present(at(vf, "secretKeyRef"))) {
      w.fail(vf, ff + ".valueFrom.secretKeyRef", "secrets are not supported by den");
    } else {
      w.fail(vf, ff + ".valueFrom", "den knows only configMapKeyRef");
    }
  }
}

void parse_ports(const Where& w, const YAML::Node& ctr, const std::string& f, ContainerPlan& c) {
  const YAML::Node& ports = seq_or_empty(w, at(ctr, "ports"), f + ".ports");
  for (size_t i = 0; present(ports) && i < ports.size(); i++) {
    std::string ff = fmt::format("{}.ports[{}]", f, i);
    const YAML::Node& p = ports[i];
    PortMapping m;
    auto cp = integer(w, at(p, "containerPort"), ff + ".containerPort");
    if (!cp) w.fail(p, ff + ".containerPort", "missing: every port needs a containerPort");
    if (*cp < 1 || *cp > 65535) w.fail(at(p, "containerPort"), ff + ".containerPort", "must be 1 to 65535");
    m.container_port = static_cast<int>(*cp);
    auto hp = integer(w, at(p, "hostPort"), ff + ".hostPort");
    if (hp && (*hp < 0 || *hp > 65535)) w.fail(at(p, "hostPort"), ff + ".hostPort", "must be 1 to 65535");
    m.host_port = hp ? static_cast<int>(*hp) : 0;
    std::string proto = to_lower(str(w, at(p, "protocol"), ff + ".protocol"));
    if (proto.empty()) proto = "tcp";
    if (proto != "tcp" && proto != "udp")
      w.fail(at(p, "protocol"), ff + ".protocol", fmt::format("\"{}\": den publishes TCP and UDP", proto));
    m.protocol = proto;
    m.host_ip = str(w, at(p, "hostIP"), ff + ".hostIP");
    c.ports.push_back(m);
  }
}

void parse_mounts(const Where& w, const YAML::Node& ctr, const std::string& f, const PodContext& pod,
                  ContainerPlan& c) {
  const YAML::Node& vms = seq_or_empty(w, at(ctr, "volumeMounts"), f + ".volumeMounts");
  for (size_t i = 0; present(vms) && i < vms.size(); i++) {
    std::string ff = fmt::format("{}.volumeMounts[{}]", f, i);
    const YAML::Node& vm = vms[i];
    std::string name = required_str(w, vm, "name", ff + ".name", "name one of spec.volumes");
    MountPlan m;
    m.destination = required_str(w, vm, "mountPath", ff + ".mountPath", "give the path in the container");
    if (m.destination[0] != '/') w.fail(at(vm, "mountPath"), ff + ".mountPath", "must be an absolute path");
    m.read_only = boolean(w, at(vm, "readOnly"), ff + ".readOnly");
    std::string sub = str(w, at(vm, "subPath"), ff + ".subPath");
    auto vol = pod.volumes.find(name);
    if (vol == pod.volumes.end()) w.fail(vm, ff + ".name", fmt::format("no volume \"{}\" in spec.volumes", name));
    const YAML::Node& v = vol->second;
    std::string vf = "spec.volumes[" + name + "]";
    if (present(at(v, "hostPath"))) {
      m.source = required_str(w, at(v, "hostPath"), "path", vf + ".hostPath.path", "give the host path");
      m.host_path_type = str(w, at(at(v, "hostPath"), "type"), vf + ".hostPath.type");
      // podman: a hostPath without a slash names a volume.
      m.kind = m.source.find('/') == std::string::npos ? MountPlan::Kind::Claim : MountPlan::Kind::HostPath;
      if (!sub.empty()) {
        if (sub[0] == '/' || contains("/" + sub + "/", "/../"))
          w.fail(at(vm, "subPath"), ff + ".subPath", "must be a relative path inside the volume");
        if (m.kind != MountPlan::Kind::HostPath)
          w.fail(at(vm, "subPath"), ff + ".subPath", "den supports subPath on hostPath volumes only");
        m.source += "/" + sub;
      }
      if (m.source.find(':') != std::string::npos)
        w.fail(at(at(v, "hostPath"), "path"), vf + ".hostPath.path", "den cannot mount a path containing ':'");
    } else if (present(at(v, "persistentVolumeClaim"))) {
      m.kind = MountPlan::Kind::Claim;
      m.source = required_str(w, at(v, "persistentVolumeClaim"), "claimName", vf + ".persistentVolumeClaim.claimName",
                              "name the claim (den's volume)");
      if (boolean(w, at(at(v, "persistentVolumeClaim"), "readOnly"), vf + ".persistentVolumeClaim.readOnly")) m.read_only = true;
    } else if (at(v, "emptyDir").IsDefined()) {
      std::string medium = present(at(v, "emptyDir")) ? str(w, at(at(v, "emptyDir"), "medium"), vf + ".emptyDir.medium") : "";
      m.kind = medium == "Memory" ? MountPlan::Kind::Tmpfs : MountPlan::Kind::EmptyDir;
      m.source = name;
    } else {
      w.fail(v, vf, "den supports hostPath, persistentVolumeClaim and emptyDir volumes");
    }
    if (!sub.empty() && m.kind != MountPlan::Kind::HostPath)
      w.fail(at(vm, "subPath"), ff + ".subPath", "den supports subPath on hostPath volumes only");
    for (const auto& other : c.mounts)
      if (other.destination == m.destination)
        w.fail(vm, ff + ".mountPath", fmt::format("\"{}\" is mounted twice", m.destination));
    c.mounts.push_back(m);
  }
}

void parse_security(const Where& w, const YAML::Node& sc, const std::string& f, const YAML::Node& pod_sc,
                    Plan& plan, ContainerPlan& c) {
  std::optional<int64_t> uid = integer(w, at(pod_sc, "runAsUser"), "spec.securityContext.runAsUser");
  std::optional<int64_t> gid = integer(w, at(pod_sc, "runAsGroup"), "spec.securityContext.runAsGroup");
  if (auto u = integer(w, at(sc, "runAsUser"), f + ".runAsUser")) uid = u;
  if (auto g = integer(w, at(sc, "runAsGroup"), f + ".runAsGroup")) gid = g;
  if (uid) c.user = std::to_string(*uid) + (gid ? ":" + std::to_string(*gid) : "");
  else if (gid)
    plan.warnings.push_back(fmt::format("{}: {}: runAsGroup without runAsUser is ignored (den's --user needs the uid)",
                                        w.prefix(), f));
  if (!present(sc)) return;
  c.privileged = boolean(w, at(sc, "privileged"), f + ".privileged");
  c.read_only = boolean(w, at(sc, "readOnlyRootFilesystem"), f + ".readOnlyRootFilesystem");
  if (present(at(sc, "allowPrivilegeEscalation")))
    c.no_new_privileges = !boolean(w, at(sc, "allowPrivilegeEscalation"), f + ".allowPrivilegeEscalation");
  if (present(at(sc, "capabilities"))) {
    c.cap_add = strings(w, at(at(sc, "capabilities"), "add"), f + ".capabilities.add");
    c.cap_drop = strings(w, at(at(sc, "capabilities"), "drop"), f + ".capabilities.drop");
  }
}

void parse_probe(const Where& w, const YAML::Node& p, const std::string& f, Plan& plan, ContainerPlan& c) {
  if (!present(p)) return;
  if (!present(at(p, "exec"))) {
    plan.warnings.push_back(fmt::format("{}: {}: only exec probes become health checks; ignored", w.prefix(), f));
    return;
  }
  c.health_cmd = strings(w, at(at(p, "exec"), "command"), f + ".exec.command");
  if (c.health_cmd.empty()) w.fail(at(p, "exec"), f + ".exec.command", "missing: give the command to run");
  auto secs = [&](const char* key, int def) {
    auto v = integer(w, at(p, key), f + "." + key);
    if (v && (*v < 0 || *v > 86400 * 365)) w.fail(at(p, key), f + "." + key, "out of range");
    return v ? static_cast<int>(*v) : def;
  };
  // Kubernetes' defaults.
  c.health_interval = secs("periodSeconds", 10);
  c.health_timeout = secs("timeoutSeconds", 1);
  c.health_start = secs("initialDelaySeconds", 0);
  c.health_retries = secs("failureThreshold", 3);
}

ContainerPlan parse_container(const Where& w, const YAML::Node& n, const std::string& f, const PodContext& pod,
                              const ConfigMaps& cms, Plan& plan) {
  if (!n.IsMap()) w.fail(n, f, "must be a map");
  ContainerPlan c;
  c.kube_name = required_str(w, n, "name", f + ".name", "every container needs a name");
  std::string ff = fmt::format("{} (\"{}\")", f, c.kube_name);
  c.name = pod.pod_name + "-" + c.kube_name;
  c.image = required_str(w, n, "image", ff + ".image", "every container needs an image");
  c.command = strings(w, at(n, "command"), ff + ".command");
  c.has_command = !c.command.empty();
  c.args = strings(w, at(n, "args"), ff + ".args");
  parse_env(w, n, ff, cms, c.env);
  c.workdir = str(w, at(n, "workingDir"), ff + ".workingDir");
  parse_ports(w, n, ff, c);
  parse_mounts(w, n, ff, pod, c);
  parse_security(w, at(n, "securityContext"), ff + ".securityContext", pod.pod_security, plan, c);
  const YAML::Node& limits = at(at(n, "resources"), "limits");
  if (present(limits)) {
    std::string mem = str(w, at(limits, "memory"), ff + ".resources.limits.memory");
    try {
      if (!mem.empty()) c.memory = parse_memory_quantity(mem);
      std::string cpu = str(w, at(limits, "cpu"), ff + ".resources.limits.cpu");
      if (!cpu.empty()) c.cpus = cpu_quantity_to_cpus(cpu);
    } catch (const Error& e) {
      w.fail(limits, ff + ".resources.limits", e.message());
    }
  }
  c.stdin_open = boolean(w, at(n, "stdin"), ff + ".stdin");
  c.tty = boolean(w, at(n, "tty"), ff + ".tty");
  c.restart = pod.restart;
  c.labels = pod.labels;
  parse_probe(w, at(n, "livenessProbe"), ff + ".livenessProbe", plan, c);
  return c;
}

PodPlan parse_pod_spec(const Where& w, const YAML::Node& meta, const YAML::Node& spec, const std::string& spec_field,
                       const std::string& pod_name, const ConfigMaps& cms, Plan& plan) {
  PodPlan p;
  p.name = pod_name;
  p.labels = string_map(w, at(meta, "labels"), "metadata.labels");
  p.annotations = string_map(w, at(meta, "annotations"), "metadata.annotations");
  if (!present(spec) || !spec.IsMap()) w.fail(spec, spec_field, "missing: the pod needs a spec with containers");
  p.hostname = str(w, at(spec, "hostname"), spec_field + ".hostname");
  p.host_network = boolean(w, at(spec, "hostNetwork"), spec_field + ".hostNetwork");
  std::string rp = str(w, at(spec, "restartPolicy"), spec_field + ".restartPolicy");
  PodContext ctx;
  ctx.pod_name = pod_name;
  ctx.labels = p.labels;
  ctx.pod_security = at(spec, "securityContext");
  // podman's mapping of the pod's restartPolicy onto its containers.
  if (rp.empty() || rp == "Always") ctx.restart = "always";
  else if (rp == "OnFailure") ctx.restart = "on-failure";
  else if (rp == "Never") ctx.restart = "no";
  else w.fail(at(spec, "restartPolicy"), spec_field + ".restartPolicy", fmt::format("\"{}\": use Always, OnFailure or Never", rp));
  if (!rp.empty()) p.restart_policy = rp;
  const YAML::Node& vols = seq_or_empty(w, at(spec, "volumes"), spec_field + ".volumes");
  for (size_t i = 0; present(vols) && i < vols.size(); i++) {
    std::string vf = fmt::format("{}.volumes[{}]", spec_field, i);
    std::string name = required_str(w, vols[i], "name", vf + ".name", "every volume needs a name");
    if (ctx.volumes.count(name)) w.fail(vols[i], vf + ".name", fmt::format("volume \"{}\" is defined twice", name));
    ctx.volumes[name] = vols[i];
    const YAML::Node& ed = at(vols[i], "emptyDir");
    if (ed.IsDefined() && !(present(ed) && str(w, at(ed, "medium"), vf + ".emptyDir.medium") == "Memory"))
      p.empty_dirs.push_back(name);
  }
  std::string cf = spec_field + ".containers";
  const YAML::Node& ctrs = seq_or_empty(w, at(spec, "containers"), cf);
  if (!present(ctrs) || ctrs.size() == 0) w.fail(spec, cf, "missing: the pod needs at least one container");
  const YAML::Node& inits = seq_or_empty(w, at(spec, "initContainers"), spec_field + ".initContainers");
  PodContext init_ctx = ctx;
  init_ctx.restart = "no";
  for (size_t i = 0; present(inits) && i < inits.size(); i++)
    p.init_containers.push_back(
        parse_container(w, inits[i], fmt::format("{}.initContainers[{}]", spec_field, i), init_ctx, cms, plan));
  for (size_t i = 0; i < ctrs.size(); i++)
    p.containers.push_back(parse_container(w, ctrs[i], fmt::format("{}[{}]", cf, i), ctx, cms, plan));
  std::vector<std::string> seen;
  for (const auto* list : {&p.init_containers, &p.containers})
    for (const auto& c : *list) {
      if (std::find(seen.begin(), seen.end(), c.kube_name) != seen.end())
        w.fail(spec, cf, fmt::format("two containers are named \"{}\"", c.kube_name));
      seen.push_back(c.kube_name);
    }
  if (!p.host_network)
    for (const auto& c : p.containers)
      for (const auto& port : c.ports)
        if (port.host_port > 0) p.ports.push_back(port);
  return p;
}

std::string metadata_name(const Where& w, const YAML::Node& doc, const std::string& why) {
  const YAML::Node& meta = at(doc, "metadata");
  if (present(meta) && !meta.IsMap()) w.fail(meta, "metadata", "must be a map");
  return required_str(w, present(meta) ? meta : doc, "name", "metadata.name", why);
}

}  // namespace

// The length of the UTF-8 character at s[i], or 0 where none starts
// (overlong forms, surrogates and code points past U+10FFFF are none).
static size_t utf8_length_at(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 && c >= 0xC2 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 && c <= 0xF4 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; k++)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  auto c1 = static_cast<unsigned char>(s[i + 1 < s.size() ? i + 1 : i]);
  if (n == 3 && ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0))) return 0;  // overlong, surrogate
  if (n == 4 && ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90))) return 0;  // overlong, > U+10FFFF
  return n;
}

// The 1-based line of the first byte that is not UTF-8 (YAML is Unicode
// text; yaml-cpp passes such bytes on), or 0.
static size_t first_non_utf8_line(std::string_view s) {
  size_t line = 1;
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_length_at(s, i);
    if (n == 0) return line;
    if (s[i] == '\n') line++;
    i += n;
  }
  return 0;
}

// yaml-cpp 0.7 (Debian 12) never ends LoadAll on a flow entry outside any
// flow collection (a file that is just ","): it yields one empty document
// after another without consuming the token, until memory runs out. The
// documents are counted first with a parser that builds nothing; a real file
// has fewer documents than a third of its bytes ("---\n" each).
namespace {

struct NoEvents : YAML::EventHandler {
  YAML::Mark last;
  void OnDocumentStart(const YAML::Mark& m) override { last = m; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override { last = m; }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { last = m; }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t, const std::string&) override { last = m; }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    last = m;
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    last = m;
  }
  void OnMapEnd() override {}
};

void check_yaml_ends(const std::string& yaml, const std::string& source) {
  std::istringstream in(yaml);
  YAML::Parser parser(in);
  NoEvents events;
  for (size_t docs = 0; parser.HandleNextDocument(events);)
    if (++docs > yaml.size() / 3 + 2)
      throw Error(fmt::format("{}: line {}, column {}: YAML syntax error: unexpected ',' outside a flow collection",
                              source, events.last.line + 1, events.last.column + 1),
                  Errc::Invalid);
}

}  // namespace

Plan parse_kube_yaml(const std::string& yaml, const std::string& source) {
  if (size_t line = first_non_utf8_line(yaml))
    throw Error(fmt::format("{}: line {}: not UTF-8 text (YAML files are Unicode)", source, line), Errc::Invalid);
  std::vector<YAML::Node> docs;
  try {
    check_yaml_ends(yaml, source);
    docs = YAML::LoadAll(yaml);
  } catch (const YAML::Exception& e) {
    throw Error(fmt::format("{}: line {}, column {}: YAML syntax error: {}", source, e.mark.line + 1,
                            e.mark.column + 1, e.msg),
                Errc::Invalid);
  }
  Plan plan;
  ConfigMaps cms;
  // ConfigMaps first: a pod may use one defined further down.
  int n = 0;
  for (const auto& doc : docs) {
    n++;
    if (doc.IsNull()) continue;
    Where w{source, n, "", ""};
    if (!doc.IsMap()) w.fail(doc, "document", "must be a map with apiVersion and kind");
    std::string kind = str(w, at(doc, "kind"), "kind");
    if (kind != "ConfigMap") continue;
    w.kind = kind;
    std::string name = metadata_name(w, doc, "name the ConfigMap");
    w.name = name;
    if (cms.count(name)) w.fail(doc, "metadata.name", fmt::format("ConfigMap \"{}\" is defined twice", name));
    cms[name].data = string_map(w, at(doc, "data"), "data");
  }
  n = 0;
  for (const auto& doc : docs) {
    n++;
    if (doc.IsNull()) continue;
    Where w{source, n, "", ""};
    std::string kind = str(w, at(doc, "kind"), "kind");
    if (kind.empty()) w.fail(doc, "kind", "missing: say what the document is (Pod, Deployment, ...)");
    w.kind = kind;
    if (kind == "ConfigMap" || kind == "Service") continue;  // Service: its ports are the pod's hostPorts
    if (kind == "Pod") {
      w.name = metadata_name(w, doc, "name the pod");
      plan.pods.push_back(parse_pod_spec(w, at(doc, "metadata"), at(doc, "spec"), "spec", w.name, cms, plan));
    } else if (kind == "Deployment") {
      w.name = metadata_name(w, doc, "name the deployment");
      const YAML::Node& spec = at(doc, "spec");
      if (!present(spec)) w.fail(doc, "spec", "missing: the deployment needs spec.template");
      auto replicas = integer(w, at(spec, "replicas"), "spec.replicas");
      if (replicas && *replicas > 1)
        plan.warnings.push_back(fmt::format("{}: limiting replica count to 1, more than one replica is not supported by den",
                                            w.prefix()));
      const YAML::Node& tmpl = at(spec, "template");
      if (!present(tmpl)) w.fail(spec, "spec.template", "missing: the deployment needs a pod template");
      // podman: the pod of a deployment is <name>-pod.
      PodPlan p = parse_pod_spec(w, at(tmpl, "metadata"), at(tmpl, "spec"), "spec.template.spec", w.name + "-pod", cms, plan);
      p.kind = "Deployment";
      plan.pods.push_back(std::move(p));
    } else if (kind == "PersistentVolumeClaim") {
      w.name = metadata_name(w, doc, "name the claim (den's volume)");
      VolumePlan v;
      v.name = w.name;
      v.labels = string_map(w, at(at(doc, "metadata"), "labels"), "metadata.labels");
      v.annotations = string_map(w, at(at(doc, "metadata"), "annotations"), "metadata.annotations");
      plan.volumes.push_back(v);
    } else {
      w.fail(at(doc, "kind"), "kind",
             fmt::format("unsupported kind \"{}\": den plays Pod, Deployment, PersistentVolumeClaim and ConfigMap", kind));
    }
  }
  for (size_t i = 0; i < plan.pods.size(); i++)
    for (size_t j = 0; j < i; j++)
      if (plan.pods[i].name == plan.pods[j].name)
        throw Error(fmt::format("{}: two pods are named \"{}\"", source, plan.pods[i].name), Errc::Invalid);
  return plan;
}

int64_t parse_memory_quantity(const std::string& q) {
  static const std::pair<const char*, double> suffixes[] = {
      {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
      {"k", 1e3},     {"M", 1e6},        {"G", 1e9},           {"T", 1e12},
      {"m", 1e-3},    {"", 1.0}};
  std::string num = q;
  double mult = 1.0;
  for (const auto& [s, m] : suffixes) {
    size_t len = std::char_traits<char>::length(s);
    if (len && q.size() > len && q.compare(q.size() - len, len, s) == 0) {
      num = q.substr(0, q.size() - len);
      mult = m;
      break;
    }
  }
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(num, &used);
  } catch (...) {
    used = 0;
  }
  if (num.empty() || used != num.size() || !(v > 0) || !std::isfinite(v * mult) || v * mult > 9e18)
    throw Error(fmt::format("invalid memory quantity \"{}\": use e.g. 128Mi, 1Gi or 500M", q), Errc::Invalid);
  return static_cast<int64_t>(std::ceil(v * mult));
}

std::string cpu_quantity_to_cpus(const std::string& q) {
  bool milli = !q.empty() && q.back() == 'm';
  std::string num = milli ? q.substr(0, q.size() - 1) : q;
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(num, &used);
  } catch (...) {
    used = 0;
  }
  if (num.empty() || used != num.size() || !(v > 0) || !std::isfinite(v))
    throw Error(fmt::format("invalid cpu quantity \"{}\": use e.g. 500m or 1.5", q), Errc::Invalid);
  if (milli) v /= 1000.0;
  std::string s = fmt::format("{:.3f}", v);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

std::vector<std::string> create_args(const ContainerPlan& c, const std::map<std::string, std::string>& empty_dir_volumes,
                                     const std::string& pod) {
  std::vector<std::string> a = {"--name", c.name};
  if (!pod.empty()) a.insert(a.end(), {"--pod", pod});
  if (c.has_command) a.push_back("--entrypoint=" + Json(c.command).dump());
  for (const auto& e : c.env) a.insert(a.end(), {"--env", e});
  if (!c.workdir.empty()) a.insert(a.end(), {"--workdir", c.workdir});
  for (const auto& p : c.ports) a.insert(a.end(), {"--expose", fmt::format("{}/{}", p.container_port, p.protocol)});
  for (const auto& m : c.mounts) {
    std::string ro = m.read_only ? ":ro" : "";
    switch (m.kind) {
      case MountPlan::Kind::HostPath:
      case MountPlan::Kind::Claim:
        a.insert(a.end(), {"--volume", m.source + ":" + m.destination + ro});
        break;
      case MountPlan::Kind::EmptyDir: {
        auto it = empty_dir_volumes.find(m.source);
        std::string vol = it == empty_dir_volumes.end() ? "<emptyDir " + m.source + ">" : it->second;
        a.insert(a.end(), {"--volume", vol + ":" + m.destination + ro});
        break;
      }
      case MountPlan::Kind::Tmpfs:
        a.insert(a.end(), {"--tmpfs", m.destination + (m.read_only ? ":ro" : "")});
        break;
    }
  }
  if (!c.user.empty()) a.insert(a.end(), {"--user", c.user});
  if (c.privileged) a.push_back("--privileged");
  if (c.read_only) a.push_back("--read-only");
  if (c.no_new_privileges) a.insert(a.end(), {"--security-opt", "no-new-privileges"});
  for (const auto& cap : c.cap_add) a.insert(a.end(), {"--cap-add", cap});
  for (const auto& cap : c.cap_drop) a.insert(a.end(), {"--cap-drop", cap});
  if (c.memory > 0) a.insert(a.end(), {"--memory", std::to_string(c.memory)});
  if (!c.cpus.empty()) a.insert(a.end(), {"--cpus", c.cpus});
  if (c.stdin_open) a.push_back("--interactive");
  if (c.tty) a.push_back("--tty");
  if (c.restart != "no") a.insert(a.end(), {"--restart", c.restart});
  if (!c.health_cmd.empty()) {
    std::vector<std::string> test = {"CMD"};
    test.insert(test.end(), c.health_cmd.begin(), c.health_cmd.end());
    a.insert(a.end(), {"--health-cmd", Json(test).dump(), "--health-interval", std::to_string(c.health_interval) + "s",
                       "--health-timeout", std::to_string(c.health_timeout) + "s", "--health-retries",
                       std::to_string(c.health_retries), "--health-on-failure", "restart"});
    if (c.health_start > 0) a.insert(a.end(), {"--health-start-period", std::to_string(c.health_start) + "s"});
  }
  for (const auto& [k, v] : c.labels) a.insert(a.end(), {"--label", k + "=" + v});
  a.push_back(c.image);
  a.insert(a.end(), c.args.begin(), c.args.end());
  return a;
}

std::string describe(const Plan& plan) {
  std::string out;
  auto quoted = [](const std::vector<std::string>& argv) {
    std::vector<std::string> q;
    for (const auto& s : argv) q.push_back(shell_quote(s));
    return join(q, " ");
  };
  for (const auto& v : plan.volumes) out += "volume " + v.name + "\n";
  for (const auto& p : plan.pods) {
    out += fmt::format("pod {} ({}) restart={}{}{}", p.name, p.kind, p.restart_policy,
                       p.host_network ? " network=host" : "", p.hostname.empty() ? "" : " hostname=" + p.hostname);
    for (const auto& [k, v] : p.labels) out += " label=" + k + "=" + v;
    for (const auto& port : p.ports)
      out += fmt::format(" publish={}{}:{}/{}", port.host_ip.empty() ? "" : port.host_ip + ":", port.host_port,
                         port.container_port, port.protocol);
    out += "\n";
    for (const auto& e : p.empty_dirs) out += "  emptyDir " + e + "\n";
    for (const auto& c : p.init_containers) out += "  init: den create " + quoted(create_args(c, {}, p.name)) + "\n";
    for (const auto& c : p.containers) out += "  den create " + quoted(create_args(c, {}, p.name)) + "\n";
  }
  return out;
}

}  // namespace den::kube
