#pragma once

// What the parts of the http test program (http_test.cpp and http_test_*.cpp) share: sockets,
// servers with test routes, raw and HTTPS clients, and an observer of the server's refusals.

#include <boost/test/unit_test.hpp>

#include "joconde/runtime/http_client.hpp"
#include "joconde/runtime/http_server.hpp"
#include "joconde/runtime/net.hpp"
#include "support/loopback.hpp"

#include "support/https_pki.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <condition_variable>
#include <fstream>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace http_test_support {

using namespace joconde;
using namespace std::chrono_literals;

using test::bound_socket;
using test::free_port;

inline std::unique_ptr<http::server> start_server(size_t max_body = 1024) {
  auto srv = http::server::start("127.0.0.1:0", max_body, 2);
  BOOST_REQUIRE_MESSAGE(srv.ok(), (srv.ok() ? "" : srv.err().describe()));
  return std::move(srv).value();
}

inline std::string base(const http::server& srv) {
  return "http://" + srv.listen_address();
}

inline http::response must_send(const std::string& base_url, std::string method, std::string path,
                                std::string body = {}, std::string token = {}) {
  auto res = http::client::send(base_url, std::move(method), std::move(path), std::move(body),
                                std::move(token), 10s);
  BOOST_REQUIRE_MESSAGE(res.ok(), (res.ok() ? "" : res.err().describe()));
  return std::move(res).value();
}

inline std::string error_code(const http::response& res) {
  auto j = res.json_body();
  BOOST_REQUIRE_MESSAGE(j.ok(), "not JSON: " + res.body);
  return j->at("error").at("code").get<std::string>();
}

// Sends raw bytes to 127.0.0.1:port and returns everything the server answers until it closes.
inline std::string raw_exchange(std::uint16_t port, const std::string& bytes) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  for (;;) {
    auto n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0)
      break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

