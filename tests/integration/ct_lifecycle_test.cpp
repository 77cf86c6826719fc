// A running Computation Task on a real cluster, driven like its users drive it: every step is the
// `joconde` CLI (--cluster DIR --as NODE:ROLE, as ./ops/demo does) against six node processes, with
// the CPs' CT VMs started through joconde-sp. A VM killed with SIGKILL after an upload cancels the
// CT at every holder, every CP erases it, and a canary id of the upload is in no file of the root
// or the CPs (LMDB files, logs, audit logs, archived VM logs); an input deadline that passes with an
// input missing cancels and erases the CT everywhere; uploads and downloads the CT must refuse are
// refused with their own error and exit code and change nothing, so that the CT still runs to its
// output, which is released once to each client it is named for: the CT waits for both analysts,
// and a second download by the same client is refused; an output deadline that passes before one
// client downloaded ends the CT as finished and tells both clients what was erased
// (docs/computation-tasks.md §3-§6).
//
// Here: the CT cancelled by a killed VM and by its input deadline; its output in
// ct_lifecycle_test_output.cpp.
#define BOOST_TEST_MODULE ct_lifecycle
#include <boost/test/unit_test.hpp>

#include "ct_lifecycle_test_support.hpp"

using namespace joconde;
using namespace std::chrono_literals;
using namespace ct_lifecycle_test_support;

BOOST_TEST_GLOBAL_FIXTURE(global_cluster);

BOOST_AUTO_TEST_CASE(a_vm_killed_after_an_upload_cancels_and_erases_the_ct_and_leaves_no_canary) {
  auto c = agree(demo_task(), "killed");
  require_input_phase(c.uuid, 60s);
  // One person's id is a canary: it reaches the VMs only as shares of its hash.
  auto canary = "CANARY-" + crypto::hex(crypto::random_bytes(8));
  auto persons = c.dir / "persons.csv";
  write_file(persons, persons_csv(120, canary + ",north,40\n"));
  auto up = joconde_cli("client-a:data_custodian", upload_args(c, "persons", persons, "custodian-a"));
  BOOST_REQUIRE_MESSAGE(up.rc == 0, "upload: " << up);
  BOOST_CHECK(up.out.find("uploaded 121 rows into persons") != std::string::npos);
  for (const auto& cp : cps)
    BOOST_CHECK_MESSAGE(fs::exists(cluster->data_dir(cp) / "ct" / c.uuid), cp);

  // SIGKILL to cp1's VM: its sealing key dies with it; cp1 reports the exit, the root cancels.
  auto pid = cluster->vm_pid("cp1", c.uuid);
  BOOST_REQUIRE(pid > 0);
  BOOST_REQUIRE_EQUAL(::kill(pid, SIGKILL), 0);
  status_everywhere(c.uuid, "cancelled", 30s);
  auto at_root = cta_at("root", c.uuid);
  BOOST_CHECK_MESSAGE(at_root.value("reason", "").find("cp1.joconde.test") != std::string::npos,
                      at_root.value("reason", ""));
  erased_at_every_cp(c.uuid, {{"cp1", "vm-exited"}, {"cp2", "cancelled"}, {"cp3", "cancelled"}});
  // The VMs that were cancelled destroyed their sealing keys themselves; the killed one could not.
  at_root = cta_at("root", c.uuid);
  BOOST_CHECK(events(at_root, "cp1", "erased", "sealing-key").empty());
  for (auto cp : {"cp2", "cp3"})
    BOOST_CHECK_MESSAGE(events(at_root, cp, "erased", "sealing-key").size() == 1,
                        cp << ": " << at_root["telemetry"].dump());
  // Every holder learnt of the erasures, the peers too.
  BOOST_CHECK(test::cluster::wait_until(
    [&] {
      auto d = cta_at("client-a", c.uuid);
      return events(d, "cp1", "erased", "vm-exited").size() == 1
             && events(d, "cp2", "erased", "cancelled").size() == 1
             && events(d, "cp3", "erased", "cancelled").size() == 1;
    },
    10s));

  // The canary is nowhere at the root or the CPs: not in LMDB, logs, audit logs or VM logs. The
  // search itself finds it where it is (the custodian's file).
  BOOST_REQUIRE_EQUAL(files_containing(c.dir, canary).hits.size(), 1u);
  for (auto node : {"root", "cp1", "cp2", "cp3", "client-b"}) {
    BOOST_TEST_CONTEXT(node) {
      auto res = files_containing(cluster->data_dir(node), canary);
      BOOST_TEST_MESSAGE(node << ": " << canary << " searched in " << res.searched.size() << " files, "
                              << res.bytes << " bytes");
      for (auto name : {"data.mdb", "audit.log", "node.log.rfc5424"})
        BOOST_CHECK_MESSAGE(searched_one_named(res, name), "no " << name << " searched");
      if (std::string{node}.rfind("cp", 0) == 0)
        BOOST_CHECK_MESSAGE(searched_one_named(res, c.uuid + "-" + node + ".log"),
                            "its CT VM's log was not searched");
      for (const auto& h : res.hits)
        BOOST_ERROR("the canary " << canary << " is in " << h);
    }
  }
}

