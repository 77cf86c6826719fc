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
#include "joconde/runtime/clock.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/http_server.hpp"
#include "joconde/runtime/log.hpp"
#include "joconde/runtime/metrics.hpp"
#include "joconde/runtime/tls_error_queue.hpp"
#include "https_identity.hpp"
#include "oidc_login.hpp"
#include "portal_sessions.hpp"
#include "store_metrics.hpp"
#include "metrics_vms.hpp"
#include "../cplane/notifier.hpp"
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

/// What the node is, as read from its files at start-up: key, certificate chain and the trust it roots.
struct node_identity {
  std::string passphrase;
  crypto::private_key key;
  std::vector<crypto::certificate> chain;  ///< this node's certificate first
  std::shared_ptr<trust_view> trust;
};

/// The handles of the node's actors, kept for the shutdown in the order they must stop.
struct node_actors {
  audit_log_actor audit;
  key_manager_actor keys;
  std::shared_ptr<access_policy> policy;
  access_manager_actor access;
  service_broker_actor broker;
  connection_manager_actor cm;
  identity_manager_actor idm;
  artefact_manager_actor artefacts;
  deployment_operator_actor deployer;  ///< computing nodes only
  io_service_actor io;
  notifier_actor mailer;               ///< nodes with people and mail.relay only
};

/// Loads the node's key, chain and root CA and checks they belong together, or says why not (and
/// returns nothing; the exit status is then 1).
std::optional<node_identity> load_identity(const node_config& cfg) {
  auto passphrase = pki::read_secret(cfg.passphrase_file);
  if (!passphrase)
    return die(passphrase.err().describe()), std::nullopt;
  if (auto r = finish_pending_rotation({cfg.key, cfg.certificate, {}, {}}); !r)
    return die(r.err().describe()), std::nullopt;
  auto key_pem = pki::read_file(cfg.key);
  if (!key_pem)
    return die(key_pem.err().describe()), std::nullopt;
  auto key = crypto::private_key::from_pem(*key_pem, *passphrase);
  if (!key)
    return die("cannot load the node key " + cfg.key.string() + ": " + key.err().describe()), std::nullopt;
  auto chain_pem = pki::read_file(cfg.certificate);
  if (!chain_pem)
    return die(chain_pem.err().describe()), std::nullopt;
  auto chain = crypto::certificate::chain_from_pem(*chain_pem);
  if (!chain)
    return die("cannot load " + cfg.certificate.string() + ": " + chain.err().describe()), std::nullopt;
  auto root_pem = pki::read_file(cfg.ca);
  if (!root_pem)
    return die(root_pem.err().describe()), std::nullopt;
  auto root = crypto::certificate::from_pem(*root_pem);
  if (!root)
    return die("cannot load " + cfg.ca.string() + ": " + root.err().describe()), std::nullopt;
  if (chain->front().public_key().to_der() != key->public_key().to_der())
    return die("the node key does not belong to the certificate in " + cfg.certificate.string()),
           std::nullopt;
  std::vector<crypto::certificate> intermediates{chain->begin() + 1, chain->end()};
  if (auto r = crypto::verify_chain(chain->front(), intermediates, *root,
                                    std::chrono::system_clock::now());
      !r)
    return die("this node's own certificate chain is not valid: " + r.err().describe()), std::nullopt;
  auto trust = std::make_shared<trust_view>(*root, *chain);
  return node_identity{std::move(*passphrase), std::move(*key), std::move(*chain), std::move(trust)};
}

/// The context the HTTP API sees, filled with what the identity and the admin token file say, or
/// nothing after saying why (the exit status is then 1).
std::shared_ptr<node_context> make_context(const node_config& cfg, const node_identity& id) {
  auto ctx = std::make_shared<node_context>();
  ctx->cfg = cfg;
  ctx->fqdn = id.trust->self();
  ctx->domain = id.chain.back().dns_names().empty() ? ctx->fqdn : id.chain.back().dns_names().front();
  ctx->fingerprint = id.chain.front().fingerprint();
  ctx->trust = id.trust;
  auto token = pki::read_secret(cfg.admin_token_file);
  if (!token)
    return die(token.err().describe()), nullptr;
  ctx->admin_token = *token;
  return ctx;
}

