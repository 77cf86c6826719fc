#include "joconde/io/stream.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace joconde::io {

namespace {

/// The longest single poll() wait (a day): the idle time and deadline cut it further.
constexpr std::int64_t longest_poll_ms = 24 * 3600 * 1000;

/// What poll() may wait now: the idle time, cut to what is left of the deadline; negative when the
/// deadline has passed.
int poll_timeout(const io_budget& budget) {
  auto wait = budget.idle;
  if (budget.deadline != io_clock::time_point::max()) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(budget.deadline - io_clock::now());
    if (left.count() <= 0)
      return -1;
    wait = std::min(wait, left);
  }
  return static_cast<int>(std::clamp<std::int64_t>(wait.count(), 0, longest_poll_ms));
}

error timed_out(std::string_view peer, std::string_view doing) {
  return fail(errc::timeout, std::string{peer} + " did not " + std::string{doing}
                               + " in time; check that it is running and reachable, then retry");
}

error socket_failed(std::string_view peer, int err) {
  return fail(errc::io_error, "the connection to " + std::string{peer} + " failed ("
                                + std::strerror(err) + "); open a new connection");
}

/// Waits for `events` on `fd` within the budget.
result<void> wait_for(int fd, short events, const io_budget& budget, std::string_view peer,
                      std::string_view doing) {
  for (;;) {
    auto wait = poll_timeout(budget);
    if (wait < 0)
      return timed_out(peer, doing);
    pollfd p{fd, events, 0};
    auto n = ::poll(&p, 1, wait);
    if (n > 0)
      return ok();
    if (n == 0)
      return timed_out(peer, doing);
    if (errno != EINTR)
      return socket_failed(peer, errno);
  }
}

/// True when a failed send/recv only means "nothing to move now".
bool would_block(int err) {
  return err == EAGAIN || err == EWOULDBLOCK;
}

/// Moves `size` bytes with `step(done)` (one non-blocking recv or send from offset `done`: the bytes
/// moved, or -1 with errno), waiting for `events` within `budget` whenever the socket would block. A
/// recv of 0 bytes is the peer closing the connection.
template <class Step>
result<void> transfer(int fd, std::size_t size, short events, const io_budget& budget, std::string_view peer,
                      const char* waiting_for, Step step) {
  std::size_t done = 0;
  while (done < size) {
    auto n = step(done);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n == 0 && events == POLLIN)
      return fail(errc::io_error, std::string{peer} + " closed the connection"
                                    + (done > 0 ? " in the middle of a message" : "")
                                    + "; open a new connection");
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && !would_block(errno))
      return socket_failed(peer, errno);
    if (auto r = wait_for(fd, events, budget, peer, waiting_for); !r)
      return r;
  }
  return ok();
}

} // namespace

io_budget within(std::chrono::milliseconds timeout) {
  return {timeout, io_clock::now() + timeout};
}

io_budget until(io_clock::time_point deadline) {
  return {std::chrono::milliseconds{longest_poll_ms}, deadline};
}

result<void> wait_readable(int fd, const io_budget& budget, std::string_view peer) {
  return wait_for(fd, POLLIN, budget, peer, "send anything");
}

result<void> read_exact(int fd, std::span<std::uint8_t> out, const io_budget& budget,
                        std::string_view peer) {
  return transfer(fd, out.size(), POLLIN, budget, peer, "send the rest of its message", [&](std::size_t done) {
    return ::recv(fd, out.data() + done, out.size() - done, MSG_DONTWAIT);
  });
}

result<void> write_all(int fd, std::span<const std::uint8_t> data, const io_budget& budget,
                       std::string_view peer) {
  return transfer(fd, data.size(), POLLOUT, budget, peer, "take what was sent", [&](std::size_t done) {
    return ::send(fd, data.data() + done, data.size() - done, MSG_DONTWAIT | MSG_NOSIGNAL);
  });
}

result<void> send_frame(int fd, std::span<const std::uint8_t> body, const io_budget& budget,
                        std::string_view peer) {
  if (body.size() > max_frame_body)
    return fail(errc::too_large, "a frame for " + std::string{peer} + " of " + std::to_string(body.size())
                                   + " bytes does not fit its 4-byte length; send less at once");
  std::vector<std::uint8_t> out(4);
  for (unsigned i = 0; i < 4; ++i)
    out[i] = static_cast<std::uint8_t>(body.size() >> (8 * (3 - i)));
  out.insert(out.end(), body.begin(), body.end());
  return write_all(fd, out, budget, peer);
}

result<std::vector<std::uint8_t>> receive_frame(int fd, std::size_t max, const io_budget& budget,
                                                std::string_view peer, std::string_view what) {
  std::uint8_t header[4];
  if (auto r = read_exact(fd, header, budget, peer); !r)
    return r.err();
  std::size_t len = 0;
  for (auto b : header)
    len = (len << 8) | b;
  if (len > max)
    return fail(errc::too_large, std::string{peer} + " announced a " + std::string{what} + " of "
                                   + std::to_string(len) + " bytes, over the limit of "
                                   + std::to_string(max)
                                   + "; it does not speak this protocol version");
  std::vector<std::uint8_t> out(len);
  if (auto r = read_exact(fd, out, budget, peer); !r)
    return r.err();
  return out;
}

} // namespace joconde::io
