#pragma once

// The hash-chained audit log (DESIGN.md §4 audit_log, §11): one RFC 5424 line per event, separate from
// the operational log. Each line carries [audit@32473 seq="N" prev="<SHA-256 of the previous line>"],
// so an edited, inserted, deleted or reordered line breaks the chain; FILE.head holds the sequence and
// hash of the last line written, so that an edit of the last line is found too.

#include "joconde/messages/result.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace joconde {

/// An open audit log file being appended to.
class audit_chain {
public:
  audit_chain(audit_chain&& other) noexcept;
  audit_chain& operator=(audit_chain&& other) = delete;
  audit_chain(const audit_chain&) = delete;
  ~audit_chain();

  /// Opens `file`, verifying the whole chain first (a broken chain is refused, naming the line). A
  /// torn last line left by a crash in the middle of a write is cut off and the cut is recorded.
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

  /// Flushes written records to disk and updates the head file.
  result<void> sync();

  /// Number of records in the file.
  std::uint64_t size() const { return seq_; }

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
};

/// The outcome of checking an audit log file.
struct audit_verdict {
  bool ok = false;
  std::uint64_t records = 0;
  std::uint64_t first_bad_line = 0;
  std::string reason;
};

/// Checks the chain of an audit log file (and its head file when present).
result<audit_verdict> verify_audit_file(const std::filesystem::path& file);

} // namespace joconde
