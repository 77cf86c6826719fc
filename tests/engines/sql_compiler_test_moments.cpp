// VAR_POP, STDDEV_POP, COVAR_SAMP, COVAR_POP and REGR_R2 in the compiler: their types and result
// ranges, their features, the form beyond the ring where the neighbours take it, and each refusal
// with its place.

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

const std::vector<std::string> regions{"north", "south", "east"};

/// t(x [-1000, 1000], y decimal(2) [-10^5, 10^5], g, z unbounded), 10^6 rows: in the ring;
/// big(v, u decimal(2) [-10^14, 10^14]), 10^7 rows: beyond it; huge(h decimal(2) [-10^17, 10^17]),
/// 10^7 rows: beyond both.
std::vector<table_schema> inputs() {
  return {table("t", {integer("x", -1000, 1000), decimal("y", 2, -100'000, 100'000), category("g", regions),
                      unbounded("z")},
                1'000'000),
          table("big", {decimal("v", 2, -100'000'000'000'000, 100'000'000'000'000),
                        decimal("u", 2, -100'000'000'000'000, 100'000'000'000'000)},
                10'000'000),
          table("huge", {decimal("h", 2, -100'000'000'000'000'000, 100'000'000'000'000'000)}, 10'000'000)};
}

/// Output `o` with decimal columns of the given scales.
table_schema decimals(const std::vector<std::pair<std::string, unsigned>>& columns) {
  std::vector<column_schema> cols;
  for (const auto& [name, scale] : columns)
    cols.push_back(decimal(name, scale, 0, 0));
  return table("o", std::move(cols));
}

sql::program accepted(const std::string& source, table_schema out) {
  auto r = sql::compile(source, inputs(), {std::move(out)});
  BOOST_TEST_REQUIRE(r.ok(), source << ": " << (r ? std::string{} : r.err().message));
  return r.value();
}

bool has(const sql::program& p, const std::string& feature) {
  return std::find(p.features().begin(), p.features().end(), feature) != p.features().end();
}

} // namespace

