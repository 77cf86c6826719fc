#pragma once

// The HTTPS identity of a node's API (and of /metrics with metrics.tls = on): people and scripts reach
// their node over TLS 1.3 only (DESIGN.md §3, issue 13). Either the operator gives a certificate from
// their organisation's CA (http.certificate, http.key), or the node issues one at every start from its
// own node key (every node is a CA for its own subtree, DESIGN.md §7) for a fresh key that lives in
// memory only. The node-issued certificate names the node's FQDN, the advertised host names in the
// node's DNS subtree and every IP address people may use (the advertised ones, the bind address, and
// for a wildcard listener this host's addresses and loopback); a client verifies it with the
// federation's root CA (root-ca.pem), or pins the chain the node wrote to DATA_DIR/http-chain.pem.

#include "joconde/messages/result.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/http_server.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace joconde {

struct node_config;

/// The file in the data directory with the chain the API serves (public; written at every start):
/// local administration commands and operators pin it.
inline constexpr const char* https_chain_file = "http-chain.pem";

/// What a node-issued HTTPS certificate names.
struct https_names {
  std::vector<std::string> dns;  ///< the node's FQDN first, then advertised names in its subtree
  std::vector<std::string> ips;  ///< numeric IPv4 and IPv6 addresses
};

/// The names of the node-issued certificate for `cfg` at the node `fqdn`: invalid_config naming the
/// host when http.advertise names a DNS name outside the node's subtree (its CA may not certify it:
/// give http.certificate and http.key then). `local_addresses` are this host's addresses (used for a
/// wildcard listener).
result<https_names> https_names_of(const node_config& cfg, const std::string& fqdn,
                                   const std::vector<std::string>& local_addresses);

/// The addresses of this host's interfaces that are up (numeric, IPv4 and IPv6, no link-local).
std::vector<std::string> local_addresses();

/// The API's TLS identity: the operator's chain and key, checked (key matches the leaf, the leaf is
/// valid at `now`), or a certificate issued by `node_key` (the node certificate `node_chain` front)
/// for a fresh P-256 key, valid until the node certificate expires. Errors name the key or file.
result<http::tls_identity> https_identity(const node_config& cfg, const crypto::private_key& node_key,
                                          const std::vector<crypto::certificate>& node_chain,
                                          std::chrono::system_clock::time_point now);

} // namespace joconde
