#define BOOST_TEST_MODULE kernels_sort_join
#include <boost/test/unit_test.hpp>

// sort, inner_join and unique_keys on the reference backend, against std::sort and a hash join
// done by the test.

#include "kernels_sort_join_test_support.hpp"

#include "joconde/engines/kernels.hpp"
#include "joconde/engines/reference.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <tuple>
#include <unordered_map>
#include <vector>

using namespace joconde;
using namespace joconde::engines;
namespace k = joconde::engines::kernels;

namespace {

using row = std::vector<std::int64_t>;

/// A clear table: rows of values, and a valid flag per row.
struct table {
  std::vector<row> rows;
  std::vector<std::int64_t> valid;
  std::size_t columns = 0;
};

secret_table to_secret(const table& t) {
  secret_table s;
  s.rows = t.rows.size();
  s.columns.resize(t.columns);
  for (auto& r : t.rows)
    for (std::size_t c = 0; c < t.columns; ++c)
      s.columns[c].a.push_back(static_cast<word>(r[c]));
  for (auto v : t.valid)
    s.valid.a.push_back(static_cast<word>(v));
  return s;
}

table open(backend& b, const secret_table& s) {
  table t;
  t.columns = s.columns.size();
  t.rows.resize(s.rows);
  for (auto& c : s.columns) {
    auto v = b.reveal(c);
    BOOST_REQUIRE_EQUAL(v.size(), s.rows);
    for (std::size_t r = 0; r < s.rows; ++r)
      t.rows[r].push_back(static_cast<std::int64_t>(v[r]));
  }
  for (auto v : b.reveal(s.valid))
    t.valid.push_back(static_cast<std::int64_t>(v));
  BOOST_REQUIRE_EQUAL(t.valid.size(), s.rows);
  return t;
}

/// `n` rows of `cols` columns; column `key` holds distinct keys from [lo, hi] unless `dups`; the
/// other columns are random; `invalid_every` > 0 clears the flag of every such row.
table random_table(std::size_t n, std::size_t cols, std::size_t key, std::int64_t lo,
                   std::int64_t hi, bool dups, std::size_t invalid_every, std::mt19937_64& rng) {
  table t;
  t.columns = cols;
  std::set<std::int64_t> used;
  for (std::size_t i = 0; i < n; ++i) {
    row r;
    for (std::size_t c = 0; c < cols; ++c)
      r.push_back(std::uniform_int_distribution<std::int64_t>{-1'000'000, 1'000'000}(rng));
    std::int64_t kv = 0;
    for (int tries = 0; tries < 1000; ++tries) {
      kv = std::uniform_int_distribution<std::int64_t>{lo, hi}(rng);
      if (dups || used.insert(kv).second)
        break;
    }
    r[key] = kv;
    t.rows.push_back(r);
    t.valid.push_back(invalid_every > 0 && i % invalid_every == invalid_every - 1 ? 0 : 1);
  }
  return t;
}

/// The valid rows of `t` as a sorted multiset (order-free comparison).
std::multiset<row> valid_rows(const table& t) {
  std::multiset<row> s;
  for (std::size_t i = 0; i < t.rows.size(); ++i)
    if (t.valid[i] == 1)
      s.insert(t.rows[i]);
  return s;
}

void check_sorted(const table& in, const table& out, std::size_t key) {
  BOOST_REQUIRE_EQUAL(out.rows.size(), in.rows.size());
  // Valid rows first, in key order, and exactly the input's valid rows.
  std::vector<std::int64_t> keys;
  std::size_t valid = 0;
  for (auto v : in.valid)
    valid += v == 1 ? 1 : 0;
  for (std::size_t i = 0; i < out.rows.size(); ++i) {
    BOOST_CHECK_EQUAL(out.valid[i], i < valid ? 1 : 0);
    if (i < valid)
      keys.push_back(out.rows[i][key]);
  }
  std::vector<std::int64_t> expected_keys;
  for (std::size_t i = 0; i < in.rows.size(); ++i)
    if (in.valid[i] == 1)
      expected_keys.push_back(in.rows[i][key]);
  std::sort(expected_keys.begin(), expected_keys.end());
  BOOST_CHECK(keys == expected_keys);
  BOOST_CHECK(valid_rows(in) == valid_rows(out));
  // Invalid rows are kept too (all of them, as rows).
  std::multiset<row> all_in(in.rows.begin(), in.rows.end());
  std::multiset<row> all_out(out.rows.begin(), out.rows.end());
  BOOST_CHECK(all_in == all_out);
}

/// The join by hash: every pair of valid rows with equal keys, as left ++ right.
std::multiset<row> hash_join(const table& l, std::size_t lk, const table& r, std::size_t rk) {
  std::unordered_multimap<std::int64_t, std::size_t> index;
  for (std::size_t i = 0; i < r.rows.size(); ++i)
    if (r.valid[i] == 1)
      index.emplace(r.rows[i][rk], i);
  std::multiset<row> out;
  for (std::size_t i = 0; i < l.rows.size(); ++i) {
    if (l.valid[i] != 1)
      continue;
    auto [first, last] = index.equal_range(l.rows[i][lk]);
    for (auto it = first; it != last; ++it) {
      row j = l.rows[i];
      j.insert(j.end(), r.rows[it->second].begin(), r.rows[it->second].end());
      out.insert(j);
    }
  }
  return out;
}

bool distinct_valid_keys(const table& t, std::size_t key) {
  std::set<std::int64_t> seen;
  for (std::size_t i = 0; i < t.rows.size(); ++i)
    if (t.valid[i] == 1 && !seen.insert(t.rows[i][key]).second)
      return false;
  return true;
}

const std::size_t sizes[] = {0, 1, 2, 7, 1000};

} // namespace

