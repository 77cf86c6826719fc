#pragma once

// The Prometheus metrics of a node. This module owns the registry and is the one place that
// defines metric families; actors get plain references to prometheus::Counter / prometheus::Gauge
// from the accessors below (each accessor is thread-safe: Family::Add returns the existing series
// for known labels). `/metrics` on `metrics.listen` serves them in the text format. A CT VM has a
// registry of its own built the same way (vm_metrics.hpp); both build their families with
// counter_family / gauge_family below.
//
// Families (name{labels} type: meaning):
//   joconde_build_info{version,commit,node,role}          gauge   always 1; identifies the build
//                                                                  and the node
//   joconde_links_up{peer,direction}                       gauge   1 while the authenticated link
//                                                                  to `peer` is up, else 0;
//                                                                  direction is parent or child
//   joconde_envelopes_routed_total{direction}              counter envelopes routed; direction in
//                                                                  (from a link), out (to a link) or
//                                                                  local (delivered in-process)
//   joconde_envelopes_rejected_total{reason}               counter envelopes rejected; reason is an
//                                                                  errc name (bad_signature,
//                                                                  forbidden, ...) or another
//                                                                  stable snake_case reason
//   joconde_envelopes_retried_total{class}                 counter envelopes sent again after
//                                                                  their frame went unacknowledged,
//                                                                  by topic class (as received)
//   joconde_envelopes_duplicate_total                      counter envelopes dropped because their id
//                                                                  was already processed
//   joconde_envelopes_delivered_total{topic}               counter envelopes handed to local
//                                                                  subscribers, by topic
//   joconde_outbox_depth{peer}                             gauge   envelopes waiting in the outbox of
//                                                                  `peer`
//   joconde_certificate_expiry_seconds{fingerprint,subject} gauge  seconds until the certificate's
//                                                                  notAfter (negative once expired)
//   joconde_handshakes_total{result}                       counter link handshakes; result is ok or
//                                                                  the errc name of the failure
//   joconde_audit_records_total                            counter records appended to the audit chain
//   joconde_audit_checkpoints_total                        counter signed checkpoints appended to it
//   joconde_audit_torn_lines_total                         counter torn last lines found at start-up
//                                                                  (cut off, kept, recorded)
//   joconde_audit_heads_total{result}                      counter signed audit heads from children
//                                                                  (and the root's own): kept,
//                                                                  unchanged or the errc name of the
//                                                                  refusal (replayed, bad_signature,
//                                                                  unknown_peer, forbidden, ...)
//   joconde_http_refused_total{reason}                     counter connections the API or metrics
//                                                                  listener refused before serving
//                                                                  them: https_required (plain HTTP
//                                                                  on the HTTPS port), TLS reasons
//                                                                  (protocol_version, tls_error, ...),
//                                                                  connection limits, timeouts
//   joconde_resend_backoff_seconds{peer}                   gauge   seconds before envelopes `peer` has
//                                                                  not acknowledged are sent again:
//                                                                  broker.retry-after-ms, doubled
//                                                                  after each unacknowledged resend
//                                                                  up to broker.retry-max-ms, reset
//                                                                  by its next acknowledgement
//   joconde_storage_failures_total{reason}                 counter commits to the store that
//                                                                  failed: no_space (file system
//                                                                  full) or storage_error
//   joconde_envelopes_received_total{class}             counter envelopes received (from a link or
//                                                                  in-process), by topic class: the
//                                                                  topic's first part (cta, pki,
//                                                                  audit, ...)
//   joconde_outbox_stalled_seconds{peer}                   gauge   seconds since envelopes waiting
//                                                                  for `peer` last moved (one was
//                                                                  acknowledged, or the first was
//                                                                  queued); 0 when none waits
//   joconde_outbox_oldest_age_seconds{peer}                gauge   age (from its creation at its
//                                                                  origin) of the oldest envelope
//                                                                  waiting for `peer`; 0 when none
//                                                                  waits (sampled every 5 s)
//   joconde_audit_verify_failures_total                    counter checks of the audit log (GET
//                                                                  /v1/audit/verify, joconde-node
//                                                                  audit verify at start) that found
//                                                                  it broken
//   joconde_http_requests_total{route,method,code}         counter API requests answered, by route
//                                                                  pattern ("" as unmatched), method
//                                                                  (other for unknown ones) and
//                                                                  status code
//   joconde_http_request_duration_seconds{route}           histogram seconds from the request to
//                                                                  the handler's answer
//   joconde_lmdb_map_size_bytes                            gauge   the store's LMDB map size
//   joconde_lmdb_used_bytes                                gauge   bytes of the map in use (pages up
//                                                                  to the last one written)
//   joconde_lmdb_free_pages                                gauge   pages below that which LMDB holds
//                                                                  free for reuse
//   joconde_ctas{status}                                   gauge   CTAs held here, by status
//                                                                  (emerging ... erased)
//   joconde_ct_deadline_seconds{deadline}                  gauge   seconds until the nearest
//                                                                  approval, input, execution or
//                                                                  output deadline of a live CT held
//                                                                  here (+Inf when none is ahead)
//   joconde_uploads_total{result}, joconde_downloads_total{result}   counter   uploads / downloads
//                                                                  of this node's people: ok or the
//                                                                  errc name of the refusal
//   joconde_upload_bytes_total, joconde_download_bytes_total         counter   CSV bytes of the
//                                                                  successful ones
//   joconde_upload_duration_seconds, joconde_download_duration_seconds  histogram  their seconds
//   joconde_attestations_total{result}                     counter CT VM attestations this node
//                                                                  verified: ok or the errc name of
//                                                                  the refusal
//   process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
//   process_open_fds, process_max_fds, process_start_time_seconds    the standard process
//                                                                  metrics, read from /proc at each
//                                                                  scrape (node and CT VM)
// Label values are free text (prometheus-cpp escapes them); keep their number bounded (peers,
// topics, certificates and reasons are).

