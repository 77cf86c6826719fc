// Sums and means beyond the 64-bit ring: exact values of up to 93 bits as two limbs (limb_pair),
// from exact block sums split into limbs, and an exact normalisation and long division per group
// (kernels.hpp documents the conditions; check_wide_range verifies them); the result's high limb
// is split once more into the three words of a wide_secret.
//
// Rows of values below 2^bits in magnitude are summed in blocks of 2^(60 - bits) rows: a block sum
// stays below 2^60, so it is exact in the ring however large the total. Each block sum s becomes
// q = trunc(s, 32) and r = s - q 2^32: trunc is floor(s / 2^32) or one more, so r lies in
// [-2^32, 2^32) and q 2^32 + r = s exactly whichever it is. The limbs of the blocks then add up
// without overflow, and only the per-group totals are made canonical (lo in [0, 2^32)) and
// divided, with comparisons correcting approximate steps. Over one-hot masks the block sums are
// one dot of G n / B words; over sorted rows they are local, and the limbs' prefix sums (whole
// blocks, plus the running sum inside the block) go through sorted_differences.

#include "wide.hpp"

#include <algorithm>

namespace joconde::engines::kernels {

using namespace detail;

namespace {

constexpr unsigned limb = wide_limb_bits;
constexpr word radix = word{1} << limb;

} // namespace

namespace detail {

std::pair<secret, secret> exact_split(backend& b, const secret& x, unsigned f) {
  const auto n = x.size();
  auto q = b.trunc(x, f);
  auto r = b.sub(x, b.mul_public(q, word{1} << f));
  std::vector<word> bounds(2 * n, 0);
  std::fill(bounds.begin() + static_cast<std::ptrdiff_t>(n), bounds.end(), word{1} << f);
  auto below = b.lt(concat({&r, &r}), constants(b, bounds));
  // delta = [r >= 2^f] - [r < 0]: q one too few, or one too many.
  auto delta = b.sub(one_minus(b, slice(below, n, n)), slice(below, 0, n));
  return {b.add(q, delta), b.sub(r, b.mul_public(delta, word{1} << f))};
}

limb_pair canonical(backend& b, const secret& hi, const secret& lo) {
  auto [carry, rest] = exact_split(b, lo, limb);
  return {b.add(hi, carry), std::move(rest)};
}

wide_secret three_words(backend& b, const limb_pair& v) {
  auto [hi, mid] = exact_split(b, v.hi, limb);
  return {std::move(hi), std::move(mid), v.lo};
}

wide_secret three_words(backend& b, const secret& v) {
  return three_words(b, canonical(b, b.constant(0, v.size()), v));
}

// Three approximate quotients of the remainder (div is within 2^-29 relative plus 2 units, plus
// its own rounding: the remainder shrinks to at most 2^-29 |a| + 2.5 d, then 16 + 2.51 d, then
// below 3 d in magnitude; one pass already where |a| < 2^16 d: 2^-13 d + 2.5 d), then
// floor = q + 2 - sum over t in {-2d, -d, 0, d, 2d} of [r < t], right for r in [-3d, 3d).
std::pair<secret, secret> floor_div(backend& b, const secret& a, const secret& d, int passes) {
  auto q = b.constant(0, a.size());
  auto r = a;
  for (int pass = 0; pass < passes; ++pass) {
    auto step = b.div(r, d, 0);
    q = b.add(q, step);
    r = b.sub(r, b.mul(step, d));
  }
  secret lhs;
  secret rhs;
  for (std::int64_t k = -2; k <= 2; ++k) {
    append(lhs, r);
    append(rhs, b.mul_public(d, w(k)));
  }
  auto below = b.lt(lhs, rhs);
  const auto n = a.size();
  auto up = b.constant(2, n);
  for (std::size_t k = 0; k < 5; ++k)
    up = b.sub(up, slice(below, k * n, n));
  return {b.add(q, up), b.sub(r, b.mul(up, d))};
}

limb_pair divide(backend& b, const limb_pair& v, const secret& d, secret* rest) {
  auto [q_hi, r_hi] = floor_div(b, v.hi, d);
  auto [q_lo, r_lo] = floor_div(b, b.add(b.mul_public(r_hi, radix), v.lo), d);
  if (rest != nullptr)
    *rest = std::move(r_lo);
  return {std::move(q_hi), std::move(q_lo)};
}

wide_secret rounded_quotient(backend& b, const limb_pair& v, const secret& d) {
  const auto g = d.size();
  // Canonical: negative exactly where hi is.
  auto signs = tile(sign_factor(b, v.hi), 2);
  auto both = b.mul(concat({&v.hi, &v.lo}), signs);
  auto magnitude = canonical(b, slice(both, 0, g), slice(both, g, g));
  secret r;
  auto q = divide(b, magnitude, d, &r);
  // Half or more left over: up by one; lo may reach 2^32, which the canonical form below carries.
  auto lo = b.add(q.lo, one_minus(b, b.lt(b.mul_public(r, 2), d)));
  auto back = b.mul(concat({&q.hi, &lo}), signs);
  return three_words(b, canonical(b, slice(back, 0, g), slice(back, g, g)));
}

} // namespace detail

namespace {

/// Rows per block for values below 2^bits: block sums stay below 2^60.
std::size_t block_rows(unsigned bits) {
  return bits >= 60 ? 1 : std::size_t{1} << (60 - bits);
}

/// The limbs q, r of exact values |s| < 2^62: q 2^32 + r = s, r in [-2^32, 2^32).
std::pair<secret, secret> limbs(backend& b, const secret& s) {
  auto q = b.trunc(s, limb);
  auto r = b.sub(s, b.mul_public(q, radix));
  return {std::move(q), std::move(r)};
}

/// Sums of consecutive runs of `block` elements of `x` (the last one shorter), local.
secret block_sums(const secret& x, std::size_t block) {
  const auto n = x.size();
  const auto blocks = (n + block - 1) / block;
  secret out{std::vector<word>(blocks, 0), std::vector<word>(x.b.empty() ? 0 : blocks, 0)};
  for (std::size_t i = 0; i < n; ++i)
    out.a[i / block] += x.a[i];
  for (std::size_t i = 0; i < x.b.size(); ++i)
    out.b[i / block] += x.b[i];
  return out;
}

/// Per group, the limb sums (hi, lo) of the rows of x over one-hot masks: each group's block sums
/// in one dot (one round per group, G n / B words in all), split into limbs, added per group.
limb_pair masked_limb_sums(backend& b, const secret& masks, std::size_t groups, const secret& x,
                             std::size_t block) {
  const auto n = x.size();
  const auto blocks = (n + block - 1) / block;
  if (blocks == 0)
    return {b.constant(0, groups), b.constant(0, groups)};
  secret sums;
  if (groups == 1)
    sums = b.dot(masks, x, block);  // in place: no copy of the masks
  for (std::size_t g = 0; g < groups && groups > 1; ++g)
    append(sums, b.dot(slice(masks, g * n, n), x, block));
  auto [q, r] = limbs(b, sums);
  return {block_sums(q, blocks), block_sums(r, blocks)};
}

/// Per element i of `rows`: the sum of per_block over the blocks before i's (local).
secret blocks_before(const secret& per_block, std::size_t rows, std::size_t block) {
  secret out{std::vector<word>(rows), std::vector<word>(per_block.b.empty() ? 0 : rows)};
  for (auto [src, dst] : {std::pair{&per_block.a, &out.a}, std::pair{&per_block.b, &out.b}}) {
    word before = 0;
    for (std::size_t i = 0; i < dst->size(); ++i) {
      if (i % block == 0 && i > 0)
        before += (*src)[i / block - 1];
      (*dst)[i] = before;
    }
  }
  return out;
}

/// Replaces x by its running sums inside each block of `block` elements (local).
void running_in_blocks(secret& x, std::size_t block) {
  for (auto* v : {&x.a, &x.b})
    for (std::size_t i = 1; i < v->size(); ++i)
      if (i % block != 0)
        (*v)[i] += (*v)[i - 1];
}

/// Per group, the limb sums (hi, lo) of the rows of x over sorted rows: v = x times the filter (one
/// mul), its block sums S_j split into limbs (q_j, r_j), and per row i the prefix sum up to it as
/// limbs: hi = sum of q_j, lo = sum of r_j over the blocks before i's, plus v's running sum inside
/// i's block (below 2^60 + blocks 2^32). Their differences at the anchors are the groups' limb sums.
limb_pair sorted_limb_sums(backend& b, const sorted_groups& s, const secret& x, std::size_t block) {
  const auto rows = s.rows();
  auto v = b.mul(x, s.filter);
  auto [q, r] = limbs(b, block_sums(v, block));
  auto hi = blocks_before(q, rows, block);
  running_in_blocks(v, block);
  auto lo = b.add(blocks_before(r, rows, block), v);
  auto d = sorted_differences(b, s, {std::move(hi), std::move(lo)});
  return {std::move(d[0]), std::move(d[1])};
}

} // namespace

namespace detail {

limb_pair scaled_sum(backend& b, const grouping& by, const secret& x, unsigned bits, word mul) {
  const auto block = block_rows(bits);
  auto sums = by.sorted() != nullptr ? sorted_limb_sums(b, *by.sorted(), x, block)
                                     : masked_limb_sums(b, *by.masks(), by.groups(), x, block);
  auto v = canonical(b, sums.hi, sums.lo);
  if (mul == 1)
    return v;
  return canonical(b, b.mul_public(v.hi, mul), b.mul_public(v.lo, mul));
}

} // namespace detail

wide_secret wide_sum(backend& b, const grouping& by, const secret& x, unsigned bits, word mul, word div) {
  expect_size("wide_sum", "x", x, rows_of("wide_sum", by));
  auto v = scaled_sum(b, by, x, bits, mul);
  if (div == 1)
    return three_words(b, v);
  return rounded_quotient(b, v, b.constant(div, by.groups()));
}

wide_secret wide_avg(backend& b, const grouping& by, const secret& x, unsigned bits, word mul, word div) {
  const auto groups = by.groups();
  expect_size("wide_avg", "x", x, rows_of("wide_avg", by));
  auto n = count(b, by);
  auto empty = b.eq(n, b.constant(0, groups));
  // An empty group sums to 0: any divisor >= 1 gives its 0.
  auto d = b.mul_public(b.add(n, empty), div);
  return rounded_quotient(b, scaled_sum(b, by, x, bits, mul), d);
}

} // namespace joconde::engines::kernels
