// REGR_SLOPE and REGR_INTERCEPT beyond the ring, exactly rounded: from the exact n (n - 1) var(x)
// and cov(x, y) of wide_moments.cpp, an approximate slope (var(x) cut to its top 45 bits, one
// long division in limbs), then the exact search of nearest.cpp on the rational slope V_xy / V_xx
// and intercept (S_y V_xx - V_xy S_x) / (n V_xx).

#include "wide_moments.hpp"

#include <algorithm>
#include <cmath>

namespace joconde::engines::kernels {

using namespace detail;

namespace {

/// floor(v / 2^(16 j)) for the j of a one-hot `pick` (n_cuts x G): each candidate is v's limbs
/// moved down j places (the signed top one with zeros above it: still v's value), one mul picks.
/// Loose; normalise to use it.
bigint shift_down(backend& b, const bigint& v, const secret& pick, std::size_t n_cuts) {
  const auto g = v.limbs[0].size();
  secret picks;
  secret values;
  for (std::size_t j = 0; j < n_cuts; ++j)
    for (std::size_t i = 0; i < limb_count; ++i) {
      append(picks, slice(pick, j * g, g));
      append(values, i + j < limb_count ? v.limbs[i + j] : b.constant(0, g));
    }
  auto chosen = b.mul(picks, values);
  auto out = zeros(b, g);
  for (std::size_t j = 0; j < n_cuts; ++j)
    for (std::size_t i = 0; i < limb_count; ++i)
      out.limbs[i] = b.add(out.limbs[i], slice(chosen, (j * limb_count + i) * g, g));
  return out;
}

/// The regression of y on x per group: the exact sums, and slope 2^32 = floor(V_xy 2^32 / m_x) /
/// 2^(16 j_x) for V_xx cut to m_x = V_xx / 2^(16 j_x) below 2^45 (at least 2^29 where j_x > 0), so
/// within 2^-28 of the slope relative plus a unit of 2^-32 (0 where var(x) is 0).
struct regression {
  row_counts k;
  centred_variable cx;
  centred_variable cy;
  bigint vxx;    ///< n (n - 1) var(x), exact, canonical
  bigint vxy;    ///< n (n - 1) cov(x, y), exact, canonical
  bigint slope;  ///< slope 2^32, canonical, approximate (see below)
  secret keep;   ///< 1 where var(x) > 0
};

regression regress(backend& b, const grouping& by, const secret& y, const secret& x, unsigned bits_y,
                   unsigned bits_x) {
  regression r;
  const auto g = by.groups();
  r.k = count_rows(b, by);
  r.cx = centre_of(b, by, x, bits_x, r.k);
  r.cy = centre_of(b, by, y, bits_y, r.k);
  r.vxx = comoment(b, by, r.k, r.cx, r.cx, bits_x);
  r.vxy = comoment(b, by, r.k, r.cx, r.cy, std::max(bits_x, bits_y));
  const auto& vxx = r.vxx;
  const auto& vxy = r.vxy;
  constexpr std::size_t kept = 3;
  const auto n_cuts = limb_count - kept + 1;
  auto c = cut(b, vxx, kept);
  auto mx = choose(b, c.pick, c.candidates, n_cuts);
  auto zero = b.eq(mx, b.constant(0, g));
  r.keep = one_minus(b, zero);
  // V_xy 2^32: its limbs two places up (it is below 2^158 where check_wide_range accepts).
  bigint up;
  up.limbs.push_back(b.constant(0, g));
  up.limbs.push_back(b.constant(0, g));
  up.limbs.insert(up.limbs.end(), vxy.limbs.begin(), vxy.limbs.end() - 2);
  normalise(b, up);  // the new top limb takes the sign
  auto q = long_divide(b, up, b.add(mx, zero));
  r.slope = shift_down(b, q, c.pick, n_cuts);
  for (auto& l : r.slope.limbs)
    l = b.mul(l, r.keep);
  normalise(b, r.slope);
  return r;
}

/// num mul / den rounded half away from zero, exactly, times keep (0 or 1), canonical in `size`
/// limbs: num's sign times the largest c with (2 c - 1) den <= 2 mul |num| (largest_below), searched
/// around `near` (num mul / den within `window`), for canonical num and den > 0 (where keep is 1).
bigint rounded_ratio(backend& b, const bigint& num, const bigint& den, word mul, const bigint& near,
                     const secret& keep, u128 window, std::size_t size) {
  auto sign = sign_factor(b, num.limbs.back());
  auto q = scaled(b, resized(b, num, size), sign);
  auto start = scaled(b, resized(b, near, size), sign);
  normalise_all(b, {&q, &start});
  times_public(b, q, u128{2} * mul);
  auto c = largest_below(b, resized(b, den, size), q, 1, start, window);
  auto out = scaled(b, c, b.mul(sign, keep));
  normalise(b, out);
  return out;
}

} // namespace

/// Limbs of the regression's exact comparisons: (2 c - 1) V_xx up to 2^314 for the slope, (2 c - 1)
/// n V_xx up to 2^341 for the intercept, where check_wide_range accepts.
constexpr std::size_t slope_limbs = 20;
constexpr std::size_t intercept_limbs = 23;

/// Twice the documented error of the regression's approximations at the largest values allowed,
/// plus 5 units: |slope| <= 2 w_y < 2^(bits_y + 2) (limits.cpp), the slope within 2^-28 of it
/// relative, the intercept within |mean x| (2^-28 |slope| + 2^-32), plus 2 units each.
u128 regression_window(unsigned bits_y, unsigned bits_x, word mul, bool intercept) {
  auto e = std::ldexp(static_cast<long double>(mul), static_cast<int>(bits_y) - 25);
  if (intercept)
    e = std::ldexp(e + std::ldexp(static_cast<long double>(mul), -31), static_cast<int>(bits_x));
  return static_cast<u128>(e) + 5;
}

wide_secret wide_regr_slope(backend& b, const grouping& by, const secret& y, const secret& x, unsigned bits_y,
                            unsigned bits_x, word mul) {
  expect_size("wide_regr_slope", "x", x, rows_of("wide_regr_slope", by));
  expect_size("wide_regr_slope", "y", y, rows_of("wide_regr_slope", by));
  auto r = regress(b, by, y, x, bits_y, bits_x);
  // Its approximation (floor of slope 2^32 mul / 2^32), then V_xy mul / V_xx exactly.
  times_public(b, r.slope, mul);
  auto near = drop_limbs(b, r.slope, 2);
  return to_wide(b, rounded_ratio(b, r.vxy, r.vxx, mul, near, r.keep, regression_window(bits_y, bits_x, mul, false),
                                  slope_limbs));
}

wide_secret wide_regr_intercept(backend& b, const grouping& by, const secret& y, const secret& x,
                                unsigned bits_y, unsigned bits_x, word mul) {
  expect_size("wide_regr_intercept", "x", x, rows_of("wide_regr_intercept", by));
  expect_size("wide_regr_intercept", "y", y, rows_of("wide_regr_intercept", by));
  const auto g = by.groups();
  auto r = regress(b, by, y, x, bits_y, bits_x);
  // Its approximation: (S_y 2^32 - slope 2^32 S_x) / n, exactly for that slope and rounded down,
  // times mul, / 2^32.
  auto num = zeros(b, g);
  add_wide(b, num, r.cy.s, 2);
  auto s_x = zeros(b, g);
  add_wide(b, s_x, r.cx.s, 0);
  normalise(b, s_x);
  auto slope_sx = product(b, r.slope, s_x);
  for (std::size_t i = 0; i < limb_count; ++i)
    num.limbs[i] = b.sub(num.limbs[i], slope_sx.limbs[i]);
  normalise(b, num);
  auto q = long_divide(b, num, r.k.n_safe);
  times_public(b, q, mul);
  auto near = drop_limbs(b, q, 2);
  // Exactly: mean(y) - (V_xy / V_xx) mean(x) = (S_y V_xx - V_xy S_x) / (n V_xx).
  auto s_y = zeros(b, g, intercept_limbs);
  add_wide(b, s_y, r.cy.s, 0);
  normalise(b, s_y);
  auto exact = product(b, s_y, r.vxx, intercept_limbs);
  auto minus = product(b, r.vxy, s_x, intercept_limbs);
  for (std::size_t i = 0; i < intercept_limbs; ++i)
    exact.limbs[i] = b.sub(exact.limbs[i], minus.limbs[i]);
  auto den = scaled(b, resized(b, r.vxx, intercept_limbs), r.k.n);
  normalise_all(b, {&exact, &den});
  return to_wide(b, rounded_ratio(b, exact, den, mul, near, r.keep, regression_window(bits_y, bits_x, mul, true),
                                  intercept_limbs));
}

} // namespace joconde::engines::kernels
