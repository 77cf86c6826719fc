// GROUP BY a CASE (by its AS name or written out), WIDTH_BUCKET and COUNT(DISTINCT x) in the
// executor, on the reference backend and on rss3: a small table whose expected outputs the test
// computes itself with plain loops; both engines must write exactly those rows, in order, with the
// rows not shown all zeros.

#include "sql_executor_groups_support.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

using namespace joconde;
using namespace joconde::engines;
using namespace joconde::test;
using namespace joconde::test::groups;

BOOST_AUTO_TEST_CASE(groups_of_a_text_case_by_its_name_with_a_having_rule) {
  // Employed persons per age band: the CASE's values are the groups, in the order written; a band
  // under 4 persons is withheld (its band shown, its values zeros, published 0).
  auto p = compiled("INSERT INTO bands\n"
                    "SELECT CASE WHEN age < 30 THEN 'young' WHEN age < 60 THEN 'middle' ELSE 'old' END AS band,\n"
                    "  COUNT(*) AS n, SUM(income) AS total, AVG(age) AS mean_age\n"
                    "FROM t WHERE employed GROUP BY band HAVING COUNT(*) >= 4;",
                    {table("bands", {category("band", {"young", "middle", "old"}), integer("n", 0, 0),
                                     decimal("total", 2, 0, 0), decimal("mean_age", 1, 0, 0)})});
  BOOST_TEST(uses(p, "group_by.expression"));
  BOOST_TEST(uses(p, "case"));
  rows_of expected;
  std::size_t withheld = 0;
  for (i64 band = 0; band < 3; ++band) {
    i64 n = 0, total = 0, ages = 0;
    for (const auto& q : people)
      if (q.employed == 1 && band_of(q) == band) {
        ++n;
        total += q.income;
        ages += q.age;
      }
    const i64 shown = n >= 4 ? 1 : 0;
    withheld += n > 0 && n < 4 ? 1 : 0;
    expected.push_back({n > 0 ? band : 0, shown * n, shown * total, shown * (n > 0 ? round_div(ages * 10, n) : 0),
                        shown, n > 0 ? 1 : 0});
  }
  BOOST_TEST(withheld == 1u);  // the old ones: 3
  check(p, {{"bands", expected}});
}

BOOST_AUTO_TEST_CASE(a_case_written_out_in_group_by_and_whole_numbers_in_increasing_order) {
  // The CASE repeated in the select list is the key; its values -1, 0 (no WHEN holds, no ELSE) and
  // 10 are the groups in increasing order, each with both sexes (the first key varies slowest).
  const std::string zone = "CASE WHEN region IN ('north', 'south') THEN 10 WHEN age > 60 THEN -1 END";
  auto p = compiled("INSERT INTO zones SELECT " + zone + " AS zone, sex, COUNT(*) AS n, MAX(age) AS oldest\n"
                    "FROM t GROUP BY " + zone + ", sex;",
                    {table("zones", {integer("zone", -1, 10), category("sex", {"f", "m"}), integer("n", 0, 0),
                                     integer("oldest", 0, 0)})});
  rows_of expected;
  for (i64 zone : {-1, 0, 10})
    for (i64 sex = 0; sex < 2; ++sex) {
      i64 n = 0, oldest = 0;
      for (const auto& q : people) {
        const i64 z = q.region <= 1 ? 10 : q.age > 60 ? -1 : 0;
        if (z == zone && q.sex == sex) {
          ++n;
          oldest = std::max(oldest, q.age);
        }
      }
      const i64 valid = n > 0 ? 1 : 0;
      expected.push_back({valid * zone, valid * sex, n, oldest, valid});
    }
  check(p, {{"zones", expected}});
}

