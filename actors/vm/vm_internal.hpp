#pragma once

// What the actors of one CT VM share (vm_run.hpp, DESIGN.md §4): message atoms, sockets, the
// read-only context of the task, sealed slot files and metrics. Include only from actors/vm
// sources (it pulls in CAF).

#include "task_policy.hpp"
#include "vm_run.hpp"

#include "joconde/enclave/sealing.hpp"
#include "joconde/enclave/session.hpp"
#include "joconde/enclave/simulated.hpp"
#include "joconde/engines/backend.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/messages/vm_data.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/net.hpp"
#include "joconde/runtime/vm_metrics.hpp"

#include <joconde/agreement.pb.h>
#include <joconde/vm.pb.h>

#include <openssl/crypto.h>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

namespace joconde::vm::detail {

namespace fs = std::filesystem;

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

// -- sockets --

/// Owns a file descriptor; closes it when destroyed or reset.
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

/// A host:port endpoint ("198.18.0.11:20001", "[2001:db8::1]:20001", "cp1.example.org:20001").
using address = net::host_port;

/// "host:port" as an address (IPv4, [IPv6] or host name); malformed_input otherwise.
result<address> parse_address(const std::string& text);

/// A TCP socket listening on `host` at the first free port of `ports` (any port the kernel picks
/// when the range is empty); resource_exhausted when every port of the range is taken.
result<std::pair<fd_guard, std::uint16_t>> listen_on(const std::string& host, const net::port_range& ports);

/// Connects to `a`, retrying until `timeout`.
result<fd_guard> connect_to(const address& a, std::chrono::milliseconds timeout,
                            const std::atomic<bool>& stopping);

/// Waits up to `ms` for a connection on `listen_fd`; -1 when none came.
int accept_for(int listen_fd, int ms);

/// Sends all `n` bytes; false when the connection broke.
bool write_all(int fd, const void* data, std::size_t n);

/// Reads exactly `n` bytes before `deadline` (however the bytes trickle in); false otherwise.
bool read_all_by(int fd, void* data, std::size_t n, std::chrono::steady_clock::time_point deadline);

/// The bytes as a string (CAF carries strings much faster than byte vectors).
std::string to_string(const std::vector<std::uint8_t>& b);

// -- shared pieces --

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

using vm::sealed_content;

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
  std::shared_ptr<metrics::vm_registry> metrics;
  key_ptr key;
  fs::path slots_dir;
  std::shared_ptr<std::atomic<bool>> stopping = std::make_shared<std::atomic<bool>>(false);
};

using context_ptr = std::shared_ptr<const vm_context>;

/// The GCM associated data of a slot file: the CT, the slot and the content id.
std::string seal_ad(const vm_context& ctx, const std::string& slot, const std::string& content);

/// Seals the columns (JSH1 share encodings, valid flags last for outputs) into `path`.
result<sealed_content> seal_columns(const vm_context& ctx, const std::string& slot,
                                    const std::string& content, const std::vector<std::string>& cols,
                                    std::uint64_t rows);

/// The bytes of the sealed slot file `path`.
result<std::string> read_sealed(const std::string& path);

/// The columns seal_columns sealed into `sealed` (a slot file's bytes).
result<std::vector<std::string>> unseal_columns(const vm_context& ctx, const std::string& slot,
                                                const std::string& content, const std::string& sealed);

/// Removes a file if it is there.
void remove_quietly(const std::string& path);

/// The task_policy's verdict on one request: code 0 and the grant, or the refusal.
struct policy_verdict {
  std::uint32_t code = 0;
  std::string message;
  authorized grant;
};

// -- the actors --

/// task_policy: the CTA's answer to "may this PAK write/read this slot?" (check_atom).
caf::behavior task_policy_actor(caf::stateful_actor<std::unique_ptr<task_policy>>* self, context_ptr ctx);

/// attestation_proxy: this VM's evidence (evidence_atom) and verdicts on counterparts (verify_atom).
caf::behavior attestation_proxy(caf::event_based_actor* self, context_ptr ctx);

