#define BOOST_TEST_MODULE member_trust
#include <boost/test/unit_test.hpp>

#include "support/caf_boost.hpp"

// SYS-2.1 at a peer: client-b's artefact manager holds a CTSC the root registered, with mock
// neighbours. client-b has confirmed every other member out of band except cp3, so it must not
// submit its CTSA (nothing stored, nothing sent) until cp3 is confirmed, is a confirmed rotation
// successor, or an IT administrator records an override (stored, audited, shown); overrides that do
// not hold are refused and change nothing.

#include "cplane/artefact_manager.hpp"
#include "node/cta_json.hpp"
#include "mplane/confirmations.hpp"
#include "joconde/agreement.pb.h"
#include "joconde/messages/caf_error.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/runtime/clock.hpp"
#include "support/mplane_mocks.hpp"
#include "support/test_pki.hpp"

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

using namespace joconde;
using namespace std::string_literals;
using nlohmann::json;

namespace {

constexpr const char* uuid = "3f2c8a4e-5b7d-4c1e-9a6f-0d2b4e6f8a1c";
constexpr const char* self_fqdn = "client-b.joconde.test";
constexpr const char* cp3 = "cp3.joconde.test";

/// A CTSA as client-b's Task Organiser writes it: the signatories; the node names every PAK.
constexpr const char* ctsa_json = R"({"signatories": [{"name": "Bea Director"}]})";

/// The outcome of one request to the artefact manager: its reply, its error, or neither (it waits
/// for the root).
struct answer {
  std::optional<std::string> doc;  ///< the answer as the HTTP API renders it
  std::optional<caf::error> err;
};

/// The artefact manager's typed answers, rendered as the HTTP edge renders them.
std::string rendered(const cta_receipt& r) { return receipt_json(r).dump(); }
std::string rendered(const proto_bytes<v1::PakRecord>& p) { return pak_json(proto::parse(p).value()).dump(); }
std::string rendered(const proto_bytes<v1::TrustOverride>& o) {
  return override_json(proto::parse(o).value()).dump();
}
std::string rendered(const cta_view& v) { return cta_json(v, "client-b.joconde.test", false).dump(); }

struct fixture : test_coordinator_fixture<> {
  test::test_pki pki;
  std::filesystem::path dir = std::filesystem::temp_directory_path()
                              / ("joconde-member-trust-" + std::to_string(::getpid()));
  node_store store;
  std::shared_ptr<std::vector<test::published>> sent = std::make_shared<std::vector<test::published>>();
  std::shared_ptr<std::vector<test::audited>> audits = std::make_shared<std::vector<test::audited>>();
  artefact_manager_actor am;
  service_broker_actor broker;
  audit_log_actor audit;

  fixture() {
    for (const auto* label : {"cp1", "cp2", "cp3", "client-a", "client-b"})
      pki.add(label, "joconde.test");
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    store = node_store::open(dir, 64 << 20).value();
    // client-b's operator compared every other member's fingerprint out of band, except cp3's.
    for (const auto* fqdn : {"client-a.joconde.test", "cp1.joconde.test", "cp2.joconde.test"})
      BOOST_REQUIRE(confirm_fingerprint(store, fingerprint_of(fqdn), 1));
    auto& me = pki.node(self_fqdn);
    broker = sys.spawn(test::mock_broker, sent);
    audit = sys.spawn(test::mock_audit, audits);
    am = sys.spawn(artefact_manager, "joconde.test"s, std::make_shared<trust_view>(pki.root_ca(), me.chain),
                   std::shared_ptr<const node_signer>{std::make_shared<memory_signer>(test::key_of(me))},
                   store, broker, audit, nullptr);
    sched.run();
    self->send(am, deliver_atom::value, "cta.ctsc"s, "joconde.test"s, proto::serialize(registration()));
    sched.run();
    BOOST_REQUIRE_MESSAGE(!stored().empty(), "client-b did not store the registered CTSC");
    register_pak(true, "b_enterprises");
    register_pak(false, "turnover_by_region");
    sent->clear();
    audits->clear();
  }

  ~fixture() {
    joconde::test::shut_down(self, sched, am, broker, audit);
    store = {};
    std::filesystem::remove_all(dir);
  }

  std::string fingerprint_of(const std::string& fqdn) {
    return pki.node(fqdn).chain.front().fingerprint();
  }

