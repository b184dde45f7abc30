#include "den/strings.h"

#include <algorithm>
#include <numeric>

namespace den {

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Characters a POSIX shell takes literally, so a word of only these needs no
// quotes (the set Python's shlex.quote leaves alone).
bool is_shell_safe(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("@%+=:,./_-").find(c) != std::string_view::npos;
}

}  // namespace

// Like Go's strings.Split: "" gives {""}, "a,,b" gives {"a", "", "b"}.
std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      parts.emplace_back(s.substr(start));
      return parts;
    }
    parts.emplace_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

std::pair<std::string, std::string> split_once(std::string_view s, char sep, bool* found) {
  size_t pos = s.find(sep);
  if (found != nullptr) *found = pos != std::string_view::npos;
  if (pos == std::string_view::npos) return {std::string(s), std::string()};
  return {std::string(s.substr(0, pos)), std::string(s.substr(pos + 1))};
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += sep;
    out += parts[i];
  }
  return out;
}

std::string trim(std::string_view s) {
  size_t begin = 0;
  size_t end = s.size();
  while (begin < end && is_space(s[begin])) ++begin;
  while (end > begin && is_space(s[end - 1])) --end;
  return std::string(s.substr(begin, end - begin));
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// Empty words become '', words with anything a shell would interpret are put
// in single quotes, a quote inside becoming '"'"'.
std::string shell_quote(std::string_view s) {
  if (s.empty()) return "''";
  if (std::all_of(s.begin(), s.end(), is_shell_safe)) return std::string(s);
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\"'\"'";
    } else {
      out += c;
    }
  }
  out += "'";
  return out;
}

// Byte-wise edit distance (insert, delete, substitute each cost 1), one row
// of the table at a time.
size_t levenshtein(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), size_t{0});
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];  // table[i-1][j-1]
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];  // table[i-1][j]
      size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitute});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace den
