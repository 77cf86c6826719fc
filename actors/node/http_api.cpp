// The health endpoint and the node's JSON API (DESIGN.md §3). Read-only health is open; everything
// else needs the node admin's bearer token (issue 3 adds users and roles).

#include "node_context.hpp"

#include "joconde/messages/caf_error.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/http_server.hpp"
#include "joconde/runtime/log.hpp"

#include <caf/scoped_actor.hpp>

#include <nlohmann/json.hpp>

namespace joconde {

namespace {

using nlohmann::json;
constexpr auto ask_timeout = std::chrono::seconds{5};

/// Asks an actor for its JSON status; an error object when it does not answer.
template <class Handle>
json ask_status(caf::actor_system& sys, const Handle& whom) {
  json out;
  caf::scoped_actor self{sys};
  self->request(whom, ask_timeout, status_atom::value)
    .receive([&](std::string& doc) { out = json::parse(doc, nullptr, false); },
             [&](caf::error& err) { out = json{{"error", describe(err)}}; });
  return out;
}

bool authorised(const node_context& ctx, const http::request& req) {
  return !req.bearer_token.empty()
         && crypto::constant_time_equal(crypto::to_bytes(req.bearer_token),
                                        crypto::to_bytes(ctx.admin_token));
}

http::response unauthorised() {
  return http::response::error(401, "unauthorised",
                               "this call needs the node admin's bearer token (admin.token)");
}

/// "cp1" -> "cp1.joconde.test", "root" -> "joconde.test"; FQDNs stay as they are.
std::string resolve(const node_context& ctx, const std::string& name) {
  if (name == "root")
    return ctx.domain;
  if (name.find('.') != std::string::npos)
    return name;
  return name + "." + ctx.domain;
}

} // namespace

void register_routes(http::server& server, std::shared_ptr<node_context> ctx) {
  server.route("GET", "/healthz", [ctx](const http::request&) {
    auto cm = ask_status(*ctx->sys, ctx->cm);
    auto links = cm.contains("links") ? cm["links"] : json::array();
    bool ready = !cm.contains("error");
    for (const auto& l : links)
      ready = ready && l.value("up", false);
    json doc{{"node", ctx->cfg.name},
             {"fqdn", ctx->fqdn},
             {"role", ctx->cfg.role},
             {"fingerprint", ctx->fingerprint},
             {"links", links},
             {"ready", ready},
             {"tee", "simulated platform (no TEE hardware); no CT VMs run on this node yet"}};
    return http::response::json(ready ? 200 : 503, doc);
  });
  server.route("GET", "/v1/status", [ctx](const http::request& req) {
    if (!authorised(*ctx, req))
      return unauthorised();
    return http::response::json(200, json{{"node", ctx->fqdn},
                                          {"connection_manager", ask_status(*ctx->sys, ctx->cm)},
                                          {"service_broker", ask_status(*ctx->sys, ctx->broker)},
                                          {"key_manager", ask_status(*ctx->sys, ctx->keys)},
                                          {"access_manager", ask_status(*ctx->sys, ctx->access)}});
  });
  server.route("POST", "/v1/envelopes", [ctx](const http::request& req) {
    if (!authorised(*ctx, req))
      return unauthorised();
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
    auto payload = body.value("payload", std::string{});
    auto ct_id = body.value("ct_id", std::string{});
    auto count = body.value("count", 1);
    if (count < 1 || count > 10000)
      return http::response::error(400, "malformed_input", "count must be between 1 and 10000");
    http::response out;
    caf::scoped_actor self{*ctx->sys};
    // The access policy first: some topics belong to the node's own Management Plane.
    json decision;
    self->request(ctx->access, ask_timeout, authorize_atom::value, std::string{"api"},
                  std::string{"publish"}, body["topic"].get<std::string>())
      .receive([&](std::string& doc) { decision = json::parse(doc, nullptr, false); },
               [&](caf::error& err) { decision = json{{"allowed", false}, {"reason", describe(err)}}; });
    if (!decision.is_object() || !decision.value("allowed", false))
      return http::response::error(403, "forbidden",
                                   decision.is_object() ? decision.value("reason", std::string{})
                                                        : std::string{"no policy decision"});
    self->request(ctx->broker, ask_timeout * 6, publish_atom::value, body["topic"].get<std::string>(),
                  recipients, ct_id, payload, static_cast<uint32_t>(count))
      .receive([&](std::vector<std::string>& ids) { out = http::response::json(202, json{{"ids", ids}}); },
               [&](caf::error& err) {
                 auto code = code_of(err);
                 out = http::response::error(code == errc::none ? 500 : code == errc::forbidden ? 403 : 400,
                                             std::string{to_string(code)}, describe(err));
               });
    return out;
  });
  server.route("GET", "/v1/inbox", [ctx](const http::request& req) {
    if (!authorised(*ctx, req))
      return unauthorised();
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
  server.route("POST", "/v1/revocations", [ctx](const http::request& req) {
    if (!authorised(*ctx, req))
      return unauthorised();
    auto body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.contains("revocation_hex") || !body["revocation_hex"].is_string())
      return http::response::error(400, "malformed_input",
                                   "give \"revocation_hex\": a serialised Revocation in hex");
    auto raw = crypto::from_hex(body["revocation_hex"].get<std::string>());
    if (!raw)
      return http::response::error(400, "malformed_input", raw.err().message);
    http::response out;
    caf::scoped_actor self{*ctx->sys};
    self->request(ctx->identity, ask_timeout, revoke_atom::value, std::string{raw->begin(), raw->end()})
      .receive([&](std::string& fp) { out = http::response::json(200, json{{"revoked", fp}}); },
               [&](caf::error& err) {
                 out = http::response::error(400, std::string{to_string(code_of(err))}, describe(err));
               });
    return out;
  });
  server.route("POST", "/v1/rotate", [ctx](const http::request& req) {
    if (!authorised(*ctx, req))
      return unauthorised();
    http::response out;
    caf::scoped_actor self{*ctx->sys};
    self->request(ctx->identity, ask_timeout, rotate_atom::value)
      .receive([&](std::string& what) { out = http::response::json(202, json{{"rotation", what}}); },
               [&](caf::error& err) { out = http::response::error(500, "internal_error", describe(err)); });
    return out;
  });
  server.route("GET", "/v1/identity", [ctx](const http::request& req) {
    if (!authorised(*ctx, req))
      return unauthorised();
    return http::response::json(200, ask_status(*ctx->sys, ctx->identity));
  });
  server.route("GET", "/v1/trust", [ctx](const http::request& req) {
    if (!authorised(*ctx, req))
      return unauthorised();
    auto txn = ctx->store.env->begin_read();
    if (!txn)
      return http::response::error(500, "storage_error", txn.err().message);
    json confirmed = json::array();
    auto res = txn->for_each(ctx->store.trusted, "", [&](std::string_view fp, std::string_view) {
      confirmed.push_back(std::string{fp});
      return true;
    });
    if (!res)
      return http::response::error(500, "storage_error", res.err().message);
    return http::response::json(200, json{{"confirmed", confirmed}});
  });
}

} // namespace joconde
