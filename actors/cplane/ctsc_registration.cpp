#include "ctsc_registration.hpp"

#include "artefact_ports.hpp"
#include "artefact_signatures.hpp"
#include "cta_records.hpp"
#include "ctsc_rules.hpp"

#include "joconde/messages/caf_error.hpp"
#include "joconde/messages/canonical.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/node.pb.h"
#include "joconde/runtime/clock.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/log.hpp"


namespace joconde {

namespace {

const char* const component = artefact_manager_state::name;

/// At the root: the chains of the peers and CPs, each a child of this node confirmed out of band
/// and not revoked; CPs must be computing nodes.
result<void> fill_chains(const artefact_manager_state& st, v1::Ctsc& ctsc) {
  auto txn = st.store.env->begin_read();
  if (!txn)
    return txn.err();
  auto identity = [&](const std::string& fqdn, bool computing) -> result<v1::NodeIdentity> {
    auto bytes = txn->get(st.store.children, fqdn);
    if (!bytes)
      return bytes.err();
    if (!bytes->has_value())
      return fail(errc::unknown_peer, fqdn + " is not a node enrolled at the root");
    auto id = proto::parse<v1::NodeIdentity>(**bytes, 64 * 1024);
    if (!id)
      return id.err();
    if (computing && id->role() != v1::ROLE_COMPUTING)
      return fail(errc::forbidden, fqdn + " is not a computing node");
    auto trusted = txn->get(st.store.trusted, id->fingerprint());
    if (!trusted)
      return trusted.err();
    if (!trusted->has_value())
      return fail(errc::untrusted_chain, "the fingerprint of " + fqdn
                                           + " was not confirmed out of band at the root");
    if (st.trust->is_revoked(id->fingerprint()))
      return fail(errc::certificate_revoked, "the certificate of " + fqdn + " is revoked");
    return id;
  };
  for (auto& p : *ctsc.mutable_peers()) {
    auto id = identity(p.fqdn(), false);
    if (!id)
      return id.err();
    *p.mutable_chain() = id->chain();
  }
  for (auto& cp : *ctsc.mutable_computing_parties()) {
    auto id = identity(cp.fqdn(), true);
    if (!id)
      return id.err();
    *cp.mutable_chain() = id->chain();
  }
  return ok();
}

void refuse_draft(artefact_manager_pointer self, const std::string& origin,
                  const std::string& request_id, const error& err) {
  ++self->state.refused;
  log::warning(component, "CTSC draft from " + origin + " refused: " + err.message,
               {{"reason", to_string(err.code)}, {"request", request_id}});
  audit(self, "cta.ctsc.refused",
        {"origin", origin, "request", request_id, "reason", std::string{to_string(err.code)}, "detail",
         err.message});
  v1::ArtefactRefusal refusal;
  refusal.set_request_id(request_id);
  refusal.set_code(std::string{to_string(err.code)});
  refusal.set_message(err.message);
  publish(self, "cta.refused", {origin}, "", proto::serialize(refusal));
}

} // namespace

caf::result<cta_receipt> create_draft(artefact_manager_pointer self, const proto_bytes<v1::Ctsc>& draft,
                                      const std::string& user) {
  auto& st = self->state;
  if (!from_this_node(self))
    return make_error(errc::forbidden, "drafts come from this node's API only");
  auto parsed = proto::parse(draft, max_artefact_bytes);
  if (!parsed)
    return to_caf(parsed.err());
  auto& ctsc = *parsed;
  if (!ctsc.uuid().empty())
    return make_error(errc::malformed_input, "a draft has no uuid: the root assigns it");
  for (const auto& p : ctsc.peers())
    if (p.has_chain())
      return make_error(errc::malformed_input, "a draft carries no certificates: the root adds them");
  for (const auto& cp : ctsc.computing_parties())
    if (cp.has_chain())
      return make_error(errc::malformed_input, "a draft carries no certificates: the root adds them");
  ctsc.mutable_organiser()->set_peer(st.self);
  ctsc.mutable_organiser()->set_name(user);
  ctsc.set_created_at_ms(now_ms());
  if (auto r = check_ctsc(ctsc, now_ms(), false); !r)
    return to_caf(r.err());
  if (auto r = proto::canonical_bytes(ctsc); !r)
    return to_caf(r.err());
  v1::CtscRegistration reg;
  reg.set_request_id(crypto::hex(crypto::random_bytes(16)));
  *reg.mutable_ctsc() = std::move(ctsc);
  audit(self, "cta.ctsc.drafted", {"request", reg.request_id(), "organiser", user, "title",
                                   reg.ctsc().title()});
  return ask_root(self, reg.request_id(), "cta.ctsc.register", "", proto::serialize(reg));
}

void on_register(artefact_manager_pointer self, const std::string& origin, const std::string& payload) {
  auto& st = self->state;
  v1::CtscRegistration reg;
  if (!read_artefact("CTSC draft", origin, payload, reg))
    return;
  auto& ctsc = *reg.mutable_ctsc();
  auto refuse = [&](const error& e) { refuse_draft(self, origin, reg.request_id(), e); };
  if (!st.at_root())
    return refuse(fail(errc::forbidden, "only the root registers CTSCs"));
  if (reg.request_id().size() != 32)
    return refuse(fail(errc::malformed_input, "a draft carries a 32-hex-digit request id"));
  if (!ctsc.uuid().empty())
    return refuse(fail(errc::malformed_input, "a draft has no uuid: the root assigns it"));
  if (ctsc.organiser().peer() != origin)
    return refuse(fail(errc::forbidden, origin + " may send drafts of its own Task Organisers only"));
  // Handed over again after a restart: registered already, so tell the peers again (they keep it
  // once) instead of registering it twice.
  if (auto known = registered_uuid(st.store, reg.request_id()))
    if (auto rec = load_cta_record(st.store, *known); rec && rec->has_value()) {
      ctsc = (*rec)->ctsc();
      publish(self, "cta.ctsc", peers_of(ctsc), ctsc.uuid(), proto::serialize(reg));
      return;
    }
  if (auto r = check_ctsc(ctsc, now_ms(), false); !r)
    return refuse(r.err());
  if (auto r = fill_chains(st, ctsc); !r)
    return refuse(r.err());
  ctsc.set_uuid(new_uuid());
  auto stored = store_new_record(st.store, ctsc, reg.request_id());
  if (!stored)
    return refuse(stored.err());
  ++st.registered;
  auto hash = ctsc_hash_hex(ctsc);
  log::info(component, "CTA " + ctsc.uuid() + " registered: " + ctsc.title(),
            {{"origin", origin}, {"ctsc_sha256", hash}});
  audit(self, "cta.ctsc.registered",
        {"uuid", ctsc.uuid(), "origin", origin, "organiser", ctsc.organiser().name(), "ctsc_sha256", hash});
  publish(self, "cta.ctsc", peers_of(ctsc), ctsc.uuid(), proto::serialize(reg));
}

void on_registered(artefact_manager_pointer self, const std::string& origin, const std::string& payload) {
  auto reg = read_from_root<v1::CtscRegistration>(self, "registered CTSC", "cta.ctsc.refused", origin,
                                                  payload);
  if (!reg)
    return;
  auto& st = self->state;
  const auto& ctsc = reg->ctsc();
  auto refuse = [&](const error& e) {
    refuse_artefact(self, "registered CTSC", "cta.ctsc.refused", origin, e);
  };
  if (!is_uuid(ctsc.uuid()))
    return refuse(fail(errc::malformed_input, "the CTSC has no valid uuid"));
  if (!is_peer(ctsc, st.self))
    return refuse(fail(errc::forbidden, "this node is not a peer of CTA " + ctsc.uuid()));
  if (auto r = check_ctsc(ctsc, now_ms(), true); !r)
    return refuse(r.err());
  if (auto r = verify_chains(*st.trust, ctsc); !r)
    return refuse(r.err());
  auto stored = store_new_record(st.store, ctsc);
  if (!stored)
    return refuse(stored.err());
  auto hash = ctsc_hash_hex(ctsc);
  if (*stored) {
    log::info(component, "CTA " + ctsc.uuid() + " stored: " + ctsc.title(), {{"ctsc_sha256", hash}});
    audit(self, "cta.ctsc.stored", {"uuid", ctsc.uuid(), "ctsc_sha256", hash});
  }
  cta_receipt reply;
  reply.uuid = ctsc.uuid();
  reply.status = to_string(v1::CTA_STATUS_EMERGING);
  reply.ctsc_sha256 = hash;
  answer_pending(self, reg->request_id(), std::move(reply));
}

void on_refused(artefact_manager_pointer self, const std::string& origin, const std::string& payload) {
  auto refusal = proto::parse<v1::ArtefactRefusal>(payload, 64 * 1024);
  if (!refusal || origin != self->state.root)
    return;
  self->state.sent_signatures.erase(refusal->request_id());
  auto code = errc_from_string(refusal->code(), errc::forbidden);
  answer_pending(self, refusal->request_id(),
                 make_error(code == errc::none ? errc::forbidden : code,
                            "the root refused it: " + refusal->message()));
}

} // namespace joconde
