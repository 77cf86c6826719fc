#pragma once

// The plain data the Control Plane's actors answer their node's HTTP API with (the interfaces are in
// cplane.hpp): what came of a person's step on a CTA and the CTAs as this node holds them (the
// artefact manager), and what a Data Custodian uploads or a Data Analyst downloads (the io_service).
// Small structs with inspect() overloads (tests/unit/plane_messages_test.cpp checks that every field
// survives); the HTTP edge renders them as JSON (actors/node/cta_json.cpp, http_io.cpp), the actors
// never do. No CAF here.

#include "joconde/messages/proto_bytes.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace joconde::v1 {
class CtaRecord;
class SignedAuthorization;
} // namespace joconde::v1

namespace joconde {

// -- the artefact manager's answers --

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

  bool operator==(const cta_view&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cta_view& x) {
  return f(x.records, x.members);
}

// -- uploads and downloads --

/// A person's request to move one input into, or one output out of, a CT.
struct io_request {
  std::string uuid;   ///< the CT
  std::string key;    ///< the input key (upload) or output key (download)
  proto_bytes<v1::SignedAuthorization> authorization;  ///< signed with the person's PAK
  std::string user;   ///< the node user who asked (audited)
  std::string csv;    ///< upload: the table; download: empty

  bool operator==(const io_request&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, io_request& x) {
  return f(x.uuid, x.key, x.authorization.bytes, x.user, x.csv);
}

/// What an upload or a download did.
struct io_receipt {
  std::string uuid;      ///< the CT
  std::string key;       ///< the input or output key
  std::uint64_t rows = 0;
  std::string phase;     ///< upload: the CT's phase afterwards
  std::uint64_t suppressed = 0;  ///< download: rows the algorithm marked invalid
  std::string csv;       ///< download: the output table
  bool simulated = false;        ///< the CT VMs run on the simulated TEE platform
  std::vector<std::pair<std::string, double>> timings_ms;  ///< each step's duration, in order
  std::uint64_t confidential = 0;  ///< download: rows its rule withholds (CONF_STATUS C in csv)
  std::string quality;  ///< upload: "passed" when the input has a data-quality check (it passed)

  bool operator==(const io_receipt&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, io_receipt& x) {
  return f(x.uuid, x.key, x.rows, x.phase, x.suppressed, x.csv, x.simulated, x.timings_ms, x.confidential,
           x.quality);
}

} // namespace joconde
