#define BOOST_TEST_MODULE stream
#include <boost/test/unit_test.hpp>

// The encrypted, framed stream (stream.hpp): round trips of every size class, the documented frame
// layout, and the negative twins: altered, replayed, reordered, reflected or truncated frames, bad
// lengths, over-limit totals (refused after the first frame), other keys, silence and end of stream.

#include "joconde/enclave/stream.hpp"

#include "enclave_test_support.hpp"

#include <openssl/rand.h>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <future>
#include <string>
#include <thread>
#include <vector>

using namespace joconde;
using namespace joconde::enclave;
using namespace std::chrono_literals;

using joconde::test::must;
using joconde::test::text;

namespace {

using key_type = std::array<std::uint8_t, 32>;

key_type random_key() {
  key_type k{};
  BOOST_REQUIRE_EQUAL(RAND_bytes(k.data(), static_cast<int>(k.size())), 1);
  return k;
}

std::pair<int, int> socket_pair() {
  int sv[2];
  BOOST_REQUIRE_EQUAL(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  return {sv[0], sv[1]};
}

bytes pattern(std::size_t n, std::uint8_t seed) {
  bytes out(n);
  for (std::size_t i = 0; i < n; ++i)
    out[i] = static_cast<std::uint8_t>(seed + i * 31 + (i >> 13));
  return out;
}

/// Reads exactly n bytes from a raw socket (blocking).
bytes read_raw(int fd, std::size_t n) {
  bytes out(n);
  std::size_t done = 0;
  while (done < n) {
    auto got = ::recv(fd, out.data() + done, n - done, 0);
    BOOST_REQUIRE_MESSAGE(got > 0, "raw read ended after " << done << " of " << n << " bytes");
    done += static_cast<std::size_t>(got);
  }
  return out;
}

void write_raw(int fd, std::span<const std::uint8_t> data) {
  std::size_t done = 0;
  while (done < data.size()) {
    auto n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    BOOST_REQUIRE(n > 0);
    done += static_cast<std::size_t>(n);
  }
}

/// One whole frame (length, ciphertext, tag) read off a raw socket.
bytes read_frame(int fd) {
  auto head = read_raw(fd, 4);
  std::size_t n = (std::size_t{head[0]} << 24) | (std::size_t{head[1]} << 16)
                  | (std::size_t{head[2]} << 8) | head[3];
  auto body = read_raw(fd, n + 16);
  head.insert(head.end(), body.begin(), body.end());
  return head;
}

template <class T>
void refused(const result<T>& r, errc code) {
  BOOST_REQUIRE_MESSAGE(!r, "accepted, expected " << to_string(code));
  BOOST_TEST(to_string(r.err().code) == to_string(code), r.err().describe());
}

/// Two streams joined by a socketpair, sharing one random key and salt.
struct connected {
  secure_stream a;  ///< the first side
  secure_stream b;  ///< the second side
};

connected connect_streams(std::chrono::milliseconds timeout = 20s) {
  auto key = random_key();
  auto salt = text("transcript hash of a test session");
  auto [x, y] = socket_pair();
  auto a = must(secure_stream::create(x, key, salt, stream_side::first, timeout));
  auto b = must(secure_stream::create(y, key, salt, stream_side::second, timeout));
  return {std::move(a), std::move(b)};
}

/// A stream on one end of a socketpair whose other end the test reads and writes raw.
struct tapped {
  secure_stream stream;
  int raw;
};

tapped tap(const key_type& key, const bytes& salt, stream_side side,
           std::chrono::milliseconds timeout = 20s) {
  auto [x, y] = socket_pair();
  return {must(secure_stream::create(x, key, salt, side, timeout)), y};
}

/// A sender and a receiver that share keys but whose bytes the test carries (and may change).
struct relay {
  key_type key = random_key();
  bytes salt = text("salt");
  tapped sender = tap(key, salt, stream_side::first);
  tapped receiver = tap(key, salt, stream_side::second, 300ms);

  ~relay() {
    ::close(sender.raw);
    ::close(receiver.raw);
  }

  /// Sends `m` and returns the frames it became.
  bytes frame_of(const bytes& m) {
    must_send(m);
    return read_frame(sender.raw);
  }

  void must_send(const bytes& m) {
    auto r = sender.stream.send(m);
    BOOST_REQUIRE_MESSAGE(r.ok(), r.err().describe());
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(secure_stream_tests)

BOOST_AUTO_TEST_CASE(messages_of_every_size_class_round_trip_both_ways) {
  auto c = connect_streams();
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, max_frame_bytes - 8, max_frame_bytes,
                        max_frame_bytes + 1, std::size_t{5} * 1024 * 1024}) {
    auto m = pattern(n, static_cast<std::uint8_t>(n));
    auto sent = std::async(std::launch::async, [&] { return c.a.send(m); });
    auto got = must(c.b.receive());
    BOOST_TEST(sent.get().ok());
    BOOST_TEST(got.size() == n);
    BOOST_TEST((got == m));
    auto back = std::async(std::launch::async, [&] { return c.b.send(m); });
    BOOST_TEST((must(c.a.receive()) == m));
    BOOST_TEST(back.get().ok());
  }
}

BOOST_AUTO_TEST_CASE(frames_follow_the_documented_layout) {
  relay r;
  auto small = r.frame_of(text("abc"));
  BOOST_TEST(small.size() == 4u + 8 + 3 + 16);
  BOOST_TEST((bytes(small.begin(), small.begin() + 4) == bytes{0, 0, 0, 11}));
  // 2 MiB: a first frame of 8 + (1 MiB - 8), a full frame, then the last 8 bytes.
  auto m = pattern(2 * 1024 * 1024, 9);
  auto sent = std::async(std::launch::async, [&] { return r.sender.stream.send(m); });
  std::vector<std::size_t> sizes;
  for (int i = 0; i < 3; ++i)
    sizes.push_back(read_frame(r.sender.raw).size() - 20);
  BOOST_TEST(sent.get().ok());
  BOOST_TEST(sizes == (std::vector<std::size_t>{max_frame_bytes, max_frame_bytes, 8}),
             boost::test_tools::per_element());
  // The plaintext appears nowhere.
  auto secret = text("a recognisable plaintext");
  auto frame = r.frame_of(secret);
  BOOST_TEST((std::search(frame.begin(), frame.end(), secret.begin(), secret.end()) == frame.end()));
}

BOOST_AUTO_TEST_CASE(an_altered_byte_anywhere_is_refused) {
  relay probe;
  auto length = probe.frame_of(text("hello, CP 1")).size();
  for (std::size_t i = 4; i < length; ++i) {
    relay r;
    auto frame = r.frame_of(text("hello, CP 1"));
    frame[i] ^= 0x01;
    write_raw(r.receiver.raw, frame);
    refused(r.receiver.stream.receive(), errc::protocol_error);
  }
  // An altered length announces another frame: refused as too short, or its tag fails.
  relay r;
  auto frame = r.frame_of(text("hello, CP 1"));
  frame[3] = 7;
  write_raw(r.receiver.raw, frame);
  refused(r.receiver.stream.receive(), errc::protocol_error);
}

BOOST_AUTO_TEST_CASE(a_replayed_frame_is_refused) {
  relay r;
  auto frame = r.frame_of(text("transfer 100"));
  write_raw(r.receiver.raw, frame);
  BOOST_TEST((must(r.receiver.stream.receive()) == text("transfer 100")));
  write_raw(r.receiver.raw, frame);
  refused(r.receiver.stream.receive(), errc::protocol_error);
  // The receiving direction is now broken.
  refused(r.receiver.stream.receive(), errc::invalid_state);
}

BOOST_AUTO_TEST_CASE(reordered_dropped_and_reflected_frames_are_refused) {
  {
    relay r;
    auto first = r.frame_of(text("one"));
    auto second = r.frame_of(text("two"));
    write_raw(r.receiver.raw, second);
    write_raw(r.receiver.raw, first);
    refused(r.receiver.stream.receive(), errc::protocol_error);
  }
  {
    // A frame sent back to its sender: the other direction's key does not authenticate it.
    relay r;
    auto frame = r.frame_of(text("ping"));
    write_raw(r.sender.raw, frame);
    refused(r.sender.stream.receive(), errc::protocol_error);
  }
  {
    // Frames of one message cut out of the middle of another: counters no longer match.
    relay r;
    auto m = pattern(3 * max_frame_bytes, 4);
    auto sent = std::async(std::launch::async, [&] { return r.sender.stream.send(m); });
    auto f1 = read_frame(r.sender.raw);
    read_frame(r.sender.raw); // dropped
    auto f3 = read_frame(r.sender.raw);
    auto f4 = read_frame(r.sender.raw);
    BOOST_TEST(sent.get().ok());
    auto feed = std::async(std::launch::async, [&] {
      write_raw(r.receiver.raw, f1);
      write_raw(r.receiver.raw, f3);
      write_raw(r.receiver.raw, f4);
    });
    refused(r.receiver.stream.receive(), errc::protocol_error);
    feed.get();
  }
}

BOOST_AUTO_TEST_CASE(other_keys_or_salts_do_not_authenticate) {
  auto key = random_key();
  auto sender = tap(key, text("salt"), stream_side::first);
  auto other_key = tap(random_key(), text("salt"), stream_side::second, 300ms);
  auto other_salt = tap(key, text("pepper"), stream_side::second, 300ms);
  auto same_side = tap(key, text("salt"), stream_side::first, 300ms);
  BOOST_REQUIRE(sender.stream.send(text("secret")).ok());
  auto frame = read_frame(sender.raw);
  for (auto* t : {&other_key, &other_salt, &same_side}) {
    write_raw(t->raw, frame);
    refused(t->stream.receive(), errc::protocol_error);
    ::close(t->raw);
  }
  ::close(sender.raw);
}

BOOST_AUTO_TEST_CASE(bad_lengths_are_refused_before_reading_the_frame) {
  for (std::uint32_t n : {0u, 7u, static_cast<std::uint32_t>(max_frame_bytes + 1), 0xffffffffu}) {
    relay r;
    write_raw(r.receiver.raw, bytes{static_cast<std::uint8_t>(n >> 24),
                                    static_cast<std::uint8_t>(n >> 16),
                                    static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)});
    refused(r.receiver.stream.receive(), errc::protocol_error);
  }
  // A continuation frame of the wrong size: the first frame of a 2 MiB message, then a short one.
  relay r;
  auto m = pattern(2 * 1024 * 1024, 3);
  auto sent = std::async(std::launch::async, [&] { return r.sender.stream.send(m); });
  auto first = read_frame(r.sender.raw);
  read_frame(r.sender.raw);
  read_frame(r.sender.raw);
  BOOST_TEST(sent.get().ok());
  auto small = r.frame_of(text("0123456789"));
  auto feed = std::async(std::launch::async, [&] {
    write_raw(r.receiver.raw, first);
    write_raw(r.receiver.raw, small);
  });
  refused(r.receiver.stream.receive(), errc::protocol_error);
  feed.get();
}

BOOST_AUTO_TEST_CASE(a_truncated_frame_or_a_closed_peer_is_an_io_error) {
  {
    relay r;
    auto frame = r.frame_of(text("cut short"));
    write_raw(r.receiver.raw, std::span{frame}.first(frame.size() / 2));
    ::shutdown(r.receiver.raw, SHUT_WR);
    refused(r.receiver.stream.receive(), errc::io_error);
  }
  {
    relay r;
    ::shutdown(r.receiver.raw, SHUT_WR);
    refused(r.receiver.stream.receive(), errc::io_error);
  }
  {
    auto t = tap(random_key(), text("salt"), stream_side::first);
    ::close(t.raw);
    refused(t.stream.send(text("nobody listens")), errc::io_error);
    refused(t.stream.send(text("again")), errc::invalid_state);
  }
}

BOOST_AUTO_TEST_CASE(an_over_limit_total_is_refused_after_the_first_frame) {
  relay r;
  auto m = pattern(5 * 1024 * 1024, 1);
  auto sent = std::async(std::launch::async, [&] { return r.sender.stream.send(m); });
  // Only the first frame reaches the receiver: it must decide from that frame alone (were it to
  // wait for the rest, it would time out instead).
  auto first = read_frame(r.sender.raw);
  for (int rest = 0; rest < 5; ++rest)
    read_frame(r.sender.raw);
  BOOST_TEST(sent.get().ok());
  auto feed = std::async(std::launch::async, [&] { write_raw(r.receiver.raw, first); });
  refused(r.receiver.stream.receive(1024 * 1024), errc::too_large);
  feed.get();
  refused(r.receiver.stream.receive(), errc::invalid_state);

  // A small limit, a message one byte over it.
  auto c = connect_streams();
  BOOST_REQUIRE(c.a.send(pattern(11, 0)).ok());
  refused(c.b.receive(10), errc::too_large);

  // Nothing over max_message_bytes is sent at all.
  auto d = connect_streams();
  bytes huge(max_message_bytes + 1);
  refused(d.a.send(huge), errc::too_large);
  BOOST_TEST(d.a.send(text("still fine")).ok());
  BOOST_TEST((must(d.b.receive()) == text("still fine")));
}

BOOST_AUTO_TEST_CASE(pieces_carry_messages_over_the_limit) {
  // Below, at and over max_message_bytes (an upload column of 10^7 rows is 160 MB), each followed
  // by a small message that must arrive as itself.
  auto c = connect_streams();
  for (std::size_t n : {std::size_t{0}, std::size_t{100}, max_message_bytes, 2 * max_message_bytes + 7}) {
    BOOST_TEST_CONTEXT(n << " bytes") {
      auto m = pattern(n, static_cast<std::uint8_t>(n));
      auto sent = std::async(std::launch::async, [&] {
        auto r = c.a.send_pieces(m);
        return r.ok() ? c.a.send(text("next")) : r;
      });
      auto got = must(c.b.receive_pieces(n));
      BOOST_TEST(sent.get().ok());
      BOOST_TEST(got.size() == n);
      BOOST_TEST((got == m));
      BOOST_TEST((must(c.b.receive()) == text("next")));
    }
  }
  // More than the receiver allows: refused as soon as a piece goes beyond it, the stream broken.
  auto d = connect_streams();
  auto m = pattern(max_message_bytes + 10, 3);
  auto sent = std::async(std::launch::async, [&] { return d.a.send_pieces(m); });
  refused(d.b.receive_pieces(max_message_bytes + 9), errc::too_large);
  refused(d.b.receive(), errc::invalid_state);
  d.b.close();
  (void) sent.get();
}

BOOST_AUTO_TEST_CASE(silence_times_out_and_before_a_message_leaves_the_stream_usable) {
  auto c = connect_streams(50ms);
  refused(c.b.receive(), errc::timeout);
  BOOST_REQUIRE(c.a.send(text("late but whole")).ok());
  BOOST_TEST((must(c.b.receive()) == text("late but whole")));

  // Silence inside a frame breaks the stream.
  relay r;
  auto frame = r.frame_of(text("half"));
  write_raw(r.receiver.raw, std::span{frame}.first(6));
  refused(r.receiver.stream.receive(), errc::timeout);
  refused(r.receiver.stream.receive(), errc::invalid_state);

  // A sender whose peer reads nothing times out once the socket buffers are full.
  auto key = random_key();
  auto stuck = tap(key, text("salt"), stream_side::first, 50ms);
  refused(stuck.stream.send(pattern(8 * 1024 * 1024, 2)), errc::timeout);
  ::close(stuck.raw);
}

BOOST_AUTO_TEST_CASE(moves_and_close) {
  auto c = connect_streams();
  secure_stream moved{std::move(c.a)};
  BOOST_TEST(!c.a.is_open());
  refused(c.a.send(text("x")), errc::invalid_state);
  BOOST_TEST(moved.is_open());
  BOOST_REQUIRE(moved.send(text("via the moved stream")).ok());
  BOOST_TEST((must(c.b.receive()) == text("via the moved stream")));
  moved.close();
  moved.close();
  BOOST_TEST(!moved.is_open());
  refused(moved.send(text("x")), errc::invalid_state);
  refused(c.b.receive(), errc::io_error); // the peer sees the end of the stream

  auto [x, y] = socket_pair();
  ::close(y);
  key_type k{};
  refused(secure_stream::create(x, k, bytes{}, stream_side::first, 1s), errc::invalid_config);
  refused(secure_stream::create(-1, k, text("s"), stream_side::first, 1s), errc::invalid_config);
}

BOOST_AUTO_TEST_SUITE_END()