BOOST_AUTO_TEST_CASE(sort_matches_std_sort) {
  std::mt19937_64 rng{1};
  for (auto n : sizes)
    for (std::size_t invalid_every : {0, 1, 3})
      for (bool dups : {false, true}) {
        reference_backend b;
        auto t = random_table(n, 3, 1, -50, 50, dups, invalid_every, rng);
        auto s = to_secret(t);
        k::sort(b, s, 1);
        check_sorted(t, open(b, s), 1);
      }
}

BOOST_AUTO_TEST_CASE(sort_handles_extreme_keys_and_uses_log_squared_rounds) {
  reference_backend b;
  const std::int64_t big = (std::int64_t{1} << 61) - 1;
  table t;
  t.columns = 1;
  for (std::int64_t v : std::vector<std::int64_t>{big, -big, 0, big - 1, -big + 1, 5, 5})
    t.rows.push_back({v});
  t.valid = {1, 1, 0, 1, 1, 1, 0};
  auto s = to_secret(t);
  auto before = b.stats().rounds;
  k::sort(b, s, 0);
  // 7 rows pad to 8: 3 * 4 / 2 = 6 stages of two rounds.
  BOOST_CHECK_EQUAL(b.stats().rounds - before, 12u);
  check_sorted(t, open(b, s), 0);
}

BOOST_AUTO_TEST_CASE(join_matches_hash_join) {
  std::mt19937_64 rng{2};
  for (auto n : sizes)
    for (auto m : sizes)
      for (std::size_t invalid_every : {0, 1, 4}) {
        reference_backend b;
        // Keys from a range about the table sizes, so that some but not all match.
        const auto range = static_cast<std::int64_t>(std::max<std::size_t>(n, m)) + 3;
        auto l = random_table(n, 2, 0, 0, 2 * range, false, invalid_every, rng);
        auto r = random_table(m, 3, 2, 0, 2 * range, false, invalid_every == 1 ? 0 : 3, rng);
        auto j = open(b, k::inner_join(b, to_secret(l), 0, to_secret(r), 2));
        BOOST_CHECK_EQUAL(j.rows.size(), n + m == 0 ? 0 : n + m - 1);
        BOOST_CHECK_EQUAL(j.columns, 5u);
        BOOST_CHECK(valid_rows(j) == hash_join(l, 0, r, 2));
      }
}

BOOST_AUTO_TEST_CASE(join_with_no_match_and_all_matches) {
  std::mt19937_64 rng{3};
  reference_backend b;
  auto l = random_table(100, 2, 1, 0, 99, false, 0, rng);
  // No match: right keys above every left key.
  auto r = random_table(50, 1, 0, 1000, 2000, false, 0, rng);
  auto none = open(b, k::inner_join(b, to_secret(l), 1, to_secret(r), 0));
  BOOST_CHECK(valid_rows(none).empty());
  BOOST_CHECK_EQUAL(none.rows.size(), 149u);
  // All match: the right table holds the left keys, shuffled, with other payloads.
  table all;
  all.columns = 2;
  for (auto& row_l : l.rows)
    all.rows.push_back({row_l[1] * 7, row_l[1]});
  std::shuffle(all.rows.begin(), all.rows.end(), rng);
  all.valid.assign(all.rows.size(), 1);
  auto j = open(b, k::inner_join(b, to_secret(l), 1, to_secret(all), 1));
  auto expected = hash_join(l, 1, all, 1);
  BOOST_CHECK_EQUAL(expected.size(), 100u);
  BOOST_CHECK(valid_rows(j) == expected);
  // Negative keys, and equal keys on invalid rows of both sides never match.
  table neg_l{{{-5, 1}, {-6, 2}, {-7, 3}}, {1, 0, 1}, 2};
  table neg_r{{{-6, 10}, {-7, 20}, {-5, 30}}, {1, 1, 0}, 2};
  auto nj = open(b, k::inner_join(b, to_secret(neg_l), 0, to_secret(neg_r), 0));
  BOOST_CHECK(valid_rows(nj) == (std::multiset<row>{{-7, 3, -7, 20}}));
}

