#pragma once

// What the parts of the ct_lifecycle test program (ct_lifecycle_test.cpp and ct_lifecycle_test_*.cpp)
// share: the cluster and work directory of the whole program, the `joconde` CLI, the task and its
// agreement, what the nodes say about a CT, and the data.

#include <boost/test/unit_test.hpp>

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

namespace ct_lifecycle_test_support {

using namespace joconde;
using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

inline std::optional<test::cluster> cluster;
inline fs::path work; // task files, key files, CSV files and CLI output of this test

/// Brings the test's cluster up (`ops/cluster up UP_ARGS`, in a directory named after `tag`) and
/// makes its work directory.
inline void bring_up(const std::string& tag, const std::string& up_args = {}) {
  cluster.emplace(tag, up_args);
  work = fs::temp_directory_path() / ("joconde-" + tag + "-work-" + std::to_string(::getpid()));
  fs::remove_all(work);
  fs::create_directories(work);
  fs::permissions(work, fs::perms::owner_all);
}

/// Brings the cluster down and removes the work directory (kept with JOCONDE_KEEP_CLUSTER).
inline void bring_down() {
  cluster.reset();
  if (std::getenv("JOCONDE_KEEP_CLUSTER") == nullptr)
    fs::remove_all(work);
}

struct global_cluster {
  global_cluster() { bring_up("ct-lifecycle"); }
  ~global_cluster() { bring_down(); }
};

inline const std::vector<std::string> cps{"cp1", "cp2", "cp3"};
inline const std::vector<std::string> holders{"root", "client-a", "client-b", "cp1", "cp2", "cp3"};
inline const std::vector<std::string> regions{"north", "south", "east", "west"};

// -- files and the CLI --

/// The whole file, or "" if it cannot be read.
using test::read_all;

/// Writes (or replaces) `file` with `text`.
inline void write_file(const fs::path& file, const std::string& text) {
  std::ofstream out{file, std::ios::binary | std::ios::trunc};
  out << text;
  BOOST_REQUIRE_MESSAGE(out.good(), "cannot write " << file);
}

/// `s` as one word for /bin/sh.
inline std::string shell_quote(const std::string& s) {
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

inline std::ostream& operator<<(std::ostream& os, const cli_result& r) {
  return os << "exit " << r.rc << ", stdout: " << r.out << ", stderr: " << r.err;
}

/// `joconde --cluster DIR --as AS ARGS...`, its exit code and output. Each request of the CLI has its
/// own time limit; `timeout` bounds the whole command besides.
inline cli_result joconde_cli(const std::string& as, const std::vector<std::string>& args) {
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
inline bool says(const cli_result& r, const std::string& code) {
  auto prefix = "joconde: " + code + ": ";
  return r.err.rfind(prefix, 0) == 0 || r.err.find("\n" + prefix) != std::string::npos;
}

/// The CLI refused with exit code `rc` and "joconde: CODE: ..." on stderr.
inline void check_refused(const cli_result& r, int rc, const std::string& code) {
  BOOST_TEST_MESSAGE("refused as expected? " << r.err);
  BOOST_CHECK_MESSAGE(r.rc == rc && says(r, code), "expected exit " << rc << " and " << code << ": " << r);
}

// -- the task and its agreement --

/// The demo's task (ops/demo-data task): persons (id, region, age) at client-a, incomes (id,
/// income) at client-b, per region the count, mean and sd of income for the analysts of both.
/// Without tee_measurements: `cta create` fills in the organiser's node's image.
inline json demo_task() {
  auto file = work / "demo-task.json";
  auto cmd = shell_quote(std::string{JOCONDE_SOURCE_DIR} + "/ops/demo-data") + " task --max-rows 1000 --out "
             + shell_quote(file.string());
  BOOST_REQUIRE_EQUAL(std::system(cmd.c_str()), 0);
  auto task = json::parse(read_all(file));
  task.erase("tee_measurements");
  return task;
}

/// Milliseconds since the epoch, the clock of the CTSC's deadlines.
inline std::int64_t now_ms() {
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
inline void cli_ok(const std::string& as, const std::vector<std::string>& args) {
  auto r = joconde_cli(as, args);
  BOOST_REQUIRE_MESSAGE(r.rc == 0, as << " " << args.at(0) << " " << args.at(1) << ": " << r);
}

/// What the people of an agreement write into it (a test plants canaries there): the signatories'
/// names ("a" or "b" appended), the signed document, the custodians' ("A", "B") and the analysts'
/// ("a", "b") names on their PAKs.
struct agreement_words {
  std::string signatory = "Director of office ";
  std::string document = "%PDF-1.4\n% signature page, signed and scanned\n";
  std::string custodian = "Custodian ";
  std::string analyst = "Analyst ";
};

/// client-a's organiser creates `task` (the root registers its CTSC) with the CLI; the signatories'
/// CTSA files and the signed document are written for complete_agreement.
inline ct create_cta(const json& task, const std::string& name, const agreement_words& words = {}) {
  ct c;
  c.dir = work / name;
  fs::create_directories(c.dir);
  write_file(c.dir / "task.json", task.dump(2));
  write_file(c.passphrase(), crypto::hex(crypto::random_bytes(16)) + "\n");
  write_file(c.dir / "signed.pdf", words.document);
  for (auto p : {"a", "b"})
    write_file(c.dir / ("ctsa-" + std::string{p} + ".json"),
               json{{"signatories", {{{"name", words.signatory + p}}}}}.dump());
  auto created = joconde_cli("client-a:task_organiser", {"cta", "create", (c.dir / "task.json").string()});
  BOOST_REQUIRE_MESSAGE(created.rc == 0, "cta create: " << created);
  c.uuid = created.out.substr(0, created.out.find('\n'));
  BOOST_REQUIRE_EQUAL(c.uuid.size(), 36u);
  return c;
}

/// Makes the CTA `c` final with the CLI, as ops/demo does: the custodians and both clients' analysts
/// make their PAKs, both peers submit and sign their CTSA, the SO approves both.
inline void complete_agreement(const ct& c, const agreement_words& words = {}) {
  auto pass = c.passphrase().string();
  cli_ok("client-a:data_custodian", {"pak", "create", c.uuid, "--input", "persons", "--name", words.custodian + "A",
                                     "--out", c.key("custodian-a").string(), "--passphrase-file", pass});
  cli_ok("client-b:data_custodian", {"pak", "create", c.uuid, "--input", "income", "--name", words.custodian + "B",
                                     "--out", c.key("custodian-b").string(), "--passphrase-file", pass});
  for (auto p : {"a", "b"})
    cli_ok(std::string{"client-"} + p + ":data_analyst",
           {"pak", "create", c.uuid, "--output", "income_by_region", "--name", words.analyst + p,
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
}

/// Makes `task` a final CTA with the CLI: create_cta, then complete_agreement.
inline ct agree(const json& task, const std::string& name, const agreement_words& words = {}) {
  auto c = create_cta(task, name, words);
  complete_agreement(c, words);
  return c;
}

// -- what the nodes say about the CT --

/// `joconde cta show UUID --json` at `node`, or {"status": "cli exit N"}.
inline json cta_at(const std::string& node, const std::string& uuid) {
  auto r = joconde_cli(node + ":auditor", {"cta", "show", uuid, "--json"});
  if (r.rc != 0)
    return json{{"status", "cli exit " + std::to_string(r.rc)}, {"stderr", r.err}};
  auto doc = json::parse(r.out, nullptr, false);
  return doc.is_discarded() ? json{{"status", "not JSON"}, {"stdout", r.out}} : doc;
}

/// "cp1.joconde.test" of "cp1".
inline std::string fqdn(const std::string& node) { return node + ".joconde.test"; }

/// The events of `cp` (short name) in a CTA document, of `kind` (and `subject`, when given).
inline std::vector<json> events(const json& doc, const std::string& cp, const std::string& kind,
                                const std::string& subject = {}) {
  std::vector<json> out;
  for (const auto& ev : doc.value("telemetry", json::array()))
    if (ev.value("cp", "") == fqdn(cp) && ev.value("kind", "") == kind
        && (subject.empty() || ev.value("subject", "") == subject))
      out.push_back(ev);
  return out;
}

/// Number of CPs that reported `phase`.
inline size_t cps_in(const json& doc, const std::string& phase) {
  size_t n = 0;
  for (const auto& cp : cps)
    n += events(doc, cp, "phase", phase).empty() ? 0 : 1;
  return n;
}

/// Every CT VM listens and has reported the input phase, as client-a sees it.
inline void require_input_phase(const std::string& uuid, std::chrono::seconds limit) {
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

/// Every CT VM reaches the output phase within two minutes (the test stops if not), as client-a
/// sees it: the CTA document.
inline json reach_output(const std::string& uuid) {
  json doc = json::object();
  test::cluster::wait_until(
    [&] {
      doc = cta_at("client-a", uuid);
      return cps_in(doc, "output") == 3 || doc.value("status", "") != "instantiated";
    },
    120s);
  BOOST_REQUIRE_MESSAGE(cps_in(doc, "output") == 3, "the CT did not reach output: " << doc.dump());
  return doc;
}

/// The CTA reaches `status` at every holder.
inline void status_everywhere(const std::string& uuid, const std::string& status, std::chrono::seconds limit) {
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
inline void erased_at_every_cp(const std::string& uuid, const std::map<std::string, std::string>& causes) {
  for (const auto& cp : cps) {
    const auto& cause = causes.at(cp);
    BOOST_TEST_CONTEXT(cp << ", cause " << cause) {
      auto left = cluster->vm_remains(cp, uuid, 30s);
      BOOST_CHECK_MESSAGE(left.empty(), "left behind: " << left);
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
inline std::string persons_csv(int n, const std::string& extra = {}) {
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
inline std::string income_csv(int matched) {
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
inline std::map<std::string, std::pair<int, double>> expected_by_region(int matched) {
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
inline search_result files_containing(const fs::path& dir, const std::string& needle) {
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
inline bool searched_one_named(const search_result& res, const std::string& name) {
  return std::any_of(res.searched.begin(), res.searched.end(),
                     [&](const fs::path& p) { return p.filename() == name; });
}

/// `joconde upload` of `file` into `input` with the key of `who`.
inline std::vector<std::string> upload_args(const ct& c, const std::string& input, const fs::path& file,
                                            const std::string& who) {
  return {"upload", c.uuid, input, file.string(), "--key", c.key(who).string(), "--passphrase-file",
          c.passphrase().string(), "--timeout", "60"};
}

/// `joconde download` of income_by_region by the analyst `who` (analyst-a, analyst-b) into `out`.
inline std::vector<std::string> download_args(const ct& c, const fs::path& out, const std::string& who = "analyst-a") {
  return {"download", c.uuid, "income_by_region", "--key", c.key(who).string(), "--passphrase-file",
          c.passphrase().string(), "-o", out.string(), "--timeout", "60"};
}

/// client-a's custodian uploads persons_csv(`persons`), client-b's income_csv(`matched`), into CT `c`.
inline void upload_both(const ct& c, int persons, int matched) {
  auto persons_file = c.dir / "persons.csv";
  write_file(persons_file, persons_csv(persons));
  auto income_file = c.dir / "income.csv";
  write_file(income_file, income_csv(matched));
  for (auto [who, input, file] : {std::tuple{"a", "persons", persons_file}, std::tuple{"b", "income", income_file}}) {
    auto up = joconde_cli(std::string{"client-"} + who + ":data_custodian",
                          upload_args(c, input, file, std::string{"custodian-"} + who));
    BOOST_REQUIRE_MESSAGE(up.rc == 0, "upload: " << up);
  }
}

inline void check_output(const fs::path& file, int matched);

/// Both analysts download income_by_region of CT `c` and find it right for `matched` incomes.
inline void download_both(const ct& c, int matched) {
  for (auto who : {"analyst-a", "analyst-b"}) {
    auto out = c.dir / (std::string{who} + ".csv");
    auto got = joconde_cli(std::string{"client-"} + who[8] + ":data_analyst", download_args(c, out, who));
    BOOST_REQUIRE_MESSAGE(got.rc == 0, "download: " << got);
    check_output(out, matched);
  }
}

/// Checks that `file` is income_by_region of persons_csv(n) joined with income_csv(matched).
inline void check_output(const fs::path& file, int matched) {
  std::istringstream csv{read_all(file)};
  std::string line;
  std::getline(csv, line);
  // The task has a confidentiality rule (HAVING), so the CSV carries CONF_STATUS and CONF_RULE.
  BOOST_CHECK_EQUAL(line, "region,persons,mean_income,sd_income,CONF_STATUS,CONF_RULE");
  auto expected = expected_by_region(matched);
  size_t rows = 0;
  while (std::getline(csv, line)) {
    ++rows;
    std::vector<std::string> f;
    std::istringstream ls{line};
    for (std::string v; std::getline(ls, v, ',');)
      f.push_back(v);
    BOOST_REQUIRE_EQUAL(f.size(), 5u);  // CONF_RULE is empty: every region here is published
    BOOST_TEST_CONTEXT(file.filename() << ": " << line) {
      BOOST_CHECK_EQUAL(f[4], "F");
      BOOST_REQUIRE(expected.count(f[0]));
      BOOST_CHECK_EQUAL(std::stoi(f[1]), expected[f[0]].first);
      BOOST_CHECK_SMALL(std::stod(f[2]) - expected[f[0]].second, 0.05);
    }
  }
  BOOST_CHECK_EQUAL(rows, expected.size());
}

} // namespace ct_lifecycle_test_support
