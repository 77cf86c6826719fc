#include "connection_manager.hpp"

#include "audit_heads.hpp"

#include "joconde/messages/caf_error.hpp"
#include "joconde/runtime/log.hpp"
#include "joconde/runtime/metrics.hpp"

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>


namespace joconde {

namespace {

constexpr const char* component = "connection_manager";

using clock = std::chrono::system_clock;

/// True if the current message came from an actor of this process.
bool from_local(connection_manager_pointer self) {
  const auto& sender = self->current_sender();
  return sender != nullptr && sender->node() == self->node();
}

void count_handshake(connection_manager_pointer self, std::string_view outcome) {
  if (self->state.metrics)
    self->state.metrics->handshakes(outcome).Increment();
}

/// Logs, counts and audits a refused handshake or frame; returns the CAF error to answer with.
/// `peer` is an authenticated name; `claimed` what an unauthenticated message says it comes from.
caf::error refuse(connection_manager_pointer self, std::string_view what, const error& err,
                  std::string_view peer = "", std::string_view claimed = "") {
  // Handshake refusals are counted in joconde_handshakes_total; frames here.
  if (self->state.metrics && what.rfind("link.hello", 0) != 0 && what.rfind("link.proof", 0) != 0
      && what.rfind("link.challenge", 0) != 0)
    self->state.metrics->rejected(to_string(err.code)).Increment();
  // A peer with a certificate of the tree can send refused messages as fast as it likes: at most 20
  // a second are logged and audited one by one, the rest in one line and one record per second.
  std::uint64_t held_back = 0;
  bool one_by_one = self->state.refusals.should_log(held_back);
  if (held_back > 0) {
    log::warning(component, std::to_string(held_back) + " more refused handshake(s) or frame(s) were not logged one by one");
    self->send(self->state.audit, audit_atom::value, std::string{component}, std::string{"link.refusals.summarised"},
               std::vector<std::string>{"count", std::to_string(held_back)});
  }
  if (!one_by_one)
    return to_caf(err);
  if (claimed.empty())
    log::warning(component, std::string{what} + " refused: " + err.message,
                 {{"reason", to_string(err.code)}, {"peer", peer}});
  else
    log::warning(component, std::string{what} + " refused: " + err.message,
                 {{"reason", to_string(err.code)}, {"peer", peer}, {"claimed_peer", claimed}});
  self->send(self->state.audit, audit_atom::value, std::string{component}, std::string{what} + ".refused",
             std::vector<std::string>{"reason", std::string{to_string(err.code)}, "peer",
                                      std::string{peer}, "claimed_peer", std::string{claimed},
                                      "detail", err.message});
  return to_caf(err);
}

void set_link_gauge(connection_manager_pointer self, const std::string& peer, const char* dir,
                    double value) {
  if (self->state.metrics)
    self->state.metrics->link_up(peer, dir).Set(value);
}

void schedule_reconnect(connection_manager_pointer self) {
  auto& st = self->state;
  st.connecting = false;
  st.hello.reset();
  st.backoff = st.backoff.count() == 0 ? st.cfg.reconnect_min
                                       : std::min(st.backoff * 2, st.cfg.reconnect_max);
  self->delayed_send(self, st.backoff, connect_atom::value);
}

void parent_failed(connection_manager_pointer self, const std::string& why) {
  auto& st = self->state;
  if (why != st.last_parent_error || st.attempt % 20 == 0)
    log::warning(component, "link to parent failed: " + why,
                 {{"attempt", std::to_string(st.attempt)}});
  st.last_parent_error = why;
  schedule_reconnect(self);
}

void parent_down(connection_manager_pointer self, const std::string& why) {
  auto& st = self->state;
  if (!st.parent)
    return;
  auto peer = st.parent->peer().fqdn;
  log::warning(component, "link to parent " + peer + " is down: " + why);
  st.parent.reset();
  st.parent_handle = nullptr;
  set_link_gauge(self, peer, "parent", 0);
  self->send(st.broker, link_dn_atom::value, peer);
  self->send(st.audit, audit_atom::value, std::string{component}, std::string{"link.down"},
             std::vector<std::string>{"peer", peer, "direction", "parent", "detail", why});
  schedule_reconnect(self);
}

void child_down(connection_manager_pointer self, std::string fqdn, const std::string& why) {
  auto& st = self->state;
  auto i = st.children.find(fqdn);
  if (i == st.children.end())
    return;
  st.child_by_addr.erase(i->second.handle.address());
  st.children.erase(i);
  log::warning(component, "link to child " + fqdn + " is down: " + why);
  set_link_gauge(self, fqdn, "child", 0);
  self->send(st.broker, link_dn_atom::value, fqdn);
  self->send(st.audit, audit_atom::value, std::string{component}, std::string{"link.down"},
             std::vector<std::string>{"peer", fqdn, "direction", "child", "detail", why});
}

/// Keeps a signed audit head (a child's, or the root's own) and counts what became of it; a refusal
/// is logged and audited and changes nothing.
result<head_kept> keep_head(connection_manager_pointer self, const std::string& peer,
                            const crypto::certificate* leaf, const std::string& bytes) {
  auto& st = self->state;
  auto res = leaf == nullptr ? result<head_kept>{fail(errc::unknown_peer, "an audit head from a node "
                                                                          "that is not a linked child")}
             : st.cfg.store  ? keep_audit_head(*st.cfg.store, peer, *leaf, bytes, clock::now())
                             : result<head_kept>{fail(errc::invalid_state, "this node keeps no audit heads")};
  if (st.metrics)
    st.metrics->audit_heads(!res ? to_string(res.err().code)
                            : res->outcome == head_outcome::kept ? "kept" : "unchanged")
      .Increment();
  if (!res) {
    log::warning(component, "audit head refused: " + res.err().message,
                 {{"reason", to_string(res.err().code)}, {"peer", peer}});
    self->send(st.audit, audit_atom::value, std::string{component}, std::string{"audit.head.refused"},
               std::vector<std::string>{"reason", std::string{to_string(res.err().code)}, "peer", peer,
                                        "detail", res.err().message});
  }
  return res;
}

/// Takes this node's latest signed audit head to the parent (kept here at the root); a head the
/// parent did not get goes again at the next checkpoint or link-up.
void report_head(connection_manager_pointer self) {
  auto& st = self->state;
  if (st.audit_head.empty())
    return;
  if (st.cfg.parent_host.empty()) {
    auto own = st.trust->own_chain();
    if (auto kept = keep_head(self, st.trust->self(), &own.front(), st.audit_head); !kept)
      log::error(component, "cannot keep this node's own audit head: " + kept.err().describe());
    return;
  }
  if (!st.parent)
    return;
  self->request(st.parent_handle, st.cfg.request_timeout, head_atom::value, st.audit_head)
    .then([=](uint64_t kept) { log::debug(component, "the parent keeps this node's audit head",
                                          {{"seq", std::to_string(kept)}}); },
          [=](caf::error& err) {
            log::warning(component, "the parent did not keep this node's audit head: " + describe(err));
          });
}

/// Step 3 of the child's handshake: the parent accepted the proof.
void parent_established(connection_manager_pointer self, link_session session,
                        connection_manager_actor handle) {
  auto& st = self->state;
  st.connecting = false;
  st.hello.reset();
  st.backoff = std::chrono::milliseconds{0};
  st.last_parent_error.clear();
  auto peer = session.peer().fqdn;
  st.parent = std::move(session);
  st.parent_handle = handle;
  self->monitor(handle);
  set_link_gauge(self, peer, "parent", 1);
  count_handshake(self, "ok");
  log::info(component, "link to parent " + peer + " is up", {{"fingerprint", st.parent->peer().fingerprint}});
  self->send(st.audit, audit_atom::value, std::string{component}, std::string{"link.up"},
             std::vector<std::string>{"peer", peer, "direction", "parent", "fingerprint",
                                      st.parent->peer().fingerprint});
  self->send(st.broker, link_up_atom::value, peer, true);
  report_head(self);
}

/// Connects to the parent over mTLS and runs the child's side of the handshake.
void connect_parent(connection_manager_pointer self) {
  auto& st = self->state;
  if (st.cfg.parent_host.empty() || st.parent || st.connecting)
    return;
  st.connecting = true;
  ++st.attempt;
  auto mm = self->system().openssl_manager().actor_handle();
  self->request(mm, st.cfg.request_timeout, caf::connect_atom::value, st.cfg.parent_host,
                st.cfg.parent_port)
    .then(
      [=](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
        auto& st = self->state;
        if (!ptr)
          return parent_failed(self, "nothing is published at the parent address");
        auto handle = caf::actor_cast<connection_manager_actor>(ptr);
        auto hello = make_hello(*st.trust);
        if (!hello)
          return parent_failed(self, hello.err().describe());
        st.hello.emplace(std::move(*hello));
        self->request(handle, st.cfg.request_timeout, hello_atom::value, st.hello->hello)
          .then(
            [=](std::string& challenge) {
              auto& st = self->state;
              if (!st.hello)
                return parent_failed(self, "handshake state lost");
              auto res = on_challenge(*st.trust, *st.signer, *st.hello, challenge, clock::now());
              if (!res) {
                refuse(self, "link.challenge", res.err(), st.hello->expected_parent);
                count_handshake(self, to_string(res.err().code));
                return parent_failed(self, res.err().describe());
              }
              auto session = std::make_shared<link_session>(std::move(res->first));
              self->request(handle, st.cfg.request_timeout, proof_atom::value, res->second)
                .then(
                  [=](bool accepted) {
                    if (!accepted)
                      return parent_failed(self, "the parent refused the proof");
                    parent_established(self, std::move(*session), handle);
                  },
                  [=](caf::error& err) { parent_failed(self, describe(err)); });
            },
            [=](caf::error& err) { parent_failed(self, describe(err)); });
      },
      [=](caf::error& err) { parent_failed(self, describe(err)); });
}

void purge_pending(connection_manager_pointer self) {
  auto now = std::chrono::steady_clock::now();
  auto& pending = self->state.pending;
  for (auto i = pending.begin(); i != pending.end();)
    i = i->second.expires < now ? pending.erase(i) : std::next(i);
}

/// The link a frame or ack came over, by the sending actor: nullptr if none.
link_session* link_of_sender(connection_manager_pointer self, std::string& peer, bool& is_parent) {
  auto& st = self->state;
  const auto& sender = self->current_sender();
  if (sender == nullptr)
    return nullptr;
  auto addr = sender->address();
  if (st.parent && st.parent_handle && addr == st.parent_handle.address()) {
    peer = st.parent->peer().fqdn;
    is_parent = true;
    return &*st.parent;
  }
  if (auto i = st.child_by_addr.find(addr); i != st.child_by_addr.end()) {
    peer = i->second;
    is_parent = false;
    return &st.children.at(i->second).session;
  }
  return nullptr;
}

/// Step 1 of the parent's handshake: checks a child's hello and answers with a challenge.
caf::result<std::string> on_hello_msg(connection_manager_pointer self, std::string& hello) {
  auto& st = self->state;
  purge_pending(self);
  auto res = on_hello(*st.trust, *st.signer, hello, clock::now());
  if (!res) {
    count_handshake(self, to_string(res.err().code));
    return refuse(self, "link.hello", res.err(), "", hello_claimed_sender(hello));
  }
  // One handshake in progress per child: a new hello from the same (verified) child replaces
  // its earlier one, so a child cannot use up the slots its siblings need.
  auto& child = res->first.child.fqdn;
  for (auto i = st.pending.begin(); i != st.pending.end();)
    i = i->second.child.fqdn == child ? st.pending.erase(i) : std::next(i);
  if (st.pending.size() >= st.cfg.max_pending_handshakes) {
    count_handshake(self, "busy");
    return refuse(self, "link.hello", fail(errc::forbidden, "too many handshakes in progress"),
                  child);
  }
  auto key = res->first.session;
  st.pending.emplace(key, std::move(res->first));
  return std::move(res->second);
}

/// Step 3 of the parent's handshake: the child's proof was accepted, its link is up.
void child_established(connection_manager_pointer self, link_session link,
                       connection_manager_actor handle, const std::string& fingerprint) {
  auto& st = self->state;
  auto fqdn = link.peer().fqdn;
  if (st.children.count(fqdn) > 0)
    child_down(self, fqdn, "replaced by a new link");
  st.child_by_addr[handle.address()] = fqdn;
  st.children.insert_or_assign(fqdn, connection_manager_state::child_link{std::move(link), handle});
  self->monitor(handle);
  set_link_gauge(self, fqdn, "child", 1);
  count_handshake(self, "ok");
  log::info(component, "link to child " + fqdn + " is up", {{"fingerprint", fingerprint}});
  self->send(st.audit, audit_atom::value, std::string{component}, std::string{"link.up"},
             std::vector<std::string>{"peer", fqdn, "direction", "child", "fingerprint", fingerprint});
  self->send(st.broker, link_up_atom::value, fqdn, false);
}

/// Step 2 of the parent's handshake: checks a child's proof against its pending challenge.
caf::result<bool> on_proof_msg(connection_manager_pointer self, std::string& proof) {
  auto& st = self->state;
  purge_pending(self);
  auto session = proof_session(proof);
  if (!session) {
    count_handshake(self, to_string(session.err().code));
    return refuse(self, "link.proof", session.err());
  }
  auto i = st.pending.find(*session);
  if (i == st.pending.end()) {
    count_handshake(self, "replayed");
    return refuse(self, "link.proof",
                  fail(errc::replayed, "proof for an unknown, used or expired challenge"));
  }
  auto state = std::move(i->second);
  st.pending.erase(i); // single use, whatever the outcome
  auto link = on_proof(state, proof);
  if (!link) {
    count_handshake(self, to_string(link.err().code));
    return refuse(self, "link.proof", link.err(), state.child.fqdn);
  }
  auto handle = caf::actor_cast<connection_manager_actor>(self->current_sender());
  if (!handle)
    return refuse(self, "link.proof", fail(errc::unknown_peer, "proof with no sender"));
  child_established(self, std::move(*link), handle, state.child.fingerprint);
  return true;
}

/// Runs `open(link, peer, is_parent)` with the link a `kind` of message ("frame" or "ack") came
/// over; refuses the message if it came over none.
template <class Open>
void over_link(connection_manager_pointer self, const std::string& kind, Open open) {
  std::string peer;
  bool is_parent = false;
  auto* link = link_of_sender(self, peer, is_parent);
  if (link == nullptr)
    refuse(self, "link." + kind, fail(errc::unknown_peer, kind + " from a node with no established link"));
  else
    open(*link, peer, is_parent);
}

/// Acknowledges a stored frame, on the same session only: a new session resends anyway.
void ack_frame(connection_manager_pointer self, const std::string& peer, bool is_parent,
               const std::string& session, uint64_t seq) {
  auto& st = self->state;
  if (is_parent && st.parent && st.parent->session() == session)
    self->send(st.parent_handle, ack_atom::value, st.parent->seal_ack(seq));
  else if (auto i = st.children.find(peer);
           !is_parent && i != st.children.end() && i->second.session.session() == session)
    self->send(i->second.handle, ack_atom::value, i->second.session.seal_ack(seq));
}

/// Opens a frame from a linked peer and hands its envelopes to the broker, acknowledging once stored.
void on_frame(connection_manager_pointer self, std::string& bytes) {
  over_link(self, "frame", [&](link_session& link, const std::string& peer, bool is_parent) {
    uint64_t seq = 0;
    auto envelopes = link.open_frame(bytes, seq);
    if (!envelopes) {
      refuse(self, "link.frame", envelopes.err(), peer);
      return;
    }
    auto session = link.session();
    // The broker (of this process) answers once the frame is durable, or with an error; if it
    // never did, the frame would simply come again (no timeout: no wake-up of CAF's clock).
    self->request(self->state.broker, caf::infinite, deliver_atom::value, peer, is_parent, std::move(*envelopes))
      .then([=](bool) { ack_frame(self, peer, is_parent, session, seq); },
            [=](caf::error& err) {
              log::warning(component, "frame from " + peer + " not stored, it will come again: " + describe(err));
            });
  });
}

/// Opens an ack from a linked peer and tells the broker which frame it acknowledges.
void on_ack(connection_manager_pointer self, std::string& bytes) {
  over_link(self, "ack", [&](link_session& link, const std::string& peer, bool) {
    if (auto seq = link.open_ack(bytes))
      self->send(self->state.broker, acked_atom::value, peer, *seq);
    else
      refuse(self, "link.ack", seq.err(), peer);
  });
}

/// Keeps the signed audit head a linked child sent; returns its sequence number.
caf::result<uint64_t> on_head(connection_manager_pointer self, std::string& bytes) {
  std::string peer;
  bool is_parent = false;
  auto* link = link_of_sender(self, peer, is_parent);
  auto kept = keep_head(self, peer, link == nullptr || is_parent ? nullptr : &link->peer().leaf, bytes);
  if (!kept)
    return to_caf(kept.err());
  return kept->seq;
}

/// Seals envelopes into a frame for a linked peer, on a local actor's request; returns its sequence number.
caf::result<uint64_t> on_send(connection_manager_pointer self, std::string& peer,
                              std::vector<std::string>& envelopes) {
  auto& st = self->state;
  if (!from_local(self))
    return refuse(self, "link.send", fail(errc::forbidden, "send requested by a remote node"));
  uint64_t seq = 0;
  if (st.parent && st.parent->peer().fqdn == peer) {
    auto frame = st.parent->seal_frame(envelopes, seq);
    self->send(st.parent_handle, frame_atom::value, std::move(frame));
    return seq;
  }
  if (auto i = st.children.find(peer); i != st.children.end()) {
    auto frame = i->second.session.seal_frame(envelopes, seq);
    self->send(i->second.handle, frame_atom::value, std::move(frame));
    return seq;
  }
  return make_error(errc::invalid_state, "no link to " + peer);
}

/// Drops every link whose peer chain holds the revoked certificate, on a local actor's request.
void on_revoke(connection_manager_pointer self, const std::string& fingerprint) {
  auto& st = self->state;
  if (!from_local(self))
    return;
  auto holds = [&](const link_session& s) {
    for (const auto& cert : s.peer().chain)
      if (cert.fingerprint() == fingerprint)
        return true;
    return false;
  };
  std::vector<std::string> drop;
  for (const auto& [fqdn, link] : st.children)
    if (holds(link.session))
      drop.push_back(fqdn);
  for (const auto& fqdn : drop) {
    child_down(self, fqdn, "certificate revoked");
  }
  if (st.parent && holds(*st.parent))
    parent_down(self, "certificate revoked");
}

/// The status of the link to the parent and of every child link, for local actors only.
caf::result<caf::settings> link_status(connection_manager_pointer self) {
  auto& st = self->state;
  if (!from_local(self))
    return make_error(errc::forbidden, "status requested by a remote node");
  caf::config_value::list links;
  if (!st.cfg.parent_host.empty()) {
    auto names = st.trust->own_chain().size() > 1 ? st.trust->own_chain()[1].dns_names()
                                                  : std::vector<std::string>{};
    caf::settings parent;
    put_status(parent, "peer", names.empty() ? st.cfg.parent_host : names.front());
    put_status(parent, "direction", "parent");
    put_status(parent, "up", st.parent.has_value());
    put_status(parent, "address", st.cfg.parent_host + ":" + std::to_string(st.cfg.parent_port));
    put_status(parent, "last_error", st.last_parent_error);
    links.push_back(status_entry(std::move(parent)));
  }
  for (const auto& [fqdn, link] : st.children) {
    caf::settings child;
    put_status(child, "peer", fqdn);
    put_status(child, "direction", "child");
    put_status(child, "up", true);
    put_status(child, "fingerprint", link.session.peer().fingerprint);
    links.push_back(status_entry(std::move(child)));
  }
  caf::settings doc;
  put_status(doc, "links", std::move(links));
  put_status(doc, "pending_handshakes", st.pending.size());
  return doc;
}

/// A monitored parent or child actor went down: its link is down.
void on_down(connection_manager_pointer self, const caf::down_msg& msg) {
  auto& st = self->state;
  if (st.parent_handle && msg.source == st.parent_handle.address()) {
    parent_down(self, describe(msg.reason));
    return;
  }
  if (auto i = st.child_by_addr.find(msg.source); i != st.child_by_addr.end())
    child_down(self, i->second, describe(msg.reason));
}

} // namespace

connection_manager_actor::behavior_type
connection_manager(connection_manager_pointer self, connection_manager_config cfg,
                   std::shared_ptr<trust_view> trust, std::shared_ptr<const node_signer> signer,
                   service_broker_actor broker, audit_log_actor audit, metrics::registry* metrics) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.trust = std::move(trust);
  st.signer = std::move(signer);
  st.broker = std::move(broker);
  st.audit = std::move(audit);
  st.metrics = metrics;
  self->set_down_handler([=](caf::down_msg& msg) { on_down(self, msg); });
  if (!st.cfg.parent_host.empty())
    self->send(self, connect_atom::value);
  return {
    [=](hello_atom, std::string& hello) { return on_hello_msg(self, hello); },
    [=](proof_atom, std::string& proof) { return on_proof_msg(self, proof); },
    [=](frame_atom, std::string& bytes) { on_frame(self, bytes); },
    [=](ack_atom, std::string& bytes) { on_ack(self, bytes); },
    [=](head_atom, std::string& bytes) { return on_head(self, bytes); },
    [=](checkpt_atom, std::string& bytes) {
      if (!from_local(self))
        return;
      self->state.audit_head = std::move(bytes);
      report_head(self);
    },
    [=](send_atom, std::string& peer, std::vector<std::string>& envelopes) {
      return on_send(self, peer, envelopes);
    },
    [=](connect_atom) { connect_parent(self); },
    [=](revoke_atom, std::string& fingerprint) { on_revoke(self, fingerprint); },
    [=](status_atom) { return link_status(self); },
  };
}

} // namespace joconde
