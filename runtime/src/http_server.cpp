// The HTTP(S) server (see http_server.hpp) on Boost.Asio and Boost.Beast. Asio and Beast are
// included here only: a translation unit with them takes ~20 s to compile.
//
// One I/O thread runs every connection as a chain of asynchronous steps:
//   accept (limits) -> [TLS port: peek the first byte -> TLS handshake, or the https_required answer]
//   -> read the head -> route -> read the body -> queue for a worker -> write -> linger -> close,
// with one deadline timer per connection. Handlers run on `threads` workers; their response is
// posted back to the I/O thread. Connection state is touched by the I/O thread only, except the
// request and handler a worker runs while no I/O is pending on that connection.

#include "joconde/messages/text.hpp"
#include "joconde/runtime/http_server.hpp"
#include "joconde/runtime/net.hpp"

#include "http_routing.hpp"
#include "http_tls.hpp"
#include "http_workers.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include <fcntl.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

namespace joconde::http {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using steady = std::chrono::steady_clock;

/// How long a connection may still send (discarded) after its answer, so that it reads the answer
/// instead of a reset.
constexpr auto linger_time = std::chrono::seconds{2};

// -- helpers --------------------------------------------------------------------------------------

std::string_view view(beast::string_view s) noexcept {
  return {s.data(), s.size()};
}

// -- request body ---------------------------------------------------------------------------------

// A Beast body held in a std::string that grows as bytes arrive: unlike beast's string_body it does
// not reserve the announced Content-Length, so a peer cannot make the server allocate bytes it has
// not sent. The parser's body limit is checked before put().
struct growing_body {
  using value_type = std::string;

  class reader {
  public:
    template <bool is_request, class Fields>
    reader(bhttp::header<is_request, Fields>&, value_type& body) : body_(body) {
      // nop
    }

    void init(const boost::optional<std::uint64_t>&, error_code& ec) {
      ec = {};
    }

    template <class ConstBufferSequence>
    size_t put(const ConstBufferSequence& buffers, error_code& ec) {
      size_t n = 0;
      try {
        for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers);
             ++it) {
          asio::const_buffer b = *it;
          body_.append(static_cast<const char*>(b.data()), b.size());
          n += b.size();
        }
      } catch (const std::bad_alloc&) {
        ec = bhttp::error::buffer_overflow;
        return n;
      }
      ec = {};
      return n;
    }

    void finish(error_code& ec) {
      ec = {};
    }

  private:
    value_type& body_;
  };
};

// The refusal reason of a failed server handshake (see refusal_fn).
std::string tls_refusal(const error_code& ec) {
  if (ec.category() == asio::error::get_ssl_category())
    return detail::tls_refusal_reason(static_cast<unsigned long>(ec.value()));
  if (ec == asio::ssl::error::stream_truncated || ec == asio::error::eof
      || ec == asio::error::connection_reset)
    return "connection_closed";
  return "tls_error";
}

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

// A valid host name or IP literal of a Host header value ("name:port", "[v6]:port", "name"), or
// empty.
std::string host_of(std::string_view value) {
  if (auto hp = net::parse_host_port(value, true))
    return hp->host;
  if (net::is_valid_host(value))
    return std::string{value};
  return {};
}

class connection;

} // namespace

// -- server state -----------------------------------------------------------------------------------

namespace detail {

struct server_state {
  explicit server_state(server_options o) : opts(std::move(o)) {
    // nop
  }

  /// Counts a new connection from `key`, or says which limit it is over. At the total limit, the
  /// oldest connection still waiting for its head makes room (its peer lands in `evicted`). I/O
  /// thread only.
  std::optional<std::string> admit(const std::string& key, std::string& evicted);

  /// Uncounts a connection from `key`.
  void release(const std::string& key) {
    std::lock_guard guard{conn_mtx};
    release_locked(key);
  }

  void release_locked(const std::string& key) {
    --open;
    if (auto it = per_client.find(key); it != per_client.end() && --it->second == 0)
      per_client.erase(it);
  }

  /// Counts a request of client `key` going to the workers; false if the client is at its limit.
  bool start_request(const std::string& key) {
    std::lock_guard guard{conn_mtx};
    auto& n = requests[key];
    if (n >= opts.max_requests_per_client)
      return false;
    ++n;
    return true;
  }

