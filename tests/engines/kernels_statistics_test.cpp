#define BOOST_TEST_MODULE kernels_statistics
#include <boost/test/unit_test.hpp>

// AVG, VAR_SAMP, STDDEV_SAMP, CORR, REGR_SLOPE and REGR_INTERCEPT against values the test computes
// in long double from exact __int128 sums, on the reference backend and on a "noisy" backend that
// makes trunc/mul_trunc off by one and div/sqrt off by the error rss3 documents, so the kernels are
// shown to tolerate it.

#include "noisy_backend.hpp"

#include "joconde/engines/kernels.hpp"
#include "joconde/engines/reference.hpp"

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

using namespace joconde;
using namespace joconde::engines;
namespace k = joconde::engines::kernels;

namespace {

using test::noisy_backend;

__extension__ typedef __int128 wide_int;
using real = long double;

const real unit = std::ldexp(real{1}, -static_cast<int>(k::stat_frac));

secret sec(const std::vector<std::int64_t>& v) {
  secret s;
  for (auto x : v)
    s.a.push_back(static_cast<word>(x));
  return s;
}

/// Opened fixed-point results as reals.
std::vector<real> open_fixed(backend& b, const secret& s) {
  std::vector<real> r;
  for (auto x : b.reveal(s))
    r.push_back(static_cast<real>(static_cast<std::int64_t>(x)) * unit);
  return r;
}

struct dataset {
  std::vector<std::int64_t> cat;
  std::vector<std::int64_t> filter;
  std::vector<std::int64_t> x;
  std::vector<std::int64_t> y;
};

dataset make(std::size_t n, std::size_t groups, int mode, std::int64_t xlo, std::int64_t xhi,
             std::int64_t ylo, std::int64_t yhi, std::uint64_t seed) {
  std::mt19937_64 rng{seed};
  dataset d;
  for (std::size_t i = 0; i < n; ++i) {
    d.cat.push_back(static_cast<std::int64_t>(rng() % groups));
    d.filter.push_back(mode == 0 ? 0 : mode == 2 ? 1 : static_cast<std::int64_t>(rng() % 2));
    auto x = std::uniform_int_distribution<std::int64_t>{xlo, xhi}(rng);
    d.x.push_back(x);
    // y correlated with x plus noise, clamped to its range.
    auto noise = std::uniform_int_distribution<std::int64_t>{ylo / 4, yhi / 4}(rng);
    d.y.push_back(std::clamp(ylo + (x - xlo) * (yhi - ylo) / std::max<std::int64_t>(1, xhi - xlo)
                               / 2 + noise,
                             ylo, yhi));
  }
  return d;
}

/// Expected statistics of one group, from exact sums.
struct expected {
  std::int64_t n = 0;
  real mean_x = 0;
  real mean_y = 0;
  real var_x = 0;
  real var_y = 0;
  real corr = 0;
  real slope = 0;
  real intercept = 0;
};

expected expect(const dataset& d, std::size_t g) {
  wide_int n = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  for (std::size_t r = 0; r < d.x.size(); ++r)
    if (d.filter[r] == 1 && d.cat[r] == static_cast<std::int64_t>(g)) {
      ++n;
      sx += d.x[r];
      sy += d.y[r];
      sxx += wide_int{d.x[r]} * d.x[r];
      syy += wide_int{d.y[r]} * d.y[r];
      sxy += wide_int{d.x[r]} * d.y[r];
    }
  expected e;
  e.n = static_cast<std::int64_t>(n);
  if (n == 0)
    return e;
  e.mean_x = static_cast<real>(sx) / static_cast<real>(n);
  e.mean_y = static_cast<real>(sy) / static_cast<real>(n);
  if (n < 2)
    return e;
  auto dxx = n * sxx - sx * sx;
  auto dyy = n * syy - sy * sy;
  auto dxy = n * sxy - sx * sy;
  auto nn1 = static_cast<real>(n * (n - 1));
  e.var_x = static_cast<real>(dxx) / nn1;
  e.var_y = static_cast<real>(dyy) / nn1;
  if (dxx != 0 && dyy != 0)
    e.corr = static_cast<real>(dxy) / std::sqrt(static_cast<real>(dxx) * static_cast<real>(dyy));
  if (dxx != 0) {
    e.slope = static_cast<real>(dxy) / static_cast<real>(dxx);
    e.intercept = e.mean_y - e.slope * e.mean_x;
  }
  return e;
}

/// The documented bounds of corr and regr_slope (kernels.hpp).
real corr_bound(const expected& e) {
  if (e.var_x == 0 || e.var_y == 0)
    return 0;
  return 0x1p-21L + 8 * unit / e.var_x + 8 * unit / e.var_y
         + 4 * unit / std::sqrt(e.var_x * e.var_y);
}

real slope_bound(const expected& e) {
  if (e.var_x == 0)
    return 0;
  const auto v = std::max(e.var_x - 8 * unit, unit);
  return std::fabs(e.slope) * 0x1p-25L + 8 * unit * (1 + std::fabs(e.slope)) / v + 2 * unit;
}

/// The documented bound of regr_intercept.
real intercept_bound(const expected& e) {
  return std::fabs(e.mean_x) * slope_bound(e) + 0x1p-16L * std::fabs(e.slope) + 8 * unit;
}

/// Runs every statistic on `d` and compares with the expectations within the documented bounds.
void check_all(backend& b, const dataset& d, std::size_t groups) {
  auto masks = k::group_masks(b, sec(d.cat), groups, sec(d.filter));
  auto x = sec(d.x);
  auto y = sec(d.y);
  auto avg = open_fixed(b, k::avg(b, masks, x, groups));
  auto var = open_fixed(b, k::var_samp(b, masks, x, groups));
  auto sd = open_fixed(b, k::stddev_samp(b, masks, y, groups));
  auto corr = open_fixed(b, k::corr(b, masks, x, y, groups));
  auto slope = open_fixed(b, k::regr_slope(b, masks, y, x, groups));
  auto icpt = open_fixed(b, k::regr_intercept(b, masks, y, x, groups));
  BOOST_REQUIRE_EQUAL(avg.size(), groups);
  for (std::size_t g = 0; g < groups; ++g) {
    auto e = expect(d, g);
    BOOST_TEST_CONTEXT("group " << g << " of " << groups << ", n " << e.n) {
      BOOST_CHECK_LE(std::fabs(avg[g] - e.mean_x), std::fabs(e.mean_x) * 0x1p-28L + 4 * unit);
      BOOST_CHECK_LE(std::fabs(var[g] - e.var_x), e.var_x * 0x1p-26L + 8 * unit);
      auto sd_e = std::sqrt(e.var_y);
      BOOST_CHECK_LE(std::fabs(sd[g] - sd_e),
                     sd_e * 0x1p-22L + 8 * unit + (sd_e > 0 ? 8 * unit / sd_e : 0));
      BOOST_CHECK_LE(std::fabs(corr[g] - e.corr), corr_bound(e));
      BOOST_CHECK_LE(std::fabs(slope[g] - e.slope), slope_bound(e));
      BOOST_CHECK_LE(std::fabs(icpt[g] - e.intercept), intercept_bound(e));
      if (e.n < 2) {
        BOOST_CHECK_EQUAL(var[g], 0);
        BOOST_CHECK_EQUAL(sd[g], 0);
        BOOST_CHECK_EQUAL(corr[g], 0);
        BOOST_CHECK_EQUAL(slope[g], 0);
        BOOST_CHECK_EQUAL(icpt[g], 0);
      }
      if (e.n == 0)
        BOOST_CHECK_EQUAL(avg[g], 0);
    }
  }
}

const std::size_t sizes[] = {0, 1, 2, 7, 1000};
const std::size_t group_counts[] = {1, 3, 10};

// The ranges used below, which check_range must accept for 1000 rows.
const std::int64_t xlo = -100, xhi = 500, ylo = -3000, yhi = 3000;

} // namespace

