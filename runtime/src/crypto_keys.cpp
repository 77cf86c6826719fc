// EC P-256 keys: public_key and private_key (see crypto.hpp).

#include "joconde/runtime/crypto.hpp"

#include "crypto_detail.hpp"

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include <climits>
#include <cstring>

namespace joconde::crypto {

using namespace detail;

namespace {

/// PBKDF2 iterations for exported keys.
constexpr int pbkdf2_iterations = 100'000;

/// True if `pkey` is an EC key on P-256.
bool is_p256_key(EVP_PKEY* pkey) {
  if (pkey == nullptr || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC)
    return false;
  char name[64] = {};
  std::size_t len = 0;
  if (EVP_PKEY_get_group_name(pkey, name, sizeof(name), &len) != 1)
    return false;
  return std::string_view{name, len} == SN_X9_62_prime256v1;
}

/// True if `pkey` is an EC key with a named curve.
bool is_named_ec(EVP_PKEY* pkey) {
  if (pkey == nullptr || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC)
    return false;
  char name[64] = {};
  std::size_t len = 0;
  return EVP_PKEY_get_group_name(pkey, name, sizeof(name), &len) == 1 && len > 0;
}

/// The passphrase handed to OpenSSL's PEM callback, and whether OpenSSL asked for it.
struct passphrase_request {
  std::string_view passphrase;
  bool asked = false;
};

/// Hands the pass phrase to OpenSSL and notes that the key is encrypted.
int passphrase_callback(char* buf, int size, int, void* user) {
  auto* req = static_cast<passphrase_request*>(user);
  req->asked = true;
  if (req->passphrase.empty() || req->passphrase.size() > static_cast<std::size_t>(size))
    return -1;
  std::memcpy(buf, req->passphrase.data(), req->passphrase.size());
  return static_cast<int>(req->passphrase.size());
}

} // namespace

// -- public_key ---------------------------------------------------------------------------------------

public_key::public_key(EVP_PKEY* pkey) noexcept : pkey_(pkey) {
  // nop
}

public_key::public_key(const public_key& other) noexcept : pkey_(other.pkey_) {
  if (pkey_ != nullptr)
    EVP_PKEY_up_ref(pkey_);
}

public_key& public_key::operator=(const public_key& other) noexcept {
  if (this != &other) {
    if (other.pkey_ != nullptr)
      EVP_PKEY_up_ref(other.pkey_);
    EVP_PKEY_free(pkey_);
    pkey_ = other.pkey_;
  }
  return *this;
}

public_key::public_key(public_key&& other) noexcept : pkey_(other.pkey_) {
  other.pkey_ = nullptr;
}

public_key& public_key::operator=(public_key&& other) noexcept {
  if (this != &other) {
    EVP_PKEY_free(pkey_);
    pkey_ = other.pkey_;
    other.pkey_ = nullptr;
  }
  return *this;
}

public_key::~public_key() {
  EVP_PKEY_free(pkey_);
}

bool public_key::is_p256() const {
  return is_p256_key(pkey_);
}

result<public_key> public_key::from_der(bytes_view spki) {
  if (spki.empty() || spki.size() > LONG_MAX)
    return fail(errc::malformed_input, "empty or oversized public key; expected a DER "
                                       "SubjectPublicKeyInfo");
  const unsigned char* p = spki.data();
  pkey_ptr pkey{d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size()))};
  if (!pkey) {
    auto reason = ossl::error_text();
    return fail(errc::malformed_input, "not a DER SubjectPublicKeyInfo (" + reason + ")");
  }
  if (p != spki.data() + spki.size())
    return fail(errc::malformed_input, "trailing bytes after the DER public key");
  if (!is_named_ec(pkey.get()))
    return fail(errc::malformed_input, "the public key is not an EC key on a named curve; joconde "
                                       "uses P-256 keys");
  return public_key{pkey.release()};
}

