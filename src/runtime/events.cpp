#include "den/events.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "den/error.h"
#include "den/fs.h"
#include "den/lock.h"
#include "den/log.h"
#include "den/strings.h"
#include "den/timefmt.h"

namespace den {

Json to_json(const Event& e) {
  Json attrs = Json::object();
  for (const auto& [k, v] : e.attributes) attrs[k] = v;
  Json j;
  if (e.type == "container" || e.type == "image") {
    // docker's deprecated top-level fields, still read by scripts.
    j["status"] = e.action;
    j["id"] = e.id;
    if (auto it = e.attributes.find("image"); it != e.attributes.end()) j["from"] = it->second;
  }
  j["Type"] = e.type;
  j["Action"] = e.action;
  j["Actor"] = {{"ID", e.id}, {"Attributes", attrs}};
  j["scope"] = "local";
  j["time"] = e.time / 1000000000;
  j["timeNano"] = e.time;
  return j;
}

Event event_from_json(const Json& j) {
  Event e;
  e.type = j.value("Type", "");
  e.action = j.value("Action", j.value("status", ""));
  e.time = j.value("timeNano", int64_t{0});
  if (auto a = j.find("Actor"); a != j.end() && a->is_object()) {
    e.id = a->value("ID", "");
    if (auto at = a->find("Attributes"); at != a->end() && at->is_object())
      for (auto it = at->begin(); it != at->end(); ++it)
        if (it.value().is_string()) e.attributes[it.key()] = it.value().get<std::string>();
  }
  return e;
}

std::string events_path(const Config& cfg) { return cfg.runroot + "/events/events.log"; }

void rotate_events_if_needed(const std::string& path, int64_t max_size) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || st.st_size <= max_size) return;
  FileLock l = FileLock::acquire(dirname_of(path) + "/events.lock");
  // Someone else may have rotated it while we waited.
  if (::stat(path.c_str(), &st) != 0 || st.st_size <= max_size) return;
  if (::rename(path.c_str(), (path + ".1").c_str()) != 0) throw sys_error("rotate " + path);
}

void emit_event(const Config& cfg, Event e) {
  if (e.time == 0) e.time = now_nanos();
  try {
    std::string path = events_path(cfg);
    std::string line = to_json(e).dump() + "\n";
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 && errno == ENOENT) {
      mkdirs(dirname_of(path), 0700);
      fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    }
    if (fd < 0) throw sys_error("open " + path);
    UniqueFd g(fd);
    // One write per line: O_APPEND makes each land whole at the end.
    ssize_t n;
    do {
      n = ::write(fd, line.data(), line.size());
    } while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(line.size())) throw sys_error("write " + path);
    struct stat st;
    if (::fstat(fd, &st) == 0 && st.st_size > kEventsMaxSize) rotate_events_if_needed(path, kEventsMaxSize);
  } catch (const std::exception& ex) {
    log::debug("event {} {} not recorded: {}", e.type, e.action, ex.what());
  }
}

void emit_container_event(const Config& cfg, const std::string& action, const std::string& id,
                          const std::string& name, const std::string& image,
                          const std::map<std::string, std::string>& labels,
                          const std::map<std::string, std::string>& extra) {
  Event e;
  e.type = "container";
  e.action = action;
  e.id = id;
  e.attributes = labels;
  e.attributes["name"] = name;
  e.attributes["image"] = image;
  for (const auto& [k, v] : extra) e.attributes[k] = v;
  emit_event(cfg, std::move(e));
}

void emit_image_event(const Config& cfg, const std::string& action, const std::string& id, const std::string& name) {
  Event e;
  e.type = "image";
  e.action = action;
  e.id = id;
  e.attributes["name"] = name;
  emit_event(cfg, std::move(e));
}

EventFilter EventFilter::parse(const std::vector<std::string>& filters) {
  static const char* keys[] = {"type", "event", "status", "container", "image", "label", "volume", "network"};
  EventFilter f;
  for (const auto& raw : filters) {
    bool found = false;
    auto [k, v] = split_once(raw, '=', &found);
    if (!found || v.empty())
      throw Error(fmt::format("invalid filter \"{}\": use KEY=VALUE (e.g. type=container, event=die)", raw),
                  Errc::Invalid);
    if (std::find(std::begin(keys), std::end(keys), k) == std::end(keys))
      throw Error(fmt::format("invalid filter \"{}\": unknown key \"{}\" (use type, event, container, image, label, "
                              "volume or network)",
                              raw, k),
                  Errc::Invalid);
    if (k == "status") k = "event";
    f.by_key[k].push_back(v);
  }
  return f;
}

