// HAVING's dominance rule DOMINANCE(x, n) <= p in the executor, alone, with COUNT(*) >= k (in either
// order), without GROUP BY and under ORDER BY ... LIMIT, on the reference backend and on rss3: the
// expected rows and published codes (1 published, 0 withheld by the count, 2 by dominance) come
// from plain loops over the clear data, with ties among the largest values, groups of fewer than n
// rows, groups of total 0 and a share exactly at p.

#include "joconde/engines/sql/compiler.hpp"

#include "schema_builders.hpp"
#include "sql_run_both.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

using namespace joconde;
using namespace joconde::engines;
using namespace joconde::test;

namespace {

using i64 = std::int64_t;
using rows_of = std::vector<std::vector<i64>>;  // each row: its written columns, then its valid flag

const std::vector<std::string> sectors{"a", "b", "c", "d", "e", "f", "g", "h"};

/// One row of `f`: its sector, two magnitudes and whether WHERE keep selects it.
struct firm {
  i64 g, v, w, keep;
};

// a: three tied 50s and a 10 (62.5 % for n = 2), and a filtered 1000; b: 90 of 100 (dominated);
// c: total 0; d: one row (fewer than n: 100 %); e: five tied 30s; f: 45 + 40 of 100, exactly 85 %;
// g: only a filtered row (empty); h: one row of 0 (fewer than n rows, but total 0: published).
const std::vector<firm> firms{
  {0, 50, 1, 1}, {1, 90, 0, 1}, {2, 0, 0, 1},  {4, 30, 9, 1}, {5, 45, 0, 1}, {0, 1000, 0, 0}, {3, 40, 7, 1},
  {1, 5, 50, 1}, {4, 30, 0, 1}, {0, 50, 2, 1}, {5, 5, 0, 1},  {2, 0, 0, 1},  {6, 7, 7, 0},    {4, 30, 1, 1},
  {1, 3, 50, 1}, {0, 10, 4, 1}, {5, 40, 3, 1}, {4, 30, 0, 1}, {2, 0, 0, 1},  {1, 2, 50, 1},   {0, 50, 3, 1},
  {5, 10, 0, 1}, {4, 30, 2, 1}, {7, 0, 0, 1}};

std::vector<table_schema> inputs() {
  return {table("f", {category("g", sectors), integer("v", 0, 1000), integer("w", 0, 1000), boolean("keep")}, 100)};
}

clear_table data() {
  clear_table cols(4);
  for (const auto& r : firms)
    for (std::size_t c = 0; const auto x : {r.g, r.v, r.w, r.keep})
      cols[c++].push_back(x);
  return cols;
}

sql::program compiled(const std::string& source, table_schema out) {
  auto r = sql::compile(source, inputs(), {std::move(out)});
  BOOST_TEST_REQUIRE(r.ok(), (r ? std::string{} : r.err().message));
  return r.value();
}

/// The rule's verdict by a plain loop: the n largest of `values` (all of them when fewer) against
/// p % of their total, exactly.
bool dominated(std::vector<i64> values, unsigned n, unsigned p) {
  std::sort(values.rbegin(), values.rend());
  i64 top = 0;
  i64 total = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    total += values[i];
    top += i < n ? values[i] : 0;
  }
  return 100 * top > static_cast<i64>(p) * total;
}

/// The rows of `SELECT g, COUNT(*) AS n, SUM(v) AS total ... GROUP BY g HAVING [COUNT(*) >= k AND]
/// DOMINANCE(x, n) <= p` over the rows `selected` chooses: per sector g, n, total, the published
/// code, the valid flag; a withheld group keeps g, an empty one is all zeros.
rows_of expected(unsigned n, unsigned p, i64 k, const std::function<i64(const firm&)>& x,
                 const std::function<bool(const firm&)>& selected) {
  rows_of out;
  for (i64 g = 0; g < static_cast<i64>(sectors.size()); ++g) {
    std::vector<i64> values;
    i64 count = 0;
    i64 total = 0;
    for (const auto& r : firms)
      if (r.g == g && selected(r)) {
        ++count;
        total += r.v;
        values.push_back(x(r));
      }
    const i64 code = count < k ? 0 : dominated(values, n, p) ? 2 : 1;
    if (count == 0)
      out.push_back({0, 0, 0, 0, 0});
    else if (code != 1)
      out.push_back({g, 0, 0, code, 1});
    else
      out.push_back({g, count, total, 1, 1});
  }
  return out;
}

table_schema by_sector() {
  return table("o", {category("g", sectors), integer("n", 0, 0), integer("total", 0, 0)}, 100);
}

/// Runs `p` on both engines; each must write `want` to `o`.
void check(const sql::program& p, const rows_of& want) {
  for (const auto& [engine, outputs] : run_both(p, {{"f", data()}}))
    BOOST_TEST_CONTEXT(engine) {
      const auto& o = outputs.at("o");
      rows_of got(o.valid.size());
      for (std::size_t r = 0; r < o.valid.size(); ++r) {
        for (const auto& c : o.columns)
          got[r].push_back(static_cast<i64>(c[r]));
        got[r].push_back(static_cast<i64>(o.valid[r]));
      }
      BOOST_TEST(got == want, "got " << rows_text(got) << "\nexpected " << rows_text(want));
    }
}

