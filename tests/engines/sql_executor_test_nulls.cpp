// Missing values (NULL) in the executor, on the reference backend and on rss3: a small survey with
// gaps, each output compared with what the test computes itself by SQL's rules, written out here
// with std::optional: aggregates skip missing values (COUNT(x) against COUNT(*), AVG over the
// present ones), conditions follow three-valued logic (WHERE keeps what is true, CASE takes a WHEN
// that is true), and a data-quality CHECK fails only where it is false.

#include "joconde/engines/reference.hpp"
#include "joconde/engines/sql/compiler.hpp"
#include "joconde/engines/sql/executor.hpp"

#include "schema_builders.hpp"
#include "sql_run_both.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

using namespace joconde;
using namespace joconde::engines;
using namespace joconde::test;

namespace {

using i64 = std::int64_t;
using maybe = std::optional<i64>;
using rows_of = expected_rows;  // each row: its written columns, then its valid flag

/// One answer: age, income (cents) and employed may be missing.
struct answer {
  i64 id;
  maybe age, income;
  i64 region;
  maybe employed;
  i64 hours;
};

const std::vector<answer> answers{
  {1, 34, 250000, 0, 1, 40},        {2, {}, 120000, 0, 1, 20},  {3, 61, {}, 1, 0, 10},
  {4, 17, 0, 1, {}, 5},             {5, 45, 480075, 2, 1, 38},  {6, {}, {}, 2, {}, 12},
  {7, 70, 99999, 0, 0, 1},          {8, 29, 310050, 1, 1, 40},  {9, 52, {}, 0, {}, 30},
  {10, 38, 75025, 2, 0, 16},        {11, 66, 50000, 1, 1, 8},   {12, {}, 333333, 1, 0, 24}};

std::vector<table_schema> inputs() {
  return {table("s",
                {unique(integer("id", 1, 100)), nullable(integer("age", 0, 120)),
                 nullable(decimal("income", 2, 0, 100'000'000)), category("region", {"north", "south", "east"}),
                 nullable(boolean("employed")), integer("hours", 1, 80)},
                100)};
}

clear_table data() {
  clear_table cols(6);
  auto put = [](const maybe& v) { return v ? *v : static_cast<i64>(null_word); };
  for (const auto& a : answers) {
    cols[0].push_back(a.id);
    cols[1].push_back(put(a.age));
    cols[2].push_back(put(a.income));
    cols[3].push_back(a.region);
    cols[4].push_back(put(a.employed));
    cols[5].push_back(a.hours);
  }
  return cols;
}

sql::program compiled(const std::string& source, std::vector<table_schema> outputs,
                      const std::map<std::string, std::string>& quality = {}) {
  auto r = sql::compile(source, inputs(), std::move(outputs), quality);
  BOOST_TEST_REQUIRE(r.ok(), (r ? std::string{} : r.err().message));
  return r.value();
}

/// Runs `p` on both engines over the survey; each must write `expected` to every output named there.
void check(const sql::program& p, const std::map<std::string, rows_of>& expected) {
  expect_rows(p, {{"s", data()}}, expected);
}

// SQL's three-valued logic: nullopt is unknown.
using truth = std::optional<bool>;
truth cmp(const maybe& x, const std::function<bool(i64)>& holds) {
  return x ? truth{holds(*x)} : std::nullopt;
}
truth t_not(const truth& a) {
  return a ? truth{!*a} : std::nullopt;
}
truth t_and(const truth& a, const truth& b) {
  if (a == truth{false} || b == truth{false})
    return false;
  if (a == truth{true} && b == truth{true})
    return true;
  return std::nullopt;
}
truth t_or(const truth& a, const truth& b) {
  if (a == truth{true} || b == truth{true})
    return true;
  if (a == truth{false} && b == truth{false})
    return false;
  return std::nullopt;
}
bool is_true(const truth& t) {
  return t.value_or(false);
}

} // namespace

