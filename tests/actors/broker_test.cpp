#define BOOST_TEST_MODULE service_broker
#include <boost/test/unit_test.hpp>

#include "support/caf_boost.hpp"

#include "joconde/messages/caf_error.hpp"
#include "joconde/runtime/audit_chain.hpp"
#include "mplane/audit_log.hpp"
#include "mplane/connection_manager.hpp"
#include "mplane/service_broker.hpp"
#include "support/files.hpp"
#include "support/test_pki.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>

using namespace joconde;
using namespace std::string_literals;

namespace {

memory_signer signer_of(test::test_node& node) {
  return memory_signer{crypto::private_key::from_pem(*node.key.to_encrypted_pem("x"), "x").value()};
}

/// Frames the broker handed to the (mock) connection manager.
struct sent_frame {
  std::string peer;
  std::vector<std::string> envelopes;
  uint64_t seq;
};

/// A connection manager that records what it is asked to send and fails the test on anything else.
connection_manager_actor::behavior_type mock_cm(connection_manager_actor::pointer self,
                                                std::shared_ptr<std::vector<sent_frame>> log) {
  auto seq = std::make_shared<uint64_t>(0);
  return {
    [=](hello_atom, std::string&) -> std::string { BOOST_FAIL("unexpected hello"); return {}; },
    [=](proof_atom, std::string&) -> bool { BOOST_FAIL("unexpected proof"); return false; },
    [=](frame_atom, std::string&) { BOOST_FAIL("unexpected frame"); },
    [=](ack_atom, std::string&) { BOOST_FAIL("unexpected ack"); },
    [=](head_atom, std::string&) -> uint64_t { BOOST_FAIL("unexpected audit head"); return 0; },
    [=](send_atom, std::string& peer, std::vector<std::string>& envs) -> uint64_t {
      log->push_back({peer, envs, ++*seq});
      return *seq;
    },
    [=](connect_atom) { BOOST_FAIL("unexpected connect"); },
    [=](revoke_atom, std::string&) { BOOST_FAIL("unexpected revoke"); },
    [=](checkpt_atom, std::string&) { BOOST_FAIL("unexpected audit head"); },
    [=](status_atom) { return caf::settings{}; },
  };
}

/// An audit log that counts records.
audit_log_actor::behavior_type mock_audit(audit_log_actor::pointer self,
                                          std::shared_ptr<std::vector<std::string>> events) {
  return {
    [=](audit_atom, std::string&, std::string& event, std::vector<std::string>& kv) {
      std::string line = event;
      for (auto& x : kv)
        line += " " + x;
      events->push_back(line);
    },
    [=](audit_atom, std::string&, std::string& event, uint32_t per_record, std::vector<std::string>& kv) {
      BOOST_REQUIRE(per_record > 0 && kv.size() % per_record == 0);
      for (size_t at = 0; at < kv.size(); at += per_record) {
        std::string line = event;
        for (size_t i = at; i < at + per_record; ++i)
          line += " " + kv[i];
        events->push_back(line);
      }
    },
    [=](tick_atom) {},
    [=](checkpt_atom) {},
    [=](connect_atom, connection_manager_actor&) {},
    [=](status_atom) { return caf::settings{}; },
  };
}

std::filesystem::path fresh_dir(const std::string& name) { return joconde::test::fresh_dir("broker-test-" + name); }

/// A node with a broker over a real LMDB store, a mock connection manager and a mock audit log.
struct node_under_test {
  std::filesystem::path dir;
  std::shared_ptr<trust_view> trust;
  std::shared_ptr<memory_signer> signer;
  node_store store;
  std::shared_ptr<std::vector<sent_frame>> sent = std::make_shared<std::vector<sent_frame>>();
  std::shared_ptr<std::vector<std::string>> events = std::make_shared<std::vector<std::string>>();
  connection_manager_actor cm;
  audit_log_actor audit;
  service_broker_actor broker;
};

struct fixture : test_coordinator_fixture<> {
  test::test_pki pki;
  test::test_node& cp1 = pki.add("cp1", "joconde.test");
  test::test_node& cp2 = pki.add("cp2", "joconde.test");
  test::test_node& cp3 = pki.add("cp3", "joconde.test");
  test::test_node& a = pki.add("client-a", "joconde.test");
  std::vector<std::unique_ptr<node_under_test>> nodes;

