#pragma once

// The simulated TEE platform the enclave harnesses attest against: made once per fuzzing process
// with fresh keys, so no key is ever committed with the corpus.

#include "joconde/enclave/simulated.hpp"

#include <array>
#include <cstdint>

namespace joconde::fuzz {

/// One simulated platform, a VM launched on it and a verifier that trusts it.
struct fuzz_tee {
  enclave::simulated_platform platform = enclave::simulated_platform::create().value();
  enclave::measurement measurement = enclave::measure(as_span("joconde-vm"), as_span("config"));
  enclave::host_data cta = filled(0x42);
  enclave::simulated_attester attester = platform.launch(measurement, cta, false);
  enclave::simulated_verifier verifier{{platform.root_certificate()}};
  enclave::reference_values reference;

  fuzz_tee() {
    reference.measurements = {measurement};
    reference.cta_hash = cta;
    reference.allow_simulated = true;
  }

  /// The one instance of a fuzzing process.
  static fuzz_tee& get() {
    static fuzz_tee instance;
    return instance;
  }

  static enclave::host_data filled(uint8_t b) {
    enclave::host_data h{};
    h.fill(b);
    return h;
  }

  static std::span<const uint8_t> as_span(std::string_view s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
  }
};

} // namespace joconde::fuzz
