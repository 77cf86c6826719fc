#pragma once

// What the HTTP API of a running node can reach. Include only from CAF translation units.

#include "../cplane/provisioner.hpp"
#include "../mplane/access_policy.hpp"
#include "../mplane/node_store.hpp"
#include "../mplane/user_directory.hpp"
#include "../mplane/trust_view.hpp"
#include "joconde/messages/cplane.hpp"
#include "node_config.hpp"

#include <caf/actor_system.hpp>

#include <memory>
#include <string>

namespace joconde {

namespace http {
class server;
struct response;
}
namespace metrics {
class registry;
}
class portal_sessions;
class oidc_login;
class vm_directory;

/// The handles and shared state of a running node.
struct node_context {
  caf::actor_system* sys = nullptr;
  node_config cfg;
  std::string fqdn;
  std::string domain;            ///< FQDN of the root node (the tree's domain)
  std::string fingerprint;
  std::shared_ptr<trust_view> trust;
  node_store store;
  connection_manager_actor cm;
  service_broker_actor broker;
  identity_manager_actor identity;
  key_manager_actor keys;
  access_manager_actor access;
  std::shared_ptr<const access_policy> policy;
  audit_log_actor audit;
  artefact_manager_actor artefacts;
  deployment_operator_actor deployer;  ///< computing nodes only
  io_service_actor io;                 ///< uploads and downloads of this node's people
  std::string admin_token;
  std::shared_ptr<user_directory> users;
  std::shared_ptr<portal_sessions> sessions;  ///< the portal's sessions; null when the portal is off
  std::shared_ptr<oidc_login> oidc;           ///< log-in through the organisation's OpenID provider, or null
  std::shared_ptr<vm_directory> vms;          ///< computing nodes: where their CT VMs answer, or null
  metrics::registry* metrics = nullptr;
};

/// The simulated TEE pieces the node's tee.* keys name.
inline tee_config tee_of(const node_config& cfg) {
  return {cfg.tee_provisioner == "inproc" ? provisioner_kind::inproc : provisioner_kind::process,
          vm_network{cfg.vm_bind, cfg.vm_advertise, cfg.vm_admin_bind, cfg.vm_ports},
          cfg.tee_sp_binary, cfg.tee_vm_binary, cfg.tee_platform_dir, cfg.tee_image_config};
}

/// The HTTP status of a refused API request with this error code.
int http_status(errc code);

/// The answer to an API request an actor refused with `err`.
http::response error_response(const caf::error& err);

/// "cp1" -> "cp1.joconde.test", "root" -> "joconde.test"; FQDNs stay as they are.
std::string resolve(const node_context& ctx, const std::string& name);

/// Registers the health endpoint and the node's JSON API.
void register_routes(http::server& server, std::shared_ptr<node_context> ctx);

} // namespace joconde
