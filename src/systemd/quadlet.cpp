// Quadlet: declarative .container/.volume/.network files (podman's format,
// podman-systemd.unit(5)) turned into service units that run den. Keys den
// does not know are errors naming FILE:LINE, and such a file produces no
// unit at all, never a half-converted one.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

#include "den/error.h"
#include "den/fs.h"
#include "den/strings.h"
#include "den/systemd.h"

namespace den {

namespace {

Error at(const std::string& file, int line, const std::string& msg) {
  return Error(fmt::format("{}:{}: {}", file, line, msg), Errc::Invalid);
}

}  // namespace

std::vector<IniSection> parse_unit_file(const std::string& file, const std::string& text) {
  std::vector<IniSection> out;
  std::vector<std::string> lines = split(text, '\n');
  for (size_t i = 0; i < lines.size(); i++) {
    int lineno = static_cast<int>(i) + 1;
    std::string l = trim(lines[i]);
    if (l.empty() || l[0] == '#' || l[0] == ';') continue;
    if (l[0] == '[') {
      if (l.back() != ']' || l.size() < 3) throw at(file, lineno, fmt::format("invalid section header \"{}\"", l));
      out.push_back({l.substr(1, l.size() - 2), lineno, {}});
      continue;
    }
    // Continuation lines: a trailing backslash joins the next line.
    while (!l.empty() && l.back() == '\\' && i + 1 < lines.size()) {
      l.pop_back();
      l += " " + trim(lines[++i]);
    }
    auto eq = l.find('=');
    if (eq == std::string::npos)
      throw at(file, lineno, fmt::format("\"{}\" is not KEY=VALUE", l));
    if (out.empty()) throw at(file, lineno, fmt::format("\"{}\" is outside of any [Section]", l));
    std::string key = trim(l.substr(0, eq));
    if (key.empty()) throw at(file, lineno, "empty key");
    out.back().entries.push_back({key, trim(l.substr(eq + 1)), lineno});
  }
  return out;
}

std::vector<std::string> split_unit_words(const std::string& v) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < v.size(); i++) {
    char ch = v[i];
    if (quote) {
      if (ch == quote) {
        quote = 0;
      } else if (ch == '\\' && i + 1 < v.size()) {
        char n = v[++i];
        cur += n == 'n' ? '\n' : n == 't' ? '\t' : n;
      } else {
        cur += ch;
      }
    } else if (ch == '"' || ch == '\'') {
      quote = ch;
      in_word = true;
    } else if (ch == ' ' || ch == '\t') {
      if (in_word) words.push_back(cur);
      cur.clear();
      in_word = false;
    } else if (ch == '\\' && i + 1 < v.size()) {
      cur += v[++i];
      in_word = true;
    } else {
      cur += ch;
      in_word = true;
    }
  }
  if (quote) throw Error(fmt::format("unterminated quote in \"{}\"", v), Errc::Invalid);
  if (in_word) words.push_back(cur);
  return words;
}

std::string quadlet_unit_name(const std::string& file_name) {
  auto dot = file_name.rfind('.');
  std::string base = file_name.substr(0, dot);
  std::string ext = dot == std::string::npos ? "" : file_name.substr(dot + 1);
  if (ext == "container") return base + ".service";
  return base + "-" + ext + ".service";
}

namespace {

bool parse_bool(const std::string& file, const IniEntry& e) {
  std::string v = to_lower(e.value);
  if (v == "true" || v == "yes" || v == "1" || v == "on") return true;
  if (v == "false" || v == "no" || v == "0" || v == "off") return false;
  throw at(file, e.line, fmt::format("{}={}: not a boolean (use true or false)", e.key, e.value));
}

// Sections passed to the unit as they are; the type section is converted.
bool is_passthrough(const std::string& s) {
  return s == "Unit" || s == "Service" || s == "Install" || s.rfind("X-", 0) == 0;
}

struct Converted {
  std::vector<std::string> global;       // GlobalArgs=: between den and the command
  std::vector<std::string> start_pre;    // ExecStartPre= (den arguments)
  std::vector<std::string> run;          // den arguments after the binary
  std::string type = "notify";           // Type=
  bool remain_after_exit = false;
  std::vector<std::string> stop, stop_post;
  std::vector<std::string> extra_service;  // extra [Service] lines
  std::vector<std::string> extra_unit;     // extra [Unit] lines (dependencies on other Quadlet units)
};

// What a file's references to other Quadlet files (Network=x.network,
// Volume=x.volume:/dir, Pod=x.pod) resolve to: the object's name (the
// referenced file's NetworkName=/VolumeName=/PodName=, else systemd-x, as
// podman's Quadlet) and a dependency on the unit that creates it.
class References {
 public:
  References(const std::vector<QuadletFile>* all, Converted& c) : all_(all), c_(c) {}

