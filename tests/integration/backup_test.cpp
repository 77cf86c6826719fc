#define BOOST_TEST_MODULE backup
#include <boost/test/unit_test.hpp>

// Backing up a running node and restoring it (actors/node/backup.hpp), as an operator does after a
// lost disk: client-a holds a CTA; it is backed up while it runs; it is killed and its directory
// wiped; the backup is restored with the pass phrase kept apart; the node starts again, rejoins the
// tree with the CTA it had, and carries on (its Task Organiser creates another). The refusals come
// first, each changing nothing: a wrong pass phrase, a cut-off file, a changed byte, a backup that
// is not one, a directory that is not empty, an existing backup file.

#include "support/cluster.hpp"
#include "support/files.hpp"

#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <fstream>
#include <string>

namespace fs = std::filesystem;
using joconde::test::cluster;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct outcome {
  int rc = 1;
  std::string out;
};

/// joconde-node with `args`, both output streams.
outcome node(const std::string& args) {
  auto [rc, out] = joconde::test::run_capture(std::string{JOCONDE_BINARY_DIR} + "/bin/joconde-node " + args + " 2>&1");
  return {rc, std::move(out)};
}

/// N of a backup's "backed up N files".
int files_in(const std::string& said) {
  auto at = said.find("backed up ");
  return at == std::string::npos ? -1 : std::stoi(said.substr(at + 10));
}

std::string task_text() {
  std::ifstream in{std::string{JOCONDE_SOURCE_DIR} + "/config/examples/task.json"};
  return {std::istreambuf_iterator<char>{in}, {}};
}

std::string read_bytes(const fs::path& p) {
  std::ifstream in{p, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, {}};
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out{p, std::ios::binary | std::ios::trunc};
  out << bytes;
}

