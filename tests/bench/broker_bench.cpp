// joconde-bench-broker: signed envelopes per second from client-a to cp1 through the root, with the
// durable outbox at every hop, then the latency (created at client-a -> written to cp1's inbox) at
// 2,500 envelopes/s (half the 5,000/s target), at half the throughput measured and at 500/s with one
// envelope per API call (each signed on its own), or only at the rate given as the second argument.
// Prints `figure: value unit` lines.
// Usage: joconde-bench-broker [TOTAL [RATE]]
// A benchmark, not a test: it asserts nothing about time.

#include "support/cluster.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <mutex>
#include <thread>

using namespace joconde;
using namespace std::chrono_literals;
using nlohmann::json;
using steady = std::chrono::steady_clock;

namespace {

size_t inbox_count(const test::cluster& c, const std::string& topic) {
  auto [status, doc] = c.call("cp1", "GET", "/v1/inbox?count_only=1&topic=" + topic);
  return status == 200 ? doc["count"].get<size_t>() : 0;
}

bool publish(const test::cluster& c, const std::string& topic, int n) {
  auto [status, doc] = c.call("client-a", "POST", "/v1/envelopes",
                              json{{"topic", topic}, {"recipients", {"cp1"}},
                                   {"payload", std::string(200, 'p')}, {"count", n}});
  if (status != 202)
    std::cerr << "publish failed: " << doc.dump() << "\n";
  return status == 202;
}

double percentile(std::vector<double> xs, double p) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto idx = static_cast<size_t>(p * static_cast<double>(xs.size() - 1));
  return xs[idx];
}

/// Publishes about 5 s of traffic (at most total / 2 envelopes) at `rate` envelopes/s in batches
/// every 2 ms and prints the latency figures, named `name`_...
bool latency(const test::cluster& c, const std::string& topic, double rate, int total,
             const std::string& name, int max_per_call = 10000) {
  constexpr auto tick = 2ms;
  int count = std::min(total / 2, static_cast<int>(rate * 5));
  // Four publishers, like four clients of the node: a publish is answered once the envelopes are
  // durable at client-a, and the next tick's batch need not wait for that.
  std::mutex m;
  std::condition_variable cv;
  std::deque<int> batches;
  bool done = false;
  std::atomic<bool> failed{false};
  std::vector<std::thread> publishers;
  for (int i = 0; i < 4; ++i)
    publishers.emplace_back([&] {
      for (;;) {
        std::unique_lock lock{m};
        cv.wait(lock, [&] { return done || !batches.empty(); });
        if (batches.empty())
          return;
        auto n = batches.front();
        batches.pop_front();
        lock.unlock();
        if (!publish(c, topic, n))
          failed = true;
      }
    });
  auto start = steady::now();
  auto next = start;
  for (int sent = 0; sent < count && !failed;) {
    // Envelopes due by now at the exact rate.
    auto due = static_cast<int>(rate * std::chrono::duration<double>(steady::now() - start).count());
    auto n = std::min(due, count) - sent;
    if (n > 0) {
      std::lock_guard lock{m};
      for (int left = n; left > 0; left -= max_per_call)
        batches.push_back(std::min(left, max_per_call));
      cv.notify_all();
      sent += n;
    }
    next += tick;
    std::this_thread::sleep_until(next);
  }
  {
    std::lock_guard lock{m};
    done = true;
  }
  cv.notify_all();
  for (auto& t : publishers)
    t.join();
  if (failed)
    return false;
  auto secs = std::chrono::duration<double>(steady::now() - start).count();
  test::cluster::wait_until([&] { return inbox_count(c, topic) >= size_t(count); }, 120s);
  auto [status, doc] = c.call("cp1", "GET", "/v1/inbox?topic=" + topic);
  std::vector<double> ms;
  for (const auto& e : doc["entries"])
    ms.push_back((e["delivered_at_us"].get<double>() - e["created_at_us"].get<double>()) / 1000.0);
  std::cout << "figure: " << name << "_rate " << static_cast<long>(count / secs) << " envelopes/s\n";
  for (auto [label, p] : {std::pair{"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}, {"p999", 0.999},
                          {"max", 1.0}})
    std::cout << "figure: " << name << "_" << label << "_ms " << percentile(ms, p) << " ms\n";
  std::cout << "figure: " << name << "_samples " << ms.size() << " envelopes\n";
  return true;
}

} // namespace

int main(int argc, char** argv) {
  int total = argc > 1 ? std::atoi(argv[1]) : 20000;
  total = std::clamp(total, 1000, 200000);
  test::cluster c{"bench-broker"};
  // -- throughput: publish in batches as fast as the origin takes them, until cp1 has them all --
  constexpr int batch = 500;
  auto start = steady::now();
  for (int sent = 0; sent < total; sent += batch)
    if (!publish(c, "bench.tput", std::min(batch, total - sent)))
      return 1;
  bool all = test::cluster::wait_until([&] { return inbox_count(c, "bench.tput") >= size_t(total); }, 300s);
  auto secs = std::chrono::duration<double>(steady::now() - start).count();
  if (!all) {
    std::cerr << "only " << inbox_count(c, "bench.tput") << " of " << total << " arrived\n";
    return 1;
  }
  double rate = total / secs;
  std::cout << "figure: broker_envelopes_per_s " << static_cast<long>(rate) << " envelopes/s\n";
  // -- latency: small batches every 2 ms at a fixed rate, created-at to delivered-at at cp1 --
  // At half the target throughput (the figure: 5,000/s, so 2,500/s) unless a rate is given,
  // then at half the throughput just measured.
  double target = argc > 2 ? std::clamp(std::atof(argv[2]), 50.0, 50000.0) : 2500.0;
  if (!latency(c, "bench.lat", target, total, "broker_latency"))
    return 1;
  if (argc <= 2 && !latency(c, "bench.lat2", rate / 2, total, "broker_latency_half_measured"))
    return 1;
  // One envelope per API call, so each is signed on its own (no batch signature), at 500/s.
  if (argc <= 2 && !latency(c, "bench.lat1", 500, total, "broker_latency_one_per_call", 1))
    return 1;
  return 0;
}
