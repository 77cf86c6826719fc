// VAR_SAMP and STDDEV_SAMP beyond the 64-bit ring, from exact sums of squares in many limbs.
//
// Per group: the count n, the exact sum S (scaled_sum), the integer centre c = floor(S / n) and
// sc = S - n c in [0, n). Every row x is split as x = q 2^24 + r (trunc: exact whichever way it
// rounds), and the exact sums of r^2, q r and q^2 (block sums, as for SUM) give
// sum x^2 = 2^48 sum q^2 + 2^25 sum q r + sum r^2. Then, exactly, in numbers of 16-bit limbs:
//   C = sum (x - c)^2 = sum x^2 - c S - c sc,   V = n C - sc^2 = n (n - 1) var,
// and var mul / div = V mul / (n (n - 1) div), rounded down by two long divisions. The standard
// deviation is the square root of that, taken on its top bits: the limbs are cut at a multiple of
// 16 bits chosen per group (the lowest that leaves less than 2^60), so sqrt works on at least 2^44
// and its error stays relative.

#include "wide.hpp"

#include <algorithm>

namespace joconde::engines::kernels {

using namespace detail;

namespace {

constexpr unsigned half = 16;
constexpr word half_radix = word{1} << half;

/// Limbs of the numbers below: 192 bits hold n C mul for n <= 2^24, values below 2^53 and
/// mul < 2^30, with room for the sign.
constexpr std::size_t limb_count = 12;

/// One signed integer per group in 16-bit limbs: value = sum limbs[i] 2^(16 i). Loose while
/// being built (each limb any ring value below 2^61); canonical after normalise (every limb but
/// the last in [0, 2^16), the last signed).
struct bigint {
  std::vector<secret> limbs;
};

bigint zeros(backend& b, std::size_t groups) {
  bigint v;
  for (std::size_t i = 0; i < limb_count; ++i)
    v.limbs.push_back(b.constant(0, groups));
  return v;
}

/// Adds x 2^(16 at + shift) (shift < 16) to v, loosely.
void add_at(backend& b, bigint& v, const secret& x, std::size_t at, unsigned shift = 0) {
  v.limbs[at] = b.add(v.limbs[at], shift == 0 ? x : b.mul_public(x, word{1} << shift));
}

/// Adds a wide value (hi 2^32 + lo) times 2^(16 at + shift), loosely.
void add_wide(backend& b, bigint& v, const wide_secret& x, std::size_t at, unsigned shift = 0) {
  add_at(b, v, x.lo, at, shift);
  add_at(b, v, x.hi, at + 2, shift);
}

/// The canonical form, for a value below 2^191 in magnitude: carries from the lowest limb up, one
/// exact split per limb, and the top limb reduced to its signed residue modulo 2^16 (a product
/// keeps only the low limb_count limbs of its terms, which changes the top limb by a multiple of
/// 2^16 only).
void normalise(backend& b, bigint& v) {
  for (std::size_t i = 0; i + 1 < v.limbs.size(); ++i) {
    auto [carry, rest] = exact_split(b, v.limbs[i], half);
    v.limbs[i] = std::move(rest);
    v.limbs[i + 1] = b.add(v.limbs[i + 1], carry);
  }
  const word sign = word{1} << (half - 1);
  auto [unused, top] = exact_split(b, b.add_public(v.limbs.back(), sign), half);
  v.limbs.back() = b.add_public(top, w(0) - sign);
}

/// v times the per-group secret f, |f| < 2^44, v canonical: one mul; loose.
bigint scaled(backend& b, const bigint& v, const secret& f) {
  const auto g = f.size();
  auto all = concat(std::span<const secret>{v.limbs});
  auto prod = b.mul(all, tile(f, v.limbs.size()));
  bigint r;
  for (std::size_t i = 0; i < v.limbs.size(); ++i)
    r.limbs.push_back(slice(prod, i * g, g));
  return r;
}

/// The product of two canonical numbers, the low limb_count limbs of it: one mul; loose.
bigint product(backend& b, const bigint& x, const bigint& y) {
  const auto g = x.limbs[0].size();
  secret lhs;
  secret rhs;
  std::vector<std::size_t> at;
  for (std::size_t i = 0; i < x.limbs.size(); ++i)
    for (std::size_t j = 0; i + j < limb_count && j < y.limbs.size(); ++j) {
      append(lhs, x.limbs[i]);
      append(rhs, y.limbs[j]);
      at.push_back(i + j);
    }
  auto prod = b.mul(lhs, rhs);
  auto r = zeros(b, g);
  for (std::size_t k = 0; k < at.size(); ++k)
    add_at(b, r, slice(prod, k * g, g), at[k]);
  return r;
}

/// floor(v / d) of a canonical v for 1 <= d < 2^45, canonical: the limbs from the top, each
/// remainder (below d) carried into the next, r 2^16 + limb < 2^62.
bigint long_divide(backend& b, const bigint& v, const secret& d) {
  bigint q;
  q.limbs.resize(v.limbs.size());
  secret rest = b.constant(0, d.size());
  for (std::size_t i = v.limbs.size(); i-- > 0;) {
    auto [digit, r] = floor_div(b, b.add(b.mul_public(rest, half_radix), v.limbs[i]), d);
    q.limbs[i] = std::move(digit);
    rest = std::move(r);
  }
  return q;
}

/// What both statistics start from, per group: n (n - 1) var mul, exactly, canonical, with n
/// and (n - 1), each at least 1.
struct variance_parts {
  bigint scaled_v;  ///< V mul = n (n - 1) var mul
  secret n_safe;    ///< n, or 1 for an empty group
  secret nm1_safe;  ///< n - 1, or 1 for groups of 0 or 1 rows
};

variance_parts variance_numerator(backend& b, const grouping& by, const secret& x, unsigned bits, word mul) {
  const auto g = by.groups();
  auto n = count(b, by);
  std::vector<word> zero_one(2 * g, 0);
  std::fill(zero_one.begin() + static_cast<std::ptrdiff_t>(g), zero_one.end(), 1);
  auto zz = b.eq(concat({&n, &n}), constants(b, zero_one));
  auto z0 = slice(zz, 0, g);
  auto z1 = slice(zz, g, g);
  variance_parts p;
  p.n_safe = b.add(n, z0);
  p.nm1_safe = b.add(b.add_public(n, w(-1)), b.add(b.mul_public(z0, 2), z1));
  // The centre c = floor(S / n) and sc = S - n c, both exact in the ring.
  auto s = scaled_sum(b, by, x, bits, 1);
  auto cw = divide(b, s, p.n_safe);
  auto c = b.add(b.mul_public(cw.hi, word{1} << 32), cw.lo);
  auto s_ring = b.add(b.mul_public(s.hi, word{1} << 32), s.lo);
  auto sc = b.sub(s_ring, b.mul(n, c));
  // sum x^2 from the limbs of every row: x = q 2^24 + r.
  auto q = b.trunc(x, 24);
  auto r = b.sub(x, b.mul_public(q, word{1} << 24));
  auto prods = b.mul(concat({&r, &q, &q}), concat({&r, &r, &q}));
  q = {};
  r = {};
  const auto rows = x.size();
  // |r| <= 2^24, |q| <= 2^(bits - 24) + 1: r^2, q r and q^2 stay below 2^pbits.
  const unsigned pbits = std::max({50u, bits + 2, 2 * bits > 46 ? 2 * bits - 46 : 0u});
  auto sq_r = scaled_sum(b, by, slice(prods, 0, rows), pbits, 1);
  auto qr = scaled_sum(b, by, slice(prods, rows, rows), pbits, 1);
  auto sq_q = scaled_sum(b, by, slice(prods, 2 * rows, rows), pbits, 1);
  prods = {};
  auto sum_sq = zeros(b, g);
  add_wide(b, sum_sq, sq_r, 0);
  add_wide(b, sum_sq, qr, 1, 9);  // 2^25 = 2^(16 + 9)
  add_wide(b, sum_sq, sq_q, 3);   // 2^48
  // c S + c sc, with c and S in canonical limbs.
  auto c_big = zeros(b, g);
  add_at(b, c_big, c, 0);
  auto s_big = zeros(b, g);
  add_wide(b, s_big, s, 0);
  normalise(b, c_big);
  normalise(b, s_big);
  auto cs = product(b, c_big, s_big);
  auto csc = scaled(b, c_big, sc);
  auto centred = sum_sq;
  for (std::size_t i = 0; i < limb_count; ++i)
    centred.limbs[i] = b.sub(b.sub(centred.limbs[i], cs.limbs[i]), csc.limbs[i]);
  normalise(b, centred);
  // V = n C - sc^2, times mul.
  auto v = scaled(b, centred, n);
  v.limbs[0] = b.sub(v.limbs[0], b.mul(sc, sc));
  normalise(b, v);
  if (mul != 1) {
    for (auto& l : v.limbs)
      l = b.mul_public(l, mul);
    normalise(b, v);
  }
  p.scaled_v = std::move(v);
  return p;
}

/// floor(V mul / (n (n - 1) div)), canonical.
bigint variance_in_units(backend& b, const variance_parts& p, word div) {
  auto once = long_divide(b, p.scaled_v, p.n_safe);
  return long_divide(b, once, div == 1 ? p.nm1_safe : b.mul_public(p.nm1_safe, div));
}

/// A canonical value below 2^93 as a wide value: lo = limbs 0-1, hi = the rest.
wide_secret to_wide(backend& b, const bigint& v) {
  auto lo = b.add(v.limbs[0], b.mul_public(v.limbs[1], half_radix));
  auto hi = v.limbs[2];
  for (std::size_t i = 3; i < v.limbs.size(); ++i)
    hi = b.add(hi, b.mul_public(v.limbs[i], word{1} << (half * (i - 2))));
  return {std::move(hi), std::move(lo)};
}

/// sqrt of a canonical v >= 0 whose square root is below 2^61, within the backend's sqrt error
/// (rss3: 2^-24 relative) plus 2^-44 relative plus one unit: for j = 0..limb_count - 4,
/// v_j = floor(v / 2^(16 j)) from limbs j to j + 3; the lowest j with v_j < 2^60 (limbs above
/// j + 3 zero, limb j + 3 below 2^12) is taken, so v_j >= 2^44 where j > 0, and
/// sqrt(v) ~ sqrt(v_j) 2^(8 j), with sqrt on 60 fraction bits.
secret square_root(backend& b, const bigint& v) {
  const auto g = v.limbs[0].size();
  constexpr std::size_t cuts = limb_count - 3;
  // Suffix sums of the (non-negative) limbs: zero exactly where every limb from there up is.
  std::vector<secret> above(limb_count + 1, b.constant(0, g));
  for (std::size_t i = limb_count; i-- > 0;)
    above[i] = b.add(above[i + 1], v.limbs[i]);
  secret zl;
  secret lt_l;
  for (std::size_t j = 0; j < cuts; ++j) {
    append(zl, above[j + 4]);
    append(lt_l, v.limbs[j + 3]);
  }
  auto zero = b.eq(zl, b.constant(0, zl.size()));
  auto small = b.lt(lt_l, b.constant(word{1} << 12, lt_l.size()));
  auto fits = b.mul(zero, small);  // fits[j]: v < 2^(60 + 16 j); implies fits[j + 1]
  secret candidates;
  for (std::size_t j = 0; j < cuts; ++j) {
    auto vj = v.limbs[j];
    for (std::size_t i = j + 1; i < j + 4; ++i)
      vj = b.add(vj, b.mul_public(v.limbs[i], word{1} << (half * (i - j))));
    append(candidates, vj);
  }
  // Candidates that do not fit are zeroed before sqrt, which needs its argument below 2^62; with
  // 60 fraction bits it returns sqrt(v_j) 2^30 (below 2^60).
  constexpr unsigned root_frac = 30;
  auto roots = b.sqrt(b.mul(candidates, fits), 2 * root_frac);
  // sqrt(v_j) 2^30 -> sqrt(v) = that 2^(8 j - 30).
  secret scaled_roots;
  for (std::size_t j = 0; j < cuts; ++j) {
    auto r = slice(roots, j * g, g);
    const auto up = static_cast<int>(8 * j) - static_cast<int>(root_frac);
    append(scaled_roots, up < 0 ? b.trunc(r, static_cast<unsigned>(-up)) : b.mul_public(r, word{1} << up));
  }
  // The lowest j that fits: fits[j] - fits[j - 1].
  secret pick = slice(fits, 0, g);
  for (std::size_t j = 1; j < cuts; ++j)
    append(pick, b.sub(slice(fits, j * g, g), slice(fits, (j - 1) * g, g)));
  auto chosen = b.mul(pick, scaled_roots);
  auto out = b.constant(0, g);
  for (std::size_t j = 0; j < cuts; ++j)
    out = b.add(out, slice(chosen, j * g, g));
  return out;
}

} // namespace

wide_secret wide_var_samp(backend& b, const grouping& by, const secret& x, unsigned bits, word mul, word div) {
  expect_size("wide_var_samp", "x", x, rows_of("wide_var_samp", by));
  auto p = variance_numerator(b, by, x, bits, mul);
  return to_wide(b, variance_in_units(b, p, div));
}

wide_secret wide_stddev_samp(backend& b, const grouping& by, const secret& x, unsigned bits, word mul, word div) {
  expect_size("wide_stddev_samp", "x", x, rows_of("wide_stddev_samp", by));
  auto p = variance_numerator(b, by, x, bits, mul);
  auto sd = square_root(b, variance_in_units(b, p, div));
  return canonical(b, b.constant(0, sd.size()), sd);
}

} // namespace joconde::engines::kernels
