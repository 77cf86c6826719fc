#include "joconde/runtime/tls_error_queue.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>

namespace joconde::tls {
namespace {

std::atomic<refusal_observer> observer{nullptr};

/// OpenSSL's own definition of `name` (the next one after this program in lookup order).
void* next_symbol(const char* name) {
  // libssl versions its symbols; ask for the version libcaf_openssl was linked against first.
  void* sym = ::dlvsym(RTLD_NEXT, name, "OPENSSL_3.0.0");
  if (sym == nullptr)
    sym = ::dlsym(RTLD_NEXT, name);
  if (sym == nullptr) {
    std::fprintf(stderr, "joconde: OpenSSL function %s not found: %s\n", name, ::dlerror());
    std::abort();
  }
  return sym;
}

template <class Fn>
Fn* next(const char* name) {
  return reinterpret_cast<Fn*>(next_symbol(name));
}

std::string peer_of(SSL* ssl) {
  int fd = SSL_get_fd(ssl);
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (fd < 0 || ::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return "unknown";
  char host[INET6_ADDRSTRLEN] = {0};
  uint16_t port = 0;
  if (addr.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs(in6->sin6_port);
  } else {
    return "unknown";
  }
  return std::string{host} + ":" + std::to_string(port);
}

const char* verify_reason(long result) {
  switch (result) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "certificate_expired";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "certificate_not_yet_valid";
    case X509_V_ERR_CERT_REVOKED:
      return "certificate_revoked";
    default:
      return "untrusted_chain";
  }
}

const char* ssl_reason(SSL* ssl, unsigned long err) {
  if (ERR_GET_LIB(err) != ERR_LIB_SSL)
    return "tls_error";
  auto reason = ERR_GET_REASON(err);
  switch (reason) {
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
    case SSL_R_VERSION_TOO_LOW:
      return "protocol_version";
    case SSL_R_NO_SHARED_CIPHER:
      return "no_shared_cipher";
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
      return "no_certificate";
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
      return verify_reason(SSL_get_verify_result(ssl));
    default:
      return reason >= SSL_AD_REASON_OFFSET ? "peer_alert" : "tls_error";
  }
}

/// The ex_data slot that marks a connection whose handshake completed both ways.
int established_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

/// True once `ssl` is known to be established: the server finished its handshake (it checked the
/// client's certificate), or application data arrived (the peer accepted this side's certificate).
/// A later failure is a link that broke or closed, not a refused handshake: OpenSSL puts the
/// connection back "in init" on any fatal error, so SSL_is_init_finished alone cannot tell (a
/// peer that closes an authenticated link without close_notify is an "unexpected eof").
bool established(SSL* ssl, int ret, bool read) {
  const int index = established_index();
  if (index < 0)
    return SSL_is_init_finished(ssl);
  if (SSL_get_ex_data(ssl, index) != nullptr)
    return true;
  if (ret > 0 && SSL_is_init_finished(ssl) && (read || SSL_is_server(ssl))) {
    SSL_set_ex_data(ssl, index, ssl);
    return true;
  }
  return false;
}

/// After an OpenSSL call on `ssl` returned `ret`: reports a handshake that failed.
void check(SSL* ssl, int ret, bool read = false) {
  if (established(ssl, ret, read) || ret > 0 || SSL_is_init_finished(ssl))
    return;
  auto* fn = observer.load(std::memory_order_acquire);
  if (fn == nullptr)
    return;
  int kind = SSL_get_error(ssl, ret);
  if (kind != SSL_ERROR_SSL && kind != SSL_ERROR_SYSCALL)
    return; // wants more I/O: the handshake goes on
  refusal r;
  r.direction = SSL_is_server(ssl) ? "in" : "out";
  r.peer = peer_of(ssl);
  auto err = ERR_peek_last_error();
  if (kind == SSL_ERROR_SYSCALL && err == 0) {
    r.reason = "connection_closed";
    r.detail = "the peer closed the connection during the TLS handshake";
  } else {
    r.reason = ssl_reason(ssl, err);
    char buf[256] = {0};
    ERR_error_string_n(err, buf, sizeof buf);
    r.detail = buf;
    if (ERR_GET_REASON(err) == SSL_R_CERTIFICATE_VERIFY_FAILED)
      r.detail += std::string{": "} + X509_verify_cert_error_string(SSL_get_verify_result(ssl));
  }
  fn(r);
}

} // namespace

void set_refusal_observer(refusal_observer fn) {
  observer.store(fn, std::memory_order_release);
}

} // namespace joconde::tls

extern "C" {

int SSL_read(SSL* ssl, void* buf, int num) {
  static auto* real = joconde::tls::next<int(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  auto ret = real(ssl, buf, num);
  joconde::tls::check(ssl, ret, true);
  return ret;
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  static auto* real = joconde::tls::next<int(SSL*, const void*, int)>("SSL_write");
  ERR_clear_error();
  auto ret = real(ssl, buf, num);
  joconde::tls::check(ssl, ret);
  return ret;
}

int SSL_accept(SSL* ssl) {
  static auto* real = joconde::tls::next<int(SSL*)>("SSL_accept");
  ERR_clear_error();
  auto ret = real(ssl);
  joconde::tls::check(ssl, ret);
  return ret;
}

int SSL_connect(SSL* ssl) {
  static auto* real = joconde::tls::next<int(SSL*)>("SSL_connect");
  ERR_clear_error();
  auto ret = real(ssl);
  joconde::tls::check(ssl, ret);
  return ret;
}

} // extern "C"

namespace joconde::tls {

bool error_queue_guard_active() {
  // What a shared library's call binds to: this program's definition, if it is exported. (An
  // unversioned definition in the program satisfies libcaf_openssl's SSL_read@OPENSSL_3.0.0
  // reference, as for any interposed symbol; tests/integration/negative_test checks the effect.)
  return ::dlsym(RTLD_DEFAULT, "SSL_read") == reinterpret_cast<void*>(&::SSL_read)
         && ::dlsym(RTLD_DEFAULT, "SSL_write") == reinterpret_cast<void*>(&::SSL_write)
         && ::dlsym(RTLD_DEFAULT, "SSL_accept") == reinterpret_cast<void*>(&::SSL_accept)
         && ::dlsym(RTLD_DEFAULT, "SSL_connect") == reinterpret_cast<void*>(&::SSL_connect);
}

} // namespace joconde::tls
