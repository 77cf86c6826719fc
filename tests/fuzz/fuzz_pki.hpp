#pragma once

// The throw-away PKI the mplane harnesses check chains against: made once per fuzzing process with
// fresh keys (tests/support/test_pki.hpp), so no key is ever committed with the corpus.

#include "mplane/node_signer.hpp"
#include "mplane/trust_view.hpp"
#include "support/test_pki.hpp"

#include <chrono>

namespace joconde::fuzz {

/// The root node joconde.test with children cp1 and client-a, and grandchild vm.cp1.
struct fuzz_pki {
  test::test_pki pki;
  test::test_node& cp1 = pki.add("cp1", "joconde.test");
  test::test_node& client = pki.add("client-a", "joconde.test");
  test::test_node& vm = pki.add("vm", "cp1.joconde.test");
  trust_view root_trust{pki.root_ca(), pki.node("joconde.test").chain};
  trust_view cp1_trust{pki.root_ca(), cp1.chain};
  trust_view client_trust{pki.root_ca(), client.chain};
  memory_signer root_signer{test::key_of(pki.node("joconde.test"))};
  memory_signer cp1_signer{test::key_of(cp1)};
  memory_signer client_signer{test::key_of(client)};

  /// The one instance of a fuzzing process.
  static fuzz_pki& get() {
    static fuzz_pki instance;
    return instance;
  }
};

/// A fixed "now" a little after the PKI was made, so every run of an input sees the same clock.
inline std::chrono::system_clock::time_point fuzz_now() {
  static const auto now = std::chrono::system_clock::now();
  return now;
}

} // namespace joconde::fuzz
