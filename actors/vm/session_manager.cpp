// The counterpart links of a CT VM's session manager (session_manager.hpp): the counterparts with a
// higher CP index are accepted on the peer port, those with a lower one are dialled; each link is
// attested, handed to the orchestrator through the peer_link_exchange and read until it breaks. The
// client endpoint is in client_sessions.cpp.

#include "session_manager.hpp"

#include "peer_links.hpp"

#include "joconde/io/stream.hpp"
#include "joconde/messages/caf_error.hpp"
#include "joconde/runtime/log.hpp"
#include "joconde/runtime/vm_metrics.hpp"

#include <caf/scoped_actor.hpp>

#include <openssl/crypto.h>

#include <fcntl.h>
#include <sys/socket.h>

#include <algorithm>
#include <optional>

namespace joconde::vm::detail {

namespace {

constexpr const char* component = "vm";

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

/// Reads one counterpart's control messages until the link breaks. Silence is normal (a long
/// calculation sends no control message for minutes): only a closed or broken link ends it.
void read_peer(session_ptr sh, peer_link_ptr link) {
  caf::scoped_actor self{sh->orchestrator.home_system()};
  for (;;) {
    auto msg = link->stream.receive(1024 * 1024);
    if (!msg && msg.err().code == errc::timeout && link->stream.is_open() && !sh->ctx->stopping->load())
      continue;
    if (!msg) {
      if (!sh->ctx->stopping->load())
        self->send(sh->orchestrator, peer_down_atom::value, link->cp, msg.err().describe());
      return;
    }
    self->send(sh->orchestrator, peer_atom::value, link->cp, to_string(*msg));
  }
}

// -- counterpart links --

/// How many connections on the peer port may be between accept and the end of their attested
/// handshake at once; more are closed at once. Until a connection proves it is a counterpart it gets
/// no more than this budget.
constexpr unsigned max_peer_handshakes = 8;

/// How many of those may come from one source address (a real counterpart has one at a time).
constexpr unsigned max_peer_handshakes_per_source = 4;

/// How long a connection on the peer port may take for its whole attested handshake (a few round
/// trips and one evidence each way) before its slot is given back; the dialler retries meanwhile.
constexpr std::chrono::milliseconds longest_handshake{10'000};

/// How long a fresh connection on the peer port has to announce its 4-byte CP index.
constexpr std::chrono::milliseconds greeting_timeout{3000};

/// The dialling side's first and longest pause between two attempts.
constexpr std::chrono::milliseconds first_backoff{100};
constexpr std::chrono::milliseconds longest_backoff{2000};

/// How many refusals of each reason are logged at info level; later ones only at debug level (an
/// attacker can cause them as fast as it connects), while the metric goes on counting.
constexpr double logged_refusals = 16;

/// Counts and logs a connection on the peer port that does not become a counterpart's link.
void refuse_peer(const vm_context& ctx, const std::string& reason, const std::string& detail) {
  auto& counter = ctx.metrics->peer_refused(reason);
  counter.Increment();
  auto line = "connection on the peer port refused (" + reason + "): " + detail;
  if (counter.Value() <= logged_refusals)
    log::info(component, line);
  else
    log::debug(component, line);
}

/// Runs the attested handshake with counterpart `peer` over `fd` (closed on failure): the session
/// proves the far end is the CT VM of CP `peer` of this CT. A failure is counted.
result<enclave::peer_session> attest_peer(const session_shared& sh, io::unique_fd fd, unsigned peer) {
  auto& ctx = *sh.ctx;
  auto s = enclave::connect_peer(fd.release(), peer_settings(ctx, sh.attester.get(), sh.verifier.get(), peer),
                                 std::min(ctx.options.peer_timeout, longest_handshake));
  if (!s)
    ctx.metrics->attestation_failures("peer-" + std::string{to_string(s.err().code)}).Increment();
  return s;
}

/// Hands the attested link with `peer` to the orchestrator and reads it until it breaks.
void serve_link(session_ptr sh, enclave::peer_session s, unsigned peer, const std::string& mpc_address) {
  auto link = std::make_shared<peer_link>(peer, std::move(s.stream), s.mpc_key);
  OPENSSL_cleanse(s.mpc_key.data(), s.mpc_key.size());
  sh->ctx->links->put(link);
  {
    caf::scoped_actor self{sh->orchestrator.home_system()};
    self->send(sh->orchestrator, peer_up_atom::value, peer, mpc_address);
  }
  read_peer(sh, link);
}

/// The CP index a connection on the peer port announces, read before the greeting deadline; a
/// connection that is silent, too slow or closes first is refused.
std::optional<unsigned> read_greeting(const session_shared& sh, int fd, const std::string& from,
                                     const std::atomic<bool>& evicted) {
  auto wait = std::min(greeting_timeout, sh.ctx->options.peer_timeout);
  std::uint8_t idx[4];
  const auto deadline = std::chrono::steady_clock::now() + wait;
  if (auto r = io::read_exact(fd, idx, io::until(deadline), from); !r) {
    if (!evicted.load())
      refuse_peer(*sh.ctx, "greeting",
                  r.err().code == errc::timeout
                    ? "no CP index from " + from + " within " + std::to_string(wait.count()) + " ms"
                    : "no CP index from " + from + ": it closed the connection first");
    return std::nullopt;
  }
  return (unsigned{idx[0]} << 24) | (unsigned{idx[1]} << 16) | (unsigned{idx[2]} << 8) | idx[3];
}

/// Serves one accepted connection on the peer port: its CP index, then the attested handshake with
/// that counterpart. Only a connection whose handshake succeeds takes the counterpart off the
/// waiting list (the first to succeed wins), so an unauthenticated connection announcing a
/// counterpart's index never takes its place.
void accept_peer(session_ptr sh, io::unique_fd fd, std::set<unsigned> expected, index_map mpc,
                 std::uint64_t slot, std::shared_ptr<std::atomic<bool>> evicted) {
  auto from = net::peer_address(fd.get());
  auto attested = [&]() -> std::optional<std::pair<unsigned, enclave::peer_session>> {
    auto cp = read_greeting(*sh, fd.get(), from, *evicted);
    if (!cp)
      return std::nullopt;
    if (evicted->load())
      return std::nullopt; // counted when it was evicted
    auto who = "cp-" + std::to_string(*cp) + " announced by " + from;
    if (!expected.count(*cp)) {
      refuse_peer(*sh->ctx, "unknown-index", who + " is not a counterpart this VM accepts");
      return std::nullopt;
    }
    {
      std::lock_guard lock{sh->mutex};
      if (sh->established.count(*cp)) {
        refuse_peer(*sh->ctx, "established", who + ": its link is up already");
        return std::nullopt;
      }
    }
    auto s = attest_peer(*sh, std::move(fd), *cp);
    if (!s) {
      if (!evicted->load())
        refuse_peer(*sh->ctx, "handshake", who + ": " + s.err().describe());
      return std::nullopt;
    }
    return std::pair{*cp, std::move(*s)};
  }();
  {
    std::lock_guard lock{sh->mutex};
    sh->handshakes.erase(slot);
  }
  if (!attested)
    return;
  auto& [cp, session] = *attested;
  bool first = false;
  {
    std::lock_guard lock{sh->mutex};
    first = sh->established.insert(cp).second;
  }
  if (!first) {
    OPENSSL_cleanse(session.mpc_key.data(), session.mpc_key.size());
    refuse_peer(*sh->ctx, "duplicate", "cp-" + std::to_string(cp) + " from " + from
                                         + ": another connection of it completed its handshake first");
    return;
  }
  serve_link(sh, std::move(session), cp, mpc.count(cp) ? mpc.at(cp) : std::string{});
}

/// True once every counterpart of `expected` has an attested link accepted here.
bool all_established(session_shared& sh, const std::set<unsigned>& expected) {
  std::lock_guard lock{sh.mutex};
  return std::includes(sh.established.begin(), sh.established.end(), expected.begin(), expected.end());
}

/// Takes a handshake slot for a connection from `source` (a duplicate of its socket in `dup`), or
/// says why not. When every slot is taken, the oldest connection in handshake gives way: its socket
/// is shut down (its worker's reads fail) and it is counted as evicted. Under sh.mutex.
std::optional<std::string> take_handshake_slot(session_shared& sh, io::unique_fd& dup, const std::string& source,
                                               std::uint64_t& slot, std::shared_ptr<std::atomic<bool>>& evicted) {
  unsigned same = 0;
  for (const auto& [id, h] : sh.handshakes)
    same += h.source == source ? 1 : 0;
  if (same >= max_peer_handshakes_per_source)
    return "source-busy";
  if (sh.handshakes.size() >= max_peer_handshakes) {
    auto oldest = std::min_element(sh.handshakes.begin(), sh.handshakes.end(),
                                   [](const auto& a, const auto& b) { return a.second.since < b.second.since; });
    if (oldest == sh.handshakes.end())
      return "busy";
    oldest->second.evicted->store(true);
    ::shutdown(oldest->second.fd.get(), SHUT_RDWR);
    refuse_peer(*sh.ctx, "evicted", oldest->second.source + ": in handshake for "
                                      + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                         std::chrono::steady_clock::now() - oldest->second.since)
                                                         .count())
                                      + " ms when every slot was taken");
    sh.handshakes.erase(oldest);
  }
  slot = sh.next_handshake++;
  evicted = std::make_shared<std::atomic<bool>>(false);
  sh.handshakes[slot] = {std::move(dup), source, std::chrono::steady_clock::now(), evicted};
  return std::nullopt;
}

/// Accepts the counterparts with a higher CP index (`expected`) on the peer port until each has an
/// attested link or the VM stops. It never reads a connection itself (one silent connection must not
/// hold up the others): each goes to its own worker, at most max_peer_handshakes at once (at most
/// max_peer_handshakes_per_source from one address; each for at most longest_handshake), the oldest
/// giving way to a newcomer when all are taken.
void accept_peers(session_ptr sh, std::set<unsigned> expected, index_map mpc) {
  while (!sh->ctx->stopping->load() && !all_established(*sh, expected)) {
    auto fd = accept_for(sh->peer_listener.get(), 200);
    if (!fd.valid())
      continue;
    auto source = net::peer_address(fd.get());
    io::unique_fd dup{::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0)};
    if (!dup.valid()) {
      refuse_peer(*sh->ctx, "busy", source + ": out of file descriptors");
      continue;
    }
    std::uint64_t slot = 0;
    std::shared_ptr<std::atomic<bool>> evicted;
    std::optional<std::string> refusal;
    {
      std::lock_guard lock{sh->mutex};
      refusal = take_handshake_slot(*sh, dup, source, slot, evicted);
    }
    if (refusal) {
      refuse_peer(*sh->ctx, *refusal, source + ": " + std::to_string(max_peer_handshakes_per_source)
                                        + " connections from it in handshake already");
      continue;
    }
    spawn_worker(sh, accept_peer, std::move(fd), expected, mpc, slot, evicted);
  }
}

