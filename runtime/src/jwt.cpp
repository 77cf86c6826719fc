#include "joconde/runtime/jwt.hpp"

#include "crypto_detail.hpp"
#include "joconde/runtime/crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include <array>
#include <map>

namespace joconde::jwt {

namespace {

using crypto::detail::md_ctx_ptr;
using crypto::detail::pkey_ctx_ptr;
using crypto::detail::pkey_ptr;
using json = nlohmann::json;
using bn_ptr = std::unique_ptr<BIGNUM, ossl::free_with<BN_free>>;
using param_bld_ptr = std::unique_ptr<OSSL_PARAM_BLD, ossl::free_with<OSSL_PARAM_BLD_free>>;
using params_ptr = std::unique_ptr<OSSL_PARAM, ossl::free_with<OSSL_PARAM_free>>;
using ecdsa_sig_ptr = std::unique_ptr<ECDSA_SIG, ossl::free_with<ECDSA_SIG_free>>;

constexpr std::size_t max_token_bytes = 64 * 1024;
constexpr std::size_t max_jwks_bytes = 1024 * 1024;
constexpr std::size_t max_keys = 256;
constexpr int min_rsa_bits = 2048;
constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

enum class key_type { ec_p256, rsa };

struct one_key {
  std::string kid;
  key_type type;
  pkey_ptr pkey;
};

/// A member of `o` that is a string, or "".
std::string text_of(const json& o, const char* name) {
  auto it = o.find(name);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

/// The EVP_PKEY built from `params` of type `name` ("EC", "RSA").
pkey_ptr from_params(const char* name, OSSL_PARAM_BLD* bld) {
  params_ptr params{OSSL_PARAM_BLD_to_param(bld)};
  pkey_ctx_ptr ctx{EVP_PKEY_CTX_new_from_name(nullptr, name, nullptr)};
  EVP_PKEY* pkey = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0
      || EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0)
    return nullptr;
  pkey_ptr out{pkey};
  // A point not on the curve, or an RSA key OpenSSL finds broken, is no key.
  pkey_ctx_ptr check{EVP_PKEY_CTX_new_from_pkey(nullptr, out.get(), nullptr)};
  if (!check || EVP_PKEY_public_check(check.get()) != 1)
    return nullptr;
  return out;
}

/// An EC P-256 key from the JWK's x and y (32 bytes each), or null.
pkey_ptr ec_key(const json& jwk) {
  if (text_of(jwk, "crv") != "P-256")
    return nullptr;
  auto x = from_base64url(text_of(jwk, "x"));
  auto y = from_base64url(text_of(jwk, "y"));
  if (!x || !y || x->size() != 32 || y->size() != 32)
    return nullptr;
  std::string point = "\x04" + *x + *y;
  param_bld_ptr bld{OSSL_PARAM_BLD_new()};
  if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0)
      || !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()))
    return nullptr;
  return from_params("EC", bld.get());
}

/// An RSA key from the JWK's n and e, 2048 bits or more, or null.
pkey_ptr rsa_key(const json& jwk) {
  auto n = from_base64url(text_of(jwk, "n"));
  auto e = from_base64url(text_of(jwk, "e"));
  if (!n || !e || n->empty() || e->empty() || n->size() > 2048 || e->size() > 8)
    return nullptr;
  bn_ptr bn_n{BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()), static_cast<int>(n->size()), nullptr)};
  bn_ptr bn_e{BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()), static_cast<int>(e->size()), nullptr)};
  if (!bn_n || !bn_e || BN_num_bits(bn_n.get()) < min_rsa_bits)
    return nullptr;
  param_bld_ptr bld{OSSL_PARAM_BLD_new()};
  if (!bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get())
      || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()))
    return nullptr;
  return from_params("RSA", bld.get());
}

/// The DER ECDSA signature of the JWS one (r and s, 32 bytes each), or "".
std::string der_of_raw(std::string_view raw) {
  if (raw.size() != 64)
    return {};
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  ecdsa_sig_ptr sig{ECDSA_SIG_new()};
  BIGNUM* r = BN_bin2bn(p, 32, nullptr);
  BIGNUM* s = BN_bin2bn(p + 32, 32, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return {};
  }
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0)
    return {};
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

