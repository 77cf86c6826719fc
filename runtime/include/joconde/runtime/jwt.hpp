#pragma once

// Signed JSON Web Tokens as an OpenID Connect relying party needs them (RFC 7515 compact JWS,
// RFC 7517 JWK sets, RFC 7519 claims, OpenID Connect Core §3.1.3.7 ID token validation), on
// OpenSSL. Only ES256 (ECDSA P-256 with SHA-256) and RS256 (RSASSA-PKCS1-v1_5 with SHA-256, keys of
// 2048 bits or more) are accepted: `none`, HMAC algorithms (whose key would be the client secret)
// and everything else are refused, and a key is used only for the algorithm its type fits, so a
// token cannot pick how it is checked.

#include "joconde/messages/result.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace joconde::jwt {

/// Base64url without padding (RFC 7515 §2).
std::string base64url(std::string_view data);

/// Parses base64url without padding; malformed_input for any other character, padding or a
/// length no encoding has.
result<std::string> from_base64url(std::string_view text);

/// The public keys of a JWK set an identity provider publishes (its jwks_uri); immutable, copies
/// share them.
class key_set {
public:
  /// Parses a JWK set: `{"keys": [...]}`. Keys that are not for signatures (`use` other than
  /// "sig"), of another type than EC P-256 or RSA, or of an RSA modulus under 2048 bits are left
  /// out; malformed_input when the text is not a JWK set, too_large over 256 keys or 1 MiB, and
  /// not_found when no usable key is left.
  static result<key_set> parse(std::string_view json_text);

  /// How many usable keys there are.
  std::size_t size() const;

  /// Whether a key has id `kid`.
  bool has(std::string_view kid) const;

  struct impl;
  std::shared_ptr<const impl> impl_;
};

/// What a verified token says.
struct verified {
  nlohmann::json header;
  nlohmann::json claims;
};

/// Verifies the compact JWS `token` (at most 64 KiB) under `keys`: three base64url parts, a header
/// with `alg` ES256 or RS256 (else unsupported) and no `crit`, the key named by `kid` (when the
/// header has none, the set must have exactly one key of that type), whose type fits `alg`, and the
/// signature over the first two parts. Errors: malformed_input, unsupported, not_found (no such
/// key: the caller may fetch the key set again once), bad_signature.
result<verified> verify(std::string_view token, const key_set& keys);

/// What an ID token must say (OpenID Connect Core §3.1.3.7, §3.1.2.1).
struct id_token_expectations {
  std::string issuer;      ///< `iss` equals it exactly
  std::string client_id;   ///< in `aud`; `azp`, when there, equals it
  std::string nonce;       ///< `nonce` equals it (constant time)
  std::int64_t now_s = 0;  ///< seconds since the epoch
  std::int64_t leeway_s = 60; ///< clock skew allowed for `exp`, `iat` and `nbf`
  std::int64_t max_age_s = 600; ///< `iat` no older than this
};

/// Checks the claims of a verified ID token; forbidden naming the claim that is wrong, or
/// malformed_input when a required claim (iss, sub, aud, exp, iat, nonce) is missing or of the
/// wrong type.
result<void> check_id_token(const nlohmann::json& claims, const id_token_expectations& want);

} // namespace joconde::jwt
