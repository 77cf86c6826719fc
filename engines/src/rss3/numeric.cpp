// Fixed-point division and square root of the rss3 party. Both normalise their operands exactly in
// the boolean domain (most significant bit as a one-hot word, then a shift by that secret amount),
// iterate Newton's method on short mantissas whose products stay far below 2^64 (so that the
// probabilistic truncations almost never fail), and shift the result back by the secret exponent,
// again on boolean shares. See rss3.hpp for the error bounds.

#include "joconde/engines/rss3/bits.hpp"

#include <array>
#include <cmath>

namespace joconde::engines::rss3 {

namespace {

/// Elements [k n, (k + 1) n) of x.
secret part(const secret& x, std::size_t k, std::size_t n) {
  return slice(x, k * n, n);
}

/// The mantissa widths of the Newton steps of div (the last must be 32).
constexpr std::array<unsigned, 7> precisions{16, 16, 21, 26, 29, 31, 32};

/// The boolean field of x from bit `low` up (a local shift).
secret field(const secret& x, unsigned low) {
  return map(x, [=](word u) { return u >> low; });
}

} // namespace

secret party_backend::div(const secret& a, const secret& b, unsigned frac) {
  same_size(a, b, "div");
  if (frac > 61)
    refuse("div with " + std::to_string(frac) + " fraction bits; at most 61 fit the 64-bit ring");
  return blockwise(a, b, numeric_block_elements, [this, frac](const secret& as, const secret& bs) {
    auto& be = *this;
    std::size_t n = as.size();
    // |a| and b as bits, then both normalised to [2^61, 2^62) (b may be any value below 2^62: the
    // statistics divide by standard deviations and variances scaled by 2^24).
    auto bits = to_boolean(be, concat({&as, &bs}));
    auto sign_mask = map(bits, [](word u) { return word{0} - (u >> 63); });
    auto sign_bit = map(bits, [](word u) { return u >> 63; });
    auto magnitude = add_bool(be, zip(bits, sign_mask, [](word u, word m) { return u ^ m; }), sign_bit);
    auto onehot = msb_onehot(be, magnitude);
    auto onehot_a = part(onehot, 0, n);
    auto onehot_b = part(onehot, 1, n);
    auto normal =
      shift_left(be, magnitude, amount_masks(be, onehot, 61, [](unsigned j) { return 61 - j; }, 6));
    // Mantissas: 31 bits of |a|, the b-bit mantissas of b for the Newton steps, the sign of a.
    auto a31 = field(part(normal, 0, n), 31);
    auto sign = part(sign_bit, 0, n);
    std::vector<secret> fields{a31, sign};
    for (unsigned bits : precisions)
      fields.push_back(field(part(normal, 1, n), 62 - bits));
    std::vector<const secret*> all;
    for (const auto& f : fields)
      all.push_back(&f);
    auto arith = to_arithmetic(be, concat(all));
    auto ma = part(arith, 0, n);
    auto negative = part(arith, 1, n);
    // w ~ 2^(2b - 1) / d_b for the b-bit mantissa d_b in [2^(b-1), 2^b), by Newton's method in
    // error form from 2.9142 - 2d (relative error 0.086): e = 2^(2b - 1) - d_b w is exact, and
    // w += w e / 2^(2b - 1). Widening the precision a few bits at a time keeps every truncated
    // value near 2^33 or below, whatever the inputs.
    secret w;
    unsigned last = 0;
    for (std::size_t k = 0; k < precisions.size(); ++k) {
      unsigned bits = precisions[k];
      auto d = part(arith, 2 + k, n);
      if (k == 0)
        w = add_public(mul_public(d, word(-1)),
                       static_cast<word>(std::llround(2.9142 * std::ldexp(1.0, static_cast<int>(bits) - 1))));
      else if (bits > last)
        w = mul_public(w, word{1} << (bits - last));
      auto err = add_public(mul_public(mul(d, w), word(-1)), word{1} << (2 * bits - 1));
      w = add(w, mul_trunc(w, trunc(err, bits - 1), bits));
      last = bits;
    }
    // |q| = p 2^(frac + msb(a) - msb(b) - 62) with p = a31 w < 2^63 (unsigned): shift p left by
    // msb(a) in 128 bits, then right by msb(b) + 62 - frac.
    auto p = to_boolean(be, mul(ma, w));
    secret hi{fresh_words(n), fresh_words(n)};
    shift_wide(be, hi, p, amount_masks(be, onehot_a, 61, [](unsigned j) { return j; }, 6), true);
    shift_wide(be, hi, p,
               amount_masks(be, onehot_b, 61, [frac](unsigned j) { return j + 62 - frac; }, 7), false);
    auto q = to_arithmetic(be, p);
    return sub(q, mul_public(mul(negative, q), 2));
  });
}

secret party_backend::sqrt(const secret& x, unsigned frac) {
  same_size(x, x, "sqrt");
  if (frac > 62)
    refuse("sqrt with " + std::to_string(frac) + " fraction bits; at most 62 fit the 64-bit ring");
  return blockwise(x, x, numeric_block_elements, [this, frac](const secret& xs, const secret&) {
    auto& be = *this;
    std::size_t n = xs.size();
    // Normalise x to xn in [2^60, 2^62) with x 2^frac = xn 2^(frac - sigma), frac - sigma even:
    // shift left by sigma + 1 = 62 - j - odd(j), then right by 1.
    auto odd = [frac](unsigned j) { return (61 - j + 64 - frac % 2) % 2; };
    auto bits = to_boolean(be, xs);
    auto onehot = msb_onehot(be, bits);
    auto masks = amount_masks(be, onehot, 61, [odd](unsigned j) { return 62 - j - odd(j); }, 6);
    auto normal = field(shift_left(be, bits, masks), 1);
    auto z16 = field(normal, 46);
    auto z_low = map(normal, [](word u) { return (u >> 30) & 0xffff; });
    auto z32 = field(normal, 30);
    auto arith = to_arithmetic(be, concat({&z16, &z_low, &z32}));
    auto z = part(arith, 0, n);
    auto zl = part(arith, 1, n);
    auto zw = part(arith, 2, n);
    // y ~ 1/sqrt(z), z = z16 / 2^16 in [1/4, 1), from 2.118 - 1.1875 z (relative error 0.09), then
    // y = y (3 - z y^2) / 2 with 16 fraction bits; every truncated value stays below 2^36.
    auto y = add_public(mul_public(trunc(mul_public(z, 19), 4), word(-1)),
                        static_cast<word>(std::llround(2.118 * (1 << 16))));
    for (int it = 0; it < 3; ++it) {
      auto zy2 = mul_trunc(z, mul_trunc(y, y, 16), 16);
      y = mul_trunc(y, add_public(mul_public(zy2, word(-1)), word{3} << 16), 17);
    }
    // s ~ sqrt(z32 / 2^32) with 31 fraction bits: (z16 2^16 + zl) y / 2^17 in two safe pieces.
    auto s = add(trunc(mul(z, y), 1), mul_trunc(zl, y, 17));
    // Two corrections s += y (z - s^2) / 2, the residual on 22-bit then 28-bit s, so that it stays
    // below 2^37.
    for (unsigned bits : {22u, 28u}) {
      auto short_s = trunc(s, 31 - bits);
      auto residual = sub(mul_public(zw, word{1} << (2 * bits - 32)), mul(short_s, short_s));
      s = add(s, mul_trunc(y, trunc(residual, 2 * bits - 31), 17));
    }
    // sqrt(x 2^frac) = s 2^((frac - sigma) / 2): shift left by that + 31 in 128 bits, then right 31.
    auto lo = to_boolean(be, s);
    secret hi{fresh_words(n), fresh_words(n)};
    shift_wide(be, hi, lo,
               amount_masks(be, onehot, 61,
                            [frac, odd](unsigned j) { return (frac + j + odd(j) + 1) / 2; }, 6),
               true);
    auto result = zip(hi, lo, [](word h, word l) { return (l >> 31) | (h << 33); });
    return to_arithmetic(be, result);
  });
}

} // namespace joconde::engines::rss3
