#pragma once

// Strict mock Management Plane neighbours for deterministic actor tests (support/sequence.hpp): a
// service broker that records what it is asked to publish, an audit log that records every event,
// and a connection manager that records the fingerprints it is told to drop. Any other message of
// their interfaces fails the test.

#include "support/sequence.hpp"

#include "joconde/messages/mplane.hpp"

#include <memory>
#include <string>
#include <vector>

namespace joconde::test {

/// One publish request the mock broker received.
struct published {
  std::string topic;
  std::vector<std::string> to;
  std::string payload;
};

/// A strict broker that records every publish and answers it with one envelope id.
inline service_broker_actor::behavior_type mock_broker(service_broker_actor::pointer,
                                                       std::shared_ptr<std::vector<published>> log) {
  return strict_behavior<service_broker_actor>(
    "the mock broker",
    [=](publish_atom, std::string& topic, std::vector<std::string>& to, std::string&, std::string& payload,
        uint32_t) {
      log->push_back({topic, to, payload});
      return std::vector<std::string>{"id"};
    });
}

/// One audit record: the event and its fields.
struct audited {
  std::string event;
  std::vector<std::string> fields;
};

/// A strict audit log that records every event it is sent.
inline audit_log_actor::behavior_type mock_audit(audit_log_actor::pointer,
                                                 std::shared_ptr<std::vector<audited>> log) {
  return strict_behavior<audit_log_actor>(
    "the mock audit log",
    [=](audit_atom, std::string&, std::string& event, std::vector<std::string>& fields) {
      log->push_back({event, fields});
    },
    [=](audit_atom, std::string&, std::string& event, uint32_t, std::vector<std::string>& fields) {
      log->push_back({event, fields});
    });
}

/// A strict connection manager that records the fingerprints it is told to drop.
inline connection_manager_actor::behavior_type mock_cm(connection_manager_actor::pointer,
                                                       std::shared_ptr<std::vector<std::string>> dropped) {
  return strict_behavior<connection_manager_actor>("the mock connection manager",
                                                   [=](revoke_atom, std::string& fp) { dropped->push_back(fp); });
}

/// Stops `actors` (an actor under test and its mocks) and lets them finish.
template <class Self, class... Handles>
void shut_down(Self& self, caf::scheduler::test_coordinator& sched, const Handles&... actors) {
  (self->send_exit(actors, caf::exit_reason::user_shutdown), ...);
  sched.run();
}

} // namespace joconde::test
