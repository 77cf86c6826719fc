#define BOOST_TEST_MODULE task_state
#include <boost/test/unit_test.hpp>

// The phases of a CT in a CT VM as a plain class: agreement of every party, the deadlines, outputs
// released once to each peer named on them (and the task finished when every named peer has every
// output it is owed, or at the output deadline), cancellation, and that a refused event changes
// nothing.

#include "vm/task_state.hpp"

#include <functional>
#include <optional>
#include <tuple>

using namespace joconde;

namespace {

const task_deadlines deadlines{10'000, 20'000, 30'000};
const std::string peer_a = "a.joconde.test";
const std::string peer_b = "b.joconde.test";
const std::string stranger = "c.joconde.test";

/// "mean" goes to a and b, "total" to a only: three retrievals owed.
task_state_machine make() {
  auto m = task_state_machine::create(deadlines, 3, {{"mean", {peer_a, peer_b}}, {"total", {peer_a}}});
  BOOST_REQUIRE(m.ok());
  return std::move(m).value();
}

/// Every retrieval `m` owes, made at `now`; the last one finishes the task.
void retrieve_all(task_state_machine& m, int64_t now) {
  for (auto [key, peer] : m.missing())
    BOOST_REQUIRE(m.output_retrieved(key, peer, now).ok());
  BOOST_REQUIRE(m.phase() == task_phase::finished);
}

/// Everything a refusal must leave as it was.
struct snapshot {
  task_phase phase;
  std::string reason;
  std::set<unsigned> votes;
  output_peers retrieved;
  size_t transitions;

  explicit snapshot(const task_state_machine& m)
    : phase(m.phase()), reason(m.reason()), votes(m.votes()), retrieved(m.retrieved()),
      transitions(m.history().size()) {
    // nop
  }

  bool operator==(const snapshot& o) const {
    return std::tie(phase, reason, votes, retrieved, transitions)
           == std::tie(o.phase, o.reason, o.votes, o.retrieved, o.transitions);
  }
};

/// `event` fails with `code` and `m` does not change.
template <class T>
void refused(task_state_machine& m, const std::function<result<T>(task_state_machine&)>& event,
             errc code) {
  snapshot before{m};
  auto r = event(m);
  BOOST_REQUIRE_MESSAGE(!r.ok(), "accepted, but should have been refused");
  BOOST_CHECK_MESSAGE(r.err().code == code,
                      "refused with " << to_string(r.err().code) << ": " << r.err().message);
  BOOST_CHECK(snapshot{m} == before);
}

void refused_vote(task_state_machine& m, unsigned party, task_phase next, int64_t now, errc code) {
  refused<bool>(m, [&](task_state_machine& x) { return x.agree(party, next, now); }, code);
}

/// A retrieval of `key` by `peer` is refused with `code`, and may_retrieve says the same.
void refused_retrieval(task_state_machine& m, const std::string& key, const std::string& peer,
                       int64_t now, errc code) {
  refused<void>(m, [&](task_state_machine& x) { return x.may_retrieve(key, peer, now); }, code);
  refused<bool>(m, [&](task_state_machine& x) { return x.output_retrieved(key, peer, now); }, code);
}

/// All three parties agree to move to `next`; the third vote moves the machine.
void all_agree(task_state_machine& m, task_phase next, int64_t now) {
  auto r0 = m.agree(0, next, now);
  auto r1 = m.agree(1, next, now);
  BOOST_REQUIRE(r0.ok() && r1.ok());
  BOOST_CHECK(!*r0 && !*r1);
  auto r2 = m.agree(2, next, now);
  BOOST_REQUIRE(r2.ok());
  BOOST_CHECK(*r2);
  BOOST_REQUIRE(m.phase() == next);
}

/// A machine moved to `p` (initialisation ... output) by agreement.
task_state_machine in_phase(task_phase p) {
  auto m = make();
  for (auto next : {task_phase::input, task_phase::calculation, task_phase::output}) {
    if (m.phase() == p)
      break;
    all_agree(m, next, 1000);
  }
  BOOST_REQUIRE(m.phase() == p);
  return m;
}

const task_phase active[] = {task_phase::initialisation, task_phase::input, task_phase::calculation,
                             task_phase::output};

} // namespace

BOOST_AUTO_TEST_CASE(phase_names_round_trip) {
  for (auto p : {task_phase::initialisation, task_phase::input, task_phase::calculation,
                 task_phase::output, task_phase::finished, task_phase::cancelled})
    BOOST_CHECK(task_phase_from_string(to_string(p)) == p);
  BOOST_CHECK_EQUAL(to_string(task_phase::initialisation), "initialisation");
  BOOST_CHECK(!task_phase_from_string("erased"));
  BOOST_CHECK(is_terminal(task_phase::finished) && is_terminal(task_phase::cancelled));
  BOOST_CHECK(!is_terminal(task_phase::output));
}

BOOST_AUTO_TEST_CASE(create_refuses_nonsense) {
  const output_peers mean{{"mean", {peer_a}}};
  auto no_parties = task_state_machine::create(deadlines, 0, mean);
  BOOST_REQUIRE(!no_parties.ok());
  BOOST_CHECK(no_parties.err().code == errc::malformed_input);
  auto no_outputs = task_state_machine::create(deadlines, 3, {});
  BOOST_REQUIRE(!no_outputs.ok());
  BOOST_CHECK(no_outputs.err().code == errc::malformed_input);
  auto nobodys = task_state_machine::create(deadlines, 3, {{"mean", {peer_a}}, {"total", {}}});
  BOOST_REQUIRE(!nobodys.ok());
  BOOST_CHECK(nobodys.err().code == errc::malformed_input);
  BOOST_CHECK_EQUAL(nobodys.err().message, "output total is named for no peer");
  auto unordered = task_state_machine::create({10'000, 5'000, 30'000}, 3, mean);
  BOOST_REQUIRE(!unordered.ok());
  BOOST_CHECK(unordered.err().code == errc::malformed_input);
  auto late_output = task_state_machine::create({10'000, 20'000, 15'000}, 3, mean);
  BOOST_REQUIRE(!late_output.ok());
  BOOST_CHECK(late_output.err().code == errc::malformed_input);
}

BOOST_AUTO_TEST_CASE(a_task_runs_to_completion) {
  auto m = make();
  BOOST_CHECK(m.phase() == task_phase::initialisation);
  BOOST_CHECK_EQUAL(m.parties(), 3u);
  BOOST_CHECK_EQUAL(m.deadlines().output_ms, 30'000);
  all_agree(m, task_phase::input, 1000);
  all_agree(m, task_phase::calculation, 9000);
  all_agree(m, task_phase::output, 19'000);
  BOOST_CHECK_EQUAL(m.missing().size(), 3u);
  using owed = std::vector<std::pair<std::string, std::string>>;
  for (const auto& [key, peer] : owed{{"mean", peer_a}, {"total", peer_a}}) {
    auto r = m.output_retrieved(key, peer, 25'000);
    BOOST_REQUIRE(r.ok());
    BOOST_CHECK(!*r);
    BOOST_CHECK(m.phase() == task_phase::output);
  }
  // a has all it is owed; b still waits for "mean": the task waits for b.
  BOOST_CHECK(m.missing() == (owed{{"mean", peer_b}}));
  auto last = m.output_retrieved("mean", peer_b, 26'000);
  BOOST_REQUIRE(last.ok());
  BOOST_CHECK(*last);
  BOOST_CHECK(m.missing().empty());
  BOOST_CHECK(m.phase() == task_phase::finished);
  BOOST_CHECK(m.reason().empty());
  const auto& h = m.history();
  BOOST_REQUIRE_EQUAL(h.size(), 4u);
  BOOST_CHECK(h[0].from == task_phase::initialisation && h[0].to == task_phase::input);
  BOOST_CHECK_EQUAL(h[0].at_ms, 1000);
  BOOST_CHECK(h[1].from == task_phase::input && h[1].to == task_phase::calculation);
  BOOST_CHECK_EQUAL(h[1].at_ms, 9000);
  BOOST_CHECK(h[2].from == task_phase::calculation && h[2].to == task_phase::output);
  BOOST_CHECK_EQUAL(h[2].at_ms, 19'000);
  BOOST_CHECK(h[3].from == task_phase::output && h[3].to == task_phase::finished);
  BOOST_CHECK_EQUAL(h[3].at_ms, 26'000);
  BOOST_CHECK_EQUAL(h[3].reason, "every peer retrieved the outputs named for it");
  BOOST_CHECK(!m.tick(40'000)); // a finished task has no deadline left
  BOOST_CHECK(m.phase() == task_phase::finished);
}

BOOST_AUTO_TEST_CASE(a_phase_advances_only_when_three_distinct_parties_agree) {
  auto m = make();
  auto r = m.agree(1, task_phase::input, 100);
  BOOST_REQUIRE(r.ok());
  BOOST_CHECK(!*r);
  BOOST_CHECK(m.votes() == std::set<unsigned>{1});
  refused_vote(m, 1, task_phase::input, 101, errc::invalid_state); // the same party twice
  r = m.agree(2, task_phase::input, 102);
  BOOST_REQUIRE(r.ok());
  BOOST_CHECK(!*r);
  BOOST_CHECK(m.phase() == task_phase::initialisation); // two of three
  BOOST_CHECK(m.history().empty());
  r = m.agree(0, task_phase::input, 103);
  BOOST_REQUIRE(r.ok());
  BOOST_CHECK(*r);
  BOOST_CHECK(m.phase() == task_phase::input);
  BOOST_CHECK(m.votes().empty()); // the votes for the next phase start again
  BOOST_CHECK_EQUAL(m.history().back().at_ms, 103);
}

BOOST_AUTO_TEST_CASE(votes_out_of_turn_are_refused) {
  for (auto p : active) {
    BOOST_TEST_CONTEXT("in " << to_string(p)) {
      auto m = in_phase(p);
      std::optional<task_phase> following;
      if (p != task_phase::output) { // the Output phase ends by retrieval, not by vote
        following = static_cast<task_phase>(static_cast<int>(p) + 1);
        BOOST_REQUIRE(m.agree(0, *following, 1000).ok()); // a vote the refusals must keep
      }
      for (auto next : {task_phase::initialisation, task_phase::input, task_phase::calculation,
                        task_phase::output, task_phase::finished, task_phase::cancelled})
        if (next != following)
          refused_vote(m, 1, next, 1000, errc::invalid_state);
      auto next = following.value_or(task_phase::finished);
      refused_vote(m, 3, next, 1000, errc::forbidden); // only parties 0, 1, 2
      refused_vote(m, 99, next, 1000, errc::forbidden);
    }
  }
}

BOOST_AUTO_TEST_CASE(votes_in_terminal_phases_are_refused) {
  auto cancelled = in_phase(task_phase::input);
  BOOST_REQUIRE(cancelled.cancel("the SO cancelled the CTA", 2000).ok());
  auto finished = in_phase(task_phase::output);
  retrieve_all(finished, 2000);
  for (auto* m : {&cancelled, &finished}) {
    BOOST_TEST_CONTEXT("in " << to_string(m->phase())) {
      for (auto next : {task_phase::initialisation, task_phase::input, task_phase::calculation,
                        task_phase::output, task_phase::finished, task_phase::cancelled})
        refused_vote(*m, 0, next, 3000, errc::invalid_state);
      // Every retrieval was made by the finished one: a second is already_exists there.
      refused_retrieval(*m, "mean", peer_b, 3000,
                        m == &finished ? errc::already_exists : errc::invalid_state);
      refused<void>(*m, [](task_state_machine& x) { return x.cancel("again", 3000); },
                    errc::invalid_state);
      BOOST_CHECK(!m->tick(50'000));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_vote_at_the_deadline_is_refused) {
  auto init = make();
  refused_vote(init, 0, task_phase::input, deadlines.input_ms, errc::timeout);
  auto input = in_phase(task_phase::input);
  BOOST_REQUIRE(input.agree(0, task_phase::calculation, deadlines.input_ms - 1).ok());
  refused_vote(input, 1, task_phase::calculation, deadlines.input_ms, errc::timeout);
  auto calc = in_phase(task_phase::calculation);
  BOOST_REQUIRE(calc.agree(0, task_phase::output, deadlines.input_ms + 1).ok()); // past input: fine
  refused_vote(calc, 1, task_phase::output, deadlines.execution_ms, errc::timeout);
}

BOOST_AUTO_TEST_CASE(the_input_deadline_cancels_initialisation_and_input) {
  for (auto p : {task_phase::initialisation, task_phase::input}) {
    auto m = in_phase(p);
    auto before = m.history().size();
    BOOST_CHECK(!m.tick(deadlines.input_ms - 1));
    BOOST_CHECK(m.phase() == p);
    BOOST_CHECK_EQUAL(m.history().size(), before);
    BOOST_CHECK(m.tick(deadlines.input_ms));
    BOOST_CHECK(m.phase() == task_phase::cancelled);
    BOOST_CHECK_EQUAL(m.reason(), "input deadline passed");
    BOOST_REQUIRE_EQUAL(m.history().size(), before + 1);
    BOOST_CHECK(m.history().back().from == p);
    BOOST_CHECK(m.history().back().to == task_phase::cancelled);
    BOOST_CHECK_EQUAL(m.history().back().at_ms, deadlines.input_ms);
    BOOST_CHECK_EQUAL(m.history().back().reason, "input deadline passed");
    BOOST_CHECK(!m.tick(deadlines.input_ms + 1)); // cancelled once
  }
}

BOOST_AUTO_TEST_CASE(the_execution_deadline_cancels_calculation) {
  auto m = in_phase(task_phase::calculation);
  BOOST_CHECK(!m.tick(deadlines.input_ms)); // the input deadline no longer applies
  BOOST_CHECK(!m.tick(deadlines.execution_ms - 1));
  BOOST_CHECK(m.phase() == task_phase::calculation);
  BOOST_CHECK(m.tick(deadlines.execution_ms));
  BOOST_CHECK(m.phase() == task_phase::cancelled);
  BOOST_CHECK_EQUAL(m.reason(), "execution deadline passed");
  BOOST_CHECK(m.history().back().from == task_phase::calculation);
}

BOOST_AUTO_TEST_CASE(the_output_deadline_finishes_the_task_and_names_what_was_not_retrieved) {
  auto m = in_phase(task_phase::output);
  BOOST_CHECK(!m.tick(deadlines.execution_ms)); // the execution deadline no longer applies
  BOOST_REQUIRE(m.output_retrieved("mean", peer_a, deadlines.output_ms - 2).ok());
  BOOST_REQUIRE(m.output_retrieved("total", peer_a, deadlines.output_ms - 1).ok());
  refused_retrieval(m, "mean", peer_b, deadlines.output_ms, errc::timeout);
  BOOST_CHECK(!m.tick(deadlines.output_ms - 1));
  BOOST_CHECK(m.phase() == task_phase::output);
  BOOST_CHECK(m.tick(deadlines.output_ms));
  // It ran to completion and offered every output: finished; b's "mean" is erased (SYS-6.6).
  BOOST_CHECK(m.phase() == task_phase::finished);
  BOOST_CHECK(m.reason().empty());
  using owed = std::vector<std::pair<std::string, std::string>>;
  BOOST_CHECK(m.missing() == (owed{{"mean", peer_b}}));
  BOOST_CHECK(m.retrieved() == (output_peers{{"mean", {peer_a}}, {"total", {peer_a}}}));
  BOOST_CHECK(m.history().back().from == task_phase::output);
  BOOST_CHECK(m.history().back().to == task_phase::finished);
  BOOST_CHECK_EQUAL(m.history().back().at_ms, deadlines.output_ms);
  BOOST_CHECK_EQUAL(m.history().back().reason, "output deadline passed; 1 retrieval not made, erased");
  BOOST_CHECK(!m.tick(deadlines.output_ms + 1)); // once
  refused_retrieval(m, "mean", peer_b, deadlines.output_ms + 1, errc::invalid_state);
}

BOOST_AUTO_TEST_CASE(the_output_deadline_with_nothing_retrieved_finishes_the_task_too) {
  auto m = in_phase(task_phase::output);
  BOOST_CHECK(m.tick(deadlines.output_ms));
  BOOST_CHECK(m.phase() == task_phase::finished);
  BOOST_CHECK_EQUAL(m.missing().size(), 3u);
  BOOST_CHECK_EQUAL(m.history().back().reason, "output deadline passed; 3 retrievals not made, erased");
}

BOOST_AUTO_TEST_CASE(a_cp_lost_in_the_output_phase_ends_it_as_the_deadline_would) {
  // Only in the Output phase, and with a reason; refused otherwise without change.
  for (auto p : {task_phase::initialisation, task_phase::input, task_phase::calculation}) {
    auto m = in_phase(p);
    refused<void>(m, [](task_state_machine& x) { return x.end_output("lost counterpart cp-2", 2000); },
                  errc::invalid_state);
  }
  auto m = in_phase(task_phase::output);
  refused<void>(m, [](task_state_machine& x) { return x.end_output("", 2000); }, errc::malformed_input);
  BOOST_REQUIRE(m.output_retrieved("mean", peer_a, 2000).ok());
  BOOST_REQUIRE(m.end_output("lost counterpart cp-2", 2001).ok());
  BOOST_CHECK(m.phase() == task_phase::finished);
  BOOST_CHECK(m.reason().empty());
  BOOST_CHECK_EQUAL(m.missing().size(), 2u);
  BOOST_CHECK_EQUAL(m.history().back().at_ms, 2001);
  BOOST_CHECK_EQUAL(m.history().back().reason, "lost counterpart cp-2; 2 retrievals not made, erased");
  refused<void>(m, [](task_state_machine& x) { return x.end_output("again", 2002); }, errc::invalid_state);
  refused_retrieval(m, "mean", peer_b, 2002, errc::invalid_state);
  BOOST_CHECK(!m.tick(deadlines.output_ms));
}

BOOST_AUTO_TEST_CASE(an_output_deadline_after_every_retrieval_changes_nothing) {
  auto m = in_phase(task_phase::output);
  retrieve_all(m, 20'000);
  auto before = m.history().size();
  BOOST_CHECK(!m.tick(deadlines.output_ms));
  BOOST_CHECK(m.phase() == task_phase::finished);
  BOOST_CHECK_EQUAL(m.history().size(), before);
}

BOOST_AUTO_TEST_CASE(each_output_is_released_once_to_each_named_peer) {
  auto m = in_phase(task_phase::output);
  BOOST_CHECK(m.may_retrieve("mean", peer_a, 20'000).ok());
  BOOST_REQUIRE(m.output_retrieved("mean", peer_a, 20'000).ok());
  refused_retrieval(m, "mean", peer_a, 20'001, errc::already_exists);
  refused_retrieval(m, "mean", stranger, 20'002, errc::forbidden); // not named on it
  refused_retrieval(m, "total", peer_b, 20'003, errc::forbidden);  // named on another output only
  refused_retrieval(m, "median", peer_a, 20'004, errc::not_found);
  BOOST_CHECK(m.may_retrieve("mean", peer_b, 20'005).ok()); // b's turn is independent of a's
  BOOST_CHECK(m.retrieved() == (output_peers{{"mean", {peer_a}}}));
  BOOST_CHECK(m.outputs() == (output_peers{{"mean", {peer_a, peer_b}}, {"total", {peer_a}}}));
  BOOST_CHECK(m.phase() == task_phase::output);
  auto msg = m.may_retrieve("mean", peer_a, 20'006);
  BOOST_REQUIRE(!msg.ok());
  BOOST_CHECK_EQUAL(msg.err().message, "output mean was retrieved by peer a.joconde.test already");
}

BOOST_AUTO_TEST_CASE(outputs_are_released_only_in_the_output_phase) {
  for (auto p : {task_phase::initialisation, task_phase::input, task_phase::calculation}) {
    BOOST_TEST_CONTEXT("in " << to_string(p)) {
      auto m = in_phase(p);
      refused_retrieval(m, "mean", peer_a, 2000, errc::invalid_state);
    }
  }
}

BOOST_AUTO_TEST_CASE(every_active_phase_can_be_cancelled) {
  for (auto p : active) {
    BOOST_TEST_CONTEXT("in " << to_string(p)) {
      auto m = in_phase(p);
      if (p != task_phase::output)
        BOOST_REQUIRE(m.agree(0, static_cast<task_phase>(static_cast<int>(p) + 1), 1500).ok());
      refused<void>(m, [](task_state_machine& x) { return x.cancel("", 2000); },
                    errc::malformed_input);
      auto before = m.history().size();
      BOOST_REQUIRE(m.cancel("the certificate of client-a.joconde.test was revoked", 2000).ok());
      BOOST_CHECK(m.phase() == task_phase::cancelled);
      BOOST_CHECK_EQUAL(m.reason(), "the certificate of client-a.joconde.test was revoked");
      BOOST_CHECK(m.votes().empty());
      BOOST_REQUIRE_EQUAL(m.history().size(), before + 1);
      BOOST_CHECK(m.history().back().from == p);
      BOOST_CHECK(m.history().back().to == task_phase::cancelled);
      BOOST_CHECK_EQUAL(m.history().back().at_ms, 2000);
      BOOST_CHECK_EQUAL(m.history().back().reason, m.reason());
    }
  }
}

BOOST_AUTO_TEST_CASE(a_single_party_task_advances_on_one_vote) {
  auto m = task_state_machine::create(deadlines, 1, {{"mean", {peer_a}}});
  BOOST_REQUIRE(m.ok());
  auto r = m->agree(0, task_phase::input, 100);
  BOOST_REQUIRE(r.ok());
  BOOST_CHECK(*r);
  refused_vote(*m, 1, task_phase::calculation, 200, errc::forbidden);
}
