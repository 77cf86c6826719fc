#define BOOST_TEST_MODULE identity_manager
#include <boost/test/unit_test.hpp>

#include "support/caf_boost.hpp"

// Rotation notices through the identity manager (SYS-2.1), with mock neighbours: the parent that
// issues a rotated certificate applies the notice itself and spreads it to the tree; a node elsewhere
// that confirmed the old fingerprint out of band confirms the new one, audits it and spreads the
// notice once; a replayed notice changes nothing and goes no further; a notice whose old fingerprint
// is not confirmed there confirms nothing but still travels on; forged or garbage notices are
// refused, logged, counted and audited, change nothing and go no further.

#include "mplane/confirmations.hpp"
#include "mplane/identity_manager.hpp"
#include "mplane/revocation.hpp"
#include "joconde/messages/caf_error.hpp"
#include "joconde/messages/proto.hpp"
#include "support/mplane_mocks.hpp"
#include "support/test_pki.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <unistd.h>

using namespace joconde;
using namespace std::string_literals;

namespace {

constexpr const char* cp1 = "cp1.joconde.test";
constexpr const char* cp2 = "cp2.joconde.test";
constexpr const char* client_a = "client-a.joconde.test";
constexpr const char* department = "d.client-a.joconde.test";

/// One node's identity manager (`fqdn`) with its own store and mock neighbours.
struct node_under_test {
  std::filesystem::path dir;
  node_store store;
  std::shared_ptr<trust_view> trust;
  std::shared_ptr<std::vector<test::published>> sent = std::make_shared<std::vector<test::published>>();
  std::shared_ptr<std::vector<test::audited>> audits = std::make_shared<std::vector<test::audited>>();
  std::shared_ptr<std::vector<std::string>> dropped = std::make_shared<std::vector<std::string>>();
  std::vector<test::published> handed_down; ///< the tree policy sent at start (taken out of `sent`)
  identity_manager_actor im;
  service_broker_actor broker;
  audit_log_actor audit;
  connection_manager_actor cm;
};

v1::NodeIdentity identity_of(test::test_pki& pki, const std::string& fqdn) {
  auto& n = pki.node(fqdn);
  v1::NodeIdentity id;
  id.set_name(fqdn.substr(0, fqdn.find('.')));
  id.set_fqdn(fqdn);
  id.set_role(v1::ROLE_CLIENT);
  for (const auto& der : pki.chain_der(fqdn))
    id.mutable_chain()->add_certificates(der);
  id.set_fingerprint(n.chain.front().fingerprint());
  return id;
}

struct fixture : test_coordinator_fixture<> {
  test::test_pki pki;
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
  crypto::private_key cp1_new_key = crypto::private_key::generate().value();
  crypto::private_key cp2_new_key = crypto::private_key::generate().value();
  std::vector<std::unique_ptr<node_under_test>> nodes;
  tree_policy root_rules; ///< what the root's configuration says (the defaults unless a test sets them)

  fixture() {
    for (const auto* label : {"cp1", "cp2", "client-a", "cp3"})
      pki.add(label, "joconde.test");
    pki.add("d", client_a);
  }

  ~fixture() {
    for (auto& n : nodes) {
      for (const caf::actor_addr& a : {n->im.address(), n->broker.address(), n->audit.address(), n->cm.address()})
        self->send_exit(a, caf::exit_reason::user_shutdown);
      sched.run();
      n->store = {};
      std::filesystem::remove_all(n->dir);
    }
  }

