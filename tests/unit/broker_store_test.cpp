#define BOOST_TEST_MODULE broker_store
#include <boost/test/unit_test.hpp>

// The Service Broker's records in a real LMDB store (actors/mplane/broker_store.hpp): keys sort the
// way the broker relies on, a commit's changes apply in order and all or nothing, and what was
// committed is there after the environment is closed and opened again.

#include "mplane/broker_store.hpp"

#include "support/files.hpp"

#include <string>
#include <vector>

using namespace joconde;
using db = store_change::database;

namespace {

constexpr uint64_t map_size = 16ull << 20;

/// A fresh store in its own directory.
struct fresh_store {
  test::scoped_dir tmp{"broker-store"};  // removed after the store closed
  std::filesystem::path dir = tmp.path;
  std::optional<broker_store> store{broker_store{node_store::open(dir, map_size).value()}};

  /// Closes the environment and opens it again from its files.
  void reopen() {
    store.reset();
    store.emplace(node_store::open(dir, map_size).value());
  }
};

/// A change set with one envelope for each of `peers` at sequences 1..n.
commit_writes outbox_entries(const std::vector<std::string>& peers, uint64_t n) {
  commit_writes w;
  for (const auto& peer : peers)
    for (uint64_t seq = 1; seq <= n; ++seq)
      add_put(w, db::outbox, outbox_key(peer, seq), peer + "#" + std::to_string(seq));
  return w;
}

/// Every key and value of `peer`'s outbox, as "value" strings in key order.
std::vector<std::string> outbox_of(const broker_store& s, const std::string& peer) {
  auto frame = s.next_frame(peer, "", 1000, 1 << 30, [](const std::string&) { return false; });
  BOOST_REQUIRE(frame.ok());
  return frame->envelopes;
}

admitted_envelope envelope(const std::string& id, const std::string& topic, int64_t at_us) {
  admitted_envelope env;
  env.id = id;
  env.topic = topic;
  env.origin = "dp1.joconde.test";
  env.ct_id = "ct-1";
  env.created_at_us = at_us;
  env.payload = "payload of " + id;
  env.bytes = "signed " + id;
  return env;
}

} // namespace

BOOST_AUTO_TEST_CASE(outbox_keys_sort_by_peer_then_sequence) {
  BOOST_CHECK(outbox_key("a.test", 2) < outbox_key("a.test", 256));
  BOOST_CHECK(outbox_key("a.test", 0xffffffff) < outbox_key("a.test", 0x100000000));
  BOOST_CHECK(outbox_key("a.test", 99) < outbox_key("b.test", 1));
  BOOST_CHECK_EQUAL(seq_of_key(outbox_key("a.test", 0x0102030405060708)), 0x0102030405060708u);
  BOOST_CHECK_EQUAL(outbox_key("a.test", 1).rfind(outbox_prefix("a.test"), 0), 0u);
  // One peer's prefix is not the start of another's keys.
  BOOST_CHECK_NE(outbox_key("a.test.b", 1).rfind(outbox_prefix("a.test"), 0), 0u);
}

