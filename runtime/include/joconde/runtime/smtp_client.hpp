#pragma once

// Sending one e-mail through the operator's SMTP relay (DESIGN.md §12 notifications), with libcurl:
// STARTTLS on the submission port or TLS from the first byte (smtps), the relay's certificate
// verified (TLS 1.2 at least; no plain-text mode: TLS fails closed), and authentication when a user
// is configured. Blocking: call it from a thread of its own (the notifier actor is detached).

#include "joconde/messages/result.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace joconde::smtp {

/// How the relay is reached.
struct relay {
  std::string host;             ///< host name or address of the relay
  std::uint16_t port = 587;
  bool implicit_tls = false;    ///< true: TLS from the first byte (port 465); false: STARTTLS
  std::string ca_file;          ///< trust anchors for the relay's certificate; empty: the system's
  std::string user;             ///< empty: no authentication
  std::string password;         ///< with `user`; wiped by the caller after use
  std::chrono::milliseconds timeout{std::chrono::seconds{30}};
};

/// One message: the envelope and its RFC 5322 text (headers, blank line, body; CRLF line ends).
struct message {
  std::string from;
  std::vector<std::string> to;
  std::string text;
};

/// The RFC 5322 text of a plain-text e-mail (UTF-8, quoted-printable free: 7-bit-safe lines are
/// the caller's; header values lose CR and LF so no header can be injected).
std::string compose(const std::string& from, const std::string& to, const std::string& subject,
                    const std::string& body, const std::string& message_id);

/// Sends `m` through `r`: io_error (cannot connect, the relay refused a recipient or the text),
/// forbidden (authentication failed), untrusted_chain (the relay's certificate), timeout.
result<void> send(const relay& r, const message& m);

} // namespace joconde::smtp