BOOST_AUTO_TEST_CASE(test_ranges_pass_check_range) {
  using k::aggregate;
  for (auto agg : {aggregate::avg, aggregate::var_samp})
    BOOST_CHECK(k::check_range(agg, 1000, xlo, xhi).ok());
  BOOST_CHECK(k::check_range(aggregate::stddev_samp, 1000, ylo, yhi).ok());
  BOOST_CHECK(k::check_range(aggregate::corr, 1000, xlo, xhi, ylo, yhi).ok());
  for (auto agg : {aggregate::regr_slope, aggregate::regr_intercept})
    BOOST_CHECK(k::check_range(agg, 1000, ylo, yhi, xlo, xhi).ok());
}

BOOST_AUTO_TEST_CASE(statistics_on_the_reference_backend) {
  std::uint64_t seed = 100;
  for (auto n : sizes)
    for (auto groups : group_counts)
      for (int mode = 0; mode < 3; ++mode) {
        reference_backend b;
        check_all(b, make(n, groups, mode, xlo, xhi, ylo, yhi, seed++), groups);
      }
}

BOOST_AUTO_TEST_CASE(statistics_tolerate_rss3_approximations) {
  std::uint64_t seed = 200;
  for (auto n : sizes)
    for (auto groups : group_counts)
      for (int mode = 0; mode < 3; ++mode) {
        noisy_backend b{seed};
        check_all(b, make(n, groups, mode, xlo, xhi, ylo, yhi, seed++), groups);
      }
}

