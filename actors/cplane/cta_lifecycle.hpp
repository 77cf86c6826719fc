#pragma once

// Decisions and the lifecycle of a CTA, a workflow of the artefact manager (artefact_manager.hpp;
// spec §4.4.1.1, cta_state.hpp): the System Operator approves or rejects each CTSA at the root, and
// approving the last makes the CTA final (signed by the root, sent to every peer and CP); a peer's
// Task Organiser or the SO cancels it; the root cancels CTAs that name a revoked node or missed the
// approval deadline and erases those past their retention; every holder keeps what the root says.

#include "artefact_manager_state.hpp"

#include <caf/result.hpp>

#include <string>

namespace joconde {

/// At the root (HTTP API): the System Operator's decision on `peer_name`'s CTSA of CTA `uuid`.
caf::result<cta_receipt> decide(artefact_manager_pointer self, const std::string& uuid,
                                const std::string& peer_name, bool approve, const std::string& reason,
                                const std::string& user);

/// At the root or a peer (HTTP API): the SO cancels the CTA, or a peer's Task Organiser asks the
/// root to.
caf::result<cta_receipt> cancel(artefact_manager_pointer self, const std::string& uuid,
                                const std::string& reason, const std::string& user);

/// At a peer or CP: the final CTA from the root (cta.final).
void on_final(artefact_manager_pointer self, const std::string& origin, const std::string& payload);

/// At a peer (topic cta.decision): the System Operator approved or rejected this peer's CTSA; its own
/// addendum takes the decision and a rejection's reason.
void on_decision(artefact_manager_pointer self, const std::string& origin, const std::string& payload);

/// At the root: a peer's Task Organiser cancels (cta.cancel).
void on_cancel(artefact_manager_pointer self, const std::string& origin, const std::string& payload);

/// At a holder: the root's status update (cta.status: cancelled, finished, erased).
void on_status(artefact_manager_pointer self, const std::string& origin, const std::string& payload);

/// At start: erases what is left of CTAs erased before (an erasure cut short by a stop or a failed
/// commit, cta_erasure.hpp); logged and audited when there was something.
void sweep_erased(artefact_manager_pointer self);

/// At the root, every 10 s: CTAs that name a revoked node or missed their approval deadline are
/// cancelled; CTAs past their data retention (after the output deadline, or after their
/// cancellation) are erased everywhere.
void housekeeping(artefact_manager_pointer self);

} // namespace joconde
