#include "joconde/enclave/simulated.hpp"

#include "ossl.hpp"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>

namespace joconde::enclave {

using detail::pkey_ptr;
using detail::x509_ptr;

/// The simulated secure processor's keys: the chip key signs; the root key is dropped once it has
/// issued the chip certificate, so only the certificate of the root stays.
struct simulated_platform::impl {
  pkey_ptr chip_key;
  bytes root_der;
  bytes chip_der;
  bytes chip_id;
};

namespace {

// -- report layout (simulated.hpp) --

constexpr std::uint32_t report_version = 1;
constexpr std::size_t off_platform = 4;
constexpr std::size_t platform_field = 32;
constexpr std::size_t off_flags = 36;
constexpr std::size_t off_tcb = 40;
constexpr std::size_t off_measurement = 44;
constexpr std::size_t off_host = 92;
constexpr std::size_t off_report_data = 124;
constexpr std::size_t off_chip_id = 188;
constexpr std::size_t signed_size = 220;
constexpr std::size_t scalar_size = 32;
constexpr std::uint32_t flag_debug = 1;

static_assert(signed_size + 2 * scalar_size == simulated_report_size);

using bn_ptr = std::unique_ptr<BIGNUM, ossl::free_with<BN_free>>;
using sig_ptr = std::unique_ptr<ECDSA_SIG, ossl::free_with<ECDSA_SIG_free>>;
using ossl::bio_ptr;
using store_ptr = std::unique_ptr<X509_STORE, ossl::free_with<X509_STORE_free>>;
using store_ctx_ptr = std::unique_ptr<X509_STORE_CTX, ossl::free_with<X509_STORE_CTX_free>>;

/// Frees a certificate stack without its certificates (sk_X509_free is a macro).
struct stack_free {
  void operator()(STACK_OF(X509) * s) const noexcept { sk_X509_free(s); }
};
using stack_ptr = std::unique_ptr<STACK_OF(X509), stack_free>;

error crypto(std::string what) {
  return fail(errc::crypto_failure,
              "the simulated platform could not " + what + " (" + ossl::error_text()
                + "); check the OpenSSL installation");
}

bool add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, ossl::free_with<X509_EXTENSION_free>> ext{
    X509V3_EXT_conf_nid(nullptr, &ctx, nid, value)};
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

/// A certificate for `key` named `cn`, issued by `issuer` (null: self-signed CA) with `issuer_key`.
x509_ptr make_certificate(const char* cn, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
  x509_ptr cert{X509_new()};
  bn_ptr serial{BN_new()};
  if (!cert || !serial || X509_set_version(cert.get(), X509_VERSION_3) != 1
      || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1
      || !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get()))
      || !X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600)
      || !X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600)
      || X509_set_pubkey(cert.get(), key) != 1)
    return nullptr;
  auto* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("joconde (SIMULATED TEE)"), -1,
                             -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  bool ca = issuer == nullptr;
  X509* signer = ca ? cert.get() : issuer;
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(signer)) != 1
      || !add_extension(cert.get(), signer, NID_basic_constraints,
                        ca ? "critical,CA:TRUE,pathlen:0" : "critical,CA:FALSE")
      || !add_extension(cert.get(), signer, NID_key_usage,
                        ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature")
      || !add_extension(cert.get(), signer, NID_subject_key_identifier, "hash")
      || !add_extension(cert.get(), signer, NID_authority_key_identifier, "keyid:always")
      || X509_sign(cert.get(), ca ? key : issuer_key, EVP_sha256()) <= 0)
    return nullptr;
  return cert;
}

/// Signs `data` with `key`, as r || s of 32 bytes each.
bool sign_raw(EVP_PKEY* key, std::span<const std::uint8_t> data, std::uint8_t* out) {
  detail::md_ctx_ptr ctx{EVP_MD_CTX_new()};
  std::size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1
      || EVP_DigestSign(ctx.get(), nullptr, &len, data.data(), data.size()) != 1)
    return false;
  bytes der(len);
  if (EVP_DigestSign(ctx.get(), der.data(), &len, data.data(), data.size()) != 1)
    return false;
  const unsigned char* p = der.data();
  sig_ptr sig{d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len))};
  return sig
         && BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out, scalar_size) == scalar_size
         && BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out + scalar_size, scalar_size) == scalar_size;
}

