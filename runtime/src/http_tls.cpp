// TLS 1.3 for http::server and http::client (see http_tls.hpp).

#include "http_tls.hpp"

#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/net.hpp"

#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>

namespace joconde::http::detail {

namespace {

constexpr std::streamsize max_ca_file_bytes = 1 << 20;

// OpenSSL's reason for the first error queued on this thread, or `fallback`.
std::string openssl_reason(std::string_view fallback) {
  if (const char* r = ERR_reason_error_string(ERR_peek_error()); r != nullptr)
    return r;
  return std::string{fallback};
}

int reason_of_queue() {
  auto e = ERR_peek_error();
  return ERR_GET_LIB(e) == ERR_LIB_SSL ? ERR_GET_REASON(e) : 0;
}

// -- a socket BIO that never raises SIGPIPE ---------------------------------------------------------
// OpenSSL's socket BIO writes with write(2): a server that closes early would kill the process with
// SIGPIPE. This one sends with MSG_NOSIGNAL; the descriptor is the BIO's data.

int fd_of(BIO* b) {
  return static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(b)));
}

bool would_block(int err) {
  return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

int bio_write(BIO* b, const char* data, int len) {
  BIO_clear_retry_flags(b);
  auto n = ::send(fd_of(b), data, static_cast<size_t>(len), MSG_NOSIGNAL);
  if (n < 0 && would_block(errno))
    BIO_set_retry_write(b);
  return static_cast<int>(n);
}

int bio_read(BIO* b, char* data, int len) {
  BIO_clear_retry_flags(b);
  auto n = ::recv(fd_of(b), data, static_cast<size_t>(len), 0);
  if (n < 0 && would_block(errno))
    BIO_set_retry_read(b);
  return static_cast<int>(n);
}

long bio_ctrl(BIO* b, int cmd, long, void* ptr) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_C_GET_FD:
      if (ptr != nullptr)
        *static_cast<int*>(ptr) = fd_of(b);
      return fd_of(b);
    default:
      return 0;
  }
}

int bio_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

const BIO_METHOD* socket_method() {
  static BIO_METHOD* method = [] {
    auto* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                           "joconde socket");
    if (m == nullptr || BIO_meth_set_write(m, &bio_write) != 1 || BIO_meth_set_read(m, &bio_read) != 1
        || BIO_meth_set_ctrl(m, &bio_ctrl) != 1 || BIO_meth_set_create(m, &bio_create) != 1)
      return static_cast<BIO_METHOD*>(nullptr);
    return m;
  }();
  return method;
}

// -- handshake errors -----------------------------------------------------------------------------

// "a, b" of the DNS names and IP addresses of the server's certificate, if it arrived.
std::string names_of_peer(SSL* ssl) {
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
  if (chain == nullptr || sk_X509_num(chain) == 0)
    return {};
  X509* leaf = sk_X509_value(chain, 0);
  X509_up_ref(leaf);
  crypto::certificate cert{leaf};
  std::string out;
  auto add = [&](const std::vector<std::string>& names) {
    for (const auto& n : names)
      out += (out.empty() ? "" : ", ") + n;
  };
  add(cert.dns_names());
  add(cert.ip_addresses());
  return out;
}

error handshake_error(SSL* ssl, int kind, int sys_err, const std::string& host,
                      const std::string& authority) {
  const std::string ca_hint = "give the CA file that issued the server's certificate (joconde --ca-file)";
  if (long v = SSL_get_verify_result(ssl); v != X509_V_OK) {
    std::string why = X509_verify_cert_error_string(v);
    if (v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH) {
      auto names = names_of_peer(ssl);
      return fail(errc::untrusted_chain,
                  "the certificate of " + authority + " is not for " + host
                    + (names.empty() ? std::string{} : " (it names " + names + ")")
                    + ": use a host name or address the certificate names, or have the server's "
                      "certificate issued for " + host);
    }
    if (v == X509_V_ERR_CERT_HAS_EXPIRED || v == X509_V_ERR_CERT_NOT_YET_VALID)
      return fail(errc::certificate_expired, "the certificate chain of " + authority
                                               + " is not valid now (" + why + ")");
    return fail(errc::untrusted_chain, "cannot verify the certificate of " + authority + " (" + why
                                         + "): " + ca_hint);
  }
  int reason = reason_of_queue();
  switch (reason) {
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_RECORD_LENGTH_MISMATCH:
      return fail(errc::protocol_error, authority + " does not speak TLS (its answer is no TLS "
                                          "record): is it a plain http:// listener?");
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
    case SSL_R_VERSION_TOO_LOW:
      return fail(errc::protocol_error, authority + " does not speak TLS 1.3 ("
                                          + openssl_reason("protocol version") + "); joconde "
                                          "speaks TLS 1.3 only");
    case SSL_R_UNEXPECTED_EOF_WHILE_READING:
      break;
    default:
      if (kind == SSL_ERROR_SSL)
        return fail(errc::crypto_failure, "the TLS handshake with " + authority + " failed ("
                                            + openssl_reason("no reason given") + ")");
  }
  if (sys_err != 0)
    return fail(errc::io_error, "the TLS handshake with " + authority + " failed: "
                                  + std::strerror(sys_err));
  return fail(errc::io_error, "the connection to " + authority + " closed during the TLS handshake "
                                "(is it an HTTPS listener? it may also have refused a connection "
                                "over its limits)");
}

} // namespace

