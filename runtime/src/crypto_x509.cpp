// X.509 certificates and certificate requests (see crypto.hpp); issuing and verification are in
// crypto_issue.cpp.

#include "joconde/runtime/crypto.hpp"

#include "crypto_detail.hpp"

#include <arpa/inet.h>

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include <climits>

namespace joconde::crypto {

namespace detail {

void openssl_free::operator()(unsigned char* p) const noexcept {
  OPENSSL_free(p);
}

void eku_deleter::operator()(EXTENDED_KEY_USAGE* p) const noexcept {
  sk_ASN1_OBJECT_pop_free(p, ASN1_OBJECT_free);
}

void exts_deleter::operator()(STACK_OF(X509_EXTENSION) * p) const noexcept {
  sk_X509_EXTENSION_pop_free(p, X509_EXTENSION_free);
}

void x509_stack_deleter::operator()(STACK_OF(X509) * p) const noexcept {
  sk_X509_free(p);
}

bool valid_dns_name(std::string_view name, bool leading_dot) {
  if (leading_dot && name.starts_with('.'))
    name.remove_prefix(1);
  if (name.empty() || name.size() > 253)
    return false;
  std::size_t label = 0;
  for (std::size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.') {
      if (label == 0 || label > 63 || name[i - 1] == '-' || name[i - label] == '-')
        return false;
      label = 0;
      continue;
    }
    auto c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok)
      return false;
    ++label;
  }
  return true;
}

result<name_ptr> make_name(const subject& subj) {
  name_ptr name{X509_NAME_new()};
  if (!name)
    return openssl_failure("creating a distinguished name");
  struct field {
    int nid;
    const std::string* value;
    const char* label;
  };
  const field fields[] = {{NID_commonName, &subj.common_name, "common name (CN)"},
                          {NID_organizationName, &subj.organisation, "organisation (O)"},
                          {NID_organizationalUnitName, &subj.department, "department (OU)"},
                          {NID_pkcs9_emailAddress, &subj.email, "e-mail address"}};
  for (const auto& f : fields) {
    if (f.value->empty())
      continue;
    if (f.value->size() > INT_MAX
        || X509_NAME_add_entry_by_NID(name.get(), f.nid, MBSTRING_UTF8,
                                      reinterpret_cast<const unsigned char*>(f.value->data()),
                                      static_cast<int>(f.value->size()), -1, 0)
             != 1) {
      auto reason = ossl::error_text();
      return fail(errc::invalid_config, "the subject's " + std::string{f.label} + " '" + *f.value
                                          + "' cannot be encoded (" + reason
                                          + "); check its length and characters");
    }
  }
  return name;
}

std::string name_entry(const X509_NAME* name, int nid) {
  if (name == nullptr)
    return {};
  auto idx = X509_NAME_get_index_by_NID(name, nid, -1);
  if (idx < 0)
    return {};
  auto* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  auto len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) {
    ERR_clear_error();
    return {};
  }
  std::string out{reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(len)};
  OPENSSL_free(utf8);
  return out;
}

GENERAL_NAME* make_dns(const std::string& name) {
  auto* gen = GENERAL_NAME_new();
  auto* ia5 = ASN1_IA5STRING_new();
  if (gen == nullptr || ia5 == nullptr
      || ASN1_STRING_set(ia5, name.data(), static_cast<int>(name.size())) != 1)
    die("building a DNS general name");
  GENERAL_NAME_set0_value(gen, GEN_DNS, ia5);
  return gen;
}

GENERAL_NAME* make_ip(const std::string& address) {
  auto* gen = GENERAL_NAME_new();
  auto* octets = a2i_IPADDRESS(address.c_str());
  if (gen == nullptr || octets == nullptr)
    die("building an IP address general name");
  GENERAL_NAME_set0_value(gen, GEN_IPADD, octets);
  return gen;
}

std::vector<std::string> ip_entries(const GENERAL_NAMES* gens) {
  std::vector<std::string> out;
  if (gens == nullptr)
    return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(gens); ++i) {
    const auto* gen = sk_GENERAL_NAME_value(gens, i);
    if (gen->type != GEN_IPADD || gen->d.iPAddress == nullptr)
      continue;
    const auto* s = gen->d.iPAddress;
    char text[INET6_ADDRSTRLEN] = {};
    auto len = ASN1_STRING_length(s);
    int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;
    if (family != 0 && inet_ntop(family, ASN1_STRING_get0_data(s), text, sizeof text) != nullptr)
      out.emplace_back(text);
  }
  return out;
}

std::vector<std::string> dns_entries(const GENERAL_NAMES* gens) {
  std::vector<std::string> out;
  if (gens == nullptr)
    return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(gens); ++i) {
    const auto* gen = sk_GENERAL_NAME_value(gens, i);
    if (gen->type != GEN_DNS || gen->d.dNSName == nullptr)
      continue;
    const auto* s = gen->d.dNSName;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
  }
  return out;
}

