// Go text/template over den::Json (first cut; being extended).
#include "den/template.h"

#include <vector>

#include "den/error.h"

namespace den {

namespace {
[[noreturn]] void fail(const std::string& m) { throw Error("template: " + m, Errc::Invalid); }

std::string print_value(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "<nil>";
  return v.dump();
}

const Json& lookup(const Json& dot, std::string_view path, const Json& missing) {
  const Json* cur = &dot;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '.') ++i;
    size_t j = path.find('.', i);
    if (j == std::string_view::npos) j = path.size();
    std::string key(path.substr(i, j - i));
    i = j;
    if (key.empty()) continue;
    if (!cur->is_object()) fail("can't evaluate field " + key);
    auto it = cur->find(key);
    if (it == cur->end()) return missing;
    cur = &*it;
  }
  return *cur;
}
}  // namespace

struct Template::Impl {
  std::string text;
  std::string run(std::string_view t, const Json& dot) const {
    static const Json missing = "<no value>";
    std::string out;
    size_t p = 0;
    while (p < t.size()) {
      size_t o = t.find("{{", p);
      if (o == std::string_view::npos) { out += t.substr(p); break; }
      out += t.substr(p, o - p);
      size_t c = t.find("}}", o);
      if (c == std::string_view::npos) fail(":1: unclosed action");
      std::string_view a = t.substr(o + 2, c - o - 2);
      while (!a.empty() && a.front() == ' ') a.remove_prefix(1);
      while (!a.empty() && a.back() == ' ') a.remove_suffix(1);
      p = c + 2;
      if (a.rfind("range ", 0) == 0) {
        std::string_view path = a.substr(6);
        // find matching end
        int depth = 1;
        size_t q = p, bodyend = 0, after = 0;
        while (depth > 0) {
          size_t oo = t.find("{{", q);
          if (oo == std::string_view::npos) fail(":1: missing {{end}}");
          size_t cc = t.find("}}", oo);
          if (cc == std::string_view::npos) fail(":1: unclosed action");
          std::string_view b = t.substr(oo + 2, cc - oo - 2);
          while (!b.empty() && b.front() == ' ') b.remove_prefix(1);
          if (b.rfind("range", 0) == 0 || b.rfind("if", 0) == 0 || b.rfind("with", 0) == 0) ++depth;
          if (b.rfind("end", 0) == 0) --depth;
          if (depth == 0) { bodyend = oo; after = cc + 2; }
          q = cc + 2;
        }
        const Json& list = lookup(dot, path, missing);
        if (list.is_array() || list.is_object())
          for (const auto& e : list) out += run(t.substr(p, bodyend - p), e);
        p = after;
      } else if (a.rfind("json ", 0) == 0) {
        out += lookup(dot, a.substr(5), missing).dump();
      } else if (!a.empty() && a[0] == '.') {
        out += print_value(lookup(dot, a, missing));
      } else {
        fail(":1: unsupported action");
      }
    }
    return out;
  }
};

Template::Template() : impl_(std::make_unique<Impl>()) {}
Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

Template Template::parse(std::string_view text) {
  Template t;
  t.impl_->text = std::string(text);
  return t;
}

std::string Template::execute(const Json& dot) const { return impl_->run(impl_->text, dot); }

std::string render_template(std::string_view text, const Json& dot) {
  return Template::parse(text).execute(dot);
}

}  // namespace den
