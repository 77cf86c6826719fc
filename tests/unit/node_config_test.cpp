#define BOOST_TEST_MODULE node_config
#include <boost/test/unit_test.hpp>

#include "node/node_config.hpp"
#include "node/oidc_login.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace joconde;
namespace fs = std::filesystem;

namespace {

fs::path write_ini(const std::string& text) {
  auto file = fs::temp_directory_path() / ("joconde-cfg-" + std::to_string(::getpid()) + ".ini");
  std::ofstream{file, std::ios::trunc} << text;
  return file;
}

const std::string good = R"(# a member node
[node]
name = cp1
role = computing
listen = 127.0.0.1:4701
parent = 127.0.0.1:4700
[http]
listen = 127.0.0.1:8701
[metrics]
listen = 127.0.0.1:9701
)";

} // namespace

BOOST_AUTO_TEST_CASE(ini_then_environment_then_command_line) {
  auto file = write_ini(good);
  auto cfg = load_node_config(file, {});
  BOOST_REQUIRE_MESSAGE(cfg.ok(), (cfg ? std::string{} : cfg.err().describe()));
  BOOST_CHECK_EQUAL(cfg->name, "cp1");
  BOOST_CHECK_EQUAL(cfg->listen.port, 4701);
  BOOST_CHECK(cfg->certificate == file.parent_path() / "node-chain.pem"); // relative to the INI file
  ::setenv("JOCONDE_BROKER_WINDOW", "77", 1);
  cfg = load_node_config(file, {});
  BOOST_CHECK_EQUAL(cfg->window, 77u);
  cfg = load_node_config(file, {{"broker.window", "88"}});
  BOOST_CHECK_EQUAL(cfg->window, 88u);
  BOOST_CHECK_EQUAL(cfg->commit_delay.count(), 5); // the default
  cfg = load_node_config(file, {{"broker.commit-delay-ms", "0"}});
  BOOST_CHECK_EQUAL(cfg->commit_delay.count(), 0);
  ::unsetenv("JOCONDE_BROKER_WINDOW");
  fs::remove(file);
}

