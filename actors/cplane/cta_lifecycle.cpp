#include "cta_lifecycle.hpp"

#include "artefact_ports.hpp"
#include "artefact_signatures.hpp"
#include "cta_erasure.hpp"
#include "cta_records.hpp"
#include "cta_state.hpp"
#include "personal_data.hpp"

#include "joconde/messages/caf_error.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/runtime/canonical_hash.hpp"
#include "joconde/runtime/clock.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/log.hpp"


#include <optional>
#include <set>

namespace joconde {

namespace {

const char* const component = artefact_manager_state::name;

/// Records the SO's decision on `peer`'s current CTSA in the record's entry for it.
void put_decision(const artefact_manager_state& st, const cta_state& state, const std::string& peer,
                  bool approve, const std::string& reason, v1::CtaRecord& record) {
  auto& entry = addendum_entry(record, peer);
  auto& d = *entry.mutable_decision();
  d.set_peer(peer);
  d.set_ctsa_sha256(entry.ctsa_sha256());
  d.set_approved(approve);
  d.set_reason(approve ? std::string{} : reason);
  d.set_decided_at_ms(now_ms());
  d.set_root(st.self);
  entry.set_status(std::string{to_string(state.addenda().at(peer).status)});
  entry.set_reason(approve ? std::string{} : reason);
  put_state(state, record);
}

/// At the root: the final CTA goes to every peer and CP.
void send_final(artefact_manager_pointer self, const v1::CtaRecord& record) {
  const auto& uuid = record.ctsc().uuid();
  const auto& fin = record.final();
  auto final_hash = crypto::hex(crypto::to_bytes(fin.root_signature().artefact_sha256()));
  log::notice(component, "CTA " + uuid + " is final", {{"cta_sha256", final_hash}});
  audit(self, "cta.final", {"uuid", uuid, "cta_sha256", final_hash});
  // Minimisation (personal_data.hpp): each peer gets its own people in full and the others'
  // committed; the Computing Parties get every person committed. The hashes are the same.
  auto committed = [&](const std::string& keep) -> std::optional<std::string> {
    auto copy = fin;
    if (auto r = commit_personal(*copy.mutable_cta(), keep); !r) {
      log::error(component, "CTA " + uuid + ": cannot commit its personal data: " + r.err().message);
      return std::nullopt;
    }
    return proto::serialize(copy);
  };
  for (const auto& peer : peers_of(record.ctsc()))
    if (auto bytes = committed(peer))
      publish(self, "cta.final", {peer}, uuid, std::move(*bytes));
  std::vector<std::string> cps;
  for (const auto& cp : record.ctsc().computing_parties())
    cps.push_back(cp.fqdn());
  if (auto bytes = committed({}))
    publish(self, "cta.final", std::move(cps), uuid, std::move(*bytes));
}

/// At the root: the record of an emerging or instantiated CTA; cancelled if it names a revoked node
/// or (emerging) its approval deadline passed.
void cancel_if_due(artefact_manager_pointer self, const v1::CtaRecord& rec, int64_t now) {
  auto& st = self->state;
  std::string revoked;
  auto check = [&](const std::string& fqdn, const v1::CertificateChain& chain) {
    if (revoked.empty() && chain.certificates_size() > 0
        && st.trust->is_revoked(crypto::fingerprint(crypto::to_bytes(chain.certificates(0)))))
      revoked = fqdn;
  };
  for (const auto& p : rec.ctsc().peers())
    check(p.fqdn(), p.chain());
  for (const auto& cp : rec.ctsc().computing_parties())
    check(cp.fqdn(), cp.chain());
  const auto& uuid = rec.ctsc().uuid();
  result<v1::CtaRecord> done = v1::CtaRecord{};
  if (!revoked.empty())
    done = cancel_at_root(self, uuid, "the certificate of " + revoked + " was revoked", "revocation");
  else if (rec.status() == v1::CTA_STATUS_EMERGING && now >= rec.ctsc().temporal().approval_deadline_ms())
    done = cancel_at_root(self, uuid, "the approval deadline passed before every CTSA was approved", "deadline");
  if (!done)
    log::error(component, "cannot cancel CTA " + uuid + " (again at the next check): " + done.err().describe());
}

/// Erases what this node holds of the CTA `uuid` besides its record (cta_erasure.hpp) and records
/// it in the audit log.
void erase_payloads(artefact_manager_pointer self, const std::string& uuid) {
  auto erased = erase_cta_payloads(self->state.store, {uuid});
  if (!erased)
    return log::error(component, "cannot erase what this node holds of CTA " + uuid + ": "
                                   + erased.err().describe() + " (again at the next start)");
  log::notice(component, "erased what this node held of CTA " + uuid + ": " + std::to_string(erased->inbox)
                           + " inbox record(s), " + std::to_string(erased->paks) + " PAK record(s), "
                           + std::to_string(erased->overrides) + " trust override(s); the store is scrubbed next");
  audit(self, "cta.payloads_erased",
        {"uuid", uuid, "inbox", std::to_string(erased->inbox), "paks", std::to_string(erased->paks),
         "overrides", std::to_string(erased->overrides)});
}

/// At the root: a finished or cancelled CTA past its data retention is erased, every holder told;
/// the root keeps only the fact that it existed, too.
void erase_if_due(artefact_manager_pointer self, v1::CtaRecord& rec, int64_t now) {
  auto& st = self->state;
  auto retention_ms = rec.ctsc().temporal().data_retention_s() * 1000;
  auto cancelled = rec.status() == v1::CTA_STATUS_CANCELLED;
  auto from = cancelled ? rec.last_changed_ms() : rec.ctsc().temporal().output_deadline_ms();
  if ((!cancelled && rec.status() != v1::CTA_STATUS_FINISHED) || now <= from + retention_ms)
    return;
  auto state = state_of(rec);
  if (!state.erase(now))
    return;
  put_state(state, rec);
  if (auto r = save_cta_record(st.store, rec); !r)
    return;
  audit(self, "cta.erased", {"uuid", rec.ctsc().uuid()});
  publish_status(self, rec);
  strip_to_fact(rec);
  if (auto r = save_cta_record(st.store, rec); !r)
    return log::error(component, "cannot strip erased CTA " + rec.ctsc().uuid() + " to the fact: " + r.err().describe());
  erase_payloads(self, rec.ctsc().uuid());
}

} // namespace

caf::result<cta_receipt> decide(artefact_manager_pointer self, const std::string& uuid,
                                const std::string& peer_name, bool approve, const std::string& reason,
                                const std::string& user) {
  auto& st = self->state;
  if (!from_this_node(self))
    return make_error(errc::forbidden, "decisions come from this node's API only");
  if (!st.at_root())
    return make_error(errc::forbidden, "the System Operator decides at the root only");
  auto rec = load_held(st.store, uuid);
  if (!rec)
    return to_caf(rec.err());
  auto& record = *rec;
  auto peer = peer_name.find('.') == std::string::npos ? peer_name + "." + st.root : peer_name;
  auto state = state_of(record);
  auto i = state.addenda().find(peer);
  if (i == state.addenda().end())
    return make_error(errc::not_found, peer + " is not a peer of CTA " + uuid);
  auto ctsa_hash = i->second.ctsa_hash;
  if (approve && now_ms() >= record.ctsc().temporal().approval_deadline_ms())
    return make_error(errc::timeout, "the approval deadline of CTA " + uuid + " passed at "
                                       + std::to_string(record.ctsc().temporal().approval_deadline_ms())
                                       + " ms; the CTA can no longer become final");
  if (auto r = state.decide(peer, ctsa_hash, approve, reason, now_ms()); !r)
    return to_caf(r.err());
  put_decision(st, state, peer, approve, reason, record);
  bool final = state.status() == v1::CTA_STATUS_INSTANTIATED;
  if (final) {
    auto made = make_final(*st.signer, *st.trust, record);
    if (!made)
      return to_caf(made.err());
    *record.mutable_final() = std::move(*made);
  }
  if (auto r = save_cta_record(st.store, record); !r)
    return to_caf(r.err());
  audit(self, approve ? "cta.ctsa.approved" : "cta.ctsa.rejected",
        {"uuid", uuid, "peer", peer, "approver", user, "ctsa_sha256", ctsa_hash, "reason", reason});
  // The peer learns the decision on its CTSA, and a rejection's reason.
  v1::DecisionNotice notice;
  notice.set_uuid(uuid);
  *notice.mutable_decision() = addendum_entry(record, peer).decision();
  // Every peer's log of the CT shows the decision (SYS-5.3), and the CTA becoming final.
  share_agreement_event(self, record, peer,
                        approve ? "CTSA approved by the System Operator"
                                : "CTSA rejected by the System Operator: " + reason);
  if (final)
    share_agreement_event(self, record, peer, "the CTA is final: every CTSA is approved");
  publish(self, "cta.decision", {peer}, uuid, proto::serialize(notice));
  if (final)
    send_final(self, record);
  cta_receipt reply;
  reply.uuid = uuid;
  reply.peer = peer;
  reply.decision = approve ? "approved" : "rejected";
  reply.status = to_string(record.status());
  return reply;
}

caf::result<cta_receipt> cancel(artefact_manager_pointer self, const std::string& uuid,
                                const std::string& reason, const std::string& user) {
  auto& st = self->state;
  if (!from_this_node(self))
    return make_error(errc::forbidden, "cancellations come from this node's API only");
  if (reason.empty())
    return make_error(errc::malformed_input, "a cancellation says why");
  if (st.at_root()) {
    auto done = cancel_at_root(self, uuid, reason, user + " (System Operator)");
    if (!done)
      return to_caf(done.err());
    cta_receipt reply;
    reply.uuid = uuid;
    reply.status = to_string(done->status());
    reply.reason = reason;
    return reply;
  }
  auto rec = load_held(st.store, uuid);
  if (!rec)
    return to_caf(rec.err());
  if (rec->status() != v1::CTA_STATUS_EMERGING && rec->status() != v1::CTA_STATUS_INSTANTIATED)
    return make_error(errc::invalid_state, "CTA " + uuid + " is " + std::string{to_string(rec->status())});
  v1::CancelRequest req;
  req.set_request_id(crypto::hex(crypto::random_bytes(16)));
  req.set_uuid(uuid);
  req.set_reason(reason);
  req.set_by(user);
  audit(self, "cta.cancel.requested", {"uuid", uuid, "by", user, "reason", reason});
  return ask_root(self, req.request_id(), "cta.cancel", uuid, proto::serialize(req));
}

void on_final(artefact_manager_pointer self, const std::string& origin, const std::string& payload) {
  auto fin = read_from_root<v1::FinalCta>(self, "final CTA", "cta.final.refused", origin, payload);
  if (!fin)
    return;
  auto& st = self->state;
  auto refuse = [&](const error& e) {
    refuse_artefact(self, "final CTA", "cta.final.refused", origin, e);
  };
  if (auto r = check_final(*st.trust, st.root, *fin); !r)
    return refuse(r.err());
  const auto& ctsc = fin->cta().ctsc();
  auto hash = canonical_hash(ctsc).value();
  auto existing = load_cta_record(st.store, ctsc.uuid());
  if (!existing)
    return refuse(existing.err());
  v1::CtaRecord record;
  if (existing->has_value()) {
    record = **existing;
    if (record.ctsc_sha256() != std::string{hash.begin(), hash.end()})
      return refuse(fail(errc::already_exists, "CTA " + ctsc.uuid() + " is held with another CTSC"));
    if (record.has_final()
        && record.final().root_signature().artefact_sha256() == fin->root_signature().artefact_sha256())
      return; // handed over again after a restart: kept already
  } else {
    *record.mutable_ctsc() = ctsc;
    record.set_ctsc_sha256(std::string{hash.begin(), hash.end()});
    record.set_stored_at_ms(now_ms());
  }
  record.set_status(v1::CTA_STATUS_INSTANTIATED);
  record.set_updates(record.updates() + 1);
  record.set_last_changed_ms(now_ms());
  *record.mutable_final() = *fin;
  // A peer's own addendum is approved with the CTA that holds it.
  for (auto& a : *record.mutable_addenda())
    for (const auto& c : fin->cta().ctsas()) {
      auto h = ctsa_hash(c);
      if (a.peer() == c.peer() && h && std::string{h->begin(), h->end()} == a.ctsa_sha256())
        a.set_status(std::string{to_string(addendum_status::approved)});
    }
  if (auto r = save_cta_record(st.store, record); !r)
    return refuse(r.err());
  auto final_hash = crypto::hex(cta_hash(fin->cta()).value());
  log::notice(component, "CTA " + ctsc.uuid() + " is final: " + ctsc.title(), {{"cta_sha256", final_hash}});
  audit(self, "cta.final.stored", {"uuid", ctsc.uuid(), "cta_sha256", final_hash});
  if (st.deployer)
    self->send(st.deployer, deploy_atom::value, ctsc.uuid());
}

void on_decision(artefact_manager_pointer self, const std::string& origin, const std::string& payload) {
  auto& st = self->state;
  auto notice = proto::parse<v1::DecisionNotice>(payload, 64 * 1024);
  if (!notice || origin != st.root || st.at_root() || notice->decision().peer() != st.self)
    return;
  auto rec = load_held(st.store, notice->uuid());
  if (!rec)
    return;
  auto& mine = addendum_entry(*rec, st.self);
  if (mine.ctsa_sha256() != notice->decision().ctsa_sha256())
    return;  // about a CTSA this node has replaced since
  const auto& d = notice->decision();
  *mine.mutable_decision() = d;
  mine.set_status(std::string{to_string(d.approved() ? addendum_status::approved : addendum_status::rejected)});
  mine.set_reason(d.approved() ? std::string{} : d.reason());
  if (auto r = save_cta_record(st.store, *rec); !r)
    return;
  audit(self, d.approved() ? "cta.ctsa.approved.noted" : "cta.ctsa.rejected.noted",
        {"uuid", notice->uuid(), "reason", d.reason()});
}

void on_cancel(artefact_manager_pointer self, const std::string& origin, const std::string& payload) {
  auto& st = self->state;
  auto req = proto::parse<v1::CancelRequest>(payload, 64 * 1024);
  if (!req)
    return;
  auto refuse = [&](const error& e) {
    reply_refused(self, origin, req->request_id(), req->uuid(), "cancellation", e);
  };
  if (!st.at_root())
    return refuse(fail(errc::forbidden, "only the root cancels CTAs"));
  auto rec = load_held(st.store, req->uuid());
  if (!rec)
    return refuse(rec.err());
  if (!is_peer(rec->ctsc(), origin))
    return refuse(fail(errc::forbidden, origin + " is not a peer of CTA " + req->uuid()));
  if (rec->status() == v1::CTA_STATUS_CANCELLED) // handed over again after a restart
    return reply_accepted(self, origin, req->request_id(), req->uuid(), {}, 0,
                          std::string{to_string(v1::CTA_STATUS_CANCELLED)});
  auto done = cancel_at_root(self, req->uuid(), req->reason(), req->by() + "@" + origin);
  if (!done)
    return refuse(done.err());
  reply_accepted(self, origin, req->request_id(), req->uuid(), {}, done->updates(),
                 std::string{to_string(done->status())});
}

void on_status(artefact_manager_pointer self, const std::string& origin, const std::string& payload) {
  auto& st = self->state;
  auto up = proto::parse<v1::StatusUpdate>(payload, 64 * 1024);
  if (!up || origin != st.root)
    return;
  auto rec = load_held(st.store, up->uuid());
  if (!rec || rec->updates() > up->counter())
    return; // unknown here, or older than what this node holds
  if (up->status() != v1::CTA_STATUS_CANCELLED && up->status() != v1::CTA_STATUS_ERASED
      && up->status() != v1::CTA_STATUS_FINISHED)
    return;
  rec->set_status(up->status());
  rec->set_updates(up->counter());
  rec->set_last_changed_ms(up->last_changed_ms());
  rec->set_reason(up->reason());
  if (rec->status() == v1::CTA_STATUS_ERASED)
    strip_to_fact(*rec); // only the fact that the CTA existed remains (spec: erased after the retention time)
  if (auto r = save_cta_record(st.store, *rec); !r)
    return log::error(component, "cannot store the status of CTA " + up->uuid() + ": " + r.err().message);
  auto status = std::string{to_string(rec->status())};
  log::notice(component, "CTA " + up->uuid() + " is " + status + ": " + up->reason());
  audit(self, "cta.status", {"uuid", up->uuid(), "status", status, "reason", up->reason()});
  if (rec->status() == v1::CTA_STATUS_ERASED)
    erase_payloads(self, up->uuid());
  if (st.deployer)
    self->send(st.deployer, changed_atom::value, up->uuid());
}

void sweep_erased(artefact_manager_pointer self) {
  std::set<std::string> erased;
  for (const auto& rec : load_all_records(self->state.store))
    if (rec.status() == v1::CTA_STATUS_ERASED)
      erased.insert(rec.ctsc().uuid());
  if (erased.empty())
    return;
  auto left = erase_cta_payloads(self->state.store, erased);
  if (!left)
    return log::error(component, "cannot erase what is left of the erased CTAs: " + left.err().describe()
                                   + " (again at the next start)");
  if (left->inbox + left->paks + left->overrides == 0)
    return;
  log::notice(component, "erased what was left of " + std::to_string(erased.size()) + " erased CTA(s): "
                           + std::to_string(left->inbox) + " inbox record(s), " + std::to_string(left->paks)
                           + " PAK record(s), " + std::to_string(left->overrides) + " trust override(s)");
  audit(self, "cta.payloads_erased",
        {"ctas", std::to_string(erased.size()), "inbox", std::to_string(left->inbox), "paks",
         std::to_string(left->paks), "overrides", std::to_string(left->overrides)});
}

void housekeeping(artefact_manager_pointer self) {
  if (!self->state.at_root())
    return;
  auto now = now_ms();
  for (auto& rec : load_all_records(self->state.store)) {
    if (rec.status() == v1::CTA_STATUS_EMERGING || rec.status() == v1::CTA_STATUS_INSTANTIATED)
      cancel_if_due(self, rec, now);
    else
      erase_if_due(self, rec, now);
  }
}

} // namespace joconde
