// Volume commands (create, ls, inspect, rm, prune, export, import) and cp.
// Thin: the work is in den/volume.h and den/copy.h.
#include <fcntl.h>
#include <sys/stat.h>

#include <climits>
#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "cli.h"
#include "den/container.h"
#include "den/copy.h"
#include "den/error.h"
#include "den/fs.h"
#include "den/log.h"
#include "den/monitor.h"
#include "den/strings.h"
#include "den/timefmt.h"
#include "den/volume.h"
#include "den/filter_args.h"

namespace den::cli {

namespace {

std::map<std::string, std::string> key_values(const std::vector<std::string>& list, const char* what) {
  std::map<std::string, std::string> out;
  for (const auto& kv : list) {
    bool found = false;
    auto [k, v] = split_once(kv, '=', &found);
    if (k.empty()) throw Error(fmt::format("invalid {} \"{}\": use key=value", what, kv), Errc::Invalid);
    out[k] = v;
  }
  return out;
}

Json volume_json(VolumeStore& vs, const Volume& v) {
  return {{"CreatedAt", format_rfc3339_nano(v.created / 1000000000 * 1000000000)},
          {"Driver", v.driver},
          {"Labels", v.labels.empty() ? Json::object() : Json(v.labels)},
          {"Mountpoint", vs.data_dir(v.name)},
          {"Name", v.name},
          {"Options", v.options.empty() ? Json::object() : Json(v.options)},
          {"Scope", "local"}};
}

int cmd_volume_create(Context& ctx, const Args& a) {
  VolumeStore vs(ctx.store());
  Volume v;
  if (!a.positional.empty()) v.name = a.positional[0];
  v.driver = a.value("driver", "local");
  v.labels = key_values(a.list("label"), "--label");
  v.options = key_values(a.list("opt"), "--opt");
  v = vs.create(v, true);  // docker: creating an existing volume is fine
  out(v.name + "\n");
  return 0;
}

bool label_matches(const Volume& v, const std::string& want) {
  auto [k, val] = split_once(want, '=');
  auto it = v.labels.find(k);
  return it != v.labels.end() && (want.find('=') == std::string::npos || it->second == val);
}

int cmd_volume_ls(Context& ctx, const Args& a) {
  VolumeStore vs(ctx.store());
  // docker's keys and rules (den/filter_args.h); name= is a pattern.
  FilterArgs filters = FilterArgs::parse(a.list("filter"), {"dangling", "driver", "label", "name"});
  std::optional<bool> dangling = filters.boolean("dangling");
  std::vector<Json> rows;
  for (const auto& v : vs.list()) {
    if (!filters.match("name", v.name) || !filters.exact("driver", v.driver) || !filters.labels_match(v.labels))
      continue;
    if (dangling && vs.users(v.name).empty() != *dangling) continue;
    Json j = volume_json(vs, v);
    std::vector<std::string> labels;
    for (const auto& [lk, lv] : v.labels) labels.push_back(lk + "=" + lv);
    j["Labels"] = join(labels, ",");
    j["Options"] = "";
    j["Size"] = "N/A";
    j["Links"] = "N/A";
    rows.push_back(j);
  }
  std::string format = a.value("format");
  if (a.flag("quiet")) format = "{{.Name}}";
  if (format.empty()) format = "table {{.Driver}}\t{{.Name}}";
  Json header = {{"CreatedAt", "CREATED"}, {"Driver", "DRIVER"},   {"Labels", "LABELS"}, {"Links", "LINKS"},
                 {"Mountpoint", "MOUNTPOINT"}, {"Name", "VOLUME NAME"}, {"Options", "OPTIONS"}, {"Scope", "SCOPE"},
                 {"Size", "SIZE"}};
  print_formatted(format, header, rows, &label_method());
  return 0;
}

int cmd_volume_inspect(Context& ctx, const Args& a) {
  VolumeStore vs(ctx.store());
  std::vector<Json> items;
  for (const auto& n : a.positional) items.push_back(volume_json(vs, vs.get(n)));
  print_inspect(a.value("format"), items);
  return 0;
}

int cmd_volume_rm(Context& ctx, const Args& a) {
  VolumeStore vs(ctx.store());
  int rc = 0;
  for (const auto& n : a.positional) {
    try {
      if (!vs.find(n)) {
        if (a.flag("force")) continue;
        throw Error(fmt::format("no such volume: {}", n), Errc::NotFound);
      }
      run_in_userns(ctx.config(), [&] { vs.remove(n, a.flag("force")); });
      out(n + "\n");
    } catch (const Error& e) {
      write_all(STDERR_FILENO, fmt::format("Error: {}\n", e.what()));
      rc = kExitEngine;
    }
  }
  return rc;
}

int cmd_volume_prune(Context& ctx, const Args& a) {
  if (!a.flag("force")) {
    out(a.flag("all") ? "WARNING! This will remove all local volumes not used by at least one container.\n"
                      : "WARNING! This will remove anonymous local volumes not used by at least one container.\n");
    out("Are you sure you want to continue? [y/N] ");
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "Y" && answer != "yes") return 0;
  }
  std::vector<std::string> labels;
  for (const auto& f : a.list("filter")) {
    auto [k, v] = split_once(f, '=');
    if (k != "label") throw Error(fmt::format("invalid filter \"{}\": volume prune takes label=K[=V]", f), Errc::Invalid);
    labels.push_back(v);
  }
  VolumeStore vs(ctx.store());
  std::string text;
  uint64_t reclaimed = 0;
  for (const auto& v : vs.list()) {
    if (!a.flag("all") && !v.anonymous) continue;  // docker 23+: named volumes only with --all
    if (!std::all_of(labels.begin(), labels.end(), [&](const std::string& l) { return label_matches(v, l); })) continue;
    if (!vs.users(v.name).empty()) continue;
    try {
      uint64_t size = 0;
      run_in_userns(ctx.config(), [&] {
        size = dir_size(vs.data_dir(v.name));
        vs.remove(v.name);
      });
      reclaimed += size;
      if (text.empty()) text = "Deleted Volumes:\n";
      text += v.name + "\n";
    } catch (const Error& e) {
      if (e.code() != Errc::InUse) throw;  // taken meanwhile
    }
  }
  if (!text.empty()) text += "\n";
  text += "Total reclaimed space: " + human_size(static_cast<double>(reclaimed)) + "\n";
  out(text);
  return 0;
}

int cmd_volume_export(Context& ctx, const Args& a) {
  VolumeStore vs(ctx.store());
  Volume v = vs.get(a.positional[0]);
  std::string output = a.value("output");
  ArchiveOutput file(output);
  ctx.enter_userns();  // the files belong to subordinate ids
  log::Phase phase("volume export");
  write_tar(file.fd(), vs.data_dir(v.name), ".");
  file.commit();
  return 0;
}

int cmd_volume_import(Context& ctx, const Args& a) {
  VolumeStore vs(ctx.store());
  Volume v = vs.get(a.positional[0]);
  UniqueFd file;
  int fd = STDIN_FILENO;
  if (a.positional.size() > 1 && a.positional[1] != "-") {
    file = open_file(a.positional[1], O_RDONLY);
    fd = file.get();
  }
  ctx.enter_userns();
  log::Phase phase("volume import");
  UntarOptions opts;
  opts.rootless = ctx.config().rootless;
  import_volume_tar(vs, v.name, fd, opts);
  return 0;
}

// ---- cp ----------------------------------------------------------------------

int cmd_cp(Context& ctx, const Args& a) {
  log::Phase phase("cp");
  std::string src = a.positional[0], dst = a.positional[1];
  std::string src_ctr, src_path, dst_ctr, dst_path;
  bool from = split_container_path(src, &src_ctr, &src_path);
  bool to = split_container_path(dst, &dst_ctr, &dst_path);
  if (from == to)
    throw Error(from ? "copying between containers is not supported: copy to the host first"
                     : "one of source and destination must be a container path, CONTAINER:PATH",
                Errc::Invalid);
  ContainerStore cs(ctx.store());
  bool follow = a.flag("follow-link");
  UntarOptions opts;
  opts.rootless = ctx.config().rootless;
  if (from) {
    // Container to host: the helper tars the source (resolved inside the
    // container), we extract here as the user (owned by us, as docker does).
    std::string id = cs.resolve(src_ctr);
    if (src_path.empty()) src_path = "/";
    if (src_path[0] != '/') src_path = "/" + src_path;  // relative to the container's root
    opts.keep_owners = false;
    if (dst != "-" && ::geteuid() == 0) opts.keep_owners = a.flag("archive");
    if (dst == "-" && stdout_is_terminal())
      throw Error("cowardly refusing to write a tar archive to a terminal: redirect it", Errc::Invalid);
    with_container_root(
        cs, id, true,
        [&](int fd) {
          std::string p = src_path;
          bool contents = p.size() > 1 && (p.size() >= 2 && p.compare(p.size() - 2, 2, "/.") == 0);
          while (p.size() > 1 && (p.back() == '/' || (p.size() > 2 && p.compare(p.size() - 2, 2, "/.") == 0)))
            p.erase(p.size() - (p.back() == '/' ? 1 : 2));
          struct stat st;
          if (::lstat(p.c_str(), &st) != 0)
            throw Error(fmt::format("could not find the file {} in container {}", src_path, src_ctr), Errc::NotFound);
          if (S_ISLNK(st.st_mode) && (follow || src_path.back() == '/' || contents)) {
            char real[PATH_MAX];
            if (!::realpath(p.c_str(), real))
              throw Error(fmt::format("{} in container {}: a dangling symlink", src_path, src_ctr), Errc::NotFound);
            p = real;
          }
          std::string top = contents ? "." : basename_of(p);
          if (p == "/") top = ".";
          write_tar(fd, p, top);
        },
        [&](int fd) {
          if (dst == "-") {
            char buf[65536];
            for (;;) {
              size_t n = read_some(fd, buf, sizeof buf);
              if (n == 0) break;
              write_all(STDOUT_FILENO, std::string_view(buf, n));
            }
          } else {
            extract_copy(fd, dst, opts);
          }
        });
    return 0;
  }
  // Host to container: we tar the source as the user; the helper extracts it
  // into the container (as the container's root unless -a).
  std::string id = cs.resolve(dst_ctr);
  if (dst_path.empty() || dst_path[0] != '/') dst_path = "/" + dst_path;
  opts.keep_owners = a.flag("archive");
  std::string host = src;
  if (src != "-") {
    struct stat st;
    if (::lstat(src.c_str(), &st) != 0) throw sys_error("cp: " + src);
    bool contents = src.size() >= 2 && src.compare(src.size() - 2, 2, "/.") == 0;
    while (host.size() > 1 && (host.back() == '/' || (host.size() > 2 && host.compare(host.size() - 2, 2, "/.") == 0)))
      host.erase(host.size() - (host.back() == '/' ? 1 : 2));
    if (S_ISLNK(st.st_mode) && follow) {
      char real[PATH_MAX];
      if (!::realpath(host.c_str(), real)) throw sys_error("cp: " + src);
      host = real;
    }
    std::string top = contents ? "." : basename_of(host);
    if (host == "/" || top.empty()) top = ".";
    with_container_root(
        cs, id, false, [&](int fd) { extract_copy(fd, dst_path, opts); },
        [&](int fd) { write_tar(fd, host, top); });
    return 0;
  }
  // A tar on stdin goes into an existing directory, as it is.
  with_container_root(
      cs, id, false, [&](int fd) { extract_tar(fd, dst_path, opts); },
      [&](int fd) {
        char buf[65536];
        for (;;) {
          size_t n = read_some(STDIN_FILENO, buf, sizeof buf);
          if (n == 0) break;
          write_all(fd, std::string_view(buf, n), "send the tar to the container");
        }
      });
  return 0;
}

}  // namespace

