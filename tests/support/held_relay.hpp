#pragma once

// A TCP relay on 127.0.0.1 in front of one endpoint that holds every connection it takes until the
// test releases it: put between the CT VMs and a counterpart's MPC endpoint (ct_cluster_options::
// peers_for), it keeps that counterpart waiting for the parties that dial it, so its acceptor stays
// open while a test attacks it; once released, the held connections and every later one are joined
// to the endpoint and their bytes copied both ways. No test framework here: a step that cannot be
// set up throws fixture_error.

#include "support/ct_fixture.hpp"

#include "joconde/runtime/net.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace joconde::test {

class held_relay {
public:
  /// Most connections it takes; later ones are closed at once.
  static constexpr std::size_t max_connections = 16;

  /// Listens on 127.0.0.1 (a port of the kernel's choice) and starts taking connections.
  held_relay() {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof at;
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0
        || ::listen(listener_, 16) != 0 || ::getsockname(listener_, reinterpret_cast<sockaddr*>(&at), &len) != 0) {
      if (listener_ >= 0)
        ::close(listener_);
      throw fixture_error{"the relay cannot listen on 127.0.0.1"};
    }
    port_ = ntohs(at.sin_port);
    acceptor_ = std::thread{[this] { take(); }};
  }

  held_relay(const held_relay&) = delete;
  held_relay& operator=(const held_relay&) = delete;

  /// Stops taking connections, cuts every one and waits for its threads.
  ~held_relay() {
    stop_ = true;
    acceptor_.join();
    {
      std::lock_guard lock{mutex_};
      for (auto& p : pairs_) {
        ::shutdown(p.from, SHUT_RDWR);
        if (p.to >= 0)
          ::shutdown(p.to, SHUT_RDWR);
      }
    }
    for (auto& t : copies_)
      t.join();
    for (auto& p : pairs_) {
      ::close(p.from);
      if (p.to >= 0)
        ::close(p.to);
    }
    ::close(listener_);
  }

  /// Where to dial the relay: "127.0.0.1:PORT".
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  /// The endpoint it relays to ("HOST:PORT"); set before the first connection is released.
  void upstream(const std::string& host_port) {
    auto at = net::parse_host_port(host_port);
    if (!at)
      throw fixture_error{"the relay's upstream " + host_port + ": " + at.err().describe()};
    std::lock_guard lock{mutex_};
    upstream_ = *at;
  }

  /// The connections it has taken so far.
  std::size_t connections() const {
    std::lock_guard lock{mutex_};
    return pairs_.size();
  }

  /// Joins the held connections to the upstream endpoint, and every later one as it comes.
  void release() {
    std::lock_guard lock{mutex_};
    released_ = true;
    for (std::size_t i = 0; i < pairs_.size(); ++i)
      join(i);
  }

private:
  struct pair {
    int from = -1;  ///< the connection it took
    int to = -1;    ///< its connection to the upstream endpoint, once released
  };

  /// Takes connections until stopped (a wake-up every 100 ms to see the stop flag).
  void take() {
    while (!stop_) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0)
        continue;
      int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0)
        continue;
      std::lock_guard lock{mutex_};
      if (pairs_.size() >= max_connections) {
        ::close(fd);
        continue;
      }
      pairs_.push_back({fd, -1});
      if (released_)
        join(pairs_.size() - 1);
    }
  }

  /// Connects pair `i` to the upstream endpoint and copies its bytes both ways. Under mutex_.
  void join(std::size_t i) {
    auto& p = pairs_[i];
    if (p.to >= 0)
      return;
    p.to = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(upstream_.port);
    ::inet_pton(AF_INET, upstream_.host.c_str(), &to.sin_addr);
    if (p.to < 0 || ::connect(p.to, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
      // The dialler sees its connection close and tries again.
      ::shutdown(p.from, SHUT_RDWR);
      return;
    }
    copies_.emplace_back(copy, p.from, p.to);
    copies_.emplace_back(copy, p.to, p.from);
  }

  /// Copies what `from` sends to `to` until `from` ends or either breaks; then ends `to`'s side.
  static void copy(int from, int to) {
    char buf[16384];
    for (;;) {
      auto n = ::recv(from, buf, sizeof buf, 0);
      if (n <= 0)
        break;
      for (ssize_t sent = 0; sent < n;) {
        auto k = ::send(to, buf + sent, static_cast<std::size_t>(n - sent), MSG_NOSIGNAL);
        if (k <= 0) {
          ::shutdown(from, SHUT_RD);
          return;
        }
        sent += k;
      }
    }
    ::shutdown(to, SHUT_WR);
  }

  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  net::host_port upstream_;
  bool released_ = false;
  std::vector<pair> pairs_;
  std::vector<std::thread> copies_;
  std::thread acceptor_;
};

} // namespace joconde::test
