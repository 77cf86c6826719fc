// The runtime's cryptography on OpenSSL: bytes, hashing, MAC, KDF, AEAD and keys here; certificates
// and certificate requests in crypto_test_x509.cpp.
#define BOOST_TEST_MODULE crypto
#include <boost/test/unit_test.hpp>

#include "crypto_test_support.hpp"

using namespace joconde;
using namespace std::chrono_literals;
using namespace crypto_test_support;

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
