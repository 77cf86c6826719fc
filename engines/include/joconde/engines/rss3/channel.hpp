#pragma once

// The encrypted party-to-party channels of rss3. One TCP connection per pair of parties; each frame
// is a 4-byte little-endian payload length, the AES-256-GCM ciphertext and the 16-byte tag, with the
// length, the message's total length and the frame's offset in it as associated data (so parties
// that disagree on a message's length fail at its first frame). Keys are derived per direction
// from the pair's channel_key with HKDF (SHA-256, info naming both parties and the direction); the
// nonce is a per-direction frame counter, so a replayed, reordered or altered frame fails its tag. A message of n words travels as frames of
// at most `frame_words` words, and the receiver knows n in advance: a frame of another length, a
// length over the limit (refused before anything is allocated), a bad tag, EOF or silence for
// io_timeout end the run with protocol_error or timeout. `exchange` moves any set of messages at
// once with non-blocking sockets and poll, so a party can send to one counterpart while it receives
// from the other without deadlock, whatever the sizes.

#include "joconde/engines/backend.hpp"
#include "joconde/engines/engine.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace joconde::engines::rss3 {

/// Largest frame payload accepted or sent (1 MiB).
inline constexpr std::size_t max_frame_bytes = std::size_t{1} << 20;

/// Words per frame of a long message: small enough that computing the next frame overlaps with the
/// kernel sending the previous one.
inline constexpr std::size_t frame_words = 65536;

/// One authenticated, encrypted connection between this party and a counterpart.
class channel {
public:
  /// Takes ownership of the connected socket `fd` and derives both directions' keys from `key`.
  /// A channel over the connected socket `fd` to party `peer`; the keys of both directions are
  /// derived from `key` and `session`, the two parties' fresh random nonces exchanged when they
  /// connected (so a key given twice never repeats a GCM nonce, and frames of another session
  /// fail authentication).
  channel(int fd, unsigned self, unsigned peer, const channel_key& key,
          std::span<const std::uint8_t> session);
  ~channel();

  channel(const channel&) = delete;
  channel& operator=(const channel&) = delete;

  /// This party's index.
  unsigned self() const noexcept { return self_; }
  /// The counterpart's party index.
  unsigned peer() const noexcept { return peer_; }
  /// The socket (raw access for tests that misbehave on purpose).
  int fd() const noexcept { return fd_; }
  /// Whether the handshake succeeded and the channel is usable.
  bool open() const noexcept { return fd_ >= 0; }

  /// Shuts the connection down so the counterpart sees EOF at once; later use fails.
  void close() noexcept;

  /// Encrypts `bytes` as the next outgoing frame into `out` (header, ciphertext, tag), as words
  /// [offset, ...) of a message of `total` words; for tests that replay or garble frames, and used
  /// internally.
  void seal(std::span<const std::uint8_t> bytes, std::uint64_t total, std::uint64_t offset,
            std::vector<std::uint8_t>& out);

private:
  friend class exchanger;
  friend void handshake(std::span<channel*> channels, std::chrono::milliseconds io_timeout);

  int fd_;
  unsigned self_;
  unsigned peer_;
  EVP_CIPHER_CTX* enc_;
  EVP_CIPHER_CTX* dec_;
  std::uint64_t send_counter_ = 0;
  std::uint64_t recv_counter_ = 0;
  bool authenticated_ = false;
  // Outgoing frame being written and incoming frame being read.
  std::vector<std::uint8_t> out_;
  std::size_t out_done_ = 0;
  std::vector<std::uint8_t> in_;
  std::size_t in_done_ = 0;
  std::vector<word> plain_;
};

/// One outgoing message of `words` words. `produce(offset, count)` returns the plaintext of words
/// [offset, offset + count); it is called frame by frame, so the caller may compute lazily.
struct send_job {
  channel* to = nullptr;
  std::size_t words = 0;
  std::function<const word*(std::size_t offset, std::size_t count)> produce;
};

/// One incoming message of exactly `words` words, decrypted into `dst`, or, if `deliver` is set,
/// handed to it frame by frame (words [offset, offset + count) at `data`, valid during the call).
struct recv_job {
  channel* from = nullptr;
  std::size_t words = 0;
  word* dst = nullptr;
  std::function<void(std::size_t offset, std::size_t count, const word* data)> deliver;
};

/// A message of `words` words already computed at `data`.
inline send_job send_words(channel* to, const word* data, std::size_t words) {
  return send_job{to, words, [data](std::size_t offset, std::size_t) { return data + offset; }};
}

/// A message of `words` words to receive into `dst`.
inline recv_job receive_words(channel* from, word* dst, std::size_t words) {
  return recv_job{from, words, dst, {}};
}

/// Moves every message of `sends` and `recvs` concurrently; throws engine_failure (protocol_error or
/// timeout, naming the counterpart and what went wrong) on any failure.
void exchange(std::span<send_job> sends, std::span<recv_job> recvs, std::chrono::milliseconds io_timeout);

/// Proves to each counterpart that both ends hold the same key: sends a hello frame on each channel
/// and checks the counterpart's; protocol_error "channel key mismatch with party j" otherwise.
void handshake(std::span<channel*> channels, std::chrono::milliseconds io_timeout);

} // namespace joconde::engines::rss3
