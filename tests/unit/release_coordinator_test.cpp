#define BOOST_TEST_MODULE release_coordinator
#include <boost/test/unit_test.hpp>

// The release coordinator of a CT VM as a plain class: CP 0 decides which download of an output for
// a peer gets the shares, the other CPs propose and then follow its decision, sessions of any other
// download are refused, the decided download's sessions are served once, and a session the CPs do
// not back in time is refused.

#include "vm/release_coordinator.hpp"

#include <algorithm>

using namespace joconde;

namespace {

const output_peer mean_a{"mean", "a.joconde.test"};
const output_peer mean_b{"mean", "b.joconde.test"};

release_waiter waiter(std::uint64_t ticket, std::int64_t deadline_ms = 15'000) {
  return {ticket, "fp-" + std::to_string(ticket), "analyst " + std::to_string(ticket), deadline_ms};
}

std::vector<std::uint64_t> tickets(const std::vector<release_refusal>& rs) {
  std::vector<std::uint64_t> out;
  for (const auto& r : rs)
    out.push_back(r.ticket);
  return out;
}

std::vector<std::uint64_t> tickets(const std::vector<release_waiter>& ws) {
  std::vector<std::uint64_t> out;
  for (const auto& w : ws)
    out.push_back(w.ticket);
  return out;
}

const std::string served_elsewhere = "another download of output mean for peer a.joconde.test is being "
                                     "served (each peer retrieves an output once)";

} // namespace

BOOST_AUTO_TEST_CASE(cp0_decides_the_first_download_it_backs_and_tells_every_cp) {
  release_coordinator c{0};
  BOOST_CHECK(c.decides());
  BOOST_REQUIRE(c.wait(mean_a, "r1", waiter(1)).ok());
  auto b = c.back(mean_a, "r1");
  BOOST_CHECK(b.send == release_coordinator::notice::to_all);
  BOOST_CHECK(b.refused.empty());
  BOOST_CHECK_EQUAL(c.decided(mean_a), "r1");
  auto served = c.take_decided(mean_a);
  BOOST_CHECK(tickets(served) == std::vector<std::uint64_t>{1});
  BOOST_CHECK_EQUAL(served[0].name, "analyst 1");
  BOOST_CHECK(c.take_decided(mean_a).empty()); // served once
  // Backing it again (a retry, or another CP's proposal) tells nobody anything new.
  BOOST_CHECK(c.back(mean_a, "r1").send == release_coordinator::notice::none);
}

BOOST_AUTO_TEST_CASE(a_decision_refuses_every_other_download_of_that_output_and_peer) {
  release_coordinator c{0};
  BOOST_REQUIRE(c.wait(mean_a, "r2", waiter(2)).ok()); // waits here, not backed yet
  BOOST_REQUIRE(c.wait(mean_a, "r3", waiter(3)).ok());
  BOOST_REQUIRE(c.wait(mean_b, "r4", waiter(4)).ok()); // another peer: not affected
  auto b = c.back(mean_a, "r1"); // proposed by another CP first
  BOOST_CHECK(b.send == release_coordinator::notice::to_all);
  BOOST_CHECK(tickets(b.refused) == (std::vector<std::uint64_t>{2, 3}));
  BOOST_CHECK(b.refused[0].why.code == errc::already_exists);
  BOOST_CHECK_EQUAL(b.refused[0].why.message, served_elsewhere);
  // A later session of another download is refused at once, one of the decided one waits.
  auto late = c.wait(mean_a, "r5", waiter(5));
  BOOST_REQUIRE(!late.ok());
  BOOST_CHECK(late.err().code == errc::already_exists);
  BOOST_CHECK(c.wait(mean_a, "r1", waiter(6)).ok());
  BOOST_CHECK(tickets(c.take_decided(mean_a)) == std::vector<std::uint64_t>{6});
  BOOST_CHECK(c.decided(mean_b).empty());
  BOOST_CHECK(c.take_decided(mean_b).empty());
}

