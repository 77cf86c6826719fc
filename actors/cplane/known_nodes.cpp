#include "known_nodes.hpp"

#include "../mplane/confirmations.hpp"
#include "cta_records.hpp"

#include "joconde/messages/proto.hpp"
#include "joconde/node.pb.h"

#include <map>

namespace joconde {

namespace {

/// Largest NodeIdentity record read from the children table.
constexpr size_t max_identity_bytes = 64 * 1024;

std::string_view role_name(const std::string& node_role) {
  if (node_role == "computing")
    return "computing_party";
  if (node_role == "root")
    return "root";
  return "peer";
}

/// What `leaf` says of its subject, into `n`.
void take_subject(known_node& n, const crypto::certificate& leaf) {
  auto s = leaf.subject();
  n.organisation = s.organisation;
  n.department = s.department;
  n.contact = s.email;
}

/// Notes that the node `fqdn` (`role`, leaf certificate `chain`) was seen at `at_ms`: the newest
/// sighting gives its certificate.
void seen(std::map<std::string, known_node>& nodes, const std::string& fqdn, std::string_view role,
          const v1::CertificateChain& chain, int64_t at_ms, bool in_cta) {
  if (fqdn.empty())
    return;
  auto& n = nodes[fqdn];
  n.fqdn = fqdn;
  if (in_cta)
    ++n.ctas;
  // A node that was a Computing Party anywhere is offered as one.
  if (n.role.empty() || role == "computing_party")
    n.role = std::string{role};
  if (at_ms < n.last_seen_ms || chain.certificates().empty())
    return;
  auto leaf = crypto::certificate::from_der(crypto::to_bytes(chain.certificates(0)));
  if (!leaf)
    return;
  n.last_seen_ms = at_ms;
  n.fingerprint = leaf->fingerprint();
  take_subject(n, *leaf);
}

} // namespace

result<std::vector<known_node>> known_nodes(const node_store& store, const std::string& self,
                                            const std::string& self_role, const crypto::certificate& self_leaf) {
  auto txn = store.env->begin_read();
  if (!txn)
    return txn.err();
  std::map<std::string, known_node> nodes;
  auto children = txn->for_each(store.children, "", [&](std::string_view key, std::string_view value) {
    auto id = proto::parse<v1::NodeIdentity>(value, max_identity_bytes);
    if (id)
      seen(nodes, std::string{key}, id->role() == v1::ROLE_COMPUTING ? "computing_party" : "peer", id->chain(),
           id->enrolled_at_ms(), false);
    return true;
  });
  if (!children)
    return children.err();
  auto ctas = txn->for_each(store.ctas, "", [&](std::string_view, std::string_view value) {
    auto rec = parse_cta_record(value);
    if (!rec)
      return true;
    const auto& ctsc = rec->ctsc();
    for (const auto& p : ctsc.peers())
      seen(nodes, p.fqdn(), "peer", p.chain(), ctsc.created_at_ms(), true);
    for (const auto& cp : ctsc.computing_parties())
      seen(nodes, cp.fqdn(), "computing_party", cp.chain(), ctsc.created_at_ms(), true);
    return true;
  });
  if (!ctas)
    return ctas.err();

  known_node me;
  me.fqdn = self;
  me.role = std::string{role_name(self_role)};
  me.fingerprint = self_leaf.fingerprint();
  me.trust = "self";
  take_subject(me, self_leaf);
  if (auto it = nodes.find(self); it != nodes.end()) {
    me.ctas = it->second.ctas;
    me.last_seen_ms = it->second.last_seen_ms;
    if (it->second.role == "computing_party")
      me.role = "computing_party";
    nodes.erase(it);
  }
  std::vector<known_node> out{std::move(me)};
  for (auto& [fqdn, n] : nodes) {
    auto confirmed = n.fingerprint.empty() ? result<std::optional<confirmation>>{std::nullopt}
                                           : find_confirmation(*txn, store, n.fingerprint);
    if (!confirmed)
      return confirmed.err();
    n.trust = confirmed->has_value() ? "confirmed" : "unconfirmed";
    out.push_back(std::move(n));
  }
  return out;
}

} // namespace joconde
