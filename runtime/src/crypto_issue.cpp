// Issuing certificates and verifying chains (see crypto.hpp).

#include "joconde/runtime/crypto.hpp"

#include "crypto_detail.hpp"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>

namespace joconde::crypto {

using namespace detail;

namespace {

constexpr std::size_t key_id_size = 20;
constexpr std::size_t serial_size = 16;

/// The key identifier of RFC 7093 method 1: the leftmost 160 bits of SHA-256 of the key bits.
result<octets_ptr> key_id_of(X509* cert) {
  const unsigned char* pk = nullptr;
  int pk_len = 0;
  if (X509_PUBKEY_get0_param(nullptr, &pk, &pk_len, nullptr, X509_get_X509_PUBKEY(cert)) != 1
      || pk == nullptr || pk_len <= 0)
    return openssl_failure("reading the certificate's public key");
  auto digest = sha256({pk, static_cast<std::size_t>(pk_len)});
  octets_ptr id{ASN1_OCTET_STRING_new()};
  if (!id || ASN1_OCTET_STRING_set(id.get(), digest.data(), static_cast<int>(key_id_size)) != 1)
    return openssl_failure("building a key identifier");
  return id;
}

/// Adds a DER-encoded extension built from `value`.
result<void> add_ext(X509* x, int nid, void* value, bool critical, const char* what) {
  if (X509_add1_ext_i2d(x, nid, value, critical ? 1 : 0, X509V3_ADD_DEFAULT) != 1)
    return openssl_failure(std::string{"adding the "} + what + " extension");
  return joconde::ok();
}

/// The text of an X509 verification failure with depth and the subject at that depth.
std::string verify_message(X509_STORE_CTX* ctx, int err) {
  auto depth = X509_STORE_CTX_get_error_depth(ctx);
  std::string who;
  if (auto* cert = X509_STORE_CTX_get_current_cert(ctx); cert != nullptr) {
    auto names = [&] {
      gens_ptr gens{static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr))};
      return dns_entries(gens.get());
    }();
    auto cn = name_entry(X509_get_subject_name(cert), NID_commonName);
    who = " (certificate '" + (names.empty() ? cn : names.front()) + "')";
  }
  return std::string{X509_verify_cert_error_string(err)} + " at depth " + std::to_string(depth)
         + who;
}

/// Checks the subject, its names and the profile before anything is built.
result<void> check_request(const subject& subj, const std::vector<std::string>& dns_names,
                           const issue_profile& profile) {
  if (subj.common_name.empty())
    return fail(errc::invalid_config, "a certificate needs a common name");
  if (profile.validity.count() <= 0)
    return fail(errc::invalid_config, "the validity period must be positive");
  if (!profile.is_ca && profile.path_length >= 0)
    return fail(errc::invalid_config, "a path length is only allowed on a CA certificate");
  if (!profile.is_ca && !profile.permitted_dns.empty())
    return fail(errc::invalid_config, "name constraints are only allowed on a CA certificate");
  for (const auto& name : dns_names)
    if (!valid_dns_name(name, false))
      return fail(errc::invalid_config, "'" + name + "' is not a DNS name; use labels of letters, "
                                          "digits and hyphens separated by dots");
  for (const auto& ip : profile.ip_addresses)
    if (ASN1_OCTET_STRING* probe = a2i_IPADDRESS(ip.c_str()); probe == nullptr) {
      ERR_clear_error();
      return fail(errc::invalid_config, "'" + ip + "' is not an IPv4 or IPv6 address");
    } else {
      ASN1_OCTET_STRING_free(probe);
    }
  for (const auto& name : profile.permitted_dns)
    if (!valid_dns_name(name, true))
      return fail(errc::invalid_config, "permitted name '" + name + "' is not a DNS name or "
                                          "\".\"-prefixed DNS suffix");
  return joconde::ok();
}

