#define BOOST_TEST_MODULE envelope_admission
#include <boost/test/unit_test.hpp>

#include "joconde/envelope.pb.h"
#include "joconde/messages/proto.hpp"
#include "mplane/envelope_codec.hpp"
#include "mplane/routing.hpp"
#include "support/test_pki.hpp"

using namespace joconde;

namespace {

memory_signer signer_of(test::test_node& node) {
  return memory_signer{crypto::private_key::from_pem(*node.key.to_encrypted_pem("x"), "x").value()};
}

struct fixture {
  test::test_pki pki;
  test::test_node& cp1 = pki.add("cp1", "joconde.test");
  test::test_node& cp2 = pki.add("cp2", "joconde.test");
  test::test_node& a = pki.add("client-a", "joconde.test");
  trust_view root_trust{pki.root_ca(), pki.node("joconde.test").chain};
  trust_view a_trust{pki.root_ca(), a.chain};
  trust_view cp1_trust{pki.root_ca(), cp1.chain};
  memory_signer a_signer = signer_of(a);
  memory_signer cp2_signer = signer_of(cp2);
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();

  admitted_envelope from_a(std::string payload = "hello") {
    return make_envelope(a_trust, a_signer, "test.echo", {"cp1.joconde.test"}, "", payload, now)
      .value();
  }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(a_signed_envelope_is_admitted_on_its_way, fixture) {
  auto env = from_a();
  auto at_root = admit_envelope(root_trust, env.bytes, "client-a.joconde.test", neighbour_kind::child, now);
  BOOST_REQUIRE_MESSAGE(at_root.ok(), (at_root ? std::string{} : at_root.err().describe()));
  BOOST_CHECK_EQUAL(at_root->origin, "client-a.joconde.test");
  auto at_cp1 = admit_envelope(cp1_trust, env.bytes, "joconde.test", neighbour_kind::parent, now);
  BOOST_REQUIRE(at_cp1);
  BOOST_CHECK_EQUAL(at_cp1->payload, "hello");
}

BOOST_FIXTURE_TEST_CASE(malformed_truncated_and_oversized_envelopes_are_refused, fixture) {
  auto env = from_a();
  auto from = "client-a.joconde.test";
  auto kind = neighbour_kind::child;
  BOOST_CHECK(admit_envelope(root_trust, "", from, kind, now).err().code == errc::bad_signature);
  BOOST_CHECK(admit_envelope(root_trust, "\xff\x01\x02", from, kind, now).err().code
              == errc::malformed_input);
  BOOST_CHECK(!admit_envelope(root_trust, env.bytes.substr(0, env.bytes.size() - 7), from, kind, now));
  envelope_limits small;
  small.max_bytes = 100;
  BOOST_CHECK(admit_envelope(root_trust, env.bytes, from, kind, now, small).err().code == errc::too_large);
  BOOST_CHECK(!make_envelope(a_trust, a_signer, "t", {"cp1.joconde.test"}, "",
                             std::string(5 * 1024 * 1024, 'x'), now));
}

BOOST_FIXTURE_TEST_CASE(unsigned_and_wrongly_signed_envelopes_are_refused, fixture) {
  auto env = from_a();
  auto signed_env = proto::parse<v1::SignedEnvelope>(env.bytes).value();
  auto unsigned_env = signed_env;
  unsigned_env.clear_signature();
  auto res = admit_envelope(root_trust, proto::serialize(unsigned_env), "client-a.joconde.test",
                            neighbour_kind::child, now);
  BOOST_REQUIRE(!res);
  BOOST_CHECK(res.err().code == errc::bad_signature);
  // Signed by cp2's key while carrying client-a's chain.
  auto forged = signed_env;
  auto sig = cp2_signer.sign(crypto::to_bytes(forged.body())).value();
  forged.set_signature(std::string{sig.begin(), sig.end()});
  res = admit_envelope(root_trust, proto::serialize(forged), "client-a.joconde.test",
                       neighbour_kind::child, now);
  BOOST_REQUIRE(!res);
  BOOST_CHECK(res.err().code == errc::bad_signature);
  // Body changed after signing.
  auto edited = signed_env;
  auto body = proto::parse<v1::Envelope>(edited.body()).value();
  body.set_payload("changed");
  edited.set_body(proto::serialize(body));
  res = admit_envelope(root_trust, proto::serialize(edited), "client-a.joconde.test",
                       neighbour_kind::child, now);
  BOOST_REQUIRE(!res);
  BOOST_CHECK(res.err().code == errc::bad_signature);
}

BOOST_FIXTURE_TEST_CASE(origin_outside_the_senders_subtree_is_refused, fixture) {
  auto env = from_a();
  // cp2 hands over an envelope of client-a: cp2 may speak only for its own subtree.
  auto res = admit_envelope(root_trust, env.bytes, "cp2.joconde.test", neighbour_kind::child, now);
  BOOST_REQUIRE(!res);
  BOOST_CHECK(res.err().code == errc::forbidden);
  // The parent hands cp1 an envelope claiming to come from cp1 itself.
  auto own = make_envelope(cp1_trust, signer_of(cp1), "t", {"cp1.joconde.test"}, "", "", now).value();
  res = admit_envelope(cp1_trust, own.bytes, "joconde.test", neighbour_kind::parent, now);
  BOOST_REQUIRE(!res);
  BOOST_CHECK(res.err().code == errc::forbidden);
  // An envelope whose body names another origin than its signer.
  auto signed_env = proto::parse<v1::SignedEnvelope>(env.bytes).value();
  auto body = proto::parse<v1::Envelope>(signed_env.body()).value();
  body.set_origin("cp2.joconde.test");
  signed_env.set_body(proto::serialize(body));
  auto sig = a_signer.sign(crypto::to_bytes(signed_env.body())).value();
  signed_env.set_signature(std::string{sig.begin(), sig.end()});
  res = admit_envelope(root_trust, proto::serialize(signed_env), "client-a.joconde.test",
                       neighbour_kind::child, now);
  BOOST_REQUIRE(!res);
  BOOST_CHECK(res.err().code == errc::forbidden);
}

BOOST_FIXTURE_TEST_CASE(stale_and_revoked_envelopes_are_refused, fixture) {
  auto env = from_a();
  auto later = now + std::chrono::hours{25};
  auto res = admit_envelope(root_trust, env.bytes, "client-a.joconde.test", neighbour_kind::child, later);
  BOOST_REQUIRE(!res);
  BOOST_CHECK(res.err().code == errc::replayed);
  root_trust.revoke(a.chain.front().fingerprint());
  res = admit_envelope(root_trust, env.bytes, "client-a.joconde.test", neighbour_kind::child, now);
  BOOST_REQUIRE(!res);
  BOOST_CHECK(res.err().code == errc::certificate_revoked);
}

BOOST_AUTO_TEST_CASE(routing_goes_up_then_down_to_the_named_recipients_only) {
  auto known = [](const std::string& c) {
    return c == "cp1.joconde.test" || c == "cp2.joconde.test" || c == "x.cp1.joconde.test";
  };
  // At client-a: everything not below goes to the parent.
  auto p = plan_route({"cp1.joconde.test", "cp2.joconde.test"}, "client-a.joconde.test",
                      "joconde.test", false, known);
  BOOST_CHECK(!p.local);
  BOOST_CHECK(p.next_hops == std::set<std::string>{"joconde.test"});
  // At the root: multicast to the children on the way, nothing to cp3.
  p = plan_route({"cp1.joconde.test", "cp2.joconde.test"}, "joconde.test", "", false, known);
  BOOST_CHECK((p.next_hops == std::set<std::string>{"cp1.joconde.test", "cp2.joconde.test"}));
  // Below a child: through that child.
  p = plan_route({"y.x.cp1.joconde.test"}, "cp1.joconde.test", "joconde.test", true, known);
  BOOST_CHECK(p.next_hops == std::set<std::string>{"x.cp1.joconde.test"});
  // From the parent, recipients in other branches are not this node's business.
  p = plan_route({"cp1.joconde.test", "cp2.joconde.test"}, "cp1.joconde.test", "joconde.test", true,
                 known);
  BOOST_CHECK(p.local);
  BOOST_CHECK(p.next_hops.empty());
  // Unknown child and nowhere to go at the root.
  p = plan_route({"cp9.joconde.test", "other.example"}, "joconde.test", "", false, known);
  BOOST_CHECK_EQUAL(p.unroutable.size(), 2u);
  BOOST_CHECK(in_subtree("a.cp1.joconde.test", "cp1.joconde.test"));
  BOOST_CHECK(!in_subtree("xcp1.joconde.test", "cp1.joconde.test"));
  BOOST_CHECK(is_direct_child("cp1.joconde.test", "joconde.test"));
  BOOST_CHECK(!is_direct_child("a.cp1.joconde.test", "joconde.test"));
}
