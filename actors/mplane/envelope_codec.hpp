#pragma once

// Making and admitting signed envelopes (DESIGN.md §5). Every node that sees an envelope runs the
// same admission checks: size and shape, the origin's chain against the root, the origin's signature,
// freshness, and that the origin lies where the neighbour it came from may speak for.

#include "node_signer.hpp"
#include "trust_view.hpp"

#include <chrono>
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

/// Builds and signs an envelope originating at this node.
result<admitted_envelope> make_envelope(const trust_view& trust, const node_signer& signer,
                                        std::string topic, std::vector<std::string> recipients,
                                        std::string ct_id, std::string payload,
                                        std::chrono::system_clock::time_point now,
                                        const envelope_limits& limits = {});

/// Runs every admission check on a SignedEnvelope handed over by `from` (FQDN) of kind `kind`.
result<admitted_envelope> admit_envelope(trust_view& trust, std::string_view bytes,
                                         std::string_view from, neighbour_kind kind,
                                         std::chrono::system_clock::time_point now,
                                         const envelope_limits& limits = {});

/// The envelope id as lowercase hex.
std::string id_hex(std::string_view raw_id);

} // namespace joconde
