#define BOOST_TEST_MODULE agreement
#include <boost/test/unit_test.hpp>

// Agreements on a real cluster (issue 3): a Task Organiser's CTSC is registered by the root and
// reaches exactly the peers it names; what is wrong is refused with a clear error and stores nothing.

#include "support/cluster.hpp"

#include "joconde/engines/ctsc.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/http_client.hpp"

#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>

#include <sys/wait.h>

using namespace joconde;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

json example_task() {
  std::ifstream in{std::string{JOCONDE_SOURCE_DIR} + "/config/examples/task.json"};
  std::stringstream buf;
  buf << in.rdbuf();
  return json::parse(buf.str());
}

/// What the compiler says `task`'s algorithm discloses (the root requires it in the CTSC).
json disclosures_of(const json& task) {
  v1::Ctsc ctsc;
  BOOST_REQUIRE(google::protobuf::util::JsonStringToMessage(task.dump(), &ctsc).ok());
  auto prog = engines::compile_ctsc(ctsc);
  BOOST_REQUIRE_MESSAGE(prog.ok(), (prog ? "" : prog.err().describe()));
  return prog->disclosures();
}

std::optional<test::cluster> cluster;

struct global_cluster {
  global_cluster() { cluster.emplace("agreement"); }
  ~global_cluster() { cluster.reset(); }
};

std::vector<std::string> uuids_at(const std::string& node) {
  auto [status, doc] = cluster->call_as(node, "auditor", "GET", "/v1/ctas");
  BOOST_REQUIRE_MESSAGE(status == 200, node << ": " << doc.dump());
  std::vector<std::string> out;
  for (const auto& c : doc["ctas"])
    out.push_back(c["uuid"].get<std::string>());
  return out;
}

size_t total_ctas() {
  size_t n = 0;
  for (auto node : {"root", "cp1", "cp2", "cp3", "client-a", "client-b"})
    n += uuids_at(node).size();
  return n;
}

/// POSTs a draft as client-a's Task Organiser; {status, error code}.
std::pair<int, std::string> create(const json& task) {
  auto [status, doc] = cluster->call_as("client-a", "task_organiser", "POST", "/v1/ctas", task);
  return {status, doc.contains("error") ? doc["error"].value("code", "") : std::string{}};
}

} // namespace

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

namespace {

/// A person's PAK as the JSON form of a bytes field (base64 of the DER SubjectPublicKeyInfo).
std::string new_pak() {
  return crypto::to_base64(crypto::private_key::generate().value().public_key().to_der());
}

/// The data custodian and analyst of `node` make their key pairs and register the PAKs for the CTA
/// (Fig. 35); the CTSA names them.
json people_of(const std::string& node, const std::string& uuid, const std::string& custodian,
               const std::string& input, const std::string& analyst) {
  json dc{{"name", custodian}, {"pak", new_pak()}, {"input_keys", {input}}};
  json da{{"name", analyst}, {"pak", new_pak()}, {"output_keys", {"turnover_by_region"}}};
  cluster->call_as(node, "data_custodian", "POST", "/v1/ctas/" + uuid + "/paks", dc);
  cluster->call_as(node, "data_analyst", "POST", "/v1/ctas/" + uuid + "/paks", da);
  return json{{"data_custodians", json::array({dc})}, {"data_analysts", json::array({da})}};
}

json ctsa_of_client_a(const std::string& uuid) {
  auto ctsa = people_of("client-a", uuid, "Cleo Custodian", "a_enterprises", "Dan Analyst");
  ctsa["signatories"] = json::array({{{"name", "Ada Director"}}});
  return ctsa;
}

json addendum_at(const std::string& node, const std::string& uuid, const std::string& peer) {
  auto [s, shown] = cluster->call_as(node, "auditor", "GET", "/v1/ctas/" + uuid);
  for (const auto& a : shown["addenda"])
    if (a["peer"] == peer)
      return a;
  return json{};
}

} // namespace

