#pragma once

// Typed actor interfaces of the Management Plane (DESIGN.md §4). Include only from actor sources and
// program mains: this header pulls in CAF.
//
// Messages that cross nodes carry only atoms, std::string (serialised Protobuf) and integers, so that
// no custom type needs registering on either end of a CAF connection. The plain structs actors
// exchange inside one process have their type ids in type_ids.hpp.

#include "joconde/messages/status.hpp"
#include "joconde/messages/type_ids.hpp"

#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace joconde {

// -- atoms (at most 10 characters) ------------------------------------------------------------------

using hello_atom = caf::atom_constant<caf::atom("j_hello")>;
using proof_atom = caf::atom_constant<caf::atom("j_proof")>;
using frame_atom = caf::atom_constant<caf::atom("j_frame")>;
using ack_atom = caf::atom_constant<caf::atom("j_ack")>;
using send_atom = caf::atom_constant<caf::atom("j_send")>;
using deliver_atom = caf::atom_constant<caf::atom("j_deliver")>;
using link_up_atom = caf::atom_constant<caf::atom("j_linkup")>;
using link_dn_atom = caf::atom_constant<caf::atom("j_linkdn")>;
using acked_atom = caf::atom_constant<caf::atom("j_acked")>;
using publish_atom = caf::atom_constant<caf::atom("j_publish")>;
using sign_atom = caf::atom_constant<caf::atom("j_sign")>;
using audit_atom = caf::atom_constant<caf::atom("j_audit")>;
using tick_atom = caf::atom_constant<caf::atom("j_tick")>;
using connect_atom = caf::atom_constant<caf::atom("j_connect")>;
using revoke_atom = caf::atom_constant<caf::atom("j_revoke")>;
using trust_atom = caf::atom_constant<caf::atom("j_trust")>;
using query_atom = caf::atom_constant<caf::atom("j_query")>;
using rotate_atom = caf::atom_constant<caf::atom("j_rotate")>;
using authorize_atom = caf::atom_constant<caf::atom("j_authz")>;
using flush_atom = caf::atom_constant<caf::atom("j_flush")>;
using head_atom = caf::atom_constant<caf::atom("j_head")>;
using checkpt_atom = caf::atom_constant<caf::atom("j_chkpt")>;

// -- link between a node and its parent ---------------------------------------------------------------

/// What nodes say to each other over a CAF connection; both ends of a link speak it.
using link_actor = caf::typed_actor<
  // child -> parent: serialised LinkHello; reply: serialised LinkChallenge.
  caf::replies_to<hello_atom, std::string>::with<std::string>,
  // child -> parent: serialised LinkProof; reply: true once the link is established.
  caf::replies_to<proof_atom, std::string>::with<bool>,
  // either direction: serialised LinkFrame with envelopes.
  caf::reacts_to<frame_atom, std::string>,
  // either direction: serialised LinkAck for a frame.
  caf::reacts_to<ack_atom, std::string>,
  // child -> parent: the child's latest signed audit head (serialised AuditHead); reply: the
  // sequence the parent keeps for the child after it (refusals are errors).
  caf::replies_to<head_atom, std::string>::with<uint64_t>>;

/// The connection manager: the link protocol plus what the local broker asks of it.
using connection_manager_actor = link_actor::extend<
  // broker -> cm: send these SignedEnvelopes to the neighbour with this FQDN; reply: frame sequence.
  caf::replies_to<send_atom, std::string, std::vector<std::string>>::with<uint64_t>,
  // timer: (re)connect to the parent.
  caf::reacts_to<connect_atom>,
  // identity manager -> cm: drop every link whose certificate chain holds this fingerprint.
  caf::reacts_to<revoke_atom, std::string>,
  // audit log -> cm: this node's latest signed audit head (serialised AuditHead), for the parent
  // (kept here at the root).
  caf::reacts_to<checkpt_atom, std::string>>::extend_with<status_actor>;

// -- local delivery -----------------------------------------------------------------------------------

/// What the broker hands to local actors that subscribed to a topic prefix, after the envelope is
/// stored: topic, origin FQDN, payload.
using local_subscriber_actor =
  // topic, origin, payload; reply once processed (the broker then forgets it; until then it hands it
  // over again after a restart, so a handler must be idempotent).
  caf::typed_actor<caf::replies_to<deliver_atom, std::string, std::string, std::string>::with<bool>>;

