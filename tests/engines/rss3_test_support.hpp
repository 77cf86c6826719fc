#pragma once

// Helpers shared by the rss3 tests that run backend operations in three processes.

#include "three_parties.hpp"

#include <boost/test/unit_test.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
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

/// Party 0 secret-shares each of `columns` (all of one length; the others pass the length `n`).
inline std::vector<engines::secret> input_columns(engines::backend& be, unsigned party,
                                                  const std::vector<std::vector<engines::word>>& columns,
                                                  std::size_t n) {
  std::vector<engines::secret> shares;
  for (const auto& c : columns)
    shares.push_back(be.input(0, party == 0 ? std::span<const engines::word>{c}
                                            : std::span<const engines::word>{}, n));
  return shares;
}

/// Pointers to each of `shares`, as shuffle and sort_distinct take them.
inline std::vector<engines::secret*> pointers_to(std::vector<engines::secret>& shares) {
  std::vector<engines::secret*> pointers;
  for (auto& s : shares)
    pointers.push_back(&s);
  return pointers;
}

/// Options for a run that must fail: `io_timeout` for a silent counterpart, and time for every
/// party to notice.
inline three_options failing_run(std::chrono::milliseconds io_timeout) {
  three_options o;
  o.io_timeout = io_timeout;
  o.overall = std::chrono::milliseconds(30'000);
  return o;
}

/// Checks that every party ended with protocol_error or timeout (not a harness kill or a result).
inline void expect_every_party_fails(const std::array<party_outcome, 3>& out) {
  for (unsigned i = 0; i < 3; ++i) {
    BOOST_CHECK_MESSAGE(!out[i].ok, "party " << i << " returned a result");
    BOOST_CHECK_MESSAGE(out[i].error.find("protocol_error") != std::string::npos
                          || out[i].error.find("timeout") != std::string::npos,
                        "party " << i << ": " << out[i].error);
    BOOST_CHECK_MESSAGE(out[i].error.find("harness") == std::string::npos, out[i].error);
  }
}

} // namespace joconde::test
