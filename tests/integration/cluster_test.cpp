#define BOOST_TEST_MODULE cluster
#include <boost/test/unit_test.hpp>

#include "support/cluster.hpp"
#include "support/files.hpp"
#include "support/test_pki.hpp"

#include "joconde/runtime/http_client.hpp"

#include "joconde/runtime/crypto.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include <sys/wait.h>

using namespace joconde;
using namespace std::chrono_literals;
using nlohmann::json;

BOOST_AUTO_TEST_CASE(cluster_comes_up_and_every_node_serves_metrics) {
  test::cluster c{"up"};
  BOOST_CHECK_EQUAL(c.ops("status"), 0);
  for (auto name : {"root", "cp1", "cp2", "cp3", "client-a", "client-b"}) {
    auto text = c.metrics(name);
    BOOST_CHECK_MESSAGE(text.find("joconde_build_info") != std::string::npos, name);
    BOOST_CHECK_MESSAGE(text.find("joconde_links_up") != std::string::npos, name);
  }
  BOOST_CHECK_EQUAL(c.metric("root", "joconde_links_up{direction=\"child\"}"), 5.0);
  // With the admin token the API shows every Management Plane actor.
  auto [status, doc] = c.call("root", "GET", "/v1/status");
  BOOST_CHECK_EQUAL(status, 200);
  BOOST_CHECK_EQUAL(doc["key_manager"].value("backend", ""), "file");
  BOOST_CHECK_EQUAL(doc["access_manager"].value("role", ""), "root");
  BOOST_CHECK_EQUAL(doc["access_manager"]["children"].value("cp1.joconde.test", ""), "computing");
  BOOST_CHECK_EQUAL(doc["access_manager"]["children"].value("client-a.joconde.test", ""), "client");
  // People: every node has one user per role; each call needs its role and is logged with the user.
  auto [who, me] = c.call_as("client-a", "auditor", "GET", "/v1/whoami");
  BOOST_CHECK_EQUAL(who, 200);
  BOOST_CHECK_EQUAL(me.value("user", ""), "auditor");
  BOOST_CHECK_EQUAL(c.call_as("client-a", "auditor", "GET", "/v1/status").first, 200);
  auto denied = c.metric("client-a", "joconde_policy_denials_total{rule=\"api.role\"}");
  auto [no_role, why] = c.call_as("client-a", "auditor", "POST", "/v1/envelopes",
                                  json{{"topic", "test.role"}, {"recipients", {"cp1"}}, {"payload", "x"}});
  BOOST_CHECK_EQUAL(no_role, 403);
  BOOST_CHECK_MESSAGE(why.dump().find("it_admin") != std::string::npos, why.dump());
  BOOST_CHECK_EQUAL(c.metric("client-a", "joconde_policy_denials_total{rule=\"api.role\"}"), denied + 1);
  BOOST_CHECK_EQUAL(c.call_as("client-a", "task_organiser", "GET", "/v1/users").first, 403);
  BOOST_CHECK_EQUAL(c.call_as("client-a", "it_admin", "GET", "/v1/users").first, 200);
  BOOST_CHECK_EQUAL(c.call_as("client-a", {}, "GET", "/v1/status", {}, "jct_" + std::string(64, '0')).first, 401);
  BOOST_CHECK_EQUAL(c.call_as("client-a", {}, "GET", "/v1/status", {}, "").first, 401);
  // Another node's token is worth nothing here.
  auto cp1_token = c.node("cp1")["users"]["it_admin"]["token"].get<std::string>();
  BOOST_CHECK_EQUAL(c.call_as("client-a", {}, "GET", "/v1/status", {}, cp1_token).first, 401);
  BOOST_CHECK(test::count_lines(c.data_dir("client-a") / "node.log.rfc5424", "user=\"auditor\" status=\"200\"] GET /v1/status") >= 1);
  BOOST_CHECK(test::count_lines(c.data_dir("client-a") / "audit.log", "subject=\"auditor\" action=\"POST /v1/envelopes\"") == 1);
  // No token is written to a log.
  for (auto name : {"root", "client-a"})
    BOOST_CHECK_EQUAL(test::count_lines(c.data_dir(name) / "node.log.rfc5424", "jct_"), 0u);
  auto auditor_token = c.node("client-a")["users"]["auditor"]["token"].get<std::string>();
  BOOST_CHECK_EQUAL(test::count_lines(c.dir() / "setup.log", auditor_token), 0u);
  // -- HTTPS only, verified (issue 13): the negative twins, each with its own error --
  auto url = c.node("client-a")["http_url"].get<std::string>();
  auto ca = c.node("client-a")["root_ca"].get<std::string>();
  // Plain HTTP to the API port: a clear 400 that says to use https, nothing served.
  auto plain = http::client::send("http://" + url.substr(std::string{"https://"}.size()), "GET", "/healthz");
  BOOST_REQUIRE(plain.ok());
  BOOST_CHECK_EQUAL(plain->status, 400);
  BOOST_CHECK(plain->body.find("https_required") != std::string::npos);
  BOOST_CHECK_EQUAL(c.metric("client-a", "joconde_http_refused_total{reason=\"https_required\"}"), 1.0);
  // A CA that did not issue the node's certificate (another federation's root): no connection.
  test::test_pki other{"elsewhere.test"};
  auto other_ca = c.dir() / "other-root-ca.pem";
  std::ofstream{other_ca} << other.root_ca().to_pem();
  http::client_options wrong;
  wrong.ca_file = other_ca.string();
  auto untrusted = http::client::send(url, "GET", "/v1/whoami", {}, auditor_token, wrong);
  BOOST_REQUIRE(!untrusted);
  BOOST_CHECK(untrusted.err().code == errc::untrusted_chain);
  // The same for a person with the CLI: exit 3 (no trusted connection), the reason on stderr;
  // a token for plain HTTP to another host is refused before anything is sent (exit 2).
  auto cli = [&](const std::string& args) {
    auto err = c.dir() / "cli.err";
    auto cmd = std::string{JOCONDE_BINARY_DIR} + "/bin/joconde " + args + " 2> " + err.string() + " > /dev/null";
    auto rc = std::system(cmd.c_str());
    std::ifstream in{err};
    std::string text{std::istreambuf_iterator<char>{in}, {}};
    return std::pair{WIFEXITED(rc) ? WEXITSTATUS(rc) : 128, text};
  };
  auto [rc_untrusted, said] = cli("whoami --url " + url + " --ca-file " + other_ca.string() + " --token "
                                  + auditor_token);
  BOOST_CHECK_EQUAL(rc_untrusted, 3);
  BOOST_CHECK_MESSAGE(said.rfind("joconde: untrusted_chain: ", 0) == 0, said);
  auto [rc_clear, refused] = cli("whoami --url http://198.18.0.77:8443 --token " + auditor_token);
  BOOST_CHECK_EQUAL(rc_clear, 2);
  BOOST_CHECK_MESSAGE(refused.rfind("joconde: forbidden: ", 0) == 0, refused);
  auto [rc_ok, fine] = cli("whoami --url " + url + " --ca-file " + ca + " --token " + auditor_token);
  BOOST_CHECK_MESSAGE(rc_ok == 0, fine);
  // The node's own chain pins it too (every certificate of the CA file is a trust anchor).
  http::client_options pinned;
  pinned.ca_file = (c.data_dir("client-a") / "http-chain.pem").string();
  auto pin = http::client::send(url, "GET", "/v1/whoami", {}, auditor_token, pinned);
  BOOST_REQUIRE_MESSAGE(pin.ok(), (pin ? std::string{} : pin.err().describe()));
  BOOST_CHECK_EQUAL(pin->status, 200);
  // Every node stops cleanly on SIGTERM (ops/cluster down fails if one had to be killed).
  BOOST_CHECK_EQUAL(c.ops("down"), 0);
}

