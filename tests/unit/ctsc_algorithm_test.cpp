#define BOOST_TEST_MODULE ctsc_algorithm
#include <boost/test/unit_test.hpp>

// CTSC validation compiles the algorithm (DESIGN.md §9): a node refuses a CTSC whose engine it does
// not have, whose algorithm or data-quality check does not compile against its schemas, or which
// does not state exactly what the compiler says the algorithm discloses; UNIQUE columns reach the
// compiler from the CTSC.

#include "cplane/ctsc_rules.hpp"

#include "joconde/engines/ctsc.hpp"

#include <google/protobuf/util/json_util.h>

#include <fstream>
#include <sstream>

using namespace joconde;

namespace {

v1::Ctsc example() {
  std::ifstream in{std::string{JOCONDE_SOURCE_DIR} + "/config/examples/task.json"};
  std::stringstream buf;
  buf << in.rdbuf();
  v1::Ctsc ctsc;
  BOOST_REQUIRE(google::protobuf::util::JsonStringToMessage(buf.str(), &ctsc).ok());
  ctsc.mutable_organiser()->set_peer("client-a.joconde.test");
  ctsc.mutable_organiser()->set_name("task_organiser");
  return ctsc;
}

constexpr std::int64_t now = 1'800'000'000'000;

void refused(const v1::Ctsc& ctsc, std::string_view code, std::string_view phrase) {
  auto r = check_ctsc(ctsc, now, false);
  BOOST_REQUIRE_MESSAGE(!r.ok(), "accepted a CTSC that should fail with: " << phrase);
  BOOST_TEST(to_string(r.err().code) == code, r.err().describe());
  BOOST_TEST(r.err().message.find(phrase) != std::string::npos, r.err().describe());
}

} // namespace

BOOST_AUTO_TEST_CASE(the_example_task_compiles_and_states_its_disclosures) {
  auto r = check_ctsc(example(), now, false);
  BOOST_TEST(r.ok(), (r.ok() ? "" : r.err().describe()));
}

BOOST_AUTO_TEST_CASE(a_broken_algorithm_is_refused_with_its_place) {
  auto c = example();
  c.mutable_main_algorithm()->set_source("INSERT INTO turnover_by_region\nSELECT regio, COUNT(*) "
                                         "AS enterprises FROM a_enterprises GROUP BY region;");
  refused(c, "compile_error", "main algorithm: 2:8: unknown column `regio`");
  c.mutable_main_algorithm()->set_source("SELECT 1");
  refused(c, "compile_error", "main algorithm: 1:1: expected INSERT INTO");
  c.mutable_main_algorithm()->set_language("python/3");
  refused(c, "unsupported", "'python/3'");
}

BOOST_AUTO_TEST_CASE(disclosures_must_be_stated_exactly) {
  auto c = example();
  c.mutable_main_algorithm()->clear_disclosures();
  refused(c, "malformed_input", "main_algorithm.disclosures must state");
  c = example();
  c.mutable_main_algorithm()->add_disclosures("nothing else");
  refused(c, "malformed_input", "are known to the Computing Parties");
  c = example();
  c.mutable_main_algorithm()->set_disclosures(0, "nothing at all");
  refused(c, "malformed_input", "main_algorithm.disclosures must state");
}

BOOST_AUTO_TEST_CASE(schemas_must_give_the_compiler_what_it_needs) {
  auto c = example();
  c.mutable_inputs(0)->mutable_schema(1)->clear_max();
  refused(c, "compile_error", "RANGE");
  c = example();
  c.mutable_inputs(0)->mutable_schema(1)->set_max("lots");
  refused(c, "malformed_input", "the range maximum of column `turnover`");
  c = example();
  c.mutable_inputs(1)->mutable_schema(1)->set_scale(3);
  refused(c, "compile_error", "b_enterprises");
  c = example();
  c.mutable_inputs(0)->set_max_rows(std::uint64_t{1} << 40);
  refused(c, "malformed_input", "max_rows");
}

BOOST_AUTO_TEST_CASE(a_data_quality_check_must_compile_too) {
  auto c = example();
  c.mutable_inputs(0)->mutable_data_quality()->set_language("joconde-sql/1");
  c.mutable_inputs(0)->mutable_data_quality()->set_source("CHECK COUNT(*) >= 10;");
  BOOST_TEST(check_ctsc(c, now, false).ok() == false, "its disclosure is not stated yet");
  c.mutable_inputs(0)->mutable_data_quality()->set_source("CHECK turnovr >= 0;");
  refused(c, "compile_error", "quality check of `a_enterprises`, 1:7: unknown column `turnovr`");
}

BOOST_AUTO_TEST_CASE(a_testing_only_engine_is_refused) {
  auto c = example();
  c.mutable_engine()->set_name("reference");
  refused(c, "forbidden", "for tests only");
  c.mutable_engine()->set_name("spdz2k");
  refused(c, "malformed_input", "unknown MPC engine");
}

BOOST_AUTO_TEST_CASE(unique_columns_come_from_the_ctsc) {
  // a_enterprises gets a UNIQUE key, b_enterprises a key that may repeat: the program joins them
  // one-to-many, and only the declared column is checked at upload.
  auto c = example();
  v1::Column id;
  BOOST_REQUIRE(google::protobuf::util::JsonStringToMessage(R"({"name": "id", "type": "TYPE_TEXT_KEY", "unique": true})",
                                                            &id)
                  .ok());
  BOOST_TEST(id.unique());
  *c.mutable_inputs(0)->add_schema() = id;
  id.set_name("owner");
  id.set_unique(false);
  *c.mutable_inputs(1)->add_schema() = id;
  c.mutable_main_algorithm()->set_source(
    "INSERT INTO turnover_by_region SELECT b_enterprises.region AS region, COUNT(*) AS enterprises,\n"
    "  SUM(b_enterprises.turnover) AS turnover, AVG(b_enterprises.turnover) AS mean_turnover\n"
    "FROM b_enterprises JOIN a_enterprises ON owner = id GROUP BY b_enterprises.region;");
  auto prog = engines::compile_ctsc(c);
  BOOST_REQUIRE_MESSAGE(prog.ok(), (prog.ok() ? "" : prog.err().describe()));
  BOOST_TEST(prog->unique_columns("a_enterprises") == (std::vector<std::string>{"id"}), boost::test_tools::per_element());
  BOOST_TEST(prog->unique_columns("b_enterprises").empty());
  c.mutable_main_algorithm()->clear_disclosures();
  for (const auto& d : prog->disclosures())
    c.mutable_main_algorithm()->add_disclosures(d);
  BOOST_TEST(c.main_algorithm().disclosures(1)
             == "whether the join key `a_enterprises.id` is unique among the rows of `a_enterprises` is revealed to the "
                "Computing Parties (the run stops if it is not); how often `b_enterprises.owner` repeats a value is not");
  auto r = check_ctsc(c, now, false);
  BOOST_TEST(r.ok(), (r.ok() ? "" : r.err().describe()));
  // UNIQUE on a fixed-point input column, or on any output column, is refused.
  auto decimal = c;
  decimal.mutable_inputs(0)->mutable_schema(1)->set_unique(true);
  refused(decimal, "malformed_input", "column `turnover` is decimal and declared UNIQUE, but only integer and key columns");
  auto output = c;
  output.mutable_outputs(0)->mutable_schema(1)->set_unique(true);
  refused(output, "malformed_input", "column `enterprises` is declared UNIQUE, but only input columns can be");
}
