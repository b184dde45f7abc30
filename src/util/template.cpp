// Go text/template over den::Json values, as `docker --format` and
// `podman --format` use it. Lexer -> parse tree -> evaluator, like Go's
// text/template/parse and text/template/exec.
//
// Supported:
//   - text copied verbatim; actions {{ }}; trim markers "{{- " and " -}}";
//     comments {{/* ... */}}
//   - {{.}}, {{.Field}}, {{.A.B}}, $, $x.Field, (pipeline).Field
//   - variables {{$x := pipeline}} and {{$x = pipeline}}, scoped like Go
//   - {{if}} / {{else if}} / {{else}} / {{end}}, {{with}} (also {{else with}}),
//     {{range}} over arrays, objects (sorted keys, like Go maps) and
//     non-negative integers, with {{else}}, {{range $i, $v := ...}},
//     {{break}} and {{continue}}
//   - pipelines "a | b", parenthesized sub-expressions
//   - literals: "strings" with Go escapes, `raw strings`, 'c' characters,
//     numbers (decimal, 0x/0o/0b, floats, exponents, _ separators), true,
//     false, nil
//   - Go builtins: and or not len index slice eq ne lt le gt ge print printf
//     println html js urlquery; printf implements Go's verbs (%v %s %d %q %x
//     %X %o %O %b %c %U %e %E %f %F %g %G %t %T %%), flags (- + # space 0),
//     width, precision, '*' and [n] argument indexes, and Go's
//     %!verb(type=value), %!d(MISSING) and %!(EXTRA ...) error strings
//   - docker/podman helpers: json join lower upper title split pad truncate
//   - printing like Go's fmt %v: integers without ".0", floats in Go's
//     shortest %g form, arrays as [a b], objects as map[k:v] (sorted keys),
//     null as <nil>, a missing map key as <no value>; Go's typed nils
//     (GoNil markers, see template.h): nil slices "[]", nil maps "map[]",
//     nil pointers "<nil>", null in json, omitempty ones left out of json
//   - errors like Go's, as den::Error(Errc::Invalid): parse errors are
//     "template: :LINE:COL: msg" (Go omits the column; columns are 0-based
//     byte offsets as in Go's execution errors), except Go's
//     'template: :1: function "foo" not defined'; a missing {{end}} is
//     "unexpected EOF: missing {{end}} for {{if}}"; execution errors are
//     'template: :1:2: executing "" at <.X>: ...'. Nesting deeper than 1000
//     is rejected ("max expression depth exceeded") to protect the stack.
//
// Deliberate differences (JSON carries less type information than Go):
//   - integers and floats compare and format interchangeably (Go would say
//     "incompatible types" for eq 1 1.0, and %!d(float64=1) for %d of 1.0)
//   - index on a missing object key yields "" when the object's values are
//     all strings (like Go's map[string]string, e.g. .Labels), else nil
//   - lower/upper/title map ASCII, Latin-1, Greek and Cyrillic letters only;
//     truncate counts runes, not bytes
//
// Not supported: {{define}}, {{template}}, {{block}}, methods, complex
// numbers, %x of floats, custom delimiters.
#include "den/template.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "den/error.h"

namespace den {
namespace {

constexpr size_t npos = std::string_view::npos;

// A value during evaluation. nullptr is Go's "no value": the result of a
// missing map key. Children of a value share its ownership (aliasing).
using Value = std::shared_ptr<const Json>;

Value make(Json j) { return std::make_shared<const Json>(std::move(j)); }

const Json& deref(const Value& v) {
  static const Json null_json;
  return v ? *v : null_json;
}

// ---------------------------------------------------------------- typed nils

// A GoNil marker (see template.h): a binary value whose subtype is the kind
// (plus kOmitEmpty) and whose bytes are the Go type's name.
constexpr uint64_t kOmitEmpty = 0x10;

GoNil nil_kind(const Json& v) { return static_cast<GoNil>(v.get_binary().subtype() & 0x0f); }
bool nil_omitempty(const Json& v) { return (v.get_binary().subtype() & kOmitEmpty) != 0; }
std::string nil_type(const Json& v) {
  const auto& b = v.get_binary();
  return std::string(b.begin(), b.end());
}
// null or a typed nil.
bool is_nil(const Json& v) { return v.is_null() || v.is_binary(); }

// ---------------------------------------------------------------- UTF-8

// Decodes the rune at s[i] and sets *len; an invalid byte gives -1, length 1.
long decode_rune(std::string_view s, size_t i, size_t* len) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  *len = 1;
  if (c < 0x80) return c;
  int n = c >= 0xF8 ? 0 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
  if (n == 0 || i + n > s.size()) return -1;
  long r = c & (0x7F >> n);
  for (int k = 1; k < n; k++) {
    unsigned char cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return -1;
    r = (r << 6) | (cc & 0x3F);
  }
  if ((n == 3 && r < 0x800) || (n == 4 && (r < 0x10000 || r > 0x10FFFF)) ||
      (r >= 0xD800 && r <= 0xDFFF))
    return -1;
  *len = static_cast<size_t>(n);
  return r;
}

void append_rune(std::string& out, long r) {
  if (r < 0 || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) r = 0xFFFD;
  auto byte = [&](long b) { out += static_cast<char>(b); };
  if (r < 0x80) {
    byte(r);
  } else if (r < 0x800) {
    byte(0xC0 | (r >> 6)), byte(0x80 | (r & 0x3F));
  } else if (r < 0x10000) {
    byte(0xE0 | (r >> 12)), byte(0x80 | ((r >> 6) & 0x3F)), byte(0x80 | (r & 0x3F));
  } else {
    byte(0xF0 | (r >> 18)), byte(0x80 | ((r >> 12) & 0x3F));
    byte(0x80 | ((r >> 6) & 0x3F)), byte(0x80 | (r & 0x3F));
  }
}

size_t rune_count(std::string_view s) {
  size_t n = 0, len;
  for (size_t i = 0; i < s.size(); i += len, n++) decode_rune(s, i, &len);
  return n;
}

std::string first_runes(std::string_view s, size_t count) {
  size_t i = 0, len;
  for (size_t n = 0; i < s.size() && n < count; i += len, n++) decode_rune(s, i, &len);
  return std::string(s.substr(0, i));
}

// Approximates Go's unicode.IsPrint.
bool is_print(long r) {
  return r >= 0x20 && r != 0x7F && !(r >= 0x80 && r < 0xA0) && r != 0xAD && r != 0x2028 &&
         r != 0x2029 && r != 0xFEFF;
}

// The letter of Go's one-letter escape for r ('\n' -> 'n'), or 0.
char escape_letter(long r) {
  static constexpr std::string_view kChars = "\a\b\f\n\r\t\v", kLetters = "abfnrtv";
  size_t k = r > 0 && r < 0x20 ? kChars.find(static_cast<char>(r)) : npos;
  return k == npos ? 0 : kLetters[k];
}

// Go's strconv.Quote (quote '"') and QuoteRune (quote '\'').
std::string go_quote(std::string_view s, char quote = '"', bool ascii_only = false) {
  std::string out(1, quote);
  for (size_t i = 0, len; i < s.size(); i += len) {
    long r = decode_rune(s, i, &len);
    if (r < 0) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(s[i]));
    } else if (r == quote || r == '\\') {
      out += '\\', out += static_cast<char>(r);
    } else if (is_print(r) && (!ascii_only || r < 0x80)) {
      out += s.substr(i, len);
    } else if (char letter = escape_letter(r)) {
      out += '\\', out += letter;
    } else if (r < 0x20 || r == 0x7F) {
      out += fmt::format("\\x{:02x}", r);
    } else if (r < 0x10000) {
      out += fmt::format("\\u{:04x}", r);
    } else {
      out += fmt::format("\\U{:08x}", r);
    }
  }
  return out + quote;
}

// ---------------------------------------------------------------- printing

std::string type_name(const Json& v) {
  switch (v.type()) {
    case Json::value_t::string: return "string";
    case Json::value_t::boolean: return "bool";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "int";
    case Json::value_t::number_float: return "float64";
    case Json::value_t::array: return "[]interface {}";
    case Json::value_t::object: return "map[string]interface {}";
    case Json::value_t::binary: return nil_type(v);
    default: return "<nil>";
  }
}

