#pragma once

// The cryptography of joconde, on OpenSSL 3.0: hashing, HMAC, HKDF, AES-256-GCM, EC P-256 keys
// (ECDSA with SHA-256, ECDH) and the X.509 PKI of the node tree (issuing certificates with name
// and path-length constraints, certificate requests, chain verification against a root).
//
// Every fallible function returns joconde::result; no exception leaves this module. Functions that
// can only fail when the process is out of memory or OpenSSL is broken (hashing, random bytes)
// return plain values and abort the process in that case. Nothing here logs or prints key material;
// error messages name what was wrong and what to do, never a key or a secret.
//
// Keys are EC P-256. Signatures are ECDSA with SHA-256 in DER form. Certificates are X.509 v3 signed
// with ECDSA-SHA256. Fingerprints are SHA-256 over DER as uppercase hex pairs joined by ':', the
// form `openssl x509 -fingerprint -sha256` prints.

#include "joconde/messages/errc.hpp"
#include "joconde/messages/result.hpp"
#include "joconde/messages/text.hpp"

#include <openssl/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// Declared in <openssl/x509.h>, which is more than this header needs.
typedef struct X509_req_st X509_REQ; // NOLINT(modernize-use-using): must match OpenSSL's typedef

namespace joconde::crypto {

// -- bytes --------------------------------------------------------------------------------------------

/// An owned byte string.
using bytes = std::vector<std::uint8_t>;

/// A read-only view of bytes.
using bytes_view = std::span<const std::uint8_t>;

/// The bytes of a string, unchanged.
bytes to_bytes(std::string_view str);

// Hex and base64 are the shared ones of messages/text.hpp (the engines and the enclave use them
// too), named here as well because the runtime's callers think of them as byte helpers.
using text::from_base64;
using text::from_hex;
using text::hex;
using text::to_base64;

/// The SHA-256 of `der` as uppercase hex pairs joined by ':' ("AB:CD:...").
std::string fingerprint(bytes_view der);

/// `n` bytes from the OpenSSL CSPRNG; aborts the process if the generator fails.
bytes random_bytes(std::size_t n);

/// Compares in constant time (for equal sizes); false if the sizes differ.
bool constant_time_equal(bytes_view a, bytes_view b);

/// A byte buffer for secrets, zeroised with OPENSSL_cleanse on destruction and when moved from.
class secure_bytes {
public:
  /// An empty buffer.
  secure_bytes() noexcept = default;

  /// A buffer of `n` zero bytes.
  explicit secure_bytes(std::size_t n);

  /// A buffer holding a copy of `data`.
  explicit secure_bytes(bytes_view data);

  /// Takes over the buffer of `other` and leaves `other` empty.
  secure_bytes(secure_bytes&& other) noexcept;

  /// Wipes this buffer, takes over the buffer of `other` and leaves `other` empty.
  secure_bytes& operator=(secure_bytes&& other) noexcept;

  /// Not copyable: copies of secrets are made explicitly with secure_bytes{other.view()}.
  secure_bytes(const secure_bytes&) = delete;
  secure_bytes& operator=(const secure_bytes&) = delete;

  /// Wipes the buffer.
  ~secure_bytes();

  /// The first byte (writable, e.g. as an output buffer of fixed size).
  std::uint8_t* data() noexcept { return data_; }

  /// The first byte.
  const std::uint8_t* data() const noexcept { return data_; }

  /// The number of bytes.
  std::size_t size() const noexcept { return size_; }

  /// True if the buffer holds no bytes.
  bool empty() const noexcept { return size_ == 0; }

  /// A view of the bytes.
  bytes_view view() const noexcept { return {data_, size_}; }

private:
  /// Zeroises and frees the buffer.
  void wipe() noexcept;

  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

// -- hashing, MAC, KDF, AEAD --------------------------------------------------------------------------

/// SHA-256 of `data` (32 bytes).
bytes sha256(bytes_view data);

/// Streaming SHA-256: update() any number of times, then finish(); reusable after finish().
class sha256_hasher {
public:
  /// Starts a new digest.
  sha256_hasher();

  /// Takes over the state of `other`.
  sha256_hasher(sha256_hasher&& other) noexcept;

  /// Takes over the state of `other`.
  sha256_hasher& operator=(sha256_hasher&& other) noexcept;

