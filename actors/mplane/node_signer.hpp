#pragma once

// The capability to sign with the node key, without holding the key. The key_manager owns the key
// and hands out this interface; a PKCS#11 back-end implements it the same way.

#include "joconde/messages/result.hpp"
#include "joconde/runtime/crypto.hpp"

#include <memory>

namespace joconde {

/// Signs with the node's private key (ECDSA P-256, SHA-256, DER signature).
class node_signer {
public:
  virtual ~node_signer() = default;

  /// Signs `msg`.
  virtual result<crypto::bytes> sign(crypto::bytes_view msg) const = 0;
};

/// A signer over a key held in this process's memory.
class memory_signer : public node_signer {
public:
  explicit memory_signer(crypto::private_key key) : key_(std::move(key)) {
    // nop
  }

  result<crypto::bytes> sign(crypto::bytes_view msg) const override {
    return key_.sign(msg);
  }

private:
  crypto::private_key key_;
};

} // namespace joconde
