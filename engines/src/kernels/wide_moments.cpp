// VAR_SAMP, STDDEV_SAMP and the other moments beyond the 64-bit ring, from exact sums of squares
// in many limbs.
//
// Per group: the count n, the exact sum S (scaled_sum), the integer centre c = floor(S / n) and
// sc = S - n c in [0, n). Every row x is split as x = q 2^24 + r (trunc: exact whichever way it
// rounds), and the exact sums of r^2, q r and q^2 (block sums, as for SUM) give
// sum x^2 = 2^48 sum q^2 + 2^25 sum q r + sum r^2. Then, exactly, in numbers of 16-bit limbs:
//   C = sum (x - c)^2 = sum x^2 - c S - c sc,   V = n C - sc^2 = n (n - 1) var,
// and var mul / div = V mul / (n (n - 1) div) (the population variance: V mul / (n^2 div)), rounded
// down by two long divisions. The standard
// deviation is the square root of that, taken on its top bits: the limbs are cut at a multiple of
// 16 bits chosen per group (the lowest that leaves less than 2^60), so sqrt works on at least 2^44
// and its error stays relative.

#include "wide_moments.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace joconde::engines::kernels {

namespace detail {

row_counts count_rows(backend& b, const grouping& by) {
  const auto g = by.groups();
  row_counts r;
  r.n = count(b, by);
  std::vector<word> zero_one(2 * g, 0);
  std::fill(zero_one.begin() + static_cast<std::ptrdiff_t>(g), zero_one.end(), 1);
  auto zz = b.eq(concat({&r.n, &r.n}), constants(b, zero_one));
  auto z0 = slice(zz, 0, g);
  auto z1 = slice(zz, g, g);
  r.n_safe = b.add(r.n, z0);
  r.nm1_safe = b.add(b.add_public(r.n, w(-1)), b.add(b.mul_public(z0, 2), z1));
  return r;
}


centred_variable centre_of(backend& b, const grouping& by, const secret& x, unsigned bits, const row_counts& k) {
  centred_variable v;
  v.s = scaled_sum(b, by, x, bits, 1);
  auto cw = divide(b, v.s, k.n_safe);
  v.c = b.add(b.mul_public(cw.hi, word{1} << 32), cw.lo);
  auto s_ring = b.add(b.mul_public(v.s.hi, word{1} << 32), v.s.lo);
  v.sc = b.sub(s_ring, b.mul(k.n, v.c));
  v.whole = bits <= 24;
  if (v.whole) {
    v.r = x;
    return v;
  }
  v.q = b.trunc(x, 24);
  v.r = b.sub(x, b.mul_public(v.q, word{1} << 24));
  return v;
}

/// The exact sum per group of x y from the row limbs (x = qx 2^24 + rx, y likewise; |r| <= 2^24,
/// |q| <= 2^(bits - 24) + 1): sum rx ry + 2^24 (sum qx ry + sum rx qy) + 2^48 sum qx qy, each sum
/// exact (block sums below 2^pbits), as loose limbs. Where both are whole: sum x y alone.
bigint product_sum(backend& b, const grouping& by, const centred_variable& x, const centred_variable& y,
                   unsigned bits, std::size_t size) {
  const auto g = by.groups();
  const auto rows = x.r.size();
  auto out = zeros(b, g, size);
  if (x.whole && y.whole) {
    add_wide(b, out, scaled_sum(b, by, b.mul(x.r, y.r), 50, 1), 0);
    return out;
  }
  if (x.whole || y.whole) {
    auto split = [&](const centred_variable& v) {
      auto c = v;
      c.q = b.constant(0, rows);
      c.whole = false;
      return c;
    };
    return x.whole ? product_sum(b, by, split(x), y, bits, size) : product_sum(b, by, x, split(y), bits, size);
  }
  const bool square = &x == &y;
  auto prods = square ? b.mul(concat({&x.r, &x.q, &x.q}), concat({&x.r, &x.r, &x.q}))
                      : b.mul(concat({&x.r, &x.q, &x.r, &x.q}), concat({&y.r, &y.r, &y.q, &y.q}));
  const unsigned pbits = std::max({50u, bits + 2, 2 * bits > 46 ? 2 * bits - 46 : 0u});
  std::vector<limb_pair> sums;
  for (std::size_t k = 0; k < (square ? 3u : 4u); ++k)
    sums.push_back(scaled_sum(b, by, slice(prods, k * rows, rows), pbits, 1));
  add_wide(b, out, sums[0], 0);
  if (square) {
    add_wide(b, out, sums[1], 1, 9);  // 2 q r 2^24 = q r 2^(16 + 9)
    add_wide(b, out, sums[2], 3);     // 2^48
  } else {
    add_wide(b, out, sums[1], 1, 8);  // 2^24 = 2^(16 + 8)
    add_wide(b, out, sums[2], 1, 8);
    add_wide(b, out, sums[3], 3);
  }
  return out;
}

bigint comoment(backend& b, const grouping& by, const row_counts& k, const centred_variable& x,
                const centred_variable& y, unsigned bits, std::size_t size) {
  const auto g = by.groups();
  auto centred = product_sum(b, by, x, y, bits, size);
  auto c_x = limbs_of(b, x.c, size);
  auto s_y = zeros(b, g, size);
  add_wide(b, s_y, y.s, 0);
  normalise(b, s_y);
  auto cs = product(b, c_x, s_y, size);
  auto csc = scaled(b, limbs_of(b, y.c, size), x.sc);
  for (std::size_t i = 0; i < size; ++i)
    centred.limbs[i] = b.sub(b.sub(centred.limbs[i], cs.limbs[i]), csc.limbs[i]);
  normalise(b, centred);
  auto v = scaled(b, centred, k.n);
  v.limbs[0] = b.sub(v.limbs[0], b.mul(x.sc, y.sc));
  normalise(b, v);
  return v;
}

/// A canonical value below 2^125 in magnitude as three words: lo = limbs 0-1, mid = limbs 2-3,
/// hi = limbs 4-7 (the higher ones would only add multiples of 2^64 to hi: zeros, or a negative
/// value's sign extension; and shifting a word by 64 bits or more is not defined).
wide_secret to_wide(backend& b, const bigint& v) {
  auto lo = b.add(v.limbs[0], b.mul_public(v.limbs[1], half_radix));
  auto mid = b.add(v.limbs[2], b.mul_public(v.limbs[3], half_radix));
  auto hi = v.limbs[4];
  for (std::size_t i = 5; i < 8; ++i)
    hi = b.add(hi, b.mul_public(v.limbs[i], word{1} << (half * (i - 4))));
  return {std::move(hi), std::move(mid), std::move(lo)};
}

constexpr std::size_t cuts = limb_count - 3;

value_cuts cut(backend& b, const bigint& v, std::size_t kept) {
  const auto g = v.limbs[0].size();
  const auto n_cuts = limb_count - kept + 1;
  // v_j from limbs j .. j + kept - 1 fits when the limbs above are zero and the top one of them is
  // below 2^(60 - 48) (kept 4: v_j < 2^60) or 2^(45 - 32) (kept 3: v_j < 2^45).
  const word top = word{1} << (kept == 4 ? 12 : 13);
  // Suffix sums of the (non-negative) limbs: zero exactly where every limb from there up is.
  std::vector<secret> above(limb_count + 1, b.constant(0, g));
  for (std::size_t i = limb_count; i-- > 0;)
    above[i] = b.add(above[i + 1], v.limbs[i]);
  secret zl;
  secret lt_l;
  secret candidates;
  for (std::size_t j = 0; j < n_cuts; ++j) {
    append(zl, above[j + kept]);
    append(lt_l, v.limbs[j + kept - 1]);
    auto vj = v.limbs[j];
    for (std::size_t i = j + 1; i < j + kept; ++i)
      vj = b.add(vj, b.mul_public(v.limbs[i], word{1} << (half * (i - j))));
    append(candidates, vj);
  }
  auto zero = b.eq(zl, b.constant(0, zl.size()));
  auto small = b.lt(lt_l, b.constant(top, lt_l.size()));
  auto fits = b.mul(zero, small);  // fits[j]: v < 2^(60 or 45 + 16 j); implies fits[j + 1]
  value_cuts c;
  c.candidates = b.mul(candidates, fits);
  c.pick = slice(fits, 0, g);
  for (std::size_t j = 1; j < n_cuts; ++j)
    append(c.pick, b.sub(slice(fits, j * g, g), slice(fits, (j - 1) * g, g)));
  return c;
}

secret choose(backend& b, const secret& pick, const secret& values, std::size_t parts) {
  const auto g = pick.size() / parts;
  auto chosen = b.mul(pick, values);
  auto out = b.constant(0, g);
  for (std::size_t k = 0; k < parts; ++k)
    out = b.add(out, slice(chosen, k * g, g));
  return out;
}

} // namespace detail

