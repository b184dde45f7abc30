// images, image inspect, tag, rmi, image prune.
#include <fnmatch.h>

#include <algorithm>
#include <iostream>
#include <set>

#include "cli.h"
#include "den/inspect_nils.h"
#include "den/error.h"
#include "den/events.h"
#include "den/image.h"
#include "den/log.h"
#include "den/reference.h"
#include "den/strings.h"
#include "den/timefmt.h"

namespace den::cli {

namespace {

struct ImageRow {
  const ImageRecord* rec;
  std::string name;  // canonical or "" for <none>
};

Json image_row_json(const ImageRow& r, bool no_trunc, int64_t now) {
  std::string repo = "<none>", tag = "<none>";
  if (!r.name.empty()) {
    auto ref = parse_reference(r.name);
    repo = ref.familiar_name();
    tag = ref.tag.empty() ? "<none>" : ref.tag;
  }
  std::string digest = r.rec->manifest_digest.empty() ? "<none>" : r.rec->manifest_digest;
  Json j;
  j["Containers"] = "N/A";
  j["CreatedAt"] = go_time_string(r.rec->created);
  j["CreatedSince"] = r.rec->created ? human_since(r.rec->created, now) : "N/A";
  j["Digest"] = digest;
  j["ID"] = no_trunc ? r.rec->config_digest() : r.rec->id.substr(0, 12);
  j["Repository"] = repo;
  j["SharedSize"] = "N/A";
  j["Size"] = human_size(static_cast<double>(r.rec->size));
  j["Tag"] = tag;
  j["UniqueSize"] = "N/A";
  j["VirtualSize"] = human_size(static_cast<double>(r.rec->size));
  return j;
}

// docker's image filters: dangling, reference, label, before, since.
bool keep_image(Store& store, const ImageRecord& rec, const std::string& name,
                const std::vector<std::pair<std::string, std::string>>& filters, const Json* config) {
  for (const auto& [k, v] : filters) {
    if (k == "dangling") {
      bool want = v == "true" || v == "1";
      if (want != rec.names.empty()) return false;
    } else if (k == "reference") {
      if (name.empty()) return false;
      auto ref = parse_reference(name);
      std::string fam = ref.familiar_name();
      std::string pattern = v;
      bool ok = false;
      for (const std::string& cand : {fam + ":" + ref.tag, fam, ref.name() + ":" + ref.tag, ref.name()})
        if (::fnmatch(pattern.c_str(), cand.c_str(), FNM_PATHNAME) == 0) ok = true;
      if (!ok) return false;
    } else if (k == "label") {
      auto [lk, lv] = split_once(v, '=');
      const Json labels = config && config->contains("config") && (*config)["config"].is_object()
                              ? (*config)["config"].value("Labels", Json::object())
                              : Json::object();
      if (!labels.is_object() || !labels.contains(lk)) return false;
      if (v.find('=') != std::string::npos && labels[lk] != lv) return false;
    } else if (k == "before" || k == "since") {
      ImageRecord other = store.lookup_image(v);
      if (k == "before" && !(rec.created < other.created)) return false;
      if (k == "since" && !(rec.created > other.created)) return false;
    } else {
      throw Error(fmt::format("invalid filter \"{}\": use dangling, reference, label, before or since", k),
                  Errc::Invalid);
    }
  }
  return true;
}

int cmd_images(Context& ctx, const Args& a) {
  Store& store = ctx.store();
  std::vector<ImageRecord> imgs = store.images();
  std::sort(imgs.begin(), imgs.end(), [](const ImageRecord& x, const ImageRecord& y) {
    return x.created != y.created ? x.created > y.created : x.id < y.id;
  });
  std::vector<std::pair<std::string, std::string>> filters;
  for (const auto& f : a.list("filter")) {
    bool found = false;
    auto kv = split_once(f, '=', &found);
    if (!found) throw Error(fmt::format("bad format of filter \"{}\" (expected name=value)", f), Errc::Invalid);
    filters.push_back(kv);
  }
  if (!a.positional.empty()) {
    std::string r = a.positional[0];
    filters.emplace_back("reference", r);
  }
  bool need_config = std::any_of(filters.begin(), filters.end(), [](auto& f) { return f.first == "label"; });
  bool no_trunc = a.flag("no-trunc");
  int64_t now = now_nanos();
  std::vector<Json> rows;
  std::set<std::string> seen_ids;
  for (const auto& rec : imgs) {
    std::optional<Json> config;
    if (need_config) config = load_image_config(store, rec);
    std::vector<std::string> names = rec.names.empty() ? std::vector<std::string>{""} : rec.names;
    for (const auto& n : names) {
      if (!keep_image(store, rec, n, filters, config ? &*config : nullptr)) continue;
      if (a.flag("quiet") && !seen_ids.insert(rec.id).second) continue;
      rows.push_back(image_row_json({&rec, n}, no_trunc, now));
    }
  }
  std::string format = a.value("format");
  if (a.flag("quiet")) format = "{{.ID}}";
  if (format.empty())
    format = a.flag("digests") ? "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
                               : "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
  Json header = {{"Containers", "CONTAINERS"}, {"CreatedAt", "CREATED AT"}, {"CreatedSince", "CREATED"},
                 {"Digest", "DIGEST"},         {"ID", "IMAGE ID"},          {"Repository", "REPOSITORY"},
                 {"SharedSize", "SHARED SIZE"}, {"Size", "SIZE"},           {"Tag", "TAG"},
                 {"UniqueSize", "UNIQUE SIZE"}, {"VirtualSize", "VIRTUAL SIZE"}};
  print_formatted(format, header, rows);
  return 0;
}

int cmd_image_inspect(Context& ctx, const Args& a) {
  Store& store = ctx.store();
  std::vector<Json> items;
  for (const auto& arg : a.positional) {
    items.push_back(image_inspect_json(store, store.lookup_image(arg)));
    mark_go_nils(items.back(), image_inspect_nils());
  }
  print_inspect(a.value("format"), items, std::vector<const GoShape*>(items.size(), &image_inspect_shape()));
  return 0;
}

int cmd_tag(Context& ctx, const Args& a) {
  Store& store = ctx.store();
  ImageRecord rec = store.lookup_image(a.positional[0]);
  Reference dst = parse_reference(a.positional[1]);
  if (!dst.digest.empty())
    throw Error(fmt::format("refusing to create a tag with a digest reference \"{}\"", a.positional[1]), Errc::Invalid);
  store.tag_image(rec.id, dst.with_default_tag().string());
  emit_image_event(ctx.config(), "tag", "sha256:" + rec.id, dst.with_default_tag().string());
  return 0;
}

int cmd_rmi(Context& ctx, const Args& a) {
  ctx.enter_userns();
  Store& store = ctx.store();
  std::string text;
  int rc = 0;
  bool any_deleted = false;
  for (const auto& arg : a.positional) {
    try {
      auto res = store.remove_image(arg, a.flag("force"));
      for (const auto& n : res.untagged) {
        text += "Untagged: " + familiar(n) + "\n";
        emit_image_event(ctx.config(), "untag", "sha256:" + res.id, n);
      }
      if (res.deleted) {
        emit_image_event(ctx.config(), "delete", "sha256:" + res.id, res.untagged.empty() ? "" : res.untagged[0]);
        any_deleted = true;
        text += "Deleted: sha256:" + res.id + "\n";
      }
    } catch (const Error& e) {
      out(text);
      text.clear();
      std::string line = "Error: " + std::string(e.what()) + "\n";
      ssize_t n = ::write(2, line.data(), line.size());
      (void)n;
      rc = kExitEngine;
    }
  }
  out(text);
  if (any_deleted) store.garbage_collect();
  return rc;
}

int cmd_image_prune(Context& ctx, const Args& a) {
  bool all = a.flag("all");
  if (!a.flag("force")) {
    out(all ? "WARNING! This will remove all images without at least one container associated to them.\n"
            : "WARNING! This will remove all dangling images.\n");
    out("Are you sure you want to continue? [y/N] ");
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "Y" && answer != "yes") return 0;
  }
  ctx.enter_userns();
  Store& store = ctx.store();
  std::vector<std::pair<std::string, std::string>> filters;
  for (const auto& f : a.list("filter")) {
    bool found = false;
    auto kv = split_once(f, '=', &found);
    if (!found) throw Error(fmt::format("bad format of filter \"{}\" (expected name=value)", f), Errc::Invalid);
    if (kv.first != "label" && kv.first != "until")
      throw Error(fmt::format("invalid filter \"{}\" for prune: use label or until", kv.first), Errc::Invalid);
    filters.push_back(kv);
  }
  std::vector<std::string> deleted, untagged;
  store.update_images([&](std::vector<ImageRecord>& imgs) {
    std::vector<ImageRecord> keep;
    int64_t now = now_nanos();
    for (auto& r : imgs) {
      bool candidate = all || r.names.empty();
      for (const auto& [k, v] : filters) {
        if (k == "until") {
          auto t = parse_docker_time(v, now);
          if (!t) throw Error(fmt::format("invalid until filter \"{}\"", v), Errc::Invalid);
          if (r.created >= *t) candidate = false;
        } else {
          Json cfg = load_image_config(store, r);
          if (!keep_image(store, r, "", {{"label", v}}, &cfg)) candidate = false;
        }
      }
      if (candidate) {
        for (const auto& n : r.names) untagged.push_back(familiar(n));
        deleted.push_back(r.config_digest());
      }
      else
        keep.push_back(std::move(r));
    }
    imgs = std::move(keep);
  });
  uint64_t reclaimed = 0;
  store.garbage_collect(&reclaimed);
  std::string text;
  if (!deleted.empty()) {
    text += "Deleted Images:\n";
    for (const auto& u : untagged) text += "untagged: " + u + "\n";
    for (const auto& d : deleted) text += "deleted: " + d + "\n";
    text += "\n";
  }
  text += "Total reclaimed space: " + human_size(static_cast<double>(reclaimed)) + "\n";
  out(text);
  return 0;
}

}  // namespace

