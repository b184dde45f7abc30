// Go text/template, as docker's and podman's --format use it, evaluated over
// den::Json values. Own module with thorough unit tests; see
// src/util/template.cpp for what is supported.
#pragma once

#include <cstdint>
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

struct GoStructs;

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
  // `structs` (see GoStructs) marks the objects of `dot` that Go would
  // print as structs.
  std::string execute(const Json& dot, const TemplateMethods* methods = nullptr,
                      const GoStructs* structs = nullptr) const;

 private:
  Template();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Go's typed nil values. JSON has one null where Go has several, and a
// template prints them differently: a nil slice is "[]" with {{.X}}, a nil
// map "map[]", a nil pointer "<nil>"; {{json .X}} is null for all three.
// Inspect builders keep plain JSON (null); before a template runs, the
// fields docker declares as slices, maps or pointers are marked with
// mark_go_nils (a marker is a JSON binary value, never printed as such).
enum class GoNil : uint8_t { Slice = 1, Map = 2, Pointer = 3 };

struct GoNilField {
  std::string path;     // "Config.Cmd"; "*" is every key of an object ("NetworkSettings.Networks.*.Aliases")
  GoNil kind;
  std::string go_type;  // for %T and errors: "[]string", "*types.Health"
  bool omitempty = false;  // left out of {{json}} of its parent (a missing key is marked too)
};

// A typed nil value for template data.
Json go_nil(GoNil kind, const std::string& go_type, bool omitempty = false);
// Replaces null at each path by its typed nil; with omitempty also a missing
// key (whose parent object exists).
void mark_go_nils(Json& value, const std::vector<GoNilField>& fields);
// The plain JSON of a marked value: typed nils become null, or are left out
// (omitempty), as {{json}} prints them.
Json strip_go_nils(const Json& value);

// Go structs. Without type information a JSON object prints as a Go map
// (map[k:v], sorted keys); docker's inspect values are mostly structs, which
// Go prints as {v1 v2 ...} in field order ({{.State}} is "{running true
// ...}", {{.NetworkSettings.Ports}} "map[80/tcp:[{0.0.0.0 8080}]]"). A
// GoShape names the fields of a document that are maps (every other object
// is a struct) and those that are pointers to structs (a nested one prints
// as Go's address, 0xc...; the value a template prints is dereferenced, as
// text/template does, while print and printf show it as &{...}). Paths as in
// GoNilField; "*" also stands for the elements of an array.
struct GoShape {
  std::vector<std::string> maps;
  std::vector<std::string> pointers;
};
// The struct objects of one document (by address: the document must outlive
// it and stay unchanged), for Template::execute.
struct GoStructs {
  std::map<const Json*, bool> nodes;  // object -> is a pointer
};
GoStructs go_structs(const Json& root, const GoShape& shape);

// Convenience: parse + execute.
std::string render_template(std::string_view text, const Json& dot);

}  // namespace den