BOOST_AUTO_TEST_CASE(aggregates_skip_missing_values) {
  auto p = compiled(
    "INSERT INTO by_region SELECT region, COUNT(*) AS n, COUNT(income) AS incomes, SUM(income) AS total,\n"
    "  AVG(income) AS mean_income, MIN(age) AS youngest, MAX(age) AS oldest, MEDIAN(age) AS median_age,\n"
    "  COUNT(DISTINCT employed) AS kinds, SUM(CASE WHEN age IS NULL THEN 1 ELSE 0 END) AS no_age,\n"
    "  SUM(income / hours) AS per_hour\n"
    "FROM s GROUP BY region;\n"
    "INSERT INTO overall SELECT COUNT(age) AS ages, AVG(age) AS mean_age, SUM(age + hours) AS both_ FROM s;",
    {table("by_region", {category("region", {"north", "south", "east"}), integer("n", 0, 0), integer("incomes", 0, 0),
                         decimal("total", 2, 0, 0), decimal("mean_income", 2, 0, 0), integer("youngest", 0, 0),
                         integer("oldest", 0, 0), decimal("median_age", 1, 0, 0), integer("kinds", 0, 0),
                         integer("no_age", 0, 0), decimal("per_hour", 2, 0, 0)}),
     table("overall", {integer("ages", 0, 0), decimal("mean_age", 2, 0, 0), integer("both_", 0, 0)})});
  rows_of by_region;
  for (i64 r = 0; r < 3; ++r) {
    i64 n = 0, incomes = 0, total = 0, youngest = 1000, oldest = -1, no_age = 0, per_hour = 0;
    std::vector<i64> ages;
    std::vector<i64> kinds;
    for (const auto& a : answers) {
      if (a.region != r)
        continue;
      ++n;
      if (a.income) {
        ++incomes;
        total += *a.income;
        per_hour += *a.income / a.hours;  // cents per hour, truncated, below exact in the second decimal
      }
      if (a.age) {
        ages.push_back(*a.age);
        youngest = std::min(youngest, *a.age);
        oldest = std::max(oldest, *a.age);
      } else {
        ++no_age;
      }
      if (a.employed && std::find(kinds.begin(), kinds.end(), *a.employed) == kinds.end())
        kinds.push_back(*a.employed);
    }
    std::sort(ages.begin(), ages.end());
    const auto m = ages.size();
    const i64 median = m % 2 == 1 ? ages[m / 2] * 10 : (ages[m / 2 - 1] + ages[m / 2]) * 5;
    by_region.push_back({r, n, incomes, total, round_half_away(total, incomes), youngest, oldest, median,
                         static_cast<i64>(kinds.size()), no_age, per_hour, 1});
  }
  i64 ages = 0, sum_age = 0, both = 0;
  for (const auto& a : answers)
    if (a.age) {
      ++ages;
      sum_age += *a.age;
      both += *a.age + a.hours;
    }
  // SUM(income / hours) divides in fixed point: compared below within a cent per row, not here.
  for (const auto& [engine, outputs] : run_both(p, {{"s", data()}})) {
    BOOST_TEST_CONTEXT(engine) {
      const auto& o = outputs.at("by_region");
      for (std::size_t r = 0; r < 3; ++r)
        for (std::size_t c = 0; c < o.columns.size(); ++c) {
          const auto got = static_cast<i64>(o.columns[c][r]);
          if (c == 10)
            BOOST_TEST(std::abs(got - by_region[r][c]) <= 4, "per_hour of region " << r << ": " << got);
          else
            BOOST_TEST(got == by_region[r][c], "column " << c << " of region " << r);
        }
      const auto& all = outputs.at("overall");
      BOOST_TEST(static_cast<i64>(all.columns[0][0]) == ages);
      BOOST_TEST(static_cast<i64>(all.columns[1][0]) == round_half_away(sum_age * 100, ages));
      BOOST_TEST(static_cast<i64>(all.columns[2][0]) == both);
      BOOST_TEST(ages < static_cast<i64>(answers.size()));  // some ages are missing
    }
  }
}

