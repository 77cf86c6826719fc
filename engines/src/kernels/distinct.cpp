// COUNT(DISTINCT x) per group, over either kind of grouping: the rows sorted on (group, counts,
// x), so that equal values of a group's counted rows are neighbours; a counted row whose (group,
// x) differs from the row before it is the first of its value, and the groups' numbers of such
// rows are sums read at their anchors (sorted_differences), as sort_by_group's are.
//
// The sort key (class, x - lo, row) is distinct, so the sort reveals nothing but the row count;
// the class (code 2 + anchor) 2 + 1 - filter puts, per group, the rows that count first, then the
// others, then the group's anchor. It takes one word where its bits allow, else two: the class
// and the top bits of x - lo, then its low bits and the row.

#include "joconde/engines/kernels.hpp"

#include "common.hpp"

#include <algorithm>
#include <bit>
#include <numeric>

namespace joconde::engines::kernels {

using namespace detail;

namespace {

/// The rows count_distinct sorts: per row its group code, whether it counts and whether it is a
/// group's anchor (none without anchors: one group, whose count is a plain sum).
struct distinct_rows {
  secret code;
  secret filter;
  secret anchor;
  bool anchored = false;
};

/// The rows of a grouping, with one anchor per group after its rows (the sorted rows have them;
/// masks get them appended, of code g, x irrelevant) unless there is only one group over masks.
distinct_rows rows_of_grouping(backend& b, const grouping& by, std::size_t n) {
  distinct_rows r;
  const auto groups = by.groups();
  if (const auto* s = by.sorted()) {
    if (!s->spans.empty())
      size_error("count_distinct", "sorted groups with spans of codes (a value may repeat across its codes)");
    // A sorted row's group: the number of anchors before it.
    r.filter = s->filter;
    r.anchor = s->anchor;
    r.code = s->anchor;
    prefix_sums(r.code);
    r.code = b.sub(r.code, r.anchor);
    r.anchored = true;
    return r;
  }
  const auto& masks = *by.masks();
  r.filter = groups == 1 ? masks : b.constant(0, n);
  r.code = b.constant(0, n);
  for (std::size_t g = 0; g < groups && groups > 1; ++g) {
    auto m = slice(masks, g * n, n);
    r.filter = b.add(r.filter, m);
    if (g > 0)
      r.code = b.add(r.code, b.mul_public(m, static_cast<word>(g)));
  }
  if (groups == 1)
    return r;
  std::vector<word> codes(groups);
  std::iota(codes.begin(), codes.end(), word{0});
  append(r.code, constants(b, codes));
  append(r.filter, b.constant(0, groups));
  r.anchor = b.constant(0, n);
  append(r.anchor, b.constant(1, groups));
  r.anchored = true;
  return r;
}

} // namespace

secret count_distinct(backend& b, const grouping& by, const secret& x, std::int64_t lo, std::int64_t hi) {
  const auto groups = by.groups();
  const auto n = rows_of("count_distinct", by);
  expect_size("count_distinct", "x", x, n);
  if (hi < lo || static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo) >= std::uint64_t{1} << 62)
    size_error("count_distinct", "x declared in [" + std::to_string(lo) + ", " + std::to_string(hi)
                                   + "], wider than 2^62");
  auto r = rows_of_grouping(b, by, n);
  const auto rows = r.filter.size();
  if (rows == 0)
    return b.constant(0, groups);
  // x - lo where the row counts, 0 elsewhere (anchors, filtered rows and a join's unmatched rows,
  // whose values may lie outside [lo, hi]): one mul.
  auto value = x;
  if (r.anchored && value.size() != rows)
    append(value, b.constant(w(lo), groups));
  value = b.mul(b.add_public(value, w(-lo)), r.filter);
  auto cls = b.add(b.mul_public(r.code, 4), b.add_public(b.mul_public(r.filter, w(-1)), 1));
  if (r.anchored)
    cls = b.add(cls, b.mul_public(r.anchor, 2));
  const auto class_bits = static_cast<unsigned>(std::bit_width(groups - 1)) + 2;
  const auto v = static_cast<unsigned>(std::bit_width(static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo)));
  const auto rb = index_bits(rows);
  std::vector<word> places(rows);
  std::iota(places.begin(), places.end(), word{0});
  const auto m = rows - 1;
  secret same;  // per row but the first: whether its (class, x) is the row before's
  std::vector<secret*> sorted;
  if (class_bits + v + rb <= 60) {
    auto part = b.add(b.mul_public(cls, word{1} << v), value);
    auto key = b.add(b.mul_public(part, word{1} << rb), constants(b, places));
    sorted = {&key, &part, &r.filter};
    if (r.anchored)
      sorted.push_back(&r.anchor);
    if (rows > 1) {
      sort_distinct(b, sorted, 1);
      same = b.eq(slice(part, 1, m), slice(part, 0, m));
    }
  } else {
    // (class 2^(v - s) + top, low 2^rb + row) for x - lo = top 2^s + low, s chosen so that both
    // words stay below 2^62 (the class below 2^23, v and rb below 63 and 35).
    const auto s = std::min({v, 59u, 62u - rb});
    auto top = b.constant(0, rows);
    auto low = value;
    if (s < v) {
      top = floor_shift(b, value, s);
      low = b.sub(value, b.mul_public(top, word{1} << s));
    }
    auto high = b.add(b.mul_public(cls, word{1} << (v - s)), top);
    auto key = b.add(b.mul_public(low, word{1} << rb), constants(b, places));
    sorted = {&high, &key, &low, &r.filter};
    if (r.anchored)
      sorted.push_back(&r.anchor);
    if (rows > 1) {
      sort_distinct(b, sorted, 2);
      auto later = slice(high, 1, m);
      append(later, slice(low, 1, m));
      auto earlier = slice(high, 0, m);
      append(earlier, slice(low, 0, m));
      auto equal = b.eq(later, earlier);
      same = b.mul(slice(equal, 0, m), slice(equal, m, m));
    }
  }
  // A counted row whose (class, x) is not the row before's is its value's first in its group.
  auto before = b.constant(0, 1);
  append(before, same);
  auto first = b.sub(r.filter, b.mul(r.filter, before));
  if (!r.anchored)
    return b.sum(first);
  prefix_sums(first);
  sorted_groups anchors;
  anchors.groups = groups;
  anchors.filter = std::move(r.filter);
  anchors.anchor = std::move(r.anchor);
  return sorted_differences(b, anchors, {std::move(first)})[0];
}

} // namespace joconde::engines::kernels