// Shortest representation of a float: Go's %v (json=false) or the form
// encoding/json writes (json=true).
std::string shortest_float(double v, bool json) {
  if (std::isnan(v)) return json ? "null" : "NaN";
  if (std::isinf(v)) return json ? "null" : v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string sci(buf, r.ptr);
  int exp = std::atoi(sci.c_str() + sci.find('e') + 1);
  bool use_exp = json ? v != 0 && (std::fabs(v) < 1e-6 || std::fabs(v) >= 1e21)
                      : exp < -4 || exp >= 6;  // Go's %v: shortest %g, eprec 6
  if (use_exp) {
    size_t e = sci.find('e');
    if (json && sci.compare(e, 3, "e-0") == 0) sci.erase(e + 2, 1);  // e-07 -> e-7
    return sci;
  }
  r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

std::vector<std::pair<std::string, const Json*>> sorted_items(const Json& obj) {
  std::vector<std::pair<std::string, const Json*>> items;
  for (auto it = obj.begin(); it != obj.end(); ++it) items.emplace_back(it.key(), &it.value());
  std::sort(items.begin(), items.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return items;
}

// ---------------------------------------------------------------- Go structs

// The struct marks of the execution running on this thread (GoStructs in
// template.h); null: every object is a map.
thread_local const GoStructs* t_structs = nullptr;

enum class ObjKind { Map, Struct, Pointer };
ObjKind obj_kind(const Json& v) {
  if (!t_structs) return ObjKind::Map;
  auto it = t_structs->nodes.find(&v);
  if (it == t_structs->nodes.end()) return ObjKind::Map;
  return it->second ? ObjKind::Pointer : ObjKind::Struct;
}

// Go prints a pointer nested in a value as its address.
std::string go_address(const Json& v) {
  return fmt::format("{:#x}", 0xc000000000ULL + (reinterpret_cast<uintptr_t>(&v) & 0xffffffULL));
}

// Go's fmt %v of a JSON value. depth 0 is the value printed; `deref`: a
// pointer there prints as its struct (text/template), else as &{...}.
void append_print(std::string& out, const Json& v, int depth = 0, bool deref = true) {
  switch (v.type()) {
    case Json::value_t::null: out += "<nil>"; break;
    case Json::value_t::binary:
      out += nil_kind(v) == GoNil::Slice ? "[]" : nil_kind(v) == GoNil::Map ? "map[]" : "<nil>";
      break;
    case Json::value_t::string: out += v.get_ref<const std::string&>(); break;
    case Json::value_t::number_float: out += shortest_float(v.get<double>(), false); break;
    case Json::value_t::array:
      out += '[';
      for (size_t i = 0; i < v.size(); i++) {
        if (i > 0) out += ' ';
        append_print(out, v[i], depth + 1);
      }
      out += ']';
      break;
    case Json::value_t::object: {
      ObjKind k = obj_kind(v);
      if (k == ObjKind::Pointer && depth > 0) {
        out += go_address(v);
        break;
      }
      if (k != ObjKind::Map) {
        if (k == ObjKind::Pointer && !deref) out += '&';
        out += '{';
        for (auto it = v.begin(); it != v.end(); ++it) {
          if (it != v.begin()) out += ' ';
          append_print(out, it.value(), depth + 1);
        }
        out += '}';
        break;
      }
      out += "map[";
      bool first = true;
      for (const auto& [key, val] : sorted_items(v)) {
        if (!first) out += ' ';
        first = false;
        out += key + ":";
        append_print(out, *val, depth + 1);
      }
      out += ']';
      break;
    }
    default: out += v.dump(); break;  // integers, booleans
  }
}

std::string go_print(const Json& v) {
  std::string s;
  append_print(s, v);
  return s;
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (size_t i = 0, len; i < s.size(); i += len) {
    long r = decode_rune(s, i, &len);
    if (r < 0) out += "\\ufffd";
    else if (r == '"' || r == '\\') out += '\\', out += static_cast<char>(r);
    else if (r == '\n') out += "\\n";
    else if (r == '\r') out += "\\r";
    else if (r == '\t') out += "\\t";
    else if (r == '\b') out += "\\b";
    else if (r == '\f') out += "\\f";
    else if (r < 0x20 || r == 0x2028 || r == 0x2029) out += fmt::format("\\u{:04x}", r);
    else out += s.substr(i, len);
  }
  out += '"';
}

// Go's json.Marshal without HTML escaping; objects keep insertion order.
void append_json(std::string& out, const Json& v) {
  switch (v.type()) {
    case Json::value_t::string: append_json_string(out, v.get_ref<const std::string&>()); break;
    case Json::value_t::number_float: out += shortest_float(v.get<double>(), true); break;
    case Json::value_t::array:
      out += '[';
      for (size_t i = 0; i < v.size(); i++) {
        if (i > 0) out += ',';
        append_json(out, v[i]);
      }
      out += ']';
      break;
    case Json::value_t::object: {
      out += '{';
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (it.value().is_binary() && nil_omitempty(it.value())) continue;
        if (!first) out += ',';
        first = false;
        append_json_string(out, it.key());
        out += ':';
        append_json(out, it.value());
      }
      out += '}';
      break;
    }
    case Json::value_t::binary: out += "null"; break;
    default: out += v.dump(); break;
  }
}

// ---------------------------------------------------------------- printf

struct Spec {
  bool minus = false, plus = false, sharp = false, space = false, zero = false;
  bool plus_v = false;  // %+v: struct field names (Go clears plus for %v)
  int width = -1, prec = -1;
};

// Pads to the width (in runes): right with '-', else left with spaces or,
// when zero_ok and the '0' flag is set, zeros.
std::string pad(std::string s, const Spec& sp, bool zero_ok) {
  size_t n = rune_count(s);
  if (sp.width < 0 || n >= static_cast<size_t>(sp.width)) return s;
  size_t fill = static_cast<size_t>(sp.width) - n;
  if (sp.minus) return s + std::string(fill, ' ');
  return std::string(fill, zero_ok && sp.zero ? '0' : ' ') + s;
}

// Inserts zeros after the sign to reach the width (numbers with '0' flag).
std::string zero_pad_number(std::string num, const Spec& sp) {
  if (!sp.zero || sp.minus || sp.width < 0 || num.size() >= static_cast<size_t>(sp.width))
    return num;
  size_t at = !num.empty() && (num[0] == '-' || num[0] == '+' || num[0] == ' ') ? 1 : 0;
  num.insert(at, static_cast<size_t>(sp.width) - num.size(), '0');
  return num;
}

std::string bad_verb(const std::string& verb, const Json* v) {
  if (!v || v->is_null()) return "%!" + verb + "(<nil>)";
  return "%!" + verb + "(" + type_name(*v) + "=" + go_print(*v) + ")";
}

std::string fmt_integer(bool neg, uint64_t mag, const Spec& sp, char verb) {
  unsigned base = verb == 'b' ? 2 : verb == 'o' || verb == 'O' ? 8 : verb == 'x' || verb == 'X' ? 16 : 10;
  const char* digits = verb == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string num;
  if (!(sp.prec == 0 && mag == 0)) {
    do num.insert(num.begin(), digits[mag % base]); while ((mag /= base) != 0);
  }
  if (sp.prec > 0 && num.size() < static_cast<size_t>(sp.prec))
    num.insert(0, static_cast<size_t>(sp.prec) - num.size(), '0');
  std::string prefix;
  if (verb == 'O') prefix = "0o";
  else if (sp.sharp && verb == 'b') prefix = "0b";
  else if (sp.sharp && verb == 'o' && (num.empty() || num[0] != '0')) prefix = "0";
  else if (sp.sharp && (verb == 'x' || verb == 'X')) prefix = verb == 'x' ? "0x" : "0X";
  std::string sign = neg ? "-" : sp.plus ? "+" : sp.space ? " " : "";
  if (sp.zero && !sp.minus && sp.prec < 0 && sp.width > 0) {
    size_t used = sign.size() + prefix.size() + num.size();
    if (used < static_cast<size_t>(sp.width)) num.insert(0, static_cast<size_t>(sp.width) - used, '0');
  }
  return pad(sign + prefix + num, sp, false);
}

std::string fmt_float(double v, const Spec& sp, char verb) {
  std::string num;
  bool finite = std::isfinite(v);
  if (!finite || ((verb == 'v' || verb == 'g' || verb == 'G') && sp.prec < 0)) {
    num = shortest_float(v, false);
    if (verb == 'G') std::replace(num.begin(), num.end(), 'e', 'E');
  } else {
    char conv[] = {'%', '.', '*', verb == 'v' ? 'g' : verb, '\0'};
    int prec = sp.prec < 0 ? 6 : sp.prec;
    num.resize(static_cast<size_t>(std::snprintf(nullptr, 0, conv, prec, v)));
    std::snprintf(num.data(), num.size() + 1, conv, prec, v);
  }
  if (num[0] != '-' && num[0] != '+') {
    if (sp.plus) num.insert(0, "+");
    else if (sp.space) num.insert(0, " ");
  } else if (num[0] == '+' && !sp.plus && finite) {
    num.erase(0, 1);
  }
  if (finite) num = zero_pad_number(num, sp);
  return pad(num, sp, false);
}

bool can_backquote(std::string_view s) {
  for (size_t i = 0, len; i < s.size(); i += len) {
    long r = decode_rune(s, i, &len);
    if (r < 0 || r == '`' || r == 0xFEFF || (r < ' ' && r != '\t') || r == 0x7F) return false;
  }
  return true;
}

std::string fmt_string(const Json& v, const Spec& sp, char verb) {
  const std::string& s = v.get_ref<const std::string&>();
  switch (verb) {
    case 'v':
    case 's': return pad(sp.prec >= 0 ? first_runes(s, static_cast<size_t>(sp.prec)) : s, sp, true);
    case 'q': {
      std::string t = sp.prec >= 0 ? first_runes(s, static_cast<size_t>(sp.prec)) : s;
      if (sp.sharp && can_backquote(t)) return pad("`" + t + "`", sp, true);
      return pad(go_quote(t, '"', sp.plus), sp, true);
    }
    case 'x':
    case 'X': {
      std::string out;
      size_t n = sp.prec >= 0 ? std::min(s.size(), static_cast<size_t>(sp.prec)) : s.size();
      for (size_t i = 0; i < n; i++) {
        if (sp.space && i > 0) out += ' ';
        if (sp.sharp && (sp.space || i == 0)) out += verb == 'x' ? "0x" : "0X";
        auto byte = static_cast<unsigned char>(s[i]);
        out += verb == 'x' ? fmt::format("{:02x}", byte) : fmt::format("{:02X}", byte);
      }
      return pad(out, sp, true);
    }
    default: return bad_verb(std::string(1, verb), &v);
  }
}

std::string fmt_json(const Json& v, const Spec& sp, char verb, int depth = 0);

std::string fmt_number(const Json& v, const Spec& sp, char verb) {
  bool is_float = v.is_number_float();
  double d = v.get<double>();
  if (is_float && verb == 'd' && std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 9.2e18) {
    return fmt_json(Json(static_cast<int64_t>(d)), sp, verb);  // lenient: 1.0 formats as 1
  }
  if (std::string_view("eEfFgG").find(verb) != npos || (is_float && verb == 'v')) {
    return fmt_float(d, sp, verb);
  }
  if (is_float) return bad_verb(std::string(1, verb), &v);
  bool neg = v.is_number_integer() && !v.is_number_unsigned() && v.get<int64_t>() < 0;
  uint64_t mag = neg ? 0 - static_cast<uint64_t>(v.get<int64_t>()) : v.get<uint64_t>();
  switch (verb) {
    case 'v':
    case 'd':
    case 'b':
    case 'o':
    case 'O':
    case 'x':
    case 'X': return fmt_integer(neg, mag, sp, verb == 'v' ? 'd' : verb);
    case 'c': {
      std::string s;
      append_rune(s, neg ? -1 : static_cast<long>(std::min<uint64_t>(mag, 0x110000)));
      return pad(s, sp, false);
    }
    case 'q': {
      std::string s;
      append_rune(s, neg ? -1 : static_cast<long>(std::min<uint64_t>(mag, 0x110000)));
      return pad(go_quote(s, '\'', sp.plus), sp, false);
    }
    case 'U': {
      std::string s = fmt::format("U+{:04X}", mag);
      if (sp.sharp && !neg && mag <= 0x10FFFF && is_print(static_cast<long>(mag))) {
        s += " '";
        append_rune(s, static_cast<long>(mag));
        s += "'";
      }
      return pad(s, sp, false);
    }
    default: return bad_verb(std::string(1, verb), &v);
  }
}

// Applies a verb to a JSON value; arrays and objects format element-wise, as
// Go's fmt does for []interface{} and map[string]interface{}.
std::string fmt_json(const Json& v, const Spec& sp, char verb, int depth) {
  switch (v.type()) {
    case Json::value_t::null:
      return verb == 'v' ? pad("<nil>", sp, false) : bad_verb(std::string(1, verb), &v);
    case Json::value_t::binary:  // a slice or map applies the verb to no element
      if (nil_kind(v) != GoNil::Pointer) return pad(go_print(v), sp, false);
      return verb == 'v' ? pad("<nil>", sp, false) : "%!" + std::string(1, verb) + "(" + nil_type(v) + "=<nil>)";
    case Json::value_t::string: return fmt_string(v, sp, verb);
    case Json::value_t::boolean:
      if (verb == 'v' || verb == 't') return pad(v.get<bool>() ? "true" : "false", sp, false);
      return bad_verb(std::string(1, verb), &v);
    case Json::value_t::array: {
      std::string out = "[";
      for (size_t i = 0; i < v.size(); i++) out += (i > 0 ? " " : "") + fmt_json(v[i], sp, verb, depth + 1);
      return out + "]";
    }
    case Json::value_t::object: {
      ObjKind k = obj_kind(v);
      if (k == ObjKind::Pointer && depth > 0) return verb == 'v' ? pad(go_address(v), sp, false) : go_address(v);
      if (k != ObjKind::Map) {
        // %v {a b}, %+v {Name:a Other:b}; a pointer given to printf: &{...}.
        std::string out = k == ObjKind::Pointer ? "&{" : "{";
        for (auto it = v.begin(); it != v.end(); ++it) {
          if (it != v.begin()) out += ' ';
          if (sp.plus_v) out += it.key() + ":";
          out += fmt_json(it.value(), sp, verb, depth + 1);
        }
        return out + "}";
      }
      std::string out = "map[";
      bool first = true;
      for (const auto& [key, val] : sorted_items(v)) {
        out += (first ? "" : " ") + fmt_json(Json(key), sp, verb, depth + 1) + ":" + fmt_json(*val, sp, verb, depth + 1);
        first = false;
      }
      return out + "]";
    }
    default: return fmt_number(v, sp, verb);
  }
}

bool is_integral(const Json& v) {
  return v.is_number_integer() ||
         (v.is_number_float() && std::isfinite(v.get<double>()) &&
          v.get<double>() == std::trunc(v.get<double>()) && std::fabs(v.get<double>()) < 9.2e18);
}

// Go's fmt.Sprintf.
std::string go_sprintf(std::string_view f, const std::vector<Value>& args) {
  std::string out;
  size_t argi = 0;
  bool reordered = false;
  for (size_t i = 0; i < f.size();) {
    if (f[i] != '%') {
      out += f[i++];
      continue;
    }
    i++;
    Spec sp;
    for (; i < f.size(); i++) {
      char c = f[i];
      if (c == '-') sp.minus = true, sp.zero = false;
      else if (c == '+') sp.plus = true;
      else if (c == '#') sp.sharp = true;
      else if (c == ' ') sp.space = true;
      else if (c == '0') sp.zero = !sp.minus;
      else break;
    }
    auto arg_index = [&] {  // [n] selects argument n (1-based)
      if (i >= f.size() || f[i] != '[') return;
      size_t close = f.find(']', i);
      if (close == npos) return;
      size_t n = 0;
      std::from_chars(f.data() + i + 1, f.data() + close, n);
      argi = std::max<size_t>(n, 1) - 1;
      reordered = true;
      i = close + 1;
    };
    // Go's fmt (print.go): a width or precision of more than 1e6 is refused.
    // A literal one stops parsing at the first digit after it grew past 1e6
    // and consumes the rest of the format (parsenum: "%!(NOVERB)" follows);
    // one taken from an argument ('*') that is not an int or too large is
    // %!(BADWIDTH) / %!(BADPREC) (intFromArg).
    constexpr int64_t kMaxWidth = 1000000;
    auto too_large = [](int64_t x) { return x > kMaxWidth || x < -kMaxWidth; };
    auto parse_num = [&]() -> std::optional<int> {
      int64_t n = 0;
      bool any = false;
      for (; i < f.size() && f[i] >= '0' && f[i] <= '9'; i++) {
        if (too_large(n)) {
          i = f.size();
          return std::nullopt;
        }
        n = n * 10 + (f[i] - '0');
        any = true;
      }
      if (!any) return std::nullopt;
      return static_cast<int>(n);
    };
    auto int_from_arg = [&]() -> std::optional<int> {
      if (argi >= args.size()) return std::nullopt;
      const Json& a = deref(args[argi++]);
      if (!is_integral(a)) return std::nullopt;
      int64_t n = a.get<int64_t>();
      if (too_large(n)) return std::nullopt;
      return static_cast<int>(n);
    };
    arg_index();
    if (i < f.size() && f[i] == '*') {
      i++;
      auto w = int_from_arg();
      if (!w) out += "%!(BADWIDTH)";
      if (w) {
        sp.width = std::abs(*w);
        if (*w < 0) sp.minus = true, sp.zero = false;
      }
    } else if (auto w = parse_num()) {
      sp.width = *w;
    }
    if (i + 1 < f.size() && f[i] == '.') {
      i++;
      arg_index();
      if (i < f.size() && f[i] == '*') {
        i++;
        auto p = int_from_arg();
        if (p && *p < 0) p.reset();  // a negative precision makes no sense
        if (!p) out += "%!(BADPREC)";
        sp.prec = p ? *p : -1;
      } else {
        auto p = parse_num();
        sp.prec = p ? *p : 0;
      }
    }
    arg_index();
    if (i >= f.size()) {
      out += "%!(NOVERB)";
      break;
    }
    size_t vlen;
    long r = decode_rune(f, i, &vlen);
    std::string verb(f.substr(i, vlen));
    i += vlen;
    if (r == '%') {
      out += '%';
    } else if (argi >= args.size()) {
      out += "%!" + verb + "(MISSING)";
    } else if (r >= 0x80 || r < 0) {
      out += bad_verb(verb, args[argi++].get());
    } else if (r == 'T') {
      const Value& v = args[argi++];
      out += pad(v ? type_name(*v) : "<nil>", sp, false);
    } else {
      if (r == 'v' && sp.plus) sp.plus = false, sp.plus_v = true;  // as Go's fmt: %+v names struct fields
      out += fmt_json(deref(args[argi++]), sp, static_cast<char>(r));
    }
  }
  if (!reordered && argi < args.size()) {
    out += "%!(EXTRA ";
    for (size_t k = argi; k < args.size(); k++) {
      if (k > argi) out += ", ";
      const Json& v = deref(args[k]);
      out += v.is_null() ? "<nil>" : type_name(v) + "=" + go_print(v);
    }
    out += ")";
  }
  return out;
}

// Go's fmt.Sprint: spaces between operands when neither side is a string.
std::string go_sprint(const std::vector<Value>& args) {
  std::string out;
  bool prev_string = false;
  for (size_t k = 0; k < args.size(); k++) {
    bool is_string = deref(args[k]).is_string();
    if (k > 0 && !is_string && !prev_string) out += ' ';
    append_print(out, deref(args[k]), 0, false);
    prev_string = is_string;
  }
  return out;
}

// ---------------------------------------------------------------- errors

// ":LINE:COL" of a byte offset; the column is a 0-based byte offset as in
// Go's ErrorContext.
std::string location(std::string_view src, size_t pos) {
  pos = std::min(pos, src.size());
  std::string_view before = src.substr(0, pos);
  size_t line = 1 + static_cast<size_t>(std::count(before.begin(), before.end(), '\n'));
  size_t nl = before.rfind('\n');
  return fmt::format(":{}:{}", line, nl == npos ? pos : pos - nl - 1);
}

[[noreturn]] void fail_at(std::string_view src, size_t pos, const std::string& msg) {
  throw Error(fmt::format("template: {}: {}", location(src, pos), msg), Errc::Invalid);
}

// ---------------------------------------------------------------- lexer

enum class Tok {
  Text, LeftDelim, RightDelim, Space, Ident, Keyword, Field, Variable, Dot, Bool, Nil,
  String, RawString, Char, Number, LParen, RParen, Pipe, Declare, Assign, Comma, Other, Error, Eof
};

struct Token {
  Tok type;
  std::string val;  // source text (quotes included for literals); message for Error
  size_t pos;       // byte offset in the template
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) {
  return c == '_' || is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         static_cast<unsigned char>(c) >= 0x80;
}

// Splits the template into tokens. A lexical error becomes an Error token
// that ends the list: as in Go, the parser reports it only when it gets
// there, so "{{.A }" is 'unexpected "}" in operand' rather than "unclosed
// action".
class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(src) {}

  std::vector<Token> run() {
    try {
      lex();
    } catch (const Stop&) {
    }
    toks_.push_back({Tok::Eof, "", src_.size()});
    return std::move(toks_);
  }

 private:
  struct Stop {};  // thrown after an Error token
  std::string_view src_;
  size_t pos_ = 0;
  bool trim_next_ = false;  // the previous action ended with " -}}"
  std::vector<Token> toks_;

  [[noreturn]] void fail(size_t pos, const std::string& msg) {
    toks_.push_back({Tok::Error, msg, pos});
    throw Stop{};
  }

  void lex() {
    while (pos_ < src_.size()) {
      size_t open = src_.find("{{", pos_);
      size_t end = open == npos ? src_.size() : open;
      if (trim_next_) {
        while (pos_ < end && is_space(src_[pos_])) pos_++;
        trim_next_ = false;
      }
      if (open == npos) {
        emit_text(end);
        break;
      }
      bool trim_left = open + 3 < src_.size() && src_[open + 2] == '-' && is_space(src_[open + 3]);
      size_t text_end = end;
      while (trim_left && text_end > pos_ && is_space(src_[text_end - 1])) text_end--;
      emit_text(text_end);
      pos_ = open + (trim_left ? 4 : 2);
      if (src_.compare(pos_, 2, "/*") == 0) {
        lex_comment(open);
      } else {
        toks_.push_back({Tok::LeftDelim, "{{", open});
        lex_action(open);
      }
    }
  }

  void emit_text(size_t end) {
    if (end > pos_) toks_.push_back({Tok::Text, std::string(src_.substr(pos_, end - pos_)), pos_});
    pos_ = end;
  }
  void emit(Tok type, size_t start) {
    toks_.push_back({type, std::string(src_.substr(start, pos_ - start)), start});
  }
  bool at_right_trim(size_t p) const {
    return p + 3 < src_.size() && is_space(src_[p]) && src_[p + 1] == '-' &&
           src_.compare(p + 2, 2, "}}") == 0;
  }
  bool at_terminator(size_t p) const {
    return p >= src_.size() || is_space(src_[p]) ||
           std::string_view(".,|:()").find(src_[p]) != npos || src_.compare(p, 2, "}}") == 0;
  }
  void check_terminator() {
    if (at_terminator(pos_)) return;
    size_t len;
    long r = decode_rune(src_, pos_, &len);
    fail(pos_, fmt::format("bad character U+{:04X} '{}'", r < 0 ? 0xFFFD : r, src_.substr(pos_, len)));
  }

  void lex_comment(size_t open) {
    size_t close = src_.find("*/", pos_ + 2);
    if (close == npos) fail(open, "unclosed comment");
    pos_ = close + 2;
    if (at_right_trim(pos_)) {
      pos_ += 4;
      trim_next_ = true;
    } else if (src_.compare(pos_, 2, "}}") == 0) {
      pos_ += 2;
    } else {
      fail(open, "comment ends before closing delimiter");
    }
  }

  void lex_action(size_t open) {
    int parens = 0;
    for (;;) {
      bool trim = at_right_trim(pos_);
      if (trim || src_.compare(pos_, 2, "}}") == 0) {
        if (parens > 0) fail(pos_, "unclosed left paren");
        toks_.push_back({Tok::RightDelim, "}}", pos_});
        pos_ += trim ? 4 : 2;
        trim_next_ = trim;
        return;
      }
      if (pos_ >= src_.size()) fail(open, "unclosed action");
      size_t start = pos_;
      char c = src_[pos_];
      if (is_space(c)) {
        while (pos_ < src_.size() && is_space(src_[pos_]) && !at_right_trim(pos_)) pos_++;
        emit(Tok::Space, start);
      } else if (c == '"' || c == '`' || c == '\'') {
        lex_quote(c);
      } else if (c == '$' || (c == '.' && !(pos_ + 1 < src_.size() && is_digit(src_[pos_ + 1])))) {
        pos_++;
        while (pos_ < src_.size() && is_alnum(src_[pos_])) pos_++;
        check_terminator();
        emit(c == '$' ? Tok::Variable : pos_ - start == 1 ? Tok::Dot : Tok::Field, start);
      } else if (c == '.' || c == '+' || c == '-' || is_digit(c)) {
        lex_number();
      } else if (is_alnum(c)) {
        while (pos_ < src_.size() && is_alnum(src_[pos_])) pos_++;
        check_terminator();
        std::string_view w = src_.substr(start, pos_ - start);
        static constexpr std::string_view kKeywords[] = {
            "if", "else", "end", "range", "with", "break", "continue", "define", "template", "block"};
        bool keyword = std::find(std::begin(kKeywords), std::end(kKeywords), w) != std::end(kKeywords);
        Tok t = keyword ? Tok::Keyword : Tok::Ident;
        if (w == "true" || w == "false") t = Tok::Bool;
        if (w == "nil") t = Tok::Nil;
        emit(t, start);
      } else if (c == ':') {
        if (src_.compare(pos_, 2, ":=") != 0) fail(pos_, "expected :=");
        pos_ += 2;
        emit(Tok::Declare, start);
      } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
        fail(pos_, fmt::format("unrecognized character in action: U+{:04X}", static_cast<int>(c)));
      } else {
        pos_++;
        if (c == '(') parens++;
        if (c == ')' && --parens < 0) fail(start, "unexpected right paren");
        Tok t = c == '(' ? Tok::LParen : c == ')' ? Tok::RParen : c == '|' ? Tok::Pipe
              : c == '=' ? Tok::Assign : c == ',' ? Tok::Comma : Tok::Other;
        emit(t, start);
      }
    }
  }

  void lex_quote(char q) {
    size_t start = pos_++;
    for (;;) {
      if (pos_ >= src_.size() || (q != '`' && src_[pos_] == '\n')) {
        fail(start, q == '"' ? "unterminated quoted string"
                    : q == '`' ? "unterminated raw quoted string" : "unterminated character constant");
      }
      char c = src_[pos_++];
      if (c == '\\' && q != '`' && pos_ < src_.size() && src_[pos_] != '\n') pos_++;
      else if (c == q) break;
    }
    emit(q == '"' ? Tok::String : q == '`' ? Tok::RawString : Tok::Char, start);
  }

  // Go's scanNumber: sign, base prefix, digits, fraction, exponent.
  void lex_number() {
    size_t start = pos_;
    auto accept = [&](std::string_view set) {
      if (pos_ < src_.size() && set.find(src_[pos_]) != npos) return pos_++, true;
      return false;
    };
    auto accept_run = [&](std::string_view set) { while (accept(set)) {} };
    accept("+-");
    std::string_view digits = "0123456789_";
    if (accept("0")) {
      if (accept("xX")) digits = "0123456789abcdefABCDEF_";
      else if (accept("oO")) digits = "01234567_";
      else if (accept("bB")) digits = "01_";
    }
    accept_run(digits);
    if (accept(".")) accept_run(digits);
    if (digits.size() == 11 && accept("eE")) accept("+-"), accept_run("0123456789_");
    if (digits.size() == 23 && accept("pP")) accept("+-"), accept_run("0123456789_");
    accept("i");
    if (pos_ < src_.size() && is_alnum(src_[pos_])) {
      pos_++;
      fail(start, "bad number syntax: " + go_quote(src_.substr(start, pos_ - start)));
    }
    emit(Tok::Number, start);
  }
};

