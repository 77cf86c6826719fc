#include "identity_manager.hpp"

#include "joconde/messages/caf_error.hpp"
#include "joconde/runtime/log.hpp"
#include "revocation.hpp"

#include <nlohmann/json.hpp>

namespace joconde {

namespace {

constexpr const char* component = "identity_manager";

/// Applies a revocation; returns its fingerprint and whether it was new here.
result<std::pair<std::string, bool>> apply_revocation(identity_manager_pointer self, std::string_view bytes) {
  auto& st = self->state;
  auto rev = verify_revocation(*st.trust, bytes, std::chrono::system_clock::now());
  if (!rev)
    return rev.err();
  auto fp = rev->fingerprint();
  auto txn = st.store.env->begin_write();
  if (!txn)
    return txn.err();
  auto fresh = txn->put_if_absent(st.store.revoked, fp, std::string{bytes});
  if (!fresh)
    return fresh.err();
  if (auto r = txn->commit(); !r)
    return r.err();
  st.trust->revoke(fp);
  if (*fresh) {
    ++st.applied;
    log::notice(component, "certificate revoked: " + rev->fqdn(),
                {{"fingerprint", fp}, {"reason", rev->reason()},
                 {"kind", rev->kind() == v1::Revocation::KIND_ROOT ? "root" : "self"}});
    self->send(st.audit, audit_atom::value, std::string{component}, std::string{"pki.revoked"},
               std::vector<std::string>{"node", rev->fqdn(), "fingerprint", fp, "reason",
                                        rev->reason()});
    self->send(st.cm, revoke_atom::value, fp);
  }
  return std::make_pair(fp, *fresh);
}

/// Spreads a new revocation: to every enrolled child but the one it came from, and to the root when it
/// did not come from above. Nodes that have it already stop the flood (applied once, spread once).
void spread(identity_manager_pointer self, const std::string& bytes, const std::string& came_from,
            bool from_above) {
  auto& st = self->state;
  std::vector<std::string> to;
  auto txn = st.store.env->begin_read();
  if (txn) {
    (void) txn->for_each(st.store.children, "", [&](std::string_view child, std::string_view) {
      if (child != came_from)
        to.emplace_back(child);
      return true;
    });
  }
  if (!from_above && st.trust->self() != st.domain)
    to.push_back(st.domain);
  if (to.empty())
    return;
  self->request(st.broker, std::chrono::seconds{30}, publish_atom::value, std::string{revocation_topic},
                to, std::string{}, bytes, uint32_t{1})
    .then([](const std::vector<std::string>&) {},
          [](caf::error& err) {
            log::error(component, "cannot spread a revocation: " + describe(err));
          });
}

} // namespace

identity_manager_actor::behavior_type
identity_manager(identity_manager_pointer self, std::shared_ptr<trust_view> trust, node_store store,
                 connection_manager_actor cm, service_broker_actor broker, audit_log_actor audit) {
  auto& st = self->state;
  st.trust = std::move(trust);
  st.store = std::move(store);
  st.cm = std::move(cm);
  st.broker = std::move(broker);
  st.audit = std::move(audit);
  const auto& own = st.trust->own_chain();
  auto names = own.empty() ? std::vector<std::string>{} : own.back().dns_names();
  st.domain = names.empty() ? st.trust->self() : names.front();
  // Revocations stored earlier, and any delivered but not applied before a crash.
  std::vector<std::string> pending;
  if (auto txn = st.store.env->begin_read()) {
    (void) txn->for_each(st.store.revoked, "", [&](std::string_view fp, std::string_view) {
      st.trust->revoke(std::string{fp});
      return true;
    });
    auto prefix = std::string{revocation_topic} + '\0';
    (void) txn->for_each(st.store.inbox, prefix, [&](std::string_view, std::string_view value) {
      auto rec = nlohmann::json::parse(value, nullptr, false);
      if (!rec.is_discarded() && rec.contains("payload_hex"))
        if (auto raw = crypto::from_hex(rec["payload_hex"].get<std::string>()))
          pending.emplace_back(raw->begin(), raw->end());
      return true;
    });
  } // the read transaction ends before apply_revocation() writes
  for (const auto& bytes : pending)
    if (auto r = apply_revocation(self, bytes); !r)
      log::warning(component, "stored revocation refused: " + r.err().message);
  return {
    [=](deliver_atom, std::string& topic, std::string& origin, std::string& payload) {
      if (topic != revocation_topic)
        return;
      auto res = apply_revocation(self, payload);
      if (!res) {
        log::warning(component, "revocation from " + origin + " refused: " + res.err().message,
                     {{"reason", to_string(res.err().code)}});
        return;
      }
      if (res->second)
        spread(self, payload, origin, !in_subtree(origin, self->state.trust->self()));
    },
    [=](revoke_atom, std::string& bytes) -> caf::result<std::string> {
      auto res = apply_revocation(self, bytes);
      if (!res)
        return to_caf(res.err());
      if (res->second)
        spread(self, bytes, self->state.trust->self(), false);
      return res->first;
    },
    [=](status_atom) -> std::string {
      return nlohmann::json{{"revocations_applied", self->state.applied}}.dump();
    },
  };
}

} // namespace joconde