using namespace detail;

namespace {

/// What both statistics start from, per group: n (n - 1) var mul, exactly, canonical, with n
/// and (n - 1), each at least 1.
struct variance_parts {
  bigint scaled_v;  ///< V mul = n (n - 1) var mul
  secret n_safe;    ///< n, or 1 for an empty group
  secret nm1_safe;  ///< n - 1, or 1 for groups of 0 or 1 rows
  std::size_t limbs = limb_count;  ///< the low limbs that hold V mul (twice it), publicly
};

/// The limbs that hold 2 n^2 (w_x / 2)(w_y / 2) mul for n up to `rows` and values below 2^bits_x
/// and 2^bits_y (so widths below 2^(bits + 1)), with its sign: a bound on twice V_xy mul.
std::size_t moment_limbs(std::size_t rows, unsigned bits_x, unsigned bits_y, word mul) {
  const auto top = 2 * std::bit_width(rows) + bits_x + bits_y + std::bit_width(mul) + 2;
  return std::clamp<std::size_t>(top / half + 1, 5, limb_count);
}

variance_parts variance_numerator(backend& b, const grouping& by, const secret& x, unsigned bits, word mul) {
  auto k = count_rows(b, by);
  auto cx = centre_of(b, by, x, bits, k);
  const auto size = moment_limbs(x.size(), bits, bits, mul);
  auto v = comoment(b, by, k, cx, cx, bits, size);
  times_public(b, v, mul);
  return {resized(b, v, limb_count), std::move(k.n_safe), std::move(k.nm1_safe), size};
}

/// floor(V mul / (n (n - 1) div)), or with `population` floor(V mul / (n^2 div)), canonical: two
/// long divisions of the limbs that can hold it (the higher ones are zero).
bigint variance_in_units(backend& b, const variance_parts& p, word div, bool population) {
  auto once = long_divide(b, resized(b, p.scaled_v, p.limbs), p.n_safe);
  const auto& second = population ? p.n_safe : p.nm1_safe;
  return resized(b, long_divide(b, once, div == 1 ? second : b.mul_public(second, div)), limb_count);
}

/// Fraction bits of sqrt's results below: sqrt(v_j) 2^30 < 2^60.
constexpr unsigned root_frac = 30;

/// sqrt of a canonical v >= 0 whose square root is below 2^61, within the backend's sqrt error
/// (rss3: 2^-24 relative) plus 2^-44 relative plus one unit: sqrt(v) ~ sqrt(v_j) 2^(8 j) for the
/// cut v_j picked, with sqrt on 60 fraction bits.
secret square_root(backend& b, const bigint& v) {
  const auto g = v.limbs[0].size();
  auto c = cut(b, v);
  auto roots = b.sqrt(c.candidates, 2 * root_frac);
  // sqrt(v_j) 2^30 -> sqrt(v) = that 2^(8 j - 30).
  secret scaled_roots;
  for (std::size_t j = 0; j < cuts; ++j) {
    auto r = slice(roots, j * g, g);
    const auto up = static_cast<int>(8 * j) - static_cast<int>(root_frac);
    append(scaled_roots, up < 0 ? b.trunc(r, static_cast<unsigned>(-up)) : b.mul_public(r, word{1} << up));
  }
  return choose(b, c.pick, scaled_roots, cuts);
}

/// Per group, floor(v / 2^(8 s)) of a canonical (signed) v for s = 0..2 (cuts - 1), s-major, each
/// correct where it is below 2^63 in magnitude: the limbs from s / 2 up (the higher ones only add
/// multiples of 2^64), with half a limb more for odd s (floor(limb / 2^8) of the one below).
secret eighth_cuts(backend& b, const bigint& v) {
  auto low_bytes = exact_split(b, concat(std::span<const secret>{v.limbs}), 8).first;
  const auto g = v.limbs[0].size();
  secret out;
  for (std::size_t s = 0; s < 2 * cuts - 1; ++s) {
    const auto k = (s + 1) / 2;  // the lowest whole limb kept
    const unsigned lift = s % 2 == 1 ? 8 : 0;
    secret vs = s % 2 == 1 ? slice(low_bytes, (k - 1) * g, g) : b.constant(0, g);
    for (std::size_t i = k; i < std::min(k + 4, limb_count); ++i)
      vs = b.add(vs, b.mul_public(v.limbs[i], word{1} << (half * (i - k) + lift)));
    append(out, vs);
  }
  return out;
}

/// Fraction bits of corr_fixed's result.
constexpr unsigned corr_frac = 32;

/// corr 2^32 = V_xy / sqrt(V_xx V_yy) 2^32 per group from the exact n (n - 1) comoments (0 where
/// a variance is 0), and per variance, x's then y's, 1 where it is 0 (2 G flags). Each variance is cut to m = v_j < 2^60 (j_x, j_y) and V_xy by 2^(8 (j_x + j_y))
/// to m_xy, |m_xy| <= sqrt(m_x m_y) (Cauchy-Schwarz, up to the cuts); then
/// t = m_xy 2^60 / (sqrt(m_x) 2^30) and corr = t 2^32 / (sqrt(m_y) 2^30), two divs.
struct fixed_corr {
  secret r;
  secret zero;
};

fixed_corr corr_fixed(backend& b, const bigint& vxx, const bigint& vyy, const bigint& vxy) {
  const auto g = vxx.limbs[0].size();
  auto cx = cut(b, vxx);
  auto cy = cut(b, vyy);
  // m_x and m_y in one mul: per j, the two groups' parts side by side.
  secret picks;
  secret values;
  for (std::size_t j = 0; j < cuts; ++j) {
    append(picks, slice(cx.pick, j * g, g));
    append(picks, slice(cy.pick, j * g, g));
    append(values, slice(cx.candidates, j * g, g));
    append(values, slice(cy.candidates, j * g, g));
  }
  auto m = choose(b, picks, values, cuts);  // m_x then m_y
  // The pick of s = j_x + j_y, and m_xy.
  secret px;
  secret py;
  for (std::size_t jx = 0; jx < cuts; ++jx)
    for (std::size_t jy = 0; jy < cuts; ++jy) {
      append(px, slice(cx.pick, jx * g, g));
      append(py, slice(cy.pick, jy * g, g));
    }
  auto pairs = b.mul(px, py);
  std::vector<secret> by_sum(2 * cuts - 1, b.constant(0, g));
  for (std::size_t jx = 0; jx < cuts; ++jx)
    for (std::size_t jy = 0; jy < cuts; ++jy)
      by_sum[jx + jy] = b.add(by_sum[jx + jy], slice(pairs, (jx * cuts + jy) * g, g));
  auto mxy = choose(b, concat(std::span<const secret>{by_sum}), eighth_cuts(b, vxy), 2 * cuts - 1);
  // Where a variance is 0 (so is V_xy), a divisor of 1 and a result masked to 0.
  auto zero = b.eq(m, b.constant(0, 2 * g));
  auto roots = b.add(b.sqrt(m, 2 * root_frac), zero);
  auto t = b.div(mxy, slice(roots, 0, g), 2 * root_frac);
  auto r = b.div(t, slice(roots, g, g), corr_frac);
  auto keep = b.mul(one_minus(b, slice(zero, 0, g)), one_minus(b, slice(zero, g, g)));
  return {b.mul(r, keep), std::move(zero)};
}

/// floor((t + 1) / 2) of a canonical t: half of 2 v rounded half up (times 2^15, one limb dropped).
bigint halve_up(backend& b, bigint t) {
  t.limbs[0] = b.add_public(t.limbs[0], 1);
  times_public(b, t, half_radix / 2);
  return drop_limbs(b, t, 1);
}

/// The exact variance, rounded half up: t = floor(2 V mul / D) for the divisor D = n (n - 1) div
/// (or n^2 div), then floor((t + 1) / 2).
wide_secret variance_rounded(backend& b, const grouping& by, const secret& x, unsigned bits, word mul, word div,
                             bool population) {
  auto p = variance_numerator(b, by, x, bits, mul);
  times_public(b, p.scaled_v, 2);
  return to_wide(b, halve_up(b, variance_in_units(b, p, div, population)));
}

/// Limbs of the correlation's exact comparison: V_xx V_yy and 4 V_xy^2 mul^2 are below 2^384 where
/// check_wide_range accepts (each V below 2^162, mul below 2^29).
constexpr std::size_t ratio_limbs = 25;

/// V_xx V_yy and V_xy^2, canonical in ratio_limbs limbs.
std::pair<bigint, bigint> ratio_parts(backend& b, const bigint& vxx, const bigint& vyy, const bigint& vxy) {
  auto p = product(b, vxx, vyy, ratio_limbs);
  auto sq = product(b, vxy, vxy, ratio_limbs);
  normalise_all(b, {&p, &sq});
  return {std::move(p), std::move(sq)};
}

/// Where the exact value lies around a correlation statistic's approximation (in units of its
/// output, mul): 2^-shift mul plus 5 units (twice the documented error, plus one for the floor).
word correlation_window(word mul, unsigned shift) {
  return (mul >> shift) + 5;
}

/// Limbs of the standard deviation's exact comparison: 4 V mul is below 2^190, and so (with room)
/// are the candidates' (2 c - 1)^2 D div; fewer where the public bounds allow (root_size).
constexpr std::size_t root_limbs = 14;

/// The limbs the search of rounded_deviation needs: Q = 4 V mul below 2^(16 limbs) (limbs: those
/// of variance_parts), and a candidate c at most the answer plus 16^steps, so (2 c - 1)^2 D div
/// below 2 Q + 8 16^(2 steps) D div, with D div below rows^2 div; one limb more for the sign.
std::size_t root_size(std::size_t limbs, std::size_t rows, word div, u128 window) {
  const auto q_bits = half * limbs;
  const auto c_bits = 8 * search_steps(window) + 3 + 2 * std::bit_width(rows) + std::bit_width(div);
  return std::clamp<std::size_t>((std::max<std::size_t>(q_bits, c_bits) + 2) / half + 2, 5, root_limbs);
}

/// The standard deviation in the output's units (mul / div: the square of its scale), exactly,
/// rounded half up: the largest c with (2 c - 1)^2 D div <= 4 V mul, D = n (n - 1) (or n^2),
/// searched around sqrt of the variance's cut (within 2^-23 of it relative plus 3 units).
wide_secret rounded_deviation(backend& b, const grouping& by, const secret& x, unsigned bits, word mul, word div,
                              bool population) {
  auto p = variance_numerator(b, by, x, bits, mul);
  auto near = square_root(b, variance_in_units(b, p, div, population));
  // Its largest value is below 2^(bits + 1) sqrt(mul / div); the window twice the error there.
  const auto top = std::ldexp(std::sqrt(static_cast<long double>(mul) / static_cast<long double>(div)),
                              static_cast<int>(bits) + 1);
  const auto window = static_cast<word>(std::ldexp(top, -22)) + 7;
  const auto size = root_size(p.limbs, x.size(), div, window);
  auto q = resized(b, p.scaled_v, size);
  times_public(b, q, 4);
  auto d = limbs_of(b, b.mul(p.n_safe, population ? p.n_safe : p.nm1_safe), size);
  times_public(b, d, div);
  return three_words(b, largest_below(b, d, q, 2, near, window));
}

} // namespace

