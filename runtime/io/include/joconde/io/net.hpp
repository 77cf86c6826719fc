#pragma once

// TCP addresses as operators write them, and the sockets behind them (DESIGN.md §3: every listener
// has a bind address and, where others must reach it, an advertised name; nothing assumes loopback).
//
// An address is "host:port" where host is an IPv4 literal (198.18.0.11), an IPv6 literal in brackets
// ([2001:db8::1]) or a DNS host name (cp1.example.org). Names are resolved when a socket is made, with
// getaddrinfo, so /etc/hosts and DNS both work; a listener on a name binds the first address it
// resolves to that can be bound. No CAF here: the node, the CT VM, the tools and the rss3 parties
// share it (library joconde_io).

#include "joconde/io/fd.hpp"
#include "joconde/messages/result.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace joconde::net {

/// A host (IP literal without brackets, or a DNS name) and a TCP port.
struct host_port {
  std::string host;
  std::uint16_t port = 0;

  /// "host:port"; an IPv6 literal in brackets ("[::1]:4700").
  std::string text() const;
};

/// Parses "host:port", "[v6]:port". Port 0 only when `allow_port_zero` (a listener that lets the
/// kernel choose). invalid_config saying what is expected otherwise.
result<host_port> parse_host_port(std::string_view text, bool allow_port_zero = false);

/// True if `host` is an IPv4 or IPv6 literal (no brackets).
bool is_ip_literal(std::string_view host);

/// True if `host` is an IPv6 literal (no brackets).
bool is_ipv6_literal(std::string_view host);

/// True if `host` is a syntactically valid DNS host name (letters, digits, '-' in labels of at most
/// 63 characters, at most 253 in all; a trailing dot is not accepted; not digits and dots only).
bool is_host_name(std::string_view host);

/// True if `host` is an IP literal or a host name (what an address may name).
bool is_valid_host(std::string_view host);

/// True for the wildcard addresses 0.0.0.0 and :: (a listener on every interface).
bool is_wildcard(std::string_view host);

/// True if every address `host` resolves to is a loopback address (127.0.0.0/8, ::1); false when it
/// does not resolve or any of its addresses is not a loopback address.
bool is_loopback(std::string_view host);

/// `host` in brackets if it is an IPv6 literal, else unchanged (for URLs and host:port texts).
std::string bracketed(std::string_view host);

/// The numeric addresses `host` resolves to (IPv4 and IPv6, in getaddrinfo's order); invalid_config
/// naming the host when it is not a host or does not resolve.
result<std::vector<std::string>> resolve(std::string_view host);

/// An inclusive range of TCP ports, e.g. the ports a Computing Party opened for its CT VMs.
struct port_range {
  std::uint16_t first = 0;
  std::uint16_t last = 0;

  /// How many ports the range holds.
  unsigned size() const { return last >= first && first != 0 ? last - first + 1u : 0u; }
  /// "first-last".
  std::string text() const;
};

/// Parses "first-last" (1 <= first <= last <= 65535) or a single port "p"; invalid_config otherwise.
result<port_range> parse_port_range(std::string_view text);

/// An owned socket (the one descriptor owner, io::unique_fd, under the name the address code and
/// its callers use).
using socket_fd = io::unique_fd;

/// A listening TCP socket and the port it is bound to.
struct listener {
  socket_fd fd;
  std::uint16_t port = 0;
};

/// Binds and listens on `at` (SO_REUSEADDR, close-on-exec; port 0 lets the kernel choose). A wildcard
/// "::" listener also accepts IPv4. io_error naming the address when nothing can be bound,
/// invalid_config when the host does not resolve.
result<listener> listen_tcp(const host_port& at, int backlog = 64);

/// Binds and listens on the first free port of `range` on `host`, skipping ports that are taken;
/// resource_exhausted naming the range when every port of it is taken.
result<listener> listen_in_range(std::string_view host, const port_range& range, int backlog = 64);

/// Connects to `to` (every resolved address in turn) within `timeout`; the socket is blocking, with
/// TCP_NODELAY and close-on-exec. io_error (refused, unreachable), timeout, or invalid_config when the
/// host does not resolve.
result<socket_fd> connect_tcp(const host_port& to, std::chrono::milliseconds timeout);

/// The numeric address of the peer of a connected socket ("198.18.0.11", "::1"), or "?".
std::string peer_address(int fd);

} // namespace joconde::net
