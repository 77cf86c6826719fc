#define BOOST_TEST_MODULE joconde_cli
#include <boost/test/unit_test.hpp>

#include "support/test_pki.hpp"

#include "joconde/runtime/crypto.hpp"

// The `joconde` client against a fake node that implements the API contract of docs/cli.md: where
// it finds the node and token, what each command prints, how HTTP outcomes map to exit codes, and
// that no token is ever printed.

#include "cli/cli_client.hpp"

#include "joconde/runtime/http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

using namespace joconde;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* good_token = "jct_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
constexpr const char* admin_token = "jct_adminadminadminadminadminadminadminadminadminadminadminadmin0";
constexpr const char* bad_token = "jct_ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

const json cta_doc = json::parse(R"({
  "uuid": "c0ffee",
  "title": "Price index \u001b[2J",
  "status": "running",
  "ctsc_sha256": "ab12",
  "updates": 3,
  "last_changed_ms": 1795694400123,
  "parties": [{"role": "data_custodian", "node": "client-a"},
              {"node": "client-b", "role": "data_custodian"}],
  "task": {"engine": "spdz", "inputs": {"b": [1, 2], "a": "x"}, "empty": {}},
  "note": "",
  "flags": []
})");

// The readable rendering of cta_doc, byte for byte.
constexpr const char* cta_text = "uuid:         c0ffee\n"
                                 "title:        Price index \\x1b[2J\n"
                                 "status:       running\n"
                                 "ctsc_sha256:  ab12\n"
                                 "updates:      3\n"
                                 "last changed: 2026-11-26T12:00:00.123Z\n"
                                 "\n"
                                 "flags: []\n"
                                 "note: \"\"\n"
                                 "parties:\n"
                                 "  - node: client-a\n"
                                 "    role: data_custodian\n"
                                 "  - node: client-b\n"
                                 "    role: data_custodian\n"
                                 "task:\n"
                                 "  empty: {}\n"
                                 "  engine: spdz\n"
                                 "  inputs:\n"
                                 "    a: x\n"
                                 "    b:\n"
                                 "      - 1\n"
                                 "      - 2\n";

// A node's API as the contract describes it, counting requests and keeping the last one.
class fake_node {
public:
  fake_node() {
    auto srv = http::server::start("127.0.0.1:0", 1 << 20, 2);
    BOOST_REQUIRE_MESSAGE(srv.ok(), (srv.ok() ? "" : srv.err().describe()));
    srv_ = std::move(srv).value();
    srv_->route("GET", "/v1/whoami", [this](const http::request& req) {
      auto who = user(req);
      if (!who)
        return unauthorised();
      return http::response::json(200, *who);
    });
    srv_->route("GET", "/v1/tee", [this](const http::request& req) {
      if (!user(req))
        return unauthorised();
      if (tee_broken)
        return http::response::error(503, "io_error", "tee.vm-binary = /x/joconde-vm cannot be read");
      return http::response::json(200, json{{"platform", "simulated"},
                                            {"simulated", true},
                                            {"image", "joconde-vm 0.1.0"},
                                            {"measurement", tee_measurement},
                                            {"note", "SIMULATED TEE: no memory protection"},
                                            {"node", "client-a.joconde.test"}});
    });
    srv_->route("GET", "/v1/status", [this](const http::request& req) {
      auto who = user(req);
      if (!who)
        return unauthorised();
      if ((*who)["user"] != "admin")
        return http::response::error(403, "forbidden", "GET /v1/status needs it_admin or auditor");
      return http::response::json(
        200, json{{"node", "client-a"}, {"links", {{{"peer", "root"}, {"up", true}}}}});
    });
    srv_->route("POST", "/v1/ctas", [this](const http::request& req) {
      if (!user(req))
        return unauthorised();
      auto body = json::parse(req.body, nullptr, false);
      if (body.value("title", "") == "conflict")
        return http::response::error(409, "already_exists", "a CTA with this title exists");
      if (!body.contains("title"))
        return http::response::error(400, "malformed_input", "the task has no title");
      return http::response::json(201, json{{"uuid", "0b6c2a4e-1111-4222-8333-944455556666"},
                                            {"status", "draft"},
                                            {"ctsc_sha256", "ab12"}});
    });
    srv_->route("GET", "/v1/ctas", [this](const http::request& req) {
      if (!user(req))
        return unauthorised();
      return http::response::json(
        200, json{{"ctas",
                   {{{"uuid", "c0ffee-1"}, {"title", "Price index"}, {"status", "running"},
                     {"updates", 3}, {"last_changed_ms", 1}, {"ctsc_sha256", "ab"}},
                    {{"uuid", "d00d"}, {"title", "Wages"}, {"status", "draft"}, {"updates", 12},
                     {"last_changed_ms", 2}, {"ctsc_sha256", "cd"}}}}});
    });
    srv_->route("GET", "/v1/ctas/{uuid}", [this](const http::request& req) {
      if (!user(req))
        return unauthorised();
      const auto& uuid = req.params.at("uuid");
      if (uuid == "c0ffee")
        return http::response::json(200, cta_doc);
      if (uuid == "watched" || uuid == "stuck" || uuid == "doomed")
        return http::response::json(200, watched(uuid));
      if (uuid == "secret")
        return http::response::error(403, "forbidden", "not a party to this CTA");
      if (uuid == "boom")
        throw std::runtime_error{"the store broke"};
      if (uuid == "garbage") {
        http::response res;
        res.content_type = "text/plain";
        res.body = "this is not JSON";
        return res;
      }
      if (uuid == "bare-502") {
        http::response res;
        res.status = 502;
        res.content_type = "text/html";
        res.body = "<h1>Bad Gateway</h1>";
        return res;
      }
      if (uuid == "slow") {
        std::this_thread::sleep_for(std::chrono::milliseconds{1500});
        return http::response::json(200, cta_doc);
      }
      return http::response::error(404, "not_found", "no CTA " + uuid);
    });
    srv_->route("POST", "/v1/ctas/{uuid}/ctsa", [this](const http::request& req) {
      if (!user(req))
        return unauthorised();
      const auto& uuid = req.params.at("uuid");
      if (uuid != "c0ffee")
        return http::response::error(404, "not_found", "no CTA " + uuid);
      auto body = json::parse(req.body, nullptr, false);
      if (body.value("version", 0) < 1)
        return http::response::error(409, "replayed", "version 0 is not newer than version 1");
      return http::response::json(200, json{{"uuid", uuid},
                                            {"ctsa_sha256", ctsa_sha256},
                                            {"updates", 4},
                                            {"status", "emerging"}});
    });
    srv_->route("POST", "/v1/ctas/{uuid}/signatures", [this](const http::request& req) {
      if (!user(req))
        return unauthorised();
      const auto& uuid = req.params.at("uuid");
      if (uuid != "c0ffee")
        return http::response::error(404, "not_found", "no CTA " + uuid);
      auto body = json::parse(req.body, nullptr, false);
      if (body.value("signatory", 0) > 2)
        return http::response::error(422, "malformed_input", "the CTSA has 3 signatories");
      return http::response::json(200, json{{"uuid", uuid},
                                            {"peer", "client-a.joconde.test"},
                                            {"signatory", body["signatory"]},
                                            {"ctsa_sha256", ctsa_sha256},
                                            {"status", "emerging"}});
    });
    srv_->route("POST", "/v1/ctas/{uuid}/decisions", [this](const http::request& req) {
      if (!user(req))
        return unauthorised();
      const auto& uuid = req.params.at("uuid");
      if (uuid != "c0ffee")
        return http::response::error(404, "not_found", "no CTA " + uuid);
      auto body = json::parse(req.body, nullptr, false);
      const bool approve = body.value("approve", false);
      return http::response::json(200, json{{"uuid", uuid},
                                            {"peer", body.value("peer", "") + ".joconde.test"},
                                            {"decision", approve ? "approved" : "rejected"},
                                            {"status", approve ? "instantiated" : "emerging"}});
    });
    srv_->route("POST", "/v1/ctas/{uuid}/paks", [this](const http::request& req) {
      if (!user(req))
        return unauthorised();
      return http::response::json(201, json{{"uuid", req.params.at("uuid")}, {"pak_sha256", "ab12"}});
    });
    srv_->route("POST", "/v1/ctas/{uuid}/overrides", [this](const http::request& req) {
      auto who = user(req);
      if (!who)
        return unauthorised();
      if ((*who)["user"] != "admin")
        return http::response::error(403, "forbidden", "POST /v1/ctas/{uuid}/overrides needs the role it_admin");
      const auto& uuid = req.params.at("uuid");
      if (uuid != "c0ffee")
        return http::response::error(404, "not_found", "no CTA " + uuid);
      auto body = json::parse(req.body, nullptr, false);
      auto member = body.value("member", "") + ".joconde.test";
      if (member == "client-a.joconde.test")
        return http::response::error(409, "invalid_state", member + " is confirmed at this node");
      return http::response::json(201, json{{"uuid", uuid}, {"member", member}, {"fingerprint", "0A:1B"},
                                            {"reason", body.value("reason", "")}, {"by", "admin"},
                                            {"at_ms", 5}});
    });
    srv_->route("POST", "/v1/ctas/{uuid}/cancel", [this](const http::request& req) {
      if (!user(req))
        return unauthorised();
      const auto& uuid = req.params.at("uuid");
      if (uuid != "c0ffee")
        return http::response::error(404, "not_found", "no CTA " + uuid);
      return http::response::json(200, json{{"uuid", uuid}, {"status", "cancelled"}, {"reason", "r"}});
    });
  }

