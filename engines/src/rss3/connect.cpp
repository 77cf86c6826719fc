// Setting up an rss3 party: sockets (the lower index listens, the higher connects), channel
// authentication and the pairwise PRG seeds. The greeting on each connection (dialler D, listener L,
// pair key k, fresh 16-byte nonces n_L and n_D):
//   D -> L  D's index, n_D
//   L -> D  n_L, HMAC(k, label 'L' L D n_L n_D)
//   D -> L  HMAC(k, label 'D' L D n_L n_D)      (only if L's proof is right; else: key mismatch)
//   L -> D  1                                    (D's proof is right: the connection is party D's)
// so a connection takes a party's place only once it has proven it holds that pair's key; the
// listener greets a few connections at once and never lets one that fails end the run.

#include "joconde/engines/rss3/party.hpp"
#include "joconde/engines/rss3/rss3.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string_view>
#include <thread>
#include <tuple>

namespace joconde::engines::rss3 {

namespace {

/// Random bytes each party contributes to a pair's session.
constexpr std::size_t session_nonce_bytes = 16;

/// A pair's session: the listener's nonce, then the dialler's.
using session_bytes = std::array<std::uint8_t, 2 * session_nonce_bytes>;

/// The dialler's greeting: its party index, then its nonce.
constexpr std::size_t hello_bytes = 1 + session_nonce_bytes;

/// A key proof: HMAC-SHA256 under the pair key.
constexpr std::size_t proof_bytes = 32;
using key_proof = std::array<std::uint8_t, proof_bytes>;

/// Who computes a proof; the two sides' proofs differ, so one cannot be reflected as the other.
constexpr std::uint8_t listener_role = 'L';
constexpr std::uint8_t dialler_role = 'D';

/// The listener's last greeting byte: the dialler's proof is good and it has the party's place.
constexpr std::uint8_t proof_accepted = 1;

/// The dialler's pause after its first failed attempt, doubled after each further one.
constexpr std::chrono::milliseconds first_backoff{50};
constexpr std::chrono::milliseconds last_backoff{1000};

/// Connections accepted per wake-up of the listening loop, so a flood of new connections cannot
/// starve the ones already being greeted.
constexpr int accepts_per_wakeup = 16;

using clock = std::chrono::steady_clock;

/// A socket closed on scope exit unless released.
class fd_guard {
public:
  explicit fd_guard(int fd = -1) : fd_(fd) {
    // nop
  }
  ~fd_guard() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd) {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = fd;
  }

private:
  int fd_;
};

error failure(errc code, unsigned self, const std::string& what) {
  return fail(code, "rss3 party " + std::to_string(self) + ": " + what);
}

int remaining_ms(clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
  return static_cast<int>(std::max<long long>(left, 0));
}

void tune(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  int buffer = 4 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof(buffer));
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof(buffer));
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

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

/// Writes or reads exactly `n` bytes on a non-blocking socket before `deadline`.
bool transfer(int fd, std::uint8_t* p, std::size_t n, bool out, clock::time_point deadline) {
  while (n > 0) {
    ssize_t k = out ? ::send(fd, p, n, MSG_NOSIGNAL) : ::recv(fd, p, n, 0);
    if (k > 0) {
      p += k;
      n -= static_cast<std::size_t>(k);
      continue;
    }
    if (k == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
      return false;
    pollfd pfd{fd, static_cast<short>(out ? POLLOUT : POLLIN), 0};
    if (::poll(&pfd, 1, remaining_ms(deadline)) == 0)
      return false;
  }
  return true;
}

/// Opens one TCP connection to `ep`, trying each of its addresses once; the socket, or -1 with
/// `why` set.
int connect_once(const party_endpoint& ep, clock::time_point deadline, std::string& why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  std::string port = std::to_string(ep.port);
  addrinfo* list = nullptr;
  int rc = ::getaddrinfo(ep.host.c_str(), port.c_str(), &hints, &list);
  if (rc != 0) {
    why = std::string{"cannot resolve "} + ep.host + ": " + ::gai_strerror(rc);
    return -1;
  }
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    fd_guard fd{::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol)};
    if (fd.get() < 0)
      continue;
    tune(fd.get());
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
      why = std::strerror(errno);
      continue;
    }
    pollfd pfd{fd.get(), POLLOUT, 0};
    int err = ETIMEDOUT;
    socklen_t len = sizeof(err);
    if (::poll(&pfd, 1, std::min(remaining_ms(deadline), 1000)) == 1)
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err == 0) {
      ::freeaddrinfo(list);
      return fd.release();
    }
    why = std::strerror(err);
  }
  ::freeaddrinfo(list);
  return -1;
}

