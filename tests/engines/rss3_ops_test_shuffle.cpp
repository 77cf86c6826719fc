#include <boost/test/unit_test.hpp>

// rss3's resharing shuffle in three processes: rows stay together and keep their multiset, the
// order is random and new at every call, every share is fresh, the cost is what rss3.hpp says, and
// a deviating or silent party ends the run with an error at every party.

#include "rss3_test_support.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <thread>

using namespace joconde::engines;
using namespace joconde::test;
using namespace std::chrono_literals;

namespace {

/// What one party saw of a shuffle: the revealed columns after it, its own shares of every column
/// before and after, and the rounds and bytes the shuffle cost it.
struct shuffle_view {
  std::vector<std::vector<word>> revealed;
  std::vector<std::vector<word>> a_before, a_after, b_before, b_after;
  word rounds = 0;
  word bytes = 0;
};

/// `cols` columns of `n` random words from `seed`: the rows of a table.
std::vector<std::vector<word>> random_columns(std::size_t cols, std::size_t n, std::uint64_t seed) {
  std::mt19937_64 gen{seed};
  std::vector<std::vector<word>> out(cols, std::vector<word>(n));
  for (auto& c : out)
    for (auto& v : c)
      v = gen();
  return out;
}

/// Party 0 inputs `columns`; every party shuffles them once and reveals them.
std::array<shuffle_view, 3> run_shuffle(const std::vector<std::vector<word>>& columns) {
  const std::size_t n = columns.empty() ? 0 : columns[0].size();
  auto out = run_three_parties([&](backend& be, unsigned party) {
    auto shares = input_columns(be, party, columns, n);
    auto pointers = pointers_to(shares);
    std::vector<word> all;
    auto before = be.stats();
    std::vector<secret> old = shares;
    be.shuffle(pointers);
    auto after = be.stats();
    all.push_back(after.rounds - before.rounds);
    all.push_back(after.bytes_sent - before.bytes_sent);
    for (auto& s : shares) {
      auto v = be.reveal(s);
      all.insert(all.end(), v.begin(), v.end());
    }
    for (std::size_t c = 0; c < shares.size(); ++c)
      for (const auto* v : {&old[c].a, &shares[c].a, &old[c].b, &shares[c].b})
        all.insert(all.end(), v->begin(), v->end());
    return to_bytes(all);
  });
  std::array<shuffle_view, 3> views;
  for (unsigned i = 0; i < 3; ++i) {
    BOOST_REQUIRE_MESSAGE(out[i].ok, "party " << i << ": " << out[i].error);
    auto w = to_words(out[i].bytes);
    BOOST_REQUIRE_EQUAL(w.size(), 2 + 5 * columns.size() * n);
    auto& v = views[i];
    v.rounds = w[0];
    v.bytes = w[1];
    auto at = w.begin() + 2;
    auto take = [&at, n]() {
      std::vector<word> part(at, at + static_cast<std::ptrdiff_t>(n));
      at += static_cast<std::ptrdiff_t>(n);
      return part;
    };
    for (std::size_t c = 0; c < columns.size(); ++c)
      v.revealed.push_back(take());
    for (std::size_t c = 0; c < columns.size(); ++c)
      for (auto* part : {&v.a_before, &v.a_after, &v.b_before, &v.b_after})
        part->push_back(take());
  }
  return views;
}

/// The rows of a table given as columns, as a multiset of tuples.
std::multiset<std::vector<word>> rows_of(const std::vector<std::vector<word>>& columns) {
  std::multiset<std::vector<word>> rows;
  const std::size_t n = columns.empty() ? 0 : columns[0].size();
  for (std::size_t r = 0; r < n; ++r) {
    std::vector<word> row;
    for (const auto& c : columns)
      row.push_back(c[r]);
    rows.insert(row);
  }
  return rows;
}

/// Whether no value of `after` occurs in `before` (fresh random shares of 64 bits collide with
/// probability about n^2 / 2^64).
bool disjoint(const std::vector<word>& before, const std::vector<word>& after) {
  std::set<word> old(before.begin(), before.end());
  return std::none_of(after.begin(), after.end(), [&old](word v) { return old.count(v) != 0; });
}

/// A shuffle of two columns of 100 rows where party 2 has `rows_at_2` rows and first sleeps for
/// `pause`.
std::array<party_outcome, 3> failing_shuffle(std::size_t rows_at_2, std::chrono::milliseconds pause,
                                             const three_options& o) {
  return run_three_parties(
    [=](backend& be, unsigned party) {
      const std::size_t n = party == 2 ? rows_at_2 : 100;
      auto x = be.constant(5, n);
      auto y = be.constant(6, n);
      std::array<secret*, 2> cols{&x, &y};
      if (party == 2)
        std::this_thread::sleep_for(pause);
      be.shuffle(cols);
      return to_bytes(be.reveal(x));
    },
    o);
}

} // namespace

