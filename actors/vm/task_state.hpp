#pragma once

// The phases of one Computation Task inside a CT VM (spec §4.4.1.1 "Instantiated"; DESIGN.md §4
// task_state_machine) as a plain class: which event is accepted in which phase, and what it changes.
// The task orchestrator checks who sent an event before it hands it to this class; this class
// enforces order and deadlines, and a refused event changes nothing.
//
//   initialisation ──> input ──> calculation ──> output ──(every output retrieved once)──> finished
//         │              │            │             │
//         └──────────────┴────────────┴─────────────┴──(cancel, deadline)──> cancelled
//
// A phase advances only when every computing party agreed to it, so the VMs at the CPs stay in step
// (DESIGN.md §4). The deadlines come from the CTSC's temporal specification (SYS-6.2).

#include "joconde/messages/result.hpp"

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
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

/// The phase of one CT at this CP.
class task_state_machine {
public:
  /// A task run by `parties` computing parties that releases each output named in `outputs` once.
  /// Refused (malformed_input) without parties, without outputs, or with deadlines out of order.
  static result<task_state_machine> create(task_deadlines deadlines, unsigned parties,
                                           std::set<std::string> outputs);

  /// Party `party` (0-based) agrees to move to `next`, the phase after the current one. The last
  /// vote of the `parties()` distinct parties moves the machine and returns true. Refused, without
  /// change: a party out of range (forbidden); in a terminal phase, a `next` that is not the
  /// following phase, a second vote of a party (invalid_state); a vote at or after the deadline of
  /// the current phase (timeout: tick() cancels the task). The Output phase ends by retrieval, not
  /// by vote (SYS-6.6).
  result<bool> agree(unsigned party, task_phase next, int64_t now_ms);

  /// The output `key` was released once (SYS-6.6); the last one finishes the task and returns true.
  /// Refused, without change: outside the Output phase or at or after the output deadline
  /// (invalid_state / timeout), a key the task does not produce (not_found), a key retrieved already
  /// (already_exists).
  result<bool> output_retrieved(const std::string& key, int64_t now_ms);

  /// Enforces the deadlines (SYS-6.2): in initialisation or input at the input deadline, before
  /// output at the execution deadline, in output at the output deadline, the task is cancelled and
  /// its data is to be erased (SYS-6.5, SYS-6.6). True if this call cancelled it.
  bool tick(int64_t now_ms);

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
  /// The outputs the task releases, each once.
  const std::set<std::string>& outputs() const { return outputs_; }
  /// The outputs released so far.
  const std::set<std::string>& retrieved() const { return retrieved_; }

private:
  task_state_machine(task_deadlines deadlines, unsigned parties, std::set<std::string> outputs);

  /// The deadline of the current (non-terminal) phase.
  int64_t deadline() const;
  void move(task_phase to, int64_t now_ms, std::string reason);

  task_deadlines deadlines_;
  unsigned parties_;
  std::set<std::string> outputs_;
  task_phase phase_ = task_phase::initialisation;
  std::set<unsigned> votes_;
  std::set<std::string> retrieved_;
  std::string reason_;
  std::vector<task_transition> history_;
};

} // namespace joconde