  /// The example task as the root registered it: uuid set, every member's chain filled in.
  v1::CtscRegistration registration() {
    std::ifstream in{std::string{JOCONDE_SOURCE_DIR} + "/config/examples/task.json"};
    std::stringstream buf;
    buf << in.rdbuf();
    v1::CtscRegistration reg;
    reg.set_request_id(std::string(32, 'a'));
    auto& ctsc = *reg.mutable_ctsc();
    BOOST_REQUIRE(google::protobuf::util::JsonStringToMessage(buf.str(), &ctsc).ok());
    ctsc.set_uuid(uuid);
    ctsc.mutable_organiser()->set_peer("client-a.joconde.test");
    ctsc.mutable_organiser()->set_name("task_organiser");
    ctsc.set_created_at_ms(1);
    for (auto& p : *ctsc.mutable_peers())
      for (const auto& der : pki.chain_der(p.fqdn()))
        p.mutable_chain()->add_certificates(der);
    for (auto& cp : *ctsc.mutable_computing_parties())
      for (const auto& der : pki.chain_der(cp.fqdn()))
        cp.mutable_chain()->add_certificates(der);
    return reg;
  }

  /// A custodian's (input) or analyst's (output) PAK for `key`, registered at client-b.
  void register_pak(bool custodian, const std::string& key) {
    auto der = crypto::private_key::generate().value().public_key().to_der();
    v1::PakRecord person;
    person.set_name(custodian ? "Cy Custodian" : "Di Analyst");
    person.set_pak(std::string{der.begin(), der.end()});
    person.add_keys(key);
    person.set_custodian(custodian);
    auto a = ask<proto_bytes<v1::PakRecord>>(pak_atom::value, std::string{uuid}, proto::wrap(person),
                                             std::string{custodian ? "data_custodian" : "data_analyst"});
    BOOST_REQUIRE_MESSAGE(a.doc, (a.err ? describe(*a.err) : "no answer"));
  }

  template <class Reply, class... Ts>
  answer ask(Ts&&... xs) {
    answer out;
    auto rp = self->request(am, caf::infinite, std::forward<Ts>(xs)...);
    sched.run();
    rp.receive([&](Reply& r) { out.doc = rendered(r); }, [&](caf::error& err) { out.err = err; });
    return out;
  }

  /// client-b's Task Organiser submits the CTSA; if the node sends it, the root accepts it.
  answer submit() {
    answer out;
    auto n = sent->size();
    v1::Ctsa ctsa;
    BOOST_REQUIRE(google::protobuf::util::JsonStringToMessage(ctsa_json, &ctsa).ok());
    auto rp = self->request(am, caf::infinite, submit_atom::value, std::string{uuid}, proto::wrap(ctsa),
                            "task_organiser"s);
    sched.run();
    if (sent->size() > n && sent->back().topic == "cta.ctsa") {
      auto sub = proto::parse<v1::CtsaSubmission>(sent->back().payload).value();
      v1::ArtefactAccepted acc;
      acc.set_request_id(sub.request_id());
      acc.set_uuid(uuid);
      acc.set_status("emerging");
      acc.set_updates(2);
      self->send(am, deliver_atom::value, "cta.accepted"s, "joconde.test"s, proto::serialize(acc));
      sched.run();
    }
    rp.receive([&](cta_receipt& r) { out.doc = rendered(r); }, [&](caf::error& err) { out.err = err; });
    return out;
  }

  answer override_member(const std::string& member, const std::string& reason,
                         const std::string& who = "admin") {
    return ask<proto_bytes<v1::TrustOverride>>(override_atom::value, std::string{uuid}, member, reason, who);
  }

  /// client-b's view of the CTA (GET /v1/ctas/{uuid}).
  json view() {
    auto a = ask<cta_view>(query_atom::value, std::string{uuid});
    BOOST_REQUIRE_MESSAGE(a.doc, (a.err ? describe(*a.err) : "no answer"));
    return json::parse(*a.doc);
  }

  /// The member `fqdn` in the CTA view.
  json member(const std::string& fqdn) {
    auto doc = view();
    for (const auto& m : doc["members"])
      if (m["fqdn"] == fqdn)
        return m;
    return json{};
  }

  std::string stored() {
    auto txn = store.env->begin_read().value();
    return txn.get(store.ctas, uuid).value().value_or("");
  }

  size_t overrides() {
    auto txn = store.env->begin_read().value();
    return txn.count(store.overrides).value();
  }

  size_t audited(const std::string& event) {
    return static_cast<size_t>(std::count_if(audits->begin(), audits->end(),
                                             [&](const auto& a) { return a.event == event; }));
  }

