// MEDIAN, PERCENTILE_CONT and PERCENTILE_DISC per group over one-hot masks: the rows sorted on
// (group, value), the ranks of the rows that count as local prefix sums, and each group's wanted
// rows picked by equality with their ranks (order_statistics, kernels.hpp).

#include "wide.hpp"

#include <array>
#include <bit>
#include <cmath>
#include <string>

namespace joconde::engines::kernels {

using namespace detail;

namespace {

/// What every per-group order statistic starts from: each group's row count, 1 where a group is
/// empty (its statistic is written 0), and its last position n_g - 1 (0 for an empty group).
struct group_sizes {
  secret rows;
  secret empty;
  secret last;
};

group_sizes sizes_of(backend& b, const secret& masks, std::size_t groups) {
  auto rows = count(b, grouping{masks, groups});
  auto empty = b.eq(rows, b.constant(0, groups));
  auto last = b.add(b.add_public(rows, w(-1)), empty);
  return {std::move(rows), std::move(empty), std::move(last)};
}

} // namespace

unsigned median_row_bits(std::uint64_t max_rows) {
  return static_cast<unsigned>(std::bit_width(std::max<std::uint64_t>(max_rows, 1)));
}

secret order_statistics(backend& b, const secret& masks, std::size_t groups, const secret& x_raw, std::int64_t lo,
                        std::int64_t hi, const secret& at) {
  const auto n = x_raw.size();
  const auto g = groups;
  expect_size("order_statistics", "masks", masks, groups * n);
  if (g == 0 || at.size() % g != 0)
    throw engine_failure(fail(errc::invalid_state, "order_statistics: positions are not whole blocks of groups"));
  const auto blocks = at.size() / g;
  if (n == 0)
    return b.constant(0, blocks * g);
  // Each row's group code and whether it counts, from the masks (local).
  auto code = b.constant(0, n);
  auto counts = b.constant(0, n);
  for (std::size_t j = 0; j < g; ++j) {
    auto m = slice(masks, j * n, n);
    code = b.add(code, b.mul_public(m, static_cast<word>(j)));
    counts = b.add(counts, m);
  }
  // A row that counts has x in [lo, hi]; one that does not (filtered, a join's unmatched row)
  // may hold anything, which must not reach the sort key: x := lo + counts (x - lo), one mul.
  const auto x = b.add_public(b.mul(counts, b.add_public(x_raw, w(-lo))), w(lo));
  // The sort key (code, x 2^r + row): distinct, so the sort reveals nothing but n. In one word,
  // (code 2^v + x - lo) 2^r + row, where that stays below 2^60; else two.
  const auto r = median_row_bits(n);
  const auto v = static_cast<unsigned>(std::bit_width(static_cast<std::uint64_t>(hi - lo)));
  const auto c = static_cast<unsigned>(std::bit_width(g));
  const bool one_word = c + v + r <= 60;
  std::vector<word> rows(n);
  for (std::size_t i = 0; i < n; ++i)
    rows[i] = static_cast<word>(i) - (one_word ? static_cast<word>(lo) << r : 0);
  auto low = b.add(b.mul_public(one_word ? b.add(b.mul_public(code, word{1} << v), x) : x, word{1} << r),
                   b.constant(rows));
  auto value = x;
  if (one_word) {
    std::array<secret*, 3> columns{&low, &counts, &value};
    if (n > 1)
      sort_distinct(b, columns, 1);
  } else {
    std::array<secret*, 4> columns{&code, &low, &counts, &value};
    if (n > 1)
      sort_distinct(b, columns, 2);
  }
  // In that order the rows that count are group by group, by value: the k-th of them overall
  // has rank k (1-based; local prefix sums).
  auto rank = counts;
  prefix_sums(rank);
  // A group's position i is the overall rank B_g + i + 1, B_g the rows before the group (local
  // prefix over groups).
  auto n_g = count(b, grouping{masks, groups});
  auto before = n_g;
  prefix_sums(before);
  before = b.sub(before, n_g);
  auto targets = b.add(at, tile(b.add_public(before, 1), blocks));
  // One equality per (position, row), then one inner product per position.
  secret wanted;
  for (std::size_t t = 0; t < blocks * g; ++t)
    append(wanted, tile(slice(targets, t, 1), n));
  auto hit = b.eq(tile(rank, blocks * g), wanted);
  auto kept = b.mul(value, counts);
  return b.dot(hit, tile(kept, blocks * g), n);
}

secret median_twice(backend& b, const secret& masks, std::size_t groups, const secret& x, std::int64_t lo,
                    std::int64_t hi) {
  expect_size("median_twice", "masks", masks, groups * x.size());
  const auto g = groups;
  if (x.size() == 0 || g == 0)
    return b.constant(0, g);
  // The middle positions floor((n_g - 1) / 2) and ceil((n_g - 1) / 2).
  auto size = sizes_of(b, masks, groups);
  auto lower = floor_shift(b, size.last, 1);
  auto upper = b.sub(size.last, lower);
  auto sums = order_statistics(b, masks, groups, x, lo, hi, concat({&lower, &upper}));
  auto twice = b.add(slice(sums, 0, g), slice(sums, g, g));
  return b.mul(twice, one_minus(b, size.empty));
}

secret percentile_disc(backend& b, const secret& masks, std::size_t groups, const secret& x, std::int64_t lo,
                       std::int64_t hi, word num, word scale) {
  expect_size("percentile_disc", "masks", masks, groups * x.size());
  const auto g = groups;
  if (x.size() == 0 || g == 0)
    return b.constant(0, g);
  auto size = sizes_of(b, masks, groups);
  auto rows = b.add(size.rows, size.empty);  // n_g, or 1 for an empty group
  // Rank max(1, ceil(num n / scale)): 1 for p = 0, else ceil (num n >= 1); the position is one less.
  secret at;
  if (num == 0)
    at = b.constant(0, g);
  else if (scale == 1)
    at = b.add_public(rows, w(-1));
  else
    at = b.add_public(floor_div(b, b.add_public(b.mul_public(rows, num), scale - 1), b.constant(scale, g)).first,
                      w(-1));
  return b.mul(order_statistics(b, masks, groups, x, lo, hi, at), one_minus(b, size.empty));
}

secret percentile_cont_scaled(backend& b, const secret& masks, std::size_t groups, const secret& x,
                              std::int64_t lo, std::int64_t hi, word num, word scale) {
  expect_size("percentile_cont_scaled", "masks", masks, groups * x.size());
  const auto g = groups;
  if (x.size() == 0 || g == 0)
    return b.constant(0, g);
  auto size = sizes_of(b, masks, groups);
  auto keep = one_minus(b, size.empty);
  // p = 0 or 1: the smallest or the largest value, whole.
  if (scale == 1)
    return b.mul(order_statistics(b, masks, groups, x, lo, hi, num == 0 ? b.constant(0, g) : size.last), keep);
  // i = floor(num (n - 1) / scale) and the remainder f; the upper position i + [f > 0] stays in the
  // group (its value counts f times, so nothing where f = 0).
  auto [at, f] = floor_div(b, b.mul_public(size.last, num), b.constant(scale, g));
  auto whole = b.eq(f, b.constant(0, g));
  auto next = b.sub(b.add_public(at, 1), whole);
  auto values = order_statistics(b, masks, groups, x, lo, hi, concat({&at, &next}));
  auto low = slice(values, 0, g);
  auto high = slice(values, g, g);
  // Exact in the ring: the result is below 2^62 even where the terms are not.
  auto scaled = b.add(b.mul_public(low, scale), b.mul(b.sub(high, low), f));
  return b.mul(scaled, keep);
}

result<void> check_percentile_cont(std::uint64_t max_rows, std::int64_t lo, std::int64_t hi, word scale) {
  using real = long double;
  const auto m = std::max(std::fabs(static_cast<real>(lo)), std::fabs(static_cast<real>(hi)));
  const auto s = static_cast<real>(scale);
  if (m * s >= std::ldexp(real{1}, 62))
    return fail(errc::unsupported, "PERCENTILE_CONT: values declared in [" + std::to_string(lo) + ", "
                                     + std::to_string(hi) + "] times p's denominator " + std::to_string(scale)
                                     + " reach 2^62; give p fewer decimals or declare a narrower range");
  if (static_cast<real>(std::max<std::uint64_t>(max_rows, 1)) * s >= std::ldexp(real{1}, 61))
    return fail(errc::unsupported, "PERCENTILE_CONT: " + std::to_string(max_rows) + " rows times p's denominator "
                                     + std::to_string(scale) + " reach 2^61; give p fewer decimals");
  return {};
}

} // namespace joconde::engines::kernels
