#include "service_broker_impl.hpp"

#include "joconde/messages/caf_error.hpp"
#include "joconde/runtime/clock.hpp"
#include "joconde/runtime/log.hpp"
#include "joconde/runtime/metrics.hpp"

#include <nlohmann/json.hpp>

#include <caf/typed_event_based_actor.hpp>

namespace joconde {

// Helpers in broker_detail (not file-local): service_broker_commit.cpp calls some of them.
namespace broker_detail {

namespace {

constexpr auto tick_interval = std::chrono::seconds{1};

using clock = std::chrono::system_clock;

} // namespace

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

void update_depth(service_broker_pointer self, const std::string& peer) {
  auto& p = self->state.peers[peer];
  if (p.depth > 0 && !p.waiting)
    p.moved = std::chrono::steady_clock::now();
  p.waiting = p.depth > 0;
  if (self->state.metrics)
    self->state.metrics->outbox_depth(peer).Set(static_cast<double>(p.depth));
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
  auto gone = [&st](const std::string& key) { return st.commit.acknowledged_unremoved(key); };
  while (p.inflight_count < st.cfg.window) {
    auto limit = std::min<size_t>(st.cfg.frame_envelopes, st.cfg.window - p.inflight_count);
    auto frame = st.store.next_frame(peer, p.cursor, limit, st.cfg.frame_bytes, gone);
    if (!frame) {
      log::error(component, "cannot read the outbox: " + frame.err().message);
      return;
    }
    if (frame->keys.empty())
      return;
    send_frame(self, peer, std::move(frame->keys), std::move(frame->envelopes));
  }
}

/// Hands over again what a subscriber for `prefix` had not confirmed before the node stopped.
void redeliver(service_broker_pointer self, const std::string& prefix, const local_subscriber_actor& sub) {
  auto pending = self->state.store.pending_deliveries(prefix);
  if (!pending)
    return log::error(component, "cannot read pending deliveries: " + pending.err().message);
  for (auto& d : *pending)
    hand_over(self, sub, std::move(d.key), d.topic, d.origin, d.payload);
  if (!pending->empty())
    log::notice(component, "handing " + std::to_string(pending->size()) + " envelope(s) on " + prefix
                             + "* over again after a restart");
}

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

/// The callback that answers `rp` once the batch is durable: `value`, or the error.
template <class T>
std::function<void(const result<void>&)> answer(caf::typed_response_promise<T> rp, T value) {
  return [rp, value = std::move(value)](const result<void>& r) mutable {
    if (r)
      rp.deliver(std::move(value));
    else
      rp.deliver(to_caf(r.err()));
  };
}

/// The envelopes of a frame from neighbour `from` that pass admission and the routing policy; the
/// others are counted, and logged and audited one by one (or summarised).
std::vector<admitted_envelope> admit_frame(service_broker_pointer self, const std::string& from,
                                           neighbour_kind kind, std::vector<std::string>& envelopes) {
  auto& st = self->state;
  auto now = clock::now();
  std::vector<admitted_envelope> batch;
  batch.reserve(envelopes.size());
  for (auto& bytes : envelopes) {
    auto env = admit_envelope(*st.trust, bytes, from, kind, now, st.cfg.limits, &st.checked_batches);
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
  return batch;
}

/// Makes and signs `count` envelopes published here and queues them; answered with their ids once
/// they are durable.
caf::result<std::vector<std::string>> publish(service_broker_pointer self, std::string& topic,
                                              std::vector<std::string>& recipients,
                                              std::string& ct_id, std::string& payload, uint32_t count) {
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
  enqueue(self, {std::move(batch), st.trust->self(), neighbour_kind::self, answer(rp, std::move(ids)), {}});
  return rp;
}

/// Frame `seq` to `peer` was acknowledged: its entries leave the outbox (or are never written).
void on_acked(service_broker_pointer self, const std::string& peer, uint64_t seq) {
  auto& st = self->state;
  auto& p = st.peers[peer];
  auto i = p.inflight.find(seq);
  if (i == p.inflight.end())
    return;
  auto n = i->second.keys.size();
  // Not yet committed: then it is never written. Else removed from the outbox with the next
  // commit, or the tick's (the pump skips it meanwhile).
  for (auto& key : i->second.keys)
    st.commit.acknowledged(std::move(key));
  if (st.commit.unremoved() >= 16384)
    schedule_commit(self, true);
  p.depth = std::max<int64_t>(0, p.depth - static_cast<int64_t>(n));
  p.moved = std::chrono::steady_clock::now();
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
}

/// Counts the envelopes of `p`'s unacknowledged frames, about to be sent again, by topic class.
void count_retries(service_broker_pointer self, const service_broker_state::peer_state& p) {
  auto& st = self->state;
  std::vector<std::string> keys;
  for (const auto& [seq, frame] : p.inflight)
    keys.insert(keys.end(), frame.keys.begin(), frame.keys.end());
  auto topics = st.store.topics(keys);
  if (!topics)
    return log::error(component, "cannot read the outbox: " + topics.err().message);
  for (const auto& topic : *topics)
    st.metrics->retried(topic).Increment();
}

/// Sets joconde_outbox_oldest_age_seconds for every neighbour: the age of the oldest envelope that
/// waits for it (read from the outbox), 0 when none does.
void sample_oldest(service_broker_pointer self) {
  auto& st = self->state;
  auto now = now_us();
  auto gone = [&st](const std::string& key) { return st.commit.acknowledged_unremoved(key); };
  for (const auto& [peer, p] : st.peers) {
    double age = 0;
    if (p.waiting) {
      auto first = st.store.first_header(peer, gone);
      if (!first)
        return log::error(component, "cannot read the outbox: " + first.err().message);
      if (*first)
        age = static_cast<double>(std::max<int64_t>(0, now - (*first)->created_at_us)) / 1e6;
    }
    st.metrics->outbox_oldest_age(peer).Set(age);
  }
}

/// Resends what is overdue, forgets stale ids now and then, and commits removals that wait.
void on_tick(service_broker_pointer self) {
  auto& st = self->state;
  auto now = std::chrono::steady_clock::now();
  if (st.metrics) {
    for (const auto& [peer, p] : st.peers)
      st.metrics->outbox_stalled(peer).Set(p.waiting ? std::chrono::duration<double>(now - p.moved).count() : 0.0);
    if (st.ticks % 5 == 0)
      sample_oldest(self);
  }
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
      count_retries(self, p);
    update_backoff(self, peer);
    auto name = peer;
    reset_peer(self, name);
    pump(self, name);
  }
  if (++st.ticks % 600 == 0)
    prune_seen(self);
  // Removals nothing else has committed yet (after a failed commit, not before its back-off).
  if (st.commit.removals_waiting() && now >= st.removals_not_before)
    schedule_commit(self, true);
  self->delayed_send(self, tick_interval, tick_atom::value);
}

/// Sets up the state from the configuration and the outbox; false (and quits) if the outbox
/// cannot be read.
bool start(service_broker_pointer self) {
  auto& st = self->state;
  if (!st.cfg.policy)
    st.cfg.policy = std::make_shared<access_policy>(st.trust->self(), node_role::unknown);
  if (st.trust->own_chain().size() > 1) {
    auto names = st.trust->own_chain()[1].dns_names();
    if (!names.empty())
      st.parent = names.front();
  }
  auto outbox = st.store.load_outbox();
  if (!outbox) {
    log::error(component, "cannot load the outbox: " + outbox.err().message);
    self->quit(to_caf(outbox.err()));
    return false;
  }
  for (auto& [peer, held] : outbox->peers) {
    auto& p = st.peers[peer];
    p.depth = held.depth;
    p.tail = std::move(held.tail);
    update_depth(self, peer);
    log::info(component, "outbox holds " + std::to_string(p.depth) + " envelopes for " + peer);
  }
  st.next_seq = std::max<uint64_t>(outbox->max_seq, static_cast<uint64_t>(now_us()));
  if (st.cfg.async_commit)
    st.writer = self->spawn<caf::detached + caf::linked>(writer, st.store);
  self->delayed_send(self, tick_interval, tick_atom::value);
  return true;
}

} // namespace broker_detail

service_broker_actor::behavior_type
service_broker(service_broker_pointer self, service_broker_config cfg,
               std::shared_ptr<trust_view> trust, std::shared_ptr<const node_signer> signer,
               node_store store, audit_log_actor audit, metrics::registry* metrics) {
  using namespace broker_detail;
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.trust = std::move(trust);
  st.signer = std::move(signer);
  st.store = broker_store{std::move(store)};
  st.audit = std::move(audit);
  st.metrics = metrics;
  if (!start(self))
    return service_broker_actor::behavior_type::make_empty_behavior();
  return {
    [=](connect_atom, connection_manager_actor cm) { self->state.cm = std::move(cm); },
    [=](connect_atom, std::string& prefix, local_subscriber_actor sub) {
      self->state.subscribers[prefix] = sub;
      redeliver(self, prefix, sub);
    },
    [=](deliver_atom, std::string& from, bool from_parent,
        std::vector<std::string>& envelopes) -> caf::result<bool> {
      auto kind = from_parent ? neighbour_kind::parent : neighbour_kind::child;
      auto batch = admit_frame(self, from, kind, envelopes);
      // Answered (and so acknowledged to the sender) once the group commit has made it durable.
      auto rp = self->make_response_promise<bool>();
      enqueue(self, {std::move(batch), from, kind, answer(rp, true), {}});
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
    [=](acked_atom, std::string& peer, uint64_t seq) { on_acked(self, peer, seq); },
    [=](publish_atom, std::string& topic, std::vector<std::string>& recipients, std::string& ct_id,
        std::string& payload, uint32_t count) -> caf::result<std::vector<std::string>> {
      return publish(self, topic, recipients, ct_id, payload, count);
    },
    [=](flush_atom, bool timer) {
      auto& st = self->state;
      (timer ? st.flush_timer : st.flush_scheduled) = false;
      flush(self);
    },
    [=](tick_atom) { on_tick(self); },
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
