#pragma once

// The notifier (DESIGN.md §12): tells people by e-mail when a step of a CT waits for them, when an
// upload was refused, and when a CT was cancelled or finished (mail_plan.hpp says who and what).
// Sending never blocks the workflow: every 2 s the notifier reads the CTAs held here, puts each new
// e-mail into the store's outbox (mail_outbox, written before anything is sent, so a restart loses
// none) and marks its key sent (mail_sent, so none goes twice; forgotten once the CT is erased, when
// nothing more is told about it), then sends what is due through the
// relay. A failure is retried after 30 s, doubling up to an hour; after 12 attempts the e-mail is
// given up. Every outcome is counted (joconde_mail_total{result=sent|retried|given_up},
// joconde_mail_queued) and logged without the addresses' messages.
//
// Outbox values are JSON: {key, to: [...], subject, body, attempts, next_at_ms}.

#include "mplane/node_store.hpp"
#include "joconde/messages/cplane.hpp"
#include "joconde/runtime/smtp_client.hpp"
#include "mplane/user_directory.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <memory>
#include <string>

namespace prometheus {
class Gauge;
class Counter;
template <class T>
class Family;
} // namespace prometheus

namespace joconde::metrics {
class registry;
}

namespace joconde {

/// What the notifier needs to know.
struct notifier_config {
  std::string self;          ///< this node's FQDN
  bool at_root = false;
  std::string from;          ///< sender address
  std::string portal_url;    ///< https://host:port of the portal, for the links
  smtp::relay relay;         ///< where e-mail goes (its password is wiped when the actor ends)
  std::chrono::milliseconds tick{2000};
};

struct notifier_state {
  static inline const char* name = "notifier";
  notifier_config cfg;
  node_store store;
  std::shared_ptr<user_directory> users;
  metrics::registry* metrics = nullptr;
  prometheus::Family<prometheus::Counter>* outcomes = nullptr;
  prometheus::Gauge* queued = nullptr;
  std::uint64_t sent = 0;
  std::uint64_t failures = 0;
  std::string last_error;

  ~notifier_state();
};

using notifier_pointer = notifier_actor::stateful_pointer<notifier_state>;

notifier_actor::behavior_type notifier(notifier_pointer self, notifier_config cfg, node_store store,
                                       std::shared_ptr<user_directory> users, metrics::registry* metrics);

} // namespace joconde
