#pragma once

// rss3: three-party replicated secret sharing over Z_2^64, semi-honest, honest majority (the protocol
// family of ABY3 and MP-SPDZ's replicated-ring-party). A value x is split as x = x0 + x1 + x2 mod
// 2^64 and party i holds (x_i, x_(i+1 mod 3)) in `secret::a` and `secret::b`; any two parties can
// rebuild x, a single party learns nothing. Boolean values (used inside comparisons) are XOR-shared
// the same way, bit-sliced: the 64 bits of one element travel in one word.
//
// Cost of each backend operation for n elements (rounds; most words any one party sends):
//   add, sub, add_public, mul_public, sum, constant   local, exact
//   mul, mux, reveal                                   1 round, n words, exact
//   dot (k blocks)                                     1 round, k words, exact
//   input                                              1 round, the owner sends n words to each
//                                                      counterpart (the other two shares come from
//                                                      the pairwise PRG seeds), exact
//   trunc, mul_trunc                                   12 rounds, about 24 n words (see below)
//   lt                                                 10 rounds, 11 n words, exact when |x - y| < 2^63
//   reveal_lt                                          9 rounds, 10 n words (lt's adder, then its
//                                                      outcome bits opened without conversion)
//   eq                                                 9 rounds, 10 n words, exact on the whole ring
//   div (divisors below 2^62)                          243 rounds, about 570 n words
//   sqrt                                               271 rounds, about 520 n words
//   shuffle (c columns)                                3 rounds in sequence (each party takes part
//                                                      in two), 2 c n words
// lt: x - y is split into a boolean sharing (party 0 reshares d0 + d1, d2 is already known to two
// parties), then one AND round for the generate bits and a 6-level carry tree (propagate and
// generate packed in one word per level) gives the sign bit, turned arithmetic by two
// multiplications. eq: an AND tree over ~(s ^ -t). Vectors longer than `block_elements` (lt, eq)
// or `numeric_block_elements` (div, sqrt) are processed in blocks, so memory stays bounded; the
// round counts above are per block.
//
// shuffle: three resharing passes (shuffle.cpp); pass j is done by P_j and P_(j+1), which share
// the PRG key k_(j+1) and draw the pass's permutation from it, unknown to P_(j+2). P_j holds
// x_j + x_(j+1) and P_(j+1) holds x_(j+2) (a two-party sharing, no communication); both permute
// their part, mask it with a share drawn from the key they share with P_(j+2) (k_j, k_(j+2)) and
// swap the masked parts, so every party ends with fresh shares of the permuted rows and each of
// the three permutations is unknown to one party. All columns travel in one message per pass.
//
// Truncation (trunc, mul_trunc; ABY3-style, fused with the reshare): the 3-out-of-3 sharing of the
// value (re-randomised with a zero sharing) becomes a two-party additive sharing (party 0 holds
// t0 + t1, parties 1 and 2 hold t2), each part is shifted locally with SecureML's rule and party 0
// reshares its part with PRG randomness (two rounds; a one-round version needs a preprocessed
// (r, r >> f) pair, which costs more than it saves here). For |x| < 2^62 that gives floor(x / 2^f)
// or floor(x / 2^f) + 1, except with probability |x| / 2^64 per element, where it is off by exactly
// +-2^(64 - f) (plus the unit). Such a result lies beyond +-2^(63 - f), where no correct one can
// be, so one batched comparison against those bounds finds it and moves it back: trunc and
// mul_trunc always return floor(x / 2^f) or floor(x / 2^f) + 1 (the repair is what costs the ten
// extra rounds).
//
// Division and square root (fixed point, `frac` fraction bits) never truncate large values: the
// operands (dividend and divisor alike, up to 2^62) are converted to boolean sharings, normalised
// exactly (their most significant bit as a one-hot word, then a shift by that secret amount on
// boolean shares), converted back as 16- to 32-bit mantissas, refined by Newton's method in error
// form with the precision widened a few bits per step (so every truncated value stays below about
// 2^36), and the result is shifted back by the
// secret exponent on boolean shares (128-bit) before a last conversion. Error bounds (tested on
// random and edge inputs; measured worst cases in brackets):
//   div(a, b, frac), frac <= 61:  |q - a 2^frac / b| <= 2^-29 |a 2^frac / b| + 2   [2^-30]
//                                 (the result is truncated towards zero, not rounded)
//   sqrt(x, frac), frac <= 62:    |r - sqrt(x 2^frac)| <= 2^-24 sqrt(x 2^frac) + 2 [2^-27]
// (their truncations are repaired as above). The division target of backend.hpp (relative 2^-30) is met up to a
// factor of two: 31 bits of the dividend's mantissa is what fits once the product stays below 2^63.

