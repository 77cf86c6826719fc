#include <boost/test/unit_test.hpp>

// Grouping by sorting (sort_by_group, sorted_sums) on the reference backend and on rss3 in three
// processes, against the same done in the clear by the test (part of the kernels_sort_join test
// program).

#include "kernels_sort_join_test_support.hpp"
#include "rss3_test_support.hpp"

#include "joconde/engines/kernels.hpp"
#include "joconde/engines/reference.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <vector>

using namespace joconde::engines;
using namespace joconde::test;
using namespace std::chrono_literals;
namespace k = joconde::engines::kernels;

namespace {

/// Rows with a group code, a 0/1 filter and two values (one of them negative at times).
struct grouped_rows {
  std::size_t groups = 1;
  std::vector<word> code;
  std::vector<word> filter;
  std::vector<word> x;
  std::vector<word> y;
};

grouped_rows random_grouped(std::size_t n, std::size_t groups, std::uint64_t seed) {
  std::mt19937_64 rng{seed};
  grouped_rows r;
  r.groups = groups;
  // Codes from a third of the groups only, so that most groups of a large domain never occur.
  const auto used = std::max<std::size_t>(1, groups / 3);
  for (std::size_t i = 0; i < n; ++i) {
    r.code.push_back(static_cast<word>(std::uniform_int_distribution<std::size_t>{0, used - 1}(rng) * (groups / used)));
    r.filter.push_back(rng() % 4 == 0 ? 0 : 1);
    r.x.push_back(static_cast<word>(std::uniform_int_distribution<std::int64_t>{-1'000'000, 1'000'000}(rng)));
    r.y.push_back(rng());  // any ring element: sums are exact mod 2^64
  }
  return r;
}

/// Per group: rows passing the filter, sum of x, sum of y (mod 2^64), in the clear.
std::vector<std::vector<word>> clear_sums(const grouped_rows& r) {
  std::vector<std::vector<word>> out(3, std::vector<word>(r.groups, 0));
  for (std::size_t i = 0; i < r.code.size(); ++i) {
    out[0][r.code[i]] += r.filter[i];
    out[1][r.code[i]] += r.filter[i] * r.x[i];
    out[2][r.code[i]] += r.filter[i] * r.y[i];
  }
  return out;
}

/// Count, sum x and sum y per group by sort_by_group and sorted_sums on `b`, from shares `in` of
/// (code, filter, x, y); the three revealed vectors back to back.
std::vector<word> grouped_on(backend& b, const std::vector<secret>& in, std::size_t groups) {
  auto s = k::sort_by_group(b, in[0], groups, in[1], {in[2], in[3]});
  BOOST_REQUIRE_EQUAL(s.rows(), in[0].size() + groups);
  auto sums = k::sorted_sums(b, s, {&s.filter, &s.columns[0], &s.columns[1]});
  std::vector<word> all;
  for (const auto& v : sums) {
    auto open = b.reveal(v);
    all.insert(all.end(), open.begin(), open.end());
  }
  return all;
}

std::vector<word> flat(const std::vector<std::vector<word>>& parts) {
  std::vector<word> all;
  for (const auto& p : parts)
    all.insert(all.end(), p.begin(), p.end());
  return all;
}

} // namespace

BOOST_AUTO_TEST_CASE(sorted_sums_match_the_groups_in_the_clear) {
  for (std::size_t groups : {1, 2, 7, 300, 5000})
    for (std::size_t n : {0, 1, 7, 100, 1000}) {
      BOOST_TEST_CONTEXT(groups << " groups, " << n << " rows") {
        auto rows = random_grouped(n, groups, 31 * groups + n);
        counting_backend b;
        auto got = grouped_on(b, {b.constant(rows.code), b.constant(rows.filter), b.constant(rows.x),
                                  b.constant(rows.y)},
                              groups);
        BOOST_CHECK(got == flat(clear_sums(rows)));
        // Two shuffles (the sort's and the sums'); besides the sort's comparisons, the sums open the
        // anchor flags of n + G rows and the ranks of the G anchors, and the test its 3 G sums.
        BOOST_CHECK_EQUAL(b.shuffles, 2u);
      }
    }
}

