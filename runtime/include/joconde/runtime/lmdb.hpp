#pragma once

// A thin LMDB wrapper (DESIGN.md §10): one environment per process, shared by its actors; durable
// commits; short transactions. Every LMDB failure becomes errc::storage_error saying what to do,
// but a full file system, which is errc::no_space "no space left on device" naming the store (LMDB
// itself reports a write cut short by a full disk as an I/O error).

#include "joconde/messages/result.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

  /// What a scrub did.
  struct scrub_report {
    uint64_t pages = 0;          ///< pages of the file read (up to the last one in use)
    uint64_t free_zeroed = 0;    ///< free pages overwritten with zeros
    uint64_t gaps_zeroed = 0;    ///< pages in use whose unused middle was overwritten with zeros
    uint64_t free_waiting = 0;   ///< free pages a reader may still see: left for the next scrub
    uint64_t oldest_txn = 0;     ///< pages freed by transactions before this one were scrubbed
    bool deferred = false;       ///< transactions kept the store from being reopened: try later
  };

  /// Overwrites with zeros what LMDB keeps of deleted values: LMDB copies a page on write and puts
  /// the old copy on its free list without clearing it, and a deletion inside a page leaves the
  /// value's bytes in the unused middle of the page (or carries other stale bytes there). Holding
  /// the write lock and writing nothing through LMDB, it zeroes every free page no reader can see
  /// any more (freed before the oldest reader's snapshot) and the unused middle (between the node
  /// pointers and the nodes) of every branch and leaf page in use, in the file, then syncs it.
  /// Readers never look at either. Relies on the LMDB 0.9 page layout (checked: unsupported
  /// otherwise). Costs a read of the whole file.
  result<scrub_report> scrub();

  /// Asks for a scrub that covers everything freed up to now (an erasure was committed).
  void want_scrub();

  /// Scrubs when one is wanted: reopens the environment (LMDB keeps the pages it wrote in memory,
  /// with their bytes, and would write them into later pages), commits two small writes of its own
  /// so that the last wanted transaction is no longer among the newest, then scrubs. The wish stays
  /// until a scrub covered every transaction up to the one it named (a reader's old snapshot may
  /// hold it back; transactions that stay open keep the reopening from happening: `deferred`).
  /// Nothing when no scrub is wanted. Call it from a thread that holds no transaction.
  result<std::optional<scrub_report>> scrub_if_wanted();

  /// Closes and opens the environment again once no transaction is open (new ones wait meanwhile;
  /// false if some stay open longer than `drain`). The named databases keep their handles. If it
  /// cannot be opened again as it was, the process stops (abort, with the reason on stderr): the
  /// node cannot go on without its store, and a restart opens it as at any start.
  result<bool> reopen(std::chrono::milliseconds drain);

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

  /// A transaction begins (waits while the environment is being reopened) / ended.
  void txn_begins() const;
  void txn_ended() const;

private:
  environment(MDB_env* env, std::filesystem::path dir, size_t map_size, unsigned max_dbs)
    : env_(env), dir_(std::move(dir)), map_size_(map_size), max_dbs_(max_dbs) {
    // nop
  }

  /// Lets one use of env_ outside a transaction object through the gate.
  struct gate_pass {
    explicit gate_pass(const environment& e) : e(e) { e.txn_begins(); }
    ~gate_pass() { e.txn_ended(); }
    gate_pass(const gate_pass&) = delete;
    gate_pass& operator=(const gate_pass&) = delete;
    const environment& e;
  };

  static result<MDB_env*> open_env(const std::filesystem::path& dir, size_t map_size_bytes, unsigned max_dbs);

  MDB_env* env_;
  std::filesystem::path dir_;
  size_t map_size_;
  unsigned max_dbs_;
  std::mutex mtx_;
  std::map<std::string, database, std::less<>> dbs_;
  std::vector<std::string> order_;  ///< names of dbs_ in the order they were opened
  mutable std::mutex gate_mtx_;
  mutable std::condition_variable gate_cv_;
  mutable int active_ = 0;          ///< transactions (and other uses of env_) under way
  mutable bool reopening_ = false;
  mutable std::mutex fault_mtx_;
  std::optional<space_fault> fault_;
  std::atomic<uint64_t> scrub_upto_{0};  ///< the newest transaction a wanted scrub must cover
};

} // namespace joconde::lmdb
