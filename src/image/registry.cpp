#include "den/registry.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <atomic>
#include <mutex>
#include <thread>

#include "den/error.h"
#include "den/fs.h"
#include "den/hash.h"
#include "den/http.h"
#include "den/image.h"
#include "den/image_archive.h"
#include "den/layer_tar.h"
#include "den/log.h"
#include "den/reference.h"
#include "den/strings.h"

namespace den {

namespace {

const char* kManifestAccept =
    "Accept: application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

bool is_loopback(const std::string& host) {
  return host.rfind("localhost", 0) == 0 || host.rfind("127.", 0) == 0 || host.rfind("[::1]", 0) == 0;
}

std::string short_digest(const std::string& d) { return digest_hex(d).substr(0, 12); }

// One registry host, for one repository and set of actions ("pull",
// "pull,push"): scheme detection, authentication and retries.
class Client {
 public:
  Client(const Config& cfg, const Endpoint& ep, const RegistryOptions& o, std::string actions)
      : host_(ep.host), repo_(ep.path), actions_(std::move(actions)) {
    // TLS is verified unless --tls-verify=false or registries.conf says
    // insecure. Like docker, loopback registries may also speak plain HTTP.
    verify_ = o.tls_verify.value_or(!ep.insecure);
    plain_http_ok_ = !verify_ || ep.insecure || (is_loopback(host_) && !o.tls_verify.has_value());
    if (o.creds) creds_ = *o.creds;
    else if (auto c = find_credentials(cfg, host_ == "registry-1.docker.io" ? "docker.io" : host_)) creds_ = *c;
    ca_dir_ = o.cert_dir;
    if (ca_dir_.empty()) {
      std::string d = cfg.home + "/.config/containers/certs.d/" + host_;
      if (is_dir(d)) ca_dir_ = d;
      else if (is_dir("/etc/containers/certs.d/" + host_)) ca_dir_ = "/etc/containers/certs.d/" + host_;
    }
  }

  const std::string& host() const { return host_; }
  const std::string& repo() const { return repo_; }

  std::string url(const std::string& path) {
    ping();
    return scheme_ + "://" + host_ + path;
  }

  // A request to the registry, authenticated (retried once on 401 with a
  // fresh token) and retried on 5xx and transport errors when idempotent.
  HttpResponse request(HttpRequest req, const std::function<void(const char*, size_t)>& sink = {},
                       const HttpHeadHook& on_head = {}) {
    ping();
    if (req.url.rfind("http", 0) != 0) req.url = scheme_ + "://" + host_ + req.url;
    req.tls_verify = verify_;
    req.ca_dir = ca_dir_;
    bool idempotent = req.method == "GET" || req.method == "HEAD";
    for (int attempt = 0;; attempt++) {
      HttpRequest r = req;
      if (!auth_header_.empty()) r.headers.push_back(auth_header_);
      HttpResponse resp;
      try {
        resp = http_do(r, sink, on_head);
      } catch (const Error& e) {
        if (idempotent && attempt < 2 && !sink && e.code() != Errc::Invalid) {
          ::usleep(200000u << attempt);
          continue;
        }
        throw;
      }
      if (resp.status == 401 && attempt == 0) {
        authorize(resp.header("www-authenticate"));
        continue;
      }
      if (resp.status == 401)
        throw Error(creds_.empty()
                        ? fmt::format("{}: authentication required: run 'den login {}'", host_, host_)
                        : fmt::format("{}: unauthorized: the registry refused the credentials of {}", host_,
                                      creds_.username),
                    Errc::Invalid);
      if (resp.status >= 500 && idempotent && attempt < 3) {
        log::debug("{} answered {}, retrying", host_, resp.status);
        ::usleep(200000u << attempt);
        continue;
      }
      return resp;
    }
  }

  // Forces authentication now (login).
  void login_check() {
    ping();
    if (challenge_.empty()) return;  // the registry wants no credentials
    authorize(challenge_);
    HttpResponse r = http_do({"GET", url("/v2/"), {auth_header_}, "", -1, 0, verify_, ca_dir_});
    if (r.status == 401) throw Error(fmt::format("{}: wrong username or password", host_), Errc::Invalid);
    if (r.status != 200) throw Error(fmt::format("{}: GET /v2/ answered {}", host_, r.status));
  }

