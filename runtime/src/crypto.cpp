// Bytes, hashing, MAC, KDF and AEAD (see crypto.hpp); keys are in crypto_keys.cpp, X.509 in
// crypto_x509.cpp and crypto_issue.cpp.

#include "joconde/runtime/crypto.hpp"

#include "crypto_detail.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace joconde::crypto {

namespace detail {

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "joconde crypto: fatal: %s failed\n", what);
  std::abort();
}

error openssl_failure(const std::string& what) {
  return fail(errc::crypto_failure, what + " failed (" + ossl::error_text() + ")");
}

bio_ptr read_bio(std::string_view str) {
  if (str.size() > INT_MAX)
    return nullptr;
  return bio_ptr{BIO_new_mem_buf(str.data(), static_cast<int>(str.size()))};
}

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  auto len = BIO_get_mem_data(bio, &data);
  if (len <= 0 || data == nullptr)
    return {};
  return std::string{data, static_cast<std::size_t>(len)};
}

const unsigned char* ptr_or_dummy(bytes_view data) {
  static const unsigned char dummy = 0;
  return data.empty() ? &dummy : data.data();
}

} // namespace detail

using namespace detail;

namespace {

constexpr std::size_t gcm_key_size = 32;
constexpr std::size_t gcm_nonce_size = 12;
constexpr std::size_t gcm_tag_size = 16;
constexpr std::size_t hkdf_max_size = 255 * 32;

} // namespace

// -- bytes --------------------------------------------------------------------------------------------

bytes to_bytes(std::string_view str) {
  return bytes{str.begin(), str.end()};
}

std::string fingerprint(bytes_view der) {
  return hex(sha256(der), text::hex_style::upper_colons);
}

bytes random_bytes(std::size_t n) {
  bytes out(n);
  std::size_t done = 0;
  while (done < n) {
    auto chunk = static_cast<int>(std::min<std::size_t>(n - done, INT_MAX));
    if (RAND_bytes(out.data() + done, chunk) != 1)
      die("RAND_bytes");
    done += static_cast<std::size_t>(chunk);
  }
  return out;
}

bool constant_time_equal(bytes_view a, bytes_view b) {
  if (a.size() != b.size())
    return false;
  if (a.empty())
    return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// -- secure_bytes -------------------------------------------------------------------------------------

secure_bytes::secure_bytes(std::size_t n) {
  if (n == 0)
    return;
  data_ = new std::uint8_t[n]();
  size_ = n;
}

secure_bytes::secure_bytes(bytes_view data) : secure_bytes(data.size()) {
  if (!data.empty())
    std::memcpy(data_, data.data(), data.size());
}

secure_bytes::secure_bytes(secure_bytes&& other) noexcept : data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

secure_bytes& secure_bytes::operator=(secure_bytes&& other) noexcept {
  if (this != &other) {
    wipe();
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

secure_bytes::~secure_bytes() {
  wipe();
}

void secure_bytes::wipe() noexcept {
  if (data_ != nullptr) {
    OPENSSL_cleanse(data_, size_);
    delete[] data_;
  }
  data_ = nullptr;
  size_ = 0;
}

// -- hashing, MAC, KDF, AEAD --------------------------------------------------------------------------

bytes sha256(bytes_view data) {
  bytes out(32);
  unsigned int len = 0;
  if (EVP_Digest(ptr_or_dummy(data), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1
      || len != out.size())
    die("EVP_Digest(SHA-256)");
  return out;
}

sha256_hasher::sha256_hasher() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1)
    die("EVP_DigestInit_ex(SHA-256)");
}

sha256_hasher::sha256_hasher(sha256_hasher&& other) noexcept : ctx_(other.ctx_) {
  other.ctx_ = nullptr;
}

sha256_hasher& sha256_hasher::operator=(sha256_hasher&& other) noexcept {
  if (this != &other) {
    EVP_MD_CTX_free(ctx_);
    ctx_ = other.ctx_;
    other.ctx_ = nullptr;
  }
  return *this;
}

sha256_hasher::~sha256_hasher() {
  EVP_MD_CTX_free(ctx_);
}

void sha256_hasher::update(bytes_view data) {
  if (ctx_ == nullptr)
    die("sha256_hasher::update on a moved-from hasher");
  if (!data.empty() && EVP_DigestUpdate(ctx_, data.data(), data.size()) != 1)
    die("EVP_DigestUpdate");
}

bytes sha256_hasher::finish() {
  if (ctx_ == nullptr)
    die("sha256_hasher::finish on a moved-from hasher");
  bytes out(32);
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_, out.data(), &len) != 1 || len != out.size()
      || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1)
    die("EVP_DigestFinal_ex(SHA-256)");
  return out;
}

bytes hmac_sha256(bytes_view key, bytes_view msg) {
  bytes out(32);
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), ptr_or_dummy(key), static_cast<int>(key.size()), ptr_or_dummy(msg),
           msg.size(), out.data(), &len)
        == nullptr
      || len != out.size())
    die("HMAC(SHA-256)");
  return out;
}