wide_secret wide_var_samp(backend& b, const grouping& by, const secret& x, unsigned bits, word mul, word div) {
  expect_size("wide_var_samp", "x", x, rows_of("wide_var_samp", by));
  return variance_rounded(b, by, x, bits, mul, div, false);
}

wide_secret wide_var_pop(backend& b, const grouping& by, const secret& x, unsigned bits, word mul, word div) {
  expect_size("wide_var_pop", "x", x, rows_of("wide_var_pop", by));
  return variance_rounded(b, by, x, bits, mul, div, true);
}

wide_secret wide_covar(backend& b, const grouping& by, const secret& x, const secret& y, unsigned bits_x,
                       unsigned bits_y, word mul, word div, bool population) {
  expect_size("wide_covar", "x", x, rows_of("wide_covar", by));
  expect_size("wide_covar", "y", y, rows_of("wide_covar", by));
  auto k = count_rows(b, by);
  auto cx = centre_of(b, by, x, bits_x, k);
  auto cy = centre_of(b, by, y, bits_y, k);
  auto v = comoment(b, by, k, cx, cy, std::max(bits_x, bits_y));
  // Half away from zero: |V| (the sign is the canonical top limb's), rounded half up as for the
  // variance, then the sign back.
  auto sign = sign_factor(b, v.limbs.back());
  auto magnitude = scaled(b, v, sign);
  normalise(b, magnitude);
  times_public(b, magnitude, 2 * mul);
  variance_parts p{std::move(magnitude), std::move(k.n_safe), std::move(k.nm1_safe),
                   moment_limbs(x.size(), bits_x, bits_y, 2 * mul)};
  auto rounded = scaled(b, halve_up(b, variance_in_units(b, p, div, population)), sign);
  normalise(b, rounded);
  return to_wide(b, rounded);
}

