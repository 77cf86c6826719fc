// Members a peer has not confirmed, and revoked nodes (part of the agreement test program).
#include <boost/test/unit_test.hpp>

#include "agreement_test_support.hpp"

using namespace joconde;
using namespace std::chrono_literals;
using namespace agreement_test_support;

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
