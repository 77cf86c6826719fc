// HAVING's confidentiality rules in the executor (docs/task-language.md §4.1): the minimum-frequency
// rule COUNT(*) >= k and the dominance rule DOMINANCE(x, n) <= p, combined into the published
// column whose code says which rule withheld a group.

#include "joconde/engines/kernels.hpp"
#include "joconde/engines/secret_ops.hpp"
#include "joconde/engines/sql/evaluate.hpp"

namespace joconde::engines::sql {

having_verdict having_rules(backend& b, const select_stmt& s, const secret& counts,
                            const std::optional<secret>& masks, const frame& rows) {
  const auto groups = s.groups;
  const auto k = b.constant(static_cast<word>(s.having_min), groups);
  if (!s.dominance) {
    auto frequent = logical_not(b, b.lt(counts, k));
    return {frequent, frequent};
  }
  if (s.sorted_grouping)
    throw engine_failure(fail(errc::invalid_state, "the dominance rule runs on one-hot group masks only"));
  const auto& d = *s.dominance;
  auto x = evaluate(b, *d.value, rows);
  const auto all = masks ? *masks : b.constant(1, rows.n);
  auto top = kernels::top_sum(b, all, groups, x, d.lo, d.hi, d.n);
  auto total = kernels::sum(b, all, x, groups);
  // Dominated where 100 top > p total, exactly: both lie in [0, 100 max_rows max(x)], below 2^61
  // (kernels::check_dominance). One lt for both rules: counts < k (never, without the count rule).
  auto times_p = b.mul_public(total, static_cast<word>(d.p));
  auto hundred_top = b.mul_public(top, 100);
  auto fails = b.lt(concat({&counts, &times_p}), concat({&k, &hundred_top}));
  auto frequent = logical_not(b, slice(fails, 0, groups));
  auto free = logical_not(b, slice(fails, groups, groups));
  auto by_dominance = b.add_public(b.mul_public(free, ~word{0}), 2);  // 2 - free: 1 or 2
  if (s.having_min == 0)
    return {std::move(free), std::move(by_dominance)};
  // Withheld by the count first: 0 wherever it fails, whatever the dominance verdict.
  auto both = b.mul(concat({&frequent, &frequent}), concat({&free, &by_dominance}));
  return {slice(both, 0, groups), slice(both, groups, groups)};
}

} // namespace joconde::engines::sql
