// The health endpoint and the node's JSON API (DESIGN.md §3). Read-only health is open; every other
// call needs a bearer token and one of the roles its route names (docs/service-nodes.md "API").

#include "http_audit.hpp"
#include "http_ctas.hpp"
#include "http_io.hpp"
#include "http_portal.hpp"
#include "node_context.hpp"

#include "../cplane/known_nodes.hpp"
#include "../mplane/access_manager.hpp"
#include "../mplane/confirmations.hpp"
#include "../mplane/revocation.hpp"
#include "../mplane/user_directory.hpp"

#include "joconde/messages/caf_error.hpp"
#include "joconde/messages/canonical.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/http_server.hpp"
#include "joconde/runtime/log.hpp"
#include "joconde/runtime/metrics.hpp"

#include <caf/scoped_actor.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>

namespace joconde {

namespace {

using nlohmann::json;
constexpr auto ask_timeout = std::chrono::seconds{5};

/// A status document (messages/status.hpp) as JSON: integers, booleans, reals and strings as
/// themselves, lists as arrays, documents as objects; a duration in milliseconds.
json status_json(const caf::config_value& x) {
  const auto& v = x.get_data();
  if (auto i = caf::get_if<caf::config_value::integer>(&v))
    return *i;
  if (auto b = caf::get_if<caf::config_value::boolean>(&v))
    return *b;
  if (auto r = caf::get_if<caf::config_value::real>(&v))
    return *r;
  if (auto s = caf::get_if<std::string>(&v))
    return *s;
  if (auto d = caf::get_if<caf::timespan>(&v))
    return std::chrono::duration_cast<std::chrono::milliseconds>(*d).count();
  if (auto l = caf::get_if<caf::config_value::list>(&v)) {
    auto out = json::array();
    for (const auto& e : *l)
      out.push_back(status_json(e));
    return out;
  }
  if (auto d = caf::get_if<caf::settings>(&v)) {
    auto out = json::object();
    for (const auto& [key, value] : *d)
      out[std::string{key}] = status_json(value);
    return out;
  }
  return caf::to_string(x);
}

/// Asks an actor for its status, as JSON; an error object when it does not answer.
template <class Handle>
json ask_status(caf::actor_system& sys, const Handle& whom) {
  json out;
  caf::scoped_actor self{sys};
  self->request(whom, ask_timeout, status_atom::value)
    .receive([&](caf::settings& doc) { out = status_json(caf::config_value{std::move(doc)}); },
             [&](caf::error& err) { out = json{{"error", describe(err)}}; });
  return out;
}

/// The user a request's bearer token belongs to: the built-in operator for admin.token, else a user
/// of this node; without a token, the user of its portal session cookie (`csrf_missing` when it
/// changes something without the session's CSRF token); `none` for an unknown token or no session.
session_caller caller_of(const node_context& ctx, const http::request& req) {
  if (req.bearer_token.empty())
    return session_of(ctx, req);
  if (crypto::constant_time_equal(crypto::to_bytes(req.bearer_token), crypto::to_bytes(ctx.admin_token)))
    return {session_caller::ok, user{std::string{admin_user_name}, {user_role::it_admin}, 0, "joconde-node init", 0, {}, false},
            std::nullopt};
  auto found = ctx.users->authenticate(req.bearer_token);
  if (!found) {
    log::error("api", "cannot look up a token: " + found.err().describe());
    return {};
  }
  if (!*found)
    return {};
  return {session_caller::ok, std::move(**found), std::nullopt};
}

std::string role_list(const std::vector<user_role>& roles) {
  std::string out;
  for (auto r : roles)
    out += (out.empty() ? "" : " or ") + std::string{to_string(r)};
  return out;
}

} // namespace

int http_status(errc code) {
  switch (code) {
    case errc::malformed_input:
    case errc::too_large:
    case errc::untrusted_chain:
    case errc::certificate_revoked:
    case errc::unknown_peer:
    case errc::compile_error:
    case errc::bad_signature:
      return 400;
    case errc::unsupported:
    case errc::quality_failed:
      return 422;
    case errc::forbidden:
    case errc::measurement_mismatch:
    case errc::host_data_mismatch:
    case errc::debug_enabled:
    case errc::tcb_outdated:
      return 403;
    case errc::io_error:
      return 502;
    case errc::not_found:
      return 404;
    case errc::already_exists:
    case errc::invalid_state:
    case errc::replayed:
    case errc::duplicate:
    case errc::unconfirmed_member:
      return 409;
    case errc::timeout:
      return 504;
    case errc::resource_exhausted:
      return 503;
    case errc::no_space:
      return 507;
    default:
      return 500;
  }
}

http::response error_response(const caf::error& err) {
  auto code = code_of(err);
  return http::response::error(http_status(code),
                               code == errc::none ? "internal_error" : std::string{to_string(code)},
                               message_of(err));
}

std::string resolve(const node_context& ctx, const std::string& name) {
  if (name == "root")
    return ctx.domain;
  if (name.find('.') != std::string::npos)
    return name;
  return name + "." + ctx.domain;
}

namespace {

/// The 401 of a call without a valid token.
http::response unauthorised() {
  return http::response::error(401, "unauthorised",
                               "this call needs a bearer token: a user's token (joconde-node user "
                               "add) or the node operator's admin.token; or a portal session");
}

/// The 403 of a portal session's change without its CSRF token (counted and logged: a forged
/// request from another site looks like this).
http::response csrf_refused(const node_context& ctx, const std::string& what, const user& who,
                            const std::string& remote) {
  if (ctx.metrics)
    ctx.metrics->http_refused("csrf").Increment();
  log::warning("api", what + " refused: no valid CSRF token",
               {{"user", who.name}, {"status", "403"}, {"remote", remote}});
  return http::response::error(403, "csrf_required",
                               "a change made in a portal session must carry the session's "
                               "X-CSRF-Token and come from this node's own pages");
}

/// Counts a call refused for want of a valid token and logs it, at most 20 lines a second (a flood of
/// unauthenticated calls must not fill the disk; the metric counts every one).
void note_unauthenticated(const node_context& ctx, const std::string& what, const std::string& remote) {
  if (ctx.metrics)
    ctx.metrics->http_refused("unauthenticated").Increment();
  static log::rate_limiter limiter;
  std::uint64_t held_back = 0;
  bool logged = limiter.should_log(held_back);
  if (held_back > 0)
    log::warning("api", std::to_string(held_back) + " more call(s) without a valid token were not logged");
  if (logged)
    log::warning("api", what + " refused: no valid token", {{"status", "401"}, {"remote", remote}});
}

/// Registers a route that needs a valid token and one of `roles` (any user if empty). The token and
/// role are checked on the request head, before any byte of the body is read: an unauthenticated
/// caller costs the node its head only, whatever Content-Length it announces. Every call is logged
/// with its user and outcome; a missing role is a policy denial (counted, audited).
template <class Handler>
void secured(http::server& server, std::shared_ptr<node_context> ctx, const char* method,
             const char* path, std::vector<user_role> roles, Handler handler, size_t max_body = 0) {
  std::string what = std::string{method} + " " + path;
  auto admit = [ctx, roles, what](const http::request& req) -> std::optional<http::response> {
    auto caller = caller_of(*ctx, req);
    if (caller.state == session_caller::none) {
      note_unauthenticated(*ctx, what, req.remote_addr);
      return unauthorised();
    }
    if (caller.state == session_caller::csrf_missing)
      return csrf_refused(*ctx, what, *caller.who, req.remote_addr);
    const auto& who = caller.who;
    bool allowed = roles.empty();
    for (auto r : roles)
      allowed = allowed || who->has(r);
    if (allowed)
      return std::nullopt;
    policy_decision d{false, "api.role", what + " needs the role " + role_list(roles)};
    report_denial(d, who->name, what, ctx->audit, ctx->metrics);
    return http::response::error(403, "forbidden", d.reason + "; " + who->name + " does not have it");
  };
  server.route(method, path, [ctx, handler, what](const http::request& req) {
    // Looked up again: the token may have been revoked while the body arrived.
    auto caller = caller_of(*ctx, req);
    if (caller.state == session_caller::none) {
      note_unauthenticated(*ctx, what, req.remote_addr);
      return unauthorised();
    }
    if (caller.state == session_caller::csrf_missing)
      return csrf_refused(*ctx, what, *caller.who, req.remote_addr);
    const auto& who = caller.who;
    auto res = handler(req, *who);
    if (res.status < 400) {
      log::info("api", what, {{"user", who->name}, {"status", std::to_string(res.status)}});
      return res;
    }
    // A refusal is logged with its reason (the error the caller got).
    auto body = json::parse(res.body, nullptr, false);
    std::string code = "error", message;
    if (body.is_object() && body.contains("error") && body["error"].is_object()) {
      code = body["error"].value("code", code);
      message = body["error"].value("message", std::string{});
    }
    log::warning("api", what + " refused: " + message,
                 {{"user", who->name}, {"status", std::to_string(res.status)}, {"reason", code}});
    return res;
  }, max_body, std::move(admit));
}

/// Registers the health endpoint, the status of the node's actors and its TEE description.
void register_health_routes(http::server& server, const std::shared_ptr<node_context>& ctx) {
  server.route("GET", "/healthz", [ctx](const http::request&) {
    auto cm = ask_status(*ctx->sys, ctx->cm);
    auto links = cm.contains("links") ? cm["links"] : json::array();
    bool ready = !cm.contains("error");
    for (const auto& l : links)
      ready = ready && l.value("up", false);
    // Faults that keep the node from doing its work although it answers: a full store.
    json degraded = json::array();
    if (auto fault = ctx->store.env->no_space())
      degraded.push_back({{"component", "store"},
                          {"reason", std::string{to_string(errc::no_space)}},
                          {"message", fault->message},
                          {"since_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                         fault->since.time_since_epoch()).count()},
                          {"failures", fault->failures}});
    const char* status = !degraded.empty() ? "degraded" : ready ? "ok" : "not_ready";
    ready = ready && degraded.empty();
    json doc{{"node", ctx->cfg.name},
             {"fqdn", ctx->fqdn},
             {"role", ctx->cfg.role},
             {"fingerprint", ctx->fingerprint},
             {"links", links},
             {"ready", ready},
             {"status", status},
             {"degraded", degraded},
             {"tee", "simulated platform (no TEE hardware, no memory protection)"}};
    return http::response::json(ready ? 200 : 503, doc);
  });
  secured(server, ctx, "GET", "/v1/status", {user_role::it_admin, user_role::auditor},
          [ctx](const http::request& req, const user& who) {
    return http::response::json(200, json{{"node", ctx->fqdn},
                                          {"connection_manager", ask_status(*ctx->sys, ctx->cm)},
                                          {"service_broker", ask_status(*ctx->sys, ctx->broker)},
                                          {"key_manager", ask_status(*ctx->sys, ctx->keys)},
                                          {"access_manager", ask_status(*ctx->sys, ctx->access)},
                                          {"io_service", ask_status(*ctx->sys, ctx->io)},
                                          {"deployment_operator",
                                           ctx->deployer ? ask_status(*ctx->sys, ctx->deployer) : json{}}});
  });
  // The CT VM image this node runs or expects (DESIGN.md §8): what a CTSC's tee_measurements names.
  secured(server, ctx, "GET", "/v1/tee", {}, [ctx](const http::request&, const user&) {
    auto doc = tee_description(tee_of(ctx->cfg));
    if (!doc)
      return http::response::error(503, std::string{to_string(doc.err().code)},
                                   "this node cannot tell its CT VM measurement: " + doc.err().message);
    (*doc)["node"] = ctx->fqdn;
    return http::response::json(200, *doc);
  });
}

/// Registers the routes that publish envelopes and read the inbox.
void register_message_routes(http::server& server, const std::shared_ptr<node_context>& ctx) {
  secured(server, ctx, "POST", "/v1/envelopes", {user_role::it_admin},
          [ctx](const http::request& req, const user& who) {
    auto body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object())
      return http::response::error(400, "malformed_input", "the body must be a JSON object");
    if (!body.contains("topic") || !body["topic"].is_string() || !body.contains("recipients")
        || !body["recipients"].is_array())
      return http::response::error(400, "malformed_input",
                                   "give \"topic\" (string) and \"recipients\" (array of node names)");
    std::vector<std::string> recipients;
    for (const auto& r : body["recipients"]) {
      if (!r.is_string())
        return http::response::error(400, "malformed_input", "recipients must be strings");
      recipients.push_back(resolve(*ctx, r.get<std::string>()));
    }
    for (const auto* key : {"payload", "ct_id"})
      if (body.contains(key) && !body[key].is_string())
        return http::response::error(400, "malformed_input", std::string{key} + " must be a string");
    if (body.contains("count") && !body["count"].is_number_integer())
      return http::response::error(400, "malformed_input", "count must be an integer");
    auto payload = body.value("payload", std::string{});
    auto ct_id = body.value("ct_id", std::string{});
    auto count = body.value("count", int64_t{1});
    if (count < 1 || count > 10000)
      return http::response::error(400, "malformed_input", "count must be between 1 and 10000");
    http::response out;
    caf::scoped_actor self{*ctx->sys};
    // The access policy first: some topics belong to the node's own Management Plane.
    policy_decision decision{false, "no-answer", "no policy decision"};
    self->request(ctx->access, ask_timeout, authorize_atom::value, std::string{"api"},
                  std::string{"publish"}, body["topic"].get<std::string>())
      .receive([&](policy_decision& d) { decision = std::move(d); },
               [&](caf::error& err) { decision.reason = describe(err); });
    if (!decision.allowed)
      return http::response::error(403, "forbidden", decision.reason);
    self->request(ctx->broker, ask_timeout * 6, publish_atom::value, body["topic"].get<std::string>(),
                  recipients, ct_id, payload, static_cast<uint32_t>(count))
      .receive([&](std::vector<std::string>& ids) { out = http::response::json(202, json{{"ids", ids}}); },
               [&](caf::error& err) { out = error_response(err); });
    return out;
  });
  secured(server, ctx, "GET", "/v1/inbox", {user_role::it_admin, user_role::auditor},
          [ctx](const http::request& req, const user& who) {
    std::string prefix;
    if (auto i = req.query.find("topic"); i != req.query.end()) {
      prefix = i->second;
      prefix.push_back('\0');
    }
    bool count_only = req.query.count("count_only") > 0;
    auto txn = ctx->store.env->begin_read();
    if (!txn)
      return http::response::error(500, "storage_error", txn.err().message);
    json entries = json::array();
    size_t count = 0;
    auto res = txn->for_each(ctx->store.inbox, prefix, [&](std::string_view, std::string_view value) {
      ++count;
      if (!count_only) {
        auto rec = json::parse(value, nullptr, false);
        if (!rec.is_discarded())
          entries.push_back(std::move(rec));
      }
      return count < 1000000;
    });
    if (!res)
      return http::response::error(500, "storage_error", res.err().message);
    json doc{{"count", count}};
    if (!count_only)
      doc["entries"] = std::move(entries);
    return http::response::json(200, doc);
  });
}

/// Signs through the node's key manager (the key never leaves it).
class key_manager_signer : public node_signer {
public:
  explicit key_manager_signer(const node_context& ctx) : ctx_(ctx) {}