/// Opens the store (into `ctx`) and the audit log, or says why not (and returns nothing; the exit
/// status is then 1).
std::shared_ptr<audit_chain> open_storage(const node_config& cfg, node_context& ctx) {
  auto store = node_store::open(cfg.data_dir, cfg.map_size);
  if (!store)
    return die("cannot open the store: " + store.err().describe()), nullptr;
  ctx.store = *store;
  ctx.users = std::make_shared<user_directory>(*store);
  {
    auto txn = store->env->begin_read();
    if (!txn)
      return die(txn.err().describe()), nullptr;
  }
  auto chain_log = audit_chain::open(cfg.data_dir / "audit.log", "joconde-node", cfg.name);
  if (!chain_log)
    return die("cannot open the audit log: " + chain_log.err().describe()), nullptr;
  return std::make_shared<audit_chain>(std::move(*chain_log));
}

/// Sets up the HTTPS identity into `https` and writes its chain for clients to fetch (DESIGN.md §3:
/// people reach their node over TLS 1.3 only); false after saying why not.
bool set_up_https(const node_config& cfg, const node_identity& id, std::optional<http::tls_identity>& https) {
  auto tls_id = https_identity(cfg, id.key, id.chain, std::chrono::system_clock::now());
  if (!tls_id)
    return die("cannot set up HTTPS: " + tls_id.err().describe()), false;
  std::string pem;
  for (const auto& c : tls_id->chain)
    pem += c.to_pem();
  if (auto r = pki::write_file(cfg.data_dir / https_chain_file, pem,
                               std::filesystem::perms::owner_read | std::filesystem::perms::owner_write
                                 | std::filesystem::perms::group_read | std::filesystem::perms::others_read);
      !r)
    return die(r.err().describe()), false;
  https = std::move(*tls_id);
  return true;
}

/// Starts the metrics listener (over HTTPS when metrics.tls is on), or says why not (and returns
/// nothing; the exit status is then 1).
std::unique_ptr<metrics::registry> start_metrics(const node_config& cfg,
                                                 const std::optional<http::tls_identity>& https) {
  http::server_options metrics_options;
  metrics_options.listen = cfg.metrics_listen.text();
  metrics_options.threads = 2;
  metrics_options.max_body_bytes = 1024;
  metrics_options.on_refusal = &on_http_refusal;
  if (cfg.metrics_tls)
    metrics_options.tls = https;
  auto started = metrics::registry::start(metrics_options, cfg.name, cfg.role);
  if (!started)
    return die("cannot serve metrics: " + started.err().describe()), nullptr;
  return std::move(*started);
}

/// Counts and logs TLS refusals in `meters` from now on; false (after saying why) if this build
/// lacks the OpenSSL error-queue guard.
bool watch_tls_refusals(metrics::registry* meters) {
  if (!tls::error_queue_guard_active())
    return die("this joconde-node was built without the OpenSSL error-queue guard (see "
               "runtime/include/joconde/runtime/tls_error_queue.hpp): one refused TLS client "
               "could make it drop healthy links"),
           false;
  tls_metrics.store(meters, std::memory_order_release);
  tls::set_refusal_observer(&on_tls_refusal);
  return true;
}

/// Configures the actor system: CAF's OpenSSL transport with the node's key, the plane messages, a
/// sharing scheduler.
void configure_actor_system(caf::actor_system_config& sys_cfg, const node_config& cfg,
                            const std::string& passphrase) {
  sys_cfg.load<caf::io::middleman>();
  sys_cfg.load<caf::openssl::manager>();
  sys_cfg.openssl_certificate = cfg.certificate.string();
  sys_cfg.openssl_key = cfg.key.string();
  sys_cfg.openssl_passphrase = passphrase;
  sys_cfg.openssl_cafile = cfg.ca.string();
  configure_plane_messages(sys_cfg);
  sys_cfg.set("scheduler.policy", caf::atom("sharing"));
  sys_cfg.set("middleman.workers", size_t{0});
}

