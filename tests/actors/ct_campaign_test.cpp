#define BOOST_TEST_MODULE ct_campaign
#include <boost/test/unit_test.hpp>

// joconde-inject campaigns (tests/inject/campaign.hpp) at the endpoints of a live CT VM (issue 14):
// three in-process VMs of one CT (tests/support/ct_fixture.hpp), cp-0 attacked with mutated
// messages, which must change nothing there, and the CT must then run to its end with the right
// table. In the input phase, at every endpoint; and at the peer and MPC endpoints while each is
// really served, which the VM's counts of refused connections prove: they add up to the messages
// sent. Messages per type: 60, or JOCONDE_CAMPAIGN_COUNT (100000 for the issue's full size).

#include "support/ct_fixture.hpp"
#include "support/ct_steps.hpp"
#include "support/held_relay.hpp"

#include "joconde/enclave/simulated.hpp"
#include "joconde/runtime/clock.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace joconde;
using test::ct_cluster;
using test::fixture_cta;
using nlohmann::json;

namespace {

/// Messages per type: 60 in CI, JOCONDE_CAMPAIGN_COUNT for a full-size run.
int campaign_count() {
  const char* n = std::getenv("JOCONDE_CAMPAIGN_COUNT");
  return n != nullptr && std::atoi(n) > 0 ? std::atoi(n) : 60;
}

const enclave::simulated_platform& created(const result<enclave::simulated_platform>& p) {
  if (!p)
    throw std::runtime_error{"no simulated platform: " + p.err().describe()};
  return *p;
}

/// What joconde-inject printed: a line per type, then the summary line.
struct campaign_report {
  int exit_code = -1;
  std::vector<json> lines;
  std::string text;

