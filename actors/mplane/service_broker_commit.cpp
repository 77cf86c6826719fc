#include "service_broker_impl.hpp"

#include "joconde/messages/caf_error.hpp"
#include "joconde/runtime/clock.hpp"
#include "joconde/runtime/log.hpp"
#include "joconde/runtime/metrics.hpp"
#include "routing.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <map>
#include <set>

// The Service Broker's routing decisions and group commit (service_broker.cpp has its links and its
// dispatch table): what admitted envelopes become, when commits start, what happens when they end.

namespace joconde::broker_detail {

namespace {

/// Decides what becomes of each envelope of an admitted batch — duplicate (already stored or
/// pending), delivered here, next hops with their outbox keys — and forwards it at once; the next
/// commit stores what was decided. An error means nothing was decided.
result<void> plan_batch(service_broker_pointer self, pending_batch& item) {
  auto& st = self->state;
  auto view = st.store.read();
  if (!view)
    return view.err();
  auto known_child = [&](const std::string& fqdn) { return view->is_child(fqdn); };
  std::map<std::string, std::vector<std::pair<std::string, const std::string*>>> by_hop;
  item.plans.resize(item.batch.size());
  for (size_t i = 0; i < item.batch.size(); ++i) {
    const auto& env = item.batch[i];
    auto& plan = item.plans[i];
    auto id = time_ordered_id(env);
    auto stored = view->seen(id);
    if (!stored)
      return stored.err();
    if (*stored || !st.commit.claim(id)) {
      plan.duplicate = true;
      plan.decision = "duplicate";
      continue;
    }
    auto route = plan_route(env.recipients, st.trust->self(), st.parent,
                            item.kind == neighbour_kind::parent, known_child);
    plan.local = route.local;
    for (const auto& hop : route.next_hops) {
      if (hop == item.from)
        continue;
      auto key = outbox_key(hop, ++st.next_seq);
      st.commit.reserve(key);
      by_hop[hop].emplace_back(key, &env.bytes);
      plan.outbox.emplace_back(hop, std::move(key));
    }
    plan.decision = plan.local ? "delivered" : "forwarded";
    for (const auto& r : route.unroutable) {
      plan.decision += " unroutable:" + r;
      log::warning(component, "no route to " + r + " for envelope " + id_hex(env.id));
    }
  }
  for (const auto& [hop, entries] : by_hop) {
    st.peers[hop].depth += static_cast<int64_t>(entries.size());
    forward(self, hop, entries);
    update_depth(self, hop);
  }
  return ok();
}

/// After a stored commit: hands local envelopes to their subscribers, audits and counts the batch.
void after_commit(service_broker_pointer self, const pending_batch& item) {
  auto& st = self->state;
  uint64_t delivered = 0;
  uint64_t duplicates = 0;
  std::vector<std::string> records;
  records.reserve(item.batch.size() * envelope_record_strings);
  for (size_t i = 0; i < item.batch.size(); ++i) {
    const auto& env = item.batch[i];
    const auto& plan = item.plans[i];
    duplicates += plan.duplicate ? 1 : 0;
    if (st.metrics && !plan.duplicate)
      st.metrics->received(env.topic).Increment();
    if (plan.local) {
      ++delivered;
      for (const auto& [prefix, sub] : st.subscribers)
        if (env.topic.rfind(prefix, 0) == 0) {
          hand_over(self, sub, time_ordered_id(env), env.topic, env.origin, env.payload);
          break;
        }
    }
    add_envelope_record(records, id_hex(env.id), env.topic, env.origin, item.from, plan.decision);
  }
  st.delivered += delivered;
  // One audit message for the batch: a record per envelope.
  if (!records.empty())
    self->send(st.audit, audit_atom::value, std::string{component}, std::string{"envelope"},
               envelope_record_strings, std::move(records));
  if (st.metrics) {
    st.metrics->routed(item.kind == neighbour_kind::self ? "local" : "in").Increment(
      static_cast<double>(item.batch.size() - duplicates));
    st.metrics->duplicate().Increment(static_cast<double>(duplicates));
    if (delivered > 0)
      st.metrics->delivered("all").Increment(static_cast<double>(delivered));
  }
}

/// After a failed commit: backs off, tells every sender, and restarts the links to `hops` from what
/// the outbox holds (what was forwarded is not in it: the senders send it again).
void commit_failed(service_broker_pointer self, commit_job& job, const error& err,
                   const std::set<std::string>& hops) {
  auto& st = self->state;
  // Removals alone wait before they are tried again: a full disk is not retried every second.
  st.commit_backoff = st.commit_backoff.count() == 0
                        ? st.cfg.retry_after
                        : std::min(st.commit_backoff * 2, st.cfg.retry_max);
  st.removals_not_before = std::chrono::steady_clock::now() + st.commit_backoff;
  log::error(component, "cannot store " + std::to_string(job.work.size())
                          + " batch(es) of envelopes: " + err.message,
             {{"reason", to_string(err.code)}});
  if (st.metrics)
    st.metrics->storage_failures(to_string(err.code)).Increment();
  for (auto& w : job.work)
    w.done(err);
  // The links start over from what the outbox holds; its tail is what was committed or is still
  // pending.
  for (const auto& hop : hops) {
    reset_peer(self, hop);
    auto& p = st.peers[hop];
    auto tail = st.store.outbox_tail(hop);
    p.tail = tail ? std::move(*tail) : std::string{};
    for (const auto& w : st.commit.pending())
      for (const auto& plan : w.plans)
        for (const auto& [next, key] : plan.outbox)
          if (next == hop)
            p.tail = std::max(p.tail, key);
    pump(self, hop);
  }
}

/// Acts on the end of the commit under way: tells each sender (nothing is acknowledged unless its
/// batch committed), pumps, and starts the next commit if more is waiting.
void commit_finished(service_broker_pointer self, const result<void>& outcome) {
  auto& st = self->state;
  auto stored = static_cast<bool>(outcome);
  auto job = st.commit.finish(stored);
  std::set<std::string> hops;
  for (const auto& w : job.work)
    for (const auto& plan : w.plans)
      for (const auto& [hop, key] : plan.outbox)
        hops.insert(hop);
  if (stored) {
    st.commit_backoff = std::chrono::milliseconds{0};
    ++st.commits;
    st.committed_batches += job.work.size();
    for (const auto& w : job.work)
      after_commit(self, w);
    for (auto& w : job.work)
      w.done(ok());
    for (const auto& hop : hops)
      pump(self, hop);
  } else {
    commit_failed(self, job, outcome.err(), hops);
  }
  if (st.commit.take_flush_again())
    flush(self);
}

} // namespace

/// Hands an envelope to the local actor that processes its topic; forgets it once that actor
/// answered. Without an answer it stays in pending_local and is handed over again at the next start.
void hand_over(service_broker_pointer self, const local_subscriber_actor& sub, std::string key,
               const std::string& topic, const std::string& origin, const std::string& payload) {
  self->request(sub, std::chrono::seconds{60}, deliver_atom::value, topic, origin, payload)
    .then(
      [=](bool) {
        self->state.commit.processed(key); // removed from pending_local with the next commit
        schedule_commit(self, false);
      },
      [=](caf::error& err) {
        log::warning(component, "the local actor for " + topic + " did not confirm an envelope from "
                                  + origin + "; it is handed over again at the next start: "
                                  + describe(err));
      });
}

/// Starts one durable commit of every pending batch and of the removals gathered since the last
/// one, unless one is under way (then the next starts when it ends: group commit).
void flush(service_broker_pointer self) {
  auto& st = self->state;
  auto* job = st.commit.start();
  if (job == nullptr)
    return;
  std::vector<std::string> prefixes;
  for (const auto& [prefix, sub] : st.subscribers)
    prefixes.push_back(prefix);
  auto writes = writes_of(*job, prefixes, now_us());
  if (!st.writer) {
    commit_finished(self, st.store.commit(writes));
    return;
  }
  self->request(st.writer, caf::infinite, flush_atom::value, std::move(writes))
    .then([=](bool) { commit_finished(self, ok()); },
          [=](caf::error& err) {
            // The writer's storage errors are joconde errors; anything else means it is gone.
            if (code_of(err) != errc::none)
              commit_finished(self, fail(code_of(err), message_of(err)));
            else
              commit_finished(self, fail(errc::storage_error, "the writer failed: " + describe(err)));
          });
}

/// Asks for a commit at once, or within the commit delay.
void schedule_commit(service_broker_pointer self, bool now) {
  auto& st = self->state;
  if (now || st.cfg.commit_delay.count() == 0) {
    if (!st.flush_scheduled) {
      st.flush_scheduled = true;
      self->send(self, flush_atom::value, false);
    }
  } else if (!st.flush_timer && !st.flush_scheduled) {
    st.flush_timer = true;
    self->delayed_send(self, st.cfg.commit_delay, flush_atom::value, true);
  }
}

/// Admits a batch: decides and forwards at once, then queues it for the commit. The commit follows
/// at once when something is delivered here (or much is pending), else within the commit delay (the
/// publisher of an envelope published here waits that long at most for its answer).
void enqueue(service_broker_pointer self, pending_batch item) {
  auto& st = self->state;
  if (auto r = plan_batch(self, item); !r) {
    log::error(component, "cannot route a batch of envelopes: " + r.err().message);
    st.commit.abandon(item);
    item.done(r);
    return;
  }
  bool urgent = false;
  for (const auto& plan : item.plans)
    urgent = urgent || plan.local;
  st.commit.add(std::move(item));
  if (st.commit.pending_bytes() > 64 * 1024 * 1024) {
    flush(self);
    return;
  }
  schedule_commit(self, urgent);
}

/// Forgets ids of envelopes too old to be admitted again (older than max_age + max_skew): a resend of
/// one of them is refused as stale, so the duplicate filter need not remember it. Bounded per pass.
void prune_seen(service_broker_pointer self) {
  auto& st = self->state;
  if (st.commit.forgetting())
    return; // the last pass is not committed yet
  auto horizon = now_us()
                 - std::chrono::duration_cast<std::chrono::microseconds>(st.cfg.limits.max_age
                                                                          + st.cfg.limits.max_skew)
                     .count();
  auto old = st.store.stale_ids(horizon, 10000);
  if (!old || old->empty())
    return;
  log::info(component, "forgetting " + std::to_string(old->size()) + " ids of stale envelopes");
  st.commit.forget(std::move(*old)); // removed with the next commit
}

/// The writer: makes each commit durable on its own thread while the broker goes on.
broker_writer_actor::behavior_type writer(broker_store store) {
  return {
    [=](flush_atom, const commit_writes& w) -> caf::result<bool> {
      if (auto r = store.commit(w); !r)
        return to_caf(r.err());
      return true;
    },
  };
}

} // namespace joconde::broker_detail
