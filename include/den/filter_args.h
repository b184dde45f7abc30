// docker's --filter KEY=VALUE arguments, grouped by key, with docker's
// matching rules: several values of one key are alternatives (any matches),
// label= values must all hold, different keys must all hold.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace den {

class FilterArgs {
 public:
  // Throws Errc::Invalid for a value without '=' and for keys not in `known`
  // ("invalid filter \"foo\": use dangling, driver, label or name").
  static FilterArgs parse(const std::vector<std::string>& list, const std::vector<std::string>& known);

  bool has(const std::string& key) const { return values_.count(key) > 0; }
  std::vector<std::string> values(const std::string& key) const;
  // docker's Match: true without values for key, else when any value equals s
  // or, as a regular expression, is found in s (a substring when it is not
  // a valid one).
  bool match(const std::string& key, const std::string& s) const;
  // True without values for key, else when any value equals s.
  bool exact(const std::string& key, const std::string& s) const;
  // Every label=K / label=K=V holds for `labels`.
  bool labels_match(const std::map<std::string, std::string>& labels) const;
  // A boolean filter (dangling=true|false|1|0); nullopt when not given.
  // Throws Errc::Invalid for other values.
  std::optional<bool> boolean(const std::string& key) const;

 private:
  std::map<std::string, std::vector<std::string>> values_;
};

}  // namespace den