/// Whether `signature` (DER for EC) over `input` verifies under `pkey` with SHA-256.
bool verifies(EVP_PKEY* pkey, std::string_view input, std::string_view signature) {
  md_ctx_ptr ctx{EVP_MD_CTX_new()};
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey) != 1)
    return false;
  int ok = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                            reinterpret_cast<const unsigned char*>(input.data()), input.size());
  ERR_clear_error();
  return ok == 1;
}

/// A JSON object from base64url `part`, or malformed_input naming `what`.
result<json> object_of(std::string_view part, const char* what) {
  auto text = from_base64url(part);
  if (!text)
    return fail(errc::malformed_input, std::string{"the token's "} + what + " is not base64url");
  auto doc = json::parse(*text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return fail(errc::malformed_input, std::string{"the token's "} + what + " is not a JSON object");
  return doc;
}

} // namespace

struct key_set::impl {
  std::vector<one_key> keys;
};

std::string base64url(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(data[k]); };
  for (; i + 3 <= data.size(); i += 3) {
    unsigned v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    for (int shift = 18; shift >= 0; shift -= 6)
      out.push_back(alphabet[(v >> shift) & 63]);
  }
  if (auto rest = data.size() - i; rest > 0) {
    unsigned v = byte(i) << 16;
    if (rest == 2)
      v |= byte(i + 1) << 8;
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    if (rest == 2)
      out.push_back(alphabet[(v >> 6) & 63]);
  }
  return out;
}

