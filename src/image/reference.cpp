// Image references, after github.com/distribution/reference.
//
// The grammar (reference.go in that package) is:
//
//   reference        := name [ ":" tag ] [ "@" digest ]
//   name             := [domain '/'] remote-name
//   domain           := host [':' port-number]
//   host             := domain-name | IPv4address | \[ IPv6address \]
//   domain-name      := domain-component ['.' domain-component]*
//   domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
//   port-number      := /[0-9]+/
//   path-component   := alpha-numeric [separator alpha-numeric]*
//   remote-name      := path-component ['/' path-component]*
//   alpha-numeric    := /[a-z0-9]+/
//   separator        := /[_.]|__|[-]+/
//   tag              := /[\w][\w.-]{0,127}/
//   digest           := algorithm ":" /[0-9a-fA-F]{32,}/
//   algorithm        := component [ /[+.-_]/ component ]*, component := /[A-Za-z][A-Za-z0-9]*/
//
// Instead of regular expressions, each production is a small function. The
// split of a string into name, tag and digest is unambiguous ('@' only starts
// the digest; a ':' after the last '/' only starts the tag), and the name is
// split into domain and path the way the Go regexp does it: the domain is
// taken whenever the first component is a valid domain and the rest is a
// valid path.
#include "den/reference.h"

#include "den/error.h"

#include <vector>

