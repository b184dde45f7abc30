// docker's filter arguments (den/filter_args.h).
#include "den/filter_args.h"

#include <algorithm>
#include <regex>

#include <fmt/format.h>

#include "den/error.h"
#include "den/strings.h"

namespace den {

FilterArgs FilterArgs::parse(const std::vector<std::string>& list, const std::vector<std::string>& known) {
  FilterArgs f;
  for (const auto& s : list) {
    bool found = false;
    auto [k, v] = split_once(s, '=', &found);
    if (!found) throw Error(fmt::format("bad format of filter \"{}\" (expected name=value)", s), Errc::Invalid);
    if (std::find(known.begin(), known.end(), k) == known.end()) {
      std::string keys;
      for (size_t i = 0; i < known.size(); i++)
        keys += (i == 0 ? "" : i + 1 == known.size() ? " or " : ", ") + known[i];
      throw Error(fmt::format("invalid filter \"{}\": use {}", k, keys), Errc::Invalid);
    }
    f.values_[k].push_back(v);
  }
  return f;
}

std::vector<std::string> FilterArgs::values(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

bool FilterArgs::match(const std::string& key, const std::string& s) const {
  auto it = values_.find(key);
  if (it == values_.end()) return true;
  for (const auto& v : it->second) {
    if (v == s) return true;
    try {
      if (std::regex_search(s, std::regex(v))) return true;
    } catch (const std::regex_error&) {
      if (s.find(v) != std::string::npos) return true;
    }
  }
  return false;
}

bool FilterArgs::exact(const std::string& key, const std::string& s) const {
  auto it = values_.find(key);
  return it == values_.end() || std::find(it->second.begin(), it->second.end(), s) != it->second.end();
}

bool FilterArgs::labels_match(const std::map<std::string, std::string>& labels) const {
  for (const auto& v : values("label")) {
    bool has_value = false;
    auto [k, want] = split_once(v, '=', &has_value);
    auto it = labels.find(k);
    if (it == labels.end() || (has_value && it->second != want)) return false;
  }
  return true;
}

std::optional<bool> FilterArgs::boolean(const std::string& key) const {
  std::optional<bool> out;
  for (const auto& v : values(key)) {
    std::string l = to_lower(v);
    if (l == "true" || l == "1") out = true;
    else if (l == "false" || l == "0") out = false;
    else throw Error(fmt::format("invalid filter \"{}={}\": use {}=true or {}=false", key, v, key, key), Errc::Invalid);
  }
  return out;
}

}  // namespace den
