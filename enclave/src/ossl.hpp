#pragma once

// Private helpers shared by the enclave sources: digests, certificates and big-endian integers
// (the OpenSSL handles themselves are joconde/io/ossl.hpp). Not installed; nothing outside enclave/src includes it.

#include "joconde/enclave/platform.hpp"
#include "joconde/io/ossl.hpp"
#include "joconde/messages/text.hpp"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace joconde::enclave::detail {

// The owning handles, the error text and HKDF are the shared ones (joconde/io/ossl.hpp).
using ossl::cipher_ctx_ptr;
using ossl::md_ctx_ptr;
using ossl::pkey_ptr;
using ossl::x509_ptr;

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
