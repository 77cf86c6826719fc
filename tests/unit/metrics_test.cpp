#define BOOST_TEST_MODULE metrics
#include <boost/test/unit_test.hpp>

#include "joconde/runtime/build_info.hpp"
#include "joconde/runtime/http_client.hpp"
#include "joconde/runtime/metrics.hpp"
#include "support/loopback.hpp"

#include "support/https_pki.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace joconde;
using namespace std::chrono_literals;

namespace {

using test::free_port;

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

const char* families[] = {
  "joconde_build_info",
  "joconde_links_up",
  "joconde_envelopes_routed_total",
  "joconde_envelopes_rejected_total",
  "joconde_envelopes_retried_total",
  "joconde_envelopes_duplicate_total",
  "joconde_envelopes_delivered_total",
  "joconde_outbox_depth",
  "joconde_certificate_expiry_seconds",
  "joconde_handshakes_total",
  "joconde_audit_records_total",
  "joconde_audit_checkpoints_total",
  "joconde_audit_torn_lines_total",
  "joconde_audit_heads_total",
  "joconde_tls_refused_total",
  "joconde_policy_denials_total",
  "joconde_resend_backoff_seconds",
  "joconde_storage_failures_total",
  // (received, outbox_stalled, outbox_oldest_age and the http_request families appear with their
  // first series: operators_families_count_requests_transfers_and_the_process)
  "joconde_audit_verify_failures_total",
  "joconde_lmdb_map_size_bytes",
  "joconde_lmdb_used_bytes",
  "joconde_lmdb_free_pages",
  "joconde_ctas",
  "joconde_ct_deadline_seconds",
  "joconde_uploads_total",
  "joconde_upload_bytes_total",
  "joconde_upload_duration_seconds",
  "joconde_downloads_total",
  "joconde_download_bytes_total",
  "joconde_download_duration_seconds",
  "joconde_attestations_total",
  "process_cpu_seconds_total",
  "process_resident_memory_bytes",
  "process_virtual_memory_bytes",
  "process_open_fds",
  "process_max_fds",
  "process_start_time_seconds",
};

} // namespace

