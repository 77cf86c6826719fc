#define BOOST_TEST_MODULE rss3_ops
#include <boost/test/unit_test.hpp>

// Every rss3 backend operation through three real processes on loopback, against values computed in
// the clear by the test.

#include "rss3_test_support.hpp"

#include <cstdint>
#include <limits>
#include <random>

using joconde::engines::backend;
using joconde::engines::secret;
using joconde::engines::word;
using joconde::test::run2;
using joconde::test::run_three_parties;
using joconde::test::s;
using joconde::test::to_bytes;
using joconde::test::to_words;

namespace {

constexpr word i64_min = word{1} << 63;
constexpr word i64_max = i64_min - 1;

/// Random words below 2^bits in absolute value (signed), or full-range words for bits == 64.
std::vector<word> random_words(std::size_t n, unsigned bits, std::uint64_t seed) {
  std::mt19937_64 gen{seed};
  std::vector<word> out(n);
  for (auto& v : out) {
    v = gen();
    if (bits < 64)
      v = static_cast<word>(s(v) >> (64 - bits));
  }
  return out;
}

std::vector<word> edges() {
  return {0, 1, word(-1), 2, word(-2), i64_min, i64_max, 12345, word(-12345), word{1} << 32};
}

} // namespace

BOOST_AUTO_TEST_CASE(local_operations_and_input) {
  auto x = random_words(1000, 64, 1);
  auto y = random_words(1000, 64, 2);
  auto got = run2(x, y, [](backend& be, const secret& a, const secret& b) {
    // add, sub, add_public, mul_public, constant, sum, and an input from party 2.
    std::vector<word> z(a.size(), 7);
    auto sz = be.input(2, be.party() == 2 ? std::span<const word>{z} : std::span<const word>{}, z.size());
    auto r = be.add(be.sub(be.add_public(be.mul_public(a, 3), 11), b), sz);
    auto c = be.constant(std::vector<word>{5, 6, 7});
    auto total = be.sum(r);
    secret all{r.a, r.b};
    for (auto* part : {&c, &total}) {
      all.a.insert(all.a.end(), part->a.begin(), part->a.end());
      all.b.insert(all.b.end(), part->b.begin(), part->b.end());
    }
    auto k = be.constant(9, 2);
    all.a.insert(all.a.end(), k.a.begin(), k.a.end());
    all.b.insert(all.b.end(), k.b.begin(), k.b.end());
    return all;
  });
  BOOST_REQUIRE_EQUAL(got.size(), 1000u + 3 + 1 + 2);
  word total = 0;
  for (std::size_t j = 0; j < 1000; ++j) {
    word want = x[j] * 3 + 11 - y[j] + 7;
    BOOST_REQUIRE_EQUAL(got[j], want);
    total += want;
  }
  BOOST_CHECK_EQUAL(got[1000], 5u);
  BOOST_CHECK_EQUAL(got[1001], 6u);
  BOOST_CHECK_EQUAL(got[1002], 7u);
  BOOST_CHECK_EQUAL(got[1003], total);
  BOOST_CHECK_EQUAL(got[1004], 9u);
  BOOST_CHECK_EQUAL(got[1005], 9u);
}

BOOST_AUTO_TEST_CASE(mul_and_dot) {
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{1000}, std::size_t{100'000}}) {
    auto x = random_words(n, 64, 10 + n);
    auto y = random_words(n, 64, 20 + n);
    if (n == 1000) {
      auto e = edges();
      std::copy(e.begin(), e.end(), x.begin());
      std::copy(e.rbegin(), e.rend(), y.begin());
    }
    auto got = run2(x, y, [](backend& be, const secret& a, const secret& b) { return be.mul(a, b); });
    BOOST_REQUIRE_EQUAL(got.size(), n);
    for (std::size_t j = 0; j < n; ++j)
      BOOST_REQUIRE_EQUAL(got[j], x[j] * y[j]);
  }
  auto x = random_words(1000, 64, 3);
  auto y = random_words(1000, 64, 4);
  for (std::size_t block : {10, 7}) {
    // 1000 = 100 blocks of 10; or 142 blocks of 7 and a last one of 6.
    auto got = run2(x, y, [block](backend& be, const secret& a, const secret& b) { return be.dot(a, b, block); });
    const auto blocks = (1000 + block - 1) / block;
    BOOST_REQUIRE_EQUAL(got.size(), blocks);
    for (std::size_t k = 0; k < blocks; ++k) {
      word want = 0;
      for (std::size_t j = block * k; j < std::min<std::size_t>(block * k + block, 1000); ++j)
        want += x[j] * y[j];
      BOOST_REQUIRE_EQUAL(got[k], want);
    }
  }
}

