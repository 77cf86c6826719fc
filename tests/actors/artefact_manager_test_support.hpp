#pragma once

// The fixtures of the artefact_manager test program (artefact_manager_test.cpp, its one file: CAF's
// test DSL is compiled into one translation unit per program, see support/caf_boost.hpp): the root's
// artefact manager with mock neighbours and the test PKI, and with a CTA made final; the drafts,
// PAKs and signatures the test cases hand it.

#include <boost/test/unit_test.hpp>

#include "support/caf_boost.hpp"

#include "cplane/artefact_manager.hpp"
#include "cplane/cta_state.hpp"
#include "cplane/personal_data.hpp"
#include "node/cta_json.hpp"
#include "joconde/agreement.pb.h"
#include "joconde/messages/caf_error.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/node.pb.h"
#include "joconde/runtime/canonical_hash.hpp"
#include "joconde/runtime/clock.hpp"
#include "support/ct_reports.hpp"
#include "support/files.hpp"
#include "support/mplane_mocks.hpp"
#include "support/test_pki.hpp"

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace artefact_manager_test_support {

using namespace joconde;
using namespace std::string_literals;

using test::published;

inline v1::Ctsc example_draft(const std::string& organiser) {
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

inline std::string pak() {
  auto der = crypto::private_key::generate().value().public_key().to_der();
  return {der.begin(), der.end()};
}

struct fixture : test_coordinator_fixture<> {
  test::test_pki pki;
  test::test_node& root = pki.node("joconde.test");
  joconde::test::scoped_dir dir{"artefacts"};
  node_store store;
  std::shared_ptr<std::vector<published>> sent = std::make_shared<std::vector<published>>();
  std::shared_ptr<std::vector<test::audited>> audits = std::make_shared<std::vector<test::audited>>();
  artefact_manager_actor am;
  service_broker_actor broker;
  audit_log_actor audit;

  fixture() {
    store = node_store::open(dir.path, 64 << 20).value();
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
    broker = sys.spawn(test::mock_broker, sent);
    audit = sys.spawn(test::mock_audit, audits);
    am = sys.spawn(artefact_manager, "joconde.test"s, trust,
                   std::shared_ptr<const node_signer>{std::make_shared<memory_signer>(test::key_of(root))},
                   store, broker, audit, nullptr);
    sched.run();
  }

  ~fixture() {
    joconde::test::shut_down(self, sched, am, broker, audit);
    store = {};
  }

  void deliver(const std::string& topic, const std::string& origin, const std::string& payload) {
    self->send(am, deliver_atom::value, topic, origin, payload);
    sched.run();
  }

  /// Registers the example at the root as client-a's draft; the registered CTSC.
  v1::Ctsc registered(int64_t approval_deadline_ms = 0) {
    v1::CtscRegistration reg;
    reg.set_request_id(std::string(32, 'a'));
    *reg.mutable_ctsc() = example_draft("client-a.joconde.test");
    if (approval_deadline_ms != 0)
      reg.mutable_ctsc()->mutable_temporal()->set_approval_deadline_ms(approval_deadline_ms);
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
    auto h = ctsa_hash(sub.ctsa()).value();
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

/// Signatory `index`'s signature of `ctsa` (of `peer`) with a document of `bytes` bytes.
inline v1::SignatorySubmission signature_of(const std::string& peer, const v1::Ctsa& ctsa, uint32_t index,
                                            size_t bytes) {
  v1::SignatorySubmission sub;
  sub.set_request_id(std::string(31, 'f') + std::to_string(index % 10));
  auto& s = *sub.mutable_signature();
  s.set_peer(peer);
  auto h = ctsa_hash(ctsa).value();
  s.set_ctsa_sha256(std::string{h.begin(), h.end()});
  s.set_signatory(index);
  s.mutable_document()->set_name("signed-" + std::to_string(index) + ".pdf");
  s.mutable_document()->set_media_type("application/pdf");
  s.mutable_document()->set_data(std::string(bytes, static_cast<char>('a' + index)));
  s.set_signed_at_ms(4);
  return sub;
}

/// The fixture with a CTA made final at the root (both CTSAs signed and approved).
struct final_fixture : fixture {
  std::string uuid;

  final_fixture() {
    auto ctsc = registered();
    uuid = ctsc.uuid();
    for (const auto* peer : {"client-a.joconde.test", "client-b.joconde.test"}) {
      auto sub = submission(ctsc, peer, 1, pki.node(peer));
      deliver("cta.ctsa", peer, proto::serialize(sub));
      BOOST_REQUIRE_EQUAL(sent->back().topic, "cta.accepted");
      v1::SignatorySubmission sig;
      sig.set_request_id(std::string(32, 'e'));
      auto& s = *sig.mutable_signature();
      s.set_peer(peer);
      auto h = ctsa_hash(sub.ctsa()).value();
      s.set_ctsa_sha256(std::string{h.begin(), h.end()});
      s.set_signatory(0);
      s.mutable_document()->set_name("signed.pdf");
      s.mutable_document()->set_media_type("application/pdf");
      s.mutable_document()->set_data("%PDF");
      s.set_signed_at_ms(4);
      deliver("cta.signature", peer, proto::serialize(sig));
      BOOST_REQUIRE_EQUAL(sent->back().topic, "cta.accepted");
      auto rp = self->request(am, caf::infinite, decide_atom::value, uuid, std::string{peer}, true,
                              std::string{}, "approver"s);
      sched.run();
      rp.receive([](cta_receipt&) {}, [](caf::error& err) { BOOST_FAIL(describe(err)); });
    }
    BOOST_REQUIRE(record().has_final());
    BOOST_REQUIRE_EQUAL(to_string(record().status()), "instantiated");
  }

  v1::CtaRecord record() {
    return proto::parse<v1::CtaRecord>(stored(uuid)).value();
  }

  v1::VmEndpoint vm(const std::string& cp, uint32_t index) {
    return joconde::test::vm_endpoint(uuid, cp, index, "127.0.0.1:4102", 7);
  }

  v1::TelemetryEvent event(const std::string& cp, std::string kind, std::string subject,
                           std::string value = "", int64_t at = 8) {
    return joconde::test::telemetry_event(uuid, cp, std::move(kind), std::move(subject), std::move(value), at);
  }

  /// Delivered on `topic` from `origin`: refused, so nothing is stored and nothing is sent.
  void refused_report(const std::string& topic, const std::string& origin, const std::string& payload) {
    auto before = stored(uuid);
    auto n = sent->size();
    deliver(topic, origin, payload);
    BOOST_CHECK_MESSAGE(stored(uuid) == before, topic << " from " << origin << " changed the CTA");
    BOOST_CHECK_MESSAGE(sent->size() == n, topic << " from " << origin << " sent something");
  }
};

inline const std::vector<std::string> every_holder{
  "client-a.joconde.test", "client-b.joconde.test", "cp1.joconde.test", "cp2.joconde.test", "cp3.joconde.test"};

} // namespace artefact_manager_test_support
