#pragma once

// The task_policy actor of a CT VM (DESIGN.md §4; messages/vm.hpp task_policy_actor): the Task Policy
// Engine (task_policy.hpp) behind a mailbox, so that the sessions' threads share its record of used
// request ids. Include only from actors/vm sources.

#include "task_policy.hpp"
#include "vm_context.hpp"

#include "joconde/messages/vm.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <optional>

namespace joconde::vm::detail {

/// The state of the task_policy actor: the policy of the CTA this VM serves.
struct task_policy_state {
  std::optional<task_policy> policy;
  static inline const char* name = "task_policy";
};

/// The task_policy actor (the Task Policy Engine).
task_policy_actor::behavior_type task_policy_engine(task_policy_actor::stateful_pointer<task_policy_state> self,
                                                    context_ptr ctx);

} // namespace joconde::vm::detail
