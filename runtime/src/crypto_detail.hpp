#pragma once

// Internals shared by the crypto*.cpp files (not installed, not part of the API): owning pointers
// for OpenSSL objects, error text, BIO helpers and the X.509 name helpers.

#include "joconde/io/ossl.hpp"
#include "joconde/runtime/crypto.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace joconde::crypto::detail {

// -- owning pointers ----------------------------------------------------------------------------------

// The common handles are the shared ones (joconde/io/ossl.hpp); the X.509 ones only this library
// needs are below.
using ossl::bio_ptr;
using ossl::cipher_ctx_ptr;
using ossl::free_with;
using ossl::md_ctx_ptr;
using ossl::pkey_ctx_ptr;
using ossl::pkey_ptr;
using ossl::x509_ptr;

/// Frees OpenSSL-allocated bytes.
struct openssl_free {
  void operator()(unsigned char* p) const noexcept;
};

/// Frees a stack of ASN1_OBJECT (extendedKeyUsage) with its elements.
struct eku_deleter {
  void operator()(EXTENDED_KEY_USAGE* p) const noexcept;
};

/// Frees a stack of X509_EXTENSION with its elements.
struct exts_deleter {
  void operator()(STACK_OF(X509_EXTENSION) * p) const noexcept;
};

/// Frees a stack of X509 without its elements (they are borrowed).
struct x509_stack_deleter {
  void operator()(STACK_OF(X509) * p) const noexcept;
};

using req_ptr = std::unique_ptr<X509_REQ, free_with<X509_REQ_free>>;
using name_ptr = std::unique_ptr<X509_NAME, free_with<X509_NAME_free>>;
using store_ptr = std::unique_ptr<X509_STORE, free_with<X509_STORE_free>>;
using store_ctx_ptr = std::unique_ptr<X509_STORE_CTX, free_with<X509_STORE_CTX_free>>;
using gens_ptr = std::unique_ptr<GENERAL_NAMES, free_with<GENERAL_NAMES_free>>;
using bn_ptr = std::unique_ptr<BIGNUM, free_with<BN_free>>;
using asn1_int_ptr = std::unique_ptr<ASN1_INTEGER, free_with<ASN1_INTEGER_free>>;
using bits_ptr = std::unique_ptr<ASN1_BIT_STRING, free_with<ASN1_BIT_STRING_free>>;
using bc_ptr = std::unique_ptr<BASIC_CONSTRAINTS, free_with<BASIC_CONSTRAINTS_free>>;
using akid_ptr = std::unique_ptr<AUTHORITY_KEYID, free_with<AUTHORITY_KEYID_free>>;
using octets_ptr = std::unique_ptr<ASN1_OCTET_STRING, free_with<ASN1_OCTET_STRING_free>>;
using nc_ptr = std::unique_ptr<NAME_CONSTRAINTS, free_with<NAME_CONSTRAINTS_free>>;
using eku_ptr = std::unique_ptr<EXTENDED_KEY_USAGE, eku_deleter>;
using exts_ptr = std::unique_ptr<STACK_OF(X509_EXTENSION), exts_deleter>;
using x509_stack_ptr = std::unique_ptr<STACK_OF(X509), x509_stack_deleter>;

// -- errors and buffers (crypto.cpp) ------------------------------------------------------------------

/// Ends the process when OpenSSL fails where it cannot fail short of memory exhaustion.
[[noreturn]] void die(const char* what);

/// An OpenSSL failure as a crypto_failure error ("<what> failed (<reason>)").
error openssl_failure(const std::string& what);

/// A read-only memory BIO over `str` (no copy); null if `str` is over 2 GiB.
bio_ptr read_bio(std::string_view str);

/// The contents of a memory BIO.
std::string bio_string(BIO* bio);

/// A non-null pointer for OpenSSL calls that reject nullptr even with length 0.
const unsigned char* ptr_or_dummy(bytes_view data);

// -- X.509 helpers (crypto_x509.cpp) ------------------------------------------------------------------

/// True if `name` is a DNS name of letters, digits and hyphens in dot-separated labels of 1 to 63
/// characters, at most 253 characters; with `leading_dot`, a leading '.' is allowed (".a.b").
bool valid_dns_name(std::string_view name, bool leading_dot);

/// Builds a DN from the non-empty fields of `subj`; invalid_config if a field cannot be encoded.
result<name_ptr> make_name(const subject& subj);

/// The first entry `nid` of `name` as UTF-8, or "".
std::string name_entry(const X509_NAME* name, int nid);

/// A GEN_DNS general name (caller owns it).
GENERAL_NAME* make_dns(const std::string& name);

/// A GEN_IPADD general name of an IPv4 or IPv6 literal checked before (caller owns it).
GENERAL_NAME* make_ip(const std::string& address);

/// The DNS entries of `gens` (may be null), in order.
std::vector<std::string> dns_entries(const GENERAL_NAMES* gens);

/// The IP address entries of `gens` (may be null), in order, as numeric texts.
std::vector<std::string> ip_entries(const GENERAL_NAMES* gens);

/// Seconds since the epoch of `tp`, rounded down.
std::time_t to_time_t(std::chrono::system_clock::time_point tp);

} // namespace joconde::crypto::detail
