#include "joconde/enclave/sealing.hpp"

#include "ossl.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>

namespace joconde::enclave {

namespace {

constexpr std::size_t nonce_size = 12;
constexpr std::size_t tag_size = 16;
constexpr std::string_view seal_domain = "joconde/seal/v1";

static_assert(nonce_size + tag_size == seal_overhead);

error erased_key() {
  return fail(errc::invalid_state,
              "the sealing key has been erased, so sealed data is gone for good; start a new "
              "Computing Task VM to get a new key");
}

error gcm_failure(const char* what) {
  return fail(errc::crypto_failure, std::string{"AES-256-GCM could not "} + what + " ("
                                      + ossl::error_text()
                                      + "); check the OpenSSL installation");
}

/// Feeds the sealing domain and `ad` to `ctx` as GCM associated data.
bool add_associated_data(EVP_CIPHER_CTX* ctx, bool encrypt, std::span<const std::uint8_t> ad) {
  auto update = encrypt ? EVP_EncryptUpdate : EVP_DecryptUpdate;
  int len = 0;
  return update(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(seal_domain.data()),
                static_cast<int>(seal_domain.size()))
           == 1
         && (ad.empty() || update(ctx, nullptr, &len, ad.data(), static_cast<int>(ad.size())) == 1);
}

bool too_big(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  return a.size() > INT_MAX / 2 || b.size() > INT_MAX / 2;
}

} // namespace

result<sealing_key> sealing_key::generate() {
  sealing_key k;
  if (RAND_priv_bytes(k.key_.data(), static_cast<int>(k.key_.size())) != 1)
    return fail(errc::crypto_failure, "the random generator could not make a sealing key ("
                                        + ossl::error_text() + "); check the OpenSSL installation");
  return k;
}

sealing_key::sealing_key(sealing_key&& other) noexcept : key_(other.key_) {
  other.erase();
}

sealing_key& sealing_key::operator=(sealing_key&& other) noexcept {
  if (this != &other) {
    key_ = other.key_;
    other.erase();
  }
  return *this;
}

sealing_key::~sealing_key() {
  erase();
}

void sealing_key::erase() noexcept {
  OPENSSL_cleanse(key_.data(), key_.size());
}

bool sealing_key::erased() const noexcept {
  return std::ranges::all_of(key_, [](std::uint8_t b) { return b == 0; });
}

result<bytes> sealing_key::seal(std::span<const std::uint8_t> plaintext,
                                std::span<const std::uint8_t> associated_data) const {
  if (erased())
    return erased_key();
  if (too_big(plaintext, associated_data))
    return fail(errc::too_large, "cannot seal more than 1 GiB at once; split the data");
  bytes out(nonce_size + plaintext.size() + tag_size);
  if (RAND_bytes(out.data(), nonce_size) != 1)
    return gcm_failure("get a random nonce");
  detail::cipher_ctx_ptr ctx{EVP_CIPHER_CTX_new()};
  int len = 0;
  int tail = 0;
  if (!ctx
      || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), out.data()) != 1
      || !add_associated_data(ctx.get(), true, associated_data)
      || EVP_EncryptUpdate(ctx.get(), out.data() + nonce_size, &len, plaintext.data(),
                           static_cast<int>(plaintext.size()))
           != 1
      || EVP_EncryptFinal_ex(ctx.get(), out.data() + nonce_size + len, &tail) != 1
      || EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, tag_size,
                             out.data() + nonce_size + plaintext.size())
           != 1)
    return gcm_failure("seal");
  return out;
}

result<bytes> sealing_key::unseal(std::span<const std::uint8_t> sealed,
                                  std::span<const std::uint8_t> associated_data) const {
  if (erased())
    return erased_key();
  if (sealed.size() < seal_overhead)
    return fail(errc::malformed_input,
                "sealed data of " + std::to_string(sealed.size()) + " bytes is shorter than the "
                  + std::to_string(seal_overhead)
                  + " bytes of nonce and tag: it was truncated; restore it from where it came");
  if (too_big(sealed, associated_data))
    return fail(errc::too_large, "cannot unseal more than 1 GiB at once");
  auto body = sealed.subspan(nonce_size, sealed.size() - seal_overhead);
  bytes tag(sealed.end() - tag_size, sealed.end());
  bytes out(body.size());
  detail::cipher_ctx_ptr ctx{EVP_CIPHER_CTX_new()};
  int len = 0;
  int tail = 0;
  if (!ctx
      || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), sealed.data()) != 1
      || !add_associated_data(ctx.get(), false, associated_data)
      || EVP_DecryptUpdate(ctx.get(), out.data(), &len, body.data(), static_cast<int>(body.size()))
           != 1
      || EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, tag_size, tag.data()) != 1)
    return gcm_failure("unseal");
  // The GCM API compares the tag in constant time.
  if (EVP_DecryptFinal_ex(ctx.get(), out.data() + len, &tail) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    ERR_clear_error();
    return fail(errc::bad_mac,
                "the sealed data does not authenticate: it was altered, belongs to another slot "
                "(associated data differs) or was sealed under another key; it cannot be recovered");
  }
  return out;
}

} // namespace joconde::enclave
