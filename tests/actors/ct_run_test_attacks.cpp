// The VMs' admin, peer and client endpoints under attack, issue 14 (part of the ct_run test program).
#include <boost/test/unit_test.hpp>

#include "ct_run_test_support.hpp"

using namespace joconde;
using namespace ct_run_test_support;

// -- the admin endpoint under attack (issue 14) --

BOOST_FIXTURE_TEST_CASE(idle_slow_and_unauthenticated_admin_clients_do_not_stall_the_task, ct_in_input) {
  // Another process on cp-0's host opens every connection the admin endpoint takes and more, some
  // silent, some sending half a head; others announce bodies without the token. The node's own calls
  // still get through (an idle connection gives way), no body is read before the token, and the CT
  // runs to its end.
  auto admin = net::parse_host_port(c.endpoints[0]["admin"].get<std::string>());
  BOOST_REQUIRE(admin);
  std::vector<net::socket_fd> held;
  auto open = [&](const std::string& bytes) {
    auto fd = net::connect_tcp(*admin, std::chrono::seconds{5});
    BOOST_REQUIRE(fd);
    if (!bytes.empty())
      BOOST_REQUIRE(::send(fd->get(), bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
    held.push_back(std::move(*fd));
  };
  auto metric = [&](const std::string& reason) {
    return c.metric(0, "joconde_vm_admin_refused_total{reason=\"" + reason + "\"}");
  };
  for (int i = 0; i < 12; ++i)
    open({});
  for (int i = 0; i < 12; ++i)
    open("GET /status HTTP/1.1\r\nHost: x\r\nAuthor");
  // A cancel without the token, announcing 60 KiB it never sends: refused from its head.
  for (int i = 0; i < 4; ++i) {
    auto fd = net::connect_tcp(*admin, std::chrono::seconds{5});
    BOOST_REQUIRE(fd);
    std::string head = "POST /cancel HTTP/1.1\r\nHost: x\r\nContent-Length: 61440\r\n\r\n";
    BOOST_REQUIRE(::send(fd->get(), head.data(), head.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(head.size()));
    timeval tv{10, 0};
    ::setsockopt(fd->get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[512] = {};
    auto n = ::recv(fd->get(), buf, sizeof buf - 1, 0);
    BOOST_TEST(n > 0);
    BOOST_TEST(std::string(buf).rfind("HTTP/1.1 401", 0) == 0, buf);
  }
  // The node is still served (status, metrics), and counts what it refused.
  BOOST_TEST(c.status(0).value("phase", "") == "input");
  BOOST_TEST(metric("unauthenticated") >= 4.0);
  BOOST_TEST(metric("idle_evicted") >= 1.0);
  // The CT runs to its end while the attacker still holds what it has.
  runs_to_its_end(c, f);
}

// -- the peer endpoint before the counterparts are attested (issue 14) --

BOOST_FIXTURE_TEST_CASE(without_an_attacker_no_connection_on_the_peer_port_is_refused, ct_in_input) {
  for (unsigned i = 0; i < 3; ++i)
    for (const auto& reason : refusal_reasons)
      BOOST_TEST(refused(c, i, reason) == 0.0, "cp-" << i << " " << reason);
}

BOOST_AUTO_TEST_CASE(impostors_announcing_a_counterparts_index_do_not_take_its_place) {
  // Before the VMs learn their peers, connections on loopback reach cp-0's peer endpoint first and
  // announce cp-1 (then garbage, or nothing at all), cp-2 (then garbage), and indexes cp-0 never
  // accepts. None of them is attested: the real cp-1 and cp-2 are, and the CT runs to its end.
  const std::vector<std::uint8_t> garbage{0xff, 0xff, 0xff, 0xff, 'J', 'H', 'L', '1', 0x13, 0x37};
  auto with = [](std::vector<std::uint8_t> index, const std::vector<std::uint8_t>& rest) {
    index.insert(index.end(), rest.begin(), rest.end());
    return index;
  };
  ct_under_peer_attack a{[&](peer_port_attacker& attacker, const std::string& cp0) {
    // From five hosts: the per-host bound is not what this test is about.
    attacker.connect(cp0, with({0, 0, 0, 1}, garbage), "127.0.0.21");
    attacker.connect(cp0, {0, 0, 0, 1}, "127.0.0.22");  // then silence, until the test closes it
    attacker.connect(cp0, with({0, 0, 0, 2}, garbage), "127.0.0.23");
    attacker.connect(cp0, {0, 0, 0, 7}, "127.0.0.24");  // no such CP
    attacker.connect(cp0, {0, 0, 0, 0}, "127.0.0.25");  // cp-0 itself
  }};
  auto& c = a.c;
  BOOST_REQUIRE_MESSAGE(c.wait_phase("input"), "an impostor took a counterpart's place");
  // The silent impostor of cp-1 is still in its handshake (or timed out): closing it ends it.
  a.attacker.connections.clear();
  BOOST_TEST(wait_refused(c, 0, "handshake", 3) == 3.0);
  BOOST_TEST(wait_refused(c, 0, "unknown-index", 2) == 2.0);
  no_refusals(c, 0, {"busy", "greeting", "established", "duplicate"});
  for (unsigned i = 1; i < 3; ++i)
    for (const auto& reason : refusal_reasons)
      BOOST_TEST(refused(c, i, reason) == 0.0, "cp-" << i << " " << reason);

  runs_to_its_end(c, a.f);
}

BOOST_AUTO_TEST_CASE(a_connection_that_sends_one_byte_and_falls_silent_holds_nothing_up) {
  ct_under_peer_attack a{[](peer_port_attacker& attacker, const std::string& cp0) { attacker.connect(cp0, {0}); }};
  auto& c = a.c;
  BOOST_REQUIRE_MESSAGE(c.wait_phase("input"), "a silent connection held up the counterparts");
  // cp-0 drops it at its greeting deadline, whether or not the counterparts were attested by then.
  BOOST_TEST(wait_refused(c, 0, "greeting", 1) == 1.0);
  no_refusals(c, 0, {"busy", "unknown-index", "established", "handshake", "duplicate", "evicted"});
  a.attacker.connections.clear();
}

BOOST_AUTO_TEST_CASE(many_silent_connections_are_bounded_and_the_counterparts_get_through) {
  // Twelve silent connections from twelve hosts queue at cp-0's peer endpoint before the counterparts
  // dial: eight take a handshake slot each, every later one takes the place of the oldest, and so do
  // the real counterparts, which are attested; the silent ones are dropped at their greeting deadline
  // or when they give way.
  ct_under_peer_attack a{[](peer_port_attacker& attacker, const std::string& cp0) {
    for (int i = 0; i < 12; ++i)
      attacker.connect(cp0, {}, "127.0.0." + std::to_string(20 + i));
  }};
  auto& c = a.c;
  BOOST_REQUIRE_MESSAGE(c.wait_phase("input"), "silent connections kept the counterparts out");
  for (int k = 0; k < 600 && refused(c, 0, "greeting") + refused(c, 0, "evicted") < 12; ++k)
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  BOOST_TEST(refused(c, 0, "greeting") + refused(c, 0, "evicted") == 12.0);
  BOOST_TEST(refused(c, 0, "evicted") >= 4.0);
  no_refusals(c, 0, {"busy", "source-busy", "unknown-index", "established", "handshake", "duplicate"});
  a.attacker.connections.clear();
}

BOOST_AUTO_TEST_CASE(one_host_gets_four_handshake_slots_at_most) {
  // Six silent connections from one host: four take a slot, two are closed at once; the counterparts,
  // from another address, get through.
  ct_under_peer_attack a{[](peer_port_attacker& attacker, const std::string& cp0) {
    for (int i = 0; i < 6; ++i)
      attacker.connect(cp0, {}, "127.0.0.40");
  }};
  auto& c = a.c;
  BOOST_REQUIRE_MESSAGE(c.wait_phase("input"), "one host's connections kept the counterparts out");
  BOOST_TEST(wait_refused(c, 0, "source-busy", 2) == 2.0);
  BOOST_TEST(wait_refused(c, 0, "greeting", 4) == 4.0);
  a.attacker.connections.clear();
}

BOOST_AUTO_TEST_CASE(impostors_of_a_counterpart_stalling_in_every_handshake_slot_give_way_to_it) {
  // Eight hosts announce cp-1 at cp-0's peer endpoint and stall in the attested handshake, taking
  // every slot until their handshake deadline; the real cp-1 takes the place of the oldest and is
  // attested well before that, and the CT runs to its end.
  ct_under_peer_attack a{[](peer_port_attacker& attacker, const std::string& cp0) {
    for (int i = 0; i < 8; ++i)
      attacker.connect(cp0, {0, 0, 0, 1}, "127.0.0." + std::to_string(50 + i));
  }};
  auto& c = a.c;
  BOOST_REQUIRE_MESSAGE(c.wait_phase("input"), "stalled impostors kept cp-1 out");
  BOOST_TEST(refused(c, 0, "evicted") >= 1.0);
  BOOST_TEST(refused(c, 0, "busy") == 0.0);
  a.attacker.connections.clear();
  runs_to_its_end(c, a.f, false);
}

// -- the client endpoint under attack (issue 14) --

BOOST_AUTO_TEST_CASE(a_host_flooding_the_client_endpoint_is_bounded_and_custodians_get_through) {
  // One host opens forty silent sessions at cp-0's client endpoint, then twenty more one after the
  // other: sixteen at once at most, and no more evidence than its budget (here 20, then one every
  // 10 s); the custodians and the analyst, from another address, are served throughout.
  auto platform = enclave::simulated_platform::create();
  BOOST_REQUIRE(platform);
  fixture_cta f{*platform, now_ms() + 600'000};
  test::ct_cluster_options o;
  o.evidence_burst = 20;
  o.evidence_per_second = 0.1;
  ct_cluster c{*platform, f, o};
  BOOST_REQUIRE(c.wait_phase("input"));
  auto client = c.endpoints[0]["client"].get<std::string>();
  auto metric = [&](const std::string& series) { return c.metric(0, series); };
  const std::string busy = "joconde_vm_client_refused_total{reason=\"source-busy\"}";
  const std::string rate = "joconde_vm_client_refused_total{reason=\"evidence-rate\"}";
  const std::string ended = "joconde_vm_attestation_failures_total{reason=\"client-session\"}";
  for (const auto& series : {busy, rate})
    BOOST_TEST(metric(series) == 0.0, series);
  peer_port_attacker attacker;
  for (int i = 0; i < 40; ++i)
    attacker.connect(client, {}, "127.0.0.60");
  // Sixteen sessions hold the host's share; the other 24 are refused at once.
  BOOST_TEST(wait_for_metric(c, 0, busy, 24) == 24.0);
  BOOST_TEST(metric(rate) == 0.0);
  BOOST_REQUIRE(io::upload(c.target, "persons", persons_csv(),
                           authorize(f.custodian_a, f.final.cta().ctsc().uuid(), "persons", true)));
  attacker.connections.clear();
  // One at a time, each seen through (refused, or its session ended) before the next: the budget
  // is spent, later ones are refused for the rate.
  for (int i = 0; i < 20; ++i) {
    auto seen = metric(busy) + metric(rate) + std::max(0.0, metric(ended));
    attacker.connect(client, {}, "127.0.0.60");
    attacker.connections.clear();
    for (int k = 0; k < 200 && metric(busy) + metric(rate) + std::max(0.0, metric(ended)) <= seen; ++k)
      std::this_thread::sleep_for(std::chrono::milliseconds{25});
  }
  BOOST_TEST(metric(rate) >= 10.0);
  runs_to_its_end_after_persons(c, f);
}
