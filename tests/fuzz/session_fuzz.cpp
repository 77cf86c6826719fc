// libFuzzer target: the attested session set-up between CT VMs and between a client and a CT VM
// (enclave/src/handshake.cpp, session.cpp) with the peer's messages coming from the fuzzer.
//
// The first byte picks what the rest is:
//   0  a peer's hello, then (second half) its proof, to a started handshake (on_hello, on_proof)
//   1  patches over the proof of a real peer that answered this side's hello: unpatched, both sides
//      must derive the same key (the post-evidence path: key derivation, claims)
//   2  the wire of a client to a CT VM (accept_client reads the client hello)
//   3  the wire of a CT VM to a client (attest_vm reads and verifies the VM's answer)
//   4  the wire of a peer CT VM (connect_peer: length-prefixed hello and proof)

#include "fuzz_input.hpp"
#include "fuzz_socket.hpp"
#include "fuzz_tee.hpp"

#include "joconde/enclave/handshake.hpp"
#include "joconde/enclave/session.hpp"

#include <chrono>

namespace {

using namespace joconde;
using namespace joconde::enclave;

constexpr std::chrono::milliseconds timeout{2000};
constexpr std::string_view ct_id = "ct-fuzz";

handshake::settings side(uint32_t own, uint32_t peer) {
  auto& tee = fuzz::fuzz_tee::get();
  return {std::string{ct_id}, own, peer, &tee.attester, &tee.verifier, tee.reference};
}

void raw_handshake(fuzz::input& in) {
  auto rest = in.rest_bytes();
  auto half = rest.size() / 2;
  auto hs = handshake::create(side(0, 1));
  fuzz::require(hs.ok(), "a handshake starts");
  fuzz::require(hs->start().ok(), "a handshake sends its hello");
  (void) hs->on_hello(rest.first(half));
  (void) hs->on_proof(rest.subspan(half));
}

void real_peer(fuzz::input& in) {
  auto a = handshake::create(side(0, 1));
  auto b = handshake::create(side(1, 0));
  fuzz::require(a.ok() && b.ok(), "handshakes start");
  auto a_hello = a->start();
  auto b_hello = b->start();
  fuzz::require(a_hello.ok() && b_hello.ok(), "hellos are made");
  auto a_proof = a->on_hello(*b_hello);
  auto b_proof = b->on_hello(*a_hello);
  fuzz::require(a_proof.ok() && b_proof.ok(), "proofs are made");
  bool untouched = in.empty();
  std::string wire{b_proof->begin(), b_proof->end()};
  fuzz::apply_patches(in, wire);
  auto at_a = a->on_proof({reinterpret_cast<const uint8_t*>(wire.data()), wire.size()});
  if (!untouched)
    return;
  auto at_b = b->on_proof(*a_proof);
  fuzz::require(at_a.ok() && at_b.ok(), "two honest VMs agree a key");
  fuzz::require(at_a->key == at_b->key, "both sides derive the same channel key");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::input in{data, size};
  auto& tee = fuzz::fuzz_tee::get();
  switch (in.byte() % 5) {
    case 0:
      raw_handshake(in);
      break;
    case 1:
      real_peer(in);
      break;
    case 2: {
      fuzz::scripted_socket s{in.rest_bytes()};
      (void) accept_client(s.theirs, {std::string{ct_id}, 1, &tee.attester}, timeout);
      break;
    }
    case 3: {
      fuzz::scripted_socket s{in.rest_bytes()};
      (void) attest_vm(s.theirs, {std::string{ct_id}, 1, &tee.verifier, tee.reference}, timeout);
      break;
    }
    default: {
      fuzz::scripted_socket s{in.rest_bytes()};
      (void) connect_peer(s.theirs, side(0, 1), timeout);
    }
  }
  return 0;
}