BOOST_AUTO_TEST_CASE(a_peer_submits_its_ctsa_signed_by_its_node) {
  auto& c = *cluster;
  auto [status, doc] = c.call_as("client-a", "task_organiser", "POST", "/v1/ctas", example_task());
  BOOST_REQUIRE_MESSAGE(status == 201, doc.dump());
  auto uuid = doc["uuid"].get<std::string>();
  auto path = "/v1/ctas/" + uuid + "/ctsa";
  auto [s1, first] = c.call_as("client-a", "task_organiser", "POST", path, ctsa_of_client_a(uuid));
  BOOST_REQUIRE_MESSAGE(s1 == 200, first.dump());
  BOOST_CHECK_EQUAL(first["status"], "emerging");
  auto at_root = addendum_at("root", uuid, "client-a.joconde.test");
  BOOST_CHECK_EQUAL(at_root["status"], "submitted");
  BOOST_CHECK_EQUAL(at_root["version"], 1);
  BOOST_CHECK_EQUAL(at_root["signed_by_node"], "client-a.joconde.test");
  BOOST_CHECK_EQUAL(at_root["ctsa_sha256"], first["ctsa_sha256"]);
  // A replacement is a newer version.
  auto [s2, second] = c.call_as("client-a", "task_organiser", "POST", path, ctsa_of_client_a(uuid));
  BOOST_REQUIRE_MESSAGE(s2 == 200, second.dump());
  BOOST_CHECK_EQUAL(addendum_at("root", uuid, "client-a.joconde.test")["version"], 2);
  BOOST_CHECK_NE(second["ctsa_sha256"], first["ctsa_sha256"]);
  // client-b has none yet; the CPs still hold nothing.
  BOOST_CHECK(addendum_at("root", uuid, "client-b.joconde.test").is_null());
  BOOST_CHECK_EQUAL(c.call_as("cp1", "auditor", "GET", "/v1/ctas/" + uuid).first, 404);
  BOOST_CHECK(test::count_lines(c.data_dir("root") / "audit.log", "event=\"cta.ctsa.accepted\"") >= 2);

  // Refused at client-a's node, nothing changes at the root.
  auto refused = [&](const std::string& what, const json& body, int want, const std::string& role = "task_organiser") {
    BOOST_TEST_CONTEXT(what) {
      auto [s, d] = c.call_as("client-a", role, "POST", path, body);
      BOOST_CHECK_EQUAL(s, want);
      BOOST_CHECK_EQUAL(addendum_at("root", uuid, "client-a.joconde.test")["version"], 2);
    }
  };
  auto other_input = ctsa_of_client_a(uuid);
  other_input["data_custodians"][0]["input_keys"] = json::array({"b_enterprises"});
  refused("custodian given another peer's input", other_input, 403);
  auto uncovered = ctsa_of_client_a(uuid);
  uncovered["data_analysts"] = json::array();
  refused("an output nobody may retrieve", uncovered, 400);
  auto no_signatory = ctsa_of_client_a(uuid);
  no_signatory["signatories"] = json::array();
  refused("no signatory", no_signatory, 400);
  auto bad_pak = ctsa_of_client_a(uuid);
  bad_pak["data_custodians"][0]["pak"] = "AAAA";
  refused("a PAK that is not a key (so nobody registered it)", bad_pak, 403);
  auto preset = ctsa_of_client_a(uuid);
  preset["version"] = "7";
  refused("a version chosen by the organiser", preset, 400);
  refused("a user without the role", ctsa_of_client_a(uuid), 403, "signatory");
  // A PAK bound to another CTA (or to none) is refused.
  auto [so, other_cta] = c.call_as("client-a", "task_organiser", "POST", "/v1/ctas", example_task());
  BOOST_REQUIRE_EQUAL(so, 201);
  refused("a PAK registered for another CTA", ctsa_of_client_a(other_cta["uuid"].get<std::string>()), 403);
  auto unregistered = ctsa_of_client_a(uuid);
  unregistered["data_custodians"][0]["pak"] = new_pak();
  refused("a PAK nobody registered", unregistered, 403);
  // PAKs are registered by the people themselves, for keys of their peer only.
  BOOST_CHECK_EQUAL(c.call_as("client-a", "data_analyst", "POST", "/v1/ctas/" + uuid + "/paks",
                              json{{"name", "X"}, {"pak", new_pak()}, {"input_keys", {"a_enterprises"}}}).first, 403);
  BOOST_CHECK_EQUAL(c.call_as("client-a", "data_custodian", "POST", "/v1/ctas/" + uuid + "/paks",
                              json{{"name", "X"}, {"pak", new_pak()}, {"input_keys", {"b_enterprises"}}}).first, 403);
  BOOST_CHECK_EQUAL(c.call_as("client-a", "data_custodian", "POST", "/v1/ctas/" + uuid + "/paks",
                              json{{"name", "X"}, {"pak", "AAAA"}, {"input_keys", {"a_enterprises"}}}).first, 400);
  // Named without PAKs, the CTSA gets every PAK registered for this CTA at this node.
  auto [sa, auto_filled] = c.call_as("client-a", "task_organiser", "POST", path,
                                     json{{"signatories", json::array({{{"name", "Ada Director"}}})}});
  BOOST_CHECK_MESSAGE(sa == 200, auto_filled.dump());
  BOOST_CHECK(addendum_at("root", uuid, "client-a.joconde.test")["data_custodians"].get<int>() >= 2);
  BOOST_CHECK_EQUAL(c.call_as("client-a", "task_organiser", "POST",
                              "/v1/ctas/00000000-0000-4000-8000-000000000000/ctsa", ctsa_of_client_a("00000000-0000-4000-8000-000000000000"))
                      .first,
                    404);
}