// ---------------------------------------------------------------- literals

// Decodes the Go escapes in a "..." or '...' literal (quotes included).
std::optional<std::string> unquote(std::string_view lit) {
  char q = lit.front();
  std::string_view body = lit.substr(1, lit.size() - 2);
  std::string out;
  auto hex = [&](size_t i, size_t n) -> long {
    if (i + n > body.size()) return -1;
    long v = 0;
    for (size_t k = i; k < i + n; k++) {
      char c = body[k];
      int d = is_digit(c) ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1;
      if (d < 0) return -1;
      v = v * 16 + d;
    }
    return v;
  };
  for (size_t i = 0; i < body.size(); i++) {
    if (body[i] != '\\') {
      out += body[i];
      continue;
    }
    if (++i >= body.size()) return std::nullopt;
    char e = body[i];
    static constexpr std::string_view kSimple = "abfnrtv\\";
    if (size_t k = kSimple.find(e); k != npos) {
      out += "\a\b\f\n\r\t\v\\"[k];
    } else if (e == q) {
      out += q;
    } else if (e == 'x' || e == 'u' || e == 'U') {
      size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
      long v = hex(i + 1, n);
      if (v < 0 || (e != 'x' && (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)))) return std::nullopt;
      if (e == 'x') out += static_cast<char>(v);
      else append_rune(out, v);
      i += n;
    } else if (e >= '0' && e <= '7') {
      if (i + 2 >= body.size()) return std::nullopt;
      int v = 0;
      for (size_t k = i; k < i + 3; k++) {
        if (body[k] < '0' || body[k] > '7') return std::nullopt;
        v = v * 8 + (body[k] - '0');
      }
      if (v > 255) return std::nullopt;
      out += static_cast<char>(v);
      i += 2;
    } else {
      return std::nullopt;
    }
  }
  return out;
}

