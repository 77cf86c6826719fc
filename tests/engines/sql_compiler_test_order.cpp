// ORDER BY ... LIMIT k in the compiler (docs/task-language.md, "Ordering"): what it accepts (row
// and grouped selects, output names and select expressions, several keys, HAVING, MEDIAN), the key
// it sizes, its feature and disclosure, and each refusal with its place.

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

const std::vector<std::string> sectors{"a", "b", "c"};

/// firms(id key, turnover decimal(2) [-10^9, 10^12], staff [0, 10^6], sector, founded unbounded),
/// at most 10^6 rows; register(amount decimal(2) [0, 10^14]), 10^7 rows: its sums are beyond the
/// ring; owners(id key UNIQUE, age [0, 120]).
std::vector<table_schema> inputs() {
  return {table("firms",
                {key("id"), decimal("turnover", 2, -1'000'000'000, 1'000'000'000'000), integer("staff", 0, 1'000'000),
                 category("sector", sectors), unbounded("founded")},
                1'000'000),
          table("register", {decimal("amount", 2, 0, 100'000'000'000'000), category("sector", sectors)}, 10'000'000),
          table("owners", {unique(key("id")), integer("age", 0, 120)}, 1000)};
}

/// Output `top` with `columns`: a category for "sector", decimal(2) for "turnover" and "total",
/// decimal(1) for "m", integers otherwise.
table_schema top(const std::vector<std::string>& columns, std::uint64_t rows = 10) {
  std::vector<column_schema> cols;
  for (const auto& c : columns)
    cols.push_back(c == "sector"                      ? category(c, sectors)
                   : c == "turnover" || c == "total" ? decimal(c, 2, 0, 0)
                   : c == "m"                        ? decimal(c, 1, 0, 0)
                                                     : integer(c, 0, 0));
  return table("top", std::move(cols), rows);
}

sql::program accepted(const std::string& source, table_schema out) {
  auto r = sql::compile(source, inputs(), {std::move(out)});
  BOOST_TEST_REQUIRE(r.ok(), source << ": " << (r ? std::string{} : r.err().message));
  return r.value();
}

struct refused {
  std::string source;
  table_schema out;
  std::string where;   ///< the text the error must point at
  std::string phrase;  ///< a key phrase of the message
};

} // namespace

