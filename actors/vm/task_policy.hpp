#pragma once

// The Task Policy Engine of a CT VM (spec §4.3.2.4; DESIGN.md §4 task_policy) as a plain class: the
// CTA, loaded once and never changed, answers "may this PAK write input s / read output s, and for
// which Peer?". A request is a SlotAuthorization (vm.proto) signed by the person's PAK; the policy
// checks the signature, that the CTA names the PAK as a Data Custodian of the Peer that provides the
// input (or a Data Analyst of a Peer the output is granted to) with that key, the CT id, the
// direction, the time window and that the request id was not used before at this VM. A CTSA cannot
// grant more than its own Peer may: an analyst it lists for an output the CTSC does not name for that
// Peer is refused here too (defence in depth; the artefact manager refuses such a CTSA,
// check_ctsa). A refused request changes nothing.

#include "joconde/messages/result.hpp"
#include "joconde/messages/vm_data.hpp"

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace joconde::v1 {
class Cta;
class SignedAuthorization;
} // namespace joconde::v1

namespace joconde::vm {

/// The prefix of the bytes a PAK signs: this label, then the serialized SlotAuthorization.
inline constexpr std::string_view authorization_label = "joconde/slot-authorization/v1";

/// How old an authorization may be, and how far in the future its issue time may lie.
inline constexpr std::int64_t authorization_max_age_ms = 10 * 60 * 1000;
inline constexpr std::int64_t authorization_max_skew_ms = 60 * 1000;

/// How the VMs name a person, in their logs, events and errors: by the PAK, never by the name the
/// CTSA gives (spec §4.4.3: the CT VM keeps no personal data; the person's node knows the name):
/// "PAK " and the first 16 hex digits of the SHA-256 of its DER form `pak` (as the node's PAK
/// records). A node that holds the CTSA shows the name next to it (actors/node/cta_json.cpp).
std::string pak_label(std::string_view pak);

/// The CTA's answers to who may use which slot.
class task_policy {
public:
  /// The policy of `cta` (the final CTA this VM serves).
  explicit task_policy(const v1::Cta& cta);
  ~task_policy();
  task_policy(task_policy&&) noexcept;
  task_policy& operator=(task_policy&&) noexcept;

  /// Checks `signed_auth` for an upload (`upload` true) or a download at `now_ms` and consumes its
  /// request id. Refused, without change (the request id stays unused): malformed_input (not a
  /// SlotAuthorization, bad PAK encoding, bad request id), bad_signature,
  /// forbidden (another CT, the wrong direction, a PAK the CTA does not allow for that slot, an
  /// output not granted to the Peer whose CTSA lists the analyst, a PAK two Peers list for the same
  /// output), not_found (no such slot), timeout (older than 10 minutes) / invalid_state (issued in the
  /// future), replayed (request id used before).
  result<authorized> check(const v1::SignedAuthorization& signed_auth, bool upload, std::int64_t now_ms);

  /// The input keys of the CT, in CTSC order.
  const std::vector<std::string>& inputs() const;
  /// The output keys of the CT, in CTSC order.
  const std::vector<std::string>& outputs() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace joconde::vm
