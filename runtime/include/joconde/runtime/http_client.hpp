#pragma once

// A small blocking HTTP/1.1 client over a POSIX TCP socket, for the CLI and multi-process tests.
// One connection per request (`Connection: close`), plain http:// only, no redirects. The whole
// exchange (resolve aside, connect, send, receive) is bounded by one timeout. The response body is
// framed by Content-Length, chunked transfer encoding, or the server closing the connection, and is
// capped at `client::max_response_bytes`.

#include "joconde/messages/result.hpp"
#include "joconde/runtime/http_server.hpp"

#include <chrono>
#include <functional>
#include <cstddef>
#include <string>

namespace joconde::http {

/// Sends single HTTP requests and waits for their responses.
class client {
public:
  /// The largest response body accepted (64 MiB); larger ones fail with too_large.
  static constexpr size_t max_response_bytes = size_t{64} << 20;

  /// Sends `method path_and_query` to `base_url` ("http://host[:port][/prefix]") with an optional
  /// body (sent as application/json) and bearer token and returns the response; errors:
  /// invalid_config for a bad URL, malformed_input for a bad method/path/token or a garbled response,
  /// io_error when nothing listens or the connection breaks, timeout when no full answer arrives in
  /// time, too_large for an oversized response.
  /// Told the request body's bytes sent so far and its size, after every write (uploads).
  using progress_fn = std::function<void(size_t sent, size_t total)>;

  static result<response> send(const std::string& base_url, std::string method,
                               std::string path_and_query, std::string body = {},
                               std::string bearer_token = {},
                               std::chrono::milliseconds timeout = std::chrono::seconds{10},
                               const progress_fn& progress = {});
};

} // namespace joconde::http