// The rune of a character constant: 'a', '\n', '\x41', 'é'.
std::optional<long> parse_char(const std::string& lit) {
  std::optional<std::string> s = unquote(lit);
  if (!s || s->empty()) return std::nullopt;
  if (s->size() == 1) return static_cast<unsigned char>((*s)[0]);
  size_t len;
  long r = decode_rune(*s, 0, &len);
  if (r < 0 || len != s->size()) return std::nullopt;
  return r;
}

// Converts a number token as Go does for untyped constants: int when it has
// no fraction or exponent, else float64.
std::optional<Json> parse_number(std::string text) {
  text.erase(std::remove(text.begin(), text.end(), '_'), text.end());
  if (text.empty() || text.back() == 'i') return std::nullopt;  // complex: unsupported
  bool neg = text[0] == '-';
  std::string body = text[0] == '-' || text[0] == '+' ? text.substr(1) : text;
  if (body.empty()) return std::nullopt;
  bool hex = body.size() > 1 && body[0] == '0' && (body[1] | 0x20) == 'x';
  bool is_float = hex ? body.find_first_of("pP.") != npos : body.find_first_of(".eE") != npos;
  if (is_float) {
    char* end = nullptr;
    double d = std::strtod(text.c_str(), &end);
    if (*end != '\0') return std::nullopt;
    return Json(d);
  }
  int base = 10;
  size_t skip = 0;
  if (body.size() > 1 && body[0] == '0') {
    char p = static_cast<char>(body[1] | 0x20);
    base = p == 'x' ? 16 : p == 'b' ? 2 : 8;
    skip = p == 'x' || p == 'b' || p == 'o' ? 2 : 1;
  }
  std::string digits = body.substr(skip);
  if (digits.empty()) return std::nullopt;
  uint64_t mag = 0;
  auto r = std::from_chars(digits.data(), digits.data() + digits.size(), mag, base);
  if (r.ptr != digits.data() + digits.size()) return std::nullopt;
  if (r.ec == std::errc::result_out_of_range) return std::nullopt;
  if (!neg) return mag <= static_cast<uint64_t>(INT64_MAX) ? Json(static_cast<int64_t>(mag)) : Json(mag);
  if (mag > static_cast<uint64_t>(INT64_MAX) + 1) return std::nullopt;
  return Json(static_cast<int64_t>(0 - mag));
}

// ---------------------------------------------------------------- parse tree

struct Pipe;

// One argument of a command: ".A.B", "$x.A", "\"s\"", "3", "true", "nil",
// ".", "fn", "(pipeline).A".
struct Operand {
  enum Kind { Dot, Nil, Literal, Field, Variable, Function, SubPipe } kind = Dot;
  size_t pos = 0, end = 0;          // source span, for error messages
  Json literal;                     // Literal
  std::string name;                 // Variable ("$x") or Function
  std::vector<std::string> fields;  // field chain; for Field the whole chain
  std::shared_ptr<Pipe> pipe;       // SubPipe
};

