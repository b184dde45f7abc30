// The per-user events log: one JSON object per line (docker's events message
// shape), appended by every den process and monitor to RUNROOT/events/
// events.log with O_APPEND and a single write(2) per line, so concurrent
// writers never interleave. When the file passes a size limit, the writer that
// notices renames it to events.log.1 under RUNROOT/events/events.lock (one old
// generation is kept). `den events` reads events.log.1 then events.log, and
// follows the current file like `tail -F`.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "den/config.h"
#include "den/json.h"

namespace den {

struct Event {
  int64_t time = 0;        // unix nanoseconds
  std::string type;        // container, image, volume, network
  std::string action;      // create, start, die, "health_status: healthy", ...
  std::string id;          // container/image ID, image reference for pull/push
  std::map<std::string, std::string> attributes;  // name, image, exitCode, ...
};

// docker's events JSON ({"status", "id", "from", "Type", "Action", "Actor",
// "scope", "time", "timeNano"}) and back.
Json to_json(const Event& e);
Event event_from_json(const Json& j);

// RUNROOT/events/events.log
std::string events_path(const Config& cfg);
// The size at which the log is rotated.
inline constexpr int64_t kEventsMaxSize = 1024 * 1024;

// Appends an event (time set to now when 0). Never throws: a den command does
// not fail because its event could not be written (logged at debug level).
void emit_event(const Config& cfg, Event e);
// Shorthand for container events: attributes name and image (plus labels, as
// docker does) and any extras.
void emit_container_event(const Config& cfg, const std::string& action, const std::string& id,
                          const std::string& name, const std::string& image,
                          const std::map<std::string, std::string>& labels = {},
                          const std::map<std::string, std::string>& extra = {});
// Image events: id is the reference (pull, push) or "sha256:<id>" (tag,
// untag, delete); name the reference.
void emit_image_event(const Config& cfg, const std::string& action, const std::string& id, const std::string& name);
// Rotates `path` to `path.1` if it is larger than max_size (under the lock).
void rotate_events_if_needed(const std::string& path, int64_t max_size);

// docker's event filters: key=value pairs; values of one key are OR-ed, keys
// are AND-ed. Keys: type, event (or status), container, image, label, volume,
// network. Throws Errc::Invalid for an unknown key.
struct EventFilter {
  std::map<std::string, std::vector<std::string>> by_key;
  static EventFilter parse(const std::vector<std::string>& filters);
  bool matches(const Event& e) const;
};

struct EventQuery {
  int64_t since = 0;          // unix nanos, inclusive
  int64_t until = INT64_MAX;  // unix nanos, inclusive
  bool follow = false;        // keep reading new events (until `until`)
  EventFilter filter;
};

// Calls fn for every stored event in the query's time range, oldest first;
// with follow, then waits for new ones until `until` passes or fn returns
// false.
void read_events(const Config& cfg, const EventQuery& q, const std::function<bool(const Event&)>& fn);

// docker's one-line form: "TIME TYPE ACTION ID (k=v, k=v)".
std::string format_event_line(const Event& e);

}  // namespace den
