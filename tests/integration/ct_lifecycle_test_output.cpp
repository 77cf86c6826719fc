// A CT's output: refused uploads and downloads, one download per client, the output deadline
// (part of the ct_lifecycle test program).
#include <boost/test/unit_test.hpp>

#include "ct_lifecycle_test_support.hpp"

using namespace joconde;
using namespace std::chrono_literals;
using namespace ct_lifecycle_test_support;

BOOST_AUTO_TEST_CASE(refused_uploads_and_downloads_change_nothing_and_the_output_goes_once_to_each_client) {
  auto c = agree(demo_task(), "refusals");
  require_input_phase(c.uuid, 60s);
  auto output = c.dir / "output.csv";

  // A download before the output phase.
  auto early = joconde_cli("client-a:data_analyst", download_args(c, output));
  check_refused(early, 6, "invalid_state");
  BOOST_CHECK(early.err.find("output phase") != std::string::npos);
  BOOST_CHECK(!fs::exists(output));

  auto persons = c.dir / "persons.csv";
  write_file(persons, persons_csv(120));
  auto up = joconde_cli("client-a:data_custodian", upload_args(c, "persons", persons, "custodian-a"));
  BOOST_REQUIRE_MESSAGE(up.rc == 0, "upload: " << up);

  // A file that does not match the schema: refused at the node, with its line and column.
  auto bad = c.dir / "persons-bad.csv";
  write_file(bad, persons_csv(3) + "P0004,north,old\nP0005,south,30\n");
  auto refused = joconde_cli("client-a:data_custodian", upload_args(c, "persons", bad, "custodian-a"));
  check_refused(refused, 6, "malformed_input");
  BOOST_CHECK_MESSAGE(refused.err.find("line 5, column 3 (age)") != std::string::npos, refused.err);

  // What else a custodian's file may hold by mistake, each refused at the custodian's node (exit 6,
  // malformed_input) with its line and column, never with a value of the file: a header and no
  // records, a NUL byte, a key that is not UTF-8, a value that is not a number (issue 14).
  const std::string canary = "Qv7Canary";
  struct bad_file {
    std::string name;
    std::string text;
    std::string reason;
  };
  const std::vector<bad_file> bad_files{
    {"header-only", "id,region,age\n", "the file has a header but no data rows"},
    {"nul", persons_csv(2, canary + std::string(1, '\0') + ",north,30\n"),
     "line 4, column 1 (id): a NUL byte (0x00)"},
    {"not-utf8", persons_csv(2, canary + "\xff,north,30\n"),
     "line 4, column 1 (id): the value is not valid UTF-8"},
    {"not-a-number", persons_csv(2, "P0003,north,3" + canary + "\n"),
     "line 4, column 3 (age): the value is not a number"},
  };
  for (const auto& f : bad_files) {
    BOOST_TEST_CONTEXT(f.name) {
      auto file = c.dir / ("persons-" + f.name + ".csv");
      write_file(file, f.text);
      auto r = joconde_cli("client-a:data_custodian", upload_args(c, "persons", file, "custodian-a"));
      check_refused(r, 6, "malformed_input");
      BOOST_CHECK_MESSAGE(r.err.find(f.reason) != std::string::npos, r.err);
      BOOST_CHECK_MESSAGE(r.err.find(canary) == std::string::npos, r.err);
    }
  }
  // No refused value reached a log or a store: not client-a's (node log, audit log, LMDB), not a CP's
  // (nothing was sent on).
  for (const auto& node : {"client-a", "cp1", "cp2", "cp3"})
    BOOST_CHECK_MESSAGE(!test::any_file_contains(cluster->data_dir(node), canary),
                        "a refused value is in a file of " << node);
  // The twin: the canary in an accepted field would be found (the search can fail).
  BOOST_CHECK(test::any_file_contains(c.dir, canary));

  // client-b's custodian may not write client-a's input, a correct file notwithstanding.
  auto forbidden = joconde_cli("client-b:data_custodian", upload_args(c, "persons", persons, "custodian-b"));
  check_refused(forbidden, 4, "forbidden");
  BOOST_CHECK(forbidden.err.find("does not allow this PAK to write input persons") != std::string::npos);

  // The slot keeps its content: with the other input the CT computes and reaches output.
  auto income = c.dir / "income.csv";
  write_file(income, income_csv(100));
  up = joconde_cli("client-b:data_custodian", upload_args(c, "income", income, "custodian-b"));
  BOOST_REQUIRE_MESSAGE(up.rc == 0, "upload: " << up);
  json doc = reach_output(c.uuid);
  for (const auto& cp : cps) {
    BOOST_TEST_CONTEXT(cp) {
      // persons: one upload in use, then ready; never emptied by the refused ones.
      std::vector<std::string> states;
      for (const auto& ev : events(doc, cp, "slot", "persons"))
        states.push_back(ev.value("value", "").substr(0, ev.value("value", "").find(' ')));
      BOOST_CHECK_MESSAGE((states == std::vector<std::string>{"in_use", "ready"}), doc["telemetry"].dump());
    }
  }
  for (auto node : {"client-a", "client-b"})
    BOOST_CHECK_EQUAL(test::count_lines_with_all(cluster->data_dir(node) / "audit.log",
                                                 {"event=\"ct.upload\"", c.uuid}),
                      1u);
  BOOST_CHECK_EQUAL(test::count_lines_with_all(cluster->data_dir("client-a") / "audit.log",
                                               {"event=\"ct.upload.refused\"", c.uuid, "malformed_input"}),
                    1u + bad_files.size());
  BOOST_CHECK_EQUAL(test::count_lines_with_all(cluster->data_dir("client-b") / "audit.log",
                                               {"event=\"ct.upload.refused\"", c.uuid, "forbidden"}),
                    1u);

  // Released once to each client: client-a's analyst gets the table, a second download by client-a
  // gets nothing (the CT waits for client-b meanwhile, so its VMs are all there to refuse it), then
  // client-b's analyst gets the same table and the CT finishes.
  auto got = joconde_cli("client-a:data_analyst", download_args(c, output));
  BOOST_REQUIRE_MESSAGE(got.rc == 0, "download: " << got);
  auto again = joconde_cli("client-a:data_analyst", download_args(c, c.dir / "output-again.csv"));
  check_refused(again, 6, "already_exists");
  // The VMs name the analyst by PAK (no names reach them): the one client-a's CTSA lists.
  std::string pak_sha256;
  auto at_a = cta_at("client-a", c.uuid);
  for (const auto& ad : at_a["addenda"])
    for (const auto& analyst : ad["people"]["data_analysts"])
      if (analyst.value("name", "") == "Analyst a")
        pak_sha256 = analyst.value("pak_sha256", "");
  BOOST_REQUIRE_EQUAL(pak_sha256.size(), 64u);
  BOOST_CHECK_MESSAGE(again.err.find("output income_by_region was retrieved by peer client-a.joconde.test "
                                     "already (by PAK " + pak_sha256.substr(0, 16) + ")")
                        != std::string::npos,
                      again.err);
  BOOST_CHECK(!fs::exists(c.dir / "output-again.csv"));
  BOOST_CHECK_EQUAL(cta_at("root", c.uuid).value("status", ""), "instantiated");
  auto output_b = c.dir / "output-b.csv";
  auto got_b = joconde_cli("client-b:data_analyst", download_args(c, output_b, "analyst-b"));
  BOOST_REQUIRE_MESSAGE(got_b.rc == 0, "download by client-b: " << got_b);
  check_output(output, 100);
  check_output(output_b, 100);
  BOOST_CHECK_EQUAL(read_all(output), read_all(output_b));

  status_everywhere(c.uuid, "finished", 30s);
  erased_at_every_cp(c.uuid, {{"cp1", "finished"}, {"cp2", "finished"}, {"cp3", "finished"}});
}