BOOST_AUTO_TEST_CASE(broken_configuration_is_refused_with_the_key_named) {
  struct bad_case {
    std::string text;
    std::map<std::string, std::string> overrides;
    std::string expect;
  };
  std::vector<bad_case> cases{
    {good + "[nodes]\nlisten = 1\n", {}, "unknown configuration key 'nodes.listen'"},
    {good, {{"node.listen", "127.0.0.1"}}, "node.listen"},
    {good, {{"node.listen", "127.0.0.1:99999"}}, "node.listen"},
    {good, {{"node.role", "boss"}}, "node.role"},
    {good, {{"node.name", "CP 1"}}, "node.name"},
    {good, {{"node.parent", ""}}, "node.parent"},
    {good, {{"broker.window", "-3"}}, "broker.window"},
    {good, {{"broker.commit-delay-ms", "soon"}}, "broker.commit-delay-ms"},
    {good, {{"broker.commit-delay-ms", "1001"}}, "broker.commit-delay-ms"},
    {good, {{"storage.map-size", "12"}}, "storage.map-size"},
    {good, {{"link.reconnect-min-ms", "9000"}, {"link.reconnect-max-ms", "100"}}, "reconnect"},
    {good, {{"broker.retry-max-ms", "later"}}, "broker.retry-max-ms"},
    {good, {{"audit.checkpoint-seconds", "0"}}, "audit.checkpoint-seconds"},
    {good, {{"audit.checkpoint-seconds", "-5"}}, "audit.checkpoint-seconds"},
    {good, {{"log.level", "loud"}}, "log.level"},
    {good, {{"tee.provisioner", "qemu"}}, "tee.provisioner"},
    {good, {{"portal.enabled", "maybe"}}, "portal.enabled"},
    {good, {{"portal.enabled", "on"}, {"http.tls", "off"}}, "portal.enabled"},
    {good, {{"portal.session-idle-seconds", "5"}}, "portal.session-idle-seconds"},
    {good, {{"portal.session-idle-seconds", "7200"}, {"portal.session-lifetime-seconds", "3600"}},
     "portal.session-idle-seconds exceeds"},
    {good, {{"mail.relay", "smtp.example.org"}}, "mail.relay"},
    {good, {{"mail.tls", "off"}}, "no plain-text mode"},
    {good, {{"mail.user", "joconde"}}, "mail.password-file"},
    {good, {{"mail.from", "a@b.example, c@d.example"}}, "mail.from"},
    {good, {{"mail.portal-url", "http://portal.example"}}, "mail.portal-url"},
    {good, {{"node.role", "client"}, {"oidc.issuer", "http://idp.example"}}, "oidc.issuer must be an https"},
    {good, {{"oidc.issuer", "https://idp.example"}}, "the portal is off"},  // a computing node
    {good, {{"node.role", "client"}, {"oidc.issuer", "https://idp.example"}}, "oidc.client-id"},
    {good, {{"node.role", "client"}, {"oidc.issuer", "https://idp.example"}, {"oidc.client-id", "a"},
            {"oidc.client-secret-file", "s"}}, "at least one group"},
    {good, {{"node.role", "client"}, {"oidc.issuer", "https://idp.example"}, {"oidc.client-id", "a"},
            {"oidc.client-secret-file", "s"}, {"oidc.groups", "stats:boss"}}, "not a joconde role"},
    {good, {{"node.role", "client"}, {"oidc.issuer", "https://idp.example"}, {"oidc.client-id", "a"},
            {"oidc.client-secret-file", "s"}, {"oidc.groups", "auditor"}}, "is not GROUP:role"},
    {good, {{"node.role", "client"}, {"oidc.issuer", "https://idp.example"}, {"oidc.client-id", "a"},
            {"oidc.client-secret-file", "s"}, {"oidc.groups", "g:auditor"}, {"oidc.scopes", "email"}},
     "openid"},
    {good, {{"pki.rotation-period-seconds", "60"}}, "set at the root only"},
    {good, {{"pki.certificate-lifetime-days", "730"}}, "set at the root only"},
    {good, {{"node.role", "root"}, {"node.parent", ""}, {"pki.rotation-period-seconds", "5"}},
     "pki.rotation-period-seconds"},
    {good, {{"node.role", "root"}, {"node.parent", ""}, {"pki.rotation-period-seconds", "soon"}},
     "pki.rotation-period-seconds"},
    {good, {{"node.role", "root"}, {"node.parent", ""}, {"pki.certificate-lifetime-days", "0"}},
     "pki.certificate-lifetime-days"},
    {good, {{"node.role", "root"}, {"node.parent", ""}, {"pki.rotation-period-seconds", "86400"},
            {"pki.certificate-lifetime-days", "1"}}, "at least twice the rotation period"},
    {"listen = 1\n", {}, "inside a [section]"},
    {"[node\nname = x\n", {}, "unterminated"},
  };
  for (const auto& c : cases) {
    auto file = write_ini(c.text);
    auto cfg = load_node_config(file, c.overrides);
    BOOST_CHECK_MESSAGE(!cfg, c.expect);
    if (!cfg) {
      BOOST_CHECK(cfg.err().code == errc::invalid_config);
      BOOST_CHECK_MESSAGE(cfg.err().message.find(c.expect) != std::string::npos, cfg.err().message);
    }
    fs::remove(file);
  }
  BOOST_CHECK(!load_node_config("/nonexistent/joconde.ini", {}));
}

// The root sets the rotation period and certificate lifetime for its tree (spec §4.4.2.3): 26 weeks
// and 24 months unless its configuration says otherwise.
BOOST_AUTO_TEST_CASE(the_root_sets_the_rotation_period_and_certificate_lifetime) {
  auto file = write_ini(good);
  auto member = load_node_config(file, {});
  BOOST_REQUIRE(member);
  BOOST_CHECK_EQUAL(member->rotation_period.count(), 182LL * 24 * 3600);
  BOOST_CHECK_EQUAL(member->certificate_lifetime.count(), 730LL * 24 * 3600);
  auto root = load_node_config(file, {{"node.role", "root"}, {"node.parent", ""},
                                      {"pki.rotation-period-seconds", "60"},
                                      {"pki.certificate-lifetime-days", "1"}});
  BOOST_REQUIRE_MESSAGE(root.ok(), (root ? std::string{} : root.err().describe()));
  BOOST_CHECK_EQUAL(root->rotation_period.count(), 60);
  BOOST_CHECK_EQUAL(root->certificate_lifetime.count(), 86400);
  fs::remove(file);
}

