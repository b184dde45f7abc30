// pull, push, login, logout.
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>

#include "cli.h"
#include "den/error.h"
#include "den/events.h"
#include "den/fs.h"
#include "den/hash.h"
#include "den/timefmt.h"
#include "den/image_archive.h"
#include "den/reference.h"
#include "den/registry.h"
#include "den/strings.h"

namespace den::cli {

namespace {

void registry_options(const Args& a, RegistryOptions& o) {
  if (a.has("tls-verify")) o.tls_verify = a.value("tls-verify", "true") != "false";
  o.cert_dir = a.value("cert-dir");
  if (a.has("creds")) {
    bool found = false;
    auto [u, p] = split_once(a.value("creds"), ':', &found);
    if (u.empty()) throw Error("--creds: expected USERNAME[:PASSWORD]", Errc::Invalid);
    o.creds = Credentials{u, p};
  }
}

void parse_platform(const std::string& platform, PullOptions& o) {
  if (platform.empty()) return;
  auto parts = split(platform, '/');
  if (parts.size() < 2 || parts.size() > 3)
    throw Error(fmt::format("invalid --platform \"{}\": expected os/arch[/variant]", platform), Errc::Invalid);
  o.os = parts[0];
  o.arch = parts[1];
  if (parts.size() == 3) o.variant = parts[2];
}

std::function<void(const std::string&)> stderr_progress(bool quiet) {
  if (quiet) return {};
  return [](const std::string& line) { write_all(STDERR_FILENO, line + "\n", "write to stderr"); };
}

// Per-layer bars on a terminal: one line per layer, redrawn in place (at
// most 10 times a second) with bytes, total and speed.
class LayerBars {
 public:
  void update(const LayerProgress& p) {
    if (rows_.empty()) {
      rows_.resize(p.count);
      start_ = std::chrono::steady_clock::now();
    }
    if (p.index >= rows_.size()) return;
    Row& r = rows_[p.index];
    r.digest = p.digest;
    r.done = p.done;
    r.total = p.total;
    r.skipped = p.skipped;
    r.seen = true;
    auto now = std::chrono::steady_clock::now();
    bool finished = p.done >= p.total;
    if (!finished && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    draw(now);
  }

 private:
  struct Row {
    std::string digest;
    uint64_t done = 0, total = 0;
    bool skipped = false, seen = false;
  };
  void draw(std::chrono::steady_clock::time_point now) {
    double secs = std::max(0.001, std::chrono::duration<double>(now - start_).count());
    std::string s;
    if (drawn_ > 0) s += fmt::format("\x1b[{}A", drawn_);  // back to the first bar
    size_t lines = 0;
    for (const auto& r : rows_) {
      if (!r.seen) continue;
      std::string state;
      if (r.skipped) {
        state = "skipped: already exists";
      } else {
        double frac = r.total ? static_cast<double>(r.done) / static_cast<double>(r.total) : 1.0;
        int width = 30, fill = static_cast<int>(frac * width);
        std::string bar(static_cast<size_t>(fill), '=');
        if (fill < width) bar += '>' + std::string(static_cast<size_t>(width - fill - 1), ' ');
        state = fmt::format("[{}] {} / {} {}/s", bar, human_size(static_cast<double>(r.done)),
                            human_size(static_cast<double>(r.total)),
                            human_size(static_cast<double>(r.done) / secs));
        if (r.done >= r.total) state = fmt::format("{} / {} done", human_size(static_cast<double>(r.total)),
                                                   human_size(static_cast<double>(r.total)));
      }
      s += fmt::format("\x1b[2KCopying blob {} {}\n", digest_hex(r.digest).substr(0, 12), state);
      lines++;
    }
    drawn_ = lines;
    write_all(STDERR_FILENO, s, "write to stderr");
  }
  std::vector<Row> rows_;
  size_t drawn_ = 0;
  std::chrono::steady_clock::time_point start_{}, last_draw_{};
};

// Progress for a pull: bars on a terminal, plain lines otherwise, nothing
// with -q.
void pull_progress(PullOptions& o, bool quiet, std::shared_ptr<LayerBars>& bars) {
  o.progress = stderr_progress(quiet);
  if (quiet || !::isatty(STDERR_FILENO)) return;
  bars = std::make_shared<LayerBars>();
  o.layer_progress = [b = bars](const LayerProgress& p) { b->update(p); };
}

int cmd_pull(Context& ctx, const Args& a) {
  PullOptions o;
  registry_options(a, o);
  parse_platform(a.value("platform"), o);
  std::shared_ptr<LayerBars> bars;
  pull_progress(o, a.flag("quiet"), bars);
  if (a.flag("all-tags")) {
    Reference ref = parse_reference(a.positional[0]);
    if (!ref.tag.empty() || !ref.digest.empty())
      throw Error("--all-tags takes a repository without a tag or digest", Errc::Invalid);
    if (is_short_name(a.positional[0]))
      throw Error("--all-tags needs a full repository name (registry/repository)", Errc::Invalid);
    std::vector<std::string> tags = list_tags(ctx.config(), ref.name(), o);
    if (tags.empty()) throw Error(fmt::format("{} has no tags", ref.name()), Errc::NotFound);
    ctx.enter_userns();
    for (const auto& t : tags) {
      ImageRecord rec = pull_image(ctx.store(), ref.name() + ":" + t, o);
      emit_image_event(ctx.config(), "pull", ref.name() + ":" + t, ref.name() + ":" + t);
      out(rec.id + "\n");
    }
    return 0;
  }
  ctx.enter_userns();
  ImageRecord rec = pull_image(ctx.store(), a.positional[0], o);
  emit_image_event(ctx.config(), "pull", a.positional[0], a.positional[0]);
  out(rec.id + "\n");
  return 0;
}

int cmd_manifest_inspect(Context& ctx, const Args& a) {
  RegistryOptions o;
  registry_options(a, o);
  std::string text = fetch_manifest(ctx.config(), a.positional[0], o);
  Json j = Json::parse(text, nullptr, false);
  out(j.is_discarded() ? text : j.dump(4) + "\n");
  return 0;
}

// docker's formatter.Ellipsis: at most width characters (UTF-8 code
// points), the last of them "…" when it had to cut.
std::string ellipsis(const std::string& s, size_t width) {
  size_t chars = 0, cut = 0;
  for (size_t i = 0; i < s.size(); i++) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (chars == width - 1) cut = i;
    if (++chars > width) return s.substr(0, cut) + "\u2026";
  }
  return s;
}

int cmd_search(Context& ctx, const Args& a) {
  RegistryOptions o;
  registry_options(a, o);
  std::string term = a.positional[0];
  std::vector<std::string> registries;
  // "host:5000/term" searches that registry; a bare term every search registry.
  auto slash = term.find('/');
  if (slash != std::string::npos &&
      (term.substr(0, slash).find_first_of(".:") != std::string::npos || term.substr(0, slash) == "localhost")) {
    registries.push_back(term.substr(0, slash));
    term = term.substr(slash + 1);
  } else {
    registries = load_registries_conf(ctx.config()).search;
  }
  int limit = a.has("limit") ? std::stoi(a.value("limit")) : 25;
  // docker's filters: stars=N, is-official=BOOL, is-automated=BOOL.
  int min_stars = 0;
  std::optional<bool> official, automated;
  for (const auto& f : a.list("filter")) {
    auto eq = f.find('=');
    std::string k = f.substr(0, eq), v = eq == std::string::npos ? "" : f.substr(eq + 1);
    auto boolean = [&] {
      if (v != "true" && v != "false")
        throw Error(fmt::format("invalid filter \"{}\": {} takes true or false", f, k), Errc::Invalid);
      return v == "true";
    };
    if (k == "stars") {
      try {
        size_t used = 0;
        min_stars = std::stoi(v, &used);
        if (used != v.size()) throw std::invalid_argument(v);
      } catch (const std::exception&) {
        throw Error(fmt::format("invalid filter \"{}\": stars takes a number", f), Errc::Invalid);
      }
    } else if (k == "is-official") {
      official = boolean();
    } else if (k == "is-automated") {
      automated = boolean();
    } else {
      throw Error(fmt::format("invalid filter \"{}\": use stars=N, is-official=true|false or is-automated=true|false",
                              f),
                  Errc::Invalid);
    }
  }
  std::vector<Json> rows;
  std::vector<std::string> errors;
  for (const auto& reg : registries) {
    try {
      for (const auto& r : search_registry(ctx.config(), reg, term, limit, o)) {
        if (static_cast<int>(rows.size()) >= limit) break;
        if (r.stars < min_stars || (official && *official != r.official) ||
            (automated && *automated != r.automated))
          continue;
        // docker fits descriptions in 45 characters, "…" included.
        std::string desc = r.description;
        std::replace(desc.begin(), desc.end(), '\n', ' ');
        std::replace(desc.begin(), desc.end(), '\r', ' ');
        if (!a.flag("no-trunc")) desc = ellipsis(desc, 45);
        rows.push_back({{"Index", reg},
                        {"Name", r.name},
                        {"Description", desc},
                        {"StarCount", std::to_string(r.stars)},
                        {"IsOfficial", r.official ? "[OK]" : ""},
                        {"IsAutomated", r.automated ? "[OK]" : ""}});
      }
    } catch (const Error& e) {
      errors.push_back(e.what());
    }
  }
  if (rows.empty() && !errors.empty()) throw Error(join(errors, "; "));
  std::string format = a.value("format");
  if (format.empty()) format = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}\t{{.IsAutomated}}";
  Json header = {{"Index", "INDEX"},      {"Name", "NAME"},         {"Description", "DESCRIPTION"},
                 {"StarCount", "STARS"}, {"IsOfficial", "OFFICIAL"}, {"IsAutomated", "AUTOMATED"}};
  print_formatted(format, header, rows);
  return 0;
}

int cmd_push(Context& ctx, const Args& a) {
  RegistryOptions o;
  registry_options(a, o);
  o.progress = stderr_progress(a.flag("quiet"));
  ImageRecord img = ctx.store().lookup_image(a.positional[0]);
  std::string dest = a.positional.size() > 1 ? a.positional[1] : a.positional[0];
  if (is_short_name(dest))
    throw Error(fmt::format("push needs a registry in the destination, e.g. localhost:5000/{}: \"{}\" has none",
                            parse_reference(dest).familiar_name(), dest),
                Errc::Invalid);
  std::string digest = push_image(ctx.store(), img, dest, o);
  emit_image_event(ctx.config(), "push", dest, dest);
  if (a.has("digestfile")) write_file_atomic(a.value("digestfile"), digest);
  if (!a.flag("quiet")) write_all(STDERR_FILENO, "Storing signatures\n");
  return 0;
}

std::string read_password_stdin() {
  std::string pw;
  char buf[4096];
  size_t n;
  while ((n = read_some(STDIN_FILENO, buf, sizeof buf)) > 0) pw.append(buf, n);
  while (!pw.empty() && (pw.back() == '\n' || pw.back() == '\r')) pw.pop_back();
  return pw;
}

std::string prompt(const std::string& text, bool secret) {
  if (!::isatty(STDIN_FILENO))
    throw Error("no terminal to ask for credentials: use --username with --password-stdin", Errc::Invalid);
  write_all(STDERR_FILENO, text);
  struct termios old {}, quiet {};
  bool restore = false;
  if (secret && ::tcgetattr(STDIN_FILENO, &old) == 0) {
    quiet = old;
    quiet.c_lflag &= static_cast<tcflag_t>(~ECHO);
    restore = ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet) == 0;
  }
  std::string line;
  std::getline(std::cin, line);
  if (restore) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
    write_all(STDERR_FILENO, "\n");
  }
  return line;
}