wide_secret wide_regr_r2(backend& b, const grouping& by, const secret& y, const secret& x, unsigned bits_y,
                         unsigned bits_x, word mul) {
  expect_size("wide_regr_r2", "x", x, rows_of("wide_regr_r2", by));
  expect_size("wide_regr_r2", "y", y, rows_of("wide_regr_r2", by));
  const auto g = by.groups();
  auto k = count_rows(b, by);
  auto cy = centre_of(b, by, y, bits_y, k);
  auto cx = centre_of(b, by, x, bits_x, k);
  auto vyy = comoment(b, by, k, cy, cy, bits_y);
  auto vxx = comoment(b, by, k, cx, cx, bits_x);
  auto vxy = comoment(b, by, k, cy, cx, std::max(bits_x, bits_y));
  auto c = corr_fixed(b, vyy, vxx, vxy);
  // near: r^2 mul from c.r (within 2^-20 of r^2 plus a unit of 2^-30), then the exact search.
  constexpr unsigned r2_frac = 30;
  auto t = b.trunc(c.r, corr_frac - r2_frac);
  auto near = b.trunc(b.mul_public(b.trunc(b.mul(t, t), r2_frac), mul), r2_frac);
  auto [p, sq] = ratio_parts(b, vyy, vxx, vxy);
  times_public(b, sq, static_cast<u128>(2) * mul);
  auto r2 = largest_below(b, p, sq, 1, near, correlation_window(mul, 19));
  // 0 where var(x) is 0; mul where var(x) > 0 = var(y) (SQL's rule; p is 0 there too).
  auto x_kept = one_minus(b, slice(c.zero, g, g));
  auto y_zero = slice(c.zero, 0, g);
  auto keep = b.mul(x_kept, one_minus(b, y_zero));
  auto m = b.mul(concat({&r2, &x_kept}), concat({&keep, &y_zero}));
  return three_words(b, b.add(slice(m, 0, g), b.mul_public(slice(m, g, g), mul)));
}

