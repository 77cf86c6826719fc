#define BOOST_TEST_MODULE crypto
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

using namespace joconde;
using namespace std::chrono_literals;
using crypto::bytes;

namespace {

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

bytes unhex(std::string_view s) {
  auto r = crypto::from_hex(s);
  BOOST_REQUIRE_MESSAGE(r, "bad hex in the test: " << s);
  return *r;
}

template <class T>
T must(result<T> r) {
  if (!r)
    BOOST_FAIL(r.err().describe());
  return std::move(*r);
}

/// A subject with only a common name.
crypto::subject named(std::string cn) {
  return crypto::subject{std::move(cn), "", "", ""};
}

crypto::private_key new_key() {
  return must(crypto::private_key::generate());
}

/// Flips one bit of the first occurrence of `needle` in `der`.
bytes flip_in(bytes der, std::string_view needle) {
  auto it = std::search(der.begin(), der.end(), needle.begin(), needle.end());
  BOOST_REQUIRE_MESSAGE(it != der.end(), "'" << needle << "' not found in DER");
  *it ^= 0x01;
  return der;
}

/// True if the certificate has extension `nid` with this criticality.
bool has_ext(const crypto::certificate& cert, int nid, bool critical) {
  auto idx = X509_get_ext_by_NID(cert.native_handle(), nid, -1);
  if (idx < 0)
    return false;
  return (X509_EXTENSION_get_critical(X509_get_ext(cert.native_handle(), idx)) != 0) == critical;
}

bool has_ext(const crypto::certificate& cert, int nid) {
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

} // namespace

// -- bytes --------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(hex_round_trip_and_malformed_hex) {
  bytes data{0x00, 0x01, 0xab, 0xff};
  BOOST_TEST(crypto::hex(data) == "0001abff");
  BOOST_TEST(unhex("0001ABff") == data);
  BOOST_TEST(crypto::hex(crypto::to_bytes("AZ")) == "415a");
  BOOST_TEST(unhex("").empty());
  BOOST_TEST(code_of(crypto::from_hex("abc")) == "malformed_input");
  BOOST_TEST(code_of(crypto::from_hex("zz")) == "malformed_input");
  BOOST_TEST(code_of(crypto::from_hex("0g")) == "malformed_input");
}

BOOST_AUTO_TEST_CASE(fingerprint_is_uppercase_colon_separated_sha256) {
  auto fp = crypto::fingerprint(crypto::to_bytes("abc"));
  BOOST_TEST(fp == "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:"
                   "61:F2:00:15:AD");
  BOOST_TEST(crypto::fingerprint(crypto::to_bytes("abd")) != fp);
}

BOOST_AUTO_TEST_CASE(random_bytes_have_the_size_asked_and_differ) {
  auto a = crypto::random_bytes(32);
  auto b = crypto::random_bytes(32);
  BOOST_TEST(a.size() == 32u);
  BOOST_TEST(crypto::random_bytes(0).empty());
  BOOST_TEST(a != b);
}

BOOST_AUTO_TEST_CASE(constant_time_equal_compares_contents_and_sizes) {
  bytes a{1, 2, 3};
  bytes b{1, 2, 3};
  bytes c{1, 2, 4};
  bytes d{1, 2};
  BOOST_TEST(crypto::constant_time_equal(a, b));
  BOOST_TEST(!crypto::constant_time_equal(a, c));
  BOOST_TEST(!crypto::constant_time_equal(a, d));
  BOOST_TEST(crypto::constant_time_equal(bytes{}, bytes{}));
  BOOST_TEST(!crypto::constant_time_equal(bytes{}, a));
}

BOOST_AUTO_TEST_CASE(secure_bytes_copies_and_empties_moved_from) {
  bytes secret{9, 8, 7};
  crypto::secure_bytes s{crypto::bytes_view{secret}};
  BOOST_TEST(s.size() == 3u);
  BOOST_TEST(crypto::constant_time_equal(s.view(), secret));
  crypto::secure_bytes t{std::move(s)};
  BOOST_TEST(s.empty()); // NOLINT(bugprone-use-after-move): checking the moved-from state
  BOOST_TEST(s.data() == nullptr);
  BOOST_TEST(crypto::constant_time_equal(t.view(), secret));
  crypto::secure_bytes u{std::size_t{4}};
  BOOST_TEST(crypto::constant_time_equal(u.view(), bytes(4, 0)));
  u = std::move(t);
  BOOST_TEST(t.empty()); // NOLINT(bugprone-use-after-move)
  BOOST_TEST(crypto::constant_time_equal(u.view(), secret));
}

