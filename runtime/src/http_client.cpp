#include "joconde/messages/text.hpp"
#include "joconde/runtime/http_client.hpp"
#include "joconde/runtime/net.hpp"

#include "http_tls.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>

namespace joconde::http {

namespace {

using steady = std::chrono::steady_clock;

constexpr size_t max_header_bytes = 64 * 1024;

bool has_ctl_or_space(std::string_view s) noexcept {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

bool is_token(std::string_view s) noexcept {
  constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || extra.find(c) != std::string_view::npos;
  });
}

std::string errno_text(int err) {
  return std::strerror(err);
}

struct url_parts {
  bool tls = false;
  std::string authority; // as written, for the Host header
  std::string host;      // without brackets
  std::string port;
  std::string prefix; // path prefix without trailing '/'
};

result<url_parts> parse_url(const std::string& url) {
  auto bad = [&](std::string_view why) {
    return fail(errc::invalid_config, "URL '" + url + "' " + std::string{why}
                                        + "; expected http[s]://host[:port], e.g. https://node.example:8443 "
                                          "or http://127.0.0.1:8080");
  };
  url_parts out;
  std::string_view rest = url;
  if (rest.size() > 8 && text::iequals(rest.substr(0, 8), "https://")) {
    out.tls = true;
    rest.remove_prefix(8);
  } else if (rest.size() > 7 && text::iequals(rest.substr(0, 7), "http://")) {
    rest.remove_prefix(7);
  } else {
    return bad("does not start with http:// or https://");
  }
  if (has_ctl_or_space(rest))
    return bad("contains spaces or control characters");
  auto slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    if (rest[slash] != '/')
      return bad("has a query or fragment");
    out.prefix = std::string{rest.substr(slash)};
    while (!out.prefix.empty() && out.prefix.back() == '/')
      out.prefix.pop_back();
  }
  if (authority.empty() || authority.find('@') != std::string_view::npos)
    return bad("has no host (or has user info)");
  out.authority = std::string{authority};
  std::string_view port;
  if (authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos)
      return bad("has an unterminated IPv6 address");
    out.host = std::string{authority.substr(1, close - 1)};
    if (!net::is_ipv6_literal(out.host))
      return bad("has no IPv6 address inside [ ]");
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return bad("has garbage after the IPv6 address");
      port = after.substr(1);
    }
  } else {
    auto colon = authority.find(':');
    out.host = std::string{authority.substr(0, colon)};
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.find(':') != std::string_view::npos)
        return bad("has more than one ':' (put IPv6 addresses in brackets)");
    }
  }
  if (out.host.empty())
    return bad("has no host");
  if (port.empty()) {
    out.port = out.tls ? "443" : "80";
  } else {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535)
      return bad("has an invalid port");
    out.port = std::to_string(value);
  }
  return out;
}

// Waits for `events` on `fd`: 1 ready, 0 deadline passed, -1 error (errno set).
int wait_for(int fd, short events, steady::time_point deadline) {
  for (;;) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - steady::now()).count();
    if (left <= 0)
      return 0;
    pollfd pfd{fd, events, 0};
    int n = ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left, 60'000)));
    if (n > 0)
      return 1;
    if (n < 0 && errno != EINTR)
      return -1;
  }
}

// The numeric text of a resolved address.
std::string numeric(const addrinfo& ai) {
  char host[NI_MAXHOST] = {};
  if (::getnameinfo(ai.ai_addr, ai.ai_addrlen, host, sizeof host, nullptr, 0, NI_NUMERICHOST) != 0)
    return {};
  return host;
}

// Incremental decoder of a chunked body held in `raw` from `pos` on.
struct chunk_decoder {
  size_t pos = 0;
  bool done = false;
  std::string out;

  // Consumes what it can; an error for malformed framing or an oversized body.
  result<void> step(const std::string& raw) {
    while (!done) {
      auto eol = raw.find("\r\n", pos);
      if (eol == std::string::npos)
        return raw.size() - pos > 4096 ? fail(errc::malformed_input, "a chunk header is too long")
                                       : ok();
      std::string_view line{raw.data() + pos, eol - pos};
      line = text::trim(line.substr(0, line.find(';')));
      size_t size = 0;
      auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), size, 16);
      if (line.empty() || ec != std::errc{} || end != line.data() + line.size())
        return fail(errc::malformed_input, "the chunked response body has a bad chunk size");
      if (size > client::max_response_bytes || out.size() + size > client::max_response_bytes)
        return fail(errc::too_large, "the response body exceeds "
                                       + std::to_string(client::max_response_bytes) + " bytes");
      if (size == 0) {
        // Trailer section: lines up to an empty one.
        size_t p = eol + 2;
        for (;;) {
          auto e = raw.find("\r\n", p);
          if (e == std::string::npos)
            return ok();
          if (e == p) {
            done = true;
            pos = e + 2;
            return ok();
          }
          p = e + 2;
        }
      }
      size_t data = eol + 2;
      if (raw.size() < data + size + 2)
        return ok();
      if (raw.compare(data + size, 2, "\r\n") != 0)
        return fail(errc::malformed_input, "a chunk of the response body is not terminated by CRLF");
      out.append(raw, data, size);
      pos = data + size + 2;
    }
    return ok();
  }
};

