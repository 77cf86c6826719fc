#pragma once

// The signed-challenge handshake that authenticates a link between a node and its parent, and the
// per-frame MACs of an established link (DESIGN.md §4 connection_manager). Plain code, no actors.
//
//   child  -> parent  LinkHello     {from, to, chain, nonce_c, eph_c}
//   parent -> child   LinkChallenge {session, chain, nonce_p, eph_p, sig_p(hello || challenge fields)}
//   child  -> parent  LinkProof     {session, sig_c(hello || challenge)}
//
// Both sides derive direction keys with HKDF from ECDH(eph_c, eph_p), salted with both nonces and
// bound to the transcript. A challenge is single-use and expires; a proof for an unknown session is
// a replay.

#include "node_signer.hpp"
#include "trust_view.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace joconde {

/// Protocol version carried in LinkHello.
constexpr uint32_t link_protocol_version = 1;

/// The keys and counters of an established link, from one side's point of view.
class link_session {
public:
  link_session() = default;
  link_session(std::string session, verified_node peer, bool peer_is_parent,
               crypto::secure_bytes tx_key, crypto::secure_bytes rx_key);

  /// Wraps envelopes in a LinkFrame with the next sequence number and a MAC.
  std::string seal_frame(const std::vector<std::string>& envelopes, uint64_t& seq_out);

  /// Checks a LinkFrame's session, MAC and sequence (strictly increasing) and returns its envelopes.
  result<std::vector<std::string>> open_frame(std::string_view bytes, uint64_t& seq_out);

  /// Makes a LinkAck for frame `seq`.
  std::string seal_ack(uint64_t seq) const;

  /// Checks a LinkAck's session and MAC and returns the acknowledged frame sequence.
  result<uint64_t> open_ack(std::string_view bytes) const;

  const std::string& session() const { return session_; }
  const verified_node& peer() const { return peer_; }
  bool peer_is_parent() const { return peer_is_parent_; }

private:
  std::string session_;
  verified_node peer_;
  bool peer_is_parent_ = false;
  crypto::secure_bytes tx_key_;
  crypto::secure_bytes rx_key_;
  uint64_t tx_seq_ = 0;
  uint64_t rx_seq_ = 0;
};

/// The child's state between sending LinkHello and receiving LinkChallenge.
struct child_handshake {
  std::string hello;            ///< serialised LinkHello as sent
  std::string expected_parent;  ///< FQDN the child expects to talk to
  std::string expected_parent_fingerprint;
  std::string nonce;
  crypto::private_key ephemeral;
};

/// The parent's state between sending LinkChallenge and receiving LinkProof.
struct parent_handshake {
  std::string session;          ///< names the handshake; single use
  std::string hello;
  std::string challenge;
  verified_node child;
  crypto::secure_bytes c2p;
  crypto::secure_bytes p2c;
  std::chrono::steady_clock::time_point expires;
};

/// Child: makes a LinkHello to the parent that issued this node's certificate.
result<child_handshake> make_hello(const trust_view& trust);

/// Child: checks the parent's challenge; returns the established session and the LinkProof to send.
result<std::pair<link_session, std::string>>
on_challenge(trust_view& trust, const node_signer& signer, const child_handshake& state,
             std::string_view challenge, std::chrono::system_clock::time_point now);

/// Parent: checks a LinkHello from a child and answers with a signed challenge.
result<std::pair<parent_handshake, std::string>>
on_hello(trust_view& trust, const node_signer& signer, std::string_view hello,
         std::chrono::system_clock::time_point now);

/// Parent: checks the child's proof; returns the established session.
result<link_session> on_proof(const parent_handshake& state, std::string_view proof);

/// The sender a LinkHello claims to be, unverified and for logs only ("" if it does not parse).
std::string hello_claimed_sender(std::string_view hello);

/// The session id named in a LinkProof (to look up the pending handshake).
result<std::string> proof_session(std::string_view proof);

} // namespace joconde