// -- hashing, MAC, KDF, AEAD --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(sha256_of_abc_matches_fips_180_vector) {
  auto expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  BOOST_TEST(crypto::hex(crypto::sha256(crypto::to_bytes("abc"))) == expected);
  BOOST_TEST(crypto::hex(crypto::sha256(crypto::to_bytes("abd"))) != expected);
  BOOST_TEST(crypto::hex(crypto::sha256(bytes{}))
             == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

BOOST_AUTO_TEST_CASE(sha256_hasher_streams_and_is_reusable) {
  crypto::sha256_hasher h;
  h.update(crypto::to_bytes("a"));
  h.update(bytes{});
  h.update(crypto::to_bytes("bc"));
  BOOST_TEST(h.finish() == crypto::sha256(crypto::to_bytes("abc")));
  h.update(crypto::to_bytes("ab"));
  BOOST_TEST(h.finish() == crypto::sha256(crypto::to_bytes("ab")));
  h.update(crypto::to_bytes("ab"));
  BOOST_TEST(h.finish() != crypto::sha256(crypto::to_bytes("abc")));
}

BOOST_AUTO_TEST_CASE(hmac_sha256_matches_rfc_4231_case_2) {
  auto mac = crypto::hmac_sha256(crypto::to_bytes("Jefe"),
                                 crypto::to_bytes("what do ya want for nothing?"));
  BOOST_TEST(crypto::hex(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  auto other = crypto::hmac_sha256(crypto::to_bytes("Jeff"),
                                   crypto::to_bytes("what do ya want for nothing?"));
  BOOST_TEST(!crypto::constant_time_equal(mac, other));
  BOOST_TEST(crypto::hmac_sha256(bytes{}, bytes{}).size() == 32u);
}

BOOST_AUTO_TEST_CASE(hkdf_sha256_matches_rfc_5869_case_1) {
  auto ikm = bytes(22, 0x0b);
  auto salt = unhex("000102030405060708090a0b0c");
  auto info = unhex("f0f1f2f3f4f5f6f7f8f9");
  auto okm = crypto::hkdf_sha256(ikm, salt, info, 42);
  BOOST_REQUIRE_MESSAGE(okm, message_of(okm));
  BOOST_TEST(crypto::hex(okm->view())
             == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
  auto other = crypto::hkdf_sha256(ikm, salt, unhex("f0"), 42);
  BOOST_REQUIRE(other);
  BOOST_TEST(!crypto::constant_time_equal(okm->view(), other->view()));
  // RFC 5869 case 3: empty salt and info.
  auto empty = crypto::hkdf_sha256(ikm, bytes{}, bytes{}, 42);
  BOOST_REQUIRE_MESSAGE(empty, message_of(empty));
  BOOST_TEST(crypto::hex(empty->view())
             == "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
  BOOST_TEST(code_of(crypto::hkdf_sha256(ikm, salt, info, 0)) == "malformed_input");
  BOOST_TEST(code_of(crypto::hkdf_sha256(ikm, salt, info, 255 * 32 + 1)) == "malformed_input");
}

BOOST_AUTO_TEST_CASE(aes256gcm_matches_gcm_spec_test_case_16) {
  auto key = unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  auto nonce = unhex("cafebabefacedbaddecaf888");
  auto aad = unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  auto plain = unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
  auto sealed = crypto::aes256gcm_seal(key, nonce, aad, plain);
  BOOST_REQUIRE_MESSAGE(sealed, message_of(sealed));
  BOOST_TEST(crypto::hex(*sealed)
             == "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
                "76fc6ece0f4e1768cddf8853bb2d551b");
  auto opened = crypto::aes256gcm_open(key, nonce, aad, *sealed);
  BOOST_REQUIRE_MESSAGE(opened, message_of(opened));
  BOOST_TEST(*opened == plain);
}

BOOST_AUTO_TEST_CASE(aes256gcm_detects_tampering) {
  auto key = crypto::random_bytes(32);
  auto nonce = crypto::random_bytes(12);
  auto aad = crypto::to_bytes("header");
  auto plain = crypto::to_bytes("the payload");
  auto sealed = must(crypto::aes256gcm_seal(key, nonce, aad, plain));
  BOOST_TEST(sealed.size() == plain.size() + 16);
  BOOST_TEST(must(crypto::aes256gcm_open(key, nonce, aad, sealed)) == plain);
  auto bad_ct = sealed;
  bad_ct[0] ^= 1;
  BOOST_TEST(code_of(crypto::aes256gcm_open(key, nonce, aad, bad_ct)) == "bad_mac");
  auto bad_tag = sealed;
  bad_tag.back() ^= 1;
  BOOST_TEST(code_of(crypto::aes256gcm_open(key, nonce, aad, bad_tag)) == "bad_mac");
  BOOST_TEST(code_of(crypto::aes256gcm_open(key, nonce, crypto::to_bytes("headers"), sealed))
             == "bad_mac");
  auto other_nonce = nonce;
  other_nonce[0] ^= 1;
  BOOST_TEST(code_of(crypto::aes256gcm_open(key, other_nonce, aad, sealed)) == "bad_mac");
  auto other_key = key;
  other_key[31] ^= 1;
  BOOST_TEST(code_of(crypto::aes256gcm_open(other_key, nonce, aad, sealed)) == "bad_mac");
  // Empty plaintext and aad still authenticate.
  auto empty = must(crypto::aes256gcm_seal(key, nonce, bytes{}, bytes{}));
  BOOST_TEST(empty.size() == 16u);
  BOOST_TEST(must(crypto::aes256gcm_open(key, nonce, bytes{}, empty)).empty());
  BOOST_TEST(code_of(crypto::aes256gcm_open(key, nonce, aad, empty)) == "bad_mac");
}

BOOST_AUTO_TEST_CASE(aes256gcm_refuses_wrong_sizes) {
  auto key = crypto::random_bytes(32);
  auto nonce = crypto::random_bytes(12);
  auto plain = crypto::to_bytes("x");
  BOOST_TEST(code_of(crypto::aes256gcm_seal(crypto::random_bytes(16), nonce, {}, plain))
             == "malformed_input");
  BOOST_TEST(code_of(crypto::aes256gcm_seal(key, crypto::random_bytes(16), {}, plain))
             == "malformed_input");
  BOOST_TEST(code_of(crypto::aes256gcm_open(crypto::random_bytes(31), nonce, {}, bytes(32, 0)))
             == "malformed_input");
  BOOST_TEST(code_of(crypto::aes256gcm_open(key, crypto::random_bytes(8), {}, bytes(32, 0)))
             == "malformed_input");
  BOOST_TEST(code_of(crypto::aes256gcm_open(key, nonce, {}, bytes(15, 0))) == "malformed_input");
  BOOST_TEST(code_of(crypto::aes256gcm_seal(key, nonce, {}, plain)) == "ok");
}

// -- keys ---------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(private_key_encrypted_pem_round_trip) {
  auto key = new_key();
  auto pem = must(key.to_encrypted_pem("correct horse"));
  BOOST_TEST(pem.find(test::pem_begin("ENCRYPTED PRIVATE KEY")) != std::string::npos);
  BOOST_TEST(pem.find(test::pem_begin("PRIVATE KEY")) == std::string::npos);
  auto loaded = crypto::private_key::from_pem(pem, "correct horse");
  BOOST_REQUIRE_MESSAGE(loaded, message_of(loaded));
  BOOST_TEST(loaded->public_key().to_der() == key.public_key().to_der());
  auto wrong = crypto::private_key::from_pem(pem, "correct horsf");
  BOOST_TEST(code_of(wrong) == "bad_passphrase");
  BOOST_TEST(code_of(crypto::private_key::from_pem(pem, "")) == "bad_passphrase");
  BOOST_TEST(code_of(key.to_encrypted_pem("")) == "invalid_config");
  // Two exports use fresh salts and IVs.
  BOOST_TEST(must(key.to_encrypted_pem("correct horse")) != pem);
}

BOOST_AUTO_TEST_CASE(private_key_encrypted_pem_uses_pbes2_aes_256_cbc) {
  auto key = new_key();
  auto pem = must(key.to_encrypted_pem("pw"));
  auto* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  auto* p8 = PEM_read_bio_PKCS8(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  BOOST_REQUIRE(p8 != nullptr);
  const X509_ALGOR* alg = nullptr;
  X509_SIG_get0(p8, &alg, nullptr);
  const ASN1_OBJECT* oid = nullptr;
  X509_ALGOR_get0(&oid, nullptr, nullptr, alg);
  BOOST_TEST(OBJ_obj2nid(oid) == NID_pbes2);
  // The cipher OID (aes-256-cbc) is in the DER of the algorithm parameters.
  unsigned char* der = nullptr;
  auto len = i2d_X509_SIG(p8, &der);
  bytes encoded{der, der + len};
  OPENSSL_free(der);
  X509_SIG_free(p8);
  auto aes256cbc = unhex("60864801650304012a"); // 2.16.840.1.101.3.4.1.42
  BOOST_TEST((std::search(encoded.begin(), encoded.end(), aes256cbc.begin(), aes256cbc.end())
              != encoded.end()));
}

BOOST_AUTO_TEST_CASE(private_key_from_pem_accepts_unencrypted_and_refuses_junk) {
  auto key = new_key();
  auto* bio = BIO_new(BIO_s_mem());
  BOOST_REQUIRE(PEM_write_bio_PrivateKey(bio, key.native_handle(), nullptr, nullptr, 0, nullptr,
                                         nullptr)
                == 1);
  char* data = nullptr;
  auto len = BIO_get_mem_data(bio, &data);
  std::string plain_pem{data, static_cast<std::size_t>(len)};
  BIO_free(bio);
  auto loaded = crypto::private_key::from_pem(plain_pem, "");
  BOOST_REQUIRE_MESSAGE(loaded, message_of(loaded));
  BOOST_TEST((loaded->public_key() == key.public_key()));
  BOOST_TEST(code_of(crypto::private_key::from_pem("not a key", "pw")) == "malformed_input");
  BOOST_TEST(code_of(crypto::private_key::from_pem("", "")) == "malformed_input");
  auto cert_pem = pki{}.x.to_pem();
  BOOST_TEST(code_of(crypto::private_key::from_pem(cert_pem, "")) == "malformed_input");
}

BOOST_AUTO_TEST_CASE(private_key_from_pem_refuses_other_curves) {
  auto* p384 = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
  BOOST_REQUIRE(p384 != nullptr);
  auto* bio = BIO_new(BIO_s_mem());
  BOOST_REQUIRE(PEM_write_bio_PrivateKey(bio, p384, nullptr, nullptr, 0, nullptr, nullptr) == 1);
  char* data = nullptr;
  auto len = BIO_get_mem_data(bio, &data);
  std::string pem{data, static_cast<std::size_t>(len)};
  BIO_free(bio);
  BOOST_TEST(code_of(crypto::private_key::from_pem(pem, "")) == "malformed_input");
  // A P-384 public key parses but ECDH with it is refused.
  crypto::public_key pub{p384}; // adopts the reference
  auto parsed = crypto::public_key::from_der(pub.to_der());
  BOOST_REQUIRE_MESSAGE(parsed, message_of(parsed));
  BOOST_TEST(code_of(new_key().ecdh(*parsed)) == "malformed_input");
}

BOOST_AUTO_TEST_CASE(public_key_der_and_pem_round_trip) {
  auto key = new_key();
  auto pub = key.public_key();
  auto der = pub.to_der();
  auto from_der = crypto::public_key::from_der(der);
  BOOST_REQUIRE_MESSAGE(from_der, message_of(from_der));
  BOOST_TEST(from_der->to_der() == der);
  BOOST_TEST((*from_der == pub));
  auto from_pem = crypto::public_key::from_pem(pub.to_pem());
  BOOST_REQUIRE_MESSAGE(from_pem, message_of(from_pem));
  BOOST_TEST(from_pem->to_der() == der);
  BOOST_TEST(pub.fingerprint() == crypto::fingerprint(der));
  BOOST_TEST(!(pub == new_key().public_key()));
  auto copy = pub;
  BOOST_TEST((copy == pub));
  auto trailing = der;
  trailing.push_back(0);
  BOOST_TEST(code_of(crypto::public_key::from_der(trailing)) == "malformed_input");
  BOOST_TEST(code_of(crypto::public_key::from_der(crypto::bytes_view{der}.first(der.size() - 1)))
             == "malformed_input");
  BOOST_TEST(code_of(crypto::public_key::from_der(bytes{})) == "malformed_input");
  BOOST_TEST(code_of(crypto::public_key::from_pem("junk")) == "malformed_input");
  // A point that is not on the curve: flip a bit of the last coordinate byte.
  auto off_curve = der;
  off_curve.back() ^= 0x01;
  BOOST_TEST(code_of(crypto::public_key::from_der(off_curve)) == "malformed_input");
}

BOOST_AUTO_TEST_CASE(sign_and_verify) {
  auto key = new_key();
  auto msg = crypto::to_bytes("the message");
  auto sig = must(key.sign(msg));
  auto pub = key.public_key();
  auto ok = pub.verify(msg, sig);
  BOOST_TEST(ok.ok(), message_of(ok));
  auto tampered_msg = crypto::to_bytes("the messagf");
  BOOST_TEST(code_of(pub.verify(tampered_msg, sig)) == "bad_signature");
  auto tampered_sig = sig;
  tampered_sig[tampered_sig.size() - 1] ^= 0x01;
  BOOST_TEST(code_of(pub.verify(msg, tampered_sig)) == "bad_signature");
  auto trailing_sig = sig;
  trailing_sig.push_back(0);
  BOOST_TEST(code_of(pub.verify(msg, trailing_sig)) == "bad_signature");
  BOOST_TEST(code_of(pub.verify(msg, bytes{})) == "bad_signature");
  BOOST_TEST(code_of(pub.verify(msg, crypto::to_bytes("garbage"))) == "bad_signature");
  BOOST_TEST(code_of(new_key().public_key().verify(msg, sig)) == "bad_signature");
  // Empty message signs and verifies too.
  auto empty_sig = must(key.sign(bytes{}));
  BOOST_TEST(pub.verify(bytes{}, empty_sig).ok());
  BOOST_TEST(code_of(pub.verify(msg, empty_sig)) == "bad_signature");
}

BOOST_AUTO_TEST_CASE(ecdh_agrees_on_both_sides) {
  auto a = new_key();
  auto b = new_key();
  auto c = new_key();
  auto ab = a.ecdh(b.public_key());
  auto ba = b.ecdh(a.public_key());
  BOOST_REQUIRE_MESSAGE(ab, message_of(ab));
  BOOST_REQUIRE_MESSAGE(ba, message_of(ba));
  BOOST_TEST(ab->size() == 32u);
  BOOST_TEST(crypto::constant_time_equal(ab->view(), ba->view()));
  auto ac = must(a.ecdh(c.public_key()));
  BOOST_TEST(!crypto::constant_time_equal(ab->view(), ac.view()));
  // Through DER, as the link handshake does it.
  auto b_pub = must(crypto::public_key::from_der(b.public_key().to_der()));
  BOOST_TEST(crypto::constant_time_equal(must(a.ecdh(b_pub)).view(), ab->view()));
}

// -- certificates -------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(issued_certificates_have_the_requested_contents) {
  pki p;
  BOOST_TEST(p.root_ca.is_ca());
  BOOST_TEST(p.root_ca.path_length() == 2);
  BOOST_TEST(p.root_ca.dns_names().empty());
  BOOST_TEST(p.root_node.is_ca());
  BOOST_TEST(p.root_node.path_length() == 1);
  BOOST_TEST(p.cp1.path_length() == 0);
  BOOST_TEST(!p.x.is_ca());
  BOOST_TEST(p.x.path_length() == -1);
  BOOST_TEST(p.x.dns_names() == std::vector<std::string>{"x.cp1.joconde.test"});
  BOOST_TEST(p.root_node.dns_names() == std::vector<std::string>{"root.joconde.test"});
  auto s = p.root_node.subject();
  BOOST_TEST(s.common_name == "root");
  BOOST_TEST(s.organisation == "Test SO");
  BOOST_TEST(s.department == "Ops");
  BOOST_TEST(s.email == "so@example.org");
  BOOST_TEST(p.root_ca.subject().department == "");
  BOOST_TEST((p.x.public_key() == p.x_key.public_key()));
  BOOST_TEST(!(p.x.public_key() == p.cp1_key.public_key()));
  // Validity.
  auto start = std::chrono::floor<std::chrono::seconds>(p.start);
  BOOST_TEST((p.x.not_before() == start));
  BOOST_TEST((p.x.not_after() - p.x.not_before() == std::chrono::seconds{365 * 24 * 3600}));
  // Serials are random, positive and at most 128 bits.
  BOOST_TEST(p.x.serial_hex() != p.cp1.serial_hex());
  BOOST_TEST(p.x.serial_hex().size() <= 32u);
  BOOST_TEST(p.x.serial_hex().front() != '-');
  // Extensions and their criticality.
  BOOST_TEST(has_ext(p.root_ca, NID_basic_constraints, true));
  BOOST_TEST(has_ext(p.x, NID_basic_constraints, true));
  BOOST_TEST(has_ext(p.root_ca, NID_key_usage, true));
  BOOST_TEST(has_ext(p.x, NID_key_usage, true));
  BOOST_TEST(!has_ext(p.root_ca, NID_ext_key_usage));
  BOOST_TEST(has_ext(p.root_node, NID_ext_key_usage, false));
  BOOST_TEST(has_ext(p.x, NID_ext_key_usage, false));
  BOOST_TEST(has_ext(p.cp1, NID_name_constraints, true));
  BOOST_TEST(!has_ext(p.x, NID_name_constraints));
  BOOST_TEST(!has_ext(p.root_ca, NID_name_constraints));
  BOOST_TEST(has_ext(p.x, NID_subject_key_identifier, false));
  BOOST_TEST(has_ext(p.x, NID_authority_key_identifier, false));
  BOOST_TEST(!has_ext(p.root_ca, NID_subject_alt_name));
  auto ku_ca = X509_get_key_usage(p.cp1.native_handle());
  BOOST_TEST((ku_ca & KU_KEY_CERT_SIGN) != 0u);
  BOOST_TEST((ku_ca & KU_CRL_SIGN) != 0u);
  BOOST_TEST((ku_ca & KU_KEY_AGREEMENT) == 0u);
  auto ku_leaf = X509_get_key_usage(p.x.native_handle());
  BOOST_TEST((ku_leaf & KU_DIGITAL_SIGNATURE) != 0u);
  BOOST_TEST((ku_leaf & KU_KEY_AGREEMENT) != 0u);
  BOOST_TEST((ku_leaf & KU_KEY_CERT_SIGN) == 0u);
  auto eku = X509_get_extended_key_usage(p.x.native_handle());
  BOOST_TEST((eku & XKU_SSL_SERVER) != 0u);
  BOOST_TEST((eku & XKU_SSL_CLIENT) != 0u);
  // AKID of each certificate is the SKID of its issuer.
  auto akid = X509_get0_authority_key_id(p.x.native_handle());
  auto skid = X509_get0_subject_key_id(p.cp1.native_handle());
  BOOST_REQUIRE(akid != nullptr);
  BOOST_REQUIRE(skid != nullptr);
  BOOST_TEST(ASN1_OCTET_STRING_cmp(akid, skid) == 0);
  BOOST_TEST(ASN1_OCTET_STRING_cmp(akid, X509_get0_subject_key_id(p.x.native_handle())) != 0);
}

BOOST_AUTO_TEST_CASE(certificate_pem_der_and_chain_round_trips) {
  pki p;
  auto from_pem = crypto::certificate::from_pem(p.x.to_pem());
  BOOST_REQUIRE_MESSAGE(from_pem, message_of(from_pem));
  BOOST_TEST((*from_pem == p.x));
  BOOST_TEST(!(*from_pem == p.cp1));
  auto from_der = crypto::certificate::from_der(p.cp1.to_der());
  BOOST_REQUIRE_MESSAGE(from_der, message_of(from_der));
  BOOST_TEST((*from_der == p.cp1));
  BOOST_TEST(from_der->fingerprint() == p.cp1.fingerprint());
  BOOST_TEST(p.cp1.fingerprint() == crypto::fingerprint(p.cp1.to_der()));
  BOOST_TEST(p.cp1.fingerprint().size() == 95u);
  auto bundle = p.x.to_pem() + p.cp1.to_pem() + p.root_node.to_pem();
  auto chain = crypto::certificate::chain_from_pem(bundle);
  BOOST_REQUIRE_MESSAGE(chain, message_of(chain));
  BOOST_REQUIRE(chain->size() == 3u);
  BOOST_TEST(((*chain)[0] == p.x));
  BOOST_TEST(((*chain)[1] == p.cp1));
  BOOST_TEST(((*chain)[2] == p.root_node));
  // Negative twins.
  BOOST_TEST(code_of(crypto::certificate::from_pem(bundle)) == "malformed_input");
  BOOST_TEST(code_of(crypto::certificate::chain_from_pem("")) == "malformed_input");
  BOOST_TEST(code_of(crypto::certificate::chain_from_pem("no pem here")) == "malformed_input");
  auto key_pem = must(p.x_key.to_encrypted_pem("pw"));
  BOOST_TEST(code_of(crypto::certificate::chain_from_pem(p.x.to_pem() + key_pem))
             == "malformed_input");
  auto damaged = p.x.to_pem();
  damaged[40] = '!';
  BOOST_TEST(code_of(crypto::certificate::chain_from_pem(damaged)) == "malformed_input");
  auto der = p.x.to_der();
  der.push_back(0);
  BOOST_TEST(code_of(crypto::certificate::from_der(der)) == "malformed_input");
  BOOST_TEST(code_of(crypto::certificate::from_der(bytes{1, 2, 3})) == "malformed_input");
}

BOOST_AUTO_TEST_CASE(issue_refuses_bad_arguments) {
  pki p;
  auto leaf = p.leaf_profile();
  auto stranger = new_key();
  // issuer key does not match the issuer certificate
  BOOST_TEST(code_of(crypto::issue(named("y"), {"y.cp1.joconde.test"}, stranger.public_key(), &p.cp1,
                                   p.root_node_key, leaf))
             == "invalid_config");
  BOOST_TEST(code_of(crypto::issue(named("y"), {"y.cp1.joconde.test"}, stranger.public_key(), &p.cp1,
                                   p.cp1_key, leaf))
             == "ok");
  // a non-CA issuer
  BOOST_TEST(code_of(crypto::issue(named("y"), {"y.x.cp1.joconde.test"}, stranger.public_key(), &p.x,
                                   p.x_key, leaf))
             == "constraint_violation");
  // self-signed for another key
  BOOST_TEST(code_of(crypto::issue(named("ca"), {}, stranger.public_key(), nullptr, p.root_key,
                                   p.ca_profile(-1, {})))
             == "invalid_config");
  // malformed names and profiles
  BOOST_TEST(code_of(crypto::issue(named(""), {"y.cp1.joconde.test"}, stranger.public_key(), &p.cp1,
                                   p.cp1_key, leaf))
             == "invalid_config");
  BOOST_TEST(code_of(crypto::issue(named("y"), {"y..joconde.test"}, stranger.public_key(), &p.cp1,
                                   p.cp1_key, leaf))
             == "invalid_config");
  BOOST_TEST(code_of(crypto::issue(named("y"), {"y cp1"}, stranger.public_key(), &p.cp1, p.cp1_key,
                                   leaf))
             == "invalid_config");
  auto zero = leaf;
  zero.validity = std::chrono::seconds{0};
  BOOST_TEST(code_of(crypto::issue(named("y"), {"y.cp1.joconde.test"}, stranger.public_key(), &p.cp1,
                                   p.cp1_key, zero))
             == "invalid_config");
  auto leaf_with_nc = leaf;
  leaf_with_nc.permitted_dns = {".y.cp1.joconde.test"};
  BOOST_TEST(code_of(crypto::issue(named("y"), {"y.cp1.joconde.test"}, stranger.public_key(), &p.cp1,
                                   p.cp1_key, leaf_with_nc))
             == "invalid_config");
  BOOST_TEST(code_of(crypto::issue(named(std::string(65, 'c')), {"y.cp1.joconde.test"},
                                   stranger.public_key(), &p.cp1, p.cp1_key, leaf))
             == "invalid_config");
}

BOOST_AUTO_TEST_CASE(verify_chain_accepts_the_tree) {
  pki p;
  auto r = p.verify_x();
  BOOST_TEST(r.ok(), message_of(r));
  // Intermediates in any order.
  r = crypto::verify_chain(p.x, {p.root_node, p.cp1}, p.root_ca, std::chrono::system_clock::now());
  BOOST_TEST(r.ok(), message_of(r));
  r = crypto::verify_chain(p.cp1, {p.root_node}, p.root_ca, std::chrono::system_clock::now());
  BOOST_TEST(r.ok(), message_of(r));
  r = crypto::verify_chain(p.root_node, {}, p.root_ca, std::chrono::system_clock::now());
  BOOST_TEST(r.ok(), message_of(r));
  // Certificates that went through PEM verify the same.
  auto chain = must(crypto::certificate::chain_from_pem(p.x.to_pem() + p.cp1.to_pem()
                                                        + p.root_node.to_pem()));
  auto root = must(crypto::certificate::from_pem(p.root_ca.to_pem()));
  r = crypto::verify_chain(chain[0], {chain[1], chain[2]}, root, std::chrono::system_clock::now());
  BOOST_TEST(r.ok(), message_of(r));
}

BOOST_AUTO_TEST_CASE(verify_chain_enforces_name_constraints) {
  pki p;
  auto key = new_key();
  auto cp2 = must(crypto::issue({"cp2", "Test Org", "IT", "it@example.org"}, {"cp2.joconde.test"},
                                key.public_key(), &p.cp1, p.cp1_key, p.leaf_profile()));
  auto r = crypto::verify_chain(cp2, {p.cp1, p.root_node}, p.root_ca,
                                std::chrono::system_clock::now());
  BOOST_TEST(code_of(r) == "constraint_violation");
  BOOST_TEST(message_of(r).find("depth") != std::string::npos, message_of(r));
  // The twin: the same issuer and profile with a name below cp1 verifies.
  auto y = must(crypto::issue({"y", "Test Org", "IT", "it@example.org"}, {"y.cp1.joconde.test"},
                              key.public_key(), &p.cp1, p.cp1_key, p.leaf_profile()));
  r = crypto::verify_chain(y, {p.cp1, p.root_node}, p.root_ca, std::chrono::system_clock::now());
  BOOST_TEST(r.ok(), message_of(r));
  // The root node may not certify a name outside the domain either.
  auto evil = must(crypto::issue(named("evil"), {"evil.example.org"}, key.public_key(), &p.root_node,
                                 p.root_node_key, p.leaf_profile()));
  r = crypto::verify_chain(evil, {p.root_node}, p.root_ca, std::chrono::system_clock::now());
  BOOST_TEST(code_of(r) == "constraint_violation");
}

BOOST_AUTO_TEST_CASE(verify_chain_enforces_path_length) {
  pki p;
  // cp1 has path length 0: it may issue a CA certificate, but nothing below that CA verifies.
  auto sub_key = new_key();
  auto sub = must(crypto::issue(named("y"), {"y.cp1.joconde.test"}, sub_key.public_key(), &p.cp1,
                                p.cp1_key, p.ca_profile(-1, {".y.cp1.joconde.test"})));
  auto leaf_key = new_key();
  auto leaf = must(crypto::issue(named("z"), {"z.y.cp1.joconde.test"}, leaf_key.public_key(), &sub,
                                 sub_key, p.leaf_profile()));
  auto r = crypto::verify_chain(leaf, {sub, p.cp1, p.root_node}, p.root_ca,
                                std::chrono::system_clock::now());
  BOOST_TEST(code_of(r) == "constraint_violation");
  BOOST_TEST(message_of(r).find("path length") != std::string::npos, message_of(r));
  // The twin: the CA right below cp1 itself verifies.
  r = crypto::verify_chain(sub, {p.cp1, p.root_node}, p.root_ca, std::chrono::system_clock::now());
  BOOST_TEST(r.ok(), message_of(r));
}

BOOST_AUTO_TEST_CASE(verify_chain_checks_validity_period) {
  pki p;
  auto key = new_key();
  auto profile = p.leaf_profile();
  profile.not_before = std::chrono::system_clock::now() - 48h;
  profile.validity = 24h;
  auto old = must(crypto::issue(named("old"), {"old.cp1.joconde.test"}, key.public_key(), &p.cp1,
                                p.cp1_key, profile));
  auto now = std::chrono::system_clock::now();
  auto r = crypto::verify_chain(old, {p.cp1, p.root_node}, p.root_ca, now);
  BOOST_TEST(code_of(r) == "certificate_expired");
  BOOST_TEST(message_of(r).find("expired") != std::string::npos, message_of(r));
  // The same chain verifies at a time inside the period... of the leaf only; the rest starts later.
  r = crypto::verify_chain(old, {p.cp1, p.root_node}, p.root_ca, now - 36h);
  BOOST_TEST(code_of(r) == "certificate_expired");
  // A valid chain is not yet valid before its start and expired after its end.
  BOOST_TEST(code_of(p.verify_x(p.start - 1h)) == "certificate_expired");
  BOOST_TEST(code_of(p.verify_x(now + 366 * 24h)) == "certificate_expired");
  BOOST_TEST(code_of(p.verify_x(now + 364 * 24h)) == "ok");
}

BOOST_AUTO_TEST_CASE(verify_chain_refuses_other_roots_and_broken_chains) {
  pki p;
  pki other;
  auto now = std::chrono::system_clock::now();
  auto r = crypto::verify_chain(p.x, {p.cp1, p.root_node}, other.root_ca, now);
  BOOST_TEST(code_of(r) == "untrusted_chain");
  BOOST_TEST(message_of(r).find("depth") != std::string::npos, message_of(r));
  // A missing intermediate.
  BOOST_TEST(code_of(crypto::verify_chain(p.x, {p.root_node}, p.root_ca, now)) == "untrusted_chain");
  // Mixing trees: other's cp1 cannot vouch for p's x.
  BOOST_TEST(code_of(crypto::verify_chain(p.x, {other.cp1, other.root_node}, p.root_ca, now))
             == "untrusted_chain");
  // A self-signed root in the intermediates is not a trust anchor.
  BOOST_TEST(code_of(crypto::verify_chain(p.x, {p.cp1, p.root_node, p.root_ca}, other.root_ca, now))
             == "untrusted_chain");
  // A tampered leaf: its signature no longer verifies.
  auto tampered = must(crypto::certificate::from_der(flip_in(p.x.to_der(), "x.cp1.joconde.test")));
  r = crypto::verify_chain(tampered, {p.cp1, p.root_node}, p.root_ca, now);
  BOOST_TEST(code_of(r) == "untrusted_chain");
  // The twin of all of these.
  BOOST_TEST(code_of(p.verify_x()) == "ok");
}

// -- certificate requests -----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(certificate_request_create_parse_verify) {
  pki p;
  auto key = new_key();
  auto csr = crypto::certificate_request::create(key, {"y", "Test Org", "IT", "it@example.org"},
                                                 "y.cp1.joconde.test");
  BOOST_REQUIRE_MESSAGE(csr, message_of(csr));
  auto pem = csr->to_pem();
  BOOST_TEST(pem.find("-----BEGIN CERTIFICATE REQUEST-----") != std::string::npos);
  auto parsed = crypto::certificate_request::from_pem(pem);
  BOOST_REQUIRE_MESSAGE(parsed, message_of(parsed));
  auto ok = parsed->verify_signature();
  BOOST_TEST(ok.ok(), message_of(ok));
  auto s = parsed->subject();
  BOOST_TEST(s.common_name == "y");
  BOOST_TEST(s.organisation == "Test Org");
  BOOST_TEST(s.department == "IT");
  BOOST_TEST(s.email == "it@example.org");
  BOOST_TEST(parsed->dns_names() == std::vector<std::string>{"y.cp1.joconde.test"});
  BOOST_TEST((parsed->public_key() == key.public_key()));
  BOOST_TEST(parsed->to_der() == csr->to_der());
  // Issue from the request and verify the result.
  auto cert = crypto::issue(parsed->subject(), parsed->dns_names(), parsed->public_key(), &p.cp1,
                            p.cp1_key, p.leaf_profile());
  BOOST_REQUIRE_MESSAGE(cert, message_of(cert));
  auto r = crypto::verify_chain(*cert, {p.cp1, p.root_node}, p.root_ca,
                                std::chrono::system_clock::now());
  BOOST_TEST(r.ok(), message_of(r));
}

BOOST_AUTO_TEST_CASE(certificate_request_tampered_or_malformed) {
  auto key = new_key();
  auto csr = must(crypto::certificate_request::create(key, {"y", "Test Org", "IT", ""},
                                                      "y.cp1.joconde.test"));
  BOOST_TEST(csr.verify_signature().ok());
  auto tampered = crypto::certificate_request::from_der(flip_in(csr.to_der(), "Test Org"));
  BOOST_REQUIRE_MESSAGE(tampered, message_of(tampered));
  BOOST_TEST(tampered->subject().organisation != "Test Org");
  BOOST_TEST(code_of(tampered->verify_signature()) == "bad_signature");
  auto renamed = crypto::certificate_request::from_der(flip_in(csr.to_der(), "y.cp1"));
  BOOST_REQUIRE_MESSAGE(renamed, message_of(renamed));
  BOOST_TEST(code_of(renamed->verify_signature()) == "bad_signature");
  BOOST_TEST(code_of(crypto::certificate_request::from_pem("junk")) == "malformed_input");
  BOOST_TEST(code_of(crypto::certificate_request::from_der(bytes{0x30, 0x00})) == "malformed_input");
  BOOST_TEST(code_of(crypto::certificate_request::create(key, named(""), "y.cp1.joconde.test"))
             == "invalid_config");
  BOOST_TEST(code_of(crypto::certificate_request::create(key, named("y"), "")) == "invalid_config");
  BOOST_TEST(code_of(crypto::certificate_request::create(key, named("y"), "-y.cp1")) == "invalid_config");
}