  /// Uncounts a request of client `key` (its handler returned).
  void end_request(const std::string& key) {
    std::lock_guard guard{conn_mtx};
    if (auto it = requests.find(key); it != requests.end() && --it->second == 0)
      requests.erase(it);
  }

  /// Tells on_refusal (never throws).
  void refused(const std::string& peer, const std::string& reason) const noexcept {
    if (!opts.on_refusal)
      return;
    try {
      opts.on_refusal(peer, reason);
    } catch (...) {
      // nop: a failing observer must not stop the server
    }
  }

  /// The time `bytes` take at the slowest transfer rate the server waits for.
  std::chrono::milliseconds transfer_time(std::uint64_t bytes) const {
    constexpr std::uint64_t cap = std::uint64_t{1} << 40; // beyond, the figure is days anyway
    return std::chrono::milliseconds{std::min(bytes, cap) * 1000 / opts.min_transfer_rate};
  }

  void accept();
  void on_acceptable();
  void stop();

  server_options opts;
  std::string address;    // listen_address()
  std::uint16_t port = 0; // the port bound

  route_table routes;

  // Connections (guarded by conn_mtx): counts for the limits, and the live ones, closed by stop().
  std::mutex conn_mtx;
  size_t open = 0;
  std::map<std::string, size_t> per_client;
  std::map<std::string, size_t> requests; // per client: waiting for a worker or being served
  std::set<connection*> live;

  std::array<char, 16 * 1024> discard{}; // bytes read while lingering (I/O thread only)
  std::unique_ptr<asio::ssl::context> tls;
  worker_pool pool;
  // Declared after everything connections use: destroying it destroys the last connections.
  asio::io_context io{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::optional<tcp::acceptor> acceptor;
  asio::steady_timer accept_backoff{io};
  std::thread io_thread;

  std::mutex stop_mtx;
  bool stopped = false;
};

} // namespace detail

namespace {

// One connection, from accept to close.
class connection : public std::enable_shared_from_this<connection> {
public:
  connection(detail::server_state& st, tcp::socket socket, std::string peer, std::string key)
    : st_(st),
      socket_(std::move(socket)),
      timer_(st.io),
      buffer_(st.opts.max_header_bytes + 4096),
      peer_(std::move(peer)),
      key_(std::move(key)) {
    std::lock_guard guard{st_.conn_mtx};
    st_.live.insert(this);
  }

  ~connection() {
    std::lock_guard guard{st_.conn_mtx};
    st_.live.erase(this);
    if (!released_)
      st_.release_locked(key_);
  }

  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  void start() {
    arm(st_.opts.header_timeout);
    if (st_.tls)
      peek();
    else
      read_head();
  }

  // Closes the socket at once (stop(), with the I/O thread stopped).
  void abort() noexcept {
    error_code ignored;
    socket_.close(ignored);
  }

  /// Still waiting for its request head (TLS handshake included): a candidate to make room.
  bool waiting_for_head() const noexcept { return waiting_head_; }
  steady::time_point born() const noexcept { return born_; }
  const std::string& peer() const noexcept { return peer_; }

  // Gives up this connection's place to a newcomer: uncounted now (the caller holds conn_mtx),
  // closed at once; its pending operations end with an error. I/O thread only.
  void evict_locked() noexcept {
    if (released_)
      return;
    released_ = true;
    waiting_head_ = false;
    st_.release_locked(key_);
    error_code ignored;
    socket_.cancel(ignored);
    socket_.close(ignored);
  }

private:
  template <class F>
  void with_stream(F&& f) {
    if (tls_)
      f(*tls_);
    else
      f(socket_);
  }

  // -- deadlines --

  void arm(std::chrono::milliseconds d) {
    arm_until(steady::now() + d);
  }

  // On expiry, pending reads and writes are cancelled and see timed_out_.
  void arm_until(steady::time_point t) {
    timed_out_ = false;
    timer_.expires_at(t);
    timer_.async_wait([weak = weak_from_this(), gen = ++timer_gen_](const error_code& ec) {
      auto self = weak.lock();
      if (!self || ec || gen != self->timer_gen_)
        return;
      self->timed_out_ = true;
      error_code ignored;
      self->socket_.cancel(ignored);
    });
  }

  void disarm() {
    ++timer_gen_;
    timer_.cancel();
  }

  void close() {
    disarm();
    error_code ignored;
    socket_.close(ignored);
  }