/// Checks that the issuer key belongs to the issuer certificate, a CA, or for a self-signed
/// certificate to the subject key.
result<void> check_issuer(const public_key& subject_key, const certificate* issuer,
                          const private_key& issuer_key) {
  if (issuer != nullptr) {
    if (issuer->native_handle() == nullptr)
      return fail(errc::invalid_state, "issuing under a moved-from certificate");
    auto* issuer_pub = X509_get0_pubkey(issuer->native_handle());
    if (issuer_pub == nullptr || EVP_PKEY_eq(issuer_pub, issuer_key.native_handle()) != 1) {
      ERR_clear_error();
      return fail(errc::invalid_config, "the issuer key does not belong to the issuer certificate "
                                        "'" + issuer->subject().common_name
                                          + "'; load the key that matches it");
    }
    if (!issuer->is_ca())
      return fail(errc::constraint_violation, "the issuer certificate '"
                                                + issuer->subject().common_name
                                                + "' is not a CA and may not issue certificates");
  } else if (EVP_PKEY_eq(subject_key.native_handle(), issuer_key.native_handle()) != 1) {
    ERR_clear_error();
    return fail(errc::invalid_config, "a self-signed certificate must be for the signing key; "
                                      "pass the public half of the issuer key");
  }
  return joconde::ok();
}

