#pragma once

// What the parts of the crypto test program (crypto_test.cpp and crypto_test_*.cpp) share: result
// and byte helpers, and a PKI tree issued at test time.

#include "support/must.hpp"
#include <boost/test/unit_test.hpp>

#include "support/test_pki.hpp"

#include "joconde/runtime/crypto.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace crypto_test_support {

using namespace joconde;
using namespace std::chrono_literals;
using crypto::bytes;

/// "ok" or the errc name of a failed result, so BOOST_TEST prints something readable.
template <class T>
std::string code_of(const result<T>& r) {
  return r ? std::string{"ok"} : std::string{to_string(r.err().code)};
}

/// The error message of a result ("" on success).
template <class T>
std::string message_of(const result<T>& r) {
  return r ? std::string{} : r.err().message;
}

inline bytes unhex(std::string_view s) {
  auto r = crypto::from_hex(s);
  BOOST_REQUIRE_MESSAGE(r, "bad hex in the test: " << s);
  return *r;
}

using joconde::test::must;

/// A subject with only a common name.
inline crypto::subject named(std::string cn) {
  return crypto::subject{std::move(cn), "", "", ""};
}

inline crypto::private_key new_key() {
  return must(crypto::private_key::generate());
}

/// Flips one bit of the first occurrence of `needle` in `der`.
inline bytes flip_in(bytes der, std::string_view needle) {
  auto it = std::search(der.begin(), der.end(), needle.begin(), needle.end());
  BOOST_REQUIRE_MESSAGE(it != der.end(), "'" << needle << "' not found in DER");
  *it ^= 0x01;
  return der;
}

/// True if the certificate has extension `nid` with this criticality.
inline bool has_ext(const crypto::certificate& cert, int nid, bool critical) {
  auto idx = X509_get_ext_by_NID(cert.native_handle(), nid, -1);
  if (idx < 0)
    return false;
  return (X509_EXTENSION_get_critical(X509_get_ext(cert.native_handle(), idx)) != 0) == critical;
}

inline bool has_ext(const crypto::certificate& cert, int nid) {
  return X509_get_ext_by_NID(cert.native_handle(), nid, -1) >= 0;
}

/// The PKI of the brief: root CA -> root node -> cp1 -> x.cp1.
struct pki {
  std::chrono::system_clock::time_point start = std::chrono::system_clock::now() - 1h;
  crypto::private_key root_key = new_key();
  crypto::private_key root_node_key = new_key();
  crypto::private_key cp1_key = new_key();
  crypto::private_key x_key = new_key();
  crypto::certificate root_ca = make_root();
  crypto::certificate root_node = make_root_node();
  crypto::certificate cp1 = make_cp1();
  crypto::certificate x = make_x();

  crypto::issue_profile ca_profile(int path_length, std::vector<std::string> permitted) const {
    crypto::issue_profile p;
    p.is_ca = true;
    p.path_length = path_length;
    p.permitted_dns = std::move(permitted);
    p.not_before = start;
    return p;
  }

  crypto::issue_profile leaf_profile() const {
    crypto::issue_profile p;
    p.is_ca = false;
    p.not_before = start;
    return p;
  }

  crypto::certificate make_root() {
    return must(crypto::issue({"joconde.test Root CA", "Test SO", "", "so@example.org"}, {},
                              root_key.public_key(), nullptr, root_key, ca_profile(2, {})));
  }

  crypto::certificate make_root_node() {
    return must(crypto::issue({"root", "Test SO", "Ops", "so@example.org"}, {"root.joconde.test"},
                              root_node_key.public_key(), &root_ca, root_key,
                              ca_profile(1, {".joconde.test"})));
  }

  crypto::certificate make_cp1() {
    return must(crypto::issue({"cp1", "Test Org", "IT", "it@example.org"}, {"cp1.joconde.test"},
                              cp1_key.public_key(), &root_node, root_node_key,
                              ca_profile(0, {".cp1.joconde.test"})));
  }

  crypto::certificate make_x() {
    return must(crypto::issue({"x", "Test Org", "IT", "it@example.org"}, {"x.cp1.joconde.test"},
                              x_key.public_key(), &cp1, cp1_key, leaf_profile()));
  }

  result<void> verify_x(std::chrono::system_clock::time_point at
                        = std::chrono::system_clock::now()) const {
    return crypto::verify_chain(x, {cp1, root_node}, root_ca, at);
  }
};

} // namespace crypto_test_support