result<secure_bytes> hkdf_sha256(bytes_view ikm, bytes_view salt, bytes_view info,
                                 std::size_t len) {
  if (len == 0 || len > hkdf_max_size)
    return fail(errc::malformed_input, "HKDF-SHA256 output length " + std::to_string(len)
                                         + " is out of range; ask for 1 to 8160 bytes");
  secure_bytes out{len};
  if (!ossl::hkdf_sha256(ikm, salt, info, std::span{out.data(), out.size()}))
    return openssl_failure("HKDF-SHA256 derivation");
  return out;
}

namespace {

/// AES-256-GCM takes a 32-byte key and (here) a 12-byte nonce, nothing else.
result<void> check_gcm_key_and_nonce(bytes_view key32, bytes_view nonce12) {
  if (key32.size() != gcm_key_size)
    return fail(errc::malformed_input, "AES-256-GCM key is " + std::to_string(key32.size())
                                         + " bytes; it must be 32");
  if (nonce12.size() != gcm_nonce_size)
    return fail(errc::malformed_input, "AES-256-GCM nonce is " + std::to_string(nonce12.size())
                                         + " bytes; it must be 12");
  return ok();
}

} // namespace

result<bytes> aes256gcm_seal(bytes_view key32, bytes_view nonce12, bytes_view aad,
                             bytes_view plaintext) {
  if (auto ok = check_gcm_key_and_nonce(key32, nonce12); !ok)
    return ok.err();
  if (plaintext.size() > INT_MAX - gcm_tag_size || aad.size() > INT_MAX)
    return fail(errc::too_large, "AES-256-GCM input over 2 GiB; split it into smaller messages");
  cipher_ctx_ptr ctx{EVP_CIPHER_CTX_new()};
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key32.data(), nonce12.data())
                != 1)
    return openssl_failure("AES-256-GCM initialisation");
  int len = 0;
  if (!aad.empty()
      && EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1)
    return openssl_failure("AES-256-GCM (aad)");
  bytes out(plaintext.size() + gcm_tag_size);
  int total = 0;
  if (!plaintext.empty()) {
    if (EVP_EncryptUpdate(ctx.get(), out.data(), &len, plaintext.data(),
                          static_cast<int>(plaintext.size()))
        != 1)
      return openssl_failure("AES-256-GCM encryption");
    total = len;
  }
  if (EVP_EncryptFinal_ex(ctx.get(), out.data() + total, &len) != 1)
    return openssl_failure("AES-256-GCM encryption");
  total += len;
  if (static_cast<std::size_t>(total) != plaintext.size()
      || EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(gcm_tag_size),
                             out.data() + total)
           != 1)
    return openssl_failure("AES-256-GCM tag");
  return out;
}

result<bytes> aes256gcm_open(bytes_view key32, bytes_view nonce12, bytes_view aad,
                             bytes_view sealed) {
  if (auto ok = check_gcm_key_and_nonce(key32, nonce12); !ok)
    return ok.err();
  if (sealed.size() < gcm_tag_size)
    return fail(errc::malformed_input, "AES-256-GCM input is " + std::to_string(sealed.size())
                                         + " bytes, shorter than the 16-byte tag");
  if (sealed.size() > INT_MAX || aad.size() > INT_MAX)
    return fail(errc::too_large, "AES-256-GCM input over 2 GiB; split it into smaller messages");
  auto ciphertext = sealed.first(sealed.size() - gcm_tag_size);
  auto tag = sealed.last(gcm_tag_size);
  cipher_ctx_ptr ctx{EVP_CIPHER_CTX_new()};
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key32.data(), nonce12.data())
                != 1)
    return openssl_failure("AES-256-GCM initialisation");
  int len = 0;
  if (!aad.empty()
      && EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1)
    return openssl_failure("AES-256-GCM (aad)");
  bytes out(ciphertext.size());
  int total = 0;
  if (!ciphertext.empty()) {
    if (EVP_DecryptUpdate(ctx.get(), out.data(), &len, ciphertext.data(),
                          static_cast<int>(ciphertext.size()))
        != 1)
      return openssl_failure("AES-256-GCM decryption");
    total = len;
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(gcm_tag_size),
                          const_cast<std::uint8_t*>(tag.data()))
      != 1)
    return openssl_failure("AES-256-GCM tag");
  if (EVP_DecryptFinal_ex(ctx.get(), out.data() + total, &len) != 1) {
    if (!out.empty())
      OPENSSL_cleanse(out.data(), out.size());
    ERR_clear_error();
    return fail(errc::bad_mac, "AES-256-GCM tag does not verify: the ciphertext, tag, associated "
                               "data, key or nonce is not the one it was sealed with");
  }
  return out;
}

} // namespace joconde::crypto
