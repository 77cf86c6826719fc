#pragma once

// HTTPS test material made at run time (no key is ever committed): a root CA, an intermediate CA,
// server identities issued below them, and PEM files of trust anchors in a temporary directory that
// goes away with the object.

#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/http_server.hpp"

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace joconde::test {

/// A root CA and an intermediate CA for HTTPS tests, and a directory for CA files.
class https_pki {
public:
  /// Makes the two CAs (their names start with `label`, so that two PKIs differ).
  explicit https_pki(const std::string& label = "HTTPS test")
    : root_key_(must(crypto::private_key::generate())),
      root_(must(crypto::issue({label + " Root CA", "Test", "", ""}, {}, root_key_.public_key(),
                               nullptr, root_key_, ca_profile()))),
      intermediate_key_(must(crypto::private_key::generate())),
      intermediate_(must(crypto::issue({label + " Intermediate CA", "Test", "", ""}, {},
                                       intermediate_key_.public_key(), &root_, root_key_,
                                       ca_profile()))) {
    std::string pattern = (std::filesystem::temp_directory_path() / "joconde-https-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
  }

  ~https_pki() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  https_pki(const https_pki&) = delete;
  https_pki& operator=(const https_pki&) = delete;

  /// A server identity (leaf issued by the intermediate, chain leaf + intermediate) naming `dns`
  /// and `ips`, valid from `not_before` for `validity`.
  http::tls_identity identity(const std::vector<std::string>& dns, const std::vector<std::string>& ips,
                              std::chrono::seconds validity = std::chrono::hours{24},
                              std::chrono::system_clock::time_point not_before
                              = std::chrono::system_clock::now() - std::chrono::hours{1}) const {
    auto key = must(crypto::private_key::generate());
    crypto::issue_profile p;
    p.is_ca = false;
    p.validity = validity;
    p.not_before = not_before;
    p.ip_addresses = ips;
    auto leaf = must(crypto::issue({"server", "Test", "", ""}, dns, key.public_key(), &intermediate_,
                                   intermediate_key_, p));
    return http::tls_identity{{leaf, intermediate_},
                              std::make_shared<const crypto::private_key>(std::move(key))};
  }

  /// Writes `certs` as PEM to `name` in the temporary directory and returns its path.
  std::string write(const std::string& name, const std::vector<crypto::certificate>& certs) const {
    auto path = dir_ / name;
    std::ofstream out{path, std::ios::binary | std::ios::trunc};
    for (const auto& c : certs)
      out << c.to_pem();
    if (!out)
      throw std::runtime_error("cannot write " + path.string());
    return path.string();
  }

  /// A path in the temporary directory (for files a test makes itself).
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  const crypto::certificate& root() const { return root_; }
  const crypto::certificate& intermediate() const { return intermediate_; }

  /// The root CA as a CA file.
  std::string root_file() const { return write("root.pem", {root_}); }

private:
  template <class T>
  static T must(result<T> r) {
    if (!r)
      throw std::runtime_error(r.err().describe());
    return std::move(*r);
  }

  static crypto::issue_profile ca_profile() {
    crypto::issue_profile p;
    p.is_ca = true;
    p.not_before = std::chrono::system_clock::now() - std::chrono::hours{1};
    return p;
  }

  crypto::private_key root_key_;
  crypto::certificate root_;
  crypto::private_key intermediate_key_;
  crypto::certificate intermediate_;
  std::filesystem::path dir_;
};

} // namespace joconde::test
