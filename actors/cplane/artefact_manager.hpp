#pragma once

// The Artefact Manager (DESIGN.md §4; spec §4.3.2.1: controller, processor, admission enforcer and
// repository): creates, validates, stores, propagates and shows CT artefacts.
//
// Today: CTSC registration (issue 3, first step). A Task Organiser's draft is checked at its node and
// sent to the root (topic cta.ctsc.register); the root checks it again, fills in the certificate
// chains of the peers and CPs it enrolled, requires each of them to be confirmed out of band and not
// revoked, assigns the UUID, stores it and sends it to the named peers only (cta.ctsc), or refuses it
// to the origin (cta.refused). Every peer verifies the chains against the root before it stores.
// Computing Parties receive nothing until the CTA is final.

#include "joconde/messages/cplane.hpp"

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
  node_store store;
  service_broker_actor broker;
  audit_log_actor audit;
  metrics::registry* metrics = nullptr;
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
                 node_store store, service_broker_actor broker, audit_log_actor audit,
                 metrics::registry* metrics);

} // namespace joconde
