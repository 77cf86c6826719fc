#include "joconde/enclave/handshake.hpp"

#include "key_agreement.hpp"
#include "ossl.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>

namespace joconde::enclave {

namespace {

constexpr std::string_view hello_magic = "JHL1";
constexpr std::string_view proof_magic = "JPF1";
constexpr std::size_t hello_size = 4 + 4 + 32 + 32;
constexpr std::size_t max_ct_id = 255;

bool starts_with(std::span<const std::uint8_t> data, std::string_view magic) {
  return data.size() >= magic.size() && std::equal(magic.begin(), magic.end(), data.begin());
}

error malformed(std::string_view what, std::string_view problem) {
  return fail(errc::malformed_input,
              "the peer's handshake " + std::string{what} + " is malformed (" + std::string{problem}
                + "); it is not a joconde CT VM channel message or was cut in transit: check that "
                  "both sides run the same joconde version and start a new handshake");
}

error crypto(std::string_view what) {
  return fail(errc::crypto_failure, "the channel handshake could not " + std::string{what} + " ("
                                      + ossl::error_text()
                                      + "); check the OpenSSL installation");
}

error out_of_order(std::string_view what) {
  return fail(errc::protocol_error,
              "the peer sent " + std::string{what}
                + ": the handshake order is hello then proof, once each; start a new handshake");
}

} // namespace

/// The ephemeral X25519 key pair of one handshake.
struct handshake::keypair : detail::x25519_keypair {};

std::string cp_id_of(std::uint32_t cp_index) {
  return "cp-" + std::to_string(cp_index);
}

// -- messages --

bytes hello::encode() const {
  bytes out(hello_magic.begin(), hello_magic.end());
  detail::put_be(out, cp_index, 4);
  out.insert(out.end(), nonce.begin(), nonce.end());
  out.insert(out.end(), kx_public_key.begin(), kx_public_key.end());
  return out;
}

result<hello> hello::decode(std::span<const std::uint8_t> data) {
  if (data.size() != hello_size)
    return malformed("hello", std::to_string(data.size()) + " bytes, expected "
                                + std::to_string(hello_size));
  if (!starts_with(data, hello_magic))
    return malformed("hello", "it does not start with \"JHL1\"");
  hello h;
  h.cp_index = static_cast<std::uint32_t>(detail::get_be(data.data() + 4, 4));
  std::copy_n(data.data() + 8, h.nonce.size(), h.nonce.begin());
  std::copy_n(data.data() + 8 + h.nonce.size(), h.kx_public_key.size(), h.kx_public_key.begin());
  return h;
}

bytes proof::encode() const {
  bytes out(proof_magic.begin(), proof_magic.end());
  auto ev = enclave::encode(evidence);
  out.insert(out.end(), ev.begin(), ev.end());
  return out;
}

result<proof> proof::decode(std::span<const std::uint8_t> data) {
  if (data.size() > max_proof_size)
    return malformed("proof", std::to_string(data.size()) + " bytes, over the limit of "
                                + std::to_string(max_proof_size));
  if (!starts_with(data, proof_magic))
    return malformed("proof", "it does not start with \"JPF1\"");
  auto ev = decode_evidence(data.subspan(proof_magic.size()));
  if (!ev)
    return std::move(ev).err();
  return proof{std::move(*ev)};
}

// -- the handshake --

result<handshake> handshake::create(settings s) {
  if (s.ct_id.empty() || s.ct_id.size() > max_ct_id)
    return fail(errc::invalid_config, "the Computing Task id is empty or over 255 bytes; pass the "
                                      "id of the CT both VMs serve");
  if (s.own_cp == s.peer_cp)
    return fail(errc::invalid_config, "the peer's CP index equals this side's ("
                                        + std::to_string(s.own_cp)
                                        + "); a handshake joins two different Computing Parties");
  if (s.attester == nullptr || s.verifier == nullptr)
    return fail(errc::invalid_config, "the handshake needs both an attester (to prove this VM) and a "
                                      "verifier (to check the peer); pass both");
  handshake_nonce nonce{};
  if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1)
    return crypto("draw a nonce");
  auto kx = std::make_unique<keypair>();
  if (!detail::x25519_generate(*kx))
    return crypto("make an X25519 key");
  return handshake{std::move(s), nonce, std::move(kx)};
}

handshake::handshake(settings s, handshake_nonce nonce, std::unique_ptr<keypair> kx)
  : settings_(std::move(s)), nonce_(nonce), kx_(std::move(kx)) {
  // nop
}

