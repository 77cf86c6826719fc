#define BOOST_TEST_MODULE artefact_manager
#include <boost/test/unit_test.hpp>

#include "support/caf_boost.hpp"

// The root's artefact manager with mock neighbours (a broker that records what it is asked to
// publish): registration of a CTSC, a peer's signed CTSA, and the forged, replayed or mismatched
// ones that must be refused without any change to the stored CTA.

#include "cplane/artefact_manager.hpp"
#include "joconde/agreement.pb.h"
#include "joconde/messages/caf_error.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/node.pb.h"
#include "joconde/runtime/canonical_hash.hpp"
#include "support/test_pki.hpp"

#include <google/protobuf/util/json_util.h>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace joconde;
using namespace std::string_literals;

namespace {

struct published {
  std::string topic;
  std::vector<std::string> to;
  std::string payload;
};

service_broker_actor::behavior_type mock_broker(service_broker_actor::pointer self,
                                                std::shared_ptr<std::vector<published>> log) {
  return {
    [=](deliver_atom, std::string&, bool, std::vector<std::string>&) { return true; },
    [=](link_up_atom, std::string&, bool) {},
    [=](link_dn_atom, std::string&) {},
    [=](acked_atom, std::string&, uint64_t) {},
    [=](publish_atom, std::string& topic, std::vector<std::string>& to, std::string&,
        std::string& payload, uint32_t) {
      log->push_back({topic, to, payload});
      return std::vector<std::string>{"id"};
    },
    [=](tick_atom) {},
    [=](flush_atom) {},
    [=](connect_atom, connection_manager_actor) {},
    [=](connect_atom, std::string&, local_subscriber_actor) {},
    [=](status_atom) { return "{}"s; },
  };
}

audit_log_actor::behavior_type mock_audit(audit_log_actor::pointer) {
  return {
    [=](audit_atom, std::string&, std::string&, std::vector<std::string>&) {},
    [=](tick_atom) {},
    [=](status_atom) { return "{}"s; },
  };
}

v1::Ctsc example_draft(const std::string& organiser) {
  std::ifstream in{std::string{JOCONDE_SOURCE_DIR} + "/config/examples/task.json"};
  std::stringstream buf;
  buf << in.rdbuf();
  v1::Ctsc ctsc;
  BOOST_REQUIRE(google::protobuf::util::JsonStringToMessage(buf.str(), &ctsc).ok());
  ctsc.mutable_organiser()->set_peer(organiser);
  ctsc.mutable_organiser()->set_name("task_organiser");
  ctsc.set_created_at_ms(1);
  return ctsc;
}

std::string pak() {
  auto der = crypto::private_key::generate().value().public_key().to_der();
  return {der.begin(), der.end()};
}

struct fixture : test_coordinator_fixture<> {
  test::test_pki pki;
  test::test_node& root = pki.node("joconde.test");
  std::filesystem::path dir = std::filesystem::temp_directory_path()
                              / ("joconde-artefacts-" + std::to_string(::getpid()));
  node_store store;
  std::shared_ptr<std::vector<published>> sent = std::make_shared<std::vector<published>>();
  artefact_manager_actor am;
  service_broker_actor broker;
  audit_log_actor audit;

  fixture() {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    store = node_store::open(dir, 64 << 20).value();
    // What enrolment and out-of-band confirmation wrote at the root.
    for (auto [label, computing] : {std::pair{"cp1", true}, {"cp2", true}, {"cp3", true},
                                    {"client-a", false}, {"client-b", false}}) {
      auto& n = pki.add(label, "joconde.test");
      v1::NodeIdentity id;
      id.set_name(label);
      id.set_fqdn(n.fqdn);
      id.set_role(computing ? v1::ROLE_COMPUTING : v1::ROLE_CLIENT);
      for (const auto& c : n.chain) {
        auto der = c.to_der();
        id.mutable_chain()->add_certificates(std::string{der.begin(), der.end()});
      }
      id.set_fingerprint(n.chain.front().fingerprint());
      auto txn = store.env->begin_write().value();
      BOOST_REQUIRE(txn.put(store.children, n.fqdn, proto::serialize(id)));
      BOOST_REQUIRE(txn.put(store.trusted, id.fingerprint(), "1"));
      BOOST_REQUIRE(txn.commit());
    }
    auto trust = std::make_shared<trust_view>(pki.root_ca(), root.chain);
    broker = sys.spawn(mock_broker, sent);
    audit = sys.spawn(mock_audit);
    am = sys.spawn(artefact_manager, "joconde.test"s, trust,
                   std::shared_ptr<const node_signer>{std::make_shared<memory_signer>(test::key_of(root))},
                   store, broker, audit, nullptr);
    sched.run();
  }

