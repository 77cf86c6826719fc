// libFuzzer target: TEE evidence and the handshake messages that carry it (enclave/src/platform.cpp
// decode_evidence, simulated.cpp simulated_verifier::verify, handshake.cpp hello/proof decode).
//
// The first byte picks what the rest is:
//   0  encoded evidence: decode_evidence, then the verifier; what decodes must re-encode to itself
//   1  patches over valid evidence of the harness's simulated VM, then decode and verify
//   2  a handshake hello (hello::decode; re-encodes to itself)
//   3  a handshake proof (proof::decode; re-encodes to itself, its evidence verified)

#include "fuzz_input.hpp"
#include "fuzz_tee.hpp"

#include "joconde/enclave/handshake.hpp"

namespace {

using namespace joconde;
using namespace joconde::enclave;

struct fixture {
  fuzz::fuzz_tee& tee = fuzz::fuzz_tee::get();
  report_data expected{};
  std::string valid;

  fixture() {
    expected.fill(0x17);
    auto ev = tee.attester.get_evidence(expected).value();
    fuzz::require(tee.verifier.verify(ev, tee.reference, expected).ok(), "the VM's evidence verifies");
    auto b = encode(ev);
    valid.assign(b.begin(), b.end());
  }
};

fixture& fx() {
  static fixture f;
  return f;
}

std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

void check_evidence(std::span<const uint8_t> data) {
  auto ev = decode_evidence(data);
  if (!ev)
    return;
  auto again = encode(*ev);
  fuzz::require(again.size() == data.size() && std::equal(again.begin(), again.end(), data.begin()),
                "decode_evidence accepts exactly what encode produces");
  (void) fx().tee.verifier.verify(*ev, fx().tee.reference, fx().expected);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::input in{data, size};
  switch (in.byte() % 4) {
    case 0:
      check_evidence(in.rest_bytes());
      break;
    case 1: {
      auto msg = fx().valid;
      fuzz::apply_patches(in, msg);
      check_evidence(bytes_of(msg));
      break;
    }
    case 2: {
      auto wire = in.rest_bytes();
      if (auto h = hello::decode(wire)) {
        auto again = h->encode();
        fuzz::require(std::equal(again.begin(), again.end(), wire.begin(), wire.end()),
                      "hello::decode accepts exactly what encode produces");
      }
      break;
    }
    default: {
      auto wire = in.rest_bytes();
      if (auto p = proof::decode(wire)) {
        auto again = p->encode();
        fuzz::require(std::equal(again.begin(), again.end(), wire.begin(), wire.end()),
                      "proof::decode accepts exactly what encode produces");
        (void) fx().tee.verifier.verify(p->evidence, fx().tee.reference, fx().expected);
      }
    }
  }
  return 0;
}