BOOST_AUTO_TEST_CASE(the_portal_is_on_where_people_are_and_mail_is_off_until_a_relay_is_named) {
  auto file = write_ini(good);
  auto cp = load_node_config(file, {});
  BOOST_REQUIRE(cp);
  BOOST_TEST(!cp->portal);  // a computing node has no people
  BOOST_TEST(cp->mail_relay.empty());
  auto client = load_node_config(file, {{"node.role", "client"}, {"mail.relay", "127.0.0.1:587"},
                                        {"mail.portal-url", "https://portal.example:8443/"}});
  BOOST_REQUIRE(client);
  BOOST_TEST(client->portal);
  BOOST_TEST(client->portal_idle.count() == 900);
  BOOST_TEST(client->mail_relay == "127.0.0.1:587");
  BOOST_TEST(!client->mail_implicit_tls);
  BOOST_TEST(client->mail_portal_url == "https://portal.example:8443");
  // Without HTTPS (loopback only) the portal stays off unless asked for, which is refused.
  auto oidc = load_node_config(file, {{"node.role", "client"}, {"oidc.issuer", "https://idp.example/realms/x"},
                                      {"oidc.client-id", "client-a"}, {"oidc.client-secret-file", "oidc.secret"},
                                      {"oidc.groups", "stat-auditors:auditor, stat-leads:auditor, stat-leads:general_manager"}});
  BOOST_REQUIRE(oidc);
  BOOST_TEST(oidc->oidc_issuer == "https://idp.example/realms/x");
  BOOST_TEST(oidc->oidc_scopes == "openid email profile");
  auto groups = parse_oidc_groups(oidc->oidc_groups);
  BOOST_REQUIRE(groups);
  BOOST_TEST(groups->size() == 2U);
  BOOST_TEST((groups->at("stat-leads") == std::vector<std::string>{"auditor", "general_manager"}));
  auto plain = load_node_config(file, {{"node.role", "client"}, {"http.tls", "off"}});
  BOOST_REQUIRE(plain);
  BOOST_TEST(!plain->portal);
  fs::remove(file);
}

BOOST_AUTO_TEST_CASE(tls_fails_closed) {
  auto file = write_ini(good);
  auto cfg = load_node_config(file, {}).value();
  auto res = check_tls_files(cfg);
  BOOST_REQUIRE(!res);
  BOOST_CHECK(res.err().message.find("TLS fails closed") != std::string::npos);
  cfg.certificate.clear();
  BOOST_CHECK(check_tls_files(cfg).err().message.find("tls.certificate is not set") != std::string::npos);
  fs::remove(file);
}

BOOST_AUTO_TEST_CASE(tee_files_default_to_the_programs_and_the_data_directory) {
  auto file = write_ini(good + "[node]\ndata-dir = data\n");
  auto cfg = load_node_config(file, {}).value();
  auto exe_dir = fs::read_symlink("/proc/self/exe").parent_path();
  auto data = file.parent_path() / "data";
  BOOST_CHECK_EQUAL(cfg.tee_provisioner, "process");
  BOOST_CHECK(cfg.tee_sp_binary == exe_dir / "joconde-sp");
  BOOST_CHECK(cfg.tee_vm_binary == exe_dir / "joconde-vm");
  BOOST_CHECK(cfg.tee_platform_dir == data / "tee-platform");
  BOOST_CHECK(cfg.tee_image_config == data / "vm-image.conf");
  BOOST_CHECK(cfg.tee_trusted_roots == data / "tee-roots.pem");
  // Set: relative to the INI file like every path; missing files are no reason to refuse a start.
  cfg = load_node_config(file, {{"tee.provisioner", "inproc"}, {"tee.vm-binary", "bin/vm"},
                                {"tee.platform-dir", "/nowhere/platform"}}).value();
  BOOST_CHECK_EQUAL(cfg.tee_provisioner, "inproc");
  BOOST_CHECK(cfg.tee_vm_binary == file.parent_path() / "bin/vm");
  BOOST_CHECK(cfg.tee_platform_dir == "/nowhere/platform");
  // Every key is documented.
  for (const auto* key : {"tee.provisioner", "tee.sp-binary", "tee.vm-binary", "tee.platform-dir",
                          "tee.image-config", "tee.trusted-roots"}) {
    bool documented = false;
    for (const auto& k : config_keys())
      documented = documented || (k.name == key && !k.help.empty());
    BOOST_CHECK_MESSAGE(documented, key);
  }
  fs::remove(file);
}

