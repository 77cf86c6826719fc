// GROUP BY ROLLUP in the executor, on the reference backend and on rss3: the cells, their margins
// and the grand total, depth first, each key a margin adds over written `_T`; under HAVING, the
// cells the rules withhold and those the secondary suppression adds (code 3). The test builds the
// expected table itself: plain loops over the rows, and the secondary suppression as
// docs/task-language.md states it, then checks that no margin has exactly one withheld cell.

#include "sql_executor_groups_support.hpp"

#include "joconde/engines/csv.hpp"
#include "joconde/engines/sql/ast.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

using namespace joconde;
using namespace joconde::engines;
using namespace joconde::test;
using namespace joconde::test::groups;

namespace {

/// One group of a ROLLUP table: its key codes (a key's size for `_T`), its rows, and its place in
/// the tree of margins.
struct cell {
  std::vector<i64> key;
  std::vector<const person*> rows;
  std::size_t parent = 0;          ///< the margin it sums into (none for the grand total)
  std::vector<std::size_t> cells;  ///< the groups that sum into it, if it is a margin
};

/// The groups of ROLLUP over keys of `sizes` (each person's codes by `code_of`), depth first.
std::vector<cell> rollup_cells(const std::vector<i64>& sizes, const std::function<i64(const person&, std::size_t)>& code_of) {
  std::vector<cell> out;
  std::vector<i64> prefix;
  std::function<std::size_t()> walk = [&]() -> std::size_t {
    std::vector<std::size_t> below;
    if (prefix.size() < sizes.size())
      for (i64 c = 0; c < sizes[prefix.size()]; ++c) {
        prefix.push_back(c);
        below.push_back(walk());
        prefix.pop_back();
      }
    cell g;
    for (std::size_t k = 0; k < sizes.size(); ++k)
      g.key.push_back(k < prefix.size() ? prefix[k] : sizes[k]);
    for (const auto& p : people)
      if (std::all_of(prefix.begin(), prefix.end(), [&, k = std::size_t{0}](i64 c) mutable { return code_of(p, k++) == c; }))
        g.rows.push_back(&p);
    g.cells = below;
    out.push_back(std::move(g));
    const auto at = out.size() - 1;
    for (auto c : below)
      out[c].parent = at;
    return at;
  };
  walk();
  return out;
}

/// The published code of every cell under HAVING COUNT(*) >= k: 0 for fewer rows, then, from the
/// grand total down, where a margin and its cells hold exactly one withheld, its published cell
/// with rows and the fewest of them (the first on a tie) is withheld too, code 3.
std::vector<i64> published_codes(const std::vector<cell>& cells, std::size_t k) {
  std::vector<i64> code(cells.size(), 1);
  for (std::size_t g = 0; g < cells.size(); ++g)
    if (cells[g].rows.size() < k)
      code[g] = 0;
  auto withheld = [&](std::size_t g) { return !cells[g].rows.empty() && code[g] != 1; };
  // The margins of the grand total first, then theirs: in decreasing depth-first place, parents
  // come before their cells.
  for (std::size_t g = cells.size(); g-- > 0;) {
    if (cells[g].cells.empty())
      continue;
    std::size_t held = withheld(g) ? 1 : 0;
    for (auto c : cells[g].cells)
      held += withheld(c) ? 1 : 0;
    if (held != 1)
      continue;
    std::size_t best = cells.size();
    for (auto c : cells[g].cells)
      if (!cells[c].rows.empty() && !withheld(c) && (best == cells.size() || cells[c].rows.size() < cells[best].rows.size()))
        best = c;
    if (best != cells.size())
      code[best] = 3;
  }
  return code;
}

i64 income_of(const cell& g) {
  i64 total = 0;
  for (const auto* p : g.rows)
    total += p->income;
  return total;
}

/// MEDIAN(age) of a cell in tenths (the mean of the middle two for an even count, exact).
i64 median_tenths(const cell& g) {
  std::vector<i64> ages;
  for (const auto* p : g.rows)
    ages.push_back(p->age);
  std::sort(ages.begin(), ages.end());
  const auto n = ages.size();
  return n % 2 == 1 ? ages[n / 2] * 10 : (ages[n / 2 - 1] + ages[n / 2]) * 5;
}

const std::vector<std::string> rolled_regions{"north", "south", "east", "west", "_T"};

i64 region_sex(const person& p, std::size_t k) {
  return k == 0 ? p.region : p.sex;
}

} // namespace