// "fn arg arg" or a single operand.
struct Command {
  size_t pos = 0, end = 0;
  std::vector<Operand> args;
};

// "$x := cmd | cmd".
struct Pipe {
  size_t pos = 0;
  bool is_assign = false;          // "=" rather than ":="
  std::vector<std::string> decl;   // declared variables
  std::vector<Command> cmds;
};

struct Node {
  enum Kind { Text, Action, If, With, Range, Break, Continue } kind = Text;
  size_t pos = 0;
  std::string text;              // Text
  Pipe pipe;                     // Action, If, With, Range
  std::vector<Node> list;        // body of If/With/Range
  std::vector<Node> else_list;   // {{else}} part
};

// ---------------------------------------------------------------- functions

// Thrown by builtins; reported as "error calling NAME: msg" (or just msg
// for argument type errors, as Go does).
struct FuncError {
  std::string msg;
  bool wrap = true;
};

using Builtin = Value (*)(const std::vector<Value>& args);

struct FuncInfo {
  std::string_view name;
  size_t min_args;
  size_t max_args;  // SIZE_MAX: variadic
  Builtin fn;       // nullptr: and/or, evaluated lazily by the executor
};

const FuncInfo* find_function(std::string_view name);

// ---------------------------------------------------------------- parser

class Parser {
 public:
  explicit Parser(std::string_view src) : src_(src), toks_(Lexer(src).run()) {}

  std::vector<Node> parse() {
    std::vector<Node> root;
    Stop stop = parse_list(root);
    if (stop == Stop::End) fail(stop_pos_, "unexpected {{end}}");
    if (stop == Stop::Else) fail(stop_pos_, "unexpected {{else}}");
    return root;
  }

 private:
  enum class Stop { End, Else, Eof };  // what ended a list

  std::string_view src_;
  std::vector<Token> toks_;
  size_t i_ = 0;
  std::vector<std::string> vars_{"$"};  // variables in scope
  int range_depth_ = 0;
  static constexpr int kMaxDepth = 1000;
  int depth_ = 0;  // nesting of control structures and pipelines, bounded to protect the stack
  size_t stop_pos_ = 0;

  const Token& peek() const {
    const Token& t = toks_[i_];
    if (t.type == Tok::Error) fail(t.pos, t.val);
    return t;
  }
  const Token& next() {
    const Token& t = peek();
    if (t.type != Tok::Eof) i_++;
    return t;
  }
  const Token& peek_non_space() {
    while (peek().type == Tok::Space) i_++;
    return peek();
  }
  const Token& next_non_space() {
    peek_non_space();
    return next();
  }

  [[noreturn]] void fail(size_t pos, const std::string& msg) const { fail_at(src_, pos, msg); }

  // Go's item.String(): EOF, <keyword>, or the quoted text.
  static std::string describe(const Token& t) {
    if (t.type == Tok::Eof) return "EOF";
    if (t.type == Tok::Keyword || t.type == Tok::Dot || t.type == Tok::Nil) return "<" + t.val + ">";
    if (rune_count(t.val) > 10) return go_quote(first_runes(t.val, 10)) + "...";
    return go_quote(t.val);
  }
  [[noreturn]] void unexpected(const Token& t, std::string_view context) const {
    fail(t.pos, fmt::format("unexpected {} in {}", describe(t), context));
  }
  void expect_right_delim(std::string_view context) {
    const Token& t = next_non_space();
    if (t.type != Tok::RightDelim) unexpected(t, context);
  }
  bool defined(const std::string& name) const {
    return std::find(vars_.begin(), vars_.end(), name) != vars_.end();
  }

  // Parses text and actions up to {{end}}, {{else}} or the end of input.
  Stop parse_list(std::vector<Node>& out) {
    for (;;) {
      const Token& t = next();
      if (t.type == Tok::Eof) {
        stop_pos_ = t.pos;
        return Stop::Eof;
      }
      if (t.type == Tok::Text) {
        Node n;
        n.pos = t.pos;
        n.text = t.val;
        out.push_back(std::move(n));
        continue;
      }
      // Tok::LeftDelim: the lexer emits nothing else outside actions.
      const Token& k = peek_non_space();
      if (k.type == Tok::Keyword && (k.val == "end" || k.val == "else")) {
        next();
        stop_pos_ = k.pos;
        if (k.val == "else") return Stop::Else;
        expect_right_delim("end");
        return Stop::End;
      }
      out.push_back(parse_action());
    }
  }

  Node parse_action() {
    const Token& k = peek_non_space();
    if (k.type == Tok::Keyword) {
      next();
      if (k.val == "if") return parse_control(Node::If, k);
      if (k.val == "with") return parse_control(Node::With, k);
      if (k.val == "range") return parse_control(Node::Range, k);
      if (k.val == "break" || k.val == "continue") {
        std::string what = "{{" + k.val + "}}";
        if (range_depth_ == 0) fail(k.pos, what + " outside {{range}}");
        expect_right_delim(what);
        Node n;
        n.kind = k.val == "break" ? Node::Break : Node::Continue;
        n.pos = k.pos;
        return n;
      }
      fail(k.pos, "{{" + k.val + "}} is not supported");  // define, template, block
    }
    Node n;
    n.kind = Node::Action;
    n.pos = k.pos;
    n.pipe = parse_pipeline("command", Tok::RightDelim, false);
    return n;
  }

  // {{if|with|range pipeline}} list [{{else [if|with ...]}} list] {{end}}
  Node parse_control(Node::Kind kind, const Token& keyword) {
    if (++depth_ > kMaxDepth) fail(keyword.pos, "max expression depth exceeded");
    size_t mark = vars_.size();
    Node n;
    n.kind = kind;
    n.pos = keyword.pos;
    n.pipe = parse_pipeline(keyword.val, Tok::RightDelim, kind == Node::Range);
    if (kind == Node::Range) range_depth_++;
    Stop stop = parse_list(n.list);
    if (kind == Node::Range) range_depth_--;
    if (stop == Stop::Else) {
      const Token& k = peek_non_space();
      if (k.type == Tok::Keyword && (k.val == "if" || k.val == "with")) {
        // {{else if x}} is {{else}}{{if x}}...{{end}} sharing one {{end}}.
        next();
        n.else_list.push_back(parse_control(k.val == "if" ? Node::If : Node::With, k));
        stop = Stop::End;
      } else {
        expect_right_delim("else");
        stop = parse_list(n.else_list);
        if (stop == Stop::Else) fail(stop_pos_, "expected end; found {{else}}");
      }
    }
    if (stop == Stop::Eof) fail(stop_pos_, "unexpected EOF: missing {{end}} for {{" + keyword.val + "}}");
    vars_.resize(mark);
    depth_--;
    return n;
  }

  static bool starts_operand(Tok t) {
    switch (t) {
      case Tok::Bool: case Tok::Char: case Tok::Dot: case Tok::Field: case Tok::Ident:
      case Tok::Nil: case Tok::Number: case Tok::RawString: case Tok::String:
      case Tok::Variable: case Tok::LParen:
        return true;
      default:
        return false;
    }
  }

  Pipe parse_pipeline(const std::string& context, Tok end, bool is_range) {
    Pipe p;
    p.pos = peek_non_space().pos;
    if (++depth_ > kMaxDepth) fail(p.pos, "max expression depth exceeded");
    parse_declarations(p, context, is_range);
    for (;;) {
      const Token& t = next_non_space();
      if (t.type == end) {
        if (p.cmds.empty()) fail(t.pos, "missing value for " + context);
        break;
      }
      if (!starts_operand(t.type)) unexpected(t, context);
      i_--;
      p.cmds.push_back(parse_command());
    }
    for (size_t k = 1; k < p.cmds.size(); k++) {
      Operand::Kind first = p.cmds[k].args[0].kind;
      if (first == Operand::Dot || first == Operand::Nil || first == Operand::Literal)
        fail(p.cmds[k].pos, fmt::format("non executable command in pipeline stage {}", k + 1));
    }
    depth_--;
    return p;
  }

  // "$x :=", "$x =", and for range "$i, $v :=".
  void parse_declarations(Pipe& p, const std::string& context, bool is_range) {
    size_t save = i_;
    if (peek_non_space().type != Tok::Variable) return;
    for (;;) {
      const Token& v = next_non_space();
      const Token& op = peek_non_space();
      if (op.type == Tok::Declare || op.type == Tok::Assign) {
        next();
        p.decl.push_back(v.val);
        p.is_assign = op.type == Tok::Assign;
        break;
      }
      if (op.type == Tok::Comma && is_range && p.decl.empty()) {
        next();
        p.decl.push_back(v.val);
        if (peek_non_space().type != Tok::Variable) fail(peek().pos, "range can only initialize variables");
        continue;
      }
      if (!p.decl.empty()) unexpected(op, context);
      i_ = save;  // a plain variable operand, not a declaration
      return;
    }
    for (const auto& name : p.decl) {
      if (!p.is_assign) vars_.push_back(name);
      else if (!defined(name)) fail(p.pos, "undefined variable " + go_quote(name));
    }
  }

  Command parse_command() {
    Command c;
    c.pos = peek_non_space().pos;
    for (;;) {
      peek_non_space();
      if (std::optional<Operand> op = parse_operand()) {
        c.end = op->end;
        c.args.push_back(std::move(*op));
      }
      const Token& t = next();
      if (t.type == Tok::Space) continue;
      if (t.type == Tok::RightDelim || t.type == Tok::RParen) {
        i_--;
        break;
      }
      if (t.type == Tok::Pipe) break;
      unexpected(t, "operand");
    }
    if (c.args.empty()) fail(c.pos, "empty command");
    return c;
  }

  // A term followed by an optional field chain: "(x).A.B", "$v.A".
  std::optional<Operand> parse_operand() {
    std::optional<Operand> op = parse_term();
    if (!op || peek().type != Tok::Field) return op;
    if (op->kind == Operand::Literal || op->kind == Operand::Nil || op->kind == Operand::Dot) {
      fail(peek().pos, "unexpected . after term " + go_quote(src_.substr(op->pos, op->end - op->pos)));
    }
    while (peek().type == Tok::Field) {
      const Token& f = next();
      op->fields.push_back(f.val.substr(1));
      op->end = f.pos + f.val.size();
    }
    return op;
  }

