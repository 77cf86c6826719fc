#define BOOST_TEST_MODULE session
#include <boost/test/unit_test.hpp>

// Attested sessions over real sockets (session.hpp): VM to VM over loopback TCP and socketpairs, and
// client to VM with every negative twin of the client's check, each refused with its own error code
// (wrong measurement, wrong CTA hash, debug, unknown chip, revoked chip) and replayed, relayed or
// other-CT evidence refused as replayed.

#include "joconde/enclave/session.hpp"
#include "joconde/enclave/simulated.hpp"

#include "enclave_test_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <future>
#include <map>
#include <set>
#include <string>

using namespace joconde;
using namespace joconde::enclave;
using namespace std::chrono_literals;

using joconde::test::cta_hash;
using joconde::test::must;
using joconde::test::text;

namespace {

constexpr auto timeout = 10s;

std::pair<int, int> socket_pair() {
  int sv[2];
  BOOST_REQUIRE_EQUAL(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  return {sv[0], sv[1]};
}

/// A connected pair of loopback TCP sockets.
std::pair<int, int> tcp_pair() {
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  BOOST_REQUIRE(listener >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  BOOST_REQUIRE_EQUAL(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  BOOST_REQUIRE_EQUAL(::listen(listener, 1), 0);
  BOOST_REQUIRE_EQUAL(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  BOOST_REQUIRE_EQUAL(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  int server = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  BOOST_REQUIRE(server >= 0);
  ::close(listener);
  return {client, server};
}

void send_blob(int fd, const bytes& blob) {
  bytes out{static_cast<std::uint8_t>(blob.size() >> 24), static_cast<std::uint8_t>(blob.size() >> 16),
            static_cast<std::uint8_t>(blob.size() >> 8), static_cast<std::uint8_t>(blob.size())};
  out.insert(out.end(), blob.begin(), blob.end());
  BOOST_REQUIRE_EQUAL(::send(fd, out.data(), out.size(), MSG_NOSIGNAL),
                      static_cast<ssize_t>(out.size()));
}

bytes read_raw(int fd, std::size_t n) {
  bytes out(n);
  std::size_t done = 0;
  while (done < n) {
    auto got = ::recv(fd, out.data() + done, n - done, 0);
    if (got <= 0)
      return {};
    done += static_cast<std::size_t>(got);
  }
  return out;
}

bytes receive_blob(int fd) {
  auto head = read_raw(fd, 4);
  if (head.size() != 4)
    return {};
  std::size_t n = (std::size_t{head[0]} << 24) | (std::size_t{head[1]} << 16)
                  | (std::size_t{head[2]} << 8) | head[3];
  return read_raw(fd, n);
}

template <class T>
void refused(const result<T>& r, errc code) {
  BOOST_REQUIRE_MESSAGE(!r, "accepted, expected " << to_string(code));
  BOOST_TEST(to_string(r.err().code) == to_string(code), r.err().describe());
}

/// CT VMs of CPs 0..2 for one CTA on a simulated platform, the verifier and reference values.
struct fixture {
  simulated_platform platform = must(simulated_platform::create());
  measurement approved = measure(text("joconde-vm 0.1.0"), text("engine = rss3\n"));
  host_data cta = cta_hash("cta-2026-042");
  simulated_attester vm0 = platform.launch(approved, cta, false);
  simulated_attester vm1 = platform.launch(approved, cta, false);
  simulated_verifier verifier{{platform.root_certificate()}};

  reference_values accepting() const {
    reference_values r;
    r.measurements = {approved};
    r.cta_hash = cta;
    r.min_tcb_version = simulated_tcb_version;
    r.allow_simulated = true;
    return r;
  }

  handshake::settings peer(std::uint32_t own, std::uint32_t other, const attester& a) const {
    return {"ct-7", own, other, &a, &verifier, accepting()};
  }

  client_settings client(std::uint32_t cp = 1, reference_values ref = {}) const {
    if (ref.measurements.empty())
      ref = accepting();
    return {"ct-7", cp, &verifier, std::move(ref)};
  }

  /// A client attesting a VM that accept_client runs with `vm`, as CP `vm_cp` of `vm_ct`; returns
  /// what the client concludes and, when both succeed, checks that the stream works both ways.
  result<client_session> attest(const attester& vm, client_settings settings,
                                std::uint32_t vm_cp = 1, std::string vm_ct = "ct-7") const {
    auto [c, v] = socket_pair();
    auto vm_side = std::async(std::launch::async, [&, v = v] {
      return accept_client(v, {vm_ct, vm_cp, &vm}, timeout);
    });
    auto got = attest_vm(c, std::move(settings), timeout);
    auto stream = vm_side.get();
    if (got && stream) {
      BOOST_REQUIRE(got->stream.send(text("inputs for the CT")).ok());
      BOOST_TEST((must(stream->receive()) == text("inputs for the CT")));
      BOOST_REQUIRE(stream->send(text("receipt")).ok());
      BOOST_TEST((must(got->stream.receive()) == text("receipt")));
    }
    return got;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(attested_sessions, fixture)

// -- VM to VM --

BOOST_AUTO_TEST_CASE(peer_vms_share_an_mpc_key_and_a_working_stream_over_tcp) {
  auto [x, y] = tcp_pair();
  auto other = std::async(std::launch::async,
                          [&, y = y] { return connect_peer(y, peer(1, 0, vm1), timeout); });
  auto s0 = must(connect_peer(x, peer(0, 1, vm0), timeout));
  auto s1 = must(other.get());
  BOOST_TEST(s0.mpc_key == s1.mpc_key);
  BOOST_TEST(std::ranges::any_of(s0.mpc_key, [](std::uint8_t b) { return b != 0; }));
  BOOST_TEST(s0.peer.simulated);
  BOOST_TEST(s1.peer.launch_measurement == approved);
  BOOST_REQUIRE(s0.stream.send(text("share from CP 0")).ok());
  BOOST_TEST((must(s1.stream.receive()) == text("share from CP 0")));
  BOOST_REQUIRE(s1.stream.send(text("share from CP 1")).ok());
  BOOST_TEST((must(s0.stream.receive()) == text("share from CP 1")));
}

BOOST_AUTO_TEST_CASE(every_peer_session_has_its_own_mpc_key) {
  std::set<channel_key> keys;
  for (int i = 0; i < 3; ++i) {
    auto [x, y] = socket_pair();
    auto other = std::async(std::launch::async,
                            [&, y = y] { return connect_peer(y, peer(2, 0, vm1), timeout); });
    keys.insert(must(connect_peer(x, peer(0, 2, vm0), timeout)).mpc_key);
    BOOST_TEST(must(other.get()).peer.platform == "joconde-simulated");
  }
  BOOST_TEST(keys.size() == 3u);
}

BOOST_AUTO_TEST_CASE(peer_with_an_unapproved_image_or_the_wrong_index_is_refused) {
  auto patched = platform.launch(measure(text("joconde-vm patched"), text("engine = rss3\n")), cta,
                                 false);
  {
    auto [x, y] = socket_pair();
    auto other = std::async(std::launch::async,
                            [&, y = y] { return connect_peer(y, peer(1, 0, patched), timeout); });
    refused(connect_peer(x, peer(0, 1, vm0), timeout), errc::measurement_mismatch);
    // CP 1's evidence was refused: it learns so at the key confirmation, not on first use.
    refused(other.get(), errc::io_error);
  }
  {
    // CP 2 answers where CP 1 was expected.
    auto [x, y] = socket_pair();
    auto other = std::async(std::launch::async,
                            [&, y = y] { return connect_peer(y, peer(2, 0, vm1), 2s); });
    refused(connect_peer(x, peer(0, 1, vm0), timeout), errc::unknown_peer);
    refused(other.get(), errc::io_error);
  }
}

BOOST_AUTO_TEST_CASE(a_silent_or_vanished_peer_is_refused) {
  auto [x, y] = socket_pair();
  refused(connect_peer(x, peer(0, 1, vm0), 100ms), errc::timeout);
  ::close(y);
  auto [a, b] = socket_pair();
  ::close(b);
  refused(connect_peer(a, peer(0, 1, vm0), timeout), errc::io_error);
  auto [c, d] = socket_pair();
  send_blob(d, bytes(max_hello_size + 1, 0));
  refused(connect_peer(c, peer(0, 1, vm0), timeout), errc::too_large);
  ::close(d);
  refused(connect_peer(-1, peer(0, 1, vm0), timeout), errc::invalid_config);
}

// -- client to VM --

BOOST_AUTO_TEST_CASE(client_attests_the_vm_and_both_talk) {
  auto s = must(attest(vm1, client()));
  BOOST_TEST(s.vm.simulated);
  BOOST_TEST(s.vm.launch_measurement == approved);
  BOOST_TEST(s.vm.host == cta);
}

BOOST_AUTO_TEST_CASE(every_negative_twin_has_its_own_error) {
  auto other_platform = must(simulated_platform::create());
  auto stranger = other_platform.launch(approved, cta, false);
  auto patched = platform.launch(measure(text("joconde-vm patched"), text("engine = rss3\n")), cta,
                                 false);
  auto other_cta = platform.launch(approved, cta_hash("cta-2026-043"), false);
  auto debug = platform.launch(approved, cta, true);
  auto revoking = accepting();
  revoking.revoked_chips = {platform.chip_id()};

  std::map<std::string, errc> got;
  auto note = [&](const char* name, result<client_session> r) {
    BOOST_REQUIRE_MESSAGE(!r, name << " was accepted");
    got[name] = r.err().code;
  };
  note("wrong measurement", attest(patched, client()));
  note("wrong CTA hash", attest(other_cta, client()));
  note("debug", attest(debug, client()));
  note("unknown chip", attest(stranger, client()));
  note("revoked chip", attest(vm1, client(1, revoking)));
  BOOST_TEST(to_string(got["wrong measurement"]) == "measurement_mismatch");
  BOOST_TEST(to_string(got["wrong CTA hash"]) == "host_data_mismatch");
  BOOST_TEST(to_string(got["debug"]) == "debug_enabled");
  BOOST_TEST(to_string(got["unknown chip"]) == "untrusted_chain");
  BOOST_TEST(to_string(got["revoked chip"]) == "certificate_revoked");
  std::set<errc> distinct;
  for (const auto& [name, code] : got)
    distinct.insert(code);
  BOOST_TEST(distinct.size() == got.size());
}

BOOST_AUTO_TEST_CASE(evidence_for_another_cp_or_ct_is_refused_as_replayed) {
  // A relay: the client wants CP 1, the connection reaches CP 2's VM (same CTA, same image).
  refused(attest(vm1, client(1), 2), errc::replayed);
  // A VM of another Computing Task.
  refused(attest(vm1, client(1), 1, "ct-8"), errc::replayed);
}

BOOST_AUTO_TEST_CASE(evidence_replayed_from_an_earlier_session_is_refused) {
  // Record a VM's answer to an earlier hello (nonce and key of someone else's session).
  bytes old_answer;
  {
    auto [c, v] = socket_pair();
    auto vm_side = std::async(std::launch::async,
                              [&, v = v] { return accept_client(v, {"ct-7", 1, &vm1}, timeout); });
    auto old_hello = text("JCH1");
    for (int i = 0; i < 64; ++i)
      old_hello.push_back(static_cast<std::uint8_t>(i * 7 + 1));
    send_blob(c, old_hello);
    old_answer = receive_blob(c);
    BOOST_REQUIRE(!old_answer.empty());
    BOOST_TEST(vm_side.get().ok());
    ::close(c);
  }
  // A fake VM answers a new client with the recorded answer.
  auto [c, v] = socket_pair();
  auto fake = std::async(std::launch::async, [&, v = v] {
    auto hello = receive_blob(v);
    send_blob(v, old_answer);
    return hello;
  });
  refused(attest_vm(c, client(), timeout), errc::replayed);
  BOOST_TEST(fake.get().size() == client_hello_size);
  ::close(v);
}

BOOST_AUTO_TEST_CASE(a_swapped_vm_key_is_refused) {
  // A man in the middle puts its own X25519 key into the VM's answer.
  auto [c, m] = socket_pair();
  auto [m2, v] = socket_pair();
  auto vm_side = std::async(std::launch::async,
                            [&, v = v] { return accept_client(v, {"ct-7", 1, &vm1}, timeout); });
  auto mitm = std::async(std::launch::async, [&, m = m, m2 = m2] {
    send_blob(m2, receive_blob(m));
    auto answer = receive_blob(m2);
    if (answer.size() > 36)
      answer[10] ^= 0x40;
    send_blob(m, answer);
  });
  refused(attest_vm(c, client(), timeout), errc::replayed);
  mitm.get();
  BOOST_TEST(vm_side.get().ok()); // the VM cannot tell; the client, who checks, refuses
  ::close(m);
  ::close(m2);
}

BOOST_AUTO_TEST_CASE(malformed_messages_are_refused) {
  {
    // Hellos the VM refuses.
    for (const auto& hello : {text("JCH1short"), bytes(client_hello_size, 'x')}) {
      auto [c, v] = socket_pair();
      send_blob(c, hello);
      refused(accept_client(v, {"ct-7", 1, &vm1}, timeout), errc::malformed_input);
      ::close(c);
    }
    auto [c, v] = socket_pair();
    send_blob(c, bytes(client_hello_size + 1, 0));
    refused(accept_client(v, {"ct-7", 1, &vm1}, timeout), errc::too_large);
    ::close(c);
  }
  {
    // Answers the client refuses.
    auto foreign = text("JXP1");
    foreign.resize(80, 0);
    for (const auto& answer : {text("JCP1"), foreign, bytes(70, 'J')}) {
      auto [c, v] = socket_pair();
      auto fake = std::async(std::launch::async, [&, v = v] {
        receive_blob(v);
        send_blob(v, answer);
      });
      refused(attest_vm(c, client(), timeout), errc::malformed_input);
      fake.get();
      ::close(v);
    }
  }
  refused(attest_vm(-1, client(), timeout), errc::invalid_config);
  auto [c, v] = socket_pair();
  refused(accept_client(v, {"", 1, &vm1}, timeout), errc::invalid_config);
  refused(attest_vm(c, {"ct-7", 1, nullptr, accepting()}, timeout), errc::invalid_config);
}

BOOST_AUTO_TEST_SUITE_END()