result<std::string> from_base64url(std::string_view text) {
  if (text.size() % 4 == 1)
    return fail(errc::malformed_input, "base64url text of an impossible length");
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned acc = 0;
  int bits = 0;
  for (char c : text) {
    auto pos = alphabet.find(c);
    if (pos == std::string_view::npos)
      return fail(errc::malformed_input, "a character that is not base64url");
    acc = (acc << 6) | static_cast<unsigned>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // The bits left over must be zero: one spelling per byte string.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
    return fail(errc::malformed_input, "base64url text with stray bits at its end");
  return out;
}

result<key_set> key_set::parse(std::string_view json_text) {
  if (json_text.size() > max_jwks_bytes)
    return fail(errc::too_large, "the JWK set exceeds 1 MiB");
  auto doc = json::parse(json_text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array())
    return fail(errc::malformed_input, "not a JWK set: {\"keys\": [...]} expected");
  if (doc["keys"].size() > max_keys)
    return fail(errc::too_large, "the JWK set has more than 256 keys");
  auto set = std::make_shared<impl>();
  for (const auto& jwk : doc["keys"]) {
    if (!jwk.is_object())
      continue;
    auto use = text_of(jwk, "use");
    if (!use.empty() && use != "sig")
      continue;
    auto kty = text_of(jwk, "kty");
    one_key k{text_of(jwk, "kid"), key_type::ec_p256, nullptr};
    if (kty == "EC") {
      k.pkey = ec_key(jwk);
    } else if (kty == "RSA") {
      k.type = key_type::rsa;
      k.pkey = rsa_key(jwk);
    }
    // A key's `alg`, when it says one, must be the one its type is used with here.
    auto alg = text_of(jwk, "alg");
    bool alg_fits = alg.empty() || alg == (k.type == key_type::rsa ? "RS256" : "ES256");
    if (k.pkey && alg_fits)
      set->keys.push_back(std::move(k));
  }
  if (set->keys.empty())
    return fail(errc::not_found, "the JWK set has no ES256 (P-256) or RS256 (2048 bits or more) signing key");
  key_set out;
  out.impl_ = std::move(set);
  return out;
}

std::size_t key_set::size() const { return impl_ ? impl_->keys.size() : 0; }

bool key_set::has(std::string_view kid) const {
  if (!impl_)
    return false;
  for (const auto& k : impl_->keys)
    if (k.kid == kid)
      return true;
  return false;
}

result<verified> verify(std::string_view token, const key_set& keys) {
  if (token.size() > max_token_bytes)
    return fail(errc::malformed_input, "the token exceeds 64 KiB");
  auto dot1 = token.find('.');
  auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return fail(errc::malformed_input, "not a compact JWS: three parts separated by dots expected");
  auto header = object_of(token.substr(0, dot1), "header");
  if (!header)
    return header.err();
  auto alg = text_of(*header, "alg");
  if (alg != "ES256" && alg != "RS256")
    return fail(errc::unsupported, "the token's algorithm is not ES256 or RS256");
  if (header->contains("crit"))
    return fail(errc::unsupported, "the token names critical header parameters");
  auto type = alg == "ES256" ? key_type::ec_p256 : key_type::rsa;
  bool named = header->contains("kid");
  if (named && !(*header)["kid"].is_string())
    return fail(errc::malformed_input, "the token's kid is not a string");
  auto kid = text_of(*header, "kid");
  const one_key* key = nullptr;
  int candidates = 0;
  if (keys.impl_)
    for (const auto& k : keys.impl_->keys) {
      if (k.type != type || (named && k.kid != kid))
        continue;
      key = &k;
      ++candidates;
    }
  if (candidates == 0)
    return fail(errc::not_found, named ? "no " + alg + " key with the token's kid in the identity provider's key set"
                                       : "no " + alg + " key in the identity provider's key set");
  if (candidates > 1)
    return fail(errc::malformed_input, "the token does not say which of the identity provider's keys signed it");
  auto signature = from_base64url(token.substr(dot2 + 1));
  if (!signature)
    return fail(errc::malformed_input, "the token's signature is not base64url");
  std::string der = type == key_type::ec_p256 ? der_of_raw(*signature) : *signature;
  if (der.empty() || !verifies(key->pkey.get(), token.substr(0, dot2), der))
    return fail(errc::bad_signature, "the token's signature does not verify under the identity provider's key");
  auto claims = object_of(token.substr(dot1 + 1, dot2 - dot1 - 1), "payload");
  if (!claims)
    return claims.err();
  return verified{std::move(*header), std::move(*claims)};
}

result<void> check_id_token(const nlohmann::json& claims, const id_token_expectations& want) {
  for (const char* name : {"iss", "sub", "nonce"})
    if (!claims.contains(name) || !claims[name].is_string() || claims[name].get<std::string>().empty())
      return fail(errc::malformed_input, std::string{"the ID token has no "} + name);
  for (const char* name : {"exp", "iat"})
    if (!claims.contains(name) || !claims[name].is_number())
      return fail(errc::malformed_input, std::string{"the ID token has no numeric "} + name);
  if (claims["iss"].get<std::string>() != want.issuer)
    return fail(errc::forbidden, "the ID token's issuer is not the configured one");
  // aud: the client id, alone or in a list; with several audiences azp must be this client.
  const auto& aud = claims.contains("aud") ? claims["aud"] : json{};
  bool ours = false;
  std::size_t audiences = 0;
  if (aud.is_string()) {
    ours = aud.get<std::string>() == want.client_id;
    audiences = 1;
  } else if (aud.is_array()) {
    for (const auto& a : aud)
      if (a.is_string()) {
        ++audiences;
        ours = ours || a.get<std::string>() == want.client_id;
      }
  } else {
    return fail(errc::malformed_input, "the ID token has no aud");
  }
  if (!ours)
    return fail(errc::forbidden, "the ID token is not for this node (aud)");
  auto azp = text_of(claims, "azp");
  if ((audiences > 1 || !azp.empty()) && azp != want.client_id)
    return fail(errc::forbidden, "the ID token was issued to another client (azp)");
  auto exp = claims["exp"].get<double>();
  auto iat = claims["iat"].get<double>();
  if (exp + static_cast<double>(want.leeway_s) <= static_cast<double>(want.now_s))
    return fail(errc::forbidden, "the ID token has expired (exp)");
  if (iat > static_cast<double>(want.now_s + want.leeway_s))
    return fail(errc::forbidden, "the ID token was issued in the future (iat)");
  if (iat + static_cast<double>(want.max_age_s + want.leeway_s) < static_cast<double>(want.now_s))
    return fail(errc::forbidden, "the ID token was issued too long ago (iat)");
  if (claims.contains("nbf")) {
    if (!claims["nbf"].is_number())
      return fail(errc::malformed_input, "the ID token's nbf is not a number");
    if (claims["nbf"].get<double>() > static_cast<double>(want.now_s + want.leeway_s))
      return fail(errc::forbidden, "the ID token is not valid yet (nbf)");
  }
  if (!crypto::constant_time_equal(crypto::to_bytes(claims["nonce"].get<std::string>()), crypto::to_bytes(want.nonce)))
    return fail(errc::forbidden, "the ID token's nonce is not the one this log-in sent");
  return ok();
}

} // namespace joconde::jwt
