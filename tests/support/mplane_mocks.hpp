#pragma once

// Mock Management Plane neighbours for deterministic actor tests: a service broker that records what
// it is asked to publish, an audit log that records every event, and a connection manager that
// records the fingerprints it is told to drop. Each implements its whole interface. Include after
// support/caf_boost.hpp.

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

/// A broker that records every publish and answers it with one envelope id.
inline service_broker_actor::behavior_type mock_broker(service_broker_actor::pointer,
                                                       std::shared_ptr<std::vector<published>> log) {
  using namespace std::string_literals;
  return {
    [=](deliver_atom, std::string&, bool, std::vector<std::string>&) { return true; },
    [=](link_up_atom, std::string&, bool) {},
    [=](link_dn_atom, std::string&) {},
    [=](acked_atom, std::string&, uint64_t) {},
    [=](publish_atom, std::string& topic, std::vector<std::string>& to, std::string&,
        std::string& payload, uint32_t) {
      log->push_back({topic, to, payload});
      return std::vector<std::string>{"id"};
    },
    [=](tick_atom) {},
    [=](flush_atom, bool) {},
    [=](connect_atom, connection_manager_actor) {},
    [=](connect_atom, std::string&, local_subscriber_actor) {},
    [=](status_atom) { return caf::settings{}; },
  };
}

/// One audit record: the event and its fields.
struct audited {
  std::string event;
  std::vector<std::string> fields;
};

/// An audit log that records every event it is sent.
inline audit_log_actor::behavior_type mock_audit(audit_log_actor::pointer,
                                                 std::shared_ptr<std::vector<audited>> log) {
  using namespace std::string_literals;
  return {
    [=](audit_atom, std::string&, std::string& event, std::vector<std::string>& fields) {
      log->push_back({event, fields});
    },
    [=](audit_atom, std::string&, std::string& event, uint32_t, std::vector<std::string>& fields) {
      log->push_back({event, fields});
    },
    [=](tick_atom) {},
    [=](checkpt_atom) {},
    [=](connect_atom, connection_manager_actor&) {},
    [=](status_atom) { return caf::settings{}; },
  };
}

/// A connection manager with no links that records the fingerprints it is told to drop.
inline connection_manager_actor::behavior_type mock_cm(connection_manager_actor::pointer,
                                                       std::shared_ptr<std::vector<std::string>> dropped) {
  using namespace std::string_literals;
  return {
    [=](hello_atom, std::string&) { return std::string{}; },
    [=](proof_atom, std::string&) { return false; },
    [=](frame_atom, std::string&) {},
    [=](ack_atom, std::string&) {},
    [=](head_atom, std::string&) { return uint64_t{0}; },
    [=](send_atom, std::string&, std::vector<std::string>&) { return uint64_t{0}; },
    [=](connect_atom) {},
    [=](revoke_atom, std::string& fp) { dropped->push_back(fp); },
    [=](checkpt_atom, std::string&) {},
    [=](status_atom) { return caf::settings{}; },
  };
}

} // namespace joconde::test
