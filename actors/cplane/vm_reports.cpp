#include "vm_reports.hpp"

#include "artefact_ports.hpp"
#include "ct_reports.hpp"
#include "cta_progress.hpp"
#include "cta_records.hpp"

#include "joconde/messages/proto.hpp"
#include "joconde/runtime/clock.hpp"
#include "joconde/runtime/log.hpp"

#include <optional>

namespace joconde {

namespace {

const char* const component = artefact_manager_state::name;

result<void> check_report(const v1::VmEndpoint& vm, const v1::CtaRecord& record,
                          const std::string& reporter) {
  return check_vm_endpoint(vm, record, reporter);
}

result<void> check_report(const v1::TelemetryEvent& ev, const v1::CtaRecord& record,
                          const std::string& reporter) {
  return check_telemetry(ev, record, reporter);
}

/// A CT report and the record of the CTA it is for.
template <class Report>
struct received_report {
  Report report;
  v1::CtaRecord record;
  std::string uuid; ///< as logged: at most 64 characters
};

/// Reads a report (v1::VmEndpoint or v1::TelemetryEvent) on `topic` from `origin`: at the root from
/// a CP (not `forwarded`), at a holder from the root (`forwarded`, `wrong_sender` otherwise), for a
/// CTA held here and checked against it for the CP that reports it. A refusal is reported
/// (refuse_report) and gives none.
template <class Report>
std::optional<received_report<Report>> receive(artefact_manager_pointer self, const std::string& topic,
                                               const std::string& origin, const std::string& payload,
                                               bool forwarded, const char* wrong_sender) {
  auto& st = self->state;
  auto report = proto::parse<Report>(payload, max_ct_report_bytes);
  auto uuid = report ? report->uuid().substr(0, 64) : std::string{};
  auto refuse = [&](const error& e) {
    refuse_report(self, topic, origin, uuid, e);
    return std::nullopt;
  };
  if (!report)
    return refuse(report.err());
  if (forwarded ? origin != st.root : !st.at_root())
    return refuse(fail(errc::forbidden, wrong_sender));
  auto rec = load_held(st.store, report->uuid());
  if (!rec)
    return refuse(rec.err());
  if (auto r = check_report(*report, *rec, forwarded ? report->cp() : origin); !r)
    return refuse(r.err());
  return received_report<Report>{std::move(*report), std::move(*rec), std::move(uuid)};
}

/// True when the CT VM of `origin` ended (an "erased" event `ev`) in a way that leaves the
/// instantiated CT of `rec` unable to go on: the CTA is then cancelled.
bool ends_the_ct(const v1::CtaRecord& rec, const v1::TelemetryEvent& ev) {
  if (rec.status() != v1::CTA_STATUS_INSTANTIATED || ev.kind() != "erased")
    return false;
  // Before the Output phase a CT cannot go on without one of its VMs: never left half-alive
  // (DESIGN.md §4), so every other CP is told to tear its VM down too. From the Output phase on
  // the computation is done: the other VMs end the phase themselves when they lose the
  // counterpart (finished, what was not retrieved erased, as at the output deadline); the CT is
  // cancelled only if every VM ended and none with the task done.
  bool lost = ev.subject() == "cancelled" || ev.subject() == "vm-exited";
  return (lost && !ct_in_output(rec)) || every_vm_ended(rec);
}

} // namespace

// At the root: kept (one entry per CP) and forwarded to every holder of the CTA (cta.vms), also
// when handed over again, so that a forward lost in a crash is made good; the holders keep it once.
void on_vm(artefact_manager_pointer self, const std::string& origin, const std::string& payload) {
  auto in = receive<v1::VmEndpoint>(self, "cta.vm", origin, payload, false,
                                    "only the root collects the CT VMs' addresses");
  if (!in)
    return;
  const auto& vm = in->report;
  const auto& uuid = in->uuid;
  auto& rec = in->record;
  if (keep_vm_endpoint(rec, vm)) {
    if (auto r = save_cta_record(self->state.store, rec); !r)
      return refuse_report(self, "cta.vm", origin, uuid, r.err());
    log::info(component, "CT VM of " + origin + " for CTA " + uuid + " listens",
              {{"client", vm.client_address()}, {"peer", vm.peer_address()}, {"mpc", vm.mpc_address()},
               {"platform", vm.platform()}});
    audit(self, "cta.vm", {"uuid", uuid, "cp", origin, "cp_index", std::to_string(vm.cp_index()),
                           "client", vm.client_address(), "peer", vm.peer_address(), "mpc",
                           vm.mpc_address(), "platform", vm.platform()});
  }
  publish(self, "cta.vms", holders(rec), uuid, payload);
}

// At the root: kept (the last max_telemetry_events) and forwarded to every holder (cta.events).
// When every CP reported that its VM ended because the CT finished, the CTA is finished and every
// holder is told.
void on_telemetry(artefact_manager_pointer self, const std::string& origin, const std::string& payload) {
  auto in = receive<v1::TelemetryEvent>(self, "cta.telemetry", origin, payload, false,
                                        "only the root collects the CT VMs' events");
  if (!in)
    return;
  auto& [ev, rec, uuid] = *in;
  bool finished = false;
  if (keep_telemetry(rec, ev)) {
    if (rec.status() == v1::CTA_STATUS_INSTANTIATED && every_vm_finished(rec)) {
      auto state = state_of(rec);
      finished = state.finish(now_ms()).ok();
      if (finished)
        put_state(state, rec);
    }
    if (auto r = save_cta_record(self->state.store, rec); !r)
      return refuse_report(self, "cta.telemetry", origin, uuid, r.err());
    if (ev.kind() == "erased" || ev.kind() == "vm")
      audit(self, "cta.vm.event", {"uuid", uuid, "cp", origin, "kind", ev.kind(), "subject",
                                   ev.subject(), "value", ev.value()});
  }
  publish(self, "cta.events", holders(rec), uuid, payload);
  if (finished) {
    log::notice(component, "CTA " + uuid + " is finished: every CT VM ended with the task done");
    audit(self, "cta.finished", {"uuid", uuid});
    publish_status(self, rec);
  } else if (ends_the_ct(rec, ev)) {
    // A VM that cancelled the CT said why (the engine's message, the failing check, a lost CP) in
    // its "phase cancelled" event; the erasure report says only how it ended. A VM that died
    // (vm-exited) is itself the cause, whatever its counterparts then said.
    auto cause = ev.subject() == "cancelled" ? cancel_cause(rec) : std::string{};
    auto why = cause.empty() ? "the CT VM of " + origin + " ended (" + ev.subject() + ": " + ev.value() + ")"
                             : "the CT was cancelled at " + cause;
    if (auto r = cancel_at_root(self, uuid, why, origin); !r)
      log::warning(component, "cannot cancel CTA " + uuid + " after its VM at " + origin
                                + " ended: " + r.err().describe());
  }
}

// At a holder: the Deployment Operator learns the addresses.
void on_vms(artefact_manager_pointer self, const std::string& origin, const std::string& payload) {
  auto in = receive<v1::VmEndpoint>(self, "cta.vms", origin, payload, true,
                                    "CT VM addresses come from the root only");
  if (!in || !keep_vm_endpoint(in->record, in->report))
    return;
  auto& [vm, rec, uuid] = *in;
  auto& st = self->state;
  if (auto r = save_cta_record(st.store, rec); !r)
    return refuse_report(self, "cta.vms", origin, uuid, r.err());
  log::info(component, "CT VM of " + vm.cp() + " for CTA " + uuid + " listens",
            {{"client", vm.client_address()}, {"peer", vm.peer_address()}});
  if (st.deployer)
    self->send(st.deployer, changed_atom::value, vm.uuid());
}

// At a holder: the root's account of the agreement (cta.agreement, SYS-5.3), kept with the CT VMs'
// events.
void on_agreement(artefact_manager_pointer self, const std::string& origin, const std::string& payload) {
  auto& st = self->state;
  auto ev = proto::parse<v1::TelemetryEvent>(payload, max_ct_report_bytes);
  auto uuid = ev ? ev->uuid().substr(0, 64) : std::string{};
  if (!ev)
    return refuse_report(self, "cta.agreement", origin, uuid, ev.err());
  if (origin != st.root)
    return refuse_report(self, "cta.agreement", origin, uuid,
                         fail(errc::forbidden, "agreement events come from the root only"));
  auto rec = load_held(st.store, ev->uuid());
  if (!rec)
    return refuse_report(self, "cta.agreement", origin, uuid, rec.err());
  if (auto r = check_agreement_event(*ev, *rec, st.root); !r)
    return refuse_report(self, "cta.agreement", origin, uuid, r.err());
  if (keep_telemetry(*rec, *ev))
    if (auto r = save_cta_record(st.store, *rec); !r)
      refuse_report(self, "cta.agreement", origin, uuid, r.err());
}

void on_events(artefact_manager_pointer self, const std::string& origin, const std::string& payload) {
  auto in = receive<v1::TelemetryEvent>(self, "cta.events", origin, payload, true,
                                        "CT VM events come from the root only");
  if (!in || !keep_telemetry(in->record, in->report))
    return;
  if (auto r = save_cta_record(self->state.store, in->record); !r)
    refuse_report(self, "cta.events", origin, in->uuid, r.err());
}

} // namespace joconde
