#include "artefact_manager.hpp"

#include "ct_reports.hpp"
#include "cta_records.hpp"
#include "cta_state.hpp"
#include "ctsc_rules.hpp"
#include "member_trust.hpp"

#include "joconde/runtime/clock.hpp"
#include "joconde/agreement.pb.h"
#include "joconde/messages/caf_error.hpp"
#include "joconde/messages/canonical.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/node.pb.h"
#include "joconde/vm.pb.h"
#include "joconde/runtime/canonical_hash.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/log.hpp"

#include "../mplane/user_directory.hpp"

#include <caf/actor_system.hpp>

#include <google/protobuf/util/json_util.h>
#include <optional>
#include <nlohmann/json.hpp>

namespace joconde {

namespace {

constexpr const char* component = "artefact_manager";
constexpr size_t max_artefact = 4 * 1024 * 1024;


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

std::string hex_hash(const v1::Ctsc& ctsc) {
  auto h = canonical_hash(ctsc);
  return h ? crypto::hex(*h) : std::string{};
}

result<std::optional<v1::CtaRecord>> load(const node_store& store, const std::string& uuid) {
  return load_cta_record(store, uuid);
}

/// The CTA this node holds with this uuid: malformed_input for a bad uuid, not_found if none.
result<v1::CtaRecord> load_held(const node_store& store, const std::string& uuid) {
  if (!is_uuid(uuid))
    return fail(errc::malformed_input, "'" + uuid + "' is not a UUID");
  auto rec = load(store, uuid);
  if (!rec)
    return rec.err();
  if (!rec->has_value())
    return fail(errc::not_found, "this node holds no CTA " + uuid);
  return std::move(**rec);
}

/// Where the root remembers which draft (request id) became which CTA, so that a draft handed over
/// again after a restart is not registered twice.
std::string request_key(const std::string& request_id) {
  return "cta.request." + request_id;
}

/// Stores a new record; already_exists if the uuid is taken by another CTSC (the same one is fine).
/// With a request id, also remembers it (in the same commit).
result<bool> store_new(const node_store& store, const v1::Ctsc& ctsc, const std::string& request_id = {}) {
  auto hash = canonical_hash(ctsc);
  if (!hash)
    return hash.err();
  v1::CtaRecord rec;
  *rec.mutable_ctsc() = ctsc;
  rec.set_ctsc_sha256(std::string{hash->begin(), hash->end()});
  rec.set_status(v1::CTA_STATUS_EMERGING);
  rec.set_updates(1);
  rec.set_last_changed_ms(now_ms());
  rec.set_stored_at_ms(rec.last_changed_ms());
  auto txn = store.env->begin_write();
  if (!txn)
    return txn.err();
  if (auto old = txn->get(store.ctas, ctsc.uuid()); !old) {
    return old.err();
  } else if (old->has_value()) {
    auto prev = parse_cta_record(**old);
    if (prev && prev->ctsc_sha256() == rec.ctsc_sha256())
      return false; // seen before
    return fail(errc::already_exists, "CTA " + ctsc.uuid() + " exists with another CTSC");
  }
  if (auto r = txn->put(store.ctas, ctsc.uuid(), proto::serialize(rec)); !r)
    return r.err();
  if (!request_id.empty())
    if (auto r = txn->put(store.meta, request_key(request_id), ctsc.uuid()); !r)
      return r.err();
  if (auto r = txn->commit(); !r)
    return r.err();
  return true;
}

/// At the root: the chains of the peers and CPs, each a child of this node confirmed out of band
/// and not revoked; CPs must be computing nodes.
result<void> fill_chains(artefact_manager_pointer self, v1::Ctsc& ctsc) {
  auto& st = self->state;
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

/// At a peer: every chain in a registered CTSC leads to the root, names the node it is for, and is
/// not revoked.
result<void> verify_chains(artefact_manager_pointer self, const v1::Ctsc& ctsc) {
  auto check = [&](const std::string& fqdn, const v1::CertificateChain& chain) -> result<void> {
    std::vector<std::string> der{chain.certificates().begin(), chain.certificates().end()};
    auto node = self->state.trust->verify_chain(der, std::chrono::system_clock::now());
    if (!node)
      return fail(node.err().code, "the chain of " + fqdn + ": " + node.err().message);
    if (node->fqdn != fqdn)
      return fail(errc::untrusted_chain, "the chain given for " + fqdn + " is " + node->fqdn + "'s");
    return ok();
  };
  for (const auto& p : ctsc.peers())
    if (auto r = check(p.fqdn(), p.chain()); !r)
      return r;
  for (const auto& cp : ctsc.computing_parties())
    if (auto r = check(cp.fqdn(), cp.chain()); !r)
      return r;
  return ok();
}

void refuse_draft(artefact_manager_pointer self, const std::string& origin,
                  const std::string& request_id, const error& err) {
  auto& st = self->state;
  ++st.refused;
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

/// At the root: a draft from `origin`.
void on_register(artefact_manager_pointer self, const std::string& origin, const std::string& payload) {
  auto& st = self->state;
  auto reg = proto::parse<v1::CtscRegistration>(payload, max_artefact);
  if (!reg) {
    log::warning(component, "unreadable CTSC draft from " + origin + ": " + reg.err().message);
    return;
  }
  auto& ctsc = *reg->mutable_ctsc();
  auto refuse = [&](const error& e) { refuse_draft(self, origin, reg->request_id(), e); };
  if (st.self != st.root)
    return refuse(fail(errc::forbidden, "only the root registers CTSCs"));
  if (reg->request_id().size() != 32)
    return refuse(fail(errc::malformed_input, "a draft carries a 32-hex-digit request id"));
  if (!ctsc.uuid().empty())
    return refuse(fail(errc::malformed_input, "a draft has no uuid: the root assigns it"));
  if (ctsc.organiser().peer() != origin)
    return refuse(fail(errc::forbidden, origin + " may send drafts of its own Task Organisers only"));
  // Handed over again after a restart: registered already, so tell the peers again (they keep it
  // once) instead of registering it twice.
  if (auto txn = st.store.env->begin_read(); txn)
    if (auto known = txn->get(st.store.meta, request_key(reg->request_id())); known && known->has_value())
      if (auto rec = load(st.store, **known); rec && rec->has_value()) {
        *reg->mutable_ctsc() = (*rec)->ctsc();
        std::vector<std::string> peers;
        for (const auto& p : reg->ctsc().peers())
          peers.push_back(p.fqdn());
        publish(self, "cta.ctsc", std::move(peers), reg->ctsc().uuid(), proto::serialize(*reg));
        return;
      }
  if (auto r = check_ctsc(ctsc, now_ms(), false); !r)
    return refuse(r.err());
  if (auto r = fill_chains(self, ctsc); !r)
    return refuse(r.err());
  ctsc.set_uuid(new_uuid());
  auto stored = store_new(st.store, ctsc, reg->request_id());
  if (!stored)
    return refuse(stored.err());
  ++st.registered;
  auto hash = hex_hash(ctsc);
  log::info(component, "CTA " + ctsc.uuid() + " registered: " + ctsc.title(),
            {{"origin", origin}, {"ctsc_sha256", hash}});
  audit(self, "cta.ctsc.registered",
        {"uuid", ctsc.uuid(), "origin", origin, "organiser", ctsc.organiser().name(), "ctsc_sha256", hash});
  std::vector<std::string> peers;
  for (const auto& p : ctsc.peers())
    peers.push_back(p.fqdn());
  publish(self, "cta.ctsc", std::move(peers), ctsc.uuid(), proto::serialize(*reg));
}

/// At a peer: a CTSC the root registered.
void on_registered(artefact_manager_pointer self, const std::string& origin, const std::string& payload) {
  auto& st = self->state;
  auto reg = proto::parse<v1::CtscRegistration>(payload, max_artefact);
  auto refuse = [&](const error& e) {
    log::warning(component, "registered CTSC from " + origin + " refused: " + e.message,
                 {{"reason", to_string(e.code)}});
    audit(self, "cta.ctsc.refused", {"origin", origin, "reason", std::string{to_string(e.code)},
                                     "detail", e.message});
  };
  if (!reg)
    return refuse(reg.err());
  const auto& ctsc = reg->ctsc();
  if (origin != st.root)
    return refuse(fail(errc::forbidden, "registered CTSCs come from the root only"));
  if (!is_uuid(ctsc.uuid()))
    return refuse(fail(errc::malformed_input, "the CTSC has no valid uuid"));
  bool named = false;
  for (const auto& p : ctsc.peers())
    named = named || p.fqdn() == st.self;
  if (!named)
    return refuse(fail(errc::forbidden, "this node is not a peer of CTA " + ctsc.uuid()));
  if (auto r = check_ctsc(ctsc, now_ms(), true); !r)
    return refuse(r.err());
  if (auto r = verify_chains(self, ctsc); !r)
    return refuse(r.err());
  auto stored = store_new(st.store, ctsc);
  if (!stored)
    return refuse(stored.err());
  auto hash = hex_hash(ctsc);
  if (*stored) {
    log::info(component, "CTA " + ctsc.uuid() + " stored: " + ctsc.title(), {{"ctsc_sha256", hash}});
    audit(self, "cta.ctsc.stored", {"uuid", ctsc.uuid(), "ctsc_sha256", hash});
  }
  if (auto i = st.pending.find(reg->request_id()); i != st.pending.end()) {
    i->second.deliver(nlohmann::json{{"uuid", ctsc.uuid()}, {"status", "emerging"}, {"ctsc_sha256", hash}}
                        .dump());
    st.pending.erase(i);
  }
}

/// At the origin: the root refused a draft.
void on_refused(artefact_manager_pointer self, const std::string& origin, const std::string& payload) {
  auto& st = self->state;
  auto refusal = proto::parse<v1::ArtefactRefusal>(payload, 64 * 1024);
  if (!refusal || origin != st.root)
    return;
  if (auto i = st.pending.find(refusal->request_id()); i != st.pending.end()) {
    auto code = errc_from_string(refusal->code(), errc::forbidden);
    i->second.deliver(make_error(code == errc::none ? errc::forbidden : code, "the root refused it: "
                                                                + refusal->message()));
    st.pending.erase(i);
  }
}

/// The CTA state machine as a record stores it.
cta_state state_of(const v1::CtaRecord& rec) {
  std::vector<std::string> peers;
  for (const auto& p : rec.ctsc().peers())
    peers.push_back(p.fqdn());
  std::vector<std::string> cps;
  for (const auto& cp : rec.ctsc().computing_parties())
    cps.push_back(cp.fqdn());
  cta_state s{rec.ctsc().uuid(), crypto::hex(crypto::to_bytes(rec.ctsc_sha256())), peers, cps,
              rec.last_changed_ms()};
  s.restore(rec.status(), rec.updates(), rec.last_changed_ms(), rec.reason());
  for (const auto& a : rec.addenda()) {
    addendum_state ad;
    ad.status = addendum_status_from_string(a.status()).value_or(addendum_status::missing);
    ad.version = a.ctsa().version();
    ad.ctsa_hash = crypto::hex(crypto::to_bytes(a.ctsa_sha256()));
    ad.signatories = static_cast<size_t>(a.ctsa().signatories_size());
    ad.signed_by = {a.signed_by().begin(), a.signed_by().end()};
    ad.reason = a.reason();
    s.restore_addendum(a.peer(), std::move(ad));
  }
  return s;
}

/// Writes the state machine's status and counters (not the addenda) into a record.
void put_state(const cta_state& s, v1::CtaRecord& rec) {
  rec.set_status(s.status());
  rec.set_updates(s.updates());
  rec.set_last_changed_ms(s.last_changed_ms());
  rec.set_reason(s.reason());
}

/// The record's entry for `peer`, created if missing.
v1::AddendumRecord& addendum_entry(v1::CtaRecord& rec, const std::string& peer) {
  for (auto& a : *rec.mutable_addenda())
    if (a.peer() == peer)
      return a;
  auto* a = rec.add_addenda();
  a->set_peer(peer);
  a->set_status("missing");
  return *a;
}

result<void> save(const node_store& store, const v1::CtaRecord& rec) {
  if (auto size = rec.ByteSizeLong(); size > max_cta_record_bytes)
    return fail(errc::too_large, "the record of CTA " + rec.ctsc().uuid() + " would be "
                                   + std::to_string(size) + " bytes, over the "
                                   + std::to_string(max_cta_record_bytes) + " a node keeps");
  auto txn = store.env->begin_write();
  if (!txn)
    return txn.err();
  if (auto r = txn->put(store.ctas, rec.ctsc().uuid(), proto::serialize(rec)); !r)
    return r.err();
  return txn->commit();
}

/// The CTA as the record stands: the CTSC, then per peer (in the CTSC's order) its CTSA, its
/// signatories' signatures, its node signature and the SO's decision.
v1::Cta assemble_cta(const v1::CtaRecord& record) {
  v1::Cta cta;
  *cta.mutable_ctsc() = record.ctsc();
  for (const auto& p : record.ctsc().peers())
    for (const auto& a : record.addenda())
      if (a.peer() == p.fqdn()) {
        *cta.add_ctsas() = a.ctsa();
        for (const auto& s : a.signatures())
          *cta.add_signatory_signatures() = s;
        *cta.add_node_signatures() = a.node_signature();
        *cta.add_so_decisions() = a.decision();
      }
  return cta;
}

/// too_large if the CTA, as `record` would make it, could not reach its holders in one envelope;
/// `what` names what was about to be added.
result<void> check_cta_budget(const v1::CtaRecord& record, const std::string& what) {
  auto size = assemble_cta(record).ByteSizeLong();
  if (size <= max_cta_bytes)
    return ok();
  return fail(errc::too_large, "with this " + what + " CTA " + record.ctsc().uuid() + " would be "
                                 + std::to_string(size) + " bytes, over the "
                                 + std::to_string(max_cta_bytes)
                                 + " that reach every holder in one envelope; attach large documents "
                                   "by their SHA-256 (document.sha256) and keep the files out of band");
}

/// The leaf certificate a CTSC gives for `fqdn` (peer or CP).
result<crypto::certificate> leaf_of(const v1::Ctsc& ctsc, const std::string& fqdn) {
  for (const auto& p : ctsc.peers())
    if (p.fqdn() == fqdn && p.chain().certificates_size() > 0)
      return crypto::certificate::from_der(crypto::to_bytes(p.chain().certificates(0)));
  return fail(errc::unknown_peer, fqdn + " is not a peer of CTA " + ctsc.uuid());
}

/// Signs `ns` (its signature field cleared) with the node key.
result<void> sign_node_signature(const node_signer& signer, v1::NodeSignature& ns) {
  ns.clear_signature();
  auto digest = canonical_hash(ns);
  if (!digest)
    return digest.err();
  auto sig = signer.sign(*digest);
  if (!sig)
    return sig.err();
  ns.set_signature(std::string{sig->begin(), sig->end()});
  return ok();
}

/// Checks a node signature over `artefact_hash` made with `leaf`'s key.
result<void> verify_node_signature(const v1::NodeSignature& ns, const crypto::certificate& leaf,
                                   const crypto::bytes& artefact_hash) {
  if (ns.signer_fingerprint() != leaf.fingerprint())
    return fail(errc::bad_signature, "the signature names certificate " + ns.signer_fingerprint()
                                       + ", not " + leaf.fingerprint());
  if (ns.artefact_sha256() != std::string{artefact_hash.begin(), artefact_hash.end()})
    return fail(errc::bad_signature, "the node signature is over another artefact");
  auto unsigned_ns = ns;
  unsigned_ns.clear_signature();
  auto digest = canonical_hash(unsigned_ns);
  if (!digest)
    return digest.err();
  return leaf.public_key().verify(*digest, crypto::to_bytes(ns.signature()));
}

void reply_refused(artefact_manager_pointer self, const std::string& to, const std::string& request_id,
                   const std::string& uuid, const std::string& what, const error& err) {
  auto& st = self->state;
  ++st.refused;
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

/// At the root: a peer's CTSA.
void on_ctsa(artefact_manager_pointer self, const std::string& origin, const std::string& payload) {
  auto& st = self->state;
  auto sub = proto::parse<v1::CtsaSubmission>(payload, max_artefact);
  if (!sub) {
    log::warning(component, "unreadable CTSA from " + origin + ": " + sub.err().message);
    return;
  }
  const auto& ctsa = sub->ctsa();
  const auto& ns = sub->node_signature();
  auto refuse = [&](const error& e) {
    reply_refused(self, origin, sub->request_id(), ctsa.ctsc_uuid(), "CTSA", e);
  };
  if (st.self != st.root)
    return refuse(fail(errc::forbidden, "only the root collects CTSAs"));
  if (ctsa.peer() != origin || ns.signer() != origin)
    return refuse(fail(errc::forbidden, origin + " may send and sign its own CTSA only"));
  if (ns.kind() != v1::ARTEFACT_KIND_CTSA)
    return refuse(fail(errc::bad_signature, "the node signature is not over a CTSA"));
  if (!is_uuid(ctsa.ctsc_uuid()))
    return refuse(fail(errc::malformed_input, "the CTSA names no valid CTA uuid"));
  auto rec = load(st.store, ctsa.ctsc_uuid());
  if (!rec)
    return refuse(rec.err());
  if (!rec->has_value())
    return refuse(fail(errc::not_found, "there is no CTA " + ctsa.ctsc_uuid()));
  auto& record = **rec;
  if (ctsa.ctsc_sha256() != record.ctsc_sha256())
    return refuse(fail(errc::malformed_input,
                       "the CTSA pins CTSC hash " + crypto::hex(crypto::to_bytes(ctsa.ctsc_sha256()))
                         + ", but CTA " + ctsa.ctsc_uuid() + " has "
                         + crypto::hex(crypto::to_bytes(record.ctsc_sha256()))));
  auto hash = canonical_hash(ctsa);
  if (!hash)
    return refuse(hash.err());
  auto leaf = leaf_of(record.ctsc(), origin);
  if (!leaf)
    return refuse(leaf.err());
  if (auto r = verify_node_signature(ns, *leaf, *hash); !r)
    return refuse(fail(errc::bad_signature, "the node signature of " + origin + "'s CTSA: "
                                              + r.err().message));
  if (auto r = check_ctsa(ctsa, record.ctsc()); !r)
    return refuse(r.err());
  auto state = state_of(record);
  auto hash_hex = crypto::hex(*hash);
  auto answer_accepted = [&](const std::string& status) {
    v1::ArtefactAccepted accepted;
    accepted.set_request_id(sub->request_id());
    accepted.set_uuid(ctsa.ctsc_uuid());
    accepted.set_artefact_sha256(std::string{hash->begin(), hash->end()});
    accepted.set_updates(state.updates());
    accepted.set_status(status);
    publish(self, "cta.accepted", {origin}, ctsa.ctsc_uuid(), proto::serialize(accepted));
  };
  // The same CTSA handed over again after a restart: accepted already.
  for (const auto& a : record.addenda())
    if (a.peer() == origin && a.ctsa_sha256() == std::string{hash->begin(), hash->end()})
      return answer_accepted(std::string{to_string(state.status())});
  if (auto r = state.submit_addendum(origin, ctsa.version(), hash_hex,
                                     crypto::hex(crypto::to_bytes(record.ctsc_sha256())),
                                     static_cast<size_t>(ctsa.signatories_size()), now_ms());
      !r)
    return refuse(r.err());
  auto& entry = addendum_entry(record, origin);
  *entry.mutable_ctsa() = ctsa;
  *entry.mutable_node_signature() = ns;
  entry.set_ctsa_sha256(std::string{hash->begin(), hash->end()});
  entry.set_status(std::string{to_string(state.addenda().at(origin).status)});
  // The signatories signed the version this one replaces: their signatures (and documents) go with
  // it, and the new version is signed again.
  entry.clear_signed_by();
  entry.clear_signatures();
  entry.clear_reason();
  put_state(state, record);
  if (auto r = check_cta_budget(record, "CTSA"); !r)
    return refuse(r.err());
  if (auto r = save(st.store, record); !r)
    return refuse(r.err());
  log::info(component, "CTSA version " + std::to_string(ctsa.version()) + " of " + origin
                         + " stored for CTA " + ctsa.ctsc_uuid(),
            {{"ctsa_sha256", hash_hex}});
  audit(self, "cta.ctsa.accepted", {"uuid", ctsa.ctsc_uuid(), "peer", origin, "version",
                                    std::to_string(ctsa.version()), "ctsa_sha256", hash_hex});
  answer_accepted(std::string{to_string(state.status())});
}

/// At the root: a Signatory of `origin` signed its current CTSA.
void on_signature(artefact_manager_pointer self, const std::string& origin, const std::string& payload) {
  auto& st = self->state;
  auto sub = proto::parse<v1::SignatorySubmission>(payload, max_artefact);
  if (!sub) {
    log::warning(component, "unreadable signatory signature from " + origin + ": " + sub.err().message);
    return;
  }
  const auto& sig = sub->signature();
  // The CTA is named by the CTSA the signature is over; find it among the stored ones.
  std::string uuid;
  {
    auto txn = st.store.env->begin_read();
    if (txn)
      (void) txn->for_each(st.store.ctas, "", [&](std::string_view key, std::string_view value) {
        auto rec = parse_cta_record(value);
        if (rec)
          for (const auto& a : rec->addenda())
            if (a.peer() == origin && a.ctsa_sha256() == sig.ctsa_sha256())
              uuid = std::string{key};
        return uuid.empty();
      });
  }
  auto refuse = [&](const error& e) {
    reply_refused(self, origin, sub->request_id(), uuid, "signatory signature", e);
  };
  if (st.self != st.root)
    return refuse(fail(errc::forbidden, "only the root collects signatures"));
  if (sig.peer() != origin)
    return refuse(fail(errc::forbidden, origin + " may send its own Signatories' signatures only"));
  if (uuid.empty())
    return refuse(fail(errc::not_found, "no CTA holds a CTSA of " + origin + " with that hash"));
  auto rec = load_held(st.store, uuid);
  if (!rec)
    return refuse(rec.err());
  auto& record = *rec;
  if (!sig.has_document() && sig.signature().empty())
    return refuse(fail(errc::malformed_input, "a signature carries a document or an electronic signature"));
  auto state = state_of(record);
  // The same signature handed over again after a restart: accepted already.
  for (const auto& a : record.addenda())
    if (a.peer() == origin)
      for (const auto& known : a.signatures())
        if (known.SerializeAsString() == sig.SerializeAsString()) {
          v1::ArtefactAccepted again;
          again.set_request_id(sub->request_id());
          again.set_uuid(uuid);
          again.set_artefact_sha256(sig.ctsa_sha256());
          again.set_updates(state.updates());
          again.set_status(a.status());
          publish(self, "cta.accepted", {origin}, uuid, proto::serialize(again));
          return;
        }
  if (auto r = state.add_signatory_signature(origin, crypto::hex(crypto::to_bytes(sig.ctsa_sha256())),
                                             sig.signatory(), now_ms());
      !r)
    return refuse(r.err());
  auto& entry = addendum_entry(record, origin);
  *entry.add_signatures() = sig;
  entry.add_signed_by(sig.signatory());
  entry.set_status(std::string{to_string(state.addenda().at(origin).status)});
  put_state(state, record);
  if (auto r = check_cta_budget(record, "signature"); !r)
    return refuse(r.err());
  if (auto r = save(st.store, record); !r)
    return refuse(r.err());
  audit(self, "cta.signature.accepted", {"uuid", uuid, "peer", origin, "signatory",
                                         std::to_string(sig.signatory())});
  v1::ArtefactAccepted accepted;
  accepted.set_request_id(sub->request_id());
  accepted.set_uuid(uuid);
  accepted.set_artefact_sha256(sig.ctsa_sha256());
  accepted.set_updates(state.updates());
  accepted.set_status(entry.status());
  publish(self, "cta.accepted", {origin}, uuid, proto::serialize(accepted));
}

/// At the root, when every CTSA is approved: the CTA as it is final, signed by the root's node.
result<v1::FinalCta> make_final(artefact_manager_pointer self, const v1::CtaRecord& record) {
  auto& st = self->state;
  v1::FinalCta fin;
  auto& cta = *fin.mutable_cta();
  cta = assemble_cta(record);
  auto hash = canonical_hash(cta);
  if (!hash)
    return hash.err();
  auto& ns = *fin.mutable_root_signature();
  ns.set_signer(st.self);
  ns.set_signer_fingerprint(st.trust->own_chain().front().fingerprint());
  ns.set_kind(v1::ARTEFACT_KIND_CTA);
  ns.set_artefact_sha256(std::string{hash->begin(), hash->end()});
  ns.set_signed_at_ms(now_ms());
  if (auto r = sign_node_signature(*st.signer, ns); !r)
    return r.err();
  return fin;
}

/// Every check a node makes on a final CTA before it keeps it.
result<void> check_final(artefact_manager_pointer self, const v1::FinalCta& fin) {
  auto& st = self->state;
  const auto& cta = fin.cta();
  const auto& ctsc = cta.ctsc();
  // Signed by the root: the root node's certificate is the last of this node's own chain.
  auto own = st.trust->own_chain(); // a copy: the view may rotate meanwhile
  const auto& root_cert = st.self == st.root ? own.front() : own.back();
  auto cta_hash = canonical_hash(cta);
  if (!cta_hash)
    return cta_hash.err();
  if (fin.root_signature().kind() != v1::ARTEFACT_KIND_CTA || fin.root_signature().signer() != st.root)
    return fail(errc::bad_signature, "the CTA is not signed by the root");
  if (auto r = verify_node_signature(fin.root_signature(), root_cert, *cta_hash); !r)
    return fail(errc::bad_signature, "the root's signature over the CTA: " + r.err().message);
  if (auto r = check_ctsc(ctsc, now_ms(), true); !r)
    return r;
  if (auto r = verify_chains(self, ctsc); !r)
    return r;
  auto ctsc_hash = canonical_hash(ctsc);
  if (!ctsc_hash)
    return ctsc_hash.err();
  if (cta.ctsas_size() != ctsc.peers_size() || cta.node_signatures_size() != ctsc.peers_size()
      || cta.so_decisions_size() != ctsc.peers_size())
    return fail(errc::malformed_input, "a final CTA has one CTSA, node signature and approval per peer");
  for (int i = 0; i < ctsc.peers_size(); ++i) {
    const auto& peer = ctsc.peers(i).fqdn();
    const auto& ctsa = cta.ctsas(i);
    if (ctsa.peer() != peer || ctsa.ctsc_uuid() != ctsc.uuid()
        || ctsa.ctsc_sha256() != std::string{ctsc_hash->begin(), ctsc_hash->end()})
      return fail(errc::malformed_input, "the CTSA of " + peer + " is not for this CTSC");
    if (auto r = check_ctsa(ctsa, ctsc); !r)
      return r;
    auto h = canonical_hash(ctsa);
    if (!h)
      return h.err();
    auto leaf = leaf_of(ctsc, peer);
    if (!leaf)
      return leaf.err();
    if (cta.node_signatures(i).signer() != peer)
      return fail(errc::bad_signature, "the CTSA of " + peer + " is signed by another node");
    if (auto r = verify_node_signature(cta.node_signatures(i), *leaf, *h); !r)
      return fail(errc::bad_signature, "the node signature of " + peer + ": " + r.err().message);
    const auto& d = cta.so_decisions(i);
    if (!d.approved() || d.peer() != peer || d.ctsa_sha256() != std::string{h->begin(), h->end()})
      return fail(errc::malformed_input, "the CTSA of " + peer + " is not approved as it stands");
  }
  bool named = false;
  for (const auto& p : ctsc.peers())
    named = named || p.fqdn() == st.self;
  for (const auto& cp : ctsc.computing_parties())
    named = named || cp.fqdn() == st.self;
  if (!named)
    return fail(errc::forbidden, "this node is not named in CTA " + ctsc.uuid());
  return ok();
}

/// At a peer or CP: the final CTA from the root.
void on_final(artefact_manager_pointer self, const std::string& origin, const std::string& payload) {
  auto& st = self->state;
  auto fin = proto::parse<v1::FinalCta>(payload, max_artefact);
  auto refuse = [&](const error& e) {
    log::warning(component, "final CTA from " + origin + " refused: " + e.message,
                 {{"reason", to_string(e.code)}});
    audit(self, "cta.final.refused", {"origin", origin, "reason", std::string{to_string(e.code)},
                                      "detail", e.message});
  };
  if (!fin)
    return refuse(fin.err());
  if (origin != st.root)
    return refuse(fail(errc::forbidden, "final CTAs come from the root only"));
  if (auto r = check_final(self, *fin); !r)
    return refuse(r.err());
  const auto& ctsc = fin->cta().ctsc();
  auto hash = canonical_hash(ctsc).value();
  auto existing = load(st.store, ctsc.uuid());
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
  if (auto r = save(st.store, record); !r)
    return refuse(r.err());
  auto cta_hash = crypto::hex(canonical_hash(fin->cta()).value());
  log::notice(component, "CTA " + ctsc.uuid() + " is final: " + ctsc.title(), {{"cta_sha256", cta_hash}});
  audit(self, "cta.final.stored", {"uuid", ctsc.uuid(), "cta_sha256", cta_hash});
  if (st.deployer)
    self->send(st.deployer, deploy_atom::value, ctsc.uuid());
}

/// Sends `payload` on `topic` to the root and returns the promise the root's answer (cta.accepted,
/// cta.ctsc or cta.refused with this request id) or the timeout will keep.
caf::typed_response_promise<std::string> ask_root(artefact_manager_pointer self,
                                                  const std::string& request_id, std::string topic,
                                                  std::string uuid, std::string payload) {
  auto& st = self->state;
  auto rp = self->make_response_promise<std::string>();
  st.pending.emplace(request_id, rp);
  self->delayed_send(self, registration_timeout, expire_atom::value, request_id);
  publish(self, std::move(topic), {st.root}, std::move(uuid), std::move(payload));
  return rp;
}

/// Every node that holds the CTA: its peers, and its CPs once it is final.
std::vector<std::string> holders(const v1::CtaRecord& record) {
  std::vector<std::string> to;
  for (const auto& p : record.ctsc().peers())
    to.push_back(p.fqdn());
  if (record.has_final())
    for (const auto& cp : record.ctsc().computing_parties())
      to.push_back(cp.fqdn());
  return to;
}

/// At the root: tells every holder the CTA's new status.
void publish_status(artefact_manager_pointer self, const v1::CtaRecord& record) {
  v1::StatusUpdate up;
  up.set_uuid(record.ctsc().uuid());
  up.set_status(record.status());
  up.set_counter(record.updates());
  up.set_last_changed_ms(record.last_changed_ms());
  up.set_reason(record.reason());
  publish(self, "cta.status", holders(record), record.ctsc().uuid(), proto::serialize(up));
}

/// At the root: cancels a CTA (status, audit, every holder told). Refused unless emerging or
/// instantiated.
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
  if (auto r = save(st.store, *rec); !r)
    return r.err();
  log::notice(component, "CTA " + uuid + " cancelled by " + by + ": " + reason);
  audit(self, "cta.cancelled", {"uuid", uuid, "by", by, "reason", reason});
  publish_status(self, *rec);
  return std::move(*rec);
}

/// At a peer's node: its Task Organiser cancels.
void on_cancel(artefact_manager_pointer self, const std::string& origin, const std::string& payload) {
  auto& st = self->state;
  auto req = proto::parse<v1::CancelRequest>(payload, 64 * 1024);
  if (!req)
    return;
  auto refuse = [&](const error& e) { reply_refused(self, origin, req->request_id(), req->uuid(), "cancellation", e); };
  if (st.self != st.root)
    return refuse(fail(errc::forbidden, "only the root cancels CTAs"));
  auto rec = load_held(st.store, req->uuid());
  if (!rec)
    return refuse(rec.err());
  bool peer = false;
  for (const auto& p : rec->ctsc().peers())
    peer = peer || p.fqdn() == origin;
  if (!peer)
    return refuse(fail(errc::forbidden, origin + " is not a peer of CTA " + req->uuid()));
  if (rec->status() == v1::CTA_STATUS_CANCELLED) { // handed over again after a restart
    v1::ArtefactAccepted again;
    again.set_request_id(req->request_id());
    again.set_uuid(req->uuid());
    again.set_status(std::string{to_string(v1::CTA_STATUS_CANCELLED)});
    publish(self, "cta.accepted", {origin}, req->uuid(), proto::serialize(again));
    return;
  }
  auto done = cancel_at_root(self, req->uuid(), req->reason(), req->by() + "@" + origin);
  if (!done)
    return refuse(done.err());
  v1::ArtefactAccepted accepted;
  accepted.set_request_id(req->request_id());
  accepted.set_uuid(req->uuid());
  accepted.set_updates(done->updates());
  accepted.set_status(std::string{to_string(done->status())});
  publish(self, "cta.accepted", {origin}, req->uuid(), proto::serialize(accepted));
}

/// At a holder: the root's status update (cancelled, erased).
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
  if (rec->status() == v1::CTA_STATUS_ERASED) {
    // Only the fact that the CTA existed remains (spec: erased after the retention time).
    auto uuid = rec->ctsc().uuid();
    auto title = rec->ctsc().title();
    rec->clear_ctsc();
    rec->mutable_ctsc()->set_uuid(uuid);
    rec->mutable_ctsc()->set_title(title);
    rec->clear_addenda();
    rec->clear_final();
    rec->clear_vms();
    rec->clear_telemetry();
  }
  if (auto r = save(st.store, *rec); !r)
    return log::error(component, "cannot store the status of CTA " + up->uuid() + ": " + r.err().message);
  auto status = std::string{to_string(rec->status())};
  log::notice(component, "CTA " + up->uuid() + " is " + status + ": " + up->reason());
  audit(self, "cta.status", {"uuid", up->uuid(), "status", status, "reason", up->reason()});
  if (st.deployer)
    self->send(st.deployer, changed_atom::value, up->uuid());
}

/// A CT report (cta.vm, cta.telemetry, cta.vms, cta.events) that is refused: nothing changes; logged
/// and audited.
void refuse_report(artefact_manager_pointer self, const std::string& topic, const std::string& origin,
                   const std::string& uuid, const error& err) {
  ++self->state.refused;
  log::warning(component, topic + " from " + origin + " refused: " + err.message,
               {{"reason", to_string(err.code)}, {"uuid", uuid}});
  audit(self, "cta.report.refused", {"topic", topic, "origin", origin, "uuid", uuid, "reason",
                                     std::string{to_string(err.code)}, "detail", err.message});
}

/// At the root: a CP's CT VM addresses (cta.vm). Kept (one entry per CP) and forwarded to every
/// holder of the CTA (cta.vms), also when handed over again, so that a forward lost in a crash is
/// made good; the holders keep it once.
void on_vm(artefact_manager_pointer self, const std::string& origin, const std::string& payload) {
  auto& st = self->state;
  auto vm = proto::parse<v1::VmEndpoint>(payload, max_ct_report_bytes);
  auto uuid = vm ? vm->uuid().substr(0, 64) : std::string{};
  auto refuse = [&](const error& e) { refuse_report(self, "cta.vm", origin, uuid, e); };
  if (!vm)
    return refuse(vm.err());
  if (st.self != st.root)
    return refuse(fail(errc::forbidden, "only the root collects the CT VMs' addresses"));
  auto rec = load_held(st.store, vm->uuid());
  if (!rec)
    return refuse(rec.err());
  if (auto r = check_vm_endpoint(*vm, *rec, origin); !r)
    return refuse(r.err());
  if (keep_vm_endpoint(*rec, *vm)) {
    if (auto r = save(st.store, *rec); !r)
      return refuse(r.err());
    log::info(component, "CT VM of " + origin + " for CTA " + uuid + " listens",
              {{"client", vm->client_address()}, {"peer", vm->peer_address()}, {"mpc", vm->mpc_address()},
               {"platform", vm->platform()}});
    audit(self, "cta.vm", {"uuid", uuid, "cp", origin, "cp_index", std::to_string(vm->cp_index()),
                           "client", vm->client_address(), "peer", vm->peer_address(), "mpc",
                           vm->mpc_address(), "platform", vm->platform()});
  }
  publish(self, "cta.vms", holders(*rec), uuid, payload);
}

/// At the root: an event of a CP's CT VM (cta.telemetry). Kept (the last max_telemetry_events) and
/// forwarded to every holder (cta.events). When every CP reported that its VM ended because the CT
/// finished, the CTA is finished and every holder is told.
void on_telemetry(artefact_manager_pointer self, const std::string& origin, const std::string& payload) {
  auto& st = self->state;
  auto ev = proto::parse<v1::TelemetryEvent>(payload, max_ct_report_bytes);
  auto uuid = ev ? ev->uuid().substr(0, 64) : std::string{};
  auto refuse = [&](const error& e) { refuse_report(self, "cta.telemetry", origin, uuid, e); };
  if (!ev)
    return refuse(ev.err());
  if (st.self != st.root)
    return refuse(fail(errc::forbidden, "only the root collects the CT VMs' events"));
  auto rec = load_held(st.store, ev->uuid());
  if (!rec)
    return refuse(rec.err());
  if (auto r = check_telemetry(*ev, *rec, origin); !r)
    return refuse(r.err());
  bool finished = false;
  if (keep_telemetry(*rec, *ev)) {
    if (rec->status() == v1::CTA_STATUS_INSTANTIATED && every_vm_finished(*rec)) {
      auto state = state_of(*rec);
      finished = state.finish(now_ms()).ok();
      if (finished)
        put_state(state, *rec);
    }
    if (auto r = save(st.store, *rec); !r)
      return refuse(r.err());
    if (ev->kind() == "erased" || ev->kind() == "vm")
      audit(self, "cta.vm.event", {"uuid", uuid, "cp", origin, "kind", ev->kind(), "subject",
                                   ev->subject(), "value", ev->value()});
  }
  publish(self, "cta.events", holders(*rec), uuid, payload);
  if (finished) {
    log::notice(component, "CTA " + uuid + " is finished: every CT VM ended with the task done");
    audit(self, "cta.finished", {"uuid", uuid});
    publish_status(self, *rec);
  } else if (rec->status() == v1::CTA_STATUS_INSTANTIATED && ev->kind() == "erased"
             && (((ev->subject() == "cancelled" || ev->subject() == "vm-exited") && !ct_in_output(*rec))
                 || every_vm_ended(*rec))) {
    // Before the Output phase a CT cannot go on without one of its VMs: never left half-alive
    // (DESIGN.md §4), so every other CP is told to tear its VM down too. From the Output phase on
    // the computation is done: the other VMs end the phase themselves when they lose the
    // counterpart (finished, what was not retrieved erased, as at the output deadline); the CT is
    // cancelled only if every VM ended and none with the task done.
    if (auto r = cancel_at_root(self, uuid, "the CT VM of " + origin + " ended (" + ev->subject() + ": "
                                              + ev->value() + ")",
                                origin);
        !r)
      log::warning(component, "cannot cancel CTA " + uuid + " after its VM at " + origin
                                + " ended: " + r.err().describe());
  }
}

/// At a holder: a CT VM's addresses the root forwards (cta.vms); the Deployment Operator learns them.
void on_vms(artefact_manager_pointer self, const std::string& origin, const std::string& payload) {
  auto& st = self->state;
  auto vm = proto::parse<v1::VmEndpoint>(payload, max_ct_report_bytes);
  auto uuid = vm ? vm->uuid().substr(0, 64) : std::string{};
  auto refuse = [&](const error& e) { refuse_report(self, "cta.vms", origin, uuid, e); };
  if (!vm)
    return refuse(vm.err());
  if (origin != st.root)
    return refuse(fail(errc::forbidden, "CT VM addresses come from the root only"));
  auto rec = load_held(st.store, vm->uuid());
  if (!rec)
    return refuse(rec.err());
  if (auto r = check_vm_endpoint(*vm, *rec, vm->cp()); !r)
    return refuse(r.err());
  if (!keep_vm_endpoint(*rec, *vm))
    return;
  if (auto r = save(st.store, *rec); !r)
    return refuse(r.err());
  log::info(component, "CT VM of " + vm->cp() + " for CTA " + uuid + " listens",
            {{"client", vm->client_address()}, {"peer", vm->peer_address()}});
  if (st.deployer)
    self->send(st.deployer, changed_atom::value, vm->uuid());
}

/// At a holder: a CT VM's event the root forwards (cta.events).
void on_events(artefact_manager_pointer self, const std::string& origin, const std::string& payload) {
  auto& st = self->state;
  auto ev = proto::parse<v1::TelemetryEvent>(payload, max_ct_report_bytes);
  auto uuid = ev ? ev->uuid().substr(0, 64) : std::string{};
  auto refuse = [&](const error& e) { refuse_report(self, "cta.events", origin, uuid, e); };
  if (!ev)
    return refuse(ev.err());
  if (origin != st.root)
    return refuse(fail(errc::forbidden, "CT VM events come from the root only"));
  auto rec = load_held(st.store, ev->uuid());
  if (!rec)
    return refuse(rec.err());
  if (auto r = check_telemetry(*ev, *rec, ev->cp()); !r)
    return refuse(r.err());
  if (!keep_telemetry(*rec, *ev))
    return;
  if (auto r = save(st.store, *rec); !r)
    return refuse(r.err());
}

/// At the root, every 10 s: CTAs that name a revoked node are cancelled; CTAs past their data
/// retention (after the output deadline, or after their cancellation) are erased everywhere.
void housekeeping(artefact_manager_pointer self) {
  auto& st = self->state;
  if (st.self != st.root)
    return;
  std::vector<v1::CtaRecord> records;
  {
    auto txn = st.store.env->begin_read();
    if (!txn)
      return;
    (void) txn->for_each(st.store.ctas, "", [&](std::string_view, std::string_view value) {
      if (auto rec = parse_cta_record(value))
        records.push_back(std::move(*rec));
      return true;
    });
  }
  auto now = now_ms();
  for (auto& rec : records) {
    const auto uuid = rec.ctsc().uuid(); // a copy: the record's CTSC is cleared below
    if (rec.status() == v1::CTA_STATUS_EMERGING || rec.status() == v1::CTA_STATUS_INSTANTIATED) {
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
      if (!revoked.empty())
        (void) cancel_at_root(self, uuid, "the certificate of " + revoked + " was revoked", "revocation");
      else if (rec.status() == v1::CTA_STATUS_EMERGING && now >= rec.ctsc().temporal().approval_deadline_ms())
        (void) cancel_at_root(self, uuid, "the approval deadline passed before every CTSA was approved",
                              "deadline");
      continue;
    }
    auto retention_ms = rec.ctsc().temporal().data_retention_s() * 1000;
    auto cancelled = rec.status() == v1::CTA_STATUS_CANCELLED;
    auto from = cancelled ? rec.last_changed_ms() : rec.ctsc().temporal().output_deadline_ms();
    if ((cancelled || rec.status() == v1::CTA_STATUS_FINISHED) && now > from + retention_ms) {
      auto state = state_of(rec);
      if (!state.erase(now))
        continue;
      put_state(state, rec);
      if (auto r = save(st.store, rec); !r)
        continue;
      audit(self, "cta.erased", {"uuid", uuid});
      publish_status(self, rec);
      // The root keeps only the fact that the CTA existed, too.
      rec.clear_addenda();
      rec.clear_final();
      rec.clear_vms();
      rec.clear_telemetry();
      auto title = rec.ctsc().title();
      rec.clear_ctsc();
      rec.mutable_ctsc()->set_uuid(uuid);
      rec.mutable_ctsc()->set_title(title);
      (void) save(st.store, rec);
    }
  }
}

/// Where a PAK registered for a CTA is kept.
std::string pak_key(const std::string& uuid, const std::string& pak) {
  auto h = crypto::sha256(crypto::to_bytes(pak));
  return uuid + std::string(1, '\0') + std::string{h.begin(), h.end()};
}

/// The PAKs registered at this node for a CTA.
std::vector<v1::PakRecord> paks_of(const node_store& store, const std::string& uuid) {
  std::vector<v1::PakRecord> out;
  auto txn = store.env->begin_read();
  if (!txn)
    return out;
  (void) txn->for_each(store.paks, uuid + std::string(1, '\0'), [&](std::string_view, std::string_view v) {
    if (auto rec = proto::parse<v1::PakRecord>(v, 64 * 1024))
      out.push_back(std::move(*rec));
    return true;
  });
  return out;
}

/// A CTSA names only PAKs registered for its own CTA at this node, each for keys it was registered
/// with; a CTSA that names none gets every registered one.
result<void> bind_paks(const node_store& store, v1::Ctsa& ctsa) {
  auto registered = paks_of(store, ctsa.ctsc_uuid());
  if (ctsa.data_custodians().empty() && ctsa.data_analysts().empty()) {
    for (const auto& p : registered) {
      if (p.custodian()) {
        auto* dc = ctsa.add_data_custodians();
        dc->set_name(p.name());
        dc->set_pak(p.pak());
        *dc->mutable_input_keys() = p.keys();
      } else {
        auto* da = ctsa.add_data_analysts();
        da->set_name(p.name());
        da->set_pak(p.pak());
        *da->mutable_output_keys() = p.keys();
      }
    }
    return ok();
  }
  auto check = [&](const std::string& name, const std::string& pak, bool custodian,
                   const google::protobuf::RepeatedPtrField<std::string>& keys) -> result<void> {
    for (const auto& p : registered)
      if (p.pak() == pak && p.custodian() == custodian) {
        for (const auto& k : keys)
          if (std::find(p.keys().begin(), p.keys().end(), k) == p.keys().end())
            return fail(errc::forbidden, "the PAK of " + name + " was not registered for " + k);
        return ok();
      }
    return fail(errc::forbidden, "the PAK of " + name + " is not registered for CTA " + ctsa.ctsc_uuid()
                                   + " as a " + (custodian ? "data custodian's" : "data analyst's")
                                   + " (a PAK is bound to one CTA: joconde pak create)");
  };
  for (const auto& dc : ctsa.data_custodians())
    if (auto r = check(dc.name(), dc.pak(), true, dc.input_keys()); !r)
      return r;
  for (const auto& da : ctsa.data_analysts())
    if (auto r = check(da.name(), da.pak(), false, da.output_keys()); !r)
      return r;
  return ok();
}

/// At a peer: the root accepted something this node sent.
void on_accepted(artefact_manager_pointer self, const std::string& origin, const std::string& payload) {
  auto& st = self->state;
  auto acc = proto::parse<v1::ArtefactAccepted>(payload, 64 * 1024);
  if (!acc || origin != st.root)
    return;
  if (auto i = st.pending.find(acc->request_id()); i != st.pending.end()) {
    i->second.deliver(nlohmann::json{{"uuid", acc->uuid()},
                                     {"peer", st.self},
                                     {"ctsa_sha256", crypto::hex(crypto::to_bytes(acc->artefact_sha256()))},
                                     {"updates", acc->updates()},
                                     {"status", acc->status()}}
                        .dump());
    st.pending.erase(i);
  }
}

/// At a peer, before it commits to a CTA (SYS-2.1): every other member confirmed out of band here
/// or overridden; a refusal is logged and audited, and nothing else happens.
result<void> check_members_trusted(artefact_manager_pointer self, const v1::CtaRecord& record,
                                   const std::string& user) {
  const auto& uuid = record.ctsc().uuid();
  auto members = assess_members(self->state.store, uuid, record.ctsc(), self->state.self);
  if (!members)
    return members.err();
  auto r = require_trusted(*members, uuid);
  if (!r) {
    std::string unconfirmed;
    for (const auto& m : *members)
      if (m.state == member_trust_state::unconfirmed)
        unconfirmed += (unconfirmed.empty() ? "" : " ") + m.fqdn + "=" + m.fingerprint;
    log::warning(component, "CTSA for CTA " + uuid + " not submitted: members unconfirmed here",
                 {{"reason", "unconfirmed_member"}, {"members", unconfirmed}, {"user", user}});
    audit(self, "cta.ctsa.untrusted", {"uuid", uuid, "organiser", user, "unconfirmed", unconfirmed});
  }
  return r;
}

/// The other members of a CTA as this node trusts them, for the CTA view.
nlohmann::json members_json(const std::vector<member_trust>& members) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& m : members) {
    nlohmann::json j{{"fqdn", m.fqdn},
                     {"role", m.computing ? "computing_party" : "peer"},
                     {"fingerprint", m.fingerprint},
                     {"trust", to_string(m.state)}};
    if (m.confirmed) {
      j["confirmed_at_ms"] = m.confirmed->at_ms;
      if (!m.confirmed->rotated_from.empty())
        j["rotated_from"] = m.confirmed->rotated_from;
    }
    if (m.override_record)
      j["override"] = {{"by", m.override_record->by()},
                       {"reason", m.override_record->reason()},
                       {"at_ms", m.override_record->at_ms()}};
    out.push_back(std::move(j));
  }
  return out;
}

nlohmann::json summary(const v1::CtaRecord& rec) {
  return {{"uuid", rec.ctsc().uuid()},
          {"title", rec.ctsc().title()},
          {"status", to_string(rec.status())},
          {"updates", rec.updates()},
          {"last_changed_ms", rec.last_changed_ms()},
          {"ctsc_sha256", crypto::hex(crypto::to_bytes(rec.ctsc_sha256()))},
          {"reason", rec.reason()}};
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
  self->send(self, tick_atom::value);
  return {
    [=](deliver_atom, const std::string& topic, const std::string& origin, const std::string& payload) {
      if (topic == "cta.ctsc.register")
        on_register(self, origin, payload);
      else if (topic == "cta.ctsc")
        on_registered(self, origin, payload);
      else if (topic == "cta.refused")
        on_refused(self, origin, payload);
      else if (topic == "cta.ctsa")
        on_ctsa(self, origin, payload);
      else if (topic == "cta.accepted")
        on_accepted(self, origin, payload);
      else if (topic == "cta.signature")
        on_signature(self, origin, payload);
      else if (topic == "cta.final")
        on_final(self, origin, payload);
      else if (topic == "cta.cancel")
        on_cancel(self, origin, payload);
      else if (topic == "cta.status")
        on_status(self, origin, payload);
      else if (topic == "cta.vm")
        on_vm(self, origin, payload);
      else if (topic == "cta.telemetry")
        on_telemetry(self, origin, payload);
      else if (topic == "cta.vms")
        on_vms(self, origin, payload);
      else if (topic == "cta.events")
        on_events(self, origin, payload);
      else
        log::warning(component, "unknown agreement topic " + topic + " from " + origin);
      return true;
    },
    [=](create_atom, const std::string& json, const std::string& user) -> caf::result<std::string> {
      auto& st = self->state;
      if (const auto& s = self->current_sender(); s == nullptr || s->node() != self->node())
        return make_error(errc::forbidden, "drafts come from this node's API only");
      v1::Ctsc ctsc;
      google::protobuf::util::JsonParseOptions opts;
      opts.ignore_unknown_fields = false;
      if (auto status = google::protobuf::util::JsonStringToMessage(json, &ctsc, opts); !status.ok())
        return make_error(errc::malformed_input, "the task file is not a CTSC: " + status.ToString());
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
    },
    [=](submit_atom, const std::string& uuid, const std::string& json,
        const std::string& user) -> caf::result<std::string> {
      auto& st = self->state;
      if (const auto& s = self->current_sender(); s == nullptr || s->node() != self->node())
        return make_error(errc::forbidden, "CTSAs come from this node's API only");
      auto rec = load_held(st.store, uuid);
      if (!rec)
        return to_caf(rec.err());
      auto& record = *rec;
      if (record.status() != v1::CTA_STATUS_EMERGING)
        return make_error(errc::invalid_state, "CTA " + uuid + " is " + std::string{to_string(record.status())}
                                                 + ": CTSAs are taken while it is emerging");
      if (auto r = check_members_trusted(self, record, user); !r)
        return to_caf(r.err());
      v1::Ctsa ctsa;
      google::protobuf::util::JsonParseOptions opts;
      opts.ignore_unknown_fields = false;
      if (auto status = google::protobuf::util::JsonStringToMessage(json, &ctsa, opts); !status.ok())
        return make_error(errc::malformed_input, "not a CTSA: " + status.ToString());
      if (!ctsa.ctsc_uuid().empty() || !ctsa.peer().empty() || !ctsa.ctsc_sha256().empty()
          || ctsa.version() != 0)
        return make_error(errc::malformed_input, "give signatories, data custodians and data "
                                                 "analysts only: the node fills in the rest");
      ctsa.set_ctsc_uuid(uuid);
      ctsa.set_peer(st.self);
      ctsa.set_ctsc_sha256(record.ctsc_sha256());
      ctsa.set_version(record.own_ctsa_version() + 1);
      ctsa.set_created_at_ms(now_ms());
      if (auto r = bind_paks(st.store, ctsa); !r)
        return to_caf(r.err());
      if (auto r = check_ctsa(ctsa, record.ctsc()); !r)
        return to_caf(r.err());
      auto hash = canonical_hash(ctsa);
      if (!hash)
        return to_caf(hash.err());
      v1::CtsaSubmission sub;
      sub.set_request_id(crypto::hex(crypto::random_bytes(16)));
      auto& ns = *sub.mutable_node_signature();
      ns.set_signer(st.self);
      ns.set_signer_fingerprint(st.trust->own_chain().front().fingerprint());
      ns.set_kind(v1::ARTEFACT_KIND_CTSA);
      ns.set_artefact_sha256(std::string{hash->begin(), hash->end()});
      ns.set_signed_at_ms(now_ms());
      if (auto r = sign_node_signature(*st.signer, ns); !r)
        return to_caf(r.err());
      *sub.mutable_ctsa() = ctsa;
      // The version is used up whatever the root answers: a retry is a newer version.
      record.set_own_ctsa_version(ctsa.version());
      auto& mine = addendum_entry(record, st.self);
      *mine.mutable_ctsa() = ctsa;
      *mine.mutable_node_signature() = ns;
      mine.set_ctsa_sha256(std::string{hash->begin(), hash->end()});
      mine.set_status("submitted");
      if (auto r = save(st.store, record); !r)
        return to_caf(r.err());
      audit(self, "cta.ctsa.signed", {"uuid", uuid, "version", std::to_string(ctsa.version()),
                                      "organiser", user, "ctsa_sha256", crypto::hex(*hash)});
      return ask_root(self, sub.request_id(), "cta.ctsa", uuid, proto::serialize(sub));
    },
    [=](countersign_atom, const std::string& uuid, const std::string& json,
        const std::string& user) -> caf::result<std::string> {
      auto& st = self->state;
      if (const auto& s = self->current_sender(); s == nullptr || s->node() != self->node())
        return make_error(errc::forbidden, "signatures come from this node's API only");
      auto rec = load_held(st.store, uuid);
      if (!rec)
        return to_caf(rec.err());
      const v1::AddendumRecord* mine = nullptr;
      for (const auto& a : rec->addenda())
        if (a.peer() == st.self)
          mine = &a;
      if (mine == nullptr || mine->ctsa_sha256().empty())
        return make_error(errc::invalid_state, "this node has not submitted a CTSA for CTA " + uuid);
      auto body = nlohmann::json::parse(json, nullptr, false);
      if (!body.is_object() || !body.contains("signatory") || !body["signatory"].is_number_unsigned()
          || !body.contains("document") || !body["document"].is_object())
        return make_error(errc::malformed_input,
                          "give {\"signatory\": INDEX, \"document\": {name, media_type, data}}");
      auto index = body["signatory"].get<uint64_t>();
      if (index >= static_cast<uint64_t>(mine->ctsa().signatories_size()))
        return make_error(errc::malformed_input, "the CTSA names " + std::to_string(mine->ctsa().signatories_size())
                                                   + " signatories; there is no index " + std::to_string(index));
      v1::SignatorySubmission sub;
      sub.set_request_id(crypto::hex(crypto::random_bytes(16)));
      auto& sig = *sub.mutable_signature();
      google::protobuf::util::JsonParseOptions opts;
      opts.ignore_unknown_fields = false;
      if (auto status = google::protobuf::util::JsonStringToMessage(body["document"].dump(),
                                                                     sig.mutable_document(), opts);
          !status.ok())
        return make_error(errc::malformed_input, "not a document: " + status.ToString());
      if (sig.document().name().empty() || sig.document().content_case() == v1::Document::CONTENT_NOT_SET)
        return make_error(errc::malformed_input, "the document needs a name and its data");
      sig.set_peer(st.self);
      sig.set_ctsa_sha256(mine->ctsa_sha256());
      sig.set_signatory(static_cast<uint32_t>(index));
      sig.set_signed_at_ms(now_ms());
      audit(self, "cta.signature.sent", {"uuid", uuid, "signatory", std::to_string(index), "user", user,
                                         "document", sig.document().name()});
      return ask_root(self, sub.request_id(), "cta.signature", uuid, proto::serialize(sub));
    },
    [=](decide_atom, const std::string& uuid, const std::string& peer_name, bool approve,
        const std::string& reason, const std::string& user) -> caf::result<std::string> {
      auto& st = self->state;
      if (const auto& s = self->current_sender(); s == nullptr || s->node() != self->node())
        return make_error(errc::forbidden, "decisions come from this node's API only");
      if (st.self != st.root)
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
      std::optional<v1::FinalCta> fin;
      if (state.status() == v1::CTA_STATUS_INSTANTIATED) {
        auto made = make_final(self, record);
        if (!made)
          return to_caf(made.err());
        fin = std::move(*made);
        *record.mutable_final() = *fin;
      }
      if (auto r = save(st.store, record); !r)
        return to_caf(r.err());
      audit(self, approve ? "cta.ctsa.approved" : "cta.ctsa.rejected",
            {"uuid", uuid, "peer", peer, "approver", user, "ctsa_sha256", ctsa_hash, "reason", reason});
      if (fin) {
        std::vector<std::string> to;
        for (const auto& p : record.ctsc().peers())
          to.push_back(p.fqdn());
        for (const auto& cp : record.ctsc().computing_parties())
          to.push_back(cp.fqdn());
        auto cta_hash = crypto::hex(crypto::to_bytes(fin->root_signature().artefact_sha256()));
        log::notice(component, "CTA " + uuid + " is final", {{"cta_sha256", cta_hash}});
        audit(self, "cta.final", {"uuid", uuid, "cta_sha256", cta_hash});
        publish(self, "cta.final", std::move(to), uuid, proto::serialize(*fin));
      }
      return nlohmann::json{{"uuid", uuid},
                            {"peer", peer},
                            {"decision", approve ? "approved" : "rejected"},
                            {"status", to_string(record.status())}}
        .dump();
    },
    [=](cancel_atom, const std::string& uuid, const std::string& reason,
        const std::string& user) -> caf::result<std::string> {
      auto& st = self->state;
      if (const auto& s = self->current_sender(); s == nullptr || s->node() != self->node())
        return make_error(errc::forbidden, "cancellations come from this node's API only");
      if (reason.empty())
        return make_error(errc::malformed_input, "a cancellation says why");
      if (st.self == st.root) {
        auto done = cancel_at_root(self, uuid, reason, user + " (System Operator)");
        if (!done)
          return to_caf(done.err());
        return nlohmann::json{{"uuid", uuid}, {"status", to_string(done->status())}, {"reason", reason}}.dump();
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
    },
    [=](pak_atom, const std::string& uuid, const std::string& json, const std::string& user,
        bool custodian) -> caf::result<std::string> {
      auto& st = self->state;
      if (const auto& s = self->current_sender(); s == nullptr || s->node() != self->node())
        return make_error(errc::forbidden, "PAKs come from this node's API only");
      auto rec = load_held(st.store, uuid);
      if (!rec)
        return to_caf(rec.err());
      if (rec->status() != v1::CTA_STATUS_EMERGING)
        return make_error(errc::invalid_state, "CTA " + uuid + " is " + std::string{to_string(rec->status())});
      bool peer = false;
      for (const auto& p : rec->ctsc().peers())
        peer = peer || p.fqdn() == st.self;
      if (!peer)
        return make_error(errc::forbidden, "this node is not a peer of CTA " + uuid);
      // The body is a DataCustodian or a DataAnalyst in Protobuf's JSON form (pak in base64).
      v1::PakRecord pak;
      google::protobuf::util::JsonParseOptions opts;
      opts.ignore_unknown_fields = false;
      v1::Ctsa probe;
      probe.set_ctsc_uuid(uuid);
      probe.set_peer(st.self);
      probe.add_signatories()->set_name("-");
      if (custodian) {
        v1::DataCustodian dc;
        if (auto status = google::protobuf::util::JsonStringToMessage(json, &dc, opts); !status.ok())
          return make_error(errc::malformed_input, "give {name, pak, input_keys}: " + status.ToString());
        pak.set_name(dc.name());
        pak.set_pak(dc.pak());
        *pak.mutable_keys() = dc.input_keys();
        *probe.add_data_custodians() = dc;
      } else {
        v1::DataAnalyst da;
        if (auto status = google::protobuf::util::JsonStringToMessage(json, &da, opts); !status.ok())
          return make_error(errc::malformed_input, "give {name, pak, output_keys}: " + status.ToString());
        pak.set_name(da.name());
        pak.set_pak(da.pak());
        *pak.mutable_keys() = da.output_keys();
        *probe.add_data_analysts() = da;
      }
      if (pak.name().empty() || pak.keys().empty())
        return make_error(errc::malformed_input, "a PAK is registered with a name and at least one key");
      // The same checks as in a CTSA (P-256, keys of this peer), except coverage.
      if (auto r = check_ctsa(probe, rec->ctsc(), false); !r)
        return to_caf(r.err());
      pak.set_uuid(uuid);
      pak.set_custodian(custodian);
      pak.set_registered_by(user);
      pak.set_registered_at_ms(now_ms());
      auto txn = st.store.env->begin_write();
      if (!txn)
        return to_caf(txn.err());
      if (auto r = txn->put(st.store.paks, pak_key(uuid, pak.pak()), proto::serialize(pak)); !r)
        return to_caf(r.err());
      if (auto r = txn->commit(); !r)
        return to_caf(r.err());
      auto h = crypto::hex(crypto::sha256(crypto::to_bytes(pak.pak())));
      audit(self, "cta.pak.registered", {"uuid", uuid, "name", pak.name(), "by", user, "pak_sha256", h,
                                         "role", custodian ? "data_custodian" : "data_analyst"});
      nlohmann::json keys = nlohmann::json::array();
      for (const auto& k : pak.keys())
        keys.push_back(k);
      return nlohmann::json{{"uuid", uuid}, {"pak_sha256", h}, {"name", pak.name()}, {"keys", keys}}.dump();
    },
    [=](override_atom, const std::string& uuid, const std::string& member, const std::string& reason,
        const std::string& user) -> caf::result<std::string> {
      auto& st = self->state;
      if (const auto& s = self->current_sender(); s == nullptr || s->node() != self->node())
        return make_error(errc::forbidden, "overrides come from this node's API only");
      auto rec = load_held(st.store, uuid);
      if (!rec)
        return to_caf(rec.err());
      auto made = record_override(st.store, *rec, st.self, member, reason, user, now_ms());
      if (!made)
        return to_caf(made.err());
      log::warning(component, "trust override: CTA " + uuid + " may go on with " + member
                                + " unconfirmed",
                   {{"user", user}, {"fingerprint", made->fingerprint()}, {"why", reason}});
      audit(self, "cta.trust.override", {"uuid", uuid, "member", member, "fingerprint",
                                         made->fingerprint(), "user", user, "reason", reason});
      return nlohmann::json{{"uuid", uuid},          {"member", member},
                            {"fingerprint", made->fingerprint()}, {"reason", made->reason()},
                            {"by", made->by()},       {"at_ms", made->at_ms()}}
        .dump();
    },
    [=](tick_atom) {
      housekeeping(self);
      self->delayed_send(self, std::chrono::seconds{10}, tick_atom::value);
    },
    [=](expire_atom, const std::string& request_id) {
      auto& st = self->state;
      if (auto i = st.pending.find(request_id); i != st.pending.end()) {
        i->second.deliver(make_error(errc::timeout, "the root did not answer within 30 s; the draft "
                                                    "may still be registered (see the CTA list)"));
        st.pending.erase(i);
      }
    },
    [=](query_atom, const std::string& uuid) -> caf::result<std::string> {
      auto& st = self->state;
      if (uuid.empty()) {
        auto txn = st.store.env->begin_read();
        if (!txn)
          return to_caf(txn.err());
        nlohmann::json list = nlohmann::json::array();
        auto r = txn->for_each(st.store.ctas, "", [&](std::string_view, std::string_view value) {
          if (auto rec = parse_cta_record(value))
            list.push_back(summary(*rec));
          return true;
        });
        if (!r)
          return to_caf(r.err());
        return nlohmann::json{{"ctas", list}}.dump();
      }
      auto rec = load_held(st.store, uuid);
      if (!rec)
        return to_caf(rec.err());
      // Certificates are shown by fingerprint (SHA-256 of the DER, as `joconde-node fingerprint`
      // prints it), not as base64 DER.
      auto shown = rec->ctsc();
      nlohmann::json fingerprints = nlohmann::json::object();
      auto take = [&](const std::string& fqdn, v1::CertificateChain* chain) {
        nlohmann::json fps = nlohmann::json::array();
        for (const auto& der : chain->certificates())
          fps.push_back(crypto::fingerprint(crypto::to_bytes(der)));
        fingerprints[fqdn] = fps;
      };
      for (auto& p : *shown.mutable_peers()) {
        take(p.fqdn(), p.mutable_chain());
        p.clear_chain();
      }
      for (auto& cp : *shown.mutable_computing_parties()) {
        take(cp.fqdn(), cp.mutable_chain());
        cp.clear_chain();
      }
      std::string ctsc_json;
      google::protobuf::util::JsonPrintOptions opts;
      opts.preserve_proto_field_names = true;
      (void) google::protobuf::util::MessageToJsonString(shown, &ctsc_json, opts);
      auto doc = summary(*rec);
      doc["ctsc"] = nlohmann::json::parse(ctsc_json, nullptr, false);
      doc["certificate_fingerprints"] = fingerprints;
      // SYS-2.1: each other member as this node trusts it, the SO's certificate notwithstanding.
      auto members = assess_members(st.store, uuid, rec->ctsc(), st.self);
      if (!members)
        return to_caf(members.err());
      doc["members"] = members_json(*members);
      nlohmann::json addenda = nlohmann::json::array();
      for (const auto& a : rec->addenda())
        addenda.push_back({{"peer", a.peer()},
                           {"status", a.status()},
                           {"version", a.ctsa().version()},
                           {"ctsa_sha256", crypto::hex(crypto::to_bytes(a.ctsa_sha256()))},
                           {"signatories", a.ctsa().signatories_size()},
                           {"data_custodians", a.ctsa().data_custodians_size()},
                           {"data_analysts", a.ctsa().data_analysts_size()},
                           {"signed_by_node", a.node_signature().signer()},
                           {"signatures", a.signed_by_size()},
                           {"reason", a.reason()}});
      if (addenda.empty() && rec->has_final()) {
        // A CP (or a peer) that holds only the final CTA: the approved CTSAs as the root signed them.
        const auto& cta = rec->final().cta();
        for (int i = 0; i < cta.ctsas_size(); ++i) {
          const auto& c = cta.ctsas(i);
          auto h = canonical_hash(c);
          addenda.push_back(nlohmann::json{{"peer", c.peer()},
                             {"status", "approved"},
                             {"version", c.version()},
                             {"ctsa_sha256", h ? crypto::hex(*h) : std::string{}},
                             {"signatories", c.signatories_size()},
                             {"data_custodians", c.data_custodians_size()},
                             {"data_analysts", c.data_analysts_size()},
                             {"signed_by_node", i < cta.node_signatures_size() ? cta.node_signatures(i).signer()
                                                                               : std::string{}}});
        }
      }
      doc["addenda"] = addenda;
      if (rec->has_final()) {
        doc["final"] = true;
        doc["cta_sha256"] = crypto::hex(crypto::to_bytes(rec->final().root_signature().artefact_sha256()));
        doc["signed_by_root"] = rec->final().root_signature().signer();
      } else {
        doc["final"] = false;
      }
      doc["vms"] = vms_json(*rec);
      doc["telemetry"] = telemetry_json(*rec);
      return doc.dump();
    },
    [=](connect_atom, deployment_operator_actor deployer) {
      self->state.deployer = std::move(deployer);
    },
    [=](status_atom) -> std::string {
      auto& st = self->state;
      return nlohmann::json{{"pending_drafts", st.pending.size()},
                            {"registered", st.registered},
                            {"refused", st.refused}}
        .dump();
    },
  };
}

} // namespace joconde
