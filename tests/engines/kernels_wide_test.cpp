#define BOOST_TEST_MODULE kernels_wide
#include <boost/test/unit_test.hpp>

// SUM and AVG beyond the 64-bit ring (kernels::wide_sum, wide_avg): random tables of values at the
// edges of what check_wide_range accepts, grouped by one-hot masks and by sorting, with empty
// groups and output scales up and down, compared with the exact value computed in 128-bit
// integers: on the reference backend and on rss3 (three real processes). Then check_wide_range's
// own limits and messages.

#include "noisy_backend.hpp"
#include "three_parties.hpp"

#include "joconde/engines/kernels.hpp"
#include "joconde/engines/reference.hpp"
#include "joconde/engines/secret_ops.hpp"

#include <algorithm>
#include <bit>
#include <random>
#include <string>
#include <vector>

namespace k = joconde::engines::kernels;
using joconde::engines::backend;
using joconde::engines::secret;
using joconde::engines::word;
using i128 = __int128;

namespace {

/// 10^12 with two decimals: the largest amount in cents the issue asks for.
constexpr std::int64_t cents_1e12 = 100'000'000'000'000;

/// One table: a value and a group code per row, the filter, and the scale of the result.
struct table {
  std::string name;
  std::size_t groups = 1;
  std::vector<std::int64_t> x, code, pass;
  std::int64_t m = 0;  ///< the declared range is [-m, m]
  word mul = 1;
  word div = 1;