/// An attester that asks the attestation_proxy (so that evidence has one place in the tree).
class proxy_attester final : public enclave::attester {
public:
  proxy_attester(caf::actor_system& sys, caf::actor proxy) : sys_{sys}, proxy_{std::move(proxy)} {}
  result<enclave::evidence> get_evidence(std::span<const std::uint8_t, 64> data) const override;

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
                                 std::span<const std::uint8_t, 64> expected) const override;

private:
  caf::actor_system& sys_;
  caf::actor proxy_;
  context_ptr ctx_;
};

/// mpc_party: runs the engine at this CP (spawn detached); tells `parent` mpc_ok or mpc_fail.
caf::behavior mpc_party(caf::event_based_actor* self, context_ptr ctx, caf::actor parent);

/// Spawns the task_orchestrator, which monitors `policy`, `proxy` and later the session manager
/// (adopt_atom) and the mpc_party it spawns; `on_exit` is called once with the VM's exit status.
caf::actor spawn_task_orchestrator(caf::actor_system& sys, context_ptr ctx, std::function<void(int)> on_exit,
                                   fd_ptr mpc_listen_fd, caf::actor policy, caf::actor proxy);

struct session_shared {
  context_ptr ctx;
  caf::actor orchestrator, policy;
  std::shared_ptr<enclave::attester> attester;
  std::shared_ptr<enclave::verifier> verifier;
  fd_guard client_listener, peer_listener;
  address client_address, peer_address, mpc_address;
  std::vector<std::thread> threads;
  std::mutex mutex;
  /// Counterparts with a higher CP index whose attested link this VM accepted (under `mutex`).
  std::set<unsigned> established;
  /// A connection on the peer port between accept and the end of its attested handshake.
  struct handshake_slot {
    int fd = -1;                                  ///< a duplicate of its socket, to evict it by
    std::string source;                           ///< its peer's address
    std::chrono::steady_clock::time_point since;  ///< accepted then
    std::shared_ptr<std::atomic<bool>> evicted;   ///< set when it gave way to a newcomer
  };
  /// The connections on the peer port in handshake, by a serial number (under `mutex`).
  std::map<std::uint64_t, handshake_slot> handshakes;
  std::uint64_t next_handshake = 0;
  bool peers_given = false;
  /// Client sessions in all and per source address, and each source's evidence budget (under
  /// `mutex`).
  struct client_source {
    unsigned sessions = 0;
    double tokens = 0;
    std::chrono::steady_clock::time_point refilled;
  };
  std::map<std::string, client_source> client_sources;
  unsigned client_sessions = 0;
  /// Detached socket workers still running (client sessions, peer handshakes, diallers): the VM
  /// waits for them before its actor system goes, since they talk to its actors (under `mutex`).
  unsigned workers = 0;
  std::condition_variable workers_done;
};

/// Runs `fn(args...)` on a detached worker thread counted in sh.workers; once the VM is stopping,
/// runs nothing and returns false (the arguments are dropped; a raw fd among them is the caller's to
/// close): the VM may already have waited for its workers and be tearing its actor system down.
template <class F, class... Args>
bool spawn_worker(const std::shared_ptr<session_shared>& sh, F fn, Args... args) {
  {
    std::lock_guard lock{sh->mutex};
    if (sh->ctx->stopping->load())
      return false;
    ++sh->workers;
  }
  std::thread{[sh, fn, ... args = std::move(args)]() mutable {
    fn(sh, std::move(args)...);
    std::lock_guard lock{sh->mutex};
    if (--sh->workers == 0)
      sh->workers_done.notify_all();
  }}.detach();
  return true;
}

/// Waits until every worker of `sh` has ended (they see `stopping` and their sockets' deadlines), at
/// most `limit`; false if some are still running then.
bool wait_for_workers(session_shared& sh, std::chrono::milliseconds limit);

using session_ptr = std::shared_ptr<session_shared>;

/// session_manager: accepts clients and counterparts (threads), peers_atom starts the links.
caf::behavior session_manager(caf::event_based_actor* self, session_ptr sh);

} // namespace joconde::vm::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(joconde::vm::detail::policy_verdict)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(joconde::vm::detail::peer_link_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(joconde::vm::sealed_content)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(joconde::vm::detail::mpc_outcome)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(joconde::vm::detail::sealed_map)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(joconde::vm::detail::index_map)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(joconde::vm::detail::fd_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(joconde::enclave::evidence)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(joconde::enclave::claims)
