#define BOOST_TEST_MODULE kernels_aggregates
#include <boost/test/unit_test.hpp>

// group_masks, COUNT, SUM, MIN, MAX and check_range on the reference backend, against values the
// test computes itself with __int128.

#include "joconde/engines/kernels.hpp"
#include "joconde/engines/reference.hpp"

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

using namespace joconde;
using namespace joconde::engines;
namespace k = joconde::engines::kernels;

namespace {

__extension__ typedef __int128 wide_int;

secret sec(const std::vector<std::int64_t>& v) {
  secret s;
  for (auto x : v)
    s.a.push_back(static_cast<word>(x));
  return s;
}

std::vector<std::int64_t> open(backend& b, const secret& s) {
  std::vector<std::int64_t> r;
  for (auto x : b.reveal(s))
    r.push_back(static_cast<std::int64_t>(x));
  return r;
}

/// Random grouped data: category codes, a 0/1 filter (mode 0 drops all, 1 some, 2 none), values.
struct dataset {
  std::vector<std::int64_t> cat;
  std::vector<std::int64_t> filter;
  std::vector<std::int64_t> x;
};

dataset make(std::size_t n, std::size_t groups, int mode, std::int64_t lo, std::int64_t hi,
             std::uint64_t seed) {
  std::mt19937_64 rng{seed};
  dataset d;
  for (std::size_t i = 0; i < n; ++i) {
    d.cat.push_back(static_cast<std::int64_t>(rng() % groups));
    d.filter.push_back(mode == 0 ? 0 : mode == 2 ? 1 : static_cast<std::int64_t>(rng() % 2));
    d.x.push_back(std::uniform_int_distribution<std::int64_t>{lo, hi}(rng));
  }
  return d;
}

bool in_group(const dataset& d, std::size_t r, std::size_t g) {
  return d.filter[r] == 1 && d.cat[r] == static_cast<std::int64_t>(g);
}

const std::size_t sizes[] = {0, 1, 2, 7, 1000};
const std::size_t group_counts[] = {1, 3, 10};

template <class F>
void for_each_case(F f) {
  std::uint64_t seed = 1;
  for (auto n : sizes)
    for (auto g : group_counts)
      for (int mode = 0; mode < 3; ++mode)
        f(n, g, mode, seed++);
}

/// Checks per-group counts and sums against the rows of `d` counted directly.
template <class Values>
void check_counts_and_sums(const dataset& d, std::size_t n, std::size_t groups, const Values& counts,
                           const Values& sums) {
  for (std::size_t g = 0; g < groups; ++g) {
    std::int64_t c = 0;
    wide_int s = 0;
    for (std::size_t r = 0; r < n; ++r)
      if (in_group(d, r, g)) {
        ++c;
        s += d.x[r];
      }
    BOOST_CHECK_EQUAL(counts[g], c);
    BOOST_CHECK(static_cast<wide_int>(sums[g]) == s);
  }
}

} // namespace

BOOST_AUTO_TEST_CASE(group_masks_are_one_hot_times_filter) {
  for_each_case([](std::size_t n, std::size_t groups, int mode, std::uint64_t seed) {
    reference_backend b;
    auto d = make(n, groups, mode, -5, 5, seed);
    auto masks = open(b, k::group_masks(b, sec(d.cat), groups, sec(d.filter)));
    BOOST_REQUIRE_EQUAL(masks.size(), groups * n);
    for (std::size_t g = 0; g < groups; ++g)
      for (std::size_t r = 0; r < n; ++r)
        BOOST_CHECK_EQUAL(masks[g * n + r], in_group(d, r, g) ? 1 : 0);
  });
}

BOOST_AUTO_TEST_CASE(group_masks_use_constant_rounds) {
  reference_backend b;
  auto d = make(1000, 10, 1, 0, 1, 99);
  auto before = b.stats().rounds;
  auto masks = k::group_masks(b, sec(d.cat), 10, sec(d.filter));
  BOOST_CHECK_LE(b.stats().rounds - before, 2u);
}

BOOST_AUTO_TEST_CASE(count_and_sum_match_direct_computation) {
  for_each_case([](std::size_t n, std::size_t groups, int mode, std::uint64_t seed) {
    reference_backend b;
    auto d = make(n, groups, mode, -1'000'000'000, 1'000'000'000, seed);
    auto masks = k::group_masks(b, sec(d.cat), groups, sec(d.filter));
    auto counts = open(b, k::count(b, masks, groups));
    auto sums = open(b, k::sum(b, masks, sec(d.x), groups));
    BOOST_REQUIRE_EQUAL(counts.size(), groups);
    BOOST_REQUIRE_EQUAL(sums.size(), groups);
    check_counts_and_sums(d, n, groups, counts, sums);
  });
}