  result<crypto::bytes> sign(crypto::bytes_view msg) const override {
    result<crypto::bytes> out = fail(errc::timeout, "the key manager did not answer");
    caf::scoped_actor self{*ctx_.sys};
    self->request(ctx_.keys, ask_timeout, sign_atom::value, std::vector<std::string>{{msg.begin(), msg.end()}})
      .receive(
        [&](std::vector<std::string>& sigs) {
          if (sigs.size() == 1)
            out = crypto::to_bytes(sigs.front());
        },
        [&](caf::error& err) { out = fail(code_of(err), describe(err)); });
    return out;
  }

  result<crypto::certificate> issue(const crypto::subject&, const std::vector<std::string>&,
                                    const crypto::public_key&, const crypto::certificate&,
                                    const crypto::issue_profile&) const override {
    return fail(errc::unsupported, "certificates are issued by the identity manager, not through the API");
  }

private:
  const node_context& ctx_;
};

/// This node's revocation of its own certificate, signed with its key (spec §4.4.2.3: "An IT
/// Administrator or General Manager can revoke a Key Pair using the Service Node if they suspect
/// that the private key has leaked").
result<std::string> self_revocation(const node_context& ctx, const std::string& reason) {
  if (reason.find_first_not_of(" \t\r\n") == std::string::npos || reason.size() > 1024 || !proto::is_utf8(reason))
    return fail(errc::malformed_input, "give \"reason\": why the certificate is revoked (1 to 1024 bytes of text)");
  auto chain = ctx.trust->own_chain();
  if (chain.size() < 2)
    return fail(errc::forbidden, "the root node's certificate is revoked with the offline root CA, not here");
  auto names = chain.front().dns_names();
  return make_revocation(names.empty() ? ctx.fqdn : names.front(), chain.front().fingerprint(), reason,
                         false, ctx.trust->own_chain_der(), key_manager_signer{ctx},
                         std::chrono::system_clock::now());
}

/// Registers the PKI routes: revocations, key rotation, the identity and the trust store.
void register_pki_routes(http::server& server, const std::shared_ptr<node_context>& ctx) {
  // {"revocation_hex": ...}: a revocation made elsewhere (joconde-node revoke), IT administrators
  // only; {"reason": ...}: this node revokes its own certificate, also at a General Manager's request.
  secured(server, ctx, "POST", "/v1/revocations", {user_role::it_admin, user_role::general_manager},
          [ctx](const http::request& req, const user& who) {
    auto body = json::parse(req.body, nullptr, false);
    std::string bytes;
    if (!body.is_discarded() && body.is_object() && body.contains("revocation_hex")
        && body["revocation_hex"].is_string()) {
      if (!who.has(user_role::it_admin))
        return http::response::error(403, "forbidden", "a revocation made elsewhere is handed over by an IT "
                                                       "administrator; give \"reason\" to revoke this node's "
                                                       "own certificate");
      auto raw = crypto::from_hex(body["revocation_hex"].get<std::string>());
      if (!raw)
        return http::response::error(400, "malformed_input", raw.err().message);
      bytes.assign(raw->begin(), raw->end());
    } else if (!body.is_discarded() && body.is_object() && body.contains("reason") && body["reason"].is_string()) {
      auto made = self_revocation(*ctx, body["reason"].get<std::string>());
      if (!made)
        return http::response::error(http_status(made.err().code), std::string{to_string(made.err().code)},
                                     made.err().message);
      bytes = std::move(*made);
      caf::anon_send(ctx->audit, audit_atom::value, std::string{"http_api"}, std::string{"pki.revocation.requested"},
                     std::vector<std::string>{"user", who.name, "reason", body["reason"].get<std::string>()});
    } else {
      return http::response::error(400, "malformed_input",
                                   "give \"reason\" (this node revokes its own certificate) or "
                                   "\"revocation_hex\": a serialised Revocation in hex");
    }
    http::response out;
    caf::scoped_actor self{*ctx->sys};
    self->request(ctx->identity, ask_timeout, revoke_atom::value, bytes)
      .receive([&](std::string& fp) { out = http::response::json(200, json{{"revoked", fp}}); },
               [&](caf::error& err) {
                 out = http::response::error(400, std::string{to_string(code_of(err))}, describe(err));
               });
    return out;
  });
  secured(server, ctx, "POST", "/v1/rotate", {user_role::it_admin},
          [ctx](const http::request& req, const user& who) {
    http::response out;
    caf::scoped_actor self{*ctx->sys};
    self->request(ctx->identity, ask_timeout, rotate_atom::value)
      .receive([&](std::string& what) { out = http::response::json(202, json{{"rotation", what}}); },
               [&](caf::error& err) { out = http::response::error(500, "internal_error", describe(err)); });
    return out;
  });
  secured(server, ctx, "GET", "/v1/identity", {user_role::it_admin, user_role::auditor},
          [ctx](const http::request& req, const user& who) {
    return http::response::json(200, ask_status(*ctx->sys, ctx->identity));
  });
  secured(server, ctx, "GET", "/v1/trust", {user_role::it_admin, user_role::auditor},
          [ctx](const http::request& req, const user& who) {
    auto txn = ctx->store.env->begin_read();
    if (!txn)
      return http::response::error(500, "storage_error", txn.err().message);
    json confirmed = json::array();
    json records = json::array();
    auto res = txn->for_each(ctx->store.trusted, "", [&](std::string_view fp, std::string_view value) {
      confirmed.push_back(std::string{fp});
      auto c = decode_confirmation(value);
      json rec{{"fingerprint", std::string{fp}}, {"confirmed_at_ms", c.at_ms}};
      if (!c.rotated_from.empty())
        rec["rotated_from"] = c.rotated_from;
      records.push_back(std::move(rec));
      return true;
    });
    if (!res)
      return http::response::error(500, "storage_error", res.err().message);
    return http::response::json(200, json{{"confirmed", confirmed}, {"records", records}});
  });
  // The trusted view a Task Organiser drafts from: this node, its children, the members of its CTAs.
  secured(server, ctx, "GET", "/v1/nodes", {user_role::task_organiser, user_role::it_admin, user_role::auditor},
          [ctx](const http::request& req, const user& who) {
    auto nodes = known_nodes(ctx->store, ctx->fqdn, ctx->cfg.role, ctx->trust->own_chain().front());
    if (!nodes)
      return http::response::error(500, "storage_error", nodes.err().message);
    json list = json::array();
    for (const auto& n : *nodes)
      list.push_back(json{{"fqdn", n.fqdn}, {"role", n.role}, {"organisation", n.organisation},
                          {"department", n.department}, {"contact", n.contact}, {"fingerprint", n.fingerprint},
                          {"trust", n.trust}, {"ctas", n.ctas}, {"last_seen_ms", n.last_seen_ms}});
    return http::response::json(200, json{{"self", ctx->fqdn}, {"nodes", std::move(list)}});
  });
}

/// Registers the agreement (CTA) routes and the IO Service's uploads and downloads.
void register_cta_routes(http::server& server, const std::shared_ptr<node_context>& ctx) {
  // -- agreements (issue 3): the artefact manager's face, http_ctas.hpp --
  secured(server, ctx, "POST", "/v1/ctas", {user_role::task_organiser},
          [ctx](const http::request& req, const user& who) { return post_cta(*ctx, req, who); });
  secured(server, ctx, "POST", "/v1/ctas/{uuid}/ctsa", {user_role::task_organiser},
          [ctx](const http::request& req, const user& who) { return post_ctsa(*ctx, req, who); });
  secured(server, ctx, "POST", "/v1/ctas/{uuid}/signatures", {user_role::signatory},
          [ctx](const http::request& req, const user& who) { return post_signature(*ctx, req, who); });
  secured(server, ctx, "POST", "/v1/ctas/{uuid}/decisions", {user_role::approver},
          [ctx](const http::request& req, const user& who) { return post_decision(*ctx, req, who); });
  secured(server, ctx, "POST", "/v1/ctas/{uuid}/cancel",
          {user_role::task_organiser, user_role::approver, user_role::general_manager},
          [ctx](const http::request& req, const user& who) { return post_cancel(*ctx, req, who); });
  // SYS-2.1: an IT administrator lets this node commit to a CTA although a member of it was not
  // confirmed out of band here; stored, audited and shown in the CTA.
  secured(server, ctx, "POST", "/v1/ctas/{uuid}/overrides", {user_role::it_admin},
          [ctx](const http::request& req, const user& who) { return post_override(*ctx, req, who); });
  // A data custodian or analyst registers the public half of the key pair they made for this CTA.
  secured(server, ctx, "POST", "/v1/ctas/{uuid}/paks", {user_role::data_custodian, user_role::data_analyst},
          [ctx](const http::request& req, const user& who) { return post_pak(*ctx, req, who); });
  auto read_roles = std::vector<user_role>{user_role::task_organiser, user_role::signatory,
                                           user_role::general_manager, user_role::approver,
                                           user_role::auditor, user_role::it_admin,
                                           user_role::data_custodian, user_role::data_analyst};
  secured(server, ctx, "GET", "/v1/ctas", read_roles,
          [ctx](const http::request&, const user&) { return get_ctas(*ctx, ""); });
  secured(server, ctx, "GET", "/v1/ctas/{uuid}", read_roles,
          [ctx](const http::request& req, const user&) { return get_ctas(*ctx, req.params.at("uuid")); });
  // The IO Service (http_io.hpp): a Data Custodian's upload, a Data Analyst's download.
  secured(
    server, ctx, "POST", "/v1/ctas/{uuid}/inputs/{key}", {user_role::data_custodian},
    [ctx](const http::request& req, const user& who) { return upload_input(*ctx, req, who); },
    max_upload_bytes);
  secured(server, ctx, "POST", "/v1/ctas/{uuid}/outputs/{key}", {user_role::data_analyst},
          [ctx](const http::request& req, const user& who) { return download_output(*ctx, req, who); });
}

/// Registers the routes about the node's people: who am I and the list of users.
void register_user_routes(http::server& server, const std::shared_ptr<node_context>& ctx) {
  secured(server, ctx, "GET", "/v1/whoami", {}, [ctx](const http::request&, const user& who) {
    json roles = json::array();
    for (auto r : who.roles)
      roles.push_back(std::string{to_string(r)});
    return http::response::json(200, json{{"user", who.name}, {"roles", roles}, {"node", ctx->fqdn}});
  });
  secured(server, ctx, "GET", "/v1/users", {user_role::it_admin, user_role::auditor},
          [ctx](const http::request&, const user&) {
            auto users = ctx->users->list();
            if (!users)
              return http::response::error(500, std::string{to_string(users.err().code)},
                                           users.err().message);
            json out = json::array();
            for (const auto& u : *users) {
              json roles = json::array();
              for (auto r : u.roles)
                roles.push_back(std::string{to_string(r)});
              out.push_back({{"name", u.name},
                             {"roles", roles},
                             {"email", u.email},
                             {"created_at_ms", u.created_at_ms},
                             {"created_by", u.created_by},
                             {"token_issued_at_ms", u.token_issued_at_ms}});
            }
            return http::response::json(200, json{{"users", out}});
          });
}

} // namespace

void register_routes(http::server& server, std::shared_ptr<node_context> ctx) {
  register_health_routes(server, ctx);
  register_message_routes(server, ctx);
  register_pki_routes(server, ctx);
  register_cta_routes(server, ctx);
  register_user_routes(server, ctx);
  // The portal's files, log-in and sessions (http_portal.hpp).
  register_portal_routes(server, ctx);
  // The Auditor's view of this node's audit log (http_audit.hpp).
  const std::vector<user_role> audit_roles{user_role::auditor, user_role::it_admin};
  secured(server, ctx, "GET", "/v1/audit", audit_roles,
          [ctx](const http::request& req, const user&) { return get_audit_records(*ctx, req); });
  secured(server, ctx, "GET", "/v1/audit/export", audit_roles,
          [ctx](const http::request& req, const user&) { return export_audit_records(*ctx, req); });
  secured(server, ctx, "GET", "/v1/audit/verify", audit_roles,
          [ctx](const http::request&, const user&) { return verify_audit_log(*ctx); });
  // The draft page's live check: what `joconde sql check` says of a task, and its CTSC.
  secured(server, ctx, "POST", "/v1/tasks/check", {user_role::task_organiser},
          [ctx](const http::request& req, const user&) { return check_task_text(*ctx, req); });
}

} // namespace joconde
