// The handler workers of http::server (see http_workers.hpp).

#include "http_workers.hpp"

#include <utility>

namespace joconde::http::detail {

worker_pool::~worker_pool() {
  stop();
}

void worker_pool::start(unsigned threads, size_t max_queued) {
  capacity_ = threads + max_queued;
  for (unsigned i = 0; i < threads; ++i)
    threads_.emplace_back([this] { run(); });
}

bool worker_pool::submit(job j) {
  std::lock_guard guard{mtx_};
  if (stopping_ || queue_.size() + running_ >= capacity_)
    return false;
  queue_.push_back(std::move(j));
  cv_.notify_one();
  return true;
}

void worker_pool::stop() {
  std::deque<job> dropped;
  {
    std::lock_guard guard{mtx_};
    stopping_ = true;
    dropped.swap(queue_);
  }
  cv_.notify_all();
  for (auto& t : threads_)
    if (t.joinable())
      t.join();
}

void worker_pool::run() {
  std::unique_lock lock{mtx_};
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_)
      return;
    auto j = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    lock.unlock();
    std::function<void()> then;
    try {
      then = j();
    } catch (...) {
      // nop: a job answers its own errors; only out of memory lands here
    }
    j = nullptr;
    lock.lock();
    --running_;
    if (!then)
      continue;
    // The worker is free before the result leaves: whoever gets it may submit again at once.
    lock.unlock();
    try {
      then();
    } catch (...) {
      // nop: as above
    }
    then = nullptr;
    lock.lock();
  }
}

} // namespace joconde::http::detail
