#include "joconde/io/ossl.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>

namespace joconde::ossl {

std::string error_text() {
  auto code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0)
    return "no OpenSSL error recorded";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

bool hkdf_sha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> salt,
                 std::span<const std::uint8_t> info, std::span<std::uint8_t> out) {
  kdf_ptr kdf{EVP_KDF_fetch(nullptr, "HKDF", nullptr)};
  kdf_ctx_ptr ctx{kdf ? EVP_KDF_CTX_new(kdf.get()) : nullptr};
  char digest[] = "SHA256";
  // OSSL_PARAM wants non-const pointers (HKDF only reads these buffers) and a non-null key.
  static const std::uint8_t none = 0;
  auto param = [](const char* name, std::span<const std::uint8_t> x) {
    return OSSL_PARAM_construct_octet_string(name, const_cast<std::uint8_t*>(x.empty() ? &none : x.data()),
                                             x.size());
  };
  OSSL_PARAM params[5];
  int n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[n++] = param(OSSL_KDF_PARAM_KEY, key);
  if (!salt.empty())
    params[n++] = param(OSSL_KDF_PARAM_SALT, salt);
  if (!info.empty())
    params[n++] = param(OSSL_KDF_PARAM_INFO, info);
  params[n] = OSSL_PARAM_construct_end();
  bool ok = ctx && EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) == 1;
  if (!ok)
    OPENSSL_cleanse(out.data(), out.size());
  return ok;
}

} // namespace joconde::ossl