/// Checks the r || s signature at `sig` over `data` with `key`.
bool verify_raw(EVP_PKEY* key, std::span<const std::uint8_t> data, const std::uint8_t* raw) {
  sig_ptr sig{ECDSA_SIG_new()};
  BIGNUM* r = BN_bin2bn(raw, scalar_size, nullptr);
  BIGNUM* s = BN_bin2bn(raw + scalar_size, scalar_size, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return false;
  }
  unsigned char* der = nullptr;
  auto len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0)
    return false;
  detail::md_ctx_ptr ctx{EVP_MD_CTX_new()};
  bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1
            && EVP_DigestVerify(ctx.get(), der, static_cast<std::size_t>(len), data.data(),
                                data.size())
                 == 1;
  OPENSSL_free(der);
  ERR_clear_error();
  return ok;
}

/// Verifies `chip` against the trusted `roots` with the rest of the chain as untrusted helpers;
/// X509_V_OK or the OpenSSL verification error.
int verify_chain(const std::vector<x509_ptr>& roots, const std::vector<x509_ptr>& chain) {
  store_ptr store{X509_STORE_new()};
  stack_ptr untrusted{sk_X509_new_null()};
  store_ctx_ptr ctx{X509_STORE_CTX_new()};
  if (!store || !untrusted || !ctx)
    return X509_V_ERR_OUT_OF_MEM;
  for (const auto& root : roots)
    X509_STORE_add_cert(store.get(), root.get());
  for (std::size_t i = 1; i < chain.size(); ++i)
    sk_X509_push(untrusted.get(), chain[i].get());
  if (X509_STORE_CTX_init(ctx.get(), store.get(), chain[0].get(), untrusted.get()) != 1)
    return X509_V_ERR_UNSPECIFIED;
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_ANY);
  auto ok = X509_verify_cert(ctx.get());
  ERR_clear_error();
  return ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx.get());
}

result<void> write_pem(const std::filesystem::path& file, mode_t mode,
                       const std::function<int(BIO*)>& write) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0)
    return fail(errno == EEXIST ? errc::already_exists : errc::io_error,
                "cannot create " + file.string() + " (" + std::strerror(errno)
                  + "); choose an empty directory for the simulated platform's keys");
  bio_ptr bio{BIO_new_fd(fd, BIO_CLOSE)};
  if (!bio) {
    ::close(fd);
    return crypto("open " + file.string());
  }
  if (write(bio.get()) != 1 || BIO_flush(bio.get()) != 1)
    return fail(errc::io_error, "cannot write " + file.string() + " (" + ossl::error_text()
                                  + "); check the disk and retry");
  return ok();
}

bio_ptr open_pem(const std::filesystem::path& file) {
  return bio_ptr{BIO_new_file(file.c_str(), "r")};
}

error bad_file(const std::filesystem::path& file, std::string what) {
  ERR_clear_error();
  return fail(errc::invalid_config, "the simulated platform file " + file.string() + " " + what
                                      + "; write the directory again with simulated_platform::save");
}

error malformed_report(std::string what) {
  return fail(errc::malformed_input,
              "the simulated attestation evidence is malformed (" + what
                + "); the attester sent something that is not a simulated-platform report: check "
                  "that both sides run the same joconde version");
}

std::span<const std::uint8_t> field(const bytes& report, std::size_t off, std::size_t n) {
  return {report.data() + off, n};
}

/// The signed report of the secure processor `p` for a VM launched with `m`, `host` and `debug`.
result<bytes> make_report(const simulated_platform::impl& p, const measurement& m,
                          const host_data& host, bool debug, std::span<const std::uint8_t, 64> data) {
  bytes report;
  report.reserve(simulated_report_size);
  detail::put_be(report, report_version, 4);
  report.insert(report.end(), simulated_platform_id.begin(), simulated_platform_id.end());
  report.resize(off_platform + platform_field, 0);
  detail::put_be(report, debug ? flag_debug : 0, 4);
  detail::put_be(report, simulated_tcb_version, 4);
  report.insert(report.end(), m.begin(), m.end());
  report.insert(report.end(), host.begin(), host.end());
  report.insert(report.end(), data.begin(), data.end());
  report.insert(report.end(), p.chip_id.begin(), p.chip_id.end());
  report.resize(simulated_report_size, 0);
  if (!sign_raw(p.chip_key.get(), field(report, 0, signed_size), report.data() + signed_size))
    return crypto("sign a launch report");
  return report;
}

} // namespace

// -- launch measurement --