BOOST_AUTO_TEST_CASE(regrouped_categories_and_a_key_not_in_the_select_list) {
  auto p = compiled(
    "INSERT INTO areas SELECT CASE WHEN region = 'north' OR region = 'east' THEN 'north-east'\n"
    "  ELSE 'south-west' END AS area, COUNT(*) AS n FROM t GROUP BY area;\n"
    "INSERT INTO signs SELECT COUNT(*) AS n, SUM(balance) AS b FROM t\n"
    "  GROUP BY CASE WHEN balance < 0 THEN 'debit' ELSE 'credit' END;",
    {table("areas", {category("area", {"north-east", "south-west"}), integer("n", 0, 0)}),
     table("signs", {integer("n", 0, 0), decimal("b", 2, 0, 0)})});
  rows_of areas(2, std::vector<i64>(3, 0));
  rows_of signs(2, std::vector<i64>(3, 0));
  for (const auto& q : people) {
    const i64 area = q.region == 0 || q.region == 2 ? 0 : 1;
    areas[area] = {area, areas[area][1] + 1, 1};
    const i64 sign = q.balance < 0 ? 0 : 1;
    signs[sign] = {signs[sign][0] + 1, signs[sign][1] + q.balance, 1};
  }
  check(p, {{"areas", areas}, {"signs", signs}});
}

BOOST_AUTO_TEST_CASE(a_case_key_with_a_ranged_integer_sorts_every_group) {
  // 3 bands x 121 ages over up to 100 rows: formed by sorting, every (band, age) a row.
  auto p = compiled("INSERT INTO o SELECT CASE WHEN age < 30 THEN 'young' WHEN age < 60 THEN 'middle'\n"
                    "  ELSE 'old' END AS band, age, COUNT(*) AS n, SUM(income) AS total\n"
                    "FROM t GROUP BY band, age;",
                    {table("o", {category("band", {"young", "middle", "old"}), integer("age", 0, 120),
                                 integer("n", 0, 0), decimal("total", 2, 0, 0)},
                           1000)});
  BOOST_TEST(uses(p, "group_by.sorted"));
  rows_of expected;
  for (i64 band = 0; band < 3; ++band)
    for (i64 age = 0; age <= 120; ++age) {
      i64 n = 0, total = 0;
      for (const auto& q : people)
        if (band_of(q) == band && q.age == age) {
          ++n;
          total += q.income;
        }
      const i64 valid = n > 0 ? 1 : 0;
      expected.push_back({valid * band, valid * age, n, total, valid});
    }
  check(p, {{"o", expected}});
}

BOOST_AUTO_TEST_CASE(case_groups_ordered_and_a_text_case_on_rows) {
  // The two largest bands by count, ties in band order; ORDER BY may repeat the CASE itself. On
  // rows, a text CASE is a category written as such, and compared in WHERE.
  const std::string band = "CASE WHEN age < 30 THEN 'young' WHEN age < 60 THEN 'middle' ELSE 'old' END";
  auto p = compiled("INSERT INTO top SELECT " + band + " AS band, COUNT(*) AS n FROM t\n"
                    "  GROUP BY band ORDER BY n DESC, " + band + " LIMIT 2;\n"
                    "INSERT INTO labels SELECT id,\n"
                    "  CASE WHEN balance < 0 THEN 'debit' WHEN balance = 0 THEN 'zero' ELSE 'credit' END AS sign\n"
                    "FROM t WHERE " + band + " = 'young';",
                    {table("top", {category("band", {"young", "middle", "old"}), integer("n", 0, 0)}, 2),
                     table("labels", {integer("id", 0, 0), category("sign", {"debit", "zero", "credit"})})});
  std::vector<i64> counts(3, 0);
  rows_of labels;
  for (const auto& q : people) {
    ++counts[static_cast<std::size_t>(band_of(q))];
    const i64 keep = band_of(q) == 0 ? 1 : 0;
    labels.push_back({keep * q.id, keep * (q.balance < 0 ? 0 : q.balance == 0 ? 1 : 2), keep});
  }
  std::vector<i64> order{0, 1, 2};
  std::stable_sort(order.begin(), order.end(), [&](i64 a, i64 b) { return counts[a] > counts[b]; });
  check(p, {{"top", {{order[0], counts[order[0]], 1}, {order[1], counts[order[1]], 1}}}, {"labels", labels}});
}

