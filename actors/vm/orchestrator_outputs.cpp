// The task_orchestrator and the releases of outputs: each peer named on an output retrieves it once,
// through the download every CP backs (release_coordinator); the last retrieval owed finishes the
// task (orchestrator_state.hpp).

#include "orchestrator_state.hpp"

#include "slot_files.hpp"

#include "joconde/messages/caf_error.hpp"
#include "joconde/runtime/clock.hpp"

#include <joconde/vm.pb.h>

#include <openssl/crypto.h>

namespace joconde::vm::detail {

namespace {

/// How long a download's session waits here for every CP to back it.
constexpr std::int64_t backing_wait_ms = 15'000;

/// Answers the download session known by `ticket` with the shares or the refusal (once: the ticket
/// is forgotten).
void answer_download(orchestrator_pointer self, std::uint64_t ticket, result<released_output> r) {
  auto& waiting = self->state.download_waiting;
  auto it = waiting.find(ticket);
  if (it == waiting.end())
    return;
  if (r)
    it->second.deliver(std::move(*r));
  else
    it->second.deliver(to_caf(r.err()));
  waiting.erase(it);
}

/// Refuses the download sessions the release coordinator turned away.
void answer_download(orchestrator_pointer self, std::vector<release_refusal> refusals) {
  for (auto& r : refusals)
    answer_download(self, r.ticket, std::move(r.why));
}

/// This CP's shares of output `op.first` for analyst `w` of peer `op.second`, unsealed and recorded
/// as released by the slot, or why not.
result<released_output> release_shares(orchestrator_pointer self, const output_peer& op, const release_waiter& w,
                                       std::int64_t now) {
  auto& s = self->state;
  const auto& [slot_key, peer] = op;
  auto& slot = s.slots.at(slot_key);
  auto content = s.contents.find(slot.content_id());
  if (auto r = s.machine->may_retrieve(slot_key, peer, now); !r)
    return r.err();
  if (auto p = slot.check_peer(peer); !p)
    return p.err();
  if (!slot.ready() || content == s.contents.end())
    return fail(errc::invalid_state, "output " + slot_key + " is " + std::string{to_string(slot.state())}
                                       + ", not ready");
  // Unsealed before the release: the last one ends the task, which erases the key.
  auto c = content->second;
  auto sealed = read_sealed(c.path);
  auto cols = sealed ? unseal_columns(*s.ctx, slot_key, slot.content_id(), *sealed)
                     : result<std::vector<std::string>>{sealed.err()};
  if (!cols)
    return cols.err();
  if (auto r = slot.release(peer, w.who, w.name, now); !r) {
    for (auto& col : *cols)
      OPENSSL_cleanse(col.data(), col.size());
    return r.err();
  }
  erase_listed(self);  // after the last named peer: the content's file is gone from here on
  ++s.active_downloads;
  auto waiting_for = slot.waiting_for();
  event(self, "slot", slot_key,
        "released to " + peer + " (by " + w.name.substr(0, 64) + ")"
          + (waiting_for.empty() ? std::string{"; every peer named on it has it: erased"}
                                 : "; " + std::to_string(waiting_for.size())
                                     + (waiting_for.size() == 1 ? " peer" : " peers") + " still to retrieve it"));
  return released_output{std::move(*cols), c.rows};
}

} // namespace

caf::result<released_output> release(orchestrator_pointer self, const authorized& grant) {
  auto& s = self->state;
  const auto& slot_key = grant.slot;
  auto it = s.slots.find(slot_key);
  if (it == s.slots.end() || it->second.kind() != slot_kind::output)
    return make_error(errc::not_found, "no output " + slot_key);
  // Defence in depth behind the task policy: a peer not named on the output, a peer that has it
  // already (naming the analyst who retrieved it); then the phase and the deadline.
  if (auto r = it->second.check_peer(grant.peer); !r)
    return to_caf(r.err());
  if (auto r = s.machine->may_retrieve(slot_key, grant.peer, now_ms()); !r)
    return to_caf(r.err());
  output_peer op{slot_key, grant.peer};
  auto ticket = s.next_ticket++;
  release_waiter waiter{ticket, grant.who, grant.name, now_ms() + backing_wait_ms};
  if (auto r = s.releases->wait(op, grant.request_id, std::move(waiter)); !r)
    return to_caf(r.err());
  auto promise = self->make_response_promise<released_output>();
  s.download_waiting.emplace(ticket, promise);
  back_download(self, op, grant.request_id);
  try_release(self, op);
  return promise;
}

void back_download(orchestrator_pointer self, const output_peer& op, const std::string& request_id) {
  auto& s = self->state;
  auto backing = s.releases->back(op, request_id);
  answer_download(self, std::move(backing.refused));
  if (backing.send == release_coordinator::notice::none)
    return;
  v1::PeerMessage m;
  m.set_kind(v1::PeerMessage::KIND_RESERVE);
  m.set_slot(op.first);
  m.set_peer(op.second);
  m.set_request_id(request_id);
  if (backing.send == release_coordinator::notice::to_all)
    broadcast(self, m);
  else if (auto leader = s.peers.find(0); leader != s.peers.end())
    (void)leader->second->send(m);
}

void decide_download(orchestrator_pointer self, const output_peer& op, const std::string& request_id) {
  answer_download(self, self->state.releases->decide(op, request_id));
}

void try_release(orchestrator_pointer self, const output_peer& op) {
  auto& s = self->state;
  auto sessions = s.releases->take_decided(op);
  if (sessions.empty())
    return;
  auto now = now_ms();
  auto shares = release_shares(self, op, sessions.front(), now);
  bool released = shares.ok();
  answer_download(self, sessions.front().ticket, std::move(shares));
  for (std::size_t i = 1; i < sessions.size(); ++i)
    answer_download(self, sessions[i].ticket,
                    fail(errc::already_exists, "output " + op.first + " was retrieved by peer " + op.second
                                                 + " already"));
  if (released) {
    auto done = s.machine->output_retrieved(op.first, op.second, now);
    if (done && *done) {
      event(self, "phase", "finished", s.machine->history().back().reason);
      on_phase(self);
    }
  }
  update_gauges(self);
}

void expire_downloads(orchestrator_pointer self, std::int64_t now) {
  answer_download(self, self->state.releases->expire(now));
}

void end_downloads(orchestrator_pointer self) {
  for (auto& w : self->state.releases->take_all())
    answer_download(self, w.ticket, fail(errc::invalid_state, "the task ended"));
}

} // namespace joconde::vm::detail
