// The task_orchestrator and the counterpart VMs: their attested links, and the control messages
// they send (orchestrator_state.hpp).

#include "orchestrator_state.hpp"

#include "joconde/messages/proto.hpp"
#include "joconde/runtime/clock.hpp"
#include "joconde/runtime/log.hpp"

#include <joconde/vm.pb.h>

#include <sys/socket.h>

namespace joconde::vm::detail {

namespace {

constexpr const char* component = "vm";

/// A download of an output by an analyst of a peer, proposed by counterpart `cp` (at CP 0) or
/// decided by CP 0 (elsewhere).
void on_reserve(orchestrator_pointer self, unsigned cp, const v1::PeerMessage& m) {
  auto& st = self->state;
  auto it = st.slots.find(m.slot());
  if (it == st.slots.end() || it->second.kind() != slot_kind::output || it->second.peers().count(m.peer()) == 0
      || m.request_id().size() > 64) {
    log::warning(component, "cp-" + std::to_string(cp) + " proposed a download of no output "
                              "named for that peer: ignored");
    return;
  }
  output_peer op{m.slot(), m.peer()};
  if (st.releases->decides())
    back_download(self, op, m.request_id());  // a proposal: decide if undecided
  else if (cp == 0)
    decide_download(self, op, m.request_id());  // CP 0's decision
  try_release(self, op);
}

} // namespace

void broadcast(orchestrator_pointer self, const v1::PeerMessage& m) {
  for (auto& [cp, link] : self->state.peers)
    if (auto r = link->send(m); !r)
      log::warning(component, "cannot tell cp-" + std::to_string(cp) + ": " + r.err().describe());
}

void peer_up(orchestrator_pointer self, unsigned cp, const std::string& mpc_address) {
  auto& s = self->state;
  auto link = s.ctx->links->take(cp);
  if (!link || is_terminal(s.machine->phase()))
    return;
  if (auto a = parse_address(mpc_address))
    s.mpc_addresses[cp] = *a;
  s.peers[cp] = std::move(link);
  event(self, "peer", "cp-" + std::to_string(cp), "attested; channel keys agreed");
  if (s.peers.size() + 1 == s.ctx->parties && s.machine->phase() == task_phase::initialisation)
    vote(self, task_phase::input);
}

void peer_down(orchestrator_pointer self, unsigned cp, const std::string& why) {
  auto& s = self->state;
  s.peers.erase(cp);
  auto lost = "lost counterpart cp-" + std::to_string(cp) + ": " + why;
  // In the Output phase the computation is done and some outputs may be out: the phase ends as at
  // its deadline (every other VM loses the same counterpart). Before it, the task cannot go on.
  if (s.machine->phase() == task_phase::output && s.machine->end_output(lost, now_ms()))
    end_output_phase(self, "before counterpart cp-" + std::to_string(cp) + " was lost");
  else if (!is_terminal(s.machine->phase()))
    cancel_task(self, lost, true);
}

void on_peer_message(orchestrator_pointer self, unsigned cp, const std::string& bytes) {
  auto& st = self->state;
  v1::PeerMessage m;
  if (!proto::parse_into(m, bytes, 1024 * 1024)) {  // the peer link reads frames of at most 1 MiB
    cancel_task(self, "cp-" + std::to_string(cp) + " sent a malformed control message", true);
    return;
  }
  if (is_terminal(st.machine->phase()))
    return;
  switch (m.kind()) {
    case v1::PeerMessage::KIND_VOTE:
      if (auto r = st.votes.record(cp, m.phase()); !r)
        cancel_task(self, r.err().message, true);
      else
        apply_votes(self);
      break;
    case v1::PeerMessage::KIND_SLOT_RECEIVED:
      if (!st.slots.count(m.slot()) || st.slots.at(m.slot()).kind() != slot_kind::input)
        return;
      if (st.uploads->sealed_at(cp, m.request_id(), m.slot(), now_ms()))
        upload_complete_check(self, m.request_id());
      break;
    case v1::PeerMessage::KIND_SLOT_FAILED:
      upload_failed(self, m.request_id(), "at cp-" + std::to_string(cp), false);
      maybe_close_input(self);
      break;
    case v1::PeerMessage::KIND_CANCEL:
      cancel_task(self, "cancelled by cp-" + std::to_string(cp) + ": " + m.reason().substr(0, 200), false);
      break;
    case v1::PeerMessage::KIND_RESERVE: on_reserve(self, cp, m); break;
    case v1::PeerMessage::KIND_CHECK: on_check_announced(self, cp, m.slot(), m.request_id()); break;
    case v1::PeerMessage::KIND_QUALITY:
      for (const auto& k : m.quality_failed())
        event(self, "quality", k.substr(0, 64), "failed at cp-" + std::to_string(cp));
      break;
    default: cancel_task(self, "cp-" + std::to_string(cp) + " sent an unknown control message", true);
  }
}

void close_links(orchestrator_pointer self) {
  for (auto& [cp, link] : self->state.peers)
    if (link && link->stream.is_open())
      ::shutdown(link->stream.native_handle(), SHUT_RDWR);
  self->state.peers.clear();
}

} // namespace joconde::vm::detail