enum class framing { none, length, chunked, close };

// The bytes of one exchange: a non-blocking socket, with TLS over it for https://.
class channel {
public:
  channel(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {
    // nop
  }

  int fd() const noexcept {
    return fd_;
  }

  // Sends some of [data, data+n); see io_step.
  detail::io_step write_some(const char* data, size_t n) {
    if (ssl_ != nullptr)
      return detail::tls_write_some(ssl_, data, n);
    detail::io_step s;
    auto r = ::send(fd_, data, n, MSG_NOSIGNAL);
    if (r > 0)
      s.n = static_cast<size_t>(r);
    else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
      s.wait = errno == EINTR ? 0 : POLLOUT;
    else
      s.err = r < 0 ? errno : EPIPE;
    return s;
  }

  // Receives up to `n` bytes into `data`; see io_step.
  detail::io_step read_some(char* data, size_t n) {
    if (ssl_ != nullptr)
      return detail::tls_read_some(ssl_, data, n);
    detail::io_step s;
    auto r = ::recv(fd_, data, n, 0);
    if (r > 0)
      s.n = static_cast<size_t>(r);
    else if (r == 0)
      s.eof = true;
    else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
      s.wait = errno == EINTR ? 0 : POLLIN;
    else
      s.err = errno;
    return s;
  }

private:
  int fd_;
  SSL* ssl_;
};

} // namespace

result<response> client::send(const std::string& base_url, std::string method,
                              std::string path_and_query, std::string body,
                              std::string bearer_token, std::chrono::milliseconds timeout,
                              const progress_fn& progress) {
  client_options options;
  options.timeout = timeout;
  options.progress = progress;
  return send(base_url, std::move(method), std::move(path_and_query), std::move(body),
              std::move(bearer_token), options);
}

