#define BOOST_TEST_MODULE chaos
#include "support/files.hpp"

#include <boost/test/unit_test.hpp>

// The kill -9 campaign as CI runs it (issue 14): `ops/chaos` on a fresh six-node cluster, three CTs,
// in each one node or CT VM killed with SIGKILL at a moment drawn from a fixed seed and restarted;
// every invariant (CT finished or cancelled everywhere by its deadline, nothing of it left at the CPs,
// every link up, every CTA listed, every audit log intact) must hold. Its negative twin,
// `ops/chaos --self-test`, stops a CT in its input phase, plants a fault for each invariant and
// must see each reported FAILED: the checks can fail.
// The kills fall anywhere in the first 10 s of each run (agreement, VM start, input, calculation,
// the downloads, the CT's end).

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {

using joconde::test::read_all;

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1))
    ++n;
  return n;
}

/// Runs ops/chaos with `args` in a directory of its own; its exit status and everything it printed.
struct chaos_run {
  int rc = -1;
  std::string out;
  fs::path dir;

  explicit chaos_run(const std::string& name, const std::string& args) {
    dir = fs::temp_directory_path() / ("joconde-chaos-test-" + name + "-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    auto log = dir.string() + ".log";
    auto cmd = "BUILD_DIR=" + std::string{JOCONDE_BINARY_DIR} + " " + std::string{JOCONDE_SOURCE_DIR}
               + "/ops/chaos --no-build --dir " + dir.string() + " " + args + " > " + log + " 2>&1";
    auto status = std::system(cmd.c_str());
    rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    out = read_all(log);
    fs::remove(log);
  }

  ~chaos_run() {
    // ops/chaos stops its cluster and removes its directory itself; this is for a run that was killed.
    if (fs::exists(dir / "cluster.json"))
      (void) std::system((std::string{JOCONDE_SOURCE_DIR} + "/ops/cluster down --dir " + dir.string()
                          + " > /dev/null 2>&1")
                           .c_str());
    fs::remove_all(dir);
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(three_ct_runs_with_a_kill_9_each_hold_every_invariant) {
  chaos_run chaos{"campaign", "--runs 3 --seed 1"};
  BOOST_TEST_MESSAGE(chaos.out);
  BOOST_CHECK_MESSAGE(chaos.rc == 0, "ops/chaos exited " << chaos.rc << ":\n" << chaos.out);
  // One line per run, each naming its victim; all five invariants checked in each.
  for (auto run : {"run   1/3  victim", "run   2/3  victim", "run   3/3  victim"})
    BOOST_CHECK_MESSAGE(chaos.out.find(run) != std::string::npos, run);
  BOOST_CHECK_EQUAL(count(chaos.out, "outcome:ok erased:ok links:ok ctas:ok audit:ok"), 3u);
  BOOST_CHECK(chaos.out.find("chaos summary: 3 run(s), 0 with a failed invariant") != std::string::npos);
  BOOST_CHECK_EQUAL(count(chaos.out, "ok in every run"), 5u);
  // Nothing left: no process of the cluster, no directory.
  BOOST_CHECK(chaos.out.find("left behind") == std::string::npos);
  BOOST_CHECK(!fs::exists(chaos.dir));
}

BOOST_AUTO_TEST_CASE(a_planted_fault_for_each_invariant_is_reported_failed) {
  chaos_run chaos{"self-test", "--self-test --seed 1"};
  BOOST_TEST_MESSAGE(chaos.out);
  BOOST_CHECK_MESSAGE(chaos.rc == 0, "ops/chaos --self-test exited " << chaos.rc << ":\n" << chaos.out);
  // Each check failed, for the reason that was planted.
  BOOST_CHECK(chaos.out.find("outcome  FAILED: still instantiated") != std::string::npos);
  BOOST_CHECK(chaos.out.find("erased   FAILED:") != std::string::npos);
  BOOST_CHECK(chaos.out.find("VM process of the CT left at cp1") != std::string::npos);
  BOOST_CHECK(chaos.out.find("is in cp2/ct-logs/planted.log") != std::string::npos);
  BOOST_CHECK(chaos.out.find("links    FAILED:") != std::string::npos);
  BOOST_CHECK(chaos.out.find("client-b: does not answer") != std::string::npos);
  BOOST_CHECK(chaos.out.find("ctas     FAILED:") != std::string::npos);
  BOOST_CHECK(chaos.out.find("00000000-0000-4000-8000-00000000c4a0") != std::string::npos);
  BOOST_CHECK(chaos.out.find("audit    FAILED: cp3: exit 1") != std::string::npos);
  BOOST_CHECK_EQUAL(count(chaos.out, "caught: planted"), 5u);
  BOOST_CHECK_EQUAL(count(chaos.out, "MISSED"), 0u);
  BOOST_CHECK(chaos.out.find("self-test: every planted fault was caught") != std::string::npos);
  BOOST_CHECK(!fs::exists(chaos.dir));
}