  ~fixture() {
    self->send_exit(am, caf::exit_reason::user_shutdown);
    self->send_exit(broker, caf::exit_reason::user_shutdown);
    self->send_exit(audit, caf::exit_reason::user_shutdown);
    sched.run();
    store = {};
    std::filesystem::remove_all(dir);
  }

  void deliver(const std::string& topic, const std::string& origin, const std::string& payload) {
    self->send(am, deliver_atom::value, topic, origin, payload);
    sched.run();
  }

  /// Registers the example at the root as client-a's draft; the registered CTSC.
  v1::Ctsc registered() {
    v1::CtscRegistration reg;
    reg.set_request_id(std::string(32, 'a'));
    *reg.mutable_ctsc() = example_draft("client-a.joconde.test");
    deliver("cta.ctsc.register", "client-a.joconde.test", proto::serialize(reg));
    BOOST_REQUIRE(!sent->empty());
    BOOST_REQUIRE_EQUAL(sent->back().topic, "cta.ctsc");
    auto out = proto::parse<v1::CtscRegistration>(sent->back().payload).value();
    return out.ctsc();
  }

  /// A CTSA of `peer` for `ctsc`, version `version`, node-signed with `signer`'s key.
  v1::CtsaSubmission submission(const v1::Ctsc& ctsc, const std::string& peer, uint64_t version,
                                test::test_node& signer) {
    v1::CtsaSubmission sub;
    sub.set_request_id(std::string(32, 'b'));
    auto& c = *sub.mutable_ctsa();
    c.set_ctsc_uuid(ctsc.uuid());
    c.set_peer(peer);
    auto h = canonical_hash(ctsc).value();
    c.set_ctsc_sha256(std::string{h.begin(), h.end()});
    c.add_signatories()->set_name("Ada");
    auto* dc = c.add_data_custodians();
    dc->set_name("Cleo");
    dc->set_pak(pak());
    dc->add_input_keys(peer == "client-a.joconde.test" ? "a_enterprises" : "b_enterprises");
    auto* da = c.add_data_analysts();
    da->set_name("Dan");
    da->set_pak(pak());
    da->add_output_keys("turnover_by_region");
    c.set_version(version);
    c.set_created_at_ms(2);
    return sign(sub, signer);
  }

  v1::CtsaSubmission sign(v1::CtsaSubmission sub, test::test_node& signer) {
    auto h = canonical_hash(sub.ctsa()).value();
    auto& ns = *sub.mutable_node_signature();
    ns.set_signer(sub.ctsa().peer());
    ns.set_signer_fingerprint(signer.chain.front().fingerprint());
    ns.set_kind(v1::ARTEFACT_KIND_CTSA);
    ns.set_artefact_sha256(std::string{h.begin(), h.end()});
    ns.set_signed_at_ms(3);
    ns.clear_signature();
    auto digest = canonical_hash(ns).value();
    auto sig = signer.key.sign(digest).value();
    ns.set_signature(std::string{sig.begin(), sig.end()});
    return sub;
  }

  std::string stored(const std::string& uuid) {
    auto txn = store.env->begin_read().value();
    return txn.get(store.ctas, uuid).value().value_or("");
  }

