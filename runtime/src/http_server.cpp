// The HTTP(S) server (see http_server.hpp) on Boost.Asio and Boost.Beast: its listener (the options'
// checks, the socket bound or adopted, accepting under the connection limits) and its start and
// stop. A connection's own steps are in http_connection.cpp and http_connection_read.cpp; what
// they share with this file, and the chain of steps, in http_server_detail.hpp.

#include "joconde/runtime/http_server.hpp"
#include "joconde/runtime/net.hpp"

#include "http_server_detail.hpp"
#include "http_tls.hpp"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

namespace joconde::http {

namespace {

using detail::error_code;
using detail::tcp;
namespace asio = boost::asio;

// -- peers ----------------------------------------------------------------------------------------

// An IPv4 peer of an IPv6 socket as IPv4.
asio::ip::address unmapped(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  return a;
}

// What connection limits count per client: an IPv4 address or the /64 of an IPv6 address (one
// site usually holds a whole /64).
std::string client_key(const asio::ip::address& a) {
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    return std::string{"4"} + std::string{b.begin(), b.end()};
  }
  auto b = a.to_v6().to_bytes();
  return std::string{"6"} + std::string{b.begin(), b.begin() + 8};
}

// -- listener -------------------------------------------------------------------------------------

error invalid(std::string what) {
  return fail(errc::invalid_config, "HTTP server: " + what);
}

// The first option out of range, as invalid_config.
result<void> check_options(const server_options& options) {
  if (options.threads == 0)
    return invalid("needs at least one thread");
  if (options.max_connections == 0 || options.max_connections_per_client == 0
      || options.max_requests_per_client == 0)
    return invalid("the connection limits must be at least 1");
  if (options.max_header_bytes < 1024 || options.max_header_bytes > (size_t{1} << 20))
    return invalid("max_header_bytes must be between 1 KiB and 1 MiB");
  if (options.header_timeout.count() <= 0 || options.body_timeout.count() <= 0
      || options.write_timeout.count() <= 0)
    return invalid("the timeouts must be positive");
  if (options.min_transfer_rate == 0)
    return invalid("min_transfer_rate must be positive");
  return {};
}

// Makes `owned` the listening socket: the adopted listen_fd it holds once checked, else a new one
// bound to options.listen. Returns the address options.listen names, if it names one.
result<std::optional<net::host_port>> open_listener(const server_options& options,
                                                    net::socket_fd& owned) {
  std::optional<net::host_port> given;
  if (int fd = owned.get(); fd >= 0) {
    int listening = 0;
    int type = 0;
    socklen_t len = sizeof listening;
    socklen_t tlen = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || listening == 0
        || ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 || type != SOCK_STREAM)
      return invalid("listen_fd " + std::to_string(fd) + " is not a listening TCP socket");
    if (auto at = net::parse_host_port(options.listen, true))
      given = std::move(*at);
    return given;
  }
  auto at = net::parse_host_port(options.listen, true);
  if (!at)
    return invalid("listen address " + at.err().message);
  auto l = net::listen_tcp(*at, 128);
  if (!l)
    return std::move(l).err();
  owned = std::move(l->fd);
  given = std::move(*at);
  return given;
}

} // namespace

// -- accepting ------------------------------------------------------------------------------------

