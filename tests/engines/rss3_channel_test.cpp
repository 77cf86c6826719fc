#define BOOST_TEST_MODULE rss3_channel
#include <boost/test/unit_test.hpp>

// The rss3 channels under attack or breakage: party 2 is replaced by a function that connects
// honestly (open_links) and then misbehaves on its channel to party 1, which receives party 2's
// multiplication messages. Every honest party must end with an error (protocol_error or timeout),
// none may return a result, and nothing may hang.

#include "three_parties.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <thread>

using joconde::engines::backend;
using joconde::engines::word;
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
