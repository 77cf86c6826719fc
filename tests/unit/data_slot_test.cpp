#define BOOST_TEST_MODULE data_slot
#include <boost/test/unit_test.hpp>

// One data slot of a CT VM as a plain class: uploads, the latest one winning, failures here and at
// other CPs, closing input, releasing an output once to each peer named on it (and to no other), what
// is listed for erasure and when, and that a refused event changes nothing.

#include "vm/data_slot.hpp"

#include <functional>
#include <map>
#include <set>
#include <tuple>

using namespace joconde;

namespace {

const std::string dc1 = "pak-fingerprint-dc1";
const std::string dc2 = "pak-fingerprint-dc2";
const std::string da = "pak-fingerprint-da";
const std::string da2 = "pak-fingerprint-da2";
const std::string peer_a = "a.joconde.test";
const std::string peer_b = "b.joconde.test";
const std::string stranger = "c.joconde.test";
const std::string hash1(64, 'a');
const std::string hash2(64, 'B');

using strings = std::vector<std::string>;

/// Everything a refusal must leave as it was.
struct snapshot {
  slot_state state;
  bool closed;
  std::string content_id, writer, sha256;
  std::map<std::string, slot_release> releases;
  int64_t started;
  uint64_t rows;
  strings erasures;

  explicit snapshot(const data_slot& s)
    : state(s.state()), closed(s.input_closed()), content_id(s.content_id()), writer(s.writer()),
      sha256(s.sha256()), releases(s.releases()), started(s.started_ms()), rows(s.rows()),
      erasures(s.erasures()) {
    // nop
  }

  auto tied() const {
    return std::tie(state, closed, content_id, writer, sha256, releases, started, rows, erasures);
  }

  bool operator==(const snapshot& o) const { return tied() == o.tied(); }
};

/// `event` fails with `code` (and a message containing `says`) and `s` does not change.
void refused(data_slot& s, const std::function<result<void>(data_slot&)>& event, errc code,
             const std::string& says = {}) {
  snapshot before{s};
  auto r = event(s);
  BOOST_REQUIRE_MESSAGE(!r.ok(), "accepted, but should have been refused");
  BOOST_CHECK_MESSAGE(r.err().code == code,
                      "refused with " << to_string(r.err().code) << ": " << r.err().message);
  BOOST_CHECK_MESSAGE(r.err().message.find(says) != std::string::npos,
                      "'" << r.err().message << "' does not say '" << says << "'");
  BOOST_CHECK(snapshot{s} == before);
}

data_slot input() {
  return data_slot{"turnover", slot_kind::input};
}

/// An input slot holding upload "u1" of dc1, complete at this CP.
data_slot ready_input() {
  auto s = input();
  BOOST_REQUIRE(s.begin_upload("u1", dc1, 100).ok());
  BOOST_REQUIRE(s.complete("u1", 42, hash1).ok());
  return s;
}

/// An output slot for `peers` holding content "o1".
data_slot ready_output(std::set<std::string> peers = {peer_a, peer_b}) {
  data_slot s{"mean_turnover", slot_kind::output, std::move(peers)};
  BOOST_REQUIRE(s.store("o1", 7, hash2).ok());
  return s;
}

/// Releases `s` to `peer` through analyst `who`.
result<void> release(data_slot& s, const std::string& peer, const std::string& who, int64_t at) {
  return s.release(peer, who, who == da ? "Dana" : "Dov", at);
}

} // namespace

BOOST_AUTO_TEST_CASE(names_round_trip) {
  for (auto st : {slot_state::empty, slot_state::in_use, slot_state::ready, slot_state::released})
    BOOST_CHECK(slot_state_from_string(to_string(st)) == st);
  BOOST_CHECK_EQUAL(to_string(slot_state::in_use), "in_use");
  BOOST_CHECK(!slot_state_from_string("retrieved"));
  BOOST_CHECK_EQUAL(to_string(slot_kind::input), "input");
  BOOST_CHECK_EQUAL(to_string(slot_kind::output), "output");
}

