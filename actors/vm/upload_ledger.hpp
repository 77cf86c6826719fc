#pragma once

// The upload ledger of a CT VM (spec §4.3.2.5: "ready only when it is ready at every CP"; DESIGN.md
// §4 data_slot) as a plain class beside task_state_machine: which uploads of an input are under way,
// at which Computing Parties each is sealed, and until when every CP must have sealed it. A client
// uploads its shares to each CP's VM under one request id; each VM seals its shares and tells the
// others (PeerMessage KIND_SLOT_RECEIVED). The upload completes at a CP when it is sealed there and
// every other CP said so; it fails everywhere when one CP fails it (KIND_SLOT_FAILED) or when it is
// not sealed at every CP by its deadline. A failed request id is never accepted again.
//
// The task orchestrator checks the slot (data_slot) and tells counterparts; this class only keeps
// the ledger. A refused event changes nothing.

#include "joconde/messages/vm_data.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace joconde {

/// An upload that is not sealed at every CP yet.
struct pending_upload {
  std::string slot;                          ///< the input it writes
  std::set<unsigned> sealed_at;              ///< CPs that sealed it (this one once it did)
  std::optional<vm::sealed_content> local;   ///< this CP's sealed shares, once sealed here
  std::int64_t deadline_ms = 0;              ///< it fails at every CP unless sealed at all by then
};

/// How long the shares of an upload of at most `max_rows` rows of `columns` columns may take to
/// arrive and be sealed at a CP, beyond the confirmation time: a second per 8 MB of shares (16
/// bytes a value). 10^7 rows of 3 columns: 57 s.
constexpr std::int64_t transfer_ms(std::uint64_t max_rows, std::uint64_t columns) noexcept {
  const auto rows = max_rows < (std::uint64_t{1} << 32) ? max_rows : std::uint64_t{1} << 32;
  return static_cast<std::int64_t>(rows * columns * 16 / (8 << 20) * 1000);
}

/// The uploads under way at one CP, and the request ids that failed.
class upload_ledger {
public:
  /// At most this many failed request ids are remembered (a bound on what strangers can make a VM
  /// keep); later ones are only refused while pending.
  static constexpr std::size_t max_failed = 100'000;

  /// The ledger of CP `own_cp` of `parties`; an upload must be sealed at every CP within
  /// `confirm_ms` of its first announcement here (vm_options::upload_confirm_timeout).
  upload_ledger(unsigned parties, unsigned own_cp, std::int64_t confirm_ms);

  /// True if upload `id` failed at some CP: it is not accepted again here.
  bool failed(const std::string& id) const { return failed_.count(id) > 0; }

  /// This CP began upload `id` into input `slot`: pending until `now_ms` + `transfer_ms` (the time
  /// its shares may take to arrive and be sealed) + the confirmation time, unless a counterpart
  /// announced it first (then its deadline stays).
  void begin(const std::string& id, const std::string& slot, std::int64_t now_ms, std::int64_t transfer_ms = 0);

  /// Counterpart `cp` sealed upload `id` of input `slot` (KIND_SLOT_RECEIVED); pending from now if
  /// this is the first this CP hears of it. Refused (false, no change) when `id` is pending for
  /// another slot.
  bool sealed_at(unsigned cp, const std::string& id, const std::string& slot, std::int64_t now_ms);

  /// This CP sealed upload `id` as `content`. Refused (false, no change) when it is not pending: it
  /// failed at another CP or timed out while its shares were arriving here.
  bool sealed_here(const std::string& id, vm::sealed_content content);

  /// Upload `id` once it is sealed here and at every CP, or null.
  const pending_upload* complete(const std::string& id) const;

  /// Forgets upload `id` (it completed).
  void forget(const std::string& id) { pending_.erase(id); }

  /// Upload `id` failed (here, at a counterpart or by its deadline): its request id is remembered
  /// as failed and what was pending of it is taken out (nullopt if it was not pending).
  std::optional<pending_upload> fail(const std::string& id);

  /// The pending uploads at or past their deadline at `now_ms`, in request id order.
  std::vector<std::string> overdue(std::int64_t now_ms) const;

  /// True while no upload is pending.
  bool idle() const { return pending_.empty(); }

  /// Every pending upload, taken out (the task ended).
  std::map<std::string, pending_upload> take_all() { return std::exchange(pending_, {}); }

  /// The pending uploads by request id.
  const std::map<std::string, pending_upload>& pending() const { return pending_; }

private:
  /// Upload `id` of `slot`, pending from `now_ms` if it was not; null if it is pending for another slot.
  pending_upload* track(const std::string& id, const std::string& slot, std::int64_t now_ms, std::int64_t transfer_ms);

  unsigned parties_;
  unsigned own_;
  std::int64_t confirm_ms_;
  std::map<std::string, pending_upload> pending_;
  std::set<std::string> failed_;
};

} // namespace joconde