BOOST_AUTO_TEST_CASE(an_input_deadline_that_passes_cancels_and_erases_the_ct_everywhere) {
  // Input closes 20 s from now; approval before it (the root wants it in the future at creation),
  // execution and output far after.
  auto task = demo_task();
  auto now = now_ms();
  const auto input_deadline = now + 20'000;
  task["temporal"]["approval_deadline_ms"] = std::to_string(now + 10'000);
  task["temporal"]["input_deadline_ms"] = std::to_string(input_deadline);
  task["temporal"]["execution_deadline_ms"] = std::to_string(now + 600'000);
  task["temporal"]["output_deadline_ms"] = std::to_string(now + 1'200'000);
  auto c = agree(task, "deadline");
  // The test needs the CT in input with time to upload before the deadline (about 2 s go by here).
  auto margin = std::chrono::milliseconds{input_deadline - now_ms() - 5'000};
  BOOST_REQUIRE_MESSAGE(margin > 0ms, "the agreement took until 5 s before the input deadline");
  require_input_phase(c.uuid, std::chrono::duration_cast<std::chrono::seconds>(margin));
  // One input of two: the CT cannot leave the input phase.
  auto persons = c.dir / "persons.csv";
  write_file(persons, persons_csv(40));
  auto up = joconde_cli("client-a:data_custodian", upload_args(c, "persons", persons, "custodian-a"));
  BOOST_REQUIRE_MESSAGE(up.rc == 0, "upload: " << up);

  status_everywhere(c.uuid, "cancelled", 60s);
  auto at_root = cta_at("root", c.uuid);
  for (const auto& cp : cps) {
    auto cancelled = events(at_root, cp, "phase", "cancelled");
    BOOST_REQUIRE_MESSAGE(cancelled.size() == 1, cp << ": " << at_root["telemetry"].dump());
    // Each CP cancels at its own deadline, or on the first one's word; the first one says what was missing.
    BOOST_CHECK_MESSAGE(cancelled[0].value("value", "").find("input deadline passed without valid data for "
                                                             "`income` (nothing uploaded)")
                          != std::string::npos,
                        cp << ": " << cancelled[0].dump());
    // Not before the deadline (the VMs and this test read the same clock).
    const auto& at = cancelled[0]["at_ms"];
    auto at_ms = at.is_string() ? std::stoll(at.get<std::string>()) : at.get<std::int64_t>();
    BOOST_CHECK_GE(at_ms, input_deadline);
    BOOST_CHECK_MESSAGE(events(at_root, cp, "phase", "calculation").empty(), cp);
  }
  erased_at_every_cp(c.uuid, {{"cp1", "cancelled"}, {"cp2", "cancelled"}, {"cp3", "cancelled"}});
  // Afterwards the missing input cannot come any more.
  auto income = c.dir / "income.csv";
  write_file(income, income_csv(30));
  auto late = joconde_cli("client-b:data_custodian", upload_args(c, "income", income, "custodian-b"));
  check_refused(late, 6, "invalid_state");
}
