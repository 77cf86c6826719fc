#define BOOST_TEST_MODULE portal_api
#include <boost/test/unit_test.hpp>

// The web portal's edge of a real node (actors/node/http_portal.hpp), as a browser meets it: its
// files and their policy, log-in for a session cookie, the CSRF token every change needs, log-out,
// and the node's own checks on what a session may do. Each refusal has its twin that is served,
// and the refused request changed nothing.

#include "support/cluster.hpp"

#include "joconde/runtime/http_client.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>

using namespace joconde;
using joconde::test::cluster;
using nlohmann::json;

namespace {

/// One cluster for every case (bringing one up takes seconds).
struct shared_cluster {
  shared_cluster() { c = std::make_unique<cluster>("portal-api"); }
  static inline std::unique_ptr<cluster> c;
};
BOOST_TEST_GLOBAL_FIXTURE(shared_cluster);

cluster& nodes() {
  return *shared_cluster::c;
}

/// A request to node `name` with the given headers and no bearer token, as a browser sends it.
http::response send(const std::string& name, const std::string& method, const std::string& path,
                    const std::string& body = {}, std::map<std::string, std::string> headers = {}) {
  auto n = nodes().node(name);
  http::client_options options;
  options.ca_file = n["root_ca"].get<std::string>();
  options.timeout = std::chrono::seconds{60};
  options.headers = std::move(headers);
  auto res = http::client::send(n["http_url"].get<std::string>(), method, path, body, {}, options);
  BOOST_REQUIRE_MESSAGE(res, method << " " << path << ": " << (res ? "" : res.err().describe()));
  return *res;
}

json body_of(const http::response& r) {
  return json::parse(r.body, nullptr, false);
}

std::string error_code(const http::response& r) {
  auto doc = body_of(r);
  return doc.is_object() && doc.contains("error") ? doc["error"].value("code", "") : "";
}

/// The origin a browser names in Origin for node `name`'s pages.
std::string origin_of(const std::string& name) {
  return nodes().node(name)["http_url"].get<std::string>();
}

/// A browser's session at node `name` as the user of `role`.
struct session {
  std::string node;
  std::string cookie;  ///< "NAME=VALUE"
  std::string csrf;

  std::map<std::string, std::string> reading() const { return {{"Cookie", cookie}}; }
  std::map<std::string, std::string> changing() const {
    return {{"Cookie", cookie}, {"X-CSRF-Token", csrf}, {"Origin", origin_of(node)}};
  }
};

session log_in(const std::string& name, const std::string& role) {
  auto token = nodes().node(name)["users"][role]["token"].get<std::string>();
  auto res = send(name, "POST", "/v1/sessions", json{{"token", token}}.dump(), {{"Origin", origin_of(name)}});
  BOOST_REQUIRE_EQUAL(res.status, 201);
  auto set_cookie = res.headers["set-cookie"];
  auto doc = body_of(res);
  return {name, set_cookie.substr(0, set_cookie.find(';')), doc["csrf_token"].get<std::string>()};
}

std::size_t cta_count(const std::string& name) {
  auto [status, doc] = nodes().call(name, "GET", "/v1/ctas");
  BOOST_REQUIRE_EQUAL(status, 200);
  return doc["ctas"].size();
}

std::string task_text() {
  std::ifstream in{std::string{JOCONDE_SOURCE_DIR} + "/config/examples/task.json"};
  BOOST_REQUIRE(in);
  return {std::istreambuf_iterator<char>{in}, {}};
}

} // namespace

