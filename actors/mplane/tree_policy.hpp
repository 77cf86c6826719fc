#pragma once

// The rules the root sets for its whole tree (spec §4.4.2.3: "The rotation frequency is dictated by
// the Root Service Node"; a certificate is active for 6 months and passive for 18, 24 in all): how
// old a node's certificate may get before the node rotates its key, and how long a parent issues
// node certificates for. The root signs them with its node key (TreePolicy, topic pki.policy); each
// parent hands the newest it holds to its children, so a node enrolled later gets it too. Plain code:
// making, checking and keeping them.

#include "node_signer.hpp"
#include "node_store.hpp"
#include "trust_view.hpp"

#include "joconde/node.pb.h"

#include <chrono>
#include <optional>
#include <string>

namespace joconde {

/// Topic of envelopes that carry the root's TreePolicy from a parent to a child.
constexpr const char* tree_policy_topic = "pki.policy";

/// The rules themselves.
struct tree_policy {
  std::chrono::seconds rotation_period{182LL * 24 * 3600};       ///< active: 26 weeks
  std::chrono::seconds certificate_lifetime{730LL * 24 * 3600};  ///< active + passive: 24 months
  int64_t issued_at_ms = 0;                                      ///< 0: nobody signed it (the defaults)
};

/// Bounds the rules must keep: a rotation period from 10 seconds to 10 years, and a lifetime at
/// least twice the rotation period (a passive certificate must outlive the agreements signed with
/// it, spec §4.4.2.3) and at most 10 years. invalid_config naming the rule otherwise.
result<void> check_tree_policy(std::chrono::seconds rotation_period, std::chrono::seconds lifetime);

/// At the root: the rules signed by the root node's key (`trust` is the root's view).
result<std::string> make_tree_policy(const tree_policy& rules, const trust_view& trust,
                                     const node_signer& signer, std::chrono::system_clock::time_point now);

/// Checks a serialised TreePolicy: signed by the root node of this node's tree (the last
/// certificate of the own chain), naming it, with rules inside the bounds.
result<tree_policy> verify_tree_policy(const trust_view& trust, std::string_view bytes);

/// The policy this node holds (meta key "pki.policy"): the signed bytes and what they say; nullopt
/// if none has reached it yet.
result<std::optional<std::pair<std::string, tree_policy>>> stored_tree_policy(const lmdb::txn_base& txn,
                                                                             const node_store& store);

/// Keeps `bytes` (which verify_tree_policy accepted as `rules`) inside `txn` if it is newer than
/// the one held; true if it was kept.
result<bool> keep_tree_policy(lmdb::write_txn& txn, const node_store& store, std::string_view bytes,
                              const tree_policy& rules);

/// Whether the child `fqdn` was sent the policy issued at `issued_at_ms` (meta "pki.policy.sent").
result<bool> tree_policy_sent(const lmdb::txn_base& txn, const node_store& store, const std::string& fqdn,
                              int64_t issued_at_ms);

/// Records that the child `fqdn` was sent the policy issued at `issued_at_ms`.
result<void> mark_tree_policy_sent(lmdb::write_txn& txn, const node_store& store, const std::string& fqdn,
                                   int64_t issued_at_ms);

} // namespace joconde
