#include "den/http.h"

#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <exception>
#include <mutex>

#include "den/error.h"
#include "den/fs.h"
#include "den/log.h"
#include "den/strings.h"

namespace den {

namespace {

// The part of libcurl's API den uses, resolved from libcurl.so.4.
struct CurlApi {
  CURLcode (*global_init)(long);
  CURL* (*easy_init)();
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
  CURLcode (*easy_perform)(CURL*);
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
  void (*easy_cleanup)(CURL*);
  const char* (*easy_strerror)(CURLcode);
  curl_slist* (*slist_append)(curl_slist*, const char*);
  void (*slist_free_all)(curl_slist*);
};

const CurlApi& curl() {
  static CurlApi api;
  static std::string error;
  static std::once_flag once;
  std::call_once(once, [] {
    // Lazy binding: libcurl pulls in some 30 libraries, and resolving all
    // their symbols up front (RTLD_NOW) took twice as long here.
    void* h = ::dlopen("libcurl.so.4", RTLD_LAZY | RTLD_LOCAL);
    if (!h) {
      error = fmt::format("cannot load libcurl ({}): install the libcurl4 package", ::dlerror());
      return;
    }
    auto sym = [&](const char* name) {
      void* p = ::dlsym(h, name);
      if (!p) error = fmt::format("libcurl lacks {}", name);
      return p;
    };
    api.global_init = reinterpret_cast<decltype(api.global_init)>(sym("curl_global_init"));
    api.easy_init = reinterpret_cast<decltype(api.easy_init)>(sym("curl_easy_init"));
    api.easy_setopt = reinterpret_cast<decltype(api.easy_setopt)>(sym("curl_easy_setopt"));
    api.easy_perform = reinterpret_cast<decltype(api.easy_perform)>(sym("curl_easy_perform"));
    api.easy_getinfo = reinterpret_cast<decltype(api.easy_getinfo)>(sym("curl_easy_getinfo"));
    api.easy_cleanup = reinterpret_cast<decltype(api.easy_cleanup)>(sym("curl_easy_cleanup"));
    api.easy_strerror = reinterpret_cast<decltype(api.easy_strerror)>(sym("curl_easy_strerror"));
    api.slist_append = reinterpret_cast<decltype(api.slist_append)>(sym("curl_slist_append"));
    api.slist_free_all = reinterpret_cast<decltype(api.slist_free_all)>(sym("curl_slist_free_all"));
    if (error.empty()) api.global_init(CURL_GLOBAL_DEFAULT);
  });
  if (!error.empty()) throw Error(error, Errc::Unsupported);
  return api;
}

struct Transfer {
  const std::function<void(const char*, size_t)>* sink = nullptr;
  const HttpHeadHook* on_head = nullptr;
  HttpResponse* resp = nullptr;
  CURL* handle = nullptr;
  bool status_known = false;
  bool streaming = false;
  int body_fd = -1;
  uint64_t body_left = 0;
  size_t max_body = 0;
  std::string method, url;
  std::exception_ptr sink_error;  // what the sink or head hook threw
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    t->resp->headers.clear();  // a new response (after a redirect or 100)
    return size * n;
  }
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    t->resp->headers[name] = trim(line.substr(colon + 1));
  }
  return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  if (!t->status_known) {
    long code = 0;
    curl().easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &code);
    t->streaming = t->sink && *t->sink && code >= 200 && code < 300;
    t->status_known = true;
    if (t->streaming && t->on_head && *t->on_head) {
      t->resp->status = code;
      try {
        (*t->on_head)(*t->resp);
      } catch (...) {
        t->sink_error = std::current_exception();
        return 0;
      }
    }
  }
  if (!t->streaming) {
    long code = 0;
    curl().easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && code < 300) {
      if (t->resp->body.size() + len > t->max_body) {
        t->sink_error = std::make_exception_ptr(Error(
            fmt::format("{} {}: the response is larger than the limit of {}", t->method, t->url, format_limit(t->max_body)),
            Errc::Invalid));
        return 0;  // aborts the transfer
      }
      t->resp->body.append(data, len);
    } else if (t->resp->body.size() < (1u << 20)) {
      t->resp->body.append(data, std::min(len, (1u << 20) - t->resp->body.size()));
    }
    return len;
  }
  try {
    (*t->sink)(data, len);
  } catch (...) {
    t->sink_error = std::current_exception();
    return 0;  // aborts the transfer
  }
  return len;
}

size_t on_read(char* buf, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  // Never more than body_size bytes: a chunk of a file is sent from its
  // offset.
  size_t want = static_cast<size_t>(std::min<uint64_t>(size * n, t->body_left));
  if (want == 0) return 0;
  ssize_t r;
  do {
    r = ::read(t->body_fd, buf, want);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return CURL_READFUNC_ABORT;
  t->body_left -= static_cast<uint64_t>(r);
  return static_cast<size_t>(r);
}

std::string host_of(const std::string& url) {
  auto p = url.find("://");
  std::string rest = p == std::string::npos ? url : url.substr(p + 3);
  return rest.substr(0, rest.find('/'));
}

}  // namespace

std::string HttpResponse::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

