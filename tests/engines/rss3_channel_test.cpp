#define BOOST_TEST_MODULE rss3_channel
#include <boost/test/unit_test.hpp>

// The rss3 channels under attack or breakage: party 2 is replaced by a function that connects
// honestly (open_links) and then misbehaves on its channel to party 1, which receives party 2's
// multiplication messages. Every honest party must end with an error (protocol_error or timeout),
// none may return a result, and nothing may hang.

#include "three_parties.hpp"

#include <openssl/rand.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <memory>
#include <thread>

using joconde::engines::backend;
using joconde::engines::engine_failure;
using joconde::engines::party_endpoint;
using joconde::engines::word;
using joconde::engines::rss3::accept_report;
using joconde::engines::rss3::channel;
using joconde::test::party_outcome;
using joconde::test::run_three_parties;
using joconde::test::three_options;

namespace {

constexpr std::size_t n = 10;

/// The honest parties: a few dependent multiplications and reveals, so that a failure anywhere
/// reaches everyone.
std::vector<std::uint8_t> honest(backend& be, unsigned) {
  auto a = be.constant(3, n);
  std::vector<word> all;
  for (int k = 0; k < 4; ++k) {
    a = be.mul(a, a);
    auto v = be.reveal(a);
    all.insert(all.end(), v.begin(), v.end());
  }
  return joconde::test::to_bytes(all);
}

/// Writes all of `bytes` to a non-blocking socket (bounded wait).
void write_raw(int fd, const std::vector<std::uint8_t>& bytes) {
  std::size_t done = 0;
  for (int spins = 0; done < bytes.size() && spins < 1000; ++spins) {
    ssize_t k = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (k > 0) {
      done += static_cast<std::size_t>(k);
      continue;
    }
    pollfd p{fd, POLLOUT, 0};
    ::poll(&p, 1, 10);
  }
}

/// Party 2 replaced: connects honestly, runs `act` on its channel to party 1, keeps the connection
/// open for `hold` and then closes everything.
three_options misbehaving(std::function<void(channel& to_party1)> act,
                          std::chrono::milliseconds hold = std::chrono::milliseconds(1500)) {
  three_options o;
  o.io_timeout = std::chrono::milliseconds(5000);
  o.overall = std::chrono::milliseconds(20'000);
  o.replace[2] = [act, hold](const joconde::engines::rss3::options& opts) {
    auto l = joconde::engines::rss3::open_links(opts);
    if (!l)
      throw joconde::engines::engine_failure(l.err());
    act(*l->to_prev);
    std::this_thread::sleep_for(hold);
    return std::vector<std::uint8_t>{};
  };
  return o;
}

/// A correctly sealed frame holding a whole message of `words` words on `ch` (its counter advances).
std::vector<std::uint8_t> frame(channel& ch, std::size_t words) {
  std::vector<std::uint8_t> plain(words * sizeof(word), 0x11);
  std::vector<std::uint8_t> out;
  ch.seal(plain, words, 0, out);
  return out;
}

void expect_all_fail(const std::array<party_outcome, 3>& out, const std::string& party1_says) {
  for (unsigned i = 0; i < 2; ++i) {
    BOOST_CHECK_MESSAGE(!out[i].ok, "party " << i << " returned a result");
    bool known = out[i].error.find("protocol_error") != std::string::npos
                 || out[i].error.find("timeout") != std::string::npos;
    BOOST_CHECK_MESSAGE(known, "party " << i << ": " << out[i].error);
    BOOST_CHECK_MESSAGE(out[i].error.find("harness") == std::string::npos, out[i].error);
  }
  BOOST_CHECK_MESSAGE(out[1].error.find(party1_says) != std::string::npos,
                      "party 1 should say '" << party1_says << "': " << out[1].error);
}

} // namespace

BOOST_AUTO_TEST_CASE(honest_run_succeeds) {
  three_options o;
  o.overall = std::chrono::milliseconds(20'000);
  auto out = run_three_parties(honest, o);
  for (unsigned i = 0; i < 3; ++i)
    BOOST_REQUIRE_MESSAGE(out[i].ok, out[i].error);
  auto v = joconde::test::to_words(out[0].bytes);
  BOOST_REQUIRE_EQUAL(v.size(), 4 * n);
  BOOST_CHECK_EQUAL(v[0], 9u);
  BOOST_CHECK_EQUAL(v[n], 81u);
  BOOST_CHECK_EQUAL(v[2 * n], 6561u);
  BOOST_CHECK_EQUAL(v[3 * n], 43046721u);
}

BOOST_AUTO_TEST_CASE(wrong_key) {
  three_options o;
  o.wrong_key = std::pair<unsigned, unsigned>{0, 1};
  o.overall = std::chrono::milliseconds(20'000);
  auto out = run_three_parties(honest, o);
  for (unsigned i = 0; i < 3; ++i) {
    BOOST_CHECK(!out[i].ok);
    BOOST_CHECK_MESSAGE(out[i].error.find("protocol_error") != std::string::npos, out[i].error);
  }
  BOOST_CHECK_MESSAGE(out[0].error.find("channel key mismatch with party 1") != std::string::npos, out[0].error);
  BOOST_CHECK_MESSAGE(out[1].error.find("channel key mismatch with party 0") != std::string::npos, out[1].error);
}

BOOST_AUTO_TEST_CASE(garbage_bytes) {
  auto out = run_three_parties(honest, misbehaving([](channel& ch) {
    std::vector<std::uint8_t> junk(4096);
    for (std::size_t j = 0; j < junk.size(); ++j)
      junk[j] = static_cast<std::uint8_t>(j * 37 + 11);
    write_raw(ch.fd(), junk);
  }));
  expect_all_fail(out, "rss3 party 1");
}

BOOST_AUTO_TEST_CASE(garbled_ciphertext) {
  auto out = run_three_parties(honest, misbehaving([](channel& ch) {
    auto f = frame(ch, n);
    f[10] ^= 1;
    write_raw(ch.fd(), f);
  }));
  expect_all_fail(out, "fails its authentication tag");
}

BOOST_AUTO_TEST_CASE(truncated_frame_then_close) {
  auto out = run_three_parties(honest, misbehaving(
                                         [](channel& ch) {
                                           auto f = frame(ch, n);
                                           f.resize(f.size() / 2);
                                           write_raw(ch.fd(), f);
                                         },
                                         std::chrono::milliseconds(0)));
  expect_all_fail(out, "closed the channel");
}

BOOST_AUTO_TEST_CASE(frame_of_the_wrong_length) {
  auto out = run_three_parties(honest, misbehaving([](channel& ch) { write_raw(ch.fd(), frame(ch, n + 1)); }));
  expect_all_fail(out, "were expected");
}

BOOST_AUTO_TEST_CASE(over_limit_length_field) {
  auto out = run_three_parties(honest, misbehaving([](channel& ch) {
    write_raw(ch.fd(), std::vector<std::uint8_t>{0xf0, 0xff, 0xff, 0x7f, 1, 2, 3});
  }));
  expect_all_fail(out, "over the 1 MiB limit");
}

BOOST_AUTO_TEST_CASE(frame_of_another_message_length) {
  // The right frame length and a valid key, but sealed as part of a longer message.
  auto out = run_three_parties(honest, misbehaving([](channel& ch) {
    std::vector<std::uint8_t> plain(n * sizeof(word), 0x22);
    std::vector<std::uint8_t> f;
    ch.seal(plain, n + 1, 0, f);
    write_raw(ch.fd(), f);
  }));
  expect_all_fail(out, "disagree on the message's length");
}

BOOST_AUTO_TEST_CASE(replayed_frame) {
  auto out = run_three_parties(honest, misbehaving([](channel& ch) {
    auto f = frame(ch, n);
    write_raw(ch.fd(), f);
    write_raw(ch.fd(), f);
  }));
  expect_all_fail(out, "fails its authentication tag");
}

BOOST_AUTO_TEST_CASE(silent_peer) {
  auto o = misbehaving([](channel&) {}, std::chrono::milliseconds(4000));
  o.io_timeout = std::chrono::milliseconds(500);
  auto out = run_three_parties(honest, o);
  expect_all_fail(out, "timeout");
}

// The channel keys depend on the session (both parties' nonces from the connection greeting): the
// same caller key in another session never repeats a (key, nonce) pair, so a frame recorded in one
// session is worthless in the next.
BOOST_AUTO_TEST_CASE(channel_keys_are_fresh_in_every_session) {
  joconde::engines::channel_key key{};
  key.fill(7);
  std::vector<std::uint8_t> session_a(32, 1), session_b(32, 1);
  session_b[31] = 2;
  channel a{-1, 0, 1, key, session_a};
  channel b{-1, 0, 1, key, session_b};
  channel a_again{-1, 0, 1, key, session_a};
  std::vector<std::uint8_t> plain(64, 0x42), fa, fb, fa2;
  a.seal(plain, 8, 0, fa);
  b.seal(plain, 8, 0, fb);
  a_again.seal(plain, 8, 0, fa2);
  BOOST_TEST(fa == fa2, "same key and session: the same derivation (the test would be vacuous otherwise)");
  BOOST_TEST(fa != fb, "another session must give other keys");
}

// -- strangers at the listeners ---------------------------------------------------------------------
// Connections that do not hold a pair key (port scanners, attackers) reach a listening party's
// port before or while the real parties connect: each is refused and counted, none takes a party's
// place, none makes the run fail. The attacks run in party 2's process before it connects, so they
// reach the listeners first; the listening parties 0 and 1 return their accept_report after their
// honest words.

namespace {

/// A socket of the test's own, closed when it goes.
class raw_socket {
public:
  explicit raw_socket(int fd) : fd_(fd) {
    // nop
  }
  raw_socket(raw_socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {
    // nop
  }
  raw_socket& operator=(raw_socket&&) = delete;
  ~raw_socket() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  int fd() const noexcept { return fd_; }

private:
  int fd_;
};

/// A plain TCP connection to `ep` (blocking, connecting for at most 5 s; -1 inside on failure).
raw_socket dial_raw(const party_endpoint& ep) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval limit{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(ep.port);
  ::inet_pton(AF_INET, ep.host.c_str(), &addr.sin_addr);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    fd = -1;
  }
  return raw_socket{fd};
}

/// Waits until the other end has closed `fd` (EOF or reset), at most `limit`; whether it did.
bool wait_closed(int fd, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      return false;
    std::uint8_t sink[64];
    ssize_t k = ::recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
    if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
      return true;
  }
}

/// An impostor's greeting: announces party `claimed` with a random nonce and reads the listener's
/// answer (its nonce and its key proof, 48 bytes); the connection, ready for a proof it cannot make.
raw_socket announce(const party_endpoint& ep, std::uint8_t claimed) {
  raw_socket s = dial_raw(ep);
  std::array<std::uint8_t, 17> hello{};
  hello[0] = claimed;
  RAND_bytes(hello.data() + 1, 16);
  ::send(s.fd(), hello.data(), hello.size(), MSG_NOSIGNAL);
  std::array<std::uint8_t, 48> answer{};
  std::size_t got = 0;
  while (got < answer.size()) {
    ssize_t k = ::recv(s.fd(), answer.data() + got, answer.size() - got, 0);
    if (k <= 0)
      break;
    got += static_cast<std::size_t>(k);
  }
  return s;
}

/// Sends a random "key proof" on `s` and waits (bounded) for the listener to refuse it.
void forge_proof(const raw_socket& s) {
  std::array<std::uint8_t, 32> proof{};
  RAND_bytes(proof.data(), static_cast<int>(proof.size()));
  ::send(s.fd(), proof.data(), proof.size(), MSG_NOSIGNAL);
  wait_closed(s.fd(), std::chrono::seconds(10));
}

/// A listening party that is honest and also returns what it refused: the honest words, then the
/// six counts of its accept_report.
std::vector<std::uint8_t> honest_reporting(const joconde::engines::rss3::options& opts) {
  auto o = opts;
  o.report = std::make_shared<accept_report>();
  auto be = joconde::engines::rss3::connect(o);
  if (!be)
    throw engine_failure(be.err());
  auto words = joconde::test::to_words(honest(**be, o.party));
  const auto& r = *o.report;
  words.insert(words.end(), {r.bad_party_id, r.party_taken, r.failed_proof, r.hung_up, r.too_slow, r.over_limit});
  return joconde::test::to_bytes(words);
}

/// An attack run in party 2's process before it connects; the sockets returned stay open until
/// party 2 has finished its honest run.
using attack_fn = std::function<std::vector<raw_socket>(const joconde::engines::rss3::options&)>;

three_options under_attack(attack_fn attack, std::chrono::milliseconds connect_timeout = std::chrono::seconds(10)) {
  three_options o;
  o.connect_timeout = connect_timeout;
  o.overall = std::chrono::seconds(40);
  o.replace[0] = honest_reporting;
  o.replace[1] = honest_reporting;
  o.replace[2] = [attack](const joconde::engines::rss3::options& opts) {
    auto held = attack(opts);
    auto be = joconde::engines::rss3::connect(opts);
    if (!be)
      throw engine_failure(be.err());
    return honest(**be, opts.party);
  };
  return o;
}

/// Checks the honest parties' revealed words (the first 4 n of `v`).
void expect_honest_values(const std::vector<word>& v) {
  BOOST_REQUIRE_GE(v.size(), 4 * n);
  BOOST_CHECK_EQUAL(v[0], 9u);
  BOOST_CHECK_EQUAL(v[n], 81u);
  BOOST_CHECK_EQUAL(v[2 * n], 6561u);
  BOOST_CHECK_EQUAL(v[3 * n], 43046721u);
}

/// Every party succeeded and computed the right values; the accept_reports of parties 0 and 1.
std::array<accept_report, 2> expect_success(const std::array<party_outcome, 3>& out) {
  for (unsigned i = 0; i < 3; ++i)
    BOOST_REQUIRE_MESSAGE(out[i].ok, "party " << i << ": " << out[i].error);
  expect_honest_values(joconde::test::to_words(out[2].bytes));
  std::array<accept_report, 2> reports;
  for (unsigned i = 0; i < 2; ++i) {
    auto v = joconde::test::to_words(out[i].bytes);
    BOOST_REQUIRE_EQUAL(v.size(), 4 * n + 6);
    expect_honest_values(v);
    auto& r = reports[i];
    auto c = [&](std::size_t k) { return static_cast<unsigned>(v[4 * n + k]); };
    r.bad_party_id = c(0);
    r.party_taken = c(1);
    r.failed_proof = c(2);
    r.hung_up = c(3);
    r.too_slow = c(4);
    r.over_limit = c(5);
    BOOST_TEST_MESSAGE("party " << i << ": " << r.describe());
  }
  return reports;
}

} // namespace

BOOST_AUTO_TEST_CASE(bad_party_id_byte_is_refused) {
  auto out = run_three_parties(honest, under_attack([](const auto& opts) {
    std::vector<raw_socket> held;
    held.push_back(dial_raw(opts.endpoints[0]));
    std::uint8_t junk = 0x07;
    ::send(held.back().fd(), &junk, 1, MSG_NOSIGNAL);
    // Party 0 has refused it before party 2 connects, so the count below is exact.
    wait_closed(held.back().fd(), std::chrono::seconds(10));
    return held;
  }));
  auto r = expect_success(out);
  BOOST_CHECK_EQUAL(r[0].bad_party_id, 1u);
  BOOST_CHECK_EQUAL(r[0].total(), 1u);
  BOOST_CHECK_EQUAL(r[0].describe(), "1 connection refused: 1 bad party id");
  BOOST_CHECK_EQUAL(r[1].describe(), "no connection refused");
  // The same for a metric: the reasons that occurred, nothing else.
  using counts = std::vector<std::pair<std::string, unsigned>>;
  BOOST_CHECK(r[0].by_reason() == (counts{{"bad-party-id", 1u}}));
  BOOST_CHECK(r[1].by_reason().empty());
}

BOOST_AUTO_TEST_CASE(impostor_without_the_key_never_takes_the_place) {
  auto out = run_three_parties(honest, under_attack([](const auto& opts) {
    std::vector<raw_socket> held;
    // One impostor of party 2 stays half-way through its greeting while the real party 2
    // connects; another sends a made-up proof and is refused.
    held.push_back(announce(opts.endpoints[0], 2));
    auto forger = announce(opts.endpoints[0], 2);
    forge_proof(forger);
    held.push_back(std::move(forger));
    return held;
  }));
  auto r = expect_success(out);
  BOOST_CHECK_EQUAL(r[0].failed_proof, 1u);
  BOOST_CHECK_EQUAL(r[0].bad_party_id, 0u);
  BOOST_CHECK_EQUAL(r[0].party_taken, 0u);
}

BOOST_AUTO_TEST_CASE(silent_connections_do_not_hold_up_the_real_parties) {
  // Four silent connections at each listener, opened before party 2 connects: greeted one after
  // the other, they would hold party 2 back for 4 * greeting_timeout, twice the connect timeout.
  constexpr int silent = 4;
  static_assert(silent < joconde::engines::rss3::max_pending_connections);
  auto timeout = 2 * joconde::engines::rss3::greeting_timeout;
  auto out = run_three_parties(honest, under_attack(
                                         [](const auto& opts) {
                                           std::vector<raw_socket> held;
                                           for (int k = 0; k < silent; ++k) {
                                             held.push_back(dial_raw(opts.endpoints[0]));
                                             held.push_back(dial_raw(opts.endpoints[1]));
                                           }
                                           return held;
                                         },
                                         timeout));
  for (const auto& r : expect_success(out))
    BOOST_CHECK_EQUAL(r.bad_party_id + r.failed_proof + r.party_taken + r.over_limit, 0u);
}

BOOST_AUTO_TEST_CASE(more_silent_connections_than_pending_slots) {
  // At party 1, whose only real caller is party 2: party 2 finds every slot taken by a silent
  // connection, is closed at once, and retries until one of them has run out of greeting time.
  constexpr std::size_t extra = 4;
  auto out = run_three_parties(honest, under_attack([](const auto& opts) {
    std::vector<raw_socket> held;
    for (std::size_t k = 0; k < joconde::engines::rss3::max_pending_connections + extra; ++k)
      held.push_back(dial_raw(opts.endpoints[1]));
    return held;
  }));
  auto r = expect_success(out);
  BOOST_CHECK_GE(r[1].over_limit, extra);
  BOOST_CHECK_GE(r[1].too_slow, 1u);
  BOOST_CHECK_EQUAL(r[1].bad_party_id + r[1].failed_proof + r[1].party_taken, 0u);
  BOOST_CHECK_EQUAL(r[0].describe(), "no connection refused");
}

// Negative twins: with only strangers and no real party 2, both listeners fail at their deadline
// and name what they refused.
BOOST_AUTO_TEST_CASE(only_strangers_time_out_naming_the_refusals) {
  three_options o;
  o.connect_timeout = std::chrono::seconds(3);
  o.overall = std::chrono::seconds(20);
  o.replace[2] = [](const joconde::engines::rss3::options& opts) {
    std::vector<raw_socket> held;
    for (unsigned j = 0; j < 2; ++j) {
      held.push_back(dial_raw(opts.endpoints[j]));
      std::uint8_t junk = 0x07;
      ::send(held.back().fd(), &junk, 1, MSG_NOSIGNAL);
      held.push_back(dial_raw(opts.endpoints[j]));
    }
    for (const auto& s : held)
      wait_closed(s.fd(), std::chrono::seconds(10));
    return std::vector<std::uint8_t>{};
  };
  auto out = run_three_parties(honest, o);
  for (unsigned i = 0; i < 2; ++i) {
    BOOST_CHECK(!out[i].ok);
    BOOST_CHECK_MESSAGE(out[i].error.find("timeout: rss3 party " + std::to_string(i)
                                          + ": party 2 did not connect and prove its key within 3000 ms")
                          == 0,
                        out[i].error);
    BOOST_CHECK_MESSAGE(out[i].error.find("2 connections refused: 1 bad party id, 1 too slow")
                          != std::string::npos,
                        out[i].error);
  }
}

BOOST_AUTO_TEST_CASE(only_impostors_fail_as_a_key_mismatch) {
  three_options o;
  o.connect_timeout = std::chrono::seconds(3);
  o.overall = std::chrono::seconds(20);
  o.replace[2] = [](const joconde::engines::rss3::options& opts) {
    for (unsigned j = 0; j < 2; ++j)
      forge_proof(announce(opts.endpoints[j], 2));
    return std::vector<std::uint8_t>{};
  };
  auto out = run_three_parties(honest, o);
  for (unsigned i = 0; i < 2; ++i) {
    BOOST_CHECK(!out[i].ok);
    BOOST_CHECK_MESSAGE(out[i].error.find("protocol_error: rss3 party " + std::to_string(i)
                                          + ": channel key mismatch with party 2: 1 connection(s) "
                                            "announcing party 2 failed authentication")
                          == 0,
                        out[i].error);
    BOOST_CHECK_MESSAGE(out[i].error.find("1 connection refused: 1 failed authentication") != std::string::npos,
                        out[i].error);
  }
}
