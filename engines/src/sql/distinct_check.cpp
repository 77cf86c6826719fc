// The checks of COUNT(DISTINCT x) (docs/task-language.md §4): x is a key column, a category, a
// boolean or a whole number with declared bounds, whose values the oblivious sort compares
// (kernels::count_distinct); the result is a count, like COUNT(*).

#include "joconde/engines/sql/checker.hpp"

namespace joconde::engines::sql {

namespace {

/// Keys are the first 58 bits of a SHA-256 (schema.hpp): their encoded values lie in [0, 2^58).
constexpr int128 key_limit = int128{1} << 58;

/// Resolves a key column argument of COUNT(DISTINCT ...) in place (keys are refused elsewhere
/// outside JOIN ... ON); false if `x` is not a key column.
bool key_argument(expr& x, const scope& sc) {
  if (x.kind != expr_kind::column)
    return false;
  const column_schema* col = nullptr;
  const auto index = resolve(sc, x.qualifier, x.name, x.pos, col);
  if (col->type != column_type::key)
    return false;
  x.column = index;
  x.type = value_type{};
  x.type.kind = value_kind::key;
  x.range = interval{0, key_limit - 1, true};
  return true;
}

} // namespace

void check_count_distinct(expr& e, const scope& sc) {
  auto& x = *e.args[0];
  if (!key_argument(x, sc))
    check_expr(x, sc, true);
  const auto what = quote(x, sc.source);
  switch (x.type.kind) {
    case value_kind::key:
    case value_kind::category:
    case value_kind::boolean: break;
    case value_kind::text:
      throw sql_error(x.pos, "COUNT(DISTINCT x) counts the values of a column or expression; '" + x.name
                               + "' is a constant");
    case value_kind::number:
      if (!x.type.integral || x.type.dec != 0 || x.type.bin != 0)
        throw sql_error(x.pos, "COUNT(DISTINCT x) counts keys, categories, booleans and whole numbers, but " + what
                                 + " is " + describe(x.type) + ", whose values rarely repeat exactly; count whole "
                                   "values, COUNT(DISTINCT ROUND(" + what + ", 0)), or bands, COUNT(DISTINCT "
                                   "WIDTH_BUCKET(" + what + ", low, high, n))");
      if (!x.range.bounded)
        throw sql_error(x.pos, "`" + what + "` has no declared RANGE, so COUNT(DISTINCT " + what
                                 + ") cannot be proven to fit the ring; declare a RANGE for " + what);
      prove(x, x.range, sc.source);
      if (x.range.hi - x.range.lo >= ring_limit)
        throw sql_error(x.pos, "COUNT(DISTINCT " + what + ") sorts on " + what + ", whose declared range is 2^62 "
                                 "wide or more; declare a narrower RANGE");
      break;
  }
  e.type = value_type{};
  e.type.integral = true;
  e.range = interval{0, static_cast<int128>(sc.max_rows), true};
  auto ok = kernels::check_range(kernels::aggregate::count, sc.max_rows, 0, 1);
  if (!ok)
    throw sql_error(e.pos, quote(e, sc.source) + ": " + ok.err().message);
}

} // namespace joconde::engines::sql
