#pragma once

// The release coordinator of a CT VM (spec §4.4.1.1 "Output Phase": each Peer retrieves an output
// once, through one of its Data Analysts) as a plain class beside task_state_machine: which download
// of an output for one Peer gets the shares. It must be the same download at every Computing Party,
// so that two downloads racing for it (two analysts of the Peer, or a retry) cannot each get the
// shares of only some CPs. CP 0 decides: the first download for that output and Peer it hears of,
// from its own client or proposed by another CP (PeerMessage KIND_RESERVE), and tells the others;
// every CP releases its shares for that Peer only to the decided download, once its session waits
// there. Downloads for different Peers do not wait for each other. A session that the CPs do not all
// back by its deadline is refused.
//
// The task orchestrator sends the PeerMessages, releases the shares (data_slot, task_state_machine)
// and answers the sessions, which it knows by a ticket; this class decides who is answered how.

#include "joconde/messages/result.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace joconde {

/// An output and a Peer it is named for: each such pair is retrieved once.
using output_peer = std::pair<std::string, std::string>;

/// A download session waiting at this CP for the release of an output.
struct release_waiter {
  std::uint64_t ticket = 0;     ///< how the owner knows the session
  std::string who;              ///< fingerprint of the analyst's PAK
  std::string name;             ///< the analyst's name in their Peer's CTSA
  std::int64_t deadline_ms = 0; ///< refused unless released by then
};

/// A waiting session to refuse, and why.
struct release_refusal {
  std::uint64_t ticket = 0;
  error why;
};

/// Which download of each output and Peer gets this CP's shares.
class release_coordinator {
public:
  /// Whom this CP tells about a download it backs (KIND_RESERVE).
  enum class notice {
    none,       ///< nobody: a download is decided for that output and Peer already
    to_leader,  ///< CP 0, as a proposal (this is not CP 0)
    to_all,     ///< every counterpart: CP 0 decided it just now
  };

  /// What back() asks of the owner.
  struct backing {
    notice send = notice::none;
    std::vector<release_refusal> refused;  ///< sessions of other downloads, refused by the decision
  };

  /// The coordinator at CP `own_cp` (CP 0 decides).
  explicit release_coordinator(unsigned own_cp);

  /// True at CP 0, which decides.
  bool decides() const { return own_ == 0; }

  /// A session of download `request_id` of `op` waits here. Refused, without change
  /// (already_exists), when another download was decided for `op`.
  result<void> wait(const output_peer& op, const std::string& request_id, release_waiter w);

  /// This CP backs download `request_id` of `op` (its own client asked for it, or, at CP 0, another
  /// CP proposed it): at CP 0 it is decided if nothing was; elsewhere it is proposed to CP 0 until
  /// something is decided.
  backing back(const output_peer& op, const std::string& request_id);

  /// Download `request_id` gets the shares of `op` (CP 0 decided it); nothing changes when a
  /// download was decided already. Sessions of every other download of `op` are refused.
  std::vector<release_refusal> decide(const output_peer& op, const std::string& request_id);

  /// The sessions of the decided download of `op` that wait here, taken out (the first is served):
  /// none until a download is decided and one of its sessions waits here.
  std::vector<release_waiter> take_decided(const output_peer& op);

  /// The sessions whose deadline is at or before `now_ms`, taken out and refused (timeout).
  std::vector<release_refusal> expire(std::int64_t now_ms);

  /// Every waiting session, taken out (the task ended).
  std::vector<release_waiter> take_all();

  /// The download decided for `op`; empty while none is.
  std::string decided(const output_peer& op) const;

private:
  /// One output and Peer: the decided request id, if any, and the sessions waiting here by request.
  struct claim {
    std::string chosen;
    std::map<std::string, std::vector<release_waiter>> waiting;
  };

  unsigned own_;
  std::map<output_peer, claim> claims_;
};

} // namespace joconde
