#define BOOST_TEST_MODULE netlab_relay
#include <boost/test/unit_test.hpp>

// The pure logic of joconde-netlab-relay (ops/netlab-relay/relay_core.hpp) with made-up times: which
// packets are IPv4 and where they go, the token bucket, and a link's queue bound, delay and order.

#include "../../ops/netlab-relay/relay_core.hpp"

#include <cstdint>
#include <string>
#include <vector>

using namespace joconde::netlab;

namespace {

constexpr nanos ms = 1'000'000;

/// A minimal IPv4 header (no options) of `total` bytes from `source` to `destination`.
std::vector<std::uint8_t> ipv4_packet(std::uint32_t source, std::uint32_t destination,
                                      std::size_t total = 40) {
  std::vector<std::uint8_t> p(total, 0);
  p[0] = 0x45;
  p[2] = static_cast<std::uint8_t>(total >> 8);
  p[3] = static_cast<std::uint8_t>(total & 0xff);
  for (int i = 0; i < 4; ++i) {
    p[12 + i] = static_cast<std::uint8_t>(source >> (24 - 8 * i));
    p[16 + i] = static_cast<std::uint8_t>(destination >> (24 - 8 * i));
  }
  return p;
}

std::uint32_t addr(const char* text) {
  return parse_ipv4(text).value();
}

held_packet packet_of(std::size_t size, std::uint8_t tag) {
  return held_packet{std::vector<std::uint8_t>(size, tag), size, 0};
}

} // namespace

BOOST_AUTO_TEST_CASE(addresses_parse_strictly_and_the_lab_range_is_198_18_0_0_15) {
  BOOST_CHECK_EQUAL(addr("198.18.0.1"), 0xc6120001u);
  BOOST_CHECK_EQUAL(format_ipv4(0xc6120001u), "198.18.0.1");
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "01.2.3.4", "256.0.0.1", "1.2.3.4 ", " 1.2.3.4",
                          "1..3.4", "a.b.c.d", "1.2.3.-4"})
    BOOST_CHECK_MESSAGE(!parse_ipv4(bad), bad);
  BOOST_CHECK(in_lab_range(addr("198.18.0.0")));
  BOOST_CHECK(in_lab_range(addr("198.19.255.255")));
  BOOST_CHECK(!in_lab_range(addr("198.17.255.255")));
  BOOST_CHECK(!in_lab_range(addr("198.20.0.0")));
  BOOST_CHECK(!in_lab_range(addr("127.0.0.1")));
}

BOOST_AUTO_TEST_CASE(only_well_formed_ipv4_packets_are_routed_and_only_to_known_hosts) {
  auto p = ipv4_packet(addr("198.18.0.10"), addr("198.18.0.11"));
  auto h = parse_ipv4_header(p.data(), p.size());
  BOOST_REQUIRE(h);
  BOOST_CHECK_EQUAL(h->source, addr("198.18.0.10"));
  BOOST_CHECK_EQUAL(h->destination, addr("198.18.0.11"));

  auto v6 = p;
  v6[0] = 0x60;
  BOOST_CHECK(!parse_ipv4_header(v6.data(), v6.size()));
  BOOST_CHECK(!parse_ipv4_header(p.data(), 19)); // shorter than a header
  auto short_ihl = p;
  short_ihl[0] = 0x44;
  BOOST_CHECK(!parse_ipv4_header(short_ihl.data(), short_ihl.size()));
  auto long_ihl = p;
  long_ihl[0] = 0x4f; // 60-byte header in a 40-byte packet
  BOOST_CHECK(!parse_ipv4_header(long_ihl.data(), long_ihl.size()));
  auto truncated = ipv4_packet(addr("198.18.0.10"), addr("198.18.0.11"), 100);
  BOOST_CHECK(!parse_ipv4_header(truncated.data(), 60)); // total length says 100

  route_table routes;
  BOOST_CHECK(routes.add(addr("198.18.0.1"), 0));
  BOOST_CHECK(routes.add(addr("198.18.0.11"), 2));
  BOOST_CHECK(routes.add(addr("198.18.0.10"), 1));
  BOOST_CHECK(!routes.add(addr("198.18.0.10"), 3)); // taken
  BOOST_CHECK_EQUAL(routes.lookup(addr("198.18.0.10")).value(), 1u);
  BOOST_CHECK_EQUAL(routes.lookup(addr("198.18.0.11")).value(), 2u);
  BOOST_CHECK_EQUAL(routes.lookup(addr("198.18.0.1")).value(), 0u);
  BOOST_CHECK(!routes.lookup(addr("198.18.0.12")));
  BOOST_CHECK(!routes.lookup(addr("10.0.0.1")));
}

