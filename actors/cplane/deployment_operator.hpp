#pragma once

// The Deployment Operator of a Computing Party (DESIGN.md §4; spec §4.3.2: controller and task
// assembler), spawned only at nodes whose role is `computing`.
//
// When the artefact manager stores a final CTA that names this node among its Computing Parties,
// the operator checks that the CTSC accepts the launch measurement of this node's CT VM image
// (joconde-vm and its image configuration, platform "simulated"), prepares DATA_DIR/ct/UUID (the
// CTA, an admin token, the VM's data directory) and starts the VM through its provisioner
// (provisioner.hpp). Then, from a timer (never blocking its own thread: the VM's admin endpoint is
// asked by a detached helper, vm_admin_actor):
//   - it waits (bounded) for the VM's endpoints.json and reports the VM's addresses to the root
//     (topic cta.vm, v1::VmEndpoint);
//   - it polls GET /status about every 200 ms and reports every new event to the root (topic
//     cta.telemetry, v1::TelemetryEvent);
//   - once the root has forwarded the addresses of every CP's VM, it posts them to the VM (/peers);
//   - when the CTA is cancelled (or erased) here, it posts /cancel, waits up to 10 s, then kills it;
//   - when the VM has ended, whatever the reason, it archives the VM's log to DATA_DIR/ct-logs,
//     removes DATA_DIR/ct/UUID, writes a signed v1::ErasureRecord into the audit log and reports an
//     "erased" event.
// A CT directory found at start-up belongs to a VM that died with the node (its sealing key with
// it): the directory is removed the same way and a "vm" event "lost on node restart" is reported.
// A CT is deployed at most once per node run.
//
// Telemetry events the operator itself reports: kind "vm" (value "started ...", "refused: ...",
// "no endpoints within ...", "lost on node restart") and kind "erased" (subject: the cause, finished,
// cancelled or vm-exited; value: exit status and files removed).
//
// Metrics (families added to the node's registry here):
//   joconde_ct_vms_running                 gauge    CT VMs this node runs now
//   joconde_ct_vms_total{outcome}          counter  CT VMs by outcome: started, refused, finished,
//                                                   cancelled, vm-exited, lost

#include "joconde/messages/cplane.hpp"

#include "../mplane/node_signer.hpp"
#include "../mplane/node_store.hpp"
#include "provisioner.hpp"
#include "vm_directory.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
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

/// How the operator is set up.
struct deployment_operator_config {
  std::string self;                    ///< this node's FQDN
  std::string root;                    ///< the root's FQDN
  std::string node_name;               ///< short name, used in archived log names
  std::filesystem::path data_dir;      ///< DATA_DIR: ct/ and ct-logs/ live here
  tee_config tee;                      ///< the CT VM image and the simulated platform
  std::shared_ptr<provisioner> vms;    ///< starts the VMs (made from `tee` when empty)
  std::shared_ptr<vm_directory> directory; ///< told where each running VM's admin endpoint is; may be null
  std::chrono::milliseconds poll_interval{200};
  std::chrono::milliseconds endpoints_wait{60'000};
  std::chrono::milliseconds cancel_wait{10'000};
  std::chrono::milliseconds admin_timeout{1'000};
};

/// One CT VM this node runs.
struct ct_vm;

/// State of the deployment operator.
struct deployment_operator_state {
  static inline const char* name = "deployment_operator";
  deployment_operator_config cfg;
  std::shared_ptr<const node_signer> signer;
  node_store store;
  service_broker_actor broker;
  audit_log_actor audit;
  /// The running VMs by CTA uuid.
  std::map<std::string, std::unique_ptr<ct_vm>> vms;
  /// CTAs whose VM was started (or refused) since this node started: never twice.
  std::set<std::string> handled;
  bool ticking = false;
  uint64_t started = 0;
  uint64_t refused = 0;
  uint64_t ended = 0;
  prometheus::Gauge* running = nullptr;
  prometheus::Family<prometheus::Counter>* outcomes = nullptr;

  deployment_operator_state();
  ~deployment_operator_state();
};

using deployment_operator_pointer =
  deployment_operator_actor::stateful_pointer<deployment_operator_state>;

deployment_operator_actor::behavior_type
deployment_operator(deployment_operator_pointer self, deployment_operator_config cfg,
                    std::shared_ptr<const node_signer> signer, node_store store,
                    service_broker_actor broker, audit_log_actor audit, metrics::registry* metrics);

/// The detached helper that asks one VM's admin endpoint (http://`admin`) with its bearer token.
vm_admin_actor::behavior_type vm_admin_client(vm_admin_actor::pointer self, std::string admin,
                                              std::string token, std::chrono::milliseconds timeout);

} // namespace joconde
