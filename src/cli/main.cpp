// den's entry point: global options, command lookup in the table, argument
// parsing, and the one place where errors become "Error: ..." and an exit code.
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "cli.h"
#include "den/error.h"
#include "den/log.h"
#include "den/strings.h"

using namespace den;
using namespace den::cli;

namespace {

int fail(const std::string& msg, int code = kExitEngine) {
  std::string line = "Error: " + msg + "\n";
  ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
  (void)n;
  return code;
}

// Finds the command whose path matches the longest prefix of args[i..].
const Command* find_command(const std::vector<std::string>& args, size_t i, size_t* used) {
  const Command* best = nullptr;
  size_t best_len = 0;
  for (const auto& c : command_table()) {
    for (const auto& p : c.paths) {
      if (p.size() <= best_len || i + p.size() > args.size()) continue;
      if (std::equal(p.begin(), p.end(), args.begin() + static_cast<long>(i))) {
        best = &c;
        best_len = p.size();
      }
    }
  }
  *used = best_len;
  return best;
}

// The closest command name to `word`: among the subcommands of `group` when
// given ("den container lss" suggests "ls", not "ps"), else the top level.
std::string suggest(const std::string& word, const std::string& group = "") {
  std::string best;
  size_t best_d = 3;
  auto consider = [&](const std::string& n) {
    size_t d = levenshtein(word, n);
    if (d < best_d || (n.rfind(word, 0) == 0 && word.size() >= 2 && best.empty())) {
      best_d = d;
      best = n;
    }
  };
  for (const auto& c : command_table()) {
    if (c.hidden) continue;
    for (const auto& p : c.paths) {
      if (group.empty() && p.size() == 1) consider(p[0]);
      if (!group.empty() && p.size() == 2 && p[0] == group) consider(p[1]);
    }
  }
  if (group.empty())
    for (const auto& g : groups()) consider(g.name);
  return best;
}

bool is_group(const std::string& s) {
  for (const auto& g : groups())
    if (g.name == s) return true;
  return false;
}

void apply_global(Context& ctx, const Args& a) {
  if (a.has("root")) ctx.global.overrides.root = a.value("root");
  if (a.has("runroot")) ctx.global.overrides.runroot = a.value("runroot");
  if (a.has("storage-driver")) ctx.global.overrides.storage_driver = a.value("storage-driver");
  if (a.has("cgroup-manager")) ctx.global.overrides.cgroup_manager = a.value("cgroup-manager");
  if (a.has("log-level")) ctx.global.log_level = a.value("log-level");
  if (a.flag("debug")) ctx.global.log_level = "debug";
  if (!ctx.global.log_level.empty()) {
    log::Level l;
    if (!log::parse_level(ctx.global.log_level, &l))
      throw Error(fmt::format("invalid --log-level \"{}\": use debug, info, warn or error", ctx.global.log_level),
                  Errc::Invalid);
    log::set_level(l);
  }
}

int run_main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  Context ctx;
  if (basename_of(args[0]) == "docker") ctx.prog = "docker";

  // Global options before the command.
  static const Command global_cmd = [] {
    Command c;
    c.options = {version_option()};
    return c;
  }();
  size_t i = 1;
  std::vector<std::string> pre;
  pre.push_back(args[0]);
  while (i < args.size() && args[i].size() > 1 && args[i][0] == '-') {
    pre.push_back(args[i]);
    // Options that take a value consume the next word.
    if (args[i].find('=') == std::string::npos && args[i].rfind("--", 0) == 0) {
      std::string name = args[i].substr(2);
      for (const auto& o : global_options())
        if (o.name == name && o.kind != OptKind::Bool && i + 1 < args.size()) pre.push_back(args[++i]);
    }
    i++;
  }
  Args g = parse_args(global_cmd, pre, 1, "", ctx.prog);
  apply_global(ctx, g);
  if (g.flag("version")) {
    out(fmt::format("{} version {}\n", ctx.prog == "docker" ? "den (as docker)" : "den", DEN_VERSION));
    return 0;
  }
  if (i >= args.size() || g.flag("help") || args[i] == "help") {
    if (i < args.size() && args[i] == "help" && i + 1 < args.size()) {
      // "den help images" == "den images --help"
      args.erase(args.begin() + static_cast<long>(i));
      args.push_back("--help");
    } else {
      out(main_help(ctx.prog));
      return 0;
    }
  }

  size_t used = 0;
  const Command* cmd = find_command(args, i, &used);
  if (!cmd) {
    if (is_group(args[i])) {
      if (i + 1 >= args.size() || args[i + 1] == "--help" || args[i + 1] == "-h") {
        out(group_help(args[i], ctx.prog));
        return 0;
      }
      std::string s = suggest(args[i + 1], args[i]);
      return fail(fmt::format("unknown command \"{}\" for \"{} {}\"{}", args[i + 1], ctx.prog, args[i],
                              s.empty() ? "" : fmt::format(": did you mean \"{}\"?", s)));
    }
    std::string s = suggest(args[i]);
    return fail(fmt::format("unknown command \"{}\" for \"{}\"{} (see '{} --help')", args[i], ctx.prog,
                            s.empty() ? "" : fmt::format(": did you mean \"{}\"?", s), ctx.prog));
  }
  std::string name = join(std::vector<std::string>(args.begin() + static_cast<long>(i),
                                                   args.begin() + static_cast<long>(i + used)),
                          " ");
  Args a = parse_args(*cmd, args, i + used, name, ctx.prog);
  apply_global(ctx, a);
  if (a.flag("help")) {
    out(command_help(*cmd, name, ctx.prog));
    return 0;
  }
  int n = static_cast<int>(a.positional.size());
  if (n < cmd->min_args || (cmd->max_args >= 0 && n > cmd->max_args)) {
    std::string need;
    if (cmd->min_args == cmd->max_args)
      need = fmt::format("exactly {} argument{}", cmd->min_args, cmd->min_args == 1 ? "" : "s");
    else if (n < cmd->min_args)
      need = fmt::format("at least {} argument{}", cmd->min_args, cmd->min_args == 1 ? "" : "s");
    else
      need = fmt::format("at most {} argument{}", cmd->max_args, cmd->max_args == 1 ? "" : "s");
    return fail(fmt::format("\"{} {}\" requires {} (see '{} {} --help')", ctx.prog, name, need, ctx.prog, name));
  }
  log::debug("command {} parsed at {:.2f} ms", name, log::uptime_ms());
  int rc = cmd->run(ctx, a);
  log::debug("command {} done at {:.2f} ms", name, log::uptime_ms());
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run_main(argc, argv);
  } catch (const Error& e) {
    return fail(e.what(), e.exit_code());
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}
