#define BOOST_TEST_MODULE http
#include <boost/test/unit_test.hpp>

#include "joconde/runtime/http_client.hpp"
#include "joconde/runtime/http_server.hpp"
#include "joconde/runtime/net.hpp"

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

using namespace joconde;
using namespace std::chrono_literals;

namespace {

// A socket bound to 127.0.0.1 on a kernel-chosen port; listens if asked.
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
  ~bound_socket() {
    if (fd >= 0)
      ::close(fd);
  }
};

// A port nothing listens on (bound once, then released).
std::uint16_t free_port() {
  bound_socket s{false};
  return s.port;
}

std::unique_ptr<http::server> start_server(size_t max_body = 1024) {
  auto srv = http::server::start("127.0.0.1:0", max_body, 2);
  BOOST_REQUIRE_MESSAGE(srv.ok(), (srv.ok() ? "" : srv.err().describe()));
  return std::move(srv).value();
}

std::string base(const http::server& srv) {
  return "http://" + srv.listen_address();
}

http::response must_send(const std::string& base_url, std::string method, std::string path,
                         std::string body = {}, std::string token = {}) {
  auto res = http::client::send(base_url, std::move(method), std::move(path), std::move(body),
                                std::move(token), 10s);
  BOOST_REQUIRE_MESSAGE(res.ok(), (res.ok() ? "" : res.err().describe()));
  return std::move(res).value();
}

std::string error_code(const http::response& res) {
  auto j = res.json_body();
  BOOST_REQUIRE_MESSAGE(j.ok(), "not JSON: " + res.body);
  return j->at("error").at("code").get<std::string>();
}

// Sends raw bytes to 127.0.0.1:port and returns everything the server answers until it closes.
std::string raw_exchange(std::uint16_t port, const std::string& bytes) {
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
result<http::response> answer_to(std::string reply) {
  canned_server srv{std::move(reply)};
  return http::client::send(srv.url(), "GET", "/", {}, {}, 60s);
}

// Checks that the client refuses `reply` with `code`, saying `says`.
void expect_refusal(std::string reply, errc code, std::string_view says = {}) {
  auto r = answer_to(std::move(reply));
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST((r.err().code == code), r.err().describe());
  BOOST_TEST(r.err().message.find(says) != std::string::npos, r.err().message);
}

std::uint16_t port_of(const http::server& srv) {
  auto addr = srv.listen_address();
  return static_cast<std::uint16_t>(std::stoi(addr.substr(addr.rfind(':') + 1)));
}

} // namespace

BOOST_AUTO_TEST_CASE(response_helpers_build_json) {
  auto e = http::response::error(404, "not_found", "no such certificate");
  BOOST_TEST(e.status == 404);
  BOOST_TEST(e.content_type == "application/json");
  auto j = nlohmann::json::parse(e.body);
  BOOST_TEST(j["error"]["code"] == "not_found");
  BOOST_TEST(j["error"]["message"] == "no such certificate");
  // Invalid UTF-8 does not throw.
  auto r = http::response::json(200, nlohmann::json{{"s", std::string{"\xff\xfe"}}});
  BOOST_TEST(r.status == 200);
  BOOST_TEST(!r.body.empty());
  http::response not_json;
  not_json.body = "{oops";
  auto parsed = not_json.json_body();
  BOOST_REQUIRE(!parsed.ok());
  BOOST_TEST((parsed.err().code == errc::malformed_input));
}

BOOST_AUTO_TEST_CASE(routes_with_params_query_and_literal_precedence) {
  auto srv = start_server();
  srv->route("GET", "/v1/certs/{fingerprint}", [](const http::request& req) {
    nlohmann::json q = req.query;
    return http::response::json(200, {{"fingerprint", req.params.at("fingerprint")},
                                      {"path", req.path},
                                      {"query", q},
                                      {"method", req.method}});
  });
  srv->route("GET", "/v1/certs/revoked", [](const http::request&) {
    return http::response::json(200, {{"literal", true}});
  });
  srv->route("GET", "/v1/{kind}/{id}/chain", [](const http::request& req) {
    return http::response::json(200, {{"kind", req.params.at("kind")}, {"id", req.params.at("id")}});
  });
  auto url = base(*srv);

  auto r = must_send(url, "GET", "/v1/certs/ab%20cd%2Fef?limit=10&name=a+b%26c&flag");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.content_type == "application/json");
  auto j = r.json_body();
  BOOST_REQUIRE(j.ok());
  BOOST_TEST((*j)["fingerprint"] == "ab cd/ef");
  BOOST_TEST((*j)["method"] == "GET");
  BOOST_TEST((*j)["path"] == "/v1/certs/ab cd/ef");
  BOOST_TEST((*j)["query"]["limit"] == "10");
  BOOST_TEST((*j)["query"]["name"] == "a b&c");
  BOOST_TEST((*j)["query"]["flag"] == "");

  auto lit = must_send(url, "GET", "/v1/certs/revoked");
  BOOST_TEST(lit.json_body()->at("literal") == true);

  auto two = must_send(url, "GET", "/v1/links/42/chain");
  BOOST_TEST(two.json_body()->at("kind") == "links");
  BOOST_TEST(two.json_body()->at("id") == "42");

  // A capture needs a non-empty segment; a trailing slash is a different path.
  BOOST_TEST(must_send(url, "GET", "/v1/certs/").status == 404);
  BOOST_TEST(must_send(url, "GET", "/v1/certs/x/").status == 404);
}

BOOST_AUTO_TEST_CASE(unknown_path_is_404_and_wrong_method_is_405) {
  auto srv = start_server();
  srv->route("GET", "/healthz", [](const http::request&) {
    return http::response::json(200, {{"ok", true}});
  });
  srv->route("DELETE", "/healthz", [](const http::request&) {
    return http::response::json(200, {{"ok", true}});
  });
  auto url = base(*srv);

  auto nf = must_send(url, "GET", "/nope");
  BOOST_TEST(nf.status == 404);
  BOOST_TEST(error_code(nf) == "not_found");
  BOOST_TEST(nf.headers["cache-control"] == "no-store");
  BOOST_TEST(nf.headers["x-content-type-options"] == "nosniff");

  auto na = must_send(url, "POST", "/healthz", "{}");
  BOOST_TEST(na.status == 405);
  BOOST_TEST(error_code(na) == "method_not_allowed");
  BOOST_TEST(na.headers["allow"] == "DELETE, GET");

  auto okr = must_send(url, "GET", "/healthz");
  BOOST_TEST(okr.status == 200);
  BOOST_TEST(okr.headers["cache-control"] == "no-store");
  BOOST_TEST(okr.headers["x-content-type-options"] == "nosniff");
}

