#pragma once

// A small blocking HTTP/1.1 client on libcurl, for the CLI, node commands and multi-process tests.
// One connection per request (`Connection: close`), no redirects, no proxy (whatever the
// environment says), no cookies; the request target goes out exactly as given. The whole exchange
// (resolve, connect, TLS handshake, send, receive) is bounded by one timeout. The response body is
// framed by Content-Length, chunked transfer encoding, or the server closing the connection, and is
// capped at `client::max_response_bytes` while it arrives. A body over 1 MiB waits for the server's
// "100 Continue" (at most a second), so a server can refuse it before it is sent.
//
// https:// speaks TLS 1.3 only and verifies the server against the certificates of a CA file given
// by the caller, each of them a trust anchor (a root CA, an intermediate, or the server's own
// certificate pinned): no system trust store, no way to skip the check. The URL's host name or IP
// address must be in the certificate (subjectAltName); host names are sent as SNI. TLS secrets are
// never written to an SSLKEYLOGFILE. A bearer token never crosses a network in clear: with http://
// it is only sent to a host whose addresses are all loopback addresses, and only over a connection
// to one of them.

#include "joconde/messages/result.hpp"
#include "joconde/runtime/http_server.hpp"

#include <chrono>
#include <map>
#include <cstddef>
#include <functional>
#include <string>

namespace joconde::http {

/// Told the request body's bytes sent so far and its size, after every write (uploads).
using progress_fn = std::function<void(size_t sent, size_t total)>;

/// How one request is sent.
struct client_options {
  /// A PEM file of trust anchors for https:// URLs: the CA that issued the server's certificate
  /// (or an intermediate, or the server's certificate itself). Required for https://.
  std::string ca_file;
  /// The longest the whole exchange may take.
  std::chrono::milliseconds timeout{std::chrono::seconds{10}};
  /// Told of upload progress; may be empty.
  progress_fn progress;
  /// More request headers (e.g. a browser's Cookie and X-CSRF-Token, as tests send them); a name
  /// or value with control characters is refused (malformed_input).
  std::map<std::string, std::string> headers;
};

/// Sends single HTTP requests and waits for their responses.
class client {
public:
  /// The largest response body accepted (64 MiB); larger ones fail with too_large.
  static constexpr size_t max_response_bytes = size_t{64} << 20;

  /// See http::progress_fn.
  using progress_fn = http::progress_fn;

  /// Sends `method path_and_query` to `base_url` ("http[s]://host[:port][/prefix]", host a name,
  /// an IPv4 literal or an IPv6 literal in brackets) with an optional body (sent as
  /// application/json) and bearer token and returns the response. Errors:
  /// - invalid_config: a bad URL, an https:// URL without options.ca_file, an unreadable CA file;
  /// - forbidden: a token for http:// to a host that is not loopback (nothing is sent);
  /// - malformed_input: a bad method/path/token or a garbled response;
  /// - untrusted_chain: the server's certificate does not lead to the CA file, or does not name
  ///   the URL's host; certificate_expired: it is expired or not yet valid;
  /// - protocol_error: the server does not speak TLS (1.3) on that port;
  /// - crypto_failure: another failed TLS handshake;
  /// - io_error when nothing listens or the connection breaks, timeout when no full answer arrives
  ///   in time, too_large for an oversized response.
  static result<response> send(const std::string& base_url, std::string method,
                               std::string path_and_query, std::string body,
                               std::string bearer_token, const client_options& options);

  /// send() with `timeout` and `progress` and no CA file (plain http:// only).
  static result<response> send(const std::string& base_url, std::string method,
                               std::string path_and_query, std::string body = {},
                               std::string bearer_token = {},
                               std::chrono::milliseconds timeout = std::chrono::seconds{10},
                               const progress_fn& progress = {});
};

} // namespace joconde::http
