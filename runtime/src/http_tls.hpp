#pragma once

// TLS 1.3 for http::server, on OpenSSL directly: the context presenting a tls_identity and the
// refusal reason of a failed handshake (http::client speaks TLS through libcurl). Private to the
// runtime library.

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

/// A TLS 1.3-only server context presenting `id` (no session resumption, buffers released while a
/// connection idles); invalid_config if the chain or key is missing or the key is not the leaf's.
result<tls_context_ptr> tls_server_context(const tls_identity& id);

/// The refusal reason (see http::refusal_fn) of a server handshake that failed with the OpenSSL
/// error `err`: protocol_version, no_shared_cipher, peer_alert or tls_error.
std::string tls_refusal_reason(unsigned long err);

} // namespace joconde::http::detail
