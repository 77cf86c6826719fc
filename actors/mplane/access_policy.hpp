#pragma once

// The System Policy Engine of a node (DESIGN.md §4 access_manager): node roles and the rules other
// components ask about before they act. Plain code, thread-safe, read-mostly: the broker and the
// HTTP API consult it synchronously on their hot paths; the access_manager actor owns updates and
// answers remote-free questions for the rest of the node.
//
// Every decision names the rule that made it, so that a refusal can be logged, counted and audited
// with its reason. The rules are listed in docs/service-nodes.md ("Access policy").

#include "envelope_codec.hpp"
#include "joconde/messages/policy_data.hpp"

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace joconde {

/// What a node is in the tree. The root is the Service Provider's node; computing nodes host CT VMs;
/// client nodes are the peers that draft tasks, upload inputs and read outputs.
enum class node_role { root, computing, client, unknown };

std::string_view to_string(node_role role);

/// "root", "computing" or "client"; anything else is node_role::unknown.
node_role role_from_string(std::string_view name);


/// The FQDN of the node directly above `fqdn` ("" for a name without a dot).
std::string parent_of(std::string_view fqdn);

class access_policy {
public:
  access_policy(std::string self_fqdn, node_role self_role);

  /// The root's FQDN (the tree's domain); agreement topics are refused until it is known.
  void set_root(std::string fqdn) { root_ = std::move(fqdn); }
  const std::string& root() const { return root_; }

  const std::string& self() const { return self_; }
  node_role self_role() const { return self_role_; }

  /// Records the role of a child this node enrolled.
  void set_child_role(const std::string& fqdn, node_role role);

  /// This node's role, a child's role as enrolled here, or unknown.
  node_role role_of(std::string_view fqdn) const;

  /// Children and their roles.
  std::map<std::string, node_role> children() const;

  /// May this node's own API (local users, tools) publish on `topic`?
  policy_decision may_publish_locally(std::string_view topic) const;

  /// May this envelope travel (checked where it originates and at every node it passes)?
  policy_decision may_route(const admitted_envelope& env) const;

  /// May this node enrol a child with `role`?
  policy_decision may_enrol(node_role role) const;

  /// The rules, for `status` and the documentation: id -> what it says.
  static const std::vector<std::pair<std::string, std::string>>& rules();

private:
  std::string self_;
  std::string root_;
  node_role self_role_;
  mutable std::mutex mtx_;
  std::map<std::string, node_role> children_;
};

} // namespace joconde