BOOST_AUTO_TEST_CASE(serves_the_joconde_families_over_http) {
  auto listen = "127.0.0.1:" + std::to_string(free_port());
  auto started = metrics::registry::start(listen, "node-a", "relay");
  BOOST_REQUIRE_MESSAGE(started.ok(), (started.ok() ? "" : started.err().describe()));
  auto& reg = **started;
  BOOST_TEST(reg.listen_address() == listen);

  reg.link_up("root", "parent").Set(1);
  reg.link_up("leaf-1", "child").Set(0);
  reg.routed("in").Increment(3);
  reg.routed("out").Increment();
  reg.routed("local").Increment(2);
  reg.rejected(errc::bad_signature).Increment();
  reg.rejected(errc::bad_signature).Increment();
  reg.rejected("rate_limited").Increment();
  reg.retried("cta.ctsa").Increment(4);
  reg.duplicate().Increment();
  reg.delivered("certs.revoked").Increment(5);
  reg.outbox_depth("root").Set(7);
  reg.certificate_expiry("ab12cd", "CN=node-a,O=joconde").Set(86400);
  reg.handshakes(errc::none).Increment();
  reg.handshakes(errc::untrusted_chain).Increment();
  reg.audit_records().Increment(9);
  reg.policy_denials("api.reserved-topic").Increment();
  reg.resend_backoff("root").Set(20);
  reg.storage_failures("no_space").Increment();

  auto res = http::client::send("http://" + listen, "GET", "/metrics", {}, {}, 10s);
  BOOST_REQUIRE_MESSAGE(res.ok(), (res.ok() ? "" : res.err().describe()));
  BOOST_TEST(res->status == 200);
  const auto& text = res->body;
  BOOST_TEST_MESSAGE(text);
  for (const char* f : families) {
    BOOST_TEST_CONTEXT(f) {
      BOOST_TEST(text.find(std::string{"# HELP "} + f + " ") != std::string::npos);
      BOOST_TEST(text.find(std::string{"# TYPE "} + f + " ") != std::string::npos);
    }
  }
  auto build = std::string{"joconde_build_info{commit=\""} + std::string{build_info::commit()}
               + "\",node=\"node-a\",role=\"relay\",version=\"" + std::string{build_info::version()}
               + "\"} 1";
  BOOST_TEST(has_line(text, build), build);
  BOOST_TEST(has_line(text, "joconde_links_up{direction=\"parent\",peer=\"root\"} 1"));
  BOOST_TEST(has_line(text, "joconde_links_up{direction=\"child\",peer=\"leaf-1\"} 0"));
  BOOST_TEST(has_line(text, "joconde_envelopes_routed_total{direction=\"in\"} 3"));
  BOOST_TEST(has_line(text, "joconde_envelopes_routed_total{direction=\"out\"} 1"));
  BOOST_TEST(has_line(text, "joconde_envelopes_routed_total{direction=\"local\"} 2"));
  BOOST_TEST(has_line(text, "joconde_envelopes_rejected_total{reason=\"bad_signature\"} 2"));
  BOOST_TEST(has_line(text, "joconde_envelopes_rejected_total{reason=\"rate_limited\"} 1"));
  // Reasons a dashboard watches exist at 0 before anything was refused.
  BOOST_TEST(has_line(text, "joconde_envelopes_rejected_total{reason=\"malformed_input\"} 0"));
  BOOST_TEST(has_line(text, "joconde_tls_refused_total{direction=\"in\",reason=\"protocol_version\"} 0"));
  BOOST_TEST(has_line(text, "joconde_envelopes_retried_total{class=\"cta\"} 4"));
  BOOST_TEST(has_line(text, "joconde_envelopes_retried_total{class=\"pki\"} 0"));
  BOOST_TEST(has_line(text, "joconde_envelopes_duplicate_total 1"));
  BOOST_TEST(has_line(text, "joconde_envelopes_delivered_total{topic=\"certs.revoked\"} 5"));
  BOOST_TEST(has_line(text, "joconde_outbox_depth{peer=\"root\"} 7"));
  BOOST_TEST(has_line(text, "joconde_resend_backoff_seconds{peer=\"root\"} 20"));
  BOOST_TEST(has_line(text, "joconde_storage_failures_total{reason=\"no_space\"} 1"));
  BOOST_TEST(has_line(text, "joconde_storage_failures_total{reason=\"storage_error\"} 0"));
  BOOST_TEST(has_line(
    text,
    "joconde_certificate_expiry_seconds{fingerprint=\"ab12cd\",subject=\"CN=node-a,O=joconde\"} 86400"));
  BOOST_TEST(has_line(text, "joconde_handshakes_total{result=\"ok\"} 1"));
  BOOST_TEST(has_line(text, "joconde_policy_denials_total{rule=\"api.reserved-topic\"} 1"));
  BOOST_TEST(has_line(text, "joconde_handshakes_total{result=\"untrusted_chain\"} 1"));
  BOOST_TEST(has_line(text, "joconde_audit_records_total 9"));

  // Updates show up on the next scrape.
  reg.routed("in").Increment();
  auto again = http::client::send("http://" + listen, "GET", "/metrics", {}, {}, 10s);
  BOOST_REQUIRE(again.ok());
  BOOST_TEST(has_line(again->body, "joconde_envelopes_routed_total{direction=\"in\"} 4"));
}

BOOST_AUTO_TEST_CASE(a_taken_port_or_bad_address_is_a_clear_error) {
  auto listen = "127.0.0.1:" + std::to_string(free_port());
  auto first = metrics::registry::start(listen, "n", "root");
  BOOST_REQUIRE_MESSAGE(first.ok(), (first.ok() ? "" : first.err().describe()));
  auto second = metrics::registry::start(listen, "n", "root");
  BOOST_REQUIRE(!second.ok());
  BOOST_TEST((second.err().code == errc::io_error));
  BOOST_TEST(second.err().message.find(listen) != std::string::npos, second.err().message);
  BOOST_TEST(second.err().message.find("in use") != std::string::npos, second.err().message);

  auto bad = metrics::registry::start("localhost", "n", "root");
  BOOST_REQUIRE(!bad.ok());
  BOOST_TEST((bad.err().code == errc::invalid_config));
}

