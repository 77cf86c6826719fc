#pragma once

// Moving bytes over a connected stream socket (TCP or unix) with deadlines: read exactly n bytes,
// write all of them, and u32be length-prefixed frames. Works on blocking and non-blocking sockets
// alike (send/recv with MSG_DONTWAIT, poll when the socket has nothing) and never raises SIGPIPE
// (MSG_NOSIGNAL). The secure stream, the attested sessions, the secure processor, the CT VM's peer
// greeting and the rss3 greeting all use these.

#include "joconde/messages/result.hpp"

#include <chrono>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace joconde::io {

/// The clock every deadline is on.
using io_clock = std::chrono::steady_clock;

/// How long an exchange may wait: `idle` bounds each wait for the peer to move a byte, `deadline`
/// (if any) the whole exchange.
struct io_budget {
  std::chrono::milliseconds idle{5000};                         ///< longest wait without progress
  io_clock::time_point deadline = io_clock::time_point::max();  ///< when everything must be done
};

/// An io_budget whose idle time and deadline are both `timeout` from now.
io_budget within(std::chrono::milliseconds timeout);

/// An io_budget bounded by `deadline` only (however slowly the bytes trickle in before it).
io_budget until(io_clock::time_point deadline);

/// Waits until `fd` is readable (data or end of stream): timeout when nothing arrives within the
/// budget, io_error when poll fails. `peer` names the other side in messages.
result<void> wait_readable(int fd, const io_budget& budget, std::string_view peer);

/// Reads exactly `out.size()` bytes: io_error when the peer closes first or the socket fails,
/// timeout when the budget runs out.
result<void> read_exact(int fd, std::span<std::uint8_t> out, const io_budget& budget,
                        std::string_view peer);

/// Writes all of `data`: io_error when the peer is gone or the socket fails, timeout when the budget
/// runs out.
result<void> write_all(int fd, std::span<const std::uint8_t> data, const io_budget& budget,
                       std::string_view peer);

/// Largest body a u32be frame can announce.
inline constexpr std::size_t max_frame_body = 0xffffffffu;

/// Sends `body` as one frame: u32be(length) || body. too_large when it does not fit a u32.
result<void> send_frame(int fd, std::span<const std::uint8_t> body, const io_budget& budget,
                        std::string_view peer);

/// Receives one frame that send_frame sent; too_large, before allocating anything, when its announced
/// length is over `max`. `what` names the message in errors.
result<std::vector<std::uint8_t>> receive_frame(int fd, std::size_t max, const io_budget& budget,
                                                std::string_view peer, std::string_view what);

} // namespace joconde::io
