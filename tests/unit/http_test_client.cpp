// The HTTP client against canned servers (part of the http test program).
#include <boost/test/unit_test.hpp>

#include "http_test_support.hpp"

using namespace joconde;
using namespace std::chrono_literals;
using namespace http_test_support;

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
