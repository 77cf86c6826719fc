// Mapping libcurl's results onto the project's errors (see http_client_detail.hpp). curl reports
// a TLS failure as a code and a message; the OpenSSL reason is read back from that message.

#include "http_client_detail.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <charconv>
#include <cstring>
#include <string_view>

namespace joconde::http::detail {

namespace {

// The OpenSSL error curl's message quotes ("OpenSSL/3.0.x: error:0A00010B:SSL routines::wrong
// version number", ERR_error_string_n's format), or 0: curl keeps no other trace of it.
unsigned long quoted_openssl_error(std::string_view msg) {
  for (auto at = msg.find("error:"); at != std::string_view::npos; at = msg.find("error:", at + 1)) {
    auto code = msg.substr(at + 6, 9);
    unsigned long value = 0;
    if (code.size() == 9 && code[8] == ':'
        && std::from_chars(code.data(), code.data() + 8, value, 16).ptr == code.data() + 8)
      return value;
  }
  return 0;
}

int ssl_reason(unsigned long err) {
  return ERR_GET_LIB(err) == ERR_LIB_SSL ? ERR_GET_REASON(err) : 0;
}

std::string reason_text(unsigned long err, std::string_view fallback) {
  const char* r = err != 0 ? ERR_reason_error_string(err) : nullptr;
  return r != nullptr ? r : std::string{fallback};
}

// "a, b" of the DNS names and IP addresses of `cert`.
std::string names_of(const crypto::certificate& cert) {
  std::string out;
  for (const auto& list : {cert.dns_names(), cert.ip_addresses()})
    for (const auto& n : list)
      out += (out.empty() ? "" : ", ") + n;
  return out;
}

error verification_error(const exchange& ex, const url_parts& url, const std::string& why) {
  const long v = ex.chain_result;
  if (v < 0 || !ex.peer)
    return fail(errc::untrusted_chain, "cannot verify the certificate of " + url.authority + " ("
                                         + why + "): " + ca_hint);
  if (v == X509_V_OK || v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH) {
    auto names = names_of(*ex.peer);
    return fail(errc::untrusted_chain,
                "the certificate of " + url.authority + " is not for " + url.host
                  + (names.empty() ? std::string{} : " (it names " + names + ")")
                  + ": use a host name or address the certificate names, or have the server's "
                    "certificate issued for " + url.host);
  }
  std::string text = X509_verify_cert_error_string(v);
  if (v == X509_V_ERR_CERT_HAS_EXPIRED || v == X509_V_ERR_CERT_NOT_YET_VALID)
    return fail(errc::certificate_expired, "the certificate chain of " + url.authority
                                             + " is not valid now (" + text + ")");
  return fail(errc::untrusted_chain, "cannot verify the certificate of " + url.authority + " ("
                                       + text + "): " + ca_hint);
}

error handshake_error(const url_parts& url, const std::string& why) {
  auto err = quoted_openssl_error(why);
  switch (ssl_reason(err)) {
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_RECORD_LENGTH_MISMATCH:
      return fail(errc::protocol_error, url.authority + " does not speak TLS (its answer is no TLS "
                                          "record): is it a plain http:// listener?");
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
    case SSL_R_VERSION_TOO_LOW:
      return fail(errc::protocol_error, url.authority + " does not speak TLS 1.3 ("
                                          + reason_text(err, "protocol version") + "); joconde "
                                          "speaks TLS 1.3 only");
    case 0:
    case SSL_R_UNEXPECTED_EOF_WHILE_READING:
      return fail(errc::io_error, "the TLS handshake with " + url.authority + " failed (" + why
                                    + "): is it an HTTPS listener? it may also have refused a "
                                      "connection over its limits");
    default:
      return fail(errc::crypto_failure, "the TLS handshake with " + url.authority + " failed ("
                                          + reason_text(err, why) + ")");
  }
}

// What the request was doing when the timeout passed.
std::string_view stage_of(CURL* h, const exchange& ex, bool tls) {
  curl_off_t connected = 0;
  curl_off_t secured = 0;
  curl_off_t sent = 0;
  curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connected);
  curl_easy_getinfo(h, CURLINFO_APPCONNECT_TIME_T, &secured);
  curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &sent);
  if (connected == 0)
    return "connecting for";
  if (tls && secured == 0)
    return "the TLS handshake for";
  if (static_cast<size_t>(sent) < ex.body_size)
    return "sending";
  return ex.head_done ? "reading the response to" : "waiting for the response to";
}

} // namespace