namespace {
// docker matches "event=health_status" against "health_status: healthy" and
// "event=exec_start" against "exec_start: sh": the part before ": ".
std::string action_base(const std::string& a) {
  auto p = a.find(": ");
  return p == std::string::npos ? a : a.substr(0, p);
}
std::string attr(const Event& e, const char* k) {
  auto it = e.attributes.find(k);
  return it == e.attributes.end() ? "" : it->second;
}
}  // namespace

bool EventFilter::matches(const Event& e) const {
  for (const auto& [key, values] : by_key) {
    bool any = false;
    for (const auto& v : values) {
      if (key == "type") {
        any = e.type == v;
      } else if (key == "event") {
        any = e.action == v || action_base(e.action) == v;
      } else if (key == "container") {
        any = e.type == "container" && (attr(e, "name") == v || (v.size() >= 1 && e.id.rfind(v, 0) == 0));
      } else if (key == "image") {
        std::string img = e.type == "image" ? e.id : attr(e, "image");
        any = img == v || attr(e, "name") == v || (e.type == "image" && !v.empty() && e.id.rfind(v, 0) == 0) ||
              img == v + ":latest";
      } else if (key == "label") {
        auto [lk, lv] = split_once(v, '=');
        auto it = e.attributes.find(lk);
        any = it != e.attributes.end() && (v.find('=') == std::string::npos || it->second == lv);
      } else if (key == "volume" || key == "network") {
        any = e.type == key && (e.id == v || attr(e, "name") == v);
      }
      if (any) break;
    }
    if (!any) return false;
  }
  return true;
}

namespace {

// Reads complete lines from fd, keeping a partial last line in `pending`.
template <typename F>
bool drain(int fd, std::string& pending, F&& on_line) {
  char buf[65536];
  for (;;) {
    size_t n = read_some(fd, buf, sizeof buf);
    if (n == 0) break;
    pending.append(buf, n);
  }
  size_t start = 0, nl;
  while ((nl = pending.find('\n', start)) != std::string::npos) {
    std::string line = pending.substr(start, nl - start);
    start = nl + 1;
    if (!on_line(line)) {
      pending.erase(0, start);
      return false;
    }
  }
  pending.erase(0, start);
  return true;
}

}  // namespace

void read_events(const Config& cfg, const EventQuery& q, const std::function<bool(const Event&)>& fn) {
  std::string path = events_path(cfg);
  auto on_line = [&](const std::string& line) {
    Json j = Json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return true;  // a torn line from a crash
    Event e = event_from_json(j);
    if (e.time < q.since || e.time > q.until) return true;
    if (!q.filter.matches(e)) return true;
    return fn(e);
  };
  // The old generation first, then the current file from its start.
  std::string pending;
  {
    UniqueFd old(::open((path + ".1").c_str(), O_RDONLY | O_CLOEXEC));
    if (old && !drain(old.get(), pending, on_line)) return;
    pending.clear();
  }
  UniqueFd cur(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (cur && !drain(cur.get(), pending, on_line)) return;
  if (!q.follow) return;
  for (;;) {
    if (now_nanos() > q.until) return;
    ::usleep(100000);
    if (!cur) {
      cur = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      pending.clear();
    }
    if (cur && !drain(cur.get(), pending, on_line)) return;
    // Rotated (or removed): finish the old file, then switch to the new one.
    struct stat a, b;
    if (cur && ::fstat(cur.get(), &a) == 0 && (::stat(path.c_str(), &b) != 0 || a.st_ino != b.st_ino)) {
      if (!drain(cur.get(), pending, on_line)) return;
      cur = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      pending.clear();
      if (cur && !drain(cur.get(), pending, on_line)) return;
    }
  }
}

std::string format_event_line(const Event& e) {
  int64_t secs = e.time / 1000000000, nanos = e.time % 1000000000;
  std::string t = format_rfc3339_nano(secs * 1000000000);
  // RFC 3339 with a fixed 9-digit fraction, as docker prints it.
  if (!t.empty() && t.back() == 'Z') t.pop_back();
  t += fmt::format(".{:09d}Z", nanos);
  std::vector<std::string> attrs;
  for (const auto& [k, v] : e.attributes) attrs.push_back(k + "=" + v);
  std::string s = fmt::format("{} {} {} {}", t, e.type, e.action, e.id);
  if (!attrs.empty()) s += " (" + join(attrs, ", ") + ")";
  return s;
}

}  // namespace den
