#define BOOST_TEST_MODULE netlab_ct
#include "support/files.hpp"

#include <boost/test/unit_test.hpp>

// One Computation Task across the multi-host laboratory, as a new user runs it: `./ops/demo --netlab`
// puts the six nodes on six hosts (network namespaces with addresses from 198.18.0.0/15, a one-way
// delay between organisations through joconde-netlab-relay), runs the CT end to end with the joconde
// CLI from the lab's workstation over HTTPS, checks the listeners of every host while the CT VMs run
// (nothing another host must reach is bound to loopback) and checks both clients' copy of the output
// against the statistics computed from the input files; then, from the workstation, plain HTTP to a
// node's API, the CLI with a CA that did not issue its certificate and the CLI with an http:// URL are
// refused, each with its own error. Then `ops/cluster down` removes nodes,
// namespaces and relay. Needs root (CI runs as root); without root it says so and fails. The same
// CT runs once more on one host over IPv6 (::1).

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

int run(const std::string& command) {
  auto rc = std::system(command.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1))
    ++n;
  return n;
}

/// The laboratory's namespaces (prefix jnlt-), if any are on the machine.
std::string lab_namespaces() {
  auto out = fs::temp_directory_path() / ("joconde-netlab-ct-ns-" + std::to_string(::getpid()));
  run("ip netns list 2>/dev/null | grep '^jnlt-' > " + out.string());
  auto text = read_all(out);
  fs::remove(out);
  return text;
}

