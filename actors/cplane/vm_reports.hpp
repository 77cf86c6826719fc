#pragma once

// VM reports and telemetry, a workflow of the artefact manager (artefact_manager.hpp; DESIGN.md §6
// workflows 3 and 7): once a CTA is final, its Computing Parties report their CT VMs' addresses
// (cta.vm) and events (cta.telemetry) to the root, which checks them (ct_reports.hpp), keeps them in
// the record and forwards them to every holder (cta.vms, cta.events). When every CT VM ended with
// the task done, the root marks the CTA finished; when one ended otherwise while the CTA is
// instantiated, the root cancels it, so that the other CPs tear their VMs down too.

#include "artefact_manager_state.hpp"

#include <string>

namespace joconde {

/// At the root: a CP's CT VM addresses (cta.vm).
void on_vm(artefact_manager_pointer self, const std::string& origin, const std::string& payload);

/// At the root: an event of a CP's CT VM (cta.telemetry).
void on_telemetry(artefact_manager_pointer self, const std::string& origin, const std::string& payload);

/// At a holder: a CT VM's addresses the root forwards (cta.vms).
void on_vms(artefact_manager_pointer self, const std::string& origin, const std::string& payload);

/// At a holder: a CT VM's event the root forwards (cta.events).
void on_events(artefact_manager_pointer self, const std::string& origin, const std::string& payload);

/// At a holder: an agreement event the root shares (cta.agreement, SYS-5.3), kept with the events.
void on_agreement(artefact_manager_pointer self, const std::string& origin, const std::string& payload);

} // namespace joconde
