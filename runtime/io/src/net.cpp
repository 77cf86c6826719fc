#include "joconde/io/net.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>

namespace joconde::net {

namespace {

using steady = std::chrono::steady_clock;

/// getaddrinfo's list, freed on scope exit.
using addrinfo_ptr = std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)>;

/// Resolves `host` (and `port`, numeric) for a stream socket; `passive` for a listener.
result<addrinfo_ptr> lookup(const std::string& host, std::uint16_t port, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  if (is_ip_literal(host))
    hints.ai_flags |= AI_NUMERICHOST;
  addrinfo* list = nullptr;
  auto service = std::to_string(port);
  int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &list);
  if (rc != 0 || list == nullptr)
    return fail(errc::invalid_config, "cannot resolve the host name '" + host + "': "
                                        + (rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc)));
  return addrinfo_ptr{list, &::freeaddrinfo};
}

std::string numeric(const sockaddr* sa, socklen_t len) {
  char host[NI_MAXHOST] = {};
  if (::getnameinfo(sa, len, host, sizeof host, nullptr, 0, NI_NUMERICHOST) != 0)
    return "?";
  return host;
}

bool loopback_address(const sockaddr* sa) {
  if (sa->sa_family == AF_INET) {
    auto a = ntohl(reinterpret_cast<const sockaddr_in*>(sa)->sin_addr.s_addr);
    return (a >> 24) == 127;
  }
  if (sa->sa_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&a))
      return true;
    // ::ffff:127.x.y.z
    return IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127;
  }
  return false;
}

/// Binds and listens on one resolved address; the errno of the failing call on failure.
std::pair<socket_fd, int> bind_one(const addrinfo* ai, int backlog) {
  socket_fd fd{::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol)};
  if (fd.get() < 0)
    return {socket_fd{}, errno};
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ai->ai_family == AF_INET6) {
    // The IPv6 wildcard serves IPv4 too; a specific IPv6 address only itself.
    int zero = 0;
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  }
  if (::bind(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd.get(), backlog) != 0)
    return {socket_fd{}, errno};
  return {std::move(fd), 0};
}

std::uint16_t bound_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    return 0;
  if (ss.ss_family == AF_INET)
    return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6)
    return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return 0;
}

/// Binds the first address of `at` that can be bound; the last errno otherwise.
result<std::pair<listener, int>> try_listen(const host_port& at, int backlog) {
  auto list = lookup(at.host, at.port, true);
  if (!list)
    return list.err();
  int last = EADDRNOTAVAIL;
  for (auto* ai = list->get(); ai != nullptr; ai = ai->ai_next) {
    auto [fd, err] = bind_one(ai, backlog);
    if (fd.get() >= 0) {
      listener l;
      l.port = bound_port(fd.get());
      l.fd = std::move(fd);
      return std::pair{std::move(l), 0};
    }
    last = err;
  }
  return std::pair{listener{}, last};
}

/// Waits for a non-blocking connect on `fd` until `deadline`; 0 or the errno.
int finish_connect(int fd, steady::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
    if (left <= 0)
      return ETIMEDOUT;
    pollfd p{fd, POLLOUT, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return errno;
    if (r == 0)
      continue;
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
      return errno;
    return err;
  }
}

} // namespace

// -- texts ---------------------------------------------------------------------------------------

std::string host_port::text() const {
  return bracketed(host) + ":" + std::to_string(port);
}

bool is_ipv6_literal(std::string_view host) {
  if (host.empty() || host.size() > INET6_ADDRSTRLEN)
    return false;
  in6_addr a{};
  return ::inet_pton(AF_INET6, std::string{host}.c_str(), &a) == 1;
}

bool is_ip_literal(std::string_view host) {
  if (host.empty() || host.size() > INET6_ADDRSTRLEN)
    return false;
  in_addr a{};
  return ::inet_pton(AF_INET, std::string{host}.c_str(), &a) == 1 || is_ipv6_literal(host);
}

bool is_host_name(std::string_view host) {
  if (host.empty() || host.size() > 253)
    return false;
  // Digits and dots only would be a (malformed) IPv4 address, never a name.
  if (host.find_first_not_of("0123456789.") == std::string_view::npos)
    return false;
  size_t start = 0;
  while (start <= host.size()) {
    auto dot = host.find('.', start);
    auto label = host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-'))
        return false;
    if (dot == std::string_view::npos)
      break;
    start = dot + 1;
  }
  return true;
}

bool is_valid_host(std::string_view host) {
  return is_ip_literal(host) || is_host_name(host);
}

bool is_wildcard(std::string_view host) {
  std::string h{host};
  in_addr a4{};
  if (::inet_pton(AF_INET, h.c_str(), &a4) == 1)
    return a4.s_addr == htonl(INADDR_ANY);
  in6_addr a6{};
  if (::inet_pton(AF_INET6, h.c_str(), &a6) == 1)
    return IN6_IS_ADDR_UNSPECIFIED(&a6);
  return false;
}

bool is_loopback(std::string_view host) {
  if (!is_valid_host(host))
    return false;
  auto list = lookup(std::string{host}, 0, false);
  if (!list)
    return false;
  bool any = false;
  for (auto* ai = list->get(); ai != nullptr; ai = ai->ai_next) {
    if (!loopback_address(ai->ai_addr))
      return false;
    any = true;
  }
  return any;
}

std::string bracketed(std::string_view host) {
  if (is_ipv6_literal(host))
    return "[" + std::string{host} + "]";
  return std::string{host};
}