BOOST_AUTO_TEST_CASE(body_over_the_limit_is_413) {
  auto srv = start_server(1024);
  std::atomic<int> calls{0};
  srv->route("POST", "/echo", [&](const http::request& req) {
    ++calls;
    http::response res;
    res.content_type = "application/octet-stream";
    res.body = req.body;
    return res;
  });
  auto url = base(*srv);

  auto at_limit = must_send(url, "POST", "/echo", std::string(1024, 'a'));
  BOOST_TEST(at_limit.status == 200);
  BOOST_TEST(at_limit.body == std::string(1024, 'a'));
  BOOST_TEST(at_limit.content_type == "application/octet-stream");

  auto over = must_send(url, "POST", "/echo", std::string(1025, 'a'));
  BOOST_TEST(over.status == 413);
  BOOST_TEST(error_code(over) == "too_large");

  // Much larger than the limit: rejected from Content-Length, the client still gets the answer.
  auto huge = must_send(url, "POST", "/echo", std::string(4 << 20, 'b'));
  BOOST_TEST(huge.status == 413);

  // A chunked body is cut off once it passes the limit.
  std::string chunked = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i)
    chunked += "200\r\n" + std::string(512, 'c') + "\r\n";
  chunked += "0\r\n\r\n";
  auto raw = raw_exchange(port_of(*srv), chunked);
  BOOST_TEST(raw.rfind("HTTP/1.1 413", 0) == 0, raw);
  std::string small = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n0\r\n\r\n";
  auto raw_ok = raw_exchange(port_of(*srv), small);
  BOOST_TEST(raw_ok.rfind("HTTP/1.1 200", 0) == 0, raw_ok);
  BOOST_TEST(raw_ok.substr(raw_ok.size() - 5) == "hello");
  BOOST_TEST(calls.load() == 2);
}

BOOST_AUTO_TEST_CASE(invalid_percent_encoding_is_400) {
  auto srv = start_server();
  std::atomic<int> calls{0};
  srv->route("GET", "/v1/certs/{fingerprint}", [&](const http::request&) {
    ++calls;
    return http::response::json(200, {});
  });
  auto url = base(*srv);
  for (const char* path : {"/v1/certs/%zz", "/v1/certs/ab%2", "/v1/certs/a%00b", "/v1/certs/x?q=%g1",
                           "/v1/certs/x?%=1"}) {
    auto r = must_send(url, "GET", path);
    BOOST_TEST_CONTEXT(path) {
      BOOST_TEST(r.status == 400);
      BOOST_TEST(error_code(r) == "malformed_input");
    }
  }
  // Encoded dot segments are refused too (plain ones are resolved).
  auto dots = must_send(url, "GET", "/v1/certs/%2e%2E");
  BOOST_TEST(dots.status == 400);
  BOOST_TEST(must_send(url, "GET", "/v1/x/../certs/abc").status == 200);
  BOOST_TEST(calls.load() == 1);
  // Requests that are not HTTP get a JSON error as well.
  auto garbage = raw_exchange(port_of(*srv), "GARBAGE\r\n\r\n");
  BOOST_TEST(garbage.rfind("HTTP/1.1 400", 0) == 0, garbage);
  BOOST_TEST(garbage.find("\"malformed_input\"") != std::string::npos, garbage);
  BOOST_TEST(garbage.find("X-Content-Type-Options: nosniff") != std::string::npos, garbage);
}

BOOST_AUTO_TEST_CASE(json_round_trip_bearer_token_and_remote_address) {
  auto srv = start_server(1 << 20);
  srv->route("POST", "/v1/echo", [](const http::request& req) {
    auto in = nlohmann::json::parse(req.body);
    in["seen_token"] = req.bearer_token;
    in["remote"] = req.remote_addr;
    return http::response::json(201, in);
  });
  auto url = base(*srv);
  nlohmann::json doc = {{"name", "n1"}, {"list", {1, 2, 3}}, {"nested", {{"k", "v\u00e9"}}}};

  auto r = must_send(url, "POST", "/v1/echo", doc.dump(), "s3cr3t-token");
  BOOST_TEST(r.status == 201);
  auto j = r.json_body();
  BOOST_REQUIRE(j.ok());
  BOOST_TEST((*j)["name"] == "n1");
  BOOST_TEST((*j)["list"] == nlohmann::json({1, 2, 3}));
  BOOST_TEST((*j)["nested"]["k"] == "v\u00e9");
  BOOST_TEST((*j)["seen_token"] == "s3cr3t-token");
  BOOST_TEST((*j)["remote"] == "127.0.0.1");

  auto none = must_send(url, "POST", "/v1/echo", "{}");
  BOOST_TEST(none.json_body()->at("seen_token") == "");

  // The scheme is case-insensitive; other schemes give no token.
  auto lower = raw_exchange(port_of(*srv), "POST /v1/echo HTTP/1.1\r\nHost: x\r\n"
                                           "Authorization: bearer  tok2 \r\nContent-Length: 2\r\n\r\n{}");
  BOOST_TEST(lower.find("\"seen_token\":\"tok2\"") != std::string::npos, lower);
  auto basic = raw_exchange(port_of(*srv), "POST /v1/echo HTTP/1.1\r\nHost: x\r\n"
                                           "Authorization: Basic dXNlcjpwdw==\r\nContent-Length: 2\r\n\r\n{}");
  BOOST_TEST(basic.find("\"seen_token\":\"\"") != std::string::npos, basic);
}

BOOST_AUTO_TEST_CASE(handler_exceptions_become_500) {
  auto srv = start_server();
  srv->route("GET", "/throws", [](const http::request&) -> http::response {
    throw std::runtime_error("disk on fire");
  });
  srv->route("GET", "/throws-int", [](const http::request&) -> http::response { throw 42; });
  srv->route("GET", "/json-error", [](const http::request&) -> http::response {
    return http::response::json(200, nlohmann::json::parse("{bad"));
  });
  auto url = base(*srv);

  auto r = must_send(url, "GET", "/throws");
  BOOST_TEST(r.status == 500);
  BOOST_TEST(error_code(r) == "internal_error");
  BOOST_TEST(r.json_body()->at("error").at("message").get<std::string>().find("disk on fire")
             != std::string::npos);
  auto r2 = must_send(url, "GET", "/throws-int");
  BOOST_TEST(r2.status == 500);
  BOOST_TEST(error_code(r2) == "internal_error");
  BOOST_TEST(must_send(url, "GET", "/json-error").status == 500);
  // The server keeps serving.
  BOOST_TEST(must_send(url, "GET", "/nope").status == 404);
}

BOOST_AUTO_TEST_CASE(routes_can_be_added_and_replaced_while_serving) {
  auto srv = start_server();
  auto url = base(*srv);
  BOOST_TEST(must_send(url, "GET", "/late").status == 404);
  srv->route("GET", "/late", [](const http::request&) {
    return http::response::json(200, {{"v", 1}});
  });
  BOOST_TEST(must_send(url, "GET", "/late").json_body()->at("v") == 1);
  srv->route("GET", "/late", [](const http::request&) {
    return http::response::json(202, {{"v", 2}});
  });
  auto r = must_send(url, "GET", "/late");
  BOOST_TEST(r.status == 202);
  BOOST_TEST(r.json_body()->at("v") == 2);
  // Concurrent requests while routes are being added.
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i)
        if (auto res = http::client::send(url, "GET", "/late"); res.ok() && res->status == 202)
          ++good;
    });
  for (int i = 0; i < 50; ++i)
    srv->route("GET", "/extra/" + std::to_string(i), [](const http::request&) {
      return http::response::json(200, {});
    });
  for (auto& t : threads)
    t.join();
  BOOST_TEST(good.load() == 40);
  BOOST_TEST(must_send(url, "GET", "/extra/49").status == 200);
}

