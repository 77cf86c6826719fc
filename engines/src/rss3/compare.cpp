// Comparisons of the rss3 party: less-than by the most significant bit of x - y (a boolean adder on
// bit-sliced XOR shares), equality by a zero test, and the conversions between sharings.

#include "joconde/engines/rss3/bits.hpp"

#include <algorithm>

namespace joconde::engines::rss3 {

namespace {

/// Bits at the top position of each block of 2^t bits: positions q with (q + 1) % 2^t == 0.
constexpr word top_of_blocks(unsigned t) {
  word m = 0;
  for (unsigned q = 0; q < 64; ++q)
    if ((q + 1) % (1u << t) == 0)
      m |= word{1} << q;
  return m;
}

/// Makes both share vectors of x hold n words, reusing their memory.
void resize(secret& x, std::size_t n) {
  if (x.a.size() != n)
    x.a = fresh_words(n);
  if (x.b.size() != n)
    x.b = fresh_words(n);
}

/// d = x - y into d's memory.
void difference(const secret& x, const secret& y, secret& d) {
  resize(d, x.size());
  for (std::size_t j = 0; j < x.size(); ++j) {
    d.a[j] = x.a[j] - y.a[j];
    d.b[j] = x.b[j] - y.b[j];
  }
}

} // namespace

std::pair<secret, secret> party_backend::split_for_boolean(const secret& d) {
  std::pair<secret, secret> r;
  split_for_boolean_into(d, r.first, r.second);
  return r;
}

void party_backend::split_for_boolean_into(const secret& d, secret& s, secret& t) {
  std::size_t n = d.size();
  // Party 0 knows d0 + d1 and shares it; d2 is known to parties 1 and 2 (component 2).
  std::vector<word> high;
  if (self_ == 0) {
    high = fresh_words(n);
    for (std::size_t j = 0; j < n; ++j)
      high[j] = d.a[j] + d.b[j];
  }
  share_from_into(0, high, n, sharing::boolean, s);
  resize(t, n);
  const auto& d2 = self_ == 1 ? d.b : d.a;
  std::fill(t.a.begin(), t.a.end(), 0);
  std::fill(t.b.begin(), t.b.end(), 0);
  if (self_ == 1)
    std::copy(d2.begin(), d2.end(), t.b.begin());
  else if (self_ == 2)
    std::copy(d2.begin(), d2.end(), t.a.begin());
}

secret party_backend::bit_to_arithmetic(const secret& x, unsigned bit) {
  std::size_t n = x.size();
  // Component j of the bit as an arithmetic sharing, known to the two parties that hold it.
  auto part = [&](unsigned j, secret& m) {
    resize(m, n);
    for (std::size_t e = 0; e < n; ++e) {
      m.a[e] = j == self_ ? (x.a[e] >> bit) & 1 : 0;
      m.b[e] = j == (self_ + 1) % 3 ? (x.b[e] >> bit) & 1 : 0;
    }
  };
  // b0 ^ b1 ^ b2 with u ^ v = u + v - 2uv.
  auto& m = work_[4];
  auto& m1 = work_[5];
  auto& u = work_[6];
  part(0, m);
  part(1, m1);
  multiply_into(m, m1, sharing::arithmetic, u);
  for (std::size_t e = 0; e < n; ++e) {
    u.a[e] = m.a[e] + m1.a[e] - 2 * u.a[e];
    u.b[e] = m.b[e] + m1.b[e] - 2 * u.b[e];
  }
  part(2, m);
  auto r = multiply(u, m, sharing::arithmetic);
  for (std::size_t e = 0; e < n; ++e) {
    r.a[e] = u.a[e] + m.a[e] - 2 * r.a[e];
    r.b[e] = u.b[e] + m.b[e] - 2 * r.b[e];
  }
  return r;
}

void party_backend::split_difference(const secret& xs, const secret& ys) {
  auto& d = work_[0];
  difference(xs, ys, d);
  split_for_boolean_into(d, work_[1], work_[2]);
}

void party_backend::lt_bits(const secret& xs, const secret& ys) {
  std::size_t n = xs.size();
  split_difference(xs, ys);
  auto& prop = work_[1];
  auto& sign = work_[2];
  constexpr word top = word{1} << 63;
  // Generate and propagate bits of s + t; position 63 is neutral (g = 0, p = 1) so that the tree
  // over all 64 positions yields the carry into bit 63. In place: s becomes p, t keeps p's bit 63.
  auto& gen = work_[3];
  multiply_into(prop, sign, sharing::boolean, gen);
  for (std::size_t j = 0; j < n; ++j) {
    word pa = prop.a[j] ^ sign.a[j];
    word pb = prop.b[j] ^ sign.b[j];
    sign.a[j] = pa & top;
    sign.b[j] = pb & top;
    prop.a[j] = pa & ~top;
    prop.b[j] = pb & ~top;
    gen.a[j] &= ~top;
    gen.b[j] &= ~top;
  }
  xor_public(*this, prop, top);
  // Level t combines blocks of 2^t bits: one AND round gives P_hi & G_lo at the blocks' top bits
  // and, below level 6, P_hi & P_lo at free positions. The update of level t is folded into the
  // operands of level t + 1 (frame by frame, in cache); z alternates between two vectors.
  secret* previous = nullptr;
  for (unsigned level = 1; level <= 6; ++level) {
    const unsigned shift = 1u << (level - 1);
    const word hi = top_of_blocks(level);
    const word lo = level < 6 ? hi >> shift : 0;
    const unsigned last_shift = shift / 2;
    const word last_hi = level > 1 ? top_of_blocks(level - 1) : 0;
    secret* z_prev = previous;
    auto ops = [&, z_prev](std::size_t off, std::size_t count, word* la, word* lb, word* ra, word* rb) {
      word* ga = gen.a.data() + off;
      word* gb = gen.b.data() + off;
      const word* pa = prop.a.data() + off;
      const word* pb = prop.b.data() + off;
      for (std::size_t j = 0; j < count; ++j) {
        word g0, g1, p0, p1;
        if (z_prev != nullptr) {
          word z0 = z_prev->a[off + j];
          word z1 = z_prev->b[off + j];
          g0 = (ga[j] ^ z0) & last_hi;
          g1 = (gb[j] ^ z1) & last_hi;
          p0 = (z0 << last_shift) & last_hi;
          p1 = (z1 << last_shift) & last_hi;
          ga[j] = g0;
          gb[j] = g1;
        } else {
          g0 = ga[j];
          g1 = gb[j];
          p0 = pa[j];
          p1 = pb[j];
        }
        la[j] = (p0 & hi) | ((p0 >> shift) & lo);
        lb[j] = (p1 & hi) | ((p1 >> shift) & lo);
        ra[j] = ((g0 << shift) & hi) | (p0 & lo);
        rb[j] = ((g1 << shift) & hi) | (p1 & lo);
      }
    };
    auto& z = work_[level % 2 == 1 ? 4 : 5];
    and_round(n, ops, z);
    previous = &z;
  }
  const auto& z = *previous;
  for (std::size_t j = 0; j < n; ++j) {
    gen.a[j] ^= z.a[j] ^ sign.a[j];
    gen.b[j] ^= z.b[j] ^ sign.b[j];
  }
}

secret party_backend::lt(const secret& x, const secret& y) {
  same_size(x, y, "lt");
  return blockwise(x, y, block_elements, [this](const secret& xs, const secret& ys) {
    lt_bits(xs, ys);
    return bit_to_arithmetic(work_[3], 63);
  });
}

std::vector<word> party_backend::reveal_lt(const secret& x, const secret& y) {
  same_size(x, y, "reveal_lt");
  // The boolean sharing of each outcome opened as reveal opens an arithmetic one (component i
  // to party i - 1), with XOR for +: bit 63 of the sum of the components.
  auto opened = blockwise(x, y, block_elements, [this](const secret& xs, const secret& ys) {
    lt_bits(xs, ys);
    const auto& gen = work_[3];
    secret bits{missing_component(gen), {}};
    for (std::size_t j = 0; j < bits.a.size(); ++j)
      bits.a[j] = ((bits.a[j] ^ gen.a[j] ^ gen.b[j]) >> 63) & 1;
    return bits;
  });
  return std::move(opened.a);
}

secret party_backend::eq(const secret& x, const secret& y) {
  same_size(x, y, "eq");
  return blockwise(x, y, block_elements, [this](const secret& xs, const secret& ys) {
    std::size_t n = xs.size();
    split_difference(xs, ys);
    auto& v = work_[1];
    auto& t = work_[2];
    // d == 0 iff s == -t; v = ~(s ^ -t) is all ones exactly then. An AND tree over its bits.
    for (std::size_t j = 0; j < n; ++j) {
      v.a[j] ^= word{0} - t.a[j];
      v.b[j] ^= word{0} - t.b[j];
    }
    xor_public(*this, v, ~word{0});
    auto& z = work_[3];
    for (unsigned shift = 1; shift < 64; shift *= 2) {
      auto ops = [&v, shift](std::size_t off, std::size_t count, word* la, word* lb, word* ra, word* rb) {
        for (std::size_t j = 0; j < count; ++j) {
          la[j] = v.a[off + j];
          lb[j] = v.b[off + j];
          ra[j] = la[j] >> shift;
          rb[j] = lb[j] >> shift;
        }
      };
      and_round(n, ops, z);
      std::swap(v, z);
    }
    return bit_to_arithmetic(v, 0);
  });
}

} // namespace joconde::engines::rss3
