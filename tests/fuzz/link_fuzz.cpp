// libFuzzer target: the link protocol between a node and its parent (actors/mplane/link_handshake.cpp,
// as connection_manager calls it): the three handshake messages before authentication and the MACed
// frames and acks of an established link after it.
//
// The first byte picks what the rest is:
//   0  a LinkHello to the root (on_hello, hello_claimed_sender)     1  patches over cp1's valid hello
//   2  a LinkChallenge to cp1 (on_challenge)                         3  patches over the root's valid one
//   4  a LinkProof to the root (proof_session, on_proof)             5  patches over cp1's valid proof
//   6  a LinkFrame on an established link (open_frame, pre-MAC)
//   7  envelopes cp1 seals into a frame with the link key: the root must open exactly them; the same
//      frame, patched, must not open again (post-MAC path, replay)
//   8  a LinkAck (open_ack); the root's own ack of a sequence number must open to that number
// The link key and every private key are made when the process starts (fuzz_pki.hpp).

#include "fuzz_input.hpp"
#include "fuzz_pki.hpp"

#include "mplane/link_handshake.hpp"

#include <optional>

namespace {

using namespace joconde;

struct fixture {
  bool quiet = fuzz::quiet_protobuf();
  fuzz::fuzz_pki& p = fuzz::fuzz_pki::get();
  child_handshake child = make_hello(p.cp1_trust).value();
  std::optional<parent_handshake> parent;
  std::string challenge;
  std::string proof;
  std::optional<link_session> child_link;
  std::optional<link_session> parent_link;

  fixture() {
    auto ch = on_hello(p.root_trust, p.root_signer, child.hello, fuzz::fuzz_now()).value();
    parent.emplace(std::move(ch.first));
    // The harness holds one challenge for the whole campaign: it must not expire under it.
    parent->expires = std::chrono::steady_clock::time_point::max();
    challenge = std::move(ch.second);
    auto established = on_challenge(p.cp1_trust, p.cp1_signer, child, challenge, fuzz::fuzz_now()).value();
    proof = std::move(established.second);
    child_link.emplace(std::move(established.first));
    parent_link.emplace(on_proof(*parent, proof).value());
  }
};

fixture& fx() {
  static fixture f;
  return f;
}

std::string patched(fuzz::input& in, std::string msg) {
  fuzz::apply_patches(in, msg);
  return msg;
}

void hello(std::string_view bytes) {
  auto& f = fx();
  (void) hello_claimed_sender(bytes);
  (void) on_hello(f.p.root_trust, f.p.root_signer, bytes, fuzz::fuzz_now());
}

void challenge(std::string_view bytes) {
  auto& f = fx();
  (void) on_challenge(f.p.cp1_trust, f.p.cp1_signer, f.child, bytes, fuzz::fuzz_now());
}

void proof(std::string_view bytes) {
  auto& f = fx();
  if (auto session = proof_session(bytes); session && *session == f.parent->session)
    (void) on_proof(*f.parent, bytes);
}

void sealed_frame(fuzz::input& in) {
  auto& f = fx();
  std::vector<std::string> envelopes;
  for (auto n = in.byte() % 5; n > 0; --n)
    envelopes.push_back(in.small_string());
  uint64_t sent = 0;
  auto frame = f.child_link->seal_frame(envelopes, sent);
  uint64_t got = 0;
  auto opened = f.parent_link->open_frame(frame, got);
  fuzz::require(opened.ok(), "the parent opens the child's frame");
  fuzz::require(*opened == envelopes && got == sent, "a frame opens to the envelopes sealed in it");
  auto changed = patched(in, frame);
  fuzz::require(!f.parent_link->open_frame(changed, got).ok(), "a frame opens once only");
  auto ack = f.parent_link->seal_ack(sent);
  auto acked = f.child_link->open_ack(ack);
  fuzz::require(acked.ok() && *acked == sent, "the child opens the parent's ack");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::input in{data, size};
  auto& f = fx();
  uint64_t seq = 0;
  switch (in.byte() % 9) {
    case 0:
      hello(in.rest());
      break;
    case 1:
      hello(patched(in, f.child.hello));
      break;
    case 2:
      challenge(in.rest());
      break;
    case 3:
      challenge(patched(in, f.challenge));
      break;
    case 4:
      proof(in.rest());
      break;
    case 5:
      proof(patched(in, f.proof));
      break;
    case 6:
      (void) f.parent_link->open_frame(in.rest(), seq);
      break;
    case 7:
      sealed_frame(in);
      break;
    default:
      (void) f.child_link->open_ack(in.rest());
  }
  return 0;
}