BOOST_AUTO_TEST_CASE(start_reports_taken_ports_and_bad_arguments) {
  auto first = start_server();
  auto again = http::server::start(first->listen_address(), 1024, 1);
  BOOST_REQUIRE(!again.ok());
  BOOST_TEST((again.err().code == errc::io_error));
  BOOST_TEST(again.err().message.find(first->listen_address()) != std::string::npos,
             again.err().message);
  BOOST_TEST(again.err().message.find("in use") != std::string::npos, again.err().message);

  auto malformed = http::server::start("not-an-address", 1024, 1);
  BOOST_REQUIRE(!malformed.ok());
  BOOST_TEST((malformed.err().code == errc::invalid_config));

  auto no_threads = http::server::start("127.0.0.1:0", 1024, 0);
  BOOST_REQUIRE(!no_threads.ok());
  BOOST_TEST((no_threads.err().code == errc::invalid_config));

  // A port found free is usable.
  auto port = free_port();
  auto fixed = http::server::start("127.0.0.1:" + std::to_string(port), 1024, 1);
  BOOST_REQUIRE_MESSAGE(fixed.ok(), (fixed.ok() ? "" : fixed.err().describe()));
  BOOST_TEST((*fixed)->listen_address() == "127.0.0.1:" + std::to_string(port));
}

BOOST_AUTO_TEST_CASE(stop_is_idempotent_and_closes_the_port) {
  auto srv = start_server();
  srv->route("GET", "/x", [](const http::request&) { return http::response::json(200, {}); });
  auto url = base(*srv);
  BOOST_TEST(must_send(url, "GET", "/x").status == 200);
  srv->stop();
  srv->stop();
  auto r = http::client::send(url, "GET", "/x", {}, {}, 2s);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST((r.err().code == errc::io_error));
}

BOOST_AUTO_TEST_CASE(client_times_out_when_the_server_never_answers) {
  bound_socket silent{true}; // listens, never accepts: connect succeeds, nothing is answered
  auto url = "http://127.0.0.1:" + std::to_string(silent.port);
  auto before = std::chrono::steady_clock::now();
  auto r = http::client::send(url, "GET", "/healthz", {}, {}, 200ms);
  auto took = std::chrono::steady_clock::now() - before;
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST((r.err().code == errc::timeout), r.err().describe());
  BOOST_TEST(r.err().message.find("200 ms") != std::string::npos, r.err().message);
  BOOST_TEST(took < 30s); // bounded, generously
}

BOOST_AUTO_TEST_CASE(client_reports_nothing_listening_and_bad_input) {
  auto url = "http://127.0.0.1:" + std::to_string(free_port());
  auto r = http::client::send(url, "GET", "/healthz", {}, {}, 2s);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST((r.err().code == errc::io_error), r.err().describe());
  BOOST_TEST(r.err().message.find("refused") != std::string::npos, r.err().message);

  for (const char* bad_url : {"https://127.0.0.1:1", "127.0.0.1:80", "http://", "http://h:0",
                              "http://h:99999", "http://a b"}) {
    auto b = http::client::send(bad_url, "GET", "/");
    BOOST_TEST_CONTEXT(bad_url) {
      BOOST_REQUIRE(!b.ok());
      BOOST_TEST((b.err().code == errc::invalid_config));
    }
  }
  auto bad_path = http::client::send(url, "GET", "no-slash");
  BOOST_TEST((!bad_path.ok() && bad_path.err().code == errc::malformed_input));
  auto crlf = http::client::send(url, "GET", "/x\r\nInjected: 1");
  BOOST_TEST((!crlf.ok() && crlf.err().code == errc::malformed_input));
  auto bad_token = http::client::send(url, "GET", "/x", {}, "a\r\nb");
  BOOST_TEST((!bad_token.ok() && bad_token.err().code == errc::malformed_input));
  auto bad_method = http::client::send(url, "GE T", "/x");
  BOOST_TEST((!bad_method.ok() && bad_method.err().code == errc::malformed_input));
}

BOOST_AUTO_TEST_CASE(client_uses_a_base_url_prefix_and_handles_large_bodies) {
  auto srv = start_server();
  std::string big(3 << 20, 'z');
  srv->route("GET", "/api/big", [&](const http::request&) {
    http::response res;
    res.content_type = "text/plain";
    res.body = big;
    return res;
  });
  auto r = must_send(base(*srv) + "/api/", "GET", "/big");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body.size() == big.size());
  BOOST_TEST((r.body == big));
}

BOOST_AUTO_TEST_CASE(client_handles_response_framings_and_limits) {
  {
    canned_server srv{"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close"};
    auto r = http::client::send(srv.url(), "GET", "/");
    BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.err().describe()));
    BOOST_TEST(r->body == "until close");
    BOOST_TEST(r->content_type == "text/plain");
  }
  {
    canned_server srv{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"};
    auto r = http::client::send(srv.url(), "GET", "/");
    BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.err().describe()));
    BOOST_TEST(r->body == "hello world");
  }
  {
    canned_server srv{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n"};
    auto r = http::client::send(srv.url(), "DELETE", "/thing");
    BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.err().describe()));
    BOOST_TEST(r->status == 204);
    BOOST_TEST(r->headers["x-a"] == "1");
    BOOST_TEST(r->body.empty());
  }
  expect_refusal("HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\nabc", errc::too_large);
  expect_refusal("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", errc::io_error);
  expect_refusal("SSH-2.0-OpenSSH\r\n\r\n", errc::malformed_input);
  expect_refusal("", errc::io_error);
}

// -- listeners, TLS and limits ----------------------------------------------------------------------