std::time_t to_time_t(std::chrono::system_clock::time_point tp) {
  return static_cast<std::time_t>(
    std::chrono::floor<std::chrono::seconds>(tp).time_since_epoch().count());
}

} // namespace detail

using namespace detail;

namespace {

subject read_subject(const X509_NAME* name) {
  return subject{name_entry(name, NID_commonName), name_entry(name, NID_organizationName),
                 name_entry(name, NID_organizationalUnitName),
                 name_entry(name, NID_pkcs9_emailAddress)};
}

/// Converts an ASN1_TIME, clamping to the range of system_clock::time_point.
std::chrono::system_clock::time_point to_time_point(const ASN1_TIME* t) {
  using namespace std::chrono;
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    ERR_clear_error();
    return system_clock::time_point{};
  }
  auto day = year{tm.tm_year + 1900} / month{static_cast<unsigned>(tm.tm_mon + 1)}
             / static_cast<unsigned>(tm.tm_mday);
  auto secs = sys_days{day}.time_since_epoch() + hours{tm.tm_hour} + minutes{tm.tm_min}
              + seconds{tm.tm_sec};
  auto max_secs = duration_cast<seconds>(system_clock::time_point::max().time_since_epoch());
  auto min_secs = duration_cast<seconds>(system_clock::time_point::min().time_since_epoch());
  if (secs >= max_secs)
    return system_clock::time_point::max();
  if (secs <= min_secs)
    return system_clock::time_point::min();
  return system_clock::time_point{duration_cast<system_clock::duration>(secs)};
}

} // namespace

// -- certificate --------------------------------------------------------------------------------------

certificate::certificate(X509* x509) noexcept : x509_(x509) {
  // nop
}

certificate::certificate(const certificate& other) noexcept : x509_(other.x509_) {
  if (x509_ != nullptr)
    X509_up_ref(x509_);
}

certificate& certificate::operator=(const certificate& other) noexcept {
  if (this != &other) {
    if (other.x509_ != nullptr)
      X509_up_ref(other.x509_);
    X509_free(x509_);
    x509_ = other.x509_;
  }
  return *this;
}

certificate::certificate(certificate&& other) noexcept : x509_(other.x509_) {
  other.x509_ = nullptr;
}

certificate& certificate::operator=(certificate&& other) noexcept {
  if (this != &other) {
    X509_free(x509_);
    x509_ = other.x509_;
    other.x509_ = nullptr;
  }
  return *this;
}

certificate::~certificate() {
  X509_free(x509_);
}

result<certificate> certificate::from_der(bytes_view der) {
  if (der.empty() || der.size() > LONG_MAX)
    return fail(errc::malformed_input, "empty or oversized certificate; expected DER");
  const unsigned char* p = der.data();
  x509_ptr x{d2i_X509(nullptr, &p, static_cast<long>(der.size()))};
  if (!x) {
    auto reason = ossl::error_text();
    return fail(errc::malformed_input, "not a DER X.509 certificate (" + reason + ")");
  }
  if (p != der.data() + der.size())
    return fail(errc::malformed_input, "trailing bytes after the DER certificate");
  return certificate{x.release()};
}

result<std::vector<certificate>> certificate::chain_from_pem(std::string_view pem) {
  auto bio = read_bio(pem);
  if (!bio)
    return fail(errc::malformed_input, "certificate PEM is too large");
  std::vector<certificate> out;
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) {
      auto code = ERR_peek_last_error();
      ERR_clear_error();
      if (ERR_GET_LIB(code) == ERR_LIB_PEM && ERR_GET_REASON(code) == PEM_R_NO_START_LINE)
        break;
      return fail(errc::malformed_input, "PEM block " + std::to_string(out.size() + 1)
                                           + " is damaged; check the certificate file");
    }
    std::string block_name{name};
    OPENSSL_free(name);
    OPENSSL_free(header);
    std::unique_ptr<unsigned char, openssl_free> hold{data};
    if (block_name != PEM_STRING_X509)
      return fail(errc::malformed_input, "PEM block " + std::to_string(out.size() + 1) + " is a \""
                                           + block_name + "\", not a CERTIFICATE");
    auto cert = from_der({data, static_cast<std::size_t>(len)});
    if (!cert)
      return fail(errc::malformed_input, "PEM certificate " + std::to_string(out.size() + 1)
                                           + ": " + cert.err().message);
    out.push_back(std::move(*cert));
  }
  if (out.empty())
    return fail(errc::malformed_input, "no PEM \"CERTIFICATE\" found; expected one or more "
                                       "-----BEGIN CERTIFICATE----- blocks");
  return out;
}

