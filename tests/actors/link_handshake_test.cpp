#define BOOST_TEST_MODULE link_handshake
#include <boost/test/unit_test.hpp>

#include "mplane/link_handshake.hpp"
#include "support/test_pki.hpp"

using namespace joconde;
using namespace std::chrono_literals;

namespace {

auto now() {
  return std::chrono::system_clock::now();
}

/// A root, cp1 below it and a handshake ready to run between them.
struct fixture {
  test::test_pki pki;
  test::test_node& cp1 = pki.add("cp1", "joconde.test");
  test::test_node& cp2 = pki.add("cp2", "joconde.test");
  trust_view root_trust{pki.root_ca(), pki.node("joconde.test").chain};
  trust_view cp1_trust{pki.root_ca(), cp1.chain};
  memory_signer root_signer{crypto::private_key::from_pem(
                              *pki.node("joconde.test").key.to_encrypted_pem("x"), "x")
                              .value()};
  memory_signer cp1_signer{crypto::private_key::from_pem(*cp1.key.to_encrypted_pem("x"), "x").value()};
  memory_signer cp2_signer{crypto::private_key::from_pem(*cp2.key.to_encrypted_pem("x"), "x").value()};
};

} // namespace

BOOST_FIXTURE_TEST_CASE(handshake_establishes_matching_keys, fixture) {
  auto hello = make_hello(cp1_trust);
  BOOST_REQUIRE(hello);
  auto challenge = on_hello(root_trust, root_signer, hello->hello, now());
  BOOST_REQUIRE_MESSAGE(challenge.ok(), (challenge ? std::string{} : challenge.err().describe()));
  auto child = on_challenge(cp1_trust, cp1_signer, *hello, challenge->second, now());
  BOOST_REQUIRE_MESSAGE(child.ok(), (child ? std::string{} : child.err().describe()));
  auto parent = on_proof(challenge->first, child->second);
  BOOST_REQUIRE_MESSAGE(parent.ok(), (parent ? std::string{} : parent.err().describe()));
  BOOST_CHECK_EQUAL(parent->peer().fqdn, "cp1.joconde.test");
  BOOST_CHECK_EQUAL(child->first.peer().fqdn, "joconde.test");
  // Frames sealed by one side open at the other, in both directions.
  uint64_t seq = 0;
  auto frame = child->first.seal_frame({"a", "bc"}, seq);
  uint64_t got = 0;
  auto envs = parent->open_frame(frame, got);
  BOOST_REQUIRE(envs);
  BOOST_CHECK_EQUAL(envs->size(), 2u);
  BOOST_CHECK_EQUAL(got, seq);
  auto down = parent->seal_frame({"x"}, seq);
  BOOST_CHECK(child->first.open_frame(down, got));
  auto ack = parent->seal_ack(7);
  auto acked = child->first.open_ack(ack);
  BOOST_REQUIRE(acked);
  BOOST_CHECK_EQUAL(*acked, 7u);
  // Negative twins on the established link: replayed frame, tampered frame, frame of another link.
  auto replay = parent->open_frame(frame, got);
  BOOST_REQUIRE(!replay);
  BOOST_CHECK(replay.err().code == errc::replayed);
  auto frame2 = child->first.seal_frame({"a"}, seq);
  frame2.back() ^= 1; // the MAC is the last field
  auto tampered = parent->open_frame(frame2, got);
  BOOST_REQUIRE(!tampered);
  BOOST_CHECK(tampered.err().code == errc::bad_mac);
  auto frame3 = child->first.seal_frame({"abc"}, seq);
  frame3[frame3.find("abc")] = 'x'; // an envelope changed in flight
  auto changed = parent->open_frame(frame3, got);
  BOOST_REQUIRE(!changed);
  BOOST_CHECK(changed.err().code == errc::bad_mac);
  auto garbage = parent->open_frame("\x01\x02garbage", got);
  BOOST_CHECK(!garbage);
  auto ack_tampered = child->first.open_ack(parent->seal_ack(8).substr(0, 10));
  BOOST_CHECK(!ack_tampered);
}

BOOST_FIXTURE_TEST_CASE(forged_proof_is_refused, fixture) {
  auto hello = make_hello(cp1_trust);
  BOOST_REQUIRE(hello);
  auto challenge = on_hello(root_trust, root_signer, hello->hello, now());
  BOOST_REQUIRE(challenge);
  // cp2 holds a valid certificate but signs the proof for cp1's hello: forged.
  auto forged = on_challenge(cp1_trust, cp2_signer, *hello, challenge->second, now());
  BOOST_REQUIRE(forged);
  auto res = on_proof(challenge->first, forged->second);
  BOOST_REQUIRE(!res);
  BOOST_CHECK(res.err().code == errc::bad_signature);
}

BOOST_FIXTURE_TEST_CASE(proof_for_another_handshake_is_refused, fixture) {
  auto hello1 = make_hello(cp1_trust);
  auto hello2 = make_hello(cp1_trust);
  BOOST_REQUIRE(hello1 && hello2);
  auto c1 = on_hello(root_trust, root_signer, hello1->hello, now());
  auto c2 = on_hello(root_trust, root_signer, hello2->hello, now());
  BOOST_REQUIRE(c1 && c2);
  auto p1 = on_challenge(cp1_trust, cp1_signer, *hello1, c1->second, now());
  BOOST_REQUIRE(p1);
  // Replaying the proof of handshake 1 against the state of handshake 2.
  auto res = on_proof(c2->first, p1->second);
  BOOST_REQUIRE(!res);
  BOOST_CHECK(res.err().code == errc::replayed || res.err().code == errc::bad_signature);
}

