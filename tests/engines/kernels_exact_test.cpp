#define BOOST_TEST_MODULE kernels_exact
#include <boost/test/unit_test.hpp>

// Every statistic (COUNT, SUM, AVG, VAR_SAMP, STDDEV_SAMP, CORR, REGR_SLOPE, REGR_INTERCEPT) on
// tables at the edges of what kernels::check_range accepts, compared with its exact value within
// the bound kernels.hpp documents, on the reference backend here and on rss3 in
// kernels_exact_test_rss3.cpp. A statistic is checked wherever check_range accepts the table's
// ranges and row count, which is what the compiler accepts. Every table is named by its seed.

#include "kernels_exact.hpp"

#include "joconde/engines/reference.hpp"

namespace joconde::test::exact {

namespace {

const real unit = std::ldexp(real{1}, -static_cast<int>(k::stat_frac));

std::int64_t signed_word(word w) {
  return static_cast<std::int64_t>(w);
}

/// The documented bound on |regr_slope - slope| (kernels.hpp), in the argument units.
real slope_error(const truth& t) {
  const auto v = std::max(t.var_x() - 8 * unit, unit);
  const auto slope = std::fabs(t.slope());
  return slope * 0x1p-25L + 8 * unit * (1 + slope) / v + 2 * unit;
}

/// Compares one result with its exact value; returns what is wrong, or nothing.
std::optional<std::string> compare(stat s, const truth& t, std::int64_t got) {
  auto fixed = static_cast<real>(got) * unit;
  auto outside = [&](real exact, real bound) -> std::optional<std::string> {
    if (std::fabs(fixed - exact) <= bound)
      return std::nullopt;
    return "got " + std::to_string(static_cast<double>(fixed)) + ", exact "
           + std::to_string(static_cast<double>(exact)) + ", error "
           + std::to_string(static_cast<double>((fixed - exact) / unit)) + " units, bound "
           + std::to_string(static_cast<double>(bound / unit)) + " units";
  };
  auto zero = [&]() -> std::optional<std::string> {
    if (got == 0)
      return std::nullopt;
    return "got " + std::to_string(got) + " units where the result is exactly 0";
  };
  const i128 scale = i128{1} << k::stat_frac;
  const auto n = t.n;
  switch (s) {
    case count:
      return got == n ? std::nullopt : std::optional<std::string>{"wrong count"};
    case sum_x:
      return got == t.sx ? std::nullopt : std::optional<std::string>{"wrong sum"};
    case avg_x: {
      // |err| <= 2^-28 |mean| + 4 u, exactly: 16 |got n - S 2^24| <= |S| + 64 n.
      if (n == 0)
        return zero();
      auto err = i128{got} * n - t.sx * scale;
      if (16 * (err < 0 ? -err : err) <= (t.sx < 0 ? -t.sx : t.sx) + 64 * n)
        return std::nullopt;
      return outside(t.mean_x(), 0);
    }
    case var_x: {
      // |err| <= 2^-26 var + 8 u, exactly: 4 |got n (n - 1) - D 2^24| <= D + 32 n (n - 1).
      if (n < 2 || t.dxx() == 0)
        return zero();
      auto nn1 = n * (n - 1);
      auto err = i128{got} * nn1 - t.dxx() * scale;
      if (4 * (err < 0 ? -err : err) <= t.dxx() + 32 * nn1)
        return std::nullopt;
      return outside(t.var_x(), 0);
    }
    case sd_x: {
      if (n < 2 || t.dxx() == 0)
        return zero();
      auto sd = std::sqrt(t.var_x());
      return outside(sd, sd * 0x1p-22L + 8 * unit + 8 * unit / sd);
    }
    case corr: {
      if (n < 2 || t.dxx() == 0 || t.dyy() == 0)
        return zero();
      auto vx = t.var_x();
      auto vy = t.var_y();
      return outside(t.corr(), 0x1p-21L + 8 * unit / vx + 8 * unit / vy
                                 + 4 * unit / std::sqrt(vx * vy));
    }
    case slope:
      if (n < 2 || t.dxx() == 0)
        return zero();
      return outside(t.slope(), slope_error(t));
    case intercept:
      if (n < 2 || t.dxx() == 0)
        return zero();
      return outside(t.intercept(), std::fabs(t.mean_x()) * slope_error(t)
                                      + 0x1p-16L * std::fabs(t.slope()) + 8 * unit);
    case avg_y: case var_y: case sd_y: case stat_count:
      break;
  }
  return std::nullopt;
}

/// The statistics of y are those of x on the swapped table.
truth swapped(truth t) {
  std::swap(t.sx, t.sy);
  std::swap(t.cx, t.cy);
  std::swap(t.su, t.sv);
  std::swap(t.suu, t.svv);
  return t;
}

/// The exactness kernels.hpp promises for y = a x + b where var(x) >= 16 (|a| + 1): the slope is
/// exactly a, the intercept b plus 0 to |a| - 1 units.
std::optional<std::string> compare_line(stat s, const truth& t, std::int64_t got, std::int64_t a,
                                        std::int64_t b) {
  const auto magnitude = a < 0 ? -a : a;
  if (t.n < 2 || t.var_x() < 16 * static_cast<real>(magnitude + 1))
    return std::nullopt;
  const i128 scale = i128{1} << k::stat_frac;
  i128 err = got - (s == slope ? a : b) * scale;
  i128 above = s == slope ? 0 : std::max<i128>(magnitude - 1, 0);
  if (err >= 0 && err <= above)
    return std::nullopt;
  return std::string{s == slope ? "slope" : "intercept"} + " of an exact line " + std::to_string(a)
         + " x + " + std::to_string(b) + " off by " + std::to_string(static_cast<long long>(err))
         + " units";
}

} // namespace

std::size_t check(const table& t, const std::vector<word>& got, const std::string& engine) {
  const auto g = t.groups;
  BOOST_REQUIRE_EQUAL(got.size(), stat_count * g);
  const auto r = ranges_of(t);
  std::size_t checked = 0;
  for (std::size_t s = 0; s < stat_count; ++s) {
    const auto st = static_cast<stat>(s);
    if (!accepted(st, r))
      continue;
    ++checked;
    for (std::size_t grp = 0; grp < g; ++grp) {
      auto tr = truth_of(t, grp);
      auto value = signed_word(got[s * g + grp]);
      auto as_x = st == avg_y ? avg_x : st == var_y ? var_x : st == sd_y ? sd_x : st;
      auto failure = compare(as_x, as_x == st ? tr : swapped(tr), value);
      if (!failure && t.line && (st == slope || st == intercept))
        failure = compare_line(st, tr, value, t.line->first, t.line->second);
      const char* names[] = {"COUNT", "SUM", "AVG(x)", "AVG(y)", "VAR_SAMP(x)", "VAR_SAMP(y)",
                             "STDDEV_SAMP(x)", "STDDEV_SAMP(y)", "CORR", "REGR_SLOPE",
                             "REGR_INTERCEPT"};
      BOOST_CHECK_MESSAGE(!failure, engine << ", table \"" << t.name << "\", group " << grp
                                           << " (" << static_cast<long long>(tr.n) << " rows), "
                                           << names[s] << ": " << failure.value_or(""));
    }
  }
  return checked;
}

} // namespace joconde::test::exact

