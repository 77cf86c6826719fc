#pragma once

// TLS 1.3 for http::server and http::client, on OpenSSL directly. Server: the context presenting a
// tls_identity and the refusal reason of a failed handshake. Client: a context whose trust anchors
// are the certificates of the caller's CA file, a session over a non-blocking socket that checks
// the URL's host against the server's certificate, and the steps of reading and writing. Private
// to the runtime library.

#include "joconde/messages/result.hpp"
#include "joconde/runtime/http_server.hpp"

#include <openssl/ssl.h>

#include <cstddef>
#include <memory>
#include <string>

namespace joconde::http::detail {

/// Frees an SSL_CTX.
struct tls_context_free {
  void operator()(SSL_CTX* ctx) const noexcept { SSL_CTX_free(ctx); }
};

/// An owned SSL_CTX.
using tls_context_ptr = std::unique_ptr<SSL_CTX, tls_context_free>;

/// Frees an SSL.
struct tls_session_free {
  void operator()(SSL* ssl) const noexcept { SSL_free(ssl); }
};

/// An owned SSL.
using tls_session_ptr = std::unique_ptr<SSL, tls_session_free>;

// -- server ---------------------------------------------------------------------------------------

/// A TLS 1.3-only server context presenting `id` (no session resumption, buffers released while a
/// connection idles); invalid_config if the chain or key is missing or the key is not the leaf's.
result<tls_context_ptr> tls_server_context(const tls_identity& id);

/// The refusal reason (see http::refusal_fn) of a server handshake that failed with the OpenSSL
/// error `err`: protocol_version, no_shared_cipher, peer_alert or tls_error.
std::string tls_refusal_reason(unsigned long err);

// -- client ---------------------------------------------------------------------------------------

/// The outcome of one read or write on a non-blocking connection.
struct io_step {
  /// Bytes moved.
  size_t n = 0;
  /// Poll events to wait for before trying again (nothing moved, nothing wrong: try again if 0).
  short wait = 0;
  /// The peer closed the connection.
  bool eof = false;
  /// ... a TLS peer without close_notify (what arrived may be cut short).
  bool truncated = false;
  /// The errno of a failed socket call.
  int err = 0;
  /// OpenSSL's reason for a failed TLS call.
  std::string error;
};

/// A TLS 1.3-only client context trusting every certificate of the PEM file `ca_file` (partial
/// chains allowed, so a pinned intermediate or server certificate works); invalid_config naming
/// the file if it cannot be read or holds no certificate.
result<tls_context_ptr> tls_client_context(const std::string& ca_file);

/// A session on the connected non-blocking socket `fd` that sends `host` as SNI (names only) and
/// requires it among the certificate's DNS names or IP addresses.
result<tls_session_ptr> tls_client_session(SSL_CTX* ctx, int fd, const std::string& host);

/// Advances the handshake: 0 when it is done, else the poll events to wait for; errors
/// (untrusted_chain, certificate_expired, protocol_error, io_error, crypto_failure) name
/// `authority` and, for a name mismatch, `host`.
result<short> tls_handshake_step(SSL* ssl, const std::string& host, const std::string& authority);

/// Writes some of [data, data+n).
io_step tls_write_some(SSL* ssl, const char* data, size_t n);

/// Reads up to `n` bytes into `data`.
io_step tls_read_some(SSL* ssl, char* data, size_t n);

/// Sends close_notify without waiting for the peer's (best effort).
void tls_close_notify(SSL* ssl) noexcept;

} // namespace joconde::http::detail
