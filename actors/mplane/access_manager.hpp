#pragma once

// The Role and Access Manager and System Policy Engine (DESIGN.md §4): owns the node's
// access_policy (roles of this node and of the children it enrolled, the rules), keeps the children's
// roles in step with the store, and answers policy questions; every denial is logged, counted
// (joconde_policy_denials_total{rule}) and audited. The broker and the HTTP API consult the same
// access_policy object directly on their hot paths.

#include "joconde/messages/mplane.hpp"

#include "access_policy.hpp"
#include "node_store.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <memory>

namespace joconde::metrics {
class registry;
}

namespace joconde {

/// State of the access manager.
struct access_manager_state {
  static inline const char* name = "access_manager";
  std::shared_ptr<access_policy> policy;
  node_store store;
  audit_log_actor audit;
  metrics::registry* metrics = nullptr;
  uint64_t allowed = 0;
  uint64_t denied = 0;
};

using access_manager_pointer = access_manager_actor::stateful_pointer<access_manager_state>;

/// Reads the roles of the children enrolled in `store` into `policy`; how many there are.
result<size_t> load_child_roles(const node_store& store, access_policy& policy);

/// Logs, counts and audits a denial (for the actors and the API that consult the policy directly).
void report_denial(const policy_decision& d, std::string_view subject, std::string_view action,
                   const audit_log_actor& audit, metrics::registry* metrics);

access_manager_actor::behavior_type access_manager(access_manager_pointer self,
                                                   std::shared_ptr<access_policy> policy,
                                                   node_store store, audit_log_actor audit,
                                                   metrics::registry* metrics);

} // namespace joconde
