// ORDER BY ... LIMIT k in the executor, on the reference backend and on rss3: rows and groups, ASC
// and DESC, ties (by row order, by group order), negative values, k beyond the rows, rows WHERE
// drops, groups without rows and groups a HAVING rule withholds, two keys, a select expression, a
// MEDIAN, and keys too wide for one word. Both engines must write exactly the expected rows, in
// order, with the rows that are not shown all zeros.

#include "joconde/engines/sql/ast.hpp"
#include "joconde/engines/sql/compiler.hpp"

#include "schema_builders.hpp"
#include "sql_run_both.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

using namespace joconde;
using namespace joconde::engines;
using namespace joconde::test;

namespace {

using i64 = std::int64_t;
using rows_of = std::vector<std::vector<i64>>;  // each row: its written columns, then its valid flag

const std::vector<std::string> groups{"a", "b", "c", "d"};

// t: id 1..8, x with ties (7 three times) and negatives, g over a, b, c (d has no row), w, and y
// declared wide enough that the sort key takes two words.
const clear_table t_data{{1, 2, 3, 4, 5, 6, 7, 8},
                         {5, -3, 7, 7, -10, 0, 7, 2},
                         {0, 1, 0, 2, 1, 0, 2, 1},
                         {1, 2, 3, 4, 5, 6, 7, 8},
                         {i64{1} << 55, -(i64{1} << 55), 3, -4, 0, i64{1} << 54, 3, -(i64{1} << 50)}};

std::vector<table_schema> inputs() {
  return {table("t",
                {integer("id", 1, 100), integer("x", -50, 50), category("g", groups), integer("w", 0, 10),
                 integer("y", -(i64{1} << 56), i64{1} << 56)},
                100)};
}

/// An output `top` of at most `rows` rows: integer columns, a category where the name is "g" and
/// decimal(1) where it is "m".
table_schema top(const std::vector<std::string>& columns, std::uint64_t rows = 100) {
  std::vector<column_schema> cols;
  for (const auto& c : columns)
    cols.push_back(c == "g" ? category(c, groups) : c == "m" ? decimal(c, 1, 0, 0) : integer(c, 0, 0));
  return table("top", std::move(cols), rows);
}

sql::program compiled(const std::string& source, table_schema out) {
  auto r = sql::compile(source, inputs(), {std::move(out)});
  BOOST_TEST_REQUIRE(r.ok(), (r ? std::string{} : r.err().message));
  return r.value();
}

/// Runs `source` writing `out` on both engines; each must write exactly `expected`, in order.
void check_top(const std::string& source, table_schema out, const rows_of& expected) {
  auto p = compiled(source, std::move(out));
  BOOST_TEST((std::find(p.features().begin(), p.features().end(), "order_by_limit") != p.features().end()));
  for (const auto& [engine, outputs] : run_both(p, {{"t", t_data}}))
    BOOST_TEST_CONTEXT(engine << ": " << source) {
      const auto& o = outputs.at("top");
      rows_of got(o.valid.size());
      for (std::size_t r = 0; r < o.valid.size(); ++r) {
        for (const auto& c : o.columns)
          got[r].push_back(static_cast<i64>(c[r]));
        got[r].push_back(static_cast<i64>(o.valid[r]));
      }
      BOOST_TEST(got == expected, "got " << rows_text(got) << "\nexpected " << rows_text(expected));
    }
}

} // namespace

BOOST_AUTO_TEST_CASE(the_largest_rows_come_first_and_ties_in_row_order) {
  check_top("INSERT INTO top SELECT id, x FROM t ORDER BY x DESC LIMIT 3;", top({"id", "x"}, 3),
            {{3, 7, 1}, {4, 7, 1}, {7, 7, 1}});
}

BOOST_AUTO_TEST_CASE(the_smallest_rows_come_first_with_negative_values_and_asc_the_default) {
  check_top("INSERT INTO top SELECT id, x FROM t ORDER BY x LIMIT 3;", top({"id", "x"}, 3),
            {{5, -10, 1}, {2, -3, 1}, {6, 0, 1}});
  check_top("INSERT INTO top SELECT id, x FROM t ORDER BY x ASC LIMIT 1;", top({"id", "x"}, 1), {{5, -10, 1}});
}