#include "joconde/messages/errc.hpp"
#include "joconde/messages/result.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace joconde::http {
class server;
struct server_options;
} // namespace joconde::http

namespace joconde::metrics {

// -- building families (every registry of joconde builds its families with these) --

/// The counter family `name` (Prometheus conventions: `joconde_..._total`, units in the name) with
/// its help text, registered in `reg`.
prometheus::Family<prometheus::Counter>& counter_family(prometheus::Registry& reg, const char* name,
                                                        const char* help);

/// The gauge family `name` with its help text, registered in `reg`.
prometheus::Family<prometheus::Gauge>& gauge_family(prometheus::Registry& reg, const char* name,
                                                    const char* help);

/// Registers the histogram family `name` with `help` on `reg`.
prometheus::Family<prometheus::Histogram>& histogram_family(prometheus::Registry& reg, const char* name,
                                                            const char* help);

/// Label set from name/value pairs: labels({{"reason", why}}).
prometheus::Labels labels(std::initializer_list<std::pair<const char*, std::string_view>> kvs);

/// What `reg` holds and this process's process_* metrics (process_families), in the Prometheus
/// text exposition format (what /metrics returns).
std::string text(prometheus::Registry& reg);

/// The standard process_* metrics of this process, read from /proc/self now.
std::vector<prometheus::MetricFamily> process_families();

// -- the node --

/// The metrics registry of one process, optionally served over HTTP or HTTPS at /metrics.
class registry {
public:
  /// Creates the registry and serves it at http://`listen`/metrics ("127.0.0.1:9100", "[::1]:9100",
  /// "host.example:9100"; port 0 picks a free port); invalid_config for a malformed address,
  /// io_error if it cannot be bound.
  static result<std::unique_ptr<registry>> start(const std::string& listen, std::string node_name,
                                                 std::string role);

  /// Creates the registry and serves `GET /metrics` on an http::server started with `options`
  /// (HTTPS when options.tls is set); errors as http::server::start.
  static result<std::unique_ptr<registry>> start(const http::server_options& options,
                                                 std::string node_name, std::string role);