  /// Not copyable.
  sha256_hasher(const sha256_hasher&) = delete;
  sha256_hasher& operator=(const sha256_hasher&) = delete;

  /// Frees the digest state.
  ~sha256_hasher();

  /// Adds `data` to the digest.
  void update(bytes_view data);

  /// Returns the digest (32 bytes) of everything added and starts a new digest.
  bytes finish();

private:
  EVP_MD_CTX* ctx_ = nullptr;
};

/// HMAC-SHA256 of `msg` under `key` (32 bytes).
bytes hmac_sha256(bytes_view key, bytes_view msg);

/// HKDF-SHA256 (RFC 5869) of `ikm` with `salt` and `info`; `len` is 1 to 8160 bytes
/// (malformed_input otherwise).
result<secure_bytes> hkdf_sha256(bytes_view ikm, bytes_view salt, bytes_view info, std::size_t len);

/// AES-256-GCM encryption; returns ciphertext || 16-byte tag. The key is 32 bytes and the nonce
/// 12 bytes (malformed_input otherwise); never use a nonce twice under one key.
result<bytes> aes256gcm_seal(bytes_view key32, bytes_view nonce12, bytes_view aad,
                             bytes_view plaintext);

/// AES-256-GCM decryption of ciphertext || tag; bad_mac if the tag does not verify (ciphertext,
/// tag, aad, key or nonce altered), malformed_input for wrong key, nonce or input sizes.
result<bytes> aes256gcm_open(bytes_view key32, bytes_view nonce12, bytes_view aad,
                             bytes_view sealed);

// -- keys ---------------------------------------------------------------------------------------------

/// An EC public key; copies share the underlying EVP_PKEY (reference counted, immutable).
class public_key {
public:
  /// Parses a DER SubjectPublicKeyInfo holding an EC key; malformed_input otherwise.
  static result<public_key> from_der(bytes_view spki);

  /// Parses a PEM "PUBLIC KEY" holding an EC key; malformed_input otherwise.
  static result<public_key> from_pem(std::string_view pem);

  /// True if this is a key on the NIST P-256 curve.
  bool is_p256() const;

  /// Shares the key of `other`.
  public_key(const public_key& other) noexcept;

  /// Shares the key of `other`.
  public_key& operator=(const public_key& other) noexcept;

  /// Takes over the key of `other`, which may then only be assigned to or destroyed.
  public_key(public_key&& other) noexcept;

  /// Takes over the key of `other`, which may then only be assigned to or destroyed.
  public_key& operator=(public_key&& other) noexcept;

  /// Drops this reference to the key.
  ~public_key();

  /// The DER SubjectPublicKeyInfo.
  bytes to_der() const;

  /// The PEM "PUBLIC KEY".
  std::string to_pem() const;

  /// The SHA-256 fingerprint of the DER SubjectPublicKeyInfo.
  std::string fingerprint() const;

  /// Checks an ECDSA-SHA256 DER signature over `msg`; bad_signature on mismatch or malformed input.
  result<void> verify(bytes_view msg, bytes_view der_signature) const;

  /// True if both hold the same public key.
  bool operator==(const public_key& other) const;

  /// The OpenSSL key for interop; owned by this object, do not free.
  EVP_PKEY* native_handle() const noexcept { return pkey_; }

  /// Adopts `pkey` (takes over one reference); for code that builds keys with OpenSSL.
  explicit public_key(EVP_PKEY* pkey) noexcept;

private:
  EVP_PKEY* pkey_ = nullptr;
};

/// An EC P-256 private key; move-only, freed (and zeroised by OpenSSL) on destruction.
class private_key {
public:
  /// Generates a fresh P-256 key.
  static result<private_key> generate();

  /// Parses a PEM private key (PKCS#8, encrypted or not, or traditional EC); an unencrypted key
  /// needs an empty `passphrase`. bad_passphrase if the pass phrase is wrong or missing,
  /// malformed_input if the text holds no private key or not a P-256 key.
  static result<private_key> from_pem(std::string_view pem, std::string_view passphrase);

  /// Takes over the key of `other`, which may then only be assigned to or destroyed.
  private_key(private_key&& other) noexcept;

  /// Takes over the key of `other`, which may then only be assigned to or destroyed.
  private_key& operator=(private_key&& other) noexcept;

