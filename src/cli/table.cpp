// The command table: every command family registers its commands here, and
// the top-level and group help pages are generated from it.
#include <algorithm>

#include <fmt/format.h>

#include "cli.h"
#include "services.h"
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
      if (p.size() == 1 && !c.hidden) cmds.emplace_back(p[0], c.summary);
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

namespace {

std::string roff_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\e";
    else if (c == '-') out += "\\-";
    else out += c;
  }
  // A line starting with . or ' would be a roff request.
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out = "\\&" + out;
  return out;
}

std::string roff_lines(std::string_view text) {
  std::string out;
  for (const auto& l : split(text, '\n')) out += roff_escape(l) + "\n";
  return out;
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string command_page(const Command& c) {
  std::string name = join(c.paths.front(), " ");
  std::string file = "den-" + join(c.paths.front(), "-");
  std::string out = fmt::format(".TH \"{}\" \"1\" \"\" \"den {}\" \"den Manual\"\n", upper(file), DEN_VERSION);
  out += ".SH NAME\n" + roff_escape(file) + " \\- " + roff_escape(c.summary) + "\n";
  out += ".SH SYNOPSIS\n.B den " + roff_escape(name) + "\n" + roff_lines(c.usage);
  out += ".SH DESCRIPTION\n" + roff_lines(c.summary);
  if (c.paths.size() > 1) {
    std::vector<std::string> aliases;
    for (const auto& p : c.paths) aliases.push_back("den " + join(p, " "));
    out += ".SH ALIASES\n" + roff_lines(join(aliases, ", "));
  }
  std::vector<const Option*> opts;
  for (const auto& o : c.options)
    if (!o.hidden) opts.push_back(&o);
  std::sort(opts.begin(), opts.end(), [](const Option* a, const Option* b) { return a->name < b->name; });
  if (!opts.empty()) {
    out += ".SH OPTIONS\n";
    for (const Option* o : opts) {
      out += ".TP\n";
      std::string flag = o->short_name ? fmt::format("\\fB\\-{}\\fR, ", o->short_name) : "";
      flag += "\\fB\\-\\-" + roff_escape(o->name) + "\\fR";
      if (o->kind != OptKind::Bool) flag += " \\fI" + (o->value_type.empty() ? std::string("string") : o->value_type) + "\\fR";
      out += flag + "\n" + roff_escape(o->help);
      if (!o->default_text.empty()) out += " (default " + roff_escape(o->default_text) + ")";
      out += "\n";
    }
  }
  std::string notes = c.notes;
  for (const auto& o : c.options)
    if (o.name == "format" && o.help.find("Go template") != std::string::npos)
      notes += (notes.empty() ? "" : "\n") + std::string(kNotesFormat);
  if (!notes.empty()) out += ".SH NOTES\n" + roff_lines(notes);
  if (!c.example.empty()) out += ".SH EXAMPLES\n.nf\n" + roff_lines(c.example) + ".fi\n";
  out += ".SH SEE ALSO\n\\fBden\\fR(1)\n";
  return out;
}

}  // namespace

const char* const kNotesTarEntries =
    "Tar entries follow one rule in load, pull, import, volume import and cp, that of containers/storage and "
    "docker rootless: rootless, character and block device nodes (other than 0/0, an overlay whiteout) cannot be "
    "created and are skipped with a warning, as are hard links to them; the rest is extracted. As root they are "
    "created. Entries with \"..\" components or that pass through a symlink are refused, and so is a hard link whose "
    "target is not an entry extracted before it (for cp and volume import, or a file already in the destination): "
    "hardlink \"hl\" points to \"/home/x\", outside the archive.";
const char* const kNotesMetadataSize =
    "Manifests, indexes and image configs (and an archive's manifest.json and index.json) larger than 4 MiB are "
    "refused, as containers/image does; so is an image with more than 1000 RepoTags.";
const char* const kNotesFormat =
    "Output is written row by row as it is made (a table is measured in a first pass), so it never gathers in "
    "memory. printf follows Go's fmt: a width or precision over 1e6 prints %!(BADWIDTH) or %!(BADPREC).";

std::vector<std::pair<std::string, std::string>> man_pages() {
  std::vector<std::pair<std::string, std::string>> pages;
  std::string main = fmt::format(".TH \"DEN\" \"1\" \"\" \"den {}\" \"den Manual\"\n", DEN_VERSION);
  main += ".SH NAME\nden \\- daemonless, rootless container engine (docker\\-compatible)\n";
  main += ".SH SYNOPSIS\n.B den\n[OPTIONS] COMMAND [ARG...]\n.SH DESCRIPTION\n";
  main += "den runs containers without a daemon and without root: each call forks straight into the user's own "
          "user namespace. See README.md for the architecture and configuration files.\n";
  main += ".SH GLOBAL OPTIONS\n";
  for (const auto& o : global_options()) {
    if (o.hidden) continue;
    main += ".TP\n\\fB\\-\\-" + roff_escape(o.name) + "\\fR\n" + roff_escape(o.help) + "\n";
  }
  main += ".SH COMMANDS\n";
  std::vector<std::string> see;
  for (const auto& c : command_table()) {
    if (c.hidden) continue;
    std::string file = "den-" + join(c.paths.front(), "-");
    main += ".TP\n\\fB" + roff_escape(file) + "\\fR(1)\n" + roff_escape(c.summary) + "\n";
    pages.emplace_back(file + ".1", command_page(c));
  }
  main += ".SH FILES\n.TP\n/usr/share/den/*.conf, /etc/den/*.conf, ~/.config/den/*.conf\nConfiguration, later files "
          "override earlier ones key by key.\n";
  pages.insert(pages.begin(), {"den.1", main});
  return pages;
}

const std::vector<Group>& groups() {
  static const std::vector<Group> g = {
      {"container", "Manage containers"},
      {"generate", "Generate structured data (systemd units, Kubernetes YAML)"},
      {"healthcheck", "Run container health checks"},
      {"image", "Manage images"},
      {"kube", "Play Kubernetes YAML (pods, containers, volumes) and generate it"},
      {"manifest", "Inspect manifests in registries"},
      {"quadlet", "Manage Quadlet files (containers as systemd services)"},
      {"network", "Manage networks"},
      {"play", "Play Kubernetes YAML (old spelling of kube play)"},
      {"pod", "Manage pods (containers sharing network, IPC and UTS namespaces)"},
      {"system", "Manage den"},
      {"volume", "Manage volumes"},
  };
  return g;
}

const std::vector<Command>& command_table() {
  static const std::vector<Command> table = [] {
    std::vector<Command> t;
    register_system_commands(t);
    register_image_commands(t);
    register_transfer_commands(t);
    register_container_commands(t);
    register_exec_commands(t);
    register_container_fs_commands(t);
    register_volume_commands(t);
    register_resource_commands(t);
    register_registry_commands(t);
    register_completion_commands(t);
    register_service_commands(t);
    register_network_commands(t);
    register_pod_commands(t);
    register_kube_commands(t);
    return t;
  }();
  return table;
}

}  // namespace den::cli
