#include "joconde/runtime/metrics.hpp"
#include "joconde/runtime/build_info.hpp"

#include "joconde/runtime/http_server.hpp"

#include <prometheus/text_serializer.h>

namespace joconde::metrics {

prometheus::Family<prometheus::Counter>& counter_family(prometheus::Registry& reg, const char* name,
                                                        const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(reg);
}

prometheus::Family<prometheus::Gauge>& gauge_family(prometheus::Registry& reg, const char* name,
                                                    const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(reg);
}

prometheus::Labels labels(std::initializer_list<std::pair<const char*, std::string_view>> kvs) {
  prometheus::Labels out;
  for (const auto& [k, v] : kvs)
    out.emplace(k, std::string{v});
  return out;
}

std::string text(prometheus::Registry& reg) {
  return prometheus::TextSerializer{}.Serialize(reg.Collect());
}

registry::registry(std::string node_name, std::string role)
  : registry_(std::make_shared<prometheus::Registry>()),
    build_info_(gauge_family(*registry_, "joconde_build_info",
                       "Build and identity of this process (version, commit, node, role); always 1.")),
    links_up_(gauge_family(*registry_, "joconde_links_up",
                     "1 while the authenticated link to the peer is up, else 0; direction is parent "
                     "or child.")),
    routed_(counter_family(*registry_, "joconde_envelopes_routed_total",
                   "Envelopes routed, by direction: in (from a link), out (to a link), local "
                   "(delivered in-process).")),
    rejected_(counter_family(*registry_, "joconde_envelopes_rejected_total",
                     "Envelopes rejected, by reason (an errc name such as bad_signature or forbidden, "
                     "or another snake_case reason).")),
    retried_(counter_family(*registry_, "joconde_envelopes_retried_total",
                    "Envelope sends retried after a failed or unacknowledged attempt.")),
    duplicate_(counter_family(*registry_, "joconde_envelopes_duplicate_total",
                      "Envelopes dropped because their id was already processed.")),
    delivered_(counter_family(*registry_, "joconde_envelopes_delivered_total",
                      "Envelopes handed to local subscribers, by topic.")),
    outbox_depth_(gauge_family(*registry_, "joconde_outbox_depth",
                         "Envelopes waiting in the outbox of a peer.")),
    certificate_expiry_(gauge_family(*registry_,
                               "joconde_certificate_expiry_seconds",
                               "Seconds until the certificate's notAfter (negative once expired).")),
    handshakes_(counter_family(*registry_, "joconde_handshakes_total",
                       "Link handshakes, by result: ok or the errc name of the failure.")),
    audit_records_(counter_family(*registry_, "joconde_audit_records_total",
                          "Records appended to the audit chain.")),
    audit_checkpoints_(counter_family(*registry_, "joconde_audit_checkpoints_total",
                              "Signed checkpoints appended to the audit chain.")),
    audit_torn_lines_(counter_family(*registry_, "joconde_audit_torn_lines_total",
                             "Torn last lines of the audit log found at start-up (cut off, kept in a "
                             "file of their own, recorded in the chain).")),
    audit_heads_(counter_family(*registry_, "joconde_audit_heads_total",
                        "Signed audit heads received from children (and the root's own), by result: "
                        "kept, unchanged or the errc name of the refusal.")),
    tls_refused_(counter_family(*registry_, "joconde_tls_refused_total",
                        "TLS handshakes that failed, by direction (in, out) and reason.")),
    http_refused_(counter_family(*registry_, "joconde_http_refused_total",
                         "Connections an HTTP(S) listener refused before serving them, by reason.")),
    policy_denials_(counter_family(*registry_, "joconde_policy_denials_total",
                           "Requests the node's access policy refused, by rule.")),
    resend_backoff_(gauge_family(*registry_, "joconde_resend_backoff_seconds",
                           "Seconds before envelopes a peer has not acknowledged are sent to it again "
                           "(broker.retry-after-ms, doubled after each resend that went "
                           "unacknowledged up to broker.retry-max-ms).")),
    storage_failures_(counter_family(*registry_, "joconde_storage_failures_total",
                             "Commits to the node's store that failed, by reason (no_space: the file "
                             "system is full; storage_error: another LMDB failure).")) {
  build_info_
    .Add(labels({{"version", std::string{build_info::version()}},
                 {"commit", std::string{build_info::commit()}},
                 {"node", node_name},
                 {"role", role}}))
    .Set(1);
  // Label-less families, and the reasons a dashboard watches, show up (at 0) from the first scrape.
  retried_.Add({});
  duplicate_.Add({});
  for (auto reason : {errc::no_space, errc::storage_error})
    storage_failures(to_string(reason));
  audit_records_.Add({});
  audit_checkpoints_.Add({});
  audit_torn_lines_.Add({});
  for (auto result : {"kept", "unchanged", "replayed", "bad_signature", "unknown_peer", "forbidden",
                      "malformed_input"})
    audit_heads(result);
  for (auto reason : {errc::malformed_input, errc::too_large, errc::bad_signature, errc::bad_mac,
                      errc::untrusted_chain, errc::certificate_expired, errc::certificate_revoked,
                      errc::replayed, errc::unknown_peer, errc::forbidden})
    rejected(reason);
  for (auto direction : {"in", "out"})
    for (auto reason : {"protocol_version", "no_certificate", "untrusted_chain", "certificate_expired",
                        "peer_alert", "tls_error"})
      tls_refused(direction, reason);
  for (auto reason : {"https_required", "protocol_version", "tls_error", "connection_limit",
                      "client_connection_limit", "header_timeout"})
    http_refused(reason);
}

registry::~registry() = default;

std::unique_ptr<registry> registry::make(std::string node_name, std::string role) {
  return std::unique_ptr<registry>{new registry(std::move(node_name), std::move(role))};
}

result<std::unique_ptr<registry>> registry::start(const std::string& listen, std::string node_name,
                                                  std::string role) {
  http::server_options options;
  options.listen = listen;
  options.max_body_bytes = 1024;
  options.threads = 1;
  return start(options, std::move(node_name), std::move(role));
}

result<std::unique_ptr<registry>> registry::start(const http::server_options& options,
                                                  std::string node_name, std::string role) {
  auto server = http::server::start(options);
  if (!server)
    return std::move(server).err();
  auto self = make(std::move(node_name), std::move(role));
  self->listen_address_ = (*server)->listen_address();
  // The server stops (waiting for a running scrape) before the registry goes away.
  (*server)->route("GET", "/metrics", [reg = self.get()](const http::request&) {
    http::response res;
    res.content_type = "text/plain; version=0.0.4";
    res.body = reg->text();
    return res;
  });
  self->server_ = std::move(*server);
  return self;
}

std::string registry::listen_address() const {
  return listen_address_;
}

std::string registry::text() const {
  return metrics::text(*registry_);
}

prometheus::Gauge& registry::link_up(std::string_view peer, std::string_view direction) {
  return links_up_.Add(labels({{"peer", peer}, {"direction", direction}}));
}

prometheus::Counter& registry::routed(std::string_view direction) {
  return routed_.Add(labels({{"direction", direction}}));
}

prometheus::Counter& registry::rejected(std::string_view reason) {
  return rejected_.Add(labels({{"reason", reason}}));
}

prometheus::Counter& registry::rejected(errc reason) {
  return rejected(to_string(reason));
}

prometheus::Counter& registry::retried() {
  return retried_.Add({});
}

prometheus::Counter& registry::duplicate() {
  return duplicate_.Add({});
}

prometheus::Counter& registry::delivered(std::string_view topic) {
  return delivered_.Add(labels({{"topic", topic}}));
}

prometheus::Gauge& registry::outbox_depth(std::string_view peer) {
  return outbox_depth_.Add(labels({{"peer", peer}}));
}

prometheus::Gauge& registry::certificate_expiry(std::string_view fingerprint,
                                                std::string_view subject) {
  return certificate_expiry_.Add(labels({{"fingerprint", fingerprint}, {"subject", subject}}));
}

void registry::forget_certificate(std::string_view fingerprint, std::string_view subject) {
  auto l = labels({{"fingerprint", fingerprint}, {"subject", subject}});
  if (certificate_expiry_.Has(l))
    certificate_expiry_.Remove(&certificate_expiry_.Add(l));
}

prometheus::Counter& registry::handshakes(std::string_view result) {
  return handshakes_.Add(labels({{"result", result}}));
}

prometheus::Counter& registry::handshakes(errc result) {
  return handshakes(result == errc::none ? std::string_view{"ok"} : to_string(result));
}

prometheus::Counter& registry::audit_records() {
  return audit_records_.Add({});
}

prometheus::Counter& registry::audit_checkpoints() {
  return audit_checkpoints_.Add({});
}

prometheus::Counter& registry::audit_torn_lines() {
  return audit_torn_lines_.Add({});
}

prometheus::Counter& registry::audit_heads(std::string_view result) {
  return audit_heads_.Add(labels({{"result", result}}));
}

prometheus::Counter& registry::http_refused(std::string_view reason) {
  return http_refused_.Add(labels({{"reason", reason}}));
}

prometheus::Counter& registry::tls_refused(std::string_view direction, std::string_view reason) {
  return tls_refused_.Add(labels({{"direction", direction}, {"reason", reason}}));
}

prometheus::Counter& registry::policy_denials(std::string_view rule) {
  return policy_denials_.Add(labels({{"rule", rule}}));
}

prometheus::Gauge& registry::resend_backoff(std::string_view peer) {
  return resend_backoff_.Add(labels({{"peer", peer}}));
}

prometheus::Counter& registry::storage_failures(std::string_view reason) {
  return storage_failures_.Add(labels({{"reason", reason}}));
}

prometheus::Registry& registry::raw() {
  return *registry_;
}

} // namespace joconde::metrics
