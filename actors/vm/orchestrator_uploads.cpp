// The task_orchestrator and the uploads of inputs: an upload is ready at this CP once it is sealed
// here and at every other CP (upload_ledger); it fails everywhere when it fails at one CP or misses
// its deadline (orchestrator_state.hpp).

#include "orchestrator_state.hpp"

#include "slot_files.hpp"

#include "joconde/messages/caf_error.hpp"
#include "joconde/runtime/clock.hpp"
#include "joconde/runtime/log.hpp"

#include <joconde/vm.pb.h>

namespace joconde::vm::detail {

namespace {

constexpr const char* component = "vm";

} // namespace

caf::result<void> begin_upload(orchestrator_pointer self, const authorized& grant) {
  auto& s = self->state;
  const auto& id = grant.request_id;
  if (s.machine->phase() != task_phase::input || s.votes.voted(task_phase::calculation))
    return make_error(errc::invalid_state, "the CT is in the " + std::string{to_string(s.machine->phase())}
                                             + " phase; it accepts input only in the input phase, until "
                                               "every input is ready");
  auto it = s.slots.find(grant.slot);
  if (it == s.slots.end())
    return make_error(errc::not_found, "no input " + grant.slot);
  if (s.uploads->failed(id))
    return make_error(errc::io_error, "this upload failed at another CP already");
  if (check_pending(self, grant.slot))
    return make_error(errc::invalid_state, "the data-quality check of the last upload of " + grant.slot
                                             + " has not given its verdict yet; wait for it (joconde cta "
                                               "watch), then upload again if you must");
  if (auto r = it->second.begin_upload(id, grant.who, now_ms()); !r)
    return to_caf(r.err());
  erase_listed(self);
  // Its shares may take a while to arrive and be sealed: as long as the most the input may hold.
  s.uploads->begin(id, grant.slot, now_ms(), transfer_ms(grant.max_rows, input_columns(*s.ctx, grant.slot)));
  event(self, "slot", grant.slot, "in_use (upload " + id.substr(0, 8) + "...)");
  update_gauges(self);
  return caf::unit;
}

caf::result<std::string> upload_sealed(orchestrator_pointer self, const std::string& id, sealed_content content) {
  auto& s = self->state;
  if (is_terminal(s.machine->phase()) || !s.uploads->sealed_here(id, content)) {
    // Failed at another CP (or timed out) while its shares were still arriving here.
    remove_quietly(content.path);
    for (auto& [k, slot] : s.slots)
      if (slot.content_id() == id && slot.state() == slot_state::in_use)
        (void)slot.fail(id);
    erase_listed(self);
    update_gauges(self);
    return make_error(errc::io_error, "the upload failed at another Computing Party");
  }
  s.contents[id] = content;
  v1::PeerMessage m;
  m.set_kind(v1::PeerMessage::KIND_SLOT_RECEIVED);
  m.set_slot(s.uploads->pending().at(id).slot);
  m.set_request_id(id);
  broadcast(self, m);
  auto promise = self->make_response_promise<std::string>();
  s.upload_waiting[id] = promise;
  upload_complete_check(self, id);
  return promise;
}

void upload_complete_check(orchestrator_pointer self, const std::string& id) {
  auto& st = self->state;
  const auto* p = st.uploads->complete(id);
  if (p == nullptr)
    return;
  auto slot_key = p->slot;
  auto rows = p->local->rows;
  if (auto r = st.slots.at(slot_key).complete(id, rows, p->local->sha256); !r) {
    log::warning(component, "upload " + id + " cannot complete: " + r.err().describe());
    return;
  }
  st.uploads->forget(id);
  erase_listed(self);
  if (has_quality_check(*st.ctx, slot_key)) {
    // The slot counts as filled once its check passed; the custodian's answer waits for the verdict.
    event(self, "slot", slot_key, "sealed at every CP (" + std::to_string(rows) + " rows); its data-quality check is to run");
    update_gauges(self);
    if (st.ctx->options.cp_index == 0)
      queue_check(self, slot_key, id);
    else
      run_next_check(self);  // CP 0 may have announced it already
    return;
  }
  event(self, "slot", slot_key, "ready (" + std::to_string(rows) + " rows, sealed at every CP)");
  if (auto w = st.upload_waiting.find(id); w != st.upload_waiting.end()) {
    w->second.deliver(std::string{"ready at every CP"});
    st.upload_waiting.erase(w);
  }
  update_gauges(self);
  maybe_close_input(self);
}

void upload_failed(orchestrator_pointer self, const std::string& id, const std::string& why, bool tell) {
  auto& st = self->state;
  auto pending = st.uploads->fail(id);
  std::string slot_key = pending ? pending->slot : std::string{};
  for (auto& [k, s] : st.slots) {
    if (s.content_id() != id)
      continue;
    slot_key = k;
    if (s.state() == slot_state::in_use)
      (void)s.fail(id);
    else
      (void)s.peer_failed(id);
  }
  if (pending && pending->local)
    remove_quietly(pending->local->path);
  if (auto w = st.upload_waiting.find(id); w != st.upload_waiting.end()) {
    w->second.deliver(make_error(errc::io_error, "the upload failed at a Computing Party: " + why));
    st.upload_waiting.erase(w);
  }
  erase_listed(self);
  if (!slot_key.empty()) {
    event(self, "slot", slot_key, "empty (upload failed: " + why + ")");
    st.refused[slot_key] = "its last upload failed: " + why;
  }
  if (tell) {
    v1::PeerMessage m;
    m.set_kind(v1::PeerMessage::KIND_SLOT_FAILED);
    m.set_slot(slot_key);
    m.set_request_id(id);
    broadcast(self, m);
  }
  update_gauges(self);
}

void expire_uploads(orchestrator_pointer self, std::int64_t now) {
  auto late = self->state.uploads->overdue(now);
  for (auto& id : late)
    upload_failed(self, id, "not sealed at every CP in time", true);
  if (!late.empty())
    maybe_close_input(self);
}

std::string inputs_without_data(orchestrator_pointer self) {
  auto& st = self->state;
  std::string out;
  for (auto& [k, s] : st.slots) {
    if (s.kind() != slot_kind::input || (s.ready() && !check_pending(self, k)))
      continue;
    std::string why = s.state() == slot_state::in_use ? "an upload was under way"
                      : s.ready()                     ? "its data-quality check had not answered"
                      : st.refused.count(k) != 0      ? st.refused.at(k)
                                                      : "nothing uploaded";
    out += (out.empty() ? "`" : ", `") + k + "` (" + why + ")";
  }
  return out;
}

void end_uploads(orchestrator_pointer self) {
  auto& st = self->state;
  st.uploads->take_all();
  for (auto& [id, promise] : st.upload_waiting)
    promise.deliver(caf::make_error(caf::sec::request_receiver_down, "the task ended"));
  st.upload_waiting.clear();
}

} // namespace joconde::vm::detail
