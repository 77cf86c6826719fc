#define BOOST_TEST_MODULE api_attack
#include <boost/test/unit_test.hpp>

// A node's HTTPS API under attack by clients without credentials (issue 14, second item): huge bodies
// announced without a token, idle connections from one client and from hundreds, while the node's
// operator and its broker go on working. Each attack has its twin: the same request with a token is
// served, the node still answers, nothing in its stores changed.

#include "support/cluster.hpp"

#include "joconde/runtime/net.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace joconde;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

struct ignore_sigpipe {
  ignore_sigpipe() { std::signal(SIGPIPE, SIG_IGN); }
};
BOOST_TEST_GLOBAL_FIXTURE(ignore_sigpipe);

/// The port of an "https://host:port" URL.
std::uint16_t port_of(const std::string& url) {
  return static_cast<std::uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
}

/// A TCP connection to 127.0.0.1:port from `source` (another loopback address is another client);
/// an invalid fd if the connection could not be made.
net::socket_fd connect_from(const std::string& source, std::uint16_t port) {
  net::socket_fd fd{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  sockaddr_in from{};
  from.sin_family = AF_INET;
  ::inet_pton(AF_INET, source.c_str(), &from.sin_addr);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&from), sizeof from) != 0)
    return {};
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) != 0)
    return {};
  timeval tv{20, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

/// A TLS 1.3 client connection verifying the node's certificate against `ca_file`.
class tls_client {
public:
  tls_client(const std::string& source, std::uint16_t port, const std::string& ca_file)
    : fd_(connect_from(source, port)) {
    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_min_proto_version(ctx_.get(), TLS1_3_VERSION);
    SSL_CTX_load_verify_locations(ctx_.get(), ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
    ssl_.reset(SSL_new(ctx_.get()));
    SSL_set1_host(ssl_.get(), "127.0.0.1");
    SSL_set_fd(ssl_.get(), fd_.get());
    ok_ = fd_.get() >= 0 && SSL_connect(ssl_.get()) == 1;
  }

  bool ok() const { return ok_; }

  bool write(const std::string& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      int n = SSL_write(ssl_.get(), bytes.data() + done, static_cast<int>(bytes.size() - done));
      if (n <= 0)
        return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }

  /// Everything the server sends until it closes (or 20 s of silence).
  std::string read_all() {
    std::string out;
    char buf[4096];
    for (;;) {
      int n = SSL_read(ssl_.get(), buf, sizeof buf);
      if (n <= 0)
        return out;
      out.append(buf, static_cast<size_t>(n));
    }
  }

private:
  struct ctx_free {
    void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
  };
  struct ssl_free {
    void operator()(SSL* s) const { SSL_free(s); }
  };
  net::socket_fd fd_;
  std::unique_ptr<SSL_CTX, ctx_free> ctx_;
  std::unique_ptr<SSL, ssl_free> ssl_;
  bool ok_ = false;
};

/// The resident set of process `pid` in KiB (0 if unknown).
long rss_kib(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stol(line.substr(6));
  return 0;
}

/// What must not change under attack: the node's users, CTAs and inbox.
json state_of(const test::cluster& c, const std::string& node) {
  json out;
  for (auto path : {"/v1/users", "/v1/ctas", "/v1/inbox?topic=test.attack"}) {
    auto [status, doc] = c.call(node, "GET", path);
    out[path] = {{"status", status}, {"doc", doc}};
  }
  return out;
}

/// client-a sends an envelope to cp1 through the tree and it arrives: the broker and links work.
void broker_delivers(const test::cluster& c, const std::string& payload) {
  auto [status, doc] = c.call("client-a", "POST", "/v1/envelopes",
                              json{{"topic", "test.delivery"}, {"recipients", {"cp1"}}, {"payload", payload}});
  BOOST_REQUIRE_EQUAL(status, 202);
  auto id = doc["ids"][0].get<std::string>();
  BOOST_TEST(test::cluster::wait_until([&] { return c.inbox_ids("cp1", "test.delivery").count(id) == 1; }, 60s),
             "the envelope " << id << " reached cp1 while the API was under attack");
}

} // namespace

BOOST_AUTO_TEST_CASE(a_node_api_under_attack_keeps_serving_and_nothing_changes) {
  test::cluster c{"api-attack"};
  auto node = c.node("client-a");
  auto port = port_of(node["http_url"].get<std::string>());
  auto ca = node["root_ca"].get<std::string>();
  pid_t pid = node["pid"].get<pid_t>();
  auto before = state_of(c, "client-a");
  auto refused = [&](const std::string& reason) {
    return c.metric("client-a", "joconde_http_refused_total{reason=\"" + reason + "\"}");
  };

  // -- 1. Four uploads announcing 512 MiB each, without a token: each is answered 401 from its head,
  //       and what they push afterwards is discarded, never buffered. --
  auto rss_before = rss_kib(pid);
  BOOST_REQUIRE(rss_before > 0);
  auto unauthenticated = refused("unauthenticated");
  const std::string head = "POST /v1/ctas/00000000-0000-4000-8000-000000000000/inputs/persons HTTP/1.1\r\n"
                           "Host: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
                           "Content-Length: 536870912\r\n\r\n";
  std::vector<std::future<std::pair<size_t, std::string>>> uploads;
  for (int i = 0; i < 4; ++i)
    uploads.push_back(std::async(std::launch::async, [&, i] {
      tls_client conn{"127.0.0." + std::to_string(20 + i), port, ca};
      if (!conn.ok())
        return std::pair<size_t, std::string>{0, "no TLS connection"};
      conn.write(head);
      // Push up to 64 MiB of body until the server stops taking it.
      const std::string chunk(1 << 20, 'x');
      size_t sent = 0;
      while (sent < (size_t{64} << 20) && conn.write(chunk))
        sent += chunk.size();
      return std::pair<size_t, std::string>{sent, conn.read_all()};
    }));
  size_t pushed = 0;
  for (auto& u : uploads) {
    auto [sent, answer] = u.get();
    pushed += sent;
    BOOST_TEST(answer.rfind("HTTP/1.1 401", 0) == 0, answer.substr(0, 200));
    BOOST_TEST(answer.find("unauthorised") != std::string::npos);
  }
  auto rss_after = rss_kib(pid);
  BOOST_TEST_MESSAGE("node RSS " << rss_before << " KiB -> " << rss_after << " KiB after " << (pushed >> 20)
                                 << " MiB pushed by four unauthenticated uploads");
  BOOST_TEST(rss_after - rss_before < 48 * 1024, "the node buffered what unauthenticated clients sent");
  BOOST_TEST(refused("unauthenticated") >= unauthenticated + 4);
  // The twin: the same route with the custodian's token reaches the upload handler (which refuses an
  // unknown CTA by name, not by token).
  auto [status, why] = c.call_as("client-a", "data_custodian", "POST",
                                 "/v1/ctas/00000000-0000-4000-8000-000000000000/inputs/persons", json::object());
  BOOST_TEST(status != 401);
  BOOST_TEST(status >= 400);
  BOOST_TEST_MESSAGE("with a token: " << status << " " << why.dump());

  // -- 2. Forty idle connections from one client: its own limit (32) refuses the rest; others are
  //       served meanwhile. --
  auto per_client = refused("client_connection_limit");
  std::vector<net::socket_fd> idle;
  for (int i = 0; i < 40; ++i)
    idle.push_back(connect_from("127.0.0.50", port));
  BOOST_TEST(test::cluster::wait_until([&] { return refused("client_connection_limit") >= per_client + 8; }, 30s));
  BOOST_TEST(c.call("client-a", "GET", "/v1/whoami").first == 200);
  broker_delivers(c, "under forty idle connections");

  // -- 3. Three hundred idle connections from ten clients (more than the node's 256 in all): the
  //       oldest idle ones give way to newcomers, so the operator is still served. --
  auto evicted = refused("idle_evicted");
  std::vector<net::socket_fd> crowd;
  for (int client = 0; client < 10; ++client)
    for (int i = 0; i < 30; ++i)
      if (auto fd = connect_from("127.0.1." + std::to_string(client + 1), port); fd.get() >= 0)
        crowd.push_back(std::move(fd));
  BOOST_TEST(crowd.size() == 300u);
  BOOST_TEST(test::cluster::wait_until([&] { return refused("idle_evicted") > evicted; }, 30s));
  for (int i = 0; i < 3; ++i)
    BOOST_TEST(c.call("client-a", "GET", "/v1/whoami").first == 200);
  broker_delivers(c, "under three hundred idle connections");
  BOOST_TEST(c.metric("client-a", "joconde_links_up{direction=\"parent\"}") == 1.0);
  idle.clear();
  crowd.clear();

  // -- Nothing changed, and the node still serves. --
  BOOST_TEST(state_of(c, "client-a") == before);
  auto [health, doc] = c.call("client-a", "GET", "/healthz");
  BOOST_TEST(health == 200);
  BOOST_TEST(c.ops("status") == 0);
}