BOOST_AUTO_TEST_CASE(lt_eq_mux) {
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{1000}, std::size_t{100'000}}) {
    auto x = random_words(n, 62, 30 + n);
    auto y = random_words(n, 62, 40 + n);
    if (n == 1000) {
      // Edges within |x - y| < 2^63, equal values, neighbours.
      std::vector<std::pair<word, word>> e{{0, 0}, {0, 1}, {1, 0}, {word(-1), 0}, {0, word(-1)},
                                           {i64_min, i64_min}, {i64_max, i64_max}, {i64_min, word(-1)},
                                           {word(-1), i64_min}, {i64_max, 0}, {0, i64_max},
                                           {i64_max - 1, i64_max}, {i64_min + 1, i64_min}};
      for (std::size_t j = 0; j < e.size(); ++j)
        std::tie(x[j], y[j]) = e[j];
      for (std::size_t j = 500; j < 600; ++j)
        y[j] = x[j];
    }
    auto got = run2(x, y, [](backend& be, const secret& a, const secret& b) {
      auto l = be.lt(a, b);
      auto q = be.eq(a, b);
      auto m = be.mux(l, a, b);
      secret all{l.a, l.b};
      for (auto* part : {&q, &m}) {
        all.a.insert(all.a.end(), part->a.begin(), part->a.end());
        all.b.insert(all.b.end(), part->b.begin(), part->b.end());
      }
      return all;
    });
    BOOST_REQUIRE_EQUAL(got.size(), 3 * n);
    for (std::size_t j = 0; j < n; ++j) {
      BOOST_REQUIRE_MESSAGE(got[j] == (s(x[j]) < s(y[j]) ? 1u : 0u), "lt " << s(x[j]) << " " << s(y[j]));
      BOOST_REQUIRE_MESSAGE(got[n + j] == (x[j] == y[j] ? 1u : 0u), "eq " << s(x[j]) << " " << s(y[j]));
      BOOST_REQUIRE_EQUAL(got[2 * n + j], s(x[j]) < s(y[j]) ? x[j] : y[j]);
    }
  }
}

BOOST_AUTO_TEST_CASE(eq_on_the_full_ring) {
  auto x = random_words(1000, 64, 50);
  auto y = random_words(1000, 64, 51);
  for (std::size_t j = 0; j < 1000; j += 3)
    y[j] = x[j];
  for (std::size_t j = 1; j < 1000; j += 7)
    y[j] = x[j] ^ (word{1} << (j % 64));
  auto got = run2(x, y, [](backend& be, const secret& a, const secret& b) { return be.eq(a, b); });
  for (std::size_t j = 0; j < 1000; ++j)
    BOOST_REQUIRE_EQUAL(got[j], x[j] == y[j] ? 1u : 0u);
}

// The documented failure probability is |x| / 2^64 per element: values below 2^36 make a failure
// of this test (1000 elements) less likely than 10^-5.
BOOST_AUTO_TEST_CASE(trunc_and_mul_trunc_within_one_unit) {
  auto x = random_words(1000, 36, 60);
  auto y = random_words(1000, 8, 61);
  auto e = std::vector<word>{0, 1, word(-1), word{1} << 20, word(-(1ll << 20)), (word{1} << 35) - 1,
                             word(-(1ll << 35))};
  std::copy(e.begin(), e.end(), x.begin());
  auto got = run2(x, y, [](backend& be, const secret& a, const secret& b) {
    auto t = be.trunc(a, 16);
    auto m = be.mul_trunc(a, b, 10);
    t.a.insert(t.a.end(), m.a.begin(), m.a.end());
    t.b.insert(t.b.end(), m.b.begin(), m.b.end());
    return t;
  });
  for (std::size_t j = 0; j < 1000; ++j) {
    std::int64_t want = s(x[j]) >> 16;
    BOOST_REQUIRE_MESSAGE(s(got[j]) == want || s(got[j]) == want + 1,
                          "trunc " << s(x[j]) << " -> " << s(got[j]));
    std::int64_t want_m = static_cast<std::int64_t>((joconde::engines::i128{s(x[j])} * s(y[j])) >> 10);
    BOOST_REQUIRE_MESSAGE(s(got[1000 + j]) == want_m || s(got[1000 + j]) == want_m + 1,
                          "mul_trunc " << s(x[j]) << " * " << s(y[j]) << " -> " << s(got[1000 + j]));
  }
}

