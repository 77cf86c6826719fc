#pragma once

// Typed actor interfaces of the Control Plane (DESIGN.md §4). Include only from actor sources and
// program mains: this header pulls in CAF.

#include "joconde/messages/mplane.hpp"
#include "joconde/messages/proto_bytes.hpp"

namespace joconde::v1 {
class Ctsa;
class Ctsc;
class PakRecord;
class SignatorySignature;
class TrustOverride;
} // namespace joconde::v1

namespace joconde {

using create_atom = caf::atom_constant<caf::atom("j_create")>;
using expire_atom = caf::atom_constant<caf::atom("j_expire")>;
using submit_atom = caf::atom_constant<caf::atom("j_submit")>;
using countersign_atom = caf::atom_constant<caf::atom("j_csign")>;
using decide_atom = caf::atom_constant<caf::atom("j_decide")>;
using cancel_atom = caf::atom_constant<caf::atom("j_cancel")>;
using pak_atom = caf::atom_constant<caf::atom("j_pak")>;
using deploy_atom = caf::atom_constant<caf::atom("j_deploy")>;
using changed_atom = caf::atom_constant<caf::atom("j_changed")>;
using admin_atom = caf::atom_constant<caf::atom("j_admin")>;
using upload_atom = caf::atom_constant<caf::atom("j_upload")>;
using download_atom = caf::atom_constant<caf::atom("j_dload")>;
using done_atom = caf::atom_constant<caf::atom("j_done")>;
using override_atom = caf::atom_constant<caf::atom("j_overr")>;

/// The Deployment Operator of a Computing Party: provisions, tracks and tears down its CT VMs.
using deployment_operator_actor = caf::typed_actor<
  // artefact manager: a final CTA with this uuid was stored here; provision its CT VM if the CTA
  // names this node as a Computing Party (once: a CTA handed over again is not deployed twice).
  caf::reacts_to<deploy_atom, std::string>,
  // artefact manager: the stored record of this CTA changed (status from the root, or the CT VMs'
  // addresses): cancel the VM, or hand it its counterparts' addresses.
  caf::reacts_to<changed_atom, std::string>,
  // timer: reap ended VMs, read endpoints.json, poll each VM's admin endpoint, enforce waits.
  caf::reacts_to<tick_atom>>::extend_with<status_actor>;

/// A blocking HTTP client of one CT VM's admin endpoint (loopback), run detached so that the
/// deployment operator's thread never waits on a VM.
using vm_admin_actor = caf::typed_actor<
  // method, path and query, JSON body (may be empty); reply: HTTP status and body.
  caf::replies_to<admin_atom, std::string, std::string, std::string>::with<int, std::string>>;

/// The notifier of a node with people (actors/cplane/notifier.hpp): on every tick it queues the
/// e-mails the CTAs held here call for and sends what is due through the SMTP relay. Detached: it
/// waits on the relay, never on another actor.
using notifier_actor = caf::typed_actor<caf::reacts_to<tick_atom>>::extend_with<status_actor>;

/// The IO Service of a client node (actors/cplane/io_service.hpp): each upload or download runs in a
/// detached worker (it attests the CT VMs and moves shares over blocking sockets), at most
/// io_service_max_running at once; more are refused with invalid_state until one ends.
using io_service_actor = caf::typed_actor<
  // an upload: the request with its CSV; reply once every CT VM holds its shares.
  caf::replies_to<upload_atom, io_request>::with<io_receipt>,
  // a download: the request (no CSV); reply: the rebuilt output.
  caf::replies_to<download_atom, io_request>::with<io_receipt>,
  caf::reacts_to<done_atom, uint64_t, io_receipt, caf::error>>::extend_with<status_actor>;

/// The Artefact Manager: creates, validates, stores, propagates and shows CT artefacts. The HTTP
/// API reads the JSON a person sends into the Protobuf message a handler takes, and renders the
/// typed answers (cplane_data.hpp) as JSON; the artefact manager reads and writes no JSON.
using artefact_manager_actor = local_subscriber_actor::extend<
  // local (HTTP API): a Task Organiser's draft CTSC, and their user name; reply, once the root has
  // registered it: uuid, status, ctsc_sha256.
  caf::replies_to<create_atom, proto_bytes<v1::Ctsc>, std::string>::with<cta_receipt>,
  // local (HTTP API): uuid, this peer's CTSA (signatories, data custodians, data analysts only) and
  // the Task Organiser's user name; signed by the node and sent to the root. Reply, once the root
  // accepted it: uuid, peer, ctsa_sha256, updates, status. Refused with unconfirmed_member, nothing
  // stored or sent, while another member of the CTA is unconfirmed here (SYS-2.1).
  caf::replies_to<submit_atom, std::string, proto_bytes<v1::Ctsa>, std::string>::with<cta_receipt>,
  // local (HTTP API): uuid, a signature with its signatory index and document only, and the
  // Signatory's user name: a Signatory of this peer signs the peer's current CTSA. Reply, once the
  // root accepted it: as for a CTSA.
  caf::replies_to<countersign_atom, std::string, proto_bytes<v1::SignatorySignature>,
                  std::string>::with<cta_receipt>,
  // local (HTTP API), at the root: uuid, peer, approve, reason, the approver's user name. Reply:
  // uuid, peer, decision, status; approving the last CTSA makes the CTA final.
  caf::replies_to<decide_atom, std::string, std::string, bool, std::string, std::string>::with<cta_receipt>,
  // local (HTTP API): uuid, reason, user name: a peer's Task Organiser (sent to the root; reply as
  // the root accepted it) or the SO (at the root; reply: uuid, status, reason) cancels the CTA.
  caf::replies_to<cancel_atom, std::string, std::string, std::string>::with<cta_receipt>,
  // local (HTTP API): uuid, a person's PAK (name, pak, keys, custodian only: input keys for a data
  // custodian, output keys for an analyst) and the user's name: registers it for this CTA at this
  // peer's node. Reply: the PAK as stored.
  caf::replies_to<pak_atom, std::string, proto_bytes<v1::PakRecord>, std::string>::with<proto_bytes<v1::PakRecord>>,
  // local (HTTP API): uuid, member FQDN, reason, the IT administrator's user name: this node may
  // commit to the CTA although the member's fingerprint was not confirmed out of band here
  // (SYS-2.1); stored and audited. Reply: the override as stored.
  caf::replies_to<override_atom, std::string, std::string, std::string,
                  std::string>::with<proto_bytes<v1::TrustOverride>>,
  // timer, at the root: cancel CTAs that name a revoked node; erase those past their retention.
  caf::reacts_to<tick_atom>,
  // local (HTTP API): "" lists the CTAs this node holds; a uuid shows one, with every other
  // member's fingerprint and trust here (confirmed, unconfirmed, override).
  caf::replies_to<query_atom, std::string>::with<cta_view>,
  // timer: a draft the root did not answer in time.
  caf::reacts_to<expire_atom, std::string>,
  // wiring at start-up, at a Computing Party: whom to tell about final, changed and cancelled CTAs.
  caf::reacts_to<connect_atom, deployment_operator_actor>>::extend_with<status_actor>;

} // namespace joconde
