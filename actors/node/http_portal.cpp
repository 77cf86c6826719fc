// The web portal's files, log-in and sessions, and the draft page's task check (http_portal.hpp).

#include "http_portal.hpp"

#include "portal_assets.hpp"
#include "oidc_login.hpp"
#include "portal_sessions.hpp"

#include "cli/cli_task.hpp"

#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/log.hpp"
#include "joconde/runtime/metrics.hpp"

#include <nlohmann/json.hpp>

#include <openssl/crypto.h>

#include <semaphore>

namespace joconde {

namespace {

using nlohmann::json;

/// What a portal page may load and do: its own scripts, styles and API, nothing inline, never framed.
constexpr const char* page_policy =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The session document a browser keeps: who is logged in and the token its changes must carry.
json session_json(const node_context& ctx, const user& who, const portal_session& s) {
  json roles = json::array();
  for (auto r : who.roles)
    roles.push_back(std::string{to_string(r)});
  return json{{"user", who.name},
              {"roles", roles},
              {"node", ctx.fqdn},
              {"node_role", ctx.cfg.role},
              {"csrf_token", s.csrf_token},
              {"via", s.via},
              {"idle_timeout_s", ctx.sessions->idle().count()},
              {"tee", "simulated platform (no TEE hardware, no memory protection)"}};
}

/// The Set-Cookie value of session `id` (empty with max_age 0: the browser drops the cookie).
std::string cookie_header(const node_context& ctx, const std::string& id, std::int64_t max_age_s) {
  return portal_sessions::cookie_name(ctx.cfg.name) + "=" + id + "; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age="
         + std::to_string(max_age_s);
}

bool changes_state(const http::request& req) {
  return req.method != "GET" && req.method != "HEAD";
}

/// Whether a browser sent the request from a page of another origin (a script of another site that
/// posts here). Programs that send no Origin are not browsers and carry a bearer token instead.
bool cross_origin(const http::request& req) {
  return !req.origin.empty() && req.origin != "https://" + req.host;
}

http::response asset_response(const portal_asset& a) {
  http::response res;
  res.status = 200;
  res.content_type = std::string{a.content_type};
  res.body = std::string{a.data};
  res.headers["Content-Security-Policy"] = page_policy;
  res.headers["Cross-Origin-Opener-Policy"] = "same-origin";
  res.headers["Cross-Origin-Resource-Policy"] = "same-origin";
  return res;
}

http::response serve_asset(const std::string& path) {
  for (const auto& a : portal_assets())
    if (a.path == path)
      return asset_response(a);
  return http::response::error(404, "not_found", "the portal has no file " + path);
}

/// 303 to the portal's first page.
http::response to_portal() {
  http::response res;
  res.status = 303;
  res.content_type = "text/plain; charset=utf-8";
  res.body = "The portal is at /portal/\n";
  res.headers["Location"] = "/portal/";
  return res;
}

/// A new session of `who`: the session document and its cookie.
http::response open_session(node_context& ctx, const http::request& req, const user& who, const char* how) {
  auto now = portal_sessions::clock::now();
  auto id = ctx.sessions->open({who.name, who.token_issued_at_ms, how, false, {}, {}}, now);
  auto session = ctx.sessions->find(id, now);
  log::info("portal", "session opened", {{"user", who.name}, {"by", how}, {"remote", req.remote_addr}});
  auto res = http::response::json(201, session_json(ctx, who, *session));
  res.headers["Set-Cookie"] = cookie_header(ctx, id, ctx.cfg.portal_lifetime.count());
  OPENSSL_cleanse(id.data(), id.size());
  return res;
}

/// 303 to `location` (a path of this node, or the identity provider's URL).
http::response see_other(const std::string& location) {
  http::response res;
  res.status = 303;
  res.content_type = "text/plain; charset=utf-8";
  res.body = "See " + location + "\n";
  res.headers["Location"] = location;
  res.headers["Cache-Control"] = "no-store";
  return res;
}

/// Back to the portal's log-in page, telling it why an OpenID Connect log-in failed.
http::response oidc_refused(node_context& ctx, const http::request& req, oidc_failure why, const std::string& detail) {
  if (ctx.metrics)
    ctx.metrics->http_refused("oidc").Increment();
  log::warning("portal", "OpenID Connect log-in refused: " + detail,
               {{"code", to_string(why)}, {"remote", req.remote_addr}});
  return see_other("/portal/#/login?oidc_error=" + std::string{to_string(why)});
}

/// GET /v1/oidc/login: to the identity provider, with this browser bound to the log-in.
http::response oidc_begin(node_context& ctx, const http::request& req) {
  auto then = req.query.count("then") ? req.query.at("then") : std::string{};
  auto start = ctx.oidc->begin(then, portal_sessions::clock::now());
  if (!start)
    return oidc_refused(ctx, req, start.err().code == errc::resource_exhausted ? oidc_failure::state
                                                                                : oidc_failure::unavailable,
                        "cannot start: " + start.err().describe());
  auto res = see_other(start->location);
  // Lax: the provider's redirect back is a top-level navigation from its site.
  res.headers["Set-Cookie"] = oidc_login::binding_cookie_name(ctx.cfg.name) + "=" + start->binding
                              + "; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=600";
  return res;
}

/// GET /v1/oidc/callback: the provider's answer; a session with the person's mapped roles.
http::response oidc_finish(node_context& ctx, const http::request& req) {
  auto arg = [&](const char* name) { return req.query.count(name) ? req.query.at(name) : std::string{}; };
  auto binding = portal_sessions::cookie_value(req.cookie, oidc_login::binding_cookie_name(ctx.cfg.name));
  auto now_s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
  auto outcome = ctx.oidc->finish(arg("code"), arg("state"), arg("error"), binding, now_s.count(),
                                  portal_sessions::clock::now());
  if (!outcome.ok)
    return oidc_refused(ctx, req, outcome.failure, outcome.detail);
  session_owner owner{outcome.person.user, 0, "oidc", true, outcome.person.roles, outcome.person.email};
  auto id = ctx.sessions->open(owner, portal_sessions::clock::now());
  log::info("portal", "session opened",
            {{"user", owner.user}, {"by", "oidc"}, {"subject", outcome.person.subject}, {"remote", req.remote_addr}});
  auto res = see_other("/portal/" + (outcome.then.empty() ? std::string{"#/"} : outcome.then));
  res.headers["Set-Cookie"] = cookie_header(ctx, id, ctx.cfg.portal_lifetime.count());
  OPENSSL_cleanse(id.data(), id.size());
  return res;
}

/// Password checks running at once: each costs 32 MiB and ~0.1 s, so a flood of log-ins cannot take
/// every worker or the node's memory.
std::counting_semaphore<2> password_checks{2};

/// POST /v1/sessions with a user name and password: slowed after failures, per user and per client.
http::response log_in_with_password(node_context& ctx, const http::request& req, json& body) {
  auto name = body["user"].get<std::string>();
  auto password = body["password"].get<std::string>();
  auto wipe = [&] {
    OPENSSL_cleanse(password.data(), password.size());
    auto& p = body["password"].get_ref<std::string&>();
    OPENSSL_cleanse(p.data(), p.size());
  };
  auto now = portal_sessions::clock::now();
  if (name.empty() || name.size() > 64)
    name = "-";  // no user is called that: refused below like any unknown user
  const std::string by_user = "user:" + name, by_client = "client:" + req.remote_addr;
  for (const auto& key : {by_user, by_client})
    if (auto wait = ctx.sessions->locked_for(key, now)) {
      wipe();
      auto res = http::response::error(429, "too_many_requests",
                                       "too many failed log-ins: try again in " + std::to_string(wait->count()) + " s");
      res.headers["Retry-After"] = std::to_string(wait->count());
      return res;
    }
  if (!password_checks.try_acquire_for(std::chrono::seconds{10})) {
    wipe();
    return http::response::error(503, "resource_exhausted", "the node is busy checking log-ins: try again");
  }
  auto found = ctx.users->check_password(name, password);
  password_checks.release();
  wipe();
  if (!found)
    return http::response::error(500, std::string{to_string(found.err().code)}, "cannot check the password");
  if (!*found) {
    ctx.sessions->login_failed(by_user, now);
    ctx.sessions->login_failed(by_client, now);
    if (ctx.metrics)
      ctx.metrics->http_refused("unauthenticated").Increment();
    log::warning("portal", "log-in refused: unknown user or wrong password", {{"remote", req.remote_addr}});
    return http::response::error(401, "unauthorised", "unknown user or wrong password");
  }
  ctx.sessions->login_succeeded(by_user);
  ctx.sessions->login_succeeded(by_client);
  return open_session(ctx, req, **found, "password");
}

/// POST /v1/sessions: a user's API token, or name and password, for a session cookie.
http::response log_in(node_context& ctx, const http::request& req) {
  // Else another site could log a person's browser in as somebody else (log-in forgery).
  if (cross_origin(req))
    return http::response::error(403, "forbidden", "a log-in must come from this node's own pages");
  auto body = json::parse(req.body, nullptr, false);
  bool by_password = body.is_object() && body.contains("user") && body["user"].is_string()
                     && body.contains("password") && body["password"].is_string();
  bool by_token = body.is_object() && body.contains("token") && body["token"].is_string();
  if (body.is_discarded() || !(by_password || by_token))
    return http::response::error(400, "malformed_input", "give {\"token\": \"jct_...\"} (your API token) or "
                                                         "{\"user\": NAME, \"password\": PASSWORD}");
  if (by_password)
    return log_in_with_password(ctx, req, body);
  auto token = body["token"].get<std::string>();
  auto found = ctx.users->authenticate(token);
  OPENSSL_cleanse(token.data(), token.size());
  if (!found) {
    log::error("portal", "cannot look up a token: " + found.err().describe());
    return http::response::error(500, std::string{to_string(found.err().code)}, "cannot look up the token");
  }
  if (!*found) {
    if (ctx.metrics)
      ctx.metrics->http_refused("unauthenticated").Increment();
    log::warning("portal", "log-in refused: unknown token", {{"remote", req.remote_addr}});
    return http::response::error(401, "unauthorised", "this token is not a user's token at this node");
  }
  return open_session(ctx, req, **found, "token");
}

} // namespace

session_caller session_of(const node_context& ctx, const http::request& req) {
  if (!ctx.sessions || req.cookie.empty())
    return {};
  auto id = portal_sessions::cookie_value(req.cookie, portal_sessions::cookie_name(ctx.cfg.name));
  if (id.empty())
    return {};
  auto s = ctx.sessions->find(id, portal_sessions::clock::now());
  if (!s)
    return {};
  bool forged = changes_state(req) && (!portal_sessions::csrf_matches(*s, req.csrf_token) || cross_origin(req));
  auto state = forged ? session_caller::csrf_missing : session_caller::ok;
  if (s->external) {
    // A person of the organisation's identity provider: their roles came with the log-in.
    user who{s->user, {}, 0, "oidc", 0, s->email, false};
    for (const auto& name : s->roles)
      if (auto r = user_role_from_string(name))
        who.roles.insert(*r);
    return {state, std::move(who), std::move(*s)};
  }
  // The user must still exist with the token the session was opened with: removing a user or
  // issuing them a new token ends their sessions.
  auto found = ctx.users->find(s->user);
  if (!found || !*found || (*found)->token_issued_at_ms != s->token_issued_at_ms) {
    ctx.sessions->close(id);
    return {};
  }
  return {state, std::move(**found), std::move(*s)};
}

void register_portal_routes(http::server& server, const std::shared_ptr<node_context>& ctx) {
  if (!ctx->sessions)
    return;
  // The portal's pages name their files relative to /portal/.
  server.route("GET", "/", [](const http::request&) { return to_portal(); });
  server.route("GET", "/portal", [](const http::request&) { return to_portal(); });
  server.route("GET", "/portal/", [](const http::request&) { return serve_asset("index.html"); });
  server.route("GET", "/portal/{file}", [](const http::request& req) {
    return serve_asset(req.params.at("file"));
  });
  server.route("GET", "/portal/{dir}/{file}", [](const http::request& req) {
    return serve_asset(req.params.at("dir") + "/" + req.params.at("file"));
  });
  server.route("POST", "/v1/sessions", [ctx](const http::request& req) { return log_in(*ctx, req); },
               4096);
  // Log-in through the organisation's identity provider (oidc_login.hpp), when configured.
  server.route("GET", "/v1/oidc", [ctx](const http::request&) {
    if (!ctx->oidc)
      return http::response::error(404, "not_found", "this node has no OpenID Connect log-in (oidc.issuer)");
    return http::response::json(200, json{{"enabled", true}, {"label", ctx->oidc->label()}});
  });
  if (ctx->oidc) {
    server.route("GET", "/v1/oidc/login", [ctx](const http::request& req) { return oidc_begin(*ctx, req); });
    server.route("GET", "/v1/oidc/callback", [ctx](const http::request& req) { return oidc_finish(*ctx, req); });
  }
  server.route("GET", "/v1/session", [ctx](const http::request& req) {
    auto caller = session_of(*ctx, req);
    if (caller.state == session_caller::none)
      return http::response::error(401, "unauthorised", "no live session: log in again");
    return http::response::json(200, session_json(*ctx, *caller.who, *caller.session));
  });
  server.route("DELETE", "/v1/session", [ctx](const http::request& req) {
    auto caller = session_of(*ctx, req);
    if (caller.state == session_caller::none)
      return http::response::error(401, "unauthorised", "no live session");
    if (caller.state == session_caller::csrf_missing) {
      if (ctx->metrics)
        ctx->metrics->http_refused("csrf").Increment();
      return http::response::error(403, "csrf_required", "log-out needs the session's X-CSRF-Token");
    }
    ctx->sessions->close(portal_sessions::cookie_value(req.cookie, portal_sessions::cookie_name(ctx->cfg.name)));
    log::info("portal", "session closed", {{"user", caller.who->name}, {"remote", req.remote_addr}});
    http::response res;
    res.status = 204;
    res.content_type.clear();
    res.headers["Set-Cookie"] = cookie_header(*ctx, "", 0);
    return res;
  });
}

http::response check_task_text(const node_context& ctx, const http::request& req) {
  auto task = cli::read_task_text(req.body, "task", cli::now_ms());
  if (!task)
    return http::response::error(http_status(task.err().code), std::string{to_string(task.err().code)},
                                 task.err().message);
  auto check = cli::check_task(*task);
  if (!check)
    return http::response::error(http_status(check.err().code), std::string{to_string(check.err().code)},
                                 check.err().message);
  auto ctsc = cli::with_disclosures(*task);
  if (!ctsc)
    return http::response::error(http_status(ctsc.err().code), std::string{to_string(ctsc.err().code)},
                                 ctsc.err().message);
  return http::response::json(200, json{{"engine", check->engine},
                                        {"features", check->features},
                                        {"disclosures", check->disclosures},
                                        {"approximate", check->approximate},
                                        {"ctsc", json::parse(*ctsc)}});
}

} // namespace joconde