BOOST_FIXTURE_TEST_CASE(forged_challenge_is_refused, fixture) {
  auto hello = make_hello(cp1_trust);
  BOOST_REQUIRE(hello);
  // cp2 answers in the root's place: its chain is valid but it is not cp1's issuer.
  trust_view cp2_trust{pki.root_ca(), cp2.chain};
  auto fake = on_hello(root_trust, root_signer, hello->hello, now());
  BOOST_REQUIRE(fake);
  auto challenge = fake->second;
  challenge[challenge.size() - 5] ^= 1; // signature bytes tampered
  auto res = on_challenge(cp1_trust, cp1_signer, *hello, challenge, now());
  BOOST_REQUIRE(!res);
  BOOST_CHECK(res.err().code == errc::bad_signature || res.err().code == errc::malformed_input);
}

BOOST_FIXTURE_TEST_CASE(hello_from_foreign_root_is_refused, fixture) {
  test::test_pki other;
  auto& intruder = other.add("cp1", "joconde.test"); // same name, other root
  trust_view intruder_trust{other.root_ca(), intruder.chain};
  auto hello = make_hello(intruder_trust);
  BOOST_REQUIRE(hello);
  auto res = on_hello(root_trust, root_signer, hello->hello, now());
  BOOST_REQUIRE(!res);
  BOOST_CHECK(res.err().code == errc::untrusted_chain);
}

BOOST_FIXTURE_TEST_CASE(hello_from_revoked_node_is_refused, fixture) {
  root_trust.revoke(cp1.chain.front().fingerprint());
  auto hello = make_hello(cp1_trust);
  BOOST_REQUIRE(hello);
  auto res = on_hello(root_trust, root_signer, hello->hello, now());
  BOOST_REQUIRE(!res);
  BOOST_CHECK(res.err().code == errc::certificate_revoked);
}

BOOST_FIXTURE_TEST_CASE(hello_from_expired_node_is_refused, fixture) {
  auto& old = pki.add("old", "joconde.test", std::chrono::hours{1},
                      std::chrono::system_clock::now() - std::chrono::hours{48});
  trust_view old_trust{pki.root_ca(), old.chain};
  auto hello = make_hello(old_trust);
  BOOST_REQUIRE(hello);
  auto res = on_hello(root_trust, root_signer, hello->hello, now());
  BOOST_REQUIRE(!res);
  BOOST_CHECK(res.err().code == errc::certificate_expired);
}

BOOST_FIXTURE_TEST_CASE(hello_from_grandchild_is_refused, fixture) {
  // x.cp1 is valid below the root but was not enrolled by the root itself.
  auto& x = pki.add("x", "cp1.joconde.test");
  trust_view x_trust{pki.root_ca(), x.chain};
  auto hello = make_hello(x_trust);
  BOOST_REQUIRE(hello);
  auto v1 = hello->hello;
  // Readdress it to the root.
  auto res_direct = on_hello(root_trust, root_signer, v1, now());
  BOOST_REQUIRE(!res_direct);
  BOOST_CHECK(res_direct.err().code == errc::unknown_peer);
}

BOOST_FIXTURE_TEST_CASE(malformed_hello_is_refused, fixture) {
  for (std::string bad : {std::string{}, std::string{"\xff\xff\xff"}, std::string(70000, 'a')}) {
    auto res = on_hello(root_trust, root_signer, bad, now());
    BOOST_CHECK(!res);
  }
  auto hello = make_hello(cp1_trust);
  BOOST_REQUIRE(hello);
  auto truncated = hello->hello.substr(0, hello->hello.size() / 2);
  BOOST_CHECK(!on_hello(root_trust, root_signer, truncated, now()));
}

// A chain seen before is taken from the cache, but only while every certificate of it is valid: an
// intermediate that expires before the leaf ends the cached verification too.
BOOST_AUTO_TEST_CASE(cached_chain_expires_with_its_shortest_lived_certificate) {
  test::test_pki pki;
  pki.add("mid", "joconde.test", std::chrono::hours{2});
  auto& leaf = pki.add("leaf", "mid.joconde.test", std::chrono::hours{24});
  BOOST_REQUIRE(leaf.chain.front().not_after() > leaf.chain.at(1).not_after());
  trust_view trust{pki.root_ca(), pki.node("joconde.test").chain};
  auto chain = pki.chain_der("leaf.mid.joconde.test");
  auto first = trust.verify_chain(chain, now());
  BOOST_REQUIRE_MESSAGE(first.ok(), (first ? std::string{} : first.err().describe()));
  BOOST_CHECK(trust.verify_chain(chain, now()).ok()); // from the cache
  auto later = trust.verify_chain(chain, now() + std::chrono::hours{3});
  BOOST_CHECK(!later.ok());
  // And the same refusal without a cache in between.
  trust_view fresh{pki.root_ca(), pki.node("joconde.test").chain};
  BOOST_CHECK(!fresh.verify_chain(chain, now() + std::chrono::hours{3}).ok());
}