// Accepts one connection, reads the request head, writes `reply` and closes.
class canned_server {
public:
  explicit canned_server(std::string reply) : reply_(std::move(reply)) {
    thread_ = std::thread{[this] { run(); }};
  }
  ~canned_server() {
    if (thread_.joinable())
      thread_.join();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(sock_.port);
  }
  // The request head it read, once it has answered.
  std::string request_head() {
    if (thread_.joinable())
      thread_.join();
    return head_;
  }

private:
  void run() {
    pollfd pfd{sock_.fd, POLLIN, 0};
    if (::poll(&pfd, 1, 10'000) != 1)
      return;
    int fd = ::accept(sock_.fd, nullptr, nullptr);
    if (fd < 0)
      return;
    std::string& head = head_;
    char buf[1024];
    while (head.find("\r\n\r\n") == std::string::npos) {
      pollfd in{fd, POLLIN, 0};
      if (::poll(&in, 1, 10'000) != 1)
        break;
      auto n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0)
        break;
      head.append(buf, static_cast<size_t>(n));
    }
    ::send(fd, reply_.data(), reply_.size(), MSG_NOSIGNAL);
    ::close(fd);
  }

  bound_socket sock_{true};
  std::string reply_;
  std::string head_;
  std::thread thread_;
};

// What the client makes of a server that answers `reply` to a GET: the response or the error.
inline result<http::response> answer_to(std::string reply) {
  canned_server srv{std::move(reply)};
  return http::client::send(srv.url(), "GET", "/", {}, {}, 60s);
}

// Checks that the client refuses `reply` with `code`, saying `says`.
inline void expect_refusal(std::string reply, errc code, std::string_view says = {}) {
  auto r = answer_to(std::move(reply));
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST((r.err().code == code), r.err().describe());
  BOOST_TEST(r.err().message.find(says) != std::string::npos, r.err().message);
}

inline std::uint16_t port_of(const http::server& srv) {
  auto addr = srv.listen_address();
  return static_cast<std::uint16_t>(std::stoi(addr.substr(addr.rfind(':') + 1)));
}

// libcurl opens SSLKEYLOGFILE once, when it is initialised, to log TLS secrets there: set before
// the first request, and checked to stay empty (https_secrets_never_reach_an_sslkeylogfile).
inline std::string keylog_file() {
  return (std::filesystem::temp_directory_path() / ("joconde-http-keylog-" + std::to_string(::getpid())))
    .string();
}

// Remembers what on_refusal was told.
class refusals {
public:
  http::refusal_fn observer() {
    return [this](const std::string& peer, const std::string& reason) {
      std::lock_guard guard{mtx_};
      seen_.emplace_back(peer, reason);
      cv_.notify_all();
    };
  }

  // Waits (bounded) until `reason` was reported `n` times; the number seen.
  size_t wait_for(const std::string& reason, size_t n = 1) {
    std::unique_lock lock{mtx_};
    cv_.wait_for(lock, 10s, [&] { return count_locked(reason) >= n; });
    return count_locked(reason);
  }

  size_t count(const std::string& reason) {
    std::lock_guard guard{mtx_};
    return count_locked(reason);
  }

  // The peer of the first report of `reason`, or empty.
  std::string peer_of(const std::string& reason) {
    std::lock_guard guard{mtx_};
    for (const auto& [peer, r] : seen_)
      if (r == reason)
        return peer;
    return {};
  }

private:
  size_t count_locked(const std::string& reason) const {
    return static_cast<size_t>(std::count_if(seen_.begin(), seen_.end(),
                                             [&](const auto& p) { return p.second == reason; }));
  }

  std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<std::pair<std::string, std::string>> seen_;
};

inline std::unique_ptr<http::server> start_with(const http::server_options& options) {
  auto srv = http::server::start(options);
  BOOST_REQUIRE_MESSAGE(srv.ok(), (srv.ok() ? "" : srv.err().describe()));
  return std::move(srv).value();
}

inline void add_echo(http::server& srv) {
  srv.route("POST", "/echo", [](const http::request& req) {
    return http::response::json(200, {{"body", req.body},
                                      {"token", req.bearer_token},
                                      {"remote", req.remote_addr}});
  });
  srv.route("GET", "/hello", [](const http::request& req) {
    return http::response::json(200, {{"hello", "world"}, {"remote", req.remote_addr}});
  });
}

// GET /slow: counts its callers in `entered` and blocks until `released` is ready.
inline void add_slow(http::server& srv, std::atomic<int>& entered, std::shared_future<void> released) {
  srv.route("GET", "/slow", [&entered, released](const http::request&) {
    ++entered;
    released.wait();
    return http::response::json(200, {{"slow", true}});
  });
}

// A TCP connection to 127.0.0.1:port from `source` (another loopback address is another client).
inline net::socket_fd connect_from(const char* source, std::uint16_t port) {
  net::socket_fd fd{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  sockaddr_in from{};
  from.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &from.sin_addr);
  BOOST_REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&from), sizeof from) == 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
  timeval tv{10, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

inline void send_all(int fd, const std::string& bytes) {
  BOOST_REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
}

// Everything the server sends until it closes; `closed` tells whether it did (within 10 s).
inline std::string read_until_close(int fd, bool* closed = nullptr) {
  std::string out;
  char buf[4096];
  for (;;) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (closed != nullptr)
      *closed = n == 0 || (n < 0 && errno == ECONNRESET);
    return out;
  }
}

// A request from `source` that must be answered.
inline std::string request_from(const char* source, std::uint16_t port, const std::string& bytes) {
  auto fd = connect_from(source, port);
  send_all(fd.get(), bytes);
  return read_until_close(fd.get());
}

// Polls `done` until it holds or 10 s passed.
template <class Pred>
bool eventually(Pred done) {
  auto until = std::chrono::steady_clock::now() + 10s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// Server options listening on 127.0.0.1 (any port) that tell `refused` what they refuse.
inline http::server_options loopback_options(refusals& refused) {
  http::server_options o;
  o.listen = "127.0.0.1:0";
  o.on_refusal = refused.observer();
  return o;
}

// A server started with `o`, with the echo routes and GET /slow, whose handlers count themselves in
// `entered` and wait until `release` is set.
struct slow_server {
  std::unique_ptr<http::server> srv;
  std::atomic<int> entered{0};
  std::promise<void> release;

  explicit slow_server(const http::server_options& o) : srv{start_with(o)} {
    add_echo(*srv);
    add_slow(*srv, entered, release.get_future().share());
  }
};

// Whether a GET /hello from `source` is answered 200 within 10 s (a slot freed, a limit lifted).
inline bool served_eventually(const char* source, std::uint16_t port) {
  return eventually([&] {
    return request_from(source, port, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").rfind("HTTP/1.1 200", 0) == 0;
  });
}

// An HTTPS server with the echo routes, its CA file and what it refused.
struct https_fixture {
  test::https_pki pki;
  refusals refused;
  std::unique_ptr<http::server> srv;
  std::string ca_file;

  explicit https_fixture(std::string listen = "127.0.0.1:0",
                         std::vector<std::string> dns = {"localhost"},
                         std::vector<std::string> ips = {"127.0.0.1", "::1"}) {
    http::server_options o;
    o.listen = std::move(listen);
    o.tls = pki.identity(dns, ips);
    o.threads = 2;
    o.on_refusal = refused.observer();
    srv = start_with(o);
    add_echo(*srv);
    ca_file = pki.root_file();
  }

  std::uint16_t port() const { return port_of(*srv); }

  http::client_options trusting(std::string file) const {
    http::client_options c;
    c.ca_file = std::move(file);
    return c;
  }

  result<http::response> get(const std::string& base, const std::string& file) const {
    return http::client::send(base, "GET", "/hello", {}, {}, trusting(file));
  }
};

} // namespace http_test_support
