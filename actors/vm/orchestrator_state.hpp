#pragma once

// The state of a CT VM's task_orchestrator (task_orchestrator.hpp) and the steps its handlers share,
// one source file a workflow:
//   task_orchestrator.cpp      the behaviour: start, the timer, supervision of the children
//   orchestrator_phases.cpp    events, phase changes and votes, the calculation, the end of the task
//   orchestrator_peers.cpp     the counterparts: their links and control messages
//   orchestrator_uploads.cpp   uploads of inputs, sealed at every CP (upload_ledger)
//   orchestrator_checks.cpp    the data-quality check of each upload, run when it is sealed at every CP
//   orchestrator_outputs.cpp   releases of outputs, backed by every CP (release_coordinator)
// The plain classes decide (task_state_machine, data_slot, phase_votes, upload_ledger,
// release_coordinator); these steps apply their decisions: events, metrics, messages, files.
// Include only from those sources.

#include "data_slot.hpp"
#include "mpc_party.hpp"
#include "peer_links.hpp"
#include "phase_votes.hpp"
#include "release_coordinator.hpp"
#include "task_state.hpp"
#include "upload_ledger.hpp"
#include "vm_context.hpp"
#include "vm_sockets.hpp"

#include "joconde/messages/vm.hpp"

#include <joconde/vm.pb.h>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace joconde::vm::detail {

/// An upload whose data-quality check is to run or runs.
struct pending_check {
  std::string slot;  ///< the input
  std::string id;    ///< the upload (its content id)
};

/// Everything of the task that changes; the orchestrator is the only actor that changes it.
struct orchestrator_state {
  context_ptr ctx;
  std::optional<task_state_machine> machine;
  std::map<std::string, data_slot> slots;
  std::map<std::string, sealed_content> contents;  ///< content id -> file (current and replaced)
  std::optional<upload_ledger> uploads;            ///< uploads awaiting every CP
  std::map<std::string, caf::typed_response_promise<std::string>> upload_waiting;  ///< by request id
  std::optional<release_coordinator> releases;     ///< which download gets each output for a peer
  std::map<std::uint64_t, caf::typed_response_promise<released_output>> download_waiting;  ///< by ticket
  std::uint64_t next_ticket = 1;
  phase_votes votes;
  std::map<unsigned, peer_link_ptr> peers;         ///< the counterparts' links, taken from ctx->links
  std::map<unsigned, address> mpc_addresses;       ///< the counterparts' MPC endpoints
  bool mpc_started = false;
  unsigned active_downloads = 0;
  std::int64_t finished_at_ms = 0;
  std::chrono::steady_clock::time_point mpc_started_at{};  ///< when the main algorithm started
  std::vector<vm_event> events;
  std::uint64_t next_seq = 1;
  task_policy_actor policy;          ///< child (monitored)
  attestation_proxy_actor proxy;     ///< child (monitored)
  session_manager_actor sessions;    ///< child (monitored, adopted after start)
  mpc_party_actor mpc;               ///< child (monitored), for the calculation
  std::deque<pending_check> check_queue;     ///< checks to run, in CP 0's order
  std::optional<pending_check> checking;     ///< the check running
  mpc_party_actor check_party;               ///< child (monitored) running `checking`
  std::map<std::string, std::string> passed; ///< input key -> the upload whose check passed
  std::map<std::string, std::string> refused; ///< input key -> why its last upload was refused
  mpc_spawner spawn_mpc;             ///< empty: the real mpc_party, detached
  std::shared_ptr<int> mpc_listen_fd;
  bool erased = false;
  int exit_status = exit_cancelled;
  std::function<void(int)> on_exit;
  static inline const char* name = "task_orchestrator";
};

using orchestrator_pointer = task_orchestrator_actor::stateful_pointer<orchestrator_state>;

// -- events, phases, the end of the task (orchestrator_phases.cpp) --

/// Records and logs an event of the VM ("event <kind> <subject> <value>"; the host reads them).
void event(orchestrator_pointer self, std::string kind, std::string subject, std::string value);

/// Sets joconde_vm_phase and joconde_vm_slots.
void update_gauges(orchestrator_pointer self);

/// Counts an engine run's rounds and bytes (in all, and to each Computing Party) in the metrics.
void count_mpc(orchestrator_pointer self, const mpc_outcome& out);

/// Deletes the files of every content the slots listed for erasure.
void erase_listed(orchestrator_pointer self);

/// The task ended with VM exit status `status`: everything it holds is erased.
void finish_run(orchestrator_pointer self, int status);

/// Cancels the task (`reason`), telling the counterparts if `tell_peers`; nothing in a terminal phase.
void cancel_task(orchestrator_pointer self, const std::string& reason, bool tell_peers);

/// Applies the votes that can move the task, reacting to each new phase.
void apply_votes(orchestrator_pointer self);

