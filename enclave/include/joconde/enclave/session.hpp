#pragma once

// Attested sessions over a connected socket (DESIGN.md §8, docs/tee.md): the set-up that turns a
// fresh TCP or unix connection into a secure_stream whose far end has proved, with TEE evidence,
// what it runs and for which Computing Task.
//
// VM to VM (both attested): connect_peer runs the channel handshake (handshake.hpp) over the socket,
// each message as u32be(length) || message: both hellos first, then the proofs, the lower CP index
// sending its proof first. From the handshake's channel key K and the transcript hash
// T = SHA-256(hello_lower || hello_higher || proof_lower || proof_higher) it derives the stream keys
// (stream.hpp, salt T, lower CP index first) and, separately, the key for the MPC engine:
// mpc_key = HKDF-SHA-256(K, salt T, info "joconde mpc channel v1"). K itself is wiped. Last, each
// side sends the stream message "joconde peer session ready v1" and waits for the peer's: key
// confirmation, so a side whose peer refused its evidence fails here too (io_error) instead of
// holding a session the peer has already dropped.
//
// Client to VM (only the VM attested), each message as u32be(length) || message:
//   client hello   "JCH1" || nonce (32 single-use random bytes) || client X25519 public key (32)
//   VM answer      "JCP1" || VM X25519 public key (32) || encode(evidence), at most
//                  4 + 32 + max_proof_size bytes
// The evidence's report data is report_data_for("joconde ct-vm client v1", client nonce, ct_id,
// cp_id_of(cp_index), VM X25519 key); the client computes it itself, so evidence replayed from an
// earlier session, relayed from another CP or made for another CT is refused (replayed). The session
// key is HKDF-SHA-256(X25519 secret, salt = client nonce, info = "joconde ct-vm client channel v1"
// || u8(len(ct_id)) || ct_id || u32be(cp_index)); the stream keys come from it with salt
// SHA-256(client hello || VM answer), the client first.

#include "joconde/enclave/handshake.hpp"
#include "joconde/enclave/platform.hpp"
#include "joconde/enclave/stream.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace joconde::enclave {

// -- VM to VM --

/// The HKDF info of the key a peer session hands to the MPC engine.
inline constexpr std::string_view mpc_key_info = "joconde mpc channel v1";

/// The largest hello connect_peer accepts on the wire.
inline constexpr std::size_t max_hello_size = 128;

/// What an attested VM-to-VM session yields.
struct peer_session {
  secure_stream stream;  ///< the encrypted stream to the peer VM
  channel_key mpc_key{};  ///< the key for the MPC engine's channel with this peer; the caller wipes it
  claims peer;           ///< what the peer's platform vouched for
};

/// Runs the attested channel handshake with the peer VM on the connected socket `fd` and returns the
/// session. Both sides call it, each with its own settings. Takes ownership of `fd` (the stream owns
/// it on success; it is closed on failure). `timeout` bounds the whole set-up and becomes the
/// stream's I/O timeout. Errors: handshake::create's invalid_config, too_large for an oversized
/// message, timeout, io_error when the peer closes (also when it refused this side's evidence),
/// every handshake error (unknown_peer, malformed_input, the verifier's refusals), protocol_error
/// for a wrong confirmation, crypto_failure.
result<peer_session> connect_peer(int fd, handshake::settings settings,
                                  std::chrono::milliseconds timeout);

// -- client to VM --

/// The label of the report data a VM binds for a client (report_data_for).
inline constexpr std::string_view client_handshake_label = "joconde ct-vm client v1";

/// The HKDF info prefix of a client session's key.
inline constexpr std::string_view client_key_info = "joconde ct-vm client channel v1";

/// The size of a client hello on the wire ("JCH1", nonce, X25519 key).
inline constexpr std::size_t client_hello_size = 4 + 32 + 32;

/// What a client checks a CT VM against; `verifier` is borrowed.
struct client_settings {
  std::string ct_id;                            ///< the Computing Task the VM must serve
  std::uint32_t cp_index = 0;                   ///< the Computing Party the VM must belong to
  const enclave::verifier* verifier = nullptr;  ///< checks the VM's evidence
  reference_values reference;                   ///< what the VM's evidence must match
};

/// What a client learns from an attested session with a CT VM.
struct client_session {
  secure_stream stream;  ///< the encrypted stream to the VM
  claims vm;             ///< what the VM's platform vouched for
};

/// Attests the CT VM at the other end of the connected socket `fd` and returns the session: sends a
/// hello with a fresh nonce and key, verifies the VM's evidence against report data it computes
/// itself and derives the key. Takes ownership of `fd` (closed on failure). `timeout` bounds the
/// set-up and becomes the stream's I/O timeout. Errors: invalid_config (empty or over 255-byte CT id,
/// no verifier), the verifier's refusals (measurement_mismatch, host_data_mismatch, debug_enabled,
/// untrusted_chain, certificate_revoked, replayed for evidence from an earlier session, another CP
/// or another CT, ...), malformed_input or too_large for a bad answer, timeout, io_error,
/// crypto_failure.
result<client_session> attest_vm(int fd, client_settings settings,
                                 std::chrono::milliseconds timeout);

/// What a CT VM proves itself with to clients; `attester` is borrowed.
struct vm_settings {
  std::string ct_id;                            ///< the Computing Task this VM serves
  std::uint32_t cp_index = 0;                   ///< the Computing Party this VM belongs to
  const enclave::attester* attester = nullptr;  ///< proves this VM
};

/// The CT VM's side of attest_vm on the connected socket `fd`: reads the client's hello, answers
/// with a fresh key and evidence binding the client's nonce, and returns the stream. Takes ownership
/// of `fd` (closed on failure). Errors: invalid_config, malformed_input or too_large for a bad hello,
/// the attester's errors, timeout, io_error, crypto_failure.
result<secure_stream> accept_client(int fd, vm_settings settings,
                                    std::chrono::milliseconds timeout);

} // namespace joconde::enclave
