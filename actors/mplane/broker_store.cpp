#include "broker_store.hpp"

#include "joconde/envelope.pb.h"
#include "joconde/messages/proto.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace joconde {

namespace {

/// Appends `v` big-endian to `key`.
void append_be64(std::string& key, uint64_t v) {
  for (int i = 7; i >= 0; --i)
    key.push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}

/// The big-endian number in the first 8 bytes of `bytes`.
uint64_t read_be64(std::string_view bytes) {
  uint64_t v = 0;
  for (auto c : bytes.substr(0, 8))
    v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

const lmdb::database& db_of(const node_store& store, store_change::database db) {
  switch (db) {
    case store_change::database::seen:
      return store.seen;
    case store_change::database::inbox:
      return store.inbox;
    case store_change::database::pending_local:
      return store.pending_local;
    case store_change::database::outbox:
      break;
  }
  return store.outbox;
}

} // namespace

// -- keys -------------------------------------------------------------------------------------------

std::string outbox_prefix(const std::string& peer) {
  std::string key = peer;
  key.push_back('\0');
  return key;
}

std::string outbox_key(const std::string& peer, uint64_t seq) {
  auto key = outbox_prefix(peer);
  append_be64(key, seq);
  return key;
}

uint64_t seq_of_key(std::string_view key) {
  return read_be64(key.substr(key.size() - 8));
}

std::string time_ordered_id(int64_t created_at_us, const std::string& id) {
  std::string key;
  key.reserve(8 + id.size());
  append_be64(key, static_cast<uint64_t>(std::max<int64_t>(0, created_at_us)));
  return key + id;
}

std::string time_ordered_id(const admitted_envelope& env) {
  return time_ordered_id(env.created_at_us, env.id);
}

int64_t time_of_key(std::string_view key) {
  return static_cast<int64_t>(read_be64(key));
}

std::string inbox_key(const std::string& topic, int64_t created_at_us, const std::string& id) {
  std::string key = topic;
  key.push_back('\0');
  return key + time_ordered_id(created_at_us, id);
}

// -- changes ----------------------------------------------------------------------------------------

void add_put(commit_writes& w, store_change::database db, std::string key, std::string value) {
  w.changes.push_back({db, false, std::move(key), std::move(value)});
}

void add_erase(commit_writes& w, store_change::database db, std::string key) {
  w.changes.push_back({db, true, std::move(key), {}});
}

void add_inbox_record(commit_writes& w, const admitted_envelope& env, int64_t now_us) {
  nlohmann::json record{{"id", id_hex(env.id)},
                        {"topic", env.topic},
                        {"origin", env.origin},
                        {"ct_id", env.ct_id},
                        {"created_at_us", env.created_at_us},
                        {"delivered_at_us", now_us},
                        {"payload_size", env.payload.size()}};
  if (env.payload.size() <= 64 * 1024)
    record["payload_hex"] = crypto::hex(crypto::to_bytes(env.payload));
  add_put(w, store_change::database::inbox, inbox_key(env.topic, env.created_at_us, env.id),
          record.dump());
}

void add_pending_delivery(commit_writes& w, const admitted_envelope& env) {
  v1::LocalDelivery d;
  d.set_topic(env.topic);
  d.set_origin(env.origin);
  d.set_payload(env.payload);
  add_put(w, store_change::database::pending_local, time_ordered_id(env), proto::serialize(d));
}

// -- the store --------------------------------------------------------------------------------------

result<bool> broker_store::snapshot::seen(std::string_view id) const {
  auto v = txn_.get(store_->seen, id);
  if (!v)
    return v.err();
  return v->has_value();
}

bool broker_store::snapshot::is_child(const std::string& fqdn) const {
  auto v = txn_.get(store_->children, fqdn);
  return v && v->has_value();
}

result<broker_store::snapshot> broker_store::read() const {
  auto txn = store_.env->begin_read();
  if (!txn)
    return txn.err();
  return snapshot{store_, std::move(*txn)};
}

result<broker_store::outbox_summary> broker_store::load_outbox() const {
  auto txn = store_.env->begin_read();
  if (!txn)
    return txn.err();
  outbox_summary out;
  auto res = txn->for_each(store_.outbox, "", [&](std::string_view key, std::string_view) {
    auto zero = key.find('\0');
    if (zero != std::string_view::npos && key.size() == zero + 9) {
      auto& p = out.peers[std::string{key.substr(0, zero)}];
      ++p.depth;
      p.tail = std::string{key}; // keys come in order
      out.max_seq = std::max(out.max_seq, seq_of_key(key));
    }
    return true;
  });
  if (!res)
    return res.err();
  return out;
}

result<broker_store::outbox_frame>
broker_store::next_frame(const std::string& peer, const std::string& after, size_t max_envelopes,
                         size_t max_bytes, const std::function<bool(const std::string&)>& skip) const {
  auto txn = store_.env->begin_read();
  if (!txn)
    return txn.err();
  outbox_frame out;
  size_t bytes = 0;
  auto res = txn->for_each_after(store_.outbox, outbox_prefix(peer), after,
                                 [&](std::string_view key, std::string_view value) {
                                   if (skip(std::string{key}))
                                     return true;
                                   if (!out.envelopes.empty() && bytes + value.size() > max_bytes)
                                     return false;
                                   out.keys.emplace_back(key);
                                   out.envelopes.emplace_back(value);
                                   bytes += value.size();
                                   return out.envelopes.size() < max_envelopes;
                                 });
  if (!res)
    return res.err();
  return out;
}

result<std::optional<envelope_header>>
broker_store::first_header(const std::string& peer, const std::function<bool(const std::string&)>& skip) const {
  auto txn = store_.env->begin_read();
  if (!txn)
    return txn.err();
  std::optional<envelope_header> out;
  result<void> parsed = ok();
  auto res = txn->for_each_after(store_.outbox, outbox_prefix(peer), "",
                                 [&](std::string_view key, std::string_view value) {
                                   if (skip(std::string{key}))
                                     return true;
                                   auto header = peek_header(value);
                                   if (!header)
                                     parsed = header.err();
                                   else
                                     out = std::move(*header);
                                   return false;
                                 });
  if (!res)
    return res.err();
  if (!parsed)
    return parsed.err();
  return out;
}

result<std::vector<std::string>> broker_store::topics(const std::vector<std::string>& keys) const {
  auto txn = store_.env->begin_read();
  if (!txn)
    return txn.err();
  std::vector<std::string> out;
  for (const auto& key : keys) {
    auto value = txn->get(store_.outbox, key);
    if (!value)
      return value.err();
    if (!*value)
      continue;
    auto header = peek_header(**value);
    if (!header)
      return header.err();
    out.push_back(std::move(header->topic));
  }
  return out;
}

result<std::string> broker_store::outbox_tail(const std::string& peer) const {
  auto txn = store_.env->begin_read();
  if (!txn)
    return txn.err();
  std::string tail;
  auto res = txn->for_each_after(store_.outbox, outbox_prefix(peer), "",
                                 [&](std::string_view key, std::string_view) {
                                   tail = std::string{key};
                                   return true;
                                 });
  if (!res)
    return res.err();
  return tail;
}

result<std::vector<broker_store::pending_delivery>>
broker_store::pending_deliveries(const std::string& prefix) const {
  auto txn = store_.env->begin_read();
  if (!txn)
    return txn.err();
  std::vector<pending_delivery> out;
  auto res = txn->for_each(store_.pending_local, "", [&](std::string_view key, std::string_view value) {
    auto d = proto::parse<v1::LocalDelivery>(value);
    if (d && d->topic().rfind(prefix, 0) == 0)
      out.push_back({std::string{key}, d->topic(), d->origin(), d->payload()});
    return true;
  });
  if (!res)
    return res.err();
  return out;
}

result<std::vector<std::string>> broker_store::stale_ids(int64_t horizon_us, size_t max) const {
  auto txn = store_.env->begin_read();
  if (!txn)
    return txn.err();
  std::vector<std::string> old;
  // Keys are in time order: the stale ones come first.
  auto res = txn->for_each(store_.seen, "", [&](std::string_view key, std::string_view) {
    if (old.size() >= max || key.size() < 8 || time_of_key(key) >= horizon_us)
      return false;
    old.emplace_back(key);
    return old.size() < max;
  });
  if (!res)
    return res.err();
  return old;
}

result<void> broker_store::commit(const commit_writes& w) const {
  auto txn = store_.env->begin_write();
  if (!txn)
    return txn.err();
  for (const auto& c : w.changes) {
    const auto& db = db_of(store_, c.db);
    if (c.erase) {
      if (auto r = txn->del(db, c.key); !r)
        return r.err();
    } else if (auto r = txn->put(db, c.key, c.value); !r) {
      return r.err();
    }
  }
  return txn->commit();
}

} // namespace joconde
