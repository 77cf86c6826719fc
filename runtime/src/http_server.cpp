#include "joconde/runtime/text.hpp"
#include "joconde/runtime/http_server.hpp"

#include <civetweb.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <exception>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

namespace joconde::http {

namespace {

// -- text helpers ---------------------------------------------------------------------------------

// Percent-decodes `in` into `out` ('+' is a space when `form`); false on a bad escape or a NUL byte.
bool percent_decode(std::string_view in, bool form, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size())
        return false;
      int hi = text::hex_value(in[i + 1]);
      int lo = text::hex_value(in[i + 2]);
      if (hi < 0 || lo < 0)
        return false;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && form) {
      c = ' ';
    }
    if (c == '\0')
      return false;
    out.push_back(c);
  }
  return true;
}

// RFC 9110 token characters (header names, methods).
bool is_token(std::string_view s) noexcept {
  if (s.empty())
    return false;
  constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || extra.find(c) != std::string_view::npos;
  });
}

// A header value without control characters other than tab.
bool is_field_value(std::string_view s) noexcept {
  return std::none_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && u != '\t') || u == 0x7f;
  });
}

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
  }
}

// Splits "/a/b" into {"a","b"}, "/" into {""}; `path` starts with '/'.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/')
    path.remove_prefix(1);
  for (;;) {
    auto pos = path.find('/');
    out.push_back(path.substr(0, pos));
    if (pos == std::string_view::npos)
      break;
    path.remove_prefix(pos + 1);
  }
  return out;
}

// -- routing --------------------------------------------------------------------------------------

struct route_entry {
  std::string method;
  std::string pattern;
  // Literal text, or the capture name where `is_param` is set.
  std::vector<std::string> segments;
  std::vector<bool> is_param;
  std::shared_ptr<const handler> fn;
  size_t max_body = 0;  // 0: the server's limit

  bool matches(const std::vector<std::string>& path) const {
    if (path.size() != segments.size())
      return false;
    for (size_t i = 0; i < path.size(); ++i) {
      if (is_param[i] ? path[i].empty() : path[i] != segments[i])
        return false;
    }
    return true;
  }

  // Same method and same path shape (capture names aside).
  bool same_route(const route_entry& other) const {
    if (method != other.method || is_param != other.is_param)
      return false;
    for (size_t i = 0; i < segments.size(); ++i)
      if (!is_param[i] && segments[i] != other.segments[i])
        return false;
    return true;
  }
};

route_entry make_route(std::string method, std::string pattern, handler fn) {
  route_entry r;
  r.method = std::move(method);
  for (auto seg : split_path(pattern)) {
    if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}') {
      r.segments.emplace_back(seg.substr(1, seg.size() - 2));
      r.is_param.push_back(true);
    } else {
      r.segments.emplace_back(seg);
      r.is_param.push_back(false);
    }
  }
  r.pattern = std::move(pattern);
  r.fn = std::make_shared<const handler>(std::move(fn));
  return r;
}

// While start() runs on a thread, civetweb's log lines go here so that errors can be reported.
thread_local std::string* startup_log = nullptr;

} // namespace

// -- response ---------------------------------------------------------------------------------------

response response::json(int status, const nlohmann::json& body) {
  response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

response response::error(int status, std::string_view code, std::string_view message) {
  nlohmann::json j;
  j["error"]["code"] = std::string{code};
  j["error"]["message"] = std::string{message};
  return json(status, j);
}

result<nlohmann::json> response::json_body() const {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded())
    return fail(errc::malformed_input, "the HTTP response body (status " + std::to_string(status)
                                         + ") is not valid JSON");
  return j;
}

result<listen_endpoint> parse_listen(std::string_view listen) {
  auto bad = [&](std::string_view why) {
    return fail(errc::invalid_config, "listen address '" + std::string{listen} + "' " + std::string{why}
                                        + "; expected IPv4:port such as 127.0.0.1:8080");
  };
  auto colon = listen.rfind(':');
  if (colon == std::string_view::npos)
    return bad("has no port");
  listen_endpoint ep;
  ep.ip = std::string{listen.substr(0, colon)};
  auto port = listen.substr(colon + 1);
  in_addr addr{};
  if (ep.ip.empty() || inet_pton(AF_INET, ep.ip.c_str(), &addr) != 1)
    return bad("does not start with an IPv4 address");
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || port.size() > 5 || ec != std::errc{} || end != port.data() + port.size()
      || value > 65535)
    return bad("has no valid port (0-65535)");
  ep.port = static_cast<std::uint16_t>(value);
  return ep;
}

