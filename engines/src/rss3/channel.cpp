#include "joconde/engines/rss3/channel.hpp"
#include "joconde/io/ossl.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string>

namespace joconde::engines::rss3 {

namespace {

constexpr std::size_t header_bytes = 4;
constexpr std::size_t tag_bytes = 16;
constexpr std::array<char, 16> hello_magic{'j', 'o', 'c', 'o', 'n', 'd', 'e', '-',
                                            'r', 's', 's', '3', '-', 'h', 'i', '!'};

[[noreturn]] void fail_with(errc code, unsigned self, std::string what) {
  throw engine_failure(fail(code, "rss3 party " + std::to_string(self) + ": " + std::move(what)));
}

/// The 32-byte key of direction from -> to, derived from the pair's key with HKDF-SHA256.
/// The salt is a fixed label followed by the session's nonces.
std::array<std::uint8_t, 32> direction_key(const channel_key& key, std::span<const std::uint8_t> session,
                                           unsigned from, unsigned to) {
  std::array<std::uint8_t, 32> out{};
  std::string info = "joconde rss3 channel from party " + std::to_string(from) + " to party "
                     + std::to_string(to);
  std::string salt = "joconde-rss3-channel-v1";
  salt.append(session.begin(), session.end());
  auto as_bytes = [](const std::string& x) {
    return std::span{reinterpret_cast<const std::uint8_t*>(x.data()), x.size()};
  };
  if (!ossl::hkdf_sha256(key, as_bytes(salt), as_bytes(info), out))
    throw engine_failure(fail(errc::crypto_failure, "rss3: HKDF derivation failed (" + ossl::error_text() + ")"));
  return out;
}

EVP_CIPHER_CTX* gcm_context(const std::array<std::uint8_t, 32>& key, bool encrypt) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr
      || EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key.data(), nullptr, encrypt ? 1 : 0) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    throw engine_failure(fail(errc::crypto_failure, "rss3: cannot set up AES-256-GCM"));
  }
  return ctx;
}

std::array<std::uint8_t, 12> nonce_of(std::uint64_t counter) {
  std::array<std::uint8_t, 12> iv{};
  for (int i = 0; i < 8; ++i)
    iv[4 + i] = static_cast<std::uint8_t>(counter >> (8 * i));
  return iv;
}

void put_le32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i)
    p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

/// The associated data of a frame: its header, the message's length and the frame's offset.
std::array<std::uint8_t, 20> associated(const std::uint8_t* header, std::uint64_t total,
                                        std::uint64_t offset) {
  std::array<std::uint8_t, 20> aad{};
  std::memcpy(aad.data(), header, 4);
  for (int i = 0; i < 8; ++i) {
    aad[4 + i] = static_cast<std::uint8_t>(total >> (8 * i));
    aad[12 + i] = static_cast<std::uint8_t>(offset >> (8 * i));
  }
  return aad;
}

std::uint32_t get_le32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16
         | std::uint32_t{p[3]} << 24;
}

} // namespace

channel::channel(int fd, unsigned self, unsigned peer, const channel_key& key,
                 std::span<const std::uint8_t> session)
  : fd_(fd), self_(self), peer_(peer), enc_(nullptr), dec_(nullptr) {
  auto send_key = direction_key(key, session, self, peer);
  auto recv_key = direction_key(key, session, peer, self);
  enc_ = gcm_context(send_key, true);
  dec_ = gcm_context(recv_key, false);
  OPENSSL_cleanse(send_key.data(), send_key.size());
  OPENSSL_cleanse(recv_key.data(), recv_key.size());
  out_.reserve(header_bytes + frame_words * sizeof(word) + tag_bytes);
  in_.reserve(header_bytes + frame_words * sizeof(word) + tag_bytes);
}

channel::~channel() {
  close();
  EVP_CIPHER_CTX_free(enc_);
  EVP_CIPHER_CTX_free(dec_);
}

void channel::close() noexcept {
  if (fd_ >= 0) {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    fd_ = -1;
  }
}