  // "x.network" -> "systemd-x" (or its NetworkName=), adding Requires= and
  // After= on x-network.service; other values are returned unchanged.
  std::string resolve(const std::string& value, const std::string& ext, bool bind = false) {
    std::string suffix = "." + ext;
    if (value.size() <= suffix.size() || value.compare(value.size() - suffix.size(), suffix.size(), suffix) != 0)
      return value;
    std::string unit = quadlet_unit_name(value);
    c_.extra_unit.push_back((bind ? "BindsTo=" : "Requires=") + unit);
    c_.extra_unit.push_back("After=" + unit);
    return name_of(value, ext);
  }

  // The name the object of Quadlet file `file_name` gets.
  std::string name_of(const std::string& file_name, const std::string& ext) const {
    std::string base = file_name.substr(0, file_name.size() - ext.size() - 1);
    std::string key = ext == "network" ? "NetworkName" : ext == "volume" ? "VolumeName" : "PodName";
    std::string section = ext == "network" ? "Network" : ext == "volume" ? "Volume" : "Pod";
    if (all_)
      for (const auto& f : *all_) {
        if (f.name != file_name) continue;
        try {
          for (const auto& s : parse_unit_file(f.path, read_file(f.path)))
            if (s.name == section)
              for (const auto& e : s.entries)
                if (e.key == key && !e.value.empty()) return e.value;
        } catch (const Error&) {
          // A broken file gets no unit of its own; the default name stays.
        }
      }
    return "systemd-" + base;
  }