BOOST_AUTO_TEST_CASE(conditions_follow_three_valued_logic) {
  // Each condition counts the rows it keeps; the expected count applies SQL's rules to the data.
  struct condition {
    std::string sql;
    std::function<truth(const answer&)> meaning;
  };
  auto age = [](const answer& a, auto f) { return cmp(a.age, f); };
  auto employed = [](const answer& a) { return a.employed ? truth{*a.employed == 1} : std::nullopt; };
  const std::vector<condition> conditions{
    {"age > 40", [&](const answer& a) { return age(a, [](i64 v) { return v > 40; }); }},
    {"NOT (age > 40)", [&](const answer& a) { return t_not(age(a, [](i64 v) { return v > 40; })); }},
    {"age > 40 OR employed", [&](const answer& a) { return t_or(age(a, [](i64 v) { return v > 40; }), employed(a)); }},
    {"NOT (age > 40 AND employed)",
     [&](const answer& a) { return t_not(t_and(age(a, [](i64 v) { return v > 40; }), employed(a))); }},
    {"NOT employed OR income IS NULL",
     [&](const answer& a) { return t_or(t_not(employed(a)), truth{!a.income}); }},
    {"age IS NULL", [](const answer& a) { return truth{!a.age}; }},
    {"age IN (34, 45, 61)", [&](const answer& a) { return age(a, [](i64 v) { return v == 34 || v == 45 || v == 61; }); }},
    {"age NOT IN (34, 45)", [&](const answer& a) { return age(a, [](i64 v) { return v != 34 && v != 45; }); }},
    {"age NOT BETWEEN 30 AND 50", [&](const answer& a) { return age(a, [](i64 v) { return v < 30 || v > 50; }); }},
    {"age + hours > 70", [](const answer& a) { return a.age ? truth{*a.age + a.hours > 70} : std::nullopt; }},
    // CASE takes a WHEN only where it is true: an unknown one goes to ELSE.
    {"CASE WHEN age > 40 THEN 1 ELSE 0 END = 0", [&](const answer& a) {
       return truth{!is_true(age(a, [](i64 v) { return v > 40; }))};
     }},
    {"CASE WHEN employed THEN income ELSE 0 END > 1000", [&](const answer& a) {
       if (!is_true(employed(a)))
         return truth{false};
       return a.income ? truth{*a.income > 100000} : std::nullopt;  // 1000.00 in cents
     }},
  };
  std::string source;
  std::vector<table_schema> outputs;
  std::map<std::string, rows_of> expected;
  for (std::size_t i = 0; i < conditions.size(); ++i) {
    const auto name = "c" + std::to_string(i);
    source += "INSERT INTO " + name + " SELECT COUNT(*) AS n FROM s WHERE " + conditions[i].sql + ";\n";
    outputs.push_back(table(name, {integer("n", 0, 0)}));
    i64 n = 0;
    for (const auto& a : answers)
      n += is_true(conditions[i].meaning(a)) ? 1 : 0;
    expected[name] = {{n, 1}};
  }
  // Rows: WHERE x IS NOT NULL lets a row of the output hold x.
  source += "INSERT INTO kept SELECT id, age, income FROM s WHERE age IS NOT NULL AND income IS NOT NULL AND age < 40;";
  outputs.push_back(table("kept", {integer("id", 0, 0), integer("age", 0, 0), decimal("income", 2, 0, 0)}));
  rows_of kept;
  for (const auto& a : answers) {
    const bool in = a.age && a.income && *a.age < 40;
    kept.push_back(in ? std::vector<i64>{a.id, *a.age, *a.income, 1} : std::vector<i64>{0, 0, 0, 0});
  }
  expected["kept"] = kept;
  check(compiled(source, outputs), expected);
}

BOOST_AUTO_TEST_CASE(a_check_fails_only_where_it_is_false) {
  // age >= 17 holds where age is present (the youngest is 17) and is unknown elsewhere: it passes.
  // age >= 18 is false for the 17-year-old: it fails. COUNT(age) counts the present ages.
  auto outputs = std::vector<table_schema>{table("o", {integer("n", 0, 0)})};
  const std::string main = "INSERT INTO o SELECT COUNT(*) AS n FROM s;";
  for (const auto& [check_source, passes] :
       std::vector<std::pair<std::string, bool>>{{"CHECK age >= 17;", true},
                                                 {"CHECK age >= 18;", false},
                                                 {"CHECK NOT (age < 17) AND income >= 0;", true},
                                                 {"CHECK COUNT(age) = 9;", true},
                                                 {"CHECK COUNT(age) = COUNT(*);", false},
                                                 {"CHECK age IS NOT NULL OR income IS NOT NULL;", false}}) {
    BOOST_TEST_CONTEXT(check_source) {
      auto p = compiled(main, outputs, {{"s", check_source}});
      reference_backend ref;
      auto res = sql::run(p, ref, shared(ref, {{"s", data()}}, 0));
      BOOST_TEST(res.quality.at("s") == passes);
    }
  }
}
