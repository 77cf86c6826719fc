#pragma once

// A real six-node cluster on loopback for multi-process tests: `ops/cluster up` in a fresh directory,
// HTTP to the nodes, `ops/cluster down` at the end. Every wait is bounded.

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <sys/types.h>

namespace joconde::test {

/// A running local cluster.
class cluster {
public:
  /// Brings a cluster up in a fresh temporary directory named after `tag`, with `up_args` added to
  /// `ops/cluster up` (already shell-quoted); throws if it fails.
  explicit cluster(const std::string& tag, const std::string& up_args = {});

  /// Brings it down and removes the directory (kept when JOCONDE_KEEP_CLUSTER is set).
  ~cluster();

  /// Runs `ops/cluster ARGS --dir DIR`; returns the exit code.
  int ops(const std::string& args) const;

  /// The node's entry in cluster.json.
  nlohmann::json node(const std::string& name) const;

  /// The node's data directory.
  std::filesystem::path data_dir(const std::string& name) const;

  /// An authenticated JSON call to a node's API; returns {status, body}.
  std::pair<int, nlohmann::json> call(const std::string& name, const std::string& method,
                                      const std::string& path, const nlohmann::json& body = {}) const;

  /// The same call as the node's user of `role` (from cluster.json), or with `token` itself when
  /// `role` is empty.
  std::pair<int, nlohmann::json> call_as(const std::string& name, const std::string& role,
                                         const std::string& method, const std::string& path,
                                         const nlohmann::json& body = {},
                                         const std::string& token = {}) const;

  /// The ids of the envelopes with `topic` in `name`'s inbox (empty if it cannot be read).
  std::set<std::string> inbox_ids(const std::string& name, const std::string& topic) const;

  /// The pid of the joconde-vm that node `cp` runs for the CT `uuid`, or 0 when there is none.
  pid_t vm_pid(const std::string& cp, const std::string& uuid) const;

  /// What CP `cp` still has of CT `uuid`'s VM, once `limit` passed or nothing is left: its process,
  /// its CT directory, a missing archived log, or not exactly one signed erasure record in its audit
  /// log, separated by "; ". Empty when the VM was torn down and erased.
  std::string vm_remains(const std::string& cp, const std::string& uuid,
                                      std::chrono::seconds limit) const;

  /// The node's Prometheus text, or an empty string.
  std::string metrics(const std::string& name) const;

  /// The value of one sample (e.g. `joconde_handshakes_total{result="replayed"}`), 0 if absent.
  double metric(const std::string& name, const std::string& sample) const;

  /// Polls `pred` every 100 ms until it holds or `limit` passes.
  static bool wait_until(const std::function<bool()>& pred, std::chrono::seconds limit);

  /// The directory of the cluster.
  const std::filesystem::path& dir() const { return dir_; }

  /// Reloads cluster.json (after kill/start).
  void reload();

private:
  std::filesystem::path dir_;
  nlohmann::json doc_;
  mutable bool ops_failed_ = false;  ///< an ops/cluster call failed: the end of its log is shown
};

/// True if any regular file below `dir` contains `needle`.
bool any_file_contains(const std::filesystem::path& dir, const std::string& needle);

/// Lines of `file` that contain `needle` (0 if the file cannot be read).
size_t count_lines(const std::filesystem::path& file, const std::string& needle);

/// Lines of `file` that contain every one of `needles`.
size_t count_lines_with_all(const std::filesystem::path& file, const std::vector<std::string>& needles);

} // namespace joconde::test