  /// Creates the registry without serving it (tests, tools); read it with `text()`.
  static std::unique_ptr<registry> make(std::string node_name, std::string role);

  /// Stops serving (if it was) and frees the families; references from the accessors dangle after.
  ~registry();

  /// Not copyable: owns the families and the listener.
  registry(const registry&) = delete;
  /// Not copyable: owns the families and the listener.
  registry& operator=(const registry&) = delete;

  /// The "host:port" /metrics is served on (IPv6 in brackets), or empty when not serving.
  std::string listen_address() const;

  /// The current metrics in the Prometheus text exposition format (what /metrics returns).
  std::string text() const;

  /// joconde_links_up{peer,direction}; direction is "parent" or "child".
  prometheus::Gauge& link_up(std::string_view peer, std::string_view direction);

  /// joconde_envelopes_routed_total{direction}; direction is "in", "out" or "local".
  prometheus::Counter& routed(std::string_view direction);

  /// joconde_envelopes_rejected_total{reason}.
  prometheus::Counter& rejected(std::string_view reason);

  /// joconde_envelopes_rejected_total{reason=to_string(reason)}.
  prometheus::Counter& rejected(errc reason);

  /// joconde_envelopes_retried_total{class}, class from `topic` as for received().
  prometheus::Counter& retried(std::string_view topic);

  /// joconde_envelopes_duplicate_total.
  prometheus::Counter& duplicate();

  /// joconde_envelopes_delivered_total{topic}.
  prometheus::Counter& delivered(std::string_view topic);

  /// joconde_outbox_depth{peer}.
  prometheus::Gauge& outbox_depth(std::string_view peer);

  /// joconde_certificate_expiry_seconds{fingerprint,subject}.
  prometheus::Gauge& certificate_expiry(std::string_view fingerprint, std::string_view subject);

  /// Drops the joconde_certificate_expiry_seconds series of a certificate no longer in use; any
  /// reference to that series obtained earlier dangles afterwards, so only its one owner calls this.
  void forget_certificate(std::string_view fingerprint, std::string_view subject);

  /// joconde_handshakes_total{result}; result is "ok" or an errc name.
  prometheus::Counter& handshakes(std::string_view result);

  /// joconde_handshakes_total{result}; errc::none counts as "ok".
  prometheus::Counter& handshakes(errc result);

  /// joconde_audit_records_total.
  prometheus::Counter& audit_records();

  /// joconde_audit_checkpoints_total.
  prometheus::Counter& audit_checkpoints();

  /// joconde_audit_torn_lines_total.
  prometheus::Counter& audit_torn_lines();

  /// joconde_audit_heads_total{result}.
  prometheus::Counter& audit_heads(std::string_view result);

  /// joconde_tls_refused_total{direction,reason}: TLS handshakes that failed before a link
  /// handshake could start (direction "in": a client of this node's listener; "out": this node's
  /// connection to its parent).
  prometheus::Counter& tls_refused(std::string_view direction, std::string_view reason);

  /// joconde_http_refused_total{reason}: connections an HTTP(S) listener refused, by the reason
  /// http::server_options::on_refusal names.
  prometheus::Counter& http_refused(std::string_view reason);

  /// joconde_policy_denials_total{rule}: requests the access policy refused, by rule.
  prometheus::Counter& policy_denials(std::string_view rule);

  /// joconde_resend_backoff_seconds{peer}.
  prometheus::Gauge& resend_backoff(std::string_view peer);

  /// joconde_storage_failures_total{reason}; reason is "no_space" or "storage_error".
  prometheus::Counter& storage_failures(std::string_view reason);

  /// joconde_envelopes_received_total{class}, class from `topic` (its part before the first '.').
  prometheus::Counter& received(std::string_view topic);

  /// joconde_outbox_stalled_seconds{peer}.
  prometheus::Gauge& outbox_stalled(std::string_view peer);

  /// joconde_outbox_oldest_age_seconds{peer}.
  prometheus::Gauge& outbox_oldest_age(std::string_view peer);

  /// joconde_audit_verify_failures_total.
  prometheus::Counter& audit_verify_failures();

