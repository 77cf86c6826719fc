// The moments of the statistics (moments.hpp): counts, exact ring sums, centres, comoments at two
// scales, and the per-group choice of scale.

#include "moments.hpp"

#include <algorithm>

namespace joconde::engines::kernels::detail {

namespace {

/// A computed variance (times 2^frac) at most this is treated as possibly zero: approximate div
/// may leave a few units where the exact value is 0, so such groups are checked exactly (D == 0).
constexpr word small_variance = 9;

/// Variances above 2^21 (this, at 8 fraction bits) use their 8-bit value: it is precise to 2^-26
/// relative there, and below it the 24-bit value times 2^16 stays below 2^61 (slope quotients).
constexpr word big_variance = word{1} << 29;

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
  secret nm1; ///< n - 1, or 1 where n <= 1 (population moments: n, or 1 where n == 0)
  secret nn1; ///< n (n - 1), or 1 where n <= 1 (population moments: n^2, or 1 where n == 0)
};

/// Counts the rows per group into r.n, r.z0, r.z1 and r.n_safe; returns z1 and nm1 (nn1 comes
/// later).
safe_divisors count_groups(backend& b, const grouping& by, bool population, moments& r) {
  const auto g = by.groups();
  r.n = count(b, by);
  // Which groups have 0 or 1 rows, for the safe divisors (n, n - 1, n (n - 1) are all >= 1).
  std::vector<word> zero_one(2 * g, 0);
  std::fill(zero_one.begin() + static_cast<std::ptrdiff_t>(g), zero_one.end(), 1);
  auto zz = b.eq(concat({&r.n, &r.n}), constants(b, zero_one));
  r.z0 = part(zz, 0, g);
  safe_divisors d;
  d.z1 = part(zz, 1, g);
  r.z1 = d.z1;
  r.n_safe = b.add(r.n, r.z0);
  d.nm1 = population ? r.n_safe : b.add(b.add_public(r.n, w(-1)), b.add(b.mul_public(r.z0, 2), d.z1));
  return d;
}

/// The exact ring sums per group: S_v for every variable, then S_pq for every pair; sets d.nn1.
std::vector<secret> group_sums(backend& b, const grouping& by, std::size_t rows, const moment_spec& spec,
                               const std::vector<var_pair>& pairs, const moments& r, safe_divisors& d) {
  const auto np = pairs.size();
  const auto g = by.groups();
  // Row products for every pair, plus n (n - 1) (or n^2), in one mul.
  secret lhs;
  secret rhs;
  for (auto [p, q] : pairs) {
    append(lhs, *spec.vars[p]);
    append(rhs, *spec.vars[q]);
  }
  append(lhs, r.n);
  append(rhs, spec.population ? r.n : b.add_public(r.n, w(-1)));
  auto prod = b.mul(lhs, rhs);
  lhs = {};
  rhs = {};
  d.nn1 = b.add(slice(prod, np * rows, g), spec.population ? r.z0 : b.add(r.z0, d.z1));
  std::vector<secret> pair_cols;
  for (std::size_t k = 0; k < np; ++k)
    pair_cols.push_back(slice(prod, k * rows, rows));
  prod = {};

  std::vector<const secret*> cols(spec.vars.begin(), spec.vars.end());
  for (auto& p : pair_cols)
    cols.push_back(&p);
  return group_dots(b, by, cols);
}

/// Sets r.c, r.sc = S_v - n c_v and r.d_zero (D_v == 0). c_v = c1 + round((S_v - n c1) / n) for
/// c1 = round(S_v / n): the first division is within 2^-29 |mean| + 2, the second brings the
/// centre within 3 + |mean| 2^-58.
void centre(backend& b, const moment_spec& spec, std::size_t groups,
            const std::vector<secret>& sums, moments& r) {
  const auto nv = spec.vars.size();
  const auto g = groups;
  secret s_all = concat(std::span<const secret>{sums.data(), nv});
  const auto n_safe = tile(r.n_safe, nv);
  const auto n_all = tile(r.n, nv);
  auto c1 = b.div(s_all, n_safe, 0);

  // n c1, and D_v = n S_vv - S_v^2 (exact in the ring) for the variances.
  const auto nvar = spec.variances.size();
  secret ml = c1;
  secret mr = n_all;
  for (std::size_t k = 0; k < nvar; ++k) {
    append(ml, sums[nv + k]);
    append(mr, r.n);
  }
  for (auto v : spec.variances) {
    append(ml, sums[v]);
    append(mr, sums[v]);
  }
  auto m1 = b.mul(ml, mr);
  auto rest = b.sub(s_all, part(m1, 0, nv * g));
  auto c2 = b.div(rest, n_safe, 0);
  auto sc_all = b.sub(rest, b.mul(c2, n_all));
  auto c_all = b.add(c1, c2);
  for (std::size_t v = 0; v < nv; ++v) {
    r.c.push_back(part(c_all, v, g));
    r.sc.push_back(part(sc_all, v, g));
  }
  secret d_all;
  for (std::size_t k = 0; k < nvar; ++k)
    append(d_all, b.sub(slice(m1, (nv + k) * g, g), slice(m1, (nv + nvar + k) * g, g)));
  r.d_zero = b.eq(d_all, b.constant(0, d_all.size()));
}

/// Divides the centred sums in one div: per pair S_pq_c / (n - 1), then per pair
/// sc_p sc_q / (n (n - 1)) (population moments: / n and / n^2), then the deviations sc_v / n and the wide S_pq_c, if asked.
secret centred_quotients(backend& b, const moment_spec& spec, const std::vector<var_pair>& pairs,
                         std::size_t groups, const std::vector<secret>& sums, const moments& r,
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
    append(mr, r.sc[p]);
  }
  for (auto [p, q] : pairs) {
    append(ml, r.sc[p]);
    append(mr, r.sc[q]);
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
      append(num, r.sc[v]);
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

/// The right-hand sides of lt for the flags (small, neg) of `len` variances scaled by 2^24 (neg:
/// not positive). They give keep = (1 - neg)(1 - d_zero small) = 1 - neg - d_zero small + d_zero
/// neg (neg implies small): a group is constant (or has < 2 rows) exactly when D == 0, and D
/// cannot wrap to 0 while the variance is small, so keep is 1 exactly where the variance is
/// defined and its computed value positive (at least one unit, so that it can divide).
std::vector<word> flag_limits(std::size_t len) {
  std::vector<word> limits(2 * len, 1);
  std::fill_n(limits.begin(), len, small_variance);
  return limits;
}

} // namespace

moments compute_moments(backend& b, const char* kernel, const grouping& by, const moment_spec& spec) {
  const auto groups = by.groups();
  const auto rows = rows_of(kernel, by);
  for (auto* v : spec.vars)
    expect_size(kernel, "argument", *v, rows);
  const auto pairs = pairs_of(spec);
  moments r;
  auto divisors = count_groups(b, by, spec.population, r);
  // sums[0..nv) are S_v, sums[nv..nv+np) are S_pq.
  auto sums = group_sums(b, by, rows, spec, pairs, r, divisors);
  centre(b, spec, groups, sums, r);
  auto q = centred_quotients(b, spec, pairs, groups, sums, r, divisors);
  take_comoments(b, spec, pairs.size(), groups, q, r);
  return r;
}

secret variance_of(backend& b, const moments& mo) {
  const auto& mv = mo.m24[0];
  auto flags = b.lt(concat({&mv, &mv}), constants(b, flag_limits(mv.size())));
  const auto len = mv.size();
  auto zs = b.mul(concat({&mo.d_zero, &mo.d_zero}), flags);
  auto keep = b.add(b.sub(one_minus(b, part(flags, 1, len)), part(zs, 0, len)), part(zs, 1, len));
  return b.mul(mv, keep);
}

namespace {

/// The flags of select_scales, in one lt: per variance small (mv24 < 9), neg (mv24 < 1), big
/// (variance > 2^21); then, with a cross pair, cov > 2^22, cov < -2^22 and var(x) < 2^38.
secret scale_flags(backend& b, const moments& mo, const secret& mv24, const secret& mv8,
                   std::size_t nvar, cross_scale cross) {
  const auto g = mo.n.size();
  const word threshold = word{1} << 30;
  auto lhs = concat({&mv24, &mv24});
  auto rhs = constants(b, flag_limits(mv24.size()));
  append(lhs, b.constant(big_variance, mv24.size()));
  append(rhs, mv8);
  if (cross != cross_scale::none) {
    append(lhs, b.constant(threshold, g));
    append(rhs, mo.m8[nvar]);
    append(lhs, mo.m8[nvar]);
    append(rhs, b.constant(w(0) - threshold, g));
    append(lhs, mo.m8[0]);
    append(rhs, b.constant(word{1} << 46, g));
  }
  return b.lt(lhs, rhs);
}

} // namespace

scales select_scales(backend& b, const moments& mo, std::size_t nvar, cross_scale cross) {
  const auto g = mo.n.size();
  const auto len = nvar * g;
  secret mv24;
  secret mv8;
  for (std::size_t k = 0; k < nvar; ++k) {
    append(mv24, mo.m24[k]);
    append(mv8, mo.m8[k]);
  }
  auto flags = scale_flags(b, mo, mv24, mv8, nvar, cross);
  auto small = part(flags, 0, len);
  auto neg = part(flags, 1, len);
  auto big = part(flags, 2, len);
  auto not_big = one_minus(b, big);
  auto lhs = concat({&mo.d_zero, &mo.d_zero, &mv24, &mv8});
  auto rhs = concat({&small, &neg, &not_big, &big});
  secret big_cov;
  if (cross != cross_scale::none) {
    big_cov = b.add(slice(flags, 3 * len, g), slice(flags, 3 * len + g, g));
    // cov (1 - flag) and cov flag at the two scales.
    auto split = [&](const secret& flag) {
      append(lhs, mo.m24[nvar]);
      append(rhs, one_minus(b, flag));
      append(lhs, mo.m8[nvar]);
      append(rhs, flag);
    };
    split(big_cov);
    if (cross == cross_scale::both) {
      split(part(big, 0, g));
      // The steep quotient has no valid divisor where var(x) is big but |cov| is not.
      append(lhs, part(big, 0, g));
      append(rhs, one_minus(b, big_cov));
    }
  }
  auto m1 = b.mul(lhs, rhs);
  auto keep24 = b.add(b.sub(one_minus(b, neg), part(m1, 0, len)), part(m1, 1, len));
  // v24 = m24 (1 - big) keep24 and (1 - big) keep24, so keep = big + (1 - big) keep24.
  auto m24_small = part(m1, 2, len);
  lhs = concat({&m24_small, &not_big});
  rhs = concat({&keep24, &keep24});
  if (cross == cross_scale::both) {
    append(lhs, slice(m1, 2 * len, g));
    append(lhs, slice(m1, 3 * len, g));
    append(lhs, slice(flags, 3 * len + 2 * g, g));
    append(rhs, big_cov);
    append(rhs, big_cov);
    append(rhs, one_minus(b, slice(m1, 4 * len + 4 * g, g)));
  }
  auto m2 = b.mul(lhs, rhs);
  auto keep = b.add(big, part(m2, 1, len));
  scales r;
  for (std::size_t k = 0; k < nvar; ++k) {
    r.keep.push_back(part(keep, k, g));
    r.v24.push_back(part(m2, k, g));
    r.v8.push_back(slice(m1, 3 * len + k * g, g));
  }
  if (cross != cross_scale::none) {
    r.cov24 = slice(m1, 4 * len, g);
    r.cov8 = slice(m1, 4 * len + g, g);
  }
  if (cross == cross_scale::both) {
    r.x_cov24 = slice(m1, 4 * len + 2 * g, g);
    r.x_cov8 = slice(m1, 4 * len + 3 * g, g);
    r.v24_big_cov = slice(m2, 2 * len, g);
    r.v8_big_cov = slice(m2, 2 * len + g, g);
    r.steep_ok = slice(m2, 2 * len + 2 * g, g);
  }
  return r;
}

std::vector<secret> standard_deviations(backend& b, const scales& s) {
  const auto g = s.keep.empty() ? 0 : s.keep[0].size();
  auto v24 = concat(std::span<const secret>{s.v24});
  auto v8 = concat(std::span<const secret>{s.v8});
  auto sd = b.add(b.sqrt(v24, frac), b.sqrt(v8, frac + 16));
  std::vector<secret> r;
  for (std::size_t k = 0; k < s.v24.size(); ++k)
    r.push_back(part(sd, k, g));
  return r;
}

} // namespace joconde::engines::kernels::detail