namespace {

// Raw TLS clients write after the server closed; a test process must not die of SIGPIPE for it.
struct ignore_sigpipe {
  ignore_sigpipe() {
    std::signal(SIGPIPE, SIG_IGN);
  }
};
BOOST_TEST_GLOBAL_FIXTURE(ignore_sigpipe);

// libcurl opens SSLKEYLOGFILE once, when it is initialised, to log TLS secrets there: set before
// the first request, and checked to stay empty (https_secrets_never_reach_an_sslkeylogfile).
std::string keylog_file() {
  return (std::filesystem::temp_directory_path() / ("joconde-http-keylog-" + std::to_string(::getpid())))
    .string();
}
struct keylog_trap {
  keylog_trap() {
    ::setenv("SSLKEYLOGFILE", keylog_file().c_str(), 1);
  }
  ~keylog_trap() {
    std::filesystem::remove(keylog_file());
  }
};
BOOST_TEST_GLOBAL_FIXTURE(keylog_trap);

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

std::unique_ptr<http::server> start_with(const http::server_options& options) {
  auto srv = http::server::start(options);
  BOOST_REQUIRE_MESSAGE(srv.ok(), (srv.ok() ? "" : srv.err().describe()));
  return std::move(srv).value();
}

void add_echo(http::server& srv) {
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
void add_slow(http::server& srv, std::atomic<int>& entered, std::shared_future<void> released) {
  srv.route("GET", "/slow", [&entered, released](const http::request&) {
    ++entered;
    released.wait();
    return http::response::json(200, {{"slow", true}});
  });
}

// A TCP connection to 127.0.0.1:port from `source` (another loopback address is another client).
net::socket_fd connect_from(const char* source, std::uint16_t port) {
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

void send_all(int fd, const std::string& bytes) {
  BOOST_REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
}

// Everything the server sends until it closes; `closed` tells whether it did (within 10 s).
std::string read_until_close(int fd, bool* closed = nullptr) {
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
std::string request_from(const char* source, std::uint16_t port, const std::string& bytes) {
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

} // namespace

BOOST_AUTO_TEST_CASE(listens_on_ipv6_and_host_names_and_refuses_malformed_addresses) {
  http::server_options v6;
  v6.listen = "[::1]:0";
  auto six = start_with(v6);
  add_echo(*six);
  BOOST_TEST(six->listen_address().rfind("[::1]:", 0) == 0, six->listen_address());
  auto r6 = must_send("http://" + six->listen_address(), "GET", "/hello");
  BOOST_TEST(r6.status == 200);
  BOOST_TEST(r6.json_body()->at("remote") == "::1");

  http::server_options named;
  named.listen = "localhost:0";
  auto local = start_with(named);
  add_echo(*local);
  BOOST_TEST(local->listen_address().rfind("localhost:", 0) == 0, local->listen_address());
  BOOST_TEST(local->listen_address() != "localhost:0");
  BOOST_TEST(must_send("http://" + local->listen_address(), "GET", "/hello").status == 200);

  for (const char* bad : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:8o", ":8080",
                          "[::1]", "::1:80", "bad host:80", ""}) {
    http::server_options o;
    o.listen = bad;
    auto r = http::server::start(o);
    BOOST_TEST_CONTEXT(bad) {
      BOOST_REQUIRE(!r.ok());
      BOOST_TEST((r.err().code == errc::invalid_config), r.err().describe());
    }
  }
  http::server_options zero_limit;
  zero_limit.listen = "127.0.0.1:0";
  zero_limit.max_connections_per_client = 0;
  auto z = http::server::start(zero_limit);
  BOOST_TEST((!z.ok() && z.err().code == errc::invalid_config));
}

BOOST_AUTO_TEST_CASE(adopts_a_listening_socket) {
  auto l = net::listen_tcp(net::host_port{"127.0.0.1", 0});
  BOOST_REQUIRE(l.ok());
  auto port = l->port;
  http::server_options o;
  o.listen = "127.0.0.1:0";
  o.listen_fd = l->fd.release();
  auto srv = start_with(o);
  add_echo(*srv);
  BOOST_TEST(srv->listen_address() == "127.0.0.1:" + std::to_string(port));
  BOOST_TEST(must_send("http://127.0.0.1:" + std::to_string(port), "GET", "/hello").status == 200);

  // Not a listening socket: refused (and closed).
  http::server_options bad;
  bad.listen_fd = ::socket(AF_INET, SOCK_STREAM, 0);
  auto r = http::server::start(bad);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST((r.err().code == errc::invalid_config), r.err().describe());
}

BOOST_AUTO_TEST_CASE(https_round_trip_with_a_chain_issued_at_test_time) {
  https_fixture f;
  auto url = "https://" + f.srv->listen_address();
  auto r = http::client::send(url, "POST", "/echo", "{\"a\":1}", "s3cr3t", f.trusting(f.ca_file));
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.err().describe()));
  BOOST_TEST(r->status == 200);
  auto j = r->json_body();
  BOOST_REQUIRE(j.ok());
  BOOST_TEST((*j)["body"] == "{\"a\":1}");
  BOOST_TEST((*j)["token"] == "s3cr3t");
  BOOST_TEST((*j)["remote"] == "127.0.0.1");
  BOOST_TEST(r->headers["x-content-type-options"] == "nosniff");

  // By host name (SNI and a DNS name of the certificate).
  auto named = f.get("https://localhost:" + std::to_string(f.port()), f.ca_file);
  BOOST_REQUIRE_MESSAGE(named.ok(), (named.ok() ? "" : named.err().describe()));
  BOOST_TEST(named->status == 200);

  // Every certificate of the CA file is a trust anchor: the intermediate alone, or the leaf pinned.
  auto mid = f.get(url, f.pki.write("intermediate.pem", {f.pki.intermediate()}));
  BOOST_REQUIRE_MESSAGE(mid.ok(), (mid.ok() ? "" : mid.err().describe()));

  // Large bodies both ways.
  std::string big(300 * 1024, 'x');
  f.srv->route("POST", "/big", [](const http::request& req) {
    http::response res;
    res.content_type = "text/plain";
    res.body = req.body + req.body;
    return res;
  }, 1 << 20);
  auto large = http::client::send(url, "POST", "/big", big, {}, f.trusting(f.ca_file));
  BOOST_REQUIRE_MESSAGE(large.ok(), (large.ok() ? "" : large.err().describe()));
  BOOST_TEST((large->body == big + big));
  BOOST_TEST(f.refused.count("tls_error") + f.refused.count("protocol_version") == 0u);
}

BOOST_AUTO_TEST_CASE(https_on_ipv6) {
  https_fixture f{"[::1]:0"};
  auto r = f.get("https://" + f.srv->listen_address(), f.ca_file);
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.err().describe()));
  BOOST_TEST(r->json_body()->at("remote") == "::1");
}

BOOST_AUTO_TEST_CASE(https_with_the_wrong_or_no_ca_file_is_refused) {
  https_fixture f;
  auto url = "https://" + f.srv->listen_address();
  test::https_pki other{"Other"};
  auto wrong = f.get(url, other.root_file());
  BOOST_REQUIRE(!wrong.ok());
  BOOST_TEST((wrong.err().code == errc::untrusted_chain), wrong.err().describe());
  BOOST_TEST(wrong.err().message.find("--ca-file") != std::string::npos, wrong.err().message);

  auto none = http::client::send(url, "GET", "/hello");
  BOOST_REQUIRE(!none.ok());
  BOOST_TEST((none.err().code == errc::invalid_config), none.err().describe());
  BOOST_TEST(none.err().message.find("CA file") != std::string::npos, none.err().message);

  auto missing = f.get(url, f.pki.path("no-such-file.pem"));
  BOOST_REQUIRE(!missing.ok());
  BOOST_TEST((missing.err().code == errc::invalid_config), missing.err().describe());

  std::ofstream{f.pki.path("garbage.pem")} << "not a certificate\n";
  auto garbage = f.get(url, f.pki.path("garbage.pem"));
  BOOST_REQUIRE(!garbage.ok());
  BOOST_TEST((garbage.err().code == errc::invalid_config), garbage.err().describe());

  // The good CA file still works: the refusals above were the client's.
  BOOST_TEST(f.get(url, f.ca_file).ok());
}

BOOST_AUTO_TEST_CASE(https_with_an_expired_certificate_is_refused) {
  test::https_pki pki;
  http::server_options o;
  o.listen = "127.0.0.1:0";
  o.tls = pki.identity({"localhost"}, {"127.0.0.1"}, std::chrono::hours{1},
                       std::chrono::system_clock::now() - std::chrono::hours{2});
  auto srv = start_with(o);
  add_echo(*srv);
  http::client_options c;
  c.ca_file = pki.root_file();
  auto r = http::client::send("https://" + srv->listen_address(), "GET", "/hello", {}, {}, c);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST((r.err().code == errc::certificate_expired), r.err().describe());
}