  /// Counts an answered API request (http::server_options::on_served) in
  /// joconde_http_requests_total and joconde_http_request_duration_seconds.
  void http_served(const std::string& route, const std::string& method, int status, double seconds);

  /// joconde_lmdb_map_size_bytes.
  prometheus::Gauge& lmdb_map_size();

  /// joconde_lmdb_used_bytes.
  prometheus::Gauge& lmdb_used();

  /// joconde_lmdb_free_pages.
  prometheus::Gauge& lmdb_free_pages();

  /// joconde_ctas{status}.
  prometheus::Gauge& ctas(std::string_view status);

  /// joconde_ct_deadline_seconds{deadline}.
  prometheus::Gauge& ct_deadline(std::string_view deadline);

  /// Counts an upload (`upload`) or a download: `result` "ok" or an errc name; bytes and seconds
  /// of a successful one.
  void transfer(bool upload, std::string_view result, double bytes, double seconds);

  /// joconde_attestations_total{result}; result is "ok" or an errc name.
  prometheus::Counter& attestations(std::string_view result);

  /// The server of /metrics, for more routes on the metrics listener (null when not serving).
  http::server* server() const { return server_.get(); }

  /// The underlying registry, for families added by later modules (document them where added).
  prometheus::Registry& raw();

private:
  registry(std::string node_name, std::string role);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>& build_info_;
  prometheus::Family<prometheus::Gauge>& links_up_;
  prometheus::Family<prometheus::Counter>& routed_;
  prometheus::Family<prometheus::Counter>& rejected_;
  prometheus::Family<prometheus::Counter>& retried_;
  prometheus::Family<prometheus::Counter>& duplicate_;
  prometheus::Family<prometheus::Counter>& delivered_;
  prometheus::Family<prometheus::Gauge>& outbox_depth_;
  prometheus::Family<prometheus::Gauge>& certificate_expiry_;
  prometheus::Family<prometheus::Counter>& handshakes_;
  prometheus::Family<prometheus::Counter>& audit_records_;
  prometheus::Family<prometheus::Counter>& audit_checkpoints_;
  prometheus::Family<prometheus::Counter>& audit_torn_lines_;
  prometheus::Family<prometheus::Counter>& audit_heads_;
  prometheus::Family<prometheus::Counter>& tls_refused_;
  prometheus::Family<prometheus::Counter>& http_refused_;
  prometheus::Family<prometheus::Counter>& policy_denials_;
  prometheus::Family<prometheus::Gauge>& resend_backoff_;
  prometheus::Family<prometheus::Counter>& storage_failures_;
  prometheus::Family<prometheus::Counter>& received_;
  prometheus::Family<prometheus::Gauge>& outbox_stalled_;
  prometheus::Family<prometheus::Gauge>& outbox_oldest_age_;
  prometheus::Family<prometheus::Counter>& audit_verify_failures_;
  prometheus::Family<prometheus::Counter>& http_requests_;
  prometheus::Family<prometheus::Histogram>& http_duration_;
  prometheus::Family<prometheus::Gauge>& lmdb_map_size_;
  prometheus::Family<prometheus::Gauge>& lmdb_used_;
  prometheus::Family<prometheus::Gauge>& lmdb_free_pages_;
  prometheus::Family<prometheus::Gauge>& ctas_;
  prometheus::Family<prometheus::Gauge>& ct_deadline_;
  prometheus::Family<prometheus::Counter>& uploads_;
  prometheus::Family<prometheus::Counter>& upload_bytes_;
  prometheus::Family<prometheus::Histogram>& upload_duration_;
  prometheus::Family<prometheus::Counter>& downloads_;
  prometheus::Family<prometheus::Counter>& download_bytes_;
  prometheus::Family<prometheus::Histogram>& download_duration_;
  prometheus::Family<prometheus::Counter>& attestations_;
  std::string listen_address_;
  // Declared last: destroyed (stopped) first, so no scrape runs while the families go away.
  std::unique_ptr<http::server> server_;
};

} // namespace joconde::metrics
