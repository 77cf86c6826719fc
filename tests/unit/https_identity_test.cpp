#define BOOST_TEST_MODULE https_identity
#include <boost/test/unit_test.hpp>

#include "node/https_identity.hpp"
#include "node/node_config.hpp"
#include "support/test_pki.hpp"

#include <openssl/bio.h>
#include <openssl/pem.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

using namespace joconde;
namespace fs = std::filesystem;

namespace {

bool has(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

node_config config(const std::map<std::string, std::string>& overrides) {
  std::map<std::string, std::string> values{{"node.name", "client-a"},
                                            {"node.role", "client"},
                                            {"node.listen", "127.0.0.1:4701"},
                                            {"node.parent", "127.0.0.1:4700"},
                                            {"http.listen", "198.18.0.14:8443"},
                                            {"metrics.listen", "127.0.0.1:9701"}};
  for (const auto& [k, v] : overrides)
    values[k] = v;
  auto cfg = load_node_config({}, values);
  BOOST_REQUIRE_MESSAGE(cfg.ok(), (cfg ? std::string{} : cfg.err().describe()));
  return *cfg;
}

struct tmp_dir {
  fs::path path = fs::temp_directory_path() / ("joconde-https-" + std::to_string(::getpid()));
  tmp_dir() { fs::create_directories(path); }
  ~tmp_dir() { fs::remove_all(path); }
};

/// The key as unencrypted PKCS#8 PEM, as an operator's key file holds it (made at test time).
std::string unencrypted_pem(const crypto::private_key& key) {
  BIO* bio = BIO_new(BIO_s_mem());
  BOOST_REQUIRE(bio != nullptr);
  BOOST_REQUIRE(PEM_write_bio_PrivateKey(bio, key.native_handle(), nullptr, nullptr, 0, nullptr, nullptr) == 1);
  char* data = nullptr;
  auto len = BIO_get_mem_data(bio, &data);
  std::string out{data, static_cast<std::size_t>(len)};
  BIO_free(bio);
  return out;
}

void write(const fs::path& file, const std::string& text, fs::perms perms) {
  std::ofstream{file, std::ios::trunc} << text;
  fs::permissions(file, perms);
}

} // namespace

BOOST_AUTO_TEST_CASE(the_node_issued_certificate_names_the_node_and_its_addresses) {
  auto cfg = config({{"http.advertise", "198.18.0.14, api.client-a.joconde.test, [2001:db8::14]:8443"}});
  auto names = https_names_of(cfg, "client-a.joconde.test", {"10.1.2.3"});
  BOOST_REQUIRE(names.ok());
  BOOST_CHECK_EQUAL(names->dns.front(), "client-a.joconde.test");
  BOOST_CHECK(has(names->dns, "api.client-a.joconde.test"));
  BOOST_CHECK(has(names->ips, "198.18.0.14"));
  BOOST_CHECK(has(names->ips, "2001:db8::14"));
  BOOST_CHECK(!has(names->ips, "10.1.2.3")); // a specific bind address: only it, not every interface
  // A wildcard listener is reached at any of this host's addresses and over loopback.
  cfg = config({{"http.listen", "0.0.0.0:8443"}});
  names = https_names_of(cfg, "client-a.joconde.test", {"10.1.2.3", "198.18.0.14"});
  BOOST_REQUIRE(names.ok());
  for (const auto* ip : {"10.1.2.3", "198.18.0.14", "127.0.0.1", "::1"})
    BOOST_CHECK_MESSAGE(has(names->ips, ip), ip);
  // A name outside the node's subtree cannot be certified by the node: the operator brings a
  // certificate for it.
  cfg = config({{"http.advertise", "statistics.office-a.eu"}});
  names = https_names_of(cfg, "client-a.joconde.test", {});
  BOOST_REQUIRE(!names);
  BOOST_CHECK(names.err().code == errc::invalid_config);
  BOOST_CHECK(names.err().message.find("http.certificate") != std::string::npos);
  BOOST_CHECK(!https_names_of(config({{"http.advertise", "client-b.joconde.test"}}), "client-a.joconde.test", {}));
}

BOOST_AUTO_TEST_CASE(the_node_issues_a_chain_that_verifies_to_the_root_with_a_fresh_key) {
  test::test_pki pki;
  auto& node = pki.add("client-a", pki.domain());
  auto cfg = config({{"http.advertise", "198.18.0.14"}});
  auto now = std::chrono::system_clock::now();
  auto id = https_identity(cfg, node.key, node.chain, now);
  BOOST_REQUIRE_MESSAGE(id.ok(), (id ? std::string{} : id.err().describe()));
  BOOST_REQUIRE_EQUAL(id->chain.size(), node.chain.size() + 1);
  const auto& leaf = id->chain.front();
  BOOST_CHECK(!leaf.is_ca());
  BOOST_CHECK(has(leaf.dns_names(), "client-a.joconde.test"));
  BOOST_CHECK(has(leaf.ip_addresses(), "198.18.0.14"));
  BOOST_CHECK(leaf.not_after() <= node.chain.front().not_after()); // never outlives its issuer
  BOOST_CHECK(id->key->public_key().to_der() == leaf.public_key().to_der());
  BOOST_CHECK(id->key->public_key().to_der() != node.key.public_key().to_der()); // not the node key
  std::vector<crypto::certificate> rest{id->chain.begin() + 1, id->chain.end()};
  auto verified = crypto::verify_chain(leaf, rest, pki.root_ca(), now);
  BOOST_CHECK_MESSAGE(verified.ok(), (verified ? std::string{} : verified.err().describe()));
  // Every start makes another key.
  auto again = https_identity(cfg, node.key, node.chain, now);
  BOOST_REQUIRE(again.ok());
  BOOST_CHECK(again->key->public_key().to_der() != id->key->public_key().to_der());
}

BOOST_AUTO_TEST_CASE(an_operator_certificate_is_checked_before_it_is_served) {
  test::test_pki pki;
  auto& node = pki.add("client-a", pki.domain());
  auto& other = pki.add("client-b", pki.domain());
  tmp_dir dir;
  auto now = std::chrono::system_clock::now();
  // The operator's certificate: here one the test's own CA made, for a name the node CA could not.
  auto web_key = crypto::private_key::generate().value();
  crypto::issue_profile p;
  p.is_ca = false;
  p.not_before = now - std::chrono::hours{1};
  p.ip_addresses = {"198.18.0.14"};
  auto web = crypto::issue({"api.client-a.joconde.test", "Office A", "", "it@a.example"},
                           {"api.client-a.joconde.test"}, web_key.public_key(), &node.chain.front(),
                           node.key, p)
               .value();
  auto chain_pem = web.to_pem() + node.chain.front().to_pem();
  write(dir.path / "web.pem", chain_pem, fs::perms::owner_read | fs::perms::owner_write);
  auto cfg = config({{"http.certificate", (dir.path / "web.pem").string()},
                     {"http.key", (dir.path / "web.key").string()}});
  // Missing key file.
  auto id = https_identity(cfg, node.key, node.chain, now);
  BOOST_CHECK(!id);
  // A key readable by others.
  write(dir.path / "web.key", unencrypted_pem(web_key), fs::perms::owner_read | fs::perms::others_read);
  id = https_identity(cfg, node.key, node.chain, now);
  BOOST_REQUIRE(!id);
  BOOST_CHECK(id.err().message.find("chmod 600") != std::string::npos);
  // Another key than the certificate's.
  write(dir.path / "web.key", unencrypted_pem(other.key), fs::perms::owner_read | fs::perms::owner_write);
  id = https_identity(cfg, node.key, node.chain, now);
  BOOST_REQUIRE(!id);
  BOOST_CHECK(id.err().message.find("does not belong") != std::string::npos);
  // The right one: served as given.
  write(dir.path / "web.key", unencrypted_pem(web_key), fs::perms::owner_read | fs::perms::owner_write);
  id = https_identity(cfg, node.key, node.chain, now);
  BOOST_REQUIRE_MESSAGE(id.ok(), (id ? std::string{} : id.err().describe()));
  BOOST_CHECK_EQUAL(id->chain.size(), 2u);
  BOOST_CHECK(id->chain.front().fingerprint() == web.fingerprint());
  // Not valid any more.
  id = https_identity(cfg, node.key, node.chain, web.not_after() + std::chrono::hours{1});
  BOOST_REQUIRE(!id);
  BOOST_CHECK(id.err().code == errc::certificate_expired);
}