BOOST_AUTO_TEST_CASE(constant_groups_give_zero_spread) {
  // Group 0 constant x (huge values), group 1 constant y, group 2 a single row, group 3 two rows.
  dataset d;
  auto add = [&d](std::int64_t g, std::int64_t x, std::int64_t y) {
    d.cat.push_back(g);
    d.filter.push_back(1);
    d.x.push_back(x);
    d.y.push_back(y);
  };
  for (int i = 0; i < 50; ++i) {
    add(0, 123'456'789, i * 7 - 100);
    add(1, i * 3, -77);
  }
  add(2, 5, 9);
  add(3, 1, 10);
  add(3, 3, 14);
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    noisy_backend nb{seed};
    reference_backend rb;
    for (backend* b : {static_cast<backend*>(&nb), static_cast<backend*>(&rb)}) {
      auto masks = k::group_masks(*b, sec(d.cat), 4, sec(d.filter));
      auto x = sec(d.x);
      auto y = sec(d.y);
      auto var = open_fixed(*b, k::var_samp(*b, masks, x, 4));
      auto sdy = open_fixed(*b, k::stddev_samp(*b, masks, y, 4));
      auto corr = open_fixed(*b, k::corr(*b, masks, x, y, 4));
      auto slope = open_fixed(*b, k::regr_slope(*b, masks, y, x, 4));
      auto icpt = open_fixed(*b, k::regr_intercept(*b, masks, y, x, 4));
      BOOST_CHECK_EQUAL(var[0], 0);
      BOOST_CHECK_EQUAL(sdy[1], 0);
      BOOST_CHECK_EQUAL(corr[0], 0);
      BOOST_CHECK_EQUAL(corr[1], 0);
      BOOST_CHECK_EQUAL(slope[0], 0);
      BOOST_CHECK_EQUAL(icpt[0], 0);
      BOOST_CHECK_LE(std::fabs(slope[1]), 0x1p-20L);
      BOOST_CHECK_LE(std::fabs(icpt[1] + 77), 3 * 0x1p-14L);
      for (auto* v : {&var, &sdy, &corr, &slope, &icpt})
        BOOST_CHECK_EQUAL((*v)[2], 0);
      BOOST_CHECK_LE(std::fabs(var[3] - 2), 8 * unit);
      expected e3;
      e3.var_x = 2;
      e3.var_y = 8;
      e3.slope = 2;
      BOOST_CHECK_LE(std::fabs(corr[3] - 1), corr_bound(e3));
      BOOST_CHECK_LE(std::fabs(slope[3] - 2), slope_bound(e3));
      e3.mean_x = 2;
      BOOST_CHECK_LE(std::fabs(icpt[3] - 8), intercept_bound(e3));
    }
  }
}

BOOST_AUTO_TEST_CASE(wide_ranges_accepted_by_check_range_stay_exact) {
  // VAR_SAMP at the edge of its range: values 0 and w alternate, variance about w^2 / 4.
  const std::int64_t w = 741'000;
  BOOST_REQUIRE(k::check_range(k::aggregate::var_samp, 2, 0, w).ok());
  BOOST_REQUIRE(k::check_range(k::aggregate::stddev_samp, 1000, 0, w).ok());
  for (std::size_t n : {std::size_t{2}, std::size_t{1000}}) {
    dataset d;
    for (std::size_t i = 0; i < n; ++i) {
      d.cat.push_back(0);
      d.filter.push_back(1);
      d.x.push_back(i % 2 == 0 ? 0 : w);
      d.y.push_back(0);
    }
    noisy_backend b{n};
    auto masks = k::group_masks(b, sec(d.cat), 1, sec(d.filter));
    auto var = open_fixed(b, k::var_samp(b, masks, sec(d.x), 1));
    auto sd = open_fixed(b, k::stddev_samp(b, masks, sec(d.x), 1));
    auto e = expect(d, 0);
    BOOST_CHECK_LE(std::fabs(var[0] - e.var_x), e.var_x * 0x1p-26L + 8 * unit);
    BOOST_CHECK_LE(std::fabs(sd[0] - std::sqrt(e.var_x)), std::sqrt(e.var_x) * 0x1p-22L);
  }
}

