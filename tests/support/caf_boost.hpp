#pragma once

// Runs CAF's deterministic test DSL under Boost.Test (notes/stack.md "Tests"): CAF's check macros
// become Boost's, then dsl.hpp brings test_coordinator_fixture, expect(), allow() and inject().
// Include once per test program, after BOOST_TEST_MODULE and <boost/test/unit_test.hpp>.

#define CAF_TEST_NO_MAIN
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#undef CAF_CHECK
#undef CAF_CHECK_EQUAL
#undef CAF_CHECK_NOT_EQUAL
#undef CAF_REQUIRE
#undef CAF_REQUIRE_EQUAL
#undef CAF_FAIL
#undef CAF_MESSAGE
#undef CAF_ERROR

#define CAF_CHECK(...) BOOST_CHECK(__VA_ARGS__)
#define CAF_CHECK_EQUAL(x, y) BOOST_CHECK((x) == (y))
#define CAF_CHECK_NOT_EQUAL(x, y) BOOST_CHECK((x) != (y))
#define CAF_REQUIRE(...) BOOST_REQUIRE(__VA_ARGS__)
#define CAF_REQUIRE_EQUAL(x, y) BOOST_REQUIRE((x) == (y))
#define CAF_FAIL(msg) BOOST_FAIL(msg)
#define CAF_MESSAGE(msg) BOOST_TEST_MESSAGE(msg)
#define CAF_ERROR(msg) BOOST_ERROR(msg)
#define FAIL(msg) BOOST_FAIL(msg)

#include <caf/test/dsl.hpp>
