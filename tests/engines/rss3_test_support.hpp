#pragma once

// Helpers shared by the rss3 tests that run backend operations in three processes.

#include "three_parties.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <span>
#include <vector>

namespace joconde::test {

/// A ring element as a signed value.
inline std::int64_t s(engines::word w) {
  return static_cast<std::int64_t>(w);
}

/// Party 0 inputs x, party 1 inputs y; every party runs `op` and reveals; returns party 0's view
/// after checking that all three parties succeeded and agree.
template <class Op>
std::vector<engines::word> run2(const std::vector<engines::word>& x,
                                const std::vector<engines::word>& y, Op op) {
  using engines::word;
  auto out = run_three_parties([&](engines::backend& be, unsigned party) {
    auto sx = be.input(0, party == 0 ? std::span<const word>{x} : std::span<const word>{}, x.size());
    auto sy = be.input(1, party == 1 ? std::span<const word>{y} : std::span<const word>{}, y.size());
    return to_bytes(be.reveal(op(be, sx, sy)));
  });
  for (unsigned i = 0; i < 3; ++i)
    BOOST_REQUIRE_MESSAGE(out[i].ok, "party " << i << ": " << out[i].error);
  BOOST_REQUIRE(out[0].bytes == out[1].bytes);
  BOOST_REQUIRE(out[0].bytes == out[2].bytes);
  return to_words(out[0].bytes);
}

} // namespace joconde::test
