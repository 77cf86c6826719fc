#define BOOST_TEST_MODULE sql_executor
#include <boost/test/unit_test.hpp>

// The joconde-sql/1 executor on the reference backend: small hand-written tables whose expected
// outputs the test computes itself with plain loops.

#include "joconde/engines/reference.hpp"
#include "joconde/engines/sql/compiler.hpp"

#include "schema_builders.hpp"
#include "joconde/engines/sql/executor.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

using namespace joconde;
using namespace joconde::engines;

namespace sql_test {

using namespace joconde::test;

/// persons(id key, age [0,120], income decimal(2) [0, 10^10], region {North, South, East},
/// sex {F, M}, employed, weight [1, 10^6], hours unbounded, balance decimal(2) [-10^6, 10^6]),
/// at most 10^6 rows.
} // namespace sql_test

using namespace sql_test;

namespace {

using i64 = std::int64_t;

// -- the data --------------------------------------------------------------------------------------

const std::vector<i64> ids{11, 12, 13, 14, 15, 16};
const std::vector<i64> ages{25, 34, 47, 52, 19, 61};
const std::vector<i64> incomes_enc{250000, 310050, 0, 480075, 120000, 999999};  // scale 2
const std::vector<i64> regions{0, 1, 0, 1, 0, 1};  // North, South; East has no row
const std::vector<i64> sexes{0, 1, 1, 0, 0, 1};    // F, M
const std::vector<i64> employed{1, 1, 0, 1, 0, 0};
const std::vector<i64> weights{3, 1, 4, 1, 5, 9};
const std::vector<i64> balances{-1234, 5678, -10, 0, 999, -1000};  // scale 2

table_schema persons_schema(std::uint64_t max_rows = 100) {
  return table("persons",
               {key("id"), integer("age", 0, 120), decimal("income", 2, 0, 100'000'000),
                category("region", {"North", "South", "East"}), category("sex", {"F", "M"}),
                boolean("employed"), integer("weight", 1, 100),
                decimal("balance", 2, -1'000'000, 1'000'000)},
               max_rows);
}

table_schema incomes_schema() {
  return table("incomes", {key("id"), integer("amount", 0, 1'000'000)}, 100);
}

secret vec(const std::vector<i64>& v) {
  secret s;
  for (auto x : v)
    s.a.push_back(static_cast<word>(x));
  return s;
}

secret_table make(const std::vector<std::vector<i64>>& columns, std::size_t rows) {
  secret_table t;
  for (const auto& c : columns)
    t.columns.push_back(vec(c));
  t.valid = vec(std::vector<i64>(rows, 1));
  t.rows = rows;
  return t;
}

secret_table persons_table(std::size_t rows = 6) {
  auto cut = [rows](const std::vector<i64>& v) {
    return std::vector<i64>(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(rows));
  };
  return make({cut(ids), cut(ages), cut(incomes_enc), cut(regions), cut(sexes), cut(employed),
               cut(weights), cut(balances)},
              rows);
}

secret_table incomes_table(std::vector<i64> keys = {12, 14, 16, 99}) {
  std::vector<i64> amounts{100, 200, 300, 400};
  amounts.resize(keys.size(), 500);
  return make({keys, amounts}, keys.size());
}

i64 at(const secret& s, std::size_t i) {
  return static_cast<i64>(s.a.at(i));
}

sql::program compile_or_fail(const std::string& source, std::vector<table_schema> outputs,
                             const std::map<std::string, std::string>& quality = {},
                             std::uint64_t max_rows = 100) {
  auto r = sql::compile(source, {persons_schema(max_rows), incomes_schema()}, std::move(outputs),
                        quality);
  BOOST_TEST_REQUIRE(r.ok(), (r ? std::string{} : r.err().message));
  return r.value();
}

sql::run_result run(const sql::program& p, std::map<std::string, secret_table> inputs) {
  reference_backend b;
  return sql::run(p, b, inputs);
}

std::map<std::string, secret_table> both(std::size_t rows = 6) {
  return {{"persons", persons_table(rows)}, {"incomes", incomes_table()}};
}

/// a / d (d > 0) rounded half away from zero, as published values are.
i64 round_div(i64 a, i64 d) {
  const i64 m = (2 * (a < 0 ? -a : a) + d) / (2 * d);
  return a < 0 ? -m : m;
}

} // namespace

BOOST_AUTO_TEST_CASE(projection_with_where_and_decimal_rounding) {
  auto p = compile_or_fail(
    "INSERT INTO out SELECT age, income * 2 AS twice, balance AS bal1\n"
    "FROM persons WHERE age >= 30 AND employed;",
    {table("out", {integer("age", 0, 0), decimal("twice", 2, 0, 0), decimal("bal1", 1, 0, 0)}, 100)});
  auto res = run(p, both());
  BOOST_TEST(res.quality.empty());
  const auto& out = res.outputs.at("out");
  BOOST_TEST_REQUIRE(out.rows == 6u);
  BOOST_TEST_REQUIRE(out.columns.size() == 3u);
  // Rows failing WHERE are invalid and carry zeros, so that no filtered value reaches the analyst.
  for (std::size_t i = 0; i < 6; ++i) {
    i64 keep = (ages[i] >= 30 && employed[i] == 1) ? 1 : 0;
    BOOST_TEST(at(out.valid, i) == keep);
    BOOST_TEST(at(out.columns[0], i) == keep * ages[i]);
    BOOST_TEST(at(out.columns[1], i) == keep * incomes_enc[i] * 2);
    BOOST_TEST(at(out.columns[2], i) == keep * round_div(balances[i], 10), "row " << i);
  }
}

