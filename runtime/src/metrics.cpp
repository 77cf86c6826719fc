#include "joconde/runtime/metrics.hpp"
#include "joconde/runtime/build_info.hpp"

#include "joconde/runtime/http_server.hpp"

#include <prometheus/text_serializer.h>

#include <limits>

namespace joconde::metrics {

prometheus::Family<prometheus::Counter>& counter_family(prometheus::Registry& reg, const char* name,
                                                        const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(reg);
}

prometheus::Family<prometheus::Gauge>& gauge_family(prometheus::Registry& reg, const char* name,
                                                    const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(reg);
}

/// Histogram family `name`.
prometheus::Family<prometheus::Histogram>& histogram_family(prometheus::Registry& reg, const char* name,
                                                            const char* help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(reg);
}

namespace {

/// Seconds of an API request: 1 ms to 1 min.
const prometheus::Histogram::BucketBoundaries request_buckets{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                               0.5,   1,     2.5,  5,     10,   30,  60};
/// Seconds of an upload or download (attesting, sharing and sending): 10 ms to 30 min.
const prometheus::Histogram::BucketBoundaries transfer_buckets{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
                                                                10,   30,   60,  120,  300, 600, 1800};

/// The class of a topic: its part before the first '.' ("none" when empty).
std::string_view topic_class(std::string_view topic) {
  auto cls = topic.substr(0, topic.find('.'));
  return cls.empty() ? std::string_view{"none"} : cls;
}

} // namespace

prometheus::Labels labels(std::initializer_list<std::pair<const char*, std::string_view>> kvs) {
  prometheus::Labels out;
  for (const auto& [k, v] : kvs)
    out.emplace(k, std::string{v});
  return out;
}

std::string text(prometheus::Registry& reg) {
  auto families = reg.Collect();
  for (auto& f : process_families())
    families.push_back(std::move(f));
  return prometheus::TextSerializer{}.Serialize(families);
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
                    "Envelopes sent again after their frame went unacknowledged, by topic class.")),
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
                             "system is full; storage_error: another LMDB failure).")),
    received_(counter_family(*registry_, "joconde_envelopes_received_total",
                             "Envelopes received from a link or in-process, by topic class (the topic's "
                             "first part: cta, pki, audit, ...).")),
    outbox_stalled_(gauge_family(*registry_, "joconde_outbox_stalled_seconds",
                                 "Seconds since envelopes waiting for a peer last moved (one acknowledged, "
                                 "or the first queued); 0 when none waits.")),
    outbox_oldest_age_(gauge_family(*registry_, "joconde_outbox_oldest_age_seconds",
                                    "Age (since its creation at its origin) of the oldest envelope waiting "
                                    "for a peer; 0 when none waits.")),
    audit_verify_failures_(counter_family(*registry_, "joconde_audit_verify_failures_total",
                                          "Checks of the audit log that found it broken.")),
    http_requests_(counter_family(*registry_, "joconde_http_requests_total",
                                  "API requests answered, by route pattern, method and status code.")),
    http_duration_(histogram_family(*registry_, "joconde_http_request_duration_seconds",
                                    "Seconds from an API request to its handler's answer, by route.")),
    lmdb_map_size_(gauge_family(*registry_, "joconde_lmdb_map_size_bytes", "The store's LMDB map size.")),
    lmdb_used_(gauge_family(*registry_, "joconde_lmdb_used_bytes",
                            "Bytes of the store's LMDB map in use (pages up to the last one written).")),
    lmdb_free_pages_(gauge_family(*registry_, "joconde_lmdb_free_pages",
                                  "Pages of the store's LMDB map in use that are free for reuse.")),
    ctas_(gauge_family(*registry_, "joconde_ctas", "CTAs held here, by status.")),
    ct_deadline_(gauge_family(*registry_, "joconde_ct_deadline_seconds",
                              "Seconds until the nearest approval, input, execution or output deadline of "
                              "a live CT held here (+Inf when none is ahead).")),
    uploads_(counter_family(*registry_, "joconde_uploads_total",
                            "Uploads of this node's Data Custodians: ok or the errc name of the refusal.")),
    upload_bytes_(counter_family(*registry_, "joconde_upload_bytes_total", "CSV bytes of successful uploads.")),
    upload_duration_(histogram_family(*registry_, "joconde_upload_duration_seconds",
                                      "Seconds of successful uploads (check, attest, share, send).")),
    downloads_(counter_family(*registry_, "joconde_downloads_total",
                              "Downloads of this node's Data Analysts: ok or the errc name of the refusal.")),
    download_bytes_(counter_family(*registry_, "joconde_download_bytes_total",
                                   "CSV bytes of successful downloads.")),
    download_duration_(histogram_family(*registry_, "joconde_download_duration_seconds",
                                        "Seconds of successful downloads (attest, fetch, rebuild).")),
    attestations_(counter_family(*registry_, "joconde_attestations_total",
                                 "CT VM attestations this node verified: ok or the errc name of the refusal.")) {
  build_info_
    .Add(labels({{"version", std::string{build_info::version()}},
                 {"commit", std::string{build_info::commit()}},
                 {"node", node_name},
                 {"role", role}}))
    .Set(1);
  // Label-less families, and the reasons a dashboard watches, show up (at 0) from the first scrape.
  for (auto cls : {"cta", "pki"})
    retried_.Add(labels({{"class", cls}}));
  duplicate_.Add({});
  for (auto reason : {errc::no_space, errc::storage_error})
    storage_failures(to_string(reason));
  audit_records_.Add({});
  audit_verify_failures_.Add({});
  lmdb_map_size_.Add({});
  lmdb_used_.Add({});
  lmdb_free_pages_.Add({});
  for (auto status : {"emerging", "instantiated", "finished", "cancelled", "erased"})
    ctas(status);
  for (auto deadline : {"approval", "input", "execution", "output"})
    ct_deadline(deadline).Set(std::numeric_limits<double>::infinity());
  for (bool up : {true, false})
    transfer(up, "ok", 0, -1);
  attestations("ok");
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

prometheus::Counter& registry::retried(std::string_view topic) {
  return retried_.Add(labels({{"class", topic_class(topic)}}));
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

namespace joconde::metrics {

prometheus::Counter& registry::received(std::string_view topic) {
  return received_.Add(labels({{"class", topic_class(topic)}}));
}

prometheus::Gauge& registry::outbox_oldest_age(std::string_view peer) {
  return outbox_oldest_age_.Add(labels({{"peer", peer}}));
}

prometheus::Gauge& registry::outbox_stalled(std::string_view peer) {
  return outbox_stalled_.Add(labels({{"peer", peer}}));
}

prometheus::Counter& registry::audit_verify_failures() {
  return audit_verify_failures_.Add({});
}

void registry::http_served(const std::string& route, const std::string& method, int status, double seconds) {
  // Bounded labels: a client's made-up method or path adds no series.
  static constexpr std::string_view known[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
  std::string_view m = "other";
  for (auto k : known)
    if (method == k)
      m = k;
  std::string_view r = route.empty() ? std::string_view{"unmatched"} : std::string_view{route};
  http_requests_.Add(labels({{"route", r}, {"method", m}, {"code", std::to_string(status)}})).Increment();
  http_duration_.Add(labels({{"route", r}}), request_buckets).Observe(seconds);
}

prometheus::Gauge& registry::lmdb_map_size() {
  return lmdb_map_size_.Add({});
}

prometheus::Gauge& registry::lmdb_used() {
  return lmdb_used_.Add({});
}

prometheus::Gauge& registry::lmdb_free_pages() {
  return lmdb_free_pages_.Add({});
}

prometheus::Gauge& registry::ctas(std::string_view status) {
  return ctas_.Add(labels({{"status", status}}));
}

prometheus::Gauge& registry::ct_deadline(std::string_view deadline) {
  return ct_deadline_.Add(labels({{"deadline", deadline}}));
}

void registry::transfer(bool upload, std::string_view result, double bytes, double seconds) {
  (upload ? uploads_ : downloads_).Add(labels({{"result", result}})).Increment(seconds < 0 ? 0 : 1);
  auto& duration = (upload ? upload_duration_ : download_duration_).Add({}, transfer_buckets);
  auto& total = (upload ? upload_bytes_ : download_bytes_).Add({});
  if (seconds >= 0 && result == "ok") {
    total.Increment(bytes);
    duration.Observe(seconds);
  }
}

prometheus::Counter& registry::attestations(std::string_view result) {
  return attestations_.Add(labels({{"result", result}}));
}

} // namespace joconde::metrics
