#define BOOST_TEST_MODULE ct_lifecycle
#include <boost/test/unit_test.hpp>

// A running Computation Task on a real cluster, driven like its users drive it: every step is the
// `joconde` CLI (--cluster DIR --as NODE:ROLE, as ./ops/demo does) against six node processes, with
// the CPs' CT VMs started through joconde-sp. A VM killed with SIGKILL after an upload cancels the
// CT at every holder, every CP erases it, and a canary id of the upload is in no file of the root
// or the CPs (LMDB files, logs, audit logs, archived VM logs); an input deadline that passes with an
// input missing cancels and erases the CT everywhere; uploads and downloads the CT must refuse are
// refused with their own error and exit code and change nothing, so that the CT still runs to its
// output, which is released once to each client it is named for: the CT waits for both analysts,
// and a second download by the same client is refused; an output deadline that passes before one
// client downloaded ends the CT as finished and tells both clients what was erased
// (docs/computation-tasks.md §3-§6).

#include "support/files.hpp"
#include "support/cluster.hpp"

#include "joconde/runtime/crypto.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <signal.h>
#include <sstream>
#include <tuple>
#include <unistd.h>

using namespace joconde;
using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::optional<test::cluster> cluster;
fs::path work;  // task files, key files, CSV files and CLI output of this test

struct global_cluster {
  global_cluster() {
    cluster.emplace("ct-lifecycle");
    work = fs::temp_directory_path() / ("joconde-ct-lifecycle-work-" + std::to_string(::getpid()));
    fs::remove_all(work);
    fs::create_directories(work);
    fs::permissions(work, fs::perms::owner_all);
  }
  ~global_cluster() {
    cluster.reset();
    if (std::getenv("JOCONDE_KEEP_CLUSTER") == nullptr)
      fs::remove_all(work);
  }
};

const std::vector<std::string> cps{"cp1", "cp2", "cp3"};
const std::vector<std::string> holders{"root", "client-a", "client-b", "cp1", "cp2", "cp3"};
const std::vector<std::string> regions{"north", "south", "east", "west"};

// -- files and the CLI --

/// The whole file, or "" if it cannot be read.
using test::read_all;

/// Writes (or replaces) `file` with `text`.
void write_file(const fs::path& file, const std::string& text) {
  std::ofstream out{file, std::ios::binary | std::ios::trunc};
  out << text;
  BOOST_REQUIRE_MESSAGE(out.good(), "cannot write " << file);
}

/// `s` as one word for /bin/sh.
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s)
    out += c == '\'' ? std::string{"'\\''"} : std::string(1, c);
  return out + "'";
}

/// What one `joconde` command did.
struct cli_result {
  int rc = -1;
  std::string out;
  std::string err;
};

std::ostream& operator<<(std::ostream& os, const cli_result& r) {
  return os << "exit " << r.rc << ", stdout: " << r.out << ", stderr: " << r.err;
}

/// `joconde --cluster DIR --as AS ARGS...`, its exit code and output. Each request of the CLI has its
/// own time limit; `timeout` bounds the whole command besides.
cli_result joconde_cli(const std::string& as, const std::vector<std::string>& args) {
  std::string cmd = "timeout -k 5 150 " + shell_quote(std::string{JOCONDE_BINARY_DIR} + "/bin/joconde")
                    + " --cluster " + shell_quote(cluster->dir().string()) + " --as " + shell_quote(as);
  for (const auto& a : args)
    cmd.append(" ").append(shell_quote(a));
  auto out = work / "cli.out";
  auto err = work / "cli.err";
  cmd += " > " + shell_quote(out.string()) + " 2> " + shell_quote(err.string()) + " < /dev/null";
  auto rc = std::system(cmd.c_str());
  cli_result r;
  r.rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
  r.out = read_all(out);
  r.err = read_all(err);
  return r;
}

/// True if stderr has a line "joconde: CODE: ..." (upload says what it sends on a line before).
bool says(const cli_result& r, const std::string& code) {
  auto prefix = "joconde: " + code + ": ";
  return r.err.rfind(prefix, 0) == 0 || r.err.find("\n" + prefix) != std::string::npos;
}

/// The CLI refused with exit code `rc` and "joconde: CODE: ..." on stderr.
void check_refused(const cli_result& r, int rc, const std::string& code) {
  BOOST_TEST_MESSAGE("refused as expected? " << r.err);
  BOOST_CHECK_MESSAGE(r.rc == rc && says(r, code), "expected exit " << rc << " and " << code << ": " << r);
}

