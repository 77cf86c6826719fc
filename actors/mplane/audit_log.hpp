#pragma once

// The audit side of the System Log Collector (DESIGN.md §4): every security-relevant event becomes one
// hash-chained RFC 5424 record, separate from the operational log. Records are written in batches so
// that a burst of envelopes costs one sync, and none is lost on a clean stop.

#include "joconde/messages/mplane.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <filesystem>
#include <memory>

namespace joconde {

class audit_chain;

namespace metrics {
class registry;
}

/// State of the audit log actor.
struct audit_log_state {
  static inline const char* name = "audit_log";
  std::shared_ptr<audit_chain> chain;
  metrics::registry* metrics = nullptr;
  uint64_t written = 0;
  uint64_t failed = 0;
  bool sync_pending = false;
};

using audit_log_pointer = audit_log_actor::stateful_pointer<audit_log_state>;

/// The audit log's behaviour over an opened chain.
audit_log_actor::behavior_type audit_log(audit_log_pointer self, std::shared_ptr<audit_chain> chain,
                                         metrics::registry* metrics);

} // namespace joconde
