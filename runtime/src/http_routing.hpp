#pragma once

// The HTTP semantics of http::server that need no I/O: routing a request head to a handler (path
// and query decoding, dot segments, literal-before-capture precedence, 404/405), calling the
// handler (exceptions become 500) and writing a response head with the standard headers. Private
// to the runtime library; the rules are those documented in http_server.hpp.

#include "joconde/runtime/http_server.hpp"

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace joconde::http::detail {

/// What routing made of a request head.
struct routed {
  /// Method, path, query, captures and bearer token; body and remote_addr are left to the caller.
  request req;
  /// The handler to call, or null when `answer` is set.
  std::shared_ptr<const handler> fn;
  /// The route's check of the head before its body is read, or null.
  std::shared_ptr<const admission> admit;
  /// The largest body the route accepts.
  size_t body_limit = 0;
  /// The answer when the request goes no further (400, 404, 405).
  std::optional<response> answer;
  /// The matched route's pattern ("/v1/ctas/{uuid}"), or "" when none matched.
  std::string pattern;
};

/// The routes of a server; thread-safe.
class route_table {
public:
  /// Adds (or replaces, for the same method and path shape) a route; `max_body` 0 means the
  /// server's limit; `admit` (may be empty) checks the head before the body is read.
  void add(std::string method, std::string pattern, handler fn, size_t max_body, admission admit);

  /// Routes a request with `method` (as sent) and request `target` (origin form, raw) whose
  /// `Authorization` header is `authorization`; `default_body_limit` for routes without their own.
  routed match(std::string_view method, std::string_view target, std::string_view authorization,
               size_t default_body_limit) const;

private:
  struct entry {
    std::string method;
    std::vector<std::string> segments; // literal text, or the capture name where is_param is set
    std::vector<bool> is_param;
    std::shared_ptr<const handler> fn;
    std::shared_ptr<const admission> admit;
    size_t max_body = 0;
  };

  /// Finds the route for the decoded path `segments` and `out.req.method`, filling in `out`'s
  /// handler, admission, body limit and captures; returns the methods the path allows.
  std::set<std::string> find_route(const std::vector<std::string>& segments, routed& out,
                                   size_t default_body_limit) const;

  mutable std::mutex mtx_;
  std::vector<entry> routes_;
};

/// Calls `fn` on `req`: its response, or 500 internal_error if it threw or made an invalid one.
response invoke(const handler& fn, const request& req);

/// The status line, standard headers (Content-Type, Content-Length, Cache-Control,
/// X-Content-Type-Options, Connection: close) and the valid extra headers of `res`, ending with
/// the empty line.
std::string serialize_head(const response& res);

} // namespace joconde::http::detail
