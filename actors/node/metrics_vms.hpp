#pragma once

// The CT VMs' metrics on a computing node's metrics listener (docs/operations.md §9.1; not the API,
// so docs/openapi.yaml does not list these routes): a VM's admin endpoint is on loopback behind a
// bearer token, so the node serves them for Prometheus.
// - GET /metrics/targets: Prometheus HTTP service discovery, one target per running CT VM: the
//   address Prometheus used to reach this listener (its Host), with __metrics_path__
//   /metrics/vm/UUID and the labels ct and node.
// - GET /metrics/vm/{uuid}: that VM's /metrics, fetched now from its admin endpoint (404 for a CT
//   whose VM does not run here, 502 when it does not answer).
// No CAF here.

#include "../cplane/vm_directory.hpp"

#include "joconde/runtime/http_server.hpp"

#include <memory>
#include <string>

namespace joconde {

/// Adds the two routes to `server` (the metrics listener) for the VMs in `vms`, at node `node_name`.
void serve_vm_metrics(http::server& server, std::shared_ptr<const vm_directory> vms, std::string node_name);

} // namespace joconde
