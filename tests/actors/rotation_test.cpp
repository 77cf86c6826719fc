#define BOOST_TEST_MODULE rotation
#include <boost/test/unit_test.hpp>

#include "cplane/artefact_signatures.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/runtime/canonical_hash.hpp"
#include "mplane/confirmations.hpp"
#include "mplane/revocation.hpp"
#include "mplane/rotation.hpp"
#include "support/test_pki.hpp"

#include <filesystem>
#include <functional>
#include <optional>
#include <unistd.h>

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
  // Checked after issuing: a certificate starts at the second it was issued, which may follow `now`.
  auto chain = accept_rotation_answer(cp1_trust, new_key, answer->first, std::chrono::system_clock::now());
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
  auto wrong = accept_rotation_answer(cp1_trust, other_key, good->first, std::chrono::system_clock::now());
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

// -- rotation notices (SYS-2.1): a confirmation carries over to the successor the old key vouched for --

namespace {

/// cp1 rotates (its parent, the root, issues the certificate); client-a, a node elsewhere in the
/// tree, has confirmed cp1's old fingerprint out of band and receives the notice.
struct notice_fixture : fixture {
  test::test_node& client_a = pki.add("client-a", "joconde.test");
  trust_view client_a_trust{pki.root_ca(), client_a.chain};
  std::filesystem::path dir = std::filesystem::temp_directory_path()
                              / ("joconde-rotation-notice-" + std::to_string(::getpid()));
  node_store store;
  std::string old_fp = cp1.chain.front().fingerprint();
  std::string request = make_rotation_request(cp1_trust, new_key, cp1_signer, now).value();
  std::pair<std::string, v1::NodeIdentity> issued =
    answer_rotation_request(root_trust, root_signer, "cp1.joconde.test", enrolled(cp1), request, now).value();
  std::string new_fp = issued.second.fingerprint();
  /// When the notices are checked: after every certificate of the fixture was issued (certificates
  /// start at the second they are issued).
  std::chrono::system_clock::time_point at = std::chrono::system_clock::now();

  notice_fixture() {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    store = node_store::open(dir, 16 << 20).value();
    BOOST_REQUIRE(confirm_fingerprint(store, old_fp, 1));
  }

  ~notice_fixture() {
    store = {};
    std::filesystem::remove_all(dir);
  }

  std::string notice() {
    return make_rotation_notice(request, enrolled(cp1).chain(), issued.second.chain(), now);
  }

  /// Verifies and applies `bytes` at client-a as its identity manager does.
  result<notice_outcome> apply(const std::string& bytes) {
    auto continuity = verify_rotation_notice(client_a_trust, bytes, at);
    if (!continuity)
      return continuity.err();
    auto txn = store.env->begin_write().value();
    auto outcome = apply_rotation_notice(txn, store, *continuity, bytes, 2);
    if (outcome)
      BOOST_REQUIRE(txn.commit());
    return outcome;
  }

  std::optional<confirmation> confirmed(const std::string& fp) {
    auto txn = store.env->begin_read().value();
    return find_confirmation(txn, store, fp).value();
  }

  size_t rows(const lmdb::database& db) {
    auto txn = store.env->begin_read().value();
    return txn.count(db).value();
  }

  /// `bytes` is refused with `code` and nothing at client-a changes.
  void refused(const std::string& what, const std::string& bytes, errc code) {
    BOOST_TEST_CONTEXT(what) {
      auto trusted = rows(store.trusted);
      auto rotations = rows(store.rotations);
      auto res = apply(bytes);
      BOOST_REQUIRE(!res);
      BOOST_CHECK_MESSAGE(res.err().code == code, res.err().describe());
      BOOST_CHECK(!res.err().message.empty());
      BOOST_CHECK_EQUAL(rows(store.trusted), trusted);
      BOOST_CHECK_EQUAL(rows(store.rotations), rotations);
      BOOST_CHECK(!confirmed(new_fp));
    }
  }

  /// A notice whose parts are replaced by `edit`.
  std::string edited(const std::function<void(v1::RotationNotice&)>& edit) {
    auto n = proto::parse<v1::RotationNotice>(notice()).value();
    edit(n);
    return proto::serialize(n);
  }

