#include "key_agreement.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>

namespace joconde::enclave::detail {

namespace {

using kdf_ptr = std::unique_ptr<EVP_KDF, ossl_free<EVP_KDF_free>>;
using kdf_ctx_ptr = std::unique_ptr<EVP_KDF_CTX, ossl_free<EVP_KDF_CTX_free>>;
using pkey_ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, ossl_free<EVP_PKEY_CTX_free>>;

} // namespace

bool x25519_generate(x25519_keypair& out) {
  out.key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"));
  if (!out.key)
    return false;
  auto len = out.public_key.size();
  return EVP_PKEY_get_raw_public_key(out.key.get(), out.public_key.data(), &len) == 1
         && len == out.public_key.size();
}

bool x25519_agree(EVP_PKEY* own, std::span<const std::uint8_t, 32> peer,
                  std::span<std::uint8_t, 32> secret) {
  pkey_ptr peer_key{EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer.data(), peer.size())};
  auto len = secret.size();
  pkey_ctx_ptr ctx{peer_key ? EVP_PKEY_CTX_new_from_pkey(nullptr, own, nullptr) : nullptr};
  bool derived = ctx && EVP_PKEY_derive_init(ctx.get()) == 1
                 && EVP_PKEY_derive_set_peer(ctx.get(), peer_key.get()) == 1
                 && EVP_PKEY_derive(ctx.get(), secret.data(), &len) == 1 && len == secret.size();
  if (!derived)
    OPENSSL_cleanse(secret.data(), secret.size());
  return derived;
}

bool hkdf_sha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> salt,
                 std::span<const std::uint8_t> info, std::span<std::uint8_t> out) {
  kdf_ptr kdf{EVP_KDF_fetch(nullptr, "HKDF", nullptr)};
  kdf_ctx_ptr ctx{kdf ? EVP_KDF_CTX_new(kdf.get()) : nullptr};
  char digest[] = "SHA256";
  // OSSL_PARAM wants non-const pointers; HKDF only reads these buffers.
  auto param = [](const char* name, std::span<const std::uint8_t> x) {
    return OSSL_PARAM_construct_octet_string(name, const_cast<std::uint8_t*>(x.data()), x.size());
  };
  OSSL_PARAM params[] = {
    OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
    param(OSSL_KDF_PARAM_KEY, key),
    param(OSSL_KDF_PARAM_SALT, salt),
    param(OSSL_KDF_PARAM_INFO, info),
    OSSL_PARAM_construct_end(),
  };
  bool ok = ctx && EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) == 1;
  if (!ok)
    OPENSSL_cleanse(out.data(), out.size());
  return ok;
}

} // namespace joconde::enclave::detail
