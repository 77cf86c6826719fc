#include "test_pki.hpp"

#include <stdexcept>

namespace joconde::test {

namespace {

template <class T>
T must(result<T> r, const char* what) {
  if (!r)
    throw std::runtime_error(std::string{what} + ": " + r.err().describe());
  return std::move(*r);
}

} // namespace

test_pki::test_pki(std::string domain)
  : domain_(std::move(domain)),
    root_key_(must(crypto::private_key::generate(), "root key")),
    root_ca_([&] {
      crypto::issue_profile p;
      p.is_ca = true;
      p.path_length = 4;
      p.permitted_dns = {domain_};
      p.not_before = std::chrono::system_clock::now() - std::chrono::hours{1};
      return must(crypto::issue({domain_ + " Root CA", "Test SO", "", "so@example.org"}, {},
                                root_key_.public_key(), nullptr, root_key_, p),
                  "root CA");
    }()) {
  auto key = must(crypto::private_key::generate(), "root node key");
  crypto::issue_profile p;
  p.is_ca = true;
  p.path_length = 3;
  p.permitted_dns = {domain_};
  p.not_before = std::chrono::system_clock::now() - std::chrono::hours{1};
  auto cert = must(crypto::issue({"root", "Test SO", "", "so@example.org"}, {domain_},
                                 key.public_key(), &root_ca_, root_key_, p),
                   "root node");
  nodes_.emplace(domain_, test_node{domain_, std::move(key), {cert}});
}

test_node& test_pki::add(const std::string& label, const std::string& parent_fqdn,
                         std::chrono::seconds validity,
                         std::chrono::system_clock::time_point not_before) {
  auto& parent = nodes_.at(parent_fqdn);
  auto fqdn = label + "." + parent_fqdn;
  auto key = must(crypto::private_key::generate(), "node key");
  crypto::issue_profile p;
  auto parent_len = parent.chain.front().path_length();
  p.is_ca = parent_len != 0;
  p.path_length = parent_len > 0 ? parent_len - 1 : -1;
  if (p.is_ca)
    p.permitted_dns = {fqdn};
  p.validity = validity;
  p.not_before = not_before;
  auto cert = must(crypto::issue({label, "Test Org", "IT", "it@example.org"}, {fqdn},
                                 key.public_key(), &parent.chain.front(), parent.key, p),
                   "node certificate");
  std::vector<crypto::certificate> chain{cert};
  chain.insert(chain.end(), parent.chain.begin(), parent.chain.end());
  return nodes_.emplace(fqdn, test_node{fqdn, std::move(key), std::move(chain)}).first->second;
}

std::vector<std::string> test_pki::chain_der(const std::string& fqdn) {
  std::vector<std::string> out;
  for (const auto& c : nodes_.at(fqdn).chain) {
    auto der = c.to_der();
    out.emplace_back(der.begin(), der.end());
  }
  return out;
}

} // namespace joconde::test
