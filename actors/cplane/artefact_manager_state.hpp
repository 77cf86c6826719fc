#pragma once

// The artefact manager's state (artefact_manager.hpp): what every one of its workflow files
// (ctsc_registration, ctsa_intake, cta_lifecycle, vm_reports, cta_view) works on, through the
// pointer type below. Include from the artefact manager's sources only: this header pulls in CAF.

#include "joconde/messages/cplane.hpp"

#include "../mplane/node_signer.hpp"
#include "../mplane/node_store.hpp"
#include "../mplane/trust_view.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <chrono>
#include <cstdint>
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
  /// Requests sent to the root (drafts, CTSAs, signatures, cancellations), by request id: whom to
  /// answer.
  std::map<std::string, caf::typed_response_promise<cta_receipt>> pending;
  /// At a peer: signatures of its CTSA sent to the root and not answered yet, by request id; kept
  /// in its own addendum once the root accepted them (so the peer's view shows who signed); each a
  /// serialized SignatorySignature.
  std::map<std::string, std::string> sent_signatures;
  uint64_t registered = 0;
  uint64_t refused = 0;

  /// True at the root.
  bool at_root() const { return self == root; }
};

using artefact_manager_pointer = artefact_manager_actor::stateful_pointer<artefact_manager_state>;

/// How long the HTTP caller of `create` (or of another request the root answers) waits for the root.
constexpr auto registration_timeout = std::chrono::seconds{30};

} // namespace joconde