// -- server ---------------------------------------------------------------------------------------

result<tls_context_ptr> tls_server_context(const tls_identity& id) {
  if (id.chain.empty())
    return fail(errc::invalid_config, "the HTTPS listener has no certificate: give the certificate "
                                      "chain (leaf first) of the listener");
  if (!id.key)
    return fail(errc::invalid_config, "the HTTPS listener has no private key: give the key of its "
                                      "certificate");
  ERR_clear_error();
  tls_context_ptr ctx{SSL_CTX_new(TLS_server_method())};
  if (!ctx || SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION) != 1
      || SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION) != 1)
    return fail(errc::crypto_failure, "cannot make a TLS 1.3 server context: "
                                        + openssl_reason("no reason given"));
  SSL_CTX* c = ctx.get();
  // One request per connection: no session resumption; buffers freed while a connection idles.
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(c, 0);
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  const auto& leaf = id.chain.front();
  if (SSL_CTX_use_certificate(c, leaf.native_handle()) != 1)
    return fail(errc::invalid_config, "the HTTPS certificate '" + leaf.subject().common_name
                                        + "' is not usable: " + openssl_reason("no reason given"));
  for (size_t i = 1; i < id.chain.size(); ++i)
    if (SSL_CTX_add1_chain_cert(c, id.chain[i].native_handle()) != 1)
      return fail(errc::invalid_config, "the HTTPS certificate chain is not usable: "
                                          + openssl_reason("no reason given"));
  if (SSL_CTX_use_PrivateKey(c, id.key->native_handle()) != 1 || SSL_CTX_check_private_key(c) != 1)
    return fail(errc::invalid_config, "the HTTPS private key does not belong to the certificate '"
                                        + leaf.subject().common_name + "' ("
                                        + openssl_reason("key mismatch")
                                        + "): give the key the certificate was issued for");
  ERR_clear_error();
  return ctx;
}

std::string tls_refusal_reason(unsigned long err) {
  if (ERR_GET_LIB(err) != ERR_LIB_SSL)
    return "tls_error";
  switch (auto reason = ERR_GET_REASON(err)) {
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
    case SSL_R_VERSION_TOO_LOW:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
      return "protocol_version";
    case SSL_R_NO_SHARED_CIPHER:
      return "no_shared_cipher";
    default:
      return reason >= SSL_AD_REASON_OFFSET ? "peer_alert" : "tls_error";
  }
}

// -- client ---------------------------------------------------------------------------------------

result<tls_context_ptr> tls_client_context(const std::string& ca_file) {
  std::ifstream in{ca_file, std::ios::binary};
  if (!in)
    return fail(errc::invalid_config, "cannot read the CA file '" + ca_file + "': "
                                        + std::strerror(errno) + "; " "give the CA file that issued "
                                        "the server's certificate (joconde --ca-file)");
  std::string pem;
  pem.resize(static_cast<size_t>(max_ca_file_bytes) + 1);
  in.read(pem.data(), max_ca_file_bytes + 1);
  pem.resize(static_cast<size_t>(in.gcount()));
  if (pem.size() > static_cast<size_t>(max_ca_file_bytes))
    return fail(errc::invalid_config, "the CA file '" + ca_file + "' is larger than 1 MiB");
  auto anchors = crypto::certificate::chain_from_pem(pem);
  if (!anchors)
    return fail(errc::invalid_config, "the CA file '" + ca_file + "' holds no usable certificate ("
                                        + anchors.err().message + ")");
  ERR_clear_error();
  tls_context_ptr ctx{SSL_CTX_new(TLS_client_method())};
  if (!ctx || SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION) != 1
      || SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION) != 1)
    return fail(errc::crypto_failure, "cannot make a TLS 1.3 client context: "
                                        + openssl_reason("no reason given"));
  X509_STORE* store = SSL_CTX_get_cert_store(ctx.get());
  for (const auto& cert : *anchors)
    if (X509_STORE_add_cert(store, cert.native_handle()) != 1)
      return fail(errc::crypto_failure, "cannot trust the certificates of '" + ca_file + "': "
                                          + openssl_reason("no reason given"));
  X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx.get()), X509_V_FLAG_PARTIAL_CHAIN);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  return ctx;
}

