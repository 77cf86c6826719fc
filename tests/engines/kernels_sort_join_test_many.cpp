#include <boost/test/unit_test.hpp>

// Joins by sorting (join_many: 1:N and 1:1, with one-word and two-word sort keys) and sort_distinct
// on two-word keys, on the reference backend and on rss3 in three processes, against the same done
// in the clear by the test; and a deviating party during a join (part of the kernels_sort_join
// test program).

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
#include <thread>
#include <vector>

using namespace joconde::engines;
using namespace joconde::test;
using namespace std::chrono_literals;
namespace k = joconde::engines::kernels;

namespace {

using rows_t = std::multiset<std::vector<std::int64_t>>;

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

/// The inner join of two clear sides made by `side` (key, payload; valid as `invalid_every` says),
/// as (many key, many payload, unique key, unique payload) rows.
rows_t join_in_the_clear(const std::vector<std::int64_t>& many, std::int64_t many_base, std::size_t many_invalid,
                         const std::vector<std::int64_t>& unique, std::int64_t unique_base, std::size_t unique_invalid) {
  auto valid = [](std::size_t i, std::size_t every) { return every == 0 || i % every != 0; };
  rows_t out;
  for (std::size_t i = 0; i < many.size(); ++i)
    for (std::size_t j = 0; j < unique.size(); ++j)
      if (valid(i, many_invalid) && valid(j, unique_invalid) && many[i] == unique[j])
        out.insert({many[i], many_base + many[i], unique[j], unique_base + unique[j]});
  return out;
}

/// `count` keys drawn from [lo, hi] (repeats allowed).
std::vector<std::int64_t> draw_keys(std::mt19937_64& rng, std::size_t count, std::int64_t lo, std::int64_t hi) {
  std::uniform_int_distribution<std::int64_t> any{lo, hi};
  std::vector<std::int64_t> out;
  for (std::size_t i = 0; i < count; ++i)
    out.push_back(any(rng));
  return out;
}

/// `count` distinct keys from [lo, hi], in random order.
std::vector<std::int64_t> distinct_keys(std::mt19937_64& rng, std::size_t count, std::int64_t lo, std::int64_t hi) {
  std::set<std::int64_t> seen;
  std::uniform_int_distribution<std::int64_t> any{lo, hi};
  std::vector<std::int64_t> out;
  while (out.size() < count)
    if (auto v = any(rng); seen.insert(v).second)
      out.push_back(v);
  return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(sort_distinct_sorts_two_word_keys_lexicographically) {
  // Many rows share a high word (ties broken by the low word, negative ones too); the revealed
  // comparisons are one per two lt elements. High words less than 2^62 apart.
  for (std::size_t n : {0, 1, 2, 7, 100, 1000, 20'000}) {
    BOOST_TEST_CONTEXT("rows " << n) {
      std::mt19937_64 rng{n};
      std::vector<std::pair<std::int64_t, std::int64_t>> keys;
      std::set<std::pair<std::int64_t, std::int64_t>> seen;
      const std::int64_t limit = (std::int64_t{1} << 61) - 1;
      std::uniform_int_distribution<std::int64_t> high{-3, 3};
      std::uniform_int_distribution<std::int64_t> any{-limit, limit};
      std::uniform_int_distribution<std::int64_t> low{-(std::int64_t{1} << 62) + 1, (std::int64_t{1} << 62) - 1};
      while (keys.size() < n) {
        std::pair<std::int64_t, std::int64_t> key{keys.size() % 5 == 4 ? any(rng) : high(rng), low(rng)};
        if (seen.insert(key).second)
          keys.push_back(key);
      }
      counting_backend b;
      std::vector<word> hi;
      std::vector<word> lo;
      std::vector<word> payload;
      for (std::size_t i = 0; i < n; ++i) {
        hi.push_back(static_cast<word>(keys[i].first));
        lo.push_back(static_cast<word>(keys[i].second));
        payload.push_back(static_cast<word>(i));
      }
      std::vector<secret> shares{b.constant(hi), b.constant(lo), b.constant(payload)};
      k::sort_distinct(b, pointers_to(shares), 2);
      auto sorted = keys;
      std::sort(sorted.begin(), sorted.end());
      for (std::size_t i = 0; i < n; ++i) {
        BOOST_REQUIRE_EQUAL(static_cast<std::int64_t>(shares[0].a[i]), sorted[i].first);
        BOOST_REQUIRE_EQUAL(static_cast<std::int64_t>(shares[1].a[i]), sorted[i].second);
        const auto from = shares[2].a[i];
        BOOST_REQUIRE(from < n);
        BOOST_REQUIRE(keys[from] == sorted[i]);
      }
      BOOST_CHECK_EQUAL(b.shuffles, 1u);
      BOOST_CHECK_EQUAL(2 * b.revealed, b.compared);
    }
  }
}

BOOST_AUTO_TEST_CASE(sort_distinct_refuses_other_key_widths) {
  reference_backend b;
  auto x = b.constant(1, 5);
  auto y = b.constant(2, 5);
  std::array<secret*, 2> pointers{&x, &y};
  BOOST_CHECK_THROW(k::sort_distinct(b, pointers, 3), engine_failure);
  BOOST_CHECK_THROW(k::sort_distinct(b, std::span<secret* const>{pointers.data(), 1}, 2), engine_failure);
}

BOOST_AUTO_TEST_CASE(join_many_matches_each_row_of_the_repeating_side) {
  // Key 5 three times (matched), -6 twice (matched), 8 once (unmatched), 7 on an invalid row; 40
  // and 11 unique only. Every key width: one-word and two-word sort keys.
  for (unsigned bits : {8u, 58u}) {
    BOOST_TEST_CONTEXT("key bits " << bits) {
      reference_backend b;
      bool ok = false;
      std::vector<std::int64_t> many{5, -6, 5, 8, 7, 5, -6};
      std::vector<std::int64_t> unique{11, 5, -6, 7, 40};
      auto j = k::join_many(b, side(b, many, 100, 5), 0, side(b, unique, 1000), 0, false, ok, bits);
      BOOST_CHECK(ok);
      BOOST_CHECK_EQUAL(j.rows, many.size());
      BOOST_CHECK(matches(b, j) == join_in_the_clear(many, 100, 5, unique, 1000, 0));
      BOOST_CHECK_EQUAL(matches(b, j).size(), 4u);  // row 5 (a 5) is invalid
      // The same key on an invalid unique row matches nothing.
      auto none = k::join_many(b, side(b, {3, 3}, 0), 0, side(b, {3}, 0, 1), 0, false, ok, bits);
      BOOST_CHECK(ok && matches(b, none).empty() && none.rows == 2u);
      // Empty sides: as many rows as the repeating side, none valid.
      auto empty = k::join_many(b, side(b, {1, 2}, 0), 0, side(b, {}, 0), 0, false, ok, bits);
      BOOST_CHECK(ok && empty.rows == 2u && matches(b, empty).empty() && empty.columns.size() == 4u);
      auto nothing = k::join_many(b, side(b, {}, 0), 0, side(b, {1}, 0), 0, false, ok, bits);
      BOOST_CHECK(ok && nothing.rows == 0u && nothing.columns.size() == 4u);
    }
  }
}

BOOST_AUTO_TEST_CASE(join_many_finds_repeats_on_the_side_that_must_be_unique) {
  reference_backend b;
  bool ok = true;
  // 1:N: repeats on the many side are fine, on the unique side not; on invalid rows they are none.
  (void) k::join_many(b, side(b, {1, 1, 1}, 0), 0, side(b, {1, 2, 1}, 0), 0, false, ok, 58);
  BOOST_CHECK(!ok);
  (void) k::join_many(b, side(b, {1, 1, 1}, 0), 0, side(b, {2, 2}, 0), 0, false, ok, 8);
  BOOST_CHECK(!ok);
  (void) k::join_many(b, side(b, {1, 1, 1}, 0), 0, side(b, {1, 2, 1}, 0, 3), 0, false, ok, 58);
  BOOST_CHECK(ok);
  // 1:1: either side.
  (void) k::join_many(b, side(b, {1, 2, 1}, 0), 0, side(b, {3}, 0), 0, true, ok);
  BOOST_CHECK(!ok);
  (void) k::join_many(b, side(b, {1, 2}, 0), 0, side(b, {2, 2}, 0), 0, true, ok);
  BOOST_CHECK(!ok);
  (void) k::join_many(b, side(b, {1, 2, 1}, 0, 3), 0, side(b, {2, 3}, 0), 0, true, ok);
  BOOST_CHECK(ok);
}

BOOST_AUTO_TEST_CASE(join_many_agrees_with_the_join_in_the_clear_at_random) {
  // Unique keys partly overlapping the repeating side's pool: 0, 1 and many matches per key; keys
  // at the limits +-(2^59 - 1) for the two-word sort.
  std::mt19937_64 rng{77};
  const std::int64_t limit = (std::int64_t{1} << 59) - 1;
  for (std::size_t n : {0, 1, 7, 300})
    for (std::size_t m : {0, 1, 7, 1000})
      for (bool one_to_one : {false, true})
        for (unsigned bits : {12u, 58u}) {
          BOOST_TEST_CONTEXT(n << " unique rows, " << m << " rows, 1:1 " << one_to_one << ", bits " << bits) {
            const std::int64_t span = bits == 12 ? 2000 : limit;
            auto unique = distinct_keys(rng, n, -span, span);
            std::vector<std::int64_t> many;
            if (one_to_one) {
              many = distinct_keys(rng, m, -span, span);
              for (std::size_t i = 0; i < std::min(n, m) / 2; ++i)
                many[i] = unique[i];
              std::set<std::int64_t> seen;
              for (auto& v : many)
                while (!seen.insert(v).second)
                  v = draw_keys(rng, 1, -span, span)[0];
            } else {
              for (std::size_t i = 0; i < m; ++i)
                many.push_back(n > 0 && i % 3 != 0 ? unique[(i * 7) % std::max<std::size_t>(1, n / 2 + 1) % n]
                                                   : draw_keys(rng, 1, -span, span)[0]);
            }
            reference_backend b;
            bool ok = false;
            auto j = k::join_many(b, side(b, many, 7, 4), 0, side(b, unique, 9, 5), 0, one_to_one, ok, bits);
            BOOST_CHECK(ok);
            BOOST_CHECK_EQUAL(j.rows, m);
            BOOST_CHECK(matches(b, j) == join_in_the_clear(many, 7, 4, unique, 9, 5));
          }
        }
}

BOOST_AUTO_TEST_CASE(join_many_reveals_only_comparisons_a_bit_and_the_side_flags) {
  // 1:N on two-word keys: one shuffle in the sort and one before the side flags are opened; the
  // revealed elements are the comparisons, one bit and the n + m side flags, of which exactly m
  // are 1 (the positions of the repeating side's rows after a shuffle).
  counting_backend b;
  bool ok = false;
  std::vector<std::int64_t> many(60, 4);
  std::vector<std::int64_t> unique{4, 5, 6};
  reference_backend clear;
  auto j = k::join_many(b, side(clear, many, 0), 0, side(clear, unique, 0), 0, false, ok, 58);
  BOOST_CHECK(ok);
  BOOST_CHECK_EQUAL(b.shuffles, 2u);
  BOOST_CHECK_EQUAL(2 * (b.revealed - 1 - 63), b.compared);
  BOOST_CHECK_EQUAL(j.rows, 60u);
}

BOOST_AUTO_TEST_CASE(join_many_refuses_malformed_tables) {
  reference_backend b;
  bool ok = false;
  auto good = side(b, {1, 2, 3}, 0);
  auto short_column = good;
  short_column.columns[1].a.pop_back();
  auto short_valid = good;
  short_valid.valid.a.pop_back();
  BOOST_CHECK_THROW(k::join_many(b, good, 2, good, 0, false, ok), engine_failure);
  BOOST_CHECK_THROW(k::join_many(b, good, 0, short_column, 0, true, ok), engine_failure);
  BOOST_CHECK_THROW(k::join_many(b, short_valid, 0, good, 0, false, ok), engine_failure);
}

namespace {

/// join_many on rss3: party 0 inputs both sides (key, payload); every party opens keys_ok, then the
/// four columns of the valid rows, row by row, sorted (the result's order is a shuffle's). Party 2
/// has `fewer` rows on the many side and pauses for `pause` before joining.
std::array<party_outcome, 3> join_on_rss3(const std::vector<std::vector<word>>& many, const std::vector<std::vector<word>>& unique,
                                          bool one_to_one, unsigned bits, std::size_t fewer = 0,
                                          std::chrono::milliseconds pause = 0ms, const three_options& o = {}) {
  return run_three_parties(
    [&](backend& be, unsigned party) {
      auto table = [&](const std::vector<std::vector<word>>& cols, std::size_t rows) {
        secret_table t;
        t.rows = rows;
        t.columns = input_columns(be, party, cols, rows);
        t.valid = be.constant(1, rows);
        return t;
      };
      auto m = table(many, many[0].size() - (party == 2 ? fewer : 0));
      auto u = table(unique, unique[0].size());
      if (party == 2)
        std::this_thread::sleep_for(pause);
      bool ok = false;
      auto j = k::join_many(be, m, 0, u, 0, one_to_one, ok, bits);
      auto valid = be.reveal(j.valid);
      std::vector<std::vector<word>> columns;
      for (auto& c : j.columns)
        columns.push_back(be.reveal(c));
      std::multiset<std::vector<word>> rows;
      for (std::size_t i = 0; i < valid.size(); ++i)
        if (valid[i] == 1)
          rows.insert({columns[0][i], columns[1][i], columns[2][i], columns[3][i]});
      std::vector<word> all{ok ? word{1} : word{0}};
      for (const auto& r : rows)
        all.insert(all.end(), r.begin(), r.end());
      return to_bytes(all);
    },
    o);
}

} // namespace

BOOST_AUTO_TEST_CASE(join_many_on_rss3_matches_each_row) {
  // Persons 0, 3, 6, ...; 1:N: two jobs per person (key i / 2 * 3), every third job's key one
  // more (unmatched); 1:1: keys 0, 2, 4, ... (a match every 6).
  for (bool one_to_one : {false, true})
    for (unsigned bits : {20u, 58u})
      for (std::size_t n : {1, 7, 500}) {
        BOOST_TEST_CONTEXT("1:1 " << one_to_one << ", bits " << bits << ", " << n << " rows") {
          std::vector<std::vector<word>> unique(2);
          std::vector<std::vector<word>> many(2);
          for (std::size_t i = 0; i < n; ++i) {
            unique[0].push_back(3 * i);
            unique[1].push_back(1000 + i);
          }
          const std::size_t m = one_to_one ? n : 2 * n;
          for (std::size_t i = 0; i < m; ++i) {
            many[0].push_back(one_to_one ? 2 * i : (i / 2) * 3 + (i % 3 == 2 ? 1 : 0));
            many[1].push_back(5000 + i);
          }
          auto out = join_on_rss3(many, unique, one_to_one, bits);
          for (unsigned i = 0; i < 3; ++i)
            BOOST_REQUIRE_MESSAGE(out[i].ok, "party " << i << ": " << out[i].error);
          BOOST_CHECK(out[1].bytes == out[0].bytes);
          BOOST_CHECK(out[2].bytes == out[0].bytes);
          std::multiset<std::vector<word>> expected;
          for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < n; ++j)
              if (many[0][i] == unique[0][j])
                expected.insert({many[0][i], many[1][i], unique[0][j], unique[1][j]});
          std::vector<word> flat{1};
          for (const auto& r : expected)
            flat.insert(flat.end(), r.begin(), r.end());
          BOOST_CHECK(to_words(out[0].bytes) == flat);
          BOOST_TEST_MESSAGE(expected.size() << " of " << m << " rows matched");
        }
      }
}

BOOST_AUTO_TEST_CASE(a_deviating_party_in_a_join_fails_every_party) {
  std::vector<std::vector<word>> many{{1, 2, 3, 4, 5, 6, 7, 8}, {1, 1, 1, 1, 1, 1, 1, 1}};
  std::vector<std::vector<word>> unique{{2, 4, 6}, {9, 9, 9}};
  expect_every_party_fails(join_on_rss3(many, unique, false, 58, 1, 0ms, failing_run(5000ms)));
  expect_every_party_fails(join_on_rss3(many, unique, true, 58, 1, 0ms, failing_run(5000ms)));
}

BOOST_AUTO_TEST_CASE(a_silent_party_in_a_join_fails_every_party) {
  // Party 2 says nothing for 2.5 s once the inputs are shared; the others, inside join_many, wait
  // 0.5 s at most for any message.
  std::vector<std::vector<word>> many{{1, 2, 3, 4, 5, 6, 7, 8}, {1, 1, 1, 1, 1, 1, 1, 1}};
  std::vector<std::vector<word>> unique{{2, 4, 6}, {9, 9, 9}};
  expect_every_party_fails(join_on_rss3(many, unique, false, 58, 0, 2500ms, failing_run(500ms)));
}

namespace {

/// The reference backend, but in the opening of `size` elements element 0 is flipped (1 - v) or,
/// with `bad`, opened as 2: a party that opens the shuffled side flags wrongly.
class lying_backend final : public forwarding_backend {
public:
  lying_backend(std::size_t size, bool bad) : size_{size}, bad_{bad} {}

  std::vector<word> reveal(const secret& x) override {
    auto out = inner.reveal(x);
    if (out.size() == size_)
      out[0] = bad_ ? 2 : 1 - out[0];
    return out;
  }

private:
  std::size_t size_;
  bool bad_;
};

} // namespace

BOOST_AUTO_TEST_CASE(side_flags_opened_wrongly_end_the_join) {
  // 3 unique and 4 repeating rows: the only opening of 7 elements is that of the side flags (the
  // sort compares at most 6 at once, the uniqueness bit is one). A flag that is not 0 or 1, or one
  // flag too many or too few, stops the join with an error instead of picking wrong rows.
  for (bool bad : {true, false}) {
    BOOST_TEST_CONTEXT((bad ? "a flag opened as 2" : "a flag flipped")) {
      lying_backend b{7, bad};
      reference_backend clear;
      bool ok = false;
      try {
        (void) k::join_many(b, side(clear, {1, 2, 2, 5}, 0), 0, side(clear, {1, 2, 3}, 0), 0, false, ok, 58);
        BOOST_ERROR("the join picked rows from wrong flags");
      } catch (const engine_failure& e) {
        BOOST_TEST((e.err().code == joconde::errc::invalid_state));
        BOOST_TEST(e.err().message.find("rows of the repeating side") != std::string::npos, e.err().message);
      }
    }
  }
}
