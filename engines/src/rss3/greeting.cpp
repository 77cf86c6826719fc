#include "greeting.hpp"

#include "joconde/io/net.hpp"
#include "joconde/io/stream.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <thread>
#include <tuple>

namespace joconde::engines::rss3::detail {

namespace {

/// Who computes a proof; the two sides' proofs differ, so one cannot be reflected as the other.
constexpr std::uint8_t listener_role = 'L';
constexpr std::uint8_t dialler_role = 'D';

/// The listener's last greeting byte: the dialler's proof is good and it has the party's place.
constexpr std::uint8_t proof_accepted = 1;

/// The dialler's pause after its first failed attempt, doubled after each further one.
constexpr std::chrono::milliseconds first_backoff{50};
constexpr std::chrono::milliseconds last_backoff{1000};

/// The longest a dialler waits for one connection attempt before it tries again.
constexpr std::chrono::milliseconds longest_attempt{1000};

/// Connections accepted per wake-up of the listening loop, so a flood of new connections cannot
/// starve the ones already being greeted.
constexpr int accepts_per_wakeup = 16;

/// Milliseconds until `t` for poll, rounded up so that a wake-up is never early.
int wait_ms(clock::time_point t) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(t - clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 24 * 3600 * 1000));
}

/// Proves that the holder of `key` takes part, as `role`, in the session of parties `listener`
/// and `dialler`: HMAC-SHA256 over a label, the role, both indices and both nonces. Fresh nonces
/// on both sides make every proof good for one connection only.
bool prove(const channel_key& key, std::uint8_t role, unsigned listener, unsigned dialler,
           const session_bytes& session, key_proof& out) {
  constexpr std::string_view label = "joconde-rss3-key-proof-v1";
  std::array<std::uint8_t, label.size() + 3 + std::tuple_size_v<session_bytes>> message{};
  std::memcpy(message.data(), label.data(), label.size());
  message[label.size()] = role;
  message[label.size() + 1] = static_cast<std::uint8_t>(listener);
  message[label.size() + 2] = static_cast<std::uint8_t>(dialler);
  std::memcpy(message.data() + label.size() + 3, session.data(), session.size());
  unsigned int length = 0;
  return HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), message.data(), message.size(),
              out.data(), &length)
           != nullptr
         && length == out.size();
}

/// Opens one TCP connection to `ep` (each of its addresses once, within a second or what is left
/// of `deadline`) and tunes it; no descriptor, with `why` set, when that fails.
io::unique_fd connect_once(const party_endpoint& ep, clock::time_point deadline, std::string& why) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
  auto fd = net::connect_tcp({ep.host, ep.port},
                             std::clamp(left, std::chrono::milliseconds{1}, longest_attempt));
  if (!fd) {
    why = fd.err().message;
    return io::unique_fd{};
  }
  tune(fd->get());
  return std::move(*fd);
}

/// The dialler's side of the greeting on a fresh connection `fd` to party `j`; `connected` only
/// when the listener accepted our proof.
dial_outcome greet_listener(unsigned self, unsigned j, const options& opts, int fd,
                            clock::time_point deadline, session_bytes& session) {
  auto budget = io::until(deadline);
  auto peer = "rss3 party " + std::to_string(j);
  std::array<std::uint8_t, hello_bytes> hello{};
  hello[0] = static_cast<std::uint8_t>(self);
  if (RAND_bytes(hello.data() + 1, static_cast<int>(session_nonce_bytes)) != 1)
    return dial_outcome::crypto_failure;
  std::array<std::uint8_t, session_nonce_bytes + proof_bytes> reply{};
  if (!io::write_all(fd, hello, budget, peer) || !io::read_exact(fd, reply, budget, peer))
    return dial_outcome::timed_out;
  std::memcpy(session.data(), reply.data(), session_nonce_bytes);
  std::memcpy(session.data() + session_nonce_bytes, hello.data() + 1, session_nonce_bytes);
  key_proof theirs{};
  key_proof mine{};
  if (!prove(opts.keys[j], listener_role, j, self, session, theirs)
      || !prove(opts.keys[j], dialler_role, j, self, session, mine))
    return dial_outcome::crypto_failure;
  if (CRYPTO_memcmp(theirs.data(), reply.data() + session_nonce_bytes, proof_bytes) != 0)
    return dial_outcome::key_mismatch;
  std::array<std::uint8_t, 1> ack{};
  if (!io::write_all(fd, mine, budget, peer) || !io::read_exact(fd, ack, budget, peer)
      || ack[0] != proof_accepted)
    return dial_outcome::timed_out;
  return dial_outcome::connected;
}

} // namespace

