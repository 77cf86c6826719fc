#pragma once

// Configuration of a Service Node: INI file, then JOCONDE_* environment variables, then command-line
// `--section.key=value`, in rising order of precedence. Every key has a default, a help text and a
// check; `joconde-node config-keys` prints them all (docs/configuration.md is generated from it).
// TLS fails closed: a node without certificate, key and CA file does not start.

#include "joconde/messages/result.hpp"
#include "joconde/io/net.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace joconde {

/// A host and port: "198.18.0.11:4701", "[2001:db8::1]:4701" or "cp1.example.org:4701".
using endpoint = net::host_port;

/// Parses "host:port" (IPv4, [IPv6] or a host name; port 1-65535).
result<endpoint> parse_endpoint(std::string_view text);

/// Everything a running node is configured with.
struct node_config {
  // [node]
  std::string name;                  ///< short name, e.g. cp1
  std::string role;                  ///< root | client | computing
  std::filesystem::path data_dir;    ///< LMDB, audit log, state
  endpoint listen;                   ///< where children connect (mTLS): the bind address
  endpoint advertise;                ///< how children reach it (node.advertise or listen)
  std::string parent;                ///< host:port of the parent; empty at the root
  std::filesystem::path passphrase_file; ///< pass phrase of the encrypted node key
  // [tls]
  std::filesystem::path certificate; ///< node certificate followed by its intermediates
  std::filesystem::path key;         ///< encrypted PKCS#8 node key
  std::filesystem::path ca;          ///< root CA certificate (the only trust anchor)
  // [http] [metrics]
  endpoint http_listen;                          ///< bind address of the API
  std::vector<std::string> http_advertise;       ///< host names / addresses people reach it at
  bool http_tls = true;                          ///< HTTPS (TLS 1.3); off only on loopback
  std::filesystem::path http_certificate;        ///< operator's chain (PEM); empty: node-issued
  std::filesystem::path http_key;                ///< operator's key (PEM); with http_certificate
  std::filesystem::path admin_token_file;
  endpoint metrics_listen;
  bool metrics_tls = false;                      ///< serve /metrics over HTTPS too
  // [portal]
  bool portal = true;                            ///< serve the web portal (portal.enabled)
  std::chrono::seconds portal_idle{900};         ///< a session ends after this long unused
  std::chrono::seconds portal_lifetime{28800};   ///< a session ends this long after log-in
  uint32_t portal_max_sessions = 1000;
  // [mail]
  std::string mail_relay;                        ///< host:port of the SMTP relay; empty: no e-mail
  bool mail_implicit_tls = false;                ///< mail.tls = implicit (smtps) rather than starttls
  std::filesystem::path mail_ca;                 ///< trust anchors for the relay; empty: the system's
  std::string mail_user;                         ///< SMTP user; empty: no authentication
  std::filesystem::path mail_password_file;
  std::string mail_from;                         ///< sender address; empty: joconde@FQDN
  std::string mail_portal_url;                   ///< base of the links; empty: the API URL
  // [oidc]
  std::string oidc_issuer;                       ///< the OpenID provider; empty: no OIDC log-in
  std::string oidc_client_id;
  std::filesystem::path oidc_client_secret_file;
  std::filesystem::path oidc_ca;                 ///< trust anchors for the provider; empty: the system's
  std::string oidc_redirect_url;                 ///< empty: the portal URL + /v1/oidc/callback
  std::string oidc_scopes = "openid email profile";
  std::string oidc_groups;                       ///< "GROUP:role, GROUP:role"
  std::string oidc_groups_claim = "groups";
  std::string oidc_name_claim = "preferred_username";
  std::string oidc_label;
  // [storage]
  uint64_t map_size = 1ull << 30;
  // [broker]
  uint32_t window = 4096;            ///< envelopes in flight per neighbour
  uint32_t frame_envelopes = 256;    ///< envelopes per link frame
  std::chrono::milliseconds retry_after{5000};
  std::chrono::milliseconds retry_max{300000}; ///< the resend wait doubles up to this
  std::chrono::milliseconds commit_delay{5};
  uint64_t max_envelope_bytes = 4 * 1024 * 1024 + 64 * 1024;
  // [link]
  std::chrono::milliseconds reconnect_min{200};
  std::chrono::milliseconds reconnect_max{5000};
  std::chrono::milliseconds request_timeout{5000};
  // [audit]
  std::chrono::seconds audit_checkpoint{60};  ///< between signed checkpoints of the audit log
  // [log]
  std::filesystem::path log_file;    ///< empty: standard error
  std::string log_level = "info";
  // [pki] (the root's rules for its tree; other nodes take them from the root, tree_policy.hpp)
  std::chrono::seconds rotation_period{182LL * 24 * 3600};
  std::chrono::seconds certificate_lifetime{730LL * 24 * 3600};
  // [tee]
  std::string tee_provisioner = "process";   ///< process | inproc (tests)
  std::filesystem::path tee_sp_binary;       ///< joconde-sp, the simulated secure processor
  std::filesystem::path tee_vm_binary;       ///< joconde-vm, the CT VM image
  std::filesystem::path tee_platform_dir;    ///< the simulated platform's keys (joconde-sp init)
  std::filesystem::path tee_image_config;    ///< the measured image configuration of joconde-vm
  std::filesystem::path tee_trusted_roots;   ///< PEM bundle of the TEE platform roots clients trust
  // [vm]
  std::string vm_bind = "127.0.0.1";         ///< bind address of the CT VMs' client, peer, MPC endpoints
  std::string vm_advertise;                  ///< host name or address others reach them at
  std::string vm_admin_bind = "127.0.0.1";   ///< bind address of the CT VMs' admin endpoints
  net::port_range vm_ports{20000, 20999};    ///< ports of the CT VMs' endpoints (4 per VM)

  /// The URL people and scripts use for the API: https://ADVERTISED:PORT (http:// when TLS is off).
  std::string api_url() const;
};

/// One documented configuration key.
struct config_key {
  std::string name;          ///< section.key
  std::string default_value;
  std::string help;
};

/// Every key the node understands, in documentation order.
const std::vector<config_key>& config_keys();

/// Loads the configuration: INI file (may be empty path), environment, then `overrides`
/// ("section.key" -> value). Relative paths in the INI file are relative to its directory.
result<node_config> load_node_config(const std::filesystem::path& ini_file,
                                     const std::map<std::string, std::string>& overrides);

/// Checks that the TLS files exist and are readable (TLS fails closed).
result<void> check_tls_files(const node_config& cfg);

/// Writes an INI file with the given values (used by `joconde-node init`).
result<void> write_ini(const std::filesystem::path& file,
                       const std::map<std::string, std::string>& values);

} // namespace joconde