 private:
  void ping() {
    if (!scheme_.empty()) return;
    HttpResponse r;
    try {
      r = http_do({"GET", "https://" + host_ + "/v2/", {}, "", -1, 0, verify_, ca_dir_});
      scheme_ = "https";
    } catch (const Error& e) {
      // Plain HTTP is tried only where allowed, and not when the server
      // does speak TLS but its certificate is not trusted.
      std::string msg = e.what();
      bool cert_problem = msg.find("certificate") != std::string::npos;
      if (!plain_http_ok_ || cert_problem) {
        if (cert_problem || msg.find("SSL") != std::string::npos)
          msg += " (for a registry with a private CA use --cert-dir or ~/.config/containers/certs.d/HOST/ca.crt; "
                 "or --tls-verify=false, or insecure = true in registries.conf)";
        throw Error(fmt::format("pinging registry {}: {}", host_, msg));
      }
      try {
        r = http_do({"GET", "http://" + host_ + "/v2/", {}, "", -1, 0, false, ""});
        scheme_ = "http";
      } catch (const Error& e2) {
        throw Error(fmt::format("pinging registry {}: {}", host_, e2.what()));
      }
    }
    if (r.status == 401) {
      challenge_ = r.header("www-authenticate");
      if (challenge_.empty())
        throw Error(fmt::format("{}: 401 Unauthorized without a WWW-Authenticate challenge", host_), Errc::Invalid);
    }
    else if (r.status != 200 && r.status != 404)
      throw Error(fmt::format("pinging registry {}: /v2/ answered HTTP {}: is it an OCI registry?", host_, r.status));
  }

  void authorize(const std::string& header) {
    if (header.empty())
      throw Error(fmt::format("{}: 401 Unauthorized without a WWW-Authenticate challenge", host_), Errc::Invalid);
    AuthChallenge ch = parse_www_authenticate(header);
    std::string basic = creds_.empty() ? "" : "Basic " + base64_encode(creds_.username + ":" + creds_.password);
    if (ch.scheme == "basic") {
      if (basic.empty()) throw Error(fmt::format("{}: authentication required: run 'den login {}'", host_, host_));
      auth_header_ = "Authorization: " + basic;
      return;
    }
    if (ch.scheme != "bearer") throw Error(fmt::format("{}: unsupported authentication scheme \"{}\"", host_, ch.scheme));
    std::string realm = ch.params["realm"];
    if (realm.empty()) throw Error(fmt::format("{}: a Bearer challenge without realm", host_));
    std::string scope = ch.params.count("scope") ? ch.params["scope"]
                                                 : (repo_.empty() ? "" : "repository:" + repo_ + ":" + actions_);
    std::string u = realm + (realm.find('?') == std::string::npos ? "?" : "&");
    if (!ch.params["service"].empty()) u += "service=" + ch.params["service"] + "&";
    if (!scope.empty()) u += "scope=" + scope;
    HttpRequest tr{"GET", u, {}, "", -1, 0, verify_, ca_dir_};
    if (!basic.empty()) tr.headers.push_back("Authorization: " + basic);
    HttpResponse r = http_do(tr);
    if (r.status == 401 || r.status == 403)
      throw Error(fmt::format("{}: unauthorized: {}", host_,
                              creds_.empty() ? "authentication required: run 'den login " + host_ + "'"
                                             : "wrong username or password"),
                  Errc::Invalid);
    if (r.status != 200) throw Error(fmt::format("{}: token server answered HTTP {}", host_, r.status));
    Json j = Json::parse(r.body, nullptr, false);
    std::string token = j.is_object() ? j.value("token", j.value("access_token", "")) : "";
    if (token.empty()) throw Error(fmt::format("{}: the token server sent no token", host_));
    auth_header_ = "Authorization: Bearer " + token;
  }