BOOST_AUTO_TEST_CASE(https_to_a_name_the_certificate_does_not_hold_is_refused) {
  https_fixture f{"127.0.0.1:0", {"other.example"}, {}};
  auto by_ip = f.get("https://" + f.srv->listen_address(), f.ca_file);
  BOOST_REQUIRE(!by_ip.ok());
  BOOST_TEST((by_ip.err().code == errc::untrusted_chain), by_ip.err().describe());
  BOOST_TEST(by_ip.err().message.find("not for 127.0.0.1") != std::string::npos, by_ip.err().message);
  BOOST_TEST(by_ip.err().message.find("other.example") != std::string::npos, by_ip.err().message);

  auto by_name = f.get("https://localhost:" + std::to_string(f.port()), f.ca_file);
  BOOST_REQUIRE(!by_name.ok());
  BOOST_TEST((by_name.err().code == errc::untrusted_chain), by_name.err().describe());
  BOOST_TEST(by_name.err().message.find("not for localhost") != std::string::npos,
             by_name.err().message);
}

BOOST_AUTO_TEST_CASE(a_tls12_client_is_refused_and_reported) {
  https_fixture f;
  auto fd = connect_from("127.0.0.1", f.port());
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  BOOST_REQUIRE(ctx != nullptr);
  SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd.get());
  ERR_clear_error();
  int rc = SSL_connect(ssl);
  ERR_clear_error();
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  BOOST_TEST(rc != 1);
  BOOST_TEST(f.refused.wait_for("protocol_version") == 1u);
  BOOST_TEST(f.refused.peer_of("protocol_version") == "127.0.0.1");

  // Garbage that looks like a handshake record is refused too, and the server goes on.
  auto junk = connect_from("127.0.0.1", f.port());
  send_all(junk.get(), std::string("\x16\x03\x01\x00\x05" "abcde", 10) + std::string(64, '\xff'));
  bool closed = false;
  read_until_close(junk.get(), &closed);
  BOOST_TEST(closed);
  BOOST_TEST(f.refused.count("tls_error") + f.refused.count("protocol_version") >= 2u);
  BOOST_TEST(f.get("https://" + f.srv->listen_address(), f.ca_file).ok());
}

BOOST_AUTO_TEST_CASE(plain_http_to_a_tls_listener_gets_https_required) {
  https_fixture f;
  auto raw = raw_exchange(f.port(), "GET /v1/status HTTP/1.1\r\nHost: localhost:"
                                      + std::to_string(f.port()) + "\r\n\r\n");
  BOOST_TEST(raw.rfind("HTTP/1.1 400", 0) == 0, raw);
  BOOST_TEST(raw.find("\"https_required\"") != std::string::npos, raw);
  BOOST_TEST(raw.find("use https://localhost:" + std::to_string(f.port()) + "/v1/status")
               != std::string::npos,
             raw);
  BOOST_TEST(f.refused.wait_for("https_required") == 1u);

  // Our own client, told http:// by mistake, gets the same answer.
  auto r = http::client::send("http://" + f.srv->listen_address(), "GET", "/hello");
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.err().describe()));
  BOOST_TEST(r->status == 400);
  BOOST_TEST(error_code(*r) == "https_required");
}

BOOST_AUTO_TEST_CASE(https_to_a_plain_listener_is_a_protocol_error) {
  auto srv = start_server();
  test::https_pki pki;
  http::client_options c;
  c.ca_file = pki.root_file();
  auto r = http::client::send("https://" + srv->listen_address(), "GET", "/x", {}, {}, c);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST((r.err().code == errc::protocol_error), r.err().describe());
  BOOST_TEST(r.err().message.find("does not speak TLS") != std::string::npos, r.err().message);
}

BOOST_AUTO_TEST_CASE(tokens_go_over_plain_http_to_loopback_only) {
  // Nothing listens at 198.18.0.77:1; a refusal that came from trying would be io_error or timeout.
  auto far = http::client::send("http://198.18.0.77:1", "GET", "/x", {}, "s3cr3t", 30s);
  BOOST_REQUIRE(!far.ok());
  BOOST_TEST((far.err().code == errc::forbidden), far.err().describe());
  BOOST_TEST(far.err().message.find("use https://") != std::string::npos, far.err().message);

  auto srv = start_server();
  add_echo(*srv);
  auto v4 = must_send("http://" + srv->listen_address(), "POST", "/echo", "{}", "tok");
  BOOST_TEST(v4.json_body()->at("token") == "tok");
  auto by_name = must_send("http://localhost:" + std::to_string(port_of(*srv)), "POST", "/echo", "{}", "tok");
  BOOST_TEST(by_name.json_body()->at("token") == "tok");

  http::server_options o;
  o.listen = "[::1]:0";
  auto six = start_with(o);
  add_echo(*six);
  auto v6 = must_send("http://" + six->listen_address(), "POST", "/echo", "{}", "tok6");
  BOOST_TEST(v6.json_body()->at("token") == "tok6");
}

BOOST_AUTO_TEST_CASE(a_head_over_the_limit_is_431) {
  http::server_options o;
  o.listen = "127.0.0.1:0";
  o.max_header_bytes = 4096;
  auto srv = start_with(o);
  add_echo(*srv);
  auto big = raw_exchange(port_of(*srv), "GET /hello HTTP/1.1\r\nHost: x\r\nX-Pad: "
                                           + std::string(8192, 'p') + "\r\n\r\n");
  BOOST_TEST(big.rfind("HTTP/1.1 431", 0) == 0, big);
  BOOST_TEST(big.find("\"too_large\"") != std::string::npos, big);
  auto fits = raw_exchange(port_of(*srv), "GET /hello HTTP/1.1\r\nHost: x\r\nX-Pad: "
                                            + std::string(2048, 'p') + "\r\n\r\n");
  BOOST_TEST(fits.rfind("HTTP/1.1 200", 0) == 0, fits);
}

BOOST_AUTO_TEST_CASE(content_length_over_the_route_limit_is_413_before_the_body) {
  http::server_options o;
  o.listen = "127.0.0.1:0";
  o.max_body_bytes = 1024;
  o.body_timeout = 120s; // a server that waited for the body would not answer within the test
  std::atomic<int> calls{0};
  auto srv = start_with(o);
  srv->route("POST", "/small", [&](const http::request&) {
    ++calls;
    return http::response::json(200, {});
  });
  srv->route("POST", "/upload", [&](const http::request& req) {
    ++calls;
    return http::response::json(200, {{"size", req.body.size()}});
  }, 4096);
  auto fd = connect_from("127.0.0.1", port_of(*srv));
  send_all(fd.get(), "POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 10737418240\r\n\r\n");
  bool closed = false;
  auto answer = read_until_close(fd.get(), &closed);
  BOOST_TEST(answer.rfind("HTTP/1.1 413", 0) == 0, answer);
  BOOST_TEST(closed);
  // The route's own limit applies.
  auto up = must_send("http://" + srv->listen_address(), "POST", "/upload", std::string(3000, 'u'));
  BOOST_TEST(up.status == 200);
  BOOST_TEST(up.json_body()->at("size") == 3000);
  BOOST_TEST(must_send("http://" + srv->listen_address(), "POST", "/upload", std::string(5000, 'u')).status
             == 413);
  BOOST_TEST(calls.load() == 1);
}

