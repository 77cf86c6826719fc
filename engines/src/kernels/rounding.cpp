// Exact rounding half away from zero: the published values of the task language (kernels.hpp).
//
// Each rule takes the sign once (one lt), works on the magnitude with an exact floor (a trunc, or
// three approximate div passes, corrected by comparisons: wide.hpp), rounds up where the
// remainder is at least half the divisor, and puts the sign back with one mul.

#include "wide.hpp"

#include <cmath>

namespace joconde::engines::kernels {

using namespace detail;

secret sign_factor(backend& b, const secret& x) {
  auto negative = b.lt(x, b.constant(0, x.size()));
  return b.add_public(b.mul_public(negative, w(-2)), 1);
}

signed_parts sign_and_magnitude(backend& b, const secret& x) {
  auto sign = sign_factor(b, x);
  auto magnitude = b.mul(x, sign);
  return {std::move(sign), std::move(magnitude)};
}

secret floor_shift(backend& b, const secret& x, unsigned f) {
  return exact_split(b, x, f).first;
}

secret round_shift(backend& b, const secret& x, unsigned f) {
  auto [sign, magnitude] = sign_and_magnitude(b, x);
  auto q = floor_shift(b, b.add_public(magnitude, word{1} << (f - 1)), f);
  return b.mul(q, sign);
}

secret round_div(backend& b, const secret& a, const secret& d) {
  auto [sign, magnitude] = sign_and_magnitude(b, a);
  auto [q, r] = floor_div(b, magnitude, d);
  // Half or more left over: up by one (2r < 2d < 2^62).
  auto up = one_minus(b, b.lt(b.mul_public(r, 2), d));
  return b.mul(b.add(q, up), sign);
}

secret avg_rounded(backend& b, const grouping& by, const secret& x, word mul, word div) {
  const auto groups = by.groups();
  expect_size("avg_rounded", "x", x, rows_of("avg_rounded", by));
  auto n = count(b, by);
  auto empty = b.eq(n, b.constant(0, groups));
  auto s = sum(b, by, x);
  // An empty group sums to 0: any divisor >= 1 gives its 0.
  auto d = b.mul_public(b.add(n, empty), div);
  return round_div(b, mul == 1 ? s : b.mul_public(s, mul), d);
}

result<void> check_avg_rounded(std::uint64_t max_rows, std::int64_t lo, std::int64_t hi, word mul, word div) {
  using real = long double;
  const auto n = static_cast<real>(std::max<std::uint64_t>(max_rows, 1));
  const auto m = std::max(std::fabs(static_cast<real>(lo)), std::fabs(static_cast<real>(hi)));
  const auto limit = std::ldexp(real{1}, 30);
  if (mul == 0 || div == 0 || static_cast<real>(mul) >= limit || static_cast<real>(div) >= limit)
    return fail(errc::unsupported, "AVG: the output's scale is more than 9 decimals from its argument's");
  if (n * m * static_cast<real>(mul) >= std::ldexp(real{1}, 62))
    return fail(errc::unsupported, "AVG: the sum scaled to the output's decimals could leave the ring");
  if (n * static_cast<real>(div) >= std::ldexp(real{1}, 61))
    return fail(errc::unsupported, "AVG: the divisor (rows times the output's scale) could leave the ring");
  return ok();
}

} // namespace joconde::engines::kernels
