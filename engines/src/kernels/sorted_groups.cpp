// Grouping by sorting: per-group sums over any number of groups (up to 2^20) in O(n log n), where
// the one-hot masks of groups.cpp cost one equality test per (group, row).
//
// The rows are sorted by group code with one anchor row closing each group; a sum per group is then
// a prefix sum along the sorted rows (local: shares of prefix sums are prefix sums of shares) read
// at the anchors, minus the one read at the anchor before. Where the anchors stand would tell the
// group sizes, so the prefix sums are shuffled before the anchors are found: what is revealed is
// which shuffled rows are anchors (any G of n + G, uniformly) and their ranks (a uniformly random
// permutation of 1..G), nothing about the data.

#include "joconde/engines/kernels.hpp"

#include "common.hpp"

#include <algorithm>
#include <bit>

namespace joconde::engines::kernels {

using namespace detail;

namespace {

/// `x` with `extra` copies of its first element appended (zeros if it is empty, as from `b`).
secret with_anchors(backend& b, const secret& x, std::size_t extra) {
  auto out = x;
  if (x.size() == 0)
    return b.constant(0, extra);
  for (std::size_t i = 0; i < extra; ++i) {
    out.a.push_back(x.a[0]);
    if (!x.b.empty())
      out.b.push_back(x.b[0]);
  }
  return out;
}

/// The positions of the shuffled anchors in the order of their ranks (1..G), from the revealed
/// anchor flags and ranks; throws unless exactly G anchors with distinct ranks 1..G are seen,
/// which an honest run always gives.
std::vector<std::size_t> anchors_by_rank(backend& b, const secret& anchor, const secret& rank,
                                         std::size_t groups) {
  auto at = opened_ones(b, anchor, groups, "sorted_sums", "anchors (one per group)");
  auto ranks = b.reveal(gather(rank, at));
  const auto none = anchor.size();
  std::vector<std::size_t> by_rank(groups, none);
  for (std::size_t j = 0; j < groups; ++j) {
    if (ranks[j] < 1 || ranks[j] > groups || by_rank[ranks[j] - 1] != none)
      size_error("sorted_sums", "the anchors' ranks are not 1.." + std::to_string(groups));
    by_rank[ranks[j] - 1] = at[j];
  }
  return by_rank;
}

} // namespace

sorted_groups sort_by_group(backend& b, const secret& codes, std::size_t groups, const secret& filter,
                            const std::vector<secret>& columns) {
  const auto n = codes.size();
  expect_size("sort_by_group", "filter", filter, n);
  for (const auto& c : columns)
    expect_size("sort_by_group", "a column", c, n);
  if (groups == 0 || groups > max_sorted_groups)
    size_error("sort_by_group", std::to_string(groups) + " groups requested (1.." + std::to_string(max_sorted_groups) + " can be)");
  // Distinct keys: code * 2^(bits + 1) + anchor * 2^bits + row, so a group's rows come in their
  // order and its anchor after them; below 2^(20 + 1 + 33) whatever n this machine can hold.
  const auto bits = index_bits(n);
  std::vector<word> rows(n);
  for (std::size_t i = 0; i < n; ++i)
    rows[i] = static_cast<word>(i);
  auto key = b.add(b.mul_public(codes, word{1} << (bits + 1)), constants(b, rows));
  std::vector<word> anchor_keys(groups);
  for (std::size_t g = 0; g < groups; ++g)
    anchor_keys[g] = (static_cast<word>(g) << (bits + 1)) | (word{1} << bits);
  append(key, constants(b, anchor_keys));
  sorted_groups s;
  s.groups = groups;
  s.filter = filter;
  append(s.filter, b.constant(0, groups));
  s.anchor = b.constant(0, n);
  append(s.anchor, b.constant(1, groups));
  for (const auto& c : columns)
    s.columns.push_back(with_anchors(b, c, groups));
  std::vector<secret*> sorted{&key, &s.filter, &s.anchor};
  for (auto& c : s.columns)
    sorted.push_back(&c);
  sort_distinct(b, sorted);
  return s;
}

std::vector<secret> sorted_sums(backend& b, const sorted_groups& s, const std::vector<const secret*>& values) {
  const auto rows = s.rows();
  expect_size("sorted_sums", "anchor", s.anchor, rows);
  // The values of filtered rows count for nothing: one product with the filter for all of them
  // (the filter itself needs none).
  std::vector<const secret*> to_mask;
  for (const auto* v : values) {
    expect_size("sorted_sums", "a value", *v, rows);
    if (v != &s.filter)
      to_mask.push_back(v);
  }
  secret masked;
  if (!to_mask.empty())
    masked = b.mul(concat(to_mask), tile(s.filter, to_mask.size()));
  std::vector<secret> prefixes;
  for (std::size_t i = 0, k = 0; i < values.size(); ++i) {
    prefixes.push_back(values[i] == &s.filter ? s.filter : slice(masked, (k++) * rows, rows));
    prefix_sums(prefixes.back());
  }
  return detail::sorted_differences(b, s, std::move(prefixes));
}

namespace detail {

std::vector<secret> sorted_differences(backend& b, const sorted_groups& s, std::vector<secret> prefixes) {
  const auto rows = s.rows();
  expect_size("sorted_sums", "anchor", s.anchor, rows);
  std::vector<secret> shuffled;
  shuffled.push_back(s.anchor);
  shuffled.push_back(s.anchor);
  prefix_sums(shuffled.back());  // the anchors' ranks, 1..G
  for (auto& p : prefixes) {
    expect_size("sorted_sums", "a prefix column", p, rows);
    shuffled.push_back(std::move(p));
  }
  std::vector<secret*> columns;
  for (auto& c : shuffled)
    columns.push_back(&c);
  b.shuffle(columns);
  auto at = anchors_by_rank(b, shuffled[0], shuffled[1], s.groups);
  // The runs of codes summed, f..l: each code alone, or the spans. With P_g, the sum over codes
  // 0..g, read at the g-th anchor and put after a 0 (P_(-1)), a run's sum is P_l - P_(f-1).
  std::vector<std::size_t> after_last(s.outputs());
  std::vector<std::size_t> first(s.outputs());
  for (std::size_t j = 0; j < first.size(); ++j) {
    first[j] = s.spans.empty() ? j : s.spans[j].first;
    after_last[j] = (s.spans.empty() ? j : s.spans[j].second) + 1;
    if (first[j] >= after_last[j] || after_last[j] > s.groups)
      size_error("sorted_sums", "a span of codes outside 0.." + std::to_string(s.groups - 1));
  }
  std::vector<secret> out;
  for (std::size_t i = 2; i < shuffled.size(); ++i) {
    auto upto = b.constant(0, 1);
    append(upto, gather(shuffled[i], at));
    out.push_back(b.sub(gather(upto, after_last), gather(upto, first)));
  }
  return out;
}

} // namespace detail

} // namespace joconde::engines::kernels