BOOST_AUTO_TEST_CASE(port_zero_picks_a_port) {
  auto started = metrics::registry::start("127.0.0.1:0", "n", "leaf");
  BOOST_REQUIRE_MESSAGE(started.ok(), (started.ok() ? "" : started.err().describe()));
  auto addr = (*started)->listen_address();
  BOOST_TEST(addr.rfind("127.0.0.1:", 0) == 0);
  BOOST_TEST(addr != "127.0.0.1:0");
  auto res = http::client::send("http://" + addr, "GET", "/metrics", {}, {}, 10s);
  BOOST_REQUIRE(res.ok());
  BOOST_TEST(res->body.find("joconde_build_info{") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(serves_over_ipv6_and_https) {
  auto plain = metrics::registry::start("[::1]:0", "n", "leaf");
  BOOST_REQUIRE_MESSAGE(plain.ok(), (plain.ok() ? "" : plain.err().describe()));
  auto addr6 = (*plain)->listen_address();
  BOOST_TEST(addr6.rfind("[::1]:", 0) == 0, addr6);
  auto r6 = http::client::send("http://" + addr6, "GET", "/metrics", {}, {}, 10s);
  BOOST_REQUIRE_MESSAGE(r6.ok(), (r6.ok() ? "" : r6.err().describe()));
  BOOST_TEST(r6->content_type == "text/plain; version=0.0.4");
  BOOST_TEST(r6->body.find("joconde_build_info{") != std::string::npos);

  test::https_pki pki;
  http::server_options options;
  options.listen = "127.0.0.1:0";
  options.tls = pki.identity({"localhost"}, {"127.0.0.1"});
  options.threads = 1;
  auto secure = metrics::registry::start(options, "node-s", "root");
  BOOST_REQUIRE_MESSAGE(secure.ok(), (secure.ok() ? "" : secure.err().describe()));
  (*secure)->audit_records().Increment(3);
  auto url = "https://" + (*secure)->listen_address();
  http::client_options trusting;
  trusting.ca_file = pki.root_file();
  auto res = http::client::send(url, "GET", "/metrics", {}, {}, trusting);
  BOOST_REQUIRE_MESSAGE(res.ok(), (res.ok() ? "" : res.err().describe()));
  BOOST_TEST(res->status == 200);
  BOOST_TEST(res->body.find("node=\"node-s\"") != std::string::npos);
  BOOST_TEST(has_line(res->body, "joconde_audit_records_total 3"));

  // Negative twins: plain HTTP to the TLS listener, a CA that did not issue its certificate.
  auto cleartext = http::client::send("http://" + (*secure)->listen_address(), "GET", "/metrics", {}, {}, 10s);
  BOOST_REQUIRE_MESSAGE(cleartext.ok(), (cleartext.ok() ? "" : cleartext.err().describe()));
  BOOST_TEST(cleartext->status == 400);
  BOOST_TEST(cleartext->body.find("https_required") != std::string::npos);
  BOOST_TEST(cleartext->body.find("joconde_") == std::string::npos);
  test::https_pki other{"Other"};
  trusting.ca_file = other.root_file();
  auto untrusted = http::client::send(url, "GET", "/metrics", {}, {}, trusting);
  BOOST_REQUIRE(!untrusted.ok());
  BOOST_TEST((untrusted.err().code == errc::untrusted_chain), untrusted.err().describe());

  // A TLS identity without a key does not start.
  options.tls->key = nullptr;
  auto keyless = metrics::registry::start(options, "n", "root");
  BOOST_REQUIRE(!keyless.ok());
  BOOST_TEST((keyless.err().code == errc::invalid_config), keyless.err().describe());
}

BOOST_AUTO_TEST_CASE(accessors_are_thread_safe) {
  auto reg = metrics::registry::make("n", "root");
  BOOST_TEST(reg->listen_address().empty());
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&reg, t] {
      for (int i = 0; i < 1000; ++i) {
        reg->rejected(errc::forbidden).Increment();
        reg->delivered("topic-" + std::to_string(i % 4)).Increment();
        reg->link_up("peer-" + std::to_string(t), "child").Set(1);
      }
    });
  for (auto& t : threads)
    t.join();
  BOOST_TEST(reg->rejected(errc::forbidden).Value() == 8000.0);
  BOOST_TEST(reg->delivered("topic-0").Value() == 2000.0);
  auto text = reg->text();
  BOOST_TEST(has_line(text, "joconde_envelopes_rejected_total{reason=\"forbidden\"} 8000"));
  BOOST_TEST(has_line(text, "joconde_links_up{direction=\"child\",peer=\"peer-7\"} 1"));
}

BOOST_AUTO_TEST_CASE(certificates_can_be_forgotten_and_raw_registry_is_shared) {
  auto reg = metrics::registry::make("n", "root");
  reg->certificate_expiry("old", "CN=old").Set(-5);
  reg->certificate_expiry("new", "CN=new").Set(1000);
  BOOST_TEST(reg->text().find("fingerprint=\"old\"") != std::string::npos);
  reg->forget_certificate("old", "CN=old");
  reg->forget_certificate("never", "CN=never"); // no-op
  auto text = reg->text();
  BOOST_TEST(text.find("fingerprint=\"old\"") == std::string::npos);
  BOOST_TEST(has_line(text, "joconde_certificate_expiry_seconds{fingerprint=\"new\",subject=\"CN=new\"} 1000"));

  auto& extra = prometheus::BuildCounter()
                  .Name("joconde_test_extra_total")
                  .Help("A family added through raw().")
                  .Register(reg->raw());
  extra.Add({}).Increment(2);
  BOOST_TEST(has_line(reg->text(), "joconde_test_extra_total 2"));
}