  /// A chain for `fqdn` issued by the root node for `key`, valid from `not_before`.
  v1::CertificateChain chain_for(const std::string& fqdn, const crypto::public_key& key,
                                 std::optional<std::chrono::system_clock::time_point> not_before = {}) {
    auto& root = pki.node("joconde.test");
    auto profile = child_issue_profile(root.chain.front(), fqdn);
    profile.not_before = not_before.value_or(at - std::chrono::hours{1});
    auto cert = root_signer.issue(cp1.chain.front().subject(), {fqdn}, key, root.chain.front(), profile)
                  .value();
    v1::CertificateChain chain;
    auto der = cert.to_der();
    chain.add_certificates(std::string{der.begin(), der.end()});
    for (const auto& d : pki.chain_der("joconde.test"))
      chain.add_certificates(d);
    return chain;
  }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(a_rotation_notice_carries_the_confirmation_over_once, notice_fixture) {
  auto continuity = verify_rotation_notice(client_a_trust, notice(), at);
  BOOST_REQUIRE_MESSAGE(continuity.ok(), (continuity ? std::string{} : continuity.err().describe()));
  BOOST_CHECK_EQUAL(continuity->fqdn, "cp1.joconde.test");
  BOOST_CHECK_EQUAL(continuity->old_fingerprint, old_fp);
  BOOST_CHECK_EQUAL(continuity->new_fingerprint, new_fp);
  auto outcome = apply(notice());
  BOOST_REQUIRE(outcome);
  BOOST_CHECK(*outcome == notice_outcome::confirmed);
  auto c = confirmed(new_fp);
  BOOST_REQUIRE(c);
  BOOST_CHECK_EQUAL(c->rotated_from, old_fp);
  // Replayed (or arriving again through the flood): nothing changes.
  outcome = apply(notice());
  BOOST_REQUIRE(outcome);
  BOOST_CHECK(*outcome == notice_outcome::replayed);
  // An operator withdraws the new fingerprint: a replayed notice does not bring it back.
  BOOST_REQUIRE(remove_confirmation(store, new_fp));
  outcome = apply(notice());
  BOOST_REQUIRE(outcome);
  BOOST_CHECK(*outcome == notice_outcome::replayed);
  BOOST_CHECK(!confirmed(new_fp));
}

// The issuer's clock runs ahead of this node's: its fresh certificate is checked as of its start.
BOOST_FIXTURE_TEST_CASE(a_notice_from_an_issuer_whose_clock_runs_ahead_is_accepted, notice_fixture) {
  auto ahead = chain_for("cp1.joconde.test", new_key.public_key(), at + std::chrono::minutes{5});
  auto outcome = apply(edited([&](v1::RotationNotice& n) { *n.mutable_new_chain() = ahead; }));
  BOOST_REQUIRE_MESSAGE(outcome.ok(), (outcome ? std::string{} : outcome.err().describe()));
  BOOST_CHECK(*outcome == notice_outcome::confirmed);
  // An expired one is not.
  auto expired = edited([&](v1::RotationNotice& n) {
    *n.mutable_new_chain() = chain_for("cp1.joconde.test", new_key.public_key(), at - std::chrono::hours{24 * 800});
  });
  auto res = verify_rotation_notice(client_a_trust, expired, at);
  BOOST_REQUIRE(!res);
  BOOST_CHECK(res.err().code == errc::certificate_expired);
}

BOOST_FIXTURE_TEST_CASE(a_notice_whose_old_fingerprint_is_not_confirmed_here_confirms_nothing,
                        notice_fixture) {
  BOOST_REQUIRE(remove_confirmation(store, old_fp));
  auto outcome = apply(notice());
  BOOST_REQUIRE(outcome);
  BOOST_CHECK(*outcome == notice_outcome::not_confirmed_here);
  BOOST_CHECK(!confirmed(new_fp));
  // An operator's own confirmation of the new fingerprint is never replaced by a rotation record.
  BOOST_REQUIRE(confirm_fingerprint(store, new_fp, 5));
  BOOST_REQUIRE(confirm_fingerprint(store, old_fp, 6));
  auto txn = store.env->begin_write().value();
  auto again = apply_rotation_notice(txn, store, verify_rotation_notice(client_a_trust, notice(), at).value(),
                                     notice(), 7);
  BOOST_REQUIRE(again);
  BOOST_CHECK(*again == notice_outcome::replayed);
  BOOST_REQUIRE(txn.commit());
  BOOST_CHECK_EQUAL(confirmed(new_fp)->rotated_from, "");
  BOOST_CHECK_EQUAL(confirmed(new_fp)->at_ms, 5);
}

BOOST_FIXTURE_TEST_CASE(notices_that_do_not_hold_are_refused_and_change_nothing, notice_fixture) {
  // Forged: the new key vouched for by another node's key (cp2's), not cp1's old key.
  auto forged_request = make_rotation_request(cp1_trust, new_key, cp2_signer, now).value();
  refused("forged old-key signature",
          edited([&](v1::RotationNotice& n) { n.set_request(forged_request); }), errc::bad_signature);
  // The signature made for one key, the certificate issued for another (the SO minting a successor).
  auto other_key = crypto::private_key::generate().value();
  refused("new certificate for another key",
          edited([&](v1::RotationNotice& n) {
            *n.mutable_new_chain() = chain_for("cp1.joconde.test", other_key.public_key());
          }),
          errc::forbidden);
  // The certificate for the vouched-for key, but for another node's name.
  refused("new certificate of another FQDN",
          edited([&](v1::RotationNotice& n) {
            *n.mutable_new_chain() = chain_for("cp2.joconde.test", new_key.public_key());
          }),
          errc::forbidden);
  // The old chain of another node than the request names.
  refused("old certificate of another node",
          edited([&](v1::RotationNotice& n) { *n.mutable_old_chain() = enrolled(cp2).chain(); }),
          errc::forbidden);
  // A new chain from another tree's root.
  test::test_pki other;
  auto& stranger = other.add("cp1", "joconde.test");
  refused("new chain from another root",
          edited([&](v1::RotationNotice& n) {
            n.mutable_new_chain()->clear_certificates();
            for (const auto& der : other.chain_der(stranger.fqdn))
              n.mutable_new_chain()->add_certificates(der);
          }),
          errc::untrusted_chain);
  // Revoked: the new certificate, or the old one whose key vouches.
  client_a_trust.revoke(new_fp);
  refused("new certificate revoked", notice(), errc::certificate_revoked);
  trust_view fresh{pki.root_ca(), client_a.chain};
  fresh.revoke(old_fp);
  auto res = verify_rotation_notice(fresh, notice(), at);
  BOOST_REQUIRE(!res);
  BOOST_CHECK(res.err().code == errc::certificate_revoked);
  // Malformed.
  trust_view clean{pki.root_ca(), client_a.chain};
  for (const auto& garbage : {std::string{}, std::string{"\x01\x02\x03"}, std::string(100000, 'x'),
                              edited([](v1::RotationNotice& n) { n.clear_old_chain(); }),
                              edited([](v1::RotationNotice& n) { n.set_request("\xff\xff"); })}) {
    auto r = verify_rotation_notice(clean, garbage, at);
    BOOST_CHECK(!r);
    BOOST_CHECK(r.err().code == errc::malformed_input || r.err().code == errc::too_large);
  }
  BOOST_CHECK(!confirmed(new_fp));
  BOOST_CHECK_EQUAL(rows(store.rotations), 0u);
}

// -- continuity (spec §4.4.2.3): a node that rotated since a CTSC named its certificate still signs
// for that CTSC, through the notices that lead from the named certificate to its current one --

namespace {

crypto::private_key copy(const crypto::private_key& key) {
  return crypto::private_key::from_pem(*key.to_encrypted_pem("copy"), "copy").value();
}

/// cp1 rotates twice (old -> first -> second); client-a holds both notices.
struct succession_fixture : notice_fixture {
  crypto::private_key second_key = crypto::private_key::generate().value();
  std::vector<crypto::certificate> first_chain = certificates(issued.second.chain());
  trust_view first_trust{pki.root_ca(), first_chain};
  memory_signer first_signer{copy(new_key)};
  std::string second_request = make_rotation_request(first_trust, second_key, first_signer, now).value();
  std::pair<std::string, v1::NodeIdentity> second =
    answer_rotation_request(root_trust, root_signer, "cp1.joconde.test", issued.second, second_request, now).value();
  std::string second_fp = second.second.fingerprint();
  std::string first_notice = notice();
  std::string second_notice =
    make_rotation_notice(second_request, issued.second.chain(), second.second.chain(), now);

