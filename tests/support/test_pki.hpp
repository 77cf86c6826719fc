#pragma once

// A throw-away PKI made at test time (private keys are never committed): root CA -> root node ->
// children, with the same profiles `joconde-node init` and `enrol` use.

#include "joconde/runtime/crypto.hpp"

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace joconde::test {

/// The first line of a PEM block of `type` ("-----BEGIN " + type + "-----"). Tests compare with it
/// instead of spelling the line out, so that no PEM header of a key stands in the sources.
inline std::string pem_begin(std::string_view type) {
  return "-----BEGIN " + std::string{type} + "-----";
}

/// One node of the test tree.
struct test_node {
  std::string fqdn;
  crypto::private_key key;
  std::vector<crypto::certificate> chain; ///< leaf first, without the root CA
};

/// A copy of a node's private key (for a signer of its own).
inline crypto::private_key key_of(const test_node& node) {
  return crypto::private_key::from_pem(*node.key.to_encrypted_pem("copy"), "copy").value();
}

/// A root CA and any number of nodes below it.
class test_pki {
public:
  /// Makes a root CA for `domain` and the root node (FQDN = domain).
  explicit test_pki(std::string domain = "joconde.test");

  /// Issues a node `label.parent_fqdn` under an existing node; `validity` and `not_before` as given.
  test_node& add(const std::string& label, const std::string& parent_fqdn,
                 std::chrono::seconds validity = std::chrono::hours{24 * 365},
                 std::chrono::system_clock::time_point not_before = std::chrono::system_clock::now()
                                                                    - std::chrono::hours{1});

  /// The node with this FQDN.
  test_node& node(const std::string& fqdn) { return nodes_.at(fqdn); }

  const crypto::certificate& root_ca() const { return root_ca_; }
  const std::string& domain() const { return domain_; }

  /// The chain of a node as DER strings.
  std::vector<std::string> chain_der(const std::string& fqdn);

private:
  std::string domain_;
  crypto::private_key root_key_;
  crypto::certificate root_ca_;
  std::map<std::string, test_node> nodes_;
};

} // namespace joconde::test
