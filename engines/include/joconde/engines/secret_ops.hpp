#pragma once

// Local rearrangements of secrets that every layer needs: slicing and concatenating. Each applies
// the same change to `a` and, when it is not empty, to `b`, so it is valid for every backend's
// share layout and needs no communication.

#include "joconde/engines/backend.hpp"

#include <cstddef>
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

} // namespace joconde::engines
