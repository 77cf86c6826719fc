#define BOOST_TEST_MODULE access_policy
#include <boost/test/unit_test.hpp>

// The access policy's rules, one by one, and the children's roles read from a real store.

#include "joconde/messages/proto.hpp"
#include "joconde/node.pb.h"
#include "mplane/access_manager.hpp"
#include "mplane/access_policy.hpp"

#include <filesystem>

using namespace joconde;
namespace fs = std::filesystem;

namespace {

admitted_envelope envelope(std::string topic, std::string origin, std::vector<std::string> recipients) {
  admitted_envelope e;
  e.topic = std::move(topic);
  e.origin = std::move(origin);
  e.recipients = std::move(recipients);
  return e;
}

} // namespace

BOOST_AUTO_TEST_CASE(roles_round_trip) {
  for (auto r : {node_role::root, node_role::computing, node_role::client})
    BOOST_CHECK(role_from_string(to_string(r)) == r);
  BOOST_CHECK(role_from_string("boss") == node_role::unknown);
  BOOST_CHECK_EQUAL(parent_of("cp1.joconde.test"), "joconde.test");
  BOOST_CHECK_EQUAL(parent_of("test"), "");
}

BOOST_AUTO_TEST_CASE(the_api_may_not_publish_reserved_or_malformed_topics) {
  access_policy p{"client-a.joconde.test", node_role::client};
  BOOST_CHECK(p.may_publish_locally("ctsc.draft").allowed);
  BOOST_CHECK(p.may_publish_locally("a").allowed);
  for (auto t : {"pki.revocation", "pki.rotation.request", "link.anything"}) {
    auto d = p.may_publish_locally(t);
    BOOST_CHECK_MESSAGE(!d.allowed, t);
    BOOST_CHECK_EQUAL(d.rule, "api.reserved-topic");
  }
  for (auto t : {"", ".x", "x.", "a..b", "A.b", "a/b", "a b", "x\n"}) {
    auto d = p.may_publish_locally(t);
    BOOST_CHECK_MESSAGE(!d.allowed, "'" << t << "'");
    BOOST_CHECK_EQUAL(d.rule, "topic.syntax");
  }
  BOOST_CHECK(!p.may_publish_locally(std::string(129, 'a')).allowed);
  BOOST_CHECK(p.may_publish_locally(std::string(128, 'a')).allowed);
}

BOOST_AUTO_TEST_CASE(rotation_requests_go_to_the_parent_only) {
  access_policy p{"joconde.test", node_role::root};
  BOOST_CHECK(p.may_route(envelope("pki.rotation.request", "cp1.joconde.test", {"joconde.test"})).allowed);
  auto two = p.may_route(envelope("pki.rotation.request", "cp1.joconde.test",
                                  {"joconde.test", "cp2.joconde.test"}));
  BOOST_CHECK(!two.allowed);
  BOOST_CHECK_EQUAL(two.rule, "pki.rotation-request");
  BOOST_CHECK(!p.may_route(envelope("pki.rotation.request", "x.cp1.joconde.test", {"joconde.test"})).allowed);
  BOOST_CHECK(p.may_route(envelope("pki.rotation.request", "x.cp1.joconde.test", {"cp1.joconde.test"})).allowed);
}

BOOST_AUTO_TEST_CASE(rotated_certificates_come_from_the_parent_only) {
  access_policy p{"cp1.joconde.test", node_role::computing};
  BOOST_CHECK(p.may_route(envelope("pki.rotation.issued", "joconde.test", {"cp1.joconde.test"})).allowed);
  auto sibling = p.may_route(envelope("pki.rotation.issued", "cp2.joconde.test", {"cp1.joconde.test"}));
  BOOST_CHECK(!sibling.allowed);
  BOOST_CHECK_EQUAL(sibling.rule, "pki.rotation-issued");
  BOOST_CHECK(!p.may_route(envelope("pki.rotation.issued", "joconde.test",
                                    {"cp1.joconde.test", "cp2.joconde.test"}))
                 .allowed);
  BOOST_CHECK(!p.may_route(envelope("pki.rotation.issued", "joconde.test", {"x.cp1.joconde.test"})).allowed);
  // Other topics travel; malformed ones do not.
  BOOST_CHECK(p.may_route(envelope("test.unicast", "cp2.joconde.test", {"cp1.joconde.test"})).allowed);
  BOOST_CHECK(!p.may_route(envelope("Test", "cp2.joconde.test", {"cp1.joconde.test"})).allowed);
}

