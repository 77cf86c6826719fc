// libFuzzer target: the encrypted frames of an attested session's stream (enclave/src/stream.cpp,
// secure_stream::receive) with the peer's bytes coming from the fuzzer.
//
// The first byte picks what the rest is:
//   0  the raw wire (the pre-authentication path: frame header, length checks, tag refusal)
//   1  frames the harness seals with the session's key (a fixed test key made here): each a
//      plaintext of the fuzzer's choosing, its length header true or chosen by the fuzzer; the
//      post-authentication path (message length, frame sizes, reassembly)
//   2  a message another stream with the same key sends: it must arrive unchanged, or be refused
//      as too large when over the receiver's limit

#include "fuzz_input.hpp"
#include "fuzz_socket.hpp"

#include "joconde/enclave/stream.hpp"
#include "joconde/runtime/crypto.hpp"

#include <openssl/evp.h>

#include <chrono>
#include <memory>

namespace {

using namespace joconde;
using namespace joconde::enclave;

constexpr std::chrono::milliseconds timeout{2000};

struct fixture {
  std::array<uint8_t, 32> key{};
  std::array<uint8_t, 32> salt{};
  crypto::secure_bytes sender_key;  ///< the first side's sending key, as stream.cpp derives it

  fixture() {
    for (size_t i = 0; i < key.size(); ++i) {
      key[i] = static_cast<uint8_t>(i * 7 + 1);
      salt[i] = static_cast<uint8_t>(255 - i);
    }
    std::string info{stream_key_info};
    info += " first->second";
    sender_key = crypto::hkdf_sha256({key.data(), key.size()}, {salt.data(), salt.size()},
                                     crypto::to_bytes(info), 32)
                   .value();
  }
};

fixture& fx() {
  static fixture f;
  return f;
}

result<secure_stream> receiver(int fd) {
  return secure_stream::create(fd, fx().key, fx().salt, stream_side::second, timeout);
}

/// u32be(header) || AES-256-GCM(plain) || tag, nonce the frame counter, the header as AAD.
void seal(std::string& wire, uint64_t counter, uint32_t header, std::string_view plain) {
  using ctx_ptr = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;
  ctx_ptr ctx{EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free};
  std::array<uint8_t, 12> iv{};
  for (int i = 0; i < 8; ++i)
    iv[11 - i] = static_cast<uint8_t>(counter >> (8 * i));
  uint8_t head[4] = {static_cast<uint8_t>(header >> 24), static_cast<uint8_t>(header >> 16),
                     static_cast<uint8_t>(header >> 8), static_cast<uint8_t>(header)};
  std::string body(plain.size() + 16, '\0');
  int len = 0;
  auto* out = reinterpret_cast<unsigned char*>(body.data());
  bool ok = EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, fx().sender_key.view().data(),
                               iv.data()) == 1
            && EVP_EncryptUpdate(ctx.get(), nullptr, &len, head, 4) == 1
            && EVP_EncryptUpdate(ctx.get(), out, &len, reinterpret_cast<const unsigned char*>(plain.data()),
                                 static_cast<int>(plain.size())) == 1
            && EVP_EncryptFinal_ex(ctx.get(), out + len, &len) == 1
            && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, out + plain.size()) == 1;
  fuzz::require(ok, "the harness seals a frame");
  wire.append(reinterpret_cast<const char*>(head), 4);
  wire += body;
}

void sealed_frames(fuzz::input& in) {
  std::string wire;
  for (uint64_t counter = 0; !in.empty() && counter < 8; ++counter) {
    auto flags = in.byte();
    std::string plain;
    if (counter == 0 && (flags & 1)) {
      // A first frame: u64be(total) before the message bytes.
      auto total = (flags & 2) ? in.u64() : static_cast<uint64_t>(in.u16());
      for (int i = 7; i >= 0; --i)
        plain.push_back(static_cast<char>(total >> (8 * i)));
    }
    plain += in.small_string();
    auto header = (flags & 4) ? static_cast<uint32_t>(in.u16()) : static_cast<uint32_t>(plain.size());
    seal(wire, counter, header, plain);
  }
  fuzz::scripted_socket s{{reinterpret_cast<const uint8_t*>(wire.data()), wire.size()}};
  auto rx = receiver(s.theirs);
  fuzz::require(rx.ok(), "a stream is made");
  (void) rx->receive(static_cast<size_t>(in.byte()) * 64);
  (void) rx->receive();
}

void round_trip(fuzz::input& in) {
  auto max = static_cast<size_t>(in.u16());
  auto message = in.rest_bytes();
  int fds[2];
  fuzz::require(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0, "a socket pair");
  auto tx = secure_stream::create(fds[0], fx().key, fx().salt, stream_side::first, timeout);
  auto rx = receiver(fds[1]);
  fuzz::require(tx.ok() && rx.ok(), "streams are made");
  fuzz::require(tx->send(message).ok(), "a message is sent");
  auto got = rx->receive(max);
  if (message.size() > max) {
    fuzz::require(!got.ok() && got.err().code == errc::too_large, "an oversized message is refused");
    return;
  }
  fuzz::require(got.ok(), "a sent message arrives");
  fuzz::require(std::equal(got->begin(), got->end(), message.begin(), message.end()),
                "a message arrives unchanged");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::input in{data, size};
  switch (in.byte() % 3) {
    case 0: {
      fuzz::scripted_socket s{in.rest_bytes()};
      auto rx = receiver(s.theirs);
      fuzz::require(rx.ok(), "a stream is made");
      (void) rx->receive(4096);
      (void) rx->receive();
      break;
    }
    case 1:
      sealed_frames(in);
      break;
    default:
      round_trip(in);
  }
  return 0;
}