measurement measure(std::span<const std::uint8_t> binary, std::span<const std::uint8_t> configuration) {
  static constexpr std::string_view domain = "joconde/launch-measurement/v1";
  bytes prefix(domain.begin(), domain.end());
  detail::put_be(prefix, binary.size(), 8);
  bytes middle;
  detail::put_be(middle, configuration.size(), 8);
  measurement out{};
  detail::md_ctx_ptr ctx{EVP_MD_CTX_new()};
  EVP_DigestInit_ex(ctx.get(), EVP_sha384(), nullptr);
  EVP_DigestUpdate(ctx.get(), prefix.data(), prefix.size());
  EVP_DigestUpdate(ctx.get(), binary.data(), binary.size());
  EVP_DigestUpdate(ctx.get(), middle.data(), middle.size());
  EVP_DigestUpdate(ctx.get(), configuration.data(), configuration.size());
  EVP_DigestFinal_ex(ctx.get(), out.data(), nullptr);
  return out;
}

// -- simulated_platform --

simulated_platform::simulated_platform(std::shared_ptr<const impl> p) : impl_(std::move(p)) {
  // nop
}

simulated_platform::simulated_platform(simulated_platform&&) noexcept = default;
simulated_platform& simulated_platform::operator=(simulated_platform&&) noexcept = default;
simulated_platform::~simulated_platform() = default;

result<simulated_platform> simulated_platform::create() {
  pkey_ptr root_key{EVP_EC_gen("P-256")};
  pkey_ptr chip_key{EVP_EC_gen("P-256")};
  if (!root_key || !chip_key)
    return crypto("generate its P-256 keys");
  auto root = make_certificate("joconde SIMULATED platform root", root_key.get(), nullptr, nullptr);
  if (!root)
    return crypto("make its root certificate");
  auto chip = make_certificate("joconde SIMULATED chip", chip_key.get(), root.get(), root_key.get());
  if (!chip)
    return crypto("make its chip certificate");
  auto state = std::make_shared<impl>();
  state->chip_key = std::move(chip_key);
  state->root_der = detail::to_der(root.get());
  state->chip_der = detail::to_der(chip.get());
  state->chip_id = detail::spki_sha256(chip.get());
  if (state->root_der.empty() || state->chip_der.empty() || state->chip_id.empty())
    return crypto("encode its certificates");
  return simulated_platform{std::move(state)};
}

result<simulated_platform> simulated_platform::load(const std::filesystem::path& dir) {
  auto root_file = dir / "root.pem";
  auto chip_file = dir / "chip.pem";
  auto key_file = dir / "chip-key.pem";
  auto root_bio = open_pem(root_file);
  x509_ptr root{root_bio ? PEM_read_bio_X509(root_bio.get(), nullptr, nullptr, nullptr) : nullptr};
  if (!root)
    return bad_file(root_file, "is missing or not a PEM certificate");
  auto chip_bio = open_pem(chip_file);
  x509_ptr chip{chip_bio ? PEM_read_bio_X509(chip_bio.get(), nullptr, nullptr, nullptr) : nullptr};
  if (!chip)
    return bad_file(chip_file, "is missing or not a PEM certificate");
  auto key_bio = open_pem(key_file);
  pkey_ptr key{key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr)
                       : nullptr};
  if (!key)
    return bad_file(key_file, "is missing or not a PEM private key");
  if (X509_check_private_key(chip.get(), key.get()) != 1)
    return bad_file(key_file, "does not hold the key of chip.pem");
  std::vector<x509_ptr> roots;
  roots.push_back(x509_ptr{X509_dup(root.get())});
  std::vector<x509_ptr> chain;
  chain.push_back(x509_ptr{X509_dup(chip.get())});
  if (verify_chain(roots, chain) != X509_V_OK)
    return bad_file(chip_file, "is not a valid certificate issued by root.pem");
  auto state = std::make_shared<impl>();
  state->chip_key = std::move(key);
  state->root_der = detail::to_der(root.get());
  state->chip_der = detail::to_der(chip.get());
  state->chip_id = detail::spki_sha256(chip.get());
  return simulated_platform{std::move(state)};
}

