#pragma once

// Where a CTA stands and what each organisation still has to do, read from the CTA record a node
// holds: the agreement's addenda, the CT VMs' telemetry and the deadlines of the CTSC. `cta show`
// leads with it (spec §4.4.1.1: each phase waits for named parties). A plain function, no CAF.

#include "joconde/agreement.pb.h"

#include <cstdint>
#include <string>
#include <vector>

namespace joconde {

/// One thing someone still has to do for a CTA.
struct cta_step {
  std::string who;    ///< the organisation (FQDN of its node), or "the System Operator" / "the Computing Parties"
  std::string what;   ///< what, with the command that does it
  /// The role that acts (user_role's name: task_organiser, signatory, approver, data_custodian,
  /// data_analyst), empty when nobody at `who` can act but wait.
  std::string role = {};
  /// What the step is, for programs (the portal's buttons, notifications): submit_ctsa, sign,
  /// approve, upload, download, or wait.
  std::string action = {};
  /// What it is about: the input or output key, or the peer whose CTSA waits for approval.
  std::string subject = {};
};

/// A CTA's phase and what it waits for.
struct cta_progress {
  /// agreement, starting, input, calculation, output, finished, cancelled or erased.
  std::string phase;
  /// The deadline of the phase (ms since the epoch), 0 when it has none.
  std::int64_t until_ms = 0;
  /// What is still to do, in the order of the CTSC's peers, inputs and outputs.
  std::vector<cta_step> to_do;
  /// Why the CT was cancelled, in the words of the component that stopped it (the engine's
  /// message, the failing data-quality check, a lost Computing Party); empty otherwise.
  std::string cause;
};

/// The progress of the CTA in `rec` as the node `self` holding it sees it: the root (`at_root`)
/// knows every peer's addendum, a peer's node only its own; the CT's phases come from the telemetry
/// every holder receives.
cta_progress progress_of(const v1::CtaRecord& rec, const std::string& self, bool at_root);

/// Why the CT VMs of `rec` stopped: "CP: reason" of the first "phase cancelled" event of its
/// telemetry that is not a relay ("cancelled by cp-N: ..."; the CP that cancelled first says what
/// failed), with every "cp-N" told as that CP's FQDN; empty when there is none.
std::string cancel_cause(const v1::CtaRecord& rec);

} // namespace joconde
