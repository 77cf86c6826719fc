#pragma once

// What the parts of the ct_run test program (ct_run_test.cpp and ct_run_test_*.cpp) share: a CT
// whose three in-process VMs are in the input phase, and what the tests read of the VMs (files,
// slots, metrics) or send to them.

#include <boost/test/unit_test.hpp>

#include "support/ct_fixture.hpp"
#include "support/ct_steps.hpp"

#include "joconde/enclave/session.hpp"
#include "joconde/enclave/simulated.hpp"
#include "joconde/engines/engine.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/runtime/clock.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/net.hpp"

#include <joconde/agreement.pb.h>
#include <joconde/vm.pb.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <random>
#include <stdexcept>
#include <thread>

namespace joconde {
inline std::ostream& operator<<(std::ostream& os, errc code) { return os << to_string(code); }
} // namespace joconde

namespace ct_run_test_support {

using namespace joconde;

using test::authorize;
using test::canary;
using test::ct_cluster;
using test::expected_table;
using test::fixture_cta;
using test::income_csv;
using test::persons_csv;
using test::runs_to_its_end;
namespace fs = std::filesystem;

/// Every file below `dir` that contains `needle`.
inline std::vector<std::string> files_containing(const fs::path& dir, const std::string& needle) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto& e : fs::recursive_directory_iterator{dir, ec}) {
    if (!e.is_regular_file())
      continue;
    std::ifstream in{e.path(), std::ios::binary};
    std::string text{std::istreambuf_iterator<char>{in}, {}};
    if (text.find(needle) != std::string::npos)
      out.push_back(e.path().string());
  }
  return out;
}

/// The sealed files of slot `key` in a VM's slot directory (named KEY.CONTENT.sealed).
inline std::size_t sealed_files_of(const fs::path& dir, const std::string& key) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto& e : fs::directory_iterator{dir, ec})
    n += e.path().filename().string().rfind(key + ".", 0) == 0 ? 1 : 0;
  return n;
}

inline std::size_t files_below(const fs::path& dir) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto& e : fs::recursive_directory_iterator{dir, ec})
    n += e.is_regular_file() ? 1 : 0;
  return n;
}

/// How long after the VMs start the output deadline of the deadline test falls: enough to attest,
/// upload, compute and download one copy on a loaded machine (the test requires that it did).
inline constexpr std::int64_t output_window_ms = 20'000;

/// Slot `key` of VM `cp`'s /status (an output's says which peers retrieved it), or null.
inline nlohmann::json slot_json(ct_cluster& c, unsigned cp, const std::string& key) {
  auto status = c.status(cp);
  if (status.is_object())
    for (auto& s : status["slots"])
      if (s["key"] == key)
        return s;
  return nlohmann::json{};
}

/// The peers in an output slot's "retrieved_by", in order.
inline std::vector<std::string> retrieved_by(const nlohmann::json& slot) {
  std::vector<std::string> out;
  if (!slot.is_object())
    return out;
  for (const auto& r : slot.value("retrieved_by", nlohmann::json::array()))
    out.push_back(r.value("peer", ""));
  return out;
}

/// A CT whose three in-process VMs attested each other and are in the input phase.
struct ct_in_input {
  result<enclave::simulated_platform> platform = enclave::simulated_platform::create();
  fixture_cta f{created(platform), now_ms() + 600'000};
  std::string uuid = f.final.cta().ctsc().uuid();
  ct_cluster c{*platform, f};

  ct_in_input() {
    BOOST_REQUIRE_MESSAGE(c.wait_phase("input"), "the VMs did not attest each other and open input");
  }

  static const enclave::simulated_platform& created(const result<enclave::simulated_platform>& p) {
    if (!p)
      throw std::runtime_error{"no simulated platform: " + p.err().describe()};
    return *p;
  }
};

/// The state of slot `key` at VM `cp`.
inline std::string slot_state(ct_cluster& c, unsigned cp, const std::string& key) {
  return slot_json(c, cp, key).value("state", "?");
}

/// An attested client session with VM `cp` of the cluster (as the IO service makes it).
inline enclave::client_session session_with(ct_cluster& c, const fixture_cta& f, unsigned cp,
                                            const enclave::simulated_verifier& verifier) {
  auto addr = c.endpoints[cp]["client"].get<std::string>();
  auto colon = addr.rfind(':');
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(std::stoul(addr.substr(colon + 1))));
  ::inet_pton(AF_INET, addr.substr(0, colon).c_str(), &sa.sin_addr);
  BOOST_REQUIRE_EQUAL(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  enclave::reference_values ref;
  ref.measurements = {f.measurement};
  ref.cta_hash = f.host();
  ref.allow_simulated = true;
  auto s = enclave::attest_vm(fd, {f.final.cta().ctsc().uuid(), cp, &verifier, ref}, std::chrono::seconds{10});
  BOOST_REQUIRE_MESSAGE(s, (s ? "" : s.err().describe()));
  return std::move(*s);
}

/// ct_in_input with `by_region` named for a.test and b.test: each peer's analysts retrieve it once.
struct shared_ct_in_input {
  result<enclave::simulated_platform> platform = enclave::simulated_platform::create();
  fixture_cta f{ct_in_input::created(platform), now_ms() + 600'000};
  std::string uuid = f.final.cta().ctsc().uuid();
  ct_cluster c{*platform, shared(f)};

  shared_ct_in_input() {
    BOOST_REQUIRE_MESSAGE(c.wait_phase("input"), "the VMs did not attest each other and open input");
  }

  static const fixture_cta& shared(fixture_cta& f) {
    f.share_output("by_region", "b.test");
    return f;
  }

  /// Both custodians upload; the VMs compute and reach the output phase.
  void compute() {
    auto up_a = io::upload(c.target, "persons", persons_csv(), authorize(f.custodian_a, uuid, "persons", true));
    BOOST_REQUIRE_MESSAGE(up_a, (up_a ? "" : up_a.err().describe()));
    auto up_b = io::upload(c.target, "income", income_csv(), authorize(f.custodian_b, uuid, "income", true));
    BOOST_REQUIRE_MESSAGE(up_b, (up_b ? "" : up_b.err().describe()));
    BOOST_REQUIRE_MESSAGE(c.wait_phase("output"), "the VMs did not compute the output");
  }

  result<io::download_report> download(const test::person& analyst) {
    return io::download(c.target, "by_region", authorize(analyst, uuid, "by_region", false));
  }
};

/// As runs_to_its_end, with persons uploaded already.
inline void runs_to_its_end_after_persons(ct_cluster& c, const fixture_cta& f) {
  const auto& uuid = f.final.cta().ctsc().uuid();
  BOOST_REQUIRE(io::upload(c.target, "income", income_csv(), authorize(f.custodian_b, uuid, "income", true)));
  BOOST_REQUIRE(c.wait_phase("output"));
  auto got = io::download(c.target, "by_region", authorize(f.analyst_a, uuid, "by_region", false));
  BOOST_REQUIRE_MESSAGE(got, (got ? "" : got.err().describe()));
  BOOST_TEST(got->csv == expected_table, got->csv);
}

/// Connections an attacker on loopback opened to a VM's peer endpoint; closed when destroyed.
struct peer_port_attacker {
  std::vector<net::socket_fd> connections;

