#pragma once

// The capability to sign with the node key, without holding the key. The key_manager owns the key
// and hands out this interface; a PKCS#11 back-end implements it the same way.

#include "joconde/messages/result.hpp"
#include "joconde/runtime/crypto.hpp"

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace joconde {

/// Signs with the node's private key (ECDSA P-256, SHA-256, DER signature) and issues certificates
/// for the node's children with it.
class node_signer {
public:
  virtual ~node_signer() = default;

  /// Signs `msg`.
  virtual result<crypto::bytes> sign(crypto::bytes_view msg) const = 0;

  /// Issues a certificate below `issuer` (this node's certificate) with the node key.
  virtual result<crypto::certificate> issue(const crypto::subject& subj,
                                            const std::vector<std::string>& dns_names,
                                            const crypto::public_key& subject_key,
                                            const crypto::certificate& issuer,
                                            const crypto::issue_profile& profile) const = 0;
};

/// A signer over a key held in this process's memory; the key can be replaced after a rotation.
class memory_signer : public node_signer {
public:
  explicit memory_signer(crypto::private_key key) : key_(std::move(key)) {
    // nop
  }

  result<crypto::bytes> sign(crypto::bytes_view msg) const override {
    std::lock_guard guard{mtx_};
    return key_.sign(msg);
  }

  result<crypto::certificate> issue(const crypto::subject& subj,
                                    const std::vector<std::string>& dns_names,
                                    const crypto::public_key& subject_key,
                                    const crypto::certificate& issuer,
                                    const crypto::issue_profile& profile) const override {
    std::lock_guard guard{mtx_};
    return crypto::issue(subj, dns_names, subject_key, &issuer, key_, profile);
  }

  /// SHA-256 fingerprint of the current public key's DER (SubjectPublicKeyInfo).
  std::string public_key_fingerprint() const {
    std::lock_guard guard{mtx_};
    return key_.public_key().fingerprint();
  }

  /// Switches to a new key (after its certificate was installed).
  void replace(crypto::private_key key) {
    std::lock_guard guard{mtx_};
    key_ = std::move(key);
  }

private:
  mutable std::mutex mtx_;
  crypto::private_key key_;
};

} // namespace joconde
