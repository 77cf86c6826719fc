// The inner join on unique keys by shuffling and sorting (sort_distinct): O((n + m) log(n + m))
// comparisons instead of the bitonic network's O((n + m) log^2(n + m)).

#include "joconde/engines/kernels.hpp"

#include "common.hpp"

#include <algorithm>

namespace joconde::engines::kernels {

using namespace detail;

namespace {

/// Where the distinct sort keys of invalid rows start: above every 4 key + side of a valid row
/// (|key| < 2^59), below sort_distinct's 2^62.
constexpr word invalid_base = word{1} << 61;

} // namespace

secret_table join_unique(backend& b, const secret_table& left, std::size_t left_key, const secret_table& right,
                         std::size_t right_key, bool& left_unique, bool& right_unique) {
  check_table("join_unique", "left", left, left_key);
  check_table("join_unique", "right", right, right_key);
  const auto cl = left.columns.size();
  const auto cr = right.columns.size();
  const auto total = left.rows + right.rows;
  left_unique = right_unique = true;
  secret_table out;
  out.columns.resize(cl + cr);
  if (total < 2)
    return out;
  // Sort key 4 key + side (side 0 left, 1 right) on valid rows, 2^61 + 2 row on invalid ones: all
  // distinct while each side's keys are, and after sorting row k matches row k + 1 exactly when
  // key[k] + 1 == key[k + 1] (same key, left then right: the gaps of 4 between keys and of 2
  // between invalid rows leave no other neighbours one apart). The other columns ride in `slots`
  // shared columns: left column j on left rows, right column j on right rows.
  std::vector<word> sides(total, 0);
  std::fill(sides.begin() + static_cast<std::ptrdiff_t>(left.rows), sides.end(), 1);
  auto side = constants(b, sides);
  auto side_keys = b.add(b.mul_public(concat({&left.columns[left_key], &right.columns[right_key]}), 4), side);
  std::vector<secret> columns;
  columns.push_back(keys_or_distinct(b, side_keys, concat({&left.valid, &right.valid}), invalid_base, 2, 0));
  const auto slots = std::max(cl, cr);
  for (std::size_t j = 0; j < slots; ++j) {
    auto l = j < cl ? left.columns[j] : b.constant(0, left.rows);
    auto r = j < cr ? right.columns[j] : b.constant(0, right.rows);
    columns.push_back(concat({&l, &r}));
  }
  columns.push_back(std::move(side));  // last: which side a sorted row came from
  std::vector<secret*> sorted;
  for (auto& c : columns)
    sorted.push_back(&c);
  sort_distinct(b, sorted);

  // One batch of equality tests: neighbours equal (a key repeated within one side, which side the
  // side column says) and neighbours one apart (a match).
  const auto m = total - 1;
  auto here = slice(columns[0], 0, m);
  auto plus_one = b.add_public(here, 1);
  auto next = slice(columns[0], 1, m);
  auto tests = b.eq(concat({&here, &plus_one}), concat({&next, &next}));
  auto repeats = slice(tests, 0, m);
  auto on_right = b.mul(repeats, slice(columns.back(), 1, m));
  auto on_left = b.sub(repeats, on_right);
  auto left_repeats = b.sum(on_left);
  auto right_repeats = b.sum(on_right);
  auto sums = concat({&left_repeats, &right_repeats});
  auto none = b.reveal(b.eq(sums, b.constant(0, 2)));
  left_unique = none.at(0) == 1;
  right_unique = none.at(1) == 1;
  out.rows = m;
  out.valid = slice(tests, m, m);
  for (std::size_t j = 0; j < cl; ++j)
    out.columns[j] = slice(columns[1 + j], 0, m);
  for (std::size_t j = 0; j < cr; ++j)
    out.columns[cl + j] = slice(columns[1 + j], 1, m);
  return out;
}

} // namespace joconde::engines::kernels
