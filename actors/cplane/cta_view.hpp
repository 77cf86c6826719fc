#pragma once

// The CT view, a workflow of the artefact manager (artefact_manager.hpp): the CTAs this node holds,
// for GET /v1/ctas and GET /v1/ctas/{uuid}, each other member with how this node trusts it
// (SYS-2.1). The HTTP edge renders them (actors/node/cta_json.hpp).

#include "artefact_manager_state.hpp"

#include <caf/result.hpp>

#include <string>

namespace joconde {

/// Every CTA this node holds, as stored.
caf::result<cta_view> list_ctas(artefact_manager_pointer self);

/// One CTA this node holds, with every other member's fingerprint and trust here; not_found when
/// this node holds no such CTA.
caf::result<cta_view> show_cta(artefact_manager_pointer self, const std::string& uuid);

} // namespace joconde
