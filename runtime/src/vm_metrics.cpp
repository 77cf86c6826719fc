#include "joconde/runtime/vm_metrics.hpp"

#include "joconde/runtime/metrics.hpp"

namespace joconde::metrics {

vm_registry::vm_registry()
  : phase_(gauge_family(registry_, "joconde_vm_phase", "1 for the CT's current phase")),
    slots_(gauge_family(registry_, "joconde_vm_slots", "Data slots by state")),
    uploaded_(counter_family(registry_, "joconde_vm_uploaded_bytes_total",
                             "Share bytes received from Data Custodians")
                .Add({})),
    released_(counter_family(registry_, "joconde_vm_released_bytes_total", "Share bytes released to Data Analysts")
                .Add({})),
    mpc_rounds_(counter_family(registry_, "joconde_vm_mpc_rounds_total", "MPC communication rounds of this party")
                  .Add({})),
    mpc_bytes_(counter_family(registry_, "joconde_vm_mpc_bytes_total", "MPC payload bytes this party sent").Add({})),
    mpc_peer_bytes_(counter_family(registry_, "joconde_vm_mpc_peer_bytes_total",
                                   "MPC payload bytes this party sent, by the Computing Party they went to")),
    calculation_seconds_(gauge_family(registry_, "joconde_vm_calculation_seconds",
                                      "Seconds the main algorithm (with the data-quality checks) took; 0 "
                                      "before")
                           .Add({})),
    attestation_failures_(counter_family(registry_, "joconde_vm_attestation_failures_total",
                                         "Refused attestations and sessions, by reason")),
    requests_refused_(counter_family(registry_, "joconde_vm_requests_refused_total",
                                     "Refused client requests, by reason")),
    peer_refused_(counter_family(registry_, "joconde_vm_peer_refused_total",
                                 "Connections on the peer port closed before they became a counterpart's "
                                 "link, by reason")),
    mpc_refused_(counter_family(registry_, "joconde_vm_mpc_refused_total",
                                "Connections on the MPC endpoint closed before they proved a pair key, by "
                                "reason in the engine's words (rss3: bad-party-id, party-taken, "
                                "failed-proof, hung-up, too-slow, over-limit); counted when the engine has "
                                "connected its parties")),
    admin_refused_(counter_family(registry_, "joconde_vm_admin_refused_total",
                                  "Connections and requests the admin endpoint refused before serving them, "
                                  "by reason (unauthenticated, connection limits, timeouts, idle_evicted, "
                                  "client_request_limit)")),
    client_refused_(counter_family(registry_, "joconde_vm_client_refused_total",
                                   "Connections on the client endpoint closed before their session began, "
                                   "by reason")) {
  for (const char* reason : peer_refusal_reasons)
    peer_refused(reason);
  for (const char* reason : client_refusal_reasons)
    client_refused(reason);
  // Every family shows from the first scrape (at 0), so that increase() sees its first refusal.
  for (const char* reason : {"bad-party-id", "party-taken", "failed-proof", "hung-up", "too-slow", "over-limit"})
    mpc_refused(reason);
  attestation_failures("client-session");
  requests_refused("forbidden");
  admin_refused("unauthenticated");
}

prometheus::Counter& vm_registry::with_reason(prometheus::Family<prometheus::Counter>& family,
                                              std::string_view reason) {
  return family.Add(labels({{"reason", reason}}));
}

std::string vm_registry::text() {
  return metrics::text(registry_);
}

} // namespace joconde::metrics
