#pragma once

// Key rotation (spec §4.3.4, DESIGN.md §6.1): a node makes a new key and asks its parent for a
// certificate, vouching for the new key with the old one; the parent checks the request against the
// child it enrolled and issues the new certificate with the same profile as at enrolment. The parent
// then tells the whole tree with a rotation notice, so that every node that confirmed the old
// fingerprint out of band can trust the new one without trusting the System Operator (SYS-2.1,
// ADR-5). Plain code.

#include "node_signer.hpp"
#include "trust_view.hpp"

#include "joconde/node.pb.h"

#include <chrono>
#include <string>

namespace joconde {

/// Topic of a node's request for a new certificate (to its parent).
constexpr const char* rotation_request_topic = "pki.rotation.request";

/// Topic of the parent's answer carrying the new chain (to the child).
constexpr const char* rotation_issued_topic = "pki.rotation.issued";

/// Topic of the notice that spreads a completed rotation through the tree (like a revocation).
constexpr const char* rotation_notice_topic = "pki.rotation.notice";

/// What a verified rotation notice proves: the key of the certificate `old_fingerprint` vouched for
/// the key of the certificate `new_fingerprint`, both of node `fqdn`.
struct rotation_continuity {
  std::string fqdn;
  std::string old_fingerprint;
  std::string new_fingerprint;
};

/// How long a node certificate lasts unless the root says otherwise (tree_policy.hpp): 24 months,
/// of which 6 active and 18 passive (spec §4.4.2.3).
constexpr std::chrono::seconds default_certificate_lifetime{730LL * 24 * 3600};

/// The profile of a certificate for child `fqdn` of a node whose certificate is `parent`, valid for
/// `validity`.
crypto::issue_profile child_issue_profile(const crypto::certificate& parent, const std::string& fqdn,
                                          std::chrono::seconds validity = default_certificate_lifetime);

/// Makes the request: a CSR for `new_key`, signed with the current key through `old_signer`.
result<std::string> make_rotation_request(const trust_view& trust, const crypto::private_key& new_key,
                                          const node_signer& old_signer,
                                          std::chrono::system_clock::time_point now);

/// At the parent: checks a request from `origin` against the child's enrolment record and, if it
/// holds, issues the new chain (its leaf valid for `validity`). Returns the answer (a Rotation with
/// new_chain) and the new record.
result<std::pair<std::string, v1::NodeIdentity>>
answer_rotation_request(trust_view& trust, const node_signer& signer, const std::string& origin,
                        const v1::NodeIdentity& enrolled, std::string_view request,
                        std::chrono::system_clock::time_point now,
                        std::chrono::seconds validity = default_certificate_lifetime);

/// At the child: checks the parent's answer against the root and the pending new key.
result<std::vector<crypto::certificate>>
accept_rotation_answer(trust_view& trust, const crypto::private_key& new_key, std::string_view answer,
                       std::chrono::system_clock::time_point now);

/// At the parent, once it issued the new certificate: the notice for the tree. `request` is the
/// child's request as received, `old_chain` the chain enrolled before, `new_chain` the issued one.
std::string make_rotation_notice(std::string_view request, const v1::CertificateChain& old_chain,
                                 const v1::CertificateChain& new_chain,
                                 std::chrono::system_clock::time_point now);

/// Checks a notice: the request's old-key signature over its certificate request verifies with the
/// key of the old leaf, whose fingerprint the request names; the old leaf is not revoked; the new
/// chain leads to the root (at `now`, or at the new leaf's start if that is later: the issuer's
/// clock may run ahead) and holds no revoked certificate; the new leaf certifies the key of the
/// request, for the same node (FQDN) as the old leaf. Whether the old fingerprint is confirmed
/// here, and whether the notice was applied before, is for the caller (confirmations.hpp).
result<rotation_continuity> verify_rotation_notice(trust_view& trust, std::string_view notice,
                                                   std::chrono::system_clock::time_point now);

/// The most rotations one proof of succession may span.
constexpr size_t max_rotation_path = 8;

/// Follows rotation notices from certificate `from` of node `fqdn` (what a CTSC names), oldest
/// first, each checked as verify_rotation_notice checks it and each starting where the one before
/// ended; returns the certificate the last one leads to (`from` itself when there are none).
/// Refused (nothing else happens): a notice that does not verify, one for another node, a gap, more
/// than max_rotation_path notices.
result<crypto::certificate> follow_rotations(trust_view& trust, const crypto::certificate& from,
                                             const std::string& fqdn,
                                             const std::vector<std::string>& notices,
                                             std::chrono::system_clock::time_point now);

} // namespace joconde