  /// The submission is refused with `code`, answered to `origin`, and the stored CTA is unchanged.
  void refused(const std::string& origin, const v1::CtsaSubmission& sub, const std::string& code) {
    auto before = stored(sub.ctsa().ctsc_uuid());
    auto n = sent->size();
    deliver("cta.ctsa", origin, proto::serialize(sub));
    BOOST_REQUIRE_EQUAL(sent->size(), n + 1);
    BOOST_CHECK_EQUAL(sent->back().topic, "cta.refused");
    BOOST_CHECK(sent->back().to == std::vector<std::string>{origin});
    auto refusal = proto::parse<v1::ArtefactRefusal>(sent->back().payload).value();
    BOOST_CHECK_MESSAGE(refusal.code() == code, "refused with " << refusal.code() << ": "
                                                               << refusal.message());
    BOOST_CHECK(stored(sub.ctsa().ctsc_uuid()) == before);
  }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(the_root_registers_a_ctsc_for_its_peers_only, fixture) {
  auto ctsc = registered();
  BOOST_CHECK(sent->back().to == (std::vector<std::string>{"client-a.joconde.test", "client-b.joconde.test"}));
  BOOST_CHECK_EQUAL(ctsc.uuid().size(), 36u);
  BOOST_CHECK_EQUAL(ctsc.computing_parties(0).chain().certificates_size(), 2);
  BOOST_CHECK(!stored(ctsc.uuid()).empty());
  // A draft sent by a node for another node's organiser is refused.
  v1::CtscRegistration reg;
  reg.set_request_id(std::string(32, 'c'));
  *reg.mutable_ctsc() = example_draft("client-a.joconde.test");
  deliver("cta.ctsc.register", "client-b.joconde.test", proto::serialize(reg));
  BOOST_CHECK_EQUAL(sent->back().topic, "cta.refused");
  BOOST_CHECK(sent->back().to == std::vector<std::string>{"client-b.joconde.test"});
}

BOOST_FIXTURE_TEST_CASE(a_draft_handed_over_twice_is_registered_once, fixture) {
  v1::CtscRegistration reg;
  reg.set_request_id(std::string(32, 'd'));
  *reg.mutable_ctsc() = example_draft("client-a.joconde.test");
  deliver("cta.ctsc.register", "client-a.joconde.test", proto::serialize(reg));
  deliver("cta.ctsc.register", "client-a.joconde.test", proto::serialize(reg));
  BOOST_REQUIRE_EQUAL(sent->size(), 2u);
  auto first = proto::parse<v1::CtscRegistration>(sent->at(0).payload).value();
  auto second = proto::parse<v1::CtscRegistration>(sent->at(1).payload).value();
  BOOST_CHECK_EQUAL(sent->at(1).topic, "cta.ctsc");
  BOOST_CHECK_EQUAL(first.ctsc().uuid(), second.ctsc().uuid());
  auto txn = store.env->begin_read().value();
  BOOST_CHECK_EQUAL(txn.count(store.ctas).value(), 1u);
}

BOOST_FIXTURE_TEST_CASE(a_signed_ctsa_is_accepted_and_forgeries_and_replays_are_not, fixture) {
  auto ctsc = registered();
  auto& client_a = pki.node("client-a.joconde.test");
  auto& client_b = pki.node("client-b.joconde.test");
  auto first = submission(ctsc, "client-a.joconde.test", 1, client_a);
  deliver("cta.ctsa", "client-a.joconde.test", proto::serialize(first));
  BOOST_REQUIRE_EQUAL(sent->back().topic, "cta.accepted");
  auto rec = proto::parse<v1::CtaRecord>(stored(ctsc.uuid())).value();
  BOOST_REQUIRE_EQUAL(rec.addenda_size(), 1);
  BOOST_CHECK_EQUAL(rec.addenda(0).status(), "submitted");
  BOOST_CHECK_EQUAL(rec.addenda(0).ctsa().version(), 1u);

  // The same CTSA handed over again (after a restart): accepted again, nothing changes.
  auto before = stored(ctsc.uuid());
  deliver("cta.ctsa", "client-a.joconde.test", proto::serialize(first));
  BOOST_CHECK_EQUAL(sent->back().topic, "cta.accepted");
  BOOST_CHECK(stored(ctsc.uuid()) == before);
  // An older version after a newer one: a replay.
  deliver("cta.ctsa", "client-a.joconde.test",
          proto::serialize(submission(ctsc, "client-a.joconde.test", 3, client_a)));
  BOOST_REQUIRE_EQUAL(sent->back().topic, "cta.accepted");
  refused("client-a.joconde.test", first, "replayed");
  refused("client-a.joconde.test", submission(ctsc, "client-a.joconde.test", 2, client_a), "replayed");
  // Signed by another node's key than the peer's.
  refused("client-a.joconde.test", submission(ctsc, "client-a.joconde.test", 4, client_b),
          "bad_signature");
  // A valid signature, but over a CTSA that was changed afterwards.
  auto tampered = submission(ctsc, "client-a.joconde.test", 4, client_a);
  tampered.mutable_ctsa()->mutable_signatories(0)->set_name("Mallory");
  refused("client-a.joconde.test", tampered, "bad_signature");
  // A CTSA for a CTSC that was changed after the CTSA signed its hash.
  auto changed = ctsc;
  changed.set_title("something else");
  auto other = submission(changed, "client-a.joconde.test", 4, client_a);
  other.mutable_ctsa()->set_ctsc_uuid(ctsc.uuid());
  refused("client-a.joconde.test", sign(other, client_a), "malformed_input");
  // Sent by client-b for client-a, or by a node that is not a peer.
  refused("client-b.joconde.test", submission(ctsc, "client-a.joconde.test", 4, client_a), "forbidden");
  refused("cp1.joconde.test", submission(ctsc, "cp1.joconde.test", 1, pki.node("cp1.joconde.test")),
          "unknown_peer");
  // An unknown CTA.
  auto unknown = submission(ctsc, "client-a.joconde.test", 4, client_a);
  unknown.mutable_ctsa()->set_ctsc_uuid("00000000-0000-4000-8000-000000000000");
  refused("client-a.joconde.test", sign(unknown, client_a), "not_found");
  // client-b's own, properly signed: accepted.
  deliver("cta.ctsa", "client-b.joconde.test",
          proto::serialize(submission(ctsc, "client-b.joconde.test", 1, client_b)));
  BOOST_CHECK_EQUAL(sent->back().topic, "cta.accepted");
  BOOST_CHECK_EQUAL(proto::parse<v1::CtaRecord>(stored(ctsc.uuid())).value().addenda_size(), 2);
}

// Garbage on every agreement topic, from the root's children and from strangers: nothing is stored,
// nothing crashes, and the actor still answers.
BOOST_FIXTURE_TEST_CASE(garbage_on_every_topic_changes_nothing, fixture) {
  auto ctsc = registered();
  auto before = stored(ctsc.uuid());
  auto n = sent->size();
  std::vector<std::string> garbage{"", "\x08\x96\x01", std::string(1000, '\xff'),
                                   crypto::hex(crypto::random_bytes(64)), "{\"json\": true}"};
  for (const auto* topic : {"cta.ctsc.register", "cta.ctsc", "cta.refused", "cta.ctsa", "cta.accepted",
                            "cta.signature", "cta.final", "cta.cancel", "cta.status", "cta.unknown"})
    for (const auto* origin : {"client-a.joconde.test", "joconde.test", "stranger.example"})
      for (const auto& g : garbage)
        deliver(topic, origin, g);
  BOOST_CHECK(stored(ctsc.uuid()) == before);
  auto txn = store.env->begin_read().value();
  BOOST_CHECK_EQUAL(txn.count(store.ctas).value(), 1u);
  // Whatever was answered is a refusal, never a registration or an acceptance.
  for (size_t i = n; i < sent->size(); ++i)
    BOOST_CHECK_MESSAGE(sent->at(i).topic == "cta.refused", "sent " << sent->at(i).topic);
  std::string status;
  auto rp = self->request(am, caf::infinite, status_atom::value);
  sched.run();
  rp.receive([&](std::string& s) { status = s; }, [&](caf::error& err) { BOOST_FAIL(describe(err)); });
  BOOST_CHECK(status.find("registered") != std::string::npos);
}
