// The aggregates of joconde-sql/1 in the checker (docs/task-language.md §4): where they may stand,
// their arguments' types, and the type and proved range of each result, from COUNT to REGR_R2 and
// the order statistics.

#include "joconde/engines/sql/checker.hpp"

#include <algorithm>
#include <optional>

namespace joconde::engines::sql {

namespace {

using i128 = int128;

/// Checks an aggregate's argument types and proves each argument's range (COUNT aside).
void check_aggregate_args(expr& e, const scope& sc) {
  for (auto& a : e.args) {
    if (a->type.kind == value_kind::boolean
        && (e.agg == kernels::aggregate::sum || e.agg == kernels::aggregate::avg)) {
      a->type = value_type{};
      a->type.integral = true;
      continue;
    }
    if (!number(*a))
      throw sql_error(a->pos, e.name + " needs a number, but " + quote(*a, sc.source) + " is "
                                + describe(a->type));
    if (!a->range.bounded)
      refuse_unbounded(e, sc.source);
    prove(*a, a->range, sc.source);
  }
}

/// Types COUNT (integral, 0..max_rows) and checks the kernel can count that many rows.
void check_count(expr& e, const scope& sc, i128 n) {
  for (auto& a : e.args)
    if (a->type.kind == value_kind::text)
      throw sql_error(a->pos, "COUNT counts rows; give it * or a column, not a text");
  e.type.integral = true;
  e.range = interval{0, n, true};
  auto ok = kernels::check_range(kernels::aggregate::count, sc.max_rows, 0, 1);
  if (!ok)
    throw sql_error(e.pos, quote(e, sc.source) + ": " + ok.err().message);
}

/// Sets the result type and range of a non-COUNT aggregate from its (checked) arguments.
void type_statistic(expr& e, i128 n) {
  const auto& x = *e.args[0];
  i128 lo = x.range.lo;
  i128 hi = x.range.hi;
  const i128 one = i128{1} << kernels::stat_frac;
  const int frac = static_cast<int>(kernels::stat_frac);
  i128 w = hi - lo;
  e.type.dec = x.type.dec;
  e.type.bin = x.type.bin + frac;
  switch (e.agg) {
    case kernels::aggregate::sum:
      e.type.bin = x.type.bin;
      e.type.integral = x.type.integral;
      e.range = interval{std::min<i128>(0, sat_mul(n, lo)), std::max<i128>(0, sat_mul(n, hi)),
                         true};
      break;
    case kernels::aggregate::min:
    case kernels::aggregate::max:
      e.type = x.type;
      e.range = x.range;
      break;
    case kernels::aggregate::median:
      // Twice the median, exactly: one more binary fraction bit.
      e.type = x.type;
      e.type.integral = false;
      e.type.bin = x.type.bin + 1;
      e.range = interval{std::min<i128>(0, 2 * lo), std::max<i128>(0, 2 * hi), true};
      break;
    case kernels::aggregate::percentile_disc:
      // One of the values, exactly (0 for an empty group).
      e.type = x.type;
      e.range = interval{std::min<i128>(0, lo), std::max<i128>(0, hi), true};
      break;
    case kernels::aggregate::percentile_cont: {
      // Times p's denominator 10^d, exactly: d more decimals.
      const auto scale = pow10(e.fraction_dec);
      e.type = x.type;
      e.type.integral = x.type.integral && e.fraction_dec == 0;
      e.type.dec = x.type.dec + e.fraction_dec;
      e.range = interval{std::min<i128>(0, sat_mul(lo, scale)), std::max<i128>(0, sat_mul(hi, scale)), true};
      break;
    }
    case kernels::aggregate::avg:
      e.range = interval{std::min<i128>(0, lo) * one, std::max<i128>(0, hi) * one, true};
      break;
    case kernels::aggregate::var_samp:
    case kernels::aggregate::var_pop:
      e.type.dec = 2 * x.type.dec;
      e.type.bin = 2 * x.type.bin + frac;
      e.range = interval{0, sat_mul(sat_mul(w, w) / 2 + 1, one), true};
      break;
    case kernels::aggregate::stddev_samp:
    case kernels::aggregate::stddev_pop:
      e.range = interval{0, w * one, true};
      break;
    case kernels::aggregate::covar_samp:
    case kernels::aggregate::covar_pop: {
      // |cov| <= sqrt(var(x) var(y)) <= width(x) width(y) / 2, plus the protocols' few units.
      const auto& ys = *e.args[1];
      e.type.dec = x.type.dec + ys.type.dec;
      e.type.bin = x.type.bin + ys.type.bin + frac;
      i128 s = sat_mul(sat_mul(w, ys.range.hi - ys.range.lo) / 2 + 1, one);
      e.range = interval{-s, s, true};
      break;
    }
    case kernels::aggregate::corr:
      e.type.dec = 0;
      e.type.bin = frac;
      e.range = interval{-one, one, true};
      break;
    case kernels::aggregate::regr_r2:
      e.type.dec = 0;
      e.type.bin = frac;
      e.range = interval{0, one, true};
      break;
    case kernels::aggregate::regr_slope: {
      const auto& xs = *e.args[1];
      e.type.dec = x.type.dec - xs.type.dec;
      e.type.bin = x.type.bin - xs.type.bin + frac;
      // For whole-number x, sum (x - mean)^2 >= sum |x - mean| / 2, so |slope| <= 2 width(y);
      // slope_limit adds the margin of the protocols' approximations.
      i128 s = sat_mul(kernels::slope_limit(w), one);
      e.range = interval{-s, s, true};
      break;
    }
    case kernels::aggregate::regr_intercept: {
      const auto& xs = *e.args[1];
      i128 ay = std::max(lo < 0 ? -lo : lo, hi < 0 ? -hi : hi);
      i128 ax = std::max(xs.range.lo < 0 ? -xs.range.lo : xs.range.lo,
                         xs.range.hi < 0 ? -xs.range.hi : xs.range.hi);
      i128 s = sat_mul(ay + sat_mul(kernels::slope_limit(w), ax), one);
      e.range = interval{-s, s, true};
      break;
    }
    case kernels::aggregate::count: break;
  }
}

} // namespace

void check_aggregate(expr& e, const scope& sc, bool in_aggregate) {
  if (in_aggregate)
    throw sql_error(e.pos,
                    "aggregates cannot be nested: " + e.name + " is inside another aggregate");
  if (!sc.aggregated)
    throw sql_error(e.pos, "aggregates are not allowed in " + sc.clause
                             + (sc.clause == "WHERE" ? " (it filters rows before they are "
                                                       "aggregated; use HAVING COUNT(*) >= k to "
                                                       "suppress small groups)"
                                                     : ""));
  if (e.distinct) {
    check_count_distinct(e, sc);
    return;
  }
  for (auto& a : e.args)
    check_expr(*a, sc, true);
  auto n = static_cast<i128>(sc.max_rows);
  e.type = value_type{};
  if (e.agg == kernels::aggregate::count) {
    check_count(e, sc, n);
    return;
  }
  check_aggregate_args(e, sc);
  type_statistic(e, n);
  const bool may_widen = e.agg != kernels::aggregate::min && e.agg != kernels::aggregate::max
                         && e.agg != kernels::aggregate::median && e.agg != kernels::aggregate::percentile_cont
                         && e.agg != kernels::aggregate::percentile_disc;
  if (!may_widen)
    prove(e, e.range, sc.source);
  const auto& x = *e.args[0];
  auto lo = static_cast<std::int64_t>(x.range.lo);
  auto hi = static_cast<std::int64_t>(x.range.hi);
  auto ok = e.args.size() == 2
              ? kernels::check_range(e.agg, sc.max_rows, lo, hi,
                                     static_cast<std::int64_t>(e.args[1]->range.lo),
                                     static_cast<std::int64_t>(e.args[1]->range.hi))
              : kernels::check_range(e.agg, sc.max_rows, lo, hi);
  if (ok && e.agg == kernels::aggregate::percentile_cont)
    ok = kernels::check_percentile_cont(sc.max_rows, lo, hi, static_cast<word>(pow10(e.fraction_dec)));
  const bool in_ring = max_abs(e.range) < ring_limit;
  if (ok && in_ring)
    return;
  if (may_widen) {
    // Perhaps in two limbs: check_output_match decides, once it knows the output's scale.
    e.wide = true;
    // A sum's or a variance's own bound says it best; a mean's or a standard deviation's is that
    // of its fixed-point form, so check_range's words instead.
    const bool by_bound = !in_ring
                          && (e.agg == kernels::aggregate::sum || e.agg == kernels::aggregate::var_samp
                              || e.agg == kernels::aggregate::var_pop || e.agg == kernels::aggregate::covar_samp
                              || e.agg == kernels::aggregate::covar_pop || ok);
    e.wide_refusal = by_bound ? "it may reach " + format_bound(std::max(-e.range.lo, e.range.hi))
                                  + ", beyond the ring's 2^62"
                              : ok.err().message;
    return;
  }
  throw sql_error(e.pos, quote(e, sc.source) + ": " + ok.err().message);
}

} // namespace joconde::engines::sql
