#define BOOST_TEST_MODULE cta_erasure
#include <boost/test/unit_test.hpp>

// What a node erases of a CTA besides its record (actors/cplane/cta_erasure.hpp): the inbox copies of
// the CTA's envelopes, its PAK records and trust overrides, for every CTA asked for at once (the
// sweep at start passes every erased one), and nothing of another CTA or another topic.

#include "support/files.hpp"

#include "cplane/cta_erasure.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>

using namespace joconde;

namespace {

const std::string gone_1 = "11111111-1111-4111-8111-111111111111";
const std::string gone_2 = "22222222-2222-4222-8222-222222222222";
const std::string kept = "33333333-3333-4333-8333-333333333333";

size_t count(const node_store& store, const lmdb::database& db) {
  auto txn = store.env->begin_read().value();
  return txn.count(db).value();
}

} // namespace

BOOST_AUTO_TEST_CASE(the_payloads_of_the_ctas_asked_for_go_and_nothing_else) {
  auto dir = test::fresh_dir("cta-erasure");
  auto store = node_store::open(dir, 16ull << 20).value();
  {
    auto txn = store.env->begin_write().value();
    int n = 0;
    for (const auto& uuid : {gone_1, gone_2, kept, std::string{}}) {
      auto record = nlohmann::json{{"topic", "cta.ctsa"}, {"ct_id", uuid}, {"payload_hex", "00"}}.dump();
      BOOST_REQUIRE(txn.put(store.inbox, "cta.ctsa" + std::string(1, '\0') + std::to_string(n++), record));
      if (uuid.empty())
        continue;
      BOOST_REQUIRE(txn.put(store.paks, uuid + std::string(1, '\0') + "pak-a", "name and key"));
      BOOST_REQUIRE(txn.put(store.paks, uuid + std::string(1, '\0') + "pak-b", "name and key"));
      BOOST_REQUIRE(txn.put(store.overrides, uuid + std::string(1, '\0') + "cp1", "override"));
    }
    // A record of another kind, and one that is not JSON: left alone.
    BOOST_REQUIRE(txn.put(store.inbox, "test.echo" + std::string(1, '\0') + "x", "[1, 2]"));
    BOOST_REQUIRE(txn.put(store.inbox, "test.echo" + std::string(1, '\0') + "y", "not json"));
    BOOST_REQUIRE(txn.commit());
  }
  auto erased = erase_cta_payloads(store, {gone_1, gone_2});
  BOOST_REQUIRE_MESSAGE(erased, (erased ? std::string{} : erased.err().describe()));
  BOOST_CHECK_EQUAL(erased->inbox, 2u);
  BOOST_CHECK_EQUAL(erased->paks, 4u);
  BOOST_CHECK_EQUAL(erased->overrides, 2u);
  BOOST_CHECK_EQUAL(count(store, store.inbox), 4u);  // kept's, the one of no CTA, the two others
  BOOST_CHECK_EQUAL(count(store, store.paks), 2u);
  BOOST_CHECK_EQUAL(count(store, store.overrides), 1u);
  {
    auto txn = store.env->begin_read().value();
    BOOST_CHECK(txn.get(store.paks, kept + std::string(1, '\0') + "pak-a").value().has_value());
  }
  // Again: nothing left to erase, and a scrub is wanted either way.
  auto again = erase_cta_payloads(store, {gone_1, gone_2});
  BOOST_REQUIRE(again);
  BOOST_CHECK_EQUAL(again->inbox + again->paks + again->overrides, 0u);
  auto scrub = store.env->scrub_if_wanted();
  BOOST_REQUIRE(scrub);
  BOOST_CHECK(scrub->has_value());
  store = node_store{};
  std::filesystem::remove_all(dir);
}
