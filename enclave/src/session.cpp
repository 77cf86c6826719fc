#include "joconde/enclave/session.hpp"

#include "joconde/io/fd.hpp"
#include "joconde/io/stream.hpp"

#include "key_agreement.hpp"
#include "ossl.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <unistd.h>

#include <algorithm>
#include <utility>

namespace joconde::enclave {

namespace {

constexpr std::string_view client_hello_magic = "JCH1";
constexpr std::string_view client_answer_magic = "JCP1";
constexpr std::size_t max_client_answer = 4 + 32 + max_proof_size;
constexpr std::size_t max_ct_id = 255;
constexpr std::string_view peer_ready = "joconde peer session ready v1";

/// Wipes a key when it goes out of scope.
template <std::size_t N>
struct wiped_key {
  std::array<std::uint8_t, N> value{};
  ~wiped_key() { OPENSSL_cleanse(value.data(), value.size()); }
};

bool starts_with(std::span<const std::uint8_t> data, std::string_view magic) {
  return data.size() >= magic.size() && std::equal(magic.begin(), magic.end(), data.begin());
}

/// SHA-256 of the concatenation of `parts`.
std::array<std::uint8_t, 32> transcript_hash(std::initializer_list<std::span<const std::uint8_t>> parts) {
  std::array<std::uint8_t, 32> out{};
  detail::md_ctx_ptr ctx{EVP_MD_CTX_new()};
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  for (auto part : parts)
    EVP_DigestUpdate(ctx.get(), part.data(), part.size());
  EVP_DigestFinal_ex(ctx.get(), out.data(), nullptr);
  return out;
}

error crypto(std::string_view what) {
  return fail(errc::crypto_failure, "the attested session could not " + std::string{what} + " ("
                                      + ossl::error_text()
                                      + "); check the OpenSSL installation");
}

error malformed(std::string_view what, std::string_view problem) {
  return fail(errc::malformed_input,
              "the " + std::string{what} + " is malformed (" + std::string{problem}
                + "); the other side is not a joconde CT VM session endpoint or runs another "
                  "version: check both and connect again");
}

result<void> check_common(int fd, std::string_view ct_id, std::chrono::milliseconds timeout) {
  if (fd < 0)
    return fail(errc::invalid_config, "an attested session needs a connected socket; connect first");
  if (ct_id.empty() || ct_id.size() > max_ct_id)
    return fail(errc::invalid_config, "the Computing Task id is empty or over 255 bytes; pass the "
                                      "id of the CT the VM serves");
  if (timeout.count() <= 0)
    return fail(errc::invalid_config, "the session set-up needs a positive timeout");
  return ok();
}

/// HKDF info of a client session key: label || u8(len(ct_id)) || ct_id || u32be(cp_index).
bytes client_info(std::string_view ct_id, std::uint32_t cp_index) {
  bytes info(client_key_info.begin(), client_key_info.end());
  detail::put_be(info, ct_id.size(), 1);
  info.insert(info.end(), ct_id.begin(), ct_id.end());
  detail::put_be(info, cp_index, 4);
  return info;
}

/// The client session key from the X25519 agreement of `own` with `peer`.
result<void> client_key(EVP_PKEY* own, std::span<const std::uint8_t, 32> peer,
                        std::span<const std::uint8_t> nonce, std::string_view ct_id,
                        std::uint32_t cp_index, std::span<std::uint8_t, 32> out,
                        std::string_view peer_name) {
  wiped_key<32> secret;
  if (!detail::x25519_agree(own, peer, secret.value))
    return fail(errc::protocol_error,
                "no X25519 secret can be agreed with the key " + std::string{peer_name}
                  + " sent (" + ossl::error_text()
                  + "): it is not a valid public key; the other side is broken or malicious");
  if (!ossl::hkdf_sha256(secret.value, nonce, client_info(ct_id, cp_index), out))
    return crypto("derive the session key with HKDF-SHA-256");
  return ok();
}

/// Key confirmation of a peer session: each side sends peer_ready over the new stream and expects
/// the peer's. It proves both derived the same keys, and a side whose peer refused its evidence
/// learns it here rather than on first use.
result<void> confirm(secure_stream& stream, std::string_view peer_name) {
  auto ready = std::span{reinterpret_cast<const std::uint8_t*>(peer_ready.data()), peer_ready.size()};
  if (auto r = stream.send(ready); !r)
    return r;
  auto got = stream.receive(peer_ready.size());
  if (!got && got.err().code == errc::io_error)
    return fail(errc::io_error, std::string{peer_name}
                                  + " closed the connection instead of confirming the session: it "
                                    "refused this side's evidence (see its log) or stopped");
  if (!got)
    return got.err();
  if (!std::ranges::equal(*got, ready))
    return fail(errc::protocol_error, std::string{peer_name}
                                        + " did not confirm the session with the expected message; "
                                          "it runs another protocol version");
  return ok();
}

} // namespace

// -- VM to VM --

result<peer_session> connect_peer(int fd, handshake::settings settings,
                                  std::chrono::milliseconds timeout) {
  io::unique_fd guard{fd};
  if (auto r = check_common(fd, settings.ct_id, timeout); !r)
    return r.err();
  auto budget = io::within(timeout);
  auto peer_name = "the CT VM of CP " + std::to_string(settings.peer_cp);
  bool lower = settings.own_cp < settings.peer_cp;
  auto hs = handshake::create(std::move(settings));
  if (!hs)
    return std::move(hs).err();
  auto own_hello = hs->start();
  if (!own_hello)
    return std::move(own_hello).err();
  if (auto r = io::send_frame(fd, *own_hello, budget, peer_name); !r)
    return r.err();
  auto peer_hello = io::receive_frame(fd, max_hello_size, budget, peer_name, "hello");
  if (!peer_hello)
    return std::move(peer_hello).err();
  auto own_proof = hs->on_hello(*peer_hello);
  if (!own_proof)
    return std::move(own_proof).err();
  // The lower CP index sends its proof first, so large proofs never fill both socket buffers.
  result<bytes> peer_proof = bytes{};
  if (lower) {
    if (auto r = io::send_frame(fd, *own_proof, budget, peer_name); !r)
      return r.err();
    peer_proof = io::receive_frame(fd, max_proof_size, budget, peer_name, "proof");
  } else {
    peer_proof = io::receive_frame(fd, max_proof_size, budget, peer_name, "proof");
    if (peer_proof)
      if (auto r = io::send_frame(fd, *own_proof, budget, peer_name); !r)
        return r.err();
  }
  if (!peer_proof)
    return std::move(peer_proof).err();
  auto est = hs->on_proof(*peer_proof);
  if (!est)
    return std::move(est).err();
  wiped_key<32> channel;
  channel.value = est->key;
  OPENSSL_cleanse(est->key.data(), est->key.size());
  auto transcript = lower ? transcript_hash({*own_hello, *peer_hello, *own_proof, *peer_proof})
                          : transcript_hash({*peer_hello, *own_hello, *peer_proof, *own_proof});
  channel_key mpc_key{};
  auto info = std::span{reinterpret_cast<const std::uint8_t*>(mpc_key_info.data()),
                        mpc_key_info.size()};
  if (!ossl::hkdf_sha256(channel.value, transcript, info, mpc_key))
    return crypto("derive the MPC channel key with HKDF-SHA-256");
  auto stream = secure_stream::create(guard.release(), channel.value, transcript,
                                      lower ? stream_side::first : stream_side::second, timeout);
  auto confirmed = stream ? confirm(*stream, peer_name) : result<void>{stream.err()};
  if (!confirmed) {
    OPENSSL_cleanse(mpc_key.data(), mpc_key.size());
    return confirmed.err();
  }
  return peer_session{std::move(*stream), mpc_key, std::move(est->peer)};
}

// -- client to VM --

result<client_session> attest_vm(int fd, client_settings settings,
                                 std::chrono::milliseconds timeout) {
  io::unique_fd guard{fd};
  if (auto r = check_common(fd, settings.ct_id, timeout); !r)
    return r.err();
  if (settings.verifier == nullptr)
    return fail(errc::invalid_config, "attesting a CT VM needs a verifier; pass one");
  auto budget = io::within(timeout);
  auto peer_name = "the CT VM of CP " + std::to_string(settings.cp_index);
  handshake_nonce nonce{};
  if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1)
    return crypto("draw a nonce");
  detail::x25519_keypair kx;
  if (!detail::x25519_generate(kx))
    return crypto("make an X25519 key");
  bytes hello;
  hello.reserve(client_hello_size);
  hello.insert(hello.end(), client_hello_magic.begin(), client_hello_magic.end());
  hello.insert(hello.end(), nonce.begin(), nonce.end());
  hello.insert(hello.end(), kx.public_key.begin(), kx.public_key.end());
  if (auto r = io::send_frame(fd, hello, budget, peer_name); !r)
    return r.err();
  auto answer = io::receive_frame(fd, max_client_answer, budget, peer_name, "answer");
  if (!answer)
    return std::move(answer).err();
  if (!starts_with(*answer, client_answer_magic) || answer->size() < 4 + 32)
    return malformed("CT VM's answer", "it does not start with \"JCP1\" and a 32-byte key");
  auto vm_key = std::span<const std::uint8_t, 32>{answer->data() + 4, 32};
  auto ev = decode_evidence(std::span{*answer}.subspan(4 + 32));
  if (!ev)
    return std::move(ev).err();
  auto expected = report_data_for(client_handshake_label, nonce, settings.ct_id,
                                  cp_id_of(settings.cp_index), vm_key);
  auto vm_claims = settings.verifier->verify(*ev, settings.reference, expected);
  if (!vm_claims)
    return std::move(vm_claims).err();
  wiped_key<32> key;
  auto derived = client_key(kx.key.get(), vm_key, nonce, settings.ct_id, settings.cp_index,
                            key.value, peer_name);
  kx.key.reset();
  if (!derived)
    return derived.err();
  auto stream = secure_stream::create(guard.release(), key.value, transcript_hash({hello, *answer}),
                                      stream_side::first, timeout);
  if (!stream)
    return std::move(stream).err();
  return client_session{std::move(*stream), std::move(*vm_claims)};
}

