#define BOOST_TEST_MODULE sql_compiler
#include <boost/test/unit_test.hpp>

// The joconde-sql/1 compiler: a table of broken programs with the exact place and a key phrase of
// each error, accepted programs with their disclosures and features, and malformed input.

#include "joconde/engines/sql/ast.hpp"
#include "joconde/engines/sql/compiler.hpp"

#include "schema_builders.hpp"

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

using namespace joconde;
using namespace joconde::engines;

namespace sql_test {

using namespace joconde::test;

/// persons(id key, age [0,120], income decimal(2) [0, 10^10], region {North, South, East},
/// sex {F, M}, employed, weight [1, 10^5], hours unbounded, balance decimal(2) [-10^6, 10^6]),
/// at most 10^6 rows.
inline table_schema persons() {
  return table("persons",
               {key("id"), integer("age", 0, 120), decimal("income", 2, 0, 10'000'000'000),
                category("region", {"North", "South", "East"}), category("sex", {"F", "M"}),
                boolean("employed"), integer("weight", 1, 100'000), unbounded("hours"),
                decimal("balance", 2, -1'000'000, 1'000'000)},
               1'000'000);
}

/// incomes(id key, amount [0, 10^6], weight [1, 10]), at most 1000 rows.
inline table_schema incomes() {
  return table("incomes", {key("id"), integer("amount", 0, 1'000'000), integer("weight", 1, 10)});
}

/// big(c100, d100, code [0, 999]): two categories of 100 values each and a ranged integer.
inline table_schema big() {
  std::vector<std::string> values;
  for (int i = 0; i < 100; ++i)
    values.push_back("v" + std::to_string(i));
  return table("big", {category("c100", values), category("d100", values), integer("code", 0, 999)});
}

} // namespace sql_test

using namespace sql_test;

namespace {

std::vector<table_schema> inputs() {
  return {persons(), incomes(), big()};
}

/// The one-column output `out(age integer)` most cases write.
std::vector<table_schema> out_age() {
  return {table("out", {integer("age", 0, 120)}, 1'000'000)};
}

std::vector<table_schema> out_total(unsigned scale = 2) {
  return {table("out", {decimal("total", scale, 0, 0)})};
}

struct broken {
  std::string source;
  std::vector<table_schema> outputs;
  std::string prefix;  ///< exact start of the message: "line:column: "
  std::string phrase;  ///< a key phrase the message must contain
  std::map<std::string, std::string> quality = {};
};

std::vector<broken> broken_programs() {
  auto grouped = std::vector<table_schema>{
    table("out", {category("region", {"North", "South", "East"}), integer("age", 0, 120)})};
  auto counted = std::vector<table_schema>{table("out", {integer("n", 0, 1'000'000)})};
  return {
    {"", out_age(), "1:1: ", "the program is empty"},
    {"INSERT INTO out SELECT age FROM persons", out_age(), "1:40: ",
     "expected WHERE, GROUP BY, HAVING, ORDER BY or `;`, found the end of the program"},
    {"SELECT age FROM persons;", out_age(), "1:1: ", "expected INSERT INTO"},
    {"INSERT INTO out SELECT age persons;", out_age(), "1:28: ",
     "expected `,` or FROM after the select list, found `persons`"},
    {"INSERT INTO outt SELECT age FROM persons;", out_age(), "1:13: ",
     "unknown output `outt` (did you mean `out`?)"},
    {"INSERT INTO out SELECT age FROM person;", out_age(), "1:33: ",
     "unknown input `person` (did you mean `persons`?)"},
    {"INSERT INTO out\nSELECT agee AS age\nFROM persons;", out_age(), "2:8: ",
     "unknown column `agee` in `persons` (did you mean `age`?)"},
    {"INSERT INTO out SELECT SUM(weight) AS total FROM persons JOIN incomes ON persons.id = "
     "incomes.id;",
     out_total(0), "1:28: ", "`weight` is ambiguous: qualify it as `persons.weight` or `incomes.weight`"},
    {"INSERT INTO out SELECT employed + age AS age FROM persons;", out_age(), "1:33: ",
     "cannot add boolean and integer"},
    {"INSERT INTO out SELECT age FROM persons WHERE SUM(age) > 3;", out_age(), "1:47: ",
     "aggregates are not allowed in WHERE"},
    {"INSERT INTO out SELECT region, age FROM persons GROUP BY region;", grouped, "1:32: ",
     "`age` is neither in GROUP BY nor inside an aggregate"},
    {"INSERT INTO out SELECT age FROM persons;\nINSERT INTO out SELECT age FROM persons;",
     out_age(), "2:13: ", "`out` is written twice (first at 1:13)"},
    {"INSERT INTO out SELECT age FROM persons;",
     {table("out", {integer("age", 0, 120)}, 1'000'000), table("out2", {integer("age", 0, 120)})}, "1:41: ",
     "output `out2` is never written"},
    {"INSERT INTO out SELECT age FROM persons;", {table("out", {boolean("age")})}, "1:24: ",
     "output column `age` of `out` is boolean, but age is integer"},
    {"INSERT INTO out SELECT weight FROM persons;", out_age(), "1:24: ",
     "column 1 of `out` is `age`, but this select item is named `weight`"},
    {"INSERT INTO out SELECT age, weight FROM persons;", out_age(), "1:29: ",
     "`out` has 1 column but the select list gives 2"},
    {"INSERT INTO out SELECT age FROM persons WHERE region < 'South';", out_age(), "1:54: ",
     "categories can only be compared with =, <> and IN"},
    {"INSERT INTO out SELECT age FROM persons WHERE region = 'Nort';", out_age(), "1:56: ",
     "'Nort' is not one of the declared values of this category (did you mean 'North'?)"},
    {"INSERT INTO out SELECT region + 1 AS age FROM persons;", out_age(), "1:31: ",
     "cannot add category and integer"},
    {"INSERT INTO out SELECT age FROM persons WHERE id = 3;", out_age(), "1:47: ",
     "`id` is a key column: keys can only be used in JOIN ... ON"},
    {"INSERT INTO out SELECT COUNT(*) AS n FROM big GROUP BY c100, d100, code;", counted, "1:68: ",
     "GROUP BY gives 10000000 groups so far, more than the 1048576 (2^20) allowed"},
    {"INSERT INTO out SELECT MIN(code) AS n FROM big GROUP BY c100, d100;", {table("out", {integer("n", 0, 999)})},
     "1:57: ", "MIN, MAX, MEDIAN, PERCENTILE_CONT and PERCENTILE_DISC need one-hot group masks, at most 4096 groups"},
    {"INSERT INTO out SELECT PERCENTILE_DISC(0.5) WITHIN GROUP (ORDER BY code) AS n FROM big GROUP BY c100, d100;",
     {table("out", {integer("n", 0, 999)})}, "1:97: ", "PERCENTILE_DISC need one-hot group masks"},
    {"INSERT INTO out SELECT PERCENTILE_CONT(age) WITHIN GROUP (ORDER BY age) AS age FROM persons;", out_age(),
     "1:40: ", "expected a constant fraction p from 0 to 1 in PERCENTILE_CONT(p), found `age`"},
    {"INSERT INTO out SELECT PERCENTILE_DISC(1.5) WITHIN GROUP (ORDER BY age) AS age FROM persons;", out_age(),
     "1:40: ", "PERCENTILE_DISC(1.5): p must be from 0 to 1"},
    {"INSERT INTO out SELECT PERCENTILE_CONT(-0.25) WITHIN GROUP (ORDER BY age) AS age FROM persons;", out_age(),
     "1:40: ", "PERCENTILE_CONT(-0.25): p must be from 0 to 1"},
    {"INSERT INTO out SELECT PERCENTILE_CONT(0.5) AS age FROM persons;", out_age(), "1:45: ",
     "expected WITHIN GROUP (ORDER BY value) after PERCENTILE_CONT(p), found `AS`"},
    {"INSERT INTO out SELECT PERCENTILE_CONT(0.5) WITHIN GROUP (age) AS age FROM persons;", out_age(), "1:59: ",
     "expected ORDER BY value in PERCENTILE_CONT(p) WITHIN GROUP (ORDER BY value), found `age`"},
    {"INSERT INTO out SELECT PERCENTILE_DISC(0.5) WITHIN GROUP (ORDER BY age DESC) AS age FROM persons;", out_age(),
     "1:72: ", "PERCENTILE_DISC orders ascending only"},
    {"INSERT INTO out SELECT PERCENTILE_DISC(0.5) WITHIN GROUP (ORDER BY region) AS age FROM persons;", out_age(),
     "1:68: ", "PERCENTILE_DISC needs a number, but region is category"},
    {"INSERT INTO out SELECT PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY hours) AS age FROM persons;", out_age(),
     "1:24: ", "`hours` has no declared RANGE, so PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY hours) could overflow"},
    {"INSERT INTO out SELECT PERCENTILE_CONT(0.25) WITHIN GROUP (ORDER BY age) AS age FROM persons;", out_age(),
     "1:24: ", "write it to a decimal column"},
    {"INSERT INTO out SELECT PERCENTILE_CONT(0.000000000001) WITHIN GROUP (ORDER BY income) AS total FROM persons;",
     out_total(), "1:24: ", "2^62"},
    {"INSERT INTO out SELECT COUNT(*) AS n FROM persons GROUP BY region HAVING SUM(age) > 3;",
     counted, "1:74: ", "expected COUNT(*) >= <integer>"},
    {"INSERT INTO out SELECT COUNT(*) AS n FROM persons GROUP BY region HAVING COUNT(*) >= 0;",
     counted, "1:86: ", "suppresses nothing"},
    {"INSERT INTO out SELECT age FROM persons HAVING COUNT(*) >= 5;", out_age(), "1:41: ",
     "HAVING needs GROUP BY or an aggregate in the select list"},
    {"INSERT INTO out\nSELECT SUM(income * weight) * 2 AS total\nFROM persons;", out_total(), "2:8: ",
     "SUM(income * weight): it may reach 1e21, beyond the ring's 2^62. Beyond the ring SUM is "
     "computed in 128 bits, but only as a whole select item"},
    {"INSERT INTO out SELECT income * income AS total FROM persons;", out_total(4), "1:24: ",
     "income * income may reach 1e20, beyond the ring's 2^62; declare a tighter RANGE for income"},
    {"INSERT INTO out SELECT hours + 1 AS age FROM persons;", out_age(), "1:24: ",
     "`hours` has no declared RANGE, so hours + 1 could overflow the ring; declare a RANGE for "
     "hours"},
    {"INSERT INTO out SELECT age FROM persons WHERE hours > age;", out_age(), "1:47: ",
     "`hours` has no declared RANGE"},
    {"INSERT INTO out SELECT SUM(hours) AS age FROM persons;", out_age(), "1:24: ",
     "`hours` has no declared RANGE, so SUM(hours) could overflow"},
    {"INSERT INTO out SELECT age / age AS total FROM persons;", out_total(), "1:30: ",
     "divisor age may be zero or negative; declare a RANGE above 0"},
    {"INSERT INTO out SELECT SUM(COUNT(*)) AS age FROM persons;", out_age(), "1:28: ",
     "aggregates cannot be nested"},
    {"INSERT INTO out SELECT age FROM persons WHERE region = 'North;", out_age(), "1:56: ",
     "text literal not closed"},
    {"INSERT INTO out SELECT age FROM persons WHERE age > 3 $;", out_age(), "1:55: ",
     "unexpected character '$'"},
    {"INSERT INTO out SELECT age FROM persons JOIN persons ON id = id;", out_age(), "1:46: ",
     "`persons` is joined with itself"},
    {"INSERT INTO out SELECT amount AS age FROM persons JOIN incomes ON persons.age = incomes.id;",
     out_age(), "1:67: ", "a join compares two key columns or two integer columns"},
    {"INSERT INTO out SELECT age FROM persons WHERE age;", out_age(), "1:47: ",
     "WHERE needs a condition (boolean), but age is integer"},
    {"INSERT INTO out SELECT MODE(age) AS age FROM persons;", out_age(), "1:24: ",
     "unknown function `MODE`"},
    {"INSERT INTO out SELECT AVG(age) AS age FROM persons;", out_age(), "1:24: ",
     "is fixed-point number; write it to a decimal column"},
    {"INSERT INTO out SELECT region FROM persons;", {table("out", {category("region", {"N", "S"})})},
     "1:24: ", "with other declared values"},
    {"INSERT INTO out\nSELECT VAR_SAMP(income) + 1 AS total\nFROM persons;", out_total(), "2:8: ",
     "VAR_SAMP(income): it may reach"},
    {"INSERT INTO out SELECT COUNT(*) AS n FROM persons GROUP BY hours;", counted, "1:60: ",
     "GROUP BY needs a category column or an integer column with a declared RANGE of at most 1048576 "
     "values, but `hours` is integer without a declared RANGE"},
    {"INSERT INTO out SELECT COUNT(*) AS n FROM persons GROUP BY balance;", counted, "1:60: ",
     "but `balance` is decimal"},
    {"INSERT INTO out SELECT age FROM persons WHERE age = 'x';", out_age(), "1:53: ",
     "a 'text' literal can only be compared with a category column"},
    {"INSERT INTO out SELECT age FROM persons WHERE " + std::string(300, '(') + "age > 3"
       + std::string(300, ')') + ";",
     out_age(), "1:", "nested too deeply"},
    {"INSERT INTO out SELECT age FROM persons WHERE age > 99999999999999999999;", out_age(),
     "1:53: ", "is too large"},
    {"INSERT INTO out SELECT age FROM persons;", {table("out", {integer("age", 0, 120)}, 10)},
     "1:13: ", "this select may write 1000000 rows but `out` declares at most 10"},
    {"INSERT INTO out SELECT age + 1 FROM persons;", out_age(), "1:24: ",
     "name this select item with AS age"},
    {"INSERT INTO out SELECT SUM(income) / SUM(balance) AS total FROM persons;", out_total(), "1:38: ",
     "divisor SUM(balance) may be zero or negative"},
    {"INSERT INTO out SELECT ROUND(income) AS total FROM persons;", out_total(), "1:36: ",
     "expected `,` and the number of decimals in ROUND(value, decimals)"},
    {"INSERT INTO out SELECT ROUND(income, 13) AS total FROM persons;", out_total(), "1:38: ",
     "ROUND to 13 decimals: at most 12"},
    {"INSERT INTO out SELECT ROUND(income, age) AS total FROM persons;", out_total(), "1:38: ",
     "a whole number of decimals, 0 to 12"},
    {"INSERT INTO out SELECT ROUND(region, 1) AS total FROM persons;", out_total(), "1:30: ",
     "ROUND needs a number, but region is category"},
    {"INSERT INTO out SELECT ROUND(hours, 1) AS total FROM persons;", out_total(), "1:24: ",
     "hours"},
  };
}

std::string compile_error_of(const broken& b) {
  auto r = sql::compile(b.source, inputs(), b.outputs, b.quality);
  if (r)
    return "(compiled)";
  BOOST_CHECK(r.err().code == errc::compile_error);
  return r.err().message;
}

} // namespace

BOOST_AUTO_TEST_CASE(broken_programs_report_place_and_reason) {
  auto cases = broken_programs();
  BOOST_TEST(cases.size() >= 30u);
  for (const auto& b : cases) {
    auto msg = compile_error_of(b);
    BOOST_TEST_CONTEXT(b.source) {
      BOOST_TEST(msg.rfind(b.prefix, 0) == 0, "message: " << msg << "; expected prefix " << b.prefix);
      BOOST_TEST(msg.find(b.phrase) != std::string::npos,
                 "message: " << msg << "; expected phrase " << b.phrase);
    }
  }
}

BOOST_AUTO_TEST_CASE(quality_check_errors_name_the_input) {
  auto outs = out_age();
  const std::string main = "INSERT INTO out SELECT age FROM persons;";
  struct q_case {
    std::string source;
    std::string expected_start;
  };
  std::vector<q_case> cases = {
    {"CHECK age BETWEEN 0 AND 120;\nCHECK agee > 0;",
     "quality check of `persons`, 2:7: unknown column `agee`"},
    {"CHECK age > 0 AND COUNT(*) > 10;",
     "quality check of `persons`, 1:7: `age` is a row value in a CHECK that also aggregates"},
    {"CHECK age + 1;", "quality check of `persons`, 1:7: CHECK needs a condition (boolean)"},
    {"CHECK amount > 0;", "quality check of `persons`, 1:7: unknown column `amount`"},
    {"CHECK age > 0", "quality check of `persons`, 1:14: expected `;`"},
    {"", "quality check of `persons`, 1:1: the data-quality check is empty"},
  };
  for (const auto& c : cases) {
    auto r = sql::compile(main, inputs(), outs, {{"persons", c.source}});
    BOOST_TEST_CONTEXT(c.source) {
      BOOST_TEST_REQUIRE(!r);
      BOOST_TEST((r.err().code == errc::compile_error));
      BOOST_TEST(r.err().message.rfind(c.expected_start, 0) == 0, "message: " << r.err().message);
    }
  }
  auto r = sql::compile(main, inputs(), outs, {{"nobody", "CHECK 1 = 1;"}});
  BOOST_TEST_REQUIRE(!r);
  BOOST_TEST(r.err().message.find("quality check of `nobody`: no input is called `nobody`") == 0);
}

BOOST_AUTO_TEST_CASE(invalid_schema_is_malformed_input) {
  auto bad = table("out", {integer("age", 10, 0)});
  auto r = sql::compile("INSERT INTO out SELECT age FROM persons;", inputs(), {bad});
  BOOST_TEST_REQUIRE(!r);
  BOOST_TEST((r.err().code == errc::malformed_input));
  auto dup = sql::compile("INSERT INTO persons SELECT age FROM persons;", inputs(),
                          {table("persons", {integer("age", 0, 120)})});
  BOOST_TEST_REQUIRE(!dup);
  BOOST_TEST((dup.err().code == errc::malformed_input));
}

BOOST_AUTO_TEST_CASE(projection_program_features_and_disclosures) {
  auto outs = std::vector<table_schema>{
    table("adults", {integer("age", 0, 120), decimal("income", 2, 0, 0), boolean("flag")}, 1'000'000)};
  auto r = sql::compile("-- adults and their income\n"
                        "insert into adults select age, income, employed AS flag\n"
                        "  from persons where age >= 18 and region in ('North', 'East');",
                        inputs(), outs);
  BOOST_TEST_REQUIRE(r.ok(), (r ? "" : r.err().message));
  BOOST_TEST(r->features() == (std::vector<std::string>{"select", "where"}),
             boost::test_tools::per_element());
  BOOST_TEST(r->disclosures()
               == (std::vector<std::string>{
                 "the number of rows of every input (`persons`, `incomes` and `big`) and the shape "
                 "of the program (its operations, in order, and the number of rows each handles) "
                 "are known to the Computing Parties"}),
             boost::test_tools::per_element());
  BOOST_TEST(r->inputs().size() == 3u);
  BOOST_TEST(r->outputs()[0].name == "adults");
}

BOOST_AUTO_TEST_CASE(many_groups_are_formed_by_sorting_and_few_by_masks) {
  // 10^4 groups over 1000 rows: the sort (about 1.4 (n + G) log2(n + G) comparisons) is far cheaper
  // than 10^7 equality tests; 3 groups over 10^6 rows: the masks. Neither adds a disclosure
  // beyond the row counts and the groups without rows.
  auto out = std::vector<table_schema>{table("out", {integer("n", 0, 1'000'000)}, 1u << 20)};
  auto many = sql::compile("INSERT INTO out SELECT COUNT(*) AS n FROM big GROUP BY c100, d100;", inputs(), out);
  BOOST_REQUIRE_MESSAGE(many, (many ? "" : many.err().describe()));
  BOOST_TEST(many->features() == (std::vector<std::string>{"select", "group_by", "group_by.sorted", "aggregate.count"}),
             boost::test_tools::per_element());
  BOOST_TEST(many->disclosures().size() == 2u);
  auto few = sql::compile("INSERT INTO out SELECT COUNT(*) AS n FROM persons GROUP BY region;", inputs(), out);
  BOOST_REQUIRE_MESSAGE(few, (few ? "" : few.err().describe()));
  BOOST_TEST(few->features() == (std::vector<std::string>{"select", "group_by", "aggregate.count"}),
             boost::test_tools::per_element());
  // A ranged integer groups by its values: 1000 groups over 1000 rows, sorted.
  auto coded = sql::compile("INSERT INTO out SELECT COUNT(*) AS n FROM big GROUP BY code;", inputs(), out);
  BOOST_REQUIRE_MESSAGE(coded, (coded ? "" : coded.err().describe()));
  BOOST_TEST((std::find(coded->features().begin(), coded->features().end(), "group_by.sorted")
              != coded->features().end()));
  // 2^20 groups are the most: c100 x d100 x (a hundred codes) is refused above.
}

BOOST_AUTO_TEST_CASE(full_program_features_and_disclosures) {
  auto outs = std::vector<table_schema>{
    table("by_region", {category("region", {"North", "South", "East"}), integer("n", 0, 0),
                        decimal("mean_income", 2, 0, 0), decimal("ratio", 3, 0, 0)}),
    table("joined", {integer("total", 0, 0), decimal("slope", 4, 0, 0)}),
    table("spread", {decimal("sd", 4, 0, 0), decimal("v", 4, 0, 0), decimal("c", 4, 0, 0),
                     decimal("i", 1, 0, 0), integer("lo", 0, 0), integer("hi", 0, 0), decimal("med", 1, 0, 0),
                     decimal("p90", 1, 0, 0), integer("q1", 0, 0)})};
  const std::string main =
    "INSERT INTO by_region\n"
    "SELECT region, COUNT(*) AS n, AVG(income) AS mean_income,\n"
    "       SUM(CASE WHEN employed THEN 1 ELSE 0 END) / MAX(weight) AS ratio\n"
    "FROM persons WHERE age BETWEEN 18 AND 65 GROUP BY region HAVING COUNT(*) >= 10;\n"
    "INSERT INTO joined\n"
    "SELECT SUM(amount) AS total, REGR_SLOPE(persons.age, incomes.weight) AS slope\n"
    "FROM persons JOIN incomes ON incomes.id = persons.id;\n"
    "INSERT INTO spread SELECT STDDEV_SAMP(age) AS sd, VAR_SAMP(age) AS v, CORR(age, weight) AS c,\n"
    "  ROUND(REGR_INTERCEPT(age, weight), 1) AS i, MIN(age) AS lo, MAX(age) AS hi, MEDIAN(age) AS med,\n"
    "  PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY age) AS p90, PERCENTILE_DISC(0.25) WITHIN GROUP (ORDER BY age) AS q1\n"
    "FROM persons;\n";
  auto r = sql::compile(main, inputs(), outs,
                        {{"incomes", "CHECK amount >= 0; CHECK COUNT(*) >= 100;"},
                         {"persons", "CHECK age BETWEEN 0 AND 120;"}});
  BOOST_TEST_REQUIRE(r.ok(), (r ? "" : r.err().message));
  // Every feature but UNION ALL (sql_union_test), the sorted grouping, the joins' variants
  // (sql_compiler_test_joins.cpp), aggregates beyond the ring (sql_wide_test), ORDER BY ... LIMIT
  // (sql_compiler_test_order.cpp) and the population moments, covariances and REGR_R2
  // (sql_compiler_test_moments.cpp), GROUP BY expressions, WIDTH_BUCKET and COUNT(DISTINCT x)
  // and GROUP BY ROLLUP (sql_compiler_test_groups.cpp), and the dominance rule
  // (sql_compiler_test_dominance.cpp).
  auto all_but_union = sql::all_features();
  for (const auto* other :
       {"union", "group_by.sorted", "join.one_to_many", "join.several", "join.union", "aggregate.wide",
        "order_by_limit", "aggregate.var_pop", "aggregate.stddev_pop", "aggregate.covar_samp", "aggregate.covar_pop",
        "aggregate.regr_r2", "group_by.expression", "width_bucket", "aggregate.count_distinct", "having.dominance",
        "group_by.rollup", "null"})
    std::erase(all_but_union, other);
  BOOST_TEST(r->features() == all_but_union, boost::test_tools::per_element());
  // The keys of a one-to-one join of undeclared keys, which each custodian's node checks for
  // repeats at upload.
  BOOST_TEST(r->unique_columns("persons") == (std::vector<std::string>{"id"}), boost::test_tools::per_element());
  BOOST_TEST(r->unique_columns("incomes") == (std::vector<std::string>{"id"}), boost::test_tools::per_element());
  BOOST_TEST(r->unique_columns("big").empty());
  BOOST_TEST(r->unique_columns("nobody").empty());
  std::vector<std::string> expected{
    "the number of rows of every input (`persons`, `incomes` and `big`) and the shape of the "
    "program (its operations, in order, and the number of rows each handles) are known to the "
    "Computing Parties",
    "whether the join keys of `persons` and of `incomes` are unique among their rows is revealed "
    "to the Computing Parties (the run stops if they are not)",
    "`by_region` writes a row only for a group that has rows, so which of its groups have none is "
    "revealed to the analyst",
    "the data-quality check of `persons` reveals, for each upload of it, whether all its checks passed "
    "(one bit), to the Computing Parties, the custodian who uploaded it and, in the task's events, its peers",
    "the data-quality check of `incomes` reveals, for each upload of it, whether all its checks passed "
    "(one bit), to the Computing Parties, the custodian who uploaded it and, in the task's events, its peers"};
  BOOST_TEST(r->disclosures() == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(accepted_edge_programs) {
  // Unbounded columns may be compared with constants and copied; a decimal may be written with
  // fewer digits (rounded down); text and IN work on categories; booleans may be summed.
  auto outs = std::vector<table_schema>{
    table("a", {unbounded("hours"), decimal("balance", 1, 0, 0), boolean("b")}, 1'000'000),
    table("b", {integer("n", 0, 0), decimal("share", 4, 0, 0)})};
  auto r = sql::compile(
    "INSERT INTO a SELECT hours, balance, NOT (region NOT IN ('South') OR sex <> 'F') AS b\n"
    "  FROM persons WHERE hours > 40 AND hours NOT BETWEEN 60 AND 70;\n"
    "INSERT INTO b SELECT SUM(employed) AS n, AVG(employed) AS share FROM persons;",
    inputs(), outs);
  BOOST_TEST_REQUIRE(r.ok(), (r ? "" : r.err().message));
  BOOST_TEST(r->features()
               == (std::vector<std::string>{"select", "where", "aggregate.sum", "aggregate.avg"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_sum_over_its_count_is_a_mean_within_the_values_range) {
  // SUM(income) / COUNT(*) over 10^6 rows of incomes up to 10^8 EUR: as a quotient of bounds it
  // could reach 10^14 (refused), as a mean it stays within [0, 10^8], like SUM(x w) / SUM(w). Over
  // COUNT(income) too; over a count of another column or of distinct values it is no mean.
  auto out = std::vector<table_schema>{table("out", {decimal("m", 2)}, 1)};
  for (const char* divisor : {"COUNT(*)", "COUNT(income)"}) {
    auto r = sql::compile(std::string{"INSERT INTO out SELECT SUM(income) / "} + divisor + " AS m FROM persons;",
                          inputs(), out);
    BOOST_TEST_REQUIRE(r.ok(), (r ? "" : r.err().message));
    const auto& m = *r->impl().statements.at(0).items.at(0).value;
    BOOST_TEST(static_cast<double>(m.range.hi) <= 1e8 * 0x1p24 * (1 + 0x1p-27) + 3);
  }
  for (const char* divisor : {"COUNT(age)", "COUNT(DISTINCT age)"}) {
    auto r = sql::compile(std::string{"INSERT INTO out SELECT SUM(income) / "} + divisor + " AS m FROM persons;",
                          inputs(), out);
    BOOST_TEST_REQUIRE(!r.ok(), divisor);
    BOOST_TEST(r.err().message.find("1:24: SUM(income) / " + std::string{divisor} + " may reach") == 0,
               r.err().message);
  }
}

BOOST_AUTO_TEST_CASE(the_columns_written_from_fixed_point_values_are_named) {
  // Whole statistics, means, quotients and medians are exact; a statistic inside an expression, or
  // a mean whose exact form does not fit, is the fixed-point value (approximate_columns).
  auto out = std::vector<table_schema>{
    table("o", {category("region", {"North", "South", "East"}), decimal("sd", 2), decimal("sd2", 2),
                decimal("med", 1), decimal("m", 2), decimal("a", 2), decimal("q", 3)},
          3),
    table("p", {decimal("r", 4)}, 1)};
  auto r = sql::compile("INSERT INTO o SELECT region, STDDEV_SAMP(age) AS sd, STDDEV_SAMP(age) * 2 AS sd2,\n"
                        "  MEDIAN(age) AS med, SUM(income) / COUNT(*) AS m, AVG(age) AS a, AVG(age) / 7 AS q\n"
                        "FROM persons GROUP BY region;\n"
                        "INSERT INTO p SELECT CORR(age, weight) * 1 AS r FROM persons;",
                        inputs(), out);
  BOOST_TEST_REQUIRE(r.ok(), (r ? "" : r.err().message));
  BOOST_TEST(r->approximate_columns() == (std::vector<std::string>{"o.sd2", "o.q", "p.r"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(malformed_input_never_crashes) {
  const std::string valid =
    "INSERT INTO out SELECT region, COUNT(*) AS n, AVG(income) AS mean\n"
    "FROM persons JOIN incomes ON persons.id = incomes.id\n"
    "WHERE age BETWEEN 18 AND 65 AND (sex = 'F' OR amount > 10) AND region IN ('North')\n"
    "GROUP BY region HAVING COUNT(*) >= 5; -- done\n";
  auto outs = std::vector<table_schema>{table(
    "out", {category("region", {"North", "South", "East"}), integer("n", 0, 0), decimal("mean", 2, 0, 0)})};
  auto first = sql::compile(valid, inputs(), outs);
  BOOST_TEST_REQUIRE(first.ok(), (first ? "" : first.err().message));
  std::size_t errors = 0;
  for (std::size_t len = 0; len < valid.size(); ++len) {
    auto r = sql::compile(valid.substr(0, len), inputs(), outs, {{"persons", valid.substr(0, len)}});
    if (!r) {
      ++errors;
      BOOST_TEST((r.err().code == errc::compile_error));
    }
  }
  BOOST_TEST(errors == valid.size());
  std::mt19937 rng(12345);
  const std::string alphabet = "INSERTOSELCFROMWHEGUPBYAVHN()*,;.'=<>-+/ \n0123456789agepsonrcmit_";
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    auto len = rng() % 120;
    for (std::size_t i = 0; i < len; ++i)
      text += round % 2 == 0 ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()];
    auto r = sql::compile(text, inputs(), outs, {{"incomes", text}});
    if (!r)
      BOOST_TEST((r.err().code == errc::compile_error));
  }
  // Mutations of the valid program: one byte replaced.
  for (int round = 0; round < 2000; ++round) {
    auto text = valid;
    text[rng() % text.size()] = alphabet[rng() % alphabet.size()];
    auto r = sql::compile(text, inputs(), outs);
    if (!r)
      BOOST_TEST((r.err().code == errc::compile_error));
  }
}
