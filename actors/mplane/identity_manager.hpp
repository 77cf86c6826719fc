#pragma once

// The Node Identity Manager (DESIGN.md §4): applies revocations to this node's trust view, keeps them
// in the store, drops links to revoked nodes, and spreads each new revocation through the tree (up to
// the root when it starts here, down to every enrolled child), once. It rotates this node's key, issues
// rotated certificates to its children, and spreads a rotation notice for each through the tree the
// same way, so that every node that confirmed the old fingerprint out of band trusts the new one
// (rotation.hpp, confirmations.hpp; SYS-2.1). It keeps the root's rules for the tree (rotation
// period, certificate lifetime; tree_policy.hpp): the root signs them, every parent hands them to
// its children.

#include "joconde/messages/mplane.hpp"

#include "node_signer.hpp"
#include "node_store.hpp"
#include "tree_policy.hpp"
#include "trust_view.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>

namespace joconde {

/// Where the node's key and chain live, for installing a rotated certificate.
struct identity_files {
  std::filesystem::path key;         ///< encrypted PKCS#8 node key
  std::filesystem::path chain;       ///< node certificate and intermediates
  std::string passphrase;            ///< of the node key
  /// At the root: the rules it sets for its tree (its configuration); elsewhere unused, the node
  /// takes the root's signed policy (tree_policy.hpp).
  tree_policy root_rules;
};

/// State of the identity manager.
struct identity_manager_state {
  static inline const char* name = "identity_manager";
  identity_files files;
  std::shared_ptr<memory_signer> signer;
  std::optional<crypto::private_key> pending; ///< new key waiting for its certificate
  std::shared_ptr<trust_view> trust;
  node_store store;
  connection_manager_actor cm;
  service_broker_actor broker;
  audit_log_actor audit;
  std::string domain; ///< FQDN of the root node
  tree_policy rules;  ///< the root's rules as this node holds them (the defaults until they arrive)
  std::set<std::string> policy_in_flight; ///< children the policy was handed to, not yet in the outbox
  uint64_t applied = 0;
  /// Rotation notices by outcome (confirmations.hpp: confirmed, not_confirmed_here, replayed).
  std::map<std::string, uint64_t> notices;
  uint64_t notices_refused = 0; ///< notices that did not verify
};

using identity_manager_pointer = identity_manager_actor::stateful_pointer<identity_manager_state>;

/// The identity manager's behaviour. Revocations already in the store are applied at start, and
/// revocations delivered to the inbox but not yet applied (a crash in between) are applied too.
identity_manager_actor::behavior_type
identity_manager(identity_manager_pointer self, std::shared_ptr<trust_view> trust,
                 std::shared_ptr<memory_signer> signer, identity_files files, node_store store,
                 connection_manager_actor cm, service_broker_actor broker, audit_log_actor audit);

/// Finishes an installation of a rotated key that a crash interrupted: if the key does not match
/// the chain and a matching `CHAIN.new` is there, it is moved into place.
result<void> finish_pending_rotation(const identity_files& files);

} // namespace joconde
