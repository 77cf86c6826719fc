#pragma once

// One Data Slot of a CT VM (spec §4.3.2.5 "Protected Data Store"; DESIGN.md §4 data_slot) as a plain
// class: the lifecycle of one input or output table at this CP. The task orchestrator checks that the
// custodian's PAK may write the slot and the analyst's PAK may read it (task_policy) before it hands
// an event to this class; this class enforces order, and a refused event changes nothing.
//
//   input:   empty ──begin_upload──> in_use ──complete──> ready ──begin_upload (latest wins)──> in_use
//              ^                        │                   │
//              └──fail, peer_failed, close_input────────────┘ (peer_failed also empties a ready slot,
//                                                              and so does reject: its check failed)
//
//   output:  empty ──store──> ready ──release(peer p)──> ready, released to p ─ ─ ─> released
//                              │        once for each peer named on the output;     (the last named
//                              │        the last one erases the content             peer has it)
//                              └──discard (the task ended, e.g. the output deadline)──> empty (erased)
//
// An output is named for one or more Peers (OutputSpec.peers): each of them retrieves it once, through
// one of its Data Analysts (spec §4.4.1.1 "Output Phase": the VM waits until every Peer retrieved its
// output, and for one analyst per Peer). The sealed content stays until the last named peer retrieved
// it; then it is erased (SYS-6.6).
//
// Content that is replaced, failed, released to every named peer or discarded is listed for erasure
// (SYS-6.5, SYS-6.6); the owner erases it from sealed storage and takes the list with take_erasures().

#include "joconde/messages/result.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace joconde {

/// Whether a slot receives an input table from a custodian or holds an output table for an analyst.
enum class slot_kind { input, output };

/// The kind's name ("input" or "output").
std::string_view to_string(slot_kind k);

/// The lifecycle of a slot (spec §4.3.2.5): empty, in_use (an upload in progress), ready (content
/// complete at this CP; an output stays ready until every peer named on it retrieved it), released (an
/// output every named peer retrieved; its content is erased).
enum class slot_state { empty, in_use, ready, released };

/// The state's name ("empty" ... "released"), as shown in telemetry.
std::string_view to_string(slot_state s);

/// The state with this name, or nullopt.
std::optional<slot_state> slot_state_from_string(std::string_view name);

/// One retrieval of an output: which analyst of the peer got this CP's shares, and when.
struct slot_release {
  std::string who;   ///< SHA-256 fingerprint of the analyst's PAK
  std::string name;  ///< the analyst's display name in the peer's CTSA
  int64_t at_ms = 0;

  bool operator==(const slot_release&) const = default;
};

/// One input or output slot of a CT at this CP.
class data_slot {
public:
  /// An empty slot for the input or output table `name` of the CTSC; an output is released to each
  /// of `peers` (OutputSpec.peers, FQDNs) once, and to nobody else. Inputs have no peers.
  data_slot(std::string name, slot_kind kind, std::set<std::string> peers = {});

  /// A custodian (fingerprint of their PAK) starts upload `upload_id` into this input slot. The
  /// latest upload wins until input closes (spec §4.4.1.1 "Input Phase"): a ready slot's content is
  /// listed for erasure and replaced. Refused, without change: an output slot, input closed, an upload
  /// in progress (invalid_state); an empty upload id or fingerprint (malformed_input).
  result<void> begin_upload(std::string upload_id, std::string who, int64_t now_ms);

  /// Upload `upload_id` is complete at this CP with `rows` rows whose shares hash to `sha256` (hex).
  /// Refused, without change: no upload in progress, input closed (invalid_state); another upload id
  /// (not_found); a hash that is not 64 hex digits (malformed_input).
  result<void> complete(const std::string& upload_id, uint64_t rows, std::string sha256);

  /// Upload `upload_id` failed at this CP: the slot is empty again and the partial content is listed
  /// for erasure (spec §4.3.2.5). Refused, without change: no upload in progress (invalid_state),
  /// another upload id (not_found).
  result<void> fail(const std::string& upload_id);

  /// Another CP reported that upload `upload_id` failed there: the slot is ready only when it is
  /// ready at every CP (spec §4.3.2.5), so it is empty again, even if it was ready here. Refused,
  /// without change: an empty or released slot (invalid_state), another upload id (not_found).
  result<void> peer_failed(const std::string& upload_id);