#include "joconde/engines/backend.hpp"
#include "joconde/engines/engine.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace joconde::engines::rss3 {

/// Elements per processing block of lt and eq: bounds their memory.
inline constexpr std::size_t block_elements = std::size_t{1} << 20;

/// Elements per processing block of div and sqrt (they keep about a hundred words per element).
inline constexpr std::size_t numeric_block_elements = std::size_t{1} << 16;

/// Client side: fresh random shares of `values` for the three parties (index = party).
std::vector<secret> split(std::span<const word> values);

/// Client side: the values from all three parties' shares; malformed_input when there are not three
/// shares, their sizes differ, or two parties disagree on a copy of the same share.
result<std::vector<word>> rebuild(std::span<const secret> shares);

// -- accepting counterparts ----------------------------------------------------------------------

/// Most connections a listening party greets at once before they have proven their pair key;
/// further ones are closed at once, so a flood of idle connections costs a fixed budget.
inline constexpr std::size_t max_pending_connections = 8;

/// How long a connection may take to announce itself and prove its pair key (at most the time
/// left to connect): a silent or slow connection loses its place and never holds up a real party.
inline constexpr std::chrono::milliseconds greeting_timeout{2000};

/// The connections a listening party closed before they proved they hold a pair key (port
/// scanners, attackers, or a counterpart holding another key). None of them ends the run: it fails
/// only when a real party has not proven itself by the connect deadline.
struct accept_report {
  unsigned bad_party_id = 0;   ///< announced an index not accepted here (its own, a lower one, > 2)
  unsigned party_taken = 0;    ///< announced a party that had already proven its key
  unsigned failed_proof = 0;   ///< sent a wrong key proof, or hung up when asked for one
  unsigned hung_up = 0;        ///< closed the connection before announcing itself
  unsigned too_slow = 0;       ///< did not finish within greeting_timeout or the connect deadline
  unsigned over_limit = 0;     ///< arrived while max_pending_connections were being greeted

  /// Every refused connection.
  unsigned total() const noexcept;
  /// The counts that are not zero, by reason ("bad-party-id", "party-taken", "failed-proof",
  /// "hung-up", "too-slow", "over-limit"), for a metric.
  std::vector<std::pair<std::string, unsigned>> by_reason() const;
  /// "3 connections refused: 2 bad party id, 1 failed authentication" (or "no connection refused").
  std::string describe() const;
};

/// How one party joins a run.
struct options {
  unsigned party = 0;                          ///< this party's index, 0..2
  std::vector<party_endpoint> endpoints;       ///< every party's endpoint, by index
  std::vector<channel_key> keys;               ///< key shared with each party, by index (own unused)
  std::chrono::milliseconds connect_timeout{10'000};  ///< to reach both counterparts
  std::chrono::milliseconds io_timeout{60'000};       ///< longest wait for progress on a message
  /// An already listening socket to accept on instead of binding endpoints[party] (tests); the
  /// backend takes ownership and closes it once both counterparts are connected.
  int listen_fd = -1;
  /// If set, receives the connections refused while waiting for the higher-numbered parties,
  /// whether connecting succeeds or not (callers log it: refusals hint at probing or a bad key).
  std::shared_ptr<accept_report> report;
};

/// Connects to both counterparts (the lower index listens, the higher connects, retrying with
/// backoff until connect_timeout), authenticates each channel with its key, agrees the pairwise
/// PRG seeds and returns the backend; protocol_error ("channel key mismatch with party j"),
/// timeout or io_error otherwise. A listening party gives a connection a party's place only once
/// it has proven, by a MAC under the pair key over both parties' fresh nonces, that it holds that
/// key; any other connection is closed and counted in `options::report`. The backend closes its
/// channels when destroyed.
result<std::unique_ptr<backend>> connect(options opts);

} // namespace joconde::engines::rss3