  /// The submission was refused with unconfirmed_member: nothing stored, nothing sent.
  void refused_unconfirmed() {
    auto before = stored();
    auto n = sent->size();
    auto a = submit();
    BOOST_REQUIRE_MESSAGE(a.err, "the CTSA was submitted with cp3 unconfirmed");
    BOOST_CHECK(code_of(*a.err) == errc::unconfirmed_member);
    auto message = message_of(*a.err);
    BOOST_CHECK_MESSAGE(message.find(cp3) != std::string::npos, message);
    BOOST_CHECK_MESSAGE(message.find(fingerprint_of(cp3)) != std::string::npos, message);
    BOOST_CHECK_MESSAGE(message.find("joconde-node trust confirm") != std::string::npos, message);
    BOOST_CHECK_MESSAGE(message.find("joconde cta override") != std::string::npos, message);
    // Only cp3: the confirmed members are not named.
    BOOST_CHECK_MESSAGE(message.find("cp1.joconde.test") == std::string::npos, message);
    BOOST_CHECK(stored() == before);
    BOOST_CHECK_EQUAL(sent->size(), n);
  }

  /// The submission went to the root, signed, and client-b recorded its version.
  void submitted() {
    auto a = submit();
    BOOST_REQUIRE_MESSAGE(!a.err, (a.err ? describe(*a.err) : std::string{}));
    BOOST_REQUIRE(a.doc);
    BOOST_CHECK_EQUAL(json::parse(*a.doc)["peer"], self_fqdn);
    BOOST_REQUIRE(!sent->empty());
    BOOST_CHECK_EQUAL(sent->back().topic, "cta.ctsa");
    BOOST_CHECK(sent->back().to == std::vector<std::string>{"joconde.test"});
    auto rec = proto::parse<v1::CtaRecord>(stored()).value();
    BOOST_CHECK_EQUAL(rec.own_ctsa_version(), 1u);
  }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(no_ctsa_while_a_member_is_unconfirmed_and_one_after_trust_confirm, fixture) {
  refused_unconfirmed();
  BOOST_CHECK_EQUAL(audited("cta.ctsa.untrusted"), 1u);
  BOOST_CHECK_EQUAL(audited("cta.ctsa.signed"), 0u);
  // The view shows every other member with its fingerprint and trust; client-b itself is not listed.
  auto doc = view();
  BOOST_REQUIRE_EQUAL(doc["members"].size(), 4u);
  auto m = member(cp3);
  BOOST_CHECK_EQUAL(m["trust"], "unconfirmed");
  BOOST_CHECK_EQUAL(m["role"], "computing_party");
  BOOST_CHECK_EQUAL(m["fingerprint"], fingerprint_of(cp3));
  for (const auto* fqdn : {"client-a.joconde.test", "cp1.joconde.test", "cp2.joconde.test"}) {
    BOOST_CHECK_EQUAL(member(fqdn)["trust"], "confirmed");
    BOOST_CHECK_EQUAL(member(fqdn)["fingerprint"], fingerprint_of(fqdn));
  }
  BOOST_CHECK(member(self_fqdn).is_null());
  // The operator compares cp3's fingerprint out of band and confirms it: the same CTSA goes through.
  BOOST_REQUIRE(confirm_fingerprint(store, fingerprint_of(cp3), now_ms()));
  BOOST_CHECK_EQUAL(member(cp3)["trust"], "confirmed");
  submitted();
  BOOST_CHECK_EQUAL(audited("cta.ctsa.signed"), 1u);
}

BOOST_FIXTURE_TEST_CASE(a_withdrawn_confirmation_blocks_the_ctsa_again, fixture) {
  BOOST_REQUIRE(confirm_fingerprint(store, fingerprint_of(cp3), now_ms()));
  BOOST_REQUIRE(remove_confirmation(store, fingerprint_of("client-a.joconde.test")));
  BOOST_CHECK_EQUAL(member("client-a.joconde.test")["trust"], "unconfirmed");
  auto a = submit();
  BOOST_REQUIRE(a.err);
  BOOST_CHECK(code_of(*a.err) == errc::unconfirmed_member);
  BOOST_CHECK(message_of(*a.err).find("client-a.joconde.test (peer)") != std::string::npos);
  BOOST_CHECK(sent->empty());
  // Withdrawing what is not there says so.
  auto again = remove_confirmation(store, fingerprint_of("client-a.joconde.test"));
  BOOST_REQUIRE(!again);
  BOOST_CHECK(again.err().code == errc::not_found);
}

BOOST_FIXTURE_TEST_CASE(a_confirmed_rotation_successor_counts_as_confirmed, fixture) {
  // cp3's certificate in the CTSC succeeds one whose key vouched for it (a rotation notice).
  const std::string older(95, 'A');
  {
    auto txn = store.env->begin_write().value();
    BOOST_REQUIRE(txn.put(store.trusted, fingerprint_of(cp3), encode_confirmation({7, older})));
    BOOST_REQUIRE(txn.commit());
  }
  auto m = member(cp3);
  BOOST_CHECK_EQUAL(m["trust"], "confirmed");
  BOOST_CHECK_EQUAL(m["rotated_from"], older);
  BOOST_CHECK_EQUAL(m["confirmed_at_ms"], 7);
  submitted();
}

BOOST_FIXTURE_TEST_CASE(an_it_administrators_override_is_stored_audited_shown_and_lets_the_ctsa_through,
                        fixture) {
  refused_unconfirmed();
  const std::string reason = "fingerprint read out by cp3's CISO on a recorded call, letter to follow";
  auto a = override_member(cp3, reason);
  BOOST_REQUIRE_MESSAGE(a.doc, (a.err ? describe(*a.err) : "no answer"));
  auto doc = json::parse(*a.doc);
  BOOST_CHECK_EQUAL(doc["member"], cp3);
  BOOST_CHECK_EQUAL(doc["fingerprint"], fingerprint_of(cp3));
  BOOST_CHECK_EQUAL(doc["by"], "admin");
  BOOST_CHECK_EQUAL(overrides(), 1u);
  // Audited with the user, the CTA, the member, its fingerprint and the reason.
  BOOST_REQUIRE_EQUAL(audited("cta.trust.override"), 1u);
  auto rec = *std::find_if(audits->begin(), audits->end(),
                           [](const auto& x) { return x.event == "cta.trust.override"; });
  for (const auto& want : {std::string{uuid}, std::string{cp3}, fingerprint_of(cp3), "admin"s, reason})
    BOOST_CHECK_MESSAGE(std::find(rec.fields.begin(), rec.fields.end(), want) != rec.fields.end(),
                        "the audit record lacks " << want);
  // Shown in the CTA view, with who and why.
  auto m = member(cp3);
  BOOST_CHECK_EQUAL(m["trust"], "override");
  BOOST_CHECK_EQUAL(m["override"]["by"], "admin");
  BOOST_CHECK_EQUAL(m["override"]["reason"], reason);
  submitted();
}

BOOST_FIXTURE_TEST_CASE(overrides_that_do_not_hold_are_refused_and_change_nothing, fixture) {
  auto refused = [&](const std::string& what, const std::string& member_name, const std::string& reason,
                     errc code) {
    BOOST_TEST_CONTEXT(what) {
      auto before = stored();
      auto n = overrides();
      auto a = override_member(member_name, reason);
      BOOST_REQUIRE(a.err);
      BOOST_CHECK_MESSAGE(code_of(*a.err) == code, describe(*a.err));
      BOOST_CHECK(!message_of(*a.err).empty());
      BOOST_CHECK_EQUAL(overrides(), n);
      BOOST_CHECK(stored() == before);
    }
  };
  refused("no reason", cp3, "", errc::malformed_input);
  refused("a blank reason", cp3, " \t\n", errc::malformed_input);
  refused("a reason of 2 kB", cp3, std::string(2000, 'x'), errc::malformed_input);
  refused("a member confirmed anyway", "client-a.joconde.test", "just in case", errc::invalid_state);
  refused("a name the CTSC does not contain", "cp9.joconde.test", "typo", errc::not_found);
  refused("this node itself", self_fqdn, "me", errc::invalid_state);
  BOOST_CHECK_EQUAL(audited("cta.trust.override"), 0u);
  // Another CTA, or no UUID at all.
  auto other = ask<proto_bytes<v1::TrustOverride>>(override_atom::value, "00000000-0000-4000-8000-000000000000"s,
                                                   std::string{cp3}, "reason"s, "admin"s);
  BOOST_REQUIRE(other.err);
  BOOST_CHECK(code_of(*other.err) == errc::not_found);
  auto garbage = ask<proto_bytes<v1::TrustOverride>>(override_atom::value, "../../etc"s, std::string{cp3},
                                                     "reason"s, "admin"s);
  BOOST_REQUIRE(garbage.err);
  BOOST_CHECK(code_of(*garbage.err) == errc::malformed_input);
  // The CTSA is still refused; a valid override goes through once, not twice.
  refused_unconfirmed();
  BOOST_REQUIRE(override_member(cp3, "accepted by the board").doc);
  refused("the same member again", cp3, "again", errc::already_exists);
  BOOST_CHECK_EQUAL(audited("cta.trust.override"), 1u);
  // A CTA that is no longer emerging takes no CTSA, so no override either.
  BOOST_REQUIRE(remove_confirmation(store, fingerprint_of("cp2.joconde.test")));
  auto rec = proto::parse<v1::CtaRecord>(stored()).value();
  rec.set_status(v1::CTA_STATUS_CANCELLED);
  {
    auto txn = store.env->begin_write().value();
    BOOST_REQUIRE(txn.put(store.ctas, uuid, proto::serialize(rec)));
    BOOST_REQUIRE(txn.commit());
  }
  refused("a cancelled CTA", "cp2.joconde.test", "too late", errc::invalid_state);
}