BOOST_AUTO_TEST_CASE(an_output_deadline_with_one_client_not_downloaded_finishes_the_ct_and_tells_both) {
  // Output closes 45 s from now; client-a's analyst downloads, client-b's never does. The CT ends
  // at the deadline as finished (it ran to completion and offered the output to both), every CP
  // erases client-b's copy and says so, and both peers see it in `joconde cta show`.
  auto task = demo_task();
  auto now = now_ms();
  const auto output_deadline = now + 45'000;
  task["temporal"]["approval_deadline_ms"] = std::to_string(now + 10'000);
  task["temporal"]["input_deadline_ms"] = std::to_string(now + 30'000);
  task["temporal"]["execution_deadline_ms"] = std::to_string(now + 40'000);
  task["temporal"]["output_deadline_ms"] = std::to_string(output_deadline);
  auto c = agree(task, "output-deadline");
  require_input_phase(c.uuid, 20s);
  upload_both(c, 120, 100);
  BOOST_REQUIRE_MESSAGE(test::cluster::wait_until([&] { return cps_in(cta_at("client-a", c.uuid), "output") == 3; },
                                                  30s),
                        "the CT did not reach output in time");
  auto output = c.dir / "output.csv";
  auto got = joconde_cli("client-a:data_analyst", download_args(c, output));
  BOOST_REQUIRE_MESSAGE(got.rc == 0, "download: " << got);
  BOOST_REQUIRE_MESSAGE(now_ms() < output_deadline, "client-a's download came after the output deadline");
  check_output(output, 100);

  status_everywhere(c.uuid, "finished", 60s);
  const std::string erased = "output income_by_region not retrieved by client-b.joconde.test before the "
                             "output deadline: erased";
  for (auto node : {"client-a", "client-b"}) {
    BOOST_TEST_CONTEXT(node) {
      json doc = json::object();
      bool told = test::cluster::wait_until(
        [&] {
          doc = cta_at(node, c.uuid);
          for (const auto& cp : cps) {
            auto ev = events(doc, cp, "erased", "output income_by_region");
            if (ev.size() != 1 || ev[0].value("value", "") != erased)
              return false;
          }
          return true;
        },
        10s);
      BOOST_CHECK_MESSAGE(told, "not every CP's erasure of client-b's copy reached " << node << ": "
                                  << doc["telemetry"].dump());
      for (const auto& cp : cps) {
        auto finished = events(doc, cp, "phase", "finished");
        BOOST_CHECK_MESSAGE(finished.size() == 1
                              && finished[0].value("value", "").find("output deadline passed") != std::string::npos,
                            cp << ": " << doc["telemetry"].dump());
      }
    }
  }
  erased_at_every_cp(c.uuid, {{"cp1", "finished"}, {"cp2", "finished"}, {"cp3", "finished"}});
  // Too late for client-b.
  auto late = joconde_cli("client-b:data_analyst", download_args(c, c.dir / "late.csv", "analyst-b"));
  BOOST_CHECK_NE(late.rc, 0);
  BOOST_CHECK(!fs::exists(c.dir / "late.csv"));
}