BOOST_AUTO_TEST_CASE(an_envelope_reaches_exactly_its_recipients) {
  test::cluster c{"unicast"};
  auto canary = "canary-" + crypto::hex(crypto::random_bytes(12));
  auto [status, doc] = c.call("client-a", "POST", "/v1/envelopes",
                              json{{"topic", "test.unicast"}, {"recipients", {"cp1", "cp2"}},
                                   {"payload", canary}});
  BOOST_REQUIRE_EQUAL(status, 202);
  auto id = doc["ids"][0].get<std::string>();
  BOOST_CHECK(test::cluster::wait_until(
    [&] { return c.inbox_ids("cp1", "test.unicast").count(id) && c.inbox_ids("cp2", "test.unicast").count(id); },
    30s));
  // The access policy: the API may not publish on the Management Plane's topics, nor on a topic
  // that is not dot-separated lowercase labels.
  auto denials = c.metric("client-a", "joconde_policy_denials_total{rule=\"api.reserved-topic\"}");
  auto [forbidden, why] = c.call("client-a", "POST", "/v1/envelopes",
                                 json{{"topic", "pki.revocation"}, {"recipients", {"cp1"}},
                                      {"payload", "x"}});
  BOOST_CHECK_EQUAL(forbidden, 403);
  BOOST_CHECK_MESSAGE(why.dump().find("reserved") != std::string::npos, why.dump());
  BOOST_CHECK_EQUAL(c.metric("client-a", "joconde_policy_denials_total{rule=\"api.reserved-topic\"}"),
                    denials + 1);
  auto [bad_topic, why2] = c.call("client-a", "POST", "/v1/envelopes",
                                  json{{"topic", "Test/../x"}, {"recipients", {"cp1"}}, {"payload", "x"}});
  BOOST_CHECK_EQUAL(bad_topic, 403);
  // Fields of the wrong type, and a publish that would make more than 64 MiB of envelopes: a clear
  // 400 each, nothing published.
  for (const auto& bad : {json{{"topic", "test.bad"}, {"recipients", {"cp1"}}, {"count", "many"}},
                          json{{"topic", "test.bad"}, {"recipients", {"cp1"}}, {"payload", 7}},
                          json{{"topic", "test.bad"}, {"recipients", {"cp1"}},
                               {"payload", std::string(700 * 1024, 'x')}, {"count", 100}}}) {
    auto [bad_status, bad_why] = c.call("client-a", "POST", "/v1/envelopes", bad);
    BOOST_CHECK_EQUAL(bad_status, 400);
    auto code = bad_why.contains("error") ? bad_why["error"].value("code", "") : "";
    BOOST_CHECK_MESSAGE(code == "malformed_input" || code == "too_large", bad_why.dump().substr(0, 300));
  }
  BOOST_CHECK(c.inbox_ids("cp1", "test.bad").empty());
  // Nobody else has it: not in their inboxes, not in any of their files (store, logs, audit).
  BOOST_CHECK(c.inbox_ids("root", "test.unicast").empty());
  for (auto name : {"cp3", "client-b"}) {
    BOOST_CHECK(c.inbox_ids(name, "test.unicast").empty());
    BOOST_CHECK_MESSAGE(!test::any_file_contains(c.data_dir(name), canary), name << " holds the payload");
    BOOST_CHECK_MESSAGE(!test::any_file_contains(c.data_dir(name), id), name << " saw the envelope");
  }
  // The root relayed it and audited it; cp1 and cp2 audited its delivery.
  BOOST_CHECK_EQUAL(test::count_lines(c.data_dir("root") / "audit.log", id), 1u);
  BOOST_CHECK(test::count_lines(c.data_dir("cp1") / "audit.log", id) >= 1);
  BOOST_CHECK_EQUAL(c.ops("status"), 0);
}

