// The task_orchestrator's events, phase changes and votes, the calculation and the end of the task
// (orchestrator_state.hpp).

#include "orchestrator_state.hpp"

#include "mpc_party.hpp"
#include "slot_files.hpp"

#include "joconde/runtime/clock.hpp"
#include "joconde/runtime/log.hpp"
#include "joconde/runtime/vm_metrics.hpp"

#include <joconde/vm.pb.h>

#include <caf/event_based_actor.hpp>

namespace joconde::vm::detail {

namespace {

constexpr const char* component = "vm";

/// Everything this VM holds is destroyed: slot files, the sealing key (crypto-erasure).
void erase_everything(orchestrator_pointer self) {
  auto& st = self->state;
  if (st.erased)
    return;
  st.erased = true;
  for (auto& [key, slot] : st.slots)
    slot.discard();
  erase_listed(self);
  for (auto& [id, c] : st.contents)
    remove_quietly(c.path);
  st.contents.clear();
  std::error_code ec;
  for (auto& entry : fs::directory_iterator{st.ctx->slots_dir, ec})
    fs::remove(entry.path(), ec);
  st.ctx->key->erase();
  end_uploads(self);
  end_downloads(self);
  event(self, "erased", "sealing-key", "destroyed");
}

/// Spawns the mpc_party with this CP's inputs, the counterparts' MPC endpoints and pair keys, once.
void start_mpc(orchestrator_pointer self) {
  auto& st = self->state;
  if (st.mpc_started)
    return;
  st.mpc_started = true;
  st.mpc_started_at = std::chrono::steady_clock::now();
  mpc_job job;
  for (auto& [k, s] : st.slots)
    if (s.kind() == slot_kind::input && s.ready())
      job.inputs[k] = st.contents.at(s.content_id());
  for (auto& [k, id] : st.passed)
    if (st.slots.at(k).content_id() == id)
      job.checked.insert(k);
  for (auto& [cp, a] : st.mpc_addresses)
    job.addresses[cp] = a.text();
  for (auto& [cp, link] : st.peers)
    job.keys[cp] = std::string{reinterpret_cast<const char*>(link->mpc_key.data()), link->mpc_key.size()};
  job.listen_fd = st.mpc_listen_fd;
  auto parent = caf::actor_cast<task_orchestrator_actor>(self);
  st.mpc = st.spawn_mpc ? st.spawn_mpc(parent, std::move(job))
                        : self->spawn<caf::detached>(mpc_party, st.ctx, parent, std::move(job));
  self->monitor(st.mpc);
  event(self, "mpc", "engine", "running " + st.ctx->final.cta().ctsc().engine().name());
  self->send(st.mpc, run_atom::value);
}

} // namespace

void event(orchestrator_pointer self, std::string kind, std::string subject, std::string value) {
  auto& st = self->state;
  st.events.push_back({st.next_seq++, now_ms(), std::move(kind), std::move(subject), std::move(value)});
  if (st.events.size() > 10'000)
    st.events.erase(st.events.begin(), st.events.begin() + 1000);
  const auto& e = st.events.back();
  log::info(component, "event " + e.kind + " " + e.subject + " " + e.value, {{"ct", st.ctx->uuid}});
}

void update_gauges(orchestrator_pointer self) {
  auto& st = self->state;
  auto& m = *st.ctx->metrics;
  for (auto p : {task_phase::initialisation, task_phase::input, task_phase::calculation,
                 task_phase::output, task_phase::finished, task_phase::cancelled})
    m.phase(to_string(p)).Set(st.machine->phase() == p ? 1 : 0);
  std::map<std::string, int> by_state{{"empty", 0}, {"in_use", 0}, {"ready", 0}, {"released", 0}};
  for (auto& [k, s] : st.slots)
    ++by_state[std::string{to_string(s.state())}];
  for (auto& [k, n] : by_state)
    m.slots(k).Set(n);
}

void erase_listed(orchestrator_pointer self) {
  auto& st = self->state;
  for (auto& [key, slot] : st.slots)
    for (auto& id : slot.take_erasures())
      if (auto it = st.contents.find(id); it != st.contents.end()) {
        remove_quietly(it->second.path);
        st.contents.erase(it);
      }
}

void finish_run(orchestrator_pointer self, int status) {
  auto& st = self->state;
  stop_checks(self);
  st.exit_status = status;
  st.finished_at_ms = now_ms();
  erase_everything(self);
  update_gauges(self);
}

void cancel_task(orchestrator_pointer self, const std::string& reason, bool tell_peers) {
  auto& st = self->state;
  if (is_terminal(st.machine->phase()))
    return;
  if (auto r = st.machine->cancel(reason, now_ms()); !r)
    return;
  log::warning(component, "CT " + st.ctx->uuid + " cancelled: " + reason);
  event(self, "phase", "cancelled", reason);
  if (tell_peers) {
    v1::PeerMessage m;
    m.set_kind(v1::PeerMessage::KIND_CANCEL);
    m.set_reason(reason);
    broadcast(self, m);
  }
  if (st.mpc)
    self->send_exit(st.mpc, caf::exit_reason::user_shutdown);
  finish_run(self, exit_cancelled);
}

void apply_votes(orchestrator_pointer self) {
  auto& st = self->state;
  while (!is_terminal(st.machine->phase())) {
    auto step = st.votes.apply(*st.machine, now_ms());
    for (const auto& [cp, why] : step.refused)
      log::warning(component, "vote of cp-" + std::to_string(cp) + " refused: " + why.describe());
    if (!step.moved)
      break;
    event(self, "phase", std::string{to_string(st.machine->phase())}, "agreed by every CP");
    on_phase(self);
  }
  update_gauges(self);
}

void vote(orchestrator_pointer self, task_phase next) {
  auto& st = self->state;
  st.votes.vote(st.ctx->options.cp_index, next);
  v1::PeerMessage m;
  m.set_kind(v1::PeerMessage::KIND_VOTE);
  m.set_phase(std::string{to_string(next)});
  broadcast(self, m);
  apply_votes(self);
}

void maybe_close_input(orchestrator_pointer self) {
  auto& st = self->state;
  if (st.votes.voted(task_phase::calculation) || st.machine->phase() != task_phase::input
      || !st.uploads->idle())
    return;
  run_next_check(self);
  if (st.checking || !st.check_queue.empty())
    return;
  for (auto& [k, s] : st.slots)
    if (s.kind() == slot_kind::input && (!s.ready() || check_pending(self, k)))
      return;
  for (auto& [k, s] : st.slots)
    if (s.kind() == slot_kind::input && !s.input_closed())
      (void)s.close_input();
  event(self, "input", "closed", st.passed.empty() ? "every input is ready at every CP"
                                                   : "every input is ready at every CP and passed its checks");
  vote(self, task_phase::calculation);
}

/// The calculation is done (the task entered the Output phase): the inputs' content is erased at
/// once, not at the end of the task (BUS-4.9, SYS-6.5); interim values lived only in the engine's
/// memory. Each erased input is an event.
void erase_inputs(orchestrator_pointer self) {
  auto& st = self->state;
  for (auto& [key, slot] : st.slots)
    if (slot.kind() == slot_kind::input && slot.state() != slot_state::empty) {
      slot.discard();
      event(self, "erased", "input " + key, "input " + key + " erased: the calculation is done");
    }
  erase_listed(self);
}

void on_phase(orchestrator_pointer self) {
  auto& st = self->state;
  switch (st.machine->phase()) {
    case task_phase::input: maybe_close_input(self); break;
    case task_phase::calculation: start_mpc(self); break;
    case task_phase::output: erase_inputs(self); break;
    case task_phase::finished:
      log::notice(component, "CT " + st.ctx->uuid + " finished: " + st.machine->history().back().reason);
      finish_run(self, exit_finished);
      break;
    default: break;
  }
}

void take_outcome(orchestrator_pointer self, mpc_outcome& out) {
  auto& s = self->state;
  count_mpc(self, out);
  s.ctx->metrics->calculation_seconds().Set(
    std::chrono::duration<double>(std::chrono::steady_clock::now() - s.mpc_started_at).count());
  if (s.machine->phase() != task_phase::calculation) {
    for (auto& [k, c] : out.outputs)
      remove_quietly(c.path);
    return;
  }
  v1::PeerMessage q;
  q.set_kind(v1::PeerMessage::KIND_QUALITY);
  std::string failed;
  for (auto& [input, passed] : out.quality) {
    event(self, "quality", input, passed ? "passed" : "failed");
    (passed ? q.add_quality_passed() : q.add_quality_failed())->assign(input);
    if (!passed)
      failed += (failed.empty() ? "`" : ", `") + input + "`";
  }
  broadcast(self, q);
  for (auto& [k, c] : out.outputs) {
    auto content = content_of(k, c);
    s.contents[content] = c;
    if (auto r = s.slots.at(k).store(content, c.rows, c.sha256); !r)
      log::warning(component, "output " + k + ": " + r.err().describe());
    else
      event(self, "slot", k, "ready (" + std::to_string(c.rows) + " rows)");
  }
  event(self, "mpc", "engine", "done: " + std::to_string(out.rounds) + " rounds, "
                                 + std::to_string(out.bytes_sent) + " bytes sent");
  if (!failed.empty()) {
    cancel_task(self, "the data-quality check of " + failed + " failed", true);
    return;
  }
  vote(self, task_phase::output);
}

/// The Output phase ended, at the output deadline (SYS-6.6) or because a counterpart was lost and no
/// download can be backed by every CP any more: the task is finished; every retrieval still owed is
/// erased with the rest, and each peer that missed an output is told through an event its node's
/// deployment operator forwards as telemetry (`when`: "before the output deadline", "before ... was
/// lost").
void end_output_phase(orchestrator_pointer self, const std::string& when) {
  auto& s = self->state;
  for (const auto& [key, peer] : s.machine->missing())
    event(self, "erased", "output " + key, "output " + key + " not retrieved by " + peer + " " + when + ": erased");
  event(self, "phase", "finished", s.machine->history().back().reason);
  log::notice(component, "CT " + s.ctx->uuid + " finished: " + s.machine->history().back().reason);
  finish_run(self, exit_finished);
}

ct_status status_of(orchestrator_pointer self, std::uint64_t since) {
  auto& st = self->state;
  ct_status out;
  out.uuid = st.ctx->uuid;
  out.cp_index = st.ctx->options.cp_index;
  out.phase = std::string{to_string(st.machine->phase())};
  out.reason = st.machine->reason();
  out.finished = is_terminal(st.machine->phase());
  for (auto& [k, s] : st.slots) {
    slot_status slot{k, s.kind() == slot_kind::input, std::string{to_string(s.state())}, s.rows(), {}, {}, {}};
    if (s.kind() == slot_kind::output) {
      // Which peers retrieved the output (and through which analyst), which still may.
      slot.peers.assign(s.peers().begin(), s.peers().end());
      for (auto& [peer, r] : s.releases())
        slot.retrieved_by.push_back({peer, r.name, r.at_ms});
      slot.waiting_for = s.waiting_for();
    }
    out.slots.push_back(std::move(slot));
  }
  for (auto& e : st.events)
    if (e.seq > since)
      out.events.push_back(e);
  return out;
}

} // namespace joconde::vm::detail
