#pragma once

// Private helpers shared by the enclave sources: owning OpenSSL handles, digests and big-endian
// integers. Not installed; nothing outside enclave/src includes it.

#include "joconde/enclave/platform.hpp"
#include "joconde/messages/text.hpp"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace joconde::enclave::detail {

/// Calls the OpenSSL free function `F`.
template <auto F>
struct ossl_free {
  template <class T>
  void operator()(T* p) const noexcept {
    F(p);
  }
};

/// An owned EVP_PKEY.
using pkey_ptr = std::unique_ptr<EVP_PKEY, ossl_free<EVP_PKEY_free>>;

/// An owned X509 certificate.
using x509_ptr = std::unique_ptr<X509, ossl_free<X509_free>>;

/// An owned digest context.
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, ossl_free<EVP_MD_CTX_free>>;

/// An owned cipher context.
using cipher_ctx_ptr = std::unique_ptr<EVP_CIPHER_CTX, ossl_free<EVP_CIPHER_CTX_free>>;

/// The most recent OpenSSL error as text, for messages ("no details" when the queue is empty).
std::string openssl_error();

/// Appends `x` as `n` big-endian bytes.
void put_be(bytes& out, std::uint64_t x, unsigned n);

/// Reads `n` big-endian bytes at `p`.
std::uint64_t get_be(const std::uint8_t* p, unsigned n);

/// Lowercase hexadecimal of `data` (the shared text::hex).
using text::hex;

/// The DER encoding of `cert`; empty when OpenSSL cannot encode it.
bytes to_der(X509* cert);

/// Parses one DER certificate that fills `der` exactly; null otherwise.
x509_ptr from_der(std::span<const std::uint8_t> der);

/// SHA-256 of the certificate's SubjectPublicKeyInfo: the chip id of a simulated chip key.
bytes spki_sha256(X509* cert);

} // namespace joconde::enclave::detail