namespace {

json ctsa_of_client_b(const std::string& uuid) {
  auto ctsa = people_of("client-b", uuid, "Cy Custodian", "b_enterprises", "Di Analyst");
  ctsa["signatories"] = json::array({{{"name", "Bea Director"}}, {{"name", "Ben Deputy"}}});
  return ctsa;
}

/// Creates the example CTA as client-a's Task Organiser; its UUID.
std::string create_example() {
  auto [status, created] = cluster->call_as("client-a", "task_organiser", "POST", "/v1/ctas", example_task());
  BOOST_REQUIRE_MESSAGE(status == 201, created.dump());
  return created["uuid"].get<std::string>();
}

/// POSTs to a path below one CTA (`base`) as NODE's user ROLE, requiring 200; the answer.
struct cta_poster {
  std::string base;

  json operator()(const std::string& node, const std::string& role, const std::string& path,
                  const json& body) const {
    auto [status, doc] = cluster->call_as(node, role, "POST", base + path, body);
    BOOST_REQUIRE_MESSAGE(status == 200, node << " " << path << ": " << doc.dump());
    return doc;
  }
};

json signature_doc(int index) {
  return json{{"signatory", index},
              {"document", {{"name", "signed.pdf"}, {"media_type", "application/pdf"}, {"data", "JVBERi0xLjQK"}}}};
}

} // namespace

BOOST_AUTO_TEST_CASE(the_whole_agreement_reaches_a_final_cta_at_the_cps) {
  auto& c = *cluster;
  auto uuid = create_example();
  auto base = "/v1/ctas/" + uuid;
  const cta_poster ok{base};
  auto status_of = [&](const std::string& node, const std::string& role, const std::string& path, const json& body) {
    return c.call_as(node, role, "POST", base + path, body).first;
  };
  ok("client-a", "task_organiser", "/ctsa", ctsa_of_client_a(uuid));
  ok("client-b", "task_organiser", "/ctsa", ctsa_of_client_b(uuid));
  // Approval before the signatories signed, by the wrong role, or not at the root: refused.
  BOOST_CHECK_EQUAL(status_of("root", "approver", "/decisions", {{"peer", "client-a"}, {"approve", true}}), 409);
  BOOST_CHECK_EQUAL(status_of("root", "task_organiser", "/decisions", {{"peer", "client-a"}, {"approve", true}}), 403);
  BOOST_CHECK_EQUAL(status_of("client-a", "approver", "/decisions", {{"peer", "client-a"}, {"approve", true}}), 403);
  BOOST_CHECK_EQUAL(status_of("root", "approver", "/decisions", {{"peer", "cp1"}, {"approve", true}}), 404);
  BOOST_CHECK_EQUAL(status_of("root", "approver", "/decisions",
                              {{"peer", "client-a"}, {"approve", false}, {"reason", 42}}),
                    400);
  BOOST_CHECK_EQUAL(status_of("client-a", "signatory", "/signatures", signature_doc(1)), 400); // one signatory
  BOOST_CHECK_EQUAL(status_of("client-a", "task_organiser", "/signatures", signature_doc(0)), 403);
  // Signatures, then the SO: client-a approved, client-b rejected with a reason.
  ok("client-a", "signatory", "/signatures", signature_doc(0));
  ok("client-b", "signatory", "/signatures", signature_doc(0));
  BOOST_CHECK_EQUAL(status_of("client-b", "signatory", "/signatures", signature_doc(0)), 409); // twice
  ok("client-b", "signatory", "/signatures", signature_doc(1));
  auto d1 = ok("root", "approver", "/decisions", {{"peer", "client-a"}, {"approve", true}});
  BOOST_CHECK_EQUAL(d1["status"], "emerging");
  BOOST_CHECK_EQUAL(status_of("root", "approver", "/decisions", {{"peer", "client-b"}, {"approve", false}}), 400);
  ok("root", "approver", "/decisions", {{"peer", "client-b"}, {"approve", false}, {"reason", "a custodian is missing"}});
  BOOST_CHECK_EQUAL(c.call_as("cp1", "auditor", "GET", base).first, 404); // not final: the CPs have nothing
  // client-b replaces its rejected CTSA; signed again; approved: the CTA is final.
  ok("client-b", "task_organiser", "/ctsa", ctsa_of_client_b(uuid));
  ok("client-b", "signatory", "/signatures", signature_doc(0));
  ok("client-b", "signatory", "/signatures", signature_doc(1));
  auto d2 = ok("root", "approver", "/decisions", {{"peer", "client-b.joconde.test"}, {"approve", true}});
  BOOST_CHECK_EQUAL(d2["status"], "instantiated");
  // Every peer and CP holds the same final CTA, as the root signed it.
  auto [sr, at_root] = c.call_as("root", "auditor", "GET", base);
  BOOST_REQUIRE_EQUAL(sr, 200);
  BOOST_CHECK_EQUAL(at_root["final"], true);
  auto cta_hash = at_root["cta_sha256"];
  for (auto node : {"client-a", "client-b", "cp1", "cp2", "cp3"}) {
    BOOST_CHECK_MESSAGE(test::cluster::wait_until(
                          [&] {
                            auto [s, shown] = c.call_as(node, "auditor", "GET", base);
                            return s == 200 && shown.value("final", false) && shown["cta_sha256"] == cta_hash;
                          },
                          15s),
                        node << " does not hold the final CTA");
  }
  auto [sc, at_cp] = c.call_as("cp2", "auditor", "GET", base);
  BOOST_CHECK_EQUAL(at_cp["status"], "instantiated");
  BOOST_CHECK_EQUAL(at_cp["signed_by_root"], "joconde.test");
  BOOST_REQUIRE_EQUAL(at_cp["addenda"].size(), 2u);
  BOOST_CHECK_EQUAL(at_cp["addenda"][1]["peer"], "client-b.joconde.test");
  BOOST_CHECK_EQUAL(at_cp["addenda"][1]["version"], 2); // the replacement, not the rejected one
  // Final means final.
  BOOST_CHECK_EQUAL(status_of("client-a", "task_organiser", "/ctsa", ctsa_of_client_a(uuid)), 409);
  BOOST_CHECK_EQUAL(status_of("root", "approver", "/decisions", {{"peer", "client-a"}, {"approve", false}, {"reason", "x"}}), 409);
}

