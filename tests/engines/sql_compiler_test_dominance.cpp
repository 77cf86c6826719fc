// HAVING's dominance rule DOMINANCE(x, n) <= p in the compiler: what it accepts (alone, with
// COUNT(*) >= k in either order, without GROUP BY), its feature, disclosure and CONF_RULE texts,
// and each refusal with its exact place and message.

#include "joconde/engines/sql/ast.hpp"
#include "joconde/engines/sql/compiler.hpp"

#include "schema_builders.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <string>
#include <vector>

using namespace joconde;
using namespace joconde::engines;
using namespace joconde::test;

namespace {

/// firms(id key, sector {A, B, C}, nace integer [1, 99999], turnover decimal(2) up to 10^9 EUR in
/// cents, turnover_k integer [0, 10^7] (thousands of EUR), employees [0, 10^5], profit decimal(2)
/// [-10^9, 10^9], exporter boolean, hours unbounded), at most 10^6 rows.
std::vector<table_schema> inputs() {
  return {table("firms",
                {key("id"), category("sector", {"A", "B", "C"}), integer("nace", 1, 99'999),
                 decimal("turnover", 2, 0, 100'000'000'000), integer("turnover_k", 0, 10'000'000),
                 integer("employees", 0, 100'000), decimal("profit", 2, -100'000'000'000, 100'000'000'000),
                 boolean("exporter"), unbounded("hours")},
                1'000'000)};
}

/// o(sector, n, t): the sector, a count and a total.
table_schema by_sector() {
  return table("o", {category("sector", {"A", "B", "C"}), integer("n", 0, 0), integer("t", 0, 0)}, 100);
}

const std::string grouped = "INSERT INTO o SELECT sector, COUNT(*) AS n, SUM(turnover_k) AS t FROM firms GROUP BY sector\n";

result<sql::program> compiled(const std::string& source, table_schema o = by_sector()) {
  return sql::compile(source, inputs(), {std::move(o)});
}

bool uses(const sql::program& p, const std::string& feature) {
  return std::find(p.features().begin(), p.features().end(), feature) != p.features().end();
}

} // namespace

BOOST_AUTO_TEST_CASE(dominance_rules_are_accepted_with_their_texts) {
  for (const auto* having : {"HAVING COUNT(*) >= 5 AND DOMINANCE(turnover_k, 2) <= 85",
                             "having dominance( turnover_k ,2 ) <= 85 and count(*) >= 5"}) {
    auto r = compiled(grouped + having + ";");
    BOOST_TEST_REQUIRE(r.ok(), (r ? std::string{} : r.err().message));
    const auto& s = r->impl().statements.at(0);
    BOOST_TEST_REQUIRE(s.dominance.has_value());
    BOOST_TEST(s.dominance->n == 2u);
    BOOST_TEST(s.dominance->p == 85u);
    BOOST_TEST(s.dominance->lo == 0);
    BOOST_TEST(s.dominance->hi == 10'000'000);
    BOOST_TEST(s.having_min == 5);
    BOOST_TEST(uses(*r, "having"));
    BOOST_TEST(uses(*r, "having.dominance"));
    BOOST_TEST(!s.sorted_grouping);
    const auto flags = r->confidentiality("o");
    BOOST_TEST(flags.flagged);
    BOOST_TEST(flags.rule == "HAVING COUNT(*) >= 5");
    BOOST_TEST(flags.dominance_rule == "DOMINANCE(turnover_k, 2) <= 85");
    BOOST_TEST_REQUIRE(r->disclosures().size() == 3u);  // the row counts, the groups without rows, the rule
    BOOST_TEST(r->disclosures()[2]
               == "`o` names in CONF_RULE the rule that withheld each group: HAVING COUNT(*) >= 5 where it has "
                  "fewer rows, else DOMINANCE(turnover_k, 2) <= 85, so of a group withheld by the latter the "
                  "analyst learns that it has at least 5 rows and that its 2 largest values of turnover_k make up "
                  "more than 85 % of its total");
  }
  // Alone, of an expression, n = 1: no minimum-frequency text; its own disclosure.
  auto alone = compiled(grouped + "HAVING DOMINANCE(employees * 2, 1) <= 50;");
  BOOST_TEST_REQUIRE(alone.ok(), (alone ? std::string{} : alone.err().message));
  BOOST_TEST(alone->confidentiality("o").rule.empty());
  BOOST_TEST(alone->confidentiality("o").dominance_rule == "DOMINANCE(employees * 2, 1) <= 50");
  BOOST_TEST(alone->disclosures().at(2)
             == "`o` marks each group withheld by DOMINANCE(employees * 2, 1) <= 50 in CONF_RULE, so the analyst "
                "learns that its largest value of employees * 2 makes up more than 50 % of its total");
  // The minimum-frequency rule alone: no new feature, text or disclosure (beyond a grouping's).
  auto count = compiled(grouped + "HAVING COUNT(*) >= 5;");
  BOOST_TEST_REQUIRE(count.ok());
  BOOST_TEST(!uses(*count, "having.dominance"));
  BOOST_TEST(count->confidentiality("o").dominance_rule.empty());
  BOOST_TEST(count->disclosures().size() == 2u);
  // Without GROUP BY, over an aggregate-only select list; a decimal in range (10^5 EUR in cents).
  auto whole = sql::compile("INSERT INTO o SELECT SUM(turnover_k) AS t FROM firms WHERE turnover <= 10000000\n"
                            "HAVING DOMINANCE(turnover_k, 10) <= 99;",
                            inputs(), {table("o", {integer("t", 0, 0)}, 1)});
  BOOST_TEST_REQUIRE(whole.ok(), (whole ? std::string{} : whole.err().message));
}

BOOST_AUTO_TEST_CASE(dominance_refusals_say_where_and_what_to_write) {
  struct refused {
    std::string having;
    std::string message;  ///< exactly, "line:column: ..." (the HAVING line is line 2)
  };
  const std::vector<refused> cases{
    {"HAVING DOMINANCE(turnover, 2) <= 85",
     "2:8: DOMINANCE(turnover, 2) <= 85: its exact comparison needs 100 x 1000000 rows x the largest turnover below "
     "2^61, but that is 1e19; declare turnover in coarser units (e.g. thousands of EUR), a narrower RANGE or a "
     "smaller max_rows"},
    {"HAVING DOMINANCE(exporter, 2) <= 85",
     "2:18: DOMINANCE needs a number (each contributor's magnitude, such as turnover), but exporter is boolean"},
    {"HAVING DOMINANCE(sector, 2) <= 85",
     "2:18: DOMINANCE needs a number (each contributor's magnitude, such as turnover), but sector is category"},
    {"HAVING DOMINANCE(profit, 2) <= 85",
     "2:18: profit may be negative (down to -1e11), but DOMINANCE(profit, 2) <= 85 is a rule for non-negative "
     "magnitudes (turnover, employment); declare a RANGE from 0 or give a non-negative expression"},
    {"HAVING DOMINANCE(employees - 10, 2) <= 85",
     "2:18: employees - 10 may be negative (down to -10), but DOMINANCE(employees - 10, 2) <= 85 is a rule for "
     "non-negative magnitudes (turnover, employment); declare a RANGE from 0 or give a non-negative expression"},
    {"HAVING DOMINANCE(hours, 2) <= 85",
     "2:18: hours has no declared RANGE, so DOMINANCE(hours, 2) <= 85 cannot be proven to fit the ring; declare a "
     "RANGE from 0 for hours"},
    {"HAVING DOMINANCE(SUM(turnover_k), 2) <= 85",
     "2:18: DOMINANCE takes each row's value, not an aggregate: write DOMINANCE(turnover_k, 2), not "
     "DOMINANCE(SUM(turnover_k), 2)"},
    {"HAVING DOMINANCE(turnover_k, 0) <= 85",
     "2:30: DOMINANCE counts the 1 to 10 largest contributors, not 0; write a whole number from 1 to 10"},
    {"HAVING DOMINANCE(turnover_k, 11) <= 85",
     "2:30: DOMINANCE counts the 1 to 10 largest contributors, not 11; write a whole number from 1 to 10"},
    {"HAVING DOMINANCE(turnover_k, 2) <= 100",
     "2:36: DOMINANCE(...) <= 100 is not a share from 1 to 99 percent; write a whole number from 1 to 99 (85 is "
     "usual for n = 2)"},
    {"HAVING DOMINANCE(turnover_k, 2) <= 0",
     "2:36: DOMINANCE(...) <= 0 is not a share from 1 to 99 percent; write a whole number from 1 to 99 (85 is "
     "usual for n = 2)"},
    {"HAVING DOMINANCE(turnover_k, 2) <= 85.5",
     "2:36: expected a whole number of percent (1 to 99) after DOMINANCE(...) <=, found the number 85.5"},
    {"HAVING DOMINANCE(turnover_k, 2) >= 85",
     "2:33: expected `<=` in DOMINANCE(<column>, <n>) <= <percent> (a cell is published when its n largest "
     "contributors make up at most that share of its total), found `>=`"},
    {"HAVING DOMINANCE(turnover_k) <= 85",
     "2:28: expected `,` and the number of largest contributors in DOMINANCE(<column>, <n>), found `)`"},
    {"HAVING DOMINANCE(turnover_k, 2) <= 85 AND DOMINANCE(employees, 1) <= 50",
     "2:43: HAVING gives DOMINANCE twice (first at 2:8); give each rule once"},
    {"HAVING COUNT(*) >= 5 AND DOMINANCE(turnover_k, 2) <= 85 AND COUNT(*) >= 3",
     "2:61: HAVING gives COUNT(*) >= k twice (first at 2:8); give each rule once"},
    {"HAVING COUNT(*) >= 5 OR DOMINANCE(turnover_k, 2) <= 85",
     "2:22: HAVING joins its rules with AND (a cell is published only if every rule passes); write AND instead "
     "of OR"},
    {"HAVING SUM(turnover_k) > 5",
     "2:8: expected COUNT(*) >= <integer> or DOMINANCE(<column>, <n>) <= <percent> (the HAVING conditions: the "
     "confidentiality rules), found `SUM`"},
  };
  for (const auto& c : cases) {
    auto r = compiled(grouped + c.having + ";");
    BOOST_TEST_CONTEXT(c.having) {
      BOOST_TEST_REQUIRE(!r);
      BOOST_TEST((r.err().code == errc::compile_error));
      BOOST_TEST(r.err().message == c.message);
    }
  }
  // Too many groups for the masks: 99999 NACE codes over 10^6 rows.
  auto fine = sql::compile("INSERT INTO o SELECT nace, COUNT(*) AS n FROM firms GROUP BY nace\n"
                           "HAVING COUNT(*) >= 5 AND DOMINANCE(turnover_k, 2) <= 85;",
                           inputs(), {table("o", {integer("nace", 0, 0), integer("n", 0, 0)}, 100'000)});
  BOOST_TEST_REQUIRE(!fine);
  BOOST_TEST(fine.err().message
             == "2:26: DOMINANCE needs one-hot group masks, at most 4096 groups and 33554432 (groups x rows), but "
                "this GROUP BY gives 99999 groups over up to 1000000 rows; group by fewer values, or apply the rule to "
                "a coarser table");
  // Without GROUP BY and without an aggregate: the rule has no group to judge.
  auto rows = sql::compile("INSERT INTO o SELECT turnover_k AS t FROM firms HAVING DOMINANCE(turnover_k, 2) <= 85;",
                           inputs(), {table("o", {integer("t", 0, 0)}, 1'000'000)});
  BOOST_TEST_REQUIRE(!rows);
  BOOST_TEST(rows.err().message == "1:49: HAVING needs GROUP BY or an aggregate in the select list");
}
