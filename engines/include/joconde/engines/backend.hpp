#pragma once

// The vector operations an MPC protocol offers to the task-language executor (DESIGN.md §9). Every
// value is an element of the ring Z_2^64, held secret-shared among the parties; each operation works
// on whole vectors so that one call is one batch (at most a constant number of communication rounds,
// whatever the length). No CAF here: engines are usable on their own.

#include "joconde/messages/result.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace joconde::engines {

/// An element of Z_2^64; signed values are two's complement.
using word = std::uint64_t;

/// 128-bit integers for exact products of ring elements (a GCC/Clang extension).
__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

/// What one party holds of a vector of secret values. The meaning is the protocol's: rss3 party i
/// holds the additive shares x_i in `a` and x_(i+1) in `b`; the reference engine holds the clear
/// value in `a` and leaves `b` empty. Local rearrangements (slicing, concatenation, gathering by
/// public indices) are done by applying the same change to `a` and, if not empty, `b`.
struct secret {
  std::vector<word> a;
  std::vector<word> b;

  std::size_t size() const noexcept { return a.size(); }
};

/// A table of secret columns in schema order, plus a secret 0/1 `valid` flag per row: filters and
/// small-cell suppression clear the flag instead of removing rows, so no party learns which rows
/// passed (the analyst who rebuilds an output drops the invalid rows).
struct secret_table {
  std::vector<secret> columns;
  secret valid;
  std::size_t rows = 0;
};

/// Thrown by a backend operation when the run cannot go on: a counterpart sent a malformed,
/// truncated or unexpected message, a channel broke, or an argument broke the operation's contract.
/// Only engine::activate and test harnesses catch it; they turn it into a joconde::error.
class engine_failure : public std::runtime_error {
public:
  explicit engine_failure(joconde::error err)
    : std::runtime_error(err.describe()), err_(std::move(err)) {
    // nop
  }

  const joconde::error& err() const noexcept { return err_; }

private:
  joconde::error err_;
};

/// Counters every backend keeps, for metrics and benchmarks.
struct backend_stats {
  std::uint64_t rounds = 0;      ///< communication rounds this party took part in
  std::uint64_t bytes_sent = 0;  ///< payload bytes this party sent (before framing and encryption)
  std::map<unsigned, std::uint64_t> bytes_to;  ///< of bytes_sent, by the party it went to
};

/// One party's view of an MPC protocol. All vector arguments of one call have the same length
/// unless said otherwise; a length mismatch throws engine_failure. Interactive operations must be
/// called in the same order with the same lengths at every party.
class backend {
public:
  virtual ~backend() = default;

  /// This party's index, 0-based.
  virtual unsigned party() const noexcept = 0;
  /// The number of parties.
  virtual unsigned parties() const noexcept = 0;
  /// Rounds and bytes so far.
  virtual backend_stats stats() const noexcept = 0;

  // -- sharing ----------------------------------------------------------------------------------

  /// Public values as a sharing of themselves (local).
  virtual secret constant(std::span<const word> values) = 0;
  /// `n` copies of one public value (local).
  virtual secret constant(word value, std::size_t n) = 0;
  /// Party `owner` secret-shares its `values`; every other party passes the same `n` and an empty
  /// span. One round.
  virtual secret input(unsigned owner, std::span<const word> values, std::size_t n) = 0;
  /// Opens `x` to every party. One round. Only for values the program is allowed to reveal.
  virtual std::vector<word> reveal(const secret& x) = 0;

  // -- local operations -------------------------------------------------------------------------

  virtual secret add(const secret& x, const secret& y) = 0;
  virtual secret sub(const secret& x, const secret& y) = 0;
  /// x + c for a public c (same c for every element).
  virtual secret add_public(const secret& x, word c) = 0;
  /// x * c for a public c (same c for every element), in the ring.
  virtual secret mul_public(const secret& x, word c) = 0;
  /// The sum of all elements, as a vector of length 1.
  virtual secret sum(const secret& x) = 0;

  // -- interactive operations (one batch each) --------------------------------------------------

  /// Element-wise product in the ring. One round.
  virtual secret mul(const secret& x, const secret& y) = 0;
  /// Element-wise fixed-point product: (x * y) >> frac, rounding towards -inf (a protocol may add
  /// one unit in the last place; it documents so). Constant rounds. |x * y| < 2^62.
  virtual secret mul_trunc(const secret& x, const secret& y, unsigned frac) = 0;
  /// Element-wise x >> bits (arithmetic shift), error as for mul_trunc. |x| < 2^62.
  virtual secret trunc(const secret& x, unsigned bits) = 0;
  /// Inner products of consecutive blocks of `block` elements (block >= 1; the last one shorter
  /// when block does not divide the length): the result has k = ceil(length / block) elements,
  /// element j = sum over the j-th block of x * y. One round, k words sent.
  virtual secret dot(const secret& x, const secret& y, std::size_t block) = 0;
  /// 1 where x < y (signed), else 0. Correct whenever |x - y| < 2^63.
  virtual secret lt(const secret& x, const secret& y) = 0;
  /// 1 where x == y, else 0.
  virtual secret eq(const secret& x, const secret& y) = 0;
  /// Opens lt(x, y) to every party: what reveal(lt(x, y)) gives, for comparisons whose outcomes a
  /// kernel may reveal (sort_distinct's). A protocol may open the outcome bits before converting
  /// them (rss3: two rounds and two words per element fewer).
  virtual std::vector<word> reveal_lt(const secret& x, const secret& y) { return reveal(lt(x, y)); }
  /// c ? x : y element-wise, for c in {0, 1}. One round.
  virtual secret mux(const secret& c, const secret& x, const secret& y) = 0;
  /// Applies one permutation of the rows, uniformly random and known to no party alone (nor to any
  /// coalition a protocol tolerates), to every column of `columns` (all of one length), so that the
  /// rows stay together; every share is fresh afterwards. Nothing is revealed. Constant rounds
  /// (rss3: three, one per pair of parties).
  virtual void shuffle(std::span<secret* const> columns) = 0;
  /// Element-wise quotient in fixed point: round(a * 2^frac / b), for ring integers a and b of the
  /// same scale with 0 < b < 2^62, |a| < 2^62 and |a * 2^frac / b| < 2^62. Protocols compute it by
  /// normalising b and iterating; the backend documents its error bound (target: relative 2^-30
  /// plus 2 units in the last place).
  virtual secret div(const secret& a, const secret& b, unsigned frac) = 0;
  /// Element-wise fixed-point square root: for 0 <= x < 2^62 with `frac` fraction bits, returns
  /// sqrt(x) with `frac` fraction bits (0 for x == 0). The backend documents its error bound
  /// (target: relative 2^-24 plus 2 units in the last place).
  virtual secret sqrt(const secret& x, unsigned frac) = 0;
};

} // namespace joconde::engines