namespace {

/// WIDTH_BUCKET of x in [lo, hi) cut in n, all three in the same units: 0 below, n + 1 from hi on.
i64 bucket(i64 x, i64 lo, i64 hi, i64 n) {
  if (x < lo)
    return 0;
  if (x >= hi)
    return n + 1;
  return static_cast<i64>(static_cast<i128>(x - lo) * n / (hi - lo)) + 1;
}

} // namespace

BOOST_AUTO_TEST_CASE(width_buckets_on_rows_at_their_edges) {
  // Few buckets by their edges, many by the exact division; x at low (bucket 1), at high (n + 1),
  // just below high (n), below low (0); decimal x against whole and finer bounds; a range narrower
  // than n; one bucket; in WHERE.
  auto p = compiled("INSERT INTO buckets SELECT id,\n"
                    "  WIDTH_BUCKET(age, 0, 100, 10) AS b10, WIDTH_BUCKET(balance, -10.5, 10.5, 7) AS b7,\n"
                    "  WIDTH_BUCKET(balance, -1000, 1000, 1000) AS b1000, WIDTH_BUCKET(age, 10, 13, 5) AS e5,\n"
                    "  WIDTH_BUCKET(age, 28, 31, 8) AS d8, WIDTH_BUCKET(income, 0.005, 5000.005, 9) AS f9,\n"
                    "  WIDTH_BUCKET(age * 0.5, 0, 60, 1) AS one\n"
                    "FROM t WHERE WIDTH_BUCKET(age, 0, 120, 4) <> 2;",
                    {table("buckets", {integer("id", 0, 0), integer("b10", 0, 0), integer("b7", 0, 0),
                                       integer("b1000", 0, 0), integer("e5", 0, 0), integer("d8", 0, 0),
                                       integer("f9", 0, 0), integer("one", 0, 0)})});
  BOOST_TEST(uses(p, "width_bucket"));
  rows_of expected;
  std::set<i64> b7, b1000;
  for (const auto& q : people) {
    const i64 keep = bucket(q.age, 0, 120, 4) != 2 ? 1 : 0;
    std::vector<i64> row{q.id,
                         bucket(q.age, 0, 100, 10),
                         bucket(q.balance, -1050, 1050, 7),
                         bucket(q.balance, -100'000, 100'000, 1000),
                         bucket(q.age, 10, 13, 5),
                         bucket(q.age, 28, 31, 8),
                         bucket(q.income * 10, 5, 5'000'005, 9),
                         bucket(q.age * 5, 0, 600, 1)};
    b7.insert(row[2]);
    b1000.insert(row[3]);
    for (auto& v : row)
      v *= keep;
    row.push_back(keep);
    expected.push_back(row);
  }
  // The data reaches both ends: below low and from high on.
  BOOST_TEST((b7.count(0) == 1 && b7.count(1) == 1 && b7.count(7) == 1 && b7.count(8) == 1));
  BOOST_TEST((b1000.count(1) == 1 && b1000.count(1001) == 1));
  check(p, {{"buckets", expected}});
}

