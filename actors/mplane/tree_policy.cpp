#include "tree_policy.hpp"

#include "joconde/messages/proto.hpp"

namespace joconde {

namespace {

constexpr std::string_view policy_key = "pki.policy";
constexpr size_t max_policy_bytes = 4096;
constexpr auto ten_years = std::chrono::seconds{3650LL * 24 * 3600};

crypto::bytes digest_of(v1::TreePolicy p) {
  p.clear_signature();
  crypto::sha256_hasher h;
  h.update(crypto::to_bytes("joconde policy v1"));
  h.update(crypto::to_bytes(proto::serialize(p)));
  return h.finish();
}

/// The root node's certificate as this node knows it: the last of its own chain.
result<crypto::certificate> root_node(const trust_view& trust) {
  auto own = trust.own_chain();
  if (own.empty())
    return fail(errc::invalid_state, "this node has no certificate chain");
  return own.back();
}

std::string first_dns(const crypto::certificate& cert) {
  auto names = cert.dns_names();
  return names.empty() ? std::string{} : names.front();
}

std::string sent_key(const std::string& fqdn) {
  std::string key{policy_key};
  key += ".sent";
  key.push_back('\0');
  key += fqdn;
  return key;
}

} // namespace

result<void> check_tree_policy(std::chrono::seconds rotation_period, std::chrono::seconds lifetime) {
  if (rotation_period < std::chrono::seconds{10} || rotation_period > ten_years)
    return fail(errc::invalid_config, "the rotation period must be between 10 seconds and 10 years, got "
                                        + std::to_string(rotation_period.count()) + " s");
  if (lifetime > ten_years)
    return fail(errc::invalid_config, "the certificate lifetime must be at most 10 years");
  if (lifetime < 2 * rotation_period)
    return fail(errc::invalid_config,
                "the certificate lifetime (" + std::to_string(lifetime.count())
                  + " s) must be at least twice the rotation period ("
                  + std::to_string(rotation_period.count())
                  + " s): a rotated certificate stays valid for the agreements signed with it");
  return ok();
}

result<std::string> make_tree_policy(const tree_policy& rules, const trust_view& trust,
                                     const node_signer& signer, std::chrono::system_clock::time_point now) {
  if (auto r = check_tree_policy(rules.rotation_period, rules.certificate_lifetime); !r)
    return r.err();
  if (trust.own_chain().size() != 1)
    return fail(errc::forbidden, "only the root node sets the tree's policy");
  v1::TreePolicy p;
  p.set_rotation_period_s(rules.rotation_period.count());
  p.set_certificate_lifetime_s(rules.certificate_lifetime.count());
  p.set_issued_at_ms(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
  p.set_root(trust.self());
  auto sig = signer.sign(digest_of(p));
  if (!sig)
    return sig.err();
  p.set_signature(std::string{sig->begin(), sig->end()});
  return proto::serialize(p);
}

result<tree_policy> verify_tree_policy(const trust_view& trust, std::string_view bytes) {
  auto p = proto::parse<v1::TreePolicy>(bytes, max_policy_bytes);
  if (!p)
    return p.err();
  auto root = root_node(trust);
  if (!root)
    return root.err();
  if (p->root() != first_dns(*root))
    return fail(errc::forbidden, "the policy names root " + p->root().substr(0, 253) + ", this tree's root is "
                                   + first_dns(*root));
  if (p->issued_at_ms() <= 0)
    return fail(errc::malformed_input, "the policy has no issue time");
  if (auto r = root->public_key().verify(digest_of(*p), crypto::to_bytes(p->signature())); !r)
    return fail(errc::bad_signature, "the policy is not signed by the root node");
  tree_policy rules;
  rules.rotation_period = std::chrono::seconds{p->rotation_period_s()};
  rules.certificate_lifetime = std::chrono::seconds{p->certificate_lifetime_s()};
  rules.issued_at_ms = p->issued_at_ms();
  if (p->rotation_period_s() <= 0 || p->certificate_lifetime_s() <= 0)
    return fail(errc::malformed_input, "the policy's periods must be positive");
  if (auto r = check_tree_policy(rules.rotation_period, rules.certificate_lifetime); !r)
    return fail(errc::malformed_input, "the policy breaks its bounds: " + r.err().message);
  return rules;
}

result<std::optional<std::pair<std::string, tree_policy>>> stored_tree_policy(const lmdb::txn_base& txn,
                                                                             const node_store& store) {
  auto v = txn.get(store.meta, policy_key);
  if (!v)
    return v.err();
  if (!v->has_value())
    return std::optional<std::pair<std::string, tree_policy>>{};
  auto p = proto::parse<v1::TreePolicy>(**v, max_policy_bytes);
  if (!p)
    return fail(p.err().code, "the stored tree policy: " + p.err().message);
  tree_policy rules;
  rules.rotation_period = std::chrono::seconds{p->rotation_period_s()};
  rules.certificate_lifetime = std::chrono::seconds{p->certificate_lifetime_s()};
  rules.issued_at_ms = p->issued_at_ms();
  return std::optional<std::pair<std::string, tree_policy>>{std::pair{std::move(**v), rules}};
}

result<bool> keep_tree_policy(lmdb::write_txn& txn, const node_store& store, std::string_view bytes,
                              const tree_policy& rules) {
  auto held = stored_tree_policy(txn, store);
  if (!held)
    return held.err();
  if (held->has_value() && (*held)->second.issued_at_ms >= rules.issued_at_ms)
    return false;
  if (auto r = txn.put(store.meta, policy_key, bytes); !r)
    return r.err();
  return true;
}

result<bool> tree_policy_sent(const lmdb::txn_base& txn, const node_store& store, const std::string& fqdn,
                              int64_t issued_at_ms) {
  auto v = txn.get(store.meta, sent_key(fqdn));
  if (!v)
    return v.err();
  return v->has_value() && **v == std::to_string(issued_at_ms);
}

result<void> mark_tree_policy_sent(lmdb::write_txn& txn, const node_store& store, const std::string& fqdn,
                                   int64_t issued_at_ms) {
  return txn.put(store.meta, sent_key(fqdn), std::to_string(issued_at_ms));
}

} // namespace joconde
