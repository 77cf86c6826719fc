// ID tokens as the node's OpenID Connect log-in checks them (runtime/jwt.hpp): ES256 and RS256
// tokens signed here with keys made at run time verify under their JWK set; a changed payload, a
// token signed by another key under the same kid, `none`, HS256 with the key as secret, a key of the
// wrong type, short RSA keys and garbled texts are refused with distinct errors; the claim checks
// refuse another issuer, audience, authorised party, nonce, an expired, future or old token.

#define BOOST_TEST_MODULE jwt
#include <boost/test/unit_test.hpp>

#include "joconde/runtime/jwt.hpp"

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <memory>
#include <string>
#include <vector>

namespace {

using namespace joconde;
using json = nlohmann::json;
using pkey_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

pkey_ptr ec_key() { return {EVP_EC_gen("P-256"), &EVP_PKEY_free}; }
pkey_ptr rsa_key(unsigned bits) { return {EVP_RSA_gen(bits), &EVP_PKEY_free}; }

std::string bn_bytes(EVP_PKEY* k, const char* name, int pad = 0) {
  BIGNUM* bn = nullptr;
  BOOST_REQUIRE(EVP_PKEY_get_bn_param(k, name, &bn) == 1);
  std::string out(static_cast<size_t>(std::max(pad, BN_num_bytes(bn))), '\0');
  if (pad)
    BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), pad);
  else
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  return out;
}

json jwk_of(EVP_PKEY* k, const std::string& kid) {
  if (EVP_PKEY_is_a(k, "EC"))
    return {{"kty", "EC"}, {"crv", "P-256"}, {"kid", kid}, {"use", "sig"},
            {"x", jwt::base64url(bn_bytes(k, OSSL_PKEY_PARAM_EC_PUB_X, 32))},
            {"y", jwt::base64url(bn_bytes(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32))}};
  return {{"kty", "RSA"}, {"kid", kid}, {"alg", "RS256"},
          {"n", jwt::base64url(bn_bytes(k, OSSL_PKEY_PARAM_RSA_N))},
          {"e", jwt::base64url(bn_bytes(k, OSSL_PKEY_PARAM_RSA_E))}};
}

/// The JWS signature of `input` by `k` (ES256: raw r||s; RS256: PKCS#1 v1.5).
std::string sign(EVP_PKEY* k, const std::string& input) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
  BOOST_REQUIRE(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, k) == 1);
  size_t len = 0;
  BOOST_REQUIRE(EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                               input.size()) == 1);
  std::string sig(len, '\0');
  BOOST_REQUIRE(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                               reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1);
  sig.resize(len);
  if (!EVP_PKEY_is_a(k, "EC"))
    return sig;
  const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
  ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
  BOOST_REQUIRE(es != nullptr);
  std::string raw(64, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  ECDSA_SIG_free(es);
  return raw;
}

std::string token(EVP_PKEY* k, const json& header, const json& claims) {
  auto input = jwt::base64url(header.dump()) + "." + jwt::base64url(claims.dump());
  return input + "." + jwt::base64url(sign(k, input));
}

constexpr int64_t now = 1800000000;

json claims() {
  return {{"iss", "https://idp.example"}, {"sub", "u-1"}, {"aud", "client-a"}, {"exp", now + 300},
          {"iat", now - 5}, {"nonce", "n-123"}, {"groups", {"stat-auditors"}}};
}

jwt::id_token_expectations expected() { return {"https://idp.example", "client-a", "n-123", now, 60, 600}; }

struct keys {
  pkey_ptr ec = ec_key();
  pkey_ptr rsa = rsa_key(2048);
  pkey_ptr rogue = ec_key();
  jwt::key_set set = *jwt::key_set::parse(json{{"keys", {jwk_of(ec.get(), "ec-1"), jwk_of(rsa.get(), "rsa-1")}}}.dump());
};

keys& k() {
  static keys all;
  return all;
}

std::string code_of(const result<jwt::verified>& r) { return r ? std::string{"ok"} : std::string{to_string(r.err().code)}; }

} // namespace

