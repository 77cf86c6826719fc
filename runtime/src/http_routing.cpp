// Routing, handler calls and response heads of http::server (see http_routing.hpp).

#include "http_routing.hpp"

#include "joconde/messages/text.hpp"

#include <algorithm>
#include <cctype>
#include <exception>
#include <set>
#include <utility>

namespace joconde::http {

namespace {

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
    case 303: return "See Other";
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

// Resolves the literal "." and ".." segments of an absolute path (RFC 3986 section 5.2.4).
std::string remove_dot_segments(std::string_view path) {
  auto in = split_path(path);
  std::vector<std::string_view> out;
  for (size_t i = 0; i < in.size(); ++i) {
    bool last = i + 1 == in.size();
    if (in[i] == "." || in[i] == "..") {
      if (in[i] == ".." && !out.empty())
        out.pop_back();
      if (last)
        out.emplace_back();
      continue;
    }
    out.push_back(in[i]);
  }
  std::string joined;
  for (auto seg : out) {
    joined += '/';
    joined += seg;
  }
  return joined.empty() ? "/" : joined;
}

/// Decodes the path of a request (dot segments removed) into `path` and its segments; the reason it
/// is refused, or empty.
std::string_view decode_path(std::string_view raw_path, std::string& path, std::vector<std::string>& segments) {
  if (!percent_decode(raw_path, false, path))
    return "the request path has invalid percent-encoding";
  for (auto raw : split_path(raw_path)) {
    std::string seg;
    if (!percent_decode(raw, false, seg))
      return "the request path has invalid percent-encoding";
    if (seg == "." || seg == "..")
      return "the request path has a percent-encoded dot segment";
    segments.push_back(std::move(seg));
  }
  return {};
}

/// Form-decodes the query string `qs` into `query` (the last of a repeated key wins); the reason it
/// is refused, or empty.
std::string_view decode_query(std::string_view qs, std::map<std::string, std::string>& query) {
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
      return "the query string has invalid percent-encoding";
    query[std::move(key)] = std::move(value);
  }
  return {};
}

/// Sets the request's bearer token from an `Authorization: Bearer ...` header, if it has one.
void read_bearer(std::string_view authorization, request& req) {
  auto auth = text::trim(authorization);
  constexpr std::string_view scheme = "Bearer ";
  if (auth.size() > scheme.size() && text::iequals(auth.substr(0, scheme.size()), scheme))
    req.bearer_token = std::string{text::trim(auth.substr(scheme.size()))};
}

} // namespace

// -- response -------------------------------------------------------------------------------------

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