  /// The measurement GET /v1/tee shows (48 bytes in hex).
  static constexpr const char* tee_measurement =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

  /// GET /v1/tee fails with 503 while set.
  std::atomic<bool> tee_broken{false};

  /// The hash the fake node gives every CTSA.
  static constexpr const char* ctsa_sha256 =
    "5a5a5a5a00112233445566778899aabbccddeeff00112233445566778899aabb";

  std::string url() const {
    return "http://" + srv_->listen_address();
  }

  int requests() const {
    return requests_.load();
  }

  std::string last_token() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return last_token_;
  }

  std::string last_body() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return last_body_;
  }

private:
  /// A CT as `cta watch` sees it poll after poll: "watched" gets its VMs and events and finishes at
  /// the fourth poll, "doomed" is cancelled at the second, "stuck" never changes.
  json watched(const std::string& uuid) {
    int n = 0;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      n = ++polls_[uuid];
    }
    auto vm = [](const char* cp, int index) {
      return json{{"cp", std::string{cp} + ".joconde.test"}, {"cp_index", index},
                  {"client_address", "127.0.0.1:410" + std::to_string(index)},
                  {"peer_address", "127.0.0.1:420" + std::to_string(index)},
                  {"mpc_address", "127.0.0.1:430" + std::to_string(index)},
                  {"platform", "joconde-simulated"}, {"reported_at_ms", 1}};
    };
    auto ev = [](const char* cp, std::int64_t at, const char* kind, const char* subject, const char* value) {
      return json{{"cp", std::string{cp} + ".joconde.test"}, {"at_ms", at}, {"kind", kind},
                  {"subject", subject}, {"value", value}};
    };
    json doc{{"uuid", uuid}, {"title", "t"}, {"status", "instantiated"}, {"reason", ""},
             {"vms", json::array()}, {"telemetry", json::array()}};
    if (uuid == "stuck")
      return doc;
    if (uuid == "doomed") {
      if (n >= 2) {
        doc["status"] = "cancelled";
        doc["reason"] = "budget withdrawn";
      }
      return doc;
    }
    if (n >= 2) {
      doc["vms"] = json::array({vm("cp1", 0), vm("cp2", 1)});
      doc["telemetry"] = json::array({ev("cp1", 1795694400123, "vm", "", "started"),
                                      ev("cp2", 1795694401004, "phase", "input", "agreed [2J")});
    }
    if (n >= 3)
      doc["telemetry"].push_back(ev("cp1", 1795694402050, "erased", "finished", "exit status 0"));
    if (n >= 4)
      doc["status"] = "finished";
    return doc;
  }

  std::optional<json> user(const http::request& req) {
    ++requests_;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      last_token_ = req.bearer_token;
      last_body_ = req.body;
    }
    if (req.bearer_token == good_token)
      return json{{"user", "alice"}, {"roles", {"task_organiser", "signatory"}}, {"node", "client-a"}};
    if (req.bearer_token == admin_token)
      return json{{"user", "admin"}, {"roles", {"it_admin"}}, {"node", "client-a"}};
    return std::nullopt;
  }

  static http::response unauthorised() {
    return http::response::error(401, "unauthorised", "unknown or missing API token");
  }

  std::unique_ptr<http::server> srv_;
  std::atomic<int> requests_{0};
  mutable std::mutex mtx_;
  std::string last_token_;
  std::string last_body_;
  std::map<std::string, int> polls_;
};

// A port nothing listens on (bound once, then released).
std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  socklen_t len = sizeof(addr);
  BOOST_REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

struct outcome {
  int rc;
  std::string out;
  std::string err;
};

using env_map = std::map<std::string, std::string>;

outcome joconde_run(const std::vector<std::string>& args, const env_map& env = {}) {
  std::ostringstream out;
  std::ostringstream err;
  auto rc = cli::run(args, [env](const std::string& name) {
    auto i = env.find(name);
    return i == env.end() ? std::string{} : i->second;
  }, out, err);
  return {rc, out.str(), err.str()};
}

bool shows_a_token(const outcome& o) {
  for (const auto* t : {good_token, admin_token, bad_token})
    if (o.out.find(t) != std::string::npos || o.err.find(t) != std::string::npos)
      return true;
  return false;
}

// A fake node plus a temporary directory with a cluster.json naming it.
struct fixture {
  fake_node node;
  fs::path dir = fs::temp_directory_path() / ("joconde-cli-test-" + std::to_string(::getpid()));
  std::string unreachable = "http://127.0.0.1:" + std::to_string(free_port());

  fixture() {
    fs::remove_all(dir);
    fs::create_directories(dir / "client-a");
    std::ofstream{dir / "client-a" / "admin.token"} << admin_token << "\n";
    json cluster{{"nodes",
                  {{{"name", "client-a"},
                    {"role", "client"},
                    {"http_url", node.url()},
                    {"admin_token_file", (dir / "client-a" / "admin.token").string()},
                    {"users",
                     {{"task_organiser", {{"name", "task_organiser"}, {"token", good_token}}},
                      {"signatory", {{"name", "signatory"}, {"token", bad_token}}}}}},
                   {{"name", "cp1"},
                    {"role", "computing"},
                    {"http_url", unreachable},
                    {"admin_token_file", "cp1/admin.token"},
                    {"users", json::object()}}}}};
    std::ofstream{dir / "cluster.json"} << cluster.dump(2);
  }

  ~fixture() {
    fs::remove_all(dir);
  }