BOOST_AUTO_TEST_CASE(operators_families_count_requests_transfers_and_the_process) {
  auto reg = metrics::registry::make("node-a", "client");
  reg->received("cta.ctsa").Increment(2);
  reg->received("pki.revoked").Increment();
  reg->outbox_stalled("root").Set(42);
  reg->outbox_oldest_age("root").Set(17.5);
  reg->http_served("/v1/ctas/{uuid}", "GET", 200, 0.003);
  reg->http_served("/v1/ctas/{uuid}", "GET", 200, 0.2);
  reg->http_served("", "BREW", 404, 0);
  reg->transfer(true, "ok", 1000, 1.5);
  reg->transfer(true, "measurement_mismatch", 0, 0.1);
  reg->transfer(false, "ok", 212, 0.3);
  reg->attestations("ok").Increment(2);
  reg->ctas("emerging").Set(3);
  reg->ct_deadline("input").Set(3600);
  auto text = reg->text();
  BOOST_TEST_MESSAGE(text);
  BOOST_TEST(has_line(text, "joconde_envelopes_received_total{class=\"cta\"} 2"));
  BOOST_TEST(has_line(text, "joconde_envelopes_received_total{class=\"pki\"} 1"));
  BOOST_TEST(has_line(text, "joconde_outbox_stalled_seconds{peer=\"root\"} 42"));
  BOOST_TEST(has_line(text, "joconde_outbox_oldest_age_seconds{peer=\"root\"} 17.5"));
  BOOST_TEST(has_line(text, "joconde_http_requests_total{code=\"200\",method=\"GET\",route=\"/v1/ctas/{uuid}\"} 2"));
  // A made-up method and an unmatched path add no label values of their own.
  BOOST_TEST(has_line(text, "joconde_http_requests_total{code=\"404\",method=\"other\",route=\"unmatched\"} 1"));
  BOOST_TEST(has_line(text, "joconde_http_request_duration_seconds_count{route=\"/v1/ctas/{uuid}\"} 2"));
  BOOST_TEST(has_line(text, "joconde_http_request_duration_seconds_bucket{route=\"/v1/ctas/{uuid}\",le=\"0.005\"} 1"));
  BOOST_TEST(has_line(text, "joconde_uploads_total{result=\"ok\"} 1"));
  BOOST_TEST(has_line(text, "joconde_uploads_total{result=\"measurement_mismatch\"} 1"));
  BOOST_TEST(has_line(text, "joconde_upload_bytes_total 1000"));
  BOOST_TEST(has_line(text, "joconde_upload_duration_seconds_count 1"));
  BOOST_TEST(has_line(text, "joconde_downloads_total{result=\"ok\"} 1"));
  BOOST_TEST(has_line(text, "joconde_download_bytes_total 212"));
  BOOST_TEST(has_line(text, "joconde_attestations_total{result=\"ok\"} 2"));
  BOOST_TEST(has_line(text, "joconde_ctas{status=\"emerging\"} 3"));
  BOOST_TEST(has_line(text, "joconde_ctas{status=\"erased\"} 0"));
  BOOST_TEST(has_line(text, "joconde_ct_deadline_seconds{deadline=\"input\"} 3600"));
  BOOST_TEST(has_line(text, "joconde_ct_deadline_seconds{deadline=\"approval\"} +Inf"));
  BOOST_TEST(has_line(text, "joconde_audit_verify_failures_total 0"));
  // This process's own: a resident size and at least stdin, stdout and stderr open.
  auto value_of = [&](const std::string& name) {
    auto at = text.find("\n" + name + " ");
    BOOST_REQUIRE_MESSAGE(at != std::string::npos, name);
    return std::stod(text.substr(at + name.size() + 2));
  };
  BOOST_TEST(value_of("process_resident_memory_bytes") > 1e6);
  BOOST_TEST(value_of("process_open_fds") >= 3);
  BOOST_TEST(value_of("process_start_time_seconds") > 1.7e9);
  BOOST_TEST(value_of("process_cpu_seconds_total") >= 0);
}
