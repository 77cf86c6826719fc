#include "vm_sockets.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <thread>

namespace joconde::vm::detail {

result<address> parse_address(const std::string& text) {
  auto a = net::parse_host_port(text);
  if (!a)
    return fail(errc::malformed_input, a.err().message);
  return std::move(*a);
}

result<std::pair<io::unique_fd, std::uint16_t>> listen_on(const std::string& host, const net::port_range& ports) {
  auto l = ports.size() == 0 ? net::listen_tcp({host, 0}) : net::listen_in_range(host, ports);
  if (!l)
    return l.err();
  return std::pair{std::move(l->fd), l->port};
}

result<io::unique_fd> connect_to(const address& a, std::chrono::milliseconds timeout,
                            const std::atomic<bool>& stopping) {
  using steady = std::chrono::steady_clock;
  auto until = steady::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - steady::now());
    auto fd = net::connect_tcp(a, std::max(std::min(left, std::chrono::milliseconds{2000}),
                                           std::chrono::milliseconds{1}));
    if (fd)
      return std::move(*fd);
    if (fd.err().code == errc::invalid_config || stopping || steady::now() >= until)
      return fail(fd.err().code == errc::invalid_config ? errc::malformed_input : errc::timeout,
                  "cannot reach " + a.text() + ": " + fd.err().message);
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
}

io::unique_fd accept_for(int listen_fd, int ms) {
  pollfd p{listen_fd, POLLIN, 0};
  if (::poll(&p, 1, ms) <= 0)
    return io::unique_fd{};
  io::unique_fd fd{::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC)};
  if (fd.valid()) {
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

std::string to_string(const std::vector<std::uint8_t>& b) { return {b.begin(), b.end()}; }

} // namespace joconde::vm::detail