BOOST_AUTO_TEST_CASE(case_in_logic_and_division) {
  auto p = compile_or_fail(
    "INSERT INTO out SELECT\n"
    "  CASE WHEN age < 30 THEN income WHEN sex = 'M' THEN income + 1.5 ELSE 0 END AS adj,\n"
    "  age * 0.5 AS half, region IN ('North', 'East') AS north_east,\n"
    "  NOT (employed OR age > 60) AS idle, income / weight AS per_w,\n"
    "  -age + 100 AS rest, age BETWEEN 30 AND 50 AS mid, region NOT IN ('South') AS not_south\n"
    "FROM persons;",
    {table("out", {decimal("adj", 2, 0, 0), decimal("half", 1, 0, 0), boolean("north_east"),
                   boolean("idle"), decimal("per_w", 3, 0, 0), integer("rest", 0, 0),
                   boolean("mid"), boolean("not_south")},
           100)});
  auto res = run(p, both());
  const auto& out = res.outputs.at("out");
  BOOST_TEST_REQUIRE(out.columns.size() == 8u);
  for (std::size_t i = 0; i < 6; ++i) {
    BOOST_TEST_CONTEXT("row " << i) {
      i64 adj = ages[i] < 30 ? incomes_enc[i] : (sexes[i] == 1 ? incomes_enc[i] + 150 : 0);
      BOOST_TEST(at(out.columns[0], i) == adj);
      BOOST_TEST(at(out.columns[1], i) == ages[i] * 5);
      BOOST_TEST(at(out.columns[2], i) == (regions[i] != 1 ? 1 : 0));
      BOOST_TEST(at(out.columns[3], i) == ((employed[i] == 1 || ages[i] > 60) ? 0 : 1));
      // income / weight in thousandths: income_enc / 100 / weight * 1000, rounded half away from
      // zero (the division itself rounds to 2^-24, so allow one unit).
      i64 exact = round_div(incomes_enc[i] * 10, weights[i]);
      BOOST_TEST(std::abs(at(out.columns[4], i) - exact) <= 1);
      BOOST_TEST(at(out.columns[5], i) == 100 - ages[i]);
      BOOST_TEST(at(out.columns[6], i) == ((ages[i] >= 30 && ages[i] <= 50) ? 1 : 0));
      BOOST_TEST(at(out.columns[7], i) == (regions[i] != 1 ? 1 : 0));
      BOOST_TEST(at(out.valid, i) == 1);
    }
  }
}

BOOST_AUTO_TEST_CASE(every_aggregate_over_the_filtered_rows) {
  auto p = compile_or_fail(
    "INSERT INTO out SELECT COUNT(*) AS n, SUM(age) AS s, MIN(age) AS lo, MAX(age) AS hi,\n"
    "  AVG(income) AS mean, VAR_SAMP(age) AS v, STDDEV_SAMP(age) AS sd, CORR(age, weight) AS c,\n"
    "  REGR_SLOPE(age, weight) AS slope, REGR_INTERCEPT(age, weight) AS icpt, COUNT(age) AS n2\n"
    "FROM persons WHERE employed OR age > 50;",
    {table("out", {integer("n", 0, 0), integer("s", 0, 0), integer("lo", 0, 0), integer("hi", 0, 0),
                   decimal("mean", 2, 0, 0), decimal("v", 4, 0, 0), decimal("sd", 4, 0, 0),
                   decimal("c", 4, 0, 0), decimal("slope", 4, 0, 0), decimal("icpt", 4, 0, 0),
                   integer("n2", 0, 0)})});
  auto res = run(p, both());
  const auto& out = res.outputs.at("out");
  BOOST_TEST_REQUIRE(out.rows == 1u);
  BOOST_TEST(at(out.valid, 0) == 1);
  // Independent computation over the selected rows.
  std::vector<double> x, w, inc;
  i64 s = 0, lo = 1000, hi = -1;
  for (std::size_t i = 0; i < 6; ++i)
    if (employed[i] == 1 || ages[i] > 50) {
      x.push_back(static_cast<double>(ages[i]));
      w.push_back(static_cast<double>(weights[i]));
      inc.push_back(static_cast<double>(incomes_enc[i]) / 100);
      s += ages[i];
      lo = std::min(lo, ages[i]);
      hi = std::max(hi, ages[i]);
    }
  auto n = static_cast<double>(x.size());
  auto mean = [&](const std::vector<double>& v) {
    double t = 0;
    for (auto e : v)
      t += e;
    return t / n;
  };
  double mx = mean(x), mw = mean(w), sxx = 0, sww = 0, sxw = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxx += (x[i] - mx) * (x[i] - mx);
    sww += (w[i] - mw) * (w[i] - mw);
    sxw += (x[i] - mx) * (w[i] - mw);
  }
  double var = sxx / (n - 1);
  double slope = sxw / sww;
  double icpt = mx - slope * mw;
  double corr = sxw / std::sqrt(sxx * sww);
  BOOST_TEST(at(out.columns[0], 0) == static_cast<i64>(x.size()));
  BOOST_TEST(at(out.columns[1], 0) == s);
  BOOST_TEST(at(out.columns[2], 0) == lo);
  BOOST_TEST(at(out.columns[3], 0) == hi);
  auto near = [&](std::size_t col, double expected, double unit, double tol) {
    double got = static_cast<double>(at(out.columns[col], 0)) / unit;
    BOOST_TEST(std::abs(got - expected) <= tol, "column " << col << ": " << got << " vs " << expected);
  };
  near(4, mean(inc), 100, 0.011);
  near(5, var, 1e4, 1e-3);
  near(6, std::sqrt(var), 1e4, 1e-3);
  near(7, corr, 1e4, 1e-3);
  near(8, slope, 1e4, 1e-3);
  near(9, icpt, 1e4, 1e-2);
  BOOST_TEST(at(out.columns[10], 0) == static_cast<i64>(x.size()));
}

