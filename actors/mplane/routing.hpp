#pragma once

// Where an envelope goes next (ADR-4/5: up to the root, down only to the named recipients).
// Plain code, no actors.

#include <map>
#include <set>
#include <string>
#include <vector>

namespace joconde {

/// Next hops for one envelope at one node.
struct route_plan {
  bool local = false;                    ///< this node is a recipient
  std::set<std::string> next_hops;       ///< neighbour FQDNs to forward to
  std::vector<std::string> unroutable;   ///< recipients nobody here can reach
};

/// Plans the route at node `self` for `recipients`. `parent` is empty at the root; `from_parent`
/// says the envelope came down from the parent (then only this subtree is our business);
/// `is_known_child` tells whether a direct child with that FQDN was enrolled here.
template <class IsKnownChild>
route_plan plan_route(const std::vector<std::string>& recipients, const std::string& self,
                      const std::string& parent, bool from_parent, IsKnownChild&& is_known_child);

/// The direct child of `self` on the way to `name` (which must lie below self).
std::string child_towards(const std::string& name, const std::string& self);

} // namespace joconde

#include "trust_view.hpp"

namespace joconde {

template <class IsKnownChild>
route_plan plan_route(const std::vector<std::string>& recipients, const std::string& self,
                      const std::string& parent, bool from_parent, IsKnownChild&& is_known_child) {
  route_plan plan;
  for (const auto& r : recipients) {
    if (r == self) {
      plan.local = true;
    } else if (in_subtree(r, self)) {
      auto child = child_towards(r, self);
      if (is_known_child(child))
        plan.next_hops.insert(child);
      else
        plan.unroutable.push_back(r);
    } else if (from_parent) {
      continue; // the parent sends it to the other branches itself
    } else if (!parent.empty()) {
      plan.next_hops.insert(parent);
    } else {
      plan.unroutable.push_back(r);
    }
  }
  return plan;
}

} // namespace joconde