// -- server state -----------------------------------------------------------------------------------

namespace detail {

void stop_promptly(const std::string& ip, std::uint16_t port, const std::function<void()>& stop_fn) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (ip == "0.0.0.0" || inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1)
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::atomic<bool> done{false};
  std::thread poker;
  try {
    poker = std::thread{[&] {
      while (!done.load()) {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd >= 0) {
          if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0
              && errno == EINPROGRESS) {
            pollfd pfd{fd, POLLOUT, 0};
            ::poll(&pfd, 1, 50);
          }
          ::close(fd);
        }
        for (int i = 0; i < 5 && !done.load(); ++i)
          std::this_thread::sleep_for(std::chrono::milliseconds{5});
      }
    }};
  } catch (...) {
    // nop: without the poker the stop merely takes longer
  }
  stop_fn();
  done = true;
  if (poker.joinable())
    poker.join();
}

struct server_state {
  mg_context* ctx = nullptr;
  size_t max_body = 0;
  std::string ip;
  std::uint16_t port = 0;
  std::string address;
  std::mutex stop_mtx;
  mutable std::mutex routes_mtx;
  std::vector<route_entry> routes;

  static void write(mg_connection* conn, const response& res) {
    std::string head = "HTTP/1.1 " + std::to_string(res.status) + " ";
    head += reason_phrase(res.status);
    head += "\r\n";
    bool no_body = res.status == 204 || res.status == 304;
    if (!no_body) {
      if (!res.content_type.empty())
        head += "Content-Type: " + res.content_type + "\r\n";
      head += "Content-Length: " + std::to_string(res.body.size()) + "\r\n";
    }
    head += "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n";
    for (const auto& [name, value] : res.headers) {
      constexpr std::string_view reserved[] = {"content-type", "content-length", "cache-control",
                                               "x-content-type-options", "connection",
                                               "transfer-encoding"};
      if (!is_token(name) || !is_field_value(value)
          || std::any_of(std::begin(reserved), std::end(reserved),
                         [&](std::string_view r) { return text::iequals(r, name); }))
        continue;
      head += name + ": " + value + "\r\n";
    }
    head += "\r\n";
    mg_write(conn, head.data(), head.size());
    if (!no_body && !res.body.empty())
      mg_write(conn, res.body.data(), res.body.size());
  }

  // Reads the request body, or returns an error response (413 over the limit).
  std::optional<response> read_body(mg_connection* conn, const mg_request_info& info,
                                    std::string& body, size_t max_body) const {
    // Keep-alive is off, so the connection closes after the answer; nothing more is read.
    auto too_large = [&] {
      return response::error(413, "too_large",
                             "the request body is larger than " + std::to_string(max_body)
                               + " bytes");
    };
    if (info.content_length > 0) {
      if (static_cast<unsigned long long>(info.content_length) > max_body)
        return too_large();
      body.resize(static_cast<size_t>(info.content_length));
      size_t got = 0;
      while (got < body.size()) {
        int n = mg_read(conn, body.data() + got, body.size() - got);
        if (n <= 0)
          return response::error(400, "malformed_input", "the request body ended early");
        got += static_cast<size_t>(n);
      }
      return std::nullopt;
    }
    if (info.content_length == 0)
      return std::nullopt;
    // No Content-Length: only a chunked body has content.
    const char* te = mg_get_header(conn, "Transfer-Encoding");
    if (te == nullptr || !text::iequals(text::trim(te), "chunked"))
      return std::nullopt;
    char buf[16384];
    for (;;) {
      int n = mg_read(conn, buf, sizeof(buf));
      if (n < 0)
        return response::error(400, "malformed_input", "the chunked request body is malformed");
      if (n == 0)
        return std::nullopt;
      if (body.size() + static_cast<size_t>(n) > max_body)
        return too_large();
      body.append(buf, static_cast<size_t>(n));
    }
  }