/// The service broker's settings from the node's configuration.
service_broker_config broker_config(const node_config& cfg, std::shared_ptr<access_policy> policy) {
  service_broker_config bcfg;
  bcfg.window = cfg.window;
  bcfg.frame_envelopes = cfg.frame_envelopes;
  bcfg.retry_after = cfg.retry_after;
  bcfg.retry_max = cfg.retry_max;
  bcfg.commit_delay = cfg.commit_delay;
  bcfg.async_commit = true;
  bcfg.request_timeout = cfg.request_timeout;
  bcfg.limits.max_bytes = cfg.max_envelope_bytes;
  bcfg.policy = std::move(policy);
  return bcfg;
}

/// The connection manager's settings from the node's configuration.
connection_manager_config link_config(const node_config& cfg, const node_store& store) {
  connection_manager_config ccfg;
  if (!cfg.parent.empty()) {
    auto parent = parse_endpoint(cfg.parent);
    ccfg.parent_host = parent->host;
    ccfg.parent_port = parent->port;
  }
  ccfg.request_timeout = cfg.request_timeout;
  ccfg.reconnect_min = cfg.reconnect_min;
  ccfg.reconnect_max = cfg.reconnect_max;
  ccfg.store = store;
  return ccfg;
}

/// Spawns the Management Plane (audit log, key, access and identity managers, service broker,
/// connection manager) and wires them together.
node_actors spawn_management_plane(caf::actor_system& sys, const node_config& cfg, const node_context& ctx,
                                   const node_identity& id, std::shared_ptr<memory_signer> signer,
                                   std::shared_ptr<audit_chain> audit_store, metrics::registry* meters) {
  node_actors a;
  audit_checkpoint_config acfg;
  acfg.interval = cfg.audit_checkpoint;
  acfg.signer = [trust = id.trust, signer] {
    return audit_signer{trust->self(), trust->own_chain(),
                        [signer](crypto::bytes_view msg) { return signer->sign(msg); }};
  };
  a.audit = sys.spawn(audit_log, audit_store, meters, std::move(acfg));
  a.keys = sys.spawn(key_manager, signer, cfg.key);
  a.policy = std::make_shared<access_policy>(id.trust->self(), role_from_string(cfg.role));
  a.policy->set_root(ctx.domain);
  a.access = sys.spawn(access_manager, a.policy, ctx.store, a.audit, meters);
  a.broker = sys.spawn(service_broker, broker_config(cfg, a.policy), id.trust, signer, ctx.store, a.audit,
                       meters);
  a.cm = sys.spawn(connection_manager, link_config(cfg, ctx.store), id.trust, signer, a.broker, a.audit,
                   meters);
  caf::anon_send(a.broker, connect_atom::value, a.cm);
  caf::anon_send(a.audit, connect_atom::value, a.cm);
  identity_files files{cfg.key, cfg.certificate, id.passphrase,
                       tree_policy{cfg.rotation_period, cfg.certificate_lifetime, 0}};
  a.idm = sys.spawn(identity_manager, id.trust, signer, files, ctx.store, a.cm, a.broker, a.audit);
  caf::anon_send(a.broker, connect_atom::value, std::string{"pki."},
                 caf::actor_cast<local_subscriber_actor>(a.idm));
  return a;
}