void channel::seal(std::span<const std::uint8_t> bytes, std::uint64_t total, std::uint64_t offset,
                   std::vector<std::uint8_t>& out) {
  out.resize(header_bytes + bytes.size() + tag_bytes);
  put_le32(out.data(), static_cast<std::uint32_t>(bytes.size()));
  auto iv = nonce_of(send_counter_++);
  auto aad = associated(out.data(), total, offset);
  int len = 0;
  bool good = EVP_EncryptInit_ex(enc_, nullptr, nullptr, nullptr, iv.data()) == 1
              && EVP_EncryptUpdate(enc_, nullptr, &len, aad.data(), static_cast<int>(aad.size())) == 1
              && (bytes.empty()
                  || EVP_EncryptUpdate(enc_, out.data() + header_bytes, &len, bytes.data(),
                                       static_cast<int>(bytes.size())) == 1)
              && EVP_EncryptFinal_ex(enc_, out.data() + header_bytes + bytes.size(), &len) == 1
              && EVP_CIPHER_CTX_ctrl(enc_, EVP_CTRL_GCM_GET_TAG, tag_bytes,
                                     out.data() + header_bytes + bytes.size()) == 1;
  if (!good)
    fail_with(errc::crypto_failure, self_, "AES-GCM encryption failed");
}

/// The state machine behind `exchange`: one pass moves whatever the sockets accept without waiting.
class exchanger {
public:
  exchanger(std::span<send_job> sends, std::span<recv_job> recvs)
    : sends_(sends), recvs_(recvs), sent_(sends.size(), 0), received_(recvs.size(), 0) {
    for (auto& s : sends_)
      if (s.to == nullptr || !s.to->open())
        throw engine_failure(fail(errc::invalid_state, "rss3: channel closed after an earlier failure"));
    for (auto& r : recvs_) {
      if (r.from == nullptr || !r.from->open())
        throw engine_failure(fail(errc::invalid_state, "rss3: channel closed after an earlier failure"));
      r.from->in_done_ = 0;
    }
  }

  bool done() const {
    for (std::size_t i = 0; i < sends_.size(); ++i)
      if (sent_[i] < sends_[i].words || sends_[i].to->out_done_ < sends_[i].to->out_.size())
        return false;
    for (std::size_t i = 0; i < recvs_.size(); ++i)
      if (received_[i] < recvs_[i].words)
        return false;
    return true;
  }

  /// Moves data on every job; true if anything moved.
  bool pump() {
    bool progress = false;
    for (std::size_t i = 0; i < sends_.size(); ++i)
      progress |= pump_send(i);
    for (std::size_t i = 0; i < recvs_.size(); ++i)
      progress |= pump_recv(i);
    return progress;
  }

  /// Waits until a socket is ready or `wait` passes; false on timeout.
  bool wait(std::chrono::milliseconds wait) {
    std::array<pollfd, 8> fds{};
    std::size_t count = 0;
    auto add = [&](int fd, short events) {
      for (std::size_t k = 0; k < count; ++k)
        if (fds[k].fd == fd) {
          fds[k].events |= events;
          return;
        }
      if (count < fds.size())
        fds[count++] = pollfd{fd, events, 0};
    };
    for (std::size_t i = 0; i < sends_.size(); ++i)
      if (sends_[i].to->out_done_ < sends_[i].to->out_.size())
        add(sends_[i].to->fd_, POLLOUT);
    for (std::size_t i = 0; i < recvs_.size(); ++i)
      if (received_[i] < recvs_[i].words)
        add(recvs_[i].from->fd_, POLLIN);
    int rc = ::poll(fds.data(), count, static_cast<int>(std::max<long long>(wait.count(), 1)));
    if (rc < 0 && errno != EINTR)
      throw engine_failure(fail(errc::io_error, std::string{"rss3: poll failed: "} + std::strerror(errno)));
    return rc != 0;
  }

