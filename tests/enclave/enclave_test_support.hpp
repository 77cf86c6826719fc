#pragma once

// Small helpers shared by the enclave tests.

#include "joconde/enclave/platform.hpp"

#include <boost/test/unit_test.hpp>

#include <string_view>
#include <utility>

namespace joconde::test {

/// The value of `r`, failing the test with its error if there is none.
template <class T>
T must(result<T> r) {
  if (!r)
    BOOST_FAIL(r.err().describe());
  return std::move(*r);
}

/// The bytes of `s`.
inline enclave::bytes text(std::string_view s) {
  return {s.begin(), s.end()};
}

} // namespace joconde::test
