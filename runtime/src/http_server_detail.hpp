#pragma once

// What the parts of http::server share: the server's state (limits, live connections, listener,
// I/O thread, workers) and one connection's state machine. Private to the runtime library, and
// included only by the files that need Asio and Beast (each such file takes ~20 s to compile):
//   http_server.cpp            the listener: options, accepting under the limits, start and stop
//   http_connection.cpp        a connection's deadlines, TLS detection and handshake, the queue to
//                              the workers, the answer and the linger before the close
//   http_connection_read.cpp   reading a request: the head, its refusals, routing, the body
//
// One I/O thread runs every connection as a chain of asynchronous steps:
//   accept (limits) -> [TLS port: peek the first byte -> TLS handshake, or the https_required answer]
//   -> read the head -> route -> read the body -> queue for a worker -> write -> linger -> close,
// with one deadline timer per connection. Handlers run on `threads` workers; their response is
// posted back to the I/O thread. Connection state is touched by the I/O thread only, except the
// request and handler a worker runs while no I/O is pending on that connection.

#include "joconde/runtime/http_server.hpp"

#include "http_routing.hpp"
#include "http_workers.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>

namespace joconde::http::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using steady = std::chrono::steady_clock;

/// A Beast string view as a std::string_view.
inline std::string_view view(beast::string_view s) noexcept {
  return {s.data(), s.size()};
}

// -- request body ---------------------------------------------------------------------------------

/// A Beast body held in a std::string that grows as bytes arrive: unlike beast's string_body it
/// does not reserve the announced Content-Length, so a peer cannot make the server allocate bytes
/// it has not sent. The parser's body limit is checked before put().
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

class connection;

// -- server state -----------------------------------------------------------------------------------

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

// -- connection -----------------------------------------------------------------------------------

/// One connection, from accept to close.
class connection : public std::enable_shared_from_this<connection> {
public:
  connection(server_state& st, tcp::socket socket, std::string peer, std::string key);

  ~connection();

  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Starts the chain: the TLS detection on a TLS listener, else the head.
  void start();

  /// Closes the socket at once (stop(), with the I/O thread stopped).
  void abort() noexcept;

  /// Still waiting for its request head (TLS handshake included): a candidate to make room.
  bool waiting_for_head() const noexcept { return waiting_head_; }
  steady::time_point born() const noexcept { return born_; }
  const std::string& peer() const noexcept { return peer_; }

  /// Gives up this connection's place to a newcomer: uncounted now (the caller holds conn_mtx),
  /// closed at once; its pending operations end with an error. I/O thread only.
  void evict_locked() noexcept;

private:
  template <class F>
  void with_stream(F&& f) {
    if (tls_)
      f(*tls_);
    else
      f(socket_);
  }

  // -- deadlines (http_connection.cpp) --

  void arm(std::chrono::milliseconds d);
  // On expiry, pending reads and writes are cancelled and see timed_out_.
  void arm_until(steady::time_point t);
  void disarm();
  void close();

  // -- TLS or not (http_connection.cpp) --

  // A TLS ClientHello starts with a handshake record (0x16); anything else is plain text.
  void peek();
  void on_peek(const error_code& ec, size_t n);
  void on_handshake(const error_code& ec);

  // -- head and body (http_connection_read.cpp) --

  void read_head();
  void on_head(const error_code& ec);
  // Answers (or closes) a head that failed to arrive or to parse, or came in plain text to a TLS
  // listener.
  void on_bad_head(const error_code& ec);
  // The route's admission check of the head: its refusal, if any.
  std::optional<response> check_admission();
  // Reads the body of a routed and admitted head, after the 100 Continue its client asked for.
  void start_body();
  // The 400 a plain-HTTP client of a TLS listener gets, naming the URL it should use.
  response https_required() const;
  // Fills req_, fn_ and body_limit_ from the head; an answer if the request goes no further.
  std::optional<response> route_request();
  void read_body();
  void on_body(const error_code& ec, size_t n);

  // -- handler, answer and close (http_connection.cpp) --

  // Queues the request for a worker; 429 when the client has too many requests in the queue or
  // being served, 503 when the workers are busy and the queue is full.
  void dispatch();
  void respond(response res);
  // Stops sending, then discards what the peer still sends until it closes or the linger time
  // passes.
  void linger();
  void drain();

  server_state& st_;
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
  std::string pattern_;  ///< the matched route's pattern, for on_served
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

} // namespace joconde::http::detail