/// Dials counterpart `peer` (a lower CP index) at `at`, announces this VM's CP index and runs the
/// attested handshake; again after each failure (a pause of 100 ms, doubling up to 2 s) until the peer
/// timeout has passed since the first attempt. Only then does the orchestrator hear the counterpart
/// is lost.
void dial_peer(session_ptr sh, address at, unsigned peer, std::string mpc_address) {
  using steady = std::chrono::steady_clock;
  auto& ctx = *sh->ctx;
  const auto own = ctx.options.cp_index;
  const std::uint8_t idx[4] = {static_cast<std::uint8_t>(own >> 24), static_cast<std::uint8_t>(own >> 16),
                               static_cast<std::uint8_t>(own >> 8), static_cast<std::uint8_t>(own)};
  const auto until = steady::now() + ctx.options.peer_timeout;
  auto pause = first_backoff;
  std::string why;
  for (unsigned attempt = 1;; ++attempt) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - steady::now());
    auto fd = connect_to(at, std::max(left, std::chrono::milliseconds{1}), *ctx.stopping);
    if (!fd) {
      why = fd.err().describe();
    } else if (!io::write_all(fd->get(), idx, io::io_budget{}, at.text())) {
      why = "the connection to " + at.text() + " broke before this VM announced its CP index";
    } else if (auto s = attest_peer(*sh, std::move(*fd), peer); !s) {
      why = s.err().describe();
    } else {
      serve_link(sh, std::move(*s), peer, mpc_address);
      return;
    }
    if (ctx.stopping->load())
      return;
    if (steady::now() + pause >= until)
      break;
    log::info(component, "counterpart cp-" + std::to_string(peer) + ", attempt " + std::to_string(attempt)
                            + " failed, again in " + std::to_string(pause.count()) + " ms: " + why);
    for (auto slept = std::chrono::milliseconds{0}; slept < pause && !ctx.stopping->load();
         slept += std::chrono::milliseconds{50})
      std::this_thread::sleep_for(std::min(std::chrono::milliseconds{50}, pause - slept));
    pause = std::min(pause * 2, longest_backoff);
  }
  log::warning(component, "counterpart cp-" + std::to_string(peer) + " lost: " + why);
  caf::scoped_actor self{sh->orchestrator.home_system()};
  self->send(sh->orchestrator, peer_down_atom::value, peer, why);
}

