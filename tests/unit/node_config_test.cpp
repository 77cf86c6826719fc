#define BOOST_TEST_MODULE node_config
#include <boost/test/unit_test.hpp>

#include "node/node_config.hpp"

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
    {good, {{"storage.map-size", "12"}}, "storage.map-size"},
    {good, {{"link.reconnect-min-ms", "9000"}, {"link.reconnect-max-ms", "100"}}, "reconnect"},
    {good, {{"log.level", "loud"}}, "log.level"},
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
