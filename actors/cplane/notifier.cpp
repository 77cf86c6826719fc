#include "cplane/notifier.hpp"

#include "cplane/cta_records.hpp"
#include "cplane/mail_plan.hpp"

#include "joconde/messages/proto.hpp"
#include "joconde/runtime/clock.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/log.hpp"
#include "joconde/runtime/metrics.hpp"

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>

#include <algorithm>

namespace joconde {

namespace {

using nlohmann::json;
constexpr const char* component = "notifier";
constexpr int max_attempts = 12;
constexpr std::int64_t first_retry_ms = 30'000;
constexpr std::int64_t longest_retry_ms = 3'600'000;
/// E-mails sent in one tick at most: a long outbox is worked through over several ticks.
constexpr int per_tick = 20;

std::string big_endian(std::int64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8)
    out[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
  return out;
}

void count(notifier_state& st, const char* result) {
  if (st.outcomes != nullptr)
    st.outcomes->Add({{"result", result}}).Increment();
}

/// Queues the e-mails the CTAs held here call for and that were not queued before.
void queue_new(notifier_pointer self) {
  auto& st = self->state;
  auto users = st.users->list();
  if (!users) {
    log::warning(component, "cannot read the users: " + users.err().message);
    return;
  }
  std::vector<mail_item> planned;
  std::vector<std::string> forgotten;  // keys sent about CTs erased since: nothing will be told again
  {
    auto txn = st.store.env->begin_read();
    if (!txn)
      return;
    std::vector<std::string> erased;
    (void) txn->for_each(st.store.ctas, "", [&](std::string_view, std::string_view value) {
      v1::CtaRecord rec;
      if (!rec.ParseFromArray(value.data(), static_cast<int>(value.size())))
        return true;
      if (rec.status() == v1::CTA_STATUS_ERASED)
        erased.push_back(rec.ctsc().uuid() + "|");
      for (auto& m : plan_mail(rec, st.cfg.self, st.cfg.at_root, *users, st.cfg.portal_url))
        planned.push_back(std::move(m));
      return true;
    });
    for (const auto& prefix : erased)
      (void) txn->for_each(st.store.mail_sent, prefix, [&](std::string_view k, std::string_view) {
        forgotten.emplace_back(k);
        return forgotten.size() < 10000;
      });
  }
  if (!forgotten.empty()) {
    if (auto txn = st.store.env->begin_write()) {
      for (const auto& k : forgotten)
        (void) txn->del(st.store.mail_sent, k);
      (void) txn->commit();
    }
  }
  if (planned.empty())
    return;
  auto txn = st.store.env->begin_write();
  if (!txn)
    return;
  auto now = now_ms();
  int added = 0;
  for (const auto& m : planned) {
    auto fresh = txn->put_if_absent(st.store.mail_sent, m.key, "queued " + std::to_string(now));
    if (!fresh || !*fresh)
      continue;
    json doc{{"key", m.key}, {"to", m.to}, {"subject", m.subject}, {"body", m.body}, {"attempts", 0},
             {"next_at_ms", now}};
    if (auto r = txn->put(st.store.mail_outbox, big_endian(now) + m.key, doc.dump()); !r)
      return;
    ++added;
  }
  if (added > 0 && txn->commit())
    log::info(component, std::to_string(added) + " e-mail(s) queued");
}

/// Sends what is due; a failure waits for its retry, a relay that cannot be reached ends the tick.
void send_due(notifier_pointer self) {
  auto& st = self->state;
  struct due {
    std::string key;
    json doc;
  };
  std::vector<due> batch;
  std::size_t waiting = 0;
  auto now = now_ms();
  {
    auto txn = st.store.env->begin_read();
    if (!txn)
      return;
    (void) txn->for_each(st.store.mail_outbox, "", [&](std::string_view k, std::string_view v) {
      ++waiting;
      auto doc = json::parse(v, nullptr, false);
      if (!doc.is_discarded() && doc.value("next_at_ms", std::int64_t{0}) <= now && batch.size() < per_tick)
        batch.push_back({std::string{k}, std::move(doc)});
      return true;
    });
  }
  if (st.queued != nullptr)
    st.queued->Set(static_cast<double>(waiting));
  for (auto& d : batch) {
    smtp::message m;
    m.from = st.cfg.from;
    for (const auto& to : d.doc["to"])
      m.to.push_back(to.get<std::string>());
    auto id = crypto::hex(crypto::random_bytes(12)) + "@" + st.cfg.self;
    m.text = smtp::compose(st.cfg.from, [&] {
      std::string all;
      for (const auto& t : m.to)
        all += (all.empty() ? "" : ", ") + t;
      return all;
    }(), d.doc.value("subject", ""), d.doc.value("body", ""), id);
    auto sent = smtp::send(st.cfg.relay, m);
    auto txn = st.store.env->begin_write();
    if (!txn)
      return;
    if (sent) {
      (void) txn->del(st.store.mail_outbox, d.key);
      (void) txn->put(st.store.mail_sent, d.doc.value("key", ""), "sent " + std::to_string(now_ms()));
      (void) txn->commit();
      ++st.sent;
      count(st, "sent");
      log::info(component, "e-mail sent", {{"key", d.doc.value("key", "")}, {"recipients", std::to_string(m.to.size())}});
      continue;
    }
    ++st.failures;
    st.last_error = sent.err().message;
    int attempts = d.doc.value("attempts", 0) + 1;
    if (attempts >= max_attempts) {
      (void) txn->del(st.store.mail_outbox, d.key);
      (void) txn->put(st.store.mail_sent, d.doc.value("key", ""), "given up " + std::to_string(now_ms()));
      (void) txn->commit();
      count(st, "given_up");
      log::error(component, "e-mail given up after " + std::to_string(attempts) + " attempts: " + sent.err().message,
                 {{"key", d.doc.value("key", "")}});
      continue;
    }
    auto wait = std::min(longest_retry_ms, first_retry_ms << std::min(attempts - 1, 20));
    d.doc["attempts"] = attempts;
    d.doc["next_at_ms"] = now_ms() + wait;
    (void) txn->put(st.store.mail_outbox, d.key, d.doc.dump());
    (void) txn->commit();
    count(st, "retried");
    log::warning(component, "e-mail not sent, retried in " + std::to_string(wait / 1000) + " s: " + sent.err().message,
                 {{"key", d.doc.value("key", "")}, {"reason", std::string{to_string(sent.err().code)}}});
    // The relay itself failed: the rest of the batch waits for the next tick.
    if (sent.err().code != errc::malformed_input)
      break;
  }
}

} // namespace

notifier_state::~notifier_state() {
  OPENSSL_cleanse(cfg.relay.password.data(), cfg.relay.password.size());
}

notifier_actor::behavior_type notifier(notifier_pointer self, notifier_config cfg, node_store store,
                                       std::shared_ptr<user_directory> users, metrics::registry* metrics) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.store = std::move(store);
  st.users = std::move(users);
  st.metrics = metrics;
  if (metrics != nullptr) {
    st.outcomes = &joconde::metrics::counter_family(metrics->raw(), "joconde_mail_total",
                                                    "e-mails by outcome: sent, retried, given_up");
    st.queued = &joconde::metrics::gauge_family(metrics->raw(), "joconde_mail_queued",
                                                "e-mails waiting in the outbox")
                   .Add({});
  }
  log::notice(component, "e-mail through " + st.cfg.relay.host + ":" + std::to_string(st.cfg.relay.port)
                           + (st.cfg.relay.implicit_tls ? " (TLS)" : " (STARTTLS)") + " from " + st.cfg.from);
  self->send(self, tick_atom::value);
  return {
    [=](tick_atom) {
      queue_new(self);
      send_due(self);
      self->delayed_send(self, self->state.cfg.tick, tick_atom::value);
    },
    [=](status_atom) {
      auto& s = self->state;
      caf::settings doc;
      caf::put(doc, "relay", s.cfg.relay.host + ":" + std::to_string(s.cfg.relay.port));
      caf::put(doc, "sent", static_cast<int64_t>(s.sent));
      caf::put(doc, "failures", static_cast<int64_t>(s.failures));
      caf::put(doc, "last_error", s.last_error);
      return doc;
    },
  };
}

} // namespace joconde
