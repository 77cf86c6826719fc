#define BOOST_TEST_MODULE attestation
#include <boost/test/unit_test.hpp>

// The simulated TEE platform behind the attestation interface (DESIGN.md §8): one positive round trip
// and its negative twins, each refused with its own error code and nothing else accepted.

#include "joconde/enclave/platform.hpp"
#include "joconde/enclave/simulated.hpp"

#include "enclave_test_support.hpp"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace joconde;
using namespace joconde::enclave;

using joconde::test::must;
using joconde::test::cta_hash;
using joconde::test::text;

namespace {


// -- an independent signer for the documented report layout (simulated.hpp, docs/tee.md) --

/// Owns one OpenSSL object.
template <class T, void (*F)(T*)>
struct owned {
  T* p;
  explicit owned(T* x) : p(x) {
    BOOST_REQUIRE(p != nullptr);
  }
  owned(const owned&) = delete;
  ~owned() {
    F(p);
  }
};

using pkey_owner = owned<EVP_PKEY, EVP_PKEY_free>;
using cert_owner = owned<X509, X509_free>;

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  auto* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  BOOST_REQUIRE(ext != nullptr);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

/// A certificate for `key` valid from `from` to `to` seconds from now, issued by `issuer` (self
/// when null) with `issuer_key`.
X509* certificate(EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key, long from, long to) {
  auto* cert = X509_new();
  X509_set_version(cert, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
  X509_gmtime_adj(X509_getm_notBefore(cert), from);
  X509_gmtime_adj(X509_getm_notAfter(cert), to);
  X509_set_pubkey(cert, key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(issuer ? "chip" : "root"), -1,
                             -1, 0);
  X509* signer = issuer ? issuer : cert;
  X509_set_issuer_name(cert, X509_get_subject_name(signer));
  add_ext(cert, signer, NID_basic_constraints, issuer ? "critical,CA:FALSE" : "critical,CA:TRUE");
  add_ext(cert, signer, NID_key_usage, issuer ? "critical,digitalSignature" : "critical,keyCertSign");
  BOOST_REQUIRE(X509_sign(cert, issuer ? issuer_key : key, EVP_sha256()) > 0);
  return cert;
}

bytes der_of(X509* cert) {
  unsigned char* buf = nullptr;
  auto len = i2d_X509(cert, &buf);
  bytes out(buf, buf + len);
  OPENSSL_free(buf);
  return out;
}

bytes chip_id_of(X509* cert) {
  unsigned char* buf = nullptr;
  auto len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &buf);
  bytes out(32);
  SHA256(buf, static_cast<std::size_t>(len), out.data());
  OPENSSL_free(buf);
  return out;
}

void put32(bytes& out, std::uint32_t x) {
  for (int i = 3; i >= 0; --i)
    out.push_back(static_cast<std::uint8_t>(x >> (8 * i)));
}

/// A report built and signed from the documentation alone, by `chip_key` for `chip`.
bytes documented_report(EVP_PKEY* chip_key, X509* chip, const measurement& m, const host_data& h,
                        const report_data& d) {
  bytes r;
  put32(r, 1);
  std::string id = "joconde-simulated";
  r.insert(r.end(), id.begin(), id.end());
  r.resize(36, 0);
  put32(r, 0);
  put32(r, simulated_tcb_version);
  r.insert(r.end(), m.begin(), m.end());
  r.insert(r.end(), h.begin(), h.end());
  r.insert(r.end(), d.begin(), d.end());
  auto chip_id = chip_id_of(chip);
  r.insert(r.end(), chip_id.begin(), chip_id.end());
  BOOST_REQUIRE(r.size() == 220u);
  auto* ctx = EVP_MD_CTX_new();
  std::size_t len = 80;
  bytes sig(len);
  BOOST_REQUIRE(EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, chip_key) == 1);
  BOOST_REQUIRE(EVP_DigestSign(ctx, sig.data(), &len, r.data(), r.size()) == 1);
  EVP_MD_CTX_free(ctx);
  const unsigned char* p = sig.data();
  auto* ecdsa = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len));
  r.resize(284);
  BN_bn2binpad(ECDSA_SIG_get0_r(ecdsa), r.data() + 220, 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(ecdsa), r.data() + 252, 32);
  ECDSA_SIG_free(ecdsa);
  return r;
}

// -- fixture --

