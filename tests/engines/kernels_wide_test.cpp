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

#include <boost/multiprecision/cpp_int.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace k = joconde::engines::kernels;
using joconde::engines::backend;
using joconde::engines::secret;
using joconde::engines::word;

namespace {

/// 10^12 with two decimals: the largest amount in cents the issue asks for.
constexpr std::int64_t cents_1e12 = 100'000'000'000'000;

/// CORR is written with six decimals: the output's scale.
constexpr word corr_scale = 1'000'000;

/// One table: a value and a group code per row, the filter, and the scale of the results.
struct table {
  std::string name;
  std::size_t groups = 1;
  std::vector<std::int64_t> x, y, code, pass;
  std::int64_t lo = 0;  ///< the declared range of x (and of y, scaled by y_scale) is [lo, m]
  std::int64_t m = 0;
  std::int64_t y_scale = 1;  ///< y's range is [lo, m] / y_scale (negative: y falls as x rises)

  std::int64_t y_lo() const { return std::min(lo / y_scale, m / y_scale); }
  std::int64_t y_hi() const { return std::max(lo / y_scale, m / y_scale); }
  word mul = 1;
  word div = 1;

  /// Whether check_wide_range accepts `agg` over this table's rows and range: only then is it
  /// run and checked (the compiler refuses the rest). The moments scale by mul / div squared (the
  /// standard deviation's output scale, and so the variance's here).
  bool accepted(k::aggregate agg) const {
    const bool moment = agg == k::aggregate::var_samp || agg == k::aggregate::stddev_samp;
    if (agg == k::aggregate::corr)
      return k::check_wide_range(agg, std::max<std::size_t>(x.size(), 1), lo, m, corr_scale, 1, y_lo(), y_hi())
        .ok();
    if (agg == k::aggregate::regr_slope || agg == k::aggregate::regr_intercept)
      return div == 1
             && k::check_wide_range(agg, std::max<std::size_t>(x.size(), 1), y_lo(), y_hi(), mul, 1, lo, m).ok();
    return k::check_wide_range(agg, std::max<std::size_t>(x.size(), 1), lo, m, moment ? mul * mul : mul,
                               moment ? div * div : div)
      .ok();
  }