result<public_key> public_key::from_pem(std::string_view pem) {
  auto bio = read_bio(pem);
  if (!bio)
    return fail(errc::malformed_input, "public key PEM is too large");
  pkey_ptr pkey{PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr)};
  if (!pkey) {
    auto reason = ossl::error_text();
    return fail(errc::malformed_input, "no PEM \"PUBLIC KEY\" found (" + reason + ")");
  }
  ERR_clear_error(); // the PEM decoders may leave notes from the formats they tried
  if (!is_named_ec(pkey.get()))
    return fail(errc::malformed_input, "the public key is not an EC key on a named curve; joconde "
                                       "uses P-256 keys");
  return public_key{pkey.release()};
}

bytes public_key::to_der() const {
  if (pkey_ == nullptr)
    return {};
  unsigned char* buf = nullptr;
  auto len = i2d_PUBKEY(pkey_, &buf);
  if (len <= 0)
    die("i2d_PUBKEY");
  bytes out{buf, buf + len};
  OPENSSL_free(buf);
  return out;
}

std::string public_key::to_pem() const {
  if (pkey_ == nullptr)
    return {};
  bio_ptr bio{BIO_new(BIO_s_mem())};
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey_) != 1)
    die("PEM_write_bio_PUBKEY");
  return bio_string(bio.get());
}

std::string public_key::fingerprint() const {
  return crypto::fingerprint(to_der());
}

result<void> public_key::verify(bytes_view msg, bytes_view der_signature) const {
  if (pkey_ == nullptr)
    return fail(errc::invalid_state, "verify with a moved-from public key");
  if (der_signature.empty())
    return fail(errc::bad_signature, "the signature is empty");
  md_ctx_ptr ctx{EVP_MD_CTX_new()};
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey_) != 1)
    return openssl_failure("ECDSA verification setup");
  auto rc = EVP_DigestVerify(ctx.get(), der_signature.data(), der_signature.size(),
                             ptr_or_dummy(msg), msg.size());
  ERR_clear_error();
  if (rc != 1)
    return fail(errc::bad_signature, "the ECDSA-SHA256 signature does not verify under this key "
                                     "(wrong key, altered message or malformed signature)");
  return joconde::ok();
}

bool public_key::operator==(const public_key& other) const {
  if (pkey_ == nullptr || other.pkey_ == nullptr)
    return pkey_ == other.pkey_;
  auto rc = EVP_PKEY_eq(pkey_, other.pkey_);
  ERR_clear_error();
  return rc == 1;
}

// -- private_key --------------------------------------------------------------------------------------

private_key::private_key(EVP_PKEY* pkey) noexcept : pkey_(pkey) {
  // nop
}

private_key::private_key(private_key&& other) noexcept : pkey_(other.pkey_) {
  other.pkey_ = nullptr;
}

private_key& private_key::operator=(private_key&& other) noexcept {
  if (this != &other) {
    EVP_PKEY_free(pkey_);
    pkey_ = other.pkey_;
    other.pkey_ = nullptr;
  }
  return *this;
}

private_key::~private_key() {
  EVP_PKEY_free(pkey_);
}

result<private_key> private_key::generate() {
  pkey_ctx_ptr ctx{EVP_PKEY_CTX_new_id(EVP_PKEY_EC, nullptr)};
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1
      || EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx.get(), NID_X9_62_prime256v1) != 1
      || EVP_PKEY_CTX_set_ec_param_enc(ctx.get(), OPENSSL_EC_NAMED_CURVE) != 1)
    return openssl_failure("P-256 key generation setup");
  EVP_PKEY* pkey = nullptr;
  if (EVP_PKEY_keygen(ctx.get(), &pkey) != 1)
    return openssl_failure("P-256 key generation");
  return private_key{pkey};
}

result<private_key> private_key::from_pem(std::string_view pem, std::string_view passphrase) {
  auto bio = read_bio(pem);
  if (!bio)
    return fail(errc::malformed_input, "private key PEM is too large");
  passphrase_request req{passphrase};
  pkey_ptr pkey{PEM_read_bio_PrivateKey(bio.get(), nullptr, passphrase_callback, &req)};
  if (!pkey) {
    auto reason = ossl::error_text();
    if (req.asked && passphrase.empty())
      return fail(errc::bad_passphrase, "the private key is encrypted; give its pass phrase");
    if (req.asked)
      return fail(errc::bad_passphrase, "the pass phrase does not decrypt the private key; check "
                                        "the pass phrase file");
    return fail(errc::malformed_input, "no PEM private key found (" + reason + ")");
  }
  ERR_clear_error(); // the PEM decoders may leave notes from the formats they tried
  if (!is_p256_key(pkey.get()))
    return fail(errc::malformed_input, "the private key is not an EC P-256 key; joconde uses "
                                       "P-256 keys only");
  return private_key{pkey.release()};
}