BOOST_AUTO_TEST_CASE(kill_9_of_the_root_mid_stream_loses_and_duplicates_nothing) {
  test::cluster c{"faults"};
  std::set<std::string> published;
  std::mutex mtx;
  bool publish_failed = false;
  // client-a publishes 1,000 envelopes to cp1 in 40 batches while the root is killed and restarted.
  std::thread publisher{[&] {
    for (int i = 0; i < 40; ++i) {
      auto [status, doc] = c.call("client-a", "POST", "/v1/envelopes",
                                  json{{"topic", "test.stream"}, {"recipients", {"cp1"}},
                                       {"payload", "x"}, {"count", 25}});
      std::lock_guard guard{mtx};
      if (status != 202) {
        publish_failed = true;
        return;
      }
      for (const auto& id : doc["ids"])
        published.insert(id.get<std::string>());
      std::this_thread::sleep_for(40ms);
    }
  }};
  test::cluster::wait_until([&] { return c.inbox_ids("cp1", "test.stream").size() >= 100; }, 30s);
  BOOST_REQUIRE_EQUAL(c.ops("kill root"), 0); // kill -9 while envelopes are on their way
  auto at_kill = c.inbox_ids("cp1", "test.stream").size();
  BOOST_TEST_MESSAGE("cp1 had " << at_kill << " envelopes when the root was killed");
  std::this_thread::sleep_for(500ms);
  BOOST_REQUIRE_EQUAL(c.ops("start root"), 0);
  publisher.join();
  BOOST_REQUIRE(!publish_failed);
  BOOST_REQUIRE_EQUAL(published.size(), 1000u);
  BOOST_CHECK_LT(at_kill, 1000u); // the kill really came in the middle of the stream
  BOOST_CHECK(test::cluster::wait_until(
    [&] { return c.inbox_ids("cp1", "test.stream").size() >= 1000; }, 120s));
  auto got = c.inbox_ids("cp1", "test.stream");
  BOOST_CHECK_EQUAL(got.size(), 1000u);
  BOOST_CHECK(got == published);
  // Exactly once to the application: one "delivered" audit record per id at cp1.
  std::ifstream audit{c.data_dir("cp1") / "audit.log"};
  std::map<std::string, int> deliveries;
  std::string line;
  while (std::getline(audit, line)) {
    if (line.find("decision=\"delivered\"") == std::string::npos)
      continue;
    for (const auto& id : published)
      if (line.find(id) != std::string::npos)
        ++deliveries[id];
  }
  size_t once = 0;
  for (const auto& [id, n] : deliveries)
    once += n == 1 ? 1 : 0;
  BOOST_CHECK_EQUAL(deliveries.size(), 1000u);
  BOOST_CHECK_EQUAL(once, 1000u);
  BOOST_CHECK_EQUAL(c.ops("status"), 0);
}

