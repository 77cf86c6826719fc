#include "identity_manager.hpp"

#include "confirmations.hpp"
#include "joconde/messages/caf_error.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/runtime/clock.hpp"
#include "joconde/runtime/log.hpp"
#include "revocation.hpp"
#include "rotation.hpp"

#include <algorithm>
#include <fstream>

#include <nlohmann/json.hpp>

namespace joconde {

namespace {

constexpr const char* component = "identity_manager";

/// Applies a revocation; returns its fingerprint and whether it was new here.
result<std::pair<std::string, bool>> apply_revocation(identity_manager_pointer self, std::string_view bytes) {
  auto& st = self->state;
  auto rev = verify_revocation(*st.trust, bytes, std::chrono::system_clock::now());
  if (!rev)
    return rev.err();
  auto fp = rev->fingerprint();
  auto txn = st.store.env->begin_write();
  if (!txn)
    return txn.err();
  auto fresh = txn->put_if_absent(st.store.revoked, fp, std::string{bytes});
  if (!fresh)
    return fresh.err();
  // Its key is never registered again here (enrolment and rotation refuse it).
  for (const auto& key : revoked_key_hashes(*rev, *txn, st.store))
    if (auto r = txn->put(st.store.revoked_keys, key, fp); !r)
      return r.err();
  if (auto r = txn->commit(); !r)
    return r.err();
  st.trust->revoke(fp);
  if (*fresh) {
    ++st.applied;
    log::notice(component, "certificate revoked: " + rev->fqdn(),
                {{"fingerprint", fp}, {"reason", rev->reason()},
                 {"kind", rev->kind() == v1::Revocation::KIND_ROOT ? "root" : "self"}});
    self->send(st.audit, audit_atom::value, std::string{component}, std::string{"pki.revoked"},
               std::vector<std::string>{"node", rev->fqdn(), "fingerprint", fp, "reason",
                                        rev->reason()});
    self->send(st.cm, revoke_atom::value, fp);
  }
  return std::make_pair(fp, *fresh);
}

/// Spreads a new revocation or rotation notice (`topic`): to every enrolled child but the one it
/// came from, and to the root when it did not come from above. Nodes that have it already stop the
/// flood (applied once, spread once).
void spread(identity_manager_pointer self, const std::string& topic, const std::string& bytes,
            const std::string& came_from, bool from_above) {
  auto& st = self->state;
  std::vector<std::string> to;
  auto txn = st.store.env->begin_read();
  result<void> listed;
  if (!txn)
    listed = txn.err();
  else
    listed = txn->for_each(st.store.children, "", [&](std::string_view child, std::string_view) {
      if (child != came_from)
        to.emplace_back(child);
      return true;
    });
  if (!listed)
    log::error(component, "cannot list the children to spread " + topic + " to: " + listed.err().describe());
  if (!from_above && st.trust->self() != st.domain)
    to.push_back(st.domain);
  if (to.empty())
    return;
  self->request(st.broker, std::chrono::seconds{30}, publish_atom::value, topic, to, std::string{},
                bytes, uint32_t{1})
    .then([](const std::vector<std::string>&) {},
          [topic](caf::error& err) {
            log::error(component, "cannot spread " + topic + ": " + describe(err));
          });
}

/// How often the node checks its certificate's age and its children's policy: hourly, or ten
/// times per rotation period when that is shorter.
std::chrono::seconds check_interval(const tree_policy& rules) {
  return std::clamp(rules.rotation_period / 10, std::chrono::seconds{1},
                    std::chrono::seconds{std::chrono::hours{1}});
}

std::string parent_of(const trust_view& trust) {
  auto own = trust.own_chain();
  if (own.size() < 2)
    return {};
  auto names = own[1].dns_names();
  return names.empty() ? std::string{} : names.front();
}

void publish(identity_manager_pointer self, const std::string& topic, const std::string& to,
             const std::string& payload) {
  self->request(self->state.broker, std::chrono::seconds{30}, publish_atom::value, topic,
                std::vector<std::string>{to}, std::string{}, payload, uint32_t{1})
    .then([](const std::vector<std::string>&) {},
          [topic](caf::error& err) {
            log::error(component, "cannot publish " + topic + ": " + describe(err));
          });
}

result<void> write_atomically(const std::filesystem::path& file, const std::string& content) {
  auto tmp = file;
  tmp += ".new";
  {
    std::ofstream out{tmp, std::ios::binary | std::ios::trunc};
    std::error_code ec;
    std::filesystem::permissions(tmp, std::filesystem::perms::owner_read
                                        | std::filesystem::perms::owner_write, ec);
    out << content;
    out.flush();
    if (!out)
      return fail(errc::io_error, "cannot write " + tmp.string());
  }
  return ok();
}

/// Installs a rotated key and chain on disk (key first, chain last) and in memory.
result<void> install_rotation(identity_manager_pointer self, std::vector<crypto::certificate> chain) {
  auto& st = self->state;
  auto pem = st.pending->to_encrypted_pem(st.files.passphrase);
  if (!pem)
    return pem.err();
  std::string chain_pem;
  for (const auto& c : chain)
    chain_pem += c.to_pem();
  if (auto r = write_atomically(st.files.key, *pem); !r)
    return r;
  if (auto r = write_atomically(st.files.chain, chain_pem); !r)
    return r;
  std::error_code ec;
  auto key_new = st.files.key;
  key_new += ".new";
  auto chain_new = st.files.chain;
  chain_new += ".new";
  std::filesystem::rename(key_new, st.files.key, ec);
  if (!ec)
    std::filesystem::rename(chain_new, st.files.chain, ec);
  if (ec)
    return fail(errc::io_error, "cannot install the rotated key: " + ec.message());
  st.trust->set_own_chain(std::move(chain));
  st.signer->replace(std::move(*st.pending));
  st.pending.reset();
  return ok();
}

std::string start_rotation(identity_manager_pointer self) {
  auto& st = self->state;
  auto parent = parent_of(*st.trust);
  if (parent.empty())
    return "the root node's certificate is renewed with the offline root CA, not rotated online";
  auto key = crypto::private_key::generate();
  if (!key)
    return "cannot make a key: " + key.err().message;
  auto req = make_rotation_request(*st.trust, *key, *st.signer, std::chrono::system_clock::now());
  if (!req)
    return "cannot make the request: " + req.err().message;
  st.pending.emplace(std::move(*key));
  publish(self, rotation_request_topic, parent, *req);
  log::notice(component, "key rotation requested from " + parent);
  return "rotation requested from " + parent;
}

void count_notice(identity_manager_pointer self, notice_outcome outcome) {
  ++self->state.notices[std::string{to_string(outcome)}];
}

/// Sends the policy this node holds to every enrolled child that has not been sent it (a child
/// enrolled since, or a newer policy). Marked as sent once the broker holds it in its outbox, which
/// keeps it until the child connects; a crash in between sends it again (the child ignores a policy
/// it holds already).
void hand_down_policy(identity_manager_pointer self) {
  auto& st = self->state;
  std::string bytes;
  int64_t issued_at = 0;
  std::vector<std::string> to;
  {
    auto txn = st.store.env->begin_read();
    if (!txn)
      return log::error(component, txn.err().message);
    auto held = stored_tree_policy(*txn, st.store);
    if (!held || !held->has_value())
      return;
    bytes = (*held)->first;
    issued_at = (*held)->second.issued_at_ms;
    auto listed = txn->for_each(st.store.children, "", [&](std::string_view child, std::string_view) {
      auto sent = tree_policy_sent(*txn, st.store, std::string{child}, issued_at);
      if (sent && !*sent && st.policy_in_flight.count(std::string{child}) == 0)
        to.emplace_back(child);
      return true;
    });
    if (!listed)
      return log::error(component, "cannot list the children to hand the policy to: " + listed.err().describe());
  }
  if (to.empty())
    return;
  st.policy_in_flight.insert(to.begin(), to.end());
  auto landed = [self, to] {
    for (const auto& child : to)
      self->state.policy_in_flight.erase(child);
  };
  self->request(st.broker, std::chrono::seconds{30}, publish_atom::value, std::string{tree_policy_topic}, to,
                std::string{}, bytes, uint32_t{1})
    .then(
      [self, to, issued_at, landed](const std::vector<std::string>&) {
        landed();
        auto& st = self->state;
        auto txn = st.store.env->begin_write();
        if (!txn)
          return log::error(component, txn.err().message);
        for (const auto& child : to)
          if (auto r = mark_tree_policy_sent(*txn, st.store, child, issued_at); !r)
            return log::error(component, r.err().message);
        if (auto r = txn->commit(); !r)
          log::error(component, r.err().message);
      },
      [landed](caf::error& err) {
        landed();
        log::error(component, "cannot hand the policy down: " + describe(err));
      });
}

/// Adopts rules (signed by the root, `bytes`) if newer than those held: kept, in force, handed down.
result<bool> adopt_policy(identity_manager_pointer self, const std::string& bytes, const tree_policy& rules) {
  auto& st = self->state;
  auto txn = st.store.env->begin_write();
  if (!txn)
    return txn.err();
  auto kept = keep_tree_policy(*txn, st.store, bytes, rules);
  if (!kept)
    return kept.err();
  if (!*kept)
    return false;
  if (auto r = txn->commit(); !r)
    return r.err();
  auto shorter = rules.rotation_period < st.rules.rotation_period;
  st.rules = rules;
  log::notice(component, "tree policy in force",
              {{"rotation_period_s", std::to_string(rules.rotation_period.count())},
               {"certificate_lifetime_s", std::to_string(rules.certificate_lifetime.count())}});
  self->send(st.audit, audit_atom::value, std::string{component}, std::string{"pki.policy"},
             std::vector<std::string>{"rotation_period_s", std::to_string(rules.rotation_period.count()),
                                      "certificate_lifetime_s",
                                      std::to_string(rules.certificate_lifetime.count())});
  hand_down_policy(self);
  if (shorter) // the next check comes sooner than the one already scheduled
    self->send(self, tick_atom::value);
  return true;
}

/// At a child: the root's policy, handed down by its parent.
void on_policy(identity_manager_pointer self, const std::string& origin, const std::string& payload) {
  auto& st = self->state;
  auto refuse = [&](const error& err) {
    log::warning(component, "tree policy from " + origin + " refused: " + err.message,
                 {{"reason", to_string(err.code)}});
    self->send(st.audit, audit_atom::value, std::string{component}, std::string{"pki.policy.refused"},
               std::vector<std::string>{"origin", origin, "reason", err.message});
  };
  if (origin != parent_of(*st.trust))
    return refuse(error{errc::forbidden, "the policy comes from the parent only"});
  auto rules = verify_tree_policy(*st.trust, payload);
  if (!rules)
    return refuse(rules.err());
  if (auto r = adopt_policy(self, payload, *rules); !r)
    log::error(component, "cannot keep the tree policy: " + r.err().message);
}

/// At start: the rules in force. The root signs its configured rules when they differ from those
/// it holds; another node uses what its parent handed down, or the defaults until then.
void load_policy(identity_manager_pointer self) {
  auto& st = self->state;
  auto held = [&]() -> result<std::optional<std::pair<std::string, tree_policy>>> {
    auto txn = st.store.env->begin_read();
    if (!txn)
      return txn.err();
    return stored_tree_policy(*txn, st.store);
  }();
  if (!held)
    return log::error(component, "cannot read the tree policy: " + held.err().message);
  if (held->has_value())
    st.rules = (*held)->second;
  if (st.trust->own_chain().size() != 1)
    return;
  const auto& want = st.files.root_rules;
  if (held->has_value() && st.rules.rotation_period == want.rotation_period
      && st.rules.certificate_lifetime == want.certificate_lifetime)
    return;
  auto bytes = make_tree_policy(want, *st.trust, *st.signer, std::chrono::system_clock::now());
  if (!bytes)
    return log::error(component, "cannot sign the tree policy: " + bytes.err().message);
  auto rules = verify_tree_policy(*st.trust, *bytes);
  if (!rules)
    return log::error(component, "the tree policy just signed does not verify: " + rules.err().message);
  if (auto r = adopt_policy(self, *bytes, *rules); !r)
    log::error(component, "cannot keep the tree policy: " + r.err().message);
}

/// At the parent: a child asks for a new certificate.
void on_rotation_request(identity_manager_pointer self, const std::string& origin,
                         const std::string& payload) {
  auto& st = self->state;
  auto txn = st.store.env->begin_write();
  if (!txn)
    return log::error(component, txn.err().message);
  auto rec = txn->get(st.store.children, origin);
  v1::NodeIdentity enrolled;
  if (!rec || !rec->has_value() || !proto::parse_into(enrolled, **rec, 64 * 1024)) {
    log::warning(component, "rotation request from " + origin + " refused: not enrolled here",
                 {{"reason", "forbidden"}});
    return;
  }
  auto refuse = [&](const error& err) {
    log::warning(component, "rotation request from " + origin + " refused: " + err.message,
                 {{"reason", to_string(err.code)}});
    self->send(st.audit, audit_atom::value, std::string{component}, std::string{"pki.rotation.refused"},
               std::vector<std::string>{"node", origin, "reason", err.message});
  };
  auto now = std::chrono::system_clock::now();
  auto answer = answer_rotation_request(*st.trust, *st.signer, origin, enrolled, payload, now,
                                       st.rules.certificate_lifetime);
  if (!answer)
    return refuse(answer.err());
  if (auto leaf = crypto::certificate::from_der(crypto::to_bytes(answer->second.chain().certificates(0)));
      !leaf)
    return refuse(leaf.err());
  else if (auto r = refuse_revoked_key(*txn, st.store, leaf->public_key()); !r)
    return refuse(r.err());
  // The old key vouched for the new one: the tree learns it from a notice, checked here as every
  // node checks it (a revoked certificate vouches for nothing) and applied here first, in the same
  // commit, so that a confirmation of the old fingerprint carries over (SYS-2.1).
  auto notice = make_rotation_notice(payload, enrolled.chain(), answer->second.chain(), now);
  auto continuity = verify_rotation_notice(*st.trust, notice, now);
  if (!continuity)
    return refuse(continuity.err());
  std::string record;
  answer->second.SerializeToString(&record);
  if (auto r = txn->put(st.store.children, origin, record); !r)
    return log::error(component, r.err().message);
  auto outcome = apply_rotation_notice(*txn, st.store, *continuity, notice, now_ms());
  if (!outcome)
    return log::error(component, outcome.err().message);
  if (auto r = txn->commit(); !r)
    return log::error(component, r.err().message);
  self->send(st.audit, audit_atom::value, std::string{component}, std::string{"pki.rotation.issued"},
             std::vector<std::string>{"node", origin, "fingerprint", answer->second.fingerprint()});
  publish(self, rotation_issued_topic, origin, answer->first);
  count_notice(self, *outcome);
  spread(self, rotation_notice_topic, notice, st.trust->self(), false);
}

/// Anywhere in the tree: a rotation notice. Verified, applied once and spread once; a notice that
/// does not verify changes nothing and goes no further.
void on_rotation_notice(identity_manager_pointer self, const std::string& origin,
                        const std::string& payload) {
  auto& st = self->state;
  auto refuse = [&](const error& err) {
    ++st.notices_refused;
    log::warning(component, "rotation notice from " + origin + " refused: " + err.message,
                 {{"reason", to_string(err.code)}});
    self->send(st.audit, audit_atom::value, std::string{component},
               std::string{"pki.rotation.notice.refused"},
               std::vector<std::string>{"origin", origin, "reason", std::string{to_string(err.code)},
                                        "detail", err.message});
  };
  auto continuity = verify_rotation_notice(*st.trust, payload, std::chrono::system_clock::now());
  if (!continuity)
    return refuse(continuity.err());
  auto txn = st.store.env->begin_write();
  if (!txn)
    return log::error(component, txn.err().message);
  auto outcome = apply_rotation_notice(*txn, st.store, *continuity, payload, now_ms());
  if (!outcome)
    return log::error(component, outcome.err().message);
  if (auto r = txn->commit(); !r)
    return log::error(component, r.err().message);
  count_notice(self, *outcome);
  const auto& c = *continuity;
  switch (*outcome) {
    case notice_outcome::confirmed:
      log::notice(component, "rotated certificate of " + c.fqdn + " trusted: its confirmed key vouched "
                             "for it", {{"old", c.old_fingerprint}, {"new", c.new_fingerprint}});
      self->send(st.audit, audit_atom::value, std::string{component},
                 std::string{"pki.rotation.confirmed"},
                 std::vector<std::string>{"node", c.fqdn, "old", c.old_fingerprint, "new",
                                          c.new_fingerprint});
      break;
    case notice_outcome::not_confirmed_here:
      log::info(component, "rotation of " + c.fqdn + " noted; it confirms nothing here: the old "
                           "fingerprint was not confirmed at this node",
                {{"old", c.old_fingerprint}, {"new", c.new_fingerprint}});
      break;
    case notice_outcome::replayed:
      log::info(component, "rotation notice for " + c.new_fingerprint + " applied before; ignored",
                {{"origin", origin}, {"reason", "replayed"}});
      return;
  }
  spread(self, rotation_notice_topic, payload, origin, !in_subtree(origin, st.trust->self()));
}

/// At the child: the parent's answer.
void on_rotation_answer(identity_manager_pointer self, const std::string& origin,
                        const std::string& payload) {
  auto& st = self->state;
  if (origin != parent_of(*st.trust) || !st.pending) {
    log::warning(component, "unexpected rotation answer from " + origin, {{"reason", "forbidden"}});
    return;
  }
  auto chain = accept_rotation_answer(*st.trust, *st.pending, payload, std::chrono::system_clock::now());
  if (!chain) {
    log::warning(component, "rotation answer refused: " + chain.err().message,
                 {{"reason", to_string(chain.err().code)}});
    return;
  }
  auto old_fp = st.trust->own_chain().front().fingerprint();
  auto new_fp = chain->front().fingerprint();
  if (auto r = install_rotation(self, std::move(*chain)); !r) {
    log::error(component, "cannot install the rotated key: " + r.err().message);
    return;
  }
  log::notice(component, "key rotated", {{"old", old_fp}, {"new", new_fp}});
  self->send(st.audit, audit_atom::value, std::string{component}, std::string{"pki.rotated"},
             std::vector<std::string>{"old", old_fp, "new", new_fp});
}

/// Revokes every stored revocation in memory and returns those delivered but not applied before a crash.
std::vector<std::string> read_stored_revocations(identity_manager_pointer self) {
  auto& st = self->state;
  std::vector<std::string> pending;
  auto txn = st.store.env->begin_read();
  if (!txn) {
    log::error(component, "cannot read the store: " + txn.err().describe());
    return pending;
  }
  auto revoked = txn->for_each(st.store.revoked, "", [&](std::string_view fp, std::string_view) {
    st.trust->revoke(std::string{fp});
    return true;
  });
  if (!revoked)
    log::error(component, "cannot read the stored revocations: " + revoked.err().describe());
  auto prefix = std::string{revocation_topic} + '\0';
  auto held = txn->for_each(st.store.inbox, prefix, [&](std::string_view, std::string_view value) {
    auto rec = nlohmann::json::parse(value, nullptr, false);
    if (!rec.is_discarded() && rec.contains("payload_hex"))
      if (auto raw = crypto::from_hex(rec["payload_hex"].get<std::string>()))
        pending.emplace_back(raw->begin(), raw->end());
    return true;
  });
  if (!held)
    log::error(component, "cannot read the revocations delivered before a restart: " + held.err().describe());
  return pending;
}

/// Applies the revocations stored earlier, and any delivered but not applied before a crash.
void restore_revocations(identity_manager_pointer self) {
  // The read transaction ends before apply_revocation() writes.
  auto pending = read_stored_revocations(self);
  for (const auto& bytes : pending)
    if (auto r = apply_revocation(self, bytes); !r)
      log::warning(component, "stored revocation refused: " + r.err().message);
}

/// Hands a delivered message to its handler by topic: rotation requests, answers and notices, revocations.
bool on_deliver(identity_manager_pointer self, const std::string& topic, const std::string& origin,
                const std::string& payload) {
  if (topic == rotation_request_topic) {
    on_rotation_request(self, origin, payload);
    return true;
  }
  if (topic == rotation_issued_topic) {
    on_rotation_answer(self, origin, payload);
    return true;
  }
  if (topic == rotation_notice_topic) {
    on_rotation_notice(self, origin, payload);
    return true;
  }
  if (topic == tree_policy_topic) {
    on_policy(self, origin, payload);
    return true;
  }
  if (topic != revocation_topic)
    return true;
  auto res = apply_revocation(self, payload);
  if (!res) {
    log::warning(component, "revocation from " + origin + " refused: " + res.err().message,
                 {{"reason", to_string(res.err().code)}});
    return true;
  }
  if (res->second)
    spread(self, revocation_topic, payload, origin, !in_subtree(origin, self->state.trust->self()));
  return true;
}

/// Applies a revocation made at this node and spreads it if it is new; returns its fingerprint.
caf::result<std::string> on_local_revoke(identity_manager_pointer self, const std::string& bytes) {
  auto res = apply_revocation(self, bytes);
  if (!res)
    return to_caf(res.err());
  if (res->second)
    spread(self, revocation_topic, bytes, self->state.trust->self(), false);
  return res->first;
}

/// Starts a key rotation when the certificate is older than the rotation period, and checks again later.
void on_tick(identity_manager_pointer self) {
  auto& st = self->state;
  auto own = st.trust->own_chain();
  if (!own.empty() && own.size() > 1 && !st.pending
      && std::chrono::system_clock::now() - own.front().not_before() >= st.rules.rotation_period)
    start_rotation(self);
  hand_down_policy(self);
  self->delayed_send(self, check_interval(st.rules), tick_atom::value);
}

/// Revocations applied, the own fingerprint, and the rotation state of this node.
caf::settings identity_status(identity_manager_pointer self) {
  auto& st = self->state;
  caf::settings notices;
  for (const auto& [outcome, n] : st.notices)
    put_status(notices, outcome, n);
  put_status(notices, "refused", st.notices_refused);
  caf::settings doc;
  put_status(doc, "revocations_applied", st.applied);
  auto chain = st.trust->own_chain();  // a copy: the view may rotate meanwhile
  const auto& leaf = chain.front();
  put_status(doc, "fingerprint", leaf.fingerprint());
  // What the IT administrator compares and watches: who the certificate names, and until when.
  auto subject = leaf.subject();
  put_status(doc, "subject", "CN=" + subject.common_name + ", O=" + subject.organisation
                               + (subject.department.empty() ? "" : ", OU=" + subject.department));
  put_status(doc, "contact", subject.email);
  put_status(doc, "not_after_ms", static_cast<int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    leaf.not_after().time_since_epoch()).count()));
  if (chain.size() > 1)
    put_status(doc, "issuer_fingerprint", chain[1].fingerprint());
  put_status(doc, "rotation_pending", st.pending.has_value());
  // The root's rules as this node holds them (0: not handed down yet, the defaults are in force).
  put_status(doc, "rotation_period_s", static_cast<int64_t>(st.rules.rotation_period.count()));
  put_status(doc, "certificate_lifetime_s", static_cast<int64_t>(st.rules.certificate_lifetime.count()));
  put_status(doc, "policy_issued_at_ms", st.rules.issued_at_ms);
  put_status(doc, "rotation_notices", std::move(notices));
  return doc;
}

} // namespace