BOOST_AUTO_TEST_CASE(computing_nodes_are_enrolled_by_the_root_or_a_computing_node) {
  access_policy root{"joconde.test", node_role::root};
  access_policy cp{"cp1.joconde.test", node_role::computing};
  access_policy client{"client-a.joconde.test", node_role::client};
  BOOST_CHECK(root.may_enrol(node_role::computing).allowed);
  BOOST_CHECK(cp.may_enrol(node_role::computing).allowed);
  BOOST_CHECK(client.may_enrol(node_role::client).allowed);
  auto d = client.may_enrol(node_role::computing);
  BOOST_CHECK(!d.allowed);
  BOOST_CHECK_EQUAL(d.rule, "enrol.computing");
  BOOST_CHECK(!root.may_enrol(node_role::root).allowed);
  BOOST_CHECK(!root.may_enrol(node_role::unknown).allowed);
}

BOOST_AUTO_TEST_CASE(children_roles_are_read_from_the_store) {
  auto dir = fs::temp_directory_path() / ("joconde-access-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    auto store = node_store::open(dir, 64ull << 20);
    BOOST_REQUIRE(store.ok());
    auto txn = store->env->begin_write();
    BOOST_REQUIRE(txn.ok());
    v1::NodeIdentity cp;
    cp.set_fqdn("cp1.joconde.test");
    cp.set_role(v1::ROLE_COMPUTING);
    v1::NodeIdentity client;
    client.set_fqdn("client-a.joconde.test");
    client.set_role(v1::ROLE_CLIENT);
    BOOST_REQUIRE(txn->put(store->children, "cp1.joconde.test", proto::serialize(cp)).ok());
    BOOST_REQUIRE(txn->put(store->children, "client-a.joconde.test", proto::serialize(client)).ok());
    BOOST_REQUIRE(txn->put(store->children, "junk.joconde.test", "\xff\xff not a record").ok());
    BOOST_REQUIRE(txn->commit().ok());
    access_policy p{"joconde.test", node_role::root};
    auto n = load_child_roles(*store, p);
    BOOST_REQUIRE(n.ok());
    BOOST_CHECK_EQUAL(*n, 2u);
    BOOST_CHECK(p.role_of("cp1.joconde.test") == node_role::computing);
    BOOST_CHECK(p.role_of("client-a.joconde.test") == node_role::client);
    BOOST_CHECK(p.role_of("junk.joconde.test") == node_role::unknown);
    BOOST_CHECK(p.role_of("joconde.test") == node_role::root);
  }
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(agreement_topics_go_to_and_come_from_the_root_only) {
  access_policy p{"client-a.joconde.test", node_role::client};
  auto draft = envelope("cta.ctsc.register", "client-a.joconde.test", {"joconde.test"});
  auto d = p.may_route(draft);
  BOOST_CHECK(!d.allowed); // the root is not known yet: fail closed
  BOOST_CHECK_EQUAL(d.rule, "cta.route");
  p.set_root("joconde.test");
  BOOST_CHECK(p.may_route(draft).allowed);
  BOOST_CHECK(!p.may_route(envelope("cta.ctsc.register", "client-a.joconde.test",
                                    {"joconde.test", "client-b.joconde.test"}))
                 .allowed);
  BOOST_CHECK(!p.may_route(envelope("cta.ctsc.register", "client-a.joconde.test", {"cp1.joconde.test"}))
                 .allowed);
  BOOST_CHECK(p.may_route(envelope("cta.ctsc", "joconde.test", {"client-a.joconde.test"})).allowed);
  BOOST_CHECK(!p.may_route(envelope("cta.ctsc", "client-b.joconde.test", {"client-a.joconde.test"})).allowed);
  BOOST_CHECK(!p.may_route(envelope("cta.refused", "cp1.joconde.test", {"client-a.joconde.test"})).allowed);
  BOOST_CHECK(!p.may_route(envelope("cta.whatever", "joconde.test", {"client-a.joconde.test"})).allowed);
  BOOST_CHECK_EQUAL(p.may_publish_locally("cta.ctsc").rule, "api.reserved-topic");
  // A CP's CT VM reports go to the root alone; their forwards come from the root alone.
  for (const auto* topic : {"cta.vm", "cta.telemetry"}) {
    BOOST_CHECK(p.may_route(envelope(topic, "cp1.joconde.test", {"joconde.test"})).allowed);
    BOOST_CHECK(!p.may_route(envelope(topic, "cp1.joconde.test", {"cp2.joconde.test"})).allowed);
    BOOST_CHECK(!p.may_route(envelope(topic, "cp1.joconde.test", {"joconde.test", "client-a.joconde.test"}))
                   .allowed);
    BOOST_CHECK_EQUAL(p.may_publish_locally(topic).rule, "api.reserved-topic");
  }
  for (const auto* topic : {"cta.vms", "cta.events", "cta.decision", "cta.agreement"}) {
    BOOST_CHECK(p.may_route(envelope(topic, "joconde.test", {"client-a.joconde.test", "cp2.joconde.test"}))
                  .allowed);
    BOOST_CHECK(!p.may_route(envelope(topic, "cp1.joconde.test", {"client-a.joconde.test"})).allowed);
  }
}
