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
    {good, {{"log.level", "loud"}}, "log.level"},
    {good, {{"tee.provisioner", "qemu"}}, "tee.provisioner"},
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