BOOST_AUTO_TEST_CASE(histograms_group_by_width_bucket) {
  // Every bucket 0..n+1 is a group, by its AS name or written out beside a category.
  auto p = compiled("INSERT INTO hist SELECT WIDTH_BUCKET(age, 0, 100, 10) AS bucket, COUNT(*) AS n,\n"
                    "  SUM(income) AS total FROM t GROUP BY bucket;\n"
                    "INSERT INTO by_sex SELECT sex, WIDTH_BUCKET(balance, -1000, 1000, 4) AS b, COUNT(*) AS n\n"
                    "FROM t GROUP BY sex, WIDTH_BUCKET(balance, -1000, 1000, 4);",
                    {table("hist", {integer("bucket", 0, 11), integer("n", 0, 0), decimal("total", 2, 0, 0)}),
                     table("by_sex", {category("sex", {"f", "m"}), integer("b", 0, 5), integer("n", 0, 0)})});
  BOOST_TEST(uses(p, "group_by.expression"));
  rows_of hist;
  for (i64 b = 0; b <= 11; ++b) {
    i64 n = 0, total = 0;
    for (const auto& q : people)
      if (bucket(q.age, 0, 100, 10) == b) {
        ++n;
        total += q.income;
      }
    hist.push_back({n > 0 ? b : 0, n, total, n > 0 ? 1 : 0});
  }
  rows_of by_sex;
  for (i64 sex = 0; sex < 2; ++sex)
    for (i64 b = 0; b <= 5; ++b) {
      i64 n = 0;
      for (const auto& q : people)
        n += q.sex == sex && bucket(q.balance, -100'000, 100'000, 4) == b ? 1 : 0;
      by_sex.push_back({n > 0 ? sex : 0, n > 0 ? b : 0, n, n > 0 ? 1 : 0});
    }
  check(p, {{"hist", hist}, {"by_sex", by_sex}});
}

