#pragma once

// The JSON/HTTP server of a node (health endpoint and the /v1 admin API), built on civetweb.
//
// - One catch-all civetweb callback dispatches to routes registered with `server::route`. A route
//   pattern is a path whose segments are literals or `{name}` captures, e.g. `/v1/certs/{fingerprint}`;
//   a capture matches exactly one non-empty path segment and lands percent-decoded in `request::params`.
//   When several routes match, literal segments beat captures (left to right).
// - Errors produced by the server itself are JSON `{"error":{"code":..,"message":..}}`:
//   400 malformed_input (bad percent-encoding, NUL bytes, percent-encoded dot segments), 404 not_found, 405 method_not_allowed
//   (with an `Allow` header), 413 too_large (decided from Content-Length before reading the body, or
//   while reading a chunked body), 500 internal_error (a handler threw).
// - Every response carries `Cache-Control: no-store`, `X-Content-Type-Options: nosniff` and
//   `Connection: close` (one request per connection).
// - Handlers run on civetweb worker threads, concurrently; they must be thread-safe.
// civetweb.h stays out of this header: the server keeps its civetweb state behind a pimpl.

#include "joconde/messages/result.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace joconde::http {

namespace detail {

/// The civetweb context and routing table of a server; defined in http_server.cpp.
struct server_state;

/// Runs `stop_fn` (which stops a civetweb listener on `ip:port`) while connecting to that address
/// every few milliseconds, so civetweb's accept loop notices the stop at once instead of after its
/// 2 s poll quantum.
void stop_promptly(const std::string& ip, std::uint16_t port, const std::function<void()>& stop_fn);

} // namespace detail

/// One HTTP request as a handler sees it (path and query already percent-decoded).
struct request {
  /// The request method, e.g. "GET" (case-sensitive, as sent).
  std::string method;
  /// The path without the query string, percent-decoded, with dot segments removed.
  std::string path;
  /// The query parameters, form-decoded ('+' is a space); for a repeated key the last one wins.
  std::map<std::string, std::string> query;
  /// The values of the `{name}` captures of the matched route pattern.
  std::map<std::string, std::string> params;
  /// The request body (at most the server's max_body_bytes).
  std::string body;
  /// The token of an `Authorization: Bearer <token>` header, or empty.
  std::string bearer_token;
  /// The IP address of the peer.
  std::string remote_addr;
};

/// One HTTP response, produced by a handler or received by `http::client`.
struct response {
  /// The HTTP status code.
  int status = 200;
  /// The Content-Type header.
  std::string content_type = "application/json";
  /// The body, sent with a Content-Length.
  std::string body;
  /// Extra headers (server: sent after the standard ones, names or values with control characters
  /// are dropped; client: every received header, names lower-cased).
  std::map<std::string, std::string> headers;

  /// A JSON response; invalid UTF-8 in strings is replaced, never thrown about.
  static response json(int status, const nlohmann::json& body);

  /// A JSON error response `{"error":{"code":code,"message":message}}`.
  static response error(int status, std::string_view code, std::string_view message);

  /// The body parsed as JSON, or malformed_input if it is not JSON.
  result<nlohmann::json> json_body() const;
};

/// An IPv4 listen address split into its parts.
struct listen_endpoint {
  /// The dotted-quad IPv4 address, e.g. "127.0.0.1".
  std::string ip;
  /// The TCP port (0 lets the kernel pick one).
  std::uint16_t port = 0;
};

/// Parses "ip:port" (IPv4 dotted quad, port 0-65535), or invalid_config saying what is expected.
result<listen_endpoint> parse_listen(std::string_view listen);

/// A request handler; may throw (the server answers 500).
using handler = std::function<response(const request&)>;

/// An HTTP/1.1 server listening on one IPv4 address and port.
class server {
public:
  /// Starts listening on `listen` ("127.0.0.1:8080"; port 0 picks a free port) with `threads`
  /// worker threads, accepting request bodies up to `max_body_bytes`; invalid_config for a malformed
  /// address or zero threads, io_error if the address cannot be bound (e.g. the port is taken).
  static result<std::unique_ptr<server>> start(const std::string& listen, size_t max_body_bytes,
                                               unsigned threads);

  /// Stops the server (see stop()).
  ~server();

  /// Not copyable: owns the listener.
  server(const server&) = delete;
  /// Not copyable: owns the listener.
  server& operator=(const server&) = delete;

  /// Adds (or replaces) the handler for `method` on paths matching `path_pattern`; thread-safe,
  /// allowed before and while serving. `max_body_bytes` (0: the server's limit) lets one route
  /// accept larger bodies (uploads).
  void route(std::string method, std::string path_pattern, handler fn, size_t max_body_bytes = 0);

  /// Stops accepting connections and waits for running handlers to return; idempotent.
  void stop();

  /// The address actually listened on, "ip:port" (with the real port when 0 was asked for).
  std::string listen_address() const;

private:
  explicit server(std::unique_ptr<detail::server_state> state);

  std::unique_ptr<detail::server_state> state_;
};

} // namespace joconde::http
