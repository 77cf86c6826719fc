#pragma once

// Support of kernels_exact_test: tables at the edges of what kernels::check_range accepts, the
// exact value of every statistic per group (exact __int128 sums; means and variances compared as
// rationals, the rest in long double from those exact sums, whose rounding is far below the
// bounds), and the error bounds kernels.hpp documents.

#include "joconde/engines/backend.hpp"
#include "joconde/engines/kernels.hpp"
#include "joconde/engines/secret_ops.hpp"

#include "three_parties.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace joconde::test::exact {

using engines::word;
namespace k = engines::kernels;
__extension__ typedef __int128 i128;
using real = long double;

/// One table: rows with a group code, a 0/1 filter and the arguments x and y.
struct table {
  std::string name;
  std::size_t groups = 1;
  std::vector<std::int64_t> cat;
  std::vector<std::int64_t> filter;
  std::vector<std::int64_t> x;
  std::vector<std::int64_t> y;
  /// y = a x + b exactly in every group (then the slope is a and the intercept b).
  std::optional<std::pair<std::int64_t, std::int64_t>> line;

  void add(std::size_t g, std::int64_t xv, std::int64_t yv, bool pass = true) {
    cat.push_back(static_cast<std::int64_t>(g));
    filter.push_back(pass ? 1 : 0);
    x.push_back(xv);
    y.push_back(yv);
  }
};

/// The statistics of a run, in the order of their results (each one word per group).
enum stat : std::size_t {
  count, sum_x, avg_x, avg_y, var_x, var_y, sd_x, sd_y, corr, slope, intercept, stat_count
};

/// Runs every statistic of `t` on `b` (party 0 inputs the table) and reveals the results.
inline std::vector<word> run_statistics(engines::backend& b, const table& t, unsigned party) {
  auto in = [&](const std::vector<std::int64_t>& v) { return joconde::test::party0_input(b, v, party); };
  const auto g = t.groups;
  auto x = in(t.x);
  auto y = in(t.y);
  auto masks = k::group_masks(b, in(t.cat), g, in(t.filter));
  std::vector<engines::secret> r{
    k::count(b, masks, g),          k::sum(b, masks, x, g),           k::avg(b, masks, x, g),
    k::avg(b, masks, y, g),         k::var_samp(b, masks, x, g),      k::var_samp(b, masks, y, g),
    k::stddev_samp(b, masks, x, g), k::stddev_samp(b, masks, y, g),   k::corr(b, masks, x, y, g),
    k::regr_slope(b, masks, y, x, g), k::regr_intercept(b, masks, y, x, g)};
  return b.reveal(engines::concat(std::span<const engines::secret>{r}));
}

// -- exact values -------------------------------------------------------------------------------

/// Exact sums of one group, centred on cx = floor(mean x), cy = floor(mean y): u = x - cx,
/// v = y - cy.
struct truth {
  i128 n = 0, sx = 0, sy = 0, cx = 0, cy = 0, su = 0, sv = 0, suu = 0, svv = 0, suv = 0;

  i128 dxx() const { return n * suu - su * su; } ///< n (n - 1) var(x)
  i128 dyy() const { return n * svv - sv * sv; }
  i128 cxy() const { return n * suv - su * sv; } ///< n (n - 1) cov(x, y)
  real nn1() const { return static_cast<real>(n * (n - 1)); }
  real var_x() const { return n < 2 ? 0 : static_cast<real>(dxx()) / nn1(); }
  real var_y() const { return n < 2 ? 0 : static_cast<real>(dyy()) / nn1(); }
  real mean_x() const { return n == 0 ? 0 : static_cast<real>(sx) / static_cast<real>(n); }
  real slope() const { return dxx() == 0 ? 0 : static_cast<real>(cxy()) / static_cast<real>(dxx()); }
  real corr() const {
    if (dxx() == 0 || dyy() == 0)
      return 0;
    return static_cast<real>(cxy()) / std::sqrt(static_cast<real>(dxx()) * static_cast<real>(dyy()));
  }
  /// mean y - slope mean x = cy - cx C / D + (sv suu - su suv) / D.
  real intercept() const {
    if (n < 2 || dxx() == 0)
      return 0;
    auto d = static_cast<real>(dxx());
    return static_cast<real>(cy) - static_cast<real>(cx) * slope()
           + static_cast<real>(sv * suu - su * suv) / d;
  }
};

