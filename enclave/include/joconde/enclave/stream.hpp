#pragma once

// The encrypted, framed byte stream an attested session runs on (DESIGN.md §8, docs/tee.md): once a
// session has agreed on a key (session.hpp), every message between the two sides travels as
// AES-256-GCM frames over the connected socket.
//
// Keys: each direction has its own key, HKDF-SHA-256(session key, salt = the session's transcript
// hash, info = "joconde stream v1" || direction), direction " first->second" or " second->first";
// each side sends with its own direction's key and receives with the other's, so a frame reflected
// back to its sender does not authenticate.
//
// Frames: u32be(n) || ciphertext (n bytes, 0 < n <= max_frame_bytes) || tag (16 bytes). The GCM nonce
// is the direction's 96-bit frame counter (big-endian, starting at 0), the associated data the 4
// length bytes; a replayed, reordered, dropped or altered frame therefore fails its tag.
//
// Messages: the plaintext of a message's first frame is u64be(total length) followed by the first
// min(total, max_frame_bytes - 8) message bytes; the rest follows in frames of exactly
// min(remaining, max_frame_bytes) bytes. A receiver refuses a total over its limit as soon as the
// first frame authenticates, before reading or allocating the rest.

#include "joconde/enclave/platform.hpp"
#include "joconde/io/fd.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>

namespace joconde::enclave {

/// The largest message a secure stream carries.
inline constexpr std::size_t max_message_bytes = 64 * 1024 * 1024;

/// The largest frame payload (ciphertext bytes, tag excluded).
inline constexpr std::size_t max_frame_bytes = 1024 * 1024;

/// The bytes a frame adds to its payload: the length and the GCM tag.
inline constexpr std::size_t frame_overhead = 4 + 16;

/// The HKDF info prefix of the per-direction stream keys.
inline constexpr std::string_view stream_key_info = "joconde stream v1";

/// Which end of a session a stream is: the side that derives the "first->second" key for sending.
/// VM-to-VM sessions make the lower CP index first; client sessions make the client first.
enum class stream_side : std::uint8_t { first, second };

/// An encrypted, authenticated message stream over a connected socket it owns. Any failure other
/// than a timeout before the first byte of a message breaks the direction it happened in (later
/// calls there return invalid_state): close the stream and set up a new session. One thread may send
/// while another receives; two concurrent senders or receivers are not allowed. Movable, not
/// copyable; a moved-from stream is closed.
class secure_stream {
public:
  /// A stream over the connected stream socket `fd` (blocking or not; the stream takes ownership
  /// and closes it, also when this fails) with keys derived from `key` and `salt` as described
  /// above. `io_timeout` bounds every wait for the peer to move a byte. invalid_config for a
  /// negative fd, an empty salt or a non-positive timeout; crypto_failure when OpenSSL fails.
  static result<secure_stream> create(int fd, std::span<const std::uint8_t, 32> key,
                                      std::span<const std::uint8_t> salt, stream_side side,
                                      std::chrono::milliseconds io_timeout);

  secure_stream(secure_stream&& other) noexcept;
  secure_stream& operator=(secure_stream&& other) noexcept;
  secure_stream(const secure_stream&) = delete;
  secure_stream& operator=(const secure_stream&) = delete;

  /// Closes the socket and frees the cipher contexts, which zeroises their keys.
  ~secure_stream();

  /// Sends `message` (at most max_message_bytes): too_large above that (nothing sent), timeout when
  /// the peer takes nothing for io_timeout, io_error when the connection fails, invalid_state after
  /// an earlier send failure or close().
  result<void> send(std::span<const std::uint8_t> message);

  /// Receives the next message: timeout when nothing arrives for io_timeout (before its first byte
  /// the stream stays usable), too_large when its total is over `max_bytes` or max_message_bytes,
  /// protocol_error for a frame that does not authenticate (altered, replayed, reordered, from
  /// another key) or a length the format does not allow, io_error when the peer closes or the
  /// connection fails, invalid_state after an earlier receive failure or close().
  result<bytes> receive(std::size_t max_bytes = max_message_bytes);

  /// Sends `message` of any size as consecutive messages: full ones of max_message_bytes, then a
  /// last one below that (empty when the size is a multiple of it), so that receive_pieces knows
  /// the end without a length. A message below max_message_bytes goes as one, as send sends it.
  /// The errors of send; a failure leaves the stream broken for sending.
  result<void> send_pieces(std::span<const std::uint8_t> message);

  /// Receives what send_pieces sent, at most `max_bytes` in all (too_large beyond, and the stream
  /// is broken), with the errors of receive.
  result<bytes> receive_pieces(std::size_t max_bytes);

  /// Changes the I/O timeout of later sends and receives (for an answer the peer computes for long,
  /// such as the seal of a large upload).
  void set_io_timeout(std::chrono::milliseconds io_timeout) noexcept { io_timeout_ = io_timeout; }

  /// Closes the socket now; later sends and receives return invalid_state. Idempotent.
  void close() noexcept;

  /// True until close() (or a move from this stream).
  bool is_open() const noexcept;

  /// The socket, for callers that poll several streams; reading or writing it directly breaks the
  /// stream.
  int native_handle() const noexcept;

private:
  struct direction;

  secure_stream(int fd, std::unique_ptr<direction> out, std::unique_ptr<direction> in,
                std::chrono::milliseconds io_timeout);

  /// Reads one frame into `out` (resized to its payload); `expected` is the payload length the
  /// format requires, or 0 for a first frame (any length from 8 to max_frame_bytes).
  result<void> read_frame(bytes& out, std::size_t expected);

  io::unique_fd fd_;
  std::unique_ptr<direction> out_;
  std::unique_ptr<direction> in_;
  std::chrono::milliseconds io_timeout_{0};
};

} // namespace joconde::enclave