  /// Starts the identity manager of `fqdn`, whose store holds `children` as enrolled here and
  /// `confirmed` as compared out of band.
  node_under_test& start(const std::string& fqdn, const std::vector<std::string>& children,
                         const std::vector<std::string>& confirmed) {
    auto n = std::make_unique<node_under_test>();
    n->dir = std::filesystem::temp_directory_path()
             / ("joconde-identity-" + std::to_string(::getpid()) + "-" + fqdn);
    std::filesystem::remove_all(n->dir);
    std::filesystem::create_directories(n->dir);
    n->store = node_store::open(n->dir, 16 << 20).value();
    for (const auto& child : children) {
      auto txn = n->store.env->begin_write().value();
      BOOST_REQUIRE(txn.put(n->store.children, child, proto::serialize(identity_of(pki, child))));
      BOOST_REQUIRE(txn.commit());
    }
    for (const auto& fp : confirmed)
      BOOST_REQUIRE(confirm_fingerprint(n->store, fp, 1));
    auto& me = pki.node(fqdn);
    n->trust = std::make_shared<trust_view>(pki.root_ca(), me.chain);
    n->broker = sys.spawn(test::mock_broker, n->sent);
    n->audit = sys.spawn(test::mock_audit, n->audits);
    n->cm = sys.spawn(test::mock_cm, n->dropped);
    identity_files files{n->dir / "node.key", n->dir / "node-chain.pem", "unused"};
    files.root_rules = root_rules;
    n->im = sys.spawn(identity_manager, n->trust, std::make_shared<memory_signer>(test::key_of(me)), files,
                      n->store, n->cm, n->broker, n->audit);
    sched.run();
    for (auto& p : *n->sent)
      if (p.topic == tree_policy_topic)
        n->handed_down.push_back(p);
    std::erase_if(*n->sent, [](const auto& p) { return p.topic == tree_policy_topic; });
    nodes.push_back(std::move(n));
    return *nodes.back();
  }

  void deliver(node_under_test& n, const std::string& topic, const std::string& origin,
               const std::string& payload) {
    auto rp = self->request(n.im, caf::infinite, deliver_atom::value, topic, origin, payload);
    sched.run();
    rp.receive([](bool) {}, [](caf::error& err) { BOOST_FAIL(describe(err)); });
  }

  /// The identity manager's status document.
  caf::settings status_doc(node_under_test& n) {
    caf::settings doc;
    auto rp = self->request(n.im, caf::infinite, status_atom::value);
    sched.run();
    rp.receive([&](caf::settings& s) { doc = std::move(s); },
               [](caf::error& err) { BOOST_FAIL(describe(err)); });
    return doc;
  }

  int64_t status_int(node_under_test& n, const std::string& key) {
    return caf::get_or(status_doc(n), key, int64_t{-1});
  }

  /// The identity manager's count of rotation notices per outcome.
  std::map<std::string, int64_t> status(node_under_test& n) {
    caf::settings doc;
    auto rp = self->request(n.im, caf::infinite, status_atom::value);
    sched.run();
    rp.receive([&](caf::settings& s) { doc = std::move(s); },
               [](caf::error& err) { BOOST_FAIL(describe(err)); });
    std::map<std::string, int64_t> counts;
    for (const auto& [outcome, n] : caf::get_or(doc, "rotation_notices", caf::settings{}))
      if (auto v = caf::get_if<int64_t>(&n))
        counts[std::string{outcome}] = *v;
    return counts;
  }

  std::string fingerprint_of(const std::string& fqdn) {
    return pki.node(fqdn).chain.front().fingerprint();
  }

  /// The notice of `fqdn`'s rotation to `key` as its parent (the root) makes it, with the request
  /// vouched for by the key of node `voucher` (`fqdn` itself, or a forger); and the new certificate's
  /// fingerprint.
  std::pair<std::string, std::string> rotation_of(const std::string& fqdn, const crypto::private_key& key,
                                                  const std::string& voucher) {
    auto& n = pki.node(fqdn);
    trust_view own{pki.root_ca(), n.chain};
    trust_view root_trust{pki.root_ca(), pki.node("joconde.test").chain};
    memory_signer root_signer{test::key_of(pki.node("joconde.test"))};
    memory_signer old_signer{test::key_of(n)};
    auto enrolled = identity_of(pki, fqdn);
    auto genuine = make_rotation_request(own, key, old_signer, now).value();
    auto issued = answer_rotation_request(root_trust, root_signer, fqdn, enrolled, genuine, now).value();
    memory_signer vouching{test::key_of(pki.node(voucher))};
    auto req = make_rotation_request(own, key, vouching, now).value();
    return {make_rotation_notice(req, enrolled.chain(), issued.second.chain(), now),
            issued.second.fingerprint()};
  }

  size_t rows(node_under_test& n, const lmdb::database& db) {
    auto txn = n.store.env->begin_read().value();
    return txn.count(db).value();
  }

