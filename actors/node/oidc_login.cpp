#include "oidc_login.hpp"

#include "../mplane/user_directory.hpp"

#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/http_client.hpp"
#include "joconde/runtime/jwt.hpp"
#include "joconde/messages/text.hpp"

#include <nlohmann/json.hpp>

#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>

namespace joconde {

namespace {

using nlohmann::json;

constexpr auto state_lifetime = std::chrono::minutes{10};
constexpr std::size_t max_pending = 1000;
constexpr auto key_refetch_gap = std::chrono::minutes{1};
constexpr std::chrono::seconds provider_timeout{10};
constexpr std::size_t max_then = 200;
constexpr std::size_t max_name = 64;

std::string random_hex(std::size_t n) { return crypto::hex(crypto::random_bytes(n)); }

std::string digest_hex(std::string_view text) { return crypto::hex(crypto::sha256(crypto::to_bytes(text))); }

/// RFC 3986 unreserved characters stay, everything else is %XX.
std::string form_encode(std::string_view text) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 15]);
    }
  }
  return out;
}

/// "https://host[:port]" and "/path?query" of an https URL; invalid_config otherwise.
result<std::pair<std::string, std::string>> split_https(const std::string& url) {
  constexpr std::string_view scheme = "https://";
  if (url.compare(0, scheme.size(), scheme) != 0)
    return fail(errc::invalid_config, "not an https:// URL: " + url);
  auto slash = url.find('/', scheme.size());
  if (slash == scheme.size())
    return fail(errc::invalid_config, "an https:// URL without a host: " + url);
  if (slash == std::string::npos)
    return std::pair{url, std::string{"/"}};
  return std::pair{url.substr(0, slash), url.substr(slash)};
}

/// A portal page to land on: "#/" and printable ASCII, or "" for anything else.
std::string safe_then(const std::string& then) {
  if (then.size() > max_then || then.compare(0, 2, "#/") != 0)
    return {};
  for (unsigned char c : then)
    if (c < 0x21 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>')
      return {};
  return then;
}

/// The person's name from claim `name` (or sub): printable, at most 64 characters.
std::string name_of(const json& claims, const std::string& name) {
  auto it = claims.find(name);
  std::string text = it != claims.end() && it->is_string() ? it->get<std::string>() : claims["sub"].get<std::string>();
  if (text.size() > max_name)
    text.resize(max_name);
  for (auto& c : text)
    if (static_cast<unsigned char>(c) < 0x21 || c == 0x7f)
      c = '_';
  return text;
}

/// The groups the ID token names in claim `name` (a list, or one text).
std::vector<std::string> groups_of(const json& claims, const std::string& name) {
  std::vector<std::string> out;
  auto it = claims.find(name);
  if (it == claims.end())
    return out;
  if (it->is_string())
    out.push_back(it->get<std::string>());
  else if (it->is_array())
    for (const auto& g : *it)
      if (g.is_string())
        out.push_back(g.get<std::string>());
  return out;
}

oidc_outcome failed(oidc_failure why, std::string detail, std::string then = {}) {
  oidc_outcome out;
  out.failure = why;
  out.detail = std::move(detail);
  out.then = std::move(then);
  return out;
}

} // namespace

struct oidc_login::provider {
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string jwks_uri;
  jwt::key_set keys;
};

std::string_view to_string(oidc_failure f) {
  switch (f) {
    case oidc_failure::denied: return "denied";
    case oidc_failure::state: return "state";
    case oidc_failure::token: return "token";
    case oidc_failure::invalid_token: return "invalid_token";
    case oidc_failure::no_role: return "no_role";
    case oidc_failure::unavailable: return "unavailable";
  }
  return "state";
}

result<std::map<std::string, std::vector<std::string>>> parse_oidc_groups(const std::string& text) {
  std::map<std::string, std::vector<std::string>> out;
  std::size_t at = 0;
  while (at <= text.size()) {
    auto comma = text.find(',', at);
    auto entry = std::string{text::trim(std::string_view{text}.substr(at, comma == std::string::npos ? std::string::npos
                                                                                                       : comma - at))};
    at = comma == std::string::npos ? text.size() + 1 : comma + 1;
    if (entry.empty())
      continue;
    auto colon = entry.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == entry.size())
      return fail(errc::invalid_config, "oidc.groups: \"" + entry + "\" is not GROUP:role");
    auto group = std::string{text::trim(std::string_view{entry}.substr(0, colon))};
    auto role = std::string{text::trim(std::string_view{entry}.substr(colon + 1))};
    if (!user_role_from_string(role))
      return fail(errc::invalid_config, "oidc.groups: \"" + role + "\" is not a joconde role");
    auto& roles = out[group];
    if (std::find(roles.begin(), roles.end(), role) == roles.end())
      roles.push_back(role);
  }
  return out;
}