BOOST_AUTO_TEST_CASE(the_portal_is_served_with_its_policy_and_only_its_own_files) {
  auto root = send("client-a", "GET", "/");
  BOOST_TEST(root.status == 303);
  BOOST_TEST(root.headers["location"] == "/portal/");
  auto page = send("client-a", "GET", "/portal/");
  BOOST_TEST(page.status == 200);
  BOOST_TEST(page.content_type == "text/html; charset=utf-8");
  BOOST_TEST(page.body.find("<html") != std::string::npos);
  auto csp = page.headers["content-security-policy"];
  BOOST_TEST(csp.find("script-src 'self'") != std::string::npos);
  BOOST_TEST(csp.find("frame-ancestors 'none'") != std::string::npos);
  BOOST_TEST(csp.find("unsafe-inline") == std::string::npos);
  BOOST_TEST(page.headers["x-frame-options"] == "DENY");
  // The API's answers may not be framed or run either.
  auto health = send("client-a", "GET", "/healthz");
  BOOST_TEST(health.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'");
  BOOST_TEST(send("client-a", "GET", "/portal/no-such-file.js").status == 404);
  BOOST_TEST(send("client-a", "GET", "/portal/%2e%2e/%2e%2e/etc/passwd").status == 400);
  BOOST_TEST(send("client-a", "GET", "/portal/../../etc/passwd").status != 200);
  // A computing node has no people: no portal, no log-in.
  BOOST_TEST(send("cp1", "GET", "/portal/").status == 404);
  auto token = nodes().node("cp1")["users"]["auditor"]["token"].get<std::string>();
  BOOST_TEST(send("cp1", "POST", "/v1/sessions", json{{"token", token}}.dump()).status == 404);
}

BOOST_AUTO_TEST_CASE(log_in_gives_a_strict_cookie_and_refuses_bad_tokens_and_other_origins) {
  auto token = nodes().node("client-a")["users"]["auditor"]["token"].get<std::string>();
  auto res = send("client-a", "POST", "/v1/sessions", json{{"token", token}}.dump());
  BOOST_REQUIRE_EQUAL(res.status, 201);
  auto cookie = res.headers["set-cookie"];
  BOOST_TEST(cookie.rfind("__Host-joconde-client-a=", 0) == 0);
  for (const auto* attr : {"; Path=/", "; Secure", "; HttpOnly", "; SameSite=Strict"})
    BOOST_TEST(cookie.find(attr) != std::string::npos, attr);
  auto doc = body_of(res);
  BOOST_TEST(doc["user"] == "auditor");
  BOOST_TEST(doc["csrf_token"].get<std::string>().size() == 64u);
  // The cookie's value is not in the body, and the token is not in the cookie.
  auto value = cookie.substr(cookie.find('=') + 1, 64);
  BOOST_TEST(res.body.find(value) == std::string::npos);
  BOOST_TEST(cookie.find(token) == std::string::npos);

  auto bad = send("client-a", "POST", "/v1/sessions", json{{"token", "jct_" + std::string(64, '0')}}.dump());
  BOOST_TEST(bad.status == 401);
  BOOST_TEST(bad.headers.count("set-cookie") == 0u);
  BOOST_TEST(send("client-a", "POST", "/v1/sessions", "not json").status == 400);
  BOOST_TEST(send("client-a", "POST", "/v1/sessions", json{{"token", 42}}.dump()).status == 400);
  BOOST_TEST(send("client-a", "POST", "/v1/sessions", json{{"user", "auditor"}}.dump()).status == 400);
  // A log-in is small: a large body is refused before it is read.
  BOOST_TEST(send("client-a", "POST", "/v1/sessions", json{{"token", std::string(8192, 'x')}}.dump()).status == 413);
  // Another site's page cannot log a browser in (as its own user, to see what it then does).
  auto forged = send("client-a", "POST", "/v1/sessions", json{{"token", token}}.dump(),
                     {{"Origin", "https://attacker.example"}});
  BOOST_TEST(forged.status == 403);
  BOOST_TEST(forged.headers.count("set-cookie") == 0u);
  // A token of another node's user is not a user here.
  auto other = nodes().node("client-b")["users"]["auditor"]["token"].get<std::string>();
  BOOST_TEST(send("client-a", "POST", "/v1/sessions", json{{"token", other}}.dump()).status == 401);
}

BOOST_AUTO_TEST_CASE(a_session_reads_with_its_cookie_and_changes_only_with_its_csrf_token) {
  auto s = log_in("client-a", "task_organiser");
  auto who = send("client-a", "GET", "/v1/whoami", {}, s.reading());
  BOOST_TEST(who.status == 200);
  BOOST_TEST(body_of(who)["user"] == "task_organiser");
  auto again = send("client-a", "GET", "/v1/session", {}, s.reading());
  BOOST_TEST(again.status == 200);
  BOOST_TEST(body_of(again)["csrf_token"] == s.csrf);
  // The cookie of client-a means nothing at client-b.
  BOOST_TEST(send("client-b", "GET", "/v1/whoami", {}, s.reading()).status == 401);

  // A change without the CSRF token, with another session's, or from another origin: refused, and
  // no CTA was made.
  auto before = cta_count("root");
  auto other = log_in("client-a", "task_organiser");
  auto task = task_text();
  std::map<std::string, std::string> no_csrf = s.reading();
  std::map<std::string, std::string> wrong_csrf = s.changing();
  wrong_csrf["X-CSRF-Token"] = other.csrf;
  std::map<std::string, std::string> cross = s.changing();
  cross["Origin"] = "https://attacker.example";
  for (const auto& headers : {no_csrf, wrong_csrf, cross}) {
    auto res = send("client-a", "POST", "/v1/ctas", task, headers);
    BOOST_TEST(res.status == 403);
    BOOST_TEST(error_code(res) == "csrf_required");
  }
  BOOST_TEST(cta_count("root") == before);
  BOOST_TEST(nodes().metric("client-a", "joconde_http_refused_total{reason=\"csrf\"}") >= 3.0);

  // Its twin with the token is served: the draft page's check, then the role still decides.
  auto check = send("client-a", "POST", "/v1/tasks/check", task, s.changing());
  BOOST_TEST_REQUIRE(check.status == 200, check.body);
  auto doc = body_of(check);
  BOOST_TEST(doc["engine"] == "rss3");
  BOOST_TEST(!doc["disclosures"].empty());
  BOOST_TEST(doc["ctsc"]["main_algorithm"]["disclosures"] == doc["disclosures"]);
  auto analyst = log_in("client-a", "data_analyst");
  BOOST_TEST(send("client-a", "POST", "/v1/tasks/check", task, analyst.changing()).status == 403);
}

BOOST_AUTO_TEST_CASE(the_task_check_says_where_a_task_is_wrong_and_reads_no_file) {
  auto s = log_in("client-a", "task_organiser");
  auto broken = task_text();
  auto at = broken.find("SELECT");
  BOOST_REQUIRE(at != std::string::npos);
  broken.replace(at, 6, "SELEC");
  auto res = send("client-a", "POST", "/v1/tasks/check", broken, s.changing());
  BOOST_TEST(res.status == 400);
  BOOST_TEST(error_code(res) == "compile_error");
  // A readable task that names a file of the node's disk is refused, not read.
  std::ifstream in{std::string{JOCONDE_SOURCE_DIR} + "/config/examples/task.toml"};
  BOOST_REQUIRE(in);
  std::string readable{std::istreambuf_iterator<char>{in}, {}};
  // The example itself checks; with an attachment named after the node's key it does not.
  BOOST_TEST(send("client-a", "POST", "/v1/tasks/check", readable, s.changing()).status == 200);
  readable += "\n[[attachment]]\ntitle = \"key\"\nfile = \"node.key\"\n";
  auto file = send("client-a", "POST", "/v1/tasks/check", readable, s.changing());
  BOOST_TEST(file.status == 400);
  BOOST_TEST(file.body.find("names no file") != std::string::npos, file.body);
  BOOST_TEST(file.body.find("BEGIN") == std::string::npos);
  BOOST_TEST(send("client-a", "POST", "/v1/tasks/check", "{\"title\": 1", s.changing()).status == 400);
}

BOOST_AUTO_TEST_CASE(log_out_ends_the_session_for_good) {
  auto s = log_in("client-a", "auditor");
  // Without the CSRF token log-out is refused and the session lives on.
  BOOST_TEST(send("client-a", "DELETE", "/v1/session", {}, s.reading()).status == 403);
  BOOST_TEST(send("client-a", "GET", "/v1/whoami", {}, s.reading()).status == 200);
  auto out = send("client-a", "DELETE", "/v1/session", {}, s.changing());
  BOOST_TEST(out.status == 204);
  BOOST_TEST(out.headers["set-cookie"].find("Max-Age=0") != std::string::npos);
  // The old cookie, sent again, is nobody's.
  BOOST_TEST(send("client-a", "GET", "/v1/whoami", {}, s.reading()).status == 401);
  BOOST_TEST(send("client-a", "GET", "/v1/session", {}, s.reading()).status == 401);
  BOOST_TEST(send("client-a", "DELETE", "/v1/session", {}, s.changing()).status == 401);
}

BOOST_AUTO_TEST_CASE(a_password_logs_in_and_guessing_is_slowed_down) {
  // The operator sets client-a's auditor a password with joconde-node, while the node runs.
  auto dir = nodes().data_dir("client-a");
  auto file = nodes().dir() / "auditor.password";
  {
    std::ofstream out{file};
    out << "correct horse battery staple\n";
  }
  std::filesystem::permissions(file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto set = [&](const std::string& name) {
    return std::system((std::string{JOCONDE_BINARY_DIR} + "/bin/joconde-node user password --dir " + dir.string()
                        + " --name " + name + " --password-file " + file.string() + " > /dev/null 2>&1")
                         .c_str());
  };
  BOOST_REQUIRE_EQUAL(set("auditor"), 0);
  BOOST_TEST(set("nobody") != 0);
  auto origin = std::map<std::string, std::string>{{"Origin", origin_of("client-a")}};
  auto try_password = [&](const std::string& user, const std::string& password) {
    return send("client-a", "POST", "/v1/sessions", json{{"user", user}, {"password", password}}.dump(), origin);
  };
  auto ok = try_password("auditor", "correct horse battery staple");
  BOOST_TEST_REQUIRE(ok.status == 201, ok.body);
  BOOST_TEST(body_of(ok)["user"] == "auditor");
  BOOST_TEST(ok.headers["set-cookie"].find("HttpOnly") != std::string::npos);
  // Wrong passwords, an unknown user and a user without a password are all one refusal.
  for (const auto& [user, password] : std::vector<std::pair<std::string, std::string>>{
         {"auditor", "correct horse battery stapler"}, {"nobody", "correct horse battery staple"},
         {"signatory", "correct horse battery staple"}}) {
    auto res = try_password(user, password);
    BOOST_TEST(res.status == 401);
    BOOST_TEST(res.body.find("unknown user or wrong password") != std::string::npos);
  }
  // Five failures from one client (three above, two more here): the next try waits, even with the
  // right password.
  for (int i = 0; i < 2; ++i)
    BOOST_TEST(try_password("auditor", "guess " + std::to_string(i) + " of many").status == 401);
  auto locked = try_password("auditor", "correct horse battery staple");
  BOOST_TEST(locked.status == 429);
  BOOST_TEST(!locked.headers["retry-after"].empty());
  BOOST_TEST(locked.headers.count("set-cookie") == 0u);
  // The token still logs in: guessing a password does not lock the person out of their token.
  auto token = nodes().node("client-a")["users"]["auditor"]["token"].get<std::string>();
  BOOST_TEST(send("client-a", "POST", "/v1/sessions", json{{"token", token}}.dump()).status == 201);
}

BOOST_AUTO_TEST_CASE(an_auditor_reads_exports_and_verifies_the_audit_log) {
  auto s = log_in("client-a", "auditor");
  // A fresh node's log holds its start and more records at least.
  auto page = send("client-a", "GET", "/v1/audit?from=1&limit=1", {}, s.reading());
  BOOST_TEST_REQUIRE(page.status == 200, page.body);
  auto doc = body_of(page);
  BOOST_TEST_REQUIRE(doc["total"].get<int>() >= 2);
  BOOST_TEST(doc["records"].size() == 1u);
  BOOST_TEST(doc["records"][0]["seq"] == 1);
  BOOST_TEST(doc["next"] == 2);
  // Each record names its event and the component that wrote it; its line carries its place in the
  // chain.
  BOOST_TEST(!doc["records"][0]["event"].get<std::string>().empty());
  BOOST_TEST(!doc["records"][0]["component"].get<std::string>().empty());
  auto second = body_of(send("client-a", "GET", "/v1/audit?from=2&limit=1", {}, s.reading()));
  BOOST_TEST_REQUIRE(second["records"].size() == 1u);
  BOOST_TEST(second["records"][0]["line"].get<std::string>().find("seq=\"2\"") != std::string::npos);
  auto last = send("client-a", "GET", "/v1/audit?from=" + std::to_string(doc["total"].get<int>()) + "&limit=10",
                   {}, s.reading());
  BOOST_TEST(body_of(last)["records"].size() == 1u);
  BOOST_TEST(body_of(last).count("next") == 0u);
  auto file = send("client-a", "GET", "/v1/audit/export?from=1&to=2", {}, s.reading());
  BOOST_TEST(file.status == 200);
  BOOST_TEST(file.content_type == "text/plain; charset=utf-8");
  BOOST_TEST(std::count(file.body.begin(), file.body.end(), '\n') == 2);
  BOOST_TEST(file.body.find(second["records"][0]["line"].get<std::string>()) != std::string::npos);
  BOOST_TEST(file.headers["content-disposition"].find("audit-client-a-1-2.log") != std::string::npos);
  auto verdict = send("client-a", "GET", "/v1/audit/verify", {}, s.reading());
  BOOST_TEST_REQUIRE(verdict.status == 200, verdict.body);
  BOOST_TEST(body_of(verdict)["ok"] == true);
  BOOST_TEST(body_of(verdict)["against_root_ca"] == true);
  // Bad ranges are refused; other roles may not read the log.
  BOOST_TEST(send("client-a", "GET", "/v1/audit?from=0", {}, s.reading()).status == 400);
  BOOST_TEST(send("client-a", "GET", "/v1/audit?limit=1001", {}, s.reading()).status == 400);
  BOOST_TEST(send("client-a", "GET", "/v1/audit/export?from=9&to=3", {}, s.reading()).status == 400);
  BOOST_TEST(send("client-a", "GET", "/v1/audit/export?from=100000&to=100001", {}, s.reading()).status == 404);
  BOOST_TEST(send("client-a", "GET", "/v1/audit/export?from=1&to=200000", {}, s.reading()).status == 413);
  auto analyst = log_in("client-a", "data_analyst");
  BOOST_TEST(send("client-a", "GET", "/v1/audit", {}, analyst.reading()).status == 403);
}

BOOST_AUTO_TEST_CASE(a_node_lists_the_nodes_it_knows_for_drafting) {
  // The root enrolled every node: the three CPs as Computing Parties, the clients as peers, each with
  // what its certificate says.
  auto [status, doc] = nodes().call("root", "GET", "/v1/nodes");
  BOOST_TEST_REQUIRE(status == 200, doc.dump());
  std::map<std::string, json> by_fqdn;
  for (const auto& n : doc["nodes"])
    by_fqdn[n["fqdn"].get<std::string>()] = n;
  BOOST_TEST(doc["nodes"][0]["trust"] == "self");
  BOOST_TEST(doc["nodes"][0]["role"] == "root");
  BOOST_TEST(doc["nodes"][0]["fqdn"] == doc["self"]);
  for (const char* cp : {"cp1", "cp2", "cp3"}) {
    auto fqdn = std::string{cp} + "." + doc["self"].get<std::string>();
    BOOST_TEST_REQUIRE(by_fqdn.count(fqdn) == 1U, fqdn);
    BOOST_TEST(by_fqdn[fqdn]["role"] == "computing_party");
    BOOST_TEST(by_fqdn[fqdn]["fingerprint"].get<std::string>().size() == 95U);  // 32 bytes, hex with colons
    BOOST_TEST(!by_fqdn[fqdn]["organisation"].get<std::string>().empty());
  }
  auto a = "client-a." + doc["self"].get<std::string>();
  BOOST_TEST_REQUIRE(by_fqdn.count(a) == 1U);
  BOOST_TEST(by_fqdn[a]["role"] == "peer");
  BOOST_TEST((by_fqdn[a]["trust"] == "confirmed" || by_fqdn[a]["trust"] == "unconfirmed"));

  // A client lists itself first; a Task Organiser may read the list, a Data Custodian may not.
  auto organiser = log_in("client-a", "task_organiser");
  auto mine = send("client-a", "GET", "/v1/nodes", {}, organiser.reading());
  BOOST_TEST_REQUIRE(mine.status == 200, mine.body);
  auto list = body_of(mine);
  BOOST_TEST(list["self"] == a);
  BOOST_TEST(list["nodes"][0]["fqdn"] == a);
  BOOST_TEST(list["nodes"][0]["trust"] == "self");
  auto custodian = log_in("client-a", "data_custodian");
  BOOST_TEST(send("client-a", "GET", "/v1/nodes", {}, custodian.reading()).status == 403);
  BOOST_TEST(send("client-a", "GET", "/v1/nodes").status == 401);
}

BOOST_AUTO_TEST_CASE(without_an_identity_provider_there_is_no_oidc_log_in) {
  // The cluster has no oidc.issuer: the portal is told so, and the flow's routes do not exist.
  auto offered = send("client-a", "GET", "/v1/oidc");
  BOOST_TEST(offered.status == 404);
  BOOST_TEST(error_code(offered) == "not_found");
  BOOST_TEST(send("client-a", "GET", "/v1/oidc/login").status == 404);
  BOOST_TEST(send("client-a", "GET", "/v1/oidc/callback?code=x&state=y").status == 404);
}
