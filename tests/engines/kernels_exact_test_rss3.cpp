// The tables of kernels_exact_test on rss3: three real processes on loopback, every party running
// the kernels on its shares, party 0 inputting the tables.

#include "kernels_exact.hpp"
#include "three_parties.hpp"

using namespace joconde::test::exact;
using joconde::engines::backend;
using joconde::test::run_three_parties;

namespace {

/// Runs every table in one rss3 session and checks each.
void check_on_rss3(const std::vector<table>& tables) {
  auto words = joconde::test::revealed_words([&](backend& be, unsigned party) {
    std::vector<word> all;
    for (const auto& t : tables) {
      auto r = run_statistics(be, t, party);
      all.insert(all.end(), r.begin(), r.end());
    }
    return all;
  });
  std::size_t at = 0;
  for (const auto& t : tables) {
    const auto len = stat_count * t.groups;
    BOOST_REQUIRE_LE(at + len, words.size());
    std::vector<word> got(words.begin() + static_cast<std::ptrdiff_t>(at),
                          words.begin() + static_cast<std::ptrdiff_t>(at + len));
    at += len;
    auto checked = check(t, got, "rss3");
    BOOST_CHECK_MESSAGE(checked > 0, "table \"" << t.name << "\": check_range accepts nothing");
  }
}

} // namespace

BOOST_AUTO_TEST_CASE(statistics_at_the_edges_on_rss3) {
  for (std::size_t n : {2, 1000})
    check_on_rss3(edge_tables(n, base_seed(1000 + n)));
  check_on_rss3({group_table(1000, base_seed(77))});
}

BOOST_AUTO_TEST_CASE(smallest_variances_on_rss3) {
  // Whole numbers vary least when one row of 2^20 differs: var(x) is about 16 units 2^-24, where
  // the approximate moments matter most.
  check_on_rss3(nearly_constant_tables(std::size_t{1} << 20, base_seed(9000)));
}

BOOST_AUTO_TEST_CASE(rounds_of_each_statistic_on_rss3) {
  // Reported, not asserted: the cost of each statistic over one group.
  table t;
  t.name = "rounds";
  for (std::int64_t i = 0; i < 100; ++i)
    t.add(0, i, 3 * i + i % 7);
  auto out = run_three_parties([&](backend& be, unsigned party) {
    auto in = [&](const std::vector<std::int64_t>& v) {
      std::vector<word> w(v.begin(), v.end());
      return be.input(0, party == 0 ? std::span<const word>{w} : std::span<const word>{}, v.size());
    };
    auto x = in(t.x);
    auto y = in(t.y);
    auto masks = in(t.filter);
    std::vector<word> rounds;
    auto measure = [&](auto f) {
      auto before = be.stats();
      (void) f();
      rounds.push_back(be.stats().rounds - before.rounds);
      rounds.push_back((be.stats().bytes_sent - before.bytes_sent) / 8 / t.x.size());
    };
    measure([&] { return k::avg(be, masks, x, 1); });
    measure([&] { return k::var_samp(be, masks, x, 1); });
    measure([&] { return k::stddev_samp(be, masks, x, 1); });
    measure([&] { return k::corr(be, masks, x, y, 1); });
    measure([&] { return k::regr_slope(be, masks, y, x, 1); });
    measure([&] { return k::regr_intercept(be, masks, y, x, 1); });
    measure([&] { return be.div(x, masks, 24); });
    measure([&] { return be.sqrt(x, 24); });
    measure([&] { return be.trunc(x, 16); });
    return joconde::test::to_bytes(rounds);
  });
  for (unsigned i = 0; i < 3; ++i)
    BOOST_REQUIRE(out[i].ok);
  auto r = joconde::test::to_words(out[0].bytes);
  BOOST_REQUIRE_EQUAL(r.size(), 18u);
  for (unsigned i = 1; i < 3; ++i) {
    auto other = joconde::test::to_words(out[i].bytes);
    for (std::size_t j = 1; j < r.size(); j += 2)
      r[j] = std::max(r[j], other[j]);
  }
  const char* names[] = {"avg", "var_samp", "stddev_samp", "corr", "regr_slope", "regr_intercept",
                         "div", "sqrt", "trunc"};
  for (std::size_t i = 0; i < 9; ++i)
    BOOST_TEST_MESSAGE("rss3 " << names[i] << ": " << r[2 * i] << " rounds, "
                               << r[2 * i + 1] << " words per row sent by the busiest party");
}
