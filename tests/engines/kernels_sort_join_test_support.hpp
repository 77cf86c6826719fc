#pragma once

// Shared by the parts of the kernels_sort_join test program: a backend that counts what the
// kernels reveal and compare, over the reference backend.

#include "forwarding_backend.hpp"

#include <cstddef>
#include <span>
#include <vector>

namespace joconde::test {

/// The reference backend, counting revealed elements, reveal calls, compared elements and shuffles.
class counting_backend final : public forwarding_backend {
public:
  std::vector<word> reveal(const secret& x) override {
    revealed += x.size();
    ++reveals;
    return inner.reveal(x);
  }
  secret lt(const secret& x, const secret& y) override {
    compared += x.size();
    return inner.lt(x, y);
  }
  void shuffle(std::span<secret* const> columns) override {
    ++shuffles;
    inner.shuffle(columns);
  }

  std::size_t revealed = 0;  ///< elements revealed
  std::size_t reveals = 0;   ///< reveal calls
  std::size_t compared = 0;  ///< elements compared by lt
  std::size_t shuffles = 0;  ///< shuffle calls
};

} // namespace joconde::test