  response dispatch(mg_connection* conn, const mg_request_info& info) const {
    request req;
    req.method = info.request_method != nullptr ? info.request_method : "";
    if (info.local_uri == nullptr || info.local_uri[0] != '/')
      return response::error(400, "malformed_input", "the request target is not an absolute path");
    std::string_view raw_path = info.local_uri;
    if (!percent_decode(raw_path, false, req.path))
      return response::error(400, "malformed_input", "the request path has invalid percent-encoding");
    std::vector<std::string> segments;
    for (auto raw : split_path(raw_path)) {
      std::string seg;
      if (!percent_decode(raw, false, seg))
        return response::error(400, "malformed_input",
                               "the request path has invalid percent-encoding");
      if (seg == "." || seg == "..")
        return response::error(400, "malformed_input",
                               "the request path has a percent-encoded dot segment");
      segments.push_back(std::move(seg));
    }
    if (info.query_string != nullptr) {
      std::string_view qs = info.query_string;
      while (!qs.empty()) {
        auto amp = qs.find('&');
        auto pair = qs.substr(0, amp);
        qs = amp == std::string_view::npos ? std::string_view{} : qs.substr(amp + 1);
        if (pair.empty())
          continue;
        auto eq = pair.find('=');
        std::string key;
        std::string value;
        if (!percent_decode(pair.substr(0, eq), true, key)
            || (eq != std::string_view::npos && !percent_decode(pair.substr(eq + 1), true, value)))
          return response::error(400, "malformed_input",
                                 "the query string has invalid percent-encoding");
        req.query[std::move(key)] = std::move(value);
      }
    }
    // Find the route: literal segments beat captures, left to right.
    const route_entry* best = nullptr;
    std::shared_ptr<const handler> fn;
    size_t body_limit = max_body;
    std::set<std::string> allowed;
    {
      std::lock_guard guard{routes_mtx};
      for (const auto& r : routes) {
        if (!r.matches(segments))
          continue;
        allowed.insert(r.method);
        if (r.method == req.method && (best == nullptr || r.is_param < best->is_param))
          best = &r;
      }
      if (best != nullptr) {
        fn = best->fn;
        if (best->max_body != 0)
          body_limit = best->max_body;
        for (size_t i = 0; i < segments.size(); ++i)
          if (best->is_param[i])
            req.params[best->segments[i]] = segments[i];
      }
    }
    if (fn == nullptr) {
      if (allowed.empty())
        return response::error(404, "not_found", "no resource at " + req.path);
      std::string allow;
      for (const auto& m : allowed)
        allow += (allow.empty() ? "" : ", ") + m;
      auto res = response::error(405, "method_not_allowed",
                                 req.method + " is not allowed on " + req.path + " (allowed: " + allow
                                   + ")");
      res.headers["Allow"] = allow;
      return res;
    }
    if (auto err = read_body(conn, info, req.body, body_limit))
      return std::move(*err);
    if (const char* auth = mg_get_header(conn, "Authorization")) {
      std::string_view value = text::trim(auth);
      constexpr std::string_view scheme = "Bearer ";
      if (value.size() > scheme.size() && text::iequals(value.substr(0, scheme.size()), scheme))
        req.bearer_token = std::string{text::trim(value.substr(scheme.size()))};
    }
    req.remote_addr = info.remote_addr;
    try {
      auto res = (*fn)(req);
      if (res.status < 200 || res.status > 599 || !is_field_value(res.content_type))
        return response::error(500, "internal_error",
                               "the handler of " + req.method + " " + req.path
                                 + " produced an invalid response");
      return res;
    } catch (const std::exception& e) {
      return response::error(500, "internal_error",
                             "the handler of " + req.method + " " + req.path + " failed: " + e.what());
    } catch (...) {
      return response::error(500, "internal_error",
                             "the handler of " + req.method + " " + req.path + " failed");
    }
  }

  // -- civetweb callbacks (C frames: nothing may escape) --

  static int on_request(mg_connection* conn) {
    int status = 500;
    try {
      const mg_request_info* info = mg_get_request_info(conn);
      auto* self = static_cast<const server_state*>(info->user_data);
      response res;
      try {
        res = self->dispatch(conn, *info);
      } catch (...) {
        res = response::error(500, "internal_error", "the server failed to handle the request");
      }
      status = res.status;
      write(conn, res);
    } catch (...) {
      // nop: out of memory while writing; civetweb closes the connection
    }
    return status;
  }

