// HTTP for the registry client, through libcurl.
//
// libcurl is opened with dlopen on first use rather than linked: its shared
// library pulls in ~30 more (Kerberos, LDAP, SSH, IDN, ...), and den starts
// anew for every command, most of which never speak HTTP. Linking them
// made every `den ps` pay for them; loading on demand costs only `pull`,
// `push`, `login` and `search`. (Debian's static libcurl.a needs them too.)
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace den {

struct HttpRequest {
  std::string method = "GET";  // GET HEAD PUT POST PATCH DELETE
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // sent when body_fd < 0
  int body_fd = -1;                  // or stream the request body from this file (from its offset)
  uint64_t body_size = 0;            // ... this many bytes of it
  bool tls_verify = true;
  std::string ca_dir;                // a directory whose *.crt (one CA) is trusted instead of the system's, as in
                                     // /etc/containers/certs.d/HOST
  bool follow_redirects = true;      // Authorization is not forwarded to another host
  long timeout_connect_s = 30;
  // A 2xx body that is kept in response.body (no sink) larger than this fails
  // the request (Errc::Invalid, "... larger than the limit of N"); it is never
  // held whole. Other bodies are kept up to 1 MiB, for error messages.
  size_t max_body = 1u << 20;
};

struct HttpResponse;
// Called once with the final status and headers, before the first byte of a
// 2xx body reaches the sink (a ranged download checks Content-Range there).
// Throwing aborts the transfer with that error.
using HttpHeadHook = std::function<void(const HttpResponse&)>;

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names, last value wins
  std::string body;                            // when no sink was given
  std::string effective_url;
  std::string header(const std::string& lower_name) const;
};

// Performs one request. With a sink, a 2xx body streams to it (other bodies
// are kept in response.body for error messages). Throws den::Error naming
// the URL's host on transport errors (connection refused, TLS, timeout).
HttpResponse http_do(const HttpRequest& req, const std::function<void(const char*, size_t)>& sink = {},
                     const HttpHeadHook& on_head = {});

// Base64 (standard alphabet, padded), for Basic auth and auth.json.
std::string base64_encode(std::string_view in);
std::string base64_decode(std::string_view in);

// Parses a WWW-Authenticate header: scheme ("bearer", "basic") and the
// lower-cased parameters (realm, service, scope).
struct AuthChallenge {
  std::string scheme;
  std::map<std::string, std::string> params;
};
AuthChallenge parse_www_authenticate(const std::string& header);

}  // namespace den
