#pragma once

// The answer of the System Policy Engine (actors/mplane/access_policy.hpp) to one question, as the
// access manager sends it to the node's other actors and its HTTP API (messages/mplane.hpp
// access_manager_actor). A plain struct with inspect(); no CAF here.

#include <string>

namespace joconde {

/// The outcome of one policy question.
struct policy_decision {
  bool allowed = false;
  std::string rule;   ///< the rule that decided, e.g. "pki.rotation-request"
  std::string reason; ///< for logs and error messages

  explicit operator bool() const { return allowed; }
  bool operator==(const policy_decision&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, policy_decision& x) {
  return f(x.allowed, x.rule, x.reason);
}

} // namespace joconde