handshake::handshake(handshake&&) noexcept = default;
handshake& handshake::operator=(handshake&&) noexcept = default;
handshake::~handshake() = default;

error handshake::abort(error e) {
  stage_ = stage::failed;
  kx_.reset();
  return e;
}

result<bytes> handshake::start() {
  if (stage_ != stage::created)
    return fail(errc::invalid_state, "this handshake has already sent its hello or has ended; make a "
                                     "new handshake for a new channel");
  stage_ = stage::started;
  return hello{settings_.own_cp, nonce_, kx_->public_key}.encode();
}

result<bytes> handshake::on_hello(std::span<const std::uint8_t> data) {
  if (stage_ == stage::failed || stage_ == stage::done)
    return fail(errc::invalid_state, "this handshake has ended; make a new handshake");
  if (stage_ == stage::created)
    return fail(errc::invalid_state, "the peer's hello arrived before this side made its own; call "
                                     "start(), send its hello, then pass the peer's hello again");
  if (stage_ == stage::proved)
    return abort(out_of_order("a second hello"));
  auto peer = hello::decode(data);
  if (!peer)
    return abort(std::move(peer).err());
  if (peer->cp_index == settings_.own_cp)
    return abort(fail(errc::unknown_peer,
                      "the peer's hello carries this side's own CP index "
                        + std::to_string(settings_.own_cp)
                        + ": it is this side's hello reflected back, not the peer's; check the "
                          "connection and start a new handshake"));
  if (peer->cp_index != settings_.peer_cp)
    return abort(fail(errc::unknown_peer, "the hello comes from CP " + std::to_string(peer->cp_index)
                                            + ", expected CP " + std::to_string(settings_.peer_cp)
                                            + "; check which party this connection reaches"));
  auto data_to_bind = report_data_for(channel_handshake_label, peer->nonce, settings_.ct_id,
                                      cp_id_of(settings_.own_cp), kx_->public_key);
  auto ev = settings_.attester->get_evidence(data_to_bind);
  if (!ev)
    return abort(std::move(ev).err());
  peer_ = *peer;
  stage_ = stage::proved;
  return proof{std::move(*ev)}.encode();
}

result<established> handshake::on_proof(std::span<const std::uint8_t> data) {
  if (stage_ == stage::failed || stage_ == stage::done)
    return fail(errc::invalid_state, "this handshake has ended; make a new handshake");
  if (stage_ != stage::proved)
    return abort(out_of_order("a proof before its hello"));
  auto p = proof::decode(data);
  if (!p)
    return abort(std::move(p).err());
  auto expected = report_data_for(channel_handshake_label, nonce_, settings_.ct_id,
                                  cp_id_of(settings_.peer_cp), peer_.kx_public_key);
  auto peer_claims = settings_.verifier->verify(p->evidence, settings_.reference, expected);
  if (!peer_claims)
    return abort(std::move(peer_claims).err());

  // X25519 with the peer's key from its (now attested) hello; the private key goes right after.
  std::array<std::uint8_t, 32> secret{};
  bool derived = detail::x25519_agree(kx_->key.get(), peer_.kx_public_key, secret);
  kx_.reset();
  if (!derived)
    return abort(crypto("agree on an X25519 secret with the peer's key"));

  // HKDF-SHA-256: salt = both nonces, info = label, CT id and both CP indices, lower CP first.
  bool own_first = settings_.own_cp < settings_.peer_cp;
  const auto& first_nonce = own_first ? nonce_ : peer_.nonce;
  const auto& second_nonce = own_first ? peer_.nonce : nonce_;
  bytes salt(first_nonce.begin(), first_nonce.end());
  salt.insert(salt.end(), second_nonce.begin(), second_nonce.end());
  bytes info(channel_key_info.begin(), channel_key_info.end());
  detail::put_be(info, settings_.ct_id.size(), 1);
  info.insert(info.end(), settings_.ct_id.begin(), settings_.ct_id.end());
  detail::put_be(info, std::min(settings_.own_cp, settings_.peer_cp), 4);
  detail::put_be(info, std::max(settings_.own_cp, settings_.peer_cp), 4);

  established out{{}, std::move(*peer_claims)};
  bool expanded = ossl::hkdf_sha256(secret, salt, info, out.key);
  OPENSSL_cleanse(secret.data(), secret.size());
  if (!expanded)
    return abort(crypto("derive the channel key with HKDF-SHA-256"));
  stage_ = stage::done;
  return out;
}

} // namespace joconde::enclave
