#pragma once

// The value of a result in a Boost.Test test, failing the test with its error if there is none.
// Header-only and without CAF.

#include "joconde/messages/result.hpp"

#include <boost/test/unit_test.hpp>

#include <utility>

namespace joconde::test {

/// The value of `r`, failing the test with its error if there is none.
template <class T>
T must(result<T> r) {
  if (!r)
    BOOST_FAIL(r.err().describe());
  return std::move(*r);
}

} // namespace joconde::test