// -- the task and its agreement --

/// The demo's task (ops/demo-data task): persons (id, region, age) at client-a, incomes (id,
/// income) at client-b, per region the count, mean and sd of income for the analysts of both.
/// Without tee_measurements: `cta create` fills in the organiser's node's image.
json demo_task() {
  auto file = work / "demo-task.json";
  auto cmd = shell_quote(std::string{JOCONDE_SOURCE_DIR} + "/ops/demo-data") + " task --max-rows 1000 --out "
             + shell_quote(file.string());
  BOOST_REQUIRE_EQUAL(std::system(cmd.c_str()), 0);
  auto task = json::parse(read_all(file));
  task.erase("tee_measurements");
  return task;
}

/// Milliseconds since the epoch, the clock of the CTSC's deadlines.
std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// A CT, its directory of files here and the key files of its people.
struct ct {
  std::string uuid;
  fs::path dir;
  fs::path passphrase() const { return dir / "passphrase"; }
  fs::path key(const std::string& who) const { return dir / (who + ".key"); }
};

/// Runs a command that must succeed.
void cli_ok(const std::string& as, const std::vector<std::string>& args) {
  auto r = joconde_cli(as, args);
  BOOST_REQUIRE_MESSAGE(r.rc == 0, as << " " << args.at(0) << " " << args.at(1) << ": " << r);
}

/// Makes `task` a final CTA with the CLI, as ops/demo does: client-a's organiser creates it, the
/// custodians and both clients' analysts make their PAKs, both peers submit and sign their CTSA, the
/// SO approves both.
ct agree(const json& task, const std::string& name) {
  ct c;
  c.dir = work / name;
  fs::create_directories(c.dir);
  write_file(c.dir / "task.json", task.dump(2));
  write_file(c.passphrase(), crypto::hex(crypto::random_bytes(16)) + "\n");
  write_file(c.dir / "signed.pdf", "%PDF-1.4\n% signature page, signed and scanned\n");
  for (auto p : {"a", "b"})
    write_file(c.dir / ("ctsa-" + std::string{p} + ".json"),
               json{{"signatories", {{{"name", std::string{"Director of office "} + p}}}}}.dump());
  auto created = joconde_cli("client-a:task_organiser", {"cta", "create", (c.dir / "task.json").string()});
  BOOST_REQUIRE_MESSAGE(created.rc == 0, "cta create: " << created);
  c.uuid = created.out.substr(0, created.out.find('\n'));
  BOOST_REQUIRE_EQUAL(c.uuid.size(), 36u);
  auto pass = c.passphrase().string();
  cli_ok("client-a:data_custodian", {"pak", "create", c.uuid, "--input", "persons", "--name", "Custodian A",
                                     "--out", c.key("custodian-a").string(), "--passphrase-file", pass});
  cli_ok("client-b:data_custodian", {"pak", "create", c.uuid, "--input", "income", "--name", "Custodian B",
                                     "--out", c.key("custodian-b").string(), "--passphrase-file", pass});
  for (auto p : {"a", "b"})
    cli_ok(std::string{"client-"} + p + ":data_analyst",
           {"pak", "create", c.uuid, "--output", "income_by_region", "--name", std::string{"Analyst "} + p,
            "--out", c.key(std::string{"analyst-"} + p).string(), "--passphrase-file", pass});
  for (auto p : {"a", "b"}) {
    auto peer = std::string{"client-"} + p;
    auto ctsa = c.dir / ("ctsa-" + std::string{p} + ".json");
    cli_ok(peer + ":task_organiser", {"ctsa", "submit", c.uuid, ctsa.string()});
    cli_ok(peer + ":signatory", {"cta", "sign", c.uuid, "--signatory", "0", "--document",
                                 (c.dir / "signed.pdf").string()});
  }
  for (auto peer : {"client-a", "client-b"})
    cli_ok("root:approver", {"cta", "approve", c.uuid, "--peer", peer});
  return c;
}

// -- what the nodes say about the CT --

/// `joconde cta show UUID --json` at `node`, or {"status": "cli exit N"}.
json cta_at(const std::string& node, const std::string& uuid) {
  auto r = joconde_cli(node + ":auditor", {"cta", "show", uuid, "--json"});
  if (r.rc != 0)
    return json{{"status", "cli exit " + std::to_string(r.rc)}, {"stderr", r.err}};
  auto doc = json::parse(r.out, nullptr, false);
  return doc.is_discarded() ? json{{"status", "not JSON"}, {"stdout", r.out}} : doc;
}