BOOST_AUTO_TEST_CASE(count_distinct_overall_per_group_and_over_a_join) {
  // Over every row and the rows WHERE keeps; per region with a HAVING rule on the rows (COUNT(*)
  // >= 3, not the distinct counts: south and east have 3 employed persons but 2 distinct keys);
  // per age (121 groups: sorted); of a key, a category, a boolean, whole numbers, a CASE and
  // WIDTH_BUCKET; over a join whose unmatched rows hold no person's values, and a CASE group of
  // the joined rows.
  auto p = compiled(
    "INSERT INTO overall SELECT COUNT(DISTINCT region) AS regions, COUNT(DISTINCT age) AS ages,\n"
    "  COUNT(DISTINCT k) AS keys, COUNT(DISTINCT employed) AS flags, COUNT(*) AS n FROM t WHERE balance > -20;\n"
    "INSERT INTO by_region SELECT region, COUNT(DISTINCT k) AS keys,\n"
    "  COUNT(DISTINCT CASE WHEN age < 30 THEN 'y' ELSE 'o' END) AS bands,\n"
    "  COUNT(DISTINCT WIDTH_BUCKET(age, 0, 100, 10)) AS decades\n"
    "FROM t WHERE employed GROUP BY region HAVING COUNT(*) >= 3;\n"
    "INSERT INTO by_age SELECT age, COUNT(DISTINCT sex) AS sexes FROM t GROUP BY age;\n"
    "INSERT INTO linked SELECT COUNT(DISTINCT region) AS regions, COUNT(DISTINCT person) AS persons,\n"
    "  COUNT(*) AS n FROM jobs JOIN t ON jobs.person = t.id;\n"
    "INSERT INTO levels SELECT CASE WHEN age < 30 THEN 'young' ELSE 'older' END AS band, COUNT(*) AS n,\n"
    "  SUM(wage) AS wages FROM jobs JOIN t ON jobs.person = t.id GROUP BY band;",
    {table("overall", {integer("regions", 0, 0), integer("ages", 0, 0), integer("keys", 0, 0), integer("flags", 0, 0),
                       integer("n", 0, 0)}),
     table("by_region", {category("region", regions), integer("keys", 0, 0), integer("bands", 0, 0),
                         integer("decades", 0, 0)}),
     table("by_age", {integer("age", 0, 120), integer("sexes", 0, 0)}, 1000),
     table("linked", {integer("regions", 0, 0), integer("persons", 0, 0), integer("n", 0, 0)}),
     table("levels", {category("band", {"young", "older"}), integer("n", 0, 0), integer("wages", 0, 0)})});
  BOOST_TEST(uses(p, "aggregate.count_distinct"));
  // The row counts, the join's unique key, and the groups without rows of the three groupings:
  // nothing of the distinct counts.
  BOOST_TEST(p.disclosures().size() == 5u);
  auto distinct = [](auto&& value, auto&& keep) {
    std::set<i64> seen;
    for (const auto& q : people)
      if (keep(q))
        seen.insert(value(q));
    return static_cast<i64>(seen.size());
  };
  auto some = [](const person& q) { return q.balance > -2000; };  // -20.00
  const rows_of overall{{distinct([](const person& q) { return q.region; }, some),
                         distinct([](const person& q) { return q.age; }, some),
                         distinct([](const person& q) { return q.k; }, some),
                         distinct([](const person& q) { return q.employed; }, some),
                         static_cast<i64>(std::count_if(people.begin(), people.end(), some)), 1}};
  rows_of by_region;
  std::size_t fewer = 0;
  for (i64 r = 0; r < 4; ++r) {
    auto here = [r](const person& q) { return q.employed == 1 && q.region == r; };
    const auto n = std::count_if(people.begin(), people.end(), here);
    const i64 keys = distinct([](const person& q) { return q.k; }, here);
    const i64 shown = n >= 3 ? 1 : 0;
    fewer += n >= 3 && keys < 3 ? 1 : 0;
    by_region.push_back({n > 0 ? r : 0, shown * keys, shown * distinct([](const person& q) { return q.age < 30 ? 1 : 0; }, here),
                         shown * distinct([](const person& q) { return q.age >= 100 ? 11 : q.age / 10 + 1; }, here),
                         shown, n > 0 ? 1 : 0});
  }
  BOOST_TEST(fewer == 2u);
  rows_of by_age;
  for (i64 age = 0; age <= 120; ++age) {
    const i64 sexes = distinct([](const person& q) { return q.sex; }, [age](const person& q) { return q.age == age; });
    by_age.push_back({sexes > 0 ? age : 0, sexes, sexes > 0 ? 1 : 0});
  }
  std::set<i64> linked_regions, linked_persons;
  i64 matched = 0;
  rows_of levels(2, std::vector<i64>(4, 0));
  for (std::size_t j = 0; j < jobs[0].size(); ++j)
    for (const auto& q : people)
      if (q.id == jobs[0][j]) {
        linked_regions.insert(q.region);
        linked_persons.insert(q.id);
        ++matched;
        const i64 band = q.age < 30 ? 0 : 1;
        levels[band] = {band, levels[band][1] + 1, levels[band][2] + jobs[1][j], 1};
      }
  check(p, {{"overall", overall},
            {"by_region", by_region},
            {"by_age", by_age},
            {"linked", {{static_cast<i64>(linked_regions.size()), static_cast<i64>(linked_persons.size()), matched, 1}}},
            {"levels", levels}});
}

BOOST_AUTO_TEST_CASE(a_quality_check_counts_distinct_keys) {
  // CHECK COUNT(DISTINCT x) = COUNT(*): x unique among the input's rows (id is; k repeats).
  for (const auto& [check_source, passes] : {std::pair{std::string{"CHECK COUNT(DISTINCT id) = COUNT(*);"}, true},
                                             std::pair{std::string{"CHECK COUNT(DISTINCT k) = COUNT(*);"}, false},
                                             std::pair{std::string{"CHECK COUNT(DISTINCT k) = 9;"}, true}}) {
    auto r = sql::compile("INSERT INTO o SELECT COUNT(*) AS n FROM t;", inputs(), {table("o", {integer("n", 0, 0)})},
                          {{"t", check_source}});
    BOOST_TEST_REQUIRE(r.ok(), (r ? std::string{} : r.err().message));
    reference_backend b;
    auto res = sql::run(*r, b, shared(b, {{"t", data()}, {"jobs", jobs}}, 0));
    BOOST_TEST(res.quality.at("t") == passes, check_source);
  }
}
