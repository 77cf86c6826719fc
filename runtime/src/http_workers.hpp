#pragma once

// The handler workers of http::server: a fixed set of threads running jobs from a bounded queue.
// Private to the runtime library.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace joconde::http::detail {

/// A fixed set of threads running jobs from a bounded queue.
class worker_pool {
public:
  /// A job; it returns what to run once its worker counts as free again (e.g. handing its result
  /// to another thread), or an empty function.
  using job = std::function<std::function<void()>()>;

  worker_pool() = default;

  /// Stops the pool (see stop()).
  ~worker_pool();

  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;

  /// Starts `threads` workers; at most `threads + max_queued` jobs run or wait at any time. Throws
  /// std::system_error if a thread cannot be started.
  void start(unsigned threads, size_t max_queued);

  /// Queues `job`; false (and the job is not run) if the pool is full or stopping.
  bool submit(job j);

  /// Drops the jobs that wait and waits for the running ones; idempotent. Not from a job.
  void stop();

private:
  void run();

  std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<job> queue_;
  std::vector<std::thread> threads_;
  size_t running_ = 0;
  size_t capacity_ = 0;
  bool stopping_ = false;
};

} // namespace joconde::http::detail