  std::optional<Operand> parse_term() {
    size_t save = i_;
    const Token& t = next_non_space();
    Operand op;
    op.pos = t.pos;
    op.end = t.pos + t.val.size();
    switch (t.type) {
      case Tok::Ident:
        if (!find_function(t.val)) {  // Go's format: line only
          std::string loc = location(src_, t.pos);
          throw Error(fmt::format("template: {}: function {} not defined", loc.substr(0, loc.rfind(':')),
                                  go_quote(t.val)),
                      Errc::Invalid);
        }
        op.kind = Operand::Function;
        op.name = t.val;
        return op;
      case Tok::Dot: op.kind = Operand::Dot; return op;
      case Tok::Nil: op.kind = Operand::Nil; return op;
      case Tok::Variable:
        if (!defined(t.val)) fail(t.pos, "undefined variable " + go_quote(t.val));
        op.kind = Operand::Variable;
        op.name = t.val;
        return op;
      case Tok::Field:
        op.kind = Operand::Field;
        op.fields.push_back(t.val.substr(1));
        return op;
      case Tok::Bool: op.kind = Operand::Literal; op.literal = t.val == "true"; return op;
      case Tok::Number: {
        std::optional<Json> n = parse_number(t.val);
        if (!n) fail(t.pos, "illegal number syntax: " + go_quote(t.val));
        op.kind = Operand::Literal;
        op.literal = std::move(*n);
        return op;
      }
      case Tok::Char: {
        std::optional<long> r = parse_char(t.val);
        if (!r) fail(t.pos, "malformed character constant: " + t.val);
        op.kind = Operand::Literal;
        op.literal = static_cast<int64_t>(*r);
        return op;
      }
      case Tok::String:
      case Tok::RawString: {
        std::optional<std::string> s =
            t.type == Tok::RawString ? t.val.substr(1, t.val.size() - 2) : unquote(t.val);
        if (!s) fail(t.pos, "invalid syntax: " + t.val);
        op.kind = Operand::Literal;
        op.literal = std::move(*s);
        return op;
      }
      case Tok::LParen:
        op.kind = Operand::SubPipe;
        op.pipe = std::make_shared<Pipe>(parse_pipeline("parenthesized pipeline", Tok::RParen, false));
        op.end = toks_[i_ - 1].pos + 1;
        return op;
      default:
        i_ = save;
        return std::nullopt;
    }
  }
};

// ---------------------------------------------------------------- executor

// Go's truth: false, 0, nil, "" and empty arrays/objects are false.
bool truth(const Value& v) {
  if (!v) return false;
  switch (v->type()) {
    case Json::value_t::boolean: return v->get<bool>();
    case Json::value_t::number_integer: return v->get<int64_t>() != 0;
    case Json::value_t::number_unsigned: return v->get<uint64_t>() != 0;
    case Json::value_t::number_float: return v->get<double>() != 0;
    case Json::value_t::string: return !v->get_ref<const std::string&>().empty();
    case Json::value_t::array:
    case Json::value_t::object: return !v->empty();
    default: return false;
  }
}

enum class Flow { Normal, Break, Continue };

class Exec {
 public:
  Exec(std::string_view src, const Value& root, std::string& out, const TemplateMethods* methods)
      : src_(src), out_(out), methods_(methods) {
    vars_.emplace_back("$", root);
  }

  Flow walk(const std::vector<Node>& list, const Value& dot) {
    for (const Node& n : list) {
      Flow f = walk_node(n, dot);
      if (f != Flow::Normal) return f;
    }
    return Flow::Normal;
  }

 private:
  std::string_view src_;
  std::string& out_;
  const TemplateMethods* methods_ = nullptr;
  std::vector<std::pair<std::string, Value>> vars_;

  [[noreturn]] void fail(size_t pos, size_t end, const std::string& msg) const {
    fail_at(src_, pos, fmt::format("executing \"\" at <{}>: {}", src_.substr(pos, end - pos), msg));
  }

  Flow walk_node(const Node& n, const Value& dot) {
    switch (n.kind) {
      case Node::Text: out_ += n.text; break;
      case Node::Action: {
        Value v = eval_pipe(dot, n.pipe, true);
        if (n.pipe.decl.empty()) {
          if (v) append_print(out_, *v);
          else out_ += "<no value>";
        }
        break;
      }
      case Node::If:
      case Node::With: {
        size_t mark = vars_.size();
        Value v = eval_pipe(dot, n.pipe, true);
        Flow f = truth(v) ? walk(n.list, n.kind == Node::With ? v : dot) : walk(n.else_list, dot);
        vars_.resize(mark);
        return f;
      }
      case Node::Range: return walk_range(n, dot);
      case Node::Break: return Flow::Break;
      case Node::Continue: return Flow::Continue;
    }
    return Flow::Normal;
  }

  Flow walk_range(const Node& n, const Value& dot) {
    size_t mark = vars_.size();
    Value v = eval_pipe(dot, n.pipe, false);
    size_t end = n.pipe.cmds.back().end;
    size_t count = 0;
    std::vector<std::pair<std::string, const Json*>> sorted;  // objects: Go ranges over sorted keys
    if (v && (v->is_array() || v->is_object())) {
      count = v->size();
      if (v->is_object()) sorted = sorted_items(*v);
    } else if (v && v->is_number_integer()) {  // Go 1.22: range over an int
      if (n.pipe.decl.size() > 1)
        fail(n.pipe.cmds.front().pos, end, "can't use " + go_print(*v) + " to iterate over more than one variable");
      bool negative = !v->is_number_unsigned() && v->get<int64_t>() < 0;
      count = negative ? 0 : v->get<size_t>();
    } else if (v && !is_nil(*v)) {
      fail(n.pipe.cmds.front().pos, end, "range can't iterate over " + go_print(*v));
    }
    if (count == 0) {
      Flow f = walk(n.else_list, dot);
      vars_.resize(mark);
      return f;
    }
    for (size_t i = 0; i < count; i++) {
      Value key = v->is_object() ? make(sorted[i].first) : make(i);
      Value elem = v->is_array() ? Value(v, &(*v)[i]) : v->is_object() ? Value(v, sorted[i].second) : key;
      if (n.pipe.decl.size() == 2) bind(n.pipe.decl[0], key, n.pipe.is_assign, n.pos);
      if (!n.pipe.decl.empty()) bind(n.pipe.decl.back(), elem, n.pipe.is_assign, n.pos);
      Flow f = walk(n.list, elem);
      vars_.resize(mark);
      if (f == Flow::Break) break;
    }
    return Flow::Normal;
  }

  void bind(const std::string& name, const Value& v, bool assign, size_t pos) {
    if (!assign) {
      vars_.emplace_back(name, v);
      return;
    }
    for (auto it = vars_.rbegin(); it != vars_.rend(); ++it) {
      if (it->first == name) {
        it->second = v;
        return;
      }
    }
    fail(pos, pos + name.size(), "undefined variable: " + name);
  }

  Value eval_pipe(const Value& dot, const Pipe& p, bool declare) {
    Value v;
    for (size_t k = 0; k < p.cmds.size(); k++) v = eval_command(dot, p.cmds[k], k > 0 ? &v : nullptr);
    if (declare) {
      for (const auto& name : p.decl) bind(name, v, p.is_assign, p.pos);
    }
    return v;
  }

  // `final` is the result of the previous command in the pipeline, if any.
  Value eval_command(const Value& dot, const Command& c, const Value* final) {
    const Operand& first = c.args[0];
    if (first.kind == Operand::Function) return follow(call(dot, first, &c, final), first);
    if (first.kind == Operand::Nil) fail(c.pos, c.end, "nil is not a command");
    if ((c.args.size() > 1 || final) && first.kind == Operand::Field && methods_ && !first.fields.empty()) {
      auto m = methods_->find(first.fields.back());
      if (m != methods_->end()) {
        Operand receiver = first;
        receiver.fields.pop_back();
        Value self = follow(dot, receiver);
        std::vector<Json> args;
        for (size_t k = 1; k < c.args.size(); k++) args.push_back(deref(eval_operand(dot, c.args[k])));
        if (final) args.push_back(deref(*final));
        return make(m->second(deref(self), args));
      }
    }
    if (c.args.size() > 1 || final) {
      fail(first.pos, first.end, "can't give argument to non-function " +
                                     std::string(src_.substr(first.pos, first.end - first.pos)));
    }
    return eval_operand(dot, first);
  }

  Value eval_operand(const Value& dot, const Operand& op) {
    switch (op.kind) {
      case Operand::Dot: return dot;
      case Operand::Nil: return make(nullptr);
      case Operand::Literal: return Value(Value(), &op.literal);  // the tree outlives execution
      case Operand::Field: return follow(dot, op);
      case Operand::Variable: return follow(lookup(op), op);
      case Operand::Function: return follow(call(dot, op, nullptr, nullptr), op);
      case Operand::SubPipe: return follow(eval_pipe(dot, *op.pipe, true), op);
    }
    return nullptr;
  }

  Value lookup(const Operand& op) const {
    for (auto it = vars_.rbegin(); it != vars_.rend(); ++it) {
      if (it->first == op.name) return it->second;
    }
    fail(op.pos, op.end, "undefined variable: " + op.name);
  }

  // Applies the operand's field chain to v.
  Value follow(Value v, const Operand& op) const {
    for (const auto& name : op.fields) {
      if (!v) return v;  // a missing key stays missing: <no value>
      if (v->is_object()) {
        auto it = v->find(name);
        v = it == v->end() ? nullptr : Value(v, &*it);
      } else if (v->is_null()) {
        fail(op.pos, op.end, "nil pointer evaluating interface {}." + name);
      } else if (v->is_binary() && nil_kind(*v) == GoNil::Map) {
        v = nullptr;  // a nil map has no keys: <no value>
      } else if (v->is_binary() && nil_kind(*v) == GoNil::Pointer) {
        fail(op.pos, op.end, "nil pointer evaluating " + nil_type(*v) + "." + name);
      } else {
        fail(op.pos, op.end, fmt::format("can't evaluate field {} in type {}", name, type_name(*v)));
      }
    }
    return v;
  }