result<host_port> parse_host_port(std::string_view text, bool allow_port_zero) {
  auto bad = [&](std::string_view why) {
    return fail(errc::invalid_config, "'" + std::string{text.substr(0, 300)} + "' " + std::string{why}
                                        + "; expected host:port, e.g. 198.18.0.11:4701, [2001:db8::1]:4701 "
                                          "or cp1.example.org:4701");
  };
  if (text.size() > 300)
    return bad("is too long");
  host_port out;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos)
      return bad("has an unterminated '['");
    out.host = std::string{text.substr(1, close - 1)};
    if (!is_ipv6_literal(out.host))
      return bad("has no IPv6 address inside [ ]");
    auto rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':')
      return bad("has no port after the IPv6 address");
    port = rest.substr(1);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos)
      return bad("has no port");
    out.host = std::string{text.substr(0, colon)};
    if (out.host.find(':') != std::string::npos)
      return bad("has more than one ':' (write an IPv6 address in brackets)");
    if (!is_valid_host(out.host))
      return bad("does not start with an IP address or a host name");
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || port.size() > 5 || ec != std::errc{} || end != port.data() + port.size()
      || value > 65535 || (value == 0 && !allow_port_zero))
    return bad(allow_port_zero ? "has no valid port (0-65535)" : "has no valid port (1-65535)");
  out.port = static_cast<std::uint16_t>(value);
  return out;
}

result<std::vector<std::string>> resolve(std::string_view host) {
  if (!is_valid_host(host))
    return fail(errc::invalid_config, "'" + std::string{host.substr(0, 300)} + "' is neither an IP "
                                        "address nor a host name");
  auto list = lookup(std::string{host}, 0, false);
  if (!list)
    return list.err();
  std::vector<std::string> out;
  for (auto* ai = list->get(); ai != nullptr; ai = ai->ai_next) {
    auto a = numeric(ai->ai_addr, ai->ai_addrlen);
    if (std::find(out.begin(), out.end(), a) == out.end())
      out.push_back(std::move(a));
  }
  return out;
}

std::string port_range::text() const {
  return std::to_string(first) + "-" + std::to_string(last);
}

result<port_range> parse_port_range(std::string_view text) {
  auto bad = [&] {
    return fail(errc::invalid_config, "'" + std::string{text.substr(0, 64)} + "' is not a port range; "
                                        "expected FIRST-LAST with 1 <= FIRST <= LAST <= 65535, e.g. 20000-20999");
  };
  auto number = [](std::string_view s, unsigned& v) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return !s.empty() && s.size() <= 5 && ec == std::errc{} && end == s.data() + s.size();
  };
  unsigned a = 0;
  unsigned b = 0;
  auto dash = text.find('-');
  if (dash == std::string_view::npos) {
    if (!number(text, a))
      return bad();
    b = a;
  } else if (!number(text.substr(0, dash), a) || !number(text.substr(dash + 1), b)) {
    return bad();
  }
  if (a == 0 || b > 65535 || a > b)
    return bad();
  return port_range{static_cast<std::uint16_t>(a), static_cast<std::uint16_t>(b)};
}

// -- sockets -------------------------------------------------------------------------------------

result<listener> listen_tcp(const host_port& at, int backlog) {
  auto r = try_listen(at, backlog);
  if (!r)
    return r.err();
  if (r->first.fd.get() < 0)
    return fail(errc::io_error, "cannot listen on " + at.text() + ": " + std::strerror(r->second)
                                  + (r->second == EADDRINUSE ? " (another process holds the port)" : ""));
  return std::move(r->first);
}

result<listener> listen_in_range(std::string_view host, const port_range& range, int backlog) {
  if (range.size() == 0)
    return fail(errc::invalid_config, "the port range " + range.text() + " is empty");
  for (unsigned p = range.first; p <= range.last; ++p) {
    auto r = try_listen(host_port{std::string{host}, static_cast<std::uint16_t>(p)}, backlog);
    if (!r)
      return r.err();
    if (r->first.fd.get() >= 0)
      return std::move(r->first);
    if (r->second != EADDRINUSE)
      return fail(errc::io_error, "cannot listen on " + host_port{std::string{host}, static_cast<std::uint16_t>(p)}.text()
                                    + ": " + std::strerror(r->second));
  }
  return fail(errc::resource_exhausted, "every port of the range " + range.text() + " on "
                                          + bracketed(host) + " is taken");
}

result<socket_fd> connect_tcp(const host_port& to, std::chrono::milliseconds timeout) {
  auto deadline = steady::now() + timeout;
  auto list = lookup(to.host, to.port, false);
  if (!list)
    return list.err();
  int last = ECONNREFUSED;
  for (auto* ai = list->get(); ai != nullptr; ai = ai->ai_next) {
    socket_fd fd{::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol)};
    if (fd.get() < 0) {
      last = errno;
      continue;
    }
    int err = 0;
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0)
      err = errno == EINPROGRESS ? finish_connect(fd.get(), deadline) : errno;
    if (err != 0) {
      last = err;
      if (err == ETIMEDOUT)
        break;
      continue;
    }
    ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
  }
  if (last == ETIMEDOUT)
    return fail(errc::timeout, "cannot reach " + to.text() + " within "
                                 + std::to_string(timeout.count()) + " ms");
  return fail(errc::io_error, "cannot connect to " + to.text() + ": " + std::strerror(last));
}

std::string peer_address(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    return "?";
  return numeric(reinterpret_cast<sockaddr*>(&ss), len);
}

} // namespace joconde::net
