// The readable task and CTSA files (actors/cli/task_file.hpp, docs/task-files.md): the template is
// the example and makes the CTSC of the JSON example; every field, deadline form and CREATE TABLE
// type; and each mistake told with its line, column and field.
#define BOOST_TEST_MODULE task_file
#include <boost/test/unit_test.hpp>

#include "cli/cli_task.hpp"
#include "cli/task_file.hpp"

#include "joconde/engines/ctsc.hpp"
#include "joconde/runtime/crypto.hpp"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace {

using namespace joconde;
using namespace joconde::cli;
namespace fs = std::filesystem;

/// 2030-01-01T00:00:00Z.
constexpr std::int64_t now = 1'893'456'000'000;

std::string slurp_file(const fs::path& p) {
  std::ifstream in{p};
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

/// A directory of its own, removed at the end.
struct scratch {
  fs::path dir = fs::temp_directory_path() / ("task_file_test." + std::to_string(::getpid()));
  scratch() { fs::create_directories(dir); }
  ~scratch() { fs::remove_all(dir); }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream{dir / name} << text;
    return dir / name;
  }
};

/// The template with `from` replaced by `to` (which must occur).
std::string edited(const std::string& from, const std::string& to) {
  auto t = task_template();
  auto at = t.find(from);
  BOOST_REQUIRE_MESSAGE(at != std::string::npos, from);
  return t.replace(at, from.size(), to);
}

/// The error message parse_task_file gives for `text`; fails the test if it parses.
std::string error_of(const std::string& text) {
  auto r = parse_task_file(text, "t.toml", now, ".");
  BOOST_REQUIRE_MESSAGE(!r, "parsed: " + text.substr(0, 200));
  BOOST_CHECK(r.err().code == errc::malformed_input || r.err().code == errc::io_error);
  return r.err().message;
}

void check_error(const std::string& text, const std::string& expected) {
  auto message = error_of(text);
  BOOST_CHECK_MESSAGE(message.find(expected) != std::string::npos, "got: " + message + "\nwanted: " + expected);
}

/// Collapses white space, for texts the two example forms lay out differently.
std::string words(const std::string& s) {
  std::istringstream in{s};
  std::string w, out;
  while (in >> w)
    out += (out.empty() ? "" : " ") + w;
  return out;
}

/// Why `r` failed, or nothing: Boost.Test evaluates a message even when the check passes.
template <class T>
std::string why(const result<T>& r) {
  return r ? std::string{} : r.err().describe();
}

} // namespace

BOOST_AUTO_TEST_CASE(the_template_is_the_example_and_makes_the_json_examples_ctsc) {
  const fs::path examples = fs::path{JOCONDE_SOURCE_DIR} / "config" / "examples";
  BOOST_CHECK_EQUAL(slurp_file(examples / "task.toml"), task_template());
  auto readable = parse_task_file(task_template(), "task.toml", now, examples);
  BOOST_REQUIRE_MESSAGE(readable, why(readable));
  v1::Ctsc json_form;
  BOOST_REQUIRE(google::protobuf::util::JsonStringToMessage(slurp_file(examples / "task.json"), &json_form).ok());

  auto mine = readable->ctsc;
  // What the forms write differently: the deadlines (durations here, dates there), the
  // measurement (filled in by cta create here), the disclosures (stated by the compiler) and the
  // layout of the texts.
  BOOST_CHECK_EQUAL(mine.temporal().approval_deadline_ms(), now + 14 * 86'400'000LL);
  BOOST_CHECK_EQUAL(mine.temporal().input_deadline_ms(), now + 21 * 86'400'000LL);
  BOOST_CHECK_EQUAL(mine.temporal().execution_deadline_ms(), now + 22 * 86'400'000LL);
  BOOST_CHECK_EQUAL(mine.temporal().output_deadline_ms(), now + 52 * 86'400'000LL);
  BOOST_CHECK_EQUAL(mine.temporal().data_retention_s(), json_form.temporal().data_retention_s());
  for (auto* c : {&mine, &json_form}) {
    c->clear_temporal();
    c->clear_tee_measurements();
    c->mutable_main_algorithm()->clear_disclosures();
    c->set_description(words(c->description()));
    c->mutable_main_algorithm()->set_source(words(c->main_algorithm().source()));
  }
  std::string diff;
  google::protobuf::util::MessageDifferencer d;
  d.ReportDifferencesToString(&diff);
  BOOST_CHECK_MESSAGE(d.Compare(json_form, mine), diff);
  BOOST_CHECK(engines::compile_ctsc(readable->ctsc));
  // The algorithm starts on the line after `source = """`.
  const auto text = task_template();
  auto source_line = std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(text.find("INSERT INTO")), '\n')
                     + 1;
  BOOST_CHECK_EQUAL(readable->algorithm.line, source_line);
  BOOST_CHECK_EQUAL(readable->algorithm.column, 1);
}

