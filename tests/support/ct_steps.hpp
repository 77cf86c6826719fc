#pragma once

// The inputs of the fixture's CT (tests/support/ct_fixture.hpp), the table its algorithm makes of
// them, and the steps that run a CT of ct_cluster to its end, checked with Boost.Test: for the test
// programs that run a CT end to end (tests/actors/ct_run_test.cpp, ct_campaign_test.cpp).

#include "support/ct_fixture.hpp"

#include "joconde/engines/ctsc.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

namespace joconde::test {

/// Planted in an input file; must never show up on disk.
inline const std::string canary = "CANARY-7f3a9c";

/// a's input `persons`: 21 persons by region (one of them the canary).
inline std::string persons_csv() {
  std::string s = "id,region\n";
  for (int i = 0; i < 20; ++i)
    s += "P" + std::to_string(i) + "," + (i < 12 ? "north" : i < 19 ? "south" : "east") + "\n";
  s += canary + ",north\n";
  return s;
}

/// b's input `income`: the income of some of them, and of one stranger.
inline std::string income_csv() {
  std::string s = "id,income\n";
  for (int i = 0; i < 20; i += 2)
    s += "P" + std::to_string(i) + "," + std::to_string(1000 + i) + "\n";
  s += "P19,5\nX1,7\n";
  return s;
}

/// What the algorithm makes of persons_csv and income_csv: east, with one person, withheld by the
/// rule and marked C (CONF_STATUS), its region kept and its values empty.
inline const std::string expected_table = "region,persons,income,CONF_STATUS,CONF_RULE\n"
                                          "north,6,6030,F,\nsouth,4,4060,F,\n"
                                          "east,,,C,HAVING COUNT(*) >= 2\n";

/// a's and b's custodians upload their inputs; the VMs then close the input phase and compute.
inline void uploads_both_inputs(ct_cluster& c, const fixture_cta& f) {
  const auto& uuid = f.final.cta().ctsc().uuid();
  BOOST_REQUIRE(io::upload(c.target, "persons", persons_csv(), authorize(f.custodian_a, uuid, "persons", true)));
  BOOST_REQUIRE(io::upload(c.target, "income", income_csv(), authorize(f.custodian_b, uuid, "income", true)));
}

/// The VMs reach the output phase and a's analyst downloads the expected table; with `all_exit`,
/// every VM then ends finished (an output named for a only).
inline void downloads_the_table(ct_cluster& c, const fixture_cta& f, bool all_exit = true) {
  const auto& uuid = f.final.cta().ctsc().uuid();
  BOOST_REQUIRE(c.wait_phase("output"));
  auto got = io::download(c.target, "by_region", authorize(f.analyst_a, uuid, "by_region", false));
  BOOST_REQUIRE_MESSAGE(got, (got ? "" : got.err().describe()));
  BOOST_TEST(got->csv == expected_table, got->csv);
  // The income sum is beyond the ring: the VMs wrote it as three words, which the download joined.
  auto program = engines::compile_ctsc(f.final.cta().ctsc());
  BOOST_TEST((program && program->output_words("by_region") == std::vector<unsigned>{1, 1, 3}));
  if (all_exit)
    BOOST_TEST(c.exits() == (std::vector<int>{vm::exit_finished, vm::exit_finished, vm::exit_finished}));
}

/// The custodians upload, the VMs compute, a's analyst downloads the expected table; with
/// `all_exit`, every VM then ends finished.
inline void runs_to_its_end(ct_cluster& c, const fixture_cta& f, bool all_exit = true) {
  uploads_both_inputs(c, f);
  downloads_the_table(c, f, all_exit);
}

} // namespace joconde::test
