#pragma once

// The onboarding sub-commands of joconde-node (spec §4.3.4, DESIGN.md §6.1 and §7): they work on a
// node's directory, with or without the node running, and print fingerprints for out-of-band
// comparison. Plain code; no actors.

#include "joconde/messages/result.hpp"

#include <filesystem>
#include <map>
#include <string>
#include <vector>

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

/// `revoke`: revokes this node's own certificate (signed with its key), or, at the root with
/// `root_mark`, marks another node's certificate as lost. The running node applies it, drops links to
/// the revoked node and spreads the revocation through the tree.
result<std::vector<std::string>> revoke(const std::filesystem::path& dir, const std::string& reason,
                                        bool root_mark, const std::string& fingerprint,
                                        const std::string& fqdn);

/// `rotate`: asks the running node to rotate its key now (it also does so by itself when its
/// certificate is older than pki.rotation-period-hours).
result<std::vector<std::string>> rotate(const std::filesystem::path& dir);

/// `fingerprint`: the fingerprints of this node's certificate and root CA.
result<std::vector<std::string>> show_fingerprints(const std::filesystem::path& dir);

/// Reads a whole file.
result<std::string> read_file(const std::filesystem::path& file);

/// Writes a whole file with the given permissions, atomically (temporary file + rename).
result<void> write_file(const std::filesystem::path& file, std::string_view content,
                        std::filesystem::perms perms);

/// Reads the first line of a secret file (pass phrase, token), refusing group/world-readable files.
result<std::string> read_secret(const std::filesystem::path& file);

} // namespace joconde::pki