/// A launched CT VM, its verifier's reference values and one handshake's expected report data.
struct fixture {
  simulated_platform platform = must(simulated_platform::create());
  measurement approved = measure(text("joconde-vm 0.1.0"), text("engine = rss3\n"));
  host_data cta = cta_hash("cta-2026-042");
  bytes nonce = text("single-use nonce 0001");
  bytes kx_key = text("X25519 public key of the session");
  report_data data = report_data_for("joconde/ct-handshake", nonce, "ct-7", "cp-2", kx_key);
  simulated_verifier verifier{{platform.root_certificate()}};
  reference_values ref = accepting();

  reference_values accepting() const {
    reference_values r;
    r.measurements = {measure(text("joconde-vm 0.0.9"), text("")), approved};
    r.cta_hash = cta;
    r.min_tcb_version = simulated_tcb_version;
    r.allow_simulated = true;
    return r;
  }

  evidence evidence_of(const simulated_platform& p, const measurement& m, const host_data& h,
                       bool debug, const report_data& d) const {
    return must(p.launch(m, h, debug).get_evidence(d));
  }

  evidence good() const {
    return evidence_of(platform, approved, cta, false, data);
  }

  /// Checks that `ev` is refused with `code` and a message containing `words`.
  void refused(const evidence& ev, const reference_values& r, errc code, std::string_view words,
               const report_data& expected) const {
    auto res = verifier.verify(ev, r, expected);
    BOOST_REQUIRE_MESSAGE(!res, "evidence was accepted, expected " << to_string(code));
    BOOST_TEST(to_string(res.err().code) == to_string(code), res.err().describe());
    BOOST_TEST(res.err().message.find(words) != std::string::npos, res.err().describe());
  }