BOOST_AUTO_TEST_CASE(population_moments_covariances_and_r2_are_typed_in_the_ring) {
  auto out = decimals({{"vp", 2}, {"sp", 3}, {"cs", 3}, {"cp", 3}, {"r2", 6}});
  out.columns.insert(out.columns.begin(), category("g", regions));
  auto p = accepted("INSERT INTO o SELECT g, VAR_POP(x) AS vp, STDDEV_POP(y) AS sp, COVAR_SAMP(x, y) AS cs,\n"
                    "  COVAR_POP(y, x) AS cp, REGR_R2(y, x) AS r2 FROM t GROUP BY g HAVING COUNT(*) >= 5;",
                    out);
  for (const auto* f : {"aggregate.var_pop", "aggregate.stddev_pop", "aggregate.covar_samp", "aggregate.covar_pop",
                        "aggregate.regr_r2", "having"})
    BOOST_TEST(has(p, f), f);
  BOOST_TEST(!has(p, "aggregate.wide"));
  BOOST_TEST(p.output_words("o") == (std::vector<unsigned>{1, 1, 1, 1, 1, 1}), boost::test_tools::per_element());
  const auto& items = p.impl().statements.at(0).items;
  const i128 one = i128{1} << 24;
  // VAR_POP of an integer: 0 decimals, fixed point, within (width)^2 / 2 as VAR_SAMP.
  BOOST_TEST(items[1].value->type.dec == 0);
  BOOST_TEST(items[1].value->type.bin == 24);
  BOOST_TEST((items[1].value->range.hi == (i128{2000} * 2000 / 2 + 1) * one));
  // STDDEV_POP in y's units, within y's width.
  BOOST_TEST(items[2].value->type.dec == 2);
  BOOST_TEST((items[2].value->range.hi == i128{200'000} * one));
  // Covariances in x's units times y's, within width(x) width(y) / 2 either way.
  for (std::size_t i : {3u, 4u}) {
    BOOST_TEST(items[i].value->type.dec == 2);
    BOOST_TEST(items[i].value->type.bin == 24);
    BOOST_TEST((items[i].value->range.hi == (i128{2000} * 200'000 / 2 + 1) * one));
    BOOST_TEST((items[i].value->range.lo == -items[i].value->range.hi));
  }
  // REGR_R2 dimensionless, in [0, 1].
  BOOST_TEST(items[5].value->type.dec == 0);
  BOOST_TEST((items[5].value->range.lo == 0 && items[5].value->range.hi == one));
}

BOOST_AUTO_TEST_CASE(beyond_the_ring_they_are_computed_in_limbs) {
  auto p = accepted("INSERT INTO o SELECT VAR_POP(v) AS vp, STDDEV_POP(v) AS sp, COVAR_SAMP(v, u) AS cs,\n"
                    "  COVAR_POP(v, u) AS cp, REGR_R2(v, u) AS r2 FROM big;",
                    decimals({{"vp", 2}, {"sp", 2}, {"cs", 2}, {"cp", 4}, {"r2", 6}}));
  BOOST_TEST(has(p, "aggregate.wide"));
  BOOST_TEST(p.output_words("o") == (std::vector<unsigned>{3, 3, 3, 3, 3}), boost::test_tools::per_element());
  const auto& items = p.impl().statements.at(0).items;
  // The scales: the variance has 4 decimals (2 wanted: div 100), the root's square likewise, the
  // covariance 4 (2: div 100; 4: exact), r^2 none (6: mul 10^6).
  BOOST_TEST((items[0].value->wide_div == 100 && items[0].value->wide_mul == 1));
  BOOST_TEST((items[1].value->wide_div == 1 && items[1].value->wide_mul == 1));
  BOOST_TEST((items[2].value->wide_div == 100 && items[2].value->wide_mul == 1));
  BOOST_TEST((items[3].value->wide_div == 1 && items[3].value->wide_mul == 1));
  BOOST_TEST((items[4].value->wide_div == 1 && items[4].value->wide_mul == 1'000'000));
}

BOOST_AUTO_TEST_CASE(refusals_name_the_place_and_the_reason) {
  struct refused {
    std::string source;
    table_schema out;
    std::string prefix;  ///< "line:column: " of the refused construct
    std::string phrase;
  };
  const std::vector<refused> cases{
    {"INSERT INTO o SELECT VAR_POP(x, x) AS a FROM t;", decimals({{"a", 2}}), "1:22: ",
     "VAR_POP takes 1 argument, 2 given"},
    {"INSERT INTO o SELECT\n  COVAR_SAMP(x) AS a FROM t;", decimals({{"a", 2}}), "2:3: ",
     "COVAR_SAMP takes 2 arguments, 1 given"},
    {"INSERT INTO o SELECT REGR_R2(x, z) AS a FROM t;", decimals({{"a", 2}}), "1:22: ",
     "`z` has no declared RANGE"},
    {"INSERT INTO o SELECT COVAR_POP(x, g) AS a FROM t;", decimals({{"a", 2}}), "1:35: ",
     "COVAR_POP needs a number"},
    {"INSERT INTO o SELECT VARIANCE(x) AS a FROM t;", decimals({{"a", 2}}), "1:22: ",
     "STDDEV_POP, COVAR_SAMP, COVAR_POP, CORR, REGR_SLOPE, REGR_INTERCEPT and REGR_R2"},
    {"INSERT INTO o SELECT COVAR_SAMP(v, u) * 2 AS a FROM big;", decimals({{"a", 2}}), "1:22: ",
     "Beyond the ring COVAR_SAMP is computed in 128 bits, but only as a whole select item"},
    {"INSERT INTO o SELECT\n  VAR_POP(h) AS a FROM huge;", decimals({{"a", 2}}), "2:3: ",
     "VAR_POP over 10000000 rows could overflow 128-bit sums"},
    {"INSERT INTO o SELECT REGR_R2(v, u) AS a FROM big;", decimals({{"a", 9}}), "1:22: ",
     "REGR_R2 over 10000000 rows could overflow 128-bit sums"},
    {"INSERT INTO o SELECT STDDEV_POP(v) AS a FROM big;", table("o", {integer("a", 0, 0)}), "1:22: ",
     "write it to a decimal column"},
  };
  for (const auto& c : cases) {
    auto r = sql::compile(c.source, inputs(), {c.out});
    BOOST_TEST_CONTEXT(c.source) {
      BOOST_TEST_REQUIRE(!r.ok());
      const auto& msg = r.err().message;
      BOOST_TEST(msg.rfind(c.prefix, 0) == 0, msg << "; expected at " << c.prefix);
      BOOST_TEST(msg.find(c.phrase) != std::string::npos, msg << "; expected " << c.phrase);
    }
  }
}
