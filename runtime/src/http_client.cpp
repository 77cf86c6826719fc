// The HTTP client on libcurl (see http_client.hpp): one easy handle per request, security options
// set explicitly rather than trusted to defaults, curl's result codes mapped onto the project's.

#include "joconde/runtime/http_client.hpp"

#include "http_client_detail.hpp"

#include "joconde/messages/text.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/io/net.hpp"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <memory>
#include <string_view>
#include <utility>

namespace joconde::http {

namespace {

using detail::ca_hint;
using detail::exchange;
using detail::url_parts;

constexpr size_t max_header_bytes = 64 * 1024;
constexpr std::streamsize max_ca_file_bytes = 1 << 20;

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

// -- the URL --------------------------------------------------------------------------------------
// Parsed here rather than by curl: the errors name what is wrong, only http[s]://host[:port][/prefix]
// is accepted, and the request target goes out exactly as the caller wrote it.

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
  if (!port.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535)
      return bad("has an invalid port");
  }
  return out;
}

// The PEM text of the CA file, checked to hold certificates: a bad file is reported before any
// connection, and curl is given the very bytes that were checked.
result<std::string> read_ca_file(const std::string& ca_file) {
  std::ifstream in{ca_file, std::ios::binary};
  if (!in)
    return fail(errc::invalid_config, "cannot read the CA file '" + ca_file + "': "
                                        + std::strerror(errno) + "; " + ca_hint);
  std::string pem;
  pem.resize(static_cast<size_t>(max_ca_file_bytes) + 1);
  in.read(pem.data(), max_ca_file_bytes + 1);
  pem.resize(static_cast<size_t>(in.gcount()));
  if (pem.size() > static_cast<size_t>(max_ca_file_bytes))
    return fail(errc::invalid_config, "the CA file '" + ca_file + "' is larger than 1 MiB");
  if (auto anchors = crypto::certificate::chain_from_pem(pem); !anchors)
    return fail(errc::invalid_config, "the CA file '" + ca_file + "' holds no usable certificate ("
                                        + anchors.err().message + ")");
  return pem;
}

// -- curl handles ---------------------------------------------------------------------------------

// curl_global_init once per process, before the first handle (a function-local static is
// initialised exactly once even when threads race). Never cleaned up: other threads may still
// hold handles while the process exits.
bool curl_ready() {
  static const bool ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  return ready;
}

struct easy_free {
  void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); }
};

// Header lists may hold the bearer token: wiped before they are freed.
struct slist_free {
  void operator()(curl_slist* list) const noexcept {
    for (auto* l = list; l != nullptr; l = l->next)
      OPENSSL_cleanse(l->data, std::strlen(l->data));
    curl_slist_free_all(list);
  }
};

// -- callbacks ------------------------------------------------------------------------------------

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto& ex = *static_cast<exchange*>(user);
  size_t n = size * count;
  if (n > client::max_response_bytes - ex.res.body.size())
    return ex.stop(fail(errc::too_large, "the response body of " + *ex.what + " exceeds "
                                           + std::to_string(client::max_response_bytes) + " bytes"));
  ex.res.body.append(data, n);
  return n;
}

// Every line of every head (interim 1xx ones too, and trailers after a chunked body).
size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto& ex = *static_cast<exchange*>(user);
  size_t n = size * count;
  std::string_view line{data, n};
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
    line.remove_suffix(1);
  const bool status_line = line.substr(0, 5) == "HTTP/"; // curl has checked it: a new head
  if (status_line) {
    ex.res.headers.clear();
    ex.header_bytes = 0;
    ex.interim = line.size() >= 10 && line[9] == '1';
    ex.head_done = false;
  }
  ex.header_bytes += n;
  if (ex.header_bytes > max_header_bytes)
    return ex.stop(fail(errc::malformed_input,
                        "the response headers of " + *ex.what + " exceed 64 KiB"));
  if (status_line || ex.head_done)
    return n;
  if (line.empty()) {
    ex.head_done = !ex.interim;
    return n;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos || !is_token(line.substr(0, colon)))
    return ex.stop(fail(errc::malformed_input,
                        "the response of " + *ex.what + " has a bad header line"));
  std::string name{line.substr(0, colon)};
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto& slot = ex.res.headers[name];
  slot += (slot.empty() ? "" : ", ") + std::string{text::trim(line.substr(colon + 1))};
  return n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t sent) {
  auto& ex = *static_cast<exchange*>(user);
  if (sent > ex.reported) {
    ex.reported = sent;
    (*ex.progress)(static_cast<size_t>(sent), ex.body_size);
  }
  return 0;
}