BOOST_AUTO_TEST_CASE(addresses_are_ipv4_ipv6_or_host_names) {
  auto file = write_ini(good);
  auto cfg = load_node_config(file, {{"node.listen", "[::1]:4701"}, {"node.parent", "root.example.org:4700"},
                                     {"http.listen", "localhost:8701"}, {"metrics.listen", "0.0.0.0:9701"},
                                     {"node.advertise", "cp1.example.org:4701"}});
  BOOST_REQUIRE_MESSAGE(cfg.ok(), (cfg ? std::string{} : cfg.err().describe()));
  BOOST_CHECK_EQUAL(cfg->listen.host, "::1");
  BOOST_CHECK_EQUAL(cfg->listen.text(), "[::1]:4701");
  BOOST_CHECK_EQUAL(cfg->advertise.text(), "cp1.example.org:4701");
  BOOST_CHECK_EQUAL(cfg->http_listen.host, "localhost");
  BOOST_CHECK(cfg->http_tls); // HTTPS unless asked otherwise
  BOOST_CHECK_EQUAL(cfg->api_url(), "https://localhost:8701");
  cfg = load_node_config(file, {{"http.listen", "0.0.0.0:8701"}});
  BOOST_CHECK_EQUAL(cfg->api_url(), "https://127.0.0.1:8701"); // a wildcard is reached over loopback
  cfg = load_node_config(file, {{"http.listen", "0.0.0.0:8701"},
                                {"http.advertise", "cp1.example.org, [2001:db8::5]:443, 198.18.0.11"}});
  BOOST_REQUIRE(cfg.ok());
  BOOST_CHECK_EQUAL(cfg->http_advertise.size(), 3u);
  BOOST_CHECK_EQUAL(cfg->api_url(), "https://cp1.example.org:8701");
  cfg = load_node_config(file, {{"http.advertise", "[2001:db8::5]:443"}});
  BOOST_CHECK_EQUAL(cfg->api_url(), "https://[2001:db8::5]:443");
  cfg = load_node_config(file, {{"http.tls", "off"}});
  BOOST_REQUIRE(cfg.ok()); // plain HTTP on a loopback listener, asked for explicitly
  BOOST_CHECK_EQUAL(cfg->api_url(), "http://127.0.0.1:8701");
  fs::remove(file);
}

BOOST_AUTO_TEST_CASE(plain_http_off_loopback_and_broken_network_keys_are_refused) {
  struct bad_case {
    std::map<std::string, std::string> overrides;
    std::string expect;
  };
  std::vector<bad_case> cases{
    {{{"http.tls", "off"}, {"http.listen", "198.18.0.11:8701"}}, "allowed only on a loopback listener"},
    {{{"http.tls", "off"}, {"http.listen", "0.0.0.0:8701"}}, "allowed only on a loopback listener"},
    {{{"http.tls", "maybe"}}, "http.tls must be on or off"},
    {{{"http.certificate", "web.pem"}}, "http.certificate and http.key go together"},
    {{{"http.key", "web.key"}}, "http.certificate and http.key go together"},
    {{{"http.advertise", "0.0.0.0"}}, "http.advertise"},
    {{{"http.advertise", "bad host!"}}, "http.advertise"},
    {{{"metrics.tls", "on"}, {"http.tls", "off"}}, "metrics.tls"},
    {{{"node.listen", "::1:4701"}}, "node.listen"},
    {{{"node.listen", "[cp1]:4701"}}, "node.listen"},
    {{{"node.parent", "[::1]"}}, "node.parent"},
    {{{"node.advertise", "0.0.0.0:4701"}}, "node.advertise"},
    {{{"vm.bind", "0.0.0.0"}}, "set vm.advertise"},
    {{{"vm.bind", "::"}}, "set vm.advertise"},
    {{{"vm.bind", "a host"}}, "vm.bind"},
    {{{"vm.advertise", "198.18.0.11:20000"}}, "vm.advertise"},
    {{{"vm.ports", "20000"}}, "one CT VM needs 4"},
    {{{"vm.ports", "20010-20000"}}, "vm.ports"},
    {{{"vm.ports", "1-70000"}}, "vm.ports"},
    {{{"vm.ports", "lots"}}, "vm.ports"},
  };
  auto file = write_ini(good);
  for (const auto& c : cases) {
    auto cfg = load_node_config(file, c.overrides);
    BOOST_CHECK_MESSAGE(!cfg, c.expect);
    if (!cfg) {
      BOOST_CHECK(cfg.err().code == errc::invalid_config);
      BOOST_CHECK_MESSAGE(cfg.err().message.find(c.expect) != std::string::npos, cfg.err().message);
    }
  }
  fs::remove(file);
}

