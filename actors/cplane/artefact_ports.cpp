#include "artefact_ports.hpp"

#include "ct_reports.hpp"
#include "cta_records.hpp"

#include "joconde/messages/caf_error.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/runtime/clock.hpp"
#include "joconde/runtime/log.hpp"

#include <caf/actor_system.hpp>

namespace joconde {

namespace {

const char* const component = artefact_manager_state::name;

} // namespace

void audit(artefact_manager_pointer self, std::string event, std::vector<std::string> fields) {
  self->send(self->state.audit, audit_atom::value, std::string{component}, std::move(event),
             std::move(fields));
}

void publish(artefact_manager_pointer self, std::string topic, std::vector<std::string> to,
             std::string uuid, std::string payload) {
  self->request(self->state.broker, std::chrono::seconds{30}, publish_atom::value, topic, std::move(to),
                std::move(uuid), std::move(payload), uint32_t{1})
    .then([](const std::vector<std::string>&) {},
          [topic](caf::error& err) {
            log::error(component, "cannot publish " + topic + ": " + describe(err));
          });
}

bool from_this_node(artefact_manager_pointer self) {
  const auto& s = self->current_sender();
  return s != nullptr && s->node() == self->node();
}

bool read_artefact(const std::string& what, const std::string& origin, const std::string& payload,
                   google::protobuf::Message& out) {
  auto r = proto::parse_into(out, payload, max_artefact_bytes);
  if (!r)
    log::warning(component, "unreadable " + what + " from " + origin + ": " + r.err().message);
  return r.ok();
}

void refuse_artefact(artefact_manager_pointer self, const std::string& what, const std::string& event,
                     const std::string& origin, const error& err) {
  log::warning(component, what + " from " + origin + " refused: " + err.message,
               {{"reason", to_string(err.code)}});
  audit(self, event, {"origin", origin, "reason", std::string{to_string(err.code)}, "detail", err.message});
}

caf::typed_response_promise<cta_receipt> ask_root(artefact_manager_pointer self,
                                                  const std::string& request_id, std::string topic,
                                                  std::string uuid, std::string payload) {
  auto& st = self->state;
  auto rp = self->make_response_promise<cta_receipt>();
  st.pending.emplace(request_id, rp);
  self->delayed_send(self, registration_timeout, expire_atom::value, request_id);
  publish(self, std::move(topic), {st.root}, std::move(uuid), std::move(payload));
  return rp;
}

void answer_pending(artefact_manager_pointer self, const std::string& request_id, cta_receipt reply) {
  auto& pending = self->state.pending;
  if (auto i = pending.find(request_id); i != pending.end()) {
    i->second.deliver(std::move(reply));
    pending.erase(i);
  }
}

void answer_pending(artefact_manager_pointer self, const std::string& request_id, caf::error err) {
  auto& pending = self->state.pending;
  if (auto i = pending.find(request_id); i != pending.end()) {
    i->second.deliver(std::move(err));
    pending.erase(i);
  }
}

void reply_accepted(artefact_manager_pointer self, const std::string& to, const std::string& request_id,
                    const std::string& uuid, const std::string& artefact_sha256, uint64_t updates,
                    std::string status) {
  v1::ArtefactAccepted accepted;
  accepted.set_request_id(request_id);
  accepted.set_uuid(uuid);
  accepted.set_artefact_sha256(artefact_sha256);
  accepted.set_updates(updates);
  accepted.set_status(std::move(status));
  publish(self, "cta.accepted", {to}, uuid, proto::serialize(accepted));
}

void reply_refused(artefact_manager_pointer self, const std::string& to, const std::string& request_id,
                   const std::string& uuid, const std::string& what, const error& err) {
  ++self->state.refused;
  log::warning(component, what + " from " + to + " refused: " + err.message,
               {{"reason", to_string(err.code)}, {"uuid", uuid}});
  audit(self, "cta.refused", {"uuid", uuid, "origin", to, "what", what, "reason",
                              std::string{to_string(err.code)}, "detail", err.message});
  v1::ArtefactRefusal refusal;
  refusal.set_request_id(request_id);
  refusal.set_code(std::string{to_string(err.code)});
  refusal.set_message(err.message);
  refusal.set_uuid(uuid);
  publish(self, "cta.refused", {to}, uuid, proto::serialize(refusal));
}

void refuse_report(artefact_manager_pointer self, const std::string& topic, const std::string& origin,
                   const std::string& uuid, const error& err) {
  ++self->state.refused;
  log::warning(component, topic + " from " + origin + " refused: " + err.message,
               {{"reason", to_string(err.code)}, {"uuid", uuid}});
  audit(self, "cta.report.refused", {"topic", topic, "origin", origin, "uuid", uuid, "reason",
                                     std::string{to_string(err.code)}, "detail", err.message});
}

void publish_status(artefact_manager_pointer self, const v1::CtaRecord& record) {
  v1::StatusUpdate up;
  up.set_uuid(record.ctsc().uuid());
  up.set_status(record.status());
  up.set_counter(record.updates());
  up.set_last_changed_ms(record.last_changed_ms());
  up.set_reason(record.reason());
  publish(self, "cta.status", holders(record), record.ctsc().uuid(), proto::serialize(up));
}

void share_agreement_event(artefact_manager_pointer self, v1::CtaRecord& record, const std::string& peer,
                           const std::string& value) {
  auto& st = self->state;
  v1::TelemetryEvent ev;
  ev.set_uuid(record.ctsc().uuid());
  ev.set_cp(st.root);
  ev.set_at_ms(now_ms());
  ev.set_kind("agreement");
  ev.set_subject(peer);
  ev.set_value(value.substr(0, 512));
  if (keep_telemetry(record, ev))
    if (auto r = save_cta_record(st.store, record); !r)
      log::error(component, "cannot keep an agreement event of CTA " + record.ctsc().uuid() + ": "
                              + r.err().describe());
  // The peers: the CPs hold the CTA only once it is final and need none of it.
  publish(self, "cta.agreement", peers_of(record.ctsc()), record.ctsc().uuid(), proto::serialize(ev));
}

result<v1::CtaRecord> cancel_at_root(artefact_manager_pointer self, const std::string& uuid,
                                     const std::string& reason, const std::string& by) {
  auto& st = self->state;
  auto rec = load_held(st.store, uuid);
  if (!rec)
    return rec.err();
  auto state = state_of(*rec);
  if (auto r = state.cancel(reason, now_ms()); !r)
    return r.err();
  put_state(state, *rec);
  if (auto r = save_cta_record(st.store, *rec); !r)
    return r.err();
  log::notice(component, "CTA " + uuid + " cancelled by " + by + ": " + reason);
  audit(self, "cta.cancelled", {"uuid", uuid, "by", by, "reason", reason});
  publish_status(self, *rec);
  return std::move(*rec);
}

} // namespace joconde
