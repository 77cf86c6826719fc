#pragma once

// The sockets of a CT VM's endpoints (vm_run.hpp): listening in the operator's port range, dialling
// counterparts with retries (reads and writes with deadlines are joconde/io/stream.hpp). Plain
// POSIX, no CAF.

#include "joconde/messages/result.hpp"
#include "joconde/io/fd.hpp"
#include "joconde/io/net.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace joconde::vm::detail {

/// A host:port endpoint ("198.18.0.11:20001", "[2001:db8::1]:20001", "cp1.example.org:20001").
using address = net::host_port;

/// "host:port" as an address (IPv4, [IPv6] or host name); malformed_input otherwise.
result<address> parse_address(const std::string& text);

/// A TCP socket listening on `host` at the first free port of `ports` (any port the kernel picks
/// when the range is empty); resource_exhausted when every port of the range is taken.
result<std::pair<io::unique_fd, std::uint16_t>> listen_on(const std::string& host, const net::port_range& ports);

/// Connects to `a`, retrying until `timeout`.
result<io::unique_fd> connect_to(const address& a, std::chrono::milliseconds timeout,
                            const std::atomic<bool>& stopping);

/// Waits up to `ms` for a connection on `listen_fd` (TCP_NODELAY, close-on-exec); no descriptor
/// when none came.
io::unique_fd accept_for(int listen_fd, int ms);

/// The bytes as a string (CAF carries strings much faster than byte vectors).
std::string to_string(const std::vector<std::uint8_t>& b);

} // namespace joconde::vm::detail