  /// Not copyable: a private key has one owner.
  private_key(const private_key&) = delete;
  private_key& operator=(const private_key&) = delete;

  /// Frees the key.
  ~private_key();

  /// The key as PEM "ENCRYPTED PRIVATE KEY" (PKCS#8, PBES2 with PBKDF2-HMAC-SHA256 and
  /// AES-256-CBC); invalid_config for an empty pass phrase.
  result<std::string> to_encrypted_pem(std::string_view passphrase) const;

  /// The public half of this key.
  crypto::public_key public_key() const;

  /// Signs `msg` with ECDSA-SHA256; returns the DER signature.
  result<bytes> sign(bytes_view msg) const;

  /// The P-256 ECDH shared secret with `peer` (32 bytes); malformed_input if `peer` is not a
  /// valid P-256 key.
  result<secure_bytes> ecdh(const crypto::public_key& peer) const;

  /// The OpenSSL key for interop (e.g. SSL_CTX_use_PrivateKey); owned by this object.
  EVP_PKEY* native_handle() const noexcept { return pkey_; }

private:
  explicit private_key(EVP_PKEY* pkey) noexcept;

  EVP_PKEY* pkey_ = nullptr;
};

// -- X.509 --------------------------------------------------------------------------------------------

/// The distinguished name fields joconde uses; empty fields are left out of the DN.
struct subject {
  /// CN: the node's label or the CA's name.
  std::string common_name;
  /// O.
  std::string organisation;
  /// OU.
  std::string department;
  /// emailAddress: a non-personal contact address.
  std::string email;
};

/// An X.509 certificate; copies share the underlying X509 (reference counted, immutable).
class certificate {
public:
  /// Parses exactly one PEM "CERTIFICATE"; malformed_input otherwise (use chain_from_pem for
  /// bundles).
  static result<certificate> from_pem(std::string_view pem);

  /// Parses every PEM "CERTIFICATE" of a bundle, in order; malformed_input if there is none, a
  /// block is not a certificate or one does not parse.
  static result<std::vector<certificate>> chain_from_pem(std::string_view pem);

  /// Parses one DER certificate (no trailing bytes); malformed_input otherwise.
  static result<certificate> from_der(bytes_view der);

  /// Shares the certificate of `other`.
  certificate(const certificate& other) noexcept;

  /// Shares the certificate of `other`.
  certificate& operator=(const certificate& other) noexcept;

  /// Takes over the certificate of `other`, which may then only be assigned to or destroyed.
  certificate(certificate&& other) noexcept;

  /// Takes over the certificate of `other`, which may then only be assigned to or destroyed.
  certificate& operator=(certificate&& other) noexcept;

  /// Drops this reference to the certificate.
  ~certificate();

  /// The PEM "CERTIFICATE".
  std::string to_pem() const;

  /// The DER encoding.
  bytes to_der() const;

  /// The CN, O, OU and emailAddress of the subject (first of each; empty if absent).
  crypto::subject subject() const;

  /// The DNS names of the subjectAltName extension, in order.
  std::vector<std::string> dns_names() const;

  /// The IP addresses of the subjectAltName extension, in order, as numeric texts.
  std::vector<std::string> ip_addresses() const;

  /// Start of validity.
  std::chrono::system_clock::time_point not_before() const;

  /// End of validity (clamped to the largest time_point for far-future dates).
  std::chrono::system_clock::time_point not_after() const;

  /// The serial number as lowercase hex (no separators).
  std::string serial_hex() const;

  /// True if basicConstraints says CA.
  bool is_ca() const;

  /// The basicConstraints path length, or -1 if there is none.
  int path_length() const;

  /// The SHA-256 fingerprint of the DER encoding.
  std::string fingerprint() const;

  /// The subject public key.
  crypto::public_key public_key() const;

  /// True if both have the same DER encoding.
  bool operator==(const certificate& other) const;

  /// The OpenSSL certificate for interop; owned by this object, do not free.
  X509* native_handle() const noexcept { return x509_; }