BOOST_AUTO_TEST_CASE(count_and_sum_of_a_hundred_thousand_rows) {
  reference_backend b;
  const std::size_t n = 100'000;
  auto d = make(n, 10, 1, -(std::int64_t{1} << 40), std::int64_t{1} << 40, 4242);
  auto masks = k::group_masks(b, sec(d.cat), 10, sec(d.filter));
  auto before = b.stats().rounds;
  auto counts = open(b, k::count(b, masks, 10));
  auto sums = open(b, k::sum(b, masks, sec(d.x), 10));
  BOOST_CHECK_EQUAL(b.stats().rounds - before, 3u); // two reveals and one dot
  check_counts_and_sums(d, n, 10, counts, sums);
}

BOOST_AUTO_TEST_CASE(min_and_max_match_direct_computation) {
  for_each_case([](std::size_t n, std::size_t groups, int mode, std::uint64_t seed) {
    reference_backend b;
    const std::int64_t lo = -700;
    const std::int64_t hi = 900;
    auto d = make(n, groups, mode, lo, hi, seed);
    auto masks = k::group_masks(b, sec(d.cat), groups, sec(d.filter));
    auto before = b.stats().rounds;
    auto mins = open(b, k::min(b, masks, sec(d.x), groups, lo, hi));
    auto maxs = open(b, k::max(b, masks, sec(d.x), groups, lo, hi));
    // One mul, then one lt and one mul per level, per kernel; plus the two reveals.
    std::uint64_t levels = 0;
    for (std::size_t len = n; len > 1; len = (len + 1) / 2)
      ++levels;
    BOOST_CHECK_LE(b.stats().rounds - before, 2 * (1 + 2 * levels) + 2);
    BOOST_REQUIRE_EQUAL(mins.size(), groups);
    for (std::size_t g = 0; g < groups; ++g) {
      std::int64_t mn = hi;
      std::int64_t mx = lo;
      for (std::size_t r = 0; r < n; ++r)
        if (in_group(d, r, g)) {
          mn = std::min(mn, d.x[r]);
          mx = std::max(mx, d.x[r]);
        }
      BOOST_CHECK_EQUAL(mins[g], mn);
      BOOST_CHECK_EQUAL(maxs[g], mx);
    }
  });
}

BOOST_AUTO_TEST_CASE(min_and_max_over_extreme_ranges) {
  reference_backend b;
  const std::int64_t lo = -(std::int64_t{1} << 61);
  const std::int64_t hi = std::int64_t{1} << 61;
  std::vector<std::int64_t> x = {lo, hi, 0, lo + 1, hi - 1};
  auto masks = sec({0, 1, 1, 1, 1});
  BOOST_CHECK_EQUAL(open(b, k::min(b, masks, sec(x), 1, lo, hi)).at(0), lo + 1);
  BOOST_CHECK_EQUAL(open(b, k::max(b, masks, sec(x), 1, lo, hi)).at(0), hi);
}

