#include "vm_sockets.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <thread>

namespace joconde::vm::detail {

result<address> parse_address(const std::string& text) {
  auto a = net::parse_host_port(text);
  if (!a)
    return fail(errc::malformed_input, a.err().message);
  return std::move(*a);
}

result<std::pair<fd_guard, std::uint16_t>> listen_on(const std::string& host, const net::port_range& ports) {
  auto l = ports.size() == 0 ? net::listen_tcp({host, 0}) : net::listen_in_range(host, ports);
  if (!l)
    return l.err();
  return std::pair{fd_guard{l->fd.release()}, l->port};
}

result<fd_guard> connect_to(const address& a, std::chrono::milliseconds timeout,
                            const std::atomic<bool>& stopping) {
  using steady = std::chrono::steady_clock;
  auto until = steady::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - steady::now());
    auto fd = net::connect_tcp(a, std::max(std::min(left, std::chrono::milliseconds{2000}),
                                           std::chrono::milliseconds{1}));
    if (fd)
      return fd_guard{fd->release()};
    if (fd.err().code == errc::invalid_config || stopping || steady::now() >= until)
      return fail(fd.err().code == errc::invalid_config ? errc::malformed_input : errc::timeout,
                  "cannot reach " + a.text() + ": " + fd.err().message);
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
}

int accept_for(int listen_fd, int ms) {
  pollfd p{listen_fd, POLLIN, 0};
  if (::poll(&p, 1, ms) <= 0)
    return -1;
  int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd >= 0) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

bool write_all(int fd, const void* data, std::size_t n) {
  auto* p = static_cast<const char*>(data);
  while (n > 0) {
    auto w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0)
      return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool read_all_by(int fd, void* data, std::size_t n, std::chrono::steady_clock::time_point deadline) {
  auto* p = static_cast<char*>(data);
  while (n > 0) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return false;
    pollfd pf{fd, POLLIN, 0};
    int ready = ::poll(&pf, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 60'000)));
    if (ready < 0 && errno != EINTR)
      return false;
    if (ready <= 0)
      continue;  // the deadline check above ends the wait
    auto r = ::recv(fd, p, n, 0);
    if (r <= 0)
      return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

std::string to_string(const std::vector<std::uint8_t>& b) { return {b.begin(), b.end()}; }

} // namespace joconde::vm::detail
