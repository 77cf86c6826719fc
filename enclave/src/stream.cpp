#include "joconde/enclave/stream.hpp"

#include "joconde/io/stream.hpp"

#include "key_agreement.hpp"
#include "ossl.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>

#include <unistd.h>

#include <algorithm>
#include <limits>
#include <utility>

namespace joconde::enclave {

namespace {

constexpr std::size_t tag_size = 16;
constexpr std::size_t total_size = 8;
constexpr std::string_view peer_name = "the peer of the secure stream";

static_assert(max_message_bytes <= std::numeric_limits<std::uint32_t>::max());
static_assert(frame_overhead == 4 + tag_size);

error broken(std::string_view way) {
  return fail(errc::invalid_state, "this secure stream can no longer " + std::string{way}
                                     + ": it was closed or an earlier error broke it; set up a new "
                                       "attested session");
}

error bad_frame(std::string what) {
  return fail(errc::protocol_error,
              "the peer sent a frame that " + what
                + ": the stream was altered, replayed or reordered in transit, or the peer derived "
                  "other keys; the stream is broken, set up a new attested session");
}

error gcm_failure(const char* what) {
  return fail(errc::crypto_failure, std::string{"the secure stream could not "} + what + " ("
                                      + ossl::error_text()
                                      + "); check the OpenSSL installation");
}

} // namespace

/// One direction of the stream: its AES-256-GCM context (holding the key schedule) and frame
/// counter. EVP_CIPHER_CTX_free zeroises the key schedule.
struct secure_stream::direction {
  detail::cipher_ctx_ptr ctx;
  std::uint64_t counter = 0;
  bool broken = false;

  /// The 96-bit nonce of the next frame: the counter, big-endian.
  std::array<std::uint8_t, 12> next_nonce() {
    std::array<std::uint8_t, 12> iv{};
    for (int i = 0; i < 8; ++i)
      iv[11 - i] = static_cast<std::uint8_t>(counter >> (8 * i));
    ++counter;
    return iv;
  }
};

namespace {

/// Keys `ctx` for one direction with HKDF(key, salt, stream_key_info || label); false when OpenSSL
/// fails. The derived key is wiped once the context holds its schedule.
bool make_direction(EVP_CIPHER_CTX* ctx, bool encrypt, std::span<const std::uint8_t, 32> key,
                    std::span<const std::uint8_t> salt, std::string_view label) {
  bytes info(stream_key_info.begin(), stream_key_info.end());
  info.insert(info.end(), label.begin(), label.end());
  std::array<std::uint8_t, 32> dir_key{};
  bool ok = ossl::hkdf_sha256(key, salt, info, dir_key)
            && (encrypt ? EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, dir_key.data(), nullptr)
                        : EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, dir_key.data(), nullptr))
                 == 1;
  OPENSSL_cleanse(dir_key.data(), dir_key.size());
  return ok;
}

/// Makes `frame` = u32be(n) || AES-256-GCM(prefix || chunk) || tag with nonce `iv`, where n is the
/// payload length and the 4 length bytes are the associated data.
bool seal_frame(EVP_CIPHER_CTX* ctx, const std::array<std::uint8_t, 12>& iv,
                std::span<const std::uint8_t> prefix, std::span<const std::uint8_t> chunk,
                bytes& frame) {
  auto n = prefix.size() + chunk.size();
  frame.clear();
  detail::put_be(frame, n, 4);
  frame.resize(4 + n + tag_size);
  auto* body = frame.data() + 4;
  int len = 0;
  if (EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, iv.data()) != 1
      || EVP_EncryptUpdate(ctx, nullptr, &len, frame.data(), 4) != 1)
    return false;
  for (auto part : {prefix, chunk}) {
    if (part.empty())
      continue;
    if (EVP_EncryptUpdate(ctx, body, &len, part.data(), static_cast<int>(part.size())) != 1)
      return false;
    body += len;
  }
  return EVP_EncryptFinal_ex(ctx, body, &len) == 1
         && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, tag_size, frame.data() + 4 + n) == 1;
}

} // namespace

