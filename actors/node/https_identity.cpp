#include "https_identity.hpp"

#include "../mplane/trust_view.hpp"
#include "node_config.hpp"
#include "pki_commands.hpp"

#include "joconde/io/net.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>

namespace joconde {

namespace {

void add_unique(std::vector<std::string>& list, std::string value) {
  if (std::find(list.begin(), list.end(), value) == list.end())
    list.push_back(std::move(value));
}

/// The host of an http.advertise entry ("host", "host:port", "[v6]:port", "[v6]").
std::string advertised_host(const std::string& entry) {
  if (auto hp = net::parse_host_port(entry))
    return hp->host;
  if (entry.size() > 2 && entry.front() == '[' && entry.back() == ']')
    return entry.substr(1, entry.size() - 2);
  return entry;
}

result<http::tls_identity> operator_identity(const node_config& cfg, std::chrono::system_clock::time_point now) {
  auto chain_pem = pki::read_file(cfg.http_certificate);
  if (!chain_pem)
    return fail(chain_pem.err().code, "http.certificate: " + chain_pem.err().message);
  auto chain = crypto::certificate::chain_from_pem(*chain_pem);
  if (!chain)
    return fail(chain.err().code, "http.certificate = " + cfg.http_certificate.string() + ": "
                                    + chain.err().message);
  auto key_pem = pki::read_private_file(cfg.http_key);
  if (!key_pem)
    return fail(key_pem.err().code, "http.key: " + key_pem.err().message);
  auto key = crypto::private_key::from_pem(*key_pem, "");
  if (!key)
    return fail(key.err().code, "http.key = " + cfg.http_key.string() + ": " + key.err().message
                                  + " (an unencrypted EC P-256 key in PEM is expected)");
  if (chain->front().public_key().to_der() != key->public_key().to_der())
    return fail(errc::invalid_config, "http.key = " + cfg.http_key.string()
                                        + " does not belong to the first certificate of http.certificate");
  if (now < chain->front().not_before() || now >= chain->front().not_after())
    return fail(errc::certificate_expired, "http.certificate = " + cfg.http_certificate.string()
                                             + " is not valid now (expired or not yet valid)");
  return http::tls_identity{std::move(*chain), std::make_shared<const crypto::private_key>(std::move(*key))};
}

} // namespace

std::vector<std::string> local_addresses() {
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0)
    return out;
  for (auto* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || (a->ifa_flags & IFF_UP) == 0)
      continue;
    auto family = a->ifa_addr->sa_family;
    if (family != AF_INET && family != AF_INET6)
      continue;
    if (family == AF_INET6
        && IN6_IS_ADDR_LINKLOCAL(&reinterpret_cast<const sockaddr_in6*>(a->ifa_addr)->sin6_addr))
      continue;
    char host[NI_MAXHOST] = {};
    auto len = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    if (::getnameinfo(a->ifa_addr, static_cast<socklen_t>(len), host, sizeof host, nullptr, 0,
                      NI_NUMERICHOST)
        == 0)
      add_unique(out, host);
  }
  ::freeifaddrs(list);
  return out;
}

result<https_names> https_names_of(const node_config& cfg, const std::string& fqdn,
                                   const std::vector<std::string>& local) {
  https_names names;
  names.dns.push_back(fqdn);
  for (const auto& entry : cfg.http_advertise) {
    auto host = advertised_host(entry);
    if (net::is_ip_literal(host)) {
      add_unique(names.ips, host);
    } else if (in_subtree(host, fqdn)) {
      add_unique(names.dns, host);
    } else {
      return fail(errc::invalid_config,
                  "http.advertise names " + host + ", which this node's own CA may not certify (it "
                  "certifies " + fqdn + " and names below it): give http.certificate and http.key "
                  "from your organisation's CA, or advertise an IP address");
    }
  }
  const auto& bind = cfg.http_listen.host;
  if (net::is_wildcard(bind)) {
    for (const auto& a : local)
      add_unique(names.ips, a);
    add_unique(names.ips, "127.0.0.1");
    add_unique(names.ips, "::1");
  } else if (net::is_ip_literal(bind)) {
    add_unique(names.ips, bind);
  } else if (in_subtree(bind, fqdn)) {
    add_unique(names.dns, bind);
  }
  return names;
}

result<http::tls_identity> https_identity(const node_config& cfg, const crypto::private_key& node_key,
                                          const std::vector<crypto::certificate>& node_chain,
                                          std::chrono::system_clock::time_point now) {
  if (!cfg.http_certificate.empty())
    return operator_identity(cfg, now);
  if (node_chain.empty())
    return fail(errc::invalid_config, "no node certificate to issue the HTTPS certificate with");
  const auto& node_cert = node_chain.front();
  if (!node_cert.is_ca())
    return fail(errc::constraint_violation,
                "this node's certificate may not issue certificates (it sits at the depth limit of the "
                "tree): give http.certificate and http.key from your organisation's CA");
  auto dns = node_cert.dns_names();
  if (dns.empty())
    return fail(errc::untrusted_chain, "this node's certificate names no DNS identity");
  auto names = https_names_of(cfg, dns.front(), local_addresses());
  if (!names)
    return names.err();
  auto key = crypto::private_key::generate();
  if (!key)
    return key.err();
  crypto::issue_profile profile;
  profile.is_ca = false;
  profile.not_before = now - std::chrono::minutes{5};
  auto until = node_cert.not_after();
  if (until <= now)
    return fail(errc::certificate_expired, "this node's certificate has expired");
  profile.validity = std::chrono::duration_cast<std::chrono::seconds>(until - profile.not_before);
  profile.ip_addresses = names->ips;
  auto from = node_cert.subject();
  crypto::subject subject{dns.front(), from.organisation, from.department, from.email};
  auto cert = crypto::issue(subject, names->dns, key->public_key(), &node_cert, node_key, profile);
  if (!cert)
    return fail(cert.err().code, "cannot issue the HTTPS certificate: " + cert.err().message);
  std::vector<crypto::certificate> chain{std::move(*cert)};
  chain.insert(chain.end(), node_chain.begin(), node_chain.end());
  return http::tls_identity{std::move(chain), std::make_shared<const crypto::private_key>(std::move(*key))};
}

} // namespace joconde