BOOST_AUTO_TEST_CASE(mismatched_sizes_throw) {
  reference_backend b;
  auto three = sec({0, 1, 2});
  auto two = sec({0, 1});
  BOOST_CHECK_THROW(k::group_masks(b, three, 3, two), engine_failure);
  BOOST_CHECK_THROW(k::group_masks(b, three, 0, three), engine_failure);
  BOOST_CHECK_THROW(k::count(b, three, 2), engine_failure);
  BOOST_CHECK_THROW(k::sum(b, sec({1, 0, 1, 0}), three, 2), engine_failure);
  BOOST_CHECK_THROW(k::min(b, three, two, 1, 0, 10), engine_failure);
  BOOST_CHECK_THROW(k::max(b, three, three, 1, 10, 0), engine_failure);
  try {
    k::sum(b, sec({1, 0, 1, 0}), three, 2);
  } catch (const engine_failure& e) {
    BOOST_CHECK(e.err().code == errc::invalid_state);
    BOOST_CHECK(e.err().message.find("sum") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(check_range_accepts_and_refuses_at_the_boundaries) {
  using k::aggregate;
  const std::int64_t two62 = std::int64_t{1} << 62;
  // SUM over n rows: n * max|x| < 2^62.
  BOOST_CHECK(k::check_range(aggregate::sum, 1'000'000, 0, two62 / 1'000'000 - 1).ok());
  BOOST_CHECK(!k::check_range(aggregate::sum, 1'000'000, -(two62 / 1'000'000 + 1), 0).ok());
  BOOST_CHECK(k::check_range(aggregate::count, 1'000'000'000, 0, 0).ok());
  // AVG: |mean| * 2^24 < 2^62.
  BOOST_CHECK(k::check_range(aggregate::avg, 10, 0, (std::int64_t{1} << 38) - 1).ok());
  BOOST_CHECK(!k::check_range(aggregate::avg, 10, 0, std::int64_t{1} << 38).ok());
  // VAR_SAMP: 2 (w^2 / 4 + delta^2) 2^24 < 2^62 and n <= 2^24.
  BOOST_CHECK(k::check_range(aggregate::var_samp, 1'000'000, 0, 741'000).ok());
  BOOST_CHECK(!k::check_range(aggregate::var_samp, 1'000'000, 0, 742'000).ok());
  BOOST_CHECK(k::check_range(aggregate::stddev_samp, std::uint64_t{1} << 24, 0, 1000).ok());
  BOOST_CHECK(!k::check_range(aggregate::stddev_samp, (std::uint64_t{1} << 24) + 1, 0, 1000).ok());
  // STDDEV_SAMP and CORR: n (w^2 / 4 + delta^2) < 2^62, so w < 4294967 at 10^6 rows.
  BOOST_CHECK(k::check_range(aggregate::stddev_samp, 1'000'000, 0, 4'294'000).ok());
  BOOST_CHECK(!k::check_range(aggregate::stddev_samp, 1'000'000, 0, 4'296'000).ok());
  BOOST_CHECK(k::check_range(aggregate::corr, 1'000'000, -300'000, 300'000, 0, 4'294'000).ok());
  BOOST_CHECK(!k::check_range(aggregate::corr, 1'000'000, -300'000, 300'000, 0, 4'296'000).ok());
  BOOST_CHECK(k::check_range(aggregate::regr_slope, 1'000'000, 0, 1'000'000, 0, 100).ok());
  // REGR_INTERCEPT: (16 w_y + 16) (M_x + delta) 2^24 < 2^62.
  BOOST_CHECK(k::check_range(aggregate::regr_intercept, 1'000'000, 0, 1'000'000, 0, 17'000).ok());
  BOOST_CHECK(!k::check_range(aggregate::regr_intercept, 1'000'000, 0, 1'000'000, 0, 17'300).ok());
  BOOST_CHECK(k::check_range(aggregate::min, 1'000'000, -two62 + 1, 0).ok());
  BOOST_CHECK(!k::check_range(aggregate::max, 1'000'000, -two62, two62).ok());
  auto r = k::check_range(aggregate::var_samp, 1'000'000, 0, 10'000'000);
  BOOST_REQUIRE(!r.ok());
  BOOST_CHECK(r.err().code == errc::unsupported);
  BOOST_CHECK(r.err().message.find("VAR_SAMP") != std::string::npos);
  BOOST_CHECK(r.err().message.find("within [-") != std::string::npos);
  auto rows = k::check_range(aggregate::var_samp, std::uint64_t{1} << 30, 0, 10);
  BOOST_REQUIRE(!rows.ok());
  BOOST_CHECK(rows.err().message.find("at most 16777216 rows") != std::string::npos);
  BOOST_CHECK(!k::check_range(aggregate::sum, 10, 5, 4).ok());
}

BOOST_AUTO_TEST_CASE(check_range_suggestions_are_accepted) {
  using k::aggregate;
  for (auto agg : {aggregate::sum, aggregate::avg, aggregate::var_samp, aggregate::corr,
                   aggregate::regr_slope, aggregate::regr_intercept}) {
    auto r = k::check_range(agg, 1'000'000, -(std::int64_t{1} << 50), std::int64_t{1} << 50,
                            -(std::int64_t{1} << 50), std::int64_t{1} << 50);
    BOOST_REQUIRE(!r.ok());
    auto& msg = r.err().message;
    auto at = msg.find("within [-");
    BOOST_REQUIRE(at != std::string::npos);
    auto bound = std::stoll(msg.substr(at + 9));
    BOOST_CHECK(k::check_range(agg, 1'000'000, -bound, bound, -bound, bound).ok());
    BOOST_CHECK(!k::check_range(agg, 1'000'000, -bound - 1, bound + 1, -bound - 1, bound + 1).ok());
  }
}

BOOST_AUTO_TEST_CASE(check_key_range_bounds_join_keys) {
  const std::int64_t limit = (std::int64_t{1} << 59) - 1;
  BOOST_CHECK(k::check_key_range(-limit, limit).ok());
  BOOST_CHECK(k::check_key_range(0, 1'000'000'000).ok());
  BOOST_CHECK(!k::check_key_range(-limit - 1, 0).ok());
  BOOST_CHECK(!k::check_key_range(0, limit + 1).ok());
  BOOST_CHECK(!k::check_key_range(5, 4).ok());
  auto r = k::check_key_range(0, std::int64_t{1} << 62);
  BOOST_REQUIRE(!r.ok());
  BOOST_CHECK(r.err().code == errc::unsupported);
  BOOST_CHECK(r.err().message.find(std::to_string(limit)) != std::string::npos);
}