wide_secret wide_corr(backend& b, const grouping& by, const secret& x, const secret& y, unsigned bits_x,
                      unsigned bits_y, word mul) {
  expect_size("wide_corr", "x", x, rows_of("wide_corr", by));
  expect_size("wide_corr", "y", y, rows_of("wide_corr", by));
  auto k = count_rows(b, by);
  auto cx = centre_of(b, by, x, bits_x, k);
  auto cy = centre_of(b, by, y, bits_y, k);
  const auto bits = std::max(bits_x, bits_y);
  auto vxx = comoment(b, by, k, cx, cx, bits_x);
  auto vyy = comoment(b, by, k, cy, cy, bits_y);
  auto vxy = comoment(b, by, k, cx, cy, bits);
  const auto g = by.groups();
  auto c = corr_fixed(b, vxx, vyy, vxy);
  // |corr| mul from c.r (within 2^-21 plus 2 units), then the exact search; the sign is V_xy's.
  auto sign = sign_factor(b, vxy.limbs.back());
  auto keep = b.mul(one_minus(b, slice(c.zero, 0, g)), one_minus(b, slice(c.zero, g, g)));
  auto near = b.mul(b.trunc(b.mul_public(c.r, mul), corr_frac), sign);
  auto [p, sq] = ratio_parts(b, vxx, vyy, vxy);
  times_public(b, sq, static_cast<u128>(4) * mul * mul);
  auto r = largest_below(b, p, sq, 2, near, correlation_window(mul, 20));
  return three_words(b, b.mul(r, b.mul(sign, keep)));
}

wide_secret wide_stddev_samp(backend& b, const grouping& by, const secret& x, unsigned bits, word mul, word div) {
  expect_size("wide_stddev_samp", "x", x, rows_of("wide_stddev_samp", by));
  return rounded_deviation(b, by, x, bits, mul, div, false);
}

wide_secret wide_stddev_pop(backend& b, const grouping& by, const secret& x, unsigned bits, word mul, word div) {
  expect_size("wide_stddev_pop", "x", x, rows_of("wide_stddev_pop", by));
  return rounded_deviation(b, by, x, bits, mul, div, true);
}

} // namespace joconde::engines::kernels
