#define BOOST_TEST_MODULE sp
#include <boost/test/unit_test.hpp>

// The simulated secure processor as its own process (docs/tee.md): the real `joconde-sp` binary makes
// a platform, measures a VM image and launches joconde-fake-vm, whose evidence must verify with the
// measurement `measure` printed and the host data given; and the negative twins (debug without
// consent, another configuration, a malformed request, a missing binary), exit status and signals.

#include "joconde/enclave/platform.hpp"
#include "joconde/enclave/secure_processor.hpp"
#include "joconde/enclave/simulated.hpp"
#include "joconde/messages/text.hpp"

#include "enclave_test_support.hpp"

#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

using namespace joconde;
using namespace joconde::enclave;

using joconde::test::cta_hash;
using joconde::test::must;
using joconde::text::hex;

namespace fs = std::filesystem;

namespace {

const fs::path sp_binary = fs::path{JOCONDE_BINARY_DIR} / "bin" / "joconde-sp";
const fs::path vm_binary = fs::path{JOCONDE_BINARY_DIR} / "tests" / "joconde-fake-vm";

bytes unhex(std::string_view digits) {
  return must(text::from_hex(digits));
}

std::string slurp(const fs::path& file) {
  std::ifstream in{file, std::ios::binary};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// The "key value" lines joconde-fake-vm writes.
std::map<std::string, std::string> vm_report(const fs::path& file) {
  std::map<std::string, std::string> out;
  std::istringstream in{slurp(file)};
  std::string key;
  std::string value;
  while (in >> key >> value)
    out[key] = value;
  return out;
}

/// Waits (bounded, not timed: a liveness limit) until `file` exists.
bool appears(const fs::path& file) {
  for (int i = 0; i < 3000; ++i) {
    if (fs::exists(file))
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  return false;
}

/// A started joconde-sp with its stdout and stderr in files.
struct process {
  pid_t pid = -1;
  fs::path out;
  fs::path err;

  /// Its exit status, 128 + signal when a signal ended it.
  int wait() {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      // nop
    }
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  }
};

/// A scratch directory, a platform made by `joconde-sp init` and a trusted verifier for it.
struct fixture {
  fs::path dir;
  fs::path platform;
  bytes root_der;
  fs::path config;
  host_data host = cta_hash("cta-2026-042");
  int runs = 0;

  fixture() {
    static int counter = 0;
    dir = fs::temp_directory_path()
          / ("joconde-sp-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(dir);
    fs::create_directories(dir);
    platform = dir / "platform";
    auto init = start({"init", platform.string()});
    BOOST_REQUIRE_EQUAL(init.wait(), 0);
    auto said = slurp(init.out);
    BOOST_TEST(said.find("SIMULATED") != std::string::npos, said);
    root_der = read_root();
    std::uint8_t fingerprint[SHA256_DIGEST_LENGTH];
    SHA256(root_der.data(), root_der.size(), fingerprint);
    BOOST_TEST(said.find(hex(fingerprint)) != std::string::npos, said);
    config = write("image.conf", "engine = rss3\nparties = 3\n");
  }

  ~fixture() { fs::remove_all(dir); }

  fs::path write(const std::string& name, const std::string& content) const {
    std::ofstream{dir / name, std::ios::binary} << content;
    return dir / name;
  }

  bytes read_root() const {
    auto* f = std::fopen((platform / "root.pem").c_str(), "r");
    BOOST_REQUIRE(f != nullptr);
    X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    BOOST_REQUIRE(cert != nullptr);
    unsigned char* der = nullptr;
    auto len = i2d_X509(cert, &der);
    bytes out(der, der + len);
    OPENSSL_free(der);
    X509_free(cert);
    return out;
  }

  /// Starts joconde-sp with `args`.
  process start(const std::vector<std::string>& args) {
    process p;
    auto n = std::to_string(runs++);
    p.out = dir / ("sp-" + n + ".out");
    p.err = dir / ("sp-" + n + ".err");
    std::vector<std::string> all{sp_binary.string()};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, p.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, p.err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    auto rc = posix_spawn(&p.pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    BOOST_REQUIRE_EQUAL(rc, 0);
    return p;
  }

  /// `joconde-sp launch` of the fake VM with `extra` SP options and `vm_args`.
  process launch(const fs::path& image_config, std::vector<std::string> extra,
                 const std::vector<std::string>& vm_args) {
    std::vector<std::string> args{"launch",        "--platform", platform.string(),
                                  "--vm",          vm_binary.string(),
                                  "--image-config", image_config.string(),
                                  "--host-data",   hex(host)};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back("--");
    args.insert(args.end(), vm_args.begin(), vm_args.end());
    return start(args);
  }

  /// What `joconde-sp measure` prints for the fake VM with `image_config`.
  std::string measured(const fs::path& image_config) {
    auto p = start({"measure", "--vm", vm_binary.string(), "--image-config", image_config.string()});
    BOOST_REQUIRE_EQUAL(p.wait(), 0);
    auto out = slurp(p.out);
    BOOST_REQUIRE(!out.empty() && out.back() == '\n');
    return out.substr(0, out.size() - 1);
  }

  reference_values accepting(const std::string& measurement_hex) const {
    reference_values r;
    auto m = unhex(measurement_hex);
    BOOST_REQUIRE_EQUAL(m.size(), 48u);
    r.measurements.emplace_back();
    std::copy(m.begin(), m.end(), r.measurements.back().begin());
    r.cta_hash = host;
    r.min_tcb_version = simulated_tcb_version;
    r.allow_simulated = true;
    return r;
  }
};

report_data some_report_data(std::uint8_t seed) {
  report_data out{};
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<std::uint8_t>(seed + 3 * i);
  return out;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(secure_processor_process, fixture)

BOOST_AUTO_TEST_CASE(launched_vm_gets_evidence_that_verifies_with_the_printed_measurement) {
  auto m = measured(config);
  BOOST_TEST(m.size() == 96u);
  BOOST_TEST(m.find_first_not_of("0123456789abcdef") == std::string::npos);
  auto binary = must(read_file(vm_binary, max_vm_binary));
  BOOST_TEST(m == hex(measure(binary, test::text(slurp(config)))));

  auto data = some_report_data(7);
  auto out = dir / "vm.out";
  auto sp = launch(config, {}, {"--out", out.string(), "--report-data", hex(data), "--exit", "7"});
  BOOST_TEST(sp.wait() == 7); // the SP exits with the VM's status
  auto said = slurp(sp.err);
  BOOST_TEST(said.find("joconde-sp: SIMULATED secure processor (no memory protection): launched VM "
                       "pid ")
               != std::string::npos,
             said);
  BOOST_TEST(said.find("measurement " + m) != std::string::npos, said);

  auto vm = vm_report(out);
  BOOST_TEST(vm["argv0"] == "joconde-vm");
  BOOST_TEST(vm["env"] == "unset");
  BOOST_TEST(vm["config"] == hex(test::text(slurp(config))));
  BOOST_TEST(vm["host"] == hex(host));
  auto ev = must(decode_evidence(unhex(vm["evidence"])));
  simulated_verifier verifier{{root_der}};
  auto claims = must(verifier.verify(ev, accepting(m), data));
  BOOST_TEST(hex(claims.launch_measurement) == m);
  BOOST_TEST(claims.host == host);
  BOOST_TEST(claims.simulated);
  BOOST_TEST(!claims.debug);
  // Negative twins of the same evidence: other report data, other CTA, untrusted root.
  BOOST_TEST(to_string(verifier.verify(ev, accepting(m), some_report_data(8)).err().code)
             == "replayed");
  auto other_cta = accepting(m);
  other_cta.cta_hash = cta_hash("cta-2026-043");
  BOOST_TEST(to_string(verifier.verify(ev, other_cta, data).err().code) == "host_data_mismatch");
  simulated_verifier stranger{{must(simulated_platform::create()).root_certificate()}};
  BOOST_TEST(to_string(stranger.verify(ev, accepting(m), data).err().code) == "untrusted_chain");
}

BOOST_AUTO_TEST_CASE(init_refuses_an_existing_platform) {
  auto again = start({"init", platform.string()});
  BOOST_TEST(again.wait() != 0);
  BOOST_TEST(slurp(again.err).find("already_exists") != std::string::npos, slurp(again.err));
  BOOST_TEST(read_root() == root_der);
}

BOOST_AUTO_TEST_CASE(another_configuration_gives_another_measurement) {
  auto m = measured(config);
  auto other = write("other.conf", "engine = rss3\nparties = 4\n");
  auto m2 = measured(other);
  BOOST_TEST(m2 != m);
  auto data = some_report_data(1);
  auto out = dir / "vm.out";
  auto sp = launch(other, {}, {"--out", out.string(), "--report-data", hex(data)});
  BOOST_TEST(sp.wait() == 0);
  auto vm = vm_report(out);
  BOOST_TEST(vm["config"] == hex(test::text(slurp(other))));
  auto ev = must(decode_evidence(unhex(vm["evidence"])));
  simulated_verifier verifier{{root_der}};
  BOOST_TEST(hex(must(verifier.verify(ev, accepting(m2), data)).launch_measurement) == m2);
  BOOST_TEST(to_string(verifier.verify(ev, accepting(m), data).err().code)
             == "measurement_mismatch");
}

BOOST_AUTO_TEST_CASE(debug_needs_explicit_consent_and_is_then_refused_by_verifiers) {
  auto out = dir / "vm.out";
  auto data = some_report_data(2);
  auto refused = launch(config, {"--debug"}, {"--out", out.string(), "--report-data", hex(data)});
  BOOST_TEST(refused.wait() == 2);
  BOOST_TEST(slurp(refused.err).find("--allow-debug") != std::string::npos, slurp(refused.err));
  BOOST_TEST(!fs::exists(out)); // no VM ran

  auto sp = launch(config, {"--debug", "--allow-debug"},
                   {"--out", out.string(), "--report-data", hex(data)});
  BOOST_TEST(sp.wait() == 0);
  auto ev = must(decode_evidence(unhex(vm_report(out)["evidence"])));
  simulated_verifier verifier{{root_der}};
  BOOST_TEST(to_string(verifier.verify(ev, accepting(measured(config)), data).err().code)
             == "debug_enabled");
}

BOOST_AUTO_TEST_CASE(platform_below_the_minimum_tcb_is_refused) {
  auto out = dir / "vm.out";
  auto sp = launch(config, {"--min-tcb", std::to_string(simulated_tcb_version + 1)},
                   {"--out", out.string()});
  BOOST_TEST(sp.wait() == 2);
  BOOST_TEST(slurp(sp.err).find("tcb_outdated") != std::string::npos, slurp(sp.err));
  BOOST_TEST(!fs::exists(out));
  auto ok_tcb = launch(config, {"--min-tcb", std::to_string(simulated_tcb_version)},
                       {"--out", out.string()});
  BOOST_TEST(ok_tcb.wait() == 0);
  BOOST_TEST(fs::exists(out));
}

BOOST_AUTO_TEST_CASE(bad_arguments_and_missing_files_are_refused) {
  BOOST_TEST(start({"launch", "--platform", platform.string()}).wait() == 2);
  BOOST_TEST(start({"launch", "--platform", platform.string(), "--vm", vm_binary.string(),
                    "--image-config", config.string(), "--host-data", "abcd"})
               .wait()
             == 2);
  BOOST_TEST(start({"frobnicate"}).wait() == 2);
  auto missing = start({"launch", "--platform", platform.string(), "--vm",
                        (dir / "no-such-vm").string(), "--image-config", config.string(),
                        "--host-data", hex(host)});
  BOOST_TEST(missing.wait() == 1);
  BOOST_TEST(slurp(missing.err).find("io_error") != std::string::npos, slurp(missing.err));
  auto no_platform = start({"launch", "--platform", (dir / "nowhere").string(), "--vm",
                            vm_binary.string(), "--image-config", config.string(), "--host-data",
                            hex(host)});
  BOOST_TEST(no_platform.wait() == 2);
  BOOST_TEST(slurp(no_platform.err).find("invalid_config") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_malformed_request_closes_the_socket_but_not_the_sp) {
  auto out = dir / "vm.out";
  auto sp = launch(config, {}, {"--out", out.string(), "--garbage", "--exit", "3"});
  BOOST_TEST(sp.wait() == 3);
  BOOST_TEST(vm_report(out)["garbage"] == "io_error");
  BOOST_TEST(slurp(sp.err).find("closing the VM's attestation socket: protocol_error")
               != std::string::npos,
             slurp(sp.err));
}

BOOST_AUTO_TEST_CASE(sigterm_to_the_sp_reaches_the_vm) {
  auto out = dir / "vm.out";
  auto sp = launch(config, {}, {"--out", out.string(), "--wait"});
  BOOST_REQUIRE(appears(out));
  BOOST_REQUIRE_EQUAL(::kill(sp.pid, SIGTERM), 0);
  BOOST_TEST(sp.wait() == 128 + SIGTERM);
}

BOOST_AUTO_TEST_CASE(killing_the_sp_kills_the_vm) {
  // This test process adopts the orphaned VM, so it can see how it ended.
  BOOST_REQUIRE_EQUAL(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  auto out = dir / "vm.out";
  auto sp = launch(config, {}, {"--out", out.string(), "--wait"});
  BOOST_REQUIRE(appears(out));
  auto vm_pid = static_cast<pid_t>(std::stol(vm_report(out)["pid"]));
  BOOST_REQUIRE_EQUAL(::kill(sp.pid, SIGKILL), 0);
  BOOST_TEST(sp.wait() == 128 + SIGKILL);
  int status = 0;
  pid_t reaped = 0;
  for (int i = 0; i < 3000 && reaped == 0; ++i) {
    reaped = ::waitpid(vm_pid, &status, WNOHANG);
    if (reaped == 0)
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  if (reaped == 0)
    ::kill(vm_pid, SIGKILL);
  BOOST_REQUIRE_EQUAL(reaped, vm_pid);
  BOOST_TEST(WIFSIGNALED(status));
  BOOST_TEST(WTERMSIG(status) == SIGKILL);
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

BOOST_AUTO_TEST_SUITE_END()
