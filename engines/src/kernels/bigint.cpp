// Signed integers of many 16-bit limbs per group (bigint.hpp): building them loosely, making them
// canonical with exact splits, products, long division by a ring value.

#include "bigint.hpp"

namespace joconde::engines::kernels::detail {

bigint zeros(backend& b, std::size_t groups, std::size_t size) {
  bigint v;
  for (std::size_t i = 0; i < size; ++i)
    v.limbs.push_back(b.constant(0, groups));
  return v;
}

void add_at(backend& b, bigint& v, const secret& x, std::size_t at, unsigned shift) {
  if (at >= v.limbs.size())
    return;
  v.limbs[at] = b.add(v.limbs[at], shift == 0 ? x : b.mul_public(x, word{1} << shift));
}

void add_wide(backend& b, bigint& v, const limb_pair& x, std::size_t at, unsigned shift) {
  add_at(b, v, x.lo, at, shift);
  add_at(b, v, x.hi, at + 2, shift);
}

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

void normalise_all(backend& b, std::initializer_list<bigint*> numbers) {
  bigint all;
  const auto size = (*numbers.begin())->limbs.size();
  for (std::size_t i = 0; i < size; ++i) {
    secret limb;
    for (auto* v : numbers)
      append(limb, v->limbs.at(i));
    all.limbs.push_back(std::move(limb));
  }
  normalise(b, all);
  std::size_t at = 0;
  for (auto* v : numbers) {
    const auto g = v->limbs[0].size();
    for (std::size_t i = 0; i < size; ++i)
      v->limbs[i] = slice(all.limbs[i], at, g);
    at += g;
  }
}

bigint resized(backend& b, const bigint& v, std::size_t size) {
  bigint out;
  const auto g = v.limbs[0].size();
  for (std::size_t i = 0; i < size; ++i)
    out.limbs.push_back(i < v.limbs.size() ? v.limbs[i] : b.constant(0, g));
  return out;
}

bigint scaled(backend& b, const bigint& v, const secret& f) {
  const auto g = f.size();
  auto all = concat(std::span<const secret>{v.limbs});
  auto prod = b.mul(all, tile(f, v.limbs.size()));
  bigint r;
  for (std::size_t i = 0; i < v.limbs.size(); ++i)
    r.limbs.push_back(slice(prod, i * g, g));
  return r;
}

bigint product(backend& b, const bigint& x, const bigint& y, std::size_t size) {
  const auto g = x.limbs[0].size();
  secret lhs;
  secret rhs;
  std::vector<std::size_t> at;
  for (std::size_t i = 0; i < x.limbs.size(); ++i)
    for (std::size_t j = 0; i + j < size && j < y.limbs.size(); ++j) {
      append(lhs, x.limbs[i]);
      append(rhs, y.limbs[j]);
      at.push_back(i + j);
    }
  auto r = zeros(b, g, size);
  if (at.empty())
    return r;
  auto prod = b.mul(lhs, rhs);
  for (std::size_t k = 0; k < at.size(); ++k)
    add_at(b, r, slice(prod, k * g, g), at[k]);
  return r;
}

void times_public(backend& b, bigint& v, u128 c) {
  if (c == 1)
    return;
  const auto g = v.limbs[0].size();
  auto out = zeros(b, g, v.limbs.size());
  for (std::size_t j = 0; c != 0; ++j, c >>= half) {
    const auto digit = static_cast<word>(c & (half_radix - 1));
    if (digit == 0)
      continue;
    for (std::size_t i = 0; i + j < v.limbs.size(); ++i)
      out.limbs[i + j] = b.add(out.limbs[i + j], b.mul_public(v.limbs[i], digit));
  }
  v = std::move(out);
  normalise(b, v);
}

bigint long_divide(backend& b, const bigint& v, const secret& d) {
  bigint q;
  q.limbs.resize(v.limbs.size());
  secret rest = b.constant(0, d.size());
  for (std::size_t i = v.limbs.size(); i-- > 0;) {
    // rest < d and a limb below 2^16: the digit's dividend is below 2^16 d, one pass.
    auto [digit, r] = floor_div(b, b.add(b.mul_public(rest, half_radix), v.limbs[i]), d, 1);
    q.limbs[i] = std::move(digit);
    rest = std::move(r);
  }
  return q;
}

bigint limbs_of(backend& b, const secret& v, std::size_t size) {
  // Four limbs hold a ring value; above them the sign: 2^16 - 1 in every limb and -1 at the top
  // where v is negative (the fourth limb then taken modulo 2^16).
  constexpr std::size_t ring_limbs = 4;
  auto out = zeros(b, v.size(), ring_limbs);
  add_at(b, out, v, 0);
  normalise(b, out);
  if (size <= ring_limbs)
    return out;
  auto s = negative(b, out);
  out.limbs.back() = b.add(out.limbs.back(), b.mul_public(s, half_radix));
  for (std::size_t i = ring_limbs; i + 1 < size; ++i)
    out.limbs.push_back(b.mul_public(s, half_radix - 1));
  out.limbs.push_back(b.mul_public(s, w(-1)));
  return out;
}

bigint drop_limbs(backend& b, const bigint& v, std::size_t k) {
  bigint out;
  out.limbs.assign(v.limbs.begin() + static_cast<std::ptrdiff_t>(k), v.limbs.end());
  const auto g = v.limbs[0].size();
  for (std::size_t i = 0; i < k; ++i)
    out.limbs.push_back(b.constant(0, g));
  return out;
}

secret negative(backend& b, const bigint& v) {
  return b.lt(v.limbs.back(), b.constant(0, v.limbs.back().size()));
}

} // namespace joconde::engines::kernels::detail