// "https://host/v1/" and "host" both name host.
std::string registry_host(std::string r) {
  for (const char* scheme : {"https://", "http://"})
    if (r.rfind(scheme, 0) == 0) r = r.substr(std::strlen(scheme));
  r = r.substr(0, r.find('/'));
  if (r == "index.docker.io" || r == "registry-1.docker.io") r = "docker.io";
  return r;
}

int cmd_login(Context& ctx, const Args& a) {
  std::string registry = registry_host(a.positional.empty() ? "docker.io" : a.positional[0]);
  RegistryOptions o;
  registry_options(a, o);
  Credentials c;
  c.username = a.value("username");
  if (a.has("password") && a.flag("password-stdin"))
    throw Error("--password and --password-stdin are mutually exclusive", Errc::Invalid);
  if (a.flag("password-stdin")) {
    if (c.username.empty()) throw Error("--password-stdin needs --username", Errc::Invalid);
    c.password = read_password_stdin();
  } else if (a.has("password")) {
    c.password = a.value("password");
    write_all(STDERR_FILENO, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");
  }
  if (c.username.empty()) c.username = prompt("Username: ", false);
  if (c.password.empty()) c.password = prompt("Password: ", true);
  if (c.username.empty() || c.password.empty()) throw Error("username and password are required", Errc::Invalid);
  const Config& cfg = ctx.config();
  check_login(cfg, registry, c, o);
  store_credentials(cfg, registry, c);
  out("Login Succeeded!\n");
  return 0;
}

int cmd_logout(Context& ctx, const Args& a) {
  const Config& cfg = ctx.config();
  if (a.flag("all")) {
    remove_credentials(cfg, "");
    out("Removed login credentials for all registries\n");
    return 0;
  }
  std::string registry = registry_host(a.positional.empty() ? "docker.io" : a.positional[0]);
  if (!remove_credentials(cfg, registry))
    throw Error(fmt::format("not logged into {}", registry), Errc::NotFound);
  out(fmt::format("Removed login credentials for {}\n", registry));
  return 0;
}

const Option kTlsVerify{"tls-verify", 0, OptKind::Value, "bool",
                        "Require HTTPS and verify certificates when contacting registries", "true"};
const Option kCertDir{"cert-dir", 0, OptKind::Value, "string", "Use certificates (*.crt) in this directory", ""};
const Option kCreds{"creds", 0, OptKind::Value, "string", "Use [username[:password]] for accessing the registry", ""};

}  // namespace