bool holds(cluster& c, const std::string& node, const std::string& uuid) {
  auto [status, doc] = c.call_as(node, "task_organiser", "GET", "/v1/ctas/" + uuid);
  return status == 200 && doc.value("uuid", "") == uuid;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_running_node_is_backed_up_wiped_restored_and_carries_on) {
  cluster c{"backup"};
  auto [made, created] = c.call_as("client-a", "task_organiser", "POST", "/v1/ctas", json::parse(task_text()));
  BOOST_REQUIRE_MESSAGE(made == 201, created.dump());
  auto uuid = created["uuid"].get<std::string>();
  BOOST_REQUIRE(cluster::wait_until([&] { return holds(c, "client-a", uuid); }, 30s));

  auto data = c.data_dir("client-a").lexically_normal();
  auto work = c.dir() / "backup-work";
  fs::create_directories(work);
  auto file = work / "client-a.backup";
  // The operator keeps the pass phrase apart from the backups.
  auto passphrase = work / "passphrase";
  fs::copy_file(data / "passphrase", passphrase);

  // While the node runs.
  auto backed = node("backup --dir " + data.string() + " --to " + file.string());
  BOOST_TEST_REQUIRE(backed.rc == 0, backed.out);
  BOOST_TEST_MESSAGE(backed.out);
  BOOST_CHECK((fs::status(file).permissions() & fs::perms::group_all) == fs::perms::none);
  auto bytes = read_bytes(file);
  // Encrypted: neither the CTA's uuid nor a PEM header is readable in it.
  BOOST_TEST(bytes.find(uuid) == std::string::npos);
  BOOST_TEST(bytes.find("BEGIN") == std::string::npos);
  BOOST_TEST(node("backup --dir " + data.string() + " --to " + file.string()).rc == 1);  // exists
  // From inside the node's directory (a relative --dir): the same files, the pass phrase left out.
  auto [rel_rc, rel_out] = joconde::test::run_capture("cd " + data.string() + " && " + std::string{JOCONDE_BINARY_DIR}
                                                      + "/bin/joconde-node backup --dir . --to "
                                                      + (work / "relative.backup").string() + " 2>&1");
  BOOST_TEST(rel_rc == 0, rel_out);
  BOOST_TEST(files_in(rel_out) == files_in(backed.out), rel_out);

  // Missing or unknown options: the usage, nothing written.
  for (const char* args : {"backup --to /tmp/x.backup", "backup --dir /tmp", "restore --from /tmp/x --dir /tmp/y",
                           "backup --dir /tmp --to /tmp/x.backup --verbose 1"})
    BOOST_TEST(node(args).rc == 2, args);
  BOOST_TEST(!fs::exists("/tmp/x.backup"));
  BOOST_TEST(node("backup --dir " + (work / "no-such-node").string() + " --to " + (work / "n.backup").string()).rc == 1);
  BOOST_TEST(!fs::exists(work / "n.backup"));

  // A lost disk.
  BOOST_REQUIRE_EQUAL(c.ops("kill client-a"), 0);
  fs::remove_all(data);

  // The refusals, each leaving nothing behind.
  auto wrong = work / "wrong-passphrase";
  write_bytes(wrong, "not the pass phrase\n");
  ::chmod(wrong.c_str(), 0600);
  auto refused = [&](const fs::path& from, const fs::path& pass, const std::string& expect) {
    auto r = node("restore --from " + from.string() + " --dir " + data.string() + " --passphrase-file " + pass.string());
    BOOST_TEST(r.rc == 1, r.out);
    BOOST_TEST(r.out.find(expect) != std::string::npos, r.out);
    BOOST_TEST(!fs::exists(data), from);
    BOOST_TEST(!fs::exists(data.string() + ".restoring"));
  };
  refused(file, wrong, "bad_mac");
  auto cut = work / "cut.backup";
  write_bytes(cut, bytes.substr(0, bytes.size() - 100));
  refused(cut, passphrase, "malformed_input");
  auto last_chunk_gone = work / "short.backup";
  write_bytes(last_chunk_gone, bytes.substr(0, 36));
  refused(last_chunk_gone, passphrase, "cut off");
  auto changed = work / "changed.backup";
  auto flipped = bytes;
  flipped[bytes.size() / 2] = static_cast<char>(flipped[bytes.size() / 2] ^ 0x01);
  write_bytes(changed, flipped);
  refused(changed, passphrase, "bad_mac");
  auto other = work / "other.backup";
  write_bytes(other, "PK\x03\x04 not a joconde backup at all, just some bytes");
  refused(other, passphrase, "not a joconde backup");
  fs::create_directories(data);
  write_bytes(data / "stray", "x");
  auto busy = node("restore --from " + file.string() + " --dir " + data.string() + " --passphrase-file "
                   + passphrase.string());
  BOOST_TEST(busy.rc == 1);
  BOOST_TEST(busy.out.find("not empty") != std::string::npos, busy.out);
  BOOST_TEST(read_bytes(data / "stray") == "x");
  fs::remove_all(data);

  // The restore, then the node as it was.
  auto restored = node("restore --from " + file.string() + " --dir " + data.string() + " --passphrase-file "
                       + passphrase.string());
  BOOST_TEST_REQUIRE(restored.rc == 0, restored.out);
  BOOST_TEST_MESSAGE(restored.out);
  BOOST_TEST(fs::exists(data / "passphrase"));
  BOOST_TEST(!fs::exists(data / "ct"));
  BOOST_REQUIRE_EQUAL(c.ops("start client-a"), 0);
  c.reload();
  BOOST_TEST(holds(c, "client-a", uuid));
  BOOST_TEST(cluster::wait_until(
    [&] { return c.metric("client-a", "joconde_links_up{direction=\"parent\"}") == 1.0; }, 60s));
  BOOST_TEST(node("audit verify --dir " + data.string()).rc == 0);
  // It carries on: its Task Organiser (whose token was in the backed-up store) drafts another task.
  auto [again, second] = c.call_as("client-a", "task_organiser", "POST", "/v1/ctas", json::parse(task_text()));
  BOOST_TEST(again == 201, second.dump());
}
