#pragma once

// The lifecycle of one Computation Task Agreement (spec §4.4.1.1, Figure 21; DESIGN.md §4
// artefact_manager) as a plain class: which event is accepted in which state, and what it changes.
// The artefact manager verifies signatures, hashes and the sender's right to send before it hands an
// event to this class; this class enforces order: nothing is accepted twice, nothing out of turn, no
// older version after a newer one, and a refused event changes nothing.
//
//   emerging ──(every peer's CTSA approved)──> instantiated ──> finished ──(retention)──> erased
//       │                                            │
//       └──────────────(cancel, revoked node)────────┴──> cancelled ──(retention)──> erased
//
// While emerging, each peer named in the CTSC has an addendum (CTSA): missing → submitted (signed by
// the peer's node) → signed (by every signatory it names) → approved or rejected by the System
// Operator. A submitted, signed or rejected addendum may be replaced by a newer version (the
// signatures and the decision start again); an approved one is final.

#include "joconde/artefacts.pb.h"
#include "joconde/messages/result.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace joconde {

// The CTA's status is v1::CtaStatus (artefacts.proto): EMERGING, INSTANTIATED, FINISHED, CANCELLED,
// ERASED. These names are how the API, the CLI, the logs and the audit show it.

/// "emerging", "instantiated", "finished", "cancelled" or "erased"; "unknown" for another value.
std::string_view to_string(v1::CtaStatus s);

/// The status with this name (emerging ... erased), or nullopt.
std::optional<v1::CtaStatus> cta_status_from_string(std::string_view name);

enum class addendum_status { missing, submitted, signed_, approved, rejected };

std::string_view to_string(addendum_status s);

/// The addendum status with this name (missing ... rejected), or nullopt.
std::optional<addendum_status> addendum_status_from_string(std::string_view name);

/// One peer's addendum as the state machine tracks it.
struct addendum_state {
  addendum_status status = addendum_status::missing;
  uint64_t version = 0;            ///< of the current CTSA (0: none yet)
  std::string ctsa_hash;           ///< SHA-256 (hex) of the current CTSA
  size_t signatories = 0;          ///< how many signatories the current CTSA names
  std::set<size_t> signed_by;      ///< indices of the signatories who signed it
  std::string reason;              ///< of the last rejection
};

/// The state of one CTA.
class cta_state {
public:
  /// A CTA whose CTSC (hash `ctsc_hash`, hex) names these peers (FQDNs) and computing parties;
  /// `uuid` was assigned by the root.
  cta_state(std::string uuid, std::string ctsc_hash, std::vector<std::string> peers,
            std::vector<std::string> computing_parties, int64_t now_ms);

  /// A peer's node submitted (and signed) its CTSA `version` with this hash and signatory count.
  result<void> submit_addendum(const std::string& peer, uint64_t version, std::string ctsa_hash,
                               std::string ctsc_hash, size_t signatories, int64_t now_ms);

  /// Signatory `index` of `peer`'s current CTSA (identified by its hash) signed it.
  result<void> add_signatory_signature(const std::string& peer, const std::string& ctsa_hash,
                                       size_t index, int64_t now_ms);

  /// The System Operator's decision on `peer`'s CTSA with this hash. Approving the last one makes
  /// the CTA final (instantiated).
  result<void> decide(const std::string& peer, const std::string& ctsa_hash, bool approve,
                      std::string reason, int64_t now_ms);

  /// Cancelled by a peer's Task Organiser or the System Operator (the caller checked who).
  result<void> cancel(std::string reason, int64_t now_ms);

  /// A node's certificate was revoked: cancels the CTA if it names that node (true if it did).
  bool node_revoked(const std::string& fqdn, int64_t now_ms);

  /// Every CT VM reported the end of the task.
  result<void> finish(int64_t now_ms);

  /// The data retention period is over: only the fact that the CTA existed remains.
  result<void> erase(int64_t now_ms);

  /// Loading from storage: the status and counters as they were stored.
  void restore(v1::CtaStatus status, uint64_t updates, int64_t last_changed_ms, std::string reason);

  /// Loading from storage: one peer's addendum as it was stored (ignored for a non-peer).
  void restore_addendum(const std::string& peer, addendum_state state);

  const std::string& uuid() const { return uuid_; }
  const std::string& ctsc_hash() const { return ctsc_hash_; }
  v1::CtaStatus status() const { return status_; }
  const std::map<std::string, addendum_state>& addenda() const { return addenda_; }
  const std::vector<std::string>& computing_parties() const { return cps_; }
  uint64_t updates() const { return updates_; }
  int64_t last_changed_ms() const { return last_changed_ms_; }
  const std::string& reason() const { return reason_; }

  /// True if `fqdn` is a peer or a computing party of this CTA.
  bool names(const std::string& fqdn) const;

private:
  result<addendum_state*> addendum_of(const std::string& peer);
  result<void> require(v1::CtaStatus s, std::string_view what) const;
  /// The peer's submitted, undecided addendum whose CTSA hash is `ctsa_hash`, for `action` (while
  /// emerging); `what` names the thing that came for it in the error ("signature", "decision").
  result<addendum_state*> undecided_addendum(const std::string& peer, const std::string& ctsa_hash,
                                             std::string_view action, std::string_view what);
  void changed(int64_t now_ms);

  std::string uuid_;
  std::string ctsc_hash_;
  std::vector<std::string> cps_;
  v1::CtaStatus status_ = v1::CTA_STATUS_EMERGING;
  std::map<std::string, addendum_state> addenda_;
  uint64_t updates_ = 0;
  int64_t last_changed_ms_ = 0;
  std::string reason_;
};

} // namespace joconde
