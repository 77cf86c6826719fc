#include "service_broker.hpp"

#include "joconde/runtime/clock.hpp"
#include "joconde/envelope.pb.h"
#include "joconde/messages/caf_error.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/runtime/log.hpp"
#include "joconde/runtime/metrics.hpp"
#include "routing.hpp"

#include <nlohmann/json.hpp>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/event_based_actor.hpp>

#include <set>

namespace joconde {
struct commit_job;
}

// The broker hands its commits to its writer, a detached actor of the same process.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<joconde::commit_job>)

namespace joconde {

namespace {

constexpr const char* component = "service_broker";
constexpr auto tick_interval = std::chrono::seconds{1};

using clock = std::chrono::system_clock;


std::string outbox_prefix(const std::string& peer) {
  std::string key = peer;
  key.push_back('\0');
  return key;
}

std::string outbox_key(const std::string& peer, uint64_t seq) {
  auto key = outbox_prefix(peer);
  for (int i = 7; i >= 0; --i)
    key.push_back(static_cast<char>((seq >> (i * 8)) & 0xff));
  return key;
}

/// Big-endian creation time (µs) then the id: an envelope's identity, in time order, so that new
/// keys land at the end of their database (few pages written per commit) and old ones are at the
/// start (cheap to forget). Both fields are signed by the origin.
std::string time_ordered_id(int64_t created_at_us, const std::string& id) {
  auto at = static_cast<uint64_t>(std::max<int64_t>(0, created_at_us));
  std::string key;
  key.reserve(8 + id.size());
  for (int i = 7; i >= 0; --i)
    key.push_back(static_cast<char>((at >> (i * 8)) & 0xff));
  return key + id;
}

int64_t time_of_key(std::string_view key) {
  uint64_t at = 0;
  for (auto c : key.substr(0, 8))
    at = (at << 8) | static_cast<uint8_t>(c);
  return static_cast<int64_t>(at);
}

std::string inbox_key(const std::string& topic, int64_t created_at_us, const std::string& id) {
  std::string key = topic;
  key.push_back('\0');
  return key + time_ordered_id(created_at_us, id);
}

uint64_t seq_of_key(std::string_view key) {
  uint64_t seq = 0;
  for (auto c : key.substr(key.size() - 8))
    seq = (seq << 8) | static_cast<uint8_t>(c);
  return seq;
}

/// The strings of one "envelope" audit record (key, value, ...), appended to `out`.
constexpr uint32_t envelope_record_strings = 10;

void add_envelope_record(std::vector<std::string>& out, const std::string& id,
                         const std::string& topic, const std::string& origin,
                         const std::string& from, const std::string& decision) {
  out.insert(out.end(), {"id", id, "topic", topic, "origin", origin, "from", from, "decision", decision});
}

void audit_envelope(service_broker_pointer self, const std::string& id, const std::string& topic,
                    const std::string& origin, const std::string& from, const std::string& decision) {
  std::vector<std::string> record;
  add_envelope_record(record, id, topic, origin, from, decision);
  self->send(self->state.audit, audit_atom::value, std::string{component}, std::string{"envelope"},
             std::move(record));
}

/// Whether an envelope refused from a neighbour is logged and audited one by one (every one is
/// counted in the metrics): a neighbour can send refused envelopes as fast as it likes, so at most 20
/// a second are, the rest in one line and one record per second.
bool one_by_one(service_broker_pointer self) {
  std::uint64_t held_back = 0;
  bool yes = self->state.refusals.should_log(held_back);
  if (held_back > 0) {
    log::warning(component, std::to_string(held_back) + " more refused envelope(s) were not logged one by one");
    self->send(self->state.audit, audit_atom::value, std::string{component},
               std::string{"envelope.refusals.summarised"},
               std::vector<std::string>{"count", std::to_string(held_back)});
  }
  return yes;
}

/// True if acknowledged outbox entries, processed local deliveries or stale ids wait for a commit.
bool removals_waiting(const service_broker_state& st) {
  return !st.acked_unremoved.empty() || !st.local_done.empty() || !st.stale_seen.empty();
}

void update_depth(service_broker_pointer self, const std::string& peer) {
  if (self->state.metrics)
    self->state.metrics->outbox_depth(peer).Set(
      static_cast<double>(self->state.peers[peer].depth));
}

/// The wait before unacknowledged envelopes go to `peer` again, as it stands now.
std::chrono::milliseconds resend_wait(const service_broker_state& st,
                                      const service_broker_state::peer_state& p) {
  return p.resend_after.count() == 0 ? st.cfg.retry_after : p.resend_after;
}

void update_backoff(service_broker_pointer self, const std::string& peer) {
  auto& st = self->state;
  if (st.metrics)
    st.metrics->resend_backoff(peer).Set(
      std::chrono::duration<double>(resend_wait(st, st.peers[peer])).count());
}

/// Forgets what is in flight to `peer`; it will all be sent again from the outbox (but for what was
/// acknowledged meanwhile and is not yet removed from it).
void reset_peer(service_broker_pointer self, const std::string& peer) {
  auto& p = self->state.peers[peer];
  ++p.epoch;
  p.inflight.clear();
  p.inflight_count = 0;
  p.cursor.clear();
}

/// Hands one frame of outbox entries to the connection manager; it is in flight until acknowledged.
void send_frame(service_broker_pointer self, const std::string& peer, std::vector<std::string> keys,
                std::vector<std::string> envelopes) {
  auto& st = self->state;
  auto& p = st.peers[peer];
  p.cursor = keys.back();
  if (p.tail < p.cursor)
    p.tail = p.cursor;
  p.inflight_count += keys.size();
  auto epoch = p.epoch;
  // The connection manager is an actor of this process that answers at once (or is gone, which
  // CAF reports as an error): no timeout, which would cost a wake-up of CAF's clock per frame.
  self->request(st.cm, caf::infinite, send_atom::value, peer, std::move(envelopes))
    .then(
      [=](uint64_t seq) {
        auto& p = self->state.peers[peer];
        if (p.epoch == epoch)
          p.inflight[seq] = {std::move(keys), std::chrono::steady_clock::now()};
      },
      [=](caf::error& err) {
        auto& p = self->state.peers[peer];
        if (p.epoch != epoch)
          return;
        log::warning(component, "cannot send to " + peer + ": " + describe(err));
        reset_peer(self, peer);
      });
}

/// Hands the next frames of `peer`'s outbox to the connection manager, up to the window.
void pump(service_broker_pointer self, const std::string& peer) {
  auto& st = self->state;
  auto& p = st.peers[peer];
  if (!p.up || !st.cm)
    return;
  auto prefix = outbox_prefix(peer);
  while (p.inflight_count < st.cfg.window) {
    std::vector<std::string> keys;
    std::vector<std::string> envelopes;
    size_t bytes = 0;
    auto txn = st.store.env->begin_read();
    if (!txn) {
      log::error(component, "cannot read the outbox: " + txn.err().message);
      return;
    }
    auto limit = std::min<size_t>(st.cfg.frame_envelopes, st.cfg.window - p.inflight_count);
    auto res = txn->for_each_after(st.store.outbox, prefix, p.cursor,
                                   [&](std::string_view key, std::string_view value) {
                                     if (st.acked_unremoved.count(std::string{key}) > 0)
                                       return true;
                                     if (!envelopes.empty() && bytes + value.size() > st.cfg.frame_bytes)
                                       return false;
                                     keys.emplace_back(key);
                                     envelopes.emplace_back(value);
                                     bytes += value.size();
                                     return envelopes.size() < limit;
                                   });
    if (!res) {
      log::error(component, "cannot read the outbox: " + res.err().message);
      return;
    }
    if (keys.empty())
      return;
    send_frame(self, peer, std::move(keys), std::move(envelopes));
  }
}

void schedule_commit(service_broker_pointer self, bool now);

/// Hands an envelope to the local actor that processes its topic; forgets it once that actor
/// answered. Without an answer it stays in pending_local and is handed over again at the next start.
void hand_over(service_broker_pointer self, const local_subscriber_actor& sub, std::string key,
               const std::string& topic, const std::string& origin, const std::string& payload) {
  self->request(sub, std::chrono::seconds{60}, deliver_atom::value, topic, origin, payload)
    .then(
      [=](bool) {
        self->state.local_done.push_back(key); // removed from pending_local with the next commit
        schedule_commit(self, false);
      },
      [=](caf::error& err) {
        log::warning(component, "the local actor for " + topic + " did not confirm an envelope from "
                                  + origin + "; it is handed over again at the next start: "
                                  + describe(err));
      });
}

/// Hands over again what a subscriber for `prefix` had not confirmed before the node stopped.
void redeliver(service_broker_pointer self, const std::string& prefix, const local_subscriber_actor& sub) {
  auto& st = self->state;
  auto txn = st.store.env->begin_read();
  if (!txn)
    return log::error(component, "cannot read pending deliveries: " + txn.err().message);
  size_t n = 0;
  (void) txn->for_each(st.store.pending_local, "", [&](std::string_view key, std::string_view value) {
    auto d = proto::parse<v1::LocalDelivery>(value);
    if (d && d->topic().rfind(prefix, 0) == 0) {
      hand_over(self, sub, std::string{key}, d->topic(), d->origin(), d->payload());
      ++n;
    }
    return true;
  });
  if (n > 0)
    log::notice(component, "handing " + std::to_string(n) + " envelope(s) on " + prefix
                             + "* over again after a restart");
}

using pending_batch = service_broker_state::pending_batch;

/// Forwards `entries` (outbox key, envelope bytes) to `hop` at once if its link has nothing older
/// waiting (it has been handed everything up to the outbox's tail) and room in its window; else the
/// pump sends them once they are committed. Forwarding happens before the commit that makes them
/// durable here, so this node's commit and the next hop's overlap; the sender is still acknowledged
/// only after this node's commit. If that commit fails, the sender sends again and the next hop drops
/// what it already has.
void forward(service_broker_pointer self, const std::string& hop,
             const std::vector<std::pair<std::string, const std::string*>>& entries) {
  auto& st = self->state;
  auto& p = st.peers[hop];
  bool next_in_line = p.up && st.cm && p.cursor == p.tail
                      && p.inflight_count + entries.size() <= st.cfg.window;
  if (!next_in_line) {
    p.tail = entries.back().first;
    return;
  }
  std::vector<std::string> keys;
  std::vector<std::string> frame;
  size_t bytes = 0;
  for (const auto& [key, env] : entries) {
    if (!frame.empty()
        && (frame.size() >= st.cfg.frame_envelopes || bytes + env->size() > st.cfg.frame_bytes)) {
      send_frame(self, hop, std::move(keys), std::move(frame));
      keys.clear();
      frame.clear();
      bytes = 0;
    }
    keys.push_back(key);
    frame.push_back(*env);
    bytes += env->size();
  }
  send_frame(self, hop, std::move(keys), std::move(frame));
}

/// Decides what becomes of each envelope of an admitted batch — duplicate (already stored or
/// pending), delivered here, next hops with their outbox keys — and forwards it at once; the next
/// commit stores what was decided. An error means nothing was decided.
result<void> plan_batch(service_broker_pointer self, pending_batch& item) {
  auto& st = self->state;
  auto txn = st.store.env->begin_read();
  if (!txn)
    return txn.err();
  auto known_child = [&](const std::string& fqdn) {
    auto v = txn->get(st.store.children, fqdn);
    return v && v->has_value();
  };
  std::map<std::string, std::vector<std::pair<std::string, const std::string*>>> by_hop;
  item.plans.resize(item.batch.size());
  for (size_t i = 0; i < item.batch.size(); ++i) {
    const auto& env = item.batch[i];
    auto& plan = item.plans[i];
    auto id = time_ordered_id(env.created_at_us, env.id);
    auto stored = txn->get(st.store.seen, id);
    if (!stored)
      return stored.err();
    if (stored->has_value() || !st.pending_ids.insert(id).second) {
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
      st.uncommitted.insert(key);
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

} // namespace

/// One durable commit, made by the writer (or by the broker itself when commits are synchronous):
/// the pending batches and the removals gathered since the last one. Only `outcome` is written by
/// the writer; the broker reads it once the writer has answered.
struct commit_job {
  std::vector<service_broker_state::pending_batch> work;
  std::vector<std::string> outbox_removals;        ///< acknowledged outbox entries
  std::vector<std::string> pending_local_removals; ///< envelopes local actors have processed
  std::vector<std::string> seen_removals;          ///< ids too old to come again
  std::set<std::string> skip;                      ///< outbox entries acknowledged already: not written
  std::vector<std::string> subscriber_prefixes;    ///< topics a local actor processes
  result<void> outcome = ok();
};

namespace {

/// Writes what was decided for one batch inside `txn`: the duplicate filter, local envelopes into
/// the inbox (and pending_local when an actor of this node processes them), outbox entries not
/// acknowledged by their next hop meanwhile.
result<void> store_batch(const node_store& store, lmdb::write_txn& txn, const commit_job& job,
                         const service_broker_state::pending_batch& item) {
  for (size_t i = 0; i < item.batch.size(); ++i) {
    const auto& env = item.batch[i];
    const auto& plan = item.plans[i];
    if (plan.duplicate)
      continue;
    auto id = time_ordered_id(env.created_at_us, env.id);
    if (auto r = txn.put(store.seen, id, {}); !r)
      return r.err();
    if (plan.local) {
      nlohmann::json record{{"id", id_hex(env.id)},
                            {"topic", env.topic},
                            {"origin", env.origin},
                            {"ct_id", env.ct_id},
                            {"created_at_us", env.created_at_us},
                            {"delivered_at_us", now_us()},
                            {"payload_size", env.payload.size()}};
      if (env.payload.size() <= 64 * 1024)
        record["payload_hex"] = crypto::hex(crypto::to_bytes(env.payload));
      if (auto r = txn.put(store.inbox, inbox_key(env.topic, env.created_at_us, env.id), record.dump());
          !r)
        return r.err();
      // An actor of this node processes it: keep it until that actor says it has.
      for (const auto& prefix : job.subscriber_prefixes)
        if (env.topic.rfind(prefix, 0) == 0) {
          v1::LocalDelivery d;
          d.set_topic(env.topic);
          d.set_origin(env.origin);
          d.set_payload(env.payload);
          if (auto r = txn.put(store.pending_local, id, proto::serialize(d)); !r)
            return r.err();
          break;
        }
    }
    for (const auto& [hop, key] : plan.outbox)
      if (job.skip.count(key) == 0)
        if (auto r = txn.put(store.outbox, key, env.bytes); !r)
          return r.err();
  }
  return ok();
}

/// Makes `job` durable in one write transaction (on whichever thread calls it).
result<void> run_commit(const node_store& store, const commit_job& job) {
  auto txn = store.env->begin_write();
  if (!txn)
    return txn.err();
  for (const auto& w : job.work)
    if (auto r = store_batch(store, *txn, job, w); !r)
      return r;
  for (const auto& [db, keys] : {std::pair{&store.outbox, &job.outbox_removals},
                                 std::pair{&store.pending_local, &job.pending_local_removals},
                                 std::pair{&store.seen, &job.seen_removals}})
    for (const auto& key : *keys)
      if (auto r = txn->del(*db, key); !r)
        return r.err();
  return txn->commit();
}

/// After the commit (or its failure): forgets what was pending; then, if it was stored, local
/// subscribers, audit and metrics.
void after_commit(service_broker_pointer self, const service_broker_state::pending_batch& item,
                  bool stored, const std::set<std::string>& skipped) {
  auto& st = self->state;
  uint64_t delivered = 0;
  uint64_t duplicates = 0;
  std::vector<std::string> records;
  records.reserve(item.batch.size() * envelope_record_strings);
  for (size_t i = 0; i < item.batch.size(); ++i) {
    const auto& env = item.batch[i];
    const auto& plan = item.plans[i];
    if (!plan.duplicate)
      st.pending_ids.erase(time_ordered_id(env.created_at_us, env.id));
    for (const auto& [hop, key] : plan.outbox) {
      st.uncommitted.erase(key);
      // Acknowledged while the commit wrote it: remove it with a later one.
      if (st.acked_early.erase(key) > 0 && stored && skipped.count(key) == 0)
        st.acked_unremoved.insert(key);
    }
    if (!stored)
      continue;
    duplicates += plan.duplicate ? 1 : 0;
    if (plan.local) {
      ++delivered;
      for (const auto& [prefix, sub] : st.subscribers)
        if (env.topic.rfind(prefix, 0) == 0) {
          hand_over(self, sub, time_ordered_id(env.created_at_us, env.id), env.topic, env.origin,
                    env.payload);
          break;
        }
    }
    add_envelope_record(records, id_hex(env.id), env.topic, env.origin, item.from, plan.decision);
  }
  if (!stored)
    return;
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

void flush(service_broker_pointer self);

/// Acts on a finished commit: tells each sender (nothing is acknowledged unless its batch
/// committed), pumps, and starts the next commit if more is waiting.
void commit_finished(service_broker_pointer self) {
  auto& st = self->state;
  auto job = std::move(st.committing);
  st.committing.reset();
  auto stored = static_cast<bool>(job->outcome);
  if (stored) {
    st.commit_backoff = std::chrono::milliseconds{0};
    ++st.commits;
    st.committed_batches += job->work.size();
    for (const auto& key : job->outbox_removals)
      st.acked_unremoved.erase(key);
  } else {
    // The removals are tried again with the next commit.
    st.local_done.insert(st.local_done.end(), job->pending_local_removals.begin(),
                         job->pending_local_removals.end());
    st.stale_seen.insert(st.stale_seen.end(), job->seen_removals.begin(), job->seen_removals.end());
  }
  std::set<std::string> hops;
  for (const auto& w : job->work) {
    after_commit(self, w, stored, job->skip);
    for (const auto& plan : w.plans)
      for (const auto& [hop, key] : plan.outbox)
        hops.insert(hop);
  }
  if (!stored) {
    // Removals alone wait before they are tried again: a full disk is not retried every second.
    st.commit_backoff = st.commit_backoff.count() == 0
                          ? st.cfg.retry_after
                          : std::min(st.commit_backoff * 2, st.cfg.retry_max);
    st.removals_not_before = std::chrono::steady_clock::now() + st.commit_backoff;
    log::error(component, "cannot store " + std::to_string(job->work.size())
                            + " batch(es) of envelopes: " + job->outcome.err().message,
               {{"reason", to_string(job->outcome.err().code)}});
    if (st.metrics)
      st.metrics->storage_failures(to_string(job->outcome.err().code)).Increment();
    auto err = to_caf(job->outcome.err());
    for (auto& w : job->work)
      w.done(err);
    // What was forwarded is not in the outbox here: the senders send it again. The links start
    // over from what the outbox holds, and its tail is what was committed or is still pending.
    for (const auto& hop : hops) {
      reset_peer(self, hop);
      auto& p = st.peers[hop];
      p.tail.clear();
      if (auto txn = st.store.env->begin_read())
        (void) txn->for_each_after(st.store.outbox, outbox_prefix(hop), "",
                                   [&](std::string_view key, std::string_view) {
                                     p.tail = std::string{key};
                                     return true;
                                   });
      for (const auto& w : st.pending)
        for (const auto& plan : w.plans)
          for (const auto& [next, key] : plan.outbox)
            if (next == hop)
              p.tail = std::max(p.tail, key);
      pump(self, hop);
    }
  } else {
    for (auto& w : job->work)
      w.done(caf::error{});
    for (const auto& hop : hops)
      pump(self, hop);
  }
  if (st.flush_again) {
    st.flush_again = false;
    flush(self);
  }
}

/// Starts one durable commit of every pending batch and of the removals gathered since the last
/// one, unless one is under way (then the next starts when it ends: group commit).
void flush(service_broker_pointer self) {
  auto& st = self->state;
  if (st.committing) {
    st.flush_again = true;
    return;
  }
  if (st.pending.empty() && !removals_waiting(st))
    return;
  auto job = std::make_shared<commit_job>();
  job->work = std::move(st.pending);
  st.pending.clear();
  st.pending_bytes = 0;
  job->outbox_removals.assign(st.acked_unremoved.begin(), st.acked_unremoved.end());
  job->pending_local_removals = std::move(st.local_done);
  st.local_done.clear();
  job->seen_removals = std::move(st.stale_seen);
  st.stale_seen.clear();
  job->skip = st.acked_early;
  for (const auto& [prefix, sub] : st.subscribers)
    job->subscriber_prefixes.push_back(prefix);
  st.committing = job;
  if (!st.writer) {
    job->outcome = run_commit(st.store, *job);
    commit_finished(self);
    return;
  }
  self->request(st.writer, caf::infinite, job)
    .then([=](bool) { commit_finished(self); },
          [=](caf::error& err) {
            job->outcome = fail(errc::storage_error, "the writer failed: " + describe(err));
            commit_finished(self);
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
void enqueue(service_broker_pointer self, service_broker_state::pending_batch item) {
  auto& st = self->state;
  if (auto r = plan_batch(self, item); !r) {
    log::error(component, "cannot route a batch of envelopes: " + r.err().message);
    for (const auto& plan : item.plans)
      for (const auto& [hop, key] : plan.outbox)
        st.uncommitted.erase(key);
    for (size_t i = 0; i < item.plans.size(); ++i)
      if (!item.plans[i].duplicate && !item.plans[i].decision.empty())
        st.pending_ids.erase(time_ordered_id(item.batch[i].created_at_us, item.batch[i].id));
    item.done(to_caf(r.err()));
    return;
  }
  bool urgent = false;
  for (const auto& env : item.batch)
    st.pending_bytes += env.bytes.size();
  for (const auto& plan : item.plans)
    urgent = urgent || plan.local;
  st.pending.push_back(std::move(item));
  if (st.pending_bytes > 64 * 1024 * 1024) {
    flush(self);
    return;
  }
  schedule_commit(self, urgent);
}

/// Forgets ids of envelopes too old to be admitted again (older than max_age + max_skew): a resend of
/// one of them is refused as stale, so the duplicate filter need not remember it. Bounded per pass.
void prune_seen(service_broker_pointer self) {
  auto& st = self->state;
  if (!st.stale_seen.empty())
    return; // the last pass is not committed yet
  auto horizon = now_us()
                 - std::chrono::duration_cast<std::chrono::microseconds>(st.cfg.limits.max_age
                                                                          + st.cfg.limits.max_skew)
                     .count();
  std::vector<std::string> old;
  {
    auto txn = st.store.env->begin_read();
    if (!txn)
      return;
    // Keys are in time order: the stale ones come first.
    (void) txn->for_each(st.store.seen, "", [&](std::string_view key, std::string_view) {
      if (key.size() < 8 || time_of_key(key) >= horizon)
        return false;
      old.emplace_back(key);
      return old.size() < 10000;
    });
  }
  if (old.empty())
    return;
  log::info(component, "forgetting " + std::to_string(old.size()) + " ids of stale envelopes");
  st.stale_seen = std::move(old); // removed with the next commit
}

result<void> load_outbox(service_broker_state& st) {
  auto txn = st.store.env->begin_read();
  if (!txn)
    return txn.err();
  uint64_t max_seq = 0;
  auto res = txn->for_each(st.store.outbox, "", [&](std::string_view key, std::string_view) {
    auto zero = key.find('\0');
    if (zero != std::string_view::npos && key.size() == zero + 9) {
      auto& p = st.peers[std::string{key.substr(0, zero)}];
      ++p.depth;
      p.tail = std::string{key}; // keys come in order
      max_seq = std::max(max_seq, seq_of_key(key));
    }
    return true;
  });
  if (!res)
    return res.err();
  st.next_seq = std::max<uint64_t>(max_seq, static_cast<uint64_t>(now_us()));
  return ok();
}

} // namespace

service_broker_actor::behavior_type
service_broker(service_broker_pointer self, service_broker_config cfg,
               std::shared_ptr<trust_view> trust, std::shared_ptr<const node_signer> signer,
               node_store store, audit_log_actor audit, metrics::registry* metrics) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.trust = std::move(trust);
  st.signer = std::move(signer);
  st.store = std::move(store);
  st.audit = std::move(audit);
  st.metrics = metrics;
  if (!st.cfg.policy)
    st.cfg.policy = std::make_shared<access_policy>(st.trust->self(), node_role::unknown);
  if (st.trust->own_chain().size() > 1) {
    auto names = st.trust->own_chain()[1].dns_names();
    if (!names.empty())
      st.parent = names.front();
  }
  if (auto r = load_outbox(st); !r) {
    log::error(component, "cannot load the outbox: " + r.err().message);
    self->quit(to_caf(r.err()));
    return service_broker_actor::behavior_type::make_empty_behavior();
  }
  for (auto& [peer, p] : st.peers) {
    update_depth(self, peer);
    if (p.depth > 0)
      log::info(component, "outbox holds " + std::to_string(p.depth) + " envelopes for " + peer);
  }
  if (st.cfg.async_commit)
    st.writer = self->spawn<caf::detached + caf::linked>(
      [store = st.store](caf::event_based_actor*) -> caf::behavior {
        return {[=](const std::shared_ptr<commit_job>& job) {
          job->outcome = run_commit(store, *job);
          return true;
        }};
      });
  self->delayed_send(self, tick_interval, tick_atom::value);
  return {
    [=](connect_atom, connection_manager_actor cm) { self->state.cm = std::move(cm); },
    [=](connect_atom, std::string& prefix, local_subscriber_actor sub) {
      self->state.subscribers[prefix] = sub;
      redeliver(self, prefix, sub);
    },
    [=](deliver_atom, std::string& from, bool from_parent,
        std::vector<std::string>& envelopes) -> caf::result<bool> {
      auto& st = self->state;
      auto kind = from_parent ? neighbour_kind::parent : neighbour_kind::child;
      auto now = clock::now();
      std::vector<admitted_envelope> batch;
      batch.reserve(envelopes.size());
      for (auto& bytes : envelopes) {
        auto env = admit_envelope(*st.trust, bytes, from, kind, now, st.cfg.limits,
                                  &st.checked_batches);
        if (!env) {
          if (st.metrics)
            st.metrics->rejected(to_string(env.err().code)).Increment();
          if (one_by_one(self)) {
            log::warning(component, "envelope from " + from + " refused: " + env.err().message,
                         {{"reason", to_string(env.err().code)}});
            audit_envelope(self, "-", "-", "-", from,
                           "refused:" + std::string{to_string(env.err().code)} + " " + env.err().message);
          }
          continue;
        }
        if (auto d = st.cfg.policy->may_route(*env); !d) {
          if (st.metrics) {
            st.metrics->rejected(errc::forbidden).Increment();
            st.metrics->policy_denials(d.rule).Increment();
          }
          if (one_by_one(self)) {
            log::warning(component, "envelope from " + from + " refused: " + d.reason,
                         {{"reason", "forbidden"}, {"rule", d.rule}, {"origin", env->origin}});
            audit_envelope(self, id_hex(env->id), env->topic, env->origin, from,
                           "refused:forbidden " + d.rule + ": " + d.reason);
          }
          continue;
        }
        batch.push_back(std::move(*env));
      }
      // Answered (and so acknowledged to the sender) once the group commit has made it durable.
      auto rp = self->make_response_promise<bool>();
      enqueue(self, {std::move(batch), from, kind, [rp](const caf::error& err) mutable {
                       if (err)
                         rp.deliver(err);
                       else
                         rp.deliver(true);
                     }, {}});
      return rp;
    },
    [=](link_up_atom, std::string& peer, bool is_parent) {
      reset_peer(self, peer);
      auto& p = self->state.peers[peer];
      p.up = true;
      p.is_parent = is_parent;
      update_backoff(self, peer);
      pump(self, peer);
    },
    [=](link_dn_atom, std::string& peer) {
      reset_peer(self, peer);
      self->state.peers[peer].up = false;
    },
    [=](acked_atom, std::string& peer, uint64_t seq) {
      auto& st = self->state;
      auto& p = st.peers[peer];
      auto i = p.inflight.find(seq);
      if (i == p.inflight.end())
        return;
      auto n = i->second.keys.size();
      // Not yet committed: then it is never written. Else removed from the outbox with the next
      // commit, or the tick's (the pump skips it meanwhile).
      for (auto& key : i->second.keys)
        if (st.uncommitted.count(key) > 0)
          st.acked_early.insert(std::move(key));
        else
          st.acked_unremoved.insert(std::move(key));
      if (st.acked_unremoved.size() >= 16384)
        schedule_commit(self, true);
      p.depth = std::max<int64_t>(0, p.depth - static_cast<int64_t>(n));
      p.inflight_count -= n;
      p.inflight.erase(i);
      if (p.resend_after.count() != 0) {
        log::notice(component, peer + " acknowledges again: resends are back to every "
                                 + std::to_string(st.cfg.retry_after.count()) + " ms");
        p.resend_after = std::chrono::milliseconds{0};
        update_backoff(self, peer);
      }
      if (st.metrics)
        st.metrics->routed("out").Increment(static_cast<double>(n));
      update_depth(self, peer);
      pump(self, peer);
    },
    [=](publish_atom, std::string& topic, std::vector<std::string>& recipients, std::string& ct_id,
        std::string& payload, uint32_t count) -> caf::result<std::vector<std::string>> {
      auto& st = self->state;
      // One signature for the whole call (a batch signature when count > 1); 1 to 10,000.
      auto made = make_envelopes(*st.trust, *st.signer, topic, recipients, ct_id, payload, count,
                                 clock::now(), st.cfg.limits);
      if (!made)
        return to_caf(made.err());
      auto batch = std::move(*made);
      if (auto d = st.cfg.policy->may_route(batch.front()); !d) {
        log::warning(component, "envelope refused at its origin: " + d.reason,
                     {{"reason", "forbidden"}, {"rule", d.rule}});
        if (st.metrics)
          st.metrics->policy_denials(d.rule).Increment();
        return make_error(errc::forbidden, d.reason);
      }
      std::vector<std::string> ids;
      for (const auto& env : batch)
        ids.push_back(id_hex(env.id));
      auto rp = self->make_response_promise<std::vector<std::string>>();
      enqueue(self, {std::move(batch), st.trust->self(), neighbour_kind::self,
                     [rp, ids = std::move(ids)](const caf::error& err) mutable {
                       if (err)
                         rp.deliver(err);
                       else
                         rp.deliver(std::move(ids));
                     }, {}});
      return rp;
    },
    [=](flush_atom, bool timer) {
      auto& st = self->state;
      (timer ? st.flush_timer : st.flush_scheduled) = false;
      flush(self);
    },
    [=](tick_atom) {
      auto& st = self->state;
      auto now = std::chrono::steady_clock::now();
      for (auto& [peer, p] : st.peers) {
        if (!p.up || p.inflight_count == 0)
          continue;
        bool overdue = false;
        auto wait = resend_wait(st, p);
        for (const auto& [seq, frame] : p.inflight)
          overdue = overdue || now - frame.sent > wait;
        if (!overdue)
          continue;
        // Exponential back-off: a neighbour that cannot store what it gets (its disk is full) is
        // not sent everything again every few seconds; its next acknowledgement resets the wait.
        p.resend_after = std::min(wait * 2, st.cfg.retry_max);
        log::notice(component, "resending " + std::to_string(p.inflight_count)
                                 + " unacknowledged envelopes to " + peer + "; if they stay "
                                 "unacknowledged, the next resend in "
                                 + std::to_string(p.resend_after.count()) + " ms",
                    {{"peer", peer}, {"backoff_ms", std::to_string(p.resend_after.count())}});
        if (st.metrics)
          st.metrics->retried().Increment(static_cast<double>(p.inflight_count));
        update_backoff(self, peer);
        auto name = peer;
        reset_peer(self, name);
        pump(self, name);
      }
      if (++st.ticks % 600 == 0)
        prune_seen(self);
      // Removals nothing else has committed yet (after a failed commit, not before its back-off).
      if (removals_waiting(st) && now >= st.removals_not_before)
        schedule_commit(self, true);
      self->delayed_send(self, tick_interval, tick_atom::value);
    },
    [=](status_atom) {
      auto& st = self->state;
      caf::settings peers;
      for (const auto& [peer, p] : st.peers) {
        caf::settings entry;
        put_status(entry, "up", p.up);
        put_status(entry, "outbox", p.depth);
        put_status(entry, "in_flight", p.inflight_count);
        put_status(entry, "resend_after_ms", static_cast<int64_t>(resend_wait(st, p).count()));
        put_status(peers, peer, std::move(entry));
      }
      caf::settings doc;
      put_status(doc, "peers", std::move(peers));
      put_status(doc, "delivered", st.delivered);
      put_status(doc, "commits", st.commits);
      put_status(doc, "batches_per_commit",
                 st.commits == 0 ? 0.0
                                 : static_cast<double>(st.committed_batches)
                                     / static_cast<double>(st.commits));
      return doc;
    },
  };
}

} // namespace joconde
