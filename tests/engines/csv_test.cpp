#define BOOST_TEST_MODULE csv
#include <boost/test/unit_test.hpp>

#include "engines/schema_builders.hpp"

#include "joconde/engines/csv.hpp"

#include <random>

using namespace joconde;
using namespace joconde::engines;
using namespace joconde::test;

namespace {

/// persons(id key, region category {north, south, east}, age integer [0, 130]), at most 1000 rows.
table_schema persons(std::uint64_t max_rows = 1000) {
  return table("persons",
               {key("id"), category("region", {"north", "south", "east"}), integer("age", 0, 130)},
               max_rows);
}

/// One column of every type but key (keys are one-way: they decode as "#<hex>").
table_schema every_type() {
  return table("all", {integer("n", -1000, 1000), decimal("amount", 2, -100000, 100000),
                       boolean("flag"), category("label", {"a", "b,c", "say \"hi\"", "two\nlines"}),
                       unbounded("big")});
}

/// Why `r` failed, or "" (the message argument of the test macros is evaluated either way).
template <class T>
std::string why(const result<T>& r) {
  return r ? std::string{} : r.err().describe();
}

word enc(const column_schema& c, std::string_view text) {
  auto v = encode_value(c, text);
  BOOST_REQUIRE_MESSAGE(v.ok(), why(v));
  return *v;
}

/// The error message of a parse that must fail with `code`.
std::string failure(std::string_view text, const table_schema& schema,
                    errc code = errc::malformed_input) {
  auto r = parse_csv(text, schema);
  BOOST_REQUIRE_MESSAGE(!r.ok(), "parsed: " << text);
  BOOST_TEST(to_string(r.err().code) == to_string(code));
  return r.err().message;
}

} // namespace

BOOST_AUTO_TEST_CASE(every_column_type_round_trips) {
  auto s = every_type();
  const std::string text = "n,amount,flag,label,big\n"
                           "-1000,-1000.00,true,a,-9223372036854775808\n"
                           "7,12.3,0,\"b,c\",9223372036854775807\n"
                           "1000,1000.00,1,\"say \"\"hi\"\"\",0\n"
                           "0,-0.05,false,\"two\nlines\",42\n";
  auto t = parse_csv(text, s);
  BOOST_REQUIRE_MESSAGE(t.ok(), why(t));
  BOOST_TEST(t->rows == 4u);
  BOOST_REQUIRE(t->columns.size() == 5u);
  BOOST_TEST(t->columns[0] == (std::vector<word>{enc(s.columns[0], "-1000"), 7, 1000, 0}));
  BOOST_TEST(t->columns[1] == (std::vector<word>{static_cast<word>(-100000), 1230, 100000,
                                                 static_cast<word>(-5)}));
  BOOST_TEST(t->columns[2] == (std::vector<word>{1, 0, 1, 0}));
  BOOST_TEST(t->columns[3] == (std::vector<word>{0, 1, 2, 3}));
  BOOST_TEST(t->columns[4] == (std::vector<word>{word{1} << 63, (word{1} << 63) - 1, 0, 42}));

  const std::string canonical = "n,amount,flag,label,big\n"
                                "-1000,-1000.00,true,a,-9223372036854775808\n"
                                "7,12.30,false,\"b,c\",9223372036854775807\n"
                                "1000,1000.00,true,\"say \"\"hi\"\"\",0\n"
                                "0,-0.05,false,\"two\nlines\",42\n";
  auto written = format_csv(s, t->columns, t->rows);
  BOOST_TEST(written == canonical);
  auto again = parse_csv(written, s);
  BOOST_REQUIRE(again.ok());
  BOOST_TEST(again->rows == t->rows);
  BOOST_TEST((again->columns == t->columns));
}

BOOST_AUTO_TEST_CASE(keys_encode_as_their_hash_and_decode_as_hex) {
  auto s = persons();
  auto t = parse_csv("id,region,age\nP0000001,north,16\n\"P,2\",east,99\n", s);
  BOOST_REQUIRE_MESSAGE(t.ok(), why(t));
  BOOST_TEST(t->columns[0] == (std::vector<word>{enc(s.columns[0], "P0000001"),
                                                 enc(s.columns[0], "P,2")}));
  auto written = format_csv(s, t->columns, 1);
  BOOST_TEST(written == "id,region,age\n" + decode_value(s.columns[0], t->columns[0][0])
                          + ",north,16\n");
  BOOST_TEST(written.substr(14, 1) == "#");
  BOOST_TEST(format_csv(s, t->columns, 0) == "id,region,age\n");
}

