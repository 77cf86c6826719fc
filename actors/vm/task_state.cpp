#include "task_state.hpp"

#include <utility>

namespace joconde {

namespace {

constexpr std::pair<task_phase, std::string_view> phase_names[] = {
  {task_phase::initialisation, "initialisation"}, {task_phase::input, "input"},
  {task_phase::calculation, "calculation"},       {task_phase::output, "output"},
  {task_phase::finished, "finished"},             {task_phase::cancelled, "cancelled"},
};

std::string str(task_phase p) {
  return std::string{to_string(p)};
}

} // namespace

std::string_view to_string(task_phase p) {
  for (const auto& [v, name] : phase_names)
    if (v == p)
      return name;
  return "unknown";
}

std::optional<task_phase> task_phase_from_string(std::string_view name) {
  for (const auto& [v, n] : phase_names)
    if (n == name)
      return v;
  return std::nullopt;
}

bool is_terminal(task_phase p) {
  return p == task_phase::finished || p == task_phase::cancelled;
}

result<task_state_machine> task_state_machine::create(task_deadlines deadlines, unsigned parties,
                                                      output_peers outputs) {
  if (parties == 0)
    return fail(errc::malformed_input, "a task has at least one computing party");
  if (outputs.empty())
    return fail(errc::malformed_input, "a task releases at least one output");
  for (const auto& [key, peers] : outputs)
    if (peers.empty())
      return fail(errc::malformed_input, "output " + key + " is named for no peer");
  if (deadlines.input_ms > deadlines.execution_ms || deadlines.execution_ms > deadlines.output_ms)
    return fail(errc::malformed_input,
                "the deadlines are out of order: input " + std::to_string(deadlines.input_ms)
                  + " ms, execution " + std::to_string(deadlines.execution_ms) + " ms, output "
                  + std::to_string(deadlines.output_ms) + " ms");
  return task_state_machine{deadlines, parties, std::move(outputs)};
}

task_state_machine::task_state_machine(task_deadlines deadlines, unsigned parties,
                                       output_peers outputs)
  : deadlines_(deadlines), parties_(parties), outputs_(std::move(outputs)) {
  // nop
}

int64_t task_state_machine::deadline() const {
  switch (phase_) {
    case task_phase::initialisation:
    case task_phase::input: return deadlines_.input_ms;
    case task_phase::calculation: return deadlines_.execution_ms;
    default: return deadlines_.output_ms;
  }
}

void task_state_machine::move(task_phase to, int64_t now_ms, std::string reason) {
  history_.push_back(task_transition{phase_, to, now_ms, reason});
  if (to == task_phase::cancelled)
    reason_ = std::move(reason);
  phase_ = to;
  votes_.clear();
}

result<bool> task_state_machine::agree(unsigned party, task_phase next, int64_t now_ms) {
  if (party >= parties_)
    return fail(errc::forbidden, "party " + std::to_string(party) + " is not one of the "
                                   + std::to_string(parties_) + " computing parties of the task");
  if (is_terminal(phase_))
    return fail(errc::invalid_state, "the task is " + str(phase_) + "; no phase follows");
  if (phase_ == task_phase::output)
    return fail(errc::invalid_state, "the output phase ends when every peer retrieved its outputs "
                                     "or at the output deadline (SYS-6.6), not by a vote for "
                                       + str(next));
  auto following = static_cast<task_phase>(static_cast<int>(phase_) + 1);
  if (next != following)
    return fail(errc::invalid_state, "the task is in " + str(phase_) + "; it can move to "
                                       + str(following) + ", not to " + str(next));
  if (now_ms >= deadline())
    return fail(errc::timeout, "the deadline of the " + str(phase_) + " phase passed at "
                                 + std::to_string(deadline()) + " ms");
  if (votes_.count(party) > 0)
    return fail(errc::invalid_state, "party " + std::to_string(party) + " has agreed to move to "
                                       + str(next) + " already");
  votes_.insert(party);
  if (votes_.size() < parties_)
    return false;
  move(next, now_ms, "agreed by all " + std::to_string(parties_) + " computing parties");
  return true;
}

result<void> task_state_machine::may_retrieve(const std::string& key, const std::string& peer,
                                              int64_t now_ms) const {
  auto out = outputs_.find(key);
  if (out == outputs_.end())
    return fail(errc::not_found, "the task has no output " + key);
  if (out->second.count(peer) == 0)
    return fail(errc::forbidden, "output " + key + " is not granted to peer " + peer);
  if (auto got = retrieved_.find(key); got != retrieved_.end() && got->second.count(peer) > 0)
    return fail(errc::already_exists, "output " + key + " was retrieved by peer " + peer + " already");
  if (phase_ != task_phase::output)
    return fail(errc::invalid_state, "outputs are released only in the output phase; the task is "
                                       + str(phase_));
  if (now_ms >= deadlines_.output_ms)
    return fail(errc::timeout, "the output deadline passed at "
                                 + std::to_string(deadlines_.output_ms) + " ms");
  return ok();
}

result<bool> task_state_machine::output_retrieved(const std::string& key, const std::string& peer,
                                                  int64_t now_ms) {
  if (auto r = may_retrieve(key, peer, now_ms); !r)
    return r.err();
  retrieved_[key].insert(peer);
  if (!missing().empty())
    return false;
  move(task_phase::finished, now_ms, "every peer retrieved the outputs named for it");
  return true;
}

std::vector<std::pair<std::string, std::string>> task_state_machine::missing() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, peers] : outputs_) {
    auto got = retrieved_.find(key);
    for (const auto& p : peers)
      if (got == retrieved_.end() || got->second.count(p) == 0)
        out.emplace_back(key, p);
  }
  return out;
}

namespace {

std::string not_made(std::size_t owed) {
  return std::to_string(owed) + (owed == 1 ? " retrieval" : " retrievals") + " not made, erased";
}

} // namespace

bool task_state_machine::tick(int64_t now_ms) {
  if (is_terminal(phase_) || now_ms < deadline())
    return false;
  switch (phase_) {
    case task_phase::initialisation:
    case task_phase::input: move(task_phase::cancelled, now_ms, "input deadline passed"); break;
    case task_phase::calculation:
      move(task_phase::cancelled, now_ms, "execution deadline passed");
      break;
    default: {
      // The task ran to completion and offered every output until the deadline: finished; what
      // was not retrieved is erased (SYS-6.6).
      move(task_phase::finished, now_ms, "output deadline passed; " + not_made(missing().size()));
      break;
    }
  }
  return true;
}

result<void> task_state_machine::end_output(const std::string& why, int64_t now_ms) {
  if (phase_ != task_phase::output)
    return fail(errc::invalid_state, "the task is " + str(phase_) + ", not in its Output phase");
  if (why.empty())
    return fail(errc::malformed_input, "ending the Output phase early says why");
  move(task_phase::finished, now_ms, why + "; " + not_made(missing().size()));
  return ok();
}

result<void> task_state_machine::cancel(std::string reason, int64_t now_ms) {
  if (is_terminal(phase_))
    return fail(errc::invalid_state, "the task is " + str(phase_) + " and cannot be cancelled");
  if (reason.empty())
    return fail(errc::malformed_input, "a cancellation says why");
  move(task_phase::cancelled, now_ms, std::move(reason));
  return ok();
}

} // namespace joconde