BOOST_AUTO_TEST_CASE(an_upload_fills_an_input_slot) {
  auto s = input();
  BOOST_CHECK(s.state() == slot_state::empty);
  BOOST_CHECK(!s.ready());
  BOOST_CHECK_EQUAL(s.name(), "turnover");
  BOOST_CHECK(s.kind() == slot_kind::input);
  BOOST_REQUIRE(s.begin_upload("u1", dc1, 100).ok());
  BOOST_CHECK(s.state() == slot_state::in_use);
  BOOST_CHECK(!s.ready());
  BOOST_CHECK_EQUAL(s.content_id(), "u1");
  BOOST_CHECK_EQUAL(s.writer(), dc1);
  BOOST_CHECK_EQUAL(s.started_ms(), 100);
  BOOST_REQUIRE(s.complete("u1", 42, hash1).ok());
  BOOST_CHECK(s.state() == slot_state::ready);
  BOOST_CHECK(s.ready());
  BOOST_CHECK_EQUAL(s.rows(), 42u);
  BOOST_CHECK_EQUAL(s.sha256(), hash1);
  BOOST_CHECK(!s.needs_erase());
  BOOST_REQUIRE(s.close_input().ok());
  BOOST_CHECK(s.input_closed());
  BOOST_CHECK(s.ready()); // a ready slot stays ready
}

BOOST_AUTO_TEST_CASE(refusals_change_nothing_while_empty) {
  auto s = input();
  refused(s, [](data_slot& x) { return x.complete("u1", 1, hash1); }, errc::invalid_state);
  refused(s, [](data_slot& x) { return x.fail("u1"); }, errc::invalid_state);
  refused(s, [](data_slot& x) { return x.peer_failed("u1"); }, errc::invalid_state);
  refused(s, [](data_slot& x) { return x.begin_upload("", dc1, 1); }, errc::malformed_input);
  refused(s, [](data_slot& x) { return x.begin_upload("u1", "", 1); }, errc::malformed_input);
  refused(s, [](data_slot& x) { return release(x, peer_a, da, 1); }, errc::invalid_state);
  refused(s, [](data_slot& x) { return x.store("o1", 1, hash1); }, errc::invalid_state);
}

BOOST_AUTO_TEST_CASE(refusals_change_nothing_while_in_use) {
  auto s = input();
  BOOST_REQUIRE(s.begin_upload("u1", dc1, 100).ok());
  refused(s, [](data_slot& x) { return x.begin_upload("u2", dc2, 200); }, errc::invalid_state);
  refused(s, [](data_slot& x) { return x.complete("u2", 1, hash1); }, errc::not_found);
  refused(s, [](data_slot& x) { return x.complete("u1", 1, "abc"); }, errc::malformed_input);
  refused(s, [](data_slot& x) { return x.complete("u1", 1, std::string(64, 'g')); },
          errc::malformed_input);
  refused(s, [](data_slot& x) { return x.fail("u2"); }, errc::not_found);
  refused(s, [](data_slot& x) { return x.peer_failed("u2"); }, errc::not_found);
  refused(s, [](data_slot& x) { return release(x, peer_a, da, 300); }, errc::invalid_state);
}

BOOST_AUTO_TEST_CASE(refusals_change_nothing_while_ready) {
  auto s = ready_input();
  refused(s, [](data_slot& x) { return x.complete("u1", 1, hash1); }, errc::invalid_state);
  refused(s, [](data_slot& x) { return x.fail("u1"); }, errc::invalid_state);
  refused(s, [](data_slot& x) { return x.peer_failed("u9"); }, errc::not_found);
  refused(s, [](data_slot& x) { return release(x, peer_a, da, 300); }, errc::invalid_state);
}

BOOST_AUTO_TEST_CASE(a_failed_upload_empties_the_slot) {
  auto s = input();
  BOOST_REQUIRE(s.begin_upload("u1", dc1, 100).ok());
  BOOST_REQUIRE(s.fail("u1").ok());
  BOOST_CHECK(s.state() == slot_state::empty);
  BOOST_CHECK(s.content_id().empty() && s.writer().empty());
  BOOST_CHECK(s.needs_erase());
  BOOST_CHECK(s.take_erasures() == strings{"u1"});
  BOOST_CHECK(!s.needs_erase());
  BOOST_CHECK(s.take_erasures().empty());
  BOOST_REQUIRE(s.begin_upload("u2", dc2, 200).ok()); // a new attempt
  BOOST_CHECK(s.state() == slot_state::in_use);
}

