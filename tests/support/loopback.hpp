#pragma once

// Sockets on 127.0.0.1 for tests that need a port: one bound (and listening, if asked) on a port the
// kernel chose, or a port nothing listens on.

#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace joconde::test {

/// A socket bound to 127.0.0.1 on a kernel-chosen port; listens if asked; closed when destroyed.
struct bound_socket {
  int fd = -1;
  std::uint16_t port = 0;

  explicit bound_socket(bool listen) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    socklen_t len = sizeof(addr);
    BOOST_REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port = ntohs(addr.sin_port);
    if (listen)
      BOOST_REQUIRE(::listen(fd, 4) == 0);
  }
  bound_socket(const bound_socket&) = delete;
  bound_socket& operator=(const bound_socket&) = delete;
  ~bound_socket() {
    if (fd >= 0)
      ::close(fd);
  }
};

/// A port nothing listens on (bound once, then released).
inline std::uint16_t free_port() {
  bound_socket s{false};
  return s.port;
}

} // namespace joconde::test
