#pragma once

// Runs the three rss3 parties as three real processes on loopback (header-only, for the rss3 tests,
// the conformance suite and the engine benchmark). The parent creates three listening sockets on
// 127.0.0.1 (port 0) and random channel keys, forks one child per party; child i connects as party i,
// runs the test's function and sends back its bytes (or the error it caught) through a pipe. The
// parent waits a bounded time, kills what is left and reaps every child.

#include "joconde/engines/rss3/party.hpp"
#include "joconde/engines/rss3/rss3.hpp"

#include <openssl/rand.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace joconde::test {

/// What one party's process produced.
struct party_outcome {
  bool ok = false;                  ///< the function returned normally
  std::vector<std::uint8_t> bytes;  ///< its result, when ok
  std::string error;                ///< what it caught ("protocol_error: ..."), when not ok
  int status = -1;                  ///< the raw wait status of the child
};

/// The function every honest party runs on its connected backend.
using party_fn = std::function<std::vector<std::uint8_t>(engines::backend&, unsigned party)>;

/// A replacement for one party: gets the options the party would connect with (listening socket,
/// endpoints, keys) and does whatever it likes, e.g. engines::rss3::open_links and raw writes.
using raw_party_fn = std::function<std::vector<std::uint8_t>(const engines::rss3::options& opts)>;