/// Spawns the Control Plane (artefact manager, a Computing Party's deployment operator, IO Service)
/// into `a` and subscribes the artefact manager to the CTA topics.
void spawn_control_plane(caf::actor_system& sys, const node_config& cfg, const node_context& ctx,
                         const node_identity& id, std::shared_ptr<memory_signer> signer, node_actors& a,
                         metrics::registry* meters) {
  a.artefacts = sys.spawn(artefact_manager, ctx.domain, id.trust, signer, ctx.store, a.broker, a.audit,
                          meters);
  // A Computing Party runs the CTs' VMs (DESIGN.md §4 deployment_operator); the artefact manager
  // knows it before the broker hands it any CTA.
  if (cfg.role == "computing") {
    deployment_operator_config dcfg;
    dcfg.self = ctx.fqdn;
    dcfg.root = ctx.domain;
    dcfg.node_name = cfg.name;
    dcfg.data_dir = cfg.data_dir.lexically_normal();
    dcfg.tee = tee_of(cfg);
    dcfg.directory = ctx.vms;
    a.deployer = sys.spawn(deployment_operator, dcfg, std::shared_ptr<const node_signer>{signer}, ctx.store,
                           a.broker, a.audit, meters);
    caf::anon_send(a.artefacts, connect_atom::value, a.deployer);
  }
  caf::anon_send(a.broker, connect_atom::value, std::string{"cta."},
                 caf::actor_cast<local_subscriber_actor>(a.artefacts));
  // Any node's people may upload and download (a client node, or a CP that is also a client).
  a.io = sys.spawn(io_service, io_service_config{ctx.store, cfg.tee_trusted_roots, a.audit});
}

/// Starts the notifier when the node has people and an SMTP relay (mail.relay); false (said why) if
/// its password cannot be read.
bool start_notifier(caf::actor_system& sys, const node_config& cfg, const node_context& ctx, node_actors& a,
                    metrics::registry* meters) {
  if (cfg.mail_relay.empty() || cfg.role == "computing")
    return true;
  auto ep = parse_endpoint(cfg.mail_relay);
  notifier_config ncfg;
  ncfg.self = ctx.fqdn;
  ncfg.at_root = cfg.role == "root";
  ncfg.from = cfg.mail_from.empty() ? "joconde@" + ctx.fqdn : cfg.mail_from;
  ncfg.portal_url = cfg.mail_portal_url.empty() ? cfg.api_url() : cfg.mail_portal_url;
  ncfg.relay.host = ep->host;
  ncfg.relay.port = ep->port;
  ncfg.relay.implicit_tls = cfg.mail_implicit_tls;
  ncfg.relay.ca_file = cfg.mail_ca.string();
  ncfg.relay.user = cfg.mail_user;
  if (!cfg.mail_user.empty()) {
    auto password = pki::read_secret(cfg.mail_password_file);
    if (!password)
      return die("mail.password-file: " + password.err().describe()), false;
    ncfg.relay.password = std::move(*password);
  }
  a.mailer = sys.spawn<caf::detached>(notifier, std::move(ncfg), ctx.store, ctx.users, meters);
  return true;
}

/// Hands the actors' handles to the HTTP API's context.
void publish_handles(node_context& ctx, const node_actors& a) {
  ctx.io = a.io;
  ctx.artefacts = a.artefacts;
  ctx.deployer = a.deployer;
  ctx.cm = a.cm;
  ctx.broker = a.broker;
  ctx.identity = a.idm;
  ctx.keys = a.keys;
  ctx.access = a.access;
  ctx.policy = a.policy;
  ctx.audit = a.audit;
}