  // -- TLS or not --

  // A TLS ClientHello starts with a handshake record (0x16); anything else is plain text.
  void peek() {
    socket_.async_receive(asio::buffer(first_byte_), tcp::socket::message_peek,
                          [self = shared_from_this()](const error_code& ec, size_t n) {
                            self->on_peek(ec, n);
                          });
  }

  void on_peek(const error_code& ec, size_t n) {
    if (ec || n == 0) {
      if (timed_out_ && !released_)
        st_.refused(peer_, "header_timeout");
      close();
      return;
    }
    if (static_cast<unsigned char>(first_byte_[0]) != 0x16) {
      https_required_ = true;
      read_head();
      return;
    }
    tls_.emplace(socket_, *st_.tls);
    tls_->async_handshake(asio::ssl::stream_base::server,
                          [self = shared_from_this()](const error_code& ec) {
                            self->on_handshake(ec);
                          });
  }

  void on_handshake(const error_code& ec) {
    if (released_) { // evicted mid-handshake: counted as such already
      close();
      return;
    }
    if (ec) {
      st_.refused(peer_, timed_out_ ? "header_timeout" : tls_refusal(ec));
      close();
      return;
    }
    read_head();
  }

  // -- head --

  void read_head() {
    head_.emplace();
    head_->header_limit(static_cast<std::uint32_t>(
      std::min<size_t>(st_.opts.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
    head_->body_limit(std::numeric_limits<std::uint64_t>::max()); // the route decides
    with_stream([this](auto& stream) {
      bhttp::async_read_header(stream, buffer_, *head_,
                               [self = shared_from_this()](const error_code& ec, size_t) {
                                 self->on_head(ec);
                               });
    });
  }

  void on_head(const error_code& ec) {
    waiting_head_ = false;
    if (released_) { // evicted: the socket is gone
      close();
      return;
    }
    if (ec && timed_out_) {
      st_.refused(peer_, "header_timeout");
      if (buffer_.size() == 0 && !https_required_) {
        close();
        return;
      }
      respond(response::error(408, "timeout", "the request head did not arrive within "
                                                + std::to_string(st_.opts.header_timeout.count())
                                                + " ms"));
      return;
    }
    // The peer left (or the connection broke) before a request: nothing to answer.
    if ((ec && ec.category() != bhttp::make_error_code(bhttp::error::end_of_stream).category())
        || ec == bhttp::error::end_of_stream) {
      close();
      return;
    }
    if (https_required_) {
      st_.refused(peer_, "https_required");
      respond(https_required());
      return;
    }
    if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
      respond(response::error(431, "too_large", "the request head is larger than "
                                                  + std::to_string(st_.opts.max_header_bytes)
                                                  + " bytes"));
      return;
    }
    if (ec) {
      respond(response::error(400, "malformed_input",
                              "the request is not valid HTTP/1.1 (" + ec.message() + ")"));
      return;
    }
    if (auto early = route_request()) {
      respond(std::move(*early));
      return;
    }
    if (admit_) {
      std::optional<response> refusal;
      try {
        refusal = (*admit_)(req_);
      } catch (...) {
        refusal = response::error(500, "internal_error", "the server failed to check the request");
      }
      if (refusal) {
        respond(std::move(*refusal));
        return;
      }
    }
    const auto& h = head_->get();
    if (auto length = head_->content_length(); length && *length > body_limit_) {
      respond(response::error(413, "too_large", "the request body is larger than "
                                                  + std::to_string(body_limit_) + " bytes"));
      return;
    }
    if (head_->is_done()) {
      head_.reset();
      dispatch();
      return;
    }
    expected_ = head_->content_length().value_or(0);
    bool wants_continue = h.version() >= 11 && text::iequals(view(h[bhttp::field::expect]), "100-continue");
    body_.emplace(std::move(*head_));
    head_.reset();
    body_->body_limit(body_limit_);
    body_start_ = steady::now();
    arm_until(body_start_ + st_.opts.body_timeout + st_.transfer_time(expected_));
    if (!wants_continue) {
      read_body();
      return;
    }
    static constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
    with_stream([this](auto& stream) {
      asio::async_write(stream, asio::buffer(continue_line.data(), continue_line.size()),
                        [self = shared_from_this()](const error_code& ec, size_t) {
                          if (ec)
                            self->close();
                          else
                            self->read_body();
                        });
    });
  }

  // The 400 a plain-HTTP client of a TLS listener gets, naming the URL it should use.
  response https_required() const {
    std::string host;
    std::string target = "/";
    if (head_ && head_->is_header_done()) {
      const auto& h = head_->get();
      host = host_of(view(h[bhttp::field::host]));
      auto t = view(h.target());
      if (!t.empty() && t.front() == '/' && t.size() <= 256
          && std::all_of(t.begin(), t.end(), [](char c) { return c > 0x20 && c < 0x7f; }))
        target = std::string{t};
    }
    if (host.empty())
      host = host_of(st_.address);
    return response::error(400, "https_required",
                           "this listener speaks HTTPS only: use https://" + net::bracketed(host)
                             + ":" + std::to_string(st_.port) + target);
  }

  // Fills req_, fn_ and body_limit_ from the head; an answer if the request goes no further.
  std::optional<response> route_request() {
    const auto& h = head_->get();
    if (h.version() != 10 && h.version() != 11)
      return response::error(400, "malformed_input", "only HTTP/1.0 and HTTP/1.1 are spoken here");
    auto r = st_.routes.match(view(h.method_string()), view(h.target()),
                              view(h[bhttp::field::authorization]), st_.opts.max_body_bytes);
    req_ = std::move(r.req);
    req_.remote_addr = peer_;
    fn_ = std::move(r.fn);
    admit_ = std::move(r.admit);
    body_limit_ = r.body_limit;
    return std::move(r.answer);
  }

  // -- body --

  void read_body() {
    with_stream([this](auto& stream) {
      bhttp::async_read_some(stream, buffer_, *body_,
                             [self = shared_from_this()](const error_code& ec, size_t n) {
                               self->on_body(ec, n);
                             });
    });
  }

  void on_body(const error_code& ec, size_t n) {
    if (ec && timed_out_) {
      st_.refused(peer_, "body_timeout");
      respond(response::error(408, "timeout", "the request body did not arrive in time (allowed: "
                                                + std::to_string(st_.opts.body_timeout.count())
                                                + " ms plus its size at "
                                                + std::to_string(st_.opts.min_transfer_rate)
                                                + " bytes/s)"));
      return;
    }
    if (ec == bhttp::error::body_limit) {
      respond(response::error(413, "too_large", "the request body is larger than "
                                                  + std::to_string(body_limit_) + " bytes"));
      return;
    }
    if (ec) {
      respond(response::error(400, "malformed_input",
                              "the request body is malformed or ended early (" + ec.message() + ")"));
      return;
    }
    received_ += n;
    if (!body_->is_done()) {
      // A chunked body's size is known as it arrives: each byte earns time at the slowest rate.
      if (body_->chunked())
        arm_until(body_start_ + st_.opts.body_timeout + st_.transfer_time(received_));
      read_body();
      return;
    }
    req_.body = std::move(body_->get().body());
    body_.reset();
    dispatch();
  }

  // -- handler --

  // Queues the request for a worker; 429 when the client has too many requests in the queue or
  // being served, 503 when the workers are busy and the queue is full.
  void dispatch() {
    disarm();
    if (!st_.start_request(key_)) {
      st_.refused(peer_, "client_request_limit");
      respond(retry_later(429, "too_many_requests",
                          "this client already has " + std::to_string(st_.opts.max_requests_per_client)
                            + " requests waiting or being served; retry later"));
      return;
    }
    bool queued = st_.pool.submit([self = shared_from_this()]() mutable -> std::function<void()> {
      auto res = detail::invoke(*self->fn_, self->req_);
      self->st_.end_request(self->key_);
      // Posted once the worker is free again, so that the peer's next request finds it free.
      return [self = std::move(self), res = std::move(res)]() mutable {
        auto& io = self->st_.io;
        asio::post(io, [self = std::move(self), res = std::move(res)]() mutable {
          self->respond(std::move(res));
        });
      };
    });
    if (!queued) {
      st_.end_request(key_);
      respond(retry_later(503, "resource_exhausted",
                          "the server is busy: every worker is serving and "
                            + std::to_string(st_.opts.max_queued_requests) + " requests wait; retry later"));
    }
  }

  // An error the client may retry in a second.
  static response retry_later(int status, std::string_view code, const std::string& message) {
    auto res = response::error(status, code, message);
    res.headers["Retry-After"] = "1";
    return res;
  }

  // -- answer and close --

  void respond(response res) {
    out_head_ = detail::serialize_head(res);
    bool no_body = res.status == 204 || res.status == 304 || req_.method == "HEAD";
    out_body_ = no_body ? std::string{} : std::move(res.body);
    req_ = request{};
    arm(st_.opts.write_timeout + st_.transfer_time(out_head_.size() + out_body_.size()));
    std::array<asio::const_buffer, 2> bufs{asio::buffer(out_head_), asio::buffer(out_body_)};
    with_stream([&](auto& stream) {
      asio::async_write(stream, bufs, [self = shared_from_this()](const error_code& ec, size_t) {
        if (ec)
          self->close();
        else
          self->linger();
      });
    });
  }

  // Stops sending, then discards what the peer still sends until it closes or linger_time passes.
  void linger() {
    std::string{}.swap(out_head_);
    std::string{}.swap(out_body_);
    arm(linger_time);
    if (tls_) {
      // close_notify; OpenSSL discards application data while it waits for the peer's.
      tls_->async_shutdown([self = shared_from_this()](const error_code&) { self->close(); });
      return;
    }
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    drain();
  }

  void drain() {
    socket_.async_read_some(asio::buffer(st_.discard),
                            [self = shared_from_this()](const error_code& ec, size_t) {
                              if (ec)
                                self->close();
                              else
                                self->drain();
                            });
  }

  detail::server_state& st_;
  tcp::socket socket_;
  std::optional<asio::ssl::stream<tcp::socket&>> tls_;
  asio::steady_timer timer_;
  unsigned timer_gen_ = 0;
  bool timed_out_ = false;
  std::array<char, 1> first_byte_{};
  bool https_required_ = false;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::empty_body>> head_;
  std::optional<bhttp::request_parser<growing_body>> body_;
  steady::time_point body_start_;
  std::uint64_t expected_ = 0; // Content-Length, 0 if chunked
  std::uint64_t received_ = 0;
  request req_;
  std::shared_ptr<const handler> fn_;
  std::shared_ptr<const admission> admit_;
  size_t body_limit_ = 0;
  std::string out_head_;
  std::string out_body_;
  std::string peer_;
  std::string key_;
  steady::time_point born_ = steady::now();
  bool waiting_head_ = true; // until the head arrived (or the connection failed)
  bool released_ = false;    // evicted: uncounted and closed already
};

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
  auto bad = [](std::string what) { return fail(errc::invalid_config, "HTTP server: " + what); };
  if (options.threads == 0)
    return bad("needs at least one thread");
  if (options.max_connections == 0 || options.max_connections_per_client == 0
      || options.max_requests_per_client == 0)
    return bad("the connection limits must be at least 1");
  if (options.max_header_bytes < 1024 || options.max_header_bytes > (size_t{1} << 20))
    return bad("max_header_bytes must be between 1 KiB and 1 MiB");
  if (options.header_timeout.count() <= 0 || options.body_timeout.count() <= 0
      || options.write_timeout.count() <= 0)
    return bad("the timeouts must be positive");
  if (options.min_transfer_rate == 0)
    return bad("min_transfer_rate must be positive");
  try {
    auto st = std::make_unique<detail::server_state>(options);
    if (options.tls) {
      auto ctx = detail::tls_server_context(*options.tls);
      if (!ctx)
        return std::move(ctx).err();
      st->tls = std::make_unique<asio::ssl::context>(ctx->release());
    }
    int fd = owned.get();
    std::optional<net::host_port> given;
    if (fd >= 0) {
      int listening = 0;
      int type = 0;
      socklen_t len = sizeof listening;
      socklen_t tlen = sizeof type;
      if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || listening == 0
          || ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 || type != SOCK_STREAM)
        return bad("listen_fd " + std::to_string(fd) + " is not a listening TCP socket");
      if (auto at = net::parse_host_port(options.listen, true))
        given = std::move(*at);
    } else {
      auto at = net::parse_host_port(options.listen, true);
      if (!at)
        return bad("listen address " + at.err().message);
      auto l = net::listen_tcp(*at, 128);
      if (!l)
        return std::move(l).err();
      owned = std::move(l->fd);
      fd = owned.get();
      given = std::move(*at);
    }
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
    st->address = net::host_port{given ? given->host : unmapped(bound.address()).to_string(), st->port}.text();
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
