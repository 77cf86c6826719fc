// The task_orchestrator and the data-quality checks of uploads (spec §4.4.1.1 "Input Phase", SYS-8.9;
// orchestrator_state.hpp). When an upload of an input with a check is sealed at every CP, the CPs run
// its check with the engine: one check at a time, in the order CP 0 announces (each run needs all
// three parties on their one MPC endpoint). A passed check makes the slot count as filled; a failed
// one empties it again, so that the custodian can correct the data and upload it again until the
// input deadline. The task is not cancelled for it.

#include "orchestrator_state.hpp"

#include "mpc_party.hpp"

#include "joconde/messages/caf_error.hpp"
#include "joconde/runtime/clock.hpp"
#include "joconde/runtime/log.hpp"
#include "joconde/runtime/vm_metrics.hpp"

#include <joconde/vm.pb.h>

#include <caf/event_based_actor.hpp>

#include <unistd.h>

#include <ctime>

namespace joconde::vm::detail {

namespace {

constexpr const char* component = "vm";

/// "2026-12-07 09:00 UTC" for milliseconds since the epoch.
std::string utc_minute(std::int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

/// The first characters of an upload id, as events show it.
std::string short_id(const std::string& id) {
  return id.substr(0, 8) + "...";
}

/// Stops the mpc_party of the check that just ended, without its end counting as a failure.
void stop_check_party(orchestrator_pointer self) {
  auto& st = self->state;
  if (!st.check_party)
    return;
  self->demonitor(st.check_party.address());
  self->send_exit(st.check_party, caf::exit_reason::user_shutdown);
  st.check_party = nullptr;
}

/// Answers the custodian's session waiting for upload `id`, if it waits here.
void answer_upload(orchestrator_pointer self, const std::string& id, caf::error err, const std::string& ok) {
  auto& st = self->state;
  auto w = st.upload_waiting.find(id);
  if (w == st.upload_waiting.end())
    return;
  if (err)
    w->second.deliver(std::move(err));
  else
    w->second.deliver(ok);
  st.upload_waiting.erase(w);
}

/// Upload `c` did not pass its check (`why`, for the custodian): the slot is empty again here, the
/// content erased. `tell`: the counterparts empty it too (a check that could not run here).
void refuse_checked_upload(orchestrator_pointer self, const pending_check& c, const std::string& why,
                           errc code, bool tell) {
  auto& st = self->state;
  auto& slot = st.slots.at(c.slot);
  if (slot.content_id() == c.id && slot.ready())
    (void)slot.reject(c.id);
  erase_listed(self);
  event(self, "slot", c.slot, "empty (" + why + "; upload again before the input deadline)");
  st.refused[c.slot] = "its last upload was refused: " + why;
  auto deadline = st.ctx->final.cta().ctsc().temporal().input_deadline_ms();
  answer_upload(self, c.id,
                make_error(code, "the upload of " + c.slot + " is refused and erased: " + why
                                   + "; correct the data and upload it again before the input deadline, "
                                   + utc_minute(deadline)),
                {});
  if (tell) {
    v1::PeerMessage m;
    m.set_kind(v1::PeerMessage::KIND_SLOT_FAILED);
    m.set_slot(c.slot);
    m.set_request_id(c.id);
    broadcast(self, m);
  }
  update_gauges(self);
}

/// Starts the check `c` on the engine at this CP.
void start_check(orchestrator_pointer self, const pending_check& c) {
  auto& st = self->state;
  mpc_job job;
  job.inputs[c.slot] = st.contents.at(c.id);
  for (auto& [cp, a] : st.mpc_addresses)
    job.addresses[cp] = a.text();
  for (auto& [cp, link] : st.peers)
    job.keys[cp] = std::string{reinterpret_cast<const char*>(link->mpc_key.data()), link->mpc_key.size()};
  // The calculation takes the endpoint's socket for good; a check borrows a duplicate of it, so that
  // the endpoint stays open (and counterparts that come early wait in its backlog) between runs.
  int fd = st.mpc_listen_fd && *st.mpc_listen_fd >= 0 ? ::dup(*st.mpc_listen_fd) : -1;
  job.listen_fd = std::make_shared<int>(fd);
  job.check_input = c.slot;
  job.check_of = c.id;
  st.checking = c;
  auto parent = caf::actor_cast<task_orchestrator_actor>(self);
  st.check_party = st.spawn_mpc ? st.spawn_mpc(parent, std::move(job))
                                : self->spawn<caf::detached>(mpc_party, st.ctx, parent, std::move(job));
  self->monitor(st.check_party);
  event(self, "quality", c.slot, "checking upload " + short_id(c.id));
  self->send(st.check_party, run_atom::value);
}

} // namespace

bool check_pending(orchestrator_pointer self, const std::string& slot) {
  auto& st = self->state;
  const auto& s = st.slots.at(slot);
  if (!s.ready() || !has_quality_check(*st.ctx, slot))
    return false;
  auto passed = st.passed.find(slot);
  return passed == st.passed.end() || passed->second != s.content_id();
}

void queue_check(orchestrator_pointer self, const std::string& slot, const std::string& id) {
  auto& st = self->state;
  if (st.checking && st.checking->id == id)
    return;
  for (const auto& c : st.check_queue)
    if (c.id == id)
      return;
  st.check_queue.push_back({slot, id});
  if (st.ctx->options.cp_index == 0) {
    v1::PeerMessage m;
    m.set_kind(v1::PeerMessage::KIND_CHECK);
    m.set_slot(slot);
    m.set_request_id(id);
    broadcast(self, m);
  }
  run_next_check(self);
}

void on_check_announced(orchestrator_pointer self, unsigned cp, const std::string& slot, const std::string& id) {
  auto& st = self->state;
  auto it = st.slots.find(slot);
  // CP 0 announces an upload once every CP sealed it, so this CP holds it (the queue stays at one
  // check per input at most).
  if (cp != 0 || it == st.slots.end() || it->second.kind() != slot_kind::input
      || !has_quality_check(*st.ctx, slot) || id.empty() || it->second.content_id() != id) {
    log::warning(component, "cp-" + std::to_string(cp) + " announced a check that is not CP 0's to "
                              "announce, of no input with a check or of no upload held here: ignored");
    return;
  }
  queue_check(self, slot, id);
}

void run_next_check(orchestrator_pointer self) {
  auto& st = self->state;
  if (st.check_party || st.machine->phase() != task_phase::input)
    return;
  while (!st.check_queue.empty()) {
    auto c = st.check_queue.front();
    const auto& slot = st.slots.at(c.slot);
    if (slot.content_id() == c.id && slot.state() == slot_state::in_use)
      return;  // announced by CP 0 before it is sealed at every CP as this CP sees it: wait
    st.check_queue.pop_front();
    if (slot.content_id() == c.id && slot.ready()) {
      start_check(self, c);
      return;
    }
    // The upload failed here meanwhile: every CP hears of it and drops the check too.
  }
}

void count_mpc(orchestrator_pointer self, const mpc_outcome& out) {
  const auto& ctx = *self->state.ctx;
  ctx.metrics->mpc_rounds().Increment(static_cast<double>(out.rounds));
  ctx.metrics->mpc_bytes().Increment(static_cast<double>(out.bytes_sent));
  const auto& cps = ctx.final.cta().ctsc().computing_parties();
  for (const auto& [party, bytes] : out.bytes_to)
    if (party < static_cast<unsigned>(cps.size()))
      ctx.metrics->mpc_peer_bytes(cps[static_cast<int>(party)].fqdn()).Increment(static_cast<double>(bytes));
}

void check_done(orchestrator_pointer self, mpc_outcome& out) {
  auto& st = self->state;
  count_mpc(self, out);
  if (!st.checking || st.checking->id != out.check_of)
    return;
  auto c = *std::exchange(st.checking, std::nullopt);
  stop_check_party(self);
  if (is_terminal(st.machine->phase()))
    return;
  auto verdict = out.quality.find(c.slot);
  auto& slot = st.slots.at(c.slot);
  if (verdict != out.quality.end() && verdict->second) {
    event(self, "quality", c.slot, "passed (upload " + short_id(c.id) + ")");
    if (slot.content_id() == c.id && slot.ready()) {
      st.passed[c.slot] = c.id;
      event(self, "slot", c.slot, "ready (" + std::to_string(slot.rows())
                                    + " rows, sealed at every CP; its data-quality check passed)");
    }
    answer_upload(self, c.id, {}, "ready at every CP; its data-quality check passed");
  } else {
    event(self, "quality", c.slot, "failed (upload " + short_id(c.id) + ")");
    refuse_checked_upload(self, c, "its data-quality check failed", errc::quality_failed, false);
  }
  run_next_check(self);
  maybe_close_input(self);
}

void check_failed(orchestrator_pointer self, const std::string& why) {
  auto& st = self->state;
  if (!st.checking)
    return;
  auto c = *std::exchange(st.checking, std::nullopt);
  stop_check_party(self);
  if (is_terminal(st.machine->phase()))
    return;
  log::warning(component, "the data-quality check of upload " + c.id + " of " + c.slot + " could not run: " + why);
  event(self, "quality", c.slot, "could not run (upload " + short_id(c.id) + "): " + why.substr(0, 300));
  refuse_checked_upload(self, c, "its data-quality check could not run (" + why.substr(0, 300) + ")",
                        errc::io_error, true);
  run_next_check(self);
  maybe_close_input(self);
}

void stop_checks(orchestrator_pointer self) {
  auto& st = self->state;
  st.check_queue.clear();
  st.checking.reset();
  stop_check_party(self);
}

} // namespace joconde::vm::detail
