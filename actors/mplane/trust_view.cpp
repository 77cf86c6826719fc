#include "trust_view.hpp"

namespace joconde {

bool in_subtree(std::string_view name, std::string_view node) {
  if (name == node)
    return true;
  return name.size() > node.size() + 1 && name.ends_with(node)
         && name[name.size() - node.size() - 1] == '.';
}

bool is_direct_child(std::string_view name, std::string_view node) {
  if (!in_subtree(name, node) || name == node)
    return false;
  auto label = name.substr(0, name.size() - node.size() - 1);
  return !label.empty() && label.find('.') == std::string_view::npos;
}

namespace {

std::string first_dns(const crypto::certificate& cert) {
  auto names = cert.dns_names();
  return names.empty() ? std::string{} : names.front();
}

std::string to_str(const crypto::bytes& b) {
  return std::string{b.begin(), b.end()};
}

} // namespace

trust_view::trust_view(crypto::certificate root_ca, std::vector<crypto::certificate> own_chain)
  : root_ca_(std::move(root_ca)), own_chain_(std::move(own_chain)) {
  if (!own_chain_.empty())
    self_ = first_dns(own_chain_.front());
  for (const auto& cert : own_chain_)
    own_chain_der_.push_back(to_str(cert.to_der()));
  if (!own_chain_.empty())
    own_history_.insert(own_chain_.front().fingerprint());
}

std::vector<crypto::certificate> trust_view::own_chain() const {
  std::lock_guard guard{mtx_};
  return own_chain_;
}

std::vector<std::string> trust_view::own_chain_der() const {
  std::lock_guard guard{mtx_};
  return own_chain_der_;
}

void trust_view::set_own_chain(std::vector<crypto::certificate> chain) {
  std::lock_guard guard{mtx_};
  own_chain_ = std::move(chain);
  own_chain_der_.clear();
  for (const auto& cert : own_chain_)
    own_chain_der_.push_back(to_str(cert.to_der()));
  if (!own_chain_.empty())
    own_history_.insert(own_chain_.front().fingerprint());
}

bool trust_view::is_own_certificate(const crypto::certificate& cert) const {
  std::lock_guard guard{mtx_};
  return own_history_.count(cert.fingerprint()) > 0;
}

void trust_view::revoke(const std::string& fingerprint) {
  std::lock_guard guard{mtx_};
  revoked_.insert(fingerprint);
  cache_.erase(fingerprint);
}

bool trust_view::is_revoked(const std::string& fingerprint) const {
  std::lock_guard guard{mtx_};
  return revoked_.count(fingerprint) > 0;
}

result<verified_node> trust_view::verify_chain(const std::vector<std::string>& chain_der,
                                               std::chrono::system_clock::time_point now) {
  if (chain_der.empty())
    return fail(errc::untrusted_chain, "no certificate chain was presented");
  if (chain_der.size() > 8)
    return fail(errc::too_large, "certificate chain longer than 8 certificates");
  // Cache hit first, keyed by the leaf's fingerprint, before anything is parsed: the chain of a
  // leaf seen before verified then; revocations and expiry are checked again on every hit.
  auto fp = crypto::fingerprint(crypto::to_bytes(chain_der.front()));
  {
    std::lock_guard guard{mtx_};
    if (auto i = cache_.find(fp); i != cache_.end()) {
      bool revoked = false;
      for (const auto& cert : i->second.node.chain)
        revoked = revoked || revoked_.count(cert.fingerprint()) > 0;
      if (revoked)
        return fail(errc::certificate_revoked,
                    "a certificate in the chain of " + i->second.node.fqdn + " has been revoked");
      if (now < i->second.not_after && now >= i->second.not_before)
        return i->second.node;
      cache_.erase(i);
    }
  }
  std::vector<crypto::certificate> chain;
  for (const auto& der : chain_der) {
    auto cert = crypto::certificate::from_der(crypto::to_bytes(der));
    if (!cert)
      return cert.err();
    chain.push_back(std::move(*cert));
  }
  {
    std::lock_guard guard{mtx_};
    for (const auto& cert : chain)
      if (revoked_.count(cert.fingerprint()) > 0)
        return fail(errc::certificate_revoked,
                    "certificate " + cert.fingerprint() + " in the chain of "
                      + first_dns(chain.front()) + " has been revoked");
  }
  std::vector<crypto::certificate> intermediates{chain.begin() + 1, chain.end()};
  if (auto ok = crypto::verify_chain(chain.front(), intermediates, root_ca_, now); !ok)
    return ok.err();
  auto fqdn = first_dns(chain.front());
  if (fqdn.empty())
    return fail(errc::untrusted_chain, "the leaf certificate names no DNS identity");
  verified_node node{fqdn, chain.front().subject().common_name, fp, chain.front(), chain};
  std::lock_guard guard{mtx_};
  if (cache_.size() > 4096)
    cache_.clear();
  cached_chain entry{node, root_ca_.not_before(), root_ca_.not_after()};
  for (const auto& cert : chain) {
    entry.not_before = std::max(entry.not_before, cert.not_before());
    entry.not_after = std::min(entry.not_after, cert.not_after());
  }
  cache_.emplace(fp, std::move(entry));
  return node;
}

} // namespace joconde