  std::optional<confirmation> confirmed(node_under_test& n, const std::string& fp) {
    auto txn = n.store.env->begin_read().value();
    return find_confirmation(txn, n.store, fp).value();
  }

  size_t audited(node_under_test& n, const std::string& event) {
    return static_cast<size_t>(std::count_if(n.audits->begin(), n.audits->end(),
                                             [&](const auto& a) { return a.event == event; }));
  }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(the_parent_issues_applies_and_spreads_the_notice, fixture) {
  auto& root = start("joconde.test", {cp1, cp2, client_a}, {fingerprint_of(cp1)});
  trust_view cp1_trust{pki.root_ca(), pki.node(cp1).chain};
  memory_signer cp1_signer{test::key_of(pki.node(cp1))};
  auto req = make_rotation_request(cp1_trust, cp1_new_key, cp1_signer, now).value();
  deliver(root, rotation_request_topic, cp1, req);
  // The answer to cp1, then the notice to every enrolled child (the root has no parent).
  BOOST_REQUIRE_EQUAL(root.sent->size(), 2u);
  BOOST_CHECK_EQUAL(root.sent->at(0).topic, rotation_issued_topic);
  BOOST_CHECK(root.sent->at(0).to == std::vector<std::string>{cp1});
  const auto& notice = root.sent->at(1);
  BOOST_CHECK_EQUAL(notice.topic, rotation_notice_topic);
  BOOST_CHECK(notice.to == (std::vector<std::string>{client_a, cp1, cp2}));
  // The root confirmed cp1 out of band: the new certificate is confirmed as its successor.
  auto issued = proto::parse<v1::Rotation>(root.sent->at(0).payload).value();
  auto new_fp = crypto::fingerprint(crypto::to_bytes(issued.new_chain().certificates(0)));
  auto c = confirmed(root, new_fp);
  BOOST_REQUIRE(c);
  BOOST_CHECK_EQUAL(c->rotated_from, fingerprint_of(cp1));
  BOOST_CHECK_EQUAL(status(root)["confirmed"], 1);
  // The notice the root spread verifies anywhere in the tree.
  trust_view elsewhere{pki.root_ca(), pki.node(client_a).chain};
  auto continuity = verify_rotation_notice(elsewhere, notice.payload, std::chrono::system_clock::now());
  BOOST_REQUIRE_MESSAGE(continuity.ok(), (continuity ? std::string{} : continuity.err().describe()));
  BOOST_CHECK_EQUAL(continuity->new_fingerprint, new_fp);
  // The same notice coming back through the flood stops here.
  deliver(root, rotation_notice_topic, "cp1.joconde.test", notice.payload);
  BOOST_CHECK_EQUAL(root.sent->size(), 2u);
  BOOST_CHECK_EQUAL(status(root)["replayed"], 1);
  // A revoked certificate vouches for nothing: cp2's request is refused, nothing issued or stored.
  root.trust->revoke(fingerprint_of(cp2));
  trust_view cp2_trust{pki.root_ca(), pki.node(cp2).chain};
  memory_signer cp2_signer{test::key_of(pki.node(cp2))};
  auto rotations = rows(root, root.store.rotations);
  deliver(root, rotation_request_topic, cp2,
          make_rotation_request(cp2_trust, cp2_new_key, cp2_signer, now).value());
  BOOST_CHECK_EQUAL(root.sent->size(), 2u);
  BOOST_CHECK_EQUAL(rows(root, root.store.rotations), rotations);
  BOOST_CHECK_EQUAL(audited(root, "pki.rotation.refused"), 1u);
  auto txn = root.store.env->begin_read().value();
  auto record = proto::parse<v1::NodeIdentity>(txn.get(root.store.children, cp2).value().value()).value();
  BOOST_CHECK_EQUAL(record.fingerprint(), fingerprint_of(cp2));
}

// A revoked key is never registered again (spec §4.4.2.3): the root applies cp2's own revocation
// and records its key; cp1 then asks to rotate to that very key (it holds it, vouched for by its own
// current key): refused, audited, nothing issued. A fresh key still rotates.
BOOST_FIXTURE_TEST_CASE(a_revoked_key_is_not_registered_again_by_a_rotation, fixture) {
  auto& root = start("joconde.test", {cp1, cp2, client_a}, {});
  memory_signer cp2_signer{test::key_of(pki.node(cp2))};
  auto revocation = make_revocation(cp2, fingerprint_of(cp2), "the host was retired", false,
                                    pki.chain_der(cp2), cp2_signer, now)
                      .value();
  deliver(root, revocation_topic, cp2, revocation);
  BOOST_REQUIRE(root.trust->is_revoked(fingerprint_of(cp2)));
  BOOST_CHECK_EQUAL(rows(root, root.store.revoked_keys), 1u);
  trust_view cp1_trust{pki.root_ca(), pki.node(cp1).chain};
  memory_signer cp1_signer{test::key_of(pki.node(cp1))};
  auto sent = root.sent->size();
  deliver(root, rotation_request_topic, cp1,
          make_rotation_request(cp1_trust, test::key_of(pki.node(cp2)), cp1_signer, now).value());
  BOOST_CHECK_EQUAL(root.sent->size(), sent);
  BOOST_CHECK_EQUAL(audited(root, "pki.rotation.refused"), 1u);
  BOOST_CHECK_EQUAL(rows(root, root.store.rotations), 0u);
  // The twin: a key never revoked is issued.
  deliver(root, rotation_request_topic, cp1, make_rotation_request(cp1_trust, cp1_new_key, cp1_signer, now).value());
  BOOST_CHECK_EQUAL(root.sent->size(), sent + 2);
  BOOST_CHECK_EQUAL(audited(root, "pki.rotation.refused"), 1u);
}

BOOST_FIXTURE_TEST_CASE(a_node_that_confirmed_the_old_fingerprint_trusts_the_new_one, fixture) {
  auto& a = start(client_a, {department}, {fingerprint_of(cp1)});
  auto [notice, new_fp] = rotation_of(cp1, cp1_new_key, cp1);
  deliver(a, rotation_notice_topic, "joconde.test", notice);
  auto c = confirmed(a, new_fp);
  BOOST_REQUIRE(c);
  BOOST_CHECK_EQUAL(c->rotated_from, fingerprint_of(cp1));
  BOOST_CHECK_EQUAL(audited(a, "pki.rotation.confirmed"), 1u);
  // From above: on to the children only.
  BOOST_REQUIRE_EQUAL(a.sent->size(), 1u);
  BOOST_CHECK_EQUAL(a.sent->back().topic, rotation_notice_topic);
  BOOST_CHECK(a.sent->back().to == std::vector<std::string>{department});
  BOOST_CHECK(a.sent->back().payload == notice);
  // Again (the flood, or a replay): nothing changes and it goes no further.
  deliver(a, rotation_notice_topic, "joconde.test", notice);
  BOOST_CHECK_EQUAL(a.sent->size(), 1u);
  BOOST_CHECK_EQUAL(audited(a, "pki.rotation.confirmed"), 1u);
  auto counts = status(a);
  BOOST_CHECK_EQUAL(counts["confirmed"], 1);
  BOOST_CHECK_EQUAL(counts["replayed"], 1);
  BOOST_CHECK_EQUAL(counts["refused"], 0);
}

BOOST_FIXTURE_TEST_CASE(a_notice_for_an_unconfirmed_node_confirms_nothing_but_travels_on, fixture) {
  auto& a = start(client_a, {department}, {fingerprint_of(cp1)});
  auto [notice, new_fp] = rotation_of(cp2, cp2_new_key, cp2);
  // From below (the department): on to the root, and to no other child (there is none).
  deliver(a, rotation_notice_topic, department, notice);
  BOOST_CHECK(!confirmed(a, new_fp));
  BOOST_CHECK(!confirmed(a, fingerprint_of(cp2)));
  BOOST_REQUIRE_EQUAL(a.sent->size(), 1u);
  BOOST_CHECK(a.sent->back().to == std::vector<std::string>{"joconde.test"});
  BOOST_CHECK_EQUAL(status(a)["not_confirmed_here"], 1);
  BOOST_CHECK_EQUAL(audited(a, "pki.rotation.confirmed"), 0u);
}

BOOST_FIXTURE_TEST_CASE(forged_and_garbage_notices_are_refused_counted_and_go_no_further, fixture) {
  auto& a = start(client_a, {department}, {fingerprint_of(cp1)});
  auto trusted = rows(a, a.store.trusted);
  // cp2's key vouching for cp1's new key: forged.
  auto [forged, new_fp] = rotation_of(cp1, cp1_new_key, cp2);
  for (const auto& bad : {forged, std::string{"\x0a\x03xyz"}, std::string(70000, '\x01'), std::string{}})
    deliver(a, rotation_notice_topic, "joconde.test", bad);
  BOOST_CHECK(!confirmed(a, new_fp));
  BOOST_CHECK_EQUAL(rows(a, a.store.trusted), trusted);
  BOOST_CHECK_EQUAL(rows(a, a.store.rotations), 0u);
  BOOST_CHECK(a.sent->empty());
  BOOST_CHECK_EQUAL(status(a)["refused"], 4);
  BOOST_CHECK_EQUAL(audited(a, "pki.rotation.notice.refused"), 4u);
  auto refusal = std::find_if(a.audits->begin(), a.audits->end(),
                              [](const auto& x) { return x.event == "pki.rotation.notice.refused"; });
  BOOST_CHECK(std::find(refusal->fields.begin(), refusal->fields.end(), "bad_signature") != refusal->fields.end());
}

// -- the root's rules for the tree (spec §4.4.2.3: the root dictates the rotation frequency) --

BOOST_FIXTURE_TEST_CASE(the_root_signs_its_rules_and_hands_them_to_each_child_once, fixture) {
  root_rules.rotation_period = std::chrono::seconds{60};
  root_rules.certificate_lifetime = std::chrono::seconds{600};
  auto& root = start("joconde.test", {cp1, cp2, client_a}, {});
  BOOST_REQUIRE_EQUAL(root.handed_down.size(), 1u);
  BOOST_CHECK(root.handed_down[0].to == (std::vector<std::string>{client_a, cp1, cp2}));
  BOOST_CHECK_EQUAL(status_int(root, "rotation_period_s"), 60);
  BOOST_CHECK_EQUAL(status_int(root, "certificate_lifetime_s"), 600);
  BOOST_CHECK_EQUAL(audited(root, "pki.policy"), 1u);
  // Signed by the root: it verifies at a node elsewhere in the tree, and says what was configured.
  trust_view at_a{pki.root_ca(), pki.node(client_a).chain};
  auto rules = verify_tree_policy(at_a, root.handed_down[0].payload);
  BOOST_REQUIRE_MESSAGE(rules.ok(), (rules ? std::string{} : rules.err().describe()));
  BOOST_CHECK(rules->rotation_period == std::chrono::seconds{60});
  BOOST_CHECK(rules->certificate_lifetime == std::chrono::seconds{600});
  // The next check sends nothing again; a child enrolled since gets it at the next check.
  self->send(root.im, tick_atom::value);
  sched.run();
  BOOST_CHECK(root.sent->empty());
  {
    auto txn = root.store.env->begin_write().value();
    BOOST_REQUIRE(txn.put(root.store.children, "cp3.joconde.test",
                          proto::serialize(identity_of(pki, "cp3.joconde.test"))));
    BOOST_REQUIRE(txn.commit());
  }
  self->send(root.im, tick_atom::value);
  sched.run();
  BOOST_REQUIRE_EQUAL(root.sent->size(), 1u);
  BOOST_CHECK_EQUAL(root.sent->at(0).topic, tree_policy_topic);
  BOOST_CHECK(root.sent->at(0).to == std::vector<std::string>{"cp3.joconde.test"});
  BOOST_CHECK(root.sent->at(0).payload == root.handed_down[0].payload);
}

BOOST_FIXTURE_TEST_CASE(a_node_takes_the_newest_root_policy_from_its_parent_only, fixture) {
  root_rules.rotation_period = std::chrono::seconds{60};
  root_rules.certificate_lifetime = std::chrono::seconds{600};
  auto& root = start("joconde.test", {client_a}, {});
  BOOST_REQUIRE_EQUAL(root.handed_down.size(), 1u);
  auto signed_rules = root.handed_down[0].payload;
  auto& a = start(client_a, {department}, {});
  // Until the policy arrives, the defaults (26 weeks, 24 months) are in force.
  BOOST_CHECK_EQUAL(status_int(a, "rotation_period_s"), 182LL * 24 * 3600);
  BOOST_CHECK_EQUAL(status_int(a, "policy_issued_at_ms"), 0);
  BOOST_CHECK(a.handed_down.empty());
  // Refused, each changing nothing and going no further: from a child, garbage, edited after
  // signing, empty.
  auto edited = proto::parse<v1::TreePolicy>(signed_rules).value();
  edited.set_rotation_period_s(30);
  for (const auto& [from, bytes] : std::vector<std::pair<std::string, std::string>>{
         {department, signed_rules}, {"joconde.test", "\x0a\x03xyz"},
         {"joconde.test", proto::serialize(edited)}, {"joconde.test", std::string{}}})
    deliver(a, tree_policy_topic, from, bytes);
  BOOST_CHECK_EQUAL(audited(a, "pki.policy.refused"), 4u);
  BOOST_CHECK_EQUAL(status_int(a, "rotation_period_s"), 182LL * 24 * 3600);
  BOOST_CHECK(a.sent->empty());
  // From the parent, signed by the root: in force here, and handed on to the department.
  deliver(a, tree_policy_topic, "joconde.test", signed_rules);
  BOOST_CHECK_EQUAL(status_int(a, "rotation_period_s"), 60);
  BOOST_CHECK_EQUAL(status_int(a, "certificate_lifetime_s"), 600);
  BOOST_CHECK_EQUAL(audited(a, "pki.policy"), 1u);
  auto policies = [&] {
    std::vector<test::published> out;
    std::copy_if(a.sent->begin(), a.sent->end(), std::back_inserter(out),
                 [](const auto& p) { return p.topic == tree_policy_topic; });
    return out;
  };
  BOOST_REQUIRE_EQUAL(policies().size(), 1u);
  BOOST_CHECK(policies().at(0).to == std::vector<std::string>{department});
  // The shorter period is checked at once: client-a's certificate is older than 60 s (the test PKI
  // issues it an hour back), so it asks its parent for a new one.
  auto asked = std::count_if(a.sent->begin(), a.sent->end(),
                             [](const auto& p) { return p.topic == rotation_request_topic; });
  BOOST_CHECK_EQUAL(asked, 1);
  BOOST_CHECK(caf::get_or(status_doc(a), "rotation_pending", false));
  // Again, or an older one: nothing changes.
  deliver(a, tree_policy_topic, "joconde.test", signed_rules);
  BOOST_CHECK_EQUAL(policies().size(), 1u);
  trust_view root_trust{pki.root_ca(), pki.node("joconde.test").chain};
  memory_signer root_signer{test::key_of(pki.node("joconde.test"))};
  tree_policy older{std::chrono::seconds{120}, std::chrono::seconds{1200}, 0};
  auto old_bytes = make_tree_policy(older, root_trust, root_signer, now - std::chrono::hours{1}).value();
  deliver(a, tree_policy_topic, "joconde.test", old_bytes);
  BOOST_CHECK_EQUAL(status_int(a, "rotation_period_s"), 60);
  // A newer one replaces it.
  auto newer = make_tree_policy(older, root_trust, root_signer, now + std::chrono::seconds{5}).value();
  deliver(a, tree_policy_topic, "joconde.test", newer);
  BOOST_CHECK_EQUAL(status_int(a, "rotation_period_s"), 120);
  BOOST_CHECK_EQUAL(policies().size(), 2u);
  // Only the root signs rules: a member node cannot make them.
  memory_signer a_signer{test::key_of(pki.node(client_a))};
  trust_view a_trust{pki.root_ca(), pki.node(client_a).chain};
  BOOST_CHECK(!make_tree_policy(older, a_trust, a_signer, now));
  // Rules outside the bounds are not made.
  BOOST_CHECK(!make_tree_policy({std::chrono::seconds{5}, std::chrono::seconds{600}, 0}, root_trust, root_signer, now));
  BOOST_CHECK(!make_tree_policy({std::chrono::seconds{600}, std::chrono::seconds{900}, 0}, root_trust, root_signer, now));
}
