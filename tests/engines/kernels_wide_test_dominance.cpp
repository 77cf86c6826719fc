// kernels::top_sum, the dominance rule's sum of each group's n largest values: random groups with
// ties, groups of fewer than n rows, a group of zeros and an empty group, a tenth of the rows
// filtered out, on one- and two-word sort keys, on the reference backend and on rss3, against
// sorting in the clear; then check_dominance's limits.

#include "three_parties.hpp"

#include "joconde/engines/kernels.hpp"
#include "joconde/engines/reference.hpp"
#include "joconde/engines/secret_ops.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <functional>
#include <random>
#include <vector>

namespace k = joconde::engines::kernels;
using joconde::engines::backend;
using joconde::engines::word;

BOOST_AUTO_TEST_CASE(top_sums_are_the_n_largest_values_of_each_group) {
  // Groups 0 and 1 random (values 0..9: many ties), 2 a single row, 3 three zeros, 4 empty.
  std::mt19937_64 rng{31};
  std::vector<std::int64_t> xs, codes, pass;
  for (std::size_t i = 0; i < 24; ++i) {
    xs.push_back(static_cast<std::int64_t>(rng() % 10));
    codes.push_back(static_cast<std::int64_t>(rng() % 2));
    pass.push_back(rng() % 10 == 0 ? 0 : 1);
  }
  for (const auto& [x, code] : std::vector<std::pair<std::int64_t, std::int64_t>>{{7, 2}, {0, 3}, {0, 3}, {0, 3}}) {
    xs.push_back(x);
    codes.push_back(code);
    pass.push_back(1);
  }
  const std::size_t g = 5;
  const std::vector<unsigned> ns{1, 2, 4};
  std::vector<std::int64_t> want;  // per n: G sums
  for (auto n : ns)
    for (std::size_t c = 0; c < g; ++c) {
      std::vector<std::int64_t> v;
      for (std::size_t i = 0; i < xs.size(); ++i)
        if (codes[i] == static_cast<std::int64_t>(c) && pass[i] == 1)
          v.push_back(xs[i]);
      std::sort(v.rbegin(), v.rend());
      std::int64_t top = 0;
      for (std::size_t i = 0; i < v.size() && i < n; ++i)
        top += v[i];
      want.push_back(top);
    }
  auto run = [&](backend& b, unsigned party) {
    auto x = joconde::test::party0_input(b, xs, party);
    auto code = joconde::test::party0_input(b, codes, party);
    auto filter = joconde::test::party0_input(b, pass, party);
    auto masks = k::group_masks(b, code, g, filter);
    joconde::engines::secret all;
    for (const auto hi : {std::int64_t{1} << 10, std::int64_t{1} << 54})  // one-word, two-word keys
      for (auto n : ns)
        joconde::engines::append(all, k::top_sum(b, masks, g, x, 0, hi, n));
    return b.reveal(all);
  };
  joconde::engines::reference_backend ref;
  auto got = run(ref, 0);
  auto shared = joconde::test::revealed_words(run);
  for (const auto* words : {&got, &shared}) {
    BOOST_REQUIRE_EQUAL(words->size(), 2 * want.size());
    for (std::size_t i = 0; i < 2 * want.size(); ++i)
      BOOST_TEST(static_cast<std::int64_t>((*words)[i]) == want[i % want.size()],
                 "keys " << i / want.size() << ", n " << ns[(i % want.size()) / g] << ", group " << i % g);
  }
  // Values at 0 and the bound: 100 x rows x max < 2^61.
  BOOST_TEST(k::check_dominance(1'000'000, 0, 23'000'000'000).ok());
  BOOST_TEST(!k::check_dominance(1'000'000, 0, 24'000'000'000).ok());
  BOOST_TEST(!k::check_dominance(10, -1, 100).ok());
}
