#include <fcntl.h>
#include <unistd.h>

#include <ctime>

#include <fmt/format.h>

#include "cli.h"
#include "den/error.h"
#include "den/fs.h"
#include "den/strings.h"
#include "den/template.h"

namespace den::cli {

void out(std::string_view s) { write_all(STDOUT_FILENO, s, "write to standard output"); }

bool stdout_is_terminal() { return ::isatty(STDOUT_FILENO) == 1; }

ArchiveOutput::ArchiveOutput(const std::string& path) {
  if (path.empty() || path == "-") {
    if (stdout_is_terminal())
      throw Error("cowardly refusing to save to a terminal. Use the -o flag or redirect", Errc::Invalid);
    return;
  }
  path_ = path;
  tmp_ = fmt::format("{}.den-tmp-{}", path, ::getpid());
  int fd = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw sys_error(fmt::format("cannot write {} (-o)", path));
  file_ = UniqueFd(fd);
}

ArchiveOutput::~ArchiveOutput() {
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
}

int ArchiveOutput::fd() const { return file_ ? file_.get() : STDOUT_FILENO; }

void ArchiveOutput::commit() {
  if (tmp_.empty()) return;
  if (::fsync(file_.get()) != 0) throw sys_error("fsync " + tmp_);
  file_.reset();
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) throw sys_error("rename to " + path_);
  tmp_.clear();
}

namespace {
// Display width: UTF-8 continuation bytes take no column ("…" is one).
size_t width_of(std::string_view s) {
  size_t w = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) w++;
  return w;
}

}  // namespace

namespace {
// Column widths of tabwriter for tab-separated lines, fed one at a time: only
// cells followed by a tab take part in alignment (as in tabwriter).
struct TabWidths {
  std::vector<size_t> widths;
  void add(std::string_view line) {
    size_t c = 0, start = 0;
    for (size_t tab; (tab = line.find('\t', start)) != std::string_view::npos; start = tab + 1, c++) {
      if (widths.size() <= c) widths.resize(c + 1, 0);
      widths[c] = std::max(widths[c], width_of(line.substr(start, tab - start)));
    }
  }
  // The aligned line (with its newline).
  std::string align(std::string_view line) const {
    std::string outs;
    size_t c = 0, start = 0;
    for (size_t tab; (tab = line.find('\t', start)) != std::string_view::npos; start = tab + 1, c++) {
      std::string_view cell = line.substr(start, tab - start);
      outs += cell;
      outs.append(std::max<size_t>(widths[c] + 3, 10) - width_of(cell), ' ');
    }
    outs += line.substr(start);
    outs += '\n';
    return outs;
  }
};

// Standard output through a 64 KiB buffer: rows are written as they are
// made, never gathered whole. What is still buffered when an error unwinds
// is dropped (flush() ends a successful run), so a template that fails early
// prints only its error.
class StdoutStream {
 public:
  void write(std::string_view s) {
    if (buf_.size() + s.size() > kMax) flush();
    if (s.size() > kMax) {
      out(s);
      return;
    }
    buf_ += s;
  }
  void flush() {
    if (!buf_.empty()) out(buf_);
    buf_.clear();
  }

 private:
  static constexpr size_t kMax = 64 * 1024;
  std::string buf_;
};

// Calls f for each line of text (split at '\n'), as string views.
template <typename F>
void for_each_line(std::string_view text, F&& f) {
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string_view::npos; start = nl + 1)
    f(text.substr(start, nl - start));
  f(text.substr(start));
}
}  // namespace

std::string tabwrite(const std::vector<std::string>& lines) {
  TabWidths tw;
  for (const auto& l : lines) tw.add(l);
  std::string outs;
  for (const auto& l : lines) outs += tw.align(l);
  return outs;
}

namespace {
std::string unescape_format(std::string f) {
  std::string outs;
  for (size_t i = 0; i < f.size(); i++) {
    if (f[i] == '\\' && i + 1 < f.size() && (f[i + 1] == 't' || f[i + 1] == 'n')) {
      outs += f[i + 1] == 't' ? '\t' : '\n';
      i++;
    } else {
      outs += f[i];
    }
  }
  return outs;
}
}  // namespace

void print_formatted(const std::string& format, const Json& header, const std::vector<Json>& rows,
                     const TemplateMethods* methods) {
  StdoutStream so;
  if (format == "json") {
    for (const auto& r : rows) so.write(r.dump() + "\n");
    so.flush();
    return;
  }
  bool table = format.rfind("table", 0) == 0;
  std::string body = unescape_format(trim(table ? format.substr(5) : format));
  if (table && body.empty()) body = "{{json .}}";
  Template t = Template::parse(body);
  if (!table) {
    // Each row is written as soon as it is made: output of any length never
    // gathers in memory.
    for (const auto& r : rows) so.write(t.execute(r, methods) + "\n");
    so.flush();
    return;
  }
  // A table needs its column widths before its first line. Rather than
  // holding every row (docker's tabwriter does), the rows are made twice:
  // once to measure the columns, once to print them. Memory holds one row.
  TabWidths tw;
  for_each_line(t.execute(header, methods), [&](std::string_view l) { tw.add(l); });
  for (const auto& r : rows) for_each_line(t.execute(r, methods), [&](std::string_view l) { tw.add(l); });
  for_each_line(t.execute(header, methods), [&](std::string_view l) { so.write(tw.align(l)); });
  for (const auto& r : rows)
    for_each_line(t.execute(r, methods), [&](std::string_view l) { so.write(tw.align(l)); });
  so.flush();
}

const TemplateMethods& label_method() {
  static const TemplateMethods methods = {{"Label", [](const Json& self, const std::vector<Json>& args) -> Json {
    if (args.size() != 1 || !args[0].is_string()) throw Error("Label takes one string argument", Errc::Invalid);
    std::string want = args[0].get<std::string>();
    if (self.value("Labels", "") == "LABELS") {
      // The header row: docker heads the column with the label's last
      // dot-separated part, '-' and '_' as spaces.
      std::string h = want.substr(want.rfind('.') == std::string::npos ? 0 : want.rfind('.') + 1);
      for (auto& ch : h)
        if (ch == '-' || ch == '_') ch = ' ';
      return h;
    }
    for (const auto& kv : split(self.value("Labels", ""), ',')) {
      auto eq = kv.find('=');
      if (kv.substr(0, eq) == want) return eq == std::string::npos ? "" : kv.substr(eq + 1);
    }
    return "";
  }}};
  return methods;
}

void print_inspect(const std::string& format, const std::vector<Json>& items,
                   const std::vector<const GoShape*>& shapes) {
  if (format.empty() || format == "json") {
    Json arr = Json::array();
    for (const auto& i : items) arr.push_back(strip_go_nils(i));
    out(arr.dump(4) + "\n");
    return;
  }
  Template t = Template::parse(unescape_format(format));
  StdoutStream so;
  for (size_t k = 0; k < items.size(); k++) {
    const GoShape* shape = k < shapes.size() ? shapes[k] : nullptr;
    if (shape) {
      GoStructs structs = go_structs(items[k], *shape);
      so.write(t.execute(items[k], nullptr, &structs) + "\n");
    } else {
      so.write(t.execute(items[k]) + "\n");
    }
  }
  so.flush();
}

std::string go_time_string(int64_t unix_nanos) {
  time_t secs = static_cast<time_t>(unix_nanos / 1000000000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S +0000 UTC", &tm);
  return buf;
}

}  // namespace den::cli
