#pragma once

// The plain data the artefact manager answers its node's HTTP API with (messages/cplane.hpp
// artefact_manager_actor): what came of a person's step on a CTA, and the CTAs as this node holds
// them. Small structs with inspect() overloads; the HTTP edge (actors/node/cta_json.cpp) renders
// them as JSON, the artefact manager never does. No CAF here.

#include "joconde/messages/proto_bytes.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace joconde::v1 {
class CtaRecord;
} // namespace joconde::v1

namespace joconde {

/// What came of a step on a CTA: a draft registered, a CTSA or signature accepted by the root, a
/// decision, a cancellation. Fields a step does not produce stay empty.
struct cta_receipt {
  std::string uuid;            ///< the CTA
  std::string status;          ///< the CTA's status afterwards (a CTSA's own status for acceptances)
  std::string peer;            ///< the peer whose CTSA it was (acceptances, decisions)
  std::string ctsc_sha256;     ///< hex: the CTSC registered (a draft)
  std::string ctsa_sha256;     ///< hex: the CTSA accepted (a CTSA, a signature, a cancellation)
  std::uint64_t updates = 0;   ///< how often the root's record changed (acceptances)
  std::string decision;        ///< "approved" or "rejected" (decisions)
  std::string reason;          ///< why (cancellations)

  bool operator==(const cta_receipt&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cta_receipt& x) {
  return f(x.uuid, x.status, x.peer, x.ctsc_sha256, x.ctsa_sha256, x.updates, x.decision, x.reason);
}

/// Another member of a CTA as this node trusts it (SYS-2.1).
struct member_view {
  std::string fqdn;
  bool computing = false;         ///< a Computing Party (else a peer)
  std::string fingerprint;        ///< of its leaf certificate as the CTSC gives it
  std::string trust;              ///< "confirmed", "unconfirmed" or "override"
  bool confirmed = false;         ///< its fingerprint was confirmed here out of band
  std::int64_t confirmed_at_ms = 0;
  std::string rotated_from;       ///< the fingerprint confirmed before a key rotation, if any
  bool overridden = false;        ///< an IT administrator accepted it unconfirmed
  std::string override_by, override_reason;
  std::int64_t override_at_ms = 0;

  bool operator==(const member_view&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member_view& x) {
  return f(x.fqdn, x.computing, x.fingerprint, x.trust, x.confirmed, x.confirmed_at_ms, x.rotated_from,
           x.overridden, x.override_by, x.override_reason, x.override_at_ms);
}

/// The CTAs this node holds: every one (a list), or one with its other members' trust (a view).
struct cta_view {
  std::vector<proto_bytes<v1::CtaRecord>> records;  ///< as stored
  std::vector<member_view> members;                 ///< a view of one CTA only

  bool operator==(const cta_view& other) const {
    if (records.size() != other.records.size() || members != other.members)
      return false;
    for (size_t i = 0; i < records.size(); ++i)
      if (records[i].bytes != other.records[i].bytes)
        return false;
    return true;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cta_view& x) {
  return f(x.records, x.members);
}

} // namespace joconde
