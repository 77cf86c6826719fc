#pragma once

// Where a compile error must point: "line:column: " of a piece of the source text, for the
// compiler tests that check the position of each error.

#include "joconde/messages/errc.hpp"

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

/// That compile result `r` of `source` is a compile_error at `where` whose message has `phrase`.
template <class Result>
void expect_refused(const Result& r, const std::string& source, const std::string& where, const std::string& phrase) {
  BOOST_TEST_CONTEXT(source) {
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST((r.err().code == errc::compile_error));
    BOOST_TEST(r.err().message.rfind(place(source, where), 0) == 0,
               r.err().message << "; expected at " << place(source, where));
    BOOST_TEST(r.err().message.find(phrase) != std::string::npos, r.err().message << "; expected " << phrase);
  }
}

} // namespace joconde::test
