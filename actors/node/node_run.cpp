#include "node_run.hpp"

#include "../cplane/artefact_manager.hpp"
#include "../cplane/io_service_actor.hpp"
#include "../cplane/deployment_operator.hpp"
#include "../mplane/access_manager.hpp"
#include "../mplane/audit_log.hpp"
#include "../mplane/connection_manager.hpp"
#include "../mplane/identity_manager.hpp"
#include "../mplane/key_manager.hpp"
#include "../mplane/service_broker.hpp"
#include "joconde/messages/caf_error.hpp"
#include "joconde/messages/wire.hpp"
#include "joconde/runtime/audit_chain.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/http_server.hpp"
#include "joconde/runtime/log.hpp"
#include "joconde/runtime/metrics.hpp"
#include "joconde/runtime/tls_error_queue.hpp"
#include "https_identity.hpp"
#include "node_context.hpp"
#include "pki_commands.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>
#include <caf/scoped_actor.hpp>

#include <openssl/ssl.h>

#include <atomic>
#include <csignal>
#include <iostream>
#include <mutex>
#include <optional>

namespace joconde {

namespace {

constexpr const char* component = "node";

/// TLS below 1.3 is refused on every connection: OpenSSL's system_default section applies to every
/// SSL_CTX that CAF creates. Written into the data directory and loaded before any other OpenSSL use.
constexpr const char* openssl_conf = R"(# Written by joconde-node at start-up: TLS 1.3 only.
openssl_conf = joconde_init
[joconde_init]
ssl_conf = joconde_ssl
[joconde_ssl]
system_default = joconde_tls
[joconde_tls]
MinProtocol = TLSv1.3
)";

/// Where TLS refusals are counted (set once before the first connection, lives as long as main).
std::atomic<metrics::registry*> tls_metrics{nullptr};

/// Counts and logs a TLS handshake that failed inside CAF's OpenSSL transport.
void on_tls_refusal(const tls::refusal& r) {
  if (auto* m = tls_metrics.load(std::memory_order_acquire))
    m->tls_refused(r.direction, r.reason).Increment();
  // At most 20 lines per second, so that a flood of probes cannot fill the disk; the metric counts
  // every refusal.
  static log::rate_limiter limiter;
  std::uint64_t held_back = 0;
  bool logged = limiter.should_log(held_back);
  if (held_back > 0)
    log::warning("tls", std::to_string(held_back) + " more TLS refusal(s) were not logged");
  if (!logged)
    return;
  log::warning("tls", std::string{"TLS handshake "} + (r.direction[0] == 'i' ? "from " : "to ")
                        + r.peer + " refused: " + r.detail,
               {{"reason", r.reason}, {"direction", r.direction}, {"peer_address", r.peer}});
}

/// Counts and logs what an HTTP(S) listener refused (plain HTTP on the HTTPS port, TLS handshakes,
/// connection limits, timeouts); at most 20 lines a second, every refusal counted. (A failed TLS
/// handshake is also counted in joconde_tls_refused_total by the error-queue guard.)
void on_http_refusal(const std::string& peer, const std::string& reason) {
  if (auto* m = tls_metrics.load(std::memory_order_acquire))
    m->http_refused(reason).Increment();
  static log::rate_limiter limiter;
  std::uint64_t held_back = 0;
  bool logged = limiter.should_log(held_back);
  if (held_back > 0)
    log::warning("http", std::to_string(held_back) + " more refused HTTP connection(s) were not logged");
  if (!logged)
    return;
  log::warning("http", "connection from " + peer + " refused: " + reason,
               {{"reason", reason}, {"peer_address", peer}});
}

int die(const std::string& what) {
  std::cerr << "joconde-node: " << what << "\n";
  log::error(component, what);
  return 1;
}

log::severity severity_of(const std::string& level) {
  if (level == "debug")
    return log::severity::debug;
  if (level == "notice")
    return log::severity::notice;
  if (level == "warning")
    return log::severity::warning;
  if (level == "error")
    return log::severity::error;
  return log::severity::informational;
}

result<void> enforce_tls13(const node_config& cfg) {
  auto file = cfg.data_dir / "openssl.cnf";
  if (auto r = pki::write_file(file, openssl_conf, std::filesystem::perms::owner_read
                                                     | std::filesystem::perms::owner_write);
      !r)
    return r;
  auto* settings = OPENSSL_INIT_new();
  OPENSSL_INIT_set_config_filename(settings, file.c_str());
  OPENSSL_INIT_set_config_file_flags(settings, 0);
  auto ok = OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, settings);
  OPENSSL_INIT_free(settings);
  if (ok != 1)
    return fail(errc::crypto_failure, "cannot load the TLS 1.3 policy from " + file.string());
  return joconde::ok();
}

