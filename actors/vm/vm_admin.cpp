#include "vm_admin.hpp"

#include "vm_sockets.hpp"

#include "joconde/messages/caf_error.hpp"
#include "joconde/runtime/vm_metrics.hpp"

#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <nlohmann/json.hpp>

#include <openssl/crypto.h>

#include <cstdlib>
#include <limits>
#include <map>
#include <optional>

namespace joconde::vm::detail {

namespace {

using nlohmann::json;

http::response json_response(int status, const json& body) {
  http::response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = body.dump();
  return r;
}

bool token_ok(const http::request& req, const std::string& token) {
  return !token.empty() && req.bearer_token.size() == token.size()
         && CRYPTO_memcmp(req.bearer_token.data(), token.data(), token.size()) == 0;
}

/// GET /status: {"uuid","cp_index","phase","reason","platform","slots":[...],"events":[...],"finished"}.
json status_json(const ct_status& st) {
  json slots = json::array();
  for (const auto& s : st.slots) {
    json slot = {{"key", s.key}, {"input", s.input}, {"state", s.state}, {"rows", s.rows}};
    if (!s.input) {
      // Which peers retrieved the output (and through which analyst), which still may.
      json retrieved = json::array();
      for (const auto& r : s.retrieved_by)
        retrieved.push_back({{"peer", r.peer}, {"analyst", r.analyst}, {"at_ms", r.at_ms}});
      slot["peers"] = s.peers;
      slot["retrieved_by"] = std::move(retrieved);
      slot["waiting_for"] = s.waiting_for;
    }
    slots.push_back(std::move(slot));
  }
  json events = json::array();
  for (const auto& e : st.events)
    events.push_back({{"seq", e.seq}, {"at_ms", e.at_ms}, {"kind", e.kind}, {"subject", e.subject},
                      {"value", e.value}});
  return {{"uuid", st.uuid},
          {"cp_index", st.cp_index},
          {"phase", st.phase},
          {"reason", st.reason},
          {"platform", "joconde-simulated (SIMULATED TEE: no memory protection)"},
          {"slots", slots},
          {"events", events},
          {"finished", st.finished}};
}

/// The orchestrator's view of the CT with the events after `since`; nullopt when it does not answer.
std::optional<ct_status> ask_status(caf::actor_system& sys, const task_orchestrator_actor& orchestrator,
                                    std::uint64_t since) {
  caf::scoped_actor self{sys};
  std::optional<ct_status> out;
  self->request(orchestrator, std::chrono::seconds{5}, state_atom::value, since)
    .receive([&](ct_status& st) { out = std::move(st); }, [&](caf::error&) {});
  return out;
}

/// POST /peers: {"peers":[{cp_index, peer_address, mpc_address}, ...]} to the session manager.
http::response post_peers(caf::actor_system& sys, const session_manager_actor& sessions, const http::request& req) {
  auto body = json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("peers") || !body["peers"].is_array())
    return json_response(400, {{"error", "give {\"peers\":[{cp_index, peer_address, mpc_address}]}"}});
  std::map<std::uint32_t, std::string> peer_addresses, mpc;
  for (auto& p : body["peers"]) {
    if (!p.is_object() || !p.contains("cp_index") || !p["cp_index"].is_number_unsigned()
        || !p.contains("peer_address") || !p["peer_address"].is_string() || !p.contains("mpc_address")
        || !p["mpc_address"].is_string())
      return json_response(400, {{"error", "each peer has cp_index, peer_address and mpc_address"}});
    auto cp = p["cp_index"].get<unsigned>();
    peer_addresses[cp] = p["peer_address"].get<std::string>();
    mpc[cp] = p["mpc_address"].get<std::string>();
    if (!parse_address(peer_addresses[cp]) || !parse_address(mpc[cp]))
      return json_response(400, {{"error", "addresses are host:port"}});
  }
  caf::scoped_actor self{sys};
  json out;
  self->request(sessions, std::chrono::seconds{5}, peers_atom::value, peer_addresses, mpc)
    .receive([&](const std::string& msg) { out = {{"code", std::uint32_t{0}}, {"message", msg}}; },
             [&](caf::error& e) {
               if (auto code = code_of(e); code != errc::none)
                 out = {{"code", static_cast<std::uint32_t>(code)}, {"message", message_of(e)}};
               else
                 out = {{"code", 1}, {"message", sys.render(e)}};
             });
  return json_response(out.value("code", 1) == 0 ? 200 : 400, out);
}

} // namespace

result<std::unique_ptr<http::server>> start_admin(caf::actor_system& sys, admin_setup setup) {
  http::server_options options;
  options.listen = setup.listen;
  options.listen_fd = setup.listen_fd;
  options.max_body_bytes = 64 * 1024;
  options.threads = 2;
  // Only the CP's own node calls it (a status poll, a cancel, the peers): a few connections, heads
  // within 5 s; slow or idle clients hold a connection slot at most, never a worker, and give way to
  // newcomers when every slot is taken. Every client of a loopback endpoint is 127.0.0.1, the node
  // too: no per-client limit below the total, so that the node always finds an idle slot to take.
  options.max_connections = 16;
  options.max_connections_per_client = 16;
  options.max_requests_per_client = 4;
  options.header_timeout = std::chrono::seconds{5};
  options.body_timeout = std::chrono::seconds{5};
  options.on_refusal = [metrics = setup.metrics](const std::string&, const std::string& reason) {
    metrics->admin_refused(reason).Increment();
  };
  auto admin = http::server::start(options);
  if (!admin)
    return admin;
  // The token is checked on the head, before any body is read.
  auto admit = [token = setup.token, metrics = setup.metrics](const http::request& req)
    -> std::optional<http::response> {
    if (token_ok(req, token))
      return std::nullopt;
    metrics->admin_refused("unauthenticated").Increment();
    return json_response(401, {{"error", "unauthorized"}});
  };
  auto& server = **admin;
  auto route = [&server, &admit](const char* method, const char* path, http::handler fn) {
    server.route(method, path, std::move(fn), 0, admit);
  };
  auto orchestrator = setup.orchestrator;
  route("GET", "/health", [&sys, orchestrator](const http::request&) {
    auto st = ask_status(sys, orchestrator, std::numeric_limits<std::uint64_t>::max());
    return json_response(200, {{"status", "ok"}, {"phase", st ? json(st->phase) : json{}}});
  });
  route("GET", "/status", [&sys, orchestrator](const http::request& req) {
    std::uint64_t since = 0;
    if (auto it = req.query.find("since"); it != req.query.end())
      since = std::strtoull(it->second.c_str(), nullptr, 10);
    auto st = ask_status(sys, orchestrator, since);
    if (!st)
      return json_response(503, {{"error", "the VM is stopping"}});
    http::response r;
    r.content_type = "application/json";
    r.body = status_json(*st).dump();
    return r;
  });
  route("GET", "/metrics", [metrics = setup.metrics](const http::request&) {
    http::response r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = metrics->text();
    return r;
  });
  route("POST", "/cancel", [orchestrator](const http::request& req) {
    auto body = json::parse(req.body, nullptr, false);
    std::string reason = "cancelled by the Computing Party's node";
    if (body.is_object() && body.contains("reason") && body["reason"].is_string())
      reason += ": " + body["reason"].get<std::string>().substr(0, 200);
    caf::anon_send(orchestrator, cancel_atom::value, reason);
    return json_response(202, {{"status", "cancelling"}});
  });
  route("POST", "/peers", [&sys, sessions = setup.sessions](const http::request& req) {
    return post_peers(sys, sessions, req);
  });
  return admin;
}

} // namespace joconde::vm::detail
