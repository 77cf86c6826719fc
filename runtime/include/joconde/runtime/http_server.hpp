#pragma once

// The JSON/HTTP server of every listener (node API and portal, CT VM admin, metrics), plain HTTP
// or HTTPS with TLS 1.3 only, on IPv4, IPv6 and host-name addresses (DESIGN.md §3, §8, §11).
//
// - Route patterns are paths whose segments are literals or `{name}` captures, e.g.
//   `/v1/certs/{fingerprint}`; a capture matches exactly one non-empty path segment and lands
//   percent-decoded in `request::params`. When several routes match, literal segments beat captures
//   (left to right). Plain dot segments ("/a/../b") are resolved before matching.
// - Errors produced by the server itself are JSON `{"error":{"code":..,"message":..}}`:
//   400 malformed_input (not HTTP/1.x, bad percent-encoding, NUL bytes, percent-encoded dot
//   segments), 400 https_required (plain HTTP sent to a TLS listener), 404 not_found,
//   405 method_not_allowed (with an `Allow` header), 408 timeout (head or body too slow),
//   413 too_large (decided from Content-Length before reading the body, or while reading a chunked
//   body), 429 too_many_requests (the client already has max_requests_per_client requests waiting
//   or being served; with `Retry-After: 1`), 431 too_large (request head over max_header_bytes),
//   500 internal_error (a handler threw), 503 resource_exhausted (every worker busy and the queue
//   full; with `Retry-After: 1`).
// - Every response carries `Cache-Control: no-store`, `X-Content-Type-Options: nosniff`,
//   `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer` and `Connection: close` (one request per
//   connection), and `Content-Security-Policy: default-src 'none'; frame-ancestors 'none'` unless
//   the handler gives its own (a page that loads scripts and styles does).
// - Reading and writing are asynchronous on one I/O thread: a slow or idle peer holds a connection
//   slot and a small buffer (~20 KiB, ~100 KiB with TLS), never a worker. A request whose head and
//   body have arrived runs on one of `threads` workers; handlers may block and must be thread-safe.
// - Bounded resources for peers that have not authenticated (CONVENTIONS.md): connections in all
//   and per client (an IPv4 address, or the /64 of an IPv6 address) are limited, and a connection
//   over a limit is closed at once, before any TLS handshake or read; the head must arrive within
//   header_timeout of the connection; the body within body_timeout plus its size at
//   min_transfer_rate; the response likewise within write_timeout. The body buffer grows as bytes
//   arrive. After answering, the server stops sending and discards what the peer still sends for at
//   most 2 s (so that the peer reads the answer), then closes.
// - When max_connections are open, a new connection takes the place of the oldest one still
//   waiting for its request head (that one is closed: idle or slow clients cannot lock others out
//   for longer than it takes a newcomer to arrive).
// - A route's admission check (e.g. the bearer token) runs on the head, before any byte of the
//   body is read or buffered: a refused request costs the server its head only, whatever
//   Content-Length it announces.
// No Asio or Beast here: they stay in runtime/src (http_server_detail.hpp), behind a pimpl.

#include "joconde/messages/result.hpp"
#include "joconde/runtime/crypto.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace joconde::http {

