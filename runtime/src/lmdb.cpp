#include "joconde/runtime/lmdb.hpp"

#include <lmdb.h>

namespace joconde::lmdb {

namespace {

error storage(int rc, std::string_view what) {
  std::string msg = std::string{what} + ": " + mdb_strerror(rc);
  if (rc == MDB_MAP_FULL)
    msg += " (raise storage.map-size)";
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
    return storage(rc, "cannot write");
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
    return storage(rc, "cannot write");
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
    return storage(rc, "cannot delete");
  return true;
}

result<void> write_txn::commit() {
  if (txn_ == nullptr)
    return fail(errc::invalid_state, "transaction already finished");
  auto rc = mdb_txn_commit(txn_);
  txn_ = nullptr;
  if (rc != 0)
    return storage(rc, "cannot commit");
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
    return storage(rc, std::string{what} + " " + dir.string());
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
  return std::shared_ptr<environment>{new environment{env, dir}};
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
    return storage(rc, "cannot create database " + n);
  database db{dbi, true};
  dbs_.emplace(n, db);
  return db;
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
    return storage(rc, "cannot begin a write transaction");
  return write_txn{txn};
}

} // namespace joconde::lmdb