/// Starts the links to the counterparts at `peer_addresses` (once): accepts those above this CP's
/// index, dials those below. What the VM does, or malformed_input for an address that is not
/// host:port.
caf::result<std::string> connect_counterparts(const session_ptr& sh, const index_map& peer_addresses,
                                              const index_map& mpc) {
  {
    std::lock_guard lock{sh->mutex};
    if (sh->peers_given)
      return std::string{"peers known already"};
    sh->peers_given = true;
  }
  auto own = sh->ctx->options.cp_index;
  for (auto& [cp, a] : peer_addresses) {
    if (cp == own || cp >= sh->ctx->parties)
      continue;
    auto addr = parse_address(a);
    if (!addr)
      return make_error(errc::malformed_input, addr.err().message);
  }
  // Accept the counterparts above, dial those below.
  std::set<unsigned> expected;
  for (auto& [cp, a] : peer_addresses)
    if (cp > own && cp < sh->ctx->parties)
      expected.insert(cp);
  if (!expected.empty())
    sh->threads.emplace_back(accept_peers, sh, expected, mpc);
  for (auto& [cp, a] : peer_addresses) {
    if (cp >= own)
      continue;
    auto mpc_address = mpc.count(cp) ? mpc.at(cp) : std::string{};
    spawn_worker(sh, dial_peer, *parse_address(a), cp, mpc_address);
  }
  return std::string{"connecting to counterparts"};
}

} // namespace

bool wait_for_workers(session_shared& sh, std::chrono::milliseconds limit) {
  std::unique_lock lock{sh.mutex};
  return sh.workers_done.wait_for(lock, limit, [&] { return sh.workers == 0; });
}

session_manager_actor::behavior_type session_manager(session_manager_actor::pointer self, session_ptr sh) {
  // Accept loops: clients, and counterparts with a higher CP index (they connect to the lower).
  sh->threads.emplace_back(accept_clients, sh);
  self->attach_functor([sh] {
    sh->ctx->stopping->store(true);
    for (auto& t : sh->threads)
      if (t.joinable())
        t.join();
  });
  return {
    [=](peers_atom, const std::map<std::uint32_t, std::string>& peer_addresses,
        const std::map<std::uint32_t, std::string>& mpc) -> caf::result<std::string> {
      return connect_counterparts(sh, peer_addresses, mpc);
    },
  };
}

} // namespace joconde::vm::detail
