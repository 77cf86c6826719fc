#pragma once

// The fingerprints this node trusts (ADR-5, SYS-2.1; DESIGN.md §7): each was compared out of band by
// an operator (`joconde-node trust confirm`), or is the successor of such a one whose key vouched for
// it in a rotation (rotation.hpp, rotation notices). The node store's `trusted` database holds them;
// this is how they are written, read and removed. Plain code.

#include "node_store.hpp"
#include "rotation.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace joconde {

/// Why this node trusts a fingerprint.
struct confirmation {
  int64_t at_ms = 0;        ///< when it was recorded
  std::string rotated_from; ///< empty: compared out of band; else the fingerprint that vouched for it
};

/// The record as the `trusted` database keeps it: "AT_MS" or "AT_MS rotated-from FINGERPRINT".
std::string encode_confirmation(const confirmation& c);

/// Reads a record of the `trusted` database (what encode_confirmation wrote).
confirmation decode_confirmation(std::string_view value);

/// A fingerprint as a person typed it (64 hex digits, colons and either case allowed) in the form
/// `crypto::fingerprint` prints: upper-case pairs separated by colons. malformed_input otherwise.
result<std::string> canonical_fingerprint(std::string_view text);

/// The confirmation of `fingerprint` at this node, if there is one.
result<std::optional<confirmation>> find_confirmation(const lmdb::txn_base& txn, const node_store& store,
                                                      std::string_view fingerprint);

/// Records that an operator compared `fingerprint` out of band (replacing a rotation record).
result<void> confirm_fingerprint(const node_store& store, const std::string& fingerprint, int64_t now_ms);

/// Withdraws the confirmation of `fingerprint` (an operator's mistake, a member no longer trusted);
/// not_found if this node has none. Successors confirmed through a rotation keep theirs.
result<confirmation> remove_confirmation(const node_store& store, const std::string& fingerprint);

/// What applying a verified rotation notice did at this node.
enum class notice_outcome {
  confirmed,          ///< the old fingerprint is confirmed here, so now the new one is too
  not_confirmed_here, ///< recorded as seen, but it confirms nothing: the old one is not confirmed here
  replayed,           ///< this notice (its new certificate) was applied before: nothing changed
};

/// The outcome's name for logs and status counters.
std::string_view to_string(notice_outcome x);

/// Applies a notice that verify_rotation_notice accepted, inside `txn` (the caller commits): records
/// it once (database `rotations`, keyed by the new fingerprint), and if the old fingerprint is
/// confirmed here and the new one is not yet, confirms the new one as rotated from the old. A notice
/// seen before changes nothing, so a notice replayed after an operator withdrew a confirmation does
/// not bring it back.
result<notice_outcome> apply_rotation_notice(lmdb::write_txn& txn, const node_store& store,
                                             const rotation_continuity& continuity,
                                             std::string_view notice, int64_t now_ms);

/// The rotation notices this node holds (database `rotations`) that lead from certificate `from` to
/// certificate `to` of the same node, oldest first: empty when they are the same; not_found when
/// a notice on the way has not reached this node (or the path is longer than max_rotation_path).
result<std::vector<std::string>> rotation_path(const lmdb::txn_base& txn, const node_store& store,
                                               const std::string& from, const std::string& to);

} // namespace joconde
