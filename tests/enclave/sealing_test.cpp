#define BOOST_TEST_MODULE sealing
#include <boost/test/unit_test.hpp>

// Sealing under an in-memory AES-256-GCM key (DESIGN.md §8): round trip and every way a sealed blob
// can be wrong, and the crypto-erasure of the key.

#include "joconde/enclave/sealing.hpp"

#include "enclave_test_support.hpp"

#include <string>
#include <type_traits>

using namespace joconde;
using namespace joconde::enclave;

using joconde::test::must;
using joconde::test::text;

namespace {

const bytes slot_id = text("slot ct-7/input-2");

} // namespace

static_assert(!std::is_copy_constructible_v<sealing_key>);
static_assert(!std::is_copy_assignable_v<sealing_key>);

BOOST_AUTO_TEST_CASE(round_trip) {
  auto key = must(sealing_key::generate());
  BOOST_TEST(!key.erased());
  for (auto plain : {text(""), text("x"), text("share rows of input-2, 64 bytes each ...")}) {
    auto sealed = must(key.seal(plain, slot_id));
    BOOST_TEST(sealed.size() == plain.size() + seal_overhead);
    BOOST_TEST(must(key.unseal(sealed, slot_id)) == plain);
  }
  auto no_ad = must(key.seal(text("data"), {}));
  BOOST_TEST(must(key.unseal(no_ad, {})) == text("data"));
}

BOOST_AUTO_TEST_CASE(two_seals_of_the_same_plaintext_differ) {
  auto key = must(sealing_key::generate());
  auto a = must(key.seal(text("same"), slot_id));
  auto b = must(key.seal(text("same"), slot_id));
  BOOST_TEST(a != b);
  BOOST_TEST(!std::equal(a.begin(), a.begin() + 12, b.begin()));
}

BOOST_AUTO_TEST_CASE(tampering_with_any_byte_fails_the_tag) {
  auto key = must(sealing_key::generate());
  auto sealed = must(key.seal(text("secret shares"), slot_id));
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    for (std::uint8_t flip : {0x01, 0x80}) {
      auto bad = sealed;
      bad[i] ^= flip;
      auto res = key.unseal(bad, slot_id);
      BOOST_REQUIRE_MESSAGE(!res, "byte " << i << " flipped and unsealed");
      BOOST_REQUIRE_MESSAGE(res.err().code == errc::bad_mac, res.err().describe());
    }
  }
}

BOOST_AUTO_TEST_CASE(wrong_associated_data_or_key_fails_the_tag) {
  auto key = must(sealing_key::generate());
  auto sealed = must(key.seal(text("secret shares"), slot_id));
  for (auto ad : {text("slot ct-7/input-3"), text(""), text("slot ct-7/input-2 ")}) {
    auto res = key.unseal(sealed, ad);
    BOOST_REQUIRE(!res);
    BOOST_TEST(to_string(res.err().code) == "bad_mac");
    BOOST_TEST(res.err().message.find("associated data") != std::string::npos);
  }
  auto other = must(sealing_key::generate());
  BOOST_TEST(to_string(other.unseal(sealed, slot_id).err().code) == "bad_mac");
}

BOOST_AUTO_TEST_CASE(truncated_blobs_are_malformed_or_fail_the_tag) {
  auto key = must(sealing_key::generate());
  auto sealed = must(key.seal(text("secret shares"), slot_id));
  for (std::size_t n = 0; n < sealed.size(); ++n) {
    auto res = key.unseal(std::span{sealed}.first(n), slot_id);
    BOOST_REQUIRE_MESSAGE(!res, n << " bytes unsealed");
    auto want = n < seal_overhead ? errc::malformed_input : errc::bad_mac;
    BOOST_REQUIRE_MESSAGE(res.err().code == want, n << " bytes: " << res.err().describe());
  }
}

BOOST_AUTO_TEST_CASE(erasing_the_key_zeroises_it_and_loses_the_data) {
  auto key = must(sealing_key::generate());
  auto sealed = must(key.seal(text("secret shares"), slot_id));
  key.erase();
  BOOST_TEST(key.erased());
  BOOST_TEST(to_string(key.unseal(sealed, slot_id).err().code) == "invalid_state");
  BOOST_TEST(to_string(key.seal(text("more"), slot_id).err().code) == "invalid_state");
}

BOOST_AUTO_TEST_CASE(moving_a_key_zeroises_the_source) {
  auto key = must(sealing_key::generate());
  auto sealed = must(key.seal(text("secret shares"), slot_id));
  sealing_key moved{std::move(key)};
  BOOST_TEST(key.erased()); // NOLINT(bugprone-use-after-move): the moved-from state is documented
  BOOST_TEST(!moved.erased());
  BOOST_TEST(must(moved.unseal(sealed, slot_id)) == text("secret shares"));
  auto other = must(sealing_key::generate());
  other = std::move(moved);
  BOOST_TEST(moved.erased()); // NOLINT(bugprone-use-after-move)
  BOOST_TEST(must(other.unseal(sealed, slot_id)) == text("secret shares"));
}
