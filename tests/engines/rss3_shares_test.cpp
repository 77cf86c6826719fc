#define BOOST_TEST_MODULE rss3_shares
#include <boost/test/unit_test.hpp>

// Client-side split and rebuild of rss3 shares.

#include "joconde/engines/rss3/rss3.hpp"

#include <random>

using joconde::engines::secret;
using joconde::engines::word;
namespace rss3 = joconde::engines::rss3;

namespace {

std::vector<word> sample(std::size_t n) {
  std::mt19937_64 gen{42 + n};
  std::vector<word> v(n);
  for (auto& x : v)
    x = gen();
  return v;
}

} // namespace

BOOST_AUTO_TEST_CASE(round_trip) {
  for (std::size_t n : {0, 1, 1000}) {
    auto values = sample(n);
    auto shares = rss3::split(values);
    BOOST_REQUIRE_EQUAL(shares.size(), 3u);
    for (unsigned i = 0; i < 3; ++i) {
      BOOST_REQUIRE_EQUAL(shares[i].a.size(), n);
      BOOST_REQUIRE_EQUAL(shares[i].b.size(), n);
      // Replication: party i's second share is party i+1's first.
      BOOST_CHECK(shares[i].b == shares[(i + 1) % 3].a);
    }
    auto back = rss3::rebuild(shares);
    BOOST_REQUIRE(back.ok());
    BOOST_CHECK(*back == values);
  }
}

BOOST_AUTO_TEST_CASE(shares_look_random) {
  std::vector<word> zeros(1000, 0);
  auto shares = rss3::split(zeros);
  std::size_t zero_words = 0;
  for (const auto& s : shares)
    for (auto v : s.a)
      zero_words += v == 0;
  BOOST_CHECK_EQUAL(zero_words, 0u);
  // Two splits of the same values differ.
  BOOST_CHECK(rss3::split(zeros)[0].a != shares[0].a);
}

BOOST_AUTO_TEST_CASE(rebuild_refuses_inconsistent_shares) {
  auto shares = rss3::split(sample(100));
  shares[2].a[17] ^= 1;
  auto r = rss3::rebuild(shares);
  BOOST_REQUIRE(!r.ok());
  BOOST_CHECK(r.err().code == joconde::errc::malformed_input);
  BOOST_CHECK_MESSAGE(r.err().message.find("party 1 and party 2 disagree on share 2 of row 17")
                        != std::string::npos, r.err().message);
}

BOOST_AUTO_TEST_CASE(rebuild_refuses_short_or_missing_shares) {
  auto shares = rss3::split(sample(100));
  auto two = std::vector<secret>{shares[0], shares[1]};
  auto r = rss3::rebuild(two);
  BOOST_REQUIRE(!r.ok());
  BOOST_CHECK(r.err().code == joconde::errc::malformed_input);
  shares[1].b.pop_back();
  auto s = rss3::rebuild(shares);
  BOOST_REQUIRE(!s.ok());
  BOOST_CHECK(s.err().code == joconde::errc::malformed_input);
}

BOOST_AUTO_TEST_CASE(connect_refuses_bad_options) {
  rss3::options o;
  o.party = 3;
  auto r = rss3::connect(o);
  BOOST_REQUIRE(!r.ok());
  BOOST_CHECK(r.err().code == joconde::errc::invalid_config);
}
