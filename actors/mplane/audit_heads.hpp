#pragma once

// The signed heads of the audit logs of a node's children (docs/operations.md "Audit log"): a child
// sends its latest signed head over the authenticated link, the parent checks it and keeps the latest
// per child in LMDB (the root keeps its own), and `joconde-node audit heads` prints them for
// `audit verify --head`. Plain functions; the connection manager calls them.

#include "joconde/messages/result.hpp"
#include "joconde/runtime/audit_chain.hpp"
#include "joconde/runtime/crypto.hpp"

#include "node_store.hpp"

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace joconde {

/// Largest serialised AuditHead accepted from a child.
constexpr size_t max_audit_head_bytes = 1024;

/// A head as kept here.
struct kept_audit_head {
  audit_head head;
  std::int64_t received_at = 0;   ///< seconds since the epoch
  std::string certificate;        ///< fingerprint of the certificate the sender's link presented
};

/// What keep_audit_head did with a head that passed its checks.
enum class head_outcome {
  kept,       ///< newer than the kept one (or the first): stored
  unchanged,  ///< the very head kept already: nothing written
};

/// What keep_audit_head did, and the sequence kept for the node after it.
struct head_kept {
  head_outcome outcome = head_outcome::kept;
  std::uint64_t seq = 0;
};

/// Serialises a head for the link (AuditHead).
std::string serialize_audit_head(const audit_head& head);

/// Checks a serialised AuditHead that `peer` sent (its link authenticated with `peer_leaf`) and
/// keeps it if it is newer. Refused, changing nothing: malformed (malformed_input), of another node
/// (unknown_peer), not signed by the peer's key (bad_signature), older than the kept head
/// (replayed) or a different head for the kept sequence (forbidden).
result<head_kept> keep_audit_head(const node_store& store, std::string_view peer,
                                  const crypto::certificate& peer_leaf, std::string_view bytes,
                                  std::chrono::system_clock::time_point now);

/// Every kept head, by node FQDN.
result<std::vector<kept_audit_head>> kept_audit_heads(const node_store& store);

} // namespace joconde
