#include <boost/test/unit_test.hpp>

// count_distinct (COUNT(DISTINCT x) per group) over one-hot masks and over sorted groups, on the
// reference backend and on rss3 in three processes, against the distinct (group, x) pairs counted
// in the clear; values in narrow ranges (many repeats, one-word sort keys) and in wide ones (keys'
// 58 bits, two-word sort keys), rows the filter drops holding values outside the range (part of
// the kernels_sort_join test program).

#include "kernels_sort_join_test_support.hpp"
#include "rss3_test_support.hpp"

#include "joconde/engines/kernels.hpp"
#include "joconde/engines/reference.hpp"

#include <cstdint>
#include <random>
#include <set>
#include <utility>
#include <vector>

using namespace joconde::engines;
using namespace joconde::test;
namespace k = joconde::engines::kernels;

namespace {

/// Rows with a group code, a 0/1 filter and a value in [lo, hi] (a filtered row's value anywhere).
struct distinct_case {
  std::size_t groups = 1;
  std::int64_t lo = 0;
  std::int64_t hi = 0;
  std::vector<word> code;
  std::vector<word> filter;
  std::vector<word> x;
};

/// `n` rows of `groups` groups (a third of them used), values drawn from `values` distinct ones
/// spread over [lo, hi] (its ends included), so that they repeat.
distinct_case random_case(std::size_t n, std::size_t groups, std::int64_t lo, std::int64_t hi, std::size_t values,
                          std::uint64_t seed) {
  std::mt19937_64 rng{seed};
  distinct_case c{groups, lo, hi, {}, {}, {}};
  std::vector<std::int64_t> pool{lo, hi};
  std::uniform_int_distribution<std::int64_t> any{lo, hi};
  while (pool.size() < values)
    pool.push_back(any(rng));
  const auto used = std::max<std::size_t>(1, groups / 3);
  for (std::size_t i = 0; i < n; ++i) {
    c.code.push_back(static_cast<word>(rng() % used * (groups / used)));
    const bool counts = rng() % 4 != 0;
    c.filter.push_back(counts ? 1 : 0);
    // A filtered row may hold anything, as a join's unmatched rows do.
    c.x.push_back(counts ? static_cast<word>(pool[rng() % pool.size()]) : rng());
  }
  return c;
}

/// The distinct values of the rows that count, per group, in the clear.
std::vector<word> clear_counts(const distinct_case& c) {
  std::set<std::pair<word, word>> seen;
  for (std::size_t i = 0; i < c.code.size(); ++i)
    if (c.filter[i] == 1)
      seen.emplace(c.code[i], c.x[i]);
  std::vector<word> out(c.groups, 0);
  for (const auto& [g, v] : seen)
    ++out[g];
  return out;
}

/// count_distinct over masks (or, `sorted`, sort_by_group's rows) from shares (code, filter, x),
/// revealed.
std::vector<word> counted_on(backend& b, const std::vector<secret>& in, const distinct_case& c, bool sorted) {
  if (sorted) {
    auto s = k::sort_by_group(b, in[0], c.groups, in[1], {in[2]});
    return b.reveal(k::count_distinct(b, k::grouping{s}, s.columns[0], c.lo, c.hi));
  }
  auto masks = k::group_masks(b, in[0], c.groups, in[1]);
  return b.reveal(k::count_distinct(b, k::grouping{masks, c.groups}, in[2], c.lo, c.hi));
}

} // namespace

BOOST_AUTO_TEST_CASE(count_distinct_matches_the_clear_over_masks_and_sorted_groups) {
  const std::int64_t key_top = (std::int64_t{1} << 58) - 1;
  struct range {
    std::int64_t lo, hi;
    std::size_t values;
  };
  for (const auto& r : {range{-3, 4, 5}, range{0, key_top, 40}, range{-(std::int64_t{1} << 61), (std::int64_t{1} << 61) - 1, 30}})
    for (std::size_t groups : {1, 3, 40})
      for (std::size_t n : {0, 1, 2, 7, 300})
        for (bool sorted : {false, true}) {
          if (sorted && groups == 1)
            continue;
          BOOST_TEST_CONTEXT("[" << r.lo << ", " << r.hi << "], " << groups << " groups, " << n << " rows"
                                 << (sorted ? ", sorted" : ", masks")) {
            auto c = random_case(n, groups, r.lo, r.hi, r.values, 97 * n + groups + static_cast<std::uint64_t>(r.hi));
            counting_backend b;
            auto got = counted_on(b, {b.constant(c.code), b.constant(c.filter), b.constant(c.x)}, c, sorted);
            BOOST_TEST(got == clear_counts(c), boost::test_tools::per_element());
            // The sort's shuffle (none for a single row), over several groups the anchors', and
            // sort_by_group's own.
            const std::size_t rows = n + (groups > 1 ? groups : 0);
            const std::size_t shuffles = (rows > 1 ? 1u : 0u) + (groups > 1 ? 1u : 0u) + (sorted ? 1u : 0u);
            BOOST_TEST(b.shuffles == shuffles);
          }
        }
}

BOOST_AUTO_TEST_CASE(count_distinct_on_rss3_matches_the_clear) {
  const std::int64_t key_top = (std::int64_t{1} << 58) - 1;
  for (auto [lo, hi, groups, sorted] : {std::tuple{std::int64_t{0}, std::int64_t{9}, std::size_t{1}, false},
                                        std::tuple{std::int64_t{-50}, std::int64_t{50}, std::size_t{5}, false},
                                        std::tuple{std::int64_t{0}, key_top, std::size_t{40}, true},
                                        std::tuple{std::int64_t{0}, key_top, std::size_t{1}, false}})
    for (std::size_t n : {0, 7, 500}) {
      BOOST_TEST_CONTEXT("[" << lo << ", " << hi << "], " << groups << " groups, " << n << " rows") {
        auto c = random_case(n, groups, lo, hi, 60, 13 * n + groups);
        auto out = run_three_parties([&](backend& be, unsigned party) {
          return to_bytes(counted_on(be, input_columns(be, party, {c.code, c.filter, c.x}, n), c, sorted));
        });
        for (unsigned i = 0; i < 3; ++i)
          BOOST_REQUIRE_MESSAGE(out[i].ok, "party " << i << ": " << out[i].error);
        BOOST_TEST(to_words(out[0].bytes) == clear_counts(c), boost::test_tools::per_element());
        BOOST_TEST(out[1].bytes == out[0].bytes);
      }
    }
}

BOOST_AUTO_TEST_CASE(count_distinct_refuses_bad_sizes_and_ranges) {
  reference_backend b;
  auto masks = b.constant(1, 6);
  BOOST_CHECK_THROW(k::count_distinct(b, k::grouping{masks, 2}, b.constant(0, 4), 0, 1), engine_failure);
  BOOST_CHECK_THROW(k::count_distinct(b, k::grouping{masks, 2}, b.constant(0, 3), 5, 1), engine_failure);
  BOOST_CHECK_THROW(k::count_distinct(b, k::grouping{masks, 2}, b.constant(0, 3), -(std::int64_t{1} << 61),
                                      std::int64_t{1} << 61),
                    engine_failure);
}
