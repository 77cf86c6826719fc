// Listeners (IPv6, host names, adopted sockets) and TLS (part of the http test program).
#include <boost/test/unit_test.hpp>

#include "http_test_support.hpp"

using namespace joconde;
using namespace std::chrono_literals;
using namespace http_test_support;

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
