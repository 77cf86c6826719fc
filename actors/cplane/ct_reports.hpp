#pragma once

// What the Computing Parties report about a running CT, and how a CTA record keeps it (DESIGN.md §6
// workflows 3 and 7): each CP's CT VM addresses (v1::VmEndpoint, topic cta.vm) and the CT VMs' events
// (v1::TelemetryEvent, topic cta.telemetry) go from the CP to the root, which checks them, keeps them
// in its CtaRecord and forwards them to every holder of the CTA (cta.vms, cta.events); the holders
// keep them the same way. Plain functions, so that the rules are testable without actors.

#include "joconde/agreement.pb.h"
#include "joconde/messages/result.hpp"
#include "joconde/vm.pb.h"


#include <cstddef>
#include <string>
#include <string_view>

namespace joconde {

/// The most telemetry events a record keeps (the oldest go first).
inline constexpr std::size_t max_telemetry_events = 1000;

/// The largest cta.vm / cta.telemetry payload read.
inline constexpr std::size_t max_ct_report_bytes = 16 * 1024;

/// True for "host:port" where host is an IPv4 address other than 0.0.0.0, or a DNS name (letters,
/// digits, '-', dots; at most 253 characters), and port is 1..65535.
bool valid_vm_address(std::string_view address);

/// The checks on a VM endpoint that `reporter` (the CP that sent it to the root, or the CP the root
/// forwards it for) reports for `record`: the CTA is final and not erased, the endpoint names this
/// CTA, `reporter` is the CP at `cp_index` of the CTSC, every address is valid (valid_vm_address) and
/// the platform is named. forbidden, not_found, invalid_state or malformed_input saying which.
result<void> check_vm_endpoint(const v1::VmEndpoint& vm, const v1::CtaRecord& record,
                               std::string_view reporter);

/// The checks on an agreement event the root shares with the peers of `record` (SYS-5.3: a CTSA
/// submitted, signed, approved or rejected, the CTA final): the event names the CTA, which is not
/// erased, comes from the root `root` (its `cp`), is of kind "agreement" about one of the CTSC's
/// peers (its subject), and its value (512 bytes) is free of control characters.
result<void> check_agreement_event(const v1::TelemetryEvent& ev, const v1::CtaRecord& record,
                                   std::string_view root);

/// The checks on a telemetry event of `record` reported by `reporter`: the CTA is final and not
/// erased, the event names it, `reporter` is one of its CPs, the kind is phase, slot, quality, erased
/// or vm, and subject (128) and value (512 bytes) are bounded and free of control characters.
result<void> check_telemetry(const v1::TelemetryEvent& ev, const v1::CtaRecord& record,
                             std::string_view reporter);

/// Keeps `vm` in `record`, replacing the entry of the same CP; false when the same was kept already.
bool keep_vm_endpoint(v1::CtaRecord& record, const v1::VmEndpoint& vm);

/// Appends `ev` to `record`'s telemetry, dropping the oldest beyond max_telemetry_events; false when
/// an identical event is kept already (a report handed over twice).
bool keep_telemetry(v1::CtaRecord& record, const v1::TelemetryEvent& ev);

/// True when a CT VM of `record` reported the task done (a "phase" event "finished": every output
/// released to every peer named on it, or the output deadline passed). Both are facts of the whole
/// CT (a download takes every VM's share; the deadline is the same at every VM): the VMs only
/// linger and erase from then on.
bool ct_task_done(const v1::CtaRecord& record);

/// True when a CT VM of `record` reported the Output phase (or the task done): the computation is
/// over, and a VM lost from then on ends the Output phase at the others (finished, what was not
/// retrieved erased) instead of cancelling the CT.
bool ct_in_output(const v1::CtaRecord& record);

/// True when every CP of `record` reported that its CT VM ended, whatever the cause (an "erased"
/// event with subject "finished", "cancelled" or "vm-exited").
bool every_vm_ended(const v1::CtaRecord& record);

/// True when every CP of `record` reported that its CT VM ended because the CT finished (an "erased"
/// event with subject "finished", or "vm-exited" once the task was done): the CT is finished.
bool every_vm_finished(const v1::CtaRecord& record);

/// True when the VM addresses of every CP of `record` are known.
bool every_vm_known(const v1::CtaRecord& record);

} // namespace joconde
