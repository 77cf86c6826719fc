// An output named for two peers, and the output deadline (part of the ct_run test program).
#include <boost/test/unit_test.hpp>

#include "ct_run_test_support.hpp"

using namespace joconde;
using namespace ct_run_test_support;

// -- an output named for two peers --

BOOST_FIXTURE_TEST_CASE(an_output_named_for_two_peers_goes_to_each_once_and_the_ct_waits_for_both,
                        shared_ct_in_input) {
  compute();
  for (unsigned i = 0; i < 3; ++i) {
    auto out = slot_json(c, i, "by_region");
    BOOST_TEST(out["peers"] == (nlohmann::json{"a.test", "b.test"}), out.dump());
    BOOST_TEST(out["waiting_for"] == (nlohmann::json{"a.test", "b.test"}), out.dump());
  }
  // A PAK no CTSA lists: refused, nothing changes.
  auto stranger = download(f.stranger);
  BOOST_REQUIRE(!stranger);
  BOOST_TEST(stranger.err().code == errc::forbidden, stranger.err().describe());

  // a's analyst: a has it; the CT waits for b, the content stays sealed for b.
  auto got_a = download(f.analyst_a);
  BOOST_REQUIRE_MESSAGE(got_a, (got_a ? "" : got_a.err().describe()));
  BOOST_TEST(got_a->csv == expected_table, got_a->csv);
  for (unsigned i = 0; i < 3; ++i) {
    BOOST_TEST_CONTEXT("cp-" << i) {
      BOOST_TEST(c.status(i).value("phase", "") == "output");
      auto out = slot_json(c, i, "by_region");
      BOOST_TEST(out.value("state", "") == "ready");
      BOOST_TEST(retrieved_by(out) == std::vector<std::string>{"a.test"}, out.dump());
      BOOST_TEST(out["retrieved_by"][0].value("analyst", "") == f.analyst_a.label());
      BOOST_TEST(out["waiting_for"] == nlohmann::json{"b.test"}, out.dump());
      BOOST_TEST(sealed_files_of(c.dir / ("cp" + std::to_string(i)) / "slots", "by_region") == 1u,
                 "the content b is still to retrieve is not sealed here");
      // The inputs were erased when the Output phase began (BUS-4.9, SYS-6.5).
      for (auto input : {"persons", "income"})
        BOOST_TEST(sealed_files_of(c.dir / ("cp" + std::to_string(i)) / "slots", input) == 0u, input);
    }
  }
  // a again, by the same analyst or by a's other one: refused, naming who retrieved it.
  for (const auto* analyst : {&f.analyst_a, &f.analyst_a2}) {
    auto again = download(*analyst);
    BOOST_REQUIRE(!again);
    BOOST_TEST(again.err().code == errc::already_exists, again.err().describe());
    BOOST_TEST(again.err().message.find("output by_region was retrieved by peer a.test already (by "
                                       + f.analyst_a.label() + ")")
                 != std::string::npos,
               again.err().message);
  }
  for (unsigned i = 0; i < 3; ++i) {
    BOOST_TEST(c.status(i).value("phase", "") == "output");
    BOOST_TEST(retrieved_by(slot_json(c, i, "by_region")) == std::vector<std::string>{"a.test"});
  }

  // b's analyst, the last peer: the same table; the CT finishes and erases everything.
  auto got_b = download(f.analyst_b);
  BOOST_REQUIRE_MESSAGE(got_b, (got_b ? "" : got_b.err().describe()));
  BOOST_TEST(got_b->csv == got_a->csv);
  BOOST_TEST(c.exits() == (std::vector<int>{vm::exit_finished, vm::exit_finished, vm::exit_finished}));
  for (unsigned i = 0; i < 3; ++i)
    BOOST_TEST(files_below(c.dir / ("cp" + std::to_string(i)) / "slots") == 0u, "cp" << i << " left slot files");
  BOOST_TEST(files_containing(c.dir, canary).empty());
}

