#include "service_broker.hpp"

#include "joconde/runtime/clock.hpp"
#include "joconde/envelope.pb.h"
#include "joconde/messages/caf_error.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/runtime/log.hpp"
#include "joconde/runtime/metrics.hpp"
#include "routing.hpp"

#include <nlohmann/json.hpp>

#include <set>

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

void audit_envelope(service_broker_pointer self, const std::string& id, const std::string& topic,
                    const std::string& origin, const std::string& from, const std::string& decision) {
  self->send(self->state.audit, audit_atom::value, std::string{component}, std::string{"envelope"},
             std::vector<std::string>{"id", id, "topic", topic, "origin", origin, "from", from,
                                      "decision", decision});
}

void update_depth(service_broker_pointer self, const std::string& peer) {
  if (self->state.metrics)
    self->state.metrics->outbox_depth(peer).Set(
      static_cast<double>(self->state.peers[peer].depth));
}

void remove_acked(service_broker_pointer self);

/// Forgets what is in flight to `peer`; it will all be sent again (from the outbox, which must then
/// no longer hold what was acknowledged).
void reset_peer(service_broker_pointer self, const std::string& peer) {
  remove_acked(self);
  auto& p = self->state.peers[peer];
  ++p.epoch;
  p.inflight.clear();
  p.inflight_count = 0;
  p.cursor.clear();
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
    p.cursor = keys.back();
    p.inflight_count += keys.size();
    auto epoch = p.epoch;
    self->request(st.cm, st.cfg.request_timeout, send_atom::value, peer, std::move(envelopes))
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
}

