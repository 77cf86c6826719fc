#pragma once

// The one error enum of joconde (CONVENTIONS.md "Errors"). Plain C++: no CAF here, so that engines,
// enclave and runtime code can use it. `messages/caf_error.hpp` registers it with CAF.

#include <cstdint>
#include <string_view>

namespace joconde {

/// Every error a joconde component can report. Each code has one line saying what it means.
enum class errc : std::uint8_t {
  none = 0,
  /// A configuration key is missing, malformed or out of range.
  invalid_config,
  /// A file could not be read or written.
  io_error,
  /// Input could not be parsed (bad PEM, bad protobuf, bad JSON, bad CSV ...).
  malformed_input,
  /// A message, file or field is larger than its limit.
  too_large,
  /// An OpenSSL call failed for a reason that is not one of the more specific codes below.
  crypto_failure,
  /// A signature did not verify.
  bad_signature,
  /// A MAC or authentication tag did not verify.
  bad_mac,
  /// A certificate chain does not lead to the trusted root.
  untrusted_chain,
  /// A certificate is not yet valid or has expired.
  certificate_expired,
  /// A certificate (or the key in it) has been revoked.
  certificate_revoked,
  /// A certificate names something its issuer may not certify (name or path-length constraint).
  constraint_violation,
  /// A handshake challenge was replayed, addressed to someone else or otherwise not fresh.
  replayed,
  /// The peer is not who it claims to be or is not one this node links with.
  unknown_peer,
  /// The sender may not do this (role, policy, or subtree rule).
  forbidden,
  /// A message with this id was already processed.
  duplicate,
  /// The thing asked for does not exist.
  not_found,
  /// The thing to create exists already.
  already_exists,
  /// An LMDB call failed.
  storage_error,
  /// A request got no answer in time.
  timeout,
  /// The operation is not possible in the current state.
  invalid_state,
  /// The wrong pass phrase was given for an encrypted key.
  bad_passphrase,
  /// The engine or the task language does not support what was asked (operator, type, party count).
  unsupported,
  /// A task-language program does not compile (syntax, types, possible overflow); the message says
  /// where as line:column.
  compile_error,
  /// A counterpart MPC party sent a malformed, truncated or unexpected message, or its channel broke.
  protocol_error,
  /// A TEE's launch measurement is not among the accepted ones (unapproved binary or configuration).
  measurement_mismatch,
  /// A TEE's host data does not hold the expected value (the VM was launched for another CTA).
  host_data_mismatch,
  /// A TEE VM runs with debugging enabled, so the host can read its memory.
  debug_enabled,
  /// A TEE platform's TCB (firmware) version is older than the accepted minimum.
  tcb_outdated,
  /// A bounded resource is used up (the CT VM port range, connection slots): wait or raise the limit.
  resource_exhausted,
  /// A member named in a CTSC has a certificate whose fingerprint was not confirmed out of band at
  /// this node (SYS-2.1, ADR-5): compare and confirm it, or have an IT administrator record an
  /// override, before this node commits to the CTA.
  unconfirmed_member,
  /// The file system that holds a store or file is full (ENOSPC): free space there, or move the
  /// data directory; what was accepted before stays stored.
  no_space,
  /// An upload failed the data-quality check of its input (SYS-8.9): it is refused and erased, the
  /// input is empty again; correct the data and upload it again before the input deadline.
  quality_failed,
};

/// The stable, snake_case name of an error code (used in logs, metrics labels and JSON).
constexpr std::string_view to_string(errc x) noexcept {
  switch (x) {
    case errc::none: return "none";
    case errc::invalid_config: return "invalid_config";
    case errc::io_error: return "io_error";
    case errc::malformed_input: return "malformed_input";
    case errc::too_large: return "too_large";
    case errc::crypto_failure: return "crypto_failure";
    case errc::bad_signature: return "bad_signature";
    case errc::bad_mac: return "bad_mac";
    case errc::untrusted_chain: return "untrusted_chain";
    case errc::certificate_expired: return "certificate_expired";
    case errc::certificate_revoked: return "certificate_revoked";
    case errc::constraint_violation: return "constraint_violation";
    case errc::replayed: return "replayed";
    case errc::unknown_peer: return "unknown_peer";
    case errc::forbidden: return "forbidden";
    case errc::duplicate: return "duplicate";
    case errc::not_found: return "not_found";
    case errc::already_exists: return "already_exists";
    case errc::storage_error: return "storage_error";
    case errc::timeout: return "timeout";
    case errc::invalid_state: return "invalid_state";
    case errc::bad_passphrase: return "bad_passphrase";
    case errc::unsupported: return "unsupported";
    case errc::compile_error: return "compile_error";
    case errc::protocol_error: return "protocol_error";
    case errc::measurement_mismatch: return "measurement_mismatch";
    case errc::host_data_mismatch: return "host_data_mismatch";
    case errc::debug_enabled: return "debug_enabled";
    case errc::tcb_outdated: return "tcb_outdated";
    case errc::resource_exhausted: return "resource_exhausted";
    case errc::unconfirmed_member: return "unconfirmed_member";
    case errc::no_space: return "no_space";
    case errc::quality_failed: return "quality_failed";
  }
  return "unknown";
}

/// The code whose to_string() is `name`; `fallback` for any other text (e.g. from another node).
constexpr errc errc_from_string(std::string_view name, errc fallback) noexcept {
  constexpr auto last = static_cast<std::uint8_t>(errc::no_space);
  for (auto i = static_cast<std::uint8_t>(errc::none); i <= last; ++i)
    if (to_string(static_cast<errc>(i)) == name)
      return static_cast<errc>(i);
  return fallback;
}

} // namespace joconde