BOOST_AUTO_TEST_CASE(two_argument_statistics_at_the_edge_of_check_range) {
  // The widest symmetric range check_range accepts for 1000 rows, from its own message, then data
  // spread over that range (half the rows at each end for x, y on a line plus noise).
  for (auto agg : {k::aggregate::corr, k::aggregate::regr_slope, k::aggregate::regr_intercept}) {
    auto r = k::check_range(agg, 1000, -(std::int64_t{1} << 40), std::int64_t{1} << 40,
                            -(std::int64_t{1} << 40), std::int64_t{1} << 40);
    BOOST_REQUIRE(!r.ok());
    auto at = r.err().message.find("within [-");
    BOOST_REQUIRE(at != std::string::npos);
    const auto bound = static_cast<std::int64_t>(std::stoll(r.err().message.substr(at + 9)));
    BOOST_REQUIRE(k::check_range(agg, 1000, -bound, bound, -bound, bound).ok());
    for (std::uint64_t seed = 0; seed < 6; ++seed) {
      auto d = make(1000, 3, 2, -bound, bound, -bound, bound, seed);
      for (std::size_t i = 0; i < d.x.size(); i += 2)
        d.x[i] = i % 4 == 0 ? -bound : bound;
      if (seed == 5)
        // The steepest slope integer x allows: x constant but for one row, y at the extremes.
        for (std::size_t i = 0; i < d.x.size(); ++i) {
          d.x[i] = d.cat[i] == 0 && i >= 3 ? bound : bound - 1;
          d.y[i] = d.x[i] == bound ? -bound : bound;
        }
      noisy_backend b{seed};
      auto masks = k::group_masks(b, sec(d.cat), 3, sec(d.filter));
      auto x = sec(d.x);
      auto y = sec(d.y);
      auto got = open_fixed(b, agg == k::aggregate::corr ? k::corr(b, masks, x, y, 3)
                               : agg == k::aggregate::regr_slope
                                 ? k::regr_slope(b, masks, y, x, 3)
                                 : k::regr_intercept(b, masks, y, x, 3));
      for (std::size_t g = 0; g < 3; ++g) {
        auto e = expect(d, g);
        if (agg == k::aggregate::corr)
          BOOST_CHECK_LE(std::fabs(got[g] - e.corr), corr_bound(e));
        else if (agg == k::aggregate::regr_slope)
          BOOST_CHECK_LE(std::fabs(got[g] - e.slope), slope_bound(e));
        else
          BOOST_CHECK_LE(std::fabs(got[g] - e.intercept), intercept_bound(e));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(rounds_do_not_depend_on_rows_or_groups) {
  std::vector<std::uint64_t> counts;
  for (auto [n, groups] : {std::pair{7, 1}, std::pair{1000, 10}, std::pair{300, 3}}) {
    reference_backend b;
    auto d = make(n, groups, 1, xlo, xhi, ylo, yhi, 7);
    auto masks = k::group_masks(b, sec(d.cat), groups, sec(d.filter));
    auto before = b.stats().rounds;
    (void) k::avg(b, masks, sec(d.x), groups);
    (void) k::var_samp(b, masks, sec(d.x), groups);
    (void) k::stddev_samp(b, masks, sec(d.x), groups);
    (void) k::corr(b, masks, sec(d.x), sec(d.y), groups);
    (void) k::regr_slope(b, masks, sec(d.y), sec(d.x), groups);
    (void) k::regr_intercept(b, masks, sec(d.y), sec(d.x), groups);
    counts.push_back(b.stats().rounds - before);
  }
  BOOST_CHECK_EQUAL(counts[0], counts[1]);
  BOOST_CHECK_EQUAL(counts[0], counts[2]);
}

BOOST_AUTO_TEST_CASE(mismatched_sizes_throw) {
  reference_backend b;
  auto masks = sec({1, 0, 1, 0, 1, 1});
  auto three = sec({1, 2, 3});
  auto two = sec({1, 2});
  BOOST_CHECK_THROW(k::avg(b, masks, two, 2), engine_failure);
  BOOST_CHECK_THROW(k::var_samp(b, masks, two, 2), engine_failure);
  BOOST_CHECK_THROW(k::stddev_samp(b, masks, three, 4), engine_failure);
  BOOST_CHECK_THROW(k::corr(b, masks, three, two, 2), engine_failure);
  BOOST_CHECK_THROW(k::regr_slope(b, masks, two, three, 2), engine_failure);
  BOOST_CHECK_THROW(k::regr_intercept(b, masks, three, three, 0), engine_failure);
}
