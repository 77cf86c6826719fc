#define BOOST_TEST_MODULE sql_conversion
#include <boost/test/unit_test.hpp>

// The conversion of checked values to output decimal columns: exact when the output has at least
// the value's digits, rounded half away from zero otherwise (negative values and exact ties too),
// compared exactly with an independent 128-bit computation over many values, on the reference
// backend and with the protocols' worst errors (trunc one too many, div 2^-29 off).

#include "joconde/engines/reference.hpp"
#include "joconde/engines/sql/checker.hpp"
#include "joconde/engines/sql/evaluate.hpp"

#include "noisy_backend.hpp"

#include <cstdint>
#include <random>
#include <vector>

using namespace joconde::engines;
using namespace joconde::engines::sql;

namespace {

__extension__ typedef __int128 i128;

i128 floor_div(i128 a, i128 d) {
  i128 q = a / d;
  return (a % d != 0 && (a < 0) != (d < 0)) ? q - 1 : q;
}

i128 ten(int k) {
  i128 r = 1;
  for (int i = 0; i < k; ++i)
    r *= 10;
  return r;
}

struct conversion_case {
  int dec;
  int bin;
  int to;
  std::int64_t lo;
  std::int64_t hi;
};

/// The expected output: x * 10^to / (10^dec * 2^bin) rounded half away from zero.
i128 expected(const conversion_case& c, std::int64_t x) {
  i128 num = i128{x} * ten(c.to > c.dec ? c.to - c.dec : 0);
  i128 den = ten(c.dec > c.to ? c.dec - c.to : 0);
  if (c.bin >= 0)
    den <<= c.bin;
  else
    num <<= -c.bin;
  const i128 magnitude = floor_div(2 * (num < 0 ? -num : num) + den, 2 * den);
  return num < 0 ? -magnitude : magnitude;
}

} // namespace

BOOST_AUTO_TEST_CASE(conversions_round_half_away_from_zero_exactly) {
  const std::vector<conversion_case> cases = {
    {2, 0, 2, -1'000'000, 1'000'000},          // same scale: identity
    {0, 0, 3, -5'000, 5'000},                  // integer to decimal(3)
    {2, 0, 1, -1'000'000, 1'000'000},          // one digit dropped
    {4, 0, 0, -99'999'999, 99'999'999},        // four digits dropped
    {2, 24, 1, -(std::int64_t{1} << 44), std::int64_t{1} << 44},  // fixed-point mean
    {0, 24, 4, -(std::int64_t{1} << 30), std::int64_t{1} << 30},  // correlation
    {4, 24, 2, 0, std::int64_t{1} << 50},      // variance of decimal(2)
    {-1, 24, 4, -(std::int64_t{1} << 34), std::int64_t{1} << 34},  // slope with scales
    {1, -3, 0, -100'000, 100'000},             // negative binary scale
    {6, 0, 0, -(std::int64_t{1} << 36), std::int64_t{1} << 36},  // wide range
    {4, 0, 1, -(std::int64_t{1} << 45), std::int64_t{1} << 45},  // wider still
    {2, 24, 0, -(std::int64_t{1} << 60), std::int64_t{1} << 60},  // fixed point near the limit
    {12, 0, 0, -(std::int64_t{1} << 58), std::int64_t{1} << 58},  // several passes
    {1, 0, 0, 0, (std::int64_t{1} << 61) - 100},  // one digit, near the limit
  };
  std::mt19937_64 rng(7);
  reference_backend exact;
  joconde::test::noisy_backend noisy{11};
  for (const auto& c : cases)
   for (backend* bp : {static_cast<backend*>(&exact), static_cast<backend*>(&noisy)}) {
    auto& b = *bp;
    expr e;
    e.type.kind = value_kind::number;
    e.type.dec = c.dec;
    e.type.bin = c.bin;
    e.range = interval{c.lo, c.hi, true};
    auto conv = decimal_conversion(e, e.type, e.range, c.to, "");
    std::vector<word> xs;
    for (std::int64_t x : {c.lo, c.hi, std::int64_t{0}, std::int64_t{-1}, std::int64_t{1}})
      if (x >= c.lo && x <= c.hi)
        xs.push_back(static_cast<word>(x));
    // The ties, and their neighbours: half a unit of the output either way of 0 and of 3 units.
    if (c.bin >= 0 && c.dec > c.to) {
      const auto half = static_cast<std::int64_t>((ten(c.dec - c.to) << c.bin) / 2);
      for (std::int64_t k : {0, 3, -3})
        for (std::int64_t d : {-1, 0, 1}) {
          const auto unit = static_cast<std::int64_t>(ten(c.dec - c.to) << c.bin);
          const auto x = k * unit + half + d;
          const auto y = k * unit - half + d;
          for (auto v : {x, y})
            if (v >= c.lo && v <= c.hi)
              xs.push_back(static_cast<word>(v));
        }
    }
    auto width = static_cast<std::uint64_t>(c.hi - c.lo) + 1;
    for (int i = 0; i < 3000; ++i)
      xs.push_back(static_cast<word>(c.lo + static_cast<std::int64_t>(rng() % width)));
    auto out = convert(b, b.constant(xs), conv);
    BOOST_TEST_CONTEXT("dec " << c.dec << " bin " << c.bin << " to " << c.to << (bp == &noisy ? " noisy" : "")) {
      std::size_t wrong = 0;
      for (std::size_t i = 0; i < xs.size(); ++i) {
        auto want = expected(c, static_cast<std::int64_t>(xs[i]));
        auto got = i128{static_cast<std::int64_t>(out.a[i])};
        if (got != want && wrong++ == 0)
          BOOST_TEST_MESSAGE("x = " << static_cast<std::int64_t>(xs[i]) << ": got "
                                    << static_cast<std::int64_t>(got) << ", want "
                                    << static_cast<std::int64_t>(want));
      }
      BOOST_TEST(wrong == 0u);
    }
  }
}

BOOST_AUTO_TEST_CASE(conversions_that_cannot_fit_are_refused) {
  expr e;
  e.type.kind = value_kind::number;
  e.type.dec = 0;
  e.range = interval{0, std::int64_t{1} << 60, true};
  BOOST_CHECK_THROW(decimal_conversion(e, e.type, e.range, 2, ""), sql_error);
  e.type.dec = 19;
  e.range = interval{-1, 1, true};
  BOOST_CHECK_THROW(decimal_conversion(e, e.type, e.range, 0, ""), sql_error);
  e.type.dec = 0;
  e.range.bounded = false;
  BOOST_CHECK_THROW(decimal_conversion(e, e.type, e.range, 2, ""), sql_error);
  BOOST_CHECK_NO_THROW(decimal_conversion(e, e.type, e.range, 0, ""));
}