oidc_login::oidc_login(const node_config& cfg, std::string secret, std::string redirect_url)
  : issuer_(cfg.oidc_issuer), client_id_(cfg.oidc_client_id), secret_(std::move(secret)),
    redirect_url_(std::move(redirect_url)), scopes_(cfg.oidc_scopes),
    ca_file_(cfg.oidc_ca.empty() ? std::string{"/etc/ssl/certs/ca-certificates.crt"} : cfg.oidc_ca.string()),
    name_claim_(cfg.oidc_name_claim), groups_claim_(cfg.oidc_groups_claim), label_(cfg.oidc_label) {
  auto groups = parse_oidc_groups(cfg.oidc_groups);  // checked when the configuration was read
  if (groups)
    groups_ = std::move(*groups);
}

oidc_login::~oidc_login() { OPENSSL_cleanse(secret_.data(), secret_.size()); }

std::string oidc_login::binding_cookie_name(std::string_view node_name) {
  return "__Host-joconde-" + std::string{node_name} + "-oidc";
}

result<std::shared_ptr<const oidc_login::provider>> oidc_login::discover(bool refresh_keys) {
  std::shared_ptr<const provider> known;
  {
    std::lock_guard guard{mtx_};
    known = provider_;
    if (known && (!refresh_keys || clock::now() - keys_fetched_ < key_refetch_gap))
      return known;
  }
  http::client_options opts;
  opts.ca_file = ca_file_;
  opts.timeout = provider_timeout;
  auto fresh = std::make_shared<provider>();
  if (known) {
    *fresh = *known;
  } else {
    auto doc = http::client::send(issuer_, "GET", "/.well-known/openid-configuration", {}, {}, opts);
    if (!doc)
      return doc.err();
    auto j = json::parse(doc->body, nullptr, false);
    if (doc->status != 200 || j.is_discarded() || !j.is_object())
      return fail(errc::protocol_error, "the identity provider's discovery document is not JSON (HTTP "
                                          + std::to_string(doc->status) + ")");
    auto text = [&](const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string{}; };
    // OpenID Connect Discovery §4.3: the document must name exactly the issuer asked.
    if (text("issuer") != issuer_)
      return fail(errc::protocol_error, "the discovery document names issuer \"" + text("issuer") + "\", not \"" + issuer_ + "\"");
    fresh->authorization_endpoint = text("authorization_endpoint");
    fresh->token_endpoint = text("token_endpoint");
    fresh->jwks_uri = text("jwks_uri");
    for (const auto* url : {&fresh->authorization_endpoint, &fresh->token_endpoint, &fresh->jwks_uri})
      if (auto r = split_https(*url); !r)
        return fail(errc::protocol_error, "the discovery document lacks an https endpoint: " + r.err().message);
  }
  auto where = split_https(fresh->jwks_uri);
  auto jwks = http::client::send(where->first, "GET", where->second, {}, {}, opts);
  if (!jwks)
    return jwks.err();
  if (jwks->status != 200)
    return fail(errc::protocol_error, "the identity provider's key set answered HTTP " + std::to_string(jwks->status));
  auto keys = jwt::key_set::parse(jwks->body);
  if (!keys)
    return keys.err();
  fresh->keys = std::move(*keys);
  std::lock_guard guard{mtx_};
  provider_ = fresh;
  keys_fetched_ = clock::now();
  return std::shared_ptr<const provider>{fresh};
}

result<oidc_start> oidc_login::begin(const std::string& then, clock::time_point now) {
  auto p = discover(false);
  if (!p)
    return p.err();
  pending entry;
  entry.nonce = random_hex(32);
  entry.then = safe_then(then);
  entry.started = now;
  auto verifier_bytes = crypto::random_bytes(32);
  entry.verifier = jwt::base64url(std::string{reinterpret_cast<const char*>(verifier_bytes.data()), verifier_bytes.size()});
  auto challenge_bytes = crypto::sha256(crypto::to_bytes(entry.verifier));
  auto challenge = jwt::base64url(std::string{reinterpret_cast<const char*>(challenge_bytes.data()), challenge_bytes.size()});
  auto state = random_hex(32);
  oidc_start out{{}, random_hex(32), entry.then};
  entry.binding_digest = digest_hex(out.binding);
  auto authorize = (*p)->authorization_endpoint;
  out.location = authorize + (authorize.find('?') == std::string::npos ? "?" : "&") + "response_type=code"
                 + "&client_id=" + form_encode(client_id_) + "&redirect_uri=" + form_encode(redirect_url_)
                 + "&scope=" + form_encode(scopes_) + "&state=" + state + "&nonce=" + entry.nonce
                 + "&code_challenge=" + challenge + "&code_challenge_method=S256";
  std::lock_guard guard{mtx_};
  std::erase_if(pending_, [&](const auto& kv) { return now - kv.second.started > state_lifetime; });
  if (pending_.size() >= max_pending)
    return fail(errc::resource_exhausted, "too many log-ins wait for the identity provider: try again in a minute");
  pending_[digest_hex(state)] = std::move(entry);
  return out;
}

