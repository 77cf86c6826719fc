#define BOOST_TEST_MODULE rotation
#include <boost/test/unit_test.hpp>

#include "joconde/messages/proto.hpp"
#include "mplane/revocation.hpp"
#include "mplane/rotation.hpp"
#include "support/test_pki.hpp"

using namespace joconde;

namespace {

struct fixture {
  test::test_pki pki;
  test::test_node& cp1 = pki.add("cp1", "joconde.test");
  test::test_node& cp2 = pki.add("cp2", "joconde.test");
  trust_view root_trust{pki.root_ca(), pki.node("joconde.test").chain};
  trust_view cp1_trust{pki.root_ca(), cp1.chain};
  memory_signer root_signer{test::key_of(pki.node("joconde.test"))};
  memory_signer cp1_signer{test::key_of(cp1)};
  memory_signer cp2_signer{test::key_of(cp2)};
  crypto::private_key new_key = crypto::private_key::generate().value();
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();

  v1::NodeIdentity enrolled(test::test_node& n) {
    v1::NodeIdentity id;
    id.set_fqdn(n.fqdn);
    for (const auto& der : pki.chain_der(n.fqdn))
      id.mutable_chain()->add_certificates(der);
    id.set_fingerprint(n.chain.front().fingerprint());
    return id;
  }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(a_rotation_vouched_for_by_the_old_key_is_issued_and_installed, fixture) {
  auto req = make_rotation_request(cp1_trust, new_key, cp1_signer, now);
  BOOST_REQUIRE(req);
  auto answer = answer_rotation_request(root_trust, root_signer, "cp1.joconde.test", enrolled(cp1), *req, now);
  BOOST_REQUIRE_MESSAGE(answer.ok(), (answer ? std::string{} : answer.err().describe()));
  BOOST_CHECK_NE(answer->second.fingerprint(), cp1.chain.front().fingerprint());
  auto chain = accept_rotation_answer(cp1_trust, new_key, answer->first, now);
  BOOST_REQUIRE_MESSAGE(chain.ok(), (chain ? std::string{} : chain.err().describe()));
  BOOST_CHECK(chain->front().public_key() == new_key.public_key());
  BOOST_CHECK_EQUAL(chain->front().subject().organisation, cp1.chain.front().subject().organisation);
  cp1_trust.set_own_chain(*chain);
  BOOST_CHECK_EQUAL(cp1_trust.own_chain().front().fingerprint(), answer->second.fingerprint());
  BOOST_CHECK_EQUAL(cp1_trust.self(), "cp1.joconde.test");
}

BOOST_FIXTURE_TEST_CASE(rotation_requests_that_do_not_hold_are_refused, fixture) {
  // Vouched for by another node's key.
  auto forged = make_rotation_request(cp1_trust, new_key, cp2_signer, now);
  auto res = answer_rotation_request(root_trust, root_signer, "cp1.joconde.test", enrolled(cp1), *forged, now);
  BOOST_REQUIRE(!res);
  BOOST_CHECK(res.err().code == errc::bad_signature);
  // Sent by cp2 for cp1.
  auto req = make_rotation_request(cp1_trust, new_key, cp1_signer, now);
  res = answer_rotation_request(root_trust, root_signer, "cp2.joconde.test", enrolled(cp2), *req, now);
  BOOST_REQUIRE(!res);
  BOOST_CHECK(res.err().code == errc::forbidden);
  // Replayed after the certificate it names was replaced.
  auto record = enrolled(cp1);
  record.set_fingerprint("00:11");
  res = answer_rotation_request(root_trust, root_signer, "cp1.joconde.test", record, *req, now);
  BOOST_REQUIRE(!res);
  BOOST_CHECK(res.err().code == errc::replayed);
  // Garbage.
  BOOST_CHECK(!answer_rotation_request(root_trust, root_signer, "cp1.joconde.test", enrolled(cp1), "\x01\x02", now));
  // An answer for another key, or from another tree, is not installed.
  auto good = answer_rotation_request(root_trust, root_signer, "cp1.joconde.test", enrolled(cp1), *req, now);
  auto other_key = crypto::private_key::generate().value();
  auto wrong = accept_rotation_answer(cp1_trust, other_key, good->first, now);
  BOOST_REQUIRE(!wrong);
  BOOST_CHECK(wrong.err().code == errc::unknown_peer);
  test::test_pki other;
  trust_view foreign{other.root_ca(), other.add("cp1", "joconde.test").chain};
  BOOST_CHECK(!accept_rotation_answer(foreign, new_key, good->first, now));
  // The root itself does not rotate online.
  BOOST_CHECK(!make_rotation_request(root_trust, new_key, root_signer, now));
}

BOOST_FIXTURE_TEST_CASE(revocations_must_be_signed_by_the_revoked_key_or_the_root, fixture) {
  auto fp = cp1.chain.front().fingerprint();
  auto self_rev = make_revocation("cp1.joconde.test", fp, "retired", false, pki.chain_der("cp1.joconde.test"),
                                  cp1_signer, now);
  BOOST_REQUIRE(self_rev);
  BOOST_CHECK(verify_revocation(root_trust, *self_rev, now));
  auto root_mark = make_revocation("cp1.joconde.test", fp, "lost", true, pki.chain_der("joconde.test"),
                                   root_signer, now);
  BOOST_CHECK(verify_revocation(cp1_trust, *root_mark, now));
  // cp2 revoking cp1, cp2 pretending to be the root, and a tampered revocation: refused.
  auto by_cp2 = make_revocation("cp1.joconde.test", fp, "x", false, pki.chain_der("cp2.joconde.test"),
                                cp2_signer, now);
  BOOST_CHECK(verify_revocation(root_trust, *by_cp2, now).err().code == errc::forbidden);
  auto fake_root = make_revocation("cp1.joconde.test", fp, "x", true, pki.chain_der("cp2.joconde.test"),
                                   cp2_signer, now);
  BOOST_CHECK(verify_revocation(root_trust, *fake_root, now).err().code == errc::forbidden);
  auto rev = proto::parse<v1::Revocation>(*self_rev).value();
  rev.set_reason("edited");
  BOOST_CHECK(verify_revocation(root_trust, proto::serialize(rev), now).err().code == errc::bad_signature);
}
