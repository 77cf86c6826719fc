#define BOOST_TEST_MODULE engine_conformance
#include <boost/test/unit_test.hpp>

// The engines' conformance suite (DESIGN.md §9): every operator and language feature of
// joconde-sql/1 on random data of several sizes, run by the plaintext reference engine and by rss3
// as three processes on loopback. Integer, boolean and category results must be exactly equal;
// fixed-point results (AVG, VAR_SAMP, STDDEV_SAMP, CORR, REGR_*, division) within
// `fixed_point_bound` below. Larger sizes run with JOCONDE_CONFORMANCE_LARGE=1.

#include "joconde/engines/engine.hpp"
#include "joconde/engines/reference.hpp"
#include "joconde/engines/rss3/rss3.hpp"
#include "joconde/engines/schema.hpp"
#include "joconde/engines/sql/compiler.hpp"
#include "joconde/engines/sql/executor.hpp"

#include "engines/schema_builders.hpp"
#include "engines/three_parties.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <numeric>
#include <random>
#include <set>

using namespace joconde;
using namespace joconde::engines;
using namespace joconde::test;

namespace {

// -- the cases ------------------------------------------------------------------------------------

/// An output table (as many rows as a join of two inputs may give).
table_schema output(std::string name, std::vector<column_schema> columns) {
  return table(std::move(name), std::move(columns), 200'000);
}

/// Persons: the main test input.
table_schema persons() {
  return table("persons", {key("id"), integer("age", 0, 120), decimal("income", 2, 0, 50'000'000),
                           category("region", {"north", "south", "east"}),
                           category("sex", {"f", "m"}), boolean("employed"),
                           integer("hours", 1, 80)},
               100'000);
}

/// A second input to join with persons.
table_schema taxes() {
  return table("taxes", {key("id"), decimal("tax", 2, 0, 5'000'000), integer("year", 2000, 2030)},
               100'000);
}

struct conformance_case {
  std::string name;
  std::vector<table_schema> inputs;
  std::vector<table_schema> outputs;
  std::string source;
  std::map<std::string, std::string> quality;
  std::set<std::string> approximate;  ///< "output.column" compared within fixed_point_bound
};

std::vector<conformance_case> cases() {
  std::vector<conformance_case> all;
  all.push_back({"projection_arithmetic_case_where",
                 {persons()},
                 {output("o", {integer("a1", -1000, 1000), decimal("inc2", 2), integer("senior", 0, 1),
                              integer("ah", 0, 10'000), integer("neg", -200, 0),
                              decimal("mix", 3), integer("grade", 0, 3)})},
                 "-- every arithmetic operator, CASE and an oblivious WHERE\n"
                 "INSERT INTO o SELECT age + 1 - 3 AS a1, income * 2 AS inc2,\n"
                 "  CASE WHEN age >= 65 THEN 1 ELSE 0 END AS senior, age * hours AS ah, -age AS neg,\n"
                 "  income * 3 + hours - 1.5 AS mix,\n"
                 "  CASE WHEN age < 18 THEN 0 WHEN age < 40 THEN 1 WHEN age < 65 THEN 2 ELSE 3 END"
                 " AS grade\n"
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
                 {"o.mean", "o.var", "o.sd"}});
  all.push_back({"correlation_and_regression",
                 {persons()},
                 {output("o", {decimal("r", 6), decimal("slope", 4), decimal("intercept", 2),
                              integer("n", 0, 1'000'000)})},
                 "INSERT INTO o SELECT CORR(hours, age) AS r, REGR_SLOPE(hours, age) AS slope,\n"
                 "  REGR_INTERCEPT(hours, age) AS intercept, COUNT(*) AS n FROM persons;",
                 {},
                 {"o.r", "o.slope", "o.intercept"}});
  all.push_back({"group_by_having",
                 {persons()},
                 {output("o", {category("region", {"north", "south", "east"}),
                              integer("n", 0, 1'000'000), integer("h", 0, 100'000'000),
                              decimal("mean_age", 3), integer("top", 0, 120)})},
                 "INSERT INTO o SELECT region, COUNT(*) AS n, SUM(hours) AS h, AVG(age) AS mean_age,\n"
                 "  MAX(age) AS top\n"
                 "FROM persons WHERE employed GROUP BY region HAVING COUNT(*) >= 3;",
                 {},
                 {"o.mean_age"}});
  all.push_back({"group_by_two_columns",
                 {persons()},
                 {output("o", {category("region", {"north", "south", "east"}),
                              category("sex", {"f", "m"}), integer("n", 0, 1'000'000),
                              decimal("income", 2), integer("low", 0, 120)})},
                 "INSERT INTO o SELECT region, sex, COUNT(*) AS n, SUM(income) AS income,\n"
                 "  MIN(age) AS low FROM persons GROUP BY region, sex;",
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
                 {"totals.mean_tax"}});
  all.push_back({"division",
                 {persons()},
                 {output("o", {decimal("per_hour", 4)})},
                 "INSERT INTO o SELECT income / hours AS per_hour FROM persons;",
                 {},
                 {"o.per_hour"}});
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
                 {"o.mean_age"}});
  return all;
}

/// The fixed-point tolerance in units of the output's last decimal: rss3's truncation, division
/// and square root are approximations (rss3/rss3.hpp), the reference engine is exact.
bool within_fixed_point_bound(std::int64_t expected, std::int64_t got) {
  auto diff = static_cast<double>(expected) - static_cast<double>(got);
  return std::abs(diff) <= 2.0 + 1e-5 * std::abs(static_cast<double>(expected));
}

// -- data -----------------------------------------------------------------------------------------

using clear_table = std::vector<std::vector<word>>;  // columns of encoded values

word random_value(const column_schema& c, std::mt19937_64& rng) {
  switch (c.type) {
    case column_type::boolean:
      return rng() % 2;
    case column_type::category:
      return rng() % c.domain.size();
    default: {
      auto lo = c.min.value_or(-1'000'000);
      auto hi = c.max.value_or(1'000'000);
      auto span = static_cast<std::uint64_t>(hi - lo) + 1;
      return static_cast<word>(lo + static_cast<std::int64_t>(rng() % span));
    }
  }
}

/// Random rows within the declared ranges; key columns get distinct ids drawn from 0..2n-1, so two
/// tables of n rows share about half their keys.
clear_table random_table(const table_schema& t, std::size_t rows, std::mt19937_64& rng) {
  clear_table out(t.columns.size());
  for (std::size_t c = 0; c < t.columns.size(); ++c) {
    const auto& col = t.columns[c];
    if (col.type == column_type::key) {
      std::vector<std::size_t> ids(2 * rows);
      std::iota(ids.begin(), ids.end(), 0);
      std::shuffle(ids.begin(), ids.end(), rng);
      for (std::size_t r = 0; r < rows; ++r)
        out[c].push_back(*encode_value(col, "id-" + std::to_string(ids[r])));
    } else {
      for (std::size_t r = 0; r < rows; ++r)
        out[c].push_back(random_value(col, rng));
    }
  }
  return out;
}

// -- running --------------------------------------------------------------------------------------

struct clear_output {
  std::vector<std::vector<word>> columns;
  std::vector<word> valid;
};

struct clear_result {
  std::map<std::string, clear_output> outputs;
  std::map<std::string, bool> quality;
};

clear_result run_reference(const sql::program& prog,
                           const std::map<std::string, clear_table>& data) {
  std::map<std::string, secret_table> inputs;
  for (const auto& [name, cols] : data) {
    secret_table t;
    t.rows = cols.empty() ? 0 : cols[0].size();
    for (const auto& c : cols)
      t.columns.push_back(secret{c, {}});
    t.valid = secret{std::vector<word>(t.rows, 1), {}};
    inputs.emplace(name, std::move(t));
  }
  reference_backend b;
  auto res = sql::run(prog, b, inputs);
  clear_result out;
  out.quality = res.quality;
  for (auto& [name, t] : res.outputs) {
    clear_output o;
    for (auto& c : t.columns)
      o.columns.push_back(c.a);
    o.valid = t.valid.a;
    out.outputs.emplace(name, std::move(o));
  }
  return out;
}

void put_blob(std::vector<std::uint8_t>& out, const std::vector<std::uint8_t>& blob) {
  auto n = static_cast<std::uint64_t>(blob.size());
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
  out.insert(out.end(), blob.begin(), blob.end());
}

secret get_blob(const std::vector<std::uint8_t>& in, std::size_t& pos) {
  if (pos + 8 > in.size())
    throw std::runtime_error("truncated party result");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | in[pos + i];
  pos += 8;
  if (pos + n > in.size())
    throw std::runtime_error("truncated party result");
  auto s = decode_shares(std::span{in}.subspan(pos, n), std::size_t{1} << 32);
  pos += n;
  if (!s)
    throw std::runtime_error(s.err().describe());
  return std::move(*s);
}

/// Runs the program with rss3 in three processes; returns the rebuilt outputs, or the errors.
clear_result run_rss3(const sql::program& prog, const std::map<std::string, clear_table>& data) {
  // Each input column and the all-ones valid flag are split as a Data Custodian would.
  std::array<std::map<std::string, secret_table>, 3> shares;
  for (const auto& [name, cols] : data) {
    std::size_t rows = cols.empty() ? 0 : cols[0].size();
    for (unsigned p = 0; p < 3; ++p)
      shares[p][name].rows = rows;
    for (const auto& c : cols) {
      auto parts = rss3::split(c);
      for (unsigned p = 0; p < 3; ++p)
        shares[p][name].columns.push_back(std::move(parts[p]));
    }
    auto valid = rss3::split(std::vector<word>(rows, 1));
    for (unsigned p = 0; p < 3; ++p)
      shares[p][name].valid = std::move(valid[p]);
  }
  auto outcomes = test::run_three_parties([&](backend& b, unsigned party) {
    auto res = sql::run(prog, b, shares[party]);
    std::vector<std::uint8_t> out;
    for (const auto& schema : prog.outputs()) {
      auto it = res.outputs.find(schema.name);
      if (it == res.outputs.end())
        continue;
      for (const auto& c : it->second.columns)
        put_blob(out, encode_shares(c));
      put_blob(out, encode_shares(it->second.valid));
    }
    for (const auto& schema : prog.inputs()) {
      auto it = res.quality.find(schema.name);
      out.push_back(it == res.quality.end() ? 2 : it->second ? 1 : 0);
    }
    return out;
  });
  for (unsigned p = 0; p < 3; ++p)
    if (!outcomes[p].ok)
      throw std::runtime_error("rss3 party " + std::to_string(p) + ": " + outcomes[p].error);

  clear_result result;
  std::array<std::size_t, 3> pos{0, 0, 0};
  auto rebuild = [&]() {
    std::array<secret, 3> parts;
    for (unsigned p = 0; p < 3; ++p)
      parts[p] = get_blob(outcomes[p].bytes, pos[p]);
    auto values = rss3::rebuild(parts);
    if (!values)
      throw std::runtime_error(values.err().describe());
    return std::move(*values);
  };
  // Every party saw the same quality verdicts, so every party wrote the same outputs.
  auto quality_at = outcomes[0].bytes.size() - prog.inputs().size();
  bool quality_failed = false;
  for (std::size_t i = 0; i < prog.inputs().size(); ++i) {
    auto v = outcomes[0].bytes[quality_at + i];
    for (unsigned p = 1; p < 3; ++p)
      BOOST_TEST(outcomes[p].bytes[outcomes[p].bytes.size() - prog.inputs().size() + i] == v);
    if (v != 2)
      result.quality[prog.inputs()[i].name] = v == 1;
    quality_failed = quality_failed || v == 0;
  }
  if (!quality_failed)
    for (const auto& schema : prog.outputs()) {
      clear_output o;
      for (std::size_t c = 0; c < schema.columns.size(); ++c)
        o.columns.push_back(rebuild());
      o.valid = rebuild();
      result.outputs.emplace(schema.name, std::move(o));
    }
  return result;
}

std::vector<std::size_t> sizes() {
  std::vector<std::size_t> s{0, 1, 7, 100};
  if (const char* large = std::getenv("JOCONDE_CONFORMANCE_LARGE"); large && *large == '1') {
    s.push_back(1000);
    s.push_back(10'000);
  }
  return s;
}

void check_case(const conformance_case& c) {
  auto prog = sql::compile(c.source, c.inputs, c.outputs, c.quality);
  BOOST_REQUIRE_MESSAGE(prog.ok(), c.name << ": " << (prog ? "" : prog.err().describe()));
  BOOST_TEST(find_engine("rss3")->supports(*prog).ok());
  for (auto rows : sizes()) {
    std::mt19937_64 rng{std::hash<std::string>{}(c.name) ^ rows};
    std::map<std::string, clear_table> data;
    for (const auto& t : c.inputs)
      data.emplace(t.name, random_table(t, rows, rng));
    auto expected = run_reference(*prog, data);
    clear_result got;
    try {
      got = run_rss3(*prog, data);
    } catch (const std::exception& e) {
      BOOST_ERROR(c.name << " with " << rows << " rows: " << e.what());
      continue;
    }
    BOOST_TEST_CONTEXT(c.name << " with " << rows << " rows") {
      BOOST_TEST(got.quality == expected.quality);
      BOOST_TEST(got.outputs.size() == expected.outputs.size());
      std::size_t values = 0;
      for (const auto& schema : c.outputs) {
        if (!expected.outputs.count(schema.name) || !got.outputs.count(schema.name))
          continue;
        const auto& e = expected.outputs.at(schema.name);
        const auto& g = got.outputs.at(schema.name);
        BOOST_TEST(g.valid == e.valid, schema.name << ": valid flags differ");
        // A row the analyst must not see (filtered, unmatched, suppressed) carries only zeros, so
        // rebuilding an output never discloses the rows it drops.
        for (std::size_t r = 0; r < g.valid.size(); ++r)
          if (g.valid[r] == 0)
            for (std::size_t col = 0; col < g.columns.size(); ++col)
              BOOST_TEST(g.columns[col][r] == 0u, schema.name << "." << schema.columns[col].name
                                                             << " row " << r
                                                             << " is invalid but not zero");
        for (std::size_t col = 0; col < schema.columns.size(); ++col) {
          const auto& name = schema.columns[col].name;
          bool approx = c.approximate.count(schema.name + "." + name) > 0;
          BOOST_REQUIRE_EQUAL(g.columns[col].size(), e.columns[col].size());
          for (std::size_t r = 0; r < e.columns[col].size(); ++r, ++values) {
            auto ev = static_cast<std::int64_t>(e.columns[col][r]);
            auto gv = static_cast<std::int64_t>(g.columns[col][r]);
            if (approx)
              BOOST_TEST(within_fixed_point_bound(ev, gv),
                         schema.name << "." << name << " row " << r << ": reference " << ev
                                     << ", rss3 " << gv);
            else
              BOOST_TEST(ev == gv, schema.name << "." << name << " row " << r << ": reference "
                                               << ev << ", rss3 " << gv);
          }
        }
      }
      BOOST_TEST_MESSAGE(c.name << " rows=" << rows << ": " << values << " values agree");
    }
  }
}

} // namespace

BOOST_AUTO_TEST_CASE(every_case_agrees_between_reference_and_rss3) {
  for (const auto& c : cases())
    check_case(c);
}

BOOST_AUTO_TEST_CASE(cases_cover_every_language_feature) {
  std::set<std::string> used;
  for (const auto& c : cases()) {
    auto prog = sql::compile(c.source, c.inputs, c.outputs, c.quality);
    BOOST_REQUIRE_MESSAGE(prog.ok(), c.name << ": " << (prog ? "" : prog.err().describe()));
    used.insert(prog->features().begin(), prog->features().end());
  }
  for (const auto& f : sql::all_features())
    BOOST_TEST(used.count(f) == 1u, "no conformance case uses feature " << f);
}

// A counterpart that deviates in the middle of a program (here: party 2 holds one row fewer, so its
// messages have the wrong length from its first comparison on) ends the run with an error at every
// party: no crash, no hang, no result.
BOOST_AUTO_TEST_CASE(a_deviating_party_aborts_the_run_at_every_party) {
  const auto all = cases();
  const auto& c = all[4];  // group_by_having: comparisons, group masks, HAVING
  BOOST_REQUIRE(c.name == "group_by_having");
  auto prog = sql::compile(c.source, c.inputs, c.outputs, c.quality);
  BOOST_REQUIRE(prog.ok());
  std::mt19937_64 rng{5};
  auto data = random_table(c.inputs[0], 100, rng);
  std::array<std::map<std::string, secret_table>, 3> shares;
  for (unsigned p = 0; p < 3; ++p)
    shares[p]["persons"].rows = p == 2 ? 99 : 100;
  for (const auto& col : data) {
    auto parts = rss3::split(col);
    for (unsigned p = 0; p < 3; ++p) {
      if (p == 2) {
        parts[p].a.pop_back();
        parts[p].b.pop_back();
      }
      shares[p]["persons"].columns.push_back(std::move(parts[p]));
    }
  }
  for (unsigned p = 0; p < 3; ++p)
    shares[p]["persons"].valid.a.assign(shares[p]["persons"].rows, 0);
  test::three_options opts;
  opts.io_timeout = std::chrono::seconds(5);
  opts.overall = std::chrono::seconds(30);
  auto out = test::run_three_parties(
    [&](backend& b, unsigned party) {
      auto res = sql::run(*prog, b, shares[party]);
      return std::vector<std::uint8_t>(res.outputs.size(), 1);
    },
    opts);
  for (unsigned p = 0; p < 3; ++p) {
    BOOST_TEST(!out[p].ok, "party " << p << " returned a result");
    BOOST_TEST((out[p].error.find("protocol_error") != std::string::npos
                || out[p].error.find("timeout") != std::string::npos),
               "party " << p << ": " << out[p].error);
    BOOST_TEST(WIFEXITED(out[p].status), "party " << p << " crashed");
  }
}

// The same program through the engine interface a Computing Party uses (find_engine, split,
// activate, rebuild), rss3 against the reference engine.
BOOST_AUTO_TEST_CASE(the_engine_interface_runs_a_program_end_to_end) {
  const auto all = cases();
  const auto& c = all[2];  // global_aggregates
  BOOST_REQUIRE(c.name == "global_aggregates");
  auto prog = sql::compile(c.source, c.inputs, c.outputs, c.quality);
  BOOST_REQUIRE(prog.ok());
  const engine* rss3 = find_engine("rss3");
  const engine* reference = find_engine("reference");
  BOOST_REQUIRE(rss3 != nullptr && reference != nullptr);
  BOOST_TEST(find_engine("spdz") == nullptr);
  BOOST_TEST(rss3->caps().parties == 3u);
  BOOST_TEST(!rss3->caps().testing_only);
  BOOST_TEST(reference->caps().testing_only);

  std::mt19937_64 rng{11};
  auto data = random_table(c.inputs[0], 50, rng);
  std::array<std::map<std::string, secret_table>, 3> shares;
  std::map<std::string, secret_table> clear;
  clear["persons"].rows = 50;
  for (unsigned p = 0; p < 3; ++p)
    shares[p]["persons"].rows = 50;
  for (const auto& col : data) {
    auto parts = rss3->split(col);
    BOOST_REQUIRE(parts.size() == 3u);
    for (unsigned p = 0; p < 3; ++p)
      shares[p]["persons"].columns.push_back(std::move(parts[p]));
    clear["persons"].columns.push_back(reference->split(col)[0]);
  }
  activation ref_act;
  ref_act.inputs = clear;
  auto expected = reference->activate(*prog, ref_act);
  BOOST_REQUIRE_MESSAGE(expected.ok(), (expected ? "" : expected.err().describe()));

  test::three_options opts;
  for (unsigned p = 0; p < 3; ++p)
    opts.replace[p] = [&, p](const rss3::options& o) {
      activation act;
      act.party = p;
      act.endpoints = o.endpoints;
      act.keys = o.keys;
      act.listen_fd = o.listen_fd;
      act.inputs = shares[p];
      auto report = rss3->activate(*prog, std::move(act));
      if (!report)
        throw engine_failure(report.err());
      std::vector<std::uint8_t> out;
      for (const auto& col : report->outputs.at("o").columns)
        put_blob(out, encode_shares(col));
      return out;
    };
  auto out = test::run_three_parties({}, opts);
  for (unsigned p = 0; p < 3; ++p)
    BOOST_REQUIRE_MESSAGE(out[p].ok, "party " << p << ": " << out[p].error);
  std::array<std::size_t, 3> pos{0, 0, 0};
  const auto& schema = c.outputs[0];
  for (std::size_t col = 0; col < schema.columns.size(); ++col) {
    std::array<secret, 3> parts;
    for (unsigned p = 0; p < 3; ++p)
      parts[p] = get_blob(out[p].bytes, pos[p]);
    auto values = rss3->rebuild(parts);
    BOOST_REQUIRE(values.ok());
    auto ev = static_cast<std::int64_t>(expected->outputs.at("o").columns[col].a[0]);
    auto gv = static_cast<std::int64_t>((*values)[0]);
    if (c.approximate.count("o." + schema.columns[col].name))
      BOOST_TEST(within_fixed_point_bound(ev, gv), schema.columns[col].name << ": " << ev << " vs " << gv);
    else
      BOOST_TEST(ev == gv, schema.columns[col].name);
  }
}

BOOST_AUTO_TEST_CASE(the_engine_tells_its_caller_of_connections_it_refused) {
  // Before party 2 connects, a stranger sends one byte (0x07, no such party) to party 0's MPC
  // endpoint. The run succeeds, and party 0's caller hears of the refused connection through
  // activation::on_refused_connections (the CT VM logs it); party 1 refused nothing and hears nothing.
  const auto all = cases();
  const auto& c = all[2];  // global_aggregates
  auto prog = sql::compile(c.source, c.inputs, c.outputs, c.quality);
  BOOST_REQUIRE(prog.ok());
  const engine* rss3 = find_engine("rss3");
  BOOST_REQUIRE(rss3 != nullptr);
  std::mt19937_64 rng{12};
  auto data = random_table(c.inputs[0], 20, rng);
  std::array<std::map<std::string, secret_table>, 3> shares;
  for (unsigned p = 0; p < 3; ++p)
    shares[p]["persons"].rows = 20;
  for (const auto& col : data) {
    auto parts = rss3->split(col);
    for (unsigned p = 0; p < 3; ++p)
      shares[p]["persons"].columns.push_back(std::move(parts[p]));
  }
  test::three_options opts;
  for (unsigned p = 0; p < 3; ++p)
    opts.replace[p] = [&, p](const rss3::options& o) {
      if (p == 2) {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(o.endpoints[0].port);
        ::inet_pton(AF_INET, o.endpoints[0].host.c_str(), &addr.sin_addr);
        const std::uint8_t stray = 0x07;
        bool sent = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0
                    && ::send(fd, &stray, 1, MSG_NOSIGNAL) == 1;
        if (fd >= 0)
          ::close(fd);
        if (!sent)
          throw engine_failure(error{errc::io_error, "the stranger could not reach party 0"});
      }
      activation act;
      act.party = p;
      act.endpoints = o.endpoints;
      act.keys = o.keys;
      act.listen_fd = o.listen_fd;
      act.inputs = shares[p];
      std::vector<std::string> heard;
      act.on_refused_connections = [&](const refused_connections& r) {
        heard.push_back(r.line);
        for (const auto& [reason, n] : r.by_reason)
          heard.push_back(reason + " " + std::to_string(n));
      };
      auto report = rss3->activate(*prog, std::move(act));
      if (!report)
        throw engine_failure(report.err());
      std::string said;
      for (const auto& h : heard)
        said += h + "\n";
      return std::vector<std::uint8_t>(said.begin(), said.end());
    };
  auto out = test::run_three_parties({}, opts);
  for (unsigned p = 0; p < 3; ++p)
    BOOST_REQUIRE_MESSAGE(out[p].ok, "party " << p << ": " << out[p].error);
  std::string heard0(out[0].bytes.begin(), out[0].bytes.end());
  BOOST_TEST(heard0 == "rss3 MPC endpoint: 1 connection refused: 1 bad party id\nbad-party-id 1\n");
  BOOST_TEST(out[1].bytes.empty());
  BOOST_TEST(out[2].bytes.empty());
}
