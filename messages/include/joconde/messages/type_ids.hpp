#pragma once

// Every CAF type id of joconde, in one block (CONVENTIONS.md): the plain structs actors exchange
// inside one process (mplane_data.hpp, policy_data.hpp, cplane_data.hpp, vm_data.hpp) and the CT
// VM's atoms. Messages that cross nodes carry none of them (mplane.hpp). A program registers the
// block with `cfg.add_message_types<caf::id_block::joconde>()` (wire.hpp does it for the node and
// the tools that talk to it). Pulls in CAF's type-id machinery: included by the interface headers.

#include "joconde/messages/cplane_data.hpp"
#include "joconde/messages/mplane_data.hpp"
#include "joconde/messages/policy_data.hpp"
#include "joconde/messages/vm_data.hpp"

#include <caf/type_id.hpp>

CAF_BEGIN_TYPE_ID_BLOCK(joconde, caf::first_custom_type_id)

  // -- Management Plane --
  CAF_ADD_TYPE_ID(joconde, (joconde::store_change))
  CAF_ADD_TYPE_ID(joconde, (joconde::commit_writes))
  CAF_ADD_TYPE_ID(joconde, (joconde::policy_decision))

  // -- Control Plane --
  CAF_ADD_TYPE_ID(joconde, (joconde::cta_receipt))
  CAF_ADD_TYPE_ID(joconde, (joconde::member_view))
  CAF_ADD_TYPE_ID(joconde, (joconde::cta_view))
  CAF_ADD_TYPE_ID(joconde, (joconde::io_request))
  CAF_ADD_TYPE_ID(joconde, (joconde::io_receipt))

  // -- CT VM --
  CAF_ADD_TYPE_ID(joconde, (joconde::vm::sealed_content))
  CAF_ADD_TYPE_ID(joconde, (joconde::vm::authorized))
  CAF_ADD_TYPE_ID(joconde, (joconde::vm::mpc_outcome))
  CAF_ADD_TYPE_ID(joconde, (joconde::vm::released_output))
  CAF_ADD_TYPE_ID(joconde, (joconde::vm::output_retrieval))
  CAF_ADD_TYPE_ID(joconde, (joconde::vm::slot_status))
  CAF_ADD_TYPE_ID(joconde, (joconde::vm::vm_event))
  CAF_ADD_TYPE_ID(joconde, (joconde::vm::ct_status))

  // -- the CT VM's atoms (at most 10 characters; "v_" for the VM) --
  CAF_ADD_ATOM(joconde, joconde, state_atom, "v_state")
  CAF_ADD_ATOM(joconde, joconde, adopt_atom, "v_adopt")
  CAF_ADD_ATOM(joconde, joconde, peer_up_atom, "v_peerup")
  CAF_ADD_ATOM(joconde, joconde, peer_down_atom, "v_peerdn")
  CAF_ADD_ATOM(joconde, joconde, peer_atom, "v_peer")
  CAF_ADD_ATOM(joconde, joconde, peers_atom, "v_peers")
  CAF_ADD_ATOM(joconde, joconde, begin_atom, "v_begin")
  CAF_ADD_ATOM(joconde, joconde, sealed_atom, "v_sealed")
  CAF_ADD_ATOM(joconde, joconde, failed_atom, "v_failed")
  CAF_ADD_ATOM(joconde, joconde, release_atom, "v_release")
  CAF_ADD_ATOM(joconde, joconde, mpc_ok_atom, "v_mpcok")
  CAF_ADD_ATOM(joconde, joconde, mpc_fail_atom, "v_mpcfail")
  CAF_ADD_ATOM(joconde, joconde, run_atom, "v_run")
  CAF_ADD_ATOM(joconde, joconde, check_atom, "v_check")
  CAF_ADD_ATOM(joconde, joconde, evidence_atom, "v_evid")
  CAF_ADD_ATOM(joconde, joconde, verify_atom, "v_verify")

CAF_END_TYPE_ID_BLOCK(joconde)