result<std::string> private_key::to_encrypted_pem(std::string_view passphrase) const {
  if (pkey_ == nullptr)
    return fail(errc::invalid_state, "export of a moved-from private key");
  if (passphrase.empty())
    return fail(errc::invalid_config, "refusing to write a private key without a pass phrase; "
                                      "give a non-empty pass phrase");
  if (passphrase.size() > INT_MAX)
    return fail(errc::invalid_config, "the pass phrase is too long");
  auto* p8inf = EVP_PKEY2PKCS8(pkey_);
  if (p8inf == nullptr)
    return openssl_failure("converting the private key to PKCS#8");
  auto* p8 = PKCS8_encrypt(-1, EVP_aes_256_cbc(), passphrase.data(),
                           static_cast<int>(passphrase.size()), nullptr, 0, pbkdf2_iterations,
                           p8inf);
  PKCS8_PRIV_KEY_INFO_free(p8inf); // cleanses the key bytes
  if (p8 == nullptr)
    return openssl_failure("encrypting the private key");
  bio_ptr bio{BIO_new(BIO_s_mem())};
  auto ok = bio && PEM_write_bio_PKCS8(bio.get(), p8) == 1;
  X509_SIG_free(p8);
  if (!ok)
    return openssl_failure("writing the encrypted private key");
  return bio_string(bio.get());
}

crypto::public_key private_key::public_key() const {
  if (pkey_ == nullptr)
    return crypto::public_key{nullptr};
  // Round-trip through SubjectPublicKeyInfo so the public key object holds no private part.
  unsigned char* buf = nullptr;
  auto len = i2d_PUBKEY(pkey_, &buf);
  if (len <= 0)
    die("i2d_PUBKEY");
  const unsigned char* p = buf;
  auto* pub = d2i_PUBKEY(nullptr, &p, len);
  OPENSSL_free(buf);
  if (pub == nullptr)
    die("d2i_PUBKEY");
  return crypto::public_key{pub};
}

result<bytes> private_key::sign(bytes_view msg) const {
  if (pkey_ == nullptr)
    return fail(errc::invalid_state, "signing with a moved-from private key");
  md_ctx_ptr ctx{EVP_MD_CTX_new()};
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey_) != 1)
    return openssl_failure("ECDSA signing setup");
  std::size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, ptr_or_dummy(msg), msg.size()) != 1)
    return openssl_failure("ECDSA signing");
  bytes sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, ptr_or_dummy(msg), msg.size()) != 1)
    return openssl_failure("ECDSA signing");
  sig.resize(len);
  return sig;
}

result<secure_bytes> private_key::ecdh(const crypto::public_key& peer) const {
  if (pkey_ == nullptr)
    return fail(errc::invalid_state, "ECDH with a moved-from private key");
  if (!is_p256_key(peer.native_handle()))
    return fail(errc::malformed_input, "the peer key for ECDH is not a P-256 key");
  pkey_ctx_ptr ctx{EVP_PKEY_CTX_new(pkey_, nullptr)};
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1)
    return openssl_failure("ECDH setup");
  if (EVP_PKEY_derive_set_peer(ctx.get(), peer.native_handle()) != 1) {
    auto reason = ossl::error_text();
    return fail(errc::malformed_input, "the peer key for ECDH is not valid (" + reason + ")");
  }
  std::size_t len = 0;
  if (EVP_PKEY_derive(ctx.get(), nullptr, &len) != 1 || len == 0)
    return openssl_failure("ECDH");
  secure_bytes out{len};
  if (EVP_PKEY_derive(ctx.get(), out.data(), &len) != 1 || len != out.size())
    return openssl_failure("ECDH");
  return out;
}

} // namespace joconde::crypto
