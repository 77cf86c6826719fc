#define BOOST_TEST_MODULE net
#include <boost/test/unit_test.hpp>

#include "joconde/runtime/net.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <vector>

using namespace joconde;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_CASE(addresses_are_ipv4_bracketed_ipv6_or_host_names) {
  struct good_case {
    const char* text;
    const char* host;
    std::uint16_t port;
    const char* back;
  };
  for (const auto& c : {good_case{"198.18.0.11:4701", "198.18.0.11", 4701, "198.18.0.11:4701"},
                        good_case{"[::1]:80", "::1", 80, "[::1]:80"},
                        good_case{"[2001:db8::7]:65535", "2001:db8::7", 65535, "[2001:db8::7]:65535"},
                        good_case{"cp1.example.org:20000", "cp1.example.org", 20000, "cp1.example.org:20000"},
                        good_case{"localhost:1", "localhost", 1, "localhost:1"},
                        good_case{"0.0.0.0:8080", "0.0.0.0", 8080, "0.0.0.0:8080"}}) {
    auto hp = net::parse_host_port(c.text);
    BOOST_REQUIRE_MESSAGE(hp.ok(), c.text);
    BOOST_CHECK_EQUAL(hp->host, c.host);
    BOOST_CHECK_EQUAL(hp->port, c.port);
    BOOST_CHECK_EQUAL(hp->text(), c.back);
  }
  for (const auto* bad : {"", "198.18.0.11", ":80", "198.18.0.11:0", "198.18.0.11:65536", "1.2.3.4:8a",
                          "::1:80", "[::1]", "[::1]80", "[::1:80", "[cp1]:80", "a b:80", "-a.example:80",
                          "a..b:80", "256.1.1.1:80", "1.2.3:80", "host:80\n", "cp1.example.org:",
                          "x:+80", "x:-1"}) {
    auto hp = net::parse_host_port(bad);
    BOOST_CHECK_MESSAGE(!hp, bad);
    if (!hp)
      BOOST_CHECK(hp.err().code == errc::invalid_config);
  }
  BOOST_CHECK(!net::parse_host_port(std::string(400, 'a') + ":80"));
  BOOST_CHECK(net::parse_host_port("127.0.0.1:0", true).ok());
  BOOST_CHECK(!net::parse_host_port("127.0.0.1:0", false));
  BOOST_CHECK_EQUAL(net::bracketed("::1"), "[::1]");
  BOOST_CHECK_EQUAL(net::bracketed("198.18.0.1"), "198.18.0.1");
  BOOST_CHECK(net::is_wildcard("0.0.0.0") && net::is_wildcard("::") && !net::is_wildcard("127.0.0.1"));
}

BOOST_AUTO_TEST_CASE(loopback_means_every_resolved_address_is_loopback) {
  for (const auto* yes : {"127.0.0.1", "127.0.0.2", "::1", "localhost"})
    BOOST_CHECK_MESSAGE(net::is_loopback(yes), yes);
  for (const auto* no : {"198.18.0.1", "0.0.0.0", "::", "2001:db8::1", "no-such-host.invalid", "", "a b"})
    BOOST_CHECK_MESSAGE(!net::is_loopback(no), no);
  auto r = net::resolve("no-such-host.invalid");
  BOOST_REQUIRE(!r);
  BOOST_CHECK(r.err().code == errc::invalid_config);
}

BOOST_AUTO_TEST_CASE(port_ranges) {
  auto r = net::parse_port_range("20000-20999");
  BOOST_REQUIRE(r.ok());
  BOOST_CHECK_EQUAL(r->size(), 1000u);
  BOOST_CHECK_EQUAL(r->text(), "20000-20999");
  BOOST_CHECK_EQUAL(net::parse_port_range("4000")->size(), 1u);
  for (const auto* bad : {"", "0-10", "10-9", "1-65536", "a-b", "1--2", "-5", "5-", "99999"})
    BOOST_CHECK_MESSAGE(!net::parse_port_range(bad), bad);
}

BOOST_AUTO_TEST_CASE(listen_and_connect_on_ipv4_ipv6_and_names) {
  for (const auto* host : {"127.0.0.1", "::1", "localhost"}) {
    auto l = net::listen_tcp({host, 0});
    BOOST_REQUIRE_MESSAGE(l.ok(), host << ": " << (l ? std::string{} : l.err().describe()));
    BOOST_CHECK(l->port != 0);
    auto c = net::connect_tcp({host, l->port}, 2s);
    BOOST_REQUIRE_MESSAGE(c.ok(), host << ": " << (c ? std::string{} : c.err().describe()));
    int fd = ::accept(l->fd.get(), nullptr, nullptr);
    BOOST_REQUIRE(fd >= 0);
    auto peer = net::peer_address(fd);
    BOOST_CHECK_MESSAGE(peer == "127.0.0.1" || peer == "::1", peer);
    ::close(fd);
  }
  // Nothing listens: refused, clearly.
  auto l = net::listen_tcp({"127.0.0.1", 0});
  auto port = l->port;
  l->fd.reset();
  auto refused = net::connect_tcp({"127.0.0.1", port}, 2s);
  BOOST_REQUIRE(!refused);
  BOOST_CHECK(refused.err().code == errc::io_error);
  BOOST_CHECK(refused.err().message.find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
  auto unknown = net::connect_tcp({"no-such-host.invalid", 80}, 2s);
  BOOST_REQUIRE(!unknown);
  BOOST_CHECK(unknown.err().code == errc::invalid_config);
}

BOOST_AUTO_TEST_CASE(a_port_range_is_used_up_then_refused) {
  // Four free ports in a row, above the kernel's ephemeral range.
  std::vector<net::listener> held;
  net::port_range range;
  for (unsigned first = 21000; first < 30000 && held.empty(); first += 17) {
    range = {static_cast<std::uint16_t>(first), static_cast<std::uint16_t>(first + 3)};
    for (int i = 0; i < 4; ++i) {
      auto l = net::listen_in_range("127.0.0.1", range);
      if (!l)
        break;
      held.push_back(std::move(*l));
    }
    if (held.size() != 4)
      held.clear();
  }
  BOOST_REQUIRE_EQUAL(held.size(), 4u);
  for (std::size_t i = 0; i < held.size(); ++i)
    BOOST_CHECK_EQUAL(held[i].port, range.first + i); // the first free ones, in order
  auto full = net::listen_in_range("127.0.0.1", range);
  BOOST_REQUIRE(!full);
  BOOST_CHECK(full.err().code == errc::resource_exhausted);
  BOOST_CHECK(full.err().message.find(range.text()) != std::string::npos);
  // A port given back is taken again.
  auto freed = held[2].port;
  held[2].fd.reset();
  auto again = net::listen_in_range("127.0.0.1", range);
  BOOST_REQUIRE(again.ok());
  BOOST_CHECK_EQUAL(again->port, freed);
  // An address this host does not have is an error at once, not a scan of the range.
  auto foreign = net::listen_in_range("198.18.0.77", range);
  BOOST_REQUIRE(!foreign);
  BOOST_CHECK(foreign.err().code == errc::io_error);
}