/// "cp1.joconde.test" of "cp1".
std::string fqdn(const std::string& node) { return node + ".joconde.test"; }

/// The events of `cp` (short name) in a CTA document, of `kind` (and `subject`, when given).
std::vector<json> events(const json& doc, const std::string& cp, const std::string& kind,
                         const std::string& subject = {}) {
  std::vector<json> out;
  for (const auto& ev : doc.value("telemetry", json::array()))
    if (ev.value("cp", "") == fqdn(cp) && ev.value("kind", "") == kind
        && (subject.empty() || ev.value("subject", "") == subject))
      out.push_back(ev);
  return out;
}

/// Number of CPs that reported `phase`.
size_t cps_in(const json& doc, const std::string& phase) {
  size_t n = 0;
  for (const auto& cp : cps)
    n += events(doc, cp, "phase", phase).empty() ? 0 : 1;
  return n;
}

/// Every CT VM listens and has reported the input phase, as client-a sees it.
void require_input_phase(const std::string& uuid, std::chrono::seconds limit) {
  json d = json::object();
  bool ready = test::cluster::wait_until(
    [&] {
      d = cta_at("client-a", uuid);
      return d.value("vms", json::array()).size() == 3 && cps_in(d, "input") == 3;
    },
    limit);
  BOOST_REQUIRE_MESSAGE(ready, "the CT VMs did not all reach input within " << limit.count()
                                 << " s: " << d.dump());
}

/// The CTA reaches `status` at every holder.
void status_everywhere(const std::string& uuid, const std::string& status, std::chrono::seconds limit) {
  for (const auto& node : holders) {
    json last = json::object();
    bool reached = test::cluster::wait_until(
      [&] {
        last = cta_at(node, uuid);
        return last.value("status", "") == status;
      },
      limit);
    BOOST_CHECK_MESSAGE(reached, node << " does not show the CTA " << status << ": " << last.dump());
  }
}

/// Every CP tore its VM down: no VM process, no CT directory, a signed erasure record in its audit
/// log, and its Deployment Operator's "erased" event with the cause `causes` names for it at the
/// root (a VM that ended itself reports the destruction of its sealing key too, as "erased").
void erased_at_every_cp(const std::string& uuid, const std::map<std::string, std::string>& causes) {
  for (const auto& cp : cps) {
    const auto& cause = causes.at(cp);
    BOOST_TEST_CONTEXT(cp << ", cause " << cause) {
      BOOST_CHECK(test::cluster::wait_until([&] { return cluster->vm_pid(cp, uuid) == 0; }, 30s));
      BOOST_CHECK(
        test::cluster::wait_until([&] { return !fs::exists(cluster->data_dir(cp) / "ct" / uuid); }, 30s));
      BOOST_CHECK(fs::exists(cluster->data_dir(cp) / "ct-logs" / (uuid + "-" + cp + ".log")));
      BOOST_CHECK(test::cluster::wait_until(
        [&] {
          return test::count_lines_with_all(cluster->data_dir(cp) / "audit.log",
                                            {"event=\"ct.vm.erased\"", uuid, "record=\""})
                 == 1;
        },
        10s));
      BOOST_CHECK(test::cluster::wait_until(
        [&] {
          auto got = events(cta_at("root", uuid), cp, "erased", cause);
          return got.size() == 1;
        },
        10s));
    }
  }
}

// -- the data --

/// persons.csv of `n` persons P0001.., regions in turn, and `extra` rows appended as they are.
std::string persons_csv(int n, const std::string& extra = {}) {
  std::string out = "id,region,age\n";
  char id[16];
  for (int i = 0; i < n; ++i) {
    std::snprintf(id, sizeof id, "P%04d", i + 1);
    out += std::string{id} + "," + regions[static_cast<size_t>(i) % regions.size()] + ","
           + std::to_string(20 + i % 60) + "\n";
  }
  return out + extra;
}

