#define BOOST_TEST_MODULE sql_union
#include <boost/test/unit_test.hpp>

// FROM a UNION ALL b [UNION ALL c ...]: the joint statistic over the inputs of several
// organisations. Runs on the reference backend with expected values computed by plain loops, and
// checks the compile errors and the overflow proofs over the summed row bound.

#include "joconde/engines/reference.hpp"
#include "joconde/engines/sql/compiler.hpp"
#include "joconde/engines/sql/executor.hpp"

#include "schema_builders.hpp"

#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <utility>
#include <vector>

using namespace joconde;
using namespace joconde::engines;
using namespace joconde::test;

namespace {

using i64 = std::int64_t;

const std::vector<std::string> regions{"North", "South", "East"};

/// enterprises(region {North, South, East}, turnover decimal(2) [0, 10^9 units],
/// employees [0, 10000], exporter), at most `max_rows` rows.
table_schema enterprises(std::string name, std::uint64_t max_rows = 1000) {
  return table(std::move(name),
               {category("region", regions), decimal("turnover", 2, 0, 1'000'000'000),
                integer("employees", 0, 10'000), boolean("exporter")},
               max_rows);
}

std::vector<table_schema> three_inputs() {
  return {enterprises("a_enterprises"), enterprises("b_enterprises"),
          enterprises("c_enterprises")};
}

/// One organisation's clear rows, column by column.
struct rows {
  std::vector<i64> region;
  std::vector<i64> turnover;  ///< in cents
  std::vector<i64> employees;
  std::vector<i64> exporter;

  std::size_t size() const { return region.size(); }
};

const rows a_rows{{0, 1, 0, 2, 0, 1, 0}, {150000, 2000050, 99, 123456, 700000, 5, 310000},
                  {12, 3, 40, 7, 5, 60, 1}, {1, 0, 1, 1, 0, 1, 0}};
const rows b_rows{{1, 0, 0, 1, 1}, {999999, 45000, 870001, 10, 250000},
                  {8, 9, 2, 100, 33}, {0, 1, 1, 1, 0}};
const rows c_rows{{2, 2, 0, 1}, {1000, 2000, 3000, 4000}, {50, 6, 6, 9}, {1, 1, 0, 1}};
const rows no_rows{};

secret vec(const std::vector<i64>& v) {
  secret s;
  for (auto x : v)
    s.a.push_back(static_cast<word>(x));
  return s;
}

secret_table make(const rows& r) {
  secret_table t;
  t.columns = {vec(r.region), vec(r.turnover), vec(r.employees), vec(r.exporter)};
  t.valid = vec(std::vector<i64>(r.size(), 1));
  t.rows = r.size();
  return t;
}

/// The rows of `parts`, in order: what the union must compute on.
rows concatenated(const std::vector<const rows*>& parts) {
  rows all;
  for (const auto* p : parts) {
    all.region.insert(all.region.end(), p->region.begin(), p->region.end());
    all.turnover.insert(all.turnover.end(), p->turnover.begin(), p->turnover.end());
    all.employees.insert(all.employees.end(), p->employees.begin(), p->employees.end());
    all.exporter.insert(all.exporter.end(), p->exporter.begin(), p->exporter.end());
  }
  return all;
}

i64 at(const secret& s, std::size_t i) {
  return static_cast<i64>(s.a.at(i));
}

result<sql::program> compile(const std::string& source, std::vector<table_schema> outputs,
                             std::vector<table_schema> inputs = three_inputs()) {
  return sql::compile(source, std::move(inputs), std::move(outputs));
}

sql::program compile_or_fail(const std::string& source, std::vector<table_schema> outputs,
                             std::vector<table_schema> inputs = three_inputs()) {
  auto r = compile(source, std::move(outputs), std::move(inputs));
  BOOST_TEST_REQUIRE(r.ok(), (r ? std::string{} : r.err().message));
  return r.value();
}

sql::run_result run(const sql::program& p, const rows& a, const rows& b, const rows& c) {
  reference_backend backend;
  return sql::run(p, backend,
                  {{"a_enterprises", make(a)}, {"b_enterprises", make(b)},
                   {"c_enterprises", make(c)}});
}

/// The compile error of `source`, which must fail.
std::string error_of(const std::string& source, std::vector<table_schema> outputs,
                     std::vector<table_schema> inputs = three_inputs()) {
  auto r = compile(source, std::move(outputs), std::move(inputs));
  BOOST_TEST_REQUIRE(!r.ok(), "compiled, but should not have: " << source);
  BOOST_TEST((r.err().code == errc::compile_error));
  return r.err().message;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

table_schema by_region_output() {
  return table("by_region",
               {category("region", regions), integer("enterprises", 0, 0),
                decimal("turnover", 2, 0, 0), decimal("mean_turnover", 2, 0, 0)},
               3);
}

const std::string joint_statistic =
  "INSERT INTO by_region\n"
  "SELECT region, COUNT(*) AS enterprises, SUM(turnover) AS turnover,\n"
  "       AVG(turnover) AS mean_turnover\n"
  "FROM a_enterprises UNION ALL b_enterprises\n"
  "WHERE employees >= 5\n"
  "GROUP BY region HAVING COUNT(*) >= 2;";

/// Checks the by_region output of `joint_statistic` against the union of `parts`.
void check_by_region(const secret_table& out, const std::vector<const rows*>& parts) {
  auto all = concatenated(parts);
  BOOST_TEST_REQUIRE(out.rows == 3u);
  BOOST_TEST_REQUIRE(out.columns.size() == 5u);  // and the published flags of HAVING
  for (std::size_t g = 0; g < 3; ++g) {
    BOOST_TEST_CONTEXT("region " << regions[g]) {
      i64 n = 0;
      i64 sum = 0;
      for (std::size_t i = 0; i < all.size(); ++i)
        if (all.region[i] == static_cast<i64>(g) && all.employees[i] >= 5) {
          ++n;
          sum += all.turnover[i];
        }
      // A region of 1 row is withheld (its region kept, C); one of none is no row.
      i64 keep = n >= 2 ? 1 : 0;
      i64 exists = n > 0 ? 1 : 0;
      BOOST_TEST(at(out.valid, g) == exists);
      BOOST_TEST(at(out.columns[0], g) == exists * static_cast<i64>(g));
      BOOST_TEST(at(out.columns[1], g) == keep * n);
      BOOST_TEST(at(out.columns[2], g) == keep * sum);
      // The exact mean, rounded half away from zero to cents.
      i64 mean = keep == 1 ? (2 * std::abs(sum) + n) / (2 * n) * (sum < 0 ? -1 : 1) : 0;
      BOOST_TEST(at(out.columns[3], g) == mean);
      BOOST_TEST(at(out.columns[4], g) == keep);
    }
  }
}

} // namespace

BOOST_AUTO_TEST_CASE(joint_statistic_over_two_inputs) {
  auto p = compile_or_fail(joint_statistic, {by_region_output()});
  BOOST_TEST(p.features()
               == (std::vector<std::string>{"select", "where", "group_by", "union", "having",
                                            "aggregate.count", "aggregate.sum", "aggregate.avg"}),
             boost::test_tools::per_element());
  // The union reveals nothing new: the input row counts were already known to the Computing
  // Parties; the grouping, which of its groups have no rows.
  BOOST_TEST(p.disclosures()
               == (std::vector<std::string>{
                 "the number of rows of every input (`a_enterprises`, `b_enterprises` and "
                 "`c_enterprises`) and the shape of the program (its operations, in order, and "
                 "the number of rows each handles) are known to the Computing Parties",
                 "`by_region` writes a row only for a group that has rows, so which of its groups have none "
                 "is revealed to the analyst"}),
             boost::test_tools::per_element());
  auto res = run(p, a_rows, b_rows, c_rows);
  check_by_region(res.outputs.at("by_region"), {&a_rows, &b_rows});
}

BOOST_AUTO_TEST_CASE(three_inputs_projection_and_global_aggregates) {
  auto p = compile_or_fail(
    "INSERT INTO exporters SELECT region, turnover * 2 AS double_turnover, employees\n"
    "FROM a_enterprises UNION ALL b_enterprises UNION ALL c_enterprises WHERE exporter;\n"
    "INSERT INTO totals SELECT COUNT(*) AS n, SUM(a_enterprises.employees) AS staff,\n"
    "  AVG(employees) AS mean_staff, SUM(exporter) AS n_exporters\n"
    "FROM a_enterprises UNION ALL b_enterprises UNION ALL c_enterprises;",
    {table("exporters", {category("region", regions), decimal("double_turnover", 2, 0, 0),
                         integer("employees", 0, 0)},
           3000),
     table("totals", {integer("n", 0, 0), integer("staff", 0, 0), decimal("mean_staff", 3, 0, 0),
                      integer("n_exporters", 0, 0)},
           1)});
  auto res = run(p, a_rows, b_rows, c_rows);
  auto all = concatenated({&a_rows, &b_rows, &c_rows});
  const auto& rows_out = res.outputs.at("exporters");
  BOOST_TEST_REQUIRE(rows_out.rows == all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    BOOST_TEST_CONTEXT("row " << i) {
      i64 keep = all.exporter[i];
      BOOST_TEST(at(rows_out.valid, i) == keep);
      BOOST_TEST(at(rows_out.columns[0], i) == keep * all.region[i]);
      BOOST_TEST(at(rows_out.columns[1], i) == keep * all.turnover[i] * 2);
      BOOST_TEST(at(rows_out.columns[2], i) == keep * all.employees[i]);
    }
  }
  i64 staff = 0;
  i64 exporters = 0;
  for (std::size_t i = 0; i < all.size(); ++i) {
    staff += all.employees[i];
    exporters += all.exporter[i];
  }
  const auto& totals = res.outputs.at("totals");
  BOOST_TEST_REQUIRE(totals.rows == 1u);
  BOOST_TEST(at(totals.valid, 0) == 1);
  BOOST_TEST(at(totals.columns[0], 0) == static_cast<i64>(all.size()));
  BOOST_TEST(at(totals.columns[1], 0) == staff);
  BOOST_TEST(std::abs(at(totals.columns[2], 0) - staff * 1000 / static_cast<i64>(all.size()))
             <= 1);
  BOOST_TEST(at(totals.columns[3], 0) == exporters);
}

BOOST_AUTO_TEST_CASE(three_inputs_grouped_with_having) {
  auto p = compile_or_fail(
    "INSERT INTO by_region SELECT region, COUNT(*) AS enterprises, SUM(turnover) AS turnover,\n"
    "  AVG(turnover) AS mean_turnover\n"
    "FROM a_enterprises UNION ALL b_enterprises UNION ALL c_enterprises\n"
    "WHERE employees >= 5 GROUP BY region HAVING COUNT(*) >= 2;",
    {by_region_output()});
  auto res = run(p, a_rows, b_rows, c_rows);
  check_by_region(res.outputs.at("by_region"), {&a_rows, &b_rows, &c_rows});
}

BOOST_AUTO_TEST_CASE(inputs_without_rows) {
  auto p = compile_or_fail(joint_statistic, {by_region_output()});
  check_by_region(run(p, no_rows, b_rows, no_rows).outputs.at("by_region"), {&b_rows});
  check_by_region(run(p, a_rows, no_rows, no_rows).outputs.at("by_region"), {&a_rows});
  check_by_region(run(p, no_rows, no_rows, no_rows).outputs.at("by_region"), {});
  auto projection = compile_or_fail(
    "INSERT INTO o SELECT employees FROM a_enterprises UNION ALL b_enterprises UNION ALL "
    "c_enterprises;",
    {table("o", {integer("employees", 0, 0)}, 3000)});
  auto res = run(projection, no_rows, c_rows, no_rows);
  const auto& out = res.outputs.at("o");
  BOOST_TEST_REQUIRE(out.rows == c_rows.size());
  for (std::size_t i = 0; i < c_rows.size(); ++i) {
    BOOST_TEST(at(out.valid, i) == 1);
    BOOST_TEST(at(out.columns[0], i) == c_rows.employees[i]);
  }
  BOOST_TEST(run(projection, no_rows, no_rows, no_rows).outputs.at("o").rows == 0u);
}

BOOST_AUTO_TEST_CASE(mismatched_schemas_are_refused_at_the_input) {
  const std::string source =
    "INSERT INTO o SELECT COUNT(*) AS n\n"
    "FROM a_enterprises UNION ALL b_enterprises;";
  auto outputs = std::vector<table_schema>{table("o", {integer("n", 0, 0)}, 1)};
  auto with_b = [](std::vector<column_schema> columns) {
    return std::vector<table_schema>{enterprises("a_enterprises"),
                                     table("b_enterprises", std::move(columns))};
  };
  const auto region = category("region", regions);
  const auto turnover = decimal("turnover", 2, 0, 1'000'000'000);
  const auto employees = integer("employees", 0, 10'000);
  const auto exporter = boolean("exporter");
  struct mismatch {
    std::vector<column_schema> columns;
    std::string expected;
  };
  const std::vector<mismatch> cases{
    {{region, decimal("revenue", 2, 0, 1'000'000'000), employees, exporter},
     "2:30: column 2 of `b_enterprises` is `revenue` but column 2 of `a_enterprises` is "
     "`turnover`"},
    {{region, integer("turnover", 0, 1'000'000), employees, exporter},
     "2:30: column 2 of `b_enterprises` `turnover` is integer but in `a_enterprises` it is "
     "decimal(2)"},
    {{region, decimal("turnover", 3, 0, 1'000'000'000), employees, exporter},
     "2:30: column 2 of `b_enterprises` `turnover` is decimal(3) but in `a_enterprises` it is "
     "decimal(2)"},
    {{category("region", {"South", "North", "East"}), turnover, employees, exporter},
     "2:30: column 1 of `b_enterprises` `region` declares the values {South, North, East} but "
     "in `a_enterprises` it declares {North, South, East}"},
    {{region, turnover, employees},
     "2:30: `b_enterprises` has 3 columns but `a_enterprises` has 4"},
    {{region, turnover, employees, exporter, boolean("extra")},
     "2:30: `b_enterprises` has 5 columns but `a_enterprises` has 4"}};
  for (const auto& c : cases) {
    auto message = error_of(source, outputs, with_b(c.columns));
    BOOST_TEST(message.starts_with(c.expected), message);
    BOOST_TEST(contains(message, "every input of a UNION ALL needs the same columns"), message);
  }
}

BOOST_AUTO_TEST_CASE(other_union_errors) {
  auto outputs = std::vector<table_schema>{table("o", {integer("n", 0, 0)}, 1)};
  auto select = [](const std::string& from) {
    return "INSERT INTO o SELECT COUNT(*) AS n FROM " + from + ";";
  };
  auto twice = error_of(select("a_enterprises UNION ALL a_enterprises"), outputs);
  BOOST_TEST(twice.starts_with("1:65: `a_enterprises` is already in this UNION ALL (at 1:41)"),
             twice);
  auto later = error_of(
    select("a_enterprises UNION ALL b_enterprises UNION ALL b_enterprises"), outputs);
  BOOST_TEST(later.starts_with("1:89: `b_enterprises` is already in this UNION ALL (at 1:65)"),
             later);
  auto unknown = error_of(select("a_enterprises UNION ALL d_enterprises"), outputs);
  BOOST_TEST(unknown.starts_with("1:65: unknown input `d_enterprises`"), unknown);
  auto distinct = error_of(select("a_enterprises UNION b_enterprises"), outputs);
  BOOST_TEST(distinct.starts_with("1:61: expected ALL after UNION"), distinct);
  // A JOIN may follow the united inputs (sql_compiler_test_joins.cpp), but these have no key.
  auto join_after = error_of(
    select("a_enterprises UNION ALL b_enterprises JOIN c_enterprises ON a_enterprises.region = "
           "c_enterprises.region"),
    outputs);
  BOOST_TEST(join_after.starts_with("1:101: a join compares two key columns or two integer columns; "
                                    "`a_enterprises.region` is category"),
             join_after);
  auto union_after = error_of(
    select("a_enterprises JOIN b_enterprises ON a.x = b.x UNION ALL c_enterprises"), outputs);
  BOOST_TEST(union_after.starts_with("1:87: UNION ALL cannot follow a JOIN: write the united inputs first"),
             union_after);
  auto qualified = error_of(
    "INSERT INTO o SELECT SUM(b_enterprises.employees) AS n\n"
    "FROM a_enterprises UNION ALL b_enterprises;",
    outputs);
  BOOST_TEST(qualified.starts_with("1:26: the columns of a UNION ALL belong to the united table: "
                                   "write `employees` or `a_enterprises.employees`"),
             qualified);
}

BOOST_AUTO_TEST_CASE(ranges_are_the_hull_of_the_inputs) {
  // x * x fits for [0, 2 * 10^9] but not for [0, 3 * 10^9] nor [-3 * 10^9, 0]: the united range
  // must include the second input's.
  auto inputs = [](std::int64_t lo, std::int64_t hi) {
    return std::vector<table_schema>{table("a_enterprises", {integer("x", 0, 1000)}),
                                     table("b_enterprises", {integer("x", lo, hi)})};
  };
  const std::string source =
    "INSERT INTO o SELECT x * x AS sq FROM a_enterprises UNION ALL b_enterprises;";
  auto outputs = std::vector<table_schema>{table("o", {integer("sq", 0, 0)}, 2000)};
  BOOST_TEST(compile(source, outputs, inputs(0, 2'000'000'000)).ok());
  for (auto [lo, hi] : {std::pair<std::int64_t, std::int64_t>{0, 3'000'000'000},
                        std::pair<std::int64_t, std::int64_t>{-3'000'000'000, 0}}) {
    auto message = error_of(source, outputs, inputs(lo, hi));
    BOOST_TEST(contains(message, "beyond the ring's 2^62"), message);
  }
  // An input without a declared range makes the united column unbounded.
  auto unbounded_b = std::vector<table_schema>{table("a_enterprises", {integer("x", 0, 1000)}),
                                               table("b_enterprises", {unbounded("x")})};
  auto message = error_of(source, outputs, unbounded_b);
  BOOST_TEST(contains(message, "`x` has no declared RANGE"), message);
}

BOOST_AUTO_TEST_CASE(overflow_proof_uses_the_summed_row_bound) {
  // 4 * 10^6 rows of at most 10^12 sum to 4e18 < 2^62; 8 * 10^6 rows (two inputs) could reach
  // 8e18, beyond it.
  auto input = [](std::string name) {
    return table(std::move(name), {integer("amount", 0, 1'000'000'000'000)}, 4'000'000);
  };
  auto outputs = std::vector<table_schema>{table("o", {integer("total", 0, 0)}, 1)};
  auto alone = compile("INSERT INTO o SELECT SUM(amount) AS total FROM a_enterprises;", outputs,
                       {input("a_enterprises"), input("b_enterprises")});
  BOOST_REQUIRE_MESSAGE(alone.ok(), (alone ? std::string{} : alone.err().message));
  BOOST_TEST(alone->output_words("o") == std::vector<unsigned>{1});
  // The union's sum is computed beyond the ring, in three words (docs/task-language.md §5.1)...
  const std::string united =
    "INSERT INTO o SELECT SUM(amount) AS total FROM a_enterprises UNION ALL b_enterprises;";
  auto wide = compile(united, outputs, {input("a_enterprises"), input("b_enterprises")});
  BOOST_REQUIRE_MESSAGE(wide.ok(), (wide ? std::string{} : wide.err().message));
  BOOST_TEST(wide->output_words("o") == std::vector<unsigned>{3});
  // ... so only using it in arithmetic shows the bound.
  auto message = error_of(
    "INSERT INTO o SELECT SUM(amount) - 1 AS total FROM a_enterprises UNION ALL b_enterprises;",
    outputs, {input("a_enterprises"), input("b_enterprises")});
  BOOST_TEST(message.starts_with("1:22: SUM(amount): it may reach 8e18, beyond the ring's 2^62"),
             message);
}

BOOST_AUTO_TEST_CASE(output_max_rows_uses_the_summed_row_bound) {
  // Each input has at most 1000 rows, so a projection of their union may write 3000.
  const std::string source =
    "INSERT INTO o SELECT employees FROM a_enterprises UNION ALL b_enterprises UNION ALL "
    "c_enterprises;";
  BOOST_TEST(compile(source, {table("o", {integer("employees", 0, 0)}, 3000)}).ok());
  auto message = error_of(source, {table("o", {integer("employees", 0, 0)}, 2999)});
  BOOST_TEST(message.starts_with("1:13: this select may write 3000 rows but `o` declares at most "
                                 "2999"),
             message);
}