BOOST_AUTO_TEST_CASE(a_limit_beyond_the_rows_keeps_them_all_in_order) {
  check_top("INSERT INTO top SELECT id, x FROM t ORDER BY x DESC LIMIT 20;", top({"id", "x"}),
            {{3, 7, 1}, {4, 7, 1}, {7, 7, 1}, {1, 5, 1}, {8, 2, 1}, {6, 0, 1}, {2, -3, 1}, {5, -10, 1}});
}

BOOST_AUTO_TEST_CASE(rows_where_drops_come_last_as_zeros) {
  // Three rows pass (ids 6, 7, 8): the two other kept rows are dropped ones, all zeros and invalid.
  check_top("INSERT INTO top SELECT id, x FROM t WHERE w > 5 ORDER BY x DESC LIMIT 5;", top({"id", "x"}, 5),
            {{7, 7, 1}, {8, 2, 1}, {6, 0, 1}, {0, 0, 0}, {0, 0, 0}});
}

BOOST_AUTO_TEST_CASE(two_keys_and_a_select_expression) {
  // g descending (c, then b), then x ascending.
  check_top("INSERT INTO top SELECT id, g, x FROM t ORDER BY g DESC, x LIMIT 4;", top({"id", "g", "x"}, 4),
            {{4, 2, 7, 1}, {7, 2, 7, 1}, {5, 1, -10, 1}, {2, 1, -3, 1}});
  check_top("INSERT INTO top SELECT id, x * w AS p FROM t ORDER BY x * w DESC LIMIT 2;", top({"id", "p"}, 2),
            {{7, 49, 1}, {4, 28, 1}});
}

BOOST_AUTO_TEST_CASE(keys_too_wide_for_one_word_sort_on_two) {
  check_top("INSERT INTO top SELECT id, y FROM t ORDER BY y DESC LIMIT 4;", top({"id", "y"}, 4),
            {{1, i64{1} << 55, 1}, {6, i64{1} << 54, 1}, {3, 3, 1}, {7, 3, 1}});
}

BOOST_AUTO_TEST_CASE(groups_are_ordered_by_an_aggregate_and_empty_groups_come_last) {
  // Sums: a 12, b -11, c 14, d no row.
  check_top("INSERT INTO top SELECT g, SUM(x) AS s FROM t GROUP BY g ORDER BY SUM(x) DESC LIMIT 4;", top({"g", "s"}),
            {{2, 14, 1}, {0, 12, 1}, {1, -11, 1}, {0, 0, 0}});
  // Counts: a 3, b 3, c 2: the tie in group order.
  check_top("INSERT INTO top SELECT g, COUNT(*) AS n FROM t GROUP BY g ORDER BY n DESC LIMIT 2;", top({"g", "n"}),
            {{0, 3, 1}, {1, 3, 1}});
}

BOOST_AUTO_TEST_CASE(withheld_groups_come_after_the_published_ones) {
  // c has 2 rows: withheld (its values written as zeros, its published flag 0), after a and b
  // although its sum, 14, is the largest; d has none and comes last.
  check_top("INSERT INTO top SELECT g, COUNT(*) AS n, SUM(x) AS s FROM t GROUP BY g HAVING COUNT(*) >= 3\n"
            "ORDER BY s DESC LIMIT 4;",
            top({"g", "n", "s"}), {{0, 3, 12, 1, 1}, {1, 3, -11, 1, 1}, {2, 0, 0, 0, 1}, {0, 0, 0, 0, 0}});
}

BOOST_AUTO_TEST_CASE(groups_are_ordered_by_their_median) {
  // Medians: a 5, b -3, c 7 (tenths in the output).
  check_top("INSERT INTO top SELECT g, MEDIAN(x) AS m FROM t GROUP BY g ORDER BY m DESC LIMIT 2;", top({"g", "m"}, 2),
            {{2, 70, 1}, {0, 50, 1}});
}
