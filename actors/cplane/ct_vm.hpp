#pragma once

// The files and messages of one CT VM at a Computing Party, as the Deployment Operator handles them
// (DESIGN.md §6 workflows 3 and 7): the CT's directory (DATA_DIR/ct/UUID: the final CTA, the admin
// token, the VM's data directory), what the VM writes (endpoints.json) and answers on its admin
// endpoint (GET /status), what the operator posts (/peers), and the signed erasure record written
// when the VM is gone. Plain functions, testable without a VM.

#include "provisioner.hpp"

#include "../mplane/node_signer.hpp"

#include "joconde/agreement.pb.h"
#include "joconde/messages/result.hpp"
#include "joconde/messages/vm_data.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/vm.pb.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace joconde {

/// Where a VM listens, from its endpoints.json.
struct vm_endpoints {
  std::string admin;   ///< host:port of the admin endpoint (loopback, the host only)
  std::string client;  ///< attested client sessions
  std::string peer;    ///< attested sessions of the counterpart VMs
  std::string mpc;     ///< the MPC engine's channel
};

/// Reads endpoints.json ({"admin","client","peer","mpc"}, each host:port); malformed_input when a
/// field is missing or not an address (valid_vm_address).
result<vm_endpoints> parse_endpoints(std::string_view json);

/// One event of a VM's GET /status answer (the VM's own record of it, messages/vm_data.hpp).
using vm_event = vm::vm_event;

/// The events of a GET /status answer with a sequence number above `since`, in order; at most 1000.
/// malformed_input when the answer is not the documented JSON.
result<std::vector<vm_event>> parse_status_events(std::string_view json, std::uint64_t since);

/// The body of POST /peers for the VM addresses `record` holds.
std::string peers_body(const v1::CtaRecord& record);

/// Makes DATA_DIR/ct/UUID (mode 0700) with the VM's data directory `vm`, the final CTA (`cta`,
/// serialized v1::FinalCta) and a fresh admin token (32 random bytes in hex, mode 0600): everything a
/// provisioner needs. already_exists when the CT's directory exists.
result<vm_launch> prepare_ct_dir(const std::filesystem::path& data_dir, const v1::FinalCta& fin,
                                 std::uint32_t cp_index);

/// The cause an erasure record gives for a VM exit status: 0 finished, 3 cancelled, else vm-exited.
std::string erasure_cause(int exit_status);

/// Archives a CT's logs and removes its directory: CT_DIR/vm/vm.log goes to
/// ARCHIVE_DIR/UUID-CP.log and CT_DIR/sp.log (if any) to ARCHIVE_DIR/UUID-CP.sp.log, then CT_DIR is
/// removed. Returns the files removed (relative to CT_DIR); io_error when the directory cannot be
/// removed.
result<std::vector<std::string>> erase_ct_dir(const std::filesystem::path& ct_dir,
                                              const std::filesystem::path& archive_dir,
                                              const std::string& cp_name);

/// The bytes an erasure record's signature covers: "joconde/erasure/v1" || canonical hash of the
/// record without its signature.
result<crypto::bytes> erasure_signing_input(const v1::ErasureRecord& rec);

/// `rec` signed by the node key.
result<v1::ErasureRecord> sign_erasure(v1::ErasureRecord rec, const node_signer& signer);

/// Checks an erasure record's signature with the CP node's public key.
result<void> verify_erasure(const v1::ErasureRecord& rec, const crypto::public_key& key);

} // namespace joconde
