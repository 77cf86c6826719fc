#include "key_agreement.hpp"

#include <openssl/crypto.h>

namespace joconde::enclave::detail {

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
  ossl::pkey_ctx_ptr ctx{peer_key ? EVP_PKEY_CTX_new_from_pkey(nullptr, own, nullptr) : nullptr};
  bool derived = ctx && EVP_PKEY_derive_init(ctx.get()) == 1
                 && EVP_PKEY_derive_set_peer(ctx.get(), peer_key.get()) == 1
                 && EVP_PKEY_derive(ctx.get(), secret.data(), &len) == 1 && len == secret.size();
  if (!derived)
    OPENSSL_cleanse(secret.data(), secret.size());
  return derived;
}

} // namespace joconde::enclave::detail
