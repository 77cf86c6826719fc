// GROUP BY expressions (a CASE with constant results, WIDTH_BUCKET), WIDTH_BUCKET itself and
// COUNT(DISTINCT x) in the compiler: what each accepts, the groups it forms, its features (and
// that it adds no disclosure), and each refusal with its place and what to write instead.

#include "joconde/engines/sql/ast.hpp"
#include "joconde/engines/sql/compiler.hpp"

#include "schema_builders.hpp"
#include "source_place.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <string>
#include <vector>

using namespace joconde;
using namespace joconde::engines;
using namespace joconde::test;

namespace {

const std::vector<std::string> regions{"North", "South", "East"};

/// persons(id key, age [0, 120], income decimal(2) [0, 10^10], region, sex, employed, hours
/// unbounded, balance decimal(2) [-10^6, 10^6]), at most 10^6 rows; jobs(person_id key, wage [0,
/// 10^5]), 1000 rows.
std::vector<table_schema> inputs() {
  return {table("persons",
                {key("id"), integer("age", 0, 120), decimal("income", 2, 0, 10'000'000'000),
                 category("region", regions), category("sex", {"F", "M"}), boolean("employed"), unbounded("hours"),
                 decimal("balance", 2, -1'000'000, 1'000'000)},
                1'000'000),
          table("jobs", {key("person_id"), integer("wage", 0, 100'000)})};
}

/// An output `o` of integer columns, but a category of the values `bands` for "band", of the
/// regions for "region" and decimal(2) for "total".
table_schema out(const std::vector<std::string>& columns, const std::vector<std::string>& bands = {"young", "old"}) {
  std::vector<column_schema> cols;
  for (const auto& c : columns)
    cols.push_back(c == "band"     ? category(c, bands)
                   : c == "region" ? category(c, regions)
                   : c == "total"  ? decimal(c, 2, 0, 0)
                                   : integer(c, 0, 0));
  return table("o", std::move(cols), 1'000'000);
}

sql::program accepted(const std::string& source, table_schema o) {
  auto r = sql::compile(source, inputs(), {std::move(o)});
  BOOST_TEST_REQUIRE(r.ok(), source << ": " << (r ? std::string{} : r.err().message));
  return r.value();
}

struct refused {
  std::string source;
  table_schema o;
  std::string where;   ///< the text the error must point at
  std::string phrase;  ///< a key phrase of the message
};

void check_refusals(const std::vector<refused>& cases) {
  for (const auto& c : cases)
    expect_refused(sql::compile(c.source, inputs(), {c.o}), c.source, c.where, c.phrase);
}

const sql::select_stmt& only_statement(const sql::program& p) {
  return p.impl().statements.at(0);
}

const std::string young_old = "CASE WHEN age < 30 THEN 'young' ELSE 'old' END";

} // namespace

BOOST_AUTO_TEST_CASE(a_case_of_constants_groups_by_its_values) {
  // By its AS name: the groups are its 'text' results in order of first appearance; no disclosure.
  auto named = accepted("INSERT INTO o SELECT " + young_old + " AS band, COUNT(*) AS n FROM persons GROUP BY band;",
                        out({"band", "n"}));
  BOOST_TEST(named.features() == (std::vector<std::string>{"select", "group_by", "group_by.expression", "case",
                                                            "aggregate.count"}),
             boost::test_tools::per_element());
  BOOST_TEST(named.disclosures().size() == 2u);  // the row counts, the groups without rows
  BOOST_TEST(only_statement(named).groups == 2u);
  // Written out, beside a column, the first key varying slowest; whole numbers in increasing order
  // with the implicit 0 of a CASE without ELSE; repeated texts once.
  auto written = accepted("INSERT INTO o SELECT region, CASE WHEN age < 18 THEN 5 WHEN age > 65 THEN -5 END AS code,\n"
                          "  COUNT(*) AS n FROM persons\n"
                          "GROUP BY region, CASE WHEN age < 18 THEN 5 WHEN age > 65 THEN -5 END;",
                          out({"region", "code", "n"}));
  const auto& s = only_statement(written);
  BOOST_TEST(s.groups == 9u);
  BOOST_TEST(s.group_by.at(1).values == (std::vector<std::int64_t>{-5, 0, 5}), boost::test_tools::per_element());
  BOOST_TEST(s.group_by.at(1).codes == (std::vector<word>{2, 0, 1}), boost::test_tools::per_element());
  auto repeated = accepted("INSERT INTO o SELECT CASE WHEN age < 30 THEN 'young' WHEN age > 90 THEN 'young' ELSE 'old'"
                           " END AS band, COUNT(*) AS n FROM persons GROUP BY band;",
                           out({"band", "n"}));
  BOOST_TEST(only_statement(repeated).groups == 2u);
  // A key not in the select list; an AS name that is a column groups by that column; an AS name
  // wins over an input column of the same name (like ORDER BY's).
  accepted("INSERT INTO o SELECT COUNT(*) AS n FROM persons GROUP BY " + young_old + ";", out({"n"}));
  auto plain = accepted("INSERT INTO o SELECT region AS area, COUNT(*) AS n FROM persons GROUP BY area;",
                        table("o", {category("area", regions), integer("n", 0, 0)}));
  BOOST_TEST((plain.features() == std::vector<std::string>{"select", "group_by", "aggregate.count"}));
  auto shadow = accepted("INSERT INTO o SELECT CASE WHEN region = 'North' THEN 'north' ELSE 'other' END AS region,\n"
                         "  COUNT(*) AS n FROM persons GROUP BY region;",
                         table("o", {category("region", {"north", "other"}), integer("n", 0, 0)}));
  BOOST_TEST(only_statement(shadow).groups == 2u);
  // An AS name that cannot be a key leaves the name to the input column.
  auto column = accepted("INSERT INTO o SELECT age + 1 AS age, COUNT(*) AS n FROM persons GROUP BY age;",
                         out({"age", "n"}));
  BOOST_TEST(only_statement(column).groups == 121u);
  // ORDER BY the key by its name or written out; an aggregate of the CASE is no key.
  accepted("INSERT INTO o SELECT " + young_old + " AS band, COUNT(*) AS n FROM persons GROUP BY band\n"
           "ORDER BY " + young_old + " DESC LIMIT 1;",
           out({"band", "n"}));
  accepted("INSERT INTO o SELECT " + young_old + " AS band, SUM(CASE WHEN age < 30 THEN 1 ELSE 0 END) AS n\n"
           "FROM persons GROUP BY band;",
           out({"band", "n"}));
  // On rows, a CASE of texts is a category: written to one, compared with its texts.
  accepted("INSERT INTO o SELECT " + young_old + " AS band FROM persons WHERE " + young_old + " <> 'old';",
           out({"band"}));
}

BOOST_AUTO_TEST_CASE(group_by_keys_without_known_values_are_refused_saying_what_to_write) {
  const std::string band = young_old + " AS band";
  check_refusals({
    {"INSERT INTO o SELECT COUNT(*) AS n FROM persons GROUP BY CASE WHEN age < 30 THEN age ELSE 0 END;", out({"n"}),
     "age ELSE", "a CASE in GROUP BY needs constant results ('text' or whole numbers)"},
    {"INSERT INTO o SELECT CASE WHEN age < 30 THEN 1.5 ELSE 2 END AS b, COUNT(*) AS n FROM persons GROUP BY b;",
     out({"b", "n"}), "CASE", "gives 'text' constants or whole numbers, but CASE WHEN age < 30 THEN 1.5 ELSE 2 END gives "
                              "decimal(1) values"},
    {"INSERT INTO o SELECT COUNT(*) AS n FROM persons GROUP BY n;", out({"n"}), "n;",
     "GROUP BY n: the select item `n` is COUNT(*), an aggregate"},
    {"INSERT INTO o SELECT age + 1 AS a, COUNT(*) AS n FROM persons GROUP BY a;", out({"a", "n"}), "a;",
     "GROUP BY a (age + 1): its values are not known before the data; GROUP BY takes category columns"},
    {"INSERT INTO o SELECT COUNT(*) AS n FROM persons GROUP BY 1;", out({"n"}), "1;",
     "groups are named, not numbered"},
    {"INSERT INTO o SELECT " + band + ", COUNT(*) AS n FROM persons GROUP BY band, " + young_old + ";",
     out({"band", "n"}), "CASE WHEN age < 30 THEN 'young' ELSE 'old' END;", "appears twice in GROUP BY (first at 1:"},
    {"INSERT INTO o SELECT CASE WHEN age < 30 THEN 'young' END AS band, COUNT(*) AS n FROM persons GROUP BY band;",
     out({"band", "n"}), "CASE", "a CASE giving 'text' values needs an ELSE branch"},
    {"INSERT INTO o SELECT CASE WHEN age < 30 THEN 'young' ELSE 3 END AS band FROM persons;", out({"band"}), "3 END",
     "make every result a 'text' constant"},
    {"INSERT INTO o SELECT " + band + ", age, COUNT(*) AS n FROM persons GROUP BY band;", out({"band", "age", "n"}),
     "age, COUNT", "`age` is neither in GROUP BY nor inside an aggregate"},
    {"INSERT INTO o SELECT CASE WHEN age < 31 THEN 'young' ELSE 'old' END AS band, COUNT(*) AS n FROM persons\n"
     "GROUP BY " + young_old + ";",
     out({"band", "n"}), "age < 31", "`age` is neither in GROUP BY"},
    {"INSERT INTO o SELECT " + band + ", COUNT(*) AS n FROM persons GROUP BY band;", out({"band", "n"}, {"old", "young"}),
     "CASE", "with other declared values"},
    {"INSERT INTO o SELECT COUNT(*) AS n FROM persons GROUP BY CASE WHEN SUM(age) > 3 THEN 'a' ELSE 'b' END;",
     out({"n"}), "SUM", "aggregates are not allowed in GROUP BY"},
    {"INSERT INTO o SELECT COUNT(*) AS n FROM persons GROUP BY hours;", out({"n"}), "hours;",
     "group by bands of it: WIDTH_BUCKET(hours, low, high, n) or a CASE with constant results"},
  });
}

BOOST_AUTO_TEST_CASE(width_bucket_is_a_bounded_integer_and_a_group_key) {
  // n + 2 values 0..n+1: a key of n + 2 groups by its AS name or written out, beside a column
  // (36 groups over 10^6 rows: sorted).
  auto p = accepted("INSERT INTO o SELECT WIDTH_BUCKET(age, 0, 100, 10) AS bucket, region, COUNT(*) AS n\n"
                    "FROM persons GROUP BY bucket, region;",
                    out({"bucket", "region", "n"}));
  BOOST_TEST(p.features() == (std::vector<std::string>{"select", "group_by", "group_by.sorted", "group_by.expression",
                                                        "width_bucket", "aggregate.count"}),
             boost::test_tools::per_element());
  BOOST_TEST(p.disclosures().size() == 2u);
  const auto& s = only_statement(p);
  BOOST_TEST(s.groups == 36u);
  const auto& bucket = *s.items[0].value;
  BOOST_TEST(static_cast<std::int64_t>(bucket.range.lo) == 0);
  BOOST_TEST(static_cast<std::int64_t>(bucket.range.hi) == 11);
  // Ten buckets: by an exact division; five: by their edges, L + ceil(k (H - L) / n), here in
  // cents (x's decimals) from 10.50: 1050, 1110, 1170, 1230, 1290, 1350.
  BOOST_TEST(bucket.bucket.edges.empty());
  BOOST_TEST(bucket.bucket.division.divisor == 100u);
  auto edges = accepted("INSERT INTO o SELECT WIDTH_BUCKET(balance, 10.5, 13.5, 5) AS b FROM persons;", out({"b"}));
  BOOST_TEST(only_statement(edges).items[0].value->bucket.edges
               == (std::vector<word>{1050, 1110, 1170, 1230, 1290, 1350}),
             boost::test_tools::per_element());
  accepted("INSERT INTO o SELECT COUNT(*) AS n FROM persons GROUP BY WIDTH_BUCKET(income, 0, 100000, 1000);", out({"n"}));
  // An unbounded integer against whole bounds (no rescaling), negative and decimal bounds, in
  // WHERE, of an aggregate.
  accepted("INSERT INTO o SELECT WIDTH_BUCKET(hours, 0, 80, 8) AS b FROM persons\n"
           "WHERE WIDTH_BUCKET(balance, -100.25, 100.25, 3) = 2;",
           out({"b"}));
  accepted("INSERT INTO o SELECT region, WIDTH_BUCKET(AVG(age), 0, 120, 12) AS b FROM persons GROUP BY region;",
           out({"region", "b"}));
}

BOOST_AUTO_TEST_CASE(width_bucket_refuses_what_it_cannot_bound) {
  const auto o = out({"b"});
  check_refusals({
    {"INSERT INTO o SELECT WIDTH_BUCKET(age, 0, age + 1, 10) AS b FROM persons;", o, "age + 1",
     "WIDTH_BUCKET(x, low, high, n): high must be a constant number, but age + 1 is not"},
    {"INSERT INTO o SELECT WIDTH_BUCKET(age, 0, 100, 0) AS b FROM persons;", o, "0) AS",
     "n, the number of buckets, must be a whole number from 1 to 1000, but it is 0"},
    {"INSERT INTO o SELECT WIDTH_BUCKET(age, 0, 100, 1001) AS b FROM persons;", o, "1001",
     "from 1 to 1000, but it is 1001"},
    {"INSERT INTO o SELECT WIDTH_BUCKET(age, 0, 100, 2.5) AS b FROM persons;", o, "2.5", "must be a whole number"},
    {"INSERT INTO o SELECT WIDTH_BUCKET(age, 0, 100, age) AS b FROM persons;", o, "age) AS",
     "n must be a constant number, but age is not"},
    {"INSERT INTO o SELECT WIDTH_BUCKET(age, 50, 50, 5) AS b FROM persons;", o, "50, 50",
     "low (50) must be below high (50)"},
    {"INSERT INTO o SELECT WIDTH_BUCKET(region, 0, 3, 3) AS b FROM persons;", o, "region,",
     "WIDTH_BUCKET needs a number x, but region is category"},
    {"INSERT INTO o SELECT WIDTH_BUCKET(age, 0, 100) AS b FROM persons;", o, "WIDTH_BUCKET",
     "WIDTH_BUCKET takes 4 arguments, 3 given"},
    {"INSERT INTO o SELECT WIDTH_BUCKET(income, 0, 40000000000000000.00, 1000) AS b FROM persons;", o,
     "WIDTH_BUCKET", "(high - low) n reaches 4e21 in x's smallest units, too close to the ring's 2^62"},
    {"INSERT INTO o SELECT WIDTH_BUCKET(hours, 0.5, 10, 10) AS b FROM persons;", o, "WIDTH_BUCKET",
     "`hours` has no declared RANGE"},
    {"INSERT INTO o SELECT WIDTH_BUCKET(age, 0, 100, 10) AS b, COUNT(*) AS n FROM persons;", out({"b", "n"}),
     "age, 0", "`age` is neither in GROUP BY nor inside an aggregate"},
  });
}

BOOST_AUTO_TEST_CASE(count_distinct_counts_keys_categories_booleans_and_whole_numbers) {
  // A count in [0, max_rows], overall or per group, of a key (keys are refused elsewhere outside
  // JOIN ... ON), a category, a boolean, a bounded whole number or an expression of them; no
  // disclosure; ORDER BY tells it from COUNT(*).
  auto p = accepted("INSERT INTO o SELECT region, COUNT(DISTINCT id) AS ids, COUNT(DISTINCT sex) AS sexes,\n"
                    "  COUNT(DISTINCT employed) AS flags, COUNT(DISTINCT ROUND(age / 10, 0)) AS n, COUNT(DISTINCT ROUND(income, 0))\n"
                    "  AS total FROM persons GROUP BY region ORDER BY COUNT(DISTINCT id) DESC LIMIT 2;",
                    table("o", {category("region", regions), integer("ids", 0, 0), integer("sexes", 0, 0),
                                integer("flags", 0, 0), integer("n", 0, 0), integer("total", 0, 0)}, 2));
  BOOST_TEST(p.features() == (std::vector<std::string>{"select", "group_by", "order_by_limit", "division", "round",
                                                        "aggregate.count_distinct"}),
             boost::test_tools::per_element());
  BOOST_TEST(p.disclosures().size() == 3u);  // the row counts, the groups without rows, ORDER BY ... LIMIT's
  const auto& ids = *only_statement(p).items[1].value;
  BOOST_TEST(static_cast<std::int64_t>(ids.range.hi) == 1'000'000);
  // Of a join's key, qualified; in a data-quality check: the uniqueness of a key among the rows.
  accepted("INSERT INTO o SELECT COUNT(DISTINCT persons.id) AS n FROM jobs JOIN persons ON jobs.person_id = persons.id;",
           out({"n"}));
  auto q = sql::compile("INSERT INTO o SELECT COUNT(*) AS n FROM persons;", inputs(), {out({"n"})},
                        {{"persons", "CHECK COUNT(DISTINCT id) = COUNT(*);"}});
  BOOST_TEST_REQUIRE(q.ok(), (q ? std::string{} : q.err().message));
  check_refusals({
    {"INSERT INTO o SELECT COUNT(DISTINCT region) AS n FROM persons GROUP BY region ORDER BY COUNT(*) LIMIT 1;",
     out({"n"}), "COUNT(*) LIMIT", "ORDER BY COUNT(*) is not in the select list"},
  });
}

BOOST_AUTO_TEST_CASE(count_distinct_refuses_what_it_cannot_compare) {
  const auto o = out({"n"});
  check_refusals({
    {"INSERT INTO o SELECT COUNT(DISTINCT income) AS n FROM persons;", o, "income",
     "COUNT(DISTINCT x) counts keys, categories, booleans and whole numbers, but income is decimal(2), whose values "
     "rarely repeat exactly; count whole values, COUNT(DISTINCT ROUND(income, 0)), or bands, COUNT(DISTINCT "
     "WIDTH_BUCKET(income, low, high, n))"},
    {"INSERT INTO o SELECT COUNT(DISTINCT age / 7) AS n FROM persons;", o, "age /", "is fixed-point number"},
    {"INSERT INTO o SELECT COUNT(DISTINCT hours) AS n FROM persons;", o, "hours",
     "`hours` has no declared RANGE, so COUNT(DISTINCT hours) cannot be proven to fit the ring"},
    {"INSERT INTO o SELECT COUNT(DISTINCT 'North') AS n FROM persons;", o, "'North'", "'North' is a constant"},
    {"INSERT INTO o SELECT SUM(DISTINCT age) AS n FROM persons;", o, "DISTINCT",
     "DISTINCT is only for COUNT(DISTINCT x), the number of distinct values; SUM takes every row: write SUM(x)"},
    {"INSERT INTO o SELECT COUNT(DISTINCT age, sex) AS n FROM persons;", o, ", sex", "give one"},
    {"INSERT INTO o SELECT COUNT(DISTINCT *) AS n FROM persons;", o, "*)", "expected a value"},
    {"INSERT INTO o SELECT COUNT(DISTINCT MAX(age)) AS n FROM persons;", o, "MAX", "aggregates cannot be nested"},
    {"INSERT INTO o SELECT age AS n FROM persons WHERE COUNT(DISTINCT id) > 1;", o, "COUNT(DISTINCT",
     "aggregates are not allowed in WHERE"},
  });
}

namespace {

/// `o` for a ROLLUP: the regions and sexes with `_T`, then integers.
table_schema rolled(const std::vector<std::string>& columns) {
  std::vector<column_schema> cols;
  for (const auto& c : columns)
    cols.push_back(c == "region" ? category(c, {"North", "South", "East", "_T"})
                   : c == "sex"  ? category(c, {"F", "M", "_T"})
                   : c == "band" ? category(c, {"young", "old", "_T"})
                                 : integer(c, 0, 0));
  return table("o", std::move(cols), 1'000'000);
}

} // namespace

BOOST_AUTO_TEST_CASE(rollup_adds_the_margins_and_under_having_its_secondary_suppression) {
  // Three regions by two sexes: 6 cells, 3 margins and the grand total; no disclosure without HAVING.
  auto margins = accepted("INSERT INTO o SELECT region, sex, COUNT(*) AS n FROM persons GROUP BY ROLLUP(region, sex);",
                          rolled({"region", "sex", "n"}));
  BOOST_TEST(only_statement(margins).groups == 10u);
  BOOST_TEST(margins.features() == (std::vector<std::string>{"select", "group_by", "group_by.rollup", "aggregate.count"}),
             boost::test_tools::per_element());
  BOOST_TEST(margins.disclosures().size() == 2u);
  BOOST_TEST(margins.confidentiality("o").secondary_rule.empty());
  // Under HAVING, the cells it adds are disclosed and flagged (code 3, CONF_STATUS D).
  auto protected_ = accepted("INSERT INTO o SELECT " + young_old + " AS band, region, COUNT(*) AS n FROM persons\n"
                             "group by rollup(band, region) HAVING COUNT(*) >= 5;",
                             rolled({"band", "region", "n"}));
  BOOST_TEST(only_statement(protected_).groups == 2u * 4 + 1);
  BOOST_TEST(protected_.disclosures().size() == 3u);
  BOOST_TEST(protected_.disclosures().back()
             == "`o` withholds, besides the cells its rules withhold, the cell of fewest rows among the other cells of a "
                "margin where one cell alone would be withheld, so that no withheld cell follows from its total "
                "(CONF_STATUS D); which cells those are tells the analyst that they have the fewest rows there");
  BOOST_TEST(protected_.confidentiality("o").secondary_rule == secondary_rule);
  // One key; a key compared at the group level, where a margin's `_T` equals none of its values.
  auto one = accepted("INSERT INTO o SELECT region, COUNT(*) AS n, CASE WHEN region = 'North' THEN 1 ELSE 0 END AS north\n"
                      "FROM persons GROUP BY ROLLUP(region);",
                      rolled({"region", "n", "north"}));
  BOOST_TEST(only_statement(one).groups == 4u);
}

BOOST_AUTO_TEST_CASE(rollup_refusals_name_the_key_and_what_to_write) {
  check_refusals({
    {"INSERT INTO o SELECT age, COUNT(*) AS n FROM persons GROUP BY ROLLUP(age);", rolled({"age", "n"}), "age);",
     "GROUP BY ROLLUP writes `_T` for the keys a margin adds over, so its keys must be categories, but `age` is integer"},
    {"INSERT INTO o SELECT COUNT(*) AS n FROM persons GROUP BY ROLLUP(region, WIDTH_BUCKET(age, 0, 100, 4));",
     rolled({"n"}), "WIDTH_BUCKET", "`WIDTH_BUCKET(age, 0, 100, 4)` gives"},
    {"INSERT INTO o SELECT region, COUNT(*) AS n FROM persons GROUP BY ROLLUP(region);", out({"region", "n"}),
     "region,", "with other declared values; the output must declare the same values in the same order: ('North', "
     "'South', 'East', '_T'), `_T` last: what a GROUP BY ROLLUP margin writes for the keys it adds over"},
    {"INSERT INTO o SELECT COUNT(*) AS n FROM persons GROUP BY ROLLUP(CASE WHEN age < 30 THEN '_T' ELSE 'old' END);",
     rolled({"n"}), "CASE", "`CASE WHEN age < 30 THEN '_T' ELSE 'old' END` has a value `_T`"},
    {"INSERT INTO o SELECT COUNT(*) AS n FROM persons GROUP BY sex, ROLLUP(region);", rolled({"n"}), "ROLLUP",
     "GROUP BY ROLLUP(...) must be the whole GROUP BY"},
    {"INSERT INTO o SELECT COUNT(*) AS n FROM persons GROUP BY ROLLUP(region), sex;", rolled({"n"}), ", sex",
     "must be the whole GROUP BY"},
    {"INSERT INTO o SELECT COUNT(*) AS n FROM persons GROUP BY ROLLUP(region, sex;", rolled({"n"}), ";",
     "expected `)`"},
    {"INSERT INTO o SELECT region, COUNT(*) AS n FROM persons GROUP BY ROLLUP(region) ORDER BY n DESC LIMIT 2;",
     rolled({"region", "n"}), "ORDER", "ORDER BY ... LIMIT cannot cut a GROUP BY ROLLUP table"},
  });
}
