#pragma once

// The Prometheus metrics of one CT VM (DESIGN.md §11), served by its admin endpoint at /metrics.
// Built like the node's (metrics.hpp: the same family helpers; accessors return plain references to
// prometheus::Counter / prometheus::Gauge and are thread-safe). A VM run in-process by the node's
// provisioner has a registry of its own, apart from the node's.
//
// Families (name{labels} type: meaning):
//   joconde_vm_phase{phase}                        gauge   1 for the CT's current phase
//                                                          (initialisation ... cancelled), else 0
//   joconde_vm_slots{state}                        gauge   data slots by state (empty, in_use,
//                                                          ready, released)
//   joconde_vm_uploaded_bytes_total                counter share bytes received from Data Custodians
//   joconde_vm_released_bytes_total                counter share bytes released to Data Analysts
//   joconde_vm_mpc_rounds_total                    counter MPC communication rounds of this party
//   joconde_vm_mpc_bytes_total                     counter MPC payload bytes this party sent
//   joconde_vm_mpc_peer_bytes_total{peer}          counter of those, by the Computing Party they
//                                                          went to (its FQDN)
//   joconde_vm_calculation_seconds                 gauge   seconds the main algorithm (with the
//                                                          data-quality checks) took; 0 before
//   process_*                                      the standard process metrics (metrics.hpp)
//   joconde_vm_attestation_failures_total{reason}  counter refused attestations and sessions: an
//                                                          errc name, peer-<errc> (a counterpart's
//                                                          handshake) or client-session
//   joconde_vm_requests_refused_total{reason}      counter refused client requests, by errc name
//   joconde_vm_peer_refused_total{reason}          counter connections on the peer port that never
//                                                          became a counterpart's link
//                                                          (peer_refusal_reasons)
//   joconde_vm_mpc_refused_total{reason}           counter connections on the MPC endpoint closed
//                                                          before they proved a pair key, in the
//                                                          engine's words
//   joconde_vm_client_refused_total{reason}        counter connections on the client endpoint closed
//                                                          before their session began
//                                                          (client_refusal_reasons)
//   joconde_vm_admin_refused_total{reason}         counter connections and requests the admin
//                                                          endpoint refused (unauthenticated, the
//                                                          http::server reasons)

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <array>
#include <string>
#include <string_view>

namespace joconde::metrics {

/// The `reason` labels of joconde_vm_peer_refused_total: why a connection on the peer port never
/// became a counterpart's link. busy: more connections in handshake than the VM takes at once;
/// greeting: no 4-byte CP index before the greeting deadline; unknown-index: not a counterpart this VM
/// accepts; established: that counterpart's link is up already; handshake: the attested handshake
/// failed (its errc is in joconde_vm_attestation_failures_total); duplicate: attested, but another
/// connection of the same counterpart completed its handshake first.
/// source-busy: that source address has max_peer_handshakes_per_source connections in handshake
/// already; evicted: in handshake, it gave way to a newcomer when every handshake slot was taken.
inline constexpr std::array<const char*, 8> peer_refusal_reasons{"busy",        "greeting",  "unknown-index",
                                                                  "established", "handshake", "duplicate",
                                                                  "source-busy", "evicted"};

/// The `reason` labels of joconde_vm_client_refused_total: why a connection on the client endpoint
/// was closed before its session began. busy: max_client_sessions in all already; source-busy: that
/// source address has max_client_sessions_per_source already; evidence-rate: that source asked for
/// attestation evidence (one per session) faster than the endpoint gives it.
inline constexpr std::array<const char*, 3> client_refusal_reasons{"busy", "source-busy", "evidence-rate"};

/// The metrics registry of one CT VM.
class vm_registry {
public:
  /// Every family, with every peer and client refusal reason at 0 (so that rate() works before the
  /// first refusal).
  vm_registry();

  /// Not copyable: owns the families.
  vm_registry(const vm_registry&) = delete;
  /// Not copyable: owns the families.
  vm_registry& operator=(const vm_registry&) = delete;

  /// The current metrics in the Prometheus text exposition format.
  std::string text();

  /// joconde_vm_phase{phase}.
  prometheus::Gauge& phase(std::string_view phase) { return phase_.Add({{"phase", std::string{phase}}}); }
  /// joconde_vm_slots{state}.
  prometheus::Gauge& slots(std::string_view state) { return slots_.Add({{"state", std::string{state}}}); }
  /// joconde_vm_uploaded_bytes_total.
  prometheus::Counter& uploaded_bytes() { return uploaded_; }
  /// joconde_vm_released_bytes_total.
  prometheus::Counter& released_bytes() { return released_; }
  /// joconde_vm_mpc_rounds_total.
  prometheus::Counter& mpc_rounds() { return mpc_rounds_; }
  /// joconde_vm_mpc_bytes_total.
  prometheus::Counter& mpc_bytes() { return mpc_bytes_; }
  /// joconde_vm_mpc_peer_bytes_total{peer}.
  prometheus::Counter& mpc_peer_bytes(std::string_view peer) {
    return mpc_peer_bytes_.Add({{"peer", std::string{peer}}});
  }
  /// joconde_vm_calculation_seconds.
  prometheus::Gauge& calculation_seconds() { return calculation_seconds_; }
  /// joconde_vm_attestation_failures_total{reason}.
  prometheus::Counter& attestation_failures(std::string_view reason) {
    return with_reason(attestation_failures_, reason);
  }
  /// joconde_vm_requests_refused_total{reason}.
  prometheus::Counter& requests_refused(std::string_view reason) { return with_reason(requests_refused_, reason); }
  /// joconde_vm_peer_refused_total{reason}.
  prometheus::Counter& peer_refused(std::string_view reason) { return with_reason(peer_refused_, reason); }
  /// joconde_vm_mpc_refused_total{reason}.
  prometheus::Counter& mpc_refused(std::string_view reason) { return with_reason(mpc_refused_, reason); }
  /// joconde_vm_client_refused_total{reason}.
  prometheus::Counter& client_refused(std::string_view reason) { return with_reason(client_refused_, reason); }
  /// joconde_vm_admin_refused_total{reason}.
  prometheus::Counter& admin_refused(std::string_view reason) { return with_reason(admin_refused_, reason); }

private:
  /// The series of `family` for this reason.
  static prometheus::Counter& with_reason(prometheus::Family<prometheus::Counter>& family,
                                          std::string_view reason);

  prometheus::Registry registry_;
  prometheus::Family<prometheus::Gauge>& phase_;
  prometheus::Family<prometheus::Gauge>& slots_;
  prometheus::Counter& uploaded_;
  prometheus::Counter& released_;
  prometheus::Counter& mpc_rounds_;
  prometheus::Counter& mpc_bytes_;
  prometheus::Family<prometheus::Counter>& mpc_peer_bytes_;
  prometheus::Gauge& calculation_seconds_;
  prometheus::Family<prometheus::Counter>& attestation_failures_;
  prometheus::Family<prometheus::Counter>& requests_refused_;
  prometheus::Family<prometheus::Counter>& peer_refused_;
  prometheus::Family<prometheus::Counter>& mpc_refused_;
  prometheus::Family<prometheus::Counter>& admin_refused_;
  prometheus::Family<prometheus::Counter>& client_refused_;
};

} // namespace joconde::metrics