  std::string host_, repo_, actions_;
  Credentials creds_;
  bool verify_ = true, plain_http_ok_ = false;
  std::string ca_dir_;
  std::string scheme_;
  std::string challenge_;
  std::string auth_header_;
};

struct Manifest {
  std::string text, media_type, digest;
};

Manifest get_manifest(Client& cl, const std::string& reference) {
  HttpRequest req{"GET", "/v2/" + cl.repo() + "/manifests/" + reference, {kManifestAccept}};
  req.max_body = kMaxMetadataSize;
  HttpResponse r = cl.request(req);
  if (r.status == 404)
    throw Error(fmt::format("{}/{}:{} not found: manifest unknown", cl.host(), cl.repo(), reference), Errc::NotFound);
  if (r.status != 200)
    throw Error(fmt::format("{}: fetching manifest {} of {}: HTTP {}", cl.host(), reference, cl.repo(), r.status));
  Manifest m{r.body, r.header("content-type"), sha256_digest(r.body)};
  if (reference.rfind("sha256:", 0) == 0 && m.digest != reference)
    throw Error(fmt::format("{}: manifest digest mismatch: asked for {}, got {}", cl.host(), reference, m.digest),
                Errc::Corrupt);
  Json j = Json::parse(m.text, nullptr, false);
  if (j.is_discarded()) throw Error(fmt::format("{}: the manifest of {} is not JSON", cl.host(), cl.repo()));
  if (j.contains("mediaType") && j["mediaType"].is_string()) m.media_type = j["mediaType"];
  if (m.media_type.find(';') != std::string::npos) m.media_type = trim(m.media_type.substr(0, m.media_type.find(';')));
  return m;
}

// The compression a layer media type names (as an int of den::Compression),
// or -1 when it names none den can stream.
int stream_compression(const std::string& mt) {
  auto ends = [&](std::string_view suf) { return mt.size() >= suf.size() && mt.compare(mt.size() - suf.size(), suf.size(), suf) == 0; };
  if (ends("tar+gzip") || ends("tar.gzip")) return static_cast<int>(Compression::Gzip);
  if (ends("tar+zstd")) return static_cast<int>(Compression::Zstd);
  if (mt == media::kOciLayer || ends(".tar")) return static_cast<int>(Compression::None);
  return -1;
}

bool is_index(const std::string& mt) { return mt == media::kOciIndex || mt == media::kDockerManifestList; }

// A partly downloaded blob, GRAPHROOT/partial/<hex>: the bytes received so
// far, in order. A pull that is interrupted (registry down, connection cut,
// disk full, den killed) leaves it; the next pull of that blob hashes what is
// there and asks only for the rest (Range). The whole is verified against the
// digest before it becomes a blob; a mismatch deletes it. Held under an
// exclusive flock while written; GC removes partial/ when no pull runs.
class PartialBlob {
 public:
  PartialBlob(Store& store, const std::string& digest) : path_(store.partial_path(digest)) {
    for (;;) {
      fd_ = open_file(path_, O_RDWR | O_CREAT, 0600);
      if (::flock(fd_.get(), LOCK_EX) != 0) throw sys_error("lock " + path_);
      // Another pull may have committed (renamed) or GC removed the file
      // while we waited: only the file still at path_ is ours to extend.
      struct stat a, b;
      if (::fstat(fd_.get(), &a) == 0 && ::stat(path_.c_str(), &b) == 0 && a.st_ino == b.st_ino) break;
      fd_.reset();
    }
  }
  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  // Bytes present (and their hash), read back from the file.
  uint64_t rehash(Sha256& hash) {
    hash = Sha256();
    if (::lseek(fd_.get(), 0, SEEK_SET) < 0) throw sys_error("seek " + path_);
    uint64_t n = 0;
    std::vector<char> buf(1 << 20);
    for (;;) {
      ssize_t r = ::read(fd_.get(), buf.data(), buf.size());
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw sys_error("read " + path_);
      if (r == 0) break;
      hash.update(buf.data(), static_cast<size_t>(r));
      n += static_cast<uint64_t>(r);
    }
    return n;
  }
  void truncate() {
    if (::ftruncate(fd_.get(), 0) != 0 || ::lseek(fd_.get(), 0, SEEK_SET) < 0) throw sys_error("truncate " + path_);
  }
  void discard() { ::unlink(path_.c_str()); }

