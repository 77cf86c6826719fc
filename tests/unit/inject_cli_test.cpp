#define BOOST_TEST_MODULE inject_cli
#include <boost/test/unit_test.hpp>

// joconde-inject's command line: what it cannot run is refused before it sends anything, with the
// option named and exit 2; a well-formed campaign against nothing reachable runs and reports it.

#include "support/files.hpp"

#include <string>
#include <utility>

namespace {

const std::string inject = std::string{JOCONDE_BINARY_DIR} + "/bin/joconde-inject";

/// Runs joconde-inject with `args`: its exit status and what it printed (both streams).
std::pair<int, std::string> run(const std::string& args) {
  return joconde::test::run_capture(inject + " " + args + " 2>&1");
}

void refused(const std::string& args, const std::string& says) {
  auto [rc, out] = run(args);
  BOOST_CHECK_MESSAGE(rc == 2, args << ": exit " << rc << ": " << out);
  BOOST_CHECK_MESSAGE(out.find(says) != std::string::npos, args << ": expected '" << says << "' in: " << out);
  // Refused before anything ran: no campaign report line.
  BOOST_CHECK_MESSAGE(out.find("\"sent\"") == std::string::npos, args << ": " << out);
}

} // namespace

BOOST_AUTO_TEST_CASE(help_is_printed_and_exits_0) {
  auto [rc, out] = run("--help");
  BOOST_CHECK_EQUAL(rc, 0);
  BOOST_CHECK(out.find("campaign mode") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(garbage_on_the_command_line_is_refused_with_the_option_named) {
  auto tmp = joconde::test::fresh_dir("inject-cli");
  auto endpoints = (tmp / "endpoints.json").string();
  joconde::test::write_all(endpoints, R"({"client":"127.0.0.1:1","peer":"127.0.0.1:1","mpc":"127.0.0.1:1"})");
  const auto vm = " --vm-endpoints " + endpoints;
  refused("", "--identity is required");
  refused("--bogus 1", "unknown option --bogus");
  refused("--campaign", "unexpected argument --campaign");
  refused("--campaign all --attack honest" + vm, "exclude each other");
  refused("--campaign all", "a campaign needs a target");
  refused("--campaign vm-nothing" + vm, "unknown campaign type 'vm-nothing'");
  refused("--campaign ,," + vm, "--campaign takes all or a comma-separated list");
  refused("--campaign vm-peer --api-url https://127.0.0.1:1 --ca-file x", "campaign type vm-peer needs --vm-endpoints");
  refused("--campaign http" + vm, "campaign type http needs --api-url and --ca-file");
  refused("--campaign link-hello" + vm, "campaign type link-hello needs --identity and --target");
  for (const auto* count : {"0", "-5", "12abc", "99999999999", "1e3", " "})
    refused("--campaign vm-peer --count '" + std::string{count} + "'" + vm, "--count needs a whole number from 1");
  refused("--campaign vm-peer --seed -1" + vm, "--seed needs a whole number");
  refused("--campaign vm-peer --pid 0" + vm, "--pid needs a whole number from 1");
  refused("--campaign vm-peer --pid x" + vm, "--pid needs a whole number");
  refused("--campaign vm-peer --control maybe" + vm, "--control takes yes or no, got 'maybe'");
  refused("--campaign link-hello --identity " + tmp.string() + " --target nowhere" , "--target must be HOST:PORT");
  refused("--campaign link-hello --identity " + tmp.string() + " --target host:0", "--target needs a whole number from 1 to 65535");
  refused("--campaign link-hello --identity " + tmp.string() + " --target host:65536", "--target needs a whole number");
  refused("--campaign vm-peer --timeout-ms 0" + vm, "--timeout-ms needs a whole number from 1");
  refused("--campaign vm-peer --token-file " + (tmp / "no-such-token").string() + vm, "cannot read a token from");
  std::filesystem::remove_all(tmp);
}

BOOST_AUTO_TEST_CASE(a_well_formed_campaign_against_nothing_is_not_a_usage_error) {
  // Negative twin: the same options well formed get past the command line; with nothing listening
  // the campaign says the endpoint is unreachable and stops the type (exit 0 or 1, never 2).
  auto tmp = joconde::test::fresh_dir("inject-cli-twin");
  auto endpoints = (tmp / "endpoints.json").string();
  joconde::test::write_all(endpoints, R"({"client":"127.0.0.1:9","peer":"127.0.0.1:9","mpc":"127.0.0.1:9"})");
  auto [rc, out] = run("--campaign vm-peer --count 25 --seed 7 --control no --vm-endpoints " + endpoints);
  BOOST_CHECK_MESSAGE(rc != 2, out);
  BOOST_CHECK_MESSAGE(out.find("\"sent\"") != std::string::npos, out);
  std::filesystem::remove_all(tmp);
}