  /// Which counterparts still owe or are owed data, for the timeout message.
  std::string pending() const {
    std::string out;
    for (std::size_t i = 0; i < recvs_.size(); ++i)
      if (received_[i] < recvs_[i].words)
        out += (out.empty() ? "" : ", ") + std::string{"waiting for "}
               + std::to_string(recvs_[i].words - received_[i]) + " words from party "
               + std::to_string(recvs_[i].from->peer_);
    for (std::size_t i = 0; i < sends_.size(); ++i)
      if (sent_[i] < sends_[i].words || sends_[i].to->out_done_ < sends_[i].to->out_.size())
        out += (out.empty() ? "" : ", ") + std::string{"party "} + std::to_string(sends_[i].to->peer_)
               + " does not read";
    return out;
  }

private:
  bool pump_send(std::size_t i) {
    auto& job = sends_[i];
    channel& ch = *job.to;
    bool progress = false;
    for (;;) {
      if (ch.out_done_ == ch.out_.size()) {
        if (sent_[i] == job.words)
          return progress;
        std::size_t count = std::min(frame_words, job.words - sent_[i]);
        const word* data = job.produce(sent_[i], count);
        ch.seal({reinterpret_cast<const std::uint8_t*>(data), count * sizeof(word)}, job.words, sent_[i],
                ch.out_);
        ch.out_done_ = 0;
        sent_[i] += count;
      }
      ssize_t n = ::send(ch.fd_, ch.out_.data() + ch.out_done_, ch.out_.size() - ch.out_done_,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
          return progress;
        fail_with(errc::protocol_error, ch.self_, "cannot send to party " + std::to_string(ch.peer_)
                                                    + " (" + std::strerror(errno)
                                                    + "): it probably failed, see its log");
      }
      ch.out_done_ += static_cast<std::size_t>(n);
      progress = true;
    }
  }

  bool pump_recv(std::size_t i) {
    auto& job = recvs_[i];
    channel& ch = *job.from;
    bool progress = false;
    while (received_[i] < job.words) {
      std::size_t expected = std::min(frame_words, job.words - received_[i]) * sizeof(word);
      std::size_t want = ch.in_done_ < header_bytes
                           ? header_bytes
                           : header_bytes + get_le32(ch.in_.data()) + tag_bytes;
      if (ch.in_.size() < want)
        ch.in_.resize(want);
      ssize_t n = ::recv(ch.fd_, ch.in_.data() + ch.in_done_, want - ch.in_done_, MSG_DONTWAIT);
      if (n == 0)
        fail_with(errc::protocol_error, ch.self_,
                  "party " + std::to_string(ch.peer_) + " closed the channel in the middle of a "
                    + "message (it probably failed, see its log)");
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
          return progress;
        fail_with(errc::protocol_error, ch.self_, "cannot receive from party " + std::to_string(ch.peer_)
                                                    + " (" + std::strerror(errno) + ")");
      }
      progress = true;
      ch.in_done_ += static_cast<std::size_t>(n);
      if (ch.in_done_ == header_bytes) {
        std::size_t announced = get_le32(ch.in_.data());
        if (announced > max_frame_bytes)
          fail_with(errc::protocol_error, ch.self_,
                    "party " + std::to_string(ch.peer_) + " announced a frame of "
                      + std::to_string(announced) + " bytes, over the 1 MiB limit");
        if (announced != expected)
          fail_with(errc::protocol_error, ch.self_,
                    "party " + std::to_string(ch.peer_) + " sent a frame of " + std::to_string(announced)
                      + " bytes where " + std::to_string(expected)
                      + " were expected (the parties are out of step)");
        continue;
      }
      if (ch.in_done_ < want)
        continue;
      std::size_t count = expected / sizeof(word);
      if (job.deliver) {
        ch.plain_.resize(frame_words);
        open_frame(ch, expected, job.words, received_[i], ch.plain_.data());
        job.deliver(received_[i], count, ch.plain_.data());
      } else {
        open_frame(ch, expected, job.words, received_[i], job.dst + received_[i]);
      }
      received_[i] += count;
      ch.in_done_ = 0;
    }
    return progress;
  }

  static void open_frame(channel& ch, std::size_t len, std::uint64_t total, std::uint64_t offset, word* dst) {
    auto iv = nonce_of(ch.recv_counter_++);
    auto aad = associated(ch.in_.data(), total, offset);
    auto* out = reinterpret_cast<std::uint8_t*>(dst);
    const std::uint8_t* body = ch.in_.data() + header_bytes;
    int n = 0;
    bool good = EVP_DecryptInit_ex(ch.dec_, nullptr, nullptr, nullptr, iv.data()) == 1
                && EVP_DecryptUpdate(ch.dec_, nullptr, &n, aad.data(), static_cast<int>(aad.size())) == 1
                && (len == 0 || EVP_DecryptUpdate(ch.dec_, out, &n, body, static_cast<int>(len)) == 1)
                && EVP_CIPHER_CTX_ctrl(ch.dec_, EVP_CTRL_GCM_SET_TAG, tag_bytes,
                                       const_cast<std::uint8_t*>(body + len)) == 1
                && EVP_DecryptFinal_ex(ch.dec_, out + len, &n) == 1;
    if (good)
      return;
    std::memset(out, 0, len);
    if (!ch.authenticated_)
      fail_with(errc::protocol_error, ch.self_,
                "channel key mismatch with party " + std::to_string(ch.peer_)
                  + ": its hello frame fails authentication; check that both parties got the same key");
    fail_with(errc::protocol_error, ch.self_,
              "a frame from party " + std::to_string(ch.peer_)
                + " fails its authentication tag (garbled, replayed, out of order, or the parties "
                  "disagree on the message's length)");
  }

  std::span<send_job> sends_;
  std::span<recv_job> recvs_;
  std::vector<std::size_t> sent_;
  std::vector<std::size_t> received_;
};

