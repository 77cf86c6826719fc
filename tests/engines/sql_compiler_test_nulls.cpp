// Missing values (NULL) in the compiler: which expressions may be missing, IS [NOT] NULL, what WHERE
// ... IS NOT NULL lets a row output hold, and every place that has no room for a missing value,
// refused at its line and column with what to write instead; NULL in the schemas themselves.

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

/// survey(id key, age [0, 120] NULL, income decimal(2) NULL, region, employed NULL, hours [1, 80],
/// weight NULL), register(id key UNIQUE, code integer NULL).
std::vector<table_schema> inputs() {
  return {table("survey",
                {key("id"), nullable(integer("age", 0, 120)), nullable(decimal("income", 2, 0, 10'000'000)),
                 category("region", {"north", "south"}), nullable(boolean("employed")), integer("hours", 1, 80),
                 nullable(integer("weight", 0, 1000))},
                10'000),
          table("register", {unique(key("id")), nullable(integer("code", 0, 99))}, 10'000)};
}

result<sql::program> compiled(const std::string& source, std::vector<column_schema> out) {
  return sql::compile(source, inputs(), {table("o", std::move(out), 10'000)});
}

} // namespace

BOOST_AUTO_TEST_CASE(missing_values_are_typed_and_aggregates_skip_them) {
  auto r = compiled("INSERT INTO o SELECT region, COUNT(age) AS ages, AVG(income) AS mean,\n"
                    "  SUM(CASE WHEN age IS NULL THEN 1 ELSE 0 END) AS missing FROM survey\n"
                    "WHERE employed OR hours > 30 GROUP BY region;",
                    {category("region", {"north", "south"}), integer("ages", 0, 0), decimal("mean", 2),
                     integer("missing", 0, 0)});
  BOOST_TEST_REQUIRE(r.ok(), (r ? "" : r.err().message));
  const auto& s = r->impl().statements.at(0);
  BOOST_TEST(s.where->nullable);                                        // employed may be unknown
  BOOST_TEST(!s.items[1].value->nullable);                              // COUNT(age) never is
  BOOST_TEST(s.items[1].value->args[0]->nullable);                      // age is
  BOOST_TEST(!s.items[3].value->args[0]->nullable);                     // the CASE's results are constants
  BOOST_TEST(!s.items[3].value->args[0]->args[0]->nullable);            // IS NULL is true or false
  BOOST_TEST((std::find(r->features().begin(), r->features().end(), "null") != r->features().end()));
  // Rows: WHERE x IS NOT NULL (joined by AND) keeps x present in the select list.
  auto rows = compiled("INSERT INTO o SELECT age + 1 AS age, income FROM survey\n"
                       "WHERE hours > 2 AND (age IS NOT NULL AND income IS NOT NULL);",
                       {integer("age", 0, 0), decimal("income", 2)});
  BOOST_TEST(rows.ok(), (rows ? "" : rows.err().message));
  // A grouping key that names the missing values; IS NULL of a column that always has one.
  auto keyed = compiled("INSERT INTO o SELECT CASE WHEN age IS NULL THEN 'unknown' WHEN age < 30 THEN 'young'\n"
                        "  ELSE 'old' END AS band, COUNT(*) AS n FROM survey WHERE hours IS NOT NULL GROUP BY band;",
                        {category("band", {"unknown", "young", "old"}), integer("n", 0, 0)});
  BOOST_TEST(keyed.ok(), (keyed ? "" : keyed.err().message));
}

BOOST_AUTO_TEST_CASE(places_without_room_for_a_missing_value_are_refused) {
  struct refused {
    std::string source;
    std::vector<column_schema> out;
    std::string where;   ///< the text the error must point at
    std::string phrase;  ///< a key phrase of the message
  };
  const std::vector<refused> cases{
    {"INSERT INTO o SELECT age FROM survey;", {integer("age", 0, 0)}, "age FROM",
     "`age` may be missing (it reads a column declared NULL), but a row of `o` has no place for a missing value; "
     "keep only the rows that have it (WHERE age IS NOT NULL)"},
    {"INSERT INTO o SELECT age FROM survey WHERE age IS NOT NULL OR hours > 3;", {integer("age", 0, 0)}, "age FROM",
     "may be missing"},
    {"INSERT INTO o SELECT age, COUNT(*) AS n FROM survey GROUP BY age;", {integer("age", 0, 0), integer("n", 0, 0)},
     "age;", "GROUP BY `age`: it is declared NULL"},
    {"INSERT INTO o SELECT COUNT(*) AS n FROM survey GROUP BY WIDTH_BUCKET(income, 0, 100000, 4);",
     {integer("n", 0, 0)}, "WIDTH_BUCKET", "but GROUP BY has no place for a missing value"},
    {"INSERT INTO o SELECT COUNT(*) AS n FROM survey WHERE hours BETWEEN weight AND 80;", {integer("n", 0, 0)},
     "weight AND", "a bound of BETWEEN may be missing (NULL): `weight`"},
    {"INSERT INTO o SELECT region, SUM(hours) AS h FROM survey GROUP BY region HAVING DOMINANCE(weight, 1) <= 50;",
     {category("region", {"north", "south"}), integer("h", 0, 0)}, "weight, 1", "DOMINANCE(weight, 1) <= 50 has no place"},
    {"INSERT INTO o SELECT COUNT(*) AS n FROM survey JOIN register ON survey.hours = register.code;",
     {integer("n", 0, 0)}, "register.code", "`code` is declared NULL"},
    {"INSERT INTO o SELECT COUNT(*) AS n FROM survey WHERE age IS 3;", {integer("n", 0, 0)}, "3;",
     "expected NULL after IS (x IS NULL, x IS NOT NULL)"},
    {"INSERT INTO o SELECT COUNT(*) AS n FROM survey WHERE age IS NOT;", {integer("n", 0, 0)}, ";",
     "expected NULL after IS NOT"},
  };
  for (const auto& c : cases)
    expect_refused(compiled(c.source, c.out), c.source, c.where, c.phrase);
}

BOOST_AUTO_TEST_CASE(null_in_schemas_is_for_values_not_keys) {
  for (const auto& [col, phrase] : std::vector<std::pair<column_schema, std::string>>{
         {nullable(key("id")), "`id` is a key and declared NULL"},
         {nullable(unique(integer("id", 0, 9))), "`id` is UNIQUE and declared NULL"}}) {
    auto r = sql::compile("INSERT INTO o SELECT COUNT(*) AS n FROM t;", {table("t", {col})},
                          {table("o", {integer("n", 0, 0)})});
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST((r.err().code == errc::malformed_input));
    BOOST_TEST(r.err().message.find(phrase) != std::string::npos, r.err().message);
  }
  // An empty field: NULL where declared, refused elsewhere; -2^63 is kept for NULL.
  const auto age = nullable(integer("age", 0, 120));
  BOOST_TEST(*encode_value(age, "") == null_word);
  BOOST_TEST(*encode_value(age, " ") == null_word);
  BOOST_TEST(*encode_value(age, "7") == 7u);
  auto missing = encode_value(integer("age", 0, 120), "");
  BOOST_TEST_REQUIRE(!missing);
  BOOST_TEST(missing.err().message == "column `age`: the value is missing (an empty field); every row needs a value "
                                      "here, or declare the column NULL where values may be missing");
  auto reserved = encode_value(nullable(unbounded("x")), "-9223372036854775808");
  BOOST_TEST_REQUIRE(!reserved);
  BOOST_TEST(reserved.err().message.find("keeps for a missing value") != std::string::npos);
}
