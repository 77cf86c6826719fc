#pragma once

// Private helpers that move bytes over a connected stream socket (TCP or unix) with timeouts: the
// secure stream, the attested sessions and the secure processor's attestation socket use them. They
// work on blocking and non-blocking sockets alike (send/recv with MSG_DONTWAIT after poll) and never
// raise SIGPIPE (MSG_NOSIGNAL). Not installed; nothing outside enclave/src includes it.

#include "joconde/enclave/platform.hpp"

#include <chrono>
#include <cstdint>
#include <span>
#include <string_view>

namespace joconde::enclave::detail {

/// The clock every deadline is on.
using io_clock = std::chrono::steady_clock;

/// How long an exchange may wait: `idle` bounds each wait for the peer to move a byte, `deadline`
/// (if any) the whole exchange.
struct io_budget {
  std::chrono::milliseconds idle{5000};             ///< longest wait without progress
  io_clock::time_point deadline = io_clock::time_point::max();  ///< when everything must be done
};

/// An io_budget whose idle time and deadline are both `timeout` from now.
io_budget within(std::chrono::milliseconds timeout);

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

/// Sends `blob` as u32be(length) || blob.
result<void> send_blob(int fd, std::span<const std::uint8_t> blob, const io_budget& budget,
                       std::string_view peer);

/// Receives what send_blob sent; too_large (before allocating) when its length is over `max`.
/// `what` names the message in errors.
result<bytes> receive_blob(int fd, std::size_t max, const io_budget& budget, std::string_view peer,
                           std::string_view what);

} // namespace joconde::enclave::detail
