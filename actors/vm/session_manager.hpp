#pragma once

// The session_manager of a CT VM (DESIGN.md §4; messages/vm.hpp session_manager_actor): attested
// client sessions (status, upload, download) and the attested links to the counterpart VMs. Its
// socket work runs in threads (accept loops and detached workers) that ask the orchestrator and the
// task policy through scoped actors. Include only from actors/vm sources.

#include "vm_context.hpp"
#include "vm_sockets.hpp"

#include "joconde/enclave/platform.hpp"
#include "joconde/messages/vm.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace joconde::vm::detail {

/// What the session manager's threads share.
struct session_shared {
  context_ptr ctx;
  task_orchestrator_actor orchestrator;
  task_policy_actor policy;
  std::shared_ptr<enclave::attester> attester;
  std::shared_ptr<enclave::verifier> verifier;
  io::unique_fd client_listener, peer_listener;
  address client_address, peer_address, mpc_address;
  std::vector<std::thread> threads;
  std::mutex mutex;
  /// Counterparts with a higher CP index whose attested link this VM accepted (under `mutex`).
  std::set<unsigned> established;
  /// A connection on the peer port between accept and the end of its attested handshake.
  struct handshake_slot {
    io::unique_fd fd;                             ///< a duplicate of its socket, to evict it by
    std::string source;                           ///< its peer's address
    std::chrono::steady_clock::time_point since;  ///< accepted then
    std::shared_ptr<std::atomic<bool>> evicted;   ///< set when it gave way to a newcomer
  };
  /// The connections on the peer port in handshake, by a serial number (under `mutex`).
  std::map<std::uint64_t, handshake_slot> handshakes;
  std::uint64_t next_handshake = 0;
  bool peers_given = false;
  /// Client sessions in all and per source address, and each source's evidence budget (under
  /// `mutex`).
  struct client_source {
    unsigned sessions = 0;
    double tokens = 0;
    std::chrono::steady_clock::time_point refilled;
  };
  std::map<std::string, client_source> client_sources;
  unsigned client_sessions = 0;
  /// Detached socket workers still running (client sessions, peer handshakes, diallers): the VM
  /// waits for them before its actor system goes, since they talk to its actors (under `mutex`).
  unsigned workers = 0;
  std::condition_variable workers_done;
};

using session_ptr = std::shared_ptr<session_shared>;

/// Endpoints (host:port) by CP index.
using index_map = std::map<std::uint32_t, std::string>;

/// Runs `fn(args...)` on a detached worker thread counted in sh.workers; once the VM is stopping,
/// runs nothing and returns false (the arguments are dropped; a raw fd among them is the caller's to
/// close): the VM may already have waited for its workers and be tearing its actor system down.
template <class F, class... Args>
bool spawn_worker(const session_ptr& sh, F fn, Args... args) {
  {
    std::lock_guard lock{sh->mutex};
    if (sh->ctx->stopping->load())
      return false;
    ++sh->workers;
  }
  std::thread{[sh, fn, ... args = std::move(args)]() mutable {
    fn(sh, std::move(args)...);
    std::lock_guard lock{sh->mutex};
    if (--sh->workers == 0)
      sh->workers_done.notify_all();
  }}.detach();
  return true;
}

/// Waits until every worker of `sh` has ended (they see `stopping` and their sockets' deadlines), at
/// most `limit`; false if some are still running then.
bool wait_for_workers(session_shared& sh, std::chrono::milliseconds limit);

/// Accepts clients on the client endpoint until the VM stops (a thread of the session manager):
/// each admitted connection is served by a worker (client_sessions.cpp).
void accept_clients(session_ptr sh);

/// The session_manager actor: accepts clients from the start; peers_atom starts the counterpart links.
session_manager_actor::behavior_type session_manager(session_manager_actor::pointer self, session_ptr sh);

} // namespace joconde::vm::detail
