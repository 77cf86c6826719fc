// The server's limits: sizes, connections, workers, timeouts and stop (part of the http test
// program).
#include <boost/test/unit_test.hpp>

#include "http_test_support.hpp"

using namespace joconde;
using namespace std::chrono_literals;
using namespace http_test_support;

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
  auto o = loopback_options(refused);
  o.max_connections_per_client = 3;
  o.header_timeout = 120s; // the idle connections stay until the test closes them
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
  BOOST_TEST(served_eventually("127.0.0.1", port));
}

BOOST_AUTO_TEST_CASE(at_the_total_limit_idle_connections_give_way_and_busy_ones_do_not) {
  refusals refused;
  auto o = loopback_options(refused);
  o.max_connections = 2;
  o.header_timeout = 120s; // idle connections would stay until the test closes them
  o.body_timeout = 120s;
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
  BOOST_TEST(served_eventually("127.0.0.7", port));
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
  auto o = loopback_options(refused);
  o.threads = 2;
  o.max_requests_per_client = 1;
  slow_server slow{o};
  auto& [srv, entered, release] = slow;
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
  BOOST_TEST(served_eventually("127.0.0.1", port));
}

BOOST_AUTO_TEST_CASE(idle_and_slow_connections_time_out_and_free_their_slot) {
  refusals refused;
  auto o = loopback_options(refused);
  o.max_connections_per_client = 2;
  o.header_timeout = 300ms;
  o.body_timeout = 300ms;
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
  BOOST_TEST(served_eventually("127.0.0.1", port));
}

BOOST_AUTO_TEST_CASE(a_slow_handler_holds_one_worker_only_and_a_full_queue_is_503) {
  http::server_options o;
  o.listen = "127.0.0.1:0";
  o.threads = 2;
  o.max_queued_requests = 0;
  slow_server slow{o};
  auto& [srv, entered, release] = slow;
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