  void refused(const evidence& ev, errc code, std::string_view words) const {
    refused(ev, ref, code, words, data);
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(simulated_attestation, fixture)

BOOST_AUTO_TEST_CASE(round_trip_yields_claims_that_say_simulated) {
  auto ev = good();
  BOOST_TEST(ev.report.size() == simulated_report_size);
  BOOST_TEST(ev.chain.size() == 2u);
  auto wire = must(decode_evidence(encode(ev)));
  auto got = must(verifier.verify(wire, ref, data));
  BOOST_TEST(got.platform == "joconde-simulated");
  BOOST_TEST(got.simulated);
  BOOST_TEST(got.launch_measurement == approved);
  BOOST_TEST(got.host == cta);
  BOOST_TEST(got.report == data);
  BOOST_TEST(!got.debug);
  BOOST_TEST(got.tcb_version == simulated_tcb_version);
  BOOST_TEST(got.chip_id == platform.chip_id());
}

BOOST_AUTO_TEST_CASE(report_data_binds_every_input) {
  std::set<report_data> seen{data};
  seen.insert(report_data_for("joconde/other-label", nonce, "ct-7", "cp-2", kx_key));
  seen.insert(report_data_for("joconde/ct-handshake", text("nonce 0002"), "ct-7", "cp-2", kx_key));
  seen.insert(report_data_for("joconde/ct-handshake", nonce, "ct-8", "cp-2", kx_key));
  seen.insert(report_data_for("joconde/ct-handshake", nonce, "ct-7", "cp-3", kx_key));
  seen.insert(report_data_for("joconde/ct-handshake", nonce, "ct-7", "cp-2", text("other key")));
  // Length prefixes keep field boundaries: "ct-7" + "cp-2" differs from "ct-7c" + "p-2".
  seen.insert(report_data_for("joconde/ct-handshake", nonce, "ct-7c", "p-2", kx_key));
  BOOST_TEST(seen.size() == 7u);
  BOOST_TEST(data == report_data_for("joconde/ct-handshake", nonce, "ct-7", "cp-2", kx_key));
  std::array<std::uint8_t, 32> key_hash{};
  SHA256(kx_key.data(), kx_key.size(), key_hash.data());
  BOOST_TEST(std::equal(key_hash.begin(), key_hash.end(), data.begin() + 32));
}

BOOST_AUTO_TEST_CASE(measurement_covers_binary_and_configuration) {
  BOOST_TEST(measure(text("ab"), text("c")) != measure(text("a"), text("bc")));
  BOOST_TEST(measure(text("vm"), text("x")) != measure(text("vm"), text("y")));
  BOOST_TEST(measure(text("vm"), text("x")) == measure(text("vm"), text("x")));
}

BOOST_AUTO_TEST_CASE(wrong_measurement_is_refused) {
  auto other = measure(text("joconde-vm 0.1.0 patched"), text("engine = rss3\n"));
  refused(evidence_of(platform, other, cta, false, data), errc::measurement_mismatch,
          "not among the 2 accepted");
}

BOOST_AUTO_TEST_CASE(vm_launched_for_another_cta_is_refused) {
  refused(evidence_of(platform, approved, cta_hash("cta-2026-043"), false, data),
          errc::host_data_mismatch, "launched for another CTA");
}

BOOST_AUTO_TEST_CASE(debug_vm_is_refused) {
  refused(evidence_of(platform, approved, cta, true, data), errc::debug_enabled,
          "debugging enabled");
}

BOOST_AUTO_TEST_CASE(another_platforms_chip_key_is_unknown) {
  auto stranger = must(simulated_platform::create());
  refused(evidence_of(stranger, approved, cta, false, data), errc::untrusted_chain,
          "chip key is unknown");
  // Nor does presenting the trusted root next to the stranger's chip certificate help.
  auto mixed = evidence_of(stranger, approved, cta, false, data);
  mixed.chain[1] = platform.root_certificate();
  refused(mixed, errc::untrusted_chain, "chip key is unknown");
  // A chip certificate alone is checked against the configured roots too.
  auto bare = good();
  bare.chain.resize(1);
  BOOST_TEST(verifier.verify(bare, ref, data).ok());
  simulated_verifier trusts_nobody{{}};
  auto res = trusts_nobody.verify(good(), ref, data);
  BOOST_REQUIRE(!res);
  BOOST_TEST(to_string(res.err().code) == "untrusted_chain");
}

BOOST_AUTO_TEST_CASE(revoked_chip_key_is_refused) {
  auto r = ref;
  r.revoked_chips = {bytes(32, 0xab), platform.chip_id()};
  refused(good(), r, errc::certificate_revoked, "is revoked", data);
}

BOOST_AUTO_TEST_CASE(replayed_or_relayed_evidence_is_refused) {
  auto replayed = report_data_for("joconde/ct-handshake", text("nonce 0000"), "ct-7", "cp-2", kx_key);
  refused(evidence_of(platform, approved, cta, false, replayed), errc::replayed, "replayed");
  auto other_cp = report_data_for("joconde/ct-handshake", nonce, "ct-7", "cp-1", kx_key);
  refused(evidence_of(platform, approved, cta, false, other_cp), errc::replayed, "relayed");
  auto other_ct = report_data_for("joconde/ct-handshake", nonce, "ct-9", "cp-2", kx_key);
  refused(evidence_of(platform, approved, cta, false, other_ct), errc::replayed, "Computing Task");
  auto other_key = report_data_for("joconde/ct-handshake", nonce, "ct-7", "cp-2", text("mitm key"));
  refused(evidence_of(platform, approved, cta, false, other_key), errc::replayed, "channel key");
  // The same good evidence presented to the next handshake (a new nonce) is a replay too.
  auto next = report_data_for("joconde/ct-handshake", text("nonce 0002"), "ct-7", "cp-2", kx_key);
  refused(good(), ref, errc::replayed, "replayed", next);
}

BOOST_AUTO_TEST_CASE(simulated_platform_needs_explicit_permission) {
  auto r = ref;
  r.allow_simulated = false;
  refused(good(), r, errc::forbidden, "SIMULATED", data);
  refused(good(), r, errc::forbidden, "no memory protection", data);
}

BOOST_AUTO_TEST_CASE(old_tcb_is_refused) {
  auto r = ref;
  r.min_tcb_version = simulated_tcb_version + 1;
  refused(good(), r, errc::tcb_outdated, "older than the minimum", data);
}

BOOST_AUTO_TEST_CASE(tampering_with_any_report_byte_breaks_the_signature) {
  auto ev = good();
  for (std::size_t i = 0; i < ev.report.size(); ++i) {
    for (std::uint8_t flip : {0x01, 0x80}) {
      auto bad = ev;
      bad.report[i] ^= flip;
      auto res = verifier.verify(bad, ref, data);
      BOOST_REQUIRE_MESSAGE(!res, "byte " << i << " flipped and accepted");
      BOOST_REQUIRE_MESSAGE(res.err().code == errc::bad_signature,
                            "byte " << i << ": " << res.err().describe());
    }
  }
  BOOST_TEST(verifier.verify(ev, ref, data).ok());
}

BOOST_AUTO_TEST_CASE(certificate_garbage_and_wrong_sizes_are_malformed) {
  auto ev = good();
  auto short_report = ev;
  short_report.report.pop_back();
  refused(short_report, errc::malformed_input, "283 bytes");
  auto long_report = ev;
  long_report.report.push_back(0);
  refused(long_report, errc::malformed_input, "285 bytes");
  auto no_chain = ev;
  no_chain.chain.clear();
  refused(no_chain, errc::malformed_input, "no chip certificate");
  auto bad_cert = ev;
  bad_cert.chain[0].resize(bad_cert.chain[0].size() / 2);
  refused(bad_cert, errc::malformed_input, "not DER X.509");
  auto other_platform = ev;
  other_platform.platform = "amd-sev-snp";
  refused(other_platform, errc::malformed_input, "not \"joconde-simulated\"");
}

BOOST_AUTO_TEST_CASE(truncated_encoded_evidence_is_malformed) {
  auto wire = encode(good());
  for (std::size_t n = 0; n < wire.size(); ++n) {
    auto res = decode_evidence(std::span{wire}.first(n));
    BOOST_REQUIRE_MESSAGE(!res, "a " << n << "-byte prefix decoded");
    BOOST_REQUIRE(res.err().code == errc::malformed_input);
  }
  wire.push_back(0);
  BOOST_TEST(to_string(decode_evidence(wire).err().code) == "malformed_input");
}

BOOST_AUTO_TEST_CASE(random_garbage_is_malformed_never_a_crash) {
  std::mt19937_64 rng{20261126};
  auto original = good();
  auto wire = encode(original);
  std::size_t decoded = 0;
  for (int round = 0; round < 3000; ++round) {
    bytes input;
    if (round % 3 == 0) {
      input.resize(rng() % 600);
      for (auto& b : input)
        b = static_cast<std::uint8_t>(rng());
    } else {
      // Mutate a valid encoding: a few random bytes, sometimes cut short.
      input = wire;
      for (int k = 0, n = 1 + static_cast<int>(rng() % 4); k < n; ++k)
        input[rng() % input.size()] = static_cast<std::uint8_t>(rng());
      if (round % 3 == 2)
        input.resize(rng() % input.size());
    }
    auto ev = decode_evidence(input);
    if (!ev) {
      BOOST_REQUIRE(ev.err().code == errc::malformed_input);
      continue;
    }
    ++decoded;
    auto res = verifier.verify(*ev, ref, data);
    if (res) {
      // Accepted only when the report and chip certificate are intact (e.g. only the root copy in
      // the chain changed, which the verifier replaces by its own trusted root).
      BOOST_REQUIRE(ev->report == original.report);
      BOOST_REQUIRE(ev->chain.at(0) == original.chain[0]);
      continue;
    }
    static const std::set<errc> expected{errc::malformed_input, errc::bad_signature,
                                         errc::untrusted_chain};
    BOOST_REQUIRE_MESSAGE(expected.count(res.err().code) == 1, res.err().describe());
  }
  BOOST_TEST_MESSAGE(decoded << " of 3000 inputs decoded and were verified");
}

BOOST_AUTO_TEST_CASE(documented_layout_verifies_and_expired_chip_certificate_is_refused) {
  pkey_owner root_key{EVP_EC_gen("P-256")};
  pkey_owner chip_key{EVP_EC_gen("P-256")};
  cert_owner root{certificate(root_key.p, nullptr, nullptr, -3600, 3600)};
  cert_owner fresh{certificate(chip_key.p, root.p, root_key.p, -3600, 3600)};
  cert_owner expired{certificate(chip_key.p, root.p, root_key.p, -7200, -3600)};
  simulated_verifier trusts_test_root{{der_of(root.p)}};
  evidence ev{"joconde-simulated",
              documented_report(chip_key.p, fresh.p, approved, cta, data),
              {der_of(fresh.p)}};
  auto got = must(trusts_test_root.verify(ev, ref, data));
  BOOST_TEST(got.chip_id == chip_id_of(fresh.p));
  ev.chain = {der_of(expired.p)};
  auto res = trusts_test_root.verify(ev, ref, data);
  BOOST_REQUIRE(!res);
  BOOST_TEST(to_string(res.err().code) == "certificate_expired", res.err().describe());
  BOOST_TEST(res.err().message.find("validity period") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(saved_platform_loads_with_the_same_keys) {
  auto dir = std::filesystem::temp_directory_path()
             / ("joconde-simulated-" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(dir);
  BOOST_REQUIRE(platform.save(dir).ok());
  auto key_perms = std::filesystem::status(dir / "chip-key.pem").permissions();
  BOOST_TEST(((key_perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all))
              == std::filesystem::perms::none));
  BOOST_TEST(to_string(platform.save(dir).err().code) == "already_exists");
  auto loaded = must(simulated_platform::load(dir));
  BOOST_TEST(loaded.root_certificate() == platform.root_certificate());
  BOOST_TEST(loaded.chip_id() == platform.chip_id());
  BOOST_TEST(verifier.verify(evidence_of(loaded, approved, cta, false, data), ref, data).ok());
  std::filesystem::remove(dir / "chip.pem");
  BOOST_TEST(to_string(simulated_platform::load(dir).err().code) == "invalid_config");
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
