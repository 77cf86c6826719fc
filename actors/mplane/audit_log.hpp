#pragma once

// The audit side of the System Log Collector (DESIGN.md §4): every security-relevant event becomes one
// hash-chained RFC 5424 record, separate from the operational log. Records are written in batches so
// that a burst of envelopes costs one sync, and none is lost on a clean stop. Every interval in which
// records were added, and at a clean stop, the actor appends a checkpoint signed with the node key and
// hands the signed head to the connection manager, which takes it to the parent (docs/operations.md
// "Audit log").

#include "joconde/messages/mplane.hpp"
#include "joconde/runtime/audit_chain.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>

namespace joconde {

namespace metrics {
class registry;
}

/// How the audit log signs checkpoints.
struct audit_checkpoint_config {
  /// Seconds between checkpoints (one only if records were added); 0: none, not even at the stop.
  std::chrono::seconds interval{0};
  /// The node's name, current certificate chain and signing capability (read at every checkpoint,
  /// so a key rotation is followed).
  std::function<audit_signer()> signer;
};

/// State of the audit log actor.
struct audit_log_state {
  static inline const char* name = "audit_log";
  std::shared_ptr<audit_chain> chain;
  metrics::registry* metrics = nullptr;
  audit_checkpoint_config checkpoints;
  connection_manager_actor cm;        ///< takes signed heads to the parent; unset: kept in the log only
  uint64_t written = 0;
  uint64_t failed = 0;
  uint64_t signed_checkpoints = 0;
  uint64_t last_checkpoint_seq = 0;   ///< records covered by the last checkpoint made here
  bool sync_pending = false;
};

using audit_log_pointer = audit_log_actor::stateful_pointer<audit_log_state>;

/// The audit log's behaviour over an opened chain.
audit_log_actor::behavior_type audit_log(audit_log_pointer self, std::shared_ptr<audit_chain> chain,
                                         metrics::registry* metrics, audit_checkpoint_config checkpoints);

} // namespace joconde