BOOST_AUTO_TEST_CASE(the_token_bucket_keeps_the_rate_with_bursts_and_debt) {
  // 1000 bytes per second, 1500 bytes of burst.
  token_bucket b{1000, 1500, 0};
  BOOST_CHECK(!b.unlimited());
  BOOST_CHECK(b.try_take(1500, 0));
  BOOST_CHECK(!b.try_take(1, 0));
  BOOST_CHECK_EQUAL(b.ready_at(1000, 0), 1000 * ms);
  BOOST_CHECK(!b.try_take(1000, 1000 * ms - 1));
  BOOST_CHECK(b.try_take(1000, 1000 * ms));
  // Never more than the burst, however long it waits.
  BOOST_CHECK_EQUAL(b.tokens(3'600'000 * ms), 1500);
  // A packet larger than the bucket leaves when it is full, and the bucket pays for all of it.
  nanos t = 3'600'000 * ms;
  BOOST_CHECK(b.try_take(5000, t));
  BOOST_CHECK_EQUAL(b.tokens(t), -3500);
  BOOST_CHECK_EQUAL(b.ready_at(1000, t), t + 4500 * ms);

  // Sent as fast as it allows, 100 kB take (100 kB - burst) / rate.
  token_bucket c{1000, 1500, 0};
  nanos now = 0;
  for (int i = 0; i < 100; ++i) {
    now = c.ready_at(1000, now);
    BOOST_REQUIRE(c.try_take(1000, now));
  }
  BOOST_CHECK_GE(now, (100 * 1000 - 1500) * ms);
  BOOST_CHECK_LE(now, (100 * 1000 - 1500) * ms + ms);

  token_bucket unlimited{0, 0, 0};
  BOOST_CHECK(unlimited.unlimited());
  BOOST_CHECK(unlimited.try_take(1'000'000'000, 0));
  BOOST_CHECK_EQUAL(unlimited.ready_at(1'000'000'000, 5), 5);
}

BOOST_AUTO_TEST_CASE(a_link_without_delay_or_limit_delivers_at_once) {
  pair_link link{link_params{}, 0};
  BOOST_CHECK(link.admit(1500, 0) == admission::deliver);
  link.delivered(1500);
  BOOST_CHECK_EQUAL(link.counters().packets, 1u);
  BOOST_CHECK_EQUAL(link.counters().bytes, 1500u);
  BOOST_CHECK(link.idle());
}

BOOST_AUTO_TEST_CASE(a_delayed_link_holds_every_packet_for_the_delay_in_order) {
  link_params p;
  p.delay = 30 * ms;
  pair_link link{p, 0};
  for (std::uint8_t i = 0; i < 3; ++i) {
    auto verdict = link.admit(100, i * ms);
    BOOST_REQUIRE(verdict == admission::wire);
    link.hold(packet_of(100, i), verdict, i * ms);
  }
  std::string out; // the tags of the delivered packets
  auto collect = [&out](held_packet&& held) { out += static_cast<char>('0' + held.bytes.front()); };
  BOOST_CHECK_EQUAL(link.service(30 * ms - 1, collect), 30 * ms);
  BOOST_CHECK(out.empty());
  BOOST_CHECK_EQUAL(link.service(31 * ms, collect), 32 * ms);
  BOOST_CHECK_EQUAL(out, "01");
  BOOST_CHECK_EQUAL(link.service(40 * ms, collect), never);
  BOOST_CHECK_EQUAL(out, "012");
  BOOST_CHECK(link.idle());
  BOOST_CHECK_EQUAL(link.counters().packets, 3u);
  BOOST_CHECK_EQUAL(link.counters().wire_high_water, 3u);
}

BOOST_AUTO_TEST_CASE(a_rate_limited_link_queues_a_bounded_number_of_packets_and_drops_the_rest) {
  link_params p;
  p.rate = 1000; // bytes per second
  p.burst = 1000;
  p.queue_limit = 3000; // three packets of 1000 bytes
  pair_link link{p, 0};
  // The first packet takes the whole bucket and leaves at once; three wait; the fifth is dropped.
  BOOST_CHECK(link.admit(1000, 0) == admission::deliver);
  link.delivered(1000);
  for (std::uint8_t i = 1; i <= 3; ++i) {
    auto verdict = link.admit(1000, 0);
    BOOST_REQUIRE(verdict == admission::queue);
    link.hold(packet_of(1000, i), verdict, 0);
  }
  BOOST_CHECK(link.admit(1000, 0) == admission::drop);
  BOOST_CHECK_EQUAL(link.counters().dropped_queue, 1u);
  BOOST_CHECK_EQUAL(link.counters().queue_high_water, 3u);
  BOOST_CHECK_EQUAL(link.counters().queue_high_water_bytes, 3000u);
  BOOST_CHECK_EQUAL(link.queued_bytes(), 3000u);
  // While packets wait, a newcomer queues behind them even if tokens came meanwhile.
  std::string out; // the tags of the delivered packets
  auto collect = [&out](held_packet&& held) { out += static_cast<char>('0' + held.bytes.front()); };
  BOOST_CHECK_EQUAL(link.service(500 * ms, collect), 1000 * ms);
  BOOST_CHECK(out.empty());
  BOOST_CHECK_EQUAL(link.service(1000 * ms, collect), 2000 * ms);
  BOOST_CHECK_EQUAL(out, "1");
  BOOST_CHECK_EQUAL(link.service(2000 * ms, collect), 3000 * ms);
  BOOST_CHECK_EQUAL(out, "12");
  BOOST_CHECK_EQUAL(link.service(3000 * ms, collect), never);
  BOOST_CHECK_EQUAL(out, "123");
  BOOST_CHECK_EQUAL(link.counters().packets, 4u);
  BOOST_CHECK_EQUAL(link.counters().bytes, 4000u);
  BOOST_CHECK_EQUAL(link.queued_bytes(), 0u);
  BOOST_CHECK(link.idle());
  // A packet larger than the whole queue still passes an empty queue.
  BOOST_CHECK(link.admit(1000, 3000 * ms) == admission::queue);
  link.hold(packet_of(1000, 4), admission::queue, 3000 * ms);
  BOOST_CHECK(link.admit(5000, 3000 * ms) == admission::drop);
  BOOST_CHECK_EQUAL(link.service(4000 * ms, collect), never);
  BOOST_CHECK(link.admit(5000, 4000 * ms) == admission::queue);
}

BOOST_AUTO_TEST_CASE(rate_and_delay_add_up) {
  link_params p;
  p.rate = 1000;
  p.burst = 1000;
  p.delay = 50 * ms;
  pair_link link{p, 0};
  auto first = link.admit(1000, 0);
  BOOST_REQUIRE(first == admission::wire);
  link.hold(packet_of(1000, 1), first, 0);
  auto second = link.admit(1000, 0);
  BOOST_REQUIRE(second == admission::queue);
  link.hold(packet_of(1000, 2), second, 0);
  std::string out; // the tags of the delivered packets
  auto collect = [&out](held_packet&& held) { out += static_cast<char>('0' + held.bytes.front()); };
  BOOST_CHECK_EQUAL(link.service(0, collect), 50 * ms);
  BOOST_CHECK_EQUAL(link.service(50 * ms, collect), 1000 * ms); // the second waits for its tokens
  BOOST_CHECK_EQUAL(out, "1");
  BOOST_CHECK_EQUAL(link.service(1000 * ms, collect), 1050 * ms); // then for the delay
  BOOST_CHECK_EQUAL(link.service(1050 * ms, collect), never);
  BOOST_CHECK_EQUAL(out, "12");
}

BOOST_AUTO_TEST_CASE(bursts_and_queues_scale_with_the_rate_but_hold_two_packets_at_least) {
  BOOST_CHECK_EQUAL(default_burst(125'000'000, 1500), 1'250'000u); // 1 Gbit/s: 10 ms
  BOOST_CHECK_EQUAL(default_burst(1000, 1500), 3000u);
  BOOST_CHECK_EQUAL(default_queue_limit(125'000'000, 100, 1500), 12'500'000u); // 100 ms
  BOOST_CHECK_EQUAL(default_queue_limit(1000, 100, 1500), 3000u);
}

BOOST_AUTO_TEST_CASE(an_offloaded_tcp_super_packet_costs_all_its_segments) {
  // 20 bytes of IP header, 32 of TCP header (doff 8), 14480 bytes of payload in segments of 1448.
  auto p = ipv4_packet(addr("198.18.0.10"), addr("198.18.0.11"), 20 + 32 + 14480);
  p[9] = 6;
  p[20 + 12] = 8 << 4;
  std::uint8_t vnet[vnet_header_size] = {};
  BOOST_CHECK_EQUAL(wire_size(nullptr, p.data(), p.size()), p.size());
  BOOST_CHECK_EQUAL(wire_size(vnet, p.data(), p.size()), p.size()); // not a super-packet
  vnet[1] = 1;                                                      // TCP over IPv4
  vnet[4] = 1448 & 0xff;
  vnet[5] = 1448 >> 8;
  BOOST_CHECK_EQUAL(wire_size(vnet, p.data(), p.size()), 10u * (52 + 1448));
  vnet[1] = 0x81; // with ECN
  BOOST_CHECK_EQUAL(wire_size(vnet, p.data(), p.size()), 10u * (52 + 1448));
  // A last segment that is not full still has its headers.
  auto q = ipv4_packet(addr("198.18.0.10"), addr("198.18.0.11"), 20 + 32 + 1448 + 1);
  q[9] = 6;
  q[20 + 12] = 8 << 4;
  BOOST_CHECK_EQUAL(wire_size(vnet, q.data(), q.size()), q.size() + 52);
  // Not TCP, or headers that do not fit: charged as it is.
  q[9] = 17;
  BOOST_CHECK_EQUAL(wire_size(vnet, q.data(), q.size()), q.size());
  BOOST_CHECK_EQUAL(wire_size(vnet, q.data(), 30), 30u);
}