result<certificate> certificate::from_pem(std::string_view pem) {
  auto chain = chain_from_pem(pem);
  if (!chain)
    return std::move(chain).err();
  if (chain->size() != 1)
    return fail(errc::malformed_input, "expected one certificate but the PEM holds "
                                         + std::to_string(chain->size())
                                         + "; load bundles as a chain");
  return std::move(chain->front());
}

std::string certificate::to_pem() const {
  if (x509_ == nullptr)
    return {};
  bio_ptr bio{BIO_new(BIO_s_mem())};
  if (!bio || PEM_write_bio_X509(bio.get(), x509_) != 1)
    die("PEM_write_bio_X509");
  return bio_string(bio.get());
}

bytes certificate::to_der() const {
  if (x509_ == nullptr)
    return {};
  unsigned char* buf = nullptr;
  auto len = i2d_X509(x509_, &buf);
  if (len <= 0)
    die("i2d_X509");
  bytes out{buf, buf + len};
  OPENSSL_free(buf);
  return out;
}

subject certificate::subject() const {
  if (x509_ == nullptr)
    return {};
  return read_subject(X509_get_subject_name(x509_));
}

std::vector<std::string> certificate::dns_names() const {
  if (x509_ == nullptr)
    return {};
  gens_ptr gens{
    static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x509_, NID_subject_alt_name, nullptr, nullptr))};
  ERR_clear_error();
  return dns_entries(gens.get());
}

std::vector<std::string> certificate::ip_addresses() const {
  if (x509_ == nullptr)
    return {};
  gens_ptr gens{
    static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x509_, NID_subject_alt_name, nullptr, nullptr))};
  ERR_clear_error();
  return ip_entries(gens.get());
}

std::chrono::system_clock::time_point certificate::not_before() const {
  return x509_ == nullptr ? std::chrono::system_clock::time_point{}
                          : to_time_point(X509_get0_notBefore(x509_));
}

std::chrono::system_clock::time_point certificate::not_after() const {
  return x509_ == nullptr ? std::chrono::system_clock::time_point{}
                          : to_time_point(X509_get0_notAfter(x509_));
}

std::string certificate::serial_hex() const {
  if (x509_ == nullptr)
    return {};
  bn_ptr bn{ASN1_INTEGER_to_BN(X509_get0_serialNumber(x509_), nullptr)};
  if (!bn)
    die("ASN1_INTEGER_to_BN");
  bytes buf(static_cast<std::size_t>(BN_num_bytes(bn.get())));
  BN_bn2bin(bn.get(), buf.data());
  auto digits = buf.empty() ? std::string{"00"} : hex(buf);
  return BN_is_negative(bn.get()) ? "-" + digits : digits;
}

bool certificate::is_ca() const {
  return x509_ != nullptr && (X509_get_extension_flags(x509_) & EXFLAG_CA) != 0;
}

int certificate::path_length() const {
  if (x509_ == nullptr)
    return -1;
  auto len = X509_get_pathlen(x509_);
  return len < 0 || len > INT_MAX ? -1 : static_cast<int>(len);
}

std::string certificate::fingerprint() const {
  return crypto::fingerprint(to_der());
}

crypto::public_key certificate::public_key() const {
  auto* pkey = x509_ == nullptr ? nullptr : X509_get0_pubkey(x509_);
  if (pkey != nullptr)
    EVP_PKEY_up_ref(pkey);
  ERR_clear_error();
  return crypto::public_key{pkey};
}

bool certificate::operator==(const certificate& other) const {
  return to_der() == other.to_der();
}

// -- certificate_request ------------------------------------------------------------------------------

certificate_request::certificate_request(X509_REQ* req) noexcept : req_(req) {
  // nop
}

certificate_request::certificate_request(certificate_request&& other) noexcept : req_(other.req_) {
  other.req_ = nullptr;
}

certificate_request& certificate_request::operator=(certificate_request&& other) noexcept {
  if (this != &other) {
    X509_REQ_free(req_);
    req_ = other.req_;
    other.req_ = nullptr;
  }
  return *this;
}

certificate_request::~certificate_request() {
  X509_REQ_free(req_);
}

