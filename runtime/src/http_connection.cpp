// One connection of http::server (see http_server_detail.hpp) apart from reading its request:
// its deadlines, the TLS detection and handshake, the queue to the workers, the answer, and the
// linger before the close.

#include "http_server_detail.hpp"
#include "http_tls.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>

#include <functional>
#include <string>
#include <utility>

namespace joconde::http::detail {

namespace {

/// How long a connection may still send (discarded) after its answer, so that it reads the answer
/// instead of a reset.
constexpr auto linger_time = std::chrono::seconds{2};

// The refusal reason of a failed server handshake (see refusal_fn).
std::string tls_refusal(const error_code& ec) {
  if (ec.category() == asio::error::get_ssl_category())
    return tls_refusal_reason(static_cast<unsigned long>(ec.value()));
  if (ec == asio::ssl::error::stream_truncated || ec == asio::error::eof
      || ec == asio::error::connection_reset)
    return "connection_closed";
  return "tls_error";
}

// An error the client may retry in a second.
response retry_later(int status, std::string_view code, const std::string& message) {
  auto res = response::error(status, code, message);
  res.headers["Retry-After"] = "1";
  return res;
}

} // namespace

connection::connection(server_state& st, tcp::socket socket, std::string peer, std::string key)
  : st_(st),
    socket_(std::move(socket)),
    timer_(st.io),
    buffer_(st.opts.max_header_bytes + 4096),
    peer_(std::move(peer)),
    key_(std::move(key)) {
  std::lock_guard guard{st_.conn_mtx};
  st_.live.insert(this);
}

connection::~connection() {
  std::lock_guard guard{st_.conn_mtx};
  st_.live.erase(this);
  if (!released_)
    st_.release_locked(key_);
}

void connection::start() {
  arm(st_.opts.header_timeout);
  if (st_.tls)
    peek();
  else
    read_head();
}

void connection::abort() noexcept {
  error_code ignored;
  socket_.close(ignored);
}

void connection::evict_locked() noexcept {
  if (released_)
    return;
  released_ = true;
  waiting_head_ = false;
  st_.release_locked(key_);
  error_code ignored;
  socket_.cancel(ignored);
  socket_.close(ignored);
}

// -- deadlines --

void connection::arm(std::chrono::milliseconds d) {
  arm_until(steady::now() + d);
}

void connection::arm_until(steady::time_point t) {
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

void connection::disarm() {
  ++timer_gen_;
  timer_.cancel();
}

void connection::close() {
  disarm();
  error_code ignored;
  socket_.close(ignored);
}

// -- TLS or not --

void connection::peek() {
  socket_.async_receive(asio::buffer(first_byte_), tcp::socket::message_peek,
                        [self = shared_from_this()](const error_code& ec, size_t n) {
                          self->on_peek(ec, n);
                        });
}

void connection::on_peek(const error_code& ec, size_t n) {
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

void connection::on_handshake(const error_code& ec) {
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

// -- handler --

void connection::dispatch() {
  disarm();
  if (!st_.start_request(key_)) {
    st_.refused(peer_, "client_request_limit");
    respond(retry_later(429, "too_many_requests",
                        "this client already has " + std::to_string(st_.opts.max_requests_per_client)
                          + " requests waiting or being served; retry later"));
    return;
  }
  bool queued = st_.pool.submit([self = shared_from_this()]() mutable -> std::function<void()> {
    auto started = steady::now();
    auto res = detail::invoke(*self->fn_, self->req_); // qualified: not std::invoke by ADL
    if (self->st_.opts.on_served)
      self->st_.opts.on_served(self->pattern_, self->req_.method, res.status,
                               std::chrono::duration<double>(steady::now() - started).count());
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

// -- answer and close --

void connection::respond(response res) {
  out_head_ = serialize_head(res);
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

void connection::linger() {
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

void connection::drain() {
  socket_.async_read_some(asio::buffer(st_.discard),
                          [self = shared_from_this()](const error_code& ec, size_t) {
                            if (ec)
                              self->close();
                            else
                              self->drain();
                          });
}

} // namespace joconde::http::detail