struct lab_dir {
  fs::path path = fs::temp_directory_path() / ("joconde-netlab-ct-" + std::to_string(::getpid()));
  lab_dir() { fs::remove_all(path); }
  ~lab_dir() {
    // Whatever happened: nodes, VMs, namespaces and relay go.
    run(std::string{JOCONDE_SOURCE_DIR} + "/ops/cluster down --dir " + path.string() + " > /dev/null 2>&1");
    if (std::getenv("JOCONDE_KEEP_CLUSTER") == nullptr)
      fs::remove_all(path);
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(a_ct_runs_across_six_hosts_with_delay_between_organisations) {
  BOOST_REQUIRE_MESSAGE(::geteuid() == 0, "the laboratory needs root (network namespaces, TUN devices)");
  lab_dir dir;
  auto log = dir.path.string() + ".log";
  auto cmd = "BUILD_DIR=" + std::string{JOCONDE_BINARY_DIR} + " " + std::string{JOCONDE_SOURCE_DIR}
             + "/ops/demo --netlab --no-build --netlab-prefix jnlt --delay-ms 5 --rows 2000 --dir "
             + dir.path.string() + " > " + log + " 2>&1";
  auto rc = run(cmd);
  auto out = read_all(log);
  BOOST_TEST_MESSAGE(out);
  BOOST_REQUIRE_MESSAGE(rc == 0, "ops/demo --netlab failed (exit " << rc << "):\n" << out);
  // Six hosts, each its own address; every link up across the relay.
  BOOST_CHECK(out.find("all nodes ready, all links up") != std::string::npos);
  for (const auto* a : {"198.18.0.10:4700", "198.18.0.11:4700", "198.18.0.15:4700"})
    BOOST_CHECK_MESSAGE(out.find(a) != std::string::npos, a);
  // The listeners while the VMs ran: checked by the demo on every host.
  BOOST_CHECK(out.find("no listener another host must reach is bound to loopback") != std::string::npos);
  // Both clients' analysts downloaded the output; both copies equal the direct computation.
  BOOST_CHECK_EQUAL(count(out, "    match"), 2u);
  BOOST_CHECK(out.find("a second download by client-a's analyst is refused") != std::string::npos);
  BOOST_CHECK(out.find("already_exists") != std::string::npos);
  // Every phase timed.
  BOOST_CHECK(out.find("calculation (inputs ready -> output phase)") != std::string::npos);

  // From the workstation (198.18.0.1), across the relay to client-a's host: plain HTTP to its API is
  // refused with https_required; the CLI with the cluster's root CA gets an answer, with another CA it
  // stops before the handshake ends (exit 3, untrusted_chain) and no token leaves it.
  const std::string api = "198.18.0.14:8443";
  auto body = dir.path.string() + ".plain";
  auto code = dir.path.string() + ".code";
  BOOST_CHECK_EQUAL(run("curl -sS --max-time 10 -o " + body + " -w '%{http_code}' http://" + api
                        + "/v1/status > " + code + " 2>&1"),
                    0);
  BOOST_CHECK_EQUAL(read_all(code), "400");
  BOOST_CHECK_MESSAGE(read_all(body).find("https_required") != std::string::npos, read_all(body));
  auto other_ca = dir.path / "other-ca.pem";
  BOOST_REQUIRE_EQUAL(run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "
                          "/CN=another-root -keyout "
                          + (dir.path / "other-ca.key").string() + " -out " + other_ca.string()
                          + " > /dev/null 2>&1"),
                      0);
  const std::string cli = std::string{JOCONDE_BINARY_DIR} + "/bin/joconde --url https://" + api
                          + " --token jct_not_sent_anywhere status";
  auto said = dir.path.string() + ".said";
  BOOST_CHECK_EQUAL(run(cli + " --ca-file " + (dir.path / "client-a" / "root-ca.pem").string() + " > " + said
                        + " 2>&1"),
                    4); // the CA verifies; the made-up token is refused by the node (401, exit 4)
  BOOST_CHECK_MESSAGE(read_all(said).find("untrusted_chain") == std::string::npos, read_all(said));
  BOOST_CHECK_EQUAL(run(cli + " --ca-file " + other_ca.string() + " > " + said + " 2>&1"), 3);
  BOOST_CHECK_MESSAGE(read_all(said).find("untrusted_chain") != std::string::npos, read_all(said));
  // And the CLI itself never sends a token over plain HTTP to another host (exit 2, nothing sent).
  BOOST_CHECK_EQUAL(run(std::string{JOCONDE_BINARY_DIR} + "/bin/joconde --url http://" + api
                        + " --token jct_not_sent_anywhere status > " + said + " 2>&1"),
                    2);
  BOOST_CHECK_MESSAGE(read_all(said).find("refusing to send a token over plain HTTP") != std::string::npos,
                      read_all(said));
  for (const auto& f : {body, code, said})
    fs::remove(f);
  // Down: nothing of the lab is left.
  BOOST_CHECK_EQUAL(run(std::string{JOCONDE_SOURCE_DIR} + "/ops/cluster down --dir " + dir.path.string()
                        + " > /dev/null 2>&1"),
                    0);
  BOOST_CHECK_MESSAGE(lab_namespaces().empty(), "namespaces left: " << lab_namespaces());
  fs::remove(log);
}

BOOST_AUTO_TEST_CASE(a_ct_runs_over_ipv6) {
  // The whole loop on ::1: node links (CAF over mutual TLS), HTTPS APIs, CT VM endpoints, uploads,
  // the MPC channels and downloads, every address an IPv6 literal in brackets.
  lab_dir dir;
  auto log = dir.path.string() + ".log";
  auto rc = run("BUILD_DIR=" + std::string{JOCONDE_BINARY_DIR} + " " + std::string{JOCONDE_SOURCE_DIR}
                + "/ops/demo --ipv6 --no-build --rows 1000 --dir " + dir.path.string() + " > " + log + " 2>&1");
  auto out = read_all(log);
  BOOST_TEST_MESSAGE(out);
  BOOST_REQUIRE_MESSAGE(rc == 0, "ops/demo --ipv6 failed (exit " << rc << "):\n" << out);
  BOOST_CHECK(out.find("https://[::1]:") != std::string::npos);
  BOOST_CHECK(out.find("client [::1]:") != std::string::npos);
  BOOST_CHECK_EQUAL(count(out, "    match"), 2u);
  fs::remove(log);
}