inline i128 floor_div(i128 a, i128 b) {
  auto q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

inline truth truth_of(const table& t, std::size_t g) {
  truth r;
  auto in = [&](std::size_t i) { return t.filter[i] == 1 && t.cat[i] == static_cast<std::int64_t>(g); };
  for (std::size_t i = 0; i < t.x.size(); ++i)
    if (in(i)) {
      ++r.n;
      r.sx += t.x[i];
      r.sy += t.y[i];
    }
  if (r.n == 0)
    return r;
  r.cx = floor_div(r.sx, r.n);
  r.cy = floor_div(r.sy, r.n);
  for (std::size_t i = 0; i < t.x.size(); ++i)
    if (in(i)) {
      i128 u = t.x[i] - r.cx;
      i128 v = t.y[i] - r.cy;
      r.su += u;
      r.sv += v;
      r.suu += u * u;
      r.svv += v * v;
      r.suv += u * v;
    }
  return r;
}

// -- what check_range accepts -------------------------------------------------------------------

/// The argument ranges of a table (over all rows, filtered ones too) and its row count.
struct ranges {
  std::uint64_t rows = 0;
  std::int64_t xlo = 0, xhi = 0, ylo = 0, yhi = 0;
};

inline ranges ranges_of(const table& t) {
  ranges r;
  r.rows = t.x.size();
  if (t.x.empty())
    return r;
  r.xlo = r.xhi = t.x[0];
  r.ylo = r.yhi = t.y[0];
  for (std::size_t i = 0; i < t.x.size(); ++i) {
    r.xlo = std::min(r.xlo, t.x[i]);
    r.xhi = std::max(r.xhi, t.x[i]);
    r.ylo = std::min(r.ylo, t.y[i]);
    r.yhi = std::max(r.yhi, t.y[i]);
  }
  return r;
}

/// Whether check_range accepts statistic `s` of the run for the table's ranges.
inline bool accepted(stat s, const ranges& r) {
  using a = k::aggregate;
  switch (s) {
    case count: return true;
    case sum_x: return k::check_range(a::sum, r.rows, r.xlo, r.xhi).ok();
    case avg_x: return k::check_range(a::avg, r.rows, r.xlo, r.xhi).ok();
    case avg_y: return k::check_range(a::avg, r.rows, r.ylo, r.yhi).ok();
    case var_x: return k::check_range(a::var_samp, r.rows, r.xlo, r.xhi).ok();
    case var_y: return k::check_range(a::var_samp, r.rows, r.ylo, r.yhi).ok();
    case sd_x: return k::check_range(a::stddev_samp, r.rows, r.xlo, r.xhi).ok();
    case sd_y: return k::check_range(a::stddev_samp, r.rows, r.ylo, r.yhi).ok();
    case corr: return k::check_range(a::corr, r.rows, r.xlo, r.xhi, r.ylo, r.yhi).ok();
    case slope: return k::check_range(a::regr_slope, r.rows, r.ylo, r.yhi, r.xlo, r.xhi).ok();
    case intercept:
      return k::check_range(a::regr_intercept, r.rows, r.ylo, r.yhi, r.xlo, r.xhi).ok();
    case stat_count: break;
  }
  return false;
}

/// The largest K in [0, limit] with ok(K), for ok true at 0 and monotone; -1 if not even 0.
inline std::int64_t largest(std::int64_t limit, const std::function<bool(std::int64_t)>& ok) {
  if (!ok(0))
    return -1;
  std::int64_t lo = 0;
  std::int64_t hi = limit;
  while (lo < hi) {
    auto mid = lo + (hi - lo + 1) / 2;
    if (ok(mid))
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

// -- the tables and the check (kernels_exact_test_tables.cpp, kernels_exact_test.cpp) ----------

/// The seed the tables of a test start from: JOCONDE_EXACT_SEED if set (to try other data), else
/// `fixed`. Every table's name carries its seed.
inline std::uint64_t base_seed(std::uint64_t fixed) {
  const char* env = std::getenv("JOCONDE_EXACT_SEED");
  return env != nullptr ? fixed + std::strtoull(env, nullptr, 10) * 1'000'003 : fixed;
}

/// The widest K with check_range(agg, n, -K, K) accepted (both arguments in that range).
std::int64_t widest(k::aggregate agg, std::uint64_t n);

/// The smallest variances of whole numbers, about 1 / n: x constant but for one or two rows, y
/// over the widest range of REGR_INTERCEPT and following x.
std::vector<table> nearly_constant_tables(std::size_t n, std::uint64_t seed);

/// Tables of n rows (n >= 2) at the edges check_range accepts for n rows: spreads of 2^20 .. 2^28
/// units, the widest range of each statistic, the largest offsets with small spreads (x = y,
/// y = -x), constant columns, exact lines y = a x + b and the steepest slopes.
std::vector<table> edge_tables(std::size_t n, std::uint64_t seed);

/// A few tables of n rows at the widest range of each statistic (for large n).
std::vector<table> widest_tables(std::size_t n, std::uint64_t seed);

/// Five groups of n rows in all: a wide one, constant x, a single row, an empty group and x = y,
/// plus filtered rows.
table group_table(std::size_t n, std::uint64_t seed);

/// Checks the results of run_statistics on `t` against the exact values within the documented
/// bounds, for every statistic check_range accepts; returns how many statistics it checked.
std::size_t check(const table& t, const std::vector<word>& got, const std::string& engine);

} // namespace joconde::test::exact
