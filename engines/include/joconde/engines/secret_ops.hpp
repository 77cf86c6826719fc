#pragma once

// Local rearrangements of secrets that every layer needs: slicing, concatenating, gathering by
// public indices, and the random permutations of the shuffles. Each rearrangement applies the same
// change to `a` and, when it is not empty, to `b`, so it is valid for every backend's share layout
// and needs no communication.

#include "joconde/engines/backend.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <span>
#include <vector>

namespace joconde::engines {

/// Elements [from, from + len) of `x` (the caller keeps within bounds).
secret slice(const secret& x, std::size_t from, std::size_t len);

/// Appends `x` to `out`.
void append(secret& out, const secret& x);

/// The concatenation of `parts` in order.
secret concat(std::span<const secret* const> parts);

/// The concatenation of `parts` in order.
inline secret concat(std::initializer_list<const secret*> parts) {
  return concat(std::span<const secret* const>{parts.begin(), parts.size()});
}

/// The concatenation of `parts` in order.
inline secret concat(const std::vector<const secret*>& parts) {
  return concat(std::span<const secret* const>{parts});
}

/// The concatenation of `parts` in order.
secret concat(std::span<const secret> parts);

/// Element i of the result is x[index[i]] (the caller keeps the indices within bounds).
secret gather(const secret& x, std::span<const std::size_t> index);

/// As above, with 32-bit indices (half the memory for the orders of large sorts).
secret gather(const secret& x, std::span<const std::uint32_t> index);

/// Writes `n` random words to `out`; successive calls continue the same random sequence.
using word_source = std::function<void(word* out, std::size_t n)>;

/// Fills `perm` with a uniformly random permutation of 0 .. perm.size() - 1 drawn from `draw`
/// (Fisher-Yates, each index without bias by Lemire's multiply-and-reject): the same words give the
/// same permutation, which is how two parties holding a common PRG key agree on one without
/// talking. perm.size() <= 2^32.
void random_permutation(std::span<std::uint32_t> perm, const word_source& draw);

} // namespace joconde::engines