const auto value_v = [](const firm& r) { return r.v; };
const auto kept = [](const firm& r) { return r.keep == 1; };

} // namespace

BOOST_AUTO_TEST_CASE(dominance_and_count_withhold_each_with_its_code) {
  // a (62.5 %), c (total 0), e (40 %) and f (exactly 85 %) published; b (95 %) and d (one row,
  // 100 %) dominated; g empty. With COUNT(*) >= 2, d and h are withheld by the count instead (0).
  const std::string select = "INSERT INTO o SELECT g, COUNT(*) AS n, SUM(v) AS total FROM f WHERE keep GROUP BY g\n";
  auto want = expected(2, 85, 2, value_v, kept);
  BOOST_TEST(want[3][3] == 0);  // d: the count fires first
  BOOST_TEST(want[1][3] == 2);  // b: dominated
  BOOST_TEST(want[5][3] == 1);  // f: exactly 85 % is published
  BOOST_TEST(want[2][3] == 1);  // c: total 0 is published
  check(compiled(select + "HAVING COUNT(*) >= 2 AND DOMINANCE(v, 2) <= 85;", by_sector()), want);
  check(compiled(select + "HAVING DOMINANCE(v, 2) <= 85 AND COUNT(*) >= 2;", by_sector()), want);
  // Alone: d, of fewer rows than n, is dominated (its one value is its total); h, of fewer rows
  // too but total 0, is published.
  auto alone = expected(2, 85, 0, value_v, kept);
  BOOST_TEST(alone[3][3] == 2);
  BOOST_TEST(alone[7][3] == 1);
  check(compiled(select + "HAVING DOMINANCE(v, 2) <= 85;", by_sector()), alone);
  // One below: f's 85 % is dominated at 84.
  auto stricter = expected(2, 84, 0, value_v, kept);
  BOOST_TEST(stricter[5][3] == 2);
  check(compiled(select + "HAVING DOMINANCE(v, 2) <= 84;", by_sector()), stricter);
}

BOOST_AUTO_TEST_CASE(dominance_of_an_expression_over_every_row) {
  // x = v + w over every row (no WHERE: the filtered 1000 of a counts), n = 1 and n = 3.
  const auto every = [](const firm&) { return true; };
  const auto sum_vw = [](const firm& r) { return r.v + r.w; };
  const std::string select = "INSERT INTO o SELECT g, COUNT(*) AS n, SUM(v) AS total FROM f GROUP BY g\n";
  check(compiled(select + "HAVING DOMINANCE(v + w, 1) <= 50;", by_sector()), expected(1, 50, 0, sum_vw, every));
  check(compiled(select + "HAVING COUNT(*) >= 3 AND DOMINANCE(v + w, 3) <= 90;", by_sector()),
        expected(3, 90, 3, sum_vw, every));
}

BOOST_AUTO_TEST_CASE(dominance_without_group_by_is_one_row) {
  // The selected rows together: the two largest 90 + 50 of 660, 21 %; n = 10: 590 of 660, 89 %.
  std::vector<i64> values;
  for (const auto& r : firms)
    if (r.keep == 1)
      values.push_back(r.v);
  auto total = table("o", {integer("total", 0, 0)}, 1);
  for (const auto& [n, p] : std::vector<std::pair<unsigned, unsigned>>{{2, 21}, {2, 20}, {10, 89}, {10, 90}}) {
    const i64 sum = [&] { i64 s = 0; for (auto v : values) s += v; return s; }();
    const bool shown = !dominated(values, n, p);
    BOOST_TEST_CONTEXT("n = " << n << ", p = " << p) {
      check(compiled("INSERT INTO o SELECT SUM(v) AS total FROM f WHERE keep HAVING DOMINANCE(v, " + std::to_string(n)
                       + ") <= " + std::to_string(p) + ";",
                     total),
            rows_of{{shown ? sum : 0, shown ? 1 : 2, 1}});
    }
  }
}

BOOST_AUTO_TEST_CASE(dominated_groups_come_after_published_ones_under_order_by) {
  // ORDER BY total DESC LIMIT 6: the published groups by total, then the withheld ones (total
  // written 0) in group order, then the empty ones.
  auto all = expected(2, 85, 2, value_v, kept);
  rows_of want;
  for (int cls = 0; cls < 3; ++cls) {
    rows_of part;
    for (const auto& r : all)
      if ((r[4] == 0 ? 2 : r[3] == 1 ? 0 : 1) == cls)
        part.push_back(r);
    std::stable_sort(part.begin(), part.end(), [](const auto& x, const auto& y) { return x[2] > y[2]; });
    want.insert(want.end(), part.begin(), part.end());
  }
  want.resize(6);
  check(compiled("INSERT INTO o SELECT g, COUNT(*) AS n, SUM(v) AS total FROM f WHERE keep GROUP BY g\n"
                 "HAVING COUNT(*) >= 2 AND DOMINANCE(v, 2) <= 85 ORDER BY total DESC LIMIT 6;",
                 by_sector()),
        want);
}