BOOST_AUTO_TEST_CASE(line_ends_bom_blanks_and_empty_tables) {
  auto s = persons();
  auto lf = parse_csv("id,region,age\na,north,1\nb,south,2\n", s);
  BOOST_REQUIRE(lf.ok());
  for (std::string_view variant : {
         "id,region,age\r\na,north,1\r\nb,south,2\r\n",       // CRLF
         "id,region,age\na,north,1\nb,south,2",               // no final line end
         "id,region,age\r\na,north,1\r\nb,south,2",           // CRLF, no final line end
         "\xEF\xBB\xBFid,region,age\na,north,1\nb,south,2\n", // UTF-8 BOM
         "id,region,age\na,north,1\nb,south,2\n\n",           // a trailing empty line
         "id,region,age\na,north,1\nb,south,2\r\n\r\n\n",     // trailing empty lines
         "\"id\",\"region\",\"age\"\n\"a\",\"north\",\"1\"\nb,south,2\n", // quoted everywhere
         "id, region ,age\na , north,1\nb,south,\t2\n",       // blanks around fields
       }) {
    auto t = parse_csv(variant, s);
    BOOST_REQUIRE_MESSAGE(t.ok(), why(t));
    BOOST_TEST(t->rows == 2u);
    BOOST_TEST((t->columns == lf->columns));
  }
}

// A custodian who uploads a header and no records made a mistake: refused by default. Tools that
// run a task on local files may ask for an empty table.
BOOST_AUTO_TEST_CASE(a_header_only_file_is_refused_unless_allowed) {
  auto s = persons();
  for (std::string_view empty : {"id,region,age", "id,region,age\n", "id,region,age\r\n\r\n"}) {
    BOOST_TEST(failure(empty, s)
               == "the file has a header but no data rows; `persons` needs at least one record");
    auto t = parse_csv(empty, s, header_only::allowed);
    BOOST_REQUIRE_MESSAGE(t.ok(), why(t));
    BOOST_TEST(t->rows == 0u);
    BOOST_TEST(t->columns.size() == 3u);
  }
  // The twin: one record is a table, whichever way header-only files are treated.
  for (auto empty : {header_only::refused, header_only::allowed}) {
    auto t = parse_csv("id,region,age\nP1,north,30\n", s, empty);
    BOOST_REQUIRE_MESSAGE(t.ok(), why(t));
    BOOST_TEST(t->rows == 1u);
  }
}

BOOST_AUTO_TEST_CASE(nul_bytes_are_refused_anywhere) {
  using namespace std::string_literals;
  auto s = persons();
  BOOST_TEST(failure("id,region,age\nP1,north,30\nP\0002,south,31\n"s, s)
             == "line 3, column 1 (id): a NUL byte (0x00); a CSV file is text: save it as UTF-8 text");
  BOOST_TEST(failure("id,region,age\nP1,north,3\0\n"s, s)
             == "line 2, column 3 (age): a NUL byte (0x00); a CSV file is text: save it as UTF-8 text");
  BOOST_TEST(failure("id,region,age\n\"P\0001\",north,30\n"s, s)
             == "line 2, column 1 (id): a NUL byte (0x00); a CSV file is text: save it as UTF-8 text");
  BOOST_TEST(failure("id,reg\0ion,age\nP1,north,30\n"s, s)
             == "line 1, column 2: a NUL byte (0x00); a CSV file is text: save it as UTF-8 text");
  // The twin: the same file without the NUL byte.
  auto t = parse_csv("id,region,age\nP1,north,30\nP2,south,31\n", s);
  BOOST_REQUIRE_MESSAGE(t.ok(), why(t));
  BOOST_TEST(t->rows == 2u);
}

BOOST_AUTO_TEST_CASE(a_key_that_is_not_utf8_is_refused) {
  auto s = persons();
  for (std::string_view bad : {"P\xff", "P\xC0\xAF" /* overlong '/' */, "P\xED\xA0\x80" /* surrogate */,
                               "P\xE2\x82" /* truncated */}) {
    std::string text = "id,region,age\nP1,north,30\n" + std::string{bad} + ",south,31\n";
    BOOST_TEST(failure(text, s)
               == "line 3, column 1 (id): the value is not valid UTF-8; save the file as UTF-8");
  }
  // The twin: keys in UTF-8 beyond ASCII are keys like any other, each with its own encoding.
  auto t = parse_csv("id,region,age\nZo\xC3\xAB,north,30\n\xE2\x82\xAC" "1,south,31\nP\xF0\x9F\x98\x80,east,32\n", s);
  BOOST_REQUIRE_MESSAGE(t.ok(), why(t));
  BOOST_TEST(t->rows == 3u);
  BOOST_TEST(t->columns[0][0] != t->columns[0][1]);
}

