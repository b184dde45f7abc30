// Dockerfile instructions for `import --change` / `commit --change`. Hand
// written: it is a dozen instructions with docker's JSON-or-shell argument
// forms, which no packaged library parses.
#include <cctype>

#include "den/error.h"
#include "den/image.h"
#include "den/strings.h"

namespace den {

namespace {

// JSON array form (["a","b"]) or shell form ("a b" -> ["/bin/sh","-c","a b"]).
Json exec_form(std::string_view args, bool shell_wrap) {
  std::string a = trim(args);
  if (!a.empty() && a.front() == '[') {
    Json j = Json::parse(a, nullptr, false);
    if (!j.is_discarded() && j.is_array() && std::all_of(j.begin(), j.end(), [](const Json& e) { return e.is_string(); }))
      return j;
  }
  if (shell_wrap) return Json::array({"/bin/sh", "-c", a});
  return Json::array({a});
}

// Words separated by blanks, honouring double and single quotes (for ENV and
// LABEL key=value lists).
std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < s.size(); i++) {
    char c = s[i];
    if (quote) {
      if (c == quote) quote = 0;
      else if (c == '\\' && quote == '"' && i + 1 < s.size()) cur += s[++i];
      else cur += c;
      continue;
    }
    if (c == '"' || c == '\'') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < s.size()) {
      cur += s[++i];
      in_word = true;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      if (in_word) out.push_back(cur);
      cur.clear();
      in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (quote) throw Error("unterminated quote", Errc::Invalid);
  if (in_word) out.push_back(cur);
  return out;
}

// ENV/LABEL: "k=v k2=v2" or the legacy "k v with spaces".
std::vector<std::pair<std::string, std::string>> key_values(std::string_view args, const char* what) {
  std::vector<std::pair<std::string, std::string>> out;
  std::string a = trim(args);
  auto first_space = a.find_first_of(" \t");
  auto first_eq = a.find('=');
  if (first_eq == std::string::npos || (first_space != std::string::npos && first_space < first_eq)) {
    if (first_space == std::string::npos)
      throw Error(fmt::format("{} needs KEY=VALUE or KEY VALUE", what), Errc::Invalid);
    out.emplace_back(a.substr(0, first_space), trim(a.substr(first_space)));
    return out;
  }
  for (const auto& w : words(a)) {
    bool found = false;
    auto kv = split_once(w, '=', &found);
    if (!found || kv.first.empty()) throw Error(fmt::format("{} needs KEY=VALUE, got \"{}\"", what, w), Errc::Invalid);
    out.push_back(kv);
  }
  return out;
}

void set_env(Json& cfg, const std::string& key, const std::string& value) {
  Json& env = cfg["Env"];
  if (!env.is_array()) env = Json::array();
  std::string entry = key + "=" + value;
  for (auto& e : env) {
    std::string s = e.get<std::string>();
    if (s.compare(0, key.size() + 1, key + "=") == 0) {
      e = entry;
      return;
    }
  }
  env.push_back(entry);
}

}  // namespace

void apply_change(Json& cfg, std::string_view change) {
  std::string c = trim(change);
  auto sp = c.find_first_of(" \t");
  std::string instr = to_lower(c.substr(0, sp));
  std::string args = sp == std::string::npos ? "" : trim(c.substr(sp));
  try {
    if (args.empty()) throw Error("missing arguments", Errc::Invalid);
    if (instr == "cmd") {
      cfg["Cmd"] = exec_form(args, true);
    } else if (instr == "entrypoint") {
      cfg["Entrypoint"] = exec_form(args, true);
    } else if (instr == "env") {
      for (auto& [k, v] : key_values(args, "ENV")) set_env(cfg, k, v);
    } else if (instr == "label") {
      for (auto& [k, v] : key_values(args, "LABEL")) {
        if (!cfg["Labels"].is_object()) cfg["Labels"] = Json::object();
        cfg["Labels"][k] = v;
      }
    } else if (instr == "expose") {
      for (auto p : words(args)) {
        if (p.find('/') == std::string::npos) p += "/tcp";
        auto [port, proto] = split_once(p, '/');
        if (port.empty() || !std::all_of(port.begin(), port.end(), ::isdigit) || (proto != "tcp" && proto != "udp" && proto != "sctp"))
          throw Error(fmt::format("invalid port \"{}\"", p), Errc::Invalid);
        if (!cfg["ExposedPorts"].is_object()) cfg["ExposedPorts"] = Json::object();
        cfg["ExposedPorts"][p] = Json::object();
      }
    } else if (instr == "user") {
      cfg["User"] = args;
    } else if (instr == "workdir") {
      cfg["WorkingDir"] = args;
    } else if (instr == "stopsignal") {
      cfg["StopSignal"] = args;
    } else if (instr == "volume") {
      Json vols = exec_form(args, false);
      if (vols.size() == 1 && args.front() != '[') {
        vols = Json::array();
        for (auto& w : words(args)) vols.push_back(w);
      }
      if (!cfg["Volumes"].is_object()) cfg["Volumes"] = Json::object();
      for (auto& v : vols) cfg["Volumes"][v.get<std::string>()] = Json::object();
    } else if (instr == "onbuild") {
      if (!cfg["OnBuild"].is_array()) cfg["OnBuild"] = Json::array();
      cfg["OnBuild"].push_back(args);
    } else {
      throw Error(fmt::format("unknown instruction \"{}\" (allowed: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, "
                              "STOPSIGNAL, USER, VOLUME, WORKDIR)",
                              instr.empty() ? c : c.substr(0, sp)),
                  Errc::Invalid);
    }
  } catch (Error& e) {
    throw e.context(fmt::format("invalid change \"{}\"", c));
  }
}

}  // namespace den
