#include <boost/test/unit_test.hpp>

// sort_distinct (shuffle, then a quicksort with revealed comparisons) on the reference backend and
// on rss3 in three processes, against std::sort; and a deviating or silent party during it.

#include "kernels_sort_join_test_support.hpp"
#include "rss3_test_support.hpp"

#include "joconde/engines/kernels.hpp"
#include "joconde/engines/reference.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <thread>
#include <vector>

using namespace joconde::engines;
using namespace joconde::test;
using namespace std::chrono_literals;
namespace k = joconde::engines::kernels;

namespace {

using columns = std::vector<std::vector<word>>;

constexpr std::int64_t key_limit = (std::int64_t{1} << 62) - 1;

/// `n` rows: distinct keys over |key| < 2^62 (the extremes and values about 0 included, at random
/// places), then `payloads` columns derived from the key, so a payload that leaves its key shows.
columns distinct_rows(std::size_t n, std::size_t payloads, std::uint64_t seed) {
  std::mt19937_64 gen{seed};
  std::uniform_int_distribution<std::int64_t> any{-key_limit, key_limit};
  std::vector<std::int64_t> keys{key_limit, -key_limit, key_limit - 1, -key_limit + 1, 0, -1, 1};
  keys.resize(std::min(keys.size(), n));
  std::set<std::int64_t> used(keys.begin(), keys.end());
  while (keys.size() < n)
    if (auto v = any(gen); used.insert(v).second)
      keys.push_back(v);
  std::shuffle(keys.begin(), keys.end(), gen);
  columns cols(1 + payloads);
  for (auto key : keys) {
    cols[0].push_back(static_cast<word>(key));
    for (std::size_t p = 1; p <= payloads; ++p)
      cols[p].push_back(static_cast<word>(key) * (2 * p + 1) + p);
  }
  return cols;
}

/// Checks that `got` holds the rows of `in` sorted by the signed key of column 0 (the first `limit`
/// of them).
void check_sorted_rows(const columns& in, const columns& got, std::size_t limit = SIZE_MAX) {
  BOOST_REQUIRE_EQUAL(got.size(), in.size());
  const std::size_t n = std::min(in[0].size(), limit);
  std::vector<std::size_t> order(in[0].size());
  for (std::size_t r = 0; r < order.size(); ++r)
    order[r] = r;
  std::stable_sort(order.begin(), order.end(), [&in](std::size_t x, std::size_t y) {
    return static_cast<std::int64_t>(in[0][x]) < static_cast<std::int64_t>(in[0][y]);
  });
  order.resize(n);
  for (std::size_t c = 0; c < in.size(); ++c) {
    BOOST_REQUIRE_EQUAL(got[c].size(), n);
    for (std::size_t r = 0; r < n; ++r)
      BOOST_REQUIRE_MESSAGE(got[c][r] == in[c][order[r]], "column " << c << " row " << r);
  }
}

/// The columns sorted by sort_distinct on `b` (a one-party backend: shares are the values).
columns sort_on(backend& b, const columns& in) {
  std::vector<secret> shares;
  for (const auto& c : in)
    shares.push_back(b.constant(c));
  k::sort_distinct(b, pointers_to(shares));
  columns out;
  for (const auto& s : shares)
    out.push_back(s.a);
  return out;
}

/// Party 0 inputs `in`; every party sorts it (party 2 with `fewer` rows less) and reveals it.
std::array<party_outcome, 3> sort_on_rss3(const columns& in, std::size_t fewer,
                                          const three_options& o = {}) {
  return run_three_parties(
    [&](backend& be, unsigned party) {
      auto shares = input_columns(be, party, in, in[0].size() - (party == 2 ? fewer : 0));
      k::sort_distinct(be, pointers_to(shares));
      std::vector<word> all;
      for (const auto& s : shares) {
        auto v = be.reveal(s);
        all.insert(all.end(), v.begin(), v.end());
      }
      return to_bytes(all);
    },
    o);
}

} // namespace

