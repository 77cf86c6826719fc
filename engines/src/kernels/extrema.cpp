// MIN and MAX per group: rows outside the group (or filtered out) take the neutral value, then a
// pairwise tournament halves every group at once, one lt and one mul per level (O(log n) rounds).

#include "joconde/engines/kernels.hpp"

#include "common.hpp"

namespace joconde::engines::kernels {

using namespace detail;

namespace {

/// The tournament; `want_min` picks the smaller of each pair, else the larger.
secret extremum(backend& b, const char* kernel, const secret& masks, const secret& x,
                std::size_t groups, std::int64_t lo, std::int64_t hi, bool want_min) {
  const auto rows = rows_of(kernel, masks, groups);
  expect_size(kernel, "x", x, rows);
  if (lo > hi)
    size_error(kernel, "empty range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  const auto neutral = w(want_min ? hi : lo);
  if (rows == 0)
    return b.constant(neutral, groups);
  // cur = neutral + mask * (x - neutral): x where the row is in the group, else neutral.
  auto cur = b.add_public(
    b.mul(masks, b.add_public(groups == 1 ? x : tile(x, groups), w(0) - neutral)), neutral);
  std::size_t len = rows;
  std::vector<std::size_t> left;
  std::vector<std::size_t> right;
  std::vector<std::size_t> carry;
  while (len > 1) {
    const auto half = len / 2;
    const bool odd = len % 2 == 1;
    left.clear();
    right.clear();
    carry.clear();
    for (std::size_t g = 0; g < groups; ++g) {
      for (std::size_t i = 0; i < half; ++i) {
        left.push_back(g * len + 2 * i);
        right.push_back(g * len + 2 * i + 1);
      }
      if (odd)
        carry.push_back(g * len + len - 1);
    }
    auto l = gather(cur, left);
    auto r = gather(cur, right);
    // take_left = l < r for MIN, r < l for MAX; winner = r + take_left * (l - r).
    auto take_left = want_min ? b.lt(l, r) : b.lt(r, l);
    auto winners = b.add(r, b.mul(take_left, b.sub(l, r)));
    const auto next = half + (odd ? 1 : 0);
    if (odd) {
      auto kept = gather(cur, carry);
      secret merged;
      merged.a.reserve(groups * next);
      for (std::size_t g = 0; g < groups; ++g) {
        append(merged, slice(winners, g * half, half));
        append(merged, slice(kept, g, 1));
      }
      cur = std::move(merged);
    } else {
      cur = std::move(winners);
    }
    len = next;
  }
  return cur;
}

} // namespace

secret min(backend& b, const secret& masks, const secret& x, std::size_t groups, std::int64_t lo,
           std::int64_t hi) {
  return extremum(b, "min", masks, x, groups, lo, hi, true);
}

secret max(backend& b, const secret& masks, const secret& x, std::size_t groups, std::int64_t lo,
           std::int64_t hi) {
  return extremum(b, "max", masks, x, groups, lo, hi, false);
}

} // namespace joconde::engines::kernels
