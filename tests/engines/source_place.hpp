#pragma once

// Where a compile error must point: "line:column: " of a piece of the source text, for the
// compiler tests that check the position of each error.

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <string>

namespace joconde::test {

/// "line:column: " (1-based) of the first `needle` in `source`; fails the test if there is none.
inline std::string place(const std::string& source, const std::string& needle) {
  const auto at = source.find(needle);
  BOOST_TEST_REQUIRE(at != std::string::npos);
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < at; ++i) {
    if (source[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::to_string(line) + ":" + std::to_string(column) + ": ";
}

} // namespace joconde::test
