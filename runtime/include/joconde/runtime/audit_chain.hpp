#pragma once

// The hash-chained audit log (DESIGN.md §4 audit_log, §11; docs/operations.md "Audit log"): one
// RFC 5424 line per event, separate from the operational log. Each line carries
// [audit@32473 seq="N" prev="<SHA-256 of the previous line>"], so an edited, inserted, deleted or
// reordered line breaks the chain; FILE.head holds the sequence and hash of the last line written.
//
// The chain alone has no key: whoever can write the file can recompute it. So the chain also holds
// signed checkpoints (an RFC 6962-style signed tree head over the hash chain): an `audit.checkpoint`
// record with the node, the number of records it covers, the hash of the last of them and the time,
// signed with the node key; the certificate chain of that key is in the first checkpoint of a file
// and after every key change. A node sends its latest signed head to its parent, which keeps it: a
// rewritten chain fails the signatures, and a truncated or recomputed one the head kept upstream.

#include "joconde/messages/result.hpp"
#include "joconde/runtime/crypto.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace joconde {

/// The value of ` name="..."` in the audit structured data ([audit@32473 ...]) of a record line, or
/// "" (values are hex, base64, decimal or escaped text, so a match inside another value cannot start
/// with a space and a name).
std::string audit_param(std::string_view line, std::string_view name);

// -- signed heads -------------------------------------------------------------------------------------

/// A signed head of a node's audit chain: records 1..seq, the last of which hashes to `hash`.
struct audit_head {
  std::string node;          ///< FQDN of the node whose log it is
  std::uint64_t seq = 0;     ///< records covered
  std::string hash;          ///< hex SHA-256 of line `seq`
  std::int64_t time = 0;     ///< when it was signed, seconds since the epoch
  std::string key;           ///< fingerprint of the signing public key (SHA-256 of its DER)
  crypto::bytes signature;   ///< ECDSA P-256 with SHA-256 (DER) over signed_text()

  /// The bytes the node key signs: a domain-separated text of node, seq, hash and time.
  std::string signed_text() const;

  /// Checks the signature with `key` (and that `key` is the one named).
  result<void> verify(const crypto::public_key& key) const;
};

/// What signs checkpoints: the node's FQDN, its certificate chain (leaf first) and its key.
struct audit_signer {
  std::string node;
  std::vector<crypto::certificate> chain;
  std::function<result<crypto::bytes>(crypto::bytes_view)> sign;
};

/// A torn last line found at open: cut off, kept in a file of its own and recorded in the chain.
struct audit_torn_line {
  std::uint64_t line = 0;          ///< its line number
  std::uint64_t bytes = 0;         ///< its length
  std::filesystem::path kept_in;   ///< FILE.torn-LINE, its bytes as they were
};

// -- the log being written ----------------------------------------------------------------------------

/// An open audit log file being appended to.
class audit_chain {
public:
  audit_chain(audit_chain&& other) noexcept;
  audit_chain& operator=(audit_chain&& other) = delete;
  audit_chain(const audit_chain&) = delete;
  ~audit_chain();

  /// Opens `file`, verifying the whole chain first (a broken chain is refused, naming the line). A
  /// torn last line left by a crash in the middle of a write is moved to FILE.torn-LINE and an
  /// `audit.torn_line` record names it (torn() tells the caller, which logs and counts it).
  static result<audit_chain> open(const std::filesystem::path& file, std::string app_name,
                                  std::string hostname);

  /// Appends one record (written at once; made durable by sync()). Returns its sequence number.
  result<std::uint64_t> append(std::string_view component, std::string_view event,
                               const std::vector<std::pair<std::string, std::string>>& params);

  /// Appends one record per element of `records` (the same component and event), in one write.
  /// Returns the sequence number of the last.
  result<std::uint64_t>
  append_all(std::string_view component, std::string_view event,
             const std::vector<std::vector<std::pair<std::string, std::string>>>& records);

  /// Appends a signed checkpoint of the records so far and syncs; nothing (an empty optional) when
  /// no record was added since the last checkpoint.
  result<std::optional<audit_head>> checkpoint(const audit_signer& signer,
                                               std::chrono::system_clock::time_point now);

  /// Flushes written records to disk and updates the head file.
  result<void> sync();

  /// Number of records in the file.
  std::uint64_t size() const { return seq_; }

  /// The torn line found by open(), if any.
  const std::optional<audit_torn_line>& torn() const { return torn_; }

private:
  audit_chain(int fd, std::filesystem::path file, std::string app, std::string host,
              std::uint64_t seq, std::string prev);
  int fd_ = -1;
  std::filesystem::path file_;
  std::string app_;
  std::string host_;
  std::uint64_t seq_ = 0;
  std::string prev_;
  bool dirty_ = false;
  std::uint64_t checkpoint_line_ = 0;   ///< line of the last checkpoint (0: none)
  std::string checkpoint_key_;          ///< its key fingerprint (the chain is written again on change)
  std::optional<audit_torn_line> torn_;
};

// -- verification -------------------------------------------------------------------------------------

/// What to check an audit log against, beyond its own chain.
struct audit_verify_options {
  /// The trust anchor of the checkpoints' certificate chains; without it the signatures are checked
  /// against the certificates in the log only (which a forger can replace), and the verdict says so.
  std::optional<crypto::certificate> ca;
  /// The node whose log it is; empty: the node named by the first checkpoint.
  std::string node;
  /// The latest head kept by the node's parent (`joconde-node audit heads`): the log must hold
  /// that record with that hash, so truncation, deletion and a recomputed chain below it are found.
  std::optional<audit_head> kept;
};

/// The outcome of checking an audit log file.
struct audit_verdict {
  bool ok = false;
  std::uint64_t records = 0;
  std::uint64_t first_bad_line = 0;
  std::string reason;
  std::uint64_t checkpoints = 0;       ///< signed checkpoints that verified
  std::uint64_t signed_records = 0;    ///< records covered by the last of them
  std::vector<std::string> notes;      ///< what an auditor should know although the log is intact
};

/// Checks the chain of an audit log file, its checkpoints, its head file and the kept head.
result<audit_verdict> verify_audit_file(const std::filesystem::path& file,
                                        const audit_verify_options& options = {});

/// Reads a head as printed by format_audit_head (one line).
result<audit_head> parse_audit_head(std::string_view line);

/// One line: node seq hash time key signature(base64).
std::string format_audit_head(const audit_head& head);

} // namespace joconde