// A refused value is confidential: messages (which reach logs and the CLI) name the line, the
// column and the reason, never the value or another field of the file.
BOOST_AUTO_TEST_CASE(messages_never_quote_a_field_of_the_file) {
  auto s = table("persons", {key("id"), integer("age", 0, 130),
                             category("region", {"north", "south", "east"})});
  const std::string canary = "Zx7q";
  for (const std::string& text : {
         "id,age,region\nP1,30,north\n" + canary + ",3" + canary + ",north\n",
         "id,age,region\n" + canary + ",131" + canary + ",north\n",
         "id,age,region\n" + canary + ",30," + canary + "\n",
         "id,age,region\n" + canary + "\xff,30,north\n",
         canary + ",30,north\nP2,31,south\n",                   // the header line is missing
         "id,age,region," + canary + "\n" + canary + ",30,north,x\n", // an extra header column
         "id,age,region\n" + canary + ",30,north," + canary + "\n",   // an extra field
       }) {
    auto r = parse_csv(text, s);
    BOOST_REQUIRE(!r.ok());
    BOOST_TEST(r.err().message.find(canary) == std::string::npos, r.err().message);
  }
}

BOOST_AUTO_TEST_CASE(header_errors_name_the_column) {
  auto s = persons();
  BOOST_TEST(failure("id,regoin,age\na,north,1\n", s)
             == "line 1, column 2: the header must name `region` here; it must be id,region,age "
                "(is the header line missing?)");
  BOOST_TEST(failure("id,age,region\n", s)
             == "line 1, column 2: the header must name `region` here; it must be id,region,age "
                "(is the header line missing?)");
  BOOST_TEST(failure("id,region\na,north\n", s)
             == "line 1: the header lacks column `age`; it must be id,region,age");
  BOOST_TEST(failure("id,region,age,income\n", s)
             == "line 1, column 4: the header has an extra column; it must be id,region,age");
  BOOST_TEST(failure("", s) == "line 1: the first line must be the header id,region,age, found "
                               "an empty file");
  BOOST_TEST(failure("\nid,region,age\n", s)
             == "line 1: the first line must be the header id,region,age, found an empty line");
}

BOOST_AUTO_TEST_CASE(record_errors_say_line_and_column) {
  auto s = table("persons", {key("id"), integer("age", 0, 130),
                             category("region", {"north", "south", "east"})});
  std::string ok_rows = "id,age,region\n";
  for (int i = 2; i <= 6; ++i) {
    ok_rows += 'P';
    ok_rows += std::to_string(i);
    ok_rows += ",30,north\n";
  }
  BOOST_TEST(failure(ok_rows + "P7,3x,north\n", s)
             == "line 7, column 2 (age): the value is not a number");
  BOOST_TEST(failure(ok_rows + "P7,1.5,north\n", s)
             == "line 7, column 2 (age): the value is not an integer");
  BOOST_TEST(failure("id,age,region\nP1,131,north\n", s)
             == "line 2, column 2 (age): the value is outside the declared range");
  BOOST_TEST(failure("id,age,region\nP1,-1,north\n", s)
             == "line 2, column 2 (age): the value is outside the declared range");
  BOOST_TEST(failure("id,age,region\nP1,99999999999999999999,north\n", s)
             == "line 2, column 2 (age): the value is out of the 64-bit range");
  BOOST_TEST(failure("id,age,region\nP1,30,North\n", s)
             == "line 2, column 3 (region): the value is not one of the declared values");
  BOOST_TEST(failure("id,age,region\n,30,north\n", s)
             == "line 2, column 1 (id): the value is an empty key");
  BOOST_TEST(failure("id,age,region\nP1,30,north,extra\n", s)
             == "line 2, column 4: more than 3 fields; the header has id,age,region");
  BOOST_TEST(failure("id,age,region\nP1,30,north\nP2,30\n", s)
             == "line 3: 2 fields, expected 3: `region` is missing");
  BOOST_TEST(failure("id,age,region\nP1\n", s) == "line 2: 1 field, expected 3: `age` is missing");
  BOOST_TEST(failure("id,age,region\nP1,30,north\n\nP2,30,north\n", s)
             == "line 3: empty line; only the end of the file may have empty lines");
  // A quoted line break moves the physical line on.
  BOOST_TEST(failure("id,age,region\n\"P\n1\",30,north\nP2,x,north\n", s)
             == "line 4, column 2 (age): the value is not a number");
}

