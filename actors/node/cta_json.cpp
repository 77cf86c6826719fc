#include "cta_json.hpp"

#include "../cplane/cta_progress.hpp"
#include "../cplane/personal_data.hpp"
#include "../cplane/cta_records.hpp"
#include "../vm/task_policy.hpp"

#include "joconde/agreement.pb.h"
#include "joconde/messages/proto.hpp"
#include "joconde/runtime/canonical_hash.hpp"
#include "joconde/runtime/crypto.hpp"

#include <google/protobuf/util/json_util.h>

#include <map>
#include <set>

namespace joconde {

namespace {

using nlohmann::json;

/// A JSON array of `row(item)` for each of `items`.
template <class Items, class Row>
json array_of(const Items& items, Row row) {
  auto out = json::array();
  for (const auto& item : items)
    out.push_back(row(item));
  return out;
}

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
json members_json(const std::vector<member_view>& members) {
  json out = json::array();
  for (const auto& m : members) {
    json j{{"fqdn", m.fqdn},
           {"role", m.computing ? "computing_party" : "peer"},
           {"fingerprint", m.fingerprint},
           {"trust", m.trust}};
    if (m.confirmed) {
      j["confirmed_at_ms"] = m.confirmed_at_ms;
      if (!m.rotated_from.empty())
        j["rotated_from"] = m.rotated_from;
    }
    if (m.overridden)
      j["override"] = {{"by", m.override_by}, {"reason", m.override_reason}, {"at_ms", m.override_at_ms}};
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

/// What a person's name shows: the name, or, where this node got only its commitment (another
/// organisation's people, personal_data.hpp), that it was not shared.
std::string shown_name(const std::string& name, const std::string& commitment) {
  return name.empty() && !commitment.empty() ? std::string{"(not shared with this node)"} : name;
}

/// The people a CTSA names, for a signatory to read before signing: signatories by index (with
/// whether they signed), each custodian's and analyst's name, slots and PAK hash.
json people_json(const v1::Ctsa& ctsa, const std::set<std::uint32_t>& signed_by) {
  json signatories = json::array();
  for (int i = 0; i < ctsa.signatories_size(); ++i)
    signatories.push_back({{"index", i},
                           {"name", shown_name(ctsa.signatories(i).name(), ctsa.signatories(i).commitment())},
                           {"signed", signed_by.count(static_cast<std::uint32_t>(i)) > 0}});
  auto person = [](const std::string& name, const std::string& pak, const auto& keys) {
    auto h = crypto::sha256(crypto::to_bytes(pak));
    return json{{"name", name}, {"keys", json(std::vector<std::string>{keys.begin(), keys.end()})},
                {"pak_sha256", crypto::hex(h)}};
  };
  json custodians = json::array();
  for (const auto& c : ctsa.data_custodians())
    custodians.push_back(person(shown_name(c.name(), c.name_commitment()), c.pak(), c.input_keys()));
  json analysts = json::array();
  for (const auto& a : ctsa.data_analysts())
    analysts.push_back(person(shown_name(a.name(), a.name_commitment()), a.pak(), a.output_keys()));
  return json{{"signatories", signatories}, {"data_custodians", custodians}, {"data_analysts", analysts}};
}

/// 0 .. n-1: an approved CTSA was signed by all its signatories.
std::set<std::uint32_t> every_index(int n) {
  std::set<std::uint32_t> out;
  for (int i = 0; i < n; ++i)
    out.insert(static_cast<std::uint32_t>(i));
  return out;
}

/// Every peer's addendum as this node holds it; at a node that holds only the final CTA (a CP), the
/// approved CTSAs as the root signed them. `people` lists whom each CTSA names.
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
                       {"reason", a.reason()},
                       {"people", people_json(a.ctsa(), {a.signed_by().begin(), a.signed_by().end()})}});
  if (!addenda.empty() || !rec.has_final())
    return addenda;
  const auto& cta = rec.final().cta();
  for (int i = 0; i < cta.ctsas_size(); ++i) {
    const auto& c = cta.ctsas(i);
    auto h = ctsa_hash(c);
    addenda.push_back(json{{"peer", c.peer()},
                           {"status", "approved"},
                           {"version", c.version()},
                           {"ctsa_sha256", h ? crypto::hex(*h) : std::string{}},
                           {"signatories", c.signatories_size()},
                           {"data_custodians", c.data_custodians_size()},
                           {"data_analysts", c.data_analysts_size()},
                           {"signed_by_node", i < cta.node_signatures_size() ? cta.node_signatures(i).signer()
                                                                             : std::string{}},
                           {"people", people_json(c, every_index(c.signatories_size()))}});
  }
  return addenda;
}

} // namespace