/// A version-3 certificate with a random non-zero serial, the names, the validity and the subject key.
result<x509_ptr> make_body(X509_NAME* subject_name, X509_NAME* issuer_name, const public_key& subject_key,
                           const issue_profile& profile) {
  x509_ptr x{X509_new()};
  if (!x || X509_set_version(x.get(), X509_VERSION_3) != 1)
    return openssl_failure("creating the certificate");
  bn_ptr serial_bn;
  do {
    auto serial = random_bytes(serial_size);
    serial_bn.reset(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
    if (!serial_bn)
      return openssl_failure("building the serial number");
  } while (BN_is_zero(serial_bn.get()));
  asn1_int_ptr serial{BN_to_ASN1_INTEGER(serial_bn.get(), nullptr)};
  auto start = to_time_t(profile.not_before);
  auto end = start + static_cast<std::time_t>(profile.validity.count());
  if (!serial || X509_set_serialNumber(x.get(), serial.get()) != 1
      || X509_set_subject_name(x.get(), subject_name) != 1
      || X509_set_issuer_name(x.get(), issuer_name) != 1
      || ASN1_TIME_set(X509_getm_notBefore(x.get()), start) == nullptr
      || ASN1_TIME_set(X509_getm_notAfter(x.get()), end) == nullptr
      || X509_set_pubkey(x.get(), subject_key.native_handle()) != 1)
    return openssl_failure("filling in the certificate");
  return x;
}

/// Adds basicConstraints, keyUsage and, below the root, extendedKeyUsage (server and client).
result<void> add_usage(X509* x, const issue_profile& profile, bool self_signed) {
  bc_ptr bc{BASIC_CONSTRAINTS_new()};
  if (!bc)
    die("BASIC_CONSTRAINTS_new");
  bc->ca = profile.is_ca ? 0xFF : 0;
  if (profile.is_ca && profile.path_length >= 0) {
    bc->pathlen = ASN1_INTEGER_new();
    if (bc->pathlen == nullptr || ASN1_INTEGER_set(bc->pathlen, profile.path_length) != 1)
      die("ASN1_INTEGER_set");
  }
  if (auto r = add_ext(x, NID_basic_constraints, bc.get(), true, "basicConstraints"); !r)
    return r.err();
  bits_ptr ku{ASN1_BIT_STRING_new()};
  if (!ku)
    die("ASN1_BIT_STRING_new");
  constexpr int digital_signature = 0;
  constexpr int key_agreement = 4;
  constexpr int key_cert_sign = 5;
  constexpr int crl_sign = 6;
  ASN1_BIT_STRING_set_bit(ku.get(), digital_signature, 1);
  if (profile.is_ca) {
    ASN1_BIT_STRING_set_bit(ku.get(), key_cert_sign, 1);
    ASN1_BIT_STRING_set_bit(ku.get(), crl_sign, 1);
  } else {
    ASN1_BIT_STRING_set_bit(ku.get(), key_agreement, 1);
  }
  if (auto r = add_ext(x, NID_key_usage, ku.get(), true, "keyUsage"); !r)
    return r.err();
  if (!self_signed) {
    eku_ptr eku{sk_ASN1_OBJECT_new_null()};
    if (!eku || sk_ASN1_OBJECT_push(eku.get(), OBJ_nid2obj(NID_server_auth)) <= 0
        || sk_ASN1_OBJECT_push(eku.get(), OBJ_nid2obj(NID_client_auth)) <= 0)
      die("building extendedKeyUsage");
    if (auto r = add_ext(x, NID_ext_key_usage, eku.get(), false, "extendedKeyUsage"); !r)
      return r.err();
  }
  return joconde::ok();
}

/// Adds subjectKeyIdentifier and authorityKeyIdentifier (the issuer's, or the own one when self-signed).
result<void> add_key_ids(X509* x, const certificate* issuer) {
  auto skid = key_id_of(x);
  if (!skid)
    return std::move(skid).err();
  if (auto r = add_ext(x, NID_subject_key_identifier, skid->get(), false, "subjectKeyIdentifier"); !r)
    return r.err();
  akid_ptr akid{AUTHORITY_KEYID_new()};
  if (!akid)
    die("AUTHORITY_KEYID_new");
  if (issuer == nullptr) {
    akid->keyid = ASN1_OCTET_STRING_dup(skid->get());
  } else if (const auto* id = X509_get0_subject_key_id(issuer->native_handle()); id != nullptr) {
    akid->keyid = ASN1_OCTET_STRING_dup(id);
  } else {
    auto issuer_id = key_id_of(issuer->native_handle());
    if (!issuer_id)
      return std::move(issuer_id).err();
    akid->keyid = issuer_id->release();
  }
  if (akid->keyid == nullptr)
    die("building authorityKeyIdentifier");
  if (auto r = add_ext(x, NID_authority_key_identifier, akid.get(), false, "authorityKeyIdentifier"); !r)
    return r.err();
  return joconde::ok();
}

/// Adds subjectAltName (DNS names and IP addresses) and, on a CA, the permitted DNS name constraints.
result<void> add_names(X509* x, const std::vector<std::string>& dns_names, const issue_profile& profile) {
  if (!dns_names.empty() || !profile.ip_addresses.empty()) {
    gens_ptr gens{sk_GENERAL_NAME_new_null()};
    if (!gens)
      die("sk_GENERAL_NAME_new_null");
    for (const auto& name : dns_names)
      if (sk_GENERAL_NAME_push(gens.get(), make_dns(name)) <= 0)
        die("sk_GENERAL_NAME_push");
    for (const auto& ip : profile.ip_addresses)
      if (sk_GENERAL_NAME_push(gens.get(), make_ip(ip)) <= 0)
        die("sk_GENERAL_NAME_push");
    if (auto r = add_ext(x, NID_subject_alt_name, gens.get(), false, "subjectAltName"); !r)
      return r.err();
  }
  if (!profile.permitted_dns.empty()) {
    nc_ptr nc{NAME_CONSTRAINTS_new()};
    if (!nc || (nc->permittedSubtrees = sk_GENERAL_SUBTREE_new_null()) == nullptr)
      die("NAME_CONSTRAINTS_new");
    for (const auto& name : profile.permitted_dns) {
      auto* subtree = GENERAL_SUBTREE_new();
      if (subtree == nullptr)
        die("GENERAL_SUBTREE_new");
      GENERAL_NAME_free(subtree->base);
      subtree->base = make_dns(name);
      if (sk_GENERAL_SUBTREE_push(nc->permittedSubtrees, subtree) <= 0)
        die("sk_GENERAL_SUBTREE_push");
    }
    if (auto r = add_ext(x, NID_name_constraints, nc.get(), true, "nameConstraints"); !r)
      return r.err();
  }
  return joconde::ok();
}

} // namespace

// -- issuing ------------------------------------------------------------------------------------------

