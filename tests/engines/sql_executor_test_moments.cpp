// VAR_POP, STDDEV_POP, COVAR_SAMP, COVAR_POP and REGR_R2 in the executor, on the reference backend
// and on rss3, against exact rational values: per group (with a group of one row, one where y is
// constant and one where x is), under a HAVING rule, and beyond the ring, where the variances and
// covariances must be exactly rounded (half up, half away from zero for a negative covariance).

#include "joconde/engines/sql/compiler.hpp"

#include "schema_builders.hpp"
#include "sql_run_both.hpp"

#include <boost/multiprecision/cpp_int.hpp>
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

using namespace joconde;
using namespace joconde::engines;
using namespace joconde::test;

namespace {

using i64 = std::int64_t;
using real = long double;

const std::vector<std::string> groups{"a", "b", "c", "d"};

// a: five rows; b: three, y constant; c: one row; d: two, x constant.
const std::vector<i64> g_col{0, 0, 0, 0, 0, 1, 1, 1, 2, 3, 3};
const std::vector<i64> x_col{-7, 120, 33, 5, 999, 10, -20, 41, 17, 4, 4};
const std::vector<i64> y_col{300, -5, 12, 800, -999, 6, 6, 6, 9, -1, 50};

/// The exact sums of one group, and its moments as reals from them.
struct sums {
  i128 n = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;

  real var_pop() const { return n == 0 ? 0 : static_cast<real>(n * sxx - sx * sx) / static_cast<real>(n * n); }
  real var_x() const { return n < 2 ? 0 : static_cast<real>(n * sxx - sx * sx) / static_cast<real>(n * (n - 1)); }
  real var_y() const { return n < 2 ? 0 : static_cast<real>(n * syy - sy * sy) / static_cast<real>(n * (n - 1)); }
  real cov(bool population) const {
    if (n < 2)
      return 0;
    return static_cast<real>(n * sxy - sx * sy) / static_cast<real>(population ? n * n : n * (n - 1));
  }
  /// SQL's REGR_R2(y, x), with 0 for its NULL.
  real r2() const {
    const auto dx = n * sxx - sx * sx;
    const auto dy = n * syy - sy * sy;
    if (n < 2 || dx == 0)
      return 0;
    if (dy == 0)
      return 1;
    const auto c = static_cast<real>(n * sxy - sx * sy);
    return c * c / (static_cast<real>(dx) * static_cast<real>(dy));
  }
};

/// The sums of the rows of group `group` (codes in g).
sums sums_of(const std::vector<i64>& g, const std::vector<i64>& x, const std::vector<i64>& y, std::size_t group) {
  sums t;
  for (std::size_t i = 0; i < g.size(); ++i)
    if (g[i] == static_cast<i64>(group)) {
      const i128 a = x[i], b = y[i];
      t.n += 1;
      t.sx += a;
      t.sy += b;
      t.sxx += a * a;
      t.syy += b * b;
      t.sxy += a * b;
    }
  return t;
}

std::vector<sums> per_group() {
  std::vector<sums> s;
  for (std::size_t k = 0; k < groups.size(); ++k)
    s.push_back(sums_of(g_col, x_col, y_col, k));
  return s;
}

std::vector<table_schema> inputs() {
  return {table("t", {category("g", groups), integer("x", -1000, 1000), integer("y", -1000, 1000)}, 100)};
}

sql::program compiled(const std::string& source, table_schema out, std::vector<table_schema> in = inputs()) {
  auto r = sql::compile(source, std::move(in), {std::move(out)});
  BOOST_TEST_REQUIRE(r.ok(), (r ? std::string{} : r.err().message));
  return r.value();
}

constexpr real u = 0x1p-24L;  // a unit of the fixed-point results

/// The documented bound of each ring result (kernels.hpp), in output units of 10^-scale, plus the
/// rounding's half unit.
bool within(i64 got, real exact, real bound, int scale) {
  const auto k = std::pow(10.0L, scale);
  return std::fabs(static_cast<real>(got) - exact * k) <= bound * k + 0.5L + 1e-9L;
}

} // namespace

