#include "joconde/runtime/lmdb.hpp"

#include <lmdb.h>

#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <vector>

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

/// Aborts `txn` and lets its environment know that it ended.
void abort_txn(MDB_txn* txn) {
  auto* e = static_cast<environment*>(mdb_env_get_userctx(mdb_txn_env(txn)));
  mdb_txn_abort(txn);
  if (e != nullptr)
    e->txn_ended();
}

/// Calls `each(freed_by, page)` for every page listed in LMDB's free-page database (dbi 0) as the
/// read transaction `txn` sees it: a record per transaction that freed pages, its key that
/// transaction's id, its value a count (an MDB_ID, size_t) followed by the page numbers. Returns
/// LMDB's code for opening the cursor (0: the list was read).
template <class Each>
int for_each_free_page(MDB_txn* txn, Each&& each) {
  MDB_cursor* cursor = nullptr;
  if (auto rc = mdb_cursor_open(txn, 0, &cursor); rc != 0)
    return rc;
  MDB_val key{};
  MDB_val value{};
  for (auto rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
    if (key.mv_size != sizeof(size_t) || value.mv_size < sizeof(size_t))
      continue;
    size_t freed_by = 0;
    std::memcpy(&freed_by, key.mv_data, sizeof freed_by);
    const auto* ids = static_cast<const char*>(value.mv_data);
    size_t count = 0;
    std::memcpy(&count, ids, sizeof count);
    count = std::min(count, value.mv_size / sizeof(size_t) - 1);
    for (size_t i = 1; i <= count; ++i) {
      size_t page = 0;
      std::memcpy(&page, ids + i * sizeof(size_t), sizeof page);
      each(freed_by, page);
    }
  }
  mdb_cursor_close(cursor);
  return 0;
}

} // namespace

// -- txn_base -------------------------------------------------------------------------------------------

txn_base::txn_base(txn_base&& other) noexcept : txn_(other.txn_) {
  other.txn_ = nullptr;
}

txn_base& txn_base::operator=(txn_base&& other) noexcept {
  if (this != &other) {
    if (txn_ != nullptr)
      abort_txn(txn_);
    txn_ = other.txn_;
    other.txn_ = nullptr;
  }
  return *this;
}

txn_base::~txn_base() {
  if (txn_ != nullptr)
    abort_txn(txn_);
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
  auto* e = static_cast<environment*>(mdb_env_get_userctx(env));
  auto rc = mdb_txn_commit(txn_);
  txn_ = nullptr;
  if (e != nullptr)
    e->txn_ended();
  if (rc != 0)
    return storage(rc, "cannot commit", env);
  if (e != nullptr && e->no_space())
    e->note_commit();
  return ok();
}

// -- environment ----------------------------------------------------------------------------------------

environment::~environment() {
  if (env_ != nullptr)
    mdb_env_close(env_);
}

result<std::shared_ptr<environment>> environment::open(const std::filesystem::path& dir,
                                                       size_t map_size_bytes, unsigned max_dbs) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return fail(errc::storage_error, "cannot create " + dir.string() + ": " + ec.message());
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  auto env = open_env(dir, map_size_bytes, max_dbs);
  if (!env)
    return env.err();
  std::shared_ptr<environment> out{new environment{*env, dir.lexically_normal(), map_size_bytes, max_dbs}};
  mdb_env_set_userctx(*env, out.get());
  return out;
}

result<MDB_env*> environment::open_env(const std::filesystem::path& dir, size_t map_size_bytes,
                                       unsigned max_dbs) {
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
  return env;
}

// -- the gate: transactions against a reopening --------------------------------------------------------

void environment::txn_begins() const {
  std::unique_lock lock{gate_mtx_};
  gate_cv_.wait(lock, [this] { return !reopening_; });
  ++active_;
}

void environment::txn_ended() const {
  std::lock_guard lock{gate_mtx_};
  --active_;
  gate_cv_.notify_all();
}

