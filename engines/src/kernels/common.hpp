#pragma once

// Helpers shared by the kernel sources: size checks and local rearrangements of secrets (slicing,
// concatenating, tiling, gathering by public indices). A rearrangement applies the same change to
// `a` and, when it is not empty, to `b`, so it is valid for every backend's share layout.

#include "joconde/engines/backend.hpp"
#include "joconde/engines/kernels.hpp"
#include "joconde/engines/secret_ops.hpp"

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

namespace joconde::engines::kernels::detail {

/// Throws engine_failure(invalid_state) saying which kernel got which inconsistent sizes.
[[noreturn]] void size_error(const char* kernel, const std::string& what);

/// Throws unless `x` has `n` elements.
void expect_size(const char* kernel, const char* name, const secret& x, std::size_t n);

/// The row count n of group-major masks of `groups` groups; throws unless masks.size() == G * n.
std::size_t rows_of(const char* kernel, const secret& masks, std::size_t groups);

using engines::append;
using engines::concat;
using engines::gather;
using engines::slice;

/// `x` repeated `times` times back to back.
secret tile(const secret& x, std::size_t times);

/// Each element of `x` repeated `times` times in place (x0 x0 .. x1 x1 ..).
secret stretch(const secret& x, std::size_t times);

/// 1 - x for a 0/1 secret (local).
secret one_minus(backend& b, const secret& x);

/// A public vector of words as a secret of the same layout as values from `b`.
secret constants(backend& b, const std::vector<word>& values);

/// Replaces x by its inclusive prefix sums, share by share (local: shares of prefix sums are prefix
/// sums of shares).
void prefix_sums(secret& x);

/// Two's complement word of a signed value.
constexpr word w(std::int64_t v) noexcept {
  return static_cast<word>(v);
}

} // namespace joconde::engines::kernels::detail

namespace joconde::engines::kernels::detail {

/// Per-group sums of each column: result[i][g] = sum over r of masks[g * n + r] * cols[i][r].
/// Batches as many columns per dot call as fit in a bounded buffer, so the number of calls is at
/// most the number of columns and memory stays O(groups * n).
std::vector<secret> group_dots(backend& b, const secret& masks, std::size_t groups, std::size_t n,
                               const std::vector<const secret*>& cols);

/// Per-group sums of each column over a grouping: group_dots over masks, sorted_sums over sorted
/// rows.
std::vector<secret> group_dots(backend& b, const grouping& by, const std::vector<const secret*>& cols);

/// The per-group differences P_g - P_(g-1) of columns that hold, per sorted row of `s`, a prefix
/// sum along the rows (anchors included), read at the anchors after one shuffle: sorted_sums'
/// second half, for callers that build their own prefix columns (the limbs of wide sums).
std::vector<secret> sorted_differences(backend& b, const sorted_groups& s, std::vector<secret> prefixes);

/// The rows of a grouping: n for masks (checked as rows_of does), n + G for sorted rows.
std::size_t rows_of(const char* kernel, const grouping& by);

} // namespace joconde::engines::kernels::detail

namespace joconde::engines::kernels::detail {

/// Throws unless `t`'s columns and valid flags all have t.rows elements and `key` is one of its
/// columns (`name`: which table of `kernel`, for the message).
void check_table(const char* kernel, const char* name, const secret_table& t, std::size_t key);

/// valid ? key : base + step * i + offset for row i, in one mul: the keys of valid rows, and for
/// invalid rows distinct values from `base` on (above every valid key) that match nothing.
secret keys_or_distinct(backend& b, const secret& key, const secret& valid, word base, word step, word offset);

/// Writes src[i] to dst[index[i]] for every i.
void scatter(secret& dst, std::span<const std::size_t> index, const secret& src);

/// The smallest power of two >= n (1 for n <= 1).
std::size_t pow2_at_least(std::size_t n);

/// Bits that hold a row index below n (at least 1).
unsigned index_bits(std::size_t n);

/// Opens the 0/1 `flags` (shuffled first by the caller, so their positions tell nothing) and
/// returns where they are 1; throws, naming `kernel` and `what` the flags mark, unless every flag
/// is 0 or 1 and exactly `ones` are 1, as an honest run always gives.
std::vector<std::size_t> opened_ones(backend& b, const secret& flags, std::size_t ones, const char* kernel,
                                     const char* what);

} // namespace joconde::engines::kernels::detail
