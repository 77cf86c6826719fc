#pragma once

// The greeting that opens each rss3 party-to-party connection (private to src/rss3). The lower
// index listens, the higher connects (dialler D, listener L, pair key k, fresh 16-byte nonces n_L
// and n_D):
//   D -> L  D's index, n_D
//   L -> D  n_L, HMAC(k, label 'L' L D n_L n_D)
//   D -> L  HMAC(k, label 'D' L D n_L n_D)      (only if L's proof is right; else: key mismatch)
//   L -> D  1                                    (D's proof is right: the connection is party D's)
// so a connection takes a party's place only once it has proven it holds that pair's key; the
// listener greets a few connections at once and never lets one that fails end the run.

#include "joconde/engines/rss3/party.hpp"
#include "joconde/engines/rss3/rss3.hpp"
#include "joconde/io/fd.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <string>

namespace joconde::engines::rss3::detail {

/// Random bytes each party contributes to a pair's session.
constexpr std::size_t session_nonce_bytes = 16;

/// A pair's session: the listener's nonce, then the dialler's.
using session_bytes = std::array<std::uint8_t, 2 * session_nonce_bytes>;

/// The dialler's greeting: its party index, then its nonce.
constexpr std::size_t hello_bytes = 1 + session_nonce_bytes;

/// A key proof: HMAC-SHA256 under the pair key.
constexpr std::size_t proof_bytes = 32;

/// One key proof.
using key_proof = std::array<std::uint8_t, proof_bytes>;

/// The clock of every greeting deadline.
using clock = std::chrono::steady_clock;

/// An error naming party `self`.
error failure(errc code, unsigned self, const std::string& what);

/// Sets a party connection up for the channel: TCP_NODELAY, 4 MiB buffers, non-blocking.
void tune(int fd);

/// What came of dialling a lower-numbered party.
enum class dial_outcome { connected, key_mismatch, timed_out, crypto_failure };

/// Connects to the lower-numbered party `j` and exchanges key proofs with it. A connection that is
/// refused, or closed before the listener accepts our proof (it is not up yet, or was busy with
/// other connections), is retried with backoff until `deadline`. A wrong proof from the listener is
/// not retried: only a party holding another key can send one (or an attacker on the path, who
/// could cut the connection anyway). On success the connection is in `out` and the pair's session
/// in `session`; `why` says what went wrong last.
dial_outcome dial_party(unsigned self, unsigned j, const options& opts, clock::time_point deadline,
                        io::unique_fd& out, session_bytes& session, std::string& why);

/// A connection accepted but not yet proven, with fixed buffers only: a listener spends no more
/// than this on a peer it has not authenticated.
struct pending_connection {
  io::unique_fd fd;
  clock::time_point deadline;
  bool proving = false;      // answered its hello; waiting for its key proof
  std::size_t received = 0;  // bytes of the hello, or of the proof, read so far
  std::array<std::uint8_t, hello_bytes> hello{};
  session_bytes session{};
  key_proof proof{};
};

/// The listening side of open_links. The dialler sends its index and nonce; the listener answers
/// with its own nonce and its proof; the dialler answers with its proof, and the listener, once
/// that proof checks out, sends one byte and gives the connection the party's place. Up to
/// max_pending_connections connections are greeted at once (poll), each within greeting_timeout;
/// anything else is closed and counted, and never makes the run fail.
class acceptor {
public:
  /// Greets connections on `listener` (non-blocking) for party `self` until `deadline`; proven
  /// connections land in `peers` and their sessions in `sessions`.
  acceptor(unsigned self, const options& opts, int listener, clock::time_point deadline,
           std::array<io::unique_fd, 3>& peers, std::array<session_bytes, 3>& sessions);

  /// Runs until every higher-numbered party has proven its key, or the connect deadline passes.
  result<void> run();

  /// The connections refused so far.
  const accept_report& report() const noexcept { return report_; }

private:
  unsigned missing() const;
  void refuse(pending_connection& p, unsigned& reason);
  error no_crypto() const;
  bool accept_new();
  bool advance(pending_connection& p);
  bool answer(pending_connection& p);
  bool check(pending_connection& p);
  error give_up();

  unsigned self_;
  const options& opts_;
  int listener_;
  clock::time_point deadline_;
  std::array<io::unique_fd, 3>& peers_;
  std::array<session_bytes, 3>& sessions_;
  std::array<pending_connection, max_pending_connections> pending_;
  accept_report report_;
  // Connections that announced party j and then failed (or fled) its key proof, by j.
  std::array<unsigned, 3> claims_failed_{};
};

} // namespace joconde::engines::rss3::detail
