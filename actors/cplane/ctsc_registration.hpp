#pragma once

// CTSC registration, a workflow of the artefact manager (artefact_manager.hpp; spec §4.4.1.2): a
// Task Organiser's draft is checked at its node and sent to the root (cta.ctsc.register); the root
// checks it again, fills in the chains of the peers and CPs it enrolled, assigns the UUID, stores
// it and sends it to the named peers (cta.ctsc), or refuses it to the origin (cta.refused).

#include "artefact_manager_state.hpp"

#include <caf/result.hpp>

#include <string>

namespace joconde {

/// At a peer (HTTP API): a Task Organiser's draft CTSC; answered once the root registered or
/// refused it.
caf::result<cta_receipt> create_draft(artefact_manager_pointer self, const proto_bytes<v1::Ctsc>& draft,
                                      const std::string& user);

/// At the root: a draft from `origin` (cta.ctsc.register).
void on_register(artefact_manager_pointer self, const std::string& origin, const std::string& payload);

/// At a peer: a CTSC the root registered (cta.ctsc).
void on_registered(artefact_manager_pointer self, const std::string& origin, const std::string& payload);

/// At the origin: the root refused a request of this node (cta.refused).
void on_refused(artefact_manager_pointer self, const std::string& origin, const std::string& payload);

} // namespace joconde
