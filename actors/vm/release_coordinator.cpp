#include "release_coordinator.hpp"

namespace joconde {

namespace {

error served_elsewhere(const output_peer& op) {
  return fail(errc::already_exists, "another download of output " + op.first + " for peer " + op.second
                                      + " is being served (each peer retrieves an output once)");
}

} // namespace

release_coordinator::release_coordinator(unsigned own_cp) : own_(own_cp) {
  // nop
}

result<void> release_coordinator::wait(const output_peer& op, const std::string& request_id, release_waiter w) {
  auto& c = claims_[op];
  if (!c.chosen.empty() && c.chosen != request_id)
    return served_elsewhere(op);
  c.waiting[request_id].push_back(std::move(w));
  return ok();
}

release_coordinator::backing release_coordinator::back(const output_peer& op, const std::string& request_id) {
  if (!claims_[op].chosen.empty())
    return {};
  if (!decides())
    return {notice::to_leader, {}};
  return {notice::to_all, decide(op, request_id)};
}

std::vector<release_refusal> release_coordinator::decide(const output_peer& op, const std::string& request_id) {
  std::vector<release_refusal> out;
  auto& c = claims_[op];
  if (!c.chosen.empty())
    return out;
  c.chosen = request_id;
  for (auto it = c.waiting.begin(); it != c.waiting.end();) {
    if (it->first == request_id) {
      ++it;
      continue;
    }
    for (auto& w : it->second)
      out.push_back({w.ticket, served_elsewhere(op)});
    it = c.waiting.erase(it);
  }
  return out;
}

std::vector<release_waiter> release_coordinator::take_decided(const output_peer& op) {
  auto& c = claims_[op];
  auto waiting = c.waiting.find(c.chosen);
  if (c.chosen.empty() || waiting == c.waiting.end() || waiting->second.empty())
    return {};
  auto out = std::move(waiting->second);
  c.waiting.erase(waiting);
  return out;
}

std::vector<release_refusal> release_coordinator::expire(std::int64_t now_ms) {
  std::vector<release_refusal> out;
  for (auto& [op, c] : claims_)
    for (auto& [id, sessions] : c.waiting)
      for (auto it = sessions.begin(); it != sessions.end();)
        if (now_ms >= it->deadline_ms) {
          out.push_back({it->ticket, fail(errc::timeout, "the other Computing Parties did not back this "
                                                         "download of " + op.first + " for " + op.second
                                                         + " in time")});
          it = sessions.erase(it);
        } else {
          ++it;
        }
  return out;
}

std::vector<release_waiter> release_coordinator::take_all() {
  std::vector<release_waiter> out;
  for (auto& [op, c] : claims_)
    for (auto& [id, sessions] : c.waiting)
      for (auto& w : sessions)
        out.push_back(std::move(w));
  claims_.clear();
  return out;
}

std::string release_coordinator::decided(const output_peer& op) const {
  auto it = claims_.find(op);
  return it == claims_.end() ? std::string{} : it->second.chosen;
}

} // namespace joconde