/// income.csv: the first `matched` persons, income 1000 * (1 + i % 7), and five ids unknown to
/// client-a.
std::string income_csv(int matched) {
  std::string out = "id,income\n";
  char id[16];
  for (int i = 0; i < matched; ++i) {
    std::snprintf(id, sizeof id, "P%04d", i + 1);
    out += std::string{id} + "," + std::to_string(1000 * (1 + i % 7)) + "\n";
  }
  for (int i = 0; i < 5; ++i) {
    std::snprintf(id, sizeof id, "Q%04d", i + 1);
    out += std::string{id} + ",5000\n";
  }
  return out;
}

/// What income_by_region is for persons_csv(n) joined with income_csv(matched): region -> (count,
/// mean income).
std::map<std::string, std::pair<int, double>> expected_by_region(int matched) {
  std::map<std::string, std::pair<int, double>> sums;
  for (int i = 0; i < matched; ++i) {
    auto& s = sums[regions[static_cast<size_t>(i) % regions.size()]];
    s.first += 1;
    s.second += 1000.0 * (1 + i % 7);
  }
  for (auto& [region, s] : sums)
    s.second /= s.first;
  return sums;
}

/// What a search of every regular file below a directory found.
struct search_result {
  std::vector<fs::path> hits;      ///< the files that contain the needle
  std::vector<fs::path> searched;  ///< every file read, to the end unless it was a hit
  std::uintmax_t bytes = 0;
};

/// Searches every regular file below `dir` for `needle`, in chunks (LMDB files can be large).
search_result files_containing(const fs::path& dir, const std::string& needle) {
  search_result res;
  std::error_code ec;
  const size_t chunk = 1 << 20;
  for (auto it = fs::recursive_directory_iterator{dir, ec}; !ec && it != fs::recursive_directory_iterator{};
       it.increment(ec)) {
    if (!it->is_regular_file(ec))
      continue;
    std::ifstream in{it->path(), std::ios::binary};
    std::string window;  // the last needle.size() - 1 bytes of the previous chunk, then this chunk
    std::vector<char> buf(chunk);
    bool found = false;
    while (!found && in) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      auto got = static_cast<size_t>(in.gcount());
      if (got == 0)
        break;
      res.bytes += got;
      window.append(buf.data(), got);
      found = window.find(needle) != std::string::npos;
      if (window.size() >= needle.size())
        window.erase(0, window.size() - (needle.size() - 1));
    }
    res.searched.push_back(it->path());
    if (found)
      res.hits.push_back(it->path());
  }
  BOOST_CHECK_MESSAGE(!ec, "cannot walk " << dir << ": " << ec.message());
  return res;
}

/// True if a file called `name` was searched.
bool searched_one_named(const search_result& res, const std::string& name) {
  return std::any_of(res.searched.begin(), res.searched.end(),
                     [&](const fs::path& p) { return p.filename() == name; });
}

/// `joconde upload` of `file` into `input` with the key of `who`.
std::vector<std::string> upload_args(const ct& c, const std::string& input, const fs::path& file,
                                     const std::string& who) {
  return {"upload", c.uuid, input, file.string(), "--key", c.key(who).string(), "--passphrase-file",
          c.passphrase().string(), "--timeout", "60"};
}

/// `joconde download` of income_by_region by the analyst `who` (analyst-a, analyst-b) into `out`.
std::vector<std::string> download_args(const ct& c, const fs::path& out, const std::string& who = "analyst-a") {
  return {"download", c.uuid, "income_by_region", "--key", c.key(who).string(), "--passphrase-file",
          c.passphrase().string(), "-o", out.string(), "--timeout", "60"};
}

/// Checks that `file` is income_by_region of persons_csv(n) joined with income_csv(matched).
void check_output(const fs::path& file, int matched) {
  std::istringstream csv{read_all(file)};
  std::string line;
  std::getline(csv, line);
  BOOST_CHECK_EQUAL(line, "region,persons,mean_income,sd_income");
  auto expected = expected_by_region(matched);
  size_t rows = 0;
  while (std::getline(csv, line)) {
    ++rows;
    std::vector<std::string> f;
    std::istringstream ls{line};
    for (std::string v; std::getline(ls, v, ',');)
      f.push_back(v);
    BOOST_REQUIRE_EQUAL(f.size(), 4u);
    BOOST_TEST_CONTEXT(file.filename() << ": " << line) {
      BOOST_REQUIRE(expected.count(f[0]));
      BOOST_CHECK_EQUAL(std::stoi(f[1]), expected[f[0]].first);
      BOOST_CHECK_SMALL(std::stod(f[2]) - expected[f[0]].second, 0.05);
    }
  }
  BOOST_CHECK_EQUAL(rows, expected.size());
}

} // namespace

