// AVG, VAR_SAMP, STDDEV_SAMP, CORR, REGR_SLOPE and REGR_INTERCEPT in fixed point (stat_frac
// fraction bits). Every statistic starts from exact ring sums per group, then centres them on an
// integer approximation c of each mean, so that the quantities handed to div and sqrt stay small:
//   S_pq_c = sum (p - c_p)(q - c_q) = S_pq - c_p S_q - c_q (S_p - n c_p)       (exact, in the ring)
//   cov(p, q) = S_pq_c / (n - 1) - (S_p - n c_p)(S_q - n c_q) / (n (n - 1))
// Ring arithmetic wraps modulo 2^64, so the exact identities hold whatever the size of S_pq; only the
// true values of the centred quantities must be small, which check_range (limits.cpp) verifies.
// var_samp divides with 24 fraction bits (its result must fit anyway). stddev, corr and regr_* also
// divide with 8 ("wide" moments) and use, per group, the 24-bit value where the moment is at most
// 2^22 and the 8-bit one above, so their range is limited by sum (x - c)^2 < 2^62 only.

#include "joconde/engines/kernels.hpp"

#include "common.hpp"

#include <algorithm>
#include <utility>

namespace joconde::engines::kernels {

using namespace detail;

namespace {

constexpr unsigned frac = stat_frac;

/// A computed variance (times 2^frac) at most this is treated as possibly zero: approximate div
/// may leave a few units where the exact value is 0, so such groups are checked exactly (D == 0).
constexpr word small_variance = 9;

/// Slice number `i` of length `len`.
secret part(const secret& x, std::size_t i, std::size_t len) {
  return slice(x, i * len, len);
}

/// What a statistic needs: which variables, which variances, whether the cross moment of
/// vars[0] and vars[1], and whether the fractional offsets (mean - c) * 2^frac.
struct moment_spec {
  std::vector<const secret*> vars;
  std::vector<std::size_t> variances;
  bool cross = false;
  bool deviations = false;
  bool wide = false;
};

/// Per-group moments of the variables of a moment_spec (every secret has length `groups`).
struct moments {
  secret n;                   ///< rows per group
  secret z0;                  ///< 1 where n == 0
  secret n_safe;              ///< n, or 1 where n == 0
  std::vector<secret> c;      ///< per variable: integer near the mean
  std::vector<secret> m24;    ///< per variance, then the cross pair: sample comoment * 2^24
  std::vector<secret> m8;     ///< the same * 2^8, if wide
  std::vector<secret> dev;    ///< per variable, if asked: (mean - c) * 2^frac
  secret d_zero;              ///< per variance: 1 where D = n S_vv - S_v^2 is 0 (in the ring)
};

/// A (p, q) index pair into moment_spec::vars: the variances first, then the cross pair.
using var_pair = std::pair<std::size_t, std::size_t>;

/// The pairs of variables whose comoments `spec` asks for.
std::vector<var_pair> pairs_of(const moment_spec& spec) {
  std::vector<var_pair> pairs;
  for (auto v : spec.variances)
    pairs.emplace_back(v, v);
  if (spec.cross)
    pairs.emplace_back(0, 1);
  return pairs;
}

/// Per-group divisors that are >= 1 even for groups of 0 or 1 rows.
struct safe_divisors {
  secret z1;  ///< 1 where n == 1
  secret nm1; ///< n - 1, or 1 where n <= 1
  secret nn1; ///< n (n - 1), or 1 where n <= 1
};

/// Counts the rows per group into r.n, r.z0 and r.n_safe; returns z1 and nm1 (nn1 comes later).
safe_divisors count_groups(backend& b, const secret& masks, std::size_t groups, moments& r) {
  const auto g = groups;
  r.n = count(b, masks, groups);
  // Which groups have 0 or 1 rows, for the safe divisors (n, n - 1, n (n - 1) are all >= 1).
  std::vector<word> zero_one(2 * g, 0);
  std::fill(zero_one.begin() + static_cast<std::ptrdiff_t>(g), zero_one.end(), 1);
  auto zz = b.eq(concat({&r.n, &r.n}), constants(b, zero_one));
  r.z0 = part(zz, 0, g);
  safe_divisors d;
  d.z1 = part(zz, 1, g);
  r.n_safe = b.add(r.n, r.z0);
  d.nm1 = b.add(b.add_public(r.n, w(-1)), b.add(b.mul_public(r.z0, 2), d.z1));
  return d;
}

/// The exact ring sums per group: S_v for every variable, then S_pq for every pair; sets d.nn1.
std::vector<secret> group_sums(backend& b, const secret& masks, std::size_t groups,
                               std::size_t rows, const moment_spec& spec,
                               const std::vector<var_pair>& pairs, const moments& r,
                               safe_divisors& d) {
  const auto np = pairs.size();
  const auto g = groups;
  // Row products for every pair, plus n (n - 1), in one mul.
  secret lhs;
  secret rhs;
  for (auto [p, q] : pairs) {
    append(lhs, *spec.vars[p]);
    append(rhs, *spec.vars[q]);
  }
  append(lhs, r.n);
  append(rhs, b.add_public(r.n, w(-1)));
  auto prod = b.mul(lhs, rhs);
  lhs = {};
  rhs = {};
  d.nn1 = b.add(b.add(slice(prod, np * rows, g), r.z0), d.z1);
  std::vector<secret> pair_cols;
  for (std::size_t k = 0; k < np; ++k)
    pair_cols.push_back(slice(prod, k * rows, rows));
  prod = {};

  std::vector<const secret*> cols(spec.vars.begin(), spec.vars.end());
  for (auto& p : pair_cols)
    cols.push_back(&p);
  return group_dots(b, masks, groups, rows, cols);
}

/// Sets r.c (c_v = round(S_v / n)) and r.d_zero (D_v == 0); returns sc_v = S_v - n c_v.
std::vector<secret> centre(backend& b, const moment_spec& spec, std::size_t groups,
                           const std::vector<secret>& sums, moments& r) {
  const auto nv = spec.vars.size();
  const auto g = groups;
  // c_v = round(S_v / n).
  secret s_all = concat(std::span<const secret>{sums.data(), nv});
  auto c_all = b.div(s_all, tile(r.n_safe, nv), 0);
  for (std::size_t v = 0; v < nv; ++v)
    r.c.push_back(part(c_all, v, g));

  // n c_v, and D_v = n S_vv - S_v^2 (exact in the ring) for the variances.
  const auto nvar = spec.variances.size();
  secret ml = c_all;
  secret mr = tile(r.n, nv);
  for (std::size_t k = 0; k < nvar; ++k) {
    append(ml, sums[nv + k]);
    append(mr, r.n);
  }
  for (auto v : spec.variances) {
    append(ml, sums[v]);
    append(mr, sums[v]);
  }
  auto m1 = b.mul(ml, mr);
  std::vector<secret> sc;
  for (std::size_t v = 0; v < nv; ++v)
    sc.push_back(b.sub(sums[v], part(m1, v, g)));
  secret d_all;
  for (std::size_t k = 0; k < nvar; ++k)
    append(d_all, b.sub(part(m1, nv + k, g), part(m1, nv + nvar + k, g)));
  r.d_zero = b.eq(d_all, b.constant(0, d_all.size()));
  return sc;
}

/// Divides the centred sums in one div: per pair S_pq_c / (n - 1), then per pair
/// sc_p sc_q / (n (n - 1)), then the deviations sc_v / n and the wide S_pq_c, if asked.
secret centred_quotients(backend& b, const moment_spec& spec, const std::vector<var_pair>& pairs,
                         std::size_t groups, const std::vector<secret>& sums,
                         const std::vector<secret>& sc, const moments& r,
                         const safe_divisors& d) {
  const auto nv = spec.vars.size();
  const auto np = pairs.size();
  const auto g = groups;
  // Centred sums: S_pq_c = S_pq - c_p S_q - c_q sc_p, and sc_p sc_q.
  secret ml;
  secret mr;
  for (auto [p, q] : pairs) {
    append(ml, r.c[p]);
    append(mr, sums[q]);
  }
  for (auto [p, q] : pairs) {
    append(ml, r.c[q]);
    append(mr, sc[p]);
  }
  for (auto [p, q] : pairs) {
    append(ml, sc[p]);
    append(mr, sc[q]);
  }
  auto m2 = b.mul(ml, mr);
  secret num;
  secret den;
  secret centred;
  for (std::size_t k = 0; k < np; ++k) {
    append(centred, b.sub(b.sub(sums[nv + k], part(m2, k, g)), part(m2, np + k, g)));
    append(den, d.nm1);
  }
  append(num, centred);
  for (std::size_t k = 0; k < np; ++k) {
    append(num, part(m2, 2 * np + k, g));
    append(den, d.nn1);
  }
  if (spec.deviations)
    for (std::size_t v = 0; v < nv; ++v) {
      append(num, sc[v]);
      append(den, r.n_safe);
    }
  if (spec.wide) {
    // The first term again with 8 fraction bits, through a divisor 2^16 larger.
    append(num, centred);
    append(den, b.mul_public(tile(d.nm1, np), word{1} << 16));
  }
  return b.div(num, den, frac);
}

/// Sets r.m24, r.dev and r.m8 from the quotients `q` of centred_quotients for `np` pairs.
void take_comoments(backend& b, const moment_spec& spec, std::size_t np, std::size_t groups,
                    const secret& q, moments& r) {
  const auto nv = spec.vars.size();
  const auto g = groups;
  for (std::size_t k = 0; k < np; ++k)
    r.m24.push_back(b.sub(part(q, k, g), part(q, np + k, g)));
  std::size_t at = 2 * np;
  if (spec.deviations)
    for (std::size_t v = 0; v < nv; ++v)
      r.dev.push_back(part(q, at++, g));
  if (spec.wide) {
    auto second = b.trunc(slice(q, np * g, np * g), frac - 8);
    for (std::size_t k = 0; k < np; ++k)
      r.m8.push_back(b.sub(part(q, at + k, g), part(second, k, g)));
  }
}

/// The moments `spec` asks for, per group, of variables of `rows_of(masks, groups)` rows.
moments compute_moments(backend& b, const char* kernel, const secret& masks, std::size_t groups,
                        const moment_spec& spec) {
  const auto rows = rows_of(kernel, masks, groups);
  for (auto* v : spec.vars)
    expect_size(kernel, "argument", *v, rows);
  const auto pairs = pairs_of(spec);
  moments r;
  auto divisors = count_groups(b, masks, groups, r);
  // sums[0..nv) are S_v, sums[nv..nv+np) are S_pq.
  auto sums = group_sums(b, masks, groups, rows, spec, pairs, r, divisors);
  auto sc = centre(b, spec, groups, sums, r);
  auto q = centred_quotients(b, spec, pairs, groups, sums, sc, r, divisors);
  take_comoments(b, spec, pairs.size(), groups, q, r);
  return r;
}

/// The right-hand sides of lt for the flags (small, neg) of `len` variances scaled by 2^24. They
/// give keep = (1 - neg)(1 - d_zero small) = 1 - neg - d_zero small + d_zero neg (neg implies
/// small): a group is constant (or has < 2 rows) exactly when D == 0, and D cannot wrap to 0 while
/// the variance is small, so keep is 1 exactly where the variance is defined and positive.
std::vector<word> flag_limits(std::size_t len) {
  std::vector<word> limits(2 * len, 0);
  std::fill_n(limits.begin(), len, small_variance);
  return limits;
}

/// var_samp from the moments of one variable.
secret finish_variance(backend& b, const moments& mo) {
  const auto& mv = mo.m24[0];
  auto flags = b.lt(concat({&mv, &mv}), constants(b, flag_limits(mv.size())));
  const auto len = mv.size();
  auto zs = b.mul(concat({&mo.d_zero, &mo.d_zero}), flags);
  auto keep = b.add(b.sub(one_minus(b, part(flags, 1, len)), part(zs, 0, len)), part(zs, 1, len));
  return b.mul(mv, keep);
}

/// Standard deviations and scaled covariances with the wide range of the two-scale moments.
struct spread {
  std::vector<secret> keep;  ///< per variance: 1 where it is defined and positive
  std::vector<secret> sd;    ///< per variance: sd * 2^24, exactly 0 where keep is 0
  secret cov24;              ///< cross pair: cov * 2^24 where |cov| <= 2^22, else 0
  secret cov8;               ///< cross pair: cov * 2^8 where |cov| > 2^22, else 0
};

/// Chooses, per group and per moment, the 24-bit scale when the moment is at most 2^22 (where it
/// is valid and precise) and the 8-bit scale above (where the other may have wrapped), then takes
/// the square roots: sqrt(v24, 24) and sqrt(v8, 40) are both sd * 2^24, and one of them is
/// sqrt(0) = 0.
spread finish_spread(backend& b, const moments& mo, std::size_t nvar, bool cross) {
  const auto g = mo.n.size();
  const auto len = nvar * g;
  secret mv24;
  secret mv8;
  for (std::size_t k = 0; k < nvar; ++k) {
    append(mv24, mo.m24[k]);
    append(mv8, mo.m8[k]);
  }
  const word threshold = word{1} << 30;
  auto lhs = concat({&mv24, &mv24});
  auto rhs = constants(b, flag_limits(len));
  append(lhs, b.constant(threshold, len));
  append(rhs, mv8);
  if (cross) {
    append(lhs, b.constant(threshold, g));
    append(rhs, mo.m8[nvar]);
    append(lhs, mo.m8[nvar]);
    append(rhs, b.constant(w(0) - threshold, g));
  }
  auto flags = b.lt(lhs, rhs);
  auto small = part(flags, 0, len);
  auto neg = part(flags, 1, len);
  auto big = part(flags, 2, len);
  auto not_big = one_minus(b, big);
  lhs = concat({&mo.d_zero, &mo.d_zero, &mv24, &mv8});
  rhs = concat({&small, &neg, &not_big, &big});
  if (cross) {
    auto big_cov = b.add(slice(flags, 3 * len, g), slice(flags, 3 * len + g, g));
    append(lhs, mo.m24[nvar]);
    append(rhs, one_minus(b, big_cov));
    append(lhs, mo.m8[nvar]);
    append(rhs, big_cov);
  }
  auto m1 = b.mul(lhs, rhs);
  auto keep24 = b.add(b.sub(one_minus(b, neg), part(m1, 0, len)), part(m1, 1, len));
  // v24 = m24 (1 - big) keep24 and (1 - big) keep24, so keep = big + (1 - big) keep24.
  auto m24_small = part(m1, 2, len);
  auto m2 = b.mul(concat({&m24_small, &not_big}), concat({&keep24, &keep24}));
  auto v24 = part(m2, 0, len);
  auto keep = b.add(big, part(m2, 1, len));
  auto sd = b.add(b.sqrt(v24, frac), b.sqrt(part(m1, 3, len), frac + 16));
  spread r;
  for (std::size_t k = 0; k < nvar; ++k) {
    r.keep.push_back(part(keep, k, g));
    r.sd.push_back(part(sd, k, g));
  }
  if (cross) {
    r.cov24 = slice(m1, 4 * len, g);
    r.cov8 = slice(m1, 4 * len + g, g);
  }
  return r;
}

/// cov / sd(x) * 2^24 from the two scales of cov (one of the two quotients is of 0).
secret cov_over(backend& b, const spread& s, const secret& sd_safe) {
  return b.add(b.div(s.cov24, sd_safe, frac), b.div(s.cov8, sd_safe, frac + 16));
}

/// sd + 1 where keep is 0 (then sd is 0): a divisor >= 1.
secret safe(backend& b, const secret& sd, const secret& keep) {
  return b.add(sd, one_minus(b, keep));
}

/// The slope (times 2^frac, not yet masked) of y on x from the moments of {x, y} with the
/// variance of x and the cross moment; also sets `keep` to the flag of var(x).
secret raw_slope(backend& b, const moments& mo, secret& keep) {
  auto s = finish_spread(b, mo, 1, true);
  keep = s.keep[0];
  auto sx_safe = safe(b, s.sd[0], keep);
  return b.div(cov_over(b, s, sx_safe), sx_safe, frac);
}

} // namespace

secret avg(backend& b, const secret& masks, const secret& x, std::size_t groups) {
  const auto rows = rows_of("avg", masks, groups);
  expect_size("avg", "x", x, rows);
  auto n = count(b, masks, groups);
  auto z0 = b.eq(n, b.constant(0, groups));
  auto s = sum(b, masks, x, groups);
  auto mean = b.div(s, b.add(n, z0), frac);
  return b.mul(mean, one_minus(b, z0));
}

secret var_samp(backend& b, const secret& masks, const secret& x, std::size_t groups) {
  auto mo = compute_moments(b, "var_samp", masks, groups, {{&x}, {0}, false, false, false});
  return finish_variance(b, mo);
}

secret stddev_samp(backend& b, const secret& masks, const secret& x, std::size_t groups) {
  auto mo = compute_moments(b, "stddev_samp", masks, groups, {{&x}, {0}, false, false, true});
  return finish_spread(b, mo, 1, false).sd[0];
}

secret corr(backend& b, const secret& masks, const secret& x, const secret& y,
            std::size_t groups) {
  auto mo = compute_moments(b, "corr", masks, groups, {{&x, &y}, {0, 1}, true, false, true});
  auto s = finish_spread(b, mo, 2, true);
  auto both = b.mul(s.keep[0], s.keep[1]);
  auto c1 = cov_over(b, s, safe(b, s.sd[0], s.keep[0]));
  auto c2 = b.div(c1, safe(b, s.sd[1], s.keep[1]), frac);
  return b.mul(c2, both);
}

secret regr_slope(backend& b, const secret& masks, const secret& y, const secret& x,
                  std::size_t groups) {
  auto mo = compute_moments(b, "regr_slope", masks, groups, {{&x, &y}, {0}, true, false, true});
  secret keep;
  auto slope = raw_slope(b, mo, keep);
  return b.mul(slope, keep);
}

secret regr_intercept(backend& b, const secret& masks, const secret& y, const secret& x,
                      std::size_t groups) {
  auto mo = compute_moments(b, "regr_intercept", masks, groups, {{&x, &y}, {0}, true, true, true});
  const auto g = groups;
  secret keep;
  auto slope = raw_slope(b, mo, keep);
  // intercept = mean_y - slope mean_x, with mean = c + dev: slope c_x exactly in the ring, and
  // slope dev_x with 16 fraction bits on each side (|dev_x| <= 1/2 plus the error of div).
  auto t = b.trunc(concat({&slope, &mo.dev[0]}), frac - 16);
  auto slope_cx = b.mul(slope, mo.c[0]);
  auto slope_dev = b.mul_trunc(part(t, 0, g), part(t, 1, g), 32 - frac);
  auto mean_y = b.add(b.mul_public(mo.c[1], word{1} << frac), mo.dev[1]);
  return b.mul(b.sub(b.sub(mean_y, slope_cx), slope_dev), keep);
}

} // namespace joconde::engines::kernels