json receipt_json(const cta_receipt& r) {
  json out{{"uuid", r.uuid}, {"status", r.status}};
  auto put = [&](const char* key, const std::string& value) {
    if (!value.empty())
      out[key] = value;
  };
  put("peer", r.peer);
  put("ctsc_sha256", r.ctsc_sha256);
  put("ctsa_sha256", r.ctsa_sha256);
  if (!r.ctsa_sha256.empty())
    out["updates"] = r.updates;
  put("decision", r.decision);
  put("reason", r.reason);
  return out;
}

json pak_json(const v1::PakRecord& pak) {
  json keys = json::array();
  for (const auto& k : pak.keys())
    keys.push_back(k);
  return {{"uuid", pak.uuid()},
          {"pak_sha256", crypto::hex(crypto::sha256(crypto::to_bytes(pak.pak())))},
          {"name", pak.name()},
          {"keys", keys}};
}

json override_json(const v1::TrustOverride& o) {
  return {{"uuid", o.uuid()},     {"member", o.member()}, {"fingerprint", o.fingerprint()},
          {"reason", o.reason()}, {"by", o.by()},         {"at_ms", o.at_ms()}};
}

json vms_json(const v1::CtaRecord& record) {
  return array_of(record.vms(), [](const auto& vm) {
    return json{{"cp", vm.cp()},
                {"cp_index", vm.cp_index()},
                {"client_address", vm.client_address()},
                {"peer_address", vm.peer_address()},
                {"mpc_address", vm.mpc_address()},
                {"platform", vm.platform()},
                {"reported_at_ms", vm.reported_at_ms()}};
  });
}

json telemetry_json(const v1::CtaRecord& record) {
  // The CT VMs name people by PAK ("PAK" and 16 hex digits); where this node holds the person's
  // name (its own people, or every person at the root), the name is shown with it.
  std::map<std::string, std::string> names;
  auto note = [&](const v1::Ctsa& ctsa) {
    auto add = [&](const std::string& name, const std::string& pak) {
      if (!name.empty())  // another organisation's people reach this node committed, unnamed
        names[vm::pak_label(pak)] = name;
    };
    for (const auto& c : ctsa.data_custodians())
      add(c.name(), c.pak());
    for (const auto& a : ctsa.data_analysts())
      add(a.name(), a.pak());
  };
  for (const auto& a : record.addenda())
    note(a.ctsa());
  for (const auto& ctsa : record.final().cta().ctsas())
    note(ctsa);
  auto named = [&](std::string value) {
    for (auto at = value.find("PAK "); at != std::string::npos; at = value.find("PAK ", at + 1))
      if (auto i = names.find(value.substr(at, 20)); i != names.end() && !i->second.empty()) {
        value.replace(at, 20, i->second + " (" + i->first + ")");
        at += i->second.size() + 2 + 20;  // past "NAME (PAK ...)"
      }
    return value;
  };
  return array_of(record.telemetry(), [&](const auto& ev) {
    return json{{"cp", ev.cp()}, {"at_ms", ev.at_ms()}, {"kind", ev.kind()}, {"subject", ev.subject()},
                {"value", named(ev.value())}};
  });
}

json cta_list_json(const cta_view& view) {
  json list = json::array();
  for (const auto& bytes : view.records)
    if (auto rec = parse_cta_record(bytes.bytes))
      list.push_back(summary(*rec));
  return {{"ctas", list}};
}

json cta_json(const cta_view& view, const std::string& self, bool at_root) {
  if (view.records.size() != 1)
    return json::object();
  auto rec = parse_cta_record(view.records.front().bytes);
  if (!rec)
    return json::object();
  auto doc = summary(*rec);
  auto progress = progress_of(*rec, self, at_root);
  json steps = json::array();
  for (const auto& step : progress.to_do)
    steps.push_back({{"who", step.who}, {"what", step.what}, {"role", step.role}, {"action", step.action},
                     {"subject", step.subject}});
  doc["progress"] = {{"phase", progress.phase}, {"until_ms", progress.until_ms}, {"to_do", steps}};
  if (!progress.cause.empty())
    doc["progress"]["cause"] = progress.cause;
  put_ctsc(rec->ctsc(), doc);
  doc["members"] = members_json(view.members);
  doc["addenda"] = addenda_json(*rec);
  doc["final"] = rec->has_final();
  if (rec->has_final()) {
    doc["cta_sha256"] = crypto::hex(crypto::to_bytes(rec->final().root_signature().artefact_sha256()));
    doc["signed_by_root"] = rec->final().root_signature().signer();
  }
  doc["vms"] = vms_json(*rec);
  doc["telemetry"] = telemetry_json(*rec);
  return doc;
}

} // namespace joconde