// Nodes killed between the steps of the workflow: the workflow completes once they are back.
BOOST_AUTO_TEST_CASE(the_workflow_completes_across_killed_nodes) {
  auto& c = *cluster;
  auto uuid = create_example();
  auto base = "/v1/ctas/" + uuid;
  const cta_poster ok{base};
  // The root restarts after the CTSAs: it kept them.
  ok("client-a", "task_organiser", "/ctsa", ctsa_of_client_a(uuid));
  ok("client-b", "task_organiser", "/ctsa", ctsa_of_client_b(uuid));
  BOOST_REQUIRE_EQUAL(c.ops("kill root"), 0);
  BOOST_REQUIRE_EQUAL(c.ops("start root"), 0);
  BOOST_CHECK_EQUAL(addendum_at("root", uuid, "client-b.joconde.test")["status"], "submitted");
  // client-b restarts between its two signatures.
  ok("client-a", "signatory", "/signatures", signature_doc(0));
  ok("client-b", "signatory", "/signatures", signature_doc(0));
  BOOST_REQUIRE_EQUAL(c.ops("kill client-b"), 0);
  BOOST_REQUIRE_EQUAL(c.ops("start client-b"), 0);
  ok("client-b", "signatory", "/signatures", signature_doc(1));
  // cp1 and client-a are down when the CTA becomes final: they get it when they are back.
  BOOST_REQUIRE_EQUAL(c.ops("kill cp1"), 0);
  BOOST_REQUIRE_EQUAL(c.ops("kill client-a"), 0);
  ok("root", "approver", "/decisions", {{"peer", "client-a"}, {"approve", true}});
  ok("root", "approver", "/decisions", {{"peer", "client-b"}, {"approve", true}});
  BOOST_REQUIRE_EQUAL(c.ops("start cp1"), 0);
  BOOST_REQUIRE_EQUAL(c.ops("start client-a"), 0);
  auto [sr, at_root] = c.call_as("root", "auditor", "GET", base);
  for (auto node : {"cp1", "cp2", "client-a", "client-b"})
    BOOST_CHECK_MESSAGE(test::cluster::wait_until(
                          [&] {
                            auto [s, shown] = c.call_as(node, "auditor", "GET", base);
                            return s == 200 && shown.value("final", false)
                                   && shown["cta_sha256"] == at_root["cta_sha256"];
                          },
                          20s),
                        node << " does not hold the final CTA");
  BOOST_CHECK(test::cluster::wait_until([&] { return c.ops("status") == 0; }, 20s));
}