BOOST_AUTO_TEST_CASE(a_repeated_join_key_is_found_with_its_lines) {
  // Records start on physical lines 2, 3, 5 (a quoted line break in line 3's record), 6 and 7;
  // P2 is on lines 3 and 7, P1 on lines 2 and 6: the value that repeats first, P1, is named.
  auto s = table("persons", {key("id"), category("note", {"a", "b\nc"})});
  const std::string csv = "id,note\nP1,a\nP2,\"b\nc\"\nP3,a\nP1,a\nP2,a\n";
  auto t = parse_csv(csv, s);
  BOOST_REQUIRE(t);
  BOOST_TEST(t->lines == (std::vector<std::size_t>{2, 3, 5, 6, 7}), boost::test_tools::per_element());
  auto dup = check_unique(*t, s, "id");
  BOOST_REQUIRE(!dup);
  BOOST_TEST((dup.err().code == errc::malformed_input));
  BOOST_TEST(dup.err().message.rfind("lines 2 and 6, column 1 (id): the same value twice; `id` must be unique in `persons` (each of its values on one row only: it is a join key", 0) == 0,
             dup.err().message);
  BOOST_TEST(dup.err().message.find("P1") == std::string::npos, "a value is quoted: " << dup.err().message);
  // A declared UNIQUE column says so.
  auto declared = s;
  declared.columns[0].unique = true;
  auto said = check_unique(*t, declared, "id");
  BOOST_REQUIRE(!said);
  BOOST_TEST(said.err().message.find("(each of its values on one row only: it is declared UNIQUE)") != std::string::npos,
             said.err().message);
  // Distinct keys pass; a repeated category is no concern of check_unique's caller but is found too.
  auto distinct = parse_csv("id,note\nP1,a\nP2,a\nP3,a\n", s);
  BOOST_REQUIRE(distinct);
  BOOST_TEST(check_unique(*distinct, s, "id").ok());
  BOOST_TEST(!check_unique(*distinct, s, "note"));
  BOOST_TEST((check_unique(*distinct, s, "nope").err().code == errc::invalid_state));
}

BOOST_AUTO_TEST_CASE(bad_quotes_and_line_ends_are_refused) {
  auto s = persons();
  BOOST_TEST(failure("id,region,age\n\"P1,north,1\nP2,south,2\n", s)
             == "line 2, column 1 (id): the quoted field is not closed: a double quote is missing");
  BOOST_TEST(failure("id,region,age\nP\"1,north,1\n", s)
             == "line 2, column 1 (id): a double quote inside an unquoted field; enclose the "
                "whole field in double quotes and write the quote twice (\"\")");
  BOOST_TEST(failure("id,region,age\n\"P1\"x,north,1\n", s)
             == "line 2, column 1 (id): a closing double quote must be followed by a comma or "
                "the end of the line");
  BOOST_TEST(failure("id,region,age\nP1,north,1\rP2,south,2\n", s)
             == "line 2, column 3 (age): a carriage return not followed by a line feed; end "
                "lines with LF or CRLF");
  BOOST_TEST(failure("\"id,region,age\n", s)
             == "line 1, column 1: the quoted field is not closed: a double quote is missing");
  BOOST_TEST(failure("id,\"reg\nion\",age\n", s)
             == "line 1, column 2: the header must name `region` here; it must be id,region,age "
                "(is the header line missing?)");
}

BOOST_AUTO_TEST_CASE(row_limit_is_checked_while_parsing) {
  auto s = persons(2);
  auto t = parse_csv("id,region,age\na,north,1\nb,south,2\n\n", s);
  BOOST_REQUIRE(t.ok());
  BOOST_TEST(t->rows == 2u);
  // The third row is refused before its fields are read: the bad age after it is never reached.
  BOOST_TEST(failure("id,region,age\na,north,1\nb,south,2\nc,east,3\nd,east,x\n", s,
                     errc::too_large)
             == "line 4: more than 2 rows; `persons` accepts at most 2");
}

