#include "upload_ledger.hpp"

#include <utility>

namespace joconde {

upload_ledger::upload_ledger(unsigned parties, unsigned own_cp, std::int64_t confirm_ms)
  : parties_(parties), own_(own_cp), confirm_ms_(confirm_ms) {
  // nop
}

pending_upload* upload_ledger::track(const std::string& id, const std::string& slot, std::int64_t now_ms,
                                     std::int64_t transfer_ms) {
  auto& p = pending_[id];
  if (p.slot.empty()) {
    p.slot = slot;
    p.deadline_ms = now_ms + transfer_ms + confirm_ms_;
  } else if (p.slot != slot) {
    return nullptr;
  }
  return &p;
}

void upload_ledger::begin(const std::string& id, const std::string& slot, std::int64_t now_ms,
                          std::int64_t transfer_ms) {
  // The orchestrator begins an upload only in a slot free of uploads: a pending entry of the same
  // id is a counterpart's announcement of this very upload.
  (void)track(id, slot, now_ms, transfer_ms);
}

bool upload_ledger::sealed_at(unsigned cp, const std::string& id, const std::string& slot, std::int64_t now_ms) {
  auto* p = track(id, slot, now_ms, 0);
  if (p == nullptr)
    return false;
  p->sealed_at.insert(cp);
  return true;
}

bool upload_ledger::sealed_here(const std::string& id, vm::sealed_content content) {
  auto it = pending_.find(id);
  if (it == pending_.end())
    return false;
  it->second.local = std::move(content);
  it->second.sealed_at.insert(own_);
  return true;
}

const pending_upload* upload_ledger::complete(const std::string& id) const {
  auto it = pending_.find(id);
  if (it == pending_.end() || !it->second.local || it->second.sealed_at.size() < parties_)
    return nullptr;
  return &it->second;
}

std::optional<pending_upload> upload_ledger::fail(const std::string& id) {
  if (failed_.size() < max_failed)
    failed_.insert(id);
  auto it = pending_.find(id);
  if (it == pending_.end())
    return std::nullopt;
  auto out = std::move(it->second);
  pending_.erase(it);
  return out;
}

std::vector<std::string> upload_ledger::overdue(std::int64_t now_ms) const {
  std::vector<std::string> out;
  for (const auto& [id, p] : pending_)
    if (now_ms >= p.deadline_ms)
      out.push_back(id);
  return out;
}

} // namespace joconde