BOOST_AUTO_TEST_CASE(a_peer_or_the_so_cancels_and_every_holder_learns_it) {
  auto& c = *cluster;
  auto status_at = [&](const std::string& node, const std::string& uuid) {
    auto [s, shown] = c.call_as(node, "auditor", "GET", "/v1/ctas/" + uuid);
    return s == 200 ? shown.value("status", "") : std::string{"http " + std::to_string(s)};
  };
  // client-b's Task Organiser cancels an emerging CTA; both peers and the root learn it.
  auto [s0, created] = c.call_as("client-a", "task_organiser", "POST", "/v1/ctas", example_task());
  BOOST_REQUIRE_EQUAL(s0, 201);
  auto uuid = created["uuid"].get<std::string>();
  BOOST_REQUIRE(test::cluster::wait_until([&] { return status_at("client-b", uuid) == "emerging"; }, 10s));
  BOOST_CHECK_EQUAL(c.call_as("client-b", "signatory", "POST", "/v1/ctas/" + uuid + "/cancel",
                              json{{"reason", "x"}}).first, 403);
  BOOST_CHECK_EQUAL(c.call_as("client-b", "task_organiser", "POST", "/v1/ctas/" + uuid + "/cancel",
                              json::object()).first, 400);
  auto [s1, d1] = c.call_as("client-b", "task_organiser", "POST", "/v1/ctas/" + uuid + "/cancel",
                            json{{"reason", "budget withdrawn"}});
  BOOST_REQUIRE_MESSAGE(s1 == 200, d1.dump());
  BOOST_CHECK_EQUAL(d1["status"], "cancelled");
  for (auto node : {"root", "client-a", "client-b"})
    BOOST_CHECK_MESSAGE(test::cluster::wait_until([&] { return status_at(node, uuid) == "cancelled"; }, 10s), node);
  BOOST_CHECK_EQUAL(c.call_as("client-a", "task_organiser", "POST", "/v1/ctas/" + uuid + "/ctsa",
                              ctsa_of_client_a(uuid)).first, 409);
  BOOST_CHECK_EQUAL(c.call_as("client-b", "task_organiser", "POST", "/v1/ctas/" + uuid + "/cancel",
                              json{{"reason", "again"}}).first, 409);
  // The SO cancels a final CTA at the root: the CPs learn it too.
  auto [s2, made] = c.call_as("client-a", "task_organiser", "POST", "/v1/ctas", example_task());
  BOOST_REQUIRE_EQUAL(s2, 201);
  auto final_uuid = made["uuid"].get<std::string>();
  auto base = "/v1/ctas/" + final_uuid;
  for (auto [node, body] : {std::pair{"client-a", ctsa_of_client_a(final_uuid)}, {"client-b", ctsa_of_client_b(final_uuid)}})
    BOOST_REQUIRE_EQUAL(c.call_as(node, "task_organiser", "POST", base + "/ctsa", body).first, 200);
  BOOST_REQUIRE_EQUAL(c.call_as("client-a", "signatory", "POST", base + "/signatures", signature_doc(0)).first, 200);
  BOOST_REQUIRE_EQUAL(c.call_as("client-b", "signatory", "POST", base + "/signatures", signature_doc(0)).first, 200);
  BOOST_REQUIRE_EQUAL(c.call_as("client-b", "signatory", "POST", base + "/signatures", signature_doc(1)).first, 200);
  for (auto peer : {"client-a", "client-b"})
    BOOST_REQUIRE_EQUAL(c.call_as("root", "approver", "POST", base + "/decisions",
                                  json{{"peer", peer}, {"approve", true}}).first, 200);
  BOOST_REQUIRE(test::cluster::wait_until([&] { return status_at("cp3", final_uuid) == "instantiated"; }, 10s));
  auto [s3, d3] = c.call_as("root", "approver", "POST", base + "/cancel", json{{"reason", "SO: wrong data period"}});
  BOOST_REQUIRE_MESSAGE(s3 == 200, d3.dump());
  for (auto node : {"cp1", "cp2", "cp3", "client-a", "client-b"})
    BOOST_CHECK_MESSAGE(test::cluster::wait_until([&] { return status_at(node, final_uuid) == "cancelled"; }, 10s), node);
}

