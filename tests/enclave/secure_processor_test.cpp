#define BOOST_TEST_MODULE secure_processor
#include <boost/test/unit_test.hpp>

// The attestation socket between a VM and its secure processor (secure_processor.hpp), in one
// process over a socketpair: fd_attester against serve_attestation, and both against peers that
// break the protocol (unknown requests, oversized or foreign replies, silence, garbage).

#include "joconde/enclave/secure_processor.hpp"
#include "joconde/enclave/simulated.hpp"

#include "enclave_test_support.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace joconde;
using namespace joconde::enclave;
using namespace std::chrono_literals;

using joconde::test::cta_hash;
using joconde::test::must;
using joconde::test::text;

namespace {

/// A connected pair of unix stream sockets, closed unless handed on.
struct socket_pair {
  int vm = -1;
  int sp = -1;

  socket_pair() {
    int sv[2];
    BOOST_REQUIRE_EQUAL(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    vm = sv[0];
    sp = sv[1];
  }
  socket_pair(const socket_pair&) = delete;
  ~socket_pair() {
    for (int fd : {vm, sp})
      if (fd >= 0)
        ::close(fd);
  }

  /// The VM's end, now owned by the caller.
  int take_vm() { return std::exchange(vm, -1); }
};

void put(int fd, const bytes& data) {
  BOOST_REQUIRE_EQUAL(::send(fd, data.data(), data.size(), MSG_NOSIGNAL),
                      static_cast<ssize_t>(data.size()));
}

bytes be32(std::uint32_t x) {
  return {static_cast<std::uint8_t>(x >> 24), static_cast<std::uint8_t>(x >> 16),
          static_cast<std::uint8_t>(x >> 8), static_cast<std::uint8_t>(x)};
}

bytes cat(std::initializer_list<bytes> parts) {
  bytes out;
  for (const auto& p : parts)
    out.insert(out.end(), p.begin(), p.end());
  return out;
}

/// An attester that always fails with one code.
class failing_attester final : public attester {
public:
  result<evidence> get_evidence(std::span<const std::uint8_t, 64>) const override {
    return fail(errc::tcb_outdated, "firmware too old for this test");
  }
};

/// A simulated VM and the launch it was made with.
struct fixture {
  simulated_platform platform = must(simulated_platform::create());
  bytes config = text("engine = rss3\nparties = 3\n");
  host_data host = cta_hash("cta-2026-042");
  measurement approved = measure(text("joconde-vm 0.1.0"), config);
  simulated_attester vm = platform.launch(approved, host, false);
  launch_info launch{config, host};
  simulated_verifier verifier{{platform.root_certificate()}};