oidc_outcome oidc_login::finish(const std::string& code, const std::string& state, const std::string& error,
                                const std::string& binding, std::int64_t now_s, clock::time_point now) {
  pending entry;
  {
    std::lock_guard guard{mtx_};
    auto it = state.size() == 64 ? pending_.find(digest_hex(state)) : pending_.end();
    if (it == pending_.end())
      return failed(oidc_failure::state, "no log-in waits with this state (unknown, used or expired)");
    entry = std::move(it->second);
    pending_.erase(it);  // used once, whatever follows
  }
  if (now - entry.started > state_lifetime)
    return failed(oidc_failure::state, "the log-in took longer than 10 minutes", entry.then);
  if (!crypto::constant_time_equal(crypto::to_bytes(digest_hex(binding)), crypto::to_bytes(entry.binding_digest)))
    return failed(oidc_failure::state, "the log-in was started in another browser", entry.then);
  if (!error.empty()) {
    // An OAuth error code is a short ASCII word (RFC 6749 §4.1.2.1); anything else is not logged as sent.
    std::string shown = error.substr(0, 64);
    for (auto& c : shown)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.')
        c = '?';
    return failed(oidc_failure::denied, "the identity provider answered error=" + shown, entry.then);
  }
  if (code.empty() || code.size() > 2048)
    return failed(oidc_failure::token, "the identity provider sent no code", entry.then);

  auto p = discover(false);
  if (!p)
    return failed(oidc_failure::unavailable, p.err().describe(), entry.then);
  http::client_options opts;
  opts.ca_file = ca_file_;
  opts.timeout = provider_timeout;
  opts.headers["Content-Type"] = "application/x-www-form-urlencoded";
  auto basic = form_encode(client_id_) + ":" + form_encode(secret_);
  opts.headers["Authorization"] = "Basic " + text::to_base64(basic);
  OPENSSL_cleanse(basic.data(), basic.size());
  auto body = "grant_type=authorization_code&code=" + form_encode(code) + "&redirect_uri=" + form_encode(redirect_url_)
              + "&code_verifier=" + entry.verifier;
  auto where = split_https((*p)->token_endpoint);
  auto answer = http::client::send(where->first, "POST", where->second, std::move(body), {}, opts);
  OPENSSL_cleanse(opts.headers["Authorization"].data(), opts.headers["Authorization"].size());
  if (!answer)
    return failed(oidc_failure::unavailable, "token endpoint: " + answer.err().describe(), entry.then);
  auto doc = json::parse(answer->body, nullptr, false);
  if (answer->status != 200 || doc.is_discarded() || !doc.is_object() || !doc.contains("id_token")
      || !doc["id_token"].is_string())
    return failed(oidc_failure::token, "the token endpoint answered HTTP " + std::to_string(answer->status)
                                         + " without an ID token", entry.then);
  auto id_token = doc["id_token"].get<std::string>();
  auto verified = jwt::verify(id_token, (*p)->keys);
  if (!verified && verified.err().code == errc::not_found) {
    // The provider may have rotated its keys since they were fetched.
    auto again = discover(true);
    if (again)
      verified = jwt::verify(id_token, (*again)->keys);
  }
  if (!verified)
    return failed(oidc_failure::invalid_token, verified.err().describe(), entry.then);
  if (auto r = jwt::check_id_token(verified->claims, {issuer_, client_id_, entry.nonce, now_s, 60, 600}); !r)
    return failed(oidc_failure::invalid_token, r.err().describe(), entry.then);

  const auto& claims = verified->claims;
  oidc_outcome out;
  out.then = entry.then;
  out.person.subject = claims["sub"].get<std::string>();
  out.person.user = "oidc:" + name_of(claims, name_claim_);
  auto email = claims.find("email");
  auto email_verified = claims.find("email_verified");
  if (email != claims.end() && email->is_string()
      && (email_verified == claims.end() || (email_verified->is_boolean() && email_verified->get<bool>())))
    out.person.email = email->get<std::string>();
  for (const auto& g : groups_of(claims, groups_claim_))
    if (auto it = groups_.find(g); it != groups_.end())
      for (const auto& role : it->second)
        if (std::find(out.person.roles.begin(), out.person.roles.end(), role) == out.person.roles.end())
          out.person.roles.push_back(role);
  if (out.person.roles.empty())
    return failed(oidc_failure::no_role, out.person.user + " has no group that maps to a role here", entry.then);
  out.ok = true;
  return out;
}

} // namespace joconde
