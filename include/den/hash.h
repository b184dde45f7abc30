// SHA-256 (OpenSSL) and digest strings ("sha256:<64 hex>").
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace den {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // 64 lowercase hex characters. The object can not be updated afterwards.
  std::string hex();
  // "sha256:" + hex().
  std::string digest() { return "sha256:" + hex(); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string sha256_hex(std::string_view data);
inline std::string sha256_digest(std::string_view data) { return "sha256:" + sha256_hex(data); }

// True for "sha256:" followed by exactly 64 lowercase hex characters.
bool is_sha256_digest(std::string_view s);
bool is_hex(std::string_view s);
// The hex part of "sha256:<hex>" (or the input when it has no algorithm).
std::string digest_hex(std::string_view digest);
// Random lowercase hex string of n characters (container IDs, temp names).
std::string random_hex(size_t n);

}  // namespace den
