#pragma once

// A guard for a defect of CAF 0.17.6's OpenSSL transport (libcaf_openssl), and the place where
// TLS-level refusals become visible to joconde.
//
// The defect: libcaf_openssl never clears the thread's OpenSSL error queue before SSL_read,
// SSL_write, SSL_accept or SSL_connect, as OpenSSL requires of every caller. A refused TLS
// handshake (say a TLS 1.2 probe) leaves its error in the queue of the multiplexer thread, and the
// next SSL_read on any other connection of that thread that merely wants more data is then
// reported by SSL_get_error as a fatal error: CAF closes a healthy, authenticated link.
//
// The guard: this module defines those four functions in the program that links it. The dynamic
// linker binds libcaf_openssl's calls to them (a program's definitions come first in symbol
// lookup); they clear the queue, call OpenSSL's own function, and report a handshake that failed
// to the refusal observer (CAF refuses such peers inside OpenSSL, where no joconde code runs
// otherwise). The program must export the four symbols: actors/CMakeLists.txt,
// `joconde_export_tls_guard`. The same OpenSSL functions do the work; nothing else changes.

#include <string>

namespace joconde::tls {

/// A TLS handshake that failed.
struct refusal {
  const char* direction; ///< "in" (this node accepted the connection) or "out"
  const char* reason;    ///< protocol_version, no_certificate, untrusted_chain, certificate_expired,
                         ///< certificate_not_yet_valid, certificate_revoked, no_shared_cipher,
                         ///< peer_alert, connection_closed or tls_error
  std::string peer;      ///< remote address, "host:port"
  std::string detail;    ///< OpenSSL's description
};

/// Called on the thread that ran the handshake (CAF's multiplexer): keep it short.
using refusal_observer = void (*)(const refusal&);

/// Installs the observer; call before the first TLS connection. nullptr: none.
void set_refusal_observer(refusal_observer observer);

/// True if libcaf_openssl's calls reach the guard in this process (the symbols are exported and
/// the real functions were found). joconde-node refuses to start without it.
bool error_queue_guard_active();

} // namespace joconde::tls