BOOST_TEST_GLOBAL_FIXTURE(global_cluster);

BOOST_AUTO_TEST_CASE(a_vm_killed_after_an_upload_cancels_and_erases_the_ct_and_leaves_no_canary) {
  auto c = agree(demo_task(), "killed");
  require_input_phase(c.uuid, 60s);
  // One person's id is a canary: it reaches the VMs only as shares of its hash.
  auto canary = "CANARY-" + crypto::hex(crypto::random_bytes(8));
  auto persons = c.dir / "persons.csv";
  write_file(persons, persons_csv(120, canary + ",north,40\n"));
  auto up = joconde_cli("client-a:data_custodian", upload_args(c, "persons", persons, "custodian-a"));
  BOOST_REQUIRE_MESSAGE(up.rc == 0, "upload: " << up);
  BOOST_CHECK(up.out.find("uploaded 121 rows into persons") != std::string::npos);
  for (const auto& cp : cps)
    BOOST_CHECK_MESSAGE(fs::exists(cluster->data_dir(cp) / "ct" / c.uuid), cp);

  // SIGKILL to cp1's VM: its sealing key dies with it; cp1 reports the exit, the root cancels.
  auto pid = cluster->vm_pid("cp1", c.uuid);
  BOOST_REQUIRE(pid > 0);
  BOOST_REQUIRE_EQUAL(::kill(pid, SIGKILL), 0);
  status_everywhere(c.uuid, "cancelled", 30s);
  auto at_root = cta_at("root", c.uuid);
  BOOST_CHECK_MESSAGE(at_root.value("reason", "").find("cp1.joconde.test") != std::string::npos,
                      at_root.value("reason", ""));
  erased_at_every_cp(c.uuid, {{"cp1", "vm-exited"}, {"cp2", "cancelled"}, {"cp3", "cancelled"}});
  // The VMs that were cancelled destroyed their sealing keys themselves; the killed one could not.
  at_root = cta_at("root", c.uuid);
  BOOST_CHECK(events(at_root, "cp1", "erased", "sealing-key").empty());
  for (auto cp : {"cp2", "cp3"})
    BOOST_CHECK_MESSAGE(events(at_root, cp, "erased", "sealing-key").size() == 1,
                        cp << ": " << at_root["telemetry"].dump());
  // Every holder learnt of the erasures, the peers too.
  BOOST_CHECK(test::cluster::wait_until(
    [&] {
      auto d = cta_at("client-a", c.uuid);
      return events(d, "cp1", "erased", "vm-exited").size() == 1
             && events(d, "cp2", "erased", "cancelled").size() == 1
             && events(d, "cp3", "erased", "cancelled").size() == 1;
    },
    10s));

  // The canary is nowhere at the root or the CPs: not in LMDB, logs, audit logs or VM logs. The
  // search itself finds it where it is (the custodian's file).
  BOOST_REQUIRE_EQUAL(files_containing(c.dir, canary).hits.size(), 1u);
  for (auto node : {"root", "cp1", "cp2", "cp3", "client-b"}) {
    BOOST_TEST_CONTEXT(node) {
      auto res = files_containing(cluster->data_dir(node), canary);
      BOOST_TEST_MESSAGE(node << ": " << canary << " searched in " << res.searched.size() << " files, "
                              << res.bytes << " bytes");
      for (auto name : {"data.mdb", "audit.log", "node.log.rfc5424"})
        BOOST_CHECK_MESSAGE(searched_one_named(res, name), "no " << name << " searched");
      if (std::string{node}.rfind("cp", 0) == 0)
        BOOST_CHECK_MESSAGE(searched_one_named(res, c.uuid + "-" + node + ".log"),
                            "its CT VM's log was not searched");
      for (const auto& h : res.hits)
        BOOST_ERROR("the canary " << canary << " is in " << h);
    }
  }
}