result<tls_session_ptr> tls_client_session(SSL_CTX* ctx, int fd, const std::string& host) {
  ERR_clear_error();
  tls_session_ptr ssl{SSL_new(ctx)};
  const BIO_METHOD* method = socket_method();
  BIO* bio = method != nullptr && ssl ? BIO_new(method) : nullptr;
  if (bio == nullptr)
    return fail(errc::crypto_failure, "cannot make a TLS session: " + openssl_reason("out of memory"));
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)));
  SSL_set_bio(ssl.get(), bio, bio); // one reference, owned by the SSL
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
  bool named = true;
  if (net::is_ip_literal(host)) {
    named = X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1;
  } else {
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    named = X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) == 1
            && SSL_set_tlsext_host_name(ssl.get(), host.c_str()) == 1;
  }
  if (!named)
    return fail(errc::invalid_config, "cannot check the server's certificate for '" + host + "': "
                                        + openssl_reason("not a valid host name"));
  return ssl;
}

result<short> tls_handshake_step(SSL* ssl, const std::string& host, const std::string& authority) {
  ERR_clear_error();
  errno = 0;
  int r = SSL_connect(ssl);
  if (r == 1)
    return short{0};
  int sys_err = errno;
  int kind = SSL_get_error(ssl, r);
  if (kind == SSL_ERROR_WANT_READ)
    return short{POLLIN};
  if (kind == SSL_ERROR_WANT_WRITE)
    return short{POLLOUT};
  auto err = handshake_error(ssl, kind, kind == SSL_ERROR_SYSCALL ? sys_err : 0, host, authority);
  ERR_clear_error();
  return err;
}

io_step tls_write_some(SSL* ssl, const char* data, size_t n) {
  io_step s;
  ERR_clear_error();
  errno = 0;
  size_t written = 0;
  if (SSL_write_ex(ssl, data, n, &written) == 1) {
    s.n = written;
    return s;
  }
  int sys_err = errno;
  switch (SSL_get_error(ssl, 0)) {
    case SSL_ERROR_WANT_WRITE: s.wait = POLLOUT; break;
    case SSL_ERROR_WANT_READ: s.wait = POLLIN; break;
    case SSL_ERROR_ZERO_RETURN: s.eof = true; break;
    case SSL_ERROR_SYSCALL: s.err = sys_err != 0 ? sys_err : EPIPE; break;
    default: s.error = openssl_reason("TLS write failed"); break;
  }
  ERR_clear_error();
  return s;
}

io_step tls_read_some(SSL* ssl, char* data, size_t n) {
  io_step s;
  ERR_clear_error();
  errno = 0;
  size_t got = 0;
  if (SSL_read_ex(ssl, data, n, &got) == 1) {
    s.n = got;
    return s;
  }
  int sys_err = errno;
  switch (SSL_get_error(ssl, 0)) {
    case SSL_ERROR_WANT_READ: s.wait = POLLIN; break;
    case SSL_ERROR_WANT_WRITE: s.wait = POLLOUT; break;
    case SSL_ERROR_ZERO_RETURN: s.eof = true; break;
    case SSL_ERROR_SYSCALL:
      if (sys_err != 0) {
        s.err = sys_err;
      } else {
        s.eof = true;
        s.truncated = true;
      }
      break;
    default:
      if (reason_of_queue() == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        s.eof = true;
        s.truncated = true;
      } else {
        s.error = openssl_reason("TLS read failed");
      }
      break;
  }
  ERR_clear_error();
  return s;
}

void tls_close_notify(SSL* ssl) noexcept {
  ERR_clear_error();
  SSL_shutdown(ssl);
  ERR_clear_error();
}

} // namespace joconde::http::detail
