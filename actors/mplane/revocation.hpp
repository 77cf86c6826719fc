#pragma once

// Revocations (spec §4.3.4, DESIGN.md §6.1): signed with the key being revoked, or marked by the root
// node for a lost key. Plain code: making and checking them.

#include "node_signer.hpp"
#include "trust_view.hpp"

#include "joconde/node.pb.h"

#include <chrono>
#include <string>

namespace joconde {

/// Topic of envelopes that carry a Revocation through the tree.
constexpr const char* revocation_topic = "pki.revocation";

/// Makes a Revocation of `fingerprint` (of node `fqdn`), signed by `signer` whose chain is
/// `signer_chain` (leaf first). `root_mark` = true: the root marks a lost key.
result<std::string> make_revocation(const std::string& fqdn, const std::string& fingerprint,
                                    const std::string& reason, bool root_mark,
                                    const std::vector<std::string>& signer_chain,
                                    const node_signer& signer,
                                    std::chrono::system_clock::time_point now);

/// Checks a serialised Revocation: a self revocation must be signed by the revoked certificate's
/// key; a root mark by the root node (whose FQDN is the tree's domain).
result<v1::Revocation> verify_revocation(trust_view& trust, std::string_view bytes,
                                         std::chrono::system_clock::time_point now);

} // namespace joconde
