// joconde-vm: the supervised actor tree of one CT at one CP (vm_run.hpp, DESIGN.md §4).
//
//   task_orchestrator ─┬─ task_policy        the CTA, read-only: who may write/read which slot
//   (phases: the       ├─ attestation_proxy  this VM's evidence; verifies counterparts and clients' VMs
//    task_state_machine├─ session_manager    attested client sessions and counterpart links (threads)
//    class; the slots: └─ mpc_party          the engine run (detached), spawned for the calculation
//    data_slot classes)
//
// The orchestrator owns every piece of state that changes (phase, slots, pending uploads) and is the
// only actor that changes it; sessions do their socket work in their own threads and ask it. It
// monitors its children: a child that dies while the task runs cancels the task (its state cannot be
// rebuilt), and a cancelled or finished task erases the sealing key and every slot file.

#include "vm_run.hpp"

#include "data_slot.hpp"
#include "task_policy.hpp"
#include "task_state.hpp"

#include "joconde/enclave/sealing.hpp"
#include "joconde/enclave/session.hpp"
#include "joconde/enclave/simulated.hpp"
#include "joconde/engines/ctsc.hpp"
#include "joconde/engines/engine.hpp"
#include "joconde/engines/sql/compiler.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/runtime/canonical_hash.hpp"
#include "joconde/runtime/clock.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/http_server.hpp"
#include "joconde/runtime/log.hpp"

#include <joconde/agreement.pb.h>
#include <joconde/vm.pb.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <nlohmann/json.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <condition_variable>
#include <cstring>
#include <iostream>
#include <limits>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

namespace joconde::vm {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* component = "vm";

// -- atoms (at most 10 characters) --
using tick_atom = caf::atom_constant<caf::atom("v_tick")>;
using status_atom = caf::atom_constant<caf::atom("v_status")>;
using events_atom = caf::atom_constant<caf::atom("v_events")>;
using begin_atom = caf::atom_constant<caf::atom("v_begin")>;
using sealed_atom = caf::atom_constant<caf::atom("v_sealed")>;
using failed_atom = caf::atom_constant<caf::atom("v_failed")>;
using release_atom = caf::atom_constant<caf::atom("v_release")>;
using done_atom = caf::atom_constant<caf::atom("v_done")>;
using peer_atom = caf::atom_constant<caf::atom("v_peer")>;
using peer_up_atom = caf::atom_constant<caf::atom("v_peerup")>;
using peer_down_atom = caf::atom_constant<caf::atom("v_peerdn")>;
using peers_atom = caf::atom_constant<caf::atom("v_peers")>;
using cancel_atom = caf::atom_constant<caf::atom("v_cancel")>;
using mpc_ok_atom = caf::atom_constant<caf::atom("v_mpcok")>;
using mpc_fail_atom = caf::atom_constant<caf::atom("v_mpcfail")>;
using check_atom = caf::atom_constant<caf::atom("v_check")>;
using evidence_atom = caf::atom_constant<caf::atom("v_evid")>;
using verify_atom = caf::atom_constant<caf::atom("v_verify")>;
using run_atom = caf::atom_constant<caf::atom("v_run")>;
using adopt_atom = caf::atom_constant<caf::atom("v_adopt")>;

/// Largest client or peer control message (a column of 10^6 rows of rss3 shares is 16 MB).
constexpr std::size_t max_message_bytes = 64 * 1024 * 1024;

// -- sockets --

struct fd_guard {
  int fd = -1;
  explicit fd_guard(int f = -1) : fd{f} {}
  fd_guard(fd_guard&& o) noexcept : fd{std::exchange(o.fd, -1)} {}
  fd_guard& operator=(fd_guard&& o) noexcept {
    reset();
    fd = std::exchange(o.fd, -1);
    return *this;
  }
  ~fd_guard() { reset(); }
  void reset() {
    if (fd >= 0)
      ::close(fd);
    fd = -1;
  }
  int release() { return std::exchange(fd, -1); }
};

struct address {
  std::string host;
  std::uint16_t port = 0;
  std::string text() const { return host + ":" + std::to_string(port); }
};

result<address> parse_address(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || text.size() > 300)
    return fail(errc::malformed_input, "an address is host:port, not " + text.substr(0, 64));
  unsigned long port = 0;
  try {
    port = std::stoul(text.substr(colon + 1));
  } catch (...) {
    return fail(errc::malformed_input, "bad port in " + text.substr(0, 64));
  }
  if (port == 0 || port > 65535)
    return fail(errc::malformed_input, "bad port in " + text.substr(0, 64));
  return address{text.substr(0, colon), static_cast<std::uint16_t>(port)};
}