using namespace joconde::test::exact;

namespace {

/// Runs and checks every table on a fresh reference backend.
void check_on_reference(const std::vector<table>& tables) {
  for (const auto& t : tables) {
    joconde::engines::reference_backend b;
    auto checked = check(t, run_statistics(b, t, 0), "reference");
    BOOST_CHECK_MESSAGE(checked > 0, "table \"" << t.name << "\": check_range accepts nothing");
  }
}

} // namespace

BOOST_AUTO_TEST_CASE(edge_tables_are_accepted_where_they_claim) {
  // The edges found by search are real: one more unit is refused.
  for (std::uint64_t n : {2ull, 1000ull, 1000000ull, 1ull << 20}) {
    for (auto agg : {k::aggregate::avg, k::aggregate::var_samp, k::aggregate::stddev_samp,
                     k::aggregate::corr, k::aggregate::regr_slope, k::aggregate::regr_intercept}) {
      auto w = widest(agg, n);
      BOOST_TEST_MESSAGE("widest symmetric range of aggregate " << static_cast<int>(agg) << " over "
                                                               << n << " rows: " << w);
      BOOST_TEST_CONTEXT("aggregate " << static_cast<int>(agg) << " over " << n << " rows: widest " << w) {
        BOOST_CHECK_GT(w, 0);
        BOOST_CHECK(!k::check_range(agg, n, -w - 1, w + 1, -w - 1, w + 1).ok());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(statistics_at_the_edges_on_the_reference_backend) {
  for (std::size_t n : {2, 7, 1000, 4096})
    check_on_reference(edge_tables(n, base_seed(1000 + n)));
  check_on_reference({group_table(1000, base_seed(77))});
}

BOOST_AUTO_TEST_CASE(statistics_at_large_row_counts_on_the_reference_backend) {
  // The widest ranges at 2^16 and 2^20 rows (few tables: these are slow).
  for (std::size_t n : {std::size_t{1} << 16, std::size_t{1} << 20})
    check_on_reference(widest_tables(n, base_seed(5000 + n)));
}

BOOST_AUTO_TEST_CASE(backend_calls_of_each_statistic) {
  // kernels.hpp documents these counts (one group, sums in one dot call).
  table t;
  for (std::int64_t i = 0; i < 50; ++i)
    t.add(0, i, 5 - i);
  joconde::engines::reference_backend b;
  auto in = [&](const std::vector<std::int64_t>& v) {
    return b.input(0, std::vector<word>(v.begin(), v.end()), v.size());
  };
  auto x = in(t.x);
  auto y = in(t.y);
  auto masks = in(t.filter);
  auto calls = [&](auto f) {
    auto before = b.stats().rounds;
    (void) f();
    return b.stats().rounds - before;
  };
  BOOST_CHECK_EQUAL(calls([&] { return k::avg(b, masks, x, 1); }), 4u);
  BOOST_CHECK_EQUAL(calls([&] { return k::var_samp(b, masks, x, 1); }), 13u);
  BOOST_CHECK_EQUAL(calls([&] { return k::stddev_samp(b, masks, x, 1); }), 16u);
  BOOST_CHECK_EQUAL(calls([&] { return k::corr(b, masks, x, y, 1); }), 21u);
  BOOST_CHECK_EQUAL(calls([&] { return k::regr_slope(b, masks, y, x, 1); }), 20u);
  BOOST_CHECK_EQUAL(calls([&] { return k::regr_intercept(b, masks, y, x, 1); }), 24u);
}
