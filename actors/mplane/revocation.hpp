#pragma once

// Revocations (spec §4.3.4, DESIGN.md §6.1): signed with the key being revoked, or marked by the root
// node for a lost key. Plain code: making and checking them.

#include "node_signer.hpp"
#include "node_store.hpp"
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

/// The SHA-256 (lowercase hex) of a public key's DER form: how revoked keys are recorded.
std::string key_sha256(const crypto::public_key& key);

/// The public keys a revocation takes out of the tree for good, as far as this node can tell: the
/// revoked certificate's key when the revocation is signed with it (KIND_SELF), or when the
/// certificate is that of a child enrolled here (its record in `children`, read with `txn`).
std::vector<std::string> revoked_key_hashes(const v1::Revocation& rev, const lmdb::txn_base& txn,
                                            const node_store& store);

/// forbidden if `key` is the key of a certificate revoked in this tree (spec §4.4.2.3: a revoked
/// key is not registered again): enrolment and rotation refuse it.
result<void> refuse_revoked_key(const lmdb::txn_base& txn, const node_store& store,
                                const crypto::public_key& key);

} // namespace joconde