  std::vector<std::string> with_url(std::vector<std::string> args,
                                    const char* token = good_token) const {
    args.insert(args.end(), {"--url", node.url(), "--token", token});
    return args;
  }

  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream{dir / name, std::ios::binary} << text;
    return dir / name;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(joconde_cli, fixture)

// -- where to talk to --

BOOST_AUTO_TEST_CASE(whoami_with_url_and_token) {
  auto r = joconde_run(with_url({"whoami"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "alice at client-a (roles: task_organiser, signatory)\n");
  BOOST_CHECK_EQUAL(r.err, "");
  BOOST_CHECK_EQUAL(node.last_token(), good_token);
}

BOOST_AUTO_TEST_CASE(options_win_over_the_environment) {
  // The environment alone.
  auto r = joconde_run({"whoami"}, {{"JOCONDE_URL", node.url()}, {"JOCONDE_TOKEN", good_token}});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "alice at client-a (roles: task_organiser, signatory)\n");
  // --url beats JOCONDE_URL (which points nowhere); the token still comes from the environment.
  r = joconde_run({"whoami", "--url", node.url()},
                  {{"JOCONDE_URL", unreachable}, {"JOCONDE_TOKEN", good_token}});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  // --token beats JOCONDE_TOKEN (which the node does not know).
  r = joconde_run({"whoami", "--token", admin_token},
                  {{"JOCONDE_URL", node.url()}, {"JOCONDE_TOKEN", bad_token}});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "admin at client-a (roles: it_admin)\n");
  // --cluster/--as beat the environment entirely.
  r = joconde_run({"--cluster", dir.string(), "--as", "client-a:task_organiser", "whoami"},
                  {{"JOCONDE_URL", unreachable}, {"JOCONDE_TOKEN", bad_token}});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(node.last_token(), good_token);
  // Nothing at all, or half of it: a usage error and no request.
  auto before = node.requests();
  r = joconde_run({"whoami"});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  BOOST_CHECK(r.err.find("no node given") != std::string::npos);
  r = joconde_run({"whoami"}, {{"JOCONDE_URL", node.url()}});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  BOOST_CHECK(r.err.find("no token given") != std::string::npos);
  // A token that cannot go into a header is refused before sending (and not quoted).
  r = joconde_run({"whoami", "--url", node.url(), "--token", "jct_with space"});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  BOOST_CHECK(r.err.find("with space") == std::string::npos);
  BOOST_CHECK_EQUAL(node.requests(), before);
}

BOOST_AUTO_TEST_CASE(cluster_and_as_resolve_users_and_the_admin) {
  auto as = [&](const std::string& who) {
    return joconde_run({"whoami", "--cluster", dir.string(), "--as", who});
  };
  auto r = as("client-a:task_organiser");
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "alice at client-a (roles: task_organiser, signatory)\n");
  // No role: the admin token, first line of admin_token_file.
  r = as("client-a");
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "admin at client-a (roles: it_admin)\n");
  BOOST_CHECK_EQUAL(node.last_token(), admin_token);
  auto parsed = cli::parse_options({"--cluster", dir.string(), "--as", "client-a"});
  BOOST_REQUIRE(parsed.ok());
  auto resolved = cli::resolve_endpoint(*parsed, cli::process_environment());
  BOOST_REQUIRE(resolved.ok());
  BOOST_CHECK_EQUAL(resolved->url, node.url());
  BOOST_CHECK_EQUAL(resolved->token, admin_token);
  BOOST_CHECK(resolved->source.find(admin_token) == std::string::npos);
  // What cannot be resolved is a usage error naming what exists, never a token.
  auto before = node.requests();
  r = as("client-a:auditor");
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  BOOST_CHECK(r.err.find("roles there: signatory, task_organiser") != std::string::npos);
  BOOST_CHECK(!shows_a_token(r));
  r = as("nobody");
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  BOOST_CHECK(r.err.find("nodes there: client-a, cp1") != std::string::npos);
  r = as("cp1"); // its admin token file does not exist
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  BOOST_CHECK(r.err.find("admin token file") != std::string::npos);
  r = as("client-a:");
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  r = joconde_run({"whoami", "--cluster", (dir / "client-a").string(), "--as", "client-a"});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  BOOST_CHECK(r.err.find("cluster.json") != std::string::npos);
  r = joconde_run({"whoami", "--cluster", dir.string()});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  r = joconde_run({"whoami", "--cluster", dir.string(), "--as", "client-a", "--url", node.url()});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  BOOST_CHECK(r.err.find("alternatives") != std::string::npos);
  BOOST_CHECK_EQUAL(node.requests(), before);
}

// -- commands --

