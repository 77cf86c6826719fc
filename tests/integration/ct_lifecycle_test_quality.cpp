// A CT's data-quality checks at upload (SYS-8.9, spec §4.4.1.1 "Input Phase"): a failing upload is
// refused and leaves the input empty, the task goes on, a corrected upload passes and the CT
// finishes (part of the ct_lifecycle test program).
#include <boost/test/unit_test.hpp>

#include "ct_lifecycle_test_support.hpp"

using namespace joconde;
using namespace std::chrono_literals;
using namespace ct_lifecycle_test_support;

namespace {

/// The values of `cp`'s events of `kind` about `subject`, in order.
std::vector<std::string> values(const json& doc, const std::string& cp, const std::string& kind,
                                const std::string& subject) {
  std::vector<std::string> out;
  for (const auto& ev : events(doc, cp, kind, subject))
    out.push_back(ev.value("value", ""));
  return out;
}

/// True if some value in `list` starts with `prefix`.
bool has_prefix(const std::vector<std::string>& list, const std::string& prefix) {
  return std::any_of(list.begin(), list.end(), [&](const std::string& v) { return v.rfind(prefix, 0) == 0; });
}

/// What `cta show --json` at `node` says client-a still has to do, as one text.
std::string to_do_of(const json& doc) {
  std::string out;
  for (const auto& step : doc.value("progress", json::object()).value("to_do", json::array()))
    out += step.value("who", "") + ": " + step.value("what", "") + "\n";
  return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(an_upload_failing_its_quality_check_leaves_the_input_empty_and_a_corrected_one_finishes) {
  auto task = demo_task();
  task["inputs"][0]["data_quality"] = {{"language", "joconde-sql/1"},
                                       {"source", "CHECK age >= 18;\nCHECK COUNT(*) >= 100;\n"}};
  auto c = agree(task, "quality");
  require_input_phase(c.uuid, 60s);

  // One 15-year-old among 120 persons: the node accepts the file (it matches the schema), the CPs
  // run the check on the shares and refuse the upload; the custodian hears it from `upload`.
  auto bad = c.dir / "persons-minor.csv";
  write_file(bad, persons_csv(120, "P0121,north,15\n"));
  auto refused = joconde_cli("client-a:data_custodian", upload_args(c, "persons", bad, "custodian-a"));
  check_refused(refused, 6, "quality_failed");
  BOOST_CHECK_MESSAGE(refused.err.find("the upload of persons is refused and erased: its data-quality check "
                                       "failed; correct the data and upload it again before the input deadline")
                        != std::string::npos,
                      refused.err);

  // Too few rows fail the aggregate check the same way.
  auto few = c.dir / "persons-few.csv";
  write_file(few, persons_csv(99));
  check_refused(joconde_cli("client-a:data_custodian", upload_args(c, "persons", few, "custodian-a")), 6,
                "quality_failed");

  // The task goes on: still in the input phase at every CP, persons empty, and `cta show` tells
  // client-a to upload again and why (once every CP's events reached client-a's node: each CP's
  // telemetry travels on its own).
  json doc = json::object();
  auto failed_twice = [&](const std::string& cp) {
    auto quality = values(doc, cp, "quality", "persons");
    return std::count_if(quality.begin(), quality.end(),
                         [](const std::string& v) { return v.rfind("failed (upload ", 0) == 0; })
           == 2;
  };
  auto emptied = [&](const std::string& cp) {
    auto slots = values(doc, cp, "slot", "persons");
    return !slots.empty() && slots.back().rfind("empty (its data-quality check failed;", 0) == 0;
  };
  BOOST_CHECK(test::cluster::wait_until(
    [&] {
      doc = cta_at("client-a", c.uuid);
      return to_do_of(doc).find("the last upload was refused: its data-quality check failed") != std::string::npos
             && std::all_of(cps.begin(), cps.end(), failed_twice) && std::all_of(cps.begin(), cps.end(), emptied);
    },
    30s));
  BOOST_CHECK_MESSAGE(to_do_of(doc).find("client-a.joconde.test: upload input `persons`") != std::string::npos,
                      to_do_of(doc));
  BOOST_CHECK_EQUAL(doc.value("progress", json::object()).value("phase", ""), "input");
  for (const auto& cp : cps) {
    BOOST_TEST_CONTEXT(cp) {
      BOOST_CHECK(events(doc, cp, "phase", "cancelled").empty());
      BOOST_CHECK(failed_twice(cp));
      BOOST_CHECK(!has_prefix(values(doc, cp, "quality", "persons"), "passed"));
      BOOST_CHECK_MESSAGE(emptied(cp), doc["telemetry"].dump());
    }
  }

  // The corrected file passes: `upload` says so, and with the other input the CT computes.
  auto persons = c.dir / "persons.csv";
  write_file(persons, persons_csv(120));
  auto up = joconde_cli("client-a:data_custodian", upload_args(c, "persons", persons, "custodian-a"));
  BOOST_REQUIRE_MESSAGE(up.rc == 0, "upload: " << up);
  BOOST_CHECK_MESSAGE(up.out.find("its data-quality check passed") != std::string::npos, up.out);
  auto income = c.dir / "income.csv";
  write_file(income, income_csv(100));
  up = joconde_cli("client-b:data_custodian", upload_args(c, "income", income, "custodian-b"));
  BOOST_REQUIRE_MESSAGE(up.rc == 0, "upload: " << up);
  BOOST_CHECK(up.out.find("data-quality") == std::string::npos);  // income has no check
  doc = reach_output(c.uuid);
  for (const auto& cp : cps) {
    BOOST_TEST_CONTEXT(cp) {
      // Checked once at upload, not again in the calculation.
      auto quality = values(doc, cp, "quality", "persons");
      BOOST_CHECK_EQUAL(std::count_if(quality.begin(), quality.end(),
                                      [](const std::string& v) { return v.rfind("passed", 0) == 0; }),
                        1);
      BOOST_CHECK(has_prefix(values(doc, cp, "slot", "persons"),
                             "ready (120 rows, sealed at every CP; its data-quality check passed)"));
    }
  }
  auto output = c.dir / "output.csv";
  auto got = joconde_cli("client-a:data_analyst", download_args(c, output));
  BOOST_REQUIRE_MESSAGE(got.rc == 0, "download: " << got);
  auto got_b = joconde_cli("client-b:data_analyst", download_args(c, c.dir / "output-b.csv", "analyst-b"));
  BOOST_REQUIRE_MESSAGE(got_b.rc == 0, "download by client-b: " << got_b);
  check_output(output, 100);
  status_everywhere(c.uuid, "finished", 30s);
  erased_at_every_cp(c.uuid, {{"cp1", "finished"}, {"cp2", "finished"}, {"cp3", "finished"}});
}