BOOST_AUTO_TEST_CASE(reference_shuffle_is_a_random_permutation_of_whole_rows) {
  reference_backend b;
  auto in = distinct_rows(1000, 2, 11);
  std::vector<secret> shares;
  for (const auto& c : in)
    shares.push_back(b.constant(c));
  std::array<secret*, 3> pointers{&shares[0], &shares[1], &shares[2]};
  b.shuffle(pointers);
  BOOST_CHECK(shares[0].a != in[0]);
  auto first = shares[0].a;
  b.shuffle(pointers);
  BOOST_CHECK(shares[0].a != first);
  // Rows stayed whole: sorting by key gives the input's rows back.
  std::vector<std::size_t> order(1000);
  for (std::size_t r = 0; r < 1000; ++r)
    order[r] = r;
  columns got{shares[0].a, shares[1].a, shares[2].a};
  std::sort(order.begin(), order.end(), [&got](std::size_t x, std::size_t y) {
    return static_cast<std::int64_t>(got[0][x]) < static_cast<std::int64_t>(got[0][y]);
  });
  columns sorted(3);
  for (std::size_t c = 0; c < 3; ++c)
    for (auto r : order)
      sorted[c].push_back(got[c][r]);
  check_sorted_rows(in, sorted);
}

BOOST_AUTO_TEST_CASE(sort_distinct_sorts_rows_on_the_reference_backend) {
  for (std::size_t payloads : {std::size_t{0}, std::size_t{2}})
    for (std::size_t n : {0, 1, 2, 7, 100, 1000, 20'000}) {
      BOOST_TEST_CONTEXT("payloads " << payloads << ", rows " << n) {
        auto in = distinct_rows(n, payloads, 1000 * payloads + n);
        counting_backend b;
        check_sorted_rows(in, sort_on(b, in));
        // One shuffle; then per level one lt and one reveal of its outcomes, nothing else.
        BOOST_CHECK_EQUAL(b.shuffles, 1u);
        BOOST_CHECK_EQUAL(b.revealed, b.compared);
        BOOST_CHECK_EQUAL(b.stats().rounds, 1 + 2 * b.reveals);
        if (n >= 1000) {
          // Quicksort alone (1000 rows): about 1.39 n log2 n comparisons in 4.3 ln n levels; with
          // insertion steps (20,000 rows) fewer comparisons in more levels. Far above means a
          // bad pivot or search rule.
          const double log2n = std::log2(static_cast<double>(n));
          BOOST_TEST_MESSAGE("rows " << n << ": " << b.compared << " comparisons ("
                             << static_cast<double>(b.compared) / (n * log2n) << " n log2 n), "
                             << b.reveals << " levels");
          BOOST_CHECK_LT(static_cast<double>(b.compared), (n < 4096 ? 1.6 : 1.15) * n * log2n);
          BOOST_CHECK_LT(static_cast<double>(b.reveals), 8 * log2n);
        }
      }
    }
}

BOOST_AUTO_TEST_CASE(top_distinct_keeps_the_first_rows_sorted_on_the_reference_backend) {
  for (std::size_t limit : {std::size_t{1}, std::size_t{10}, std::size_t{1000}})
    for (std::size_t n : {0, 1, 2, 7, 100, 1000, 20'000}) {
      BOOST_TEST_CONTEXT("limit " << limit << ", rows " << n) {
        auto in = distinct_rows(n, 2, 31 * limit + n);
        std::vector<secret> shares;
        counting_backend b;
        for (const auto& c : in)
          shares.push_back(b.constant(c));
        k::top_distinct(b, pointers_to(shares), 1, limit);
        columns got;
        for (const auto& s : shares)
          got.push_back(s.a);
        check_sorted_rows(in, got, limit);
        BOOST_CHECK_EQUAL(b.shuffles, 1u);
        BOOST_CHECK_EQUAL(b.revealed, b.compared);
        if (n == 20'000 && limit == 10) {
          // A quickselect: about 2 n comparisons (a full sort takes some 14 n here), in O(log n) levels.
          // The count follows the random shuffle: by simulation (400 runs) its median is 1.9 n, 1.5 %
          // of runs pass 4 n (one CI run did: 4.15 n) and none 5 n; the tail falls off like x^-x,
          // so 8 n still tells a selection from a sort and is not met by chance.
          BOOST_TEST_MESSAGE("top 10 of 20000: " << b.compared << " comparisons, " << b.reveals << " levels");
          BOOST_CHECK_LT(b.compared, 8 * n);
          BOOST_CHECK_LT(static_cast<double>(b.reveals), 8 * std::log2(static_cast<double>(n)));
        }
      }
    }
}

BOOST_AUTO_TEST_CASE(sort_distinct_sorts_equal_keys_too) {
  // Not its use (equal outcomes may then be seen), but still a correct order.
  columns in{{5, 3, 5, 5, word(-2), 3, 0}, {1, 2, 3, 4, 5, 6, 7}};
  reference_backend b;
  auto got = sort_on(b, in);
  BOOST_CHECK((std::vector<word>{word(-2), 0, 3, 3, 5, 5, 5}) == got[0]);
  std::multiset<std::pair<word, word>> rows_in, rows_out;
  for (std::size_t r = 0; r < 7; ++r) {
    rows_in.insert({in[0][r], in[1][r]});
    rows_out.insert({got[0][r], got[1][r]});
  }
  BOOST_CHECK(rows_in == rows_out);
}

BOOST_AUTO_TEST_CASE(sort_distinct_refuses_columns_of_different_lengths) {
  reference_backend b;
  auto x = b.constant(1, 5);
  auto y = b.constant(2, 4);
  std::array<secret*, 2> pointers{&x, &y};
  BOOST_CHECK_THROW(k::sort_distinct(b, pointers), engine_failure);
}

BOOST_AUTO_TEST_CASE(sort_distinct_sorts_rows_on_rss3) {
  for (std::size_t payloads : {std::size_t{0}, std::size_t{2}})
    for (std::size_t n : {0, 1, 2, 7, 100, 1000, 5000}) {
      BOOST_TEST_CONTEXT("payloads " << payloads << ", rows " << n) {
        auto in = distinct_rows(n, payloads, 7000 + 1000 * payloads + n);
        auto out = sort_on_rss3(in, 0);
        for (unsigned i = 0; i < 3; ++i)
          BOOST_REQUIRE_MESSAGE(out[i].ok, "party " << i << ": " << out[i].error);
        BOOST_CHECK(out[1].bytes == out[0].bytes);
        BOOST_CHECK(out[2].bytes == out[0].bytes);
        auto words = to_words(out[0].bytes);
        BOOST_REQUIRE_EQUAL(words.size(), (1 + payloads) * n);
        columns got;
        for (std::size_t c = 0; c <= payloads; ++c)
          got.emplace_back(words.begin() + static_cast<std::ptrdiff_t>(c * n),
                           words.begin() + static_cast<std::ptrdiff_t>((c + 1) * n));
        check_sorted_rows(in, got);
      }
    }
}

BOOST_AUTO_TEST_CASE(a_deviating_party_in_sort_distinct_fails_every_party) {
  expect_every_party_fails(sort_on_rss3(distinct_rows(100, 2, 3), 1, failing_run(5000ms)));
}

BOOST_AUTO_TEST_CASE(a_silent_party_in_sort_distinct_fails_every_party) {
  // Party 2 shuffles and then stops answering: parties 0 and 1 wait in the first comparisons.
  auto in = distinct_rows(1000, 1, 4);
  auto out = run_three_parties(
    [&in](backend& be, unsigned party) {
      auto shares = input_columns(be, party, in, 1000);
      auto pointers = pointers_to(shares);
      if (party == 2) {
        be.shuffle(pointers);
        std::this_thread::sleep_for(2500ms);
      }
      k::sort_distinct(be, pointers);
      return to_bytes(be.reveal(shares[0]));
    },
    failing_run(500ms));
  expect_every_party_fails(out);
}