 private:
  std::string path_;
  UniqueFd fd_;
};

// A copy of a download's bytes for the layer extraction that runs at the
// same time (a socket; see pull_from). It stays alive only while the bytes
// go out in order from the blob's first byte; after a restart or a write
// error it is closed, and the layer is extracted from the blob afterwards.
struct Tee {
  UniqueFd fd;
  bool alive() const { return bool(fd); }
  void put(const char* p, size_t n) {
    while (fd && n) {
      ssize_t w = ::send(fd.get(), p, n, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        fd.reset();
        return;
      }
      p += w;
      n -= static_cast<size_t>(w);
    }
  }
};

// Streams a blob into the store, verifying size and digest on the way;
// resumes a partial download (see PartialBlob) and, when the connection
// breaks, retries from where it stopped.
void download_blob(Client& cl, Store& store, const std::string& digest, uint64_t size,
                   const std::function<void(uint64_t)>& on_bytes = {}, Tee* tee = nullptr) {
  PartialBlob part(store, digest);
  if (store.has_blob(digest)) {  // a concurrent pull committed it
    if (tee) tee->fd.reset();
    return;
  }
  Sha256 hash;
  uint64_t got = part.rehash(hash);
  if (size && got > size) {
    part.truncate();
    got = part.rehash(hash);
  }
  if (tee && got) tee->fd.reset();  // a resumed blob is extracted afterwards
  if (got) log::debug("blob {}: resuming after {} of {} bytes", short_digest(digest), got, size);
  // libcurl hands over 16 KiB at a time; the file and the extraction get
  // pieces of up to kChunk (a write(2) and a send(2) each).
  constexpr size_t kChunk = 512 * 1024;
  std::string pending;
  uint64_t written = got;  // bytes in the file (and sent to the tee)
  auto flush = [&] {
    if (pending.empty()) return;
    write_all(part.fd(), pending, "write blob");
    if (tee) tee->put(pending.data(), pending.size());
    written += pending.size();
    pending.clear();
  };
  for (int attempt = 0; !(size && got == size); attempt++) {
    HttpRequest req{"GET", "/v2/" + cl.repo() + "/blobs/" + digest};
    uint64_t from = got;
    if (from) req.headers.push_back(fmt::format("Range: bytes={}-", from));
    auto on_head = [&](const HttpResponse& h) {
      if (from == 0) return;
      // 206 with our offset continues the file; anything else (200: the
      // server ignores ranges) starts it over.
      std::string cr = h.header("content-range");
      if (h.status == 206 && cr.rfind(fmt::format("bytes {}-", from), 0) == 0) return;
      log::debug("blob {}: the registry sent the whole blob (HTTP {})", short_digest(digest), h.status);
      if (tee) tee->fd.reset();
      part.truncate();
      hash = Sha256();
      got = written = 0;
    };
    HttpResponse r;
    try {
      r = cl.request(req,
                     [&](const char* p, size_t n) {
                       if (size && got + n > size)
                         throw Error(fmt::format("{}: blob {} is larger than its {} bytes", cl.host(),
                                                 short_digest(digest), size),
                                     Errc::Corrupt);
                       if (pending.capacity() < kChunk) pending.reserve(kChunk);
                       pending.append(p, n);
                       hash.update(p, n);
                       got += n;
                       if (pending.size() >= kChunk) flush();
                       if (on_bytes) on_bytes(got);
                     },
                     on_head);
      flush();
    } catch (const Error& e) {
      // What was not written yet is dropped, and the hash is that of the
      // file again (read back: this path is rare).
      if (!pending.empty() || got != written) {
        pending.clear();
        got = part.rehash(hash);
        written = got;
      }
      if (e.code() == Errc::Corrupt) {
        part.discard();
        throw;
      }
      std::string what = e.what();
      // Out of space: what arrived is what filled the disk, and kept it
      // would leave the store unable to write even its metadata. Drop it.
      if (what.find(std::strerror(ENOSPC)) != std::string::npos) {
        part.discard();
        throw Error(fmt::format("{}: blob {}: {}: free space in {} and pull again", cl.host(), short_digest(digest),
                                what, store.root()));
      }
      // The connection broke: go on from what arrived, a few times.
      if (attempt < 3 && got > from) {
        log::debug("blob {}: {}; resuming at {}", short_digest(digest), what, got);
        continue;
      }
      throw Error(fmt::format("{}: blob {}: {} ({} of {} bytes kept; pull again to resume)", cl.host(),
                              short_digest(digest), what, got, size));
    }
    if (r.status == 404) throw Error(fmt::format("{}: blob {} of {} not found", cl.host(), digest, cl.repo()));
    if (r.status == 416 && from) {  // our partial is no prefix the server knows: start over
      if (tee) tee->fd.reset();
      part.truncate();
      hash = Sha256();
      got = written = 0;
      if (attempt < 3) continue;
    }
    if (r.status != 200 && r.status != 206)
      throw Error(fmt::format("{}: fetching blob {}: HTTP {}", cl.host(), short_digest(digest), r.status));
    if (!size) break;  // size unknown: the response was all of it
    if (got != size) {
      if (attempt < 3 && got > from) continue;  // the server closed early: ask for the rest
      throw Error(fmt::format("{}: blob {} is truncated: {} of {} bytes (kept; pull again to resume)", cl.host(),
                              short_digest(digest), got, size),
                  Errc::Invalid);
    }
  }
  std::string actual = hash.digest();
  if (actual != digest) {
    part.discard();
    throw Error(fmt::format("{}: blob digest mismatch: expected {}, got {}", cl.host(), digest, actual), Errc::Corrupt);
  }
  store.commit_blob_file(part.path(), digest);  // syncs it, then renames it into blobs/
}

// The end of a "0-N" Range header of an upload session, plus one: the bytes
// the registry holds. 0 when there is none.
uint64_t range_end(const std::string& range) {
  auto dash = range.find('-');
  if (dash == std::string::npos) return 0;
  try {
    return std::stoull(range.substr(dash + 1)) + 1;
  } catch (...) {
    return 0;
  }
}

// A chunked upload (distribution spec "chunked upload"): PATCHes of `chunk`
// bytes with Content-Range, each continuing at the Location the last one
// answered. A chunk that fails (connection, 5xx, 416) is retried from the
// offset the registry reports for the session (GET of the upload URL).
// Returns the Location for the closing PUT.
std::string upload_chunks(Client& cl, std::string loc, int fd, uint64_t size, uint64_t chunk,
                          const std::string& what) {
  auto absolute = [&](std::string l) { return !l.empty() && l[0] == '/' ? cl.url(l) : l; };
  uint64_t off = 0;
  int failures = 0;
  auto recover = [&](const std::string& why) {
    if (++failures > 3) throw Error(fmt::format("{}: uploading {}: {}", cl.host(), what, why));
    log::debug("upload {}: {}; asking the registry where to go on", what, why);
    ::usleep(200000u << failures);
    HttpResponse st = cl.request({"GET", loc});
    if (st.status != 204 && st.status != 200)
      throw Error(fmt::format("{}: uploading {}: {} (and the upload session is gone: HTTP {})", cl.host(), what, why,
                              st.status));
    if (!st.header("location").empty()) loc = absolute(st.header("location"));
    off = range_end(st.header("range"));
  };
  while (off < size) {
    uint64_t n = std::min(chunk, size - off);
    if (::lseek(fd, static_cast<off_t>(off), SEEK_SET) < 0) throw sys_error("seek in blob");
    HttpRequest patch{"PATCH",
                      loc,
                      {"Content-Type: application/octet-stream", fmt::format("Content-Range: {}-{}", off, off + n - 1)},
                      "",
                      fd,
                      n};
    HttpResponse r;
    try {
      r = cl.request(patch);
    } catch (const Error& e) {
      recover(e.what());
      continue;
    }
    if (r.status >= 500 || r.status == 416) {
      recover(fmt::format("HTTP {} for bytes {}-{}", r.status, off, off + n - 1));
      continue;
    }
    if (r.status != 202)
      throw Error(fmt::format("{}: uploading {}: HTTP {} {}", cl.host(), what, r.status, trim(r.body.substr(0, 200))));
    if (!r.header("location").empty()) loc = absolute(r.header("location"));
    uint64_t held = range_end(r.header("range"));
    off = held > off ? held : off + n;
    log::debug("upload {}: {} of {} bytes", what, off, size);
  }
  return loc;
}

std::string get_small_blob(Client& cl, const std::string& digest) {
  HttpRequest req{"GET", "/v2/" + cl.repo() + "/blobs/" + digest};
  req.max_body = kMaxMetadataSize;
  HttpResponse r = cl.request(req);
  if (r.status != 200) throw Error(fmt::format("{}: fetching {}: HTTP {}", cl.host(), short_digest(digest), r.status));
  if (sha256_digest(r.body) != digest)
    throw Error(fmt::format("{}: blob digest mismatch for {}", cl.host(), digest), Errc::Corrupt);
  return r.body;
}

ImageRecord pull_from(Store& store, const Endpoint& ep, const Reference& ref, const PullOptions& o) {
  const Config& cfg = store.config();
  Client cl(cfg, ep, o, "pull");
  auto say = [&](const std::string& s) {
    if (o.progress) o.progress(s);
  };
  std::string reference = ref.digest.empty() ? ref.tag : ref.digest;
  Manifest m = get_manifest(cl, reference);
  std::string repo_digest = m.digest;
  std::string arch = o.arch.empty() ? host_arch() : o.arch;
  Json man = Json::parse(m.text);  // get_manifest checked that it parses
  if (is_index(m.media_type) || (man.contains("manifests") && !man.contains("layers"))) {
    std::vector<std::string> offered;
    std::string chosen = pick_from_index(man, o.os, arch, o.variant, &offered);
    if (chosen.empty())
      throw Error(fmt::format("{}: no image for {}/{} in the index of {} (it offers {})", cl.host(), o.os, arch,
                              cl.repo(), offered.empty() ? "nothing" : join(offered, ", ")),
                  Errc::NotFound);
    m = get_manifest(cl, chosen);
    man = Json::parse(m.text);
  }
  std::string config_digest = manifest_config_digest(man, cl.host(), m.media_type, cl.repo());
  std::string config_text =
      store.has_blob(config_digest)
          ? read_file_bounded(store.blob_path(config_digest), kMaxMetadataSize, "image config " + config_digest)
          : get_small_blob(cl, config_digest);
  Json config = Json::parse(config_text, nullptr, false);
  if (config.is_discarded()) throw Error(fmt::format("{}: the image config is not JSON", cl.host()), Errc::Invalid);
  validate_config(config);
  std::string carch = 
      config.contains("architecture") && config["architecture"].is_string() ? config["architecture"].get<std::string>() : "";
  if (!carch.empty() && carch != arch)
    throw Error(fmt::format("image {} is for {}/{}, not {}/{}{}", ref.familiar_string(),
                            config.contains("os") && config["os"].is_string() ? config["os"].get<std::string>() : "linux",
                            carch, o.os, arch,
                            o.arch.empty() ? " (this machine's; use --platform to ask for another)" : ""),
                Errc::Invalid);
  std::vector<std::string> diff_ids = config_diff_ids(config);
  std::vector<LayerDescriptor> layers = manifest_layers(man, diff_ids, cl.host());
  std::vector<std::string> chains = chain_ids(diff_ids);

  // Layers: download what the store lacks (in parallel) and extract each as
  // soon as it is complete. What was verified stays for the next pull.
  store.prepare_for_write();
  FileLock gc = store.hold_off_gc();
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::optional<Error> first_error;
  auto worker = [&] {
    // A copy per worker, which knows the scheme and token already (each
    // request has its own libcurl handle, so nothing is shared).
    Client wc = cl;
    for (;;) {
      size_t i = next++;
      if (i >= layers.size()) return;
      const LayerDescriptor& d = layers[i];
      const std::string parent = i == 0 ? "" : chains[i - 1];
      try {
        LayerProgress lp{i, layers.size(), d.blob_digest, 0, d.blob_size, false};
        if (store.has_blob(d.blob_digest)) {
          lp.skipped = true;
          lp.done = d.blob_size;
          {
            std::lock_guard<std::mutex> g(mu);
            if (o.layer_progress) o.layer_progress(lp);
            else say(fmt::format("Copying blob {} skipped: already exists", short_digest(d.blob_digest)));
          }
          store.ensure_layer(parent, d);
        } else {
          uint64_t reported = 0;
          auto on_bytes = [&](uint64_t got) {
            if (!o.layer_progress || got - reported < 65536) return;
            reported = got;
            lp.done = got;
            std::lock_guard<std::mutex> g(mu);
            o.layer_progress(lp);
          };
          // The layer is extracted while it downloads: the bytes go to the
          // blob file and, through a socket, to an extraction thread, so a
          // pull takes about as long as the slower of the two, not their
          // sum. What is extracted is checked against the config's diff_id
          // (the config itself was verified by its digest).
          int comp = stream_compression(d.media_type);
          bool stream = comp >= 0 && !path_exists(store.partial_path(d.blob_digest));
          bool extracted = false;
          if (stream) {
            int sv[2];
            if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw sys_error("socketpair");
            Tee tee{UniqueFd(sv[0])};
            UniqueFd rd(sv[1]);
            std::thread ext([&] {
              try {
                store.ensure_layer_streamed(parent, d, rd.get(), comp);
                extracted = true;
              } catch (const Error& e) {
                log::debug("layer {}: extraction while downloading failed ({}); extracting from the blob",
                           short_digest(d.blob_digest), e.what());
              }
            });
            try {
              download_blob(wc, store, d.blob_digest, d.blob_size, on_bytes, &tee);
            } catch (...) {
              tee.fd.reset();
              ext.join();
              throw;
            }
            tee.fd.reset();
            ext.join();
          } else {
            download_blob(wc, store, d.blob_digest, d.blob_size, on_bytes);
          }
          if (!extracted) store.ensure_layer(parent, d);
          lp.done = d.blob_size;
          std::lock_guard<std::mutex> g(mu);
          if (o.layer_progress) o.layer_progress(lp);
          else say(fmt::format("Copying blob {} done", short_digest(d.blob_digest)));
        }
      } catch (const Error& e) {
        std::lock_guard<std::mutex> g(mu);
        if (!first_error) first_error = e;
        next = layers.size();
      }
    }
  };
  int parallel = o.parallel > 0 ? o.parallel : cfg.image_parallel_copies;
  size_t n = std::clamp<size_t>(static_cast<size_t>(std::max(1, parallel)), 1, std::max<size_t>(1, layers.size()));
  std::vector<std::thread> threads;
  for (size_t i = 1; i < n; i++) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  if (first_error) throw *first_error;
  say(fmt::format("Copying config {} done", short_digest(config_digest)));
  say("Writing manifest to image destination");
  std::vector<std::string> names;
  if (!ref.tag.empty()) names.push_back(ref.name() + ":" + ref.tag);
  return commit_image(store, config_text, layers, m.text, names, {ref.name() + "@" + repo_digest});
}

}  // namespace

ImageRecord pull_image(Store& store, const std::string& text, const PullOptions& o) {
  log::Phase phase("pull " + text);
  RegistriesConf conf = load_registries_conf(store.config());
  Reference parsed = parse_docker_ref(text);
  std::vector<Reference> candidates;
  if (is_short_name(text)) {
    if (conf.short_name_mode == "enforcing" && !conf.aliases.count(text.substr(0, text.find_first_of(":@"))) &&
        conf.search.size() > 1)
      throw Error(fmt::format("short name \"{}\" is ambiguous with short-name-mode = \"enforcing\": use a full "
                              "name (registry/repository) or add an alias to registries.conf",
                              text),
                  Errc::Invalid);
    std::string suffix = parsed.digest.empty() ? ":" + parsed.tag : "@" + parsed.digest;
    for (const auto& c : short_name_candidates(conf, parsed.familiar_name()))
      candidates.push_back(parse_docker_ref(c + suffix));
    if (candidates.empty())
      throw Error(fmt::format("short name \"{}\": no unqualified-search-registries are defined in registries.conf",
                              text),
                  Errc::Invalid);
  } else {
    candidates.push_back(parsed);
  }
  std::vector<std::string> errors;
  for (const auto& ref : candidates) {
    if (o.progress) o.progress(fmt::format("Trying to pull {}...", ref.string()));
    for (const auto& ep : pull_endpoints(conf, ref.name())) {
      try {
        return pull_from(store, ep, ref, o);
      } catch (const Error& e) {
        if (e.code() == Errc::Corrupt && !ep.mirror) throw;
        log::debug("pull from {} failed: {}", ep.host, e.what());
        errors.push_back(e.what());
      }
    }
  }
  if (errors.size() == 1) throw Error(errors[0], Errc::NotFound);
  throw Error(fmt::format("pulling {}: {}", text, join(errors, "; ")), Errc::NotFound);
}

std::string push_image(Store& store, const ImageRecord& img, const std::string& dest, const RegistryOptions& o) {
  log::Phase phase("push " + dest);
  Reference ref = parse_named_tagged(dest);
  RegistriesConf conf = load_registries_conf(store.config());
  Endpoint ep = push_endpoint(conf, ref.name());
  Client cl(store.config(), ep, o, "pull,push");
  auto say = [&](const std::string& s) {
    if (o.progress) o.progress(s);
  };
  std::string manifest_text = store.read_blob(img.manifest_digest);
  Json man = Json::parse(manifest_text, nullptr, false);
  if (man.is_discarded()) throw Error("the stored manifest of " + img.id.substr(0, 12) + " is corrupt", Errc::Corrupt);
  std::string media_type = man.value("mediaType", img.manifest_media_type);
  if (media_type.empty()) media_type = media::kOciManifest;
  struct Blob {
    std::string digest;
    bool config;
  };
  std::vector<Blob> blobs;
  for (const auto& l : man.value("layers", Json::array())) blobs.push_back({l.value("digest", ""), false});
  blobs.push_back({man["config"].value("digest", ""), true});
  // Another repository of the same registry that has these blobs (we pulled
  // the image from it): the registry may mount them instead of an upload.
  std::string mount_from;
  for (const auto& d : img.digests) {
    auto at = d.find('@');
    std::string name = d.substr(0, at);
    if (name.rfind(ep.host + "/", 0) == 0 && name.substr(ep.host.size() + 1) != ep.path)
      mount_from = name.substr(ep.host.size() + 1);
  }
  for (const auto& b : blobs) {
    std::string what = b.config ? "config" : "blob";
    HttpResponse head = cl.request({"HEAD", "/v2/" + ep.path + "/blobs/" + b.digest});
    if (head.status == 200) {
      say(fmt::format("Copying {} {} skipped: already exists", what, short_digest(b.digest)));
      continue;
    }
    std::string path = store.blob_path(b.digest);
    struct stat st;
    if (::stat(path.c_str(), &st) != 0)
      throw Error(fmt::format("blob {} of image {} is missing from the store", b.digest, img.id.substr(0, 12)),
                  Errc::Corrupt);
    std::string start = "/v2/" + ep.path + "/blobs/uploads/";
    if (!mount_from.empty()) start += "?mount=" + b.digest + "&from=" + mount_from;
    HttpResponse up = cl.request({"POST", start, {"Content-Length: 0"}, ""});
    if (up.status == 201) {
      say(fmt::format("Copying {} {} mounted from {}", what, short_digest(b.digest), mount_from));
      continue;
    }
    if (up.status != 202)
      throw Error(fmt::format("{}: starting an upload to {}: HTTP {} {}", ep.host, ep.path, up.status,
                              trim(up.body.substr(0, 200))));
    std::string loc = up.header("location");
    if (loc.empty()) throw Error(fmt::format("{}: the upload has no Location", ep.host));
    if (loc[0] == '/') loc = cl.url(loc);
    uint64_t size = static_cast<uint64_t>(st.st_size);
    UniqueFd fd = open_file(path, O_RDONLY);
    uint64_t chunk = store.config().push_chunk_size;
    if (chunk && size > chunk) loc = upload_chunks(cl, loc, fd.get(), size, chunk, what + " " + short_digest(b.digest));
    else ::lseek(fd.get(), 0, SEEK_SET);
    loc += (loc.find('?') == std::string::npos ? "?" : "&") + std::string("digest=") + b.digest;
    HttpRequest put{"PUT", loc, {"Content-Type: application/octet-stream"}, "", fd.get(), size};
    if (chunk && size > chunk) put = HttpRequest{"PUT", loc, {"Content-Length: 0"}, ""};
    HttpResponse done = cl.request(put);
    if (done.status != 201 && done.status != 204)
      throw Error(fmt::format("{}: uploading {} {}: HTTP {} {}", ep.host, what, short_digest(b.digest), done.status,
                              trim(done.body.substr(0, 200))));
    say(fmt::format("Copying {} {} done", what, short_digest(b.digest)));
  }
  say("Writing manifest to image destination");
  HttpResponse pm = cl.request(
      {"PUT", "/v2/" + ep.path + "/manifests/" + (ref.tag.empty() ? ref.digest : ref.tag),
       {"Content-Type: " + media_type}, manifest_text});
  if (pm.status != 201 && pm.status != 200)
    throw Error(fmt::format("{}: the registry refused the manifest of {}: HTTP {} {}", ep.host, ep.path, pm.status,
                            trim(pm.body.substr(0, 300))));
  return sha256_digest(manifest_text);
}

std::vector<std::string> list_tags(const Config& cfg, const std::string& name, const RegistryOptions& opts) {
  RegistriesConf conf = load_registries_conf(cfg);
  std::vector<Endpoint> eps = pull_endpoints(conf, name);
  Client cl(cfg, eps.back(), opts, "pull");
  HttpResponse r = cl.request({"GET", "/v2/" + cl.repo() + "/tags/list"});
  if (r.status == 404) throw Error(fmt::format("{}: repository {} not found", cl.host(), cl.repo()), Errc::NotFound);
  if (r.status != 200) throw Error(fmt::format("{}: listing the tags of {}: HTTP {}", cl.host(), cl.repo(), r.status));
  Json j = Json::parse(r.body, nullptr, false);
  std::vector<std::string> tags;
  if (j.is_object() && j.contains("tags") && j["tags"].is_array())
    for (const auto& t : j["tags"])
      if (t.is_string()) tags.push_back(t);
  std::sort(tags.begin(), tags.end());
  return tags;
}

std::string fetch_manifest(const Config& cfg, const std::string& text, const RegistryOptions& opts) {
  Reference ref = parse_docker_ref(text);
  RegistriesConf conf = load_registries_conf(cfg);
  std::vector<Endpoint> eps = pull_endpoints(conf, ref.name());
  std::string last;
  for (const auto& ep : eps) {
    try {
      Client cl(cfg, ep, opts, "pull");
      return get_manifest(cl, ref.digest.empty() ? ref.tag : ref.digest).text;
    } catch (const Error& e) {
      if (!ep.mirror) throw;
      last = e.what();
    }
  }
  throw Error(last);
}

namespace {
// A query-string value: unreserved characters as they are, the rest %XX.
std::string url_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}
}  // namespace

