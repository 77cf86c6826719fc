// Agreements on a real cluster (issue 3): a Task Organiser's CTSC is registered by the root and
// reaches exactly the peers it names; what is wrong is refused with a clear error and stores nothing.
//
// Here: a CTSC's registration; a CTA's workflow is in agreement_test_ctas.cpp, the members a
// peer has not confirmed and revoked nodes in agreement_test_members.cpp.
#define BOOST_TEST_MODULE agreement
#include <boost/test/unit_test.hpp>

#include "agreement_test_support.hpp"

using namespace joconde;
using namespace std::chrono_literals;
using namespace agreement_test_support;

BOOST_TEST_GLOBAL_FIXTURE(global_cluster);

BOOST_AUTO_TEST_CASE(a_ctsc_reaches_exactly_the_peers_it_names) {
  auto& c = *cluster;
  auto task = example_task();
  // Only client-a takes part: client-b, like the CPs, must never see it.
  task["peers"] = json::array({{{"fqdn", "client-a.joconde.test"}, {"role", "PEER_ROLE_INPUT_OUTPUT"}}});
  task["inputs"].erase(1);
  task["outputs"][0]["peers"] = json::array({"client-a.joconde.test"});
  task["main_algorithm"]["source"] =
    "INSERT INTO turnover_by_region SELECT region, COUNT(*) AS enterprises, SUM(turnover) AS "
    "turnover, AVG(turnover) AS mean_turnover FROM a_enterprises GROUP BY region;";
  task["main_algorithm"]["disclosures"] = disclosures_of(task);
  task["title"] = "only client-a " + std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  auto [status, doc] = c.call_as("client-a", "task_organiser", "POST", "/v1/ctas", task);
  BOOST_REQUIRE_MESSAGE(status == 201, doc.dump());
  auto uuid = doc["uuid"].get<std::string>();
  BOOST_CHECK_EQUAL(doc["status"], "emerging");
  BOOST_CHECK_EQUAL(doc["ctsc_sha256"].get<std::string>().size(), 64u);
  // The root and client-a hold it, with the same hash; the root filled in the certificate chains.
  for (auto node : {"root", "client-a"}) {
    auto [s, shown] = c.call_as(node, "auditor", "GET", "/v1/ctas/" + uuid);
    BOOST_REQUIRE_MESSAGE(s == 200, node << ": " << shown.dump());
    BOOST_CHECK_EQUAL(shown["ctsc_sha256"], doc["ctsc_sha256"]);
    BOOST_CHECK_EQUAL(shown["ctsc"]["organiser"]["name"], "task_organiser");
    BOOST_CHECK_EQUAL(shown["ctsc"]["organiser"]["peer"], "client-a.joconde.test");
    BOOST_CHECK_EQUAL(shown["certificate_fingerprints"]["cp1.joconde.test"].size(), 2u); // leaf, root node
    BOOST_CHECK_EQUAL(shown["certificate_fingerprints"]["cp1.joconde.test"][0],
                      c.node("cp1")["fingerprint"]);
  }
  // Nobody else: not in their stores, logs or audit logs.
  for (auto node : {"client-b", "cp1", "cp2", "cp3"}) {
    auto held = uuids_at(node);
    BOOST_CHECK_MESSAGE(std::find(held.begin(), held.end(), uuid) == held.end(), node << " holds it");
    BOOST_CHECK_MESSAGE(!test::any_file_contains(c.data_dir(node), uuid), node << " saw " << uuid);
    BOOST_CHECK_EQUAL(c.call_as(node, "auditor", "GET", "/v1/ctas/" + uuid).first, 404);
  }
  BOOST_CHECK_EQUAL(c.ops("status"), 0);
}

BOOST_AUTO_TEST_CASE(the_example_reaches_both_clients) {
  auto& c = *cluster;
  auto [status, doc] = c.call_as("client-a", "task_organiser", "POST", "/v1/ctas", example_task());
  BOOST_REQUIRE_MESSAGE(status == 201, doc.dump());
  auto uuid = doc["uuid"].get<std::string>();
  BOOST_CHECK(test::cluster::wait_until(
    [&] {
      auto b = uuids_at("client-b");
      return std::find(b.begin(), b.end(), uuid) != b.end();
    },
    10s));
  auto [s, shown] = c.call_as("client-b", "task_organiser", "GET", "/v1/ctas/" + uuid);
  BOOST_CHECK_EQUAL(s, 200);
  BOOST_CHECK_EQUAL(shown["ctsc_sha256"], doc["ctsc_sha256"]);
}

