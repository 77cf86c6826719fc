// The task_orchestrator's behaviour (task_orchestrator.hpp): start, the timer, supervision of the
// children; each handler hands over to a step of orchestrator_state.hpp.

#include "task_orchestrator.hpp"

#include "orchestrator_state.hpp"

#include "joconde/runtime/clock.hpp"
#include "joconde/runtime/log.hpp"

#include <joconde/vm.pb.h>

namespace joconde::vm::detail {

namespace {

constexpr const char* component = "vm";

/// The task's slots and state machine from the CTA, and the coordination with the other CPs; false
/// (logged) when the CTA describes no task this VM can run.
bool set_up(orchestrator_pointer self) {
  auto& st = self->state;
  const auto& ctx = *st.ctx;
  const auto& ctsc = ctx.final.cta().ctsc();
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
  auto machine = task_state_machine::create(d, ctx.parties, outputs);
  if (!machine) {
    log::error(component, "cannot run the CT: " + machine.err().describe());
    return false;
  }
  st.machine = std::move(*machine);
  st.uploads.emplace(ctx.parties, ctx.options.cp_index, ctx.options.upload_confirm_timeout.count());
  st.releases.emplace(ctx.options.cp_index);
  return true;
}

/// A monitored child ended: the end of the mpc_party after the calculation is its job done; any
/// other end while the task runs cancels it (a child's state cannot be rebuilt).
void on_down(orchestrator_pointer self, const caf::down_msg& dm) {
  auto& s = self->state;
  if (dm.source == s.check_party) {
    s.check_party = nullptr;
    check_failed(self, "the MPC party stopped: " + self->system().render(dm.reason));
    return;
  }
  if (dm.source == s.mpc) {
    s.mpc = nullptr;
    if (!is_terminal(s.machine->phase()) && !s.votes.voted(task_phase::output))
      cancel_task(self, "the MPC party stopped: " + self->system().render(dm.reason), true);
    return;
  }
  if (!is_terminal(s.machine->phase()))
    cancel_task(self, "a component of the VM failed: " + self->system().render(dm.reason), true);
}

/// The deadlines of the task, of the pending uploads and of the waiting downloads.
void enforce_deadlines(orchestrator_pointer self, std::int64_t now) {
  auto& s = self->state;
  if (s.machine->phase() == task_phase::input && now >= s.machine->deadlines().input_ms) {
    // Only a deadline without valid inputs fails the task (a refused upload does not); it says which.
    auto missing = inputs_without_data(self);
    cancel_task(self, "input deadline passed" + (missing.empty() ? std::string{} : " without valid data for " + missing),
                true);
    return;
  }
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
    expire_downloads(self, now);
    expire_uploads(self, now);
  }
}

/// Once the task ended, running downloads had their time and the host read the last events: the
/// links close, the host hears the exit status and the tree stops. True when it did.
bool maybe_stop(orchestrator_pointer self, std::int64_t now) {
  auto& s = self->state;
  if (!is_terminal(s.machine->phase()) || s.finished_at_ms == 0)
    return false;
  bool drained = s.active_downloads == 0 || now - s.finished_at_ms > 60'000;
  if (!drained || now - s.finished_at_ms <= 3000)
    return false;
  close_links(self);
  if (s.on_exit)
    s.on_exit(s.exit_status);
  self->send_exit(s.policy, caf::exit_reason::user_shutdown);
  self->send_exit(s.proxy, caf::exit_reason::user_shutdown);
  if (s.mpc)
    self->send_exit(s.mpc, caf::exit_reason::user_shutdown);
  stop_checks(self);
  self->quit();
  return true;
}

task_orchestrator_actor::behavior_type
task_orchestrator(orchestrator_pointer self, context_ptr ctx, std::function<void(int)> on_exit,
                  std::shared_ptr<int> mpc_listen_fd, task_policy_actor policy, attestation_proxy_actor proxy,
                  mpc_spawner spawn_mpc) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.spawn_mpc = std::move(spawn_mpc);
  st.on_exit = std::move(on_exit);
  st.mpc_listen_fd = std::move(mpc_listen_fd);
  if (!set_up(self)) {
    if (st.on_exit)
      st.on_exit(exit_failed);
    self->quit();
    return task_orchestrator_actor::behavior_type::make_empty_behavior();
  }
  st.policy = std::move(policy);
  st.proxy = std::move(proxy);
  self->monitor(st.policy);
  self->monitor(st.proxy);
  self->set_down_handler([=](caf::down_msg& dm) { on_down(self, dm); });
  event(self, "phase", "initialisation", "VM started (SIMULATED TEE platform)");
  update_gauges(self);
  self->send(self, tick_atom::value);
  return {
    [=](tick_atom) {
      auto now = now_ms();
      if (!is_terminal(self->state.machine->phase()))
        enforce_deadlines(self, now);
      if (!maybe_stop(self, now))
        self->delayed_send(self, std::chrono::milliseconds{200}, tick_atom::value);
    },
    [=](state_atom, std::uint64_t since) { return status_of(self, since); },
    [=](adopt_atom, session_manager_actor child) {
      self->state.sessions = child;
      self->monitor(child);
    },
    [=](peer_up_atom, std::uint32_t cp, const std::string& mpc_address) { peer_up(self, cp, mpc_address); },
    [=](peer_down_atom, std::uint32_t cp, const std::string& why) { peer_down(self, cp, why); },
    [=](peer_atom, std::uint32_t cp, const std::string& bytes) { on_peer_message(self, cp, bytes); },
    [=](cancel_atom, const std::string& reason) { cancel_task(self, reason, true); },
    [=](begin_atom, const authorized& grant) { return begin_upload(self, grant); },
    [=](sealed_atom, const std::string& id, sealed_content& content) {
      return upload_sealed(self, id, std::move(content));
    },
    [=](failed_atom, const std::string& id, const std::string& why) { upload_failed(self, id, why, true); },
    [=](release_atom, const authorized& grant) { return release(self, grant); },
    [=](done_atom) {
      auto& s = self->state;
      if (s.active_downloads > 0)
        --s.active_downloads;
    },
    [=](mpc_ok_atom, mpc_outcome& out) {
      if (out.check_of.empty())
        take_outcome(self, out);
      else
        check_done(self, out);
    },
    [=](mpc_fail_atom, const std::string& why) {
      auto& s = self->state;
      if (s.check_party && self->current_sender() == caf::actor_cast<caf::strong_actor_ptr>(s.check_party))
        check_failed(self, why);
      else
        cancel_task(self, why, true);
    },
  };
}

} // namespace

task_orchestrator_actor spawn_task_orchestrator(caf::actor_system& sys, context_ptr ctx,
                                                std::function<void(int)> on_exit,
                                                std::shared_ptr<int> mpc_listen_fd, task_policy_actor policy,
                                                attestation_proxy_actor proxy, mpc_spawner spawn_mpc) {
  return sys.spawn(task_orchestrator, std::move(ctx), std::move(on_exit), std::move(mpc_listen_fd),
                   std::move(policy), std::move(proxy), std::move(spawn_mpc));
}

} // namespace joconde::vm::detail
