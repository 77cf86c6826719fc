// Joins in the executor, on the reference backend and on rss3 (three processes on loopback, party 0
// inputting every table): 1:N joins with 0, 1 and several matches per unique row, in both
// directions, three tables, a union joined with a unique input, a grouping over a 1:N join, and a
// "unique" side with a repeated key (as if its custodian had bypassed the upload check). Join
// results come in a shuffled order, so their valid rows are compared as multisets; invalid rows
// must be all zeros.

#include "joconde/engines/reference.hpp"
#include "joconde/engines/sql/ast.hpp"
#include "joconde/engines/sql/compiler.hpp"
#include "joconde/engines/sql/executor.hpp"

#include "schema_builders.hpp"
#include "sql_run_both.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

using namespace joconde;
using namespace joconde::engines;
using namespace joconde::test;

namespace {

using i64 = std::int64_t;
using rows_of = std::vector<std::vector<i64>>;      // rows

const std::vector<std::string> regions{"North", "South", "East"};

// persons 1..6; jobs of persons 2 (three), 3 (one), 5 (two) and of person 9, who does not exist;
// persons 1, 4 and 6 have none. Employer 107 does not exist.
const clear_table persons_data{{1, 2, 3, 4, 5, 6}, {30, 41, 25, 67, 52, 19}, {0, 1, 0, 2, 1, 0}};
const clear_table jobs_data{{2, 2, 2, 3, 5, 5, 9, 9},
                            {100, 101, 100, 103, 102, 107, 100, 101},
                            {1000, 2500, 700, 4000, 1200, 3000, 900, 50}};
const clear_table b_jobs_data{{1, 5, 8, 1}, {103, 100, 100, 102}, {60, 6000, 80, 1100}};
const clear_table employers_data{{100, 101, 102, 103}, {10, 2000, 35, 400}};
// A second register of persons 2, 3, 4 and 7: persons 1, 5 and 6 have no row there.
const clear_table scores_data{{7, 3, 2, 4}, {70, 30, 20, 40}};

std::vector<table_schema> inputs() {
  auto jobs = [](std::string name) {
    return table(std::move(name), {key("person_id"), key("employer"), integer("wage", 0, 100'000)}, 100);
  };
  return {table("persons", {unique(key("id")), integer("age", 0, 120), category("region", regions)}, 100),
          jobs("jobs"), jobs("b_jobs"),
          table("employers", {unique(key("employer")), integer("size", 0, 1'000'000)}, 100),
          table("scores", {unique(key("id")), integer("score", 0, 100)}, 100)};
}

std::map<std::string, clear_table> data() {
  return {{"persons", persons_data}, {"jobs", jobs_data}, {"b_jobs", b_jobs_data}, {"employers", employers_data},
          {"scores", scores_data}};
}

/// An output `name` of integer columns `columns` (a category where the name is "region").
table_schema output(std::string name, const std::vector<std::string>& columns) {
  std::vector<column_schema> cols;
  for (const auto& c : columns)
    cols.push_back(c == "region" ? category(c, regions) : integer(c, 0, 0));
  return table(std::move(name), std::move(cols), 200);
}

sql::program compiled(const std::string& source, std::vector<table_schema> outputs) {
  auto r = sql::compile(source, inputs(), std::move(outputs));
  BOOST_TEST_REQUIRE(r.ok(), (r ? std::string{} : r.err().message));
  return r.value();
}

/// The valid rows of `o`, sorted; checks that every invalid row is all zeros and that `o` has
/// `rows` rows.
rows_of valid_rows(const clear_output& o, std::size_t rows) {
  BOOST_TEST(o.valid.size() == rows);
  rows_of out;
  for (std::size_t r = 0; r < o.valid.size(); ++r) {
    std::vector<i64> row;
    for (const auto& c : o.columns)
      row.push_back(static_cast<i64>(c[r]));
    if (o.valid[r] == 1)
      out.push_back(std::move(row));
    else
      BOOST_TEST((o.valid[r] == 0 && std::all_of(row.begin(), row.end(), [](i64 v) { return v == 0; })),
                 "row " << r << " is invalid but not zero");
  }
  std::sort(out.begin(), out.end());
  return out;
}

rows_of sorted(rows_of r) {
  std::sort(r.begin(), r.end());
  return r;
}

/// The index of the row of `t` whose column `c` is `v`, if any.
std::optional<std::size_t> find_row(const clear_table& t, std::size_t c, i64 v) {
  for (std::size_t r = 0; r < t[c].size(); ++r)
    if (t[c][r] == v)
      return r;
  return std::nullopt;
}

/// Checks the valid rows of output `name` on every engine against `expected`.
void check_rows(const std::map<std::string, clear_outputs>& runs, const std::string& name, std::size_t rows,
                const rows_of& expected) {
  for (const auto& [engine, outputs] : runs)
    BOOST_TEST_CONTEXT(engine << ", " << name) {
      auto got = valid_rows(outputs.at(name), rows);
      BOOST_TEST(got == sorted(expected), "got " << rows_text(got) << "\nexpected " << rows_text(sorted(expected)));
    }
}

} // namespace

BOOST_AUTO_TEST_CASE(one_to_many_joins_have_a_row_per_repeating_row) {
  // Persons with no, one and several jobs, and jobs of nobody; the repeating side first (the
  // result keeps the kernel's column order) or second (the executor puts persons' columns first).
  auto p = compiled("INSERT INTO by_job SELECT persons.age AS age, wage, region FROM jobs\n"
                    "  JOIN persons ON jobs.person_id = persons.id;\n"
                    "INSERT INTO by_person SELECT age, wage FROM persons JOIN jobs ON persons.id = jobs.person_id\n"
                    "  WHERE wage > 1000;",
                    {output("by_job", {"age", "wage", "region"}), output("by_person", {"age", "wage"})});
  rows_of by_job;
  rows_of by_person;
  for (std::size_t j = 0; j < jobs_data[0].size(); ++j)
    if (auto r = find_row(persons_data, 0, jobs_data[0][j])) {
      by_job.push_back({persons_data[1][*r], jobs_data[2][j], persons_data[2][*r]});
      if (jobs_data[2][j] > 1000)
        by_person.push_back({persons_data[1][*r], jobs_data[2][j]});
    }
  BOOST_TEST(by_job.size() == 6u);  // person 2 three times, 3 once, 5 twice
  auto runs = run_both(p, data());
  check_rows(runs, "by_job", jobs_data[0].size(), by_job);
  check_rows(runs, "by_person", jobs_data[0].size(), by_person);
}

BOOST_AUTO_TEST_CASE(three_tables_join_left_deep) {
  auto p = compiled("INSERT INTO t1 SELECT age, wage, size FROM jobs JOIN persons ON jobs.person_id = persons.id\n"
                    "  JOIN employers ON jobs.employer = employers.employer;\n"
                    "INSERT INTO t2 SELECT age, size, wage FROM persons JOIN jobs ON persons.id = jobs.person_id\n"
                    "  INNER JOIN employers ON employers.employer = jobs.employer WHERE size < 1000;",
                    {output("t1", {"age", "wage", "size"}), output("t2", {"age", "size", "wage"})});
  rows_of t1;
  rows_of t2;
  for (std::size_t j = 0; j < jobs_data[0].size(); ++j) {
    auto r = find_row(persons_data, 0, jobs_data[0][j]);
    auto e = find_row(employers_data, 0, jobs_data[1][j]);
    if (!r || !e)
      continue;
    t1.push_back({persons_data[1][*r], jobs_data[2][j], employers_data[1][*e]});
    if (employers_data[1][*e] < 1000)
      t2.push_back({persons_data[1][*r], employers_data[1][*e], jobs_data[2][j]});
  }
  BOOST_TEST(t1.size() == 5u);  // the job at employer 107 has none
  auto runs = run_both(p, data());
  check_rows(runs, "t1", jobs_data[0].size(), t1);
  check_rows(runs, "t2", jobs_data[0].size(), t2);
}

BOOST_AUTO_TEST_CASE(a_joined_table_with_unmatched_rows_is_the_unique_side_of_the_next_join) {
  // persons and scores join one-to-one (the persons without a score are invalid rows); that table
  // is then the unique side for jobs, on a key of either input: an unmatched person's jobs match
  // nothing, whatever that row's key holds.
  auto p = compiled("INSERT INTO by_person SELECT score, wage FROM persons JOIN scores ON persons.id = scores.id\n"
                    "  JOIN jobs ON persons.id = jobs.person_id;\n"
                    "INSERT INTO by_score SELECT score, wage FROM persons JOIN scores ON persons.id = scores.id\n"
                    "  JOIN jobs ON jobs.person_id = scores.id;",
                    {output("by_person", {"score", "wage"}), output("by_score", {"score", "wage"})});
  BOOST_TEST(!p.impl().statements[0].joins[1].many_is_left);
  rows_of expected;
  for (std::size_t j = 0; j < jobs_data[0].size(); ++j)
    if (find_row(persons_data, 0, jobs_data[0][j]))
      if (auto s = find_row(scores_data, 0, jobs_data[0][j]))
        expected.push_back({scores_data[1][*s], jobs_data[2][j]});
  BOOST_TEST(expected.size() == 4u);  // person 2's three jobs and person 3's one; 5 has no score
  auto runs = run_both(p, data());
  check_rows(runs, "by_person", jobs_data[0].size(), expected);
  check_rows(runs, "by_score", jobs_data[0].size(), expected);
}

BOOST_AUTO_TEST_CASE(a_union_joins_a_unique_input_and_groups_over_it) {
  auto p = compiled("INSERT INTO u SELECT region, wage FROM jobs UNION ALL b_jobs JOIN persons ON person_id = persons.id;\n"
                    "INSERT INTO g SELECT region, COUNT(*) AS n, SUM(wage) AS total FROM jobs\n"
                    "  JOIN persons ON jobs.person_id = persons.id GROUP BY region;",
                    {output("u", {"region", "wage"}), output("g", {"region", "n", "total"})});
  rows_of u;
  std::vector<i64> n(3, 0);
  std::vector<i64> total(3, 0);
  for (const auto* jobs : {&jobs_data, &b_jobs_data})
    for (std::size_t j = 0; j < (*jobs)[0].size(); ++j)
      if (auto r = find_row(persons_data, 0, (*jobs)[0][j])) {
        auto region = persons_data[2][*r];
        u.push_back({region, (*jobs)[2][j]});
        if (jobs == &jobs_data) {
          ++n[static_cast<std::size_t>(region)];
          total[static_cast<std::size_t>(region)] += (*jobs)[2][j];
        }
      }
  auto runs = run_both(p, data());
  check_rows(runs, "u", jobs_data[0].size() + b_jobs_data[0].size(), u);
  // One row per region, in declaration order; East has no job.
  for (const auto& [engine, outputs] : runs) {
    const auto& g = outputs.at("g");
    BOOST_TEST_REQUIRE(g.valid.size() == 3u);
    for (std::size_t k = 0; k < 3; ++k)
      BOOST_TEST_CONTEXT(engine << ", region " << regions[k]) {
        const word keep = n[k] > 0 ? 1 : 0;
        BOOST_TEST(g.valid[k] == keep);
        BOOST_TEST(g.columns[0][k] == keep * k);
        BOOST_TEST(static_cast<i64>(g.columns[1][k]) == n[k]);
        BOOST_TEST(static_cast<i64>(g.columns[2][k]) == total[k]);
      }
  }
  BOOST_TEST(n == (std::vector<i64>{1, 5, 0}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(integer_keys_join_one_to_many_with_negative_values) {
  // A 10-bit integer key (|code| <= 1000): the kernel's one-word sort keys, negative codes included.
  auto codes = table("codes", {unique(integer("code", -1000, 1000)), integer("weight", 0, 100)}, 100);
  auto facts = table("facts", {integer("code", -1000, 1000), integer("v", 0, 100)}, 100);
  auto r = sql::compile("INSERT INTO o SELECT weight, v FROM facts JOIN codes ON facts.code = codes.code;", {codes, facts},
                        {output("o", {"weight", "v"})});
  BOOST_TEST_REQUIRE(r.ok(), (r ? std::string{} : r.err().message));
  BOOST_TEST(r->impl().statements[0].joins[0].key_bits == 10u);
  const clear_table codes_data{{-1000, -3, 0, 7, 1000}, {1, 2, 3, 4, 5}};
  const clear_table facts_data{{-3, -3, 1000, 5, -1000, 0, 0, 0, -2, 7}, {10, 11, 12, 13, 14, 15, 16, 17, 18, 19}};
  rows_of expected;
  for (std::size_t f = 0; f < facts_data[0].size(); ++f)
    if (auto c = find_row(codes_data, 0, facts_data[0][f]))
      expected.push_back({codes_data[1][*c], facts_data[1][f]});
  BOOST_TEST(expected.size() == 8u);
  check_rows(run_both(*r, {{"codes", codes_data}, {"facts", facts_data}}), "o", facts_data[0].size(), expected);
}

BOOST_AUTO_TEST_CASE(an_empty_side_matches_nothing) {
  auto p = compiled("INSERT INTO by_job SELECT age, wage FROM jobs JOIN persons ON jobs.person_id = persons.id;\n"
                    "INSERT INTO by_person SELECT age, wage FROM persons JOIN jobs ON persons.id = jobs.person_id;",
                    {output("by_job", {"age", "wage"}), output("by_person", {"age", "wage"})});
  auto no_persons = data();
  no_persons["persons"] = clear_table(3);
  auto runs = run_both(p, no_persons);
  check_rows(runs, "by_job", jobs_data[0].size(), {});
  check_rows(runs, "by_person", jobs_data[0].size(), {});
  auto no_jobs = data();
  no_jobs["jobs"] = clear_table(3);
  runs = run_both(p, no_jobs);
  check_rows(runs, "by_job", 0, {});
  check_rows(runs, "by_person", 0, {});
}

BOOST_AUTO_TEST_CASE(a_repeated_key_on_the_unique_side_stops_the_run) {
  // As if the custodian of persons had bypassed the upload check: person 2 twice.
  auto p = compiled("INSERT INTO by_job SELECT persons.age AS age, wage, region FROM jobs\n"
                    "  JOIN persons ON jobs.person_id = persons.id;",
                    {output("by_job", {"age", "wage", "region"})});
  auto d = data();
  d["persons"][0] = {1, 2, 2, 4, 5, 6};
  const std::string expected = "the join key `persons.id` is not unique among the rows of `persons`, so the join of "
                               "`jobs` with `persons` cannot run";
  reference_backend ref;
  try {
    (void) sql::run(p, ref, shared(ref, d, 0));
    BOOST_ERROR("the reference engine joined a repeated unique key");
  } catch (const engine_failure& e) {
    BOOST_TEST((e.err().code == errc::invalid_state));
    BOOST_TEST(e.err().message.starts_with(expected), e.err().message);
  }
  auto parties = run_three_parties([&](backend& b, unsigned party) {
    (void) sql::run(p, b, shared(b, d, party));
    return std::vector<std::uint8_t>{};
  });
  for (unsigned i = 0; i < 3; ++i) {
    BOOST_TEST(!parties[i].ok, "rss3 party " << i << " joined a repeated unique key");
    BOOST_TEST(parties[i].error.find(expected) != std::string::npos, "rss3 party " << i << ": " << parties[i].error);
  }
}

BOOST_AUTO_TEST_CASE(medians_over_a_join_ignore_what_unmatched_rows_carry) {
  // Jobs of persons 9 and 10 match nobody: in the joined rows their persons columns hold whatever
  // the join left there (here the employer key, near 2^57), and they must not disturb the sort of
  // MEDIAN's order statistics (whose keys hold the value times 2^bits(rows)).
  clear_table jobs(3);
  for (i64 j = 0; j < 40; ++j) {
    jobs[0].push_back(j % 4 == 3 ? 9 + j % 2 : 1 + j % 6);
    jobs[1].push_back((i64{1} << 57) + j);
    jobs[2].push_back(100 * j);
  }
  auto input = data();
  input["jobs"] = jobs;
  auto p = compiled("INSERT INTO o SELECT MEDIAN(persons.age) AS m, MEDIAN(wage) AS w, COUNT(*) AS n FROM jobs\n"
                    "  JOIN persons ON jobs.person_id = persons.id;\n"
                    "INSERT INTO g SELECT region, MEDIAN(persons.age) AS m FROM jobs JOIN persons\n"
                    "  ON jobs.person_id = persons.id GROUP BY region;",
                    {table("o", {decimal("m", 1, 0, 0), decimal("w", 1, 0, 0), integer("n", 0, 0)}, 1),
                     table("g", {category("region", regions), decimal("m", 1, 0, 0)}, 3)});
  std::vector<i64> ages, wages;
  std::map<i64, std::vector<i64>> by_region;
  for (std::size_t j = 0; j < jobs[0].size(); ++j)
    if (auto r = find_row(persons_data, 0, jobs[0][j])) {
      ages.push_back(persons_data[1][*r]);
      wages.push_back(jobs[2][j]);
      by_region[persons_data[2][*r]].push_back(persons_data[1][*r]);
    }
  auto tenths_of_median = [](std::vector<i64> v) {
    std::sort(v.begin(), v.end());
    return (v[(v.size() - 1) / 2] + v[v.size() / 2]) * 5;  // (a + b) / 2 in tenths
  };
  BOOST_TEST(ages.size() < jobs[0].size());  // some jobs match nobody
  rows_of per_region;
  for (const auto& [region, a] : by_region)
    per_region.push_back({region, tenths_of_median(a)});
  auto runs = run_both(p, input);
  check_rows(runs, "o", 1, {{tenths_of_median(ages), tenths_of_median(wages), static_cast<i64>(ages.size())}});
  check_rows(runs, "g", 3, per_region);
}
