#define BOOST_TEST_MODULE node_cli
#include <boost/test/unit_test.hpp>

#include "support/test_pki.hpp"

// joconde-node's sub-commands fed bad input, as an operator would: each gives a clear error, a
// non-zero exit code, and changes nothing.

#include "joconde/runtime/audit_chain.hpp"

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {

struct outcome {
  int rc;
  std::string out;
};

outcome node(const std::string& args) {
  auto cmd = std::string{JOCONDE_BINARY_DIR} + "/bin/joconde-node " + args + " 2>&1";
  outcome o{1, {}};
  if (auto* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    while (auto n = std::fread(buf, 1, sizeof buf, p))
      o.out.append(buf, n);
    auto rc = ::pclose(p);
    o.rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : 1;
  }
  return o;
}

struct fixture {
  fs::path dir = fs::temp_directory_path() / ("joconde-cli-" + std::to_string(::getpid()));
  fixture() {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~fixture() { fs::remove_all(dir); }
  std::string root_init() const {
    return "init --root --dir " + (dir / "root").string() + " --name root --domain joconde.test"
           " --org SO --email so@example.org --listen 127.0.0.1:40000 --http 127.0.0.1:40001"
           " --metrics 127.0.0.1:40002";
  }
  std::string member_init(const std::string& name) const {
    return "init --dir " + (dir / name).string() + " --name " + name + " --role client"
           " --parent 127.0.0.1:40000 --org A --email it@a.example --listen 127.0.0.1:40010"
           " --http 127.0.0.1:40011 --metrics 127.0.0.1:40012";
  }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(onboarding_works_and_refuses_what_is_wrong, fixture) {
  auto r = node(root_init());
  BOOST_REQUIRE_MESSAGE(r.rc == 0, r.out);
  BOOST_CHECK(r.out.find("fingerprint: ") != std::string::npos);
  BOOST_CHECK(fs::exists(dir / "root" / "offline" / "root-ca.key"));
  BOOST_CHECK((fs::status(dir / "root" / "node.key").permissions() & fs::perms::others_read) == fs::perms::none);
  // The key on disk is encrypted.
  std::ifstream key{dir / "root" / "node.key"};
  std::string first;
  std::getline(key, first);
  BOOST_CHECK_EQUAL(first, joconde::test::pem_begin("ENCRYPTED PRIVATE KEY"));
  // Twice into the same directory: refused, nothing overwritten.
  auto again = node(root_init());
  BOOST_CHECK_NE(again.rc, 0);
  BOOST_CHECK(again.out.find("already_exists") != std::string::npos);
  // A member: init, enrol at the root, install.
  BOOST_REQUIRE_EQUAL(node(member_init("client-a")).rc, 0);
  auto csr = (dir / "client-a" / "node.csr.pem").string();
  auto chain = (dir / "client-a" / "issued.pem").string();
  // A tampered request is refused.
  {
    std::ifstream in{csr};
    std::stringstream buf;
    buf << in.rdbuf();
    auto text = buf.str();
    auto pos = text.find('\n', 40) + 10;
    text[pos] = text[pos] == 'A' ? 'B' : 'A';
    std::ofstream{dir / "tampered.csr.pem"} << text;
  }
  auto bad_csr = node("enrol --dir " + (dir / "root").string() + " --csr " + (dir / "tampered.csr.pem").string()
                      + " --role client --out " + (dir / "x.pem").string());
  BOOST_CHECK_NE(bad_csr.rc, 0);
  BOOST_CHECK(!fs::exists(dir / "x.pem"));
  BOOST_CHECK_NE(node("enrol --dir " + (dir / "root").string() + " --csr " + csr + " --role boss --out " + chain).rc, 0);
  auto enrolled = node("enrol --dir " + (dir / "root").string() + " --csr " + csr + " --role client --out " + chain);
  BOOST_REQUIRE_MESSAGE(enrolled.rc == 0, enrolled.out);
  auto twice = node("enrol --dir " + (dir / "root").string() + " --csr " + csr + " --role client --out " + chain);
  BOOST_CHECK_NE(twice.rc, 0);
  BOOST_CHECK(twice.out.find("already_exists") != std::string::npos);
  // A chain issued for another key is refused at install.
  BOOST_REQUIRE_EQUAL(node(member_init("client-b")).rc, 0);
  auto wrong = node("install --dir " + (dir / "client-b").string() + " --chain " + chain + " --root-ca "
                    + (dir / "root" / "root-ca.pem").string());
  BOOST_CHECK_NE(wrong.rc, 0);
  BOOST_CHECK(wrong.out.find("not for this node's key") != std::string::npos);
  auto installed = node("install --dir " + (dir / "client-a").string() + " --chain " + chain + " --root-ca "
                        + (dir / "root" / "root-ca.pem").string());
  BOOST_REQUIRE_MESSAGE(installed.rc == 0, installed.out);
  BOOST_CHECK(installed.out.find("installed: client-a.joconde.test") != std::string::npos);
  // Fingerprints: a malformed one is refused, a good one recorded.
  BOOST_CHECK_NE(node("trust confirm not-a-fingerprint --dir " + (dir / "client-a").string()).rc, 0);
  auto fp = node("fingerprint --dir " + (dir / "root").string()).out;
  auto line = fp.substr(fp.find("\nfingerprint: ") + 14, 95);
  BOOST_CHECK_EQUAL(node("trust confirm " + line + " --dir " + (dir / "client-a").string()).rc, 0);
  // Listed, withdrawn (typed in lower case, without colons), then no longer there.
  const auto a_dir = (dir / "client-a").string();
  BOOST_CHECK(node("trust list --dir " + a_dir).out.find(line + " confirmed out of band") != std::string::npos);
  std::string typed;
  for (char ch : line)
    if (ch != ':')
      typed.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
  auto removed = node("trust remove " + typed + " --dir " + a_dir);
  BOOST_CHECK_EQUAL(removed.rc, 0);
  BOOST_CHECK(removed.out.find("no longer trusted: " + line) != std::string::npos);
  BOOST_CHECK(node("trust list --dir " + a_dir).out.find(line) == std::string::npos);
  auto not_there = node("trust remove " + line + " --dir " + a_dir);
  BOOST_CHECK_NE(not_there.rc, 0);
  BOOST_CHECK(not_there.out.find("not_found") != std::string::npos);
  BOOST_CHECK_EQUAL(node("trust confirm " + line + " --dir " + a_dir).rc, 0);
  // The access policy: a client node may enrol client children, not computing ones.
  BOOST_REQUIRE_EQUAL(node("init --dir " + (dir / "dept").string()
                           + " --name dept --role client --parent 127.0.0.1:1 --org Org"
                             " --email it@org.example --listen 127.0.0.1:1 --http 127.0.0.1:2"
                             " --metrics 127.0.0.1:3").rc,
                      0);
  auto dept_csr = (dir / "dept" / "node.csr.pem").string();
  auto as_cp = node("enrol --dir " + (dir / "client-a").string() + " --csr " + dept_csr
                    + " --role computing --out " + (dir / "dept.pem").string());
  BOOST_CHECK_NE(as_cp.rc, 0);
  BOOST_CHECK_MESSAGE(as_cp.out.find("enrol.computing") != std::string::npos, as_cp.out);
  BOOST_CHECK(!fs::exists(dir / "dept.pem"));
  auto as_client = node("enrol --dir " + (dir / "client-a").string() + " --csr " + dept_csr
                        + " --role client --out " + (dir / "dept.pem").string());
  BOOST_CHECK_MESSAGE(as_client.rc == 0, as_client.out);
  BOOST_CHECK(as_client.out.find("issued: dept.client-a.joconde.test") != std::string::npos);
  // People: add with roles (token printed once), list, refuse bad input, remove.
  auto client_dir = (dir / "client-a").string();
  auto added = node("user add --dir " + client_dir + " --name alice --role task_organiser,signatory");
  BOOST_REQUIRE_MESSAGE(added.rc == 0, added.out);
  BOOST_CHECK(added.out.find("token: jct_") != std::string::npos);
  BOOST_CHECK_NE(node("user add --dir " + client_dir + " --name alice --role auditor").rc, 0);
  auto bad_role = node("user add --dir " + client_dir + " --name bob --role boss");
  BOOST_CHECK_NE(bad_role.rc, 0);
  BOOST_CHECK(bad_role.out.find("unknown role 'boss'") != std::string::npos);
  auto listed = node("user list --dir " + client_dir + " --json");
  BOOST_REQUIRE_EQUAL(listed.rc, 0);
  BOOST_CHECK(listed.out.find("\"name\":\"alice\"") != std::string::npos);
  BOOST_CHECK(listed.out.find("\"name\":\"bob\"") == std::string::npos);
  BOOST_CHECK(listed.out.find("jct_") == std::string::npos);
  BOOST_CHECK_EQUAL(node("user remove --dir " + client_dir + " --name alice").rc, 0);
  BOOST_CHECK_NE(node("user remove --dir " + client_dir + " --name alice").rc, 0);
  BOOST_CHECK_NE(node("user list --dir " + (dir / "nowhere").string()).rc, 0);
  BOOST_CHECK_EQUAL(node("user add --dir " + client_dir).rc, 2);
  // Usage errors exit 2.
  BOOST_CHECK_EQUAL(node("enrol --dir x").rc, 2);
  BOOST_CHECK_EQUAL(node("no-such-command").rc, 2);
}

BOOST_FIXTURE_TEST_CASE(a_mistyped_or_misplaced_option_is_refused_and_changes_nothing, fixture) {
  // --nmae for --name: before, it was ignored and init failed later for want of --name, or
  // (worse) a misspelt optional option such as --departement silently went missing.
  auto typo = node(root_init() + " --departement Statistics");
  BOOST_CHECK_EQUAL(typo.rc, 2);
  BOOST_CHECK_MESSAGE(typo.out.find("init takes no option --departement") != std::string::npos, typo.out);
  BOOST_CHECK(!fs::exists(dir / "root"));
  // An option of another command, and a setting where no command takes settings.
  auto misplaced = node("fingerprint --dir " + dir.string() + " --reason why");
  BOOST_CHECK_EQUAL(misplaced.rc, 2);
  BOOST_CHECK_MESSAGE(misplaced.out.find("fingerprint takes no option --reason") != std::string::npos,
                      misplaced.out);
  auto setting = node("user list --dir " + dir.string() + " --log.level=debug");
  BOOST_CHECK_EQUAL(setting.rc, 2);
  BOOST_CHECK_MESSAGE(setting.out.find("user takes no option --log.level") != std::string::npos, setting.out);
  // The same commands with their own options get as far as their own checks.
  BOOST_CHECK_EQUAL(node(root_init()).rc, 0);
  BOOST_CHECK_EQUAL(node("fingerprint --dir " + (dir / "root").string()).rc, 0);
}

BOOST_FIXTURE_TEST_CASE(run_refuses_to_start_without_tls_material_or_with_a_wrong_passphrase, fixture) {
  BOOST_REQUIRE_EQUAL(node(root_init()).rc, 0);
  auto root = dir / "root";
  fs::rename(root / "node-chain.pem", root / "moved.pem");
  auto r = node("run --dir " + root.string());
  BOOST_CHECK_EQUAL(r.rc, 1);
  BOOST_CHECK(r.out.find("TLS fails closed") != std::string::npos);
  fs::rename(root / "moved.pem", root / "node-chain.pem");
  {
    std::ofstream{root / "passphrase", std::ios::trunc} << "wrong\n";
  }
  r = node("run --dir " + root.string());
  BOOST_CHECK_EQUAL(r.rc, 1);
  BOOST_CHECK(r.out.find("bad_passphrase") != std::string::npos);
  fs::permissions(root / "passphrase", fs::perms::owner_read | fs::perms::group_read);
  r = node("run --dir " + root.string());
  BOOST_CHECK_EQUAL(r.rc, 1);
  BOOST_CHECK(r.out.find("readable by group or others") != std::string::npos);
  r = node("run --dir " + root.string() + " --node.listen=nowhere");
  BOOST_CHECK_EQUAL(r.rc, 1);
  BOOST_CHECK(r.out.find("node.listen") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(audit_verify_finds_an_edited_line, fixture) {
  auto file = dir / "audit.log";
  {
    auto chain = joconde::audit_chain::open(file, "joconde-node", "cp1").value();
    for (int i = 0; i < 5; ++i)
      BOOST_REQUIRE(chain.append("service_broker", "envelope", {{"n", std::to_string(i)}}));
  }
  auto ok = node("audit verify --file " + file.string());
  BOOST_CHECK_EQUAL(ok.rc, 0);
  BOOST_CHECK(ok.out.find("intact: 5 records") != std::string::npos);
  std::ifstream in{file};
  std::stringstream buf;
  buf << in.rdbuf();
  auto text = buf.str();
  text.replace(text.find("n=\"2\""), 5, "n=\"7\"");
  std::ofstream{file, std::ios::trunc} << text;
  auto broken = node("audit verify --file " + file.string());
  BOOST_CHECK_EQUAL(broken.rc, 1);
  BOOST_CHECK(broken.out.find("BROKEN at line 4") != std::string::npos);
}
