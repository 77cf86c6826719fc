#pragma once

// Making and admitting signed envelopes (DESIGN.md §5). Every node that sees an envelope runs the
// same admission checks: size and shape, the origin's chain against the root, the origin's signature,
// freshness, and that the origin lies where the neighbour it came from may speak for.

#include "node_signer.hpp"
#include "trust_view.hpp"

#include <array>
#include <chrono>
#include <deque>
#include <set>
#include <string>
#include <vector>

namespace joconde {

/// Limits on envelopes; a node refuses anything larger.
struct envelope_limits {
  size_t max_bytes = 4 * 1024 * 1024 + 64 * 1024; ///< a whole SignedEnvelope
  size_t max_payload = 4 * 1024 * 1024;
  size_t max_recipients = 64;
  size_t max_topic = 128;
  std::chrono::seconds max_age{24 * 3600};  ///< older envelopes are refused as stale
  std::chrono::seconds max_skew{300};       ///< created that far in the future is refused
};

/// An envelope that passed admission.
struct admitted_envelope {
  std::string id;                       ///< 16 raw bytes
  std::string topic;
  std::string origin;
  std::vector<std::string> recipients;
  std::string ct_id;
  int64_t created_at_us = 0;
  std::string payload;
  std::string bytes;                    ///< the SignedEnvelope as received, to forward unchanged
};

/// What the neighbour that handed over an envelope is to this node.
enum class neighbour_kind { self, parent, child };

/// The batch signatures (origin certificate, tree size and root) a node has checked already, so that
/// the other envelopes of a batch cost a few hashes instead of an ECDSA verification. Only checked
/// signatures go in; the oldest are forgotten beyond `capacity`. One actor uses it (no locking).
class batch_signature_cache {
public:
  explicit batch_signature_cache(size_t capacity = 4096) : capacity_(capacity) {
    // nop
  }

  /// True if `key` was checked.
  bool contains(const std::string& key) const {
    return keys_.count(key) > 0;
  }

  /// Remembers a checked `key`.
  void insert(std::string key);

  /// Checked signatures remembered now.
  size_t size() const noexcept {
    return keys_.size();
  }

private:
  size_t capacity_;
  std::set<std::string> keys_;
  std::deque<std::string> order_;
};

/// Builds and signs an envelope originating at this node.
result<admitted_envelope> make_envelope(const trust_view& trust, const node_signer& signer,
                                        std::string topic, std::vector<std::string> recipients,
                                        std::string ct_id, std::string payload,
                                        std::chrono::system_clock::time_point now,
                                        const envelope_limits& limits = {});

/// The most payload bytes, over all its envelopes, one publish may make.
constexpr size_t max_batch_payload = 64 * 1024 * 1024;

/// Builds `count` envelopes (1 to 10,000, at most max_batch_payload bytes of payload in all; each its
/// own id) with one signature: a single envelope is
/// signed over its body like make_envelope's, several over the root of a Merkle tree of their bodies,
/// each carrying its audit path (envelope.proto, BatchProof).
result<std::vector<admitted_envelope>>
make_envelopes(const trust_view& trust, const node_signer& signer, const std::string& topic,
               const std::vector<std::string>& recipients, const std::string& ct_id,
               const std::string& payload, uint32_t count, std::chrono::system_clock::time_point now,
               const envelope_limits& limits = {});

/// Runs every admission check on a SignedEnvelope handed over by `from` (FQDN) of kind `kind`. With
/// a `cache`, a batch signature checked before for the same origin certificate is not checked again.
result<admitted_envelope> admit_envelope(trust_view& trust, std::string_view bytes,
                                         std::string_view from, neighbour_kind kind,
                                         std::chrono::system_clock::time_point now,
                                         const envelope_limits& limits = {},
                                         batch_signature_cache* cache = nullptr);

/// The bytes an origin signs for a batch of `size` envelopes whose Merkle tree has root `root`.
std::string batch_signed_bytes(uint32_t size, const std::array<uint8_t, 32>& root);

/// The envelope id as lowercase hex.
std::string id_hex(std::string_view raw_id);

/// The topic and creation time of an envelope this node stored itself (an outbox entry), read
/// without copying its payload; nothing is checked (the envelope was admitted before it was stored).
struct envelope_header {
  std::string topic;
  int64_t created_at_us = 0;
};

/// The header of the SignedEnvelope `bytes`; an error if they do not parse.
result<envelope_header> peek_header(std::string_view bytes);

} // namespace joconde