BOOST_AUTO_TEST_CASE(cta_create_prints_the_uuid_alone) {
  const std::string task =
    R"({"title": "Price index", "parties": ["client-a", "client-b"], "tee_measurements": []})";
  auto file = write("task.json", task);
  auto r = joconde_run(with_url({"cta", "create", file.string()}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "0b6c2a4e-1111-4222-8333-944455556666\n");
  BOOST_CHECK_EQUAL(r.err, "");
  BOOST_CHECK_EQUAL(node.last_body(), task);
  r = joconde_run(with_url({"cta", "create", file.string(), "--json"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, R"({"ctsc_sha256":"ab12","status":"draft",)"
                           R"("uuid":"0b6c2a4e-1111-4222-8333-944455556666"})"
                           "\n");
  // Refused as invalid by the node: 400 and 409 are exit code 6, the node's error on stderr.
  r = joconde_run(with_url(
    {"cta", "create", write("untitled.json", R"({"parties": [], "tee_measurements": []})").string()}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_invalid);
  BOOST_CHECK_EQUAL(r.out, "");
  BOOST_CHECK_EQUAL(r.err, "joconde: malformed_input: the task has no title\n");
  r = joconde_run(with_url(
    {"cta", "create", write("dup.json", R"({"title": "conflict", "tee_measurements": []})").string()}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_invalid);
  BOOST_CHECK_EQUAL(r.err, "joconde: already_exists: a CTA with this title exists\n");
}

BOOST_AUTO_TEST_CASE(cta_create_fills_in_the_nodes_ct_vm_measurement) {
  const std::string task = R"({"title": "Price index", "parties": ["client-a", "client-b"]})";
  auto file = write("task-no-tee.json", task);
  auto before = node.requests();
  auto r = joconde_run(with_url({"cta", "create", file.string()}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "0b6c2a4e-1111-4222-8333-944455556666\n");
  BOOST_CHECK_EQUAL(r.err, std::string{"tee_measurements: simulated joconde-vm measurement "}
                             + fake_node::tee_measurement + " from client-a.joconde.test\n");
  BOOST_CHECK_EQUAL(node.requests(), before + 2);
  auto sent = json::parse(node.last_body());
  auto expected = json::parse(task);
  auto raw = crypto::from_hex(fake_node::tee_measurement).value();
  expected["tee_measurements"] = json::array({{{"platform", "simulated"}, {"image", "joconde-vm 0.1.0"},
                                               {"measurement", crypto::to_base64(raw)}}});
  BOOST_CHECK_EQUAL(sent, expected);
  // Stated in the task: sent as it is, nobody asked.
  before = node.requests();
  auto stated = write("task-tee.json", R"({"title": "t", "tee_measurements": [{"platform": "sev-snp"}]})");
  r = joconde_run(with_url({"cta", "create", stated.string()}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.err, "");
  BOOST_CHECK_EQUAL(node.requests(), before + 1);
  BOOST_CHECK_EQUAL(json::parse(node.last_body())["tee_measurements"][0]["platform"], "sev-snp");
  // The node cannot tell: nothing is created, the error says what to do.
  node.tee_broken = true;
  before = node.requests();
  r = joconde_run(with_url({"cta", "create", file.string()}));
  node.tee_broken = false;
  BOOST_CHECK_EQUAL(r.rc, cli::exit_server);
  BOOST_CHECK_EQUAL(r.out, "");
  BOOST_CHECK(r.err.find("io_error: tee.vm-binary") != std::string::npos);
  BOOST_CHECK(r.err.find("give \"tee_measurements\" in the task file") != std::string::npos);
  BOOST_CHECK_EQUAL(node.requests(), before + 1);
  // Not even the measurement request without a valid token.
  r = joconde_run(with_url({"cta", "create", file.string()}, bad_token));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_denied);
}

BOOST_AUTO_TEST_CASE(cta_watch_follows_a_ct_until_it_ends) {
  auto r = joconde_run(with_url({"cta", "watch", "watched"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "CTA watched: instantiated\n"
                           "vm cp1: client 127.0.0.1:4100, peer 127.0.0.1:4200, mpc 127.0.0.1:4300 (joconde-simulated)\n"
                           "vm cp2: client 127.0.0.1:4101, peer 127.0.0.1:4201, mpc 127.0.0.1:4301 (joconde-simulated)\n"
                           "12:00:00.123 cp1 vm started\n"
                           "12:00:01.004 cp2 phase input agreed \\x1b[2J\n"
                           "12:00:02.050 cp1 erased finished exit status 0\n"
                           "CTA watched: finished\n");
  BOOST_CHECK_EQUAL(r.err, "");
  // Awaiting another end than the one that came: exit 9.
  r = joconde_run(with_url({"cta", "watch", "doomed", "--until", "finished"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_watch_other_end);
  BOOST_CHECK_EQUAL(r.out, "CTA doomed: instantiated\nCTA doomed: cancelled (budget withdrawn)\n");
  BOOST_CHECK(r.err.find("it will not be finished") != std::string::npos);
  // A CT that does not end in time: exit 8 after the time limit, with --json the last document.
  auto started = std::chrono::steady_clock::now();
  r = joconde_run(with_url({"cta", "watch", "stuck", "--timeout", "1.2", "--json"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_watch_timeout);
  BOOST_CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds{5});
  BOOST_CHECK_EQUAL(json::parse(r.out)["status"], "instantiated");
  BOOST_CHECK(r.err.find("timeout: CTA stuck is still instantiated") != std::string::npos);
  // Unknown here: 404 is exit 5; a bad --until is a usage error and sends nothing.
  BOOST_CHECK_EQUAL(joconde_run(with_url({"cta", "watch", "nothing"})).rc, cli::exit_not_found);
  auto before = node.requests();
  r = joconde_run(with_url({"cta", "watch", "watched", "--until", "done"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  BOOST_CHECK(r.err.find("--until wants finished, cancelled or erased") != std::string::npos);
  BOOST_CHECK_EQUAL(joconde_run(with_url({"cta", "show", "c0ffee", "--until", "finished"})).rc,
                    cli::exit_usage);
  BOOST_CHECK_EQUAL(node.requests(), before);
  BOOST_CHECK(cli::usage().find("\n  cta watch UUID") != std::string::npos);
  BOOST_CHECK(cli::usage().find("8  cta watch") != std::string::npos);
  BOOST_CHECK(cli::usage("cta watch").rfind("usage: joconde cta watch UUID", 0) == 0);
}

BOOST_AUTO_TEST_CASE(sql_check_compiles_the_task_here_and_cta_create_states_its_disclosures) {
  std::ifstream in{std::string{JOCONDE_SOURCE_DIR} + "/config/examples/task.json"};
  std::stringstream buf;
  buf << in.rdbuf();
  auto doc = json::parse(buf.str());
  doc["main_algorithm"].erase("disclosures");
  auto good = write("task-good.json", doc.dump());
  const auto before = node.requests();
  auto r = joconde_run({"sql", "check", good.string()});  // no node needed
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK(r.out.find("compiles for rss3") != std::string::npos);
  BOOST_CHECK(r.out.find("union") != std::string::npos);
  BOOST_CHECK(r.out.find("are known to the Computing Parties") != std::string::npos);
  r = joconde_run({"sql", "check", good.string(), "--json"});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  auto report = json::parse(r.out);
  BOOST_CHECK_EQUAL(report["engine"], "rss3");
  BOOST_CHECK_EQUAL(report["disclosures"].size(), 1u);
  BOOST_CHECK_EQUAL(node.requests(), before);

  // cta create sends the task with the compiler's disclosures in it.
  r = joconde_run(with_url({"cta", "create", good.string()}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  auto sent = json::parse(node.last_body());
  BOOST_CHECK(sent["main_algorithm"]["disclosures"] == report["disclosures"]);

  // A broken algorithm: the place and the reason, exit code 6, nothing sent.
  doc["main_algorithm"]["source"] = "INSERT INTO turnover_by_region\nSELECT regio FROM a_enterprises;";
  auto bad = write("task-bad.json", doc.dump());
  const auto sent_before = node.requests();
  r = joconde_run({"sql", "check", bad.string()});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_invalid);
  BOOST_CHECK(r.err.find("compile_error: main algorithm: 2:8: unknown column `regio`")
              != std::string::npos);
  r = joconde_run(with_url({"cta", "create", bad.string()}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_invalid);
  BOOST_CHECK(r.err.find("2:8:") != std::string::npos);
  BOOST_CHECK_EQUAL(node.requests(), sent_before);

  // Garbage task files: not JSON (exit 2), JSON that is not a CTSC or names no known engine
  // (exit 6); nothing is sent.
  r = joconde_run({"sql", "check", write("task-garbage.json", "{\"title\": ").string()});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  r = joconde_run({"sql", "check", write("task-other.json", R"({"colour": "blue"})").string()});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_invalid);
  BOOST_CHECK(r.err.find("malformed_input: the task file is not a CTSC") != std::string::npos);
  r = joconde_run({"sql", "check", write("task-noengine.json", R"({"title": "t"})").string()});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_invalid);
  BOOST_CHECK(r.err.find("unsupported") != std::string::npos);
  r = joconde_run({"sql", "check"});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  BOOST_CHECK_EQUAL(node.requests(), sent_before);

  // Without declared ranges the SUM could overflow: the compiler says which RANGE to declare.
  doc["main_algorithm"]["source"] = json::parse(buf.str())["main_algorithm"]["source"];
  doc["inputs"][0]["schema"][1].erase("max");
  r = joconde_run({"sql", "check", write("task-unbounded.json", doc.dump()).string()});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_invalid);
  BOOST_CHECK(r.err.find("RANGE") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_bad_task_file_is_refused_before_any_request) {
  fs::create_directories(dir / "a-directory");
  const auto before = node.requests();
  for (const auto& file : {(dir / "missing.json").string(),
                           write("broken.json", "{\"title\": ").string(),
                           write("array.json", "[1, 2]").string(), write("empty.json", "").string(),
                           (dir / "a-directory").string()}) {
    auto r = joconde_run(with_url({"cta", "create", file}));
    BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
    BOOST_CHECK_EQUAL(r.out, "");
    BOOST_CHECK_MESSAGE(r.err.find("task file") != std::string::npos, r.err);
  }
  // Also when the node is unreachable: the file is checked first.
  auto r = joconde_run({"cta", "create", (dir / "missing.json").string(), "--url", unreachable,
                        "--token", good_token});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  BOOST_CHECK_EQUAL(node.requests(), before);
}

BOOST_AUTO_TEST_CASE(ctsa_submit_sends_the_file_and_prints_the_hash_alone) {
  const std::string ctsa = R"({"version": 1, "signatories": [{"name": "Ann"}]})";
  auto file = write("ctsa.json", ctsa);
  auto r = joconde_run(with_url({"ctsa", "submit", "c0ffee", file.string()}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, std::string{fake_node::ctsa_sha256} + "\n");
  BOOST_CHECK_EQUAL(r.err, "");
  BOOST_CHECK_EQUAL(node.last_body(), ctsa);
  r = joconde_run(with_url({"ctsa", "submit", "c0ffee", file.string(), "--json"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, R"({"ctsa_sha256":")" + std::string{fake_node::ctsa_sha256}
                             + R"(","status":"emerging","updates":4,"uuid":"c0ffee"})" + "\n");
  // The node's refusals keep their exit codes; the UUID stays one path segment.
  const auto old = write("old.json", R"({"version": 0})").string();
  r = joconde_run(with_url({"ctsa", "submit", "c0ffee", old}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_invalid);
  BOOST_CHECK_EQUAL(r.out, "");
  BOOST_CHECK_EQUAL(r.err, "joconde: replayed: version 0 is not newer than version 1\n");
  r = joconde_run(with_url({"ctsa", "submit", "../whoami", file.string()}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_not_found);
  BOOST_CHECK_EQUAL(r.err, "joconde: not_found: no CTA ../whoami\n");
  // An answer without the hash is a server error, not an empty line.
  BOOST_CHECK(!cli::render_ctsa_submitted(json{{"uuid", "c0ffee"}}).ok());
}

BOOST_AUTO_TEST_CASE(cta_sign_sends_the_document_in_base64) {
  // A small binary file: a PNG signature, a NUL and bytes that are not UTF-8.
  const std::string png{"\x89PNG\r\n\x1a\n\x00\xff\xfe", 11};
  auto file = write("id-scan.PNG", png);
  auto r = joconde_run(with_url({"cta", "sign", "c0ffee", "--signatory", "2", "--document",
                                 file.string()}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "signatory 2 of client-a.joconde.test signed CTSA "
                             + std::string{fake_node::ctsa_sha256} + "\n");
  BOOST_CHECK_EQUAL(r.err, "");
  BOOST_CHECK_EQUAL(node.last_body(), R"({"document":{"data":"iVBORw0KGgoA//4=",)"
                                      R"("media_type":"image/png","name":"id-scan.PNG"},)"
                                      R"("signatory":2})");
  // --media-type wins over the extension; --key=value works too; an empty file is a document.
  r = joconde_run(with_url({"cta", "sign", "c0ffee", "--signatory=0", "--media-type",
                            "application/vnd.etsi.asic-e+zip",
                            "--document=" + write("signed", "").string(), "--json"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(json::parse(node.last_body()),
                    (json{{"signatory", 0},
                          {"document", {{"name", "signed"},
                                        {"media_type", "application/vnd.etsi.asic-e+zip"},
                                        {"data", ""}}}}));
  BOOST_CHECK_EQUAL(r.out, R"({"ctsa_sha256":")" + std::string{fake_node::ctsa_sha256}
                             + R"(","peer":"client-a.joconde.test","signatory":0,)"
                               R"("status":"emerging","uuid":"c0ffee"})" + "\n");
  // An index the CTSA does not have: the node refuses it.
  r = joconde_run(with_url({"cta", "sign", "c0ffee", "--signatory", "7", "--document",
                            file.string()}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_invalid);
  BOOST_CHECK_EQUAL(r.err, "joconde: malformed_input: the CTSA has 3 signatories\n");
  BOOST_CHECK(
    !cli::render_signature(json{{"peer", "p"}, {"ctsa_sha256", "ab"}, {"signatory", -1}}).ok());
  BOOST_CHECK(!cli::render_signature(json{{"peer", "p"}, {"signatory", 1}}).ok());
}

BOOST_AUTO_TEST_CASE(media_types_follow_the_extension) {
  const std::vector<std::pair<std::string, std::string>> cases{
    {"agreement.pdf", "application/pdf"},
    {"dir.d/AGREEMENT.PDF", "application/pdf"},
    {"signed.asice", "application/vnd.etsi.asic-e+zip"},
    {"signed.sce", "application/vnd.etsi.asic-e+zip"},
    {"scan.png", "image/png"},
    {"scan.jpg", "image/jpeg"},
    {"scan.JPEG", "image/jpeg"},
    {"note.txt", "text/plain"},
    {"archive.zip", "application/octet-stream"},
    {"pdf", "application/octet-stream"},
    {".pdf", "application/octet-stream"}, // a hidden file named ".pdf" has no extension
    {"scan.png.gz", "application/octet-stream"},
  };
  for (const auto& [name, type] : cases)
    BOOST_CHECK_MESSAGE(cli::media_type_for(name) == type,
                        name + " -> " + cli::media_type_for(name));
}

BOOST_AUTO_TEST_CASE(pak_create_keeps_the_private_key_and_registers_the_public_one) {
  auto dir = std::filesystem::temp_directory_path() / ("joconde-pak-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream{dir / "pass"} << "a long enough pass phrase\n";
  auto key = (dir / "dc.key").string();
  auto r = joconde_run(with_url({"pak", "create", "c0ffee", "--input", "a_enterprises", "--name", "Cleo",
                                 "--out", key, "--passphrase-file", (dir / "pass").string()}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "ab12\n");
  // The private key is on disk, encrypted, owner-only; the node got the public key alone.
  BOOST_CHECK((std::filesystem::status(key).permissions() & std::filesystem::perms::others_read)
              == std::filesystem::perms::none);
  std::ifstream in{key};
  std::string first;
  std::getline(in, first);
  BOOST_CHECK_EQUAL(first, test::pem_begin("ENCRYPTED PRIVATE KEY"));
  auto body = json::parse(node.last_body());
  BOOST_CHECK_EQUAL(body["name"], "Cleo");
  BOOST_CHECK(body["input_keys"] == json::array({"a_enterprises"}));
  auto der = crypto::public_key::from_der(crypto::to_bytes(std::string{}));
  BOOST_CHECK(!der.ok());
  BOOST_CHECK(!body.contains("output_keys"));
  BOOST_CHECK(body["pak"].get<std::string>().size() > 80);
  // Never overwrites a key file; needs exactly one of --input and --output.
  auto again = joconde_run(with_url({"pak", "create", "c0ffee", "--input", "a_enterprises", "--name", "Cleo",
                                     "--out", key, "--passphrase-file", (dir / "pass").string()}));
  BOOST_CHECK_EQUAL(again.rc, cli::exit_usage);
  auto both = joconde_run(with_url({"pak", "create", "c0ffee", "--input", "a", "--output", "b", "--name", "C",
                                    "--out", (dir / "x.key").string(), "--passphrase-file", (dir / "pass").string()}));
  BOOST_CHECK_EQUAL(both.rc, cli::exit_usage);
  BOOST_CHECK(!std::filesystem::exists(dir / "x.key"));
  // A missing or too short pass phrase: refused, no key file, nothing sent.
  std::ofstream{dir / "short"} << "short\n";
  auto calls = node.last_body();
  for (const auto& pass : {dir / "missing", dir / "short"}) {
    auto bad = joconde_run(with_url({"pak", "create", "c0ffee", "--input", "a", "--name", "C", "--out",
                                     (dir / "y.key").string(), "--passphrase-file", pass.string()}));
    BOOST_CHECK_EQUAL(bad.rc, cli::exit_usage);
    BOOST_CHECK(!std::filesystem::exists(dir / "y.key"));
  }
  BOOST_CHECK_EQUAL(node.last_body(), calls);
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(cta_cancel_says_why) {
  auto r = joconde_run(with_url({"cta", "cancel", "c0ffee", "--reason", "budget withdrawn"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "CTA c0ffee: cancelled\n");
  BOOST_CHECK_EQUAL(node.last_body(), R"({"reason":"budget withdrawn"})");
  r = joconde_run(with_url({"cta", "cancel", "c0ffee"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  BOOST_CHECK(r.err.find("cta cancel needs --reason TEXT") != std::string::npos);
  r = joconde_run(with_url({"cta", "cancel", "deadbeef", "--reason", "x"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_not_found);
}

BOOST_AUTO_TEST_CASE(cta_approve_and_reject_record_decisions) {
  auto r = joconde_run(with_url({"cta", "approve", "c0ffee", "--peer", "client-a"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "client-a.joconde.test: approved; CTA instantiated\n");
  BOOST_CHECK_EQUAL(r.err, "");
  BOOST_CHECK_EQUAL(node.last_body(), R"({"approve":true,"peer":"client-a"})");
  r = joconde_run(with_url({"cta", "reject", "c0ffee", "--peer", "client-b", "--reason",
                            "signatory 1 lacks an ID document"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "client-b.joconde.test: rejected; CTA emerging\n");
  BOOST_CHECK_EQUAL(node.last_body(), R"({"approve":false,"peer":"client-b",)"
                                      R"("reason":"signatory 1 lacks an ID document"})");
  r = joconde_run(with_url({"--json", "cta", "approve", "c0ffee", "--peer", "client-a"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, R"({"decision":"approved","peer":"client-a.joconde.test",)"
                           R"("status":"instantiated","uuid":"c0ffee"})"
                           "\n");
  r = joconde_run(with_url({"cta", "approve", "nothing-here", "--peer", "client-a"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_not_found);
  BOOST_CHECK_EQUAL(r.err, "joconde: not_found: no CTA nothing-here\n");
  r = joconde_run(with_url({"cta", "approve", "c0ffee", "--peer", "client-a"}, bad_token));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_denied);
  BOOST_CHECK(!shows_a_token(r));
  BOOST_CHECK(!cli::render_decision(json{{"peer", "p"}}, true).ok());
}

BOOST_AUTO_TEST_CASE(bad_agreement_commands_are_refused_before_any_request) {
  fs::create_directories(dir / "a-directory");
  const auto doc = write("doc.pdf", "%PDF-1.7").string();
  const auto big = write("big.pdf", "").string();
  fs::resize_file(big, cli::max_document_bytes + 1);
  const auto ctsa = write("ctsa.json", R"({"version": 1})").string();
  const auto before = node.requests();
  auto refused = [&](std::vector<std::string> args, const std::string& says) {
    auto r = joconde_run(with_url(args));
    BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
    BOOST_CHECK_EQUAL(r.out, "");
    BOOST_CHECK_MESSAGE(r.err.find(says) != std::string::npos, r.err);
  };
  // ctsa submit: a file that is not a JSON object, or missing arguments.
  refused({"ctsa", "submit", "c0ffee", write("array.json", "[1]").string()},
          "CTSA file '" + (dir / "array.json").string() + "' holds a JSON array");
  refused({"ctsa", "submit", "c0ffee", write("text.json", "hello").string()}, "is not JSON");
  refused({"ctsa", "submit", "c0ffee", (dir / "missing.json").string()}, "cannot read CTSA file");
  refused({"ctsa", "submit", "c0ffee", (dir / "a-directory").string()}, "not a regular file");
  refused({"ctsa", "submit", ctsa}, "ctsa submit needs two arguments");
  refused({"ctsa", "submit", "", ctsa}, "is not a CTA's UUID");
  refused({"ctsa"}, "ctsa needs a sub-command");
  refused({"ctsa", "sign"}, "unknown ctsa sub-command 'sign'");
  // cta sign: a bad N, a missing, unreadable or too large document, a bad media type.
  for (const auto* n : {"-1", "+1", "x", "1.5", "0x1", " 1", "4294967296"})
    refused({"cta", "sign", "c0ffee", "--signatory", n, "--document", doc},
            "--signatory wants the signatory's index in the CTSA, a non-negative integer");
  refused({"cta", "sign", "c0ffee", "--document", doc}, "needs --signatory N and --document FILE");
  refused({"cta", "sign", "c0ffee", "--signatory", "1"}, "needs --signatory N and --document FILE");
  refused({"cta", "sign", "c0ffee", "--signatory", "1", "--document", (dir / "none.pdf").string()},
          "io_error: cannot read document");
  refused({"cta", "sign", "c0ffee", "--signatory", "1", "--document",
           (dir / "a-directory").string()},
          "is not a regular file");
  refused({"cta", "sign", "c0ffee", "--signatory", "1", "--document", big},
          "too_large: document '" + big + "' has 10485761 bytes; at most 10485760 (10 MiB)");
  refused({"cta", "sign", "c0ffee", "--signatory", "1", "--document", doc, "--media-type", "pdf"},
          "--media-type wants TYPE/SUBTYPE");
  refused({"cta", "sign", "c0ffee", "extra", "--signatory", "1", "--document", doc},
          "takes no more arguments");
  // cta approve and reject: --peer always, --reason for a rejection only and not blank.
  refused({"cta", "approve", "c0ffee"}, "cta approve needs --peer NAME");
  refused({"cta", "reject", "c0ffee", "--reason", "late"}, "cta reject needs --peer NAME");
  refused({"cta", "reject", "c0ffee", "--peer", "client-a"}, "cta reject needs --reason TEXT");
  refused({"cta", "reject", "c0ffee", "--peer", "client-a", "--reason", " \t"},
          "cta reject needs --reason TEXT");
  refused({"cta", "reject", "c0ffee", "--peer", "client-a", "--reason="}, "--reason needs a value");
  refused({"cta", "approve", "c0ffee", "--peer", "client-a", "--reason", "why"},
          "option --reason does not apply to cta approve");
  refused({"cta", "approve", "c0ffee", "--peer", "client-a", "--signatory", "1"},
          "option --signatory does not apply to cta approve");
  refused({"whoami", "--peer", "client-a"}, "option --peer does not apply to whoami");
  refused({"cta", "reject", "c0ffee", "--peer", "client-\xff", "--reason", "bad"},
          "not valid UTF-8");
  // Also with an unreachable node: the arguments and files are checked first.
  auto r = joconde_run({"cta", "reject", "c0ffee", "--peer", "client-a", "--url", unreachable,
                        "--token", good_token});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  BOOST_CHECK_EQUAL(node.requests(), before);
}

BOOST_AUTO_TEST_CASE(cta_list_prints_an_aligned_table) {
  auto r = joconde_run(with_url({"cta", "list"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "UUID      STATUS   UPDATES  TITLE\n"
                           "c0ffee-1  running  3        Price index\n"
                           "d00d      draft    12       Wages\n");
  r = joconde_run(with_url({"cta", "list", "--json"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out.find(R"({"ctas":[{"ctsc_sha256":"ab","last_changed_ms":1,)"), 0u);
  BOOST_CHECK_EQUAL(std::count(r.out.begin(), r.out.end(), '\n'), 1);
  // An empty list is the header alone.
  auto empty = cli::render_cta_list(json{{"ctas", json::array()}});
  BOOST_REQUIRE(empty.ok());
  BOOST_CHECK_EQUAL(*empty, "UUID  STATUS  UPDATES  TITLE\n");
  BOOST_CHECK(!cli::render_cta_list(json{{"ctas", {1, 2}}}).ok());
}

BOOST_AUTO_TEST_CASE(cta_show_is_readable_and_deterministic) {
  auto r = joconde_run(with_url({"cta", "show", "c0ffee"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, cta_text);
  BOOST_CHECK_EQUAL(joconde_run(with_url({"cta", "show", "c0ffee"})).out, r.out);
  // The same document built in another order renders to the same bytes.
  json reordered;
  for (const auto* key : {"flags", "note", "task", "parties", "last_changed_ms", "updates",
                          "ctsc_sha256", "status", "title", "uuid"})
    reordered[key] = cta_doc[key];
  auto again = cli::render_cta(reordered);
  BOOST_REQUIRE(again.ok());
  BOOST_CHECK_EQUAL(*again, cta_text);
  // --json: the document itself, one line, keys sorted.
  r = joconde_run(with_url({"--json", "cta", "show", "c0ffee"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, cli::compact_json(cta_doc) + "\n");
  BOOST_CHECK_EQUAL(r.out.substr(0, 22), R"({"ctsc_sha256":"ab12",)");
  BOOST_CHECK_EQUAL(json::parse(r.out), cta_doc);
  // Only some key fields, no others.
  auto small = cli::render_cta(json{{"status", "draft"}, {"uuid", "u"}});
  BOOST_REQUIRE(small.ok());
  BOOST_CHECK_EQUAL(*small, "uuid:         u\nstatus:       draft\n");
  BOOST_CHECK(!cli::render_cta(json::array()).ok());
}

// SYS-2.1: the members the node has not confirmed come first, with what to compare and do.
BOOST_AUTO_TEST_CASE(cta_show_warns_of_unconfirmed_members_first) {
  json doc{{"uuid", "c0ffee"},
           {"status", "emerging"},
           {"members",
            {{{"fqdn", "cp1.joconde.test"}, {"role", "computing_party"}, {"fingerprint", "11:22"},
              {"trust", "confirmed"}, {"confirmed_at_ms", 1}},
             {{"fqdn", "cp3.joconde.test"}, {"role", "computing_party"}, {"fingerprint", "0A:1B"},
              {"trust", "unconfirmed"}},
             {{"fqdn", "client-b.joconde.test\x1b[2J"}, {"role", "peer"}, {"fingerprint", "33:44"},
              {"trust", "unconfirmed"}}}}};
  auto text = cli::render_cta(doc);
  BOOST_REQUIRE(text.ok());
  const std::string head =
    "uuid:         c0ffee\n"
    "status:       emerging\n"
    "\n"
    "WARNING: 2 members of this CTA are NOT confirmed out of band at this node (SYS-2.1).\n"
    "This node submits no CTSA for it until each is confirmed or overridden.\n"
    "  UNCONFIRMED cp3.joconde.test (computing_party)\n"
    "    fingerprint: 0A:1B\n"
    "    compare it with cp3.joconde.test's operator over another channel, then at this node:\n"
    "      joconde-node trust confirm 0A:1B --dir DATA_DIR\n"
    "    or, accepting the risk (it_admin):\n"
    "      joconde cta override c0ffee --member cp3.joconde.test --reason TEXT\n"
    "  UNCONFIRMED client-b.joconde.test\\x1b[2J (peer)\n";
  BOOST_CHECK_EQUAL(text->substr(0, head.size()), head);
  BOOST_CHECK(text->find("UNCONFIRMED cp1") == std::string::npos);
  BOOST_CHECK(text->find("\nmembers:\n") > text->find("WARNING"));
  // Every member confirmed or overridden: no warning at all.
  doc["members"][1]["trust"] = "override";
  doc["members"][2]["trust"] = "confirmed";
  auto quiet = cli::render_cta(doc);
  BOOST_REQUIRE(quiet.ok());
  BOOST_CHECK(quiet->find("WARNING") == std::string::npos);
  BOOST_CHECK(quiet->find("UNCONFIRMED") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(cta_override_records_an_it_administrators_decision) {
  auto r = joconde_run(with_url({"cta", "override", "c0ffee", "--member", "cp3", "--reason", "read out on a call"},
                                admin_token));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "override: cp3.joconde.test (fingerprint 0A:1B) accepted unconfirmed for CTA "
                           "c0ffee by admin\n");
  BOOST_CHECK_EQUAL(node.last_body(), R"({"member":"cp3","reason":"read out on a call"})");
  // Refused by the node: without the role, for a confirmed member, for another CTA.
  r = joconde_run(with_url({"cta", "override", "c0ffee", "--member", "cp3", "--reason", "x"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_denied);
  r = joconde_run(with_url({"cta", "override", "c0ffee", "--member", "client-a", "--reason", "x"}, admin_token));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_invalid);
  BOOST_CHECK_EQUAL(r.err, "joconde: invalid_state: client-a.joconde.test is confirmed at this node\n");
  r = joconde_run(with_url({"cta", "override", "d00d", "--member", "cp3", "--reason", "x"}, admin_token));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_not_found);
  // Refused here, before any request: no member, no or a blank reason, --member elsewhere.
  auto before = node.requests();
  for (const auto& args : std::vector<std::vector<std::string>>{
         {"cta", "override", "c0ffee", "--reason", "x"},
         {"cta", "override", "c0ffee", "--member", "cp3"},
         {"cta", "override", "c0ffee", "--member", "cp3", "--reason", " \t"},
         {"cta", "show", "c0ffee", "--member", "cp3"}}) {
    auto bad = joconde_run(with_url(args, admin_token));
    BOOST_CHECK_EQUAL(bad.rc, cli::exit_usage);
    BOOST_CHECK_EQUAL(bad.out, "");
  }
  BOOST_CHECK_EQUAL(node.requests(), before);
  BOOST_CHECK(!cli::render_override(json{{"member", "m"}}).ok());
}

BOOST_AUTO_TEST_CASE(status_is_pretty_unless_json) {
  auto r = joconde_run(with_url({"status"}, admin_token));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "{\n  \"links\": [\n    {\n      \"peer\": \"root\",\n"
                           "      \"up\": true\n    }\n  ],\n  \"node\": \"client-a\"\n}\n");
  r = joconde_run(with_url({"status", "--json"}, admin_token));
  BOOST_CHECK_EQUAL(r.out, R"({"links":[{"peer":"root","up":true}],"node":"client-a"})"
                           "\n");
  r = joconde_run(with_url({"whoami", "--json"}));
  BOOST_CHECK_EQUAL(r.out, R"({"node":"client-a","roles":["task_organiser","signatory"],"user":"alice"})"
                           "\n");
}

// -- failures and exit codes --

BOOST_AUTO_TEST_CASE(http_outcomes_map_to_exit_codes) {
  auto r = joconde_run(with_url({"whoami"}, bad_token));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_denied);
  BOOST_CHECK_EQUAL(r.err, "joconde: unauthorised: unknown or missing API token\n");
  BOOST_CHECK_EQUAL(r.out, "");
  r = joconde_run(with_url({"status"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_denied);
  BOOST_CHECK_EQUAL(r.err, "joconde: forbidden: GET /v1/status needs it_admin or auditor\n");
  r = joconde_run(with_url({"cta", "show", "secret"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_denied);
  r = joconde_run(with_url({"cta", "show", "nothing-here"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_not_found);
  BOOST_CHECK_EQUAL(r.err, "joconde: not_found: no CTA nothing-here\n");
  r = joconde_run(with_url({"cta", "show", "boom"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_server);
  BOOST_CHECK(r.err.rfind("joconde: internal_error: ", 0) == 0);
  r = joconde_run(with_url({"cta", "show", "bare-502"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_server);
  BOOST_CHECK_EQUAL(r.err, "joconde: http_502: the node answered HTTP 502 without a JSON error\n");
  r = joconde_run(with_url({"cta", "show", "garbage"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_server);
  BOOST_CHECK_EQUAL(r.out, "");
  BOOST_CHECK(r.err.find("is not JSON") != std::string::npos);
  // A UUID is one path segment, percent-encoded: a slash cannot reach another route.
  r = joconde_run(with_url({"cta", "show", "../whoami"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_not_found);
  BOOST_CHECK_EQUAL(r.err, "joconde: not_found: no CTA ../whoami\n");
  // The table itself.
  BOOST_CHECK_EQUAL(cli::exit_code_for_status(201), cli::exit_ok);
  for (int s : {401, 403})
    BOOST_CHECK_EQUAL(cli::exit_code_for_status(s), cli::exit_denied);
  BOOST_CHECK_EQUAL(cli::exit_code_for_status(404), cli::exit_not_found);
  for (int s : {400, 409, 413, 422})
    BOOST_CHECK_EQUAL(cli::exit_code_for_status(s), cli::exit_invalid);
  for (int s : {500, 502, 503, 405, 302})
    BOOST_CHECK_EQUAL(cli::exit_code_for_status(s), cli::exit_server);
}

BOOST_AUTO_TEST_CASE(an_unreachable_node_is_exit_code_3) {
  auto r = joconde_run({"whoami", "--url", unreachable, "--token", good_token});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_unreachable);
  BOOST_CHECK(r.err.rfind("joconde: io_error: ", 0) == 0);
  r = joconde_run({"whoami", "--cluster", dir.string(), "--as", "cp1:nobody"});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage); // cp1 has no users: resolution fails first
  // No full answer within --timeout.
  r = joconde_run(with_url({"cta", "show", "slow", "--timeout", "0.2"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_unreachable);
  BOOST_CHECK(r.err.rfind("joconde: timeout: ", 0) == 0);
  // A URL the client cannot use is a usage error.
  r = joconde_run({"whoami", "--url", "https://127.0.0.1:1", "--token", good_token});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
}

BOOST_AUTO_TEST_CASE(no_token_is_ever_printed) {
  const std::vector<std::vector<std::string>> calls{
    {"whoami", "--verbose"},
    {"status", "--verbose"},
    {"cta", "show", "boom", "--verbose"},
    {"cta", "show", "missing", "--verbose"},
  };
  for (const auto* token : {good_token, bad_token}) {
    for (const auto& args : calls) {
      auto r = joconde_run(with_url(args, token));
      BOOST_CHECK_MESSAGE(!shows_a_token(r), r.err);
      BOOST_CHECK(r.err.find("joconde: GET /v1/") != std::string::npos);
    }
  }
  const auto doc = write("doc.txt", "signed").string();
  for (const auto& args : std::vector<std::vector<std::string>>{
         {"cta", "sign", "c0ffee", "--signatory", "1", "--document", doc, "--verbose"},
         {"cta", "reject", "c0ffee", "--peer", "client-a", "--reason", "no", "--verbose"}}) {
    auto r = joconde_run(with_url(args));
    BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
    BOOST_CHECK_MESSAGE(!shows_a_token(r), r.err);
    BOOST_CHECK(r.err.find("joconde: POST /v1/ctas/c0ffee/") != std::string::npos);
  }
  auto r = joconde_run({"whoami", "--verbose", "--cluster", dir.string(), "--as", "client-a"});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK(!shows_a_token(r));
  r = joconde_run({"whoami", "--verbose", "--url", unreachable}, {{"JOCONDE_TOKEN", good_token}});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_unreachable);
  BOOST_CHECK(!shows_a_token(r));
}

// -- parsing and formatting --

BOOST_AUTO_TEST_CASE(options_and_usage_errors) {
  auto o = cli::parse_options({"cta", "--json", "show", "--timeout=2.5", "--", "--odd-uuid"});
  BOOST_REQUIRE(o.ok());
  BOOST_CHECK(o->json);
  BOOST_CHECK_EQUAL(o->timeout.count(), 2500);
  BOOST_CHECK((o->words == std::vector<std::string>{"cta", "show", "--odd-uuid"}));
  BOOST_CHECK_EQUAL(cli::parse_options({}).value().timeout.count(), 30'000);
  BOOST_CHECK(!cli::parse_options({"--frobnicate"}).ok());
  BOOST_CHECK(!cli::parse_options({"--json=yes"}).ok());
  BOOST_CHECK(!cli::parse_options({"--url"}).ok());
  for (const auto* t : {"0", "-1", "abc", "1e9", "nan"})
    BOOST_CHECK_MESSAGE(!cli::parse_options({"--timeout", t}).ok(), t);
  // Usage errors: exit 2, nothing sent.
  const auto before = node.requests();
  for (const auto& args : std::vector<std::vector<std::string>>{
         {}, {"frobnicate"}, {"cta"}, {"cta", "delete"}, {"cta", "show"}, {"cta", "list", "extra"},
         {"whoami", "extra"}, {"cta", "create"}, {"-x"}, {"help", "frobnicate"}}) {
    auto r = joconde_run(with_url(args));
    BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
    BOOST_CHECK_EQUAL(r.out, "");
  }
  BOOST_CHECK_EQUAL(node.requests(), before);
  // Help: exit 0 on stdout, per command too.
  auto r = joconde_run({"--help"});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, cli::usage());
  r = joconde_run({"cta", "show", "--help"});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, cli::usage("cta show"));
  BOOST_CHECK_EQUAL(joconde_run({"help", "cta", "create"}).out, cli::usage("cta create"));
  BOOST_CHECK(cli::usage().find("7  server error") != std::string::npos);
  // The agreement commands: each has its own text, and the general one lists them.
  for (const auto* command : {"ctsa submit", "cta sign", "cta approve", "cta reject"}) {
    BOOST_CHECK_NE(cli::usage(command), cli::usage());
    BOOST_CHECK(cli::usage(command).rfind(std::string{"usage: joconde "} + command, 0) == 0);
    BOOST_CHECK_MESSAGE(cli::usage().find(std::string{"\n  "} + command + " ") != std::string::npos,
                        command);
  }
  r = joconde_run({"cta", "sign", "--help"});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, cli::usage("cta sign"));
  BOOST_CHECK_EQUAL(joconde_run({"help", "ctsa", "submit"}).out, cli::usage("ctsa submit"));
  BOOST_CHECK_EQUAL(joconde_run({"ctsa", "--help"}).out, cli::usage("ctsa"));
  BOOST_CHECK_EQUAL(joconde_run({"cta", "reject", "-h"}).out, cli::usage("cta reject"));
}

// CLI11 parses the line; these are the habits of the hand-written parser it replaced.
BOOST_AUTO_TEST_CASE(options_stand_anywhere_and_command_words_can_be_arguments) {
  // A command's own option before the command, the last of a repeated option wins.
  auto r = joconde_run({"--peer", "client-a", "--url", "http://127.0.0.1:1", "cta", "approve", "c0ffee",
                        "--url", node.url(), "--token", good_token});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "client-a.joconde.test: approved; CTA instantiated\n");
  // Words that name commands are arguments after a command: a UUID "whoami", a reason "status".
  r = joconde_run(with_url({"cta", "show", "whoami"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_not_found);
  BOOST_CHECK_EQUAL(r.err, "joconde: not_found: no CTA whoami\n");
  r = joconde_run(with_url({"cta", "cancel", "c0ffee", "--reason", "status"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(node.last_body(), R"({"reason":"status"})");
  // A value is the next word whatever it looks like; one given inline is taken as it is.
  r = joconde_run(with_url({"cta", "cancel", "c0ffee", "--reason", "-x"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(node.last_body(), R"({"reason":"-x"})");
  r = joconde_run(with_url({"cta", "cancel", "c0ffee", "--reason=[a,b]"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(node.last_body(), R"({"reason":"[a,b]"})");
  // Refused before anything is sent: a flag with a value, an empty value, the CLI11 wording.
  const auto before = node.requests();
  for (const auto& [args, says] : std::vector<std::pair<std::vector<std::string>, std::string>>{
         {{"whoami", "--json=true"}, "option --json takes no value"},
         {{"whoami", "--verbose="}, "option --verbose takes no value"},
         {{"cta", "cancel", "c0ffee", "--reason", ""}, "option --reason needs a value"},
         {{"download", "c0ffee", "out", "--url=", "x"}, "option --url needs a value"},
         {{"whoami", "--frobnicate=1"}, "unknown option '--frobnicate'"},
         {{"whoami", "--timeout", "86401"}, "--timeout wants a number of seconds between 0 and 86400"}}) {
    r = joconde_run(with_url(args));
    BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
    BOOST_CHECK_EQUAL(r.out, "");
    BOOST_CHECK_MESSAGE(r.err.rfind("joconde: invalid_config: " + says, 0) == 0, r.err);
  }
  BOOST_CHECK_EQUAL(node.requests(), before);
  auto last = cli::parse_options({"whoami", "--token"});
  BOOST_REQUIRE(!last.ok());
  BOOST_CHECK_EQUAL(last.err().message, "option --token needs a value");
}

// Every command comes from one table: each has its usage text, is listed in the general one, and
// counts its arguments before anything is sent.
BOOST_AUTO_TEST_CASE(every_command_has_its_usage_and_counts_its_arguments) {
  const auto before = node.requests();
  for (const auto* command : {"whoami", "cta create", "cta list", "cta show", "cta watch", "ctsa submit",
                              "cta sign", "cta approve", "cta reject", "cta cancel", "cta override",
                              "pak create", "upload", "download", "sql check", "status"}) {
    const std::string name{command};
    BOOST_CHECK_MESSAGE(cli::usage(name).rfind("usage: joconde " + name + " ", 0) == 0, name);
    BOOST_CHECK_MESSAGE(cli::usage().find("\n  " + name) != std::string::npos, name);
    std::vector<std::string> words;
    for (size_t start = 0, space = 0; space != std::string::npos; start = space + 1) {
      space = name.find(' ', start);
      words.push_back(name.substr(start, space - start));
    }
    auto help = words;
    help.push_back("--help");
    BOOST_CHECK_EQUAL(joconde_run(help).out, cli::usage(name));
    auto extra = words;
    extra.insert(extra.end(), {"1", "2", "3", "4"});
    auto r = joconde_run(with_url(extra));
    BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
    BOOST_CHECK_MESSAGE(r.err.find(name + " takes no more arguments") != std::string::npos, r.err);
  }
  BOOST_CHECK_EQUAL(node.requests(), before);
  // A group's text lists its commands.
  BOOST_CHECK(cli::usage("cta").find("\n  cta override UUID") != std::string::npos);
  BOOST_CHECK(cli::usage("pak").find("\n  pak create UUID") != std::string::npos);
  BOOST_CHECK(cli::usage().find("\n  --passphrase-file FILE   pak create, upload, download\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(times_are_utc_iso_8601) {
  BOOST_CHECK_EQUAL(cli::format_utc_ms(0), "1970-01-01T00:00:00.000Z");
  BOOST_CHECK_EQUAL(cli::format_utc_ms(-1), "1969-12-31T23:59:59.999Z");
  BOOST_CHECK_EQUAL(cli::format_utc_ms(951'827'696'007), "2000-02-29T12:34:56.007Z");
  BOOST_CHECK_EQUAL(cli::format_utc_ms(INT64_MAX), std::to_string(INT64_MAX) + " ms since the epoch");
}

BOOST_AUTO_TEST_SUITE_END()

// -- the program itself --

namespace {

outcome program(const std::string& args) {
  auto cmd = std::string{JOCONDE_BINARY_DIR} + "/bin/joconde " + args + " 2>/dev/null";
  outcome o{-1, {}, {}};
  if (auto* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    while (auto n = std::fread(buf, 1, sizeof buf, p))
      o.out.append(buf, n);
    auto rc = ::pclose(p);
    o.rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }
  return o;
}

} // namespace

BOOST_AUTO_TEST_CASE(the_program_prints_help_and_refuses_bad_usage) {
  auto help = program("--help");
  BOOST_CHECK_EQUAL(help.rc, 0);
  BOOST_CHECK_EQUAL(help.out, cli::usage());
  auto bad = program("cta frobnicate");
  BOOST_CHECK_EQUAL(bad.rc, 2);
  BOOST_CHECK_EQUAL(bad.out, "");
}
