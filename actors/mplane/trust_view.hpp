#pragma once

// What a node trusts: the root CA, its own identity, revoked certificates and the fingerprints an
// operator confirmed out of band (ADR-5, DESIGN.md §7). A plain class: actors own one each and
// replace it when the revocation list changes.

#include "joconde/messages/result.hpp"
#include "joconde/runtime/crypto.hpp"

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace joconde {

/// A node whose certificate chain was verified against the root.
struct verified_node {
  std::string fqdn;          ///< SAN DNS name of the leaf
  std::string name;          ///< common name of the leaf
  std::string fingerprint;   ///< SHA-256 of the leaf DER
  crypto::certificate leaf;
  std::vector<crypto::certificate> chain; ///< leaf first, without the root CA
};

/// True if `name` is `node` or lies below it in the DNS-style node tree (cp1 -> x.cp1).
bool in_subtree(std::string_view name, std::string_view node);

/// True if `name` is a direct child of `node` (x.cp1 is a direct child of cp1; y.x.cp1 is not).
bool is_direct_child(std::string_view name, std::string_view node);

/// The trust anchor and revocation state of one node; thread-safe.
class trust_view {
public:
  trust_view(crypto::certificate root_ca, std::vector<crypto::certificate> own_chain);

  /// Verifies a DER chain (leaf first) against the root at `now`, refusing revoked certificates.
  /// Successful verifications are cached by leaf fingerprint while every certificate of the chain,
  /// root CA included, is within its validity period.
  result<verified_node> verify_chain(const std::vector<std::string>& chain_der,
                                     std::chrono::system_clock::time_point now);

  /// Marks a certificate (by fingerprint) as revoked; later verifications and cache hits fail.
  void revoke(const std::string& fingerprint);

  /// True if the fingerprint was revoked.
  bool is_revoked(const std::string& fingerprint) const;

  /// The root CA certificate.
  const crypto::certificate& root_ca() const { return root_ca_; }

  /// This node's chain, leaf first (a copy: it changes when the node's key is rotated).
  std::vector<crypto::certificate> own_chain() const;

  /// This node's FQDN (never changes, also not by a rotation).
  const std::string& self() const { return self_; }

  /// This node's chain as DER, leaf first.
  std::vector<std::string> own_chain_der() const;

  /// Installs a new chain for this node after a key rotation (same FQDN).
  void set_own_chain(std::vector<crypto::certificate> chain);

  /// True if `cert` is this node's certificate now or was before a rotation (children enrolled
  /// under an earlier certificate still present it as their issuer).
  bool is_own_certificate(const crypto::certificate& cert) const;

private:
  crypto::certificate root_ca_;
  std::vector<crypto::certificate> own_chain_;
  std::string self_;
  std::vector<std::string> own_chain_der_;
  std::set<std::string> own_history_; ///< fingerprints of this node's certificates, old and new
  mutable std::mutex mtx_;
  std::set<std::string> revoked_;
  /// A verified chain and the window in which every certificate of it, root CA included, is valid.
  struct cached_chain {
    verified_node node;
    std::chrono::system_clock::time_point not_before;
    std::chrono::system_clock::time_point not_after;
  };
  std::map<std::string, cached_chain> cache_;
};

} // namespace joconde