/// How to run the three parties.
struct three_options {
  std::chrono::milliseconds connect_timeout{10'000};  ///< passed to every party's options
  std::chrono::milliseconds io_timeout{20'000};       ///< passed to every party's options
  std::chrono::milliseconds overall{50'000};          ///< after this the parent kills every child
  std::map<unsigned, raw_party_fn> replace;   ///< parties that misbehave, by index
  /// If set, the two parties of this pair get different keys for their channel.
  std::optional<std::pair<unsigned, unsigned>> wrong_key;
};

/// A column party 0 inputs: the clear values at party 0, their count everywhere (a table of a
/// kernel test, on rss3 or on a one-party backend where `party` is 0).
inline engines::secret party0_input(engines::backend& b, const std::vector<std::int64_t>& values, unsigned party) {
  std::vector<engines::word> w(values.begin(), values.end());
  return b.input(0, party == 0 ? std::span<const engines::word>{w} : std::span<const engines::word>{}, values.size());
}

/// Words as bytes (native order; both ends are on this machine).
inline std::vector<std::uint8_t> to_bytes(const std::vector<engines::word>& words) {
  std::vector<std::uint8_t> out(words.size() * sizeof(engines::word));
  if (!words.empty())
    std::memcpy(out.data(), words.data(), out.size());
  return out;
}

/// Bytes written by to_bytes back as words.
inline std::vector<engines::word> to_words(const std::vector<std::uint8_t>& bytes) {
  std::vector<engines::word> out(bytes.size() / sizeof(engines::word));
  if (!out.empty())
    std::memcpy(out.data(), bytes.data(), out.size() * sizeof(engines::word));
  return out;
}

namespace detail {

inline bool write_all(int fd, const std::uint8_t* p, std::size_t n) {
  while (n > 0) {
    ssize_t k = ::write(fd, p, n);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return false;
    p += k;
    n -= static_cast<std::size_t>(k);
  }
  return true;
}

/// Child side: runs one party and writes "0" + bytes or "1" + error text to `out`.
inline void run_child(unsigned party, const engines::rss3::options& opts, const party_fn& fn,
                      const raw_party_fn* raw, int out) {
  std::vector<std::uint8_t> message{1};
  std::string error;
  try {
    std::vector<std::uint8_t> bytes;
    if (raw != nullptr) {
      bytes = (*raw)(opts);
    } else {
      auto be = engines::rss3::connect(opts);
      if (!be)
        throw engines::engine_failure(be.err());
      bytes = fn(**be, party);
    }
    message[0] = 0;
    message.insert(message.end(), bytes.begin(), bytes.end());
  } catch (const engines::engine_failure& e) {
    error = e.err().describe();
  } catch (const std::exception& e) {
    error = std::string{"exception: "} + e.what();
  }
  if (message[0] != 0)
    message.insert(message.end(), error.begin(), error.end());
  write_all(out, message.data(), message.size());
}

} // namespace detail

/// Runs `fn` at the three parties (or the replacements of `opts.replace`) in three processes and
/// returns each party's outcome. Never waits longer than opts.overall.
inline std::array<party_outcome, 3> run_three_parties(const party_fn& fn, const three_options& opts = {}) {
  std::array<party_outcome, 3> outcomes;
  std::array<int, 3> listeners{-1, -1, -1};
  std::vector<engines::party_endpoint> endpoints(3);
  for (unsigned i = 0; i < 3; ++i) {
    listeners[i] = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (listeners[i] < 0 || ::bind(listeners[i], reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0
        || ::listen(listeners[i], 8) != 0
        || ::getsockname(listeners[i], reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      for (auto& o : outcomes)
        o.error = "harness: cannot listen on loopback";
      for (int l : listeners)
        if (l >= 0)
          ::close(l);
      return outcomes;
    }
    endpoints[i] = {"127.0.0.1", ntohs(addr.sin_port)};
  }
  // keys[i][j]: party i's key for its channel with party j.
  std::array<std::array<engines::channel_key, 3>, 3> keys{};
  for (unsigned i = 0; i < 3; ++i)
    for (unsigned j = i + 1; j < 3; ++j) {
      RAND_bytes(keys[i][j].data(), static_cast<int>(keys[i][j].size()));
      keys[j][i] = keys[i][j];
    }
  if (opts.wrong_key) {
    auto [i, j] = *opts.wrong_key;
    keys[i][j][0] ^= 0x5a;
  }
  std::array<pid_t, 3> pids{-1, -1, -1};
  std::array<int, 3> pipes{-1, -1, -1};
  for (unsigned i = 0; i < 3; ++i) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      outcomes[i].error = "harness: pipe failed";
      continue;
    }
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fds[0]);
      for (unsigned j = 0; j < 3; ++j)
        if (j != i)
          ::close(listeners[j]);
      for (unsigned j = 0; j < i; ++j)
        if (pipes[j] >= 0)
          ::close(pipes[j]);
      engines::rss3::options o;
      o.party = i;
      o.endpoints = endpoints;
      o.keys.assign(keys[i].begin(), keys[i].end());
      o.connect_timeout = opts.connect_timeout;
      o.io_timeout = opts.io_timeout;
      o.listen_fd = listeners[i];
      auto it = opts.replace.find(i);
      detail::run_child(i, o, fn, it == opts.replace.end() ? nullptr : &it->second, fds[1]);
      ::_exit(0);
    }
    ::close(fds[1]);
    pids[i] = pid;
    pipes[i] = fds[0];
  }
  for (int l : listeners)
    ::close(l);
  // Read every pipe until EOF or the deadline.
  std::array<std::vector<std::uint8_t>, 3> raw;
  auto deadline = std::chrono::steady_clock::now() + opts.overall;
  for (;;) {
    std::array<pollfd, 3> fds{};
    nfds_t count = 0;
    std::array<unsigned, 3> who{};
    for (unsigned i = 0; i < 3; ++i)
      if (pipes[i] >= 0) {
        fds[count] = pollfd{pipes[i], POLLIN, 0};
        who[count++] = i;
      }
    if (count == 0)
      break;
    auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      break;
    if (::poll(fds.data(), count, static_cast<int>(left.count())) <= 0)
      continue;
    for (nfds_t k = 0; k < count; ++k) {
      if (fds[k].revents == 0)
        continue;
      unsigned i = who[k];
      std::uint8_t buffer[1 << 16];
      ssize_t n = ::read(pipes[i], buffer, sizeof(buffer));
      if (n > 0) {
        raw[i].insert(raw[i].end(), buffer, buffer + n);
      } else if (n == 0 || errno != EINTR) {
        ::close(pipes[i]);
        pipes[i] = -1;
      }
    }
  }
  for (unsigned i = 0; i < 3; ++i) {
    if (pipes[i] >= 0) {
      ::close(pipes[i]);
      outcomes[i].error = "harness: party " + std::to_string(i) + " did not finish in time (killed)";
    }
    if (pids[i] > 0) {
      // A child whose pipe closed exits at once; give it a moment, then kill it.
      auto grace = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      while (::waitpid(pids[i], &outcomes[i].status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > grace) {
          ::kill(pids[i], SIGKILL);
          ::waitpid(pids[i], &outcomes[i].status, 0);
          break;
        }
        ::usleep(2000);
      }
    }
    if (!outcomes[i].error.empty())
      continue;
    if (raw[i].empty()) {
      outcomes[i].error = "harness: party " + std::to_string(i) + " died without a result";
    } else if (raw[i][0] == 0) {
      outcomes[i].ok = true;
      outcomes[i].bytes.assign(raw[i].begin() + 1, raw[i].end());
    } else {
      outcomes[i].error.assign(raw[i].begin() + 1, raw[i].end());
    }
  }
  return outcomes;
}

/// The party function of a batch of kernel runs: every party's revealed words.
using words_fn = std::function<std::vector<engines::word>(engines::backend&, unsigned party)>;

/// Runs `fn` at three honest parties with a batch's timeouts (2 minutes of silence, 10 minutes in
/// all) and returns the words they revealed; throws std::runtime_error naming a party that failed,
/// or saying that the parties' words differ.
inline std::vector<engines::word> revealed_words(const words_fn& fn) {
  three_options opts;
  opts.io_timeout = std::chrono::seconds{120};
  opts.overall = std::chrono::seconds{600};
  auto out = run_three_parties([&](engines::backend& b, unsigned party) { return to_bytes(fn(b, party)); }, opts);
  for (unsigned i = 0; i < 3; ++i)
    if (!out[i].ok)
      throw std::runtime_error("party " + std::to_string(i) + ": " + out[i].error);
  if (out[0].bytes != out[1].bytes || out[0].bytes != out[2].bytes)
    throw std::runtime_error("the parties revealed different words");
  return to_words(out[0].bytes);
}

} // namespace joconde::test
