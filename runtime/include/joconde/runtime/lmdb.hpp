#pragma once

// A thin LMDB wrapper (DESIGN.md §10): one environment per process, shared by its actors; durable
// commits; short transactions. Every LMDB failure becomes errc::storage_error saying what to do,
// but a full file system, which is errc::no_space "no space left on device" naming the store (LMDB
// itself reports a write cut short by a full disk as an I/O error).

#include "joconde/messages/result.hpp"

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

struct MDB_env;
struct MDB_txn;

namespace joconde::lmdb {

/// A named database inside an environment.
struct database {
  unsigned int dbi = 0;
  bool valid = false;
};

class environment;

/// Operations shared by read and write transactions.
class txn_base {
public:
  txn_base(const txn_base&) = delete;
  txn_base& operator=(const txn_base&) = delete;
  txn_base(txn_base&& other) noexcept;
  txn_base& operator=(txn_base&& other) noexcept;
  ~txn_base();

  /// The value stored under `key`, or nullopt.
  result<std::optional<std::string>> get(const database& db, std::string_view key) const;

  /// Calls `fn` for every key that starts with `prefix`, in key order, until `fn` returns false.
  result<void> for_each(const database& db, std::string_view prefix,
                        const std::function<bool(std::string_view, std::string_view)>& fn) const;

  /// Like for_each, but starts after `after` (all keys with the prefix when `after` is empty).
  result<void> for_each_after(const database& db, std::string_view prefix, std::string_view after,
                              const std::function<bool(std::string_view, std::string_view)>& fn) const;

  /// Number of entries in the database.
  result<size_t> count(const database& db) const;

protected:
  explicit txn_base(MDB_txn* txn) noexcept : txn_(txn) {
    // nop
  }
  MDB_txn* txn_ = nullptr;
};

/// A read-only snapshot.
class read_txn : public txn_base {
public:
  /// Takes ownership of an open LMDB transaction.
  explicit read_txn(MDB_txn* txn) noexcept : txn_base(txn) {
    // nop
  }
};

/// A write transaction; aborted on destruction unless committed.
class write_txn : public txn_base {
public:
  /// Takes ownership of an open LMDB transaction.
  explicit write_txn(MDB_txn* txn) noexcept : txn_base(txn) {
    // nop
  }

  /// Stores `value` under `key`, replacing what was there.
  result<void> put(const database& db, std::string_view key, std::string_view value);

  /// Stores `value` unless `key` exists; returns false if it existed.
  result<bool> put_if_absent(const database& db, std::string_view key, std::string_view value);

  /// Removes `key`; returns false if it was not there.
  result<bool> del(const database& db, std::string_view key);

  /// Makes the changes durable.
  result<void> commit();
};

/// An LMDB environment in a directory.
class environment {
public:
  environment(const environment&) = delete;
  environment& operator=(const environment&) = delete;
  ~environment();

  /// Opens (creating with mode 0700 if needed) the environment in `dir`.
  static result<std::shared_ptr<environment>> open(const std::filesystem::path& dir,
                                                   size_t map_size_bytes, unsigned max_dbs = 32);

  /// Opens or creates the named database.
  result<database> db(std::string_view name);

  /// Starts a read transaction.
  result<read_txn> begin_read() const;

  /// Starts a write transaction (one at a time per environment; others wait).
  result<write_txn> begin_write();

  /// The directory of the environment.
  const std::filesystem::path& dir() const { return dir_; }

  /// How much of the map is in use.
  struct usage {
    uint64_t map_size_bytes = 0;  ///< the map's size
    uint64_t used_bytes = 0;      ///< pages up to the last one written, times the page size
    uint64_t free_pages = 0;      ///< pages among those that LMDB holds free for reuse
  };

  /// The map's size and use now (mdb_env_info, mdb_env_stat; the free pages counted from LMDB's
  /// free-page database in a read transaction).
  usage in_use() const;

  /// Writes a consistent, compacted copy of the environment (one read transaction: writers go on)
  /// into the existing empty directory `to` (data.mdb there); storage_error otherwise.
  result<void> copy_to(const std::filesystem::path& to) const;

  /// A write that failed because the file system is full, as /healthz reports it.
  struct space_fault {
    std::string message;                          ///< the last failure's message
    std::chrono::system_clock::time_point since;  ///< the first failure
    uint64_t failures = 0;                        ///< failed writes since then
  };

  /// The standing "no space left" fault: set by a write that failed for lack of space, cleared
  /// by the next commit that succeeds with room to spare (1 MiB) on the file system.
  std::optional<space_fault> no_space() const;

  /// Records a write that failed for lack of space (the wrapper calls it).
  void note_no_space(const std::string& message);

  /// Records a commit that succeeded while a fault stood (the wrapper calls it).
  void note_commit();

private:
  environment(MDB_env* env, std::filesystem::path dir) : env_(env), dir_(std::move(dir)) {
    // nop
  }
  MDB_env* env_;
  std::filesystem::path dir_;
  std::mutex mtx_;
  std::map<std::string, database, std::less<>> dbs_;
  mutable std::mutex fault_mtx_;
  std::optional<space_fault> fault_;
};

} // namespace joconde::lmdb
