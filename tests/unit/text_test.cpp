#define BOOST_TEST_MODULE text
#include <boost/test/unit_test.hpp>

#include "joconde/messages/text.hpp"

#include <string>
#include <utility>
#include <vector>

using namespace joconde;

namespace {

std::vector<std::uint8_t> bytes_of(std::string_view s) {
  return {s.begin(), s.end()};
}

// The error of a parse that must fail.
template <class T>
error error_of(result<T> r) {
  BOOST_REQUIRE_MESSAGE(!r, "expected a refusal");
  return std::move(r).err();
}

} // namespace

BOOST_AUTO_TEST_CASE(trim_removes_the_given_characters_at_both_ends_only) {
  BOOST_TEST(text::trim("  a b\t") == "a b");
  BOOST_TEST(text::trim("") == "");
  BOOST_TEST(text::trim(" \t \t") == "");
  BOOST_TEST(text::trim("\ra\r") == "\ra\r"); // spaces and tabs unless told
  BOOST_TEST(text::trim("\r a \r\n", " \r\n") == "a");
  BOOST_TEST(text::trim("a", "") == "a");
  static_assert(text::trim(" x ") == "x");
}

BOOST_AUTO_TEST_CASE(iequals_and_hex_value) {
  BOOST_TEST(text::iequals("Content-Type", "content-TYPE"));
  BOOST_TEST(!text::iequals("chunked", "chunked "));
  BOOST_TEST(text::hex_value('0') == 0);
  BOOST_TEST(text::hex_value('F') == 15);
  BOOST_TEST(text::hex_value('f') == 15);
  BOOST_TEST(text::hex_value('g') == -1);
}

BOOST_AUTO_TEST_CASE(hex_in_both_styles_and_back) {
  const std::vector<std::uint8_t> data{0x00, 0x01, 0xab, 0xff};
  BOOST_TEST(text::hex(data) == "0001abff");
  BOOST_TEST(text::hex(data, text::hex_style::upper_colons) == "00:01:AB:FF");
  BOOST_TEST(text::hex(std::string_view{"AZ"}) == "415a");
  BOOST_TEST(text::hex(std::vector<std::uint8_t>{}, text::hex_style::upper_colons) == "");
  BOOST_TEST((text::from_hex("0001ABff").value() == data));
  BOOST_TEST(text::from_hex("").value().empty());
}

BOOST_AUTO_TEST_CASE(bad_hex_is_refused_saying_where) {
  auto odd = error_of(text::from_hex("abc"));
  BOOST_TEST((odd.code == errc::malformed_input));
  BOOST_TEST(odd.message.find("odd number of digits (3)") != std::string::npos, odd.message);
  auto bad = error_of(text::from_hex("00a:"));
  BOOST_TEST((bad.code == errc::malformed_input));
  BOOST_TEST(bad.message.find("position 3") != std::string::npos, bad.message);
  BOOST_TEST((error_of(text::from_hex("0x00")).code == errc::malformed_input));
  BOOST_TEST((error_of(text::from_hex(" 00 ")).code == errc::malformed_input));
  BOOST_TEST((error_of(text::from_hex("00:11")).code == errc::malformed_input));
}

// Moved from the CLI's tests with its own base64 (now this one).
BOOST_AUTO_TEST_CASE(base64_is_standard_with_padding) {
  // RFC 4648 section 10.
  const std::vector<std::pair<std::string, std::string>> vectors{
    {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [in, out] : vectors) {
    BOOST_CHECK_EQUAL(text::to_base64(in), out);
    BOOST_CHECK_EQUAL(text::to_base64(bytes_of(in)), out);
    BOOST_TEST((text::from_base64(out).value() == bytes_of(in)), out);
  }
  BOOST_CHECK_EQUAL(text::to_base64(std::string{"\xfb\xff\xbf", 3}), "+/+/");
  BOOST_CHECK_EQUAL(text::to_base64(std::string{"\x00\x00", 2}), "AAA=");
}

BOOST_AUTO_TEST_CASE(base64_round_trips_every_byte_and_large_inputs) {
  std::vector<std::uint8_t> all;
  for (int i = 0; i < 256; ++i)
    all.push_back(static_cast<std::uint8_t>(i));
  BOOST_TEST((text::from_base64(text::to_base64(all)).value() == all));
  // Longer than one OpenSSL call's block, and not a multiple of 3.
  std::vector<std::uint8_t> big((std::size_t{3} << 20) * 2 + 7);
  for (std::size_t i = 0; i < big.size(); ++i)
    big[i] = static_cast<std::uint8_t>(i * 31 + 7);
  auto encoded = text::to_base64(big);
  BOOST_TEST(encoded.size() == 4 * ((big.size() + 2) / 3));
  BOOST_TEST(encoded.find('\n') == std::string::npos);
  BOOST_TEST((text::from_base64(encoded).value() == big));
}

BOOST_AUTO_TEST_CASE(bad_base64_is_refused_saying_what_is_wrong) {
  auto cut = error_of(text::from_base64("Zm9vY"));
  BOOST_TEST((cut.code == errc::malformed_input));
  BOOST_TEST(cut.message.find("multiple of 4") != std::string::npos, cut.message);
  for (const char* bad : {"Zm9v\n", "Zm 9", "Zm9-", "Zm_v", "Z===", "====", "Zg=a", "Z=g=", "=Zg=",
                          "Zm9vYg==Zg==", "Zm8=Zm8="}) {
    auto e = error_of(text::from_base64(bad));
    BOOST_TEST_CONTEXT(bad) {
      BOOST_TEST((e.code == errc::malformed_input));
    }
  }
  auto where = error_of(text::from_base64("Zm9v!m9v"));
  BOOST_TEST(where.message.find("offset 4") != std::string::npos, where.message);
  // "Zh==" and "Zm9=" decode to the same bytes as "Zg==" and "Zm8=": one spelling only.
  for (const char* loose : {"Zh==", "Zm9="}) {
    auto e = error_of(text::from_base64(loose));
    BOOST_TEST_CONTEXT(loose) {
      BOOST_TEST(e.message.find("non-canonical") != std::string::npos, e.message);
    }
  }
}
