#pragma once

// The mpc_party of a CT VM (DESIGN.md §4 "MPC Engine activation"; messages/vm.hpp mpc_party_actor):
// the engine run at this CP for the calculation, on a detached actor (the engine blocks on its
// channels). Include only from actors/vm sources.

#include "vm_context.hpp"

#include "joconde/messages/vm.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

namespace joconde::vm::detail {

/// What one engine run needs besides the CTA: given when the mpc_party is spawned, since a socket
/// and pair keys are no message content. A run is the calculation, or the data-quality check of one
/// upload (`check_of`), run when the upload completed at every CP.
struct mpc_job {
  std::map<std::string, sealed_content> inputs;  ///< input key -> its sealed shares at this CP
  std::map<unsigned, std::string> addresses;     ///< CP index -> its MPC endpoint (host:port)
  std::map<unsigned, std::string> keys;          ///< CP index -> the 32-byte pair key (cleansed after use)
  std::shared_ptr<int> listen_fd;                ///< this CP's MPC listening socket (the engine takes it)
  /// A check: the input and the upload id whose data-quality check this run is (its pair keys are
  /// derived from the upload id, so that a counterpart in another run cannot be taken for this one).
  std::string check_input;
  std::string check_of;
  /// The calculation: the inputs whose checks passed at upload and are not run again.
  std::set<std::string> checked;
};

/// The mpc_party actor: on run_atom, runs the engine and tells `parent` mpc_ok (with the outcome's
/// check_of set for a check) or mpc_fail.
mpc_party_actor::behavior_type mpc_party(mpc_party_actor::pointer self, context_ptr ctx,
                                         task_orchestrator_actor parent, mpc_job job);

/// Starts the mpc_party of the calculation for the orchestrator `parent` with `job` (task_orchestrator.hpp:
/// the real one, detached, unless a test gives a mock).
using mpc_spawner = std::function<mpc_party_actor(task_orchestrator_actor parent, mpc_job job)>;

} // namespace joconde::vm::detail
