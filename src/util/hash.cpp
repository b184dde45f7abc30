#include "den/hash.h"

#include <openssl/evp.h>
#include <sys/random.h>

#include <cerrno>

#include "den/error.h"

namespace den {

struct Sha256::Impl {
  EVP_MD_CTX* ctx = nullptr;
  ~Impl() {
    if (ctx) EVP_MD_CTX_free(ctx);
  }
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  if (!impl_->ctx || EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) != 1) throw Error("sha256: init failed");
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, size_t n) {
  if (n > 0) EVP_DigestUpdate(impl_->ctx, data, n);
}

std::string Sha256::hex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(impl_->ctx, md, &len);
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; i++) {
    out += digits[md[i] >> 4];
    out += digits[md[i] & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.hex();
}

bool is_hex(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool is_sha256_digest(std::string_view s) {
  return s.size() == 71 && s.substr(0, 7) == "sha256:" && is_hex(s.substr(7));
}

std::string digest_hex(std::string_view digest) {
  auto pos = digest.find(':');
  return std::string(pos == std::string_view::npos ? digest : digest.substr(pos + 1));
}

std::string random_hex(size_t n) {
  std::string bytes((n + 1) / 2, '\0');
  // The kernel's generator directly: OpenSSL's would load its config and
  // seed a DRBG first, a millisecond on every `den run`.
  for (size_t got = 0; got < bytes.size();) {
    ssize_t r = ::getrandom(bytes.data() + got, bytes.size() - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw sys_error("getrandom");
    got += static_cast<size_t>(r);
  }
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  out.resize(n);
  return out;
}

}  // namespace den
