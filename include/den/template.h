// Go text/template, as docker's and podman's --format use it, evaluated over
// den::Json values. Own module with thorough unit tests; see
// src/util/template.cpp for what is supported.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "den/json.h"

namespace den {

// A method of the values a template walks, as Go's .Label "key" on docker's
// ps rows: called when a field chain ending in its name is given arguments.
using TemplateMethod = std::function<Json(const Json& self, const std::vector<Json>& args)>;
using TemplateMethods = std::map<std::string, TemplateMethod>;

class Template {
 public:
  // Parses; throws den::Error(Errc::Invalid) with a message that points at
  // the offending column: "template: :1:12: unexpected "}" in operand".
  static Template parse(std::string_view text);
  ~Template();
  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;

  // Evaluates against `dot`. Throws den::Error(Errc::Invalid) on execution
  // errors ("template: :1:2: executing ... map has no entry for key ...").
  std::string execute(const Json& dot, const TemplateMethods* methods = nullptr) const;

 private:
  Template();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Convenience: parse + execute.
std::string render_template(std::string_view text, const Json& dot);

}  // namespace den