BOOST_AUTO_TEST_CASE(rollup_writes_every_cell_its_margins_and_the_grand_total) {
  auto p = compiled("INSERT INTO o SELECT region, sex, COUNT(*) AS n, SUM(income) AS total, AVG(age) AS mean_age,\n"
                    "  MEDIAN(age) AS median_age FROM t GROUP BY ROLLUP(region, sex);",
                    {table("o", {category("region", rolled_regions), category("sex", {"f", "m", "_T"}), integer("n", 0, 0),
                                 decimal("total", 2, 0, 0), decimal("mean_age", 1, 0, 0), decimal("median_age", 1, 0, 0)})});
  BOOST_TEST(uses(p, "group_by.rollup"));
  BOOST_TEST(!p.confidentiality("o").flagged);
  const auto cells = rollup_cells({4, 2}, region_sex);
  BOOST_TEST(cells.size() == 4u * 3 + 1);
  rows_of expected;
  for (const auto& g : cells) {
    const auto n = static_cast<i64>(g.rows.size());
    if (n == 0) {
      expected.push_back(std::vector<i64>(7, 0));
      continue;
    }
    i64 ages = 0;
    for (const auto* q : g.rows)
      ages += q->age;
    expected.push_back({g.key[0], g.key[1], n, income_of(g), round_div(ages * 10, n), median_tenths(g), 1});
  }
  BOOST_TEST(expected.back()[2] == static_cast<i64>(people.size()));  // the grand total
  check(p, {{"o", expected}});
}

BOOST_AUTO_TEST_CASE(rollup_under_having_withholds_a_second_cell_where_one_would_follow_from_its_margin) {
  // k = 3: south's m cell (2 rows) alone under south, so south's f cell goes too. k = 5: east's
  // margin (4 rows) alone under the grand total, so south's margin (5 rows, fewer than north's 7)
  // goes too.
  for (std::size_t k : {3, 5}) {
    BOOST_TEST_CONTEXT("k = " << k) {
      auto p = compiled("INSERT INTO o SELECT region, sex, COUNT(*) AS n, SUM(income) AS total FROM t\n"
                        "GROUP BY ROLLUP(region, sex) HAVING COUNT(*) >= " + std::to_string(k) + ";",
                        {table("o", {category("region", rolled_regions), category("sex", {"f", "m", "_T"}),
                                     integer("n", 0, 0), decimal("total", 2, 0, 0)})});
      const auto flags = p.confidentiality("o");
      BOOST_TEST(flags.secondary_rule == secondary_rule);
      const auto cells = rollup_cells({4, 2}, region_sex);
      const auto code = published_codes(cells, k);
      BOOST_TEST(std::count(code.begin(), code.end(), 3) >= 1);
      // No margin with its cells holds exactly one withheld: none follows from the others.
      for (std::size_t g = 0; g < cells.size(); ++g) {
        if (cells[g].cells.empty())
          continue;
        std::size_t held = 0;
        for (auto c : cells[g].cells)
          held += !cells[c].rows.empty() && code[c] != 1 ? 1 : 0;
        held += !cells[g].rows.empty() && code[g] != 1 ? 1 : 0;
        BOOST_TEST(held != 1u, "the margin at " << g);
      }
      rows_of expected;
      for (std::size_t g = 0; g < cells.size(); ++g) {
        const auto n = static_cast<i64>(cells[g].rows.size());
        if (n == 0) {
          expected.push_back(std::vector<i64>(6, 0));
          continue;
        }
        const i64 shown = code[g] == 1 ? 1 : 0;
        expected.push_back({cells[g].key[0], cells[g].key[1], shown * n, shown * income_of(cells[g]), code[g], 1});
      }
      check(p, {{"o", expected}});
    }
  }
}