BOOST_AUTO_TEST_CASE(every_group_gets_its_anchor_after_its_rows) {
  // Groups in code order, each closed by its anchor whether or not any row has its code; a row's
  // columns stay together (x is carried with its code).
  auto rows = random_grouped(500, 40, 5);
  reference_backend b;
  auto s = k::sort_by_group(b, b.constant(rows.code), 40, b.constant(rows.filter),
                            {b.constant(rows.code), b.constant(rows.x)});
  std::size_t anchors = 0;
  std::multiset<std::pair<word, word>> carried;
  for (std::size_t i = 0; i < s.rows(); ++i) {
    if (s.anchor.a[i] == 1) {
      BOOST_CHECK_EQUAL(s.filter.a[i], 0u);
      ++anchors;
      continue;
    }
    // A row of code c stands after exactly c anchors.
    BOOST_CHECK_EQUAL(s.columns[0].a[i], static_cast<word>(anchors));
    carried.emplace(s.columns[0].a[i], s.columns[1].a[i]);
  }
  BOOST_CHECK_EQUAL(anchors, 40u);
  std::multiset<std::pair<word, word>> given;
  for (std::size_t i = 0; i < rows.code.size(); ++i)
    given.emplace(rows.code[i], rows.x[i]);
  BOOST_CHECK(carried == given);
}

BOOST_AUTO_TEST_CASE(sort_by_group_refuses_bad_sizes) {
  reference_backend b;
  auto codes = b.constant(0, 5);
  BOOST_CHECK_THROW(k::sort_by_group(b, codes, 0, b.constant(1, 5), {}), engine_failure);
  BOOST_CHECK_THROW(k::sort_by_group(b, codes, k::max_sorted_groups + 1, b.constant(1, 5), {}), engine_failure);
  BOOST_CHECK_THROW(k::sort_by_group(b, codes, 3, b.constant(1, 4), {}), engine_failure);
  BOOST_CHECK_THROW(k::sort_by_group(b, codes, 3, b.constant(1, 5), {b.constant(1, 6)}), engine_failure);
}

BOOST_AUTO_TEST_CASE(sorted_sums_on_rss3_match_the_clear) {
  for (std::size_t groups : {1, 7, 300})
    for (std::size_t n : {0, 7, 100, 1000}) {
      BOOST_TEST_CONTEXT(groups << " groups, " << n << " rows") {
        auto rows = random_grouped(n, groups, 7 * groups + n);
        auto out = run_three_parties([&](backend& be, unsigned party) {
          auto in = input_columns(be, party, {rows.code, rows.filter, rows.x, rows.y}, n);
          return to_bytes(grouped_on(be, in, groups));
        });
        for (unsigned i = 0; i < 3; ++i)
          BOOST_REQUIRE_MESSAGE(out[i].ok, "party " << i << ": " << out[i].error);
        BOOST_CHECK(to_words(out[0].bytes) == flat(clear_sums(rows)));
        BOOST_CHECK(out[1].bytes == out[0].bytes);
      }
    }
}

BOOST_AUTO_TEST_CASE(a_deviating_party_in_grouping_fails_every_party) {
  auto rows = random_grouped(200, 30, 9);
  auto out = run_three_parties(
    [&](backend& be, unsigned party) {
      auto in = input_columns(be, party, {rows.code, rows.filter, rows.x, rows.y}, 200);
      // Party 2 believes in one group more: its messages have other lengths from the first sort on.
      return to_bytes(grouped_on(be, in, party == 2 ? 31 : 30));
    },
    failing_run(5000ms));
  expect_every_party_fails(out);
}
