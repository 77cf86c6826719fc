#include "artefact_manager.hpp"

#include "artefact_ports.hpp"
#include "cta_lifecycle.hpp"
#include "cta_records.hpp"
#include "cta_view.hpp"
#include "ctsa_intake.hpp"
#include "ctsc_registration.hpp"
#include "vm_reports.hpp"

#include "joconde/messages/caf_error.hpp"
#include "joconde/runtime/log.hpp"


#include <string_view>
#include <utility>

namespace joconde {

namespace {

using topic_handler = void (*)(artefact_manager_pointer, const std::string&, const std::string&);

/// Who handles what arrives on each agreement topic.
constexpr std::pair<std::string_view, topic_handler> topic_handlers[] = {
  {"cta.ctsc.register", on_register}, // at the root
  {"cta.ctsc", on_registered},
  {"cta.refused", on_refused},
  {"cta.ctsa", on_ctsa},              // at the root
  {"cta.accepted", on_accepted},
  {"cta.signature", on_signature},    // at the root
  {"cta.final", on_final},
  {"cta.decision", on_decision},
  {"cta.cancel", on_cancel},          // at the root
  {"cta.status", on_status},
  {"cta.vm", on_vm},                  // at the root
  {"cta.telemetry", on_telemetry},    // at the root
  {"cta.vms", on_vms},
  {"cta.events", on_events},
  {"cta.agreement", on_agreement},
};

/// Answers a request of this node's API about CTA `uuid` with `handle(record)`; refused if it came
/// from another node (forbidden: "`what` come from this node's API only"), else as load_held.
template <class Handle>
auto about_held(artefact_manager_pointer self, const std::string& uuid, const std::string& what, Handle handle)
  -> decltype(handle(v1::CtaRecord{})) {
  if (!from_this_node(self))
    return make_error(errc::forbidden, what + " come from this node's API only");
  auto rec = load_held(self->state.store, uuid);
  if (!rec)
    return to_caf(rec.err());
  return handle(std::move(*rec));
}

void dispatch(artefact_manager_pointer self, const std::string& topic, const std::string& origin,
              const std::string& payload) {
  for (const auto& [name, handler] : topic_handlers)
    if (name == topic)
      return handler(self, origin, payload);
  log::warning(artefact_manager_state::name, "unknown agreement topic " + topic + " from " + origin);
}

} // namespace

artefact_manager_actor::behavior_type
artefact_manager(artefact_manager_pointer self, std::string root, std::shared_ptr<trust_view> trust,
                 std::shared_ptr<const node_signer> signer, node_store store,
                 service_broker_actor broker, audit_log_actor audit_actor, metrics::registry* metrics) {
  auto& st = self->state;
  st.root = std::move(root);
  st.trust = std::move(trust);
  st.signer = std::move(signer);
  st.self = st.trust->self();
  st.store = std::move(store);
  st.broker = std::move(broker);
  st.audit = std::move(audit_actor);
  st.metrics = metrics;
  sweep_erased(self);
  self->send(self, tick_atom::value);
  return {
    [=](deliver_atom, const std::string& topic, const std::string& origin, const std::string& payload) {
      dispatch(self, topic, origin, payload);
      return true;
    },
    [=](create_atom, const proto_bytes<v1::Ctsc>& draft, const std::string& user) {
      return create_draft(self, draft, user);
    },
    [=](submit_atom, const std::string& uuid, const proto_bytes<v1::Ctsa>& ctsa, const std::string& user) {
      return about_held(self, uuid, "CTSAs", [&](v1::CtaRecord rec) {
        return submit_ctsa(self, std::move(rec), ctsa, user);
      });
    },
    [=](countersign_atom, const std::string& uuid, const proto_bytes<v1::SignatorySignature>& signature,
        const std::string& user) {
      return about_held(self, uuid, "signatures", [&](const v1::CtaRecord& rec) {
        return countersign(self, rec, signature, user);
      });
    },
    [=](decide_atom, const std::string& uuid, const std::string& peer, bool approve,
        const std::string& reason, const std::string& user) {
      return decide(self, uuid, peer, approve, reason, user);
    },
    [=](cancel_atom, const std::string& uuid, const std::string& reason, const std::string& user) {
      return cancel(self, uuid, reason, user);
    },
    [=](pak_atom, const std::string& uuid, const proto_bytes<v1::PakRecord>& pak, const std::string& user) {
      return about_held(self, uuid, "PAKs", [&](const v1::CtaRecord& rec) {
        return register_pak(self, rec, pak, user);
      });
    },
    [=](override_atom, const std::string& uuid, const std::string& member, const std::string& reason,
        const std::string& user) {
      return about_held(self, uuid, "overrides", [&](const v1::CtaRecord& rec) {
        return override_member(self, rec, member, reason, user);
      });
    },
    [=](tick_atom) {
      housekeeping(self);
      self->delayed_send(self, std::chrono::seconds{10}, tick_atom::value);
    },
    [=](expire_atom, const std::string& request_id) {
      answer_pending(self, request_id,
                     make_error(errc::timeout, "the root did not answer within 30 s; the draft "
                                               "may still be registered (see the CTA list)"));
    },
    [=](query_atom, const std::string& uuid) {
      return uuid.empty() ? list_ctas(self) : show_cta(self, uuid);
    },
    [=](connect_atom, deployment_operator_actor deployer) {
      self->state.deployer = std::move(deployer);
    },
    [=](status_atom) {
      auto& st = self->state;
      caf::settings doc;
      put_status(doc, "pending_drafts", st.pending.size());
      put_status(doc, "registered", st.registered);
      put_status(doc, "refused", st.refused);
      return doc;
    },
  };
}

} // namespace joconde
