// The dominance rule of business statistics per group over one-hot masks: the sum of each group's
// n largest values, from order_statistics at the positions n_g - 1, ..., n_g - n (top_sum,
// kernels.hpp), which sql's HAVING compares exactly with p % of the group's total.

#include "common.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace joconde::engines::kernels {

using namespace detail;

secret top_sum(backend& b, const secret& masks, std::size_t groups, const secret& x, std::int64_t lo,
               std::int64_t hi, unsigned n) {
  expect_size("top_sum", "masks", masks, groups * x.size());
  if (n == 0 || n > max_dominance_n)
    size_error("top_sum", "n = " + std::to_string(n) + " outside 1.." + std::to_string(max_dominance_n));
  const auto g = groups;
  if (x.size() == 0 || g == 0)
    return b.constant(0, g);
  // Block k - 1 holds the positions n_g - k of every group, and the public k to compare n_g with.
  auto rows = count(b, grouping{masks, groups});
  secret at;
  std::vector<word> ks;
  for (unsigned k = 1; k <= n; ++k) {
    append(at, b.add_public(rows, w(-static_cast<std::int64_t>(k))));
    ks.insert(ks.end(), g, static_cast<word>(k) - 1);
  }
  auto values = order_statistics(b, masks, groups, x, lo, hi, at);
  // A position below 0 (a group of fewer than k rows) reads another group's row, or none: dropped.
  auto present = b.lt(constants(b, ks), tile(rows, n));
  auto kept = b.mul(values, present);
  auto top = slice(kept, 0, g);
  for (unsigned k = 1; k < n; ++k)
    top = b.add(top, slice(kept, k * g, g));
  return top;
}

result<void> check_dominance(std::uint64_t max_rows, std::int64_t lo, std::int64_t hi) {
  using real = long double;
  if (lo < 0)
    return fail(errc::unsupported, "DOMINANCE: values declared in [" + std::to_string(lo) + ", "
                                     + std::to_string(hi) + "] may be negative; the rule is for non-negative "
                                       "magnitudes (turnover, employment): declare a RANGE from 0");
  const auto bound = real{100} * static_cast<real>(std::max<std::uint64_t>(max_rows, 1)) * static_cast<real>(hi);
  if (bound >= std::ldexp(real{1}, 61))
    return fail(errc::unsupported, "DOMINANCE: 100 x " + std::to_string(max_rows) + " rows x the largest value "
                                     + std::to_string(hi) + " reaches 2^61");
  return {};
}

} // namespace joconde::engines::kernels