BOOST_AUTO_TEST_CASE(wrong_lengths_fail_cleanly) {
  auto out = run_three_parties([](backend& be, unsigned) {
    auto a = be.constant(1, 3);
    auto b = be.constant(1, 4);
    return to_bytes(be.reveal(be.mul(a, b)));
  });
  for (unsigned i = 0; i < 3; ++i) {
    BOOST_CHECK(!out[i].ok);
    BOOST_CHECK_MESSAGE(out[i].error.find("invalid_state") != std::string::npos, out[i].error);
  }
}

BOOST_AUTO_TEST_CASE(empty_vectors_everywhere) {
  std::vector<word> none;
  auto got = run2(none, none, [](backend& be, const secret& a, const secret& b) {
    secret all;
    for (const auto& r : {be.mul(a, b), be.dot(a, b, 1), be.trunc(a, 3), be.mul_trunc(a, b, 3), be.lt(a, b),
                          be.eq(a, b), be.mux(a, a, b), be.div(a, b, 8), be.sqrt(a, 8), be.sum(a)}) {
      all.a.insert(all.a.end(), r.a.begin(), r.a.end());
      all.b.insert(all.b.end(), r.b.begin(), r.b.end());
    }
    return all;
  });
  // Only the sum of no elements has an element: 0.
  BOOST_REQUIRE_EQUAL(got.size(), 1u);
  BOOST_CHECK_EQUAL(got[0], 0u);
}

BOOST_AUTO_TEST_CASE(lt_over_several_blocks) {
  std::size_t n = joconde::engines::rss3::block_elements + 5;
  std::vector<word> x(n);
  std::vector<word> y(n);
  for (std::size_t j = 0; j < n; ++j) {
    x[j] = static_cast<word>(static_cast<std::int64_t>(j % 7) - 3);
    y[j] = static_cast<word>(static_cast<std::int64_t>(j % 5) - 2);
  }
  auto got = run2(x, y, [](backend& be, const secret& a, const secret& b) { return be.lt(a, b); });
  BOOST_REQUIRE_EQUAL(got.size(), n);
  for (std::size_t j = 0; j < n; ++j)
    BOOST_REQUIRE_EQUAL(got[j], s(x[j]) < s(y[j]) ? 1u : 0u);
}

BOOST_AUTO_TEST_CASE(reveal_lt_opens_what_lt_computes_in_fewer_rounds) {
  // The signed extremes, equal values, neighbours, and more than one block; every party gets the
  // bits of reveal(lt(x, y)), in fewer rounds and with fewer bytes.
  const std::int64_t big = (std::int64_t{1} << 62) - 1;
  std::vector<word> x{word(big), word(-big), 0, 5, word(-1), 7, word(big - 1)};
  std::vector<word> y{word(-big), word(big), 0, 6, 0, 7, word(big)};
  const std::size_t n = joconde::engines::rss3::block_elements + 3;
  for (std::size_t j = x.size(); j < n; ++j) {
    x.push_back(static_cast<word>(static_cast<std::int64_t>(j * 2654435761u % 1000) - 500));
    y.push_back(static_cast<word>(static_cast<std::int64_t>(j * 40503u % 1000) - 500));
  }
  auto out = run_three_parties([&](backend& be, unsigned party) {
    auto sx = be.input(0, party == 0 ? std::span<const word>{x} : std::span<const word>{}, n);
    auto sy = be.input(1, party == 1 ? std::span<const word>{y} : std::span<const word>{}, n);
    auto before = be.stats();
    auto opened = be.reveal_lt(sx, sy);
    auto middle = be.stats();
    auto converted = be.reveal(be.lt(sx, sy));
    auto after = be.stats();
    std::vector<word> all = opened;
    all.insert(all.end(), converted.begin(), converted.end());
    all.push_back(middle.rounds - before.rounds);
    all.push_back(after.rounds - middle.rounds);
    all.push_back(middle.bytes_sent - before.bytes_sent);
    all.push_back(after.bytes_sent - middle.bytes_sent);
    return to_bytes(all);
  });
  for (unsigned i = 0; i < 3; ++i)
    BOOST_REQUIRE_MESSAGE(out[i].ok, "party " << i << ": " << out[i].error);
  for (unsigned i = 0; i < 3; ++i) {
    auto got = to_words(out[i].bytes);
    BOOST_REQUIRE_EQUAL(got.size(), 2 * n + 4);
    for (std::size_t j = 0; j < n; ++j) {
      BOOST_REQUIRE_EQUAL(got[j], s(x[j]) < s(y[j]) ? 1u : 0u);
      BOOST_REQUIRE_EQUAL(got[n + j], got[j]);
    }
    BOOST_TEST_MESSAGE("party " << i << ": reveal_lt " << got[2 * n] << " rounds, " << got[2 * n + 2]
                       << " bytes; reveal(lt) " << got[2 * n + 1] << " rounds, " << got[2 * n + 3] << " bytes");
    // Two blocks: per block the two conversion rounds make way for the opening, and reveal's own
    // round goes.
    BOOST_CHECK_EQUAL(got[2 * n] + 2 + 1, got[2 * n + 1]);
    BOOST_CHECK_LT(got[2 * n + 2], got[2 * n + 3]);
  }
}

