// Group masks, COUNT and SUM: the per-group building blocks every other aggregate starts from.

#include "joconde/engines/kernels.hpp"

#include "common.hpp"

#include <algorithm>

namespace joconde::engines::kernels {

using namespace detail;

secret group_masks(backend& b, const secret& category, std::size_t groups, const secret& filter) {
  const auto n = category.size();
  expect_size("group_masks", "category", category, n);
  expect_size("group_masks", "filter", filter, n);
  if (groups == 0)
    size_error("group_masks", "0 groups requested (a category needs at least one value)");
  if (groups == 1)
    return filter;
  // Rows the filter drops get their code moved by 2^63, far outside every declared domain, so one
  // batched eq yields one-hot codes already combined with the filter (filter in {0, 1}:
  // 2^63 * (filter + 1) is 2^63 * (1 - filter) in the ring). The last group needs no eq: as every
  // code is in the domain, its mask is the filter minus the other masks.
  auto moved = b.add(category, b.add_public(b.mul_public(filter, word{1} << 63), word{1} << 63));
  const auto compared = groups - 1;
  std::vector<word> codes(compared * n);
  for (std::size_t g = 0; g < compared; ++g)
    std::fill_n(codes.begin() + static_cast<std::ptrdiff_t>(g * n), n, static_cast<word>(g));
  auto masks = b.eq(compared == 1 ? moved : tile(moved, compared), constants(b, codes));
  auto last = filter;
  for (std::size_t g = 0; g < compared; ++g)
    last = b.sub(last, slice(masks, g * n, n));
  append(masks, last);
  return masks;
}

secret count(backend& b, const secret& masks, std::size_t groups) {
  const auto n = rows_of("count", masks, groups);
  if (groups == 1)
    return b.sum(masks);
  secret out;
  for (std::size_t g = 0; g < groups; ++g)
    append(out, b.sum(slice(masks, g * n, n)));
  return out;
}

secret sum(backend& b, const secret& masks, const secret& x, std::size_t groups) {
  const auto n = rows_of("sum", masks, groups);
  expect_size("sum", "x", x, n);
  if (n == 0)
    return b.constant(0, groups);
  if (groups == 1)
    return b.dot(masks, x, n);
  return b.dot(masks, tile(x, groups), n);
}

secret count(backend& b, const grouping& by) {
  if (const auto* s = by.sorted())
    return sorted_sums(b, *s, {&s->filter})[0];
  return count(b, *by.masks(), by.groups());
}

secret sum(backend& b, const grouping& by, const secret& x) {
  if (const auto* s = by.sorted())
    return sorted_sums(b, *s, {&x})[0];
  return sum(b, *by.masks(), x, by.groups());
}

} // namespace joconde::engines::kernels