// Opens the sockets curl connects with: close-on-exec, and for a token over http:// only to
// loopback addresses (the check before the request resolved the name; this holds at connect time).
curl_socket_t open_socket(void* user, curlsocktype, curl_sockaddr* addr) {
  auto& ex = *static_cast<exchange*>(user);
  if (ex.loopback_only) {
    char host[NI_MAXHOST] = {};
    if (::getnameinfo(&addr->addr, addr->addrlen, host, sizeof host, nullptr, 0, NI_NUMERICHOST) != 0
        || !net::is_loopback(host)) {
      ex.refused_address = true;
      return CURL_SOCKET_BAD;
    }
  }
  return ::socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

// OpenSSL's chain check, unchanged; remembers its verdict and the server's certificate for the
// messages (curl checks the host name after the handshake, says neither what the certificate names
// nor, then, whether the chain was fine).
int verify_chain(X509_STORE_CTX* store, void* user) {
  auto& ex = *static_cast<exchange*>(user);
  if (X509* leaf = X509_STORE_CTX_get0_cert(store); leaf != nullptr && X509_up_ref(leaf) == 1)
    ex.peer.emplace(leaf);
  int verified = X509_verify_cert(store);
  ex.chain_result = X509_STORE_CTX_get_error(store);
  return verified;
}

// Runs on the SSL_CTX curl made for the connection, after curl configured it.
CURLcode on_ssl_context(CURL*, void* ssl_ctx, void* user) {
  auto* ctx = static_cast<SSL_CTX*>(ssl_ctx);
  SSL_CTX_set_keylog_callback(ctx, nullptr); // SSLKEYLOGFILE does not get this process's secrets
  SSL_CTX_set_cert_verify_callback(ctx, &verify_chain, user);
  return CURLE_OK;
}

// Sets options on a handle; the first option curl refuses is the error.
class setter {
public:
  explicit setter(CURL* h) : h_(h) {
    // nop
  }

  template <class T>
  void operator()(CURLoption opt, T value) {
    if (rc_ == CURLE_OK)
      rc_ = curl_easy_setopt(h_, opt, value);
  }

  result<void> done() const {
    if (rc_ != CURLE_OK)
      return fail(errc::unsupported, std::string{"libcurl cannot set up the request ("}
                                       + curl_easy_strerror(rc_)
                                       + "): joconde needs libcurl 7.85 or later built with OpenSSL");
    return ok();
  }

private:
  CURL* h_;
  CURLcode rc_ = CURLE_OK;
};

// One request: the texts curl points into, its header list and what its callbacks learn. Stays
// where it was made while curl holds pointers into it.
struct outgoing {
  url_parts url;
  std::string method;
  std::string body;
  std::string what;     // "METHOD URL", for messages
  std::string endpoint; // scheme://authority/ for curl to connect to
  std::string target;   // the request target, sent as written (curl would normalise "/../")
  std::string ca_pem;
  std::unique_ptr<curl_slist, slist_free> headers;
  exchange ex;
  char message[CURL_ERROR_SIZE] = {};

  outgoing() = default;
  outgoing(const outgoing&) = delete;
  outgoing& operator=(const outgoing&) = delete;

  // Connection: close, the token (if any) and the body's type; the caller's copy of the token is
  // wiped.
  bool add_headers(std::string& bearer_token, const std::map<std::string, std::string>& extra) {
    auto add = [&](std::string line) {
      auto* list = curl_slist_append(headers.get(), line.c_str());
      OPENSSL_cleanse(line.data(), line.size());
      if (list == nullptr)
        return false;
      (void) headers.release(); // the same list, or the first node of a new one
      headers.reset(list);
      return true;
    };
    bool listed = add("Connection: close");
    bool typed = false;  // the caller says the body's type (a form, for an OAuth token request)
    for (const auto& [name, value] : extra) {
      typed = typed || text::iequals(name, "Content-Type");
      listed = listed && add(name + ": " + value);
    }
    if (!bearer_token.empty())
      listed = listed && add("Authorization: Bearer " + bearer_token);
    OPENSSL_cleanse(bearer_token.data(), bearer_token.size());
    // curl's default for a body is a form's type: JSON or none.
    return listed && (typed || add(body.empty() ? "Content-Type:" : "Content-Type: application/json"));
  }

  // Every option of the request on `h`, the security ones set explicitly rather than left to
  // curl's defaults.
  result<void> configure(CURL* h, const client_options& options) {
    const auto timeout_ms = static_cast<long>(std::max<long long>(options.timeout.count(), 1));
    setter set{h};
    set(CURLOPT_ERRORBUFFER, message);
    set(CURLOPT_URL, endpoint.c_str());
    set(CURLOPT_REQUEST_TARGET, target.c_str());
    set(CURLOPT_PROTOCOLS_STR, "http,https");
    set(CURLOPT_FOLLOWLOCATION, 0L);
    set(CURLOPT_PROXY, ""); // no proxy, whatever the environment says
    set(CURLOPT_NOSIGNAL, 1L);
    set(CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
    set(CURLOPT_FORBID_REUSE, 1L);
    set(CURLOPT_FRESH_CONNECT, 1L);
    set(CURLOPT_TCP_NODELAY, 1L);
    set(CURLOPT_TIMEOUT_MS, timeout_ms); // never 0, which would mean no limit
    set(CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    set(CURLOPT_USERAGENT, "joconde");
    set(CURLOPT_HTTPHEADER, headers.get());
    set(CURLOPT_CUSTOMREQUEST, method.c_str());
    if (method == "HEAD") {
      set(CURLOPT_NOBODY, 1L);
    } else if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
      set(CURLOPT_POSTFIELDS, body.data());
      set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
    set(CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(client::max_response_bytes));
    set(CURLOPT_WRITEFUNCTION, &on_body);
    set(CURLOPT_WRITEDATA, &ex);
    set(CURLOPT_HEADERFUNCTION, &on_header);
    set(CURLOPT_HEADERDATA, &ex);
    set(CURLOPT_OPENSOCKETFUNCTION, &open_socket);
    set(CURLOPT_OPENSOCKETDATA, &ex);
    if (ex.progress != nullptr) {
      set(CURLOPT_XFERINFOFUNCTION, &on_progress);
      set(CURLOPT_XFERINFODATA, &ex);
      set(CURLOPT_NOPROGRESS, 0L);
    }
    if (url.tls) {
      // TLS 1.3 only; the CA file's certificates are the only trust anchors (curl's default
      // bundle and directory are switched off); chain and host name checked, never skipped.
      set(CURLOPT_SSLVERSION, long{CURL_SSLVERSION_TLSv1_3} | long{CURL_SSLVERSION_MAX_TLSv1_3});
      set(CURLOPT_SSL_VERIFYPEER, 1L);
      set(CURLOPT_SSL_VERIFYHOST, 2L);
      set(CURLOPT_CAINFO, static_cast<const char*>(nullptr));
      set(CURLOPT_CAPATH, static_cast<const char*>(nullptr));
      curl_blob anchors{ca_pem.data(), ca_pem.size(), CURL_BLOB_COPY};
      set(CURLOPT_CAINFO_BLOB, &anchors);
      set(CURLOPT_SSL_SESSIONID_CACHE, 0L);
      set(CURLOPT_SSL_CTX_FUNCTION, &on_ssl_context);
      set(CURLOPT_SSL_CTX_DATA, &ex);
    }
    return set.done();
  }
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
    outgoing req;
    if (url->tls) {
      auto pem = read_ca_file(options.ca_file);
      if (!pem)
        return std::move(pem).err();
      req.ca_pem = std::move(*pem);
    }
    // A token goes over plain HTTP to a host whose addresses are all loopback ones only.
    const bool loopback_only = !url->tls && !bearer_token.empty();
    if (loopback_only && !net::is_loopback(url->host))
      return fail(errc::forbidden, "refusing to send a token over plain HTTP to " + url->host
                                     + ": use https:// (only a loopback address may get a token "
                                       "over http://)");
    if (!curl_ready())
      return fail(errc::io_error, "libcurl cannot be initialised");
    std::unique_ptr<CURL, easy_free> handle{curl_easy_init()};
    if (!handle)
      return fail(errc::io_error, "libcurl cannot make a request handle");

    req.url = std::move(*url);
    req.what = method + " " + base_url + path_and_query;
    req.endpoint = (req.url.tls ? "https://" : "http://") + req.url.authority + "/";
    req.target = req.url.prefix + path_and_query;
    req.method = std::move(method);
    req.body = std::move(body);
    req.ex.what = &req.what;
    req.ex.body_size = req.body.size();
    req.ex.loopback_only = loopback_only;
    req.ex.progress = options.progress && !req.body.empty() ? &options.progress : nullptr;
    for (const auto& [name, value] : options.headers)
      if (name.empty() || has_ctl_or_space(name) || name.find(':') != std::string::npos
          || std::any_of(value.begin(), value.end(), [](char c) {
               return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
             }))
        return fail(errc::malformed_input, "a request header has a bad name or control characters");
    if (!req.add_headers(bearer_token, options.headers))
      return fail(errc::io_error, "out of memory for the request headers");
    if (auto r = req.configure(handle.get(), options); !r)
      return r.err();

    if (CURLcode rc = curl_easy_perform(handle.get()); rc != CURLE_OK)
      return detail::error_of(rc, handle.get(), req.ex, req.url, options.timeout, req.message);
    long status = 0;
    curl_easy_getinfo(handle.get(), CURLINFO_RESPONSE_CODE, &status);
    auto& res = req.ex.res;
    res.status = static_cast<int>(status);
    auto type = res.headers.find("content-type");
    res.content_type = type != res.headers.end() ? type->second : std::string{};
    return std::move(res);
  } catch (const std::exception& e) {
    return fail(errc::io_error, std::string{"HTTP request failed: "} + e.what());
  }
}

} // namespace joconde::http