BOOST_AUTO_TEST_CASE(moments_per_group_match_exact_values_with_sql_degenerate_cases) {
  auto p = compiled("INSERT INTO o SELECT g, VAR_POP(x) AS vp, STDDEV_POP(x) AS sp, COVAR_SAMP(x, y) AS cs,\n"
                    "  COVAR_POP(x, y) AS cp, REGR_R2(y, x) AS r2 FROM t GROUP BY g;",
                    table("o", {category("g", groups), decimal("vp", 4, 0, 0), decimal("sp", 4, 0, 0),
                                decimal("cs", 4, 0, 0), decimal("cp", 4, 0, 0), decimal("r2", 6, 0, 0)}));
  const auto want = per_group();
  for (const auto& [engine, outputs] : run_both(p, {{"t", {g_col, x_col, y_col}}})) {
    const auto& o = outputs.at("o");
    BOOST_TEST_REQUIRE(o.valid.size() == groups.size());
    for (std::size_t g = 0; g < groups.size(); ++g)
      BOOST_TEST_CONTEXT(engine << " group " << groups[g]) {
        const auto& s = want[g];
        auto col = [&](std::size_t c) { return static_cast<i64>(o.columns[c][g]); };
        const auto vp = s.var_pop();
        const auto sd = std::sqrt(vp);
        BOOST_TEST(within(col(1), vp, 0x1p-26L * vp + 8 * u, 4), col(1) << " vs " << vp);
        BOOST_TEST(within(col(2), sd, 0x1p-22L * sd + 8 * u + (sd > 0 ? 8 * u / sd : 0), 4), col(2) << " vs " << sd);
        for (bool pop : {false, true}) {
          const auto c = s.cov(pop);
          BOOST_TEST(within(col(pop ? 4 : 3), c, 0x1p-26L * std::fabs(c) + 8 * u, 4), col(pop ? 4 : 3) << " vs " << c);
        }
        const auto vx = s.var_x(), vy = s.var_y();
        const auto e = vx > 0 && vy > 0 ? 0x1p-21L + 8 * u / vx + 8 * u / vy + 4 * u / std::sqrt(vx * vy) : 0;
        BOOST_TEST(within(col(5), s.r2(), 2 * e + e * e + u, 6), col(5) << " vs " << s.r2());
        // The degenerate groups exactly: one row (c) gives 0 everywhere; constant y (b) an R2 of
        // 1; constant x (d) a variance, covariance and R2 of 0.
        if (g == 2)
          for (std::size_t k = 1; k <= 5; ++k)
            BOOST_TEST(col(k) == 0);
        if (g == 1)
          BOOST_TEST(col(5) == 1'000'000);
        if (g == 3) {
          BOOST_TEST(col(1) == 0);
          BOOST_TEST(col(2) == 0);
          BOOST_TEST(col(5) == 0);
        }
      }
  }
}

BOOST_AUTO_TEST_CASE(a_having_rule_withholds_small_groups) {
  auto p = compiled("INSERT INTO o SELECT g, COVAR_SAMP(x, y) AS cs, REGR_R2(y, x) AS r2 FROM t\n"
                    "GROUP BY g HAVING COUNT(*) >= 3;",
                    table("o", {category("g", groups), decimal("cs", 1, 0, 0), decimal("r2", 3, 0, 0)}));
  const auto want = per_group();
  for (const auto& [engine, outputs] : run_both(p, {{"t", {g_col, x_col, y_col}}}))
    BOOST_TEST_CONTEXT(engine) {
      const auto& o = outputs.at("o");
      BOOST_TEST_REQUIRE(o.columns.size() == 4u);  // g, cs, r2, the published flags
      // a and b published; c and d withheld (their rows kept, the values zeros); none empty.
      for (std::size_t g = 0; g < groups.size(); ++g) {
        const bool shown = want[g].n >= 3;
        BOOST_TEST(o.valid[g] == 1u);
        BOOST_TEST(o.columns[3][g] == (shown ? 1u : 0u));
        if (!shown) {
          BOOST_TEST(o.columns[1][g] == 0u);
          BOOST_TEST(o.columns[2][g] == 0u);
        } else {
          BOOST_TEST(within(static_cast<i64>(o.columns[1][g]), want[g].cov(false), 1e-3L, 1));
        }
      }
      BOOST_TEST(o.columns[2][1] == 1000u);
    }
}

namespace {

/// hi 2^64 + mid 2^32 + lo of a three-word output column starting at `c`.
i128 wide_at(const clear_output& o, std::size_t c, std::size_t row) {
  return (static_cast<i128>(static_cast<i64>(o.columns[c][row])) << 64)
         + (static_cast<i128>(o.columns[c + 1][row]) << 32) + static_cast<i128>(o.columns[c + 2][row]);
}

/// a / d (d > 0) rounded half away from zero, and rounded half up.
i128 round_away(i128 a, i128 d) {
  const i128 m = (2 * (a < 0 ? -a : a) + d) / (2 * d);
  return a < 0 ? -m : m;
}
i128 round_up(i128 a, i128 d) {
  const auto t = 2 * a + d;  // floor(t / 2d), t may be negative
  return t >= 0 ? t / (2 * d) : -((-t + 2 * d - 1) / (2 * d));
}

} // namespace