BOOST_AUTO_TEST_CASE(rollup_of_a_case_by_sorting_and_its_csv_marks_secondary_cells_d) {
  // Age bands, regions and sex over up to 10^6 rows: 40 groups, formed by sorting (the masks of
  // 40 groups over the rows taken four times would not fit).
  auto p = compiled("INSERT INTO o SELECT CASE WHEN age < 30 THEN 'young' WHEN age < 60 THEN 'middle' ELSE 'old' END\n"
                    "  AS band, region, sex, COUNT(*) AS n, SUM(income) AS total FROM t\n"
                    "GROUP BY ROLLUP(band, region, sex) HAVING COUNT(*) >= 2;\n"
                    "INSERT INTO d SELECT CASE WHEN age < 30 THEN 'young' WHEN age < 60 THEN 'middle' ELSE 'old' END\n"
                    "  AS band, region, COUNT(DISTINCT sex) AS sexes FROM t GROUP BY ROLLUP(band, region);",
                    {table("o", {category("band", {"young", "middle", "old", "_T"}), category("region", rolled_regions),
                                 category("sex", {"f", "m", "_T"}), integer("n", 0, 0), decimal("total", 2, 0, 0)}),
                     table("d", {category("band", {"young", "middle", "old", "_T"}), category("region", rolled_regions),
                                 integer("sexes", 0, 0)})},
                    1'000'000);
  BOOST_TEST(uses(p, "group_by.sorted"));
  BOOST_TEST(uses(p, "group_by.expression"));
  // `o` sorts the rows once, its margins runs of cells; `d` (COUNT(DISTINCT)) the rows once per
  // level.
  BOOST_TEST(p.impl().statements.at(0).rollup_spans);
  BOOST_TEST(!p.impl().statements.at(1).rollup_spans);
  BOOST_TEST(p.impl().statements.at(1).sorted_grouping);
  rows_of distinct;
  for (const auto& g : rollup_cells({3, 4}, [](const person& q, std::size_t k) { return k == 0 ? band_of(q) : q.region; })) {
    std::vector<i64> sexes;
    for (const auto* q : g.rows)
      if (std::find(sexes.begin(), sexes.end(), q->sex) == sexes.end())
        sexes.push_back(q->sex);
    distinct.push_back(g.rows.empty() ? std::vector<i64>(4, 0)
                                      : std::vector<i64>{g.key[0], g.key[1], static_cast<i64>(sexes.size()), 1});
  }
  const auto cells = rollup_cells({3, 4, 2}, [](const person& q, std::size_t k) {
    return k == 0 ? band_of(q) : k == 1 ? q.region : q.sex;
  });
  BOOST_TEST(cells.size() == 40u);
  const auto code = published_codes(cells, 2);
  BOOST_TEST(std::count(code.begin(), code.end(), 3) >= 1);
  rows_of expected;
  for (std::size_t g = 0; g < cells.size(); ++g) {
    const auto n = static_cast<i64>(cells[g].rows.size());
    const i64 shown = code[g] == 1 ? 1 : 0;
    const auto& key = cells[g].key;
    expected.push_back(n == 0 ? std::vector<i64>(7, 0)
                              : std::vector<i64>{key[0], key[1], key[2], shown * n, shown * income_of(cells[g]), code[g], 1});
  }
  check(p, {{"o", expected}, {"d", distinct}});
  // As the analyst's CSV writes it: `_T` for a margin's keys, D and the secondary rule for code 3.
  std::vector<std::vector<word>> columns(6);
  for (const auto& row : expected)
    if (row.back() == 1)
      for (std::size_t c = 0; c < 6; ++c)
        columns[c].push_back(static_cast<word>(row[c]));
  const auto csv = format_flagged_csv(p.outputs()[0], columns, columns[0].size(), {}, p.confidentiality("o"));
  BOOST_TEST(csv.find("_T,_T,_T,16,") != std::string::npos, csv);
  BOOST_TEST(csv.find(",D," + std::string{secondary_rule} + "\n") != std::string::npos, csv);
}