result<void> simulated_platform::save(const std::filesystem::path& dir) const {
  auto root = detail::from_der(impl_->root_der);
  auto chip = detail::from_der(impl_->chip_der);
  for (const auto* name : {"root.pem", "chip.pem", "chip-key.pem"})
    if (std::filesystem::exists(dir / name))
      return fail(errc::already_exists, (dir / name).string()
                                          + " exists already; save the simulated platform into an "
                                            "empty directory");
  if (auto r = write_pem(dir / "root.pem", 0644,
                         [&](BIO* b) { return PEM_write_bio_X509(b, root.get()); });
      !r)
    return r;
  if (auto r = write_pem(dir / "chip.pem", 0644,
                         [&](BIO* b) { return PEM_write_bio_X509(b, chip.get()); });
      !r)
    return r;
  return write_pem(dir / "chip-key.pem", 0600, [&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, impl_->chip_key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
}

const bytes& simulated_platform::root_certificate() const noexcept {
  return impl_->root_der;
}

const bytes& simulated_platform::chip_id() const noexcept {
  return impl_->chip_id;
}

result<bytes> simulated_platform::launch_report(const measurement& m, const host_data& host,
                                                bool debug,
                                                std::span<const std::uint8_t, 64> data) const {
  return make_report(*impl_, m, host, debug, data);
}

simulated_attester simulated_platform::launch(const measurement& m, const host_data& host,
                                              bool debug) const {
  return simulated_attester{impl_, m, host, debug};
}

// -- simulated_attester --

simulated_attester::simulated_attester(std::shared_ptr<const simulated_platform::impl> p,
                                       const measurement& m, const host_data& host, bool debug)
  : platform_(std::move(p)), measurement_(m), host_(host), debug_(debug) {
  // nop
}

result<evidence> simulated_attester::get_evidence(std::span<const std::uint8_t, 64> data) const {
  auto report = make_report(*platform_, measurement_, host_, debug_, data);
  if (!report)
    return std::move(report).err();
  return evidence{std::string{simulated_platform_id}, std::move(*report),
                  {platform_->chip_der, platform_->root_der}};
}

// -- simulated_verifier --

namespace {

/// Checks that `ev` may be and looks like simulated evidence; returns its parsed certificate chain.
result<std::vector<x509_ptr>> parse_evidence(const evidence& ev, const reference_values& ref) {
  if (!ref.allow_simulated)
    return fail(errc::forbidden,
                "the evidence comes from the SIMULATED TEE platform, which gives no memory "
                "protection, and this verifier does not allow simulated platforms; enable them only "
                "for tests and demonstrations, or run the Computing Party on SEV-SNP or TDX hardware");
  if (ev.platform != simulated_platform_id)
    return malformed_report("its platform id is \"" + ev.platform.substr(0, 64) + "\", not \""
                            + std::string{simulated_platform_id} + "\"");
  const auto& report = ev.report;
  if (report.size() != simulated_report_size)
    return malformed_report("the report has " + std::to_string(report.size()) + " bytes, not "
                            + std::to_string(simulated_report_size));
  if (ev.chain.empty())
    return malformed_report("it carries no chip certificate");
  std::vector<x509_ptr> chain;
  for (const auto& der : ev.chain) {
    chain.push_back(detail::from_der(der));
    if (!chain.back())
      return malformed_report("certificate " + std::to_string(chain.size()) + " is not DER X.509");
  }
  return chain;
}

/// Checks that the chip certificate `chain` ends in a trusted root (DER) and is valid now.
result<void> check_chain(const std::vector<bytes>& trusted, const std::vector<x509_ptr>& chain) {
  std::vector<x509_ptr> roots;
  for (const auto& der : trusted)
    if (auto root = detail::from_der(der))
      roots.push_back(std::move(root));
  if (auto rc = verify_chain(roots, chain); rc != X509_V_OK) {
    auto why = std::string{X509_verify_cert_error_string(rc)};
    if (rc == X509_V_ERR_CERT_HAS_EXPIRED || rc == X509_V_ERR_CERT_NOT_YET_VALID)
      return fail(errc::certificate_expired,
                  "the simulated chip certificate is outside its validity period (" + why
                    + "); the platform must be given a new chip certificate");
    return fail(errc::untrusted_chain,
                "the simulated chip key is unknown: its certificate does not chain to a trusted "
                "simulated platform root ("
                  + why + "); trust this platform's root certificate only if you know it is yours");
  }
  return ok();
}

/// Checks the report's signature by `chip_key` and its fixed fields (version, platform, chip id).
result<void> check_report(const bytes& report, EVP_PKEY* chip_key, const bytes& chip_id) {
  if (!verify_raw(chip_key, field(report, 0, signed_size), report.data() + signed_size))
    return fail(errc::bad_signature,
                "the simulated attestation report's signature does not verify with the chip key: "
                "the report was altered in transit or forged; ask the attester for fresh evidence");
  if (detail::get_be(report.data(), 4) != report_version)
    return malformed_report("report version " + std::to_string(detail::get_be(report.data(), 4))
                            + " is not 1");
  bytes padded_id(simulated_platform_id.begin(), simulated_platform_id.end());
  padded_id.resize(platform_field, 0);
  if (!std::ranges::equal(field(report, off_platform, platform_field), padded_id))
    return malformed_report("the report's platform id field is not \"joconde-simulated\"");
  if (!std::ranges::equal(field(report, off_chip_id, chip_id.size()), chip_id))
    return fail(errc::untrusted_chain,
                "the simulated report names chip "
                  + detail::hex(field(report, off_chip_id, chip_id.size()))
                  + " but was signed by chip " + detail::hex(chip_id)
                  + "; the platform is misconfigured, do not trust it");
  return ok();
}

/// The claims a verified simulated report makes (all but the chip id).
claims read_claims(const bytes& report) {
  claims out;
  out.platform = std::string{simulated_platform_id};
  out.simulated = true;
  out.debug = (detail::get_be(report.data() + off_flags, 4) & flag_debug) != 0;
  out.tcb_version = static_cast<std::uint32_t>(detail::get_be(report.data() + off_tcb, 4));
  std::copy_n(report.data() + off_measurement, out.launch_measurement.size(),
              out.launch_measurement.begin());
  std::copy_n(report.data() + off_host, out.host.size(), out.host.begin());
  std::copy_n(report.data() + off_report_data, out.report.size(), out.report.begin());
  return out;
}

/// Checks the claims against the reference values and the report data this handshake `expected`.
result<void> check_claims(const claims& out, const reference_values& ref,
                          std::span<const std::uint8_t, 64> expected) {
  if (out.debug)
    return fail(errc::debug_enabled,
                "the simulated TEE VM was launched with debugging enabled, so the host can read its "
                "memory; relaunch it without debug");
  if (out.tcb_version < ref.min_tcb_version)
    return fail(errc::tcb_outdated,
                "the simulated platform's TCB version " + std::to_string(out.tcb_version)
                  + " is older than the minimum " + std::to_string(ref.min_tcb_version)
                  + "; update the platform firmware or lower the minimum in the reference values");
  auto same_measurement = [&](const measurement& m) {
    return CRYPTO_memcmp(m.data(), out.launch_measurement.data(), m.size()) == 0;
  };
  if (std::ranges::none_of(ref.measurements, same_measurement))
    return fail(errc::measurement_mismatch,
                "the launch measurement " + detail::hex(out.launch_measurement) + " is not among the "
                  + std::to_string(ref.measurements.size())
                  + " accepted ones: the VM runs a binary or configuration that was not approved; "
                    "check the build or add its measurement to the reference values");
  if (CRYPTO_memcmp(out.host.data(), ref.cta_hash.data(), out.host.size()) != 0)
    return fail(errc::host_data_mismatch,
                "the host data (CTA hash) is " + detail::hex(out.host) + ", expected "
                  + detail::hex(ref.cta_hash)
                  + ": the VM was launched for another CTA; launch one for this CTA");
  if (CRYPTO_memcmp(out.report.data(), expected.data(), out.report.size()) != 0)
    return fail(errc::replayed,
                "the report data does not match this handshake: the evidence is replayed (old "
                "nonce), relayed from another Computing Party or Computing Task, or bound to another "
                "channel key; start a new handshake");
  return ok();
}

} // namespace

simulated_verifier::simulated_verifier(std::vector<bytes> roots) : roots_(std::move(roots)) {
  // nop
}

result<claims> simulated_verifier::verify(const evidence& ev, const reference_values& ref,
                                          std::span<const std::uint8_t, 64> expected) const {
  auto chain = parse_evidence(ev, ref);
  if (!chain)
    return std::move(chain).err();
  if (auto checked = check_chain(roots_, *chain); !checked)
    return checked.err();
  auto* chip_cert = chain->front().get();
  auto chip_id = detail::spki_sha256(chip_cert);
  for (const auto& revoked : ref.revoked_chips)
    if (revoked == chip_id)
      return fail(errc::certificate_revoked,
                  "the simulated chip key " + detail::hex(chip_id)
                    + " is revoked, so its reports prove nothing; move the Computing Party to "
                      "another platform");
  if (auto checked = check_report(ev.report, X509_get0_pubkey(chip_cert), chip_id); !checked)
    return checked.err();
  auto out = read_claims(ev.report);
  out.chip_id = std::move(chip_id);
  if (auto checked = check_claims(out, ref, expected); !checked)
    return checked.err();
  return out;
}

} // namespace joconde::enclave