BOOST_AUTO_TEST_CASE(unique_keys_detects_duplicates_among_valid_rows) {
  std::mt19937_64 rng{4};
  for (auto n : sizes)
    for (std::size_t invalid_every : {0, 2})
      for (bool dups : {false, true}) {
        reference_backend b;
        auto t = random_table(n, 2, 0, 0, dups ? static_cast<std::int64_t>(n / 2) : 1'000'000,
                              dups, invalid_every, rng);
        BOOST_CHECK_EQUAL(k::unique_keys(b, to_secret(t), 0), distinct_valid_keys(t, 0));
      }
  reference_backend b;
  // A duplicate only among invalid rows, or between a valid and an invalid row, is not one.
  table t{{{1, 0}, {1, 0}, {2, 0}, {2, 0}, {3, 0}}, {1, 0, 0, 0, 1}, 2};
  BOOST_CHECK(k::unique_keys(b, to_secret(t), 0));
  t.valid = {1, 1, 0, 0, 1};
  BOOST_CHECK(!k::unique_keys(b, to_secret(t), 0));
}

BOOST_AUTO_TEST_CASE(unique_keys_reveals_one_bit) {
  std::mt19937_64 rng{5};
  joconde::test::counting_backend b;
  auto t = random_table(1000, 3, 1, 0, 100, true, 3, rng);
  (void) k::unique_keys(b, to_secret(t), 1);
  BOOST_CHECK_EQUAL(b.revealed, 1u);
  b.revealed = 0;
  (void) k::inner_join(b, to_secret(t), 1, to_secret(t), 1);
  auto copy = to_secret(t);
  k::sort(b, copy, 0);
  BOOST_CHECK_EQUAL(b.revealed, 0u);
}

BOOST_AUTO_TEST_CASE(mismatched_sizes_throw) {
  reference_backend b;
  std::mt19937_64 rng{6};
  auto good = to_secret(random_table(5, 2, 0, 0, 100, false, 0, rng));
  auto short_column = good;
  short_column.columns[1].a.pop_back();
  auto short_valid = good;
  short_valid.valid.a.pop_back();
  BOOST_CHECK_THROW(k::sort(b, short_column, 0), engine_failure);
  BOOST_CHECK_THROW(k::sort(b, short_valid, 0), engine_failure);
  BOOST_CHECK_THROW(k::sort(b, good, 2), engine_failure);
  BOOST_CHECK_THROW(k::inner_join(b, good, 0, short_column, 0), engine_failure);
  BOOST_CHECK_THROW(k::inner_join(b, good, 5, good, 0), engine_failure);
  BOOST_CHECK_THROW(k::unique_keys(b, short_valid, 0), engine_failure);
}

BOOST_AUTO_TEST_CASE(larger_join_and_uniqueness) {
  std::mt19937_64 rng{7};
  reference_backend b;
  auto l = random_table(20'000, 2, 0, -30'000, 30'000, false, 5, rng);
  auto r = random_table(15'000, 2, 1, -30'000, 30'000, false, 7, rng);
  BOOST_CHECK(k::unique_keys(b, to_secret(l), 0));
  BOOST_CHECK(k::unique_keys(b, to_secret(r), 1));
  auto j = open(b, k::inner_join(b, to_secret(l), 0, to_secret(r), 1));
  auto expected = hash_join(l, 0, r, 1);
  BOOST_CHECK_GT(expected.size(), 1000u);
  BOOST_CHECK_EQUAL(j.rows.size(), 34'999u);
  BOOST_CHECK(valid_rows(j) == expected);
  // One duplicated valid key makes the test fail.
  l.rows[10][0] = l.rows[20][0];
  l.valid[10] = l.valid[20] = 1;
  BOOST_CHECK(!k::unique_keys(b, to_secret(l), 0));
}

BOOST_AUTO_TEST_CASE(join_and_uniqueness_at_the_key_limits) {
  reference_backend b;
  const std::int64_t limit = (std::int64_t{1} << 59) - 1;
  BOOST_REQUIRE(k::check_key_range(-limit, limit).ok());
  table l{{{-limit, 1}, {limit, 2}, {0, 3}, {limit - 1, 4}, {-limit + 1, 5}}, {1, 1, 1, 0, 1}, 2};
  table r{{{limit, 20}, {-limit, 10}, {limit - 1, 40}, {1, 30}}, {1, 1, 1, 1}, 2};
  auto j = open(b, k::inner_join(b, to_secret(l), 0, to_secret(r), 0));
  BOOST_CHECK(valid_rows(j) == (std::multiset<row>{{-limit, 1, -limit, 10}, {limit, 2, limit, 20}}));
  BOOST_CHECK(k::unique_keys(b, to_secret(l), 0));
  table dup{{{limit}, {-limit}, {limit}}, {1, 1, 1}, 1};
  BOOST_CHECK(!k::unique_keys(b, to_secret(dup), 0));
}
