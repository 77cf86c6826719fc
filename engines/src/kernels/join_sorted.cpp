// Joins by shuffling and sorting (sort_distinct): O((n + m) log(n + m)) comparisons instead of the
// bitonic network's O((n + m) log^2(n + m)). The union of both sides is sorted so that each key's
// unique row comes first in its run of equal keys, followed by the repeating side's rows with that
// key; the unique row's columns are copied along the run, then the rows of the repeating side are
// picked out after a shuffle.

#include "joconde/engines/kernels.hpp"

#include "common.hpp"

#include <algorithm>

namespace joconde::engines::kernels {

using namespace detail;

namespace {

/// Where the distinct sort keys of invalid rows start: above every sort key of a valid row (|key|
/// < 2^59 gives |2 key + side| < 2^60, and the packed one-word keys of 1:N stay below 2^61),
/// below sort_distinct's 2^62.
constexpr word invalid_base = word{1} << 61;

/// The rows of `candidates` (columns of one length) whose `side` flag is 1, in an order no party
/// knows: shuffles them with the flag, reveals the shuffled flags (uniformly any `kept` of the
/// rows, whatever the data) and keeps the flagged rows. Throws unless exactly `kept` are flagged,
/// which an honest run always gives.
std::vector<secret> keep_flagged(backend& b, std::vector<secret>& candidates, secret side, std::size_t kept) {
  std::vector<secret*> columns;
  for (auto& c : candidates)
    columns.push_back(&c);
  columns.push_back(&side);
  b.shuffle(columns);
  auto at = opened_ones(b, side, kept, "join_many", "rows of the repeating side");
  std::vector<secret> out;
  for (auto& c : candidates) {
    out.push_back(gather(c, at));
    c = secret{};  // freed as soon as its rows are picked: n + m rows per column
  }
  return out;
}

/// Applies `f(x, p)` to the matching share vectors of x and p (a, and b where the layout has it).
template <class F>
void each_component(secret& x, const secret& p, F f) {
  f(x.a, p.a);
  if (!x.b.empty())
    f(x.b, p.b);
}

/// Copies each row's value forward from the first row of its run (a run starts where `head` is 1,
/// and at row 0), for every column of `values`: Hillis-Steele, ceil(log2 T) doublings of the
/// distance d, each one mul of T - d products per column and one for the heads (a round each:
/// one batch of all would hold (columns + 1) times as much). The updates are local additions of
/// shares, made in place from the last row down (each reads the row d above, not yet updated).
void copy_from_run_heads(backend& b, std::vector<secret>& values, secret head) {
  const std::size_t rows = head.size();
  for (std::size_t d = 1; d < rows; d *= 2) {
    const std::size_t len = rows - d;
    // v[i] = v[i - d] + h[i] (v[i] - v[i - d]); h[i] = h[i] + h[i - d] - h[i] h[i - d], i >= d.
    const auto here = slice(head, d, len);
    for (auto& v : values) {
      auto p = b.mul(here, b.sub(slice(v, d, len), slice(v, 0, len)));
      each_component(v, p, [&](std::vector<word>& x, const std::vector<word>& q) {
        for (std::size_t i = rows; i-- > d;)
          x[i] = x[i - d] + q[i - d];
      });
    }
    auto p = b.mul(here, slice(head, 0, len));
    each_component(head, p, [&](std::vector<word>& h, const std::vector<word>& q) {
      for (std::size_t i = rows; i-- > d;)
        h[i] = h[i] + h[i - d] - q[i - d];
    });
  }
}

/// 1 unless a sum in `counts` is not 0, opened: the one bit join_many reveals.
bool none_counted(backend& b, const secret& counts) {
  auto bit = b.reveal(b.eq(b.sum(counts), b.constant(0, 1)));
  return bit.at(0) == 1;
}

} // namespace

secret_table join_many(backend& b, const secret_table& many, std::size_t many_key, const secret_table& unique,
                       std::size_t unique_key, bool one_to_one, bool& keys_ok, unsigned key_bits) {
  check_table("join_many", "many", many, many_key);
  check_table("join_many", "unique", unique, unique_key);
  const auto cm = many.columns.size();
  const auto cu = unique.columns.size();
  const auto n = unique.rows;
  const auto m = many.rows;
  const auto total = n + m;
  keys_ok = true;
  secret_table out;
  out.rows = m;
  if (n == 0 || m == 0) {
    // Nothing can match (the sizes are public): many's rows, zero unique columns, none valid.
    out.columns = many.columns;
    for (std::size_t j = 0; j < cu; ++j)
      out.columns.push_back(b.constant(0, m));
    out.valid = b.constant(0, m);
    return out;
  }
  // The union: unique's rows (side 0), then many's (side 1); slot j holds column j of the row's
  // own side (0 where that side has fewer columns).
  std::vector<word> sides(total, 0);
  std::fill(sides.begin() + static_cast<std::ptrdiff_t>(n), sides.end(), 1);
  auto side = constants(b, sides);
  auto key = concat({&unique.columns[unique_key], &many.columns[many_key]});
  auto valid = concat({&unique.valid, &many.valid});
  const auto slots = std::max(cm, cu);
  std::vector<secret> slot;
  for (std::size_t j = 0; j < slots; ++j) {
    auto u = j < cu ? unique.columns[j] : b.constant(0, n);
    auto v = j < cm ? many.columns[j] : b.constant(0, m);
    slot.push_back(concat({&u, &v}));
  }
  std::vector<secret> candidates;
  secret match;
  if (one_to_one) {
    // Sort key 2 key + side (invalid rows: 2^61 + 2 i), distinct while both sides' keys are; a
    // many row matches exactly when the row before it is 1 below (its key's unique row).
    auto sort_key = keys_or_distinct(b, b.add(b.mul_public(key, 2), side), valid, invalid_base, 2, 0);
    key = valid = secret{};
    std::vector<secret*> sorted{&sort_key, &side};
    for (auto& c : slot)
      sorted.push_back(&c);
    sort_distinct(b, sorted);
    auto here = slice(sort_key, 0, total - 1);
    auto plus_one = b.add_public(here, 1);
    auto next = slice(sort_key, 1, total - 1);
    auto tests = b.eq(concat({&here, &plus_one}), concat({&next, &next}));
    keys_ok = none_counted(b, slice(tests, 0, total - 1));
    match = b.constant(0, 1);
    append(match, slice(tests, total - 1, total - 1));
    // Unique's columns from the row before, then many's own (moved: the largest buffers here).
    std::vector<secret> before;
    for (std::size_t j = 0; j < cu; ++j) {
      before.push_back(b.constant(0, 1));
      append(before.back(), slice(slot[j], 0, total - 1));
    }
    for (std::size_t j = 0; j < cm; ++j)
      candidates.push_back(std::move(slot[j]));
    for (auto& c : before)
      candidates.push_back(std::move(c));
  } else {
    // Distinct sort keys (key, side, row): unique's row first in each run of equal keys, then
    // many's rows in their order. One word when the key leaves room for side and row number,
    // else the pair (key, side 2^32 + row). Invalid rows get keys 2^61 + i, runs of their own.
    const auto bits = index_bits(total);
    std::vector<word> rows(total);
    for (std::size_t i = 0; i < total; ++i)
      rows[i] = static_cast<word>(i);
    auto row = constants(b, rows);
    auto run_key = keys_or_distinct(b, key, valid, invalid_base, 1, 0);
    std::vector<secret> keys;
    if (key_bits + bits <= 60) {
      auto packed = b.add(b.mul_public(b.add(b.mul_public(key, 2), side), word{1} << bits), row);
      keys.push_back(keys_or_distinct(b, packed, valid, invalid_base, 1, 0));
      keys.push_back(run_key);
    } else {
      keys.push_back(run_key);
      keys.push_back(b.add(b.mul_public(side, word{1} << 32), row));
    }
    key = valid = row = run_key = secret{};
    std::vector<secret*> sorted{&keys[0], &keys[1], &side};
    for (auto& c : slot)
      sorted.push_back(&c);
    sort_distinct(b, sorted, key_bits + bits <= 60 ? 1 : 2);
    const auto& runs = key_bits + bits <= 60 ? keys[1] : keys[0];
    // A run starts where the key changes; a unique row inside a run repeats a unique key.
    auto same = b.eq(slice(runs, 1, total - 1), slice(runs, 0, total - 1));
    auto head = b.constant(1, 1);
    append(head, one_minus(b, same));
    keys_ok = none_counted(b, b.mul(same, one_minus(b, slice(side, 1, total - 1))));
    // Unique's columns copied along the runs, but for its key: on a matching row it is the many
    // row's own key (slot many_key), and elsewhere the unique columns are meaningless anyway.
    std::vector<secret> values{one_minus(b, side)};
    for (std::size_t j = 0; j < cu; ++j)
      if (j != unique_key)
        values.push_back(slot[j]);
    copy_from_run_heads(b, values, std::move(head));
    // A many row matches where its run starts with a unique row.
    match = b.mul(values[0], side);
    std::vector<secret> unique_part;
    for (std::size_t j = 0, v = 1; j < cu; ++j)
      unique_part.push_back(j == unique_key ? slot[many_key] : std::move(values[v++]));
    for (std::size_t j = 0; j < cm; ++j)
      candidates.push_back(std::move(slot[j]));
    for (auto& c : unique_part)
      candidates.push_back(std::move(c));
  }
  candidates.push_back(std::move(match));
  auto kept = keep_flagged(b, candidates, side, m);
  out.valid = std::move(kept.back());
  kept.pop_back();
  out.columns = std::move(kept);
  return out;
}

} // namespace joconde::engines::kernels
