#pragma once

// The attested links of a CT VM to its counterpart VMs (DESIGN.md §4 session_manager): the control
// stream each pair of VMs keeps for the whole task, and the key their MPC channel uses. A link is a
// live socket and a secret, not data, so it never travels in a message: the session manager's thread
// that made it leaves it in the peer_link_exchange and tells the orchestrator the counterpart's CP
// index (peer_up_atom); the orchestrator takes it from there. Both keep a reference: the thread
// reads the stream, the orchestrator sends on it and shuts it down at the end.

#include "joconde/enclave/handshake.hpp"
#include "joconde/enclave/session.hpp"
#include "joconde/messages/result.hpp"

#include <joconde/vm.pb.h>

#include <map>
#include <memory>
#include <mutex>

namespace joconde::vm::detail {

/// One attested link to a counterpart VM: the control stream and the key the MPC channel uses.
struct peer_link {
  unsigned cp = 0;
  enclave::secure_stream stream;
  enclave::channel_key mpc_key{};
  std::mutex send_mutex;

  peer_link(unsigned c, enclave::secure_stream s, const enclave::channel_key& k);
  ~peer_link();

  /// Sends `m` on the control stream (from any thread).
  result<void> send(const v1::PeerMessage& m);
};

using peer_link_ptr = std::shared_ptr<peer_link>;

/// Where the session manager's threads leave attested links for the orchestrator (thread-safe).
class peer_link_exchange {
public:
  /// Leaves `link` for the orchestrator.
  void put(peer_link_ptr link);

  /// The link to counterpart `cp` left here, taken out; null when there is none.
  peer_link_ptr take(unsigned cp);

private:
  std::mutex mutex_;
  std::map<unsigned, peer_link_ptr> links_;
};

} // namespace joconde::vm::detail