std::vector<SearchResult> search_registry(const Config& cfg, const std::string& registry, const std::string& term,
                                          int limit, const RegistryOptions& opts) {
  RegistriesConf conf = load_registries_conf(cfg);
  Endpoint ep = push_endpoint(conf, registry);
  ep.path.clear();
  Client cl(cfg, ep, opts, "pull");
  std::vector<SearchResult> out;
  // The search API first.
  HttpResponse v1 = cl.request({"GET", fmt::format("/v1/search?q={}&n={}", url_escape(term), limit)});
  if (v1.status == 200) {
    Json j = Json::parse(v1.body, nullptr, false);
    if (j.is_object() && j.contains("results") && j["results"].is_array()) {
      for (const auto& r : j["results"]) {
        if (!r.is_object() || !r.contains("name") || !r["name"].is_string()) continue;
        if (static_cast<int>(out.size()) >= limit) break;
        SearchResult sr;
        sr.name = registry + "/" + r["name"].get<std::string>();
        if (r.contains("description") && r["description"].is_string()) sr.description = r["description"];
        if (r.contains("star_count") && r["star_count"].is_number_integer()) sr.stars = r["star_count"];
        sr.official = r.value("is_official", false);
        sr.automated = r.value("is_automated", false);
        out.push_back(sr);
      }
      return out;
    }
  }
  std::string next = "/v2/_catalog?n=1000";
  for (int page = 0; page < 100 && !next.empty(); page++) {
    HttpResponse r = cl.request({"GET", next});
    if (r.status != 200)
      throw Error(fmt::format("{}: the registry offers neither a search API nor a catalog (HTTP {})", registry,
                              r.status));
    Json j = Json::parse(r.body, nullptr, false);
    if (j.is_object() && j.contains("repositories") && j["repositories"].is_array())
      for (const auto& name : j["repositories"])
        if (name.is_string() && name.get<std::string>().find(term) != std::string::npos &&
            static_cast<int>(out.size()) < limit)
          out.push_back({registry + "/" + name.get<std::string>(), "", 0, false, false});
    // Pagination: Link: </v2/_catalog?last=x&n=1000>; rel="next"
    std::string link = r.header("link");
    auto lt = link.find('<'), gt = link.find('>');
    next = (lt != std::string::npos && gt != std::string::npos && gt > lt) ? link.substr(lt + 1, gt - lt - 1) : "";
  }
  return out;
}

void check_login(const Config& cfg, const std::string& registry, const Credentials& creds,
                 const RegistryOptions& opts) {
  RegistriesConf conf = load_registries_conf(cfg);
  Endpoint ep = push_endpoint(conf, registry);
  ep.path.clear();
  RegistryOptions o = opts;
  o.creds = creds;
  Client cl(cfg, ep, o, "pull");
  cl.login_check();
}

}  // namespace den
