#pragma once

// The phase votes of the Computing Parties of one CT (DESIGN.md §4 task_state_machine: "a phase
// advances only when all agree") as a plain class beside task_state_machine. Each CT VM votes for
// the next phase when it is ready for it and tells its counterparts; a counterpart's vote may arrive
// before this VM reached the phase before the one voted for (it was quicker), so votes are kept here
// until the machine can take them. The task orchestrator records the votes it receives and applies
// them; the machine decides (agree), this class only keeps what it cannot take yet.

#include "task_state.hpp"

#include "joconde/messages/result.hpp"

#include <cstdint>
#include <map>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

namespace joconde {

/// The votes for phases the task has not reached yet, and which phases this VM voted for.
class phase_votes {
public:
  /// What one apply() did.
  struct step {
    bool moved = false;                             ///< the machine moved to the next phase
    std::vector<std::pair<unsigned, error>> refused; ///< votes the machine refused (at most one), by CP
  };

  /// Counterpart `cp` votes for the phase named `next`. Refused, without change (malformed_input):
  /// a name that is no phase, or a terminal phase (nobody votes to end a task).
  result<void> record(unsigned cp, std::string_view next);

  /// CP `cp` votes for `next` (kept until the machine is in the phase before it).
  void record(unsigned cp, task_phase next);

  /// This VM, CP `own`, votes for `next`: recorded, and voted(next) is true from now on.
  void vote(unsigned own, task_phase next);

  /// True once this VM voted for `next`.
  bool voted(task_phase next) const { return own_.count(next) > 0; }

  /// Hands `m` the recorded votes for the phase after its current one, in CP order, skipping CPs
  /// whose vote it has already, until it refuses one (reported, and left recorded) or moves. When
  /// it moves, the votes for the phase it reached are forgotten. A step moves at most one phase:
  /// the caller reacts to the new phase (which may vote again) and applies again.
  step apply(task_state_machine& m, std::int64_t now_ms);

  /// The CPs that voted for `next`, while the machine has not reached it.
  std::set<unsigned> recorded(task_phase next) const;

private:
  std::map<task_phase, std::set<unsigned>> early_;
  std::set<task_phase> own_;
};

} // namespace joconde
