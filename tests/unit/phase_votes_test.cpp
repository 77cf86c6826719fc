#define BOOST_TEST_MODULE phase_votes
#include <boost/test/unit_test.hpp>

// The phase votes of the CPs of a CT as a plain class: a counterpart's vote for a phase this VM has
// not reached yet is kept until the machine can take it, a phase moves only when every CP voted,
// one step at a time, and a vote the machine refuses is reported and changes nothing.

#include "vm/phase_votes.hpp"

using namespace joconde;

namespace {

task_state_machine make() {
  auto m = task_state_machine::create({10'000, 20'000, 30'000}, 3, {{"mean", {"a.joconde.test"}}});
  BOOST_REQUIRE(m.ok());
  return std::move(m).value();
}

} // namespace

BOOST_AUTO_TEST_CASE(a_phase_moves_when_every_cp_voted) {
  auto m = make();
  phase_votes v;
  v.record(1, task_phase::input);
  v.record(2, task_phase::input);
  auto s = v.apply(m, 100);
  BOOST_CHECK(!s.moved);
  BOOST_CHECK(s.refused.empty());
  BOOST_CHECK(m.phase() == task_phase::initialisation);
  BOOST_CHECK(!v.voted(task_phase::input));
  v.vote(0, task_phase::input);
  BOOST_CHECK(v.voted(task_phase::input));
  s = v.apply(m, 200);
  BOOST_CHECK(s.moved);
  BOOST_CHECK(m.phase() == task_phase::input);
  BOOST_CHECK(v.recorded(task_phase::input).empty()); // forgotten once taken
  s = v.apply(m, 300);
  BOOST_CHECK(!s.moved);
}

BOOST_AUTO_TEST_CASE(early_votes_wait_for_their_phase_and_move_one_phase_a_step) {
  auto m = make();
  phase_votes v;
  // cp-1 and cp-2 are ahead: they voted for input and already for the calculation.
  for (unsigned cp : {1u, 2u}) {
    v.record(cp, task_phase::input);
    BOOST_REQUIRE(v.record(cp, "calculation").ok());
  }
  auto s = v.apply(m, 100);
  BOOST_CHECK(!s.moved);
  BOOST_CHECK(v.recorded(task_phase::calculation) == (std::set<unsigned>{1, 2}));
  v.vote(0, task_phase::input);
  s = v.apply(m, 200);
  BOOST_CHECK(s.moved);
  BOOST_CHECK(m.phase() == task_phase::input); // not further: the caller reacts to input first
  s = v.apply(m, 300);
  BOOST_CHECK(!s.moved); // cp-0 has not voted for the calculation
  BOOST_CHECK(m.votes() == (std::set<unsigned>{1, 2}));
  v.vote(0, task_phase::calculation);
  s = v.apply(m, 400);
  BOOST_CHECK(s.moved);
  BOOST_CHECK(m.phase() == task_phase::calculation);
  BOOST_CHECK(v.voted(task_phase::calculation) && !v.voted(task_phase::output));
}

BOOST_AUTO_TEST_CASE(a_vote_is_taken_once) {
  auto m = make();
  phase_votes v;
  v.record(1, task_phase::input);
  BOOST_CHECK(!v.apply(m, 100).moved);
  v.record(1, task_phase::input); // the same vote again: the machine has it, it is skipped
  auto s = v.apply(m, 200);
  BOOST_CHECK(!s.moved);
  BOOST_CHECK(s.refused.empty());
  BOOST_CHECK(m.votes() == std::set<unsigned>{1});
}

BOOST_AUTO_TEST_CASE(votes_for_no_phase_or_an_end_are_refused) {
  phase_votes v;
  for (const char* name : {"erased", "", "finished", "cancelled"}) {
    auto r = v.record(2, name);
    BOOST_REQUIRE(!r.ok());
    BOOST_CHECK(r.err().code == errc::malformed_input);
    BOOST_CHECK_EQUAL(r.err().message, "cp-2 voted for an unknown phase");
  }
  for (auto p : {task_phase::finished, task_phase::cancelled})
    BOOST_CHECK(v.recorded(p).empty());
}

BOOST_AUTO_TEST_CASE(a_refused_vote_is_reported_and_changes_nothing) {
  auto m = make();
  phase_votes v;
  v.record(1, task_phase::input);
  v.record(2, task_phase::input);
  auto s = v.apply(m, 10'000); // at the input deadline: too late to agree
  BOOST_CHECK(!s.moved);
  BOOST_REQUIRE_EQUAL(s.refused.size(), 1u); // the first refusal ends the step
  BOOST_CHECK_EQUAL(s.refused[0].first, 1u);
  BOOST_CHECK(s.refused[0].second.code == errc::timeout);
  BOOST_CHECK(m.phase() == task_phase::initialisation);
  BOOST_CHECK(m.votes().empty());
  BOOST_CHECK(v.recorded(task_phase::input) == (std::set<unsigned>{1, 2})); // still recorded
}

BOOST_AUTO_TEST_CASE(nothing_is_applied_to_an_ended_task) {
  auto m = make();
  BOOST_REQUIRE(m.cancel("stopped by the host", 50).ok());
  phase_votes v;
  for (unsigned cp : {0u, 1u, 2u})
    v.record(cp, task_phase::input);
  auto s = v.apply(m, 100);
  BOOST_CHECK(!s.moved);
  BOOST_CHECK(s.refused.empty());
  BOOST_CHECK(m.phase() == task_phase::cancelled);
}
