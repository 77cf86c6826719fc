#include "artefact_manager.hpp"

#include "ctsc_rules.hpp"

#include "joconde/agreement.pb.h"
#include "joconde/messages/caf_error.hpp"
#include "joconde/messages/canonical.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/node.pb.h"
#include "joconde/runtime/canonical_hash.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/log.hpp"

#include "../mplane/user_directory.hpp"

#include <caf/actor_system.hpp>

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

namespace joconde {

namespace {

constexpr const char* component = "artefact_manager";
constexpr size_t max_artefact = 4 * 1024 * 1024;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

errc errc_named(std::string_view name) {
  for (auto code : {errc::malformed_input, errc::too_large, errc::bad_signature, errc::untrusted_chain,
                    errc::certificate_expired, errc::certificate_revoked, errc::replayed,
                    errc::unknown_peer, errc::forbidden, errc::not_found, errc::already_exists,
                    errc::storage_error, errc::invalid_state, errc::timeout})
    if (to_string(code) == name)
      return code;
  return errc::forbidden;
}

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
  auto txn = store.env->begin_read();
  if (!txn)
    return txn.err();
  auto bytes = txn->get(store.ctas, uuid);
  if (!bytes)
    return bytes.err();
  if (!bytes->has_value())
    return std::optional<v1::CtaRecord>{};
  auto rec = proto::parse<v1::CtaRecord>(**bytes, max_artefact);
  if (!rec)
    return rec.err();
  return std::optional<v1::CtaRecord>{std::move(*rec)};
}

/// Stores a new record; already_exists if the uuid is taken by another CTSC (the same one is fine).
result<bool> store_new(const node_store& store, const v1::Ctsc& ctsc) {
  auto hash = canonical_hash(ctsc);
  if (!hash)
    return hash.err();
  v1::CtaRecord rec;
  *rec.mutable_ctsc() = ctsc;
  rec.set_ctsc_sha256(std::string{hash->begin(), hash->end()});
  rec.set_status("emerging");
  rec.set_updates(1);
  rec.set_last_changed_ms(now_ms());
  rec.set_stored_at_ms(rec.last_changed_ms());
  auto txn = store.env->begin_write();
  if (!txn)
    return txn.err();
  if (auto old = txn->get(store.ctas, ctsc.uuid()); !old) {
    return old.err();
  } else if (old->has_value()) {
    auto prev = proto::parse<v1::CtaRecord>(**old, max_artefact);
    if (prev && prev->ctsc_sha256() == rec.ctsc_sha256())
      return false; // seen before
    return fail(errc::already_exists, "CTA " + ctsc.uuid() + " exists with another CTSC");
  }
  if (auto r = txn->put(store.ctas, ctsc.uuid(), proto::serialize(rec)); !r)
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
  if (auto r = check_ctsc(ctsc, now_ms(), false); !r)
    return refuse(r.err());
  if (auto r = fill_chains(self, ctsc); !r)
    return refuse(r.err());
  ctsc.set_uuid(new_uuid());
  auto stored = store_new(st.store, ctsc);
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
    i->second.deliver(make_error(errc_named(refusal->code()), "the root refused the draft: "
                                                                + refusal->message()));
    st.pending.erase(i);
  }
}

nlohmann::json summary(const v1::CtaRecord& rec) {
  return {{"uuid", rec.ctsc().uuid()},
          {"title", rec.ctsc().title()},
          {"status", rec.status()},
          {"updates", rec.updates()},
          {"last_changed_ms", rec.last_changed_ms()},
          {"ctsc_sha256", crypto::hex(crypto::to_bytes(rec.ctsc_sha256()))}};
}

} // namespace

artefact_manager_actor::behavior_type
artefact_manager(artefact_manager_pointer self, std::string root, std::shared_ptr<trust_view> trust,
                 node_store store, service_broker_actor broker, audit_log_actor audit_actor,
                 metrics::registry* metrics) {
  auto& st = self->state;
  st.root = std::move(root);
  st.trust = std::move(trust);
  st.self = st.trust->self();
  st.store = std::move(store);
  st.broker = std::move(broker);
  st.audit = std::move(audit_actor);
  st.metrics = metrics;
  return {
    [=](deliver_atom, const std::string& topic, const std::string& origin, const std::string& payload) {
      if (topic == "cta.ctsc.register")
        on_register(self, origin, payload);
      else if (topic == "cta.ctsc")
        on_registered(self, origin, payload);
      else if (topic == "cta.refused")
        on_refused(self, origin, payload);
      else
        log::warning(component, "unknown agreement topic " + topic + " from " + origin);
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
      auto rp = self->make_response_promise<std::string>();
      st.pending.emplace(reg.request_id(), rp);
      self->delayed_send(self, registration_timeout, expire_atom::value, reg.request_id());
      audit(self, "cta.ctsc.drafted", {"request", reg.request_id(), "organiser", user, "title",
                                       reg.ctsc().title()});
      publish(self, "cta.ctsc.register", {st.root}, "", proto::serialize(reg));
      return rp;
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
          if (auto rec = proto::parse<v1::CtaRecord>(value, max_artefact))
            list.push_back(summary(*rec));
          return true;
        });
        if (!r)
          return to_caf(r.err());
        return nlohmann::json{{"ctas", list}}.dump();
      }
      if (!is_uuid(uuid))
        return make_error(errc::malformed_input, "'" + uuid + "' is not a UUID");
      auto rec = load(st.store, uuid);
      if (!rec)
        return to_caf(rec.err());
      if (!rec->has_value())
        return make_error(errc::not_found, "this node holds no CTA " + uuid);
      // Certificates are shown by fingerprint (SHA-256 of the DER, as `joconde-node fingerprint`
      // prints it), not as base64 DER.
      auto shown = (*rec)->ctsc();
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
      auto doc = summary(**rec);
      doc["ctsc"] = nlohmann::json::parse(ctsc_json, nullptr, false);
      doc["certificate_fingerprints"] = fingerprints;
      return doc.dump();
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
