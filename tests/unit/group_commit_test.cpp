#define BOOST_TEST_MODULE group_commit
#include <boost/test/unit_test.hpp>

// The Service Broker's group commit as a plain class (actors/mplane/group_commit.hpp): every batch
// admitted while no commit is under way goes into one commit, in order; what arrives during a
// commit waits for the next; a failed commit hands back every batch and keeps its removals; an
// outbox entry acknowledged before its commit is never written. The changes it makes land in a
// real LMDB store (tests/unit/plane_messages_test.cpp checks the type that takes them to the writer).

#include "mplane/broker_store.hpp"
#include "mplane/group_commit.hpp"

#include "support/files.hpp"

#include <string>
#include <vector>

using namespace joconde;
using db = store_change::database;

namespace {

admitted_envelope envelope(const std::string& id, const std::string& topic = "t/x") {
  admitted_envelope env;
  env.id = id;
  env.topic = topic;
  env.origin = "dp1.joconde.test";
  env.created_at_us = 1'000;
  env.payload = "payload " + id;
  env.bytes = "signed " + id;
  return env;
}

/// A planned batch of one envelope `id`: forwarded to each hop under `keys`, delivered here if
/// `local`; it records its sender's answer in `answers`.
pending_batch batch(group_commit& gc, const std::string& id, std::vector<std::string> keys,
                    bool local, std::vector<std::string>* answers = nullptr) {
  pending_batch b;
  b.batch.push_back(envelope(id));
  b.from = "child.joconde.test";
  envelope_plan plan;
  BOOST_REQUIRE(gc.claim(time_ordered_id(b.batch[0])));
  for (auto& key : keys) {
    gc.reserve(key);
    plan.outbox.emplace_back("parent.joconde.test", key);
  }
  plan.local = local;
  plan.decision = local ? "delivered" : "forwarded";
  b.plans.push_back(plan);
  if (answers != nullptr)
    b.done = [answers, id](const result<void>& r) { answers->push_back(id + (r ? ":ok" : ":failed")); };
  return b;
}

std::string key(uint64_t seq) {
  return outbox_key("parent.joconde.test", seq);
}

/// The ids of a job's batches, in order.
std::vector<std::string> ids_of(const commit_job& job) {
  std::vector<std::string> out;
  for (const auto& w : job.work)
    out.push_back(w.batch.at(0).id);
  return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(batches_admitted_between_commits_go_into_one_commit_in_order) {
  group_commit gc;
  BOOST_CHECK(gc.start() == nullptr); // nothing waits
  for (int i = 1; i <= 5; ++i)
    gc.add(batch(gc, "e" + std::to_string(i), {key(i)}, false));
  BOOST_CHECK_EQUAL(gc.pending_bytes(), 5 * std::string{"signed e1"}.size());
  auto* job = gc.start();
  BOOST_REQUIRE(job != nullptr);
  BOOST_CHECK(ids_of(*job) == (std::vector<std::string>{"e1", "e2", "e3", "e4", "e5"}));
  BOOST_CHECK(gc.pending().empty());
  BOOST_CHECK_EQUAL(gc.pending_bytes(), 0u);
  // While it is under way, what arrives waits for the next, which is asked for once.
  gc.add(batch(gc, "e6", {key(6)}, false));
  BOOST_CHECK(gc.start() == nullptr);
  BOOST_CHECK(gc.committing());
  auto done = gc.finish(true);
  BOOST_CHECK_EQUAL(done.work.size(), 5u);
  BOOST_CHECK(!gc.committing());
  BOOST_CHECK(gc.take_flush_again());
  BOOST_CHECK(!gc.take_flush_again());
  job = gc.start();
  BOOST_REQUIRE(job != nullptr);
  BOOST_CHECK(ids_of(*job) == (std::vector<std::string>{"e6"}));
}

BOOST_AUTO_TEST_CASE(a_failed_commit_hands_back_every_batch_and_keeps_its_removals) {
  group_commit gc;
  std::vector<std::string> answers;
  for (int i = 1; i <= 3; ++i)
    gc.add(batch(gc, "e" + std::to_string(i), {key(i)}, false, &answers));
  gc.processed(time_ordered_id(1, "old-delivery"));
  gc.forget({time_ordered_id(1, "stale")});
  BOOST_REQUIRE(gc.start() != nullptr);
  BOOST_CHECK(!gc.removals_waiting()); // taken by the commit
  auto job = gc.finish(false);
  for (auto& w : job.work)
    w.done(fail(errc::storage_error, "disk full"));
  BOOST_CHECK(answers == (std::vector<std::string>{"e1:failed", "e2:failed", "e3:failed"}));
  // The envelopes are no longer pending: when their senders send them again, they are admitted.
  BOOST_CHECK(gc.claim(time_ordered_id(envelope("e2"))));
  // The removals go with the next commit.
  BOOST_CHECK(gc.removals_waiting());
  auto* next = gc.start();
  BOOST_REQUIRE(next != nullptr);
  BOOST_CHECK(next->work.empty());
  BOOST_CHECK(next->pending_local_removals == (std::vector<std::string>{time_ordered_id(1, "old-delivery")}));
  BOOST_CHECK(next->seen_removals == (std::vector<std::string>{time_ordered_id(1, "stale")}));
}

BOOST_AUTO_TEST_CASE(a_pending_envelope_is_claimed_once) {
  group_commit gc;
  auto b = batch(gc, "e1", {key(1)}, false);
  BOOST_CHECK(!gc.claim(time_ordered_id(b.batch[0])));
  gc.abandon(b); // its planning failed: the id and the key are free again
  BOOST_CHECK(gc.claim(time_ordered_id(b.batch[0])));
  gc.acknowledged(key(1)); // not reserved any more: an entry to remove
  BOOST_CHECK(gc.acknowledged_unremoved(key(1)));
}

BOOST_AUTO_TEST_CASE(an_entry_acknowledged_before_its_commit_is_never_written) {
  group_commit gc;
  gc.add(batch(gc, "e1", {key(1), key(2)}, false));
  gc.acknowledged(key(1)); // the next hop was faster than the commit
  BOOST_CHECK(!gc.acknowledged_unremoved(key(1)));
  auto* job = gc.start();
  BOOST_REQUIRE(job != nullptr);
  BOOST_CHECK(job->skip == (std::set<std::string>{key(1)}));
  auto w = writes_of(*job, {}, 0);
  std::vector<std::string> outbox_puts;
  for (const auto& c : w.changes)
    if (c.db == db::outbox && !c.erase)
      outbox_puts.push_back(c.key);
  BOOST_CHECK(outbox_puts == (std::vector<std::string>{key(2)}));
  gc.finish(true);
  BOOST_CHECK(!gc.acknowledged_unremoved(key(1)));
  BOOST_CHECK(!gc.removals_waiting());
}

BOOST_AUTO_TEST_CASE(an_entry_acknowledged_during_its_commit_is_removed_by_the_next) {
  group_commit gc;
  gc.add(batch(gc, "e1", {key(1)}, false));
  BOOST_REQUIRE(gc.start() != nullptr);
  gc.acknowledged(key(1)); // written by the commit under way
  gc.finish(true);
  BOOST_CHECK(gc.acknowledged_unremoved(key(1)));
  BOOST_CHECK_EQUAL(gc.unremoved(), 1u);
  auto* job = gc.start();
  BOOST_REQUIRE(job != nullptr);
  BOOST_CHECK(job->outbox_removals == (std::vector<std::string>{key(1)}));
  BOOST_CHECK(gc.acknowledged_unremoved(key(1))); // skipped by the pump until it is removed
  gc.finish(true);
  BOOST_CHECK(!gc.acknowledged_unremoved(key(1)));
  // Had that commit failed, the entry would still wait for its removal.
  gc.add(batch(gc, "e2", {key(2)}, false));
  BOOST_REQUIRE(gc.start() != nullptr);
  gc.acknowledged(key(2));
  gc.finish(true);
  BOOST_REQUIRE(gc.start() != nullptr);
  gc.finish(false);
  BOOST_CHECK(gc.acknowledged_unremoved(key(2)));
}

BOOST_AUTO_TEST_CASE(one_commit_stores_every_batch_in_the_store) {
  test::scoped_dir tmp{"group-commit"};  // removed after the store closed
  auto dir = tmp.path;
  group_commit gc;
  gc.add(batch(gc, "e1", {key(1)}, false));
  gc.add(batch(gc, "e2", {}, true));
  auto other = batch(gc, "e3", {}, true);
  other.batch[0].topic = "other/y";
  gc.add(std::move(other));
  gc.processed(time_ordered_id(1, "gone"));
  auto* job = gc.start();
  BOOST_REQUIRE(job != nullptr);
  auto w = writes_of(*job, {"t/"}, 42);
  {
    broker_store store{node_store::open(dir, 16ull << 20).value()};
    commit_writes first;
    add_put(first, db::pending_local, time_ordered_id(1, "gone"), "x");
    BOOST_REQUIRE(store.commit(first).ok());
    BOOST_REQUIRE(store.commit(w).ok());
  }
  gc.finish(true);
  broker_store store{node_store::open(dir, 16ull << 20).value()};
  auto view = store.read().value();
  for (const char* id : {"e1", "e2", "e3"})
    BOOST_CHECK_MESSAGE(view.seen(time_ordered_id(envelope(id))).value(), id);
  BOOST_CHECK(store.next_frame("parent.joconde.test", "", 10, 1 << 20, [](const std::string&) {
                     return false;
                   }).value().envelopes == (std::vector<std::string>{"signed e1"}));
  // Only the envelope on a topic a local actor processes waits for it; the processed one is gone.
  auto pending = store.pending_deliveries("").value();
  BOOST_REQUIRE_EQUAL(pending.size(), 1u);
  BOOST_CHECK(pending[0].key == time_ordered_id(envelope("e2")));
  auto txn = store.store().env->begin_read().value();
  BOOST_CHECK_EQUAL(txn.count(store.store().inbox).value(), 2u);
}