double seconds_until(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t - std::chrono::system_clock::now()).count();
}

} // namespace

int run_node(const node_config& cfg) {
  if (auto r = check_tls_files(cfg); !r)
    return die(r.err().describe());
  if (auto r = enforce_tls13(cfg); !r)
    return die(r.err().describe());
  log::init({"joconde-node", cfg.name, cfg.log_file, severity_of(cfg.log_level)});
  // -- identity: key, chain, root --
  auto passphrase = pki::read_secret(cfg.passphrase_file);
  if (!passphrase)
    return die(passphrase.err().describe());
  if (auto r = finish_pending_rotation({cfg.key, cfg.certificate, {}, {}}); !r)
    return die(r.err().describe());
  auto key_pem = pki::read_file(cfg.key);
  if (!key_pem)
    return die(key_pem.err().describe());
  auto key = crypto::private_key::from_pem(*key_pem, *passphrase);
  if (!key)
    return die("cannot load the node key " + cfg.key.string() + ": " + key.err().describe());
  auto chain_pem = pki::read_file(cfg.certificate);
  if (!chain_pem)
    return die(chain_pem.err().describe());
  auto chain = crypto::certificate::chain_from_pem(*chain_pem);
  if (!chain)
    return die("cannot load " + cfg.certificate.string() + ": " + chain.err().describe());
  auto root_pem = pki::read_file(cfg.ca);
  if (!root_pem)
    return die(root_pem.err().describe());
  auto root = crypto::certificate::from_pem(*root_pem);
  if (!root)
    return die("cannot load " + cfg.ca.string() + ": " + root.err().describe());
  if (chain->front().public_key().to_der() != key->public_key().to_der())
    return die("the node key does not belong to the certificate in " + cfg.certificate.string());
  std::vector<crypto::certificate> intermediates{chain->begin() + 1, chain->end()};
  if (auto r = crypto::verify_chain(chain->front(), intermediates, *root,
                                    std::chrono::system_clock::now());
      !r)
    return die("this node's own certificate chain is not valid: " + r.err().describe());
  auto trust = std::make_shared<trust_view>(*root, *chain);
  auto ctx = std::make_shared<node_context>();
  ctx->cfg = cfg;
  ctx->fqdn = trust->self();
  ctx->domain = chain->back().dns_names().empty() ? ctx->fqdn : chain->back().dns_names().front();
  ctx->fingerprint = chain->front().fingerprint();
  ctx->trust = trust;
  auto token = pki::read_secret(cfg.admin_token_file);
  if (!token)
    return die(token.err().describe());
  ctx->admin_token = *token;
  // -- storage and audit --
  auto store = node_store::open(cfg.data_dir, cfg.map_size);
  if (!store)
    return die("cannot open the store: " + store.err().describe());
  ctx->store = *store;
  ctx->users = std::make_shared<user_directory>(*store);
  {
    auto txn = store->env->begin_read();
    if (!txn)
      return die(txn.err().describe());
  }
  auto chain_log = audit_chain::open(cfg.data_dir / "audit.log", "joconde-node", cfg.name);
  if (!chain_log)
    return die("cannot open the audit log: " + chain_log.err().describe());
  auto audit_store = std::make_shared<audit_chain>(std::move(*chain_log));
  // -- HTTPS identity (DESIGN.md §3: people reach their node over TLS 1.3 only) --
  std::optional<http::tls_identity> https;
  if (cfg.http_tls) {
    auto id = https_identity(cfg, *key, *chain, std::chrono::system_clock::now());
    if (!id)
      return die("cannot set up HTTPS: " + id.err().describe());
    std::string pem;
    for (const auto& c : id->chain)
      pem += c.to_pem();
    if (auto r = pki::write_file(cfg.data_dir / https_chain_file, pem,
                                 std::filesystem::perms::owner_read | std::filesystem::perms::owner_write
                                   | std::filesystem::perms::group_read | std::filesystem::perms::others_read);
        !r)
      return die(r.err().describe());
    https = std::move(*id);
  }
  // -- metrics --
  http::server_options metrics_options;
  metrics_options.listen = cfg.metrics_listen.text();
  metrics_options.threads = 2;
  metrics_options.max_body_bytes = 1024;
  metrics_options.on_refusal = &on_http_refusal;
  if (cfg.metrics_tls)
    metrics_options.tls = https;
  auto metrics = metrics::registry::start(metrics_options, cfg.name, cfg.role);
  if (!metrics)
    return die("cannot serve metrics: " + metrics.err().describe());
  ctx->metrics = metrics->get();
  auto& expiry = (*metrics)->certificate_expiry(ctx->fingerprint, chain->front().subject().common_name);
  expiry.Set(seconds_until(chain->front().not_after()));
  // -- actors --
  if (!tls::error_queue_guard_active())
    return die("this joconde-node was built without the OpenSSL error-queue guard (see "
               "runtime/include/joconde/runtime/tls_error_queue.hpp): one refused TLS client "
               "could make it drop healthy links");
  tls_metrics.store(metrics->get(), std::memory_order_release);
  tls::set_refusal_observer(&on_tls_refusal);
  caf::actor_system_config sys_cfg;
  sys_cfg.load<caf::io::middleman>();
  sys_cfg.load<caf::openssl::manager>();
  sys_cfg.openssl_certificate = cfg.certificate.string();
  sys_cfg.openssl_key = cfg.key.string();
  sys_cfg.openssl_passphrase = *passphrase;
  sys_cfg.openssl_cafile = cfg.ca.string();
  configure_plane_messages(sys_cfg);
  sys_cfg.set("scheduler.policy", caf::atom("sharing"));
  sys_cfg.set("middleman.workers", size_t{0});
  caf::actor_system sys{sys_cfg};
  ctx->sys = &sys;
  auto signer = std::make_shared<memory_signer>(std::move(*key));
  audit_checkpoint_config acfg;
  acfg.interval = cfg.audit_checkpoint;
  acfg.signer = [trust, signer] {
    return audit_signer{trust->self(), trust->own_chain(),
                        [signer](crypto::bytes_view msg) { return signer->sign(msg); }};
  };
  auto audit = sys.spawn(audit_log, audit_store, metrics->get(), std::move(acfg));
  auto keys = sys.spawn(key_manager, signer, cfg.key);
  auto policy = std::make_shared<access_policy>(trust->self(), role_from_string(cfg.role));
  policy->set_root(ctx->domain);
  auto access = sys.spawn(access_manager, policy, *store, audit, metrics->get());
  service_broker_config bcfg;
  bcfg.window = cfg.window;
  bcfg.frame_envelopes = cfg.frame_envelopes;
  bcfg.retry_after = cfg.retry_after;
  bcfg.retry_max = cfg.retry_max;
  bcfg.commit_delay = cfg.commit_delay;
  bcfg.async_commit = true;
  bcfg.request_timeout = cfg.request_timeout;
  bcfg.limits.max_bytes = cfg.max_envelope_bytes;
  bcfg.policy = policy;
  auto broker = sys.spawn(service_broker, bcfg, trust, signer, *store, audit, metrics->get());
  connection_manager_config ccfg;
  if (!cfg.parent.empty()) {
    auto parent = parse_endpoint(cfg.parent);
    ccfg.parent_host = parent->host;
    ccfg.parent_port = parent->port;
  }
  ccfg.request_timeout = cfg.request_timeout;
  ccfg.reconnect_min = cfg.reconnect_min;
  ccfg.reconnect_max = cfg.reconnect_max;
  ccfg.store = *store;
  auto cm = sys.spawn(connection_manager, ccfg, trust, signer, broker, audit, metrics->get());
  caf::anon_send(broker, connect_atom::value, cm);
  caf::anon_send(audit, connect_atom::value, cm);
  identity_files files{cfg.key, cfg.certificate, *passphrase, cfg.rotation_period};
  auto idm = sys.spawn(identity_manager, trust, signer, files, *store, cm, broker, audit);
  caf::anon_send(broker, connect_atom::value, std::string{"pki."},
                 caf::actor_cast<local_subscriber_actor>(idm));
  auto artefacts = sys.spawn(artefact_manager, ctx->domain, trust, signer, *store, broker, audit,
                             metrics->get());
  // A Computing Party runs the CTs' VMs (DESIGN.md §4 deployment_operator); the artefact manager
  // knows it before the broker hands it any CTA.
  deployment_operator_actor deployer;
  if (cfg.role == "computing") {
    deployment_operator_config dcfg;
    dcfg.self = ctx->fqdn;
    dcfg.root = ctx->domain;
    dcfg.node_name = cfg.name;
    dcfg.data_dir = cfg.data_dir.lexically_normal();
    dcfg.tee = tee_of(cfg);
    deployer = sys.spawn(deployment_operator, dcfg, std::shared_ptr<const node_signer>{signer}, *store,
                         broker, audit, metrics->get());
    caf::anon_send(artefacts, connect_atom::value, deployer);
  }
  caf::anon_send(broker, connect_atom::value, std::string{"cta."},
                 caf::actor_cast<local_subscriber_actor>(artefacts));
  // Any node's people may upload and download (a client node, or a CP that is also a client).
  auto io = sys.spawn(io_service, io_service_config{*store, cfg.tee_trusted_roots, audit});
  ctx->io = io;
  ctx->artefacts = artefacts;
  ctx->deployer = deployer;
  ctx->cm = cm;
  ctx->broker = broker;
  ctx->identity = idm;
  ctx->keys = keys;
  ctx->access = access;
  ctx->policy = policy;
  ctx->audit = audit;
  auto stop_actors = [&] {
    caf::anon_send_exit(io, caf::exit_reason::user_shutdown);
    if (deployer)
      caf::anon_send_exit(deployer, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(artefacts, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(access, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(keys, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(idm, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(cm, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(broker, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(audit, caf::exit_reason::user_shutdown);
  };
  auto port = caf::openssl::publish(cm, cfg.listen.port, cfg.listen.host.c_str(), true);
  if (!port) {
    stop_actors();
    return die("cannot listen on " + cfg.listen.text() + ": " + sys.render(port.error()));
  }
  // -- HTTP(S) --
  http::server_options api_options;
  api_options.listen = cfg.http_listen.text();
  api_options.tls = https;
  api_options.max_body_bytes = 1024 * 1024;
  api_options.threads = 4;
  api_options.on_refusal = &on_http_refusal;
  auto server = http::server::start(api_options);
  if (!server) {
    stop_actors();
    return die("cannot serve the API: " + server.err().describe());
  }
  register_routes(**server, ctx);
  caf::anon_send(audit, audit_atom::value, std::string{component}, std::string{"node.start"},
                 std::vector<std::string>{"node", ctx->fqdn, "role", cfg.role, "fingerprint",
                                          ctx->fingerprint});
  log::notice(component, "node " + ctx->fqdn + " (" + cfg.role + ") is up",
              {{"listen", cfg.listen.text()}, {"advertise", cfg.advertise.text()},
               {"http", cfg.http_listen.text()}, {"api", cfg.api_url()},
               {"metrics", cfg.metrics_listen.text()}, {"fingerprint", ctx->fingerprint}});
  std::cout << "joconde-node " << ctx->fqdn << " (" << cfg.role << ") listening on "
            << cfg.listen.text() << ", API " << cfg.api_url() << " (on " << cfg.http_listen.text()
            << "), metrics " << (cfg.metrics_tls ? "https://" : "http://") << cfg.metrics_listen.text()
            << std::endl;
  // -- wait for a signal --
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  for (;;) {
    timespec timeout{30, 0};
    auto sig = sigtimedwait(&set, nullptr, &timeout);
    if (sig == SIGTERM || sig == SIGINT)
      break;
    expiry.Set(seconds_until(chain->front().not_after()));
  }
  log::notice(component, "stopping on signal");
  (*server)->stop();
  caf::anon_send(sys.openssl_manager().actor_handle(), caf::close_atom::value, *port);
  {
    caf::scoped_actor self{sys};
    if (deployer) {
      // First: its CT VMs end with the node (their directories are cleaned up at the next start).
      self->send_exit(deployer, caf::exit_reason::user_shutdown);
      self->wait_for(deployer);
    }
    self->send_exit(io, caf::exit_reason::user_shutdown);
    self->send_exit(artefacts, caf::exit_reason::user_shutdown);
    self->send_exit(access, caf::exit_reason::user_shutdown);
    self->send_exit(keys, caf::exit_reason::user_shutdown);
    self->send_exit(idm, caf::exit_reason::user_shutdown);
    self->send_exit(cm, caf::exit_reason::user_shutdown);
    self->send_exit(broker, caf::exit_reason::user_shutdown);
    self->wait_for(io, artefacts, access, keys, idm, cm, broker);
    self->send_exit(audit, caf::exit_reason::user_shutdown);
    self->wait_for(audit);
  }
  return 0;
}

} // namespace joconde