BOOST_AUTO_TEST_CASE(a_failure_at_another_cp_empties_an_upload_in_progress) {
  auto s = input();
  BOOST_REQUIRE(s.begin_upload("u1", dc1, 100).ok());
  BOOST_REQUIRE(s.peer_failed("u1").ok());
  BOOST_CHECK(s.state() == slot_state::empty);
  BOOST_CHECK(s.erasures() == strings{"u1"});
}

BOOST_AUTO_TEST_CASE(a_failure_at_another_cp_empties_a_ready_slot) {
  auto s = ready_input();
  BOOST_REQUIRE(s.peer_failed("u1").ok());
  BOOST_CHECK(s.state() == slot_state::empty);
  BOOST_CHECK(!s.ready());
  BOOST_CHECK_EQUAL(s.rows(), 0u);
  BOOST_CHECK(s.sha256().empty());
  BOOST_CHECK(s.erasures() == strings{"u1"});
}

BOOST_AUTO_TEST_CASE(the_latest_upload_wins_until_input_closes) {
  auto s = ready_input();
  BOOST_REQUIRE(s.begin_upload("u2", dc2, 200).ok());
  BOOST_CHECK(s.state() == slot_state::in_use);
  BOOST_CHECK_EQUAL(s.content_id(), "u2");
  BOOST_CHECK_EQUAL(s.writer(), dc2);
  BOOST_CHECK_EQUAL(s.rows(), 0u);
  BOOST_CHECK(s.erasures() == strings{"u1"}); // the replaced content is erased
  BOOST_REQUIRE(s.complete("u2", 43, hash2).ok());
  BOOST_CHECK(s.ready());
  BOOST_CHECK_EQUAL(s.rows(), 43u);
  BOOST_CHECK_EQUAL(s.sha256(), hash2);
  refused(s, [](data_slot& x) { return x.peer_failed("u1"); }, errc::not_found); // stale report
  BOOST_REQUIRE(s.begin_upload("u3", dc1, 300).ok());
  BOOST_REQUIRE(s.fail("u3").ok()); // a failed replacement leaves the slot empty, not the old one
  BOOST_CHECK(s.state() == slot_state::empty);
  BOOST_CHECK(s.take_erasures() == (strings{"u1", "u2", "u3"}));
}