BOOST_AUTO_TEST_CASE(group_by_one_column) {
  auto p = compile_or_fail(
    "INSERT INTO out SELECT region, COUNT(*) AS n, SUM(income) AS total, MAX(age) AS oldest\n"
    "FROM persons GROUP BY region;",
    {table("out", {category("region", {"North", "South", "East"}), integer("n", 0, 0),
                   decimal("total", 2, 0, 0), integer("oldest", 0, 0)})});
  auto res = run(p, both());
  const auto& out = res.outputs.at("out");
  BOOST_TEST_REQUIRE(out.rows == 3u);
  for (i64 g = 0; g < 3; ++g) {
    i64 n = 0, total = 0, oldest = 0;
    for (std::size_t i = 0; i < 6; ++i)
      if (regions[i] == g) {
        ++n;
        total += incomes_enc[i];
        oldest = std::max(oldest, ages[i]);
      }
    auto gi = static_cast<std::size_t>(g);
    BOOST_TEST_CONTEXT("group " << g) {
      // The empty group is invalid and carries zeros.
      BOOST_TEST(at(out.columns[0], gi) == (n > 0 ? g : 0));
      BOOST_TEST(at(out.columns[1], gi) == n);
      BOOST_TEST(at(out.columns[2], gi) == total);
      BOOST_TEST(at(out.valid, gi) == (n > 0 ? 1 : 0));
      BOOST_TEST(at(out.columns[3], gi) == (n > 0 ? oldest : 0));
    }
  }
}

BOOST_AUTO_TEST_CASE(group_by_two_columns_and_having) {
  auto p = compile_or_fail(
    "INSERT INTO small SELECT region, sex, COUNT(*) AS n, SUM(weight) AS w\n"
    "FROM persons WHERE age < 60 GROUP BY region, sex HAVING COUNT(*) >= 2;\n"
    "INSERT INTO all_groups SELECT sex, region, AVG(age) AS mean_age FROM persons GROUP BY sex, region;",
    {table("small", {category("region", {"North", "South", "East"}), category("sex", {"F", "M"}),
                     integer("n", 0, 0), integer("w", 0, 0)}),
     table("all_groups", {category("sex", {"F", "M"}),
                          category("region", {"North", "South", "East"}), decimal("mean_age", 2, 0, 0)})});
  auto res = run(p, both());
  const auto& small = res.outputs.at("small");
  BOOST_TEST_REQUIRE(small.rows == 6u);
  BOOST_TEST_REQUIRE(small.columns.size() == 5u);
  std::size_t row = 0;
  std::size_t withheld = 0;
  for (i64 r = 0; r < 3; ++r)
    for (i64 s = 0; s < 2; ++s, ++row) {
      i64 n = 0, w = 0;
      for (std::size_t i = 0; i < 6; ++i)
        if (regions[i] == r && sexes[i] == s && ages[i] < 60) {
          ++n;
          w += weights[i];
        }
      BOOST_TEST_CONTEXT("group " << r << "," << s) {
        // Every group with rows is a row; a withheld one keeps its group columns, carries zeros
        // for its small count and sum, and 0 in the published flags (the fifth column). An empty
        // group is no row (all zeros), as without the rule.
        i64 keep = n >= 2 ? 1 : 0;
        i64 row_exists = n > 0 ? 1 : 0;
        withheld += static_cast<std::size_t>(row_exists - keep);
        BOOST_TEST(at(small.valid, row) == row_exists);
        BOOST_TEST(at(small.columns[0], row) == row_exists * r);
        BOOST_TEST(at(small.columns[1], row) == row_exists * s);
        BOOST_TEST(at(small.columns[2], row) == keep * n);
        BOOST_TEST(at(small.columns[3], row) == keep * w);
        BOOST_TEST(at(small.columns[4], row) == keep);
      }
    }
  BOOST_TEST(withheld >= 1u);  // the data has groups of one row
  const auto& all = res.outputs.at("all_groups");
  BOOST_TEST_REQUIRE(all.rows == 6u);
  row = 0;
  for (i64 s = 0; s < 2; ++s)
    for (i64 r = 0; r < 3; ++r, ++row) {
      i64 n = 0, t = 0;
      for (std::size_t i = 0; i < 6; ++i)
        if (regions[i] == r && sexes[i] == s) {
          ++n;
          t += ages[i];
        }
      i64 keep = n > 0 ? 1 : 0;
      BOOST_TEST(at(all.columns[0], row) == keep * s);
      BOOST_TEST(at(all.columns[1], row) == keep * r);
      BOOST_TEST(at(all.valid, row) == keep);
      if (n > 0)
        BOOST_TEST(at(all.columns[2], row) == round_div(t * 100, n), "group " << row);  // exact
    }
}