HttpResponse http_do(const HttpRequest& req, const std::function<void(const char*, size_t)>& sink,
                     const HttpHeadHook& on_head) {
  const CurlApi& c = curl();
  CURL* h = c.easy_init();
  if (!h) throw Error("curl_easy_init failed");
  HttpResponse resp;
  Transfer t;
  t.sink = &sink;
  t.resp = &resp;
  t.handle = h;
  t.body_fd = req.body_fd;
  t.body_left = req.body_size;
  t.max_body = req.max_body;
  t.method = req.method;
  t.url = req.url;
  t.on_head = &on_head;
  curl_slist* headers = nullptr;
  for (const auto& hd : req.headers) headers = c.slist_append(headers, hd.c_str());
  // libcurl adds "Expect: 100-continue" to big uploads; registries do not need it.
  headers = c.slist_append(headers, "Expect:");
  char errbuf[CURL_ERROR_SIZE] = {};
  c.easy_setopt(h, CURLOPT_URL, req.url.c_str());
  c.easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  c.easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  c.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  // Blobs arrive in pieces of this size (16 KiB by default: a write(2) and a
  // poll(2) per piece).
  c.easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);
  c.easy_setopt(h, CURLOPT_USERAGENT, "den/" DEN_VERSION);
  c.easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  c.easy_setopt(h, CURLOPT_HEADERDATA, &t);
  c.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  c.easy_setopt(h, CURLOPT_WRITEDATA, &t);
  c.easy_setopt(h, CURLOPT_CONNECTTIMEOUT, req.timeout_connect_s);
  // A stalled transfer (under 1 byte/s for 60 s) fails instead of hanging.
  c.easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  c.easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
  c.easy_setopt(h, CURLOPT_FOLLOWLOCATION, req.follow_redirects ? 1L : 0L);
  c.easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
  c.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  c.easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  if (!req.tls_verify) {
    c.easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    c.easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    // Nothing is verified: skip parsing the system's CA bundle (milliseconds
    // per connection).
    c.easy_setopt(h, CURLOPT_CAINFO, static_cast<const char*>(nullptr));
    c.easy_setopt(h, CURLOPT_CAPATH, static_cast<const char*>(nullptr));
  }
  if (!req.ca_dir.empty()) {
    // The directory's *.crt (the certs.d convention) replaces the system's
    // CA bundle for this registry.
    for (const auto& f : list_dir(req.ca_dir))
      if (f.size() > 4 && f.substr(f.size() - 4) == ".crt") {
        std::string path = req.ca_dir + "/" + f;
        c.easy_setopt(h, CURLOPT_CAINFO, path.c_str());  // the last one wins; one CA per registry is the norm
      }
  }
  if (req.method == "HEAD") {
    c.easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (req.method == "GET") {
    c.easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else {
    if (req.body_fd >= 0) {
      c.easy_setopt(h, CURLOPT_UPLOAD, 1L);
      c.easy_setopt(h, CURLOPT_READFUNCTION, on_read);
      c.easy_setopt(h, CURLOPT_READDATA, &t);
      c.easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.body_size));
    } else {
      c.easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
      c.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    }
    c.easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
  CURLcode rc = c.easy_perform(h);
  c.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
  char* eff = nullptr;
  if (c.easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff) resp.effective_url = eff;
  c.easy_cleanup(h);
  c.slist_free_all(headers);
  if (t.sink_error) std::rethrow_exception(t.sink_error);
  if (rc != CURLE_OK) {
    std::string why = errbuf[0] ? errbuf : c.easy_strerror(rc);
    throw Error(fmt::format("{} {}: {}", req.method, host_of(req.url), why));
  }
  log::debug("http {} {} -> {}", req.method, req.url, resp.status);
  return resp;
}

std::string base64_encode(std::string_view in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) |
                 static_cast<uint8_t>(in[i + 2]);
    out += k[v >> 18];
    out += k[(v >> 12) & 63];
    out += k[(v >> 6) & 63];
    out += k[v & 63];
  }
  if (i < in.size()) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<uint8_t>(in[i + 1]) << 8;
    out += k[v >> 18];
    out += k[(v >> 12) & 63];
    out += i + 1 < in.size() ? k[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string base64_decode(std::string_view in) {
  auto val = [](char ch) -> int {
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+' || ch == '-') return 62;
    if (ch == '/' || ch == '_') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char ch : in) {
    int v = val(ch);
    if (v < 0) continue;  // padding, whitespace
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

AuthChallenge parse_www_authenticate(const std::string& header) {
  AuthChallenge ch;
  size_t i = 0;
  while (i < header.size() && header[i] != ' ') ch.scheme += static_cast<char>(std::tolower(header[i++]));
  while (i < header.size()) {
    while (i < header.size() && (header[i] == ' ' || header[i] == ',')) i++;
    std::string key;
    while (i < header.size() && header[i] != '=' && header[i] != ',') key += static_cast<char>(std::tolower(header[i++]));
    if (i >= header.size() || header[i] != '=') continue;
    i++;
    std::string value;
    if (i < header.size() && header[i] == '"') {
      i++;
      while (i < header.size() && header[i] != '"') {
        if (header[i] == '\\' && i + 1 < header.size()) i++;
        value += header[i++];
      }
      i++;
    } else {
      while (i < header.size() && header[i] != ',') value += header[i++];
    }
    ch.params[trim(key)] = value;
  }
  return ch;
}

}  // namespace den