BOOST_AUTO_TEST_CASE(other_cps_propose_until_cp0_decides_then_follow_it) {
  release_coordinator c{2};
  BOOST_CHECK(!c.decides());
  BOOST_REQUIRE(c.wait(mean_a, "r1", waiter(1)).ok());
  auto b = c.back(mean_a, "r1");
  BOOST_CHECK(b.send == release_coordinator::notice::to_leader);
  BOOST_CHECK(c.decided(mean_a).empty());
  BOOST_CHECK(c.take_decided(mean_a).empty()); // nothing is released before CP 0 decides
  BOOST_REQUIRE(c.wait(mean_a, "r2", waiter(2)).ok());
  BOOST_CHECK(c.back(mean_a, "r2").send == release_coordinator::notice::to_leader);
  // CP 0 decided r2 (another CP's client asked it first): r1's session here is refused.
  auto refused = c.decide(mean_a, "r2");
  BOOST_CHECK(tickets(refused) == std::vector<std::uint64_t>{1});
  BOOST_CHECK_EQUAL(refused[0].why.message, served_elsewhere);
  BOOST_CHECK(c.decide(mean_a, "r1").empty()); // one decision: a second one changes nothing
  BOOST_CHECK_EQUAL(c.decided(mean_a), "r2");
  BOOST_CHECK(c.back(mean_a, "r2").send == release_coordinator::notice::none);
  BOOST_CHECK(tickets(c.take_decided(mean_a)) == std::vector<std::uint64_t>{2});
}

BOOST_AUTO_TEST_CASE(a_decision_may_come_before_the_session) {
  release_coordinator c{1};
  BOOST_CHECK(c.decide(mean_a, "r1").empty());
  BOOST_CHECK(c.take_decided(mean_a).empty()); // its session has not reached this CP yet
  BOOST_REQUIRE(c.wait(mean_a, "r1", waiter(1)).ok());
  BOOST_CHECK(tickets(c.take_decided(mean_a)) == std::vector<std::uint64_t>{1});
}

BOOST_AUTO_TEST_CASE(sessions_not_backed_in_time_are_refused) {
  release_coordinator c{1};
  BOOST_REQUIRE(c.wait(mean_a, "r1", waiter(1, 15'000)).ok());
  BOOST_REQUIRE(c.wait(mean_b, "r2", waiter(2, 16'000)).ok());
  BOOST_CHECK(c.expire(14'999).empty());
  auto expired = c.expire(15'000);
  BOOST_CHECK(tickets(expired) == std::vector<std::uint64_t>{1});
  BOOST_CHECK(expired[0].why.code == errc::timeout);
  BOOST_CHECK_EQUAL(expired[0].why.message, "the other Computing Parties did not back this download of "
                                            "mean for a.joconde.test in time");
  BOOST_CHECK(c.expire(15'500).empty()); // refused once
  // CP 0's decision for r1 comes too late: nothing waits for it any more.
  BOOST_CHECK(c.decide(mean_a, "r1").empty());
  BOOST_CHECK(c.take_decided(mean_a).empty());
  BOOST_CHECK(tickets(c.expire(16'000)) == std::vector<std::uint64_t>{2});
}

BOOST_AUTO_TEST_CASE(the_end_of_the_task_takes_every_waiting_session) {
  release_coordinator c{0};
  BOOST_REQUIRE(c.wait(mean_a, "r1", waiter(1)).ok());
  BOOST_REQUIRE(c.wait(mean_b, "r2", waiter(2)).ok());
  (void)c.back(mean_a, "r1");
  auto all = tickets(c.take_all());
  std::sort(all.begin(), all.end());
  BOOST_CHECK(all == (std::vector<std::uint64_t>{1, 2}));
  BOOST_CHECK(c.take_decided(mean_a).empty());
  BOOST_CHECK(c.expire(1'000'000).empty());
  BOOST_CHECK(c.decided(mean_a).empty());
}
