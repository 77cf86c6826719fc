#define BOOST_TEST_MODULE audit
#include <boost/test/unit_test.hpp>

// The tamper-evident audit log on a real cluster (issue 14): every node signs checkpoints of its audit
// chain (here every second) and sends the latest head to its parent, which keeps it. After a clean
// stop of client-a, `joconde-node audit verify --dir DIR --head KEPT` passes on the untouched log and
// names each attack of someone who can write the files but not use the node key: a rewritten line
// with a recomputed chain, the same without the checkpoints, a truncation with a fixed FILE.head, the
// deletion of the whole log, and a torn last line. Restarted on a torn line, the node records it in
// the chain, keeps its bytes and counts it. Every wait is bounded.

#include "support/files.hpp"
#include "support/cluster.hpp"

#include "joconde/runtime/crypto.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <sys/wait.h>

using namespace joconde;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string client_a = "client-a.joconde.test";
const std::string node_bin = std::string{JOCONDE_BINARY_DIR} + "/bin/joconde-node";

using test::read_all;

using test::write_all;

/// Runs joconde-node with `args`; its exit code and standard output.
std::pair<int, std::string> node(const std::string& args) {
  return test::run_capture(node_bin + " " + args + " 2>&1");
}

/// The attacker's recomputation after editing lines: every prev= and checkpoint head= again, and
/// FILE.head, so that the chain alone is whole.
void recompute(const fs::path& file, std::vector<std::string> ls) {
  std::string prev(64, '0');
  std::string text;
  for (auto& l : ls) {
    l = std::regex_replace(l, std::regex{" prev=\"[0-9a-f]{64}\""}, " prev=\"" + prev + "\"");
    l = std::regex_replace(l, std::regex{" head=\"[0-9a-f]{64}\""}, " head=\"" + prev + "\"");
    prev = crypto::hex(crypto::sha256(crypto::to_bytes(l)));
    text += l + "\n";
  }
  write_all(file, text);
  write_all(fs::path{file.string() + ".head"}, std::to_string(ls.size()) + " " + prev + "\n");
}

/// Stops a node with SIGTERM (a clean stop) and waits for it to be gone.
bool stop_cleanly(const test::cluster& c, const std::string& name) {
  auto pid = c.node(name)["pid"].get<pid_t>();
  if (::kill(pid, SIGTERM) != 0)
    return false;
  return test::cluster::wait_until([&] { return ::kill(pid, 0) != 0; }, 30s);
}