  succession_fixture() {
    BOOST_REQUIRE(apply(first_notice));
    BOOST_REQUIRE(apply(second_notice));
  }

  static std::vector<crypto::certificate> certificates(const v1::CertificateChain& chain) {
    std::vector<crypto::certificate> out;
    for (const auto& der : chain.certificates())
      out.push_back(crypto::certificate::from_der(crypto::to_bytes(der)).value());
    return out;
  }

  result<std::vector<std::string>> path(const std::string& from, const std::string& to) {
    auto txn = store.env->begin_read().value();
    return rotation_path(txn, store, from, to);
  }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(the_notices_held_lead_from_the_named_certificate_to_the_current_one, succession_fixture) {
  auto p = path(old_fp, second_fp);
  BOOST_REQUIRE_MESSAGE(p.ok(), (p ? std::string{} : p.err().describe()));
  BOOST_REQUIRE_EQUAL(p->size(), 2u);
  BOOST_CHECK((*p)[0] == first_notice);
  BOOST_CHECK((*p)[1] == second_notice);
  BOOST_CHECK(path(old_fp, old_fp).value().empty());
  BOOST_CHECK_EQUAL(path(new_fp, second_fp).value().size(), 1u);
  // A certificate whose notice never arrived here: not found, with a reason.
  auto missing = path(old_fp, cp2.chain.front().fingerprint());
  BOOST_REQUIRE(!missing);
  BOOST_CHECK(missing.err().code == errc::not_found);
  // The path ends where the notices end: from cp2's certificate there is none to cp1's.
  BOOST_CHECK(!path(cp2.chain.front().fingerprint(), second_fp));

  auto leaf = follow_rotations(client_a_trust, cp1.chain.front(), "cp1.joconde.test", *p, at);
  BOOST_REQUIRE_MESSAGE(leaf.ok(), (leaf ? std::string{} : leaf.err().describe()));
  BOOST_CHECK_EQUAL(leaf->fingerprint(), second_fp);
  BOOST_CHECK_EQUAL(follow_rotations(client_a_trust, cp1.chain.front(), "cp1.joconde.test", {}, at)
                      .value().fingerprint(), old_fp);
  // Out of order, with a gap, for another node, from another certificate, too long, garbage.
  auto refused_with = [&](const std::string& what, const crypto::certificate& from, const std::string& fqdn,
                          const std::vector<std::string>& notices, errc code) {
    BOOST_TEST_CONTEXT(what) {
      auto r = follow_rotations(client_a_trust, from, fqdn, notices, at);
      BOOST_REQUIRE(!r);
      BOOST_CHECK_MESSAGE(r.err().code == code, r.err().describe());
    }
  };
  refused_with("reversed", cp1.chain.front(), "cp1.joconde.test", {second_notice, first_notice}, errc::forbidden);
  refused_with("gap", cp1.chain.front(), "cp1.joconde.test", {second_notice}, errc::forbidden);
  refused_with("other node", cp1.chain.front(), "cp2.joconde.test", *p, errc::forbidden);
  refused_with("other start", cp2.chain.front(), "cp1.joconde.test", *p, errc::forbidden);
  refused_with("too long", cp1.chain.front(), "cp1.joconde.test",
               std::vector<std::string>(max_rotation_path + 1, first_notice), errc::malformed_input);
  refused_with("garbage", cp1.chain.front(), "cp1.joconde.test", {std::string{"\x0a\x03xyz"}},
               errc::malformed_input);
}

BOOST_FIXTURE_TEST_CASE(a_signature_after_rotations_verifies_against_the_certificate_the_ctsc_names,
                        succession_fixture) {
  std::vector<crypto::certificate> second_chain = certificates(second.second.chain());
  trust_view second_trust{pki.root_ca(), second_chain};
  memory_signer second_signer{copy(second_key)};
  v1::Ctsa ctsa;
  ctsa.set_peer("cp1.joconde.test");
  ctsa.set_ctsc_uuid("00000000-0000-4000-8000-000000000001");
  auto hash = canonical_hash(ctsa).value();
  auto p = path(old_fp, second_fp).value();
  auto ns = make_node_signature(second_signer, second_trust, v1::ARTEFACT_KIND_CTSA, hash, p).value();
  BOOST_CHECK_EQUAL(ns.signer_fingerprint(), second_fp);
  BOOST_CHECK_EQUAL(ns.rotations_size(), 2);
  auto ok = verify_member_signature(client_a_trust, ns, cp1.chain.front(), hash);
  BOOST_CHECK_MESSAGE(ok.ok(), (ok ? std::string{} : ok.err().describe()));
  // Without the notices, with only the first, by the key in between, over another artefact: refused.
  auto without = make_node_signature(second_signer, second_trust, v1::ARTEFACT_KIND_CTSA, hash).value();
  BOOST_CHECK(!verify_member_signature(client_a_trust, without, cp1.chain.front(), hash));
  auto partial = make_node_signature(second_signer, second_trust, v1::ARTEFACT_KIND_CTSA, hash, {p[0]}).value();
  auto r = verify_member_signature(client_a_trust, partial, cp1.chain.front(), hash);
  BOOST_REQUIRE(!r);
  BOOST_CHECK(r.err().code == errc::bad_signature);
  auto by_first = make_node_signature(first_signer, second_trust, v1::ARTEFACT_KIND_CTSA, hash, p).value();
  BOOST_CHECK(!verify_member_signature(client_a_trust, by_first, cp1.chain.front(), hash));
  ctsa.set_peer("cp2.joconde.test");
  BOOST_CHECK(!verify_member_signature(client_a_trust, ns, cp1.chain.front(), canonical_hash(ctsa).value()));
  // The same notices do not make cp2's certificate lead to cp1's key.
  auto other = ns;
  other.set_signer("cp2.joconde.test");
  BOOST_CHECK(!verify_member_signature(client_a_trust, other, cp2.chain.front(), hash));
  // A revoked certificate on the way vouches for nothing.
  client_a_trust.revoke(new_fp);
  BOOST_CHECK(!verify_member_signature(client_a_trust, ns, cp1.chain.front(), hash));
}