 private:
  const std::vector<QuadletFile>* all_;
  Converted& c_;
};

std::vector<std::string> words_at(const std::string& file, const IniEntry& e) {
  try {
    return split_unit_words(e.value);
  } catch (const Error& err) {
    throw at(file, e.line, err.message());
  }
}

// [Container] key -> den run flag (each value one flag).
const std::map<std::string, std::string>& simple_flags() {
  static const std::map<std::string, std::string> m = {
      {"PublishPort", "--publish"},    {"Volume", "--volume"},         {"Network", "--network"},
      {"Label", "--label"},            {"Annotation", "--annotation"}, {"User", "--user"},
      {"WorkingDir", "--workdir"},     {"HostName", "--hostname"},     {"AddCapability", "--cap-add"},
      {"DropCapability", "--cap-drop"}, {"Tmpfs", "--tmpfs"},          {"Ulimit", "--ulimit"},
      {"EnvironmentFile", "--env-file"}, {"HealthCmd", "--health-cmd"}, {"HealthInterval", "--health-interval"},
      {"HealthRetries", "--health-retries"}, {"HealthStartPeriod", "--health-start-period"},
      {"HealthTimeout", "--health-timeout"}, {"HealthOnFailure", "--health-on-failure"},
      {"LogDriver", "--log-driver"},   {"ShmSize", "--shm-size"},      {"StopSignal", "--stop-signal"},
      {"StopTimeout", "--stop-timeout"}, {"Pull", "--pull"},            {"Entrypoint", "--entrypoint"},
      {"Mount", "--mount"},            {"AddHost", "--add-host"},      {"DNS", "--dns"},
      {"DNSSearch", "--dns-search"},   {"DNSOption", "--dns-option"},  {"ExposeHostPort", "--expose"},
  };
  return m;
}

Converted convert_container(const std::string& file, const IniSection& s, const std::vector<QuadletFile>* all) {
  Converted c;
  References refs(all, c);
  std::string image, name = "systemd-%N";
  std::vector<std::string> exec, flags, den_args;
  bool notify_container = false, notify_healthy = false;
  for (const auto& e : s.entries) {
    auto it = simple_flags().find(e.key);
    if (it != simple_flags().end()) {
      if (e.value.empty()) continue;
      // Keys whose values hold several items are split into words: Label
      // and Annotation take KEY=VALUE words, the rest one value each.
      if (e.key == "Label" || e.key == "Annotation" || e.key == "AddCapability" || e.key == "DropCapability") {
        for (const auto& w : split_unit_words(e.value)) flags.push_back(it->second + "=" + w);
      } else if (e.key == "Network") {
        flags.push_back(it->second + "=" + refs.resolve(e.value, "network"));
      } else if (e.key == "Volume") {
        // SOURCE:DEST[:OPTS], where SOURCE may be a .volume file.
        auto colon = e.value.find(':');
        std::string source = colon == std::string::npos ? "" : e.value.substr(0, colon);
        std::string rest = colon == std::string::npos ? e.value : e.value.substr(colon);
        flags.push_back(it->second + "=" + refs.resolve(source, "volume") + rest);
      } else {
        flags.push_back(it->second + "=" + e.value);
      }
    } else if (e.key == "Pod") {
      // Pod=x.pod: a member of the pod that x.pod's unit creates; this
      // unit is bound to that one (stops with it, starts after it).
      if (e.value.size() <= 4 || e.value.compare(e.value.size() - 4, 4, ".pod") != 0)
        throw at(file, e.line, fmt::format("Pod={}: name a .pod Quadlet file, as in Pod=web.pod", e.value));
      flags.push_back("--pod=" + refs.resolve(e.value, "pod", true));
    } else if (e.key == "GlobalArgs") {
      for (const auto& w : words_at(file, e)) c.global.push_back(w);
    } else if (e.key == "Image") {
      image = e.value;
    } else if (e.key == "ContainerName") {
      name = e.value;
    } else if (e.key == "Exec") {
      try {
        exec = split_unit_words(e.value);
      } catch (const Error& err) {
        throw at(file, e.line, err.message());
      }
    } else if (e.key == "Environment") {
      std::vector<std::string> words;
      try {
        words = split_unit_words(e.value);
      } catch (const Error& err) {
        throw at(file, e.line, err.message());
      }
      for (const auto& w : words) {
        if (w.find('=') == std::string::npos)
          throw at(file, e.line, fmt::format("Environment: \"{}\" is not KEY=VALUE", w));
        flags.push_back("--env=" + w);
      }
    } else if (e.key == "ReadOnly") {
      if (parse_bool(file, e)) flags.push_back("--read-only");
    } else if (e.key == "RunInit") {
      if (parse_bool(file, e)) flags.push_back("--init");
    } else if (e.key == "NoNewPrivileges") {
      if (parse_bool(file, e)) flags.push_back("--security-opt=no-new-privileges");
    } else if (e.key == "Notify") {
      // healthy: READY=1 once the health check passes (--sdnotify=healthy).
      if (to_lower(e.value) == "healthy") notify_healthy = true;
      else notify_container = parse_bool(file, e);
    } else if (e.key == "AutoUpdate") {
      if (e.value != "registry" && e.value != "local")
        throw at(file, e.line, fmt::format("AutoUpdate={}: use registry or local", e.value));
      flags.push_back("--label=io.containers.autoupdate=" + e.value);
    } else if (e.key == "PodmanArgs" || e.key == "DenArgs") {
      try {
        for (const auto& w : split_unit_words(e.value)) den_args.push_back(w);
      } catch (const Error& err) {
        throw at(file, e.line, err.message());
      }
    } else {
      throw at(file, e.line,
               fmt::format("unknown key \"{}\" in [Container] (`den quadlet generate --help` lists the keys den "
                           "supports)",
                           e.key));
    }
  }
  if (image.empty()) throw at(file, s.line, "[Container] has no Image= (the image to run is required)");
  c.run = {"run", "--name", name, "--replace", "--rm", "-d",
           notify_healthy     ? "--sdnotify=healthy"
           : notify_container ? "--sdnotify=container"
                              : "--sdnotify=conmon"};
  c.run.insert(c.run.end(), flags.begin(), flags.end());
  c.run.insert(c.run.end(), den_args.begin(), den_args.end());
  c.run.push_back(image);
  c.run.insert(c.run.end(), exec.begin(), exec.end());
  c.stop = {"stop", name};
  c.stop_post = {"rm", "-f", name};
  c.extra_service = {"KillMode=mixed", "SyslogIdentifier=%N"};
  return c;
}

// .volume and .network: a oneshot unit that creates the object (kept when
// the unit stops, as podman's Quadlet does).
Converted convert_object(const std::string& file, const IniSection& s, const std::string& kind) {
  Converted c;
  std::string name_key = kind == "volume" ? "VolumeName" : "NetworkName";
  std::string base = basename_of(file);
  std::string name = "systemd-" + base.substr(0, base.size() - kind.size() - 1);
  std::vector<std::string> flags;
  for (const auto& e : s.entries) {
    if (e.key == name_key) {
      name = e.value;
    } else if (e.key == "GlobalArgs") {
      for (const auto& w : words_at(file, e)) c.global.push_back(w);
    } else if (e.key == "Label") {
      for (const auto& w : split_unit_words(e.value)) flags.push_back("--label=" + w);
    } else if (kind == "volume" && (e.key == "Driver" || e.key == "Options" || e.key == "Type" || e.key == "Device")) {
      std::string opt = e.key == "Driver" ? "--driver=" + e.value
                        : e.key == "Options" ? "--opt=o=" + e.value
                        : e.key == "Type"    ? "--opt=type=" + e.value
                                             : "--opt=device=" + e.value;
      flags.push_back(opt);
    } else if (kind == "network" && (e.key == "Subnet" || e.key == "Gateway" || e.key == "Internal" ||
                                     e.key == "Driver" || e.key == "IPv6")) {
      if (e.key == "Internal" || e.key == "IPv6") {
        if (parse_bool(file, e)) flags.push_back(e.key == "Internal" ? "--internal" : "--ipv6");
      } else {
        flags.push_back("--" + to_lower(e.key) + "=" + e.value);
      }
    } else if (e.key == "PodmanArgs" || e.key == "DenArgs") {
      for (const auto& w : split_unit_words(e.value)) flags.push_back(w);
    } else {
      throw at(file, e.line, fmt::format("unknown key \"{}\" in [{}]", e.key, s.name));
    }
  }
  c.run = {kind, "create", "--ignore"};
  c.run.insert(c.run.end(), flags.begin(), flags.end());
  c.run.push_back(name);
  c.type = "oneshot";
  c.remain_after_exit = true;
  return c;
}

// .pod: podman's shape. ExecStartPre creates the pod (--replace, so a
// leftover of a crash does not block it), ExecStart starts it, and systemd
// follows the infra container's monitor (Type=forking, PIDFile). With
// --exit-policy=stop the pod, and so the unit, ends when its last container
// exits. The containers naming it with Pod= are wanted by and started after
// this unit.
Converted convert_pod(const std::string& file, const IniSection& s, const std::vector<QuadletFile>* all) {
  Converted c;
  References refs(all, c);
  std::string base = basename_of(file);
  std::string name = refs.name_of(base, "pod");
  std::string exit_policy = "stop";
  std::vector<std::string> flags, den_args;
  static const std::map<std::string, std::string> keys = {
      {"PublishPort", "--publish"}, {"Label", "--label"}, {"AddHost", "--add-host"},
      {"DNS", "--dns"},             {"HostName", "--hostname"},
  };
  for (const auto& e : s.entries) {
    auto it = keys.find(e.key);
    if (it != keys.end()) {
      if (e.key == "Label") {
        for (const auto& w : words_at(file, e)) flags.push_back("--label=" + w);
      } else if (!e.value.empty()) {
        flags.push_back(it->second + "=" + e.value);
      }
    } else if (e.key == "PodName") {
      // Already taken by name_of (which reads the same file).
    } else if (e.key == "Network") {
      flags.push_back("--network=" + refs.resolve(e.value, "network"));
    } else if (e.key == "ExitPolicy") {
      if (e.value != "stop" && e.value != "continue")
        throw at(file, e.line, fmt::format("ExitPolicy={}: use stop or continue", e.value));
      exit_policy = e.value;
    } else if (e.key == "GlobalArgs") {
      for (const auto& w : words_at(file, e)) c.global.push_back(w);
    } else if (e.key == "PodmanArgs" || e.key == "DenArgs") {
      for (const auto& w : words_at(file, e)) den_args.push_back(w);
    } else {
      throw at(file, e.line, fmt::format("unknown key \"{}\" in [Pod]", e.key));
    }
  }
  if (all) {
    // The member containers: Wants= and Before= them, as podman's Quadlet.
    for (const auto& f : *all) {
      if (f.name.size() < 11 || f.name.compare(f.name.size() - 10, 10, ".container") != 0) continue;
      try {
        for (const auto& sec : parse_unit_file(f.path, read_file(f.path)))
          if (sec.name == "Container")
            for (const auto& e : sec.entries)
              if (e.key == "Pod" && e.value == base) {
                c.extra_unit.push_back("Wants=" + quadlet_unit_name(f.name));
                c.extra_unit.push_back("Before=" + quadlet_unit_name(f.name));
              }
      } catch (const Error&) {
        // That file's own conversion reports it.
      }
    }
  }
  const std::string id_file = "--pod-id-file=%t/%N.pod-id";
  c.start_pre = {"pod", "create", "--infra-conmon-pidfile=%t/%N.pid", id_file, "--exit-policy=" + exit_policy,
                 "--replace", "--name=" + name};
  c.start_pre.insert(c.start_pre.end(), flags.begin(), flags.end());
  c.start_pre.insert(c.start_pre.end(), den_args.begin(), den_args.end());
  c.run = {"pod", "start", id_file};
  c.stop = {"pod", "stop", id_file, "--ignore", "-t", "10"};
  c.stop_post = {"pod", "rm", id_file, "--ignore", "--force"};
  c.type = "forking";
  // pod create refuses an existing --pod-id-file: the last run's go first.
  c.extra_service = {"SyslogIdentifier=%N", "Restart=on-failure", "PIDFile=%t/%N.pid",
                     "ExecStartPre=/bin/rm -f %t/%N.pid %t/%N.pod-id"};
  return c;
}

// .kube: `den kube play --replace --service-container=true` in a notify
// unit (den sends READY=1 once the pods run), `kube down` when it stops.
Converted convert_kube(const std::string& file, const IniSection& s, const std::vector<QuadletFile>* all) {
  Converted c;
  References refs(all, c);
  std::string yaml, workdir_from;
  bool down_force = false;
  std::vector<std::string> flags, den_args;
  for (const auto& e : s.entries) {
    if (e.key == "Yaml") {
      yaml = e.value;
    } else if (e.key == "PublishPort") {
      if (!e.value.empty()) flags.push_back("--publish=" + e.value);
    } else if (e.key == "Network") {
      flags.push_back("--network=" + refs.resolve(e.value, "network"));
    } else if (e.key == "KubeDownForce") {
      down_force = parse_bool(file, e);
    } else if (e.key == "SetWorkingDirectory") {
      if (e.value != "yaml" && e.value != "unit")
        throw at(file, e.line, fmt::format("SetWorkingDirectory={}: use yaml or unit", e.value));
      workdir_from = e.value;
    } else if (e.key == "GlobalArgs") {
      for (const auto& w : words_at(file, e)) c.global.push_back(w);
    } else if (e.key == "PodmanArgs" || e.key == "DenArgs") {
      for (const auto& w : words_at(file, e)) den_args.push_back(w);
    } else {
      throw at(file, e.line, fmt::format("unknown key \"{}\" in [Kube]", e.key));
    }
  }
  if (yaml.empty()) throw at(file, s.line, "[Kube] has no Yaml= (the Kubernetes YAML file to play is required)");
  // Relative to the Quadlet file's directory.
  std::string dir = file.substr(0, file.rfind('/') == std::string::npos ? 0 : file.rfind('/'));
  if (yaml[0] != '/' && yaml[0] != '%' && !dir.empty()) yaml = dir + "/" + yaml;
  c.run = {"kube", "play", "--replace", "--service-container=true"};
  c.run.insert(c.run.end(), flags.begin(), flags.end());
  c.run.insert(c.run.end(), den_args.begin(), den_args.end());
  c.run.push_back(yaml);
  c.stop_post = {"kube", "down"};
  if (down_force) c.stop_post.push_back("--force");
  c.stop_post.push_back(yaml);
  c.extra_service = {"KillMode=mixed", "SyslogIdentifier=%N"};
  if (workdir_from == "yaml") c.extra_service.push_back("WorkingDirectory=" + yaml.substr(0, yaml.rfind('/')));
  if (workdir_from == "unit" && !dir.empty()) c.extra_service.push_back("WorkingDirectory=" + dir);
  return c;
}

}  // namespace