/// This VM agrees to move to `next` and tells its counterparts.
void vote(orchestrator_pointer self, task_phase next);

/// Votes for the calculation once every input slot is ready at every CP and no upload is running.
void maybe_close_input(orchestrator_pointer self);

/// Reacts to the phase the task just reached.
void on_phase(orchestrator_pointer self);

/// The engine's outcome at this CP: outputs into their slots, then the vote for the Output phase.
void take_outcome(orchestrator_pointer self, mpc_outcome& out);

/// Ends the Output phase early or at its deadline (`when` says which, for the erasure events).
void end_output_phase(orchestrator_pointer self, const std::string& when);

/// The CT's phase and slots, and its events after sequence number `since`.
ct_status status_of(orchestrator_pointer self, std::uint64_t since);

// -- counterparts (orchestrator_peers.cpp) --

/// Sends `m` to every counterpart with a link.
void broadcast(orchestrator_pointer self, const v1::PeerMessage& m);

/// Takes the attested link to `cp` from the exchange; votes for the Input phase once every
/// counterpart has one.
void peer_up(orchestrator_pointer self, unsigned cp, const std::string& mpc_address);

/// Counterpart `cp` is lost: the Output phase ends, any earlier phase cancels the task.
void peer_down(orchestrator_pointer self, unsigned cp, const std::string& why);

/// A control message (serialised PeerMessage) from counterpart `cp`.
void on_peer_message(orchestrator_pointer self, unsigned cp, const std::string& bytes);

/// Ends the counterpart links so that their reader threads wake up and stop.
void close_links(orchestrator_pointer self);

// -- uploads (orchestrator_uploads.cpp) --

/// A client's upload granted by the task policy begins here.
caf::result<void> begin_upload(orchestrator_pointer self, const authorized& grant);

/// Upload `id` is sealed here; the reply waits until it is sealed at every CP.
caf::result<std::string> upload_sealed(orchestrator_pointer self, const std::string& id, sealed_content content);

/// Completes upload `id` if it is sealed here and at every CP.
void upload_complete_check(orchestrator_pointer self, const std::string& id);

/// Upload `id` failed (`why`): its slot is empty again at this CP; `tell`: tell the counterparts.
void upload_failed(orchestrator_pointer self, const std::string& id, const std::string& why, bool tell);

/// Fails the uploads that are not sealed at every CP by their deadline.
void expire_uploads(orchestrator_pointer self, std::int64_t now);

/// Answers every session waiting for an upload: the task ended.
void end_uploads(orchestrator_pointer self);

/// The inputs without valid data, each with why ("`income` (nothing uploaded)", "`persons` (its last
/// upload failed its data-quality check)"), for the cancellation at the input deadline.
std::string inputs_without_data(orchestrator_pointer self);

// -- data-quality checks (orchestrator_checks.cpp) --

/// True if input `slot` is ready here and has a check that has not passed for its content yet.
bool check_pending(orchestrator_pointer self, const std::string& slot);

/// The check of upload `id` of input `slot` is to run here, after those queued before it; at CP 0
/// the counterparts are told, which fixes the order for all.
void queue_check(orchestrator_pointer self, const std::string& slot, const std::string& id);

/// Counterpart `cp` announced the check of upload `id` of `slot` (only CP 0's announcements count).
void on_check_announced(orchestrator_pointer self, unsigned cp, const std::string& slot, const std::string& id);

/// Starts the next queued check whose upload is ready here, unless one runs or the input is over.
void run_next_check(orchestrator_pointer self);

/// The check party's verdict: the slot counts as filled, or is empty again.
void check_done(orchestrator_pointer self, mpc_outcome& out);

/// The check running could not finish (`why`): the upload is refused at every CP.
void check_failed(orchestrator_pointer self, const std::string& why);

/// Drops the queued checks and stops the running one (the task ended).
void stop_checks(orchestrator_pointer self);

// -- outputs (orchestrator_outputs.cpp) --

/// A client's download granted by the task policy; the reply waits until every CP backs it.
caf::result<released_output> release(orchestrator_pointer self, const authorized& grant);

/// This CP backs download `request_id` of `op` (its own client's, or at CP 0 a proposal).
void back_download(orchestrator_pointer self, const output_peer& op, const std::string& request_id);

/// CP 0 decided download `request_id` of `op`.
void decide_download(orchestrator_pointer self, const output_peer& op, const std::string& request_id);

/// Releases `op` to its decided download if its session waits here.
void try_release(orchestrator_pointer self, const output_peer& op);

/// Refuses the download sessions the CPs did not all back in time.
void expire_downloads(orchestrator_pointer self, std::int64_t now);

/// Answers every session waiting for a download: the task ended.
void end_downloads(orchestrator_pointer self);

} // namespace joconde::vm::detail