result<bool> environment::reopen(std::chrono::milliseconds drain) {
  {
    std::unique_lock lock{gate_mtx_};
    if (reopening_)
      return false;
    reopening_ = true;  // new transactions wait from now on
    if (!gate_cv_.wait_for(lock, drain, [this] { return active_ == 0; })) {
      // One that is open may wait for another to begin (it would wait for this): try later.
      reopening_ = false;
      gate_cv_.notify_all();
      return false;
    }
  }
  struct open_gate {
    environment* e;
    ~open_gate() {
      std::lock_guard lock{e->gate_mtx_};
      e->reopening_ = false;
      e->gate_cv_.notify_all();
    }
  } gate{this};
  std::lock_guard guard{mtx_};
  // The store was open a moment ago; if it cannot be opened again as it was, with the same
  // database handles the node's actors hold, the node cannot go on: a restart opens it as at any
  // start.
  auto fatal = [this](const std::string& why) {
    std::fprintf(stderr, "joconde: fatal: cannot reopen the store %s: %s\n", dir_.c_str(), why.c_str());
    std::abort();
  };
  mdb_env_close(env_);
  env_ = nullptr;
  auto env = open_env(dir_, map_size_, max_dbs_);
  if (!env)
    fatal(env.err().describe());
  env_ = *env;
  mdb_env_set_userctx(env_, this);
  // The named databases again, in the order they were first opened: LMDB gives them the same
  // handles.
  for (const auto& name : order_) {
    MDB_txn* txn = nullptr;
    if (auto rc = mdb_txn_begin(env_, nullptr, 0, &txn); rc != 0)
      fatal(mdb_strerror(rc));
    MDB_dbi dbi = 0;
    auto rc = mdb_dbi_open(txn, name.c_str(), MDB_CREATE, &dbi);
    if (rc == 0)
      rc = mdb_txn_commit(txn);
    else
      mdb_txn_abort(txn);
    if (rc != 0)
      fatal("database " + name + ": " + mdb_strerror(rc));
    if (dbi != dbs_.at(name).dbi)
      fatal("database " + name + " got another handle");
  }
  return true;
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
  gate_pass pass{*this};
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
  order_.push_back(n);
  return db;
}

environment::usage environment::in_use() const {
  gate_pass pass{*this};
  MDB_envinfo info{};
  MDB_stat stat{};
  usage out;
  if (mdb_env_info(env_, &info) == 0 && mdb_env_stat(env_, &stat) == 0) {
    out.map_size_bytes = info.me_mapsize;
    out.used_bytes = (static_cast<uint64_t>(info.me_last_pgno) + 1) * stat.ms_psize;
  }
  MDB_txn* txn = nullptr;
  if (mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn) != 0)
    return out;
  for_each_free_page(txn, [&](size_t, size_t) { ++out.free_pages; });
  mdb_txn_abort(txn);
  return out;
}

result<void> environment::copy_to(const std::filesystem::path& to) const {
  gate_pass pass{*this};
  if (auto rc = mdb_env_copy2(env_, to.c_str(), MDB_CP_COMPACT); rc != 0)
    return fail(errc::storage_error, "cannot copy the store to " + to.string() + ": " + mdb_strerror(rc));
  return ok();
}

result<read_txn> environment::begin_read() const {
  txn_begins();
  MDB_txn* txn = nullptr;
  if (auto rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn); rc != 0) {
    txn_ended();
    return storage(rc, "cannot begin a read transaction");
  }
  return read_txn{txn};
}

result<write_txn> environment::begin_write() {
  txn_begins();
  MDB_txn* txn = nullptr;
  if (auto rc = mdb_txn_begin(env_, nullptr, 0, &txn); rc != 0) {
    txn_ended();
    return storage(rc, "cannot begin a write transaction", env_);
  }
  return write_txn{txn};
}

// -- scrubbing ------------------------------------------------------------------------------------------

