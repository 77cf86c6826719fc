// check_range: the static conditions under which every kernel keeps its intermediates inside the
// ring (|v| < 2^62) with the documented precision. The bounds follow the formulas of moments.cpp
// and statistics.cpp step by step (var_samp keeps its comoment with 24 fraction bits, the others
// with 8 where it is large); `delta` bounds |mean - c| for the integer centre c, which two
// approximate divisions (relative 2^-29 plus 2 units each) bring within 3 + |mean| 2^-58.

#include "joconde/engines/kernels.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

namespace joconde::engines::kernels {

namespace {

using real = long double;

const real two62 = std::ldexp(real{1}, 62);
const real scale = std::ldexp(real{1}, static_cast<int>(stat_frac));

/// A declared argument range, widened to reals.
struct span_of {
  real lo;
  real hi;

  real width() const { return hi - lo; }
  real magnitude() const { return std::max(std::fabs(lo), std::fabs(hi)); }
  /// Bound on |mean - c| where c is the (possibly approximate) centre.
  real delta() const { return 3 + magnitude() * std::ldexp(real{1}, -58); }
  /// The moments' precision: |mean - c| <= 3.25, so that the term (S_p - n c_p)(S_q - n c_q) /
  /// (n (n - 1)) of a comoment stays below 22 and div's relative error on it below 1.5 units.
  bool centred() const { return magnitude() < std::ldexp(real{1}, 56); }
};

bool variance_fits(real n, const span_of& x) {
  const auto w = x.width();
  const auto d = x.delta();
  return n <= std::ldexp(real{1}, 24) && n * x.magnitude() < two62 && x.centred()
         && n * (w * w / 4 + d * d) < two62 && 2 * (w * w / 4 + d * d) * scale < two62
         && (n * d) * (n * d) < two62;
}

/// The two-scale path of stddev, corr and regr_*: the comoment needs only 8 fraction bits to fit,
/// and sd * 2^24 (or cov / sd * 2^24) must fit.
bool spread_fits(real n, const span_of& x) {
  const auto w = x.width();
  const auto d = x.delta();
  return n <= std::ldexp(real{1}, 24) && n * x.magnitude() < two62 && x.centred()
         && n * (w * w / 4 + d * d) < two62 && 2 * (w * w / 4 + d * d) * 256 < two62
         && (n * d) * (n * d) < two62 && w * scale < two62;
}

bool cross_fits(real n, const span_of& x, const span_of& y) {
  const auto c = x.width() * y.width() / 4 + x.delta() * y.delta();
  return n * y.magnitude() < two62 && y.centred() && n * c < two62 && 2 * c * 256 < two62
         && (n * x.delta()) * (n * y.delta()) < two62 && y.width() * scale < two62;
}

/// Bound on |slope| of y on x over a nonconstant group of integer x, with a margin for the
/// approximations: slope = sum d_i (y_i - m) / sum d_i^2 for d_i = x_i - mean(x) and any m, so
/// |slope| <= (w_y / 2) sum |d_i| / sum d_i^2 <= 2 w_y, because sum |d_i| = 2 sum over d_i > 0
/// (or over d_i < 0) of |d_i|, and on the side opposite the nearest integer every |d_i| >= 1/2,
/// hence |d_i| <= 2 d_i^2. The margin (8 times, plus 16) covers a computed variance a few units
/// below its true value when the variance itself is a few units (2^-24) only: the computed one is
/// at least one unit and at most 6 below the true one, so the computed slope stays within
/// 6.5 |slope| + 5.5. The compiler types REGR_SLOPE with this bound too (expr_check.cpp).
real slope_bound(real n, const span_of& y) {
  if (n < 2)
    return 0;
  return static_cast<real>(slope_limit(static_cast<i128>(y.width())));
}

/// Whether `agg` fits for n rows; y is the first argument of regr_*, x the second.
bool fits(aggregate agg, real n, const span_of& a, const span_of& a2) {
  switch (agg) {
    case aggregate::count:
      return n < two62;
    case aggregate::sum:
      return n * a.magnitude() < two62;
    case aggregate::avg:
      return n * a.magnitude() < two62 && n < std::ldexp(real{1}, 48)
             && a.magnitude() * scale < two62;
    case aggregate::min:
    case aggregate::max:
      return a.magnitude() < two62 && a.width() < two62;
    case aggregate::median:
    case aggregate::percentile_cont:
    case aggregate::percentile_disc:
      // The sort key x 2^r + row, with r the bits of n, and twice the median (the percentiles
      // share the bound; PERCENTILE_CONT's scaled result has check_percentile_cont).
      return a.magnitude() * std::ldexp(real{1}, static_cast<int>(median_row_bits(static_cast<std::uint64_t>(n))) + 1)
             < two62;
    case aggregate::var_samp:
    case aggregate::var_pop:
      return variance_fits(n, a);
    case aggregate::covar_samp:
    case aggregate::covar_pop:
      // |S_xy_c| <= sqrt(S_xx_c S_yy_c) and |sc_x sc_y| <= max(sc_x^2, sc_y^2): every quantity of
      // the cross comoment is bounded by the larger of the two variances'.
      return variance_fits(n, a) && variance_fits(n, a2);
    case aggregate::stddev_samp:
    case aggregate::stddev_pop:
      return spread_fits(n, a);
    case aggregate::corr:
    case aggregate::regr_r2:
      return spread_fits(n, a) && spread_fits(n, a2) && cross_fits(n, a, a2);
    case aggregate::regr_slope:
    case aggregate::regr_intercept: {
      const auto& y = a;
      const auto& x = a2;
      const auto l = slope_bound(n, y) * (1 + std::ldexp(real{1}, -18));
      bool ok = spread_fits(n, x) && cross_fits(n, x, y) && l * scale < two62;
      if (agg == aggregate::regr_intercept) {
        const auto mx = x.magnitude() + x.delta();
        const auto my = y.magnitude() + y.delta();
        ok = ok && l * mx * scale < two62 && l * x.delta() * std::ldexp(real{1}, 32) < two62
             && (my + l * mx) * scale < two62;
      }
      return ok;
    }
  }
  return false;
}

const char* name_of(aggregate agg) {
  switch (agg) {
    case aggregate::count: return "COUNT";
    case aggregate::sum: return "SUM";
    case aggregate::avg: return "AVG";
    case aggregate::min: return "MIN";
    case aggregate::max: return "MAX";
    case aggregate::var_samp: return "VAR_SAMP";
    case aggregate::stddev_samp: return "STDDEV_SAMP";
    case aggregate::corr: return "CORR";
    case aggregate::regr_slope: return "REGR_SLOPE";
    case aggregate::regr_intercept: return "REGR_INTERCEPT";
    case aggregate::median: return "MEDIAN";
    case aggregate::percentile_cont: return "PERCENTILE_CONT";
    case aggregate::percentile_disc: return "PERCENTILE_DISC";
    case aggregate::var_pop: return "VAR_POP";
    case aggregate::stddev_pop: return "STDDEV_POP";
    case aggregate::covar_samp: return "COVAR_SAMP";
    case aggregate::covar_pop: return "COVAR_POP";
    case aggregate::regr_r2: return "REGR_R2";
  }
  return "aggregate";
}

bool two_arguments(aggregate agg) {
  return agg == aggregate::corr || agg == aggregate::regr_slope || agg == aggregate::regr_intercept
         || agg == aggregate::covar_samp || agg == aggregate::covar_pop || agg == aggregate::regr_r2;
}

span_of clamp(std::int64_t lo, std::int64_t hi, real k) {
  return {std::clamp(static_cast<real>(lo), -k, k), std::clamp(static_cast<real>(hi), -k, k)};
}

std::string range_text(std::int64_t lo, std::int64_t hi) {
  return "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
}

} // namespace

namespace {

/// Whether an aggregate fits for n rows and the two argument spans.
using fit_test = std::function<bool(real n, const span_of& a, const span_of& a2)>;

/// The message of a refused range: the widest symmetric bound K for the arguments at this row
/// count, or else the largest row count for the declared ranges. `ring` names the accumulation
/// ("the 64-bit ring", "128-bit sums").
error explain(const std::string& name, bool two, const fit_test& fits, std::uint64_t max_rows,
              std::int64_t lo, std::int64_t hi, std::int64_t lo2, std::int64_t hi2,
              const std::string& ring) {
  const auto n = static_cast<real>(max_rows);
  std::int64_t good = -1;
  std::int64_t lo_k = 0;
  std::int64_t hi_k = std::int64_t{1} << 62;
  while (lo_k <= hi_k) {
    const auto mid = lo_k + (hi_k - lo_k) / 2;
    const auto k = static_cast<real>(mid);
    if (fits(n, clamp(lo, hi, k), clamp(lo2, hi2, k))) {
      good = mid;
      lo_k = mid + 1;
    } else {
      hi_k = mid - 1;
    }
  }
  const auto declared = two ? "(declared " + range_text(lo, hi) + " and " + range_text(lo2, hi2)
                                + ")"
                            : "(declared " + range_text(lo, hi) + ")";
  if (good > 0)
    return error{errc::unsupported,
                 name + " over " + std::to_string(max_rows) + " rows could overflow " + ring + " "
                   + declared + "; it needs " + (two ? "both arguments" : "the argument")
                   + " within [" + std::to_string(-good) + ", " + std::to_string(good)
                   + "]: narrow the declared range(s) or lower max_rows"};
  std::uint64_t rows_ok = 0;
  std::uint64_t lo_n = 0;
  std::uint64_t hi_n = max_rows;
  const auto all = two62 * 4;
  while (lo_n <= hi_n && hi_n != 0) {
    const auto mid = lo_n + (hi_n - lo_n) / 2;
    if (fits(static_cast<real>(mid), clamp(lo, hi, all), clamp(lo2, hi2, all))) {
      rows_ok = mid;
      lo_n = mid + 1;
    } else {
      if (mid == 0)
        break;
      hi_n = mid - 1;
    }
  }
  return error{errc::unsupported, name + " over " + std::to_string(max_rows)
                                    + " rows could overflow " + ring + " " + declared
                                    + "; with these ranges it supports at most "
                                    + std::to_string(rows_ok) + " rows: lower max_rows or narrow "
                                    + "the declared range(s)"};
}

/// The conditions of wide_sum, wide_avg, wide_var_samp, wide_stddev_samp, wide_corr,
/// wide_regr_slope, wide_regr_intercept, wide_var_pop, wide_stddev_pop, wide_covar and
/// wide_regr_r2: see kernels.hpp.
bool wide_fits(aggregate agg, real n, const span_of& x, const span_of& y, word mul, word div) {
  const real limit = std::ldexp(real{1}, 30);
  const auto m = static_cast<real>(mul);
  const auto dv = static_cast<real>(div);
  if (n >= std::ldexp(real{1}, 27) || m >= limit)
    return false;
  if (agg == aggregate::sum || agg == aggregate::avg) {
    const auto d = agg == aggregate::avg ? n * dv : dv;
    const auto hi = n * (x.magnitude() * std::ldexp(real{1}, -32) + 2);
    return d < limit && x.magnitude() < two62 && (hi + 1) * m < two62;
  }
  // The moments: values below 2^53 (so the limbs' products stay below 2^60), the divisor (n - 1)
  // div below 2^45 (the long division's), n^2 (w + 1)^2 mul inside the 191 bits of the limbs, and
  // the result (var <= (w + 1)^2 / 2 for n >= 2) inside three words (below 2^125), or its root
  // inside one.
  const auto two53 = std::ldexp(real{1}, 53);
  if (agg == aggregate::covar_samp || agg == aggregate::covar_pop) {
    // As the variances, for both arguments; |cov| <= sqrt(var(x) var(y)) <= (w_x + 1)(w_y + 1) / 2.
    const auto wx = x.width() + 1;
    const auto wy = y.width() + 1;
    const auto limbs = std::ldexp(real{1}, 188);
    return x.magnitude() < two53 && y.magnitude() < two53 && n * dv < std::ldexp(real{1}, 45)
           && n * n * wx * wx * m < limbs && n * n * wy * wy * m < limbs
           && wx * wy * m / (2 * dv) < std::ldexp(real{1}, 124);
  }
  if (agg == aggregate::regr_r2)
    agg = aggregate::corr;
  if (agg == aggregate::corr || agg == aggregate::regr_slope || agg == aggregate::regr_intercept) {
    // For regr_* x is y (the first argument) and y is x, as in check_range.
    const auto wx = x.width() + 1;
    const auto wy = y.width() + 1;
    const auto limbs = std::ldexp(real{1}, 188);
    const bool moments = x.magnitude() < two53 && y.magnitude() < two53 && div == 1
                         && n * n * wx * wx < limbs && n * n * wy * wy < limbs;
    if (agg == aggregate::corr)
      return moments && m < std::ldexp(real{1}, 29);
    // cov 2^32 inside the limbs; the slope (at most L) times mul inside three words; for the
    // intercept slope 2^32 S_x inside the limbs and (M_y + L M_x) mul inside three words.
    const auto slope = static_cast<real>(slope_limit(static_cast<i128>(x.width())));
    const bool slope_ok = moments && n * n * wx * wy < std::ldexp(real{1}, 156)
                          && slope * m < std::ldexp(real{1}, 124);
    if (agg == aggregate::regr_slope)
      return slope_ok;
    return slope_ok && slope * n * y.magnitude() < std::ldexp(real{1}, 156)
           && (x.magnitude() + slope * y.magnitude()) * m < std::ldexp(real{1}, 124);
  }
  const auto w1 = x.width() + 1;
  const auto result = w1 * w1 * m / (2 * dv);
  return x.magnitude() < two53 && n * dv < std::ldexp(real{1}, 45)
         && n * n * w1 * w1 * m < std::ldexp(real{1}, 188)
         && result < std::ldexp(real{1}, agg == aggregate::var_samp || agg == aggregate::var_pop ? 124 : 120);
}

} // namespace

result<void> check_range(aggregate agg, std::uint64_t max_rows, std::int64_t lo, std::int64_t hi,
                         std::int64_t lo2, std::int64_t hi2) {
  const auto name = std::string{name_of(agg)};
  const bool two = two_arguments(agg);
  if (lo > hi || (two && lo2 > hi2))
    return fail(errc::unsupported, name + ": empty declared range " + range_text(lo, hi)
                                     + (two ? " / " + range_text(lo2, hi2) : "")
                                     + "; declare lo <= hi");
  auto test = [agg](real n, const span_of& a, const span_of& a2) { return fits(agg, n, a, a2); };
  const auto all = two62 * 4;
  if (test(static_cast<real>(max_rows), clamp(lo, hi, all), clamp(lo2, hi2, all)))
    return ok();
  return explain(name, two, test, max_rows, lo, hi, lo2, hi2, "the 64-bit ring");
}

result<void> check_wide_range(aggregate agg, std::uint64_t max_rows, std::int64_t lo,
                              std::int64_t hi, word mul, word div, std::int64_t lo2, std::int64_t hi2) {
  const auto name = std::string{name_of(agg)};
  const bool two = two_arguments(agg);
  if (agg == aggregate::count || agg == aggregate::min || agg == aggregate::max || agg == aggregate::median
      || agg == aggregate::percentile_cont || agg == aggregate::percentile_disc)
    return fail(errc::unsupported, name + " has no form beyond the ring (it never needs one)");
  if (lo > hi || (two && lo2 > hi2))
    return fail(errc::unsupported, name + ": empty declared range " + range_text(lo, hi)
                                     + "; declare lo <= hi");
  if (mul == 0 || div == 0)
    return fail(errc::unsupported, name + ": a 128-bit result needs a scale factor >= 1");
  auto test = [agg, mul, div](real n, const span_of& a, const span_of& a2) {
    return wide_fits(agg, n, a, a2, mul, div);
  };
  const auto all = two62 * 4;
  if (test(static_cast<real>(max_rows), clamp(lo, hi, all), clamp(lo2, hi2, all)))
    return ok();
  return explain(name, two, test, max_rows, lo, hi, lo2, hi2, "128-bit sums");
}

result<void> check_key_range(std::int64_t lo, std::int64_t hi) {
  const std::int64_t limit = (std::int64_t{1} << 59) - 1;
  if (lo > hi)
    return fail(errc::unsupported, "join key: empty declared range " + range_text(lo, hi)
                                     + "; declare lo <= hi");
  if (lo < -limit || hi > limit)
    return fail(errc::unsupported, "join key declared " + range_text(lo, hi)
                                     + " is too wide for the oblivious sort: it needs keys within ["
                                     + std::to_string(-limit) + ", " + std::to_string(limit)
                                     + "]; declare a narrower range or map the keys first");
  return ok();
}

} // namespace joconde::engines::kernels
