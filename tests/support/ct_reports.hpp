#pragma once

// What a Computing Party reports about its CT VM, as tests build it: the VM's endpoints (cta.vm)
// and one telemetry event (cta.telemetry).

#include "joconde/vm.pb.h"

#include <cstdint>
#include <string>

namespace joconde::test {

/// CP `cp` (index `index`) reports its CT VM of CT `uuid` at 127.0.0.1:4100 (clients) and :4101
/// (counterparts), its MPC endpoint at `mpc_address`.
inline v1::VmEndpoint vm_endpoint(const std::string& uuid, const std::string& cp, std::uint32_t index,
                                  const std::string& mpc_address, std::int64_t at_ms) {
  v1::VmEndpoint ep;
  ep.set_uuid(uuid);
  ep.set_cp(cp);
  ep.set_cp_index(index);
  ep.set_client_address("127.0.0.1:4100");
  ep.set_peer_address("127.0.0.1:4101");
  ep.set_mpc_address(mpc_address);
  ep.set_platform("joconde-simulated");
  ep.set_reported_at_ms(at_ms);
  return ep;
}

/// CP `cp` reports an event of CT `uuid`.
inline v1::TelemetryEvent telemetry_event(const std::string& uuid, const std::string& cp, std::string kind,
                                          std::string subject, std::string value, std::int64_t at_ms) {
  v1::TelemetryEvent ev;
  ev.set_uuid(uuid);
  ev.set_cp(cp);
  ev.set_at_ms(at_ms);
  ev.set_kind(std::move(kind));
  ev.set_subject(std::move(subject));
  ev.set_value(std::move(value));
  return ev;
}

} // namespace joconde::test
