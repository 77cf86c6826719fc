#pragma once

// The Service Broker's records in the node store (DESIGN.md §10): the outbox per neighbour, the
// duplicate filter, the local inbox and the deliveries a local actor has not confirmed yet. How
// their keys and values are made, what the broker reads back, and the one write transaction that
// makes a commit durable. No CAF: the broker actor and its writer call it, tests use it alone.

#include "envelope_codec.hpp"
#include "node_store.hpp"

#include "joconde/messages/mplane_data.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace joconde {

// -- keys -------------------------------------------------------------------------------------------

/// The prefix of every outbox key of `peer`: its FQDN and a zero byte.
std::string outbox_prefix(const std::string& peer);

/// The outbox key of the envelope with sequence `seq` for `peer` (big-endian, so keys sort by seq).
std::string outbox_key(const std::string& peer, uint64_t seq);

/// The sequence at the end of an outbox key.
uint64_t seq_of_key(std::string_view key);

/// Big-endian creation time (µs) then the id: an envelope's identity, in time order, so that new
/// keys land at the end of their database (few pages written per commit) and old ones are at the
/// start (cheap to forget). Both fields are signed by the origin.
std::string time_ordered_id(int64_t created_at_us, const std::string& id);

/// time_ordered_id of an admitted envelope.
std::string time_ordered_id(const admitted_envelope& env);

/// The creation time at the start of a time-ordered id.
int64_t time_of_key(std::string_view key);

/// The inbox key of an envelope: its topic, a zero byte, then its time-ordered id.
std::string inbox_key(const std::string& topic, int64_t created_at_us, const std::string& id);

// -- changes ----------------------------------------------------------------------------------------

/// Adds the change storing `env` as delivered here at `now_us` to the local inbox (a JSON record
/// the local application reads; the payload in hex up to 64 KiB).
void add_inbox_record(commit_writes& w, const admitted_envelope& env, int64_t now_us);

/// Adds the change keeping `env` until the local actor that processes its topic confirms it.
void add_pending_delivery(commit_writes& w, const admitted_envelope& env);

/// Adds a change to `w`: `value` under `key` in `db`.
void add_put(commit_writes& w, store_change::database db, std::string key, std::string value = {});

/// Adds a change to `w`: `key` removed from `db`.
void add_erase(commit_writes& w, store_change::database db, std::string key);

// -- the store --------------------------------------------------------------------------------------

/// The broker's view of the node store: reads for routing and start-up, one transaction per commit.
class broker_store {
public:
  /// What the outbox holds for one neighbour.
  struct outbox_peer {
    int64_t depth = 0;   ///< envelopes waiting
    std::string tail;    ///< the last key
  };

  /// What the outbox holds at start-up.
  struct outbox_summary {
    std::map<std::string, outbox_peer> peers;
    uint64_t max_seq = 0;  ///< the largest sequence of any key
  };

  /// Outbox entries to send in one frame, in key order.
  struct outbox_frame {
    std::vector<std::string> keys;
    std::vector<std::string> envelopes;
  };

  /// A delivery to a local actor that was not confirmed.
  struct pending_delivery {
    std::string key;  ///< its time-ordered id
    std::string topic;
    std::string origin;
    std::string payload;
  };

  /// A read snapshot for deciding where envelopes go.
  class snapshot {
  public:
    /// Takes a read transaction of `store`.
    snapshot(const node_store& store, lmdb::read_txn txn) : store_(&store), txn_(std::move(txn)) {
      // nop
    }

    /// True if the duplicate filter holds the time-ordered id `id`.
    result<bool> seen(std::string_view id) const;

    /// True if `fqdn` is an enrolled child of this node.
    bool is_child(const std::string& fqdn) const;

  private:
    const node_store* store_;
    lmdb::read_txn txn_;
  };

  /// No store yet (the broker's state before its behaviour starts).
  broker_store() = default;

  /// Uses the databases of `store`.
  explicit broker_store(node_store store) : store_(std::move(store)) {
    // nop
  }

  /// The databases it uses.
  const node_store& store() const noexcept {
    return store_;
  }

  /// A snapshot for routing decisions.
  result<snapshot> read() const;

  /// Depth and last key per neighbour, and the largest sequence, of the whole outbox.
  result<outbox_summary> load_outbox() const;

  /// The entries for `peer` after key `after` (from the start when empty), skipping those `skip`
  /// says are gone already: at most `max_envelopes`, and no more than `max_bytes` unless the first
  /// alone is larger.
  result<outbox_frame> next_frame(const std::string& peer, const std::string& after,
                                  size_t max_envelopes, size_t max_bytes,
                                  const std::function<bool(const std::string&)>& skip) const;

  /// The last outbox key of `peer`; empty when it has none.
  result<std::string> outbox_tail(const std::string& peer) const;

  /// The header of the first entry for `peer` that `skip` does not say is gone; none when it has
  /// none.
  result<std::optional<envelope_header>> first_header(const std::string& peer,
                                                      const std::function<bool(const std::string&)>& skip) const;

  /// The topics of the outbox entries `keys` (those not written yet are left out).
  result<std::vector<std::string>> topics(const std::vector<std::string>& keys) const;

  /// The unconfirmed deliveries whose topic starts with `prefix`, in key order.
  result<std::vector<pending_delivery>> pending_deliveries(const std::string& prefix) const;

  /// Ids of the duplicate filter created before `horizon_us`, oldest first, at most `max`.
  result<std::vector<std::string>> stale_ids(int64_t horizon_us, size_t max) const;

  /// Makes `w` durable in one write transaction, on whichever thread calls it; nothing of it on error.
  result<void> commit(const commit_writes& w) const;

private:
  node_store store_;
};

} // namespace joconde
