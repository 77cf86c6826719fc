// The HTTP server's routing, responses and life cycle; the client, listeners and TLS, and the
// server's limits are in the companion files http_test_client.cpp, http_test_tls.cpp and
// http_test_limits.cpp.
#define BOOST_TEST_MODULE http
#include <boost/test/unit_test.hpp>

#include "http_test_support.hpp"

using namespace joconde;
using namespace std::chrono_literals;
using namespace http_test_support;

namespace {

// Raw TLS clients write after the server closed; a test process must not die of SIGPIPE for it.
struct ignore_sigpipe {
  ignore_sigpipe() {
    std::signal(SIGPIPE, SIG_IGN);
  }
};
BOOST_TEST_GLOBAL_FIXTURE(ignore_sigpipe);

// SSLKEYLOGFILE for the whole program (see keylog_file).
struct keylog_trap {
  keylog_trap() {
    ::setenv("SSLKEYLOGFILE", keylog_file().c_str(), 1);
  }
  ~keylog_trap() {
    std::filesystem::remove(keylog_file());
  }
};
BOOST_TEST_GLOBAL_FIXTURE(keylog_trap);

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