// Envelopes are forwarded before the commit at their origin and at the root, and acknowledged (or
// answered to the publisher) only after it. Killing the origin or the destination mid-stream must
// still lose no answered envelope and deliver none twice.
BOOST_AUTO_TEST_CASE(kill_9_of_the_origin_or_the_destination_mid_stream_loses_and_duplicates_nothing) {
  test::cluster c{"faults2"};
  for (const std::string victim : {"client-a", "cp1"}) {
    auto topic = "test.stream." + std::string{victim == "cp1" ? "dest" : "origin"};
    std::set<std::string> answered; // ids of publishes answered 202: durable at client-a
    int unanswered_calls = 0;       // calls that failed while client-a was down
    std::mutex mtx;
    std::thread publisher{[&] {
      for (int i = 0; i < 40;) {
        auto [status, doc] = c.call("client-a", "POST", "/v1/envelopes",
                                    json{{"topic", topic}, {"recipients", {"cp1"}},
                                         {"payload", "x"}, {"count", 25}});
        std::lock_guard guard{mtx};
        if (status == 202) {
          for (const auto& id : doc["ids"])
            answered.insert(id.get<std::string>());
          ++i;
        } else if (++unanswered_calls > 200) {
          return;
        }
        std::this_thread::sleep_for(40ms);
      }
    }};
    test::cluster::wait_until([&] { return c.inbox_ids("cp1", topic).size() >= 100; }, 30s);
    BOOST_REQUIRE_EQUAL(c.ops("kill " + victim), 0);
    size_t at_kill = 0;
    {
      std::lock_guard guard{mtx};
      at_kill = answered.size();
    }
    std::this_thread::sleep_for(500ms);
    BOOST_REQUIRE_EQUAL(c.ops("start " + victim), 0);
    publisher.join();
    BOOST_REQUIRE_EQUAL(answered.size(), 1000u);
    BOOST_CHECK_LT(at_kill, 1000u); // the kill really came in the middle of the stream
    BOOST_CHECK(test::cluster::wait_until(
      [&] { return c.inbox_ids("cp1", topic).size() >= 1000; }, 120s));
    auto got = c.inbox_ids("cp1", topic);
    BOOST_TEST_MESSAGE(victim << " killed after " << at_kill << " answered; " << unanswered_calls
                              << " calls unanswered; cp1 holds " << got.size());
    // Every answered envelope arrived; an unanswered call's envelopes may have arrived too (they
    // were forwarded before the origin died), but no more than those calls carried.
    BOOST_CHECK(std::includes(got.begin(), got.end(), answered.begin(), answered.end()));
    BOOST_CHECK_LE(got.size(), answered.size() + 25u * static_cast<size_t>(unanswered_calls));
    // Exactly once to the application: one "delivered" audit record per id at cp1.
    std::ifstream audit{c.data_dir("cp1") / "audit.log"};
    std::map<std::string, int> deliveries;
    std::string line;
    while (std::getline(audit, line)) {
      if (line.find("decision=\"delivered\"") == std::string::npos
          || line.find("topic=\"" + topic + "\"") == std::string::npos)
        continue;
      auto at = line.find(" id=\"");
      BOOST_REQUIRE(at != std::string::npos);
      ++deliveries[line.substr(at + 5, 32)];
    }
    BOOST_CHECK_EQUAL(deliveries.size(), got.size());
    for (const auto& [id, n] : deliveries)
      BOOST_CHECK_MESSAGE(n == 1, victim << ": " << id << " delivered " << n << " times");
    BOOST_CHECK(test::cluster::wait_until([&] { return c.ops("status") == 0; }, 60s));
  }
}