/// What came of dialling a lower-numbered party.
enum class dial_outcome { connected, key_mismatch, timed_out, crypto_failure };

/// Connects to the lower-numbered party `j` and exchanges key proofs with it. A connection that is
/// refused, or closed before the listener accepts our proof (it is not up yet, or was busy with
/// other connections), is retried with backoff until `deadline`. A wrong proof from the listener is
/// not retried: only a party holding another key can send one (or an attacker on the path, who
/// could cut the connection anyway).
dial_outcome dial_party(unsigned self, unsigned j, const options& opts, clock::time_point deadline,
                        fd_guard& out, session_bytes& session, std::string& why) {
  auto backoff = first_backoff;
  for (;;) {
    fd_guard fd{connect_once(opts.endpoints[j], deadline, why)};
    if (fd.get() >= 0) {
      std::array<std::uint8_t, hello_bytes> hello{};
      hello[0] = static_cast<std::uint8_t>(self);
      if (RAND_bytes(hello.data() + 1, static_cast<int>(session_nonce_bytes)) != 1)
        return dial_outcome::crypto_failure;
      std::array<std::uint8_t, session_nonce_bytes + proof_bytes> reply{};
      if (transfer(fd.get(), hello.data(), hello.size(), true, deadline)
          && transfer(fd.get(), reply.data(), reply.size(), false, deadline)) {
        std::memcpy(session.data(), reply.data(), session_nonce_bytes);
        std::memcpy(session.data() + session_nonce_bytes, hello.data() + 1, session_nonce_bytes);
        key_proof theirs{};
        key_proof mine{};
        if (!prove(opts.keys[j], listener_role, j, self, session, theirs)
            || !prove(opts.keys[j], dialler_role, j, self, session, mine))
          return dial_outcome::crypto_failure;
        if (CRYPTO_memcmp(theirs.data(), reply.data() + session_nonce_bytes, proof_bytes) != 0)
          return dial_outcome::key_mismatch;
        std::uint8_t ack = 0;
        if (transfer(fd.get(), mine.data(), mine.size(), true, deadline)
            && transfer(fd.get(), &ack, 1, false, deadline) && ack == proof_accepted) {
          out.reset(fd.release());
          return dial_outcome::connected;
        }
      }
      why = clock::now() >= deadline ? "it accepted the connection but did not finish the greeting"
                                     : "it closed the connection during the greeting";
    }
    if (clock::now() >= deadline)
      return dial_outcome::timed_out;
    std::this_thread::sleep_for(std::min<clock::duration>(backoff, deadline - clock::now()));
    backoff = std::min(2 * backoff, last_backoff);
  }
}

int listen_on(const party_endpoint& ep, std::string& why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* list = nullptr;
  std::string port = std::to_string(ep.port);
  int rc = ::getaddrinfo(ep.host.empty() ? nullptr : ep.host.c_str(), port.c_str(), &hints, &list);
  if (rc != 0) {
    why = std::string{"cannot resolve "} + ep.host + ": " + ::gai_strerror(rc);
    return -1;
  }
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    fd_guard fd{::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol)};
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd.get() >= 0 && ::bind(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd.get(), 8) == 0) {
      ::freeaddrinfo(list);
      return fd.release();
    }
    why = std::strerror(errno);
  }
  ::freeaddrinfo(list);
  return -1;
}