BOOST_AUTO_TEST_CASE(an_input_deadline_that_passes_cancels_and_erases_the_ct_everywhere) {
  // Input closes 20 s from now; approval before it (the root wants it in the future at creation),
  // execution and output far after.
  auto task = demo_task();
  auto now = now_ms();
  const auto input_deadline = now + 20'000;
  task["temporal"]["approval_deadline_ms"] = std::to_string(now + 10'000);
  task["temporal"]["input_deadline_ms"] = std::to_string(input_deadline);
  task["temporal"]["execution_deadline_ms"] = std::to_string(now + 600'000);
  task["temporal"]["output_deadline_ms"] = std::to_string(now + 1'200'000);
  auto c = agree(task, "deadline");
  // The test needs the CT in input with time to upload before the deadline (about 2 s go by here).
  auto margin = std::chrono::milliseconds{input_deadline - now_ms() - 5'000};
  BOOST_REQUIRE_MESSAGE(margin > 0ms, "the agreement took until 5 s before the input deadline");
  require_input_phase(c.uuid, std::chrono::duration_cast<std::chrono::seconds>(margin));
  // One input of two: the CT cannot leave the input phase.
  auto persons = c.dir / "persons.csv";
  write_file(persons, persons_csv(40));
  auto up = joconde_cli("client-a:data_custodian", upload_args(c, "persons", persons, "custodian-a"));
  BOOST_REQUIRE_MESSAGE(up.rc == 0, "upload: " << up);

  status_everywhere(c.uuid, "cancelled", 60s);
  auto at_root = cta_at("root", c.uuid);
  for (const auto& cp : cps) {
    auto cancelled = events(at_root, cp, "phase", "cancelled");
    BOOST_REQUIRE_MESSAGE(cancelled.size() == 1, cp << ": " << at_root["telemetry"].dump());
    BOOST_CHECK_MESSAGE(cancelled[0].value("value", "").find("input deadline passed") != std::string::npos,
                        cp << ": " << cancelled[0].dump());
    // Not before the deadline (the VMs and this test read the same clock).
    const auto& at = cancelled[0]["at_ms"];
    auto at_ms = at.is_string() ? std::stoll(at.get<std::string>()) : at.get<std::int64_t>();
    BOOST_CHECK_GE(at_ms, input_deadline);
    BOOST_CHECK_MESSAGE(events(at_root, cp, "phase", "calculation").empty(), cp);
  }
  erased_at_every_cp(c.uuid, {{"cp1", "cancelled"}, {"cp2", "cancelled"}, {"cp3", "cancelled"}});
  // Afterwards the missing input cannot come any more.
  auto income = c.dir / "income.csv";
  write_file(income, income_csv(30));
  auto late = joconde_cli("client-b:data_custodian", upload_args(c, "income", income, "custodian-b"));
  check_refused(late, 6, "invalid_state");
}

BOOST_AUTO_TEST_CASE(refused_uploads_and_downloads_change_nothing_and_the_output_goes_once_to_each_client) {
  auto c = agree(demo_task(), "refusals");
  require_input_phase(c.uuid, 60s);
  auto output = c.dir / "output.csv";

  // A download before the output phase.
  auto early = joconde_cli("client-a:data_analyst", download_args(c, output));
  check_refused(early, 6, "invalid_state");
  BOOST_CHECK(early.err.find("output phase") != std::string::npos);
  BOOST_CHECK(!fs::exists(output));

  auto persons = c.dir / "persons.csv";
  write_file(persons, persons_csv(120));
  auto up = joconde_cli("client-a:data_custodian", upload_args(c, "persons", persons, "custodian-a"));
  BOOST_REQUIRE_MESSAGE(up.rc == 0, "upload: " << up);

  // A file that does not match the schema: refused at the node, with its line and column.
  auto bad = c.dir / "persons-bad.csv";
  write_file(bad, persons_csv(3) + "P0004,north,old\nP0005,south,30\n");
  auto refused = joconde_cli("client-a:data_custodian", upload_args(c, "persons", bad, "custodian-a"));
  check_refused(refused, 6, "malformed_input");
  BOOST_CHECK_MESSAGE(refused.err.find("line 5, column 3 (age)") != std::string::npos, refused.err);

  // What else a custodian's file may hold by mistake, each refused at the custodian's node (exit 6,
  // malformed_input) with its line and column, never with a value of the file: a header and no
  // records, a NUL byte, a key that is not UTF-8, a value that is not a number (issue 14).
  const std::string canary = "Qv7Canary";
  struct bad_file {
    std::string name;
    std::string text;
    std::string reason;
  };
  const std::vector<bad_file> bad_files{
    {"header-only", "id,region,age\n", "the file has a header but no data rows"},
    {"nul", persons_csv(2, canary + std::string(1, '\0') + ",north,30\n"),
     "line 4, column 1 (id): a NUL byte (0x00)"},
    {"not-utf8", persons_csv(2, canary + "\xff,north,30\n"),
     "line 4, column 1 (id): the value is not valid UTF-8"},
    {"not-a-number", persons_csv(2, "P0003,north,3" + canary + "\n"),
     "line 4, column 3 (age): the value is not a number"},
  };
  for (const auto& f : bad_files) {
    BOOST_TEST_CONTEXT(f.name) {
      auto file = c.dir / ("persons-" + f.name + ".csv");
      write_file(file, f.text);
      auto r = joconde_cli("client-a:data_custodian", upload_args(c, "persons", file, "custodian-a"));
      check_refused(r, 6, "malformed_input");
      BOOST_CHECK_MESSAGE(r.err.find(f.reason) != std::string::npos, r.err);
      BOOST_CHECK_MESSAGE(r.err.find(canary) == std::string::npos, r.err);
    }
  }
  // No refused value reached a log or a store: not client-a's (node log, audit log, LMDB), not a CP's
  // (nothing was sent on).
  for (const auto& node : {"client-a", "cp1", "cp2", "cp3"})
    BOOST_CHECK_MESSAGE(!test::any_file_contains(cluster->data_dir(node), canary),
                        "a refused value is in a file of " << node);
  // The twin: the canary in an accepted field would be found (the search can fail).
  BOOST_CHECK(test::any_file_contains(c.dir, canary));

  // client-b's custodian may not write client-a's input, a correct file notwithstanding.
  auto forbidden = joconde_cli("client-b:data_custodian", upload_args(c, "persons", persons, "custodian-b"));
  check_refused(forbidden, 4, "forbidden");
  BOOST_CHECK(forbidden.err.find("does not allow this PAK to write input persons") != std::string::npos);

  // The slot keeps its content: with the other input the CT computes and reaches output.
  auto income = c.dir / "income.csv";
  write_file(income, income_csv(100));
  up = joconde_cli("client-b:data_custodian", upload_args(c, "income", income, "custodian-b"));
  BOOST_REQUIRE_MESSAGE(up.rc == 0, "upload: " << up);
  json doc = json::object();
  test::cluster::wait_until(
    [&] {
      doc = cta_at("client-a", c.uuid);
      return cps_in(doc, "output") == 3 || doc.value("status", "") != "instantiated";
    },
    120s);
  BOOST_REQUIRE_MESSAGE(cps_in(doc, "output") == 3, "the CT did not reach output: " << doc.dump());
  for (const auto& cp : cps) {
    BOOST_TEST_CONTEXT(cp) {
      // persons: one upload in use, then ready; never emptied by the refused ones.
      std::vector<std::string> states;
      for (const auto& ev : events(doc, cp, "slot", "persons"))
        states.push_back(ev.value("value", "").substr(0, ev.value("value", "").find(' ')));
      BOOST_CHECK_MESSAGE((states == std::vector<std::string>{"in_use", "ready"}), doc["telemetry"].dump());
    }
  }
  for (auto node : {"client-a", "client-b"})
    BOOST_CHECK_EQUAL(test::count_lines_with_all(cluster->data_dir(node) / "audit.log",
                                                 {"event=\"ct.upload\"", c.uuid}),
                      1u);
  BOOST_CHECK_EQUAL(test::count_lines_with_all(cluster->data_dir("client-a") / "audit.log",
                                               {"event=\"ct.upload.refused\"", c.uuid, "malformed_input"}),
                    1u + bad_files.size());
  BOOST_CHECK_EQUAL(test::count_lines_with_all(cluster->data_dir("client-b") / "audit.log",
                                               {"event=\"ct.upload.refused\"", c.uuid, "forbidden"}),
                    1u);

  // Released once to each client: client-a's analyst gets the table, a second download by client-a
  // gets nothing (the CT waits for client-b meanwhile, so its VMs are all there to refuse it), then
  // client-b's analyst gets the same table and the CT finishes.
  auto got = joconde_cli("client-a:data_analyst", download_args(c, output));
  BOOST_REQUIRE_MESSAGE(got.rc == 0, "download: " << got);
  auto again = joconde_cli("client-a:data_analyst", download_args(c, c.dir / "output-again.csv"));
  check_refused(again, 6, "already_exists");
  BOOST_CHECK_MESSAGE(again.err.find("output income_by_region was retrieved by peer client-a.joconde.test "
                                     "already (by Analyst a)")
                        != std::string::npos,
                      again.err);
  BOOST_CHECK(!fs::exists(c.dir / "output-again.csv"));
  BOOST_CHECK_EQUAL(cta_at("root", c.uuid).value("status", ""), "instantiated");
  auto output_b = c.dir / "output-b.csv";
  auto got_b = joconde_cli("client-b:data_analyst", download_args(c, output_b, "analyst-b"));
  BOOST_REQUIRE_MESSAGE(got_b.rc == 0, "download by client-b: " << got_b);
  check_output(output, 100);
  check_output(output_b, 100);
  BOOST_CHECK_EQUAL(read_all(output), read_all(output_b));

  status_everywhere(c.uuid, "finished", 30s);
  erased_at_every_cp(c.uuid, {{"cp1", "finished"}, {"cp2", "finished"}, {"cp3", "finished"}});
}

BOOST_AUTO_TEST_CASE(an_output_deadline_with_one_client_not_downloaded_finishes_the_ct_and_tells_both) {
  // Output closes 45 s from now; client-a's analyst downloads, client-b's never does. The CT ends
  // at the deadline as finished (it ran to completion and offered the output to both), every CP
  // erases client-b's copy and says so, and both peers see it in `joconde cta show`.
  auto task = demo_task();
  auto now = now_ms();
  const auto output_deadline = now + 45'000;
  task["temporal"]["approval_deadline_ms"] = std::to_string(now + 10'000);
  task["temporal"]["input_deadline_ms"] = std::to_string(now + 30'000);
  task["temporal"]["execution_deadline_ms"] = std::to_string(now + 40'000);
  task["temporal"]["output_deadline_ms"] = std::to_string(output_deadline);
  auto c = agree(task, "output-deadline");
  require_input_phase(c.uuid, 20s);
  auto persons = c.dir / "persons.csv";
  write_file(persons, persons_csv(120));
  auto income = c.dir / "income.csv";
  write_file(income, income_csv(100));
  for (auto [who, input, file] : {std::tuple{"a", "persons", persons}, std::tuple{"b", "income", income}}) {
    auto up = joconde_cli(std::string{"client-"} + who + ":data_custodian",
                          upload_args(c, input, file, std::string{"custodian-"} + who));
    BOOST_REQUIRE_MESSAGE(up.rc == 0, "upload: " << up);
  }
  BOOST_REQUIRE_MESSAGE(test::cluster::wait_until([&] { return cps_in(cta_at("client-a", c.uuid), "output") == 3; },
                                                  30s),
                        "the CT did not reach output in time");
  auto output = c.dir / "output.csv";
  auto got = joconde_cli("client-a:data_analyst", download_args(c, output));
  BOOST_REQUIRE_MESSAGE(got.rc == 0, "download: " << got);
  BOOST_REQUIRE_MESSAGE(now_ms() < output_deadline, "client-a's download came after the output deadline");
  check_output(output, 100);

  status_everywhere(c.uuid, "finished", 60s);
  const std::string erased = "output income_by_region not retrieved by client-b.joconde.test before the "
                             "output deadline: erased";
  for (auto node : {"client-a", "client-b"}) {
    BOOST_TEST_CONTEXT(node) {
      json doc = json::object();
      bool told = test::cluster::wait_until(
        [&] {
          doc = cta_at(node, c.uuid);
          for (const auto& cp : cps) {
            auto ev = events(doc, cp, "erased", "output income_by_region");
            if (ev.size() != 1 || ev[0].value("value", "") != erased)
              return false;
          }
          return true;
        },
        10s);
      BOOST_CHECK_MESSAGE(told, "not every CP's erasure of client-b's copy reached " << node << ": "
                                  << doc["telemetry"].dump());
      for (const auto& cp : cps) {
        auto finished = events(doc, cp, "phase", "finished");
        BOOST_CHECK_MESSAGE(finished.size() == 1
                              && finished[0].value("value", "").find("output deadline passed") != std::string::npos,
                            cp << ": " << doc["telemetry"].dump());
      }
    }
  }
  erased_at_every_cp(c.uuid, {{"cp1", "finished"}, {"cp2", "finished"}, {"cp3", "finished"}});
  // Too late for client-b.
  auto late = joconde_cli("client-b:data_analyst", download_args(c, c.dir / "late.csv", "analyst-b"));
  BOOST_CHECK_NE(late.rc, 0);
  BOOST_CHECK(!fs::exists(c.dir / "late.csv"));
}
