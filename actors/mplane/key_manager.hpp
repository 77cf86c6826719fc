#pragma once

// The Key Management Service (DESIGN.md §4): the one place where the node's private key lives in
// this process. It loads the key (encrypted at rest: an AES-256 PKCS#8 PEM under the node's pass
// phrase), hands the other actors a node_signer (sign and issue, never the key), signs batches on
// request for the actors that ask by message, and reports what it holds.
//
// Today the back-end is the key file in memory (memory_signer). A PKCS#11 back-end (SoftHSM2 in
// tests, a real HSM in production) implements node_signer the same way; key generation for a
// rotation still happens in identity_manager, which installs the new key through memory_signer.

#include "joconde/messages/mplane.hpp"

#include "node_signer.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <filesystem>
#include <memory>

namespace joconde {

/// State of the key manager.
struct key_manager_state {
  static inline const char* name = "key_manager";
  std::shared_ptr<memory_signer> signer;
  std::filesystem::path key_file;
  uint64_t signatures = 0;
  uint64_t refused = 0;
};

using key_manager_pointer = key_manager_actor::stateful_pointer<key_manager_state>;

/// Limits of one sign request.
constexpr size_t max_sign_messages = 10000;
constexpr size_t max_sign_bytes = 16 * 1024 * 1024;

key_manager_actor::behavior_type key_manager(key_manager_pointer self,
                                             std::shared_ptr<memory_signer> signer,
                                             std::filesystem::path key_file);

} // namespace joconde
