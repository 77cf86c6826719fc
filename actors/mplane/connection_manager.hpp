#pragma once

// The Connection Manager (DESIGN.md §4): the mTLS links to the parent and the children, each
// authenticated again by the signed-challenge handshake, and the MACed frames on them.

#include "joconde/messages/mplane.hpp"

#include "link_handshake.hpp"
#include "node_store.hpp"
#include "joconde/runtime/log.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <map>
#include <memory>
#include <optional>

namespace joconde::metrics {
class registry;
}

namespace joconde {

/// What the connection manager is configured with.
struct connection_manager_config {
  std::string parent_host;   ///< empty at the root
  uint16_t parent_port = 0;
  std::chrono::milliseconds request_timeout{5000};
  std::chrono::milliseconds reconnect_min{200};
  std::chrono::milliseconds reconnect_max{5000};
  size_t max_pending_handshakes = 64;
  /// Where the children's signed audit heads are kept (and the root's own); unset: they are refused.
  std::optional<node_store> store;
};

/// State of the connection manager.
struct connection_manager_state {
  static inline const char* name = "connection_manager";

  /// One established link to a child.
  struct child_link {
    link_session session;
    connection_manager_actor handle;
  };

  connection_manager_config cfg;
  std::shared_ptr<trust_view> trust;
  std::shared_ptr<const node_signer> signer;
  service_broker_actor broker;
  audit_log_actor audit;
  metrics::registry* metrics = nullptr;
  /// Refused handshakes and frames logged and audited one by one (the rest in a summary).
  log::rate_limiter refusals;

  // -- parent link --
  std::optional<link_session> parent;
  connection_manager_actor parent_handle;
  std::optional<child_handshake> hello;
  bool connecting = false;
  std::chrono::milliseconds backoff{0};
  uint64_t attempt = 0;
  std::string last_parent_error;
  std::string audit_head;       ///< this node's latest signed audit head, sent at every link-up

  // -- child links --
  std::map<std::string, child_link> children;         ///< by child FQDN
  std::map<caf::actor_addr, std::string> child_by_addr;
  std::map<std::string, parent_handshake> pending;    ///< by handshake session
};

using connection_manager_pointer =
  connection_manager_actor::stateful_pointer<connection_manager_state>;

/// The connection manager's behaviour. Set `broker` and `audit` with the `init` fields before use.
connection_manager_actor::behavior_type
connection_manager(connection_manager_pointer self, connection_manager_config cfg,
                   std::shared_ptr<trust_view> trust, std::shared_ptr<const node_signer> signer,
                   service_broker_actor broker, audit_log_actor audit, metrics::registry* metrics);

} // namespace joconde