error error_of(CURLcode rc, CURL* h, exchange& ex, const url_parts& url,
               std::chrono::milliseconds timeout, const char* message) {
  if (ex.stopped)
    return std::move(*ex.stopped);
  const std::string& what = *ex.what;
  std::string why = message[0] != '\0' ? message : curl_easy_strerror(rc);
  long os_errno = 0;
  curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      return fail(errc::timeout, std::string{stage_of(h, ex, url.tls)} + " " + what
                                   + " took longer than " + std::to_string(timeout.count()) + " ms");
    case CURLE_COULDNT_RESOLVE_HOST:
      return fail(errc::io_error, "cannot resolve host '" + url.host + "': " + why);
    case CURLE_COULDNT_CONNECT:
      if (ex.refused_address)
        return fail(errc::forbidden, "refusing to send a token over plain HTTP to " + url.host
                                       + ": use https:// (only a loopback address may get a token "
                                         "over http://)");
      return fail(errc::io_error, "cannot connect to " + url.authority + ": "
                                    + (os_errno != 0 ? std::strerror(static_cast<int>(os_errno)) : why)
                                    + " (is the node running and is the address right?)");
    case CURLE_FILESIZE_EXCEEDED:
      return fail(errc::too_large, "the response body of " + what + " is larger than the limit of "
                                     + std::to_string(client::max_response_bytes) + " bytes");
    case CURLE_GOT_NOTHING:
      return fail(errc::io_error, "the connection for " + what + " closed before a response arrived "
                                    "(is it an HTTP server? a server over its connection limits "
                                    "also closes at once)");
    case CURLE_PARTIAL_FILE:
      return fail(errc::io_error, "the connection for " + what + " closed in the middle of the "
                                    "response body (" + why + ")");
    case CURLE_UNSUPPORTED_PROTOCOL: // the scheme is always http(s): this is about the answer
    case CURLE_WEIRD_SERVER_REPLY:
      return fail(errc::malformed_input, "the response of " + what + " is not HTTP/1.x (" + why + ")");
    case CURLE_BAD_CONTENT_ENCODING:
      return fail(errc::malformed_input, "the response of " + what + " has a transfer coding that "
                                           "cannot be decoded (" + why + ")");
    case CURLE_PEER_FAILED_VERIFICATION:
      return verification_error(ex, url, why);
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_SSL_CIPHER:
      return handshake_error(url, why);
    case CURLE_SSL_CACERT_BADFILE:
      return fail(errc::invalid_config, "the CA file cannot be used (" + why + "): " + ca_hint);
    case CURLE_RECV_ERROR:
      if (ssl_reason(quoted_openssl_error(why)) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
        return fail(errc::io_error, "the TLS connection for " + what + " ended without "
                                      "close_notify: the response may be cut short");
      if (why.find("chunked-encoding") != std::string::npos)
        return fail(errc::malformed_input, "the chunked response body of " + what + " is malformed ("
                                             + why + ")");
      return fail(errc::io_error, "reading the response to " + what + " failed: " + why);
    case CURLE_SEND_ERROR:
      return fail(errc::io_error, "sending " + what + " failed: " + why);
    default:
      return fail(errc::io_error, what + " failed: " + why);
  }
}

} // namespace joconde::http::detail
