#pragma once

// The Service Broker's group commit (DESIGN.md §4): one durable commit at a time stores every batch
// admitted since the last one and the removals gathered meanwhile; what arrives while a commit is
// under way goes into the next. This class is the bookkeeping alone: which envelopes are pending,
// which outbox entries were acknowledged before or after they were written, what the next commit
// writes. No CAF and no threads: the broker decides when to commit and who writes.

#include "envelope_codec.hpp"

#include "joconde/messages/mplane_data.hpp"

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace joconde {

/// What admission decided for one envelope; the next commit stores it.
struct envelope_plan {
  bool duplicate = false;                 ///< stored or pending already: dropped
  bool local = false;                     ///< delivered here
  std::vector<std::pair<std::string, std::string>> outbox; ///< next hop, outbox key
  std::string decision;                   ///< for the audit log
};

/// Admitted envelopes waiting for the next commit, and whom to tell once they are durable.
struct pending_batch {
  std::vector<admitted_envelope> batch;
  std::string from;
  neighbour_kind kind = neighbour_kind::self;
  std::function<void(const result<void>&)> done; ///< called after the commit (or its failure)
  std::vector<envelope_plan> plans;       ///< one per envelope of the batch
};

/// One durable commit: the pending batches and the removals gathered since the last one.
struct commit_job {
  std::vector<pending_batch> work;                 ///< in arrival order
  std::vector<std::string> outbox_removals;        ///< acknowledged outbox entries
  std::vector<std::string> pending_local_removals; ///< envelopes local actors have processed
  std::vector<std::string> seen_removals;          ///< ids too old to come again
  std::set<std::string> skip;                      ///< outbox entries acknowledged already: not written
};

/// The changes that make `job` durable, in order: per envelope its duplicate-filter id, its inbox
/// record (and pending delivery when its topic starts with one of `subscriber_prefixes`), its
/// outbox entries but those in `job.skip`; then the removals. Envelope bytes are moved out of `job`
/// (nothing reads them after the commit).
commit_writes writes_of(commit_job& job, const std::vector<std::string>& subscriber_prefixes,
                        int64_t now_us);

/// The bookkeeping of the group commit.
class group_commit {
public:
  // -- admission --------------------------------------------------------------------------------

  /// Claims the duplicate-filter id of an envelope about to be pending; false if a pending one has it.
  bool claim(const std::string& id) {
    return pending_ids_.insert(id).second;
  }

  /// Notes a new outbox key of a pending envelope (written by the next commit).
  void reserve(const std::string& key) {
    uncommitted_.insert(key);
  }

  /// Undoes the claims and reservations of a batch whose planning failed.
  void abandon(const pending_batch& item);

  /// Queues a planned batch for the next commit.
  void add(pending_batch item);

  /// Envelope bytes of the pending batches.
  size_t pending_bytes() const noexcept {
    return pending_bytes_;
  }

  /// The batches queued for the next commit, in arrival order.
  const std::vector<pending_batch>& pending() const noexcept {
    return pending_;
  }

  // -- removals ---------------------------------------------------------------------------------

  /// An outbox entry its next hop acknowledged: never written if still pending, else removed by a
  /// later commit.
  void acknowledged(std::string key);

  /// True if `key` was acknowledged and waits for its removal (not to be sent again).
  bool acknowledged_unremoved(const std::string& key) const {
    return acked_unremoved_.count(key) > 0;
  }

  /// Acknowledged outbox entries waiting for their removal.
  size_t unremoved() const noexcept {
    return acked_unremoved_.size();
  }

  /// A pending delivery (time-ordered id) the local actor has processed: removed by a later commit.
  void processed(std::string key) {
    local_done_.push_back(std::move(key));
  }

  /// Duplicate-filter ids to forget with the next commit.
  void forget(std::vector<std::string> ids);

  /// True while ids to forget wait for a commit.
  bool forgetting() const noexcept {
    return !stale_seen_.empty();
  }

  /// True if removals wait for a commit.
  bool removals_waiting() const noexcept {
    return !acked_unremoved_.empty() || !local_done_.empty() || !stale_seen_.empty();
  }

  // -- commits ----------------------------------------------------------------------------------

  /// Starts a commit of everything waiting: the job it keeps until finish; nullptr if a commit is
  /// under way (the next is asked for when it ends: take_flush_again) or nothing waits.
  commit_job* start();

  /// True while a commit is under way.
  bool committing() const noexcept {
    return job_.has_value();
  }

  /// Ends the commit under way (call it only then) and hands its job back: forgets what was pending; the entries
  /// acknowledged while it was written wait for removal if `stored`; else its removals wait for the
  /// next commit.
  commit_job finish(bool stored);

  /// True once if a commit was asked for while one was under way.
  bool take_flush_again() {
    return std::exchange(flush_again_, false);
  }

private:
  std::vector<pending_batch> pending_;   ///< stored by the next commit, in arrival order
  size_t pending_bytes_ = 0;
  std::set<std::string> pending_ids_;    ///< duplicate-filter keys of pending envelopes
  std::set<std::string> uncommitted_;    ///< outbox keys of pending envelopes
  std::set<std::string> acked_early_;    ///< of those, acknowledged already: never written
  std::set<std::string> acked_unremoved_; ///< acknowledged outbox entries to remove
  std::vector<std::string> local_done_;  ///< pending_local entries to remove
  std::vector<std::string> stale_seen_;  ///< duplicate-filter ids to forget
  std::optional<commit_job> job_;        ///< the commit under way
  bool flush_again_ = false;
};

} // namespace joconde
