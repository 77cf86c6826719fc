#pragma once

// Sealing (DESIGN.md §8): a CT VM keeps slot data on disk only encrypted under a key that lives in its
// memory alone. Stopping the VM erases the key, so the data is gone (crypto-erasure).
//
// Sealed layout: nonce (12 random bytes) || AES-256-GCM ciphertext || tag (16 bytes). The GCM
// associated data is "joconde/seal/v1" followed by the caller's associated data, so a blob only
// unseals under the same key and the same associated data (e.g. the slot id it belongs to).

#include "joconde/enclave/platform.hpp"

#include <array>

namespace joconde::enclave {

/// The bytes sealing adds to a plaintext: nonce and tag.
inline constexpr std::size_t seal_overhead = 12 + 16;

/// A 256-bit AES-GCM sealing key held only in memory; zeroised (OPENSSL_cleanse) when erased,
/// moved from or destroyed. Not copyable, so one key has one owner.
class sealing_key {
public:
  /// A fresh key from the OpenSSL private random generator.
  static result<sealing_key> generate();

  sealing_key(sealing_key&& other) noexcept;
  sealing_key& operator=(sealing_key&& other) noexcept;
  sealing_key(const sealing_key&) = delete;
  sealing_key& operator=(const sealing_key&) = delete;

  /// Zeroises the key (erase()).
  ~sealing_key();

  /// Zeroises the key now; everything sealed under it can no longer be unsealed (crypto-erasure).
  void erase() noexcept;

  /// True when every key byte is zero: after erase(), after a move from it, never for a live key.
  bool erased() const noexcept;

  /// Encrypts `plaintext` bound to `associated_data` under a fresh random nonce; invalid_state on an
  /// erased key.
  result<bytes> seal(std::span<const std::uint8_t> plaintext,
                     std::span<const std::uint8_t> associated_data) const;

  /// The plaintext of `sealed`; malformed_input when it is shorter than seal_overhead, bad_mac when
  /// any byte or the associated data differs from what was sealed, invalid_state on an erased key.
  result<bytes> unseal(std::span<const std::uint8_t> sealed,
                       std::span<const std::uint8_t> associated_data) const;

private:
  sealing_key() = default;

  std::array<std::uint8_t, 32> key_{};
};

} // namespace joconde::enclave
