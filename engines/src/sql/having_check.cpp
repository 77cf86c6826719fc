// The checks of HAVING's dominance rule (docs/task-language.md §4.1): DOMINANCE(x, n) <= p takes a
// row expression x of non-negative numbers with a proved range, over one-hot group masks, and its
// exact comparison 100 top_n <= p SUM(x) must fit the ring (kernels::check_dominance).

#include "joconde/engines/sql/checker.hpp"

namespace joconde::engines::sql {

void check_dominance(select_stmt& s, const scope& sc) {
  if (!s.dominance)
    return;
  auto& d = *s.dominance;
  auto& x = *d.value;
  d.written = quote(x, sc.source);
  const auto& written = d.written;
  if (has_aggregate(x))
    throw sql_error(x.pos, "DOMINANCE takes each row's value, not an aggregate: write DOMINANCE(" + either(columns_of(x))
                             + ", " + std::to_string(d.n) + "), not DOMINANCE(" + written + ", "
                             + std::to_string(d.n) + ")");
  scope rows = sc;
  rows.clause = "HAVING";
  check_expr(x, rows, true);  // a row value, as an aggregate's argument
  d.text = "DOMINANCE(" + written + ", " + std::to_string(d.n) + ") <= " + std::to_string(d.p);
  refuse_nullable(x, sc.source, d.text, "give DOMINANCE a column declared without NULL");
  if (x.type.kind != value_kind::number)
    throw sql_error(x.pos, "DOMINANCE needs a number (each contributor's magnitude, such as turnover), but " + written
                             + " is " + describe(x.type));
  if (!x.range.bounded)
    throw sql_error(x.pos, written + " has no declared RANGE, so " + d.text
                             + " cannot be proven to fit the ring; declare a RANGE from 0 for "
                             + either(columns_of(x)));
  if (x.range.lo < 0)
    throw sql_error(x.pos, written + " may be negative (down to " + format_bound(x.range.lo) + "), but " + d.text
                             + " is a rule for non-negative magnitudes (turnover, employment); declare a RANGE "
                               "from 0 or give a non-negative expression");
  prove(x, x.range, sc.source);
  d.lo = static_cast<std::int64_t>(x.range.lo);
  d.hi = static_cast<std::int64_t>(x.range.hi);
  if (!kernels::check_dominance(s.max_rows, d.lo, d.hi)) {
    const auto bound = int128{100} * static_cast<int128>(s.max_rows) * x.range.hi;
    throw sql_error(d.pos, d.text + ": its exact comparison needs 100 x " + std::to_string(s.max_rows)
                             + " rows x the largest " + written + " below 2^61, but that is "
                             + format_bound(bound) + "; declare " + either(columns_of(x))
                             + " in coarser units (e.g. thousands of EUR), a narrower RANGE or a smaller max_rows");
  }
}

} // namespace joconde::engines::sql
