#include "access_policy.hpp"

#include "trust_view.hpp"

namespace joconde {

namespace {

policy_decision allow(std::string rule) {
  return {true, std::move(rule), {}};
}

policy_decision deny(std::string rule, std::string reason) {
  return {false, std::move(rule), std::move(reason)};
}

/// Topics the Management Plane owns: nothing but its own actors may publish on them.
constexpr std::string_view reserved_prefixes[] = {"pki.", "link.", "cta."};

bool reserved(std::string_view topic) {
  for (auto prefix : reserved_prefixes)
    if (topic.substr(0, prefix.size()) == prefix)
      return true;
  return false;
}

/// Dot-separated labels of [a-z0-9_-]: no empty label, nothing to confuse a prefix match or a log.
bool valid_topic(std::string_view topic) {
  if (topic.empty() || topic.size() > 128 || topic.front() == '.' || topic.back() == '.')
    return false;
  char prev = 0;
  for (char c : topic) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
    if (!ok || (c == '.' && prev == '.'))
      return false;
    prev = c;
  }
  return true;
}

} // namespace

std::string_view to_string(node_role role) {
  switch (role) {
    case node_role::root:
      return "root";
    case node_role::computing:
      return "computing";
    case node_role::client:
      return "client";
    default:
      return "unknown";
  }
}

node_role role_from_string(std::string_view name) {
  if (name == "root")
    return node_role::root;
  if (name == "computing")
    return node_role::computing;
  if (name == "client")
    return node_role::client;
  return node_role::unknown;
}

std::string parent_of(std::string_view fqdn) {
  auto dot = fqdn.find('.');
  return dot == std::string_view::npos ? std::string{} : std::string{fqdn.substr(dot + 1)};
}

access_policy::access_policy(std::string self_fqdn, node_role self_role)
  : self_(std::move(self_fqdn)), self_role_(self_role) {
  // nop
}

void access_policy::set_child_role(const std::string& fqdn, node_role role) {
  std::lock_guard guard{mtx_};
  children_.insert_or_assign(fqdn, role);
}

node_role access_policy::role_of(std::string_view fqdn) const {
  if (fqdn == self_)
    return self_role_;
  std::lock_guard guard{mtx_};
  auto i = children_.find(std::string{fqdn});
  return i == children_.end() ? node_role::unknown : i->second;
}

std::map<std::string, node_role> access_policy::children() const {
  std::lock_guard guard{mtx_};
  return children_;
}

policy_decision access_policy::may_publish_locally(std::string_view topic) const {
  if (!valid_topic(topic))
    return deny("topic.syntax", "topic '" + std::string{topic.substr(0, 128)}
                                  + "' is not dot-separated labels of a-z, 0-9, '_' and '-'");
  if (reserved(topic))
    return deny("api.reserved-topic",
                "topic " + std::string{topic} + " is reserved to the node's own Management Plane");
  return allow("api.publish");
}

policy_decision access_policy::may_route(const admitted_envelope& env) const {
  if (!valid_topic(env.topic))
    return deny("topic.syntax", "the topic is not dot-separated labels of a-z, 0-9, '_' and '-'");
  if (env.topic == "pki.rotation.request") {
    // A node asks its own parent, and nobody else, to certify its next key.
    auto parent = parent_of(env.origin);
    if (env.recipients.size() != 1 || env.recipients.front() != parent)
      return deny("pki.rotation-request",
                  "a rotation request of " + env.origin + " may go to its parent " + parent + " only");
    return allow("pki.rotation-request");
  }
  if (env.topic == "pki.rotation.issued") {
    // Only the parent that issued a certificate hands it over, to that one child.
    if (env.recipients.size() != 1 || !is_direct_child(env.recipients.front(), env.origin))
      return deny("pki.rotation-issued",
                  env.origin + " may hand a rotated certificate to one of its own children only");
    return allow("pki.rotation-issued");
  }
  if (env.topic == "pki.policy") {
    // The root's rules for the tree, handed from a parent to its own children (signed by the root).
    if (env.recipients.empty())
      return deny("pki.policy", "the tree policy goes to named children");
    for (const auto& to : env.recipients)
      if (!is_direct_child(to, env.origin))
        return deny("pki.policy", env.origin + " may hand the tree policy to its own children only");
    return allow("pki.policy");
  }
  if (env.topic.rfind("cta.", 0) == 0) {
    // Agreement artefacts: drafts go to the root alone; what the root registers or refuses comes
    // from the root. (The artefact manager checks the rest: signatures, hashes, who may send what.)
    if (root_.empty())
      return deny("cta.route", "this node does not know its root yet");
    // A CP's CT VM addresses and events go to the root alone too (the artefact manager checks that
    // the origin is a CP of that CTA); the root forwards them to the CTA's holders.
    if (env.topic == "cta.ctsc.register" || env.topic == "cta.ctsa" || env.topic == "cta.signature"
        || env.topic == "cta.cancel" || env.topic == "cta.vm" || env.topic == "cta.telemetry") {
      if (env.recipients.size() != 1 || env.recipients.front() != root_)
        return deny("cta.route", env.topic + " goes to the root " + root_ + " and to no one else");
      return allow("cta.route");
    }
    if (env.topic == "cta.ctsc" || env.topic == "cta.refused" || env.topic == "cta.accepted"
        || env.topic == "cta.final" || env.topic == "cta.status" || env.topic == "cta.vms"
        || env.topic == "cta.events" || env.topic == "cta.decision" || env.topic == "cta.agreement") {
      if (env.origin != root_)
        return deny("cta.route", env.topic + " comes from the root only, not from " + env.origin);
      return allow("cta.route");
    }
    return deny("cta.route", "unknown agreement topic " + env.topic);
  }
  return allow("route");
}

policy_decision access_policy::may_enrol(node_role role) const {
  switch (role) {
    case node_role::client:
      return allow("enrol.client");
    case node_role::computing:
      // The capability to host CT VMs is handed down from the root: a client organisation cannot
      // make a Computing Party of its own below itself.
      if (self_role_ == node_role::root || self_role_ == node_role::computing)
        return allow("enrol.computing");
      return deny("enrol.computing",
                  "only the root or a computing node may enrol a computing node; this node is "
                    + std::string{to_string(self_role_)});
    default:
      return deny("enrol.role", "a child is enrolled as client or computing");
  }
}

const std::vector<std::pair<std::string, std::string>>& access_policy::rules() {
  static const std::vector<std::pair<std::string, std::string>> list{
    {"topic.syntax", "a topic is 1 to 128 characters: dot-separated labels of a-z, 0-9, '_' and '-'"},
    {"api.reserved-topic", "the HTTP API may not publish on pki.*, link.* or cta.* (the node's own)"},
    {"cta.route", "drafts, CTSAs, signatures, cancellations and the CT VMs' addresses and events "
                  "(cta.vm, cta.telemetry) go to the root alone; registered CTSCs, acceptances, "
                  "refusals, final CTAs, status updates, the agreement's events (cta.agreement) and "
                  "the forwarded VM addresses and events (cta.vms, cta.events) come from the root"},
    {"pki.rotation-request", "a rotation request goes from a node to its parent and to no one else"},
    {"pki.rotation-issued", "a rotated certificate goes from a parent to one of its own children"},
    {"pki.policy", "the root's rules for the tree go from a parent to its own children"},
    {"enrol.computing", "only the root or a computing node enrols a computing node"},
    {"enrol.role", "a child is enrolled as client or computing"},
  };
  return list;
}

} // namespace joconde