result<secure_stream> secure_stream::create(int fd, std::span<const std::uint8_t, 32> key,
                                            std::span<const std::uint8_t> salt, stream_side side,
                                            std::chrono::milliseconds io_timeout) {
  auto refuse = [fd](error e) {
    if (fd >= 0)
      ::close(fd);
    return e;
  };
  if (fd < 0 || salt.empty() || io_timeout.count() <= 0)
    return refuse(fail(errc::invalid_config,
                       "a secure stream needs a connected socket, a non-empty salt and a positive "
                       "I/O timeout; pass what the attested session set up"));
  static constexpr std::string_view first_to_second = " first->second";
  static constexpr std::string_view second_to_first = " second->first";
  bool first = side == stream_side::first;
  auto out = std::make_unique<direction>();
  auto in = std::make_unique<direction>();
  out->ctx.reset(EVP_CIPHER_CTX_new());
  in->ctx.reset(EVP_CIPHER_CTX_new());
  if (!out->ctx || !in->ctx
      || !make_direction(out->ctx.get(), true, key, salt, first ? first_to_second : second_to_first)
      || !make_direction(in->ctx.get(), false, key, salt, first ? second_to_first : first_to_second))
    return refuse(gcm_failure("derive its keys"));
  return secure_stream{fd, std::move(out), std::move(in), io_timeout};
}

secure_stream::secure_stream(int fd, std::unique_ptr<direction> out, std::unique_ptr<direction> in,
                             std::chrono::milliseconds io_timeout)
  : fd_(fd), out_(std::move(out)), in_(std::move(in)), io_timeout_(io_timeout) {
  // nop
}

secure_stream::secure_stream(secure_stream&& other) noexcept = default;

secure_stream& secure_stream::operator=(secure_stream&& other) noexcept = default;

secure_stream::~secure_stream() {
  close();
}

void secure_stream::close() noexcept {
  fd_.reset();
  out_.reset();
  in_.reset();
}

bool secure_stream::is_open() const noexcept {
  return fd_.valid();
}

int secure_stream::native_handle() const noexcept {
  return fd_.get();
}

// -- messages of any size --

result<void> secure_stream::send_pieces(std::span<const std::uint8_t> message) {
  for (std::size_t at = 0;;) {
    const auto len = std::min(max_message_bytes, message.size() - at);
    if (auto r = send(message.subspan(at, len)); !r)
      return r;
    at += len;
    if (len < max_message_bytes)
      return ok();
  }
}

result<bytes> secure_stream::receive_pieces(std::size_t max_bytes) {
  bytes whole;
  for (;;) {
    // The room left bounds the next piece; once it is used up only an empty last piece fits.
    auto piece = receive(std::min(max_bytes - whole.size(), max_message_bytes));
    if (!piece)
      return piece.err();
    const bool last = piece->size() < max_message_bytes;
    if (whole.empty())
      whole = std::move(*piece);
    else
      whole.insert(whole.end(), piece->begin(), piece->end());
    if (last)
      return whole;
  }
}

// -- sending --

result<void> secure_stream::send(std::span<const std::uint8_t> message) {
  if (!fd_.valid() || !out_ || out_->broken)
    return broken("send");
  if (message.size() > max_message_bytes)
    return fail(errc::too_large, "a message of " + std::to_string(message.size())
                                   + " bytes is over the secure stream's limit of "
                                   + std::to_string(max_message_bytes) + " bytes; split it");
  io::io_budget budget{io_timeout_};
  bytes header;
  detail::put_be(header, message.size(), total_size);
  bytes frame;
  std::size_t pos = 0;
  bool first = true;
  while (first || pos < message.size()) {
    auto prefix = first ? std::span<const std::uint8_t>{header} : std::span<const std::uint8_t>{};
    auto chunk = message.subspan(pos, std::min(message.size() - pos, max_frame_bytes - prefix.size()));
    auto iv = out_->next_nonce();
    if (!seal_frame(out_->ctx.get(), iv, prefix, chunk, frame)) {
      out_->broken = true;
      return gcm_failure("encrypt a frame");
    }
    if (auto r = io::write_all(fd_.get(), frame, budget, peer_name); !r) {
      out_->broken = true;
      return r;
    }
    pos += chunk.size();
    first = false;
  }
  return ok();
}

