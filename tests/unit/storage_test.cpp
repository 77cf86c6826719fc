#define BOOST_TEST_MODULE storage
#include <boost/test/unit_test.hpp>

#include "support/files.hpp"
#include "joconde/runtime/audit_chain.hpp"
#include "joconde/runtime/lmdb.hpp"
#include "joconde/runtime/log.hpp"

#include "support/small_disk.hpp"

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <unistd.h>

using namespace joconde;
namespace fs = std::filesystem;

namespace {

fs::path fresh(const std::string& name) { return test::fresh_dir("storage-" + name); }

void write_lines(const fs::path& f, const std::vector<std::string>& ls) {
  std::ofstream out{f, std::ios::trunc};
  for (const auto& l : ls)
    out << l << "\n";
}

} // namespace

BOOST_AUTO_TEST_CASE(lmdb_round_trip_survives_reopen_and_iterates_in_order) {
  auto dir = fresh("lmdb");
  {
    auto env = lmdb::environment::open(dir, 16 << 20).value();
    auto db = env->db("things").value();
    auto other = env->db("other").value();
    auto txn = env->begin_write().value();
    for (auto k : {"b/2", "a/1", "b/1", "c/1", "b/3"})
      BOOST_REQUIRE(txn.put(db, k, std::string{"v"} + k));
    BOOST_REQUIRE(txn.put(other, "b/1", "elsewhere"));
    BOOST_CHECK(!*txn.put_if_absent(db, "a/1", "again"));
    BOOST_CHECK(*txn.put_if_absent(db, "d/1", "new"));
    BOOST_REQUIRE(txn.commit());
    auto aborted = env->begin_write().value();
    BOOST_REQUIRE(aborted.put(db, "z", "never"));
    // destroyed without commit: aborted
  }
  auto env = lmdb::environment::open(dir, 16 << 20).value();
  auto db = env->db("things").value();
  auto other = env->db("other").value(); // a handle is visible to transactions begun after it
  auto txn = env->begin_read().value();
  BOOST_CHECK_EQUAL(**txn.get(db, "a/1"), "va/1");
  BOOST_CHECK(!txn.get(db, "z")->has_value());
  BOOST_CHECK_EQUAL(*txn.count(db), 6u);
  std::vector<std::string> keys;
  BOOST_REQUIRE(txn.for_each(db, "b/", [&](std::string_view k, std::string_view) {
    keys.emplace_back(k);
    return true;
  }));
  BOOST_CHECK((keys == std::vector<std::string>{"b/1", "b/2", "b/3"}));
  keys.clear();
  BOOST_REQUIRE(txn.for_each_after(db, "b/", "b/1", [&](std::string_view k, std::string_view) {
    keys.emplace_back(k);
    return true;
  }));
  BOOST_CHECK((keys == std::vector<std::string>{"b/2", "b/3"}));
  keys.clear();
  BOOST_REQUIRE(txn.for_each(db, "", [&](std::string_view k, std::string_view) {
    keys.emplace_back(k);
    return keys.size() < 2;
  }));
  BOOST_CHECK_EQUAL(keys.size(), 2u);
  BOOST_CHECK_EQUAL(**txn.get(other, "b/1"), "elsewhere");
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(lmdb_full_map_and_bad_path_give_clear_errors) {
  auto dir = fresh("lmdb-full");
  auto env = lmdb::environment::open(dir, 64 * 1024).value();
  auto db = env->db("d").value();
  auto txn = env->begin_write().value();
  result<void> res = ok();
  for (int i = 0; i < 10000 && res; ++i)
    res = txn.put(db, "key" + std::to_string(i), std::string(512, 'x'));
  BOOST_REQUIRE(!res);
  BOOST_CHECK(res.err().code == errc::storage_error);
  BOOST_CHECK(res.err().message.find("storage.map-size") != std::string::npos);
  // A full map is not a full disk.
  BOOST_CHECK(res.err().message.find("no space left") == std::string::npos);
  BOOST_CHECK(!env->no_space());
  auto bad = lmdb::environment::open("/proc/joconde-cannot-be-here", 1 << 20);
  BOOST_REQUIRE(!bad);
  BOOST_CHECK(bad.err().code == errc::storage_error);
  fs::remove_all(dir);
}

// joconde_lmdb_free_pages comes from LMDB's free-page list: nothing free in a fresh store, pages
// freed by deleting values show up once a later commit records them, and the used size stays.
BOOST_AUTO_TEST_CASE(lmdb_usage_counts_the_pages_freed_by_deletions) {
  auto dir = fresh("lmdb-usage");
  auto env = lmdb::environment::open(dir, 16 << 20).value();
  auto db = env->db("d").value();
  auto fresh_use = env->in_use();
  BOOST_CHECK_EQUAL(fresh_use.map_size_bytes, 16u << 20);
  {
    auto txn = env->begin_write().value();
    for (int i = 0; i < 200; ++i)
      BOOST_REQUIRE(txn.put(db, "key" + std::to_string(i), std::string(8192, 'x')));
    BOOST_REQUIRE(txn.commit());
  }
  auto filled = env->in_use();
  BOOST_CHECK_GT(filled.used_bytes, 200u * 8192);
  {
    auto txn = env->begin_write().value();
    for (int i = 0; i < 200; ++i)
      BOOST_REQUIRE(txn.del(db, "key" + std::to_string(i)).value());
    BOOST_REQUIRE(txn.commit());
  }
  {
    auto txn = env->begin_write().value();
    BOOST_REQUIRE(txn.put(db, "small", "x"));
    BOOST_REQUIRE(txn.commit());
  }
  auto emptied = env->in_use();
  BOOST_TEST_MESSAGE("free pages: " << fresh_use.free_pages << " fresh, " << filled.free_pages
                                    << " filled, " << emptied.free_pages << " emptied");
  BOOST_CHECK_GE(emptied.free_pages, 200u * 2);
  BOOST_CHECK_GE(emptied.used_bytes, filled.used_bytes);
  fs::remove_all(dir);
}

namespace {

/// True if the environment's data file holds `needle` anywhere.
bool file_holds(const fs::path& dir, const std::string& needle) {
  std::ifstream in{dir / "data.mdb", std::ios::binary};
  std::string all{std::istreambuf_iterator<char>{in}, {}};
  return all.find(needle) != std::string::npos;
}

} // namespace

// Deleted values stay in LMDB's file (on free pages, and inside pages still in use); a scrub
// overwrites them and nothing else: every value kept reads back the same, after a reopen too. A
// reader's old snapshot holds the scrub of what it can still see back until it ends.
BOOST_AUTO_TEST_CASE(a_scrub_leaves_no_byte_of_deleted_values_and_keeps_the_rest) {
  auto dir = fresh("lmdb-scrub");
  const std::string small = "CANARY-small-7f3a";
  const std::string big = "CANARY-big-91c2";
  std::map<std::string, std::string> kept;
  {
    auto env = lmdb::environment::open(dir, 64 << 20).value();
    auto db = env->db("d").value();
    auto other = env->db("other").value();
    {
      auto txn = env->begin_write().value();
      for (int i = 0; i < 300; ++i) {
        auto k = "k" + std::to_string(1000 + i);
        // Small values share pages with kept ones; every tenth is large (overflow pages).
        auto v = (i % 10 == 0 ? std::string(9000, 'b') + big : small) + "-" + std::to_string(i);
        BOOST_REQUIRE(txn.put(i % 2 == 0 ? db : other, k, v));
        auto keep = "keep" + std::to_string(1000 + i);
        kept[keep] = std::string(i % 7 == 0 ? 5000 : 40, 'k') + std::to_string(i);
        BOOST_REQUIRE(txn.put(i % 2 == 0 ? db : other, keep, kept[keep]));
      }
      BOOST_REQUIRE(txn.commit());
    }
    {
      auto txn = env->begin_write().value();
      for (int i = 0; i < 300; ++i)
        BOOST_REQUIRE(txn.del(i % 2 == 0 ? db : other, "k" + std::to_string(1000 + i)).value());
      BOOST_REQUIRE(txn.commit());
    }
    // LMDB keeps the bytes: the search can fail.
    BOOST_REQUIRE(file_holds(dir, small));
    BOOST_REQUIRE(file_holds(dir, big));

    // A reader from before the deletion still sees the canaries: their pages wait.
    {
      auto txn = env->begin_write().value();
      BOOST_REQUIRE(txn.put(db, "canary-late", small + "-late"));
      BOOST_REQUIRE(txn.commit());
    }
    auto old_reader = env->begin_read().value();
    BOOST_REQUIRE(old_reader.get(db, "canary-late").value());
    {
      auto txn = env->begin_write().value();
      BOOST_REQUIRE(txn.del(db, "canary-late").value());
      BOOST_REQUIRE(txn.commit());
    }
    // A scrub by itself zeroes what nobody can see any more, and leaves what the reader can.
    auto held = env->scrub();
    BOOST_REQUIRE_MESSAGE(held, (held ? std::string{} : held.err().describe()));
    BOOST_TEST_MESSAGE("with a reader: " << held->pages << " pages read, " << held->free_zeroed
                                         << " free pages and " << held->gaps_zeroed << " gaps zeroed, "
                                         << held->free_waiting << " waiting");
    BOOST_CHECK_GT(held->free_waiting, 0u);
    BOOST_CHECK_GT(held->free_zeroed, 0u);
    BOOST_CHECK(!file_holds(dir, big));                     // freed before the reader's snapshot
    BOOST_CHECK(old_reader.get(db, "canary-late").value()); // the reader still reads its snapshot
    // A wanted scrub reopens the store first: not while the reader is open.
    env->want_scrub();
    auto deferred = env->scrub_if_wanted();
    BOOST_REQUIRE(deferred);
    BOOST_REQUIRE(deferred->has_value());
    BOOST_CHECK((*deferred)->deferred);
    BOOST_CHECK(old_reader.get(db, "canary-late").value());
    old_reader = lmdb::read_txn{nullptr};
    auto done = env->scrub_if_wanted();
    BOOST_REQUIRE_MESSAGE(done, (done ? std::string{} : done.err().describe()));
    BOOST_REQUIRE(done->has_value());
    BOOST_CHECK(!(*done)->deferred);
    BOOST_TEST_MESSAGE("after it: " << (*done)->pages << " pages read, " << (*done)->free_zeroed
                                    << " free pages and " << (*done)->gaps_zeroed << " gaps zeroed, "
                                    << (*done)->free_waiting << " waiting");
    BOOST_CHECK(!file_holds(dir, small));
    BOOST_CHECK(!file_holds(dir, big));
    // Nothing more is wanted.
    auto none = env->scrub_if_wanted();
    BOOST_REQUIRE(none);
    BOOST_CHECK(!none->has_value());
    // Every value kept reads back.
    auto txn = env->begin_read().value();
    for (const auto& [k, v] : kept) {
      int i = std::stoi(k.substr(4)) - 1000;
      auto got = txn.get(i % 2 == 0 ? db : other, k).value();
      BOOST_REQUIRE_MESSAGE(got && *got == v, k);
    }
  }
  // And after a reopen, with writes on top.
  auto env = lmdb::environment::open(dir, 64 << 20).value();
  auto db = env->db("d").value();
  {
    auto txn = env->begin_write().value();
    for (int i = 0; i < 200; ++i)
      BOOST_REQUIRE(txn.put(db, "new" + std::to_string(i), std::string(3000, 'n')));
    BOOST_REQUIRE(txn.commit());
  }
  auto other = env->db("other").value();
  auto txn = env->begin_read().value();
  size_t n = 0;
  for (const auto& [k, v] : kept) {
    int i = std::stoi(k.substr(4)) - 1000;
    auto got = txn.get(i % 2 == 0 ? db : other, k).value();
    n += got && *got == v ? 1 : 0;
  }
  BOOST_CHECK_EQUAL(n, kept.size());
  fs::remove_all(dir);
}

// A real full disk (a 6 MiB tmpfs in a mount namespace of this process): LMDB reports a write cut
// short as an I/O error; the wrapper says "no space left on device" and names the store, the
// environment keeps the fault for /healthz, what was committed before stays, and once space returns
// the same commit succeeds and the fault is gone.
BOOST_AUTO_TEST_CASE(a_full_disk_is_no_space_naming_the_store_until_space_returns) {
  test::enter_private_mount_namespace();
  auto base = fresh("lmdb-enospc");
  {
    test::small_disk disk{base / "disk", 6 << 20};
    auto store = disk.dir() / "store";
    auto env = lmdb::environment::open(store, 64 << 20).value();
    auto db = env->db("d").value();
    {
      auto txn = env->begin_write().value();
      BOOST_REQUIRE(txn.put(db, "kept", "accepted before the disk filled"));
      BOOST_REQUIRE(txn.commit());
    }
    BOOST_CHECK(!env->no_space());
    BOOST_TEST_MESSAGE("filler: " << disk.fill() << " bytes, " << test::free_bytes(disk.dir()) << " free");
    auto big_commit = [&]() -> result<void> {
      auto txn = env->begin_write();
      if (!txn)
        return txn.err();
      for (int i = 0; i < 32; ++i)
        if (auto r = txn->put(db, "big" + std::to_string(i), std::string(64 * 1024, 'x')); !r)
          return r;
      return txn->commit();
    };
    auto full = big_commit();
    BOOST_REQUIRE(!full);
    BOOST_CHECK(full.err().code == errc::no_space);
    const auto& msg = full.err().message;
    BOOST_CHECK_MESSAGE(msg.find("no space left on device") != std::string::npos, msg);
    BOOST_CHECK_MESSAGE(msg.find(store.string()) != std::string::npos, msg);
    BOOST_CHECK_MESSAGE(msg.find("Input/output error") == std::string::npos, msg);
    auto fault = env->no_space();
    BOOST_REQUIRE(fault);
    BOOST_CHECK_EQUAL(fault->message, msg);
    BOOST_CHECK_GE(fault->failures, 1u);
    // The store still reads, and what was accepted is there.
    {
      auto txn = env->begin_read().value();
      BOOST_CHECK_EQUAL(txn.get(db, "kept").value().value_or(""), "accepted before the disk filled");
      BOOST_CHECK(!txn.get(db, "big0").value().has_value());
    }
    // Still full: the fault stands however often it is tried.
    BOOST_REQUIRE(!big_commit());
    BOOST_CHECK_GE(env->no_space()->failures, 2u);
    // The twin: space returns, the same commit succeeds, the fault is gone and nothing is lost.
    disk.empty();
    auto again = big_commit();
    BOOST_REQUIRE_MESSAGE(again.ok(), (again.ok() ? "" : again.err().describe()));
    BOOST_CHECK(!env->no_space());
    auto txn = env->begin_read().value();
    BOOST_CHECK_EQUAL(txn.get(db, "kept").value().value_or(""), "accepted before the disk filled");
    BOOST_CHECK_EQUAL(txn.get(db, "big31").value().value_or("").size(), 64u * 1024u);
  }
  fs::remove_all(base);
}

BOOST_AUTO_TEST_CASE(log_lines_are_rfc5424_and_one_line_per_event) {
  auto line = log::format_line(log::severity::warning, "joconde-node", "cp1", "service_broker",
                               "refused\nsecond line", {{"reason", "bad \"sig\" ]x\\"}});
  std::regex shape{R"(^<12>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z cp1 joconde-node \d+ service_broker \[joconde@32473 reason="bad \\"sig\\" \\]x\\\\"\] refused\\nsecond line$)"};
  BOOST_CHECK_MESSAGE(std::regex_match(line, shape), line);
  auto bare = log::format_line(log::severity::debug, "", "", "", "", {});
  BOOST_CHECK(bare.find(" - - ") != std::string::npos);
  auto dir = fresh("log");
  log::init({"t", "h", dir / "ops.log", log::severity::notice});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t] {
      for (int i = 0; i < 200; ++i)
        log::notice("writer", "event " + std::to_string(t) + "/" + std::to_string(i), {{"k", "v"}});
    });
  for (auto& th : threads)
    th.join();
  log::info("writer", "filtered out by min severity");
  auto ls = test::file_lines(dir / "ops.log");
  BOOST_CHECK_EQUAL(ls.size(), 800u);
  for (const auto& l : ls)
    BOOST_REQUIRE(l.rfind("<13>1 ", 0) == 0 && l.find("writer [joconde@32473 k=\"v\"] event ") != std::string::npos);
  log::init({});
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(audit_chain_resumes_and_detects_every_kind_of_tampering) {
  auto dir = fresh("audit");
  auto file = dir / "audit.log";
  {
    auto chain = audit_chain::open(file, "joconde-node", "root").value();
    for (int i = 0; i < 50; ++i)
      BOOST_REQUIRE(chain.append("service_broker", "envelope", {{"id", std::to_string(i)}}));
    BOOST_REQUIRE(chain.sync());
  }
  {
    auto chain = audit_chain::open(file, "joconde-node", "root").value();
    BOOST_CHECK_EQUAL(chain.size(), 50u);
    BOOST_REQUIRE(chain.append("x", "more", {}));
    // A batch (one write) chains exactly like records appended one by one; an empty one adds none.
    BOOST_CHECK_EQUAL(chain.append_all("service_broker", "envelope", {}).value(), 51u);
    BOOST_CHECK_EQUAL(chain.append_all("service_broker", "envelope",
                                       {{{"id", "a"}}, {{"id", "b"}, {"decision", "forwarded"}}, {}})
                        .value(),
                      54u);
    BOOST_REQUIRE(chain.append("x", "after", {}));
  }
  auto verdict = verify_audit_file(file).value();
  BOOST_CHECK(verdict.ok);
  BOOST_CHECK_EQUAL(verdict.records, 55u);
  auto original = test::file_lines(file);
  auto head = dir / "audit.log.head";
  std::ifstream hin{head};
  std::stringstream hbuf;
  hbuf << hin.rdbuf();
  auto head_text = hbuf.str();
  auto check_broken = [&](std::vector<std::string> ls, uint64_t expected_line, const char* what) {
    write_lines(file, ls);
    std::ofstream{head, std::ios::trunc} << head_text;
    auto v = verify_audit_file(file).value();
    BOOST_CHECK_MESSAGE(!v.ok, what);
    BOOST_CHECK_MESSAGE(v.first_bad_line == expected_line,
                        what << ": reported line " << v.first_bad_line << " " << v.reason);
    BOOST_CHECK_MESSAGE(!audit_chain::open(file, "joconde-node", "root"), what << ": open refused");
  };
  auto edited = original;
  edited[9].replace(edited[9].find("id=\"9\""), 6, "id=\"X\"");
  check_broken(edited, 11, "edited line");
  auto deleted = original;
  deleted.erase(deleted.begin() + 20);
  check_broken(deleted, 21, "deleted line");
  auto reordered = original;
  std::swap(reordered[30], reordered[31]);
  check_broken(reordered, 31, "reordered lines");
  auto inserted = original;
  inserted.insert(inserted.begin() + 5, inserted[5]);
  check_broken(inserted, 7, "inserted line");
  auto last_edited = original;
  last_edited.back().replace(last_edited.back().find("after"), 5, "AFTER");
  check_broken(last_edited, 55, "edited last line");
  // A torn last line (crash mid-write) is reported by verify and cut off, with a record, by open.
  write_lines(file, original);
  std::ofstream{head, std::ios::trunc} << head_text;
  { std::ofstream{file, std::ios::app} << "<13>1 torn"; }
  BOOST_CHECK(!verify_audit_file(file)->ok);
  auto reopened = audit_chain::open(file, "joconde-node", "root");
  BOOST_REQUIRE(reopened);
  BOOST_CHECK_EQUAL(reopened->size(), 56u);
  BOOST_REQUIRE(reopened->sync());
  BOOST_CHECK(verify_audit_file(file)->ok);
  fs::remove_all(dir);
}