BOOST_AUTO_TEST_CASE(beyond_the_ring_variances_and_covariances_are_exact_and_rounded) {
  // Amounts in cents up to 10^14 over 10^7 declared rows: only the 128-bit forms fit. In group a
  // (two rows) COVAR_SAMP is -15 units of 10^-4, a tie when written with three decimals: -0.0015
  // is -0.002 half away from zero (half up would give -0.001); COVAR_POP, -0.00075, is -0.001.
  const i64 big = 90'000'000'000'000;
  std::vector<table_schema> in{table("f", {category("g", groups), decimal("v", 2, -100'000'000'000'000, 100'000'000'000'000),
                                           decimal("w", 2, -100'000'000'000'000, 100'000'000'000'000)},
                                     10'000'000)};
  const std::vector<i64> g{0, 0, 1, 1, 1, 1, 2};
  const std::vector<i64> v{5, 4, big, -big, 123'456'789'012, big - 1, 77};
  const std::vector<i64> w{0, 30, -big, big, 5, -3, 1};
  auto p = compiled("INSERT INTO o SELECT g, VAR_POP(v) AS vp, COVAR_SAMP(v, w) AS cs, COVAR_POP(v, w) AS cp,\n"
                    "  STDDEV_POP(v) AS sp, REGR_R2(w, v) AS r2 FROM f GROUP BY g;",
                    table("o", {category("g", groups), decimal("vp", 3, 0, 0), decimal("cs", 3, 0, 0),
                                decimal("cp", 3, 0, 0), decimal("sp", 2, 0, 0), decimal("r2", 6, 0, 0)}),
                    in);
  BOOST_TEST(p.output_words("o") == (std::vector<unsigned>{1, 3, 3, 3, 3, 3}), boost::test_tools::per_element());
  for (const auto& [engine, outputs] : run_both(p, {{"f", {g, v, w}}})) {
    const auto& o = outputs.at("o");
    for (std::size_t k = 0; k < groups.size(); ++k)
      BOOST_TEST_CONTEXT(engine << " group " << groups[k]) {
        const auto s = sums_of(g, v, w, k);
        const auto n = s.n;
        // Values in cents^2 (4 decimals), written with 3: divided by 10.
        const auto vv = n * s.sxx - s.sx * s.sx;  // n^2 var_pop
        const auto cv = n * s.sxy - s.sx * s.sy;  // n (n - 1) covar_samp = n^2 covar_pop
        const i128 want_vp = n == 0 ? 0 : round_up(vv, n * n * 10);
        const i128 want_cs = n < 2 ? 0 : round_away(cv, n * (n - 1) * 10);
        const i128 want_cp = n < 2 ? 0 : round_away(cv, n * n * 10);
        BOOST_TEST((wide_at(o, 1, k) == want_vp), static_cast<long double>(wide_at(o, 1, k)));
        BOOST_TEST((wide_at(o, 4, k) == want_cs), static_cast<long double>(wide_at(o, 4, k)));
        BOOST_TEST((wide_at(o, 7, k) == want_cp), static_cast<long double>(wide_at(o, 7, k)));
        // STDDEV_POP in cents, sqrt(vv) / n rounded half up: the largest c with (2 c - 1)^2 n^2
        // <= 4 vv; REGR_R2 10^6 cv^2 / (vv dw) rounded half up, 1 where w is constant, exactly.
        using big = boost::multiprecision::cpp_int;
        const big want_sp = n == 0 ? big{0} : (boost::multiprecision::sqrt(big{4 * vv} / big{n * n}) + 1) / 2;
        BOOST_TEST((big{wide_at(o, 10, k)} == want_sp), static_cast<real>(wide_at(o, 10, k)) << " vs " << want_sp);
        const auto dw = n * s.syy - s.sy * s.sy;
        const big pq = big{vv} * big{dw};
        const big want_r2 = n < 2 || vv == 0 ? big{0}
                            : dw == 0        ? big{1'000'000}
                                             : (2 * big{cv} * big{cv} * 1'000'000 + pq) / (2 * pq);
        BOOST_TEST((big{wide_at(o, 13, k)} == want_r2), static_cast<real>(wide_at(o, 13, k)) << " vs " << want_r2);
      }
    // The ties of group a, as the comment says.
    BOOST_TEST((wide_at(o, 4, 0) == -2));
    BOOST_TEST((wide_at(o, 7, 0) == -1));
  }
}