BOOST_AUTO_TEST_CASE(a_revoked_node_is_cut_off_and_refused_at_connect) {
  test::cluster c{"revoke"};
  auto bin = std::string{JOCONDE_BINARY_DIR} + "/bin/joconde-node";
  auto run = [&](const std::string& args) {
    auto cmd = bin + " " + args + " > " + (c.dir() / "revoke.out").string() + " 2>&1";
    auto rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 1;
  };
  auto fp = c.node("cp3")["fingerprint"].get<std::string>();
  // Negative twins first: a member may not mark another node's key, nor revoke someone else's.
  BOOST_CHECK_NE(run("revoke --dir " + c.data_dir("cp1").string() + " --root-mark --node cp3.joconde.test"
                     " --fingerprint " + fp + " --reason x"), 0);
  BOOST_CHECK_NE(run("revoke --dir " + c.data_dir("cp1").string() + " --fingerprint " + fp + " --reason x"), 0);
  BOOST_CHECK_EQUAL(c.metric("root", "joconde_links_up{peer=\"cp3.joconde.test\"}"), 1.0);
  // The root marks cp3's key as lost.
  BOOST_REQUIRE_EQUAL(run("revoke --dir " + c.data_dir("root").string() + " --root-mark --node cp3.joconde.test"
                          " --fingerprint " + fp + " --reason lost"), 0);
  BOOST_CHECK(test::cluster::wait_until(
    [&] { return c.metric("root", "joconde_links_up{peer=\"cp3.joconde.test\"}") == 0.0; }, 10s));
  // Every other node learns of it.
  for (auto name : {"cp1", "cp2", "client-a", "client-b"})
    BOOST_CHECK_MESSAGE(test::cluster::wait_until(
                          [&] { return test::count_lines(c.data_dir(name) / "audit.log", "pki.revoked") == 1; }, 10s),
                        name);
  // Its key is never registered again (spec §4.4.2.3): a request under another name with cp3's key
  // is refused at the root, for the key.
  auto passphrase = test::read_all(c.data_dir("cp3") / "passphrase");
  while (!passphrase.empty() && (passphrase.back() == '\n' || passphrase.back() == '\r'))
    passphrase.pop_back();
  auto cp3_key = crypto::private_key::from_pem(test::read_all(c.data_dir("cp3") / "node.key"), passphrase);
  BOOST_REQUIRE_MESSAGE(cp3_key, (cp3_key ? std::string{} : cp3_key.err().describe()));
  crypto::subject again_subject;
  again_subject.common_name = "cp9";
  again_subject.organisation = "joconde test";
  auto again_csr = crypto::certificate_request::create(*cp3_key, again_subject, "cp9").value();
  {
    std::ofstream out{c.dir() / "again.csr.pem"};
    out << again_csr.to_pem();
  }
  BOOST_CHECK_NE(run("enrol --dir " + c.data_dir("root").string() + " --csr " + (c.dir() / "again.csr.pem").string()
                     + " --role computing --out " + (c.dir() / "again.pem").string()),
                 0);
  BOOST_CHECK_MESSAGE(test::count_lines(c.dir() / "revoke.out", "which was revoked") == 1,
                      test::read_all(c.dir() / "revoke.out"));
  BOOST_CHECK(!std::filesystem::exists(c.dir() / "again.pem"));
  // Envelopes to cp3 no longer leave the root; a restarted cp3 is refused at connect.
  BOOST_REQUIRE_EQUAL(c.ops("kill cp3"), 0);
  auto before = c.metric("root", "joconde_handshakes_total{result=\"certificate_revoked\"}");
  c.ops("start cp3 --timeout 5"); // cannot become ready: its link is refused
  BOOST_CHECK(test::cluster::wait_until(
    [&] { return c.metric("root", "joconde_handshakes_total{result=\"certificate_revoked\"}") > before; }, 15s));
  BOOST_CHECK_EQUAL(c.metric("root", "joconde_links_up{peer=\"cp3.joconde.test\"}"), 0.0);
  // ... with the reason in the root's log.
  BOOST_CHECK(test::count_lines(c.data_dir("root") / "node.log.rfc5424", "reason=\"certificate_revoked\"") >= 1);
  // The rest of the tree is healthy.
  auto [status, doc] = c.call("client-a", "POST", "/v1/envelopes",
                              json{{"topic", "after.revoke"}, {"recipients", {"cp1"}}, {"payload", "ok"}});
  BOOST_REQUIRE_EQUAL(status, 202);
  BOOST_CHECK(test::cluster::wait_until([&] { return c.inbox_ids("cp1", "after.revoke").size() == 1; }, 10s));

  // A General Manager of client-b has the node revoke its own certificate (spec §4.4.2.3), signed
  // with its own key. Refused first, changing nothing: another role, a revocation made elsewhere
  // (IT administrators only), no reason, an empty one, a blank one, a number, one too long.
  auto client_b_fp = c.node("client-b")["fingerprint"].get<std::string>();
  auto revoked_at_cp1 = [&] { return test::count_lines(c.data_dir("cp1") / "audit.log", "pki.revoked"); };
  BOOST_CHECK_EQUAL(c.call_as("client-b", "data_analyst", "POST", "/v1/revocations", json{{"reason", "leak"}}).first, 403);
  BOOST_CHECK_EQUAL(c.call_as("client-b", "general_manager", "POST", "/v1/revocations",
                              json{{"revocation_hex", "0a00"}}).first, 403);
  for (const auto& bad : {json::object(), json{{"reason", ""}}, json{{"reason", " \t "}}, json{{"reason", 7}},
                          json{{"reason", std::string(1025, 'x')}}})
    BOOST_CHECK_EQUAL(c.call_as("client-b", "general_manager", "POST", "/v1/revocations", bad).first, 400);
  BOOST_CHECK_EQUAL(c.metric("root", "joconde_links_up{peer=\"client-b.joconde.test\"}"), 1.0);
  BOOST_CHECK_EQUAL(revoked_at_cp1(), 1u);
  auto [revoked, answer] = c.call_as("client-b", "general_manager", "POST", "/v1/revocations",
                                     json{{"reason", "the key may have leaked"}});
  BOOST_REQUIRE_MESSAGE(revoked == 200, answer.dump());
  BOOST_CHECK_EQUAL(answer.value("revoked", ""), client_b_fp);
  BOOST_CHECK_EQUAL(test::count_lines(c.data_dir("client-b") / "audit.log", "pki.revocation.requested"), 1u);
  BOOST_CHECK(test::cluster::wait_until(
    [&] { return c.metric("root", "joconde_links_up{peer=\"client-b.joconde.test\"}") == 0.0; }, 10s));
  BOOST_CHECK_MESSAGE(test::cluster::wait_until([&] { return revoked_at_cp1() == 2; }, 10s),
                      "cp1 did not learn of client-b's revocation");
}