/// The Node Identity Manager: revocations and the trusted view (DESIGN.md §4).
using identity_manager_actor = local_subscriber_actor::extend<
  // local (HTTP API): apply and spread a serialised Revocation; reply: the revoked fingerprint.
  caf::replies_to<revoke_atom, std::string>::with<std::string>,
  // local (HTTP API or timer): rotate this node's key now; reply: what happened.
  caf::replies_to<rotate_atom>::with<std::string>,
  // timer: rotate when the certificate is older than the rotation period.
  caf::reacts_to<tick_atom>>::extend_with<status_actor>;

// -- service broker -----------------------------------------------------------------------------------

/// The Service Broker: routing, durable outbox, duplicates, local delivery.
using service_broker_actor = caf::typed_actor<
  // cm -> broker: envelopes received on the link with neighbour `from` (true: from the parent).
  // Reply: true once every envelope is handled for good (stored, duplicate or refused); the frame
  // may then be acknowledged. An error means nothing was stored and the frame must come again.
  caf::replies_to<deliver_atom, std::string, bool, std::vector<std::string>>::with<bool>,
  // cm -> broker: a link to neighbour FQDN came up (true: it is the parent) or went down.
  caf::reacts_to<link_up_atom, std::string, bool>,
  caf::reacts_to<link_dn_atom, std::string>,
  // cm -> broker: the neighbour acknowledged frame `seq` of the current link session.
  caf::reacts_to<acked_atom, std::string, uint64_t>,
  // local: publish `count` envelopes (topic, recipients, ct id, payload); reply: their ids (hex).
  caf::replies_to<publish_atom, std::string, std::vector<std::string>, std::string, std::string,
                  uint32_t>::with<std::vector<std::string>>,
  // timer: resend what is overdue.
  caf::reacts_to<tick_atom>,
  // self: commit what is pending (group commit); true: sent by the commit-delay timer.
  caf::reacts_to<flush_atom, bool>,
  // wiring at start-up: the connection manager to send frames through.
  caf::reacts_to<connect_atom, connection_manager_actor>,
  // wiring at start-up: deliver envelopes whose topic starts with this prefix to that actor.
  caf::reacts_to<connect_atom, std::string, local_subscriber_actor>>::extend_with<status_actor>;

// -- keys, audit --------------------------------------------------------------------------------------

/// The Key Management Service: the only holder of the node's private key.
using key_manager_actor = caf::typed_actor<
  // local: sign each message with the node key (ECDSA P-256, SHA-256); reply: DER signatures in
  // order. At most 10,000 messages of at most 16 MiB in all per request.
  caf::replies_to<sign_atom, std::vector<std::string>>::with<std::vector<std::string>>>::extend_with<status_actor>;

/// The Role and Access Manager and System Policy Engine: node roles and policy decisions.
using access_manager_actor = caf::typed_actor<
  // local: may `subject` do `action` on `resource`? Actions: "publish" (resource: topic, subject:
  // "api"), "enrol" (resource: role). Reply: the decision; denials are audited.
  caf::replies_to<authorize_atom, std::string, std::string, std::string>::with<policy_decision>,
  // timer: re-read the roles of the children enrolled here.
  caf::reacts_to<tick_atom>>::extend_with<status_actor>;

/// The System Log Collector's audit side: one hash-chained RFC 5424 record per event.
using audit_log_actor = caf::typed_actor<
  // component, event, flattened key/value parameters.
  caf::reacts_to<audit_atom, std::string, std::string, std::vector<std::string>>,
  // component, event, strings per record, then the records' flattened key/value parameters: one
  // record each (in one write).
  caf::reacts_to<audit_atom, std::string, std::string, uint32_t, std::vector<std::string>>,
  // timer: sync what was written.
  caf::reacts_to<tick_atom>,
  // timer: append a signed checkpoint if records were added since the last one, and report it.
  caf::reacts_to<checkpt_atom>,
  // wiring at start-up: the connection manager that takes signed heads to the parent.
  caf::reacts_to<connect_atom, connection_manager_actor>>::extend_with<status_actor>;

} // namespace joconde