BOOST_AUTO_TEST_CASE(closing_input_refuses_uploads) {
  auto s = ready_input();
  BOOST_REQUIRE(s.close_input().ok());
  refused(s, [](data_slot& x) { return x.begin_upload("u2", dc2, 200); }, errc::invalid_state);
  refused(s, [](data_slot& x) { return x.complete("u1", 1, hash1); }, errc::invalid_state);
  refused(s, [](data_slot& x) { return x.fail("u1"); }, errc::invalid_state);
  refused(s, [](data_slot& x) { return x.close_input(); }, errc::invalid_state);
  auto r = s.begin_upload("u2", dc2, 200);
  BOOST_REQUIRE(!r.ok());
  BOOST_CHECK(r.err().message.find("input is closed") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_slot_not_ready_at_close_stays_empty) {
  auto never = input();
  BOOST_REQUIRE(never.close_input().ok());
  BOOST_CHECK(never.state() == slot_state::empty);
  BOOST_CHECK(!never.ready());
  BOOST_CHECK(!never.needs_erase());
  auto unfinished = input();
  BOOST_REQUIRE(unfinished.begin_upload("u1", dc1, 100).ok());
  BOOST_REQUIRE(unfinished.close_input().ok());
  BOOST_CHECK(unfinished.state() == slot_state::empty);
  BOOST_CHECK(!unfinished.ready());
  BOOST_CHECK(unfinished.erasures() == strings{"u1"});
  refused(unfinished, [](data_slot& x) { return x.complete("u1", 1, hash1); }, errc::invalid_state);
}

BOOST_AUTO_TEST_CASE(a_failure_at_another_cp_after_close_still_empties) {
  auto s = ready_input();
  BOOST_REQUIRE(s.close_input().ok());
  BOOST_REQUIRE(s.peer_failed("u1").ok());
  BOOST_CHECK(!s.ready());
  BOOST_CHECK(s.erasures() == strings{"u1"});
}

BOOST_AUTO_TEST_CASE(an_output_is_released_once_to_each_named_peer) {
  auto s = ready_output();
  BOOST_CHECK(s.kind() == slot_kind::output);
  BOOST_CHECK(s.ready());
  BOOST_CHECK_EQUAL(s.content_id(), "o1");
  BOOST_CHECK_EQUAL(s.rows(), 7u);
  BOOST_CHECK(s.peers() == (std::set<std::string>{peer_a, peer_b}));
  BOOST_CHECK(s.waiting_for() == (strings{peer_a, peer_b}));
  refused(s, [](data_slot& x) { return release(x, peer_a, "", 500); }, errc::malformed_input);
  refused(s, [](data_slot& x) { return release(x, "", da, 500); }, errc::malformed_input);
  // a's analyst: a has it, b still waits; the content stays sealed for b.
  BOOST_REQUIRE(release(s, peer_a, da, 500).ok());
  BOOST_CHECK(s.state() == slot_state::ready);
  BOOST_CHECK(s.ready());
  BOOST_CHECK_EQUAL(s.content_id(), "o1");
  BOOST_CHECK(!s.needs_erase());
  BOOST_CHECK(s.waiting_for() == strings{peer_b});
  BOOST_REQUIRE_EQUAL(s.releases().size(), 1u);
  BOOST_CHECK(s.releases().at(peer_a) == (slot_release{da, "Dana", 500}));
  // a again, by the same or another analyst of a: refused, naming who retrieved it.
  refused(s, [](data_slot& x) { return release(x, peer_a, da, 600); }, errc::already_exists,
          "output mean_turnover was retrieved by peer a.joconde.test already (by Dana)");
  refused(s, [](data_slot& x) { return release(x, peer_a, da2, 600); }, errc::already_exists);
  refused(s, [](data_slot& x) { return x.check_peer(peer_a); }, errc::already_exists);
  // A peer the output is not named for: never.
  refused(s, [](data_slot& x) { return release(x, stranger, da2, 600); }, errc::forbidden,
          "output mean_turnover is not granted to peer c.joconde.test");
  refused(s, [](data_slot& x) { return x.check_peer(stranger); }, errc::forbidden);
  BOOST_CHECK(s.check_peer(peer_b).ok());
  // b, the last named peer: released, and only now erased (SYS-6.6).
  BOOST_REQUIRE(release(s, peer_b, da2, 700).ok());
  BOOST_CHECK(s.state() == slot_state::released);
  BOOST_CHECK(!s.ready());
  BOOST_CHECK(s.waiting_for().empty());
  BOOST_CHECK(s.releases().at(peer_b) == (slot_release{da2, "Dov", 700}));
  BOOST_CHECK(s.erasures() == strings{"o1"});
  refused(s, [](data_slot& x) { return release(x, peer_a, da, 800); }, errc::already_exists);
  refused(s, [](data_slot& x) { return release(x, peer_b, da2, 800); }, errc::already_exists,
          "by Dov");
  refused(s, [](data_slot& x) { return release(x, stranger, da, 800); }, errc::forbidden);
  refused(s, [](data_slot& x) { return x.store("o2", 1, hash1); }, errc::invalid_state);
}

BOOST_AUTO_TEST_CASE(an_output_for_one_peer_is_released_and_erased_at_once) {
  auto s = ready_output({peer_a});
  refused(s, [](data_slot& x) { return release(x, peer_b, da, 500); }, errc::forbidden);
  BOOST_REQUIRE(release(s, peer_a, da, 500).ok());
  BOOST_CHECK(s.state() == slot_state::released);
  BOOST_CHECK(s.erasures() == strings{"o1"});
  refused(s, [](data_slot& x) { return release(x, peer_a, da2, 600); }, errc::already_exists);
}

BOOST_AUTO_TEST_CASE(an_output_named_for_no_peer_is_released_to_nobody) {
  auto s = ready_output({});
  refused(s, [](data_slot& x) { return release(x, peer_a, da, 500); }, errc::forbidden);
  BOOST_CHECK(s.ready());
}

BOOST_AUTO_TEST_CASE(a_release_before_the_output_is_stored_is_refused) {
  data_slot s{"mean_turnover", slot_kind::output, {peer_a, peer_b}};
  refused(s, [](data_slot& x) { return release(x, peer_a, da, 1); }, errc::invalid_state, "not ready");
  BOOST_CHECK(s.check_peer(peer_a).ok()); // the peer may, once there is something to release
  refused(s, [](data_slot& x) { return x.check_peer(stranger); }, errc::forbidden);
}

BOOST_AUTO_TEST_CASE(the_deadline_erases_an_output_some_peers_did_not_retrieve) {
  auto s = ready_output();
  BOOST_REQUIRE(release(s, peer_a, da, 500).ok());
  BOOST_CHECK(!s.needs_erase()); // b may still come
  s.discard();                   // SYS-6.6: the output deadline passed
  BOOST_CHECK(s.state() == slot_state::empty);
  BOOST_CHECK(s.erasures() == strings{"o1"});
  BOOST_CHECK(s.waiting_for() == strings{peer_b}); // who missed it
  BOOST_CHECK(s.releases().count(peer_a) == 1);   // who had it stays on record
  refused(s, [](data_slot& x) { return release(x, peer_b, da2, 900); }, errc::invalid_state);
  refused(s, [](data_slot& x) { return release(x, peer_a, da, 900); }, errc::already_exists);
}

BOOST_AUTO_TEST_CASE(output_slots_refuse_input_events) {
  data_slot s{"mean_turnover", slot_kind::output, {peer_a}};
  refused(s, [](data_slot& x) { return release(x, peer_a, da, 1); }, errc::invalid_state); // nothing yet
  refused(s, [](data_slot& x) { return x.store("", 1, hash1); }, errc::malformed_input);
  refused(s, [](data_slot& x) { return x.store("o1", 1, "xyz"); }, errc::malformed_input);
  refused(s, [](data_slot& x) { return x.begin_upload("u1", dc1, 1); }, errc::invalid_state);
  refused(s, [](data_slot& x) { return x.complete("u1", 1, hash1); }, errc::invalid_state);
  refused(s, [](data_slot& x) { return x.fail("u1"); }, errc::invalid_state);
  refused(s, [](data_slot& x) { return x.peer_failed("u1"); }, errc::invalid_state);
  refused(s, [](data_slot& x) { return x.close_input(); }, errc::invalid_state);
  BOOST_REQUIRE(s.store("o1", 7, hash2).ok());
  refused(s, [](data_slot& x) { return x.store("o2", 7, hash2); }, errc::invalid_state);
}

BOOST_AUTO_TEST_CASE(discard_lists_everything_for_erasure) {
  auto in_use = input();
  BOOST_REQUIRE(in_use.begin_upload("u1", dc1, 100).ok());
  in_use.discard();
  BOOST_CHECK(in_use.state() == slot_state::empty);
  BOOST_CHECK(in_use.input_closed());
  BOOST_CHECK(in_use.erasures() == strings{"u1"});
  auto ready = ready_input();
  ready.discard();
  BOOST_CHECK(ready.state() == slot_state::empty);
  BOOST_CHECK(ready.erasures() == strings{"u1"});
  auto empty = input();
  empty.discard();
  BOOST_CHECK(!empty.needs_erase());
  BOOST_CHECK(empty.input_closed());
  auto output = ready_output();
  output.discard(); // SYS-6.6: unretrieved at the deadline
  BOOST_CHECK(output.state() == slot_state::empty);
  BOOST_CHECK(output.erasures() == strings{"o1"});
  BOOST_CHECK(!output.input_closed());
  auto released = ready_output({peer_a});
  BOOST_REQUIRE(release(released, peer_a, da, 500).ok());
  BOOST_CHECK(released.take_erasures() == strings{"o1"});
  released.discard();
  BOOST_CHECK(released.state() == slot_state::released);
  BOOST_CHECK(!released.needs_erase()); // erased once already
}
