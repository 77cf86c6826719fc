// joconde-bench-broker: signed envelopes per second from client-a to cp1 through the root, with the
// durable outbox at every hop, and the latency at half that rate (or at the rate given as the second
// argument). Prints `figure: value unit` lines. Usage: joconde-bench-broker [TOTAL [RATE]]
// A benchmark, not a test: it asserts nothing about time.

#include "support/cluster.hpp"

#include <algorithm>
#include <iostream>
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
  // -- latency at half that rate: small batches every 2 ms, created-at to delivered-at at cp1 --
  constexpr auto tick = 2ms;
  // The rate may be given as the second argument (envelopes/s), else half the measured throughput.
  // Every 2 ms tick sends the envelopes that the exact rate has made due since the start.
  double target = argc > 2 ? std::clamp(std::atof(argv[2]), 50.0, 50000.0) : rate / 2;
  int lat_total = std::min(total / 2, static_cast<int>(target * 5)); // about 5 s of traffic
  auto lat_start = steady::now();
  auto next = lat_start;
  for (int sent = 0; sent < lat_total;) {
    // Envelopes due by now at the exact rate (a slow publish is caught up at the next tick).
    auto due = static_cast<int>(target * std::chrono::duration<double>(steady::now() - lat_start).count());
    auto n = std::min(due, lat_total) - sent;
    if (n > 0) {
      if (!publish(c, "bench.lat", n))
        return 1;
      sent += n;
    }
    next += tick;
    std::this_thread::sleep_until(next);
  }
  auto lat_secs = std::chrono::duration<double>(steady::now() - lat_start).count();
  test::cluster::wait_until([&] { return inbox_count(c, "bench.lat") >= size_t(lat_total); }, 120s);
  auto [status, doc] = c.call("cp1", "GET", "/v1/inbox?topic=bench.lat");
  std::vector<double> ms;
  for (const auto& e : doc["entries"])
    ms.push_back((e["delivered_at_us"].get<double>() - e["created_at_us"].get<double>()) / 1000.0);
  std::cout << "figure: broker_latency_rate " << static_cast<long>(lat_total / lat_secs)
            << " envelopes/s\n";
  std::cout << "figure: broker_latency_p50_ms " << percentile(ms, 0.50) << " ms\n";
  std::cout << "figure: broker_latency_p99_ms " << percentile(ms, 0.99) << " ms\n";
  std::cout << "figure: broker_latency_samples " << ms.size() << " envelopes\n";
  return 0;
}
