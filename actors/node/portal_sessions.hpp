#pragma once

// The browser sessions of a node's portal (DESIGN.md §12): a person logs in once with their API token
// and gets a session cookie (HttpOnly, Secure, SameSite=Strict) and an anti-forgery token that every
// change must carry in X-CSRF-Token. Sessions live in memory only: a restarted node asks people to log
// in again, and nothing a copy of the store holds lets anyone in. No CAF here.
//
// - A session id and its CSRF token are 32 random bytes each (64 hex digits). The table keys sessions
//   by the SHA-256 of their id, so a lookup compares digests, never the secret itself; the CSRF token
//   is compared in constant time.
// - A session ends after `idle` without a call, after `lifetime` in all, at log-out, or when its user's
//   token changes or the user is removed (the caller checks the user again on every call).
// - At most `max_sessions` live at once; a new one beyond that ends the least recently used.

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace joconde {

/// Who a session is for, as the log-in established it.
struct session_owner {
  std::string user;                ///< the user's name at this node (oidc:NAME for an external person)
  std::int64_t token_issued_at_ms = 0; ///< of the user's token: a new token ends it (local users)
  std::string via;                 ///< "token", "password" or "oidc"
  /// An external person (OpenID Connect): not in the node's user directory, so the session itself
  /// holds their roles, mapped from their identity provider's groups at log-in.
  bool external = false;
  std::vector<std::string> roles;  ///< role names, for an external person
  std::string email;               ///< from the identity provider, for an external person
};

/// What a live session is.
struct portal_session : session_owner {
  std::string csrf_token;          ///< 64 hex digits
};

/// The sessions of one node.
class portal_sessions {
public:
  using clock = std::chrono::steady_clock;

  portal_sessions(std::chrono::seconds idle, std::chrono::seconds lifetime, std::size_t max_sessions);

  /// Opens a session for `owner`; returns its id (the cookie's value), shown only to the browser.
  std::string open(const session_owner& owner, clock::time_point now);

  /// The session of cookie value `id`, if it is live; a hit counts as activity (idle restarts).
  std::optional<portal_session> find(std::string_view id, clock::time_point now);

  /// Ends the session of `id`; false if there was none.
  bool close(std::string_view id);

  /// Sessions live now (expired ones are dropped first).
  std::size_t live(clock::time_point now);

  /// How long log-ins for `key` (a user name, a client address) must wait, or nullopt: after 5
  /// failures with less than 15 minutes between them, 60 s, doubling with each further failure up to
  /// an hour. Password guessing is slow whoever guesses and from wherever.
  std::optional<std::chrono::seconds> locked_for(const std::string& key, clock::time_point now);

  /// Counts a failed log-in for `key`.
  void login_failed(const std::string& key, clock::time_point now);

  /// A log-in for `key` succeeded: its failures are forgotten.
  void login_succeeded(const std::string& key);

  std::chrono::seconds idle() const { return idle_; }

  /// The cookie's name at node `node_name`: `__Host-joconde-NAME` (one origin per node, but browsers
  /// share cookies between ports of a host, so the name tells the nodes of one host apart).
  static std::string cookie_name(std::string_view node_name);

  /// The value of cookie `name` in a Cookie header, or "".
  static std::string cookie_value(std::string_view header, std::string_view name);

  /// Whether `sent` is the session's CSRF token (constant time).
  static bool csrf_matches(const portal_session& s, std::string_view sent);

private:
  struct entry {
    portal_session session;
    clock::time_point opened;
    clock::time_point last_used;
  };

  void expire(clock::time_point now);

  struct failures {
    int count = 0;
    clock::time_point last;
  };

  std::chrono::seconds idle_;
  std::chrono::seconds lifetime_;
  std::size_t max_sessions_;
  std::mutex mtx_;
  std::map<std::string, entry> by_digest_;
  std::map<std::string, failures> failures_;  ///< by user name or client address, at most 10000
};

} // namespace joconde
