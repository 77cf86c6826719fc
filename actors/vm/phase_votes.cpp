#include "phase_votes.hpp"

namespace joconde {

result<void> phase_votes::record(unsigned cp, std::string_view next) {
  auto phase = task_phase_from_string(next);
  if (!phase || is_terminal(*phase))
    return fail(errc::malformed_input, "cp-" + std::to_string(cp) + " voted for an unknown phase");
  record(cp, *phase);
  return ok();
}

void phase_votes::record(unsigned cp, task_phase next) {
  early_[next].insert(cp);
}

void phase_votes::vote(unsigned own, task_phase next) {
  own_.insert(next);
  record(own, next);
}

phase_votes::step phase_votes::apply(task_state_machine& m, std::int64_t now_ms) {
  step out;
  if (is_terminal(m.phase()))
    return out;
  auto next = static_cast<task_phase>(static_cast<int>(m.phase()) + 1);
  auto it = early_.find(next);
  if (it == early_.end())
    return out;
  auto before = m.phase();
  for (auto cp : it->second) {
    if (m.votes().count(cp))
      continue;
    if (auto r = m.agree(cp, next, now_ms); !r) {
      out.refused.emplace_back(cp, r.err());
      break;
    }
    if (m.phase() != before)
      break;
  }
  if (m.phase() != before) {
    early_.erase(next);
    out.moved = true;
  }
  return out;
}

std::set<unsigned> phase_votes::recorded(task_phase next) const {
  auto it = early_.find(next);
  return it == early_.end() ? std::set<unsigned>{} : it->second;
}

} // namespace joconde