UnitFile quadlet_convert(const std::string& file, const std::string& text, const std::string& den_path,
                         const std::vector<QuadletFile>* all) {
  std::string base = basename_of(file);
  auto dot = base.rfind('.');
  std::string ext = dot == std::string::npos ? "" : base.substr(dot + 1);
  static const std::map<std::string, std::string> kinds = {
      {"container", "Container"}, {"volume", "Volume"}, {"network", "Network"}, {"pod", "Pod"}, {"kube", "Kube"}};
  auto known = kinds.find(ext);
  if (known == kinds.end())
    throw Error(fmt::format("{}: not a Quadlet file (use .container, .volume, .network, .pod or .kube)", file),
                Errc::Invalid);
  const std::string& type_section = known->second;
  std::vector<IniSection> sections = parse_unit_file(file, text);
  const IniSection* main = nullptr;
  for (const auto& s : sections) {
    if (s.name == type_section) {
      if (main) throw at(file, s.line, fmt::format("[{}] appears twice", s.name));
      main = &s;
    } else if (!is_passthrough(s.name)) {
      throw at(file, s.line, fmt::format("unknown section [{}] in a .{} file (use [Unit], [{}], [Service] or "
                                         "[Install])",
                                         s.name, ext, type_section));
    }
  }
  if (!main) throw at(file, 1, fmt::format("no [{}] section", type_section));
  Converted c = ext == "container" ? convert_container(file, *main, all)
                : ext == "pod"       ? convert_pod(file, *main, all)
                : ext == "kube"      ? convert_kube(file, *main, all)
                                     : convert_object(file, *main, ext);

  auto section_lines = [&](const std::string& name) {
    std::string out;
    for (const auto& s : sections)
      if (s.name == name)
        for (const auto& e : s.entries) out += e.key + "=" + e.value + "\n";
    return out;
  };
  auto with_den = [&](std::vector<std::string> args) {
    args.insert(args.begin(), c.global.begin(), c.global.end());
    args.insert(args.begin(), den_path);
    return systemd_command_line(args, true);
  };
  UnitFile u;
  u.name = quadlet_unit_name(base);
  std::string t = "# Automatically generated by den quadlet from " + file + "\n\n[Unit]\n";
  t += section_lines("Unit");
  t += "SourcePath=" + file + "\nRequiresMountsFor=%t\n";
  for (const auto& l : c.extra_unit) t += l + "\n";
  t += "\n[X-" + type_section + "]\n" + section_lines(type_section);
  t += "\n[Service]\n";
  t += "Environment=DEN_SYSTEMD_UNIT=%n\n";
  for (const auto& l : c.extra_service) t += l + "\n";
  t += "Type=" + c.type + "\n";
  if (c.type == "notify") t += "NotifyAccess=all\n";
  if (c.remain_after_exit) t += "RemainAfterExit=yes\n";
  if (!c.start_pre.empty()) t += "ExecStartPre=" + with_den(c.start_pre) + "\n";
  t += "ExecStart=" + with_den(c.run) + "\n";
  if (!c.stop.empty()) t += "ExecStop=-" + with_den(c.stop) + "\n";
  if (!c.stop_post.empty()) t += "ExecStopPost=-" + with_den(c.stop_post) + "\n";
  t += section_lines("Service");
  std::string install = section_lines("Install");
  if (!install.empty()) t += "\n[Install]\n" + install;
  for (const auto& s : sections)
    if (s.name.rfind("X-", 0) == 0) t += "\n[" + s.name + "]\n" + section_lines(s.name);
  u.text = std::move(t);
  return u;
}

