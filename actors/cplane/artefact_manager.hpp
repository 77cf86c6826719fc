#pragma once

// The Artefact Manager (DESIGN.md §4; spec §4.3.2.1: controller, processor, admission enforcer and
// repository): creates, validates, stores, propagates and shows CT artefacts.
//
// CTSC registration (issue 3): a Task Organiser's draft is checked at its node and sent to the root
// (topic cta.ctsc.register); the root checks it again, fills in the certificate chains of the peers
// and CPs it enrolled, requires each of them to be confirmed out of band and not revoked, assigns
// the UUID, stores it and sends it to the named peers only (cta.ctsc), or refuses it to the origin
// (cta.refused). Every peer verifies the chains against the root before it stores. Computing
// Parties receive nothing until the CTA is final.
//
// A peer's Task Organiser submits the peer's CTSA (signatories, data custodians and analysts with
// their PAKs and keys): only while every other member of the CTA is confirmed out of band at this
// node or overridden by its IT administrator (member_trust.hpp, SYS-2.1); checked against the CTSC,
// signed by the peer's node (NodeSignature over its canonical hash) and sent to the root
// (cta.ctsa). The root checks the sender is that peer, the CTSA pins the hash of the CTSC it holds,
// the node signature verifies with the peer's certificate in the CTSC, the CTSA is valid and newer
// than the last one (cta_state), stores it and answers (cta.accepted) or refuses (cta.refused).
//
// Once a CTA is final, its Computing Parties report their CT VMs' addresses (cta.vm) and events
// (cta.telemetry) to the root, which checks them (ct_reports.hpp), keeps them in the record and
// forwards them to every holder (cta.vms, cta.events); when every CT VM ended with the task done, the
// root marks the CTA finished, and when one ended otherwise (cancelled, vm-exited) while the CTA is
// instantiated, the root cancels the CTA, so that the other CPs tear their VMs down too. At a CP,
// the Deployment Operator is told of every final CTA stored, every status change and every change
// of the VMs' addresses.
//
// The behaviour (artefact_manager.cpp) only dispatches; each workflow has its file pair:
// ctsc_registration (drafts and registered CTSCs), ctsa_intake (PAKs, overrides, CTSAs and
// signatures), cta_lifecycle (decisions, final CTA, cancellation, status, housekeeping and erasure),
// vm_reports (the CT VMs' addresses and events) and cta_view (what the API shows). They share the
// state (artefact_manager_state.hpp) and the ports (artefact_ports.hpp: publish, audit, answers to
// requests waiting for the root), and plain code: cta_records, artefact_signatures, cta_state,
// ctsc_rules, ct_reports, member_trust.

#include "artefact_manager_state.hpp"

#include <memory>
#include <string>

namespace joconde {

/// The artefact manager of this node (`trust->self()`) in the tree under `root`: keeps the CTAs in
/// `store`, publishes through `broker`, audits to `audit`, signs with `signer`.
artefact_manager_actor::behavior_type
artefact_manager(artefact_manager_pointer self, std::string root, std::shared_ptr<trust_view> trust,
                 std::shared_ptr<const node_signer> signer, node_store store,
                 service_broker_actor broker, audit_log_actor audit, metrics::registry* metrics);

} // namespace joconde
