#define BOOST_TEST_MODULE audit_checkpoint
#include <boost/test/unit_test.hpp>

// Signed checkpoints of the audit chain and the heads a parent keeps (docs/operations.md "Audit
// log"): an untouched log verifies; a rewritten line with a recomputed chain, a truncation with a
// fixed FILE.head, a deleted log, a torn last line and a checkpoint signed by another key are each
// found and named. The parent keeps a child's head only if it is the child's, signed by its key and
// not older than the kept one; a refusal changes nothing.

#include "support/files.hpp"
#include "support/test_pki.hpp"

#include "mplane/audit_heads.hpp"
#include "mplane/node_store.hpp"

#include "joconde/audit.pb.h"
#include "joconde/messages/proto.hpp"
#include "joconde/runtime/audit_chain.hpp"

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <unistd.h>

using namespace joconde;
namespace fs = std::filesystem;
using std::chrono::system_clock;

namespace {

const std::string domain = "joconde.test";
const std::string cp1 = "cp1." + domain;
const std::string cp2 = "cp2." + domain;

fs::path fresh(const std::string& name) { return test::fresh_dir("audit-" + name); }

std::string sha256_hex(const std::string& s) {
  return crypto::hex(crypto::sha256(crypto::to_bytes(s)));
}

/// What an attacker who can write the files (but not use the node key) does after editing lines:
/// recompute every prev= (and every checkpoint's head=) and FILE.head, so the chain is whole again.
void recompute(const fs::path& file, std::vector<std::string> ls) {
  std::string prev(64, '0');
  std::ofstream out{file, std::ios::trunc};
  for (auto& l : ls) {
    l = std::regex_replace(l, std::regex{" prev=\"[0-9a-f]{64}\""}, " prev=\"" + prev + "\"");
    l = std::regex_replace(l, std::regex{" head=\"[0-9a-f]{64}\""}, " head=\"" + prev + "\"");
    prev = sha256_hex(l);
    out << l << "\n";
  }
  std::ofstream{fs::path{file.string() + ".head"}, std::ios::trunc} << ls.size() << " " << prev << "\n";
}

audit_signer signer_for(const test::test_node& node) {
  auto key = std::make_shared<crypto::private_key>(test::key_of(node));
  return audit_signer{node.fqdn, node.chain, [key](crypto::bytes_view m) { return key->sign(m); }};
}

/// A log of cp1 with 10 records, a checkpoint, 5 more and a second checkpoint: 17 lines.
audit_head write_log(const fs::path& file, const audit_signer& signer) {
  auto chain = audit_chain::open(file, "joconde-node", "cp1").value();
  for (int i = 0; i < 10; ++i)
    BOOST_REQUIRE(chain.append("service_broker", "envelope", {{"id", std::to_string(i)}}));
  BOOST_REQUIRE(chain.checkpoint(signer, system_clock::now()).value());
  // Nothing new: no second checkpoint of the same records.
  BOOST_CHECK(!chain.checkpoint(signer, system_clock::now()).value());
  for (int i = 10; i < 15; ++i)
    BOOST_REQUIRE(chain.append("service_broker", "envelope", {{"id", std::to_string(i)}}));
  return chain.checkpoint(signer, system_clock::now()).value().value();
}

audit_verdict check(const fs::path& file, const crypto::certificate& ca,
                    std::optional<audit_head> kept = std::nullopt) {
  audit_verify_options opts;
  opts.ca = ca;
  opts.node = cp1;
  opts.kept = std::move(kept);
  return verify_audit_file(file, opts).value();
}

struct fixture {
  test::test_pki pki{domain};
  fixture() {
    pki.add("cp1", domain);
    pki.add("cp2", domain);
  }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(an_untouched_log_verifies_with_its_checkpoints_and_the_kept_head, fixture) {
  auto dir = fresh("clean");
  auto file = dir / "audit.log";
  auto head = write_log(file, signer_for(pki.node(cp1)));
  BOOST_CHECK_EQUAL(head.seq, 16u);
  BOOST_CHECK_EQUAL(head.node, cp1);
  auto v = check(file, pki.root_ca(), head);
  BOOST_CHECK_MESSAGE(v.ok, v.reason);
  BOOST_CHECK_EQUAL(v.records, 17u);
  BOOST_CHECK_EQUAL(v.checkpoints, 2u);
  BOOST_CHECK_EQUAL(v.signed_records, 16u);
  // The certificate chain is in the first checkpoint only (the key did not change).
  auto ls = test::file_lines(file);
  BOOST_CHECK(ls[10].find(" chain=\"") != std::string::npos);
  BOOST_CHECK(ls[16].find(" chain=\"") == std::string::npos);
  // A reopened log knows its last checkpoint: nothing to sign until a record is added.
  auto chain = audit_chain::open(file, "joconde-node", "cp1").value();
  BOOST_CHECK(!chain.checkpoint(signer_for(pki.node(cp1)), system_clock::now()).value());
  // The printed form of a head reads back the same.
  auto back = parse_audit_head(format_audit_head(head)).value();
  BOOST_CHECK_EQUAL(back.seq, head.seq);
  BOOST_CHECK_EQUAL(back.hash, head.hash);
  BOOST_CHECK(back.verify(pki.node(cp1).chain.front().public_key()));
  fs::remove_all(dir);
}

BOOST_FIXTURE_TEST_CASE(a_rewritten_line_with_a_recomputed_chain_fails_the_signatures, fixture) {
  auto dir = fresh("rewrite");
  auto file = dir / "audit.log";
  auto head = write_log(file, signer_for(pki.node(cp1)));
  auto ls = test::file_lines(file);
  ls[3].replace(ls[3].find("id=\"3\""), 6, "id=\"X\"");
  recompute(file, ls);
  // The chain itself is whole again: without keys the old check would pass.
  auto v = check(file, pki.root_ca());
  BOOST_CHECK(!v.ok);
  BOOST_CHECK_EQUAL(v.first_bad_line, 11u);
  BOOST_CHECK_MESSAGE(v.reason.find("signature does not verify") != std::string::npos, v.reason);
  // The attacker drops every checkpoint as well: the head kept by the parent names the rewrite.
  std::vector<std::string> unsigned_lines;
  for (const auto& l : ls)
    if (l.find("event=\"audit.checkpoint\"") == std::string::npos)
      unsigned_lines.push_back(l);
  unsigned_lines.push_back(unsigned_lines.back());
  unsigned_lines.push_back(unsigned_lines.back());
  for (size_t i = 0; i < unsigned_lines.size(); ++i)
    unsigned_lines[i] = std::regex_replace(unsigned_lines[i], std::regex{" seq=\"[0-9]+\""},
                                           " seq=\"" + std::to_string(i + 1) + "\"");
  recompute(file, unsigned_lines);
  auto no_kept = check(file, pki.root_ca());
  BOOST_CHECK(no_kept.ok);  // consistent with itself ...
  BOOST_CHECK_EQUAL(no_kept.checkpoints, 0u);
  auto with_kept = check(file, pki.root_ca(), head);
  BOOST_CHECK(!with_kept.ok); // ... but not with the head upstream
  BOOST_CHECK_EQUAL(with_kept.first_bad_line, 16u);
  BOOST_CHECK_MESSAGE(with_kept.reason.find("rewritten") != std::string::npos, with_kept.reason);
  fs::remove_all(dir);
}

BOOST_FIXTURE_TEST_CASE(a_checkpoint_by_another_key_or_under_another_ca_is_named, fixture) {
  auto dir = fresh("forger");
  auto file = dir / "audit.log";
  write_log(file, signer_for(pki.node(cp1)));
  auto good = test::file_lines(file);
  // cp2 signs a forged log of cp1 with its own (genuine) key and certificate.
  auto forged_dir = fresh("forged");
  auto forged = forged_dir / "audit.log";
  auto as_cp2 = signer_for(pki.node(cp2));
  as_cp2.node = cp1;
  write_log(forged, as_cp2);
  auto v = check(forged, pki.root_ca());
  BOOST_CHECK(!v.ok);
  BOOST_CHECK_EQUAL(v.first_bad_line, 11u);
  BOOST_CHECK_MESSAGE(v.reason.find("not " + cp1 + "'s") != std::string::npos, v.reason);
  // The genuine log under another root CA: the certificate is not trusted.
  test::test_pki other{domain};
  auto w = check(file, other.root_ca());
  BOOST_CHECK(!w.ok);
  BOOST_CHECK_EQUAL(w.first_bad_line, 11u);
  BOOST_CHECK_MESSAGE(w.reason.find("not issued under the given CA") != std::string::npos, w.reason);
  // Without a CA the signatures are checked against the log's own certificates, and it says so.
  auto n = verify_audit_file(file).value();
  BOOST_CHECK(n.ok);
  bool warned = false;
  for (const auto& note : n.notes)
    warned = warned || note.find("not checked against a CA") != std::string::npos;
  BOOST_CHECK(warned);
  fs::remove_all(dir);
  fs::remove_all(forged_dir);
}

BOOST_FIXTURE_TEST_CASE(truncation_and_deletion_are_found_by_the_kept_head, fixture) {
  auto dir = fresh("truncate");
  auto file = dir / "audit.log";
  auto head = write_log(file, signer_for(pki.node(cp1)));
  auto ls = test::file_lines(file);
  // Drop the last 3 lines and fix FILE.head: the chain and the head file agree again.
  recompute(file, {ls.begin(), ls.end() - 3});
  BOOST_CHECK(check(file, pki.root_ca()).ok);
  auto v = check(file, pki.root_ca(), head);
  BOOST_CHECK(!v.ok);
  BOOST_CHECK_EQUAL(v.first_bad_line, 15u);
  BOOST_CHECK_MESSAGE(v.reason.find("truncated") != std::string::npos, v.reason);
  // Deleted, with its head file.
  fs::remove(file);
  fs::remove(dir / "audit.log.head");
  BOOST_CHECK(check(file, pki.root_ca()).ok); // nothing to say without the parent ...
  auto d = check(file, pki.root_ca(), head);
  BOOST_CHECK(!d.ok);                          // ... which keeps a head
  BOOST_CHECK_MESSAGE(d.reason.find("deleted") != std::string::npos, d.reason);
  fs::remove_all(dir);
}

BOOST_FIXTURE_TEST_CASE(a_torn_last_line_is_reported_then_kept_and_recorded, fixture) {
  auto dir = fresh("torn");
  auto file = dir / "audit.log";
  auto head = write_log(file, signer_for(pki.node(cp1)));
  { std::ofstream{file, std::ios::app} << "<13>1 2024-01-01T00:00:00Z cp1 joconde-node - audit_log [audit@32473 seq=\"18\""; }
  auto v = check(file, pki.root_ca(), head);
  BOOST_CHECK(!v.ok);
  BOOST_CHECK_EQUAL(v.first_bad_line, 18u);
  BOOST_CHECK_MESSAGE(v.reason.find("torn") != std::string::npos, v.reason);
  {
    auto chain = audit_chain::open(file, "joconde-node", "cp1").value();
    BOOST_REQUIRE(chain.torn());
    BOOST_CHECK_EQUAL(chain.torn()->line, 18u);
    BOOST_CHECK(fs::exists(dir / "audit.log.torn-18"));
    BOOST_CHECK_EQUAL(chain.size(), 18u);
  }
  auto after = check(file, pki.root_ca(), head);
  BOOST_CHECK_MESSAGE(after.ok, after.reason);
  bool named = false;
  for (const auto& note : after.notes)
    named = named || note.find("line 18 was torn") != std::string::npos;
  BOOST_CHECK(named);
  fs::remove_all(dir);
}

BOOST_FIXTURE_TEST_CASE(the_parent_keeps_only_newer_heads_of_the_sender_signed_by_its_key, fixture) {
  auto dir = fresh("keep");
  auto store = node_store::open(dir, 1ull << 24).value();
  auto file = dir / "audit.log";
  auto signer = signer_for(pki.node(cp1));
  auto chain = audit_chain::open(file, "joconde-node", "cp1").value();
  BOOST_REQUIRE(chain.append("x", "one", {}));
  auto first = chain.checkpoint(signer, system_clock::now()).value().value();
  BOOST_REQUIRE(chain.append("x", "two", {}));
  auto second = chain.checkpoint(signer, system_clock::now()).value().value();
  const auto& leaf1 = pki.node(cp1).chain.front();
  const auto& leaf2 = pki.node(cp2).chain.front();
  auto now = system_clock::now();
  auto kept_seq = [&] {
    auto all = kept_audit_heads(store).value();
    return all.empty() ? uint64_t{0} : all.front().head.seq;
  };
  auto keep = [&](const std::string& peer, const crypto::certificate& leaf, const std::string& bytes) {
    return keep_audit_head(store, peer, leaf, bytes, now);
  };
  BOOST_CHECK(keep(cp1, leaf1, serialize_audit_head(second)).value().outcome == head_outcome::kept);
  BOOST_CHECK_EQUAL(kept_seq(), second.seq);
  BOOST_CHECK(keep(cp1, leaf1, serialize_audit_head(second)).value().outcome == head_outcome::unchanged);
  auto refused = [&](const std::string& peer, const crypto::certificate& leaf, const std::string& bytes,
                     errc code, const char* what) {
    auto r = keep(peer, leaf, bytes);
    BOOST_CHECK_MESSAGE(!r && r.err().code == code,
                        what << ": " << (r ? "kept" : r.err().describe()));
    BOOST_CHECK_MESSAGE(kept_seq() == second.seq, what << ": the kept head changed");
  };
  refused(cp1, leaf1, serialize_audit_head(first), errc::replayed, "an older head (rolled back)");
  auto forked = second;
  forked.hash = std::string(64, 'a');
  forked.signature = signer.sign(crypto::to_bytes(forked.signed_text())).value();
  refused(cp1, leaf1, serialize_audit_head(forked), errc::forbidden, "another head for the same record");
  auto bad_sig = second;
  bad_sig.seq = 99;
  refused(cp1, leaf1, serialize_audit_head(bad_sig), errc::bad_signature, "a changed head");
  refused(cp2, leaf2, serialize_audit_head(second), errc::unknown_peer, "cp1's head sent by cp2");
  auto by_cp2 = second;
  by_cp2.seq = 50;
  auto cp2_signer = signer_for(pki.node(cp2));
  by_cp2.key = leaf2.public_key().fingerprint();
  by_cp2.signature = cp2_signer.sign(crypto::to_bytes(by_cp2.signed_text())).value();
  refused(cp1, leaf1, serialize_audit_head(by_cp2), errc::bad_signature, "a head signed by cp2's key");
  refused(cp1, leaf1, "\x08\x01garbage", errc::malformed_input, "garbage");
  refused(cp1, leaf1, std::string(max_audit_head_bytes + 1, 'x'), errc::malformed_input, "too large");
  fs::remove_all(dir);
}
