#pragma once

// How this node trusts the other members a CTSC names (SYS-2.1, ADR-5): the root fills in every
// member's certificate chain, but the root is the System Operator's, and the SO could certify any
// name. So a peer commits to a CTA (submits its CTSA) only when every other peer and Computing Party
// has a leaf certificate whose fingerprint was confirmed out of band at this node, or is the
// rotation successor of one that was (confirmations.hpp), or when an IT administrator of this node
// recorded an override for that member of that CTA, with a reason (audited). Plain code.

#include "../mplane/confirmations.hpp"

#include "joconde/agreement.pb.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace joconde {

/// Where a member stands in this node's trusted view.
enum class member_trust_state {
  confirmed,   ///< its fingerprint (or one it rotated from) was compared out of band here
  unconfirmed, ///< nobody here compared it: the SO's word is all there is
  overridden,  ///< unconfirmed, but an IT administrator accepted the risk for this CTA
};

/// "confirmed", "unconfirmed" or "override", as the CTA view shows it.
std::string_view to_string(member_trust_state x);

/// One other member of a CTA as this node trusts it.
struct member_trust {
  std::string fqdn;
  bool computing = false;                  ///< a Computing Party (else a peer)
  std::string fingerprint;                 ///< of its leaf certificate in the CTSC
  member_trust_state state = member_trust_state::unconfirmed;
  std::optional<confirmation> confirmed;   ///< how, when confirmed
  std::optional<v1::TrustOverride> override_record; ///< the override, when overridden
};

/// Every member of CTA `uuid` (its CTSC `ctsc`) other than `self`, peers first, in CTSC order.
result<std::vector<member_trust>> assess_members(const node_store& store, const std::string& uuid,
                                                 const v1::Ctsc& ctsc, const std::string& self);

/// ok if no member is unconfirmed; else unconfirmed_member naming each one with its fingerprint and
/// saying how to confirm it or override.
result<void> require_trusted(const std::vector<member_trust>& members, const std::string& uuid);

/// Records an IT administrator's override for `member` (an FQDN) of the CTA `record`, at node
/// `self`: refused (and nothing stored) for a blank or over-long reason (malformed_input), a CTA that
/// is no longer emerging (invalid_state), a name the CTSC does not contain (not_found), this node
/// itself or a member confirmed anyway (invalid_state), a member overridden already
/// (already_exists).
result<v1::TrustOverride> record_override(const node_store& store, const v1::CtaRecord& record,
                                          const std::string& self, const std::string& member,
                                          const std::string& reason, const std::string& user,
                                          int64_t now_ms);

} // namespace joconde