namespace detail {

// -- routing --------------------------------------------------------------------------------------

void route_table::add(std::string method, std::string pattern, handler fn, size_t max_body,
                      admission admit) {
  entry e;
  e.method = std::move(method);
  for (auto seg : split_path(pattern)) {
    bool capture = seg.size() > 2 && seg.front() == '{' && seg.back() == '}';
    e.segments.emplace_back(capture ? seg.substr(1, seg.size() - 2) : seg);
    e.is_param.push_back(capture);
  }
  e.fn = std::make_shared<const handler>(std::move(fn));
  e.max_body = max_body;
  if (admit)
    e.admit = std::make_shared<const admission>(std::move(admit));
  std::lock_guard guard{mtx_};
  // Same method and same path shape (capture names aside): a replacement.
  auto same = [&](const entry& r) {
    if (r.method != e.method || r.is_param != e.is_param)
      return false;
    for (size_t i = 0; i < r.segments.size(); ++i)
      if (!r.is_param[i] && r.segments[i] != e.segments[i])
        return false;
    return true;
  };
  if (auto it = std::find_if(routes_.begin(), routes_.end(), same); it != routes_.end())
    *it = std::move(e);
  else
    routes_.push_back(std::move(e));
}

std::set<std::string> route_table::find_route(const std::vector<std::string>& segments, routed& out,
                                              size_t default_body_limit) const {
  // Literal segments beat captures, left to right.
  std::set<std::string> allowed;
  std::lock_guard guard{mtx_};
  const entry* best = nullptr;
  for (const auto& r : routes_) {
    bool matches = r.segments.size() == segments.size();
    for (size_t i = 0; matches && i < segments.size(); ++i)
      matches = r.is_param[i] ? !segments[i].empty() : segments[i] == r.segments[i];
    if (!matches)
      continue;
    allowed.insert(r.method);
    if (r.method == out.req.method && (best == nullptr || r.is_param < best->is_param))
      best = &r;
  }
  if (best != nullptr) {
    out.fn = best->fn;
    out.admit = best->admit;
    out.body_limit = best->max_body != 0 ? best->max_body : default_body_limit;
    for (size_t i = 0; i < segments.size(); ++i)
      if (best->is_param[i])
        out.req.params[best->segments[i]] = segments[i];
    for (size_t i = 0; i < best->segments.size(); ++i)
      out.pattern += best->is_param[i] ? "/{" + best->segments[i] + "}" : "/" + best->segments[i];
    if (out.pattern.empty())
      out.pattern = "/";
  }
  return allowed;
}

routed route_table::match(std::string_view method, std::string_view target,
                          std::string_view authorization, size_t default_body_limit) const {
  routed out;
  auto& req = out.req;
  auto refuse = [&](int status, std::string_view code, std::string message) {
    out.answer = response::error(status, code, message);
    return std::move(out);
  };
  req.method = std::string{method};
  if (target.empty() || target.front() != '/')
    return refuse(400, "malformed_input", "the request target is not an absolute path");
  auto qmark = target.find('?');
  std::vector<std::string> segments;
  if (auto why = decode_path(remove_dot_segments(target.substr(0, qmark)), req.path, segments); !why.empty())
    return refuse(400, "malformed_input", std::string{why});
  if (qmark != std::string_view::npos)
    if (auto why = decode_query(target.substr(qmark + 1), req.query); !why.empty())
      return refuse(400, "malformed_input", std::string{why});
  auto allowed = find_route(segments, out, default_body_limit);
  if (out.fn == nullptr) {
    if (allowed.empty())
      return refuse(404, "not_found", "no resource at " + req.path);
    std::string allow;
    for (const auto& m : allowed)
      allow += (allow.empty() ? "" : ", ") + m;
    auto path = req.path;
    auto res = refuse(405, "method_not_allowed",
                      req.method + " is not allowed on " + path + " (allowed: " + allow + ")");
    res.answer->headers["Allow"] = allow;
    return res;
  }
  read_bearer(authorization, req);
  return out;
}

response invoke(const handler& fn, const request& req) {
  try {
    auto res = fn(req);
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

// The status line, standard headers and the handler's valid extra headers of `res`.
std::string serialize_head(const response& res) {
  std::string head = "HTTP/1.1 " + std::to_string(res.status) + " ";
  head += reason_phrase(res.status);
  head += "\r\n";
  bool no_body = res.status == 204 || res.status == 304;
  if (!no_body) {
    if (!res.content_type.empty())
      head += "Content-Type: " + res.content_type + "\r\n";
    head += "Content-Length: " + std::to_string(res.body.size()) + "\r\n";
  }
  head += "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n"
          "Referrer-Policy: no-referrer\r\nConnection: close\r\n";
  // No page of another origin may frame or load what this server sends, unless a handler that
  // serves a page states its own policy.
  bool own_policy = std::any_of(res.headers.begin(), res.headers.end(), [](const auto& h) {
    return text::iequals(h.first, "content-security-policy") && is_field_value(h.second);
  });
  if (!own_policy)
    head += "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n";
  for (const auto& [name, value] : res.headers) {
    constexpr std::string_view reserved[] = {"content-type", "content-length", "cache-control",
                                             "x-content-type-options", "x-frame-options",
                                             "referrer-policy", "connection", "transfer-encoding"};
    if (!is_token(name) || !is_field_value(value)
        || std::any_of(std::begin(reserved), std::end(reserved),
                       [&name = name](std::string_view r) { return text::iequals(r, name); }))
      continue;
    head += name + ": " + value + "\r\n";
  }
  head += "\r\n";
  return head;
}

} // namespace detail

} // namespace joconde::http