/// Asks every actor to stop without waiting (start-up failed after they were spawned).
void stop_actors(const node_actors& a) {
  if (a.mailer)
    caf::anon_send_exit(a.mailer, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(a.io, caf::exit_reason::user_shutdown);
  if (a.deployer)
    caf::anon_send_exit(a.deployer, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(a.artefacts, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(a.access, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(a.keys, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(a.idm, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(a.cm, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(a.broker, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(a.audit, caf::exit_reason::user_shutdown);
}

/// The API listener's settings: HTTPS unless http.tls is off, 1 MiB bodies, 4 threads.
http::server_options api_options(const node_config& cfg, const std::optional<http::tls_identity>& https,
                                 metrics::registry* meters) {
  http::server_options options;
  options.on_served = [meters](const std::string& route, const std::string& method, int status, double seconds) {
    meters->http_served(route, method, status, seconds);
  };
  options.listen = cfg.http_listen.text();
  options.tls = https;
  options.max_body_bytes = 1024 * 1024;
  options.threads = 4;
  options.on_refusal = &on_http_refusal;
  return options;
}

/// Audits, logs and prints that the node is up, and where it listens.
void announce_start(const node_config& cfg, const node_context& ctx) {
  caf::anon_send(ctx.audit, audit_atom::value, std::string{component}, std::string{"node.start"},
                 std::vector<std::string>{"node", ctx.fqdn, "role", cfg.role, "fingerprint",
                                          ctx.fingerprint});
  log::notice(component, "node " + ctx.fqdn + " (" + cfg.role + ") is up",
              {{"listen", cfg.listen.text()}, {"advertise", cfg.advertise.text()},
               {"http", cfg.http_listen.text()}, {"api", cfg.api_url()},
               {"metrics", cfg.metrics_listen.text()}, {"fingerprint", ctx.fingerprint}});
  std::cout << "joconde-node " << ctx.fqdn << " (" << cfg.role << ") listening on "
            << cfg.listen.text() << ", API " << cfg.api_url() << " (on " << cfg.http_listen.text()
            << "), metrics " << (cfg.metrics_tls ? "https://" : "http://") << cfg.metrics_listen.text()
            << (cfg.portal ? ", portal " + cfg.api_url() + "/portal/" : std::string{}) << std::endl;
}

/// Scrubs the store when an erasure asked for it (lmdb::environment::scrub_if_wanted): from this
/// thread, which holds no transaction.
void scrub_store(const node_store& store) {
  auto started = std::chrono::steady_clock::now();
  auto done = store.env->scrub_if_wanted();
  if (!done)
    return log::error(component, "cannot scrub the store (again in 10 s): " + done.err().describe());
  if (!*done)
    return;
  const auto& r = **done;
  if (r.deferred)
    return log::notice(component, "the scrub of the store waits for open transactions (again in 10 s)");
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  log::notice(component, "scrubbed the store: " + std::to_string(r.pages) + " pages read, "
                        + std::to_string(r.free_zeroed) + " free pages and " + std::to_string(r.gaps_zeroed)
                        + " unused page middles overwritten, " + std::to_string(r.free_waiting)
                        + " free pages still readable by a snapshot, in " + std::to_string(ms.count()) + " ms",
              {{"free_zeroed", std::to_string(r.free_zeroed)}, {"gaps_zeroed", std::to_string(r.gaps_zeroed)}});
}

/// Blocks until SIGTERM or SIGINT, refreshing the certificate-expiry gauge and the store's gauges
/// (store_metrics.hpp) and scrubbing the store when an erasure wants it, every 10 seconds; the
/// first scrub right at the start (an erasure may have been cut short by a stop).
void wait_for_signal(prometheus::Gauge& expiry, std::chrono::system_clock::time_point not_after,
                     const node_store& store, metrics::registry& meters) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  store.env->want_scrub();
  for (;;) {
    scrub_store(store);
    sample_store(store, meters, now_ms());
    timespec timeout{10, 0};
    auto sig = sigtimedwait(&set, nullptr, &timeout);
    if (sig == SIGTERM || sig == SIGINT)
      break;
    expiry.Set(seconds_until(not_after));
  }
}

/// Stops the actors and waits for them: the deployment operator first, the audit log last.
void shut_down(caf::actor_system& sys, const node_actors& a) {
  caf::scoped_actor self{sys};
  if (a.deployer) {
    // First: its CT VMs end with the node (their directories are cleaned up at the next start).
    self->send_exit(a.deployer, caf::exit_reason::user_shutdown);
    self->wait_for(a.deployer);
  }
  if (a.mailer) {
    // It may be talking to the relay: at most its timeout.
    self->send_exit(a.mailer, caf::exit_reason::user_shutdown);
    self->wait_for(a.mailer);
  }
  self->send_exit(a.io, caf::exit_reason::user_shutdown);
  self->send_exit(a.artefacts, caf::exit_reason::user_shutdown);
  self->send_exit(a.access, caf::exit_reason::user_shutdown);
  self->send_exit(a.keys, caf::exit_reason::user_shutdown);
  self->send_exit(a.idm, caf::exit_reason::user_shutdown);
  self->send_exit(a.cm, caf::exit_reason::user_shutdown);
  self->send_exit(a.broker, caf::exit_reason::user_shutdown);
  self->wait_for(a.io, a.artefacts, a.access, a.keys, a.idm, a.cm, a.broker);
  self->send_exit(a.audit, caf::exit_reason::user_shutdown);
  self->wait_for(a.audit);
}

} // namespace

int run_node(const node_config& cfg) {
  if (auto r = check_tls_files(cfg); !r)
    return die(r.err().describe());
  if (auto r = enforce_tls13(cfg); !r)
    return die(r.err().describe());
  log::init({"joconde-node", cfg.name, cfg.log_file, severity_of(cfg.log_level)});
  auto id = load_identity(cfg);
  if (!id)
    return 1;
  auto ctx = make_context(cfg, *id);
  if (!ctx)
    return 1;
  auto audit_store = open_storage(cfg, *ctx);
  if (!audit_store)
    return 1;
  std::optional<http::tls_identity> https;
  if (cfg.http_tls && !set_up_https(cfg, *id, https))
    return 1;
  auto meters = start_metrics(cfg, https);
  if (!meters)
    return 1;
  ctx->metrics = meters.get();
  if (cfg.role == "computing" && meters->server()) {
    ctx->vms = std::make_shared<vm_directory>();
    serve_vm_metrics(*meters->server(), ctx->vms, cfg.name);
  }
  const auto& own = id->chain.front();
  auto& expiry = meters->certificate_expiry(ctx->fingerprint, own.subject().common_name);
  expiry.Set(seconds_until(own.not_after()));
  if (!watch_tls_refusals(meters.get()))
    return 1;
  caf::actor_system_config sys_cfg;
  configure_actor_system(sys_cfg, cfg, id->passphrase);
  caf::actor_system sys{sys_cfg};
  ctx->sys = &sys;
  auto signer = std::make_shared<memory_signer>(std::move(id->key));
  auto actors = spawn_management_plane(sys, cfg, *ctx, *id, signer, audit_store, meters.get());
  spawn_control_plane(sys, cfg, *ctx, *id, signer, actors, meters.get());
  if (!start_notifier(sys, cfg, *ctx, actors, meters.get())) {
    stop_actors(actors);
    return 1;
  }
  publish_handles(*ctx, actors);
  auto port = caf::openssl::publish(actors.cm, cfg.listen.port, cfg.listen.host.c_str(), true);
  if (!port) {
    stop_actors(actors);
    return die("cannot listen on " + cfg.listen.text() + ": " + sys.render(port.error()));
  }
  auto server = http::server::start(api_options(cfg, https, meters.get()));
  if (!server) {
    stop_actors(actors);
    return die("cannot serve the API: " + server.err().describe());
  }
  if (cfg.portal)
    ctx->sessions = std::make_shared<portal_sessions>(cfg.portal_idle, cfg.portal_lifetime,
                                                      cfg.portal_max_sessions);
  if (!cfg.oidc_issuer.empty()) {
    auto secret = pki::read_secret(cfg.oidc_client_secret_file);
    if (!secret) {
      (*server)->stop();
      stop_actors(actors);
      return die("oidc.client-secret-file: " + secret.err().describe());
    }
    auto redirect = cfg.oidc_redirect_url.empty()
                      ? (cfg.mail_portal_url.empty() ? cfg.api_url() : cfg.mail_portal_url) + "/v1/oidc/callback"
                      : cfg.oidc_redirect_url;
    ctx->oidc = std::make_shared<oidc_login>(cfg, std::move(*secret), redirect);
    log::info(component, "portal log-in through OpenID Connect",
              {{"issuer", cfg.oidc_issuer}, {"client_id", cfg.oidc_client_id}, {"redirect", redirect}});
  }
  register_routes(**server, ctx);
  announce_start(cfg, *ctx);
  wait_for_signal(expiry, own.not_after(), ctx->store, *meters);
  log::notice(component, "stopping on signal");
  (*server)->stop();
  caf::anon_send(sys.openssl_manager().actor_handle(), caf::close_atom::value, *port);
  shut_down(sys, actors);
  return 0;
}

} // namespace joconde
