#pragma once

// Typed actor interfaces of a CT VM (DESIGN.md §4; actors/vm/): the supervised tree under the
// task_orchestrator. Include only from the VM's actor sources: this header pulls in CAF.
//
// The VM's messages never leave its process. They carry atoms, integers, strings (a serialised
// PeerMessage from a counterpart, encoded attestation evidence) and the plain structs of
// vm_data.hpp, which have inspect() overloads and type ids in the one block of type_ids.hpp. What is
// not data stays out of messages by design: an attested link to a counterpart (a socket and a
// channel key) is handed over through the peer_link_exchange of the VM's context and named in
// messages by the counterpart's CP index; the MPC listening socket and the pair keys are given to
// the mpc_party when it is spawned. The verbs the VM shares with the planes (tick, cancel, done) are
// the planes' atoms; the VM's own atoms have names no plane uses, so a clash does not compile.

#include "joconde/messages/cplane.hpp"
#include "joconde/messages/vm_data.hpp"

#include <cstdint>
#include <map>
#include <string>


namespace joconde {

/// The Task Policy Engine [task_policy]: the CTA, loaded once; who may write or read which slot.
using task_policy_actor = caf::typed_actor<
  // session: a serialised SignedAuthorization and whether it is for an upload. Reply: what it
  // allows (its request id is used up); refused with a joconde error (task_policy::check).
  caf::replies_to<check_atom, std::string, bool>::with<vm::authorized>>;

/// The Attestation Proxy [attestation_proxy]: this VM's evidence, and verdicts on counterparts.
using attestation_proxy_actor = caf::typed_actor<
  // handshake: 64 bytes of report data. Reply: this VM's evidence (enclave::encode).
  caf::replies_to<evidence_atom, std::string>::with<std::string>,
  // handshake: a counterpart's evidence (enclave::encode) and the 64 bytes of report data it must
  // carry. Reply: true; a refusal is a joconde error, counted in
  // joconde_vm_attestation_failures_total.
  caf::replies_to<verify_atom, std::string, std::string>::with<bool>>;

/// The MPC Engine activation [mpc_party]: the engine run at this CP, spawned detached for the
/// calculation with its inputs, its counterparts' MPC endpoints, pair keys and listening socket.
using mpc_party_actor = caf::typed_actor<
  // orchestrator, once: run the engine; the outcome goes to the orchestrator (mpc_ok, mpc_fail).
  caf::reacts_to<run_atom>>;

/// The Session Manager [session_manager]: attested client sessions and counterpart links (its
/// socket work runs in threads that ask the orchestrator).
using session_manager_actor = caf::typed_actor<
  // admin endpoint, once: the counterparts' peer and MPC endpoints (host:port) by CP index. Reply:
  // what the VM does; malformed_input for an address that is not host:port.
  caf::replies_to<peers_atom, std::map<std::uint32_t, std::string>,
                  std::map<std::uint32_t, std::string>>::with<std::string>>;

/// The Computation Task Orchestrator [task_orchestrator]: phases, slots, uploads, outputs, erasure.
/// Refusals are joconde errors (messages/caf_error.hpp) saying what was wrong.
using task_orchestrator_actor = caf::typed_actor<
  // timer (every 200 ms): deadlines, overdue uploads and downloads, the end of the VM.
  caf::reacts_to<tick_atom>,
  // admin endpoint and sessions: the CT's phase and slots, and its events after sequence number
  // `since` (none for the maximum).
  caf::replies_to<state_atom, uint64_t>::with<vm::ct_status>,
  // start-up: the session manager, to monitor.
  caf::reacts_to<adopt_atom, session_manager_actor>,
  // session manager: the attested link to counterpart `cp` waits in the peer_link_exchange; the
  // counterpart's MPC endpoint (host:port, may be empty).
  caf::reacts_to<peer_up_atom, uint32_t, std::string>,
  // session manager: counterpart `cp` is lost, and why.
  caf::reacts_to<peer_down_atom, uint32_t, std::string>,
  // session manager: counterpart `cp` sent a control message (a serialised PeerMessage).
  caf::reacts_to<peer_atom, uint32_t, std::string>,
  // admin endpoint or the host: cancel the CT, and why.
  caf::reacts_to<cancel_atom, std::string>,
  // client session: an upload the task policy granted begins; refused outside the Input phase, for
  // no such input, a request id that failed at a CP, or a slot that takes no upload now.
  caf::reacts_to<begin_atom, vm::authorized>,
  // client session: upload `request id` is sealed here. Reply, once it is sealed at every CP: what
  // happened; a refusal when it failed at some CP.
  caf::replies_to<sealed_atom, std::string, vm::sealed_content>::with<std::string>,
  // client session: upload `request id` failed here, and why.
  caf::reacts_to<failed_atom, std::string, std::string>,
  // client session: a download the task policy granted. Reply, once every CP backs it: this CP's
  // shares; a refusal (the output is not this peer's to take now, or another download got it).
  caf::replies_to<release_atom, vm::authorized>::with<vm::released_output>,
  // client session: a released download's transfer ended.
  caf::reacts_to<done_atom>,
  // mpc_party: the engine's outcome, or why it failed.
  caf::reacts_to<mpc_ok_atom, vm::mpc_outcome>,
  caf::reacts_to<mpc_fail_atom, std::string>>;

} // namespace joconde
