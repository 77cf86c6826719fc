// joconde-vm start-up: the CTA checked against the host data, the endpoints, the actor tree, the
// host's admin endpoint (vm_run.hpp, DESIGN.md §4).
//
//   task_orchestrator ─┬─ task_policy        the CTA, read-only: who may write/read which slot
//   (phases: the       ├─ attestation_proxy  this VM's evidence; verifies counterparts and clients' VMs
//    task_state_machine├─ session_manager    attested client sessions and counterpart links (threads)
//    class; the slots: └─ mpc_party          the engine run (detached), spawned for the calculation
//    data_slot classes)

#include "vm_internal.hpp"

#include "joconde/runtime/canonical_hash.hpp"
#include "joconde/runtime/http_server.hpp"
#include "joconde/runtime/log.hpp"

#include <joconde/agreement.pb.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <nlohmann/json.hpp>

#include <openssl/crypto.h>

#include <condition_variable>
#include <cstring>
#include <fstream>
#include <iostream>
#include <limits>
#include <optional>

namespace joconde::vm {

namespace {

using namespace detail;
using nlohmann::json;

constexpr const char* component = "vm";

result<void> write_endpoints(const fs::path& dir, const std::string& admin, const session_shared& sh) {
  json doc{{"admin", admin},
           {"client", sh.client_address.text()},
           {"peer", sh.peer_address.text()},
           {"mpc", sh.mpc_address.text()}};
  auto tmp = dir / "endpoints.json.tmp";
  {
    std::ofstream out{tmp, std::ios::trunc};
    out << doc.dump() << "\n";
    if (!out)
      return fail(errc::io_error, "cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, dir / "endpoints.json", ec);
  if (ec)
    return fail(errc::io_error, "cannot write endpoints.json: " + ec.message());
  return ok();
}

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


} // namespace


int run_vm(const vm_options& options, const image_config& image, const enclave::host_data& host,
           std::shared_ptr<const enclave::attester> attester, std::shared_ptr<const std::atomic<bool>> stop) {
  auto die = [](const std::string& what) {
    log::error(component, what);
    std::cerr << "joconde-vm: " << what << "\n";
    return exit_failed;
  };
  // -- the CTA, checked against the host data the platform recorded at launch --
  std::ifstream in{options.cta_file, std::ios::binary};
  if (!in)
    return die("cannot read the CTA " + options.cta_file.string());
  std::string cta_bytes{std::istreambuf_iterator<char>{in}, {}};
  auto ctx = std::make_shared<vm_context>();
  if (cta_bytes.size() > 64 * 1024 * 1024 || !ctx->final.ParseFromString(cta_bytes))
    return die("the CTA file is not a final CTA");
  auto hash = canonical_hash(ctx->final.cta());
  if (!hash || hash->size() != host.size() || !std::equal(host.begin(), host.end(), hash->begin()))
    return die("the CTA given does not match the host data the platform recorded at launch");
  const auto& ctsc = ctx->final.cta().ctsc();
  ctx->options = options;
  ctx->image = image;
  ctx->host = host;
  ctx->uuid = ctsc.uuid();
  ctx->cta_hash_hex = crypto::hex(*hash);
  ctx->parties = static_cast<unsigned>(ctsc.computing_parties_size());
  if (ctx->parties < 3 || options.cp_index >= ctx->parties)
    return die("CP index " + std::to_string(options.cp_index) + " is not one of the CTA's "
               + std::to_string(ctx->parties) + " computing parties");
  ctx->attester = std::move(attester);
  ctx->verifier = std::make_shared<enclave::simulated_verifier>(image.trusted_roots);
  ctx->reference.cta_hash = host;
  ctx->reference.allow_simulated = image.allow_simulated;
  ctx->reference.min_tcb_version = image.min_tcb_version;
  for (const auto& m : ctsc.tee_measurements()) {
    if (m.measurement().size() != 48)
      continue;
    enclave::measurement mm{};
    std::memcpy(mm.data(), m.measurement().data(), 48);
    ctx->reference.measurements.push_back(mm);
  }
  if (ctx->reference.measurements.empty())
    return die("the CTSC names no 48-byte TEE measurement: counterparts cannot be attested");
  ctx->metrics = std::make_shared<metrics::vm_registry>();
  auto key = enclave::sealing_key::generate();
  if (!key)
    return die(key.err().describe());
  ctx->key = std::make_shared<enclave::sealing_key>(std::move(*key));
  ctx->slots_dir = options.data_dir / "slots";
  std::error_code ec;
  fs::create_directories(ctx->slots_dir, ec);
  fs::permissions(options.data_dir, fs::perms::owner_all, ec);
  // -- endpoints --
  // Every endpoint takes a port of the range the CP's operator opened (vm.ports); clients and
  // counterparts reach them at the advertised host, the host's admin endpoint at its bind address.
  auto sh = std::make_shared<session_shared>();
  auto advertised = options.advertise_host.empty() ? options.bind_host : options.advertise_host;
  if (net::is_wildcard(advertised))
    return die("the advertised host of the CT VM's endpoints is the wildcard " + advertised
               + ": give the host name or address others reach this CP at (vm.advertise)");
  auto cl = listen_on(options.bind_host, options.ports);
  auto pl = listen_on(options.bind_host, options.ports);
  auto ml = listen_on(options.bind_host, options.ports);
  auto al = listen_on(options.admin_bind_host, options.ports);
  if (!cl || !pl || !ml || !al)
    return die("cannot listen: " + (!cl ? cl.err() : !pl ? pl.err() : !ml ? ml.err() : al.err()).describe());
  sh->client_listener = std::move(cl->first);
  sh->client_address = {advertised, cl->second};
  sh->peer_listener = std::move(pl->first);
  sh->peer_address = {advertised, pl->second};
  sh->mpc_address = {advertised, ml->second};
  auto mpc_fd = std::make_shared<int>(ml->first.release());
  // -- the actor tree --
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", size_t{2});
  caf::actor_system sys{cfg};
  std::mutex exit_mutex;
  std::condition_variable exit_cv;
  std::optional<int> exit_status;
  context_ptr cctx = ctx;
  auto policy = sys.spawn(task_policy_actor, cctx);
  auto proxy = sys.spawn(attestation_proxy, cctx);
  auto orchestrator = spawn_task_orchestrator(sys, cctx,
                                              [&](int status) {
                                                std::lock_guard lock{exit_mutex};
                                                exit_status = status;
                                                exit_cv.notify_all();
                                              },
                                              mpc_fd, policy, proxy);
  sh->ctx = cctx;
  sh->orchestrator = orchestrator;
  sh->policy = policy;
  sh->attester = std::make_shared<proxy_attester>(sys, proxy);
  sh->verifier = std::make_shared<proxy_verifier>(sys, proxy, cctx);
  auto sessions = sys.spawn(session_manager, sh);
  caf::anon_send(orchestrator, adopt_atom::value, caf::actor{sessions});
  // -- the host's endpoint --
  http::server_options admin_options;
  admin_options.listen = address{options.admin_bind_host, al->second}.text();
  admin_options.listen_fd = al->first.release();
  admin_options.max_body_bytes = 64 * 1024;
  admin_options.threads = 2;
  // Only the CP's own node calls it (a status poll, a cancel, the peers): a few connections, heads
  // within 5 s; slow or idle clients hold a connection slot at most, never a worker, and give way to
  // newcomers when every slot is taken. Every client of a loopback endpoint is 127.0.0.1, the node
  // too: no per-client limit below the total, so that the node always finds an idle slot to take.
  admin_options.max_connections = 16;
  admin_options.max_connections_per_client = 16;
  admin_options.max_requests_per_client = 4;
  admin_options.header_timeout = std::chrono::seconds{5};
  admin_options.body_timeout = std::chrono::seconds{5};
  admin_options.on_refusal = [metrics = ctx->metrics](const std::string&, const std::string& reason) {
    metrics->admin_refused(reason).Increment();
  };
  auto admin = http::server::start(admin_options);
  if (!admin) {
    caf::anon_send_exit(orchestrator, caf::exit_reason::user_shutdown);
    return die("cannot serve the admin endpoint: " + admin.err().describe());
  }
  // The token is checked on the head, before any body is read.
  auto admit = [token = options.admin_token, metrics = ctx->metrics](const http::request& req)
    -> std::optional<http::response> {
    if (token_ok(req, token))
      return std::nullopt;
    metrics->admin_refused("unauthenticated").Increment();
    return json_response(401, {{"error", "unauthorized"}});
  };
  auto route = [&admin, &admit](const char* method, const char* path, http::handler fn) {
    (*admin)->route(method, path, std::move(fn), 0, admit);
  };
  auto ask = [&sys, orchestrator](auto... xs) {
    caf::scoped_actor self{sys};
    std::string out;
    self->request(orchestrator, std::chrono::seconds{5}, xs...)
      .receive([&](const std::string& s) { out = s; }, [&](caf::error&) {});
    return out;
  };
  route("GET", "/health", [&](const http::request& req) {
    auto st = json::parse(ask(events_atom::value, std::numeric_limits<std::uint64_t>::max()), nullptr, false);
    return json_response(200, {{"status", "ok"}, {"phase", st.is_object() ? st["phase"] : json{}}});
  });
  route("GET", "/status", [&](const http::request& req) {
    std::uint64_t since = 0;
    if (auto it = req.query.find("since"); it != req.query.end())
      since = std::strtoull(it->second.c_str(), nullptr, 10);
    auto body = ask(events_atom::value, since);
    if (body.empty())
      return json_response(503, {{"error", "the VM is stopping"}});
    http::response r;
    r.content_type = "application/json";
    r.body = body;
    return r;
  });
  route("GET", "/metrics", [&](const http::request& req) {
    http::response r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = ctx->metrics->text();
    return r;
  });
  route("POST", "/cancel", [&](const http::request& req) {
    auto body = json::parse(req.body, nullptr, false);
    std::string reason = "cancelled by the Computing Party's node";
    if (body.is_object() && body.contains("reason") && body["reason"].is_string())
      reason += ": " + body["reason"].get<std::string>().substr(0, 200);
    caf::anon_send(orchestrator, cancel_atom::value, reason);
    return json_response(202, {{"status", "cancelling"}});
  });
  route("POST", "/peers", [&](const http::request& req) {
    auto body = json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("peers") || !body["peers"].is_array())
      return json_response(400, {{"error", "give {\"peers\":[{cp_index, peer_address, mpc_address}]}"}});
    std::map<unsigned, std::string> peer_addresses, mpc;
    for (auto& p : body["peers"]) {
      if (!p.is_object() || !p.contains("cp_index") || !p["cp_index"].is_number_unsigned()
          || !p.contains("peer_address") || !p["peer_address"].is_string()
          || !p.contains("mpc_address") || !p["mpc_address"].is_string())
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
      .receive([&](std::uint32_t code, const std::string& msg) { out = {{"code", code}, {"message", msg}}; },
               [&](caf::error& e) { out = {{"code", 1}, {"message", sys.render(e)}}; });
    return json_response(out.value("code", 1) == 0 ? 200 : 400, out);
  });
  // The host reaches a wildcard admin endpoint over loopback.
  auto admin_host = options.admin_bind_host;
  if (net::is_wildcard(admin_host))
    admin_host = net::is_ipv6_literal(admin_host) ? "::1" : "127.0.0.1";
  if (auto r = write_endpoints(options.data_dir, address{admin_host, al->second}.text(), *sh); !r) {
    caf::anon_send_exit(orchestrator, caf::exit_reason::user_shutdown);
    return die(r.err().describe());
  }
  log::notice(component, "CT VM for " + ctx->uuid + " (cp-" + std::to_string(options.cp_index)
                           + ") is up on a SIMULATED TEE platform (no memory protection)",
              {{"client", sh->client_address.text()}, {"peer", sh->peer_address.text()},
               {"mpc", sh->mpc_address.text()}, {"admin", (*admin)->listen_address()}});
  // -- wait for the end --
  {
    std::unique_lock lock{exit_mutex};
    while (!exit_status) {
      exit_cv.wait_for(lock, std::chrono::milliseconds{200});
      if (stop && stop->load() && !ctx->stopping->load())
        caf::anon_send(orchestrator, cancel_atom::value, std::string{"stopped by the host"});
    }
  }
  (*admin)->stop();
  ctx->stopping->store(true);
  caf::anon_send_exit(sessions, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(policy, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(proxy, caf::exit_reason::user_shutdown);
  if (*mpc_fd >= 0)
    ::close(*mpc_fd);
  // Socket workers still running talk to the actors of `sys`: it must outlive them. They see
  // `stopping` and their sockets' deadlines (at most 10 s of a client's handshake).
  if (!wait_for_workers(*sh, std::chrono::seconds{30}))
    log::warning(component, "socket workers of the CT VM were still running 30 s after it stopped");
  ctx->key->erase();
  return *exit_status;
}

} // namespace joconde::vm
