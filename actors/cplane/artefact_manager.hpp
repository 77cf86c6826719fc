#pragma once

// The Artefact Manager (DESIGN.md §4; spec §4.3.2.1: controller, processor, admission enforcer and
// repository): creates, validates, stores, propagates and shows CT artefacts.
//
// Today: CTSC registration and CTSA submission (issue 3, first steps). A Task Organiser's draft is checked at its node and
// sent to the root (topic cta.ctsc.register); the root checks it again, fills in the certificate
// chains of the peers and CPs it enrolled, requires each of them to be confirmed out of band and not
// revoked, assigns the UUID, stores it and sends it to the named peers only (cta.ctsc), or refuses it
// to the origin (cta.refused). Every peer verifies the chains against the root before it stores.
// Computing Parties receive nothing until the CTA is final.
//
// A peer's Task Organiser submits the peer's CTSA (signatories, data custodians and analysts with
// their PAKs and keys): only while every other member of the CTA is confirmed out of band at this
// node or overridden by its IT administrator (member_trust.hpp, SYS-2.1); checked against the CTSC,
// signed by the peer's node (NodeSignature over its canonical hash) and sent to the root (cta.ctsa). The root checks the sender is that peer, the
// CTSA pins the hash of the CTSC it holds, the node signature verifies with the peer's certificate in
// the CTSC, the CTSA is valid and newer than the last one (cta_state), stores it and answers
// (cta.accepted) or refuses (cta.refused).
//
// Once a CTA is final, its Computing Parties report their CT VMs' addresses (cta.vm) and events
// (cta.telemetry) to the root, which checks them (ct_reports.hpp), keeps them in the record and
// forwards them to every holder (cta.vms, cta.events); when every CT VM ended with the task done, the
// root marks the CTA finished, and when one ended otherwise (cancelled, vm-exited) while the CTA is
// instantiated, the root cancels the CTA, so that the other CPs tear their VMs down too. At a CP, the Deployment Operator is told of every final CTA stored,
// every status change and every change of the VMs' addresses.

#include "joconde/messages/cplane.hpp"

#include "../mplane/node_signer.hpp"
#include "../mplane/node_store.hpp"
#include "../mplane/trust_view.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <map>
#include <memory>
#include <string>

namespace joconde::metrics {
class registry;
}

namespace joconde {

/// State of the artefact manager.
struct artefact_manager_state {
  static inline const char* name = "artefact_manager";
  std::string self;                  ///< this node's FQDN
  std::string root;                  ///< the root's FQDN
  std::shared_ptr<trust_view> trust;
  std::shared_ptr<const node_signer> signer;
  node_store store;
  service_broker_actor broker;
  audit_log_actor audit;
  metrics::registry* metrics = nullptr;
  /// At a Computing Party: the Deployment Operator, told of final and changed CTAs (may be unset).
  deployment_operator_actor deployer;
  /// Drafts sent to the root, by request id: whom to answer.
  std::map<std::string, caf::typed_response_promise<std::string>> pending;
  uint64_t registered = 0;
  uint64_t refused = 0;
};

using artefact_manager_pointer = artefact_manager_actor::stateful_pointer<artefact_manager_state>;

/// How long the HTTP caller of `create` waits for the root.
constexpr auto registration_timeout = std::chrono::seconds{30};

artefact_manager_actor::behavior_type
artefact_manager(artefact_manager_pointer self, std::string root, std::shared_ptr<trust_view> trust,
                 std::shared_ptr<const node_signer> signer, node_store store,
                 service_broker_actor broker, audit_log_actor audit, metrics::registry* metrics);

} // namespace joconde