BOOST_AUTO_TEST_CASE(expect_100_continue_is_answered_before_the_body) {
  auto srv = start_server();
  add_echo(*srv);
  auto fd = connect_from("127.0.0.1", port_of(*srv));
  send_all(fd.get(), "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  std::string interim;
  char buf[256];
  while (interim.find("\r\n\r\n") == std::string::npos) {
    auto n = ::recv(fd.get(), buf, sizeof buf, 0);
    BOOST_REQUIRE(n > 0);
    interim.append(buf, static_cast<size_t>(n));
  }
  BOOST_TEST(interim == "HTTP/1.1 100 Continue\r\n\r\n");
  send_all(fd.get(), "hello");
  auto rest = read_until_close(fd.get());
  BOOST_TEST(rest.rfind("HTTP/1.1 200", 0) == 0, rest);
  BOOST_TEST(rest.find("\"body\":\"hello\"") != std::string::npos, rest);
}

BOOST_AUTO_TEST_CASE(connections_per_client_are_limited) {
  refusals refused;
  http::server_options o;
  o.listen = "127.0.0.1:0";
  o.max_connections_per_client = 3;
  o.header_timeout = 120s; // the idle connections stay until the test closes them
  o.on_refusal = refused.observer();
  auto srv = start_with(o);
  add_echo(*srv);
  auto port = port_of(*srv);
  std::vector<net::socket_fd> idle;
  for (int i = 0; i < 3; ++i)
    idle.push_back(connect_from("127.0.0.1", port));
  // The fourth from 127.0.0.1 is closed unanswered; accepted in order, after the three.
  auto fourth = connect_from("127.0.0.1", port);
  ::send(fourth.get(), "GET /hello HTTP/1.1\r\n\r\n", 23, MSG_NOSIGNAL);
  bool closed = false;
  auto answer = read_until_close(fourth.get(), &closed);
  BOOST_TEST(answer.empty(), answer);
  BOOST_TEST(closed);
  BOOST_TEST(refused.wait_for("client_connection_limit") == 1u);
  BOOST_TEST(refused.peer_of("client_connection_limit") == "127.0.0.1");
  // Another client is served meanwhile.
  auto other = request_from("127.0.0.2", port, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  BOOST_TEST(other.rfind("HTTP/1.1 200", 0) == 0, other);
  BOOST_TEST(other.find("\"remote\":\"127.0.0.2\"") != std::string::npos, other);
  // A closed connection frees its slot.
  idle.pop_back();
  BOOST_TEST(eventually([&] {
    return request_from("127.0.0.1", port, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").rfind("HTTP/1.1 200", 0) == 0;
  }));
}

BOOST_AUTO_TEST_CASE(at_the_total_limit_idle_connections_give_way_and_busy_ones_do_not) {
  refusals refused;
  http::server_options o;
  o.listen = "127.0.0.1:0";
  o.max_connections = 2;
  o.header_timeout = 120s; // idle connections would stay until the test closes them
  o.body_timeout = 120s;
  o.on_refusal = refused.observer();
  auto srv = start_with(o);
  add_echo(*srv);
  std::atomic<int> heads{0};
  srv->route("POST", "/slow-body", [](const http::request& req) {
    return http::response::json(200, {{"bytes", req.body.size()}});
  }, 0, [&](const http::request&) -> std::optional<http::response> {
    ++heads;
    return std::nullopt;
  });
  auto port = port_of(*srv);
  // Two idle clients hold every slot; a newcomer takes the place of the oldest and is served.
  auto a = connect_from("127.0.0.1", port);
  auto b = connect_from("127.0.0.2", port);
  auto served = request_from("127.0.0.3", port, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  BOOST_TEST(served.rfind("HTTP/1.1 200", 0) == 0, served);
  bool closed = false;
  BOOST_TEST(read_until_close(a.get(), &closed).empty());
  BOOST_TEST(closed);
  BOOST_TEST(refused.wait_for("idle_evicted") == 1u);
  BOOST_TEST(refused.peer_of("idle_evicted") == "127.0.0.1");
  BOOST_TEST(refused.count("connection_limit") == 0u);
  b = net::socket_fd{};
  // Two connections busy sending their bodies are not given up: a third is refused.
  auto d = connect_from("127.0.0.4", port);
  send_all(d.get(), "POST /slow-body HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n01");
  BOOST_REQUIRE(eventually([&] { return heads.load() == 1; }));
  auto e = connect_from("127.0.0.5", port);
  send_all(e.get(), "POST /slow-body HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n01");
  BOOST_REQUIRE(eventually([&] { return heads.load() == 2; }));
  auto f = connect_from("127.0.0.6", port);
  BOOST_TEST(read_until_close(f.get(), &closed).empty());
  BOOST_TEST(closed);
  BOOST_TEST(refused.wait_for("connection_limit") == 1u);
  // Once a body is complete, its slot frees.
  send_all(d.get(), std::string(98, 'x'));
  auto done = read_until_close(d.get());
  BOOST_TEST(done.find("\"bytes\":100") != std::string::npos, done);
  BOOST_TEST(eventually([&] {
    return request_from("127.0.0.7", port, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").rfind("HTTP/1.1 200", 0) == 0;
  }));
}

BOOST_AUTO_TEST_CASE(an_admission_check_refuses_before_any_body_byte_is_read) {
  http::server_options o;
  o.listen = "127.0.0.1:0";
  auto srv = start_with(o);
  std::atomic<int> calls{0};
  std::vector<std::string> seen; // what the check saw (the I/O thread only, read after answers)
  srv->route("POST", "/upload/{slot}", [&](const http::request& req) {
    ++calls;
    return http::response::json(200, {{"bytes", req.body.size()}, {"slot", req.params.at("slot")}});
  }, size_t{1} << 30, [&](const http::request& req) -> std::optional<http::response> {
    seen.push_back(req.params.at("slot") + " " + req.remote_addr + " " + std::to_string(req.body.size()));
    if (req.bearer_token == "s3cret-token")
      return std::nullopt;
    return http::response::error(401, "unauthorised", "no valid token");
  });
  auto port = port_of(*srv);
  // 512 MiB announced, not one byte sent: answered 401 at once, the handler never runs.
  auto refused = request_from("127.0.0.1", port,
                              "POST /upload/s1 HTTP/1.1\r\nHost: x\r\nContent-Length: 536870912\r\n\r\n");
  BOOST_TEST(refused.rfind("HTTP/1.1 401", 0) == 0, refused);
  BOOST_TEST(refused.find("unauthorised") != std::string::npos, refused);
  auto wrong = request_from("127.0.0.1", port,
                            "POST /upload/s1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n");
  BOOST_TEST(wrong.rfind("HTTP/1.1 401", 0) == 0, wrong);
  BOOST_TEST(calls.load() == 0);
  // The twin: the same request with the token is read and served.
  auto ok = request_from("127.0.0.2", port,
                         "POST /upload/s2 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret-token\r\n"
                         "Content-Length: 5\r\n\r\nhello");
  BOOST_TEST(ok.rfind("HTTP/1.1 200", 0) == 0, ok);
  BOOST_TEST(ok.find("\"bytes\":5") != std::string::npos, ok);
  BOOST_TEST(calls.load() == 1);
  BOOST_REQUIRE(seen.size() == 3u);
  BOOST_TEST(seen[0] == "s1 127.0.0.1 0");
  BOOST_TEST(seen[2] == "s2 127.0.0.2 0");
  // A check that throws is a 500, and the handler does not run.
  srv->route("POST", "/broken", [&](const http::request&) {
    ++calls;
    return http::response::json(200, {});
  }, 0, [](const http::request&) -> std::optional<http::response> { throw std::runtime_error("boom"); });
  auto broken = request_from("127.0.0.1", port, "POST /broken HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  BOOST_TEST(broken.rfind("HTTP/1.1 500", 0) == 0, broken);
  BOOST_TEST(calls.load() == 1);
}

BOOST_AUTO_TEST_CASE(one_client_cannot_take_every_worker) {
  refusals refused;
  http::server_options o;
  o.listen = "127.0.0.1:0";
  o.threads = 2;
  o.max_requests_per_client = 1;
  o.on_refusal = refused.observer();
  auto srv = start_with(o);
  add_echo(*srv);
  std::promise<void> release;
  auto released = release.get_future().share();
  std::atomic<int> entered{0};
  add_slow(*srv, entered, released);
  auto port = port_of(*srv);
  auto first = std::async(std::launch::async, [&] {
    return request_from("127.0.0.1", port, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  });
  BOOST_REQUIRE(eventually([&] { return entered.load() == 1; }));
  // The same client again: 429 with Retry-After, no worker taken.
  auto again = request_from("127.0.0.1", port, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  BOOST_TEST(again.rfind("HTTP/1.1 429", 0) == 0, again);
  BOOST_TEST(again.find("Retry-After: 1") != std::string::npos, again);
  BOOST_TEST(again.find("too_many_requests") != std::string::npos, again);
  BOOST_TEST(refused.wait_for("client_request_limit") == 1u);
  BOOST_TEST(entered.load() == 1);
  // Another client still gets the second worker.
  auto other = std::async(std::launch::async, [&] {
    return request_from("127.0.0.2", port, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  });
  BOOST_REQUIRE(eventually([&] { return entered.load() == 2; }));
  release.set_value();
  BOOST_TEST(first.get().rfind("HTTP/1.1 200", 0) == 0);
  BOOST_TEST(other.get().rfind("HTTP/1.1 200", 0) == 0);
  // Its request done, the first client is served again.
  BOOST_TEST(eventually([&] {
    return request_from("127.0.0.1", port, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").rfind("HTTP/1.1 200", 0) == 0;
  }));
}

BOOST_AUTO_TEST_CASE(idle_and_slow_connections_time_out_and_free_their_slot) {
  refusals refused;
  http::server_options o;
  o.listen = "127.0.0.1:0";
  o.max_connections_per_client = 2;
  o.header_timeout = 300ms;
  o.body_timeout = 300ms;
  o.on_refusal = refused.observer();
  auto srv = start_with(o);
  add_echo(*srv);
  auto port = port_of(*srv);
  // Silent: closed without an answer.
  auto silent = connect_from("127.0.0.1", port);
  // Half a head: 408.
  auto half = connect_from("127.0.0.1", port);
  send_all(half.get(), "GET /hello HTTP/1.1\r\nHost:");
  bool closed = false;
  BOOST_TEST(read_until_close(silent.get(), &closed).empty());
  BOOST_TEST(closed);
  auto timeout = read_until_close(half.get(), &closed);
  BOOST_TEST(timeout.rfind("HTTP/1.1 408", 0) == 0, timeout);
  BOOST_TEST(closed);
  BOOST_TEST(refused.wait_for("header_timeout", 2) == 2u);
  // A body that stalls: 408.
  auto slow = connect_from("127.0.0.1", port);
  send_all(slow.get(), "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789");
  auto stalled = read_until_close(slow.get(), &closed);
  BOOST_TEST(stalled.rfind("HTTP/1.1 408", 0) == 0, stalled);
  BOOST_TEST(refused.wait_for("body_timeout") == 1u);
  // The slots are free again.
  BOOST_TEST(eventually([&] {
    return request_from("127.0.0.1", port, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").rfind("HTTP/1.1 200", 0) == 0;
  }));
}

BOOST_AUTO_TEST_CASE(a_slow_handler_holds_one_worker_only_and_a_full_queue_is_503) {
  http::server_options o;
  o.listen = "127.0.0.1:0";
  o.threads = 2;
  o.max_queued_requests = 0;
  auto srv = start_with(o);
  add_echo(*srv);
  std::promise<void> release;
  auto released = release.get_future().share();
  std::atomic<int> entered{0};
  add_slow(*srv, entered, released);
  auto url = "http://" + srv->listen_address();
  auto first = std::async(std::launch::async, [&] { return http::client::send(url, "GET", "/slow", {}, {}, 60s); });
  BOOST_REQUIRE(eventually([&] { return entered.load() == 1; }));
  // One worker is left: other requests go through.
  for (int i = 0; i < 3; ++i)
    BOOST_TEST(must_send(url, "GET", "/hello").status == 200);
  // Both workers busy and no queue: 503 with Retry-After.
  auto second = std::async(std::launch::async, [&] { return http::client::send(url, "GET", "/slow", {}, {}, 60s); });
  BOOST_REQUIRE(eventually([&] { return entered.load() == 2; }));
  auto busy = must_send(url, "GET", "/hello");
  BOOST_TEST(busy.status == 503);
  BOOST_TEST(error_code(busy) == "resource_exhausted");
  BOOST_TEST(busy.headers["retry-after"] == "1");
  release.set_value();
  auto r1 = first.get();
  auto r2 = second.get();
  BOOST_TEST((r1.ok() && r1->status == 200));
  BOOST_TEST((r2.ok() && r2->status == 200));
}

BOOST_AUTO_TEST_CASE(stop_closes_connections_at_once_and_waits_for_running_handlers) {
  http::server_options o;
  o.listen = "127.0.0.1:0";
  o.header_timeout = 120s;
  o.body_timeout = 120s;
  auto srv = start_with(o);
  add_echo(*srv);
  std::promise<void> release;
  auto released = release.get_future().share();
  std::atomic<bool> entered{false};
  std::atomic<bool> handler_done{false};
  srv->route("GET", "/slow", [&](const http::request&) {
    entered = true;
    released.wait();
    handler_done = true;
    return http::response::json(200, {});
  });
  auto port = port_of(*srv);
  auto idle = connect_from("127.0.0.1", port);
  auto mid_body = connect_from("127.0.0.1", port);
  send_all(mid_body.get(), "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc");
  auto busy = connect_from("127.0.0.1", port);
  send_all(busy.get(), "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  BOOST_REQUIRE(eventually([&] { return entered.load(); }));

  std::atomic<bool> handler_done_before_stop_returned{false};
  auto stopping = std::async(std::launch::async, [&] {
    srv->stop();
    handler_done_before_stop_returned = handler_done.load();
  });
  // The open connections are closed by stop() (their timeouts are minutes away).
  bool closed = false;
  BOOST_TEST(read_until_close(idle.get(), &closed).empty());
  BOOST_TEST(closed);
  BOOST_TEST(read_until_close(mid_body.get(), &closed).empty());
  BOOST_TEST(closed);
  // The listener is closed at once.
  BOOST_TEST(eventually([&] { return !http::client::send("http://127.0.0.1:" + std::to_string(port), "GET", "/hello", {}, {}, 2s).ok(); }));
  release.set_value();
  BOOST_REQUIRE((stopping.wait_for(30s) == std::future_status::ready));
  BOOST_TEST(handler_done_before_stop_returned.load());
  srv->stop(); // idempotent
}

BOOST_AUTO_TEST_CASE(a_server_without_tls13_is_a_protocol_error) {
  test::https_pki pki;
  auto id = pki.identity({"localhost"}, {"127.0.0.1"});
  bound_socket listener{true};
  // A TLS 1.2-only server, raw OpenSSL: one connection, one handshake attempt.
  std::thread server{[&] {
    pollfd pfd{listener.fd, POLLIN, 0};
    if (::poll(&pfd, 1, 10'000) != 1)
      return;
    net::socket_fd conn{::accept(listener.fd, nullptr, nullptr)};
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_use_certificate(ctx, id.chain.front().native_handle());
    SSL_CTX_use_PrivateKey(ctx, id.key->native_handle());
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, conn.get());
    ERR_clear_error();
    SSL_accept(ssl);
    ERR_clear_error();
    SSL_free(ssl);
    SSL_CTX_free(ctx);
  }};
  http::client_options c;
  c.ca_file = pki.root_file();
  auto r = http::client::send("https://127.0.0.1:" + std::to_string(listener.port), "GET", "/x", {}, {}, c);
  server.join();
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST((r.err().code == errc::protocol_error), r.err().describe());
  BOOST_TEST(r.err().message.find("TLS 1.3") != std::string::npos, r.err().message);
}

// -- the client on libcurl: what it must not inherit from libcurl's defaults ----------------------

BOOST_AUTO_TEST_CASE(client_refuses_garbled_and_oversized_responses_while_they_arrive) {
  expect_refusal("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
                 errc::malformed_input, "chunked");
  expect_refusal("HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n", errc::malformed_input,
                 "bad header line");
  std::string head = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 70; ++i)
    head += "X-Pad-" + std::to_string(i) + ": " + std::string(1000, 'p') + "\r\n";
  expect_refusal(head + "Content-Length: 0\r\n\r\n", errc::malformed_input, "64 KiB");
  // No length announced: the cap is applied to the bytes as they come.
  const std::string ok = "HTTP/1.1 200 OK\r\n\r\n";
  expect_refusal(ok + std::string(http::client::max_response_bytes + 1, 'x'), errc::too_large, "exceeds");
  auto full = answer_to(ok + std::string(http::client::max_response_bytes, 'x'));
  BOOST_REQUIRE_MESSAGE(full.ok(), (full.ok() ? "" : full.err().describe()));
  BOOST_TEST(full->body.size() == http::client::max_response_bytes);
}

BOOST_AUTO_TEST_CASE(client_sends_the_target_as_written_and_follows_no_redirect) {
  canned_server srv{"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\nContent-Length: 0\r\n\r\n"};
  auto r = http::client::send(srv.url() + "/api/", "GET", "/a/../b/%2e%2e/c?x=1&y=%20#frag");
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.err().describe()));
  BOOST_TEST(r->status == 302);
  BOOST_TEST(r->headers["location"] == "http://127.0.0.1:1/elsewhere");
  auto head = srv.request_head();
  BOOST_TEST(head.rfind("GET /api/a/../b/%2e%2e/c?x=1&y=%20#frag HTTP/1.1\r\n", 0) == 0, head);
  BOOST_TEST(head.find("Connection: close\r\n") != std::string::npos, head);
  BOOST_TEST(head.find("Content-Type") == std::string::npos, head);

  canned_server bodyless{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"};
  auto h = http::client::send(bodyless.url(), "HEAD", "/x");
  BOOST_REQUIRE_MESSAGE(h.ok(), (h.ok() ? "" : h.err().describe()));
  BOOST_TEST(h->headers["content-length"] == "5");
  BOOST_TEST(h->body.empty());
}

BOOST_AUTO_TEST_CASE(client_ignores_proxy_settings_of_the_environment) {
  auto srv = start_server();
  add_echo(*srv);
  // A proxy that does not exist: a client that used it would fail.
  const auto proxy = "http://127.0.0.1:" + std::to_string(free_port());
  for (const char* var : {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"})
    ::setenv(var, proxy.c_str(), 1);
  ::unsetenv("no_proxy");
  ::unsetenv("NO_PROXY");
  auto r = http::client::send(base(*srv), "POST", "/echo", "{}", "tok", 10s);
  for (const char* var : {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"})
    ::unsetenv(var);
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.err().describe()));
  BOOST_TEST(r->json_body()->at("token") == "tok");
}

BOOST_AUTO_TEST_CASE(client_reports_upload_progress_and_a_large_body_refused_before_it_is_sent) {
  auto srv = start_server();
  add_echo(*srv);
  srv->route("POST", "/small", [](const http::request&) { return http::response::json(200, {}); });
  std::string big(2 << 20, 'b');
  std::vector<std::pair<size_t, size_t>> seen;
  http::client_options o;
  o.progress = [&](size_t sent, size_t total) { seen.emplace_back(sent, total); };
  auto r = http::client::send(base(*srv), "POST", "/small", big, {}, o);
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.err().describe()));
  BOOST_TEST(r->status == 413);
  BOOST_TEST(error_code(*r) == "too_large");

  srv->route("POST", "/large", [](const http::request& req) {
    return http::response::json(200, {{"bytes", req.body.size()}});
  }, 4 << 20);
  seen.clear();
  auto ok = http::client::send(base(*srv), "POST", "/large", big, {}, o);
  BOOST_REQUIRE_MESSAGE(ok.ok(), (ok.ok() ? "" : ok.err().describe()));
  BOOST_TEST(ok->json_body()->at("bytes") == big.size());
  BOOST_REQUIRE(!seen.empty());
  BOOST_TEST(seen.back().first == big.size());
  for (size_t i = 0; i < seen.size(); ++i) {
    BOOST_TEST(seen[i].second == big.size());
    if (i > 0)
      BOOST_TEST(seen[i].first > seen[i - 1].first);
  }
}

BOOST_AUTO_TEST_CASE(https_secrets_never_reach_an_sslkeylogfile) {
  https_fixture f;
  auto r = f.get("https://" + f.srv->listen_address(), f.ca_file);
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.err().describe()));
  std::ifstream in{keylog_file()};
  std::string logged{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  BOOST_TEST(logged.empty(), logged);
}