ImageRecord pull_if_needed(Context& ctx, const std::string& image, const std::string& policy, bool quiet) {
  if (policy != "always" && policy != "missing" && policy != "never" && policy != "newer")
    throw Error(fmt::format("invalid --pull \"{}\": use always, missing, newer or never", policy), Errc::Invalid);
  if (policy != "always") {
    if (auto rec = ctx.store().find_image(image)) return *rec;
    if (policy == "never")
      throw Error(fmt::format("{}: image not known (and --pull=never)", image), Errc::NotFound);
  }
  PullOptions o;
  std::shared_ptr<LayerBars> bars;
  pull_progress(o, quiet, bars);
  ctx.enter_userns();
  ImageRecord rec = pull_image(ctx.store(), image, o);
  emit_image_event(ctx.config(), "pull", image, image);
  return rec;
}

void register_registry_commands(std::vector<Command>& t) {
  t.push_back({{{"pull"}, {"image", "pull"}},
               "[OPTIONS] NAME[:TAG|@DIGEST]",
               "Pull an image from a registry",
               "den pull localhost:5000/tz/bb\nden pull --tls-verify=false 127.0.0.1:5000/bb:1\nden pull busybox",
               {{"quiet", 'q', OptKind::Bool, "", "Suppress the progress output", ""},
                {"platform", 0, OptKind::Value, "string", "Pull the image for this os/arch[/variant]", ""},
                {"all-tags", 'a', OptKind::Bool, "", "Download all tagged images in the repository", ""},
                kTlsVerify, kCertDir, kCreds},
               false, 1, 1, cmd_pull});
  t.back().notes = std::string(kNotesMetadataSize) + "\n" + kNotesTarEntries;
  t.push_back({{{"push"}, {"image", "push"}},
               "[OPTIONS] IMAGE [DESTINATION]",
               "Push an image to a registry",
               "den tag bb localhost:5000/tz/bb && den push localhost:5000/tz/bb\nden push bb localhost:5000/bb:1",
               {{"quiet", 'q', OptKind::Bool, "", "Suppress the progress output", ""},
                {"digestfile", 0, OptKind::Value, "string", "Write the digest of the pushed image to this file", ""},
                kTlsVerify, kCertDir, kCreds},
               false, 1, 2, cmd_push});
  t.push_back({{{"manifest", "inspect"}},
               "[OPTIONS] NAME[:TAG|@DIGEST]",
               "Display the manifest (or manifest list) of an image in a registry",
               "den manifest inspect localhost:5000/tz/bb:1",
               {kTlsVerify, kCertDir, kCreds},
               false, 1, 1, cmd_manifest_inspect});
  t.push_back({{{"search"}},
               "[OPTIONS] TERM",
               "Search registries for images (their search API, else their /v2/_catalog)",
               "den search localhost:5000/bb\nden search --limit 5 bb",
               {{"filter", 'f', OptKind::List, "filter", "Filter output: stars=N, is-official=BOOL, is-automated=BOOL", ""},
                {"limit", 0, OptKind::Value, "int", "Limit the number of results", "25"},
                {"format", 0, OptKind::Value, "string", "Format the output using a Go template", ""},
                {"no-trunc", 0, OptKind::Bool, "", "Do not truncate output", ""},
                kTlsVerify, kCertDir, kCreds},
               false, 1, 1, cmd_search});
  t.push_back({{{"login"}},
               "[OPTIONS] [REGISTRY]",
               "Log in to a registry",
               "den login -u me localhost:5000\necho \"$PW\" | den login -u me --password-stdin localhost:5000",
               {{"username", 'u', OptKind::Value, "string", "Username", ""},
                {"password", 'p', OptKind::Value, "string", "Password (insecure: prefer --password-stdin)", ""},
                {"password-stdin", 0, OptKind::Bool, "", "Take the password from stdin", ""},
                kTlsVerify, kCertDir},
               false, 0, 1, cmd_login});
  t.push_back({{{"logout"}},
               "[OPTIONS] [REGISTRY]",
               "Log out from a registry",
               "den logout localhost:5000\nden logout --all",
               {{"all", 'a', OptKind::Bool, "", "Remove the credentials of all registries", ""}},
               false, 0, 1, cmd_logout});
}

}  // namespace den::cli