/// Hands an envelope to the local actor that processes its topic; forgets it once that actor
/// answered. Without an answer it stays in pending_local and is handed over again at the next start.
void hand_over(service_broker_pointer self, const local_subscriber_actor& sub, std::string key,
               const std::string& topic, const std::string& origin, const std::string& payload) {
  self->request(sub, std::chrono::seconds{60}, deliver_atom::value, topic, origin, payload)
    .then(
      [=](bool) {
        auto& st = self->state;
        auto txn = st.store.env->begin_write();
        if (!txn)
          return log::error(component, "cannot open the store: " + txn.err().message);
        if (auto r = txn->del(st.store.pending_local, key); !r)
          return log::error(component, "cannot forget a delivered envelope: " + r.err().message);
        if (auto r = txn->commit(); !r)
          log::error(component, "cannot forget a delivered envelope: " + r.err().message);
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

/// What storing one batch did inside the transaction, acted upon once it has committed.
struct staged_batch {
  struct decision {
    std::string id, topic, origin, what;
  };
  std::vector<const admitted_envelope*> local;
  std::vector<decision> decisions;
  std::map<std::string, int64_t> enqueued;
  uint64_t delivered = 0;
  uint64_t duplicates = 0;
};

/// Writes one batch inside `txn`: duplicates dropped, local envelopes into the inbox, the rest into
/// the outboxes of their next hops.
result<void> stage_batch(service_broker_pointer self, lmdb::write_txn& txn,
                         const std::vector<admitted_envelope>& batch, const std::string& from,
                         neighbour_kind kind, staged_batch& out) {
  auto& st = self->state;
  auto known_child = [&](const std::string& fqdn) {
    auto v = txn.get(st.store.children, fqdn);
    return v && v->has_value();
  };
  for (const auto& env : batch) {
    auto hex = id_hex(env.id);
    auto fresh = txn.put_if_absent(st.store.seen, time_ordered_id(env.created_at_us, env.id), {});
    if (!fresh)
      return fresh.err();
    if (!*fresh) {
      ++out.duplicates;
      out.decisions.push_back({hex, env.topic, env.origin, "duplicate"});
      continue;
    }
    auto plan = plan_route(env.recipients, st.trust->self(), st.parent,
                           kind == neighbour_kind::parent, known_child);
    if (plan.local) {
      nlohmann::json record{{"id", hex},
                            {"topic", env.topic},
                            {"origin", env.origin},
                            {"ct_id", env.ct_id},
                            {"created_at_us", env.created_at_us},
                            {"delivered_at_us", now_us()},
                            {"payload_size", env.payload.size()}};
      if (env.payload.size() <= 64 * 1024)
        record["payload_hex"] = crypto::hex(crypto::to_bytes(env.payload));
      if (auto r = txn.put(st.store.inbox, inbox_key(env.topic, env.created_at_us, env.id),
                           record.dump());
          !r)
        return r.err();
      ++out.delivered;
      out.local.push_back(&env);
      // An actor of this node processes it: keep it until that actor says it has.
      for (const auto& [prefix, sub] : st.subscribers)
        if (env.topic.rfind(prefix, 0) == 0) {
          v1::LocalDelivery d;
          d.set_topic(env.topic);
          d.set_origin(env.origin);
          d.set_payload(env.payload);
          if (auto r = txn.put(st.store.pending_local, time_ordered_id(env.created_at_us, env.id),
                               proto::serialize(d));
              !r)
            return r.err();
          break;
        }
    }
    for (const auto& hop : plan.next_hops) {
      if (hop == from)
        continue;
      if (auto r = txn.put(st.store.outbox, outbox_key(hop, ++st.next_seq), env.bytes); !r)
        return r.err();
      ++out.enqueued[hop];
    }
    std::string what = plan.local ? "delivered" : "forwarded";
    for (const auto& r : plan.unroutable) {
      what += " unroutable:" + r;
      log::warning(component, "no route to " + r + " for envelope " + hex);
    }
    out.decisions.push_back({hex, env.topic, env.origin, what});
  }
  return ok();
}

/// After the commit: local subscribers, audit, metrics, and the next frames to the next hops.
void after_commit(service_broker_pointer self, const std::vector<admitted_envelope>& batch,
                  const std::string& from, neighbour_kind kind, const staged_batch& done) {
  auto& st = self->state;
  st.delivered += done.delivered;
  for (const auto* env : done.local)
    for (const auto& [prefix, sub] : st.subscribers)
      if (env->topic.rfind(prefix, 0) == 0) {
        hand_over(self, sub, time_ordered_id(env->created_at_us, env->id), env->topic, env->origin,
                  env->payload);
        break;
      }
  for (const auto& d : done.decisions)
    audit_envelope(self, d.id, d.topic, d.origin, from, d.what);
  if (st.metrics) {
    st.metrics->routed(kind == neighbour_kind::self ? "local" : "in").Increment(
      static_cast<double>(batch.size() - done.duplicates));
    st.metrics->duplicate().Increment(static_cast<double>(done.duplicates));
    if (done.delivered > 0)
      st.metrics->delivered("all").Increment(static_cast<double>(done.delivered));
  }
  for (const auto& [hop, n] : done.enqueued) {
    st.peers[hop].depth += n;
    update_depth(self, hop);
  }
}

/// Deletes the outbox keys of acknowledged envelopes in a commit of their own. A crash before it
/// only makes those envelopes go out again; the receiver drops them as duplicates.
void remove_acked(service_broker_pointer self) {
  auto& st = self->state;
  if (st.acked_keys.empty())
    return;
  auto txn = st.store.env->begin_write();
  if (!txn) {
    log::error(component, "cannot open the outbox: " + txn.err().message);
    return;
  }
  for (const auto& key : st.acked_keys)
    if (auto r = txn->del(st.store.outbox, key); !r) {
      log::error(component, "cannot clear the outbox: " + r.err().message);
      return;
    }
  if (auto r = txn->commit(); !r) {
    log::error(component, "cannot clear the outbox: " + r.err().message);
    return;
  }
  st.acked_keys.clear();
}

/// Stores every pending batch in one durable commit, then tells each sender, then pumps; finally
/// removes what was acknowledged meanwhile. Nothing is acknowledged unless its batch committed.
void flush(service_broker_pointer self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  auto work = std::move(st.pending);
  st.pending.clear();
  st.pending_bytes = 0;
  if (!work.empty()) {
    std::vector<staged_batch> staged(work.size());
    auto stored = [&]() -> result<void> {
      auto txn = st.store.env->begin_write();
      if (!txn)
        return txn.err();
      for (size_t i = 0; i < work.size(); ++i)
        if (auto r = stage_batch(self, *txn, work[i].batch, work[i].from, work[i].kind, staged[i]); !r)
          return r;
      return txn->commit();
    }();
    if (!stored) {
      log::error(component, "cannot store " + std::to_string(work.size())
                              + " batch(es) of envelopes: " + stored.err().message);
      auto err = to_caf(stored.err());
      for (auto& w : work)
        w.done(err);
    } else {
      ++st.commits;
      st.committed_batches += work.size();
      std::set<std::string> hops;
      for (size_t i = 0; i < work.size(); ++i) {
        after_commit(self, work[i].batch, work[i].from, work[i].kind, staged[i]);
        work[i].done(caf::error{});
        for (const auto& [hop, n] : staged[i].enqueued)
          hops.insert(hop);
      }
      for (const auto& hop : hops)
        pump(self, hop);
    }
  }
  remove_acked(self);
}

/// Queues a batch for the next flush (made at once if the pending data is large).
void enqueue(service_broker_pointer self, service_broker_state::pending_batch item) {
  auto& st = self->state;
  for (const auto& env : item.batch)
    st.pending_bytes += env.bytes.size();
  st.pending.push_back(std::move(item));
  if (st.pending_bytes > 64 * 1024 * 1024) {
    flush(self);
    return;
  }
  if (!st.flush_scheduled) {
    st.flush_scheduled = true;
    self->send(self, flush_atom::value);
  }
}

/// Forgets ids of envelopes too old to be admitted again (older than max_age + max_skew): a resend of
/// one of them is refused as stale, so the duplicate filter need not remember it. Bounded per pass.
void prune_seen(service_broker_pointer self) {
  auto& st = self->state;
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
  auto txn = st.store.env->begin_write();
  if (!txn)
    return;
  for (const auto& id : old)
    if (!txn->del(st.store.seen, id))
      return;
  if (txn->commit())
    log::info(component, "forgot " + std::to_string(old.size()) + " ids of stale envelopes");
}

result<void> load_outbox(service_broker_state& st) {
  auto txn = st.store.env->begin_read();
  if (!txn)
    return txn.err();
  uint64_t max_seq = 0;
  auto res = txn->for_each(st.store.outbox, "", [&](std::string_view key, std::string_view) {
    auto zero = key.find('\0');
    if (zero != std::string_view::npos && key.size() == zero + 9) {
      ++st.peers[std::string{key.substr(0, zero)}].depth;
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
        auto env = admit_envelope(*st.trust, bytes, from, kind, now, st.cfg.limits);
        if (!env) {
          log::warning(component, "envelope from " + from + " refused: " + env.err().message,
                       {{"reason", to_string(env.err().code)}});
          if (st.metrics)
            st.metrics->rejected(to_string(env.err().code)).Increment();
          audit_envelope(self, "-", "-", "-", from,
                         "refused:" + std::string{to_string(env.err().code)} + " " + env.err().message);
          continue;
        }
        if (auto d = st.cfg.policy->may_route(*env); !d) {
          log::warning(component, "envelope from " + from + " refused: " + d.reason,
                       {{"reason", "forbidden"}, {"rule", d.rule}, {"origin", env->origin}});
          if (st.metrics) {
            st.metrics->rejected(errc::forbidden).Increment();
            st.metrics->policy_denials(d.rule).Increment();
          }
          audit_envelope(self, id_hex(env->id), env->topic, env->origin, from,
                         "refused:forbidden " + d.rule + ": " + d.reason);
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
                     }});
      return rp;
    },
    [=](link_up_atom, std::string& peer, bool is_parent) {
      reset_peer(self, peer);
      auto& p = self->state.peers[peer];
      p.up = true;
      p.is_parent = is_parent;
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
      // Removed from the outbox at the next flush (the pump reads on after the cursor meanwhile).
      auto n = i->second.keys.size();
      for (auto& key : i->second.keys)
        st.acked_keys.push_back(std::move(key));
      if (!st.flush_scheduled) {
        st.flush_scheduled = true;
        self->send(self, flush_atom::value);
      }
      p.depth -= static_cast<int64_t>(n);
      p.inflight_count -= n;
      p.inflight.erase(i);
      if (st.metrics)
        st.metrics->routed("out").Increment(static_cast<double>(n));
      update_depth(self, peer);
      pump(self, peer);
    },
    [=](publish_atom, std::string& topic, std::vector<std::string>& recipients, std::string& ct_id,
        std::string& payload, uint32_t count) -> caf::result<std::vector<std::string>> {
      auto& st = self->state;
      if (count == 0 || count > 10000)
        return make_error(errc::malformed_input, "count must be between 1 and 10000");
      std::vector<admitted_envelope> batch;
      std::vector<std::string> ids;
      auto now = clock::now();
      for (uint32_t i = 0; i < count; ++i) {
        auto env = make_envelope(*st.trust, *st.signer, topic, recipients, ct_id, payload, now,
                                 st.cfg.limits);
        if (!env)
          return to_caf(env.err());
        if (i == 0)
          if (auto d = st.cfg.policy->may_route(*env); !d) {
            log::warning(component, "envelope refused at its origin: " + d.reason,
                         {{"reason", "forbidden"}, {"rule", d.rule}});
            if (st.metrics)
              st.metrics->policy_denials(d.rule).Increment();
            return make_error(errc::forbidden, d.reason);
          }
        ids.push_back(id_hex(env->id));
        batch.push_back(std::move(*env));
      }
      auto rp = self->make_response_promise<std::vector<std::string>>();
      enqueue(self, {std::move(batch), st.trust->self(), neighbour_kind::self,
                     [rp, ids = std::move(ids)](const caf::error& err) mutable {
                       if (err)
                         rp.deliver(err);
                       else
                         rp.deliver(std::move(ids));
                     }});
      return rp;
    },
    [=](flush_atom) { flush(self); },
    [=](tick_atom) {
      auto& st = self->state;
      auto now = std::chrono::steady_clock::now();
      for (auto& [peer, p] : st.peers) {
        if (!p.up || p.inflight_count == 0)
          continue;
        bool overdue = false;
        for (const auto& [seq, frame] : p.inflight)
          overdue = overdue || now - frame.sent > st.cfg.retry_after;
        if (!overdue)
          continue;
        log::notice(component, "resending " + std::to_string(p.inflight_count)
                                 + " unacknowledged envelopes to " + peer);
        if (st.metrics)
          st.metrics->retried().Increment(static_cast<double>(p.inflight_count));
        auto name = peer;
        reset_peer(self, name);
        pump(self, name);
      }
      if (++st.ticks % 600 == 0)
        prune_seen(self);
      self->delayed_send(self, tick_interval, tick_atom::value);
    },
    [=](status_atom) -> std::string {
      auto& st = self->state;
      nlohmann::json peers = nlohmann::json::object();
      for (const auto& [peer, p] : st.peers)
        peers[peer] = {{"up", p.up}, {"outbox", p.depth}, {"in_flight", p.inflight_count}};
      return nlohmann::json{{"peers", peers},
                            {"delivered", st.delivered},
                            {"commits", st.commits},
                            {"batches_per_commit",
                             st.commits == 0 ? 0.0
                                             : static_cast<double>(st.committed_batches)
                                                 / static_cast<double>(st.commits)}}
        .dump();
    },
  };
}

} // namespace joconde
