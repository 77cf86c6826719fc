#pragma once

// Private helpers for the key agreements of the enclave layer: ephemeral X25519 key pairs (HKDF is
// ossl::hkdf_sha256 of joconde/io/ossl.hpp). Shared by the channel handshake, the attested sessions
// and the secure stream, so the derivations are written once. Not installed; nothing outside
// enclave/src includes it.

#include "ossl.hpp"

#include <array>
#include <cstdint>
#include <span>

namespace joconde::enclave::detail {

/// An ephemeral X25519 key pair; freeing `key` (EVP_PKEY_free) zeroises the private key.
struct x25519_keypair {
  pkey_ptr key;                               ///< the private key; free it as soon as it was used
  std::array<std::uint8_t, 32> public_key{};  ///< its raw public key
};

/// Fills `out` with a fresh key pair; false when OpenSSL cannot make it.
bool x25519_generate(x25519_keypair& out);

/// The X25519 shared secret of `own` and the raw public key `peer` into `secret`; false (and
/// `secret` zeroed) when OpenSSL refuses, e.g. for a low-order peer key.
bool x25519_agree(EVP_PKEY* own, std::span<const std::uint8_t, 32> peer,
                  std::span<std::uint8_t, 32> secret);

} // namespace joconde::enclave::detail
