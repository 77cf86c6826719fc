#define BOOST_TEST_MODULE io_stream
#include <boost/test/unit_test.hpp>

// The shared socket and framing module (joconde/io): real socketpairs, no wall-clock assertions
// beyond "returned timeout".

#include "joconde/io/fd.hpp"
#include "joconde/io/stream.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

using namespace joconde;
using namespace std::chrono_literals;

namespace {

/// A connected pair of stream sockets, both closed at the end of the test.
struct socket_pair {
  io::unique_fd a;
  io::unique_fd b;

  socket_pair() {
    int fds[2];
    BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    a.reset(fds[0]);
    b.reset(fds[1]);
  }
};

/// True while `fd` names an open descriptor.
bool is_open(int fd) {
  return ::fcntl(fd, F_GETFD) != -1;
}

/// `n` bytes counting up from `first`.
std::vector<std::uint8_t> counting(std::size_t n, std::uint8_t first = 0) {
  std::vector<std::uint8_t> out(n);
  std::iota(out.begin(), out.end(), first);
  return out;
}

/// Writes `data` with plain send (the test's own side of the socket).
void put(int fd, const std::vector<std::uint8_t>& data) {
  BOOST_REQUIRE_EQUAL(::send(fd, data.data(), data.size(), MSG_NOSIGNAL), static_cast<ssize_t>(data.size()));
}

/// What went wrong, for a failed check's message (Boost builds the message even when it passes).
template <class T>
std::string why(const result<T>& r) {
  return r.ok() ? std::string{} : r.err().describe();
}

} // namespace

BOOST_AUTO_TEST_CASE(unique_fd_closes_once_and_hands_over_on_release_and_move) {
  socket_pair p;
  int raw = p.a.get();
  {
    io::unique_fd moved{std::move(p.a)};
    BOOST_CHECK(!p.a.valid());
    BOOST_CHECK_EQUAL(moved.get(), raw);
  }
  BOOST_CHECK(!is_open(raw));
  int kept = p.b.release();
  BOOST_CHECK(!p.b.valid());
  BOOST_CHECK(is_open(kept));
  io::unique_fd again{kept};
  again.reset();
  BOOST_CHECK(!is_open(kept));
}

BOOST_AUTO_TEST_CASE(read_exact_collects_a_message_sent_in_several_writes) {
  socket_pair p;
  auto message = counting(300);
  std::vector<std::uint8_t> got(message.size());
  put(p.b.get(), {message.begin(), message.begin() + 7});
  result<void> r = fail(errc::invalid_state, "reader did not run");
  std::thread reader{[&] { r = io::read_exact(p.a.get(), got, io::within(10s), "the writer"); }};
  put(p.b.get(), {message.begin() + 7, message.begin() + 100});
  put(p.b.get(), {message.begin() + 100, message.end()});
  reader.join();
  BOOST_REQUIRE_MESSAGE(r.ok(), why(r));
  BOOST_CHECK(got == message);
}

BOOST_AUTO_TEST_CASE(a_silent_peer_makes_read_exact_return_timeout) {
  socket_pair p;
  put(p.b.get(), counting(3));
  std::array<std::uint8_t, 8> buf{};
  auto r = io::read_exact(p.a.get(), buf, io::within(50ms), "the silent peer");
  BOOST_REQUIRE(!r.ok());
  BOOST_CHECK(r.err().code == errc::timeout);
  auto by_deadline = io::read_exact(p.a.get(), buf, io::until(io::io_clock::now() + 20ms), "it");
  BOOST_REQUIRE(!by_deadline.ok());
  BOOST_CHECK(by_deadline.err().code == errc::timeout);
  auto waited = io::wait_readable(p.a.get(), io::within(20ms), "it");
  BOOST_REQUIRE(!waited.ok());
  BOOST_CHECK(waited.err().code == errc::timeout);
}

BOOST_AUTO_TEST_CASE(a_peer_that_closes_gives_io_error) {
  socket_pair p;
  put(p.b.get(), counting(2));
  p.b.reset();
  std::array<std::uint8_t, 4> buf{};
  auto r = io::read_exact(p.a.get(), buf, io::within(10s), "the peer");
  BOOST_REQUIRE(!r.ok());
  BOOST_CHECK(r.err().code == errc::io_error);
  BOOST_CHECK_EQUAL(r.err().message,
                    "the peer closed the connection in the middle of a message; open a new connection");
  auto again = io::read_exact(p.a.get(), buf, io::within(10s), "the peer");
  BOOST_REQUIRE(!again.ok());
  BOOST_CHECK_EQUAL(again.err().message, "the peer closed the connection; open a new connection");
}

BOOST_AUTO_TEST_CASE(writing_to_a_closed_peer_is_io_error_not_sigpipe) {
  // With the default action, a SIGPIPE would end this test program: the test fails if write_all
  // ever sends without MSG_NOSIGNAL.
  auto previous = ::signal(SIGPIPE, SIG_DFL);
  socket_pair p;
  p.b.reset();
  auto r = io::write_all(p.a.get(), counting(1 << 16), io::within(10s), "the gone peer");
  ::signal(SIGPIPE, previous);
  BOOST_REQUIRE(!r.ok());
  BOOST_CHECK(r.err().code == errc::io_error);
}

BOOST_AUTO_TEST_CASE(an_oversized_frame_is_refused_before_its_body_is_read) {
  socket_pair p;
  // A header announcing 4 GiB - 16 bytes and no body: a receiver that allocated or waited for the
  // body would fail with another code (timeout) or not at all.
  put(p.b.get(), {0xff, 0xff, 0xff, 0xf0});
  auto r = io::receive_frame(p.a.get(), 1024, io::within(10s), "the peer", "hello");
  BOOST_REQUIRE(!r.ok());
  BOOST_CHECK(r.err().code == errc::too_large);
  BOOST_CHECK_EQUAL(r.err().message, "the peer announced a hello of 4294967280 bytes, over the limit of 1024; "
                                     "it does not speak this protocol version");
}

BOOST_AUTO_TEST_CASE(frames_round_trip_at_and_below_the_limit) {
  socket_pair p;
  auto body = counting(1024, 9);
  BOOST_REQUIRE(io::send_frame(p.b.get(), body, io::within(10s), "the reader").ok());
  BOOST_REQUIRE(io::send_frame(p.b.get(), {}, io::within(10s), "the reader").ok());
  auto first = io::receive_frame(p.a.get(), 1024, io::within(10s), "the writer", "frame");
  BOOST_REQUIRE_MESSAGE(first.ok(), why(first));
  BOOST_CHECK(*first == body);
  auto empty = io::receive_frame(p.a.get(), 1024, io::within(10s), "the writer", "frame");
  BOOST_REQUIRE(empty.ok());
  BOOST_CHECK(empty->empty());
}

BOOST_AUTO_TEST_CASE(non_blocking_sockets_move_more_than_their_buffers_hold) {
  socket_pair p;
  for (int fd : {p.a.get(), p.b.get()})
    BOOST_REQUIRE(::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) == 0);
  auto body = counting(4 << 20, 1);
  result<std::vector<std::uint8_t>> got = fail(errc::invalid_state, "reader did not run");
  std::thread reader{[&] { got = io::receive_frame(p.a.get(), body.size(), io::within(10s), "writer", "frame"); }};
  auto sent = io::send_frame(p.b.get(), body, io::within(10s), "reader");
  reader.join();
  BOOST_REQUIRE_MESSAGE(sent.ok(), why(sent));
  BOOST_REQUIRE_MESSAGE(got.ok(), why(got));
  BOOST_CHECK(*got == body);
}