error failure(errc code, unsigned self, const std::string& what) {
  return fail(code, "rss3 party " + std::to_string(self) + ": " + what);
}

void tune(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  int buffer = 4 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof(buffer));
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof(buffer));
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

dial_outcome dial_party(unsigned self, unsigned j, const options& opts, clock::time_point deadline,
                        io::unique_fd& out, session_bytes& session, std::string& why) {
  auto backoff = first_backoff;
  for (;;) {
    auto fd = connect_once(opts.endpoints[j], deadline, why);
    if (fd.valid()) {
      // timed_out here only means the greeting did not finish: try again below.
      auto outcome = greet_listener(self, j, opts, fd.get(), deadline, session);
      if (outcome == dial_outcome::connected)
        out = std::move(fd);
      if (outcome != dial_outcome::timed_out)
        return outcome;
      why = clock::now() >= deadline ? "it accepted the connection but did not finish the greeting"
                                     : "it closed the connection during the greeting";
    }
    if (clock::now() >= deadline)
      return dial_outcome::timed_out;
    std::this_thread::sleep_for(std::min<clock::duration>(backoff, deadline - clock::now()));
    backoff = std::min(2 * backoff, last_backoff);
  }
}

// -- acceptor ------------------------------------------------------------------------------------

acceptor::acceptor(unsigned self, const options& opts, int listener, clock::time_point deadline,
                   std::array<io::unique_fd, 3>& peers, std::array<session_bytes, 3>& sessions)
  : self_(self), opts_(opts), listener_(listener), deadline_(deadline), peers_(peers),
    sessions_(sessions) {
  // nop
}

result<void> acceptor::run() {
  while (missing() > 0) {
    auto now = clock::now();
    for (auto& p : pending_)
      if (p.fd.valid() && now >= p.deadline)
        refuse(p, report_.too_slow);
    if (now >= deadline_)
      return give_up();
    std::array<pollfd, 1 + max_pending_connections> fds{};
    std::array<pending_connection*, 1 + max_pending_connections> owners{};
    nfds_t count = 0;
    fds[count++] = pollfd{listener_, POLLIN, 0};
    auto wake = deadline_;
    for (auto& p : pending_)
      if (p.fd.valid()) {
        owners[count] = &p;
        fds[count++] = pollfd{p.fd.get(), POLLIN, 0};
        wake = std::min(wake, p.deadline);
      }
    if (::poll(fds.data(), count, wait_ms(wake)) < 0 && errno != EINTR)
      return failure(errc::io_error, self_, std::string{"poll failed: "} + std::strerror(errno));
    for (nfds_t k = 1; k < count; ++k)
      if (fds[k].revents != 0 && !advance(*owners[k]))
        return no_crypto();
    if (fds[0].revents != 0 && missing() > 0 && !accept_new())
      return no_crypto();
  }
  return ok();
}

unsigned acceptor::missing() const {
  unsigned n = 0;
  for (unsigned j = self_ + 1; j < 3; ++j)
    n += peers_[j].valid() ? 0 : 1;
  return n;
}

void acceptor::refuse(pending_connection& p, unsigned& reason) {
  p.fd.reset();
  ++reason;
}

error acceptor::no_crypto() const {
  return failure(errc::crypto_failure, self_, "no random session nonce or key proof (OpenSSL failed)");
}

/// Accepts what is queued on the listener; false only when this party's OpenSSL fails.
bool acceptor::accept_new() {
  for (int n = 0; n < accepts_per_wakeup; ++n) {
    io::unique_fd fd{::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK)};
    if (!fd.valid()) {
      if (errno == ECONNABORTED || errno == EINTR)
        continue;
      return true;
    }
    auto slot = std::find_if(pending_.begin(), pending_.end(),
                             [](const pending_connection& p) { return !p.fd.valid(); });
    if (slot == pending_.end()) {
      ++report_.over_limit;
      continue;
    }
    slot->fd = std::move(fd);
    slot->deadline = std::min(clock::now() + greeting_timeout, deadline_);
    slot->proving = false;
    slot->received = 0;
    if (!advance(*slot))
      return false;
  }
  return true;
}

