#include "cta_records.hpp"

#include "ctsc_rules.hpp"

#include "joconde/messages/proto.hpp"
#include "joconde/runtime/canonical_hash.hpp"
#include "joconde/runtime/clock.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/log.hpp"

namespace joconde {

namespace {

/// The log component of these records: the artefact manager, which owns them.
constexpr const char* component = "artefact_manager";

/// Where the root remembers which draft (request id) became which CTA, so that a draft handed over
/// again after a restart is not registered twice.
std::string request_key(const std::string& request_id) {
  return "cta.request." + request_id;
}

} // namespace

// -- reading and writing ----------------------------------------------------------------------------

result<v1::CtaRecord> parse_cta_record(std::string_view bytes) {
  auto rec = proto::parse<v1::CtaRecord>(bytes, max_cta_record_bytes);
  if (!rec || rec->legacy_status().empty())
    return rec;
  auto status = cta_status_from_string(rec->legacy_status());
  if (!status)
    return fail(errc::malformed_input, "the record of CTA " + rec->ctsc().uuid() + " has the status '"
                                         + rec->legacy_status().substr(0, 32) + "'");
  rec->set_status(*status);
  rec->clear_legacy_status();
  return rec;
}

result<std::optional<v1::CtaRecord>> load_cta_record(const node_store& store, const std::string& uuid) {
  auto txn = store.env->begin_read();
  if (!txn)
    return txn.err();
  auto bytes = txn->get(store.ctas, uuid);
  if (!bytes)
    return bytes.err();
  if (!bytes->has_value())
    return std::optional<v1::CtaRecord>{};
  auto rec = parse_cta_record(**bytes);
  if (!rec)
    return rec.err();
  return std::optional<v1::CtaRecord>{std::move(*rec)};
}

result<v1::CtaRecord> load_held(const node_store& store, const std::string& uuid) {
  if (!is_uuid(uuid))
    return fail(errc::malformed_input, "'" + uuid + "' is not a UUID");
  auto rec = load_cta_record(store, uuid);
  if (!rec)
    return rec.err();
  if (!rec->has_value())
    return fail(errc::not_found, "this node holds no CTA " + uuid);
  return std::move(**rec);
}

std::vector<v1::CtaRecord> load_all_records(const node_store& store) {
  std::vector<v1::CtaRecord> out;
  auto txn = store.env->begin_read();
  if (!txn) {
    log::error(component, "cannot read the CTAs held: " + txn.err().describe());
    return out;
  }
  auto r = txn->for_each(store.ctas, "", [&](std::string_view, std::string_view value) {
    if (auto rec = parse_cta_record(value))
      out.push_back(std::move(*rec));
    return true;
  });
  if (!r)
    log::error(component, "cannot read the CTAs held: " + r.err().describe());
  return out;
}

std::string find_cta_of_ctsa(const node_store& store, const std::string& peer,
                             const std::string& ctsa_sha256) {
  std::string uuid;
  auto txn = store.env->begin_read();
  if (!txn) {
    log::error(component, "cannot read the CTAs held: " + txn.err().describe());
    return uuid;
  }
  auto r = txn->for_each(store.ctas, "", [&](std::string_view key, std::string_view value) {
    if (auto rec = parse_cta_record(value))
      for (const auto& a : rec->addenda())
        if (a.peer() == peer && a.ctsa_sha256() == ctsa_sha256)
          uuid = std::string{key};
    return uuid.empty();
  });
  if (!r)
    log::error(component, "cannot read the CTAs held: " + r.err().describe());
  return uuid;
}

result<void> save_cta_record(const node_store& store, const v1::CtaRecord& rec) {
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

result<bool> store_new_record(const node_store& store, const v1::Ctsc& ctsc, const std::string& request_id) {
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

std::optional<std::string> registered_uuid(const node_store& store, const std::string& request_id) {
  auto txn = store.env->begin_read();
  if (!txn)
    return std::nullopt;
  auto known = txn->get(store.meta, request_key(request_id));
  if (!known || !known->has_value())
    return std::nullopt;
  return std::string{**known};
}

// -- the record and the state machine ---------------------------------------------------------------

cta_state state_of(const v1::CtaRecord& rec) {
  std::vector<std::string> cps;
  for (const auto& cp : rec.ctsc().computing_parties())
    cps.push_back(cp.fqdn());
  cta_state s{rec.ctsc().uuid(), crypto::hex(crypto::to_bytes(rec.ctsc_sha256())), peers_of(rec.ctsc()),
              std::move(cps), rec.last_changed_ms()};
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

void put_state(const cta_state& s, v1::CtaRecord& rec) {
  rec.set_status(s.status());
  rec.set_updates(s.updates());
  rec.set_last_changed_ms(s.last_changed_ms());
  rec.set_reason(s.reason());
}

v1::AddendumRecord& addendum_entry(v1::CtaRecord& rec, const std::string& peer) {
  for (auto& a : *rec.mutable_addenda())
    if (a.peer() == peer)
      return a;
  auto* a = rec.add_addenda();
  a->set_peer(peer);
  a->set_status(std::string{to_string(addendum_status::missing)});
  return *a;
}

void strip_to_fact(v1::CtaRecord& rec) {
  auto uuid = rec.ctsc().uuid();
  auto title = rec.ctsc().title();
  rec.clear_ctsc();
  rec.mutable_ctsc()->set_uuid(std::move(uuid));
  rec.mutable_ctsc()->set_title(std::move(title));
  rec.clear_addenda();
  rec.clear_final();
  rec.clear_vms();
  rec.clear_telemetry();
}

// -- the CTA a record makes ---------------------------------------------------------------------------

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

std::vector<std::string> peers_of(const v1::Ctsc& ctsc) {
  std::vector<std::string> out;
  for (const auto& p : ctsc.peers())
    out.push_back(p.fqdn());
  return out;
}

bool is_peer(const v1::Ctsc& ctsc, const std::string& fqdn) {
  for (const auto& p : ctsc.peers())
    if (p.fqdn() == fqdn)
      return true;
  return false;
}

std::vector<std::string> holders(const v1::CtaRecord& record) {
  auto to = peers_of(record.ctsc());
  if (record.has_final())
    for (const auto& cp : record.ctsc().computing_parties())
      to.push_back(cp.fqdn());
  return to;
}

} // namespace joconde
