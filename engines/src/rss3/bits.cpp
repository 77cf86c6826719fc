// Boolean building blocks of rss3: adder, conversions, one-hot most significant bit, secret shifts.

#include "joconde/engines/rss3/bits.hpp"

#include <array>
#include <bit>

namespace joconde::engines::rss3 {

secret concat(const std::vector<const secret*>& parts) {
  std::size_t n = 0;
  for (const auto* p : parts)
    n += p->size();
  secret r{fresh_words(n), fresh_words(n)};
  std::size_t at = 0;
  for (const auto* p : parts) {
    std::copy(p->a.begin(), p->a.end(), r.a.begin() + static_cast<std::ptrdiff_t>(at));
    std::copy(p->b.begin(), p->b.end(), r.b.begin() + static_cast<std::ptrdiff_t>(at));
    at += p->size();
  }
  return r;
}

secret slice(const secret& x, std::size_t offset, std::size_t count) {
  auto from = static_cast<std::ptrdiff_t>(offset);
  auto to = static_cast<std::ptrdiff_t>(offset + count);
  return secret{{x.a.begin() + from, x.a.begin() + to}, {x.b.begin() + from, x.b.begin() + to}};
}

secret blockwise(const secret& x, const secret& y, std::size_t block,
                 const std::function<secret(const secret&, const secret&)>& f) {
  if (x.size() <= block)
    return f(x, y);
  secret r;
  r.a.reserve(x.size());
  r.b.reserve(x.size());
  for (std::size_t off = 0; off < x.size(); off += block) {
    std::size_t count = std::min(block, x.size() - off);
    auto part = f(slice(x, off, count), slice(y, off, count));
    r.a.insert(r.a.end(), part.a.begin(), part.a.end());
    r.b.insert(r.b.end(), part.b.begin(), part.b.end());
  }
  return r;
}

void xor_public(const party_backend& be, secret& x, word c) {
  if (be.party() == 0)
    for (auto& v : x.a)
      v ^= c;
  else if (be.party() == 2)
    for (auto& v : x.b)
      v ^= c;
}

secret add_bool(party_backend& be, const secret& s, const secret& t) {
  std::size_t n = s.size();
  auto gen = be.multiply(s, t, sharing::boolean);
  auto prop = zip(s, t, [](word u, word v) { return u ^ v; });
  auto sum_base = prop;
  for (unsigned shift = 1; shift < 64; shift *= 2) {
    if (shift < 32) {
      // One AND round: G ^= P & (G << s) and P &= P << s, as one vector of 2n elements.
      auto left = concat({&prop, &prop});
      auto g_shifted = map(gen, [=](word u) { return u << shift; });
      auto p_shifted = map(prop, [=](word u) { return u << shift; });
      auto right = concat({&g_shifted, &p_shifted});
      auto z = be.multiply(left, right, sharing::boolean);
      for (std::size_t j = 0; j < n; ++j) {
        gen.a[j] ^= z.a[j];
        gen.b[j] ^= z.b[j];
        prop.a[j] = z.a[n + j];
        prop.b[j] = z.b[n + j];
      }
    } else {
      auto z = be.multiply(prop, map(gen, [=](word u) { return u << shift; }), sharing::boolean);
      gen = zip(gen, z, [](word u, word v) { return u ^ v; });
    }
  }
  return zip(sum_base, gen, [](word p, word g) { return p ^ (g << 1); });
}

secret to_boolean(party_backend& be, const secret& x) {
  auto [s, t] = be.split_for_boolean(x);
  return add_bool(be, s, t);
}

secret to_arithmetic(party_backend& be, const secret& x) {
  std::size_t n = x.size();
  unsigned self = be.party();
  // Components c1 = F(k_1) and c2 = F(k_2) come from the PRG; c0 = x - c1 - c2 is computed on
  // boolean shares and opened to its holders, parties 0 and 2.
  auto stream = be.next_stream();
  secret r{fresh_words(n), fresh_words(n)};
  std::vector<word> minus;
  if (self == 0) {
    be.successor().fill(stream, 0, r.b.data(), n);
  } else if (self == 1) {
    be.own().fill(stream, 0, r.a.data(), n);
    be.successor().fill(stream, 0, r.b.data(), n);
    minus = fresh_words(n);
    for (std::size_t j = 0; j < n; ++j)
      minus[j] = word{0} - r.a[j] - r.b[j];
  } else {
    be.own().fill(stream, 0, r.a.data(), n);
  }
  auto shared = be.share_from(1, minus, n, sharing::boolean);
  auto c0 = add_bool(be, x, shared);
  // Party 1 holds boolean components 1 and 2: it gives component 2 to party 0, 1 to party 2.
  std::vector<word> missing(self == 1 ? 0 : n);
  if (self == 1) {
    const word* to0 = c0.b.data();
    const word* to2 = c0.a.data();
    std::array<send_job, 2> sends{send_words(&be.prev(), to0, n), send_words(&be.next(), to2, n)};
    be.round(sends, {});
  } else {
    channel* from = self == 0 ? &be.next() : &be.prev();
    std::array<recv_job, 1> recvs{receive_words(from, missing.data(), n)};
    be.round({}, recvs);
    auto& target = self == 0 ? r.a : r.b;
    for (std::size_t j = 0; j < n; ++j)
      target[j] = c0.a[j] ^ c0.b[j] ^ missing[j];
  }
  return r;
}

secret msb_onehot(party_backend& be, const secret& x) {
  // all_ones_above_j = AND of ~x over bits j..63, by doubling spans; the one-hot is where it flips.
  auto acc = map(x, [](word u) { return u; });
  xor_public(be, acc, ~word{0});
  for (unsigned shift = 1; shift < 64; shift *= 2) {
    auto above = map(acc, [=](word u) { return u >> shift; });
    xor_public(be, above, ~word{0} << (64 - shift));
    acc = be.multiply(acc, above, sharing::boolean);
  }
  auto next = map(acc, [](word u) { return u >> 1; });
  xor_public(be, next, word{1} << 63);
  return zip(acc, next, [](word u, word v) { return u ^ v; });
}

std::vector<secret> amount_masks(const party_backend&, const secret& onehot, unsigned top,
                                 const std::function<unsigned(unsigned)>& amount, unsigned bits) {
  std::vector<secret> masks;
  for (unsigned k = 0; k < bits; ++k) {
    word select = 0;
    for (unsigned j = 0; j <= top; ++j)
      if ((amount(j) >> k) & 1)
        select |= word{1} << j;
    masks.push_back(map(onehot, [=](word u) {
      return word{0} - static_cast<word>(std::popcount(u & select) & 1);
    }));
  }
  return masks;
}

secret shift_left(party_backend& be, secret x, const std::vector<secret>& masks) {
  for (std::size_t k = 0; k < masks.size(); ++k) {
    unsigned s = 1u << k;
    auto diff = map(x, [=](word u) { return s < 64 ? (u << s) ^ u : u; });
    auto z = be.multiply(masks[k], diff, sharing::boolean);
    x = zip(x, z, [](word u, word v) { return u ^ v; });
  }
  return x;
}

void shift_wide(party_backend& be, secret& hi, secret& lo, const std::vector<secret>& masks, bool left) {
  std::size_t n = hi.size();
  for (std::size_t k = 0; k < masks.size(); ++k) {
    unsigned s = 1u << k;
    secret dhi{fresh_words(n), fresh_words(n)};
    secret dlo{fresh_words(n), fresh_words(n)};
    auto shifted = [&](word h, word l, word& nh, word& nl) {
      if (s >= 128) {
        nh = nl = 0;
      } else if (s >= 64) {
        nh = left ? l << (s - 64) : 0;
        nl = left ? 0 : h >> (s - 64);
      } else if (left) {
        nh = (h << s) | (l >> (64 - s));
        nl = l << s;
      } else {
        nh = h >> s;
        nl = (l >> s) | (h << (64 - s));
      }
    };
    for (std::size_t j = 0; j < n; ++j) {
      word nh = 0;
      word nl = 0;
      shifted(hi.a[j], lo.a[j], nh, nl);
      dhi.a[j] = nh ^ hi.a[j];
      dlo.a[j] = nl ^ lo.a[j];
      shifted(hi.b[j], lo.b[j], nh, nl);
      dhi.b[j] = nh ^ hi.b[j];
      dlo.b[j] = nl ^ lo.b[j];
    }
    auto mask2 = concat({&masks[k], &masks[k]});
    auto z = be.multiply(mask2, concat({&dhi, &dlo}), sharing::boolean);
    for (std::size_t j = 0; j < n; ++j) {
      hi.a[j] ^= z.a[j];
      hi.b[j] ^= z.b[j];
      lo.a[j] ^= z.a[n + j];
      lo.b[j] ^= z.b[n + j];
    }
  }
}

} // namespace joconde::engines::rss3