/// Reads what `p` has sent and moves its greeting on; false only when OpenSSL fails. The reads are
/// incremental (never waiting): one slow peer must not hold up the others.
bool acceptor::advance(pending_connection& p) {
  while (p.fd.valid()) {
    std::uint8_t* into = p.proving ? p.proof.data() : p.hello.data();
    std::size_t want = p.proving ? p.proof.size() : p.hello.size();
    ssize_t k = ::recv(p.fd.get(), into + p.received, want - p.received, 0);
    if (k < 0 && errno == EINTR)
      continue;
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return true;
    if (k <= 0) {
      if (p.proving)
        ++claims_failed_[p.hello[0]];
      refuse(p, p.proving ? report_.failed_proof : report_.hung_up);
      return true;
    }
    p.received += static_cast<std::size_t>(k);
    unsigned id = p.hello[0];
    if (!p.proving && (id <= self_ || id > 2)) {
      refuse(p, report_.bad_party_id);
      return true;
    }
    if (!p.proving && peers_[id].valid()) {
      refuse(p, report_.party_taken);
      return true;
    }
    if (p.received < want)
      continue;
    if (!(p.proving ? check(p) : answer(p)))
      return false;
  }
  return true;
}

/// Answers a complete hello with this party's nonce and proof.
bool acceptor::answer(pending_connection& p) {
  unsigned id = p.hello[0];
  std::array<std::uint8_t, session_nonce_bytes + proof_bytes> reply{};
  if (RAND_bytes(reply.data(), static_cast<int>(session_nonce_bytes)) != 1)
    return false;
  std::memcpy(p.session.data(), reply.data(), session_nonce_bytes);
  std::memcpy(p.session.data() + session_nonce_bytes, p.hello.data() + 1, session_nonce_bytes);
  key_proof mine{};
  if (!prove(opts_.keys[id], listener_role, self_, id, p.session, mine))
    return false;
  std::memcpy(reply.data() + session_nonce_bytes, mine.data(), mine.size());
  // A new connection's send buffer takes these few bytes at once; if not, the peer is gone.
  if (::send(p.fd.get(), reply.data(), reply.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(reply.size())) {
    refuse(p, report_.hung_up);
    return true;
  }
  p.proving = true;
  p.received = 0;
  return true;
}

/// Checks a complete proof (in constant time) and gives its connection the party's place.
bool acceptor::check(pending_connection& p) {
  unsigned id = p.hello[0];
  key_proof expected{};
  if (!prove(opts_.keys[id], dialler_role, self_, id, p.session, expected))
    return false;
  bool good = CRYPTO_memcmp(expected.data(), p.proof.data(), expected.size()) == 0;
  OPENSSL_cleanse(expected.data(), expected.size());
  if (!good) {
    ++claims_failed_[id];
    refuse(p, report_.failed_proof);
    return true;
  }
  if (peers_[id].valid()) {
    refuse(p, report_.party_taken);
    return true;
  }
  if (::send(p.fd.get(), &proof_accepted, 1, MSG_NOSIGNAL) != 1) {
    refuse(p, report_.hung_up);
    return true;
  }
  tune(p.fd.get());
  peers_[id] = std::move(p.fd);
  sessions_[id] = p.session;
  return true;
}

/// The error once the connect deadline has passed. Connections announcing a missing party that
/// failed its proof point to a key mismatch (or to someone posing as that party): either way the
/// run could not have gone on, and the message says which.
error acceptor::give_up() {
  for (auto& p : pending_)
    if (p.fd.valid())
      refuse(p, report_.too_slow);
  std::string within = " within " + std::to_string(opts_.connect_timeout.count()) + " ms";
  std::string missing_parties;
  for (unsigned j = self_ + 1; j < 3; ++j) {
    if (peers_[j].valid())
      continue;
    if (claims_failed_[j] > 0)
      return failure(errc::protocol_error, self_,
                     "channel key mismatch with party " + std::to_string(j) + ": "
                       + std::to_string(claims_failed_[j]) + " connection(s) announcing party "
                       + std::to_string(j) + " failed authentication and none proved the key"
                       + within + "; check that both parties got the same key (or someone without "
                       + "it is posing as party " + std::to_string(j) + "); " + report_.describe());
    missing_parties += (missing_parties.empty() ? "party " : " and party ") + std::to_string(j);
  }
  bool both = missing() > 1;
  return failure(errc::timeout, self_, missing_parties + " did not connect and prove "
                                         + (both ? "their keys" : "its key") + within + "; "
                                         + report_.describe());
}

} // namespace joconde::engines::rss3::detail