  /// Adopts `x509` (takes over one reference); for code that builds certificates with OpenSSL.
  explicit certificate(X509* x509) noexcept;

private:
  X509* x509_ = nullptr;
};

/// A PKCS#10 certificate signing request; move-only.
class certificate_request {
public:
  /// Makes a request for `key` with `subj` and the SAN DNS name `dns_name`, signed with
  /// ECDSA-SHA256; invalid_config for an empty common name or a malformed DNS name.
  static result<certificate_request> create(const private_key& key, const crypto::subject& subj,
                                            std::string dns_name);

  /// Parses a PEM "CERTIFICATE REQUEST" with an EC key; malformed_input otherwise. Does not check
  /// the signature (see verify_signature).
  static result<certificate_request> from_pem(std::string_view pem);

  /// Parses a DER request with an EC key (no trailing bytes); malformed_input otherwise.
  static result<certificate_request> from_der(bytes_view der);

  /// Takes over the request of `other`, which may then only be assigned to or destroyed.
  certificate_request(certificate_request&& other) noexcept;

  /// Takes over the request of `other`, which may then only be assigned to or destroyed.
  certificate_request& operator=(certificate_request&& other) noexcept;

  /// Not copyable.
  certificate_request(const certificate_request&) = delete;
  certificate_request& operator=(const certificate_request&) = delete;

  /// Frees the request.
  ~certificate_request();

  /// The PEM "CERTIFICATE REQUEST".
  std::string to_pem() const;

  /// The DER encoding.
  bytes to_der() const;

  /// The CN, O, OU and emailAddress of the requested subject.
  crypto::subject subject() const;

  /// The DNS names of the requested subjectAltName extension.
  std::vector<std::string> dns_names() const;

  /// The requester's public key.
  crypto::public_key public_key() const;

  /// Checks the self-signature (proof of possession of the key); bad_signature if it fails.
  result<void> verify_signature() const;

private:
  explicit certificate_request(X509_REQ* req) noexcept;

  X509_REQ* req_ = nullptr;
};

/// What issue() puts into a certificate besides subject, names and key.
struct issue_profile {
  /// CA flag of basicConstraints (keyUsage keyCertSign and cRLSign instead of keyAgreement).
  bool is_ca = true;
  /// basicConstraints pathLenConstraint; -1 for none; only for a CA.
  int path_length = -1;
  /// Permitted DNS subtrees of a critical nameConstraints extension; only for a CA; "a.b" permits
  /// a.b and names below it, ".a.b" only names below it.
  std::vector<std::string> permitted_dns;
  /// Validity period starting at not_before.
  std::chrono::seconds validity{365 * 24 * 3600};
  /// Start of validity (second precision).
  std::chrono::system_clock::time_point not_before = std::chrono::system_clock::now();
  /// subjectAltName iPAddress entries (IPv4 or IPv6 literals), after the DNS names: a TLS server
  /// reached by address (an HTTPS listener) names its addresses here.
  std::vector<std::string> ip_addresses;
};

/// Issues an X.509 v3 certificate for `subject_key` signed by `issuer_key` (ECDSA-SHA256) with a
/// random positive 128-bit serial. `issuer` is the issuer's certificate, or nullptr for a
/// self-signed certificate (then `subject_key` must be the public half of `issuer_key`).
/// Extensions: basicConstraints (critical), keyUsage (critical), extendedKeyUsage serverAuth and
/// clientAuth (not on self-signed certificates), subjectKeyIdentifier, authorityKeyIdentifier,
/// subjectAltName DNS and IP (if any names) and nameConstraints (critical, if permitted_dns is set).
/// invalid_config if `issuer_key` does not belong to `issuer` or the arguments are malformed;
/// constraint_violation if `issuer` is not a CA.
result<certificate> issue(const subject& subj, const std::vector<std::string>& dns_names,
                          const public_key& subject_key, const certificate* issuer,
                          const private_key& issuer_key, const issue_profile& profile);

/// Verifies `leaf` up to `root` (the only trust anchor) through `intermediates` at time `at`, in
/// OpenSSL's X.509 strict mode with name and path-length constraints. certificate_expired if a
/// certificate is expired or not yet valid; constraint_violation for name constraints, path
/// length or a non-CA issuer; untrusted_chain if the chain does not lead to `root`, a signature
/// fails or anything else is wrong. The message names the OpenSSL reason and the depth.
result<void> verify_chain(const certificate& leaf, const std::vector<certificate>& intermediates,
                          const certificate& root, std::chrono::system_clock::time_point at);

} // namespace joconde::crypto
