#define BOOST_TEST_MODULE sql_wide
#include <boost/test/unit_test.hpp>

// SUM and AVG beyond the 64-bit ring in the task language: a business register of 10^7 firms
// with turnovers in cents up to 10^12 EUR compiles, runs on the reference backend to exact
// three-word results that format_csv writes in full, and every use the 128-bit form cannot serve is
// refused with the reason. The same programs run on rss3 in the conformance suite (wide_sums).

#include "joconde/engines/csv.hpp"
#include "joconde/engines/reference.hpp"
#include "joconde/engines/sql/compiler.hpp"
#include "joconde/engines/sql/executor.hpp"

#include "schema_builders.hpp"

#include <algorithm>
#include <string>
#include <vector>

using namespace joconde;
using namespace joconde::engines;
using namespace joconde::test;

namespace {

using i64 = std::int64_t;

/// 10^12 EUR in cents.
constexpr i64 top = 100'000'000'000'000;

table_schema firms(std::uint64_t max_rows = 10'000'000) {
  return table("firms",
               {integer("id", 1, 1'000'000'000), decimal("turnover", 2, -top, top),
                category("sector", {"A", "B", "C"}), integer("staff", 0, 1'000'000)},
               max_rows);
}

table_schema totals(unsigned mean_scale = 2) {
  return table("totals",
               {category("sector", {"A", "B", "C"}), decimal("total", 2), decimal("mean", mean_scale),
                unbounded("firms"), unbounded("staff")},
               3);
}

const char* const grouped =
  "INSERT INTO totals SELECT sector, SUM(turnover) AS total, AVG(turnover) AS mean, COUNT(*) AS firms, "
  "SUM(staff) AS staff FROM firms GROUP BY sector;";

result<sql::program> compile(const std::string& source, table_schema out, std::uint64_t max_rows = 10'000'000) {
  return sql::compile(source, {firms(max_rows)}, {std::move(out)});
}

secret column(const std::vector<i64>& v) {
  secret s;
  for (auto x : v)
    s.a.push_back(static_cast<word>(x));
  return s;
}

/// Five firms: sector A's turnovers are at the top of the declared range, B's at the bottom, C has
/// none. (Sums beyond 2^63 themselves, with 10^5 rows, are in kernels_wide_test.)
secret_table five_firms() {
  secret_table t;
  t.columns = {column({1, 2, 3, 4, 5}), column({top, top, top - 1, -top, -3}), column({0, 0, 0, 1, 1}),
               column({10, 20, 30, 40, 50})};
  t.valid = column({1, 1, 1, 1, 1});
  t.rows = 5;
  return t;
}

/// Runs `p` on `input` with the reference backend and writes output `totals` as CSV.
std::string run_csv(const sql::program& p, const secret_table& input, const table_schema& out) {
  reference_backend b;
  auto res = sql::run(p, b, {{"firms", input}});
  const auto& t = res.outputs.at("totals");
  std::vector<std::vector<word>> clear;
  std::vector<word> valid = t.valid.a;
  for (const auto& c : t.columns) {
    std::vector<word> kept;
    for (std::size_t r = 0; r < t.rows; ++r)
      if (valid[r] == 1)
        kept.push_back(c.a[r]);
    clear.push_back(kept);
  }
  auto words = p.output_words("totals");
  return format_csv(out, clear, clear.empty() ? 0 : clear[0].size(), words);
}

} // namespace

BOOST_AUTO_TEST_CASE(a_register_of_ten_million_firms_in_cents_compiles_and_runs_exactly) {
  auto p = compile(grouped, totals());
  BOOST_REQUIRE_MESSAGE(p.ok(), (p ? "" : p.err().message));
  // total and mean beyond the ring: three words; the staff sum fits one.
  BOOST_TEST(p->output_words("totals") == (std::vector<unsigned>{1, 3, 3, 1, 1}),
             boost::test_tools::per_element());
  BOOST_TEST(p->output_words("nothing").empty());
  // The feature engines check in supports(), and `joconde sql check` lists.
  const auto& f = p->features();
  BOOST_TEST((std::find(f.begin(), f.end(), "aggregate.wide") != f.end()));
  auto csv = run_csv(*p, five_firms(), totals());
  // A: 10^14 + 10^14 + 10^14 - 1 cents = 2999999999999.99 EUR, mean 999999999999.99666.. -> up
  // to 1000000000000.00. B: -10^14 - 3 cents = -1000000000000.03 EUR, mean -500000000000.015, a
  // tie: half away from zero, -.02.
  BOOST_TEST(csv == "sector,total,mean,firms,staff\n"
                    "A,2999999999999.99,1000000000000.00,3,60\n"
                    "B,-1000000000000.03,-500000000000.02,2,90\n",
             csv);
}

BOOST_AUTO_TEST_CASE(the_output_scale_is_applied_exactly) {
  // Two more decimals: the mean rounded at the fourth; none: rounded to whole EUR (the tie of B
  // is at the third decimal, so it rounds down in magnitude).
  auto more = compile(grouped, totals(4));
  BOOST_REQUIRE_MESSAGE(more.ok(), (more ? "" : more.err().message));
  auto csv = run_csv(*more, five_firms(), totals(4));
  BOOST_TEST(csv.find("A,2999999999999.99,999999999999.9967,3,60\n") != std::string::npos, csv);
  BOOST_TEST(csv.find("B,-1000000000000.03,-500000000000.0150,2,90\n") != std::string::npos, csv);
  auto fewer = compile(grouped, totals(0));
  BOOST_REQUIRE_MESSAGE(fewer.ok(), (fewer ? "" : fewer.err().message));
  csv = run_csv(*fewer, five_firms(), totals(0));
  BOOST_TEST(csv.find("A,2999999999999.99,1000000000000,3,60\n") != std::string::npos, csv);
  BOOST_TEST(csv.find("B,-1000000000000.03,-500000000000,2,90\n") != std::string::npos, csv);
}

BOOST_AUTO_TEST_CASE(variance_and_standard_deviation_of_amounts_in_cents_beyond_the_ring) {
  // The variance in whole EUR^2 (four decimals fewer than cents^2) and the standard deviation in
  // cents, both exactly, rounded half up.
  auto out = table("totals", {category("sector", {"A", "B", "C"}), decimal("var", 0), decimal("sd", 2)}, 3);
  auto p = compile("INSERT INTO totals SELECT sector, VAR_SAMP(turnover) AS var, STDDEV_SAMP(turnover) AS sd "
                   "FROM firms GROUP BY sector;",
                   out);
  BOOST_REQUIRE_MESSAGE(p.ok(), (p ? "" : p.err().message));
  BOOST_TEST(p->output_words("totals") == (std::vector<unsigned>{1, 3, 3}), boost::test_tools::per_element());
  auto csv = run_csv(*p, five_firms(), out);
  // A: 10^14, 10^14, 10^14 - 1 cents: var 1/3 cent^2 (0 EUR^2), sd 0.577 cents (0.01 EUR). B:
  // -10^14 and -3 cents: var (10^14 - 3)^2 / 2 cent^2 = 499999999999970000000000.00045 EUR^2, sd
  // (10^14 - 3) / sqrt(2) cents = 707106781186.5262 EUR. C has no rows: its row is not valid, so
  // not written.
  BOOST_TEST(csv.starts_with("sector,var,sd\nA,0,0.01\nB,499999999999970000000000,707106781186.53\n"), csv);
  BOOST_TEST(csv.find("\nC,") == std::string::npos, csv);
}

BOOST_AUTO_TEST_CASE(correlation_of_amounts_in_cents_beyond_the_ring) {
  // Exactly, rounded half away from zero to the sixth decimal.
  auto out = table("totals", {category("sector", {"A", "B", "C"}), decimal("r", 6)}, 3);
  auto p = compile("INSERT INTO totals SELECT sector, CORR(turnover, staff) AS r FROM firms GROUP BY sector;", out);
  BOOST_REQUIRE_MESSAGE(p.ok(), (p ? "" : p.err().message));
  BOOST_TEST(p->output_words("totals") == (std::vector<unsigned>{1, 3}), boost::test_tools::per_element());
  auto csv = run_csv(*p, five_firms(), out);
  // A: turnovers 10^14, 10^14, 10^14 - 1 cents against staff 10, 20, 30: r = -sqrt(3) / 2 =
  // -0.86602540.. B: two firms, both rising: r = 1.
  BOOST_TEST(csv == "sector,r\nA,-0.866025\nB,1.000000\n", csv);
}

BOOST_AUTO_TEST_CASE(regression_of_amounts_in_cents_beyond_the_ring) {
  // Slope in EUR per employee and intercept in EUR, four decimals, exactly, rounded half away from
  // zero.
  auto out = table("totals", {category("sector", {"A", "B", "C"}), decimal("slope", 4), decimal("icpt", 4)}, 3);
  auto p = compile("INSERT INTO totals SELECT sector, REGR_SLOPE(turnover, staff) AS slope, "
                   "REGR_INTERCEPT(turnover, staff) AS icpt FROM firms GROUP BY sector;",
                   out);
  BOOST_REQUIRE_MESSAGE(p.ok(), (p ? "" : p.err().message));
  BOOST_TEST(p->output_words("totals") == (std::vector<unsigned>{1, 3, 3}), boost::test_tools::per_element());
  auto csv = run_csv(*p, five_firms(), out);
  // A: turnovers 10^14, 10^14, 10^14 - 1 cents on staff 10, 20, 30: slope -0.05 cents = -0.0005
  // EUR, intercept 10^14 + 2/3 cents = 1000000000000.00666.. EUR. B: -10^14 and -3 cents on staff
  // 40 and 50: slope (10^14 - 3) / 10 cents = 99999999999.997 EUR, intercept -10^14 - 4 (10^14 - 3)
  // cents = -4999999999999.88 EUR.
  BOOST_TEST(csv == "sector,slope,icpt\nA,-0.0005,1000000000000.0067\nB,99999999999.9970,-4999999999999.8800\n", csv);
}

BOOST_AUTO_TEST_CASE(a_variance_in_cents_squared_and_an_intercept_of_amounts_on_amounts_take_three_words) {
  // Sector A: -10^12 and 10^12 EUR: var 2 10^28 cents^2 = 2 10^24 EUR^2 written with its four
  // decimals (beyond 2^93), exactly. REGR_INTERCEPT(turnover, turnover): exactly 0 for both (B:
  // -0.03, 0.05, 0.07 EUR, var 0.0028 EUR^2 exactly).
  auto out = table("totals", {category("sector", {"A", "B", "C"}), decimal("var", 4), decimal("icpt", 2)}, 3);
  auto p = compile("INSERT INTO totals SELECT sector, VAR_SAMP(turnover) AS var, "
                   "REGR_INTERCEPT(turnover, turnover) AS icpt FROM firms GROUP BY sector;",
                   out);
  BOOST_REQUIRE_MESSAGE(p.ok(), (p ? "" : p.err().message));
  BOOST_TEST(p->output_words("totals") == (std::vector<unsigned>{1, 3, 3}), boost::test_tools::per_element());
  secret_table t;
  t.columns = {column({1, 2, 3, 4, 5}), column({-top, top, -3, 5, 7}), column({0, 0, 1, 1, 1}),
               column({1, 1, 1, 1, 1})};
  t.valid = column({1, 1, 1, 1, 1});
  t.rows = 5;
  auto csv = run_csv(*p, t, out);
  BOOST_TEST(csv == "sector,var,icpt\nA,2000000000000000000000000.0000,0.00\nB,0.0028,0.00\n", csv);
}

BOOST_AUTO_TEST_CASE(a_sum_that_fits_the_ring_keeps_one_word) {
  auto p = compile("INSERT INTO totals SELECT sector, SUM(turnover) AS total, AVG(turnover) AS mean, "
                   "COUNT(*) AS firms, SUM(staff) AS staff FROM firms GROUP BY sector;",
                   totals(), 1000);
  BOOST_REQUIRE_MESSAGE(p.ok(), (p ? "" : p.err().message));
  BOOST_TEST(p->output_words("totals") == (std::vector<unsigned>{1, 1, 3, 1, 1}),
             boost::test_tools::per_element());
  const auto& f = p->features();
  BOOST_TEST((std::find(f.begin(), f.end(), "aggregate.wide") != f.end()));
  auto narrow = compile("INSERT INTO totals SELECT sector, SUM(staff) AS total, AVG(staff) AS mean, "
                        "COUNT(*) AS firms, SUM(staff) AS staff FROM firms GROUP BY sector;",
                        totals(), 1000);
  BOOST_REQUIRE_MESSAGE(narrow.ok(), (narrow ? "" : narrow.err().message));
  const auto& g = narrow->features();
  BOOST_TEST((std::find(g.begin(), g.end(), "aggregate.wide") == g.end()));
}

BOOST_AUTO_TEST_CASE(what_the_wide_form_cannot_serve_is_refused_with_the_reason) {
  struct refusal {
    std::string source;
    table_schema out;
    std::uint64_t max_rows;
    std::vector<std::string> phrases;
  };
  auto one = [](column_schema c) { return table("totals", {std::move(c)}, 1); };
  const std::vector<refusal> cases{
    // Arithmetic on a wide result.
    {"INSERT INTO totals SELECT SUM(turnover) * 2 AS total FROM firms;", one(decimal("total", 2)),
     10'000'000, {"1:27", "SUM(turnover)", "128 bits", "whole select item", "SUM(turnover) * 2"}},
    {"INSERT INTO totals SELECT CASE WHEN COUNT(*) > 0 THEN AVG(turnover) ELSE 0 END AS total FROM firms;",
     one(decimal("total", 2)), 10'000'000, {"AVG(turnover)", "128 bits", "not inside"}},
    // A wide SUM into a boolean column.
    {"INSERT INTO totals SELECT SUM(turnover) AS total FROM firms;", one(boolean("total")), 10'000'000,
     {"SUM(turnover)", "integer or decimal output column"}},
    // A decimal SUM into an integer column.
    {"INSERT INTO totals SELECT SUM(turnover) AS total FROM firms;", one(integer("total", 0, 1)), 10'000'000,
     {"write it to a decimal column"}},
    // Too many rows even for two limbs.
    {"INSERT INTO totals SELECT SUM(turnover) AS total FROM firms;", one(decimal("total", 2)),
     std::uint64_t{1} << 31, {"it may reach 2.1e23, beyond the ring's 2^62", "in 128 bits", "at most 134217727 rows"}},
    // AVG divides by n 10^2 (two decimals fewer): beyond 2^30 at 10^8 rows.
    {"INSERT INTO totals SELECT AVG(turnover) AS total FROM firms;", one(decimal("total", 0)), 100'000'000,
     {"AVG(turnover)", "in 128 bits", "rows"}},
    // A sum of fixed-point values (a division's results) has no wide form.
    {"INSERT INTO totals SELECT SUM(staff / 3) AS total FROM firms;", one(decimal("total", 2)),
     10'000'000, {"SUM(staff / 3)", "fixed-point value"}},
    // A variance over 2^28 rows: the sums of the limbs could leave the ring.
    {"INSERT INTO totals SELECT VAR_SAMP(turnover) AS total FROM firms;", one(decimal("total", 4)),
     std::uint64_t{1} << 28, {"VAR_SAMP(turnover): it may reach", "in 128 bits", "at most 134217727 rows"}},
    // A slope beyond the ring is written with at least its own decimals (here turnover's 2).
    {"INSERT INTO totals SELECT REGR_SLOPE(turnover, staff) AS total FROM firms;", one(decimal("total", 0)),
     10'000'000, {"REGR_SLOPE(turnover, staff): REGR_SLOPE over 10000000 rows", "at least its value's 2 decimals"}},
    // CORR with nine decimals: 10^9 is beyond its scale factor's 2^29.
    {"INSERT INTO totals SELECT CORR(turnover, staff) AS total FROM firms;", one(decimal("total", 9)),
     10'000'000, {"CORR(turnover, staff)", "in 128 bits"}},
  };
  for (const auto& c : cases) {
    auto p = compile(c.source, c.out, c.max_rows);
    BOOST_REQUIRE_MESSAGE(!p.ok(), "accepted: " << c.source);
    BOOST_TEST((p.err().code == errc::compile_error));
    for (const auto& phrase : c.phrases)
      BOOST_TEST(p.err().message.find(phrase) != std::string::npos,
                 "'" << phrase << "' missing from: " << p.err().message);
  }
}

BOOST_AUTO_TEST_CASE(three_word_values_print_in_full) {
  auto d2 = decimal("x", 2);
  auto n = integer("n", 0, 1);
  const word minus_one = static_cast<word>(-1);
  // hi 2^64 + mid 2^32 + lo.
  BOOST_TEST(decode_wide(n, 0, 0, 0) == "0");
  BOOST_TEST(decode_wide(n, 0, 1, 0) == "4294967296");
  BOOST_TEST(decode_wide(n, 1, 0, 0) == "18446744073709551616");
  BOOST_TEST(decode_wide(n, minus_one, 0xffffffff, 0xffffffff) == "-1");
  BOOST_TEST(decode_wide(n, minus_one, 0, 0) == "-18446744073709551616");
  BOOST_TEST(decode_wide(n, word{1} << 29, 0, 0) == "9903520314283042199192993792");  // 2^93
  // The largest and the smallest: (2^61 - 1) 2^64 + 2^64 - 1 = 2^125 - 1, and -2^125 + 2^64.
  BOOST_TEST(decode_wide(n, (word{1} << 61) - 1, 0xffffffff, 0xffffffff)
             == "42535295865117307932921825928971026431");
  BOOST_TEST(decode_wide(n, static_cast<word>(-(std::int64_t{1} << 61) + 1), 0, 0)
             == "-42535295865117307914475081855261474816");
  BOOST_TEST(decode_wide(d2, minus_one, 0xffffffff, 0xfffffffe) == "-0.02");
  BOOST_TEST(decode_wide(d2, 0, 232830, 2764472320) == "10000000000000.00");  // 10^15 units
  // Not canonical, beyond 2^125, or not a number column: marked, never misread.
  BOOST_TEST(decode_wide(n, 0, 0, word{1} << 32) == "#invalid-wide");
  BOOST_TEST(decode_wide(n, 0, word{1} << 32, 0) == "#invalid-wide");
  BOOST_TEST(decode_wide(n, word{1} << 61, 0, 0) == "#invalid-wide");
  BOOST_TEST(decode_wide(n, static_cast<word>(-(std::int64_t{1} << 61)), 0, 0) == "#invalid-wide");
  BOOST_TEST(decode_wide(n, word{1} << 63, 0, 0) == "#invalid-wide");
  BOOST_TEST(decode_wide(boolean("b"), 0, 0, 1) == "#invalid-wide");
}