BOOST_AUTO_TEST_CASE(parties_disagreeing_on_a_length_fail) {
  // Party 0 works on one element more; the first frames have the same length, but they are sealed
  // for messages of different lengths.
  joconde::test::three_options o;
  o.io_timeout = std::chrono::milliseconds(5000);
  auto out = run_three_parties(
    [](backend& be, unsigned party) {
      std::size_t n = joconde::engines::rss3::frame_words + (party == 0 ? 1 : 0);
      auto a = be.constant(3, n);
      std::vector<word> all;
      for (int k = 0; k < 3; ++k) {
        a = be.mul(a, a);
        auto v = be.reveal(a);
        all.insert(all.end(), v.begin(), v.end());
      }
      return to_bytes(all);
    },
    o);
  for (unsigned i = 0; i < 3; ++i) {
    BOOST_CHECK_MESSAGE(!out[i].ok, "party " << i << " returned a result");
    BOOST_CHECK_MESSAGE(out[i].error.find("protocol_error") != std::string::npos, out[i].error);
  }
}

BOOST_AUTO_TEST_CASE(bytes_sent_are_counted_by_the_party_they_go_to) {
  // A multiplication and an opening send to the other parties:
  // whatever the operations, the per-party counts add up to the total and never name the sender.
  std::vector<word> x{1, 2, 3, 4, 5};
  auto out = run_three_parties([&](backend& be, unsigned party) {
    auto sx = be.input(0, party == 0 ? std::span<const word>{x} : std::span<const word>{}, x.size());
    auto before = be.stats();
    auto opened = be.reveal(be.mul(sx, sx));
    auto after = be.stats();
    std::uint64_t to_others = 0;
    bool names_self = false;
    for (const auto& [to, n] : after.bytes_to) {
      names_self = names_self || to == party || to > 2;
      to_others += n - (before.bytes_to.count(to) ? before.bytes_to.at(to) : 0);
    }
    std::vector<word> all = opened;
    all.push_back(after.bytes_sent - before.bytes_sent);
    all.push_back(to_others);
    all.push_back(names_self ? 1 : 0);
    all.push_back(after.bytes_to.size());
    return to_bytes(all);
  });
  for (unsigned i = 0; i < 3; ++i) {
    BOOST_REQUIRE_MESSAGE(out[i].ok, "party " << i << ": " << out[i].error);
    auto got = to_words(out[i].bytes);
    BOOST_REQUIRE_EQUAL(got.size(), x.size() + 4);
    for (std::size_t j = 0; j < x.size(); ++j)
      BOOST_CHECK_EQUAL(got[j], x[j] * x[j]);
    BOOST_CHECK_GT(got[x.size()], 0u);
    BOOST_CHECK_EQUAL(got[x.size()], got[x.size() + 1]);
    BOOST_CHECK_EQUAL(got[x.size() + 2], 0u);
    BOOST_CHECK_GE(got[x.size() + 3], 1u);
  }
}
