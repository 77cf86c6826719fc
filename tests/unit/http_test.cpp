#define BOOST_TEST_MODULE http
#include <boost/test/unit_test.hpp>

#include "joconde/runtime/http_client.hpp"
#include "joconde/runtime/http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
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
    thread_.join();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(sock_.port);
  }

private:
  void run() {
    pollfd pfd{sock_.fd, POLLIN, 0};
    if (::poll(&pfd, 1, 10'000) != 1)
      return;
    int fd = ::accept(sock_.fd, nullptr, nullptr);
    if (fd < 0)
      return;
    std::string head;
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
  std::thread thread_;
};

std::uint16_t port_of(const http::server& srv) {
  auto addr = srv.listen_address();
  return static_cast<std::uint16_t>(std::stoi(addr.substr(addr.rfind(':') + 1)));
}

} // namespace

BOOST_AUTO_TEST_CASE(parse_listen_accepts_ipv4_and_rejects_the_rest) {
  auto ok = http::parse_listen("127.0.0.1:8080");
  BOOST_REQUIRE(ok.ok());
  BOOST_TEST(ok->ip == "127.0.0.1");
  BOOST_TEST(ok->port == 8080);
  for (const char* bad : {"127.0.0.1", "localhost:80", "127.0.0.1:", "127.0.0.1:65536",
                          "127.0.0.1:8o", ":8080", "1.2.3:80", "[::1]:80"}) {
    auto r = http::parse_listen(bad);
    BOOST_TEST_CONTEXT(bad) {
      BOOST_REQUIRE(!r.ok());
      BOOST_TEST((r.err().code == errc::invalid_config));
      BOOST_TEST(r.err().message.find("127.0.0.1:8080") != std::string::npos);
    }
  }
}

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
  // Encoded dot segments are refused too (plain ones are resolved by civetweb).
  auto dots = must_send(url, "GET", "/v1/certs/%2e%2E");
  BOOST_TEST(dots.status == 400);
  BOOST_TEST(must_send(url, "GET", "/v1/x/../certs/abc").status == 200);
  BOOST_TEST(calls.load() == 1);
  // Requests civetweb itself refuses get a JSON error as well.
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
  {
    canned_server srv{"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\nabc"};
    auto r = http::client::send(srv.url(), "GET", "/");
    BOOST_REQUIRE(!r.ok());
    BOOST_TEST((r.err().code == errc::too_large), r.err().describe());
  }
  {
    canned_server srv{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"};
    auto r = http::client::send(srv.url(), "GET", "/");
    BOOST_REQUIRE(!r.ok());
    BOOST_TEST((r.err().code == errc::io_error), r.err().describe());
  }
  {
    canned_server srv{"SSH-2.0-OpenSSH\r\n\r\n"};
    auto r = http::client::send(srv.url(), "GET", "/");
    BOOST_REQUIRE(!r.ok());
    BOOST_TEST((r.err().code == errc::malformed_input), r.err().describe());
  }
  {
    canned_server srv{""};
    auto r = http::client::send(srv.url(), "GET", "/");
    BOOST_REQUIRE(!r.ok());
    BOOST_TEST((r.err().code == errc::io_error), r.err().describe());
  }
}