result<certificate_request> certificate_request::create(const private_key& key,
                                                        const crypto::subject& subj,
                                                        std::string dns_name) {
  if (key.native_handle() == nullptr)
    return fail(errc::invalid_state, "certificate request with a moved-from private key");
  if (subj.common_name.empty())
    return fail(errc::invalid_config, "a certificate request needs a common name");
  if (!valid_dns_name(dns_name, false))
    return fail(errc::invalid_config, "'" + dns_name + "' is not a DNS name; use labels of "
                                        "letters, digits and hyphens separated by dots");
  auto name = make_name(subj);
  if (!name)
    return std::move(name).err();
  req_ptr req{X509_REQ_new()};
  if (!req || X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1
      || X509_REQ_set_subject_name(req.get(), name->get()) != 1
      || X509_REQ_set_pubkey(req.get(), key.native_handle()) != 1)
    return openssl_failure("building the certificate request");
  gens_ptr gens{sk_GENERAL_NAME_new_null()};
  if (!gens || sk_GENERAL_NAME_push(gens.get(), make_dns(dns_name)) <= 0)
    die("building the subjectAltName");
  exts_ptr exts{sk_X509_EXTENSION_new_null()};
  auto* san = X509V3_EXT_i2d(NID_subject_alt_name, 0, gens.get());
  if (!exts || san == nullptr || sk_X509_EXTENSION_push(exts.get(), san) <= 0) {
    X509_EXTENSION_free(san);
    return openssl_failure("building the request's subjectAltName");
  }
  if (X509_REQ_add_extensions(req.get(), exts.get()) != 1)
    return openssl_failure("adding the request's extensions");
  if (X509_REQ_sign(req.get(), key.native_handle(), EVP_sha256()) <= 0)
    return openssl_failure("signing the certificate request");
  return certificate_request{req.release()};
}

result<certificate_request> certificate_request::from_der(bytes_view der) {
  if (der.empty() || der.size() > LONG_MAX)
    return fail(errc::malformed_input, "empty or oversized certificate request; expected DER");
  const unsigned char* p = der.data();
  req_ptr req{d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size()))};
  if (!req) {
    auto reason = ossl::error_text();
    return fail(errc::malformed_input, "not a DER certificate request (" + reason + ")");
  }
  if (p != der.data() + der.size())
    return fail(errc::malformed_input, "trailing bytes after the DER certificate request");
  auto* pkey = X509_REQ_get0_pubkey(req.get());
  ERR_clear_error();
  if (pkey == nullptr || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC)
    return fail(errc::malformed_input, "the certificate request does not hold an EC public key");
  return certificate_request{req.release()};
}

result<certificate_request> certificate_request::from_pem(std::string_view pem) {
  auto bio = read_bio(pem);
  if (!bio)
    return fail(errc::malformed_input, "certificate request PEM is too large");
  req_ptr req{PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr)};
  if (!req) {
    auto reason = ossl::error_text();
    return fail(errc::malformed_input, "no PEM \"CERTIFICATE REQUEST\" found (" + reason + ")");
  }
  ERR_clear_error();
  auto* pkey = X509_REQ_get0_pubkey(req.get());
  ERR_clear_error();
  if (pkey == nullptr || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC)
    return fail(errc::malformed_input, "the certificate request does not hold an EC public key");
  return certificate_request{req.release()};
}

std::string certificate_request::to_pem() const {
  if (req_ == nullptr)
    return {};
  bio_ptr bio{BIO_new(BIO_s_mem())};
  if (!bio || PEM_write_bio_X509_REQ(bio.get(), req_) != 1)
    die("PEM_write_bio_X509_REQ");
  return bio_string(bio.get());
}

bytes certificate_request::to_der() const {
  if (req_ == nullptr)
    return {};
  unsigned char* buf = nullptr;
  auto len = i2d_X509_REQ(req_, &buf);
  if (len <= 0)
    die("i2d_X509_REQ");
  bytes out{buf, buf + len};
  OPENSSL_free(buf);
  return out;
}

subject certificate_request::subject() const {
  if (req_ == nullptr)
    return {};
  return read_subject(X509_REQ_get_subject_name(req_));
}

std::vector<std::string> certificate_request::dns_names() const {
  if (req_ == nullptr)
    return {};
  exts_ptr exts{X509_REQ_get_extensions(req_)};
  if (!exts) {
    ERR_clear_error();
    return {};
  }
  gens_ptr gens{
    static_cast<GENERAL_NAMES*>(X509V3_get_d2i(exts.get(), NID_subject_alt_name, nullptr, nullptr))};
  ERR_clear_error();
  return dns_entries(gens.get());
}

crypto::public_key certificate_request::public_key() const {
  auto* pkey = req_ == nullptr ? nullptr : X509_REQ_get0_pubkey(req_);
  if (pkey != nullptr)
    EVP_PKEY_up_ref(pkey);
  ERR_clear_error();
  return crypto::public_key{pkey};
}

result<void> certificate_request::verify_signature() const {
  if (req_ == nullptr)
    return fail(errc::invalid_state, "verifying a moved-from certificate request");
  auto* pkey = X509_REQ_get0_pubkey(req_);
  auto rc = pkey == nullptr ? 0 : X509_REQ_verify(req_, pkey);
  ERR_clear_error();
  if (rc != 1)
    return fail(errc::bad_signature, "the certificate request's signature does not verify; it was "
                                     "altered or not made with the key it names");
  return joconde::ok();
}

} // namespace joconde::crypto