namespace den {

namespace {

constexpr size_t kMaxPathLength = 255;
constexpr size_t kMaxTagLength = 128;
constexpr size_t kMinDigestHex = 32;
constexpr std::string_view kLegacyDefaultDomain = "index.docker.io";
constexpr std::string_view kLocalhost = "localhost";

[[noreturn]] void fail(std::string message) {
  throw Error(std::move(message), Errc::Invalid);
}

[[noreturn]] void fail_format() { fail("invalid reference format"); }

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_lower_alnum(char c) { return is_lower(c) || is_digit(c); }
bool is_alnum(char c) { return is_lower(c) || is_upper(c) || is_digit(c); }
bool is_word(char c) { return is_alnum(c) || c == '_'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_lower_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (is_upper(c)) c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool has_upper(std::string_view s) {
  for (char c : s) {
    if (is_upper(c)) return true;
  }
  return false;
}

template <typename Pred>
bool all_of(std::string_view s, Pred pred) {
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}

std::vector<std::string_view> split_view(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      parts.push_back(s.substr(start));
      return parts;
    }
    parts.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

// --- name ------------------------------------------------------------------

// Advances i over one separator: ".", "_", "__" or a run of '-'.
bool skip_separator(std::string_view s, size_t& i) {
  if (s[i] == '.') {
    i += 1;
  } else if (s[i] == '_') {
    i += (i + 1 < s.size() && s[i + 1] == '_') ? 2 : 1;
  } else if (s[i] == '-') {
    while (i < s.size() && s[i] == '-') ++i;
  } else {
    return false;
  }
  return true;
}

// Advances i over [a-z0-9]+.
bool skip_alnum_run(std::string_view s, size_t& i) {
  size_t start = i;
  while (i < s.size() && is_lower_alnum(s[i])) ++i;
  return i > start;
}

// path-component := [a-z0-9]+ (separator [a-z0-9]+)*
bool valid_path_component(std::string_view s) {
  size_t i = 0;
  if (!skip_alnum_run(s, i)) return false;
  while (i < s.size()) {
    if (!skip_separator(s, i)) return false;
    if (!skip_alnum_run(s, i)) return false;
  }
  return true;
}

bool valid_remote_name(std::string_view s) {
  for (std::string_view part : split_view(s, '/')) {
    if (!valid_path_component(part)) return false;
  }
  return true;
}

bool valid_domain_component(std::string_view s) {
  if (s.empty() || !is_alnum(s.front()) || !is_alnum(s.back())) return false;
  return all_of(s, [](char c) { return is_alnum(c) || c == '-'; });
}

bool valid_domain_name(std::string_view s) {
  for (std::string_view part : split_view(s, '.')) {
    if (!valid_domain_component(part)) return false;
  }
  return true;
}

// "" or ":" followed by digits.
bool valid_optional_port(std::string_view s) {
  if (s.empty()) return true;
  return s.size() > 1 && s[0] == ':' && all_of(s.substr(1), is_digit);
}

// domain := (domain-name | "[" ipv6 "]") [":" port]
bool valid_domain(std::string_view s) {
  if (!s.empty() && s[0] == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    std::string_view ip = s.substr(1, close - 1);
    if (!all_of(ip, [](char c) { return is_hex(c) || c == ':'; })) return false;
    return valid_optional_port(s.substr(close + 1));
  }
  size_t colon = s.find(':');
  std::string_view host = s.substr(0, colon);
  std::string_view port = colon == std::string_view::npos ? std::string_view{} : s.substr(colon);
  return valid_domain_name(host) && valid_optional_port(port);
}

// --- tag and digest --------------------------------------------------------

bool valid_tag(std::string_view s) {
  if (s.empty() || s.size() > kMaxTagLength || !is_word(s[0])) return false;
  return all_of(s, [](char c) { return is_word(c) || c == '.' || c == '-'; });
}

// algorithm := [A-Za-z][A-Za-z0-9]* ([-_+.][A-Za-z][A-Za-z0-9]*)*
bool valid_digest_algorithm(std::string_view s) {
  bool at_component_start = true;
  for (char c : s) {
    bool is_sep = c == '-' || c == '_' || c == '+' || c == '.';
    if (at_component_start) {
      if (!is_upper(c) && !is_lower(c)) return false;
      at_component_start = false;
    } else if (is_sep) {
      at_component_start = true;
    } else if (!is_alnum(c)) {
      return false;
    }
  }
  return !s.empty() && !at_component_start;
}

// The reference grammar's digest: algorithm ":" 32 or more hex digits.
bool valid_digest_syntax(std::string_view s) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view hex = s.substr(colon + 1);
  return valid_digest_algorithm(s.substr(0, colon)) && hex.size() >= kMinDigestHex &&
         all_of(hex, is_hex);
}

// Hex length of the algorithms go-digest knows; 0 for others.
size_t known_digest_hex_length(std::string_view algorithm) {
  if (algorithm == "sha256") return 64;
  if (algorithm == "sha384") return 96;
  if (algorithm == "sha512") return 128;
  return 0;
}

// go-digest's Digest.Validate, for a digest that already matched the
// reference grammar: a known algorithm with lowercase hex of its length.
// go-digest's own grammar wants lowercase algorithms, so an unknown one in
// upper case is malformed rather than unsupported.
void validate_digest(std::string_view digest) {
  size_t colon = digest.find(':');
  std::string_view algorithm = digest.substr(0, colon);
  std::string_view hex = digest.substr(colon + 1);
  size_t want = known_digest_hex_length(algorithm);
  if (want == 0 && has_upper(algorithm)) fail("invalid checksum digest format");
  if (want == 0) fail("unsupported digest algorithm");
  if (hex.size() != want || !all_of(hex, is_lower_hex)) fail("invalid checksum digest format");
}

// --- whole reference -------------------------------------------------------

// Splits s into its parts if it matches the grammar (syntax only).
std::optional<Reference> match_reference(std::string_view s) {
  Reference ref;
  std::string_view rest = s;

  size_t at = rest.find('@');
  if (at != std::string_view::npos) {
    std::string_view digest = rest.substr(at + 1);
    if (!valid_digest_syntax(digest)) return std::nullopt;
    ref.digest = std::string(digest);
    rest = rest.substr(0, at);
  }

  size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && rest.find('/', colon) == std::string_view::npos) {
    std::string_view tag = rest.substr(colon + 1);
    if (!valid_tag(tag)) return std::nullopt;
    ref.tag = std::string(tag);
    rest = rest.substr(0, colon);
  }