  /// Opens a connection to `peer_address` (127.0.0.1:port) from `source` (another loopback address
  /// is another host) and sends `bytes` on it (nothing when empty).
  void connect(const std::string& peer_address, const std::vector<std::uint8_t>& bytes = {},
               const std::string& source = "127.0.0.1") {
    auto at = net::parse_host_port(peer_address);
    if (!at)
      throw test::fixture_error{"the peer endpoint " + peer_address + ": " + at.err().describe()};
    net::socket_fd fd{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    sockaddr_in from{};
    from.sin_family = AF_INET;
    ::inet_pton(AF_INET, source.c_str(), &from.sin_addr);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(at->port);
    ::inet_pton(AF_INET, at->host.c_str(), &to.sin_addr);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&from), sizeof from) != 0
        || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) != 0)
      throw test::fixture_error{"cannot reach the peer endpoint " + peer_address + " from " + source};
    if (!bytes.empty()
        && ::send(fd.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size()))
      throw test::fixture_error{"cannot send to the peer endpoint " + peer_address};
    connections.push_back(std::move(fd));
  }
};

/// A CT whose VMs' peer endpoints an attacker reaches first: `dial` opens its connections to cp-0's
/// peer endpoint (the address it is given) before the VMs are given their peers.
struct ct_under_peer_attack {
  using dialer = std::function<void(peer_port_attacker&, const std::string& cp0_peer)>;

  result<enclave::simulated_platform> platform = enclave::simulated_platform::create();
  fixture_cta f{ct_in_input::created(platform), now_ms() + 600'000};
  peer_port_attacker attacker;
  ct_cluster c;

  explicit ct_under_peer_attack(dialer dial, test::ct_cluster_options o = {}) : c{*platform, f, with(dial, o)} {}

 private:
  test::ct_cluster_options with(dialer dial, test::ct_cluster_options o) {
    o.before_peers = [this, dial = std::move(dial)](const std::vector<nlohmann::json>& endpoints) {
      dial(attacker, endpoints[0]["peer"].get<std::string>());
    };
    return o;
  }
};

/// VM `cp`'s count of refused connections on its peer port for `reason` (-1: no such series).
inline double refused(ct_cluster& c, unsigned cp, const std::string& reason) {
  return c.metric(cp, "joconde_vm_peer_refused_total{reason=\"" + reason + "\"}");
}

/// Checks that VM `cp` refused no connection on its peer port for any of `reasons`.
inline void no_refusals(ct_cluster& c, unsigned cp, std::initializer_list<const char*> reasons) {
  for (const auto* reason : reasons)
    BOOST_TEST(refused(c, cp, reason) == 0.0, "cp-" << cp << " " << reason);
}

/// Waits (bounded) until VM `cp` counts at least `n` refusals for `reason`; the count seen last.
inline double wait_refused(ct_cluster& c, unsigned cp, const std::string& reason, double n) {
  double seen = refused(c, cp, reason);
  for (int k = 0; k < 600 && seen < n; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
    seen = refused(c, cp, reason);
  }
  return seen;
}

/// Waits (bounded) until VM `cp`'s series reaches `n`; the value seen last.
inline double wait_for_metric(ct_cluster& c, unsigned cp, const std::string& series, double n) {
  double seen = c.metric(cp, series);
  for (int k = 0; k < 600 && seen < n; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
    seen = c.metric(cp, series);
  }
  return seen;
}

inline const std::vector<std::string> refusal_reasons{
  "busy", "greeting", "unknown-index", "established", "handshake", "duplicate", "source-busy", "evicted"};

} // namespace ct_run_test_support
