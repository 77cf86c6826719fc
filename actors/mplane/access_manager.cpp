#include "access_manager.hpp"

#include "joconde/messages/caf_error.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/node.pb.h"
#include "joconde/runtime/log.hpp"
#include "joconde/runtime/metrics.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>


namespace joconde {

namespace {

constexpr const char* component = "access_manager";
constexpr auto refresh_interval = std::chrono::seconds{30};

} // namespace

result<size_t> load_child_roles(const node_store& store, access_policy& policy) {
  auto txn = store.env->begin_read();
  if (!txn)
    return txn.err();
  size_t n = 0;
  auto r = txn->for_each(store.children, "", [&](std::string_view key, std::string_view value) {
    auto id = proto::parse<v1::NodeIdentity>(value, 64 * 1024);
    if (!id)
      return true; // an unreadable record grants nothing
    auto role = id->role() == v1::ROLE_COMPUTING ? node_role::computing
                : id->role() == v1::ROLE_CLIENT  ? node_role::client
                                                 : node_role::unknown;
    policy.set_child_role(std::string{key}, role);
    ++n;
    return true;
  });
  if (!r)
    return r.err();
  return n;
}

void report_denial(const policy_decision& d, std::string_view subject, std::string_view action,
                   const audit_log_actor& audit, metrics::registry* metrics) {
  log::warning(component, std::string{action} + " by " + std::string{subject} + " denied: " + d.reason,
               {{"rule", d.rule}, {"subject", subject}});
  if (metrics)
    metrics->policy_denials(d.rule).Increment();
  if (audit)
    caf::anon_send(audit, audit_atom::value, std::string{component}, std::string{"policy.denied"},
                   std::vector<std::string>{"rule", d.rule, "subject", std::string{subject},
                                            "action", std::string{action}, "detail", d.reason});
}

access_manager_actor::behavior_type access_manager(access_manager_pointer self,
                                                   std::shared_ptr<access_policy> policy,
                                                   node_store store, audit_log_actor audit,
                                                   metrics::registry* metrics) {
  auto& st = self->state;
  st.policy = std::move(policy);
  st.store = std::move(store);
  st.audit = std::move(audit);
  st.metrics = metrics;
  if (auto n = load_child_roles(st.store, *st.policy); !n)
    log::error(component, "cannot read the roles of the children: " + n.err().describe());
  if (st.metrics) // every rule shows up at 0 from the first scrape
    for (const auto& [id, text] : access_policy::rules())
      st.metrics->policy_denials(id);
  self->delayed_send(self, refresh_interval, tick_atom::value);
  return {
    [=](authorize_atom, std::string& subject, std::string& action,
        std::string& resource) -> caf::result<policy_decision> {
      auto& st = self->state;
      const auto& sender = self->current_sender();
      if (sender == nullptr || sender->node() != self->node())
        return make_error(errc::forbidden, "policy questions are answered to this node's actors only");
      policy_decision d;
      if (action == "publish" && subject == "api")
        d = st.policy->may_publish_locally(resource);
      else if (action == "enrol")
        d = st.policy->may_enrol(role_from_string(resource));
      else
        d = {false, "unknown-action", "no rule covers " + action + " by " + subject};
      if (d.allowed) {
        ++st.allowed;
      } else {
        ++st.denied;
        report_denial(d, subject, action, st.audit, st.metrics);
      }
      return d;
    },
    [=](tick_atom) {
      auto& st = self->state;
      if (auto n = load_child_roles(st.store, *st.policy); !n)
        log::warning(component, "cannot re-read the roles of the children: " + n.err().describe());
      self->delayed_send(self, refresh_interval, tick_atom::value);
    },
    [=](status_atom) {
      auto& st = self->state;
      caf::settings children;
      for (const auto& [fqdn, role] : st.policy->children())
        put_status(children, fqdn, std::string{to_string(role)});
      caf::config_value::list rules;
      for (const auto& [id, text] : access_policy::rules()) {
        caf::settings rule;
        put_status(rule, "rule", std::string{id});
        put_status(rule, "says", std::string{text});
        rules.push_back(status_entry(std::move(rule)));
      }
      caf::settings doc;
      put_status(doc, "role", std::string{to_string(st.policy->self_role())});
      put_status(doc, "children", std::move(children));
      put_status(doc, "rules", std::move(rules));
      put_status(doc, "allowed", st.allowed);
      put_status(doc, "denied", st.denied);
      return doc;
    },
  };
}

} // namespace joconde
