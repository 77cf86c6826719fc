#pragma once

// The onboarding sub-commands of joconde-node (spec §4.3.4, DESIGN.md §6.1 and §7): they work on a
// node's directory, with or without the node running, and print fingerprints for out-of-band
// comparison. Plain code; no actors.

#include "joconde/messages/result.hpp"
#include "joconde/runtime/http_server.hpp"

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace joconde {
struct node_config;
} // namespace joconde

namespace joconde::pki {

/// What `init` needs to know about the node being set up.
struct init_options {
  std::filesystem::path dir;
  std::string name;
  std::string role;            ///< root | client | computing
  std::string domain;          ///< root only: the DNS domain of the whole tree (joconde.test)
  std::string organisation;
  std::string department;
  std::string email;           ///< a non-personal contact address
  std::string listen;
  std::string http;
  std::string metrics;
  std::string parent;          ///< host:port of the parent (members only)
  std::map<std::string, std::string> settings; ///< further configuration keys ("vm.advertise")
};

/// `init --root`: root CA (key kept apart for offline storage) and the root node's key and certificate.
result<std::vector<std::string>> init_root(const init_options& opts);

/// `init`: a member node's encrypted key, certificate request and configuration.
result<std::vector<std::string>> init_member(const init_options& opts);

/// `enrol`: at the parent, issues a certificate for a child's request and records the child.
result<std::vector<std::string>> enrol(const std::filesystem::path& parent_dir,
                                       const std::filesystem::path& csr_file,
                                       const std::string& role, const std::filesystem::path& out);

/// `install`: at the child, checks the issued chain against its key and the root and installs it.
result<std::vector<std::string>> install(const std::filesystem::path& dir,
                                         const std::filesystem::path& chain_file,
                                         const std::filesystem::path& root_ca_file);

/// `trust confirm`: records a fingerprint an operator compared out of band (ADR-5, SYS-2.1).
result<std::vector<std::string>> trust_confirm(const std::filesystem::path& dir,
                                               const std::string& fingerprint);

/// `trust remove`: withdraws a confirmation (a mistake, or a member no longer trusted); not_found if
/// the fingerprint is not confirmed. Works with the node running: it reads the store at each check.
result<std::vector<std::string>> trust_remove(const std::filesystem::path& dir,
                                              const std::string& fingerprint);

/// `trust list`: every confirmed fingerprint, and whether an operator compared it or it is the
/// rotation successor of one that was.
result<std::vector<std::string>> trust_list(const std::filesystem::path& dir);

/// `revoke`: revokes this node's own certificate (signed with its key), or, at the root with
/// `root_mark`, marks another node's certificate as lost. The running node applies it, drops links to
/// the revoked node and spreads the revocation through the tree.
result<std::vector<std::string>> revoke(const std::filesystem::path& dir, const std::string& reason,
                                        bool root_mark, const std::string& fingerprint,
                                        const std::string& fqdn);

/// `rotate`: asks the running node to rotate its key now (it also does so by itself when its
/// certificate is older than the rotation period the root sets, tree_policy.hpp).
result<std::vector<std::string>> rotate(const std::filesystem::path& dir);

/// `fingerprint`: the fingerprints of this node's certificate and root CA.
result<std::vector<std::string>> show_fingerprints(const std::filesystem::path& dir);

/// Reads a whole file.
result<std::string> read_file(const std::filesystem::path& file);

/// Writes a whole file with the given permissions, atomically (temporary file + rename).
result<void> write_file(const std::filesystem::path& file, std::string_view content,
                        std::filesystem::perms perms);

/// Reads a whole private file (a key), refusing group/world-readable files.
result<std::string> read_private_file(const std::filesystem::path& file);

/// Calls this node's own running API as `token`'s user (admin sub-commands): at its bind address
/// (loopback for a wildcard), trusting the chain it serves (DATA_DIR/http-chain.pem).
result<http::response> call_own_api(const node_config& cfg, const std::string& method,
                                    const std::string& path, std::string body, const std::string& token);

/// Reads the first line of a secret file (pass phrase, token), refusing group/world-readable files.
result<std::string> read_secret(const std::filesystem::path& file);

} // namespace joconde::pki
