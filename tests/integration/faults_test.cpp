#define BOOST_TEST_MODULE faults
#include <boost/test/unit_test.hpp>

// Faults reported where operators look, on a real six-node cluster (issue 14). A full disk: client-a's
// store sits on a small tmpfs in a private mount namespace of this test (its nodes inherit it; the
// machine never sees the mount); filled up, client-a says "no space left on device" naming its store
// in its log and on /healthz (degraded, 503), counts the failed commits, and keeps answering; the
// root, whose envelopes client-a cannot acknowledge, backs its resends off (shown in
// joconde_resend_backoff_seconds) instead of sending everything again every few seconds; when space
// returns, client-a takes what was waiting, nothing accepted is lost or doubled, /healthz is ok and
// the root's resends are back to their first wait. An authenticated link closed normally (a node
// stopped with SIGTERM) is no refused TLS handshake at the other end, while a TLS 1.2 probe still is.
// The broker's resend waits are shortened for the test (1 s doubling to 8 s) through the environment
// (JOCONDE_BROKER_RETRY_AFTER_MS, JOCONDE_BROKER_RETRY_MAX_MS); every wait is bounded.

#include "support/files.hpp"
#include "support/cluster.hpp"
#include "support/small_disk.hpp"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include <sys/types.h>

using namespace joconde;
using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string client_a = "client-a.joconde.test";

std::optional<test::cluster> cluster;

/// The mount namespace first (this process has one thread yet), then the cluster in it.
struct global_cluster {
  global_cluster() {
    test::enter_private_mount_namespace();
    ::setenv("JOCONDE_BROKER_RETRY_AFTER_MS", "1000", 1);
    ::setenv("JOCONDE_BROKER_RETRY_MAX_MS", "8000", 1);
    cluster.emplace("faults");
  }
  ~global_cluster() { cluster.reset(); }
};

BOOST_TEST_GLOBAL_FIXTURE(global_cluster);

/// Number of entries in `node`'s inbox under `topic`, or -1 if it cannot be read.
long inbox_count(const std::string& node, const std::string& topic) {
  auto [status, doc] = cluster->call(node, "GET", "/v1/inbox?count_only=1&topic=" + topic);
  return status == 200 ? doc.value("count", -1L) : -1L;
}

/// Publishes `count` envelopes of `bytes` each from client-b to client-a (through the root).
void publish_to_a(const std::string& topic, int count, size_t bytes) {
  auto [status, doc] = cluster->call("client-b", "POST", "/v1/envelopes",
                                     json{{"topic", topic}, {"recipients", {"client-a"}},
                                          {"payload", std::string(bytes, 'p')}, {"count", count}});
  BOOST_REQUIRE_MESSAGE(status == 202, "publish at client-b: " << status << " " << doc.dump());
}

/// GET /healthz of `node` without a token: {status, document}.
std::pair<int, json> healthz(const std::string& node) {
  return cluster->call_as(node, {}, "GET", "/healthz", {}, "");
}

double backoff_at_root() {
  return cluster->metric("root", "joconde_resend_backoff_seconds{peer=\"" + client_a + "\"}");
}

/// The sum of every joconde_tls_refused_total series of `node`.
double tls_refusals(const std::string& node) {
  std::istringstream text{cluster->metrics(node)};
  double sum = 0;
  for (std::string line; std::getline(text, line);)
    if (line.rfind("joconde_tls_refused_total{", 0) == 0)
      sum += std::stod(line.substr(line.rfind(' ') + 1));
  return sum;
}

using test::read_all;

} // namespace