// docker history: one row per history entry of the image config, newest
// first; entries that made a layer get that layer's size, the newest row the
// image ID and the others <missing> (docker's word for "no local image").
int cmd_history(Context& ctx, const Args& a) {
  Store& store = ctx.store();
  ImageRecord rec = store.lookup_image(a.positional[0]);
  Json cfg = load_image_config(store, rec);
  bool human = a.value("human", "true") != "false";
  bool no_trunc = a.flag("no-trunc");
  int64_t now = now_nanos();
  std::vector<Json> rows;
  size_t layer = 0;
  Json history = cfg.contains("history") && cfg["history"].is_array() ? cfg["history"] : Json::array();
  if (history.empty())  // images without history: one row per layer
    for (size_t i = 0; i < rec.layers.size(); i++) history.push_back(Json::object());
  for (const auto& h : history) {
    bool empty = h.value("empty_layer", false);
    uint64_t size = !empty && layer < rec.layers.size() ? rec.layers[layer++].size : 0;
    int64_t created = 0;
    if (auto t = parse_rfc3339(h.value("created", ""))) created = *t;
    std::string by = h.value("created_by", "");
    Json r;
    r["ID"] = "<missing>";
    std::string exact = format_rfc3339_nano(created);  // to the second, as docker prints it
    if (auto dot = exact.find('.'); dot != std::string::npos) exact.erase(dot, exact.find_first_of("Z+-", dot) - dot);
    r["CreatedAt"] = created ? (human ? human_since(created, now) : exact) : "N/A";
    r["CreatedSince"] = created ? human_since(created, now) : "N/A";
    r["CreatedBy"] = !no_trunc && by.size() > 45 ? by.substr(0, 44) + "\xe2\x80\xa6" : by;
    r["Size"] = human ? human_size(static_cast<double>(size)) : std::to_string(size);
    r["Comment"] = h.value("comment", "");
    rows.push_back(r);
  }
  std::reverse(rows.begin(), rows.end());
  if (!rows.empty()) rows.front()["ID"] = no_trunc ? "sha256:" + rec.id : rec.id.substr(0, 12);
  std::string format = a.value("format");
  if (a.flag("quiet")) format = "{{.ID}}";
  if (format.empty()) format = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";
  if (!human && a.value("format").empty() && !a.flag("quiet"))
    format = "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";
  Json header = {{"ID", "IMAGE"},          {"CreatedAt", "CREATED AT"}, {"CreatedSince", "CREATED"},
                 {"CreatedBy", "CREATED BY"}, {"Size", "SIZE"},        {"Comment", "COMMENT"}};
  print_formatted(format, header, rows);
  return 0;
}