BOOST_AUTO_TEST_CASE(deadlines_are_dates_date_times_or_durations) {
  auto with = [](const std::string& deadlines) {
    auto start = task_template().find("[deadlines]");
    auto end = task_template().find("[engine]");
    auto t = task_template();
    return t.replace(start, end - start, "[deadlines]\n" + deadlines + "\n");
  };
  auto r = parse_task_file(with("approval = 2030-02-01\n"
                                "input = \"2030-02-10T12:00:00+01:00\"\n"
                                "execution = 2030-02-10T13:30:00Z\n"
                                "output = \"PT36H\"\n"
                                "retention = \"P1W2DT3H4M5S\""),
                           "t.toml", now, ".");
  BOOST_REQUIRE_MESSAGE(r, why(r));
  const auto& t = r->ctsc.temporal();
  BOOST_CHECK_EQUAL(t.approval_deadline_ms(), now + 31 * 86'400'000LL);
  BOOST_CHECK_EQUAL(t.input_deadline_ms(), now + (40 * 24 + 11) * 3'600'000LL);
  BOOST_CHECK_EQUAL(t.execution_deadline_ms(), now + (40 * 24 + 13) * 3'600'000LL + 30 * 60'000LL);
  BOOST_CHECK_EQUAL(t.output_deadline_ms(), t.execution_deadline_ms() + 36 * 3'600'000LL);
  BOOST_CHECK_EQUAL(t.data_retention_s(), 9 * 86'400 + 3 * 3'600 + 4 * 60 + 5);

  check_error(with("approval = \"P1M\"\ninput = \"P1D\"\nexecution = \"P1D\"\noutput = \"P1D\"\nretention = \"P1D\""),
              "t.toml:23:12: `approval`: 'P1M': years and months have no fixed length");
  check_error(with("approval = 2029-12-31\ninput = \"P1D\"\nexecution = \"P1D\"\noutput = \"P1D\"\nretention = \"P1D\""),
              "t.toml:23:12: `approval` must come after now");
  check_error(with("approval = \"P2D\"\ninput = 2030-01-02\nexecution = \"P1D\"\noutput = \"P1D\"\nretention = \"P1D\""),
              "t.toml:24:9: `input` must come after the approval deadline");
  check_error(with("approval = \"2030-02-01T10:00\"\ninput = \"P1D\"\nexecution = \"P1D\"\noutput = \"P1D\"\n"
                   "retention = \"P1D\""),
              "has no zone: end it with Z for UTC");
  check_error(with("approval = \"P2D\"\ninput = \"P1D\"\nexecution = \"P1D\"\noutput = \"P1D\""),
              "[deadlines] needs `retention`");
  check_error(with("approval = \"P2D\"\ninput = \"P1D\"\nexecution = \"P1D\"\noutput = \"P1D\"\nretention = 30"),
              "t.toml:27:13: `retention` is a duration in quotes");
  check_error(with("approval = \"P2D\"\ninput = \"P1D\"\nexecution = \"P1D\"\noutput = \"P1D\"\nretention = \"P1D\"\n"
                   "erase = \"P1D\""),
              "t.toml:28:1: unknown field `erase` in [deadlines]");
  check_error(with("approval = 5\ninput = \"P1D\"\nexecution = \"P1D\"\noutput = \"P1D\"\nretention = \"P1D\""),
              "t.toml:23:12: `approval` in [deadlines] is a date, a date-time or a duration");
}

BOOST_AUTO_TEST_CASE(iso_times_and_durations) {
  BOOST_CHECK_EQUAL(*parse_iso_time("1970-01-01"), 0);
  BOOST_CHECK_EQUAL(*parse_iso_time("2030-01-01T00:00:00Z"), now);
  BOOST_CHECK_EQUAL(*parse_iso_time("2030-01-01T01:00:00.250+01:00"), now + 250);
  BOOST_CHECK_EQUAL(*parse_iso_time("2029-12-31T23:00-01:00"), now);
  BOOST_CHECK_EQUAL(*parse_iso_time("2028-02-29"), *parse_iso_time("2028-02-28") + 86'400'000);
  for (auto bad : {"2030-02-30", "2030-13-01", "30-01-01", "2030-01-01T24:00:00Z", "2030-01-01T10:00:00",
                   "2030-01-01T10:00:00+1", "2030-01-01Z", "tomorrow", "", "1969-12-31"})
    BOOST_CHECK_MESSAGE(!parse_iso_time(bad), bad);
  BOOST_CHECK_EQUAL(*parse_iso_duration("P7D"), 7 * 86'400);
  BOOST_CHECK_EQUAL(*parse_iso_duration("P2W"), 14 * 86'400);
  BOOST_CHECK_EQUAL(*parse_iso_duration("PT90M"), 90 * 60);
  BOOST_CHECK_EQUAL(*parse_iso_duration("P1DT1S"), 86'401);
  for (auto bad : {"P", "PT", "P1", "P1DT", "P1Y", "P2M", "PT1D", "P1D1W", "P1H", "7D", "P-1D", "P1DT1H1H"})
    BOOST_CHECK_MESSAGE(!parse_iso_duration(bad), bad);
}

BOOST_AUTO_TEST_CASE(create_table_reads_every_type_and_constraint) {
  auto t = parse_create_table("create table persons (\n"
                              "  id KEY UNIQUE,\n"
                              "  age INTEGER RANGE [0, 120],\n"
                              "  income DECIMAL(14, 2),\n"
                              "  debt NUMERIC(5) RANGE [-500, +500], -- a comment\n"
                              "  employed BOOLEAN,\n"
                              "  region CATEGORY ('north', 'o''brien'),\n"
                              "  code BIGINT UNIQUE\n"
                              ");",
                              "f", 10, 5, true);
  BOOST_REQUIRE_MESSAGE(t, why(t));
  BOOST_CHECK_EQUAL(t->name, "persons");
  BOOST_REQUIRE_EQUAL(t->columns.size(), 7u);
  const auto& c = t->columns;
  BOOST_CHECK(c[0].type() == v1::Column::TYPE_TEXT_KEY && c[0].unique());
  BOOST_CHECK(c[1].type() == v1::Column::TYPE_INTEGER && c[1].min() == "0" && c[1].max() == "120");
  BOOST_CHECK(c[2].type() == v1::Column::TYPE_FIXED_POINT && c[2].scale() == 2);
  BOOST_CHECK_EQUAL(c[2].min(), "-999999999999.99");
  BOOST_CHECK_EQUAL(c[2].max(), "999999999999.99");
  BOOST_CHECK(c[3].type() == v1::Column::TYPE_FIXED_POINT && c[3].scale() == 0);
  BOOST_CHECK_EQUAL(c[3].min(), "-500");
  BOOST_CHECK_EQUAL(c[3].max(), "500");
  BOOST_CHECK(c[4].type() == v1::Column::TYPE_BOOLEAN);
  BOOST_CHECK(c[5].type() == v1::Column::TYPE_CATEGORY && c[5].domain_size() == 2 && c[5].domain(1) == "o'brien");
  BOOST_CHECK(c[6].type() == v1::Column::TYPE_INTEGER && c[6].unique() && c[6].min().empty());
  // An output's DECIMAL(p, s) keeps no implied range.
  auto out = parse_create_table("CREATE TABLE o (m DECIMAL(18, 2))", "f", 1, 1, false);
  BOOST_REQUIRE(out);
  BOOST_CHECK(out->columns[0].min().empty() && out->columns[0].max().empty());
  BOOST_CHECK_EQUAL(parse_create_table("CREATE TABLE o (m DECIMAL(3, 3))", "f", 1, 1, true)->columns[0].max(), "0.999");
  // NULL: values may be missing; NOT NULL, the default, may be written.
  auto gaps = parse_create_table("CREATE TABLE s (a INTEGER NULL, b BOOLEAN NOT NULL, c DECIMAL(5, 2) RANGE [0, 1] NULL,\n"
                                 "  d CATEGORY ('x', 'y') not null)", "f", 1, 1, true);
  BOOST_REQUIRE_MESSAGE(gaps, why(gaps));
  BOOST_CHECK(gaps->columns[0].nullable() && !gaps->columns[1].nullable());
  BOOST_CHECK(gaps->columns[2].nullable() && gaps->columns[2].max() == "1");
  BOOST_CHECK(!gaps->columns[3].nullable());

  auto error = [](const std::string& sql) {
    auto r = parse_create_table(sql, "f", 3, 7, true);
    BOOST_REQUIRE_MESSAGE(!r, sql);
    BOOST_CHECK(r.err().code == errc::malformed_input);
    return r.err().message;
  };
  // Places: line 3 column 7 is where the statement starts in its file.
  BOOST_CHECK_EQUAL(error("CREATE TABLE t (a INTEGR)"),
                    "f:3:25: expected the type of column `a`: KEY, INTEGER, DECIMAL(p, s), BOOLEAN or CATEGORY "
                    "('a', 'b', ...), found `INTEGR`");
  BOOST_CHECK_EQUAL(error("CREATE TABLE t (\n  a INTEGER,\n  a BOOLEAN)"),
                    "f:5:3: the column `a` is declared twice in table `t`");
  BOOST_CHECK_EQUAL(error("CREATE TABLE t (a DECIMAL(11, 2) RANGE [0, 1000000000.00])"),
                    "f:3:50: `1000000000.00` does not fit column `a`: DECIMAL(11, 2) has 9 digit(s) before the "
                    "point; raise p");
  BOOST_CHECK_EQUAL(error("CREATE TABLE t (a DECIMAL(5, 1) RANGE [0.25, 1])"),
                    "f:3:46: `0.25` has more digits after the point than column `a` keeps (1)");
  BOOST_CHECK_EQUAL(error("CREATE TABLE t (a INTEGER RANGE [0.5, 1])"),
                    "f:3:40: `0.5` has more digits after the point than column `a` keeps (0)");
  BOOST_CHECK(error("CREATE TABLE t (a CATEGORY ('x', 'x'))").find("'x' is listed twice") != std::string::npos);
  BOOST_CHECK(error("CREATE TABLE t (a CATEGORY ('x)").find("never closed") != std::string::npos);
  BOOST_CHECK(error("CREATE TABLE t (a BOOLEAN RANGE [0, 1])").find("RANGE is for INTEGER and DECIMAL") != std::string::npos);
  BOOST_CHECK(error("CREATE TABLE t (a KEY UNIQUE UNIQUE)").find("a constraint may be given once") != std::string::npos);
  BOOST_CHECK(error("CREATE TABLE t (a DECIMAL(19, 2))").find("from 0 to 18") != std::string::npos);
  BOOST_CHECK(error("CREATE TABLE t (a DECIMAL(4, 5))").find("from 0 to 4") != std::string::npos);
  BOOST_CHECK(error("CREATE TABLE t (a DECIMAL(0))").find("at least one digit") != std::string::npos);
  BOOST_CHECK(error("CREATE TABLE t (a DECIMAL)").find("DECIMAL(p, s)") != std::string::npos);
  BOOST_CHECK(error("CREATE TABLE t (a KEY) extra").find("nothing may follow") != std::string::npos);
  BOOST_CHECK(error("CREATE TABLE t (a KEY PRIMARY)").find("RANGE [min, max], UNIQUE, NULL and NOT NULL") != std::string::npos);
  BOOST_CHECK(error("CREATE TABLE t (a INTEGER NULL NULL)").find("a constraint may be given once") != std::string::npos);
  BOOST_CHECK(error("CREATE TABLE t (a INTEGER NOT NULL NULL)").find("a constraint may be given once") != std::string::npos);
  BOOST_CHECK_EQUAL(error("CREATE TABLE t (a INTEGER NOT)"),
                    "f:3:36: expected NULL after NOT (NOT NULL: the column always has a value), found `)`");
  BOOST_CHECK(error("CREATE TABLE t a KEY").find("expected '('") != std::string::npos);
  BOOST_CHECK(error("TABLE t (a KEY)").find("expected CREATE") != std::string::npos);
  BOOST_CHECK(error("CREATE TABLE t (a KEY,)").find("expected a column name, found `)`") != std::string::npos);
  BOOST_CHECK(error("CREATE TABLE t (a INTEGER RANGE [1e3, 2])").find("a number such as") != std::string::npos);
  BOOST_CHECK(error("CREATE TABLE t (a KEY) # x").find("unexpected character '#'") != std::string::npos);
  BOOST_CHECK(error("").find("expected CREATE") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(peers_get_their_roles_from_inputs_and_outputs) {
  // b reads only, c (by FQDN) provides only, a does both.
  auto text = edited("[[output]]\nreaders = [\"a\", \"b\"]", "[[output]]\nreaders = [\"a\", \"b\"]")
                .replace(task_template().find("peer = \"b\""), 10, "peer = \"c.joconde.test\"");
  auto r = parse_task_file(text, "t.toml", now, ".");
  BOOST_REQUIRE_MESSAGE(r, why(r));
  const auto& peers = r->ctsc.peers();
  BOOST_REQUIRE_EQUAL(peers.size(), 3);
  BOOST_CHECK_EQUAL(peers[0].fqdn(), "client-a.joconde.test");
  BOOST_CHECK(peers[0].role() == v1::PEER_ROLE_INPUT_OUTPUT);
  BOOST_CHECK_EQUAL(peers[1].fqdn(), "c.joconde.test");
  BOOST_CHECK(peers[1].role() == v1::PEER_ROLE_INPUT);
  BOOST_CHECK_EQUAL(peers[2].fqdn(), "client-b.joconde.test");
  BOOST_CHECK(peers[2].role() == v1::PEER_ROLE_OUTPUT);
  BOOST_CHECK_EQUAL(r->ctsc.inputs(1).peer(), "c.joconde.test");

  check_error(edited("readers = [\"a\", \"b\"]", "readers = [\"a\"]")
                .replace(task_template().find("peer = \"b\""), 10, "peer = \"a\""),
              "t.toml:17:5: peer `b` takes no part");
  check_error(edited("peer = \"b\"", "peer = \"x\""), "no peer is called `x`: name it in [peers]");
  check_error(edited("b = \"client-b.joconde.test\"", "b = \"client-a.joconde.test\""),
              "t.toml:17:5: two names in [peers] stand for client-a.joconde.test");
  check_error(edited("b = \"client-b.joconde.test\"", "b = \"localhost\""), "is the FQDN of its node");
  check_error(edited("readers = [\"a\", \"b\"]", "readers = []"), "is a list of texts");
  check_error(edited("readers = [\"a\", \"b\"]", "readers = \"a\""), "is a list of texts");
}

BOOST_AUTO_TEST_CASE(every_field_is_checked_with_its_place) {
  check_error(edited("title = ", "titel = "), "t.toml:5:1: unknown field `titel` in the task file (its fields: title,");
  check_error(edited("title = \"Turnover by region, two statistical offices\"\n", ""), "the task file needs `title`");
  check_error(edited("name = \"rss3\"", "name = 3"), "t.toml:31:8: `name` in [engine] is a text, in quotes");
  check_error(edited("parameters = { ring_bits = 64 }", "parameters = { ring_bits = 6.4 }"),
              "engine parameter `ring_bits` is a whole number or a text");
  check_error(edited("max_rows = 100000\ntable = \"\"\"\nCREATE TABLE a_", "max_rows = 0\ntable = \"\"\"\nCREATE TABLE a_"),
              "t.toml:49:12: `max_rows` in [[input]] a_enterprises is a whole number from 1 to 1000000000");
  check_error(edited("max_rows = 100000\ntable = \"\"\"\nCREATE TABLE a_", "rows = 5\ntable = \"\"\"\nCREATE TABLE a_"),
              "t.toml:49:1: unknown field `rows` in [[input]]");
  check_error(edited("CREATE TABLE b_enterprises", "CREATE TABLE a_enterprises"),
              "table `a_enterprises` is defined twice");
  check_error(edited("CREATE TABLE turnover_by_region", "CREATE TABLE a_enterprises"),
              "table `a_enterprises` is defined twice");
  // The CREATE TABLE's places are the file's: line 53 is `turnover DECIMAL ...` of a_enterprises.
  check_error(edited("  region   CATEGORY ('north', 'south', 'east', 'west'),\n  turnover DECIMAL(12, 2) RANGE [0, 1",
                     "  region   CATEGORY ('north', 'south', 'east', 'west'),\n  turnover DECIMAL(12, 2) RANGE [0, x"),
              "t.toml:53:37: expected the largest value");
  check_error(edited("[algorithm]\nsource", "[algorithm]\ncode"), "unknown field `code` in [algorithm]");
  check_error(edited("[[input]]\npeer = \"a\"", "[input]\npeer = \"a\""), "t.toml:56:1: Error while parsing table header: cannot redefine existing table 'input'");
  check_error(edited("engine]", "engine"), "t.toml:30:8:");
  check_error("title = \"x\"\n", "t.toml:1:1: the task needs a [deadlines] section");
  check_error("", "the task file needs `title`");
  check_error("\x01\x02", "t.toml:1:1:");
  check_error(edited("# [[attachment]]\n# title = \"Agreement between the offices\"\n"
                     "# description = \"The signed legal basis of the joint statistics\"\n# file = \"agreement.pdf\"",
                     "[[attachment]]\ntitle = \"Agreement\"\nfile = \"no-such-file.pdf\""),
              "cannot read");
  check_error(edited("# [[tee]]\n# platform = \"sev-snp\"\n# image = \"joconde-vm 0.1.0\"\n# measurement = \"HEX\"",
                     "[[tee]]\nplatform = \"sev-snp\"\nimage = \"joconde-vm 0.1.0\"\nmeasurement = \"XYZ\""),
              "`measurement` in [[tee]] is the measurement in hex");
}

BOOST_AUTO_TEST_CASE(a_file_may_attach_only_files_beside_it_or_below) {
  scratch s;
  fs::create_directories(s.dir / "inner");
  s.write("inner/ok.pdf", "%PDF");
  auto with_file = [](const std::string& file) {
    return edited("# [[attachment]]\n# title = \"Agreement between the offices\"\n"
                  "# description = \"The signed legal basis of the joint statistics\"\n# file = \"agreement.pdf\"",
                  "[[attachment]]\ntitle = \"x\"\nfile = \"" + file + "\"");
  };
  BOOST_CHECK(parse_task_file(with_file("inner/ok.pdf"), "t.toml", now, s.dir));
  for (const auto& bad : {std::string{"/etc/passwd"}, std::string{"../task_file_test.secret"}, std::string{"inner/../../x"}}) {
    auto r = parse_task_file(with_file(bad), "t.toml", now, s.dir / "inner");
    BOOST_REQUIRE_MESSAGE(!r, bad);
    BOOST_CHECK_MESSAGE(r.err().message.find("in its directory or below (no absolute path, no '..')") != std::string::npos,
                        r.err().message);
  }
  auto dir = parse_task_file(with_file("inner"), "t.toml", now, s.dir);
  BOOST_REQUIRE(!dir);
  BOOST_CHECK(dir.err().message.find("not a regular file") != std::string::npos);
  auto ctsa = parse_ctsa_file("[[signatory]]\nname = \"x\"\nidentification = \"/etc/hostname\"", "c.toml", s.dir);
  BOOST_REQUIRE(!ctsa);
  BOOST_CHECK(ctsa.err().message.find("c.toml:3:18: '/etc/hostname': a file is named relative") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(attachments_and_measurements_are_read) {
  scratch s;
  s.write("agreement.pdf", "%PDF-1.4 signed");
  auto text = edited("# [[attachment]]\n# title = \"Agreement between the offices\"\n"
                     "# description = \"The signed legal basis of the joint statistics\"\n# file = \"agreement.pdf\"",
                     "[[attachment]]\ntitle = \"Agreement between the offices\"\nfile = \"agreement.pdf\"")
                .replace(task_template().find("# [[tee]]\n# platform = \"sev-snp\"\n# image = \"joconde-vm 0.1.0\"\n# "
                                              "measurement = \"HEX\""),
                         83, "[[tee]]\nplatform = \"sev-snp\"\nimage = \"joconde-vm 0.1.0\"\nmeasurement = \"0aFF\"");
  auto r = parse_task_file(text, "t.toml", now, s.dir);
  BOOST_REQUIRE_MESSAGE(r, why(r));
  BOOST_REQUIRE_EQUAL(r->ctsc.attachments_size(), 1);
  BOOST_CHECK_EQUAL(r->ctsc.attachments(0).content().data(), "%PDF-1.4 signed");
  BOOST_CHECK_EQUAL(r->ctsc.attachments(0).content().media_type(), "application/pdf");
  BOOST_CHECK_EQUAL(r->ctsc.attachments(0).content().name(), "agreement.pdf");
  BOOST_REQUIRE_EQUAL(r->ctsc.tee_measurements_size(), 1);
  BOOST_CHECK_EQUAL(r->ctsc.tee_measurements(0).measurement(), std::string("\x0a\xff", 2));
}

BOOST_AUTO_TEST_CASE(compile_errors_are_told_in_the_files_lines) {
  scratch s;
  auto bad_sql = edited("SELECT region, COUNT(*)", "SELECT regio, COUNT(*)");
  auto file = s.write("task.toml", bad_sql);
  auto task = read_task_file(file.string(), now);
  BOOST_REQUIRE_MESSAGE(task, why(task));
  auto check = check_task(*task);
  BOOST_REQUIRE(!check);
  BOOST_CHECK(check.err().code == errc::compile_error);
  auto line = task->readable->algorithm.line + 1;
  BOOST_CHECK_EQUAL(check.err().message, "main algorithm: " + file.string() + ":" + std::to_string(line)
                                           + ":8: unknown column `regio` in `a_enterprises` (did you mean `region`?)");
  // A check on one line with its quotes: columns count from after the quotes.
  auto with_check = edited("# check = \"\"\"\n# CHECK COUNT(*) >= 10;\n# CHECK turnover > 0;\n# \"\"\"",
                           "check = \"CHECK turnovr > 0;\"");
  task = read_task_file(s.write("check.toml", with_check).string(), now);
  BOOST_REQUIRE(task);
  check = check_task(*task);
  BOOST_REQUIRE(!check);
  BOOST_CHECK_MESSAGE(check.err().message.find("quality check of `b_enterprises`, " + (s.dir / "check.toml").string()
                                               + ":64:16: unknown column `turnovr`")
                        == 0,
                      check.err().message);
  BOOST_CHECK_EQUAL(in_file_lines("no place here", "f", {5, 5}), "no place here");
  BOOST_CHECK_EQUAL(in_file_lines("3:4: x", "f", {10, 9}), "f:12:4: x");
  BOOST_CHECK_EQUAL(in_file_lines("1:4: x", "f", {10, 9}), "f:10:12: x");
  // A JSON task keeps the compiler's own places; a .json file is JSON whatever it holds.
  auto json_task = read_task_file(s.write("t.json", "[1]").string(), now);
  BOOST_REQUIRE(!json_task);
  BOOST_CHECK(json_task.err().message.find("not the object of a CTA task") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_readable_ctsa) {
  scratch s;
  BOOST_REQUIRE(parse_ctsa_file(ctsa_template(), "c.toml", s.dir));
  BOOST_CHECK_EQUAL(parse_ctsa_file(ctsa_template(), "c.toml", s.dir)->signatories(0).name(), "Director of the office");
  auto key = crypto::private_key::generate();
  BOOST_REQUIRE(key);
  s.write("custodian.pub", key->public_key().to_pem());
  s.write("id.pdf", "%PDF id");
  auto r = parse_ctsa_file("[[signatory]]\nname = \"Ann\"\nidentification = \"id.pdf\"\n"
                           "[[signatory]]\nname = \"Bob\"\n"
                           "[[data_custodian]]\nname = \"Cus\"\npak = \"custodian.pub\"\ninputs = [\"a\", \"b\"]\n"
                           "[[data_analyst]]\nname = \"Ana\"\npak = \"custodian.pub\"\noutputs = [\"o\"]\n",
                           "c.toml", s.dir);
  BOOST_REQUIRE_MESSAGE(r, why(r));
  BOOST_REQUIRE_EQUAL(r->signatories_size(), 2);
  BOOST_CHECK_EQUAL(r->signatories(0).identification().data(), "%PDF id");
  BOOST_CHECK_EQUAL(r->signatories(0).identification().media_type(), "application/pdf");
  BOOST_CHECK(!r->signatories(1).has_identification());
  auto der = key->public_key().to_der();
  BOOST_CHECK(r->data_custodians(0).pak() == std::string(der.begin(), der.end()));
  BOOST_CHECK_EQUAL(r->data_custodians(0).input_keys_size(), 2);
  BOOST_CHECK_EQUAL(r->data_analysts(0).output_keys(0), "o");

  auto error = [&](const std::string& text) {
    auto e = parse_ctsa_file(text, "c.toml", s.dir);
    BOOST_REQUIRE_MESSAGE(!e, text);
    return e.err().message;
  };
  BOOST_CHECK(error("").find("at least one [[signatory]]") != std::string::npos);
  BOOST_CHECK(error("[[signatory]]\nnom = \"x\"").find("c.toml:2:1: unknown field `nom` in [[signatory]]")
              != std::string::npos);
  BOOST_CHECK(error("[[signatory]]\nname = \"x\"\n[[data_custodian]]\nname = \"y\"\npak = \"id.pdf\"\ninputs = [\"a\"]")
                .find("c.toml:5:7: 'id.pdf' is not a PEM public key") != std::string::npos);
  BOOST_CHECK(error("[[signatory]]\nname = \"x\"\n[[data_analyst]]\nname = \"y\"\npak = \"custodian.pub\"")
                .find("needs `outputs`") != std::string::npos);
  BOOST_CHECK(error("[[signatory]]\nname = \"x\"\nidentification = \"none.pdf\"").find("cannot read") != std::string::npos);
}
