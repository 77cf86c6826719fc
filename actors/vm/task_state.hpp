#pragma once

// The phases of one Computation Task inside a CT VM (spec §4.4.1.1 "Instantiated"; DESIGN.md §4
// task_state_machine) as a plain class: which event is accepted in which phase, and what it changes.
// The task orchestrator checks who sent an event before it hands it to this class; this class
// enforces order and deadlines, and a refused event changes nothing.
//
//   initialisation ──> input ──> calculation ──> output ──(every peer has its outputs)──> finished
//         │              │            │           │  └──(the output deadline, or a CP lost: rest erased)──> finished
//         └──────────────┴────────────┴───────────┴──(cancel; input/execution deadline)──> cancelled
//
// A phase advances only when every computing party agreed to it, so the VMs at the CPs stay in step
// (DESIGN.md §4). The deadlines come from the CTSC's temporal specification (SYS-6.2). The Output
// phase ends when every Peer retrieved the outputs named for it, each once (spec §4.4.1.1 "Output
// Phase"), or at the output deadline: the task ran to completion and offered every output, so it is
// finished; what was not retrieved is erased (SYS-6.6) and missing() says what that was. A CP lost
// in the Output phase ends it the same way (end_output): no download can be backed by every CP any
// more, and what was computed and retrieved stays a finished task's.

#include "joconde/messages/result.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace joconde {

/// The phases of a CT VM (spec §4.4.1.1 "Instantiated"); finished and cancelled are terminal.
enum class task_phase { initialisation, input, calculation, output, finished, cancelled };

/// The phase's name ("initialisation" ... "cancelled"), as shown in telemetry.
std::string_view to_string(task_phase p);

/// The phase with this name, or nullopt.
std::optional<task_phase> task_phase_from_string(std::string_view name);

/// True for finished and cancelled: nothing leaves them.
bool is_terminal(task_phase p);

/// The deadlines of the CTSC's temporal specification (SYS-6.2), as absolute times in ms since
/// the Unix epoch, in the order they fall.
struct task_deadlines {
  int64_t input_ms = 0;     ///< the Input phase ends: every input slot is uploaded by then
  int64_t execution_ms = 0; ///< the Calculation phase ends: the outputs exist by then
  int64_t output_ms = 0;    ///< outputs not retrieved by then are erased (SYS-6.6)
};

/// One change of phase, for telemetry.
struct task_transition {
  task_phase from = task_phase::initialisation;
  task_phase to = task_phase::initialisation;
  int64_t at_ms = 0;
  std::string reason; ///< why: the agreement, the last retrieval, the cancellation or the deadline
};

/// Each output of the task (OutputSpec.key) with the Peers it is released to (OutputSpec.peers).
using output_peers = std::map<std::string, std::set<std::string>>;

/// The phase of one CT at this CP.
class task_state_machine {
public:
  /// A task run by `parties` computing parties that releases each output of `outputs` once to each
  /// of its peers. Refused (malformed_input) without parties, without outputs, with an output named
  /// for no peer, or with deadlines out of order.
  static result<task_state_machine> create(task_deadlines deadlines, unsigned parties,
                                           output_peers outputs);

  /// Party `party` (0-based) agrees to move to `next`, the phase after the current one. The last
  /// vote of the `parties()` distinct parties moves the machine and returns true. Refused, without
  /// change: a party out of range (forbidden); in a terminal phase, a `next` that is not the
  /// following phase, a second vote of a party (invalid_state); a vote at or after the deadline of
  /// the current phase (timeout: tick() cancels the task). The Output phase ends by retrieval or at
  /// its deadline, not by vote (SYS-6.6).
  result<bool> agree(unsigned party, task_phase next, int64_t now_ms);

  /// Whether `peer` may retrieve output `key` now, without change: refused for a key the task does
  /// not produce (not_found), a peer the output is not named for (forbidden), a peer that retrieved
  /// it already (already_exists), outside the Output phase (invalid_state), at or after the output
  /// deadline (timeout).
  result<void> may_retrieve(const std::string& key, const std::string& peer, int64_t now_ms) const;

  /// `peer` retrieved output `key` (SYS-6.6); the last retrieval owed by a named peer finishes the
  /// task and returns true. Refused, without change: what may_retrieve refuses.
  result<bool> output_retrieved(const std::string& key, const std::string& peer, int64_t now_ms);

  /// Enforces the deadlines (SYS-6.2): in initialisation or input at the input deadline, in
  /// calculation at the execution deadline, the task is cancelled; in output at the output deadline
  /// it is finished, whatever was retrieved by then (missing() lists what was not). Either way its
  /// data is to be erased (SYS-6.5, SYS-6.6). True if this call ended the task.
  bool tick(int64_t now_ms);

  /// Ends the Output phase before its deadline because no retrieval can be made any more (a CP was
  /// lost): finished, as at the output deadline, with `why` and what was not retrieved (missing())
  /// as the reason. Refused outside the Output phase (invalid_state) or without a reason
  /// (malformed_input).
  result<void> end_output(const std::string& why, int64_t now_ms);

  /// Cancelled by a peer, the System Operator or a revocation (the caller checked who). Refused in a
  /// terminal phase (invalid_state) or without a reason (malformed_input).
  result<void> cancel(std::string reason, int64_t now_ms);

  /// The current phase.
  task_phase phase() const { return phase_; }
  /// Why the task was cancelled; empty otherwise.
  const std::string& reason() const { return reason_; }
  /// Every change of phase, oldest first.
  const std::vector<task_transition>& history() const { return history_; }
  /// The deadlines given at creation (SYS-6.2).
  const task_deadlines& deadlines() const { return deadlines_; }
  /// How many computing parties must agree to a phase change.
  unsigned parties() const { return parties_; }
  /// The parties that voted for the phase after the current one.
  const std::set<unsigned>& votes() const { return votes_; }
  /// The outputs the task releases, each once to each of its peers.
  const output_peers& outputs() const { return outputs_; }
  /// The peers that retrieved each output so far (outputs nobody retrieved are absent).
  const output_peers& retrieved() const { return retrieved_; }
  /// Every (output, peer) retrieval still owed, in key and peer order: after the output deadline,
  /// what was erased unretrieved.
  std::vector<std::pair<std::string, std::string>> missing() const;

private:
  task_state_machine(task_deadlines deadlines, unsigned parties, output_peers outputs);

  /// The deadline of the current (non-terminal) phase.
  int64_t deadline() const;
  void move(task_phase to, int64_t now_ms, std::string reason);

  task_deadlines deadlines_;
  unsigned parties_;
  output_peers outputs_;
  task_phase phase_ = task_phase::initialisation;
  std::set<unsigned> votes_;
  output_peers retrieved_;
  std::string reason_;
  std::vector<task_transition> history_;
};

} // namespace joconde
