#pragma once

// What http::client's request and its libcurl callbacks share with the mapping of curl's results
// onto the project's errors (http_client_errors.cpp). Private to the runtime library.

#include "joconde/messages/result.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/http_client.hpp"

#include <curl/curl.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace joconde::http::detail {

/// The hint of every error a CA file would solve.
inline const std::string ca_hint =
  "give the CA file that issued the server's certificate (joconde --ca-file)";

/// A base URL taken apart.
struct url_parts {
  bool tls = false;
  std::string authority; ///< as written
  std::string host;      ///< without brackets
  std::string prefix;    ///< path prefix without trailing '/'
};

/// What the callbacks of one request learn, and why one of them stopped it.
struct exchange {
  const std::string* what = nullptr; ///< "METHOD URL", for messages
  const progress_fn* progress = nullptr;
  size_t body_size = 0;
  curl_off_t reported = 0;
  bool loopback_only = false;   ///< a bearer token over http://
  bool refused_address = false; ///< ... and a non-loopback address came up when connecting
  response res;
  size_t header_bytes = 0;
  bool interim = false;         ///< the current head is a 1xx one
  bool head_done = false;       ///< the final head is complete (later lines are trailers)
  std::optional<error> stopped; ///< a callback ended the transfer with this error
  std::optional<crypto::certificate> peer; ///< the server's certificate, for a name mismatch
  long chain_result = -1;                  ///< OpenSSL's verdict on the chain (-1: none came)

  /// Ends the transfer with `e`: what a callback returns instead of the size it was handed, so
  /// that curl stops with CURLE_WRITE_ERROR.
  size_t stop(error e) {
    stopped = std::move(e);
    return 0;
  }
};

/// The project's error for curl's result `rc` (not CURLE_OK) and message `message` of the request
/// on `h`, sent to `url` with `timeout`: a callback's own error first, else the code curl's result
/// stands for (see http::client::send).
error error_of(CURLcode rc, CURL* h, exchange& ex, const url_parts& url,
               std::chrono::milliseconds timeout, const char* message);

} // namespace joconde::http::detail
