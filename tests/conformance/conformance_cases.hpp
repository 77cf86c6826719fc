#pragma once

// The cases of the engines' conformance suite (engine_conformance_test.cpp): every operator and
// language feature of joconde-sql/1 as a program over test schemas, with the output columns that
// may differ within the fixed-point bound. Included by conformance_support.hpp.

#include "joconde/engines/schema.hpp"
#include "joconde/engines/sql/compiler.hpp"

#include "engines/schema_builders.hpp"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace joconde::test {

using namespace joconde::engines;

// -- the cases ------------------------------------------------------------------------------------

/// An output table (as many rows as a join of two inputs may give).
inline table_schema output(std::string name, std::vector<column_schema> columns) {
  return table(std::move(name), std::move(columns), 200'000);
}

/// `t` with column `column` declared UNIQUE.
inline table_schema with_unique(table_schema t, const std::string& column) {
  for (auto& c : t.columns)
    if (c.name == column)
      c.unique = true;
  return t;
}

/// Persons: the main test input.
inline table_schema persons() {
  return table("persons", {key("id"), integer("age", 0, 120), decimal("income", 2, 0, 50'000'000),
                           category("region", {"north", "south", "east"}),
                           category("sex", {"f", "m"}), boolean("employed"),
                           integer("hours", 1, 80)},
               100'000);
}

/// A second input to join with persons.
inline table_schema taxes() {
  return table("taxes", {key("id"), decimal("tax", 2, 0, 5'000'000), integer("year", 2000, 2030)},
               100'000);
}

/// Jobs, `name` (`jobs` unless given): any number per person (person_id repeats), at an employer.
inline table_schema jobs(std::string name = "jobs") {
  return table(std::move(name), {key("person_id"), key("employer"), integer("wage", 0, 100'000),
                                 category("contract", {"permanent", "fixed", "casual"})},
               100'000);
}

/// Employers, UNIQUE on their key.
inline table_schema employers() {
  return table("employers", {unique(key("employer")), integer("size", 1, 50'000), category("sector", {"a", "b"})},
               100'000);
}

/// A business register of 10^7 firms with turnovers in cents up to 10^12 EUR: its sums and means
/// are beyond the 64-bit ring (SUM and AVG then run in two limbs).
inline table_schema firms() {
  const std::int64_t top = 100'000'000'000'000;
  return table("firms", {decimal("turnover", 2, -top, top), category("sector", {"a", "b", "c"}),
                         integer("staff", 0, 1'000'000)},
               10'000'000);
}

/// The output `schema` as a run writes it: a statistic beyond the ring as three integer columns,
/// `name.hi`, `name.mid` and `name.lo` (sql::program::output_words), the others as declared, then
/// the published codes of its confidentiality rules (sql::program::confidentiality) as `published`.
inline table_schema word_columns(const sql::program& prog, const table_schema& schema) {
  const auto words = prog.output_words(schema.name);
  table_schema out{schema.name, {}, schema.max_rows};
  for (std::size_t c = 0; c < schema.columns.size(); ++c) {
    if (c < words.size() && words[c] == wide_words) {
      for (const char* part : {".hi", ".mid", ".lo"})
        out.columns.push_back(column(schema.columns[c].name + part, column_type::integer));
    } else {
      out.columns.push_back(schema.columns[c]);
    }
  }
  if (prog.confidentiality(schema.name).flagged)
    out.columns.push_back(column("published", column_type::integer));
  return out;
}

struct conformance_case {
  std::string name;
  std::vector<table_schema> inputs;
  std::vector<table_schema> outputs;
  std::string source;
  std::map<std::string, std::string> quality;
  std::set<std::string> approximate;  ///< "output.column" compared within fixed_point_bound
};

/// A survey: answers that may be missing (NULL), and a register to join it with.
inline table_schema survey() {
  return table("survey", {key("id"), nullable(integer("age", 0, 120)), nullable(decimal("income", 2, 0, 50'000'000)),
                          category("region", {"north", "south", "east"}), nullable(boolean("employed")),
                          integer("hours", 1, 80), nullable(category("sex", {"f", "m"}))},
               100'000);
}

inline std::vector<conformance_case> cases() {
  std::vector<conformance_case> all;
  all.push_back({"projection_arithmetic_case_where",
                 {persons()},
                 {output("o", {integer("a1", -1000, 1000), decimal("inc2", 2), integer("senior", 0, 1),
                              integer("ah", 0, 10'000), integer("neg", -200, 0),
                              decimal("mix", 3), integer("grade", 0, 3), decimal("r0", 2)})},
                 "-- every arithmetic operator, CASE and an oblivious WHERE\n"
                 "INSERT INTO o SELECT age + 1 - 3 AS a1, income * 2 AS inc2,\n"
                 "  CASE WHEN age >= 65 THEN 1 ELSE 0 END AS senior, age * hours AS ah, -age AS neg,\n"
                 "  income * 3 + hours - 1.5 AS mix,\n"
                 "  CASE WHEN age < 18 THEN 0 WHEN age < 40 THEN 1 WHEN age < 65 THEN 2 ELSE 3 END"
                 " AS grade,\n"
                 "  ROUND(income * 3 + hours - 1.5, 0) AS r0\n"
                 "FROM persons WHERE employed AND NOT (region = 'east');",
                 {},
                 {}});
  all.push_back({"comparisons_and_logic",
                 {persons()},
                 {output("o", {boolean("c1"), boolean("c2"), boolean("c3"), boolean("c4"),
                              boolean("c5"), boolean("c6"), boolean("c7"), boolean("c8"),
                              boolean("c9"), boolean("c10")})},
                 "INSERT INTO o SELECT age < hours AS c1, age <= 30 AS c2, age > 40 AS c3,\n"
                 "  age >= hours AS c4, age = 33 AS c5, age <> 33 AS c6, age BETWEEN 20 AND 30 AS c7,\n"
                 "  region IN ('north', 'east') AS c8, employed OR age > 60 AS c9,\n"
                 "  NOT employed AND sex = 'f' AS c10\n"
                 "FROM persons;",
                 {},
                 {}});
  all.push_back({"global_aggregates",
                 {persons()},
                 {output("o", {integer("n", 0, 1'000'000), decimal("total", 2), decimal("mean", 4),
                              integer("youngest", 0, 120), integer("oldest", 0, 120),
                              decimal("var", 4), decimal("sd", 4), integer("hours_sum", 0, 10'000'000)})},
                 "INSERT INTO o SELECT COUNT(*) AS n, SUM(income) AS total, AVG(income) AS mean,\n"
                 "  MIN(age) AS youngest, MAX(age) AS oldest, VAR_SAMP(age) AS var,\n"
                 "  STDDEV_SAMP(age) AS sd, SUM(hours) AS hours_sum\n"
                 "FROM persons WHERE age >= 18;",
                 {},
                 {}});
  all.push_back({"correlation_and_regression",
                 {persons()},
                 {output("o", {decimal("r", 6), decimal("slope", 4), decimal("intercept", 2),
                              integer("n", 0, 1'000'000)})},
                 "INSERT INTO o SELECT CORR(hours, age) AS r, REGR_SLOPE(hours, age) AS slope,\n"
                 "  REGR_INTERCEPT(hours, age) AS intercept, COUNT(*) AS n FROM persons;",
                 {},
                 {}});
  all.push_back({"group_by_having",
                 {persons()},
                 {output("o", {category("region", {"north", "south", "east"}),
                              integer("n", 0, 1'000'000), integer("h", 0, 100'000'000),
                              decimal("mean_age", 3), integer("top", 0, 120)})},
                 "INSERT INTO o SELECT region, COUNT(*) AS n, SUM(hours) AS h, AVG(age) AS mean_age,\n"
                 "  MAX(age) AS top\n"
                 "FROM persons WHERE employed GROUP BY region HAVING COUNT(*) >= 3;",
                 {},
                 {}});
  all.push_back({"group_by_two_columns",
                 {persons()},
                 {output("o", {category("region", {"north", "south", "east"}),
                              category("sex", {"f", "m"}), integer("n", 0, 1'000'000),
                              decimal("income", 2), integer("low", 0, 120), decimal("med_age", 1),
                              decimal("med_income", 2)})},
                 "INSERT INTO o SELECT region, sex, COUNT(*) AS n, SUM(income) AS income,\n"
                 "  MIN(age) AS low, MEDIAN(age) AS med_age, MEDIAN(income) AS med_income\n"
                 "FROM persons GROUP BY region, sex;",
                 {},
                 {}});
  all.push_back({"group_by_sorted",
                 {persons()},
                 {output("o", {integer("age", 0, 120), category("sex", {"f", "m"}), integer("n", 0, 1'000'000),
                              decimal("income", 2), decimal("mean_hours", 3), decimal("sd_hours", 3),
                              decimal("var_hours", 3), decimal("mean_income", 2), decimal("wmean", 2)})},
                 "-- 242 groups over up to 10^5 rows: formed by sorting (most never occur at small sizes)\n"
                 "INSERT INTO o SELECT age, sex, COUNT(*) AS n, SUM(income) AS income, AVG(hours) AS mean_hours,\n"
                 "  STDDEV_SAMP(hours) AS sd_hours, VAR_SAMP(hours) AS var_hours, AVG(income) AS mean_income,\n"
                 "  SUM(income * hours) / SUM(hours) AS wmean\n"
                 "FROM persons WHERE employed GROUP BY age, sex HAVING COUNT(*) >= 2;",
                 {},
                 {}});
  all.push_back({"join_projection_and_aggregate",
                 {persons(), taxes()},
                 {output("rows", {integer("age", 0, 120), decimal("tax", 2), integer("year", 2000, 2030)}),
                  output("totals", {integer("n", 0, 1'000'000), decimal("tax", 2),
                                   decimal("mean_tax", 2)})},
                 "INSERT INTO rows SELECT persons.age AS age, taxes.tax AS tax, year\n"
                 "FROM persons JOIN taxes ON persons.id = taxes.id WHERE taxes.tax > 100;\n"
                 "INSERT INTO totals SELECT COUNT(*) AS n, SUM(taxes.tax) AS tax,\n"
                 "  AVG(taxes.tax) AS mean_tax FROM persons JOIN taxes ON persons.id = taxes.id;",
                 {},
                 {}});
  all.push_back({"join_then_group_by_sorted",
                 {persons(), taxes()},
                 {output("o", {integer("year", 2000, 2030), integer("age", 0, 120), integer("n", 0, 1'000'000),
                              decimal("tax", 2), decimal("mean_tax", 2), decimal("sd_hours", 3)})},
                 "-- a grouping by sorting over a join's result, whose unmatched rows the filter drops\n"
                 "INSERT INTO o SELECT year, age, COUNT(*) AS n, SUM(taxes.tax) AS tax, AVG(taxes.tax) AS mean_tax,\n"
                 "  STDDEV_SAMP(hours) AS sd_hours\n"
                 "FROM persons JOIN taxes ON persons.id = taxes.id WHERE employed GROUP BY year, age;",
                 {},
                 {}});
  all.push_back({"join_one_to_many",
                 {with_unique(persons(), "id"), jobs()},
                 {output("rows", {integer("age", 0, 120), integer("wage", 0, 100'000),
                                 category("region", {"north", "south", "east"})}),
                  output("by_region", {category("region", {"north", "south", "east"}), integer("n", 0, 1'000'000),
                                      integer("total", 0, 0), decimal("mean", 2)})},
                 "-- persons.id is UNIQUE, jobs.person_id repeats: one row per job, in a shuffled order\n"
                 "INSERT INTO rows SELECT persons.age AS age, wage, region FROM jobs\n"
                 "  JOIN persons ON jobs.person_id = persons.id WHERE wage > 20000;\n"
                 "INSERT INTO by_region SELECT region, COUNT(*) AS n, SUM(wage) AS total, AVG(wage) AS mean\n"
                 "FROM persons JOIN jobs ON persons.id = jobs.person_id GROUP BY region;",
                 {},
                 {}});
  all.push_back({"join_three_tables",
                 {with_unique(persons(), "id"), jobs(), employers()},
                 {output("rows", {integer("age", 0, 120), integer("wage", 0, 100'000), integer("size", 1, 50'000),
                                 category("sector", {"a", "b"})}),
                  output("by_sector", {category("sector", {"a", "b"}), category("sex", {"f", "m"}),
                                      integer("n", 0, 1'000'000), integer("wages", 0, 0), integer("oldest", 0, 120)})},
                 "INSERT INTO rows SELECT age, wage, size, sector FROM jobs\n"
                 "  JOIN persons ON jobs.person_id = persons.id\n"
                 "  JOIN employers ON jobs.employer = employers.employer;\n"
                 "INSERT INTO by_sector SELECT sector, sex, COUNT(*) AS n, SUM(wage) AS wages, MAX(age) AS oldest\n"
                 "FROM persons JOIN jobs ON persons.id = jobs.person_id\n"
                 "  INNER JOIN employers ON employers.employer = jobs.employer\n"
                 "WHERE contract <> 'casual' GROUP BY sector, sex;",
                 {},
                 {}});
  all.push_back({"join_after_union",
                 {with_unique(persons(), "id"), jobs(), jobs("jobs_b")},
                 {output("rows", {category("contract", {"permanent", "fixed", "casual"}), integer("wage", 0, 100'000),
                                 boolean("employed")}),
                  output("by_contract", {category("contract", {"permanent", "fixed", "casual"}),
                                        integer("n", 0, 1'000'000), integer("wages", 0, 0),
                                        decimal("mean_age", 3)})},
                 "-- two organisations' jobs, united, then joined with the persons register\n"
                 "INSERT INTO rows SELECT contract, wage, employed FROM jobs UNION ALL jobs_b\n"
                 "  JOIN persons ON person_id = persons.id;\n"
                 "INSERT INTO by_contract SELECT contract, COUNT(*) AS n, SUM(wage) AS wages, AVG(age) AS mean_age\n"
                 "FROM jobs UNION ALL jobs_b JOIN persons ON jobs.person_id = persons.id\n"
                 "GROUP BY contract HAVING COUNT(*) >= 2;",
                 {},
                 {}});
  all.push_back({"wide_sums",
                 {firms()},
                 {output("by_sector", {category("sector", {"a", "b", "c"}), decimal("total", 2), decimal("mean", 2),
                                       decimal("mean4", 4), integer("n", 0, 10'000'000), decimal("var", 0),
                                       decimal("sd", 2), decimal("r", 6), decimal("slope", 4),
                                       decimal("icpt", 2)}),
                  output("overall", {decimal("total", 0), decimal("mean", 0), integer("staff", 0, 10'000'000'000'000),
                                     decimal("var", 2), decimal("sd", 1), decimal("var4", 4)})},
                 "-- national amounts: statistics beyond the 64-bit ring, in limbs\n"
                 "INSERT INTO by_sector SELECT sector, SUM(turnover) AS total, AVG(turnover) AS mean,\n"
                 "  AVG(turnover) AS mean4, COUNT(*) AS n, VAR_SAMP(turnover) AS var, STDDEV_SAMP(turnover) AS sd,\n"
                 "  CORR(turnover, staff) AS r, REGR_SLOPE(turnover, staff) AS slope,\n"
                 "  REGR_INTERCEPT(turnover, staff) AS icpt FROM firms WHERE staff > 10 GROUP BY sector;\n"
                 "INSERT INTO overall SELECT SUM(turnover) AS total, AVG(turnover) AS mean, SUM(staff) AS staff,\n"
                 "  VAR_SAMP(turnover) AS var, STDDEV_SAMP(turnover) AS sd, VAR_SAMP(turnover) AS var4 FROM firms;",
                 {},
                 {}});
  all.push_back({"division",
                 {persons()},
                 {output("o", {decimal("per_hour", 4)})},
                 "INSERT INTO o SELECT income / hours AS per_hour FROM persons;",
                 {},
                 {}});
  all.push_back({"quality_checks",
                 {persons(), taxes()},
                 {output("o", {integer("n", 0, 1'000'000)})},
                 "INSERT INTO o SELECT COUNT(*) AS n FROM persons;",
                 {{"persons", "CHECK age BETWEEN 0 AND 120;\nCHECK COUNT(*) >= 1;"},
                  {"taxes", "CHECK tax < 20000;  -- fails on most random data\n"}},
                 {}});
  all.push_back({"union_of_two_inputs",
                 {persons(),
                  [] {
                    auto other = persons();
                    other.name = "persons_b";
                    return other;
                  }()},
                 {output("o", {category("region", {"north", "south", "east"}),
                              integer("n", 0, 1'000'000), decimal("income", 2),
                              decimal("mean_age", 3)})},
                 "INSERT INTO o SELECT region, COUNT(*) AS n, SUM(income) AS income,\n"
                 "  AVG(age) AS mean_age\n"
                 "FROM persons UNION ALL persons_b WHERE employed GROUP BY region\n"
                 "HAVING COUNT(*) >= 3;",
                 {},
                 {}});
  all.push_back({"order_by_limit",
                 {persons(),
                  [] {
                    auto other = persons();
                    other.name = "persons_b";
                    return other;
                  }()},
                 {output("richest", {integer("age", 0, 120), decimal("income", 2),
                                    category("region", {"north", "south", "east"})}),
                  output("by_age", {integer("age", 0, 120), integer("n", 0, 1'000'000), decimal("income", 2)}),
                  output("regions", {category("region", {"north", "south", "east"}), integer("n", 0, 1'000'000),
                                     decimal("med", 1)})},
                 "-- top k: rows of a union (ties by row order), sorted groups under a HAVING rule, a median\n"
                 "INSERT INTO richest SELECT age, income, region FROM persons UNION ALL persons_b\n"
                 "  WHERE employed ORDER BY region DESC, income DESC LIMIT 10;\n"
                 "INSERT INTO by_age SELECT age, COUNT(*) AS n, SUM(income) AS income FROM persons\n"
                 "  WHERE employed GROUP BY age HAVING COUNT(*) >= 2 ORDER BY SUM(income) DESC LIMIT 5;\n"
                 "INSERT INTO regions SELECT region, COUNT(*) AS n, MEDIAN(hours) AS med FROM persons\n"
                 "  GROUP BY region ORDER BY med, n DESC LIMIT 2;",
                 {},
                 {}});
  all.push_back({"population_moments_covariances_r2",
                 {persons()},
                 {output("o", {category("region", {"north", "south", "east"}), decimal("vp", 3), decimal("sp", 3),
                              decimal("cs", 2), decimal("cp", 3), decimal("r2", 6)})},
                 "-- COVAR_SAMP(age, income) is beyond the ring; the others fit it, and as whole select items\n"
                 "-- all are computed exactly in limbs and rounded once\n"
                 "INSERT INTO o SELECT region, VAR_POP(age) AS vp, STDDEV_POP(hours) AS sp,\n"
                 "  COVAR_SAMP(age, income) AS cs, COVAR_POP(hours, age) AS cp, REGR_R2(hours, age) AS r2\n"
                 "FROM persons WHERE employed GROUP BY region HAVING COUNT(*) >= 2;",
                 {},
                 {}});
  all.push_back({"fixed_point_statistics",
                 {persons()},
                 {output("o", {category("region", {"north", "south", "east"}), decimal("sd2", 3), decimal("vp2", 2),
                              decimal("cs2", 2), decimal("r100", 3), decimal("slope10", 3), decimal("icpt", 2),
                              decimal("r2pct", 3), decimal("cv", 4)})},
                 "-- statistics inside expressions: their fixed-point forms (moments.cpp), within the bound\n"
                 "INSERT INTO o SELECT region, STDDEV_SAMP(hours) * 2 AS sd2, VAR_POP(age) * 2 AS vp2,\n"
                 "  COVAR_SAMP(age, hours) * 2 AS cs2, CORR(age, hours) * 100 AS r100,\n"
                 "  REGR_SLOPE(hours, age) * 10 AS slope10, REGR_INTERCEPT(hours, age) + 1 AS icpt,\n"
                 "  REGR_R2(hours, age) * 100 AS r2pct, STDDEV_POP(hours) / COUNT(*) AS cv\n"
                 "FROM persons WHERE employed GROUP BY region;",
                 {},
                 {"o.sd2", "o.vp2", "o.cs2", "o.r100", "o.slope10", "o.icpt", "o.r2pct", "o.cv"}});
  all.push_back({"percentiles",
                 {persons()},
                 {output("o", {category("region", {"north", "south", "east"}), decimal("q1_age", 2),
                              decimal("p90_income", 3), decimal("c50_hours", 1), integer("d10_age", 0, 120),
                              decimal("d90_income", 2), integer("d100_hours", 1, 80)})},
                 "-- PERCENTILE_CONT exact (times 10^d), rounded half away from zero when written\n"
                 "INSERT INTO o SELECT region,\n"
                 "  PERCENTILE_CONT(0.25) WITHIN GROUP (ORDER BY age) AS q1_age,\n"
                 "  PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY income) AS p90_income,\n"
                 "  PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY hours) AS c50_hours,\n"
                 "  PERCENTILE_DISC(0.1) WITHIN GROUP (ORDER BY age) AS d10_age,\n"
                 "  PERCENTILE_DISC(0.9) WITHIN GROUP (ORDER BY income) AS d90_income,\n"
                 "  PERCENTILE_DISC(1) WITHIN GROUP (ORDER BY hours) AS d100_hours\n"
                 "FROM persons WHERE employed GROUP BY region;",
                 {},
                 {}});
  all.push_back({"group_by_case",
                 {persons()},
                 {output("bands", {category("band", {"young", "middle", "old"}), integer("n", 0, 1'000'000),
                                   decimal("total", 2), decimal("mean_hours", 3)}),
                  output("zones", {integer("zone", -1, 10), category("sex", {"f", "m"}), integer("n", 0, 1'000'000),
                                   integer("most", 0, 80)}),
                  output("by_age", {category("side", {"e", "w"}), integer("age", 0, 120), integer("n", 0, 1'000'000),
                                    integer("h", 0, 10'000'000)})},
                 "-- CASE groups: texts by their AS name (masks, HAVING), whole numbers written out (no ELSE: 0),\n"
                 "-- and a recoded category beside every age (242 groups, sorted)\n"
                 "INSERT INTO bands SELECT CASE WHEN age < 30 THEN 'young' WHEN age < 60 THEN 'middle' ELSE 'old' END\n"
                 "  AS band, COUNT(*) AS n, SUM(income) AS total, AVG(hours) AS mean_hours\n"
                 "FROM persons WHERE employed GROUP BY band HAVING COUNT(*) >= 2;\n"
                 "INSERT INTO zones SELECT CASE WHEN region IN ('north', 'south') THEN 10 WHEN age > 60 THEN -1 END\n"
                 "  AS zone, sex, COUNT(*) AS n, MAX(hours) AS most FROM persons\n"
                 "GROUP BY CASE WHEN region IN ('north', 'south') THEN 10 WHEN age > 60 THEN -1 END, sex;\n"
                 "INSERT INTO by_age SELECT CASE WHEN region = 'east' THEN 'e' ELSE 'w' END AS side, age,\n"
                 "  COUNT(*) AS n, SUM(hours) AS h FROM persons GROUP BY side, age;",
                 {},
                 {}});
  all.push_back({"width_bucket",
                 {persons()},
                 {output("buckets", {integer("b10", 0, 11), integer("b5", 0, 6), integer("b1000", 0, 1001)}),
                  output("hist", {integer("bucket", 0, 21), category("sex", {"f", "m"}), integer("n", 0, 1'000'000),
                                  decimal("mean_age", 2)})},
                 "-- WIDTH_BUCKET by its edges (n <= 7) and by an exact division, on rows, in WHERE and as a key\n"
                 "INSERT INTO buckets SELECT WIDTH_BUCKET(age, 0, 100, 10) AS b10,\n"
                 "  WIDTH_BUCKET(income, 1000, 400000.5, 5) AS b5, WIDTH_BUCKET(hours, 10, 70, 1000) AS b1000\n"
                 "FROM persons WHERE WIDTH_BUCKET(hours, 0, 80, 2) = 1;\n"
                 "INSERT INTO hist SELECT WIDTH_BUCKET(income, 0, 500000, 20) AS bucket, sex, COUNT(*) AS n,\n"
                 "  AVG(age) AS mean_age FROM persons GROUP BY bucket, sex;",
                 {},
                 {}});
  all.push_back({"count_distinct",
                 {with_unique(persons(), "id"), jobs()},
                 {output("overall", {integer("ids", 0, 1'000'000), integer("ages", 0, 121), integer("regions", 0, 3),
                                     integer("n", 0, 1'000'000)}),
                  output("by_region", {category("region", {"north", "south", "east"}), integer("hours", 0, 80),
                                       integer("decades", 0, 12)}),
                  output("by_age", {integer("age", 0, 120), integer("ids", 0, 1'000'000), integer("sexes", 0, 2)}),
                  output("linked", {category("contract", {"permanent", "fixed", "casual"}),
                                    integer("persons", 0, 1'000'000), integer("regions", 0, 3)})},
                 "-- COUNT(DISTINCT x) of keys (two-word sort keys), whole numbers, categories and WIDTH_BUCKET:\n"
                 "-- overall, per group on masks (HAVING on the rows) and sorted (121 ages), over a join\n"
                 "INSERT INTO overall SELECT COUNT(DISTINCT id) AS ids, COUNT(DISTINCT age) AS ages,\n"
                 "  COUNT(DISTINCT region) AS regions, COUNT(*) AS n FROM persons WHERE employed;\n"
                 "INSERT INTO by_region SELECT region, COUNT(DISTINCT hours) AS hours,\n"
                 "  COUNT(DISTINCT WIDTH_BUCKET(age, 0, 100, 10)) AS decades FROM persons\n"
                 "GROUP BY region HAVING COUNT(*) >= 2;\n"
                 "INSERT INTO by_age SELECT age, COUNT(DISTINCT id) AS ids, COUNT(DISTINCT sex) AS sexes\n"
                 "FROM persons WHERE hours > 20 GROUP BY age;\n"
                 "INSERT INTO linked SELECT contract, COUNT(DISTINCT person_id) AS persons,\n"
                 "  COUNT(DISTINCT region) AS regions FROM jobs JOIN persons ON jobs.person_id = persons.id\n"
                 "GROUP BY contract;",
                 {{"persons", "CHECK COUNT(DISTINCT id) = COUNT(*);"}},
                 {}});
  all.push_back({"having_dominance",
                 {persons(), jobs(), employers()},
                 {output("by_contract", {category("contract", {"permanent", "fixed", "casual"}),
                                         integer("n", 0, 1'000'000), integer("wages", 0, 100'000'000'000)}),
                  output("by_region", {category("region", {"north", "south", "east"}), integer("h", 0, 10'000'000)}),
                  output("overall", {decimal("income", 2)}),
                  output("by_sector", {category("sector", {"a", "b"}), integer("n", 0, 1'000'000)})},
                 "-- the dominance rule: with the count (codes 0, 1 and 2), alone under ORDER BY ... LIMIT,\n"
                 "-- without GROUP BY (a decimal), and over a join (an expression of the joined input's column)\n"
                 "INSERT INTO by_contract SELECT contract, COUNT(*) AS n, SUM(wage) AS wages FROM jobs\n"
                 "WHERE wage > 10 GROUP BY contract HAVING COUNT(*) >= 2 AND DOMINANCE(wage, 2) <= 60;\n"
                 "INSERT INTO by_region SELECT region, SUM(hours) AS h FROM persons GROUP BY region\n"
                 "HAVING DOMINANCE(hours, 1) <= 40 ORDER BY h DESC LIMIT 2;\n"
                 "INSERT INTO overall SELECT SUM(income) AS income FROM persons WHERE employed\n"
                 "HAVING DOMINANCE(income, 3) <= 70;\n"
                 "INSERT INTO by_sector SELECT sector, COUNT(*) AS n FROM jobs\n"
                 "JOIN employers ON jobs.employer = employers.employer\n"
                 "GROUP BY sector HAVING DOMINANCE(size * 2, 2) <= 50 AND COUNT(*) >= 2;",
                 {},
                 {}});
  all.push_back({"missing_values",
                 {survey(), with_unique(persons(), "id")},
                 {output("overall", {integer("n", 0, 1'000'000), integer("ages", 0, 1'000'000), decimal("mean_age", 2),
                                     decimal("income", 2), integer("oldest", 0, 120)}),
                  output("by_region", {category("region", {"north", "south", "east"}), integer("n", 0, 1'000'000),
                                       integer("incomes", 0, 1'000'000), decimal("mean_income", 2),
                                       decimal("median_age", 1), integer("youngest", 0, 120), integer("ages", 0, 1'000'000),
                                       integer("missing", 0, 1'000'000), decimal("sd_income", 2)}),
                  output("by_hours", {integer("hours", 1, 80), integer("n", 0, 1'000'000), decimal("income", 2)}),
                  output("by_sex", {category("sex", {"unknown", "f", "m"}), integer("n", 0, 1'000'000),
                                    decimal("tax", 2)}),
                  output("answered", {integer("age", 0, 120), decimal("income", 2)})},
                 "-- missing values: aggregates skip them (COUNT(x) against COUNT(*)), conditions follow SQL's\n"
                 "-- three-valued logic (WHERE keeps what is true), on masks and sorted, over a join and in rows\n"
                 "INSERT INTO overall SELECT COUNT(*) AS n, COUNT(age) AS ages, AVG(age) AS mean_age,\n"
                 "  SUM(income) AS income, MAX(age) AS oldest FROM survey WHERE employed OR age > 60;\n"
                 "INSERT INTO by_region SELECT region, COUNT(*) AS n, COUNT(income) AS incomes,\n"
                 "  AVG(income) AS mean_income, MEDIAN(age) AS median_age, MIN(age) AS youngest,\n"
                 "  COUNT(DISTINCT age) AS ages, SUM(CASE WHEN income IS NULL THEN 1 ELSE 0 END) AS missing,\n"
                 "  STDDEV_SAMP(income) AS sd_income FROM survey WHERE NOT (age < 18 AND employed)\n"
                 "GROUP BY region HAVING COUNT(*) >= 2;\n"
                 "INSERT INTO by_hours SELECT hours, COUNT(income) AS n, SUM(income * 2) AS income FROM survey\n"
                 "WHERE age NOT BETWEEN 30 AND 40 OR age IS NULL GROUP BY hours;\n"
                 "INSERT INTO by_sex SELECT CASE WHEN survey.sex IS NULL THEN 'unknown' WHEN survey.sex = 'f' THEN 'f' ELSE 'm' END\n"
                 "  AS sex, COUNT(*) AS n, SUM(persons.income - survey.income) AS tax FROM survey\n"
                 "JOIN persons ON survey.id = persons.id WHERE survey.age IN (20, 30, 40, 50) OR survey.age > 90\n"
                 "GROUP BY sex;\n"
                 "INSERT INTO answered SELECT age, income FROM survey WHERE age IS NOT NULL AND income IS NOT NULL\n"
                 "  AND CASE WHEN employed THEN 1 ELSE 0 END = 0;",
                 {{"survey", "CHECK age >= 0; CHECK COUNT(age) <= COUNT(*);"}},
                 {}});
  all.push_back({"group_by_rollup",
                 {persons(), jobs(), employers()},
                 {output("cells", {category("region", {"north", "south", "east", "_T"}), category("sex", {"f", "m", "_T"}),
                                   integer("n", 0, 1'000'000), decimal("income", 2), decimal("mean_hours", 2),
                                   decimal("median_age", 1)}),
                  output("bands", {category("band", {"young", "middle", "old", "_T"}),
                                   category("contract", {"permanent", "fixed", "casual", "_T"}), integer("n", 0, 1'000'000),
                                   integer("wages", 0, 100'000'000'000)}),
                  output("sectors", {category("sector", {"a", "b", "_T"}), integer("n", 0, 1'000'000)})},
                 "-- GROUP BY ROLLUP: margins and the grand total on masks (with MEDIAN) and sorted (the count rule\n"
                 "-- and its secondary suppression, codes 0, 1 and 3), and under the dominance rule over a join\n"
                 "INSERT INTO cells SELECT region, sex, COUNT(*) AS n, SUM(income) AS income, AVG(hours) AS mean_hours,\n"
                 "  MEDIAN(age) AS median_age FROM persons WHERE employed GROUP BY ROLLUP(region, sex);\n"
                 "INSERT INTO bands SELECT CASE WHEN age < 30 THEN 'young' WHEN age < 60 THEN 'middle' ELSE 'old' END\n"
                 "  AS band, contract, COUNT(*) AS n, SUM(wage) AS wages FROM jobs JOIN persons ON jobs.person_id = persons.id\n"
                 "GROUP BY ROLLUP(band, contract) HAVING COUNT(*) >= 3;\n"
                 "INSERT INTO sectors SELECT sector, COUNT(*) AS n FROM jobs\n"
                 "JOIN employers ON jobs.employer = employers.employer\n"
                 "GROUP BY ROLLUP(sector) HAVING DOMINANCE(size, 1) <= 50 AND COUNT(*) >= 2;",
                 {},
                 {}});
  return all;
}

} // namespace joconde::test
