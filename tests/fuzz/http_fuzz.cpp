// libFuzzer target: HTTP request heads and bodies as the node's HTTP(S) listener reads them: Boost.Beast's
// request parser with the limits runtime/src/http_connection_read.cpp sets (header limit max_header_bytes,
// body limit the route's), then the routing of runtime/src/http_routing.cpp (path and query
// decoding, dot segments, captures, bearer token, 404/405), the handler call and the response head.
//
// The first byte says where the bytes are split in two reads (as from a socket); the rest is what
// a client sent. The route table has the shapes of the node's API (actors/node/http_api.cpp).

#include "fuzz_input.hpp"

#include "http_routing.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

namespace {

using namespace joconde;
namespace bhttp = boost::beast::http;

/// As http::server::options' defaults.
constexpr size_t max_header_bytes = 16 * 1024;
constexpr size_t max_body_bytes = size_t{1} << 20;

http::response echo(const http::request& req) {
  nlohmann::json params = req.params;
  nlohmann::json query = req.query;
  auto res = http::response::json(200, {{"path", req.path}, {"params", params}, {"query", query},
                                        {"token", req.bearer_token}, {"body", req.body}});
  // Extra headers from the request: serialize_head must drop what a header cannot carry.
  for (const auto& [k, v] : req.query)
    res.headers[k] = v;
  return res;
}

void add_routes(http::detail::route_table& t) {
  for (auto [method, path] : std::initializer_list<std::pair<const char*, const char*>>{
         {"GET", "/healthz"}, {"GET", "/v1/status"}, {"POST", "/v1/envelopes"}, {"GET", "/v1/ctas"},
         {"POST", "/v1/ctas"}, {"GET", "/v1/ctas/{uuid}"}, {"POST", "/v1/ctas/{uuid}/ctsa"},
         {"POST", "/v1/ctas/{uuid}/inputs/{key}"}, {"POST", "/v1/ctas/{uuid}/outputs/{key}"},
         {"GET", "/v1/ctas/latest"}, {"GET", "/v1/users/{name}"}})
    t.add(method, path, echo, std::string_view{path}.ends_with("{key}") ? 4096 : 0, {});
  t.add("GET", "/v1/throws", [](const http::request&) -> http::response { throw std::runtime_error{"x"}; },
        0, {});
}

std::string_view view(boost::beast::string_view s) {
  return {s.data(), s.size()};
}

/// Feeds `bytes` to `parser` the way a read loop does; false when it refused them.
template <class Parser>
bool feed(Parser& parser, std::string_view& bytes, bool header_only) {
  boost::beast::error_code ec;
  while (!bytes.empty() && !(header_only ? parser.is_header_done() : parser.is_done())) {
    auto n = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
    bytes.remove_prefix(n);
    if (ec == bhttp::error::need_more) {
      if (n == 0)
        return true; // waits for the next read
      continue;
    }
    if (ec)
      return false;
  }
  return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto& routes = []() -> const http::detail::route_table& {
    static http::detail::route_table t;
    add_routes(t);
    return t;
  }();
  fuzz::input in{data, size};
  auto split = in.byte();
  auto wire = in.rest();
  auto first = wire.substr(0, std::min<size_t>(split, wire.size()));
  auto second = wire.substr(first.size());

  bhttp::request_parser<bhttp::empty_body> head;
  head.header_limit(static_cast<std::uint32_t>(max_header_bytes));
  head.body_limit(std::numeric_limits<std::uint64_t>::max()); // the route decides
  if (!feed(head, first, true))
    return 0;
  auto rest = std::string{first} + std::string{second};
  std::string_view pending = rest;
  if (!head.is_header_done() && !feed(head, pending, true))
    return 0;
  if (!head.is_header_done())
    return 0;
  const auto& h = head.get();
  if (h.version() != 10 && h.version() != 11)
    return 0;
  auto r = routes.match(view(h.method_string()), view(h.target()), view(h[bhttp::field::authorization]),
                        max_body_bytes);
  if (r.answer) {
    fuzz::require(r.answer->status >= 400 && r.answer->status < 500, "routing refuses with a 4xx");
    (void) http::detail::serialize_head(*r.answer);
    return 0;
  }
  fuzz::require(r.fn != nullptr, "a routed request has a handler");
  fuzz::require(!r.req.path.empty() && r.req.path.front() == '/', "a routed path is absolute");
  if (auto length = head.content_length(); length && *length > r.body_limit)
    return 0;
  auto req = std::move(r.req);
  if (!head.is_done()) {
    bhttp::request_parser<bhttp::string_body> body{std::move(head)};
    body.body_limit(r.body_limit);
    if (!feed(body, pending, false) || !body.is_done())
      return 0;
    req.body = std::move(body.get().body());
    fuzz::require(req.body.size() <= r.body_limit, "a body within the route's limit");
  }
  auto res = http::detail::invoke(*r.fn, req);
  auto text = http::detail::serialize_head(res);
  for (char c : text)
    fuzz::require(c != '\0', "a response head carries no NUL");
  return 0;
}
