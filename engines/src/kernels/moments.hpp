#pragma once

// The moments every statistic but AVG starts from (internal to the kernels): exact ring sums per
// group, centred on an integer c near each mean, so that the quantities handed to div and sqrt stay
// small:
//   S_pq_c = sum (p - c_p)(q - c_q) = S_pq - c_p S_q - c_q (S_p - n c_p)       (exact, in the ring)
//   cov(p, q) = S_pq_c / (n - 1) - (S_p - n c_p)(S_q - n c_q) / (n (n - 1))
// Ring arithmetic wraps modulo 2^64, so the exact identities hold whatever the size of S_pq; only the
// true values of the centred quantities must be small, which check_range (limits.cpp) verifies.
// The centre comes from two divisions (the second of the remainder S - n c), so |mean - c| stays
// below 3 + |mean| 2^-58 even where div is only 2^-29 relative: the term divided by n (n - 1)
// then stays below about 20, and its division error below a unit.
// Each comoment is kept with 24 fraction bits, and with 8 ("wide") where the statistic's range
// needs it; per group the 24-bit value is used where the moment is small (variances up to 2^21,
// covariances up to 2^22) and the 8-bit one above, so the range is limited by sum (x - c)^2 < 2^62
// only. Each comoment is then within 2^-29 of itself plus 5.5 units of its scale.

#include "common.hpp"

#include "joconde/engines/kernels.hpp"

#include <cstddef>
#include <utility>
#include <vector>

namespace joconde::engines::kernels::detail {

/// Fraction bits of the statistics' results.
inline constexpr unsigned frac = stat_frac;

/// Slice number `i` of length `len`.
inline secret part(const secret& x, std::size_t i, std::size_t len) {
  return slice(x, i * len, len);
}

/// What a statistic needs: which variables, which variances, whether the cross moment of
/// vars[0] and vars[1], whether the fractional offsets (mean - c) * 2^frac, whether the wide
/// (8 fraction bits) comoments, whether the population comoments (divided by n and n^2 instead of
/// n - 1 and n (n - 1): no larger, so within the same limits).
struct moment_spec {
  std::vector<const secret*> vars;
  std::vector<std::size_t> variances;
  bool cross = false;
  bool deviations = false;
  bool wide = false;
  bool population = false;
};

/// Per-group moments of the variables of a moment_spec (every secret has length `groups`).
struct moments {
  secret n;                   ///< rows per group
  secret z0;                  ///< 1 where n == 0
  secret z1;                  ///< 1 where n == 1
  secret n_safe;              ///< n, or 1 where n == 0
  std::vector<secret> c;      ///< per variable: integer near the mean
  std::vector<secret> sc;     ///< per variable: S_v - n c_v (exact)
  std::vector<secret> m24;    ///< per variance, then the cross pair: comoment * 2^24
  std::vector<secret> m8;     ///< the same * 2^8, if wide
  std::vector<secret> dev;    ///< per variable, if asked: about (mean - c) * 2^frac (div's error)
  secret d_zero;              ///< per variance: 1 where D = n S_vv - S_v^2 is 0 (in the ring)
};

/// The moments `spec` asks for, per group, of variables of `rows_of(kernel, by)` rows.
moments compute_moments(backend& b, const char* kernel, const grouping& by, const moment_spec& spec);

/// var_samp * 2^24 from the moments of one variable: m24 where the variance is defined and
/// positive, else 0 (wide moments not needed).
secret variance_of(backend& b, const moments& mo);

/// How the cross comoment is split between the two scales (see select_scales).
enum class cross_scale {
  none,  ///< no cross moment
  own,   ///< by the covariance's own size, as for the variances (corr)
  both,  ///< by its own size and by the size of the first variance (the slope)
};

/// Per group, each moment at the scale it is valid and precise at, with the flags of the choice.
struct scales {
  std::vector<secret> keep;  ///< per variance: 1 where it is defined and positive
  std::vector<secret> v24;   ///< per variance: var * 2^24 where at most 2^21 and kept, else 0
  std::vector<secret> v8;    ///< per variance: var * 2^8 where above 2^21, else 0
  secret cov24;              ///< cross pair: cov * 2^24 where |cov| <= 2^22, else 0
  secret cov8;               ///< cross pair: cov * 2^8 where |cov| > 2^22, else 0
  // With cross_scale::both only:
  secret x_cov24;            ///< cov * 2^24 where var(x) <= 2^21, else 0
  secret x_cov8;             ///< cov * 2^8 where var(x) > 2^21, else 0
  secret v24_big_cov;        ///< var(x) * 2^24 (not masked by keep) where at most 2^21 and |cov| > 2^22
  secret v8_big_cov;         ///< v8 of x where |cov| > 2^22
  secret steep_ok;           ///< 1 where var(x) < 2^38 and not (var(x) > 2^21 and |cov| <= 2^22)
};

/// Chooses, per group and per moment, the 24-bit scale where the moment is small (variances up to
/// 2^21, covariances up to 2^22: there it is valid and precise) and the 8-bit scale above (where
/// the other may have wrapped). Needs wide moments.
scales select_scales(backend& b, const moments& mo, std::size_t nvar, cross_scale cross);

/// sd * 2^24 per variance of `s`, exactly 0 where keep is 0: sqrt(v24, 24) + sqrt(v8, 40) (one of
/// the two is sqrt(0) = 0).
std::vector<secret> standard_deviations(backend& b, const scales& s);

} // namespace joconde::engines::kernels::detail