result<secure_stream> accept_client(int fd, vm_settings settings,
                                    std::chrono::milliseconds timeout) {
  io::unique_fd guard{fd};
  if (auto r = check_common(fd, settings.ct_id, timeout); !r)
    return r.err();
  if (settings.attester == nullptr)
    return fail(errc::invalid_config, "a CT VM needs its attester to answer clients; pass it");
  auto budget = io::within(timeout);
  constexpr std::string_view peer_name = "the client";
  auto hello = io::receive_frame(fd, client_hello_size, budget, peer_name, "hello");
  if (!hello)
    return std::move(hello).err();
  if (hello->size() != client_hello_size || !starts_with(*hello, client_hello_magic))
    return malformed("client's hello", "it is not \"JCH1\", a 32-byte nonce and a 32-byte key");
  auto nonce = std::span<const std::uint8_t>{hello->data() + 4, 32};
  auto client_public = std::span<const std::uint8_t, 32>{hello->data() + 4 + 32, 32};
  detail::x25519_keypair kx;
  if (!detail::x25519_generate(kx))
    return crypto("make an X25519 key");
  wiped_key<32> key;
  auto derived = client_key(kx.key.get(), client_public, nonce, settings.ct_id, settings.cp_index,
                            key.value, peer_name);
  kx.key.reset();
  if (!derived)
    return derived.err();
  auto data = report_data_for(client_handshake_label, nonce, settings.ct_id,
                              cp_id_of(settings.cp_index), kx.public_key);
  auto ev = settings.attester->get_evidence(data);
  if (!ev)
    return std::move(ev).err();
  auto encoded = encode(*ev);
  bytes answer;
  answer.reserve(4 + 32 + encoded.size());
  answer.insert(answer.end(), client_answer_magic.begin(), client_answer_magic.end());
  answer.insert(answer.end(), kx.public_key.begin(), kx.public_key.end());
  answer.insert(answer.end(), encoded.begin(), encoded.end());
  if (answer.size() > max_client_answer)
    return fail(errc::too_large, "this VM's evidence is over the limit of "
                                   + std::to_string(max_proof_size)
                                   + " bytes a client accepts; the platform's certificate chain "
                                     "is too long");
  if (auto r = io::send_frame(fd, answer, budget, peer_name); !r)
    return r.err();
  return secure_stream::create(guard.release(), key.value, transcript_hash({*hello, answer}),
                               stream_side::second, timeout);
}

} // namespace joconde::enclave
