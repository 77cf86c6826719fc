#pragma once

// The IO Service of a client node (spec §4.3.3.3 "IO Controller" and "Data Protector"; DESIGN.md §4
// io_service, §6 workflows 4 and 6) as plain functions the node's HTTP API calls in its worker
// threads: an upload checks the CSV file against the input's schema before anything leaves the node,
// attests every CT VM (fresh single-use nonce, the measurements the CTSC names, the CTA hash, the CT
// id and the CP id bound into the evidence), secret-shares every column with the CT's engine and
// sends each VM its shares over its attested session; a download attests every VM, receives each
// VM's shares once, checks that the shares agree, rebuilds the table and drops the rows the
// algorithm suppressed. No CAF here.

#include "joconde/enclave/platform.hpp"
#include "joconde/messages/result.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace joconde::v1 {
class FinalCta;
class SignedAuthorization;
} // namespace joconde::v1

namespace joconde::io {

/// Where one CP's CT VM serves clients.
struct vm_address {
  std::uint32_t cp_index = 0;
  std::string client_address;  ///< host:port
};

/// Everything an upload or download needs to know about the CT and whom to trust.
struct io_target {
  const v1::FinalCta* final = nullptr;         ///< the final CTA (borrowed)
  std::vector<vm_address> vms;                 ///< every CP's VM
  std::vector<enclave::bytes> trusted_roots;   ///< DER TEE platform roots
  bool allow_simulated = false;                ///< accept the simulated platform
  std::uint32_t min_tcb_version = 0;
  std::chrono::milliseconds timeout{120'000};  ///< per VM exchange
};

/// What an upload did.
struct upload_report {
  std::uint64_t rows = 0;
  double parse_ms = 0, attest_ms = 0, share_ms = 0, transfer_ms = 0;
  std::string phase;  ///< the CT's phase afterwards, as VM 0 reports it
  bool simulated = false;  ///< the VMs run on the simulated TEE platform
  bool checked = false;    ///< the input has a data-quality check, and the upload passed it
};

/// Uploads `csv` into input `input_key`: refused before anything leaves the node with
/// malformed_input "line L, column C (name): ..." or too_large; then attestation errors as the
/// verifier says (measurement_mismatch, host_data_mismatch, debug_enabled, untrusted_chain,
/// certificate_revoked, replayed, ...) naming the CP, before any share is sent; then the VMs'
/// refusals (forbidden, replayed, invalid_state ...), among them quality_failed: the upload failed
/// its input's data-quality check, run at the CPs before they answer, and the input is empty again. `progress` (may be empty) is told the bytes
/// sent so far out of the total.
result<upload_report> upload(const io_target& target, const std::string& input_key,
                             std::string_view csv, const v1::SignedAuthorization& authorization,
                             const std::function<void(std::uint64_t, std::uint64_t)>& progress = {});

/// What a download produced.
struct download_report {
  std::string csv;              ///< the output table, suppressed rows dropped
  std::uint64_t rows = 0;       ///< rows in csv
  std::uint64_t suppressed = 0; ///< rows the algorithm marked invalid (filtered, empty groups)
  std::uint64_t confidential = 0; ///< rows in csv its rule withholds (CONF_STATUS C, values empty)
  double attest_ms = 0, transfer_ms = 0, rebuild_ms = 0;
  bool simulated = false;
};

/// Downloads output `output_key` once from every VM and rebuilds it; malformed_input when the VMs'
/// shares disagree, the VMs' own refusals otherwise, their message kept ("the CT VM of cp-N
/// refused: ..."): already_exists (the PAK's peer retrieved this output before), invalid_state (not
/// in the output phase), forbidden (this PAK may not read it, or the output is not named for the
/// peer whose CTSA lists it).
result<download_report> download(const io_target& target, const std::string& output_key,
                                 const v1::SignedAuthorization& authorization);

} // namespace joconde::io
