#define BOOST_TEST_MODULE base_schema
#include <boost/test/unit_test.hpp>

#include "joconde/engines/engine.hpp"
#include "joconde/engines/reference.hpp"
#include "joconde/engines/schema.hpp"

#include <random>

using namespace joconde;
using namespace joconde::engines;

namespace {

column_schema col(std::string name, column_type t, unsigned scale = 0) {
  column_schema c;
  c.name = std::move(name);
  c.type = t;
  c.scale = scale;
  return c;
}

std::string error_of(const result<word>& r) {
  return r ? std::string{} : r.err().message;
}

} // namespace

BOOST_AUTO_TEST_CASE(integers_and_decimals_encode_exactly) {
  auto i = col("n", column_type::integer);
  BOOST_TEST(*encode_value(i, "42") == word{42});
  BOOST_TEST(static_cast<std::int64_t>(*encode_value(i, " -7 ")) == -7);
  BOOST_TEST(static_cast<std::int64_t>(*encode_value(i, "-9223372036854775808"))
             == std::numeric_limits<std::int64_t>::min());
  BOOST_TEST(*encode_value(i, "9223372036854775807") == word{9223372036854775807ull});
  BOOST_TEST(error_of(encode_value(i, "9223372036854775808")).find("64-bit range") != std::string::npos);
  BOOST_TEST(error_of(encode_value(i, "1.5")).find("not an integer") != std::string::npos);
  for (auto bad : {"", "-", "1e3", "0x10", "12a", ".", "1.", "--1", "١"})
    BOOST_TEST(!encode_value(i, bad), "accepted \"" << bad << "\"");

  auto d = col("income", column_type::decimal, 2);
  BOOST_TEST(*encode_value(d, "12.34") == word{1234});
  BOOST_TEST(*encode_value(d, "12.3") == word{1230});
  BOOST_TEST(*encode_value(d, "12") == word{1200});
  BOOST_TEST(static_cast<std::int64_t>(*encode_value(d, "-0.05")) == -5);
  BOOST_TEST(*encode_value(d, ".5") == word{50});
  BOOST_TEST(error_of(encode_value(d, "1.234")).find("more than 2 digits") != std::string::npos);
  BOOST_TEST(decode_value(d, 1234) == "12.34");
  BOOST_TEST(decode_value(d, static_cast<word>(-5)) == "-0.05");
  BOOST_TEST(decode_value(d, 0) == "0.00");
  BOOST_TEST(decode_value(i, static_cast<word>(-7)) == "-7");
}

BOOST_AUTO_TEST_CASE(ranges_domains_booleans_and_keys) {
  auto a = col("age", column_type::integer);
  a.min = 0;
  a.max = 120;
  BOOST_TEST(*encode_value(a, "120") == word{120});
  BOOST_TEST(error_of(encode_value(a, "121")).find("outside the declared range") != std::string::npos);
  BOOST_TEST(!encode_value(a, "-1"));

  auto c = col("region", column_type::category);
  c.domain = {"north", "south", "east"};
  BOOST_TEST(*encode_value(c, "east") == word{2});
  BOOST_TEST(error_of(encode_value(c, "west")).find("not one of the declared values") != std::string::npos);
  BOOST_TEST(decode_value(c, 1) == "south");

  auto b = col("employed", column_type::boolean);
  BOOST_TEST(*encode_value(b, "true") == word{1});
  BOOST_TEST(*encode_value(b, "0") == word{0});
  BOOST_TEST(!encode_value(b, "yes"));
  BOOST_TEST(decode_value(b, 1) == "true");

  auto k = col("id", column_type::key);
  auto k1 = encode_value(k, "FR-0001");
  auto k2 = encode_value(k, "FR-0002");
  BOOST_REQUIRE(k1 && k2);
  BOOST_TEST(*k1 != *k2);
  BOOST_TEST(*k1 == *encode_value(k, "FR-0001"));
  BOOST_TEST((*k1 >> 58) == 0u, "keys are 58-bit so that joins can sort on 4 * key + side");
  // SHA-256("abc") starts ba7816bf8f01cfea; the key is its first 64 bits shifted right by 6.
  BOOST_TEST(*encode_value(k, "abc") == (word{0xba7816bf8f01cfeaull} >> 6));
  BOOST_TEST(!encode_value(k, "  "));
}

BOOST_AUTO_TEST_CASE(schemas_are_validated) {
  table_schema t;
  t.name = "persons";
  t.columns = {col("age", column_type::integer), col("income", column_type::decimal, 2)};
  BOOST_TEST(validate(t).ok());

  auto refused = [&](table_schema s, std::string phrase) {
    auto r = validate(s);
    BOOST_TEST(!r.ok(), "accepted a schema that should fail with: " << phrase);
    if (!r.ok())
      BOOST_TEST(r.err().message.find(phrase) != std::string::npos, r.err().message);
  };
  auto s = t;
  s.name = "1bad";
  refused(s, "not an identifier");
  s = t;
  s.columns.push_back(col("age", column_type::integer));
  refused(s, "declared twice");
  s = t;
  s.columns[1].scale = 13;
  refused(s, "over 12");
  s = t;
  s.columns[0].scale = 1;
  refused(s, "only for decimals");
  s = t;
  s.columns.push_back(col("region", column_type::category));
  refused(s, "1 to 256 declared values");
  s.columns.back().domain = {"a", "a"};
  refused(s, "empty or repeated");
  s = t;
  s.columns[0].min = 5;
  s.columns[0].max = 4;
  refused(s, "above its maximum");
  s = t;
  s.columns.push_back(col("ok", column_type::boolean));
  s.columns.back().max = 1;
  refused(s, "only integers and decimals declare a range");
  s = t;
  s.columns[1].unique = true;
  refused(s, "column `income` is decimal and declared UNIQUE, but only integer and key columns can be");
  s = t;
  s.columns.push_back(col("id", column_type::key));
  s.columns.back().unique = true;
  s.columns[0].unique = true;
  BOOST_TEST(validate(s).ok());
  s = t;
  s.max_rows = 0;
  refused(s, "max_rows");
  s = t;
  s.columns.clear();
  refused(s, "no columns");
}