  /// The line of type `type`, or null.
  json of(const std::string& type) const {
    for (const auto& l : lines)
      if (l.value("type", "") == type)
        return l;
    return json{};
  }
};

/// Runs joconde-inject's campaign of `types` (comma-separated), `count` messages each, at VM `cp`'s
/// endpoints, watching this process (the VMs run in it) and reading the VM's state and counters.
campaign_report run_campaign(ct_cluster& c, unsigned cp, const std::string& types, int count) {
  auto token_file = c.dir / "admin.token";
  {
    std::ofstream out{token_file};
    out << c.token << "\n";
  }
  auto out_file = c.dir / ("campaign-" + std::to_string(cp) + ".out");
  auto cmd = "timeout " + std::to_string(600 + count / 25) + " " + std::string{JOCONDE_BINARY_DIR}
             + "/bin/joconde-inject --campaign " + types + " --count " + std::to_string(count)
             + " --vm-endpoints " + (c.dir / ("cp" + std::to_string(cp)) / "endpoints.json").string()
             + " --vm-token-file " + token_file.string() + " --pid " + std::to_string(::getpid()) + " > "
             + out_file.string() + " 2>&1";
  int rc = std::system(cmd.c_str());
  campaign_report r;
  r.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  std::ifstream in{out_file};
  for (std::string line; std::getline(in, line);) {
    r.text += line + "\n";
    if (auto doc = json::parse(line, nullptr, false); doc.is_object())
      r.lines.push_back(doc);
  }
  BOOST_TEST_MESSAGE(r.text);
  return r;
}

/// What every type of a campaign at a served endpoint must show: each of the `count` messages went
/// out and was read to its end by the VM, which closed the connection (answers "closed" or
/// "answered": none timed out, none was refused a connection), nothing crashed and nothing changed.
void every_message_was_taken(const json& line, int count) {
  BOOST_TEST_CONTEXT(line.dump()) {
    BOOST_REQUIRE(line.is_object());
    BOOST_TEST(line.value("sent", 0) == count);
    std::uint64_t taken = 0;
    for (const auto& [outcome, n] : line["answers"].items()) {
      BOOST_TEST((outcome == "closed" || outcome == "answered"), outcome);
      taken += n.get<std::uint64_t>();
    }
    BOOST_TEST(taken == static_cast<std::uint64_t>(count));
    BOOST_TEST(!line.value("crashed", true));
    BOOST_TEST(!line.value("state_changed", true));
    BOOST_TEST(!line.contains("harness_failure"));
  }
}

/// The sum of VM `cp`'s series `family{reason="R"}` over `reasons` (a missing series counts 0).
double refusals(ct_cluster& c, unsigned cp, const std::string& family, const std::vector<std::string>& reasons) {
  double sum = 0;
  for (const auto& r : reasons)
    sum += std::max(0.0, c.metric(cp, family + "{reason=\"" + r + "\"}"));
  return sum;
}

/// Waits (bounded: 30 s) until `done` holds; whether it did.
bool eventually(const std::function<bool()>& done) {
  for (int k = 0; k < 600; ++k) {
    if (done())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  return done();
}

const std::string peer_family = "joconde_vm_peer_refused_total";
const std::vector<std::string> peer_reasons{"busy",      "greeting",  "unknown-index", "established",
                                            "handshake", "duplicate", "source-busy",   "evicted"};
const std::string mpc_family = "joconde_vm_mpc_refused_total";
const std::vector<std::string> mpc_reasons{"bad-party-id", "party-taken", "failed-proof",
                                           "hung-up",      "too-slow",    "over-limit"};

/// A CT in its input phase long enough for the campaign (about 2 ms a message, four types).
struct ct_in_long_input {
  result<enclave::simulated_platform> platform = enclave::simulated_platform::create();
  fixture_cta f{created(platform), now_ms() + 600'000 + 8LL * campaign_count()};
  bool deadlines_moved = (f.output_deadline(now_ms() + 1'200'000 + 16LL * campaign_count()), true);
  ct_cluster c{*platform, f};

  ct_in_long_input() {
    BOOST_REQUIRE_MESSAGE(c.wait_phase("input"), "the VMs did not attest each other and open input");
  }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(a_campaign_of_mutated_messages_at_every_vm_endpoint_changes_nothing, ct_in_long_input) {
  // joconde-inject sends mutants of valid greetings, hellos and admin requests at cp-0's peer, MPC,
  // client and admin endpoints during the input phase; cp-0 stays in the input phase with its slots
  // as they were, and the CT then runs to its end.
  auto count = campaign_count();
  auto report = run_campaign(c, 0, "all", count);
  BOOST_TEST(report.exit_code == 0, report.text);
  BOOST_REQUIRE(report.lines.size() == 5u);
  for (size_t i = 0; i < 4; ++i) {
    // The peer and MPC ports are not served in the input phase: the first connection's answer times
    // out, the rest are sent without waiting; once their backlog is full, the campaign stops there
    // and says so.
    auto stopped = report.lines[i]["answers"].value("stopped: the endpoint accepts no more connections", 0);
    BOOST_TEST(report.lines[i].value("sent", 0) + stopped == count);
    BOOST_TEST(!report.lines[i].value("state_changed", true));
    BOOST_TEST(!report.lines[i].contains("harness_failure"));
  }
  BOOST_TEST(report.of("vm-peer")["answers"].value("timed-out", 0) == 1, report.of("vm-peer").dump());
  BOOST_TEST(report.of("vm-mpc")["answers"].value("timed-out", 0) == 1, report.of("vm-mpc").dump());
  BOOST_TEST(report.of("vm-admin")["answers"].dump().find("http-401") != std::string::npos,
             report.of("vm-admin").dump());
  BOOST_TEST(c.status(0).value("phase", "") == "input");
  test::runs_to_its_end(c, f);
}

BOOST_AUTO_TEST_CASE(a_campaign_at_the_served_peer_port_is_refused_message_by_message_and_changes_nothing) {
  // cp-0 is given its peers first: it accepts on its peer port, waiting for cp-1 and cp-2, which do
  // not dial it before they are given theirs, after the campaign. cp-0 takes every mutant of a
  // counterpart's first messages there, refuses it and counts it: its refusals add up to the count
  // (each connection is counted once, whatever the reason). It stays in initialisation; then the
  // counterparts get through and the CT runs to its end.
  auto platform = enclave::simulated_platform::create();
  BOOST_REQUIRE(platform);
  auto count = campaign_count();
  fixture_cta f{*platform, now_ms() + 600'000 + 20LL * count};
  f.output_deadline(now_ms() + 1'200'000 + 20LL * count);
  campaign_report report;
  double counted = -1;
  std::string phase_before, phase_after;
  test::ct_cluster_options o;
  o.after_first_peers = [&](ct_cluster& c) {
    phase_before = c.status(0).value("phase", "");
    BOOST_TEST(refusals(c, 0, peer_family, peer_reasons) == 0.0);
    report = run_campaign(c, 0, "vm-peer", count);
    // The last refusals may be counted a moment after the connection closed.
    eventually([&] { return refusals(c, 0, peer_family, peer_reasons) >= count; });
    counted = refusals(c, 0, peer_family, peer_reasons);
    phase_after = c.status(0).value("phase", "");
  };
  ct_cluster c{*platform, f, o};
  BOOST_TEST(report.exit_code == 0, report.text);
  BOOST_REQUIRE(report.lines.size() == 2u);
  auto line = report.of("vm-peer");
  every_message_was_taken(line, count);
  BOOST_TEST(counted == static_cast<double>(count));
  // Mutants that kept a counterpart's index and a hello reached the attested handshake and failed
  // there; the campaign saw the counts grow.
  BOOST_TEST(c.metric(0, peer_family + "{reason=\"handshake\"}") >= 1.0);
  BOOST_TEST(line["counted_by_target"].dump().find(peer_family) != std::string::npos, line.dump());
  BOOST_TEST(phase_before == "initialisation");
  BOOST_TEST(phase_after == "initialisation");

  BOOST_REQUIRE_MESSAGE(c.wait_phase("input"), "the counterparts were not attested after the campaign");
  // Their own connections were not refused.
  BOOST_TEST(refusals(c, 0, peer_family, peer_reasons) == static_cast<double>(count));
  test::runs_to_its_end(c, f);
}

BOOST_AUTO_TEST_CASE(a_campaign_at_the_served_mpc_port_is_refused_message_by_message_and_the_ct_computes) {
  // A relay stands between cp-1 and cp-2 and cp-0's MPC endpoint and holds their connections: cp-0
  // reaches the calculation and accepts on its MPC port, waiting for parties 1 and 2 to prove their
  // pair keys, while the campaign sends mutants of a party's greeting and key proof there. Then the
  // relay lets the parties through: the calculation runs, cp-0 counts every mutant as refused (its
  // refusals add up to the count) and the CT ends with the right table.
  auto platform = enclave::simulated_platform::create();
  BOOST_REQUIRE(platform);
  auto count = campaign_count();
  fixture_cta f{*platform, now_ms() + 600'000};
  f.output_deadline(now_ms() + 1'200'000 + 20LL * count);
  test::held_relay relay;
  test::ct_cluster_options o;
  // How long cp-0 waits for parties 1 and 2 (and they try to reach it): the whole campaign.
  o.peer_timeout = std::chrono::milliseconds{120'000 + 20LL * count};
  o.before_peers = [&](const std::vector<json>& endpoints) { relay.upstream(endpoints[0]["mpc"].get<std::string>()); };
  o.peers_for = [&](unsigned vm, json& peers) {
    for (auto& p : peers)
      if (vm != 0 && p["cp_index"] == 0)
        p["mpc_address"] = relay.address();
  };
  ct_cluster c{*platform, f, o};
  BOOST_REQUIRE(c.wait_phase("input"));
  test::uploads_both_inputs(c, f);
  // Parties 1 and 2 dial cp-0's MPC endpoint through the relay, which holds them.
  BOOST_REQUIRE_MESSAGE(eventually([&] { return relay.connections() >= 2; }), "parties 1 and 2 did not dial cp-0");
  BOOST_REQUIRE(c.wait_phase("calculation"));
  BOOST_TEST(refusals(c, 0, mpc_family, mpc_reasons) == 0.0);

  auto report = run_campaign(c, 0, "vm-mpc", count);
  BOOST_TEST(report.exit_code == 0, report.text);
  BOOST_REQUIRE(report.lines.size() == 2u);
  every_message_was_taken(report.of("vm-mpc"), count);
  BOOST_TEST(c.status(0).value("phase", "") == "calculation");
  BOOST_TEST(relay.connections() == 2u);

  relay.release();
  BOOST_REQUIRE_MESSAGE(c.wait_phase("output"), "the calculation did not end once the parties got through");
  // cp-0 counted the campaign's connections once its parties had connected: every one, and no other.
  BOOST_TEST(refusals(c, 0, mpc_family, mpc_reasons) == static_cast<double>(count));
  // Mutants that kept a party's index reached the key proof and failed it.
  BOOST_TEST(c.metric(0, mpc_family + "{reason=\"failed-proof\"}") >= 1.0);
  BOOST_TEST(c.metric(0, mpc_family + "{reason=\"party-taken\"}") <= 0.0);
  for (unsigned i = 1; i < 3; ++i)
    BOOST_TEST(refusals(c, i, mpc_family, mpc_reasons) == 0.0, "cp-" << i);
  test::downloads_the_table(c, f);
}