  size_t slash = rest.find('/');
  if (slash != std::string_view::npos && valid_domain(rest.substr(0, slash)) &&
      valid_remote_name(rest.substr(slash + 1))) {
    ref.domain = std::string(rest.substr(0, slash));
    ref.path = std::string(rest.substr(slash + 1));
  } else if (valid_remote_name(rest)) {
    ref.path = std::string(rest);
  } else {
    return std::nullopt;
  }
  return ref;
}

// distribution/reference's Parse: no normalization.
Reference parse_exact(std::string_view s) {
  if (s.empty()) fail("repository name must have at least one component");
  std::optional<Reference> ref = match_reference(s);
  if (!ref) {
    if (has_upper(s) && match_reference(ascii_lower(s))) fail("repository name must be lowercase");
    fail_format();
  }
  if (ref->path.size() > kMaxPathLength) {
    fail("repository name must not be more than 255 characters");
  }
  if (!ref->digest.empty()) validate_digest(ref->digest);
  return *ref;
}

struct DomainSplit {
  std::string domain;
  std::string remainder;  // path with any tag and digest
};

// Does the first component of a name that the user wrote name a registry?
bool names_registry(std::string_view first) {
  return first == kLocalhost || first == kLegacyDefaultDomain ||
         first.find_first_of(".:") != std::string_view::npos || has_upper(first);
}

// splitDockerDomain: fills in docker.io and library/ where docker would.
DomainSplit split_docker_domain(std::string_view s) {
  size_t slash = s.find('/');
  if (slash == std::string_view::npos) {
    return {std::string(kDefaultDomain), std::string(kOfficialRepoPrefix) + std::string(s)};
  }
  DomainSplit out;
  std::string_view first = s.substr(0, slash);
  if (!names_registry(first)) {
    out.domain = std::string(kDefaultDomain);
    out.remainder = std::string(s);
  } else {
    out.domain = first == kLegacyDefaultDomain ? std::string(kDefaultDomain) : std::string(first);
    out.remainder = std::string(s.substr(slash + 1));
  }
  if (out.domain == kDefaultDomain && out.remainder.find('/') == std::string::npos) {
    out.remainder = std::string(kOfficialRepoPrefix) + out.remainder;
  }
  return out;
}

bool is_full_hex_id(std::string_view s) { return s.size() == 64 && all_of(s, is_lower_hex); }

}  // namespace

std::string Reference::name() const {
  if (domain.empty()) return path;
  return domain + "/" + path;
}

std::string Reference::string() const {
  std::string out = name();
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

std::string Reference::familiar_name() const {
  if (domain != kDefaultDomain) return name();
  std::string_view p = path;
  if (p.starts_with(kOfficialRepoPrefix)) {
    std::string_view rest = p.substr(kOfficialRepoPrefix.size());
    if (rest.find('/') == std::string_view::npos) return std::string(rest);
  }
  return path;
}

std::string Reference::familiar_string() const {
  std::string out = familiar_name();
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

Reference Reference::with_default_tag() const {
  Reference out = *this;
  if (out.tag.empty() && out.digest.empty()) out.tag = std::string(kDefaultTag);
  return out;
}

Reference parse_reference(std::string_view s) {
  if (is_full_hex_id(s)) {
    fail(fmt::format("invalid repository name ({}), cannot specify 64-byte hexadecimal strings", s));
  }
  DomainSplit split = split_docker_domain(s);
  std::string_view remote = split.remainder;
  remote = remote.substr(0, remote.find(':'));
  if (has_upper(remote)) {
    fail(fmt::format("invalid reference format: repository name ({}) must be lowercase", remote));
  }
  return parse_exact(split.domain + "/" + split.remainder);
}

std::optional<Reference> try_parse_reference(std::string_view s) {
  try {
    return parse_reference(s);
  } catch (const Error&) {
    return std::nullopt;
  }
}

Reference parse_named_tagged(std::string_view s) { return parse_reference(s).with_default_tag(); }

Reference parse_docker_ref(std::string_view s) {
  Reference ref = parse_reference(s);
  if (!ref.tag.empty() && !ref.digest.empty()) ref.tag.clear();
  return ref.with_default_tag();
}

bool is_short_name(std::string_view s) {
  size_t slash = s.find('/');
  if (slash == std::string_view::npos) return true;
  return !names_registry(s.substr(0, slash));
}

bool looks_like_id(std::string_view s) {
  return !s.empty() && s.size() <= 64 && all_of(s, is_lower_hex);
}

}  // namespace den