result<certificate> issue(const subject& subj, const std::vector<std::string>& dns_names,
                          const public_key& subject_key, const certificate* issuer,
                          const private_key& issuer_key, const issue_profile& profile) {
  // -- check the arguments --
  if (subject_key.native_handle() == nullptr || issuer_key.native_handle() == nullptr)
    return fail(errc::invalid_state, "issuing with a moved-from key");
  if (auto r = check_request(subj, dns_names, profile); !r)
    return r.err();
  if (auto r = check_issuer(subject_key, issuer, issuer_key); !r)
    return r.err();
  auto subject_name = make_name(subj);
  if (!subject_name)
    return std::move(subject_name).err();
  // -- the body --
  auto issuer_name = issuer != nullptr ? X509_get_subject_name(issuer->native_handle())
                                       : subject_name->get();
  auto x = make_body(subject_name->get(), issuer_name, subject_key, profile);
  if (!x)
    return std::move(x).err();
  // -- extensions --
  if (auto r = add_usage(x->get(), profile, issuer == nullptr); !r)
    return r.err();
  if (auto r = add_key_ids(x->get(), issuer); !r)
    return r.err();
  if (auto r = add_names(x->get(), dns_names, profile); !r)
    return r.err();
  // -- sign --
  if (X509_sign(x->get(), issuer_key.native_handle(), EVP_sha256()) <= 0)
    return openssl_failure("signing the certificate");
  return certificate{x->release()};
}

// -- verification -------------------------------------------------------------------------------------

result<void> verify_chain(const certificate& leaf, const std::vector<certificate>& intermediates,
                          const certificate& root, std::chrono::system_clock::time_point at) {
  if (leaf.native_handle() == nullptr || root.native_handle() == nullptr)
    return fail(errc::invalid_state, "verifying with a moved-from certificate");
  store_ptr store{X509_STORE_new()};
  if (!store || X509_STORE_add_cert(store.get(), root.native_handle()) != 1)
    return openssl_failure("setting up the trust store");
  x509_stack_ptr untrusted{sk_X509_new_null()};
  if (!untrusted)
    die("sk_X509_new_null");
  for (const auto& cert : intermediates) {
    if (cert.native_handle() == nullptr)
      return fail(errc::invalid_state, "verifying with a moved-from certificate");
    if (sk_X509_push(untrusted.get(), cert.native_handle()) <= 0)
      die("sk_X509_push");
  }
  store_ctx_ptr ctx{X509_STORE_CTX_new()};
  if (!ctx
      || X509_STORE_CTX_init(ctx.get(), store.get(), leaf.native_handle(), untrusted.get()) != 1)
    return openssl_failure("setting up chain verification");
  auto* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
  X509_VERIFY_PARAM_set_time(param, to_time_t(at));
  auto rc = X509_verify_cert(ctx.get());
  ERR_clear_error();
  if (rc == 1)
    return joconde::ok();
  auto err = X509_STORE_CTX_get_error(ctx.get());
  auto what = verify_message(ctx.get(), err);
  switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
    case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
    case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
      return fail(errc::certificate_expired,
                  what + "; renew the certificate or check the system clock");
    case X509_V_ERR_PERMITTED_VIOLATION:
    case X509_V_ERR_EXCLUDED_VIOLATION:
    case X509_V_ERR_SUBTREE_MINMAX:
    case X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE:
    case X509_V_ERR_UNSUPPORTED_CONSTRAINT_SYNTAX:
    case X509_V_ERR_UNSUPPORTED_NAME_SYNTAX:
    case X509_V_ERR_PATH_LENGTH_EXCEEDED:
    case X509_V_ERR_INVALID_CA:
    case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
      return fail(errc::constraint_violation,
                  what + "; the issuer may not certify this name or another CA level");
    case X509_V_ERR_CERT_REVOKED:
      return fail(errc::certificate_revoked, what);
    default:
      return fail(errc::untrusted_chain,
                  what + "; the chain does not lead to the trusted root CA");
  }
}

} // namespace joconde::crypto
