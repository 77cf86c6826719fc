// joconde-vm start-up: the CTA checked against the host data, the endpoints, the actor tree, the
// host's admin endpoint (vm_run.hpp, DESIGN.md §4).
//
//   task_orchestrator ─┬─ task_policy        the CTA, read-only: who may write/read which slot
//   (phases: the       ├─ attestation_proxy  this VM's evidence; verifies counterparts and clients' VMs
//    task_state_machine├─ session_manager    attested client sessions and counterpart links (threads)
//    class; the slots: └─ mpc_party          the engine run (detached), spawned for the calculation
//    data_slot classes)

#include "attestation_proxy.hpp"
#include "../cplane/personal_data.hpp"
#include "peer_links.hpp"
#include "session_manager.hpp"
#include "task_orchestrator.hpp"
#include "task_policy_actor.hpp"
#include "vm_admin.hpp"

#include "joconde/messages/proto.hpp"
#include "joconde/messages/wire.hpp"
#include "joconde/runtime/canonical_hash.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/log.hpp"
#include "joconde/runtime/vm_metrics.hpp"

#include <joconde/agreement.pb.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/send.hpp>

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>

namespace joconde::vm {

namespace {

using namespace detail;

constexpr const char* component = "vm";

/// The context of the CT: the CTA, checked against the host data the platform recorded at launch,
/// the reference values for counterparts, a fresh sealing key. The error says why the VM cannot run.
result<std::shared_ptr<vm_context>> load_context(const vm_options& options, const image_config& image,
                                                 const enclave::host_data& host,
                                                 std::shared_ptr<const enclave::attester> attester) {
  std::ifstream in{options.cta_file, std::ios::binary};
  if (!in)
    return fail(errc::io_error, "cannot read the CTA " + options.cta_file.string());
  std::string cta_bytes{std::istreambuf_iterator<char>{in}, {}};
  auto ctx = std::make_shared<vm_context>();
  if (!proto::parse_into(ctx->final, cta_bytes, 64 * 1024 * 1024))
    return fail(errc::malformed_input, "the CTA file is not a final CTA");
  auto hash = cta_hash(ctx->final.cta());
  if (!hash || hash->size() != host.size() || !std::equal(host.begin(), host.end(), hash->begin()))
    return fail(errc::forbidden, "the CTA given does not match the host data the platform recorded at launch");
  const auto& ctsc = ctx->final.cta().ctsc();
  ctx->options = options;
  ctx->image = image;
  ctx->host = host;
  ctx->uuid = ctsc.uuid();
  ctx->cta_hash_hex = crypto::hex(*hash);
  ctx->parties = static_cast<unsigned>(ctsc.computing_parties_size());
  if (ctx->parties < 3 || options.cp_index >= ctx->parties)
    return fail(errc::invalid_config, "CP index " + std::to_string(options.cp_index) + " is not one of the CTA's "
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
    return fail(errc::invalid_config, "the CTSC names no 48-byte TEE measurement: counterparts cannot be attested");
  ctx->metrics = std::make_shared<metrics::vm_registry>();
  ctx->links = std::make_shared<peer_link_exchange>();
  auto key = enclave::sealing_key::generate();
  if (!key)
    return fail(key.err().code, key.err().describe());
  ctx->key = std::make_shared<enclave::sealing_key>(std::move(*key));
  ctx->slots_dir = options.data_dir / "slots";
  std::error_code ec;
  fs::create_directories(ctx->slots_dir, ec);
  fs::permissions(options.data_dir, fs::perms::owner_all, ec);
  return ctx;
}

/// The four endpoints' sockets: the client, peer and MPC ones at the advertised host, the admin one.
struct endpoints {
  std::shared_ptr<int> mpc_fd;
  io::unique_fd admin_fd;
  std::uint16_t admin_port = 0;
};

/// Listens for the client, peer and MPC endpoints (into `sh`) and the admin endpoint. Every endpoint
/// takes a port of the range the CP's operator opened (vm.ports); clients and counterparts reach them
/// at the advertised host, the host's admin endpoint at its bind address.
result<endpoints> open_endpoints(const vm_options& options, session_shared& sh) {
  auto advertised = options.advertise_host.empty() ? options.bind_host : options.advertise_host;
  if (net::is_wildcard(advertised))
    return fail(errc::invalid_config, "the advertised host of the CT VM's endpoints is the wildcard " + advertised
                                        + ": give the host name or address others reach this CP at (vm.advertise)");
  auto cl = listen_on(options.bind_host, options.ports);
  auto pl = listen_on(options.bind_host, options.ports);
  auto ml = listen_on(options.bind_host, options.ports);
  auto al = listen_on(options.admin_bind_host, options.ports);
  if (!cl || !pl || !ml || !al)
    return fail(errc::io_error,
                "cannot listen: " + (!cl ? cl.err() : !pl ? pl.err() : !ml ? ml.err() : al.err()).describe());
  sh.client_listener = std::move(cl->first);
  sh.client_address = {advertised, cl->second};
  sh.peer_listener = std::move(pl->first);
  sh.peer_address = {advertised, pl->second};
  sh.mpc_address = {advertised, ml->second};
  return endpoints{std::make_shared<int>(ml->first.release()), std::move(al->first), al->second};
}

result<void> write_endpoints(const fs::path& dir, const std::string& admin, const session_shared& sh) {
  nlohmann::json doc{{"admin", admin},
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

/// The exit status the orchestrator reports once, and a wait for it.
struct exit_signal {
  std::mutex mutex;
  std::condition_variable cv;
  std::optional<int> status;

  void set(int s) {
    std::lock_guard lock{mutex};
    status = s;
    cv.notify_all();
  }
};

} // namespace

int run_vm(const vm_options& options, const image_config& image, const enclave::host_data& host,
           std::shared_ptr<const enclave::attester> attester, std::shared_ptr<const std::atomic<bool>> stop) {
  auto die = [](const std::string& what) {
    log::error(component, what);
    std::cerr << "joconde-vm: " << what << "\n";
    return exit_failed;
  };
  auto loaded = load_context(options, image, host, std::move(attester));
  if (!loaded)
    return die(loaded.err().message);
  auto ctx = *loaded;
  auto sh = std::make_shared<session_shared>();
  auto ends = open_endpoints(options, *sh);
  if (!ends)
    return die(ends.err().message);
  auto mpc_fd = ends->mpc_fd;
  // -- the actor tree --
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", size_t{2});
  register_messages(cfg);
  caf::actor_system sys{cfg};
  exit_signal exited;
  context_ptr cctx = ctx;
  auto policy = sys.spawn(task_policy_engine, cctx);
  auto proxy = sys.spawn(attestation_proxy, cctx);
  auto orchestrator = spawn_task_orchestrator(sys, cctx, [&exited](int status) { exited.set(status); }, mpc_fd,
                                              policy, proxy);
  sh->ctx = cctx;
  sh->orchestrator = orchestrator;
  sh->policy = policy;
  sh->attester = std::make_shared<proxy_attester>(sys, proxy);
  sh->verifier = std::make_shared<proxy_verifier>(sys, proxy, cctx);
  auto sessions = sys.spawn(session_manager, sh);
  caf::anon_send(orchestrator, adopt_atom::value, sessions);
  // -- the host's endpoint --
  auto admin = start_admin(sys, {address{options.admin_bind_host, ends->admin_port}.text(), ends->admin_fd.release(),
                                 options.admin_token, ctx->metrics, orchestrator, sessions});
  if (!admin) {
    caf::anon_send_exit(orchestrator, caf::exit_reason::user_shutdown);
    return die("cannot serve the admin endpoint: " + admin.err().describe());
  }
  // The host reaches a wildcard admin endpoint over loopback.
  auto admin_host = options.admin_bind_host;
  if (net::is_wildcard(admin_host))
    admin_host = net::is_ipv6_literal(admin_host) ? "::1" : "127.0.0.1";
  if (auto r = write_endpoints(options.data_dir, address{admin_host, ends->admin_port}.text(), *sh); !r) {
    caf::anon_send_exit(orchestrator, caf::exit_reason::user_shutdown);
    return die(r.err().describe());
  }
  log::notice(component, "CT VM for " + ctx->uuid + " (cp-" + std::to_string(options.cp_index)
                           + ") is up on a SIMULATED TEE platform (no memory protection)",
              {{"client", sh->client_address.text()}, {"peer", sh->peer_address.text()},
               {"mpc", sh->mpc_address.text()}, {"admin", (*admin)->listen_address()}});
  // -- wait for the end --
  {
    std::unique_lock lock{exited.mutex};
    while (!exited.status) {
      exited.cv.wait_for(lock, std::chrono::milliseconds{200});
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
  return *exited.status;
}

} // namespace joconde::vm