std::vector<std::string> quadlet_dirs(bool user) {
  std::vector<std::string> dirs;
  if (user) {
    const char* xdg = std::getenv("XDG_CONFIG_HOME");
    const char* home = std::getenv("HOME");
    if (xdg && *xdg)
      dirs.push_back(std::string(xdg) + "/containers/systemd");
    else if (home && *home)
      dirs.push_back(std::string(home) + "/.config/containers/systemd");
    dirs.push_back(fmt::format("/etc/containers/systemd/users/{}", ::getuid()));
    dirs.push_back("/etc/containers/systemd/users");
  } else {
    dirs.push_back("/etc/containers/systemd");
    dirs.push_back("/usr/share/containers/systemd");
  }
  return dirs;
}

std::vector<QuadletFile> find_quadlet_files(bool user) {
  std::vector<QuadletFile> out;
  std::set<std::string> seen;
  for (const auto& d : quadlet_dirs(user)) {
    if (!is_dir(d)) continue;
    std::vector<std::string> names = list_dir(d);
    std::sort(names.begin(), names.end());
    for (const auto& n : names) {
      auto dot = n.rfind('.');
      if (dot == std::string::npos || n[0] == '.') continue;
      std::string ext = n.substr(dot + 1);
      if (ext != "container" && ext != "volume" && ext != "network" && ext != "pod" && ext != "kube") continue;
      if (!seen.insert(n).second) continue;
      out.push_back({n, d + "/" + n});
    }
  }
  return out;
}

}  // namespace den