namespace detail {

/// The I/O thread, workers, listener and routing table of a server; defined in
/// runtime/src/http_server_detail.hpp.
struct server_state;

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
  /// The request body (at most the route's body limit).
  std::string body;
  /// The token of an `Authorization: Bearer <token>` header, or empty.
  std::string bearer_token;
  /// The `Cookie` header as sent (several headers joined with "; "), or empty.
  std::string cookie;
  /// The `X-CSRF-Token` header (a browser session's anti-forgery token), or empty.
  std::string csrf_token;
  /// The `Origin` header, or empty.
  std::string origin;
  /// The `Host` header, or empty.
  std::string host;
  /// The IP address of the peer: "198.51.100.7" or "2001:db8::7" (an IPv4 peer of an IPv6
  /// listener shows as IPv4).
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

/// A request handler; may throw (the server answers 500).
using handler = std::function<response(const request&)>;

/// A route's check of a request head (method, path, query, params, bearer_token, cookie, csrf_token,
/// origin, host, remote_addr; the
/// body is not read yet): nullopt lets the request go on (its body is read, then the handler
/// runs), a response is sent at once without reading the body (e.g. 401). Runs on the I/O thread:
/// it must be quick (no blocking I/O beyond a local lookup) and thread-safe; if it throws, 500.
using admission = std::function<std::optional<response>(const request&)>;

/// The certificate and key an HTTPS listener presents.
struct tls_identity {
  /// The server's certificate chain: the leaf first, then its intermediates (the root may be left
  /// out). The leaf names the listener's host names (DNS) and addresses (IP) clients connect to.
  std::vector<crypto::certificate> chain;
  /// The private key of the leaf; kept in memory, never logged.
  std::shared_ptr<const crypto::private_key> key;
};

/// Told of a connection the server refused or dropped before serving it: `peer` is its IP address,
/// `reason` a bare snake_case code (a bounded set, usable as a metric label): https_required
/// (plain HTTP to a TLS listener); for a failed TLS handshake protocol_version (no TLS 1.3),
/// no_shared_cipher, peer_alert (the client sent an alert, e.g. it does not trust the
/// certificate), connection_closed (it left mid-handshake) or tls_error; connection_limit,
/// client_connection_limit, idle_evicted (closed while waiting for its head to make room for a
/// newcomer), client_request_limit (answered 429); header_timeout, body_timeout. Called on the I/O thread: it must
/// return at once (count, or log with a rate limit) and must not call the server.
using refusal_fn = std::function<void(const std::string& peer, const std::string& reason)>;

/// Told of each request a handler answered: the route's pattern ("/v1/ctas/{uuid}", or "" when no
/// route matched and the server answered 404 or 405 itself), the method, the status and the
/// seconds from the full request to the handler's answer. Called on a worker; must not block.
using served_fn = std::function<void(const std::string& route, const std::string& method, int status,
                                     double seconds)>;

/// How a server listens and what it bounds.
struct server_options {
  /// Where to listen: "host:port" with an IPv4 literal, an IPv6 literal in brackets or a host name
  /// (the first address it resolves to that can be bound); port 0 picks a free port.
  std::string listen;
  /// If >= 0, a listening TCP socket to adopt instead of binding `listen` (whose host, if given,
  /// then only names it in listen_address()); start() owns it from the call on (closes it if it
  /// fails).
  int listen_fd = -1;
  /// The certificate and key of an HTTPS listener (TLS 1.3 only); nullopt for plain HTTP.
  std::optional<tls_identity> tls;
  /// The largest request body a route accepts unless it sets its own limit.
  size_t max_body_bytes = size_t{1} << 20;
  /// Handler workers: requests served at the same time.
  unsigned threads = 4;
  /// Requests read completely that may wait for a worker; beyond, 503 with Retry-After.
  size_t max_queued_requests = 64;
  /// Open connections in all; further connections are closed at once.
  size_t max_connections = 256;
  /// Open connections from one client (IPv4 address, IPv6 /64); further ones are closed at once.
  size_t max_connections_per_client = 32;
  /// Requests of one client (IPv4 address, IPv6 /64) waiting for a worker or being served; beyond,
  /// 429 with Retry-After (one client cannot take every worker and the whole queue).
  size_t max_requests_per_client = 8;
  /// The largest request head (request line and header fields); beyond, 431.
  size_t max_header_bytes = 16 * 1024;
  /// From the connection (TLS handshake included) to the end of the request head; then 408 (or a
  /// plain close when nothing was received).
  std::chrono::milliseconds header_timeout{std::chrono::seconds{10}};
  /// Time for a request body beyond its size at min_transfer_rate; then 408.
  std::chrono::milliseconds body_timeout{std::chrono::seconds{30}};
  /// Time to send a response beyond its size at min_transfer_rate; then the connection is closed.
  std::chrono::milliseconds write_timeout{std::chrono::seconds{30}};
  /// The slowest transfer rate (bytes per second) a large body or response is given time for.
  size_t min_transfer_rate = 64 * 1024;
  /// Told of refused connections (see refusal_fn); may be empty.
  refusal_fn on_refusal;
  /// Told of answered requests (see served_fn); may be empty.
  served_fn on_served;
};

/// An HTTP/1.1 server listening on one address and port, plain or with TLS 1.3.
class server {
public:
  /// Starts listening as `options` say; invalid_config for a malformed address, a zero limit or
  /// thread count, or an unusable TLS identity (no chain, no key, key not matching the leaf);
  /// io_error if the address cannot be bound (e.g. the port is taken).
  static result<std::unique_ptr<server>> start(const server_options& options);

  /// Starts a plain HTTP server on `listen` with `threads` workers accepting bodies up to
  /// `max_body_bytes`, every other option at its default.
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
  /// accept larger bodies (uploads); `admit` (may be empty) checks the head before the body is
  /// read (see admission).
  void route(std::string method, std::string path_pattern, handler fn, size_t max_body_bytes = 0,
             admission admit = {});

  /// Closes the listener and every connection at once, drops queued requests and waits for running
  /// handlers to return; idempotent. Not from a handler or on_refusal (it would wait for itself).
  void stop();

  /// The address listened on, "host:port" as given (IPv6 in brackets) with the real port when 0
  /// was asked for; for an adopted socket its numeric local address.
  std::string listen_address() const;

private:
  explicit server(std::unique_ptr<detail::server_state> state);

  std::unique_ptr<detail::server_state> state_;
};

} // namespace joconde::http
