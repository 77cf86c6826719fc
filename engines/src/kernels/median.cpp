// MEDIAN per group over one-hot masks: the rows sorted on (group, value), the ranks of the rows
// that count as local prefix sums, and each group's middle rows picked by equality with their
// ranks (kernels.hpp).

#include "common.hpp"

#include <array>
#include <bit>

namespace joconde::engines::kernels {

using namespace detail;

namespace {

/// Replaces x by its inclusive running sums (local: shares add).
void running_sums(secret& x) {
  for (auto* v : {&x.a, &x.b})
    for (std::size_t i = 1; i < v->size(); ++i)
      (*v)[i] += (*v)[i - 1];
}

} // namespace

unsigned median_row_bits(std::uint64_t max_rows) {
  return static_cast<unsigned>(std::bit_width(std::max<std::uint64_t>(max_rows, 1)));
}

secret median_twice(backend& b, const secret& masks, std::size_t groups, const secret& x, std::int64_t lo,
                    std::int64_t hi) {
  const auto n = x.size();
  expect_size("median_twice", "masks", masks, groups * n);
  const auto g = groups;
  if (n == 0)
    return b.constant(0, g);
  // Each row's group code and whether it counts, from the masks (local).
  auto code = b.constant(0, n);
  auto counts = b.constant(0, n);
  for (std::size_t k = 0; k < g; ++k) {
    auto m = slice(masks, k * n, n);
    code = b.add(code, b.mul_public(m, static_cast<word>(k)));
    counts = b.add(counts, m);
  }
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
  running_sums(rank);
  // Per group: n_g, the rows before it B_g (local prefix over groups), and its middle ranks
  // B_g + floor((n_g - 1) / 2) + 1 and B_g + ceil((n_g - 1) / 2) + 1.
  auto n_g = count(b, grouping{masks, groups});
  auto empty = b.eq(n_g, b.constant(0, g));
  auto before = n_g;
  running_sums(before);
  before = b.sub(before, n_g);
  auto less = b.add(b.add_public(n_g, w(-1)), empty);  // n_g - 1, or 0 for an empty group
  auto lower = floor_shift(b, less, 1);
  auto upper = b.sub(less, lower);
  auto base = b.add_public(before, 1);
  auto targets = concat({&lower, &upper});
  targets = b.add(targets, tile(base, 2));
  // One equality per (middle rank, row), then one inner product per middle rank.
  secret wanted;
  for (std::size_t k = 0; k < 2 * g; ++k)
    append(wanted, tile(slice(targets, k, 1), n));
  auto at = b.eq(tile(rank, 2 * g), wanted);
  auto kept = b.mul(value, counts);
  auto sums = b.dot(at, tile(kept, 2 * g), n);
  auto twice = b.add(slice(sums, 0, g), slice(sums, g, g));
  return b.mul(twice, one_minus(b, empty));
}

} // namespace joconde::engines::kernels
