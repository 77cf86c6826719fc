#include "cta_view.hpp"

#include "cta_records.hpp"
#include "member_trust.hpp"

#include "joconde/messages/caf_error.hpp"
#include "joconde/messages/proto.hpp"

namespace joconde {

namespace {

/// A member's trust here as the API shows it.
member_view view_of(const member_trust& m) {
  member_view v;
  v.fqdn = m.fqdn;
  v.computing = m.computing;
  v.fingerprint = m.fingerprint;
  v.trust = std::string{to_string(m.state)};
  if (m.confirmed) {
    v.confirmed = true;
    v.confirmed_at_ms = m.confirmed->at_ms;
    v.rotated_from = m.confirmed->rotated_from;
  }
  if (m.override_record) {
    v.overridden = true;
    v.override_by = m.override_record->by();
    v.override_reason = m.override_record->reason();
    v.override_at_ms = m.override_record->at_ms();
  }
  return v;
}

} // namespace

caf::result<cta_view> list_ctas(artefact_manager_pointer self) {
  auto& st = self->state;
  auto txn = st.store.env->begin_read();
  if (!txn)
    return to_caf(txn.err());
  cta_view view;
  auto r = txn->for_each(st.store.ctas, "", [&](std::string_view, std::string_view value) {
    view.records.push_back({std::string{value}});
    return true;
  });
  if (!r)
    return to_caf(r.err());
  return view;
}

caf::result<cta_view> show_cta(artefact_manager_pointer self, const std::string& uuid) {
  auto& st = self->state;
  auto rec = load_held(st.store, uuid);
  if (!rec)
    return to_caf(rec.err());
  // SYS-2.1: each other member as this node trusts it, the SO's certificate notwithstanding.
  auto members = assess_members(st.store, uuid, rec->ctsc(), st.self);
  if (!members)
    return to_caf(members.err());
  cta_view view;
  view.records.push_back(proto::wrap(*rec));
  for (const auto& m : *members)
    view.members.push_back(view_of(m));
  return view;
}

} // namespace joconde
