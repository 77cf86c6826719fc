// TLS 1.3 for http::server (see http_tls.hpp).

#include "http_tls.hpp"

#include "joconde/runtime/crypto.hpp"

#include <openssl/err.h>

#include <string_view>

namespace joconde::http::detail {

namespace {

// OpenSSL's reason for the first error queued on this thread, or `fallback`.
std::string openssl_reason(std::string_view fallback) {
  if (const char* r = ERR_reason_error_string(ERR_peek_error()); r != nullptr)
    return r;
  return std::string{fallback};
}

} // namespace

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

} // namespace joconde::http::detail