void register_volume_commands(std::vector<Command>& t) {
  t.push_back({{{"volume", "create"}},
               "[OPTIONS] [VOLUME]",
               "Create a volume",
               "den volume create data\nden volume create --label team=a -o type=tmpfs -o o=size=64m scratch",
               {{"driver", 'd', OptKind::Value, "string", "Specify volume driver name", "\"local\""},
                {"label", 'l', OptKind::List, "list", "Set metadata for a volume", ""},
                {"opt", 'o', OptKind::List, "map", "Set driver specific options: type=tmpfs, o=..., device=...", ""}},
               false, 0, 1, cmd_volume_create});
  t.push_back({{{"volume", "ls"}, {"volume", "list"}},
               "[OPTIONS]",
               "List volumes",
               "den volume ls\nden volume ls -q -f dangling=true\nden volume ls -f name=^db -f label=env=prod --format '{{.Name}} {{.Label \"env\"}}'\n"
               "# filters: dangling driver label name",
               {{"filter", 'f', OptKind::List, "filter", "Provide filter values (e.g. 'dangling=true')", ""},
                {"format", 0, OptKind::Value, "string", "Format output using a Go template, 'table ...' or 'json'", ""},
                {"quiet", 'q', OptKind::Bool, "", "Only display volume names", ""}},
               false, 0, 0, cmd_volume_ls});
  t.push_back({{{"volume", "inspect"}},
               "[OPTIONS] VOLUME [VOLUME...]",
               "Display detailed information on one or more volumes",
               "den volume inspect data\nden volume inspect -f '{{.Mountpoint}}' data",
               {{"format", 'f', OptKind::Value, "string", "Format output using a Go template", ""}},
               false, 1, -1, cmd_volume_inspect});
  t.push_back({{{"volume", "rm"}, {"volume", "remove"}},
               "[OPTIONS] VOLUME [VOLUME...]",
               "Remove one or more volumes",
               "den volume rm data",
               {{"force", 'f', OptKind::Bool, "", "Force the removal of one or more volumes", ""}},
               false, 1, -1, cmd_volume_rm});
  t.push_back({{{"volume", "prune"}},
               "[OPTIONS]",
               "Remove unused local volumes",
               "den volume prune -f\nden volume prune -a -f",
               {{"all", 'a', OptKind::Bool, "", "Remove all unused volumes, not just anonymous ones", ""},
                {"filter", 0, OptKind::List, "filter", "Provide filter values (e.g. 'label=<label>')", ""},
                {"force", 'f', OptKind::Bool, "", "Do not prompt for confirmation", ""}},
               false, 0, 0, cmd_volume_prune});
  t.push_back({{{"volume", "export"}},
               "[OPTIONS] VOLUME",
               "Export the contents of a volume as a tar archive",
               "den volume export data > data.tar",
               {{"output", 'o', OptKind::Value, "string", "Write to a file, instead of STDOUT", ""}},
               false, 1, 1, cmd_volume_export});
  t.push_back({{{"volume", "import"}},
               "VOLUME [SOURCE]",
               "Import a tar archive into a volume",
               "den volume import data data.tar\ngzip -dc data.tar.gz | den volume import data -",
               {},
               false, 1, 2, cmd_volume_import});
  t.back().notes = kNotesTarEntries;
  t.push_back({{{"cp"}, {"container", "cp"}},
               "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n  den cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
               "Copy files/folders between a container and the local filesystem",
               "den cp web:/etc/nginx/nginx.conf .\nden cp ./dir web:/opt\nden cp - web:/x < a.tar\nden cp web:/x - > a.tar",
               {{"archive", 'a', OptKind::Bool, "", "Archive mode (copy all uid/gid information)", ""},
                {"follow-link", 'L', OptKind::Bool, "", "Always follow symbol link in SRC_PATH", ""}},
               false, 2, 2, cmd_cp});
  t.back().notes = kNotesTarEntries;
}

}  // namespace den::cli