// After its retention time a cancelled CTA is erased at every node that holds it.
BOOST_AUTO_TEST_CASE(a_cta_past_its_retention_is_erased_everywhere) {
  auto& c = *cluster;
  auto task = example_task();
  task["temporal"]["data_retention_s"] = "1";
  auto [s0, created] = c.call_as("client-a", "task_organiser", "POST", "/v1/ctas", task);
  BOOST_REQUIRE_EQUAL(s0, 201);
  auto uuid = created["uuid"].get<std::string>();
  BOOST_REQUIRE_EQUAL(c.call_as("root", "approver", "POST", "/v1/ctas/" + uuid + "/cancel",
                                json{{"reason", "short-lived"}}).first, 200);
  for (auto node : {"root", "client-a", "client-b"})
    BOOST_CHECK_MESSAGE(test::cluster::wait_until(
                          [&] {
                            auto [s, shown] = c.call_as(node, "auditor", "GET", "/v1/ctas/" + uuid);
                            return s == 200 && shown.value("status", "") == "erased"
                                   && !shown["ctsc"].contains("main_algorithm");
                          },
                          30s),
                        node << " did not erase CTA " << uuid);
}

// Garbage bodies on every agreement route: a clear 4xx, nothing stored, the node healthy.
BOOST_AUTO_TEST_CASE(garbage_on_every_route_is_refused) {
  auto& c = *cluster;
  auto [s0, created] = c.call_as("client-a", "task_organiser", "POST", "/v1/ctas", example_task());
  BOOST_REQUIRE_EQUAL(s0, 201);
  auto uuid = created["uuid"].get<std::string>();
  auto before = total_ctas();
  auto at_root = addendum_at("root", uuid, "client-a.joconde.test");
  std::vector<json> garbage{json("text"), json::array({1, 2}), json{{"x", std::string(5000, 'y')}},
                            json{{"signatory", -1}, {"document", 7}}, json{{"peer", 5}, {"approve", "yes"}},
                            json{{"reason", json::array()}}, json{{"name", ""}, {"pak", 3}, {"input_keys", "a"}}};
  const std::vector<std::tuple<const char*, const char*, std::string>> routes{
    {"client-a", "task_organiser", "/v1/ctas"},
    {"client-a", "task_organiser", "/v1/ctas/" + uuid + "/ctsa"},
    {"client-a", "signatory", "/v1/ctas/" + uuid + "/signatures"},
    {"root", "approver", "/v1/ctas/" + uuid + "/decisions"},
    {"client-a", "task_organiser", "/v1/ctas/" + uuid + "/cancel"},
    {"client-a", "data_custodian", "/v1/ctas/" + uuid + "/paks"},
    {"client-a", "it_admin", "/v1/ctas/" + uuid + "/overrides"},
  };
  for (const auto& [node, role, path] : routes)
    for (const auto& g : garbage) {
      auto [s, doc] = c.call_as(node, role, "POST", path, g);
      BOOST_CHECK_MESSAGE(s >= 400 && s < 500, node << " " << path << " " << g.dump().substr(0, 60)
                                                    << " answered " << s << " " << doc.dump());
      BOOST_CHECK_MESSAGE(doc.contains("error") && !doc["error"].value("message", "").empty(),
                          path << ": no clear error: " << doc.dump());
    }
  // Not JSON at all.
  auto n = c.node("client-a");
  http::client_options over_https;
  over_https.ca_file = n["root_ca"].get<std::string>();
  auto raw = http::client::send(n["http_url"].get<std::string>(), "POST", "/v1/ctas", "{{{ not json",
                                n["users"]["task_organiser"]["token"].get<std::string>(), over_https);
  BOOST_REQUIRE(raw.ok());
  BOOST_CHECK_EQUAL(raw->status, 400);
  BOOST_CHECK_EQUAL(total_ctas(), before);
  BOOST_CHECK(addendum_at("root", uuid, "client-a.joconde.test") == at_root);
  auto [s1, shown] = c.call_as("client-a", "auditor", "GET", "/v1/ctas/" + uuid);
  BOOST_CHECK_EQUAL(shown["status"], "emerging");
  BOOST_REQUIRE(shown.contains("members") && !shown["members"].empty());
  for (const auto& m : shown["members"])  // no garbage became a trust override
    BOOST_CHECK_MESSAGE(m.value("trust", "") != "override" && !m.contains("override"), m.dump());
  BOOST_CHECK_EQUAL(c.ops("status"), 0);
}

namespace {

/// Runs a shell command; its exit code and standard output.
std::pair<int, std::string> run(const std::string& cmd) {
  std::string out;
  auto* p = ::popen(cmd.c_str(), "r");
  BOOST_REQUIRE(p != nullptr);
  char buf[4096];
  while (auto n = std::fread(buf, 1, sizeof buf, p))
    out.append(buf, n);
  auto rc = ::pclose(p);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out};
}

