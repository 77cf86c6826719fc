// Setting up an rss3 party: sockets (the lower index listens, the higher connects), channel
// authentication and the pairwise PRG seeds.

#include "joconde/engines/rss3/party.hpp"
#include "joconde/engines/rss3/rss3.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <thread>

namespace joconde::engines::rss3 {

namespace {

/// Random bytes each party contributes to a pair's session.
constexpr std::size_t session_nonce_bytes = 16;

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

/// Connects to `host:port`, retrying until `deadline`; the socket or -1 with `why` set.
int dial(const party_endpoint& ep, clock::time_point deadline, std::string& why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  std::string port = std::to_string(ep.port);
  for (;;) {
    addrinfo* list = nullptr;
    int rc = ::getaddrinfo(ep.host.c_str(), port.c_str(), &hints, &list);
    if (rc != 0) {
      why = std::string{"cannot resolve "} + ep.host + ": " + ::gai_strerror(rc);
    } else {
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
    }
    if (clock::now() >= deadline)
      return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
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

} // namespace

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
  std::array<std::array<std::uint8_t, 2 * session_nonce_bytes>, 3> sessions{};
  auto nonce_into = [&](std::uint8_t* p) {
    return RAND_bytes(p, static_cast<int>(session_nonce_bytes)) == 1;
  };
  // Connect to every lower index and say who we are (the hello frame proves it).
  for (unsigned j = 0; j < self; ++j) {
    peers[j].reset(dial(opts.endpoints[j], deadline, why));
    std::uint8_t id = static_cast<std::uint8_t>(self);
    auto* mine = sessions[j].data() + session_nonce_bytes;
    if (!nonce_into(mine))
      return failure(errc::crypto_failure, self, "no random session nonce");
    if (peers[j].get() < 0 || !transfer(peers[j].get(), &id, 1, true, deadline)
        || !transfer(peers[j].get(), mine, session_nonce_bytes, true, deadline)
        || !transfer(peers[j].get(), sessions[j].data(), session_nonce_bytes, false, deadline))
      return failure(errc::timeout, self, "cannot reach party " + std::to_string(j) + " at "
                                            + opts.endpoints[j].host + ":"
                                            + std::to_string(opts.endpoints[j].port) + " within "
                                            + std::to_string(opts.connect_timeout.count())
                                            + " ms (" + why + ")");
  }
  // Accept every higher index.
  if (self < 2)
    ::fcntl(listener.get(), F_SETFL, ::fcntl(listener.get(), F_GETFL) | O_NONBLOCK);
  for (unsigned waiting = 2 - self; waiting > 0;) {
    pollfd pfd{listener.get(), POLLIN, 0};
    if (::poll(&pfd, 1, remaining_ms(deadline)) != 1)
      return failure(errc::timeout, self, "a higher-numbered party did not connect within "
                                            + std::to_string(opts.connect_timeout.count()) + " ms");
    fd_guard fd{::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC)};
    if (fd.get() < 0)
      continue;
    tune(fd.get());
    std::uint8_t id = 0xff;
    if (!transfer(fd.get(), &id, 1, false, deadline) || id <= self || id > 2 || peers[id].get() >= 0)
      return failure(errc::protocol_error, self, "a connection announced itself as party "
                                                   + std::to_string(id) + ", which is not expected here");
    auto& session = sessions[id];
    if (!nonce_into(session.data()))
      return failure(errc::crypto_failure, self, "no random session nonce");
    if (!transfer(fd.get(), session.data() + session_nonce_bytes, session_nonce_bytes, false, deadline)
        || !transfer(fd.get(), session.data(), session_nonce_bytes, true, deadline))
      return failure(errc::timeout, self, "party " + std::to_string(id)
                                            + " connected but did not finish its greeting");
    peers[id].reset(fd.release());
    --waiting;
  }
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