namespace {

// LMDB 0.9's page layout (mdb.c, MDB_page): a 16-byte header of the page's number (size_t), a pad
// and the flags (uint16 each), then either the offsets (from the page's start) of the end of the
// node pointers and of the start of the nodes (uint16 each) or, on the first page of an overflow
// run, the run's page count (uint32). Only that first page has a header.
constexpr uint16_t page_branch = 0x01;
constexpr uint16_t page_leaf = 0x02;
constexpr uint16_t page_overflow = 0x04;
constexpr uint16_t page_meta = 0x08;
constexpr uint16_t page_leaf2 = 0x20;
constexpr size_t page_header = 16;

template <class T>
T load(const char* at) {
  T v{};
  std::memcpy(&v, at, sizeof v);
  return v;
}

bool all_zero(const char* p, size_t n) {
  return std::all_of(p, p + n, [](char c) { return c == 0; });
}

result<void> write_zeros(int fd, uint64_t offset, size_t n, const std::filesystem::path& dir) {
  static const std::vector<char> zeros(64 * 1024, 0);
  while (n > 0) {
    auto len = std::min(n, zeros.size());
    auto wrote = ::pwrite(fd, zeros.data(), len, static_cast<off_t>(offset));
    if (wrote < 0 && errno == EINTR)
      continue;
    if (wrote <= 0)
      return fail(errc::storage_error, "cannot scrub the store " + dir.string() + ": " + std::strerror(errno));
    offset += static_cast<uint64_t>(wrote);
    n -= static_cast<size_t>(wrote);
  }
  return ok();
}

/// The snapshots (transaction ids) that readers hold now: mdb_reader_list's lines are
/// "pid thread txnid", txnid "-" when the slot holds none.
int collect_reader(const char* line, void* ctx) {
  std::istringstream in{line};
  std::string pid;
  std::string thread;
  std::string txn;
  if (in >> pid >> thread >> txn && !txn.empty() && std::all_of(txn.begin(), txn.end(), [](unsigned char c) { return std::isdigit(c) != 0; }))
    static_cast<std::vector<uint64_t>*>(ctx)->push_back(std::stoull(txn));
  return 0;
}

} // namespace

result<environment::scrub_report> environment::scrub() {
  int major = 0;
  int minor = 0;
  int patch = 0;
  mdb_version(&major, &minor, &patch);
  if (major != 0 || minor != 9)
    return fail(errc::unsupported, "cannot scrub the store " + dir_.string() + ": LMDB "
                                     + std::to_string(major) + "." + std::to_string(minor)
                                     + " is not 0.9, whose page layout the scrub knows");
  gate_pass pass{*this};
  int dead = 0;
  mdb_reader_check(env_, &dead);
  // The write lock: no page is written or reused while this runs. Nothing is written through it.
  MDB_txn* txn = nullptr;
  if (auto rc = mdb_txn_begin(env_, nullptr, 0, &txn); rc != 0)
    return storage(rc, "cannot begin the scrub of the store", env_);
  struct abort_at_end {
    MDB_txn* txn;
    ~abort_at_end() { mdb_txn_abort(txn); }
  } end{txn};
  MDB_envinfo info{};
  MDB_stat stat{};
  if (mdb_env_info(env_, &info) != 0 || mdb_env_stat(env_, &stat) != 0)
    return fail(errc::storage_error, "cannot read the size of the store " + dir_.string());
  const size_t psize = stat.ms_psize;
  const uint64_t last = info.me_last_pgno;
  scrub_report report;
  report.oldest_txn = info.me_last_txnid;
  std::vector<uint64_t> readers;
  mdb_reader_list(env_, collect_reader, &readers);
  for (auto r : readers)
    report.oldest_txn = std::min(report.oldest_txn, r);
  // Free pages from LMDB's free-page database (0): a record per transaction that freed pages, its
  // value a count and the page numbers. A page freed before the oldest snapshot is read by nobody
  // (LMDB reuses exactly those); the others wait.
  enum : uint8_t { in_use = 0, free_now = 1, free_later = 2 };
  std::vector<uint8_t> kind(last + 1, in_use);
  // (LMDB opens no cursor on it in a write transaction: a read transaction reads it, whose snapshot
  // is the newest, as no commit can happen meanwhile.)
  MDB_txn* reader = nullptr;
  if (auto rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &reader); rc != 0)
    return storage(rc, "cannot read the free pages of the store", env_);
  abort_at_end end_reader{reader};
  if (auto rc = for_each_free_page(reader, [&](size_t freed_by, size_t pg) {
        if (pg <= last)
          kind[pg] = freed_by < report.oldest_txn ? free_now : free_later;
      });
      rc != 0)
    return storage(rc, "cannot read the free pages of the store", env_);
  int fd = -1;
  if (auto rc = mdb_env_get_fd(env_, &fd); rc != 0)
    return storage(rc, "cannot scrub the store", env_);
  const uint64_t chunk_pages = 256;
  std::vector<char> chunk(chunk_pages * psize);
  uint64_t skip_until = 0;  // after an overflow run's first page: its other pages, data in use
  for (uint64_t base = 0; base <= last; base += chunk_pages) {
    auto pages = std::min(chunk_pages, last + 1 - base);
    size_t want = pages * psize;
    size_t got = 0;
    while (got < want) {
      auto n = ::pread(fd, chunk.data() + got, want - got, static_cast<off_t>(base * psize + got));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return fail(errc::storage_error, "cannot read the store " + dir_.string() + " to scrub it: "
                                           + (n == 0 ? std::string{"it is shorter than LMDB says"}
                                                     : std::string{std::strerror(errno)}));
      got += static_cast<size_t>(n);
    }
    for (uint64_t p = std::max<uint64_t>(base, 2); p < base + pages; ++p) {
      ++report.pages;
      const char* page = chunk.data() + (p - base) * psize;
      const uint64_t at = p * psize;
      if (kind[p] == free_now) {
        if (!all_zero(page, psize)) {
          if (auto w = write_zeros(fd, at, psize, dir_); !w)
            return w.err();
          ++report.free_zeroed;
        }
        continue;
      }
      if (kind[p] == free_later) {
        ++report.free_waiting;
        continue;
      }
      if (p < skip_until || load<uint64_t>(page) != p)
        continue;  // an overflow run's data, or not a page LMDB wrote as such
      auto flags = load<uint16_t>(page + 10);
      if ((flags & page_overflow) != 0) {
        skip_until = p + std::max<uint32_t>(1, load<uint32_t>(page + 12));
        continue;
      }
      if ((flags & (page_meta | page_leaf2)) != 0 || (flags & (page_branch | page_leaf)) == 0)
        continue;
      auto lower = load<uint16_t>(page + 12);
      auto upper = load<uint16_t>(page + 14);
      if (lower < page_header || lower > upper || upper > psize || all_zero(page + lower, upper - lower))
        continue;
      if (auto w = write_zeros(fd, at + lower, upper - lower, dir_); !w)
        return w.err();
      ++report.gaps_zeroed;
    }
  }
  if (::fdatasync(fd) != 0)
    return fail(errc::storage_error, "cannot sync the scrubbed store " + dir_.string() + ": "
                                       + std::strerror(errno));
  return report;
}