// -- receiving --

result<void> secure_stream::read_frame(bytes& out, std::size_t expected) {
  io::io_budget budget{io_timeout_};
  std::uint8_t header[4];
  if (auto r = io::read_exact(fd_.get(), header, budget, peer_name); !r)
    return r;
  auto n = static_cast<std::size_t>(detail::get_be(header, 4));
  if (expected == 0 ? (n < total_size || n > max_frame_bytes) : n != expected)
    return bad_frame("announces " + std::to_string(n) + " payload bytes where "
                     + (expected == 0 ? "a first frame has 8 to " + std::to_string(max_frame_bytes)
                                      : std::to_string(expected) + " are due"));
  bytes body(n + tag_size);
  if (auto r = io::read_exact(fd_.get(), body, budget, peer_name); !r)
    return r;
  auto* ctx = in_->ctx.get();
  auto iv = in_->next_nonce();
  out.resize(n);
  int len = 0;
  if (EVP_DecryptInit_ex(ctx, nullptr, nullptr, nullptr, iv.data()) != 1
      || EVP_DecryptUpdate(ctx, nullptr, &len, header, 4) != 1
      || EVP_DecryptUpdate(ctx, out.data(), &len, body.data(), static_cast<int>(n)) != 1
      || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, tag_size, body.data() + n) != 1)
    return gcm_failure("decrypt a frame");
  // The GCM API compares the tag in constant time.
  if (EVP_DecryptFinal_ex(ctx, out.data() + len, &len) != 1) {
    ERR_clear_error();
    OPENSSL_cleanse(out.data(), out.size());
    return bad_frame("does not authenticate");
  }
  return ok();
}

result<bytes> secure_stream::receive(std::size_t max_bytes) {
  if (!fd_.valid() || !in_ || in_->broken)
    return broken("receive");
  // Silence before a message leaves the stream usable; anything after its first byte does not.
  if (auto r = io::wait_readable(fd_.get(), io::io_budget{io_timeout_}, peer_name); !r)
    return r.err();
  auto failed = [this](error e) {
    in_->broken = true;
    return e;
  };
  bytes frame;
  if (auto r = read_frame(frame, 0); !r)
    return failed(r.err());
  auto total = detail::get_be(frame.data(), total_size);
  auto limit = std::min(max_bytes, max_message_bytes);
  if (total > limit)
    return failed(fail(errc::too_large, "the peer sends a message of " + std::to_string(total)
                                          + " bytes, over this side's limit of "
                                          + std::to_string(limit)
                                          + " bytes; the stream is broken, set up a new session"));
  auto first_chunk = std::min<std::size_t>(total, max_frame_bytes - total_size);
  if (frame.size() - total_size != first_chunk)
    return failed(bad_frame("carries " + std::to_string(frame.size() - total_size)
                            + " message bytes where " + std::to_string(first_chunk)
                            + " are due"));
  bytes message;
  message.reserve(total);
  message.insert(message.end(), frame.begin() + total_size, frame.end());
  while (message.size() < total) {
    auto next = std::min<std::size_t>(total - message.size(), max_frame_bytes);
    if (auto r = read_frame(frame, next); !r)
      return failed(r.err());
    message.insert(message.end(), frame.begin(), frame.end());
  }
  OPENSSL_cleanse(frame.data(), frame.size());
  return message;
}

} // namespace joconde::enclave
