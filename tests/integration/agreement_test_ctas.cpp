// A CTA's workflow from the CTSAs to the final CTA, cancelled and erased (part of the agreement
// test program).
#include <boost/test/unit_test.hpp>

#include "agreement_test_support.hpp"

#include <algorithm>

using namespace joconde;
using namespace std::chrono_literals;
using namespace agreement_test_support;

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
  // Each peer's own node shows its addendum as the root decided it, and client-b sees why and what
  // to do: the reason reaches the peer.
  auto own_addendum = [&](const std::string& node) {
    auto [s, shown] = c.call_as(node, "auditor", "GET", base);
    for (const auto& a : shown.value("addenda", json::array()))
      if (a.value("peer", "") == node + ".joconde.test")
        return a;
    return json{};
  };
  BOOST_CHECK_MESSAGE(test::cluster::wait_until([&] { return own_addendum("client-b").value("status", "") == "rejected"; }, 15s),
                      own_addendum("client-b").dump());
  BOOST_CHECK_EQUAL(own_addendum("client-b").value("reason", ""), "a custodian is missing");
  BOOST_CHECK_EQUAL(own_addendum("client-b").value("signatures", 0), 2);
  BOOST_CHECK_MESSAGE(test::cluster::wait_until([&] { return own_addendum("client-a").value("status", "") == "approved"; }, 15s),
                      own_addendum("client-a").dump());
  {
    auto [s, shown] = c.call_as("client-b", "auditor", "GET", base);
    BOOST_CHECK_MESSAGE(shown["progress"].dump().find("submit a corrected CTSA (rejected: a custodian is missing)")
                          != std::string::npos,
                        shown["progress"].dump());
  }
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
  // Each peer's log of the CT shows the whole agreement, the other peer's part too (SYS-5.3): the
  // root's agreement events, about client-b's rejected CTSA with its reason, its replacement, and
  // the CTA becoming final; the CPs get none of them.
  auto agreement_events = [&](const std::string& node) {
    auto [s, shown] = c.call_as(node, "auditor", "GET", base);
    std::vector<std::string> out;
    for (const auto& ev : shown.value("telemetry", json::array()))
      if (ev.value("kind", "") == "agreement" && ev.value("cp", "") == "joconde.test")
        out.push_back(ev.value("subject", "") + ": " + ev.value("value", ""));
    return out;
  };
  auto has = [](const std::vector<std::string>& events, const std::string& text) {
    return std::any_of(events.begin(), events.end(), [&](const std::string& e) { return e == text; });
  };
  for (auto node : {"client-a", "client-b"}) {
    std::vector<std::string> seen;
    BOOST_CHECK_MESSAGE(
      test::cluster::wait_until(
        [&] {
          seen = agreement_events(node);
          return has(seen, "client-b.joconde.test: CTSA rejected by the System Operator: a custodian is missing")
                 && has(seen, "client-b.joconde.test: CTSA approved by the System Operator")
                 && has(seen, "client-a.joconde.test: CTSA approved by the System Operator")
                 && has(seen, "client-b.joconde.test: the CTA is final: every CTSA is approved");
        },
        15s),
      node << " sees " << json(seen).dump());
  }
  BOOST_CHECK(agreement_events("cp1").empty());
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
  // client-b cancels an emerging CTA; both peers and the root learn it.
  auto [s0, created] = c.call_as("client-a", "task_organiser", "POST", "/v1/ctas", example_task());
  BOOST_REQUIRE_EQUAL(s0, 201);
  auto uuid = created["uuid"].get<std::string>();
  BOOST_REQUIRE(test::cluster::wait_until([&] { return status_at("client-b", uuid) == "emerging"; }, 10s));
  BOOST_CHECK_EQUAL(c.call_as("client-b", "signatory", "POST", "/v1/ctas/" + uuid + "/cancel",
                              json{{"reason", "x"}}).first, 403);
  BOOST_CHECK_EQUAL(c.call_as("client-b", "task_organiser", "POST", "/v1/ctas/" + uuid + "/cancel",
                              json::object()).first, 400);
  // A General Manager manages the organisation's CTs: client-b's cancels it.
  auto [s1, d1] = c.call_as("client-b", "general_manager", "POST", "/v1/ctas/" + uuid + "/cancel",
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
