#pragma once

// A backend that hands every operation to a reference backend it holds, for test wrappers that
// change or count only a few operations (they override those and call `inner`).

#include "joconde/engines/reference.hpp"

#include <cstddef>
#include <span>
#include <vector>

namespace joconde::test {

/// Forwards every operation to `inner`; a test derives from it and overrides what it studies.
class forwarding_backend : public engines::backend {
public:
  using secret = engines::secret;
  using word = engines::word;

  unsigned party() const noexcept override { return 0; }
  unsigned parties() const noexcept override { return 1; }
  engines::backend_stats stats() const noexcept override { return inner.stats(); }
  secret constant(std::span<const word> v) override { return inner.constant(v); }
  secret constant(word v, std::size_t n) override { return inner.constant(v, n); }
  secret input(unsigned o, std::span<const word> v, std::size_t n) override {
    return inner.input(o, v, n);
  }
  std::vector<word> reveal(const secret& x) override { return inner.reveal(x); }
  secret add(const secret& x, const secret& y) override { return inner.add(x, y); }
  secret sub(const secret& x, const secret& y) override { return inner.sub(x, y); }
  secret add_public(const secret& x, word c) override { return inner.add_public(x, c); }
  secret mul_public(const secret& x, word c) override { return inner.mul_public(x, c); }
  secret sum(const secret& x) override { return inner.sum(x); }
  secret mul(const secret& x, const secret& y) override { return inner.mul(x, y); }
  secret mul_trunc(const secret& x, const secret& y, unsigned f) override {
    return inner.mul_trunc(x, y, f);
  }
  secret trunc(const secret& x, unsigned f) override { return inner.trunc(x, f); }
  secret dot(const secret& x, const secret& y, std::size_t block) override {
    return inner.dot(x, y, block);
  }
  secret lt(const secret& x, const secret& y) override { return inner.lt(x, y); }
  secret eq(const secret& x, const secret& y) override { return inner.eq(x, y); }
  secret mux(const secret& c, const secret& x, const secret& y) override {
    return inner.mux(c, x, y);
  }
  void shuffle(std::span<secret* const> columns) override { inner.shuffle(columns); }
  secret div(const secret& a, const secret& d, unsigned f) override { return inner.div(a, d, f); }
  secret sqrt(const secret& x, unsigned f) override { return inner.sqrt(x, f); }

  engines::reference_backend inner;
};

} // namespace joconde::test