  /// The statistics run on it, in order.
  std::vector<k::aggregate> stats() const {
    std::vector<k::aggregate> out;
    for (auto agg : {k::aggregate::sum, k::aggregate::avg, k::aggregate::var_samp, k::aggregate::stddev_samp,
                     k::aggregate::corr, k::aggregate::regr_slope, k::aggregate::regr_intercept})
      if (accepted(agg))
        out.push_back(agg);
    return out;
  }
};

/// Rows with values in [lo, m] (a quarter of them at the ends; with `spread` 3, all within 3 of
/// m: a nearly constant table), codes in 0..groups-2 (so the last group is empty whenever
/// groups > 1), a tenth filtered out.
table random_table(std::size_t n, std::size_t groups, std::int64_t lo, std::int64_t m, word mul, word div,
                   std::uint64_t seed, std::int64_t spread = 0, std::int64_t y_scale = 1) {
  std::mt19937_64 rng{seed};
  table t;
  t.name = "n=" + std::to_string(n) + " G=" + std::to_string(groups) + " [" + std::to_string(lo) + ", "
           + std::to_string(m) + "] mul=" + std::to_string(mul) + " div=" + std::to_string(div)
           + " seed=" + std::to_string(seed);
  t.groups = groups;
  t.y_scale = y_scale;
  t.lo = lo;
  t.m = m;
  t.mul = mul;
  t.div = div;
  std::uniform_int_distribution<std::int64_t> value{spread > 0 ? m - spread : lo, m};
  for (std::size_t r = 0; r < n; ++r) {
    auto pick = rng() % 8;
    t.x.push_back(spread > 0 ? value(rng) : pick == 0 ? m : pick == 1 ? lo : value(rng));
    // y: x itself half of the time (a correlation near 1/2), else independent; nearly constant too.
    t.y.push_back((spread > 0 ? std::max(lo, t.x.back() - static_cast<std::int64_t>(rng() % 2))
                   : rng() % 2 == 0 ? t.x.back() : value(rng))
                  / y_scale);
    t.code.push_back(groups > 1 ? static_cast<std::int64_t>(rng() % (groups - 1)) : 0);
    t.pass.push_back(rng() % 10 == 0 ? 0 : 1);
  }
  return t;
}

using big = boost::multiprecision::cpp_int;

/// floor(a / b) for b > 0.
big floor_div(const big& a, const big& b) {
  big q = a / b;
  return (a % b != 0 && a < 0) ? big{q - 1} : q;
}

/// a / b for b > 0 rounded half away from zero, as the kernels publish.
big round_div(const big& a, const big& b) {
  big m = floor_div(2 * (a < 0 ? big{-a} : a) + b, 2 * b);
  return a < 0 ? big{-m} : m;
}

/// The exact n (n - 1) comoments per group of the rows that pass: V_xx, V_yy, V_xy, with n and
/// the sums.
struct comoments {
  std::vector<big> n, sx, sy, vxx, vyy, vxy;
};

comoments exact_comoments(const table& t) {
  comoments c;
  std::vector<big> xx(t.groups, 0), yy(t.groups, 0), xy(t.groups, 0);
  c.n.assign(t.groups, 0);
  c.sx.assign(t.groups, 0);
  c.sy.assign(t.groups, 0);
  for (std::size_t r = 0; r < t.x.size(); ++r)
    if (t.pass[r] == 1) {
      auto g = static_cast<std::size_t>(t.code[r]);
      c.sx[g] += t.x[r];
      c.sy[g] += t.y[r];
      xx[g] += big{t.x[r]} * t.x[r];
      yy[g] += big{t.y[r]} * t.y[r];
      xy[g] += big{t.x[r]} * t.y[r];
      c.n[g] += 1;
    }
  for (std::size_t g = 0; g < t.groups; ++g) {
    c.vxx.push_back(c.n[g] * xx[g] - c.sx[g] * c.sx[g]);
    c.vyy.push_back(c.n[g] * yy[g] - c.sy[g] * c.sy[g]);
    c.vxy.push_back(c.n[g] * xy[g] - c.sx[g] * c.sy[g]);
  }
  return c;
}

/// floor(sqrt(v)) for v >= 0.
big isqrt(const big& v) {
  return boost::multiprecision::sqrt(v);
}

/// sqrt(a / b) rounded half up, for a >= 0 and b > 0: the largest c with (2 c - 1)^2 <= 4 a / b.
big rounded_root(const big& a, const big& b) {
  return (isqrt(floor_div(4 * a, b)) + 1) / 2;
}

/// corr(x, y) corr_scale per group, exactly, rounded half away from zero (0 where a variance is 0
/// or fewer than 2 rows).
std::vector<big> exact_corr(const table& t) {
  const auto c = exact_comoments(t);
  const big m = corr_scale;
  std::vector<big> out;
  for (std::size_t g = 0; g < t.groups; ++g) {
    if (c.n[g] < 2 || c.vxx[g] == 0 || c.vyy[g] == 0) {
      out.push_back(0);
      continue;
    }
    const big r = rounded_root(c.vxy[g] * c.vxy[g] * m * m, c.vxx[g] * c.vyy[g]);
    out.push_back(c.vxy[g] < 0 ? big{-r} : r);
  }
  return out;
}

/// slope (or intercept) of y on x times mul per group, exactly, rounded half away from zero (0
/// where var(x) is 0 or fewer than 2 rows): V_xy mul / V_xx, and (S_y V_xx - V_xy S_x) mul / (n V_xx).
std::vector<big> exact_line(const table& t, bool intercept) {
  const auto c = exact_comoments(t);
  std::vector<big> out;
  for (std::size_t g = 0; g < t.groups; ++g) {
    if (c.n[g] < 2 || c.vxx[g] == 0)
      out.push_back(0);
    else if (intercept)
      out.push_back(round_div((c.sy[g] * c.vxx[g] - c.vxy[g] * c.sx[g]) * t.mul, c.n[g] * c.vxx[g]));
    else
      out.push_back(round_div(c.vxy[g] * t.mul, c.vxx[g]));
  }
  return out;
}

/// The exact result of `agg` per group, rounded as the kernels publish (not for corr and regr_*:
/// exact_corr, exact_line).
std::vector<big> exact(const table& t, k::aggregate agg) {
  std::vector<big> s(t.groups, 0), q(t.groups, 0), n(t.groups, 0);
  for (std::size_t r = 0; r < t.x.size(); ++r)
    if (t.pass[r] == 1) {
      auto g = static_cast<std::size_t>(t.code[r]);
      s[g] += t.x[r];
      q[g] += big{t.x[r]} * t.x[r];
      n[g] += 1;
    }
  std::vector<big> out;
  const big mul = t.mul;
  const big div = t.div;
  for (std::size_t g = 0; g < t.groups; ++g) {
    switch (agg) {
      case k::aggregate::sum: out.push_back(round_div(s[g] * mul, div)); break;
      case k::aggregate::avg: out.push_back(n[g] == 0 ? big{0} : round_div(s[g] * mul, n[g] * div)); break;
      case k::aggregate::var_samp:
        // n (n - 1) var = n sum x^2 - S^2, scaled by (mul / div)^2.
        out.push_back(n[g] < 2 ? big{0}
                                : round_div((n[g] * q[g] - s[g] * s[g]) * mul * mul, n[g] * (n[g] - 1) * div * div));
        break;
      default:
        out.push_back(n[g] < 2 ? big{0}
                                : rounded_root((n[g] * q[g] - s[g] * s[g]) * mul * mul, n[g] * (n[g] - 1) * div * div));
    }
  }
  return out;
}

/// Runs the accepted statistics of `t` grouped by masks and by sorting (party 0 inputs the table)
/// and reveals hi, mid then lo of each.
std::vector<word> run_wide(backend& b, const table& t, unsigned party) {
  auto in = [&](const std::vector<std::int64_t>& v) { return joconde::test::party0_input(b, v, party); };
  const auto g = t.groups;
  auto x = in(t.x);
  auto y = in(t.y);
  auto code = in(t.code);
  auto filter = in(t.pass);
  auto masks = k::group_masks(b, code, g, filter);
  k::grouping by_masks{masks, g};
  auto sorted = k::sort_by_group(b, code, g, filter, {x, y});
  k::grouping by_sort{sorted};
  const auto bits = static_cast<unsigned>(
    std::bit_width(static_cast<std::uint64_t>(std::max(t.m, t.lo < 0 ? -t.lo : t.lo))));
  const auto bits_y = static_cast<unsigned>(
    std::bit_width(static_cast<std::uint64_t>(std::max(t.y_hi(), -t.y_lo()))));
  std::vector<secret> r;
  for (const auto* by : {&by_masks, &by_sort}) {
    const auto& xs = by->sorted() != nullptr ? sorted.columns[0] : x;
    const auto& ys = by->sorted() != nullptr ? sorted.columns[1] : y;
    for (auto agg : t.stats()) {
      auto v = agg == k::aggregate::regr_slope       ? k::wide_regr_slope(b, *by, ys, xs, bits_y, bits, t.mul)
               : agg == k::aggregate::regr_intercept ? k::wide_regr_intercept(b, *by, ys, xs, bits_y, bits, t.mul)
               : agg == k::aggregate::corr  ? k::wide_corr(b, *by, xs, ys, bits, bits_y, corr_scale)
               : agg == k::aggregate::sum ? k::wide_sum(b, *by, xs, bits, t.mul, t.div)
               : agg == k::aggregate::avg ? k::wide_avg(b, *by, xs, bits, t.mul, t.div)
               : agg == k::aggregate::var_samp
                 ? k::wide_var_samp(b, *by, xs, bits, t.mul * t.mul, t.div * t.div)
                 : k::wide_stddev_samp(b, *by, xs, bits, t.mul * t.mul, t.div * t.div);
      r.push_back(v.hi);
      r.push_back(v.mid);
      r.push_back(v.lo);
    }
  }
  return b.reveal(joconde::engines::concat(std::span<const secret>{r}));
}

const char* name_of(k::aggregate agg) {
  switch (agg) {
    case k::aggregate::sum: return "sum";
    case k::aggregate::avg: return "avg";
    case k::aggregate::var_samp: return "var_samp";
    case k::aggregate::corr: return "corr";
    case k::aggregate::regr_slope: return "regr_slope";
    case k::aggregate::regr_intercept: return "regr_intercept";
    default: return "stddev_samp";
  }
}

/// Checks the revealed words of run_wide against the exact values, rounded as published; `where`
/// names the backend.
void check(const table& t, const std::vector<word>& got, const std::string& where) {
  const auto g = t.groups;
  const auto stats = t.stats();
  BOOST_REQUIRE_EQUAL(got.size(), 2 * 3 * stats.size() * g);
  BOOST_CHECK_MESSAGE(t.accepted(k::aggregate::sum), t.name << ": check_wide_range refuses the sum");
  const char* kinds[] = {"masks", "sorted"};
  std::size_t at = 0;
  for (std::size_t kind = 0; kind < 2; ++kind)
    for (auto agg : stats) {
      const bool regr = agg == k::aggregate::regr_slope || agg == k::aggregate::regr_intercept;
      auto want = agg == k::aggregate::corr ? exact_corr(t)
                  : regr ? exact_line(t, agg == k::aggregate::regr_intercept)
                         : exact(t, agg);
      for (std::size_t i = 0; i < g; ++i) {
        const word hi = got[at + i];
        const word mid = got[at + g + i];
        const word lo = got[at + 2 * g + i];
        BOOST_CHECK_MESSAGE(lo >> 32 == 0 && mid >> 32 == 0, where << " " << t.name << ": low words not canonical");
        const big v = big{static_cast<std::int64_t>(hi)} * (big{1} << 64) + big{mid} * (big{1} << 32) + big{lo};
        bool ok = v == want[i];
        BOOST_CHECK_MESSAGE(ok, where << " " << kinds[kind] << " " << name_of(agg) << " of group " << i
                                      << " of table " << t.name << ": got " << v << ", exact " << want[i]);
      }
      at += 3 * g;
    }
}

/// The tables every backend runs: sums well beyond 2^63 (10^5 rows of 10^14 reach 10^19), and
/// the moments of amounts in cents up to 10^12 EUR, spread and nearly constant.
std::vector<table> tables() {
  std::vector<table> ts;
  std::uint64_t seed = 1600;
  for (std::size_t n : {0, 1, 7, 100, 100'000})
    ts.push_back(random_table(n, 3, -cents_1e12, cents_1e12, 1, 1, seed++));
  ts.push_back(random_table(1000, 5, -cents_1e12, cents_1e12, 100, 1, seed++));
  ts.push_back(random_table(1000, 2, -cents_1e12, cents_1e12, 1, 100, seed++));
  // AVG then divides by n 10^9 > 2^30: refused, so only the sum is checked.
  ts.push_back(random_table(1000, 1, -cents_1e12, cents_1e12, 1, 1'000'000'000, seed++));
  ts.push_back(random_table(100'000, 2, -cents_1e12, cents_1e12, 1, 1000, seed++));
  ts.push_back(random_table(1000, 3, -((std::int64_t{1} << 62) - 1), (std::int64_t{1} << 62) - 1, 1, 1, seed++));
  // Turnovers: [0, 10^12 EUR] in cents.
  for (std::size_t n : {2, 7, 1000, 100'000})
    ts.push_back(random_table(n, 3, 0, cents_1e12, 1, 1, seed++));
  ts.push_back(random_table(1000, 3, 0, cents_1e12, 10, 1, seed++));
  // y on another scale than x (cuts at odd multiples of 8 bits for the cross moment).
  ts.push_back(random_table(1000, 3, 0, cents_1e12, 1, 1, seed++, 0, std::int64_t{1} << 24));
  ts.push_back(random_table(100'000, 2, -cents_1e12, cents_1e12, 1, 1, seed++, 0, 1000));
  ts.push_back(random_table(100, 1, 0, cents_1e12, 1, 1, seed++, 0, std::int64_t{1} << 40));
  // y falling as x rises: negative covariances and correlations.
  ts.push_back(random_table(1000, 2, 0, cents_1e12, 100, 1, seed++, 0, -1000));
  ts.push_back(random_table(100'000, 1, -cents_1e12, cents_1e12, 1, 1, seed++, 0, -(std::int64_t{1} << 20)));
  // Nearly constant at the top of the range: variances of a few units, exactly.
  ts.push_back(random_table(1000, 2, 0, cents_1e12, 1, 1, seed++, 3));
  ts.push_back(random_table(100'000, 1, 0, cents_1e12, 100, 1, seed++, 1));
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

BOOST_AUTO_TEST_CASE(wide_regression_finds_lines_in_cents) {
  // y = a x + b exactly, x staff counts up to 10^6, y amounts in cents up to about 10^14: the slope
  // is exactly a and the intercept exactly b, on the reference backend and with the protocols'
  // worst errors; two decimals.
  struct case_ { std::int64_t a, b; };
  for (auto [a, b] : {case_{-12'345'678, 987'654'321}, case_{77'000'001, -5}, case_{1, 0}, case_{-3, 10'000'000'000}}) {
    std::mt19937_64 rng{static_cast<std::uint64_t>(a) ^ 0x5eed};
    std::vector<word> xs, ys;
    for (int r = 0; r < 2000; ++r) {
      const auto x = static_cast<std::int64_t>(rng() % 1'000'001);
      xs.push_back(static_cast<word>(x));
      ys.push_back(static_cast<word>(a * x + b));
    }
    const std::int64_t y_top = std::max(std::abs(a) * 1'000'000 + std::abs(b), std::int64_t{1});
    const word mul = 100;
    BOOST_REQUIRE(k::check_wide_range(k::aggregate::regr_slope, 2000, -y_top, y_top, mul, 1, 0, 1'000'000).ok());
    BOOST_REQUIRE(k::check_wide_range(k::aggregate::regr_intercept, 2000, -y_top, y_top, mul, 1, 0, 1'000'000).ok());
    const auto bits_y = static_cast<unsigned>(std::bit_width(static_cast<std::uint64_t>(y_top)));
    for (int noisy = 0; noisy < 2; ++noisy) {
      joconde::engines::reference_backend ref;
      joconde::test::noisy_backend rough{static_cast<std::uint64_t>(b) + 3};
      backend& be = noisy == 1 ? static_cast<backend&>(rough) : ref;
      auto x = be.constant(xs);
      auto y = be.constant(ys);
      auto ones = be.constant(1, xs.size());
      k::grouping by{ones, 1};
      auto open = [&](const k::wide_secret& v) {
        return static_cast<long double>(static_cast<std::int64_t>(be.reveal(v.hi)[0])) * 0x1p64L
               + static_cast<long double>(be.reveal(v.mid)[0]) * 0x1p32L
               + static_cast<long double>(be.reveal(v.lo)[0]);
      };
      const auto slope = open(k::wide_regr_slope(be, by, y, x, bits_y, 20, mul));
      BOOST_TEST(slope == static_cast<long double>(a) * mul,
                 "slope " << slope << " for a = " << a << " (x" << mul << ")" << (noisy ? " noisy" : ""));
      const auto icpt = open(k::wide_regr_intercept(be, by, y, x, bits_y, 20, mul));
      BOOST_TEST(icpt == static_cast<long double>(b) * mul,
                 "intercept " << icpt << " for b = " << b << " (x" << mul << ")" << (noisy ? " noisy" : ""));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_steep_line_at_the_top_of_the_range_needs_the_third_word) {
  // x at 10^14 - 1 or 10^14 cents, y at -10^14 or 10^14 with it: the slope is 2 10^14 exactly,
  // the intercept 10^14 - 2 10^28 (EUR written in cents: about 2^101 with two decimals more),
  // beyond two words. Both exact, rounded half away from zero; on rss3 too.
  const std::int64_t top = cents_1e12;
  const word mul = 100;
  const std::size_t n = 1001;
  BOOST_REQUIRE(k::check_wide_range(k::aggregate::regr_intercept, n, -top, top, mul, 1, -top, top).ok());
  std::vector<std::int64_t> xs, ys;
  for (std::size_t r = 0; r < n; ++r) {
    xs.push_back(r % 2 == 0 ? top : top - 1);
    ys.push_back(r % 2 == 0 ? top : -top);
  }
  big sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::size_t r = 0; r < n; ++r) {
    sx += xs[r];
    sy += ys[r];
    sxx += big{xs[r]} * xs[r];
    sxy += big{xs[r]} * ys[r];
  }
  const big nn = n;
  const big vxx = nn * sxx - sx * sx;
  const big vxy = nn * sxy - sx * sy;
  BOOST_REQUIRE(vxy % vxx == 0);
  const big slope = vxy / vxx;
  BOOST_REQUIRE(slope == big{2 * top});
  // (S_y - slope S_x) mul / n, rounded half away from zero.
  const big want = (sy - slope * sx) * mul;
  const auto bits = static_cast<unsigned>(std::bit_width(static_cast<std::uint64_t>(top)));
  auto words = joconde::test::revealed_words([&](backend& b, unsigned party) {
    auto x = joconde::test::party0_input(b, xs, party);
    auto y = joconde::test::party0_input(b, ys, party);
    auto ones = b.constant(1, n);
    k::grouping by{ones, 1};  // keeps a pointer to the masks
    auto icpt = k::wide_regr_intercept(b, by, y, x, bits, bits, mul);
    auto sl = k::wide_regr_slope(b, by, y, x, bits, bits, mul);
    return b.reveal(joconde::engines::concat({&icpt.hi, &icpt.mid, &icpt.lo, &sl.hi, &sl.mid, &sl.lo}));
  });
  BOOST_REQUIRE_EQUAL(words.size(), 6u);
  auto value = [&](std::size_t at) {
    BOOST_TEST((words[at + 1] >> 32 == 0 && words[at + 2] >> 32 == 0));
    return big{static_cast<std::int64_t>(words[at])} * (big{1} << 64) + big{words[at + 1]} * (big{1} << 32)
           + big{words[at + 2]};
  };
  const big icpt = value(0);
  BOOST_TEST((icpt == round_div(want, nn)), "intercept " << icpt << " x " << n << " vs " << want);
  BOOST_TEST((icpt < -(big{1} << 100)), "the intercept " << icpt << " should be beyond two words");
  BOOST_TEST((value(3) == slope * mul), "slope " << value(3));
}

namespace {

/// Dividends with their divisors, ties among them: a / d for the rounding kernels.
struct division_cases {
  std::vector<std::int64_t> a, d;
};

division_cases divisions() {
  division_cases c;
  std::mt19937_64 rng{2026};
  for (std::int64_t d : {1, 2, 3, 10, 100, 7919, 1'000'000})
    for (std::int64_t q : {0, 1, 2, 5, 999'999})
      for (std::int64_t off : {-1, 0, 1})
        for (std::int64_t sign : {1, -1}) {
          // q d + d / 2 + off: at, below and above the tie (for even d).
          c.a.push_back(sign * (q * d + d / 2 + off));
          c.d.push_back(d);
        }
  for (int i = 0; i < 200; ++i) {
    c.d.push_back(1 + static_cast<std::int64_t>(rng() % (std::uint64_t{1} << 40)));
    c.a.push_back(static_cast<std::int64_t>(rng() % (std::uint64_t{1} << 61)) - (std::int64_t{1} << 60));
  }
  return c;
}

big rounded(std::int64_t a, std::int64_t d) { return round_div(big{a}, big{d}); }

/// round_div, round_shift (by 24 bits) and avg_rounded (two groups by masks, scaled by 100 and by
/// 1/10) of the cases, revealed.
std::vector<word> run_rounding(backend& b, unsigned party) {
  const auto c = divisions();
  auto a = joconde::test::party0_input(b, c.a, party);
  auto d = joconde::test::party0_input(b, c.d, party);
  auto q = k::round_div(b, a, d);
  auto s = k::round_shift(b, a, 24);
  // AVG of the first 10 dividends / 2^20 (group 0) and of the next 7 (group 1); group 2 empty.
  std::vector<std::int64_t> xs, code;
  for (std::size_t i = 0; i < 17; ++i) {
    xs.push_back(c.a[i * 7] / (std::int64_t{1} << 20));
    code.push_back(i < 10 ? 0 : 1);
  }
  auto x = joconde::test::party0_input(b, xs, party);
  auto codes = joconde::test::party0_input(b, code, party);
  auto masks = k::group_masks(b, codes, 3, b.constant(1, xs.size()));
  k::grouping by{masks, 3};
  auto up = k::avg_rounded(b, by, x, 100, 1);
  auto down = k::avg_rounded(b, by, x, 1, 10);
  return b.reveal(joconde::engines::concat({&q, &s, &up, &down}));
}

void check_rounding(const std::vector<word>& got, const std::string& where) {
  const auto c = divisions();
  const auto n = c.a.size();
  BOOST_REQUIRE_EQUAL(got.size(), 2 * n + 6);
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto q = big{static_cast<std::int64_t>(got[i])};
    const auto s = big{static_cast<std::int64_t>(got[n + i])};
    if ((q != rounded(c.a[i], c.d[i]) || s != rounded(c.a[i], std::int64_t{1} << 24)) && wrong++ < 3)
      BOOST_TEST_MESSAGE(where << ": " << c.a[i] << " / " << c.d[i] << " gave " << q << ", / 2^24 " << s);
  }
  BOOST_TEST(wrong == 0u, where << ": " << wrong << " wrong");
  big sum[3] = {0, 0, 0};
  std::int64_t count[3] = {0, 0, 0};
  for (std::size_t i = 0; i < 17; ++i) {
    sum[i < 10 ? 0 : 1] += c.a[i * 7] / (std::int64_t{1} << 20);
    ++count[i < 10 ? 0 : 1];
  }
  for (std::size_t g = 0; g < 3; ++g) {
    const big want_up = count[g] == 0 ? big{0} : round_div(sum[g] * 100, big{count[g]});
    const big want_down = count[g] == 0 ? big{0} : round_div(sum[g], big{count[g] * 10});
    BOOST_TEST((big{static_cast<std::int64_t>(got[2 * n + g])} == want_up), where << " avg x100 of group " << g);
    BOOST_TEST((big{static_cast<std::int64_t>(got[2 * n + 3 + g])} == want_down), where << " avg /10 of group " << g);
  }
}

} // namespace

BOOST_AUTO_TEST_CASE(published_values_round_half_away_from_zero_exactly) {
  joconde::engines::reference_backend ref;
  check_rounding(run_rounding(ref, 0), "reference");
  joconde::test::noisy_backend noisy{99};
  check_rounding(run_rounding(noisy, 0), "noisy");
  check_rounding(joconde::test::revealed_words(run_rounding), "rss3");
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
    const auto len = 2 * 3 * t.stats().size() * t.groups;
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
  // MIN and MAX never need one.
  BOOST_TEST(!k::check_wide_range(aggregate::max, 10, 0, 1, 1, 1));
  // Three words: the variance of -10^12..10^12 EUR in cents^2 (up to 2 10^28), and the intercept
  // of such amounts on each other (about 3 10^29 at worst); both beyond 2^93.
  BOOST_TEST(k::check_wide_range(aggregate::var_samp, 10'000'000, -cents_1e12, cents_1e12, 1, 1).ok());
  BOOST_TEST(k::check_wide_range(aggregate::regr_intercept, 10'000'000, -cents_1e12, cents_1e12, 100, 1,
                                 -cents_1e12, cents_1e12)
               .ok());
  // Beyond three words: the variance written with 10^9 more (2 10^37 at 2^124).
  BOOST_TEST(!k::check_wide_range(aggregate::var_samp, 10'000'000, -cents_1e12, cents_1e12, 1'070'000'000, 1));
  // CORR of turnover in cents up to 10^10 EUR and exports over 10^6 firms (issue 17's task), with
  // six decimals.
  BOOST_TEST(k::check_wide_range(aggregate::corr, 1'000'000, 0, 1'000'000'000'000, 1'000'000, 1, 0,
                                 1'000'000'000'000)
               .ok());
}

BOOST_AUTO_TEST_CASE(medians_sort_on_one_or_two_word_keys) {
  // The same medians (3 groups, the last empty; ties; a tenth of the rows filtered out) with
  // values declared within +-2^10 (one-word sort keys) and within +-2^54 (two-word keys), on the
  // reference backend and on rss3, against sorting in the clear.
  std::mt19937_64 rng{17};
  const std::size_t n = 31;
  std::vector<std::int64_t> xs, codes, pass;
  for (std::size_t i = 0; i < n; ++i) {
    xs.push_back(static_cast<std::int64_t>(rng() % 21) - 10);
    codes.push_back(static_cast<std::int64_t>(rng() % 2));
    pass.push_back(rng() % 10 == 0 ? 0 : 1);
  }
  std::vector<std::int64_t> want(3, 0);
  for (std::int64_t g = 0; g < 2; ++g) {
    std::vector<std::int64_t> v;
    for (std::size_t i = 0; i < n; ++i)
      if (codes[i] == g && pass[i] == 1)
        v.push_back(xs[i]);
    std::sort(v.begin(), v.end());
    if (!v.empty())
      want[static_cast<std::size_t>(g)] = v[(v.size() - 1) / 2] + v[v.size() / 2];
  }
  auto run = [&](backend& b, unsigned party) {
    auto x = joconde::test::party0_input(b, xs, party);
    auto code = joconde::test::party0_input(b, codes, party);
    auto filter = joconde::test::party0_input(b, pass, party);
    auto masks = k::group_masks(b, code, 3, filter);
    const std::int64_t wide = std::int64_t{1} << 54;
    auto narrow = k::median_twice(b, masks, 3, x, -1024, 1024);
    auto broad = k::median_twice(b, masks, 3, x, -wide, wide);
    return b.reveal(joconde::engines::concat({&narrow, &broad}));
  };
  joconde::engines::reference_backend ref;
  auto got = run(ref, 0);
  auto shared = joconde::test::revealed_words(run);
  for (const auto* words : {&got, &shared}) {
    BOOST_REQUIRE_EQUAL(words->size(), 6u);
    for (std::size_t g = 0; g < 3; ++g) {
      BOOST_TEST(static_cast<std::int64_t>((*words)[g]) == want[g], "one-word keys, group " << g);
      BOOST_TEST(static_cast<std::int64_t>((*words)[3 + g]) == want[g], "two-word keys, group " << g);
    }
  }
  BOOST_TEST(k::check_range(k::aggregate::median, n, -(std::int64_t{1} << 54), std::int64_t{1} << 54).ok());
  BOOST_TEST(!k::check_range(k::aggregate::median, 1'000'000, -(std::int64_t{1} << 42), std::int64_t{1} << 42).ok());
}

BOOST_AUTO_TEST_CASE(percentiles_sort_on_one_or_two_word_keys) {
  // PERCENTILE_CONT (times p's denominator) and PERCENTILE_DISC at p = 0, 0.25, 0.5, 0.9 and 1
  // over 4 groups (one of a single row, the last empty; ties; a tenth of the rows filtered out),
  // with one- and two-word sort keys, on the reference backend and on rss3, against sorting in the
  // clear; CONT(0.5) is half of median_twice.
  std::mt19937_64 rng{29};
  const std::size_t n = 25;
  const std::size_t g = 4;
  std::vector<std::int64_t> xs, codes, pass;
  for (std::size_t i = 0; i < n; ++i) {
    xs.push_back(static_cast<std::int64_t>(rng() % 41) - 20);
    codes.push_back(i == 0 ? 2 : static_cast<std::int64_t>(rng() % 2));
    pass.push_back(i != 0 && rng() % 10 == 0 ? 0 : 1);
  }
  const std::vector<std::pair<word, word>> ps{{0, 1}, {25, 100}, {5, 10}, {9, 10}, {1, 1}};
  std::vector<std::int64_t> want;  // per p: G CONT scaled, then G DISC
  for (const auto& [num, scale] : ps) {
    std::vector<std::int64_t> cont(g, 0), disc(g, 0);
    for (std::size_t c = 0; c < g; ++c) {
      std::vector<std::int64_t> v;
      for (std::size_t i = 0; i < n; ++i)
        if (codes[i] == static_cast<std::int64_t>(c) && pass[i] == 1)
          v.push_back(xs[i]);
      if (v.empty())
        continue;
      std::sort(v.begin(), v.end());
      const auto a = static_cast<std::int64_t>(num);
      const auto s = static_cast<std::int64_t>(scale);
      const auto r = a * static_cast<std::int64_t>(v.size() - 1);
      const auto lo = static_cast<std::size_t>(r / s);
      cont[c] = v[lo] * s + (r % s == 0 ? 0 : (v[lo + 1] - v[lo]) * (r % s));
      const auto rank = std::max<std::int64_t>(1, (a * static_cast<std::int64_t>(v.size()) + s - 1) / s);
      disc[c] = v[static_cast<std::size_t>(rank - 1)];
    }
    want.insert(want.end(), cont.begin(), cont.end());
    want.insert(want.end(), disc.begin(), disc.end());
  }
  auto run = [&](backend& b, unsigned party) {
    auto x = joconde::test::party0_input(b, xs, party);
    auto code = joconde::test::party0_input(b, codes, party);
    auto filter = joconde::test::party0_input(b, pass, party);
    auto masks = k::group_masks(b, code, g, filter);
    const std::int64_t wide = std::int64_t{1} << 54;
    secret all;
    for (const auto& [lo, hi] : {std::pair<std::int64_t, std::int64_t>{-32, 32}, {-wide, wide}}) {
      for (const auto& [num, scale] : ps) {
        joconde::engines::append(all, k::percentile_cont_scaled(b, masks, g, x, lo, hi, num, scale));
        joconde::engines::append(all, k::percentile_disc(b, masks, g, x, lo, hi, num, scale));
      }
      joconde::engines::append(all, k::median_twice(b, masks, g, x, lo, hi));
    }
    return b.reveal(all);
  };
  joconde::engines::reference_backend ref;
  auto got = run(ref, 0);
  auto shared = joconde::test::revealed_words(run);
  const auto per_width = want.size() + g;
  for (const auto* words : {&got, &shared}) {
    BOOST_REQUIRE_EQUAL(words->size(), 2 * per_width);
    for (std::size_t width = 0; width < 2; ++width)
      for (std::size_t i = 0; i < want.size(); ++i)
        BOOST_TEST(static_cast<std::int64_t>((*words)[width * per_width + i]) == want[i],
                   "keys " << width << ", value " << i);
    for (std::size_t c = 0; c < g; ++c)  // CONT(0.5) times 10 is 5 times the twice the median
      BOOST_TEST(static_cast<std::int64_t>((*words)[4 * g + c]) == 5 * static_cast<std::int64_t>((*words)[want.size() + c]));
  }
  BOOST_TEST(k::check_percentile_cont(1'000'000, -(std::int64_t{1} << 40), 1, 1'000'000).ok());
  BOOST_TEST(!k::check_percentile_cont(1'000'000, -(std::int64_t{1} << 43), 1, 1'000'000).ok());
  BOOST_TEST(!k::check_percentile_cont(std::uint64_t{1} << 30, -1, 1, std::uint64_t{1} << 31).ok());
}