  /// The data-quality check of upload `upload_id`, ready here, failed (spec §4.4.1.1 "Input
  /// Phase", SYS-8.9): the slot is empty again, so that the custodian can upload corrected data, and
  /// the content is listed for erasure. Refused, without change: a slot that is not ready
  /// (invalid_state), another upload id (not_found).
  result<void> reject(const std::string& upload_id);

  /// The Input phase ended: uploads are refused from now on; a slot that is not ready stays empty
  /// (its partial content listed for erasure). Refused, without change: an output slot, closed
  /// already (invalid_state).
  result<void> close_input();

  /// The engine wrote output content `content_id` with `rows` rows whose shares hash to `sha256`
  /// into this output slot. Refused, without change: an input slot, a slot that is not empty
  /// (invalid_state); an empty content id or a hash that is not 64 hex digits (malformed_input).
  result<void> store(std::string content_id, uint64_t rows, std::string sha256);

  /// Whether `peer` may still retrieve this output, whatever the slot holds: refused when the output
  /// is not named for that peer (forbidden), when the peer retrieved it already (already_exists,
  /// naming the analyst), for an input slot (invalid_state) or an empty peer (malformed_input).
  result<void> check_peer(const std::string& peer) const;

  /// This CP's shares of the output were released to an analyst (fingerprint `who` of their PAK,
  /// display name `analyst`) of `peer`: once per peer named on the output (spec §4.4.1.1 "Output
  /// Phase"). When every named peer has it, the slot is released and its content listed for erasure
  /// (SYS-6.6). Refused, without change: what check_peer refuses, an empty fingerprint
  /// (malformed_input), a slot that is not ready (invalid_state).
  result<void> release(const std::string& peer, std::string who, std::string analyst, int64_t now_ms);

  /// The task ended (finished, cancelled, or the output deadline passed with some peer still to
  /// retrieve an output): whatever the slot holds is listed for erasure (SYS-6.5, SYS-6.6), an in_use
  /// or ready slot is empty again and an input slot is closed. The retrievals stay on record.
  void discard();

  /// The content ids (upload ids, output content ids) to erase from sealed storage, and forgets them.
  std::vector<std::string> take_erasures();

  /// True if some content is listed for erasure.
  bool needs_erase() const { return !erasures_.empty(); }

  /// True if the slot holds complete content (an input uploaded, an output some named peer has still
  /// to retrieve).
  bool ready() const { return state_ == slot_state::ready; }

  /// The input or output table of the CTSC this slot holds.
  const std::string& name() const { return name_; }
  /// Input or output.
  slot_kind kind() const { return kind_; }
  /// The current lifecycle state.
  slot_state state() const { return state_; }
  /// True once the Input phase ended for this slot (close_input or discard).
  bool input_closed() const { return closed_; }
  /// The current upload or output content; empty when the slot is empty.
  const std::string& content_id() const { return content_id_; }
  /// The fingerprint of the custodian's PAK that wrote the current upload.
  const std::string& writer() const { return writer_; }
  /// When the current upload started.
  int64_t started_ms() const { return started_ms_; }
  /// The row count of the current complete content; 0 otherwise.
  uint64_t rows() const { return rows_; }
  /// The SHA-256 (hex) of the current complete content's shares; empty otherwise.
  const std::string& sha256() const { return sha256_; }
  /// The peers an output is released to (OutputSpec.peers); empty for an input.
  const std::set<std::string>& peers() const { return peers_; }
  /// The peers that retrieved the output so far, with the analyst and time of each retrieval.
  const std::map<std::string, slot_release>& releases() const { return releases_; }
  /// The peers named on the output that have not retrieved it yet, in name order.
  std::vector<std::string> waiting_for() const;
  /// The content listed for erasure and not yet taken.
  const std::vector<std::string>& erasures() const { return erasures_; }

private:
  result<void> require_input(std::string_view what) const;
  result<void> require_upload(const std::string& upload_id, std::string_view what) const;
  void empty_out();

  std::string name_;
  slot_kind kind_;
  slot_state state_ = slot_state::empty;
  bool closed_ = false;
  std::string content_id_;
  std::string writer_;
  int64_t started_ms_ = 0;
  uint64_t rows_ = 0;
  std::string sha256_;
  std::set<std::string> peers_;
  std::map<std::string, slot_release> releases_;  // peer -> its retrieval
  std::vector<std::string> erasures_;
};

} // namespace joconde
