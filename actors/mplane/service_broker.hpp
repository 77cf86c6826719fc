#pragma once

// The Service Broker (DESIGN.md §4): routes signed envelopes up to the root and down only to the
// named recipients, keeps a durable outbox per neighbour in LMDB so nothing is lost while a
// neighbour is down or this node restarts, drops duplicates by id, delivers to the local inbox exactly
// once, and writes every envelope it sees to the audit log.

#include "joconde/messages/mplane.hpp"

#include "access_policy.hpp"
#include "broker_store.hpp"
#include "envelope_codec.hpp"
#include "group_commit.hpp"
#include "joconde/runtime/log.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <map>
#include <memory>

namespace joconde::metrics {
class registry;
}

namespace joconde {

/// The broker's writer (a detached actor it spawns when commits are asynchronous): makes one
/// commit durable; reply: true, or the storage error.
using broker_writer_actor = caf::typed_actor<caf::replies_to<flush_atom, commit_writes>::with<bool>>;

/// What the broker is configured with.
struct service_broker_config {
  uint32_t window = 4096;             ///< envelopes in flight per neighbour
  uint32_t frame_envelopes = 256;     ///< envelopes per frame
  size_t frame_bytes = 4 * 1024 * 1024 + 128 * 1024; ///< bytes per frame (one envelope may exceed)
  /// Unacknowledged frames are sent again after this; the wait doubles after each resend that
  /// goes unacknowledged (a neighbour that cannot store them, say its disk is full), up to
  /// retry_max, and is back to retry_after at the neighbour's next acknowledgement.
  std::chrono::milliseconds retry_after{5000};
  std::chrono::milliseconds retry_max{300000};
  std::chrono::milliseconds request_timeout{5000};
  /// How long envelopes published here or passing through may wait for the commit that makes them
  /// durable here; they are forwarded at once, and acknowledged to their sender (or publisher) after
  /// that commit. Envelopes delivered here are committed at once. 0: always at once.
  std::chrono::milliseconds commit_delay{0};
  /// Commits are made by a writer thread while the broker goes on admitting and forwarding (the
  /// node); false: by the broker itself (deterministic tests).
  bool async_commit = false;
  envelope_limits limits;
  /// The node's access policy (routing rules); the broker makes one of its own if none is given.
  std::shared_ptr<const access_policy> policy;
};

/// State of the service broker.
struct service_broker_state {
  static inline const char* name = "service_broker";

  /// One frame sent and not yet acknowledged.
  struct inflight_frame {
    std::vector<std::string> keys;    ///< outbox keys
    std::chrono::steady_clock::time_point sent;
  };

  /// A neighbour as the broker sees it.
  struct peer_state {
    bool up = false;
    bool is_parent = false;
    uint64_t epoch = 0;               ///< bumped at every link change; stale replies are ignored
    std::string cursor;               ///< last outbox key handed to the link
    std::string tail;                 ///< last outbox key written (or being written) for this peer
    size_t inflight_count = 0;
    std::map<uint64_t, inflight_frame> inflight; ///< by frame sequence
    int64_t depth = 0;                ///< envelopes for it not yet acknowledged (outbox or pending)
    std::chrono::milliseconds resend_after{0}; ///< the wait before the next resend (0: retry_after)
    bool waiting = false;             ///< depth > 0
    std::chrono::steady_clock::time_point moved{}; ///< last acknowledgement, or when waiting began
  };

  service_broker_config cfg;
  std::shared_ptr<trust_view> trust;
  std::shared_ptr<const node_signer> signer;
  batch_signature_cache checked_batches;  ///< batch signatures verified here already
  broker_store store;                 ///< outbox, duplicate filter, inbox
  connection_manager_actor cm;
  audit_log_actor audit;
  metrics::registry* metrics = nullptr;
  /// Envelopes refused from a neighbour logged and audited one by one (the rest in a summary).
  log::rate_limiter refusals;
  std::string parent;                 ///< parent FQDN, empty at the root
  uint64_t next_seq = 0;              ///< outbox key sequence
  std::map<std::string, peer_state> peers;
  std::map<std::string, local_subscriber_actor> subscribers; ///< by topic prefix
  uint64_t delivered = 0;
  uint64_t ticks = 0;

  // Group commit: one durable commit at a time stores every batch admitted since the last one (and
  // the removals gathered meanwhile); it is asked for by a flush message this actor sends itself (it
  // queues behind everything already there) or, when nothing is delivered here, by a timer of
  // cfg.commit_delay. What arrives while a commit is under way goes into the next.
  group_commit commit;                      ///< what the next commits store
  broker_writer_actor writer;               ///< makes the commits when async_commit
  bool flush_scheduled = false;             ///< a flush message is on its way
  bool flush_timer = false;                 ///< a delayed flush message is on its way
  /// After a commit failed, removals alone are committed again no sooner than this (the wait
  /// doubles from retry_after up to retry_max while commits fail; a successful one resets it).
  std::chrono::steady_clock::time_point removals_not_before;
  std::chrono::milliseconds commit_backoff{0};
  uint64_t commits = 0;                     ///< durable commits (for status)
  uint64_t committed_batches = 0;           ///< batches they carried
};

using service_broker_pointer = service_broker_actor::stateful_pointer<service_broker_state>;

/// The broker's behaviour; wire it to the connection manager with (connect_atom, cm).
service_broker_actor::behavior_type
service_broker(service_broker_pointer self, service_broker_config cfg,
               std::shared_ptr<trust_view> trust, std::shared_ptr<const node_signer> signer,
               node_store store, audit_log_actor audit, metrics::registry* metrics);

} // namespace joconde