void exchange(std::span<send_job> sends, std::span<recv_job> recvs, std::chrono::milliseconds io_timeout) {
  exchanger x{sends, recvs};
  auto last = std::chrono::steady_clock::now();
  unsigned self = !sends.empty() ? sends[0].to->self() : !recvs.empty() ? recvs[0].from->self() : 0;
  while (!x.done()) {
    if (x.pump()) {
      last = std::chrono::steady_clock::now();
      continue;
    }
    if (x.done())
      break;
    auto idle =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - last);
    if (idle >= io_timeout || !x.wait(io_timeout - idle)) {
      if (std::chrono::steady_clock::now() - last >= io_timeout)
        fail_with(errc::timeout, self, "no progress for " + std::to_string(io_timeout.count())
                                         + " ms (" + x.pending() + ")");
    }
  }
}

void handshake(std::span<channel*> channels, std::chrono::milliseconds io_timeout) {
  constexpr std::size_t hello_words = 4;
  std::vector<std::array<word, hello_words>> out(channels.size());
  std::vector<std::array<word, hello_words>> in(channels.size());
  std::vector<send_job> sends;
  std::vector<recv_job> recvs;
  for (std::size_t i = 0; i < channels.size(); ++i) {
    std::memcpy(out[i].data(), hello_magic.data(), hello_magic.size());
    out[i][2] = channels[i]->self_;
    out[i][3] = channels[i]->peer_;
    sends.push_back(send_words(channels[i], out[i].data(), hello_words));
    recvs.push_back(receive_words(channels[i], in[i].data(), hello_words));
  }
  exchange(sends, recvs, io_timeout);
  for (std::size_t i = 0; i < channels.size(); ++i) {
    if (std::memcmp(in[i].data(), hello_magic.data(), hello_magic.size()) != 0
        || in[i][2] != channels[i]->peer_ || in[i][3] != channels[i]->self_)
      fail_with(errc::protocol_error, channels[i]->self_,
                "party " + std::to_string(channels[i]->peer_)
                  + " sent a hello for another pair of parties; check the endpoints and keys");
    channels[i]->authenticated_ = true;
  }
}

} // namespace joconde::engines::rss3
