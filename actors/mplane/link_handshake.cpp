#include "link_handshake.hpp"

#include "joconde/link.pb.h"
#include "joconde/messages/proto.hpp"

namespace joconde {

namespace {

constexpr size_t handshake_limit = 64 * 1024;
constexpr size_t frame_limit = 16 * 1024 * 1024;
constexpr auto handshake_ttl = std::chrono::seconds{15};

std::string str(const crypto::bytes& b) {
  return {b.begin(), b.end()};
}

crypto::bytes_view view(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

void put_u64(std::string& out, uint64_t x) {
  for (int i = 7; i >= 0; --i)
    out.push_back(static_cast<char>((x >> (i * 8)) & 0xff));
}

/// The bytes a frame or ack MAC covers: kind, session, sequence, then each item length-prefixed.
std::string mac_input(char kind, const std::string& session, uint64_t seq,
                      const google::protobuf::RepeatedPtrField<std::string>& items) {
  std::string buf;
  buf.push_back(kind);
  buf += session;
  put_u64(buf, seq);
  for (const auto& item : items) {
    put_u64(buf, item.size());
    buf += item;
  }
  return buf;
}

std::vector<std::string> chain_of(const v1::CertificateChain& chain) {
  return {chain.certificates().begin(), chain.certificates().end()};
}

void set_chain(v1::CertificateChain* out, const std::vector<std::string>& der) {
  for (const auto& d : der)
    out->add_certificates(d);
}

/// SHA-256(label || hello || challenge fields without signature): what the parent signs.
crypto::bytes parent_transcript(std::string_view hello, const v1::LinkChallenge& challenge) {
  v1::LinkChallenge unsigned_copy = challenge;
  unsigned_copy.clear_signature();
  crypto::sha256_hasher h;
  h.update(view("joconde link v1 parent"));
  h.update(view(hello));
  h.update(view(proto::serialize(unsigned_copy)));
  return h.finish();
}

/// SHA-256(label || hello || challenge): what the child signs.
crypto::bytes child_transcript(std::string_view hello, std::string_view challenge) {
  crypto::sha256_hasher h;
  h.update(view("joconde link v1 child"));
  h.update(view(hello));
  h.update(view(challenge));
  return h.finish();
}

struct direction_keys {
  crypto::secure_bytes c2p;
  crypto::secure_bytes p2c;
};

result<direction_keys> derive_keys(const crypto::private_key& own_ephemeral,
                                   std::string_view peer_ephemeral_der, std::string_view nonce_c,
                                   std::string_view nonce_p, std::string_view hello) {
  auto peer_key = crypto::public_key::from_der(view(peer_ephemeral_der));
  if (!peer_key)
    return fail(errc::malformed_input, "the peer's ephemeral key is not a valid public key");
  auto shared = own_ephemeral.ecdh(*peer_key);
  if (!shared)
    return shared.err();
  std::string salt{nonce_c};
  salt += nonce_p;
  auto th = crypto::sha256(view(hello));
  auto info = [&](std::string_view label) {
    crypto::bytes out{label.begin(), label.end()};
    out.insert(out.end(), th.begin(), th.end());
    return out;
  };
  auto c2p = crypto::hkdf_sha256(shared->view(), view(salt), info("joconde link c2p"), 32);
  auto p2c = crypto::hkdf_sha256(shared->view(), view(salt), info("joconde link p2c"), 32);
  if (!c2p)
    return c2p.err();
  if (!p2c)
    return p2c.err();
  return direction_keys{std::move(*c2p), std::move(*p2c)};
}

} // namespace

// -- link_session -------------------------------------------------------------------------------------

link_session::link_session(std::string session, verified_node peer, bool peer_is_parent,
                           crypto::secure_bytes tx_key, crypto::secure_bytes rx_key)
  : session_(std::move(session)),
    peer_(std::move(peer)),
    peer_is_parent_(peer_is_parent),
    tx_key_(std::move(tx_key)),
    rx_key_(std::move(rx_key)) {
  // nop
}

std::string link_session::seal_frame(const std::vector<std::string>& envelopes, uint64_t& seq_out) {
  v1::LinkFrame frame;
  frame.set_session(session_);
  frame.set_seq(++tx_seq_);
  for (const auto& env : envelopes)
    frame.add_envelopes(env);
  auto mac = crypto::hmac_sha256(tx_key_.view(),
                                 view(mac_input('F', session_, frame.seq(), frame.envelopes())));
  frame.set_mac(str(mac));
  seq_out = frame.seq();
  return proto::serialize(frame);
}

result<std::vector<std::string>> link_session::open_frame(std::string_view bytes,
                                                          uint64_t& seq_out) {
  auto frame = proto::parse<v1::LinkFrame>(bytes, frame_limit);
  if (!frame)
    return frame.err();
  if (!crypto::constant_time_equal(view(frame->session()), view(session_)))
    return fail(errc::unknown_peer, "frame for another link session");
  auto mac = crypto::hmac_sha256(rx_key_.view(),
                                 view(mac_input('F', session_, frame->seq(), frame->envelopes())));
  if (!crypto::constant_time_equal(mac, view(frame->mac())))
    return fail(errc::bad_mac, "frame MAC does not verify");
  if (frame->seq() <= rx_seq_)
    return fail(errc::replayed, "frame sequence " + std::to_string(frame->seq())
                                  + " is not after " + std::to_string(rx_seq_));
  rx_seq_ = frame->seq();
  seq_out = frame->seq();
  return std::vector<std::string>{frame->envelopes().begin(), frame->envelopes().end()};
}

std::string link_session::seal_ack(uint64_t seq) const {
  v1::LinkAck ack;
  ack.set_session(session_);
  ack.set_seq(seq);
  google::protobuf::RepeatedPtrField<std::string> none;
  ack.set_mac(str(crypto::hmac_sha256(tx_key_.view(), view(mac_input('A', session_, seq, none)))));
  return proto::serialize(ack);
}

result<uint64_t> link_session::open_ack(std::string_view bytes) const {
  auto ack = proto::parse<v1::LinkAck>(bytes, 1024);
  if (!ack)
    return ack.err();
  if (!crypto::constant_time_equal(view(ack->session()), view(session_)))
    return fail(errc::unknown_peer, "ack for another link session");
  google::protobuf::RepeatedPtrField<std::string> none;
  auto mac = crypto::hmac_sha256(rx_key_.view(), view(mac_input('A', session_, ack->seq(), none)));
  if (!crypto::constant_time_equal(mac, view(ack->mac())))
    return fail(errc::bad_mac, "ack MAC does not verify");
  return ack->seq();
}

// -- child side ---------------------------------------------------------------------------------------

result<child_handshake> make_hello(const trust_view& trust) {
  const auto& chain = trust.own_chain();
  if (chain.size() < 2)
    return fail(errc::invalid_state, "this node has no parent in its certificate chain");
  auto names = chain[1].dns_names();
  if (names.empty())
    return fail(errc::untrusted_chain, "the issuer certificate names no DNS identity");
  auto eph = crypto::private_key::generate();
  if (!eph)
    return eph.err();
  child_handshake st{{}, names.front(), chain[1].fingerprint(), str(crypto::random_bytes(32)),
                     std::move(*eph)};
  v1::LinkHello hello;
  hello.set_version(link_protocol_version);
  hello.set_from(trust.self());
  hello.set_to(st.expected_parent);
  set_chain(hello.mutable_chain(), trust.own_chain_der());
  hello.set_nonce(st.nonce);
  hello.set_ephemeral_key(str(st.ephemeral.public_key().to_der()));
  st.hello = proto::serialize(hello);
  return st;
}

result<std::pair<link_session, std::string>>
on_challenge(trust_view& trust, const node_signer& signer, const child_handshake& state,
             std::string_view challenge_bytes, std::chrono::system_clock::time_point now) {
  auto challenge = proto::parse<v1::LinkChallenge>(challenge_bytes, handshake_limit);
  if (!challenge)
    return challenge.err();
  auto parent = trust.verify_chain(chain_of(challenge->chain()), now);
  if (!parent)
    return parent.err();
  // Only the grandparent can certify the parent's name (name constraints), so the name identifies
  // the parent also after the parent rotated its key.
  if (parent->fqdn != state.expected_parent)
    return fail(errc::unknown_peer, "the node at the parent address is " + parent->fqdn + " ("
                                      + parent->fingerprint + "), not the issuer of this node");
  if (challenge->nonce().size() != 32 || challenge->session().size() != 16)
    return fail(errc::malformed_input, "challenge nonce or session has the wrong size");
  auto digest = parent_transcript(state.hello, *challenge);
  if (auto ok = parent->leaf.public_key().verify(digest, view(challenge->signature())); !ok)
    return fail(errc::bad_signature, "the parent's challenge signature does not verify");
  auto keys = derive_keys(state.ephemeral, challenge->ephemeral_key(), state.nonce,
                          challenge->nonce(), state.hello);
  if (!keys)
    return keys.err();
  auto sig = signer.sign(child_transcript(state.hello, challenge_bytes));
  if (!sig)
    return sig.err();
  v1::LinkProof proof;
  proof.set_session(challenge->session());
  proof.set_signature(str(*sig));
  link_session session{challenge->session(), std::move(*parent), true, std::move(keys->c2p),
                       std::move(keys->p2c)};
  return std::pair{std::move(session), proto::serialize(proof)};
}

// -- parent side --------------------------------------------------------------------------------------

result<std::pair<parent_handshake, std::string>>
on_hello(trust_view& trust, const node_signer& signer, std::string_view hello_bytes,
         std::chrono::system_clock::time_point now) {
  auto hello = proto::parse<v1::LinkHello>(hello_bytes, handshake_limit);
  if (!hello)
    return hello.err();
  if (hello->version() != link_protocol_version)
    return fail(errc::malformed_input, "link protocol version " + std::to_string(hello->version())
                                         + " is not supported");
  if (hello->to() != trust.self())
    return fail(errc::unknown_peer, "hello addressed to " + hello->to() + ", this is " + trust.self());
  if (hello->nonce().size() != 32)
    return fail(errc::malformed_input, "hello nonce must be 32 bytes");
  auto child = trust.verify_chain(chain_of(hello->chain()), now);
  if (!child)
    return child.err();
  if (child->fqdn != hello->from())
    return fail(errc::unknown_peer, "hello claims to be " + hello->from() + " but the certificate is "
                                      + child->fqdn);
  if (!is_direct_child(child->fqdn, trust.self()) || child->chain.size() < 2
      || !trust.is_own_certificate(child->chain[1]))
    return fail(errc::unknown_peer, child->fqdn + " was not enrolled by this node");
  auto eph = crypto::private_key::generate();
  if (!eph)
    return eph.err();
  v1::LinkChallenge challenge;
  challenge.set_session(str(crypto::random_bytes(16)));
  set_chain(challenge.mutable_chain(), trust.own_chain_der());
  challenge.set_nonce(str(crypto::random_bytes(32)));
  challenge.set_ephemeral_key(str(eph->public_key().to_der()));
  auto sig = signer.sign(parent_transcript(hello_bytes, challenge));
  if (!sig)
    return sig.err();
  challenge.set_signature(str(*sig));
  auto keys = derive_keys(*eph, hello->ephemeral_key(), hello->nonce(), challenge.nonce(),
                          hello_bytes);
  if (!keys)
    return keys.err();
  auto challenge_bytes = proto::serialize(challenge);
  parent_handshake st{challenge.session(), std::string{hello_bytes}, challenge_bytes, std::move(*child),
                      std::move(keys->c2p), std::move(keys->p2c),
                      std::chrono::steady_clock::now() + handshake_ttl};
  return std::pair{std::move(st), std::move(challenge_bytes)};
}

std::string hello_claimed_sender(std::string_view hello_bytes) {
  auto hello = proto::parse<v1::LinkHello>(hello_bytes, handshake_limit);
  if (!hello)
    return {};
  // At most an FQDN's length: the logger escapes it, this keeps the line short.
  return hello->from().substr(0, 253);
}

result<std::string> proof_session(std::string_view proof_bytes) {
  auto proof = proto::parse<v1::LinkProof>(proof_bytes, handshake_limit);
  if (!proof)
    return proof.err();
  return proof->session();
}

result<link_session> on_proof(const parent_handshake& state, std::string_view proof_bytes) {
  auto proof = proto::parse<v1::LinkProof>(proof_bytes, handshake_limit);
  if (!proof)
    return proof.err();
  if (std::chrono::steady_clock::now() > state.expires)
    return fail(errc::replayed, "the challenge has expired");
  auto digest = child_transcript(state.hello, state.challenge);
  if (auto ok = state.child.leaf.public_key().verify(digest, view(proof->signature())); !ok)
    return fail(errc::bad_signature, "the child's proof signature does not verify");
  if (!crypto::constant_time_equal(view(proof->session()), view(state.session)))
    return fail(errc::replayed, "proof for another handshake");
  return link_session{state.session, state.child, false, crypto::secure_bytes{state.p2c.view()},
                      crypto::secure_bytes{state.c2p.view()}};
}

} // namespace joconde