BOOST_AUTO_TEST_CASE(time_ordered_ids_sort_by_creation_time) {
  auto early = time_ordered_id(1'000, "zzzz");
  auto late = time_ordered_id(2'000, "aaaa");
  BOOST_CHECK(early < late);
  BOOST_CHECK_EQUAL(time_of_key(late), 2'000);
  BOOST_CHECK_EQUAL(late.substr(8), "aaaa");
  BOOST_CHECK_EQUAL(time_of_key(time_ordered_id(-5, "x")), 0); // before the epoch: at it
  BOOST_CHECK_EQUAL(inbox_key("t/a", 7, "id"), std::string{"t/a"} + '\0' + time_ordered_id(7, "id"));
}

BOOST_AUTO_TEST_CASE(committed_records_survive_reopening_the_environment) {
  fresh_store s;
  auto w = outbox_entries({"a.test", "b.test"}, 3);
  add_put(w, db::seen, time_ordered_id(5, "id-1"));
  add_inbox_record(w, envelope("id-1", "results/x", 5), 77);
  add_pending_delivery(w, envelope("id-1", "results/x", 5));
  BOOST_REQUIRE(s.store->commit(w).ok());
  s.reopen();
  auto summary = s.store->load_outbox();
  BOOST_REQUIRE(summary.ok());
  BOOST_CHECK_EQUAL(summary->peers.size(), 2u);
  BOOST_CHECK_EQUAL(summary->peers.at("a.test").depth, 3);
  BOOST_CHECK(summary->peers.at("b.test").tail == outbox_key("b.test", 3));
  BOOST_CHECK_EQUAL(summary->max_seq, 3u);
  BOOST_CHECK(outbox_of(*s.store, "a.test") == (std::vector<std::string>{"a.test#1", "a.test#2", "a.test#3"}));
  auto view = s.store->read();
  BOOST_REQUIRE(view.ok());
  BOOST_CHECK(view->seen(time_ordered_id(5, "id-1")).value());
  BOOST_CHECK(!view->seen(time_ordered_id(5, "id-2")).value());
  auto pending = s.store->pending_deliveries("results/");
  BOOST_REQUIRE(pending.ok());
  BOOST_REQUIRE_EQUAL(pending->size(), 1u);
  BOOST_CHECK((*pending)[0].key == time_ordered_id(5, "id-1"));
  BOOST_CHECK_EQUAL((*pending)[0].topic, "results/x");
  BOOST_CHECK_EQUAL((*pending)[0].payload, "payload of id-1");
  BOOST_CHECK(s.store->pending_deliveries("other/").value().empty());
  auto txn = s.store->store().env->begin_read();
  BOOST_REQUIRE(txn.ok());
  auto record = txn->get(s.store->store().inbox, inbox_key("results/x", 5, "id-1"));
  BOOST_REQUIRE(record.ok() && record->has_value());
  BOOST_CHECK_NE(record->value().find("\"delivered_at_us\":77"), std::string::npos);
  BOOST_CHECK_NE(record->value().find("\"topic\":\"results/x\""), std::string::npos);
}

BOOST_AUTO_TEST_CASE(changes_apply_in_their_order) {
  fresh_store s;
  commit_writes w;
  add_put(w, db::outbox, outbox_key("a.test", 1), "first");
  add_erase(w, db::outbox, outbox_key("a.test", 1));     // put then erase: gone
  add_erase(w, db::outbox, outbox_key("a.test", 2));     // erase of nothing: no error
  add_put(w, db::outbox, outbox_key("a.test", 2), "second");
  add_put(w, db::outbox, outbox_key("a.test", 3), "old");
  add_put(w, db::outbox, outbox_key("a.test", 3), "new"); // the last put wins
  BOOST_REQUIRE(s.store->commit(w).ok());
  BOOST_CHECK(outbox_of(*s.store, "a.test") == (std::vector<std::string>{"second", "new"}));
}

BOOST_AUTO_TEST_CASE(a_failing_commit_writes_nothing) {
  fresh_store s;
  BOOST_REQUIRE(s.store->commit(outbox_entries({"a.test"}, 1)).ok());
  auto w = outbox_entries({"b.test"}, 2);
  add_erase(w, db::outbox, outbox_key("a.test", 1));
  add_put(w, db::seen, std::string(4096, 'k')); // longer than LMDB's largest key
  auto r = s.store->commit(w);
  BOOST_REQUIRE(!r.ok());
  BOOST_CHECK(r.err().code == errc::storage_error);
  s.reopen();
  BOOST_CHECK(outbox_of(*s.store, "b.test").empty());
  BOOST_CHECK(outbox_of(*s.store, "a.test") == (std::vector<std::string>{"a.test#1"}));
}

BOOST_AUTO_TEST_CASE(a_frame_stops_at_its_limits_and_skips_what_is_gone) {
  fresh_store s;
  BOOST_REQUIRE(s.store->commit(outbox_entries({"a.test", "b.test"}, 6)).ok());
  auto none = [](const std::string&) { return false; };
  auto frame = s.store->next_frame("a.test", "", 4, 1 << 20, none).value();
  BOOST_CHECK(frame.envelopes == (std::vector<std::string>{"a.test#1", "a.test#2", "a.test#3", "a.test#4"}));
  BOOST_CHECK(frame.keys.back() == outbox_key("a.test", 4));
  // After the cursor, skipping an acknowledged entry, only to the end of the peer's entries.
  auto acked = [](const std::string& key) { return key == outbox_key("a.test", 5); };
  frame = s.store->next_frame("a.test", outbox_key("a.test", 4), 10, 1 << 20, acked).value();
  BOOST_CHECK(frame.envelopes == (std::vector<std::string>{"a.test#6"}));
  // 8 bytes each: 20 bytes hold two; one larger than the limit still goes alone.
  frame = s.store->next_frame("b.test", "", 10, 20, none).value();
  BOOST_CHECK_EQUAL(frame.envelopes.size(), 2u);
  frame = s.store->next_frame("b.test", "", 10, 3, none).value();
  BOOST_CHECK(frame.envelopes == (std::vector<std::string>{"b.test#1"}));
  BOOST_CHECK(s.store->next_frame("c.test", "", 10, 20, none).value().keys.empty());
  BOOST_CHECK(s.store->outbox_tail("b.test").value() == outbox_key("b.test", 6));
  BOOST_CHECK(s.store->outbox_tail("c.test").value().empty());
}

BOOST_AUTO_TEST_CASE(stale_ids_are_the_oldest_before_the_horizon) {
  fresh_store s;
  commit_writes w;
  for (int64_t at : {300, 100, 200, 400})
    add_put(w, db::seen, time_ordered_id(at, "id" + std::to_string(at)));
  BOOST_REQUIRE(s.store->commit(w).ok());
  auto old = s.store->stale_ids(301, 10).value();
  BOOST_CHECK(old == (std::vector<std::string>{time_ordered_id(100, "id100"), time_ordered_id(200, "id200"),
                                               time_ordered_id(300, "id300")}));
  BOOST_CHECK_EQUAL(s.store->stale_ids(301, 2).value().size(), 2u);
  BOOST_CHECK(s.store->stale_ids(100, 10).value().empty());
}