BOOST_AUTO_TEST_CASE(bad_drafts_are_refused_and_store_nothing) {
  auto before = total_ctas();
  auto task = example_task();
  struct twin {
    const char* what;
    json task;
    int status;
    const char* code;
  };
  std::vector<twin> twins;
  {
    auto t = task;
    t["temporal"]["input_deadline_ms"] = t["temporal"]["execution_deadline_ms"];
    twins.push_back({"deadlines out of order", t, 400, "malformed_input"});
  }
  {
    auto t = task;
    t["temporal"]["approval_deadline_ms"] = "1000";
    twins.push_back({"approval deadline passed", t, 400, "malformed_input"});
  }
  {
    auto t = task;
    t["engine"]["name"] = "magic";
    twins.push_back({"unknown engine", t, 400, "malformed_input"});
  }
  {
    auto t = task;
    t["computing_parties"].erase(2);
    twins.push_back({"too few CPs", t, 400, "malformed_input"});
  }
  {
    auto t = task;
    t["computing_parties"][2]["fqdn"] = "cp1.joconde.test";
    twins.push_back({"a CP twice", t, 400, "malformed_input"});
  }
  {
    auto t = task;
    t["computing_parties"][2]["fqdn"] = "client-b.joconde.test";
    twins.push_back({"a client as CP (refused by the root)", t, 403, "forbidden"});
  }
  {
    auto t = task;
    t["peers"][1]["fqdn"] = "nobody.joconde.test";
    t["inputs"][1]["peer"] = "nobody.joconde.test";
    t["outputs"][0]["peers"][1] = "nobody.joconde.test";
    twins.push_back({"an unknown peer (refused by the root)", t, 400, "unknown_peer"});
  }
  {
    auto t = task;
    t["uuid"] = "ee0757a0-1a4c-4e6e-ae93-f2d3d5724962";
    twins.push_back({"a uuid chosen by the organiser", t, 400, "malformed_input"});
  }
  {
    auto t = task;
    t["surprise"] = 1;
    twins.push_back({"an unknown field", t, 400, "malformed_input"});
  }
  {
    auto t = task;
    t["peers"] = json::array({{{"fqdn", "client-b.joconde.test"}, {"role", "PEER_ROLE_INPUT_OUTPUT"}}});
    twins.push_back({"organiser's node not a peer", t, 403, "forbidden"});
  }
  for (const auto& tw : twins) {
    BOOST_TEST_CONTEXT(tw.what) {
      auto [status, code] = create(tw.task);
      BOOST_CHECK_EQUAL(status, tw.status);
      BOOST_CHECK_EQUAL(code, tw.code);
    }
  }
  // Not JSON at all, and a user without the role.
  auto [s1, d1] = cluster->call_as("client-a", "task_organiser", "POST", "/v1/ctas", json("not an object"));
  BOOST_CHECK_EQUAL(s1, 400);
  BOOST_CHECK_EQUAL(cluster->call_as("client-a", "signatory", "POST", "/v1/ctas", task).first, 403);
  BOOST_CHECK_EQUAL(cluster->call_as("client-a", "auditor", "GET", "/v1/ctas/not-a-uuid").first, 400);
  // client-a's node logged each refusal with its reason and the user.
  BOOST_CHECK(test::count_lines(cluster->data_dir("client-a") / "node.log.rfc5424",
                               "reason=\"malformed_input\"] POST /v1/ctas refused: the deadlines must come in order")
              + test::count_lines(cluster->data_dir("client-a") / "node.log.rfc5424",
                                 "POST /v1/ctas refused: the deadlines must come in the order")
              >= 1);
  // Nothing was stored anywhere, and the root logged its refusals with the reason.
  BOOST_CHECK_EQUAL(total_ctas(), before);
  BOOST_CHECK(test::cluster::wait_until(
    [&] {
      std::ifstream in{cluster->data_dir("root") / "audit.log"};
      std::string line;
      size_t n = 0;
      while (std::getline(in, line))
        n += line.find("event=\"cta.ctsc.refused\"") != std::string::npos ? 1 : 0;
      return n >= 2;
    },
    5s));
}

// A peer that is down when the CTSC is registered gets it when it comes back (from the root's
// durable outbox); the organiser's node learns its UUID even if the root was down when it drafted.
BOOST_AUTO_TEST_CASE(nodes_killed_during_registration_lose_nothing) {
  auto& c = *cluster;
  BOOST_REQUIRE_EQUAL(c.ops("kill client-b"), 0);
  auto task = example_task();
  task["title"] = "while client-b is down";
  auto [status, doc] = c.call_as("client-a", "task_organiser", "POST", "/v1/ctas", task);
  BOOST_REQUIRE_MESSAGE(status == 201, doc.dump());
  auto uuid = doc["uuid"].get<std::string>();
  BOOST_REQUIRE_EQUAL(c.ops("start client-b"), 0);
  BOOST_CHECK(test::cluster::wait_until(
    [&] {
      auto b = uuids_at("client-b");
      return std::find(b.begin(), b.end(), uuid) != b.end();
    },
    20s));
  // The root is down while client-a drafts: the call times out, the draft waits in client-a's
  // outbox, and once the root is back the CTA is registered and reaches both peers.
  BOOST_REQUIRE_EQUAL(c.ops("kill root"), 0);
  task["title"] = "while the root is down";
  auto [late, why] = c.call_as("client-a", "task_organiser", "POST", "/v1/ctas", task);
  BOOST_CHECK_EQUAL(late, 504);
  BOOST_CHECK_EQUAL(why["error"].value("code", ""), "timeout");
  BOOST_REQUIRE_EQUAL(c.ops("start root"), 0);
  auto titled = [&](const std::string& node) {
    auto [s, list] = c.call_as(node, "auditor", "GET", "/v1/ctas");
    for (const auto& e : list["ctas"])
      if (e["title"] == "while the root is down")
        return true;
    return false;
  };
  BOOST_CHECK(test::cluster::wait_until([&] { return titled("client-a") && titled("client-b"); }, 30s));
  BOOST_CHECK(titled("root"));
  BOOST_CHECK(test::cluster::wait_until([&] { return c.ops("status") == 0; }, 20s));
}
