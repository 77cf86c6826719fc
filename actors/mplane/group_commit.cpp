#include "group_commit.hpp"

#include "broker_store.hpp"

namespace joconde {

namespace {

/// True if an actor of this node processes `topic`.
bool subscribed(const std::string& topic, const std::vector<std::string>& prefixes) {
  for (const auto& prefix : prefixes)
    if (topic.rfind(prefix, 0) == 0)
      return true;
  return false;
}

/// Adds the changes storing what was decided for one batch.
void add_batch(commit_writes& w, pending_batch& item, const std::set<std::string>& skip,
               const std::vector<std::string>& subscriber_prefixes, int64_t now_us) {
  using db = store_change::database;
  for (size_t i = 0; i < item.batch.size(); ++i) {
    auto& env = item.batch[i];
    const auto& plan = item.plans[i];
    if (plan.duplicate)
      continue;
    add_put(w, db::seen, time_ordered_id(env));
    if (plan.local) {
      add_inbox_record(w, env, now_us);
      // An actor of this node processes it: keep it until that actor says it has.
      if (subscribed(env.topic, subscriber_prefixes))
        add_pending_delivery(w, env);
    }
    for (size_t h = 0; h < plan.outbox.size(); ++h) {
      const auto& key = plan.outbox[h].second;
      if (skip.count(key) > 0)
        continue;
      bool last = h + 1 == plan.outbox.size();
      add_put(w, db::outbox, key, last ? std::move(env.bytes) : env.bytes);
    }
  }
}

} // namespace

commit_writes writes_of(commit_job& job, const std::vector<std::string>& subscriber_prefixes,
                        int64_t now_us) {
  using db = store_change::database;
  commit_writes w;
  for (auto& item : job.work)
    add_batch(w, item, job.skip, subscriber_prefixes, now_us);
  for (const auto& key : job.outbox_removals)
    add_erase(w, db::outbox, key);
  for (const auto& key : job.pending_local_removals)
    add_erase(w, db::pending_local, key);
  for (const auto& key : job.seen_removals)
    add_erase(w, db::seen, key);
  return w;
}

void group_commit::abandon(const pending_batch& item) {
  for (const auto& plan : item.plans)
    for (const auto& [hop, key] : plan.outbox)
      uncommitted_.erase(key);
  // Planning stopped at the first envelope without a decision; duplicates claimed nothing.
  for (size_t i = 0; i < item.plans.size(); ++i)
    if (!item.plans[i].duplicate && !item.plans[i].decision.empty())
      pending_ids_.erase(time_ordered_id(item.batch[i]));
}

void group_commit::add(pending_batch item) {
  for (const auto& env : item.batch)
    pending_bytes_ += env.bytes.size();
  pending_.push_back(std::move(item));
}

void group_commit::acknowledged(std::string key) {
  if (uncommitted_.count(key) > 0)
    acked_early_.insert(std::move(key));
  else
    acked_unremoved_.insert(std::move(key));
}

void group_commit::forget(std::vector<std::string> ids) {
  stale_seen_.insert(stale_seen_.end(), std::make_move_iterator(ids.begin()),
                     std::make_move_iterator(ids.end()));
}

commit_job* group_commit::start() {
  if (job_) {
    flush_again_ = true;
    return nullptr;
  }
  if (pending_.empty() && !removals_waiting())
    return nullptr;
  auto& job = job_.emplace();
  job.work = std::exchange(pending_, {});
  pending_bytes_ = 0;
  // Acknowledged entries stay skipped by the pump until the commit removed them.
  job.outbox_removals.assign(acked_unremoved_.begin(), acked_unremoved_.end());
  job.pending_local_removals = std::exchange(local_done_, {});
  job.seen_removals = std::exchange(stale_seen_, {});
  job.skip = acked_early_;
  return &job;
}

commit_job group_commit::finish(bool stored) {
  auto job = std::move(*job_);
  job_.reset();
  if (stored) {
    for (const auto& key : job.outbox_removals)
      acked_unremoved_.erase(key);
  } else {
    // The removals are tried again with the next commit.
    local_done_.insert(local_done_.end(), job.pending_local_removals.begin(),
                       job.pending_local_removals.end());
    stale_seen_.insert(stale_seen_.end(), job.seen_removals.begin(), job.seen_removals.end());
  }
  for (const auto& item : job.work)
    for (size_t i = 0; i < item.batch.size(); ++i) {
      const auto& plan = item.plans[i];
      if (!plan.duplicate)
        pending_ids_.erase(time_ordered_id(item.batch[i]));
      for (const auto& [hop, key] : plan.outbox) {
        uncommitted_.erase(key);
        // Acknowledged while the commit wrote it: remove it with a later one.
        if (acked_early_.erase(key) > 0 && stored && job.skip.count(key) == 0)
          acked_unremoved_.insert(key);
      }
    }
  return job;
}

} // namespace joconde