BOOST_AUTO_TEST_CASE(a_full_disk_says_no_space_degrades_healthz_backs_resends_off_and_loses_nothing) {
  auto& c = *cluster;
  // client-a's store moves onto a small disk of its own while client-a is stopped.
  auto data = c.data_dir("client-a");
  auto store = (data / "store").lexically_normal();
  auto saved = c.dir() / "client-a-store";
  BOOST_REQUIRE_EQUAL(c.ops("kill client-a"), 0);
  fs::copy(store, saved, fs::copy_options::recursive);
  std::uintmax_t used = 0;
  for (const auto& f : fs::directory_iterator{saved})
    used += fs::file_size(f.path());
  test::small_disk disk{store, used + (8 << 20)};
  fs::copy(saved, store, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  fs::remove_all(saved);
  BOOST_REQUIRE_EQUAL(c.ops("start client-a"), 0);
  c.reload();

  // The twin first: with room on the disk, envelopes arrive at once and nothing is degraded.
  publish_to_a("faults.before", 3, 60000);
  BOOST_REQUIRE(test::cluster::wait_until([&] { return inbox_count("client-a", "faults.before") == 3; }, 60s));
  auto [ok_status, ok_doc] = healthz("client-a");
  BOOST_CHECK_EQUAL(ok_status, 200);
  BOOST_CHECK_EQUAL(ok_doc.value("status", ""), "ok");
  BOOST_CHECK(ok_doc["degraded"].empty());
  // (A slow acknowledgement on a busy machine may double it for a moment; the next one resets it.)
  BOOST_CHECK(test::cluster::wait_until([&] { return backoff_at_root() == 1.0; }, 30s));
  BOOST_CHECK_EQUAL(c.metric("client-a", "joconde_storage_failures_total{reason=\"no_space\"}"), 0.0);

  // The disk fills up; 40 envelopes of 60 kB cannot be stored at client-a (each is kept in its
  // inbox with its payload in hex, 120 kB).
  BOOST_TEST_MESSAGE("filler: " << disk.fill() << " bytes; " << test::free_bytes(store) << " bytes free");
  const std::string retried_faults = "joconde_envelopes_retried_total{class=\"faults\"}";
  const std::string oldest_for_a = "joconde_outbox_oldest_age_seconds{peer=\"" + client_a + "\"}";
  auto retried_before = c.metric("root", retried_faults);
  publish_to_a("faults.full", 40, 60000);
  json doc;
  bool degraded = test::cluster::wait_until(
    [&] {
      auto h = healthz("client-a");
      doc = h.second;
      return h.first == 503 && doc.value("status", "") == "degraded";
    },
    60s);
  BOOST_REQUIRE_MESSAGE(degraded, "client-a's /healthz never said degraded: "
                                    << doc.dump() << "; faults.full in its inbox: "
                                    << inbox_count("client-a", "faults.full") << "; "
                                    << test::free_bytes(store) << " bytes free");
  BOOST_REQUIRE_EQUAL(doc["degraded"].size(), 1u);
  auto fault = doc["degraded"][0];
  BOOST_CHECK_EQUAL(fault.value("component", ""), "store");
  BOOST_CHECK_EQUAL(fault.value("reason", ""), "no_space");
  auto message = fault.value("message", "");
  BOOST_CHECK_MESSAGE(message.find("no space left on device") != std::string::npos, message);
  BOOST_CHECK_MESSAGE(message.find(store.string()) != std::string::npos, message);
  BOOST_CHECK_EQUAL(doc.value("ready", true), false);
  BOOST_CHECK_GE(c.metric("client-a", "joconde_storage_failures_total{reason=\"no_space\"}"), 1.0);
  auto log = data / "node.log.rfc5424";
  BOOST_CHECK_GE(test::count_lines_with_all(log, {"no space left on device", store.string()}), 1u);
  BOOST_CHECK_EQUAL(test::count_lines(log, "Input/output error"), 0u);

  // The root backs off: each resend that goes unacknowledged doubles the wait, up to 8 s here.
  BOOST_REQUIRE_MESSAGE(test::cluster::wait_until([&] { return backoff_at_root() >= 8.0; }, 90s),
                        "the root's resend wait for client-a stayed at " << backoff_at_root() << " s");
  auto retried_at_cap = c.metric("root", retried_faults);
  BOOST_CHECK_GT(retried_at_cap, retried_before);
  BOOST_REQUIRE(test::cluster::wait_until([&] { return c.metric("root", retried_faults) > retried_at_cap; }, 60s));
  // The 40 have waited at the root since before the first resend (1 + 2 + 4 s at least).
  BOOST_CHECK_MESSAGE(test::cluster::wait_until([&] { return c.metric("root", oldest_for_a) >= 7.0; }, 30s),
                      "the root's oldest envelope for client-a is " << c.metric("root", oldest_for_a) << " s old");
  BOOST_CHECK_EQUAL(backoff_at_root(), 8.0); // capped
  auto root_log = c.data_dir("root") / "node.log.rfc5424";
  for (auto wait : {"2000", "4000", "8000"})
    BOOST_CHECK_MESSAGE(test::count_lines_with_all(root_log, {"resending", client_a,
                                                              std::string{"backoff_ms=\""} + wait + "\""})
                          >= 1,
                        "no resend to client-a with a wait of " << wait << " ms in the root's log");

  // client-a keeps serving: reads, its API, what it had accepted.
  BOOST_CHECK_EQUAL(c.call("client-a", "GET", "/v1/status").first, 200);
  BOOST_CHECK_EQUAL(inbox_count("client-a", "faults.before"), 3);
  BOOST_CHECK_EQUAL(inbox_count("client-a", "faults.full"), 0);

  // Space returns: client-a takes the 40 at the root's next resend, once each; all is well again.
  disk.empty();
  BOOST_REQUIRE_MESSAGE(test::cluster::wait_until([&] { return inbox_count("client-a", "faults.full") == 40; }, 60s),
                        "client-a's inbox holds " << inbox_count("client-a", "faults.full")
                                                  << " envelopes of faults.full");
  BOOST_REQUIRE(test::cluster::wait_until([&] { return healthz("client-a").first == 200; }, 30s));
  auto [after_status, after] = healthz("client-a");
  BOOST_CHECK_EQUAL(after.value("status", ""), "ok");
  BOOST_CHECK(after["degraded"].empty());
  BOOST_CHECK(test::cluster::wait_until([&] { return backoff_at_root() == 1.0; }, 30s));
  BOOST_CHECK_EQUAL(inbox_count("client-a", "faults.before"), 3);
  BOOST_CHECK_EQUAL(inbox_count("client-a", "faults.full"), 40);
  BOOST_CHECK(test::cluster::wait_until(
    [&] { return c.metric("root", "joconde_outbox_depth{peer=\"" + client_a + "\"}") == 0.0; }, 30s));
  BOOST_CHECK(test::cluster::wait_until([&] { return c.metric("root", oldest_for_a) == 0.0; }, 30s));
  BOOST_CHECK_EQUAL(c.ops("status"), 0);

  // Stop client-a before its disk goes away (the fixture's `down` finds it stopped).
  BOOST_CHECK_EQUAL(c.ops("kill client-a"), 0);
}

BOOST_AUTO_TEST_CASE(a_normal_close_of_an_authenticated_link_is_no_refused_tls_handshake) {
  auto& c = *cluster;
  auto node = c.node("client-b");
  auto pid = node["pid"].get<pid_t>();
  auto child = "joconde_links_up{direction=\"child\",peer=\"client-b.joconde.test\"}";
  BOOST_REQUIRE_EQUAL(c.metric("root", child), 1.0);
  auto refused_before = tls_refusals("root");
  auto root_log = c.data_dir("root") / "node.log.rfc5424";
  auto lines_before = test::count_lines(root_log, "TLS handshake from");
  auto version = "joconde_tls_refused_total{direction=\"in\",reason=\"protocol_version\"}";
  auto version_before = c.metric("root", version);

  // client-b stops cleanly and starts again: its link closes and comes back.
  BOOST_REQUIRE_EQUAL(::kill(pid, SIGTERM), 0);
  BOOST_REQUIRE(test::cluster::wait_until([&] { return c.metric("root", child) == 0.0; }, 30s));
  BOOST_REQUIRE(test::cluster::wait_until(
    [&] {
      auto stat = read_all("/proc/" + std::to_string(pid) + "/stat");
      return stat.empty() || stat.find(") Z ") != std::string::npos;
    },
    30s));
  BOOST_REQUIRE_EQUAL(c.ops("start client-b"), 0);
  c.reload();
  BOOST_REQUIRE(test::cluster::wait_until([&] { return c.metric("root", child) == 1.0; }, 60s));
  BOOST_CHECK_EQUAL(tls_refusals("root"), refused_before);
  BOOST_CHECK_EQUAL(test::count_lines(root_log, "TLS handshake from"), lines_before);

  // The twin: a TLS 1.2 probe at the root's link port is a refused handshake, counted once.
  auto probe = "timeout 10 openssl s_client -connect " + c.node("root")["listen"].get<std::string>()
               + " -tls1_2 < /dev/null > /dev/null 2>&1";
  (void) std::system(probe.c_str());
  BOOST_CHECK(test::cluster::wait_until([&] { return tls_refusals("root") == refused_before + 1; }, 15s));
  BOOST_CHECK_EQUAL(c.metric("root", version), version_before + 1);
  BOOST_CHECK_EQUAL(test::count_lines(root_log, "TLS handshake from"), lines_before + 1);
}
