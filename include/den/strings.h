// Small string helpers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace den {

std::vector<std::string> split(std::string_view s, char sep);
// Splits at the first sep: "a=b=c" -> {"a", "b=c"}; second is empty and
// found=false when sep is absent.
std::pair<std::string, std::string> split_once(std::string_view s, char sep, bool* found = nullptr);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
std::string trim(std::string_view s);
std::string to_lower(std::string_view s);
bool contains(std::string_view haystack, std::string_view needle);
// Shell-style quoting for display: words with spaces or quotes get quoted.
std::string shell_quote(std::string_view s);
// Edit distance, for "did you mean" suggestions.
size_t levenshtein(std::string_view a, std::string_view b);

}  // namespace den