BOOST_AUTO_TEST_CASE(shuffle_keeps_rows_together_with_fresh_shares) {
  for (std::size_t cols : {std::size_t{1}, std::size_t{3}})
    for (std::size_t n : {0, 1, 2, 7, 100, 1000}) {
      BOOST_TEST_CONTEXT("columns " << cols << ", rows " << n) {
        auto columns = random_columns(cols, n, 100 * cols + n);
        auto views = run_shuffle(columns);
        for (unsigned i = 0; i < 3; ++i) {
          BOOST_CHECK(views[i].revealed == views[0].revealed);
          // Three passes, each party in two of them, every column once per pass it takes part in.
          BOOST_CHECK_EQUAL(views[i].rounds, 2u);
          BOOST_CHECK_EQUAL(views[i].bytes, 2 * cols * n * sizeof(word));
          for (std::size_t c = 0; c < cols; ++c) {
            BOOST_CHECK_MESSAGE(disjoint(views[i].a_before[c], views[i].a_after[c]), "party " << i);
            BOOST_CHECK_MESSAGE(disjoint(views[i].b_before[c], views[i].b_after[c]), "party " << i);
          }
        }
        BOOST_CHECK(rows_of(views[0].revealed) == rows_of(columns));
        // A fixed identity at 1000 rows has probability 1/1000!.
        if (n == 1000)
          BOOST_CHECK(views[0].revealed[0] != columns[0]);
      }
    }
}

BOOST_AUTO_TEST_CASE(shuffle_gives_another_order_every_time) {
  auto columns = random_columns(2, 1000, 7);
  auto first = run_shuffle(columns);
  auto second = run_shuffle(columns);
  BOOST_CHECK(rows_of(first[0].revealed) == rows_of(second[0].revealed));
  BOOST_CHECK(first[0].revealed[0] != second[0].revealed[0]);
  // Where each input row went: not the same map twice, and no fixed bias towards the identity
  // (about one fixed point is expected for a uniform permutation).
  std::map<word, std::size_t> place;
  for (std::size_t r = 0; r < 1000; ++r)
    place[columns[0][r]] = r;
  std::size_t fixed = 0;
  for (std::size_t r = 0; r < 1000; ++r)
    fixed += place.at(first[0].revealed[0][r]) == r ? 1 : 0;
  BOOST_CHECK_LT(fixed, 10u);
}

BOOST_AUTO_TEST_CASE(shuffle_refuses_columns_of_different_lengths) {
  auto out = run_three_parties([](backend& be, unsigned) {
    auto x = be.constant(1, 5);
    auto y = be.constant(2, 4);
    std::array<secret*, 2> cols{&x, &y};
    be.shuffle(cols);
    return to_bytes(be.reveal(x));
  });
  for (unsigned i = 0; i < 3; ++i) {
    BOOST_CHECK(!out[i].ok);
    BOOST_CHECK_MESSAGE(out[i].error.find("invalid_state") != std::string::npos, out[i].error);
  }
}

BOOST_AUTO_TEST_CASE(a_deviating_party_in_a_shuffle_fails_every_party) {
  // Party 2 shuffles one row fewer: each pair of parties shares a pass, so the lengths of its
  // messages differ wherever it takes part.
  expect_every_party_fails(failing_shuffle(99, 0ms, failing_run(5000ms)));
}

BOOST_AUTO_TEST_CASE(a_silent_party_in_a_shuffle_fails_every_party) {
  // Party 2 stops answering before the shuffle (it sits in the first pass out, so parties 0 and 1
  // finish that pass and then wait for it); when it comes back, its counterparts have given up.
  auto out = failing_shuffle(100, 2500ms, failing_run(500ms));
  expect_every_party_fails(out);
  BOOST_CHECK_MESSAGE(out[1].error.find("timeout") != std::string::npos, out[1].error);
}