  // Calls the function named by fn with the command's other operands (when
  // cmd is set) and the pipeline's previous value (when final is set).
  Value call(const Value& dot, const Operand& fn, const Command* cmd, const Value* final) {
    const FuncInfo& info = *find_function(fn.name);
    size_t pos = cmd ? cmd->pos : fn.pos, end = cmd ? cmd->end : fn.end;
    size_t explicit_args = cmd ? cmd->args.size() - 1 : 0;
    size_t nargs = explicit_args + (final ? 1 : 0);
    if (nargs < info.min_args || nargs > info.max_args) {
      bool variadic = info.max_args == SIZE_MAX;
      fail(pos, end, fmt::format("wrong number of args for {}: want {}{} got {}", fn.name,
                                 variadic ? "at least " : "", info.min_args, nargs));
    }
    auto arg = [&](size_t k) { return k < explicit_args ? eval_operand(dot, cmd->args[k + 1]) : *final; };
    if (!info.fn) {  // and/or: stop at the first false/true argument
      bool is_and = fn.name == "and";
      Value v;
      for (size_t k = 0; k < nargs; k++) {
        v = arg(k);
        if (truth(v) != is_and) break;
      }
      return v;
    }
    std::vector<Value> args;
    for (size_t k = 0; k < nargs; k++) args.push_back(arg(k));
    try {
      return info.fn(args);
    } catch (const FuncError& e) {
      fail(pos, end, e.wrap ? fmt::format("error calling {}: {}", fn.name, e.msg) : e.msg);
    }
  }
};

// ---------------------------------------------------------------- builtins

[[noreturn]] void wrong_type(const Value& v, std::string_view want) {
  if (!v) throw FuncError{fmt::format("invalid value; expected {}", want), false};
  throw FuncError{fmt::format("wrong type for value; expected {}; got {}", want, type_name(*v)), false};
}

const std::string& str_arg(const Value& v) {
  if (!v || !v->is_string()) wrong_type(v, "string");
  return v->get_ref<const std::string&>();
}

int64_t int_arg(const Value& v) {
  if (!v || !is_integral(*v)) wrong_type(v, "int");
  return v->get<int64_t>();
}

// Compares two numbers (ints and floats alike): -1, 0 or 1.
int compare_numbers(const Json& a, const Json& b) {
  if (a.is_number_integer() && b.is_number_integer()) {
    bool an = !a.is_number_unsigned() && a.get<int64_t>() < 0;
    bool bn = !b.is_number_unsigned() && b.get<int64_t>() < 0;
    if (an != bn) return an ? -1 : 1;
    if (an) return a.get<int64_t>() < b.get<int64_t>() ? -1 : a.get<int64_t>() > b.get<int64_t>();
    return a.get<uint64_t>() < b.get<uint64_t>() ? -1 : a.get<uint64_t>() > b.get<uint64_t>();
  }
  double x = a.get<double>(), y = b.get<double>();
  return x < y ? -1 : x > y;
}

// Go's eq for two values; nil equals only nil.
bool equal(const Value& a, const Value& b) {
  const Json& x = deref(a);
  const Json& y = deref(b);
  if (is_nil(x) || is_nil(y)) return is_nil(x) && is_nil(y);
  if (x.is_number() && y.is_number()) return compare_numbers(x, y) == 0;
  if (x.type() != y.type()) throw FuncError{"incompatible types for comparison"};
  if (x.is_array() || x.is_object())
    throw FuncError{"non-comparable type " + go_print(x) + ": " + type_name(x)};
  return x == y;
}

// Go's lt: strings or numbers only.
bool less(const Value& a, const Value& b) {
  const Json& x = deref(a);
  const Json& y = deref(b);
  bool basic_x = x.is_string() || x.is_number(), basic_y = y.is_string() || y.is_number();
  if (!basic_x || !basic_y) throw FuncError{"invalid type for comparison"};
  if (x.is_number() != y.is_number()) throw FuncError{"incompatible types for comparison"};
  if (x.is_string()) return x.get_ref<const std::string&>() < y.get_ref<const std::string&>();
  return compare_numbers(x, y) < 0;
}

Value fn_eq(const std::vector<Value>& a) {
  if (a.size() < 2) throw FuncError{"missing argument for comparison"};
  for (size_t k = 1; k < a.size(); k++) {
    if (equal(a[0], a[k])) return make(true);
  }
  return make(false);
}
Value fn_ne(const std::vector<Value>& a) { return make(!equal(a[0], a[1])); }
Value fn_lt(const std::vector<Value>& a) { return make(less(a[0], a[1])); }
Value fn_le(const std::vector<Value>& a) { return make(less(a[0], a[1]) || equal(a[0], a[1])); }
Value fn_gt(const std::vector<Value>& a) { return make(!less(a[0], a[1]) && !equal(a[0], a[1])); }
Value fn_ge(const std::vector<Value>& a) { return make(!less(a[0], a[1])); }
Value fn_not(const std::vector<Value>& a) { return make(!truth(a[0])); }

Value fn_len(const std::vector<Value>& a) {
  const Json& v = deref(a[0]);
  if (v.is_string()) return make(v.get_ref<const std::string&>().size());
  if (v.is_array() || v.is_object()) return make(v.size());
  if (v.is_null() || (v.is_binary() && nil_kind(v) == GoNil::Pointer)) throw FuncError{"len of nil pointer"};
  if (v.is_binary()) return make(0);
  throw FuncError{"len of type " + type_name(v)};
}

// The zero value for a missing key: "" when the object's values are all
// strings (like Go's map[string]string, e.g. .Labels), else nil.
Value zero_element(const Json& obj) {
  bool all_strings = std::all_of(obj.begin(), obj.end(), [](const Json& e) { return e.is_string(); });
  return make(all_strings ? Json("") : Json(nullptr));
}

Value fn_index(const std::vector<Value>& a) {
  Value v = a[0];
  for (size_t k = 1; k < a.size(); k++) {
    const Json& key = deref(a[k]);
    if (!v || v->is_null()) throw FuncError{"index of untyped nil"};
    if (v->is_binary() && nil_kind(*v) == GoNil::Map) return make("");  // the zero value (map[string]string)
    if (v->is_binary() && nil_kind(*v) == GoNil::Slice)
      throw FuncError{fmt::format("index out of range: {}", deref(a[k]).dump())};
    if (v->is_binary()) throw FuncError{"index of nil pointer"};
    if (v->is_array() || v->is_string()) {
      if (!is_integral(key)) throw FuncError{"cannot index slice/array with type " + type_name(key)};
      int64_t i = key.get<int64_t>();
      size_t n = v->is_array() ? v->size() : v->get_ref<const std::string&>().size();
      if (i < 0 || static_cast<uint64_t>(i) >= n) throw FuncError{fmt::format("index out of range: {}", i)};
      if (v->is_array()) v = Value(v, &(*v)[static_cast<size_t>(i)]);
      else v = make(static_cast<unsigned char>(v->get_ref<const std::string&>()[static_cast<size_t>(i)]));
    } else if (v->is_object()) {
      if (!key.is_string()) throw FuncError{"value has type " + type_name(key) + "; should be string"};
      auto it = v->find(key.get_ref<const std::string&>());
      v = it == v->end() ? zero_element(*v) : Value(v, &*it);
    } else {
      throw FuncError{"can't index item of type " + type_name(*v)};
    }
  }
  return v;
}

Value fn_slice(const std::vector<Value>& a) {
  const Json& v = deref(a[0]);
  if (v.is_null()) throw FuncError{"slice of untyped nil"};
  if (v.is_binary() && nil_kind(v) == GoNil::Slice) {  // a nil slice sliced [0:0] stays nil
    for (size_t k = 1; k < a.size(); k++)
      if (int64_t i = int_arg(a[k]); i != 0) throw FuncError{fmt::format("index out of range: {}", i)};
    return a[0];
  }
  if (!v.is_string() && !v.is_array()) throw FuncError{"can't slice item of type " + type_name(v)};
  if (a.size() > 4) throw FuncError{fmt::format("too many slice indexes: {}", a.size() - 1)};
  if (v.is_string() && a.size() == 4) throw FuncError{"cannot 3-index slice a string"};
  size_t len = v.is_string() ? v.get_ref<const std::string&>().size() : v.size();
  int64_t idx[3] = {0, static_cast<int64_t>(len), static_cast<int64_t>(len)};
  for (size_t k = 1; k < a.size(); k++) {
    idx[k - 1] = int_arg(a[k]);
    if (idx[k - 1] < 0 || idx[k - 1] > static_cast<int64_t>(len))
      throw FuncError{fmt::format("index out of range: {}", idx[k - 1])};
  }
  if (idx[0] > idx[1]) throw FuncError{fmt::format("invalid slice index: {} > {}", idx[0], idx[1])};
  if (a.size() == 4 && idx[1] > idx[2])
    throw FuncError{fmt::format("invalid slice index: {} > {}", idx[1], idx[2])};
  auto from = static_cast<size_t>(idx[0]), to = static_cast<size_t>(idx[1]);
  if (v.is_string()) return make(v.get_ref<const std::string&>().substr(from, to - from));
  Json out = Json::array();
  for (size_t k = from; k < to; k++) out.push_back(v[k]);
  return make(out);
}

Value fn_print(const std::vector<Value>& a) { return make(go_sprint(a)); }

Value fn_println(const std::vector<Value>& a) {
  std::string s;
  for (size_t k = 0; k < a.size(); k++) {
    if (k > 0) s += ' ';
    append_print(s, deref(a[k]));
  }
  return make(s + "\n");
}

Value fn_printf(const std::vector<Value>& a) {
  return make(go_sprintf(str_arg(a[0]), std::vector<Value>(a.begin() + 1, a.end())));
}

// The string html/js/urlquery escape: a lone string argument, else Sprint.
std::string escape_input(const std::vector<Value>& a) {
  if (a.size() == 1 && a[0] && a[0]->is_string()) return a[0]->get<std::string>();
  return go_sprint(a);
}

Value fn_html(const std::vector<Value>& a) {
  std::string out;
  for (char c : escape_input(a)) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '\'': out += "&#39;"; break;
      case '"': out += "&#34;"; break;
      case '\0': out += "\xEF\xBF\xBD"; break;
      default: out += c;
    }
  }
  return make(out);
}

Value fn_js(const std::vector<Value>& a) {
  std::string s = escape_input(a), out;
  for (size_t i = 0, len; i < s.size(); i += len) {
    long r = decode_rune(s, i, &len);
    switch (r) {
      case '\\': out += "\\\\"; break;
      case '\'': out += "\\'"; break;
      case '"': out += "\\\""; break;
      case '<': out += "\\u003C"; break;
      case '>': out += "\\u003E"; break;
      case '&': out += "\\u0026"; break;
      case '=': out += "\\u003D"; break;
      default:
        if (r >= 0 && r < ' ') out += fmt::format("\\u{:04X}", r);
        else if (r >= 0x80 && !is_print(r)) out += fmt::format("\\u{:04X}", r);
        else out += s.substr(i, len);
    }
  }
  return make(out);
}