  reference_values accepting() const {
    reference_values r;
    r.measurements = {approved};
    r.cta_hash = host;
    r.min_tcb_version = simulated_tcb_version;
    r.allow_simulated = true;
    return r;
  }
};

report_data data_for(int i) {
  return report_data_for("test", text(std::to_string(i)), "ct-7", "cp-0", text("key"));
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(attestation_socket, fixture)

BOOST_AUTO_TEST_CASE(vm_learns_its_launch_and_gets_evidence_that_verifies) {
  socket_pair s;
  std::thread sp{[&] { BOOST_CHECK(serve_attestation(s.sp, vm, launch).ok()); }};
  {
    fd_attester a{s.take_vm()};
    auto info = must(a.launch_configuration());
    BOOST_TEST(info.image_config == config);
    BOOST_TEST(info.host == host);
    auto ev = must(a.get_evidence(data_for(1)));
    auto claims = must(verifier.verify(ev, accepting(), data_for(1)));
    BOOST_TEST(claims.launch_measurement == approved);
    BOOST_TEST(to_string(verifier.verify(ev, accepting(), data_for(2)).err().code) == "replayed");
  } // closing the attester ends serve_attestation with ok
  sp.join();
}

BOOST_AUTO_TEST_CASE(concurrent_requests_each_get_their_own_evidence) {
  socket_pair s;
  std::thread sp{[&] { BOOST_CHECK(serve_attestation(s.sp, vm, launch).ok()); }};
  {
    fd_attester a{s.take_vm()};
    std::atomic<int> verified{0};
    std::vector<std::thread> vms;
    for (int t = 0; t < 6; ++t)
      vms.emplace_back([&, t] {
        for (int i = 0; i < 10; ++i) {
          auto data = data_for(100 * t + i);
          auto ev = a.get_evidence(data);
          if (ev && verifier.verify(*ev, accepting(), data))
            ++verified;
          auto info = a.launch_configuration();
          if (!info || info->image_config != config)
            --verified;
        }
      });
    for (auto& t : vms)
      t.join();
    BOOST_TEST(verified.load() == 60);
  }
  sp.join();
}

BOOST_AUTO_TEST_CASE(an_attester_failure_travels_with_its_code) {
  socket_pair s;
  failing_attester broken_platform;
  std::thread sp{[&] { BOOST_CHECK(serve_attestation(s.sp, broken_platform, launch).ok()); }};
  {
    fd_attester a{s.take_vm()};
    auto ev = a.get_evidence(data_for(1));
    BOOST_REQUIRE(!ev);
    BOOST_TEST(to_string(ev.err().code) == "tcb_outdated");
    BOOST_TEST(ev.err().message.find("firmware too old") != std::string::npos);
    // An error reply is complete: the connection still works.
    BOOST_TEST(must(a.launch_configuration()).host == host);
  }
  sp.join();
}

BOOST_AUTO_TEST_CASE(malformed_requests_close_the_socket_never_crash) {
  for (const auto& request : {text("XXXX"), text("JRQ2"), text("jrq1"), text("JCF")}) {
    socket_pair s;
    put(s.vm, request);
    if (request.size() < 4)
      ::shutdown(s.vm, SHUT_WR);
    auto served = serve_attestation(s.sp, vm, launch, 200ms);
    BOOST_REQUIRE(!served);
    BOOST_TEST((served.err().code == errc::protocol_error || served.err().code == errc::io_error),
               served.err().describe());
  }
  // Random bytes: any outcome but a crash; the SP answers only well-formed requests.
  std::mt19937_64 rng{20261126};
  for (int round = 0; round < 200; ++round) {
    socket_pair s;
    bytes junk(rng() % 80);
    for (auto& b : junk)
      b = static_cast<std::uint8_t>(rng());
    if (round % 4 == 0 && junk.size() >= 4)
      std::copy_n("JRQ1", 4, junk.begin());
    put(s.vm, junk);
    ::shutdown(s.vm, SHUT_WR);
    auto served = serve_attestation(s.sp, vm, launch, 200ms);
    if (!served)
      BOOST_REQUIRE_MESSAGE(served.err().code == errc::protocol_error
                              || served.err().code == errc::io_error,
                            served.err().describe());
  }
}

BOOST_AUTO_TEST_CASE(a_stalled_request_times_out) {
  socket_pair s;
  put(s.vm, cat({text("JRQ1"), bytes(10, 0)}));
  auto served = serve_attestation_request(s.sp, vm, launch, 100ms);
  BOOST_REQUIRE(!served);
  BOOST_TEST(to_string(served.err().code) == "timeout");
}

BOOST_AUTO_TEST_CASE(a_silent_secure_processor_times_out_and_breaks_the_attester) {
  socket_pair s;
  fd_attester a{s.take_vm(), 100ms};
  auto ev = a.get_evidence(data_for(1));
  BOOST_REQUIRE(!ev);
  BOOST_TEST(to_string(ev.err().code) == "timeout");
  // A reply arriving late would answer the wrong request: the attester stays broken.
  auto again = a.launch_configuration();
  BOOST_REQUIRE(!again);
  BOOST_TEST(to_string(again.err().code) == "io_error");
}

BOOST_AUTO_TEST_CASE(replies_outside_the_protocol_are_refused) {
  struct reply_case {
    bytes reply;
    const char* code;
  };
  std::vector<reply_case> cases{
    {cat({text("JRX1"), be32(4), text("abcd")}), "protocol_error"},                // foreign magic
    {cat({text("JCF1"), be32(0), bytes(32, 0)}), "protocol_error"},                // wrong reply
    {cat({text("JRP1"), be32(max_evidence_reply + 1)}), "protocol_error"},         // oversized
    {cat({text("JRE1"), be32(max_error_reply + 1)}), "protocol_error"},            // oversized
    {cat({text("JRP1"), be32(5), text("JEV1x")}), "malformed_input"},              // bad evidence
    {cat({text("JRP1"), be32(100), text("short")}), "io_error"},                   // cut, then EOF
  };
  for (auto& c : cases) {
    socket_pair s;
    put(s.sp, c.reply);
    ::shutdown(s.sp, SHUT_WR);
    fd_attester a{s.take_vm(), 1000ms};
    auto ev = a.get_evidence(data_for(1));
    BOOST_REQUIRE(!ev);
    BOOST_TEST(to_string(ev.err().code) == c.code, ev.err().describe());
  }
  // The configuration reply must carry its 32 bytes of host data too.
  socket_pair s;
  put(s.sp, cat({text("JCF1"), be32(3), text("abc"), bytes(10, 0)}));
  ::shutdown(s.sp, SHUT_WR);
  fd_attester a{s.take_vm(), 1000ms};
  BOOST_TEST(to_string(a.launch_configuration().err().code) == "io_error");
}

BOOST_AUTO_TEST_CASE(the_socket_comes_from_the_environment_and_does_not_leak) {
  auto name = std::string{attest_fd_variable};
  ::unsetenv(name.c_str());
  auto missing = fd_attester::from_environment();
  BOOST_REQUIRE(!missing);
  BOOST_TEST(to_string(missing.err().code) == "invalid_config");
  BOOST_TEST(missing.err().message.find("joconde-sp launch") != std::string::npos);

  ::setenv(name.c_str(), "12x", 1);
  BOOST_TEST(to_string(fd_attester::from_environment().err().code) == "invalid_config");
  int p[2];
  BOOST_REQUIRE_EQUAL(::pipe(p), 0);
  ::setenv(name.c_str(), std::to_string(p[0]).c_str(), 1);
  BOOST_TEST(to_string(fd_attester::from_environment().err().code) == "invalid_config");
  ::close(p[0]);
  ::close(p[1]);

  socket_pair s;
  int fd = s.take_vm();
  BOOST_REQUIRE_EQUAL(::fcntl(fd, F_SETFD, 0), 0);
  ::setenv(name.c_str(), std::to_string(fd).c_str(), 1);
  std::thread sp{[&] { BOOST_CHECK(serve_attestation(s.sp, vm, launch).ok()); }};
  {
    auto a = must(fd_attester::from_environment());
    BOOST_TEST(std::getenv(name.c_str()) == nullptr);
    BOOST_TEST((::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    BOOST_TEST(must(a.launch_configuration()).image_config == config);
  }
  sp.join();
}

BOOST_AUTO_TEST_CASE(files_are_read_within_their_limit) {
  auto file = std::filesystem::temp_directory_path()
              / ("joconde-sp-read-" + std::to_string(::getpid()));
  {
    std::FILE* f = std::fopen(file.c_str(), "wb");
    BOOST_REQUIRE(f != nullptr);
    std::fwrite("0123456789", 1, 10, f);
    std::fclose(f);
  }
  BOOST_TEST(must(read_file(file, 10)) == text("0123456789"));
  BOOST_TEST(to_string(read_file(file, 9).err().code) == "too_large");
  std::filesystem::remove(file);
  BOOST_TEST(to_string(read_file(file, 10).err().code) == "io_error");
}

BOOST_AUTO_TEST_SUITE_END()
