#pragma once

// The CT view, a workflow of the artefact manager (artefact_manager.hpp): the CTAs this node holds
// as the HTTP API shows them (GET /v1/ctas, GET /v1/ctas/{uuid}). Certificates are shown by
// fingerprint; each other member with how this node trusts it (SYS-2.1).

#include "artefact_manager_state.hpp"

#include <caf/result.hpp>

#include <string>

namespace joconde {

/// Every CTA this node holds, in summary: JSON {ctas: [{uuid, title, status, updates, ...}]}.
caf::result<std::string> list_ctas(artefact_manager_pointer self);

/// One CTA this node holds, in full: its summary, the CTSC, the members' fingerprints and trust, the
/// addenda, whether it is final, and the CT VMs' addresses and events.
caf::result<std::string> show_cta(artefact_manager_pointer self, const std::string& uuid);

} // namespace joconde