void environment::want_scrub() {
  gate_pass pass{*this};
  MDB_envinfo info{};
  if (mdb_env_info(env_, &info) != 0)
    return;
  auto upto = static_cast<uint64_t>(info.me_last_txnid);
  auto cur = scrub_upto_.load();
  while (cur < upto && !scrub_upto_.compare_exchange_weak(cur, upto)) {
  }
}

result<std::optional<environment::scrub_report>> environment::scrub_if_wanted() {
  auto upto = scrub_upto_.load();
  if (upto == 0)
    return std::optional<scrub_report>{};
  auto marks = db("scrub");
  if (!marks)
    return marks.err();
  // LMDB keeps the pages it wrote in memory for reuse, with what they held: a later commit would
  // write those bytes again into the unused middle of pages. A reopened environment starts
  // without them.
  auto reopened = reopen(std::chrono::seconds{2});
  if (!reopened)
    return reopened.err();
  if (!*reopened) {
    scrub_report busy;
    busy.deferred = true;
    return std::optional<scrub_report>{busy};
  }
  // The pages the wanted transaction freed are reusable (and scrubbed) only once it is not the
  // newest any more; the pages the next one frees may carry bytes from before the reopening:
  // two commits of a mark of the scrub's own.
  for (int i = 0; i < 2; ++i) {
    auto txn = begin_write();
    if (!txn)
      return txn.err();
    if (auto r = txn->put(*marks, "last", std::to_string(upto) + "." + std::to_string(i)); !r)
      return r.err();
    if (auto r = txn->commit(); !r)
      return r.err();
  }
  auto report = scrub();
  if (!report)
    return report.err();
  if (report->oldest_txn > upto)
    scrub_upto_.compare_exchange_strong(upto, 0);
  return std::optional<scrub_report>{*report};
}

} // namespace joconde::lmdb
