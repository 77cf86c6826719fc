#define BOOST_TEST_MODULE envelope_admission
#include <boost/test/unit_test.hpp>

#include "joconde/envelope.pb.h"
#include "joconde/messages/proto.hpp"
#include "mplane/envelope_codec.hpp"
#include "mplane/routing.hpp"
#include "support/test_pki.hpp"

#include <set>
#include <tuple>

using namespace joconde;

namespace {

memory_signer signer_of(const test::test_node& node) { return memory_signer{test::key_of(node)}; }

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

// The broker reads topic and creation time of stored envelopes (for its metrics) without copying
// the payload; bytes that are not an envelope are an error, not a guess.
BOOST_FIXTURE_TEST_CASE(the_header_of_a_stored_envelope_is_read_without_its_payload, fixture) {
  auto env = from_a(std::string(100000, 'p'));
  auto header = peek_header(env.bytes);
  BOOST_REQUIRE_MESSAGE(header, (header ? std::string{} : header.err().describe()));
  BOOST_CHECK_EQUAL(header->topic, "test.echo");
  BOOST_CHECK_EQUAL(header->created_at_us, env.created_at_us);
  BOOST_CHECK_GT(header->created_at_us, 0);
  BOOST_CHECK(!peek_header("\xff\x01\x02"));
  BOOST_CHECK(!peek_header(env.bytes.substr(0, 40)));
  auto empty = peek_header("");
  BOOST_REQUIRE(empty);
  BOOST_CHECK(empty->topic.empty());
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

// Found by tests/fuzz/envelope_fuzz: an envelope with a string that is not UTF-8 was signed, and
// then refused by every node (the receivers' parse checks proto3 strings).
BOOST_FIXTURE_TEST_CASE(an_envelope_no_node_would_admit_is_not_made, fixture) {
  for (auto [topic, recipient, ct] : {std::tuple{"t\xad", "cp1.joconde.test", ""},
                                      std::tuple{"t", "\xad", ""}, std::tuple{"t", "cp1.joconde.test", "\xc0\x80"}}) {
    auto env = make_envelope(a_trust, a_signer, topic, {recipient}, ct, "x", now);
    BOOST_REQUIRE(!env);
    BOOST_CHECK(env.err().code == errc::malformed_input);
    BOOST_CHECK(env.err().message.find("UTF-8") != std::string::npos);
  }
  auto multi = make_envelopes(a_trust, a_signer, "t\xff", {"cp1.joconde.test"}, "", "x", 3, now);
  BOOST_CHECK(!multi && multi.err().code == errc::malformed_input);
  // Valid UTF-8 beyond ASCII is fine, and admitted as made.
  auto env = make_envelope(a_trust, a_signer, "t\u00e9", {"cp1.joconde.test"}, "ct-\u00fc", "x", now);
  BOOST_REQUIRE(env);
  BOOST_CHECK(admit_envelope(root_trust, env->bytes, "client-a.joconde.test", neighbour_kind::child, now));
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

BOOST_FIXTURE_TEST_CASE(a_batch_shares_one_signature_and_each_envelope_is_admitted_alone, fixture) {
  auto batch = make_envelopes(a_trust, a_signer, "test.echo", {"cp1.joconde.test"}, "", "p", 7, now)
                 .value();
  BOOST_REQUIRE_EQUAL(batch.size(), 7u);
  std::set<std::string> ids;
  std::set<std::string> signatures;
  for (size_t i = 0; i < batch.size(); ++i) {
    ids.insert(batch[i].id);
    auto signed_env = proto::parse<v1::SignedEnvelope>(batch[i].bytes).value();
    signatures.insert(signed_env.signature());
    BOOST_REQUIRE(signed_env.has_batch());
    BOOST_CHECK_EQUAL(signed_env.batch().index(), i);
    BOOST_CHECK_EQUAL(signed_env.batch().size(), 7u);
    // Alone, without any cache: each one carries what it takes to check it.
    auto at_root = admit_envelope(root_trust, batch[i].bytes, "client-a.joconde.test",
                                  neighbour_kind::child, now);
    BOOST_REQUIRE_MESSAGE(at_root, "envelope " << i << ": "
                                               << (at_root ? std::string{} : at_root.err().describe()));
  }
  BOOST_CHECK_EQUAL(ids.size(), 7u);
  BOOST_CHECK_EQUAL(signatures.size(), 1u);
  // In any order, with a cache: the signature is checked once, the rest cost their paths.
  batch_signature_cache cache;
  for (size_t i : {4, 0, 6, 2, 1, 5, 3}) {
    auto at_cp1 = admit_envelope(cp1_trust, batch[i].bytes, "joconde.test", neighbour_kind::parent,
                                 now, {}, &cache);
    BOOST_REQUIRE(at_cp1);
    BOOST_CHECK_EQUAL(at_cp1->id, batch[i].id);
  }
  BOOST_CHECK_EQUAL(cache.size(), 1u);
  // What a batch signature signs is never an Envelope, so it cannot pass for a body signature.
  std::array<uint8_t, 32> root{};
  root.fill(0x0a);
  BOOST_CHECK(!proto::parse<v1::Envelope>(batch_signed_bytes(7, root)));
  // One envelope is signed over its body, as make_envelope does.
  auto one = make_envelopes(a_trust, a_signer, "t", {"cp1.joconde.test"}, "", "p", 1, now).value();
  BOOST_CHECK(!proto::parse<v1::SignedEnvelope>(one.front().bytes).value().has_batch());
  BOOST_CHECK(!make_envelopes(a_trust, a_signer, "t", {"cp1.joconde.test"}, "", "p", 0, now));
  BOOST_CHECK(!make_envelopes(a_trust, a_signer, "t", {"cp1.joconde.test"}, "", "p", 10001, now));
  // 10,000 copies of 1 MiB would be 10 GiB in memory: refused before anything is made.
  auto huge = make_envelopes(a_trust, a_signer, "t", {"cp1.joconde.test"}, "",
                             std::string(1024 * 1024, 'x'), 10000, now);
  BOOST_REQUIRE(!huge);
  BOOST_CHECK(huge.err().code == errc::too_large);
  BOOST_CHECK(make_envelopes(a_trust, a_signer, "t", {"cp1.joconde.test"}, "",
                             std::string(1024 * 1024, 'x'), 64, now));
}

BOOST_FIXTURE_TEST_CASE(a_batch_envelope_changed_in_any_part_is_refused_even_after_its_batch_passed,
                        fixture) {
  auto batch = make_envelopes(a_trust, a_signer, "test.echo", {"cp1.joconde.test"}, "", "p", 7, now)
                 .value();
  // The cache knows this batch's signature: a changed envelope must still fail.
  batch_signature_cache cache;
  auto from = "client-a.joconde.test";
  auto kind = neighbour_kind::child;
  BOOST_REQUIRE(admit_envelope(root_trust, batch[2].bytes, from, kind, now, {}, &cache));
  auto original = proto::parse<v1::SignedEnvelope>(batch[2].bytes).value();
  auto refused = [&](const v1::SignedEnvelope& e, errc expected, errc or_else = errc::none) {
    auto res = admit_envelope(root_trust, proto::serialize(e), from, kind, now, {}, &cache);
    if (res) {
      BOOST_ERROR("a changed batch envelope was admitted");
      return;
    }
    BOOST_CHECK_MESSAGE(res.err().code == expected || (or_else != errc::none && res.err().code == or_else),
                        res.err().describe());
  };
  auto edited = original;
  auto body = proto::parse<v1::Envelope>(edited.body()).value();
  body.set_payload("changed");
  edited.set_body(proto::serialize(body));
  refused(edited, errc::bad_signature);
  for (uint32_t index : {0u, 1u, 3u, 6u}) {
    auto moved = original;
    moved.mutable_batch()->set_index(index);
    // Leaf 6 of 7 sits one level higher: its path is shorter than the one given.
    refused(moved, errc::bad_signature, errc::malformed_input);
  }
  // The tree of 7 and one of 8 can share a path shape: the signed size tells them apart.
  auto resized = original;
  resized.mutable_batch()->set_size(8);
  refused(resized, errc::bad_signature);
  auto bent = original;
  bent.mutable_batch()->mutable_path(0)->at(0) ^= 0x01;
  refused(bent, errc::bad_signature);
  auto short_hash = original;
  short_hash.mutable_batch()->mutable_path(1)->pop_back();
  refused(short_hash, errc::malformed_input);
  auto long_path = original;
  for (int i = 0; i < 30; ++i)
    long_path.mutable_batch()->add_path(std::string(32, 'x'));
  refused(long_path, errc::malformed_input);
  auto outside = original;
  outside.mutable_batch()->set_index(7);
  refused(outside, errc::malformed_input);
  auto single = original;
  single.mutable_batch()->set_size(1);
  single.mutable_batch()->set_index(0);
  refused(single, errc::malformed_input);
  // Without its proof the signature is taken as one over the body: it is not.
  auto bare = original;
  bare.clear_batch();
  refused(bare, errc::bad_signature);
  // Another origin's batch signature does not cover client-a's envelope.
  auto other = make_envelopes(cp1_trust, signer_of(cp1), "t", {"cp2.joconde.test"}, "", "p", 7, now)
                 .value();
  auto theirs = proto::parse<v1::SignedEnvelope>(other[2].bytes).value();
  auto swapped = original;
  swapped.set_signature(theirs.signature());
  swapped.mutable_batch()->CopyFrom(theirs.batch());
  refused(swapped, errc::bad_signature);
  // The intact envelope still passes; once client-a is revoked, the cached signature counts for
  // nothing.
  BOOST_CHECK(admit_envelope(root_trust, batch[2].bytes, from, kind, now, {}, &cache));
  root_trust.revoke(a.chain.front().fingerprint());
  refused(original, errc::certificate_revoked);
}

BOOST_AUTO_TEST_CASE(the_batch_signature_cache_forgets_the_oldest_beyond_its_capacity) {
  batch_signature_cache cache{2};
  cache.insert("a");
  cache.insert("b");
  cache.insert("a");
  BOOST_CHECK_EQUAL(cache.size(), 2u);
  cache.insert("c");
  BOOST_CHECK_EQUAL(cache.size(), 2u);
  BOOST_CHECK(!cache.contains("a"));
  BOOST_CHECK(cache.contains("b"));
  BOOST_CHECK(cache.contains("c"));
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
