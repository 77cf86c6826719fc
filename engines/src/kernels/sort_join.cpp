// Oblivious sort (bitonic network), inner join on unique keys and the uniqueness test.
//
// Rows are ordered by one composite key, key + 2^62 (1 - valid), so that invalid rows sort after
// every valid one in a single comparison (keys must satisfy |key| < 2^61). Each stage of the
// network is one lt on the composite keys of the compared pairs and one mul over every carried
// column (new_low = low + swap (high - low), new_high = low + high - new_low), so a sort of n rows
// takes log2(N) (log2(N) + 1) / 2 stages of two rounds each, N = n rounded up to a power of two.
//
// inner_join and unique_keys need no valid column in the network: one mul first replaces the key of
// every invalid row by a distinct value above all valid keys (2^62 + ...), so that equal neighbours
// after sorting are exactly equal valid keys; inner_join also folds the side into the key
// (4 key + side, hence |key| < 2^59 there), which puts the left row of a match first.

#include "joconde/engines/kernels.hpp"

#include "common.hpp"

namespace joconde::engines::kernels {

using namespace detail;

namespace {

constexpr word invalid_offset = word{1} << 62;

/// Sorts `data`, `cols` columns of `n` rows stored column after column, by its first column,
/// ascending. The network is the bitonic sorter on the next power of two N in its one-direction
/// form (each merge starts by comparing i with its mirror in the block, then halves), so that the
/// N - n missing rows act as +infinity at the end that never move: every comparator touching them
/// is dropped and nothing is padded.
void bitonic(backend& b, secret& data, std::size_t cols, std::size_t n) {
  if (n < 2)
    return;
  const auto top = pow2_at_least(n);
  std::vector<std::size_t> low;
  std::vector<std::size_t> high;
  low.reserve(cols * (n / 2));
  high.reserve(cols * (n / 2));
  for (std::size_t k = 2; k <= top; k <<= 1) {
    for (std::size_t j = k >> 1; j > 0; j >>= 1) {
      low.clear();
      high.clear();
      for (std::size_t i = 0; i < n; ++i) {
        const auto l = j == k >> 1 ? i ^ (k - 1) : i ^ j;
        if (l > i && l < n) {
          low.push_back(i);
          high.push_back(l);
        }
      }
      const auto pairs = low.size();
      if (pairs == 0)
        continue;
      for (std::size_t c = 1; c < cols; ++c)
        for (std::size_t q = 0; q < pairs; ++q) {
          low.push_back(c * n + low[q]);
          high.push_back(c * n + high[q]);
        }
      auto lo_vals = gather(data, low);
      auto hi_vals = gather(data, high);
      // swap where high < low on the key column.
      auto swap = b.lt(slice(hi_vals, 0, pairs), slice(lo_vals, 0, pairs));
      auto delta = b.mul(cols == 1 ? swap : tile(swap, cols), b.sub(hi_vals, lo_vals));
      scatter(data, low, b.add(lo_vals, delta));
      scatter(data, high, b.sub(hi_vals, delta));
    }
  }
}



} // namespace

void sort(backend& b, secret_table& t, std::size_t key) {
  check_table("sort", "table", t, key);
  const auto n = t.rows;
  if (n < 2)
    return;
  const auto cols = t.columns.size() + 1;
  // Column 0: key + 2^62 (1 - valid); then every column but the key; then valid.
  secret data;
  data.a.reserve(cols * n);
  data.b.reserve(t.valid.b.empty() ? 0 : cols * n);
  append(data, b.add(t.columns[key], b.mul_public(one_minus(b, t.valid), invalid_offset)));
  for (std::size_t c = 0; c < t.columns.size(); ++c)
    if (c != key)
      append(data, t.columns[c]);
  append(data, t.valid);
  bitonic(b, data, cols, n);

  t.valid = slice(data, (cols - 1) * n, n);
  auto sorted_key = b.sub(slice(data, 0, n), b.mul_public(one_minus(b, t.valid), invalid_offset));
  std::size_t next = 1;
  for (std::size_t c = 0; c < t.columns.size(); ++c)
    t.columns[c] = c == key ? sorted_key : slice(data, n * next++, n);
}

secret_table inner_join(backend& b, const secret_table& left, std::size_t left_key,
                        const secret_table& right, std::size_t right_key) {
  check_table("inner_join", "left", left, left_key);
  check_table("inner_join", "right", right, right_key);
  const auto cl = left.columns.size();
  const auto cr = right.columns.size();
  const auto total = left.rows + right.rows;
  secret_table out;
  out.columns.resize(cl + cr);
  if (total < 2)
    return out;
  const auto slots = std::max(cl, cr);
  // Sort key 4 key + side (side 0 left, 1 right) on valid rows, distinct values 2^62 + 4 i + 2 on
  // invalid rows: after sorting, row k and row k + 1 match exactly when sort_key[k] + 1 ==
  // sort_key[k + 1] (same key, left then right, both valid), and the left row of a match always
  // comes first, so no side flag or mux is needed. The other columns ride in `slots` shared
  // columns: left column j on left rows, right column j on right rows.
  std::vector<word> sides(total, 0);
  std::fill(sides.begin() + static_cast<std::ptrdiff_t>(left.rows), sides.end(), 1);
  auto side_keys = b.add(
    b.mul_public(concat({&left.columns[left_key], &right.columns[right_key]}), 4),
    constants(b, sides));
  secret data;
  data.a.reserve((slots + 1) * total);
  append(data, keys_or_distinct(b, side_keys, concat({&left.valid, &right.valid}), invalid_offset, 4, 2));
  for (std::size_t j = 0; j < slots; ++j) {
    append(data, j < cl ? left.columns[j] : b.constant(0, left.rows));
    append(data, j < cr ? right.columns[j] : b.constant(0, right.rows));
  }
  bitonic(b, data, slots + 1, total);

  const auto m = total - 1;
  out.rows = m;
  out.valid = b.eq(b.add_public(slice(data, 0, m), 1), slice(data, 1, m));
  for (std::size_t j = 0; j < cl; ++j)
    out.columns[j] = slice(data, (1 + j) * total, m);
  for (std::size_t j = 0; j < cr; ++j)
    out.columns[cl + j] = slice(data, (1 + j) * total + 1, m);
  return out;
}

bool unique_keys(backend& b, const secret_table& t, std::size_t key) {
  check_table("unique_keys", "table", t, key);
  if (t.rows < 2)
    return true;
  // Valid keys, and distinct values for invalid rows: a duplicate is an equal neighbour.
  auto data = keys_or_distinct(b, t.columns[key], t.valid, invalid_offset, 1, 0);
  bitonic(b, data, 1, t.rows);
  const auto m = t.rows - 1;
  auto dup = b.eq(slice(data, 0, m), slice(data, 1, m));
  auto none = b.eq(b.sum(dup), b.constant(0, 1));
  return b.reveal(none).at(0) == 1;
}

} // namespace joconde::engines::kernels
