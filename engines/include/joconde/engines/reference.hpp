#pragma once

// The plaintext reference engine: runs task-language programs on clear values, one party, no
// secrecy at all. It gives the expected answer in the conformance suite (DESIGN.md §9) and is never
// accepted in a real CTSC (capabilities.testing_only).

#include "joconde/engines/backend.hpp"
#include "joconde/engines/engine.hpp"

namespace joconde::engines {

/// A backend over clear values (`secret::a` holds the value, `b` stays empty). Exact everywhere:
/// mul_trunc and trunc round towards -inf, div rounds to nearest, sqrt rounds down; shuffle applies
/// a uniformly random permutation drawn from OpenSSL's RAND_bytes.
class reference_backend final : public backend {
public:
  unsigned party() const noexcept override { return 0; }
  unsigned parties() const noexcept override { return 1; }
  backend_stats stats() const noexcept override { return stats_; }

  secret constant(std::span<const word> values) override;
  secret constant(word value, std::size_t n) override;
  secret input(unsigned owner, std::span<const word> values, std::size_t n) override;
  std::vector<word> reveal(const secret& x) override;

  secret add(const secret& x, const secret& y) override;
  secret sub(const secret& x, const secret& y) override;
  secret add_public(const secret& x, word c) override;
  secret mul_public(const secret& x, word c) override;
  secret sum(const secret& x) override;

  secret mul(const secret& x, const secret& y) override;
  secret mul_trunc(const secret& x, const secret& y, unsigned frac) override;
  secret trunc(const secret& x, unsigned bits) override;
  secret dot(const secret& x, const secret& y, std::size_t block) override;
  secret lt(const secret& x, const secret& y) override;
  secret eq(const secret& x, const secret& y) override;
  secret mux(const secret& c, const secret& x, const secret& y) override;
  void shuffle(std::span<secret* const> columns) override;
  secret div(const secret& a, const secret& b, unsigned frac) override;
  secret sqrt(const secret& x, unsigned frac) override;

private:
  backend_stats stats_;
};

/// The reference engine ("reference", one party, testing only).
const engine& reference_engine();

} // namespace joconde::engines
