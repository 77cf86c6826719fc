#pragma once

// The pseudo-random generator of rss3: AES-128 in counter mode through EVP (AES-NI), keyed by a
// 16-byte seed. A stream id and a word offset select the counter block, so two parties holding the
// same seed draw identical words for the same (stream, offset) without keeping positions in step.

#include "joconde/engines/backend.hpp"

#include <array>
#include <cstddef>
#include <cstdint>

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace joconde::engines::rss3 {

/// A 128-bit PRG seed.
using seed = std::array<std::uint8_t, 16>;

/// A fresh random seed from RAND_bytes.
seed random_seed();

/// AES-128-CTR keyed by a seed; the seed itself is not kept.
class prg {
public:
  /// Keys the generator with `key` (the caller wipes its copy).
  explicit prg(const seed& key);
  ~prg();

  prg(const prg&) = delete;
  prg& operator=(const prg&) = delete;
  prg(prg&& other) noexcept;
  prg& operator=(prg&& other) noexcept;

  /// Writes words [offset, offset + n) of stream `stream` to `out`.
  void fill(std::uint64_t stream, std::size_t offset, word* out, std::size_t n);

private:
  EVP_CIPHER_CTX* ctx_;
};

} // namespace joconde::engines::rss3