BOOST_AUTO_TEST_CASE(ct_vms_listen_where_the_operator_says) {
  auto file = write_ini(good);
  auto cfg = load_node_config(file, {}).value();
  BOOST_CHECK_EQUAL(cfg.vm_bind, "127.0.0.1");
  BOOST_CHECK_EQUAL(cfg.vm_advertise, "127.0.0.1");
  BOOST_CHECK_EQUAL(cfg.vm_admin_bind, "127.0.0.1");
  BOOST_CHECK_EQUAL(cfg.vm_ports.text(), "20000-20999");
  cfg = load_node_config(file, {{"vm.bind", "0.0.0.0"}, {"vm.advertise", "cp1.example.org"},
                                {"vm.ports", "30000-30011"}, {"vm.admin-bind", "::1"}})
          .value();
  BOOST_CHECK_EQUAL(cfg.vm_advertise, "cp1.example.org");
  BOOST_CHECK_EQUAL(cfg.vm_admin_bind, "::1");
  BOOST_CHECK_EQUAL(cfg.vm_ports.size(), 12u);
  cfg = load_node_config(file, {{"vm.ports", "any"}, {"vm.bind", "[2001:db8::7]"}}).value();
  BOOST_CHECK_EQUAL(cfg.vm_ports.size(), 0u);
  BOOST_CHECK_EQUAL(cfg.vm_bind, "2001:db8::7");
  // A client node does not run CT VMs: a wildcard without advertised host is no reason to refuse.
  BOOST_CHECK(load_node_config(file, {{"node.role", "client"}, {"vm.bind", "0.0.0.0"}}).ok());
  for (const auto* key : {"node.advertise", "http.advertise", "http.tls", "http.certificate",
                          "http.key", "metrics.tls", "vm.bind", "vm.advertise", "vm.admin-bind",
                          "vm.ports"}) {
    bool documented = false;
    for (const auto& k : config_keys())
      documented = documented || (k.name == key && !k.help.empty());
    BOOST_CHECK_MESSAGE(documented, key);
  }
  fs::remove(file);
}

BOOST_AUTO_TEST_CASE(every_key_is_documented_in_the_configuration_guide) {
  std::ifstream in{std::string{JOCONDE_SOURCE_DIR} + "/docs/configuration.md"};
  BOOST_REQUIRE(in);
  std::string doc{std::istreambuf_iterator<char>{in}, {}};
  for (const auto& k : config_keys())
    BOOST_CHECK_MESSAGE(doc.find("| `" + k.name + "` |") != std::string::npos,
                        k.name << " is missing from docs/configuration.md");
}

BOOST_AUTO_TEST_CASE(the_example_member_configuration_loads) {
  auto cfg = load_node_config(std::string{JOCONDE_SOURCE_DIR} + "/config/examples/member-node.ini", {});
  BOOST_REQUIRE_MESSAGE(cfg.ok(), (cfg ? std::string{} : cfg.err().describe()));
  BOOST_CHECK_EQUAL(cfg->vm_advertise, "cp1.example.org");
  BOOST_CHECK_EQUAL(cfg->api_url(), "https://198.51.100.11:8443");
}
