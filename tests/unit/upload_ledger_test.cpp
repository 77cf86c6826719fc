#define BOOST_TEST_MODULE upload_ledger
#include <boost/test/unit_test.hpp>

// The upload ledger of a CT VM as a plain class: an upload completes at a CP only when it is sealed
// there and at every other CP, in whatever order they say so; it fails everywhere at its deadline or
// when a CP fails it, and a failed request id is never taken again.

#include "vm/upload_ledger.hpp"

using namespace joconde;

namespace {

constexpr std::int64_t confirm_ms = 20'000;

/// The ledger of cp-1 of three CPs.
upload_ledger make() {
  return upload_ledger{3, 1, confirm_ms};
}

vm::sealed_content sealed(std::uint64_t rows = 10) {
  return {"/slots/a.u1.sealed", rows, std::string(64, 'a')};
}

} // namespace

BOOST_AUTO_TEST_CASE(an_upload_completes_once_sealed_here_and_at_every_cp) {
  auto l = make();
  l.begin("u1", "a", 1000);
  BOOST_CHECK(!l.idle());
  BOOST_CHECK_EQUAL(l.pending().at("u1").deadline_ms, 1000 + confirm_ms);
  BOOST_CHECK(l.sealed_here("u1", sealed()));
  BOOST_CHECK(l.complete("u1") == nullptr); // sealed here only
  BOOST_CHECK(l.sealed_at(0, "u1", "a", 1100));
  BOOST_CHECK(l.complete("u1") == nullptr); // two of three
  BOOST_CHECK(l.sealed_at(2, "u1", "a", 1200));
  const auto* p = l.complete("u1");
  BOOST_REQUIRE(p != nullptr);
  BOOST_CHECK_EQUAL(p->slot, "a");
  BOOST_CHECK(p->sealed_at == (std::set<unsigned>{0, 1, 2}));
  BOOST_CHECK_EQUAL(p->local->rows, 10u);
  l.forget("u1");
  BOOST_CHECK(l.idle());
  BOOST_CHECK(!l.failed("u1"));
}

BOOST_AUTO_TEST_CASE(a_large_upload_has_time_to_arrive_and_be_sealed) {
  // 10^7 rows of 3 columns are 480 MB of shares per CP: 57 s more before the confirmation time.
  BOOST_CHECK_EQUAL(transfer_ms(10'000'000, 3), 57'000);
  BOOST_CHECK_EQUAL(transfer_ms(1000, 3), 0);
  BOOST_CHECK_EQUAL(transfer_ms(std::uint64_t{1} << 40, 1), transfer_ms(std::uint64_t{1} << 32, 1));
  auto l = make();
  l.begin("u1", "a", 1000, transfer_ms(10'000'000, 3));
  BOOST_CHECK_EQUAL(l.pending().at("u1").deadline_ms, 1000 + 57'000 + confirm_ms);
  BOOST_CHECK(l.overdue(1000 + confirm_ms).empty());
  BOOST_CHECK(l.overdue(1000 + 57'000 + confirm_ms) == std::vector<std::string>{"u1"});
}

BOOST_AUTO_TEST_CASE(counterparts_may_announce_an_upload_before_it_begins_here) {
  auto l = make();
  BOOST_CHECK(l.sealed_at(0, "u1", "a", 500));
  BOOST_CHECK(l.sealed_at(2, "u1", "a", 600));
  BOOST_CHECK(l.complete("u1") == nullptr); // not sealed here: nothing is complete without this CP
  l.begin("u1", "a", 900);
  BOOST_CHECK_EQUAL(l.pending().at("u1").deadline_ms, 500 + confirm_ms); // the first announcement's
  BOOST_CHECK(l.sealed_here("u1", sealed()));
  BOOST_CHECK(l.complete("u1") != nullptr);
}

BOOST_AUTO_TEST_CASE(an_announcement_for_another_slot_is_ignored) {
  auto l = make();
  l.begin("u1", "a", 1000);
  BOOST_CHECK(!l.sealed_at(0, "u1", "b", 1100));
  BOOST_CHECK(l.pending().at("u1").sealed_at.empty());
  BOOST_CHECK_EQUAL(l.pending().at("u1").slot, "a");
}

BOOST_AUTO_TEST_CASE(shares_sealed_after_the_upload_failed_are_refused) {
  auto l = make();
  BOOST_CHECK(!l.sealed_here("u9", sealed())); // never begun, or failed and forgotten
  BOOST_CHECK(l.idle());
  l.begin("u1", "a", 1000);
  BOOST_CHECK(l.fail("u1").has_value());
  BOOST_CHECK(!l.sealed_here("u1", sealed()));
  BOOST_CHECK(l.idle());
}

BOOST_AUTO_TEST_CASE(a_failed_upload_is_taken_out_and_its_id_remembered) {
  auto l = make();
  l.begin("u1", "a", 1000);
  BOOST_REQUIRE(l.sealed_here("u1", sealed(7)));
  auto p = l.fail("u1");
  BOOST_REQUIRE(p.has_value());
  BOOST_CHECK_EQUAL(p->slot, "a");
  BOOST_REQUIRE(p->local.has_value());
  BOOST_CHECK_EQUAL(p->local->path, "/slots/a.u1.sealed"); // for the owner to remove
  BOOST_CHECK(l.failed("u1"));
  BOOST_CHECK(l.idle());
  // A failure reported for an upload this CP never saw is remembered too.
  BOOST_CHECK(!l.fail("u2").has_value());
  BOOST_CHECK(l.failed("u2"));
}

BOOST_AUTO_TEST_CASE(uploads_are_overdue_at_their_deadline) {
  auto l = make();
  l.begin("u1", "a", 1000);
  l.begin("u2", "b", 5000);
  BOOST_CHECK(l.overdue(1000 + confirm_ms - 1).empty());
  BOOST_CHECK(l.overdue(1000 + confirm_ms) == std::vector<std::string>{"u1"});
  BOOST_CHECK(l.overdue(5000 + confirm_ms) == (std::vector<std::string>{"u1", "u2"}));
  BOOST_CHECK_EQUAL(l.pending().size(), 2u); // overdue() only says which; fail() takes them out
}

BOOST_AUTO_TEST_CASE(the_end_of_the_task_takes_every_pending_upload) {
  auto l = make();
  l.begin("u1", "a", 1000);
  BOOST_CHECK(l.sealed_at(2, "u2", "b", 1000));
  auto all = l.take_all();
  BOOST_CHECK_EQUAL(all.size(), 2u);
  BOOST_CHECK(l.idle());
  BOOST_CHECK(!l.failed("u1"));
}