result<void> finish_pending_rotation(const identity_files& files) {
  auto chain_new = files.chain;
  chain_new += ".new";
  if (!std::filesystem::exists(chain_new))
    return ok();
  auto key_new = files.key;
  key_new += ".new";
  std::error_code ec;
  if (std::filesystem::exists(key_new)) {
    // Crash before the key was moved: the old key and chain are still in place and consistent.
    std::filesystem::remove(key_new, ec);
    std::filesystem::remove(chain_new, ec);
    return ok();
  }
  // The new key is in place, its chain is not yet: finish.
  std::filesystem::rename(chain_new, files.chain, ec);
  if (ec)
    return fail(errc::io_error, "cannot finish the interrupted key rotation: " + ec.message());
  return ok();
}

identity_manager_actor::behavior_type
identity_manager(identity_manager_pointer self, std::shared_ptr<trust_view> trust,
                 std::shared_ptr<memory_signer> signer, identity_files files, node_store store,
                 connection_manager_actor cm, service_broker_actor broker, audit_log_actor audit) {
  auto& st = self->state;
  st.files = std::move(files);
  st.signer = std::move(signer);
  st.trust = std::move(trust);
  st.store = std::move(store);
  st.cm = std::move(cm);
  st.broker = std::move(broker);
  st.audit = std::move(audit);
  const auto& own = st.trust->own_chain();
  auto names = own.empty() ? std::vector<std::string>{} : own.back().dns_names();
  st.domain = names.empty() ? st.trust->self() : names.front();
  // Revocations stored earlier, and any delivered but not applied before a crash.
  restore_revocations(self);
  load_policy(self);
  self->send(self, tick_atom::value);
  return {
    [=](deliver_atom, std::string& topic, std::string& origin, std::string& payload) {
      return on_deliver(self, topic, origin, payload);
    },
    [=](revoke_atom, std::string& bytes) { return on_local_revoke(self, bytes); },
    [=](rotate_atom) -> std::string { return start_rotation(self); },
    [=](tick_atom) { on_tick(self); },
    [=](status_atom) { return identity_status(self); },
  };
}

} // namespace joconde
