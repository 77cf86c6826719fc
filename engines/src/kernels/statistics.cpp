// AVG, VAR_SAMP, STDDEV_SAMP, CORR, REGR_SLOPE and REGR_INTERCEPT (and VAR_POP, STDDEV_POP,
// COVAR_SAMP, COVAR_POP and REGR_R2) in fixed point (stat_frac fraction bits), from the moments of
// moments.hpp.
//
// The slope is cov / var(x) in one division (never through a truncated standard deviation), at the
// scale both moments are precise at. Where |slope| < 2^11 it is computed with 16 more fraction
// bits and rounded to the nearest unit exactly (a truncation corrected by one comparison), so that
// whenever the moments are proportional (y = a x + b, in particular y = x) the slope is exactly a.
// The intercept mean(y) - slope mean(x) then uses exact floors of the means times 2^24 (a
// division corrected from its exact remainder): for y = x it is exactly 0, and for y = a x + b with
// |a| < 2^11 it is b plus between 0 and |a| - 1 units (never below b, so that an output rounded
// down shows b). Steeper slopes keep the approximate quotient, and the intercept multiplies the
// mean's fraction by the slope with 8 fraction bits only (the product must stay below 2^62).

#include "joconde/engines/kernels.hpp"

#include "moments.hpp"

namespace joconde::engines::kernels {

using namespace detail;

namespace {

/// Beyond this |slope 2^24| (2^11) the slope is not rounded exactly and the intercept multiplies
/// the slope with 8 fraction bits (slope 2^24 times the mean's fraction 2^24 would exceed 2^62).
constexpr word steep_slope = word{1} << 35;

/// cov / sd(x) * 2^24 from the two scales of cov (one of the two quotients is of 0).
secret cov_over(backend& b, const scales& s, const secret& sd_safe) {
  return b.add(b.div(s.cov24, sd_safe, frac), b.div(s.cov8, sd_safe, frac + 16));
}

/// sd + 1 where keep is 0 (then sd is 0): a divisor >= 1.
secret safe(backend& b, const secret& sd, const secret& keep) {
  return b.add(sd, one_minus(b, keep));
}

/// Both quotients of the slope cov / var(x) in one div with 40 fraction bits: slope 2^40 from the
/// two moments at x's scale (within the ring where |slope| < 2^22), and slope 2^24 from cov at its
/// own scale over var(x) at a 2^16 larger one (cov 2^24 / (var 2^24 2^16), or cov 2^8 over var
/// 2^24 or var 2^8 2^16; valid where scales::steep_ok).
secret slope_quotients(backend& b, const scales& s) {
  const word up = word{1} << 16;
  auto unkept = one_minus(b, s.keep[0]);
  auto d40 = b.add(b.add(s.v24[0], s.v8[0]), unkept);
  auto d24 = b.add(b.sub(b.mul_public(s.v24[0], up), b.mul_public(s.v24_big_cov, up - 1)),
                   b.add(b.mul_public(s.v8_big_cov, up), unkept));
  auto n40 = b.add(s.x_cov24, s.x_cov8);
  auto n24 = b.add(s.cov24, s.cov8);
  return b.div(concat({&n40, &n24}), concat({&d40, &d24}), 40);
}

/// corr(x, y) 2^24 per group, not yet masked, and the flags of the two variances.
struct correlation {
  secret r;     ///< corr 2^24 where both variances are kept (meaningless elsewhere)
  secret keep;  ///< 1 where both variances are defined and positive
  scales s;     ///< keep[0] for x, keep[1] for y
};

correlation correlate(backend& b, const char* kernel, const grouping& by, const secret& x, const secret& y) {
  auto mo = compute_moments(b, kernel, by, {{&x, &y}, {0, 1}, true, false, true});
  correlation c;
  c.s = select_scales(b, mo, 2, cross_scale::own);
  auto sd = standard_deviations(b, c.s);
  c.keep = b.mul(c.s.keep[0], c.s.keep[1]);
  auto c1 = cov_over(b, c.s, safe(b, sd[0], c.s.keep[0]));
  c.r = b.div(c1, safe(b, sd[1], c.s.keep[1]), frac);
  return c;
}

/// The cross comoment of x and y per group (sample, or with `population` population), 0 for
/// groups of fewer than 2 rows.
secret covariance(backend& b, const char* kernel, const grouping& by, const secret& x, const secret& y,
                  bool population) {
  moment_spec spec{{&x, &y}, {}, true, false, false};
  spec.population = population;
  auto mo = compute_moments(b, kernel, by, spec);
  return b.mul(mo.m24[0], b.sub(one_minus(b, mo.z0), mo.z1));
}

/// The regression of y on x per group.
struct fit {
  secret keep;   ///< 1 where var(x) is defined and positive
  secret slope;  ///< slope 2^24, not yet masked by keep
  secret steep;  ///< 1 where |slope| >= 2^11 (and the steep quotient is valid): no rounding
  secret a;      ///< the slope operand of the intercept: slope 2^24, or slope 2^8 where steep
  secret g_x;    ///< floor((mean x - c_x) 2^24), or its ceiling where the slope is negative
  secret g_y;    ///< floor((mean y - c_y) 2^24)
};

/// Remainders r = sc 2^24 - dev n of the deviations dev ~ sc 2^24 / n (|r| < 4 n), and the lt
/// operands of [r < k n] for k = -3..3 (then also [r < k n + 1] for the first, for its ceiling).
void remainder_tests(backend& b, const moments& mo, secret& lhs, secret& rhs) {
  const auto g = mo.n.size();
  auto dn = b.mul(concat({&mo.dev[0], &mo.dev[1]}), tile(mo.n_safe, 2));
  for (std::size_t v = 0; v < 2; ++v) {
    auto r = b.sub(b.mul_public(mo.sc[v], word{1} << frac), part(dn, v, g));
    for (word up = 0; up < (v == 0 ? 2 : 1); ++up)
      for (std::int64_t k = -3; k <= 3; ++k) {
        append(lhs, r);
        append(rhs, b.add_public(b.mul_public(mo.n_safe, w(k)), up));
      }
  }
}

/// floor (or, with `ceil`, the ceiling) of sc 2^24 / n: dev + 3 - sum [r < k n] (or
/// dev + 4 - sum [r < k n + 1]), from the 7 flags in blocks at, at + 1, ... of `flags`.
secret exact_quotient(backend& b, const secret& dev, const secret& flags, std::size_t at,
                      bool ceil) {
  const auto g = dev.size();
  auto q = b.add_public(dev, ceil ? 4 : 3);
  for (std::size_t k = 0; k < 7; ++k)
    q = b.sub(q, part(flags, at + k, g));
  return q;
}

/// The slope of y on x, from the moments of {x, y} (wide, with the cross pair; with `means` also
/// the deviations, and then the exact mean fractions for the intercept).
fit fit_line(backend& b, const moments& mo, bool means) {
  const auto g = mo.n.size();
  auto s = select_scales(b, mo, 1, cross_scale::both);
  secret lhs;
  secret rhs;
  if (means)
    remainder_tests(b, mo, lhs, rhs);
  auto q = slope_quotients(b, s);
  auto half_up = b.add_public(part(q, 0, g), word{1} << 15);
  auto q24 = part(q, 1, g);
  // round(slope 2^40 / 2^16) = t - [rest < 0] for t = trunc(slope 2^40 + 2^15, 16), which is
  // the floor or one more; and slope 2^8.
  auto t = b.trunc(concat({&half_up, &q24}), 16);
  auto rest = b.sub(half_up, b.mul_public(part(t, 0, g), word{1} << 16));
  auto lo = b.constant(w(0) - steep_slope, g);
  auto hi = b.constant(steep_slope, g);
  auto zero = b.constant(0, g);
  lhs = concat({&q24, &hi, &rest, &half_up, &lhs});
  rhs = concat({&lo, &q24, &zero, &zero, &rhs});
  auto flags = b.lt(lhs, rhs);
  auto rounded = b.sub(part(t, 0, g), part(flags, 2, g));
  // Steep where |q24| > 2^35 and q24 is valid. The intercept takes the ceiling of mean x where
  // the rounded slope is negative (flag 3), so that its error is never below 0 on exact lines.
  auto steep_either = b.add(part(flags, 0, g), part(flags, 1, g));
  fit f;
  f.keep = s.keep[0];
  secret ml = s.steep_ok;
  secret mr = steep_either;
  if (means) {
    f.g_y = exact_quotient(b, mo.dev[1], flags, 4 + 14, false);
    auto floor_x = exact_quotient(b, mo.dev[0], flags, 4, false);
    auto ceil_x = exact_quotient(b, mo.dev[0], flags, 4 + 7, true);
    append(ml, part(flags, 3, g));
    append(mr, b.sub(ceil_x, floor_x));
    f.g_x = floor_x;
  }
  auto m1 = b.mul(ml, mr);
  f.steep = part(m1, 0, g);
  if (means)
    f.g_x = b.add(f.g_x, part(m1, 1, g));
  auto slope8 = part(t, 1, g);
  auto to_q24 = b.sub(q24, rounded);
  auto to_slope8 = b.sub(slope8, rounded);
  auto m2 = b.mul(concat({&f.steep, &f.steep}), concat({&to_q24, &to_slope8}));
  f.slope = b.add(rounded, part(m2, 0, g));
  f.a = b.add(rounded, part(m2, 1, g));
  return f;
}

} // namespace

secret avg(backend& b, const grouping& by, const secret& x) {
  const auto groups = by.groups();
  expect_size("avg", "x", x, rows_of("avg", by));
  auto n = count(b, by);
  auto z0 = b.eq(n, b.constant(0, groups));
  auto s = sum(b, by, x);
  auto mean = b.div(s, b.add(n, z0), frac);
  return b.mul(mean, one_minus(b, z0));
}

secret var_samp(backend& b, const grouping& by, const secret& x) {
  auto mo = compute_moments(b, "var_samp", by, {{&x}, {0}, false, false, false});
  return variance_of(b, mo);
}

secret stddev_samp(backend& b, const grouping& by, const secret& x) {
  auto mo = compute_moments(b, "stddev_samp", by, {{&x}, {0}, false, false, true});
  return standard_deviations(b, select_scales(b, mo, 1, cross_scale::none))[0];
}

secret corr(backend& b, const grouping& by, const secret& x, const secret& y) {
  auto c = correlate(b, "corr", by, x, y);
  return b.mul(c.r, c.keep);
}

secret regr_r2(backend& b, const grouping& by, const secret& y, const secret& x) {
  auto c = correlate(b, "regr_r2", by, y, x);
  const auto g = by.groups();
  const auto one = b.constant(word{1} << frac, g);
  // r^2 2^24 (trunc: floor or one more), clamped to 1 (the approximations may pass it); 0 where
  // var(x) or var(y) is 0, then 1 where only var(y) is (SQL's rule).
  auto r = b.mul(c.r, c.keep);
  auto sq = b.trunc(b.mul(r, r), frac);
  auto over = b.lt(one, sq);
  auto clamped = b.add(sq, b.mul(over, b.sub(one, sq)));
  auto only_y = b.sub(c.s.keep[1], c.keep);
  return b.add(clamped, b.mul_public(only_y, word{1} << frac));
}

secret var_pop(backend& b, const grouping& by, const secret& x) {
  moment_spec spec{{&x}, {0}, false, false, false};
  spec.population = true;
  return variance_of(b, compute_moments(b, "var_pop", by, spec));
}

secret stddev_pop(backend& b, const grouping& by, const secret& x) {
  moment_spec spec{{&x}, {0}, false, false, true};
  spec.population = true;
  auto mo = compute_moments(b, "stddev_pop", by, spec);
  return standard_deviations(b, select_scales(b, mo, 1, cross_scale::none))[0];
}

secret covar_samp(backend& b, const grouping& by, const secret& x, const secret& y) {
  return covariance(b, "covar_samp", by, x, y, false);
}

secret covar_pop(backend& b, const grouping& by, const secret& x, const secret& y) {
  return covariance(b, "covar_pop", by, x, y, true);
}

secret regr_slope(backend& b, const grouping& by, const secret& y, const secret& x) {
  auto mo = compute_moments(b, "regr_slope", by, {{&x, &y}, {0}, true, false, true});
  auto f = fit_line(b, mo, false);
  return b.mul(f.slope, f.keep);
}

secret regr_intercept(backend& b, const grouping& by, const secret& y, const secret& x) {
  auto mo = compute_moments(b, "regr_intercept", by, {{&x, &y}, {0}, true, true, true});
  const auto g = by.groups();
  auto f = fit_line(b, mo, true);
  // intercept 2^24 = (c_y 2^24 + g_y) - slope c_x - slope g_x / 2^24: slope c_x exactly in the
  // ring; slope g_x dropping 8 fraction bits, then 16 more where the slope is not steep (both
  // exact when the slope is a whole number: then slope 2^24 g_x is a multiple of 2^24).
  auto p8 = b.mul_trunc(f.a, f.g_x, 8);
  auto p24 = b.trunc(p8, 16);
  auto flat = one_minus(b, f.steep);
  auto dropped = b.sub(p24, p8);
  auto m = b.mul(concat({&flat, &f.slope}), concat({&dropped, &mo.c[0]}));
  auto mean_y = b.add(b.mul_public(mo.c[1], word{1} << frac), f.g_y);
  auto product = b.add(p8, part(m, 0, g));
  return b.mul(b.sub(b.sub(mean_y, part(m, 1, g)), product), f.keep);
}

// Over one-hot masks (the signatures the tests and older callers use).
secret avg(backend& b, const secret& masks, const secret& x, std::size_t groups) {
  return avg(b, grouping{masks, groups}, x);
}
secret var_samp(backend& b, const secret& masks, const secret& x, std::size_t groups) {
  return var_samp(b, grouping{masks, groups}, x);
}
secret stddev_samp(backend& b, const secret& masks, const secret& x, std::size_t groups) {
  return stddev_samp(b, grouping{masks, groups}, x);
}
secret corr(backend& b, const secret& masks, const secret& x, const secret& y, std::size_t groups) {
  return corr(b, grouping{masks, groups}, x, y);
}
secret regr_slope(backend& b, const secret& masks, const secret& y, const secret& x, std::size_t groups) {
  return regr_slope(b, grouping{masks, groups}, y, x);
}
secret regr_intercept(backend& b, const secret& masks, const secret& y, const secret& x, std::size_t groups) {
  return regr_intercept(b, grouping{masks, groups}, y, x);
}

} // namespace joconde::engines::kernels
