#include <boost/test/unit_test.hpp>

// Grouping by sorting (sort_by_group, sorted_sums) and the join on unique keys by sorting
// (join_unique), on the reference backend and on rss3 in three processes, against the same done in
// the clear by the test (part of the kernels_sort_join test program).

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

/// A join side: key column 0 and one payload, every row valid unless `invalid_every` says.
secret_table side(reference_backend& b, const std::vector<std::int64_t>& keys, std::int64_t payload_base,
                  std::size_t invalid_every = 0) {
  secret_table t;
  t.rows = keys.size();
  std::vector<word> k;
  std::vector<word> p;
  std::vector<word> v;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    k.push_back(static_cast<word>(keys[i]));
    p.push_back(static_cast<word>(payload_base + keys[i]));
    v.push_back(invalid_every > 0 && i % invalid_every == 0 ? 0 : 1);
  }
  t.columns = {b.constant(k), b.constant(p)};
  t.valid = b.constant(v);
  return t;
}

/// The valid rows of a join result as (left key, left payload, right key, right payload).
std::multiset<std::vector<std::int64_t>> matches(reference_backend& b, const secret_table& j) {
  std::multiset<std::vector<std::int64_t>> out;
  auto valid = b.reveal(j.valid);
  for (std::size_t r = 0; r < j.rows; ++r) {
    if (valid[r] == 0)
      continue;
    std::vector<std::int64_t> row;
    for (const auto& c : j.columns)
      row.push_back(static_cast<std::int64_t>(c.a[r]));
    out.insert(row);
  }
  return out;
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

BOOST_AUTO_TEST_CASE(join_unique_matches_the_pairs_and_finds_repeats) {
  reference_backend b;
  bool lu = false;
  bool ru = false;
  // Some keys match, negative ones too, invalid rows never do.
  auto j = k::join_unique(b, side(b, {5, -6, 7, 9, 11}, 100, 4), 0, side(b, {-6, 7, 5, 40}, 1000), 0, lu, ru);
  BOOST_CHECK(lu && ru);
  BOOST_CHECK_EQUAL(j.rows, 8u);
  BOOST_CHECK(matches(b, j) == (std::multiset<std::vector<std::int64_t>>{{-6, 94, -6, 994}, {7, 107, 7, 1007}}));
  // No match at all, all match, an empty side, and the keys' limits.
  auto none = k::join_unique(b, side(b, {1, 2, 3}, 0), 0, side(b, {4, 5}, 0), 0, lu, ru);
  BOOST_CHECK(lu && ru && matches(b, none).empty());
  const std::int64_t limit = (std::int64_t{1} << 59) - 1;
  auto all = k::join_unique(b, side(b, {limit, -limit, 0}, 1), 0, side(b, {0, -limit, limit}, 2), 0, lu, ru);
  BOOST_CHECK(lu && ru);
  BOOST_CHECK_EQUAL(matches(b, all).size(), 3u);
  auto empty = k::join_unique(b, side(b, {}, 0), 0, side(b, {1, 2}, 0), 0, lu, ru);
  BOOST_CHECK(lu && ru && empty.rows == 1u && matches(b, empty).empty());
  // A key twice on one side: that side is not unique (one bit per side), whatever the other holds;
  // the same key on invalid rows is no repeat.
  (void) k::join_unique(b, side(b, {1, 2, 1}, 0), 0, side(b, {3}, 0), 0, lu, ru);
  BOOST_CHECK(!lu && ru);
  (void) k::join_unique(b, side(b, {1, 2}, 0), 0, side(b, {2, 2}, 0), 0, lu, ru);
  BOOST_CHECK(lu && !ru);
  (void) k::join_unique(b, side(b, {1, 2, 1}, 0, 3), 0, side(b, {2, 3}, 0), 0, lu, ru);
  BOOST_CHECK(lu && ru);
}

BOOST_AUTO_TEST_CASE(join_unique_refuses_malformed_tables) {
  reference_backend b;
  bool lu = false;
  bool ru = false;
  auto good = side(b, {1, 2, 3}, 0);
  auto short_column = good;
  short_column.columns[1].a.pop_back();
  auto short_valid = good;
  short_valid.valid.a.pop_back();
  BOOST_CHECK_THROW(k::join_unique(b, good, 2, good, 0, lu, ru), engine_failure);
  BOOST_CHECK_THROW(k::join_unique(b, good, 0, short_column, 0, lu, ru), engine_failure);
  BOOST_CHECK_THROW(k::join_unique(b, short_valid, 0, good, 0, lu, ru), engine_failure);
}

BOOST_AUTO_TEST_CASE(join_unique_agrees_with_inner_join_at_random) {
  std::mt19937_64 rng{77};
  for (std::size_t n : {0, 1, 7, 1000})
    for (std::size_t m : {0, 1, 7, 1000}) {
      reference_backend b;
      std::set<std::int64_t> lk;
      std::set<std::int64_t> rk;
      while (lk.size() < n)
        lk.insert(std::uniform_int_distribution<std::int64_t>{-2000, 2000}(rng));
      while (rk.size() < m)
        rk.insert(std::uniform_int_distribution<std::int64_t>{-2000, 2000}(rng));
      std::vector<std::int64_t> lv(lk.begin(), lk.end());
      std::vector<std::int64_t> rv(rk.begin(), rk.end());
      std::shuffle(lv.begin(), lv.end(), rng);
      std::shuffle(rv.begin(), rv.end(), rng);
      auto l = side(b, lv, 3, 5);
      auto r = side(b, rv, 9, 7);
      bool lu = false;
      bool ru = false;
      auto got = k::join_unique(b, l, 0, r, 0, lu, ru);
      BOOST_CHECK(lu && ru);
      BOOST_CHECK(matches(b, got) == matches(b, k::inner_join(b, l, 0, r, 0)));
    }
}

namespace {

/// join_unique on rss3: party 0 inputs both sides (key, payload); every party opens the valid
/// flags, then the four columns of the valid rows, and both uniqueness bits.
std::array<party_outcome, 3> join_on_rss3(const std::vector<std::vector<word>>& l, const std::vector<std::vector<word>>& r,
                                          std::size_t fewer = 0, const three_options& o = {}) {
  return run_three_parties(
    [&](backend& be, unsigned party) {
      secret_table left;
      left.rows = l[0].size() - (party == 2 ? fewer : 0);
      left.columns = input_columns(be, party, l, left.rows);
      left.valid = be.constant(1, left.rows);
      secret_table right;
      right.rows = r[0].size();
      right.columns = input_columns(be, party, r, right.rows);
      right.valid = be.constant(1, right.rows);
      bool lu = false;
      bool ru = false;
      auto j = k::join_unique(be, left, 0, right, 0, lu, ru);
      std::vector<word> all{lu ? word{1} : word{0}, ru ? word{1} : word{0}};
      auto valid = be.reveal(j.valid);
      for (auto& c : j.columns) {
        auto v = be.reveal(c);
        for (std::size_t i = 0; i < v.size(); ++i)
          if (valid[i] == 1)
            all.push_back(v[i]);
      }
      return to_bytes(all);
    },
    o);
}

} // namespace

BOOST_AUTO_TEST_CASE(join_unique_on_rss3_matches_the_pairs) {
  // Keys 0, 3, 6, ... on the left and 0, 2, 4, ... on the right: a match every 6.
  for (std::size_t n : {1, 7, 1000}) {
    std::vector<std::vector<word>> l(2);
    std::vector<std::vector<word>> r(2);
    for (std::size_t i = 0; i < n; ++i) {
      l[0].push_back(3 * i);
      l[1].push_back(1000 + i);
      r[0].push_back(2 * i);
      r[1].push_back(5000 + i);
    }
    auto out = join_on_rss3(l, r);
    for (unsigned i = 0; i < 3; ++i)
      BOOST_REQUIRE_MESSAGE(out[i].ok, "party " << i << ": " << out[i].error);
    auto got = to_words(out[0].bytes);
    BOOST_REQUIRE_GE(got.size(), 2u);
    BOOST_CHECK(got[0] == 1 && got[1] == 1);
    // Columns of the valid rows, column by column: left key, left payload, right key, right payload.
    std::vector<word> keys;
    for (std::size_t i = 0; i < n; ++i)
      if ((3 * i) % 2 == 0 && 3 * i / 2 < n)
        keys.push_back(3 * i);
    const auto m = keys.size();
    BOOST_REQUIRE_EQUAL(got.size(), 2 + 4 * m);
    for (std::size_t i = 0; i < m; ++i) {
      BOOST_CHECK_EQUAL(got[2 + i], keys[i]);
      BOOST_CHECK_EQUAL(got[2 + m + i], 1000 + keys[i] / 3);
      BOOST_CHECK_EQUAL(got[2 + 2 * m + i], keys[i]);
      BOOST_CHECK_EQUAL(got[2 + 3 * m + i], 5000 + keys[i] / 2);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_deviating_party_in_a_join_fails_every_party) {
  std::vector<std::vector<word>> l{{1, 2, 3, 4, 5, 6, 7, 8}, {1, 1, 1, 1, 1, 1, 1, 1}};
  std::vector<std::vector<word>> r{{2, 4, 6}, {9, 9, 9}};
  expect_every_party_fails(join_on_rss3(l, r, 1, failing_run(5000ms)));
}
