#include "cta_view.hpp"

#include "ct_reports.hpp"
#include "cta_records.hpp"
#include "member_trust.hpp"

#include "joconde/messages/caf_error.hpp"
#include "joconde/runtime/canonical_hash.hpp"
#include "joconde/runtime/crypto.hpp"

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

namespace joconde {

namespace {

using nlohmann::json;

json summary(const v1::CtaRecord& rec) {
  return {{"uuid", rec.ctsc().uuid()},
          {"title", rec.ctsc().title()},
          {"status", to_string(rec.status())},
          {"updates", rec.updates()},
          {"last_changed_ms", rec.last_changed_ms()},
          {"ctsc_sha256", crypto::hex(crypto::to_bytes(rec.ctsc_sha256()))},
          {"reason", rec.reason()}};
}

/// The other members of a CTA as this node trusts them.
json members_json(const std::vector<member_trust>& members) {
  json out = json::array();
  for (const auto& m : members) {
    json j{{"fqdn", m.fqdn},
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

/// Puts the CTSC into `doc`, its certificates shown by fingerprint (SHA-256 of the DER, as
/// `joconde-node fingerprint` prints it), not as base64 DER.
void put_ctsc(const v1::Ctsc& ctsc, json& doc) {
  auto shown = ctsc;
  json fingerprints = json::object();
  auto take = [&](const std::string& fqdn, const v1::CertificateChain& chain) {
    json fps = json::array();
    for (const auto& der : chain.certificates())
      fps.push_back(crypto::fingerprint(crypto::to_bytes(der)));
    fingerprints[fqdn] = fps;
  };
  for (auto& p : *shown.mutable_peers()) {
    take(p.fqdn(), p.chain());
    p.clear_chain();
  }
  for (auto& cp : *shown.mutable_computing_parties()) {
    take(cp.fqdn(), cp.chain());
    cp.clear_chain();
  }
  std::string ctsc_json;
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  (void) google::protobuf::util::MessageToJsonString(shown, &ctsc_json, opts);
  doc["ctsc"] = json::parse(ctsc_json, nullptr, false);
  doc["certificate_fingerprints"] = fingerprints;
}

/// Every peer's addendum as this node holds it; at a node that holds only the final CTA (a CP), the
/// approved CTSAs as the root signed them.
json addenda_json(const v1::CtaRecord& rec) {
  json addenda = json::array();
  for (const auto& a : rec.addenda())
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
  if (!addenda.empty() || !rec.has_final())
    return addenda;
  const auto& cta = rec.final().cta();
  for (int i = 0; i < cta.ctsas_size(); ++i) {
    const auto& c = cta.ctsas(i);
    auto h = canonical_hash(c);
    addenda.push_back(json{{"peer", c.peer()},
                           {"status", "approved"},
                           {"version", c.version()},
                           {"ctsa_sha256", h ? crypto::hex(*h) : std::string{}},
                           {"signatories", c.signatories_size()},
                           {"data_custodians", c.data_custodians_size()},
                           {"data_analysts", c.data_analysts_size()},
                           {"signed_by_node", i < cta.node_signatures_size() ? cta.node_signatures(i).signer()
                                                                             : std::string{}}});
  }
  return addenda;
}

} // namespace

caf::result<std::string> list_ctas(artefact_manager_pointer self) {
  auto& st = self->state;
  auto txn = st.store.env->begin_read();
  if (!txn)
    return to_caf(txn.err());
  json list = json::array();
  auto r = txn->for_each(st.store.ctas, "", [&](std::string_view, std::string_view value) {
    if (auto rec = parse_cta_record(value))
      list.push_back(summary(*rec));
    return true;
  });
  if (!r)
    return to_caf(r.err());
  return json{{"ctas", list}}.dump();
}

caf::result<std::string> show_cta(artefact_manager_pointer self, const std::string& uuid) {
  auto& st = self->state;
  auto rec = load_held(st.store, uuid);
  if (!rec)
    return to_caf(rec.err());
  auto doc = summary(*rec);
  put_ctsc(rec->ctsc(), doc);
  // SYS-2.1: each other member as this node trusts it, the SO's certificate notwithstanding.
  auto members = assess_members(st.store, uuid, rec->ctsc(), st.self);
  if (!members)
    return to_caf(members.err());
  doc["members"] = members_json(*members);
  doc["addenda"] = addenda_json(*rec);
  doc["final"] = rec->has_final();
  if (rec->has_final()) {
    doc["cta_sha256"] = crypto::hex(crypto::to_bytes(rec->final().root_signature().artefact_sha256()));
    doc["signed_by_root"] = rec->final().root_signature().signer();
  }
  doc["vms"] = vms_json(*rec);
  doc["telemetry"] = telemetry_json(*rec);
  return doc.dump();
}

} // namespace joconde
