#include "member_trust.hpp"

#include "cta_state.hpp"

#include "joconde/messages/proto.hpp"
#include "joconde/runtime/crypto.hpp"

#include <algorithm>

namespace joconde {

namespace {

constexpr size_t max_reason = 1024;

std::string override_key(const std::string& uuid, const std::string& member) {
  std::string key = uuid;
  key.push_back('\0');
  return key + member;
}

std::string leaf_fingerprint(const v1::CertificateChain& chain) {
  return chain.certificates().empty() ? std::string{}
                                      : crypto::fingerprint(crypto::to_bytes(chain.certificates(0)));
}

/// The members of `ctsc` other than `self`: FQDN, CP or not, leaf fingerprint.
std::vector<member_trust> others(const v1::Ctsc& ctsc, const std::string& self) {
  std::vector<member_trust> out;
  auto add = [&](const std::string& fqdn, bool computing, const v1::CertificateChain& chain) {
    if (fqdn == self)
      return;
    member_trust m;
    m.fqdn = fqdn;
    m.computing = computing;
    m.fingerprint = leaf_fingerprint(chain);
    out.push_back(std::move(m));
  };
  for (const auto& p : ctsc.peers())
    add(p.fqdn(), false, p.chain());
  for (const auto& cp : ctsc.computing_parties())
    add(cp.fqdn(), true, cp.chain());
  return out;
}

/// Fills in `m.state` and how, from the trusted view and the overrides of CTA `uuid`.
result<void> assess(const lmdb::txn_base& txn, const node_store& store, const std::string& uuid,
                    member_trust& m) {
  auto found = find_confirmation(txn, store, m.fingerprint);
  if (!found)
    return found.err();
  if (found->has_value()) {
    m.state = member_trust_state::confirmed;
    m.confirmed = **found;
    return ok();
  }
  auto rec = txn.get(store.overrides, override_key(uuid, m.fqdn));
  if (!rec)
    return rec.err();
  if (rec->has_value()) {
    auto parsed = proto::parse<v1::TrustOverride>(**rec, 64 * 1024);
    if (!parsed)
      return parsed.err();
    m.state = member_trust_state::overridden;
    m.override_record = std::move(*parsed);
    return ok();
  }
  m.state = member_trust_state::unconfirmed;
  return ok();
}

} // namespace

std::string_view to_string(member_trust_state x) {
  switch (x) {
    case member_trust_state::confirmed: return "confirmed";
    case member_trust_state::unconfirmed: return "unconfirmed";
    case member_trust_state::overridden: return "override";
  }
  return "unknown";
}

result<std::vector<member_trust>> assess_members(const node_store& store, const std::string& uuid,
                                                 const v1::Ctsc& ctsc, const std::string& self) {
  auto txn = store.env->begin_read();
  if (!txn)
    return txn.err();
  auto members = others(ctsc, self);
  for (auto& m : members)
    if (auto r = assess(*txn, store, uuid, m); !r)
      return r.err();
  return members;
}

result<void> require_trusted(const std::vector<member_trust>& members, const std::string& uuid) {
  std::string list;
  size_t n = 0;
  for (const auto& m : members) {
    if (m.state != member_trust_state::unconfirmed)
      continue;
    ++n;
    list += (list.empty() ? "" : "; ") + m.fqdn + (m.computing ? " (computing party)" : " (peer)")
            + " fingerprint " + m.fingerprint;
  }
  if (n == 0)
    return ok();
  return fail(errc::unconfirmed_member,
              "CTA " + uuid + " names " + std::to_string(n)
                + (n == 1 ? " member whose certificate was" : " members whose certificates were")
                + " not confirmed out of band at this node, so this node does not commit to it "
                  "(SYS-2.1): "
                + list
                + ". Compare each fingerprint with the member's operator over a channel outside "
                  "JOCONDE and record it with `joconde-node trust confirm FINGERPRINT --dir "
                  "DATA_DIR`, or let an IT administrator accept the risk with `joconde cta override "
                + uuid + " --member FQDN --reason TEXT`. Nothing was signed or sent.");
}

result<v1::TrustOverride> record_override(const node_store& store, const v1::CtaRecord& record,
                                          const std::string& self, const std::string& member,
                                          const std::string& reason, const std::string& user,
                                          int64_t now_ms) {
  const auto& uuid = record.ctsc().uuid();
  if (std::all_of(reason.begin(), reason.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20; }))
    return fail(errc::malformed_input, "an override says why the risk is accepted: give a reason");
  if (reason.size() > max_reason)
    return fail(errc::malformed_input, "the reason has " + std::to_string(reason.size())
                                         + " bytes; at most " + std::to_string(max_reason));
  if (record.status() != v1::CTA_STATUS_EMERGING)
    return fail(errc::invalid_state, "CTA " + uuid + " is " + std::string{to_string(record.status())}
                                       + ": overrides serve a CTSA, which is taken while it is emerging");
  if (member == self)
    return fail(errc::invalid_state, member + " is this node itself: there is nothing to override");
  auto members = others(record.ctsc(), self);
  auto it = std::find_if(members.begin(), members.end(), [&](const auto& m) { return m.fqdn == member; });
  if (it == members.end()) {
    std::string names;
    for (const auto& m : members)
      names += (names.empty() ? "" : ", ") + m.fqdn;
    return fail(errc::not_found, member + " is not named in CTA " + uuid + " (its other members: "
                                   + names + ")");
  }
  auto txn = store.env->begin_write();
  if (!txn)
    return txn.err();
  if (auto r = assess(*txn, store, uuid, *it); !r)
    return r.err();
  if (it->state == member_trust_state::confirmed)
    return fail(errc::invalid_state, member + " is confirmed at this node (fingerprint "
                                       + it->fingerprint + "): no override is needed");
  if (it->state == member_trust_state::overridden)
    return fail(errc::already_exists, member + " was overridden for CTA " + uuid + " already, by "
                                        + it->override_record->by() + ": "
                                        + it->override_record->reason());
  v1::TrustOverride rec;
  rec.set_uuid(uuid);
  rec.set_member(member);
  rec.set_fingerprint(it->fingerprint);
  rec.set_reason(reason);
  rec.set_by(user);
  rec.set_at_ms(now_ms);
  if (auto r = txn->put(store.overrides, override_key(uuid, member), proto::serialize(rec)); !r)
    return r.err();
  if (auto r = txn->commit(); !r)
    return r.err();
  return rec;
}

} // namespace joconde
