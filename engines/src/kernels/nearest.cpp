// The exact rounding of statistics that are roots or ratios of exact integers: the standard
// deviation, the correlation and REGR_R2 (wide_moments.cpp), the regression's slope and intercept
// (wide_regression.cpp) are, per group, the largest c >= 0 with (2 c - 1)^power p <= q for
// integers p > 0 and q formed exactly in limbs. The protocols'
// approximation of the statistic gives c within a public window; a radix-16 search then finds it
// exactly.
//
// The search keeps the lowest candidate, base (where the inequality holds or base = 0), with
// B = 2 base - 1, Z = q - B^power p and, for power 2, Y = B p, all exact. A candidate base + t
// (t = k 16^s) has (B + 2 t)^power p = B^power p + 4 t B p + 4 t^2 p (power 2) or B p + 2 t p
// (power 1), so its Z_t = Z - 4 t Y - 4 t^2 p (or Z - 2 t p) and Y_t = Y + 2 t p come from Z, Y
// and p times public numbers, locally. Per step the candidates' Z_t (15, or fewer on the first step
// of a narrow window) are made canonical at once, their signs compared with 0 in one lt, and the
// last candidate that holds is taken by one multiplication with its one-hot choice, which also
// forms t p for Y (made canonical alone); base grows by its t.

#include "bigint.hpp"

#include <algorithm>

namespace joconde::engines::kernels::detail {

namespace {

constexpr unsigned radix_bits = 4;
constexpr std::size_t candidates = (std::size_t{1} << radix_bits) - 1;

/// out += a v 2^e for a public a (|a| 2^15 < 2^47) and e, loosely (limbs beyond out's dropped:
/// the arithmetic is modulo 2^(16 size), exact for the values it is used on).
void add_scaled(backend& b, bigint& out, const bigint& v, std::int64_t a, unsigned e) {
  const auto at = e / half;
  const auto factor = w(a) << (e % half);
  for (std::size_t i = 0; i + at < out.limbs.size() && i < v.limbs.size(); ++i)
    out.limbs[i + at] = b.add(out.limbs[i + at], b.mul_public(v.limbs[i], factor));
}

/// The numbers of `parts` (all of one size and G) side by side, limb by limb.
bigint side_by_side(const std::vector<bigint>& parts) {
  bigint all;
  for (std::size_t i = 0; i < parts[0].limbs.size(); ++i) {
    secret limb;
    for (const auto& v : parts)
      append(limb, v.limbs[i]);
    all.limbs.push_back(std::move(limb));
  }
  return all;
}

} // namespace

unsigned search_steps(u128 window) {
  unsigned steps = 1;
  while (radix_bits * steps < 124 && (u128{1} << (radix_bits * steps)) <= 2 * window)
    ++steps;
  return steps;
}

bigint largest_below(backend& b, const bigint& p_in, const bigint& q, unsigned power, const bigint& near,
                     u128 window) {
  const auto g = near.limbs[0].size();
  const auto size = q.limbs.size();
  const auto p = resized(b, p_in, size);
  // The answer lies in [base, base + 16^steps): base = max(0, near - window).
  auto base = resized(b, near, size);
  {
    auto rest = window;
    for (std::size_t i = 0; i < size && rest != 0; ++i, rest >>= half)
      base.limbs[i] = b.add_public(base.limbs[i], w(0) - static_cast<word>(rest & (half_radix - 1)));
  }
  normalise(b, base);
  base = scaled(b, base, one_minus(b, negative(b, base)));
  const auto steps = search_steps(window);
  // B = 2 base - 1 (loose: its limbs below 2^17).
  auto big_b = base;
  for (auto& l : big_b.limbs)
    l = b.mul_public(l, 2);
  big_b.limbs[0] = b.add_public(big_b.limbs[0], w(-1));
  // Z = q - B^power p and Y = B p.
  auto y = product(b, big_b, p, size);
  normalise(b, y);
  bigint z = power == 2 ? product(b, big_b, y, size) : y;
  for (std::size_t i = 0; i < size; ++i)
    z.limbs[i] = b.sub(q.limbs[i], z.limbs[i]);
  normalise(b, z);
  for (unsigned s = steps; s-- > 0;) {
    const unsigned e = radix_bits * s;
    // Z_t for t = k 2^e, k = 1..top (the first step needs no digit beyond 2 window / 16^s).
    const auto top = static_cast<std::size_t>(std::min<u128>(candidates, std::max<u128>(1, (2 * window) >> e)));
    std::vector<bigint> parts;
    for (std::size_t k = 1; k <= top; ++k) {
      auto zk = z;
      const auto kk = static_cast<std::int64_t>(k);
      if (power == 2) {
        add_scaled(b, zk, y, -4 * kk, e);
        add_scaled(b, zk, p, -4 * kk * kk, 2 * e);
      } else {
        add_scaled(b, zk, p, -2 * kk, e);
      }
      parts.push_back(std::move(zk));
    }
    auto all = side_by_side(parts);
    normalise(b, all);
    auto holds = one_minus(b, b.lt(all.limbs.back(), b.constant(0, top * g)));
    auto count = b.constant(0, g);
    for (std::size_t k = 0; k < top; ++k)
      count = b.add(count, slice(holds, k * g, g));
    // One-hot choice: k = 0 (none holds) .. top; holds is 1 for k up to the last that does.
    secret choice = one_minus(b, slice(holds, 0, g));
    for (std::size_t k = 1; k <= top; ++k)
      append(choice, k < top ? b.sub(slice(holds, (k - 1) * g, g), slice(holds, k * g, g))
                             : slice(holds, (k - 1) * g, g));
    // Z' = the chosen candidate's (k = 0: Z itself) and, for power 2 with steps left, count p (for
    // Y' = Y + 2 count 2^e p), in one mul.
    const bool more = power == 2 && s > 0;
    secret picks;
    secret values;
    for (std::size_t i = 0; i < size; ++i)
      for (std::size_t k = 0; k <= top; ++k) {
        append(picks, slice(choice, k * g, g));
        append(values, k == 0 ? z.limbs[i] : slice(all.limbs[i], (k - 1) * g, g));
      }
    for (std::size_t i = 0; i < size && more; ++i) {
      append(picks, count);
      append(values, p.limbs[i]);
    }
    auto chosen = b.mul(picks, values);
    for (std::size_t i = 0; i < size; ++i) {
      const auto at = i * (top + 1) * g;
      auto v = slice(chosen, at, g);
      for (std::size_t k = 1; k <= top; ++k)
        v = b.add(v, slice(chosen, at + k * g, g));
      z.limbs[i] = std::move(v);
    }
    if (more) {
      const auto at = size * (top + 1) * g;
      for (std::size_t i = 0; i < size; ++i)
        add_at(b, y, slice(chosen, at + i * g, g), i + (e + 1) / half, (e + 1) % half);
      normalise(b, y);
    }
    add_at(b, base, count, e / half, e % half);
  }
  normalise(b, base);
  return base;
}

secret largest_below(backend& b, const bigint& p, const bigint& q, unsigned power, const secret& near, word window) {
  auto c = largest_below(b, p, q, power, limbs_of(b, near, q.limbs.size()), window);
  // Below 2^62: its low four limbs.
  auto out = c.limbs[0];
  for (std::size_t i = 1; i < 4; ++i)
    out = b.add(out, b.mul_public(c.limbs[i], word{1} << (half * i)));
  return out;
}

} // namespace joconde::engines::kernels::detail