BOOST_AUTO_TEST_CASE(group_by_a_ranged_integer_sorts_and_keeps_every_group) {
  // 121 ages x 2 sexes over up to 100 rows: the compiler forms the groups by sorting; every group of
  // the domain has its row, in order (age 0 F, age 0 M, age 1 F, ...), the empty ones invalid.
  auto p = compile_or_fail(
    "INSERT INTO by_age SELECT age, sex, COUNT(*) AS n, SUM(weight) AS w, AVG(income) AS mean\n"
    "FROM persons WHERE employed GROUP BY age, sex HAVING COUNT(*) >= 1;",
    {table("by_age", {integer("age", 0, 120), category("sex", {"F", "M"}), integer("n", 0, 0), integer("w", 0, 0),
                      decimal("mean", 2, 0, 0)},
           1000)});
  BOOST_TEST((std::find(p.features().begin(), p.features().end(), "group_by.sorted") != p.features().end()));
  auto res = run(p, both());
  const auto& out = res.outputs.at("by_age");
  BOOST_TEST_REQUIRE(out.rows == 242u);
  std::size_t valid = 0;
  for (i64 age = 0; age <= 120; ++age)
    for (i64 sex = 0; sex < 2; ++sex) {
      const auto row = static_cast<std::size_t>(2 * age + sex);
      i64 n = 0, w = 0, total = 0;
      for (std::size_t i = 0; i < 6; ++i)
        if (ages[i] == age && sexes[i] == sex && employed[i] == 1) {
          ++n;
          w += weights[i];
          total += incomes_enc[i];
        }
      BOOST_TEST_CONTEXT("age " << age << ", sex " << sex) {
        const i64 keep = n > 0 ? 1 : 0;
        valid += static_cast<std::size_t>(keep);
        BOOST_TEST(at(out.valid, row) == keep);
        BOOST_TEST(at(out.columns[0], row) == keep * age);
        BOOST_TEST(at(out.columns[1], row) == keep * sex);
        BOOST_TEST(at(out.columns[2], row) == n);
        BOOST_TEST(at(out.columns[3], row) == w);
        if (n > 0)
          BOOST_TEST(at(out.columns[4], row) == round_div(total, n));  // the exact mean, rounded
      }
    }
  BOOST_TEST(valid == 3u);  // the employed: ages 25 (F), 34 (M), 52 (F)
}

BOOST_AUTO_TEST_CASE(join_aggregate_and_projection) {
  auto p = compile_or_fail(
    "INSERT INTO totals SELECT SUM(amount) AS total, COUNT(*) AS n\n"
    "FROM persons JOIN incomes ON persons.id = incomes.id WHERE age > 40;\n"
    "INSERT INTO pairs SELECT age, amount FROM incomes JOIN persons ON incomes.id = persons.id;",
    {table("totals", {integer("total", 0, 0), integer("n", 0, 0)}),
     table("pairs", {integer("age", 0, 0), integer("amount", 0, 0)})});
  auto res = run(p, both());
  i64 total = 0, n = 0;
  std::vector<std::pair<i64, i64>> expected_pairs;
  const std::vector<i64> keys{12, 14, 16, 99};
  const std::vector<i64> amounts{100, 200, 300, 400};
  for (std::size_t i = 0; i < 6; ++i)
    for (std::size_t j = 0; j < keys.size(); ++j)
      if (ids[i] == keys[j]) {
        expected_pairs.emplace_back(ages[i], amounts[j]);
        if (ages[i] > 40) {
          total += amounts[j];
          ++n;
        }
      }
  const auto& totals = res.outputs.at("totals");
  BOOST_TEST(at(totals.columns[0], 0) == total);
  BOOST_TEST(at(totals.columns[1], 0) == n);
  BOOST_TEST(at(totals.valid, 0) == 1);
  const auto& pairs = res.outputs.at("pairs");
  // One row per row of incomes: a one-to-one join has the rows of the input declaring fewer
  // max_rows, the first on a tie.
  BOOST_TEST(pairs.rows == 4u);
  std::vector<std::pair<i64, i64>> got;
  for (std::size_t r = 0; r < pairs.rows; ++r) {
    if (at(pairs.valid, r) == 1) {
      got.emplace_back(at(pairs.columns[0], r), at(pairs.columns[1], r));
    } else {
      BOOST_TEST(at(pairs.columns[0], r) == 0);
      BOOST_TEST(at(pairs.columns[1], r) == 0);
    }
  }
  std::sort(got.begin(), got.end());
  std::sort(expected_pairs.begin(), expected_pairs.end());
  BOOST_TEST_REQUIRE(got.size() == expected_pairs.size());
  for (std::size_t k = 0; k < got.size(); ++k) {
    BOOST_TEST(got[k].first == expected_pairs[k].first);
    BOOST_TEST(got[k].second == expected_pairs[k].second);
  }
}

BOOST_AUTO_TEST_CASE(join_with_repeated_keys_fails_the_run) {
  auto p = compile_or_fail(
    "INSERT INTO totals SELECT SUM(amount) AS total FROM persons JOIN incomes ON persons.id = incomes.id;",
    {table("totals", {integer("total", 0, 0)})});
  auto inputs = both();
  inputs["incomes"] = incomes_table({12, 14, 12, 99});
  reference_backend b;
  try {
    (void) sql::run(p, b, inputs);
    BOOST_FAIL("a join over repeated keys ran");
  } catch (const engine_failure& e) {
    BOOST_TEST((e.err().code == errc::invalid_state));
    BOOST_TEST(e.err().message.starts_with("the join keys `persons.id` and `incomes.id` are not both unique among "
                                           "their rows, so the join of `persons` with `incomes` cannot run"),
               e.err().message);
  }
}

