// Certificates and certificate requests (part of the crypto test program).
#include <boost/test/unit_test.hpp>

#include "crypto_test_support.hpp"

using namespace joconde;
using namespace std::chrono_literals;
using namespace crypto_test_support;

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
  // The code of issuing `name` with `sans` for the stranger's key.
  auto issued = [&](const std::string& name, const std::vector<std::string>& sans, const auto* issuer,
                    const auto& key, const auto& profile) {
    return code_of(crypto::issue(named(name), sans, stranger.public_key(), issuer, key, profile));
  };
  // issuer key does not match the issuer certificate
  BOOST_TEST(issued("y", {"y.cp1.joconde.test"}, &p.cp1, p.root_node_key, leaf) == "invalid_config");
  BOOST_TEST(issued("y", {"y.cp1.joconde.test"}, &p.cp1, p.cp1_key, leaf) == "ok");
  // a non-CA issuer
  BOOST_TEST(issued("y", {"y.x.cp1.joconde.test"}, &p.x, p.x_key, leaf) == "constraint_violation");
  // self-signed for another key
  BOOST_TEST(code_of(crypto::issue(named("ca"), {}, stranger.public_key(), nullptr, p.root_key, p.ca_profile(-1, {})))
             == "invalid_config");
  // malformed names and profiles
  BOOST_TEST(issued("", {"y.cp1.joconde.test"}, &p.cp1, p.cp1_key, leaf) == "invalid_config");
  BOOST_TEST(issued("y", {"y..joconde.test"}, &p.cp1, p.cp1_key, leaf) == "invalid_config");
  BOOST_TEST(issued("y", {"y cp1"}, &p.cp1, p.cp1_key, leaf) == "invalid_config");
  auto zero = leaf;
  zero.validity = std::chrono::seconds{0};
  BOOST_TEST(issued("y", {"y.cp1.joconde.test"}, &p.cp1, p.cp1_key, zero) == "invalid_config");
  auto leaf_with_nc = leaf;
  leaf_with_nc.permitted_dns = {".y.cp1.joconde.test"};
  BOOST_TEST(issued("y", {"y.cp1.joconde.test"}, &p.cp1, p.cp1_key, leaf_with_nc) == "invalid_config");
  BOOST_TEST(issued(std::string(65, 'c'), {"y.cp1.joconde.test"}, &p.cp1, p.cp1_key, leaf) == "invalid_config");
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