  /// Whether check_wide_range accepts `agg` over this table's rows and range: only then is the
  /// result checked (the compiler refuses the rest).
  bool accepted(k::aggregate agg) const {
    return k::check_wide_range(agg, std::max<std::size_t>(x.size(), 1), -m, m, mul, div).ok();
  }
};

/// Rows with values in [-m, m] (a quarter of them at the ends), codes in 0..groups-2 (so the last
/// group is empty whenever groups > 1), a tenth filtered out.
table random_table(std::size_t n, std::size_t groups, std::int64_t m, word mul, word div, std::uint64_t seed) {
  std::mt19937_64 rng{seed};
  table t;
  t.name = "n=" + std::to_string(n) + " G=" + std::to_string(groups) + " mul=" + std::to_string(mul)
           + " div=" + std::to_string(div) + " seed=" + std::to_string(seed);
  t.groups = groups;
  t.m = m;
  t.mul = mul;
  t.div = div;
  std::uniform_int_distribution<std::int64_t> value{-m, m};
  for (std::size_t r = 0; r < n; ++r) {
    auto pick = rng() % 8;
    t.x.push_back(pick == 0 ? m : pick == 1 ? -m : value(rng));
    t.code.push_back(groups > 1 ? static_cast<std::int64_t>(rng() % (groups - 1)) : 0);
    t.pass.push_back(rng() % 10 == 0 ? 0 : 1);
  }
  return t;
}

/// floor(a / b) for b > 0.
i128 floor_div(i128 a, i128 b) {
  auto q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

/// The exact results per group: floor(S mul / div) for the sums, floor(S mul / (n div)) for the
/// means (0 for an empty group).
std::pair<std::vector<i128>, std::vector<i128>> exact(const table& t) {
  std::vector<i128> s(t.groups, 0), n(t.groups, 0);
  for (std::size_t r = 0; r < t.x.size(); ++r)
    if (t.pass[r] == 1) {
      s[static_cast<std::size_t>(t.code[r])] += t.x[r];
      n[static_cast<std::size_t>(t.code[r])] += 1;
    }
  std::vector<i128> sums, means;
  for (std::size_t g = 0; g < t.groups; ++g) {
    sums.push_back(floor_div(s[g] * static_cast<i128>(t.mul), static_cast<i128>(t.div)));
    means.push_back(n[g] == 0 ? 0 : floor_div(s[g] * static_cast<i128>(t.mul), n[g] * static_cast<i128>(t.div)));
  }
  return {sums, means};
}

/// Runs wide_sum and wide_avg on `t` grouped by masks and by sorting (party 0 inputs the table) and
/// reveals hi then lo of each: 8 G words.
std::vector<word> run_wide(backend& b, const table& t, unsigned party) {
  auto in = [&](const std::vector<std::int64_t>& v) {
    std::vector<word> w(v.begin(), v.end());
    return b.input(0, party == 0 ? std::span<const word>{w} : std::span<const word>{}, v.size());
  };
  const auto g = t.groups;
  auto x = in(t.x);
  auto code = in(t.code);
  auto filter = in(t.pass);
  auto masks = k::group_masks(b, code, g, filter);
  k::grouping by_masks{masks, g};
  auto sorted = k::sort_by_group(b, code, g, filter, {x});
  k::grouping by_sort{sorted};
  std::vector<secret> r;
  for (const auto* by : {&by_masks, &by_sort}) {
    const auto& xs = by->sorted() != nullptr ? sorted.columns[0] : x;
    const auto bits = static_cast<unsigned>(std::bit_width(static_cast<std::uint64_t>(t.m)));
    auto s = k::wide_sum(b, *by, xs, bits, t.mul, t.div);
    auto a = k::wide_avg(b, *by, xs, bits, t.mul, t.div);
    for (auto* v : {&s.hi, &s.lo, &a.hi, &a.lo})
      r.push_back(*v);
  }
  return b.reveal(joconde::engines::concat(std::span<const secret>{r}));
}

std::string text(i128 v) {
  if (v == 0)
    return "0";
  bool neg = v < 0;
  unsigned __int128 m = neg ? static_cast<unsigned __int128>(-v) : static_cast<unsigned __int128>(v);
  std::string s;
  for (; m != 0; m /= 10)
    s.push_back(static_cast<char>('0' + static_cast<int>(m % 10)));
  if (neg)
    s.push_back('-');
  return {s.rbegin(), s.rend()};
}

/// Checks the revealed words of run_wide against the exact values; `where` names the backend.
void check(const table& t, const std::vector<word>& got, const std::string& where) {
  const auto g = t.groups;
  BOOST_REQUIRE_EQUAL(got.size(), 8 * g);
  auto [sums, means] = exact(t);
  const char* kinds[] = {"masks", "sorted"};
  BOOST_CHECK_MESSAGE(t.accepted(k::aggregate::sum), t.name << ": check_wide_range refuses the sum");
  for (std::size_t kind = 0; kind < 2; ++kind)
    for (std::size_t which = 0; which < 2; ++which)
      for (std::size_t i = 0; i < g && t.accepted(which == 0 ? k::aggregate::sum : k::aggregate::avg); ++i) {
        const auto base = kind * 4 * g + which * 2 * g;
        const word hi = got[base + i];
        const word lo = got[base + g + i];
        BOOST_CHECK_MESSAGE(lo >> 32 == 0, where << " " << t.name << ": low limb not canonical");
        const i128 v = static_cast<i128>(static_cast<std::int64_t>(hi)) * (i128{1} << 32) + static_cast<i128>(lo);
        const i128 want = which == 0 ? sums[i] : means[i];
        BOOST_CHECK_MESSAGE(v == want, where << " " << kinds[kind] << " " << (which == 0 ? "sum" : "avg")
                                             << " of group " << i << " of table " << t.name << ": got "
                                             << text(v) << ", exact " << text(want));
      }
}

/// The tables both backends run: sums well beyond 2^63 (10^5 rows of 10^14 reach 10^19).
std::vector<table> tables() {
  std::vector<table> ts;
  std::uint64_t seed = 1600;
  for (std::size_t n : {0, 1, 7, 100, 100'000})
    ts.push_back(random_table(n, 3, cents_1e12, 1, 1, seed++));
  ts.push_back(random_table(1000, 5, cents_1e12, 100, 1, seed++));
  ts.push_back(random_table(1000, 2, cents_1e12, 1, 100, seed++));
  // AVG then divides by n 10^9 > 2^30: refused, so only the sum is checked.
  ts.push_back(random_table(1000, 1, cents_1e12, 1, 1'000'000'000, seed++));
  ts.push_back(random_table(100'000, 2, cents_1e12, 1, 1000, seed++));
  ts.push_back(random_table(1000, 3, (std::int64_t{1} << 62) - 1, 1, 1, seed++));
  return ts;
}

} // namespace

BOOST_AUTO_TEST_CASE(wide_sums_and_means_are_exact_on_the_reference_backend) {
  for (const auto& t : tables()) {
    joconde::engines::reference_backend b;
    check(t, run_wide(b, t, 0), "reference");
  }
}

BOOST_AUTO_TEST_CASE(wide_sums_and_means_are_exact_with_the_protocols_worst_errors) {
  // trunc off by one either way, div off by 2^-29 relative plus 2 units: the corrections must
  // still make every result exact.
  std::uint64_t seed = 7;
  for (const auto& t : tables()) {
    joconde::test::noisy_backend b{seed++};
    check(t, run_wide(b, t, 0), "noisy");
  }
}

BOOST_AUTO_TEST_CASE(wide_sums_and_means_are_exact_on_rss3) {
  auto ts = tables();
  auto words = joconde::test::revealed_words([&](backend& b, unsigned party) {
    std::vector<word> all;
    for (const auto& t : ts) {
      auto r = run_wide(b, t, party);
      all.insert(all.end(), r.begin(), r.end());
    }
    return all;
  });
  std::size_t at = 0;
  for (const auto& t : ts) {
    const auto len = 8 * t.groups;
    BOOST_REQUIRE_LE(at + len, words.size());
    check(t, {words.begin() + static_cast<std::ptrdiff_t>(at), words.begin() + static_cast<std::ptrdiff_t>(at + len)},
          "rss3");
    at += len;
  }
}

BOOST_AUTO_TEST_CASE(check_wide_range_accepts_national_amounts_and_refuses_what_cannot_fit) {
  using k::aggregate;
  // 10^7 rows of amounts in cents up to 10^12: refused in one word, accepted in two.
  BOOST_TEST(!k::check_range(aggregate::sum, 10'000'000, -cents_1e12, cents_1e12));
  BOOST_TEST(!k::check_range(aggregate::avg, 10'000'000, 0, cents_1e12));
  BOOST_TEST(k::check_wide_range(aggregate::sum, 10'000'000, -cents_1e12, cents_1e12, 1, 1).ok());
  BOOST_TEST(k::check_wide_range(aggregate::avg, 10'000'000, 0, cents_1e12, 100, 1).ok());
  // The whole ring, over 2^26 rows.
  const std::int64_t top = (std::int64_t{1} << 62) - 1;
  BOOST_TEST(k::check_wide_range(aggregate::sum, std::uint64_t{1} << 26, -top, top, 1, 1).ok());
  // 2^27 rows: the prefix limbs over sorted rows could leave the ring.
  auto rows = k::check_wide_range(aggregate::sum, std::uint64_t{1} << 27, 0, 1, 1, 1);
  BOOST_REQUIRE(!rows);
  BOOST_TEST(rows.err().message.find("at most 134217727 rows") != std::string::npos, rows.err().message);
  // AVG divides by n div, which must stay below 2^30.
  BOOST_TEST(!k::check_wide_range(aggregate::avg, 10'000'000, 0, cents_1e12, 1, 1000));
  BOOST_TEST(k::check_wide_range(aggregate::avg, 10'000'000, 0, cents_1e12, 1, 100).ok());
  // A scale factor that would push the high limb out of the ring: the message names a range.
  auto big = k::check_wide_range(aggregate::sum, 100'000'000, -top, top, 1'000'000, 1);
  BOOST_REQUIRE(!big);
  BOOST_TEST(big.err().message.find("128-bit sums") != std::string::npos, big.err().message);
  BOOST_TEST(big.err().message.find("within [") != std::string::npos, big.err().message);
  // Only SUM and AVG have a wide form.
  BOOST_TEST(!k::check_wide_range(aggregate::var_samp, 10, 0, 1, 1, 1));
}
