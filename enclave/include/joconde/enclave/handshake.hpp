#pragma once

// The attested key exchange between two CT VMs (DESIGN.md §8, docs/tee.md): each side sends a hello
// (its CP index, a fresh single-use nonce and an ephemeral X25519 public key), then a proof (TEE
// evidence whose report data binds the OTHER side's nonce, the CT id, its own CP index and its own
// X25519 key). Each side verifies the peer's evidence against its reference values and then derives
// the channel key both share: HKDF-SHA-256 with the X25519 secret as key, salt = the two nonces
// (lower CP index first) and info = channel_key_info || u8(len(ct_id)) || ct_id || u32be(lower CP
// index) || u32be(higher CP index). Transport-agnostic: the caller moves the bytes; the class keeps
// the state and refuses anything out of order.

#include "joconde/enclave/platform.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace joconde::enclave {

/// The label every channel handshake's report data is made with (report_data_for).
inline constexpr std::string_view channel_handshake_label = "joconde ct-vm channel v1";

/// The HKDF info prefix of the channel key derivation.
inline constexpr std::string_view channel_key_info = "joconde ct-vm channel";

/// The largest proof message accepted (evidence, certificates included).
inline constexpr std::size_t max_proof_size = 256 * 1024;

/// A 256-bit key two parties share for their channel (the same type as engines::channel_key).
using channel_key = std::array<std::uint8_t, 32>;

/// A single-use handshake nonce.
using handshake_nonce = std::array<std::uint8_t, 32>;

/// A raw X25519 public key.
using x25519_public_key = std::array<std::uint8_t, 32>;

/// The CP id a CP index stands for in report data: "cp-" followed by the index in decimal.
std::string cp_id_of(std::uint32_t cp_index);

/// The first message each side sends: who it is, the nonce the peer must prove freshness for, and
/// its ephemeral key-exchange key. Wire form (72 bytes): "JHL1" || u32be(cp_index) || nonce ||
/// kx_public_key.
struct hello {
  std::uint32_t cp_index = 0;         ///< the sender's CP index
  handshake_nonce nonce{};            ///< single-use nonce the peer's evidence must bind
  x25519_public_key kx_public_key{};  ///< the sender's ephemeral X25519 public key

  /// The wire form.
  bytes encode() const;

  /// Decodes exactly what encode() produced; malformed_input for any other length or prefix.
  static result<hello> decode(std::span<const std::uint8_t> data);
};

/// The second message each side sends: evidence whose report data binds the peer's nonce. Wire form:
/// "JPF1" || enclave::encode(evidence), at most max_proof_size bytes.
struct proof {
  enclave::evidence evidence;  ///< the sender's TEE evidence

  /// The wire form.
  bytes encode() const;

  /// Decodes what encode() produced; malformed_input for a wrong prefix, oversized input or
  /// evidence decode_evidence refuses.
  static result<proof> decode(std::span<const std::uint8_t> data);
};

/// What a completed handshake yields.
struct established {
  channel_key key{};  ///< the key shared with the peer; the caller wipes it after use
  claims peer;        ///< what the peer's platform vouched for
};

/// One side of the attested key exchange with one peer. Use: start() and send the hello; on the
/// peer's hello, on_hello() and send the proof; on the peer's proof, on_proof() yields the key. Any
/// failure ends the handshake: later calls return invalid_state. The attester and verifier must
/// outlive the handshake. Movable, not copyable (it holds the ephemeral private key); a moved-from
/// handshake may only be assigned to or destroyed.
class handshake {
public:
  /// Everything one side needs; `attester` and `verifier` are borrowed.
  struct settings {
    std::string ct_id;                            ///< the Computing Task both sides serve
    std::uint32_t own_cp = 0;                     ///< this side's CP index
    std::uint32_t peer_cp = 0;                    ///< the peer's CP index
    const enclave::attester* attester = nullptr;  ///< proves this VM to the peer
    const enclave::verifier* verifier = nullptr;  ///< checks the peer's evidence
    reference_values reference;                   ///< what the peer's evidence must match
  };

  /// A handshake with a fresh nonce and X25519 key pair; invalid_config when the ct id is empty or
  /// over 255 bytes, both CP indices are equal or the attester or verifier is missing, crypto_failure
  /// when OpenSSL cannot make the nonce or the key.
  static result<handshake> create(settings s);

  handshake(handshake&&) noexcept;
  handshake& operator=(handshake&&) noexcept;
  handshake(const handshake&) = delete;
  handshake& operator=(const handshake&) = delete;

  /// Frees (and so zeroises) the private key if it is still held.
  ~handshake();

  /// This side's hello; invalid_state when called a second time or after a failure.
  result<bytes> start();

  /// Takes the peer's hello and returns this side's proof: malformed_input for a bad encoding,
  /// unknown_peer when it carries this side's CP index or not the expected peer's, protocol_error
  /// for a second hello, the attester's error when it cannot make evidence. Before start() it
  /// returns invalid_state and leaves the handshake usable.
  result<bytes> on_hello(std::span<const std::uint8_t> data);

  /// Takes the peer's proof, verifies its evidence and derives the channel key: malformed_input for
  /// a bad encoding, protocol_error before the peer's hello, the verifier's own error (replayed when
  /// it binds another nonce, CP, CT or key-exchange key), crypto_failure when the derivation fails.
  result<established> on_proof(std::span<const std::uint8_t> data);

private:
  enum class stage : std::uint8_t { created, started, proved, done, failed };

  struct keypair;

  handshake(settings s, handshake_nonce nonce, std::unique_ptr<keypair> kx);

  /// Marks the handshake failed, frees the private key and returns `e`.
  error abort(error e);

  settings settings_;
  handshake_nonce nonce_{};
  std::unique_ptr<keypair> kx_;
  hello peer_{};
  stage stage_ = stage::created;
};

} // namespace joconde::enclave