result<response> client::send(const std::string& base_url, std::string method,
                              std::string path_and_query, std::string body,
                              std::string bearer_token, const client_options& options) {
  try {
    auto url = parse_url(base_url);
    if (!url)
      return std::move(url).err();
    if (!is_token(method))
      return fail(errc::malformed_input, "HTTP method '" + method + "' is not a token");
    if (path_and_query.empty() || path_and_query.front() != '/' || has_ctl_or_space(path_and_query))
      return fail(errc::malformed_input, "request path '" + path_and_query
                                           + "' must start with '/' and contain no spaces or "
                                             "control characters (percent-encode them)");
    if (has_ctl_or_space(bearer_token))
      return fail(errc::malformed_input, "the bearer token contains spaces or control characters");
    if (url->tls && options.ca_file.empty())
      return fail(errc::invalid_config, "a CA file is needed to check the server of " + base_url
                                          + ": give the CA file that issued the server's "
                                            "certificate (joconde --ca-file)");
    const auto deadline = steady::now() + options.timeout;
    const std::string what = method + " " + base_url + path_and_query;
    auto timed_out = [&](std::string_view stage) {
      return fail(errc::timeout, std::string{stage} + " " + what + " took longer than "
                                   + std::to_string(options.timeout.count()) + " ms");
    };

    // Trust anchors first: a bad CA file is reported without touching the network.
    detail::tls_context_ptr tls_ctx;
    if (url->tls) {
      auto ctx = detail::tls_client_context(options.ca_file);
      if (!ctx)
        return std::move(ctx).err();
      tls_ctx = std::move(*ctx);
    }

    // Resolve; a token goes over plain HTTP to loopback addresses only.
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* addrs = nullptr;
    if (int rc = ::getaddrinfo(url->host.c_str(), url->port.c_str(), &hints, &addrs); rc != 0)
      return fail(errc::io_error, "cannot resolve host '" + url->host + "': " + gai_strerror(rc));
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addrs_guard{addrs, &::freeaddrinfo};
    if (!url->tls && !bearer_token.empty()) {
      for (auto* ai = addrs; ai != nullptr; ai = ai->ai_next)
        if (!net::is_loopback(numeric(*ai)))
          return fail(errc::forbidden, "refusing to send a token over plain HTTP to " + url->host
                                         + ": use https:// (only a loopback address may get a token "
                                           "over http://)");
    }

    // Connect.
    net::socket_fd sock;
    int last_err = 0;
    for (auto* ai = addrs; ai != nullptr && sock.get() < 0; ai = ai->ai_next) {
      net::socket_fd candidate{::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                                        ai->ai_protocol)};
      int fd = candidate.get();
      if (fd < 0) {
        last_err = errno;
        continue;
      }
      if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS && errno != EINTR) {
          last_err = errno;
          continue;
        }
        int w = wait_for(fd, POLLOUT, deadline);
        if (w == 0)
          return timed_out("connecting for");
        int so_error = 0;
        socklen_t len = sizeof(so_error);
        if (w < 0)
          so_error = errno;
        else if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0)
          so_error = errno;
        if (so_error != 0) {
          last_err = so_error;
          continue;
        }
      }
      sock = std::move(candidate);
    }
    if (sock.get() < 0)
      return fail(errc::io_error, "cannot connect to " + url->authority + ": " + errno_text(last_err)
                                    + " (is the node running and is the address right?)");

    // TLS handshake.
    detail::tls_session_ptr tls;
    if (url->tls) {
      auto session = detail::tls_client_session(tls_ctx.get(), sock.get(), url->host);
      if (!session)
        return std::move(session).err();
      tls = std::move(*session);
      for (;;) {
        auto step = detail::tls_handshake_step(tls.get(), url->host, url->authority);
        if (!step)
          return std::move(step).err();
        if (*step == 0)
          break;
        int w = wait_for(sock.get(), *step, deadline);
        if (w == 0)
          return timed_out("the TLS handshake for");
        if (w < 0)
          return fail(errc::io_error, "the TLS handshake with " + url->authority
                                        + " failed: " + errno_text(errno));
      }
    }
    channel link{sock.get(), tls.get()};

    // Send the request; a failure here may still leave a response to read (e.g. 413 and close).
    std::string out = method + " " + url->prefix + path_and_query + " HTTP/1.1\r\nHost: "
                      + url->authority
                      + "\r\nUser-Agent: joconde\r\nAccept: */*\r\nConnection: close\r\n";
    if (!bearer_token.empty())
      out += "Authorization: Bearer " + bearer_token + "\r\n";
    if (!body.empty())
      out += "Content-Type: application/json\r\n";
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH")
      out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    out += "\r\n";
    const size_t head_size = out.size();
    out += body;
    const size_t body_size = body.size();
    body.clear();
    body.shrink_to_fit();
    std::string send_err;
    for (size_t sent = 0; sent < out.size();) {
      auto s = link.write_some(out.data() + sent, out.size() - sent);
      if (s.n > 0) {
        sent += s.n;
        if (options.progress && body_size > 0 && sent > head_size)
          options.progress(sent - head_size, body_size);
      } else if (s.wait != 0) {
        int w = wait_for(link.fd(), s.wait, deadline);
        if (w == 0)
          return timed_out("sending");
        if (w < 0) {
          send_err = errno_text(errno);
          break;
        }
      } else if (s.err != 0 || !s.error.empty() || s.eof) {
        send_err = !s.error.empty() ? s.error : errno_text(s.err != 0 ? s.err : EPIPE);
        break;
      }
    }
    out.clear();
    out.shrink_to_fit();

    // Receive the response.
    std::string raw;
    size_t header_end = 0; // offset of the body once the headers are parsed
    response res;
    res.content_type.clear();
    framing frame = framing::none;
    unsigned long long content_length = 0;
    chunk_decoder chunks;
    bool eof = false;
    bool truncated = false; // TLS ended without close_notify
    auto closed_early = [&](std::string_view when) {
      std::string msg = "the connection for " + what + " closed " + std::string{when};
      if (!send_err.empty())
        msg += " (sending failed: " + send_err + ")";
      return fail(errc::io_error, std::move(msg));
    };
    char buf[65536];
    for (;;) {
      if (frame == framing::none) {
        auto end = raw.find("\r\n\r\n");
        if (end == std::string::npos) {
          if (raw.size() > max_header_bytes)
            return fail(errc::malformed_input, "the response headers exceed 64 KiB");
        } else {
          std::string_view head{raw.data(), end};
          auto line_end = head.find("\r\n");
          std::string_view status_line = head.substr(0, line_end);
          int status = 0;
          if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1."
              || status_line[8] != ' '
              || std::from_chars(status_line.data() + 9, status_line.data() + 12, status).ptr
                   != status_line.data() + 12
              || status < 100)
            return fail(errc::malformed_input, "the response of " + what + " is not HTTP/1.x");
          if (status < 200 && status != 101) {
            raw.erase(0, end + 4); // interim response, e.g. 100 Continue
            continue;
          }
          res.status = status;
          std::string_view rest =
            line_end == std::string_view::npos ? std::string_view{} : head.substr(line_end + 2);
          while (!rest.empty()) {
            auto eol = rest.find("\r\n");
            std::string_view line = rest.substr(0, eol);
            rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 2);
            auto colon = line.find(':');
            if (colon == std::string_view::npos || !is_token(line.substr(0, colon)))
              return fail(errc::malformed_input, "the response of " + what + " has a bad header line");
            std::string name{line.substr(0, colon)};
            std::transform(name.begin(), name.end(), name.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            std::string_view value = text::trim(line.substr(colon + 1));
            auto& slot = res.headers[name];
            slot += (slot.empty() ? "" : ", ") + std::string{value};
          }
          if (auto it = res.headers.find("content-type"); it != res.headers.end())
            res.content_type = it->second;
          header_end = end + 4;
          auto te = res.headers.find("transfer-encoding");
          auto cl = res.headers.find("content-length");
          if (method == "HEAD" || status == 204 || status == 304) {
            frame = framing::length;
            content_length = 0;
          } else if (te != res.headers.end()) {
            std::string_view v = te->second;
            auto last = text::trim(v.substr(v.rfind(',') == std::string_view::npos ? 0 : v.rfind(',') + 1));
            if (!text::iequals(last, "chunked"))
              return fail(errc::malformed_input, "the response uses an unsupported transfer encoding '"
                                                   + te->second + "'");
            frame = framing::chunked;
            chunks.pos = header_end;
          } else if (cl != res.headers.end()) {
            std::string_view v = cl->second;
            auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), content_length);
            if (v.empty() || ec != std::errc{} || p != v.data() + v.size())
              return fail(errc::malformed_input, "the response has a bad Content-Length");
            if (content_length > max_response_bytes)
              return fail(errc::too_large, "the response body of " + what + " has "
                                             + std::to_string(content_length)
                                             + " bytes, more than the limit of "
                                             + std::to_string(max_response_bytes));
            frame = framing::length;
          } else {
            frame = framing::close;
          }
        }
      }
      // Complete?
      if (frame == framing::length && raw.size() - header_end >= content_length) {
        res.body = raw.substr(header_end, static_cast<size_t>(content_length));
        if (tls)
          detail::tls_close_notify(tls.get());
        return res;
      }
      if (frame == framing::chunked) {
        if (auto r = chunks.step(raw); !r)
          return r.err();
        if (chunks.done) {
          res.body = std::move(chunks.out);
          if (tls)
            detail::tls_close_notify(tls.get());
          return res;
        }
      }
      if (frame == framing::close) {
        if (raw.size() - header_end > max_response_bytes)
          return fail(errc::too_large, "the response body of " + what + " exceeds "
                                         + std::to_string(max_response_bytes) + " bytes");
        if (eof && truncated)
          return fail(errc::io_error, "the TLS connection for " + what + " ended without "
                                        "close_notify: the response may be cut short");
        if (eof) {
          res.body = raw.substr(header_end);
          return res;
        }
      }
      if (eof) {
        if (frame == framing::none)
          return closed_early("before a response arrived (is it an HTTP server? a server over its "
                              "connection limits also closes at once)");
        return closed_early("in the middle of the response body");
      }
      // Read more.
      auto s = link.read_some(buf, sizeof(buf));
      if (s.n > 0) {
        raw.append(buf, s.n);
      } else if (s.eof) {
        eof = true;
        truncated = s.truncated;
      } else if (s.wait != 0) {
        int w = wait_for(link.fd(), s.wait, deadline);
        if (w == 0)
          return timed_out(frame == framing::none ? "waiting for the response to" : "reading the response to");
        if (w < 0)
          return fail(errc::io_error, "waiting for the response to " + what + " failed: "
                                        + errno_text(errno));
      } else if (s.err == ECONNRESET) {
        if (send_err.empty())
          send_err = errno_text(ECONNRESET);
        eof = true;
      } else if (s.err != 0 || !s.error.empty()) {
        return fail(errc::io_error, "reading the response to " + what + " failed: "
                                      + (s.error.empty() ? errno_text(s.err) : s.error));
      }
    }
  } catch (const std::exception& e) {
    return fail(errc::io_error, std::string{"HTTP request failed: "} + e.what());
  }
}

} // namespace joconde::http