/// A TCP socket listening on host:0 (the kernel picks the port).
result<std::pair<fd_guard, address>> listen_on(const std::string& host) {
  fd_guard fd{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (fd.fd < 0)
    return fail(errc::io_error, std::string{"socket: "} + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  if (::inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1)
    return fail(errc::invalid_config, "listen host must be an IPv4 address, not " + host);
  if (::bind(fd.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd.fd, 64) != 0)
    return fail(errc::io_error, "cannot listen on " + host + ": " + std::strerror(errno));
  socklen_t len = sizeof sa;
  ::getsockname(fd.fd, reinterpret_cast<sockaddr*>(&sa), &len);
  return std::pair{std::move(fd), address{host, ntohs(sa.sin_port)}};
}

/// Connects to `a`, retrying until `timeout`.
result<fd_guard> connect_to(const address& a, std::chrono::milliseconds timeout,
                            const std::atomic<bool>& stopping) {
  auto until = std::chrono::steady_clock::now() + timeout;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(a.port);
  if (::inet_pton(AF_INET, a.host.c_str(), &sa.sin_addr) != 1)
    return fail(errc::malformed_input, "not an IPv4 address: " + a.host);
  for (;;) {
    fd_guard fd{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    if (::connect(fd.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
      int one = 1;
      ::setsockopt(fd.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      return fd;
    }
    if (stopping || std::chrono::steady_clock::now() >= until)
      return fail(errc::timeout, "cannot reach " + a.text() + ": " + std::strerror(errno));
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
}

/// Waits up to `ms` for a connection on `listen_fd`; -1 when none came.
int accept_for(int listen_fd, int ms) {
  pollfd p{listen_fd, POLLIN, 0};
  if (::poll(&p, 1, ms) <= 0)
    return -1;
  int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd >= 0) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

bool write_all(int fd, const void* data, std::size_t n) {
  auto* p = static_cast<const char*>(data);
  while (n > 0) {
    auto w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0)
      return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool read_all(int fd, void* data, std::size_t n, int timeout_ms) {
  auto* p = static_cast<char*>(data);
  while (n > 0) {
    pollfd pf{fd, POLLIN, 0};
    if (::poll(&pf, 1, timeout_ms) <= 0)
      return false;
    auto r = ::recv(fd, p, n, 0);
    if (r <= 0)
      return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

std::string to_string(const std::vector<std::uint8_t>& b) { return {b.begin(), b.end()}; }

// -- shared pieces --

/// Prometheus metrics of the VM (DESIGN.md §11).
struct vm_metrics {
  prometheus::Registry registry;
  prometheus::Family<prometheus::Gauge>& phase = prometheus::BuildGauge()
                                                   .Name("joconde_vm_phase")
                                                   .Help("1 for the CT's current phase")
                                                   .Register(registry);
  prometheus::Family<prometheus::Gauge>& slots = prometheus::BuildGauge()
                                                   .Name("joconde_vm_slots")
                                                   .Help("Data slots by state")
                                                   .Register(registry);
  prometheus::Counter& uploaded = prometheus::BuildCounter()
                                    .Name("joconde_vm_uploaded_bytes_total")
                                    .Help("Share bytes received from Data Custodians")
                                    .Register(registry)
                                    .Add({});
  prometheus::Counter& downloaded = prometheus::BuildCounter()
                                      .Name("joconde_vm_released_bytes_total")
                                      .Help("Share bytes released to Data Analysts")
                                      .Register(registry)
                                      .Add({});
  prometheus::Counter& mpc_rounds = prometheus::BuildCounter()
                                      .Name("joconde_vm_mpc_rounds_total")
                                      .Help("MPC communication rounds of this party")
                                      .Register(registry)
                                      .Add({});
  prometheus::Counter& mpc_bytes = prometheus::BuildCounter()
                                     .Name("joconde_vm_mpc_bytes_total")
                                     .Help("MPC payload bytes this party sent")
                                     .Register(registry)
                                     .Add({});
  prometheus::Family<prometheus::Counter>& attestation_failures =
    prometheus::BuildCounter()
      .Name("joconde_vm_attestation_failures_total")
      .Help("Refused attestations and sessions, by reason")
      .Register(registry);
  prometheus::Family<prometheus::Counter>& refused = prometheus::BuildCounter()
                                                       .Name("joconde_vm_requests_refused_total")
                                                       .Help("Refused client requests, by reason")
                                                       .Register(registry);

  std::string text() {
    return prometheus::TextSerializer{}.Serialize(registry.Collect());
  }
};

/// One attested link to a counterpart VM: the control stream and the key the MPC channel uses.
struct peer_link {
  unsigned cp = 0;
  enclave::secure_stream stream;
  enclave::channel_key mpc_key{};
  std::mutex send_mutex;

  peer_link(unsigned c, enclave::secure_stream s, const enclave::channel_key& k)
    : cp{c}, stream{std::move(s)}, mpc_key{k} {}
  ~peer_link() { OPENSSL_cleanse(mpc_key.data(), mpc_key.size()); }

  result<void> send(const v1::PeerMessage& m) {
    auto bytes = proto::serialize(m);
    std::lock_guard lock{send_mutex};
    return stream.send(crypto::to_bytes(bytes));
  }
};

using peer_link_ptr = std::shared_ptr<peer_link>;
using key_ptr = std::shared_ptr<enclave::sealing_key>;

/// A slot's content sealed at this CP: where, how many rows, the SHA-256 of its shares.
struct sealed_content {
  std::string path;
  std::uint64_t rows = 0;
  std::string sha256;
};

/// What the engine produced: each output's sealed content and the data-quality verdicts.
struct mpc_outcome {
  std::map<std::string, sealed_content> outputs;
  std::map<std::string, bool> quality;
  engines::backend_stats stats;
};

using sealed_map = std::map<std::string, sealed_content>;
using index_map = std::map<unsigned, std::string>;
using fd_ptr = std::shared_ptr<int>;

/// The things every actor of the tree reads and nobody changes after start.
struct vm_context {
  vm_options options;
  image_config image;
  enclave::host_data host{};
  v1::FinalCta final;
  std::string uuid;
  std::string cta_hash_hex;
  unsigned parties = 0;
  std::shared_ptr<const enclave::attester> attester;
  std::shared_ptr<enclave::simulated_verifier> verifier;
  enclave::reference_values reference;
  std::shared_ptr<vm_metrics> metrics;
  key_ptr key;
  fs::path slots_dir;
  std::shared_ptr<std::atomic<bool>> stopping = std::make_shared<std::atomic<bool>>(false);
};

using context_ptr = std::shared_ptr<const vm_context>;

/// The GCM associated data of a slot file: the CT, the slot and the content id.
std::string seal_ad(const vm_context& ctx, const std::string& slot, const std::string& content) {
  return "joconde/slot/v1\0" + ctx.uuid + '\0' + slot + '\0' + content;
}

/// Seals the columns (JSH1 share encodings, valid flags last for outputs) into `path`.
result<sealed_content> seal_columns(const vm_context& ctx, const std::string& slot,
                                    const std::string& content, const std::vector<std::string>& cols,
                                    std::uint64_t rows) {
  std::string plain;
  std::size_t total = 8;
  for (const auto& c : cols)
    total += 8 + c.size();
  plain.reserve(total);
  auto put64 = [&](std::uint64_t v) {
    for (int i = 7; i >= 0; --i)
      plain.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  put64(cols.size());
  for (const auto& c : cols) {
    put64(c.size());
    plain += c;
  }
  auto digest = crypto::hex(crypto::sha256(crypto::to_bytes(plain)));
  auto sealed = ctx.key->seal(crypto::to_bytes(plain), crypto::to_bytes(seal_ad(ctx, slot, content)));
  OPENSSL_cleanse(plain.data(), plain.size());
  if (!sealed)
    return sealed.err();
  auto path = ctx.slots_dir / (slot + "." + content + ".sealed");
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out.write(reinterpret_cast<const char*>(sealed->data()), static_cast<std::streamsize>(sealed->size()));
  out.close();
  if (!out)
    return fail(errc::io_error, "cannot write " + path.string());
  return sealed_content{path.string(), rows, digest};
}

/// The bytes of the sealed slot file `path`.
result<std::string> read_sealed(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return fail(errc::not_found, "slot file " + fs::path{path}.filename().string() + " is gone");
  return std::string{std::istreambuf_iterator<char>{in}, {}};
}

/// The columns seal_columns sealed into `sealed` (a slot file's bytes).
result<std::vector<std::string>> unseal_columns(const vm_context& ctx, const std::string& slot,
                                                const std::string& content, const std::string& sealed) {
  const std::string path = slot + "." + content;
  auto plain = ctx.key->unseal(crypto::to_bytes(sealed), crypto::to_bytes(seal_ad(ctx, slot, content)));
  if (!plain)
    return plain.err();
  std::vector<std::string> cols;
  std::size_t off = 0;
  auto get64 = [&](std::uint64_t& v) {
    if (plain->size() - off < 8)
      return false;
    v = 0;
    for (int i = 0; i < 8; ++i)
      v = (v << 8) | (*plain)[off++];
    return true;
  };
  std::uint64_t n = 0;
  if (!get64(n) || n > 4096)
    return fail(errc::malformed_input, "slot file " + path + " is damaged");
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint64_t len = 0;
    if (!get64(len) || plain->size() - off < len)
      return fail(errc::malformed_input, "slot file " + path + " is damaged");
    cols.emplace_back(reinterpret_cast<const char*>(plain->data() + off), len);
    off += len;
  }
  OPENSSL_cleanse(plain->data(), plain->size());
  return cols;
}

void remove_quietly(const std::string& path) {
  std::error_code ec;
  fs::remove(path, ec);
}

// -- task_policy actor --

/// The policy's verdict on one request.
struct policy_verdict {
  std::uint32_t code = 0;
  std::string message;
  authorized grant;
};

} // namespace
} // namespace joconde::vm

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(joconde::vm::policy_verdict)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(joconde::vm::peer_link_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(joconde::vm::sealed_content)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(joconde::vm::mpc_outcome)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(joconde::vm::sealed_map)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(joconde::vm::index_map)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(joconde::vm::fd_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(joconde::enclave::evidence)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(joconde::enclave::claims)

namespace joconde::vm {
namespace {

caf::behavior task_policy_actor(caf::stateful_actor<std::unique_ptr<task_policy>>* self, context_ptr ctx) {
  self->state = std::make_unique<task_policy>(ctx->final.cta());
  return {
    [=](check_atom, const std::string& signed_bytes, bool upload) -> policy_verdict {
      v1::SignedAuthorization sa;
      if (signed_bytes.size() > 16 * 1024 || !sa.ParseFromString(signed_bytes))
        return {static_cast<std::uint32_t>(errc::malformed_input), "not a SignedAuthorization", {}};
      auto r = self->state->check(sa, upload, now_ms());
      if (!r)
        return {static_cast<std::uint32_t>(r.err().code), r.err().message, {}};
      return {0, {}, *r};
    },
  };
}

// -- attestation_proxy actor --

/// Serves this VM's evidence and verifies counterparts' evidence; counts refusals.
caf::behavior attestation_proxy(caf::event_based_actor* self, context_ptr ctx) {
  return {
    [=](evidence_atom, const std::string& data) -> caf::result<enclave::evidence> {
      if (data.size() != 64)
        return caf::make_error(caf::sec::invalid_argument, "report data is 64 bytes");
      std::array<std::uint8_t, 64> rd{};
      std::memcpy(rd.data(), data.data(), 64);
      auto ev = ctx->attester->get_evidence(rd);
      if (!ev)
        return caf::make_error(caf::sec::runtime_error, ev.err().describe());
      return std::move(*ev);
    },
    [=](verify_atom, const enclave::evidence& ev, const std::string& expected)
      -> caf::result<std::uint32_t, std::string> {
      if (expected.size() != 64)
        return {static_cast<std::uint32_t>(errc::malformed_input), std::string{"expected report data is 64 bytes"}};
      std::array<std::uint8_t, 64> rd{};
      std::memcpy(rd.data(), expected.data(), 64);
      auto c = ctx->verifier->verify(ev, ctx->reference, rd);
      if (!c) {
        ctx->metrics->attestation_failures.Add({{"reason", std::string{to_string(c.err().code)}}}).Increment();
        return {static_cast<std::uint32_t>(c.err().code), c.err().message};
      }
      return {std::uint32_t{0}, std::string{}};
    },
  };
}

/// An attester that asks the attestation_proxy (so that evidence has one place in the tree).
class proxy_attester final : public enclave::attester {
public:
  proxy_attester(caf::actor_system& sys, caf::actor proxy) : sys_{sys}, proxy_{std::move(proxy)} {}
  result<enclave::evidence> get_evidence(std::span<const std::uint8_t, 64> data) const override {
    caf::scoped_actor self{sys_};
    result<enclave::evidence> out = fail(errc::timeout, "the attestation proxy did not answer");
    self->request(proxy_, std::chrono::seconds{10}, evidence_atom::value,
                  std::string{reinterpret_cast<const char*>(data.data()), 64})
      .receive([&](enclave::evidence& ev) { out = std::move(ev); },
               [&](caf::error& e) { out = fail(errc::io_error, "no evidence: " + sys_.render(e)); });
    return out;
  }

private:
  caf::actor_system& sys_;
  caf::actor proxy_;
};

/// A verifier that asks the attestation_proxy (which counts refusals for the metrics).
class proxy_verifier final : public enclave::verifier {
public:
  proxy_verifier(caf::actor_system& sys, caf::actor proxy, context_ptr ctx)
    : sys_{sys}, proxy_{std::move(proxy)}, ctx_{std::move(ctx)} {}
  result<enclave::claims> verify(const enclave::evidence& ev, const enclave::reference_values& ref,
                                 std::span<const std::uint8_t, 64> expected) const override {
    // The proxy's answer decides; the claims themselves come from the (stateless) verifier.
    caf::scoped_actor self{sys_};
    result<void> verdict = fail(errc::timeout, "the attestation proxy did not answer");
    self->request(proxy_, std::chrono::seconds{10}, verify_atom::value, ev,
                  std::string{reinterpret_cast<const char*>(expected.data()), 64})
      .receive(
        [&](std::uint32_t code, std::string& msg) {
          verdict = code == 0 ? result<void>{ok()} : fail(static_cast<errc>(code), std::move(msg));
        },
        [&](caf::error& e) { verdict = fail(errc::io_error, sys_.render(e)); });
    if (!verdict)
      return verdict.err();
    return ctx_->verifier->verify(ev, ref, expected);
  }

private:
  caf::actor_system& sys_;
  caf::actor proxy_;
  context_ptr ctx_;
};

// -- the orchestrator's state --

struct pending_upload {
  std::string slot;
  std::set<unsigned> sealed_at;       // CPs that sealed it (this one included once it did)
  std::optional<sealed_content> local;
  std::int64_t deadline_ms = 0;
  std::optional<caf::response_promise> waiting;  // the local session waiting for the outcome
};

struct event_entry {
  std::uint64_t seq = 0;
  std::int64_t at_ms = 0;
  std::string kind, subject, value;
};

struct orchestrator_state {
  context_ptr ctx;
  std::optional<task_state_machine> machine;
  std::map<std::string, data_slot> slots;
  std::map<std::string, sealed_content> contents;  // content id -> file (current and replaced)
  std::map<std::string, pending_upload> pending;   // request id -> upload awaiting every CP
  std::set<std::string> failed_uploads;            // request ids that failed at some CP
  std::map<task_phase, std::set<unsigned>> early_votes;
  std::map<unsigned, peer_link_ptr> peers;
  bool voted_calculation = false;
  bool voted_output = false;
  bool mpc_started = false;
  unsigned active_downloads = 0;
  std::int64_t finished_at_ms = 0;
  std::vector<event_entry> events;
  std::uint64_t next_seq = 1;
  caf::actor policy, proxy, sessions, mpc;  // children (monitored)
  std::shared_ptr<int> mpc_listen_fd;
  std::map<unsigned, address> mpc_addresses;
  bool erased = false;
  int exit_status = exit_cancelled;
  std::function<void(int)> on_exit;
};

using orchestrator_actor = caf::stateful_actor<orchestrator_state>;

void event(orchestrator_actor* self, std::string kind, std::string subject, std::string value) {
  auto& st = self->state;
  st.events.push_back({st.next_seq++, now_ms(), std::move(kind), std::move(subject), std::move(value)});
  if (st.events.size() > 10'000)
    st.events.erase(st.events.begin(), st.events.begin() + 1000);
  const auto& e = st.events.back();
  log::info(component, "event " + e.kind + " " + e.subject + " " + e.value, {{"ct", st.ctx->uuid}});
}

void update_gauges(orchestrator_actor* self) {
  auto& st = self->state;
  auto& m = *st.ctx->metrics;
  for (auto p : {task_phase::initialisation, task_phase::input, task_phase::calculation,
                 task_phase::output, task_phase::finished, task_phase::cancelled})
    m.phase.Add({{"phase", std::string{to_string(p)}}}).Set(st.machine->phase() == p ? 1 : 0);
  std::map<std::string, int> by_state{{"empty", 0}, {"in_use", 0}, {"ready", 0}, {"released", 0}};
  for (auto& [k, s] : st.slots)
    ++by_state[std::string{to_string(s.state())}];
  for (auto& [k, n] : by_state)
    m.slots.Add({{"state", k}}).Set(n);
}

void broadcast(orchestrator_actor* self, const v1::PeerMessage& m) {
  for (auto& [cp, link] : self->state.peers)
    if (auto r = link->send(m); !r)
      log::warning(component, "cannot tell cp-" + std::to_string(cp) + ": " + r.err().describe());
}

/// Deletes the files of every content the slots listed for erasure.
void erase_listed(orchestrator_actor* self) {
  auto& st = self->state;
  for (auto& [key, slot] : st.slots)
    for (auto& id : slot.take_erasures())
      if (auto it = st.contents.find(id); it != st.contents.end()) {
        remove_quietly(it->second.path);
        st.contents.erase(it);
      }
}

/// Everything this VM holds is destroyed: slot files, the sealing key (crypto-erasure).
void erase_everything(orchestrator_actor* self) {
  auto& st = self->state;
  if (st.erased)
    return;
  st.erased = true;
  for (auto& [key, slot] : st.slots)
    slot.discard();
  erase_listed(self);
  for (auto& [id, c] : st.contents)
    remove_quietly(c.path);
  st.contents.clear();
  std::error_code ec;
  for (auto& entry : fs::directory_iterator{st.ctx->slots_dir, ec})
    fs::remove(entry.path(), ec);
  st.ctx->key->erase();
  for (auto& [id, p] : st.pending)
    if (p.waiting)
      p.waiting->deliver(caf::make_error(caf::sec::request_receiver_down, "the task ended"));
  st.pending.clear();
  event(self, "erased", "sealing-key", "destroyed");
}

void finish_run(orchestrator_actor* self, int status) {
  auto& st = self->state;
  st.exit_status = status;
  st.finished_at_ms = now_ms();
  erase_everything(self);
  update_gauges(self);
}

/// Ends the counterpart links so that their reader threads wake up and stop.
void close_links(orchestrator_actor* self) {
  for (auto& [cp, link] : self->state.peers)
    if (link && link->stream.is_open())
      ::shutdown(link->stream.native_handle(), SHUT_RDWR);
  self->state.peers.clear();
}

void cancel_task(orchestrator_actor* self, const std::string& reason, bool tell_peers) {
  auto& st = self->state;
  if (is_terminal(st.machine->phase()))
    return;
  if (auto r = st.machine->cancel(reason, now_ms()); !r)
    return;
  log::warning(component, "CT " + st.ctx->uuid + " cancelled: " + reason);
  event(self, "phase", "cancelled", reason);
  if (tell_peers) {
    v1::PeerMessage m;
    m.set_kind(v1::PeerMessage::KIND_CANCEL);
    m.set_reason(reason);
    broadcast(self, m);
  }
  if (st.mpc)
    self->send_exit(st.mpc, caf::exit_reason::user_shutdown);
  finish_run(self, exit_cancelled);
}

void on_phase(orchestrator_actor* self);

/// Applies the votes of counterparts that arrived before this VM reached their phase.
void apply_votes(orchestrator_actor* self) {
  auto& st = self->state;
  bool moved = true;
  while (moved && !is_terminal(st.machine->phase())) {
    moved = false;
    auto next = static_cast<task_phase>(static_cast<int>(st.machine->phase()) + 1);
    auto it = st.early_votes.find(next);
    if (it == st.early_votes.end())
      break;
    auto before = st.machine->phase();
    for (auto cp : it->second) {
      if (st.machine->votes().count(cp))
        continue;
      auto r = st.machine->agree(cp, next, now_ms());
      if (!r) {
        log::warning(component, "vote of cp-" + std::to_string(cp) + " refused: " + r.err().describe());
        break;
      }
      if (st.machine->phase() != before)
        break;
    }
    if (st.machine->phase() != before) {
      st.early_votes.erase(next);
      moved = true;
      event(self, "phase", std::string{to_string(st.machine->phase())}, "agreed by every CP");
      on_phase(self);
    }
  }
  update_gauges(self);
}

/// This VM agrees to move to `next` and tells its counterparts.
void vote(orchestrator_actor* self, task_phase next) {
  auto& st = self->state;
  st.early_votes[next].insert(st.ctx->options.cp_index);
  v1::PeerMessage m;
  m.set_kind(v1::PeerMessage::KIND_VOTE);
  m.set_phase(std::string{to_string(next)});
  broadcast(self, m);
  apply_votes(self);
}

/// Votes for the calculation once every input slot is ready at every CP and no upload is running.
void maybe_close_input(orchestrator_actor* self) {
  auto& st = self->state;
  if (st.voted_calculation || st.machine->phase() != task_phase::input || !st.pending.empty())
    return;
  for (auto& [k, s] : st.slots)
    if (s.kind() == slot_kind::input && !s.ready())
      return;
  st.voted_calculation = true;
  for (auto& [k, s] : st.slots)
    if (s.kind() == slot_kind::input && !s.input_closed())
      (void)s.close_input();
  event(self, "input", "closed", "every input is ready at every CP");
  vote(self, task_phase::calculation);
}

void start_mpc(orchestrator_actor* self);

void on_phase(orchestrator_actor* self) {
  auto& st = self->state;
  switch (st.machine->phase()) {
    case task_phase::input: maybe_close_input(self); break;
    case task_phase::calculation: start_mpc(self); break;
    case task_phase::finished:
      log::notice(component, "CT " + st.ctx->uuid + " finished: every output was released");
      finish_run(self, exit_finished);
      break;
    default: break;
  }
}

// -- mpc_party --

/// Runs the engine at this CP (a detached actor: the engine blocks on its channels).
caf::behavior mpc_party(caf::event_based_actor* self, context_ptr ctx, caf::actor parent) {
  return {
    [=](run_atom, std::map<std::string, sealed_content> inputs, std::map<unsigned, std::string> mpc_addresses,
        std::map<unsigned, std::string> keys, std::shared_ptr<int> listen_fd) {
      auto failed = [&](const std::string& why) { self->send(parent, mpc_fail_atom::value, why); };
      const auto& ctsc = ctx->final.cta().ctsc();
      const auto* engine = engines::find_engine(ctsc.engine().name());
      if (engine == nullptr || engine->caps().testing_only)
        return failed("engine " + ctsc.engine().name() + " is not available in this VM");
      auto prog = engines::compile_ctsc(ctsc);
      if (!prog)
        return failed("the algorithm does not compile: " + prog.err().describe());
      engines::activation act;
      act.party = ctx->options.cp_index;
      act.endpoints.resize(ctx->parties);
      act.keys.resize(ctx->parties);
      for (unsigned i = 0; i < ctx->parties; ++i) {
        if (i == act.party)
          continue;
        auto a = parse_address(mpc_addresses[i]);
        if (!a)
          return failed("no MPC address of cp-" + std::to_string(i));
        act.endpoints[i] = {a->host, a->port};
        std::memcpy(act.keys[i].data(), keys[i].data(), std::min<std::size_t>(32, keys[i].size()));
      }
      act.endpoints[act.party] = {ctx->options.listen_host, 0};
      act.listen_fd = std::exchange(*listen_fd, -1);
      act.connect_timeout = ctx->options.peer_timeout;
      act.io_timeout = ctx->options.io_timeout;
      for (const auto& in : ctsc.inputs()) {
        auto it = inputs.find(in.key());
        if (it == inputs.end())
          return failed("input " + in.key() + " is not ready");
        auto content = fs::path{it->second.path}.filename().string();
        content = content.substr(in.key().size() + 1, content.size() - in.key().size() - 1 - 7);
        auto sealed = read_sealed(it->second.path);
        if (!sealed)
          return failed("input " + in.key() + ": " + sealed.err().describe());
        auto cols = unseal_columns(*ctx, in.key(), content, *sealed);
        if (!cols)
          return failed("input " + in.key() + ": " + cols.err().describe());
        engines::secret_table t;
        t.rows = it->second.rows;
        for (const auto& c : *cols) {
          auto s = engines::decode_shares(crypto::to_bytes(c), t.rows);
          if (!s || s->a.size() != t.rows)
            return failed("input " + in.key() + ": damaged shares");
          t.columns.push_back(std::move(*s));
        }
        act.inputs[in.key()] = std::move(t);
      }
      for (auto& k : keys)
        OPENSSL_cleanse(k.second.data(), k.second.size());
      auto report = engine->activate(*prog, std::move(act));
      if (!report)
        return failed("the engine failed: " + report.err().describe());
      mpc_outcome out;
      out.quality = report->quality;
      out.stats = report->stats;
      for (auto& [name, table] : report->outputs) {
        std::vector<std::string> cols;
        for (const auto& c : table.columns)
          cols.push_back(to_string(engines::encode_shares(c)));
        cols.push_back(to_string(engines::encode_shares(table.valid)));
        auto content = crypto::hex(crypto::random_bytes(16));
        auto sealed = seal_columns(*ctx, name, content, cols, table.rows);
        for (auto& c : cols)
          OPENSSL_cleanse(c.data(), c.size());
        if (!sealed)
          return failed("cannot seal output " + name + ": " + sealed.err().describe());
        out.outputs[name] = *sealed;
      }
      self->send(parent, mpc_ok_atom::value, std::move(out));
    },
  };
}

void start_mpc(orchestrator_actor* self) {
  auto& st = self->state;
  if (st.mpc_started)
    return;
  st.mpc_started = true;
  std::map<std::string, sealed_content> inputs;
  for (auto& [k, s] : st.slots)
    if (s.kind() == slot_kind::input && s.ready())
      inputs[k] = st.contents.at(s.content_id());
  std::map<unsigned, std::string> addresses, keys;
  for (auto& [cp, a] : st.mpc_addresses)
    addresses[cp] = a.text();
  for (auto& [cp, link] : st.peers)
    keys[cp] = std::string{reinterpret_cast<const char*>(link->mpc_key.data()), link->mpc_key.size()};
  st.mpc = self->spawn<caf::detached + caf::monitored>(mpc_party, st.ctx, caf::actor{self});
  event(self, "mpc", "engine", "running " + st.ctx->final.cta().ctsc().engine().name());
  self->send(st.mpc, run_atom::value, std::move(inputs), std::move(addresses), std::move(keys),
             st.mpc_listen_fd);
}

// -- uploads --

void upload_complete_check(orchestrator_actor* self, const std::string& id) {
  auto& st = self->state;
  auto it = st.pending.find(id);
  if (it == st.pending.end() || !it->second.local || it->second.sealed_at.size() < st.ctx->parties)
    return;
  auto& p = it->second;
  auto& slot = st.slots.at(p.slot);
  if (auto r = slot.complete(id, p.local->rows, p.local->sha256); !r) {
    log::warning(component, "upload " + id + " cannot complete: " + r.err().describe());
    return;
  }
  erase_listed(self);
  event(self, "slot", p.slot, "ready (" + std::to_string(p.local->rows) + " rows, sealed at every CP)");
  if (p.waiting)
    p.waiting->deliver(std::uint32_t{0}, std::string{"ready at every CP"});
  st.pending.erase(it);
  update_gauges(self);
  maybe_close_input(self);
}

void upload_failed(orchestrator_actor* self, const std::string& id, const std::string& why, bool tell) {
  auto& st = self->state;
  if (st.failed_uploads.size() < 100'000)
    st.failed_uploads.insert(id);
  auto it = st.pending.find(id);
  std::string slot_key = it != st.pending.end() ? it->second.slot : std::string{};
  for (auto& [k, s] : st.slots) {
    if (s.content_id() != id)
      continue;
    slot_key = k;
    if (s.state() == slot_state::in_use)
      (void)s.fail(id);
    else
      (void)s.peer_failed(id);
  }
  if (it != st.pending.end()) {
    if (it->second.local)
      remove_quietly(it->second.local->path);
    if (it->second.waiting)
      it->second.waiting->deliver(static_cast<std::uint32_t>(errc::io_error),
                                  "the upload failed at a Computing Party: " + why);
    st.pending.erase(it);
  }
  erase_listed(self);
  if (!slot_key.empty())
    event(self, "slot", slot_key, "empty (upload failed: " + why + ")");
  if (tell) {
    v1::PeerMessage m;
    m.set_kind(v1::PeerMessage::KIND_SLOT_FAILED);
    m.set_slot(slot_key);
    m.set_request_id(id);
    broadcast(self, m);
  }
  update_gauges(self);
}

// -- peer messages --

void on_peer_message(orchestrator_actor* self, unsigned cp, const std::string& bytes) {
  auto& st = self->state;
  v1::PeerMessage m;
  if (!m.ParseFromString(bytes)) {
    cancel_task(self, "cp-" + std::to_string(cp) + " sent a malformed control message", true);
    return;
  }
  if (is_terminal(st.machine->phase()))
    return;
  switch (m.kind()) {
    case v1::PeerMessage::KIND_VOTE: {
      auto phase = task_phase_from_string(m.phase());
      if (!phase || is_terminal(*phase)) {
        cancel_task(self, "cp-" + std::to_string(cp) + " voted for an unknown phase", true);
        return;
      }
      st.early_votes[*phase].insert(cp);
      apply_votes(self);
      break;
    }
    case v1::PeerMessage::KIND_SLOT_RECEIVED: {
      if (!st.slots.count(m.slot()) || st.slots.at(m.slot()).kind() != slot_kind::input)
        return;
      auto& p = st.pending[m.request_id()];
      if (p.slot.empty()) {
        p.slot = m.slot();
        p.deadline_ms = now_ms() + st.ctx->options.upload_confirm_timeout.count();
      } else if (p.slot != m.slot()) {
        return;
      }
      p.sealed_at.insert(cp);
      upload_complete_check(self, m.request_id());
      break;
    }
    case v1::PeerMessage::KIND_SLOT_FAILED:
      upload_failed(self, m.request_id(), "at cp-" + std::to_string(cp), false);
      maybe_close_input(self);
      break;
    case v1::PeerMessage::KIND_CANCEL:
      cancel_task(self, "cancelled by cp-" + std::to_string(cp) + ": " + m.reason().substr(0, 200), false);
      break;
    case v1::PeerMessage::KIND_QUALITY:
      for (const auto& k : m.quality_failed())
        event(self, "quality", k.substr(0, 64), "failed at cp-" + std::to_string(cp));
      break;
    default: cancel_task(self, "cp-" + std::to_string(cp) + " sent an unknown control message", true);
  }
}

// -- status --

json status_json(orchestrator_actor* self, std::uint64_t since) {
  auto& st = self->state;
  json slots = json::array();
  for (auto& [k, s] : st.slots)
    slots.push_back({{"key", k}, {"input", s.kind() == slot_kind::input},
                     {"state", std::string{to_string(s.state())}}, {"rows", s.rows()}});
  json events = json::array();
  for (auto& e : st.events)
    if (e.seq > since)
      events.push_back({{"seq", e.seq}, {"at_ms", e.at_ms}, {"kind", e.kind}, {"subject", e.subject},
                        {"value", e.value}});
  return {{"uuid", st.ctx->uuid},
          {"cp_index", st.ctx->options.cp_index},
          {"phase", std::string{to_string(st.machine->phase())}},
          {"reason", st.machine->reason()},
          {"platform", "joconde-simulated (SIMULATED TEE: no memory protection)"},
          {"slots", slots},
          {"events", events},
          {"finished", is_terminal(st.machine->phase())}};
}

v1::VmReply reply_of(orchestrator_actor* self, std::uint32_t code, std::string message) {
  auto& st = self->state;
  v1::VmReply r;
  r.set_code(code);
  r.set_message(std::move(message));
  r.set_phase(std::string{to_string(st.machine->phase())});
  for (auto& [k, s] : st.slots) {
    auto* ss = r.add_slots();
    ss->set_key(k);
    ss->set_input(s.kind() == slot_kind::input);
    ss->set_state(std::string{to_string(s.state())});
    ss->set_rows(s.rows());
  }
  return r;
}

// -- the orchestrator --

caf::behavior task_orchestrator(orchestrator_actor* self, context_ptr ctx, std::function<void(int)> on_exit,
                                std::shared_ptr<int> mpc_listen_fd, caf::actor policy, caf::actor proxy) {
  auto& st = self->state;
  st.ctx = ctx;
  st.on_exit = std::move(on_exit);
  st.mpc_listen_fd = std::move(mpc_listen_fd);
  const auto& ctsc = ctx->final.cta().ctsc();
  std::set<std::string> outputs;
  for (const auto& in : ctsc.inputs())
    st.slots.emplace(in.key(), data_slot{in.key(), slot_kind::input});
  for (const auto& out : ctsc.outputs()) {
    st.slots.emplace(out.key(), data_slot{out.key(), slot_kind::output});
    outputs.insert(out.key());
  }
  task_deadlines d{ctsc.temporal().input_deadline_ms(), ctsc.temporal().execution_deadline_ms(),
                   ctsc.temporal().output_deadline_ms()};
  auto machine = task_state_machine::create(d, ctx->parties, outputs);
  if (!machine) {
    log::error(component, "cannot run the CT: " + machine.err().describe());
    if (st.on_exit)
      st.on_exit(exit_failed);
    self->quit();
    return {};
  }
  st.machine = std::move(*machine);
  st.policy = policy;
  st.proxy = proxy;
  self->monitor(policy);
  self->monitor(proxy);
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& s = self->state;
    if (dm.source == s.mpc) {
      s.mpc = nullptr;
      if (!is_terminal(s.machine->phase()) && !s.voted_output)
        cancel_task(self, "the MPC party stopped: " + self->system().render(dm.reason), true);
      return;
    }
    if (!is_terminal(s.machine->phase()))
      cancel_task(self, "a component of the VM failed: " + self->system().render(dm.reason), true);
  });
  event(self, "phase", "initialisation", "VM started (SIMULATED TEE platform)");
  update_gauges(self);
  self->send(self, tick_atom::value);
  return {
    [=](tick_atom) {
      auto& s = self->state;
      auto now = now_ms();
      if (!is_terminal(s.machine->phase())) {
        if (s.machine->tick(now)) {
          event(self, "phase", "cancelled", s.machine->reason());
          v1::PeerMessage m;
          m.set_kind(v1::PeerMessage::KIND_CANCEL);
          m.set_reason(s.machine->reason());
          broadcast(self, m);
          finish_run(self, exit_cancelled);
        } else if (s.ctx->stopping->load()) {
          cancel_task(self, "stopped by the host", true);
        } else {
          std::vector<std::string> late;
          for (auto& [id, p] : s.pending)
            if (now >= p.deadline_ms)
              late.push_back(id);
          for (auto& id : late)
            upload_failed(self, id, "not sealed at every CP in time", true);
          if (!late.empty())
            maybe_close_input(self);
        }
      }
      if (is_terminal(s.machine->phase()) && s.finished_at_ms != 0) {
        // Let running downloads end and the host read the last events, then stop.
        bool drained = s.active_downloads == 0 || now - s.finished_at_ms > 60'000;
        if (drained && now - s.finished_at_ms > 1500) {
          close_links(self);
          if (s.on_exit)
            s.on_exit(s.exit_status);
          self->send_exit(s.policy, caf::exit_reason::user_shutdown);
          self->send_exit(s.proxy, caf::exit_reason::user_shutdown);
          if (s.mpc)
            self->send_exit(s.mpc, caf::exit_reason::user_shutdown);
          self->quit();
          return;
        }
      }
      self->delayed_send(self, std::chrono::milliseconds{200}, tick_atom::value);
    },
    [=](status_atom) -> std::string { return proto::serialize(reply_of(self, 0, {})); },
    [=](adopt_atom, caf::actor child) {
      self->state.sessions = child;
      self->monitor(child);
    },
    [=](events_atom, std::uint64_t since) -> std::string { return status_json(self, since).dump(); },
    [=](peer_up_atom, unsigned cp, peer_link_ptr link, std::string mpc_address) {
      auto& s = self->state;
      if (is_terminal(s.machine->phase()))
        return;
      if (auto a = parse_address(mpc_address))
        s.mpc_addresses[cp] = *a;
      s.peers[cp] = std::move(link);
      event(self, "peer", "cp-" + std::to_string(cp), "attested; channel keys agreed");
      if (s.peers.size() + 1 == s.ctx->parties && s.machine->phase() == task_phase::initialisation)
        vote(self, task_phase::input);
    },
    [=](peer_down_atom, unsigned cp, const std::string& why) {
      auto& s = self->state;
      s.peers.erase(cp);
      if (!is_terminal(s.machine->phase()))
        cancel_task(self, "lost counterpart cp-" + std::to_string(cp) + ": " + why, true);
    },
    [=](peer_atom, unsigned cp, const std::string& bytes) { on_peer_message(self, cp, bytes); },
    [=](cancel_atom, const std::string& reason) { cancel_task(self, reason, true); },
    [=](begin_atom, const std::string& slot_key, const std::string& id, const std::string& who)
      -> std::tuple<std::uint32_t, std::string> {
      auto& s = self->state;
      if (s.machine->phase() != task_phase::input || s.voted_calculation)
        return {static_cast<std::uint32_t>(errc::invalid_state),
                "the CT is in the " + std::string{to_string(s.machine->phase())}
                  + " phase; it accepts input only in the input phase, until every input is ready"};
      auto it = s.slots.find(slot_key);
      if (it == s.slots.end())
        return {static_cast<std::uint32_t>(errc::not_found), "no input " + slot_key};
      if (s.failed_uploads.count(id))
        return {static_cast<std::uint32_t>(errc::io_error), "this upload failed at another CP already"};
      if (auto r = it->second.begin_upload(id, who, now_ms()); !r)
        return {static_cast<std::uint32_t>(r.err().code), r.err().message};
      erase_listed(self);
      auto& p = s.pending[id];
      if (p.slot.empty()) {
        p.slot = slot_key;
        p.deadline_ms = now_ms() + s.ctx->options.upload_confirm_timeout.count();
      }
      event(self, "slot", slot_key, "in_use (upload " + id.substr(0, 8) + "...)");
      update_gauges(self);
      return {std::uint32_t{0}, std::string{}};
    },
    [=](sealed_atom, const std::string& id, sealed_content content) -> caf::result<std::uint32_t, std::string> {
      auto& s = self->state;
      auto it = s.pending.find(id);
      if (it == s.pending.end() || is_terminal(s.machine->phase())) {
        // Failed at another CP (or timed out) while its shares were still arriving here.
        remove_quietly(content.path);
        for (auto& [k, slot] : s.slots)
          if (slot.content_id() == id && slot.state() == slot_state::in_use)
            (void)slot.fail(id);
        erase_listed(self);
        update_gauges(self);
        return {static_cast<std::uint32_t>(errc::io_error),
                std::string{"the upload failed at another Computing Party"}};
      }
      auto& p = it->second;
      p.local = content;
      p.sealed_at.insert(s.ctx->options.cp_index);
      s.contents[id] = content;
      v1::PeerMessage m;
      m.set_kind(v1::PeerMessage::KIND_SLOT_RECEIVED);
      m.set_slot(p.slot);
      m.set_request_id(id);
      broadcast(self, m);
      auto promise = self->make_response_promise<std::uint32_t, std::string>();
      p.waiting = promise;
      upload_complete_check(self, id);
      return promise;
    },
    [=](failed_atom, const std::string& id, const std::string& why) {
      upload_failed(self, id, why, true);
    },
    [=](release_atom, const std::string& slot_key, const std::string& who)
      -> std::tuple<std::uint32_t, std::string, std::vector<std::string>, std::uint64_t> {
      auto& s = self->state;
      auto it = s.slots.find(slot_key);
      if (it == s.slots.end() || it->second.kind() != slot_kind::output)
        return {static_cast<std::uint32_t>(errc::not_found), "no output " + slot_key, {}, 0};
      if (it->second.state() == slot_state::released)
        return {static_cast<std::uint32_t>(errc::already_exists),
                "output " + slot_key + " was released once already (to " + it->second.released_to() + ")",
                {}, 0};
      if (s.machine->phase() != task_phase::output)
        return {static_cast<std::uint32_t>(errc::invalid_state),
                "outputs are released in the output phase; the CT is in the "
                  + std::string{to_string(s.machine->phase())} + " phase", {}, 0};
      auto content_id = it->second.content_id();
      if (auto r = it->second.release(who, now_ms()); !r)
        return {static_cast<std::uint32_t>(r.err().code), r.err().message, {}, 0};
      auto c = s.contents.at(content_id);
      // Unsealed here, before the last release ends the task and erases the key.
      auto sealed = read_sealed(c.path);
      erase_listed(self);  // the released content: its file is gone from here on
      if (!sealed)
        return {static_cast<std::uint32_t>(sealed.err().code), sealed.err().message, {}, 0};
      auto cols = unseal_columns(*s.ctx, slot_key, content_id, *sealed);
      if (!cols)
        return {static_cast<std::uint32_t>(cols.err().code), cols.err().message, {}, 0};
      ++s.active_downloads;
      event(self, "slot", slot_key, "released once");
      auto r = s.machine->output_retrieved(slot_key, now_ms());
      if (r && *r) {
        event(self, "phase", "finished", "every output was released");
        on_phase(self);
      }
      update_gauges(self);
      return {std::uint32_t{0}, std::string{}, std::move(*cols), c.rows};
    },
    [=](done_atom) {
      auto& s = self->state;
      if (s.active_downloads > 0)
        --s.active_downloads;
    },
    [=](mpc_ok_atom, mpc_outcome& out) {
      auto& s = self->state;
      s.ctx->metrics->mpc_rounds.Increment(static_cast<double>(out.stats.rounds));
      s.ctx->metrics->mpc_bytes.Increment(static_cast<double>(out.stats.bytes_sent));
      if (s.machine->phase() != task_phase::calculation) {
        for (auto& [k, c] : out.outputs)
          remove_quietly(c.path);
        return;
      }
      v1::PeerMessage q;
      q.set_kind(v1::PeerMessage::KIND_QUALITY);
      bool all_passed = true;
      for (auto& [input, passed] : out.quality) {
        event(self, "quality", input, passed ? "passed" : "failed");
        (passed ? q.add_quality_passed() : q.add_quality_failed())->assign(input);
        all_passed = all_passed && passed;
      }
      broadcast(self, q);
      for (auto& [k, c] : out.outputs) {
        auto content = fs::path{c.path}.filename().string();
        content = content.substr(k.size() + 1, content.size() - k.size() - 1 - 7);
        s.contents[content] = c;
        if (auto r = s.slots.at(k).store(content, c.rows, c.sha256); !r)
          log::warning(component, "output " + k + ": " + r.err().describe());
        else
          event(self, "slot", k, "ready (" + std::to_string(c.rows) + " rows)");
      }
      event(self, "mpc", "engine", "done: " + std::to_string(out.stats.rounds) + " rounds, "
                                     + std::to_string(out.stats.bytes_sent) + " bytes sent");
      if (!all_passed) {
        cancel_task(self, "a data-quality check failed", true);
        return;
      }
      s.voted_output = true;
      vote(self, task_phase::output);
    },
    [=](mpc_fail_atom, const std::string& why) { cancel_task(self, why, true); },
  };
}

// -- session_manager --

/// The settings of the attested key exchange with counterpart `peer`.
enclave::handshake::settings peer_settings(const vm_context& ctx, const enclave::attester* att,
                                           const enclave::verifier* ver, unsigned peer) {
  enclave::handshake::settings s;
  s.ct_id = ctx.uuid;
  s.own_cp = ctx.options.cp_index;
  s.peer_cp = peer;
  s.attester = att;
  s.verifier = ver;
  s.reference = ctx.reference;
  return s;
}

struct session_shared {
  context_ptr ctx;
  caf::actor orchestrator, policy;
  std::shared_ptr<enclave::attester> attester;
  std::shared_ptr<enclave::verifier> verifier;
  fd_guard client_listener, peer_listener;
  address client_address, peer_address, mpc_address;
  std::vector<std::thread> threads;
  std::mutex mutex;
  std::set<unsigned> connecting;
  bool peers_given = false;
};

using session_ptr = std::shared_ptr<session_shared>;

void send_reply(enclave::secure_stream& stream, const v1::VmReply& r) {
  (void)stream.send(crypto::to_bytes(proto::serialize(r)));
}

v1::VmReply error_reply(errc code, std::string message, const std::string& phase = {}) {
  v1::VmReply r;
  r.set_code(static_cast<std::uint32_t>(code));
  r.set_message(std::move(message));
  r.set_phase(phase);
  return r;
}

/// Serves one client connection: attest, then one request.
void serve_client(session_ptr sh, int raw_fd) {
  fd_guard fd{raw_fd};
  auto& ctx = *sh->ctx;
  enclave::vm_settings vs{ctx.uuid, ctx.options.cp_index, sh->attester.get()};
  auto stream = enclave::accept_client(fd.release(), vs, std::chrono::milliseconds{10'000});
  if (!stream) {
    ctx.metrics->attestation_failures.Add({{"reason", "client-session"}}).Increment();
    log::info(component, "client session refused: " + stream.err().describe());
    return;
  }
  auto first = stream->receive(64 * 1024);
  if (!first)
    return;
  v1::VmRequest req;
  if (!req.ParseFromArray(first->data(), static_cast<int>(first->size()))) {
    send_reply(*stream, error_reply(errc::malformed_input, "not a VmRequest"));
    return;
  }
  caf::scoped_actor self{sh->orchestrator.home_system()};
  auto ask_status = [&]() {
    v1::VmReply r;
    self->request(sh->orchestrator, std::chrono::seconds{10}, status_atom::value)
      .receive([&](const std::string& bytes) { r.ParseFromString(bytes); }, [&](caf::error&) {});
    return r;
  };
  auto refuse = [&](errc code, const std::string& msg) {
    ctx.metrics->refused.Add({{"reason", std::string{to_string(code)}}}).Increment();
    auto r = ask_status();
    r.set_code(static_cast<std::uint32_t>(code));
    r.set_message(msg);
    r.set_rows(0);
    r.set_columns(0);
    send_reply(*stream, r);
  };
  if (req.kind() == v1::VmRequest::KIND_STATUS) {
    send_reply(*stream, ask_status());
    return;
  }
  bool upload = req.kind() == v1::VmRequest::KIND_UPLOAD;
  if (!upload && req.kind() != v1::VmRequest::KIND_DOWNLOAD)
    return refuse(errc::malformed_input, "unknown request kind");
  policy_verdict verdict{static_cast<std::uint32_t>(errc::timeout), "the policy did not answer", {}};
  self->request(sh->policy, std::chrono::seconds{10}, check_atom::value,
                proto::serialize(req.authorization()), upload)
    .receive([&](policy_verdict& v) { verdict = std::move(v); }, [&](caf::error&) {});
  if (verdict.code != 0)
    return refuse(static_cast<errc>(verdict.code), verdict.message);
  const auto& grant = verdict.grant;
  if (upload && req.rows() > grant.max_rows)
    return refuse(errc::too_large, "input " + grant.slot + " accepts at most "
                                     + std::to_string(grant.max_rows) + " rows, not "
                                     + std::to_string(req.rows()));
  const std::uint64_t rows = req.rows();
  if (upload) {
    std::tuple<std::uint32_t, std::string> began{static_cast<std::uint32_t>(errc::timeout), "no answer"};
    self->request(sh->orchestrator, std::chrono::seconds{10}, begin_atom::value, grant.slot,
                  grant.request_id, grant.who)
      .receive([&](std::uint32_t c, std::string& m) { began = {c, std::move(m)}; }, [&](caf::error&) {});
    if (std::get<0>(began) != 0)
      return refuse(static_cast<errc>(std::get<0>(began)), std::get<1>(began));
    const auto& ctsc = ctx.final.cta().ctsc();
    std::size_t ncols = 0;
    for (const auto& in : ctsc.inputs())
      if (in.key() == grant.slot)
        ncols = static_cast<std::size_t>(in.schema_size());
    // The go-ahead, then the columns.
    send_reply(*stream, error_reply(errc{}, "send the columns"));
    std::vector<std::string> cols;
    std::string failure;
    for (std::size_t c = 0; c < ncols && failure.empty(); ++c) {
      auto msg = stream->receive(16 + 16 * rows + 64);
      if (!msg) {
        failure = "column " + std::to_string(c + 1) + ": " + msg.err().describe();
        break;
      }
      auto shares = engines::decode_shares(*msg, rows);
      if (!shares || shares->a.size() != rows)
        failure = "column " + std::to_string(c + 1) + " is not " + std::to_string(rows)
                  + " rows of shares";
      ctx.metrics->uploaded.Increment(static_cast<double>(msg->size()));
      cols.push_back(to_string(*msg));
      OPENSSL_cleanse(msg->data(), msg->size());
    }
    if (failure.empty()) {
      auto sealed = seal_columns(ctx, grant.slot, grant.request_id, cols, rows);
      for (auto& c : cols)
        OPENSSL_cleanse(c.data(), c.size());
      if (!sealed) {
        failure = sealed.err().describe();
      } else {
        std::tuple<std::uint32_t, std::string> outcome{static_cast<std::uint32_t>(errc::timeout),
                                                       "no answer"};
        auto wait = ctx.options.upload_confirm_timeout + std::chrono::seconds{10};
        self->request(sh->orchestrator, wait, sealed_atom::value, grant.request_id, *sealed)
          .receive([&](std::uint32_t c, std::string& m) { outcome = {c, std::move(m)}; },
                   [&](caf::error& e) { outcome = {static_cast<std::uint32_t>(errc::io_error), self->system().render(e)}; });
        auto r = ask_status();
        r.set_code(std::get<0>(outcome));
        r.set_message(std::get<1>(outcome));
        send_reply(*stream, r);
        return;
      }
    }
    self->send(sh->orchestrator, failed_atom::value, grant.request_id, failure);
    log::info(component, "upload " + grant.request_id + " failed here: " + failure);
    return refuse(errc::malformed_input, "upload failed: " + failure);
  }
  // Download: released once, whatever happens on the wire afterwards.
  std::tuple<std::uint32_t, std::string, std::vector<std::string>, std::uint64_t> rel{
    static_cast<std::uint32_t>(errc::timeout), "no answer", {}, 0};
  self->request(sh->orchestrator, std::chrono::seconds{30}, release_atom::value, grant.slot, grant.who)
    .receive([&](std::uint32_t c, std::string& m, std::vector<std::string>& cs, std::uint64_t rows) {
               rel = {c, std::move(m), std::move(cs), rows};
             },
             [&](caf::error&) {});
  if (std::get<0>(rel) != 0)
    return refuse(static_cast<errc>(std::get<0>(rel)), std::get<1>(rel));
  auto* cols = &std::get<2>(rel);
  auto r = ask_status();
  r.set_code(0);
  r.set_rows(std::get<3>(rel));
  r.set_columns(static_cast<std::uint32_t>(cols->size()));
  send_reply(*stream, r);
  for (auto& c : *cols) {
    ctx.metrics->downloaded.Increment(static_cast<double>(c.size()));
    if (!stream->send(crypto::to_bytes(c)))
      break;
    OPENSSL_cleanse(c.data(), c.size());
  }
  self->send(sh->orchestrator, done_atom::value);
}

/// Reads one counterpart's control messages until the link breaks.
void read_peer(session_ptr sh, peer_link_ptr link) {
  caf::scoped_actor self{sh->orchestrator.home_system()};
  for (;;) {
    auto msg = link->stream.receive(1024 * 1024);
    if (!msg) {
      if (!sh->ctx->stopping->load())
        self->send(sh->orchestrator, peer_down_atom::value, link->cp, msg.err().describe());
      return;
    }
    self->send(sh->orchestrator, peer_atom::value, link->cp, to_string(*msg));
  }
}

/// Completes the attested exchange with counterpart `peer` over `fd`.
void establish_peer(session_ptr sh, fd_guard fd, unsigned peer, std::string mpc_address) {
  auto& ctx = *sh->ctx;
  auto s = enclave::connect_peer(fd.release(), peer_settings(ctx, sh->attester.get(), sh->verifier.get(), peer),
                                 ctx.options.peer_timeout);
  caf::scoped_actor self{sh->orchestrator.home_system()};
  if (!s) {
    ctx.metrics->attestation_failures.Add({{"reason", "peer-" + std::string{to_string(s.err().code)}}}).Increment();
    log::warning(component, "counterpart cp-" + std::to_string(peer) + " refused: " + s.err().describe());
    std::lock_guard lock{sh->mutex};
    sh->connecting.erase(peer);
    return;
  }
  auto link = std::make_shared<peer_link>(peer, std::move(s->stream), s->mpc_key);
  self->send(sh->orchestrator, peer_up_atom::value, peer, link, mpc_address);
  read_peer(sh, link);
}

caf::behavior session_manager(caf::event_based_actor* self, session_ptr sh) {
  // Accept loops: clients, and counterparts with a higher CP index (they connect to the lower).
  sh->threads.emplace_back([sh] {
    while (!sh->ctx->stopping->load()) {
      int fd = accept_for(sh->client_listener.fd, 200);
      if (fd >= 0)
        std::thread{serve_client, sh, fd}.detach();
    }
  });
  self->attach_functor([sh] {
    sh->ctx->stopping->store(true);
    for (auto& t : sh->threads)
      if (t.joinable())
        t.join();
  });
  return {
    [=](peers_atom, std::map<unsigned, std::string> peer_addresses, std::map<unsigned, std::string> mpc)
      -> std::tuple<std::uint32_t, std::string> {
      {
        std::lock_guard lock{sh->mutex};
        if (sh->peers_given)
          return {std::uint32_t{0}, std::string{"peers known already"}};
        sh->peers_given = true;
      }
      auto own = sh->ctx->options.cp_index;
      for (auto& [cp, a] : peer_addresses) {
        if (cp == own || cp >= sh->ctx->parties)
          continue;
        auto addr = parse_address(a);
        if (!addr)
          return {static_cast<std::uint32_t>(errc::malformed_input), addr.err().message};
      }
      std::map<unsigned, std::string> mpc_copy = mpc;
      // Accept the counterparts above, connect to those below.
      std::set<unsigned> expected;
      for (auto& [cp, a] : peer_addresses)
        if (cp > own && cp < sh->ctx->parties)
          expected.insert(cp);
      if (!expected.empty())
        sh->threads.emplace_back([sh, expected, mpc_copy] {
          auto left = expected;
          while (!left.empty() && !sh->ctx->stopping->load()) {
            int raw = accept_for(sh->peer_listener.fd, 200);
            if (raw < 0)
              continue;
            fd_guard fd{raw};
            std::uint8_t idx[4];
            if (!read_all(fd.fd, idx, 4, 10'000))
              continue;
            unsigned cp = (unsigned{idx[0]} << 24) | (unsigned{idx[1]} << 16) | (unsigned{idx[2]} << 8) | idx[3];
            if (!left.count(cp))
              continue;
            {
              std::lock_guard lock{sh->mutex};
              if (sh->connecting.count(cp))
                continue;
              sh->connecting.insert(cp);
            }
            left.erase(cp);
            auto mpc_a = mpc_copy.count(cp) ? mpc_copy.at(cp) : std::string{};
            std::thread{establish_peer, sh, std::move(fd), cp, mpc_a}.detach();
          }
        });
      for (auto& [cp, a] : peer_addresses) {
        if (cp >= own)
          continue;
        auto addr = *parse_address(a);
        auto mpc_a = mpc_copy.count(cp) ? mpc_copy.at(cp) : std::string{};
        std::thread{[sh, addr, cp, own, mpc_a] {
          auto fd = connect_to(addr, sh->ctx->options.peer_timeout, *sh->ctx->stopping);
          if (!fd) {
            caf::scoped_actor self{sh->orchestrator.home_system()};
            self->send(sh->orchestrator, peer_down_atom::value, cp, fd.err().describe());
            return;
          }
          std::uint8_t idx[4] = {static_cast<std::uint8_t>(own >> 24), static_cast<std::uint8_t>(own >> 16),
                                 static_cast<std::uint8_t>(own >> 8), static_cast<std::uint8_t>(own)};
          if (!write_all(fd->fd, idx, 4))
            return;
          {
            std::lock_guard lock{sh->mutex};
            sh->connecting.insert(cp);
          }
          establish_peer(sh, std::move(*fd), cp, mpc_a);
        }}.detach();
      }
      return {std::uint32_t{0}, std::string{"connecting to counterparts"}};
    },
  };
}

// -- start-up --

result<void> write_endpoints(const fs::path& dir, const std::string& admin, const session_shared& sh) {
  json doc{{"admin", admin},
           {"client", sh.client_address.text()},
           {"peer", sh.peer_address.text()},
           {"mpc", sh.mpc_address.text()}};
  auto tmp = dir / "endpoints.json.tmp";
  {
    std::ofstream out{tmp, std::ios::trunc};
    out << doc.dump() << "\n";
    if (!out)
      return fail(errc::io_error, "cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, dir / "endpoints.json", ec);
  if (ec)
    return fail(errc::io_error, "cannot write endpoints.json: " + ec.message());
  return ok();
}

http::response json_response(int status, const json& body) {
  http::response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = body.dump();
  return r;
}

bool token_ok(const http::request& req, const std::string& token) {
  return !token.empty() && req.bearer_token.size() == token.size()
         && CRYPTO_memcmp(req.bearer_token.data(), token.data(), token.size()) == 0;
}

} // namespace

int run_vm(const vm_options& options, const image_config& image, const enclave::host_data& host,
           std::shared_ptr<const enclave::attester> attester, std::shared_ptr<const std::atomic<bool>> stop) {
  auto die = [](const std::string& what) {
    log::error(component, what);
    std::cerr << "joconde-vm: " << what << "\n";
    return exit_failed;
  };
  // -- the CTA, checked against the host data the platform recorded at launch --
  std::ifstream in{options.cta_file, std::ios::binary};
  if (!in)
    return die("cannot read the CTA " + options.cta_file.string());
  std::string cta_bytes{std::istreambuf_iterator<char>{in}, {}};
  auto ctx = std::make_shared<vm_context>();
  if (cta_bytes.size() > 64 * 1024 * 1024 || !ctx->final.ParseFromString(cta_bytes))
    return die("the CTA file is not a final CTA");
  auto hash = canonical_hash(ctx->final.cta());
  if (!hash || hash->size() != host.size() || !std::equal(host.begin(), host.end(), hash->begin()))
    return die("the CTA given does not match the host data the platform recorded at launch");
  const auto& ctsc = ctx->final.cta().ctsc();
  ctx->options = options;
  ctx->image = image;
  ctx->host = host;
  ctx->uuid = ctsc.uuid();
  ctx->cta_hash_hex = crypto::hex(*hash);
  ctx->parties = static_cast<unsigned>(ctsc.computing_parties_size());
  if (ctx->parties < 3 || options.cp_index >= ctx->parties)
    return die("CP index " + std::to_string(options.cp_index) + " is not one of the CTA's "
               + std::to_string(ctx->parties) + " computing parties");
  ctx->attester = std::move(attester);
  ctx->verifier = std::make_shared<enclave::simulated_verifier>(image.trusted_roots);
  ctx->reference.cta_hash = host;
  ctx->reference.allow_simulated = image.allow_simulated;
  ctx->reference.min_tcb_version = image.min_tcb_version;
  for (const auto& m : ctsc.tee_measurements()) {
    if (m.measurement().size() != 48)
      continue;
    enclave::measurement mm{};
    std::memcpy(mm.data(), m.measurement().data(), 48);
    ctx->reference.measurements.push_back(mm);
  }
  if (ctx->reference.measurements.empty())
    return die("the CTSC names no 48-byte TEE measurement: counterparts cannot be attested");
  ctx->metrics = std::make_shared<vm_metrics>();
  auto key = enclave::sealing_key::generate();
  if (!key)
    return die(key.err().describe());
  ctx->key = std::make_shared<enclave::sealing_key>(std::move(*key));
  ctx->slots_dir = options.data_dir / "slots";
  std::error_code ec;
  fs::create_directories(ctx->slots_dir, ec);
  fs::permissions(options.data_dir, fs::perms::owner_all, ec);
  // -- endpoints --
  auto sh = std::make_shared<session_shared>();
  auto cl = listen_on(options.listen_host);
  auto pl = listen_on(options.listen_host);
  auto ml = listen_on(options.listen_host);
  if (!cl || !pl || !ml)
    return die("cannot listen: " + (!cl ? cl.err() : !pl ? pl.err() : ml.err()).describe());
  sh->client_listener = std::move(cl->first);
  sh->client_address = cl->second;
  sh->peer_listener = std::move(pl->first);
  sh->peer_address = pl->second;
  sh->mpc_address = ml->second;
  auto mpc_fd = std::make_shared<int>(ml->first.release());
  // -- the actor tree --
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", size_t{2});
  caf::actor_system sys{cfg};
  std::mutex exit_mutex;
  std::condition_variable exit_cv;
  std::optional<int> exit_status;
  context_ptr cctx = ctx;
  auto policy = sys.spawn(task_policy_actor, cctx);
  auto proxy = sys.spawn(attestation_proxy, cctx);
  auto orchestrator = sys.spawn(task_orchestrator, cctx, std::function<void(int)>{[&](int status) {
                                  std::lock_guard lock{exit_mutex};
                                  exit_status = status;
                                  exit_cv.notify_all();
                                }},
                                mpc_fd, policy, proxy);
  sh->ctx = cctx;
  sh->orchestrator = orchestrator;
  sh->policy = policy;
  sh->attester = std::make_shared<proxy_attester>(sys, proxy);
  sh->verifier = std::make_shared<proxy_verifier>(sys, proxy, cctx);
  auto sessions = sys.spawn(session_manager, sh);
  caf::anon_send(orchestrator, adopt_atom::value, caf::actor{sessions});
  // -- the host's endpoint --
  auto admin = http::server::start(options.listen_host + ":0", 64 * 1024, 2);
  if (!admin) {
    caf::anon_send_exit(orchestrator, caf::exit_reason::user_shutdown);
    return die("cannot serve the admin endpoint: " + admin.err().describe());
  }
  auto token = options.admin_token;
  auto ask = [&sys, orchestrator](auto... xs) {
    caf::scoped_actor self{sys};
    std::string out;
    self->request(orchestrator, std::chrono::seconds{5}, xs...)
      .receive([&](const std::string& s) { out = s; }, [&](caf::error&) {});
    return out;
  };
  (*admin)->route("GET", "/health", [&, token](const http::request& req) {
    if (!token_ok(req, token))
      return json_response(401, {{"error", "unauthorized"}});
    auto st = json::parse(ask(events_atom::value, std::numeric_limits<std::uint64_t>::max()), nullptr, false);
    return json_response(200, {{"status", "ok"}, {"phase", st.is_object() ? st["phase"] : json{}}});
  });
  (*admin)->route("GET", "/status", [&, token](const http::request& req) {
    if (!token_ok(req, token))
      return json_response(401, {{"error", "unauthorized"}});
    std::uint64_t since = 0;
    if (auto it = req.query.find("since"); it != req.query.end())
      since = std::strtoull(it->second.c_str(), nullptr, 10);
    auto body = ask(events_atom::value, since);
    if (body.empty())
      return json_response(503, {{"error", "the VM is stopping"}});
    http::response r;
    r.content_type = "application/json";
    r.body = body;
    return r;
  });
  (*admin)->route("GET", "/metrics", [&, token](const http::request& req) {
    if (!token_ok(req, token))
      return json_response(401, {{"error", "unauthorized"}});
    http::response r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = ctx->metrics->text();
    return r;
  });
  (*admin)->route("POST", "/cancel", [&, token](const http::request& req) {
    if (!token_ok(req, token))
      return json_response(401, {{"error", "unauthorized"}});
    auto body = json::parse(req.body, nullptr, false);
    std::string reason = "cancelled by the Computing Party's node";
    if (body.is_object() && body.contains("reason") && body["reason"].is_string())
      reason += ": " + body["reason"].get<std::string>().substr(0, 200);
    caf::anon_send(orchestrator, cancel_atom::value, reason);
    return json_response(202, {{"status", "cancelling"}});
  });
  (*admin)->route("POST", "/peers", [&, token](const http::request& req) {
    if (!token_ok(req, token))
      return json_response(401, {{"error", "unauthorized"}});
    auto body = json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("peers") || !body["peers"].is_array())
      return json_response(400, {{"error", "give {\"peers\":[{cp_index, peer_address, mpc_address}]}"}});
    std::map<unsigned, std::string> peer_addresses, mpc;
    for (auto& p : body["peers"]) {
      if (!p.is_object() || !p.contains("cp_index") || !p["cp_index"].is_number_unsigned()
          || !p.contains("peer_address") || !p["peer_address"].is_string()
          || !p.contains("mpc_address") || !p["mpc_address"].is_string())
        return json_response(400, {{"error", "each peer has cp_index, peer_address and mpc_address"}});
      auto cp = p["cp_index"].get<unsigned>();
      peer_addresses[cp] = p["peer_address"].get<std::string>();
      mpc[cp] = p["mpc_address"].get<std::string>();
      if (!parse_address(peer_addresses[cp]) || !parse_address(mpc[cp]))
        return json_response(400, {{"error", "addresses are host:port"}});
    }
    caf::scoped_actor self{sys};
    json out;
    self->request(sessions, std::chrono::seconds{5}, peers_atom::value, peer_addresses, mpc)
      .receive([&](std::uint32_t code, const std::string& msg) { out = {{"code", code}, {"message", msg}}; },
               [&](caf::error& e) { out = {{"code", 1}, {"message", sys.render(e)}}; });
    return json_response(out.value("code", 1) == 0 ? 200 : 400, out);
  });
  if (auto r = write_endpoints(options.data_dir, (*admin)->listen_address(), *sh); !r) {
    caf::anon_send_exit(orchestrator, caf::exit_reason::user_shutdown);
    return die(r.err().describe());
  }
  log::notice(component, "CT VM for " + ctx->uuid + " (cp-" + std::to_string(options.cp_index)
                           + ") is up on a SIMULATED TEE platform (no memory protection)",
              {{"client", sh->client_address.text()}, {"peer", sh->peer_address.text()},
               {"mpc", sh->mpc_address.text()}, {"admin", (*admin)->listen_address()}});
  // -- wait for the end --
  {
    std::unique_lock lock{exit_mutex};
    while (!exit_status) {
      exit_cv.wait_for(lock, std::chrono::milliseconds{200});
      if (stop && stop->load() && !ctx->stopping->load())
        caf::anon_send(orchestrator, cancel_atom::value, std::string{"stopped by the host"});
    }
  }
  (*admin)->stop();
  ctx->stopping->store(true);
  caf::anon_send_exit(sessions, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(policy, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(proxy, caf::exit_reason::user_shutdown);
  if (*mpc_fd >= 0)
    ::close(*mpc_fd);
  ctx->key->erase();
  return *exit_status;
}

} // namespace joconde::vm
