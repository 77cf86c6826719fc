#pragma once

// The task_orchestrator of a CT VM (DESIGN.md §4 "Computation Task Orchestrator"; messages/vm.hpp
// task_orchestrator_actor): phases, slots, uploads, outputs, erasure. It owns every piece of state
// that changes and is the only actor that changes it (orchestrator_state.hpp); the sessions do their
// socket work in their own threads and ask it. It monitors its children: a child that dies while the
// task runs cancels the task (its state cannot be rebuilt), and a cancelled or finished task erases
// the sealing key and every slot file. Include only from actors/vm sources.

#include "mpc_party.hpp"
#include "vm_context.hpp"

#include "joconde/messages/vm.hpp"

#include <caf/actor_system.hpp>

#include <functional>
#include <memory>

namespace joconde::vm::detail {

/// Spawns the task_orchestrator of the CT in `ctx`, which monitors `policy`, `proxy` and later the
/// session manager (adopt_atom) and the mpc_party it starts, which gets `mpc_listen_fd`; `on_exit` is
/// called once with the VM's exit status. The mpc_party is spawned detached (mpc_party.hpp) unless
/// `spawn_mpc` is given (tests give a mock).
task_orchestrator_actor spawn_task_orchestrator(caf::actor_system& sys, context_ptr ctx,
                                                std::function<void(int)> on_exit,
                                                std::shared_ptr<int> mpc_listen_fd, task_policy_actor policy,
                                                attestation_proxy_actor proxy, mpc_spawner spawn_mpc = {});

} // namespace joconde::vm::detail