  static int on_http_error(mg_connection* conn, int status, const char* msg) {
    try {
      std::string_view code = status == 400                    ? "malformed_input"
                              : status == 404                  ? "not_found"
                              : status == 405                  ? "method_not_allowed"
                              : status == 413 || status == 414 ? "too_large"
                              : status == 431                  ? "too_large"
                                                               : "http_error";
      write(conn, response::error(status, code, msg != nullptr ? msg : reason_phrase(status)));
      return 0;
    } catch (...) {
      return 1;
    }
  }

  static int on_log(const mg_connection*, const char* msg) {
    // Keep the first line only: it names the cause ("cannot bind to ...: Address already in use").
    if (startup_log != nullptr && startup_log->empty() && msg != nullptr) {
      try {
        startup_log->append(msg);
      } catch (...) {
        // nop
      }
    }
    return 1; // never let civetweb print
  }
};

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
  auto ep = parse_listen(listen);
  if (!ep)
    return std::move(ep).err();
  if (threads == 0)
    return fail(errc::invalid_config, "the HTTP server needs at least one thread");
  static std::once_flag init_flag;
  std::call_once(init_flag, [] { mg_init_library(0); });
  try {
    auto st = std::make_unique<detail::server_state>();
    st->max_body = max_body_bytes;
    std::string threads_str = std::to_string(threads);
    std::string ports = ep->ip + ":" + std::to_string(ep->port);
    // decode_url=no: the raw path is split and decoded here, so that %2F stays inside a segment
    // and bad escapes can be refused.
    const char* options[] = {"listening_ports",   ports.c_str(),
                             "num_threads",       threads_str.c_str(),
                             "decode_url",        "no",
                             "enable_keep_alive", "no",
                             "request_timeout_ms", "10000",
                             "enable_directory_listing", "no",
                             nullptr};
    mg_callbacks callbacks{};
    callbacks.begin_request = &detail::server_state::on_request;
    callbacks.http_error = &detail::server_state::on_http_error;
    callbacks.log_message = &detail::server_state::on_log;
    mg_init_data init{&callbacks, st.get(), options};
    char text[256] = {};
    unsigned code = 0;
    mg_error_data err{&code, text, sizeof(text)};
    std::string log;
    startup_log = &log;
    st->ctx = mg_start2(&init, &err);
    startup_log = nullptr;
    if (st->ctx == nullptr) {
      std::string why = !log.empty() ? log : text[0] != '\0' ? std::string{text} : "unknown error";
      if (why.find("in use") != std::string::npos)
        why += " (another process holds the port; choose another listen address)";
      return fail(errc::io_error, "cannot listen on " + listen + ": " + why);
    }
    mg_server_port bound[4] = {};
    int n = mg_get_server_ports(st->ctx, 4, bound);
    st->ip = ep->ip;
    st->port = static_cast<std::uint16_t>(n > 0 ? bound[0].port : ep->port);
    st->address = ep->ip + ":" + std::to_string(st->port);
    return std::unique_ptr<server>{new server(std::move(st))};
  } catch (const std::exception& e) {
    startup_log = nullptr;
    return fail(errc::io_error, "cannot start the HTTP server on " + listen + ": " + e.what());
  }
}

void server::route(std::string method, std::string path_pattern, handler fn, size_t max_body_bytes) {
  auto entry = make_route(std::move(method), std::move(path_pattern), std::move(fn));
  entry.max_body = max_body_bytes;
  std::lock_guard guard{state_->routes_mtx};
  for (auto& r : state_->routes) {
    if (r.same_route(entry)) {
      r = std::move(entry);
      return;
    }
  }
  state_->routes.push_back(std::move(entry));
}

void server::stop() {
  std::lock_guard guard{state_->stop_mtx};
  if (state_->ctx != nullptr) {
    auto* ctx = std::exchange(state_->ctx, nullptr);
    detail::stop_promptly(state_->ip, state_->port, [ctx] { mg_stop(ctx); });
  }
}

std::string server::listen_address() const {
  return state_->address;
}

} // namespace joconde::http