/// The member `fqdn` in NODE's view of the CTA.
json member_at(const std::string& node, const std::string& uuid, const std::string& fqdn) {
  auto [s, shown] = cluster->call_as(node, "auditor", "GET", "/v1/ctas/" + uuid);
  BOOST_REQUIRE_MESSAGE(s == 200, shown.dump());
  for (const auto& m : shown["members"])
    if (m["fqdn"] == fqdn)
      return m;
  return json{};
}

} // namespace

// SYS-2.1: client-b's operator withdraws the out-of-band confirmation of cp3 (as after a doubt about
// it). The SO's certificate for cp3 is then not enough: client-b shows cp3 unconfirmed with the
// fingerprint to compare, and refuses to commit client-b to the CTA until its IT administrator
// records an override (refused without the role, a reason, or for a member that needs none); then the
// operator confirms cp3 again.
BOOST_AUTO_TEST_CASE(a_peer_commits_to_no_cta_naming_a_member_it_has_not_confirmed) {
  auto& c = *cluster;
  auto uuid = create_example();
  auto base = "/v1/ctas/" + uuid;
  BOOST_REQUIRE(test::cluster::wait_until(
    [&] {
      auto held = uuids_at("client-b");
      return std::find(held.begin(), held.end(), uuid) != held.end();
    },
    10s));
  const auto bin = std::string{JOCONDE_BINARY_DIR} + "/bin/joconde-node";
  const auto cp3_fp = c.node("cp3")["fingerprint"].get<std::string>();
  const auto b_dir = c.data_dir("client-b").string();
  auto [rm, removed] = run(bin + " trust remove " + cp3_fp + " --dir " + b_dir);
  BOOST_REQUIRE_MESSAGE(rm == 0, removed);
  BOOST_CHECK(removed.find("no longer trusted: " + cp3_fp) != std::string::npos);
  // Withdrawing it twice, or a fingerprint that is none: refused.
  BOOST_CHECK_NE(run(bin + " trust remove " + cp3_fp + " --dir " + b_dir + " 2>/dev/null").first, 0);
  BOOST_CHECK_NE(run(bin + " trust remove 12:34 --dir " + b_dir + " 2>/dev/null").first, 0);

  // The view at client-b: cp3 unconfirmed, with its fingerprint; the others confirmed. client-a
  // still trusts cp3.
  auto m = member_at("client-b", uuid, "cp3.joconde.test");
  BOOST_CHECK_EQUAL(m["trust"], "unconfirmed");
  BOOST_CHECK_EQUAL(m["fingerprint"], cp3_fp);
  BOOST_CHECK_EQUAL(member_at("client-b", uuid, "cp1.joconde.test")["trust"], "confirmed");
  BOOST_CHECK_EQUAL(member_at("client-b", uuid, "client-a.joconde.test")["trust"], "confirmed");
  BOOST_CHECK_EQUAL(member_at("client-a", uuid, "cp3.joconde.test")["trust"], "confirmed");
  // `joconde cta show` puts it first, with the fingerprint to compare and how to confirm it.
  auto cli = std::string{JOCONDE_BINARY_DIR} + "/bin/joconde --cluster " + c.dir().string()
             + " --as client-b:task_organiser cta show " + uuid;
  auto [show_rc, text] = run(cli);
  BOOST_CHECK_EQUAL(show_rc, 0);
  BOOST_CHECK_MESSAGE(text.find("UNCONFIRMED cp3.joconde.test (computing_party)") != std::string::npos, text);
  BOOST_CHECK_MESSAGE(text.find("joconde-node trust confirm " + cp3_fp) != std::string::npos, text);
  BOOST_CHECK_MESSAGE(text.find("UNCONFIRMED cp1") == std::string::npos, text);
  BOOST_CHECK_LT(text.find("WARNING"), text.find("members:"));

  // client-b's CTSA is refused with the distinct error; nothing reached the root.
  auto [s1, refused] = c.call_as("client-b", "task_organiser", "POST", base + "/ctsa", ctsa_of_client_b(uuid));
  BOOST_CHECK_EQUAL(s1, 409);
  BOOST_CHECK_EQUAL(refused["error"].value("code", ""), "unconfirmed_member");
  auto message = refused["error"].value("message", "");
  BOOST_CHECK_MESSAGE(message.find("cp3.joconde.test") != std::string::npos
                        && message.find(cp3_fp) != std::string::npos,
                      message);
  BOOST_CHECK(addendum_at("root", uuid, "client-b.joconde.test").is_null());
  BOOST_CHECK(addendum_at("client-b", uuid, "client-b.joconde.test").is_null());

  // Overrides that do not hold: without the role, without a reason, for a confirmed member, for a
  // name the CTA does not contain.
  auto override_as = [&](const std::string& role, const json& body) {
    return c.call_as("client-b", role, "POST", base + "/overrides", body);
  };
  BOOST_CHECK_EQUAL(override_as("task_organiser", {{"member", "cp3"}, {"reason", "x"}}).first, 403);
  BOOST_CHECK_EQUAL(override_as("it_admin", {{"member", "cp3"}, {"reason", " "}}).first, 400);
  BOOST_CHECK_EQUAL(override_as("it_admin", {{"member", "cp3"}}).first, 400);
  BOOST_CHECK_EQUAL(override_as("it_admin", {{"member", "cp1"}, {"reason", "x"}}).first, 409);
  BOOST_CHECK_EQUAL(override_as("it_admin", {{"member", "cp9"}, {"reason", "x"}}).first, 404);
  BOOST_CHECK_EQUAL(member_at("client-b", uuid, "cp3.joconde.test")["trust"], "unconfirmed");
  BOOST_CHECK_EQUAL(c.call_as("client-b", "task_organiser", "POST", base + "/ctsa", ctsa_of_client_b(uuid)).first,
                    409);

  // The IT administrator accepts the risk, with a reason: stored, audited, shown; the CTSA goes through.
  const std::string reason = "cp3's operator read the fingerprint out on a recorded call";
  auto [s2, made] = override_as("it_admin", {{"member", "cp3"}, {"reason", reason}});
  BOOST_REQUIRE_MESSAGE(s2 == 201, made.dump());
  BOOST_CHECK_EQUAL(made["member"], "cp3.joconde.test");
  BOOST_CHECK_EQUAL(made["fingerprint"], cp3_fp);
  m = member_at("client-b", uuid, "cp3.joconde.test");
  BOOST_CHECK_EQUAL(m["trust"], "override");
  BOOST_CHECK_EQUAL(m["override"]["by"], "it_admin");
  BOOST_CHECK_EQUAL(m["override"]["reason"], reason);
  BOOST_CHECK(test::cluster::wait_until(
    [&] {
      return test::count_lines_with_all(c.data_dir("client-b") / "audit.log",
                                        {"cta.trust.override", uuid, cp3_fp, "it_admin"})
             == 1;
    },
    5s));
  BOOST_CHECK_EQUAL(override_as("it_admin", {{"member", "cp3"}, {"reason", "again"}}).first, 409);
  auto [s3, ok] = c.call_as("client-b", "task_organiser", "POST", base + "/ctsa", ctsa_of_client_b(uuid));
  BOOST_REQUIRE_MESSAGE(s3 == 200, ok.dump());
  BOOST_CHECK_EQUAL(addendum_at("root", uuid, "client-b.joconde.test")["version"], 1);

  // The operator compares cp3's fingerprint and confirms it again (the tests after this one need it).
  auto [confirm_rc, confirmed] = run(bin + " trust confirm " + cp3_fp + " --dir " + b_dir);
  BOOST_REQUIRE_MESSAGE(confirm_rc == 0, confirmed);
  BOOST_CHECK_EQUAL(member_at("client-b", uuid, "cp3.joconde.test")["trust"], "confirmed");
}

