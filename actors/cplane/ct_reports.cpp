#include "ct_reports.hpp"

#include "cta_state.hpp"

#include "joconde/io/net.hpp"

#include <algorithm>

namespace joconde {

namespace {

/// The CP index of `fqdn` in the record's CTSC, or -1.
int index_of(const v1::CtaRecord& record, std::string_view fqdn) {
  const auto& cps = record.ctsc().computing_parties();
  for (int i = 0; i < cps.size(); ++i)
    if (cps[i].fqdn() == fqdn)
      return i;
  return -1;
}

/// The CTA is final here and still holds its artefacts.
result<void> require_final(const v1::CtaRecord& record, std::string_view what) {
  if (!record.has_final())
    return fail(errc::invalid_state, std::string{what} + " for CTA " + record.ctsc().uuid()
                                       + ", which is not final");
  if (record.status() == v1::CTA_STATUS_ERASED)
    return fail(errc::invalid_state, std::string{what} + " for CTA " + record.ctsc().uuid()
                                       + ", which is erased");
  return ok();
}

bool printable(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}


} // namespace

bool valid_vm_address(std::string_view address) {
  auto a = net::parse_host_port(address);
  return a.ok() && !net::is_wildcard(a->host);
}

result<void> check_vm_endpoint(const v1::VmEndpoint& vm, const v1::CtaRecord& record,
                               std::string_view reporter) {
  if (vm.uuid() != record.ctsc().uuid())
    return fail(errc::malformed_input, "the VM endpoint names CTA " + vm.uuid().substr(0, 64)
                                         + ", not " + record.ctsc().uuid());
  if (auto r = require_final(record, "a VM endpoint"); !r)
    return r;
  if (record.status() != v1::CTA_STATUS_INSTANTIATED)
    return fail(errc::invalid_state, "CTA " + record.ctsc().uuid() + " is " + std::string{to_string(record.status())}
                                       + ": its CT VMs no longer report addresses");
  if (vm.cp() != reporter)
    return fail(errc::forbidden, std::string{reporter} + " may report its own CT VM only, not "
                                   + vm.cp().substr(0, 253) + "'s");
  auto index = index_of(record, reporter);
  if (index < 0)
    return fail(errc::forbidden, std::string{reporter} + " is not a Computing Party of CTA "
                                   + record.ctsc().uuid());
  if (vm.cp_index() != static_cast<uint32_t>(index))
    return fail(errc::malformed_input, std::string{reporter} + " is Computing Party "
                                         + std::to_string(index) + " of CTA " + record.ctsc().uuid()
                                         + ", not " + std::to_string(vm.cp_index()));
  for (const auto* a : {&vm.client_address(), &vm.peer_address(), &vm.mpc_address()})
    if (!valid_vm_address(*a))
      return fail(errc::malformed_input, "'" + a->substr(0, 64) + "' is not host:port (an IPv4 "
                                           "address or a DNS name, a port 1-65535)");
  if (vm.platform().empty() || vm.platform().size() > 64 || !printable(vm.platform()))
    return fail(errc::malformed_input, "a VM endpoint names its TEE platform (at most 64 characters)");
  if (vm.reported_at_ms() <= 0)
    return fail(errc::malformed_input, "a VM endpoint says when it was reported");
  return ok();
}

result<void> check_telemetry(const v1::TelemetryEvent& ev, const v1::CtaRecord& record,
                             std::string_view reporter) {
  if (ev.uuid() != record.ctsc().uuid())
    return fail(errc::malformed_input, "the event names CTA " + ev.uuid().substr(0, 64) + ", not "
                                         + record.ctsc().uuid());
  if (auto r = require_final(record, "a CT VM event"); !r)
    return r;
  if (ev.cp() != reporter)
    return fail(errc::forbidden, std::string{reporter} + " may report its own CT VM's events only");
  if (index_of(record, reporter) < 0)
    return fail(errc::forbidden, std::string{reporter} + " is not a Computing Party of CTA "
                                   + record.ctsc().uuid());
  static constexpr std::string_view kinds[] = {"phase", "slot", "quality", "erased", "vm"};
  if (std::find(std::begin(kinds), std::end(kinds), ev.kind()) == std::end(kinds))
    return fail(errc::malformed_input, "unknown CT VM event kind '" + ev.kind().substr(0, 32)
                                         + "' (phase, slot, quality, erased or vm)");
  if (ev.subject().size() > 128 || ev.value().size() > 512 || !printable(ev.subject())
      || !printable(ev.value()))
    return fail(errc::malformed_input, "an event's subject (128 bytes) or value (512 bytes) is too "
                                       "long or holds control characters");
  if (ev.at_ms() <= 0)
    return fail(errc::malformed_input, "an event says when it happened");
  return ok();
}

result<void> check_agreement_event(const v1::TelemetryEvent& ev, const v1::CtaRecord& record,
                                   std::string_view root) {
  if (ev.uuid() != record.ctsc().uuid())
    return fail(errc::malformed_input, "the event names CTA " + ev.uuid().substr(0, 64) + ", not "
                                         + record.ctsc().uuid());
  if (record.status() == v1::CTA_STATUS_ERASED)
    return fail(errc::invalid_state, "CTA " + record.ctsc().uuid() + " is erased");
  if (ev.cp() != root || ev.kind() != "agreement")
    return fail(errc::forbidden, "an agreement event is the root's, of kind agreement");
  const auto& peers = record.ctsc().peers();
  if (std::none_of(peers.begin(), peers.end(), [&](const auto& p) { return p.fqdn() == ev.subject(); }))
    return fail(errc::malformed_input, "an agreement event is about a peer of CTA " + record.ctsc().uuid());
  if (ev.value().empty() || ev.value().size() > 512 || !printable(ev.value()))
    return fail(errc::malformed_input, "an agreement event's value (512 bytes) is empty, too long or "
                                       "holds control characters");
  if (ev.at_ms() <= 0)
    return fail(errc::malformed_input, "an event says when it happened");
  return ok();
}

bool keep_vm_endpoint(v1::CtaRecord& record, const v1::VmEndpoint& vm) {
  for (auto& known : *record.mutable_vms())
    if (known.cp() == vm.cp()) {
      if (known.SerializeAsString() == vm.SerializeAsString())
        return false;
      known = vm;
      return true;
    }
  *record.add_vms() = vm;
  return true;
}

bool keep_telemetry(v1::CtaRecord& record, const v1::TelemetryEvent& ev) {
  for (const auto& known : record.telemetry())
    if (known.at_ms() == ev.at_ms() && known.cp() == ev.cp() && known.kind() == ev.kind()
        && known.subject() == ev.subject() && known.value() == ev.value())
      return false;
  auto* events = record.mutable_telemetry();
  *events->Add() = ev;
  if (static_cast<std::size_t>(events->size()) > max_telemetry_events)
    events->DeleteSubrange(0, events->size() - static_cast<int>(max_telemetry_events));
  return true;
}

namespace {

bool some_vm_reported_phase(const v1::CtaRecord& record, std::string_view phase) {
  return std::any_of(record.telemetry().begin(), record.telemetry().end(), [&](const auto& ev) {
    return index_of(record, ev.cp()) >= 0 && ev.kind() == "phase" && ev.subject() == phase;
  });
}

} // namespace

bool ct_task_done(const v1::CtaRecord& record) { return some_vm_reported_phase(record, "finished"); }

bool ct_in_output(const v1::CtaRecord& record) {
  return some_vm_reported_phase(record, "output") || ct_task_done(record);
}

bool every_vm_ended(const v1::CtaRecord& record) {
  const auto& cps = record.ctsc().computing_parties();
  return !cps.empty() && std::all_of(cps.begin(), cps.end(), [&](const auto& cp) {
    return std::any_of(record.telemetry().begin(), record.telemetry().end(), [&](const auto& ev) {
      return ev.cp() == cp.fqdn() && ev.kind() == "erased"
             && (ev.subject() == "finished" || ev.subject() == "cancelled" || ev.subject() == "vm-exited");
    });
  });
}

bool every_vm_finished(const v1::CtaRecord& record) {
  const auto& cps = record.ctsc().computing_parties();
  if (cps.empty())
    return false;
  // A VM that died once the task was done (killed in the seconds it lingers so that its events
  // reach its node, or with its node, maybe before its node heard that it was done) ended with the
  // task done as well.
  const bool done = ct_task_done(record);
  for (const auto& cp : cps) {
    bool finished = false;
    for (const auto& ev : record.telemetry())
      finished = finished
                 || (ev.cp() == cp.fqdn() && ev.kind() == "erased"
                     && (ev.subject() == "finished" || (done && ev.subject() == "vm-exited")));
    if (!finished)
      return false;
  }
  return true;
}

bool every_vm_known(const v1::CtaRecord& record) {
  const auto& cps = record.ctsc().computing_parties();
  if (cps.empty())
    return false;
  for (int i = 0; i < cps.size(); ++i) {
    bool known = false;
    for (const auto& vm : record.vms())
      known = known || (vm.cp() == cps[i].fqdn() && vm.cp_index() == static_cast<uint32_t>(i));
    if (!known)
      return false;
  }
  return true;
}

} // namespace joconde
