#pragma once

// The host's admin endpoint of a CT VM (vm_run.hpp lists its routes): HTTP with a bearer token, by
// default on loopback, for the CP's own node only. It is the VM's HTTP edge: the only place that
// reads and writes JSON; it asks the actors with typed messages. Include only from actors/vm sources.

#include "joconde/messages/result.hpp"
#include "joconde/messages/vm.hpp"
#include "joconde/runtime/http_server.hpp"
#include "joconde/runtime/vm_metrics.hpp"

#include <caf/actor_system.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace joconde::vm::detail {

/// What the admin endpoint serves and whom it asks.
struct admin_setup {
  std::string listen;                             ///< its host:port
  int listen_fd = -1;                             ///< the socket listening there (the server takes it)
  std::string token;                              ///< the bearer token of the host
  std::shared_ptr<metrics::vm_registry> metrics;  ///< served at /metrics; refusals counted in it
  task_orchestrator_actor orchestrator;           ///< /health, /status, /cancel
  session_manager_actor sessions;                 ///< /peers
};

/// Starts the admin endpoint; errors as http::server::start.
result<std::unique_ptr<http::server>> start_admin(caf::actor_system& sys, admin_setup setup);

} // namespace joconde::vm::detail
