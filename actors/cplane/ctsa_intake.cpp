#include "ctsa_intake.hpp"

#include "artefact_ports.hpp"
#include "artefact_signatures.hpp"
#include "cta_records.hpp"
#include "ctsc_rules.hpp"
#include "member_trust.hpp"
#include "personal_data.hpp"

#include "joconde/messages/caf_error.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/runtime/canonical_hash.hpp"
#include "joconde/runtime/clock.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/log.hpp"


#include <algorithm>
#include <optional>

namespace joconde {

namespace {

const char* const component = artefact_manager_state::name;

std::string as_string(const crypto::bytes& b) {
  return {b.begin(), b.end()};
}

// -- PAKs ---------------------------------------------------------------------------------------------

/// Where a PAK registered for a CTA is kept.
std::string pak_key(const std::string& uuid, const std::string& pak) {
  auto h = crypto::sha256(crypto::to_bytes(pak));
  return uuid + std::string(1, '\0') + as_string(h);
}

/// The PAKs registered at this node for a CTA.
std::vector<v1::PakRecord> paks_of(const node_store& store, const std::string& uuid) {
  std::vector<v1::PakRecord> out;
  auto txn = store.env->begin_read();
  if (!txn) {
    log::error(component, "cannot read the PAKs of CTA " + uuid + ": " + txn.err().describe());
    return out;
  }
  auto r = txn->for_each(store.paks, uuid + std::string(1, '\0'), [&](std::string_view, std::string_view v) {
    if (auto rec = proto::parse<v1::PakRecord>(v, 64 * 1024))
      out.push_back(std::move(*rec));
    return true;
  });
  if (!r)
    log::error(component, "cannot read the PAKs of CTA " + uuid + ": " + r.err().describe());
  return out;
}

/// Names the person a PAK was registered for in `ctsa`, as a data custodian or analyst.
void add_person(const v1::PakRecord& p, v1::Ctsa& ctsa) {
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

/// A CTSA names only PAKs registered for its own CTA at this node, each for keys it was registered
/// with; a CTSA that names none gets every registered one.
result<void> bind_paks(const node_store& store, v1::Ctsa& ctsa) {
  auto registered = paks_of(store, ctsa.ctsc_uuid());
  if (ctsa.data_custodians().empty() && ctsa.data_analysts().empty()) {
    for (const auto& p : registered)
      add_person(p, ctsa);
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

// -- at the peer -------------------------------------------------------------------------------------

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

/// At a peer whose key rotated since the CTSC was registered: the rotation notices that lead from
/// the certificate the CTSC names for it to the one it signs with now (spec §4.4.2.3: an existing
/// CTSA may be signed after a rotation); empty when it has not rotated.
result<std::vector<std::string>> rotations_since_ctsc(artefact_manager_state& st, const v1::Ctsc& ctsc) {
  auto named = leaf_of(ctsc, st.self);
  if (!named)
    return named.err();
  auto own = st.trust->own_chain().front().fingerprint();
  if (own == named->fingerprint())
    return std::vector<std::string>{};
  auto txn = st.store.env->begin_read();
  if (!txn)
    return txn.err();
  return rotation_path(*txn, st.store, named->fingerprint(), own);
}

// -- at the root -------------------------------------------------------------------------------------

/// At the root: every check on `origin`'s CTSA submission for the CTA of `record`; the CTSA's
/// canonical hash.
result<crypto::bytes> check_submission(trust_view& trust, const std::string& origin,
                                       const v1::CtsaSubmission& sub, const v1::CtaRecord& record) {
  const auto& ctsa = sub.ctsa();
  // The SO checks who signs and who is given access: the root takes a CTSA in full.
  auto committed = [](const v1::Ctsa& c) {
    for (const auto& s : c.signatories())
      if (!s.commitment().empty())
        return true;
    for (const auto& dc : c.data_custodians())
      if (!dc.name_commitment().empty())
        return true;
    for (const auto& da : c.data_analysts())
      if (!da.name_commitment().empty())
        return true;
    return false;
  };
  if (committed(ctsa))
    return fail(errc::malformed_input, "the root takes a CTSA in full: it carries a commitment in place of a person");
  if (ctsa.ctsc_sha256() != record.ctsc_sha256())
    return fail(errc::malformed_input,
                "the CTSA pins CTSC hash " + crypto::hex(crypto::to_bytes(ctsa.ctsc_sha256()))
                  + ", but CTA " + ctsa.ctsc_uuid() + " has "
                  + crypto::hex(crypto::to_bytes(record.ctsc_sha256())));
  auto hash = ctsa_hash(ctsa);
  if (!hash)
    return hash.err();
  auto leaf = leaf_of(record.ctsc(), origin);
  if (!leaf)
    return leaf.err();
  if (sub.node_signature().signer() != origin)
    return fail(errc::bad_signature, "the CTSA of " + origin + " is signed by another node");
  if (auto r = verify_member_signature(trust, sub.node_signature(), *leaf, *hash); !r)
    return fail(errc::bad_signature, "the node signature of " + origin + "'s CTSA: " + r.err().message);
  if (auto r = check_ctsa(ctsa, record.ctsc()); !r)
    return r.err();
  return std::move(*hash);
}

} // namespace

caf::result<cta_receipt> submit_ctsa(artefact_manager_pointer self, v1::CtaRecord record,
                                     const proto_bytes<v1::Ctsa>& given, const std::string& user) {
  auto& st = self->state;
  const auto uuid = record.ctsc().uuid();
  if (record.status() != v1::CTA_STATUS_EMERGING)
    return make_error(errc::invalid_state, "CTA " + uuid + " is " + std::string{to_string(record.status())}
                                             + ": CTSAs are taken while it is emerging");
  if (auto r = check_members_trusted(self, record, user); !r)
    return to_caf(r.err());
  auto parsed = proto::parse(given, max_artefact_bytes);
  if (!parsed)
    return to_caf(parsed.err());
  auto& ctsa = *parsed;
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
  // Each person's data gets its salt: other nodes get a commitment in its place (personal_data.hpp).
  salt_personal(ctsa);
  if (auto r = check_ctsa(ctsa, record.ctsc()); !r)
    return to_caf(r.err());
  auto hash = ctsa_hash(ctsa);
  if (!hash)
    return to_caf(hash.err());
  auto rotations = rotations_since_ctsc(st, record.ctsc());
  if (!rotations)
    return to_caf(rotations.err());
  auto ns = make_node_signature(*st.signer, *st.trust, v1::ARTEFACT_KIND_CTSA, *hash, *rotations);
  if (!ns)
    return to_caf(ns.err());
  v1::CtsaSubmission sub;
  sub.set_request_id(crypto::hex(crypto::random_bytes(16)));
  *sub.mutable_node_signature() = *ns;
  *sub.mutable_ctsa() = ctsa;
  // The version is used up whatever the root answers: a retry is a newer version.
  record.set_own_ctsa_version(ctsa.version());
  auto& mine = addendum_entry(record, st.self);
  *mine.mutable_ctsa() = ctsa;
  *mine.mutable_node_signature() = *ns;
  mine.set_ctsa_sha256(as_string(*hash));
  mine.set_status(std::string{to_string(addendum_status::submitted)});
  if (auto r = save_cta_record(st.store, record); !r)
    return to_caf(r.err());
  audit(self, "cta.ctsa.signed", {"uuid", uuid, "version", std::to_string(ctsa.version()),
                                  "organiser", user, "ctsa_sha256", crypto::hex(*hash)});
  return ask_root(self, sub.request_id(), "cta.ctsa", uuid, proto::serialize(sub));
}

caf::result<cta_receipt> countersign(artefact_manager_pointer self, const v1::CtaRecord& record,
                                     const proto_bytes<v1::SignatorySignature>& given,
                                     const std::string& user) {
  auto& st = self->state;
  const auto& uuid = record.ctsc().uuid();
  const v1::AddendumRecord* mine = nullptr;
  for (const auto& a : record.addenda())
    if (a.peer() == st.self)
      mine = &a;
  if (mine == nullptr || mine->ctsa_sha256().empty())
    return make_error(errc::invalid_state, "this node has not submitted a CTSA for CTA " + uuid);
  auto parsed = proto::parse(given, max_artefact_bytes);
  if (!parsed)
    return to_caf(parsed.err());
  auto index = parsed->signatory();
  if (index >= static_cast<uint32_t>(mine->ctsa().signatories_size()))
    return make_error(errc::malformed_input, "the CTSA names "
                                               + std::to_string(mine->ctsa().signatories_size())
                                               + " signatories; there is no index " + std::to_string(index));
  v1::SignatorySubmission sub;
  sub.set_request_id(crypto::hex(crypto::random_bytes(16)));
  auto& sig = *sub.mutable_signature();
  *sig.mutable_document() = parsed->document();
  if (sig.document().name().empty() || sig.document().content_case() == v1::Document::CONTENT_NOT_SET)
    return make_error(errc::malformed_input, "the document needs a name and its data");
  sig.set_peer(st.self);
  sig.set_ctsa_sha256(mine->ctsa_sha256());
  sig.set_signatory(index);
  sig.set_signed_at_ms(now_ms());
  salt_personal(sig);
  audit(self, "cta.signature.sent", {"uuid", uuid, "signatory", std::to_string(index), "user", user,
                                     "document", sig.document().name()});
  // Answers that never come (the root down for longer than the caller waits) leave entries here: a
  // bound keeps them from piling up; the root's view stays the authority.
  if (st.sent_signatures.size() >= 1024)
    st.sent_signatures.clear();
  st.sent_signatures[sub.request_id()] = sig.SerializeAsString();
  return ask_root(self, sub.request_id(), "cta.signature", uuid, proto::serialize(sub));
}

caf::result<proto_bytes<v1::PakRecord>> register_pak(artefact_manager_pointer self, const v1::CtaRecord& record,
                                      const proto_bytes<v1::PakRecord>& given, const std::string& user) {
  auto& st = self->state;
  const auto& uuid = record.ctsc().uuid();
  if (record.status() != v1::CTA_STATUS_EMERGING)
    return make_error(errc::invalid_state, "CTA " + uuid + " is " + std::string{to_string(record.status())});
  if (!is_peer(record.ctsc(), st.self))
    return make_error(errc::forbidden, "this node is not a peer of CTA " + uuid);
  auto pak = proto::parse(given, 64 * 1024);
  if (!pak)
    return to_caf(pak.err());
  bool custodian = pak->custodian();
  if (pak->name().empty() || pak->keys().empty())
    return make_error(errc::malformed_input, "a PAK is registered with a name and at least one key");
  // The person as a CTSA would name them.
  v1::Ctsa probe;
  probe.set_ctsc_uuid(uuid);
  probe.set_peer(st.self);
  probe.add_signatories()->set_name("-");
  add_person(*pak, probe);
  // The same checks as in a CTSA (P-256, keys of this peer), except coverage.
  if (auto r = check_ctsa(probe, record.ctsc(), false); !r)
    return to_caf(r.err());
  pak->set_uuid(uuid);
  pak->set_registered_by(user);
  pak->set_registered_at_ms(now_ms());
  auto txn = st.store.env->begin_write();
  if (!txn)
    return to_caf(txn.err());
  if (auto r = txn->put(st.store.paks, pak_key(uuid, pak->pak()), proto::serialize(*pak)); !r)
    return to_caf(r.err());
  if (auto r = txn->commit(); !r)
    return to_caf(r.err());
  auto h = crypto::hex(crypto::sha256(crypto::to_bytes(pak->pak())));
  audit(self, "cta.pak.registered", {"uuid", uuid, "by", user, "pak_sha256", h,
                                     "role", custodian ? "data_custodian" : "data_analyst"});
  return proto::wrap(*pak);
}

caf::result<proto_bytes<v1::TrustOverride>> override_member(artefact_manager_pointer self, const v1::CtaRecord& record,
                                         const std::string& member, const std::string& reason,
                                         const std::string& user) {
  auto& st = self->state;
  const auto& uuid = record.ctsc().uuid();
  auto made = record_override(st.store, record, st.self, member, reason, user, now_ms());
  if (!made)
    return to_caf(made.err());
  log::warning(component, "trust override: CTA " + uuid + " may go on with " + member + " unconfirmed",
               {{"user", user}, {"fingerprint", made->fingerprint()}, {"why", reason}});
  audit(self, "cta.trust.override", {"uuid", uuid, "member", member, "fingerprint",
                                     made->fingerprint(), "user", user, "reason", reason});
  return proto::wrap(*made);
}

void on_ctsa(artefact_manager_pointer self, const std::string& origin, const std::string& payload) {
  auto& st = self->state;
  v1::CtsaSubmission sub;
  if (!read_artefact("CTSA", origin, payload, sub))
    return;
  const auto& ctsa = sub.ctsa();
  const auto& ns = sub.node_signature();
  const auto& uuid = ctsa.ctsc_uuid();
  auto refuse = [&](const error& e) { reply_refused(self, origin, sub.request_id(), uuid, "CTSA", e); };
  if (!st.at_root())
    return refuse(fail(errc::forbidden, "only the root collects CTSAs"));
  if (ctsa.peer() != origin || ns.signer() != origin)
    return refuse(fail(errc::forbidden, origin + " may send and sign its own CTSA only"));
  if (ns.kind() != v1::ARTEFACT_KIND_CTSA)
    return refuse(fail(errc::bad_signature, "the node signature is not over a CTSA"));
  if (!is_uuid(uuid))
    return refuse(fail(errc::malformed_input, "the CTSA names no valid CTA uuid"));
  auto rec = load_cta_record(st.store, uuid);
  if (!rec)
    return refuse(rec.err());
  if (!rec->has_value())
    return refuse(fail(errc::not_found, "there is no CTA " + uuid));
  auto& record = **rec;
  auto checked = check_submission(*st.trust, origin, sub, record);
  if (!checked)
    return refuse(checked.err());
  auto hash = as_string(*checked);
  auto hash_hex = crypto::hex(*checked);
  auto state = state_of(record);
  auto answer_accepted = [&] {
    reply_accepted(self, origin, sub.request_id(), uuid, hash, state.updates(),
                   std::string{to_string(state.status())});
  };
  // The same CTSA handed over again after a restart: accepted already.
  for (const auto& a : record.addenda())
    if (a.peer() == origin && a.ctsa_sha256() == hash)
      return answer_accepted();
  if (auto r = state.submit_addendum(origin, ctsa.version(), hash_hex,
                                     crypto::hex(crypto::to_bytes(record.ctsc_sha256())),
                                     static_cast<size_t>(ctsa.signatories_size()), now_ms());
      !r)
    return refuse(r.err());
  auto& entry = addendum_entry(record, origin);
  *entry.mutable_ctsa() = ctsa;
  *entry.mutable_node_signature() = ns;
  entry.set_ctsa_sha256(hash);
  entry.set_status(std::string{to_string(state.addenda().at(origin).status)});
  // The signatories signed the version this one replaces: their signatures (and documents) go with
  // it, and the new version is signed again.
  entry.clear_signed_by();
  entry.clear_signatures();
  entry.clear_reason();
  put_state(state, record);
  if (auto r = check_cta_budget(record, "CTSA"); !r)
    return refuse(r.err());
  if (auto r = save_cta_record(st.store, record); !r)
    return refuse(r.err());
  log::info(component, "CTSA version " + std::to_string(ctsa.version()) + " of " + origin
                         + " stored for CTA " + uuid,
            {{"ctsa_sha256", hash_hex}});
  audit(self, "cta.ctsa.accepted", {"uuid", uuid, "peer", origin, "version",
                                    std::to_string(ctsa.version()), "ctsa_sha256", hash_hex});
  share_agreement_event(self, record, origin,
                        "CTSA version " + std::to_string(ctsa.version()) + " submitted (SHA-256 "
                          + hash_hex.substr(0, 16) + ")");
  answer_accepted();
}

void on_signature(artefact_manager_pointer self, const std::string& origin, const std::string& payload) {
  v1::SignatorySubmission sub;
  if (!read_artefact("signatory signature", origin, payload, sub))
    return;
  auto& st = self->state;
  const auto& sig = sub.signature();
  // The CTA is named by the CTSA the signature is over; find it among the stored ones.
  auto uuid = find_cta_of_ctsa(st.store, origin, sig.ctsa_sha256());
  auto refuse = [&](const error& e) {
    reply_refused(self, origin, sub.request_id(), uuid, "signatory signature", e);
  };
  if (!st.at_root())
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
  // The SO checks the document itself: the root takes it in full, with a well-formed salt.
  if (!sig.document_commitment().empty())
    return refuse(fail(errc::malformed_input, "the root takes a signature document in full, not committed"));
  auto copy = sig;
  if (auto r = commit_personal(copy); !r)
    return refuse(r.err());
  auto state = state_of(record);
  // The same signature handed over again after a restart: accepted already.
  for (const auto& a : record.addenda())
    if (a.peer() == origin)
      for (const auto& known : a.signatures())
        if (known.SerializeAsString() == sig.SerializeAsString())
          return reply_accepted(self, origin, sub.request_id(), uuid, sig.ctsa_sha256(), state.updates(),
                                a.status());
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
  if (auto r = save_cta_record(st.store, record); !r)
    return refuse(r.err());
  audit(self, "cta.signature.accepted", {"uuid", uuid, "peer", origin, "signatory",
                                         std::to_string(sig.signatory())});
  share_agreement_event(self, record, origin,
                        "CTSA signed by signatory " + std::to_string(sig.signatory()) + " ("
                          + entry.status() + ")");
  reply_accepted(self, origin, sub.request_id(), uuid, sig.ctsa_sha256(), state.updates(), entry.status());
}

namespace {

/// At a peer: the root accepted this peer's CTSA or a signature of it (`sig`, if one was sent with
/// that request): its own addendum takes the root's status and the signature, so that the peer's
/// view says who signed and what waits.
void note_own_addendum(artefact_manager_pointer self, const v1::ArtefactAccepted& acc,
                       const v1::SignatorySignature* sig) {
  auto& st = self->state;
  auto rec = load_held(st.store, acc.uuid());
  if (!rec)
    return;
  auto& mine = addendum_entry(*rec, st.self);
  if (mine.ctsa_sha256() != acc.artefact_sha256())
    return; // an answer about an older version
  if (sig != nullptr) {
    bool known = std::find(mine.signed_by().begin(), mine.signed_by().end(), sig->signatory()) != mine.signed_by().end();
    if (!known) {
      *mine.add_signatures() = *sig;
      mine.add_signed_by(sig->signatory());
    }
  }
  // A signature is answered with the addendum's status; a CTSA with the CTA's (which stays out).
  if (addendum_status_from_string(acc.status()))
    mine.set_status(acc.status());
  if (auto r = save_cta_record(st.store, *rec); !r)
    log::warning(component, "cannot note the root's answer in CTA " + acc.uuid() + ": " + r.err().message);
}

} // namespace

void on_accepted(artefact_manager_pointer self, const std::string& origin, const std::string& payload) {
  auto& st = self->state;
  auto acc = proto::parse<v1::ArtefactAccepted>(payload, 64 * 1024);
  if (!acc || origin != st.root)
    return;
  if (!st.at_root()) {
    std::optional<v1::SignatorySignature> sig;
    if (auto sent = st.sent_signatures.find(acc->request_id()); sent != st.sent_signatures.end()) {
      sig.emplace();
      if (!sig->ParseFromString(sent->second))
        sig.reset();
      st.sent_signatures.erase(sent);
    }
    note_own_addendum(self, *acc, sig ? &*sig : nullptr);
  }
  cta_receipt reply;
  reply.uuid = acc->uuid();
  reply.peer = st.self;
  reply.ctsa_sha256 = crypto::hex(crypto::to_bytes(acc->artefact_sha256()));
  reply.updates = acc->updates();
  reply.status = acc->status();
  answer_pending(self, acc->request_id(), std::move(reply));
}

} // namespace joconde
