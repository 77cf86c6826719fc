#pragma once

// What the parts of the joconde_cli test program (joconde_cli_test.cpp and joconde_cli_test_*.cpp)
// share: the fake node implementing the API contract of docs/cli.md, the documents it serves, and
// a fixture with a cluster.json naming it.

#include <boost/test/unit_test.hpp>

#include "support/loopback.hpp"
#include "support/test_pki.hpp"

#include "joconde/runtime/crypto.hpp"
#include "cli/cli_client.hpp"
#include "cli/task_file.hpp"

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

namespace joconde_cli_test_support {

using namespace joconde;
using nlohmann::json;
namespace fs = std::filesystem;

inline constexpr const char* good_token = "jct_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
inline constexpr const char* admin_token = "jct_adminadminadminadminadminadminadminadminadminadminadminadmin0";
inline constexpr const char* bad_token = "jct_ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

inline const json cta_doc = json::parse(R"({
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
inline constexpr const char* cta_text = "uuid:         c0ffee\n"
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
    cta_route("/v1/ctas/{uuid}/ctsa", [](const std::string& uuid, const json& body) {
      // Without a version the node numbers the CTSA itself.
      if (body.contains("version") && body.value("version", 0) < 1)
        return http::response::error(409, "replayed", "version 0 is not newer than version 1");
      return http::response::json(200, json{{"uuid", uuid},
                                            {"ctsa_sha256", ctsa_sha256},
                                            {"updates", 4},
                                            {"status", "emerging"}});
    });
    cta_route("/v1/ctas/{uuid}/signatures", [](const std::string& uuid, const json& body) {
      if (body.value("signatory", 0) > 2)
        return http::response::error(422, "malformed_input", "the CTSA has 3 signatories");
      return http::response::json(200, json{{"uuid", uuid},
                                            {"peer", "client-a.joconde.test"},
                                            {"signatory", body["signatory"]},
                                            {"ctsa_sha256", ctsa_sha256},
                                            {"status", "emerging"}});
    });
    cta_route("/v1/ctas/{uuid}/decisions", [](const std::string& uuid, const json& body) {
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
    cta_route("/v1/ctas/{uuid}/cancel", [](const std::string& uuid, const json&) {
      return http::response::json(200, json{{"uuid", uuid}, {"status", "cancelled"}, {"reason", "r"}});
    });
  }

  /// Routes POST `path` to `answer(uuid, body)` for a signed-in user and the one CTA the fake node
  /// has (c0ffee); 401 and 404 otherwise.
  template <class Answer>
  void cta_route(const std::string& path, Answer answer) {
    srv_->route("POST", path, [this, answer](const http::request& req) {
      if (!user(req))
        return unauthorised();
      const auto& uuid = req.params.at("uuid");
      if (uuid != "c0ffee")
        return http::response::error(404, "not_found", "no CTA " + uuid);
      return answer(uuid, json::parse(req.body, nullptr, false));
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

using test::free_port;

struct outcome {
  int rc;
  std::string out;
  std::string err;
};

using env_map = std::map<std::string, std::string>;

inline outcome joconde_run(const std::vector<std::string>& args, const env_map& env = {}) {
  std::ostringstream out;
  std::ostringstream err;
  auto rc = cli::run(args, [env](const std::string& name) {
    auto i = env.find(name);
    return i == env.end() ? std::string{} : i->second;
  }, out, err);
  return {rc, out.str(), err.str()};
}

inline bool shows_a_token(const outcome& o) {
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

} // namespace joconde_cli_test_support
