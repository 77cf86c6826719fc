#include "joconde/runtime/lmdb.hpp"

#include <lmdb.h>

#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>

namespace joconde::lmdb {

namespace {

/// Below this many free bytes, a failed write is taken for a full file system.
constexpr std::uint64_t low_space_bytes = std::uint64_t{1} << 20;

/// Bytes free for unprivileged writers on the file system of `dir`; nullopt if unknown.
std::optional<std::uint64_t> free_bytes(const std::filesystem::path& dir) {
  struct statvfs st{};
  if (dir.empty() || ::statvfs(dir.c_str(), &st) != 0)
    return std::nullopt;
  return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

/// The directory of the environment `env`, or "".
std::filesystem::path dir_of(MDB_env* env) {
  const char* path = nullptr;
  if (env == nullptr || mdb_env_get_path(env, &path) != 0 || path == nullptr)
    return {};
  return std::filesystem::path{path}.lexically_normal();
}

/// True if `rc` means the file system is full: ENOSPC or EDQUOT, or EIO with (almost) nothing
/// free, which is what LMDB reports when a write of its pages comes up short on a full disk.
bool out_of_space(int rc, const std::filesystem::path& dir) {
  if (rc == ENOSPC || rc == EDQUOT)
    return true;
  if (rc != EIO)
    return false;
  auto free = free_bytes(dir);
  return free && *free < low_space_bytes;
}

/// The error for LMDB's `rc` while doing `what` in the environment `env` (nullptr if none yet).
/// A full file system is no_space naming the store's directory, and the environment notes it for
/// /healthz until a later commit succeeds with room to spare.
error storage(int rc, std::string_view what, MDB_env* env = nullptr,
              std::filesystem::path dir = {}) {
  if (dir.empty())
    dir = dir_of(env);
  if (out_of_space(rc, dir)) {
    auto free = free_bytes(dir);
    std::string msg = std::string{what} + ": no space left on device: the file system of the store "
                      + dir.string() + " is full"
                      + (free ? " (" + std::to_string(*free) + " bytes free)" : std::string{})
                      + "; free space there or move the data directory";
    if (auto* e = env != nullptr ? static_cast<environment*>(mdb_env_get_userctx(env)) : nullptr)
      e->note_no_space(msg);
    return fail(errc::no_space, std::move(msg));
  }
  std::string msg = std::string{what} + ": " + mdb_strerror(rc);
  if (rc == MDB_MAP_FULL)
    msg += " (raise storage.map-size)";
  if (!dir.empty())
    msg += " (store " + dir.string() + ")";
  return fail(errc::storage_error, std::move(msg));
}

MDB_val val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}

std::string_view view(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

} // namespace

// -- txn_base -------------------------------------------------------------------------------------------

txn_base::txn_base(txn_base&& other) noexcept : txn_(other.txn_) {
  other.txn_ = nullptr;
}

txn_base& txn_base::operator=(txn_base&& other) noexcept {
  if (this != &other) {
    if (txn_ != nullptr)
      mdb_txn_abort(txn_);
    txn_ = other.txn_;
    other.txn_ = nullptr;
  }
  return *this;
}

txn_base::~txn_base() {
  if (txn_ != nullptr)
    mdb_txn_abort(txn_);
}

result<std::optional<std::string>> txn_base::get(const database& db, std::string_view key) const {
  if (txn_ == nullptr)
    return fail(errc::invalid_state, "transaction already finished");
  auto k = val(key);
  MDB_val v;
  auto rc = mdb_get(txn_, db.dbi, &k, &v);
  if (rc == MDB_NOTFOUND)
    return std::optional<std::string>{};
  if (rc != 0)
    return storage(rc, "cannot read");
  return std::optional<std::string>{std::string{view(v)}};
}

result<void> txn_base::for_each(const database& db, std::string_view prefix,
                                const std::function<bool(std::string_view, std::string_view)>& fn) const {
  return for_each_after(db, prefix, {}, fn);
}

result<void>
txn_base::for_each_after(const database& db, std::string_view prefix, std::string_view after,
                         const std::function<bool(std::string_view, std::string_view)>& fn) const {
  if (txn_ == nullptr)
    return fail(errc::invalid_state, "transaction already finished");
  MDB_cursor* cur = nullptr;
  if (auto rc = mdb_cursor_open(txn_, db.dbi, &cur); rc != 0)
    return storage(rc, "cannot open a cursor");
  auto start = after.empty() ? prefix : after;
  auto k = val(start);
  MDB_val v;
  int rc = start.empty() ? mdb_cursor_get(cur, &k, &v, MDB_FIRST)
                         : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  if (rc == 0 && !after.empty() && view(k) == after)
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  while (rc == 0) {
    auto key = view(k);
    if (key.substr(0, prefix.size()) != prefix)
      break;
    if (!fn(key, view(v)))
      break;
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cur);
  if (rc != 0 && rc != MDB_NOTFOUND)
    return storage(rc, "cannot iterate");
  return ok();
}

result<size_t> txn_base::count(const database& db) const {
  MDB_stat st;
  if (auto rc = mdb_stat(txn_, db.dbi, &st); rc != 0)
    return storage(rc, "cannot count");
  return static_cast<size_t>(st.ms_entries);
}

// -- write_txn ------------------------------------------------------------------------------------------

result<void> write_txn::put(const database& db, std::string_view key, std::string_view value) {
  if (txn_ == nullptr)
    return fail(errc::invalid_state, "transaction already finished");
  auto k = val(key);
  auto v = val(value);
  if (auto rc = mdb_put(txn_, db.dbi, &k, &v, 0); rc != 0)
    return storage(rc, "cannot write", mdb_txn_env(txn_));
  return ok();
}

result<bool> write_txn::put_if_absent(const database& db, std::string_view key,
                                      std::string_view value) {
  if (txn_ == nullptr)
    return fail(errc::invalid_state, "transaction already finished");
  auto k = val(key);
  auto v = val(value);
  auto rc = mdb_put(txn_, db.dbi, &k, &v, MDB_NOOVERWRITE);
  if (rc == MDB_KEYEXIST)
    return false;
  if (rc != 0)
    return storage(rc, "cannot write", mdb_txn_env(txn_));
  return true;
}

result<bool> write_txn::del(const database& db, std::string_view key) {
  if (txn_ == nullptr)
    return fail(errc::invalid_state, "transaction already finished");
  auto k = val(key);
  auto rc = mdb_del(txn_, db.dbi, &k, nullptr);
  if (rc == MDB_NOTFOUND)
    return false;
  if (rc != 0)
    return storage(rc, "cannot delete", mdb_txn_env(txn_));
  return true;
}

result<void> write_txn::commit() {
  if (txn_ == nullptr)
    return fail(errc::invalid_state, "transaction already finished");
  auto* env = mdb_txn_env(txn_);
  auto rc = mdb_txn_commit(txn_);
  txn_ = nullptr;
  if (rc != 0)
    return storage(rc, "cannot commit", env);
  if (auto* e = static_cast<environment*>(mdb_env_get_userctx(env)); e != nullptr && e->no_space())
    e->note_commit();
  return ok();
}

// -- environment ----------------------------------------------------------------------------------------

environment::~environment() {
  mdb_env_close(env_);
}

result<std::shared_ptr<environment>> environment::open(const std::filesystem::path& dir,
                                                       size_t map_size_bytes, unsigned max_dbs) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return fail(errc::storage_error, "cannot create " + dir.string() + ": " + ec.message());
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  MDB_env* env = nullptr;
  if (auto rc = mdb_env_create(&env); rc != 0)
    return storage(rc, "cannot create an LMDB environment");
  auto cleanup = [&](int rc, std::string_view what) {
    mdb_env_close(env);
    return storage(rc, std::string{what} + " " + dir.string(), nullptr, dir.lexically_normal());
  };
  if (auto rc = mdb_env_set_mapsize(env, map_size_bytes); rc != 0)
    return cleanup(rc, "cannot set the map size of");
  if (auto rc = mdb_env_set_maxdbs(env, max_dbs); rc != 0)
    return cleanup(rc, "cannot set the database count of");
  // MDB_NOTLS: read transactions may be used from thread pools (HTTP handlers). Durable commits.
  if (auto rc = mdb_env_open(env, dir.c_str(), MDB_NOTLS, 0600); rc != 0)
    return cleanup(rc, "cannot open the store in");
  int dead = 0;
  mdb_reader_check(env, &dead);
  std::shared_ptr<environment> out{new environment{env, dir.lexically_normal()}};
  mdb_env_set_userctx(env, out.get());
  return out;
}

void environment::note_no_space(const std::string& message) {
  std::lock_guard guard{fault_mtx_};
  if (!fault_)
    fault_ = space_fault{message, std::chrono::system_clock::now(), 0};
  fault_->message = message;
  ++fault_->failures;
}

void environment::note_commit() {
  auto free = free_bytes(dir_);
  if (free && *free < low_space_bytes)
    return; // it fitted, but the next one will not: still degraded
  std::lock_guard guard{fault_mtx_};
  fault_.reset();
}

std::optional<environment::space_fault> environment::no_space() const {
  std::lock_guard guard{fault_mtx_};
  return fault_;
}

result<database> environment::db(std::string_view name) {
  std::lock_guard guard{mtx_};
  if (auto i = dbs_.find(name); i != dbs_.end())
    return i->second;
  MDB_txn* txn = nullptr;
  if (auto rc = mdb_txn_begin(env_, nullptr, 0, &txn); rc != 0)
    return storage(rc, "cannot begin a transaction");
  MDB_dbi dbi = 0;
  std::string n{name};
  if (auto rc = mdb_dbi_open(txn, n.c_str(), MDB_CREATE, &dbi); rc != 0) {
    mdb_txn_abort(txn);
    return storage(rc, "cannot open database " + n);
  }
  if (auto rc = mdb_txn_commit(txn); rc != 0)
    return storage(rc, "cannot create database " + n, env_);
  database db{dbi, true};
  dbs_.emplace(n, db);
  return db;
}

environment::usage environment::in_use() const {
  MDB_envinfo info{};
  MDB_stat stat{};
  usage out;
  if (mdb_env_info(env_, &info) == 0 && mdb_env_stat(env_, &stat) == 0) {
    out.map_size_bytes = info.me_mapsize;
    out.used_bytes = (static_cast<uint64_t>(info.me_last_pgno) + 1) * stat.ms_psize;
  }
  // Database 0 is LMDB's free-page list: each record is a transaction id and the pages it freed,
  // a count (an MDB_ID, size_t) followed by the page numbers.
  MDB_txn* txn = nullptr;
  if (mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn) != 0)
    return out;
  MDB_cursor* cursor = nullptr;
  if (mdb_cursor_open(txn, 0, &cursor) == 0) {
    MDB_val key{};
    MDB_val value{};
    for (auto rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
      size_t count = 0;
      if (value.mv_size >= sizeof count) {
        std::memcpy(&count, value.mv_data, sizeof count);
        out.free_pages += count;
      }
    }
    mdb_cursor_close(cursor);
  }
  mdb_txn_abort(txn);
  return out;
}

result<void> environment::copy_to(const std::filesystem::path& to) const {
  if (auto rc = mdb_env_copy2(env_, to.c_str(), MDB_CP_COMPACT); rc != 0)
    return fail(errc::storage_error, "cannot copy the store to " + to.string() + ": " + mdb_strerror(rc));
  return ok();
}

result<read_txn> environment::begin_read() const {
  MDB_txn* txn = nullptr;
  if (auto rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn); rc != 0)
    return storage(rc, "cannot begin a read transaction");
  return read_txn{txn};
}

result<write_txn> environment::begin_write() {
  MDB_txn* txn = nullptr;
  if (auto rc = mdb_txn_begin(env_, nullptr, 0, &txn); rc != 0)
    return storage(rc, "cannot begin a write transaction", env_);
  return write_txn{txn};
}

} // namespace joconde::lmdb