// Last: it revokes cp3 for good. A revoked node cancels every CTA that names it.
BOOST_AUTO_TEST_CASE(revoking_a_named_node_cancels_its_ctas) {
  auto& c = *cluster;
  auto [s0, created] = c.call_as("client-a", "task_organiser", "POST", "/v1/ctas", example_task());
  BOOST_REQUIRE_EQUAL(s0, 201);
  auto uuid = created["uuid"].get<std::string>();
  auto bin = std::string{JOCONDE_BINARY_DIR} + "/bin/joconde-node";
  auto fp = c.node("cp3")["fingerprint"].get<std::string>();
  auto cmd = bin + " revoke --dir " + c.data_dir("root").string() + " --root-mark --node cp3.joconde.test"
             + " --fingerprint " + fp + " --reason lost > /dev/null 2>&1";
  BOOST_REQUIRE_EQUAL(std::system(cmd.c_str()), 0);
  for (auto node : {"root", "client-a", "client-b"})
    BOOST_CHECK_MESSAGE(test::cluster::wait_until(
                          [&] {
                            auto [s, shown] = c.call_as(node, "auditor", "GET", "/v1/ctas/" + uuid);
                            return s == 200 && shown.value("status", "") == "cancelled"
                                   && shown.value("reason", "").find("cp3") != std::string::npos;
                          },
                          30s),
                        node << " did not learn that the CTA was cancelled");
}
