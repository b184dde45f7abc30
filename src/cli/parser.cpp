#include <algorithm>

#include "cli.h"
#include "den/error.h"
#include "den/strings.h"
#include "den/userns.h"

namespace den::cli {

bool Args::flag(const std::string& name) const {
  auto it = values.find(name);
  return it != values.end() && !it->second.empty() && it->second.back() == "true";
}

std::string Args::value(const std::string& name, const std::string& def) const {
  auto it = values.find(name);
  return it == values.end() || it->second.empty() ? def : it->second.back();
}

std::vector<std::string> Args::list(const std::string& name) const {
  auto it = values.find(name);
  return it == values.end() ? std::vector<std::string>{} : it->second;
}

const Config& Context::config() {
  if (!config_) config_ = load_config(global.overrides);
  return *config_;
}

Store& Context::store() {
  if (!store_) store_ = std::make_unique<Store>(config());
  return *store_;
}

void Context::enter_userns() { den::enter_userns(config()); }

const std::vector<Option>& global_options() {
  static const std::vector<Option> opts = {
      {"root", 0, OptKind::Value, "string", "Path to the image store (graph root)", ""},
      {"runroot", 0, OptKind::Value, "string", "Path to the runtime state directory", ""},
      {"storage-driver", 0, OptKind::Value, "string", "Storage driver: overlay or vfs", ""},
      {"cgroup-manager", 0, OptKind::Value, "string", "Cgroup manager: systemd, cgroupfs or auto", ""},
      {"log-level", 0, OptKind::Value, "string", "Log level: debug, info, warn, error", "\"warn\""},
      {"debug", 'D', OptKind::Bool, "", "Enable debug output (same as --log-level=debug)", "", true},
      {"help", 'h', OptKind::Bool, "", "Print usage", ""},
  };
  return opts;
}

const Option& version_option() {
  static const Option o{"version", 'v', OptKind::Bool, "", "Print version information and quit", ""};
  return o;
}

namespace {

const Option* find_long(const Command& cmd, std::string_view name) {
  for (const auto& o : cmd.options)
    if (o.name == name) return &o;
  for (const auto& o : global_options())
    if (o.name == name) return &o;
  return nullptr;
}

const Option* find_short(const Command& cmd, char c) {
  for (const auto& o : cmd.options)
    if (o.short_name == c) return &o;
  for (const auto& o : global_options())
    if (o.short_name == c) return &o;
  return nullptr;
}

[[noreturn]] void usage_error(const std::string& msg, const std::string& cmd_name, const std::string& prog) {
  throw Error(fmt::format("{} (see '{} {} --help')", msg, prog, cmd_name), Errc::Invalid);
}

void set_value(Args& a, const Option& o, const std::string& v, const std::string& shown, const std::string& cmd_name,
               const std::string& prog) {
  if (o.kind == OptKind::Bool) {
    if (v != "true" && v != "false" && v != "1" && v != "0" && v != "TRUE" && v != "FALSE" && v != "t" && v != "f")
      usage_error(fmt::format("invalid argument \"{}\" for \"{}\" flag: use true or false", v, shown), cmd_name, prog);
    std::string norm = (v == "true" || v == "1" || v == "TRUE" || v == "t") ? "true" : "false";
    a.values[o.name] = {norm};
  } else if (o.kind == OptKind::Value) {
    a.values[o.name] = {v};
  } else {
    a.values[o.name].push_back(v);
  }
}

}  // namespace

Args parse_args(const Command& cmd, const std::vector<std::string>& argv, size_t first, const std::string& cmd_name,
                const std::string& prog) {
  Args a;
  bool only_positional = false;
  for (size_t i = first; i < argv.size(); i++) {
    const std::string& arg = argv[i];
    if (only_positional || arg.size() < 2 || arg[0] != '-') {
      a.positional.push_back(arg);
      if (cmd.stop_at_positional) only_positional = true;
      continue;
    }
    if (arg == "--") {
      only_positional = true;
      continue;
    }
    if (arg[1] == '-') {
      std::string body = arg.substr(2);
      bool has_eq = false;
      auto [name, val] = split_once(body, '=', &has_eq);
      const Option* o = find_long(cmd, name);
      if (!o) usage_error(fmt::format("unknown flag: --{}", name), cmd_name, prog);
      if (o->kind == OptKind::Bool) {
        set_value(a, *o, has_eq ? val : "true", "--" + name, cmd_name, prog);
      } else if (has_eq) {
        set_value(a, *o, val, "--" + name, cmd_name, prog);
      } else {
        if (i + 1 >= argv.size()) usage_error(fmt::format("flag needs an argument: --{}", name), cmd_name, prog);
        set_value(a, *o, argv[++i], "--" + name, cmd_name, prog);
      }
      continue;
    }
    // Short flags, possibly combined: -itd, -p8080, -e=A.
    for (size_t j = 1; j < arg.size(); j++) {
      const Option* o = find_short(cmd, arg[j]);
      if (!o) usage_error(fmt::format("unknown shorthand flag: '{}' in {}", arg[j], arg), cmd_name, prog);
      if (o->kind == OptKind::Bool) {
        if (j + 1 < arg.size() && arg[j + 1] == '=') {
          set_value(a, *o, arg.substr(j + 2), std::string("-") + arg[j], cmd_name, prog);
          break;
        }
        set_value(a, *o, "true", std::string("-") + arg[j], cmd_name, prog);
        continue;
      }
      std::string rest = arg.substr(j + 1);
      if (!rest.empty() && rest[0] == '=') rest = rest.substr(1);
      if (rest.empty()) {
        if (i + 1 >= argv.size())
          usage_error(fmt::format("flag needs an argument: '{}' in -{}", arg[j], arg[j]), cmd_name, prog);
        rest = argv[++i];
      }
      set_value(a, *o, rest, std::string("-") + arg[j], cmd_name, prog);
      break;
    }
  }
  return a;
}

std::string options_help(const std::vector<Option>& opts) {
  std::vector<std::string> lines;
  std::vector<const Option*> sorted;
  for (const auto& o : opts)
    if (!o.hidden) sorted.push_back(&o);
  std::sort(sorted.begin(), sorted.end(), [](const Option* a, const Option* b) { return a->name < b->name; });
  size_t width = 0;
  std::vector<std::pair<std::string, std::string>> rows;
  for (const Option* o : sorted) {
    std::string left = o->short_name ? fmt::format("  -{}, --{}", o->short_name, o->name) : fmt::format("      --{}", o->name);
    if (o->kind != OptKind::Bool) left += " " + (o->value_type.empty() ? std::string("string") : o->value_type);
    std::string right = o->help;
    if (!o->default_text.empty()) right += fmt::format(" (default {})", o->default_text);
    width = std::max(width, left.size());
    rows.emplace_back(left, right);
  }
  std::string out;
  for (const auto& [l, r] : rows) out += fmt::format("{:<{}}   {}\n", l, width, r);
  return out;
}

namespace {
// The table's examples are written for `den`; through the docker symlink they
// show `docker` instead, so they can be pasted as they are. Only den as a
// command word is replaced: at the start of a line, after "| " and in "$(".
std::string example_for(const std::string& line, const std::string& prog) {
  if (prog == "den") return line;
  std::string o;
  for (size_t i = 0; i < line.size();) {
    bool word_start = i == 0 || line.compare(i - 2, 2, "| ") == 0 || line.compare(i - 2, 2, "$(") == 0;
    if (word_start && line.compare(i, 4, "den ") == 0) {
      o += prog + " ";
      i += 4;
    } else {
      o += line[i++];
    }
  }
  return o;
}
}  // namespace

std::string command_help(const Command& cmd, const std::string& name, const std::string& prog) {
  std::string out = fmt::format("\nUsage:  {} {} {}\n\n{}\n", prog, name, cmd.usage, cmd.summary);
  if (cmd.paths.size() > 1) {
    std::vector<std::string> aliases;
    for (const auto& p : cmd.paths) aliases.push_back(prog + " " + join(p, " "));
    out += "\nAliases:\n  " + join(aliases, ", ") + "\n";
  }
  if (!cmd.options.empty()) out += "\nOptions:\n" + options_help(cmd.options);
  if (!cmd.example.empty()) {
    out += "\nExamples:\n";
    for (const auto& l : split(cmd.example, '\n')) out += "  " + example_for(l, prog) + "\n";
  }
  return out;
}

}  // namespace den::cli