  /// Sends a request and runs the scheduler, so that the reply is waiting when `.receive` is called.
  template <class Handle, class... Ts>
  auto ask(const Handle& whom, Ts&&... xs) {
    auto rp = self->request(whom, caf::infinite, std::forward<Ts>(xs)...);
    sched.run();
    return rp;
  }

  ~fixture() {
    for (auto& n : nodes) {
      self->send_exit(n->broker, caf::exit_reason::user_shutdown);
      self->send_exit(n->cm, caf::exit_reason::user_shutdown);
      self->send_exit(n->audit, caf::exit_reason::user_shutdown);
    }
    sched.run();
    for (auto& n : nodes)
      std::filesystem::remove_all(n->dir);
  }

  node_under_test& make_node(test::test_node& who, const std::string& tag,
                             std::filesystem::path dir = {}, service_broker_config cfg = {}) {
    auto n = std::make_unique<node_under_test>();
    n->dir = dir.empty() ? fresh_dir(tag) : dir;
    n->trust = std::make_shared<trust_view>(pki.root_ca(), who.chain);
    n->signer = std::make_shared<memory_signer>(test::key_of(who));
    auto store = node_store::open(n->dir, 64 << 20);
    BOOST_REQUIRE_MESSAGE(store, "node store: " + (store ? ""s : store.err().message));
    n->store = std::move(store).value();
    n->cm = sys.spawn(mock_cm, n->sent);
    n->audit = sys.spawn(mock_audit, n->events);
    n->broker = sys.spawn(service_broker, cfg, n->trust, n->signer, n->store, n->audit, nullptr);
    self->send(n->broker, connect_atom::value, n->cm);
    sched.run();
    nodes.push_back(std::move(n));
    return *nodes.back();
  }

  /// Registers `child` as enrolled at `node` (what `joconde-node enrol` writes).
  void enrol(node_under_test& node, const std::string& child) {
    auto txn = node.store.env->begin_write().value();
    BOOST_REQUIRE(txn.put(node.store.children, child, "enrolled"));
    BOOST_REQUIRE(txn.commit());
  }

  std::vector<std::string> publish(node_under_test& n, std::vector<std::string> to, uint32_t count = 1) {
    std::vector<std::string> ids;
    ask(n.broker, publish_atom::value, "test.echo"s, to, ""s, "payload"s, count)
      .receive([&](std::vector<std::string>& x) { ids = x; },
               [&](caf::error& err) { BOOST_FAIL("publish failed: " + describe(err)); });
    return ids;
  }

  /// Delivers a frame and waits for the answer (past the commit delay, if the broker has one).
  bool deliver(node_under_test& n, const std::string& from, bool from_parent,
               std::vector<std::string> envs) {
    bool ok = false;
    auto rp = ask(n.broker, deliver_atom::value, from, from_parent, envs);
    sched.trigger_timeouts();
    sched.run();
    rp.receive([&](bool) { ok = true; }, [&](caf::error&) { ok = false; });
    return ok;
  }