BOOST_AUTO_TEST_CASE(share_files_round_trip_and_refuse_garbage) {
  secret x{{1, 2, 0xffffffffffffffffull}, {4, 5, 6}};
  auto bytes = encode_shares(x);
  BOOST_TEST(bytes.size() == 16u + 6 * 8);
  auto back = decode_shares(bytes, 10);
  BOOST_REQUIRE(back.ok());
  BOOST_TEST(back->a == x.a);
  BOOST_TEST(back->b == x.b);

  secret one{{7}, {}};
  auto r1 = decode_shares(encode_shares(one), 1);
  BOOST_REQUIRE(r1.ok());
  BOOST_TEST(r1->b.empty());

  BOOST_TEST(to_string(decode_shares(bytes, 2).err().code) == "too_large");
  for (std::size_t cut = 0; cut < bytes.size(); ++cut)
    BOOST_TEST(!decode_shares(std::span{bytes}.first(cut), 10).ok());
  auto extra = bytes;
  extra.push_back(0);
  BOOST_TEST(!decode_shares(extra, 10).ok());
  auto wrong = bytes;
  wrong[4] = 3;
  BOOST_TEST(!decode_shares(wrong, 10).ok());
  auto huge = bytes;
  huge[15] = 0x7f; // a row count of ~2^62 must be refused before allocating
  BOOST_TEST(!decode_shares(huge, std::numeric_limits<std::size_t>::max()).ok());
  // 2^63 rows of two components is 2^64 words: the product wraps to 0, and an empty body must
  // not pass for it (found by tests/fuzz/shares_fuzz).
  std::vector<std::uint8_t> wraps(bytes.begin(), bytes.begin() + 16);
  std::fill(wraps.begin() + 8, wraps.end(), 0);
  wraps[15] = 0x80;
  BOOST_TEST(to_string(check_shares(wraps, std::numeric_limits<std::size_t>::max()).err().code)
             == "malformed_input");
  BOOST_TEST(!decode_shares(wraps, std::numeric_limits<std::size_t>::max()).ok());
  std::mt19937_64 rng{7};
  for (int i = 0; i < 200; ++i) {
    std::vector<std::uint8_t> junk(rng() % 64);
    for (auto& byte : junk)
      byte = static_cast<std::uint8_t>(rng());
    BOOST_TEST(!decode_shares(junk, 100).ok());
  }
}

BOOST_AUTO_TEST_CASE(reference_backend_computes_in_the_clear) {
  reference_backend b;
  auto w = [](std::int64_t v) { return static_cast<word>(v); };
  auto x = b.constant(std::vector<word>{w(-7), w(3), w(0), w(1) << 40});
  auto y = b.constant(std::vector<word>{w(2), w(3), w(-1), w(3)});
  BOOST_TEST(b.reveal(b.lt(x, y)) == (std::vector<word>{1, 0, 0, 0}));
  BOOST_TEST(b.reveal(b.eq(x, y)) == (std::vector<word>{0, 1, 0, 0}));
  BOOST_TEST(b.reveal(b.trunc(x, 1)) == (std::vector<word>{w(-4), 1, 0, w(1) << 39}));
  BOOST_TEST(b.reveal(b.mul_trunc(x, y, 1)) == (std::vector<word>{w(-7), 4, 0, w(3) << 39}));
  BOOST_TEST(b.reveal(b.div(y, y, 4)) == (std::vector<word>{16, 16, 0, 16}));
  BOOST_TEST(b.reveal(b.div(x, b.constant(3, 4), 0)) == (std::vector<word>{w(-2), 1, 0, 366503875925}));
  BOOST_TEST(b.reveal(b.sqrt(b.constant(std::vector<word>{4, 2, 0}), 16))
             == (std::vector<word>{512, 362, 0}));
  BOOST_TEST(b.reveal(b.dot(x, y, 2)) == (std::vector<word>{w(-14 + 9), w(3) << 40}));
  BOOST_CHECK_THROW(b.add(x, b.constant(0, 3)), engine_failure);
  // Blocks of 3 over 4 elements: the last block is the one element left.
  BOOST_TEST(b.reveal(b.dot(x, y, 3)) == (std::vector<word>{w(-14 + 9), w(3) << 40}));
  BOOST_CHECK_THROW(b.dot(x, y, 0), engine_failure);
}
