#pragma once

// Log-in through the organisation's own identity provider (the spec's User Identity Provider) with
// OpenID Connect: the authorization code flow with PKCE (S256) for a confidential client (OpenID
// Connect Core §3.1, RFC 7636). The node sends the browser to the provider with a fresh state, nonce
// and code challenge; the provider sends it back with a code; the node redeems the code at the
// provider's token endpoint with its client secret and the code verifier, verifies the ID token
// (runtime/jwt.hpp: the provider's published key, issuer, audience, expiry, nonce) and maps the
// person's groups to joconde roles. The person gets a portal session with those roles and is not
// written into the node's user directory. No CAF here; blocking calls to the provider (run on an
// HTTP worker, bounded by a timeout).
//
// - The state is bound to the browser that started the log-in by a cookie (SameSite=Lax: the
//   provider's redirect is a cross-site navigation), so a code cannot be injected into someone
//   else's browser (log-in forgery). A state is used once and lives 10 minutes; at most 1000 wait.
// - The provider's discovery document and keys are fetched over HTTPS (TLS 1.3) checked against
//   oidc.ca, kept, and fetched again when a token names a key not known yet (at most once a minute).
// - What the provider says is never shown to the person: failures are one of a few codes, and the
//   detail goes to the node's log.

#include "node_config.hpp"

#include "joconde/messages/result.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace joconde {

/// Why an OpenID Connect log-in failed, as the portal tells the person.
enum class oidc_failure {
  denied,        ///< the provider answered with an error (the person cancelled, or was refused)
  state,         ///< an unknown, expired or used state, or another browser's
  token,         ///< the token endpoint refused the code, or answered garbage
  invalid_token, ///< the ID token's signature, issuer, audience, expiry or nonce is wrong
  no_role,       ///< none of the person's groups maps to a role at this node
  unavailable,   ///< the provider could not be reached
};

std::string_view to_string(oidc_failure f);

/// The person an OpenID Connect log-in established.
struct oidc_person {
  std::string user;                ///< "oidc:" + the name claim (or sub)
  std::string subject;             ///< sub
  std::vector<std::string> roles;  ///< joconde role names, from the groups
  std::string email;               ///< email claim, when verified or the provider says nothing of it
};

/// The start of a log-in: where to send the browser, and the cookie binding it.
struct oidc_start {
  std::string location;   ///< the provider's authorization URL with the request
  std::string binding;    ///< the value of the browser-binding cookie (64 hex digits)
  std::string then;       ///< the portal page to land on afterwards
};

/// The end of a log-in.
struct oidc_outcome {
  bool ok = false;
  oidc_failure failure = oidc_failure::state;
  std::string detail;     ///< for the log only
  oidc_person person;
  std::string then;       ///< the page the log-in was started for
};

/// The "GROUP:role, GROUP:role" map of oidc.groups; invalid_config for an unknown role or a bad
/// entry.
result<std::map<std::string, std::vector<std::string>>> parse_oidc_groups(const std::string& text);

/// The OpenID Connect client of one node.
class oidc_login {
public:
  using clock = std::chrono::steady_clock;

  /// `cfg` has the oidc.* keys set (oidc.issuer non-empty); `secret` is the client secret.
  oidc_login(const node_config& cfg, std::string secret, std::string redirect_url);
  ~oidc_login();

  /// The button's text.
  const std::string& label() const { return label_; }

  /// The cookie binding a log-in to its browser at node `node_name`.
  static std::string binding_cookie_name(std::string_view node_name);

  /// Starts a log-in that ends on portal page `then` ("#/..." or "").
  result<oidc_start> begin(const std::string& then, clock::time_point now);

  /// Ends the log-in of the provider's redirect: `code` and `state`, or `error`, from the query, and
  /// `binding` from the cookie.
  oidc_outcome finish(const std::string& code, const std::string& state, const std::string& error,
                      const std::string& binding, std::int64_t now_s, clock::time_point now);

private:
  struct provider;
  struct pending {
    std::string binding_digest;
    std::string nonce;
    std::string verifier;
    std::string then;
    clock::time_point started;
  };

  result<std::shared_ptr<const provider>> discover(bool refresh_keys);

  std::string issuer_, client_id_, secret_, redirect_url_, scopes_, ca_file_;
  std::string name_claim_, groups_claim_, label_;
  std::map<std::string, std::vector<std::string>> groups_;
  std::mutex mtx_;
  std::shared_ptr<const provider> provider_;
  clock::time_point keys_fetched_{};
  std::map<std::string, pending> pending_;  ///< by SHA-256 of the state
};

} // namespace joconde