  size_t count(node_under_test& n, const lmdb::database& db) {
    auto txn = n.store.env->begin_read().value();
    return txn.count(db).value();
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(broker, fixture)

BOOST_AUTO_TEST_CASE(outbox_holds_envelopes_until_the_link_is_up_and_acked) {
  auto& client = make_node(a, "client");
  auto ids = publish(client, {"cp1.joconde.test"}, 3);
  sched.run();
  BOOST_CHECK_EQUAL(ids.size(), 3u);
  BOOST_CHECK(client.sent->empty()); // no link yet
  BOOST_CHECK_EQUAL(count(client, client.store.outbox), 3u);
  self->send(client.broker, link_up_atom::value, "joconde.test"s, true);
  sched.run();
  BOOST_REQUIRE_EQUAL(client.sent->size(), 1u);
  BOOST_CHECK_EQUAL(client.sent->front().peer, "joconde.test");
  BOOST_CHECK_EQUAL(client.sent->front().envelopes.size(), 3u);
  BOOST_CHECK_EQUAL(count(client, client.store.outbox), 3u); // not acked yet
  self->send(client.broker, acked_atom::value, "joconde.test"s, client.sent->front().seq);
  sched.run();
  // Acknowledged entries go with the next commit, or at the next tick when nothing else comes.
  BOOST_CHECK_EQUAL(count(client, client.store.outbox), 3u);
  self->send(client.broker, tick_atom::value);
  sched.run();
  BOOST_CHECK_EQUAL(count(client, client.store.outbox), 0u);
}

BOOST_AUTO_TEST_CASE(unacknowledged_frames_go_again_after_the_link_comes_back) {
  auto& client = make_node(a, "client");
  self->send(client.broker, link_up_atom::value, "joconde.test"s, true);
  sched.run();
  publish(client, {"cp1.joconde.test"}, 2);
  sched.run();
  BOOST_REQUIRE_EQUAL(client.sent->size(), 1u);
  self->send(client.broker, link_dn_atom::value, "joconde.test"s);
  self->send(client.broker, link_up_atom::value, "joconde.test"s, true);
  sched.run();
  BOOST_REQUIRE_EQUAL(client.sent->size(), 2u);
  BOOST_CHECK(client.sent->at(0).envelopes == client.sent->at(1).envelopes);
  // An ack of the old session's frame sequence that is no longer in flight changes nothing.
  self->send(client.broker, acked_atom::value, "joconde.test"s, uint64_t{999});
  sched.run();
  BOOST_CHECK_EQUAL(count(client, client.store.outbox), 2u);
}

BOOST_AUTO_TEST_CASE(outbox_survives_a_restart_of_the_broker) {
  auto dir = fresh_dir("restart");
  std::vector<std::string> envs;
  {
    auto& client = make_node(a, "restart1", dir);
    publish(client, {"cp2.joconde.test"}, 4);
    sched.run();
    self->send_exit(client.broker, caf::exit_reason::kill);
    sched.run();
  }
  auto& again = make_node(a, "restart2", dir);
  self->send(again.broker, link_up_atom::value, "joconde.test"s, true);
  sched.run();
  BOOST_REQUIRE_EQUAL(again.sent->size(), 1u);
  BOOST_CHECK_EQUAL(again.sent->front().envelopes.size(), 4u);
}

namespace {

/// A local actor that processes envelopes, or fails to (no confirmation) while `fail` is set.
local_subscriber_actor::behavior_type mock_subscriber(local_subscriber_actor::pointer self,
                                                      std::shared_ptr<std::vector<std::string>> got,
                                                      std::shared_ptr<bool> fail) {
  return {
    [=](deliver_atom, std::string& topic, std::string&, std::string&) -> caf::result<bool> {
      got->push_back(topic);
      if (*fail)
        return make_error(errc::storage_error, "cannot process it now");
      return true;
    },
  };
}

} // namespace

BOOST_AUTO_TEST_CASE(local_actors_get_every_envelope_also_across_a_restart) {
  auto dir = fresh_dir("local");
  auto got = std::make_shared<std::vector<std::string>>();
  auto fail = std::make_shared<bool>(true);
  auto count_pending = [&](node_under_test& n) { return count(n, n.store.pending_local); };
  {
    auto& client = make_node(a, "local1", dir);
    auto sub = sys.spawn(mock_subscriber, got, fail);
    self->send(client.broker, connect_atom::value, "test."s, caf::actor_cast<local_subscriber_actor>(sub));
    sched.run();
    publish(client, {"client-a.joconde.test"}, 2); // to itself: delivered locally
    sched.run();
    BOOST_CHECK_EQUAL(got->size(), 2u);
    BOOST_CHECK_EQUAL(count_pending(client), 2u); // not confirmed: kept
    self->send_exit(client.broker, caf::exit_reason::kill);
    self->send_exit(sub, caf::exit_reason::kill);
    sched.run();
  }
  // After a restart the broker hands them over again; confirmed, they are forgotten.
  *fail = false;
  got->clear();
  auto& again = make_node(a, "local2", dir);
  auto sub = sys.spawn(mock_subscriber, got, fail);
  self->send(again.broker, connect_atom::value, "test."s, caf::actor_cast<local_subscriber_actor>(sub));
  sched.run();
  BOOST_CHECK_EQUAL(got->size(), 2u);
  BOOST_CHECK_EQUAL(count_pending(again), 0u);
  // New ones are forgotten as soon as they are confirmed; the inbox keeps them for the API.
  publish(again, {"client-a.joconde.test"}, 1);
  sched.run();
  BOOST_CHECK_EQUAL(got->size(), 3u);
  BOOST_CHECK_EQUAL(count_pending(again), 0u);
  BOOST_CHECK_EQUAL(count(again, again.store.inbox), 3u);
  self->send_exit(sub, caf::exit_reason::kill);
}

BOOST_AUTO_TEST_CASE(root_multicasts_only_to_the_named_recipients_and_drops_duplicates) {
  auto& client = make_node(a, "client");
  auto& root = make_node(pki.node("joconde.test"), "root");
  for (auto c : {"cp1", "cp2", "cp3", "client-a"})
    enrol(root, std::string{c} + ".joconde.test");
  publish(client, {"cp1.joconde.test", "cp2.joconde.test"});
  self->send(client.broker, link_up_atom::value, "joconde.test"s, true);
  sched.run();
  BOOST_REQUIRE_EQUAL(client.sent->size(), 1u);
  auto envs = client.sent->front().envelopes;
  for (auto c : {"cp1", "cp2", "cp3"})
    self->send(root.broker, link_up_atom::value, std::string{c} + ".joconde.test", false);
  sched.run();
  BOOST_REQUIRE(deliver(root, "client-a.joconde.test", false, envs));
  sched.run();
  std::set<std::string> peers;
  for (auto& f : *root.sent)
    peers.insert(f.peer);
  BOOST_CHECK((peers == std::set<std::string>{"cp1.joconde.test", "cp2.joconde.test"}));
  BOOST_CHECK_EQUAL(count(root, root.store.inbox), 0u);
  // The same envelope again (a resend after a lost ack): stored once, forwarded once.
  auto before = root.sent->size();
  BOOST_REQUIRE(deliver(root, "client-a.joconde.test", false, envs));
  sched.run();
  BOOST_CHECK_EQUAL(root.sent->size(), before);
  BOOST_CHECK_EQUAL(count(root, root.store.seen), 1u);
  // At cp1 it is delivered to the local inbox exactly once.
  auto& at_cp1 = make_node(cp1, "cp1");
  BOOST_REQUIRE(deliver(at_cp1, "joconde.test", true, envs));
  BOOST_REQUIRE(deliver(at_cp1, "joconde.test", true, envs));
  sched.run();
  BOOST_CHECK_EQUAL(count(at_cp1, at_cp1.store.inbox), 1u);
  BOOST_CHECK(at_cp1.sent->empty());
}

BOOST_AUTO_TEST_CASE(passing_envelopes_are_forwarded_before_their_commit_and_acknowledged_after_it) {
  auto& client = make_node(a, "client");
  service_broker_config delayed;
  delayed.commit_delay = std::chrono::milliseconds{5};
  auto& root = make_node(pki.node("joconde.test"), "root", {}, delayed);
  for (auto c : {"cp1", "client-a"})
    enrol(root, std::string{c} + ".joconde.test");
  publish(client, {"cp1.joconde.test"}, 2);
  self->send(client.broker, link_up_atom::value, "joconde.test"s, true);
  self->send(root.broker, link_up_atom::value, "cp1.joconde.test"s, false);
  sched.run();
  BOOST_REQUIRE_EQUAL(client.sent->size(), 1u);
  auto envs = client.sent->front().envelopes;
  // The frame from client-a goes on to cp1 at once, before anything is durable at the root, and
  // client-a gets no answer (no acknowledgement) yet.
  auto answer = self->request(root.broker, caf::infinite, deliver_atom::value,
                              "client-a.joconde.test"s, false, envs);
  sched.run();
  BOOST_REQUIRE_EQUAL(root.sent->size(), 1u);
  BOOST_CHECK(root.sent->front().envelopes == envs);
  BOOST_CHECK_EQUAL(count(root, root.store.seen), 0u);
  // cp1 acknowledges before the root's commit: the root never writes those outbox entries.
  self->send(root.broker, acked_atom::value, "cp1.joconde.test"s, root.sent->front().seq);
  sched.run();
  BOOST_CHECK(self->mailbox().empty()); // not answered
  // The commit delay passes: durable, then answered.
  sched.trigger_timeouts();
  sched.run();
  BOOST_CHECK_EQUAL(count(root, root.store.seen), 2u);
  BOOST_CHECK_EQUAL(count(root, root.store.outbox), 0u);
  bool answered = false;
  answer.receive([&](bool) { answered = true; }, [](caf::error&) {});
  BOOST_CHECK(answered);
  // The same frame again (its answer lost): dropped as duplicates, nothing forwarded again.
  BOOST_REQUIRE(deliver(root, "client-a.joconde.test", false, envs));
  BOOST_CHECK_EQUAL(root.sent->size(), 1u);
  BOOST_CHECK_EQUAL(count(root, root.store.seen), 2u);
  // Unacknowledged, an entry is written and stays until its ack (removed with a later commit).
  publish(client, {"cp1.joconde.test"}, 1);
  sched.run();
  BOOST_REQUIRE_EQUAL(client.sent->size(), 2u);
  BOOST_REQUIRE(deliver(root, "client-a.joconde.test", false, client.sent->back().envelopes));
  BOOST_REQUIRE_EQUAL(root.sent->size(), 2u);
  BOOST_CHECK_EQUAL(count(root, root.store.outbox), 1u);
  self->send(root.broker, acked_atom::value, "cp1.joconde.test"s, root.sent->back().seq);
  self->send(root.broker, tick_atom::value);
  sched.run();
  BOOST_CHECK_EQUAL(count(root, root.store.outbox), 0u);
}

BOOST_AUTO_TEST_CASE(refused_envelopes_change_nothing_but_are_acknowledged) {
  auto& root = make_node(pki.node("joconde.test"), "root");
  enrol(root, "cp1.joconde.test");
  self->send(root.broker, link_up_atom::value, "cp1.joconde.test"s, false);
  sched.run();
  // Garbage and an envelope of client-a handed over by cp2 (not its subtree).
  auto& client = make_node(a, "client");
  publish(client, {"cp1.joconde.test"});
  self->send(client.broker, link_up_atom::value, "joconde.test"s, true);
  sched.run();
  auto envs = client.sent->front().envelopes;
  envs.push_back("\x0a\x03garbage");
  BOOST_CHECK(deliver(root, "cp2.joconde.test", false, envs));
  sched.run();
  BOOST_CHECK(root.sent->empty());
  BOOST_CHECK_EQUAL(count(root, root.store.seen), 0u);
  BOOST_CHECK_EQUAL(count(root, root.store.outbox), 0u);
  size_t refusals = 0;
  for (auto& e : *root.events)
    refusals += e.find("refused:") != std::string::npos ? 1 : 0;
  BOOST_CHECK_EQUAL(refusals, 2u);
}

BOOST_AUTO_TEST_CASE(ids_of_stale_envelopes_are_forgotten_fresh_ones_kept) {
  auto& client = make_node(a, "prune");
  publish(client, {"cp1.joconde.test"}, 2); // fresh: must be kept
  {
    auto txn = client.store.env->begin_write().value();
    auto old_us = std::chrono::duration_cast<std::chrono::microseconds>(
                    (std::chrono::system_clock::now() - std::chrono::hours{49}).time_since_epoch())
                    .count();
    // The key is the big-endian creation time (µs) and the id.
    std::string key;
    for (int i = 7; i >= 0; --i)
      key.push_back(static_cast<char>((static_cast<uint64_t>(old_us) >> (i * 8)) & 0xff));
    key += "0123456789abcdef";
    BOOST_REQUIRE(txn.put(client.store.seen, key, ""));
    BOOST_REQUIRE(txn.commit());
  }
  BOOST_CHECK_EQUAL(count(client, client.store.seen), 3u);
  for (int i = 0; i < 600; ++i) { // the broker prunes every 600 ticks
    sched.trigger_timeouts();
    sched.run();
  }
  BOOST_CHECK_EQUAL(count(client, client.store.seen), 2u);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

/// A broker that records link events, for the connection manager test.
service_broker_actor::behavior_type
recording_broker(service_broker_actor::pointer self, std::shared_ptr<std::vector<std::string>> log) {
  return {
    [=](deliver_atom, std::string& from, bool, std::vector<std::string>& envs) {
      log->push_back("deliver " + from + " " + std::to_string(envs.size()));
      return true;
    },
    [=](link_up_atom, std::string& peer, bool is_parent) {
      log->push_back("up " + peer + (is_parent ? " parent" : " child"));
    },
    [=](link_dn_atom, std::string& peer) { log->push_back("down " + peer); },
    [=](acked_atom, std::string& peer, uint64_t seq) {
      log->push_back("acked " + peer + " " + std::to_string(seq));
    },
    [=](publish_atom, std::string&, std::vector<std::string>&, std::string&, std::string&,
        uint32_t) { return std::vector<std::string>{}; },
    [=](tick_atom) {},
    [=](flush_atom, bool) {},
    [=](connect_atom, connection_manager_actor) {},
    [=](connect_atom, std::string&, local_subscriber_actor) {},
    [=](status_atom) { return caf::settings{}; },
  };
}

} // namespace

// The broker sends the audit log a batch of records in one message: a malformed batch (no record
// size, or strings that do not split into whole records) writes nothing and is counted as failed;
// the chain stays intact and takes the next good batch.
BOOST_FIXTURE_TEST_CASE(a_malformed_batch_of_audit_records_writes_nothing, fixture) {
  auto dir = fresh_dir("audit");
  auto file = dir / "audit.log";
  auto chain = std::make_shared<audit_chain>(audit_chain::open(file, "joconde-node", "root").value());
  auto audit = sys.spawn(audit_log, chain, nullptr, audit_checkpoint_config{});
  auto status = [&] {
    caf::settings doc;
    ask(audit, status_atom::value).receive([&](caf::settings& s) { doc = std::move(s); },
                                           [](caf::error& err) { BOOST_FAIL(describe(err)); });
    return doc;
  };
  std::vector<std::string> three{"id", "a", "topic"};
  self->send(audit, audit_atom::value, "service_broker"s, "envelope"s, uint32_t{0}, three);
  self->send(audit, audit_atom::value, "service_broker"s, "envelope"s, uint32_t{2}, three);
  sched.run();
  BOOST_CHECK_EQUAL(chain->size(), 0u);
  BOOST_CHECK_EQUAL(caf::get_or(status(), "failed", int64_t{-1}), 2);
  std::vector<std::string> two_records{"id", "a", "decision", "forwarded",
                                       "id", "b", "decision", "delivered"};
  self->send(audit, audit_atom::value, "service_broker"s, "envelope"s, uint32_t{4}, two_records);
  sched.run();
  BOOST_CHECK_EQUAL(chain->size(), 2u);
  BOOST_CHECK_EQUAL(caf::get_or(status(), "written", int64_t{-1}), 2);
  BOOST_CHECK(verify_audit_file(file)->ok);
  self->send_exit(audit, caf::exit_reason::user_shutdown);
  sched.run();
  std::filesystem::remove_all(dir);
}

BOOST_FIXTURE_TEST_CASE(connection_handshake_at_the_parent, fixture) {
  auto links = std::make_shared<std::vector<std::string>>();
  auto events = std::make_shared<std::vector<std::string>>();
  auto broker = sys.spawn(recording_broker, links);
  auto audit = sys.spawn(mock_audit, events);
  auto root_trust = std::make_shared<trust_view>(pki.root_ca(), pki.node("joconde.test").chain);
  auto root_signer = std::make_shared<memory_signer>(test::key_of(pki.node("joconde.test")));
  auto cm = sys.spawn(connection_manager, connection_manager_config{}, root_trust, root_signer,
                      broker, audit, nullptr);
  sched.run();
  trust_view cp1_trust{pki.root_ca(), cp1.chain};
  auto cp1_signer = signer_of(cp1);
  auto hello = make_hello(cp1_trust).value();
  std::string challenge;
  ask(cm, hello_atom::value, hello.hello)
    .receive([&](std::string& c) { challenge = c; },
             [&](caf::error& err) { BOOST_FAIL("hello refused: " + describe(err)); });
  auto proof = on_challenge(cp1_trust, cp1_signer, hello, challenge, std::chrono::system_clock::now());
  BOOST_REQUIRE(proof);
  // Negative twin first: a forged proof (signed by cp2) is refused and the challenge is used up.
  auto cp2_signer = signer_of(cp2);
  auto forged = on_challenge(cp1_trust, cp2_signer, hello, challenge, std::chrono::system_clock::now());
  bool refused = false;
  ask(cm, proof_atom::value, forged->second)
    .receive([&](bool) {}, [&](caf::error& err) { refused = code_of(err) == errc::bad_signature; });
  BOOST_CHECK(refused);
  // The genuine proof now refers to a used challenge: a replay.
  refused = false;
  ask(cm, proof_atom::value, proof->second)
    .receive([&](bool) {}, [&](caf::error& err) { refused = code_of(err) == errc::replayed; });
  BOOST_CHECK(refused);
  sched.run();
  BOOST_CHECK(links->empty());
  // A fresh, honest handshake establishes the link and tells the broker.
  hello = make_hello(cp1_trust).value();
  ask(cm, hello_atom::value, hello.hello)
    .receive([&](std::string& c) { challenge = c; }, [&](caf::error&) { BOOST_FAIL("refused"); });
  proof = on_challenge(cp1_trust, cp1_signer, hello, challenge, std::chrono::system_clock::now());
  bool accepted = false;
  ask(cm, proof_atom::value, proof->second)
    .receive([&](bool b) { accepted = b; }, [&](caf::error& err) { BOOST_FAIL(describe(err)); });
  BOOST_CHECK(accepted);
  sched.run();
  BOOST_REQUIRE_EQUAL(links->size(), 1u);
  BOOST_CHECK_EQUAL(links->front(), "up cp1.joconde.test child");
  // A frame on the link reaches the broker; the same frame replayed does not.
  uint64_t seq = 0;
  auto frame = proof->first.seal_frame({"e1", "e2"}, seq);
  self->send(cm, frame_atom::value, frame);
  sched.run();
  self->send(cm, frame_atom::value, frame);
  sched.run();
  BOOST_CHECK_EQUAL(std::count(links->begin(), links->end(), "deliver cp1.joconde.test 2"), 1);
  // A remote-looking request to send is refused? The fixture's self is local, so it is allowed:
  ask(cm, send_atom::value, "cp1.joconde.test"s, std::vector<std::string>{"x"})
    .receive([&](uint64_t s) { BOOST_CHECK_EQUAL(s, 1u); }, [&](caf::error& err) { BOOST_FAIL(describe(err)); });
  self->send_exit(cm, caf::exit_reason::user_shutdown);
  self->send_exit(broker, caf::exit_reason::user_shutdown);
  self->send_exit(audit, caf::exit_reason::user_shutdown);
  sched.run();
}
