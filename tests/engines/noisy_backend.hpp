#pragma once

// The reference backend with rss3's tolerances injected, so that kernels are shown to tolerate
// them: trunc and mul_trunc off by -1, 0 or +1 (rss3 is only ever one too many: this is harsher);
// div off by a relative 2^-29 plus 2 units; sqrt off by a relative 2^-24 plus 2 units.

#include "forwarding_backend.hpp"

#include <cmath>
#include <cstdint>
#include <random>

namespace joconde::test {

/// The reference backend with rss3's tolerances, at random within them.
class noisy_backend final : public forwarding_backend {
public:
  explicit noisy_backend(std::uint64_t seed) : rng_(seed) {
    // nop
  }

  secret mul_trunc(const secret& x, const secret& y, unsigned frac) override {
    return off_by_one(inner.mul_trunc(x, y, frac));
  }
  secret trunc(const secret& x, unsigned bits) override {
    return off_by_one(inner.trunc(x, bits));
  }
  secret div(const secret& a, const secret& b, unsigned frac) override {
    return perturb(inner.div(a, b, frac), 29, false);
  }
  secret sqrt(const secret& x, unsigned frac) override {
    return perturb(inner.sqrt(x, frac), 24, true);
  }

private:
  secret off_by_one(secret r) {
    for (auto& v : r.a)
      v += static_cast<word>(static_cast<std::int64_t>(rng_() % 3) - 1);
    return r;
  }

  secret perturb(secret r, int rel_bits, bool keep_zero) {
    for (auto& v : r.a) {
      if (keep_zero && v == 0)
        continue;
      auto x = static_cast<long double>(static_cast<std::int64_t>(v));
      auto u = std::uniform_real_distribution<double>{-1, 1}(rng_);
      auto ulps = static_cast<std::int64_t>(rng_() % 5) - 2;
      auto y = std::llround(x + x * u * std::ldexp(1.0, -rel_bits)) + ulps;
      v = static_cast<word>(keep_zero && y < 0 ? 0 : y);
    }
    return r;
  }

  std::mt19937_64 rng_;
};

} // namespace joconde::test
