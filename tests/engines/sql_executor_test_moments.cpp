// VAR_POP, STDDEV_POP, COVAR_SAMP, COVAR_POP and REGR_R2 in the executor, on the reference backend
// and on rss3, against exact rational values: per group (with a group of one row, one where y is
// constant and one where x is), under a HAVING rule, on ties, and beyond the ring: written whole to
// decimal columns every one of them must be exactly rounded (half up, half away from zero for a
// negative covariance).

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

/// The exact sums of one group.
struct sums {
  i128 n = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
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
        // Whole select items written to decimal columns: each exact, rounded once (four decimals:
        // times 10^4; REGR_R2 six).
        using big = boost::multiprecision::cpp_int;
        const big n = big{s.n};
        const big vv = n * big{s.sxx} - big{s.sx} * big{s.sx};  // n^2 var_pop
        const big cv = n * big{s.sxy} - big{s.sx} * big{s.sy};  // n^2 covar_pop
        const big dy = n * big{s.syy} - big{s.sy} * big{s.sy};
        const big k4 = 10'000;
        auto half_up = [](const big& a, const big& d) { return (2 * a + d) / (2 * d); };  // a >= 0
        auto half_away = [&](const big& a, const big& d) { return a < 0 ? big{-half_up(-a, d)} : half_up(a, d); };
        auto is = [&](std::size_t c, const big& want) {
          BOOST_TEST((big{col(c)} == want), "column " << c << ": " << col(c) << " vs " << want);
        };
        if (s.n > 0) {
          is(1, half_up(vv * k4, n * n));
          is(2, (boost::multiprecision::sqrt(big{4 * vv * k4 * k4 / (n * n)}) + 1) / 2);
        }
        if (s.n > 1) {
          is(3, half_away(cv * k4, n * (n - 1)));
          is(4, half_away(cv * k4, n * n));
          is(5, vv == 0 ? big{0} : dy == 0 ? big{1'000'000} : half_up(cv * cv * 1'000'000, vv * dy));
        }
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

BOOST_AUTO_TEST_CASE(a_standard_deviation_on_a_tie_rounds_half_up) {
  // a: 0 and 5, the population variance 6.25 and standard deviation 2.5 exactly: 6.3 and 3. b: 0
  // and 1, 0.25 and 0.5: 0.3 and 1. The fixed-point forms could land on either side of a tie;
  // the exact ones may not.
  const std::vector<i64> g{0, 0, 1, 1};
  const std::vector<i64> x{0, 5, 0, 1};
  auto p = compiled("INSERT INTO o SELECT g, VAR_POP(x) AS vp, STDDEV_POP(x) AS sp FROM t GROUP BY g;",
                    table("o", {category("g", groups), decimal("vp", 1, 0, 0), decimal("sp", 0, 0, 0)}));
  for (const auto& [engine, outputs] : run_both(p, {{"t", {g, x, x}}}))
    BOOST_TEST_CONTEXT(engine) {
      const auto& o = outputs.at("o");
      BOOST_TEST(o.columns[1][0] == 63u);
      BOOST_TEST(o.columns[2][0] == 3u);
      BOOST_TEST(o.columns[1][1] == 3u);
      BOOST_TEST(o.columns[2][1] == 1u);
    }
}

BOOST_AUTO_TEST_CASE(a_quotient_written_whole_is_exactly_rounded) {
  // A mean as SUM / COUNT and a weighted mean SUM(x w) / SUM(w), written whole with one decimal:
  // exact quotients rounded half away from zero, on ties that no binary fraction holds. a: 1 / 20
  // = 0.05 -> 0.1 for both; b: -0.05 -> -0.1; c: x 1 and 2 weighted 1 and 19: mean 1.5, weighted
  // 39 / 20 = 1.95 -> 2.0; d: the same negated.
  std::vector<i64> g, x, w;
  for (i64 k = 0; k < 2; ++k)
    for (i64 r = 0; r < 20; ++r) {
      g.push_back(k);
      x.push_back(r == 0 ? (k == 0 ? 1 : -1) : 0);
      w.push_back(1);
    }
  for (i64 k = 2; k < 4; ++k)
    for (i64 r = 0; r < 2; ++r) {
      g.push_back(k);
      x.push_back((k == 2 ? 1 : -1) * (r + 1));
      w.push_back(r == 0 ? 1 : 19);
    }
  auto p = compiled("INSERT INTO o SELECT g, SUM(x) / COUNT(*) AS m, SUM(x * w) / SUM(w) AS wm FROM t GROUP BY g;",
                    table("o", {category("g", groups), decimal("m", 1, 0, 0), decimal("wm", 1, 0, 0)}),
                    {table("t", {category("g", groups), integer("x", -1000, 1000), integer("w", 1, 100)}, 100)});
  for (const auto& [engine, outputs] : run_both(p, {{"t", {g, x, w}}}))
    BOOST_TEST_CONTEXT(engine) {
      const auto& o = outputs.at("o");
      const std::vector<i64> m{1, -1, 15, -15};
      const std::vector<i64> wm{1, -1, 20, -20};
      for (std::size_t k = 0; k < 4; ++k) {
        BOOST_TEST(static_cast<i64>(o.columns[1][k]) == m[k]);
        BOOST_TEST(static_cast<i64>(o.columns[2][k]) == wm[k]);
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
          // Exact, rounded half away from zero to one decimal.
          const auto& t = want[g];
          const i128 cv = 10 * (t.n * t.sxy - t.sx * t.sy);
          const i128 d = t.n * (t.n - 1);
          const i128 m = (2 * (cv < 0 ? -cv : cv) + d) / (2 * d);
          BOOST_TEST((static_cast<i128>(static_cast<i64>(o.columns[1][g])) == (cv < 0 ? -m : m)));
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
