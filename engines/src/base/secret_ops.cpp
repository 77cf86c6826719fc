#include "joconde/engines/secret_ops.hpp"

#include <array>

namespace joconde::engines {

secret slice(const secret& x, std::size_t from, std::size_t len) {
  secret r;
  r.a.assign(x.a.begin() + static_cast<std::ptrdiff_t>(from),
             x.a.begin() + static_cast<std::ptrdiff_t>(from + len));
  if (!x.b.empty())
    r.b.assign(x.b.begin() + static_cast<std::ptrdiff_t>(from),
               x.b.begin() + static_cast<std::ptrdiff_t>(from + len));
  return r;
}

void append(secret& out, const secret& x) {
  out.a.insert(out.a.end(), x.a.begin(), x.a.end());
  out.b.insert(out.b.end(), x.b.begin(), x.b.end());
}

secret concat(std::span<const secret* const> parts) {
  std::size_t total = 0;
  bool with_b = false;
  for (const auto* p : parts) {
    total += p->size();
    with_b = with_b || !p->b.empty();
  }
  secret r;
  r.a.reserve(total);
  if (with_b)
    r.b.reserve(total);
  for (const auto* p : parts)
    append(r, *p);
  return r;
}

secret concat(std::span<const secret> parts) {
  std::vector<const secret*> pointers;
  pointers.reserve(parts.size());
  for (const auto& p : parts)
    pointers.push_back(&p);
  return concat(std::span<const secret* const>{pointers});
}

namespace {

template <class Index>
secret gather_by(const secret& x, std::span<const Index> index) {
  secret r;
  r.a.resize(index.size());
  for (std::size_t i = 0; i < index.size(); ++i)
    r.a[i] = x.a[index[i]];
  if (!x.b.empty()) {
    r.b.resize(index.size());
    for (std::size_t i = 0; i < index.size(); ++i)
      r.b[i] = x.b[index[i]];
  }
  return r;
}

} // namespace

secret gather(const secret& x, std::span<const std::size_t> index) {
  return gather_by(x, index);
}

secret gather(const secret& x, std::span<const std::uint32_t> index) {
  return gather_by(x, index);
}

void random_permutation(std::span<std::uint32_t> perm, const word_source& draw) {
  // Words are drawn a block at a time: one call of `draw` (one PRG or RAND_bytes call) per block.
  std::array<word, 1024> pool;
  std::size_t left = 0;
  auto next = [&]() {
    if (left == 0) {
      draw(pool.data(), pool.size());
      left = pool.size();
    }
    return pool[--left];
  };
  for (std::size_t i = 0; i < perm.size(); ++i)
    perm[i] = static_cast<std::uint32_t>(i);
  for (std::size_t i = perm.size(); i > 1; --i) {
    // A uniform j in [0, i): the high word of r * i, rejecting the few r whose low word falls
    // below 2^64 mod i (Lemire 2019), so that every j has exactly the same number of r.
    const word bound = i;
    u128 m = static_cast<u128>(next()) * bound;
    if (static_cast<word>(m) < bound) {
      const word threshold = (0 - bound) % bound;
      while (static_cast<word>(m) < threshold)
        m = static_cast<u128>(next()) * bound;
    }
    std::swap(perm[i - 1], perm[static_cast<std::size_t>(m >> 64)]);
  }
}

} // namespace joconde::engines
