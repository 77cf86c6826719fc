#pragma once

// joconde-vm: the trusted runtime of one Computation Task at one Computing Party (DESIGN.md §3, §4):
// the supervised actor tree under task_orchestrator. Started by the CP's deployment_operator through a
// VM provisioner: `process` (the simulated secure processor `joconde-sp launch` execs the joconde-vm
// binary; the attester talks to it over JOCONDE_ATTEST_FD) or `inproc` (tests: run_vm in a thread
// of the node with an in-memory simulated attester).
//
// The host (the CP's node) is not trusted with the CT's data: it gives the VM its CTA (checked against
// the host data the platform recorded), its CP index, where to listen (bind addresses, the advertised
// host name and the port range its operator opened), and later its counterparts' addresses and a
// cancel order -- nothing else. The VM's admin endpoint (HTTP, by default on loopback, bearer token)
// serves, for the host:
//   GET  /health              {"status":"ok","phase":...}
//   GET  /status[?since=N]    {"uuid","cp_index","phase","platform","slots":[{key,input,state,rows}],
//                              "events":[{seq,at_ms,kind,subject,value}], "finished":bool}
//   GET  /metrics             Prometheus text (phases, slots, bytes uploaded, MPC rounds and bytes,
//                              attestation failures, refused connections on the peer endpoint)
//   POST /peers               {"peers":[{"cp_index":0,"peer_address":"h:p","mpc_address":"h:p"},..]}
//   POST /cancel              {"reason":"..."}
// and writes DATA_DIR/endpoints.json {"admin","client","peer","mpc"} (host:port each: the admin
// endpoint's bind address, the others at the advertised host) once it listens. Exit status: 0
// finished, 3 cancelled (deadline, peer, host or failure), 1 could not start.

#include "joconde/enclave/platform.hpp"
#include "joconde/io/net.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace joconde::vm {

/// Exit status of a VM whose CT finished (every output retrieved).
inline constexpr int exit_finished = 0;
/// Exit status of a VM that could not start (bad arguments, CTA not matching the host data ...).
inline constexpr int exit_failed = 1;
/// Exit status of a VM whose CT was cancelled (deadline, peer, host, failure).
inline constexpr int exit_cancelled = 3;

/// The measured image configuration of joconde-vm (what `joconde-sp launch --image-config` hashes
/// into the launch measurement): the platform roots it trusts for its counterparts and whether the
/// simulated platform is accepted. Text, one `key = value` per line; `root = <base64 DER>` repeated.
struct image_config {
  std::vector<enclave::bytes> trusted_roots;  ///< DER platform root certificates
  bool allow_simulated = false;
  std::uint32_t min_tcb_version = 0;

  /// Parses the text form; malformed_input saying which line is wrong.
  static result<image_config> parse(std::string_view text);
  /// The text form parse() reads.
  std::string to_text() const;
};

/// What the host tells a VM at launch (not measured: checked against the CTA and the peers' evidence).
struct vm_options {
  std::filesystem::path cta_file;        ///< the final CTA (serialized v1::FinalCta)
  std::uint32_t cp_index = 0;            ///< this CP's index in Ctsc.computing_parties
  std::filesystem::path data_dir;        ///< sealed slot files, endpoints.json, vm.log
  std::string bind_host = "127.0.0.1";  ///< where the client, peer and MPC endpoints listen
  std::string advertise_host;           ///< how clients and counterparts reach them; empty: bind_host
  std::string admin_bind_host = "127.0.0.1"; ///< where the host's admin endpoint listens
  net::port_range ports;                ///< the ports of the four endpoints (the first free ones);
                                        ///< empty: ports the kernel chooses
  std::string admin_token;               ///< bearer token of the admin endpoint
  std::chrono::milliseconds upload_confirm_timeout{20'000};  ///< an upload not sealed at every CP by
                                                             ///< then fails at all
  std::chrono::milliseconds peer_timeout{30'000};  ///< connect and handshake with counterparts
  std::chrono::milliseconds io_timeout{60'000};    ///< longest wait for one message
  double evidence_burst = 64;       ///< client sessions (each with fresh evidence) one source may open at once
  double evidence_per_second = 16;  ///< and then per second
};

/// Runs the VM until its CT finishes or is cancelled; returns the exit status. `attester` proves this
/// VM (fd_attester under joconde-sp; simulated_attester in-process); `image` is the measured
/// configuration; `host` is the host data the platform recorded (the CTA hash). `stop` (may be null)
/// is polled: when it becomes true the VM cancels (in-process provisioner's tear-down).
int run_vm(const vm_options& options, const image_config& image, const enclave::host_data& host,
           std::shared_ptr<const enclave::attester> attester,
           std::shared_ptr<const std::atomic<bool>> stop = nullptr);

} // namespace joconde::vm