Value fn_urlquery(const std::vector<Value>& a) {
  std::string out;
  for (char c : escape_input(a)) {
    if (is_alnum(c) && static_cast<unsigned char>(c) < 0x80) out += c;
    else if (c == '-' || c == '.' || c == '~') out += c;
    else if (c == ' ') out += '+';
    else out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
  }
  return make(out);
}

Value fn_json(const std::vector<Value>& a) {
  std::string out;
  append_json(out, deref(a[0]));
  return make(out);
}

Value fn_join(const std::vector<Value>& a) {
  const Json& list = deref(a[0]);
  const std::string& sep = str_arg(a[1]);
  if (is_nil(list)) return make("");
  if (!list.is_array()) wrong_type(a[0], "[]string");
  std::string out;
  for (size_t i = 0; i < list.size(); i++) {
    if (i > 0) out += sep;
    append_print(out, list[i]);
  }
  return make(out);
}

Value fn_split(const std::vector<Value>& a) {
  const std::string& s = str_arg(a[0]);
  const std::string& sep = str_arg(a[1]);
  Json out = Json::array();
  if (sep.empty()) {  // split into runes
    for (size_t i = 0, len; i < s.size(); i += len) {
      decode_rune(s, i, &len);
      out.push_back(s.substr(i, len));
    }
    return make(out);
  }
  size_t start = 0;
  for (size_t at; (at = s.find(sep, start)) != npos; start = at + sep.size())
    out.push_back(s.substr(start, at - start));
  out.push_back(s.substr(start));
  return make(out);
}

// Case mapping for ASCII, Latin-1, Greek and Cyrillic letters.
long to_upper(long r) {
  if ((r >= 'a' && r <= 'z') || (r >= 0xE0 && r <= 0xFE && r != 0xF7) ||
      (r >= 0x3B1 && r <= 0x3C9 && r != 0x3C2) || (r >= 0x430 && r <= 0x44F))
    return r - 32;
  if (r >= 0x450 && r <= 0x45F) return r - 80;
  return r;
}
long to_lower(long r) {
  if ((r >= 'A' && r <= 'Z') || (r >= 0xC0 && r <= 0xDE && r != 0xD7) ||
      (r >= 0x391 && r <= 0x3A9 && r != 0x3A2) || (r >= 0x410 && r <= 0x42F))
    return r + 32;
  if (r >= 0x400 && r <= 0x40F) return r + 80;
  return r;
}

template <typename F>
std::string map_runes(const std::string& s, F f) {
  std::string out;
  for (size_t i = 0, len; i < s.size(); i += len) {
    long r = decode_rune(s, i, &len);
    if (r < 0) out += s[i];
    else append_rune(out, f(r));
  }
  return out;
}

Value fn_lower(const std::vector<Value>& a) { return make(map_runes(str_arg(a[0]), to_lower)); }
Value fn_upper(const std::vector<Value>& a) { return make(map_runes(str_arg(a[0]), to_upper)); }

// Go's strings.Title: upper-cases letters that follow a separator.
Value fn_title(const std::vector<Value>& a) {
  long prev = ' ';
  return make(map_runes(str_arg(a[0]), [&](long r) {
    bool separator = prev < 0x80 ? !is_alnum(static_cast<char>(prev)) : prev == 0x85 || prev == 0xA0;
    prev = r;
    return separator ? to_upper(r) : r;
  }));
}

// docker's pad: spaces before and after; "" stays "".
Value fn_pad(const std::vector<Value>& a) {
  const std::string& s = str_arg(a[0]);
  int64_t left = int_arg(a[1]), right = int_arg(a[2]);
  if (left < 0 || right < 0 || left > 1000000 || right > 1000000) throw FuncError{"invalid padding"};
  if (s.empty()) return make("");
  return make(std::string(static_cast<size_t>(left), ' ') + s + std::string(static_cast<size_t>(right), ' '));
}

// docker's truncate, counting runes rather than bytes.
Value fn_truncate(const std::vector<Value>& a) {
  int64_t n = int_arg(a[1]);
  if (n < 0) throw FuncError{fmt::format("invalid length: {}", n)};
  return make(first_runes(str_arg(a[0]), static_cast<size_t>(n)));
}

constexpr size_t kMany = SIZE_MAX;

constexpr FuncInfo kFunctions[] = {
    {"and", 1, kMany, nullptr},     {"or", 1, kMany, nullptr},
    {"not", 1, 1, fn_not},          {"len", 1, 1, fn_len},
    {"index", 1, kMany, fn_index},  {"slice", 1, kMany, fn_slice},
    {"eq", 1, kMany, fn_eq},        {"ne", 2, 2, fn_ne},
    {"lt", 2, 2, fn_lt},            {"le", 2, 2, fn_le},
    {"gt", 2, 2, fn_gt},            {"ge", 2, 2, fn_ge},
    {"print", 0, kMany, fn_print},  {"printf", 1, kMany, fn_printf},
    {"println", 0, kMany, fn_println},
    {"html", 0, kMany, fn_html},    {"js", 0, kMany, fn_js},
    {"urlquery", 0, kMany, fn_urlquery},
    {"json", 1, 1, fn_json},        {"join", 2, 2, fn_join},
    {"split", 2, 2, fn_split},      {"lower", 1, 1, fn_lower},
    {"upper", 1, 1, fn_upper},      {"title", 1, 1, fn_title},
    {"pad", 3, 3, fn_pad},          {"truncate", 2, 2, fn_truncate},
};

const FuncInfo* find_function(std::string_view name) {
  for (const FuncInfo& f : kFunctions) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

}  // namespace

// ---------------------------------------------------------------- API

struct Template::Impl {
  std::string src;
  std::vector<Node> root;
};

Template::Template() : impl_(std::make_unique<Impl>()) {}
Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

Template Template::parse(std::string_view text) {
  Template t;
  t.impl_->src = std::string(text);
  t.impl_->root = Parser(t.impl_->src).parse();
  return t;
}

std::string Template::execute(const Json& dot, const TemplateMethods* methods, const GoStructs* structs) const {
  std::string out;
  Value root(Value(), &dot);  // non-owning
  struct Restore {
    const GoStructs* saved = t_structs;
    ~Restore() { t_structs = saved; }
  } restore;
  t_structs = structs;
  Exec(impl_->src, root, out, methods).walk(impl_->root, root);
  return out;
}

namespace {

bool path_matches(const std::vector<std::string>& pattern, const std::vector<std::string>& path) {
  if (pattern.size() != path.size()) return false;
  for (size_t i = 0; i < path.size(); i++)
    if (pattern[i] != "*" && pattern[i] != path[i]) return false;
  return true;
}

std::vector<std::string> split_path(const std::string& p) {
  std::vector<std::string> out;
  if (p.empty()) return out;
  size_t start = 0;
  for (size_t dot; (dot = p.find('.', start)) != std::string::npos; start = dot + 1) out.push_back(p.substr(start, dot - start));
  out.push_back(p.substr(start));
  return out;
}

void collect_structs(const Json& v, std::vector<std::string>& path, const std::vector<std::vector<std::string>>& maps,
                     const std::vector<std::vector<std::string>>& pointers, GoStructs& out) {
  auto any = [&](const std::vector<std::vector<std::string>>& patterns) {
    return std::any_of(patterns.begin(), patterns.end(), [&](const auto& p) { return path_matches(p, path); });
  };
  if (v.is_object()) {
    if (!any(maps)) out.nodes[&v] = any(pointers);
    for (auto it = v.begin(); it != v.end(); ++it) {
      path.push_back(it.key());
      collect_structs(it.value(), path, maps, pointers, out);
      path.pop_back();
    }
  } else if (v.is_array()) {
    path.push_back("*");
    for (const auto& e : v) collect_structs(e, path, maps, pointers, out);
    path.pop_back();
  }
}

}  // namespace

GoStructs go_structs(const Json& root, const GoShape& shape) {
  std::vector<std::vector<std::string>> maps, pointers;
  for (const auto& m : shape.maps) maps.push_back(split_path(m));
  for (const auto& p : shape.pointers) pointers.push_back(split_path(p));
  GoStructs out;
  std::vector<std::string> path;
  collect_structs(root, path, maps, pointers, out);
  return out;
}

Json go_nil(GoNil kind, const std::string& go_type, bool omitempty) {
  auto subtype = static_cast<uint64_t>(kind) | (omitempty ? kOmitEmpty : 0);
  return Json::binary(std::vector<uint8_t>(go_type.begin(), go_type.end()), subtype);
}

namespace {

void mark_path(Json& v, const std::vector<std::string>& path, size_t i, const GoNilField& f) {
  if (!v.is_object() && !(v.is_array() && path[i] == "*")) return;
  auto apply = [&](Json& child) {
    if (i + 1 < path.size()) mark_path(child, path, i + 1, f);
    else if (child.is_null()) child = go_nil(f.kind, f.go_type, f.omitempty);
  };
  if (path[i] == "*") {
    for (auto& child : v) apply(child);
  } else if (auto it = v.find(path[i]); it != v.end()) {
    apply(*it);
  } else if (f.omitempty && i + 1 == path.size()) {
    v[path[i]] = go_nil(f.kind, f.go_type, true);
  }
}

}  // namespace

void mark_go_nils(Json& value, const std::vector<GoNilField>& fields) {
  for (const auto& f : fields) {
    std::vector<std::string> path;
    size_t start = 0;
    for (size_t dot; (dot = f.path.find('.', start)) != std::string::npos; start = dot + 1)
      path.push_back(f.path.substr(start, dot - start));
    path.push_back(f.path.substr(start));
    mark_path(value, path, 0, f);
  }
}

Json strip_go_nils(const Json& value) {
  if (value.is_binary()) return nullptr;
  if (value.is_array()) {
    Json out = Json::array();
    for (const auto& e : value) out.push_back(strip_go_nils(e));
    return out;
  }
  if (!value.is_object()) return value;
  Json out = Json::object();
  for (auto it = value.begin(); it != value.end(); ++it) {
    if (it.value().is_binary() && nil_omitempty(it.value())) continue;
    out[it.key()] = strip_go_nils(it.value());
  }
  return out;
}

std::string render_template(std::string_view text, const Json& dot) {
  return Template::parse(text).execute(dot);
}

}  // namespace den