BOOST_AUTO_TEST_CASE(a_row_level_top_k_sizes_its_key_and_states_its_disclosure) {
  auto p = accepted("INSERT INTO top SELECT staff, turnover FROM firms ORDER BY turnover DESC LIMIT 10;",
                    top({"staff", "turnover"}));
  const auto& s = p.impl().statements.at(0);
  BOOST_TEST_REQUIRE(s.order_by.size() == 1u);
  const auto& k = s.order_by[0];
  BOOST_TEST(k.item == 1u);
  BOOST_TEST(k.column == 1u);
  BOOST_TEST(k.descending);
  // The declared cents, one unit wider each way for the rounding.
  BOOST_TEST(k.lo == -1'000'000'001);
  BOOST_TEST(k.hi == 1'000'000'000'001);
  BOOST_TEST(k.bits == 40u);
  BOOST_TEST(s.limit == 10u);
  BOOST_TEST(s.order_class_bits == 1u);
  BOOST_TEST((std::find(p.features().begin(), p.features().end(), "order_by_limit") != p.features().end()));
  const std::string disclosure = "`top` keeps the first 10 of the rows its select writes, by ORDER BY turnover DESC "
                                 "(equal keys in row order): min(10, their number) rows, which the Computing "
                                 "Parties know; which rows are kept is not revealed to them";
  BOOST_TEST((std::find(p.disclosures().begin(), p.disclosures().end(), disclosure) != p.disclosures().end()));
}

BOOST_AUTO_TEST_CASE(grouped_top_k_by_expression_name_and_several_keys) {
  auto p = accepted("INSERT INTO top SELECT sector, MAX(staff) AS n, COUNT(*) AS firms FROM firms GROUP BY sector\n"
                    "ORDER BY MAX(staff) DESC, firms ASC, sector LIMIT 2;",
                    top({"sector", "n", "firms"}));
  const auto& s = p.impl().statements.at(0);
  BOOST_TEST_REQUIRE(s.order_by.size() == 3u);
  BOOST_TEST(s.order_by[0].item == 1u);
  BOOST_TEST(s.order_by[0].descending);
  BOOST_TEST(s.order_by[1].item == 2u);
  BOOST_TEST(!s.order_by[1].descending);
  BOOST_TEST(s.order_by[2].item == 0u);
  BOOST_TEST(s.order_by[2].bits == 2u);  // three categories: codes 0..2
  BOOST_TEST(s.order_key_bits == s.order_by[0].bits + s.order_by[1].bits + 2);
  BOOST_TEST(p.disclosures().back()
             == "`top` keeps the first 2 of the groups its select writes, by ORDER BY MAX(staff) DESC, firms, sector "
                "(equal keys in group order): min(2, their number) rows, which the Computing Parties know; which "
                "groups are kept is not revealed to them");
}

BOOST_AUTO_TEST_CASE(having_median_and_an_output_smaller_than_the_input_are_accepted) {
  auto p = accepted("INSERT INTO top SELECT sector, COUNT(*) AS n, MEDIAN(staff) AS m FROM firms GROUP BY sector\n"
                    "HAVING COUNT(*) >= 5 ORDER BY m DESC LIMIT 2;",
                    top({"sector", "n", "m"}, 2));
  BOOST_TEST(p.impl().statements.at(0).order_class_bits == 2u);  // published, withheld, empty
  BOOST_TEST(p.confidentiality("top").flagged);
  // A row-level select of 10^6 rows into an output of 5: LIMIT bounds its rows.
  accepted("INSERT INTO top SELECT staff FROM firms WHERE sector = 'a' ORDER BY staff LIMIT 5;", top({"staff"}, 5));
  // A select expression with a different name, a key the select computes, an owner's age joined
  // and grouped.
  accepted("INSERT INTO top SELECT staff * 2 AS twice FROM firms ORDER BY staff * 2 LIMIT 3;", top({"twice"}));
  accepted("INSERT INTO top SELECT sector, PERCENTILE_DISC(0.9) WITHIN GROUP (ORDER BY staff) AS p FROM firms\n"
           "GROUP BY sector ORDER BY PERCENTILE_DISC(0.90) WITHIN GROUP (ORDER BY staff) DESC LIMIT 2;",
           top({"sector", "p"}));
  accepted("INSERT INTO top SELECT age, COUNT(*) AS n FROM firms JOIN owners ON firms.id = owners.id\n"
           "GROUP BY age ORDER BY n DESC LIMIT 3;",
           top({"age", "n"}));
}

BOOST_AUTO_TEST_CASE(refusals_name_their_place) {
  const std::vector<refused> cases{
    {"INSERT INTO top SELECT staff FROM firms LIMIT 3;", top({"staff"}), "LIMIT", "LIMIT needs ORDER BY before it"},
    {"INSERT INTO top SELECT staff FROM firms ORDER BY staff;", top({"staff"}), ";",
     "expected ASC, DESC, `,` or LIMIT <count> after the ORDER BY key"},
    {"INSERT INTO top SELECT staff FROM firms ORDER staff LIMIT 3;", top({"staff"}), "staff LIMIT",
     "expected BY after ORDER"},
    {"INSERT INTO top SELECT staff FROM firms ORDER BY staff LIMIT 0;", top({"staff"}), "0;",
     "LIMIT 0 keeps no row"},
    {"INSERT INTO top SELECT staff FROM firms ORDER BY staff LIMIT 1048577;", top({"staff"}), "1048577",
     "more than the 1048576 (2^20) rows"},
    {"INSERT INTO top SELECT staff FROM firms ORDER BY staff LIMIT k;", top({"staff"}), "k;",
     "expected a whole number of rows after LIMIT"},
    {"INSERT INTO top SELECT staff FROM firms ORDER BY staff LIMIT 3 WHERE staff > 1;", top({"staff"}), "WHERE",
     "expected `;` after LIMIT"},
    {"INSERT INTO top SELECT staff FROM firms ORDER BY staff LIMIT 20;", top({"staff"}), "20",
     "LIMIT 20 may write 20 rows but `top` declares at most 10; lower the LIMIT"},
    {"INSERT INTO top SELECT staff FROM firms\n  ORDER BY turnover DESC LIMIT 3;", top({"staff"}), "turnover DESC",
     "ORDER BY turnover is not in the select list; order by an output column of `top` (`staff`)"},
    {"INSERT INTO top SELECT staff FROM firms ORDER BY 1 LIMIT 3;", top({"staff"}), "1 LIMIT",
     "ORDER BY 1 orders by a constant"},
    {"INSERT INTO top SELECT staff FROM firms ORDER BY stuff LIMIT 3;", top({"staff"}), "stuff",
     "unknown column `stuff`"},
    {"INSERT INTO top SELECT staff FROM firms ORDER BY staff, staff DESC LIMIT 3;", top({"staff"}), "staff DESC",
     "orders by column `staff` again (first at 1:50)"},
    {"INSERT INTO top SELECT founded FROM firms ORDER BY founded LIMIT 3;", top({"founded"}), "founded LIMIT",
     "has no declared bounds"},
    {"INSERT INTO top SELECT turnover, staff FROM firms ORDER BY turnover, staff LIMIT 3;", top({"turnover", "staff"}),
     "turnover, staff LIMIT", "the ORDER BY keys take 60 bits (turnover 40, staff 20), more than the 59"},
    {"INSERT INTO top SELECT sector, SUM(amount) AS total FROM register GROUP BY sector\n"
     "ORDER BY total DESC LIMIT 2;",
     top({"sector", "total"}), "total DESC", "a statistic beyond the 64-bit ring, written as three words"},
    {"INSERT INTO top SELECT age, staff FROM firms JOIN owners ON firms.id = owners.id ORDER BY age LIMIT 3;",
     top({"age", "staff"}), "ORDER BY", "cannot order the rows of a JOIN"},
    {"INSERT INTO top SELECT sector, COUNT(*) AS n FROM firms GROUP BY sector ORDER BY SUM(staff) LIMIT 2;",
     top({"sector", "n"}), "SUM(staff) LIMIT", "ORDER BY SUM(staff) is not in the select list"},
    {"INSERT INTO top SELECT sector, PERCENTILE_DISC(0.5) WITHIN GROUP (ORDER BY staff) AS p FROM firms\n"
     "GROUP BY sector ORDER BY PERCENTILE_DISC(0.9) WITHIN GROUP (ORDER BY staff) LIMIT 2;",
     top({"sector", "p"}), "PERCENTILE_DISC(0.9) WITHIN GROUP (ORDER BY staff) LIMIT",
     "ORDER BY PERCENTILE_DISC(0.9) WITHIN GROUP (ORDER BY staff) is not in the select list"},
    {"INSERT INTO top SELECT staff FROM firms ORDER BY SUM(staff) LIMIT 2;", top({"staff"}), "SUM(staff)",
     "aggregates are not allowed in ORDER BY"},
  };
  for (const auto& c : cases) {
    auto r = sql::compile(c.source, inputs(), {c.out});
    BOOST_TEST_CONTEXT(c.source) {
      BOOST_TEST_REQUIRE(!r.ok());
      BOOST_TEST((r.err().code == errc::compile_error));
      const auto& msg = r.err().message;
      const auto prefix = place(c.source, c.where);
      BOOST_TEST(msg.rfind(prefix, 0) == 0u, "message: " << msg << "; expected place " << prefix);
      BOOST_TEST(msg.find(c.phrase) != std::string::npos, "message: " << msg << "; expected phrase " << c.phrase);
    }
  }
}