void register_image_commands(std::vector<Command>& t) {
  const Option filter{"filter", 'f', OptKind::List, "filter", "Filter output based on conditions provided", ""};
  t.push_back({{{"images"}, {"image", "ls"}, {"image", "list"}},
               "[OPTIONS] [REPOSITORY[:TAG]]",
               "List images",
               "den images\nden images --format '{{.Repository}}:{{.Tag}}'\nden images -f dangling=true -q",
               {{"all", 'a', OptKind::Bool, "", "Show all images (default hides intermediate images)", ""},
                {"digests", 0, OptKind::Bool, "", "Show digests", ""},
                filter,
                {"format", 0, OptKind::Value, "string", "Format output using a Go template, 'table ...' or 'json'", ""},
                {"no-trunc", 0, OptKind::Bool, "", "Don't truncate output", ""},
                {"quiet", 'q', OptKind::Bool, "", "Only show image IDs", ""}},
               false, 0, 1, cmd_images});
  t.push_back({{{"history"}, {"image", "history"}},
               "[OPTIONS] IMAGE",
               "Show the history of an image",
               "den history bb\nden history --no-trunc --format '{{.CreatedBy}}' bb",
               {{"format", 0, OptKind::Value, "string", "Format output using a Go template, 'table ...' or 'json'", ""},
                {"human", 'H', OptKind::Value, "bool", "Print sizes and dates in human readable format", "true"},
                {"no-trunc", 0, OptKind::Bool, "", "Don't truncate output", ""},
                {"quiet", 'q', OptKind::Bool, "", "Only show image IDs", ""}},
               false, 1, 1, cmd_history});
  t.push_back({{{"image", "inspect"}},
               "[OPTIONS] IMAGE [IMAGE...]",
               "Display detailed information on one or more images",
               "den image inspect bb\nden image inspect -f '{{json .Config.Cmd}}' bb",
               {{"format", 'f', OptKind::Value, "string", "Format output using a Go template", ""}},
               false, 1, -1, cmd_image_inspect});
  t.push_back({{{"tag"}, {"image", "tag"}},
               "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
               "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
               "den tag bb localhost:5000/tz/bb:1",
               {},
               false, 2, 2, cmd_tag});
  t.push_back({{{"rmi"}, {"image", "rm"}, {"image", "remove"}},
               "[OPTIONS] IMAGE [IMAGE...]",
               "Remove one or more images",
               "den rmi bb\nden rmi -f $(den images -q)",
               {{"force", 'f', OptKind::Bool, "", "Force removal of the image", ""},
                {"no-prune", 0, OptKind::Bool, "", "Do not delete untagged parents", ""}},
               false, 1, -1, cmd_rmi});
  t.push_back({{{"image", "prune"}},
               "[OPTIONS]",
               "Remove unused images",
               "den image prune -f\nden image prune -a -f",
               {{"all", 'a', OptKind::Bool, "", "Remove all unused images, not just dangling ones", ""},
                {"filter", 0, OptKind::List, "filter", "Provide filter values (e.g. until=<timestamp>)", ""},
                {"force", 'f', OptKind::Bool, "", "Do not prompt for confirmation", ""}},
               false, 0, 0, cmd_image_prune});
}

}  // namespace den::cli