BOOST_AUTO_TEST_CASE(base64url_round_trips_and_refuses_other_spellings) {
  for (const std::string& s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\xff\xfe\x00\x01", 4)})
    BOOST_TEST(*jwt::from_base64url(jwt::base64url(s)) == s);
  BOOST_TEST(jwt::base64url("\xfb\xff") == "-_8");
  BOOST_TEST(!jwt::from_base64url("Zm9v="));   // padding
  BOOST_TEST(!jwt::from_base64url("Zm9+"));    // standard alphabet
  BOOST_TEST(!jwt::from_base64url("Z"));       // no length encodes to it
  BOOST_TEST(!jwt::from_base64url("Zh"));      // stray bits: "Zg" is the spelling of "f"
}

BOOST_AUTO_TEST_CASE(es256_and_rs256_tokens_verify_under_their_keys) {
  auto es = jwt::verify(token(k().ec.get(), {{"alg", "ES256"}, {"kid", "ec-1"}, {"typ", "JWT"}}, claims()), k().set);
  BOOST_REQUIRE(es);
  BOOST_TEST(es->claims["sub"] == "u-1");
  BOOST_TEST(jwt::check_id_token(es->claims, expected()).ok());
  auto rs = jwt::verify(token(k().rsa.get(), {{"alg", "RS256"}, {"kid", "rsa-1"}}, claims()), k().set);
  BOOST_REQUIRE(rs);
  BOOST_TEST(rs->claims["groups"][0] == "stat-auditors");
  // Without a kid, the one key of the token's type is used.
  BOOST_TEST(jwt::verify(token(k().ec.get(), {{"alg", "ES256"}}, claims()), k().set).ok());
  BOOST_TEST(k().set.size() == 2U);
  BOOST_TEST(k().set.has("rsa-1"));
}

BOOST_AUTO_TEST_CASE(a_changed_or_forged_token_is_refused) {
  auto good = token(k().ec.get(), {{"alg", "ES256"}, {"kid", "ec-1"}}, claims());
  auto parts = good.substr(0, good.find('.'));
  auto changed = claims();
  changed["groups"] = {"it-admins"};
  auto sig = good.substr(good.rfind('.'));
  BOOST_TEST(code_of(jwt::verify(parts + "." + jwt::base64url(changed.dump()) + sig, k().set)) == "bad_signature");
  // Signed by a key the IdP does not publish, under the published key's kid.
  BOOST_TEST(code_of(jwt::verify(token(k().rogue.get(), {{"alg", "ES256"}, {"kid", "ec-1"}}, claims()), k().set))
             == "bad_signature");
  // An RSA signature presented as ES256 (kid of the RSA key): no EC key has that kid.
  BOOST_TEST(code_of(jwt::verify(token(k().rsa.get(), {{"alg", "ES256"}, {"kid", "rsa-1"}}, claims()), k().set))
             == "not_found");
  BOOST_TEST(code_of(jwt::verify(token(k().ec.get(), {{"alg", "ES256"}, {"kid", "other"}}, claims()), k().set))
             == "not_found");
  // alg none, and HS256 with the public key as the HMAC secret.
  auto unsigned_token = jwt::base64url(json{{"alg", "none"}}.dump()) + "." + jwt::base64url(claims().dump()) + ".";
  BOOST_TEST(code_of(jwt::verify(unsigned_token, k().set)) == "unsupported");
  auto hs = jwt::base64url(json{{"alg", "HS256"}, {"kid", "ec-1"}}.dump()) + "." + jwt::base64url(claims().dump()) + ".AAAA";
  BOOST_TEST(code_of(jwt::verify(hs, k().set)) == "unsupported");
  BOOST_TEST(code_of(jwt::verify(token(k().ec.get(), {{"alg", "ES256"}, {"kid", "ec-1"}, {"crit", {"exp"}}}, claims()),
                                 k().set)) == "unsupported");
  for (const std::string& bad : std::vector<std::string>{"", "a.b", "a.b.c.d", "!!.e30.AA", good + "x", good.substr(0, good.size() - 4)})
    BOOST_TEST(!jwt::verify(bad, k().set), bad);
  BOOST_TEST(code_of(jwt::verify(std::string(70000, 'a'), k().set)) == "malformed_input");
}

BOOST_AUTO_TEST_CASE(key_sets_keep_only_usable_signing_keys) {
  auto weak = rsa_key(1024);
  BOOST_CHECK(jwt::key_set::parse(json{{"keys", {jwk_of(weak.get(), "weak")}}}.dump()).err().code == errc::not_found);
  auto enc = jwk_of(k().ec.get(), "enc");
  enc["use"] = "enc";
  auto wrong_alg = jwk_of(k().ec.get(), "x");
  wrong_alg["alg"] = "RS256";
  auto off_curve = jwk_of(k().ec.get(), "off");
  off_curve["y"] = jwt::base64url(std::string(32, '\x01'));
  BOOST_CHECK(jwt::key_set::parse(json{{"keys", {enc, wrong_alg, off_curve}}}.dump()).err().code == errc::not_found);
  auto mixed = jwt::key_set::parse(json{{"keys", {enc, jwk_of(k().ec.get(), "ok"), 7, "x"}}}.dump());
  BOOST_REQUIRE(mixed);
  BOOST_TEST(mixed->size() == 1U);
  for (const std::string& bad : std::vector<std::string>{"", "[]", "{}", "{\"keys\": 1}", "not json"})
    BOOST_CHECK_MESSAGE(jwt::key_set::parse(bad).err().code == errc::malformed_input, bad);
  // Two EC keys and a token without kid: which one signed it is not said.
  auto two = *jwt::key_set::parse(json{{"keys", {jwk_of(k().ec.get(), "a"), jwk_of(k().rogue.get(), "b")}}}.dump());
  BOOST_TEST(code_of(jwt::verify(token(k().ec.get(), {{"alg", "ES256"}}, claims()), two)) == "malformed_input");
}

BOOST_AUTO_TEST_CASE(id_token_claims_are_checked) {
  auto refused = [](const json& c) { return std::string{to_string(jwt::check_id_token(c, expected()).err().code)}; };
  BOOST_TEST(jwt::check_id_token(claims(), expected()).ok());
  auto c = claims();
  c["aud"] = {"other", "client-a"};
  BOOST_TEST(refused(c) == "forbidden");  // several audiences and no azp
  c["azp"] = "client-a";
  BOOST_TEST(jwt::check_id_token(c, expected()).ok());
  c = claims();
  c["azp"] = "client-b";
  BOOST_TEST(refused(c) == "forbidden");
  c = claims();
  c["iss"] = "https://idp.example/";
  BOOST_TEST(refused(c) == "forbidden");
  c = claims();
  c["aud"] = "client-b";
  BOOST_TEST(refused(c) == "forbidden");
  c = claims();
  c["nonce"] = "n-124";
  BOOST_TEST(refused(c) == "forbidden");
  c = claims();
  c["exp"] = now - 61;
  BOOST_TEST(refused(c) == "forbidden");
  c["exp"] = now - 59;  // within the leeway
  BOOST_TEST(jwt::check_id_token(c, expected()).ok());
  c = claims();
  c["iat"] = now + 120;
  BOOST_TEST(refused(c) == "forbidden");
  c = claims();
  c["iat"] = now - 3600;
  BOOST_TEST(refused(c) == "forbidden");
  c = claims();
  c["nbf"] = now + 120;
  BOOST_TEST(refused(c) == "forbidden");
  for (const char* name : {"iss", "sub", "aud", "exp", "iat", "nonce"}) {
    c = claims();
    c.erase(name);
    BOOST_TEST(refused(c) == "malformed_input", name);
  }
  c = claims();
  c["exp"] = "tomorrow";
  BOOST_TEST(refused(c) == "malformed_input");
}
