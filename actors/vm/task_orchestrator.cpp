// The task_orchestrator of a CT VM: phases, slots, uploads, outputs, erasure (vm_internal.hpp).
//
// It owns every piece of state that changes (phase, slots, pending uploads) and is the only actor
// that changes it; sessions do their socket work in their own threads and ask it. It monitors its
// children: a child that dies while the task runs cancels the task (its state cannot be rebuilt),
// and a cancelled or finished task erases the sealing key and every slot file.

#include "vm_internal.hpp"

#include "data_slot.hpp"
#include "phase_votes.hpp"
#include "release_coordinator.hpp"
#include "task_state.hpp"
#include "upload_ledger.hpp"

#include "joconde/runtime/clock.hpp"
#include "joconde/runtime/log.hpp"

#include <joconde/agreement.pb.h>

#include <nlohmann/json.hpp>

#include <sys/socket.h>

#include <optional>

namespace joconde::vm::detail {

namespace {

using nlohmann::json;

constexpr const char* component = "vm";

// -- the orchestrator's state --

struct event_entry {
  std::uint64_t seq = 0;
  std::int64_t at_ms = 0;
  std::string kind, subject, value;
};

/// What a release gives the session: code (0: released), message, the columns (shares), rows.
struct release_reply {
  std::uint32_t code = 0;
  std::string message;
  std::vector<std::string> columns;
  std::uint64_t rows = 0;
};

using release_result = caf::result<std::uint32_t, std::string, std::vector<std::string>, std::uint64_t>;

/// Answers a waiting download session.
void deliver(caf::response_promise& promise, release_reply r) {
  promise.deliver(r.code, std::move(r.message), std::move(r.columns), r.rows);
}

/// A refused release.
release_reply refused(errc code, std::string message) {
  return {static_cast<std::uint32_t>(code), std::move(message), {}, 0};
}

struct orchestrator_state {
  context_ptr ctx;
  std::optional<task_state_machine> machine;
  std::map<std::string, data_slot> slots;
  std::map<std::string, sealed_content> contents;  // content id -> file (current and replaced)
  std::optional<upload_ledger> uploads;            // uploads awaiting every CP
  std::map<std::string, caf::response_promise> upload_waiting;  // request id -> its session here
  std::optional<release_coordinator> releases;     // which download gets each output for a peer
  std::map<std::uint64_t, caf::response_promise> download_waiting;  // ticket -> its session here
  std::uint64_t next_ticket = 1;
  phase_votes votes;
  std::map<unsigned, peer_link_ptr> peers;
  bool mpc_started = false;
  unsigned active_downloads = 0;
  std::int64_t finished_at_ms = 0;
  std::vector<event_entry> events;
  std::uint64_t next_seq = 1;
  caf::actor policy, proxy, sessions, mpc;  // children (monitored)
  std::shared_ptr<int> mpc_listen_fd;
  std::map<unsigned, address> mpc_addresses;
  bool erased = false;
  int exit_status = exit_cancelled;
  std::function<void(int)> on_exit;
};

using orchestrator_actor = caf::stateful_actor<orchestrator_state>;

/// Answers the download session known by `ticket` (once: the ticket is forgotten).
void answer_download(orchestrator_actor* self, std::uint64_t ticket, release_reply r) {
  auto& waiting = self->state.download_waiting;
  if (auto it = waiting.find(ticket); it != waiting.end()) {
    deliver(it->second, std::move(r));
    waiting.erase(it);
  }
}

/// Refuses the download sessions the release coordinator turned away.
void answer_download(orchestrator_actor* self, std::vector<release_refusal> refusals) {
  for (auto& r : refusals)
    answer_download(self, r.ticket, refused(r.why.code, std::move(r.why.message)));
}

void event(orchestrator_actor* self, std::string kind, std::string subject, std::string value) {
  auto& st = self->state;
  st.events.push_back({st.next_seq++, now_ms(), std::move(kind), std::move(subject), std::move(value)});
  if (st.events.size() > 10'000)
    st.events.erase(st.events.begin(), st.events.begin() + 1000);
  const auto& e = st.events.back();
  log::info(component, "event " + e.kind + " " + e.subject + " " + e.value, {{"ct", st.ctx->uuid}});
}

void update_gauges(orchestrator_actor* self) {
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

void broadcast(orchestrator_actor* self, const v1::PeerMessage& m) {
  for (auto& [cp, link] : self->state.peers)
    if (auto r = link->send(m); !r)
      log::warning(component, "cannot tell cp-" + std::to_string(cp) + ": " + r.err().describe());
}

/// Deletes the files of every content the slots listed for erasure.
void erase_listed(orchestrator_actor* self) {
  auto& st = self->state;
  for (auto& [key, slot] : st.slots)
    for (auto& id : slot.take_erasures())
      if (auto it = st.contents.find(id); it != st.contents.end()) {
        remove_quietly(it->second.path);
        st.contents.erase(it);
      }
}

/// Everything this VM holds is destroyed: slot files, the sealing key (crypto-erasure).
void erase_everything(orchestrator_actor* self) {
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
  st.uploads->take_all();
  for (auto& [id, promise] : st.upload_waiting)
    promise.deliver(caf::make_error(caf::sec::request_receiver_down, "the task ended"));
  st.upload_waiting.clear();
  for (auto& w : st.releases->take_all())
    answer_download(self, w.ticket, {static_cast<std::uint32_t>(errc::invalid_state), "the task ended", {}, 0});
  event(self, "erased", "sealing-key", "destroyed");
}

void finish_run(orchestrator_actor* self, int status) {
  auto& st = self->state;
  st.exit_status = status;
  st.finished_at_ms = now_ms();
  erase_everything(self);
  update_gauges(self);
}

/// Ends the counterpart links so that their reader threads wake up and stop.
void close_links(orchestrator_actor* self) {
  for (auto& [cp, link] : self->state.peers)
    if (link && link->stream.is_open())
      ::shutdown(link->stream.native_handle(), SHUT_RDWR);
  self->state.peers.clear();
}

void cancel_task(orchestrator_actor* self, const std::string& reason, bool tell_peers) {
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

void on_phase(orchestrator_actor* self);

/// Applies the votes of counterparts that arrived before this VM reached their phase.
void apply_votes(orchestrator_actor* self) {
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

/// This VM agrees to move to `next` and tells its counterparts.
void vote(orchestrator_actor* self, task_phase next) {
  auto& st = self->state;
  st.votes.vote(st.ctx->options.cp_index, next);
  v1::PeerMessage m;
  m.set_kind(v1::PeerMessage::KIND_VOTE);
  m.set_phase(std::string{to_string(next)});
  broadcast(self, m);
  apply_votes(self);
}

/// Votes for the calculation once every input slot is ready at every CP and no upload is running.
void maybe_close_input(orchestrator_actor* self) {
  auto& st = self->state;
  if (st.votes.voted(task_phase::calculation) || st.machine->phase() != task_phase::input
      || !st.uploads->idle())
    return;
  for (auto& [k, s] : st.slots)
    if (s.kind() == slot_kind::input && !s.ready())
      return;
  for (auto& [k, s] : st.slots)
    if (s.kind() == slot_kind::input && !s.input_closed())
      (void)s.close_input();
  event(self, "input", "closed", "every input is ready at every CP");
  vote(self, task_phase::calculation);
}

void start_mpc(orchestrator_actor* self);

void on_phase(orchestrator_actor* self) {
  auto& st = self->state;
  switch (st.machine->phase()) {
    case task_phase::input: maybe_close_input(self); break;
    case task_phase::calculation: start_mpc(self); break;
    case task_phase::finished:
      log::notice(component, "CT " + st.ctx->uuid + " finished: "
                               + st.machine->history().back().reason);
      finish_run(self, exit_finished);
      break;
    default: break;
  }
}


void start_mpc(orchestrator_actor* self) {
  auto& st = self->state;
  if (st.mpc_started)
    return;
  st.mpc_started = true;
  std::map<std::string, sealed_content> inputs;
  for (auto& [k, s] : st.slots)
    if (s.kind() == slot_kind::input && s.ready())
      inputs[k] = st.contents.at(s.content_id());
  std::map<unsigned, std::string> addresses, keys;
  for (auto& [cp, a] : st.mpc_addresses)
    addresses[cp] = a.text();
  for (auto& [cp, link] : st.peers)
    keys[cp] = std::string{reinterpret_cast<const char*>(link->mpc_key.data()), link->mpc_key.size()};
  st.mpc = self->spawn<caf::detached + caf::monitored>(mpc_party, st.ctx, caf::actor{self});
  event(self, "mpc", "engine", "running " + st.ctx->final.cta().ctsc().engine().name());
  self->send(st.mpc, run_atom::value, std::move(inputs), std::move(addresses), std::move(keys),
             st.mpc_listen_fd);
}

// -- uploads --

void upload_complete_check(orchestrator_actor* self, const std::string& id) {
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
  event(self, "slot", slot_key, "ready (" + std::to_string(rows) + " rows, sealed at every CP)");
  if (auto w = st.upload_waiting.find(id); w != st.upload_waiting.end()) {
    w->second.deliver(std::uint32_t{0}, std::string{"ready at every CP"});
    st.upload_waiting.erase(w);
  }
  update_gauges(self);
  maybe_close_input(self);
}

void upload_failed(orchestrator_actor* self, const std::string& id, const std::string& why, bool tell) {
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
    w->second.deliver(static_cast<std::uint32_t>(errc::io_error), "the upload failed at a Computing Party: " + why);
    st.upload_waiting.erase(w);
  }
  erase_listed(self);
  if (!slot_key.empty())
    event(self, "slot", slot_key, "empty (upload failed: " + why + ")");
  if (tell) {
    v1::PeerMessage m;
    m.set_kind(v1::PeerMessage::KIND_SLOT_FAILED);
    m.set_slot(slot_key);
    m.set_request_id(id);
    broadcast(self, m);
  }
  update_gauges(self);
}

// -- peer messages --

void back_download(orchestrator_actor* self, const output_peer& op, const std::string& request_id);
void try_release(orchestrator_actor* self, const output_peer& op);

void on_peer_message(orchestrator_actor* self, unsigned cp, const std::string& bytes) {
  auto& st = self->state;
  v1::PeerMessage m;
  if (!m.ParseFromString(bytes)) {
    cancel_task(self, "cp-" + std::to_string(cp) + " sent a malformed control message", true);
    return;
  }
  if (is_terminal(st.machine->phase()))
    return;
  switch (m.kind()) {
    case v1::PeerMessage::KIND_VOTE: {
      if (auto r = st.votes.record(cp, m.phase()); !r) {
        cancel_task(self, r.err().message, true);
        return;
      }
      apply_votes(self);
      break;
    }
    case v1::PeerMessage::KIND_SLOT_RECEIVED: {
      if (!st.slots.count(m.slot()) || st.slots.at(m.slot()).kind() != slot_kind::input)
        return;
      if (st.uploads->sealed_at(cp, m.request_id(), m.slot(), now_ms()))
        upload_complete_check(self, m.request_id());
      break;
    }
    case v1::PeerMessage::KIND_SLOT_FAILED:
      upload_failed(self, m.request_id(), "at cp-" + std::to_string(cp), false);
      maybe_close_input(self);
      break;
    case v1::PeerMessage::KIND_CANCEL:
      cancel_task(self, "cancelled by cp-" + std::to_string(cp) + ": " + m.reason().substr(0, 200), false);
      break;
    case v1::PeerMessage::KIND_RESERVE: {
      auto it = st.slots.find(m.slot());
      if (it == st.slots.end() || it->second.kind() != slot_kind::output
          || it->second.peers().count(m.peer()) == 0 || m.request_id().size() > 64) {
        log::warning(component, "cp-" + std::to_string(cp) + " proposed a download of no output "
                                  "named for that peer: ignored");
        return;
      }
      output_peer op{m.slot(), m.peer()};
      if (st.releases->decides())
        back_download(self, op, m.request_id());  // a proposal: decide if undecided
      else if (cp == 0)
        answer_download(self, st.releases->decide(op, m.request_id()));  // CP 0's decision
      try_release(self, op);
      break;
    }
    case v1::PeerMessage::KIND_QUALITY:
      for (const auto& k : m.quality_failed())
        event(self, "quality", k.substr(0, 64), "failed at cp-" + std::to_string(cp));
      break;
    default: cancel_task(self, "cp-" + std::to_string(cp) + " sent an unknown control message", true);
  }
}

// -- status --

json status_json(orchestrator_actor* self, std::uint64_t since) {
  auto& st = self->state;
  json slots = json::array();
  for (auto& [k, s] : st.slots) {
    json slot = {{"key", k}, {"input", s.kind() == slot_kind::input},
                 {"state", std::string{to_string(s.state())}}, {"rows", s.rows()}};
    if (s.kind() == slot_kind::output) {
      // Which peers retrieved the output (and through which analyst), which still may.
      json retrieved = json::array();
      for (auto& [peer, r] : s.releases())
        retrieved.push_back({{"peer", peer}, {"analyst", r.name}, {"at_ms", r.at_ms}});
      slot["peers"] = s.peers();
      slot["retrieved_by"] = std::move(retrieved);
      slot["waiting_for"] = s.waiting_for();
    }
    slots.push_back(std::move(slot));
  }
  json events = json::array();
  for (auto& e : st.events)
    if (e.seq > since)
      events.push_back({{"seq", e.seq}, {"at_ms", e.at_ms}, {"kind", e.kind}, {"subject", e.subject},
                        {"value", e.value}});
  return {{"uuid", st.ctx->uuid},
          {"cp_index", st.ctx->options.cp_index},
          {"phase", std::string{to_string(st.machine->phase())}},
          {"reason", st.machine->reason()},
          {"platform", "joconde-simulated (SIMULATED TEE: no memory protection)"},
          {"slots", slots},
          {"events", events},
          {"finished", is_terminal(st.machine->phase())}};
}

v1::VmReply reply_of(orchestrator_actor* self, std::uint32_t code, std::string message) {
  auto& st = self->state;
  v1::VmReply r;
  r.set_code(code);
  r.set_message(std::move(message));
  r.set_phase(std::string{to_string(st.machine->phase())});
  for (auto& [k, s] : st.slots) {
    auto* ss = r.add_slots();
    ss->set_key(k);
    ss->set_input(s.kind() == slot_kind::input);
    ss->set_state(std::string{to_string(s.state())});
    ss->set_rows(s.rows());
  }
  return r;
}

// -- downloads --

/// This CP backs download `request_id` of output and peer `op` (release_coordinator::back): CP 0
/// decides for it if nothing was decided yet and tells the others; another CP proposes it to CP 0.
void back_download(orchestrator_actor* self, const output_peer& op, const std::string& request_id) {
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
  if (backing.send == release_coordinator::notice::to_all) {
    broadcast(self, m);
  } else if (auto leader = s.peers.find(0); leader != s.peers.end()) {
    (void)leader->second->send(m);
  }
}

/// This CP's shares of output `op.first` for analyst `w` of peer `op.second`, unsealed and recorded
/// as released by the slot, or why not.
release_reply release_shares(orchestrator_actor* self, const output_peer& op, const release_waiter& w,
                             std::int64_t now) {
  auto& s = self->state;
  const auto& [slot_key, peer] = op;
  auto& slot = s.slots.at(slot_key);
  auto content = s.contents.find(slot.content_id());
  if (auto r = s.machine->may_retrieve(slot_key, peer, now); !r)
    return refused(r.err().code, r.err().message);
  if (auto p = slot.check_peer(peer); !p)
    return refused(p.err().code, p.err().message);
  if (!slot.ready() || content == s.contents.end())
    return refused(errc::invalid_state, "output " + slot_key + " is " + std::string{to_string(slot.state())}
                                          + ", not ready");
  // Unsealed before the release: the last one ends the task, which erases the key.
  auto c = content->second;
  auto sealed = read_sealed(c.path);
  auto cols = sealed ? unseal_columns(*s.ctx, slot_key, slot.content_id(), *sealed)
                     : result<std::vector<std::string>>{sealed.err()};
  if (!cols)
    return refused(cols.err().code, cols.err().message);
  if (auto r = slot.release(peer, w.who, w.name, now); !r) {
    for (auto& col : *cols)
      OPENSSL_cleanse(col.data(), col.size());
    return refused(r.err().code, r.err().message);
  }
  erase_listed(self);  // after the last named peer: the content's file is gone from here on
  ++s.active_downloads;
  auto waiting_for = slot.waiting_for();
  event(self, "slot", slot_key,
        "released to " + peer + " (by " + w.name.substr(0, 64) + ")"
          + (waiting_for.empty() ? std::string{"; every peer named on it has it: erased"}
                                 : "; " + std::to_string(waiting_for.size())
                                     + (waiting_for.size() == 1 ? " peer" : " peers") + " still to retrieve it"));
  return {std::uint32_t{0}, std::string{}, std::move(*cols), c.rows};
}

/// Releases output and peer `op` once every CP backs the same download and its session waits here
/// (the first of its sessions gets the shares, the others are refused); the last retrieval owed
/// finishes the task.
void try_release(orchestrator_actor* self, const output_peer& op) {
  auto& s = self->state;
  auto sessions = s.releases->take_decided(op);
  if (sessions.empty())
    return;
  auto now = now_ms();
  auto reply = release_shares(self, op, sessions.front(), now);
  bool released = reply.code == 0;
  answer_download(self, sessions.front().ticket, std::move(reply));
  for (std::size_t i = 1; i < sessions.size(); ++i)
    answer_download(self, sessions[i].ticket, refused(errc::already_exists, "output " + op.first
                                                                              + " was retrieved by peer "
                                                                              + op.second + " already"));
  if (released) {
    auto done = s.machine->output_retrieved(op.first, op.second, now);
    if (done && *done) {
      event(self, "phase", "finished", s.machine->history().back().reason);
      on_phase(self);
    }
  }
  update_gauges(self);
}

/// The Output phase ended, at the output deadline (SYS-6.6) or because a counterpart was lost and no
/// download can be backed by every CP any more (`why` says which): the task is finished; every
/// retrieval still owed is erased with the rest, and each peer that missed an output is told through
/// an event its node's deployment operator forwards as telemetry (`when`: "before the output
/// deadline", "before ... was lost").
void end_output_phase(orchestrator_actor* self, const std::string& when) {
  auto& s = self->state;
  for (const auto& [key, peer] : s.machine->missing())
    event(self, "erased", "output " + key, "output " + key + " not retrieved by " + peer + " " + when + ": erased");
  event(self, "phase", "finished", s.machine->history().back().reason);
  log::notice(component, "CT " + s.ctx->uuid + " finished: " + s.machine->history().back().reason);
  finish_run(self, exit_finished);
}

// -- the orchestrator --

caf::behavior task_orchestrator(orchestrator_actor* self, context_ptr ctx, std::function<void(int)> on_exit,
                                std::shared_ptr<int> mpc_listen_fd, caf::actor policy, caf::actor proxy) {
  auto& st = self->state;
  st.ctx = ctx;
  st.on_exit = std::move(on_exit);
  st.mpc_listen_fd = std::move(mpc_listen_fd);
  const auto& ctsc = ctx->final.cta().ctsc();
  output_peers outputs;
  for (const auto& in : ctsc.inputs())
    st.slots.emplace(in.key(), data_slot{in.key(), slot_kind::input});
  for (const auto& out : ctsc.outputs()) {
    std::set<std::string> peers{out.peers().begin(), out.peers().end()};
    st.slots.emplace(out.key(), data_slot{out.key(), slot_kind::output, peers});
    outputs.emplace(out.key(), std::move(peers));
  }
  task_deadlines d{ctsc.temporal().input_deadline_ms(), ctsc.temporal().execution_deadline_ms(),
                   ctsc.temporal().output_deadline_ms()};
  auto machine = task_state_machine::create(d, ctx->parties, outputs);
  if (!machine) {
    log::error(component, "cannot run the CT: " + machine.err().describe());
    if (st.on_exit)
      st.on_exit(exit_failed);
    self->quit();
    return {};
  }
  st.machine = std::move(*machine);
  st.uploads.emplace(ctx->parties, ctx->options.cp_index, ctx->options.upload_confirm_timeout.count());
  st.releases.emplace(ctx->options.cp_index);
  st.policy = policy;
  st.proxy = proxy;
  self->monitor(policy);
  self->monitor(proxy);
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& s = self->state;
    if (dm.source == s.mpc) {
      s.mpc = nullptr;
      if (!is_terminal(s.machine->phase()) && !s.votes.voted(task_phase::output))
        cancel_task(self, "the MPC party stopped: " + self->system().render(dm.reason), true);
      return;
    }
    if (!is_terminal(s.machine->phase()))
      cancel_task(self, "a component of the VM failed: " + self->system().render(dm.reason), true);
  });
  event(self, "phase", "initialisation", "VM started (SIMULATED TEE platform)");
  update_gauges(self);
  self->send(self, tick_atom::value);
  return {
    [=](tick_atom) {
      auto& s = self->state;
      auto now = now_ms();
      if (!is_terminal(s.machine->phase())) {
        if (s.machine->tick(now)) {
          if (s.machine->phase() == task_phase::finished) {
            end_output_phase(self, "before the output deadline");  // each VM at its own deadline: no cancel to tell
          } else {
            event(self, "phase", "cancelled", s.machine->reason());
            v1::PeerMessage m;
            m.set_kind(v1::PeerMessage::KIND_CANCEL);
            m.set_reason(s.machine->reason());
            broadcast(self, m);
            finish_run(self, exit_cancelled);
          }
        } else if (s.ctx->stopping->load()) {
          cancel_task(self, "stopped by the host", true);
        } else {
          answer_download(self, s.releases->expire(now));
          auto late = s.uploads->overdue(now);
          for (auto& id : late)
            upload_failed(self, id, "not sealed at every CP in time", true);
          if (!late.empty())
            maybe_close_input(self);
        }
      }
      if (is_terminal(s.machine->phase()) && s.finished_at_ms != 0) {
        // Let running downloads end and the host read the last events, then stop.
        bool drained = s.active_downloads == 0 || now - s.finished_at_ms > 60'000;
        if (drained && now - s.finished_at_ms > 3000) {
          close_links(self);
          if (s.on_exit)
            s.on_exit(s.exit_status);
          self->send_exit(s.policy, caf::exit_reason::user_shutdown);
          self->send_exit(s.proxy, caf::exit_reason::user_shutdown);
          if (s.mpc)
            self->send_exit(s.mpc, caf::exit_reason::user_shutdown);
          self->quit();
          return;
        }
      }
      self->delayed_send(self, std::chrono::milliseconds{200}, tick_atom::value);
    },
    [=](status_atom) -> std::string { return proto::serialize(reply_of(self, 0, {})); },
    [=](adopt_atom, caf::actor child) {
      self->state.sessions = child;
      self->monitor(child);
    },
    [=](events_atom, std::uint64_t since) -> std::string { return status_json(self, since).dump(); },
    [=](peer_up_atom, unsigned cp, peer_link_ptr link, std::string mpc_address) {
      auto& s = self->state;
      if (is_terminal(s.machine->phase()))
        return;
      if (auto a = parse_address(mpc_address))
        s.mpc_addresses[cp] = *a;
      s.peers[cp] = std::move(link);
      event(self, "peer", "cp-" + std::to_string(cp), "attested; channel keys agreed");
      if (s.peers.size() + 1 == s.ctx->parties && s.machine->phase() == task_phase::initialisation)
        vote(self, task_phase::input);
    },
    [=](peer_down_atom, unsigned cp, const std::string& why) {
      auto& s = self->state;
      s.peers.erase(cp);
      auto lost = "lost counterpart cp-" + std::to_string(cp) + ": " + why;
      // In the Output phase the computation is done and some outputs may be out: the phase ends
      // as at its deadline (every other VM loses the same counterpart). Before it, the task
      // cannot go on.
      if (s.machine->phase() == task_phase::output && s.machine->end_output(lost, now_ms()))
        end_output_phase(self, "before counterpart cp-" + std::to_string(cp) + " was lost");
      else if (!is_terminal(s.machine->phase()))
        cancel_task(self, lost, true);
    },
    [=](peer_atom, unsigned cp, const std::string& bytes) { on_peer_message(self, cp, bytes); },
    [=](cancel_atom, const std::string& reason) { cancel_task(self, reason, true); },
    [=](begin_atom, const std::string& slot_key, const std::string& id, const std::string& who)
      -> std::tuple<std::uint32_t, std::string> {
      auto& s = self->state;
      if (s.machine->phase() != task_phase::input || s.votes.voted(task_phase::calculation))
        return {static_cast<std::uint32_t>(errc::invalid_state),
                "the CT is in the " + std::string{to_string(s.machine->phase())}
                  + " phase; it accepts input only in the input phase, until every input is ready"};
      auto it = s.slots.find(slot_key);
      if (it == s.slots.end())
        return {static_cast<std::uint32_t>(errc::not_found), "no input " + slot_key};
      if (s.uploads->failed(id))
        return {static_cast<std::uint32_t>(errc::io_error), "this upload failed at another CP already"};
      if (auto r = it->second.begin_upload(id, who, now_ms()); !r)
        return {static_cast<std::uint32_t>(r.err().code), r.err().message};
      erase_listed(self);
      s.uploads->begin(id, slot_key, now_ms());
      event(self, "slot", slot_key, "in_use (upload " + id.substr(0, 8) + "...)");
      update_gauges(self);
      return {std::uint32_t{0}, std::string{}};
    },
    [=](sealed_atom, const std::string& id, sealed_content content) -> caf::result<std::uint32_t, std::string> {
      auto& s = self->state;
      if (is_terminal(s.machine->phase()) || !s.uploads->sealed_here(id, content)) {
        // Failed at another CP (or timed out) while its shares were still arriving here.
        remove_quietly(content.path);
        for (auto& [k, slot] : s.slots)
          if (slot.content_id() == id && slot.state() == slot_state::in_use)
            (void)slot.fail(id);
        erase_listed(self);
        update_gauges(self);
        return {static_cast<std::uint32_t>(errc::io_error),
                std::string{"the upload failed at another Computing Party"}};
      }
      s.contents[id] = content;
      v1::PeerMessage m;
      m.set_kind(v1::PeerMessage::KIND_SLOT_RECEIVED);
      m.set_slot(s.uploads->pending().at(id).slot);
      m.set_request_id(id);
      broadcast(self, m);
      auto promise = self->make_response_promise<std::uint32_t, std::string>();
      s.upload_waiting[id] = promise;
      upload_complete_check(self, id);
      return promise;
    },
    [=](failed_atom, const std::string& id, const std::string& why) {
      upload_failed(self, id, why, true);
    },
    [=](release_atom, const std::string& slot_key, const std::string& peer, const std::string& who,
        const std::string& name, const std::string& request_id) -> release_result {
      auto& s = self->state;
      auto now = [](release_reply r) -> release_result {
        return {r.code, std::move(r.message), std::move(r.columns), r.rows};
      };
      auto it = s.slots.find(slot_key);
      if (it == s.slots.end() || it->second.kind() != slot_kind::output)
        return now(refused(errc::not_found, "no output " + slot_key));
      // Defence in depth behind the task policy: a peer not named on the output, a peer that has
      // it already (naming the analyst who retrieved it); then the phase and the deadline.
      if (auto r = it->second.check_peer(peer); !r)
        return now(refused(r.err().code, r.err().message));
      if (auto r = s.machine->may_retrieve(slot_key, peer, now_ms()); !r)
        return now(refused(r.err().code, r.err().message));
      output_peer op{slot_key, peer};
      auto ticket = s.next_ticket++;
      if (auto r = s.releases->wait(op, request_id, {ticket, who, name, now_ms() + 15'000}); !r)
        return now(refused(r.err().code, r.err().message));
      s.download_waiting.emplace(ticket, self->make_response_promise());
      back_download(self, op, request_id);
      try_release(self, op);
      return caf::delegated<std::uint32_t, std::string, std::vector<std::string>, std::uint64_t>{};
    },
    [=](done_atom) {
      auto& s = self->state;
      if (s.active_downloads > 0)
        --s.active_downloads;
    },
    [=](mpc_ok_atom, mpc_outcome& out) {
      auto& s = self->state;
      s.ctx->metrics->mpc_rounds().Increment(static_cast<double>(out.stats.rounds));
      s.ctx->metrics->mpc_bytes().Increment(static_cast<double>(out.stats.bytes_sent));
      if (s.machine->phase() != task_phase::calculation) {
        for (auto& [k, c] : out.outputs)
          remove_quietly(c.path);
        return;
      }
      v1::PeerMessage q;
      q.set_kind(v1::PeerMessage::KIND_QUALITY);
      bool all_passed = true;
      for (auto& [input, passed] : out.quality) {
        event(self, "quality", input, passed ? "passed" : "failed");
        (passed ? q.add_quality_passed() : q.add_quality_failed())->assign(input);
        all_passed = all_passed && passed;
      }
      broadcast(self, q);
      for (auto& [k, c] : out.outputs) {
        auto content = fs::path{c.path}.filename().string();
        content = content.substr(k.size() + 1, content.size() - k.size() - 1 - 7);
        s.contents[content] = c;
        if (auto r = s.slots.at(k).store(content, c.rows, c.sha256); !r)
          log::warning(component, "output " + k + ": " + r.err().describe());
        else
          event(self, "slot", k, "ready (" + std::to_string(c.rows) + " rows)");
      }
      event(self, "mpc", "engine", "done: " + std::to_string(out.stats.rounds) + " rounds, "
                                     + std::to_string(out.stats.bytes_sent) + " bytes sent");
      if (!all_passed) {
        cancel_task(self, "a data-quality check failed", true);
        return;
      }
      vote(self, task_phase::output);
    },
    [=](mpc_fail_atom, const std::string& why) { cancel_task(self, why, true); },
  };
}


} // namespace

caf::actor spawn_task_orchestrator(caf::actor_system& sys, context_ptr ctx, std::function<void(int)> on_exit,
                                   fd_ptr mpc_listen_fd, caf::actor policy, caf::actor proxy) {
  return sys.spawn(task_orchestrator, std::move(ctx), std::move(on_exit), std::move(mpc_listen_fd),
                   std::move(policy), std::move(proxy));
}

} // namespace joconde::vm::detail
