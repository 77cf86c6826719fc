#pragma once

// The audit sub-commands of joconde-node (docs/operations.md "Audit log"): `audit verify` checks a
// node's audit log (chain, signed checkpoints against the root CA, the head its parent keeps) and
// `audit heads` prints the signed heads a node keeps for its children. Plain code; no actors.

#include "joconde/messages/result.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace joconde::audit_cli {

/// What `audit verify` checks.
struct verify_request {
  std::filesystem::path dir;    ///< a node's data directory (its audit.log, CA and certificate)
  std::filesystem::path file;   ///< or an audit log file alone
  std::filesystem::path ca;     ///< the root CA (PEM); with --dir: the node's tls.ca
  std::string node;             ///< the node's FQDN; with --dir: from its certificate
  std::filesystem::path head;   ///< a head kept by the parent, as `audit heads` prints it
};

/// The lines to print and whether the log is intact (exit 0) or not (exit 1); an error for a
/// request that cannot be checked (missing CA, unreadable head file).
result<std::pair<bool, std::vector<std::string>>> verify(const verify_request& req);

/// `audit heads --dir DIR [--node FQDN]`: one line per kept head, NODE SEQ HASH TIME KEY SIGNATURE.
result<std::vector<std::string>> heads(const std::filesystem::path& dir, const std::string& node);

} // namespace joconde::audit_cli
