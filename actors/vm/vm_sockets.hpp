#pragma once

// The sockets of a CT VM's endpoints (vm_run.hpp): listening in the operator's port range, dialling
// counterparts with retries, reading with deadlines. Plain POSIX, no CAF.

#include "joconde/messages/result.hpp"
#include "joconde/runtime/net.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace joconde::vm::detail {

/// Owns a file descriptor; closes it when destroyed or reset.
struct fd_guard {
  int fd = -1;
  explicit fd_guard(int f = -1) : fd{f} {}
  fd_guard(fd_guard&& o) noexcept : fd{std::exchange(o.fd, -1)} {}
  fd_guard& operator=(fd_guard&& o) noexcept {
    reset();
    fd = std::exchange(o.fd, -1);
    return *this;
  }
  ~fd_guard() { reset(); }
  void reset() {
    if (fd >= 0)
      ::close(fd);
    fd = -1;
  }
  int release() { return std::exchange(fd, -1); }
};

/// A host:port endpoint ("198.18.0.11:20001", "[2001:db8::1]:20001", "cp1.example.org:20001").
using address = net::host_port;

/// "host:port" as an address (IPv4, [IPv6] or host name); malformed_input otherwise.
result<address> parse_address(const std::string& text);

/// A TCP socket listening on `host` at the first free port of `ports` (any port the kernel picks
/// when the range is empty); resource_exhausted when every port of the range is taken.
result<std::pair<fd_guard, std::uint16_t>> listen_on(const std::string& host, const net::port_range& ports);

/// Connects to `a`, retrying until `timeout`.
result<fd_guard> connect_to(const address& a, std::chrono::milliseconds timeout,
                            const std::atomic<bool>& stopping);

/// Waits up to `ms` for a connection on `listen_fd`; -1 when none came.
int accept_for(int listen_fd, int ms);

/// Sends all `n` bytes; false when the connection broke.
bool write_all(int fd, const void* data, std::size_t n);

/// Reads exactly `n` bytes before `deadline` (however the bytes trickle in); false otherwise.
bool read_all_by(int fd, void* data, std::size_t n, std::chrono::steady_clock::time_point deadline);

/// The bytes as a string (CAF carries strings much faster than byte vectors).
std::string to_string(const std::vector<std::uint8_t>& b);

} // namespace joconde::vm::detail
