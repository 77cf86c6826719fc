#pragma once

// The OpenSSL layer shared by the runtime, the enclave and the rss3 channel: owning handles, the
// error text of OpenSSL's error queue and HKDF-SHA-256, written once.

#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/x509.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace joconde::ossl {

// -- owning handles ------------------------------------------------------------------------------

/// Frees an OpenSSL object with `F` (its *_free function).
template <auto F>
struct free_with {
  template <class T>
  void operator()(T* p) const noexcept {
    F(p);
  }
};

/// An owned BIO (freed with the chain behind it).
using bio_ptr = std::unique_ptr<BIO, free_with<BIO_free_all>>;

/// An owned key.
using pkey_ptr = std::unique_ptr<EVP_PKEY, free_with<EVP_PKEY_free>>;

/// An owned key context.
using pkey_ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, free_with<EVP_PKEY_CTX_free>>;

/// An owned digest context.
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, free_with<EVP_MD_CTX_free>>;

/// An owned cipher context (freeing it zeroises its key).
using cipher_ctx_ptr = std::unique_ptr<EVP_CIPHER_CTX, free_with<EVP_CIPHER_CTX_free>>;

/// An owned X.509 certificate.
using x509_ptr = std::unique_ptr<X509, free_with<X509_free>>;

/// An owned KDF implementation.
using kdf_ptr = std::unique_ptr<EVP_KDF, free_with<EVP_KDF_free>>;

/// An owned KDF context.
using kdf_ctx_ptr = std::unique_ptr<EVP_KDF_CTX, free_with<EVP_KDF_CTX_free>>;

// -- errors --------------------------------------------------------------------------------------

/// The last error on this thread's OpenSSL error queue as text, for messages; the queue is cleared.
/// "no OpenSSL error recorded" when it is empty.
std::string error_text();

// -- derivations ---------------------------------------------------------------------------------

/// HKDF-SHA-256 (RFC 5869, extract and expand) of `key` with `salt` and `info` into `out`; false
/// (and `out` zeroed) when OpenSSL fails. An empty salt is the RFC's default salt.
bool hkdf_sha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> salt,
                 std::span<const std::uint8_t> info, std::span<std::uint8_t> out);

} // namespace joconde::ossl
