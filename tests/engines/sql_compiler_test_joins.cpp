// The joins of joconde-sql/1 in the compiler (docs/task-language.md §4.2): which side is unique,
// one-to-one and 1:N, the legacy one-to-one join of two undeclared keys, several joins and a join
// after UNION ALL; the result's row bound, column order and scope, and what each program discloses,
// uses and has checked at upload.

#include "joconde/engines/sql/ast.hpp"
#include "joconde/engines/sql/compiler.hpp"

#include "schema_builders.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

using namespace joconde;
using namespace joconde::engines;
using namespace joconde::test;

namespace {

const std::vector<std::string> regions{"North", "South", "East"};

/// persons(id key UNIQUE, age [0, 120], region, household key), at most 1000 rows.
table_schema persons(std::string name = "persons", std::uint64_t max_rows = 1000) {
  return table(std::move(name),
               {unique(key("id")), integer("age", 0, 120), category("region", regions), key("household")},
               max_rows);
}

/// jobs(job_id key UNIQUE, person_id key, employer key, wage [0, 100000]), at most 5000 rows: a
/// person has any number of jobs.
table_schema jobs(std::string name = "jobs") {
  return table(std::move(name),
               {unique(key("job_id")), key("person_id"), key("employer"), integer("wage", 0, 100'000)}, 5000);
}

/// employers(employer key UNIQUE, size [0, 10^6]), at most 200 rows.
table_schema employers() {
  return table("employers", {unique(key("employer")), integer("size", 0, 1'000'000)}, 200);
}

/// households(household key UNIQUE, members [1, 20]), at most 800 rows.
table_schema households() {
  return table("households", {unique(key("household")), integer("members", 1, 20)}, 800);
}

/// plain(id key, x [0, 10]) and plain2(id key, y [0, 10]): nothing declared UNIQUE.
table_schema plain(const std::string& name, std::uint64_t max_rows) {
  return table(name, {key("id"), integer(name == "plain" ? "x" : "y", 0, 10)}, max_rows);
}

/// codes(code [-1000, 5] UNIQUE, label), at most 100 rows: an integer key.
table_schema codes() {
  return table("codes", {unique(integer("code", -1000, 5)), category("label", regions)}, 100);
}

std::vector<table_schema> all_inputs() {
  return {persons(), jobs(), employers(), households(), plain("plain", 300), plain("plain2", 400),
          persons("a_people"), persons("b_people", 500), jobs("b_jobs"), codes(),
          table("coded", {integer("code", 0, 999), integer("v", 0, 9)}, 2000)};
}

/// An output table `o` of integer columns `names`, at most `rows` rows.
table_schema out(const std::vector<std::string>& names, std::uint64_t rows = 1'000'000) {
  std::vector<column_schema> columns;
  for (const auto& n : names)
    columns.push_back(integer(n, 0, 0));
  return table("o", std::move(columns), rows);
}

sql::program compiled(const std::string& source, std::vector<table_schema> outputs) {
  auto r = sql::compile(source, all_inputs(), std::move(outputs));
  BOOST_TEST_REQUIRE(r.ok(), source << ": " << (r ? std::string{} : r.err().message));
  return r.value();
}

/// The compile error of `source` (which must fail), "line:column: message".
std::string error_of(const std::string& source, std::vector<table_schema> outputs = {out({"n"})},
                     std::vector<table_schema> inputs = all_inputs()) {
  auto r = sql::compile(source, std::move(inputs), std::move(outputs));
  BOOST_TEST_REQUIRE(!r.ok(), "compiled, but should not have: " << source);
  BOOST_TEST((r.err().code == errc::compile_error), r.err().describe());
  return r.err().message;
}

const sql::join_step& step(const sql::program& p, std::size_t k, std::size_t statement = 0) {
  return p.impl().statements.at(statement).joins.at(k);
}

bool uses(const sql::program& p, const std::string& feature) {
  return std::find(p.features().begin(), p.features().end(), feature) != p.features().end();
}

} // namespace

BOOST_AUTO_TEST_CASE(the_declared_unique_side_decides_a_one_to_many_join_in_either_direction) {
  // persons.id is UNIQUE, jobs.person_id repeats: the result has one row per job, whichever input
  // comes first and whichever order ON writes its operands in.
  for (const auto* source : {"INSERT INTO o SELECT wage, age FROM jobs JOIN persons ON jobs.person_id = persons.id;",
                             "INSERT INTO o SELECT wage, age FROM jobs JOIN persons ON persons.id = person_id;"}) {
    BOOST_TEST_CONTEXT(source) {
      auto p = compiled(source, {out({"wage", "age"}, 5000)});
      const auto& j = step(p, 0);
      BOOST_TEST(!j.one_to_one);
      BOOST_TEST(!j.implicit);
      BOOST_TEST(j.many_is_left);  // jobs, the accumulated table, repeats its key
      BOOST_TEST(j.left.name == "person_id");
      BOOST_TEST(j.left.column == 1u);
      BOOST_TEST(j.right.column == 0u);
      BOOST_TEST(j.left_table == "jobs");
      BOOST_TEST(j.max_rows == 5000u);
      BOOST_TEST(j.key_bits == 58u);
      BOOST_TEST(p.impl().statements[0].max_rows == 5000u);
      BOOST_TEST(uses(p, "join"));
      BOOST_TEST(uses(p, "join.one_to_many"));
      BOOST_TEST(!uses(p, "join.several"));
      BOOST_TEST(!uses(p, "join.union"));
      BOOST_TEST(p.disclosures().at(1)
                 == "whether the join key `persons.id` is unique among the rows of `persons` is revealed to the "
                    "Computing Parties (the run stops if it is not); how often `jobs.person_id` repeats a value is not");
    }
  }
  auto reversed = compiled("INSERT INTO o SELECT wage, age FROM persons JOIN jobs ON persons.id = jobs.person_id;",
                           {out({"wage", "age"}, 5000)});
  const auto& j = step(reversed, 0);
  BOOST_TEST(!j.one_to_one);
  BOOST_TEST(!j.many_is_left);  // the input, jobs, is the many side
  BOOST_TEST(j.left_table == "persons");
  BOOST_TEST(j.max_rows == 5000u);
  // The projection writes as many rows as jobs has, not persons' 1000 nor 1000 + 5000 - 1.
  auto message = error_of("INSERT INTO o SELECT wage, age FROM persons JOIN jobs ON persons.id = jobs.person_id;",
                          {out({"wage", "age"}, 4999)});
  BOOST_TEST(message.starts_with("1:13: this select may write 5000 rows but `o` declares at most 4999"), message);
  // Only declared columns are checked at upload: the join keys of the many side are not.
  BOOST_TEST(reversed.unique_columns("persons") == (std::vector<std::string>{"id"}), boost::test_tools::per_element());
  BOOST_TEST(reversed.unique_columns("jobs") == (std::vector<std::string>{"job_id"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(two_declared_keys_join_one_to_one_on_the_smaller_side) {
  // persons (1000 rows) and b_people (500), both UNIQUE on id: the result has b_people's rows.
  auto p = compiled("INSERT INTO o SELECT persons.age AS a, b_people.age AS b FROM persons JOIN b_people\n"
                    "  ON persons.id = b_people.id;",
                    {out({"a", "b"}, 500)});
  const auto& j = step(p, 0);
  BOOST_TEST(j.one_to_one);
  BOOST_TEST(!j.implicit);
  BOOST_TEST(!j.many_is_left);
  BOOST_TEST(j.max_rows == 500u);
  BOOST_TEST(!uses(p, "join.one_to_many"));
  BOOST_TEST(p.disclosures().at(1)
             == "whether the join keys `persons.id` and `b_people.id` are each unique among their rows is revealed "
                "to the Computing Parties (the run stops if they are not)");
  // Ties go to the left: persons and a_people both have at most 1000 rows.
  auto tie = compiled("INSERT INTO o SELECT a_people.age AS a FROM a_people JOIN persons ON a_people.id = persons.id;",
                      {out({"a"}, 1000)});
  BOOST_TEST(step(tie, 0).one_to_one);
  BOOST_TEST(step(tie, 0).many_is_left);
  BOOST_TEST(step(tie, 0).max_rows == 1000u);
}

BOOST_AUTO_TEST_CASE(two_undeclared_keys_join_one_to_one_as_before) {
  // Neither id is declared UNIQUE: the first join of a single input takes both as unique, both are
  // checked at upload, and the disclosure keeps the words CTSCs already state.
  auto p = compiled("INSERT INTO o SELECT x, y FROM plain JOIN plain2 ON plain.id = plain2.id;", {out({"x", "y"}, 300)});
  const auto& j = step(p, 0);
  BOOST_TEST(j.one_to_one);
  BOOST_TEST(j.implicit);
  BOOST_TEST(j.many_is_left);  // plain has fewer rows (300 < 400)
  BOOST_TEST(j.max_rows == 300u);
  BOOST_TEST(p.unique_columns("plain") == (std::vector<std::string>{"id"}), boost::test_tools::per_element());
  BOOST_TEST(p.unique_columns("plain2") == (std::vector<std::string>{"id"}), boost::test_tools::per_element());
  BOOST_TEST(p.features() == (std::vector<std::string>{"select", "join"}), boost::test_tools::per_element());
  BOOST_TEST(p.disclosures().at(1)
             == "whether the join keys of `plain` and of `plain2` are unique among their rows is revealed to the "
                "Computing Parties (the run stops if they are not)");
  // The other way round the larger input comes first and the join input is the many side.
  auto other = compiled("INSERT INTO o SELECT x, y FROM plain2 JOIN plain ON plain.id = plain2.id;", {out({"x", "y"}, 300)});
  BOOST_TEST(!step(other, 0).many_is_left);
  BOOST_TEST(step(other, 0).max_rows == 300u);
  // A program without joins asks only for the declared columns.
  auto none = compiled("INSERT INTO o SELECT x FROM plain;", {out({"x"}, 300)});
  BOOST_TEST(none.unique_columns("plain").empty());
  BOOST_TEST(none.unique_columns("persons") == (std::vector<std::string>{"id"}), boost::test_tools::per_element());
  BOOST_TEST(none.unique_columns("households") == (std::vector<std::string>{"household"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(three_tables_keep_their_column_order_and_scope) {
  // jobs x persons (1:N, persons unique), then x households on a column of persons (households
  // unique), then x employers on a column of jobs: one row per job, columns in statement order.
  auto p = compiled("INSERT INTO o SELECT wage, age, members, size\n"
                    "FROM jobs JOIN persons ON jobs.person_id = persons.id\n"
                    "  INNER JOIN households ON persons.household = households.household\n"
                    "  JOIN employers ON jobs.employer = employers.employer\n"
                    "WHERE members > 1;",
                    {out({"wage", "age", "members", "size"}, 5000)});
  const auto& s = p.impl().statements[0];
  BOOST_TEST_REQUIRE(s.joins.size() == 3u);
  BOOST_TEST(s.joins[0].offset == 4u);   // after jobs' 4 columns
  BOOST_TEST(s.joins[1].offset == 8u);   // after persons' 4
  BOOST_TEST(s.joins[2].offset == 10u);  // after households' 2
  // ON persons.household: column 3 of persons, at 4 + 3 in the accumulated row.
  BOOST_TEST(s.joins[1].left.column == 7u);
  BOOST_TEST(s.joins[1].left_table == "persons");
  BOOST_TEST(s.joins[1].left_table_column == 3u);
  BOOST_TEST(s.joins[1].right.column == 0u);
  BOOST_TEST(s.joins[2].left.column == 2u);
  BOOST_TEST(s.joins[2].left_table == "jobs");
  for (const auto& j : s.joins) {
    BOOST_TEST(!j.one_to_one);
    BOOST_TEST(j.many_is_left);
    BOOST_TEST(j.max_rows == 5000u);
  }
  BOOST_TEST(s.items[0].value->column == 3u);   // jobs.wage
  BOOST_TEST(s.items[1].value->column == 5u);   // persons.age
  BOOST_TEST(s.items[2].value->column == 9u);   // households.members
  BOOST_TEST(s.items[3].value->column == 11u);  // employers.size
  BOOST_TEST(s.where->args[0]->column == 9u);
  BOOST_TEST(uses(p, "join.several"));
  BOOST_TEST(uses(p, "join.one_to_many"));
  BOOST_TEST(p.disclosures().size() == 4u);
  BOOST_TEST(p.disclosures().at(2)
             == "whether the join key `households.household` is unique among the rows of `households` is revealed to "
                "the Computing Parties (the run stops if it is not); how often `persons.household` repeats a value is "
                "not");
  // The scope has every table: an unknown column lists them.
  auto message = error_of("INSERT INTO o SELECT agee AS n FROM jobs JOIN persons ON jobs.person_id = persons.id\n"
                          "  JOIN employers ON jobs.employer = employers.employer;");
  BOOST_TEST(message.starts_with("1:22: unknown column `agee` in `jobs` or `persons` or `employers` (did you mean "
                                 "`age`?)"),
             message);
}

BOOST_AUTO_TEST_CASE(uniqueness_survives_on_the_many_side_and_one_to_one_only) {
  // jobs is the many side of its join with persons, so jobs.job_id stays unique: a later join may
  // repeat the other side's key (plain is the many side).
  auto kept = compiled("INSERT INTO o SELECT wage, x FROM jobs JOIN persons ON jobs.person_id = persons.id\n"
                       "  JOIN plain ON jobs.job_id = plain.id;",
                       {out({"wage", "x"}, 5000)});
  BOOST_TEST(!step(kept, 1).one_to_one);
  BOOST_TEST(!step(kept, 1).many_is_left);
  BOOST_TEST(step(kept, 1).max_rows == 300u);
  // persons and b_people join one-to-one, so b_people.id stays unique too.
  auto one = compiled("INSERT INTO o SELECT wage FROM persons JOIN b_people ON persons.id = b_people.id\n"
                      "  JOIN jobs ON b_people.id = jobs.person_id;",
                      {out({"wage"}, 5000)});
  BOOST_TEST(!step(one, 1).many_is_left);
  BOOST_TEST(step(one, 1).max_rows == 5000u);
  // persons is the unique side of its join with jobs: its rows repeat, and persons.id with them.
  auto message = error_of("INSERT INTO o SELECT wage AS n FROM persons JOIN jobs ON persons.id = jobs.person_id\n"
                          "  JOIN plain ON persons.id = plain.id;");
  BOOST_TEST(message.starts_with("2:14: the join with `plain` needs a unique key on one side: declare `plain.id` "
                                 "UNIQUE in its input's schema"),
             message);
  BOOST_TEST(message.find("`persons.id` cannot be the unique side: the rows of `persons` may repeat after the join "
                          "at 1:50, where it is the unique side")
               != std::string::npos,
             message);
}

BOOST_AUTO_TEST_CASE(a_join_without_a_unique_side_is_refused_at_its_on) {
  // A second join: neither jobs.employer nor plain.id is declared.
  auto second = error_of("INSERT INTO o SELECT wage AS n FROM jobs JOIN persons ON jobs.person_id = persons.id\n"
                         "  JOIN plain ON jobs.employer = plain.id;");
  BOOST_TEST(second.starts_with("2:14: the join with `plain` needs a unique key on one side: declare `plain.id` (or "
                                "`jobs.employer`) UNIQUE in its input's schema, so that each of its values is on one "
                                "row at most (the custodian's node checks it at upload)"),
             second);
  // After a union: a_people.id is declared UNIQUE, but the united table may repeat it.
  auto united = error_of("INSERT INTO o SELECT x AS n FROM a_people UNION ALL persons JOIN plain\n"
                         "  ON a_people.id = plain.id;");
  BOOST_TEST(united.starts_with("2:3: the join with `plain` needs a unique key on one side: declare `plain.id` UNIQUE"),
             united);
  BOOST_TEST(united.find("`a_people.id` cannot be the unique side: the inputs of a UNION ALL may repeat its values")
               != std::string::npos,
             united);
}

BOOST_AUTO_TEST_CASE(a_union_joins_with_a_unique_input) {
  auto p = compiled("INSERT INTO o SELECT wage, age FROM jobs UNION ALL b_jobs JOIN persons ON person_id = persons.id\n"
                    "WHERE age > 17;",
                    {out({"wage", "age"}, 10'000)});
  const auto& s = p.impl().statements[0];
  BOOST_TEST(s.joins[0].many_is_left);
  BOOST_TEST(!s.joins[0].one_to_one);
  BOOST_TEST(s.joins[0].left_table == "jobs");
  BOOST_TEST(s.joins[0].max_rows == 10'000u);  // both jobs inputs' rows
  BOOST_TEST(s.joins[0].offset == 4u);
  BOOST_TEST(uses(p, "join.union"));
  BOOST_TEST(uses(p, "union"));
  BOOST_TEST(p.disclosures().at(1)
             == "whether the join key `persons.id` is unique among the rows of `persons` is revealed to the Computing "
                "Parties (the run stops if it is not); how often `jobs.person_id` repeats a value is not");
  // The united inputs' names other than the first still cannot qualify a column, in ON neither.
  auto message = error_of("INSERT INTO o SELECT wage AS n FROM jobs UNION ALL b_jobs JOIN persons\n"
                          "  ON b_jobs.person_id = persons.id;");
  BOOST_TEST(message.starts_with("2:6: the columns of a UNION ALL belong to the united table: write `person_id` or "
                                 "`jobs.person_id`"),
             message);
}

BOOST_AUTO_TEST_CASE(integer_keys_give_their_width) {
  auto p = compiled("INSERT INTO o SELECT v FROM coded JOIN codes ON coded.code = codes.code;", {out({"v"}, 2000)});
  BOOST_TEST(step(p, 0).key_bits == 10u);  // max(|-1000|, 5, 999) = 1000 < 2^10
  BOOST_TEST(!step(p, 0).one_to_one);
  BOOST_TEST(step(p, 0).many_is_left);
}

BOOST_AUTO_TEST_CASE(join_syntax_and_naming_errors) {
  struct broken {
    std::string source;
    std::string expected;  ///< the start of the message
  };
  const std::vector<broken> cases{
    {"INSERT INTO o SELECT wage AS n FROM jobs JOIN persons ON jobs.person_id = persons.id UNION ALL b_jobs;",
     "1:86: UNION ALL cannot follow a JOIN: write the united inputs first, right after FROM (FROM a UNION ALL b "
     "JOIN c ON ...)"},
    {"INSERT INTO o SELECT wage AS n FROM jobs JOIN persons WHERE wage > 3;",
     "1:55: expected ON after `JOIN persons` (a join names the columns it matches: JOIN persons ON <table>.<column> = "
     "persons.<column>), found `WHERE`"},
    {"INSERT INTO o SELECT wage AS n FROM jobs JOIN persons ON jobs.person_id = persons.id\n"
     "JOIN persons ON jobs.job_id = persons.id;",
     "2:6: `persons` is joined with itself (it is already in this statement, at 1:47); each input may appear once in "
     "a statement"},
    {"INSERT INTO o SELECT wage AS n FROM jobs UNION ALL b_jobs JOIN b_jobs ON jobs.job_id = b_jobs.job_id;",
     "1:64: `b_jobs` is joined with itself (it is already in this statement, at 1:52)"},
    {"INSERT INTO o SELECT wage AS n FROM jobs JOIN persons ON jobs.person_id = jobs.job_id;",
     "1:75: ON must compare a column of a table already in this statement (`jobs`) with a column of `persons`"},
    {"INSERT INTO o SELECT wage AS n FROM jobs JOIN persons ON job.person_id = persons.id;",
     "1:58: unknown table `job` in ON (did you mean `jobs`?); the tables here are `jobs` and `persons`"},
    {"INSERT INTO o SELECT wage AS n FROM jobs JOIN persons ON jobs.person_id = persons.id\n"
     "JOIN households ON household = households.household;",
     "2:20: `household` is ambiguous: qualify it as `persons.household` or `households.household`"},
    {"INSERT INTO o SELECT wage AS n FROM jobs JOIN persons ON jobs.person_id = persons.idd;",
     "1:75: `persons` has no column `idd` (did you mean `id`?)"},
    {"INSERT INTO o SELECT wage AS n FROM jobs JOIN persons ON jobs.person_id = nobody;",
     "1:75: unknown column `nobody` in ON; none of `jobs` and `persons` has it"},
    {"INSERT INTO o SELECT wage AS n FROM jobs JOIN persons ON jobs.wage = persons.id;",
     "1:58: a join compares two key columns or two integer columns; `jobs.wage` is integer and `persons.id` is key"},
  };
  for (const auto& c : cases) {
    auto message = error_of(c.source);
    BOOST_TEST(message.starts_with(c.expected), message << "\n  expected: " << c.expected);
  }
}

BOOST_AUTO_TEST_CASE(unique_is_for_integer_and_key_input_columns_only) {
  const std::string source = "INSERT INTO o SELECT n FROM t;";
  for (const auto& c : {unique(decimal("n", 2, 0, 100)), unique(category("n", regions)), unique(boolean("n"))}) {
    auto r = sql::compile(source, {table("t", {c})}, {out({"n"})});
    BOOST_TEST_REQUIRE(!r.ok());
    BOOST_TEST((r.err().code == errc::malformed_input));
    BOOST_TEST(r.err().message.find("schema of `t`: table `t`: column `n` is " + std::string{to_string(c.type)}
                                    + " and declared UNIQUE, but only integer and key columns can be")
                 == 0,
               r.err().message);
  }
  auto output = sql::compile("INSERT INTO o SELECT age AS n FROM persons;", all_inputs(),
                             {table("o", {unique(integer("n", 0, 0))})});
  BOOST_TEST_REQUIRE(!output.ok());
  BOOST_TEST((output.err().code == errc::malformed_input));
  BOOST_TEST(output.err().message
               == "schema of `o`: column `n` is declared UNIQUE, but only input columns can be (the custodian's node "
                  "checks them at upload); drop UNIQUE from it");
}

BOOST_AUTO_TEST_CASE(the_join_examples_of_the_documentation_compile) {
  // docs/task-language.md §4.2 and §8, with schemas as they describe them.
  const auto sectors = std::vector<std::string>{"a", "b"};
  auto people = table("persons", {unique(key("id")), category("region", regions), category("sex", {"F", "M"})},
                      100'000);
  auto register_of = [](std::string name) {
    return table(std::move(name), {key("person_id"), key("employer"), integer("wage", 0, 1'000'000)}, 100'000);
  };
  auto business = table("employers", {unique(key("employer")), category("sector", sectors)}, 10'000);
  auto wages = sql::compile("INSERT INTO wages SELECT region, COUNT(*) AS jobs, AVG(wage) AS mean_wage\n"
                            "FROM jobs JOIN persons ON jobs.person_id = persons.id\n"
                            "GROUP BY region HAVING COUNT(*) >= 10;",
                            {people, register_of("jobs")},
                            {table("wages", {category("region", regions), integer("jobs", 0, 0), decimal("mean_wage", 2)})});
  BOOST_TEST(wages.ok(), (wages ? std::string{} : wages.err().message));
  auto sectors_out = sql::compile(
    "INSERT INTO jobs_by_sector\n"
    "SELECT sector, sex, COUNT(*) AS jobs, SUM(wage) AS wages\n"
    "FROM a_jobs UNION ALL b_jobs\n"
    "  JOIN persons ON a_jobs.person_id = persons.id\n"
    "  JOIN employers ON a_jobs.employer = employers.employer\n"
    "GROUP BY sector, sex HAVING COUNT(*) >= 10;",
    {people, register_of("a_jobs"), register_of("b_jobs"), business},
    {table("jobs_by_sector",
           {category("sector", sectors), category("sex", {"F", "M"}), integer("jobs", 0, 0), integer("wages", 0, 0)})});
  BOOST_TEST(sectors_out.ok(), (sectors_out ? std::string{} : sectors_out.err().message));
}
