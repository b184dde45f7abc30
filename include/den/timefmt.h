// Times and sizes the way docker prints and parses them (go-units and Go's
// time package), so scripts that read den's output see docker's text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace den {

// Nanoseconds since the Unix epoch, UTC.
using UnixNanos = int64_t;

UnixNanos now_nanos();

// RFC 3339 with nanoseconds, UTC, as Go's time.RFC3339Nano prints it (trailing
// zeros of the fraction dropped, no fraction when zero):
// "2024-05-01T10:20:30.123456789Z", "2024-05-01T10:20:30Z".
std::string format_rfc3339_nano(UnixNanos t);
// Parses RFC 3339 (with or without fraction, "Z" or "+hh:mm" offset).
std::optional<UnixNanos> parse_rfc3339(std::string_view s);

// docker's --since/--until values: RFC 3339 timestamps, dates ("2024-05-01"),
// Unix seconds with optional fraction ("1714558830.5"), or Go durations
// relative to now ("10m", "1h30m", "2.5s"). nullopt when unparsable.
std::optional<UnixNanos> parse_docker_time(std::string_view s, UnixNanos now);
// Go's time.ParseDuration: "300ms", "1.5h", "2h45m", "-1s"; nullopt if bad.
std::optional<int64_t> parse_go_duration_nanos(std::string_view s);

// go-units HumanDuration: "Less than a second", "1 second", "59 seconds",
// "About a minute", "3 minutes", "About an hour", "5 hours", "2 days",
// "3 weeks", "4 months", "2 years".
std::string human_duration(int64_t nanos);
// "<HumanDuration> ago", as in the CREATED column of docker ps/images.
std::string human_since(UnixNanos t, UnixNanos now);

// go-units HumanSizeWithPrecision(size, 3) with decimal units, as docker
// prints SIZE columns: "0B", "999B", "1.23kB", "12.3MB", "123MB", "1.5GB".
std::string human_size(double bytes);
// go-units BytesSize (binary units) as docker stats prints: "1.5MiB".
std::string bytes_size(double bytes);
// go-units RAMInBytes: "300M", "1g", "512k", "1024", "1.5GiB" -> bytes
// (binary multiples; b/k/m/g/t/p suffixes, optional trailing "b"/"ib").
std::optional<int64_t> parse_ram_bytes(std::string_view s);

}  // namespace den
