#include "joconde/engines/rss3/prg.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace joconde::engines::rss3 {

namespace {

constexpr std::size_t zero_bytes = 1 << 16;

/// Plaintext for the counter-mode keystream.
const std::uint8_t* zeros() {
  alignas(64) static const std::uint8_t buffer[zero_bytes] = {};
  return buffer;
}

} // namespace

seed random_seed() {
  seed s{};
  if (RAND_bytes(s.data(), static_cast<int>(s.size())) != 1)
    throw engine_failure(fail(errc::crypto_failure, "rss3: RAND_bytes failed"));
  return s;
}

prg::prg(const seed& key) : ctx_(EVP_CIPHER_CTX_new()) {
  if (ctx_ == nullptr || EVP_EncryptInit_ex(ctx_, EVP_aes_128_ctr(), nullptr, key.data(), nullptr) != 1)
    throw engine_failure(fail(errc::crypto_failure, "rss3: cannot set up AES-128-CTR"));
}

prg::~prg() {
  EVP_CIPHER_CTX_free(ctx_);
}

prg::prg(prg&& other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {
  // nop
}

prg& prg::operator=(prg&& other) noexcept {
  std::swap(ctx_, other.ctx_);
  return *this;
}

void prg::fill(std::uint64_t stream, std::size_t offset, word* out, std::size_t n) {
  if (n == 0)
    return;
  // Counter block: stream id in the high half, block index in the low half (two words per block).
  std::uint8_t iv[16];
  std::uint64_t block = offset / 2;
  for (int i = 0; i < 8; ++i) {
    iv[i] = static_cast<std::uint8_t>(stream >> (56 - 8 * i));
    iv[8 + i] = static_cast<std::uint8_t>(block >> (56 - 8 * i));
  }
  if (EVP_EncryptInit_ex(ctx_, nullptr, nullptr, nullptr, iv) != 1)
    throw engine_failure(fail(errc::crypto_failure, "rss3: AES-128-CTR failed"));
  auto* dst = reinterpret_cast<std::uint8_t*>(out);
  std::size_t skip = (offset % 2) * sizeof(word);
  std::size_t left = n * sizeof(word);
  int len = 0;
  if (skip != 0) {
    std::uint8_t first[16];
    EVP_EncryptUpdate(ctx_, first, &len, zeros(), 16);
    std::size_t take = std::min(left, std::size_t{16} - skip);
    std::memcpy(dst, first + skip, take);
    dst += take;
    left -= take;
  }
  while (left > 0) {
    std::size_t take = std::min(left, zero_bytes);
    if (EVP_EncryptUpdate(ctx_, dst, &len, zeros(), static_cast<int>(take)) != 1)
      throw engine_failure(fail(errc::crypto_failure, "rss3: AES-128-CTR failed"));
    dst += take;
    left -= take;
  }
}

} // namespace joconde::engines::rss3
