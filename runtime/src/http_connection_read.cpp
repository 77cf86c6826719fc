// Reading a request on one connection of http::server (see http_server_detail.hpp): the head
// under its size and time limits, the answers to a head that goes no further (timeout, plain text
// to a TLS listener, too large, malformed, unrouted, refused by the route's admission), and the
// body under the route's limit at the slowest transfer rate the server waits for.

#include "joconde/messages/text.hpp"
#include "joconde/runtime/net.hpp"

#include "http_server_detail.hpp"

#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>

#include <algorithm>
#include <limits>
#include <string>
#include <utility>

namespace joconde::http::detail {

namespace {

// A valid host name or IP literal of a Host header value ("name:port", "[v6]:port", "name"), or
// empty.
std::string host_of(std::string_view value) {
  if (auto hp = net::parse_host_port(value, true))
    return hp->host;
  if (net::is_valid_host(value))
    return std::string{value};
  return {};
}

} // namespace

// -- head --

void connection::read_head() {
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

void connection::on_head(const error_code& ec) {
  waiting_head_ = false;
  if (released_) { // evicted: the socket is gone
    close();
    return;
  }
  if (ec || https_required_) {
    on_bad_head(ec);
    return;
  }
  if (auto early = route_request()) {
    if (st_.opts.on_served)  // no route: 404 or 405 (or a malformed target), under route ""
      st_.opts.on_served(pattern_, req_.method, early->status, 0.0);
    respond(std::move(*early));
    return;
  }
  if (auto refusal = check_admission()) {
    if (st_.opts.on_served)
      st_.opts.on_served(pattern_, req_.method, refusal->status, 0.0);
    respond(std::move(*refusal));
    return;
  }
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
  start_body();
}

void connection::on_bad_head(const error_code& ec) {
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
  respond(response::error(400, "malformed_input",
                          "the request is not valid HTTP/1.1 (" + ec.message() + ")"));
}

std::optional<response> connection::check_admission() {
  if (!admit_)
    return std::nullopt;
  try {
    return (*admit_)(req_);
  } catch (...) {
    return response::error(500, "internal_error", "the server failed to check the request");
  }
}

void connection::start_body() {
  const auto& h = head_->get();
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

response connection::https_required() const {
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

std::optional<response> connection::route_request() {
  const auto& h = head_->get();
  if (h.version() != 10 && h.version() != 11)
    return response::error(400, "malformed_input", "only HTTP/1.0 and HTTP/1.1 are spoken here");
  auto r = st_.routes.match(view(h.method_string()), view(h.target()),
                            view(h[bhttp::field::authorization]), st_.opts.max_body_bytes);
  req_ = std::move(r.req);
  req_.remote_addr = peer_;
  // Beast keeps every Cookie header; browsers send one, RFC 6265 allows joining them with "; ".
  for (auto it = h.find(bhttp::field::cookie); it != h.end() && it->name() == bhttp::field::cookie; ++it)
    req_.cookie += (req_.cookie.empty() ? "" : "; ") + std::string{view(it->value())};
  req_.csrf_token = std::string{text::trim(view(h["X-CSRF-Token"]))};
  req_.origin = std::string{text::trim(view(h[bhttp::field::origin]))};
  req_.host = std::string{text::trim(view(h[bhttp::field::host]))};
  fn_ = std::move(r.fn);
  pattern_ = std::move(r.pattern);
  admit_ = std::move(r.admit);
  body_limit_ = r.body_limit;
  return std::move(r.answer);
}

// -- body --

void connection::read_body() {
  with_stream([this](auto& stream) {
    bhttp::async_read_some(stream, buffer_, *body_,
                           [self = shared_from_this()](const error_code& ec, size_t n) {
                             self->on_body(ec, n);
                           });
  });
}

void connection::on_body(const error_code& ec, size_t n) {
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

} // namespace joconde::http::detail