struct fixture {
  fixture() { ::setenv("JOCONDE_AUDIT_CHECKPOINT_SECONDS", "1", 1); }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(audit_verify_names_every_attack_on_a_stopped_nodes_log, fixture) {
  test::cluster c{"audit"};
  auto root = c.data_dir("root");
  auto dir = c.data_dir("client-a");
  auto kept = c.dir() / "client-a.kept-head";
  // The root keeps client-a's signed head, and its own.
  BOOST_REQUIRE(test::cluster::wait_until(
    [&] { return node("audit heads --dir " + root.string() + " --node " + client_a).first == 0; }, 30s));
  BOOST_CHECK(test::cluster::wait_until(
    [&] { return node("audit heads --dir " + root.string() + " --node joconde.test").first == 0; }, 30s));
  // Some records more at client-a (calls its policy refuses are audited), until the root keeps a
  // head that covers them.
  for (int i = 0; i < 5; ++i)
    BOOST_CHECK_EQUAL(c.call_as("client-a", "auditor", "POST", "/v1/envelopes",
                                {{"topic", "audit.test"}, {"to", nlohmann::json::array()}, {"payload", ""}})
                        .first,
                      403);
  auto kept_at_root = [&] {
    auto [rc, out] = node("audit heads --dir " + root.string() + " --node " + client_a);
    return rc == 0 ? std::stoull(out.substr(client_a.size() + 1)) : 0ull;
  };
  BOOST_REQUIRE(test::cluster::wait_until([&] { return kept_at_root() >= 7; }, 30s));
  BOOST_CHECK(c.metric("root", "joconde_audit_heads_total{result=\"kept\"}") >= 2);
  BOOST_CHECK_EQUAL(c.metric("root", "joconde_audit_heads_total{result=\"bad_signature\"}"), 0);
  BOOST_REQUIRE(stop_cleanly(c, "client-a"));
  auto [hrc, head_line] = node("audit heads --dir " + root.string() + " --node " + client_a);
  BOOST_REQUIRE_EQUAL(hrc, 0);
  write_all(kept, head_line);
  auto verify = [&] { return node("audit verify --dir " + dir.string() + " --head " + kept.string()); };

  // Untouched: intact, the parent's head matches, and a clean stop ended with a checkpoint.
  auto log = dir / "audit.log";
  auto head_file = dir / "audit.log.head";
  const auto original = read_all(log);
  const auto original_head = read_all(head_file);
  auto ls = test::lines_in(original);
  BOOST_REQUIRE(ls.size() >= 9);
  BOOST_CHECK(ls.back().find("event=\"audit.checkpoint\"") != std::string::npos);
  auto [ok_rc, ok_out] = verify();
  BOOST_CHECK_EQUAL(ok_rc, 0);
  BOOST_CHECK_MESSAGE(ok_out.find("is intact") != std::string::npos && ok_out.find("matches") != std::string::npos,
                      ok_out);
  auto restore = [&] {
    write_all(log, original);
    write_all(head_file, original_head);
  };
  auto expect_broken = [&](const std::string& what, const std::string& word) {
    auto [rc, out] = verify();
    BOOST_CHECK_MESSAGE(rc == 1, what << ": exit " << rc << ": " << out);
    BOOST_CHECK_MESSAGE(out.find("BROKEN at line") != std::string::npos && out.find(word) != std::string::npos,
                        what << ": " << out);
    restore();
  };

  // A rewritten line (the first, link.up or node.start) with the chain and FILE.head recomputed.
  auto rewritten = ls;
  rewritten[0] = std::regex_replace(rewritten[0], std::regex{"event=\"([a-z.]+)\""}, "event=\"$1x\"");
  BOOST_REQUIRE(rewritten[0] != ls[0]);
  recompute(log, rewritten);
  expect_broken("rewritten and recomputed", "signature does not verify");

  // The same with every checkpoint dropped: nothing is signed, but the parent's head does not match.
  std::vector<std::string> stripped;
  for (const auto& l : rewritten)
    if (l.find("event=\"audit.checkpoint\"") == std::string::npos)
      stripped.push_back(l);
  while (stripped.size() < ls.size())
    stripped.push_back(stripped.back());
  for (size_t i = 0; i < stripped.size(); ++i)
    stripped[i] = std::regex_replace(stripped[i], std::regex{" seq=\"[0-9]+\""},
                                     " seq=\"" + std::to_string(i + 1) + "\"");
  recompute(log, stripped);
  expect_broken("recomputed without checkpoints", "rewritten");

  // Truncated: the last lines down to below the kept head are dropped and FILE.head is fixed.
  auto kept_seq = std::stoull(test::lines_in(head_line).front().substr(client_a.size() + 1));
  BOOST_REQUIRE(kept_seq >= 2 && kept_seq <= ls.size());
  recompute(log, {ls.begin(), ls.begin() + static_cast<std::ptrdiff_t>(kept_seq - 1)});
  expect_broken("truncated", "truncated");

  // Deleted, with its head file.
  fs::remove(log);
  fs::remove(head_file);
  expect_broken("deleted", "deleted");

  // A torn last line.
  write_all(log, original + "<13>1 torn");
  expect_broken("torn", "torn: line " + std::to_string(ls.size() + 1));

  // A kept-head file that is not one: refused with the file and the reason named (exit 2), the
  // log is not judged and nothing changes.
  auto expect_bad_head = [&](const std::string& what, const std::string& content, const std::string& word) {
    write_all(kept, content);
    auto [rc, out] = verify();
    BOOST_CHECK_MESSAGE(rc == 2, what << ": exit " << rc << ": " << out);
    BOOST_CHECK_MESSAGE(out.find(word) != std::string::npos && out.find("BROKEN") == std::string::npos
                          && out.find("intact") == std::string::npos,
                        what << ": " << out);
    BOOST_CHECK(read_all(log) == original);
  };
  auto fields = test::lines_in(head_line).front();
  expect_bad_head("empty", "", "holds no kept head of " + client_a);
  expect_bad_head("garbage", "\x01\x02 not a head\n", "a kept head is one line");
  expect_bad_head("a bad sequence", std::regex_replace(fields, std::regex{"^(\\S+) [0-9]+"}, "$1 -7"),
                  "sequence, hash, time or signature is malformed");
  expect_bad_head("a short hash", std::regex_replace(fields, std::regex{" [0-9a-f]{64} "}, " abcd "),
                  "sequence, hash, time or signature is malformed");
  expect_bad_head("another node's head", std::regex_replace(fields, std::regex{"^\\S+"}, "cp1.joconde.test"),
                  "holds no kept head of " + client_a);
  expect_bad_head("huge, without a newline", std::string(2u << 20, 'x'), "is over 1048576 bytes");
  write_all(kept, head_line);
  BOOST_CHECK(verify().first == 0);
  auto missing = node("audit verify --dir " + dir.string() + " --head " + (c.dir() / "no-such-head").string());
  BOOST_CHECK_MESSAGE(missing.first == 2 && missing.second.find("cannot read the kept head") != std::string::npos,
                      missing.second);
  // A head signed by the right node for another point of its log: the log is BROKEN there.
  auto other_seq = std::regex_replace(fields, std::regex{"^(\\S+) ([0-9]+)"}, "$1 1");
  BOOST_REQUIRE(other_seq != fields);
  write_all(kept, other_seq);
  BOOST_CHECK_EQUAL(verify().first, 1);
  write_all(kept, head_line);

  // Negative twin: restored, it is intact again.
  BOOST_CHECK_EQUAL(verify().first, 0);

  // Restarted on a torn line: the node keeps its bytes, records it in the chain and counts it.
  write_all(log, original + "<13>1 torn");
  BOOST_REQUIRE_EQUAL(c.ops("start client-a"), 0);
  c.reload();
  auto torn_file = dir / ("audit.log.torn-" + std::to_string(ls.size() + 1));
  BOOST_CHECK(fs::exists(torn_file));
  BOOST_CHECK_EQUAL(read_all(torn_file), "<13>1 torn");
  BOOST_CHECK_EQUAL(test::count_lines(log, "event=\"audit.torn_line\""), 1u);
  BOOST_CHECK_EQUAL(c.metric("client-a", "joconde_audit_torn_lines_total"), 1);
  BOOST_REQUIRE(stop_cleanly(c, "client-a"));
  auto [after_rc, after_out] = verify();
  BOOST_CHECK_EQUAL(after_rc, 0);
  BOOST_CHECK_MESSAGE(after_out.find("line " + std::to_string(ls.size() + 1) + " was torn") != std::string::npos,
                      after_out);
  BOOST_CHECK_EQUAL(c.ops("start client-a"), 0);
}
