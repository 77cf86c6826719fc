#pragma once

// VM provisioners of a Computing Party (DESIGN.md §8): how the Deployment Operator starts one CT VM
// and tracks it. `process` (the default) runs the simulated secure processor, `joconde-sp launch`,
// which measures and executes joconde-vm; `inproc` (tests) runs vm::run_vm in a thread of the node
// with an in-memory simulated attester (provisioner_inproc.cpp). Both leave the same files in the
// CT's directory: the VM's data directory with endpoints.json and vm.log.
//
// No CAF here: plain classes the operator drives from its timer.

#include "joconde/enclave/simulated.hpp"
#include "joconde/messages/result.hpp"
#include "joconde/io/net.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace joconde {

/// Which provisioner starts CT VMs (node key tee.provisioner).
enum class provisioner_kind { process, inproc };

/// Where a Computing Party's CT VMs listen and how others reach them (node keys vm.*; DESIGN.md §3:
/// nothing assumes loopback).
struct vm_network {
  std::string bind = "127.0.0.1";        ///< bind address of the client, peer and MPC endpoints
  std::string advertise = "127.0.0.1";   ///< host name or address clients and counterparts dial
  std::string admin_bind = "127.0.0.1";  ///< bind address of the admin endpoint (this node only)
  net::port_range ports{20000, 20999};   ///< the ports of every VM's four endpoints; empty: any
};

/// How many ports one CT VM takes from vm.ports: client, peer, MPC and admin endpoint.
inline constexpr unsigned ports_per_vm = 4;

/// Whether one more CT VM fits into the port range next to `running` ones: resource_exhausted
/// naming the range and what to do when it does not (an empty range, any port, always fits).
result<void> check_port_budget(const vm_network& network, std::size_t running);

/// Where the pieces of the simulated TEE are (node keys tee.*) and where its VMs listen (vm.*).
struct tee_config {
  provisioner_kind kind = provisioner_kind::process;
  vm_network network;
  std::filesystem::path sp_binary;     ///< joconde-sp, the simulated secure processor
  std::filesystem::path vm_binary;     ///< joconde-vm, the CT VM image
  std::filesystem::path platform_dir;  ///< the platform keys `joconde-sp init` made
  std::filesystem::path image_config;  ///< the measured image configuration of joconde-vm
};

/// The launch measurement of the CT VM image this node runs: enclave::measure() over the bytes of
/// the VM binary and of the image configuration, as joconde-sp computes it. io_error naming the key
/// and the file when one cannot be read.
result<enclave::measurement> image_measurement(const tee_config& tee);

/// What GET /v1/tee shows: {"platform":"simulated","simulated":true,"image":"joconde-vm VERSION",
/// "measurement":HEX,"note":...}; the error of image_measurement otherwise.
result<nlohmann::json> tee_description(const tee_config& tee);

/// What the operator hands a provisioner to start one CT VM: the CT's directory is prepared (the CTA
/// file and the admin token are written, the VM's data directory exists with mode 0700).
struct vm_launch {
  std::string uuid;                       ///< the CTA
  std::uint32_t cp_index = 0;             ///< this CP's index in Ctsc.computing_parties
  enclave::host_data cta_hash{};          ///< canonical hash of the final CTA (the VM's host data)
  std::filesystem::path ct_dir;           ///< DATA_DIR/ct/UUID; the provisioner may write here
  std::filesystem::path vm_dir;           ///< CT_DIR/vm, the VM's data directory
  std::filesystem::path cta_file;         ///< the serialized v1::FinalCta
  std::filesystem::path admin_token_file; ///< the admin endpoint's bearer token (hex, mode 0600)
  std::string admin_token;                ///< the same token
};

/// One started CT VM.
class vm_handle {
public:
  virtual ~vm_handle() = default;

  /// True while the VM runs (reaps it when it ended).
  virtual bool alive() = 0;

  /// The VM's exit status once it ended (128 + signal when a signal ended it), else nullopt.
  virtual std::optional<int> exit_status() = 0;

  /// Asks the VM to stop (SIGTERM to the secure processor, which forwards it; the stop flag).
  virtual void stop() = 0;

  /// Ends the VM now (SIGKILL; in-process: the stop flag, the thread cannot be killed).
  virtual void kill() = 0;

  /// What this VM is for logs ("pid 1234", "thread").
  virtual std::string describe() const = 0;
};

/// Starts CT VMs.
class provisioner {
public:
  virtual ~provisioner() = default;

  /// Starts the VM of `launch`; errors say which file or setting is wrong (per CT, not fatal).
  virtual result<std::unique_ptr<vm_handle>> start(const vm_launch& launch) = 0;

  /// At start-up, for a CT directory left over from before a restart: ends whatever VM still runs
  /// from it (the process provisioner recorded its pid). The directory itself stays.
  virtual void end_leftover(const std::filesystem::path& ct_dir) = 0;

  /// "process" or "inproc".
  virtual std::string name() const = 0;
};

/// The `process` provisioner: `SP launch --platform ... --vm ... --image-config ... --host-data HEX
/// -- VM ARGS` (the VM's network from tee.network) with stdout and stderr appended to CT_DIR/sp.log;
/// its pid goes to CT_DIR/sp.pid.
std::unique_ptr<provisioner> make_process_provisioner(tee_config tee);

/// The `inproc` provisioner (tests): vm::run_vm in a thread with the platform loaded from
/// tee.platform_dir; defined in provisioner_inproc.cpp.
std::unique_ptr<provisioner> make_inproc_provisioner(tee_config tee);

/// The provisioner `tee.kind` names.
std::unique_ptr<provisioner> make_provisioner(const tee_config& tee);

} // namespace joconde
