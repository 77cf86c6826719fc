// Setting up an rss3 party: it listens (the lower index) or dials (the higher), greets each pair
// (greeting.hpp: mutual key proofs and the pair's session nonces), opens the encrypted channels and
// shares the pairwise PRG seeds.

#include "joconde/engines/rss3/party.hpp"
#include "joconde/engines/rss3/rss3.hpp"
#include "joconde/io/net.hpp"

#include "greeting.hpp"

#include <openssl/crypto.h>

#include <fcntl.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>

namespace joconde::engines::rss3 {

namespace {

using detail::clock;
using detail::failure;
using detail::session_bytes;

/// A listening socket for party `self` at `ep` (an empty host: every IPv4 interface).
result<io::unique_fd> listen_for(unsigned self, const party_endpoint& ep) {
  auto l = net::listen_tcp({ep.host.empty() ? "0.0.0.0" : ep.host, ep.port}, 8);
  if (!l)
    return failure(l.err().code, self, l.err().message);
  return std::move(l->fd);
}

/// Dials every lower index. A key mismatch is only noted (in `mismatch`), so that the higher indices
/// are still accepted and learn of the failure at once (their channels to us close) instead of
/// waiting for us until their deadline.
result<void> dial_lower(unsigned self, const options& opts, clock::time_point deadline,
                        std::array<io::unique_fd, 3>& peers, std::array<session_bytes, 3>& sessions,
                        std::optional<unsigned>& mismatch) {
  std::string why;
  for (unsigned j = 0; j < self; ++j) {
    switch (detail::dial_party(self, j, opts, deadline, peers[j], sessions[j], why)) {
      case detail::dial_outcome::connected:
        break;
      case detail::dial_outcome::key_mismatch:
        mismatch = mismatch.value_or(j);
        break;
      case detail::dial_outcome::crypto_failure:
        return failure(errc::crypto_failure, self, "no random session nonce or key proof (OpenSSL failed)");
      case detail::dial_outcome::timed_out:
        return failure(errc::timeout, self, "cannot reach party " + std::to_string(j) + " at "
                                              + opts.endpoints[j].host + ":"
                                              + std::to_string(opts.endpoints[j].port) + " within "
                                              + std::to_string(opts.connect_timeout.count()) + " ms ("
                                              + why + ")");
    }
  }
  return ok();
}

/// Opens the channels on the greeted connections and shares the PRG seeds: party i draws k_i and
/// gives it to party i-1, so that each party holds k_i and k_(i+1). Throws engine_failure.
links open_channels(unsigned self, const options& opts, std::array<io::unique_fd, 3>& peers,
                    const std::array<session_bytes, 3>& sessions) {
  unsigned next = (self + 1) % 3;
  unsigned prev = (self + 2) % 3;
  links out;
  out.to_next = std::make_unique<channel>(peers[next].release(), self, next, opts.keys[next],
                                          sessions[next]);
  out.to_prev = std::make_unique<channel>(peers[prev].release(), self, prev, opts.keys[prev],
                                          sessions[prev]);
  auto io = std::min(opts.io_timeout, std::max(opts.connect_timeout, std::chrono::milliseconds(1)));
  std::array<channel*, 2> both{out.to_next.get(), out.to_prev.get()};
  try {
    handshake(both, io);
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
}

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
  io::unique_fd listener{opts.listen_fd};
  if (self > 2 || opts.endpoints.size() != 3 || opts.keys.size() != 3)
    return fail(errc::invalid_config, "rss3 connect needs a party index 0 to 2 and 3 endpoints and "
                                      "3 keys, got party " + std::to_string(self) + ", "
                                        + std::to_string(opts.endpoints.size()) + " endpoints, "
                                        + std::to_string(opts.keys.size()) + " keys");
  auto deadline = clock::now() + opts.connect_timeout;
  if (self < 2 && !listener.valid()) {
    auto l = listen_for(self, opts.endpoints[self]);
    if (!l)
      return l.err();
    listener = std::move(*l);
  }
  // Each pair's session: the lower index's random nonce, then the higher index's; the channel
  // keys are derived from it, so they are fresh in every session even when a key is given twice.
  std::array<io::unique_fd, 3> peers;
  std::array<session_bytes, 3> sessions{};
  std::optional<unsigned> mismatch;
  if (auto dialled = dial_lower(self, opts, deadline, peers, sessions, mismatch); !dialled)
    return dialled.err();
  if (self < 2) {
    ::fcntl(listener.get(), F_SETFL, ::fcntl(listener.get(), F_GETFL) | O_NONBLOCK);
    detail::acceptor incoming{self, opts, listener.get(), deadline, peers, sessions};
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
  listener.reset();
  try {
    return open_channels(self, opts, peers, sessions);
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