BOOST_AUTO_TEST_CASE(a_rotated_key_is_used_after_a_restart) {
  test::cluster c{"rotate"};
  auto bin = std::string{JOCONDE_BINARY_DIR} + "/bin/joconde-node";
  auto fingerprint = [&] {
    auto cmd = bin + " fingerprint --dir " + c.data_dir("cp1").string();
    std::string out;
    if (auto* p = ::popen(cmd.c_str(), "r")) {
      char buf[512];
      while (auto n = std::fread(buf, 1, sizeof buf, p))
        out.append(buf, n);
      ::pclose(p);
    }
    auto at = out.find("\nfingerprint: ");
    return at == std::string::npos ? std::string{} : out.substr(at + 14, 95);
  };
  auto before = fingerprint();
  BOOST_REQUIRE_EQUAL(before.size(), 95u);
  auto rc = std::system((bin + " rotate --dir " + c.data_dir("cp1").string() + " > /dev/null").c_str());
  BOOST_REQUIRE_EQUAL(rc, 0);
  BOOST_CHECK(test::cluster::wait_until([&] { return fingerprint() != before; }, 10s));
  BOOST_CHECK_EQUAL(test::count_lines(c.data_dir("root") / "audit.log", "event=\"pki.rotation.issued\""), 1u);
  // The old key vouched for the new one: the root's out-of-band confirmation carries over.
  auto [trust_status, trust] = c.call("root", "GET", "/v1/trust");
  BOOST_REQUIRE_EQUAL(trust_status, 200);
  auto after = fingerprint();
  auto confirmed = trust["confirmed"];
  BOOST_CHECK_MESSAGE(std::find(confirmed.begin(), confirmed.end(), after) != confirmed.end(),
                      after << " not in " << confirmed.dump());
  // Every other node that confirmed the old fingerprint learns it from the rotation notice (SYS-2.1).
  for (auto node : {"client-a", "cp2"})
    BOOST_CHECK_MESSAGE(test::cluster::wait_until(
                          [&] {
                            auto [s, t] = c.call(node, "GET", "/v1/trust");
                            for (const auto& r : t["records"])
                              if (r["fingerprint"] == after)
                                return r.value("rotated_from", "") == before;
                            return false;
                          },
                          10s),
                        node << " does not trust " << after << " as rotated from " << before);
  // After a restart cp1 links with the new certificate, and its envelopes carry it.
  BOOST_REQUIRE_EQUAL(c.ops("kill cp1"), 0);
  BOOST_REQUIRE_EQUAL(c.ops("start cp1"), 0);
  BOOST_CHECK_EQUAL(c.ops("status"), 0);
  auto [status, doc] = c.call("cp1", "POST", "/v1/envelopes",
                              json{{"topic", "after.rotate"}, {"recipients", {"client-a"}}, {"payload", "x"}});
  BOOST_REQUIRE_EQUAL(status, 202);
  BOOST_CHECK(test::cluster::wait_until([&] { return c.inbox_ids("client-a", "after.rotate").size() == 1; }, 10s));
}