BOOST_FIXTURE_TEST_CASE(two_peers_download_at_once_and_both_get_it_while_two_analysts_of_one_race_for_one,
                        shared_ct_in_input) {
  // Each (output, peer) is decided apart: a's two analysts race for a's copy (exactly one gets it,
  // the whole of it), b's analyst gets b's copy whatever a's do.
  compute();
  auto a1 = authorize(f.analyst_a, uuid, "by_region", false);
  auto a2 = authorize(f.analyst_a2, uuid, "by_region", false);
  auto b = authorize(f.analyst_b, uuid, "by_region", false);
  auto d1 = std::async(std::launch::async, [&] { return io::download(c.target, "by_region", a1); });
  auto d2 = std::async(std::launch::async, [&] { return io::download(c.target, "by_region", a2); });
  auto db = std::async(std::launch::async, [&] { return io::download(c.target, "by_region", b); });
  auto r1 = d1.get();
  auto r2 = d2.get();
  auto rb = db.get();
  BOOST_REQUIRE_MESSAGE(rb, "b's download: " << (rb ? "" : rb.err().describe()));
  BOOST_TEST(rb->csv == expected_table, rb->csv);
  BOOST_TEST(r1.ok() != r2.ok(), "exactly one of a's downloads succeeds: " << (r1 ? "ok" : r1.err().describe())
                                   << " / " << (r2 ? "ok" : r2.err().describe()));
  const auto& won = r1 ? r1 : r2;
  const auto& lost = r1 ? r2 : r1;
  if (won)
    BOOST_TEST(won->csv == rb->csv);
  if (!lost)
    BOOST_TEST(lost.err().code == errc::already_exists, lost.err().describe());
  BOOST_TEST(c.exits() == (std::vector<int>{vm::exit_finished, vm::exit_finished, vm::exit_finished}));
  for (unsigned i = 0; i < 3; ++i)
    BOOST_TEST(files_below(c.dir / ("cp" + std::to_string(i)) / "slots") == 0u);
}

BOOST_AUTO_TEST_CASE(the_output_deadline_erases_what_a_peer_did_not_retrieve_and_ends_the_ct) {
  // The output phase ends at the deadline with b's copy not retrieved: the CT ends (finished: it
  // ran to completion and offered the output to both), b's copy is erased, and every VM says so in
  // an event its node forwards to the peers.
  auto platform = enclave::simulated_platform::create();
  BOOST_REQUIRE(platform);
  fixture_cta f{*platform, now_ms() + 600'000};
  const auto& uuid = f.final.cta().ctsc().uuid();
  f.share_output("by_region", "b.test");
  const auto deadline = now_ms() + output_window_ms;
  f.output_deadline(deadline);
  ct_cluster c{*platform, f};
  BOOST_REQUIRE(c.wait_phase("input"));
  BOOST_REQUIRE(io::upload(c.target, "persons", persons_csv(), authorize(f.custodian_a, uuid, "persons", true)));
  BOOST_REQUIRE(io::upload(c.target, "income", income_csv(), authorize(f.custodian_b, uuid, "income", true)));
  BOOST_REQUIRE(c.wait_phase("output"));
  auto got = io::download(c.target, "by_region", authorize(f.analyst_a, uuid, "by_region", false));
  BOOST_REQUIRE_MESSAGE(got, (got ? "" : got.err().describe()));
  BOOST_REQUIRE_MESSAGE(now_ms() < deadline, "the run reached a's download only after the output deadline");
  BOOST_TEST(c.status(0).value("phase", "") == "output");  // waiting for b

  // Each VM ends at the deadline and lingers a moment: its last status tells what happened.
  BOOST_REQUIRE_MESSAGE(c.wait_phase("finished", static_cast<int>(output_window_ms / 1000) + 30),
                        "the VMs did not end at the output deadline");
  for (unsigned i = 0; i < 3; ++i) {
    BOOST_TEST_CONTEXT("cp-" << i) {
      auto status = c.status(i);
      std::vector<std::string> erased;
      for (const auto& e : status.value("events", nlohmann::json::array()))
        if (e.value("kind", "") == "erased" && e.value("subject", "") == "output by_region")
          erased.push_back(e.value("value", ""));
      BOOST_TEST(erased == std::vector<std::string>{"output by_region not retrieved by b.test before the "
                                                    "output deadline: erased"},
                 status.dump());
      auto out = slot_json(c, i, "by_region");
      BOOST_TEST(retrieved_by(out) == std::vector<std::string>{"a.test"}, out.dump());
      BOOST_TEST(out["waiting_for"] == nlohmann::json{"b.test"}, out.dump());
    }
  }
  // Too late for b.
  auto late = io::download(c.target, "by_region", authorize(f.analyst_b, uuid, "by_region", false));
  BOOST_TEST(!late.ok());
  BOOST_TEST(c.exits() == (std::vector<int>{vm::exit_finished, vm::exit_finished, vm::exit_finished}));
  for (unsigned i = 0; i < 3; ++i)
    BOOST_TEST(files_below(c.dir / ("cp" + std::to_string(i)) / "slots") == 0u);
  BOOST_TEST(files_containing(c.dir, canary).empty());
}