namespace detail {

std::optional<std::string> server_state::admit(const std::string& key, std::string& evicted) {
  std::lock_guard guard{conn_mtx};
  if (open >= opts.max_connections) {
    connection* oldest = nullptr;
    for (auto* c : live)
      if (c->waiting_for_head() && (oldest == nullptr || c->born() < oldest->born()))
        oldest = c;
    if (oldest == nullptr)
      return "connection_limit";
    evicted = oldest->peer();
    oldest->evict_locked();
  }
  auto& n = per_client[key];
  if (n >= opts.max_connections_per_client)
    return "client_connection_limit";
  ++n;
  ++open;
  return std::nullopt;
}

void server_state::accept() {
  acceptor->async_wait(tcp::acceptor::wait_read, [this](const error_code& ec) {
    if (ec == asio::error::operation_aborted || !acceptor->is_open())
      return;
    on_acceptable();
  });
}

void server_state::on_acceptable() {
  // accept4 sets close-on-exec atomically: the node starts child processes (CT VMs).
  for (int i = 0; i < 32; ++i) {
    int fd = ::accept4(acceptor->native_handle(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors or memory: try again shortly instead of spinning.
        accept_backoff.expires_after(std::chrono::milliseconds{100});
        accept_backoff.async_wait([this](const error_code& ec) {
          if (!ec)
            accept();
        });
        return;
      }
      break; // EAGAIN, or a connection that was reset before it was accepted
    }
    error_code ec;
    tcp::socket socket{io};
    sockaddr_storage local{};
    socklen_t len = sizeof local;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
    socket.assign(local.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd, ec);
    if (ec) {
      ::close(fd);
      continue;
    }
    auto remote = socket.remote_endpoint(ec);
    if (ec)
      continue; // gone already
    auto address = unmapped(remote.address());
    auto peer = address.to_string();
    auto key = client_key(address);
    std::string evicted;
    auto over = admit(key, evicted);
    if (!evicted.empty())
      refused(evicted, "idle_evicted");
    if (over) {
      refused(peer, *over);
      continue; // closed as `socket` goes: no handshake, nothing read
    }
    std::shared_ptr<connection> conn;
    try {
      conn = std::make_shared<connection>(*this, std::move(socket), peer, key);
      conn->start();
    } catch (...) {
      if (!conn)
        release(key); // out of memory: counted but never made
    }
  }
  accept();
}

void server_state::stop() {
  std::lock_guard guard{stop_mtx};
  if (stopped)
    return;
  stopped = true;
  io.stop();
  if (io_thread.joinable())
    io_thread.join();
  error_code ignored;
  if (acceptor)
    acceptor->close(ignored);
  {
    std::lock_guard conns{conn_mtx};
    for (auto* c : live)
      c->abort();
  }
  pool.stop();
}

} // namespace detail

// -- server ---------------------------------------------------------------------------------------

server::server(std::unique_ptr<detail::server_state> state) : state_(std::move(state)) {
  // nop
}

server::~server() {
  stop();
}

result<std::unique_ptr<server>> server::start(const std::string& listen, size_t max_body_bytes,
                                              unsigned threads) {
  server_options options;
  options.listen = listen;
  options.max_body_bytes = max_body_bytes;
  options.threads = threads;
  return start(options);
}

result<std::unique_ptr<server>> server::start(const server_options& options) {
  // An adopted listener is ours from here on: closed if anything below fails.
  net::socket_fd owned{options.listen_fd};
  if (auto checked = check_options(options); !checked)
    return checked.err();
  try {
    auto st = std::make_unique<detail::server_state>(options);
    if (options.tls) {
      auto ctx = detail::tls_server_context(*options.tls);
      if (!ctx)
        return std::move(ctx).err();
      st->tls = std::make_unique<asio::ssl::context>(ctx->release());
    }
    auto given = open_listener(options, owned);
    if (!given)
      return std::move(given).err();
    int fd = owned.get();
    sockaddr_storage local{};
    socklen_t llen = sizeof local;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &llen);
    st->acceptor.emplace(st->io);
    error_code ec;
    st->acceptor->assign(local.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd, ec);
    if (ec)
      return fail(errc::io_error, "cannot serve " + options.listen + ": " + ec.message());
    owned.release();
    auto bound = st->acceptor->local_endpoint(ec);
    if (ec)
      return fail(errc::io_error, "cannot serve " + options.listen + ": " + ec.message());
    st->port = bound.port();
    st->address = net::host_port{*given ? (*given)->host : unmapped(bound.address()).to_string(),
                                 st->port}.text();
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    st->acceptor->native_non_blocking(true, ec);
    st->work.emplace(st->io.get_executor());
    st->accept();
    st->pool.start(options.threads, options.max_queued_requests);
    auto* raw = st.get();
    st->io_thread = std::thread{[raw] {
      for (;;) {
        try {
          raw->io.run();
          return;
        } catch (...) {
          // nop: a step ran out of memory; its connection is gone, the others go on
        }
      }
    }};
    return std::unique_ptr<server>{new server(std::move(st))};
  } catch (const std::exception& e) {
    return fail(errc::io_error, "cannot start the HTTP server on " + options.listen + ": " + e.what());
  }
}

void server::route(std::string method, std::string path_pattern, handler fn, size_t max_body_bytes,
                   admission admit) {
  state_->routes.add(std::move(method), std::move(path_pattern), std::move(fn), max_body_bytes,
                     std::move(admit));
}

void server::stop() {
  state_->stop();
}

std::string server::listen_address() const {
  return state_->address;
}

} // namespace joconde::http
