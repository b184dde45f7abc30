// The command table: every command family registers its commands here, and
// the top-level and group help pages are generated from it.
#include <algorithm>

#include <fmt/format.h>

#include "cli.h"
#include "den/strings.h"

namespace den::cli {

std::string main_help(const std::string& prog) {
  std::string out = fmt::format(
      "\nUsage:  {} [OPTIONS] COMMAND\n\nA daemonless, rootless container engine (docker-compatible)\n\n", prog);
  out += "Management Commands:\n";
  for (const auto& g : groups()) out += fmt::format("  {:<12}{}\n", g.name, g.summary);
  out += "\nCommands:\n";
  std::vector<std::pair<std::string, std::string>> cmds;
  for (const auto& c : command_table())
    for (const auto& p : c.paths)
      if (p.size() == 1) cmds.emplace_back(p[0], c.summary);
  std::sort(cmds.begin(), cmds.end());
  for (const auto& [n, s] : cmds) out += fmt::format("  {:<12}{}\n", n, s);
  out += "\nGlobal Options:\n" + options_help(global_options());
  out += fmt::format("\nRun '{} COMMAND --help' for more information on a command.\n", prog);
  return out;
}

std::string group_help(const std::string& group, const std::string& prog) {
  std::string summary;
  for (const auto& g : groups())
    if (g.name == group) summary = g.summary;
  std::string out = fmt::format("\nUsage:  {} {} COMMAND\n\n{}\n\nCommands:\n", prog, group, summary);
  std::vector<std::pair<std::string, std::string>> cmds;
  for (const auto& c : command_table())
    for (const auto& p : c.paths)
      if (p.size() == 2 && p[0] == group) {
        cmds.emplace_back(p[1], c.summary);
        break;
      }
  std::sort(cmds.begin(), cmds.end());
  for (const auto& [n, s] : cmds) out += fmt::format("  {:<12}{}\n", n, s);
  out += fmt::format("\nRun '{} {} COMMAND --help' for more information on a command.\n", prog, group);
  return out;
}

const std::vector<Group>& groups() {
  static const std::vector<Group> g = {
      {"image", "Manage images"},
      {"system", "Manage den"},
  };
  return g;
}

const std::vector<Command>& command_table() {
  static const std::vector<Command> table = [] {
    std::vector<Command> t;
    register_system_commands(t);
    register_image_commands(t);
    register_transfer_commands(t);
    return t;
  }();
  return table;
}

}  // namespace den::cli
