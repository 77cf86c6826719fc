#pragma once

// Small helpers shared by the enclave tests.

#include "support/must.hpp"
#include "joconde/enclave/platform.hpp"

#include <boost/test/unit_test.hpp>
#include <openssl/sha.h>

#include <string_view>
#include <utility>

namespace joconde::test {


/// The bytes of `s`.
inline enclave::bytes text(std::string_view s) {
  return {s.begin(), s.end()};
}

/// The host data of a VM launched for the CTA named `cta`: SHA-256 of the name.
inline enclave::host_data cta_hash(std::string_view cta) {
  enclave::host_data out{};
  SHA256(reinterpret_cast<const unsigned char*>(cta.data()), cta.size(), out.data());
  return out;
}

} // namespace joconde::test