BOOST_AUTO_TEST_CASE(quality_checks_pass_or_withhold_every_output) {
  const std::string main = "INSERT INTO out SELECT COUNT(*) AS n FROM persons;";
  auto outs = std::vector<table_schema>{table("out", {integer("n", 0, 0)})};
  auto pass = compile_or_fail(main, outs,
                              {{"persons", "CHECK age BETWEEN 0 AND 120;\nCHECK COUNT(*) >= 3;\n"
                                           "CHECK AVG(income) < 100000;"},
                               {"incomes", "CHECK amount > 0;"}});
  auto res = run(pass, both());
  BOOST_TEST(res.quality.at("persons"));
  BOOST_TEST(res.quality.at("incomes"));
  BOOST_TEST_REQUIRE(res.outputs.count("out") == 1u);
  BOOST_TEST(at(res.outputs.at("out").columns[0], 0) == 6);

  // AVG(income) is 3599.99; one failing row condition or one failing aggregate withholds all.
  for (const auto* failing : {"CHECK age < 50;", "CHECK COUNT(*) >= 7;", "CHECK AVG(income) < 3000;"}) {
    auto fail_prog = compile_or_fail(main, outs, {{"persons", failing}, {"incomes", "CHECK amount > 0;"}});
    auto r = run(fail_prog, both());
    BOOST_TEST_CONTEXT(failing) {
      BOOST_TEST(!r.quality.at("persons"));
      BOOST_TEST(r.quality.at("incomes"));
      BOOST_TEST(r.outputs.empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(the_check_of_one_input_runs_alone_and_a_passed_check_is_not_run_again) {
  const std::string main = "INSERT INTO out SELECT COUNT(*) AS n FROM persons;";
  auto outs = std::vector<table_schema>{table("out", {integer("n", 0, 0)})};
  auto prog = compile_or_fail(main, outs, {{"persons", "CHECK age < 50;"}, {"incomes", "CHECK amount > 0;"}});
  reference_backend b;
  // At upload: only the uploaded input is given and checked; nothing else runs.
  auto persons = sql::run(prog, b, {{"persons", persons_table(6)}}, {"persons", {}});
  BOOST_TEST(persons.quality.size() == 1u);
  BOOST_TEST(!persons.quality.at("persons"));
  BOOST_TEST(persons.outputs.empty());
  auto incomes = sql::run(prog, b, {{"incomes", incomes_table()}}, {"incomes", {}});
  BOOST_TEST(incomes.quality.size() == 1u);
  BOOST_TEST(incomes.quality.at("incomes"));
  BOOST_TEST(incomes.outputs.empty());
  // The calculation skips the checks that passed at upload: here the one of persons would fail.
  auto calc = sql::run(prog, b, both(), {{}, {"persons", "incomes"}});
  BOOST_TEST(calc.quality.empty());
  BOOST_TEST_REQUIRE(calc.outputs.count("out") == 1u);
  BOOST_TEST(at(calc.outputs.at("out").columns[0], 0) == 6);
  auto rest = sql::run(prog, b, both(), {{}, {"incomes"}});
  BOOST_TEST(rest.quality.size() == 1u);
  BOOST_TEST(!rest.quality.at("persons"));
  BOOST_TEST(rest.outputs.empty());
  // The input checked alone must still match its schema.
  BOOST_CHECK_THROW(sql::run(prog, b, {{"incomes", incomes_table()}}, {"persons", {}}), engine_failure);
}

BOOST_AUTO_TEST_CASE(zero_and_one_row_inputs) {
  auto outs = std::vector<table_schema>{
    table("rows", {integer("age", 0, 0)}, 100),
    table("global", {integer("n", 0, 0), integer("s", 0, 0), decimal("mean", 2, 0, 0),
                     decimal("v", 2, 0, 0)}),
    table("groups", {category("region", {"North", "South", "East"}), integer("n", 0, 0)})};
  auto p = compile_or_fail("INSERT INTO rows SELECT age FROM persons;\n"
                           "INSERT INTO global SELECT COUNT(*) AS n, SUM(age) AS s, AVG(age) AS mean,"
                           " VAR_SAMP(age) AS v FROM persons;\n"
                           "INSERT INTO groups SELECT region, COUNT(*) AS n FROM persons GROUP BY region;",
                           outs, {{"persons", "CHECK age >= 0;"}});
  auto empty = run(p, both(0));
  BOOST_TEST(empty.quality.at("persons"));
  BOOST_TEST(empty.outputs.at("rows").rows == 0u);
  const auto& g0 = empty.outputs.at("global");
  BOOST_TEST_REQUIRE(g0.rows == 1u);
  BOOST_TEST(at(g0.columns[0], 0) == 0);
  BOOST_TEST(at(g0.columns[1], 0) == 0);
  BOOST_TEST(at(g0.columns[2], 0) == 0);
  BOOST_TEST(at(g0.valid, 0) == 1);
  const auto& gr0 = empty.outputs.at("groups");
  for (std::size_t g = 0; g < 3; ++g)
    BOOST_TEST(at(gr0.valid, g) == 0);

  auto one = run(p, both(1));
  BOOST_TEST(at(one.outputs.at("rows").columns[0], 0) == ages[0]);
  const auto& g1 = one.outputs.at("global");
  BOOST_TEST(at(g1.columns[0], 0) == 1);
  BOOST_TEST(at(g1.columns[1], 0) == ages[0]);
  BOOST_TEST(at(g1.columns[2], 0) == ages[0] * 100);
  BOOST_TEST(at(g1.columns[3], 0) == 0);
  const auto& gr1 = one.outputs.at("groups");
  BOOST_TEST(at(gr1.valid, 0) == 1);
  BOOST_TEST(at(gr1.columns[1], 0) == 1);
  BOOST_TEST(at(gr1.valid, 1) == 0);
}

BOOST_AUTO_TEST_CASE(inputs_not_matching_the_schemas_are_refused) {
  auto p = compile_or_fail("INSERT INTO out SELECT COUNT(*) AS n FROM persons;",
                           {table("out", {integer("n", 0, 0)})}, {}, 5);
  auto expect_failure = [&](std::map<std::string, secret_table> inputs, const std::string& phrase) {
    reference_backend b;
    try {
      (void) sql::run(p, b, inputs);
      BOOST_FAIL("bad inputs accepted: " << phrase);
    } catch (const engine_failure& e) {
      BOOST_TEST((e.err().code == errc::invalid_state));
      BOOST_TEST(e.err().message.find(phrase) != std::string::npos, e.err().message);
    }
  };
  expect_failure({{"persons", persons_table(5)}}, "input `incomes` is missing");
  expect_failure(both(6), "has 6 rows, more than the 5 its schema allows");
  auto short_col = both(5);
  short_col["persons"].columns[2].a.pop_back();
  expect_failure(short_col, "column `income` of input `persons` has 4 values for 5 rows");
  auto fewer = both(5);
  fewer["persons"].columns.pop_back();
  expect_failure(fewer, "input `persons` has 7 columns, its schema declares 8");
}

BOOST_AUTO_TEST_CASE(input_valid_flags_are_ignored_every_uploaded_row_counts) {
  auto p = compile_or_fail("INSERT INTO out SELECT COUNT(*) AS n, SUM(age) AS s FROM persons;",
                           {table("out", {integer("n", 0, 10), integer("s", 0, 10'000)})}, {}, 5);
  auto inputs = both(5);
  inputs["persons"].valid = secret{};  // none given
  reference_backend b;
  auto res = sql::run(p, b, inputs);
  const auto& out = res.outputs.at("out");
  BOOST_TEST(at(out.columns[0], 0) == 5);
  i64 total = 0;
  for (std::size_t i = 0; i < 5; ++i)
    total += ages[i];
  BOOST_TEST(at(out.columns[1], 0) == total);
}

BOOST_AUTO_TEST_CASE(weighted_means_divide_by_a_sum_of_weights) {
  // SUM(income * weight) / SUM(weight): weights from 1 up, so the divisor is 0 only for a group
  // without rows (East), where it counts as 1 and the mean is 0; the weighted mean lies within
  // income's range, which is what lets the compiler accept it. Also per COUNT(*), and over all
  // rows.
  auto p = compile_or_fail(
    "INSERT INTO by_region SELECT region, SUM(income * weight) / SUM(weight) AS wmean,\n"
    "  SUM(weight) / COUNT(*) AS mean_w FROM persons GROUP BY region;\n"
    "INSERT INTO overall SELECT SUM(income * weight) / SUM(weight) AS wmean FROM persons WHERE age > 200;",
    {table("by_region", {category("region", {"North", "South", "East"}), decimal("wmean", 2, 0, 0),
                         decimal("mean_w", 3, 0, 0)}),
     table("overall", {decimal("wmean", 2, 0, 0)})},
    {}, 1'000'000);
  auto res = run(p, both());
  const auto& out = res.outputs.at("by_region");
  for (std::size_t g = 0; g < 3; ++g) {
    i64 num = 0, den = 0, n = 0;
    for (std::size_t i = 0; i < 6; ++i)
      if (regions[i] == static_cast<i64>(g)) {
        num += incomes_enc[i] * weights[i];
        den += weights[i];
        ++n;
      }
    BOOST_TEST_CONTEXT("region " << g) {
      BOOST_TEST(at(out.valid, g) == (n > 0 ? 1 : 0));
      // Fixed point, then rounded exactly: within one cent of the exact weighted mean.
      BOOST_TEST(std::abs(at(out.columns[1], g) - (n > 0 ? round_div(num, den) : 0)) <= 1);
      BOOST_TEST(std::abs(at(out.columns[2], g) - (n > 0 ? round_div(den * 1000, n) : 0)) <= 1);
    }
  }
  // No row passes: the divisor 0 counts as 1, the mean is 0.
  BOOST_TEST(at(res.outputs.at("overall").columns[0], 0) == 0);
}

BOOST_AUTO_TEST_CASE(medians_per_group_and_overall) {
  // MEDIAN per region (North: 3 rows, South: 3, East: none) and over every row (6 rows: the mean
  // of the two middle ones, -0.10 and 0.00, a tie at -0.05 that one decimal rounds away from zero).
  auto p = compile_or_fail(
    "INSERT INTO by_region SELECT region, MEDIAN(income) AS m, MEDIAN(age) AS a FROM persons GROUP BY region;\n"
    "INSERT INTO overall SELECT MEDIAN(balance) AS m2, MEDIAN(balance) AS m1 FROM persons;",
    {table("by_region", {category("region", {"North", "South", "East"}), decimal("m", 2, 0, 0), decimal("a", 1, 0, 0)}),
     table("overall", {decimal("m2", 2, 0, 0), decimal("m1", 1, 0, 0)})});
  BOOST_TEST((std::find(p.features().begin(), p.features().end(), "aggregate.median") != p.features().end()));
  auto res = run(p, both());
  const auto& out = res.outputs.at("by_region");
  for (i64 g = 0; g < 3; ++g) {
    std::vector<i64> inc, age;
    for (std::size_t i = 0; i < 6; ++i)
      if (regions[i] == g) {
        inc.push_back(incomes_enc[i]);
        age.push_back(ages[i]);
      }
    BOOST_TEST_CONTEXT("region " << g) {
      BOOST_TEST(at(out.valid, static_cast<std::size_t>(g)) == (inc.empty() ? 0 : 1));
      if (inc.empty())
        continue;
      std::sort(inc.begin(), inc.end());
      std::sort(age.begin(), age.end());
      BOOST_TEST(at(out.columns[1], static_cast<std::size_t>(g)) == inc[1]);       // three rows: the middle one
      BOOST_TEST(at(out.columns[2], static_cast<std::size_t>(g)) == age[1] * 10);  // in tenths
    }
  }
  const auto& all = res.outputs.at("overall");
  BOOST_TEST(at(all.columns[0], 0) == -5);  // (-10 + 0) / 2 cents
  BOOST_TEST(at(all.columns[1], 0) == -1);  // -0.05 to one decimal: -0.1
}

namespace {

/// PERCENTILE_CONT(num / scale) of sorted values, times scale (exact).
i64 cont_scaled(const std::vector<i64>& v, i64 num, i64 scale) {
  const i64 r = num * static_cast<i64>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(r / scale);
  const i64 f = r % scale;
  return v[lo] * scale + (f == 0 ? 0 : (v[lo + 1] - v[lo]) * f);
}

/// PERCENTILE_DISC(num / scale) of sorted values: rank max(1, ceil(p n)).
i64 disc(const std::vector<i64>& v, i64 num, i64 scale) {
  const i64 rank = std::max<i64>(1, (num * static_cast<i64>(v.size()) + scale - 1) / scale);
  return v[static_cast<std::size_t>(rank - 1)];
}

} // namespace

BOOST_AUTO_TEST_CASE(percentiles_per_group_one_row_groups_and_overall) {
  // PERCENTILE_CONT and PERCENTILE_DISC at p = 0, 0.25, 0.5, 0.9 and 1 of balance (cents, negative
  // ones among them) per region (North: 3 rows, South: 3, East: none), per region where weight >= 5
  // (one row each) and over all 6 rows (an even count); CONT(0.5) equals MEDIAN. CONT written with
  // 4 decimals is exact (p has at most 2), and CONT(0.25) with 2 rounds half away from zero.
  const std::string items =
    "PERCENTILE_CONT(0) WITHIN GROUP (ORDER BY balance) AS c0,\n"
    "  PERCENTILE_CONT(0.25) WITHIN GROUP (ORDER BY balance) AS c25,\n"
    "  PERCENTILE_CONT(0.50) WITHIN GROUP (ORDER BY balance ASC) AS c50,\n"
    "  PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY balance) AS c90,\n"
    "  percentile_cont(1.0) within group (order by balance) AS c100,\n"
    "  PERCENTILE_DISC(0) WITHIN GROUP (ORDER BY balance) AS d0,\n"
    "  PERCENTILE_DISC(0.25) WITHIN GROUP (ORDER BY balance) AS d25,\n"
    "  PERCENTILE_DISC(0.5) WITHIN GROUP (ORDER BY balance) AS d50,\n"
    "  PERCENTILE_DISC(0.9) WITHIN GROUP (ORDER BY balance) AS d90,\n"
    "  PERCENTILE_DISC(1) WITHIN GROUP (ORDER BY balance) AS d100,\n"
    "  MEDIAN(balance) AS m, PERCENTILE_CONT(0.25) WITHIN GROUP (ORDER BY balance) AS c25r\n";
  auto columns = [](bool grouped) {
    std::vector<column_schema> c;
    if (grouped)
      c.push_back(category("region", {"North", "South", "East"}));
    for (const auto* name : {"c0", "c25", "c50", "c90", "c100"})
      c.push_back(decimal(name, 4, 0, 0));
    for (const auto* name : {"d0", "d25", "d50", "d90", "d100"})
      c.push_back(decimal(name, 2, 0, 0));
    c.push_back(decimal("m", 4, 0, 0));
    c.push_back(decimal("c25r", 2, 0, 0));
    return c;
  };
  auto p = compile_or_fail("INSERT INTO by_region SELECT region, " + items + "FROM persons GROUP BY region;\n"
                             "INSERT INTO single SELECT region, " + items
                             + "FROM persons WHERE weight >= 5 GROUP BY region;\n"
                               "INSERT INTO overall SELECT " + items + "FROM persons;",
                           {table("by_region", columns(true)), table("single", columns(true)),
                            table("overall", columns(false))});
  for (const auto* f : {"aggregate.percentile_cont", "aggregate.percentile_disc"})
    BOOST_TEST((std::find(p.features().begin(), p.features().end(), f) != p.features().end()), f);
  auto res = run(p, both());
  const std::vector<std::pair<i64, i64>> ps{{0, 1}, {25, 100}, {5, 10}, {9, 10}, {1, 1}};
  // Checks one output row against the sorted values of its group; `first` is its first statistic.
  auto check = [&](const secret_table& out, std::size_t row, std::size_t first, std::vector<i64> v) {
    std::sort(v.begin(), v.end());
    for (std::size_t k = 0; k < ps.size(); ++k) {
      const auto [num, scale] = ps[k];
      BOOST_TEST(at(out.columns[first + k], row) == cont_scaled(v, num, scale) * (100 / scale), "CONT " << k);
      BOOST_TEST(at(out.columns[first + 5 + k], row) == disc(v, num, scale), "DISC " << k);
    }
    BOOST_TEST(at(out.columns[first + 10], row) == at(out.columns[first + 2], row));  // MEDIAN
    BOOST_TEST(at(out.columns[first + 11], row) == round_div(cont_scaled(v, 25, 100), 100));
  };
  for (const auto* name : {"by_region", "single"}) {
    const auto& out = res.outputs.at(name);
    for (i64 g = 0; g < 3; ++g) {
      std::vector<i64> v;
      for (std::size_t i = 0; i < 6; ++i)
        if (regions[i] == g && (std::string{name} == "by_region" || weights[i] >= 5))
          v.push_back(balances[i]);
      BOOST_TEST_CONTEXT(name << ", region " << g) {
        BOOST_TEST(at(out.valid, static_cast<std::size_t>(g)) == (v.empty() ? 0 : 1));
        if (std::string{name} == "single")
          BOOST_TEST(v.size() == (g == 2 ? 0u : 1u));
        if (!v.empty())
          check(out, static_cast<std::size_t>(g), 1, v);
      }
    }
  }
  check(res.outputs.at("overall"), 0, 0, balances);
  // By hand: the balances sorted are -12.34, -10.00, -0.10, 0.00, 9.99, 56.78.
  const auto& all = res.outputs.at("overall");
  const std::vector<i64> cont{-123400, -75250, -500, 333850, 567800};  // r = 0, 1.25, 2.5, 4.5, 5
  const std::vector<i64> discrete{-1234, -1000, -10, 5678, 5678};     // ranks 1, 2, 3, 6, 6
  for (std::size_t k = 0; k < 5; ++k) {
    BOOST_TEST(at(all.columns[k], 0) == cont[k]);
    BOOST_TEST(at(all.columns[5 + k], 0) == discrete[k]);
  }
  BOOST_TEST(at(all.columns[10], 0) == -500);
  BOOST_TEST(at(all.columns[11], 0) == -753);  // -7.525 to two decimals
}

BOOST_AUTO_TEST_CASE(round_to_decimals_half_away_from_zero) {
  // ROUND of decimals (negative ones among them), to whole numbers (an integer column), of a value
  // with fewer decimals (itself), in arithmetic, and of an aggregate. The same conversion is
  // tested at its ties, on exact and noisy backends, in sql_conversion_test.
  auto p = compile_or_fail(
    "INSERT INTO out SELECT ROUND(balance, 1) AS b1, ROUND(balance, 0) AS b0, ROUND(age, 2) AS same,\n"
    "  ROUND(balance, 1) * 2 AS twice FROM persons;\n"
    "INSERT INTO mean SELECT ROUND(AVG(balance), 1) AS m FROM persons;",
    {table("out", {decimal("b1", 1, 0, 0), integer("b0", 0, 0), integer("same", 0, 0), decimal("twice", 1, 0, 0)}, 100),
     table("mean", {decimal("m", 1, 0, 0)})});
  BOOST_TEST((std::find(p.features().begin(), p.features().end(), "round") != p.features().end()));
  auto res = run(p, both());
  const auto& out = res.outputs.at("out");
  BOOST_TEST_REQUIRE(out.columns.size() == 4u);
  for (std::size_t i = 0; i < 6; ++i) {
    BOOST_TEST_CONTEXT("row " << i << ", balance " << balances[i]) {
      BOOST_TEST(at(out.columns[0], i) == round_div(balances[i], 10));
      BOOST_TEST(at(out.columns[1], i) == round_div(balances[i], 100));
      BOOST_TEST(at(out.columns[2], i) == ages[i]);
      BOOST_TEST(at(out.columns[3], i) == 2 * round_div(balances[i], 10));
    }
  }
  i64 sum = 0;
  for (auto v : balances)
    sum += v;
  // AVG inside ROUND is the fixed-point mean; ROUND rounds it exactly (here it is far from a tie).
  BOOST_TEST(at(res.outputs.at("mean").columns[0], 0) == round_div(sum, 6 * 10));
}

BOOST_AUTO_TEST_CASE(negative_values_round_half_away_from_zero) {
  auto p = compile_or_fail(
    "INSERT INTO out SELECT SUM(balance) AS s0, AVG(balance) AS a1, MIN(balance) AS m1,\n"
    "  SUM(balance * 3) AS s4 FROM persons WHERE balance < 0;",
    {table("out", {decimal("s0", 0, 0, 0), decimal("a1", 1, 0, 0), decimal("m1", 1, 0, 0),
                   decimal("s4", 4, 0, 0)})});
  auto res = run(p, both());
  const auto& out = res.outputs.at("out");
  i64 sum = 0, n = 0, lo = 0;
  for (auto v : balances)
    if (v < 0) {
      sum += v;
      ++n;
      lo = std::min(lo, v);
    }
  BOOST_TEST(at(out.columns[0], 0) == round_div(sum, 100));
  BOOST_TEST(at(out.columns[1], 0) == round_div(sum, n * 10));  // the exact mean, rounded
  BOOST_TEST(at(out.columns[2], 0) == round_div(lo, 10));
  BOOST_TEST(at(out.columns[3], 0) == sum * 3 * 100);
}