BOOST_AUTO_TEST_CASE(garbage_never_crashes) {
  auto s = persons(50);
  std::mt19937_64 rng{20261127};
  const std::string_view pieces[] = {",", "\"", "\"\"", "\r", "\n", "\r\n", "a", "P1", "north",
                                     "south", "1", "130", "-", ".", " ", "\xEF\xBB\xBF", "\xFF",
                                     std::string_view{"\0", 1}, "id,region,age\n"};
  std::size_t parsed = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text = (rng() % 2 == 0) ? "id,region,age\n" : "";
    auto len = rng() % 60;
    for (std::size_t k = 0; k < len; ++k) {
      if (rng() % 8 == 0)
        text.push_back(static_cast<char>(rng()));
      else
        text += pieces[rng() % std::size(pieces)];
    }
    auto r = parse_csv(text, s);
    if (r.ok()) {
      ++parsed;
      BOOST_TEST(r->rows <= 50u);
      for (const auto& c : r->columns)
        BOOST_TEST(c.size() == r->rows);
    } else {
      auto code = r.err().code;
      BOOST_TEST((code == errc::malformed_input || code == errc::too_large), why(r));
      const auto& m = r.err().message;
      BOOST_TEST((m.rfind("line ", 0) == 0u || m.rfind("the file has a header but no data rows", 0) == 0u),
                 m);
    }
  }
  BOOST_TEST_MESSAGE(parsed << " of 20000 garbage inputs parsed");
}

BOOST_AUTO_TEST_CASE(withheld_cells_are_rows_marked_c_with_the_rule) {
  // A region, its count and a total beyond the ring (three words: 2^32 + 5 cents), then the
  // published flags: north published, south withheld (its region kept, the values empty).
  auto schema = table("by_region", {category("region", {"north", "south"}), integer("n", 0, 10), decimal("total", 2)}, 2);
  const std::vector<std::vector<word>> columns{{0, 1}, {12, 0}, {0, 0}, {1, 0}, {5, 0}, {1, 0}};
  const std::vector<unsigned> words{1, 1, 3};
  output_flags flags;
  flags.flagged = true;
  flags.rule = "HAVING COUNT(*) >= 5";
  flags.shown = {true, false, false};
  BOOST_TEST(format_flagged_csv(schema, columns, 2, words, flags)
               == "region,n,total,CONF_STATUS,CONF_RULE\n"
                  "north,12,42949673.01,F,\n"
                  "south,,,C,HAVING COUNT(*) >= 5\n");
  // Without a rule: the plain table (the flags column is not read).
  flags.flagged = false;
  BOOST_TEST(format_flagged_csv(schema, columns, 1, words, flags) == "region,n,total\nnorth,12,42949673.01\n");
}

BOOST_AUTO_TEST_CASE(conf_rule_names_the_rule_of_each_withheld_code) {
  // The published codes: 1 published, 0 withheld by the count, 2 by dominance; a rule text with a
  // comma is quoted.
  auto schema = table("by_sector", {category("sector", {"a", "b", "c", "d"}), integer("t", 0, 1000)}, 4);
  const std::vector<std::vector<word>> columns{{0, 1, 2, 3}, {700, 0, 0, 5}, {1, 0, 2, 1}};
  output_flags flags;
  flags.flagged = true;
  flags.rule = "HAVING COUNT(*) >= 5";
  flags.dominance_rule = "DOMINANCE(turnover, 2) <= 85";
  flags.shown = {true, false};
  BOOST_TEST(format_flagged_csv(schema, columns, 4, {}, flags)
               == "sector,t,CONF_STATUS,CONF_RULE\n"
                  "a,700,F,\n"
                  "b,,C,HAVING COUNT(*) >= 5\n"
                  "c,,C,\"DOMINANCE(turnover, 2) <= 85\"\n"
                  "d,5,F,\n");
}

BOOST_AUTO_TEST_CASE(an_empty_field_is_null_where_the_column_is_declared_null) {
  const auto s = table("survey", {key("id"), nullable(integer("age", 0, 120)), nullable(category("region", {"n", "s"})),
                                  decimal("income", 2, 0, 1'000'000)});
  auto t = parse_csv("id,age,region,income\na,,n,10.00\nb,41,,0\nc, ,s,1\n", s);
  BOOST_TEST_REQUIRE(t.ok(), why(t));
  BOOST_TEST(t->columns[1] == (std::vector<word>{null_word, 41, null_word}), boost::test_tools::per_element());
  BOOST_TEST(t->columns[2] == (std::vector<word>{0, null_word, 1}), boost::test_tools::per_element());
  // Not declared NULL: the place and the reason, never the value.
  BOOST_TEST(failure("id,age,region,income\na,3,n,\n", s)
             == "line 2, column 4 (income): the value is missing (an empty field); every row needs a "
                "value here, or declare the column NULL where values may be missing");
}
