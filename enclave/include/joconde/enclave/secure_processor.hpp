#pragma once

// The SIMULATED secure processor as a separate process, `joconde-sp` (DESIGN.md §8, docs/tee.md):
// it holds the platform's signing key outside the VM process, launches the VM from the exact bytes
// it measured, puts the CTA hash into the host data and answers the VM's attestation requests over
// a socket. The VM side is fd_attester. Like the simulated platform itself this gives NO memory
// protection: the host can still read and change the VM's memory.
//
// Attestation socket protocol (a unix stream socket the SP passes to the VM as file descriptor
// number $JOCONDE_ATTEST_FD; integers big-endian; one request, then its reply, at a time):
//
//   request                              reply
//   "JRQ1" || report data (64 bytes)     "JRP1" || u32be(n) || encode(evidence) (n <= 256 KiB)
//                                        or "JRE1" || u32be(n) || "<errc>: <message>" (n <= 4 KiB)
//   "JCF1"                               "JCF1" || u32be(n) || image configuration (n <= 1 MiB)
//                                        || host data (32 bytes)
//
// "JCF1" tells the VM exactly the image configuration it was measured with and its host data (the
// CTA hash). Any other request, or a request not complete within attest_timeout, makes the SP close
// the socket: from then on the VM cannot attest any more.

#include "joconde/enclave/platform.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace joconde::enclave {

// -- the protocol --

/// The environment variable holding the VM's end of the attestation socket.
inline constexpr std::string_view attest_fd_variable = "JOCONDE_ATTEST_FD";

/// How long either side waits for the other to complete a request or a reply.
inline constexpr std::chrono::milliseconds attest_timeout{5000};

/// The largest encoded evidence an SP reply carries.
inline constexpr std::size_t max_evidence_reply = 256 * 1024;

/// The largest error message an SP reply carries.
inline constexpr std::size_t max_error_reply = 4 * 1024;

/// The largest image configuration the SP launches a VM with.
inline constexpr std::size_t max_image_config = 1024 * 1024;

/// What the secure processor launched a VM with, as the VM learns it ("JCF1").
struct launch_info {
  bytes image_config;  ///< the exact configuration bytes that entered the launch measurement
  host_data host{};    ///< the host data (CTA hash) the VM was launched with
};

// -- the VM side --

/// The attester of a VM launched by joconde-sp: asks the SP over the attestation socket. Thread
/// safe: one request and its reply at a time under a mutex. Any I/O or protocol failure breaks the
/// connection for good (later calls return io_error). Movable, not copyable; owns the socket; a
/// moved-from attester answers invalid_state.
class fd_attester final : public attester {
public:
  /// An attester over the connected socket `fd`, which it owns and closes; `timeout` bounds each
  /// request and its reply.
  explicit fd_attester(int fd, std::chrono::milliseconds timeout = attest_timeout);

  /// The attester over the socket named by $JOCONDE_ATTEST_FD; unsets the variable and marks the
  /// socket close-on-exec, so neither leaks into programs the VM starts. invalid_config when the
  /// variable is missing, is not a number or does not name an open socket.
  static result<fd_attester> from_environment();

  fd_attester(fd_attester&&) noexcept;
  fd_attester& operator=(fd_attester&&) noexcept;
  fd_attester(const fd_attester&) = delete;
  fd_attester& operator=(const fd_attester&) = delete;

  /// Closes the socket.
  ~fd_attester() override;

  /// Evidence from the SP binding `data`: timeout when the SP does not answer in time, io_error
  /// when the connection is gone or broken, protocol_error for a reply outside the protocol, the
  /// SP's own error code when it could not make the evidence.
  result<evidence> get_evidence(std::span<const std::uint8_t, 64> data) const override;

  /// The image configuration and host data this VM was launched with; errors as get_evidence.
  result<launch_info> launch_configuration() const;

private:
  struct state;

  /// Sends `request` and reads a reply that must start with `magic`, returning its length-prefixed
  /// body (at most `max` bytes) plus `trailer` more bytes.
  result<bytes> exchange(std::span<const std::uint8_t> request, std::string_view magic,
                         std::size_t max, std::size_t trailer) const;

  std::unique_ptr<state> state_;
};

// -- the secure processor's side --

/// Reads one request from the VM on `fd` and answers it with `vm`'s evidence or `launch`. Returns
/// true when a request was answered, false when the VM closed the socket between requests;
/// protocol_error for a malformed request, timeout when it stalls for `timeout`, io_error when the
/// socket fails. After any error the caller closes the socket.
result<bool> serve_attestation_request(int fd, const attester& vm, const launch_info& launch,
                                       std::chrono::milliseconds timeout = attest_timeout);

/// Answers requests on `fd` until the VM closes it (ok) or sends something malformed (the error).
/// Does not close `fd`.
result<void> serve_attestation(int fd, const attester& vm, const launch_info& launch,
                               std::chrono::milliseconds timeout = attest_timeout);

/// How `joconde-sp launch` starts a VM.
struct launch_settings {
  std::filesystem::path platform_dir;  ///< where `joconde-sp init` saved the platform keys
  std::filesystem::path vm_binary;     ///< the VM program (an ELF executable)
  std::filesystem::path image_config;  ///< the image configuration, measured with the binary
  host_data host{};                    ///< the host data: the CTA hash
  bool debug = false;                  ///< launch with debugging enabled (reports say so)
  bool allow_debug = false;            ///< consent to `debug`; without it a debug launch is refused
  std::uint32_t min_tcb = 0;           ///< refuse a platform whose TCB version is older
  std::vector<std::string> vm_args;    ///< arguments after argv[0] ("joconde-vm")
};

/// The largest VM binary the SP launches.
inline constexpr std::size_t max_vm_binary = 1024 * 1024 * 1024;

/// The bytes of `file`; io_error when it cannot be read, too_large when over `max`.
result<bytes> read_file(const std::filesystem::path& file, std::size_t max);

/// Launches a VM as `joconde-sp launch` does and serves its attestation socket until it exits:
/// reads the binary and the image configuration once, measures them, executes exactly the measured
/// bytes (memfd_create, fexecve) with the socket as $JOCONDE_ATTEST_FD, forwards SIGTERM and SIGINT
/// to the VM, and returns its exit status (128 + signal when a signal ended it). The VM is killed
/// when this process dies (PR_SET_PDEATHSIG). Refuses before launching: forbidden for a debug launch
/// without allow_debug, tcb_outdated when the platform's TCB is below min_tcb, invalid_config for a
/// platform directory that does not load, io_error or too_large for the files, crypto_failure or
/// io_error when the VM cannot be started. Installs signal handlers: meant for the SP's own process.
/// Writes its launch line to stderr.
result<int> launch_vm(const launch_settings& settings);

} // namespace joconde::enclave