/// A connection accepted but not yet proven, with fixed buffers only: a listener spends no more
/// than this on a peer it has not authenticated.
struct pending_connection {
  fd_guard fd;
  clock::time_point deadline;
  bool proving = false;      // answered its hello; waiting for its key proof
  std::size_t received = 0;  // bytes of the hello, or of the proof, read so far
  std::array<std::uint8_t, hello_bytes> hello{};
  session_bytes session{};
  key_proof proof{};
};

/// The listening side of open_links. The dialler sends its index and nonce; the listener answers
/// with its own nonce and its proof; the dialler answers with its proof, and the listener, once
/// that proof checks out, sends one byte and gives the connection the party's place. Up to
/// max_pending_connections connections are greeted at once (poll), each within greeting_timeout;
/// anything else is closed and counted, and never makes the run fail.
class acceptor {
public:
  acceptor(unsigned self, const options& opts, int listener, clock::time_point deadline,
           std::array<fd_guard, 3>& peers, std::array<session_bytes, 3>& sessions)
    : self_(self), opts_(opts), listener_(listener), deadline_(deadline), peers_(peers),
      sessions_(sessions) {
    // nop
  }

  /// Runs until every higher-numbered party has proven its key, or the connect deadline passes.
  result<void> run() {
    while (missing() > 0) {
      auto now = clock::now();
      for (auto& p : pending_)
        if (p.fd.get() >= 0 && now >= p.deadline)
          refuse(p, report_.too_slow);
      if (now >= deadline_)
        return give_up();
      std::array<pollfd, 1 + max_pending_connections> fds{};
      std::array<pending_connection*, 1 + max_pending_connections> owners{};
      nfds_t count = 0;
      fds[count++] = pollfd{listener_, POLLIN, 0};
      auto wake = deadline_;
      for (auto& p : pending_)
        if (p.fd.get() >= 0) {
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

  /// The connections refused so far.
  const accept_report& report() const noexcept { return report_; }

private:
  unsigned missing() const {
    unsigned n = 0;
    for (unsigned j = self_ + 1; j < 3; ++j)
      n += peers_[j].get() < 0 ? 1 : 0;
    return n;
  }

  void refuse(pending_connection& p, unsigned& reason) {
    p.fd.reset(-1);
    ++reason;
  }

  error no_crypto() const {
    return failure(errc::crypto_failure, self_, "no random session nonce or key proof (OpenSSL failed)");
  }

  /// Accepts what is queued on the listener; false only when this party's OpenSSL fails.
  bool accept_new() {
    for (int n = 0; n < accepts_per_wakeup; ++n) {
      int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) {
        if (errno == ECONNABORTED || errno == EINTR)
          continue;
        return true;
      }
      auto slot = std::find_if(pending_.begin(), pending_.end(),
                               [](const pending_connection& p) { return p.fd.get() < 0; });
      if (slot == pending_.end()) {
        ::close(fd);
        ++report_.over_limit;
        continue;
      }
      slot->fd.reset(fd);
      slot->deadline = std::min(clock::now() + greeting_timeout, deadline_);
      slot->proving = false;
      slot->received = 0;
      if (!advance(*slot))
        return false;
    }
    return true;
  }

  /// Reads what `p` has sent and moves its greeting on; false only when OpenSSL fails.
  bool advance(pending_connection& p) {
    while (p.fd.get() >= 0) {
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
      if (!p.proving && peers_[id].get() >= 0) {
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
  bool answer(pending_connection& p) {
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
  bool check(pending_connection& p) {
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
    if (peers_[id].get() >= 0) {
      refuse(p, report_.party_taken);
      return true;
    }
    if (::send(p.fd.get(), &proof_accepted, 1, MSG_NOSIGNAL) != 1) {
      refuse(p, report_.hung_up);
      return true;
    }
    tune(p.fd.get());
    peers_[id].reset(p.fd.release());
    sessions_[id] = p.session;
    return true;
  }

  /// The error once the connect deadline has passed. Connections announcing a missing party that
  /// failed its proof point to a key mismatch (or to someone posing as that party): either way
  /// the run could not have gone on, and the message says which.
  error give_up() {
    for (auto& p : pending_)
      if (p.fd.get() >= 0)
        refuse(p, report_.too_slow);
    std::string within = " within " + std::to_string(opts_.connect_timeout.count()) + " ms";
    std::string missing_parties;
    for (unsigned j = self_ + 1; j < 3; ++j) {
      if (peers_[j].get() >= 0)
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

  unsigned self_;
  const options& opts_;
  int listener_;
  clock::time_point deadline_;
  std::array<fd_guard, 3>& peers_;
  std::array<session_bytes, 3>& sessions_;
  std::array<pending_connection, max_pending_connections> pending_;
  accept_report report_;
  // Connections that announced party j and then failed (or fled) its key proof, by j.
  std::array<unsigned, 3> claims_failed_{};
};

} // namespace

unsigned accept_report::total() const noexcept {
  return bad_party_id + party_taken + failed_proof + hung_up + too_slow + over_limit;
}

std::vector<std::pair<std::string, unsigned>> accept_report::by_reason() const {
  std::vector<std::pair<std::string, unsigned>> out;
  for (const auto& [reason, count] : {std::pair{"bad-party-id", bad_party_id}, std::pair{"party-taken", party_taken},
                                      std::pair{"failed-proof", failed_proof}, std::pair{"hung-up", hung_up},
                                      std::pair{"too-slow", too_slow}, std::pair{"over-limit", over_limit}})
    if (count > 0)
      out.emplace_back(reason, count);
  return out;
}

std::string accept_report::describe() const {
  unsigned n = total();
  if (n == 0)
    return "no connection refused";
  std::string out = std::to_string(n) + (n == 1 ? " connection" : " connections") + " refused:";
  const char* separator = " ";
  auto add = [&](unsigned count, const std::string& why) {
    if (count == 0)
      return;
    out += separator + std::to_string(count) + " " + why;
    separator = ", ";
  };
  add(bad_party_id, "bad party id");
  add(party_taken, "party already connected");
  add(failed_proof, "failed authentication");
  add(hung_up, "hung up during the greeting");
  add(too_slow, "too slow");
  add(over_limit, "over the limit of " + std::to_string(max_pending_connections) + " pending");
  return out;
}

links::~links() {
  OPENSSL_cleanse(own.data(), own.size());
  OPENSSL_cleanse(successor.data(), successor.size());
}

result<links> open_links(const options& opts) {
  const unsigned self = opts.party;
  fd_guard listener{opts.listen_fd};
  if (self > 2 || opts.endpoints.size() != 3 || opts.keys.size() != 3)
    return fail(errc::invalid_config, "rss3 connect needs a party index 0 to 2 and 3 endpoints and "
                                      "3 keys, got party " + std::to_string(self) + ", "
                                        + std::to_string(opts.endpoints.size()) + " endpoints, "
                                        + std::to_string(opts.keys.size()) + " keys");
  auto deadline = clock::now() + opts.connect_timeout;
  std::array<fd_guard, 3> peers;
  std::string why;
  if (self < 2 && listener.get() < 0) {
    listener.reset(listen_on(opts.endpoints[self], why));
    if (listener.get() < 0)
      return failure(errc::io_error, self, "cannot listen on " + opts.endpoints[self].host + ":"
                                             + std::to_string(opts.endpoints[self].port) + ": " + why);
  }
  // Each pair's session: the lower index's random nonce, then the higher index's; the channel
  // keys are derived from it, so they are fresh in every session even when a key is given twice.
  std::array<session_bytes, 3> sessions{};
  // Connect to every lower index. A key mismatch is reported only after the higher indices have
  // been accepted, so that they learn of the failure at once (their channels to us close) instead
  // of waiting for us until their deadline.
  std::optional<unsigned> mismatch;
  for (unsigned j = 0; j < self; ++j) {
    switch (dial_party(self, j, opts, deadline, peers[j], sessions[j], why)) {
      case dial_outcome::connected:
        break;
      case dial_outcome::key_mismatch:
        mismatch = mismatch.value_or(j);
        break;
      case dial_outcome::crypto_failure:
        return failure(errc::crypto_failure, self, "no random session nonce or key proof (OpenSSL failed)");
      case dial_outcome::timed_out:
        return failure(errc::timeout, self, "cannot reach party " + std::to_string(j) + " at "
                                              + opts.endpoints[j].host + ":"
                                              + std::to_string(opts.endpoints[j].port) + " within "
                                              + std::to_string(opts.connect_timeout.count()) + " ms ("
                                              + why + ")");
    }
  }
  // Accept every higher index.
  if (self < 2) {
    ::fcntl(listener.get(), F_SETFL, ::fcntl(listener.get(), F_GETFL) | O_NONBLOCK);
    acceptor incoming{self, opts, listener.get(), deadline, peers, sessions};
    auto accepted = incoming.run();
    if (opts.report)
      *opts.report = incoming.report();
    if (!accepted && !mismatch)
      return accepted.err();
  }
  if (mismatch)
    return failure(errc::protocol_error, self,
                   "channel key mismatch with party " + std::to_string(*mismatch)
                     + ": its key proof fails authentication; check that both parties got the same key");
  listener.reset(-1);
  unsigned next = (self + 1) % 3;
  unsigned prev = (self + 2) % 3;
  try {
    links out;
    out.to_next = std::make_unique<channel>(peers[next].release(), self, next, opts.keys[next],
                                            sessions[next]);
    out.to_prev = std::make_unique<channel>(peers[prev].release(), self, prev, opts.keys[prev],
                                            sessions[prev]);
    auto io = std::min(opts.io_timeout, std::max(opts.connect_timeout, std::chrono::milliseconds(1)));
    std::array<channel*, 2> both{out.to_next.get(), out.to_prev.get()};
    try {
      handshake(both, io);
      // Party i draws k_i and gives it to party i-1, so that each party holds k_i and k_(i+1).
      out.own = random_seed();
      std::array<word, 2> mine{};
      std::array<word, 2> theirs{};
      std::memcpy(mine.data(), out.own.data(), out.own.size());
      std::array<send_job, 1> sends{send_words(out.to_prev.get(), mine.data(), 2)};
      std::array<recv_job, 1> recvs{receive_words(out.to_next.get(), theirs.data(), 2)};
      exchange(sends, recvs, io);
      std::memcpy(out.successor.data(), theirs.data(), out.successor.size());
      OPENSSL_cleanse(mine.data(), sizeof(mine));
      OPENSSL_cleanse(theirs.data(), sizeof(theirs));
      return out;
    } catch (const engine_failure&) {
      out.to_next->close();
      out.to_prev->close();
      throw;
    }
  } catch (const engine_failure& e) {
    return e.err();
  }
}

result<std::unique_ptr<backend>> connect(options opts) {
  auto l = open_links(opts);
  // The channels hold their derived keys; the caller's copies are not needed any more.
  for (auto& key : opts.keys)
    OPENSSL_cleanse(key.data(), key.size());
  if (!l)
    return l.err();
  return std::unique_ptr<backend>{std::make_unique<party_backend>(
    opts.party, std::move(l->to_next), std::move(l->to_prev), l->own, l->successor, opts.io_timeout)};
}

} // namespace joconde::engines::rss3
