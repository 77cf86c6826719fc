#pragma once

// The table of the executor's grouping tests (sql_executor_test_groups.cpp, _rollup.cpp): sixteen
// persons and their jobs, compiled and run on the reference backend and on rss3, each output
// compared row by row with what the test computes itself.

#include "joconde/engines/sql/compiler.hpp"

#include "schema_builders.hpp"
#include "sql_run_both.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace joconde::test::groups {

using namespace joconde::engines;

using i64 = std::int64_t;
using rows_of = expected_rows;  // each row: its written columns, then its valid flag

/// One row of `t`.
struct person {
  i64 id, age, income, region, sex, employed, balance, k;
};

inline const std::vector<std::string> regions{"north", "south", "east", "west"};  // west has no row

// income and balance in cents; k a key (encoded), repeating.
inline const std::vector<person> people{
  {1, 17, 0, 0, 0, 0, -1234, 7},          {2, 25, 250000, 1, 1, 1, 5678, 9},
  {3, 29, 310050, 0, 0, 1, -10, 7},       {4, 30, 480075, 2, 1, 1, 0, 11},
  {5, 45, 120000, 1, 0, 0, 999, 9},       {6, 59, 999999, 0, 1, 1, -1000, 13},
  {7, 60, 50000, 2, 0, 1, 250, 7},        {8, 61, 75025, 1, 1, 0, -999, 15},
  {9, 88, 0, 0, 0, 1, 1050, 11},          {10, 30, 333333, 0, 1, 1, 1049, 17},
  {11, 100, 12345, 2, 0, 0, -1050, 19},   {12, 0, 50, 1, 0, 1, 100000, 9},
  {13, 120, 99999, 0, 1, 1, -100000, 21}, {14, 44, 44444, 2, 1, 1, 33, 7},
  {15, 29, 250000, 1, 0, 1, -1, 23},      {16, 75, 700000, 0, 1, 0, 500, 9}};

/// jobs: the person (t.id) of each job, several for some, none in t for two; and a wage.
inline const clear_table jobs{{1, 1, 2, 5, 5, 5, 99, 16, 40}, {10, 20, 30, 40, 50, 60, 70, 80, 90}};

inline std::vector<table_schema> inputs(std::uint64_t max_rows = 100) {
  return {table("t",
                {unique(integer("id", 1, 100)), integer("age", 0, 120), decimal("income", 2, 0, 100'000'000),
                 category("region", regions), category("sex", {"f", "m"}), boolean("employed"),
                 decimal("balance", 2, -1'000'000, 1'000'000), key("k")},
                max_rows),
          table("jobs", {integer("person", 1, 100), integer("wage", 0, 1000)}, 100)};
}

inline clear_table data() {
  clear_table cols(8);
  for (const auto& p : people)
    for (std::size_t c = 0; const auto v : {p.id, p.age, p.income, p.region, p.sex, p.employed, p.balance, p.k})
      cols[c++].push_back(v);
  return cols;
}

inline sql::program compiled(const std::string& source, std::vector<table_schema> outputs, std::uint64_t max_rows = 100) {
  auto r = sql::compile(source, inputs(max_rows), std::move(outputs));
  BOOST_TEST_REQUIRE(r.ok(), (r ? std::string{} : r.err().message));
  return r.value();
}

inline bool uses(const sql::program& p, const std::string& feature) {
  return std::find(p.features().begin(), p.features().end(), feature) != p.features().end();
}

/// Runs `p` on both engines over the table; each must write `expected` to every output named there.
inline void check(const sql::program& p, const std::map<std::string, rows_of>& expected) {
  expect_rows(p, {{"t", data()}, {"jobs", jobs}}, expected);
}

/// a / d (d > 0) rounded half away from zero, as published values are.
inline i64 round_div(i64 a, i64 d) {
  return round_half_away(a, d);
}

inline i64 band_of(const person& p) {
  return p.age < 30 ? 0 : p.age < 60 ? 1 : 2;  // young, middle, old
}

} // namespace joconde::test::groups
